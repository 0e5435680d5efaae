// at_common.h - the portability layer every template includes: thread, block and grid
// ids, the block barrier, the wave size and the lane id, for three compilers from one
// source. CUDA (NVRTC or nvcc, __CUDACC__) maps them to the CUDA built-ins; HIP (clang
// -x hip -nogpuinc -nogpulib --cuda-device-only, __HIP__, with no HIP headers present)
// defines the CUDA keywords as clang attributes and reads the ids from the amdgcn
// built-ins and the HSA dispatch packet; HOST (plain C++: libclang, g++, the SIMT
// emulator) declares the ids as extern "C" functions that the emulator defines and makes
// the keywords empty. It includes no header at all: NVRTC has no standard headers.
// This is the minimal layer; vector loads, async copies and matrix-core instructions
// come later, each with its host emulation.
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

#elif defined(__HIP__)
// ---- HIP device code through clang alone: the keywords are clang's CUDA/HIP
// attributes (what hip/amd_detail/host_defines.h defines them to). ----
#define AT_HIP 1
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __host__ __attribute__((host))
#define __shared__ __attribute__((shared))
#define __constant__ __attribute__((constant))
// clang's own launch_bounds does not reach the AMDGPU backend (the code object keeps
// .max_flat_workgroup_size 1024): say it the way HIP's headers do, with the amdgpu
// attributes. The optional second argument (min blocks per CU) becomes waves per EU.
#define AT_LB1(max_threads) __attribute__((amdgpu_flat_work_group_size(1, max_threads)))
#define AT_LB2(max_threads, min_blocks)                                                  \
  __attribute__((amdgpu_flat_work_group_size(1, max_threads),                          \
                 amdgpu_waves_per_eu(min_blocks)))
#define AT_LB_PICK(a, b, impl, ...) impl
#define __launch_bounds__(...) AT_LB_PICK(__VA_ARGS__, AT_LB2, AT_LB1, )(__VA_ARGS__)
#define __forceinline__ inline __attribute__((always_inline))
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
// y/z are uint16 at byte offsets 4/6/8, grid_size_x/y/z (in work-items) uint32 at 12/16/20.
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

#else
// ---- HOST: plain C++. The SIMT emulator defines these per emulated thread. ----
#define AT_HOST 1
#define __global__
#define __device__
#define __host__
#define __shared__
#define __constant__
#define __launch_bounds__(...)
#define __forceinline__ inline
#ifndef AT_WAVE_SIZE
#define AT_WAVE_SIZE 32
#endif

#ifdef __cplusplus
extern "C" {
#endif
unsigned int at_thread_idx_x(void);
unsigned int at_thread_idx_y(void);
unsigned int at_thread_idx_z(void);
unsigned int at_block_idx_x(void);
unsigned int at_block_idx_y(void);
unsigned int at_block_idx_z(void);
unsigned int at_block_dim_x(void);
unsigned int at_block_dim_y(void);
unsigned int at_block_dim_z(void);
unsigned int at_grid_dim_x(void);
unsigned int at_grid_dim_y(void);
unsigned int at_grid_dim_z(void);
void at_syncthreads(void);
unsigned int at_lane_id(void);
#ifdef __cplusplus
}
#endif
#define AT_DEV static inline
#endif

#endif
