/*
 * emit_write.h - the part gemm_emit and attn_emit share: write what bld_run compiled for a
 * GPU run elsewhere. Code objects go to DIR/batch_NNNN.cubin, the ok variants to
 * DIR/variants.tsv after a "# ..." header line, one per line, tab-separated: name, config,
 * batch, grid (x y z), block (x y z), dynamic shared bytes, registers, spill bytes, and
 * the grid at the runner's small check shape (from the template's own grid expression).
 * Included by one program each (static): bench/gpu/ builds every .c as its own program.
 */
#ifndef AT_BENCH_GPU_EMIT_WRITE_H
#define AT_BENCH_GPU_EMIT_WRITE_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "generator/emit.h"
#include "generator/template.h"
#include "tuner/compile/build.h"
#include "base/device.h"
#include "base/status.h"

static void emit_fail(const char *what)
{
  fprintf(stderr, "emit: %s: %s\n", what, at_last_error());
  exit(1);
}

/* OUT: counts[0..3) = ok, pruned, compile errors. */
static void emit_write(const char *dir, const char *name, const char *header,
                       const struct tmpl *t, const struct dev_profile *dev, const char *dtype,
                       const struct bld_result *r, const int64_t *sel, size_t np,
                       const int64_t *small_dims, size_t counts[3])
{
  char pdir[4096], path[4200];
  snprintf(pdir, sizeof pdir, "%s/%s", dir, name);
  mkdir(dir, 0755);
  mkdir(pdir, 0755);
  for (size_t b = 0; b < r->nbatches; b++) {
    if (!r->batches[b].code)
      continue;
    snprintf(path, sizeof path, "%s/batch_%04zu.cubin", pdir, b);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(r->batches[b].code, 1, r->batches[b].code_size, f) !=
                  r->batches[b].code_size || fclose(f))
      emit_fail("writing a cubin");
  }
  snprintf(path, sizeof path, "%s/variants.tsv", pdir);
  FILE *f = fopen(path, "w");
  if (!f)
    emit_fail(path);
  fprintf(f, "# %s %s\n", header, r->toolchain ? r->toolchain : "?");
  counts[0] = counts[1] = counts[2] = 0;
  for (size_t i = 0; i < r->nvariants; i++) {
    const struct bld_variant *v = &r->variants[i];
    if (v->verdict != BLD_OK) {
      counts[v->verdict == BLD_PRUNED ? 1 : 2]++;
      continue;
    }
    counts[0]++;
    struct gen_bind sb = {.dev = dev, .dims = small_dims, .dtype = dtype};
    struct gen_launch sl;
    if (gen_emit_launch(t, &sb, sel + i * np, &sl) != AT_OK)
      emit_fail("the launch shape at the small check shape");
    fprintf(f, "%s\t%s\t%zu\t%lld %lld %lld\t%lld %lld %lld\t%lld\t%d\t%lld\t%lld %lld %lld\n",
            v->name, v->config_text, v->batch, (long long)v->launch.grid[0],
            (long long)v->launch.grid[1], (long long)v->launch.grid[2],
            (long long)v->launch.threads[0], (long long)v->launch.threads[1],
            (long long)v->launch.threads[2], (long long)v->launch.shared, v->res.registers,
            (long long)v->res.spill_bytes, (long long)sl.grid[0], (long long)sl.grid[1],
            (long long)sl.grid[2]);
  }
  if (fclose(f))
    emit_fail(path);
}

#endif
