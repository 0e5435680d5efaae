// tuned_gemm_bench.cu - the build-time path on a GPU. A header that `autotune emit-header
// gemm --device h100` wrote from H100 measurements (bench/gpu/import_gemm.sh) is compiled
// here with nvcc like any user program. Each shape is run through the header's launcher
// at_tuned_gemm_f16_nn (exact tuned shape, or the nearest one), and compared element by
// element with cuBLAS on the same inputs. Then both are timed the same way: 2 warm-ups,
// 20 repetitions with the L2 flushed (100 MiB written) between them, CUDA events, median.
//
//   nvcc -std=c++17 -arch=sm_90a -O2 -isystem templates -isystem templates/common \
//        -I<folder of tuned_h100.h> bench/gpu/tuned_gemm_bench.cu -lcublas -o tuned_gemm_bench
//   ./tuned_gemm_bench [M,N,K ...]
// -DTUNED_HEADER='"tuned_h200.h"' takes another header (bench/gpu/product.sh: the one the
// product wrote from its own run on the GPU); shapes on the command line replace the
// default five.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#ifndef TUNED_HEADER
#define TUNED_HEADER "tuned_h100.h"
#endif
#include TUNED_HEADER

#define CK(x)                                                                              \
  do {                                                                                     \
    cudaError_t e_ = (x);                                                                  \
    if (e_ != cudaSuccess) {                                                               \
      fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e_));                             \
      exit(1);                                                                             \
    }                                                                                      \
  } while (0)

static unsigned short half_bits(float f) // exact for k/4, |k| <= 4
{
  if (f == 0)
    return 0;
  unsigned u;
  memcpy(&u, &f, 4);
  return (unsigned short)(((u >> 16) & 0x8000) | ((((u >> 23) & 0xff) - 127 + 15) << 10) |
                          ((u & 0x7fffff) >> 13));
}

static float half_float(unsigned short h)
{
  int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? NAN : ldexpf((float)(m + 1024), e - 25);
  return s ? -v : v;
}

static void *flush_buf;
static void flush_l2() { CK(cudaMemsetAsync(flush_buf, 0, 100u << 20)); }

template <typename F> static double time_median(F run)
{
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  for (int i = 0; i < 2; i++)
    run();
  std::vector<double> us;
  for (int i = 0; i < 20; i++) {
    flush_l2();
    CK(cudaEventRecord(a));
    run();
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, a, b));
    us.push_back(ms * 1000.0);
  }
  std::sort(us.begin(), us.end());
  CK(cudaEventDestroy(a));
  CK(cudaEventDestroy(b));
  return 0.5 * (us[9] + us[10]);
}

int main(int argc, char **argv)
{
  std::vector<std::vector<int>> shapes = {{4096, 4096, 4096}, {16, 4096, 4096},
                                          {2048, 2048, 2048}, {32, 4096, 4096},
                                          {127, 129, 65}};
  if (argc > 1)
    shapes.clear();
  for (int i = 1; i < argc; i++) {
    int m, n, k;
    if (sscanf(argv[i], "%d,%d,%d", &m, &n, &k) != 3 || m < 1 || n < 1 || k < 1) {
      fprintf(stderr, "bad shape '%s' (expected M,N,K)\n", argv[i]);
      return 2;
    }
    shapes.push_back({m, n, k});
  }
  cublasHandle_t h;
  if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
    fprintf(stderr, "cublasCreate failed\n");
    return 1;
  }
  CK(cudaMalloc(&flush_buf, 100u << 20));
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  printf("device: %s; header %s through at_tuned_gemm_f16_nn vs cublasGemmEx "
         "(f16 in, f32 compute); 20 reps, median, L2 flushed (100 MiB) between reps\n",
         prop.name, TUNED_HEADER);
  int failures = 0;
  for (const auto &s : shapes) {
    const int M = s[0], N = s[1], K = s[2];
    std::vector<unsigned short> ha((size_t)M * K), hb((size_t)K * N), hc((size_t)M * N),
        hr((size_t)M * N);
    unsigned long long x = 88172645463325252ull;
    auto next = [&]() {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      return half_bits((float)((int)(x % 9) - 4) / 4.0f);
    };
    for (auto &v : ha)
      v = next();
    for (auto &v : hb)
      v = next();
    unsigned short *da, *db, *dc, *dr;
    CK(cudaMalloc(&da, ha.size() * 2));
    CK(cudaMalloc(&db, hb.size() * 2));
    CK(cudaMalloc(&dc, hc.size() * 2));
    CK(cudaMalloc(&dr, hr.size() * 2));
    CK(cudaMemcpy(da, ha.data(), ha.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(db, hb.data(), hb.size() * 2, cudaMemcpyHostToDevice));
    const float one = 1.0f, zero = 0.0f;
    // Row-major C = A B is column-major C^T = B^T A^T.
    auto cublas = [&]() {
      cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, db, CUDA_R_16F, N, da,
                   CUDA_R_16F, K, &zero, dr, CUDA_R_16F, N, CUBLAS_COMPUTE_32F,
                   CUBLAS_GEMM_DEFAULT);
    };
    int rc = 0;
    auto tuned = [&]() {
      rc |= at_tuned_gemm_f16_nn((const at_half *)da, (const at_half *)db, (at_half *)dc, M,
                                 N, K, K, N, N, 1.0f, 0.0f, 0);
    };
    at_tuned_choice c = at_tuned_gemm_f16_nn_choice(M, N, K);
    CK(cudaMemset(dc, 0xff, hc.size() * 2));
    tuned();
    cublas();
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(hc.data(), dc, hc.size() * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hr.data(), dr, hr.size() * 2, cudaMemcpyDeviceToHost));
    size_t bad = 0;
    for (size_t i = 0; i < hc.size(); i++) {
      float a = half_float(hc[i]), b = half_float(hr[i]);
      bad += !(fabsf(a - b) <= 1e-2f * (1.0f + fabsf(b)));
    }
    double tu = time_median(tuned), cu = time_median(cublas);
    double tf = 2.0 * M * N * K / 1e12;
    printf("%5d x %5d x %5d: %s %s (%s %lldx%lldx%lld)\n  launcher rc %d, %zu of %zu "
           "elements differ from cuBLAS; tuned %.1f us (%.1f TFLOP/s), cuBLAS %.1f us "
           "(%.1f TFLOP/s): %.2fx cuBLAS time\n",
           M, N, K, c.kernel, c.config, c.exact ? "tuned at" : "nearest tuned", c.m, c.n, c.k,
           rc, bad, hc.size(), tu, tf / (tu * 1e-6), cu, tf / (cu * 1e-6), tu / cu);
    failures += rc != 0 || bad != 0;
    cudaFree(da), cudaFree(db), cudaFree(dc), cudaFree(dr);
  }
  printf("%s\n", failures ? "FAILED" : "all shapes match cuBLAS");
  return failures != 0;
}
