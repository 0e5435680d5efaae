/*
 * par.h - splitting a loop over the CPUs: the host references of the ops (op_gemm.c,
 * op_attn.c), whose f64 work is minutes on one core at the sizes a GPU tunes.
 */
#ifndef AT_BASE_PAR_H
#define AT_BASE_PAR_H

#include <stdbool.h>
#include <stddef.h>

/* Most threads par_for starts. */
#define PAR_MAX_THREADS 64

/* Run fn(ctx, from, to) over [0, n) cut into contiguous parts, one per online CPU (at
 * most PAR_MAX_THREADS, at most n) when `big`, else as one part on the calling thread.
 * The calling thread runs the first part, and any part whose thread cannot start. Each
 * part must write only its own results, so they are the same for any cut. Returns
 * AT_OK, or the status of a part that failed. */
int par_for(size_t n, bool big, int (*fn)(void *ctx, size_t from, size_t to), void *ctx);

#endif
