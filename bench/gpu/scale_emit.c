/*
 * scale_emit.c - the "generate and compile here" half of bench/gpu/check.sh: read
 * templates/example/scale.h, enumerate its space for a device profile and a problem
 * size, emit one translation unit holding every valid variant, compile it in-process
 * with NVRTC for the profile's arch, and write DIR/scale.cubin plus DIR/variants.tsv
 * (name, config, grid, block, dynamic shared, and the resources read from the cubin).
 * scale_run loads these on the GPU machine, which need not have libclang.
 *
 *   scale_emit DIR [--device h100] [--n N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generator/emit.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tuner/compile/compile.h"
#include "base/device.h"
#include "base/status.h"

struct collect {
  int64_t **cfg;
  size_t n, cap, width;
};

static int visit(void *ctx, const int64_t *values, size_t n)
{
  struct collect *c = ctx;
  if (c->n == c->cap) {
    c->cap = c->cap ? 2 * c->cap : 64;
    c->cfg = realloc(c->cfg, c->cap * sizeof *c->cfg);
  }
  c->cfg[c->n] = malloc(n * sizeof *values);
  memcpy(c->cfg[c->n++], values, n * sizeof *values);
  c->width = n;
  return 0;
}

static void die(const char *what)
{
  fprintf(stderr, "scale_emit: %s: %s\n", what, at_last_error());
  exit(1);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: scale_emit DIR [--device NAME] [--n N]\n");
    return 2;
  }
  const char *dir = argv[1], *device = "h100";
  int64_t n = (int64_t)1 << 26;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--device"))
      device = argv[i + 1];
    else if (!strcmp(argv[i], "--n"))
      n = atoll(argv[i + 1]);
  }
  const struct dev_profile *prof = dev_find(device);
  if (!prof || prof->vendor != DEV_NVIDIA)
    die("need an NVIDIA profile");
  const char *incs[] = {AT_TEMPLATES_DIR "/common", NULL};
  struct tmpl *t = NULL;
  if (tmpl_load(AT_TEMPLATES_DIR "/example/scale.h", incs, &t) != AT_OK)
    die("loading scale.h");
  int64_t dims[1] = {n};
  struct gen_space *s = NULL;
  if (tmpl_space(t, prof, dims, &s) != AT_OK)
    die("building the space");
  struct collect c = {0};
  if (gen_space_enumerate(s, visit, &c, NULL) != AT_OK)
    die("enumerating");
  struct gen_bind b = {.dev = prof, .dims = dims, .dtype = "f32"};
  char *src = NULL;
  if (gen_emit_tu(t, CC_CUDA, s, &b, (const int64_t *const *)c.cfg, c.n, &src) != AT_OK)
    die("emitting");
  const struct cc_backend *cc = cc_find("nvrtc");
  char why[256];
  if (!cc || !cc->available(why, sizeof why)) {
    fprintf(stderr, "scale_emit: NVRTC not available: %s\n", cc ? why : "not built");
    return 1;
  }
  struct cc_request req = {.source = src, .name = "scale_variants.cu", .arch = prof->arch,
                           .include_dirs = incs};
  struct cc_result res = {0};
  if (cc->compile(&req, &res) != AT_OK || res.status != CC_OK) {
    fprintf(stderr, "scale_emit: compile failed:\n%s\n", res.log ? res.log : "");
    return 1;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/scale.cubin", dir);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(res.code, 1, res.code_size, f) != res.code_size || fclose(f) != 0)
    die("writing the cubin");
  snprintf(path, sizeof path, "%s/variants.tsv", dir);
  f = fopen(path, "w");
  if (!f)
    die("writing variants.tsv");
  fprintf(f, "# %s N=%lld arch=%s toolchain=%s\n", prof->name, (long long)n, prof->arch,
          res.toolchain ? res.toolchain : "?");
  for (size_t i = 0; i < c.n; i++) {
    char name[GEN_NAME_MAX], *text = NULL;
    struct gen_launch l;
    if (gen_emit_name(t, s, "f32", c.cfg[i], name) != AT_OK ||
        gen_emit_launch(t, &b, c.cfg[i], &l) != AT_OK ||
        gen_space_config_text(s, c.cfg[i], &text) != AT_OK)
      die("describing a variant");
    const struct cc_kernel_res *k = cc_result_kernel(&res, name);
    fprintf(f, "%s\t%s\t%lld %lld %lld\t%lld %lld %lld\t%lld\t%d\t%lld\t%lld\n", name, text,
            (long long)l.grid[0], (long long)l.grid[1], (long long)l.grid[2],
            (long long)l.threads[0], (long long)l.threads[1], (long long)l.threads[2],
            (long long)l.shared, k ? k->registers : -1, k ? (long long)k->spill_bytes : -1,
            k ? (long long)k->shared_bytes : -1);
    free(text);
  }
  fclose(f);
  printf("%zu variants of scale for %s (N=%lld) compiled by %s into %s/scale.cubin\n", c.n,
         prof->name, (long long)n, res.toolchain ? res.toolchain : "nvrtc", dir);
  return 0;
}
