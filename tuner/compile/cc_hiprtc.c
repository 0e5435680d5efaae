/*
 * cc_hiprtc.c - the hipRTC compile backend: HIP C++ to an AMD code object in this
 * process, through ROCm's runtime compiler opened with dlopen (libhiprtc.so from
 * $ROCM_PATH/lib or the loader's path; ROCm 5.2 and older carry hipRTC inside
 * libamdhip64.so, which Debian's libamdhip64-dev installs). Never linked: without ROCm
 * the backend reports itself unavailable and clang-hip does the work. hipRTC's entry
 * points mirror NVRTC's (and number their results alike), so the compile step is rtc.c's;
 * the code object is read by amdgpu_co.c like clang's. A hipRTC built on an older LLVM
 * may not know every arch (Debian's 5.2 knows gfx90a, not gfx942): that is a compile
 * error with hipRTC's own words, and cc_pick's order puts clang first for HIP, so hipRTC
 * is chosen only by name (--backend hiprtc).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/compile/amdgpu_co.h"
#include "tuner/compile/compile.h"
#include "tuner/compile/rtc.h"
#include "base/dl.h"
#include "base/status.h"

/* One compile at a time: ROCm 5.x's hipRTC documents no thread safety across programs
 * (NVRTC does); the batches of one run then compile in turn. */
static pthread_mutex_t hr_mu = PTHREAD_MUTEX_INITIALIZER;
static struct rtc_lib hr = {.tag = "hiprtc", .serialize = &hr_mu};
static pthread_once_t hr_once = PTHREAD_ONCE_INIT;

static void hr_load(void)
{
  char rocm[600] = "";
  const char *root = getenv("ROCM_PATH");
  snprintf(rocm, sizeof rocm, "%s/lib/libhiprtc.so", root && *root ? root : "/opt/rocm");
  /* ROCm 5.3+ ship hipRTC alone; 5.2 and older inside libamdhip64 (hence the needed
   * symbol: a libamdhip64 without hipRTC is passed over). */
  const char *const names[] = {rocm,           "libhiprtc.so", "libhiprtc.so.6",
                               "libhiprtc.so.5", "libamdhip64.so.5", "libamdhip64.so", NULL};
  static const char *const syms[RTC_NSYMS] = {
      [RTC_CREATE] = "hiprtcCreateProgram",     [RTC_COMPILE] = "hiprtcCompileProgram",
      [RTC_LOG_SIZE] = "hiprtcGetProgramLogSize", [RTC_GET_LOG] = "hiprtcGetProgramLog",
      [RTC_CODE_SIZE] = "hiprtcGetCodeSize",    [RTC_GET_CODE] = "hiprtcGetCode",
      [RTC_DESTROY] = "hiprtcDestroyProgram",   [RTC_ERROR_STRING] = "hiprtcGetErrorString"};
  rtc_load(&hr, names, syms);
  if (!hr.lib) {
    char why[sizeof hr.why];
    snprintf(why, sizeof why, "%s", hr.why);
    snprintf(hr.why, sizeof hr.why, "no hipRTC: %.440s; install ROCm or set ROCM_PATH", why);
    return;
  }
  int major = 0, minor = 0, (*version)(int *, int *) = NULL; /* absent before ROCm 5.3 */
  if (dl_sym(hr.lib, "hiprtcVersion", &version, sizeof version) &&
      version(&major, &minor) == RTC_SUCCESS)
    snprintf(hr.version, sizeof hr.version, "hiprtc %d.%d (%.40s)", major, minor, hr.libname);
  else
    snprintf(hr.version, sizeof hr.version, "hiprtc (%.40s)", hr.libname);
}

static bool hiprtc_available(char *why, size_t why_len)
{
  pthread_once(&hr_once, hr_load);
  return rtc_available(&hr, why, why_len);
}

static int hiprtc_version(const char *const *include_dirs, char *out, size_t out_len)
{
  (void)include_dirs;
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
  static const char *const fixed[] = {"-O3", "-std=c++17", NULL};
  memset(res, 0, sizeof *res);
  res->status = CC_TOOL_ERROR;
  if (!hiprtc_available(NULL, 0))
    return at_error(AT_UNSUPPORTED, "hiprtc: %s", hr.why);
  if (!req || !req->source || !arch_ok(req->arch))
    return at_error(AT_USAGE, "hiprtc: bad request (arch '%.40s', expected gfx...)",
                    req && req->arch ? req->arch : "");
  if (too_new_for_this_hiprtc(req->arch)) {
    res->toolchain = strdup(hr.version);
    res->log = os_strdupf("hiprtc: %s (ROCm 5.2's hipRTC, LLVM 15) does not know %s; "
                          "compile with clang-hip or a newer ROCm", hr.libname, req->arch);
    res->status = CC_COMPILE_ERROR;
    if (res->log && res->toolchain)
      return AT_OK;
    cc_result_release(res);
    res->status = CC_TOOL_ERROR;
    return at_error(AT_NOMEM, "out of memory");
  }
  return rtc_compile(&hr, req, "--offload-arch=", fixed, "code object", amdgpu_co_resources, res);
}

const struct cc_backend cc_hiprtc = {
    /* .name = */ "hiprtc",
    /* .target = */ CC_HIP,
    /* .available = */ hiprtc_available,
    /* .compile = */ hiprtc_compile,
    /* .version = */ hiprtc_version,
};
