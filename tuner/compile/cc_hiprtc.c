/*
 * cc_hiprtc.c - the hipRTC compile backend: HIP C++ to an AMD code object in this
 * process, through ROCm's runtime compiler opened with dlopen (libhiprtc.so from
 * $ROCM_PATH/lib or the loader's path; ROCm 5.2 and older carry hipRTC inside
 * libamdhip64.so, which Debian's libamdhip64-dev installs). Never linked: without ROCm
 * the backend reports itself unavailable and clang-hip does the work. The entry points
 * are declared here from ROCm's hiprtc.h (their result codes are NVRTC's numbering).
 * Each compile owns its program; the code object is read by amdgpu_co.c like clang's.
 * A hipRTC built on an older LLVM may not know every arch (Debian's 5.2 knows gfx90a,
 * not gfx942): that is a compile error with hipRTC's own words, and cc_pick's order
 * puts clang first for HIP, so hipRTC is chosen only by name (--backend hiprtc).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/compile/amdgpu_co.h"
#include "tuner/compile/compile.h"
#include "base/dl.h"
#include "base/status.h"

typedef struct hiprtc_program *hiprtc_program;
enum { HIPRTC_SUCCESS = 0, HIPRTC_ERROR_OUT_OF_MEMORY = 1, HIPRTC_ERROR_INVALID_OPTION = 5,
       HIPRTC_ERROR_COMPILATION = 6 };

#define MAX_OPTS 256

static struct {
  void *lib;
  char libname[128];
  char why[512];
  char version[64];
  int (*create)(hiprtc_program *prog, const char *src, const char *name, int num_headers,
                const char **headers, const char **include_names);
  int (*compile)(hiprtc_program prog, int num_options, const char **options);
  int (*log_size)(hiprtc_program prog, size_t *size);
  int (*get_log)(hiprtc_program prog, char *log);
  int (*code_size)(hiprtc_program prog, size_t *size);
  int (*get_code)(hiprtc_program prog, char *code);
  int (*destroy)(hiprtc_program *prog);
  const char *(*error_string)(int result);
  int (*rtc_version)(int *major, int *minor); /* absent before ROCm 5.3 */
} hr;

static pthread_once_t hr_once = PTHREAD_ONCE_INIT;
/* One compile at a time: ROCm 5.x's hipRTC documents no thread safety across programs
 * (NVRTC does); the batches of one run then compile in turn. */
static pthread_mutex_t hr_mu = PTHREAD_MUTEX_INITIALIZER;

static bool sym(const char *name, void *fnptr, size_t fnsize, bool required)
{
  if (dl_sym(hr.lib, name, fnptr, fnsize))
    return true;
  if (required)
    snprintf(hr.why, sizeof hr.why, "%s lacks %s", hr.libname, name);
  return !required;
}
#define SYM(field, name, req) sym(name, &hr.field, sizeof hr.field, req)

static void hr_load(void)
{
  char rocm[600] = "";
  const char *root = getenv("ROCM_PATH");
  snprintf(rocm, sizeof rocm, "%s/lib/libhiprtc.so", root && *root ? root : "/opt/rocm");
  /* ROCm 5.3+ ship hipRTC alone; 5.2 and older inside libamdhip64 (hence the needed
   * symbol: a libamdhip64 without hipRTC is passed over). */
  const char *const names[] = {rocm,           "libhiprtc.so", "libhiprtc.so.6",
                               "libhiprtc.so.5", "libamdhip64.so.5", "libamdhip64.so", NULL};
  const char *opened = NULL;
  char why[sizeof hr.why - 64];
  if (dl_open_first(names, "hiprtcCompileProgram", &hr.lib, &opened, why, sizeof why) !=
      AT_OK) {
    snprintf(hr.why, sizeof hr.why, "no hipRTC: %s; install ROCm or set ROCM_PATH", why);
    return;
  }
  snprintf(hr.libname, sizeof hr.libname, "%s",
           strrchr(opened, '/') ? strrchr(opened, '/') + 1 : opened);
  if (!SYM(create, "hiprtcCreateProgram", true) || !SYM(compile, "hiprtcCompileProgram", true) ||
      !SYM(log_size, "hiprtcGetProgramLogSize", true) ||
      !SYM(get_log, "hiprtcGetProgramLog", true) || !SYM(code_size, "hiprtcGetCodeSize", true) ||
      !SYM(get_code, "hiprtcGetCode", true) || !SYM(destroy, "hiprtcDestroyProgram", true) ||
      !SYM(error_string, "hiprtcGetErrorString", true) ||
      !SYM(rtc_version, "hiprtcVersion", false)) {
    dlclose(hr.lib);
    hr.lib = NULL;
    return;
  }
  int major = 0, minor = 0;
  if (hr.rtc_version && hr.rtc_version(&major, &minor) == HIPRTC_SUCCESS)
    snprintf(hr.version, sizeof hr.version, "hiprtc %d.%d (%.40s)", major, minor, hr.libname);
  else
    snprintf(hr.version, sizeof hr.version, "hiprtc (%.40s)", hr.libname);
}

static bool hiprtc_available(char *why, size_t why_len)
{
  pthread_once(&hr_once, hr_load);
  if (!hr.lib && why && why_len)
    snprintf(why, why_len, "%s", hr.why);
  return hr.lib != NULL;
}

static int hiprtc_version(char *out, size_t out_len)
{
  char why[sizeof hr.why];
  if (!hiprtc_available(why, sizeof why))
    return at_error(AT_UNSUPPORTED, "hiprtc: %s", why);
  snprintf(out, out_len, "%s", hr.version);
  return AT_OK;
}

static bool arch_ok(const char *arch)
{
  if (!arch || strncmp(arch, "gfx", 3) != 0 || strlen(arch) > 16)
    return false;
  for (const char *p = arch + 3; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return false;
  return arch[3] != '\0';
}

/* ROCm 5.2's hipRTC (inside libamdhip64.so.5, LLVM 15) aborts the whole process inside
 * comgr when asked for an arch its LLVM predates, instead of returning an error; refuse
 * those here, in its stead. LLVM 15 knows gfx940 but not gfx941/gfx942/gfx950 or gfx11+. */
static bool too_new_for_this_hiprtc(const char *arch)
{
  if (strcmp(hr.libname, "libamdhip64.so.5") != 0)
    return false;
  return !strcmp(arch, "gfx941") || !strcmp(arch, "gfx942") || !strncmp(arch, "gfx95", 5) ||
         !strncmp(arch, "gfx11", 5) || !strncmp(arch, "gfx12", 5);
}

static int hiprtc_compile(const struct cc_request *req, struct cc_result *res)
{
  int rc = AT_OK;
  hiprtc_program prog = NULL;
  const char *opts[MAX_OPTS];
  char *owned[MAX_OPTS];
  int nopts = 0, nowned = 0;
  size_t n = 0;
  memset(res, 0, sizeof *res);
  if (!hiprtc_available(NULL, 0)) {
    rc = at_error(AT_UNSUPPORTED, "hiprtc: %s", hr.why);
    goto out;
  }
  if (!req || !req->source || !arch_ok(req->arch)) {
    rc = at_error(AT_USAGE, "hiprtc: bad request (arch '%.40s', expected gfx...)",
                  req && req->arch ? req->arch : "");
    goto out;
  }
  if (too_new_for_this_hiprtc(req->arch)) {
    res->toolchain = strdup(hr.version);
    res->log = os_strdupf("hiprtc: %s (ROCm 5.2's hipRTC, LLVM 15) does not know %s; "
                          "compile with clang-hip or a newer ROCm", hr.libname, req->arch);
    res->status = CC_COMPILE_ERROR;
    if (!res->log || !res->toolchain)
      rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  if (!(res->toolchain = strdup(hr.version)) ||
      !(owned[nowned++] = os_strdupf("--offload-arch=%s", req->arch))) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  opts[nopts++] = owned[nowned - 1];
  opts[nopts++] = "-O3";
  opts[nopts++] = "-std=c++17";
  for (size_t i = 0; req->include_dirs && req->include_dirs[i]; i++) {
    char *abs = nopts < MAX_OPTS - 1 ? os_abspath(req->include_dirs[i]) : NULL;
    char *opt = abs ? os_strdupf("-I%s", abs) : NULL;
    free(abs);
    if (!opt) {
      rc = at_error(AT_NOMEM, "hiprtc: too many or too long include folders");
      goto out;
    }
    owned[nowned++] = opt;
    opts[nopts++] = opt;
  }
  for (size_t i = 0; req->flags && req->flags[i]; i++) {
    if (nopts >= MAX_OPTS) {
      rc = at_error(AT_USAGE, "hiprtc: too many flags");
      goto out;
    }
    opts[nopts++] = req->flags[i];
  }
  int r = hr.create(&prog, req->source, req->name ? req->name : "variant.hip", 0, NULL, NULL);
  if (r != HIPRTC_SUCCESS) {
    prog = NULL;
    rc = at_error(r == HIPRTC_ERROR_OUT_OF_MEMORY ? AT_NOMEM : AT_UNSUPPORTED,
                  "hiprtc: cannot create a program: %s", hr.error_string(r));
    goto out;
  }
  pthread_mutex_lock(&hr_mu);
  int cr = hr.compile(prog, nopts, opts);
  pthread_mutex_unlock(&hr_mu);
  if (hr.log_size(prog, &n) == HIPRTC_SUCCESS && (res->log = malloc(n + 1)) != NULL) {
    if (n && hr.get_log(prog, res->log) != HIPRTC_SUCCESS)
      n = 0;
    res->log[n] = '\0';
  }
  if (!res->log) {
    rc = at_error(AT_NOMEM, "hiprtc: out of memory for the log");
    goto out;
  }
  if (cr == HIPRTC_ERROR_COMPILATION || cr == HIPRTC_ERROR_INVALID_OPTION) {
    if (!*res->log) {
      free(res->log);
      res->log = os_strdupf("hiprtc: %s", hr.error_string(cr));
    }
    res->status = CC_COMPILE_ERROR;
    goto out;
  }
  if (cr != HIPRTC_SUCCESS) {
    rc = at_error(cr == HIPRTC_ERROR_OUT_OF_MEMORY ? AT_NOMEM : AT_UNSUPPORTED,
                  "hiprtc: compiling '%.100s' failed: %s", req->name ? req->name : "",
                  hr.error_string(cr));
    goto out;
  }
  if (hr.code_size(prog, &n) != HIPRTC_SUCCESS || n == 0 || !(res->code = malloc(n)) ||
      hr.get_code(prog, (char *)res->code) != HIPRTC_SUCCESS) {
    rc = at_error(AT_UNSUPPORTED, "hiprtc: no code object for '%.40s'", req->arch);
    goto out;
  }
  res->code_size = n;
  rc = amdgpu_co_resources(res->code, res->code_size, &res->kernels, &res->nkernels);
  if (rc == AT_OK)
    res->status = CC_OK;
out:
  if (prog)
    hr.destroy(&prog);
  for (int i = 0; i < nowned; i++)
    free(owned[i]);
  if (rc != AT_OK) {
    char *log = res->log;
    res->log = NULL;
    cc_result_release(res);
    res->status = CC_TOOL_ERROR;
    res->log = log;
  }
  return rc;
}

const struct cc_backend cc_hiprtc = {
    /* .name = */ "hiprtc",
    /* .target = */ CC_HIP,
    /* .available = */ hiprtc_available,
    /* .compile = */ hiprtc_compile,
    /* .version = */ hiprtc_version,
};
