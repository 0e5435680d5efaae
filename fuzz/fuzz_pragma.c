/*
 * fuzz_pragma.c - libFuzzer target for template loading's pragma lines
 * (generator/template.c): the input is the top of a template file, `#pragma autotune`
 * lines as a user writes them, followed by a fixed function template `k` the pragmas
 * can name. The loader reads files through libclang, so the input goes to a temp file.
 * A template that loads is then spanned for the host device and for h100 (its
 * constraints and derived values evaluated on up to MAX_VISIT configs of a space of at
 * most MAX_RAW) and its launch shape computed for the first configs, the paths a loaded
 * template takes next. Checks:
 * every failure carries a status and a message; a load is all or nothing.
 * Built outside CMake; fuzz/README.md has the command.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/device.h"
#include "base/status.h"
#include "generator/emit.h"
#include "generator/space.h"
#include "generator/template.h"

#define MAX_VISIT 2000
#define MAX_LAUNCH 16
#define MAX_RAW 65536 /* spaces larger than this are loaded, not enumerated: time, not bugs */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char kernel_text[] =
    "\ntemplate <int A, int B, int C, typename T>\n"
    "void k(float *y, const float *x, int N) { if (N > A + B + C) y[0] = x[0]; }\n";

static char path[64];

static void must(int cond, const char *what)
{
  if (!cond) {
    fprintf(stderr, "fuzz_pragma: broken invariant: %s\n", what);
    abort();
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  const char *tmp = getenv("TMPDIR");
  snprintf(path, sizeof path, "%.30s/fuzz_pragma.%ld.h", tmp && tmp[0] ? tmp : "/tmp",
           (long)getpid());
  return 0;
}

struct visit {
  const struct tmpl *t;
  const struct dev_profile *dev;
  const int64_t *dims;
  size_t n;
};

static int visit(void *ctx, const int64_t *values, size_t n)
{
  struct visit *v = ctx;
  (void)n;
  if (v->n < MAX_LAUNCH) {
    struct gen_bind b = {.dev = v->dev, .dims = v->dims, .dtype = "f32"};
    struct gen_launch l;
    int rc = gen_emit_launch(v->t, &b, values, &l);
    must(rc == AT_OK || at_last_error()[0], "launch failure message");
  }
  return ++v->n >= MAX_VISIT ? GEN_SPACE_STOP : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > 8192 || memchr(data, '\0', size))
    return 0; /* a source file: no NUL bytes; long inputs only slow the search */
  FILE *f = fopen(path, "wb");
  if (!f)
    abort();
  fwrite(data, 1, size, f);
  fputs(kernel_text, f);
  fclose(f);
  struct tmpl *t = (struct tmpl *)1;
  at_error_clear();
  int rc = tmpl_load(path, NULL, &t);
  unlink(path);
  if (rc != AT_OK) {
    must(t == NULL, "no template after a failed load");
    must(at_last_error()[0] != '\0', "load failure message");
    return 0;
  }
  must(t && t->kernel && t->kernel[0], "a loaded template has a kernel");
  uint64_t raw = 1;
  for (size_t i = 0; i < t->nparams && raw <= MAX_RAW; i++)
    raw *= t->params[i].expr ? 1 : t->params[i].nvalues;
  if (raw > MAX_RAW) {
    tmpl_free(t);
    return 0;
  }
  static const char *const devs[] = {"host", "h100"};
  for (size_t d = 0; d < 2; d++) {
    const struct dev_profile *dev = dev_find(devs[d]);
    int64_t dims[TMPL_MAX_DIMS];
    for (size_t i = 0; i < TMPL_MAX_DIMS; i++)
      dims[i] = 1000 + (int64_t)i;
    struct gen_space *s = NULL;
    at_error_clear();
    rc = tmpl_space(t, dev, dims, &s);
    if (rc != AT_OK) {
      must(at_last_error()[0] != '\0', "space failure message");
      gen_space_free(s);
      continue;
    }
    struct visit v = {.t = t, .dev = dev, .dims = dims};
    struct gen_space_stats st;
    rc = gen_space_enumerate(s, visit, &v, &st);
    must(rc == AT_OK || at_last_error()[0], "enumeration failure message");
    gen_space_stats_release(&st);
    gen_space_free(s);
  }
  tmpl_free(t);
  return 0;
}
