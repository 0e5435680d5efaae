/*
 * emu.h - the SIMT emulator that runs `host` variants: a grid of blocks spread over
 * worker threads, each block's GPU threads as fibers on one worker, the block barrier and
 * the warp collective (warp_gather) by switching fibers, per-block dynamic shared memory,
 * and errors instead of hangs (barrier divergence, a warp collective with missing lanes,
 * a kernel's own fail()). It implements the runtime table of
 * templates/common/at_host_rt.h, which a variant's shared object receives through its
 * at_host_bind(). Also here: emu_call, which calls a variant's extern "C" kernel with
 * arguments given as cuLaunchKernel gives them (x86-64 SysV only; the ABI note is in
 * emu.c). The design note on the scheduler's invariants is at the top of emu.c.
 */
#ifndef AT_TUNER_EMU_EMU_H
#define AT_TUNER_EMU_EMU_H

#include <stddef.h>
#include <stdint.h>

#include "templates/common/at_host_rt.h"

#define EMU_MAX_THREADS 1024   /* threads per block */
#define EMU_MAX_WORKERS 256
#define EMU_MAX_DYN_SHARED (64u << 20)

struct emu_launch {
  unsigned grid[3], block[3];
  unsigned cluster[3];         /* CTAs per cluster in x, y, z (0: 1); the grid a multiple
                                  (emu.c, note 9) */
  size_t dyn_shared;           /* dynamic shared memory bytes per block */
  unsigned warp_size;          /* 32 or 64 */
  int workers;                 /* worker threads; <= 0: 1 (never more than blocks) */
  size_t stack_size;           /* usable stack per fiber; 0: EMU_STACK_DEFAULT */
  void (*entry)(void *ctx);    /* run by every emulated thread; may return */
  void *ctx;
};

/* The runtime table a variant's at_host_bind() receives (static storage). */
const struct at_host_rt *emu_runtime(void);

/* Run the grid to completion. The calling thread is one of the workers. With a cluster
 * shape, the CTAs of each cluster run together, one worker each (emu.c, note 9), and the
 * failure reported is that of the lowest cluster. Returns AT_OK;
 * AT_USAGE for a bad launch (zero or too large dimensions, more than EMU_MAX_THREADS
 * threads per block, a warp size other than 32 or 64, no entry, a grid that is not a
 * multiple of the cluster or a cluster of more than 16 CTAs), with at_error saying
 * which; AT_NOMEM; AT_DEVICE when the kernel failed: barrier divergence, a warp_gather
 * some lanes never reach or with lanes that disagree on its size, or the kernel's own
 * fail(). Then at_last_error() is one line naming the block and the threads (or warp and
 * lanes) of the failing block with the lowest linear index, which does not depend on the
 * number of workers. Blocks not yet started when a block fails are not run. Results are
 * deterministic for a given launch whatever the number of workers, as long as blocks do
 * not race on memory. Thread-safe: several launches may run at once. */
int emu_launch(const struct emu_launch *l);

/* Free the fibers and buffers that finished launches keep for the next one. Only while
 * no launch runs. */
void emu_release_cache(void);

/* ---- Calling a variant's kernel: `extern "C" void NAME(<params>)`. ---- */

#define EMU_CALL_MAX_ARGS 30   /* 6 in integer registers, 8 in SSE registers, 16 stack */

/* A call with its argument words packed once per launch. */
struct emu_call {
  void *fn;
  uint64_t gpr[6];             /* integer-class arguments in order: rdi rsi rdx rcx r8 r9 */
  double fpr[8];               /* float-class arguments in order: xmm0..xmm7 */
  uint64_t stack[16];          /* the rest, in parameter order */
  int nstack;
};

/* Pack a call of `fn` whose parameters have the classes `kinds`, one letter each:
 * 'p' pointer, 'i' int, 'u' unsigned, 'l' long/int64, 'f' float, 'd' double, 'm' a
 * tensor map (templates/common/at_tma.h: the 128-byte at_tensormap, which the host
 * kernel takes as `const at_tensormap &`, so its address is passed); args[i] points to
 * argument i's value (as cuLaunchKernel takes them). OUT: *c (cleared on
 * entry). Returns AT_OK; AT_USAGE (an unknown letter, more than the registers and 16
 * stack words hold, NULL fn or args), AT_UNSUPPORTED on a machine other than x86-64
 * SysV. */
int emu_call_pack(struct emu_call *c, void *fn, const char *kinds, void *const *args);
/* Make the packed call: `ctx` is a struct emu_call *, so that this is an emu_launch
 * entry. */
void emu_call_run(void *ctx);

#endif
