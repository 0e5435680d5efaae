// at_warp.h - warp (wave) collectives of the portability layer: shuffles (xor, up,
// down, idx, each with a segment width), ballot (64-bit on every target), any, all and
// a warp barrier. All lanes of the warp must call each one together (the host emulator
// reports a launch that does not). Semantics are CUDA's (CUDA C++ Programming Guide,
// "Warp Shuffle Functions" and "Warp Vote Functions"): with width < warp size the warp
// is split into segments of `width` lanes; idx reads lane (src % width) of the caller's
// segment; up/down return the caller's own value when the source falls outside its
// segment; xor may read an earlier segment but returns its own value for a later one.
// CUDA maps to the __shfl_*_sync/__ballot_sync intrinsics over the full mask; HIP to
// ds_bpermute (AMD ISA, DS_BPERMUTE_B32: index in bytes, modulo the wave) exactly as
// HIP's amd_warp_functions.h computes the source lane, and to the ballot builtins; the
// host gathers every lane's value through the emulator's warp_gather and picks.
// Any trivially copyable T moves, 4 bytes at a time on the GPU.
#if !defined(AT_COMMON_H)
#include "at_common.h"
#endif
#ifndef AT_WARP_H
#define AT_WARP_H

// The source lane of each shuffle, in the same arithmetic on every target (HIP's).
AT_DEV int at_shfl_src_idx(int lane, int src, int width)
{
  return (lane & ~(width - 1)) + (src & (width - 1));
}
AT_DEV int at_shfl_src_up(int lane, int delta, int width)
{
  return (lane & (width - 1)) - delta < 0 ? lane : lane - delta;
}
AT_DEV int at_shfl_src_down(int lane, int delta, int width)
{
  return (lane & (width - 1)) + delta >= width ? lane : lane + delta;
}
AT_DEV int at_shfl_src_xor(int lane, int mask, int width)
{
  int src = lane ^ mask;
  return src >= ((lane + width) & ~(width - 1)) ? lane : src;
}

#if defined(AT_CUDA) || defined(AT_HIP)
// Move the value of lane `src` (computed by the caller) to this lane, word by word.
template <typename T> AT_DEV T at_shfl_from(T v, int src)
{
  enum { WORDS = (sizeof(T) + 3) / 4 };
  int w[WORDS];
  w[WORDS - 1] = 0;
  at_memcpy(w, &v, sizeof(T));
#pragma unroll
  for (int i = 0; i < WORDS; i++) {
#if defined(AT_CUDA)
    w[i] = __shfl_sync(0xffffffffu, w[i], src, 32);
#else
    w[i] = __builtin_amdgcn_ds_bpermute(src << 2, w[i]);
#endif
  }
  at_memcpy(&v, w, sizeof(T));
  return v;
}
#else
template <typename T> AT_DEV T at_shfl_from(T v, int src)
{
  at_host_warp_self();
  T all[AT_WAVE_SIZE];
  at_host_rt_get()->warp_gather(&v, sizeof(T), all);
  return all[src];
}
#endif

template <typename T> AT_DEV T at_shfl_idx(T v, int src, int width = AT_WAVE_SIZE)
{
  return at_shfl_from(v, at_shfl_src_idx((int)at_lane_id(), src, width));
}
template <typename T> AT_DEV T at_shfl_up(T v, int delta, int width = AT_WAVE_SIZE)
{
  return at_shfl_from(v, at_shfl_src_up((int)at_lane_id(), delta, width));
}
template <typename T> AT_DEV T at_shfl_down(T v, int delta, int width = AT_WAVE_SIZE)
{
  return at_shfl_from(v, at_shfl_src_down((int)at_lane_id(), delta, width));
}
template <typename T> AT_DEV T at_shfl_xor(T v, int mask, int width = AT_WAVE_SIZE)
{
  return at_shfl_from(v, at_shfl_src_xor((int)at_lane_id(), mask, width));
}

// Bit i set when lane i's predicate is true (lanes >= warp size: 0).
AT_DEV unsigned long long at_ballot(int pred)
{
#if defined(AT_CUDA)
  return __ballot_sync(0xffffffffu, pred);
#elif defined(AT_HIP) && AT_WAVE_SIZE == 64 && __has_builtin(__builtin_amdgcn_ballot_w64)
  return __builtin_amdgcn_ballot_w64(pred != 0);
#elif defined(AT_HIP) && AT_WAVE_SIZE == 64
  // LLVM before 16 (ROCm 5.x's hipRTC) lacks the ballot builtins: the integer compare
  // across the wave is what HIP's own __ballot used then (33 = ICmpInst::ICMP_NE).
  return __builtin_amdgcn_uicmp(pred != 0, 0, 33);
#elif defined(AT_HIP)
  return __builtin_amdgcn_ballot_w32(pred != 0);
#else
  at_host_warp_self();
  unsigned char mine = pred != 0, all[AT_WAVE_SIZE];
  at_host_rt_get()->warp_gather(&mine, 1, all);
  unsigned long long bits = 0;
  for (int i = 0; i < AT_WAVE_SIZE; i++)
    bits |= (unsigned long long)all[i] << i;
  return bits;
#endif
}
AT_DEV int at_any(int pred)
{
#if defined(AT_CUDA)
  return __any_sync(0xffffffffu, pred);
#else
  return at_ballot(pred) != 0;
#endif
}
AT_DEV int at_all(int pred)
{
#if defined(AT_CUDA)
  return __all_sync(0xffffffffu, pred);
#else
  return at_ballot(pred) == at_ballot(1);
#endif
}
// The lanes of the warp meet here; memory written before is visible after (CUDA
// __syncwarp; a wave on AMD runs in lockstep, the builtin orders the compiler only).
AT_DEV void at_syncwarp(void)
{
#if defined(AT_CUDA)
  __syncwarp();
#elif defined(AT_HIP)
  __builtin_amdgcn_fence(__ATOMIC_RELEASE, "wavefront");
  __builtin_amdgcn_wave_barrier();
  __builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "wavefront");
#else
  at_host_warp_self();
  unsigned char mine = 0, all[AT_WAVE_SIZE];
  at_host_rt_get()->warp_gather(&mine, 1, all);
#endif
}

#endif
