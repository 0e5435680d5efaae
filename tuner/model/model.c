/*
 * model.c - a model's configuration, its problems, their shares and the estimate
 * (model.h). The rules (docs/models.md): per layer, with T tokens in flight (the decode
 * batch, or the prefill length) and tensor-parallel degree P,
 *   qkv     m=T n=(H + 2 KV) D / P  k=hidden
 *   o_proj  m=T n=hidden            k=H D / P
 *   gate_up m=T n=2 I / P           k=hidden
 *   down    m=T n=hidden            k=I / P
 * and once per step lm_head m=T (prefill: 1, the last position) n=ceil(vocab / P)
 * k=hidden; attention per layer: decode b=batch h=H/P sq=1 sk=KV length, prefill b=1
 * h=H/P sq=sk=T causal. A decode step of Q tokens a sequence (speculative decoding's
 * verification, --step-tokens) has T = batch Q tokens in every GEMM, lm_head included
 * (every position's logits are checked), and attention sq=Q. Weights are stored [out][in] (PyTorch's nn.Linear), so B is
 * transposed: layout NT. A problem's share is calls x roofline time over the sum for
 * every scenario, each scenario one step.
 */
#include "tuner/model/model.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/json.h"
#include "base/os.h"
#include "base/status.h"

/* Where a profile has no peak (the host): a nominal roofline, so that shares still
 * weigh FLOPs against bytes. */
#define MODEL_HOST_TFLOPS 1.0
#define MODEL_HOST_GBS 100.0
/* The largest figure a config may give (every derived dim must fit the gemm op's). */
#define MODEL_MAX_FIGURE ((int64_t)INT32_MAX)

/* ---- configuration ---- */

static int get_int(const struct json *root, const char *key, const char *what, bool required,
                   int64_t *out)
{
  const struct json *v = json_get(root, key);
  if (!v || v->type == JSON_NULL) {
    if (required)
      return at_error(AT_USAGE, "model config '%.200s': no \"%s\" (expected a positive "
                      "integer)", what, key);
    return AT_OK;
  }
  if (v->type != JSON_NUMBER || !v->is_int || v->integer < 1 || v->integer > MODEL_MAX_FIGURE)
    return at_error(AT_USAGE, "model config '%.200s': \"%s\" is not an integer from 1 to %d",
                    what, key, INT32_MAX);
  *out = v->integer;
  return AT_OK;
}

static void get_str(const struct json *root, const char *key, char *out, size_t len)
{
  const struct json *v = json_get(root, key);
  if (v && v->type == JSON_STRING)
    snprintf(out, len, "%s", v->string);
}

int model_cfg_parse(const char *text, size_t len, const char *what, struct model_cfg *out)
{
  memset(out, 0, sizeof *out);
  struct json *root = NULL;
  char err[200];
  int rc = json_parse(text, len, &root, err, sizeof err);
  if (rc == AT_PARSE)
    return at_error(AT_USAGE, "model config '%.200s' is not JSON: %s", what, err);
  if (rc != AT_OK)
    return rc;
  if (root->type != JSON_OBJECT) {
    rc = at_error(AT_USAGE, "model config '%.200s': expected a JSON object", what);
    goto done;
  }
  get_str(root, "name", out->name, sizeof out->name);
  get_str(root, "source", out->source, sizeof out->source);
  get_str(root, "model_type", out->model_type, sizeof out->model_type);
  if ((rc = get_int(root, "hidden_size", what, true, &out->hidden)) ||
      (rc = get_int(root, "intermediate_size", what, true, &out->intermediate)) ||
      (rc = get_int(root, "num_hidden_layers", what, true, &out->layers)) ||
      (rc = get_int(root, "num_attention_heads", what, true, &out->heads)) ||
      (rc = get_int(root, "vocab_size", what, true, &out->vocab)) ||
      (rc = get_int(root, "num_key_value_heads", what, false, &out->kv_heads)) ||
      (rc = get_int(root, "head_dim", what, false, &out->head_dim)))
    goto done;
  if (!out->kv_heads)
    out->kv_heads = out->heads;
  if (!out->head_dim) {
    if (out->hidden % out->heads) {
      rc = at_error(AT_USAGE, "model config '%.200s': hidden_size %lld is not a multiple of "
                    "num_attention_heads %lld (give head_dim)", what,
                    (long long)out->hidden, (long long)out->heads);
      goto done;
    }
    out->head_dim = out->hidden / out->heads;
  }
  if (out->heads % out->kv_heads) {
    rc = at_error(AT_USAGE, "model config '%.200s': num_attention_heads %lld is not a "
                  "multiple of num_key_value_heads %lld", what, (long long)out->heads,
                  (long long)out->kv_heads);
    goto done;
  }
  if (out->head_dim > 256) {
    rc = at_error(AT_USAGE, "model config '%.200s': head_dim %lld (the attention op takes "
                  "1 to 256)", what, (long long)out->head_dim);
    goto done;
  }
  if (!out->name[0]) { /* a config.json: its folder's name (Qwen2.5-7B/config.json), else
                          the file's without .json */
    const char *b = strrchr(what, '/');
    const char *base = b ? b + 1 : what;
    if (strcmp(base, "config.json") == 0 && b && b > what) {
      const char *p = b;
      while (p > what && p[-1] != '/')
        p--;
      snprintf(out->name, sizeof out->name, "%.*s", (int)(b - p), p);
    } else {
      snprintf(out->name, sizeof out->name, "%s", base);
      char *dot = strstr(out->name, ".json");
      if (dot)
        *dot = '\0';
    }
  }
done:
  json_free(root);
  return rc;
}

const char *model_presets_dir(char *out, size_t len)
{
  const char *env = getenv("AUTOTUNE_MODELS");
  if (env && *env) {
    snprintf(out, len, "%s", env);
    return out;
  }
  char cand[PATH_MAX];
  if (os_installed_share("models", cand)) {
    snprintf(out, len, "%s", cand);
    return out;
  }
  snprintf(out, len, "%s", AT_MODELS_DIR);
  return out;
}

int model_cfg_load(const char *name_or_path, const char *models_dir, struct model_cfg *out)
{
  char path[PATH_MAX];
  size_t nl = strlen(name_or_path);
  bool is_path = strchr(name_or_path, '/') || (nl > 5 && !strcmp(name_or_path + nl - 5, ".json"));
  if (is_path) {
    snprintf(path, sizeof path, "%s", name_or_path);
  } else {
    for (const char *c = name_or_path; *c; c++)
      if (!(*c >= 'a' && *c <= 'z') && !(*c >= '0' && *c <= '9') && *c != '-' && *c != '.' &&
          *c != '_')
        return at_error(AT_USAGE, "unknown model '%.60s' (a preset name is lowercase: "
                        "llama-3.1-8b; or give a config.json path)", name_or_path);
    if (snprintf(path, sizeof path, "%s/%s.json", models_dir, name_or_path) >= (int)sizeof path)
      return at_error(AT_USAGE, "model name '%.60s' too long", name_or_path);
    if (!at_is_file(path))
      return at_error(AT_USAGE, "unknown model '%.60s' (no %.200s; the presets are the "
                      ".json files of %.200s, docs/models.md)", name_or_path, path, models_dir);
  }
  unsigned char *data = NULL;
  size_t size = 0;
  if (os_read_file(path, &data, &size) != AT_OK)
    return at_error(AT_USAGE, "cannot read model config '%.200s'", path);
  int rc = model_cfg_parse((const char *)data, size, path, out);
  free(data);
  return rc;
}

/* ---- problems ---- */

static double elem_bytes(const char *dtype)
{
  return strcmp(dtype, "f32") == 0 ? 4.0 : 2.0;
}

static double peak_tflops(const struct dev_profile *d, const char *dtype)
{
  double p = !strcmp(dtype, "f32") ? d->peak_tflops_f32
           : !strcmp(dtype, "bf16") ? d->peak_tflops_bf16 : d->peak_tflops_f16;
  return p > 0 ? p : MODEL_HOST_TFLOPS;
}

static bool same_problem(const struct model_problem *a, const struct model_problem *b)
{
  if (a->kind != b->kind || strcmp(a->dtype, b->dtype))
    return false;
  if (a->kind == MODEL_GEMM)
    return a->m == b->m && a->n == b->n && a->k == b->k && !strcmp(a->layout, b->layout);
  return a->attn.batch == b->attn.batch && a->attn.heads == b->attn.heads &&
         a->attn.sq == b->attn.sq && a->attn.sk == b->attn.sk && a->attn.d == b->attn.d &&
         a->attn.causal == b->attn.causal && a->attn.hkv == b->attn.hkv &&
         a->attn.decode == b->attn.decode;
}

/* Add (or merge into an equal one) problem q with `calls` in scenario s (s < 0: a
 * captured GEMM). */
static int add(struct model_plan *pl, const struct model_problem *q, int s, double calls)
{
  struct model_problem *hit = NULL;
  for (size_t i = 0; i < pl->n && !hit; i++)
    if (same_problem(&pl->p[i], q))
      hit = &pl->p[i];
  if (!hit) {
    if (pl->n >= MODEL_MAX_PROBLEMS)
      return at_error(AT_USAGE, "more than %d distinct problems", MODEL_MAX_PROBLEMS);
    struct model_problem *v = realloc(pl->p, (pl->n + 1) * sizeof *v);
    if (!v)
      return at_error(AT_NOMEM, "out of memory");
    pl->p = v;
    hit = &v[pl->n++];
    *hit = *q;
  } else if (!strstr(hit->role, q->role)) {
    size_t used = strlen(hit->role);
    snprintf(hit->role + used, sizeof hit->role - used, "+%s", q->role);
  }
  if (s >= 0)
    hit->calls[s] += calls;
  else
    hit->calls_captured += calls;
  return AT_OK;
}

static int add_gemm(struct model_plan *pl, const char *role, const char *dtype, int64_t m,
                    int64_t n, int64_t k, int s, double calls)
{
  struct model_problem q = {.kind = MODEL_GEMM, .m = m, .n = n, .k = k};
  snprintf(q.role, sizeof q.role, "%s", role);
  snprintf(q.dtype, sizeof q.dtype, "%s", dtype);
  snprintf(q.layout, sizeof q.layout, "NT");
  return add(pl, &q, s, calls);
}

static int add_attn(struct model_plan *pl, const struct model_cfg *c, const char *dtype,
                    int64_t tp, int64_t b, int64_t sq, int64_t sk, bool causal, int s)
{
  struct model_problem q = {.kind = MODEL_ATTN};
  snprintf(q.role, sizeof q.role, "%s", causal ? "attn_prefill" : "attn_decode");
  snprintf(q.dtype, sizeof q.dtype, "%s", dtype);
  gemm_parse_dtype(dtype, &q.attn.dtype);
  q.attn.batch = b;
  q.attn.heads = c->heads / tp;
  q.attn.hkv = c->kv_heads / tp;
  q.attn.sq = sq;
  q.attn.sk = sk;
  q.attn.d = c->head_dim;
  /* a decode step is `autotune attention --decode`'s problem (sq queries over the cache,
   * causal bottom-right: one query sees it all), in the family hd<D>_causal_decode */
  q.attn.causal = 1;
  q.attn.decode = !causal;
  if (attn_problem_check(&q.attn) != AT_OK)
    return AT_USAGE;
  return add(pl, &q, s, (double)c->layers);
}

/* The four GEMMs of every layer with T tokens, and lm_head with lm_rows. */
static int add_layer_gemms(struct model_plan *pl, const struct model_cfg *c, const char *dt,
                           int64_t tp, int64_t T, int64_t lm_rows, int s)
{
  double L = (double)c->layers;
  int64_t hd = c->head_dim;
  int rc;
  if ((rc = add_gemm(pl, "qkv", dt, T, (c->heads + 2 * c->kv_heads) * hd / tp, c->hidden, s, L)) ||
      (rc = add_gemm(pl, "o_proj", dt, T, c->hidden, c->heads * hd / tp, s, L)) ||
      (rc = add_gemm(pl, "gate_up", dt, T, 2 * c->intermediate / tp, c->hidden, s, L)) ||
      (rc = add_gemm(pl, "down", dt, T, c->hidden, c->intermediate / tp, s, L)))
    return rc;
  return add_gemm(pl, "lm_head", dt, lm_rows, (c->vocab + tp - 1) / tp, c->hidden, s, 1);
}

int model_plan_make(const struct model_cfg *c, const struct model_opts *o,
                    struct model_plan *out)
{
  memset(out, 0, sizeof *out);
  int64_t tp = o->tp ? o->tp : 1;
  if (c->heads % tp || c->kv_heads % tp || c->intermediate % tp)
    return at_error(AT_USAGE, "--tp %lld does not shard %s: %lld heads, %lld KV heads and "
                    "intermediate size %lld must each be a multiple of it", (long long)tp,
                    c->name, (long long)c->heads, (long long)c->kv_heads,
                    (long long)c->intermediate);
  if (o->nbatches * (o->nkv ? o->nkv : 1) + o->nprefills > MODEL_MAX_SCENARIOS)
    return at_error(AT_USAGE, "more than %d scenarios (batches x KV lengths + prefill "
                    "lengths)", MODEL_MAX_SCENARIOS);
  if (o->nbatches + o->nprefills == 0)
    return at_error(AT_USAGE, "nothing to tune: no decode batch and no prefill length");
  if (o->nbatches && !o->nkv)
    return at_error(AT_USAGE, "decode needs a KV length (--kv-len)");
  const int64_t q = o->step_tokens > 0 ? o->step_tokens : 1;
  if (q > ATTN_DECODE_MAX_SQ)
    return at_error(AT_USAGE, "--step-tokens %lld: a decode step adds 1 to %d tokens a "
                    "sequence", (long long)q, ATTN_DECODE_MAX_SQ);
  int rc = AT_OK;
  for (size_t b = 0; b < o->nbatches && rc == AT_OK; b++)
    for (size_t v = 0; v < o->nkv && rc == AT_OK; v++) {
      if (o->kv_lens[v] < q) {
        rc = at_error(AT_USAGE, "--kv-len %lld is shorter than the %lld tokens a decode step "
                      "adds (--step-tokens)", (long long)o->kv_lens[v], (long long)q);
        break;
      }
      int s = (int)out->nsc;
      const int64_t T = o->batches[b] * q;
      out->sc[out->nsc++] = (struct model_scenario){false, o->batches[b], o->kv_lens[v], 0, q};
      if ((rc = add_layer_gemms(out, c, o->dtype, tp, T, T, s)))
        break;
      rc = add_attn(out, c, o->dtype, tp, o->batches[b], q, o->kv_lens[v], false, s);
    }
  for (size_t p = 0; p < o->nprefills && rc == AT_OK; p++) {
    int s = (int)out->nsc;
    out->sc[out->nsc++] = (struct model_scenario){true, 1, 0, o->prefills[p], 0};
    if ((rc = add_layer_gemms(out, c, o->dtype, tp, o->prefills[p], 1, s)))
      break;
    rc = add_attn(out, c, o->dtype, tp, 1, o->prefills[p], o->prefills[p], true, s);
  }
  if (rc != AT_OK)
    model_plan_release(out);
  return rc;
}

int model_plan_add_captured(struct model_plan *pl, const struct shape_list *sl,
                            const char *dtype)
{
  for (size_t i = 0; i < sl->n; i++) {
    const struct shape_rec *r = &sl->recs[i];
    struct model_problem q = {.kind = MODEL_GEMM, .m = r->m, .n = r->n, .k = r->k};
    snprintf(q.role, sizeof q.role, "captured");
    snprintf(q.dtype, sizeof q.dtype, "%s", r->dtype[0] ? r->dtype : dtype);
    if (r->ta < 0)
      snprintf(q.layout, sizeof q.layout, "NT");
    else
      snprintf(q.layout, sizeof q.layout, "%c%c", r->ta ? 'T' : 'N', r->tb ? 'T' : 'N');
    /* a batch of B GEMMs of one shape: one problem, called B times per record */
    int rc = add(pl, &q, -1, (double)r->count * (double)r->batch);
    if (rc != AT_OK)
      return rc;
  }
  return AT_OK;
}

static void estimate(struct model_problem *p, const struct dev_profile *dev)
{
  double e = elem_bytes(p->dtype);
  if (p->kind == MODEL_GEMM) {
    p->flops = 2.0 * (double)p->m * (double)p->n * (double)p->k;
    p->bytes = e * ((double)p->m * (double)p->k + (double)p->k * (double)p->n +
                    (double)p->m * (double)p->n);
  } else {
    /* Q and O per query head; K and V per KV head (grouped-query attention) */
    p->flops = attn_flops(&p->attn);
    p->bytes = attn_bytes(&p->attn);
  }
  double bw = dev->mem_bandwidth_gbs > 0 ? dev->mem_bandwidth_gbs : MODEL_HOST_GBS;
  double tc = p->flops / (peak_tflops(dev, p->dtype) * 1e12);
  double tm = p->bytes / (bw * 1e9);
  p->est_us = 1e6 * (tc > tm ? tc : tm);
}

static double calls_total(const struct model_plan *pl, const struct model_problem *p)
{
  double c = p->calls_captured;
  for (size_t s = 0; s < pl->nsc; s++)
    c += p->calls[s];
  return c;
}

void model_plan_finish(struct model_plan *pl, const struct dev_profile *dev)
{
  double total = 0;
  for (size_t i = 0; i < pl->n; i++) {
    estimate(&pl->p[i], dev);
    total += calls_total(pl, &pl->p[i]) * pl->p[i].est_us;
  }
  for (size_t i = 0; i < pl->n; i++)
    pl->p[i].share = total > 0 ? calls_total(pl, &pl->p[i]) * pl->p[i].est_us / total : 0;
  for (size_t a = 1; a < pl->n; a++) /* insertion sort: stable, largest share first */
    for (size_t b = a; b > 0 && pl->p[b].share > pl->p[b - 1].share; b--) {
      struct model_problem t = pl->p[b];
      pl->p[b] = pl->p[b - 1];
      pl->p[b - 1] = t;
    }
}

void model_plan_split(struct model_plan *pl, double total_s)
{
  for (size_t i = 0; i < pl->n; i++) {
    double b = total_s * pl->p[i].share;
    pl->p[i].budget_s = b > MODEL_MIN_BUDGET_S ? b : MODEL_MIN_BUDGET_S;
  }
}

void model_plan_release(struct model_plan *pl)
{
  if (!pl)
    return;
  free(pl->p);
  memset(pl, 0, sizeof *pl);
}

double model_scenario_us(const struct model_plan *pl, size_t s, const double *us)
{
  double t = 0;
  for (size_t i = 0; i < pl->n; i++) {
    if (pl->p[i].calls[s] == 0)
      continue;
    if (!isfinite(us[i]))
      return NAN;
    t += pl->p[i].calls[s] * us[i];
  }
  return t;
}

void model_problem_text(const struct model_problem *p, char *out, size_t len)
{
  if (p->kind == MODEL_GEMM)
    snprintf(out, len, "%s m=%lld n=%lld k=%lld %s %s", p->role, (long long)p->m,
             (long long)p->n, (long long)p->k, p->dtype, p->layout);
  else
    snprintf(out, len, "%s b=%lld h=%lld hkv=%lld sq=%lld sk=%lld d=%lld %s", p->role,
             (long long)p->attn.batch, (long long)p->attn.heads, (long long)p->attn.hkv,
             (long long)p->attn.sq, (long long)p->attn.sk, (long long)p->attn.d, p->dtype);
}
