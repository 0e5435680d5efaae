/*
 * host.h - the public host runtime: run a kernel compiled for the `host` device (plain
 * C++ with the host side of templates/common/at_common.h, as in a header written by
 * `autotune emit-header --device host`) on the CPU, through the SIMT emulator that
 * `autotune` itself measures host variants with.
 *
 * A host kernel asks "the GPU" for its thread ids, the block barrier, the warp
 * collective and dynamic shared memory through the runtime table of at_host_rt.h
 * (installed with the templates, in share/autotune/templates/common). A program binds
 * the kernel's code to the table once, at_host_bind(at_host_runtime()), and then runs a
 * grid with at_host_launch(); every GPU thread of a block is a fiber on one worker
 * thread, blocks are spread over worker threads. Usable from C and C++; statuses and
 * at_last_error() are those of autotune.h.
 */
#ifndef AUTOTUNE_HOST_H
#define AUTOTUNE_HOST_H

#include <stddef.h>

#include "autotune/autotune.h"

#ifdef __cplusplus
extern "C" {
#endif

struct at_host_rt;

/* The runtime table a host-compiled kernel binds to with at_host_bind() (at_common.h).
 * Static storage, valid for the life of the process; its functions may only be called
 * from inside an at_host_launch() entry (outside one they abort the process). */
AT_API const struct at_host_rt *at_host_runtime(void);

/* Run grid x block emulated GPU threads to completion: entry(ctx) is called once per
 * thread, each thread a fiber, so entry may call the table's barrier() and warp_gather()
 * and reads its ids from self(). warp_size is 32 or 64 (64 for a kernel compiled for
 * CDNA, AT_WAVE_SIZE=64); dyn_shared is the bytes of dynamic shared memory of each
 * block; workers is the number of worker threads, <= 0 for the machine's online CPUs
 * (never more than the blocks). The calling thread is one of the workers and the call
 * returns when every block has finished. Each fiber has a 64 KiB stack (256 KiB under
 * AddressSanitizer); AUTOTUNE_EMU_STACK_KB in the environment sets another size.
 * Returns AT_OK; AT_USAGE for a bad launch (NULL entry, grid or block, a zero
 * dimension, more than 1024 threads per block, a warp size other than 32 or 64, more
 * than 64 MiB of dynamic shared memory); AT_NOMEM; AT_DEVICE when the kernel failed
 * (a barrier some threads never reach, a warp collective with missing lanes, the
 * kernel's own fail()). On failure at_last_error() is one line, naming the block and
 * threads for AT_DEVICE; blocks not yet started are then not run. Thread-safe: several
 * launches may run at once. */
AT_API int at_host_launch(void (*entry)(void *ctx), void *ctx, const unsigned grid[3],
                          const unsigned block[3], size_t dyn_shared, unsigned warp_size,
                          int workers);

/* The same for a grid of thread block clusters of cluster[0] x cluster[1] x cluster[2]
 * CTAs (at most 16; the grid a multiple of it, else AT_USAGE): the CTAs of a cluster run
 * together, each on a worker thread of its own (at_host_rt_ext.h). cluster NULL or
 * 1 x 1 x 1 is at_host_launch. */
AT_API int at_host_launch_cluster(void (*entry)(void *ctx), void *ctx, const unsigned grid[3],
                                  const unsigned cluster[3], const unsigned block[3],
                                  size_t dyn_shared, unsigned warp_size, int workers);

#ifdef __cplusplus
}
#endif
#endif
