/*
 * cc_nvcc.c - the nvcc compile backend: CUDA C++ to a cubin through the nvcc command, one
 * process per translation unit, in a private temporary folder:
 *   nvcc -cubin -arch=sm_XX -std=c++17 -Xptxas -v -I<dir>... <flags> -o out.cubin in.cu
 * nvcc is looked up in $CUDA_PATH/bin, the build's toolkit, /usr/local/cuda/bin, then
 * PATH (tool.c, cc_tool_nvcc). It needs no CUDA driver or GPU. Slower than NVRTC (a process, the host compiler
 * front end and files per compile), it is the fallback and the cross-check.
 */
#include "tuner/compile/compile.h"
#include "tuner/compile/cubin.h"
#include "tuner/compile/tool.h"
#include "base/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static bool nvcc_available(char *why, size_t why_len)
{
  const struct cc_tool *t = cc_tool_nvcc();
  if (!t->path[0] && why && why_len)
    snprintf(why, why_len, "%s", t->why);
  return t->path[0] != '\0';
}

const char *cc_nvcc_path(void)
{
  return nvcc_available(NULL, 0) ? cc_tool_nvcc()->path : NULL;
}

static int nvcc_version(const char *const *include_dirs, char *out, size_t out_len)
{
  (void)include_dirs;
  const struct cc_tool *t = cc_tool_nvcc();
  if (!t->path[0])
    return at_error(AT_UNSUPPORTED, "nvcc: %s", t->why);
  snprintf(out, out_len, "nvcc %s", t->version[0] ? t->version : "?");
  return AT_OK;
}

static int nvcc_compile(const struct cc_request *req, struct cc_result *res)
{
  memset(res, 0, sizeof *res);
  res->status = CC_TOOL_ERROR;
  const struct cc_tool *nvcc = cc_tool_nvcc();
  if (!nvcc->path[0])
    return at_error(AT_UNSUPPORTED, "nvcc: %s", nvcc->why);
  if (!req || !req->source || !cubin_arch_ok(req->arch) || strlen(req->arch) > 40)
    return at_error(AT_USAGE, "nvcc: bad request (arch '%.40s')",
                    req && req->arch ? req->arch : "");
  char arch[64];
  snprintf(arch, sizeof arch, "-arch=%s", req->arch);
  const char *const lead[] = {"-cubin", arch, "-std=c++17", "-Xptxas", "-v", NULL};
  const struct cc_command cmd = {.tag = "nvcc", .path = nvcc->path, .lead = lead,
                                 .src_file = "in.cu", .out_file = "out.cubin",
                                 .resources = cubin_resources};
  if (!(res->toolchain = os_strdupf("nvcc %s", nvcc->version[0] ? nvcc->version : "?")))
    return at_error(AT_NOMEM, "out of memory");
  return cc_run_command(&cmd, req, req->source, res);
}

const struct cc_backend cc_nvcc = {
    /* .name = */ "nvcc",
    /* .target = */ CC_CUDA,
    /* .available = */ nvcc_available,
    /* .compile = */ nvcc_compile,
    /* .version = */ nvcc_version,
};
