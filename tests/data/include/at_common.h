// at_common.h (test stub) - the host-mode declarations the template tests parse against
// while templates/common/at_common.h does not exist yet: the CUDA/HIP qualifiers as
// empty macros and the thread/block ids as plain functions.
#pragma once
#define __device__
#define __global__
#define __launch_bounds__(n)
int at_thread_idx_x(void);
int at_block_idx_x(void);
