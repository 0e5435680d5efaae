/*
 * search.h - search strategies over a template's valid configurations: which variant to
 * measure next. A space is given as points (the valid configs, in enumeration order),
 * each with integer coordinates (the position of each free parameter's value in its
 * value list), optionally with a model's predicted cost per point. The strategies call
 * an evaluator for the points they choose and keep the best; they know nothing of
 * templates, compilers, devices or the database. The design note with the strategies'
 * invariants is at the top of search.c.
 */
#ifndef AT_TUNER_SEARCH_SEARCH_H
#define AT_TUNER_SEARCH_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The strategies and their properties, the one list of them: X(NAME, "name", "help",
 * order_known, needs_model) (see struct search_strategy_info). */
#define SEARCH_STRATEGY_MAP(X)                                                           \
  X(EXHAUSTIVE, "exhaustive", "every valid config, in enumeration order", true, false)   \
  X(RANDOM, "random", "a seeded random sample without replacement", true, false)         \
  X(MODEL, "model", "the configs the cost model ranks fastest first", true, true)        \
  X(ANNEAL, "anneal", "simulated annealing over neighbouring configs", false, false)     \
  X(GENETIC, "genetic", "a genetic search: crossover, mutation, immigrants", false, false)   \
  X(BO, "bo", "Bayesian optimisation: a Gaussian-process surrogate, expected improvement", \
    false, false)

enum search_strategy {
#define SEARCH_ENUM(name, text, help, order_known, needs_model) SEARCH_##name,
  SEARCH_STRATEGY_MAP(SEARCH_ENUM)
#undef SEARCH_ENUM
  SEARCH_STRATEGY_COUNT
};

struct search_strategy_info {
  const char *name;   /* "exhaustive": what --strategy takes */
  const char *help;   /* one line for --help and the docs */
  bool order_known;   /* the points it evaluates, and their order, are fixed before any
                       * cost is seen: a caller may compile only its first `budget` */
  bool needs_model;   /* needs search_space.model (search_run: AT_USAGE without) */
};

/* The properties of s; NULL outside the table. */
const struct search_strategy_info *search_strategy_info(enum search_strategy s);
/* "exhaustive", ...; NULL outside the table. */
const char *search_strategy_name(enum search_strategy s);
/* Parse a strategy name. AT_USAGE (with a message listing the names) if unknown. */
int search_strategy_parse(const char *text, enum search_strategy *out);
/* The names for --help and messages, from the table: "exhaustive, random, model, anneal
 * or genetic"; with_model false leaves out those that need a model. Writes
 * out[out_len] (truncated, always NUL-terminated); returns the full length. */
size_t search_strategy_list(bool with_model, char *out, size_t out_len);

/* A space: npoints valid configs, each with ndims coordinates (value positions, >= 0),
 * row-major in coords[npoints * ndims]. Two points never share all coordinates. */
struct search_space {
  size_t npoints, ndims;
  const int32_t *coords;
  const double *model;   /* npoints predicted costs, lower is better; NULL: none. The bo
                          * strategy takes it as a prior (its first points are the best
                          * predicted): an analytical model's costs or, for a warm start,
                          * the costs measured on a nearby shape or device (NAN unknown) */
  const bool *categorical; /* ndims: true where a dim's values have no order (bo measures
                            * distance 0 or 1 there); NULL: every dim is ordinal */
  size_t nfeatures;      /* per-point features for bo's surrogate, besides coordinates */
  const double *features;  /* npoints x nfeatures, row-major: what each variant compiled
                            * to (registers, shared memory, occupancy, waves, arithmetic
                            * intensity ...); NAN unknown; NULL: none */
};

/* The evaluator: measure point `p` and return its cost (lower is better; INFINITY for a
 * variant that failed, which still counts as an evaluation) through *cost. Return AT_OK,
 * SEARCH_UNBUILT when p cannot be measured at all (it did not compile, or was pruned):
 * failed, but not counted against the budget; SEARCH_STOP to end the search now (what
 * was found stands), or another at_status to abort it (search_run returns it). Called at
 * most once per point per search_run. */
#define SEARCH_STOP (-1)
#define SEARCH_UNBUILT (-2)
typedef int (*search_eval_fn)(void *ctx, size_t p, double *cost);

struct search_opts {
  enum search_strategy strategy;
  uint64_t seed;          /* same seed, same space, same costs: same sequence */
  size_t budget;          /* most evaluations; 0: no limit (every point at most once) */
  double time_budget_s;   /* wall seconds from the start; 0: no limit */
};

enum search_end { SEARCH_END_EXHAUSTED, SEARCH_END_BUDGET, SEARCH_END_TIME,
                  SEARCH_END_STOPPED };

struct search_result {
  size_t evaluations;     /* distinct points evaluated (measured), unbuilt ones aside */
  size_t unbuilt;         /* distinct points the evaluator called SEARCH_UNBUILT */
  size_t best;            /* the point of lowest finite cost; SIZE_MAX when none */
  double best_cost;       /* INFINITY when none */
  enum search_end end;
};

/* Run a strategy. OUT: *out (cleared on entry). Returns AT_OK (whatever ended it);
 * AT_USAGE (NULL argument, a coordinate below 0, two points with the same coordinates,
 * SEARCH_MODEL without model costs); AT_NOMEM; or the evaluator's status. */
int search_run(const struct search_space *sp, const struct search_opts *o,
               search_eval_fn eval, void *ctx, struct search_result *out);

/* The neighbours of point p: for each dim, the nearest valid point below and above it
 * that differs from p in that dim alone. OUT: nb[2 * ndims] (SIZE_MAX where there is
 * none). For tests and tools; search_run builds the same table once. AT_OK, AT_USAGE,
 * AT_NOMEM. */
int search_neighbours(const struct search_space *sp, size_t p, size_t *nb);

/* The deterministic generator the strategies use (xoshiro256** seeded by splitmix64). */
struct search_rng { uint64_t s[4]; };
void search_rng_seed(struct search_rng *r, uint64_t seed);
uint64_t search_rng_next(struct search_rng *r);
/* Uniform in [0, n), n > 0; uniform in [0, 1). */
size_t search_rng_below(struct search_rng *r, size_t n);
double search_rng_unit(struct search_rng *r);

#endif
