/*
 * space.h - a template's search space and its enumerator. A space is an ordered list of
 * parameters, each either a finite list of int64 values or derived (an expression of
 * earlier parameters and constants), a set of named external constants (problem dims,
 * device limits) and a list of named `require` constraints. The enumerator visits the
 * valid configurations without building the Cartesian product: depth-first over the
 * parameters in order, checking each constraint as soon as the last parameter it uses
 * is bound, and counting what each constraint removed.
 *
 * Semantics. A configuration is valid when every derived parameter evaluates and every
 * constraint evaluates to nonzero; a constraint that fails to evaluate (division by
 * zero, overflow) rejects the configuration like a false one, and is counted apart so
 * the report can show it. Configurations are visited in lexicographic order of value
 * positions, the first parameter varying slowest.
 */
#ifndef AT_GENERATOR_SPACE_H
#define AT_GENERATOR_SPACE_H

#include <stddef.h>
#include <stdint.h>

struct gen_space;

/* Most parameters a space holds (the enumerator recurses once per parameter). */
#define GEN_SPACE_MAX_PARAMS 1024

/* Per constraint, for one enumeration. Leaf-equivalent counts saturate at UINT64_MAX. */
struct gen_space_req_stats {
  const char *name;      /* owned by the space */
  size_t depth;          /* checked once this many parameters are bound (0: before any) */
  uint64_t checked;      /* (partial) configs it was evaluated on */
  uint64_t removed;      /* (partial) configs it rejected, errors included */
  uint64_t removed_raw;  /* raw configs those stand for: removed x remaining product */
  uint64_t errors;       /* evaluations that failed (counted in removed too) */
};

/* What one enumeration saw. When it ran to the end (stopped == 0):
 *   raw == valid + sum(reqs[i].removed_raw) + derived_removed_raw
 * (exact while nothing saturates). */
struct gen_space_stats {
  uint64_t raw;                   /* product of the value counts (derived count 1) */
  uint64_t valid;                 /* configs passed to the callback */
  size_t nreqs;
  struct gen_space_req_stats *reqs; /* malloc'd, in declaration order */
  uint64_t derived_removed;       /* partial configs where a derived parameter failed */
  uint64_t derived_removed_raw;
  int stopped;                    /* the callback asked to stop */
  char first_error[256];          /* first evaluation failure with its config, or "" */
};

/* Release what stats holds (not stats itself); a zeroed or released stats is accepted. */
void gen_space_stats_release(struct gen_space_stats *stats);

/* A new empty space. OUT: *out (gen_space_free), NULL on failure. AT_OK, AT_NOMEM. */
int gen_space_new(struct gen_space **out);
/* Free; NULL is accepted. */
void gen_space_free(struct gen_space *s);

/* Append a parameter with n >= 1 values (copied; duplicates are kept as given).
 * AT_OK; AT_USAGE for a bad or taken name (parameters and constants share one
 * namespace; the builtin names min, max, cdiv and sizeof_* are reserved), n == 0 or
 * more than GEN_SPACE_MAX_PARAMS parameters; AT_NOMEM. */
int gen_space_add_param(struct gen_space *s, const char *name, const int64_t *values,
                        size_t n);
/* Append a parameter whose one value is `expr` evaluated over earlier parameters and
 * constants. AT_OK; AT_PARSE (syntax, with at_last_error()); AT_USAGE (name); AT_NOMEM.
 * Names it uses are checked when enumerating. */
int gen_space_add_derived(struct gen_space *s, const char *name, const char *expr);
/* Set an external constant (added, or updated if it exists): a plain or dotted name
 * such as M or device.lds_bytes. AT_OK; AT_USAGE (name taken by a parameter); AT_NOMEM. */
int gen_space_set_const(struct gen_space *s, const char *name, int64_t value);
/* Append a named constraint. AT_OK; AT_PARSE (syntax); AT_USAGE (empty or taken
 * constraint name); AT_NOMEM. Names it uses are checked when enumerating. */
int gen_space_add_require(struct gen_space *s, const char *name, const char *expr);

size_t gen_space_param_count(const struct gen_space *s);
const char *gen_space_param_name(const struct gen_space *s, size_t i);
/* Index of a parameter by name, -1 if none. */
int gen_space_param_index(const struct gen_space *s, const char *name);

/* Called with each valid config: values[i] is parameter i's value, n the parameter
 * count; the array is only valid during the call. Return 0 to go on, GEN_SPACE_STOP to
 * stop (enumerate then returns AT_OK, stats->stopped set), or an at_status to stop and
 * make enumerate return it. */
typedef int (*gen_space_visit_fn)(void *ctx, const int64_t *values, size_t n);
#define GEN_SPACE_STOP (-1)

/* Enumerate the valid configs in order, calling visit (may be NULL: count only).
 * OUT: *stats if not NULL (zeroed on entry, filled even on failure as far as it got;
 * release with gen_space_stats_release). AT_OK; AT_PARSE for an unknown identifier
 * ("constraint 'fits': unknown identifier 'X' at column 3") or a derived parameter
 * using a later one; AT_NOMEM; or the callback's status. */
int gen_space_enumerate(struct gen_space *s, gen_space_visit_fn visit, void *ctx,
                        struct gen_space_stats *stats);

/* The most valid configs gen_space_collect gathers: every real template spans a few
 * thousand; a space past this is a missing constraint, and collecting it would take
 * gigabytes. $AUTOTUNE_MAX_CONFIGS replaces it (docs/templates.md). */
#define GEN_SPACE_MAX_CONFIGS 1000000

/* Every valid config, in enumeration order, as one flat array: config i is
 * (*out)[i * gen_space_param_count(s) .. +count). The valid configs are counted first
 * (a second enumeration, stopping past the cap), so nothing is gathered beyond it.
 * OUT: *out (malloc'd, NULL when there are none), *n; *stats as for gen_space_enumerate
 * when not NULL. AT_OK; AT_NOMEM; AT_PARSE as gen_space_enumerate; AT_USAGE for more
 * than GEN_SPACE_MAX_CONFIGS (or $AUTOTUNE_MAX_CONFIGS) valid configs, naming the size
 * and the remedies, or for a bad $AUTOTUNE_MAX_CONFIGS. */
int gen_space_collect(struct gen_space *s, int64_t **out, size_t *n,
                      struct gen_space_stats *stats);

/* The canonical text of a config, "KEY=VALUE,KEY=VALUE" over all parameters (derived
 * included, constants not), keys sorted bytewise. OUT: *out, malloc'd, NULL on
 * failure. AT_OK, AT_NOMEM, AT_USAGE (NULL argument). */
int gen_space_config_text(const struct gen_space *s, const int64_t *values, char **out);

#endif
