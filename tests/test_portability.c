/*
 * test_portability.c - templates/common on every target: tests/data/pl/all_ops.cu, whose
 * kernels call every function of the layer, compiles with NVRTC for sm_80 and sm_90 (the
 * PTX, through nvcc where present, holds mma.sync, ldmatrix, cp.async, shfl.sync,
 * vote.sync, the f32 atomic and the cvt.rn conversions), with clang for HIP for gfx90a
 * and gfx942 (the code object holds all six v_mfma instructions, ds_bpermute and the
 * hardware f16 conversion), and with g++ in host mode for a warp of 32 and a wave of 64
 * under -Wall -Wextra -Werror; a host object built from two TUs exports exactly one
 * at_host_bind and its kernels even under -fvisibility=hidden. Then
 * tests/data/pl/host_kernels.cu runs on the host device (cc_host, meas_host, the SIMT
 * emulator): shuffle reductions, votes, a cp.async stage through dynamic shared memory,
 * atomics, an MFMA 32x32x8 f16 product on a wave of 64 and an ldmatrix + mma.sync
 * product on a warp of 32, each checked against plain arithmetic. A test skips only
 * when its tool is absent.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/helpers.h"
#include "tests/hostk.h"
#include "tuner/compile/compile.h"
#include "tuner/measure/meas.h"
#include "base/status.h"

#define COMMON AT_SOURCE_DIR "/templates/common"
#define PL AT_SOURCE_DIR "/tests/data/pl"

static const char *const include_dirs[] = {COMMON, NULL};

static void compile(const struct cc_backend *b, const char *file, const char *arch,
                    struct cc_result *r)
{
  char *src = th_read_pl(file);
  struct cc_request req = {.source = src, .name = file, .arch = arch,
                           .include_dirs = include_dirs};
  int rc = b->compile(&req, r);
  cr_assert_eq(rc, AT_OK, "%s for %s: %s: %s", b->name, arch, at_status_name(rc),
               at_last_error());
  cr_assert_eq(r->status, CC_OK, "%s for %s:\n%s", b->name, arch, r->log);
  free(src);
}

static const char *const common_kernels[] = {"pl_ids", "pl_warp", "pl_memory", "pl_types"};

static void has_kernels(const struct cc_result *r, const char *what, const char *extra,
                        const char *absent)
{
  for (size_t i = 0; i < 4; i++)
    cr_assert_not_null(cc_result_kernel(r, common_kernels[i]), "%s: no %s", what,
                       common_kernels[i]);
  cr_assert_not_null(cc_result_kernel(r, extra), "%s: no %s", what, extra);
  cr_assert_null(cc_result_kernel(r, absent), "%s: %s should be left out", what, absent);
}

/* ---- CUDA ---- */

static void check_nvrtc(const char *arch)
{
  th_need_cc(&cc_nvrtc);
  struct cc_result r;
  compile(&cc_nvrtc, "all_ops.cu", arch, &r);
  has_kernels(&r, arch, "pl_mma", "pl_mfma");
  cc_result_release(&r);
}

Test(portability, nvrtc_sm80_compiles_every_function) { check_nvrtc("sm_80"); }
Test(portability, nvrtc_sm90_compiles_every_function) { check_nvrtc("sm_90"); }

/* What test_matrix_core's gpu_* tests compile on the GPU machine compiles here. */
Test(portability, nvrtc_compiles_the_gpu_probe)
{
  th_need_cc(&cc_nvrtc);
  const char *arch[] = {"sm_80", "sm_90"};
  const char *names[] = {"probe_mma_f16", "probe_mma_bf16", "probe_ldmatrix",
                         "probe_convert", "probe_shuffle"};
  for (int a = 0; a < 2; a++) {
    struct cc_result r;
    compile(&cc_nvrtc, "mma_probe.cu", arch[a], &r);
    for (int i = 0; i < 5; i++)
      cr_assert_not_null(cc_result_kernel(&r, names[i]), "%s: no %s", arch[a], names[i]);
    cc_result_release(&r);
  }
}

/* The instructions each mapping must become. */
Test(portability, cuda_mappings_are_the_ptx_instructions)
{
  static const char *const want[] = {
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32",
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32",
      "ldmatrix.sync.aligned.m8n8.x1.shared.b16",
      "ldmatrix.sync.aligned.m8n8.x2.shared.b16",
      "ldmatrix.sync.aligned.m8n8.x4.shared.b16",
      "ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16",
      "ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16",
      "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16",
      "cp.async.ca.shared.global",
      "cp.async.cg.shared.global",
      "cp.async.commit_group",
      "cp.async.wait_group",
      "cp.async.wait_all",
      "shfl.sync.idx.b32",
      "vote.sync.ballot.b32",
      "vote.sync.any.pred",
      "vote.sync.all.pred",
      "atom.global.add.f32",
      "cvt.rn.f16.f32",
      "cvt.rn.bf16.f32",
      "cvt.f32.f16",
      "%laneid",
      "%dynamic_smem_size",
  };
  th_assert_ptx_has("all_ops.cu", "sm_80", want, sizeof want / sizeof want[0]);
}

/* ---- HIP ---- */

/* The disassembly's mnemonics with '_' removed after "v_mfma": CDNA3 spells
 * v_mfma_f32_32x32x8_f16 what CDNA2 spells v_mfma_f32_32x32x8f16. */
static void check_hip(const char *arch)
{
  th_need_cc(&cc_clang_hip);
  struct cc_result r;
  compile(&cc_clang_hip, "all_ops.cu", arch, &r);
  has_kernels(&r, arch, "pl_mfma", "pl_mma");
  char *mn = th_amd_disasm(r.code, r.code_size,
                           "grep -oE 'v_mfma[a-z0-9_]*|ds_bpermute_b32|v_cvt_f16_f32' "
                           "| sed 's/_//g' | sort -u");
  if (!mn) {
    cc_result_release(&r);
    cr_skip_test("compiled; no llvm-objdump to look for the v_mfma instructions");
  }
  static const char *const want[] = {
      "vmfmaf3232x32x8f16\n",     "vmfmaf3216x16x16f16\n", "vmfmaf3232x32x2f32\n",
      "vmfmaf3216x16x4f32\n",     "dsbpermuteb32\n",       "vcvtf16f32\n",
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    cr_assert_not_null(strstr(mn, want[i]), "%s: no %s in:\n%s", arch, want[i], mn);
  /* the bf16 _1k forms: v_mfma_f32_32x32x8bf16_1k on gfx90a, ..._32x32x8_bf16 on gfx942 */
  const char *bf32 = strcmp(arch, "gfx90a") == 0 ? "vmfmaf3232x32x8bf161k\n"
                                                   : "vmfmaf3232x32x8bf16\n";
  const char *bf16 = strcmp(arch, "gfx90a") == 0 ? "vmfmaf3216x16x16bf161k\n"
                                                   : "vmfmaf3216x16x16bf16\n";
  cr_assert_not_null(strstr(mn, bf32), "%s: no %s in:\n%s", arch, bf32, mn);
  cr_assert_not_null(strstr(mn, bf16), "%s: no %s in:\n%s", arch, bf16, mn);
  free(mn);
  cc_result_release(&r);
}

Test(portability, hip_gfx90a_compiles_every_function_and_mfma) { check_hip("gfx90a"); }
Test(portability, hip_gfx942_compiles_every_function_and_mfma) { check_hip("gfx942"); }

/* ---- host ---- */

static void gxx(struct th_result *out, const char *args)
{
  th_sh(out, "g++ -std=c++17 -Wall -Wextra -Werror -Wno-unknown-pragmas -I'%s' %s 2>&1",
        COMMON, args);
}

static void need_gxx(void)
{
  char path[4096];
  if (!os_which("g++", path, sizeof path))
    cr_skip_test("no g++");
}

Test(portability, host_mode_compiles_with_gxx_warp32_and_wave64)
{
  need_gxx();
  const char *files[] = {"all_ops.cu", "host_kernels.cu"};
  for (int w = 0; w < 2; w++)
    for (int f = 0; f < 2; f++) {
      char args[2048];
      snprintf(args, sizeof args, "-DAT_WAVE_SIZE=%d -fsyntax-only -x c++ '%s/%s'",
               w ? 64 : 32, PL, files[f]);
      struct th_result out;
      gxx(&out, args);
      cr_assert_eq(out.code, 0, "g++ wave %d %s:\n%s", w ? 64 : 32, files[f], out.out);
      th_result_free(&out);
    }
}

/* Two TUs in one shared object: one at_host_bind (weak, merged), the kernels visible. */
Test(portability, host_object_has_one_bind_and_its_kernels)
{
  need_gxx();
  char *dir = th_tmpdir(), *second = th_path(dir, "second.cpp"), *so = th_path(dir, "v.so");
  const char text[] = "#include \"at_common.h\"\n"
                      "extern \"C\" __global__ void second(float *y) "
                      "{ y[at_thread_idx_x()] = (float)at_lane_id(); }\n";
  cr_assert_eq(th_write(second, text, sizeof text - 1), 0);
  char args[4096];
  snprintf(args, sizeof args,
           "-O1 -fPIC -shared -fvisibility=hidden -x c++ '%s/all_ops.cu' '%s' -o '%s'", PL,
           second, so);
  struct th_result out;
  gxx(&out, args);
  cr_assert_eq(out.code, 0, "g++:\n%s", out.out);
  th_result_free(&out);
  th_sh(&out, "nm -D --defined-only '%s' | awk '{print $3}' | sort", so);
  cr_assert_eq(out.code, 0);
  const char *p = strstr(out.out, "at_host_bind\n");
  cr_assert_not_null(p, "at_host_bind not exported:\n%s", out.out);
  cr_assert_null(strstr(p + 1, "at_host_bind\n"), "two at_host_bind:\n%s", out.out);
  const char *kernels[] = {"pl_ids\n", "pl_warp\n", "pl_memory\n", "pl_types\n",
                           "pl_mma\n", "second\n"};
  for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
    cr_assert_not_null(strstr(out.out, kernels[i]), "no %s in:\n%s", kernels[i], out.out);
  cr_assert_null(strstr(out.out, "at_host_rt_slot"), "the table's slot leaks:\n%s", out.out);
  th_result_free(&out);
  th_rmtree(dir);
  free(second);
  free(so);
  free(dir);
}

/* ---- host kernels on the emulator ---- */

static void hk_run(struct th_hostk *k, const char *name, unsigned blocks, unsigned threads,
                   unsigned shared, const char *kinds, void **args)
{
  int rc = th_hostk_launch(k, name, blocks, threads, shared, kinds, args);
  cr_assert_eq(rc, AT_OK, "%s: %s", name, at_last_error());
}

static void reduce_and_vote(const char *arch, int ws)
{
  struct th_hostk k;
  th_hostk_load(&k, PL "/host_kernels.cu", arch, include_dirs);
  enum { BLOCKS = 2, THREADS = 128, N = BLOCKS * THREADS };
  float *x = th_hostk_buf(&k, N * sizeof *x), *ox = th_hostk_buf(&k, N * sizeof *ox);
  float *od = th_hostk_buf(&k, N * sizeof *od);
  for (int i = 0; i < N; i++)
    x[i] = (float)((i * 37) % 101 - 50);
  void *args[] = {&x, &ox, &od};
  hk_run(&k, "pl_reduce", BLOCKS, THREADS, 0, "ppp", args);
  for (int w = 0; w < N / ws; w++) {
    float sum = 0;
    for (int l = 0; l < ws; l++)
      sum += x[w * ws + l];
    cr_assert_eq(od[w], sum, "%s warp %d: down %g, want %g", arch, w, (double)od[w],
                 (double)sum);
    for (int l = 0; l < ws; l++)
      cr_assert_eq(ox[w * ws + l], sum, "%s warp %d lane %d: xor", arch, w, l);
  }
  unsigned *v = th_hostk_buf(&k, 5 * N * sizeof *v);
  int n = N;
  void *vargs[] = {&v, &n};
  hk_run(&k, "pl_vote", BLOCKS, THREADS, 0, "pi", vargs);
  unsigned long long ballot = 0;
  for (int l = 0; l < ws; l++)
    ballot |= (unsigned long long)(l % 3 == 0) << l;
  for (int g = 0; g < N; g++) {
    int lane = g % ws;
    cr_assert_eq(v[g], (unsigned)ballot, "%s thread %d ballot low", arch, g);
    cr_assert_eq(v[N + g], (unsigned)(ballot >> 32), "%s thread %d ballot high", arch, g);
    cr_assert_eq(v[2 * N + g], 1u + 2u + 0u, "%s thread %d any/all", arch, g);
    /* up by 1 within segments of 8: the first lane of a segment keeps its own */
    cr_assert_eq(v[3 * N + g], (unsigned)(lane % 8 == 0 ? lane : lane - 1), "%s up", arch);
    cr_assert_eq(v[4 * N + g], (unsigned)((lane & ~15) + 3), "%s idx", arch);
  }
  th_hostk_close(&k);
}

Test(portability, host_shuffles_and_votes_warp32, .timeout = 60)
{
  reduce_and_vote("host", 32);
}
Test(portability, host_shuffles_and_votes_wave64, .timeout = 60)
{
  reduce_and_vote("host:gfx942", 64);
}

/* cp.async on the host (at_host_copy.h): emulating an NVIDIA GPU with it (host:sm_90, and
 * the plain warp-32 host) a copy lands at the wait that covers its group; emulating one
 * without it (host:gfx942, host:sm_75) it is synchronous, as the GPU's fallback. */
static void cp_async_groups(const char *arch, int deferred)
{
  struct th_hostk k;
  th_hostk_load(&k, PL "/host_kernels.cu", arch, include_dirs);
  unsigned *src = th_hostk_buf(&k, 12 * sizeof *src), *out = th_hostk_buf(&k, 6 * sizeof *out);
  for (int i = 0; i < 12; i++)
    src[i] = 100 + (unsigned)i;
  void *args[] = {&src, &out};
  hk_run(&k, "pl_cp_async_groups", 1, strstr(arch, "gfx") ? 64 : 32, 64, "pp", args);
  const unsigned want[2][6] = {{101, 101, 105, 105, 109, 109}, {0, 101, 0, 105, 0, 109}};
  for (int i = 0; i < 6; i++)
    cr_assert_eq(out[i], want[deferred][i], "%s: out[%d] = %u, want %u", arch, i, out[i],
                 want[deferred][i]);
  th_hostk_close(&k);
}

Test(portability, host_cp_async_lands_at_its_wait, .timeout = 60)
{
  cp_async_groups("host:sm_90", 1);
  cp_async_groups("host", 1);
  cp_async_groups("host:gfx942", 0);
  cp_async_groups("host:sm_75", 0);
}

Test(portability, host_stage_and_atomics, .timeout = 60)
{
  struct th_hostk k;
  th_hostk_load(&k, PL "/host_kernels.cu", "host", include_dirs);
  enum { BLOCKS = 4, N = BLOCKS * 64 };
  float *in = th_hostk_buf(&k, N * sizeof *in), *out = th_hostk_buf(&k, N * sizeof *out);
  for (int i = 0; i < N; i++)
    in[i] = (float)(i * 3 + 1);
  void *args[] = {&in, &out};
  hk_run(&k, "pl_stage", BLOCKS, 64, 256, "pp", args);
  for (int i = 0; i < N; i++)
    cr_assert_eq(out[i], in[(i / 64) * 64 + 63 - i % 64], "stage %d: %g", i, (double)out[i]);
  float *sum = th_hostk_buf(&k, sizeof *sum);
  unsigned *count = th_hostk_buf(&k, sizeof *count);
  int *isum = th_hostk_buf(&k, sizeof *isum);
  void *aargs[] = {&in, &sum, &count, &isum};
  hk_run(&k, "pl_atomic", BLOCKS, 64, 0, "pppp", aargs);
  float want = 0;
  for (int i = 0; i < N; i++)
    want += in[i];
  cr_assert_eq(*sum, want, "f32 atomics: %g, want %g", (double)*sum, (double)want);
  cr_assert_eq(*count, (unsigned)N);
  cr_assert_eq(*isum, N * (N - 1) / 2);
  th_hostk_close(&k);
}

static unsigned short half_bits(float f)
{
  /* small integers only: exact, so a plain encoder is enough here */
  unsigned int u;
  memcpy(&u, &f, 4);
  if (f == 0)
    return 0;
  return (unsigned short)(((u >> 16) & 0x8000) | ((((u >> 23) & 0xff) - 112) << 10) |
                          ((u >> 13) & 0x3ff));
}

Test(portability, host_mfma_32x32x8_f16_product, .timeout = 60)
{
  struct th_hostk k;
  th_hostk_load(&k, PL "/host_kernels.cu", "host:gfx942", include_dirs);
  unsigned short *a = th_hostk_buf(&k, 32 * 8 * 2), *b = th_hostk_buf(&k, 8 * 32 * 2);
  float *d = th_hostk_buf(&k, 32 * 32 * sizeof *d);
  float fa[32 * 8], fb[8 * 32];
  for (int i = 0; i < 256; i++) {
    fa[i] = (float)(i % 17 - 8);
    fb[i] = (float)((i * 5) % 13 - 6);
    a[i] = half_bits(fa[i]);
    b[i] = half_bits(fb[i]);
  }
  void *args[] = {&a, &b, &d};
  hk_run(&k, "pl_mfma_32x32x8", 1, 64, 0, "ppp", args);
  for (int i = 0; i < 32; i++)
    for (int j = 0; j < 32; j++) {
      float s = 0;
      for (int kk = 0; kk < 8; kk++)
        s += fa[i * 8 + kk] * fb[kk * 32 + j];
      cr_assert_eq(d[i * 32 + j], s, "D[%d][%d]: %g, want %g", i, j, (double)d[i * 32 + j],
                   (double)s);
    }
  th_hostk_close(&k);
}

Test(portability, host_ldmatrix_mma_16x8x16_f16_product, .timeout = 60)
{
  struct th_hostk k;
  th_hostk_load(&k, PL "/host_kernels.cu", "host:sm_90", include_dirs);
  unsigned short *a = th_hostk_buf(&k, 16 * 16 * 2), *b = th_hostk_buf(&k, 16 * 8 * 2);
  float *d = th_hostk_buf(&k, 16 * 8 * sizeof *d);
  float fa[16 * 16], fb[16 * 8];
  for (int i = 0; i < 256; i++) {
    fa[i] = (float)(i % 19 - 9);
    a[i] = half_bits(fa[i]);
  }
  for (int i = 0; i < 128; i++) {
    fb[i] = (float)((i * 7) % 11 - 5);
    b[i] = half_bits(fb[i]);
  }
  void *args[] = {&a, &b, &d};
  hk_run(&k, "pl_mma_16x8x16", 1, 32, 0, "ppp", args);
  for (int i = 0; i < 16; i++)
    for (int j = 0; j < 8; j++) {
      float s = 0;
      for (int kk = 0; kk < 16; kk++)
        s += fa[i * 16 + kk] * fb[kk * 8 + j];
      cr_assert_eq(d[i * 8 + j], s, "D[%d][%d]: %g, want %g", i, j, (double)d[i * 8 + j],
                   (double)s);
    }
  th_hostk_close(&k);
}
