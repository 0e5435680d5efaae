/*
 * test_meas.c - the measurement backends as far as this machine can tell: without a
 * CUDA driver the `cuda` backend says so, as AT_UNSUPPORTED with a one-line reason, and
 * never crashes. On a machine with a driver and a GPU (bench/gpu/check.sh runs this test
 * there) it also loads a cubin, launches it, checks the result and times it.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/compile/compile.h"
#include "tuner/device/detect.h"
#include "tuner/device/vendor.h"
#include "tuner/measure/meas.h"
#include "base/status.h"

/* meas_time_events with stand-ins that log their calls: the launch's set-up (CUDA's
 * shared-memory opt-in, a driver call) happens once and before any start event, so the
 * timed region holds the launch alone; a failing set-up starts nothing. */
static char tlog[64];
static int tprep_rc;
static int logged(const char *what, int rc)
{
  strcat(tlog, what);
  return rc;
}
static int t_prepare(struct meas_ctx *c, const struct meas_launch *l)
{
  return (void)c, (void)l, logged("P", tprep_rc);
}
static int t_between(struct meas_ctx *c, void *arg)
{
  return (void)c, (void)arg, logged("B", AT_OK);
}
static int t_start(struct meas_ctx *c) { return (void)c, logged("S", AT_OK); }
static int t_launch(struct meas_ctx *c, const struct meas_launch *l)
{
  return (void)c, (void)l, logged("L", AT_OK);
}
static int t_stop(struct meas_ctx *c) { return (void)c, logged("T", AT_OK); }
static int t_elapsed(struct meas_ctx *c, float *ms)
{
  *ms = 0.25f;
  return (void)c, logged("E", AT_OK);
}

Test(meas, event_timer_times_the_launch_alone)
{
  const struct meas_event_timer t = {t_prepare, t_start, t_launch, t_stop, t_elapsed};
  const struct meas_launch l = {.grid = {1, 1, 1}, .block = {32, 1, 1}};
  double us[3] = {0};
  tlog[0] = '\0';
  tprep_rc = AT_OK;
  cr_assert_eq(meas_time_events(NULL, &t, &l, 3, t_between, NULL, us), AT_OK);
  cr_assert_str_eq(tlog, "PBSLTEBSLTEBSLTE");
  for (int i = 0; i < 3; i++)
    cr_assert_float_eq(us[i], 250.0, 1e-9);
  tlog[0] = '\0';
  tprep_rc = AT_DEVICE;
  cr_assert_eq(meas_time_events(NULL, &t, &l, 3, t_between, NULL, us), AT_DEVICE);
  cr_assert_str_eq(tlog, "P");
}

Test(meas, cuda_without_a_driver_is_unsupported_not_a_crash)
{
  struct meas_ctx *ctx = (struct meas_ctx *)0x1;
  int rc = meas_cuda.open(0, &ctx);
  if (rc == AT_OK) {
    meas_cuda.close(ctx);
    cr_skip_test("a CUDA device is present: the GPU test below covers it");
  }
  cr_assert_eq(rc, AT_UNSUPPORTED, "rc %d: %s", rc, at_last_error());
  cr_assert_null(ctx);
  cr_assert(strstr(at_last_error(), "CUDA"), "%s", at_last_error());
  cr_assert_null(strchr(at_last_error(), '\n'));
  /* Asking again gives the same answer (the driver is probed once). */
  cr_assert_eq(meas_cuda.open(0, &ctx), AT_UNSUPPORTED);
}

/* The HIP backend the same way: this machine has ROCm's runtime (Debian's 5.2) or none,
 * and no AMD GPU either way. */
Test(meas, hip_without_a_device_is_unsupported_not_a_crash)
{
  struct meas_ctx *ctx = (struct meas_ctx *)0x1;
  int rc = meas_hip.open(0, &ctx);
  if (rc == AT_OK) {
    char name[128], arch[32];
    cr_assert_eq(meas_hip.describe(ctx, name, sizeof name, arch, sizeof arch), AT_OK);
    meas_hip.close(ctx);
    cr_skip_test("an AMD GPU is present (%s, %s): not covered by this test", name, arch);
  }
  cr_assert_eq(rc, AT_UNSUPPORTED, "rc %d: %s", rc, at_last_error());
  cr_assert_null(ctx);
  cr_assert(strstr(at_last_error(), "HIP"), "%s", at_last_error());
  cr_assert_null(strchr(at_last_error(), '\n'));
  cr_assert_eq(meas_hip.open(0, &ctx), AT_UNSUPPORTED);
  cr_assert_str_eq(meas_hip.name, "hip");
}

/* Measurement and detection read one table per vendor: the backend's reason for absence
 * is the vendor layer's, word for word, and a runtime measurement cannot use finds no
 * GPU in detection either. */
Test(meas, gpu_backends_and_detection_share_the_vendor_tables)
{
  const struct meas_backend *const mb[] = {&meas_cuda, &meas_hip};
  const struct vnd_api *const api[] = {vnd_cuda(), vnd_hip()};
  struct dev_present found[16];
  int n = dev_detect(found, 16);
  for (size_t k = 0; k < 2; k++) {
    struct meas_ctx *ctx = NULL;
    int rc = mb[k]->open(0, &ctx);
    if (rc == AT_OK) {
      mb[k]->close(ctx);
      cr_assert_eq(api[k]->rc, AT_OK);
      continue;
    }
    if (api[k]->rc != AT_OK) {
      cr_assert_str_eq(at_last_error(), api[k]->why, "%s", mb[k]->name);
      for (int i = 0; i < n; i++)
        cr_assert_neq(found[i].vendor, api[k]->vendor, "%s", mb[k]->name);
    }
  }
}

static const char axpy_src[] =
    "extern \"C\" __global__ void axpy(float *y, const float *x, float a, int n)\n"
    "{\n"
    "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "  if (i < n) y[i] = a * x[i] + y[i];\n"
    "}\n"
    "extern \"C\" __global__ void bad_write(float *y)\n"
    "{\n"
    "  y[(size_t)1 << 40] = 1.0f;\n"
    "}\n";

/* The GPU tests' common start: the device, and axpy_src compiled by NVRTC for its arch
 * and loaded. Skips (with the reason) where there is no device or no NVRTC. */
static struct meas_ctx *gpu_setup(struct cc_result *res, meas_module *mod)
{
  struct meas_ctx *ctx = NULL;
  if (meas_cuda.open(0, &ctx) != AT_OK)
    cr_skip_test("no CUDA device here (%s); bench/gpu/check.sh runs this on a GPU",
                 at_last_error());
  char name[128], arch[16];
  cr_assert_eq(meas_cuda.describe(ctx, name, sizeof name, arch, sizeof arch), AT_OK);
  const struct cc_backend *cc = cc_find("nvrtc");
  char why[256];
  if (!cc || !cc->available(why, sizeof why)) {
    meas_cuda.close(ctx);
    cr_skip_test("NVRTC not available: %s", cc ? why : "not built");
  }
  struct cc_request req = {.source = axpy_src, .name = "axpy.cu", .arch = arch};
  cr_assert_eq(cc->compile(&req, res), AT_OK, "%s", at_last_error());
  cr_assert_eq(res->status, CC_OK, "%s", res->log);
  cr_assert_eq(meas_cuda.load(ctx, res->code, res->code_size, mod), AT_OK, "%s",
               at_last_error());
  return ctx;
}

Test(meas, cuda_runs_an_nvrtc_cubin_on_the_gpu, .timeout = 120)
{
  struct cc_result res = {0};
  meas_module mod;
  struct meas_ctx *ctx = gpu_setup(&res, &mod);
  meas_kernel k, bad;
  cr_assert_eq(meas_cuda.kernel(ctx, mod, "axpy", &k), AT_OK, "%s", at_last_error());
  cr_assert_eq(meas_cuda.kernel(ctx, mod, "bad_write", &bad), AT_OK);
  int n = 1 << 20;
  float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
  for (int i = 0; i < n; i++)
    x[i] = (float)(i % 97) * 0.25f, y[i] = (float)(i % 13);
  meas_ptr dx, dy;
  cr_assert_eq(meas_cuda.alloc(ctx, sizeof(float) * (size_t)n, &dx), AT_OK);
  cr_assert_eq(meas_cuda.alloc(ctx, sizeof(float) * (size_t)n, &dy), AT_OK);
  cr_assert_eq(meas_cuda.upload(ctx, dx, x, sizeof(float) * (size_t)n), AT_OK);
  cr_assert_eq(meas_cuda.upload(ctx, dy, y, sizeof(float) * (size_t)n), AT_OK);
  float a = 3.0f;
  void *args[] = {&dy, &dx, &a, &n};
  struct meas_launch l = {.kernel = k, .grid = {(unsigned)(n + 255) / 256, 1, 1},
                          .block = {256, 1, 1}, .args = args};
  cr_assert_eq(meas_cuda.launch(ctx, &l), AT_OK, "%s", at_last_error());
  float *out = malloc(sizeof(float) * (size_t)n);
  cr_assert_eq(meas_cuda.download(ctx, out, dy, sizeof(float) * (size_t)n), AT_OK);
  for (int i = 0; i < n; i++)
    cr_assert_float_eq(out[i], a * x[i] + y[i], 1e-6, "element %d", i);
  double us[5];
  cr_assert_eq(meas_cuda.time(ctx, &l, 5, NULL, NULL, us), AT_OK);
  for (int i = 0; i < 5; i++)
    cr_assert(us[i] > 0 && us[i] < 1e6, "time %g us", us[i]);
  meas_cuda.free(ctx, dx);
  meas_cuda.free(ctx, dy);
  free(x);
  free(y);
  free(out);
  cc_result_release(&res);
  meas_cuda.close(ctx);
}

Test(meas, cuda_fault_is_a_status_with_the_drivers_words, .timeout = 120)
{
  struct cc_result res = {0};
  meas_module mod;
  struct meas_ctx *ctx = gpu_setup(&res, &mod);
  meas_kernel bad;
  cr_assert_eq(meas_cuda.kernel(ctx, mod, "bad_write", &bad), AT_OK);
  meas_ptr dy;
  cr_assert_eq(meas_cuda.alloc(ctx, 4096, &dy), AT_OK);
  void *args[] = {&dy};
  struct meas_launch l = {.kernel = bad, .grid = {1, 1, 1}, .block = {1, 1, 1},
                          .args = args};
  int rc = meas_cuda.launch(ctx, &l);
  if (rc == AT_OK)
    rc = meas_cuda.sync(ctx);
  cr_assert_eq(rc, AT_DEVICE, "a write far outside any allocation must fault");
  cr_assert(strstr(at_last_error(), "CUDA_ERROR_ILLEGAL_ADDRESS"), "%s", at_last_error());
  cc_result_release(&res);
  /* The context is now unusable (the worker process that owns it is replaced). */
}
