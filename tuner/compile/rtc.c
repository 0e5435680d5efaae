/*
 * rtc.c - the in-process runtime compilers' one compile step (rtc.h): NVRTC's and
 * hipRTC's programs driven the same way.
 */
#include "tuner/compile/rtc.h"
#include "base/dl.h"
#include "base/status.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPTS 256

void rtc_load(struct rtc_lib *L, const char *const *names, const char *const syms[RTC_NSYMS])
{
  const char *opened = NULL;
  char why[sizeof L->why - 64];
  if (dl_open_first(names, syms[RTC_COMPILE], &L->lib, &opened, why, sizeof why) != AT_OK) {
    snprintf(L->why, sizeof L->why, "%s", why);
    return;
  }
  snprintf(L->libname, sizeof L->libname, "%s",
           strrchr(opened, '/') ? strrchr(opened, '/') + 1 : opened);
  struct {
    void *fn;
    size_t size;
  } const at[RTC_NSYMS] = {
      [RTC_CREATE] = {&L->create, sizeof L->create},
      [RTC_COMPILE] = {&L->compile, sizeof L->compile},
      [RTC_LOG_SIZE] = {&L->log_size, sizeof L->log_size},
      [RTC_GET_LOG] = {&L->get_log, sizeof L->get_log},
      [RTC_CODE_SIZE] = {&L->code_size, sizeof L->code_size},
      [RTC_GET_CODE] = {&L->get_code, sizeof L->get_code},
      [RTC_DESTROY] = {&L->destroy, sizeof L->destroy},
      [RTC_ERROR_STRING] = {&L->error_string, sizeof L->error_string},
  };
  for (int i = 0; i < RTC_NSYMS; i++)
    if (!dl_sym(L->lib, syms[i], at[i].fn, at[i].size)) {
      snprintf(L->why, sizeof L->why, "%s lacks %s", L->libname, syms[i]);
      dlclose(L->lib);
      L->lib = NULL;
      return;
    }
}

bool rtc_available(const struct rtc_lib *L, char *why, size_t why_len)
{
  if (!L->lib && why && why_len)
    snprintf(why, why_len, "%s", L->why);
  return L->lib != NULL;
}

static int nomem_or(int r, int otherwise)
{
  return r == RTC_OUT_OF_MEMORY ? AT_NOMEM : otherwise;
}

int rtc_compile(const struct rtc_lib *L, const struct cc_request *req, const char *arch_prefix,
                const char *const *fixed, const char *code_what, cc_resources_fn resources,
                struct cc_result *res)
{
  int rc = AT_OK;
  void *prog = NULL;
  const char *opts[MAX_OPTS];
  char *owned[MAX_OPTS];
  int nopts = 0, nowned = 0;
  size_t n = 0;
  memset(res, 0, sizeof *res);

  if (!(res->toolchain = strdup(L->version)) ||
      !(owned[nowned++] = os_strdupf("%s%s", arch_prefix, req->arch))) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  opts[nopts++] = owned[nowned - 1];
  for (size_t i = 0; fixed[i]; i++)
    opts[nopts++] = fixed[i];
  if ((rc = cc_argv_add_request(L->tag, req, opts, &nopts, MAX_OPTS, owned, &nowned)))
    goto out;

  int r = L->create(&prog, req->source, req->name ? req->name : "variant", 0, NULL, NULL);
  if (r != RTC_SUCCESS) {
    prog = NULL;
    rc = at_error(nomem_or(r, AT_UNSUPPORTED), "%s: cannot create a program: %s", L->tag,
                  L->error_string(r));
    goto out;
  }
  if (L->serialize)
    pthread_mutex_lock(L->serialize);
  int cr = L->compile(prog, nopts, opts);
  if (L->serialize)
    pthread_mutex_unlock(L->serialize);
  if (L->log_size(prog, &n) == RTC_SUCCESS && (res->log = malloc(n + 1)) != NULL) {
    if (n && L->get_log(prog, res->log) != RTC_SUCCESS)
      n = 0;
    res->log[n] = '\0';
  }
  if (!res->log) {
    rc = at_error(AT_NOMEM, "%s: out of memory for the log", L->tag);
    goto out;
  }
  if (cr == RTC_COMPILATION || cr == RTC_INVALID_OPTION) {
    /* a bad user flag is the variant's failure too: the log says which */
    if (!*res->log) {
      free(res->log);
      res->log = os_strdupf("%s: %s", L->tag, L->error_string(cr));
    }
    res->status = CC_COMPILE_ERROR;
    goto out;
  }
  if (cr != RTC_SUCCESS) {
    rc = at_error(nomem_or(cr, AT_UNSUPPORTED), "%s: compiling '%.100s' failed: %s", L->tag,
                  req->name ? req->name : "", L->error_string(cr));
    goto out;
  }
  if (L->code_size(prog, &n) != RTC_SUCCESS || n == 0 || !(res->code = malloc(n)) ||
      L->get_code(prog, (char *)res->code) != RTC_SUCCESS) {
    rc = at_error(AT_UNSUPPORTED, "%s: no %s for '%.40s'", L->tag, code_what, req->arch);
    goto out;
  }
  res->code_size = n;
  rc = resources(res->code, res->code_size, res->log, &res->kernels, &res->nkernels);
  if (rc == AT_OK)
    res->status = CC_OK;
out:
  if (prog)
    L->destroy(&prog);
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
