// at_host_rt_ext.h - the second part of the contract between a host variant and the SIMT
// emulator (tuner/emu/emu.c): what at_tma.h's host side (at_host_tma.h) needs beyond
// at_host_rt.h. Like every at_host_*.h it is the host device's alone, outside the
// templates' content hash (docs/templates.md, "Variant names").
// The emulator's table is a struct at_host_rt_ext whose first member is the struct
// at_host_rt that at_host_bind() receives, with base.version = AT_HOST_RT_EXT_VERSION;
// a kernel reads the extension only after checking that version.
//  - yield(token, why, ctx): the calling thread cannot go on until another thread of its
//    block changes something (it spins on an mbarrier phase). The emulator suspends it
//    and runs the others; `token` is the block's mbarrier epoch the caller saw (at_tma.h
//    bumps it on every mbarrier change). A pass over the block in which every thread
//    that ran only yielded again with the token it yielded with before is a deadlock:
//    the launch fails naming the spinning threads and the first one's description of
//    its wait (a wrong parity, a missing arrive or expect_tx, a wait on the wrong
//    barrier), never a hang. The description is written only then (version 4: a spin
//    used to format it every time round): why(buf, len, ctx) writes one line, with ctx
//    the caller's (its frame stays whole while it is suspended; `why` may read memory,
//    never call the runtime). why NULL: no description.
//  - clusters (version 3): the emulator runs the CTAs of one cluster together, each CTA's
//    threads as fibers on an OS thread of its own (so `static thread_local` state, static
//    __shared__ included, stays per CTA), one CTA's pass at a time, round robin; a round
//    in which no thread of any CTA of the cluster changes anything is a deadlock, so the
//    yield token of a cluster kernel covers every CTA's mbarriers. cluster() gives the
//    calling thread's cluster; cta_shared(rank) the dynamic shared memory of CTA `rank`
//    of that cluster (NULL once that CTA has exited, or for a rank past the cluster);
//    cluster_slot(rank) a pointer the kernel's runtime keeps for CTA `rank` for the
//    cluster's lifetime (at_tma.h publishes its per-CTA mbarrier table there; zeroed when
//    the cluster starts); cluster_arrive() / cluster_wait() are barrier.cluster's two
//    halves (every thread of every CTA arrives; a wait returns once all of them arrived
//    on the phase the caller arrived on; an arrive twice without a wait, or a wait
//    without an arrive, fails the launch). A launch without clusters is a cluster of one.
#ifndef AT_HOST_RT_EXT_H
#define AT_HOST_RT_EXT_H

#include "at_host_rt.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AT_HOST_RT_EXT_VERSION 5
#define AT_HOST_RT_WHY_MAX 160 // bytes of a wait's description in a report

#define AT_HOST_MAX_CLUSTER 16 // CTAs per cluster (the non-portable maximum on sm_90)

// The calling thread's cluster: PTX's %cluster_nctaid (dim), %cluster_ctaid (ctaid),
// %clusterid (id), %nclusterid (nclusters), %cluster_ctarank (rank, x fastest) and
// %cluster_nctarank (nctas); barrier_phases: the cluster barrier's completed phases when
// cluster() was called.
struct at_host_cluster {
  unsigned int dim[3], ctaid[3], id[3], nclusters[3];
  unsigned int rank, nctas, barrier_phases;
};

struct at_host_rt_ext {
  struct at_host_rt base; // base.version == AT_HOST_RT_EXT_VERSION
  void (*yield)(unsigned long long token, void (*why)(char *buf, size_t len, const void *ctx),
                const void *ctx);
  // version 3: clusters
  const struct at_host_cluster *(*cluster)(void);
  void *(*cta_shared)(unsigned int rank, size_t *bytes);
  void **(*cluster_slot)(unsigned int rank);
  void (*cluster_arrive)(void);
  void (*cluster_wait)(void);
};

#ifdef __cplusplus
}
#endif
#endif
