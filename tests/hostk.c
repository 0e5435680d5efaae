/* hostk.c - see hostk.h. */
#include "tests/hostk.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "generator/emit.h"
#include "generator/space.h"
#include "tests/helpers.h"
#include "tuner/compile/compile.h"
#include "base/os.h"
#include "base/status.h"

void th_need_cc(const struct cc_backend *b)
{
  char why[256] = "";
  if (!b->available(why, sizeof why))
    cr_skip_test("%s is not available here: %s", b->name, why);
}

char *th_read_pl(const char *file)
{
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/data/pl/%s", AT_SOURCE_DIR, file);
  char *s = th_read(path, NULL);
  cr_assert_not_null(s, "cannot read %s", path);
  return s;
}

void th_assert_ptx_has(const char *file, const char *arch, const char *const *want, size_t n)
{
  const char *nvcc = cc_nvcc_path();
  if (!nvcc)
    cr_skip_test("no nvcc to print the PTX");
  char *dir = th_tmpdir(), *ptx = th_path(dir, "out.ptx");
  struct th_result out;
  th_sh(&out, "'%s' -arch=%s -ptx -std=c++17 -I'%s/templates/common' -x cu "
        "'%s/tests/data/pl/%s' -o '%s' 2>&1", nvcc, arch, AT_SOURCE_DIR, AT_SOURCE_DIR, file,
        ptx);
  cr_assert_eq(out.code, 0, "nvcc: %s", out.out);
  th_result_free(&out);
  char *text = th_read(ptx, NULL);
  cr_assert_not_null(text, "no PTX from nvcc");
  for (size_t i = 0; i < n; i++)
    cr_assert_not_null(strstr(text, want[i]), "the %s PTX of %s has no %s", arch, file,
                       want[i]);
  free(text);
  free(ptx);
  th_rmtree(dir);
  free(dir);
}

char *th_amd_disasm(const void *code, size_t size, const char *filter)
{
  char tool[4096];
  if (!os_which("llvm-objdump-19", tool, sizeof tool) &&
      !os_which("/usr/lib/llvm-19/bin/llvm-objdump", tool, sizeof tool) &&
      !os_which("llvm-objdump", tool, sizeof tool))
    return NULL;
  char *dir = th_tmpdir(), *file = th_path(dir, "k.co");
  cr_assert_eq(th_write(file, (const char *)code, size), 0);
  struct th_result out;
  th_sh(&out, "'%s' -d '%s' | %s", tool, file, filter);
  cr_assert_eq(out.code, 0, "llvm-objdump | %s: %s", filter, out.err);
  char *s = out.out;
  out.out = NULL;
  th_result_free(&out);
  th_rmtree(dir);
  free(file);
  free(dir);
  return s;
}

/* Compile src (unit `name`) for arch with the host backend and load it into k. */
static void load_source(struct th_hostk *k, const char *src, const char *name, const char *arch,
                        const char *const *include_dirs)
{
  struct cc_request req = {.source = src, .name = name, .arch = arch,
                           .include_dirs = include_dirs};
  struct cc_result res;
  cr_assert_eq(cc_host.compile(&req, &res), AT_OK, "%s", at_last_error());
  cr_assert_eq(res.status, CC_OK, "%s", res.log ? res.log : "");
  meas_host_set_jobs(2);
  cr_assert_eq(meas_host.open(0, &k->ctx), AT_OK, "%s", at_last_error());
  cr_assert_eq(meas_host.load(k->ctx, res.code, res.code_size, &k->mod), AT_OK, "%s",
               at_last_error());
  cc_result_release(&res);
}

void th_hostk_load(struct th_hostk *k, const char *path, const char *arch,
                   const char *const *include_dirs)
{
  memset(k, 0, sizeof *k);
  th_need_cc(&cc_host);
  char *src = th_read(path, NULL);
  cr_assert_not_null(src, "cannot read %s", path);
  /* the unit's name: the file's, as C++ ("x.cu" -> "x.cpp") */
  const char *base = strrchr(path, '/');
  char name[256];
  snprintf(name, sizeof name, "%s", base ? base + 1 : path);
  char *dot = strrchr(name, '.');
  if (dot && (size_t)(dot - name) + 5 <= sizeof name)
    strcpy(dot, ".cpp");
  load_source(k, src, name, arch, include_dirs);
  free(src);
}

void th_hostk_load_variants(struct th_hostk *k, const struct th_space *sp, const char *dtype,
                            const int64_t *const *cfgs, size_t n, const char *arch,
                            meas_kernel *kernels)
{
  static const char *const incs[] = {AT_SOURCE_DIR "/templates/common", NULL};
  memset(k, 0, sizeof *k);
  th_need_cc(&cc_host);
  /* the space's own device binds the launch expressions of the unit */
  struct gen_bind bind = {.dev = sp->dev, .dims = sp->dims, .dtype = dtype};
  char *src = NULL;
  cr_assert_eq(gen_emit_tu(sp->t, CC_HOST, sp->s, &bind, cfgs, n, &src), AT_OK, "%s",
               at_last_error());
  load_source(k, src, "variants.cpp", arch, incs);
  free(src);
  for (size_t i = 0; i < n; i++) {
    char name[GEN_NAME_MAX];
    cr_assert_eq(gen_emit_name(sp->t, sp->s, dtype, cfgs[i], name), AT_OK, "%s",
                 at_last_error());
    cr_assert_eq(meas_host.kernel(k->ctx, k->mod, name, &kernels[i]), AT_OK, "%s",
                 at_last_error());
  }
}

void *th_hostk_buf(struct th_hostk *k, size_t bytes)
{
  cr_assert_lt(k->nbufs, TH_HOSTK_MAX_BUFS, "more than %d buffers", TH_HOSTK_MAX_BUFS);
  meas_ptr p;
  cr_assert_eq(meas_host.alloc(k->ctx, bytes, &p), AT_OK, "%s", at_last_error());
  void *b = (void *)(uintptr_t)p;
  memset(b, 0, bytes);
  k->bufs[k->nbufs++] = b;
  return b;
}

void th_hostk_release(struct th_hostk *k, void *p)
{
  for (int i = 0; i < k->nbufs; i++)
    if (k->bufs[i] == p) {
      meas_host.free(k->ctx, (meas_ptr)(uintptr_t)p);
      k->bufs[i] = k->bufs[--k->nbufs];
      return;
    }
  cr_assert_fail("th_hostk_release: %p is no buffer of this kernel file", p);
}

int th_hostk_launch(struct th_hostk *k, const char *kernel, unsigned blocks, unsigned threads,
                    unsigned shared, const char *kinds, void **args)
{
  meas_kernel kern;
  cr_assert_eq(meas_host.kernel(k->ctx, k->mod, kernel, &kern), AT_OK, "%s",
               at_last_error());
  struct meas_launch l = {.kernel = kern, .grid = {blocks, 1, 1}, .block = {threads, 1, 1},
                          .shared_bytes = shared, .args = args, .arg_kinds = kinds};
  int rc = meas_host.launch(k->ctx, &l);
  if (rc == AT_OK)
    rc = meas_host.sync(k->ctx);
  return rc;
}

int th_hostk_launch_cluster(struct th_hostk *k, const char *kernel, const unsigned grid[3],
                            const unsigned cluster[3], unsigned threads, unsigned shared,
                            const char *kinds, void **args)
{
  meas_kernel kern;
  cr_assert_eq(meas_host.kernel(k->ctx, k->mod, kernel, &kern), AT_OK, "%s",
               at_last_error());
  struct meas_launch l = {.kernel = kern, .grid = {grid[0], grid[1], grid[2]},
                          .block = {threads, 1, 1},
                          .cluster = {cluster[0], cluster[1], cluster[2]},
                          .shared_bytes = shared, .args = args, .arg_kinds = kinds};
  int rc = meas_host.launch(k->ctx, &l);
  if (rc == AT_OK)
    rc = meas_host.sync(k->ctx);
  return rc;
}

void th_hostk_close(struct th_hostk *k)
{
  while (k->nbufs > 0)
    meas_host.free(k->ctx, (meas_ptr)(uintptr_t)k->bufs[--k->nbufs]);
  meas_host.unload(k->ctx, k->mod);
  meas_host.close(k->ctx);
}
