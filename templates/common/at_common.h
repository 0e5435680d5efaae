// at_common.h - the portability layer every template includes: thread, block and grid
// ids, the block barrier, static and dynamic shared memory, the wave size and the lane
// id, for three compilers from one source, and then (by including its parts) the
// element types (at_types.h: at_half, at_bfloat16, vectors), warp collectives
// (at_warp.h), memory operations (at_copy.h: vector loads, atomics, cp.async) and one
// function per matrix-core instruction (at_mma.h: NVIDIA mma.sync and ldmatrix;
// at_mfma.h: CDNA MFMA). CUDA (NVRTC or nvcc, __CUDACC__) maps them to the CUDA
// built-ins and inline PTX; HIP (clang -x hip -nogpuinc -nogpulib --cuda-device-only,
// __HIP__, with no HIP headers present) defines the CUDA keywords as clang attributes
// and reads the ids from the amdgcn built-ins and the HSA dispatch packet; HOST (plain
// C++17: libclang, g++, the SIMT emulator) asks the emulator for everything through the
// table of at_host_rt.h, which the emulator hands to the variant's shared object once
// through at_host_bind(). GPU targets include no header at all (NVRTC has no standard
// headers); the host target includes at_host_rt.h alone. Sources: CUDA C++ Programming
// Guide (built-in variables, shared memory); PTX ISA 8.x; HIP's amd_detail headers
// (what the CUDA keywords and ids map to on AMD); hsa.h (the dispatch packet).
#ifndef AT_COMMON_H
#define AT_COMMON_H

// Templates carry `#pragma autotune` lines that only the generator reads; keep the
// compilers quiet about them.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wunknown-pragmas"
#elif defined(__CUDACC__) && defined(__NVCC_DIAG_PRAGMA_SUPPORT__)
#pragma nv_diag_suppress 1675
#elif defined(__CUDACC__)
#pragma diag_suppress 1675
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunknown-pragmas"
#endif

#if defined(__CUDACC__)
// ---- CUDA: NVRTC and nvcc provide threadIdx, blockIdx, blockDim, gridDim and
// __syncthreads() without any include. ----
#define AT_CUDA 1
#define AT_WAVE_SIZE 32

#define AT_DEV static __device__ __forceinline__
AT_DEV unsigned int at_thread_idx_x(void) { return threadIdx.x; }
AT_DEV unsigned int at_thread_idx_y(void) { return threadIdx.y; }
AT_DEV unsigned int at_thread_idx_z(void) { return threadIdx.z; }
AT_DEV unsigned int at_block_idx_x(void) { return blockIdx.x; }
AT_DEV unsigned int at_block_idx_y(void) { return blockIdx.y; }
AT_DEV unsigned int at_block_idx_z(void) { return blockIdx.z; }
AT_DEV unsigned int at_block_dim_x(void) { return blockDim.x; }
AT_DEV unsigned int at_block_dim_y(void) { return blockDim.y; }
AT_DEV unsigned int at_block_dim_z(void) { return blockDim.z; }
AT_DEV unsigned int at_grid_dim_x(void) { return gridDim.x; }
AT_DEV unsigned int at_grid_dim_y(void) { return gridDim.y; }
AT_DEV unsigned int at_grid_dim_z(void) { return gridDim.z; }
AT_DEV void at_syncthreads(void) { __syncthreads(); }
// %laneid is the PTX special register of the lane within the warp (PTX ISA, "Special
// Registers: %laneid").
AT_DEV unsigned int at_lane_id(void)
{
  unsigned int lane;
  asm volatile("mov.u32 %0, %%laneid;" : "=r"(lane));
  return lane;
}
// Dynamic shared memory: every `extern __shared__` array of a kernel starts at the same
// address, and two declarations of one name with different element types in one TU
// (many variants per TU) are an error, so the layer declares one byte array and casts.
#define AT_DYNAMIC_SHARED(T, name)                                                       \
  extern __shared__ __align__(16) unsigned char at_dynamic_shared_raw_[];               \
  T *const name = reinterpret_cast<T *>(at_dynamic_shared_raw_)
// PTX ISA, "Special Registers: %dynamic_smem_size" (PTX 4.1+).
AT_DEV unsigned int at_dynamic_shared_bytes(void)
{
  unsigned int n;
  asm volatile("mov.u32 %0, %%dynamic_smem_size;" : "=r"(n));
  return n;
}

#elif defined(__HIP__)
// ---- HIP device code through clang alone: the keywords are clang's CUDA/HIP
// attributes (what hip/amd_detail/host_defines.h defines them to). ----
#define AT_HIP 1
// hipRTC (__HIPCC_RTC__) predefines the keywords and __launch_bounds__ itself.
#if !defined(__HIPCC_RTC__) && !defined(__global__)
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __host__ __attribute__((host))
#define __shared__ __attribute__((shared))
#define __constant__ __attribute__((constant))
#endif
// clang's own launch_bounds does not reach the AMDGPU backend (the code object keeps
// .max_flat_workgroup_size 1024): say it the way HIP's headers do, with the amdgpu
// attributes. The optional second argument (min blocks per CU) becomes waves per EU.
#define AT_LB1(max_threads) __attribute__((amdgpu_flat_work_group_size(1, max_threads)))
#define AT_LB2(max_threads, min_blocks)                                                  \
  __attribute__((amdgpu_flat_work_group_size(1, max_threads),                          \
                 amdgpu_waves_per_eu(min_blocks)))
#define AT_LB_PICK(a, b, impl, ...) impl
// A program that includes the HIP runtime first (a tuned header) keeps its definitions.
#if !defined(__HIPCC_RTC__) && !defined(__launch_bounds__)
#define __launch_bounds__(...) AT_LB_PICK(__VA_ARGS__, AT_LB2, AT_LB1, )(__VA_ARGS__)
#endif
#if !defined(__HIPCC_RTC__) && !defined(__forceinline__)
#define __forceinline__ inline __attribute__((always_inline))
#endif
#if defined(__AMDGCN_WAVEFRONT_SIZE__)
#define AT_WAVE_SIZE __AMDGCN_WAVEFRONT_SIZE__
#elif defined(__AMDGCN_WAVEFRONT_SIZE)
#define AT_WAVE_SIZE __AMDGCN_WAVEFRONT_SIZE
#else
#define AT_WAVE_SIZE 64
#endif

#define AT_DEV static __device__ __forceinline__
AT_DEV unsigned int at_thread_idx_x(void) { return __builtin_amdgcn_workitem_id_x(); }
AT_DEV unsigned int at_thread_idx_y(void) { return __builtin_amdgcn_workitem_id_y(); }
AT_DEV unsigned int at_thread_idx_z(void) { return __builtin_amdgcn_workitem_id_z(); }
AT_DEV unsigned int at_block_idx_x(void) { return __builtin_amdgcn_workgroup_id_x(); }
AT_DEV unsigned int at_block_idx_y(void) { return __builtin_amdgcn_workgroup_id_y(); }
AT_DEV unsigned int at_block_idx_z(void) { return __builtin_amdgcn_workgroup_id_z(); }
// The HSA kernel dispatch packet (hsa.h, hsa_kernel_dispatch_packet_t): workgroup_size_x/
// y/z are uint16 at byte offsets 4/6/8, grid_size_x/y/z (in work-items) uint32 at 12/16/20,
// group_segment_size (static + dynamic LDS bytes) uint32 at 28.
AT_DEV const unsigned short *at_dispatch_u16(void)
{
  return (const unsigned short *)__builtin_amdgcn_dispatch_ptr();
}
AT_DEV const unsigned int *at_dispatch_u32(void)
{
  return (const unsigned int *)__builtin_amdgcn_dispatch_ptr();
}
AT_DEV unsigned int at_block_dim_x(void) { return at_dispatch_u16()[2]; }
AT_DEV unsigned int at_block_dim_y(void) { return at_dispatch_u16()[3]; }
AT_DEV unsigned int at_block_dim_z(void) { return at_dispatch_u16()[4]; }
// Blocks, rounded up: HSA allows a partial last workgroup.
AT_DEV unsigned int at_grid_dim_x(void)
{
  return (at_dispatch_u32()[3] + at_block_dim_x() - 1) / at_block_dim_x();
}
AT_DEV unsigned int at_grid_dim_y(void)
{
  return (at_dispatch_u32()[4] + at_block_dim_y() - 1) / at_block_dim_y();
}
AT_DEV unsigned int at_grid_dim_z(void)
{
  return (at_dispatch_u32()[5] + at_block_dim_z() - 1) / at_block_dim_z();
}
// What HIP's __syncthreads() does: release, barrier, acquire at workgroup scope.
AT_DEV void at_syncthreads(void)
{
  __builtin_amdgcn_fence(__ATOMIC_RELEASE, "workgroup");
  __builtin_amdgcn_s_barrier();
  __builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "workgroup");
}
// mbcnt counts the set bits of the mask below this lane: with an all-ones mask, the
// lane id (AMD ISA, V_MBCNT_LO/HI_U32_B32).
AT_DEV unsigned int at_lane_id(void)
{
#if AT_WAVE_SIZE == 64
  return __builtin_amdgcn_mbcnt_hi(~0u, __builtin_amdgcn_mbcnt_lo(~0u, 0u));
#else
  return __builtin_amdgcn_mbcnt_lo(~0u, 0u);
#endif
}
// HIP_DYNAMIC_SHARED does the same: an incomplete extern __shared__ array is the
// dynamic LDS, placed after the static LDS.
#define AT_DYNAMIC_SHARED(T, name)                                                       \
  extern __shared__ __attribute__((aligned(16))) unsigned char at_dynamic_shared_raw_[]; \
  T *const name = reinterpret_cast<T *>(at_dynamic_shared_raw_)
AT_DEV unsigned int at_dynamic_shared_bytes(void)
{
  return at_dispatch_u32()[7] - __builtin_amdgcn_groupstaticsize();
}

#else
// ---- HOST: plain C++17. Every GPU query goes through the emulator's table. ----
#define AT_HOST 1
#include "at_host_rt.h"

// Kernels are looked up by name in the variant's shared object: keep them visible
// even when the object is built with -fvisibility=hidden.
#define __global__ __attribute__((visibility("default")))
#define __device__
#define __host__
// A worker thread runs one block at a time, start to end, all of its GPU threads as
// fibers on that one OS thread: a thread_local static is therefore exactly one copy
// per block in flight, shared by the block's threads and private from other blocks,
// which is what __shared__ means. (Contents are not reset between blocks, as on a GPU.)
#define __shared__ static thread_local
#define __constant__
#define __launch_bounds__(...)
#define __forceinline__ inline
#ifndef AT_WAVE_SIZE
#define AT_WAVE_SIZE 32 // -DAT_WAVE_SIZE=64 when emulating CDNA
#endif
#if AT_WAVE_SIZE != 32 && AT_WAVE_SIZE != 64
#error "AT_WAVE_SIZE must be 32 or 64"
#endif

#define AT_DEV static inline

// The emulator's table, one slot per shared object: an inline function's static is
// one object across the TUs of a shared object (vague linkage), and hidden visibility
// keeps two variant objects loaded in one process from sharing it.
__attribute__((visibility("hidden"))) inline const struct at_host_rt *&at_host_rt_slot()
{
  static const struct at_host_rt *rt = nullptr;
  return rt;
}
// Weak: a shared object built from several TUs that include this header keeps exactly
// one definition; default visibility: the emulator finds it with dlsym.
extern "C" __attribute__((weak, visibility("default"))) void
at_host_bind(const struct at_host_rt *rt)
{
  at_host_rt_slot() = rt;
}
AT_DEV const struct at_host_rt *at_host_rt_get(void) { return at_host_rt_slot(); }
AT_DEV const struct at_host_thread *at_host_self(void) { return at_host_rt_get()->self(); }
// Report a kernel-side error; the emulator aborts the launch and does not return here.
AT_DEV void at_host_fail(const char *message) { at_host_rt_get()->fail(message); }

AT_DEV unsigned int at_thread_idx_x(void) { return at_host_self()->tid[0]; }
AT_DEV unsigned int at_thread_idx_y(void) { return at_host_self()->tid[1]; }
AT_DEV unsigned int at_thread_idx_z(void) { return at_host_self()->tid[2]; }
AT_DEV unsigned int at_block_idx_x(void) { return at_host_self()->bid[0]; }
AT_DEV unsigned int at_block_idx_y(void) { return at_host_self()->bid[1]; }
AT_DEV unsigned int at_block_idx_z(void) { return at_host_self()->bid[2]; }
AT_DEV unsigned int at_block_dim_x(void) { return at_host_self()->bdim[0]; }
AT_DEV unsigned int at_block_dim_y(void) { return at_host_self()->bdim[1]; }
AT_DEV unsigned int at_block_dim_z(void) { return at_host_self()->bdim[2]; }
AT_DEV unsigned int at_grid_dim_x(void) { return at_host_self()->gdim[0]; }
AT_DEV unsigned int at_grid_dim_y(void) { return at_host_self()->gdim[1]; }
AT_DEV unsigned int at_grid_dim_z(void) { return at_host_self()->gdim[2]; }
AT_DEV void at_syncthreads(void) { at_host_rt_get()->barrier(); }
AT_DEV unsigned int at_lane_id(void) { return at_host_self()->lane; }
// The calling thread, checked against the wave size this object was compiled for:
// the collectives size their buffers by AT_WAVE_SIZE.
AT_DEV const struct at_host_thread *at_host_warp_self(void)
{
  const struct at_host_thread *t = at_host_self();
  if (t->warp_size != AT_WAVE_SIZE)
    at_host_fail(AT_WAVE_SIZE == 32 ? "variant compiled for warp size 32 (AT_WAVE_SIZE), "
                                      "run with another"
                                    : "variant compiled for wave size 64 (AT_WAVE_SIZE), "
                                      "run with another");
  return t;
}
AT_DEV void *at_host_dyn_shared(void)
{
  size_t bytes = 0;
  return at_host_rt_get()->dyn_shared(&bytes);
}
AT_DEV unsigned int at_dynamic_shared_bytes(void)
{
  size_t bytes = 0;
  at_host_rt_get()->dyn_shared(&bytes);
  return (unsigned int)bytes;
}
#define AT_DYNAMIC_SHARED(T, name) T *const name = static_cast<T *>(at_host_dyn_shared())
#endif

// AT_DYNAMIC_SHARED(T, name) declares `T *const name`, the block's dynamic shared memory
// (16-byte aligned; size given at launch, at_dynamic_shared_bytes() bytes), on every
// target. Use it as a statement inside the kernel.

// The layer's parts; each is also includable on its own (it includes this file).
#include "at_types.h"
#include "at_warp.h"
#include "at_copy.h"
#include "at_mma.h"
#include "at_mfma.h"

#endif
