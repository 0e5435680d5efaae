// gemm14_bench.cu - issue 13's fourteen GEMM problems: the winners that `autotune gemm`
// recorded on this GPU, through the header `autotune emit-header gemm --mode kernels`
// wrote from that database (at_tuned_gemm_{f16,bf16}_nn), against cuBLASLt in the same
// program. Per problem: the winner's result checked element by element against cuBLASLt's
// on the same inputs (values k/4, |k| <= 4, so products are exact and only the f32
// accumulation order and the output rounding differ); then, timed the same way (2
// warm-ups, 20 repetitions with the L2 flushed by a 256 MiB memset between them, CUDA
// events around the call alone, median):
//   the winner; cuBLASLt with its default heuristic (the first algorithm
//   cublasLtMatmulAlgoGetHeuristic returns, 64 MiB workspace); cuBLASLt's own search
//   (up to SEARCH_ALGOS heuristic algorithms each timed, the fastest kept: the strongest
//   peer).
// The squares run NN in f16 and bf16; the Llama-3-8B problems (prefill at M = 4096 and
// decode at M = 1, 16, 64) run bf16 NT, the weight N x K as a model stores it.
// Printed: a markdown table (time ratio to each peer, TFLOP/s, % of the 790 TFLOP/s
// bf16 ceiling measured through PyTorch on this machine kind, and for the decode problems
// the % of the HBM bandwidth this program measures first with a 4 GiB device-to-device
// copy counting bytes read and written), then the geometric means of the ratios.
//
//   nvcc -std=c++17 -gencode=arch=compute_90a,code=sm_90a -O2 -isystem templates \
//        -isystem templates/common -I<folder of the header> \
//        -DTUNED_HEADER='"tuned_h200.h"' bench/gpu/gemm14_bench.cu -lcublasLt -o gemm14_bench
//   ./gemm14_bench                  # the fourteen problems
//   ./gemm14_bench --cublas-only    # without a header (-DGEMM14_NO_HEADER): peers only
//   GEMM14_ONLY=2 ./gemm14_bench    # problem 2 (4096^3 f16) alone, e.g. under ncu
//   GEMM14_WARM=1 ./gemm14_bench    # no L2 flush between repetitions (warm inputs)
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#ifndef GEMM14_NO_HEADER
#ifndef TUNED_HEADER
#define TUNED_HEADER "tuned_h200.h"
#endif
#include TUNED_HEADER
#define HEADER_NAME TUNED_HEADER

// One (dtype, layout) family of the header: its workspace size, choice and launcher
// (alpha 1, beta 0, the default leading dimensions), or none where the database had no
// winner for it (the header defines AT_TUNED_HAS_GEMM_<DTYPE>_<LAYOUT> for those it has):
// the other families are still checked and timed.
struct family {
  bool have = false;
  long long (*workspace_size)(long long, long long, long long) = nullptr;
  at_tuned_choice (*choice)(long long, long long, long long) = nullptr;
  int (*run)(const void *, const void *, void *, int, int, int, void *) = nullptr;
};

// The header's family PRE (at_tuned_gemm_<dtype>_<layout>) of element type T, B's leading
// dimension LDB (K for NT, N for NN).
#define FAMILY(PRE, T, LDB)                                                                 \
  family{true, PRE##_workspace_size, PRE##_choice,                                         \
         [](const void *a, const void *b, void *c, int M, int N, int K, void *ws) {         \
           return PRE##_ws((const T *)a, (const T *)b, (T *)c, M, N, K, K, LDB, N, 1.0f,    \
                           0.0f, ws, 0);                                                    \
         }}

static family family_of(bool bf16, bool nt)
{
  (void)bf16, (void)nt;
#ifdef AT_TUNED_HAS_GEMM_BF16_NT
  if (nt)
    return FAMILY(at_tuned_gemm_bf16_nt, at_bfloat16, K);
#endif
#ifdef AT_TUNED_HAS_GEMM_BF16_NN
  if (!nt && bf16)
    return FAMILY(at_tuned_gemm_bf16_nn, at_bfloat16, N);
#endif
#ifdef AT_TUNED_HAS_GEMM_F16_NN
  if (!nt && !bf16)
    return FAMILY(at_tuned_gemm_f16_nn, at_half, N);
#endif
  return family();
}
#else
#define HEADER_NAME "(none)"
#endif

#define CK(x)                                                                              \
  do {                                                                                     \
    cudaError_t e_ = (x);                                                                  \
    if (e_ != cudaSuccess) {                                                               \
      fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e_));                             \
      exit(1);                                                                             \
    }                                                                                      \
  } while (0)
#define LT(x)                                                                              \
  do {                                                                                     \
    cublasStatus_t s_ = (x);                                                               \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                     \
      fprintf(stderr, "%s: cublas status %d\n", #x, (int)s_);                              \
      exit(1);                                                                             \
    }                                                                                      \
  } while (0)

static const double CEILING_TFLOPS = 790.0;   // bf16 8192^3 through PyTorch (KINDS.md)
static const size_t LT_WORKSPACE = 64u << 20; // cuBLASLt's workspace
static const size_t FLUSH_BYTES = 256u << 20; // > the H200's 60 MB L2, several times
static const int SEARCH_ALGOS = 16;           // heuristic algorithms timed by the search
static const int REPS = 20, WARMUPS = 2;

// nt: B is the weight as PyTorch's Linear stores it, N x K (k contiguous), C = A W^T;
// else NN (B is K x N). The squares are NN as in the project's earlier benches; the
// Llama-3-8B problems are NT, the layout a model runs them in.
struct problem {
  int m, n, k;
  bool bf16, nt;
  const char *what;
};

static const problem problems[] = {
    {1024, 1024, 1024, false, false, "square"}, {2048, 2048, 2048, false, false, "square"},
    {4096, 4096, 4096, false, false, "square"}, {8192, 8192, 8192, false, false, "square"},
    {1024, 1024, 1024, true, false, "square"},  {2048, 2048, 2048, true, false, "square"},
    {4096, 4096, 4096, true, false, "square"},  {8192, 8192, 8192, true, false, "square"},
    {4096, 4096, 4096, true, true, "prefill q/o"}, {4096, 14336, 4096, true, true, "prefill up"},
    {4096, 4096, 14336, true, true, "prefill down"}, {1, 4096, 4096, true, true, "decode"},
    {16, 4096, 4096, true, true, "decode"},     {64, 4096, 4096, true, true, "decode"},
};

// f16 / bf16 bit patterns of k/4 for |k| <= 4 (exact in both).
static unsigned short to_bits(float f, bool bf16)
{
  unsigned u;
  memcpy(&u, &f, 4);
  if (bf16)
    return (unsigned short)(u >> 16);
  if (f == 0)
    return 0;
  return (unsigned short)(((u >> 16) & 0x8000) | ((((u >> 23) & 0xff) - 127 + 15) << 10) |
                          ((u & 0x7fffff) >> 13));
}

[[maybe_unused]] static float from_bits(unsigned short h, bool bf16)
{
  if (bf16) {
    unsigned u = (unsigned)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? NAN : ldexpf((float)(m + 1024), e - 25);
  return s ? -v : v;
}

static void *flush_buf;
static bool warm_l2; // GEMM14_WARM=1: no flush between reps (the inputs stay in L2)

template <typename F> static double time_median(F run)
{
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  for (int i = 0; i < WARMUPS; i++)
    run();
  std::vector<double> us;
  for (int i = 0; i < REPS; i++) {
    if (!warm_l2)
      CK(cudaMemsetAsync(flush_buf, i, FLUSH_BYTES));
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
  return 0.5 * (us[REPS / 2 - 1] + us[REPS / 2]);
}

// Device-to-device copy bandwidth, bytes read plus written, GB/s.
static double measure_hbm(void)
{
  const size_t bytes = 2ull << 30;
  void *x, *y;
  CK(cudaMalloc(&x, bytes));
  CK(cudaMalloc(&y, bytes));
  CK(cudaMemset(x, 1, bytes));
  double us = time_median([&]() { CK(cudaMemcpyAsync(y, x, bytes, cudaMemcpyDeviceToDevice)); });
  CK(cudaFree(x));
  CK(cudaFree(y));
  return 2.0 * (double)bytes / (us * 1e-6) / 1e9;
}

// The first H200 run (2026-12-04) timed every 1024^3 kernel of ours at 19.6-22.9 us against
// cuBLASLt's 8.9, whatever the tile; the tuner then called cuFuncSetAttribute between the
// events of every repetition (since 2026-12-05 before them). This probe says what such a
// call costs inside a timed region: an empty kernel with 64 KiB of dynamic shared memory,
// timed as everything here, without and with cudaFuncSetAttribute between the events.
__global__ void gemm14_empty(int) {}
static void launch_probe(void)
{
  const int shared = 64 * 1024;
  CK(cudaFuncSetAttribute(gemm14_empty, cudaFuncAttributeMaxDynamicSharedMemorySize, shared));
  const double plain = time_median([&]() { gemm14_empty<<<1, 32, shared>>>(0); });
  const double attr = time_median([&]() {
    CK(cudaFuncSetAttribute(gemm14_empty, cudaFuncAttributeMaxDynamicSharedMemorySize, shared));
    gemm14_empty<<<1, 32, shared>>>(0);
  });
  CK(cudaGetLastError());
  printf("launch probe: an empty kernel (64 KiB dynamic shared memory) %.1f us; with "
         "cudaFuncSetAttribute between the events %.1f us\n",
         plain, attr);
}

int main(int argc, char **argv)
{
  bool cublas_only = argc > 1 && strcmp(argv[1], "--cublas-only") == 0;
#ifdef GEMM14_NO_HEADER
  cublas_only = true;
#endif
  cublasLtHandle_t lt;
  LT(cublasLtCreate(&lt));
  void *lt_ws;
  CK(cudaMalloc(&lt_ws, LT_WORKSPACE));
  CK(cudaMalloc(&flush_buf, FLUSH_BYTES));
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  const double hbm = measure_hbm();
  const char *warm = getenv("GEMM14_WARM");
  warm_l2 = warm && *warm && strcmp(warm, "0") != 0;
  printf("device: %s, %d SMs; HBM copy %.0f GB/s (read + write, measured here); "
         "header %s; %d reps, median, %s\n\n",
         prop.name, prop.multiProcessorCount, hbm, cublas_only ? "(none)" : HEADER_NAME,
         REPS, warm_l2 ? "L2 NOT flushed (GEMM14_WARM)" : "L2 flushed between reps");
  launch_probe();
  printf("\n");
  printf("| problem | dtype layout | winner | check | ours us | Lt default us | Lt search us | "
         "ours/default | ours/search | TFLOP/s | %% of %.0f | %% of HBM |\n"
         "|---|---|---|---|---|---|---|---|---|---|---|---|\n",
         CEILING_TFLOPS);
  double log_def = 0, log_search = 0;
  int counted = 0, failures = 0;
  // GEMM14_ONLY=i: problem i (0-13) alone, e.g. under ncu
  const char *only = getenv("GEMM14_ONLY");
  int index = -1;
  for (const problem &p : problems) {
    if (index++, only && *only && atoi(only) != index)
      continue;
    const int M = p.m, N = p.n, K = p.k;
    const cudaDataType_t dt = p.bf16 ? CUDA_R_16BF : CUDA_R_16F;
    // B holds K * N elements in either layout.
    std::vector<unsigned short> ha((size_t)M * K), hb((size_t)K * N), hc((size_t)M * N),
        hr((size_t)M * N);
    unsigned long long x = 88172645463325252ull ^ (unsigned long long)(M * 31 + N * 7 + K);
    auto next = [&]() {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      return to_bits((float)((int)(x % 9) - 4) / 4.0f, p.bf16);
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

    // Row-major C (M x N) = A (M x K) B (K x N) is column-major C^T = B^T A^T: cuBLASLt's
    // "A" is our B (NN: N x K column-major, ld N; NT: the weight N x K row-major is K x N
    // column-major, ld K, transposed), its "B" our A (K x M, ld K).
    cublasLtMatmulDesc_t desc;
    LT(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t opa = p.nt ? CUBLAS_OP_T : CUBLAS_OP_N;
    LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
    cublasLtMatrixLayout_t la, lb, lc;
    LT(p.nt ? cublasLtMatrixLayoutCreate(&la, dt, K, N, K)
            : cublasLtMatrixLayoutCreate(&la, dt, N, K, N));
    LT(cublasLtMatrixLayoutCreate(&lb, dt, K, M, K));
    LT(cublasLtMatrixLayoutCreate(&lc, dt, N, M, N));
    cublasLtMatmulPreference_t pref;
    LT(cublasLtMatmulPreferenceCreate(&pref));
    size_t wsb = LT_WORKSPACE;
    LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                            &wsb, sizeof wsb));
    cublasLtMatmulHeuristicResult_t res[SEARCH_ALGOS];
    int nres = 0;
    LT(cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, lc, lc, pref, SEARCH_ALGOS, res,
                                      &nres));
    const float one = 1.0f, zero = 0.0f;
    auto lt_run = [&](const cublasLtMatmulAlgo_t *algo) {
      LT(cublasLtMatmul(lt, desc, &one, db, la, da, lb, &zero, dr, lc, dr, lc, algo, lt_ws,
                        LT_WORKSPACE, 0));
    };
    const double t_def = time_median([&]() { lt_run(&res[0].algo); });
    double t_search = t_def;
    for (int i = 1; i < nres; i++) {
      if (res[i].workspaceSize > LT_WORKSPACE)
        continue;
      t_search = std::min(t_search, time_median([&]() { lt_run(&res[i].algo); }));
    }
    lt_run(&res[0].algo); // the reference result
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(hr.data(), dr, hr.size() * 2, cudaMemcpyDeviceToHost));

    const double flops = 2.0 * M * N * K;
    const double bytes = 2.0 * ((double)M * K + (double)K * N + (double)M * N);
    const char *winner = "-";
    char check[64] = "-";
    double t_ours = NAN;
#ifndef GEMM14_NO_HEADER
    const family fam = cublas_only ? family() : family_of(p.bf16, p.nt);
    if (!cublas_only && !fam.have)
      snprintf(check, sizeof check, "no winner");
    if (fam.have) {
      int rc = 0;
      // the chosen kernel's workspace (split-K partials: gemm_skinny, gemm_tma), zeroed
      // once; the kernel leaves it zero (docs/templates.md), so the timed launches reuse it
      const long long ws_bytes = fam.workspace_size(M, N, K);
      void *ws = nullptr;
      if (ws_bytes > 0) {
        CK(cudaMalloc(&ws, (size_t)ws_bytes));
        CK(cudaMemset(ws, 0, (size_t)ws_bytes));
      }
      auto ours = [&]() { rc |= fam.run(da, db, dc, M, N, K, ws); };
      at_tuned_choice c = fam.choice(M, N, K);
      winner = c.kernel;
      CK(cudaMemset(dc, 0xff, hc.size() * 2)); // NaN in both dtypes: every element written
      ours();
      CK(cudaDeviceSynchronize());
      CK(cudaMemcpy(hc.data(), dc, hc.size() * 2, cudaMemcpyDeviceToHost));
      size_t bad = 0;
      const float tol = p.bf16 ? 2e-2f : 1e-2f;
      for (size_t i = 0; i < hc.size(); i++) {
        float a = from_bits(hc[i], p.bf16), b = from_bits(hr[i], p.bf16);
        bad += !(fabsf(a - b) <= tol * (1.0f + fabsf(b)));
      }
      if (rc)
        snprintf(check, sizeof check, "launch rc %d", rc);
      else if (bad)
        snprintf(check, sizeof check, "%zu differ", bad);
      else
        snprintf(check, sizeof check, "ok");
      if (rc == 0 && bad == 0) {
        t_ours = time_median(ours);
        log_def += log(t_ours / t_def);
        log_search += log(t_ours / t_search);
        counted++;
      } else {
        failures++;
      }
      if (ws)
        CK(cudaFree(ws));
    }
#endif
    const double t_best = std::isnan(t_ours) ? t_search : t_ours;
    char hbm_pct[32] = "";
    if (M <= 64)
      snprintf(hbm_pct, sizeof hbm_pct, "%.0f%%", 100.0 * bytes / (t_best * 1e-6) / 1e9 / hbm);
    printf("| %dx%dx%d %s | %s %s | %s | %s | %.1f | %.1f | %.1f | %.2f | %.2f | %.0f | %.0f%% | "
           "%s |\n",
           M, N, K, p.what, p.bf16 ? "bf16" : "f16", p.nt ? "NT" : "NN", winner, check, t_ours,
           t_def, t_search, t_ours / t_def, t_ours / t_search, flops / (t_best * 1e-6) / 1e12,
           100.0 * flops / (t_best * 1e-6) / 1e12 / CEILING_TFLOPS, hbm_pct);
    fflush(stdout);
    cublasLtMatmulPreferenceDestroy(pref);
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatmulDescDestroy(desc);
    cudaFree(da), cudaFree(db), cudaFree(dc), cudaFree(dr);
  }
  printf("\n(TFLOP/s and %% columns: ours where it ran, else cuBLASLt's search; decode %% of "
         "HBM: A, B and C bytes once over the time, against the copy above)\n");
  if (counted)
    printf("geometric mean over %d problems: ours/default %.3f, ours/search %.3f (time "
           "ratios: below 1 is faster than cuBLASLt)\n",
           counted, exp(log_def / counted), exp(log_search / counted));
  printf("%s\n", failures ? "FAILED: some winners differ from cuBLASLt" : "checks done");
  return failures != 0;
}
