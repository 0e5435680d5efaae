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

/* The workspace of variants whose template declares `#pragma autotune workspace`
 * (docs/templates.md): one device buffer, as large as the largest any variant launched
 * through it asked for, all zero when allocated; each kernel must leave it all zero, so
 * nothing clears it between launches. Zero-initialise; ptr stays 0 until a variant asks
 * for bytes (a variant asking for none gets a null pointer). */
struct run_workspace {
  meas_ptr ptr;
  size_t bytes;
};

/* Make ws hold at least l->workspace bytes, all zero: a larger buffer replaces the old one
 * (uploaded zeros). Nothing for a launch without a workspace. AT_OK; AT_NOMEM; the
 * backend's status. */
int run_workspace_reserve(const struct meas_backend *mb, struct meas_ctx *ctx,
                          struct run_workspace *ws, const struct gen_launch *l);

/* After a verify launch of l: download the whole workspace and, when a byte is not zero,
 * count one more wrong element in *bad, say "workspace not left zero (first non-zero byte
 * at N)" in msg (unless an earlier failure already fills it) and zero the buffer again so
 * the next variant starts clean. Nothing for a launch without a workspace. AT_OK; AT_NOMEM;
 * the backend's status. */
int run_workspace_check(const struct meas_backend *mb, struct meas_ctx *ctx,
                        const struct run_workspace *ws, const struct gen_launch *l,
                        int64_t *bad, char *msg, size_t msg_len);
void run_workspace_release(const struct meas_backend *mb, struct meas_ctx *ctx,
                           struct run_workspace *ws);

struct gemm_buffers {
  meas_ptr a, b, c;
  size_t a_bytes, b_bytes, c_bytes;
  struct run_workspace ws;     /* grown by gemm_launch for variants with a workspace */
};

/* Allocate device buffers for d's problem and upload A and B. OUT: *buf. */
int gemm_buffers_init(const struct meas_backend *mb, struct meas_ctx *ctx,
                      const struct gemm_data *d, struct gemm_buffers *buf);
void gemm_buffers_release(const struct meas_backend *mb, struct meas_ctx *ctx,
                          struct gemm_buffers *buf);

/* Reset C to d->c0, launch kernel `k` with launch shape `l` on d's problem once, and
 * download C into c_out (gemm_c_elems(&d->p) elements of the dtype's storage). A variant
 * with a workspace (l->has_workspace) gets buf->ws, grown to l->workspace, as its last
 * argument. AT_OK, or the backend's status (AT_DEVICE for a fault, with at_last_error()). */
int gemm_launch(const struct meas_backend *mb, struct meas_ctx *ctx, meas_kernel k,
                const struct gen_launch *l, const struct gemm_data *d,
                struct gemm_buffers *buf, void *c_out);

/* The contract's argument count (GEMM_ARG_KINDS). */
#define GEMM_NARGS 11

/* Storage for the tensor maps of one launch (128-byte aligned, as the driver wants). */
struct gemm_tmap_set {
  _Alignas(128) unsigned char maps[GEN_MAX_TMAPS][MEAS_TMAP_BYTES];
};

/* The view of a kernel's pointer parameter `name` as a matrix for a tensor map: fills
 * t->base, rows, cols and ld (elements); AT_USAGE naming the parameter when the op has no
 * view of it. ctx is the op's. */
typedef int (*run_tmap_view)(const void *ctx, const char *name, struct meas_tmap *t);

/* The arguments after an op's contract (base_kinds, its host-backend letters, one per
 * argument already in args[0..n)): the workspace (ws) for a launch with has_workspace,
 * then the tensor maps launch l names, each over view's matrix of its parameter, built
 * into set with mb; kinds = base_kinds, 'p', one 'm' per map (n + 1 + GEN_MAX_TMAPS + 1
 * bytes). The piece gemm_tmaps and the attention runner share. AT_OK; AT_USAGE (a
 * parameter with no view, a map that breaks the encode rules, naming it); AT_UNSUPPORTED
 * (a backend without tensor maps); the backend's status. */
int run_tmaps(const struct meas_backend *mb, struct meas_ctx *ctx, const struct gen_launch *l,
              unsigned elem_bytes, run_tmap_view view, const void *view_ctx,
              const char *base_kinds, meas_ptr *ws, struct gemm_tmap_set *set, void **args,
              char *kinds);

/* The launch's arguments after the contract's: the workspace (ws, a pointer to the device
 * pointer) for a launch with has_workspace, then the tensor maps launch l names (l->tmaps:
 * over "A", "B" or "C" of problem p, whose device buffers are abc[0..2]) built into set
 * with mb: args[GEMM_NARGS + w + i] = set->maps[i] (w 1 with a workspace, else 0); kinds
 * (GEMM_NARGS + 1 + GEN_MAX_TMAPS + 1 bytes) = GEMM_ARG_KINDS, 'p' for the workspace, then
 * one 'm' per map. AT_OK; AT_USAGE (an
 * operand that is not A, B or C, a map that breaks the encode rules, naming it);
 * AT_UNSUPPORTED (a backend without tensor maps); the backend's status. */
int gemm_tmaps(const struct meas_backend *mb, struct meas_ctx *ctx, const struct gen_launch *l,
               const struct gemm_problem *p, const meas_ptr *abc, meas_ptr *ws,
               struct gemm_tmap_set *set, void **args, char *kinds);

/* gemm_launch then gemm_check, and run_workspace_check for a variant with a workspace.
 * OUT: *bad (elements wrong), msg (the first). */

int gemm_verify(const struct meas_backend *mb, struct meas_ctx *ctx, meas_kernel k,
                const struct gen_launch *l, const struct gemm_data *d,
                struct gemm_buffers *buf, int64_t *bad, char *msg, size_t msg_len);

/* The gemm op's side of a measurement (worker.h); its ctx is a const struct
 * gemm_data *. */
extern const struct meas_op gemm_meas_op;

#endif
