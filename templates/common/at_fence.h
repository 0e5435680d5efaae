// at_fence.h - the device-scope memory fence, for kernels whose blocks hand data to each
// other within one launch (split-KV's "last block combines": partials, fence, then the
// counter's atomic; the last block fences again before it reads them). CUDA __threadfence
// (CUDA C++ Programming Guide, "Memory Fence Functions"); AMDGPU a sequentially
// consistent fence at agent scope; the host a C11 fence (the emulator's blocks run on
// threads). Like at_math.h, at_common.h does not include it (a variant's name hashes
// every file its template includes): a template that needs it includes "at_fence.h".
#ifndef AT_COMMON_H
#include "at_common.h"
#endif
#ifndef AT_FENCE_H
#define AT_FENCE_H

AT_DEV void at_threadfence(void)
{
#if defined(AT_CUDA)
  __threadfence();
#elif defined(AT_HIP)
  __builtin_amdgcn_fence(__ATOMIC_SEQ_CST, "agent");
#else
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

#endif
