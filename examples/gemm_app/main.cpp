// main.cpp - calls the tuned f32 NN GEMM that the build emitted into tuned_gemm.h
// (autotune_tuned_header in CMakeLists.txt) for a few shapes, some tuned in the
// database and some not, and checks C = alpha * A * B + beta * C against a double
// reference. Inputs are small integers divided by 4, so every product and sum is exact
// in f32 whatever order the kernel adds in: any difference at all is a wrong result.
// Prints one line per shape: the kernel and config the header chose for it and the
// largest error. Exit status: 0 all correct, 1 a mismatch or a failed call.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "tuned_gemm.h"

#if defined(AT_HOST)
#include "autotune/autotune.h" // at_last_error(): why the emulated launch failed
static const char *last_error() { return at_last_error(); }
#else
static const char *last_error() { return "see the GPU runtime's error"; }
#endif

// Device buffers: plain host memory on the host (the kernels run in this process on the
// SIMT emulator), cudaMalloc'd memory under nvcc.
#if defined(__CUDACC__)
static float *to_device(const std::vector<float> &v)
{
  float *p = nullptr;
  if (cudaMalloc(&p, v.size() * sizeof(float)) != cudaSuccess)
    return nullptr;
  cudaMemcpy(p, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice);
  return p;
}
static void to_host(std::vector<float> &v, const float *p)
{
  cudaDeviceSynchronize();
  cudaMemcpy(v.data(), p, v.size() * sizeof(float), cudaMemcpyDeviceToHost);
}
static void release(float *p) { cudaFree(p); }
#else
static float *to_device(const std::vector<float> &v)
{
  float *p = new float[v.size()];
  std::memcpy(p, v.data(), v.size() * sizeof(float));
  return p;
}
static void to_host(std::vector<float> &v, const float *p)
{
  std::memcpy(v.data(), p, v.size() * sizeof(float));
}
static void release(float *p) { delete[] p; }
#endif

struct shape {
  int m, n, k;
  int pad; // extra columns in every leading dimension: strided matrices
};

// A small integer in [-4, 4] divided by 4, from a position and a seed.
static float quarter(long long i, int seed)
{
  return (float)((i * 7 + seed * 3 + (i / 5) * 11) % 9 - 4) / 4.0f;
}

static bool run(const shape &s)
{
  const int lda = s.k + s.pad, ldb = s.n + s.pad, ldc = s.n + s.pad;
  const float alpha = 1.5f, beta = -0.5f;
  std::vector<float> a((size_t)s.m * lda), b((size_t)s.k * ldb), c((size_t)s.m * ldc);
  for (size_t i = 0; i < a.size(); i++)
    a[i] = quarter((long long)i, 1);
  for (size_t i = 0; i < b.size(); i++)
    b[i] = quarter((long long)i, 2);
  for (size_t i = 0; i < c.size(); i++)
    c[i] = quarter((long long)i, 3);

  // The reference, in double, before the call overwrites c.
  std::vector<double> want(c.size());
  for (int i = 0; i < s.m; i++)
    for (int j = 0; j < ldc; j++) {
      size_t at = (size_t)i * ldc + j;
      if (j >= s.n) { // padding: never written
        want[at] = c[at];
        continue;
      }
      double acc = 0;
      for (int p = 0; p < s.k; p++)
        acc += (double)a[(size_t)i * lda + p] * b[(size_t)p * ldb + j];
      want[at] = alpha * acc + beta * c[at];
    }

  at_tuned_choice choice = at_tuned_gemm_f32_nn_choice(s.m, s.n, s.k);
  std::printf("gemm f32 NN %dx%dx%d (ld +%d): %s %s (tuned %lldx%lldx%lld, %s): ", s.m, s.n,
              s.k, s.pad, choice.kernel, choice.config, choice.m, choice.n, choice.k,
              choice.exact ? "exact" : "nearest");

  float *da = to_device(a), *db = to_device(b), *dc = to_device(c);
  if (!da || !db || !dc) {
    std::printf("cannot allocate\n");
    return false;
  }
  int rc = at_tuned_gemm_f32_nn(da, db, dc, s.m, s.n, s.k, lda, ldb, ldc, alpha, beta,
                                nullptr);
  if (rc == 0)
    to_host(c, dc);
  release(da);
  release(db);
  release(dc);
  if (rc != 0) {
    std::printf("failed (%d): %s\n", rc, last_error());
    return false;
  }

  double err = 0;
  size_t worst = 0;
  for (size_t i = 0; i < c.size(); i++) {
    double e = std::fabs((double)c[i] - want[i]);
    if (e > err)
      err = e, worst = i;
  }
  if (err != 0) {
    std::printf("max error %g at (%zu, %zu): %g, not %g\n", err, worst / ldc, worst % ldc,
                (double)c[worst], want[worst]);
    return false;
  }
  std::printf("max error 0\n");
  return true;
}

int main()
{
  const shape shapes[] = {{64, 64, 64, 0}, {100, 37, 53, 3}, {128, 128, 64, 0}, {1, 1, 1, 0}};
  bool ok = true;
  for (const shape &s : shapes)
    ok = run(s) && ok;
  return ok ? 0 : 1;
}
