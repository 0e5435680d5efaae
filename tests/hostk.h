/*
 * hostk.h - test helpers for kernels: skipping a test whose compile backend is missing,
 * reading a kernel file of tests/data/pl, and running one on the host device. It is
 * compiled by cc_host for an arch ("host", "host:gfx942", "host:sm_90", ...), loaded
 * into the SIMT emulator (meas_host, 2 workers); buffers are emulator allocations,
 * zeroed, freed by th_hostk_close unless released before. The test is skipped when
 * the host compiler is missing; every other failure is an assertion.
 */
#ifndef AT_TESTS_HOSTK_H
#define AT_TESTS_HOSTK_H

#include <stddef.h>

#include "tests/tspace.h"
#include "tuner/measure/meas.h"

struct cc_backend;

/* Skip the calling test, saying why, unless the backend can compile here. */
void th_need_cc(const struct cc_backend *b);
/* tests/data/pl/<file> of this source tree, NUL-terminated, malloc'd (asserts). */
char *th_read_pl(const char *file);

/* nvcc's PTX of tests/data/pl/<file> for arch holds each of want[0..n) (asserts; the
 * test is skipped where there is no nvcc). */
void th_assert_ptx_has(const char *file, const char *arch, const char *const *want, size_t n);

/* llvm-objdump's disassembly of an AMD code object piped through the shell command
 * `filter` (it reads the disassembly on its standard input): the filter's output,
 * malloc'd (asserts that both ran); NULL where there is no llvm-objdump. */
char *th_amd_disasm(const void *code, size_t size, const char *filter);

#define TH_HOSTK_MAX_BUFS 16

struct th_hostk {
  struct meas_ctx *ctx;
  meas_module mod;
  void *bufs[TH_HOSTK_MAX_BUFS];
  int nbufs;
};

/* Compile `path` (a .cu file; include_dirs NULL-terminated) for arch and load it. */
void th_hostk_load(struct th_hostk *k, const char *path, const char *arch,
                   const char *const *include_dirs);
/* Compile the configs cfgs[0..n) of sp's template (as dtype, for arch: "host",
 * "host:sm_90") into one unit and load it; OUT: kernels[i], config i's kernel. */
void th_hostk_load_variants(struct th_hostk *k, const struct th_space *sp, const char *dtype,
                            const int64_t *const *cfgs, size_t n, const char *arch,
                            meas_kernel *kernels);
/* A zeroed buffer of `bytes`, owned by k. */
void *th_hostk_buf(struct th_hostk *k, size_t bytes);
/* Free one buffer of k now. */
void th_hostk_release(struct th_hostk *k, void *p);
/* Launch `kernel` on a 1-D grid and wait: AT_OK or the launch's status (at_last_error()
 * says why). kinds: one letter per argument, as struct meas_launch's arg_kinds. */
int th_hostk_launch(struct th_hostk *k, const char *kernel, unsigned blocks, unsigned threads,
                    unsigned shared, const char *kinds, void **args);
/* The same on a grid of clusters (emu.c note 9): grid and cluster x, y, z. */
int th_hostk_launch_cluster(struct th_hostk *k, const char *kernel, const unsigned grid[3],
                            const unsigned cluster[3], unsigned threads, unsigned shared,
                            const char *kinds, void **args);
/* Free what is left, unload, close. */
void th_hostk_close(struct th_hostk *k);

#endif
