// emu_rt.h - the test kernels' own host runtime glue, written against
// templates/common/at_host_rt.h directly (not at_common.h): the emulator's table, kept by
// at_host_bind(), and a shuffle built on warp_gather.
#ifndef EMU_TEST_RT_H
#define EMU_TEST_RT_H
#include "at_host_rt.h"

static const struct at_host_rt *rt;

extern "C" void at_host_bind(const struct at_host_rt *table) { rt = table; }

static inline const struct at_host_thread *self() { return rt->self(); }

// The value of lane `src` (mod the warp size) of the calling warp.
template <typename T> static T shfl(T v, unsigned src)
{
  T all[64];
  rt->warp_gather(&v, sizeof v, all);
  return all[src % self()->warp_size];
}
#endif
