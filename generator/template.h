/*
 * template.h - reading a kernel template: the `#pragma autotune` lines (what the kernel's
 * parameters range over, which combinations are valid, how it is launched) and, through
 * libclang, the __device__ function template they describe (its template parameters and
 * its signature), cross-checked against each other; the template's content hash; and the
 * search space a template spans on one device for one problem. The pragma grammar and
 * its semantics are documented for users in docs/templates.md.
 *
 * Slot layout. Every expression a loaded template holds is bound to one layout: the
 * device constants (TMPL_NDEVICE, in the order of tmpl_device_const_name), then the
 * problem dims (in `problem` order), then the parameters (`param` and `derive`, in file
 * order). tmpl_slots fills such an array; the parameter part is exactly a config as the
 * space built by tmpl_space enumerates it.
 */
#ifndef AT_GENERATOR_TEMPLATE_H
#define AT_GENERATOR_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dev_profile;
struct gen_expr;
struct gen_space;

/* The value each problem dim takes when a space is built without a problem. */
#define TMPL_DEFAULT_DIM 4096
/* How many device constants expressions may use (device.wave_size, ...). */
#define TMPL_NDEVICE 16
/* Longest kernel name: variant names "at_<kernel>_<16 hex>" fit in 64 bytes. */
#define TMPL_KERNEL_NAME_MAX 40
/* Most problem dims. */
#define TMPL_MAX_DIMS 8

enum tmpl_tparam_kind { TMPL_NONTYPE = 0, TMPL_TYPE = 1 };

/* One template parameter of the kernel, in declaration order. */
struct tmpl_tparam {
  char *name;
  enum tmpl_tparam_kind kind;
  char *type;          /* non-type: the declared type as spelled ("int", "bool"); type: "" */
  int64_t lo, hi;      /* non-type: the values the type holds (bool: 0..1) */
  int is_bool;         /* non-type bool: emitted as false/true */
  int is_unsigned;     /* non-type unsigned: emitted with a u suffix */
  int line;
};

/* One function parameter of the kernel, in declaration order. */
struct tmpl_fparam {
  char *name;          /* as declared; "at_arg<i>" for an unnamed one */
  char *type;          /* as spelled by clang: "const float *" */
};

/* A `param` or `derive` pragma, in file order (the space's parameter order). */
struct tmpl_param {
  char *name;
  int line;
  int64_t *values;     /* `param`: the values, in the order given */
  size_t nvalues;
  char *expr;          /* `derive`: the expression text; NULL for `param` */
  int tparam;          /* index into tparams of the template parameter it feeds, -1 none */
};

/* A `require` pragma. */
struct tmpl_require {
  char *name;          /* as given, or "line N" */
  char *expr;
  int line;
};

/* Most tensor maps one kernel takes (`tensormap` pragmas). */
#define TMPL_MAX_TMAPS 4

/* A `tensormap` pragma: the kernel takes a TMA tensor map (templates/common/at_tma.h)
 * over its pointer parameter `param`, as the function parameter `tmap_<param>` of type
 * `const at_tensormap &`; the runner builds it from the op's view of that operand (rows,
 * contiguous columns, leading dimension) with this box and swizzle. */
struct tmpl_tmap {
  char *param;
  int line;
  char *text[3];       /* box inner (contiguous), box outer, swizzle in bytes: as written */
  struct gen_expr *e[3]; /* bound to the slot layout, every param visible */
};

/* A loaded template. Read-only for callers; tmpl_free releases everything. */
struct tmpl {
  char *path;                    /* as given to tmpl_load */
  char *text;                    /* the file's bytes, NUL-terminated */
  size_t text_len;
  char hash[17];                 /* content hash: SHA-256's first 16 lowercase hex digits */
  char legacy_hash[25];          /* "fnv1a64:" + 16 hex: what schema-1 databases stored */

  char *kernel;                  /* `kernel` NAME */
  char *kernel_qualified;        /* with its namespaces: "ns::scale" or "scale" */
  int kernel_line;
  char *dims[TMPL_MAX_DIMS];     /* `problem` dims */
  size_t ndims;
  struct tmpl_param *params;
  size_t nparams;
  struct tmpl_require *reqs;
  size_t nreqs;
  char *threads_text[3];         /* as written; missing y/z are "1" */
  char *grid_text[3];
  char *shared_text;             /* "0" when absent */
  struct gen_expr *threads[3];   /* parsed and bound to the slot layout */
  struct gen_expr *grid[3];
  struct gen_expr *shared;
  char *workspace_text;          /* `workspace` bytes as written; NULL when absent (then the
                                    kernel has no WS parameter) */
  struct gen_expr *workspace;    /* NULL when absent */
  char *cluster_text[3];         /* `cluster` CTAs per cluster x, y, z as written; "1" when
                                    absent (template_cluster.c) */
  struct gen_expr *cluster[3];
  char *min_blocks_text;         /* `min_blocks` (blocks an SM must hold, CUDA's second
                                    __launch_bounds__ argument) as written; NULL when absent
                                    (template_cluster.c) */
  struct gen_expr *min_blocks;   /* NULL when absent */
  char *dtype;                   /* `dtype` type parameter name, NULL if none */
  int arch_specific;             /* `arch_specific`: NVIDIA targets get the "a" suffix
                                    (sm_90 -> sm_90a; tmpl_compile_arch) */
  struct tmpl_tmap tmaps[TMPL_MAX_TMAPS]; /* `tensormap` pragmas, in file order; their
                                    tmap_ parameters end the kernel's, in this order */
  size_t ntmaps;
  int *pragma_lines;             /* every autotune pragma's first line, ascending */
  size_t npragma_lines;

  struct tmpl_tparam *tparams;   /* the kernel's template parameters */
  size_t ntparams;
  struct tmpl_fparam *fparams;   /* the kernel's function parameters */
  size_t nfparams;
  bool from_cache;               /* read from the parse cache, not parsed (tmpl_open) */
};

/* Read the template at `path` with libclang (as C++17, searching `include_dirs`, a
 * NULL-terminated list that may be NULL) and check it. Parsing needs no system header.
 * OUT: *out (tmpl_free), NULL on failure.
 * AT_OK; AT_IO (unreadable file, "cannot read template 'p': No such file ..."); AT_PARSE
 * with at_last_error() "path:line: message" for every problem in the file: a pragma's
 * syntax or expression, an unknown pragma verb, a duplicate or missing pragma, a value
 * outside a template parameter's type, a template parameter no pragma binds, a pragma
 * naming a parameter the kernel lacks, the kernel not found, or the first error clang
 * reports (at its own file:line, which may be an included file); AT_NOMEM; AT_USAGE
 * (NULL path or out). */
int tmpl_load(const char *path, const char *const *include_dirs, struct tmpl **out);

/* tmpl_load through the parse cache under `cache_dir` (its parse/ folder; NULL: the
 * default cache folder, os_cache_dir(); "": no cache): the entry for the file's bytes and
 * includes when every file the parse read is unchanged (then libclang is never opened,
 * and t->from_cache is set), else a parse with libclang, stored for the next time.
 * libclang is opened at run time (generator/libclang.h): without it, a template that
 * is not in the cache fails with AT_UNSUPPORTED, saying so. Otherwise as tmpl_load; an
 * entry never changes a result (a template read from it equals the parsed one). */
int tmpl_open(const char *path, const char *const *include_dirs, const char *cache_dir,
              struct tmpl **out);

/* Whether `stored`, a content hash from a database, denotes t's bytes: its SHA-256 hash,
 * or the "fnv1a64:" hash a schema-1 database stored. False for NULL. */
bool tmpl_hash_matches(const struct tmpl *t, const char *stored);

/* The host device's headers: files named at_host*.h in an include folder (its runtime
 * table, at_host_rt.h, and the emulators of the GPU instructions, at_host_mma.h, ...).
 * Only a host compile includes them (each refuses any other), so they are not part of
 * the content hash: a change to the emulator renames no GPU variant and leaves tuned
 * databases matching. tmpl_host_digest is what keys host objects on them instead (the
 * host backend's toolchain string): the first 12 hex digits of SHA-256 over, for each
 * include folder in order, each such file (by name) as its name, a NUL and its bytes;
 * "none" where there are none. Returns AT_OK, or the error of a file it cannot read. */
bool tmpl_host_header(const char *name);
#define TMPL_HOST_DIGEST_LEN 13
int tmpl_host_digest(const char *const *include_dirs, char out[TMPL_HOST_DIGEST_LEN]);

/* Free; NULL is accepted. */
void tmpl_free(struct tmpl *t);

/* template_tmap.c: whether t's `tensormap` pragmas fit its kernel: each names a pointer
 * parameter, and the kernel's parameters end with `const at_tensormap &tmap_NAME`, one
 * per pragma in pragma order (the runners append the maps after the op's arguments).
 * 0 when they do; else nonzero with the message in msg[len] and the pragma's line in
 * *line. */
int tmpl_tmaps_check(const struct tmpl *t, int *line, char *msg, size_t len);
/* template_cluster.c: the cluster shape (a `cluster` pragma; 1 x 1 x 1 without one) of the
 * config whose slots (tmpl_slots) are given. OUT: out[3]. AT_OK; AT_USAGE when an
 * expression fails, an extent is below 1, or the cluster holds more than
 * TMPL_MAX_CLUSTER CTAs (the portable maximum of sm_90). */
#define TMPL_MAX_CLUSTER 8
int tmpl_cluster_eval(const struct tmpl *t, const int64_t *slots, int64_t out[3]);
/* template_cluster.c: the blocks per SM of a `min_blocks` pragma for the config whose
 * slots are given, 0 without one or where it evaluates to 0 (no minimum: the thread
 * count alone, so a param can offer both). OUT: *out. AT_OK; AT_USAGE when the
 * expression fails or the value is outside 0 .. TMPL_MAX_MIN_BLOCKS (sm_90's most
 * resident blocks). */
#define TMPL_MAX_MIN_BLOCKS 32
int tmpl_min_blocks_eval(const struct tmpl *t, const int64_t *slots, int64_t *out);
/* Free what t->tmaps hold (tmpl_free's part); ntmaps becomes 0. */
void tmpl_tmaps_free(struct tmpl *t);

/* The space `t` spans on `dev` for a problem with dims `dims` (t->ndims values in
 * `problem` order; NULL: TMPL_DEFAULT_DIM each). Holds the device constants and dims as
 * constants, the params and derived values in file order, the `require` constraints,
 * then the built-in ones: "device: threads per block" (1 <= threads x*y*z <=
 * device.max_threads), "device: shared memory" (0 <= shared <= device.lds_bytes),
 * "device: wave multiple" (threads x*y*z % device.wave_size == 0), and for each derived
 * value passed to a template parameter narrower than 64 bits "type: NAME fits TYPE".
 * OUT: *out (gen_space_free), NULL on failure. AT_OK; AT_NOMEM; AT_USAGE (NULL
 * argument); AT_PARSE should the space refuse an expression (not expected after load). */
int tmpl_space(const struct tmpl *t, const struct dev_profile *dev, const int64_t *dims,
               struct gen_space **out);

/* The name of device constant i < TMPL_NDEVICE ("device.wave_size") and its value on
 * `dev`. arch_major/minor/step: sm_90 -> 9/0/0, sm_89 -> 8/9/0, gfx942 -> 9/4/2,
 * gfx90a -> 9/0/10, host -> 0/0/0. */
const char *tmpl_device_const_name(size_t i);
int64_t tmpl_device_const(const struct dev_profile *dev, size_t i);

/* How many slots an expression of `t` may read: TMPL_NDEVICE + ndims + nparams. */
size_t tmpl_slot_count(const struct tmpl *t);
/* Fill slots[tmpl_slot_count(t)] for `dev`, `dims` (NULL: defaults) and `config` (one
 * value per t->params entry, derived included, as the space enumerates them). */
void tmpl_slots(const struct tmpl *t, const struct dev_profile *dev, const int64_t *dims,
                const int64_t *config, int64_t *slots);
/* The target a variant of `t` is compiled for on a device of arch `arch` ("sm_90",
 * "gfx942", "host:sm_90"): `arch` itself, except that an `arch_specific` template on an
 * NVIDIA GPU gets the architecture-specific target ("sm_90a"), whose instructions (wgmma)
 * are outside the forward-compatible set. Emulation ("host:...") is unchanged: the host
 * compiler emulates the family. Writes at most `cap` bytes to buf; returns buf. */
const char *tmpl_compile_arch(const struct tmpl *t, const char *arch, char *buf, size_t cap);

/* The slot of `name` in t's expression layout (device constants, dims, then params, of
 * which the first `visible` may be named); -1 when it names none. */
int tmpl_slot_of(const struct tmpl *t, size_t visible, const char *name);
/* The value a config's text ("K=V,...") gives `name`: true and *v, or false. */
bool tmpl_config_value(const char *text, const char *name, int64_t *v);
/* A config's canonical text ("K=V,...", gen_space_config_text) back into one value per
 * t->params entry (derived included). AT_OK; AT_USAGE naming the first param the text
 * lacks (the template changed since the text was written) or a NULL argument. */
int tmpl_config_values(const struct tmpl *t, const char *text, int64_t *values);

/* Search coordinates (search.h) of n configs: for each `param` with more than one value
 * (derived values follow from them), the position of the config's value in its list.
 * Config i is configs[which[i] * t->nparams ..] (which NULL: i). OUT: *out (malloc'd,
 * n * *ndims), *ndims. AT_OK; AT_NOMEM; AT_USAGE (NULL argument). */
int tmpl_search_coords(const struct tmpl *t, const int64_t *configs, const size_t *which,
                       size_t n, int32_t **out, size_t *ndims);

#endif
