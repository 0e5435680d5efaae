// at_mma.h - NVIDIA warp matrix instructions, one function each: mma.sync m16n8k16 with
// f32 accumulation and f16 or bf16 inputs (row-major A, column-major B), and ldmatrix
// m8n8 b16 .x1/.x2/.x4 with and without .trans. On CUDA (sm_80+ for mma, sm_75+ for
// ldmatrix) they are the PTX instructions; on the host (at_host_mma.h) they are emulated
// with the lane layouts of the PTX ISA, "Warp Level Matrix Multiply-Accumulate Instructions":
// "Matrix Fragments for mma.m16n8k16 with floating point type" and "Warp-level matrix
// load instruction: ldmatrix" (docs.nvidia.com/cuda/parallel-thread-execution, 8.x).
// Each emulation is (a) a pure function over all 32 lanes' fragments, at_emu_*, that
// the tests call directly, and (b) the per-lane function a kernel calls, which gathers
// the warp's fragments through the emulator and computes its own lane's result. Products
// of f16/bf16 values are exact in f32; they are summed in f32 in k order, starting from
// c, with fmaf. The hardware's summation order and internal precision are not
// specified, so the emulation equals the GPU bit for bit whenever every partial sum is
// exact (integers below 2^24, as the tests use) and otherwise within about
// K * 2^-24 * sum|a*b| (K = 16), the tolerance a verifier should allow.
//
// Two APIs over the same instructions. The packed one (*_packed) holds fragments as the
// 32-bit registers the PTX names: for m16n8k16 A is unsigned a[4], B unsigned b[2], C and
// D float[4]; ldmatrix .xN writes unsigned d[N]. Word i holds 16-bit elements 2i (low
// half) and 2i+1 (high half) of the element-wise fragment below, so a[i] = {a_2i, a_2i+1}
// and ldmatrix's d[q] is matrix q's register. On CUDA it moves registers straight from
// and to the PTX operands (no 16-bit copies, which cost registers in a kernel's
// mainloop); kernels should use it. The element-wise one (at_half a[8], ...) is kept for
// readability and is implemented with the same instructions.
#if !defined(AT_COMMON_H) && !defined(AT_EMU_ONLY)
#include "at_common.h"
#endif
#ifndef AT_MMA_H
#define AT_MMA_H

#include "at_types.h"

// Capability predicates: the instruction exists on this target. On the host it is
// emulated for a warp-32 object unless cc_host says it stands in for an AMD GPU
// (AT_EMULATE_AMD) or an NVIDIA GPU that lacks it (AT_EMULATE_SM); -D may override.
// nvcc's host pass (AT_CUDA without __CUDA_ARCH__) sees them too: it parses the device
// code of a program's kernels (a tuned header's) without compiling it.
#ifndef AT_HAS_MMA_SYNC
#if defined(AT_CUDA) && (!defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800)
#define AT_HAS_MMA_SYNC 1
#elif defined(AT_HOST) && AT_WAVE_SIZE == 32 && !defined(AT_EMULATE_AMD) &&                 \
    (!defined(AT_EMULATE_SM) || AT_EMULATE_SM >= 80)
#define AT_HAS_MMA_SYNC 1
#else
#define AT_HAS_MMA_SYNC 0
#endif
#endif
#ifndef AT_HAS_LDMATRIX
#if defined(AT_CUDA) && (!defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 750)
#define AT_HAS_LDMATRIX 1
#elif defined(AT_HOST) && AT_WAVE_SIZE == 32 && !defined(AT_EMULATE_AMD) &&                 \
    (!defined(AT_EMULATE_SM) || AT_EMULATE_SM >= 75)
#define AT_HAS_LDMATRIX 1
#else
#define AT_HAS_LDMATRIX 0
#endif
#endif

#if defined(AT_HOST)
#include "at_host_mma.h" // the emulation, and the instructions below on the host
#endif

#if !defined(AT_EMU_ONLY)
#if defined(AT_CUDA) && AT_HAS_MMA_SYNC
AT_DEV unsigned int at_pack_b16x2(unsigned short lo, unsigned short hi)
{
  return (unsigned int)lo | (unsigned int)hi << 16;
}
#define AT_MMA_PTX(type)                                                                 \
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32." type "." type ".f32 "              \
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};"     \
               : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])                          \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]),       \
                 "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]))
// d = a * b + c for this lane's packed fragments (layouts above); d may be c.
AT_DEV void at_mma_m16n8k16_f32_f16_packed(float d[4], const unsigned int a[4],
                                           const unsigned int b[2], const float c[4])
{
  AT_MMA_PTX("f16");
}
AT_DEV void at_mma_m16n8k16_f32_bf16_packed(float d[4], const unsigned int a[4],
                                            const unsigned int b[2], const float c[4])
{
  AT_MMA_PTX("bf16");
}
#undef AT_MMA_PTX
#define AT_MMA_ELEMS(name, T)                                                            \
  AT_DEV void name(float d[4], const T a[8], const T b[4], const float c[4])              \
  {                                                                                      \
    const unsigned int pa[4] = {                                                         \
        at_pack_b16x2(a[0].bits, a[1].bits), at_pack_b16x2(a[2].bits, a[3].bits),        \
        at_pack_b16x2(a[4].bits, a[5].bits), at_pack_b16x2(a[6].bits, a[7].bits)};       \
    const unsigned int pb[2] = {at_pack_b16x2(b[0].bits, b[1].bits),                     \
                                at_pack_b16x2(b[2].bits, b[3].bits)};                    \
    name##_packed(d, pa, pb, c);                                                         \
  }
// d = a * b + c for this lane's element-wise fragments; d may be c.
AT_MMA_ELEMS(at_mma_m16n8k16_f32_f16, at_half)
AT_MMA_ELEMS(at_mma_m16n8k16_f32_bf16, at_bfloat16)
#undef AT_MMA_ELEMS
#endif

// ldmatrix: T is any 2-byte type (at_half, at_bfloat16, unsigned short); `row` is this
// lane's row address in shared memory (16-byte aligned; lanes >= 8 * N give none).
// Packed (at_ldmatrix_xN[_trans]_packed): d[q] is register q, matrix q's fragment.
// Element-wise (at_ldmatrix_xN[_trans]): d[2q], d[2q+1] are the low and high halves of
// register q (layout above).
#if defined(AT_CUDA) && AT_HAS_LDMATRIX
// name: at_ldmatrix_xN[_trans]; ptx: the PTX modifiers; then the output operands.
#define AT_LDMATRIX(name, n, ptx, regs, ...)                                             \
  template <typename T> AT_DEV void name##_packed(unsigned int d[n], const T *row)       \
  {                                                                                      \
    static_assert(sizeof(T) == 2, "ldmatrix moves 16-bit elements");                    \
    asm volatile("ldmatrix.sync.aligned.m8n8" ptx ".shared.b16 " regs ", [%" #n "];"     \
                 : __VA_ARGS__                                                           \
                 : "r"(at_shared_addr(row)));                                            \
  }                                                                                      \
  template <typename T> AT_DEV void name(T d[2 * n], const T *row)                       \
  {                                                                                      \
    unsigned int r[n];                                                                   \
    name##_packed(r, row);                                                               \
    at_memcpy(d, r, sizeof r);                                                           \
  }
AT_LDMATRIX(at_ldmatrix_x1, 1, ".x1", "{%0}", "=r"(d[0]))
AT_LDMATRIX(at_ldmatrix_x2, 2, ".x2", "{%0, %1}", "=r"(d[0]), "=r"(d[1]))
AT_LDMATRIX(at_ldmatrix_x4, 4, ".x4", "{%0, %1, %2, %3}", "=r"(d[0]), "=r"(d[1]),
            "=r"(d[2]), "=r"(d[3]))
AT_LDMATRIX(at_ldmatrix_x1_trans, 1, ".x1.trans", "{%0}", "=r"(d[0]))
AT_LDMATRIX(at_ldmatrix_x2_trans, 2, ".x2.trans", "{%0, %1}", "=r"(d[0]), "=r"(d[1]))
AT_LDMATRIX(at_ldmatrix_x4_trans, 4, ".x4.trans", "{%0, %1, %2, %3}", "=r"(d[0]),
            "=r"(d[1]), "=r"(d[2]), "=r"(d[3]))
#undef AT_LDMATRIX
#endif
#endif

#endif
