/*
 * cmd_devices.c - `autotune devices [--json]`: lists every device profile with its key
 * figures and whether it is present on this machine, then the GPUs detected that match
 * no profile. `host` is always present. --json prints the same as one JSON object:
 * {"profiles":[{every profile field, "present":bool}], "detected":[{...}]}.
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/json.h"
#include "tuner/cli/cli.h"
#include "tuner/cli/commands.h"
#include "tuner/device/detect.h"

#define MAX_DETECT 64

static const char usage_line[] = "autotune devices [--json]";
static const char description[] =
    "List the device profiles (limits, peaks, memory figures) and mark those present on\n"
    "this machine. GPUs are found through libcuda.so.1 and libamdhip64.so; set\n"
    "AUTOTUNE_NO_DETECT=1 to skip detection. 'host' (the SIMT emulator) is always present.";

static bool profile_present(const struct dev_profile *p, const struct dev_present *found,
                            int nfound)
{
  if (p->vendor == DEV_HOST)
    return true;
  for (int i = 0; i < nfound; i++)
    if (found[i].profile == p)
      return true;
  return false;
}

/* A figure of 0 means unknown or not applicable: shown as "-". */
static void put_num(char *buf, size_t len, double v, const char *fmt)
{
  if (v > 0)
    snprintf(buf, len, fmt, v);
  else
    snprintf(buf, len, "-");
}

static void print_table(const struct dev_present *found, int nfound)
{
  const struct dev_profile *p = dev_profiles();
  printf("%-8s %-7s %-7s %5s %4s %9s %11s %9s %9s %s\n", "name", "vendor", "arch", "CUs",
         "wave", "LDS/block", "f16 TFLOP/s", "HBM GB/s", "L2", "present");
  for (size_t i = 0; i < dev_profile_count(); i++) {
    char lds[32], f16[32], bw[32], l2[32];
    put_num(lds, sizeof lds, (double)p[i].lds_per_block / 1024, "%.0f KiB");
    put_num(f16, sizeof f16, p[i].peak_tflops_f16, "%.1f");
    put_num(bw, sizeof bw, p[i].mem_bandwidth_gbs, "%.0f");
    put_num(l2, sizeof l2, (double)p[i].l2_bytes / (1024 * 1024), "%.0f MiB");
    printf("%-8s %-7s %-7s %5d %4d %9s %11s %9s %9s %s\n", p[i].name,
           dev_vendor_name(p[i].vendor), p[i].arch, p[i].compute_units, p[i].warp_size, lds,
           f16, bw, l2, profile_present(&p[i], found, nfound) ? "yes" : "no");
  }
  for (int i = 0; i < nfound; i++)
    if (!found[i].profile)
      printf("detected: '%s' (%s %s, %d CUs) matches no profile\n", found[i].name,
             dev_vendor_name(found[i].vendor), found[i].arch[0] ? found[i].arch : "unknown",
             found[i].compute_units);
  if (nfound == 0)
    printf("no GPU runtime found on this machine: only 'host' can measure here\n");
  else
    printf("%d GPU%s detected\n", nfound, nfound == 1 ? "" : "s");
}

static void json_key(const char *key)
{
  json_write_str(stdout, key);
  fputc(':', stdout);
}

static void json_int(const char *key, long long v, bool comma)
{
  json_key(key);
  printf("%lld%s", v, comma ? "," : "");
}

static void json_num(const char *key, double v, bool comma)
{
  json_key(key);
  printf("%.17g%s", v, comma ? "," : "");
}

static void json_str(const char *key, const char *v, bool comma)
{
  json_key(key);
  json_write_str(stdout, v);
  if (comma)
    fputc(',', stdout);
}

static void print_json(const struct dev_present *found, int nfound)
{
  const struct dev_profile *p = dev_profiles();
  fputs("{\"profiles\":[", stdout);
  for (size_t i = 0; i < dev_profile_count(); i++) {
    const struct dev_profile *d = &p[i];
    fputs(i ? ",{" : "{", stdout);
    json_str("name", d->name, true);
    json_str("vendor", dev_vendor_name(d->vendor), true);
    json_str("arch", d->arch, true);
    json_str("description", d->description, true);
    json_int("compute_units", d->compute_units, true);
    json_int("warp_size", d->warp_size, true);
    json_int("max_threads_per_block", d->max_threads_per_block, true);
    json_int("max_blocks_per_cu", d->max_blocks_per_cu, true);
    json_int("simds_per_cu", d->simds_per_cu, true);
    json_int("max_waves_per_simd", d->max_waves_per_simd, true);
    json_int("max_warps_per_cu", d->max_warps_per_cu, true);
    json_int("lds_per_block", d->lds_per_block, true);
    json_int("lds_per_cu", d->lds_per_cu, true);
    json_int("lds_reserved_per_block", d->lds_reserved_per_block, true);
    json_int("lds_alloc_granularity", d->lds_alloc_granularity, true);
    json_int("regs_per_cu", d->regs_per_cu, true);
    json_int("vgprs_per_lane", d->vgprs_per_lane, true);
    json_int("max_regs_per_thread", d->max_regs_per_thread, true);
    json_int("reg_alloc_granularity", d->reg_alloc_granularity, true);
    json_int("sgprs_per_wave", d->sgprs_per_wave, true);
    json_num("clock_mhz", d->clock_mhz, true);
    json_num("peak_tflops_f16", d->peak_tflops_f16, true);
    json_num("peak_tflops_bf16", d->peak_tflops_bf16, true);
    json_num("peak_tflops_f32", d->peak_tflops_f32, true);
    json_num("peak_tflops_f8", d->peak_tflops_f8, true);
    json_num("mem_bandwidth_gbs", d->mem_bandwidth_gbs, true);
    json_int("l2_bytes", d->l2_bytes, true);
    json_int("llc_bytes", d->llc_bytes, true);
    json_key("present");
    fputs(profile_present(d, found, nfound) ? "true}" : "false}", stdout);
  }
  fputs("],\"detected\":[", stdout);
  for (int i = 0; i < nfound; i++) {
    const struct dev_present *g = &found[i];
    fputs(i ? ",{" : "{", stdout);
    json_str("vendor", dev_vendor_name(g->vendor), true);
    json_str("name", g->name, true);
    json_str("arch", g->arch, true);
    json_int("compute_units", g->compute_units, true);
    json_int("lds_per_block", g->lds_per_block, true);
    json_int("l2_bytes", g->l2_bytes, true);
    json_num("clock_mhz", g->clock_mhz, true);
    json_key("profile");
    if (g->profile)
      json_write_str(stdout, g->profile->name);
    else
      fputs("null", stdout);
    fputc('}', stdout);
  }
  fputs("]}\n", stdout);
}

int cmd_devices(int argc, char **argv)
{
  bool json = false;
  const struct cli_opt opts[] = {
      {"json", CLI_FLAG, &json, NULL, "print one JSON object instead of a table"},
      {NULL, CLI_FLAG, NULL, NULL, NULL},
  };
  char **pos = calloc((size_t)(argc > 0 ? argc : 1), sizeof *pos);
  if (!pos) {
    cli_error("out of memory");
    return CLI_FAILED;
  }
  int npos = 0;
  int rc = cli_parse(argc, argv, opts, usage_line, description, pos, &npos);
  if (rc == CLI_OK && npos > 0) {
    cli_error("unexpected argument '%.60s'; try 'autotune devices --help'", pos[0]);
    rc = CLI_USAGE;
  }
  free(pos);
  if (rc == -1)
    return CLI_OK;
  if (rc != CLI_OK)
    return rc;
  struct dev_present found[MAX_DETECT];
  int nfound = dev_detect(found, MAX_DETECT);
  if (json)
    print_json(found, nfound);
  else
    print_table(found, nfound);
  if (fflush(stdout) != 0) {
    cli_error("cannot write the device list to standard output");
    return CLI_FAILED;
  }
  return CLI_OK;
}
