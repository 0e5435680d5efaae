// at_wgmma.h - NVIDIA Hopper warpgroup matrix instructions, one function each:
// wgmma.mma_async m64nNk16 with f32 accumulation and f16 or bf16 inputs, A and B both read
// from shared memory through matrix descriptors, each K-major (imm-trans-a/b = 0) or
// MN-major (imm-trans-a/b = 1: "M-major" A, "N-major" B, the transposed operands of an NN
// or TN GEMM), for N = 64, 128 and 256, and with A from registers instead ("RS": the
// register fragment, the same N; at_wgmma_m64nNk16_rs_*); wgmma.fence, commit_group and
// wgmma.wait_group; the 64-bit shared-memory matrix descriptor; and fence.proxy.async for
// shared memory. On CUDA (sm_90a: the instructions are arch-specific) they are the PTX
// instructions; on the host (at_host_wgmma.h) they are emulated from PTX ISA 8.x, section 9.7.15
// "Asynchronous Warpgroup Level Matrix Multiply-Accumulate Instructions": 9.7.15.5.1.1.1
// "Matrix Fragments for wgmma.mma_async.m64nNk16" (the D register layout), 9.7.15.5.1.2
// "Shared Memory Matrix Layout" with 9.7.15.5.1.2.1 "Major-ness supported by Strides"
// (leading and stride dimension byte offsets, canonical layouts) and 9.7.15.5.1.2.2 "Matrix
// Descriptor Format". As in at_mma.h, the emulation is (a) pure functions, at_emu_*, over a
// shared-memory image, that the tests call directly, and (b) the per-thread functions a
// kernel calls. Products of f16/bf16 values are exact in f32; each D element is summed in
// f32 in k order, starting from D (or 0 when scale-d is false), with fmaf: equal to the GPU
// whenever every partial sum is exact (small integers), otherwise within about K * 2^-24 *
// sum|a*b| per instruction (K = 16).
//
// Unlike at_mma.h, at_common.h does not include this file: a template that uses wgmma
// includes "at_wgmma.h" (which includes at_common.h). A variant's name hashes every file
// its template includes (docs/templates.md, "Variant names"), so adding it to
// at_common.h would rename every tuned variant of every template.
//
// MN-major reading. 9.7.15.5.1.2.1.1 "Leading Dimension Byte Offset" and .1.2 "Stride
// Dimension Byte Offset" define LBO and SBO for MN-major in words that leave open which
// axis "rows" and "columns" are ("Interleave: offset from the first 8 columns to the
// next 8 columns" / "offset from the first row to the next row"; "Swizzled layouts:
// offset from the first (swizzle-byte-size/16) rows to the next (swizzle-byte-size/16)
// rows" / "offset from the first 8 columns to the next 8 columns"), and the section's
// examples are "MxK or KxN matrices", where rows are M for A but K for B. This file
// follows the CuTe expressions of 9.7.15.5.1.2.1.3 "Canonical Layouts" instead, which
// name the axes (first mode M/N, second mode K), and the section's own worked examples
// ("MN-Major, no-swizzling and bf16 type": exact layout ((8,1,2),(8,2)):((1,8,64),(8,128))
// with LBO 128*sizeof(bf16), SBO 64*sizeof(bf16); "MN-Major, 32B swizzling": exact
// ((8,2,2),(8,2)):((1,8,128),(16,256)) with LBO 128*sizeof(bf16), SBO 256*sizeof(bf16)):
// without swizzle SBO steps along M/N and LBO along K (as for K-major); swizzled, LBO
// steps along M/N (between swizzle atoms) and SBO along K (between groups of 8 k). See
// at_wgmma_mnmajor_offset. NOT RUN ON A GPU either: the wgmma/gpu_*_mn_* probes decide.
//
// NOT YET RUN ON A GPU: the CUDA mapping compiles for sm_90a (NVRTC, ptxas) and the
// emulation matches the documented layouts, but nobody has compared the two on an H100.
//
// Descriptors on the host. On the GPU bits 0-13 of a descriptor hold the matrix's
// shared-window address >> 4 (18 address bits). On the host there is no shared window:
// the emulated "address" is the byte offset from the block's dynamic shared memory
// (AT_DYNAMIC_SHARED, the emulator's dyn_shared()), which every thread of the block
// sees, so any thread can turn a descriptor back into a pointer. The host therefore
// models a GPU whose dynamic shared memory starts at a 1024-byte aligned address, and
// swizzling is applied to those offsets; kernels must place swizzled tiles at offsets
// that are multiples of the pattern (1024 bytes for 128B) on the GPU too, where the
// pattern follows the absolute address. Static __shared__ arrays are thread_local
// objects on the host, unrelated to that base: at_wgmma_desc() fails the launch for a
// matrix outside dynamic shared memory.
//
// Asynchrony on the host: at_host_wgmma.h's head comment is the design note (the
// invariants the emulation keeps).
#if !defined(AT_COMMON_H) && !defined(AT_EMU_ONLY)
#include "at_common.h"
#endif
#ifndef AT_WGMMA_H
#define AT_WGMMA_H

#include "at_types.h"

// Capability predicate. wgmma is an "architecture-accelerated feature" of sm_90a (PTX
// ISA, "wgmma.mma_async", Target ISA notes: requires sm_90a; targets with the suffix
// "a" do not follow the onion-layer model). __CUDA_ARCH__ is 900 for both sm_90 and
// sm_90a; the compiler defines __CUDA_ARCH_FEAT_SM90_ALL only for sm_90a (nvcc, and
// NVRTC for --gpu-architecture=sm_90a: tests/test_wgmma.c checks both targets). nvcc's
// host pass (AT_CUDA without __CUDA_ARCH__) sees it as 1, like at_mma.h's predicates. On
// the host it is emulated for a warp-32 object unless it stands in for an AMD GPU or an
// NVIDIA GPU older than sm_90 (cc_host drops the "a": emulating sm_90 enables it too).
#ifndef AT_HAS_WGMMA
#if defined(AT_CUDA) && !defined(__CUDA_ARCH__)
#define AT_HAS_WGMMA 1
#elif defined(AT_CUDA) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define AT_HAS_WGMMA 1
#elif defined(AT_HOST) && AT_WAVE_SIZE == 32 && !defined(AT_EMULATE_AMD) &&                \
    (!defined(AT_EMULATE_SM) || AT_EMULATE_SM >= 90)
#define AT_HAS_WGMMA 1
#else
#define AT_HAS_WGMMA 0
#endif
#endif

// Swizzling modes: the values of descriptor bits 62-63 (9.7.15.5.1.2.2).
enum {
  AT_WGMMA_SWIZZLE_NONE = 0,
  AT_WGMMA_SWIZZLE_128B = 1,
  AT_WGMMA_SWIZZLE_64B = 2,
  AT_WGMMA_SWIZZLE_32B = 3
};

// The descriptor from a shared-memory address (see the note above for the host):
// matrix-descriptor-encode(x) = (x & 0x3FFFF) >> 4 of the start address in bits 0-13,
// of the leading dimension byte offset (LBO) in 16-29 and of the stride dimension byte
// offset (SBO) in 32-45; base offset (bits 49-51) 0, which requires each swizzle
// pattern to start at a multiple of its size (1024, 512, 256 bytes for 128B, 64B, 32B);
// the swizzling mode in 62-63. Addresses and offsets must be multiples of 16.
AT_DEV unsigned long long at_wgmma_desc_encode(unsigned int addr, unsigned int lbo,
                                               unsigned int sbo, int swizzle)
{
  return (unsigned long long)((addr & 0x3FFFFu) >> 4) |
         (unsigned long long)((lbo & 0x3FFFFu) >> 4) << 16 |
         (unsigned long long)((sbo & 0x3FFFFu) >> 4) << 32 |
         (unsigned long long)(swizzle & 3) << 62;
}
// Descriptor d of a matrix `bytes` (a multiple of 16) further on in shared memory: the
// start address field is the low word's bottom, so the sum is a 32-bit add on that word
// (no carry out of the field while the address stays below 256 KiB, as every kernel's
// shared memory does) and the high word stays as it is. A 64-bit add cost every wgmma a
// carried pair of adds (gemm_tma's k-tile: 160 instructions, 116 this way; nvdisasm).
AT_DEV unsigned long long at_wgmma_desc_plus(unsigned long long d, unsigned int bytes)
{
  return (d & 0xFFFFFFFF00000000ull) | (unsigned int)((unsigned int)d + (bytes >> 4));
}

// Where element (row, k) of a K-major tile of 16-bit elements lies, in bytes from the
// tile's start (row: M for A, N for B; k: the K index, < 8 for no swizzle per LBO step,
// < swizzle-bytes / 2 for the swizzled modes), for the canonical layouts of
// 9.7.15.5.1.2.1.3, "Canonical Layouts" (T = 8 elements of 16 bits per 16 bytes):
//   none:      ((8,m),(T,2k)):((1T,SBO),(1,LBO))  - core matrices of 8 rows x 16 bytes,
//              rows 16 bytes apart; the next 8 k at +LBO, the next 8 rows at +SBO;
//   32/64/128B: ((8,m),(T,2k)):((sT,SBO),(1,T)) with s = 2, 4, 8: rows of 32/64/128
//              bytes (the swizzle atom is 8 such rows), the next 8 rows at +SBO; then
//              Swizzle<b,4,3> (b = 1, 2, 3): address bits 4..4+b-1 (the 16-byte chunk)
//              XOR bits 7..7+b-1. LBO is "not used, assumed to be 1" when swizzled.
// The swizzle is applied to the whole offset: the tile must start at a multiple of the
// pattern (see at_wgmma_desc_encode). A wgmma's K=16 slice starting at k0 is the
// descriptor of the tile's start plus, in bytes, k0 / 8 * LBO (none) or 2 * k0
// (swizzled; k0 + 16 <= the row's elements).
AT_DEV unsigned int at_wgmma_kmajor_offset(int row, int k, int swizzle, unsigned int lbo,
                                           unsigned int sbo)
{
  unsigned int in_chunk = 2u * (unsigned int)(k % 8), chunk = (unsigned int)(k / 8);
  unsigned int r8 = (unsigned int)(row % 8), g = (unsigned int)(row / 8);
  if (swizzle == AT_WGMMA_SWIZZLE_NONE)
    return r8 * 16u + g * sbo + chunk * lbo + in_chunk;
  unsigned int bits = swizzle == AT_WGMMA_SWIZZLE_128B  ? 3u
                      : swizzle == AT_WGMMA_SWIZZLE_64B ? 2u
                                                        : 1u;
  unsigned int off = r8 * (16u << bits) + g * sbo + chunk * 16u + in_chunk;
  return off ^ (((off >> 7) & ((1u << bits) - 1u)) << 4);
}

// Swizzle<b,4,3> of 9.7.15.5.1.2.1.3 on a byte offset (b = 3, 2, 1 for 128B, 64B, 32B):
// bits 4..4+b-1 (the 16-byte chunk) XOR bits 7..7+b-1; the identity without swizzle.
AT_DEV unsigned int at_wgmma_swizzle_offset(unsigned int off, int swizzle)
{
  unsigned int bits = swizzle == AT_WGMMA_SWIZZLE_128B  ? 3u
                      : swizzle == AT_WGMMA_SWIZZLE_64B ? 2u
                      : swizzle == AT_WGMMA_SWIZZLE_32B ? 1u
                                                        : 0u;
  return off ^ (((off >> 7) & ((1u << bits) - 1u)) << 4);
}

// The MN-major canonical layout before its swizzle, in bytes (see
// at_wgmma_mnmajor_offset).
AT_DEV unsigned int at_wgmma_mnmajor_linear(int mn, int k, int swizzle, unsigned int lbo,
                                            unsigned int sbo)
{
  unsigned int mn0 = (unsigned int)(mn % 8), k0 = (unsigned int)(k % 8);
  unsigned int k1 = (unsigned int)(k / 8);
  if (swizzle == AT_WGMMA_SWIZZLE_NONE)
    return 2u * mn0 + 16u * k0 + (unsigned int)(mn / 8) * sbo + k1 * lbo;
  unsigned int s = swizzle == AT_WGMMA_SWIZZLE_128B  ? 8u
                   : swizzle == AT_WGMMA_SWIZZLE_64B ? 4u
                                                     : 2u;
  unsigned int mn1 = (unsigned int)(mn / 8) % s, mn2 = (unsigned int)(mn / 8) / s;
  return 2u * mn0 + 16u * mn1 + mn2 * lbo + 16u * s * k0 + k1 * sbo;
}

// Where element (mn, k) of an MN-major tile of 16-bit elements lies, in bytes from the
// tile's start (mn: M for A, N for B; k: the K index; both may cover the whole tile), for
// the MN-major canonical layouts of 9.7.15.5.1.2.1.3, "Canonical Layouts", quoted (in
// elements; T = 128 / 16 = 8 elements per 16 bytes; first mode M/N, second mode K):
//   "No-swizzling or Interleaved | ((T,1,m),(8,k)):((1,T,SBO),(1T,LBO)) | Swizzle<0, 4, 3>"
//   "32B Swizzling  | ((T,2,m),(8,k)):((1,T,LBO),(2T,SBO)) | Swizzle<1, 4, 3>"
//   "64B Swizzling  | ((T,4,m),(8,k)):((1,T,LBO),(4T,SBO)) | Swizzle<2, 4, 3>"
//   "128B Swizzling | ((T,8,m),(8,k)):((1,T,LBO),(8T,SBO)) | Swizzle<3, 4, 3>"
// that is, in bytes, with mn0 = mn % 8, k0 = k % 8, k1 = k / 8:
//   none:        2 mn0 + 16 k0 + (mn / 8) SBO + k1 LBO - core matrices of 8 k-rows x 16
//                bytes (8 M/N elements), the next 8 M/N at +SBO, the next 8 k at +LBO;
//   32/64/128B:  2 mn0 + 16 mn1 + mn2 LBO + 16 s k0 + k1 SBO, s = 2, 4, 8 chunks of 16
//                bytes, mn1 = (mn / 8) % s, mn2 = mn / (8 s): the swizzle atom is 8 k-rows
//                of 32/64/128 bytes along M/N (Table 38: "M/N | 2x8 / 4x8 / 8x8" 128-bit
//                elements), the next atom along M/N at +LBO, the next 8 k at +SBO; then the
//                swizzle (at_wgmma_swizzle_offset) of the whole offset, so the tile must
//                start at a multiple of the pattern as for K-major.
// A wgmma's K=16 slice starting at k0 (a multiple of 8) is the descriptor of the tile's
// start plus k0 / 8 * LBO (none) or k0 / 8 * SBO (swizzled) bytes.
AT_DEV unsigned int at_wgmma_mnmajor_offset(int mn, int k, int swizzle, unsigned int lbo,
                                            unsigned int sbo)
{
  unsigned int linear = at_wgmma_mnmajor_linear(mn, k, swizzle, lbo, sbo);
  return at_wgmma_swizzle_offset(linear, swizzle);
}

// D of m64nNk16 with .f32 (9.7.15.5.1.1.1, Figure 149 "WGMMA .m64nNk16 register fragment
// layout for accumulator matrix D"; the document gives this layout as a figure only):
// thread t (0..127) of the warpgroup, warp w = t / 32, lane = t % 32,
// groupID = lane / 4, threadID_in_group = lane % 4; register d[i], i = 0..N/2-1, holds
//   D[16 * w + groupID + 8 * ((i / 2) % 2)][8 * (i / 4) + 2 * threadID_in_group + i % 2]
// that is, warp w owns rows 16w..16w+15, and every 8 columns repeat the m16n8 C layout of
// mma.sync (at_mma.h). (This is the figure as CUTLASS's CLayout_64xN also states it.)
AT_DEV int at_wgmma_d_row(int thread, int i)
{
  return 16 * (thread / 32) + (thread % 32) / 4 + 8 * ((i / 2) % 2);
}
AT_DEV int at_wgmma_d_col(int thread, int i)
{
  return 8 * (i / 4) + 2 * (thread % 4) + i % 2;
}

#if !defined(AT_EMU_ONLY) // (the emulator's C build has no templates)
// ---- the epilogue: registers i and i + 1 (i even) are neighbouring columns of one row ----
// Here, not in at_copy.h: the headers at_common.h includes are in every template's content
// hash, and a change there would orphan every tuned result (tests/test_template.c).
// 4 bytes at p, which must be 4-byte aligned (the host checks).
AT_DEV unsigned int at_wgmma_load_b32(const void *p)
{
#if defined(AT_HOST)
  at_host_check_align(p, 4, "at_wgmma_load_b32: address not aligned to 4 bytes");
  unsigned int v;
  __builtin_memcpy(&v, p, 4);
  return v;
#else
  return *(const unsigned int *)p;
#endif
}
AT_DEV void at_wgmma_store_b32(void *p, unsigned int v)
{
#if defined(AT_HOST)
  at_host_check_align(p, 4, "at_wgmma_store_b32: address not aligned to 4 bytes");
  __builtin_memcpy(p, &v, 4);
#else
  *(unsigned int *)p = v;
#endif
}
// A plain store (st.shared) of v at p in shared memory that the async proxy will read (a
// wgmma operand): the writing thread's fence.proxy.async must come between. On the GPU
// the store alone; on the host the store, and p's 16 bytes marked as this thread's
// unfenced write (at_host_emu.h), which a wgmma reading them before the fence refuses.
template <typename T> AT_DEV void at_st_shared_async(T *p, T v)
{
#if defined(AT_HOST)
  static_assert(sizeof(T) <= 16 && (sizeof(T) & (sizeof(T) - 1)) == 0,
                "at_st_shared_async: 1, 2, 4, 8 or 16 bytes");
  at_host_check_align(p, sizeof(T), "at_st_shared_async: address not aligned to its size");
  __builtin_memcpy(p, &v, sizeof(T));
  at_host_proxy_generic_write(p);
#else
  *p = v;
#endif
}
// Two floats as the 4 bytes of two 16-bit T (v0 the lower address), and back.
template <typename T> AT_DEV unsigned int at_wgmma_pack_pair(float v0, float v1)
{
  static_assert(sizeof(T) == 2, "at_wgmma_pack_pair: a 16-bit element type");
  const T two[2] = {at_from_float<T>(v0), at_from_float<T>(v1)};
  unsigned int u;
  at_memcpy(&u, two, 4);
  return u;
}
template <typename T> AT_DEV void at_wgmma_unpack_pair(unsigned int u, float *v0, float *v1)
{
  T two[2];
  at_memcpy(two, &u, 4);
  *v0 = at_to_float(two[0]);
  *v1 = at_to_float(two[1]);
}
// C[row][col] and C[row][col + 1] = alpha * a + beta * C (C not read when beta is 0) for
// a 16-bit T: one 4-byte access where both columns lie inside M x N and the address is
// 4-byte aligned, else each element that lies inside, one at a time.
template <typename T>
AT_DEV void at_store_c_pair(T *C, long long ldc, int row, int col, int M, int N, float a0,
                            float a1, float alpha, float beta)
{
  static_assert(sizeof(T) == 2, "at_store_c_pair: a 16-bit element type");
  if (row >= M)
    return;
  T *const p = C + (long long)row * ldc + col;
  float v0 = alpha * a0, v1 = alpha * a1;
  if (col + 1 < N && ((unsigned long long)(const void *)p & 3u) == 0) {
    if (beta != 0.0f) {
      float c0, c1;
      at_wgmma_unpack_pair<T>(at_wgmma_load_b32(p), &c0, &c1);
      v0 += beta * c0;
      v1 += beta * c1;
    }
    at_wgmma_store_b32(p, at_wgmma_pack_pair<T>(v0, v1));
    return;
  }
  if (col < N)
    p[0] = at_from_float<T>(beta != 0.0f ? v0 + beta * at_to_float(p[0]) : v0);
  if (col + 1 < N)
    p[1] = at_from_float<T>(beta != 0.0f ? v1 + beta * at_to_float(p[1]) : v1);
}
// Whether at_wgmma_store_d_inside may store the m64 x N fragment at C[row0][col0]: every
// element inside M x N, every pair 4-byte aligned (C, ldc and col0 even).
AT_DEV bool at_wgmma_d_inside(const void *C, long long ldc, int row0, int col0, int n, int M,
                              int N)
{
  return row0 + 64 <= M && col0 + n <= N && ((unsigned long long)C & 3u) == 0 &&
         ldc % 2 == 0 && col0 % 2 == 0;
}
// The whole m64 x N accumulator fragment d of `thread` (0..127) into C at (row0, col0),
// where at_wgmma_d_inside holds: no guards, one pair a store, two row pointers (rows g
// and g + 8 of the thread's warp) and constant offsets (the next 8 columns), and beta's
// test once, not once a pair. at_store_c_pair's 20-odd instructions a pair (bounds,
// alignment, beta, addresses) were most of a direct epilogue.
template <typename T, int N>
AT_DEV void at_wgmma_store_d_inside(T *C, long long ldc, int row0, int col0, int thread,
                                    const float *d, float alpha, float beta)
{
  T *const p0 =
      C + (long long)(row0 + at_wgmma_d_row(thread, 0)) * ldc + col0 + at_wgmma_d_col(thread, 0);
  T *const p8 = p0 + 8 * ldc; // at_wgmma_d_row(thread, 2): 8 rows on
  if (beta == 0.0f) {
#pragma unroll
    for (int i = 0; i < N / 2; i += 2)
      at_wgmma_store_b32((i / 2) % 2 ? p8 + 8 * (i / 4) : p0 + 8 * (i / 4),
                         at_wgmma_pack_pair<T>(alpha * d[i], alpha * d[i + 1]));
    return;
  }
#pragma unroll
  for (int i = 0; i < N / 2; i += 2) {
    T *const p = (i / 2) % 2 ? p8 + 8 * (i / 4) : p0 + 8 * (i / 4);
    float c0, c1;
    at_wgmma_unpack_pair<T>(at_wgmma_load_b32(p), &c0, &c1);
    at_wgmma_store_b32(p, at_wgmma_pack_pair<T>(alpha * d[i] + beta * c0,
                                                alpha * d[i + 1] + beta * c1));
  }
}
#endif

#if defined(AT_HOST)
#include "at_host_wgmma.h" // the emulation, and at_wgmma_impl below on the host
#endif

#if !defined(AT_EMU_ONLY) && AT_HAS_WGMMA
#if defined(AT_CUDA)
// The descriptor of a matrix at p in shared memory: its shared-window address
// (__cvta_generic_to_shared, the address cvta.to.shared gives).
AT_DEV unsigned long long at_wgmma_desc(const void *p, unsigned int lbo, unsigned int sbo,
                                        int swizzle)
{
  return at_wgmma_desc_encode((unsigned int)__cvta_generic_to_shared(p), lbo, sbo, swizzle);
}
// PTX ISA, "wgmma.fence": orders this thread's register accesses (the
// accumulators) before the following wgmma.mma_async; needed before the first one and
// whenever the accumulators were touched in between.
AT_DEV void at_wgmma_fence(void) { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
// PTX ISA, "wgmma.commit_group": the wgmma.mma_async issued and not yet committed become
// one wgmma-group.
AT_DEV void at_wgmma_commit_group(void)
{
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
}
// PTX ISA, "wgmma.wait_group": wait until at most N of this thread's most recent
// wgmma-groups are pending and every older one has completed.
template <int N> AT_DEV void at_wgmma_wait_group(void)
{
  static_assert(N >= 0 && N <= 7, "wgmma.wait_group takes 0..7");
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}
// The accumulators d[0..n) as if rewritten here, for the compiler alone (no instruction):
// called after the wait_group that completes their last group, it keeps every later
// read of d below the wait. The wait's asm names no register, so the compiler may move
// an epilogue's alpha * d above it, and ptxas then serializes every wgmma of the kernel
// (C7515, "non wgmma instructions defining accumulator registers ... between start and
// end of the pipeline stage"). CUTLASS's warpgroup_fence_operand is the same idea.
template <int n> AT_DEV void at_wgmma_fence_acc(float *d)
{
#pragma unroll
  for (int i = 0; i < n; i++)
    asm volatile("" : "+f"(d[i])::"memory");
}
// wgmma.mma_async reads shared memory through the async proxy: writes made to it by
// ordinary stores must be ordered before it by fence.proxy.async (PTX ISA, "Memory
// Consistency Model: Proxies" and "membar/fence": fence.proxy.async.shared::cta).
AT_DEV void at_fence_proxy_async_shared(void)
{
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}

// The operand lists: "+f"(d[i]) for i in [base, base + 8·m), and the matching
// "%0, %1, ..." text, ten at a time ("%t0".."%t9" for the decade t).
#define AT_WG_F8(b)                                                                        \
  "+f"(d[(b) + 0]), "+f"(d[(b) + 1]), "+f"(d[(b) + 2]), "+f"(d[(b) + 3]),                  \
      "+f"(d[(b) + 4]), "+f"(d[(b) + 5]), "+f"(d[(b) + 6]), "+f"(d[(b) + 7])
#define AT_WG_F32(b) AT_WG_F8(b), AT_WG_F8((b) + 8), AT_WG_F8((b) + 16), AT_WG_F8((b) + 24)
#define AT_WG_R1 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, "
#define AT_WG_R10(t)                                                                       \
  "%" #t "0, %" #t "1, %" #t "2, %" #t "3, %" #t "4, %" #t "5, %" #t "6, %" #t "7, %" #t   \
  "8, %" #t "9, "
#define AT_WG_REGS32 AT_WG_R1 AT_WG_R10(1) AT_WG_R10(2) "%30, %31"
#define AT_WG_REGS64                                                                       \
  AT_WG_R1 AT_WG_R10(1) AT_WG_R10(2) AT_WG_R10(3) AT_WG_R10(4)                             \
      AT_WG_R10(5) "%60, %61, %62, %63"
#define AT_WG_REGS128                                                                      \
  AT_WG_R1 AT_WG_R10(1) AT_WG_R10(2) AT_WG_R10(3) AT_WG_R10(4) AT_WG_R10(5) AT_WG_R10(6)   \
      AT_WG_R10(7) AT_WG_R10(8) AT_WG_R10(9) AT_WG_R10(10)                                 \
          AT_WG_R10(11) "%120, %121, %122, %123, %124, %125, %126, %127"
// d, a-desc, b-desc, scale-d (a predicate, set from the int operand), imm-scale-a = 1,
// imm-scale-b = 1, imm-trans-a = TA, imm-trans-b = TB (PTX ISA, "wgmma.mma_async":
// immediates, hence "n" operands from template parameters; 0 K-major, 1 MN-major,
// 9.7.15.5.1.2 "Shared Memory Matrix Layout").
#define AT_WG_MMA(n, type, regs, da, db, sd, ta, tb, ...)                                  \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" #sd ", 0;\n"                           \
               "wgmma.mma_async.sync.aligned.m64n" #n "k16.f32." type "." type " "         \
               "{" regs "}, %" #da ", %" #db ", p, 1, 1, %" #ta ", %" #tb ";\n}"           \
               : __VA_ARGS__                                                               \
               : "l"(desc_a), "l"(desc_b), "r"(scale_d), "n"(TA), "n"(TB)                  \
               : "memory")

template <int N> struct at_wgmma_impl;
template <> struct at_wgmma_impl<64> {
  template <int TA, int TB>
  AT_DEV void f16(float *d, unsigned long long desc_a, unsigned long long desc_b,
                  int scale_d)
  {
    AT_WG_MMA(64, "f16", AT_WG_REGS32, 32, 33, 34, 35, 36, AT_WG_F32(0));
  }
  template <int TA, int TB>
  AT_DEV void bf16(float *d, unsigned long long desc_a, unsigned long long desc_b,
                   int scale_d)
  {
    AT_WG_MMA(64, "bf16", AT_WG_REGS32, 32, 33, 34, 35, 36, AT_WG_F32(0));
  }
};
template <> struct at_wgmma_impl<128> {
  template <int TA, int TB>
  AT_DEV void f16(float *d, unsigned long long desc_a, unsigned long long desc_b,
                  int scale_d)
  {
    AT_WG_MMA(128, "f16", AT_WG_REGS64, 64, 65, 66, 67, 68, AT_WG_F32(0), AT_WG_F32(32));
  }
  template <int TA, int TB>
  AT_DEV void bf16(float *d, unsigned long long desc_a, unsigned long long desc_b,
                   int scale_d)
  {
    AT_WG_MMA(128, "bf16", AT_WG_REGS64, 64, 65, 66, 67, 68, AT_WG_F32(0), AT_WG_F32(32));
  }
};
template <> struct at_wgmma_impl<256> {
  template <int TA, int TB>
  AT_DEV void f16(float *d, unsigned long long desc_a, unsigned long long desc_b,
                  int scale_d)
  {
    AT_WG_MMA(256, "f16", AT_WG_REGS128, 128, 129, 130, 131, 132, AT_WG_F32(0),
              AT_WG_F32(32), AT_WG_F32(64), AT_WG_F32(96));
  }
  template <int TA, int TB>
  AT_DEV void bf16(float *d, unsigned long long desc_a, unsigned long long desc_b,
                   int scale_d)
  {
    AT_WG_MMA(256, "bf16", AT_WG_REGS128, 128, 129, 130, 131, 132, AT_WG_F32(0),
              AT_WG_F32(32), AT_WG_F32(64), AT_WG_F32(96));
  }
};
// The same with A from registers (four 32-bit registers a thread, the layout of
// at_emu_wgmma_m64nNk16_rs_thread): d, {a}, b-desc, scale-d, imm-scale-a = 1,
// imm-scale-b = 1, imm-trans-b = TB (no imm-trans-a: A from registers is K-major).
// N = 64, 128 and 256 (attn_wgmma's P V at head dims 64, 128 and 256).
template <int N> struct at_wgmma_rs_impl;
template <> struct at_wgmma_rs_impl<64> {
  template <int TB>
  AT_DEV void f16(float *d, const unsigned int *a, unsigned long long desc_b, int scale_d)
  {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {" AT_WG_REGS32 "}, "
                 "{%32, %33, %34, %35}, %36, p, 1, 1, %38;\n}"
                 : AT_WG_F32(0)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d),
                   "n"(TB)
                 : "memory");
  }
  template <int TB>
  AT_DEV void bf16(float *d, const unsigned int *a, unsigned long long desc_b, int scale_d)
  {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {" AT_WG_REGS32 "}, "
                 "{%32, %33, %34, %35}, %36, p, 1, 1, %38;\n}"
                 : AT_WG_F32(0)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d),
                   "n"(TB)
                 : "memory");
  }
};
template <> struct at_wgmma_rs_impl<128> {
  template <int TB>
  AT_DEV void f16(float *d, const unsigned int *a, unsigned long long desc_b, int scale_d)
  {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {" AT_WG_REGS64 "}, "
                 "{%64, %65, %66, %67}, %68, p, 1, 1, %70;\n}"
                 : AT_WG_F32(0), AT_WG_F32(32)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d),
                   "n"(TB)
                 : "memory");
  }
  template <int TB>
  AT_DEV void bf16(float *d, const unsigned int *a, unsigned long long desc_b, int scale_d)
  {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {" AT_WG_REGS64 "}, "
                 "{%64, %65, %66, %67}, %68, p, 1, 1, %70;\n}"
                 : AT_WG_F32(0), AT_WG_F32(32)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d),
                   "n"(TB)
                 : "memory");
  }
};
template <> struct at_wgmma_rs_impl<256> {
  template <int TB>
  AT_DEV void f16(float *d, const unsigned int *a, unsigned long long desc_b, int scale_d)
  {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %133, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 {" AT_WG_REGS128 "}, "
                 "{%128, %129, %130, %131}, %132, p, 1, 1, %134;\n}"
                 : AT_WG_F32(0), AT_WG_F32(32), AT_WG_F32(64), AT_WG_F32(96)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d),
                   "n"(TB)
                 : "memory");
  }
  template <int TB>
  AT_DEV void bf16(float *d, const unsigned int *a, unsigned long long desc_b, int scale_d)
  {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %133, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {" AT_WG_REGS128 "}, "
                 "{%128, %129, %130, %131}, %132, p, 1, 1, %134;\n}"
                 : AT_WG_F32(0), AT_WG_F32(32), AT_WG_F32(64), AT_WG_F32(96)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d),
                   "n"(TB)
                 : "memory");
  }
};
#undef AT_WG_MMA
#undef AT_WG_REGS128
#undef AT_WG_REGS64
#undef AT_WG_REGS32
#undef AT_WG_R10
#undef AT_WG_R1
#undef AT_WG_F32
#undef AT_WG_F8

#endif

// d[N/2] (this thread's D fragment, layout above) = A * B + (scale_d ? d : 0) for the
// 64x16 A and the 16xN B that the descriptors describe, issued asynchronously: d may be
// read or written only after the wgmma.wait_group that covers its group, and shared
// memory the descriptors point at must stay unchanged until then. All 128 threads of
// the warpgroup call it with the same descriptors and scale_d. TransA (imm-trans-a): 0,
// A is K-major (at_wgmma_kmajor_offset, row = M); 1, A is M-major
// (at_wgmma_mnmajor_offset, mn = M). TransB likewise for B (stored N x 16 when K-major;
// N-major, mn = N, when 1). The defaults keep both K-major.
template <int N, int TransA = 0, int TransB = 0>
AT_DEV void at_wgmma_m64nNk16_f32_f16(float *d, unsigned long long desc_a,
                                      unsigned long long desc_b, int scale_d)
{
  static_assert((TransA == 0 || TransA == 1) && (TransB == 0 || TransB == 1),
                "at_wgmma_m64nNk16: imm-trans-a and imm-trans-b are 0 or 1");
  at_wgmma_impl<N>::template f16<TransA, TransB>(d, desc_a, desc_b, scale_d);
}
template <int N, int TransA = 0, int TransB = 0>
AT_DEV void at_wgmma_m64nNk16_f32_bf16(float *d, unsigned long long desc_a,
                                       unsigned long long desc_b, int scale_d)
{
  static_assert((TransA == 0 || TransA == 1) && (TransB == 0 || TransB == 1),
                "at_wgmma_m64nNk16: imm-trans-a and imm-trans-b are 0 or 1");
  at_wgmma_impl<N>::template bf16<TransA, TransB>(d, desc_a, desc_b, scale_d);
}
// The same with A from registers ("RS"): a[4], this thread's A fragment (the layout of
// at_emu_wgmma_m64nNk16_rs_thread: mma.m16n8k16's A per warp, warp w rows 16w..), read
// when issued but to be left unchanged until the covering wait_group; B from shared
// memory, K-major (TransB 0) or N-major (1). N = 64, 128 or 256.
template <int N, int TransB = 0>
AT_DEV void at_wgmma_m64nNk16_rs_f32_f16(float *d, const unsigned int *a,
                                         unsigned long long desc_b, int scale_d)
{
  static_assert(TransB == 0 || TransB == 1, "at_wgmma_m64nNk16_rs: imm-trans-b is 0 or 1");
  at_wgmma_rs_impl<N>::template f16<TransB>(d, a, desc_b, scale_d);
}
template <int N, int TransB = 0>
AT_DEV void at_wgmma_m64nNk16_rs_f32_bf16(float *d, const unsigned int *a,
                                          unsigned long long desc_b, int scale_d)
{
  static_assert(TransB == 0 || TransB == 1, "at_wgmma_m64nNk16_rs: imm-trans-b is 0 or 1");
  at_wgmma_rs_impl<N>::template bf16<TransB>(d, a, desc_b, scale_d);
}
#endif

#endif
