// at_fence.h - the device-scope memory fence and the L1-bypassing load, for kernels whose
// blocks hand data to each other within one launch (split-KV's and split-K's "last block
// combines": partials, fence, then the counter's atomic; the last block fences again
// before it reads them, with loads that do not hit a stale L1 line). CUDA __threadfence
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

// A load that bypasses the SM's non-coherent L1 (CUDA ld.global.cg; AMD an agent-scope
// atomic load): for data another block wrote during this launch.
AT_DEV float at_load_f32_coherent(const float *p)
{
#if defined(AT_CUDA)
  return __ldcg(p);
#elif defined(AT_HIP)
  return __hip_atomic_load(p, __ATOMIC_RELAXED, __HIP_MEMORY_SCOPE_AGENT);
#else
  const unsigned int *u = (const unsigned int *)(const void *)p;
  return at_uint_as_float(__atomic_load_n(u, __ATOMIC_RELAXED));
#endif
}

#endif
