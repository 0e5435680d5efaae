/*
 * gemm_run.h - running one compiled GEMM variant for one problem on a measurement
 * backend (host emulator, CUDA, HIP) and checking it: the piece the correctness sweep,
 * the template tests and the tuner share. Device buffers are allocated per call unless
 * the caller keeps a gemm_buffers across calls of the same problem.
 */
#ifndef AT_TUNER_OPS_GEMM_RUN_H
#define AT_TUNER_OPS_GEMM_RUN_H

#include <stdint.h>

#include "generator/emit.h"
#include "tuner/measure/meas.h"
#include "tuner/measure/worker.h"
#include "tuner/ops/op_gemm.h"

/* ml for launching kernel k with launch shape l and the arguments args (kinds: the host
 * backend's letters), after checking the shape fits a launch: AT_USAGE naming `who`
 * otherwise. Shared by the ops' runners (gemm here, attn_run.c). */
int run_launch_init(struct meas_launch *ml, meas_kernel k, const struct gen_launch *l,
                    void **args, const char *kinds, const char *who);

struct gemm_buffers {
  meas_ptr a, b, c;
  size_t a_bytes, b_bytes, c_bytes;
};

/* Allocate device buffers for d's problem and upload A and B. OUT: *buf. */
int gemm_buffers_init(const struct meas_backend *mb, struct meas_ctx *ctx,
                      const struct gemm_data *d, struct gemm_buffers *buf);
void gemm_buffers_release(const struct meas_backend *mb, struct meas_ctx *ctx,
                          struct gemm_buffers *buf);

/* Reset C to d->c0, launch kernel `k` with launch shape `l` on d's problem once, and
 * download C into c_out (gemm_c_elems(&d->p) elements of the dtype's storage).
 * AT_OK, or the backend's status (AT_DEVICE for a fault, with at_last_error()). */
int gemm_launch(const struct meas_backend *mb, struct meas_ctx *ctx, meas_kernel k,
                const struct gen_launch *l, const struct gemm_data *d,
                const struct gemm_buffers *buf, void *c_out);

/* The contract's argument count (GEMM_ARG_KINDS). */
#define GEMM_NARGS 11

/* Storage for the tensor maps of one launch (128-byte aligned, as the driver wants). */
struct gemm_tmap_set {
  _Alignas(128) unsigned char maps[GEN_MAX_TMAPS][MEAS_TMAP_BYTES];
};

/* Build the tensor maps launch l names (l->tmaps: over "A", "B" or "C" of problem p,
 * whose device buffers are abc[0..2]) into set with mb, and append them to the
 * contract's arguments: args[GEMM_NARGS + i] = set->maps[i]; kinds (GEMM_NARGS +
 * GEN_MAX_TMAPS + 1 bytes) = GEMM_ARG_KINDS then one 'm' per map. AT_OK; AT_USAGE (an
 * operand that is not A, B or C, a map that breaks the encode rules, naming it);
 * AT_UNSUPPORTED (a backend without tensor maps); the backend's status. */
int gemm_tmaps(const struct meas_backend *mb, struct meas_ctx *ctx, const struct gen_launch *l,
               const struct gemm_problem *p, const meas_ptr *abc, struct gemm_tmap_set *set,
               void **args, char *kinds);

/* gemm_launch then gemm_check. OUT: *bad (elements wrong), msg (the first). */
int gemm_verify(const struct meas_backend *mb, struct meas_ctx *ctx, meas_kernel k,
                const struct gen_launch *l, const struct gemm_data *d,
                const struct gemm_buffers *buf, int64_t *bad, char *msg, size_t msg_len);

/* The gemm op's side of a measurement (worker.h); its ctx is a const struct
 * gemm_data *. */
extern const struct meas_op gemm_meas_op;

#endif
