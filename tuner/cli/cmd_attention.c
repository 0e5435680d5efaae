/*
 * cmd_attention.c - `autotune attention --device D --batch B --heads H --seqlen S
 * --head-dim D ...`: the attention op (tuner/ops/attn_tune.h) run by the tuning engine
 * (tuner/engine/tune.h), the same engine and measurement protocol as `autotune gemm`.
 * Every variant is checked against the op's f64 reference and every outcome recorded
 * under op "attention" (dims b, h, sq, sk and hkv for GQA; layout
 * "hd<D>[_causal][_decode][_paged][_lse]": attn_problem_key), so `autotune query
 * attention` answers for a shape. --kv-heads, --decode, --paged and --lse select the
 * contract v2's variants of the problem (docs/attention.md). Exit 0 when at least one variant
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
    "[--kv-heads HKV] [--kv-seqlen S2] [--causal] [--decode] [--paged] [--lse] "
    "[--dtype f16|bf16|f32] [--template NAME|PATH ...] "
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
    "database (op attention; dims b, h, sq, sk, and hkv when HKV != H; layout\n"
    "hd<D>[_causal][_decode][_paged][_lse]). Q and O are [B][H][S][D], K and V\n"
    "[B][HKV][S2][D] (S2 = --kv-seqlen, default S; HKV = --kv-heads, default H, a divisor of\n"
    "H: query head h reads KV head h / (H / HKV)); --causal masks keys past each query\n"
    "(aligned to the bottom right when S2 != S). --decode: a decode step, --seqlen new\n"
    "queries (default 1, at most 16) against a cache of --kv-seqlen keys (required),\n"
    "causal. --paged: K and V in page pools of 16 tokens through a block table (vLLM's\n"
    "layout; templates with a PAGED dim). --lse: the kernel also writes each row's\n"
    "log-sum-exp. --device host runs the variants on the SIMT emulator; a GPU profile\n"
    "present here runs them on it. --budget: variants measured per template (host 24,\n"
    "GPUs all; -1 all). Templates: every templates/attention/*.h that fits, or --template.\n"
    "Exit 0 when a variant passed, 1 when none did or the run failed, 2 on bad input.";

int cmd_attention(int argc, char **argv)
{
  struct tune_cli tc;
  tune_cli_init(&tc, SEARCH_RANDOM, true);
  const char *dtype = NULL;
  int64_t batch = 1, heads = 1, kv_heads = 0, seqlen = 0, kv_seqlen = 0, head_dim = 0;
  bool causal = false, decode = false, paged = false, lse = false;
  const struct cli_opt opts[] = {
      {"batch", CLI_INT, CLI_INT_IN(&batch, 1, INT_MAX), "B", "batch size (1)"},
      {"heads", CLI_INT, CLI_INT_IN(&heads, 1, INT_MAX), "H", "attention (query) heads (1)"},
      {"kv-heads", CLI_INT, CLI_INT_IN(&kv_heads, 1, INT_MAX), "HKV",
         "key/value heads, a divisor of H (default: H; 1: MQA)"},
      {"seqlen", CLI_INT, CLI_INT_IN(&seqlen, 1, INT_MAX), "S", "query sequence length"},
      {"kv-seqlen", CLI_INT, CLI_INT_IN(&kv_seqlen, 1, INT_MAX),
         "S2", "key/value sequence length (default: S)"},
      {"head-dim", CLI_INT, CLI_INT_IN(&head_dim, 1, 256), "D", "head dimension, 1 to 256"},
      {"causal", CLI_FLAG, &causal, NULL, "mask keys after each query"},
      {"decode", CLI_FLAG, &decode, NULL,
         "a decode step: --seqlen (default 1, at most 16) queries over --kv-seqlen keys, causal"},
      {"paged", CLI_FLAG, &paged, NULL, "K and V in 16-token pages through a block table"},
      {"lse", CLI_FLAG, &lse, NULL, "the kernel also writes each row's log-sum-exp"},
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
  if (decode) { /* a decode step: a few new queries (1 by default) over the cache */
    seqlen = seqlen ? seqlen : 1;
    if (!kv_seqlen) {
      cli_error("--decode needs --kv-seqlen (the keys in the cache); try 'autotune attention "
                "--help'");
      goto done;
    }
    if (seqlen > ATTN_DECODE_MAX_SQ) {
      cli_error("bad --seqlen %" PRId64 " with --decode (expected at most %d new queries; "
                "leave out --decode for a prefill)", seqlen, ATTN_DECODE_MAX_SQ);
      goto done;
    }
    causal = true;
  }
  if (seqlen == 0 || head_dim == 0) {
    cli_error("attention needs --seqlen and --head-dim; try 'autotune attention --help'");
    goto done;
  }
  kv_seqlen = kv_seqlen ? kv_seqlen : seqlen;
  kv_heads = kv_heads ? kv_heads : heads;
  static const char *const names[] = {"--batch", "--heads", "--seqlen", "--kv-seqlen",
                                      "--head-dim", "--kv-heads"};
  const int64_t vals[] = {batch, heads, seqlen, kv_seqlen, head_dim, kv_heads};
  for (int i = 0; i < 6; i++)
    if (vals[i] < 1 || vals[i] > INT_MAX || (i == 4 && vals[i] > ATTN_MAX_D)) {
      cli_error("bad %s %" PRId64 " (expected an integer from 1 to %d)", names[i], vals[i],
                i == 4 ? ATTN_MAX_D : INT_MAX);
      goto done;
    }
  if (kv_heads > heads || heads % kv_heads != 0) {
    cli_error("bad --kv-heads %" PRId64 " (expected a divisor of --heads %" PRId64 ")",
              kv_heads, heads);
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
  struct attn_problem p = {.dtype = dt, .batch = batch, .heads = heads, .hkv = kv_heads,
                           .sq = seqlen, .sk = kv_seqlen, .d = head_dim, .causal = causal,
                           .decode = decode, .paged = paged, .lse = lse};
  if (attn_problem_check(&p) != AT_OK) { /* the tensors' sizes: said before any work */
    code = cli_fail(AT_USAGE);
    goto done;
  }
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
