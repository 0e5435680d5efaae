/*
 * dl.h - opening optional shared libraries at run time: the GPU runtimes and their
 * compilers (tuner/device/vendor.c, tuner/compile/rtc.c for NVRTC and hipRTC), libclang
 * (generator/libclang.c) and the GPU management libraries. One opener, so every optional
 * library is looked for the same way and says the same way why it is absent.
 */
#ifndef AT_BASE_DL_H
#define AT_BASE_DL_H

#include <stdbool.h>
#include <stddef.h>

/* Open the first of `names` (NULL-terminated) that loads and, when `needed` is not NULL,
 * exports `needed`. OUT: *handle, *opened (the entry of `names` used), cleared on entry.
 * Returns AT_OK, or AT_UNSUPPORTED with why = "no A, B or C (<the loader's words>)". */
int dl_open_first(const char *const *names, const char *needed, void **handle,
                  const char **opened, char *why, size_t why_len);

/* Look up `name` in `handle` into the function pointer at `fnptr` (of size `fnsize`).
 * False when absent (the pointer is left as it was). */
bool dl_sym(void *handle, const char *name, void *fnptr, size_t fnsize);

#endif
