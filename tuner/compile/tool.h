/*
 * tool.h - finding a compiler command and reading its version, in one place: nvcc (the
 * nvcc backend, the tests' host kernels) and clang for HIP (the clang-hip backend). A
 * tool is looked for in $ENV<suffix> first, then in a list of candidates (paths, or names
 * looked up on PATH); its version is read from `<tool> --version`.
 */
#ifndef AT_TUNER_COMPILE_TOOL_H
#define AT_TUNER_COMPILE_TOOL_H

/* Where to look for one tool. */
struct cc_tool_spec {
  const char *name;              /* "nvcc", for messages */
  const char *env;               /* "CUDA_PATH": $env + env_suffix is tried first; may be NULL */
  const char *env_default;       /* the value when $env is unset or empty; may be NULL */
  const char *env_suffix;        /* "/bin/nvcc" */
  const char *const *candidates; /* then these, NULL-terminated; "" entries are skipped */
  const char *version_after;     /* the version follows this in --version's output */
};

/* A found tool. */
struct cc_tool {
  char path[4096];  /* "" when none was found */
  char version[32]; /* "13.0", "19.1.7"; "" when --version did not say */
  char why[512];    /* when path is "": where it looked */
};

/* Look for `spec`'s tool and read its version (uncached: runs the tool). OUT: *out,
 * cleared on entry. Returns AT_OK when found (the version may still be ""), AT_UNSUPPORTED
 * when not, with out->why listing the places tried. */
int cc_tool_probe(const struct cc_tool_spec *spec, struct cc_tool *out);

/* nvcc ($CUDA_PATH/bin, the build's toolkit, /usr/local/cuda/bin, PATH) and clang for
 * HIP ($ROCM_PATH/llvm/bin with ROCM_PATH defaulting to /opt/rocm, the clang 19 found at
 * build time, clang-19 on PATH): probed once per process (thread-safe). Never NULL; an
 * absent tool has path "". */
const struct cc_tool *cc_tool_nvcc(void);
const struct cc_tool *cc_tool_clang(void);

#endif
