/*
 * dl.c - the run-time opener of optional shared libraries (dl.h).
 */
#include "base/dl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "base/status.h"

bool dl_sym(void *handle, const char *name, void *fnptr, size_t fnsize)
{
  void *p = handle && name ? dlsym(handle, name) : NULL;
  if (!p)
    return false;
  /* POSIX guarantees an object pointer from dlsym converts to a function pointer; the
   * memcpy says so without a cast ISO C frowns on. */
  memcpy(fnptr, &p, fnsize);
  return true;
}

int dl_open_first(const char *const *names, const char *needed, void **handle,
                  const char **opened, char *why, size_t why_len)
{
  char first_err[256] = "";
  *handle = NULL;
  *opened = NULL;
  for (size_t i = 0; names[i]; i++) {
    void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (h && needed && !dlsym(h, needed)) {
      if (!first_err[0])
        snprintf(first_err, sizeof first_err, "%s lacks %s", names[i], needed);
      dlclose(h);
      h = NULL;
    }
    if (h) {
      *handle = h;
      *opened = names[i];
      return AT_OK;
    }
    const char *e = dlerror();
    if (!first_err[0] && e)
      snprintf(first_err, sizeof first_err, "%s", e);
  }
  /* "no A, B or C (A: cannot open shared object file: ...)" */
  size_t len = (size_t)snprintf(why, why_len, "no ");
  for (size_t i = 0; names[i] && len < why_len; i++)
    len += (size_t)snprintf(why + len, why_len - len, "%s%s",
                            i == 0 ? "" : names[i + 1] ? ", " : " or ", names[i]);
  if (len < why_len)
    snprintf(why + len, why_len - len, " (%s)", first_err[0] ? first_err : "not found");
  return AT_UNSUPPORTED;
}
