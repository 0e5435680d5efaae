/*
 * rtc.h - the in-process runtime compilers' one compile step. NVRTC (cc_nvrtc.c) and
 * hipRTC (cc_hiprtc.c) have the same program API under two prefixes (create, compile,
 * log, code, destroy) and the same result numbering, so one driver builds the options,
 * runs the program, keeps the log, sorts a compile error from a tool failure and reads
 * the code object's resources; each backend only opens its library and says which
 * options and which resource reader its target takes.
 */
#ifndef AT_TUNER_COMPILE_RTC_H
#define AT_TUNER_COMPILE_RTC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "tuner/compile/compile.h"

/* The result codes both libraries share (nvrtc.h's nvrtcResult; hiprtc.h numbers alike). */
enum { RTC_SUCCESS = 0, RTC_OUT_OF_MEMORY = 1, RTC_INVALID_OPTION = 5, RTC_COMPILATION = 6 };

/* The order of rtc_lib's entry points, for rtc_load's symbol names. */
enum { RTC_CREATE, RTC_COMPILE, RTC_LOG_SIZE, RTC_GET_LOG, RTC_CODE_SIZE, RTC_GET_CODE,
       RTC_DESTROY, RTC_ERROR_STRING, RTC_NSYMS };

struct rtc_lib {
  const char *tag;   /* "nvrtc", "hiprtc": the first word of every message */
  void *lib;         /* NULL until loaded, and when absent */
  char libname[128]; /* the file opened, without its folder */
  char why[512];     /* why it is absent */
  char version[64];  /* "nvrtc 13.0": the toolchain string of every result */
  /* The entry points, typed with an opaque program and int results: the ABI of both. */
  int (*create)(void **prog, const char *src, const char *name, int num_headers,
                const char *const *headers, const char *const *include_names);
  int (*compile)(void *prog, int num_options, const char *const *options);
  int (*log_size)(void *prog, size_t *size);
  int (*get_log)(void *prog, char *log);
  int (*code_size)(void *prog, size_t *size);
  int (*get_code)(void *prog, char *code);
  int (*destroy)(void **prog);
  const char *(*error_string)(int result);
  pthread_mutex_t *serialize; /* held around each compile where the library is not
                                 documented thread-safe across programs; NULL otherwise */
};

/* Open the first of `names` that loads (and exports syms[RTC_COMPILE]) and look up the
 * entry points named syms[0..RTC_NSYMS) in rtc_lib's order. On failure lib stays NULL
 * and why says what was missing. Call once (under pthread_once). */
void rtc_load(struct rtc_lib *L, const char *const *names, const char *const syms[RTC_NSYMS]);

/* True when loaded; else why into why[why_len]. */
bool rtc_available(const struct rtc_lib *L, char *why, size_t why_len);

/* Compile req with `arch_prefix` and the arch ("--offload-arch=" "gfx942"), then `fixed`
 * (NULL-terminated), then "-I<absolute dir>" per include folder and the request's own
 * flags. The compile contract of compile.h: AT_OK with CC_OK or CC_COMPILE_ERROR (a bad
 * option is the variant's failure too: the log says which), or an at_status with
 * CC_TOOL_ERROR and the log kept. `code_what` names the code object in messages
 * ("cubin", "code object"). The caller has checked availability and the arch. */
int rtc_compile(const struct rtc_lib *L, const struct cc_request *req, const char *arch_prefix,
                const char *const *fixed, const char *code_what, cc_resources_fn resources,
                struct cc_result *res);

#endif
