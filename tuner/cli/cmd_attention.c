/*
 * cmd_attention.c - `autotune attention --device D --batch B --heads H --seqlen S
 * --head-dim D ...`: tune the attention op's forward pass (tuner/ops/op_attn.h) with an
 * attention template (default templates/attention/attn_simt.h). It checks the options,
 * names the problem to the template (its dims B, H, SQ, SK, D, CAUSAL and the contract's
 * buffers), and runs the template tuner of `autotune tune` with the op's data and f64
 * reference (tune_any_run in cmd_tune.c): every variant is checked against the op itself and
 * every outcome recorded under op "attention" (dims b, h, sq, sk, d; layout "full" or
 * "causal"), so `autotune query attention` answers for a shape. Exit 0 when at least one
 * variant computed attention correctly, 1 when none did or the run failed, 2 on bad input.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/cli/cli.h"
#include "tuner/cli/commands.h"
#include "tuner/ops/op_attn.h"
#include "base/status.h"
#include "tuner/engine/template_dirs.h"

static const char usage[] =
    "autotune attention --device D --seqlen S --head-dim D [--batch B] [--heads H] "
    "[--kv-seqlen S2] [--causal] [--dtype f16|bf16|f32] [--template NAME|PATH] "
    "[--strategy S] [--budget N] [--seed N] [--reps N] [--timeout SEC] [--db FILE] "
    "[--resume] [--jobs N] [--json]";
static const char description[] =
    "Tune attention's forward pass, O = softmax(Q K^T / sqrt(D)) V per batch and head\n"
    "(docs/attention.md), for one problem on a device: compile the template's valid\n"
    "variants, run those the strategy picks, check each against the op's f64 reference,\n"
    "time it and record every outcome in the tuning database (op attention; dims b, h,\n"
    "sq, sk, d; layout full or causal). Q and O are [B][H][S][D], K and V [B][H][S2][D]\n"
    "(S2 = --kv-seqlen, default S); --causal masks keys past each query (aligned to the\n"
    "bottom right when S2 != S). --device host runs the variants on the SIMT emulator;\n"
    "a GPU profile present here runs them on it. --budget: variants run besides the\n"
    "template's middle config (host 24, GPUs all; -1 all). The template defaults to\n"
    "attn_simt (templates/attention/). Exit 0 when a variant passed, 1 when none did or\n"
    "the run failed, 2 on bad input.";

int cmd_attention(int argc, char **argv)
{
  const char *device = NULL, *dtype = NULL, *tmpl = "attn_simt", *strategy = NULL,
             *dbpath = NULL;
  int64_t batch = 1, heads = 1, seqlen = 0, kv_seqlen = 0, head_dim = 0, budget = 0, seed = 1,
          reps = 0, timeout = 60, jobs = 0;
  bool causal = false, resume = false, json = false;
  const struct cli_opt opts[] = {
      {"device", CLI_STR, &device, "D", "host, or a GPU profile present here (h100, ...)"},
      {"batch", CLI_INT, &batch, "B", "batch size (1)"},
      {"heads", CLI_INT, &heads, "H", "attention heads (1)"},
      {"seqlen", CLI_INT, &seqlen, "S", "query sequence length"},
      {"kv-seqlen", CLI_INT, &kv_seqlen, "S2", "key/value sequence length (default: S)"},
      {"head-dim", CLI_INT, &head_dim, "D", "head dimension, 1 to 256"},
      {"causal", CLI_FLAG, &causal, NULL, "mask keys after each query"},
      {"dtype", CLI_STR, &dtype, "T", "f16, bf16 or f32 (host: f32, GPUs: f16)"},
      {"template", CLI_STR, &tmpl, "NAME|PATH", "an attention template (attn_simt)"},
      {"strategy", CLI_STR, &strategy, "S", "random (default), exhaustive, anneal or genetic"},
      {"budget", CLI_INT, &budget, "N", "variants run besides the middle config"},
      {"seed", CLI_INT, &seed, "N", "seed of the random strategies (1)"},
      {"reps", CLI_INT, &reps, "N", "timed launches per variant (host 3, GPU 20)"},
      {"timeout", CLI_INT, &timeout, "SEC", "seconds one variant may take (60)"},
      {"db", CLI_STR, &dbpath, "FILE", "tuning database (default: see README)"},
      {"resume", CLI_FLAG, &resume, NULL, "finish the unfinished run with these arguments"},
      {"jobs", CLI_INT, &jobs, "N", "compile threads and emulator workers (the CPUs)"},
      {"json", CLI_FLAG, &json, NULL, "print one JSON object"},
      {NULL, 0, NULL, NULL, NULL},
  };
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  int npos = 0, code = CLI_USAGE;
  if (!pos)
    return CLI_FAILED;
  int rc = cli_parse(argc, argv, opts, usage, description, pos, &npos);
  if (rc != CLI_OK) {
    code = rc < 0 ? CLI_OK : rc;
    goto done;
  }
  if (npos) {
    cli_error("attention takes options only, not '%.60s'; try 'autotune attention --help'",
              pos[0]);
    goto done;
  }
  if (!device) {
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
  if (!dtype)
    dtype = strcmp(device, "host") == 0 ? "f32" : "f16";
  enum gemm_dtype dt;
  gemm_parse_dtype(dtype, &dt);
  struct attn_problem p = {.dtype = dt, .batch = batch, .heads = heads, .sq = seqlen,
                           .sk = kv_seqlen, .d = head_dim, .causal = causal};
  if ((rc = attn_problem_check(&p)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  /* The template: a path as given, else templates/attention/NAME.h. */
  char path[PATH_MAX], searched[PATH_MAX] = "";
  if (strchr(tmpl, '/') || strstr(tmpl, ".h"))
    snprintf(path, sizeof path, "%s", tmpl);
  else if (!template_find("attention", tmpl, path, NULL, searched)) {
    cli_error("unknown attention template '%.60s' (no %.60s.h under %.200s/attention)", tmpl,
              tmpl, searched);
    goto done;
  }

  /* The tuner's own command line. */
  char dims[6][48], nums[6][32];
  snprintf(dims[0], sizeof dims[0], "B=%" PRId64, batch);
  snprintf(dims[1], sizeof dims[1], "H=%" PRId64, heads);
  snprintf(dims[2], sizeof dims[2], "SQ=%" PRId64, seqlen);
  snprintf(dims[3], sizeof dims[3], "SK=%" PRId64, kv_seqlen);
  snprintf(dims[4], sizeof dims[4], "D=%" PRId64, head_dim);
  snprintf(dims[5], sizeof dims[5], "CAUSAL=%d", causal ? 1 : 0);
  snprintf(nums[0], sizeof nums[0], "%" PRId64, budget);
  snprintf(nums[1], sizeof nums[1], "%" PRId64, seed);
  snprintf(nums[2], sizeof nums[2], "%" PRId64, timeout);
  snprintf(nums[3], sizeof nums[3], "%" PRId64, reps);
  snprintf(nums[4], sizeof nums[4], "%" PRId64, jobs);
  const char *targv[64];
  int n = 0;
  targv[n++] = "attention";
  targv[n++] = path;
  targv[n++] = "--device", targv[n++] = device;
  for (int i = 0; i < 6; i++)
    targv[n++] = "--dim", targv[n++] = dims[i];
  static const char *const bufs[] = {"Q=B*H*SQ*D", "K=B*H*SK*D", "V=B*H*SK*D", "O=B*H*SQ*D",
                                     "scale=0"};
  for (int i = 0; i < 5; i++)
    targv[n++] = "--arg", targv[n++] = bufs[i];
  targv[n++] = "--dtype", targv[n++] = dtype;
  if (strategy)
    targv[n++] = "--strategy", targv[n++] = strategy;
  if (budget)
    targv[n++] = "--budget", targv[n++] = nums[0];
  targv[n++] = "--seed", targv[n++] = nums[1];
  targv[n++] = "--timeout", targv[n++] = nums[2];
  if (reps)
    targv[n++] = "--reps", targv[n++] = nums[3];
  if (jobs)
    targv[n++] = "--jobs", targv[n++] = nums[4];
  if (dbpath)
    targv[n++] = "--db", targv[n++] = dbpath;
  if (resume)
    targv[n++] = "--resume";
  if (json)
    targv[n++] = "--json";
  targv[n] = NULL;
  code = tune_any_run(n, (char **)targv, &p);
done:
  free(pos);
  return code;
}
