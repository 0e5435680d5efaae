/*
 * header.c - writing a tuned header (header.h; the user's side is docs/headers.md).
 *
 * Kernels mode. The header #includes each winning template once (by its path under the
 * installed templates folder) and instantiates each winning config as a static kernel,
 * exactly as gen_emit_tu's wrappers do; a family (dtype, layout) gets a `_choice`
 * function (which tuned shape and config a shape maps to) and a launcher with the op's
 * contract's parameters (GEMM's, or attention's v2 ones) plus a stream, with a
 * `_workspace_size` function and a `_ws` launcher for the variants whose template declares
 * a workspace (the caller's zeroed memory). The launch shape comes from the template's own
 * threads/grid/shared expressions, translated to C++ with the config's values and the
 * device's constants folded in and the problem dims left as the launcher's arguments, so
 * a shape that was never tuned gets the grid it needs. One source for three compilers:
 * nvcc (<<<>>> on the caller's stream), clang/hipcc -x hip (the same, HIP runtime) and a
 * host C++ compiler (libautotune's at_host_launch, the SIMT emulator the tuner ran).
 * A template with `tensormap` pragmas (at_tma.h) gets its maps built in the launcher
 * (at_tuned_tmap_: cuTensorMapEncodeTiled looked up in libcuda.so.1 at run time on CUDA,
 * at_tma.h's host encoding on the host, refused on HIP) and passed after beta.
 *
 * Params mode. Plain C, no GPU header: a struct with every parameter name that occurs
 * among the winners (-1 where a template lacks it), a table per family and a `_select`
 * function, and #defines for one shape.
 *
 * The distance is query.c's, written the same way (ln of each dim, squared differences
 * summed in dim order, strict < with ties to the smaller time, then the earlier entry),
 * so on the host's libm a header picks what `autotune query` picks; a test checks this
 * over a table of shapes.
 */
#include "generator/header.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "generator/emit.h"
#include "generator/sbuf.h"
#include "generator/template.h"
#include "base/device.h"
#include "base/os.h"
#include "base/status.h"

/* "f32_nn": the family's suffix. */
static void family_suffix(const struct hdr_family *f, char *out, size_t len)
{
  snprintf(out, len, "%s%s%s", f->dtype, f->layout[0] ? "_" : "", f->layout);
  for (char *c = out; *c; c++)
    *c = (char)tolower((unsigned char)*c);
}

static void upper(char *s)
{
  for (; *s; s++)
    *s = (char)(isalnum((unsigned char)*s) ? toupper((unsigned char)*s) : '_');
}

/* ---- expressions --------------------------------------------------------------------- */

/* The launcher arguments an attention template's runtime dims bind to. */
static const char *const attn_args[] = {"B", "H", "HKV", "SQ", "SK"};
#define ATTN_NARGS 5

/* The C++ value of a GEMM problem dim of a template: M, N, K from the launcher's
 * arguments, TA and TB from the layout. */
static const char *gemm_dim(const char *name, const char *layout)
{
  if (strcasecmp(name, "M") == 0)
    return "((long long)M)";
  if (strcasecmp(name, "N") == 0)
    return "((long long)N)";
  if (strcasecmp(name, "K") == 0)
    return "((long long)K)";
  if (strcasecmp(name, "TA") == 0)
    return layout[0] == 'T' ? "1LL" : "0LL";
  if (strcasecmp(name, "TB") == 0)
    return layout[0] && layout[1] == 'T' ? "1LL" : "0LL";
  return NULL;
}

/* The C++ value of problem dim `name` of a template of op `op` in family f: gemm's
 * (gemm_dim), attention's runtime dims from the launcher's arguments (buf), the family's
 * fixed dims as literals; NULL when none. */
static const char *dim_value(const char *op, const struct hdr_family *f, const char *name,
                             char *buf, size_t cap)
{
  if (strcmp(op, "gemm") == 0)
    return gemm_dim(name, f ? f->layout : "");
  for (size_t i = 0; i < ATTN_NARGS; i++)
    if (strcasecmp(name, attn_args[i]) == 0) {
      snprintf(buf, cap, "((long long)%s)", attn_args[i]);
      return buf;
    }
  for (int i = 0; f && i < f->nfixed; i++)
    if (strcasecmp(name, f->fixed_names[i]) == 0) {
      snprintf(buf, cap, "%" PRId64 "LL", f->fixed_values[i]);
      return buf;
    }
  return NULL;
}

/* One of the template's expressions (`text`, the constraint language of expr.h) as a
 * C++ expression of type long long: params and device constants folded to literals,
 * dims bound to the launcher's arguments (dim_value). *uses_dims is set when a dim
 * occurs. */
static int put_expr(struct sbuf *b, const char *text, const struct hdr_variant *v,
                    const struct dev_profile *dev, const char *op, const struct hdr_family *f,
                    int *uses_dims)
{
  static const struct {
    const char *name, *c;
  } fixed[] = {
      {"min", "at_tuned_min_"}, {"max", "at_tuned_max_"}, {"cdiv", "at_tuned_cdiv_"},
      {"true", "1LL"},          {"false", "0LL"},         {"sizeof_f8", "1LL"},
      {"sizeof_f16", "2LL"},    {"sizeof_bf16", "2LL"},   {"sizeof_f32", "4LL"},
  };
  const struct tmpl *t = v->t;
  sb_put(b, "(", 1);
  for (const char *p = text; *p;) {
    if (isalpha((unsigned char)*p) || *p == '_') {
      const char *s = p;
      while (isalnum((unsigned char)*p) || *p == '_' ||
             (*p == '.' && (isalpha((unsigned char)p[1]) || p[1] == '_')))
        p++;
      size_t n = (size_t)(p - s);
      char name[128];
      snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), s);
      int done = 0;
      for (size_t i = 0; i < sizeof fixed / sizeof *fixed && !done; i++)
        if (strcmp(name, fixed[i].name) == 0) {
          sb_puts(b, fixed[i].c);
          done = 1;
        }
      for (size_t i = 0; i < TMPL_NDEVICE && !done; i++)
        if (tmpl_device_const_name(i) && strcmp(name, tmpl_device_const_name(i)) == 0) {
          sb_printf(b, "%" PRId64 "LL", tmpl_device_const(dev, i));
          done = 1;
        }
      for (size_t i = 0; i < t->ndims && !done; i++)
        if (strcmp(name, t->dims[i]) == 0) {
          char buf[48];
          const char *c = dim_value(op, f, name, buf, sizeof buf);
          if (!c)
            return at_error(AT_USAGE, "template '%.200s': problem dim '%.40s' is not a %s dim "
                            "the launcher binds (%s)", t->path, name, op,
                            strcmp(op, "gemm") == 0 ? "M, N, K, TA, TB"
                                                    : "B, H, HKV, SQ, SK, D, CAUSAL, DECODE, "
                                                      "PAGED, LSE");
          sb_puts(b, c);
          *uses_dims = 1;
          done = 1;
        }
      for (size_t i = 0; i < t->nparams && !done; i++)
        if (strcmp(name, t->params[i].name) == 0) {
          sb_printf(b, "%" PRId64 "LL", v->values[i]);
          done = 1;
        }
      if (!done)
        return at_error(AT_USAGE, "template '%.200s': '%.60s' in '%.120s' is neither a "
                        "param, a dim nor a device constant", t->path, name, text);
    } else if (isdigit((unsigned char)*p)) {
      while (isalnum((unsigned char)*p))
        sb_put(b, p++, 1);
      sb_puts(b, "LL");
    } else {
      sb_put(b, p++, 1);
    }
  }
  sb_put(b, ")", 1);
  return AT_OK;
}

/* ---- kernels mode ---------------------------------------------------------------------- */

static const char *ctype_of(const char *dtype)
{
  const char *c = gen_dtype_ctype(dtype);
  return c ? c : "float";
}

static void put_common_kernels(struct sbuf *b, int wave_size)
{
  sb_printf(b,
            "// The host compiler runs the kernels on libautotune's SIMT emulator with the\n"
            "// tuned device's warp size.\n"
            "#if !defined(__CUDACC__) && !defined(__HIP__) && !defined(AT_WAVE_SIZE)\n"
            "#define AT_WAVE_SIZE %d\n"
            "#endif\n"
            "#if defined(__HIP__) && !defined(__HIPCC_RTC__)\n"
            "#include <hip/hip_runtime.h>\n"
            "#endif\n",
            wave_size);
  sb_puts(b,
          "#include <math.h>\n"
          "#if !defined(__CUDACC__) && !defined(__HIP__)\n"
          "#include <tuple>\n"
          "#include \"autotune/autotune.h\"\n"
          "#include \"autotune/host.h\"\n"
          "#endif\n");
}

/* Helpers shared by every kernels-mode header (guarded: several may meet in one TU). */
static void put_helpers(struct sbuf *b)
{
  sb_puts(b,
          "\n#ifndef AT_TUNED_HELPERS_\n"
          "#define AT_TUNED_HELPERS_\n"
          "// What a launcher was given and what it picked.\n"
          "struct at_tuned_choice {\n"
          "  const char *kernel;   // template name\n"
          "  const char *config;   // canonical KEY=VALUE,... text\n"
          "  long long m, n, k;    // the tuned shape it came from\n"
          "  int exact;            // 1: that shape was tuned; 0: the nearest tuned one\n"
          "};\n"
          "#if defined(__CUDACC__)\n"
          "typedef cudaStream_t at_tuned_stream;\n"
          "#define AT_TUNED_EINVAL_ ((int)cudaErrorInvalidValue)\n"
          "#elif defined(__HIP__)\n"
          "typedef hipStream_t at_tuned_stream;\n"
          "#define AT_TUNED_EINVAL_ ((int)hipErrorInvalidValue)\n"
          "#else\n"
          "typedef void *at_tuned_stream;\n"
          "#define AT_TUNED_EINVAL_ AT_USAGE\n"
          "#endif\n"
          "#if defined(__CUDACC__) || defined(__HIP__)\n"
          "#define AT_TUNED_KERNEL_(threads) static __global__ void __launch_bounds__(threads)\n"
          "#define AT_TUNED_KERNEL_ANY_ static __global__ void\n"
          "#else\n"
          "#define AT_TUNED_KERNEL_(threads) static void\n"
          "#define AT_TUNED_KERNEL_ANY_ static void\n"
          "#endif\n"
          "#if defined(__CUDACC__) // a `min_blocks` pragma: blocks per SM (HIP: waves per EU)\n"
          "#define AT_TUNED_KERNEL_MIN_(threads, m) static __global__ void __launch_bounds__(threads, m)\n"
          "#else\n"
          "#define AT_TUNED_KERNEL_MIN_(threads, m) AT_TUNED_KERNEL_(threads)\n"
          "#endif\n"
          "#if defined(__CUDACC__)\n"
          "#define AT_TUNED_CLUSTER_(x, y, z) __cluster_dims__(x, y, z)\n"
          "#else\n"
          "#define AT_TUNED_CLUSTER_(x, y, z)\n"
          "#endif\n"
          "static inline long long at_tuned_min_(long long a) { return a; }\n"
          "template <typename... R>\n"
          "static inline long long at_tuned_min_(long long a, long long b, R... r)\n"
          "{\n  return at_tuned_min_(a < b ? a : b, r...);\n}\n"
          "static inline long long at_tuned_max_(long long a) { return a; }\n"
          "template <typename... R>\n"
          "static inline long long at_tuned_max_(long long a, long long b, R... r)\n"
          "{\n  return at_tuned_max_(a > b ? a : b, r...);\n}\n"
          "static inline long long at_tuned_cdiv_(long long a, long long b)\n"
          "{\n  return a / b + (a % b != 0 && ((a < 0) == (b < 0)));\n}\n"
          "// The tuned shape nearest to `asked` (autotune query's distance: sum of squared\n"
          "// differences of ln(dim), ties to the faster winner, then to the earlier shape).\n"
          "// log_dims holds ln of each tuned dim, written by autotune as query computes it, so\n"
          "// a launch takes the logarithms of the asked shape only.\n"
          "static inline int at_tuned_nearest_(const long long *dims, const double *log_dims,\n"
          "                                    const double *time_us, int n, int nd,\n"
          "                                    const long long *asked, int *exact)\n"
          "{\n"
          "  double logs[8], best = HUGE_VAL, best_time = HUGE_VAL;\n"
          "  int win = 0;\n"
          "  for (int j = 0; j < nd; j++)\n"
          "    logs[j] = log((double)asked[j]);\n"
          "  for (int i = 0; i < n; i++) {\n"
          "    double d = 0;\n"
          "    for (int j = 0; j < nd; j++) {\n"
          "      double e = log_dims[i * nd + j];\n"
          "      d += (logs[j] - e) * (logs[j] - e);\n"
          "    }\n"
          "    if (d < best || (d == best && time_us[i] < best_time)) {\n"
          "      best = d;\n"
          "      best_time = time_us[i];\n"
          "      win = i;\n"
          "    }\n"
          "  }\n"
          "  *exact = 1;\n"
          "  for (int j = 0; j < nd; j++)\n"
          "    *exact &= dims[win * nd + j] == asked[j];\n"
          "  return win;\n"
          "}\n"
          "#if defined(__CUDACC__) || defined(__HIP__)\n"
          "template <typename... P, typename... A>\n"
          "static inline int at_tuned_launch_(void (*kernel)(P...), const long long *g,\n"
          "                                   const long long *t, const long long *cl,\n"
          "                                   long long shared, at_tuned_stream stream,\n"
          "                                   A... args)\n"
          "{\n"
          "  (void)cl; // the kernel carries its cluster shape (__cluster_dims__)\n"
          "#if defined(__CUDACC__)\n"
          "  // The opt-in above 48 KiB once per kernel, device and size (at least) in each\n"
          "  // host thread: a driver call on every launch is the caller's time, and was\n"
          "  // inside bench/gpu/gemm14_bench's timed region where cuBLASLt's has none.\n"
          "  if (shared > 48 * 1024) {\n"
          "    struct seen_t { const void *kernel; int dev; long long shared; };\n"
          "    static thread_local seen_t seen[16];\n"
          "    static thread_local int next = 0;\n"
          "    const void *const k = reinterpret_cast<const void *>(kernel);\n"
          "    int dev = 0;\n"
          "    cudaError_t e = cudaGetDevice(&dev);\n"
          "    if (e != cudaSuccess)\n"
          "      return (int)e;\n"
          "    bool done = false;\n"
          "    for (int i = 0; i < 16 && !done; i++)\n"
          "      done = seen[i].kernel == k && seen[i].dev == dev && seen[i].shared >= shared;\n"
          "    if (!done) {\n"
          "      e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,\n"
          "                               (int)shared);\n"
          "      if (e != cudaSuccess)\n"
          "        return (int)e;\n"
          "      seen[next] = seen_t{k, dev, shared};\n"
          "      next = (next + 1) % 16;\n"
          "    }\n"
          "  }\n"
          "#endif\n"
          "  kernel<<<dim3((unsigned)g[0], (unsigned)g[1], (unsigned)g[2]),\n"
          "           dim3((unsigned)t[0], (unsigned)t[1], (unsigned)t[2]), (size_t)shared,\n"
          "           stream>>>(args...);\n"
          "#if defined(__CUDACC__)\n"
          "  return (int)cudaGetLastError();\n"
          "#else\n"
          "  return (int)hipGetLastError();\n"
          "#endif\n"
          "}\n"
          "#else\n"
          "// The host: libautotune's SIMT emulator runs the grid before returning.\n"
          "template <typename... P, typename... A>\n"
          "static inline int at_tuned_launch_(void (*kernel)(P...), const long long *g,\n"
          "                                   const long long *t, const long long *cl,\n"
          "                                   long long shared, at_tuned_stream stream,\n"
          "                                   A... args)\n"
          "{\n"
          "  (void)stream;\n"
          "  struct call {\n"
          "    void (*fn)(P...);\n"
          "    std::tuple<P...> args;\n"
          "  } c{kernel, std::tuple<P...>(args...)};\n"
          "  const unsigned grid[3] = {(unsigned)g[0], (unsigned)g[1], (unsigned)g[2]};\n"
          "  const unsigned block[3] = {(unsigned)t[0], (unsigned)t[1], (unsigned)t[2]};\n"
          "  const unsigned cluster[3] = {(unsigned)cl[0], (unsigned)cl[1], (unsigned)cl[2]};\n"
          "  at_host_bind(at_host_runtime());\n"
          "  return at_host_launch_cluster([](void *p) {\n"
          "    call *k = static_cast<call *>(p);\n"
          "    std::apply(k->fn, k->args);\n"
          "  }, &c, grid, cluster, block, (size_t)shared, AT_WAVE_SIZE, 0);\n"
          "}\n"
          "#endif\n"
          "#endif // AT_TUNED_HELPERS_\n");
  /* Building a tensor map (templates/common/at_tma.h) for a launch: on CUDA the driver's
   * cuTensorMapEncodeTiled, found at run time in libcuda.so.1 (which the CUDA runtime has
   * loaded), never linked; on the host at_tma.h's own encoding; HIP has none. */
  sb_puts(b,
          "#if defined(AT_TMA_H) && !defined(AT_TUNED_TMAP_)\n"
          "#define AT_TUNED_TMAP_\n"
          "#if defined(__CUDACC__)\n"
          "#include <dlfcn.h>\n"
          "#endif\n"
          "static inline int at_tuned_tmap_(at_tensormap *m, const void *base, unsigned eb,\n"
          "                                 long long rows, long long cols, long long ld,\n"
          "                                 long long box0, long long box1, long long swizzle)\n"
          "{\n"
          "  const unsigned long long dims[2] = {(unsigned long long)cols,\n"
          "                                      (unsigned long long)rows};\n"
          "  const unsigned box[2] = {(unsigned)box0, (unsigned)box1};\n"
          "#if defined(__CUDACC__)\n"
          "  typedef int (*encode_fn)(void *, int, unsigned, void *, const unsigned long long *,\n"
          "                           const unsigned long long *, const unsigned *,\n"
          "                           const unsigned *, int, int, int, int);\n"
          "  static encode_fn encode = nullptr;\n"
          "  if (!encode) {\n"
          "    void *h = dlopen(\"libcuda.so.1\", RTLD_NOW | RTLD_NOLOAD);\n"
          "    if (!h)\n"
          "      h = dlopen(\"libcuda.so.1\", RTLD_NOW);\n"
          "    if (h)\n"
          "      encode = (encode_fn)dlsym(h, \"cuTensorMapEncodeTiled\");\n"
          "    if (!encode)\n"
          "      return (int)cudaErrorNotSupported;\n"
          "  }\n"
          "  const unsigned long long strides[1] = {(unsigned long long)ld * eb};\n"
          "  const unsigned es[2] = {1, 1};\n"
          "  // CUtensorMapDataType UINT8/16/32/64, swizzle NONE/32B/64B/128B, L2 128B\n"
          "  const int dt = eb == 1 ? 0 : eb == 2 ? 1 : eb == 4 ? 2 : 4;\n"
          "  const int sw = swizzle == 32 ? 1 : swizzle == 64 ? 2 : swizzle == 128 ? 3 : 0;\n"
          "  return encode(m, dt, 2, (void *)base, dims, strides, box, es, 0, sw, 2, 0) == 0\n"
          "             ? 0 : AT_TUNED_EINVAL_;\n"
          "#elif defined(__HIP__)\n"
          "  (void)m, (void)base, (void)eb, (void)ld, (void)swizzle, (void)dims, (void)box;\n"
          "  return AT_TUNED_EINVAL_;\n"
          "#else\n"
          "  return at_tmap_host_encode(m, base, eb, dims, (unsigned long long)ld * eb, box,\n"
          "                             (unsigned)swizzle, 0) ? AT_TUNED_EINVAL_ : 0;\n"
          "#endif\n"
          "}\n"
          "#endif // AT_TUNED_TMAP_\n");
}

/* The per-variant kernel: DECL at_tuned_<op>_v<i>_(...). */
static int put_variant_kernel(struct sbuf *b, const struct hdr_spec *s, size_t i,
                              const struct hdr_family *f)
{
  const struct hdr_variant *v = &s->variants[i];
  const struct tmpl *t = v->t;
  /* __launch_bounds__ needs one number: the threads when they do not depend on dims. */
  struct sbuf tmp = {0};
  int dims_used = 0, rc = AT_OK;
  for (int a = 0; a < 3 && !rc; a++)
    rc = put_expr(&tmp, t->threads_text[a], v, s->space_dev, s->op, f, &dims_used);
  free(tmp.p);
  if (rc)
    return rc;
  int64_t threads = -1;
  if (!dims_used) {
    struct gen_launch l;
    struct gen_bind bind = {.dev = s->space_dev, .dims = NULL, .dtype = v->dtype};
    if (gen_emit_launch(t, &bind, v->values, &l) == AT_OK)
      threads = l.threads[0] * l.threads[1] * l.threads[2];
  }
  /* the cluster shape (a `cluster` pragma) and the blocks per SM (`min_blocks`, with the
   * threads only) are constants of the variant */
  int64_t cl[3] = {1, 1, 1}, min_blocks = 0;
  int64_t *slots = malloc(tmpl_slot_count(t) * sizeof *slots);
  if (!slots)
    return at_error(AT_NOMEM, "out of memory");
  tmpl_slots(t, s->space_dev, NULL, v->values, slots);
  rc = tmpl_cluster_eval(t, slots, cl);
  if (!rc)
    rc = tmpl_min_blocks_eval(t, slots, &min_blocks);
  free(slots);
  if (rc)
    return rc;
  char decl[128], name[64];
  int n;
  if (threads > 0 && min_blocks > 0)
    n = snprintf(decl, sizeof decl, "AT_TUNED_KERNEL_MIN_(%" PRId64 ", %" PRId64 ")", threads,
                 min_blocks);
  else if (threads > 0)
    n = snprintf(decl, sizeof decl, "AT_TUNED_KERNEL_(%" PRId64 ")", threads);
  else
    n = snprintf(decl, sizeof decl, "AT_TUNED_KERNEL_ANY_");
  if (cl[0] * cl[1] * cl[2] > 1)
    snprintf(decl + n, sizeof decl - (size_t)n, " AT_TUNED_CLUSTER_(%" PRId64 ", %" PRId64
             ", %" PRId64 ")", cl[0], cl[1], cl[2]);
  snprintf(name, sizeof name, "at_tuned_%s_v%zu_", s->op, i);
  char *text = NULL;
  if ((rc = gen_emit_wrapper(t, v->dtype, v->values, decl, name, &text)))
    return rc;
  sb_printf(b, "\n// %s %s %s\n%s", t->kernel, v->dtype, v->config, text);
  free(text);
  return AT_OK;
}

/* The shape table of a family: dims, times, variants. */
static void put_table(struct sbuf *b, const struct hdr_spec *s, const struct hdr_family *f,
                      const char *pre)
{
  sb_printf(b, "static const long long %s_dims_[%zu][%d] = {\n", pre, f->n, s->ndims);
  for (size_t i = 0; i < f->n; i++) {
    sb_puts(b, "    {");
    for (int j = 0; j < s->ndims; j++)
      sb_printf(b, "%s%" PRId64, j ? ", " : "", f->entries[i].dims[j]);
    sb_puts(b, "},\n");
  }
  sb_printf(b, "};\nstatic const double %s_log_dims_[%zu][%d] = {\n", pre, f->n, s->ndims);
  for (size_t i = 0; i < f->n; i++) {
    sb_puts(b, "    {");
    for (int j = 0; j < s->ndims; j++)
      sb_printf(b, "%s%.17g", j ? ", " : "", log((double)f->entries[i].dims[j]));
    sb_puts(b, "},\n");
  }
  sb_printf(b, "};\nstatic const double %s_time_us_[%zu] = {\n", pre, f->n);
  for (size_t i = 0; i < f->n; i++)
    sb_printf(b, "    %.17g,\n", f->entries[i].time_us);
  sb_printf(b, "};\nstatic const int %s_variant_[%zu] = {", pre, f->n);
  for (size_t i = 0; i < f->n; i++)
    sb_printf(b, "%s%zu", i ? ", " : "", f->entries[i].variant);
  sb_puts(b, "};\n");
}

/* Whether any shape of family f runs variant v. */
static int family_uses(const struct hdr_family *f, size_t v)
{
  for (size_t i = 0; i < f->n; i++)
    if (f->entries[i].variant == v)
      return 1;
  return 0;
}

/* One `case v:` of a family's `_ws` launcher: the launch shape from the template's own
 * expressions, the workspace checked (a variant that needs bytes gets the caller's, none
 * refused), the kernel launched with `args` (and the workspace last for a template that
 * declares one). */
static int put_launch_case(struct sbuf *b, const struct hdr_spec *s, const struct hdr_family *f,
                           size_t v, const char *args)
{
  const struct hdr_variant *var = &s->variants[v];
  const struct tmpl *t = var->t;
  int dims_used = 0, rc = AT_OK;
  sb_printf(b, "  case %zu: {\n    const long long g[3] = {", v);
  for (int a = 0; a < 3 && !rc; a++) {
    sb_puts(b, a ? ", " : "");
    rc = put_expr(b, t->grid_text[a], var, s->space_dev, s->op, f, &dims_used);
  }
  sb_puts(b, "};\n    const long long t[3] = {");
  for (int a = 0; a < 3 && !rc; a++) {
    sb_puts(b, a ? ", " : "");
    rc = put_expr(b, t->threads_text[a], var, s->space_dev, s->op, f, &dims_used);
  }
  sb_puts(b, "};\n    const long long cl[3] = {");
  for (int a = 0; a < 3 && !rc; a++) {
    sb_puts(b, a ? ", " : "");
    rc = put_expr(b, t->cluster_text[a], var, s->space_dev, s->op, f, &dims_used);
  }
  sb_puts(b, "};\n    const long long shared = ");
  if (!rc)
    rc = put_expr(b, t->shared_text, var, s->space_dev, s->op, f, &dims_used);
  if (!rc && t->workspace_text) {
    sb_puts(b, ";\n    if (!workspace && ");
    rc = put_expr(b, t->workspace_text, var, s->space_dev, s->op, f, &dims_used);
    sb_puts(b, " > 0)\n      return AT_TUNED_EINVAL_; // needs the caller's zeroed workspace");
  }
  if (rc)
    return rc;
  sb_puts(b, ";\n");
  /* tensor maps (a template's `tensormap` pragmas) over A, B or C as the layout lays
   * them out, or attention's Q, K, V, O, built on the host side of the launch
   * (at_tuned_tmap_) */
  if (t->ntmaps)
    sb_printf(b, "    at_tensormap tm_[%zu];\n    int e_ = 0;\n", t->ntmaps);
  for (size_t i = 0; i < t->ntmaps && !rc; i++) {
    const char *op = t->tmaps[i].param, *rows = NULL, *cols = NULL, *ld = NULL;
    int ta = f->layout[0] == 'T', tb = f->layout[0] && f->layout[1] == 'T';
    char dbuf[64];
    if (strcmp(s->op, "attention") == 0 && strlen(op) == 1 && strchr("QKVO", op[0])) {
      /* Q and O as B H SQ rows of D, K and V as B HKV SK rows (attn_run.c's view); a
       * paged pool's size is not among the launcher's arguments */
      int paged = 0;
      for (int k = 0; k < f->nfixed; k++)
        paged |= strcmp(f->fixed_names[k], "PAGED") == 0 && f->fixed_values[k];
      cols = ld = dim_value(s->op, f, "D", dbuf, sizeof dbuf);
      if (!cols || (paged && (op[0] == 'K' || op[0] == 'V')))
        return at_error(AT_USAGE, "kernels mode: tensormap '%s' of %s: %s", op, t->kernel,
                        cols ? "a paged pool's rows are not known to the launcher"
                             : "the family fixes no head dim D");
      rows = op[0] == 'K' || op[0] == 'V' ? "(long long)B * HKV * SK" : "(long long)B * H * SQ";
    } else if (strcmp(s->op, "gemm") == 0 && strcmp(op, "A") == 0)
      rows = ta ? "K" : "M", cols = ta ? "M" : "K", ld = "lda";
    else if (strcmp(s->op, "gemm") == 0 && strcmp(op, "B") == 0)
      rows = tb ? "N" : "K", cols = tb ? "K" : "N", ld = "ldb";
    else if (strcmp(s->op, "gemm") == 0 && strcmp(op, "C") == 0)
      rows = "M", cols = "N", ld = "ldc";
    else
      return at_error(AT_USAGE, "kernels mode: tensormap '%.32s' of %s names no GEMM "
                      "operand (A, B or C) nor attention tensor (Q, K, V or O)", op, t->kernel);
    sb_printf(b, "    if ((e_ = at_tuned_tmap_(&tm_[%zu], %s, sizeof *%s, %s, %s, %s, ", i, op,
              op, rows, cols, ld);
    for (int k = 0; k < 3 && !rc; k++) {
      sb_puts(b, k ? ", " : "");
      rc = put_expr(b, t->tmaps[i].text[k], var, s->space_dev, s->op, f, &dims_used);
    }
    sb_puts(b, ")) != 0)\n      return e_;\n");
  }
  if (rc)
    return rc;
  sb_printf(b, "    return at_tuned_launch_(at_tuned_%s_v%zu_, g, t, cl, shared, stream, %s%s", s->op,
            v, args, t->workspace_text ? ", workspace" : "");
  for (size_t i = 0; i < t->ntmaps; i++)
    sb_printf(b, ", tm_[%zu]", i);
  sb_puts(b, ");\n  }\n");
  return AT_OK;
}

/* A family's `_workspace_size(dims)`: the bytes the variant chosen for the shape needs. */
static int put_workspace_size(struct sbuf *b, const struct hdr_spec *s,
                              const struct hdr_family *f, const char *pre, const char *params,
                              const char *asked, int nd)
{
  sb_printf(b,
            "// Bytes of zeroed device memory the kernel for this shape needs as its workspace\n"
            "// (0: none; else pass it to %s_ws, all zero, and it stays all zero).\n"
            "static inline long long %s_workspace_size(%s)\n"
            "{\n"
            "  const long long asked[%d] = {%s};\n"
            "  int exact = 0;\n"
            "  int i = at_tuned_nearest_(&%s_dims_[0][0], &%s_log_dims_[0][0], %s_time_us_, %zu, %d,\n"
            "                            asked, &exact);\n"
            "  switch (%s_variant_[i]) {\n",
            pre, pre, params, nd, asked, pre, pre, pre, f->n, nd, pre);
  for (size_t v = 0; v < s->nvariants; v++) {
    const struct hdr_variant *var = &s->variants[v];
    if (!family_uses(f, v) || !var->t->workspace_text)
      continue;
    int dims_used = 0;
    sb_printf(b, "  case %zu:\n    return ", v);
    int rc = put_expr(b, var->t->workspace_text, var, s->space_dev, s->op, f, &dims_used);
    if (rc)
      return rc;
    sb_puts(b, ";\n");
  }
  sb_puts(b, "  }\n  return 0;\n}\n");
  return AT_OK;
}

static int put_family_kernels(struct sbuf *b, const struct hdr_spec *s,
                              const struct hdr_family *f)
{
  char suf[64], pre[128];
  family_suffix(f, suf, sizeof suf);
  snprintf(pre, sizeof pre, "at_tuned_%s_%s", s->op, suf);
  const char *ct = ctype_of(f->dtype);
  sb_printf(b, "\n// ---- %s %s %s: %zu tuned shape%s ----\n", s->op, f->dtype, f->layout, f->n,
            f->n == 1 ? "" : "s");
  put_table(b, s, f, pre);
  sb_printf(b,
            "// Which tuned shape and config M x N x K runs with (exact, else nearest).\n"
            "static inline at_tuned_choice %s_choice(long long M, long long N, long long K)\n"
            "{\n"
            "  const long long asked[3] = {M, N, K};\n"
            "  int exact = 0;\n"
            "  int i = at_tuned_nearest_(&%s_dims_[0][0], &%s_log_dims_[0][0], %s_time_us_, %zu, 3,\n"
            "                            asked, &exact);\n"
            "  at_tuned_choice c = {nullptr, nullptr, %s_dims_[i][0], %s_dims_[i][1],\n"
            "                       %s_dims_[i][2], exact};\n"
            "  switch (%s_variant_[i]) {\n",
            pre, pre, pre, pre, f->n, pre, pre, pre, pre);
  for (size_t v = 0; v < s->nvariants; v++) {
    if (!family_uses(f, v))
      continue;
    sb_printf(b, "  case %zu:\n    c.kernel = \"%s\";\n    c.config = ", v, s->variants[v].t->kernel);
    sb_put_quoted(b, s->variants[v].config);
    sb_puts(b, ";\n    break;\n");
  }
  sb_printf(b,
            "  }\n"
            "  return c;\n"
            "}\n"
            "// C = alpha * op(A) * op(B) + beta * C with the tuned kernel for this shape, on\n"
            "// `stream` (host: run before returning), `workspace` the caller's zeroed memory of\n"
            "// %s_workspace_size bytes (NULL when 0). 0, or the runtime's error code.\n"
            "static inline int %s_ws(const %s *A, const %s *B, %s *C, int M, int N, int K,\n"
            "                     int lda, int ldb, int ldc, float alpha, float beta,\n"
            "                     void *workspace, at_tuned_stream stream)\n"
            "{\n"
            "  (void)workspace;\n"
            "  if (M < 1 || N < 1 || K < 1 || !A || !B || !C)\n"
            "    return AT_TUNED_EINVAL_;\n"
            "  const long long asked[3] = {M, N, K};\n"
            "  int exact = 0;\n"
            "  int i = at_tuned_nearest_(&%s_dims_[0][0], &%s_log_dims_[0][0], %s_time_us_, %zu, 3,\n"
            "                            asked, &exact);\n"
            "  switch (%s_variant_[i]) {\n",
            pre, pre, ct, ct, ct, pre, pre, pre, f->n, pre);
  for (size_t v = 0; v < s->nvariants; v++) {
    if (!family_uses(f, v))
      continue;
    int rc = put_launch_case(b, s, f, v, "A, B, C, M, N, K, lda, ldb, ldc, alpha, beta");
    if (rc)
      return rc;
  }
  sb_puts(b, "  }\n  return AT_TUNED_EINVAL_;\n}\n");
  int rc = put_workspace_size(b, s, f, pre, "long long M, long long N, long long K", "M, N, K", 3);
  if (rc)
    return rc;
  sb_printf(b,
            "// %s_ws without a workspace: AT_TUNED_EINVAL_ for a shape whose kernel needs one.\n"
            "static inline int %s(const %s *A, const %s *B, %s *C, int M, int N, int K,\n"
            "                     int lda, int ldb, int ldc, float alpha, float beta,\n"
            "                     at_tuned_stream stream)\n"
            "{\n"
            "  return %s_ws(A, B, C, M, N, K, lda, ldb, ldc, alpha, beta, nullptr, stream);\n"
            "}\n",
            pre, pre, ct, ct, ct, pre);
  return AT_OK;
}

/* Attention's family: the choice, the workspace size and the launchers, with the contract
 * v2's parameters (tuner/ops/op_attn.h); its dims b, h, sq, sk, hkv. */
static int put_family_attn(struct sbuf *b, const struct hdr_spec *s, const struct hdr_family *f)
{
  char suf[64], pre[128];
  family_suffix(f, suf, sizeof suf);
  snprintf(pre, sizeof pre, "at_tuned_%s_%s", s->op, suf);
  const char *ct = ctype_of(f->dtype);
  int paged = 0;
  for (int i = 0; i < f->nfixed; i++)
    paged |= strcmp(f->fixed_names[i], "PAGED") == 0 && f->fixed_values[i];
  sb_printf(b, "\n// ---- %s %s %s: %zu tuned shape%s ----\n", s->op, f->dtype, f->layout, f->n,
            f->n == 1 ? "" : "s");
  put_table(b, s, f, pre);
  sb_printf(b,
            "// Which tuned shape and config B x H x SQ x SK with HKV key/value heads runs with\n"
            "// (exact, else nearest over b, h, sq, sk, hkv).\n"
            "static inline at_tuned_attn_choice %s_choice(long long B, long long H, long long HKV,\n"
            "                                             long long SQ, long long SK)\n"
            "{\n"
            "  const long long asked[5] = {B, H, SQ, SK, HKV};\n"
            "  int exact = 0;\n"
            "  int i = at_tuned_nearest_(&%s_dims_[0][0], &%s_log_dims_[0][0], %s_time_us_, %zu, 5,\n"
            "                            asked, &exact);\n"
            "  at_tuned_attn_choice c = {nullptr, nullptr, %s_dims_[i][0], %s_dims_[i][1],\n"
            "                            %s_dims_[i][4], %s_dims_[i][2], %s_dims_[i][3], exact};\n"
            "  switch (%s_variant_[i]) {\n",
            pre, pre, pre, pre, f->n, pre, pre, pre, pre, pre, pre);
  for (size_t v = 0; v < s->nvariants; v++) {
    if (!family_uses(f, v))
      continue;
    sb_printf(b, "  case %zu:\n    c.kernel = \"%s\";\n    c.config = ", v, s->variants[v].t->kernel);
    sb_put_quoted(b, s->variants[v].config);
    sb_puts(b, ";\n    break;\n");
  }
  sb_puts(b, "  }\n  return c;\n}\n");
  int rc = put_workspace_size(b, s, f, pre, "long long B, long long H, long long HKV, "
                              "long long SQ, long long SK", "B, H, SQ, SK, HKV", 5);
  if (rc)
    return rc;
  sb_printf(b,
            "// O = softmax(scale Q K^T [mask]) V with the tuned kernel for this shape (the\n"
            "// attention contract v2: Q, O [B][H][SQ][D]; K, V [B][HKV][SK][D]%s; LSE [B][H][SQ]\n"
            "// or NULL; scale 0: 1/sqrt(D)), on `stream` (host: run before returning),\n"
            "// `workspace` the caller's zeroed memory of %s_workspace_size bytes (NULL when\n"
            "// 0). 0, or the runtime's error code.\n"
            "static inline int %s_ws(const %s *Q, const %s *K, const %s *V, %s *O, float *LSE,\n"
            "                     const int *BT, int B, int H, int HKV, int SQ, int SK,\n"
            "                     float scale, void *workspace, at_tuned_stream stream)\n"
            "{\n"
            "  (void)workspace;\n"
            "  if (B < 1 || H < 1 || HKV < 1 || SQ < 1 || SK < 1 || H %% HKV != 0 || !Q || !K ||\n"
            "      !V || !O || %s)\n"
            "    return AT_TUNED_EINVAL_;\n"
            "  const long long asked[5] = {B, H, SQ, SK, HKV};\n"
            "  int exact = 0;\n"
            "  int i = at_tuned_nearest_(&%s_dims_[0][0], &%s_log_dims_[0][0], %s_time_us_, %zu, 5,\n"
            "                            asked, &exact);\n"
            "  switch (%s_variant_[i]) {\n",
            paged ? " as 16-token pages [NPAGES][16][HKV][D] through BT [B][cdiv(SK, 16)]" : "",
            pre, pre, ct, ct, ct, ct, paged ? "!BT" : "BT", pre, pre, pre, f->n, pre);
  for (size_t v = 0; v < s->nvariants; v++) {
    if (!family_uses(f, v))
      continue;
    if ((rc = put_launch_case(b, s, f, v, "Q, K, V, O, LSE, BT, B, H, HKV, SQ, SK, scale")))
      return rc;
  }
  sb_puts(b, "  }\n  return AT_TUNED_EINVAL_;\n}\n");
  sb_printf(b,
            "// %s_ws without a workspace: AT_TUNED_EINVAL_ for a shape whose kernel needs one.\n"
            "static inline int %s(const %s *Q, const %s *K, const %s *V, %s *O, float *LSE,\n"
            "                     const int *BT, int B, int H, int HKV, int SQ, int SK,\n"
            "                     float scale, at_tuned_stream stream)\n"
            "{\n"
            "  return %s_ws(Q, K, V, O, LSE, BT, B, H, HKV, SQ, SK, scale, nullptr, stream);\n"
            "}\n",
            pre, pre, ct, ct, ct, ct, pre);
  return AT_OK;
}

static int emit_kernels(struct sbuf *b, const struct hdr_spec *s)
{
  const int attention = strcmp(s->op, "attention") == 0;
  if (!(strcmp(s->op, "gemm") == 0 && s->ndims == 3) && !(attention && s->ndims == 5))
    return at_error(AT_USAGE, "kernels mode knows the gemm and attention ops only (got "
                    "'%.40s'); use --mode params", s->op);
  put_common_kernels(b, s->space_dev ? s->space_dev->warp_size : 32);
  /* Each template once, in variant order. */
  for (size_t i = 0; i < s->nvariants; i++) {
    int seen = 0;
    for (size_t j = 0; j < i; j++)
      seen |= strcmp(s->variants[j].include, s->variants[i].include) == 0;
    if (!seen)
      sb_printf(b, "#include \"%s\"\n", s->variants[i].include);
  }
  put_helpers(b);
  if (attention)
    sb_puts(b,
            "#ifndef AT_TUNED_ATTN_CHOICE_\n"
            "#define AT_TUNED_ATTN_CHOICE_\n"
            "// What an attention launcher was given and what it picked.\n"
            "struct at_tuned_attn_choice {\n"
            "  const char *kernel;   // template name\n"
            "  const char *config;   // canonical KEY=VALUE,... text\n"
            "  long long b, h, hkv, sq, sk; // the tuned shape it came from\n"
            "  int exact;            // 1: that shape was tuned; 0: the nearest tuned one\n"
            "};\n"
            "#endif\n");
  sb_printf(b, "\n// ---- the winning configs, one kernel each ----\n");
  for (size_t i = 0; i < s->nvariants; i++) {
    const struct hdr_family *fam = NULL;
    for (size_t f = 0; f < s->nfamilies; f++)
      if (family_uses(&s->families[f], i))
        fam = &s->families[f];
    int rc = put_variant_kernel(b, s, i, fam);
    if (rc)
      return rc;
  }
  for (size_t f = 0; f < s->nfamilies; f++) {
    int rc = attention ? put_family_attn(b, s, &s->families[f])
                       : put_family_kernels(b, s, &s->families[f]);
    if (rc)
      return rc;
    /* what a program may #ifdef: a family only the database's winners make */
    char suf[64], PRE[128];
    family_suffix(&s->families[f], suf, sizeof suf);
    snprintf(PRE, sizeof PRE, "AT_TUNED_HAS_%s_%s", s->op, suf);
    upper(PRE);
    sb_printf(b, "#define %s 1\n", PRE);
  }
  return AT_OK;
}

/* ---- params mode ------------------------------------------------------------------------ */

/* The sorted, distinct param names of all variants. */
static int param_names(const struct hdr_spec *s, const char ***out, size_t *n)
{
  size_t cap = 0;
  const char **names = NULL;
  *n = 0;
  for (size_t v = 0; v < s->nvariants; v++) {
    const struct tmpl *t = s->variants[v].t;
    for (size_t i = 0; i < t->nparams; i++) {
      size_t at = 0;
      while (at < *n && strcmp(names[at], t->params[i].name) < 0)
        at++;
      if (at < *n && strcmp(names[at], t->params[i].name) == 0)
        continue;
      int rc = os_grow(&names, &cap, *n + 1, sizeof *names, 16);
      if (rc != AT_OK) {
        free(names);
        return rc;
      }
      memmove(names + at + 1, names + at, (*n - at) * sizeof *names);
      names[at] = t->params[i].name;
      (*n)++;
    }
  }
  *out = names;
  return AT_OK;
}

static int64_t value_of(const struct hdr_variant *v, const char *name)
{
  for (size_t i = 0; i < v->t->nparams; i++)
    if (strcmp(v->t->params[i].name, name) == 0)
      return v->values[i];
  return -1;
}

static int emit_params(struct sbuf *b, const struct hdr_spec *s)
{
  const char **names = NULL;
  size_t nn = 0;
  int rc = param_names(s, &names, &nn);
  if (rc)
    return rc;
  char OP[64];
  snprintf(OP, sizeof OP, "%s", s->op);
  upper(OP);
  sb_printf(b,
            "#include <math.h>\n\n"
            "#ifndef AT_TUNED_%s_PARAMS_T_\n"
            "#define AT_TUNED_%s_PARAMS_T_\n"
            "/* A winner: its template, config and tuned shape, and each parameter (-1 where\n"
            " * its template has no such parameter). */\n"
            "typedef struct at_tuned_%s_params {\n"
            "  const char *kernel;\n"
            "  const char *config;\n"
            "  long long dims[%d]; /* ",
            OP, OP, s->op, s->ndims);
  for (int j = 0; j < s->ndims; j++)
    sb_printf(b, "%s%s", j ? ", " : "", s->dim_names[j]);
  sb_puts(b, " */\n  double time_us;\n  int exact; /* set by select: 1 when the shape itself was tuned */\n");
  for (size_t i = 0; i < nn; i++)
    sb_printf(b, "  long long %s;\n", names[i]);
  sb_printf(b,
            "} at_tuned_%s_params;\n"
            "/* The nearest tuned entry (autotune query's distance, ties to the faster one,\n"
            " * then the earlier one). */\n"
            "static inline int at_tuned_%s_nearest_(const at_tuned_%s_params *t, int n,\n"
            "                                       const long long *asked)\n"
            "{\n"
            "  double best = HUGE_VAL, best_time = HUGE_VAL;\n"
            "  int win = 0;\n"
            "  for (int i = 0; i < n; i++) {\n"
            "    double d = 0;\n"
            "    for (int j = 0; j < %d; j++) {\n"
            "      double a = log((double)asked[j]), e = log((double)t[i].dims[j]);\n"
            "      d += (a - e) * (a - e);\n"
            "    }\n"
            "    if (d < best || (d == best && t[i].time_us < best_time)) {\n"
            "      best = d;\n"
            "      best_time = t[i].time_us;\n"
            "      win = i;\n"
            "    }\n"
            "  }\n"
            "  return win;\n"
            "}\n"
            "#endif\n",
            s->op, s->op, s->op, s->ndims);
  for (size_t fi = 0; fi < s->nfamilies; fi++) {
    const struct hdr_family *f = &s->families[fi];
    char suf[64], pre[128], PRE[128];
    family_suffix(f, suf, sizeof suf);
    snprintf(pre, sizeof pre, "at_tuned_%s_%s", s->op, suf);
    snprintf(PRE, sizeof PRE, "%s", pre);
    upper(PRE);
    sb_printf(b, "\n/* ---- %s %s %s: %zu tuned shape%s ---- */\n", s->op, f->dtype, f->layout,
              f->n, f->n == 1 ? "" : "s");
    sb_printf(b, "static const at_tuned_%s_params %s_table[%zu] = {\n", s->op, pre, f->n);
    for (size_t i = 0; i < f->n; i++) {
      const struct hdr_entry *e = &f->entries[i];
      const struct hdr_variant *v = &s->variants[e->variant];
      sb_printf(b, "    {\"%s\", ", v->t->kernel);
      sb_put_quoted(b, v->config);
      sb_puts(b, ", {");
      for (int j = 0; j < s->ndims; j++)
        sb_printf(b, "%s%" PRId64, j ? ", " : "", e->dims[j]);
      sb_printf(b, "}, %.17g, 0", e->time_us);
      for (size_t k = 0; k < nn; k++)
        sb_printf(b, ", %" PRId64, value_of(v, names[k]));
      sb_puts(b, "},\n");
    }
    sb_printf(b, "};\n#define %s_COUNT %zu\n", PRE, f->n);
    sb_printf(b, "/* The winner for a shape: exact if tuned, else the nearest tuned shape. */\n"
                 "static inline at_tuned_%s_params %s_select(", s->op, pre);
    for (int j = 0; j < s->ndims; j++)
      sb_printf(b, "%slong long %s", j ? ", " : "", s->dim_names[j]);
    sb_puts(b, ")\n{\n  const long long asked[] = {");
    for (int j = 0; j < s->ndims; j++)
      sb_printf(b, "%s%s", j ? ", " : "", s->dim_names[j]);
    sb_printf(b, "};\n  at_tuned_%s_params p = %s_table[at_tuned_%s_nearest_(%s_table, %zu, "
                 "asked)];\n  p.exact = 1;\n  for (int j = 0; j < %d; j++)\n"
                 "    p.exact &= p.dims[j] == asked[j];\n  return p;\n}\n",
              s->op, pre, s->op, pre, f->n, s->ndims);
    /* #defines for one shape: the one given, else the family's only one. */
    const int64_t *one = s->single ? s->single : f->n == 1 ? f->entries[0].dims : NULL;
    if (!one)
      continue;
    size_t win = 0;
    double best = HUGE_VAL, best_time = HUGE_VAL;
    for (size_t i = 0; i < f->n; i++) {
      double d = 0;
      for (int j = 0; j < s->ndims; j++) {
        double a = log((double)one[j]), e = log((double)f->entries[i].dims[j]);
        d += (a - e) * (a - e);
      }
      if (d < best || (d == best && f->entries[i].time_us < best_time)) {
        best = d;
        best_time = f->entries[i].time_us;
        win = i;
      }
    }
    const struct hdr_variant *v = &s->variants[f->entries[win].variant];
    sb_puts(b, "/* A single-shape build: the winner for ");
    for (int j = 0; j < s->ndims; j++)
      sb_printf(b, "%s%s=%" PRId64, j ? "," : "", s->dim_names[j], one[j]);
    sb_printf(b, " as constants. */\n#define %s_KERNEL \"%s\"\n#define %s_CONFIG ", PRE,
              v->t->kernel, PRE);
    sb_put_quoted(b, v->config);
    sb_puts(b, "\n");
    for (size_t i = 0; i < v->t->nparams; i++)
      sb_printf(b, "#define %s_%s %" PRId64 "\n", PRE, v->t->params[i].name, v->values[i]);
  }
  free(names);
  return AT_OK;
}

int hdr_emit(const struct hdr_spec *s, char **out)
{
  if (out)
    *out = NULL;
  if (!s || !out || !s->op || !s->device || !s->file_name || s->ndims < 1 ||
      s->ndims > HDR_MAX_DIMS)
    return at_error(AT_USAGE, "hdr_emit: bad argument");
  /* Text from the database becomes identifiers, strings and comments: names only. */
  const char *bad = !sb_is_name(s->op) ? s->op : !sb_is_name(s->device) ? s->device : NULL;
  for (size_t f = 0; !bad && f < s->nfamilies; f++)
    if (!sb_is_name(s->families[f].dtype) ||
        (s->families[f].layout[0] && !sb_is_name(s->families[f].layout)))
      bad = sb_is_name(s->families[f].dtype) ? s->families[f].layout : s->families[f].dtype;
  for (size_t v = 0; !bad && v < s->nvariants; v++)
    if (!sb_is_name(s->variants[v].dtype) || !sb_is_name(s->variants[v].config))
      bad = sb_is_name(s->variants[v].dtype) ? s->variants[v].config : s->variants[v].dtype;
  if (bad) {
    char shown[64];
    size_t k = 0;
    for (; bad[k] && k + 1 < sizeof shown; k++) /* the offending text, on one line */
      shown[k] = (unsigned char)bad[k] < 0x20 ? '?' : bad[k];
    shown[k] = '\0';
    return at_error(AT_USAGE, "the database holds '%s', which is not a name (letters, "
                    "digits, '_.:+-=,'): it cannot go into a header", shown);
  }
  struct sbuf b = {0};
  size_t shapes = 0;
  for (size_t f = 0; f < s->nfamilies; f++)
    shapes += s->families[f].n;
  char guard[160];
  snprintf(guard, sizeof guard, "AT_TUNED_%s_", s->file_name);
  upper(guard);
  sb_printf(&b, "%s ", s->mode == HDR_PARAMS ? "/*" : "//");
  sb_put_comment(&b, s->file_name);
  sb_printf(&b, " - tuned %s %s for device %s, written by `autotune emit-header`.\n", s->op,
            s->mode == HDR_PARAMS ? "parameters" : "kernels", s->device);
  const char *lead = s->mode == HDR_PARAMS ? " *" : "//";
  sb_printf(&b, "%s Do not edit; regenerate with: ", lead);
  sb_put_comment(&b, s->command ? s->command : "");
  sb_printf(&b, "\n%s database ", lead);
  sb_put_comment(&b, s->db_name ? s->db_name : "");
  sb_puts(&b, "; newest trial used ");
  sb_put_comment(&b, s->newest ? s->newest : "-");
  sb_printf(&b, "; autotune %s.\n", s->version);
  sb_printf(&b, "%s %zu tuned shape%s in %zu dtype/layout famil%s, %zu distinct config%s.\n",
            lead, shapes, shapes == 1 ? "" : "s", s->nfamilies, s->nfamilies == 1 ? "y" : "ies",
            s->nvariants, s->nvariants == 1 ? "" : "s");
  if (s->mode == HDR_KERNELS)
    sb_printf(&b, "// Compile with -I<templates> -I<templates>/common (autotune_tuned_header()\n"
                  "// adds them); as host C++ link libautotune. docs/headers.md has the rest.\n");
  else
    sb_printf(&b, " * Plain C; no GPU header. docs/headers.md has the rest.\n */\n");
  sb_printf(&b, "#ifndef %s\n#define %s\n", guard, guard);
  int rc = s->mode == HDR_KERNELS ? emit_kernels(&b, s) : emit_params(&b, s);
  sb_printf(&b, s->mode == HDR_PARAMS ? "\n#endif /* %s */\n" : "\n#endif // %s\n", guard);
  if (!rc && b.oom)
    rc = at_error(AT_NOMEM, "out of memory writing the header");
  if (rc) {
    free(b.p);
    return rc;
  }
  *out = b.p;
  return AT_OK;
}
