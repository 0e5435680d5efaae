/*
 * test_device.c - the device profiles (lookup, sanity invariants, figures checked against
 * the data sheets), detection on a machine without GPUs, the vendor layer it reads (an
 * absent runtime's reason names its candidates; the error texts and fault words), the
 * management libraries' absence and ROCm SMI's two frequency layouts, and `autotune
 * devices`.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/helpers.h"
#include "tuner/device/detect.h"
#include "tuner/device/smi.h"
#include "tuner/device/vendor.h"
#include "tuner/engine/tune_internal.h"
#include "base/dl.h"
#include "base/status.h"

static const char *const required[] = {"mi300x", "mi325x", "mi250x", "mi210", "mi355x",
                                       "h100",   "h200",   "a100",   "l40s",  "host"};
#define NREQUIRED (sizeof required / sizeof required[0])

static size_t count_of(const char *hay, const char *needle)
{
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
    n++;
  return n;
}

/* True when one of the vendor's candidates loads here, asked of the loader directly. */
static bool any_candidate_loads(const struct vnd_api *a)
{
  for (size_t i = 0; a->libs[i]; i++) {
    void *h = dlopen(a->libs[i], RTLD_LAZY | RTLD_LOCAL);
    if (h) {
      dlclose(h);
      return true;
    }
  }
  return false;
}

static bool has_candidate(const struct vnd_api *a, const char *name)
{
  for (size_t i = 0; a->libs[i]; i++)
    if (strcmp(a->libs[i], name) == 0)
      return true;
  return false;
}

Test(device, table_has_at_least_ten_profiles)
{
  cr_assert_geq(dev_profile_count(), 10);
  cr_assert_not_null(dev_profiles());
}

Test(device, every_required_profile_is_found_by_name)
{
  for (size_t i = 0; i < NREQUIRED; i++) {
    const struct dev_profile *p = dev_find(required[i]);
    cr_assert_not_null(p, "profile '%s' missing", required[i]);
    cr_assert_str_eq(p->name, required[i]);
  }
}

Test(device, names_are_unique_and_lookup_ignores_case)
{
  const struct dev_profile *p = dev_profiles();
  for (size_t i = 0; i < dev_profile_count(); i++)
    for (size_t j = i + 1; j < dev_profile_count(); j++)
      cr_assert_str_neq(p[i].name, p[j].name);
  cr_assert_eq(dev_find("MI300X"), dev_find("mi300x"));
  cr_assert_eq(dev_find("H100"), dev_find("h100"));
}

Test(device, find_by_arch_gives_a_profile_of_that_arch)
{
  const struct dev_profile *p = dev_find("gfx942");
  cr_assert_not_null(p);
  cr_assert_eq(p->vendor, DEV_AMD);
  cr_assert_str_eq(p->arch, "gfx942");

  p = dev_find("SM_90");
  cr_assert_not_null(p);
  cr_assert_eq(p->vendor, DEV_NVIDIA);
  cr_assert_str_eq(p->arch, "sm_90");

  p = dev_find("gfx90a");
  cr_assert_not_null(p);
  cr_assert_str_eq(p->arch, "gfx90a");
  cr_assert_str_eq(dev_find("sm_80")->name, "a100");
  cr_assert_str_eq(dev_find("sm_89")->name, "l40s");
  cr_assert_str_eq(dev_find("gfx950")->name, "mi355x");
}

Test(device, unknown_device_is_null_with_a_message_naming_it)
{
  at_error_clear();
  cr_assert_null(dev_find("rtx9999"));
  const char *msg = at_last_error();
  cr_assert_not_null(strstr(msg, "'rtx9999'"), "message: %s", msg);
  cr_assert_not_null(strstr(msg, "autotune devices"), "message: %s", msg);

  cr_assert_null(dev_find(""));
  cr_assert_null(dev_find(NULL));

  /* the input is capped in the message */
  char long_name[300];
  memset(long_name, 'x', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  cr_assert_null(dev_find(long_name));
  cr_assert_lt(strlen(at_last_error()), 250);
}

Test(device, every_gpu_profile_is_sane)
{
  const struct dev_profile *p = dev_profiles();
  for (size_t i = 0; i < dev_profile_count(); i++) {
    const struct dev_profile *d = &p[i];
    cr_assert_not_null(d->name);
    cr_assert_not_null(d->arch);
    cr_assert_not_null(d->description);
    cr_assert(d->description[0]);
    cr_assert_str_eq(dev_vendor_name(d->vendor),
                     d->vendor == DEV_AMD ? "amd" : d->vendor == DEV_NVIDIA ? "nvidia" : "host");
    cr_assert_gt(d->compute_units, 0, "%s", d->name);
    cr_assert_leq(d->lds_per_block, d->lds_per_cu, "%s", d->name);
    cr_assert_gt(d->lds_per_block, 0, "%s", d->name);
    cr_assert_gt(d->lds_alloc_granularity, 0, "%s", d->name);
    cr_assert_gt(d->reg_alloc_granularity, 0, "%s", d->name);
    cr_assert_eq(d->max_threads_per_block, 1024, "%s", d->name);
    if (d->vendor == DEV_HOST)
      continue;
    cr_assert_eq(d->warp_size, d->vendor == DEV_AMD ? 64 : 32, "%s", d->name);
    cr_assert(strncmp(d->arch, d->vendor == DEV_AMD ? "gfx" : "sm_", 3) == 0, "%s", d->name);
    cr_assert_gt(d->peak_tflops_f16, 0, "%s", d->name);
    cr_assert_gt(d->peak_tflops_bf16, 0, "%s", d->name);
    cr_assert_gt(d->peak_tflops_f32, 0, "%s", d->name);
    cr_assert_geq(d->peak_tflops_f8, 0, "%s", d->name);
    cr_assert_gt(d->peak_tflops_f16, d->peak_tflops_f32, "%s: matrix above vector", d->name);
    cr_assert_gt(d->mem_bandwidth_gbs, 0, "%s", d->name);
    cr_assert_gt(d->l2_bytes, 0, "%s", d->name);
    cr_assert_geq(d->llc_bytes, d->l2_bytes, "%s", d->name);
    cr_assert_gt(d->clock_mhz, 0, "%s", d->name);
    cr_assert_gt(d->regs_per_cu, 0, "%s", d->name);
    cr_assert_gt(d->max_regs_per_thread, 0, "%s", d->name);
    cr_assert_eq(d->simds_per_cu, 4, "%s", d->name);
    cr_assert_eq(d->max_warps_per_cu, d->max_waves_per_simd * d->simds_per_cu, "%s", d->name);
    cr_assert_gt(d->max_blocks_per_cu, 0, "%s", d->name);
    if (d->vendor == DEV_AMD) {
      cr_assert_eq(d->vgprs_per_lane, 512, "%s", d->name);
      cr_assert_gt(d->sgprs_per_wave, 0, "%s", d->name);
    } else {
      cr_assert_eq(d->max_regs_per_thread, 255, "%s", d->name);
      cr_assert_eq(d->lds_reserved_per_block, 1024, "%s", d->name);
    }
  }
}

Test(device, figures_match_the_data_sheets)
{
  const struct dev_profile *h100 = dev_find("h100"), *h200 = dev_find("h200");
  const struct dev_profile *a100 = dev_find("a100"), *l40s = dev_find("l40s");
  const struct dev_profile *mi300x = dev_find("mi300x"), *mi325x = dev_find("mi325x");
  const struct dev_profile *mi250x = dev_find("mi250x"), *mi210 = dev_find("mi210");
  const struct dev_profile *mi355x = dev_find("mi355x");

  cr_assert_eq(h100->compute_units, 132);
  cr_assert_eq(h200->compute_units, 132);
  cr_assert_eq(a100->compute_units, 108);
  cr_assert_eq(l40s->compute_units, 142);
  cr_assert_eq(mi300x->compute_units, 304);
  cr_assert_eq(mi325x->compute_units, 304);
  cr_assert_eq(mi250x->compute_units, 110);
  cr_assert_eq(mi210->compute_units, 104);
  cr_assert_eq(mi355x->compute_units, 256);

  /* CUDA guide: opt-in shared memory per block / per SM */
  cr_assert_eq(h100->lds_per_block, 227 * 1024);
  cr_assert_eq(h100->lds_per_cu, 228 * 1024);
  cr_assert_eq(a100->lds_per_block, 163 * 1024);
  cr_assert_eq(l40s->lds_per_block, 99 * 1024);
  cr_assert_eq(l40s->max_warps_per_cu, 48);
  cr_assert_eq(h100->max_warps_per_cu, 64);
  /* ROCm specs: LDS per CU */
  cr_assert_eq(mi300x->lds_per_cu, 64 * 1024);
  cr_assert_eq(mi355x->lds_per_cu, 160 * 1024);

  /* dense peaks and bandwidth (data sheets) */
  cr_assert_float_eq(h100->peak_tflops_f16, 989.4, 0.5);
  cr_assert_float_eq(a100->peak_tflops_f16, 312, 0.5);
  cr_assert_float_eq(l40s->peak_tflops_f16, 362.05, 0.5);
  cr_assert_float_eq(mi300x->peak_tflops_f16, 1307.4, 0.5);
  cr_assert_float_eq(mi210->peak_tflops_f16, 181, 0.5);
  cr_assert_float_eq(mi250x->peak_tflops_f16, 383.0 / 2, 0.5);
  cr_assert_float_eq(h100->mem_bandwidth_gbs, 3350, 1);
  cr_assert_float_eq(h200->mem_bandwidth_gbs, 4800, 1);
  cr_assert_float_eq(a100->mem_bandwidth_gbs, 2039, 1);
  cr_assert_float_eq(mi300x->mem_bandwidth_gbs, 5300, 1);
  cr_assert_float_eq(mi325x->mem_bandwidth_gbs, 6000, 1);
  cr_assert_float_eq(mi355x->mem_bandwidth_gbs, 8000, 1);
  cr_assert_eq(mi300x->l2_bytes, 4 * 1024 * 1024);
  cr_assert_eq(mi300x->llc_bytes, 256 * 1024 * 1024);
  cr_assert_eq(h100->l2_bytes, 50 * 1024 * 1024);

  /* MI300X matrix peak = 2048 FLOP/clk/CU x CUs x clock */
  double derived = 2048.0 * mi300x->compute_units * mi300x->clock_mhz * 1e6 / 1e12;
  cr_assert_float_eq(mi300x->peak_tflops_f16, derived, 0.5);
}

Test(device, host_profile_counts_the_cpus)
{
  const struct dev_profile *h = dev_find("host");
  cr_assert_eq(h->vendor, DEV_HOST);
  cr_assert_str_eq(h->arch, "host");
  cr_assert_eq(h->warp_size, 32);
  cr_assert_eq(h->lds_per_block, 64 * 1024);
  cr_assert_eq(h->peak_tflops_f16, 0);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  cr_assert_eq(h->compute_units, n > 0 ? (int)n : 1);
  cr_assert_str_eq(dev_vendor_name(DEV_HOST), "host");
  cr_assert_str_eq(dev_vendor_name(DEV_NVIDIA), "nvidia");
  cr_assert_str_eq(dev_vendor_name(DEV_AMD), "amd");
}

/* A GPU is measured only as its own profile (tune.c's probe refuses the rest): the names
 * are what the drivers report (cuDeviceGetName, hipDeviceProp_t.name). */
Test(device, a_present_gpu_is_only_its_own_profile)
{
  static const struct {
    const char *profile, *name, *arch;
    bool is;
    const char *named;
  } c[] = {
      {"h200", "NVIDIA H200", "sm_90", true, "h200"},
      {"h100", "NVIDIA H100 80GB HBM3", "sm_90", true, "h100"},
      {"h200", "NVIDIA H100 80GB HBM3", "sm_90", false, "h100"}, /* the lease's first kind */
      {"h100", "NVIDIA H200", "sm_90", false, "h200"},
      {"h100", "NVIDIA H800", "sm_90", true, NULL},   /* names no profile: by its arch */
      {"h100", "NVIDIA GH200 480GB", "sm_90", true, NULL}, /* "H200" inside a word */
      {"h200", "NVIDIA H200 NVL", "sm_90", true, "h200"},
      {"h100", "NVIDIA A100-SXM4-80GB", "sm_80", false, "a100"},
      {"a100", "NVIDIA A100-SXM4-80GB", "sm_80", true, "a100"},
      {"l40s", "NVIDIA L40S", "sm_89", true, "l40s"},
      {"mi300x", "AMD Instinct MI300X", "gfx942:sramecc+:xnack-", true, "mi300x"},
      {"mi325x", "AMD Instinct MI300X", "gfx942", false, "mi300x"},
      {"mi300x", "AMD Instinct MI250X/MI250", "gfx90a", false, "mi250x"},
      {"mi250x", "AMD Instinct MI250X/MI250", "gfx90a:sramecc+:xnack-", true, "mi250x"},
      {"mi300x", "AMD Instinct MI300X", "gfx94", false, NULL}, /* an arch is matched whole */
      {"host", "NVIDIA H100 80GB HBM3", "sm_90", false, NULL},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    const struct dev_profile *p = dev_find(c[i].profile), *named = p;
    cr_assert_not_null(p);
    cr_assert_eq(dev_present_is(p, c[i].name, c[i].arch, &named), c[i].is, "%s as %s (%s)",
                 c[i].name, c[i].profile, c[i].arch);
    if (c[i].named)
      cr_assert(named && strcmp(named->name, c[i].named) == 0, "%s names %s, not %s",
                c[i].name, named ? named->name : "none", c[i].named);
    else
      cr_assert_null(named, "%s names %s", c[i].name, named->name);
  }
}

/* --device given as an arch names the GPU of that arch present, as its own profile
 * (tune.c's device_of_arch): sm_90 on an H200 is h200, gfx942 on an MI325X mi325x; a
 * name that names no profile, or a GPU of another arch, keeps the arch's first profile. */
Test(device, an_arch_names_the_present_gpu_of_that_arch)
{
  static const struct {
    const char *arch_arg, *name, *arch, *want;
  } c[] = {
      {"sm_90", "NVIDIA H200", "sm_90", "h200"},
      {"sm_90", "NVIDIA H200 NVL", "sm_90", "h200"},
      {"sm_90", "NVIDIA H100 80GB HBM3", "sm_90", "h100"},
      {"sm_90", "NVIDIA GH200 480GB", "sm_90", "h100"}, /* names no profile: by its arch */
      {"sm_90", "NVIDIA A100-SXM4-80GB", "sm_80", "h100"}, /* another arch: refused later */
      {"gfx942", "AMD Instinct MI325X", "gfx942:sramecc+:xnack-", "mi325x"},
      {"gfx942", "AMD Instinct MI300X", "gfx942", "mi300x"},
      {"gfx90a", "AMD Instinct MI210", "gfx90a", "mi210"},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    const struct dev_profile *p = dev_find(c[i].arch_arg);
    cr_assert_not_null(p);
    const struct dev_profile *got = dev_present_for_arch(p, c[i].name, c[i].arch);
    cr_assert_str_eq(got->name, c[i].want, "--device %s on '%s' (%s): %s", c[i].arch_arg,
                     c[i].name, c[i].arch, got->name);
  }
}

/* The refusal, for the lone GPU (--device) and for each of several (--gpus, --all-gpus:
 * deal.c's plan), is one line that names the flag, the GPU and the profile it is. */
Test(device, a_gpu_that_is_not_the_profile_is_refused_in_one_line)
{
  struct tuner tu = {.dev = dev_find("h200")};
  cr_assert_not_null(tu.dev);
  struct meas_device_id h200 = {.name = "NVIDIA H200", .arch = "sm_90"},
                        h100 = {.name = "NVIDIA H100 80GB HBM3", .arch = "sm_90"},
                        mute = {.name = "", .arch = ""};
  cr_assert_eq(tune_gpu_is_profile(&tu, "", 0, &h200), AT_OK);
  cr_assert_eq(tune_gpu_is_profile(&tu, "--gpus", 3, &mute), AT_OK, "no arch said: passes");
  cr_assert_eq(tune_gpu_is_profile(&tu, "", 0, &h100), AT_USAGE);
  cr_assert_str_eq(at_last_error(), "--device h200: GPU 0 here is 'NVIDIA H100 80GB HBM3' "
                   "(sm_90), not an NVIDIA H200 SXM 141GB; its profile is h100");
  cr_assert_eq(tune_gpu_is_profile(&tu, "--gpus", 1, &h100), AT_USAGE);
  cr_assert_str_eq(at_last_error(), "--gpus with --device h200: GPU 1 here is 'NVIDIA H100 "
                   "80GB HBM3' (sm_90), not an NVIDIA H200 SXM 141GB; its profile is h100");
  at_error_clear();
}

Test(device, detect_without_a_gpu_finds_none_and_never_fails)
{
  struct dev_present found[8];
  cr_assert_eq(dev_detect(NULL, 8), 0);
  cr_assert_eq(dev_detect(found, 0), 0);
  int n = dev_detect(found, 8);
  cr_assert_geq(n, 0);
  cr_assert_leq(n, 8);
  if (vnd_cuda()->rc != AT_OK && vnd_hip()->rc != AT_OK)
    cr_assert_eq(n, 0, "no GPU runtime initialises here, yet %d found", n);
  for (int i = 0; i < n; i++) {
    cr_assert_neq(found[i].vendor, DEV_HOST);
    cr_assert(found[i].name[0]);
    if (found[i].profile)
      cr_assert_str_eq(found[i].profile->arch, found[i].arch);
  }
  cr_assert_eq(dev_detect(found, 8), n, "a second call finds the same");
}

/* The candidate lists are the union of what detection and measurement each tried before
 * they shared one (detection lacked libamdhip64.so.5, measurement libcuda.so). */
Test(device, vendor_candidates_are_the_union_of_the_old_lists)
{
  const char *const cuda[] = {"libcuda.so.1", "libcuda.so"};
  const char *const hip[] = {"libamdhip64.so", "libamdhip64.so.7", "libamdhip64.so.6",
                             "libamdhip64.so.5", "/opt/rocm/lib/libamdhip64.so"};
  for (size_t i = 0; i < sizeof cuda / sizeof cuda[0]; i++)
    cr_assert(has_candidate(vnd_cuda(), cuda[i]), "CUDA candidates lack %s", cuda[i]);
  for (size_t i = 0; i < sizeof hip / sizeof hip[0]; i++)
    cr_assert(has_candidate(vnd_hip(), hip[i]), "HIP candidates lack %s", hip[i]);
  cr_assert_eq(vnd_cuda()->vendor, DEV_NVIDIA);
  cr_assert_eq(vnd_hip()->vendor, DEV_AMD);
}

/* An absent runtime is a status and one line naming every candidate, asked once. */
Test(device, vendor_absent_runtime_names_its_candidates)
{
  const struct vnd_api *cu = vnd_cuda();
  cr_assert_eq(vnd_cuda(), cu, "one table per process");
  if (cu->rc == AT_OK)
    cr_skip_test("the CUDA driver loads here (%s)", cu->lib);
  cr_assert_eq(cu->rc, AT_UNSUPPORTED);
  cr_assert_null(strchr(cu->why, '\n'));
  if (!cu->lib) {
    cr_assert_not(any_candidate_loads(cu), "a candidate loads, yet: %s", cu->why);
    cr_assert(strstr(cu->why, "no libcuda.so.1 or libcuda.so ("), "%s", cu->why);
    cr_assert(strstr(cu->why, "CUDA"), "%s", cu->why);
    cr_assert_null(cu->init, "no entry point without a library");
  }
}

/* A HIP runtime that is installed (Debian's ROCm 5.2 here) is opened whichever of its
 * names is present; without a GPU it does not initialise, and the reason names the
 * library and HIP's own error. Detection then finds no AMD GPU. */
Test(device, vendor_hip_runtime_without_a_gpu)
{
  const struct vnd_api *hip = vnd_hip();
  cr_assert_eq(hip->lib != NULL, any_candidate_loads(hip), "lib %s, why: %s",
               hip->lib ? hip->lib : "none", hip->why);
  if (!hip->lib)
    cr_assert(strstr(hip->why, "libamdhip64.so.5"), "%s", hip->why);
  if (hip->rc == AT_OK)
    cr_skip_test("the HIP runtime initialises here (%s)", hip->lib);
  if (hip->lib) {
    cr_assert(has_candidate(hip, hip->lib));
    cr_assert(strstr(hip->why, hip->lib), "%s", hip->why);
    cr_assert(strstr(hip->why, "hipError"), "HIP's own words: %s", hip->why);
  }
  struct dev_present found[8];
  int n = dev_detect(found, 8);
  for (int i = 0; i < n; i++)
    cr_assert_neq(found[i].vendor, DEV_AMD, "an AMD GPU detected through a runtime that "
                                            "did not initialise");
}

/* A failed call's message: the vendor's symbol, the statement, the vendor's error name and
 * the fault word the worker looks for, the same for both vendors; AT_DEVICE. */
Test(device, vendor_failure_message_has_the_fault_words)
{
  const struct vnd_api *hip = vnd_hip(), *cu = vnd_cuda();
  at_error_clear();
  cr_assert_eq(vnd_fail(hip, 700, "launch(f, 1)", "x.c", 12), AT_DEVICE);
  const char *m = at_last_error();
  cr_assert(strstr(m, "hipModuleLaunchKernel: launch(f, 1) failed: "), "%s", m);
  cr_assert(strstr(m, "ILLEGAL_ADDRESS"), "%s", m);
  cr_assert(strstr(m, "at x.c:12"), "%s", m);
  if (hip->lib)
    cr_assert(strstr(m, "hipErrorIllegalAddress"), "%s", m);
  cr_assert_eq(vnd_fail(cu, 719, "launch(f)", "y.c", 3), AT_DEVICE);
  m = at_last_error();
  cr_assert(strstr(m, "cuLaunchKernel: launch(f) failed: "), "%s", m);
  cr_assert(strstr(m, "LAUNCH_FAILED"), "%s", m);
  cr_assert_eq(vnd_fail(hip, 1, "mem_alloc(&p, 4)", "z.c", 1), AT_DEVICE);
  cr_assert(strstr(at_last_error(), "hipMalloc: "), "%s", at_last_error());
  cr_assert_null(strstr(at_last_error(), " fault "), "not a fault: %s", at_last_error());
  cr_assert_null(vnd_fault_class(0));
  cr_assert_str_eq(vnd_fault_class(716), "MISALIGNED");
}

Test(device, vendor_open_first_says_what_it_tried)
{
  const char *const names[] = {"libautotune-nope-a.so", "libautotune-nope-b.so",
                               "libautotune-nope-c.so", NULL};
  void *h = (void *)1;
  const char *opened = "x";
  char why[256];
  cr_assert_eq(dl_open_first(names, NULL, &h, &opened, why, sizeof why), AT_UNSUPPORTED);
  cr_assert_null(h);
  cr_assert_null(opened);
  cr_assert(strstr(why, "no libautotune-nope-a.so, libautotune-nope-b.so or "
                        "libautotune-nope-c.so (libautotune-nope-a.so: "), "%s", why);
  /* a library that loads but lacks the needed symbol is passed over */
  const char *const libc[] = {"libc.so.6", NULL};
  cr_assert_eq(dl_open_first(libc, "autotune_no_such_symbol", &h, &opened, why, sizeof why),
               AT_UNSUPPORTED);
  cr_assert(strstr(why, "libc.so.6 lacks autotune_no_such_symbol"), "%s", why);
  cr_assert_eq(dl_open_first(libc, "strlen", &h, &opened, why, sizeof why), AT_OK);
  cr_assert_not_null(h);
  cr_assert_str_eq(opened, "libc.so.6");
  size_t (*len)(const char *) = NULL;
  cr_assert(dl_sym(h, "strlen", &len, sizeof len));
  cr_assert_eq(len("four"), 4);
  cr_assert_not(dl_sym(h, "autotune_no_such_symbol", &len, sizeof len));
  dlclose(h);
}

Test(device, detect_is_skipped_when_asked)
{
  setenv("AUTOTUNE_NO_DETECT", "1", 1);
  struct dev_present found[4];
  cr_assert_eq(dev_detect(found, 4), 0);
  unsetenv("AUTOTUNE_NO_DETECT");
}

Test(device, devices_command_lists_every_profile)
{
  struct th_result r;
  th_run(&r, "devices");
  cr_assert_eq(r.code, 0, "stderr: %s", r.err);
  cr_assert_str_empty(r.err);
  const struct dev_profile *p = dev_profiles();
  for (size_t i = 0; i < dev_profile_count(); i++)
    cr_assert_not_null(strstr(r.out, p[i].name), "'%s' missing from:\n%s", p[i].name, r.out);
  cr_assert_not_null(strstr(r.out, "present"));
  cr_assert_not_null(strstr(r.out, "detected") ? r.out : strstr(r.out, "no GPU runtime found"),
                     "no summary line:\n%s", r.out);
  th_result_free(&r);
}

Test(device, devices_without_detection_says_only_host_can_measure)
{
  struct th_result r;
  th_sh(&r, "AUTOTUNE_NO_DETECT=1 '%s' devices", AT_BINARY);
  cr_assert_eq(r.code, 0, "stderr: %s", r.err);
  cr_assert_not_null(strstr(r.out, "no GPU runtime found on this machine: only 'host' can "
                                   "measure here"), "%s", r.out);
  th_result_free(&r);
}

Test(device, devices_json_lists_every_profile)
{
  struct th_result r;
  th_sh(&r, "AUTOTUNE_NO_DETECT=1 '%s' devices --json", AT_BINARY);
  cr_assert_eq(r.code, 0, "stderr: %s", r.err);
  cr_assert_eq(r.out[0], '{', "%s", r.out);
  cr_assert_not_null(strstr(r.out, "\"profiles\""));
  cr_assert_not_null(strstr(r.out, "\"detected\":[]"), "%s", r.out);
  cr_assert_not_null(strstr(r.out, "\"name\":\"mi300x\""));
  cr_assert_not_null(strstr(r.out, "\"name\":\"host\""));
  cr_assert_geq(count_of(r.out, "\"name\":"), 10);
  cr_assert_eq(count_of(r.out, "\"present\":"), dev_profile_count());
  cr_assert_not_null(strstr(r.out, "\"compute_units\":304"));
  /* balanced brackets, one line */
  cr_assert_eq(count_of(r.out, "{"), count_of(r.out, "}"));
  cr_assert_eq(count_of(r.out, "["), count_of(r.out, "]"));
  cr_assert_eq(count_of(r.out, "\n"), 1);
  th_result_free(&r);
}

Test(device, devices_rejects_bad_usage)
{
  struct th_result r;
  th_run(&r, "devices --bogus");
  cr_assert_eq(r.code, 2);
  cr_assert_not_null(strstr(r.err, "autotune: unknown option"), "stderr: %s", r.err);
  th_result_free(&r);

  th_run(&r, "devices extra");
  cr_assert_eq(r.code, 2);
  cr_assert_not_null(strstr(r.err, "autotune: unexpected argument 'extra'"), "%s", r.err);
  th_result_free(&r);

  th_run(&r, "devices --json=yes");
  cr_assert_eq(r.code, 2);
  th_result_free(&r);

  th_run(&r, "devices --help");
  cr_assert_eq(r.code, 0);
  cr_assert_not_null(strstr(r.out, "usage: autotune devices"));
  cr_assert_not_null(strstr(r.out, "--json"));
  th_result_free(&r);
}

/* rsmi_frequencies_t bytes: {u32 n, u32 current, u64 hz[]} or, from ROCm 6, {bool
 * has_deep_sleep; u32 n, current; u64 hz[]} (the u64s at offset 16). */
static void rsmi_freqs(unsigned char *buf, bool deep_sleep_layout, bool deep_sleep,
                       uint32_t n, uint32_t cur, const uint64_t *hz)
{
  memset(buf, 0, 16 + 8 * 64);
  size_t at = deep_sleep_layout ? 4 : 0, freqs = deep_sleep_layout ? 16 : 8;
  if (deep_sleep_layout)
    buf[0] = deep_sleep;
  memcpy(buf + at, &n, 4);
  memcpy(buf + at + 4, &cur, 4);
  memcpy(buf + freqs, hz, 8 * (size_t)n);
}

Test(device, rocm_smi_frequencies_read_in_both_layouts)
{
  _Alignas(8) unsigned char buf[16 + 8 * 64];
  const uint64_t hz[] = {500000000ull, 1300000000ull, 2100000000ull};
  for (int layout = 0; layout < 2; layout++)
    for (int sleep = 0; sleep < 2; sleep++)
      for (uint32_t cur = 0; cur < 3; cur++) {
        rsmi_freqs(buf, layout, sleep, 3, cur, hz);
        cr_assert_eq(smi_rsmi_current_mhz(buf), (int64_t)(hz[cur] / 1000000), "layout %d "
                     "deep sleep %d current %u", layout, sleep, cur);
      }
  rsmi_freqs(buf, true, true, 1, 0, hz); /* one level, the ambiguous-looking case */
  cr_assert_eq(smi_rsmi_current_mhz(buf), 500);
  rsmi_freqs(buf, false, false, 1, 0, hz);
  cr_assert_eq(smi_rsmi_current_mhz(buf), 500);
  memset(buf, 0, sizeof buf);
  cr_assert_eq(smi_rsmi_current_mhz(buf), -1, "nothing readable is not known, not 0 MHz");
}

Test(device, management_library_absent_is_not_known_never_an_error)
{
  struct smi_gpu *g = (struct smi_gpu *)1;
  struct smi_info info;
  char why[300] = "";
  int rc = smi_open(DEV_NVIDIA, "0000:01:00.0", &g, &info, why, sizeof why);
  if (rc == AT_OK)
    cr_skip_test("NVML finds a GPU here: bench/gpu/check.sh step 9 checks it");
  cr_assert_eq(rc, AT_UNSUPPORTED);
  cr_assert_null(g);
  cr_assert(why[0], "the reason is said");
  cr_assert(!info.driver[0] && !info.uuid[0]);
  cr_assert_eq(smi_open(DEV_NVIDIA, "", &g, &info, why, sizeof why), AT_UNSUPPORTED);
  cr_assert(strstr(why, "PCI bus id"), "%s", why);
  cr_assert_eq(smi_open(DEV_HOST, "0000:01:00.0", &g, &info, why, sizeof why), AT_UNSUPPORTED);
  struct smi_sample s;
  smi_sample(NULL, &s);
  cr_assert(s.sm_mhz == -1 && s.mem_mhz == -1 && isnan(s.power_limit_w) && !s.idle);
  smi_close(NULL);
}
