/*
 * test_device.c - the device profiles (lookup, sanity invariants, figures checked against
 * the data sheets), detection on a machine without GPUs, and `autotune devices`.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/helpers.h"
#include "tuner/device/detect.h"
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

static bool runtime_loadable(void)
{
  static const char *const libs[] = {"libcuda.so.1", "libcuda.so", "libamdhip64.so",
                                     "libamdhip64.so.7", "libamdhip64.so.6",
                                     "/opt/rocm/lib/libamdhip64.so"};
  for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
    void *h = dlopen(libs[i], RTLD_LAZY | RTLD_LOCAL);
    if (h) {
      dlclose(h);
      return true;
    }
  }
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

Test(device, detect_without_a_gpu_finds_none_and_never_fails)
{
  struct dev_present found[8];
  cr_assert_eq(dev_detect(NULL, 8), 0);
  cr_assert_eq(dev_detect(found, 0), 0);
  int n = dev_detect(found, 8);
  cr_assert_geq(n, 0);
  cr_assert_leq(n, 8);
  if (!runtime_loadable())
    cr_assert_eq(n, 0, "no GPU runtime here, yet %d found", n);
  for (int i = 0; i < n; i++) {
    cr_assert_neq(found[i].vendor, DEV_HOST);
    cr_assert(found[i].name[0]);
    if (found[i].profile)
      cr_assert_str_eq(found[i].profile->arch, found[i].arch);
  }
  cr_assert_eq(dev_detect(found, 8), n, "a second call finds the same");
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
