/*
 * cmd_attention.c - `autotune attention --device D --batch B --heads H --seqlen S
 * --head-dim D ...`: the attention op (tuner/ops/attn_tune.h) run by the tuning engine
 * (tuner/engine/tune.h), the same engine and measurement protocol as `autotune gemm`.
 * Every variant is checked against the op's f64 reference and every outcome recorded
 * under op "attention" (dims b, h, sq, sk; layout "hd<D>" or "hd<D>_causal"), so
 * `autotune query attention` answers for a shape. Exit 0 when at least one variant
 * computed attention correctly (or nothing can be measured here), 1 when none did or the
 * run failed, 2 on bad input.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "tuner/cli/cli.h"
#include "tuner/cli/commands.h"
#include "tuner/cli/tune_cli.h"
#include "tuner/ops/attn_tune.h"

static const char usage[] =
    "autotune attention --device D --seqlen S --head-dim D [--batch B] [--heads H] "
    "[--kv-seqlen S2] [--causal] [--dtype f16|bf16|f32] [--template NAME|PATH ...] "
    "[--emulate D2] [--gpu N|--gpus LIST] [--shard I/N] [--bundle DIR] "
    "[--strategy S] [--budget N|--time-budget SEC] "
    "[--seed N] [--db FILE] [--resume] [--jobs N] [--timeout SEC] [--variant-time SEC] "
    "[--no-cache] [--sanitize] "
    "[--json]";
static const char description[] =
    "Tune attention's forward pass, O = softmax(Q K^T / sqrt(D)) V per batch and head\n"
    "(docs/attention.md), for one problem on a device: compile the variants the strategy\n"
    "will measure, check each against the op's f64 reference, time it by the protocol of\n"
    "docs/measure.md (the same as `autotune gemm`) and record every outcome in the tuning\n"
    "database (op attention; dims b, h, sq, sk; layout hd<D> or hd<D>_causal). Q and O are\n"
    "[B][H][S][D], K and V [B][H][S2][D] (S2 = --kv-seqlen, default S); --causal masks\n"
    "keys past each query (aligned to the bottom right when S2 != S). --device host runs\n"
    "the variants on the SIMT emulator; a GPU profile present here runs them on it.\n"
    "--budget: variants measured per template (host 24, GPUs all; -1 all). Templates:\n"
    "every templates/attention/*.h, or --template. Exit 0 when a variant passed, 1 when\n"
    "none did or the run failed, 2 on bad input.";

int cmd_attention(int argc, char **argv)
{
  struct tune_cli tc;
  tune_cli_init(&tc, SEARCH_RANDOM, false);
  const char *dtype = NULL;
  int64_t batch = 1, heads = 1, seqlen = 0, kv_seqlen = 0, head_dim = 0;
  bool causal = false;
  const struct cli_opt opts[] = {
      {"batch", CLI_INT, CLI_INT_IN(&batch, 1, INT_MAX), "B", "batch size (1)"},
      {"heads", CLI_INT, CLI_INT_IN(&heads, 1, INT_MAX), "H", "attention heads (1)"},
      {"seqlen", CLI_INT, CLI_INT_IN(&seqlen, 1, INT_MAX), "S", "query sequence length"},
      {"kv-seqlen", CLI_INT, CLI_INT_IN(&kv_seqlen, 1, INT_MAX),
         "S2", "key/value sequence length (default: S)"},
      {"head-dim", CLI_INT, CLI_INT_IN(&head_dim, 1, 256), "D", "head dimension, 1 to 256"},
      {"causal", CLI_FLAG, &causal, NULL, "mask keys after each query"},
      {"dtype", CLI_STR, &dtype, "T", "f16, bf16 or f32 (host: f32, GPUs: f16)"},
      {"template", CLI_STR, NULL, "NAME|PATH", "an attention template (repeatable)"},
      TUNE_CLI_OPTS(&tc),
      {NULL, 0, NULL, NULL, NULL},
  };
  struct op_engine op = {0};
  struct tune_summary sum;
  int code = tune_cli_parse(&tc, argc, argv, opts, usage, description);
  if (code != CLI_OK) {
    code = code < 0 ? CLI_OK : code;
    goto done;
  }
  code = CLI_USAGE;
  if (tc.npos) {
    cli_error("attention takes options only, not '%.60s'; try 'autotune attention --help'",
              tc.pos[0]);
    goto done;
  }
  if ((code = tune_cli_check(&tc)) != CLI_OK) /* first: --bundle gives the device */
    goto done;
  code = CLI_USAGE;
  if (!tc.o.device) {
    cli_error("attention needs --device (host, or a GPU profile such as h100)");
    goto done;
  }
  if (seqlen == 0 || head_dim == 0) {
    cli_error("attention needs --seqlen and --head-dim; try 'autotune attention --help'");
    goto done;
  }
  kv_seqlen = kv_seqlen ? kv_seqlen : seqlen;
  static const char *const names[] = {"--batch", "--heads", "--seqlen", "--kv-seqlen",
                                      "--head-dim"};
  const int64_t vals[] = {batch, heads, seqlen, kv_seqlen, head_dim};
  for (int i = 0; i < 5; i++)
    if (vals[i] < 1 || vals[i] > INT_MAX || (i == 4 && vals[i] > 256)) {
      cli_error("bad %s %" PRId64 " (expected an integer from 1 to %d)", names[i], vals[i],
                i == 4 ? 256 : INT_MAX);
      goto done;
    }
  if (dtype && strcmp(dtype, "f32") && strcmp(dtype, "f16") && strcmp(dtype, "bf16")) {
    cli_error("bad --dtype '%.20s' (expected f16, bf16 or f32)", dtype);
    goto done;
  }
  if (!dtype) /* as gemm: f32 where the device (or the one emulated) is the host */
    dtype = strcmp(tc.o.emulate ? tc.o.emulate : tc.o.device, "host") == 0 ? "f32" : "f16";
  enum gemm_dtype dt;
  gemm_parse_dtype(dtype, &dt);
  struct attn_problem p = {.dtype = dt, .batch = batch, .heads = heads, .hkv = heads,
                           .sq = seqlen, .sk = kv_seqlen, .d = head_dim, .causal = causal};
  if (attn_tune_op_init(&op, &p) != AT_OK) {
    code = cli_fail(AT_NOMEM);
    goto done;
  }
  code = tune_cli_run(&tc, &op, &sum);
  if (code == CLI_OK && sum.measured_here && sum.measured_ok == 0) {
    cli_error("no variant computed attention correctly here (see the trials' messages: "
              "autotune db export)");
    code = CLI_FAILED;
  }
done:
  attn_tune_op_release(&op);
  tune_cli_release(&tc);
  return code;
}
