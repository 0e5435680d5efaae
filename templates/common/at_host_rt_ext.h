// at_host_rt_ext.h - the second part of the contract between a host variant and the SIMT
// emulator (tuner/emu/emu.c): what at_tma.h needs beyond at_host_rt.h, kept in its own
// file so that at_host_rt.h, which every template hashes through at_common.h, stays as it
// was (a variant's name hashes every header its template includes: docs/templates.md).
// The emulator's table is a struct at_host_rt_ext whose first member is the struct
// at_host_rt that at_host_bind() receives, with base.version = AT_HOST_RT_EXT_VERSION;
// a kernel reads the extension only after checking that version.
//  - yield(token, why): the calling thread cannot go on until another thread of its
//    block changes something (it spins on an mbarrier phase). The emulator suspends it
//    and runs the others; `token` is the block's mbarrier epoch the caller saw (at_tma.h
//    bumps it on every mbarrier change), `why` a one-line description of the wait,
//    copied. A pass over the block in which every thread that ran only yielded again with
//    the token it yielded with before is a deadlock: the launch fails naming the
//    spinning threads and the first one's `why` (a wrong parity, a missing arrive or
//    expect_tx, a wait on the wrong barrier), never a hang.
#ifndef AT_HOST_RT_EXT_H
#define AT_HOST_RT_EXT_H

#include "at_host_rt.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AT_HOST_RT_EXT_VERSION 2
#define AT_HOST_RT_WHY_MAX 160 // bytes of `why` the emulator keeps

struct at_host_rt_ext {
  struct at_host_rt base; // base.version == AT_HOST_RT_EXT_VERSION
  void (*yield)(unsigned long long token, const char *why);
};

#ifdef __cplusplus
}
#endif
#endif
