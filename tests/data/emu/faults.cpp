// faults.cpp - kernels that break the rules, for tests/test_emu.c: each must make the
// launch fail with a report naming block and threads, never hang.
#include "emu_rt.h"

// Every thread passes `before` barriers; then, in blocks 1 and up, threads 32 and up
// return while the others wait at one more barrier.
extern "C" void diverge(int *out, int before)
{
  const at_host_thread *t = self();
  for (int i = 0; i < before; i++)
    rt->barrier();
  if (t->bid[0] >= 1 && t->linear >= 32)
    return;
  rt->barrier();
  out[t->bid[0] * t->bdim[0] + t->linear] = 1;
}

// Warp 1, lanes 0..15 call warp_gather; lanes 16..31 of warp 1 return (mode 0), wait at
// a barrier with warp 0 (mode 1), or call warp_gather with another size (mode 2).
extern "C" void gather_missing(int *out, int mode)
{
  const at_host_thread *t = self();
  int v = (int)t->linear, all[64];
  if (mode == 2) {
    if (t->warp == 1)
      rt->warp_gather(&v, t->lane < 16 ? sizeof v : 2, all);
    return;
  }
  if (t->warp == 1 && t->lane < 16) {
    rt->warp_gather(&v, sizeof v, all);
    out[t->linear] = all[0];
  } else if (mode == 1) {
    rt->barrier();
  }
}

// Thread (5,0,0) of every block from 2 on fails while its block's threads 0..4 wait at
// a barrier; the other blocks run to the end.
extern "C" void kfail(int *out)
{
  const at_host_thread *t = self();
  if (t->bid[0] >= 2 && t->linear == 5)
    rt->fail("index 99 out of bounds");
  rt->barrier();
  out[t->bid[0] * t->bdim[0] + t->linear] = 1;
}
