/*
 * attn_emit.c - the "generate and compile here" half of the attention run on an NVIDIA
 * GPU (attn_gpu is the other): for each problem, attn_simt's valid configs on a profile
 * with 16-byte loads (at most --max of them, in enumeration order), compiled for the
 * device (NVRTC, batched, cached), written as DIR/<problem>/batch_NNNN.cubin +
 * variants.tsv (emit_write.h); and the reference kernel attn_gpu checks every variant's
 * output against at the problem's full size, where a host reference would take hours:
 * tests/data/templates/attn_planted.h with MODE 0 (one thread per query row, the
 * definition computed directly, checked on the host by test_attn), in DIR/<problem>/ref.
 *
 *   attn_emit DIR [--device h100] [--max N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generator/space.h"
#include "generator/template.h"
#include "tuner/compile/build.h"
#include "base/device.h"
#include "base/status.h"

#include "bench/gpu/emit_write.h"

struct problem {
  const char *name;
  int64_t b, h, sq, sk, d;
  int causal;
};

/* Prefill-sized heads of a 7B-class model, with and without the mask, a head dim of 64,
 * and one decode step over a 4096-token cache. */
static const struct problem problems[] = {
    {"attn_b4h32s1024d128", 4, 32, 1024, 1024, 128, 0},
    {"attn_b4h32s1024d128_causal", 4, 32, 1024, 1024, 128, 1},
    {"attn_b4h32s2048d64_causal", 4, 32, 2048, 2048, 64, 1},
    {"attn_decode_b8h32k4096d128", 8, 32, 1, 4096, 128, 0},
};

/* Compile `filter`-matching configs of the template at path (at most max) for the problem
 * and write them to DIR/<sub>. */
static void emit(const char *dir, const char *sub, const char *path, const char *filter,
                 size_t max, const struct dev_profile *dev, const struct problem *pr)
{
  const char *incs[] = {AT_TEMPLATES_DIR "/common", NULL};
  struct tmpl *t = NULL;
  if (tmpl_load(path, incs, &t) != AT_OK)
    emit_fail(path);
  /* the contract v2's dims B, H, HKV, SQ, SK, D, CAUSAL, PAGED: MHA, not paged */
  const int64_t dims[8] = {pr->b, pr->h, pr->h, pr->sq, pr->sk, pr->d, pr->causal, 0};
  struct gen_space *s = NULL;
  int64_t *cfg = NULL;
  size_t n = 0;
  if (tmpl_space(t, dev, dims, &s) != AT_OK || gen_space_collect(s, &cfg, &n, NULL) != AT_OK)
    emit_fail("enumerating");
  size_t np = gen_space_param_count(s), kept = 0;
  int64_t *sel = malloc((n ? n : 1) * np * sizeof *sel);
  for (size_t i = 0; i < n && kept < max; i++) {
    char *text = NULL;
    if (gen_space_config_text(s, cfg + i * np, &text) != AT_OK)
      emit_fail("config text");
    if (strstr(text, filter))
      memcpy(sel + kept++ * np, cfg + i * np, np * sizeof *sel);
    free(text);
  }
  struct bld_options o = {.include_dirs = incs};
  struct bld_result r = {0};
  if (kept == 0 || bld_run(t, s, dev, dims, "f16", sel, kept, &o, &r) != AT_OK)
    emit_fail("compiling");
  /* attn_gpu's small check: 1 x 2 heads, 67 queries, 131 keys, the same D and mask */
  const int64_t small[8] = {1, 2, 2, 67, 131, pr->d, pr->causal, 0};
  char header[256];
  snprintf(header, sizeof header, "%s %s b=%lld h=%lld sq=%lld sk=%lld d=%lld causal=%d "
           "dtype=f16", t->kernel, dev->name, (long long)pr->b, (long long)pr->h,
           (long long)pr->sq, (long long)pr->sk, (long long)pr->d, pr->causal);
  size_t counts[3];
  emit_write(dir, sub, header, t, dev, "f16", &r, sel, np, small, counts);
  printf("%s: %s: %zu valid, %zu kept ('%s'): %zu ok, %zu pruned, %zu compile errors (%s)\n",
         sub, t->kernel, n, kept, filter, counts[0], counts[1], counts[2],
         r.toolchain ? r.toolchain : "?");
  bld_result_release(&r);
  free(sel);
  free(cfg);
  gen_space_free(s);
  tmpl_free(t);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: attn_emit DIR [--device h100] [--max N]\n");
    return 2;
  }
  const char *dir = argv[1], *device = "h100";
  size_t max = 48;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--device"))
      device = argv[i + 1];
    else if (!strcmp(argv[i], "--max"))
      max = (size_t)atol(argv[i + 1]);
  }
  const struct dev_profile *dev = dev_find(device);
  if (!dev || dev->vendor != DEV_NVIDIA)
    emit_fail("need an NVIDIA profile");
  mkdir(dir, 0755);
  for (size_t pi = 0; pi < sizeof problems / sizeof *problems; pi++) {
    const struct problem *pr = &problems[pi];
    char sub[256];
    emit(dir, pr->name, AT_TEMPLATES_DIR "/attention/attn_simt.h", "VEC_BYTES=16", max, dev,
         pr);
    snprintf(sub, sizeof sub, "%s/ref", pr->name);
    emit(dir, sub, AT_TEMPLATES_DIR "/../tests/data/templates/attn_planted.h", "MODE=0", 1,
         dev, pr);
  }
  return 0;
}
