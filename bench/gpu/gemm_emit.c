/*
 * gemm_emit.c - the "generate and compile here" half of the GEMM run on an NVIDIA GPU:
 * for each problem (shape, layout f16), build a GEMM template's space for a profile, keep the
 * valid configs a filter allows (a documented subset, so the compile fits a session),
 * compile them with the pipeline (NVRTC, batched, cached), drop pruned ones, and write
 * DIR/<problem>/batch_NNNN.cubin + variants.tsv (name, config, batch, grid, block,
 * dynamic shared, registers, spills). gemm_gpu runs these on the GPU against cuBLAS.
 *
 *   gemm_emit DIR [--device h100] [--max N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generator/emit.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tuner/compile/build.h"
#include "base/device.h"
#include "base/status.h"

#include "bench/gpu/emit_write.h"

struct problem {
  const char *name;
  const char *tmpl;   /* templates/gemm/<tmpl>.h */
  int64_t m, n, k;
  int ta, tb;
  const char *filter; /* substrings every kept config text must contain */
  size_t max;         /* at most this many (first in enumeration order); 0: --max */
};

/* Square: the large tiles that published sm_80/sm_90 mma.sync kernels use (VEC 8,
 * swizzled, grouped, BM and BN of 128 or 256). Decode: every BM = 16 config with VEC 8.
 * SIMT (the fallback for every dtype): its widest tiles with 8-byte loads for the square
 * shape, and its split-K skinny configs for decode, capped so the run stays short.
 * wgmma (sm_90a, not yet run on a GPU when this was written): its 24 large grouped
 * BK = 64 tiles at 4096^3 in NT (both operands K-major: the layout the PTX ISA states
 * without ambiguity) and in NN (B N-major: the MN-major reading docs/wgmma.md
 * describes), so a first GPU run tells the two apart.
 * A filter entry is a '|'-separated list of substrings the config text must all hold;
 * '/' separates alternatives within an entry. */
static const struct problem problems[] = {
    {"square4096_nn", "gemm_mma", 4096, 4096, 4096, 0, 0,
     "GROUP=8|SWZ=1|VEC=8|BM=128,/BM=256,|BN=128,/BN=256,", 0},
    {"decode16_nn", "gemm_mma", 16, 4096, 4096, 0, 0, "VEC=8", 0},
    {"simt_square4096_nn", "gemm_simt", 4096, 4096, 4096, 0, 0, "VEC=4|BM=64,/BM=128,", 24},
    {"simt_decode16_nn", "gemm_simt", 16, 4096, 4096, 0, 0, "BM=16,|VEC=4", 48},
    {"wgmma_square4096_nt", "gemm_wgmma", 4096, 4096, 4096, 0, 1,
     "BK=64|GROUP=8|BM=128,/BM=256,|BN=128,/BN=256,", 24},
    {"wgmma_square4096_nn", "gemm_wgmma", 4096, 4096, 4096, 0, 0,
     "BK=64|GROUP=8|BM=128,/BM=256,|BN=128,/BN=256,", 24},
};

static int keep(const char *text, const char *filter)
{
  char f[128];
  snprintf(f, sizeof f, "%s", filter);
  for (char *save = NULL, *tok = strtok_r(f, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
    int any = 0;
    for (char *alt = tok, *slash; alt && !any; alt = slash ? slash + 1 : NULL) {
      slash = strchr(alt, '/');
      if (slash)
        *slash = '\0';
      any = strstr(text, alt) != NULL;
    }
    if (!any)
      return 0;
  }
  return 1;
}

static void die(const char *what)
{
  fprintf(stderr, "gemm_emit: %s: %s\n", what, at_last_error());
  exit(1);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: gemm_emit DIR [--device h100] [--max N]\n");
    return 2;
  }
  const char *dir = argv[1], *device = "h100";
  size_t max = 400;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--device"))
      device = argv[i + 1];
    else if (!strcmp(argv[i], "--max"))
      max = (size_t)atol(argv[i + 1]);
  }
  const struct dev_profile *dev = dev_find(device);
  if (!dev || dev->vendor != DEV_NVIDIA)
    die("need an NVIDIA profile");
  const char *incs[] = {AT_TEMPLATES_DIR "/common", NULL};
  for (size_t pi = 0; pi < sizeof problems / sizeof *problems; pi++) {
    const struct problem *pr = &problems[pi];
    struct tmpl *t = NULL;
    char tpath[512];
    snprintf(tpath, sizeof tpath, "%s/gemm/%s.h", AT_TEMPLATES_DIR, pr->tmpl);
    if (tmpl_load(tpath, incs, &t) != AT_OK)
      die(tpath);
    size_t cap = pr->max && pr->max < max ? pr->max : max;
    int64_t dims[5] = {pr->m, pr->n, pr->k, pr->ta, pr->tb};
    struct gen_space *s = NULL;
    int64_t *cfg = NULL;
    size_t n = 0;
    if (tmpl_space(t, dev, dims, &s) != AT_OK || gen_space_collect(s, &cfg, &n, NULL) != AT_OK)
      die("enumerating");
    size_t np = gen_space_param_count(s), kept = 0;
    int64_t *sel = malloc(n * np * sizeof *sel);
    for (size_t i = 0; i < n && kept < cap; i++) {
      char *text = NULL;
      if (gen_space_config_text(s, cfg + i * np, &text) != AT_OK)
        die("config text");
      if (keep(text, pr->filter))
        memcpy(sel + kept++ * np, cfg + i * np, np * sizeof *sel);
      free(text);
    }
    struct bld_options o = {.include_dirs = incs};
    struct bld_result r = {0};
    if (bld_run(t, s, dev, dims, "f16", sel, kept, &o, &r) != AT_OK)
      die("compiling");
    /* gemm_gpu also checks each variant at 127x129x65: its grid there, from the
     * template's own grid expression (a 1-D tile count for gemm_mma, 2-D for SIMT). */
    const int64_t small_dims[5] = {127, 129, 65, pr->ta, pr->tb};
    char header[256];
    snprintf(header, sizeof header, "%s %s m=%lld n=%lld k=%lld ta=%d tb=%d dtype=f16",
             pr->tmpl, dev->name, (long long)pr->m, (long long)pr->n, (long long)pr->k, pr->ta,
             pr->tb);
    size_t counts[3];
    emit_write(dir, pr->name, header, t, dev, "f16", &r, sel, np, small_dims, counts);
    size_t ok = counts[0], pruned = counts[1], bad = counts[2];
    printf("%s: %zu valid, %zu kept by the filter '%s': %zu ok, %zu pruned, %zu compile "
           "errors; %zu cubins (%s)\n", pr->name, n, kept, pr->filter, ok, pruned, bad,
           r.nbatches, r.toolchain ? r.toolchain : "?");
    bld_result_release(&r);
    free(sel);
    free(cfg);
    gen_space_free(s);
    tmpl_free(t);
  }
  return 0;
}
