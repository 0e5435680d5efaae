/*
 * cubin.h - reading per-kernel resource usage out of a CUDA cubin (an NVIDIA ELF64
 * image) and out of the ptxas -v report that NVRTC and nvcc print beside it. The cubin
 * gives registers, static shared memory, stack frame and launch bounds; the report
 * gives spills, which the cubin does not record. Both CUDA compile backends use this.
 */
#ifndef AT_TUNER_COMPILE_CUBIN_H
#define AT_TUNER_COMPILE_CUBIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tuner/compile/compile.h"

/* One function of a ptxas -v report ("Compiling entry function 'k' for 'sm_90'",
 * "Function properties for k", "N bytes stack frame, N bytes spill stores, N bytes spill
 * loads", "Used N registers, ..., N bytes smem"). -1 where the report said nothing. */
struct cubin_report_fn {
  char name[96];
  char arch[16];           /* "sm_90"; "" for a function that is not an entry */
  int entry;               /* 1 for an entry function (a kernel) */
  int registers;
  int64_t stack_frame;
  int64_t spill_stores;
  int64_t spill_loads;
  int64_t smem;            /* static shared memory the report names (0 if not named) */
};

/* Parse every function of the ptxas -v report found in `log` (other lines are
 * ignored; NULL or a log without a report gives none). OUT: *fns (malloc'd, free with
 * free(); NULL when none), *nfns. AT_OK or AT_NOMEM. */
int cubin_parse_report(const char *log, struct cubin_report_fn **fns, size_t *nfns);

/* The kernels (entry functions) of a cubin with their resources: registers (the
 * EIATTR_REGCOUNT attribute), static shared bytes, stack frame (EIATTR_FRAME_SIZE),
 * max threads (EIATTR_MAX_THREADS, from __launch_bounds__), and from the ptxas report
 * in `log` (may be NULL) the spill stores; see cubin.c for where each comes from.
 * OUT: *kernels (malloc'd, free with free()), *nkernels. AT_OK; AT_PARSE when the image
 * is not a well-formed 64-bit little-endian ELF cubin (at_error says what is wrong);
 * AT_NOMEM. */
int cubin_resources(const unsigned char *code, size_t size, const char *log,
                    struct cc_kernel_res **kernels, size_t *nkernels);

/* True for a real CUDA architecture name that --gpu-architecture / -arch take and that
 * yields a cubin: "sm_90", "sm_90a", "sm_100f". */
bool cubin_arch_ok(const char *arch);

#endif
