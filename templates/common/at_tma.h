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
// On the host the same functions are emulated, clusters included (the emulator runs the
// CTAs of a cluster together: at_host_rt_ext.h, tuner/emu/emu.c note 9). Design note, the
// invariants the emulation keeps:
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
#include "at_host_rt_ext.h"
#include <stdio.h>
#include <stdlib.h>

#ifndef AT_TMA_HOST_BARRIERS
#define AT_TMA_HOST_BARRIERS 64 // mbarriers per block
#endif
#define AT_TMA_HOST_MBAR_TAG 0x4d424152u // "MBAR", the high word of an initialised barrier

struct at_tma_copy {
  struct at_tmap_host map;
  unsigned long off; // destination, from the start of dynamic shared memory
  int c0, c1;
  struct at_tma_copy *next;
};
struct at_tma_mbar {
  long long tx;
  unsigned int expected, pending, phases, fenced, init_thread;
  unsigned int init_cluster_phase; // the cluster barrier's phases done at the init (note 8)
  struct at_tma_copy *copies, **tail;
};
struct at_tma_store {
  unsigned char *data; // the async proxy's image of shared memory at the issue
  struct at_tmap_host map;
  unsigned long len;   // the bytes of data (the box's 128-byte rows)
  unsigned int thread; // the issuing thread (bulk groups are per thread)
  int c0, c1, group;   // group -1 while not committed
  struct at_tma_store *next;
};
// This block's state (design note, 7).
struct at_tma_block {
  unsigned int bid[3], gdim[3];
  unsigned long long serial; // the emulator's number of this block's run (note 7)
  int used;
  unsigned int rank; // in its cluster (note 8)
  unsigned long long epoch;
  unsigned int nbars;
  struct at_tma_mbar bars[AT_TMA_HOST_BARRIERS];
  unsigned char *view; // the async proxy's image of dynamic shared memory (note 5)
  size_t view_cap, view_bytes;
  struct at_tma_store *stores; // every thread's, newest first
  struct {
    unsigned int count, arrived, gen; // the instance being filled, completed instances
  } named[16];                        // named barriers (bar.sync / bar.arrive)
  ~at_tma_block() { reset(); __builtin_free(view); }
  void reset()
  {
    for (unsigned int i = 0; i < nbars; i++)
      while (bars[i].copies) {
        struct at_tma_copy *c = bars[i].copies;
        bars[i].copies = c->next;
        __builtin_free(c);
      }
    nbars = 0;
    while (stores) {
      struct at_tma_store *s = stores;
      stores = s->next;
      __builtin_free(s->data);
      __builtin_free(s);
    }
    view_bytes = 0;
    epoch = 0;
    memset(named, 0, sizeof named);
  }
};
// Per-thread bulk store groups: thread linear -> next group number, kept in the block.
struct at_tma_thread_groups {
  unsigned int *next_group;
  unsigned int cap;
  ~at_tma_thread_groups() { __builtin_free(next_group); }
};

AT_DEV const struct at_host_rt_ext *at_tma_rt(void)
{
  const struct at_host_rt *rt = at_host_rt_get();
  if (rt->version < AT_HOST_RT_EXT_VERSION) {
    at_host_fail("at_tma.h: this emulator has no yield or clusters (at_host_rt_ext.h)");
    return 0;
  }
  return reinterpret_cast<const struct at_host_rt_ext *>(rt);
}
// Every thread's next bulk group number (one per thread of the block), or fail.
AT_DEV unsigned int *at_tma_groups(void)
{
  static thread_local at_tma_thread_groups g;
  const struct at_host_thread *t = at_host_self();
  unsigned int threads = t->bdim[0] * t->bdim[1] * t->bdim[2];
  if (g.cap < threads) {
    void *p = __builtin_realloc(g.next_group, sizeof(unsigned int) * threads);
    if (!p) {
      at_host_fail("at_tma.h: out of memory");
      return 0;
    }
    g.next_group = static_cast<unsigned int *>(p);
    g.cap = threads;
  }
  return g.next_group;
}
AT_DEV const struct at_host_cluster *at_tma_cluster(void)
{
  const struct at_host_rt_ext *rt = at_tma_rt();
  return rt ? rt->cluster() : 0;
}
AT_DEV struct at_tma_block *at_tma_block_get(void)
{
  static thread_local at_tma_block b;
  const struct at_host_thread *t = at_host_self();
  const struct at_host_rt_ext *rt = at_tma_rt();
  if (rt) { // note 8: where the peers find this CTA's table
    b.rank = rt->cluster()->rank;
    void **slot = rt->cluster_slot(b.rank);
    if (slot)
      *slot = &b;
  }
  const unsigned long long serial = rt ? rt->cluster()->serial : 0;
  bool mine = b.used != 0 && b.serial == serial;
  for (int i = 0; i < 3; i++)
    mine = mine && b.bid[i] == t->bid[i] && b.gdim[i] == t->gdim[i];
  if (!mine) {
    b.reset();
    for (int i = 0; i < 3; i++)
      b.bid[i] = t->bid[i], b.gdim[i] = t->gdim[i];
    b.serial = serial;
    b.used = 1;
    unsigned int threads = t->bdim[0] * t->bdim[1] * t->bdim[2];
    unsigned int *g = at_tma_groups();
    if (g)
      memset(g, 0, sizeof *g * threads);
  }
  return &b;
}
// The byte offset of p in dynamic shared memory, or fail with `what`.
AT_DEV bool at_tma_smem_off(const void *p, unsigned long size, const char *what,
                            unsigned long *off)
{
  size_t bytes = 0;
  const unsigned char *base =
      static_cast<const unsigned char *>(at_host_rt_get()->dyn_shared(&bytes));
  const unsigned char *q = static_cast<const unsigned char *>(p);
  if (!base || q < base || q + size > base + bytes) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s: on the host it must lie in dynamic shared memory "
             "(AT_DYNAMIC_SHARED)", what);
    at_host_fail(msg);
    return false;
  }
  *off = (unsigned long)(q - base);
  return true;
}
// The barrier at bar (initialised), or fail.
AT_DEV struct at_tma_mbar *at_tma_bar(unsigned long long *bar, const char *what)
{
  unsigned long off;
  if (!at_tma_smem_off(bar, 8, what, &off))
    return 0;
  struct at_tma_block *b = at_tma_block_get();
  unsigned long long w = *bar;
  unsigned int idx = (unsigned int)(w & 0xffffffffu);
  if (off % 8 != 0 || (w >> 32) != AT_TMA_HOST_MBAR_TAG || idx >= b->nbars) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s: the mbarrier at shared offset %lu was not initialised "
             "(mbarrier.init) in this block", what, off);
    at_host_fail(msg);
    return 0;
  }
  return &b->bars[idx];
}
// CTA `rank`'s dynamic shared memory (this CTA's or a running peer's), or fail.
AT_DEV unsigned char *at_tma_cta_smem(unsigned int rank, size_t *bytes, const char *what)
{
  const struct at_host_rt_ext *rt = at_tma_rt();
  if (!rt)
    return 0;
  const struct at_host_cluster *cl = rt->cluster();
  char msg[240];
  if (rank >= cl->nctas) {
    snprintf(msg, sizeof msg, "%s: CTA rank %u is outside the cluster of %u", what, rank,
             cl->nctas);
    at_host_fail(msg);
    return 0;
  }
  unsigned char *p = static_cast<unsigned char *>(rt->cta_shared(rank, bytes));
  if (!p) {
    snprintf(msg, sizeof msg, "%s: CTA %u of the cluster has exited, its shared memory is "
             "gone (no barrier.cluster before its exit?)", what, rank);
    at_host_fail(msg);
  }
  return p;
}
// The table of CTA `rank` (note 8): NULL when that CTA has not touched one yet.
AT_DEV struct at_tma_block *at_tma_peer(unsigned int rank)
{
  struct at_tma_block *own = at_tma_block_get();
  if (rank == own->rank)
    return own;
  void **slot = at_tma_rt()->cluster_slot(rank);
  return slot ? static_cast<struct at_tma_block *>(*slot) : 0;
}
// The initialised barrier at shared offset `off` of CTA `rank`, with its table; or fail.
// From another CTA, a cluster barrier phase must have completed since its init (note 8).
AT_DEV struct at_tma_mbar *at_tma_bar_at(unsigned int rank, unsigned long off,
                                         const char *what, struct at_tma_block **owner)
{
  size_t bytes = 0;
  unsigned char *base = at_tma_cta_smem(rank, &bytes, what);
  if (!base)
    return 0;
  char msg[240];
  struct at_tma_block *b = at_tma_peer(rank);
  unsigned long long w = 0;
  if (off % 8 == 0 && off + 8 <= bytes)
    memcpy(&w, base + off, 8);
  unsigned int idx = (unsigned int)(w & 0xffffffffu);
  if (!b || off % 8 != 0 || (w >> 32) != AT_TMA_HOST_MBAR_TAG || idx >= b->nbars) {
    snprintf(msg, sizeof msg, "%s: the mbarrier at shared offset %lu of CTA %u of the "
             "cluster was not initialised (mbarrier.init)", what, off, rank);
    at_host_fail(msg);
    return 0;
  }
  struct at_tma_mbar *m = &b->bars[idx];
  if (rank != at_tma_block_get()->rank &&
      at_tma_cluster()->barrier_phases <= m->init_cluster_phase) {
    snprintf(msg, sizeof msg, "%s: the mbarrier at shared offset %lu of CTA %u is used "
             "from another CTA with no barrier.cluster completed since its mbarrier.init",
             what, off, rank);
    at_host_fail(msg);
    return 0;
  }
  *owner = b;
  return m;
}
AT_DEV void at_tma_phase_check(struct at_tma_block *b, struct at_tma_mbar *m)
{
  if (m->pending == 0 && m->tx == 0) {
    m->phases++;
    m->pending = m->expected;
  }
  b->epoch++;
}
AT_DEV void at_mbarrier_init(unsigned long long *bar, unsigned int count)
{
  unsigned long off;
  if (!at_tma_smem_off(bar, 8, "mbarrier.init", &off))
    return;
  struct at_tma_block *b = at_tma_block_get();
  if (count < 1 || count > (1u << 20) - 1) {
    at_host_fail("mbarrier.init: the count is 1 .. 2^20 - 1");
    return;
  }
  unsigned long long w = *bar;
  unsigned int idx = (unsigned int)(w & 0xffffffffu);
  if ((w >> 32) != AT_TMA_HOST_MBAR_TAG || idx >= b->nbars) {
    if (b->nbars == AT_TMA_HOST_BARRIERS) {
      at_host_fail("mbarrier.init: more than AT_TMA_HOST_BARRIERS barriers in one block");
      return;
    }
    idx = b->nbars++;
    b->bars[idx].copies = 0;
  }
  struct at_tma_mbar *m = &b->bars[idx];
  while (m->copies) {
    struct at_tma_copy *c = m->copies;
    m->copies = c->next;
    __builtin_free(c);
  }
  m->tail = &m->copies;
  m->tx = 0, m->expected = m->pending = count, m->phases = 0, m->fenced = 0;
  m->init_thread = at_host_self()->linear;
  m->init_cluster_phase = at_tma_cluster()->barrier_phases;
  *bar = ((unsigned long long)AT_TMA_HOST_MBAR_TAG << 32) | idx;
  b->epoch++;
}
// Fences after mbarrier.init (note 4): this thread's barriers become visible to the
// async proxy.
AT_DEV void at_tma_fence_inits(void)
{
  struct at_tma_block *b = at_tma_block_get();
  unsigned int me = at_host_self()->linear;
  for (unsigned int i = 0; i < b->nbars; i++)
    if (b->bars[i].init_thread == me)
      b->bars[i].fenced = 1;
}
AT_DEV void at_fence_mbarrier_init(void) { at_tma_fence_inits(); }
// Note 5: the async proxy's image of shared memory is taken here.
AT_DEV void at_tma_fence_proxy_async(void)
{
  at_tma_fence_inits();
  struct at_tma_block *b = at_tma_block_get();
  size_t bytes = 0;
  void *smem = at_host_rt_get()->dyn_shared(&bytes);
  if (b->view_cap < bytes) {
    void *p = __builtin_realloc(b->view, bytes);
    if (!p) {
      at_host_fail("fence.proxy.async: out of memory for the async proxy's image");
      return;
    }
    b->view = static_cast<unsigned char *>(p);
    b->view_cap = bytes;
  }
  if (bytes)
    memcpy(b->view, smem, bytes);
  b->view_bytes = bytes;
}
AT_DEV unsigned long long at_tma_arrive(struct at_tma_block *b, struct at_tma_mbar *m)
{
  unsigned long long state = m->phases;
  if (m->pending == 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "mbarrier.arrive: more arrivals than its count (%u) in phase "
             "%u (a producer that did not wait for the stage to be released?)", m->expected,
             m->phases);
    at_host_fail(msg);
    return 0;
  }
  m->pending--;
  at_tma_phase_check(b, m);
  return state;
}
AT_DEV unsigned long long at_mbarrier_arrive(unsigned long long *bar)
{
  struct at_tma_mbar *m = at_tma_bar(bar, "mbarrier.arrive");
  return m ? at_tma_arrive(at_tma_block_get(), m) : 0;
}
AT_DEV void at_mbarrier_expect_tx(unsigned long long *bar, unsigned int bytes)
{
  struct at_tma_mbar *m = at_tma_bar(bar, "mbarrier.expect_tx");
  if (!m)
    return;
  m->tx += bytes;
  at_tma_block_get()->epoch++;
}
AT_DEV unsigned long long at_mbarrier_arrive_expect_tx(unsigned long long *bar,
                                                       unsigned int bytes)
{
  at_mbarrier_expect_tx(bar, bytes);
  return at_mbarrier_arrive(bar);
}
// Note 2: perform the copies queued on m, each completing its bytes.
AT_DEV void at_tma_perform(struct at_tma_block *b, struct at_tma_mbar *m)
{
  size_t bytes = 0;
  void *smem = at_tma_cta_smem(b->rank, &bytes, "cp.async.bulk.tensor");
  if (!smem)
    return;
  while (m->copies) {
    struct at_tma_copy *c = m->copies;
    m->copies = c->next;
    if (!m->copies)
      m->tail = &m->copies;
    const char *why = at_emu_tma_load_2d(&c->map, smem, bytes, c->off, c->c0, c->c1);
    long long n = (long long)at_tma_box_bytes(&c->map);
    __builtin_free(c);
    if (why) {
      at_host_fail(why);
      return;
    }
    m->tx -= n;
    at_tma_phase_check(b, m);
  }
}
AT_DEV bool at_mbarrier_try_wait_parity(unsigned long long *bar, unsigned int parity)
{
  struct at_tma_mbar *m = at_tma_bar(bar, "mbarrier.try_wait.parity");
  if (!m)
    return false;
  if ((m->phases & 1u) != (parity & 1u))
    return true;
  at_tma_perform(at_tma_block_get(), m);
  return (m->phases & 1u) != (parity & 1u);
}
// The yield token: every CTA's epoch (note 8).
AT_DEV unsigned long long at_tma_token(void)
{
  unsigned long long token = 0;
  for (unsigned int r = 0; r < at_tma_cluster()->nctas; r++) {
    const struct at_tma_block *p = at_tma_peer(r);
    token += p ? p->epoch : 0;
  }
  return token;
}
AT_DEV void at_mbarrier_wait_parity(unsigned long long *bar, unsigned int parity)
{
  while (!at_mbarrier_try_wait_parity(bar, parity)) {
    struct at_tma_mbar *m = at_tma_bar(bar, "mbarrier.try_wait.parity");
    unsigned long off = 0;
    at_tma_smem_off(bar, 8, "mbarrier.try_wait.parity", &off);
    char why[AT_HOST_RT_WHY_MAX];
    snprintf(why, sizeof why, "mbarrier at shared offset %lu, parity %u: %u phases done, "
             "%u of %u arrivals pending, tx-count %lld", off, parity, m ? m->phases : 0,
             m ? m->pending : 0, m ? m->expected : 0, m ? m->tx : 0LL);
    const struct at_host_rt_ext *rt = at_tma_rt();
    if (!rt)
      return;
    rt->yield(at_tma_token(), why);
  }
  // Note 8: in a cluster, the peers run between a completed wait and what follows it (CTA
  // rank r for 1 + 3r rounds: the CTAs drift apart), so that a producer that refills a
  // stage its peer has not released does so while the peer still reads it.
  const struct at_host_rt_ext *rt = at_tma_rt();
  const struct at_host_cluster *cl = rt ? rt->cluster() : 0;
  for (unsigned int i = 0; cl && cl->nctas > 1 && i < 1 + 3 * cl->rank; i++) {
    at_tma_block_get()->epoch++;
    rt->yield(at_tma_token(), "after a completed mbarrier wait");
  }
}
// Queue the box of map at (c0, c1) for shared offset `off` of CTA `rank` on its barrier
// m (of table b), the destination poisoned until then (note 6).
AT_DEV void at_tma_queue(struct at_tma_block *b, struct at_tma_mbar *m, unsigned int rank,
                         unsigned long off, const struct at_tmap_host *h, int c0, int c1)
{
  if (!m->fenced) {
    at_host_fail("cp.async.bulk.tensor: its mbarrier was initialised without a "
                 "fence.mbarrier_init (or fence.proxy.async) after mbarrier.init");
    return;
  }
  size_t bytes = 0;
  unsigned char *smem = at_tma_cta_smem(rank, &bytes, "cp.async.bulk.tensor");
  if (!smem)
    return;
  unsigned long n = at_tma_box_bytes(h);
  if (off + n > bytes) {
    at_host_fail("cp.async.bulk.tensor: the box does not fit in dynamic shared memory");
    return;
  }
  struct at_tma_copy *c =
      static_cast<struct at_tma_copy *>(__builtin_malloc(sizeof(struct at_tma_copy)));
  if (!c) {
    at_host_fail("cp.async.bulk.tensor: out of memory");
    return;
  }
  memset(smem + off, 0xff, n);
  c->map = *h, c->off = off, c->c0 = c0, c->c1 = c1, c->next = 0;
  *m->tail = c;
  m->tail = &c->next;
  b->epoch++;
}
AT_DEV bool at_tma_host_map(const at_tensormap &map, struct at_tmap_host *h)
{
  memcpy(h, &map, sizeof *h);
  if (h->tag != AT_TMAP_HOST_TAG) {
    at_host_fail("cp.async.bulk.tensor: the tensor map was not encoded for the host device");
    return false;
  }
  return true;
}
AT_DEV void at_tma_load_2d(void *dst, const at_tensormap &map, int c0, int c1,
                           unsigned long long *bar)
{
  struct at_tma_mbar *m = at_tma_bar(bar, "cp.async.bulk.tensor (its mbarrier)");
  struct at_tmap_host h;
  unsigned long off;
  if (!m || !at_tma_host_map(map, &h) ||
      !at_tma_smem_off(dst, at_tma_box_bytes(&h), "cp.async.bulk.tensor destination", &off))
    return;
  struct at_tma_block *b = at_tma_block_get();
  at_tma_queue(b, m, b->rank, off, &h, c0, c1);
}
// Note 8: the box lands at dst's offset in every CTA of cta_mask, completing on each one's
// barrier at bar's offset.
AT_DEV void at_tma_load_2d_multicast(void *dst, const at_tensormap &map, int c0, int c1,
                                     unsigned long long *bar, unsigned short cta_mask)
{
  struct at_tmap_host h;
  unsigned long off, bar_off;
  if (!at_tma_host_map(map, &h) ||
      !at_tma_smem_off(dst, at_tma_box_bytes(&h), "cp.async.bulk.tensor destination", &off) ||
      !at_tma_smem_off(bar, 8, "cp.async.bulk.tensor (its mbarrier)", &bar_off))
    return;
  unsigned int nctas = at_tma_cluster()->nctas;
  if (cta_mask == 0 || (nctas < 16 && (cta_mask >> nctas) != 0)) {
    char msg[160];
    snprintf(msg, sizeof msg, "cp.async.bulk.tensor multicast: the CTA mask 0x%x names no "
             "CTA or a CTA outside the cluster of %u", (unsigned int)cta_mask, nctas);
    at_host_fail(msg);
    return;
  }
  for (unsigned int r = 0; r < nctas; r++) {
    if (!(cta_mask >> r & 1u))
      continue;
    struct at_tma_block *owner = 0;
    struct at_tma_mbar *m =
        at_tma_bar_at(r, bar_off, "cp.async.bulk.tensor multicast (its mbarrier)", &owner);
    if (!m)
      return;
    at_tma_queue(owner, m, r, off, &h, c0, c1);
  }
}
AT_DEV void at_tma_store_2d(const at_tensormap &map, const void *src, int c0, int c1)
{
  struct at_tmap_host h;
  memcpy(&h, &map, sizeof h);
  unsigned long off;
  if (h.tag != AT_TMAP_HOST_TAG) {
    at_host_fail("cp.async.bulk.tensor store: the tensor map was not encoded for the host "
                 "device");
    return;
  }
  if (!at_tma_smem_off(src, at_tma_box_bytes(&h), "cp.async.bulk.tensor store source", &off))
    return;
  struct at_tma_block *b = at_tma_block_get();
  if (b->view_bytes < off + at_tma_box_bytes(&h)) {
    at_host_fail("cp.async.bulk.tensor store: no fence.proxy.async (at_tma_fence_proxy_async) "
                 "since the block started: the async proxy sees none of the writes");
    return;
  }
  // The box's 128-byte rows (a swizzle permutes bytes inside them, and the box starts at
  // a multiple of its pattern: at offset 0 of the copy the pattern is the same).
  unsigned long len = (at_tma_box_bytes(&h) + 127ul) / 128ul * 128ul;
  if (len > b->view_bytes - off)
    len = b->view_bytes - off;
  struct at_tma_store *s =
      static_cast<struct at_tma_store *>(__builtin_malloc(sizeof(struct at_tma_store)));
  unsigned char *data = static_cast<unsigned char *>(__builtin_malloc(len));
  if (!s || !data) {
    __builtin_free(s);
    __builtin_free(data);
    at_host_fail("cp.async.bulk.tensor store: out of memory");
    return;
  }
  memcpy(data, b->view + off, len);
  s->data = data, s->map = h, s->len = len, s->thread = at_host_self()->linear;
  s->c0 = c0, s->c1 = c1, s->group = -1;
  s->next = b->stores;
  b->stores = s;
}
AT_DEV void at_tma_store_commit(void)
{
  struct at_tma_block *b = at_tma_block_get();
  unsigned int *g = at_tma_groups();
  if (!g)
    return;
  unsigned int me = at_host_self()->linear;
  for (struct at_tma_store *s = b->stores; s; s = s->next)
    if (s->thread == me && s->group < 0)
      s->group = (int)g[me];
  g[me]++;
}
AT_DEV void at_host_tma_store_wait(int keep)
{
  struct at_tma_block *b = at_tma_block_get();
  unsigned int *g = at_tma_groups();
  if (!g)
    return;
  unsigned int me = at_host_self()->linear;
  int upto = (int)g[me] - keep;
  // oldest first: the list is newest first, so collect, then perform in reverse
  for (;;) {
    struct at_tma_store **oldest = 0;
    for (struct at_tma_store **p = &b->stores; *p; p = &(*p)->next)
      if ((*p)->thread == me && (*p)->group >= 0 && (*p)->group < upto)
        oldest = p;
    if (!oldest)
      return;
    struct at_tma_store *s = *oldest;
    const char *why = at_emu_tma_store_2d(&s->map, s->data, s->len, 0, s->c0, s->c1);
    *oldest = s->next;
    __builtin_free(s->data);
    __builtin_free(s);
    if (why) {
      at_host_fail(why);
      return;
    }
  }
}
template <int N> AT_DEV void at_tma_store_wait(void)
{
  static_assert(N >= 0 && N <= 7, "cp.async.bulk.wait_group takes a small count");
  at_host_tma_store_wait(N);
}
AT_DEV void at_tma_prefetch_map(const at_tensormap &map) { (void)map; }
// Note 8: the emulator's cluster barrier and ids.
AT_DEV void at_cluster_arrive(void)
{
  const struct at_host_rt_ext *rt = at_tma_rt();
  if (rt)
    rt->cluster_arrive();
}
AT_DEV void at_cluster_wait(void)
{
  const struct at_host_rt_ext *rt = at_tma_rt();
  if (rt)
    rt->cluster_wait();
}
AT_DEV unsigned int at_cluster_ctarank(void)
{
  const struct at_host_cluster *c = at_tma_cluster();
  return c ? c->rank : 0;
}
AT_DEV unsigned int at_cluster_nctas(void)
{
  const struct at_host_cluster *c = at_tma_cluster();
  return c ? c->nctas : 1;
}
AT_DEV unsigned int at_cluster_ctaid_x(void) { return at_tma_cluster()->ctaid[0]; }
AT_DEV unsigned int at_cluster_ctaid_y(void) { return at_tma_cluster()->ctaid[1]; }
AT_DEV unsigned int at_cluster_nctaid_x(void) { return at_tma_cluster()->dim[0]; }
AT_DEV unsigned int at_cluster_nctaid_y(void) { return at_tma_cluster()->dim[1]; }
AT_DEV unsigned int at_clusterid_x(void) { return at_tma_cluster()->id[0]; }
AT_DEV unsigned int at_clusterid_y(void) { return at_tma_cluster()->id[1]; }
#define AT_TMA_HOST_RANK_SHIFT 26 // a shared::cluster address: rank << 26 | offset
AT_DEV unsigned int at_mapa_shared(const void *p, unsigned int cta)
{
  unsigned long off = 0;
  size_t bytes = 0;
  if (!at_tma_smem_off(p, 1, "mapa", &off) || !at_tma_cta_smem(cta, &bytes, "mapa"))
    return 0;
  return (cta << AT_TMA_HOST_RANK_SHIFT) | (unsigned int)off;
}
// mapa's generic form: p's offset in CTA cta's shared memory, as a pointer.
template <typename T> AT_DEV T *at_mapa(T *p, unsigned int cta)
{
  unsigned long off = 0;
  size_t bytes = 0;
  unsigned char *base = 0;
  if (!at_tma_smem_off(p, sizeof(T), "mapa", &off) ||
      !(base = at_tma_cta_smem(cta, &bytes, "mapa")))
    return 0;
  return reinterpret_cast<T *>(base + off);
}
AT_DEV void at_mbarrier_arrive_cluster(unsigned int remote)
{
  struct at_tma_block *owner = 0;
  struct at_tma_mbar *m =
      at_tma_bar_at(remote >> AT_TMA_HOST_RANK_SHIFT,
                    remote & ((1u << AT_TMA_HOST_RANK_SHIFT) - 1u),
                    "mbarrier.arrive.shared::cluster", &owner);
  if (m)
    at_tma_arrive(owner, m);
}
// Named barriers: arrivals counted per thread into the barrier's current instance (every
// arrival of an instance must name the same count); the instance completes at `count`
// and the next begins. bar.sync waits (yielding, as mbarrier waits do: a barrier that
// never fills is reported as a deadlock) until the instance it arrived in completed.
AT_DEV unsigned int at_host_named_arrive(int id, int count, const char *what)
{
  struct at_tma_block *b = at_tma_block_get();
  if (id < 1 || id > 15 || count < 32 || count % 32 != 0 ||
      (unsigned int)count > at_host_self()->bdim[0] * at_host_self()->bdim[1] *
                                at_host_self()->bdim[2]) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s %d, %d: the id is 1..15 (0 is __syncthreads') and the "
             "count a multiple of 32 up to the block's threads", what, id, count);
    at_host_fail(msg);
    return 0;
  }
  if (b->named[id].arrived == 0)
    b->named[id].count = (unsigned int)count;
  else if (b->named[id].count != (unsigned int)count) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s %d, %d: the barrier's other arrivals said %u threads", what,
             id, count, b->named[id].count);
    at_host_fail(msg);
    return 0;
  }
  const unsigned int gen = b->named[id].gen;
  if (++b->named[id].arrived == b->named[id].count) {
    b->named[id].arrived = 0;
    b->named[id].gen++;
  }
  b->epoch++;
  return gen;
}
AT_DEV void at_named_bar_arrive(int id, int count)
{
  (void)at_host_named_arrive(id, count, "bar.arrive");
}
AT_DEV void at_named_bar_sync(int id, int count)
{
  const unsigned int gen = at_host_named_arrive(id, count, "bar.sync");
  struct at_tma_block *b = at_tma_block_get();
  while (id >= 1 && id <= 15 && b->named[id].gen == gen) {
    char why[AT_HOST_RT_WHY_MAX];
    snprintf(why, sizeof why, "bar.sync %d, %d: %u of %d threads arrived", id, count,
             b->named[id].arrived, count);
    const struct at_host_rt_ext *rt = at_tma_rt();
    if (!rt)
      return;
    rt->yield(b->epoch, why);
  }
}
template <int N> AT_DEV void at_setmaxnreg_inc(void) {}
template <int N> AT_DEV void at_setmaxnreg_dec(void) {}
#endif
#endif

#endif
