// at_tma.h - NVIDIA Hopper's tensor memory accelerator (TMA) and the mbarrier it completes
// on, one function per instruction: mbarrier.init / arrive / arrive.expect_tx / expect_tx /
// try_wait.parity, fence.mbarrier_init and fence.proxy.async, cp.async.bulk.tensor.2d
// global -> shared (with an mbarrier's complete_tx, and its multicast::cluster form),
// cp.async.bulk.tensor.2d shared -> global with commit_group / wait_group.read, the
// cluster barrier, mapa and the cluster special registers, prefetch.tensormap,
// setmaxnreg and named barriers (bar.sync / bar.arrive with a thread count); and the
// tensor map itself (struct at_tensormap, 128 bytes), which the host side of a launch
// builds (meas_backend.tmap_encode, tuner/measure/meas_tmap.c:
// cuTensorMapEncodeTiled on CUDA, the host encoding below on the host device; the tuned
// header's launcher the same way) and passes by value (`const __grid_constant__` on
// CUDA: AT_TMAP_KERNEL_PARAM). On CUDA (sm_90; setmaxnreg sm_90a) they are the PTX
// instructions of the PTX ISA 8.x sections "Data Movement and Conversion Instructions:
// cp.async.bulk.tensor" and "cp.async.bulk.commit_group / wait_group", "Parallel
// Synchronization and Communication Instructions: mbarrier", "membar/fence"
// (fence.proxy.async, fence.mbarrier_init), "barrier.cluster", "mapa" and "setmaxnreg"
// (section numbers move between ISA versions); the tensor map's fields are those of the
// CUDA Driver API's cuTensorMapEncodeTiled (base, dims, strides in bytes, box, element
// strides, interleave, swizzle, L2 promotion, OOB fill).
//
// On the host the same functions are emulated (at_host_tma.h), clusters included (the
// emulator runs the CTAs of a cluster together: at_host_rt_ext.h, tuner/emu/emu.c note 9).
// Design note, the invariants the emulation keeps:
//  1. An mbarrier is 8 bytes of dynamic shared memory; on the host they hold a tag and an
//     index into this block's side table {expected arrivals, pending arrivals, tx-count,
//     completed phases, fenced}. A word that mbarrier.init did not write (shared memory
//     is zeroed per block) fails any use. A phase completes when its pending arrivals
//     and its tx-count are both 0; try_wait.parity(P) is true when the phase of parity P
//     has completed, i.e. when (completed phases & 1) != P (the first wait with P = 0
//     waits for phase 0; with P = 1 it returns at once, as on the GPU).
//  2. A bulk tensor load computes nothing when issued: it is queued on its mbarrier
//     (the box copied and its bytes known). It is performed, and complete_tx(bytes)
//     applied, when some thread waits on that barrier and the phase being waited for has
//     not completed yet. So a consumer that waits on the wrong barrier, or on a phase
//     that completed without the copy's bytes being expected (a missing expect_tx lets
//     the phase complete at the arrive), reads shared memory without the data; the late
//     copy then drives the next phase's tx-count below 0 and that phase never completes.
//  3. try_wait that fails yields to the emulator (at_host_rt_ext.h) with the block's
//     mbarrier epoch, bumped by every mbarrier change: when no thread can change any
//     barrier any more the launch fails, naming the wait (a wrong parity, a missing
//     arrive), instead of hanging.
//  4. The async proxy sees an mbarrier only after the initialising thread executed
//     fence.mbarrier_init or fence.proxy.async after its mbarrier.init (PTX ISA,
//     "mbarrier.init" and "Memory Consistency Model: Proxies"): a copy that signals an
//     unfenced barrier fails the launch.
//  5. A bulk tensor store reads shared memory as the async proxy sees it: the image of
//     dynamic shared memory taken at the last at_tma_fence_proxy_async() of any thread of
//     the block (every writer must fence: a write made after the last fence is not seen).
//     The global writes happen at the cp.async.bulk.wait_group that covers the store's
//     bulk group, so a kernel that ends without waiting loses them.
//  6. Tensor maps on the host are encoded by at_tmap_host_encode() (the same checks as
//     cuTensorMapEncodeTiled's documented requirements: at_tmap_check); a map whose tag
//     is wrong fails the copy. Swizzling, as in at_wgmma.h's emulation, applies to byte
//     offsets from the start of dynamic shared memory, which the host models as 1024-byte
//     aligned; a swizzled box must start at a multiple of its pattern (1024 bytes for
//     128B) from there, and at the same alignment of the shared window on the GPU.
//     A bulk load fills its destination with 0xff bytes (NaN for 16- and 32-bit floats)
//     when it is issued: until its complete_tx the box is undefined, so a consumer that
//     still reads a stage when a producer (of this CTA or, multicast, of a peer) refills
//     it reads NaN instead of passing by luck.
//  7. The block-wide state lives in one thread_local table per emulator worker (one block
//     at a time, like __shared__), tagged with blockIdx, gridDim and the emulator's serial
//     number of the block's run (at_host_cluster.serial, new at every block start); a
//     table found with another tag is emptied (that block ended with copies or stores
//     pending, and they are dropped), so the next launch of the same grid on the same
//     worker starts from an empty table too (before the serial it did not, and its
//     mbarriers piled up past AT_TMA_HOST_BARRIERS).
//  8. Clusters. Each CTA of a cluster runs on its own emulator worker, so each has its own
//     table; a CTA publishes its table in the emulator's cluster slot of its rank, where
//     its peers find it. A shared::cluster address (at_mapa_shared) is rank << 26 | the
//     offset in that CTA's dynamic shared memory; at_mapa gives a plain pointer into it.
//     A remote mbarrier arrive and a multicast load act on the peer's barrier at that
//     offset (a multicast writes the box into every CTA of its mask, at the same offset,
//     and completes its bytes on each one's barrier there). The yield token is the sum of
//     every CTA's epoch, so a wait on one CTA's barrier sees the peers' changes, and a
//     cluster in which no CTA can go on fails the launch (emu.c) naming the wait. Each of
//     these fails the launch: a mask bit or rank outside the cluster, an empty mask; a
//     remote access to a CTA that has exited (no cluster barrier before the exit); a
//     remote access to a barrier that no cluster barrier phase has completed since its
//     init (no barrier.cluster between the peer's mbarrier.init and the first use from
//     another CTA); a peer barrier that was not initialised or not fenced. In a cluster a
//     completed wait yields 1 + 3 * rank times, so the peers run between the wait and the
//     reads that follow it, and CTAs drift apart (with note 6, a stage refilled by a peer
//     before it was released is read as NaN); the emulator fails a CTA that exits while a peer that accessed its shared
//     memory since the last cluster barrier still runs.
//
// NOT YET RUN ON A GPU: the CUDA side compiles for sm_90/sm_90a (nvcc, ptxas) and the
// emulation follows the documents above; nobody has compared the two on an H100.
//
// A template includes "at_tma.h" itself (at_common.h does not: adding it there would
// rename every variant). With AT_EMU_ONLY defined it declares only the C part (the tensor
// map encoding and the pure copy functions) for the runners and the tests.
#if !defined(AT_COMMON_H) && !defined(AT_EMU_ONLY)
#include "at_common.h"
#endif
#ifndef AT_TMA_H
#define AT_TMA_H

#if !defined(AT_CUDA)
#include <stddef.h>
#include <string.h>
#endif

#ifndef AT_DEV // AT_EMU_ONLY from C or C++
#define AT_TMA_C_STATIC static inline
#else
#define AT_TMA_C_STATIC AT_DEV
#endif

// Capability predicate: the bulk tensor copy and mbarrier transaction counts are sm_90
// (plain: no "a" needed); setmaxnreg is sm_90a's (AT_HAS_SETMAXNREG). The host emulates
// them for a warp-32 object that stands in for no AMD GPU and no NVIDIA GPU before sm_90.
#ifndef AT_HAS_TMA
#if defined(AT_CUDA) && !defined(__CUDA_ARCH__)
#define AT_HAS_TMA 1
#elif defined(AT_CUDA) && __CUDA_ARCH__ >= 900
#define AT_HAS_TMA 1
#elif defined(AT_HOST) && AT_WAVE_SIZE == 32 && !defined(AT_EMULATE_AMD) &&                \
    (!defined(AT_EMULATE_SM) || AT_EMULATE_SM >= 90)
#define AT_HAS_TMA 1
#else
#define AT_HAS_TMA 0
#endif
#endif
#ifndef AT_HAS_SETMAXNREG
#if defined(AT_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 &&                  \
    defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define AT_HAS_SETMAXNREG 1
#else
#define AT_HAS_SETMAXNREG 0
#endif
#endif

// ---- the tensor map (C and C++) ----------------------------------------------------------

// The 128-byte, 64-byte aligned object cuTensorMapEncodeTiled writes (CUtensorMap); on the
// host the same storage holds struct at_tmap_host.
#define AT_TMAP_BYTES 128
#ifdef __cplusplus
struct alignas(64) at_tensormap {
  unsigned long long opaque[16];
};
#else
typedef struct at_tensormap {
  _Alignas(64) unsigned long long opaque[16];
} at_tensormap;
#endif

// Swizzle modes, as bytes of the pattern's row (CU_TENSOR_MAP_SWIZZLE_NONE/32B/64B/128B
// are the enum values 0..3: at_tmap_swizzle_enum).
enum { AT_TMA_SWIZZLE_NONE = 0, AT_TMA_SWIZZLE_32B = 32, AT_TMA_SWIZZLE_64B = 64,
       AT_TMA_SWIZZLE_128B = 128 };
#define AT_TMAP_HOST_TAG 0x41544d50u // "ATMP"
#define AT_TMA_MAX_BOX 256           // elements per box dimension (boxDim[i] <= 256)

// What the host device keeps in a tensor map: a 2-D tiled map (rank 2, no interleave,
// element strides 1). dims[0] is the contiguous dimension; stride1 is the bytes between
// consecutive indices of dimension 1.
struct at_tmap_host {
  unsigned int tag, elem_bytes, swizzle, oob_nan;
  unsigned int box[2];
  unsigned long long base;
  unsigned long long dims[2];
  unsigned long long stride1;
};

// Where byte `off` (from the start of dynamic shared memory) of a box lands under the
// swizzle: Swizzle<b,4,3> of the address, b = 3, 2, 1 for 128, 64, 32 bytes (the same
// pattern as wgmma's descriptors: at_wgmma_swizzle_offset).
AT_TMA_C_STATIC unsigned long at_tma_swizzle(unsigned long off, unsigned int swizzle)
{
  unsigned long bits = swizzle == AT_TMA_SWIZZLE_128B ? 3u : swizzle == AT_TMA_SWIZZLE_64B ? 2u
                       : swizzle == AT_TMA_SWIZZLE_32B ? 1u : 0u;
  return off ^ (((off >> 7) & ((1ul << bits) - 1ul)) << 4);
}

#if !defined(AT_CUDA) // the encoding and the pure copies: host code and tests
// cuTensorMapEncodeTiled's requirements for what at_tma.h uses (CUDA Driver API,
// "Tensor Map Object Management": globalAddress aligned to 16 bytes; globalDim[i] in
// [1, 2^32]; globalStrides[i] a multiple of 16 and below 2^40; boxDim[i] in [1, 256];
// without interleave boxDim[0] * elementSize a multiple of 16 bytes, and with a swizzle
// at most the swizzle's span (32, 64, 128 bytes)). NULL when they hold, else what fails.
AT_TMA_C_STATIC const char *at_tmap_check(unsigned long long base, unsigned int elem_bytes,
                                          const unsigned long long dims[2],
                                          unsigned long long stride1,
                                          const unsigned int box[2], unsigned int swizzle)
{
  if (elem_bytes != 1 && elem_bytes != 2 && elem_bytes != 4 && elem_bytes != 8)
    return "tensor map: the element size is 1, 2, 4 or 8 bytes";
  if (base % 16 != 0)
    return "tensor map: the global address is not 16-byte aligned";
  for (int i = 0; i < 2; i++) {
    if (dims[i] < 1 || dims[i] > (1ull << 32))
      return "tensor map: a global dimension is outside [1, 2^32]";
    if (box[i] < 1 || box[i] > AT_TMA_MAX_BOX)
      return "tensor map: a box dimension is outside [1, 256]";
  }
  if (stride1 % 16 != 0 || stride1 >= (1ull << 40))
    return "tensor map: the row stride is not a multiple of 16 bytes below 2^40";
  if (stride1 < dims[0] * elem_bytes)
    return "tensor map: the row stride is smaller than a row";
  if (box[0] * elem_bytes % 16 != 0)
    return "tensor map: the box's inner dimension is not a multiple of 16 bytes";
  if (swizzle != AT_TMA_SWIZZLE_NONE && swizzle != AT_TMA_SWIZZLE_32B &&
      swizzle != AT_TMA_SWIZZLE_64B && swizzle != AT_TMA_SWIZZLE_128B)
    return "tensor map: the swizzle is none, 32, 64 or 128 bytes";
  if (swizzle && box[0] * elem_bytes > swizzle)
    return "tensor map: the box's inner dimension is wider than the swizzle span";
  return 0;
}

// CUtensorMapSwizzle's value for a swizzle in bytes (0 none, 1 32B, 2 64B, 3 128B).
AT_TMA_C_STATIC int at_tmap_swizzle_enum(unsigned int swizzle)
{
  return swizzle == AT_TMA_SWIZZLE_32B ? 1 : swizzle == AT_TMA_SWIZZLE_64B ? 2
         : swizzle == AT_TMA_SWIZZLE_128B ? 3 : 0;
}

// The host device's encoding into map (AT_TMAP_BYTES, zeroed first): NULL, or why the
// arguments break at_tmap_check (map then zero: a copy through it fails).
AT_TMA_C_STATIC const char *at_tmap_host_encode(void *map, const void *base,
                                                unsigned int elem_bytes,
                                                const unsigned long long dims[2],
                                                unsigned long long stride1,
                                                const unsigned int box[2],
                                                unsigned int swizzle, int oob_nan)
{
  memset(map, 0, AT_TMAP_BYTES);
  const char *why = at_tmap_check((unsigned long long)(size_t)base, elem_bytes, dims, stride1,
                                  box, swizzle);
  if (why)
    return why;
  struct at_tmap_host h;
  memset(&h, 0, sizeof h);
  h.tag = AT_TMAP_HOST_TAG, h.elem_bytes = elem_bytes, h.swizzle = swizzle;
  h.oob_nan = oob_nan != 0;
  h.box[0] = box[0], h.box[1] = box[1];
  h.base = (unsigned long long)(size_t)base;
  h.dims[0] = dims[0], h.dims[1] = dims[1];
  h.stride1 = stride1;
  memcpy(map, &h, sizeof h);
  return 0;
}

// The box's bytes: box[0] * box[1] * elem_bytes.
AT_TMA_C_STATIC unsigned long at_tma_box_bytes(const struct at_tmap_host *m)
{
  return (unsigned long)m->box[0] * m->box[1] * m->elem_bytes;
}

// The pure load: the box at coordinates (c0, c1) (c0 along dims[0]; either may be
// negative or past the end: out-of-bounds elements are 0, or NaN with oob_nan for 2- and
// 4-byte elements) into smem + off, box row j at off + j * box[0] * elem_bytes, every
// byte at its swizzled place (at_tma_swizzle of the offset from smem). NULL, or why not.
AT_TMA_C_STATIC const char *at_emu_tma_load_2d(const struct at_tmap_host *m, void *smem,
                                               unsigned long smem_bytes, unsigned long off,
                                               int c0, int c1)
{
  if (m->tag != AT_TMAP_HOST_TAG)
    return "cp.async.bulk.tensor: the tensor map was not encoded for the host device";
  unsigned long bytes = at_tma_box_bytes(m);
  if (off % 128 != 0 || off + bytes > smem_bytes)
    return "cp.async.bulk.tensor: the shared-memory box is not 128-byte aligned inside "
           "dynamic shared memory";
  if (m->swizzle && off % (8ul * m->swizzle) != 0)
    return "cp.async.bulk.tensor: a swizzled box must start at a multiple of its pattern "
           "(8 rows of the swizzle span) in dynamic shared memory";
  unsigned char *s = (unsigned char *)smem;
  const unsigned char *g = (const unsigned char *)(size_t)m->base;
  unsigned int e = m->elem_bytes;
  for (unsigned int j = 0; j < m->box[1]; j++)
    for (unsigned int i = 0; i < m->box[0]; i++) {
      long long x = (long long)c0 + i, y = (long long)c1 + j;
      unsigned long at = off + ((unsigned long)j * m->box[0] + i) * e;
      unsigned char *d = s + at_tma_swizzle(at, m->swizzle);
      if (x < 0 || y < 0 || (unsigned long long)x >= m->dims[0] ||
          (unsigned long long)y >= m->dims[1]) {
        memset(d, 0, e);
        if (m->oob_nan && e == 2)
          d[1] = 0x7f, d[0] = 0xff;
        else if (m->oob_nan && e == 4)
          d[3] = 0x7f, d[2] = 0xff, d[1] = 0xff, d[0] = 0xff;
        continue;
      }
      memcpy(d, g + (unsigned long long)y * m->stride1 + (unsigned long long)x * e, e);
    }
  return 0;
}

// The pure store: the in-bounds elements of the box at (c0, c1) from smem + off (laid out
// and swizzled as for the load) to global memory; out-of-bounds ones are not written.
AT_TMA_C_STATIC const char *at_emu_tma_store_2d(const struct at_tmap_host *m,
                                                const void *smem, unsigned long smem_bytes,
                                                unsigned long off, int c0, int c1)
{
  if (m->tag != AT_TMAP_HOST_TAG)
    return "cp.async.bulk.tensor store: the tensor map was not encoded for the host device";
  if (off % 128 != 0 || off + at_tma_box_bytes(m) > smem_bytes)
    return "cp.async.bulk.tensor store: the shared-memory box is not 128-byte aligned "
           "inside dynamic shared memory";
  if (m->swizzle && off % (8ul * m->swizzle) != 0)
    return "cp.async.bulk.tensor store: a swizzled box must start at a multiple of its "
           "pattern in dynamic shared memory";
  const unsigned char *s = (const unsigned char *)smem;
  unsigned char *g = (unsigned char *)(size_t)m->base;
  unsigned int e = m->elem_bytes;
  for (unsigned int j = 0; j < m->box[1]; j++)
    for (unsigned int i = 0; i < m->box[0]; i++) {
      long long x = (long long)c0 + i, y = (long long)c1 + j;
      if (x < 0 || y < 0 || (unsigned long long)x >= m->dims[0] ||
          (unsigned long long)y >= m->dims[1])
        continue;
      unsigned long at = off + ((unsigned long)j * m->box[0] + i) * e;
      memcpy(g + (unsigned long long)y * m->stride1 + (unsigned long long)x * e,
             s + at_tma_swizzle(at, m->swizzle), e);
    }
  return 0;
}

#endif // !AT_CUDA

#if !defined(AT_EMU_ONLY) && AT_HAS_TMA

// A kernel parameter that is a tensor map: by value and __grid_constant__ on CUDA (so the
// copy engine may read it from the parameter space: CUDA C++ Programming Guide,
// "__grid_constant__"); a reference on the host (the emulator passes its address:
// kind 'm'). Device code takes `const at_tensormap &` either way.
#if defined(AT_CUDA)
#define AT_TMAP_KERNEL_PARAM const __grid_constant__ at_tensormap
#else
#define AT_TMAP_KERNEL_PARAM const at_tensormap &
#endif

#if defined(AT_CUDA)
AT_DEV unsigned int at_tma_smem_addr(const void *p)
{
  return (unsigned int)__cvta_generic_to_shared(p);
}
// mbarrier.init.shared::cta.b64: the barrier's expected arrival count; phase 0 starts.
AT_DEV void at_mbarrier_init(unsigned long long *bar, unsigned int count)
{
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(at_tma_smem_addr(bar)),
               "r"(count)
               : "memory");
}
// fence.mbarrier_init.release.cluster: mbarrier.init visible to the async proxy and the
// cluster (the only form the PTX ISA defines).
AT_DEV void at_fence_mbarrier_init(void)
{
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}
// fence.proxy.async.shared::cta: this thread's generic-proxy shared-memory writes ordered
// before later async-proxy accesses (a bulk tensor store reading them).
AT_DEV void at_tma_fence_proxy_async(void)
{
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}
AT_DEV unsigned long long at_mbarrier_arrive(unsigned long long *bar)
{
  unsigned long long state;
  asm volatile("mbarrier.arrive.shared::cta.b64 %0, [%1];"
               : "=l"(state)
               : "r"(at_tma_smem_addr(bar))
               : "memory");
  return state;
}
// mbarrier.arrive.expect_tx: tx-count += bytes, then one arrival.
AT_DEV unsigned long long at_mbarrier_arrive_expect_tx(unsigned long long *bar,
                                                       unsigned int bytes)
{
  unsigned long long state;
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 %0, [%1], %2;"
               : "=l"(state)
               : "r"(at_tma_smem_addr(bar)), "r"(bytes)
               : "memory");
  return state;
}
// mbarrier.expect_tx: tx-count += bytes without an arrival.
AT_DEV void at_mbarrier_expect_tx(unsigned long long *bar, unsigned int bytes)
{
  asm volatile("mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%0], %1;" ::"r"(
                   at_tma_smem_addr(bar)),
               "r"(bytes)
               : "memory");
}
// mbarrier.try_wait.parity: whether the phase of parity `parity` has completed (the
// instruction may wait a while before answering false).
AT_DEV bool at_mbarrier_try_wait_parity(unsigned long long *bar, unsigned int parity)
{
  unsigned int done;
  asm volatile("{\n.reg .pred p;\n"
               "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
               "selp.u32 %0, 1, 0, p;\n}"
               : "=r"(done)
               : "r"(at_tma_smem_addr(bar)), "r"(parity)
               : "memory");
  return done != 0;
}
AT_DEV void at_mbarrier_wait_parity(unsigned long long *bar, unsigned int parity)
{
  while (!at_mbarrier_try_wait_parity(bar, parity)) {
  }
}
// cp.async.bulk.tensor.2d global -> shared::cluster (this CTA's window), completing
// tx bytes on bar: the box of map at (c0, c1), c0 along the contiguous dimension.
AT_DEV void at_tma_load_2d(void *dst, const at_tensormap &map, int c0, int c1,
                           unsigned long long *bar)
{
  asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
               " [%0], [%1, {%2, %3}], [%4];" ::"r"(at_tma_smem_addr(dst)),
               "l"(&map), "r"(c0), "r"(c1), "r"(at_tma_smem_addr(bar))
               : "memory");
}
// The multicast form: the box lands at the same offset in every CTA of the cluster whose
// bit is set in cta_mask, each completing on its own barrier at bar's offset.
AT_DEV void at_tma_load_2d_multicast(void *dst, const at_tensormap &map, int c0, int c1,
                                     unsigned long long *bar, unsigned short cta_mask)
{
  asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
               ".multicast::cluster [%0], [%1, {%2, %3}], [%4], %5;" ::"r"(
                   at_tma_smem_addr(dst)),
               "l"(&map), "r"(c0), "r"(c1), "r"(at_tma_smem_addr(bar)), "h"(cta_mask)
               : "memory");
}
// cp.async.bulk.tensor.2d shared::cta -> global in a bulk async-group: the box at (c0,
// c1), out-of-bounds elements not written.
AT_DEV void at_tma_store_2d(const at_tensormap &map, const void *src, int c0, int c1)
{
  asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];"
               ::"l"(&map), "r"(c0), "r"(c1), "r"(at_tma_smem_addr(src))
               : "memory");
}
AT_DEV void at_tma_store_commit(void)
{
  asm volatile("cp.async.bulk.commit_group;" ::: "memory");
}
// cp.async.bulk.wait_group.read N: at most N bulk groups still reading shared memory.
template <int N> AT_DEV void at_tma_store_wait(void)
{
  static_assert(N >= 0 && N <= 7, "cp.async.bulk.wait_group takes a small count");
  asm volatile("cp.async.bulk.wait_group.read %0;" ::"n"(N) : "memory");
}
AT_DEV void at_tma_prefetch_map(const at_tensormap &map)
{
  asm volatile("prefetch.tensormap [%0];" ::"l"(&map) : "memory");
}
// barrier.cluster: every thread of every CTA of the cluster arrives, then waits.
AT_DEV void at_cluster_arrive(void)
{
  asm volatile("barrier.cluster.arrive.release.aligned;" ::: "memory");
}
AT_DEV void at_cluster_wait(void)
{
  asm volatile("barrier.cluster.wait.acquire.aligned;" ::: "memory");
}
AT_DEV unsigned int at_cluster_ctarank(void)
{
  unsigned int r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
}
AT_DEV unsigned int at_cluster_nctas(void)
{
  unsigned int r;
  asm volatile("mov.u32 %0, %%cluster_nctarank;" : "=r"(r));
  return r;
}
// mapa.shared::cluster: the shared::cluster address of p's offset in CTA `cta`.
AT_DEV unsigned int at_mapa_shared(const void *p, unsigned int cta)
{
  unsigned int r;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;"
               : "=r"(r)
               : "r"(at_tma_smem_addr(p)), "r"(cta));
  return r;
}
// mapa's generic form: p's place in CTA cta's shared memory, as a generic pointer
// (distributed shared memory loads and stores).
template <typename T> AT_DEV T *at_mapa(T *p, unsigned int cta)
{
  unsigned long long r;
  asm volatile("mapa.u64 %0, %1, %2;" : "=l"(r) : "l"(p), "r"(cta));
  return reinterpret_cast<T *>(r);
}
// %cluster_ctaid (this CTA's place in its cluster) and %cluster_nctaid (the cluster's
// shape), x and y.
AT_DEV unsigned int at_cluster_ctaid_x(void)
{
  unsigned int r;
  asm volatile("mov.u32 %0, %%cluster_ctaid.x;" : "=r"(r));
  return r;
}
AT_DEV unsigned int at_cluster_ctaid_y(void)
{
  unsigned int r;
  asm volatile("mov.u32 %0, %%cluster_ctaid.y;" : "=r"(r));
  return r;
}
AT_DEV unsigned int at_cluster_nctaid_x(void)
{
  unsigned int r;
  asm volatile("mov.u32 %0, %%cluster_nctaid.x;" : "=r"(r));
  return r;
}
AT_DEV unsigned int at_cluster_nctaid_y(void)
{
  unsigned int r;
  asm volatile("mov.u32 %0, %%cluster_nctaid.y;" : "=r"(r));
  return r;
}
// %clusterid: the cluster's place in the grid of clusters, x and y.
AT_DEV unsigned int at_clusterid_x(void)
{
  unsigned int r;
  asm volatile("mov.u32 %0, %%clusterid.x;" : "=r"(r));
  return r;
}
AT_DEV unsigned int at_clusterid_y(void)
{
  unsigned int r;
  asm volatile("mov.u32 %0, %%clusterid.y;" : "=r"(r));
  return r;
}
// Arrive on the mbarrier at shared::cluster address `remote` (another CTA's, from
// at_mapa_shared): the consumer releasing a multicast stage to its producers.
AT_DEV void at_mbarrier_arrive_cluster(unsigned int remote)
{
  asm volatile("mbarrier.arrive.release.cluster.shared::cluster.b64 _, [%0];" ::"r"(remote)
               : "memory");
}
// Named barriers (PTX ISA, "bar.sync / bar.arrive"): barrier `id` (1..15; 0 is
// __syncthreads') completes when `count` threads (a multiple of 32) have arrived; bar.sync
// arrives and waits, bar.arrive only arrives. What warp-specialized kernels order
// warpgroups with (FlashAttention-3's ping-pong).
AT_DEV void at_named_bar_sync(int id, int count)
{
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(count) : "memory");
}
AT_DEV void at_named_bar_arrive(int id, int count)
{
  asm volatile("bar.arrive %0, %1;" ::"r"(id), "r"(count) : "memory");
}
#if AT_HAS_SETMAXNREG
// setmaxnreg: the warpgroup's registers per thread raised / lowered to N (sm_90a; the
// kernel needs a register cap at entry: __launch_bounds__(threads, 1)).
template <int N> AT_DEV void at_setmaxnreg_inc(void)
{
  static_assert(N >= 24 && N <= 256 && N % 8 == 0, "setmaxnreg: 24..256, a multiple of 8");
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(N));
}
template <int N> AT_DEV void at_setmaxnreg_dec(void)
{
  static_assert(N >= 24 && N <= 256 && N % 8 == 0, "setmaxnreg: 24..256, a multiple of 8");
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(N));
}
#else
template <int N> AT_DEV void at_setmaxnreg_inc(void) {}
template <int N> AT_DEV void at_setmaxnreg_dec(void) {}
#endif

#elif defined(AT_HOST)
#include "at_host_tma.h"
#endif
#endif

#endif
