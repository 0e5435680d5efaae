/*
 * compile.h - compile backends: source text in, code object and per-kernel resource
 * usage out. One small vtable per backend (NVRTC in-process, nvcc, clang for HIP,
 * hipRTC when ROCm is present, host C++); the tuner picks by target and availability.
 * A compile error is a result (status CC_COMPILE_ERROR with the compiler's log), never
 * a crash or an abort: a failed variant is data for the database.
 */
#ifndef AT_TUNER_COMPILE_COMPILE_H
#define AT_TUNER_COMPILE_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/os.h"
#include "generator/target.h"


/* Per-kernel resource usage read from the code object (and, for CUDA, the ptxas report
 * where the code object lacks a figure). -1 where a figure does not apply or is unknown. */
struct cc_kernel_res {
  char name[96];           /* the kernel's symbol name */
  int registers;           /* NVIDIA: registers per thread; AMD: architectural VGPRs */
  int agprs;               /* AMD accumulation VGPRs; -1 on NVIDIA */
  int sgprs;               /* AMD scalar registers; -1 on NVIDIA */
  int64_t spill_bytes;     /* NVIDIA: spill stores (bytes); AMD: -1, see spill counts */
  int vgpr_spills;         /* AMD: VGPRs spilled; NVIDIA: -1 */
  int sgpr_spills;         /* AMD: SGPRs spilled; NVIDIA: -1 */
  int64_t shared_bytes;    /* static shared memory / LDS (group segment) bytes */
  int64_t local_bytes;     /* NVIDIA local memory (stack frame) / AMD private segment */
  int max_threads;         /* the kernel's declared maximum block size, -1 if none */
};

struct cc_request {
  const char *source;              /* the translation unit */
  const char *name;                /* a name for it in messages and file names, "scale.cu" */
  const char *arch;                /* "sm_90", "gfx942", "host" */
  const char *const *include_dirs; /* NULL-terminated, may be NULL */
  const char *const *flags;        /* extra compiler flags, NULL-terminated, may be NULL */
};

enum cc_status { CC_OK = 0, CC_COMPILE_ERROR = 1, CC_TOOL_ERROR = 2 };

struct cc_result {
  enum cc_status status;
  unsigned char *code;             /* code object (cubin, AMD HSA code object, .so) */
  size_t code_size;
  struct cc_kernel_res *kernels;   /* one per kernel in the code object */
  size_t nkernels;
  char *log;                       /* compiler output (errors, warnings, ptxas -v) */
  char *toolchain;                 /* "nvrtc 13.0", "clang 19.1.7" */
};

void cc_result_release(struct cc_result *r);

struct cc_backend {
  const char *name;                /* "nvrtc", "nvcc", "clang-hip", "hiprtc", "host" */
  enum cc_target target;
  /* true when the tool can run here; else why not into why[why_len] */
  bool (*available)(char *why, size_t why_len);
  /* Compile. Returns AT_OK with result->status CC_OK or CC_COMPILE_ERROR, or another
   * at_status when the tool itself failed (not found, crashed, out of memory). */
  int (*compile)(const struct cc_request *req, struct cc_result *result);
  /* The toolchain string compile() reports in result->toolchain for a request with these
   * include folders (NULL-terminated; NULL for none), into out[out_len]: the tool's
   * version ("nvrtc 13.0", "clang 19.1.7"), and for the host the digest of the host
   * device's headers there, which the templates' content hash leaves out ("g++ 12.2.0
   * +fma emu 74ce7e8483b4"; cc_host.c). AT_OK, or AT_UNSUPPORTED when the tool is not
   * available here. */
  int (*version)(const char *const *include_dirs, char *out, size_t out_len);
};

/* The backends, in order of preference per target; cc_host (cc_host.c) builds a shared
 * object of the variant's own source for the SIMT emulator. */
extern const struct cc_backend cc_nvrtc, cc_nvcc, cc_clang_hip, cc_hiprtc, cc_host;
/* `--sanitize` (generate, gemm, tune, attention): the extra flags that build host
 * variants with AddressSanitizer and UBSan (NULL-terminated; cc_host.c). Such an object
 * loads only into a process that has the ASan runtime (meas_host_has_asan). */
extern const char *const cc_sanitize_flags[];
/* The nvcc the nvcc backend runs ($CUDA_PATH/bin, the build's toolkit, /usr/local/cuda/bin,
 * then PATH), or NULL when there is none. */
const char *cc_nvcc_path(void);

/* The first available backend for a target, NULL (with at_error) if none. */
const struct cc_backend *cc_pick(enum cc_target target);
/* A backend by name, NULL if unknown. */
const struct cc_backend *cc_find(const char *name);
/* The kernel's resources in a result, by name; NULL if absent. */
const struct cc_kernel_res *cc_result_kernel(const struct cc_result *r, const char *name);

/* ---- Helpers shared by the backends (cc.c). ---- */

/* Seconds a compiler subprocess may run before it is killed (AUTOTUNE_COMPILE_TIMEOUT
 * overrides; default 300). */
int cc_timeout_s(void);

/* Reads a code object's kernels and their resources: cubin_resources (cubin.h),
 * amdgpu_co_resources (amdgpu_co.h), the host's ELF reader. `log` is the compiler's (the
 * ptxas report; readers whose code object carries every figure ignore it). OUT: *kernels
 * (malloc'd), *nkernels. */
typedef int (*cc_resources_fn)(const unsigned char *code, size_t size, const char *log,
                               struct cc_kernel_res **kernels, size_t *nkernels);

/* Append "-I<absolute dir>" for each of req's include dirs, then each of its extra
 * flags, to argv[*argc..cap-8) (eight entries stay free for the caller's output and
 * input arguments). Strings made here are added to owned[*nowned] for the caller to
 * free. AT_OK; AT_NOMEM or AT_USAGE ("TOOL: too many flags"). */
int cc_argv_add_request(const char *tool, const struct cc_request *req, const char **argv,
                        int *argc, int cap, char **owned, int *nowned);

/* A subprocess backend's compiler command: path, lead, the request's -I and flags, tail,
 * "-o" out_file, src_file; file names relative to a private temporary folder. */
struct cc_command {
  const char *tag;          /* "nvcc": messages and the temporary folder's name */
  const char *path;         /* the compiler */
  const char *const *lead;  /* options before the request's, NULL-terminated */
  const char *const *tail;  /* options after them, NULL-terminated; may be NULL */
  const char *src_file;     /* "in.cu" */
  const char *out_file;     /* "out.cubin" */
  cc_resources_fn resources;
};

/* The subprocess backends' one step: in a fresh temporary folder (the compiler's working
 * folder, removed after), write `source` to the command's src_file, run it, and on exit
 * status 0 read out_file into result->code and its kernels with the command's reader.
 * The caller has set result->toolchain. Fills result->log (the compiler's output, plus a
 * line when it failed or timed out) and result->status: CC_OK, or CC_COMPILE_ERROR for
 * any non-zero exit (a crash or a timeout of the compiler on one variant is that
 * variant's failure). Returns AT_OK, or AT_NOT_FOUND / AT_IO / AT_NOMEM / AT_USAGE (too
 * many flags) / the reader's status when the compiler could not be run or its output not
 * read (then result->status is CC_TOOL_ERROR). */
int cc_run_command(const struct cc_command *cmd, const struct cc_request *req,
                   const char *source, struct cc_result *result);

#endif
