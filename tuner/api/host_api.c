/*
 * host_api.c - the public host runtime of include/autotune/host.h: the emulator's
 * runtime table and its launch (emu.c) behind a stable C API, with the worker count
 * and fiber stack size chosen the way the host measurement backend chooses them, and
 * the emulator's messages named after the public call.
 */
#include "autotune/host.h"

#include "tuner/emu/emu.h"
#include "base/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct at_host_rt *at_host_runtime(void)
{
  return emu_runtime();
}

static int online_cpus(void)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)(n < EMU_MAX_WORKERS ? n : EMU_MAX_WORKERS) : 1;
}

/* AUTOTUNE_EMU_STACK_KB, as for `autotune` itself; 0: the emulator's default. */
static size_t stack_size(void)
{
  const char *kb = getenv("AUTOTUNE_EMU_STACK_KB");
  long v = kb ? strtol(kb, NULL, 10) : 0;
  return v > 0 && v <= 65536 ? (size_t)v << 10 : 0;
}

int at_host_launch(void (*entry)(void *ctx), void *ctx, const unsigned grid[3],
                   const unsigned block[3], size_t dyn_shared, unsigned warp_size,
                   int workers)
{
  return at_host_launch_cluster(entry, ctx, grid, NULL, block, dyn_shared, warp_size,
                                workers);
}

int at_host_launch_cluster(void (*entry)(void *ctx), void *ctx, const unsigned grid[3],
                           const unsigned cluster[3], const unsigned block[3],
                           size_t dyn_shared, unsigned warp_size, int workers)
{
  if (!entry || !grid || !block)
    return at_error(AT_USAGE, "at_host_launch: no %s", !entry ? "entry" : !grid ? "grid"
                                                                                : "block");
  struct emu_launch l = {
      .grid = {grid[0], grid[1], grid[2]},
      .block = {block[0], block[1], block[2]},
      .cluster = {cluster ? cluster[0] : 1, cluster ? cluster[1] : 1, cluster ? cluster[2] : 1},
      .dyn_shared = dyn_shared,
      .warp_size = warp_size,
      .workers = workers > 0 ? workers : online_cpus(),
      .stack_size = stack_size(),
      .entry = entry,
      .ctx = ctx,
  };
  int rc = emu_launch(&l);
  if (rc) {
    /* The emulator names itself ("emu: ..."); a caller of this API knows this call. */
    char msg[768];
    const char *e = at_last_error();
    snprintf(msg, sizeof msg, "%s", strncmp(e, "emu: ", 5) == 0 ? e + 5 : e);
    at_error(rc, "at_host_launch: %s", msg);
  }
  return rc;
}
