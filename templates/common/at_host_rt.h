// at_host_rt.h - the contract between a variant compiled for the `host` device and the
// SIMT emulator that runs it (tuner/emu/emu.c). Plain C, included by at_common.h in host
// mode and by the emulator.
//
// A host variant is a shared object built from the variant's own source with the host
// side of at_common.h. The emulator dlopens it, calls at_host_bind() once with its
// runtime table, then runs each GPU thread of a block as a fiber on a worker thread.
// Everything a kernel asks of "the GPU" goes through this table:
//  - self(): the calling emulated thread's ids (valid while it runs);
//  - barrier(): the block barrier; every thread of the block must reach the same
//    barrier, else the launch fails with a report naming block and threads;
//  - warp_gather(): the warp collective: each lane of the calling warp contributes
//    `bytes` and receives every lane's contribution, lane order, in `all`
//    (warp_size * bytes). Shuffles and votes are built on it. All lanes of the warp must
//    call it (or warp_share, with the same bytes), else the launch fails;
//  - warp_share() (version 2): the same collective without the copy: returns the lanes'
//    contributions in lane order in the emulator's memory, read-only, valid until the
//    calling lane's next warp collective; *serial (when not NULL) a number that no other
//    completed gather of the process has, so a lane can tell whether what it computed
//    from an earlier share is still this one's. ldmatrix and the matrix-core emulations
//    are built on it;
//  - dyn_shared(): the block's dynamic shared memory (launch-time size);
//  - fail(): report a kernel-side error (bounds, bad argument) and abort the launch.
// Static __shared__ variables are `static thread_local` on the host: a worker thread runs
// one block at a time, so each block sees its own copy, as on a GPU.
#ifndef AT_HOST_RT_H
#define AT_HOST_RT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AT_HOST_RT_VERSION 2

struct at_host_thread {
  unsigned int tid[3];    // threadIdx
  unsigned int bid[3];    // blockIdx
  unsigned int bdim[3];   // blockDim
  unsigned int gdim[3];   // gridDim
  unsigned int linear;    // tid[0] + bdim[0] * (tid[1] + bdim[1] * tid[2])
  unsigned int lane;      // linear % warp_size
  unsigned int warp;      // linear / warp_size
  unsigned int warp_size; // 32, or 64 when emulating CDNA
  unsigned long long launch; // a number no other launch of this process has
};

struct at_host_rt {
  int version;            // AT_HOST_RT_VERSION
  const struct at_host_thread *(*self)(void);
  void (*barrier)(void);
  void (*warp_gather)(const void *mine, size_t bytes, void *all);
  void *(*dyn_shared)(size_t *bytes);
  void (*fail)(const char *message);
  const void *(*warp_share)(const void *mine, size_t bytes, unsigned long long *serial);
};

// Exported by every host variant shared object (defined in at_common.h's host part).
void at_host_bind(const struct at_host_rt *rt);

#ifdef __cplusplus
}
#endif
#endif
