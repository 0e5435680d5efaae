/*
 * libclang.c - opening libclang at run time into the table of libclang.h.
 *
 * Invariants: the table is written only inside its pthread_once and read-only after; it
 * is returned only when every entry point of LC_FUNCS was found; the library, once
 * opened, stays open for the process.
 */
#include "generator/libclang.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/dl.h"
#include "base/status.h"

#ifndef AT_LIBCLANG_PATH
#define AT_LIBCLANG_PATH "libclang-19.so.19"
#endif

static struct lc_api api;
static bool loaded;
static char load_why[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
  const char *env = getenv("AUTOTUNE_LIBCLANG");
  const char *defaults[] = {AT_LIBCLANG_PATH, "libclang-19.so.19", "libclang-19.so.1",
                            "libclang.so.1", "libclang.so", NULL};
  const char *only[] = {env, NULL};
  if (env && !*env) {
    snprintf(load_why, sizeof load_why, "AUTOTUNE_LIBCLANG is set and empty");
    return;
  }
  void *h = NULL;
  char why[400];
  if (dl_open_first(env ? only : defaults, "clang_parseTranslationUnit2", &h, &api.lib, why,
                    sizeof why) != AT_OK) {
    snprintf(load_why, sizeof load_why, "%s", why);
    return;
  }
#define LC_LOAD(name)                                                                      \
  if (!dl_sym(h, "clang_" #name, &api.name, sizeof api.name)) {                            \
    snprintf(load_why, sizeof load_why, "%s lacks clang_" #name, api.lib);                 \
    return;                                                                                \
  }
  LC_FUNCS(LC_LOAD)
#undef LC_LOAD
  loaded = true;
}

const struct lc_api *lc_load(char *why, size_t cap)
{
  pthread_once(&once, load);
  if (!loaded && why && cap)
    snprintf(why, cap, "%s", load_why);
  return loaded ? &api : NULL;
}
