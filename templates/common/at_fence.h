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

// Four consecutive floats, 16-byte aligned, read alike in one access where the target has
// one (CUDA ld.global.cg.v4.f32): a block's hand-over of f32 partials, a quarter of the
// load instructions (and four times the bytes in flight a load) of four scalar ones.
AT_DEV at_float4 at_load_f32x4_coherent(const float *p)
{
#if defined(AT_CUDA)
  const float4 v = __ldcg(reinterpret_cast<const float4 *>(p));
  at_float4 r;
  r.x = v.x, r.y = v.y, r.z = v.z, r.w = v.w;
  return r;
#else
#if defined(AT_HOST)
  at_host_check_align(p, 16, "at_load_f32x4_coherent: address not aligned to 16 bytes");
#endif
  at_float4 v;
  v.x = at_load_f32_coherent(p);
  v.y = at_load_f32_coherent(p + 1);
  v.z = at_load_f32_coherent(p + 2);
  v.w = at_load_f32_coherent(p + 3);
  return v;
#endif
}

#endif
