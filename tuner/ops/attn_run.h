/*
 * attn_run.h - running one compiled attention variant for one problem on a measurement
 * backend (host emulator, CUDA, HIP) and checking it, as gemm_run.h does for GEMM.
 */
#ifndef AT_TUNER_OPS_ATTN_RUN_H
#define AT_TUNER_OPS_ATTN_RUN_H

#include <stdint.h>

#include "generator/emit.h"
#include "tuner/measure/meas.h"
#include "tuner/measure/worker.h"
#include "tuner/ops/gemm_run.h"
#include "tuner/ops/op_attn.h"

/* The contract's argument count (ATTN_ARG_KINDS). */
#define ATTN_NARGS 12

struct attn_buffers {
  meas_ptr q, k, v, o;
  meas_ptr lse;                /* with p.lse; else 0 (the kernel gets NULL) */
  meas_ptr bt;                 /* paged: the block table; else 0 (NULL) */
  size_t q_bytes, kv_bytes, lse_bytes, bt_bytes;
  struct run_workspace ws;     /* grown by attn_launch for variants with a workspace */
};

/* Allocate device buffers for d's problem and upload Q, K, V and the block table.
 * OUT: *buf. */
int attn_buffers_init(const struct meas_backend *mb, struct meas_ctx *ctx,
                      const struct attn_data *d, struct attn_buffers *buf);
void attn_buffers_release(const struct meas_backend *mb, struct meas_ctx *ctx,
                          struct attn_buffers *buf);

/* Reset O to d->o0 (NaN) and LSE to NaN, launch kernel `k` with launch shape `l` once
 * with the contract's arguments (Q, K, V, O, LSE, BT, B, H, HKV, SQ, SK, scale, and
 * buf->ws, grown to l->workspace, for a variant with a workspace, then the tensor maps l
 * names: Q and O as B H SQ rows of D columns, K and V as B HKV SK rows, or the pools'
 * rows when paged), and download O into
 * o_out (attn_q_elems elements of the dtype's storage) and, with p.lse, LSE into lse_out
 * (attn_lse_elems floats; ignored, may be NULL, without). AT_OK, or the backend's status. */
int attn_launch(const struct meas_backend *mb, struct meas_ctx *ctx, meas_kernel k,
                const struct gen_launch *l, const struct attn_data *d,
                struct attn_buffers *buf, void *o_out, float *lse_out);

/* attn_launch then attn_check, and run_workspace_check for a variant with a workspace.
 * OUT: *bad (elements wrong), msg (the first). */
int attn_verify(const struct meas_backend *mb, struct meas_ctx *ctx, meas_kernel k,
                const struct gen_launch *l, const struct attn_data *d,
                struct attn_buffers *buf, int64_t *bad, char *msg, size_t msg_len);

/* The attention op's side of a measurement (worker.h); its ctx is a const struct
 * attn_data *. */
extern const struct meas_op attn_meas_op;

#endif
