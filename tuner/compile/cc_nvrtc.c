/*
 * cc_nvrtc.c - the NVRTC compile backend: CUDA C++ to a cubin in this process. NVRTC is
 * opened with dlopen (libnvrtc.so.13, libnvrtc.so, then the build's toolkit's lib64)
 * through base/dl.h's opener, once per process under pthread_once, and never linked, so
 * the autotune binary runs where the toolkit is absent. The backend exists only in a
 * build that saw the toolkit (its nvrtc.h pins the result numbering rtc.h relies on).
 * Each compile owns its own nvrtcProgram; NVRTC is thread-safe across programs, so any
 * number of threads may compile at once. The program is compiled for the real
 * architecture (--gpu-architecture=sm_XX) so that NVRTC runs ptxas and returns a cubin,
 * whose resources cubin.c reads, with ptxas -v's report in the log for the spills. The
 * compile step itself is rtc.c's, shared with hipRTC.
 */
#include "tuner/compile/compile.h"
#include "tuner/compile/cubin.h"
#include "tuner/compile/rtc.h"
#include "base/dl.h"
#include "base/status.h"

#include <stdio.h>
#include <string.h>

#ifdef AT_HAVE_CUDA
#include <nvrtc.h>
#include <pthread.h>

_Static_assert((int)NVRTC_SUCCESS == (int)RTC_SUCCESS &&
                   (int)NVRTC_ERROR_OUT_OF_MEMORY == (int)RTC_OUT_OF_MEMORY &&
                   (int)NVRTC_ERROR_INVALID_OPTION == (int)RTC_INVALID_OPTION &&
                   (int)NVRTC_ERROR_COMPILATION == (int)RTC_COMPILATION,
               "rtc.h's result codes are NVRTC's");

static struct rtc_lib nv = {.tag = "nvrtc"};
static pthread_once_t nv_once = PTHREAD_ONCE_INIT;

static void nv_load(void)
{
  static const char *const names[] = {"libnvrtc.so.13", "libnvrtc.so",
                                      AT_CUDA_ROOT "/lib64/libnvrtc.so", NULL};
  static const char *const syms[RTC_NSYMS] = {
      [RTC_CREATE] = "nvrtcCreateProgram",     [RTC_COMPILE] = "nvrtcCompileProgram",
      [RTC_LOG_SIZE] = "nvrtcGetProgramLogSize", [RTC_GET_LOG] = "nvrtcGetProgramLog",
      [RTC_CODE_SIZE] = "nvrtcGetCUBINSize",   [RTC_GET_CODE] = "nvrtcGetCUBIN",
      [RTC_DESTROY] = "nvrtcDestroyProgram",   [RTC_ERROR_STRING] = "nvrtcGetErrorString"};
  rtc_load(&nv, names, syms);
  int major = 0, minor = 0, (*version)(int *, int *) = NULL;
  if (nv.lib && (!dl_sym(nv.lib, "nvrtcVersion", &version, sizeof version) ||
                 version(&major, &minor) != RTC_SUCCESS))
    major = minor = 0;
  snprintf(nv.version, sizeof nv.version, "nvrtc %d.%d", major, minor);
}

static bool nvrtc_available(char *why, size_t why_len)
{
  pthread_once(&nv_once, nv_load);
  return rtc_available(&nv, why, why_len);
}

static int nvrtc_compile(const struct cc_request *req, struct cc_result *res)
{
  static const char *const fixed[] = {"-std=c++17", "--ptxas-options=-v", NULL};
  memset(res, 0, sizeof *res);
  res->status = CC_TOOL_ERROR;
  if (!nvrtc_available(NULL, 0))
    return at_error(AT_UNSUPPORTED, "nvrtc: %s", nv.why);
  if (!req || !req->source || !cubin_arch_ok(req->arch))
    return at_error(AT_USAGE, "nvrtc: bad request (arch '%.40s')",
                    req && req->arch ? req->arch : "");
  return rtc_compile(&nv, req, "--gpu-architecture=", fixed, "cubin", cubin_resources, res);
}

static int nvrtc_version(const char *const *include_dirs, char *out, size_t out_len)
{
  (void)include_dirs;
  char why[sizeof nv.why];
  if (!nvrtc_available(why, sizeof why))
    return at_error(AT_UNSUPPORTED, "nvrtc: %s", why);
  snprintf(out, out_len, "%s", nv.version);
  return AT_OK;
}

#else /* !AT_HAVE_CUDA */

static bool nvrtc_available(char *why, size_t why_len)
{
  if (why && why_len)
    snprintf(why, why_len, "built without the CUDA Toolkit");
  return false;
}

static int nvrtc_compile(const struct cc_request *req, struct cc_result *res)
{
  (void)req;
  memset(res, 0, sizeof *res);
  res->status = CC_TOOL_ERROR;
  return at_error(AT_UNSUPPORTED, "nvrtc: built without the CUDA Toolkit");
}

static int nvrtc_version(const char *const *include_dirs, char *out, size_t out_len)
{
  (void)include_dirs;
  (void)out, (void)out_len;
  return at_error(AT_UNSUPPORTED, "nvrtc: built without the CUDA Toolkit");
}

#endif

const struct cc_backend cc_nvrtc = {
    /* .name = */ "nvrtc",
    /* .target = */ CC_CUDA,
    /* .available = */ nvrtc_available,
    /* .compile = */ nvrtc_compile,
    /* .version = */ nvrtc_version,
};
