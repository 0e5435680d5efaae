/*
 * test_model.c - `autotune model` (tuner/model/model.h, tuner/cli/cmd_model.c): every
 * preset of models/ against the figures of its published config.json (written here
 * once more, by hand, from the model cards' config.json), the shapes derived from one
 * (Llama-3.1-8B, by the rules of docs/models.md), shares and the budget split, bad input,
 * and a tiny model (tests/data/models/tiny-config.json, an HF config.json) tuned end to
 * end on the host: header written, summary printed, --resume measuring nothing new.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "base/device.h"
#include "base/json.h"
#include "base/status.h"
#include "tests/helpers.h"
#include "tuner/model/model.h"

#define MODELS AT_SOURCE_DIR "/models"
#define TINY AT_SOURCE_DIR "/tests/data/models/tiny-config.json"

/* name, hidden, intermediate, layers, heads, kv heads, head dim, vocab (HF config.json) */
static const struct {
  const char *name;
  int64_t hidden, inter, layers, heads, kv, hd, vocab;
} published[] = {
    {"llama-3.1-8b", 4096, 14336, 32, 32, 8, 128, 128256},
    {"llama-3.1-70b", 8192, 28672, 80, 64, 8, 128, 128256},
    {"llama-3.2-1b", 2048, 8192, 16, 32, 8, 64, 128256},
    {"llama-3.2-3b", 3072, 8192, 28, 24, 8, 128, 128256},
    {"mistral-7b", 4096, 14336, 32, 32, 8, 128, 32768},
    {"qwen2.5-7b", 3584, 18944, 28, 28, 4, 128, 152064},
    {"qwen2.5-14b", 5120, 13824, 48, 40, 8, 128, 152064},
    {"qwen2.5-32b", 5120, 27648, 64, 40, 8, 128, 152064},
    {"gemma-2-9b", 3584, 14336, 42, 16, 8, 256, 256000},
};

static const struct model_problem *find_gemm(const struct model_plan *pl, const char *role,
                                             int64_t m)
{
  for (size_t i = 0; i < pl->n; i++)
    if (pl->p[i].kind == MODEL_GEMM && strstr(pl->p[i].role, role) && pl->p[i].m == m)
      return &pl->p[i];
  return NULL;
}

Test(model, every_preset_derives_its_published_shapes)
{
  const struct dev_profile *dev = dev_find("mi300x");
  cr_assert_not_null(dev);
  for (size_t i = 0; i < sizeof published / sizeof published[0]; i++) {
    struct model_cfg c;
    cr_assert_eq(model_cfg_load(published[i].name, MODELS, &c), AT_OK, "%s", at_last_error());
    cr_expect_str_eq(c.name, published[i].name);
    cr_expect(strstr(c.source, "https://huggingface.co/") == c.source, "%s: source %s",
              c.name, c.source);
    int64_t H = published[i].heads, KV = published[i].kv, D = published[i].hd;
    int64_t T = 16, tp = 2;
    struct model_opts o = {.batches = {T}, .nbatches = 1, .prefills = {128}, .nprefills = 1,
                           .kv_lens = {256}, .nkv = 1, .tp = tp, .dtype = "f16", .dev = dev};
    struct model_plan pl;
    cr_assert_eq(model_plan_make(&c, &o, &pl), AT_OK, "%s: %s", c.name, at_last_error());
    model_plan_finish(&pl, dev);
    const struct model_problem *q = find_gemm(&pl, "qkv", T), *op = find_gemm(&pl, "o_proj", T),
                               *gu = find_gemm(&pl, "gate_up", T), *dn = find_gemm(&pl, "down", T),
                               *lm = find_gemm(&pl, "lm_head", T);
    cr_assert(q && op && gu && dn && lm, "%s: a GEMM is missing", c.name);
    cr_expect_eq(q->n, (H + 2 * KV) * D / tp, "%s qkv n %lld", c.name, (long long)q->n);
    cr_expect_eq(q->k, published[i].hidden, "%s", c.name);
    cr_expect_eq(op->n, published[i].hidden, "%s", c.name);
    cr_expect_eq(op->k, H * D / tp, "%s", c.name);
    cr_expect_eq(gu->n, 2 * published[i].inter / tp, "%s", c.name);
    cr_expect_eq(dn->k, published[i].inter / tp, "%s", c.name);
    cr_expect_eq(lm->n, (published[i].vocab + tp - 1) / tp, "%s", c.name);
    cr_expect_str_eq(q->layout, "NT");
    bool decode = false, prefill = false;
    double sum = 0;
    for (size_t j = 0; j < pl.n; j++) {
      const struct model_problem *p = &pl.p[j];
      sum += p->share;
      if (j)
        cr_expect(p->share <= pl.p[j - 1].share, "%s: ordered by share", c.name);
      if (p->kind != MODEL_ATTN)
        continue;
      cr_expect_eq(p->attn.heads, H / tp);
      cr_expect_eq(p->attn.d, D);
      cr_expect_eq(p->attn.hkv, KV / tp, "%s: tuned with the model's own KV heads", c.name);
      decode |= p->attn.decode && p->attn.causal && p->attn.sq == 1 && p->attn.sk == 256 &&
                p->attn.batch == T;
      prefill |= !p->attn.decode && p->attn.causal && p->attn.sq == 128 && p->attn.sk == 128;
    }
    cr_expect(decode && prefill, "%s: attention problems", c.name);
    cr_expect(fabs(sum - 1.0) < 1e-9, "%s: shares sum to %g", c.name, sum);
    /* a layer's four GEMMs per decode step: calls = layers */
    cr_expect_eq(q->calls[0], (double)published[i].layers);
    cr_expect_eq(lm->calls[0], 1.0);
    model_plan_release(&pl);
  }
}

Test(model, dedup_budget_split_and_estimate)
{
  struct model_cfg c;
  cr_assert_eq(model_cfg_load(TINY, MODELS, &c), AT_OK, "%s", at_last_error());
  cr_expect_str_eq(c.name, "tiny-config");
  cr_expect_eq(c.head_dim, 16, "hidden / heads when the config has no head_dim");
  const struct dev_profile *dev = dev_find("mi300x");
  /* batch 1 twice over two KV lengths: the GEMMs are the same problem, counted twice */
  struct model_opts o = {.batches = {1}, .nbatches = 1, .nprefills = 0, .kv_lens = {16, 32},
                         .nkv = 2, .tp = 1, .dtype = "f16", .dev = dev};
  struct model_plan pl;
  cr_assert_eq(model_plan_make(&c, &o, &pl), AT_OK, "%s", at_last_error());
  model_plan_finish(&pl, dev);
  cr_expect_eq(pl.n, 5 + 2, "5 GEMMs once, 2 decode attentions");
  const struct model_problem *q = find_gemm(&pl, "qkv", 1);
  cr_assert_not_null(q);
  cr_expect_eq(q->calls[0] + q->calls[1], 2.0 * (double)c.layers);
  model_plan_split(&pl, 100.0);
  double total = 0;
  for (size_t i = 0; i < pl.n; i++) {
    total += pl.p[i].budget_s;
    cr_expect(pl.p[i].budget_s >= MODEL_MIN_BUDGET_S);
    cr_expect(pl.p[i].budget_s + 1e-9 >= 100.0 * pl.p[i].share);
  }
  cr_expect(total >= 100.0 - 1e-6 && total <= 100.0 + pl.n * MODEL_MIN_BUDGET_S);
  double us[MODEL_MAX_PROBLEMS];
  for (size_t i = 0; i < pl.n; i++)
    us[i] = 1.0;
  /* scenario 0 calls each layer GEMM and its attention `layers` times, lm_head once */
  cr_expect_eq(model_scenario_us(&pl, 0, us), 5.0 * (double)c.layers + 1.0);
  us[0] = NAN;
  cr_expect(isnan(model_scenario_us(&pl, 0, us)) || isnan(model_scenario_us(&pl, 1, us)));
  model_plan_release(&pl);
  o.tp = 3;
  cr_expect_eq(model_plan_make(&c, &o, &pl), AT_USAGE, "tp 3 does not shard 4 heads");
  cr_expect(strstr(at_last_error(), "--tp 3"), "%s", at_last_error());
}

/* Speculative decoding's verification step: Q tokens a sequence are batch x Q rows in
 * every GEMM (lm_head too: every position's logits) and SQ = Q in attention's decode
 * problem; the scenario says Q, and Q = 1 is the plain decode step. */
Test(model, step_tokens_are_rows_and_queries)
{
  struct model_cfg c;
  cr_assert_eq(model_cfg_load("llama-3.1-8b", MODELS, &c), AT_OK, "%s", at_last_error());
  const struct dev_profile *dev = dev_find("h200");
  for (int64_t q = 1; q <= 16; q *= 4) {
    struct model_opts o = {.batches = {16}, .nbatches = 1, .kv_lens = {4096}, .nkv = 1,
                           .tp = 1, .step_tokens = q, .dtype = "bf16", .dev = dev};
    struct model_plan pl;
    cr_assert_eq(model_plan_make(&c, &o, &pl), AT_OK, "%s", at_last_error());
    model_plan_finish(&pl, dev);
    cr_expect_eq(pl.nsc, 1);
    cr_expect_eq(pl.sc[0].queries, q);
    static const char *const roles[] = {"qkv", "o_proj", "gate_up", "down", "lm_head"};
    for (size_t r = 0; r < 5; r++)
      cr_expect_not_null(find_gemm(&pl, roles[r], 16 * q), "q %lld: %s m=%lld", (long long)q,
                         roles[r], (long long)(16 * q));
    size_t attn = 0;
    for (size_t j = 0; j < pl.n; j++)
      if (pl.p[j].kind == MODEL_ATTN) {
        attn++;
        cr_expect(pl.p[j].attn.decode && pl.p[j].attn.causal);
        cr_expect_eq(pl.p[j].attn.sq, q);
        cr_expect_eq(pl.p[j].attn.sk, 4096);
        cr_expect_eq(pl.p[j].attn.batch, 16);
      }
    cr_expect_eq(attn, 1);
    model_plan_release(&pl);
  }
  struct model_opts o = {.batches = {1}, .nbatches = 1, .kv_lens = {8}, .nkv = 1, .tp = 1,
                         .step_tokens = 17, .dtype = "f16", .dev = dev};
  struct model_plan pl;
  cr_expect_eq(model_plan_make(&c, &o, &pl), AT_USAGE, "17 tokens a step");
  o.step_tokens = 9;
  cr_expect_eq(model_plan_make(&c, &o, &pl), AT_USAGE, "9 tokens over a cache of 8");
  cr_expect(strstr(at_last_error(), "--kv-len 8"), "%s", at_last_error());
}

Test(model, bad_input_exits_2_and_creates_nothing)
{
  char *dir = th_tmpdir(), *db = th_path(dir, "t.db"), *bad = th_path(dir, "bad.json");
  const char nohidden[] = "{\"num_hidden_layers\": 2}";
  th_write(bad, nohidden, sizeof nohidden - 1);
  struct th_result r;
  const char *cases[] = {"model no-such-model --device host",
                         "model llama-3.1-8b --device host --tp 3",
                         "model llama-3.1-8b --device host --batch 0",
                         "model llama-3.1-8b --device host --step-tokens 17",
                         "model llama-3.1-8b --device host --step-tokens 8 --kv-len 4",
                         "model llama-3.1-8b --device nosuchgpu",
                         "model llama-3.1-8b --device host --out /nonexistent-dir/x.h"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    th_run(&r, "%s --db '%s'", cases[i], db);
    cr_expect_eq(r.code, 2, "%s: %d %s", cases[i], r.code, r.err);
    cr_expect(strncmp(r.err, "autotune: ", 10) == 0 &&
                  strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "%s: one line: %s",
              cases[i], r.err);
    th_result_free(&r);
  }
  th_run(&r, "model '%s' --device host --db '%s'", bad, db);
  cr_expect_eq(r.code, 2);
  cr_expect(strstr(r.err, "hidden_size"), "%s", r.err);
  th_result_free(&r);
  th_run(&r, "model llama-3.1-8b --device host --db '%s' --out '%s'", db, db);
  cr_expect_eq(r.code, 2, "--out naming the database: %s", r.err);
  th_result_free(&r);
  cr_expect_not(th_read(db, NULL), "no database on bad input");
  th_rmtree(dir);
  free(db), free(bad), free(dir);
}

Test(model, plan_json_with_a_captured_workload)
{
  char *dir = th_tmpdir(), *db = th_path(dir, "t.db");
  struct th_result r;
  th_run(&r, "model '%s' --device host --batch 1 --prefill none --kv-len 8 --plan --json "
         "--shapes '%s/tests/data/capture/tunableop_results0.csv' --db '%s'", TINY,
         AT_SOURCE_DIR, db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  struct json *j = NULL;
  char err[200];
  cr_assert_eq(json_parse(r.out, strlen(r.out), &j, err, sizeof err), AT_OK, "%s: %s", err,
               r.out);
  const struct json *probs = json_get(j, "problems"), *skipped = json_get(j, "skipped");
  cr_assert(probs && probs->type == JSON_ARRAY && skipped && skipped->type == JSON_ARRAY);
  cr_expect_eq(skipped->len, 5, "the validators, f64 and f8 lines");
  const struct json *nb = json_get(j, "captured_batched");
  cr_expect(nb && nb->type == JSON_NUMBER && nb->integer == 1, "the strided batch of 8");
  bool captured = false, qkv = false;
  for (size_t i = 0; i < probs->len; i++) {
    const char *t = json_get(&probs->items[i], "problem")->string;
    /* captured in f16 TN, kept so although the model's own dtype is f32 */
    captured |= strcmp(t, "captured m=64 n=4096 k=1024 f16 TN") == 0;
    qkv |= strcmp(t, "qkv m=1 n=128 k=64 f32 NT") == 0;
  }
  cr_expect(captured && qkv, "%s", r.out);
  cr_expect(strstr(r.err, "skipped: dtype 'double'"), "the skipped lines said: %s", r.err);
  json_free(j);
  th_result_free(&r);
  cr_expect_not(th_read(db, NULL), "--plan creates no database");
  th_rmtree(dir);
  free(db), free(dir);
}

Test(model, tiny_model_end_to_end_then_resume, .timeout = 120)
{
  char *dir = th_tmpdir(), *db = th_path(dir, "t.db"), *hdr = th_path(dir, "tiny.h");
  struct th_result r;
  th_run(&r, "model '%s' --device host --batch 1 --prefill 8 --kv-len 8 --budget 1 "
         "--db '%s' --out '%s'", TINY, db, hdr);
  cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
  cr_expect(strstr(r.out, "gate_up m=8 n=96 k=64 f32 NT"), "%s", r.out);
  cr_expect(strstr(r.out, "attn_decode b=1 h=4 hkv=2 sq=1 sk=8 d=16 f32"), "%s", r.out);
  cr_expect(strstr(r.out, "prefill 8 tokens:") && strstr(r.out, "tokens/s tuned"), "%s", r.out);
  cr_expect(strstr(r.out, "decode batch 1, KV 8:") && strstr(r.out, "ms per token tuned"),
            "%s", r.out);
  cr_expect(strstr(r.out, "wrote "), "%s", r.out);
  size_t len = 0;
  char *h = th_read(hdr, &len);
  cr_assert_not_null(h, "the header");
  cr_expect(strstr(h, "at_tuned_gemm_f32_nt_select") && strstr(h, "at_tuned_attention_f32_hd16"),
            "one header for the gemm and the attention winners (%zu bytes)", len);
  free(h);
  /* and it compiles as C: the two parts do not collide */
  struct th_result cc;
  th_sh(&cc, "printf '#include \"%s\"\\nint main(void) { return 0; }\\n' | "
        "cc -std=c11 -Wall -Werror -fsyntax-only -x c -", hdr);
  cr_expect_eq(cc.code, 0, "%s", cc.err);
  th_result_free(&cc);
  int64_t trials = th_count_trials(db);
  cr_expect_gt(trials, 0);
  th_result_free(&r);
  /* every run ended: --resume recalls them all and measures nothing */
  th_run(&r, "model '%s' --device host --batch 1 --prefill 8 --kv-len 8 --budget 1 "
         "--db '%s' --out '%s' --resume", TINY, db, hdr);
  cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
  cr_expect(strstr(r.out, "(recalled)"), "%s", r.out);
  cr_expect(strstr(r.err, "--resume: 11 of 11 problems recalled"), "%s", r.err);
  cr_expect_not(strstr(r.err, "nothing to resume"), "%s", r.err);
  cr_expect_eq(th_count_trials(db), trials, "a resumed finished model measures nothing");
  th_result_free(&r);
  th_rmtree(dir);
  free(db), free(hdr), free(dir);
}
