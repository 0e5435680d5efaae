/*
 * cc.c - the compile layer's common ground: the backend table (picking one per target,
 * finding one by name), releasing a result, and the steps every subprocess backend
 * shares (the command with the -I and flag arguments, run in a private temporary folder,
 * its output read); running the compiler itself is base/os.h's os_run.
 */
#include "tuner/compile/compile.h"
#include "base/os.h"
#include "base/status.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static const struct cc_backend *const backends[] = {&cc_nvrtc, &cc_nvcc, &cc_clang_hip,
                                                    &cc_hiprtc, &cc_host};
#define NBACKENDS (sizeof backends / sizeof backends[0])

void cc_result_release(struct cc_result *r)
{
  if (!r)
    return;
  free(r->code);
  free(r->kernels);
  free(r->log);
  free(r->toolchain);
  memset(r, 0, sizeof *r);
}

const struct cc_backend *cc_pick(enum cc_target target)
{
  char why[1024] = "", one[256];
  size_t used = 0;
  for (size_t i = 0; i < NBACKENDS; i++) {
    if (backends[i]->target != target)
      continue;
    one[0] = '\0';
    if (backends[i]->available(one, sizeof one))
      return backends[i];
    int n = snprintf(why + used, sizeof why - used, "%s%s: %s", used ? "; " : "",
                     backends[i]->name, one);
    if (n > 0)
      used = (size_t)n < sizeof why - used ? used + (size_t)n : sizeof why - 1;
  }
  at_error(AT_UNSUPPORTED, "no %s compiler available (%s)",
           target == CC_CUDA ? "cuda" : target == CC_HIP ? "hip" : "host c++", why);
  return NULL;
}

const struct cc_backend *cc_find(const char *name)
{
  for (size_t i = 0; name && i < NBACKENDS; i++)
    if (strcmp(backends[i]->name, name) == 0)
      return backends[i];
  return NULL;
}

const struct cc_kernel_res *cc_result_kernel(const struct cc_result *r, const char *name)
{
  for (size_t i = 0; r && name && i < r->nkernels; i++)
    if (strcmp(r->kernels[i].name, name) == 0)
      return &r->kernels[i];
  return NULL;
}

int cc_timeout_s(void)
{
  const char *s = getenv("AUTOTUNE_COMPILE_TIMEOUT");
  long v = s ? strtol(s, NULL, 10) : 0;
  return v > 0 && v < 86400 ? (int)v : 300;
}

static int compile_in_tmp(const char *tag, const char *src_file, const char *source,
                          const char *const *argv, const char *out_file,
                          struct cc_result *result)
{
  int rc = AT_OK, code = -1;
  char *dir = NULL, *src = NULL, *out = NULL, *log = NULL;
  result->status = CC_TOOL_ERROR;

  rc = os_mkdtemp(tag, &dir);
  if (rc)
    goto out;
  src = os_strdupf("%s/%s", dir, src_file);
  out = os_strdupf("%s/%s", dir, out_file);
  if (!src || !out) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  rc = os_write_file(src, source, strlen(source));
  if (rc)
    goto out;
  rc = os_run(argv, dir, cc_timeout_s(), &code, &log);
  if (rc)
    goto out;
  if (code != 0) {
    const char *why = code == 124 ? "timed out" : code > 128 ? "was killed by a signal" : "";
    char *full = os_strdupf("%s%sautotune: %s %s (exit status %d)\n", log,
                            *log && log[strlen(log) - 1] != '\n' ? "\n" : "", argv[0],
                            *why ? why : "failed", code);
    if (!full) {
      rc = at_error(AT_NOMEM, "out of memory");
      goto out;
    }
    free(log);
    log = full;
    result->status = CC_COMPILE_ERROR;
    goto out;
  }
  rc = os_read_file(out, &result->code, &result->code_size);
  if (rc)
    goto out;
  result->status = CC_OK;
out:
  free(result->log);
  result->log = log;
  if (dir)
    os_rmdir(dir);
  free(dir);
  free(src);
  free(out);
  return rc;
}

int cc_argv_add_request(const char *tool, const struct cc_request *req, const char **argv,
                        int *argc, int cap, char **owned, int *nowned)
{
  for (size_t i = 0; req->include_dirs && req->include_dirs[i]; i++) {
    char *abs = *argc < cap - 8 ? os_abspath(req->include_dirs[i]) : NULL;
    char *opt = abs ? os_strdupf("-I%s", abs) : NULL;
    free(abs);
    if (!opt)
      return at_error(AT_NOMEM, "%s: too many or too long include folders", tool);
    owned[(*nowned)++] = opt;
    argv[(*argc)++] = opt;
  }
  for (size_t i = 0; req->flags && req->flags[i]; i++) {
    if (*argc >= cap - 8)
      return at_error(AT_USAGE, "%s: too many flags", tool);
    argv[(*argc)++] = req->flags[i];
  }
  return AT_OK;
}

int cc_run_command(const struct cc_command *cmd, const struct cc_request *req,
                   const char *source, struct cc_result *res)
{
  enum { MAX_ARGS = 256 };
  const char *argv[MAX_ARGS];
  char *owned[MAX_ARGS];
  int argc = 0, nowned = 0, rc;
  res->status = CC_TOOL_ERROR;
  argv[argc++] = cmd->path;
  for (size_t i = 0; cmd->lead[i]; i++)
    argv[argc++] = cmd->lead[i];
  if ((rc = cc_argv_add_request(cmd->tag, req, argv, &argc, MAX_ARGS - 8, owned, &nowned)))
    goto out;
  for (size_t i = 0; cmd->tail && cmd->tail[i]; i++)
    argv[argc++] = cmd->tail[i];
  argv[argc++] = "-o";
  argv[argc++] = cmd->out_file;
  argv[argc++] = cmd->src_file;
  argv[argc] = NULL;
  rc = compile_in_tmp(cmd->tag, cmd->src_file, source, argv, cmd->out_file, res);
  if (rc || res->status != CC_OK)
    goto out;
  rc = cmd->resources(res->code, res->code_size, res->log, &res->kernels, &res->nkernels);
  if (rc)
    res->status = CC_TOOL_ERROR;
out:
  for (int i = 0; i < nowned; i++)
    free(owned[i]);
  return rc;
}
