/*
 * test_emit.c - `autotune emit-header`: the header picks what `autotune query` picks for
 * a table of shapes (params mode compiled as C, kernels mode's _choice compiled as host
 * C++), the kernels header compiles for sm_90 with nvcc and for gfx942 with clang -x hip
 * (device code to GCN assembly with MFMA in it, host code to an object), the output is
 * byte-identical for the same database and names no absolute path, and each bad input
 * gets its one-line error and exit code with an existing header left as it was. A
 * winner that needs a workspace runs through its header's _ws launcher on the host (the
 * plain launcher refusing it), and an attention header (paged GQA decode with LSE)
 * compiles for sm_90 and gfx942.
 *
 * The databases are planted through db.h with the real content hash of each template and
 * real configs of its space (tmpl_space on the device the header is for), so the headers
 * instantiate the installed templates exactly as a tuned database would make them.
 * Running a kernels header's GEMM on the host is tests/test_gemm_app.c's job.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tests/helpers.h"
#include "base/device.h"
#include "base/status.h"

#define TPL(name) AT_TEMPLATES_DIR "/gemm/" name ".h"
#define INCS "-isystem '" AT_TEMPLATES_DIR "' -isystem '" AT_TEMPLATES_DIR "/common'"

/* The first `n` valid configs of a template's space on a device (dims 256^3, NN). */
struct planted_tpl {
  struct tmpl *t;
  char *configs[8];
  size_t n;
};

static void load_configs(struct planted_tpl *p, const char *path, const char *device, size_t n)
{
  const char *incs[] = {AT_TEMPLATES_DIR "/common", NULL};
  cr_assert_eq(tmpl_load(path, incs, &p->t), AT_OK, "%s", at_last_error());
  struct gen_space *s = NULL;
  const int64_t dims[] = {256, 256, 256, 0, 0};
  cr_assert_eq(tmpl_space(p->t, dev_find(device), dims, &s), AT_OK, "%s", at_last_error());
  int64_t *all = NULL;
  size_t count = 0;
  cr_assert_eq(gen_space_collect(s, &all, &count, NULL), AT_OK, "%s", at_last_error());
  cr_assert_geq(count, n, "%s has %zu configs on %s", path, count, device);
  size_t np = gen_space_param_count(s);
  p->n = n;
  for (size_t i = 0; i < n; i++) /* spread over the space */
    cr_assert_eq(gen_space_config_text(s, all + (i * (count / n)) * np, &p->configs[i]), AT_OK);
  free(all);
  gen_space_free(s);
}

static void free_configs(struct planted_tpl *p)
{
  for (size_t i = 0; i < p->n; i++)
    free(p->configs[i]);
  tmpl_free(p->t);
}

static void plant(struct db *db, const char *run, const char *device, const char *arch,
                  const struct tmpl *t, const char *dtype, int64_t m, int64_t n, int64_t k,
                  const char *config, double time_us, const char *hash)
{
  struct db_trial tr;
  db_trial_init(&tr);
  db_uuid(tr.uuid);
  strcpy(tr.run_uuid, run);
  tr.device = device;
  tr.arch = arch;
  tr.vendor = "host";
  tr.kernel = t->kernel;
  tr.kernel_hash = hash ? hash : t->hash;
  tr.problem = (struct db_problem){.op = "gemm", .dtype = dtype, .layout = "NN", .ndims = 3,
                                   .dim_names = {"m", "n", "k"}, .dims = {m, n, k}};
  tr.config = config;
  tr.status = DB_TRIAL_OK;
  tr.time_median_us = tr.time_min_us = tr.time_max_us = time_us;
  tr.time_spread = 0;
  tr.repetitions = 5;
  tr.created_at = "2026-11-26T12:00:00Z";
  cr_assert_eq(db_put_trial(db, &tr, NULL), AT_OK, "%s", at_last_error());
}

static void new_run(struct db *db, char *uuid)
{
  struct db_run r;
  db_run_init(&r);
  r.host = "test", r.started_at = "2026-11-26T12:00:00Z", r.ended_at = "2026-11-26T12:00:00Z";
  r.autotune_version = "test", r.strategy = "planted", r.args = "test_emit";
  db_uuid(r.uuid);
  cr_assert_eq(db_put_run(db, &r, NULL), AT_OK, "%s", at_last_error());
  strcpy(uuid, r.uuid);
}

static struct db *open_db(const char *path)
{
  struct db *db = NULL;
  cr_assert_eq(db_open(path, DB_CREATE, &db), AT_OK, "%s", at_last_error());
  return db;
}

/* Tuned shapes on the host, f32 NN: two templates, ties in distance (32 and 128 around
 * 64) and in time, so the order rules matter. */
static const int64_t tuned[][3] = {
    {64, 64, 64},   {32, 128, 64},  {128, 128, 64}, {1024, 1024, 1024}, {16, 4096, 4096},
    {256, 32, 512}, {512, 512, 64}, {32, 64, 64},   {128, 64, 64},
};
static const double tuned_time[] = {10, 20, 20, 300, 150, 40, 40, 7, 7};

static const int64_t asked[][3] = {
    {64, 64, 64},   {64, 64, 65},   {63, 64, 64},     {1, 1, 1},       {100, 100, 100},
    {4096, 4096, 4096}, {16, 4096, 4096}, {8, 8192, 8192}, {200, 30, 600}, {33, 127, 64},
    {48, 96, 64},   {1000, 1000, 1}, {512, 512, 512}, {2, 3, 5},      {7, 4096, 1},
    {90, 64, 64},   {91, 64, 64},   {45, 64, 64},     {46, 64, 64},    {300, 300, 300},
};
#define NASKED (sizeof asked / sizeof *asked)

/* The host database of `tuned`, its path under dir. */
static char *host_db(const char *dir, struct planted_tpl *simt, struct planted_tpl *naive)
{
  char *path = th_path(dir, "tuning.db");
  struct db *db = open_db(path);
  char run[DB_UUID_LEN + 1];
  new_run(db, run);
  load_configs(simt, TPL("gemm_simt"), "host", 4);
  load_configs(naive, TPL("gemm_naive"), "host", 1);
  for (size_t i = 0; i < sizeof tuned / sizeof *tuned; i++) {
    plant(db, run, "host", "host", simt->t, "f32", tuned[i][0], tuned[i][1], tuned[i][2],
          simt->configs[i % simt->n], tuned_time[i], NULL);
    /* the baseline too, slower except on one shape, where it wins */
    plant(db, run, "host", "host", naive->t, "f32", tuned[i][0], tuned[i][1], tuned[i][2],
          naive->configs[0], i == 4 ? 1.0 : 1000.0, NULL);
  }
  db_close(db);
  return path;
}

/* `autotune query` for one shape: "kernel|config|m|n|k"; false (out "") when it refused
 * every tuned shape as past AT_NEAREST_MAX_DISTANCE, which a header cannot do. */
static bool query_line(const char *db, const int64_t *s, char *out, size_t len)
{
  struct th_result r;
  th_run(&r, "query gemm --device host --dtype f32 --layout NN --m %lld --n %lld --k %lld "
             "--db '%s' --json", (long long)s[0], (long long)s[1], (long long)s[2], db);
  if (r.code == 1 && strstr(r.err, "past the limit")) {
    out[0] = '\0';
    th_result_free(&r);
    return false;
  }
  cr_assert_eq(r.code, 0, "query: %s", r.err);
  char kernel[64], config[512];
  long long m, n, k;
  const char *p = strstr(r.out, "\"kernel\":\"");
  cr_assert_not_null(p);
  cr_assert_eq(sscanf(p, "\"kernel\":\"%63[^\"]\",\"config\":\"%511[^\"]\",\"dims\":{\"m\":%lld,"
                         "\"n\":%lld,\"k\":%lld}", kernel, config, &m, &n, &k), 5, "%s", r.out);
  snprintf(out, len, "%s|%s|%lld|%lld|%lld", kernel, config, m, n, k);
  th_result_free(&r);
  return true;
}

/* Compile `src` (C or C++ by compiler) with the header folder on the path, run it, and
 * compare each of its NASKED lines with `autotune query`'s answer. */
static void check_against_query(const char *dir, const char *db, const char *compile_fmt,
                                 const char *src_name, const char *src)
{
  char *srcpath = th_path(dir, src_name);
  char *exe = th_path(dir, "dispatch");
  cr_assert_eq(th_write(srcpath, src, strlen(src)), 0);
  struct th_result r;
  th_sh(&r, compile_fmt, srcpath, dir, exe);
  cr_assert_eq(r.code, 0, "compiling %s: %s", src_name, r.err);
  th_result_free(&r);
  th_sh(&r, "'%s'", exe);
  cr_assert_eq(r.code, 0, "%s", r.err);
  char *line = r.out;
  size_t answered = 0;
  for (size_t i = 0; i < NASKED; i++) {
    char *nl = strchr(line, '\n');
    cr_assert_not_null(nl, "the program printed %zu lines, expected %zu", i, NASKED);
    *nl = '\0';
    char want[700];
    if (query_line(db, asked[i], want, sizeof want)) {
      cr_assert_str_eq(line, want, "shape %lld x %lld x %lld: header picks %s, query %s",
                       (long long)asked[i][0], (long long)asked[i][1], (long long)asked[i][2],
                       line, want);
      answered++;
    } else {
      /* the header still picks the nearest; query refuses it only past the limit */
      const char *bar = strchr(line, '|');
      bar = bar ? strchr(bar + 1, '|') : NULL;
      long long m = 0, n = 0, k = 0;
      cr_assert(bar && sscanf(bar + 1, "%lld|%lld|%lld", &m, &n, &k) == 3, "%s", line);
      const int64_t picked[3] = {m, n, k};
      cr_assert_gt(db_shape_distance(3, asked[i], picked), AT_NEAREST_MAX_DISTANCE,
                   "shape %lld x %lld x %lld: query refused %s", (long long)asked[i][0],
                   (long long)asked[i][1], (long long)asked[i][2], line);
    }
    line = nl + 1;
  }
  cr_assert_gt(answered, NASKED / 2, "query answered only %zu of %zu shapes", answered, NASKED);
  th_result_free(&r);
  free(srcpath);
  free(exe);
}

static char *shapes_initializer(void)
{
  static char buf[2048];
  size_t n = 0;
  for (size_t i = 0; i < NASKED; i++)
    n += (size_t)snprintf(buf + n, sizeof buf - n, "{%lld,%lld,%lld},", (long long)asked[i][0],
                          (long long)asked[i][1], (long long)asked[i][2]);
  return buf;
}

Test(emit, params_mode_dispatch_matches_query, .timeout = 240)
{
  char *dir = th_tmpdir();
  struct planted_tpl simt, naive;
  char *db = host_db(dir, &simt, &naive);
  char *hdr = th_path(dir, "tuned_params.h");
  struct th_result r;
  th_run(&r, "emit-header gemm --device host --db '%s' --mode params --out '%s'", db, hdr);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "9 tuned shapes"), "%s", r.out);
  th_result_free(&r);
  char src[4096];
  snprintf(src, sizeof src,
           "#include <stdio.h>\n#include \"tuned_params.h\"\n"
           "int main(void) {\n"
           "  static const long long s[][3] = {%s};\n"
           "  for (unsigned i = 0; i < sizeof s / sizeof *s; i++) {\n"
           "    at_tuned_gemm_params p = at_tuned_gemm_f32_nn_select(s[i][0], s[i][1], s[i][2]);\n"
           "    printf(\"%%s|%%s|%%lld|%%lld|%%lld\\n\", p.kernel, p.config, p.dims[0], p.dims[1],"
           " p.dims[2]);\n"
           "  }\n  return 0;\n}\n",
           shapes_initializer());
  check_against_query(dir, db, "cc -std=c99 -Wall -Wextra -Werror -pedantic '%s' -I'%s' -o '%s' -lm",
                      "dispatch.c", src);
  free_configs(&simt);
  free_configs(&naive);
  free(hdr);
  free(db);
  th_rmtree(dir);
}

Test(emit, kernels_mode_choice_matches_query, .timeout = 240)
{
  char *dir = th_tmpdir();
  struct planted_tpl simt, naive;
  char *db = host_db(dir, &simt, &naive);
  char *hdr = th_path(dir, "tuned_gemm.h");
  struct th_result r;
  th_run(&r, "emit-header gemm --device host --db '%s' --out '%s'", db, hdr);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  char src[4096];
  snprintf(src, sizeof src,
           "#include <stdio.h>\n#include \"tuned_gemm.h\"\n"
           /* a program may #ifdef the families the database made, and only those */
           "#if !defined(AT_TUNED_HAS_GEMM_F32_NN) || defined(AT_TUNED_HAS_GEMM_F16_NN)\n"
           "#error the family macros are wrong\n"
           "#endif\n"
           "int main() {\n"
           "  static const long long s[][3] = {%s};\n"
           "  for (unsigned i = 0; i < sizeof s / sizeof *s; i++) {\n"
           "    at_tuned_choice c = at_tuned_gemm_f32_nn_choice(s[i][0], s[i][1], s[i][2]);\n"
           "    printf(\"%%s|%%s|%%lld|%%lld|%%lld\\n\", c.kernel, c.config, c.m, c.n, c.k);\n"
           "  }\n  return 0;\n}\n",
           shapes_initializer());
  /* -fsyntax-free full compile: the host kernels are instantiated; only _choice runs, so
   * the program needs no libautotune (the launcher is an unused inline). */
  check_against_query(dir, db,
                      "c++ -std=c++17 -Wall -Wextra -Werror '%s' -I'%s' " INCS
                      " -I'" AT_SOURCE_DIR "/include' -o '%s' -lm",
                      "dispatch.cpp", src);
  free_configs(&simt);
  free_configs(&naive);
  free(hdr);
  free(db);
  th_rmtree(dir);
}

Test(emit, same_database_same_bytes_no_absolute_paths, .timeout = 240)
{
  char *dir = th_tmpdir();
  struct planted_tpl simt, naive;
  char *db = host_db(dir, &simt, &naive);
  const char *modes[] = {"kernels", "params"};
  for (size_t m = 0; m < 2; m++) {
    /* the same name in two folders: the name is in the guard */
    char *da = th_path(dir, "a"), *dbd = th_path(dir, "b");
    cr_assert_eq(mkdir(da, 0755) == 0 || m, 1);
    cr_assert_eq(mkdir(dbd, 0755) == 0 || m, 1);
    char *a = th_path(da, "tuned.h"), *b = th_path(dbd, "tuned.h");
    struct th_result r;
    th_run(&r, "emit-header gemm --device host --db '%s' --mode %s --out '%s'", db, modes[m], a);
    cr_assert_eq(r.code, 0, "%s", r.err);
    th_result_free(&r);
    th_run(&r, "emit-header gemm --device host --db '%s' --mode %s --out '%s'", db, modes[m], b);
    cr_assert_eq(r.code, 0, "%s", r.err);
    th_result_free(&r);
    char *ta = th_read(a, NULL), *tb = th_read(b, NULL);
    cr_assert_not_null(ta);
    cr_assert_not_null(tb);
    cr_assert_str_eq(ta, tb, "two runs over one database wrote different headers");
    cr_assert_not_null(strstr(ta, "newest trial used 2026-11-26T12:00:00Z"), "%.300s", ta);
    cr_assert_null(strstr(ta, dir), "the header names the scratch folder");
    cr_assert_null(strstr(ta, AT_SOURCE_DIR), "the header names the source tree");
    free(ta), free(tb), free(a), free(b), free(da), free(dbd);
  }
  free_configs(&simt);
  free_configs(&naive);
  free(db);
  th_rmtree(dir);
}

/* A database for an emulated GPU: the GPU's space, recorded as host:<device>. */
static char *gpu_db(const char *dir, const char *device, const char *tpl, const char *dtype,
                    struct planted_tpl *p)
{
  char *path = th_path(dir, "gpu.db");
  struct db *db = open_db(path);
  char run[DB_UUID_LEN + 1], recorded[64], arch[64];
  new_run(db, run);
  load_configs(p, tpl, device, 2);
  snprintf(recorded, sizeof recorded, "host:%s", device);
  snprintf(arch, sizeof arch, "host:%s", dev_find(device)->arch);
  plant(db, run, recorded, arch, p->t, dtype, 256, 256, 256, p->configs[0], 5, NULL);
  plant(db, run, recorded, arch, p->t, dtype, 64, 4096, 4096, p->configs[1], 9, NULL);
  db_close(db);
  return path;
}

/* A header of `device`'s winners (gpu_db) in dir/tuned_gemm.h and a program dir/FILE that
 * calls its f16 NN launcher on a stream of type STREAM. */
static void gpu_header_and_app(const char *dir, const char *device, const char *db,
                               const char *file, const char *stream)
{
  char *hdr = th_path(dir, "tuned_gemm.h"), *app = th_path(dir, file);
  struct th_result r;
  th_run(&r, "emit-header gemm --device host:%s --db '%s' --out '%s'", device, db, hdr);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  char src[512];
  snprintf(src, sizeof src,
           "#include \"tuned_gemm.h\"\n"
           "int run(at_half *p, %s s) {\n"
           "  return at_tuned_gemm_f16_nn(p, p, p, 300, 200, 100, 100, 200, 200, 1.f, 0.f, s);\n"
           "}\n", stream);
  cr_assert_eq(th_write(app, src, strlen(src)), 0);
  free(hdr), free(app);
}

Test(emit, kernels_header_compiles_for_sm_90, .timeout = 240)
{
#if !AT_HAVE_CUDA
  cr_skip_test("no CUDA Toolkit");
#else
  char *dir = th_tmpdir();
  struct planted_tpl mma;
  char *db = gpu_db(dir, "h100", TPL("gemm_mma"), "f16", &mma);
  gpu_header_and_app(dir, "h100", db, "app.cu", "cudaStream_t");
  struct th_result r;
  th_sh(&r, "cd '%s' && '" AT_CUDA_ROOT "/bin/nvcc' -std=c++17 -arch=sm_90 " INCS
            " -I. --ptx app.cu -o app.ptx && '" AT_CUDA_ROOT "/bin/nvcc' -std=c++17 -arch=sm_90 "
            INCS " -I. -c app.cu -o app.o", dir);
  cr_assert_eq(r.code, 0, "nvcc: %s", r.err);
  th_result_free(&r);
  char *ptxpath = th_path(dir, "app.ptx");
  char *ptx = th_read(ptxpath, NULL);
  cr_assert_not_null(ptx);
  size_t entries = 0;
  for (const char *p = ptx; (p = strstr(p, ".entry")); p++)
    entries++;
  cr_assert_eq(entries, 2, "one kernel per winning config, found %zu", entries);
  cr_assert_not_null(strstr(ptx, "mma.sync.aligned.m16n8k16"), "no tensor-core mma in the PTX");
  free(ptx), free(ptxpath), free(db);
  free_configs(&mma);
  th_rmtree(dir);
#endif
}

Test(emit, kernels_header_compiles_for_gfx942, .timeout = 240)
{
  char *dir = th_tmpdir();
  struct planted_tpl mfma;
  char *db = gpu_db(dir, "mi300x", TPL("gemm_mfma"), "f16", &mfma);
  gpu_header_and_app(dir, "mi300x", db, "app.hip", "hipStream_t");
  struct th_result r;
  /* Device code to assembly (no ROCm device library here to link against) and the host
   * side, with the HIP runtime's headers, to an object. */
  th_sh(&r, "cd '%s' && " AT_CLANG19 " -std=c++17 -x hip --offload-arch=gfx942 -nogpulib "
            "--cuda-device-only -S " INCS " -I. app.hip -o app.s && " AT_CLANG19 " -std=c++17 "
            "-x hip --offload-arch=gfx942 -nogpulib --cuda-host-only -c " INCS " -I. app.hip "
            "-o app.o", dir);
  cr_assert_eq(r.code, 0, "clang -x hip: %s", r.err);
  th_result_free(&r);
  char *spath = th_path(dir, "app.s");
  char *s = th_read(spath, NULL);
  cr_assert_not_null(s);
  cr_assert_not_null(strstr(s, "v_mfma_"), "no MFMA instruction in the gfx942 code");
  cr_assert_not_null(strstr(s, ".amdhsa_kernel"), "no kernel descriptor");
  free(s), free(spath), free(db);
  free_configs(&mfma);
  th_rmtree(dir);
}

/* ---- errors -------------------------------------------------------------------------- */

static void expect_error(int code, const char *needle, const char *fmt, const char *a,
                         const char *b)
{
  struct th_result r;
  th_run(&r, fmt, a, b);
  cr_assert_eq(r.code, code, "exit %d (wanted %d): %s", r.code, code, r.err);
  cr_assert_not_null(strstr(r.err, needle), "stderr lacks '%s': %s", needle, r.err);
  cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "not one line: %s", r.err);
  th_result_free(&r);
}

Test(emit, bad_input_one_line_errors, .timeout = 240)
{
  char *dir = th_tmpdir();
  struct planted_tpl simt, naive;
  char *db = host_db(dir, &simt, &naive);
  char *hdr = th_path(dir, "kept.h");
  cr_assert_eq(th_write(hdr, "old\n", 4), 0);
  expect_error(1, "no tuned gemm winners for device 'h100'",
               "emit-header gemm --device h100 --db '%s' --out '%s'", db, hdr);
  expect_error(1, "no tuned gemm f16 winners for device 'host'",
               "emit-header gemm --device host --dtype f16 --db '%s' --out '%s'", db, hdr);
  expect_error(2, "f8", "emit-header gemm --device host --dtype f8 --db '%s' --out '%s'", db, hdr);
  expect_error(2, "expected kernels or params",
               "emit-header gemm --device host --mode cuda --db '%s' --out '%s'", db, hdr);
  expect_error(2, "nowhere", "emit-header gemm --device nowhere --db '%s' --out '%s'", db, hdr);
  expect_error(2, "--out", "emit-header gemm --device host --db '%s' %s", db, "");
  expect_error(2, "cannot write", "emit-header gemm --device host --db '%s' --out '%s/no/such/x.h'",
               db, dir);
  char *missing = th_path(dir, "missing.db");
  expect_error(2, "missing.db", "emit-header gemm --device host --db '%s' --out '%s'", missing, hdr);
  char *text = th_read(hdr, NULL);
  cr_assert_str_eq(text, "old\n", "a failed run changed the existing header");
  free(text);
  struct stat st;
  cr_assert_neq(stat(missing, &st), 0, "emit-header created the database it was pointed at");
  /* A template that changed since it was tuned: the header would instantiate configs
   * the new template may not have. */
  char *old = th_path(dir, "old.db");
  struct db *h = open_db(old);
  char run[DB_UUID_LEN + 1];
  new_run(h, run);
  plant(h, run, "host", "host", simt.t, "f32", 64, 64, 64, simt.configs[0], 3, "00000000deadbeef");
  db_close(h);
  expect_error(1, "changed since it was tuned",
               "emit-header gemm --device host --db '%s' --out '%s'", old, hdr);
  free(old), free(missing), free(hdr), free(db);
  free_configs(&simt);
  free_configs(&naive);
  th_rmtree(dir);
}

#if defined(__SANITIZE_ADDRESS__)
#define SAN_FLAGS "-fsanitize=address,undefined"
#else
#define SAN_FLAGS ""
#endif

/* A program over the header of tests/data/templates/ws_splitk.h's winner (split-K through
 * a workspace): the size is the template's expression, the plain launcher refuses the
 * shape (it needs a workspace), and the _ws launcher, given zeroed memory, computes C right
 * twice in a row and leaves the memory zero. */
static const char ws_app[] =
    "#include <stdio.h>\n#include <stdlib.h>\n#include <vector>\n"
    "#include \"tuned_ws.h\"\n"
    "int main() {\n"
    "  const int M = 20, N = 12, K = 40;\n"
    "  std::vector<float> a(M * K), b(K * N), c(M * N);\n"
    "  for (int i = 0; i < M * K; i++) a[i] = (float)(i % 7 - 3) * 0.5f;\n"
    "  for (int i = 0; i < K * N; i++) b[i] = (float)(i % 5 - 2) * 0.25f;\n"
    "  long long ws = at_tuned_gemm_f32_nn_workspace_size(M, N, K);\n"
    "  if (ws != (M * N + 3 * 2) * 4) return printf(\"size %lld\\n\", ws), 1;\n"
    "  if (at_tuned_gemm_f32_nn(a.data(), b.data(), c.data(), M, N, K, K, N, N, 1.0f, 0.0f,\n"
    "                           nullptr) == 0)\n"
    "    return printf(\"ran without its workspace\\n\"), 1;\n"
    "  unsigned char *w = (unsigned char *)calloc((size_t)ws, 1);\n"
    "  for (int rep = 0; rep < 2; rep++) {\n"
    "    int rc = at_tuned_gemm_f32_nn_ws(a.data(), b.data(), c.data(), M, N, K, K, N, N, 1.0f,\n"
    "                                     0.0f, w, nullptr);\n"
    "    if (rc) return printf(\"launch %d\\n\", rc), 1;\n"
    "    for (int i = 0; i < M; i++)\n"
    "      for (int j = 0; j < N; j++) {\n"
    "        float want = 0;\n"
    "        for (int k = 0; k < K; k++) want += a[i * K + k] * b[k * N + j];\n"
    "        if (c[i * N + j] != want) return printf(\"C[%d][%d]\\n\", i, j), 1;\n"
    "      }\n"
    "    for (long long i = 0; i < ws; i++)\n"
    "      if (w[i]) return printf(\"workspace byte %lld\\n\", i), 1;\n"
    "  }\n"
    "  printf(\"%s ok\\n\", at_tuned_gemm_f32_nn_choice(M, N, K).config);\n"
    "  free(w);\n"
    "  return 0;\n}\n";

/* `#pragma autotune workspace` in a kernels header: the winner of a template that needs
 * one, tuned and emitted from a template folder of the user's (AUTOTUNE_TEMPLATES), runs
 * through its _ws launcher on the host (ws_app). */
Test(emit, kernels_header_passes_the_callers_workspace, .timeout = 240)
{
  char *dir = th_tmpdir();
  struct th_result r;
  th_sh(&r, "mkdir -p '%s/t/gemm' && cp '" AT_SOURCE_DIR "/tests/data/templates/ws_splitk.h' "
            "'%s/t/gemm/' && cp -r '" AT_TEMPLATES_DIR "/common' '%s/t/'", dir, dir, dir);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  th_sh(&r, "cd '%s' && AUTOTUNE_TEMPLATES='%s/t' AUTOTUNE_CACHE_DIR='%s/c' '%s' gemm --device "
            "host --dtype f32 --m 20 --n 12 --k 40 --template ws_splitk --strategy exhaustive "
            "--variant-time 0.05 --db w.db && AUTOTUNE_TEMPLATES='%s/t' '%s' emit-header gemm "
            "--device host --db w.db --kernel ws_splitk --out tuned_ws.h", dir, dir, dir,
        AT_BINARY, dir, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
  th_result_free(&r);
  char *src = th_path(dir, "app.cpp");
  cr_assert_eq(th_write(src, ws_app, strlen(ws_app)), 0);
  char *bdir = strdup(AT_BINARY);
  *strrchr(bdir, '/') = '\0';
  th_sh(&r, "cd '%s' && c++ -std=c++17 -O1 " SAN_FLAGS " app.cpp -I. -isystem t -isystem "
            "t/common -I'" AT_SOURCE_DIR "/include' '%s/libautotune.a' -lsqlite3 -lpthread "
            "-ldl -lm -o app && ./app", dir, bdir);
  cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
  cr_assert(strstr(r.out, "DIRTY=0") && strstr(r.out, " ok"), "%s", r.out);
  th_result_free(&r);
  free(bdir);
  free(src);
  th_rmtree(dir);
  free(dir);
}

/* An attention header for a GPU: a paged GQA decode with LSE tuned emulated for h100 and
 * for mi300x (the variants of that device's space, run on the host), its header compiled
 * with nvcc for sm_90 (one kernel per winning config in the PTX) and with clang -x hip for
 * gfx942 (a kernel descriptor in the device code, the host side against the HIP headers),
 * each with a program that calls the launcher; for gfx942 also with the MFMA decode
 * template's winner (its workspace launcher, v_mfma in the code). */
Test(emit, attention_kernels_header_compiles_for_sm_90_and_gfx942, .timeout = 240)
{
#define HIP_APP                                                                              \
  AT_CLANG19 " -std=c++17 -x hip --offload-arch=gfx942 -nogpulib --cuda-device-only -S " INCS \
             " -I. app.hip -o app.s && " AT_CLANG19 " -std=c++17 -x hip --offload-arch=gfx942 " \
             "-nogpulib --cuda-host-only -c " INCS " -I. app.hip -o app.o"
  static const struct {
    const char *device, *file, *stream, *compile, *tmpl, *want;
  } gpus[] = {
#if AT_HAVE_CUDA
      {"h100", "app.cu", "cudaStream_t",
       "'" AT_CUDA_ROOT "/bin/nvcc' -std=c++17 -arch=sm_90 " INCS " -I. --ptx app.cu -o app.s",
       "", ".entry"},
#endif
      {"mi300x", "app.hip", "hipStream_t", HIP_APP, "", ".amdhsa_kernel"},
      {"mi300x", "app.hip", "hipStream_t", HIP_APP, "--template attn_decode_mfma", "v_mfma"},
  };
#undef HIP_APP
  for (size_t i = 0; i < sizeof gpus / sizeof gpus[0]; i++) {
    char *dir = th_tmpdir();
    struct th_result r;
    th_sh(&r, "cd '%s' && AUTOTUNE_CACHE_DIR='%s/c' '%s' attention --device host --emulate %s "
              "--heads 8 --kv-heads 2 --decode --kv-seqlen 40 --head-dim 64 --paged --lse "
              "--dtype f16 --budget 1 --variant-time 0.02 %s --db a.db && '%s' emit-header "
              "attention --device host:%s --db a.db --out tuned_attn.h", dir, dir, AT_BINARY,
          gpus[i].device, gpus[i].tmpl, AT_BINARY, gpus[i].device);
    cr_assert_eq(r.code, 0, "%s: %s", gpus[i].device, r.err);
    th_result_free(&r);
    char src[512];
    snprintf(src, sizeof src,
             "#include \"tuned_attn.h\"\n"
             "int run(at_half *p, float *lse, const int *bt, %s s) {\n"
             "  return at_tuned_attention_f16_hd64_causal_decode_paged_lse(p, p, p, p, lse, bt,\n"
             "      4, 8, 2, 1, 1000, 0.0f, s);\n"
             "}\n", gpus[i].stream);
    char *app = th_path(dir, gpus[i].file);
    cr_assert_eq(th_write(app, src, strlen(src)), 0);
    th_sh(&r, "cd '%s' && %s", dir, gpus[i].compile);
    cr_assert_eq(r.code, 0, "%s: %s", gpus[i].device, r.err);
    th_result_free(&r);
    char *spath = th_path(dir, "app.s");
    char *s = th_read(spath, NULL);
    cr_assert_not_null(s);
    cr_assert(strstr(s, gpus[i].want), "%s %s: no %s", gpus[i].device, gpus[i].tmpl,
              gpus[i].want);
    if (*gpus[i].tmpl) { /* the template asked for is the header's, with its workspace */
      char *hpath = th_path(dir, "tuned_attn.h");
      char *h = th_read(hpath, NULL);
      cr_assert_not_null(h);
      cr_assert(strstr(h, "::attn_decode_mfma<") && strstr(h, "_workspace_size("), "%s", h);
      free(h), free(hpath);
    }
    free(s), free(spath), free(app);
    th_rmtree(dir);
    free(dir);
  }
}
