/*
 * test_compile.c - the compile backends: templates/example/scale.h wrapped in kernels is
 * compiled with NVRTC (sm_80, sm_90), nvcc (sm_90) and clang for HIP (gfx90a, gfx942);
 * each kernel's resources must be plausible and must agree with an independent reader:
 * the ptxas -v report and `cuobjdump -res-usage` for CUDA, `llvm-readelf --notes` for
 * HIP. Also: a 4096-byte static shared array reads as 4096 on both vendors, a kernel
 * short of registers reports spills, a syntax error is a compile error whose log names
 * the line, and a missing tool is a clear status. A test skips only when its tool is
 * absent from this machine.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/helpers.h"
#include "tests/hostk.h"
#include "tuner/compile/compile.h"
#include "tuner/compile/cubin.h"
#include "tuner/compile/tool.h"
#include "base/status.h"

static const char *const include_dirs[] = {AT_SOURCE_DIR "/templates/common",
                                           AT_SOURCE_DIR "/templates/example", NULL};

#define ARGS "(float *y, const float *x, float alpha, float beta, int n)"
#define CALL "(y, x, alpha, beta, n); }\n"

/* Three instantiations of scale and a kernel with a 4096-byte static shared array. */
static const char wrapped[] =
    "#include \"scale.h\"\n"
    "extern \"C\" __global__ void __launch_bounds__(256) scale_b256_v4_u2" ARGS
    " { scale<256, 4, 2>" CALL
    "extern \"C\" __global__ void __launch_bounds__(64) scale_b64_v1_u1" ARGS
    " { scale<64, 1, 1>" CALL
    "extern \"C\" __global__ void __launch_bounds__(1024) scale_b1024_v2_u8" ARGS
    " { scale<1024, 2, 8>" CALL
    "extern \"C\" __global__ void __launch_bounds__(128) staged(float *y)\n"
    "{\n"
    "  __shared__ float tile[1024];\n"
    "  unsigned t = at_thread_idx_x();\n"
    "  for (unsigned i = t; i < 1024; i += at_block_dim_x())\n"
    "    tile[i] = y[at_block_idx_x() * 1024 + i];\n"
    "  at_syncthreads();\n"
    "  y[at_block_idx_x() * 1024 + t] = tile[1023 - t] + (float)at_lane_id();\n"
    "}\n";

static const struct {
  const char *name;
  int max_threads;
} kernels[] = {{"scale_b256_v4_u2", 256},
               {"scale_b64_v1_u1", 64},
               {"scale_b1024_v2_u8", 1024},
               {"staged", 128}};
#define NKERNELS (sizeof kernels / sizeof kernels[0])

/* 48 live values per thread under __launch_bounds__(1024, 1) (64 registers at most). */
static const char spilling[] =
    "extern \"C\" __global__ void __launch_bounds__(1024, 1)\n"
    "spill(float *y, const float *x, int n)\n"
    "{\n"
    "  float v[48];\n"
    "#pragma unroll\n"
    "  for (int i = 0; i < 48; i++) v[i] = x[threadIdx.x + i * n];\n"
    "  float s = 0;\n"
    "#pragma unroll\n"
    "  for (int j = 0; j < 48; j++)\n"
    "#pragma unroll\n"
    "    for (int i = 0; i < 48; i++) s += v[i] * v[(i + j) % 48] * (float)j;\n"
    "  y[threadIdx.x] = s;\n"
    "}\n";

/* The error is on line 3. */
static const char broken[] = "extern \"C\" __global__ void broken(float *y)\n"
                             "{\n"
                             "  y[0] = ;\n"
                             "}\n";

static void compile(const struct cc_backend *b, const char *source, const char *arch,
                    const char *const *flags, struct cc_result *r)
{
  struct cc_request req = {.source = source, .name = "variant.cu", .arch = arch,
                           .include_dirs = include_dirs, .flags = flags};
  int rc = b->compile(&req, r);
  cr_assert_eq(rc, AT_OK, "%s for %s: %s: %s", b->name, arch, at_status_name(rc),
               at_last_error());
}

/* Common checks of the wrapped source's result on any backend. */
static void check_wrapped(const struct cc_result *r, const char *what)
{
  cr_assert_eq(r->status, CC_OK, "%s: status %d, log:\n%s", what, r->status, r->log);
  cr_assert(r->code && r->code_size > 64, "%s: no code object", what);
  cr_assert(r->toolchain && *r->toolchain, "%s: no toolchain", what);
  cr_assert_eq(r->nkernels, NKERNELS, "%s: %zu kernels", what, r->nkernels);
  for (size_t i = 0; i < NKERNELS; i++) {
    const struct cc_kernel_res *k = cc_result_kernel(r, kernels[i].name);
    cr_assert(k, "%s: no kernel %s", what, kernels[i].name);
    cr_assert(k->registers > 0 && k->registers <= 512, "%s: %s: %d registers", what,
              k->name, k->registers);
    cr_assert_eq(k->shared_bytes, strcmp(k->name, "staged") == 0 ? 4096 : 0,
                 "%s: %s: %lld shared bytes", what, k->name, (long long)k->shared_bytes);
    cr_assert_eq(k->local_bytes, 0, "%s: %s: local %lld", what, k->name,
                 (long long)k->local_bytes);
    cr_assert_eq(k->max_threads, kernels[i].max_threads, "%s: %s: max threads %d", what,
                 k->name, k->max_threads);
  }
}

/* ---- CUDA ---- */

static void check_cuda(const struct cc_result *r, const char *what, const char *arch)
{
  check_wrapped(r, what);
  struct cubin_report_fn *rep;
  size_t nrep;
  cr_assert_eq(cubin_parse_report(r->log, &rep, &nrep), AT_OK);
  for (size_t i = 0; i < r->nkernels; i++) {
    const struct cc_kernel_res *k = &r->kernels[i];
    cr_assert_eq(k->agprs, -1);
    cr_assert_eq(k->sgprs, -1);
    cr_assert_eq(k->spill_bytes, 0, "%s: %s spills %lld", what, k->name,
                 (long long)k->spill_bytes);
    size_t j = 0;
    while (j < nrep && strcmp(rep[j].name, k->name) != 0)
      j++;
    cr_assert(j < nrep, "%s: the ptxas report lacks %s:\n%s", what, k->name, r->log);
    cr_assert_str_eq(rep[j].arch, arch);
    cr_assert_eq(k->registers, rep[j].registers, "%s: %s: cubin %d registers, ptxas %d",
                 what, k->name, k->registers, rep[j].registers);
    cr_assert_eq(rep[j].smem, k->shared_bytes);
  }
  free(rep);
}

Test(compile, nvrtc_sm80_scale)
{
  th_need_cc(&cc_nvrtc);
  struct cc_result r;
  compile(&cc_nvrtc, wrapped, "sm_80", NULL, &r);
  check_cuda(&r, "nvrtc sm_80", "sm_80");
  cr_assert(strncmp(r.toolchain, "nvrtc ", 6) == 0, "%s", r.toolchain);
  cc_result_release(&r);
}

Test(compile, nvrtc_sm90_scale)
{
  th_need_cc(&cc_nvrtc);
  struct cc_result r;
  compile(&cc_nvrtc, wrapped, "sm_90", NULL, &r);
  check_cuda(&r, "nvrtc sm_90", "sm_90");
  cc_result_release(&r);
}

Test(compile, nvcc_sm90_scale)
{
  th_need_cc(&cc_nvcc);
  struct cc_result r;
  compile(&cc_nvcc, wrapped, "sm_90", NULL, &r);
  check_cuda(&r, "nvcc sm_90", "sm_90");
  cr_assert(strncmp(r.toolchain, "nvcc ", 5) == 0, "%s", r.toolchain);
  cc_result_release(&r);
}

/* NVRTC and nvcc run the same ptxas: the same registers for every kernel. */
Test(compile, nvrtc_and_nvcc_agree)
{
  th_need_cc(&cc_nvrtc);
  th_need_cc(&cc_nvcc);
  struct cc_result a, b;
  compile(&cc_nvrtc, wrapped, "sm_90", NULL, &a);
  compile(&cc_nvcc, wrapped, "sm_90", NULL, &b);
  cr_assert_eq(a.status, CC_OK);
  cr_assert_eq(b.status, CC_OK);
  for (size_t i = 0; i < NKERNELS; i++) {
    const struct cc_kernel_res *ka = cc_result_kernel(&a, kernels[i].name);
    const struct cc_kernel_res *kb = cc_result_kernel(&b, kernels[i].name);
    cr_assert(ka && kb);
    cr_assert_eq(ka->registers, kb->registers, "%s: nvrtc %d, nvcc %d", ka->name,
                 ka->registers, kb->registers);
    cr_assert_eq(ka->shared_bytes, kb->shared_bytes);
  }
  cc_result_release(&a);
  cc_result_release(&b);
}

static bool find_cuobjdump(char *path, size_t len)
{
#ifdef AT_CUDA_ROOT
  if (os_which(AT_CUDA_ROOT "/bin/cuobjdump", path, len))
    return true;
#endif
  return os_which("/usr/local/cuda/bin/cuobjdump", path, len) ||
         os_which("cuobjdump", path, len);
}

/* One figure ("REG", "STACK", "SHARED") of `kernel` in cuobjdump -res-usage output:
 *  Function staged:
 *   REG:12 STACK:0 SHARED:5120 LOCAL:0 CONSTANT[0]:536 TEXTURE:0 SURFACE:0 SAMPLER:0 */
static long long cuobjdump_figure(const char *out, const char *kernel, const char *key)
{
  char head[160], k[32];
  snprintf(head, sizeof head, " Function %s:\n", kernel);
  const char *p = strstr(out, head);
  cr_assert(p, "cuobjdump names no %s:\n%s", kernel, out);
  p += strlen(head);
  const char *end = strchr(p, '\n');
  snprintf(k, sizeof k, " %s:", key);
  const char *v = strstr(p, k);
  cr_assert(v && (!end || v < end), "cuobjdump gives no %s for %s", key, kernel);
  return strtoll(v + strlen(k), NULL, 10);
}

static void cuobjdump_check(const char *arch)
{
  char tool[4096];
  th_need_cc(&cc_nvrtc);
  if (!find_cuobjdump(tool, sizeof tool))
    cr_skip_test("no cuobjdump (in the CUDA Toolkit's bin or on PATH)");
  struct cc_result r;
  compile(&cc_nvrtc, wrapped, arch, NULL, &r);
  cr_assert_eq(r.status, CC_OK, "%s", r.log);
  char *dir = th_tmpdir(), *file = th_path(dir, "k.cubin");
  cr_assert_eq(th_write(file, (const char *)r.code, r.code_size), 0);
  struct th_result out;
  th_sh(&out, "'%s' -res-usage '%s'", tool, file);
  cr_assert_eq(out.code, 0, "cuobjdump: %s", out.err);
  for (size_t i = 0; i < r.nkernels; i++) {
    const struct cc_kernel_res *k = &r.kernels[i];
    cr_assert_eq(cuobjdump_figure(out.out, k->name, "REG"), k->registers, "%s %s", arch,
                 k->name);
    cr_assert_eq(cuobjdump_figure(out.out, k->name, "STACK"), k->local_bytes);
    /* From sm_90 on cuobjdump counts the 1 KB system reservation in SHARED (cubin.c). */
    long long shared = cuobjdump_figure(out.out, k->name, "SHARED");
    if (strcmp(arch, "sm_80") == 0 || k->shared_bytes == 0)
      cr_assert_eq(shared, k->shared_bytes, "%s %s: %lld", arch, k->name, shared);
    else
      cr_assert_eq(shared, k->shared_bytes + 1024, "%s %s: %lld", arch, k->name, shared);
  }
  th_result_free(&out);
  th_rmtree(dir);
  free(file);
  free(dir);
  cc_result_release(&r);
}

Test(compile, nvrtc_sm80_matches_cuobjdump) { cuobjdump_check("sm_80"); }
Test(compile, nvrtc_sm90_matches_cuobjdump) { cuobjdump_check("sm_90"); }

static void check_spills(const struct cc_backend *b)
{
  th_need_cc(b);
  struct cc_result r;
  compile(b, spilling, "sm_90", NULL, &r);
  cr_assert_eq(r.status, CC_OK, "%s", r.log);
  const struct cc_kernel_res *k = cc_result_kernel(&r, "spill");
  cr_assert(k);
  cr_assert_gt(k->spill_bytes, 0, "%s: no spills reported:\n%s", b->name, r.log);
  cr_assert_gt(k->local_bytes, 0);
  cr_assert_leq(k->registers, 64);
  cr_assert_eq(k->max_threads, 1024);
  cc_result_release(&r);
}

Test(compile, nvrtc_reports_spills) { check_spills(&cc_nvrtc); }
Test(compile, nvcc_reports_spills) { check_spills(&cc_nvcc); }

/* ---- HIP ---- */

/* One top-level figure of `kernel`'s map in llvm-readelf --notes output (YAML):
 *   amdhsa.kernels:
 *     - .agpr_count:     0
 *       .args: ...
 *       .name:           staged
 *       .vgpr_count:     5
 * The kernel's entry runs from its "  - ." line to the next one or the first line
 * indented less. Returns -1 when the figure is absent. */
static long long readelf_figure(const char *out, const char *kernel, const char *key)
{
  const char *list = strstr(out, "amdhsa.kernels:\n");
  cr_assert(list, "no amdhsa.kernels in:\n%s", out);
  const char *p = list + strlen("amdhsa.kernels:\n");
  while (*p) {
    const char *start = p, *end = p;
    /* one entry: its first line starts "  - ", the others "    " or deeper */
    if (strncmp(p, "  - ", 4) != 0)
      break;
    do {
      const char *nl = strchr(end, '\n');
      end = nl ? nl + 1 : end + strlen(end);
    } while (*end && strncmp(end, "    ", 4) == 0);
    char name_line[160];
    snprintf(name_line, sizeof name_line, "    .name:");
    const char *n = strstr(start, name_line);
    if (n && n < end) {
      n += strlen(name_line);
      while (*n == ' ')
        n++;
      size_t kl = strlen(kernel);
      if (strncmp(n, kernel, kl) == 0 && n[kl] == '\n') {
        char k1[64], k2[64];
        snprintf(k1, sizeof k1, "\n    %s:", key);
        snprintf(k2, sizeof k2, "  - %s:", key);
        const char *v = strstr(start, k2) == start ? start + 2 : strstr(start, k1);
        if (!v || v >= end)
          return -1;
        v = strchr(v, ':') + 1;
        return strtoll(v, NULL, 10);
      }
    }
    p = end;
  }
  cr_assert_fail("llvm-readelf names no kernel %s", kernel);
  return -1;
}

static bool find_readelf(char *path, size_t len)
{
  return os_which("llvm-readelf-19", path, len) ||
         os_which("/usr/lib/llvm-19/bin/llvm-readelf", path, len) ||
         os_which("llvm-readelf", path, len);
}

/* Compare every figure of every kernel with llvm-readelf's reading of the notes. */
static void readelf_check(const struct cc_result *r, const char *arch)
{
  char tool[4096];
  if (!find_readelf(tool, sizeof tool))
    cr_skip_test("no llvm-readelf to cross-check with");
  char *dir = th_tmpdir(), *file = th_path(dir, "k.co");
  cr_assert_eq(th_write(file, (const char *)r->code, r->code_size), 0);
  struct th_result out;
  th_sh(&out, "'%s' --notes '%s'", tool, file);
  cr_assert_eq(out.code, 0, "llvm-readelf: %s", out.err);
  for (size_t i = 0; i < r->nkernels; i++) {
    const struct cc_kernel_res *k = &r->kernels[i];
    const char *n = k->name;
    /* gfx90a/gfx942 .vgpr_count is the unified total (amdgpu_co.h) */
    cr_assert_eq(readelf_figure(out.out, n, ".vgpr_count"), k->registers + k->agprs,
                 "%s %s: registers %d agprs %d", arch, n, k->registers, k->agprs);
    cr_assert_eq(readelf_figure(out.out, n, ".agpr_count"), k->agprs);
    cr_assert_eq(readelf_figure(out.out, n, ".sgpr_count"), k->sgprs);
    cr_assert_eq(readelf_figure(out.out, n, ".vgpr_spill_count"), k->vgpr_spills);
    cr_assert_eq(readelf_figure(out.out, n, ".sgpr_spill_count"), k->sgpr_spills);
    cr_assert_eq(readelf_figure(out.out, n, ".group_segment_fixed_size"), k->shared_bytes);
    cr_assert_eq(readelf_figure(out.out, n, ".private_segment_fixed_size"), k->local_bytes);
    cr_assert_eq(readelf_figure(out.out, n, ".max_flat_workgroup_size"), k->max_threads);
  }
  th_result_free(&out);
  th_rmtree(dir);
  free(file);
  free(dir);
}

static void check_hip(const char *arch)
{
  th_need_cc(&cc_clang_hip);
  struct cc_result r;
  compile(&cc_clang_hip, wrapped, arch, NULL, &r);
  check_wrapped(&r, arch);
  cr_assert(strncmp(r.toolchain, "clang ", 6) == 0, "%s", r.toolchain);
  for (size_t i = 0; i < r.nkernels; i++) {
    cr_assert_geq(r.kernels[i].sgprs, 0);
    cr_assert_eq(r.kernels[i].agprs, 0);
    cr_assert_eq(r.kernels[i].vgpr_spills, 0);
    cr_assert_eq(r.kernels[i].spill_bytes, -1);
  }
  readelf_check(&r, arch);
  cc_result_release(&r);
}

Test(compile, hip_gfx90a_scale) { check_hip("gfx90a"); }
Test(compile, hip_gfx942_scale) { check_hip("gfx942"); }

/* AGPRs count apart from the architectural VGPRs on the unified register file. */
Test(compile, hip_gfx942_agprs_apart)
{
  th_need_cc(&cc_clang_hip);
  static const char src[] =
      "#include \"at_common.h\"\n"
      "extern \"C\" __global__ void acc(float *p)\n"
      "{\n"
      "  float v = p[0];\n"
      "  asm volatile(\"v_accvgpr_write_b32 a9, %0\" :: \"v\"(v) : \"a9\");\n"
      "  p[1] = v * 2;\n"
      "}\n";
  struct cc_result r;
  compile(&cc_clang_hip, src, "gfx942", NULL, &r);
  cr_assert_eq(r.status, CC_OK, "%s", r.log);
  const struct cc_kernel_res *k = cc_result_kernel(&r, "acc");
  cr_assert(k);
  cr_assert_eq(k->agprs, 10);
  cr_assert(k->registers > 0 && k->registers < 10, "%d", k->registers);
  readelf_check(&r, "gfx942");
  cc_result_release(&r);
}

/* ---- failures ---- */

static void check_broken(const struct cc_backend *b, const char *arch, const char *line)
{
  th_need_cc(b);
  struct cc_result r;
  compile(b, broken, arch, NULL, &r);
  cr_assert_eq(r.status, CC_COMPILE_ERROR);
  cr_assert(r.log && strstr(r.log, line), "%s: the log does not name %s:\n%s", b->name,
            line, r.log ? r.log : "(none)");
  cr_assert_eq(r.nkernels, 0);
  cc_result_release(&r);
}

Test(compile, nvrtc_syntax_error) { check_broken(&cc_nvrtc, "sm_90", "variant.cu(3)"); }
Test(compile, nvcc_syntax_error) { check_broken(&cc_nvcc, "sm_90", "in.cu(3)"); }
Test(compile, hip_syntax_error) { check_broken(&cc_clang_hip, "gfx942", "in.hip:3:"); }

/* The device backends available here, one a call (NULL after the last), with the arch
 * each compiles for and one it must refuse. */
static const struct cc_backend *next_device_backend(size_t *i, const char **arch,
                                                    const char **foreign)
{
  static const struct cc_backend *const all[] = {&cc_nvrtc, &cc_nvcc, &cc_clang_hip};
  for (char why[256]; *i < sizeof all / sizeof all[0]; ++*i) {
    if (!all[*i]->available(why, sizeof why)) {
      cr_log_warn("%s is not available here, its checks skipped: %s", all[*i]->name, why);
      continue;
    }
    *arch = all[*i]->target == CC_CUDA ? "sm_90" : "gfx942";
    *foreign = all[*i]->target == CC_CUDA ? "gfx942" : "sm_90";
    return all[(*i)++];
  }
  return NULL;
}

/* A flag the compiler does not take is the variant's failure, with the compiler's words,
 * never the tool's: NVRTC returns its invalid-option code, nvcc and clang exit non-zero. */
Test(compile, unknown_flag_is_a_compile_error)
{
  static const char *const flags[] = {"--autotune-no-such-flag", NULL};
  const char *arch, *foreign;
  const struct cc_backend *b;
  for (size_t i = 0; (b = next_device_backend(&i, &arch, &foreign)) != NULL;) {
    struct cc_result r;
    compile(b, broken, arch, flags, &r);
    cr_assert_eq(r.status, CC_COMPILE_ERROR, "%s", b->name);
    cr_assert(r.log && *r.log, "%s: no log", b->name);
    cr_assert(r.toolchain && *r.toolchain, "%s: no toolchain", b->name);
    cr_assert_eq(r.nkernels, 0);
    cc_result_release(&r);
  }
}

Test(compile, bad_arch_is_usage)
{
  const char *arch, *foreign;
  const struct cc_backend *b;
  for (size_t i = 0; (b = next_device_backend(&i, &arch, &foreign)) != NULL;) {
    struct cc_result r;
    struct cc_request req = {.source = broken, .name = "x.cu", .arch = foreign};
    cr_assert_eq(b->compile(&req, &r), AT_USAGE, "%s", b->name);
    cr_assert_eq(r.status, CC_TOOL_ERROR);
    cc_result_release(&r);
  }
}

Test(compile, missing_tool_is_clear)
{
  const char *argv[] = {"autotune-no-such-compiler", "--version", NULL};
  int code;
  char *out = (char *)"unset";
  cr_assert_eq(os_run(argv, NULL, 10, &code, &out), AT_NOT_FOUND);
  cr_assert_null(out);
  cr_assert(strstr(at_last_error(), "autotune-no-such-compiler"), "%s", at_last_error());
  cr_assert_eq(cc_pick(CC_HOST), &cc_host, "%s", at_last_error());
  cr_assert_eq(cc_find("host"), &cc_host);
  cr_assert_null(cc_find("no-such-backend"));
  cr_assert_eq(cc_find("nvrtc"), &cc_nvrtc);
  cr_assert_eq(cc_find("clang-hip"), &cc_clang_hip);
}

/* nvcc and clang are found where this machine has them, with the version each prints;
 * the backends report the same tool. */
Test(compile, tool_probe_finds_nvcc_and_clang_with_versions)
{
  char v[64];
  const struct cc_tool *nv = cc_tool_nvcc();
  cr_assert_eq(cc_tool_nvcc(), nv, "probed once");
  if (!getenv("CUDA_PATH") && access("/usr/local/cuda/bin/nvcc", X_OK) == 0) {
    cr_assert_str_eq(nv->path, "/usr/local/cuda/bin/nvcc", "%s", nv->why);
    cr_assert(nv->version[0] >= '1' && nv->version[0] <= '9' && strchr(nv->version, '.'),
              "nvcc version '%s'", nv->version);
  }
  if (nv->path[0]) {
    cr_assert_str_eq(cc_nvcc_path(), nv->path);
    cr_assert_eq(cc_nvcc.version(NULL, v, sizeof v), AT_OK);
    cr_assert_str_eq(v + strlen("nvcc "), nv->version);
  }
  const struct cc_tool *cl = cc_tool_clang();
  if (access(AT_CLANG19, X_OK) == 0 && access("/opt/rocm/llvm/bin/clang", X_OK) != 0 &&
      !getenv("ROCM_PATH")) {
    cr_assert_str_eq(cl->path, AT_CLANG19, "%s", cl->why);
    cr_assert(strncmp(cl->version, "19.", 3) == 0, "clang version '%s'", cl->version);
  }
  if (cl->path[0]) {
    cr_assert_eq(cc_clang_hip.version(NULL, v, sizeof v), AT_OK);
    cr_assert_str_eq(v + strlen("clang "), cl->version);
  }
}

/* The environment's folder comes first; an absent tool is a status naming each place
 * tried. */
Test(compile, tool_probe_order_and_absence)
{
  const char *const none[] = {"/nonexistent/autotune/cc", "autotune-no-such-compiler", "",
                              NULL};
  const struct cc_tool_spec absent = {"cc", "AUTOTUNE_TEST_TOOL_ROOT", "/nonexistent/root",
                                      "/bin/cc", none, "version "};
  struct cc_tool t;
  unsetenv("AUTOTUNE_TEST_TOOL_ROOT");
  cr_assert_eq(cc_tool_probe(&absent, &t), AT_UNSUPPORTED);
  cr_assert_str_eq(t.path, "");
  cr_assert_str_eq(t.why, "no cc (tried /nonexistent/root/bin/cc, /nonexistent/autotune/cc, "
                          "autotune-no-such-compiler)");
  if (access("/usr/local/cuda/bin/nvcc", X_OK) != 0)
    cr_skip_test("no /usr/local/cuda/bin/nvcc here");
  const char *const later[] = {"/usr/local/cuda/bin/nvcc", NULL};
  const struct cc_tool_spec first = {"nvcc", "AUTOTUNE_TEST_TOOL_ROOT", NULL, "/bin/nvcc",
                                     later, "release "};
  setenv("AUTOTUNE_TEST_TOOL_ROOT", "/nonexistent", 1);
  cr_assert_eq(cc_tool_probe(&first, &t), AT_OK);
  cr_assert_str_eq(t.path, "/usr/local/cuda/bin/nvcc");
  setenv("AUTOTUNE_TEST_TOOL_ROOT", "/usr/local/cuda/bin/..", 1);
  cr_assert_eq(cc_tool_probe(&first, &t), AT_OK);
  cr_assert_str_eq(t.path, "/usr/local/cuda/bin/../bin/nvcc", "the environment first");
  cr_assert_str_eq(t.version, cc_tool_nvcc()->version);
  unsetenv("AUTOTUNE_TEST_TOOL_ROOT");
}

Test(compile, pick_prefers_nvrtc_then_nvcc)
{
  char why[256];
  const struct cc_backend *b = cc_pick(CC_CUDA);
  if (cc_nvrtc.available(why, sizeof why))
    cr_assert_eq(b, &cc_nvrtc);
  else if (cc_nvcc.available(why, sizeof why))
    cr_assert_eq(b, &cc_nvcc);
  else
    cr_assert(b == NULL && strstr(at_last_error(), "nvrtc"), "%s", at_last_error());
  b = cc_pick(CC_HIP);
  if (cc_clang_hip.available(why, sizeof why))
    cr_assert_eq(b, &cc_clang_hip);
}

/* A compiler that runs past its time is killed, and the variant fails. */
Test(compile, subprocess_timeout)
{
  const char *argv[] = {"sleep", "30", NULL};
  int code;
  char *out;
  cr_assert_eq(os_run(argv, NULL, 1, &code, &out), AT_OK);
  cr_assert_eq(code, 124);
  free(out);
  const char *echo[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
  cr_assert_eq(os_run(echo, NULL, 10, &code, &out), AT_OK);
  cr_assert_eq(code, 3);
  cr_assert(strstr(out, "out\n") && strstr(out, "err\n"), "%s", out);
  free(out);
}
