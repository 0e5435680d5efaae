/*
 * test_attn_wgmma.c - the Hopper attention template (templates/attention/attn_wgmma.h:
 * TMA ring, wgmma, producer and consumer warpgroups, ping-pong) under the attention
 * contract v2: its space on h100 (every value of every param offered at head dims 64
 * and 128; at head dim 256 the 10 configs that fit; other head dims and paged KV refused
 * by their named constraints; nothing on a100, mi300x or the plain host profile); a
 * sample that takes every value of every param, and every head dim 256 config, compiled
 * for sm_90a by NVRTC with no compile error, no spill, no serialized wgmma (registers
 * logged); and the samples run on the host device emulating sm_90
 * (wgmma, TMA, mbarriers and setmaxnreg emulated, the variant's own source) through the
 * op (attn_data_init, the runner's tensor maps, attn_check) over odd lengths, SQ < SK
 * and SQ > SK (causal rows that see no key), causal and not, GQA 4:1 and 8:1 and MHA,
 * head dims 64, 128 and 256, f16 and bf16, LSE in every other run. AT_ATTN_WGMMA_FULL=1
 * runs every valid variant of every family over every problem instead (the full sweep).
 * And the tuned header (emit-header attention) of an attn_wgmma winner: its launcher
 * builds the Q, K, V maps, runs on the host and compiles for sm_90a with nvcc.
 * None of this ran on a GPU.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/device.h"
#include "base/status.h"
#include "db/db.h"
#include "generator/emit.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tests/fixture.h"
#include "tests/helpers.h"
#include "tests/hostk.h"
#include "tests/installed.h"
#include "tests/tspace.h"
#include "tuner/compile/build.h"
#include "tuner/compile/compile.h"
#include "tuner/measure/meas.h"
#include "tuner/ops/attn_run.h"
#include "tuner/ops/op_attn.h"

#define TIMEOUT 36000
#define TEMPLATE AT_SOURCE_DIR "/templates/attention/attn_wgmma.h"
#define COMMON AT_SOURCE_DIR "/templates/common"
#define NDIMS 8 /* B, H, HKV, SQ, SK, D, CAUSAL, PAGED */
#define MAX_VARIANTS 256

static const char *const incs[] = {COMMON, NULL};
static const char *const params[] = {"BN", "STAGES", "CWG", "PINGPONG", "REGS", "PREG",
                                     "OVERLAP"};
#define NPARAMS (sizeof params / sizeof params[0])

static void space_open(struct th_space *sp, const char *dev, int64_t sq, int64_t sk, int64_t d,
                       int causal, int paged)
{
  const int64_t dims[NDIMS] = {1, 8, 2, sq, sk, d, causal, paged};
  th_space_open(sp, TEMPLATE, dev, dims, NDIMS);
}

static size_t values_of(const struct th_space *sp, const char *name)
{
  int64_t seen[16];
  return th_space_values(sp, name, seen, 16);
}

/* The sample: every value of every param, the configuration FlashAttention-3 uses (two
 * consumers in ping-pong, 128-key tiles, REGS, P in registers, softmax overlapped with
 * P V) first. The last is offered at head dim 128 only (REGS at BN 64: regs_useful). */
static const char *const sample[] = {
    "BN=128,STAGES=2,CWG=2,PINGPONG=1,REGS=1,PREG=1,OVERLAP=1",
    "BN=64,STAGES=3,CWG=1,PINGPONG=0,REGS=0,PREG=0,OVERLAP=0",
    "BN=64,STAGES=4,CWG=2,PINGPONG=0,REGS=0,PREG=1,OVERLAP=0",
    "BN=128,STAGES=2,CWG=1,PINGPONG=0,REGS=0,PREG=0,OVERLAP=0",
    "BN=64,STAGES=3,CWG=2,PINGPONG=1,REGS=1,PREG=0,OVERLAP=0",
};
#define NSAMPLE (sizeof sample / sizeof sample[0])

/* Head dim 256 offers only BN 64 (a K+V stage is 64 KiB) and two consumers only with REGS
 * (O alone is 128 registers a thread): one consumer with P in shared memory, one with
 * three stages and overlap, two in ping-pong with everything FlashAttention-3 does, two
 * without ping-pong with P in shared memory. */
static const char *const sample256[] = {
    "BN=64,STAGES=2,CWG=2,PINGPONG=1,REGS=1,PREG=1,OVERLAP=1",
    "BN=64,STAGES=2,CWG=1,PINGPONG=0,REGS=0,PREG=0,OVERLAP=0",
    "BN=64,STAGES=3,CWG=1,PINGPONG=0,REGS=0,PREG=1,OVERLAP=1",
    "BN=64,STAGES=2,CWG=2,PINGPONG=0,REGS=1,PREG=0,OVERLAP=0",
};
#define NSAMPLE256 (sizeof sample256 / sizeof sample256[0])

/* The sample's configs that sp offers (the CWG 2 / 128-key ones need D <= 128 and the
 * registers REGS gives; head dim 256 takes sample256). OUT: which[]; returns how many. */
static size_t sample_of(const struct th_space *sp, size_t *which)
{
  const bool d256 = th_space_get(sp, 0, "HD") == 256;
  const char *const *picks = d256 ? sample256 : sample;
  size_t n = 0;
  for (size_t s = 0; s < (d256 ? NSAMPLE256 : NSAMPLE); s++) {
    long at = th_space_find(sp, picks[s]);
    if (at >= 0)
      which[n++] = (size_t)at;
  }
  return n;
}

Test(attn_wgmma, space_on_h100_and_absent_elsewhere, .timeout = TIMEOUT)
{
  for (int64_t d = 64; d <= 128; d += 64)
    for (int causal = 0; causal < 2; causal++) {
      struct th_space sp;
      space_open(&sp, "h100", 4096, 4096, d, causal, 0);
      cr_log_info("attn_wgmma h100 D=%lld causal=%d: %zu valid configs", (long long)d, causal,
                  sp.n);
      cr_assert_geq(sp.n, 16);
      static const size_t want[NPARAMS] = {2, 3, 2, 2, 2, 2, 2};
      for (size_t p = 0; p < NPARAMS; p++)
        cr_assert_eq(values_of(&sp, params[p]), want[p], "D=%lld: %s", (long long)d, params[p]);
      for (size_t i = 0; i < sp.n; i++) {
        cr_assert_eq(th_space_get(&sp, i, "HD"), d);
        cr_assert_eq(th_space_get(&sp, i, "BQ"), 64 * th_space_get(&sp, i, "CWG"));
        cr_assert(th_space_get(&sp, i, "PINGPONG") == 0 || th_space_get(&sp, i, "CWG") == 2);
      }
      size_t which[NSAMPLE];
      cr_assert_eq(sample_of(&sp, which), NSAMPLE - (d == 64), "D=%lld: the sample is not "
                   "all there", (long long)d);
      th_space_close(&sp);
    }
  static const char *const others[] = {"a100", "mi300x", "host"};
  for (size_t i = 0; i < 3; i++) {
    struct th_space sp;
    space_open(&sp, others[i], 4096, 4096, 128, 1, 0);
    cr_assert_eq(sp.n, 0, "%s offers %zu configs", others[i], sp.n);
    th_space_close(&sp);
  }
}

/* How many raw configs the named constraint removed from sp's space. */
static size_t removed_by(const struct th_space *sp, const char *req)
{
  struct gen_space_stats st;
  cr_assert_eq(gen_space_enumerate(sp->s, NULL, NULL, &st), AT_OK);
  size_t removed = 0;
  bool known = false;
  for (size_t i = 0; i < st.nreqs; i++)
    if (strcmp(st.reqs[i].name, req) == 0)
      removed = st.reqs[i].removed, known = true;
  cr_assert(known, "no constraint %s", req);
  gen_space_stats_release(&st);
  return removed;
}

/* Head dims other than 64, 128 and 256 and a paged KV cache are refused by their named
 * constraints (the template's note says why), not by some accident of the other limits. */
static void refused_by(int64_t d, int paged, const char *req)
{
  struct th_space sp;
  space_open(&sp, "h100", 4096, 4096, d, 0, paged);
  cr_assert_eq(sp.n, 0);
  cr_assert_gt(removed_by(&sp, req), 0, "D=%lld paged=%d was not refused by %s", (long long)d,
               paged, req);
  th_space_close(&sp);
}

Test(attn_wgmma, odd_head_dims_and_paged_are_refused_with_a_reason, .timeout = TIMEOUT)
{
  refused_by(96, 0, "head_dim");
  refused_by(192, 0, "head_dim");
  refused_by(256, 1, "not_paged");
}

/* Head dim 256 on h100: 10 configs (causal or not), all BN 64 (a 128-key K+V stage is
 * 128 KiB: smem), one consumer without REGS (256 threads, up to 255 registers) or two
 * with it (232: registers), three stages only for one consumer with P in registers
 * (smem), and no ping-pong with P in shared memory (it spills: regs_d256_pingpong). */
Test(attn_wgmma, head_dim_256_space_on_h100, .timeout = TIMEOUT)
{
  for (int causal = 0; causal < 2; causal++) {
    struct th_space sp;
    space_open(&sp, "h100", 4096, 4096, 256, causal, 0);
    cr_log_info("attn_wgmma h100 D=256 causal=%d: %zu valid configs", causal, sp.n);
    cr_assert_eq(sp.n, 10);
    static const size_t want[NPARAMS] = {1, 2, 2, 2, 2, 2, 2};
    for (size_t p = 0; p < NPARAMS; p++)
      cr_assert_eq(values_of(&sp, params[p]), want[p], "D=256: %s", params[p]);
    for (size_t i = 0; i < sp.n; i++) {
      const int64_t cwg = th_space_get(&sp, i, "CWG"), preg = th_space_get(&sp, i, "PREG");
      cr_assert_eq(th_space_get(&sp, i, "HD"), 256);
      cr_assert_eq(th_space_get(&sp, i, "BN"), 64);
      cr_assert_eq(th_space_get(&sp, i, "REGS"), cwg - 1);
      cr_assert(th_space_get(&sp, i, "STAGES") == 2 || (cwg == 1 && preg == 1));
      cr_assert(th_space_get(&sp, i, "PINGPONG") == 0 || preg == 1);
    }
    size_t which[NSAMPLE256];
    cr_assert_eq(sample_of(&sp, which), NSAMPLE256, "D=256: the sample is not all there");
    static const char *const reqs[] = {"smem", "registers", "regs_d256_pingpong"};
    for (size_t r = 0; r < 3; r++)
      cr_assert_gt(removed_by(&sp, reqs[r]), 0, "D=256: %s removed nothing", reqs[r]);
    th_space_close(&sp);
  }
}

/* ---- compiled for sm_90a ------------------------------------------------------------- */

Test(attn_wgmma, sample_compiles_for_sm90a_without_spills, .timeout = TIMEOUT)
{
  th_need_cc(&cc_nvrtc);
  size_t variants = 0;
  int max_regs = 0;
  for (int64_t d = 64; d <= 256; d *= 2) {
    /* head dim 256: every valid config (causal, the most registers), to show that exactly
     * those compile without spills */
    struct th_space sp;
    space_open(&sp, "h100", 4096, 4096, d, d >= 128, 0);
    size_t which[MAX_VARIANTS];
    const size_t n = d == 256 ? sp.n : sample_of(&sp, which);
    cr_assert_leq(n, MAX_VARIANTS);
    int64_t *cfg = malloc(n * sp.np * sizeof *cfg);
    cr_assert_not_null(cfg);
    for (size_t s = 0; s < n; s++)
      memcpy(cfg + s * sp.np, sp.cfg + (d == 256 ? s : which[s]) * sp.np, sp.np * sizeof *cfg);
    const char *dtype = d == 128 ? "bf16" : "f16";
    struct bld_options o = {.batch = 8, .backend = "nvrtc", .cache_dir = th_cache_dir(),
                            .include_dirs = incs};
    struct bld_result r;
    cr_assert_eq(bld_run(sp.t, sp.s, dev_find("h100"), sp.dims, dtype, cfg, n, &o, &r), AT_OK,
                 "%s", at_last_error());
    for (size_t i = 0; i < r.nvariants; i++) {
      const struct bld_variant *v = &r.variants[i];
      cr_assert_eq(v->verdict, BLD_OK, "D=%lld %s %s: %s\n%s", (long long)d, dtype,
                   v->config_text, v->reason ? v->reason : "", v->log ? v->log : "");
      cr_log_info("attn_wgmma sm_90a %s D=%lld %s: %d registers, %lld spill bytes", dtype,
                  (long long)d, v->config_text, v->res.registers, (long long)v->res.spill_bytes);
      cr_assert_eq(v->res.spill_bytes, 0, "%s: %lld spill bytes", v->config_text,
                   (long long)v->res.spill_bytes);
      if (v->res.registers > max_regs)
        max_regs = v->res.registers;
      variants++;
    }
    for (size_t b = 0; b < r.nbatches; b++) {
      const char *log = r.batches[b].log;
      cr_assert(log && strstr(log, "for 'sm_90a'"), "no ptxas report:\n%s", log ? log : "");
      cr_assert(!strstr(log, "serialized"), "ptxas serialized wgmma:\n%s", log);
      cr_assert(!strstr(log, "setmaxnreg"), "ptxas on setmaxnreg:\n%s", log);
    }
    bld_result_release(&r);
    free(cfg);
    th_space_close(&sp);
  }
  cr_log_info("attn_wgmma sm_90a sample: %zu variants, no spills, at most %d registers",
              variants, max_regs);
  cr_assert_eq(variants, 2 * NSAMPLE - 1 + 10);
}

/* ---- correctness on the host device emulating h100, through the op ------------------- */

struct problem {
  int b, h, hkv, sq, sk;
  float scale; /* 0: 1 / sqrt(D) */
};

/* Odd lengths with SQ < SK and SQ > SK (causal rows that see no key), GQA 4:1 and 8:1,
 * MHA across a two-consumer block and past one K/V tile. */
static const struct problem problems[] = {
    {1, 4, 1, 37, 53, 0.0f},   /* GQA 4:1, odd, SQ < SK */
    {2, 8, 1, 70, 33, 0.3f},   /* GQA 8:1, SQ > SK: causal rows with no key */
    {1, 2, 2, 129, 131, 0.0f}, /* MHA, odd, three query tiles of 64, many key tiles */
    {1, 4, 1, 7, 300, -0.2f},  /* few queries over many keys: the ring wraps; a negative
                                * scale (the row max of raw scores is then a min) */
};
#define NPROBLEMS (sizeof problems / sizeof problems[0])

/* Head dim 256 is slow to emulate (m64n256k16 per P V step): fewer, smaller problems, still
 * odd, SQ > SK (causal rows with no key), GQA and MHA, a two-consumer block past one
 * tile of queries, and keys past one ring of two stages. */
static const struct problem problems256[] = {
    {1, 4, 1, 37, 53, 0.0f},  /* GQA 4:1, odd, SQ < SK */
    {1, 2, 2, 70, 33, 0.3f},  /* MHA, SQ > SK: causal rows with no key */
    {1, 2, 1, 5, 200, -0.2f}, /* few queries over four tiles of keys: the ring wraps;
                               * a negative scale */
};
#define NPROBLEMS256 (sizeof problems256 / sizeof problems256[0])

struct tally {
  size_t runs, failures;
};

/* Configs which[0..n) of sp compiled as dtype for host:sm_90, each run on every problem
 * probs[0..nprobs) through the op's data, runner (tensor maps included) and check. */
static void run_host(const struct th_space *sp, const char *dtype, const size_t *which,
                     size_t n, const struct problem *probs, size_t nprobs, struct tally *t)
{
  const int64_t *ptrs[MAX_VARIANTS];
  meas_kernel kern[MAX_VARIANTS];
  cr_assert_leq(n, MAX_VARIANTS);
  for (size_t i = 0; i < n; i++)
    ptrs[i] = sp->cfg + which[i] * sp->np;
  struct th_hostk hk;
  th_hostk_load_variants(&hk, sp, dtype, ptrs, n, "host:sm_90", kern);
  const int64_t d = th_space_get(sp, which[0], "HD");
  const int causal = (int)th_space_get(sp, which[0], "IS_CAUSAL");
  enum gemm_dtype dt;
  cr_assert_eq(gemm_parse_dtype(dtype, &dt), AT_OK);
  for (size_t pi = 0; pi < nprobs; pi++) {
    const struct problem *p = &probs[pi];
    for (int lse_on = 0; lse_on < 2; lse_on++) {
      const struct attn_problem ap = {.dtype = dt, .batch = p->b, .heads = p->h,
                                      .hkv = p->hkv, .sq = p->sq, .sk = p->sk, .d = d,
                                      .causal = causal, .lse = lse_on, .scale = p->scale};
      struct attn_data ad;
      cr_assert_eq(attn_data_init(&ad, &ap, 500 + pi), AT_OK, "%s", at_last_error());
      struct attn_buffers ab;
      cr_assert_eq(attn_buffers_init(&meas_host, hk.ctx, &ad, &ab), AT_OK, "%s",
                   at_last_error());
      void *o = malloc(attn_q_elems(&ap) * gemm_dtype_size(dt));
      float *lse = malloc(attn_lse_elems(&ap) * sizeof *lse);
      cr_assert(o && lse);
      const int64_t dims[NDIMS] = {p->b, p->h, p->hkv, p->sq, p->sk, d, causal, 0};
      struct gen_bind bind = {.dev = sp->dev, .dims = dims, .dtype = dtype};
      for (size_t i = 0; i < n; i++) {
        if ((i + pi) % 2 != (size_t)lse_on) /* LSE in every other run */
          continue;
        struct gen_launch l;
        cr_assert_eq(gen_emit_launch(sp->t, &bind, ptrs[i], &l), AT_OK, "%s", at_last_error());
        char msg[256] = "";
        int64_t bad = 0;
        int rc = attn_launch(&meas_host, hk.ctx, kern[i], &l, &ad, &ab, o, lse);
        if (rc == AT_OK)
          cr_assert_eq(attn_check(&ad, o, lse, &bad, msg, sizeof msg), AT_OK, "%s",
                       at_last_error());
        t->runs++;
        if (rc != AT_OK || bad) {
          t->failures++;
          char *text = NULL;
          gen_space_config_text(sp->s, ptrs[i], &text);
          cr_log_error("%s D=%lld causal=%d B%d H%d HKV%d SQ%d SK%d lse=%d %s: %s", dtype,
                       (long long)d, causal, p->b, p->h, p->hkv, p->sq, p->sk, lse_on,
                       text ? text : "?", rc != AT_OK ? at_last_error() : msg);
          free(text);
        }
      }
      free(o);
      free(lse);
      attn_buffers_release(&meas_host, hk.ctx, &ab);
      attn_data_release(&ad);
    }
  }
  th_hostk_close(&hk);
}

static void host_sample(const char *dtype, int64_t d, int causal)
{
  th_need_cc(&cc_host);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  struct th_space sp;
  space_open(&sp, "h100", 4096, 4096, d, causal, 0);
  size_t which[NSAMPLE + NSAMPLE256];
  const size_t n = sample_of(&sp, which);
  cr_assert_eq(n, d == 256 ? NSAMPLE256 : NSAMPLE - (d == 64));
  struct tally t = {0};
  if (d == 256)
    run_host(&sp, dtype, which, n, problems256, NPROBLEMS256, &t);
  else
    run_host(&sp, dtype, which, n, problems, NPROBLEMS, &t);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  cr_log_info("attn_wgmma host:sm_90 %s D=%lld causal=%d: %zu runs (%zu configs), %zu "
              "failures, %.1f s", dtype, (long long)d, causal, t.runs, n, t.failures,
              (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
  cr_assert_eq(t.failures, 0, "%zu of %zu runs wrong (see the log)", t.failures, t.runs);
  th_space_close(&sp);
}

Test(attn_wgmma, host_f16_d128_causal, .timeout = TIMEOUT) { host_sample("f16", 128, 1); }
Test(attn_wgmma, host_bf16_d64, .timeout = TIMEOUT) { host_sample("bf16", 64, 0); }
Test(attn_wgmma, host_bf16_d256_causal, .timeout = TIMEOUT) { host_sample("bf16", 256, 1); }
Test(attn_wgmma, host_f16_d256, .timeout = TIMEOUT) { host_sample("f16", 256, 0); }

/* ---- the tuned header ------------------------------------------------------------------ */

/* A database holding one attn_wgmma trial (config `pick`, f16, head dim 64, causal) for
 * B1 H4 HKV1 SQ37 SK53 on host:h100. */
static char *planted_db(const char *dir, const char *pick)
{
  struct th_space sp;
  space_open(&sp, "h100", 4096, 4096, 64, 1, 0);
  long at = th_space_find(&sp, pick);
  cr_assert_geq(at, 0);
  char *config = NULL;
  cr_assert_eq(gen_space_config_text(sp.s, sp.cfg + (size_t)at * sp.np, &config), AT_OK);
  const struct attn_problem ap = {.dtype = GEMM_F16, .batch = 1, .heads = 4, .hkv = 1,
                                  .sq = 37, .sk = 53, .d = 64, .causal = 1};
  struct db_problem problem;
  char layout[64];
  attn_problem_key(&ap, &problem, layout, sizeof layout);
  char *path = fx_winner_db(dir, "attn.db", "host:h100", "host:sm_90", sp.t->kernel, sp.t->hash,
                            &problem, config);
  free(config);
  th_space_close(&sp);
  return path;
}

Test(attn_wgmma, tuned_header_launcher_builds_the_maps, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  char *dir = th_tmpdir(), *db = planted_db(dir, sample[0]);
  char *hdr = th_path(dir, "tuned_attention.h");
  struct th_result r;
  th_run(&r, "emit-header attention --device host:h100 --db '%s' --out '%s'", db, hdr);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  char *text = th_read(hdr, NULL);
  cr_assert_not_null(text);
  cr_assert_not_null(strstr(text, "at_tuned_tmap_(&tm_[1], K, sizeof *K, (long long)B * HKV * SK, "
                                  "64LL, 64LL, (64LL), (128LL), (128LL))"), "%s", text);
  cr_assert_not_null(strstr(text, "scale, tm_[0], tm_[1], tm_[2]);"), "%s", text);
  free(text);
  /* Q, K, V: integers in [-2, 2] / 4; the double reference with the bottom-right mask */
  static const char app[] =
      "#include <math.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
      "#include \"tuned_attention.h\"\n"
      "int main() {\n"
      "  const int B = 1, H = 4, HKV = 1, SQ = 37, SK = 53, D = 64;\n"
      "  at_half *Q = (at_half *)aligned_alloc(64, B * H * SQ * D * 2);\n"
      "  at_half *K = (at_half *)aligned_alloc(64, B * HKV * SK * D * 2);\n"
      "  at_half *V = (at_half *)aligned_alloc(64, B * HKV * SK * D * 2);\n"
      "  at_half *O = (at_half *)aligned_alloc(64, B * H * SQ * D * 2);\n"
      "  for (int i = 0; i < H * SQ * D; i++) Q[i] = at_from_float<at_half>((i % 5 - 2) / 4.f);\n"
      "  for (int i = 0; i < SK * D; i++) K[i] = at_from_float<at_half>((i % 7 % 5 - 2) / 4.f);\n"
      "  for (int i = 0; i < SK * D; i++) V[i] = at_from_float<at_half>((i % 3 - 1) / 4.f);\n"
      "  int rc = at_tuned_attention_f16_hd64_causal(Q, K, V, O, nullptr, nullptr, B, H, HKV,\n"
      "                                              SQ, SK, 0.f, nullptr);\n"
      "  if (rc) { printf(\"launch %d\\n\", rc); return 1; }\n"
      "  int bad = 0;\n"
      "  for (int h = 0; h < H; h++)\n"
      "    for (int i = 0; i < SQ; i++) {\n"
      "      const int n = i + SK - SQ + 1;\n"
      "      double w[64], mx = -1e300, sum = 0;\n"
      "      for (int j = 0; j < n; j++) {\n"
      "        double dot = 0;\n"
      "        for (int c = 0; c < D; c++)\n"
      "          dot += at_to_float(Q[(h * SQ + i) * D + c]) * at_to_float(K[j * D + c]);\n"
      "        w[j] = dot / 8.0;\n"
      "        mx = w[j] > mx ? w[j] : mx;\n"
      "      }\n"
      "      for (int j = 0; j < n; j++) sum += (w[j] = exp(w[j] - mx));\n"
      "      for (int c = 0; c < D; c++) {\n"
      "        double o = 0;\n"
      "        for (int j = 0; j < n; j++) o += w[j] * at_to_float(V[j * D + c]);\n"
      "        bad += fabs(at_to_float(O[(h * SQ + i) * D + c]) - o / sum) > 2e-3;\n"
      "      }\n"
      "    }\n"
      "  printf(\"%d wrong\\n\", bad);\n"
      "  free(Q), free(K), free(V), free(O);\n"
      "  return bad != 0;\n"
      "}\n";
  inst_run_header_app(dir, app);
  static const char gpu_app[] =
      "#include \"tuned_attention.h\"\n"
      "int run(at_half *p, cudaStream_t s) {\n"
      "  return at_tuned_attention_f16_hd64_causal(p, p, p, p, nullptr, nullptr, 1, 4, 1, 37, "
      "53, 0.f, s);\n}\n";
  char *ptx = inst_header_ptx_sm90a(dir, gpu_app);
  if (ptx) {
    cr_assert_not_null(strstr(ptx, "cp.async.bulk.tensor.2d.shared::cluster.global"));
    cr_assert_not_null(strstr(ptx, "wgmma.mma_async"));
    free(ptx);
  }
  free(hdr), free(db);
  th_rmtree(dir);
  free(dir);
}

/* The full sweep: every valid variant of the twelve families (f16/bf16 x D 64/128/256 x
 * causal and not) over every problem (head dim 256: those of D 64/128 and its own). Only
 * with AT_ATTN_WGMMA_FULL=1; AT_ATTN_WGMMA_FAMILIES (comma-separated numbers: 0..7 head
 * dim 64/128 with bit 0 bf16, bit 1 head dim 128, bit 2 causal; 8..11 head dim 256 with
 * bit 0 bf16, bit 1 causal) runs some. */
Test(attn_wgmma, full_sweep, .timeout = TIMEOUT)
{
  const char *full = getenv("AT_ATTN_WGMMA_FULL");
  if (!full || strcmp(full, "1") != 0)
    cr_skip_test("set AT_ATTN_WGMMA_FULL=1 to run every variant");
  th_need_cc(&cc_host);
  struct tally all = {0};
  size_t variants = 0;
  const char *list = getenv("AT_ATTN_WGMMA_FAMILIES");
  struct problem all_probs[NPROBLEMS + NPROBLEMS256];
  memcpy(all_probs, problems, sizeof problems);
  memcpy(all_probs + NPROBLEMS, problems256, sizeof problems256);
  for (int fam = 0; fam < 12; fam++) {
    if (list && *list) {
      bool in = false;
      for (const char *c = list; *c;) {
        char *end = NULL;
        in |= strtol(c, &end, 10) == fam && end != c;
        c = end != c && *end == ',' ? end + 1 : end != c ? end : c + 1;
      }
      if (!in)
        continue;
    }
    const char *dtype = fam & 1 ? "bf16" : "f16";
    const int64_t d = fam >= 8 ? 256 : fam & 2 ? 128 : 64;
    const int causal = fam >= 8 ? fam >> 1 & 1 : fam >> 2 & 1;
    struct th_space sp;
    space_open(&sp, "h100", 4096, 4096, d, causal, 0);
    size_t which[MAX_VARIANTS];
    cr_assert_leq(sp.n, MAX_VARIANTS);
    for (size_t i = 0; i < sp.n; i++)
      which[i] = i;
    struct tally t = {0};
    run_host(&sp, dtype, which, sp.n, all_probs, d == 256 ? NPROBLEMS + NPROBLEMS256 : NPROBLEMS,
             &t);
    printf("attn_wgmma full family %d, %s D=%lld causal=%d: %zu variants, %zu runs, %zu "
           "failures\n", fam, dtype, (long long)d, causal, sp.n, t.runs, t.failures);
    fflush(stdout);
    variants += sp.n;
    all.runs += t.runs;
    all.failures += t.failures;
    th_space_close(&sp);
  }
  printf("attn_wgmma full: %zu variants, %zu runs, %zu failures\n", variants, all.runs,
         all.failures);
  cr_assert_eq(all.failures, 0, "%zu of %zu runs wrong (see the log)", all.failures, all.runs);
}
