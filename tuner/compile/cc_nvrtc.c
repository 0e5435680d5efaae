/*
 * cc_nvrtc.c - the NVRTC compile backend: CUDA C++ to a cubin in this process. NVRTC is
 * opened with dlopen (libnvrtc.so.13, libnvrtc.so, then the build's toolkit's lib64)
 * through base/dl.h's opener, once per process under pthread_once, and never linked, so
 * the autotune binary runs where the toolkit is absent. The entry points are typed from the toolkit's nvrtc.h,
 * which is why the backend exists only in a build that saw the toolkit. Each compile
 * owns its own nvrtcProgram; NVRTC is thread-safe across programs, so any number of
 * threads may compile at once. The program is compiled for the real architecture
 * (--gpu-architecture=sm_XX) so that NVRTC runs ptxas and returns a cubin, whose
 * resources cubin.c reads, with ptxas -v's report in the log for the spills.
 */
#include "tuner/compile/compile.h"
#include "tuner/compile/cubin.h"
#include "base/dl.h"
#include "base/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef AT_HAVE_CUDA
#include <dlfcn.h>
#include <nvrtc.h>
#include <pthread.h>


#define MAX_OPTS 256

static struct {
  void *lib;
  const char *libname; /* the candidate opened */
  char why[512];
  int major, minor;
  nvrtcResult (*version)(int *major, int *minor);
  const char *(*error_string)(nvrtcResult result);
  nvrtcResult (*create)(nvrtcProgram *prog, const char *src, const char *name,
                        int num_headers, const char *const *headers,
                        const char *const *include_names);
  nvrtcResult (*compile)(nvrtcProgram prog, int num_options, const char *const *options);
  nvrtcResult (*log_size)(nvrtcProgram prog, size_t *size);
  nvrtcResult (*get_log)(nvrtcProgram prog, char *log);
  nvrtcResult (*cubin_size)(nvrtcProgram prog, size_t *size);
  nvrtcResult (*get_cubin)(nvrtcProgram prog, char *cubin);
  nvrtcResult (*destroy)(nvrtcProgram *prog);
} nv;

static pthread_once_t nv_once = PTHREAD_ONCE_INIT;

#define SYM(field, name) sym(name, &nv.field, sizeof nv.field)

static bool sym(const char *name, void *fnptr, size_t fnsize)
{
  if (dl_sym(nv.lib, name, fnptr, fnsize))
    return true;
  snprintf(nv.why, sizeof nv.why, "%s lacks %s", nv.libname, name);
  return false;
}

static void nv_load(void)
{
  static const char *const names[] = {"libnvrtc.so.13", "libnvrtc.so",
                                      AT_CUDA_ROOT "/lib64/libnvrtc.so", NULL};
  if (dl_open_first(names, NULL, &nv.lib, &nv.libname, nv.why, sizeof nv.why) != AT_OK)
    return;
  if (!SYM(version, "nvrtcVersion") || !SYM(error_string, "nvrtcGetErrorString") ||
      !SYM(create, "nvrtcCreateProgram") || !SYM(compile, "nvrtcCompileProgram") ||
      !SYM(log_size, "nvrtcGetProgramLogSize") || !SYM(get_log, "nvrtcGetProgramLog") ||
      !SYM(cubin_size, "nvrtcGetCUBINSize") || !SYM(get_cubin, "nvrtcGetCUBIN") ||
      !SYM(destroy, "nvrtcDestroyProgram")) {
    dlclose(nv.lib);
    nv.lib = NULL;
    return;
  }
  if (nv.version(&nv.major, &nv.minor) != NVRTC_SUCCESS)
    nv.major = nv.minor = 0;
}

static bool nvrtc_available(char *why, size_t why_len)
{
  pthread_once(&nv_once, nv_load);
  if (!nv.lib && why && why_len)
    snprintf(why, why_len, "%s", nv.why);
  return nv.lib != NULL;
}

static int nvrtc_compile(const struct cc_request *req, struct cc_result *res)
{
  int rc = AT_OK;
  nvrtcProgram prog = NULL;
  const char *opts[MAX_OPTS];
  char *owned[MAX_OPTS];
  int nopts = 0, nowned = 0;
  size_t n = 0;
  memset(res, 0, sizeof *res);

  if (!nvrtc_available(NULL, 0)) {
    rc = at_error(AT_UNSUPPORTED, "nvrtc: %s", nv.why);
    goto out;
  }
  if (!req || !req->source || !cubin_arch_ok(req->arch)) {
    rc = at_error(AT_USAGE, "nvrtc: bad request (arch '%.40s')",
                  req && req->arch ? req->arch : "");
    goto out;
  }
  res->toolchain = os_strdupf("nvrtc %d.%d", nv.major, nv.minor);
  if (!res->toolchain || !(owned[nowned++] = os_strdupf("--gpu-architecture=%s", req->arch))) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  opts[nopts++] = owned[nowned - 1];
  opts[nopts++] = "-std=c++17";
  opts[nopts++] = "--ptxas-options=-v";
  for (size_t i = 0; req->include_dirs && req->include_dirs[i]; i++) {
    if (nopts >= MAX_OPTS - 1 || !(owned[nowned++] = os_strdupf("-I%s", req->include_dirs[i]))) {
      rc = at_error(AT_NOMEM, "nvrtc: too many or too long include folders");
      goto out;
    }
    opts[nopts++] = owned[nowned - 1];
  }
  for (size_t i = 0; req->flags && req->flags[i]; i++) {
    if (nopts >= MAX_OPTS) {
      rc = at_error(AT_USAGE, "nvrtc: too many flags");
      goto out;
    }
    opts[nopts++] = req->flags[i];
  }

  nvrtcResult r = nv.create(&prog, req->source, req->name ? req->name : "variant.cu", 0,
                            NULL, NULL);
  if (r != NVRTC_SUCCESS) {
    prog = NULL;
    rc = at_error(r == NVRTC_ERROR_OUT_OF_MEMORY ? AT_NOMEM : AT_UNSUPPORTED,
                  "nvrtc: cannot create a program: %s", nv.error_string(r));
    goto out;
  }
  nvrtcResult cr = nv.compile(prog, nopts, opts);
  if (nv.log_size(prog, &n) == NVRTC_SUCCESS && (res->log = malloc(n + 1)) != NULL) {
    if (nv.get_log(prog, res->log) != NVRTC_SUCCESS)
      n = 0;
    res->log[n] = '\0';
  }
  if (!res->log) {
    rc = at_error(AT_NOMEM, "nvrtc: out of memory for the log");
    goto out;
  }
  if (cr == NVRTC_ERROR_COMPILATION || cr == NVRTC_ERROR_INVALID_OPTION) {
    /* a bad user flag is the variant's failure too: the log says which */
    if (cr == NVRTC_ERROR_INVALID_OPTION && !*res->log) {
      free(res->log);
      res->log = os_strdupf("nvrtc: %s", nv.error_string(cr));
    }
    res->status = CC_COMPILE_ERROR;
    goto out;
  }
  if (cr != NVRTC_SUCCESS) {
    rc = at_error(cr == NVRTC_ERROR_OUT_OF_MEMORY ? AT_NOMEM : AT_UNSUPPORTED,
                  "nvrtc: compiling '%.100s' failed: %s", req->name ? req->name : "",
                  nv.error_string(cr));
    goto out;
  }
  if (nv.cubin_size(prog, &n) != NVRTC_SUCCESS || n == 0 || !(res->code = malloc(n)) ||
      nv.get_cubin(prog, (char *)res->code) != NVRTC_SUCCESS) {
    rc = at_error(AT_UNSUPPORTED, "nvrtc: no cubin for '%.40s'", req->arch);
    goto out;
  }
  res->code_size = n;
  rc = cubin_resources(res->code, res->code_size, res->log, &res->kernels, &res->nkernels);
  if (rc == AT_OK)
    res->status = CC_OK;
out:
  if (prog)
    nv.destroy(&prog);
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

static int nvrtc_version(char *out, size_t out_len)
{
  char why[sizeof nv.why];
  if (!nvrtc_available(why, sizeof why))
    return at_error(AT_UNSUPPORTED, "nvrtc: %s", why);
  snprintf(out, out_len, "nvrtc %d.%d", nv.major, nv.minor);
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

static int nvrtc_version(char *out, size_t out_len)
{
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
