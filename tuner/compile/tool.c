/*
 * tool.c - finding nvcc and clang and reading their versions (tool.h), each once per
 * process; the one place that knows where those tools live.
 */
#include "tuner/compile/tool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/os.h"
#include "base/status.h"

/* Append `s` to out->why ("a, b, c"). */
static void tried(struct cc_tool *out, const char *s)
{
  size_t len = strlen(out->why);
  snprintf(out->why + len, sizeof out->why - len, "%s%s", len ? ", " : "", s);
}

static bool try_one(struct cc_tool *out, const char *cand)
{
  if (!cand || !*cand)
    return false;
  if (os_which(cand, out->path, sizeof out->path))
    return true;
  out->path[0] = '\0';
  tried(out, cand);
  return false;
}

int cc_tool_probe(const struct cc_tool_spec *spec, struct cc_tool *out)
{
  memset(out, 0, sizeof *out);
  bool found = false;
  const char *root = spec->env ? getenv(spec->env) : NULL;
  if (!root || !*root)
    root = spec->env_default;
  if (root && *root) {
    char cand[4096];
    snprintf(cand, sizeof cand, "%s%s", root, spec->env_suffix ? spec->env_suffix : "");
    found = try_one(out, cand);
  }
  for (size_t i = 0; !found && spec->candidates && spec->candidates[i]; i++)
    found = try_one(out, spec->candidates[i]);
  if (!found) {
    char places[sizeof out->why];
    snprintf(places, sizeof places, "%s", out->why);
    snprintf(out->why, sizeof out->why, "no %.40s (tried %.440s)", spec->name,
             places[0] ? places : "nothing");
    return AT_UNSUPPORTED;
  }
  out->why[0] = '\0';
  /* "Cuda compilation tools, release 13.0, V13.0.88"; "Debian clang version 19.1.7" */
  const char *argv[] = {out->path, "--version", NULL};
  int code = -1;
  char *text = NULL;
  if (os_run(argv, NULL, 60, &code, &text) == AT_OK && code == 0 && text) {
    const char *v = strstr(text, spec->version_after);
    if (v)
      sscanf(v + strlen(spec->version_after), "%31[0-9A-Za-z.]", out->version);
  }
  free(text);
  return AT_OK;
}

static const char *const nvcc_candidates[] = {
#ifdef AT_CUDA_ROOT
    AT_CUDA_ROOT "/bin/nvcc",
#endif
    "/usr/local/cuda/bin/nvcc", "nvcc", NULL};
static const struct cc_tool_spec nvcc_spec = {"nvcc", "CUDA_PATH", NULL, "/bin/nvcc",
                                              nvcc_candidates, "release "};

static const char *const clang_candidates[] = {
#ifdef AT_CLANG19
    AT_CLANG19,
#endif
    "clang-19", NULL};
static const struct cc_tool_spec clang_spec = {"clang", "ROCM_PATH", "/opt/rocm",
                                               "/llvm/bin/clang", clang_candidates,
                                               "clang version "};

static struct cc_tool nvcc, clang;
static pthread_once_t nvcc_once = PTHREAD_ONCE_INIT, clang_once = PTHREAD_ONCE_INIT;

static void probe_nvcc(void) { cc_tool_probe(&nvcc_spec, &nvcc); }
static void probe_clang(void) { cc_tool_probe(&clang_spec, &clang); }

const struct cc_tool *cc_tool_nvcc(void)
{
  pthread_once(&nvcc_once, probe_nvcc);
  return &nvcc;
}

const struct cc_tool *cc_tool_clang(void)
{
  pthread_once(&clang_once, probe_clang);
  return &clang;
}
