// occ_reference.cpp - an independent occupancy reference for tests/test_occupancy.c:
// NVIDIA's own calculator (cuda_occupancy.h from the CUDA Toolkit), run over the cases
// given on stdin, one "sm_major sm_minor sms smem_per_sm smem_optin max_threads_per_sm
// threads regs smem" per line; prints blocks per SM for each.
#include <cstdio>
#include <cuda_occupancy.h>

int main()
{
  int major, minor, sms, threads, regs, tpsm;
  long smem_sm, smem_optin, smem;
  while (std::scanf("%d %d %d %ld %ld %d %d %d %ld", &major, &minor, &sms, &smem_sm,
                    &smem_optin, &tpsm, &threads, &regs, &smem) == 9) {
    cudaOccDeviceProp prop;
    prop.computeMajor = major;
    prop.computeMinor = minor;
    prop.maxThreadsPerBlock = 1024;
    prop.maxThreadsPerMultiprocessor = tpsm;
    prop.regsPerBlock = 65536;
    prop.regsPerMultiprocessor = 65536;
    prop.warpSize = 32;
    prop.sharedMemPerBlock = 48 * 1024;
    prop.sharedMemPerMultiprocessor = (size_t)smem_sm;
    prop.numSms = sms;
    prop.sharedMemPerBlockOptin = (size_t)smem_optin;
    prop.reservedSharedMemPerBlock = 1024;
    cudaOccFuncAttributes attr;
    attr.maxThreadsPerBlock = 1024;
    attr.numRegs = regs;
    attr.sharedSizeBytes = 0;
    attr.partitionedGCConfig = PARTITIONED_GC_OFF;
    attr.shmemLimitConfig = FUNC_SHMEM_LIMIT_OPTIN;
    attr.maxDynamicSharedSizeBytes = smem_optin;
    cudaOccDeviceState state;
    cudaOccResult result;
    cudaOccError err = cudaOccMaxActiveBlocksPerMultiprocessor(&result, &prop, &attr, &state,
                                                               threads, (size_t)smem);
    std::printf("%d\n", err == CUDA_OCC_SUCCESS ? result.activeBlocksPerMultiprocessor : -1);
  }
  return 0;
}
