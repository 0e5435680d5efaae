/*
 * model.h - a transformer model as the problems it runs (`autotune model`): its
 * configuration (a preset of models/, or a Hugging Face config.json read directly), the
 * GEMMs and attention problems of decode and prefill derived from it (fused QKV, output
 * projection, fused gate/up, down, lm_head; attention prefill causal and decode over KV
 * lengths), sharded by tensor parallelism, deduplicated, each with its share of the
 * model's time (a roofline estimate from FLOPs and bytes on the device's profile, times
 * its calls per step), the time budget split by share, and the per-token decode latency
 * and prefill throughput that given kernel times add up to. Pure computation: it never
 * tunes, prints or touches a database. docs/models.md says every rule.
 */
#ifndef AT_TUNER_MODEL_MODEL_H
#define AT_TUNER_MODEL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/device.h"
#include "tuner/ops/op_attn.h"
#include "tuner/ops/shapes.h"

#define MODEL_MAX_SCENARIOS 32   /* decode (batch x KV length) and prefill lengths */
#define MODEL_MAX_LIST 8         /* values per --batch, --prefill, --kv-len */
#define MODEL_MAX_PROBLEMS 512

/* The figures of a model that its problems depend on (HF config.json names in
 * comments). */
struct model_cfg {
  char name[64];            /* preset "name", else the file's base name */
  char source[300];         /* preset "source": where the figures were published */
  char model_type[32];      /* "llama", "qwen2", "gemma2", ... */
  int64_t hidden;           /* hidden_size */
  int64_t intermediate;     /* intermediate_size */
  int64_t layers;           /* num_hidden_layers */
  int64_t heads;            /* num_attention_heads */
  int64_t kv_heads;         /* num_key_value_heads (default: heads) */
  int64_t head_dim;         /* head_dim (default: hidden / heads) */
  int64_t vocab;            /* vocab_size */
};

/* Read a configuration from JSON text; `what` names it in messages. OUT: *out. AT_OK;
 * AT_USAGE naming the field and what was expected; AT_PARSE not JSON; AT_NOMEM. */
int model_cfg_parse(const char *text, size_t len, const char *what, struct model_cfg *out);
/* A preset name ("llama-3.1-8b", looked up as DIR/NAME.json in models_dir) or a path to
 * a config.json (anything with a '/' or ending in .json). AT_USAGE naming it (unknown
 * preset: with the folder it looked in), else model_cfg_parse's. */
int model_cfg_load(const char *name_or_path, const char *models_dir, struct model_cfg *out);
/* The presets folder: $AUTOTUNE_MODELS, else <prefix>/share/autotune/models beside the
 * installed command, else the source tree's models/. OUT: out[len]. */
const char *model_presets_dir(char *out, size_t len);

enum model_kind { MODEL_GEMM, MODEL_ATTN };

/* One scenario: a decode step of `batch` sequences at KV length `kv`, each adding
 * `queries` tokens (1: plain decode; more: speculative decoding's verification step), or
 * the prefill of one sequence of `tokens`. */
struct model_scenario {
  bool prefill;
  int64_t batch, kv, tokens, queries;
};

struct model_problem {
  enum model_kind kind;
  char role[64];            /* "qkv", "o_proj", "gate_up", "down", "lm_head",
                               "attn_decode", "attn_prefill", "captured"; joined by '+'
                               when problems coincide */
  char dtype[8];
  int64_t m, n, k;          /* gemm: row-major C[m][n] = A[m][k] op(B) */
  char layout[3];           /* gemm: "NT" for weights stored [out][in] */
  struct attn_problem attn; /* attention (dtype set from dtype; hkv the model's K/V heads
                               over --tp; a decode step decode and causal) */
  double calls[MODEL_MAX_SCENARIOS]; /* calls per step of each scenario */
  double calls_captured;    /* a captured GEMM: how many times the workload ran it */
  double flops, bytes;      /* one call */
  double est_us;            /* one call, roofline on the profile */
  double share;             /* of the plan's estimated time, 0..1 */
  double budget_s;          /* model_plan_split's */
};

struct model_opts {
  int64_t batches[MODEL_MAX_LIST];
  size_t nbatches;
  int64_t prefills[MODEL_MAX_LIST];
  size_t nprefills;
  int64_t kv_lens[MODEL_MAX_LIST];   /* decode KV lengths */
  size_t nkv;
  int64_t tp;                        /* tensor-parallel degree */
  int64_t step_tokens;               /* tokens a sequence adds in a decode step: 1 (or
                                        0) plain decode, up to ATTN_DECODE_MAX_SQ (16)
                                        speculative decoding's verification */
  const char *dtype;                 /* "f16", "bf16", "f32" */
  const struct dev_profile *dev;     /* the profile whose roofline orders the shares */
};

struct model_plan {
  struct model_problem *p;  /* ordered by share, largest first (model_plan_finish) */
  size_t n;
  struct model_scenario sc[MODEL_MAX_SCENARIOS];
  size_t nsc;
};

/* Derive every problem of c under o (model_plan_finish orders them). OUT: *out
 * (model_plan_release). AT_OK; AT_USAGE naming what does not shard (tp not dividing
 * heads, KV heads or the intermediate size) or an empty list; AT_NOMEM. */
int model_plan_make(const struct model_cfg *c, const struct model_opts *o,
                    struct model_plan *out);
/* Add a captured workload's GEMMs (shapes.h), each with its own dtype (default `dtype`)
 * and layout (default NT), counted as often as recorded. AT_OK, AT_NOMEM, AT_USAGE. */
int model_plan_add_captured(struct model_plan *pl, const struct shape_list *sl,
                            const char *dtype);
/* Estimate each problem on dev, compute the shares and order the problems by share,
 * largest first (ties: the order they were added). */
void model_plan_finish(struct model_plan *pl, const struct dev_profile *dev);
/* Split total_s by share: budget_s = total_s * share, at least MODEL_MIN_BUDGET_S (a
 * deterministic split, so that --resume finds each problem's run by its arguments). */
#define MODEL_MIN_BUDGET_S 0.5
void model_plan_split(struct model_plan *pl, double total_s);
void model_plan_release(struct model_plan *pl);

/* The time of scenario s from per-problem times us[pl->n] (one call each): the sum of
 * calls x time. NAN when a problem the scenario calls has no time. */
double model_scenario_us(const struct model_plan *pl, size_t s, const double *us);

/* "qkv m=64 n=6144 k=4096 f16 NT" / "attn_decode b=64 h=32 sq=1 sk=2048 d=128 f16". */
void model_problem_text(const struct model_problem *p, char *out, size_t len);

#endif
