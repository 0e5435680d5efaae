/*
 * cc_clang_hip.c - the clang compile backend for HIP: device code for an AMD GPU
 * (gfx90a, gfx942, ...) to an HSA code object through clang as a subprocess, with no
 * ROCm needed: the HIP headers and device libraries are left out (-nogpuinc -nogpulib)
 * and templates/common/at_common.h supplies what the kernels use. The command is
 *   clang -x hip -std=c++17 -O3 -nogpuinc -nogpulib --cuda-device-only
 *         --no-gpu-bundle-output --offload-arch=<gfx> -I<dir>... <flags> -c -o out.co in.hip
 * --no-gpu-bundle-output makes -c write the linked code object itself (an ET_DYN AMDGPU
 * ELF, code object v5 by default in clang 19, with the NT_AMDGPU_METADATA note) instead
 * of an offload bundle; without -fgpu-rdc clang links it with lld in the same step.
 * clang is $ROCM_PATH/llvm/bin/clang (ROCM_PATH defaults to /opt/rocm) when present, else
 * the clang 19 found at build time, else clang-19 on PATH (tool.c, cc_tool_clang).
 */
#include "tuner/compile/amdgpu_co.h"
#include "tuner/compile/compile.h"
#include "tuner/compile/tool.h"
#include "base/status.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static bool clang_available(char *why, size_t why_len)
{
  const struct cc_tool *t = cc_tool_clang();
  if (!t->path[0] && why && why_len)
    snprintf(why, why_len, "%s", t->why);
  return t->path[0] != '\0';
}

/* "gfx942", "gfx90a", "gfx942:sramecc+:xnack-": what --offload-arch takes. */
static bool amd_arch_ok(const char *arch)
{
  if (!arch || strncmp(arch, "gfx", 3) != 0 || !isxdigit((unsigned char)arch[3]))
    return false;
  for (const char *p = arch + 3; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != ':' && *p != '+' && *p != '-')
      return false;
  return true;
}

static int clang_version(const char *const *include_dirs, char *out, size_t out_len)
{
  (void)include_dirs;
  const struct cc_tool *t = cc_tool_clang();
  if (!t->path[0])
    return at_error(AT_UNSUPPORTED, "clang-hip: %s", t->why);
  snprintf(out, out_len, "clang %s", t->version[0] ? t->version : "?");
  return AT_OK;
}

static int clang_compile(const struct cc_request *req, struct cc_result *res)
{
  memset(res, 0, sizeof *res);
  res->status = CC_TOOL_ERROR;
  const struct cc_tool *clang = cc_tool_clang();
  if (!clang->path[0])
    return at_error(AT_UNSUPPORTED, "clang-hip: %s", clang->why);
  if (!req || !req->source || !amd_arch_ok(req->arch) || strlen(req->arch) > 40)
    return at_error(AT_USAGE, "clang-hip: bad request (arch '%.40s')",
                    req && req->arch ? req->arch : "");
  char arch[64];
  snprintf(arch, sizeof arch, "--offload-arch=%s", req->arch);
  const char *const lead[] = {"-x", "hip", "-std=c++17", "-O3", "-nogpuinc", "-nogpulib",
                              "--cuda-device-only", "--no-gpu-bundle-output", arch, NULL};
  static const char *const tail[] = {"-c", NULL};
  const struct cc_command cmd = {.tag = "hip", .path = clang->path, .lead = lead, .tail = tail,
                                 .src_file = "in.hip", .out_file = "out.co",
                                 .resources = amdgpu_co_resources};
  if (!(res->toolchain = os_strdupf("clang %s", clang->version[0] ? clang->version : "?")))
    return at_error(AT_NOMEM, "out of memory");
  return cc_run_command(&cmd, req, req->source, res);
}

const struct cc_backend cc_clang_hip = {
    /* .name = */ "clang-hip",
    /* .target = */ CC_HIP,
    /* .available = */ clang_available,
    /* .compile = */ clang_compile,
    /* .version = */ clang_version,
};
