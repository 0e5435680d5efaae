/*
 * amdgpu_co.h - reading per-kernel resource usage out of an AMD HSA code object (an
 * AMDGPU ELF64 image): the NT_AMDGPU_METADATA note, a msgpack map whose amdhsa.kernels
 * array describes every kernel. The clang-hip and hipRTC compile backends use this.
 *
 * What the figures mean (AMDGPUUsage, "Code Object V3+ Metadata"):
 * - registers: architectural VGPRs. On gfx90a and gfx94x/gfx95x the VGPR file is unified
 *   and .vgpr_count is the total, alignTo(VGPRs, 4) + AGPRs when AGPRs are used (clang 19,
 *   checked with -Rpass-analysis=kernel-resource-usage); registers is then .vgpr_count -
 *   .agpr_count, i.e. the architectural VGPRs rounded up to 4. On other targets it is
 *   .vgpr_count as is.
 * - agprs: .agpr_count (0 where the target has none); sgprs: .sgpr_count.
 * - vgpr_spills / sgpr_spills: .vgpr_spill_count / .sgpr_spill_count; spill_bytes -1.
 * - shared_bytes: .group_segment_fixed_size (static LDS); local_bytes:
 *   .private_segment_fixed_size (scratch per work-item); max_threads:
 *   .max_flat_workgroup_size (1024 when no launch bounds were given).
 */
#ifndef AT_TUNER_COMPILE_AMDGPU_CO_H
#define AT_TUNER_COMPILE_AMDGPU_CO_H

#include <stddef.h>

#include "tuner/compile/compile.h"

/* The kernels of a code object with their resources, named by .name (else .symbol
 * without its ".kd"). OUT: *kernels (malloc'd, free with free()), *nkernels.
 * AT_OK; AT_PARSE when the image is not a 64-bit little-endian ELF or has no readable
 * AMDGPU metadata note (at_error says which); AT_NOMEM. `log` is not read (the code
 * object carries every figure): the signature is compile.h's cc_resources_fn. */
int amdgpu_co_resources(const unsigned char *code, size_t size, const char *log,
                        struct cc_kernel_res **kernels, size_t *nkernels);

#endif
