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
// On the host the same functions are emulated, clusters included: at_host_tma.h, whose head
// comment is the design note (the invariants the emulation keeps).
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
