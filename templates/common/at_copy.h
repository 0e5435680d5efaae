// at_copy.h - memory operations of the portability layer: 8- and 16-byte vector loads
// and stores (the address must be aligned to the size: the GPU faults otherwise, the
// host emulator reports it), the atomics split-K needs (fetch-add on f32, u32, i32 at
// device scope, relaxed order), and the asynchronous global-to-shared copy: cp.async
// of 4, 8 or 16 bytes with commit and wait groups on sm_80+ (PTX ISA, "cp.async",
// "cp.async.commit_group", "cp.async.wait_group"), and a plain synchronous copy
// elsewhere (HIP, older NVIDIA), where commit and wait do nothing. As on the GPU, a wait
// makes the copies visible to the calling thread only: other threads of the block need
// at_syncthreads() after it. AT_HAS_CP_ASYNC says whether the GPU instruction is in use.
// The host device's side is at_host_copy.h: there cp.async lands at the wait that covers
// it, so a missing or short wait fails in emulation.
#if !defined(AT_COMMON_H)
#include "at_common.h"
#endif
#ifndef AT_COPY_H
#define AT_COPY_H

#if defined(AT_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define AT_HAS_CP_ASYNC 1
#else
#define AT_HAS_CP_ASYNC 0
#endif

#if defined(AT_HOST)
#include "at_host_copy.h" // at_host_check_align, and cp.async on the host
#endif

// ---- vector loads and stores ----
#if defined(AT_HOST)
#define AT_VEC_ACCESS(T, bytes, load, store)                                            \
  AT_DEV T load(const void *p)                                                         \
  {                                                                                    \
    at_host_check_align(p, bytes, #load ": address not aligned to " #bytes " bytes");  \
    T v;                                                                               \
    __builtin_memcpy(&v, p, bytes);                                                    \
    return v;                                                                          \
  }                                                                                    \
  AT_DEV void store(void *p, T v)                                                      \
  {                                                                                    \
    at_host_check_align(p, bytes, #store ": address not aligned to " #bytes " bytes"); \
    __builtin_memcpy(p, &v, bytes);                                                    \
  }
#else
// The aligned vector type makes the compiler emit one 8- or 16-byte access
// (ld.global.v4.u32 / global_load_dwordx4).
#define AT_VEC_ACCESS(T, bytes, load, store)                                            \
  AT_DEV T load(const void *p) { return *(const T *)p; }                               \
  AT_DEV void store(void *p, T v) { *(T *)p = v; }
#endif
AT_VEC_ACCESS(at_uint2, 8, at_load_b64, at_store_b64)
AT_VEC_ACCESS(at_uint4, 16, at_load_b128, at_store_b128)
AT_VEC_ACCESS(at_float2, 8, at_load_f32x2, at_store_f32x2)
AT_VEC_ACCESS(at_float4, 16, at_load_f32x4, at_store_f32x4)
#undef AT_VEC_ACCESS

// ---- atomics (return the old value) ----
AT_DEV float at_atomic_add_f32(float *p, float v)
{
#if defined(AT_CUDA)
  return atomicAdd(p, v);
#elif defined(AT_HIP)
  return __hip_atomic_fetch_add(p, v, __ATOMIC_RELAXED, __HIP_MEMORY_SCOPE_AGENT);
#else
  // g++ has no floating __atomic_fetch_add: compare-and-swap on the bits.
  at_host_check_align(p, 4, "at_atomic_add_f32: address not aligned to 4 bytes");
  unsigned int *u = (unsigned int *)(void *)p;
  unsigned int old = __atomic_load_n(u, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(u, &old, at_float_as_uint(at_uint_as_float(old) + v),
                                      1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return at_uint_as_float(old);
#endif
}
AT_DEV unsigned int at_atomic_add_u32(unsigned int *p, unsigned int v)
{
#if defined(AT_CUDA)
  return atomicAdd(p, v);
#elif defined(AT_HIP)
  return __hip_atomic_fetch_add(p, v, __ATOMIC_RELAXED, __HIP_MEMORY_SCOPE_AGENT);
#else
  return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
#endif
}
AT_DEV int at_atomic_add_i32(int *p, int v)
{
#if defined(AT_CUDA)
  return atomicAdd(p, v);
#elif defined(AT_HIP)
  return __hip_atomic_fetch_add(p, v, __ATOMIC_RELAXED, __HIP_MEMORY_SCOPE_AGENT);
#else
  return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
#endif
}

// ---- asynchronous global -> shared copies ----
#if defined(AT_CUDA)
// The 32-bit shared-window address that cp.async and ldmatrix take (PTX ISA, "cvta").
AT_DEV unsigned int at_shared_addr(const void *p)
{
  unsigned int a;
  asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
  return a;
}
#endif
#if AT_HAS_CP_ASYNC
// .ca caches in L1 and allows 4, 8 and 16 bytes (.cg: 16 only).
AT_DEV void at_cp_async_4(void *smem, const void *gmem)
{
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(at_shared_addr(smem)),
               "l"(gmem)
               : "memory");
}
AT_DEV void at_cp_async_8(void *smem, const void *gmem)
{
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8;" ::"r"(at_shared_addr(smem)),
               "l"(gmem)
               : "memory");
}
AT_DEV void at_cp_async_16(void *smem, const void *gmem)
{
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(at_shared_addr(smem)),
               "l"(gmem)
               : "memory");
}
AT_DEV void at_cp_async_commit(void) { asm volatile("cp.async.commit_group;" ::: "memory"); }
// Wait until at most N committed groups are still in flight.
template <int N> AT_DEV void at_cp_async_wait(void)
{
  asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}
AT_DEV void at_cp_async_wait_all(void) { asm volatile("cp.async.wait_all;" ::: "memory"); }
#elif !defined(AT_HOST)
#define AT_CP_COPY(bytes, T) *(T *)smem = *(const T *)gmem
AT_DEV void at_cp_async_4(void *smem, const void *gmem) { AT_CP_COPY(4, unsigned int); }
AT_DEV void at_cp_async_8(void *smem, const void *gmem) { AT_CP_COPY(8, at_uint2); }
AT_DEV void at_cp_async_16(void *smem, const void *gmem) { AT_CP_COPY(16, at_uint4); }
#undef AT_CP_COPY
AT_DEV void at_cp_async_commit(void) {}
template <int N> AT_DEV void at_cp_async_wait(void) {}
AT_DEV void at_cp_async_wait_all(void) {}
#endif

#endif
