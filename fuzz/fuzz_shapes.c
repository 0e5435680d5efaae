/*
 * fuzz_shapes.c - libFuzzer target for gemm's shapes file (`autotune gemm --shapes
 * FILE`, tuner/ops/op_gemm_tune.c reading it through tuner/ops/shapes.c: plain lines,
 * TunableOp CSV, hipblaslt-bench and rocblas-bench lines): the input is the file, written to a temp file and
 * read by the gemm op's prepare as the command does (host device, then h100). Checks: a
 * refused file carries a message; an accepted one gives 1..OP_MAX_PROBLEMS problems,
 * each of which binds (its FLOPs and bytes positive and finite) and has the dims M, N,
 * K it was given, within 1..INT32_MAX.
 * Built outside CMake; fuzz/README.md has the command.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/device.h"
#include "base/status.h"
#include "tuner/ops/gemm_tune.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char path[64];

static void must(int cond, const char *what)
{
  if (!cond) {
    fprintf(stderr, "fuzz_shapes: broken invariant: %s\n", what);
    abort();
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  const char *tmp = getenv("TMPDIR");
  snprintf(path, sizeof path, "%.30s/fuzz_shapes.%ld", tmp && tmp[0] ? tmp : "/tmp",
           (long)getpid());
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  FILE *f = fopen(path, "wb");
  if (!f)
    abort();
  fwrite(data, 1, size, f);
  fclose(f);
  static const char *const devs[] = {"host", "h100"};
  for (size_t d = 0; d < 2; d++) {
    struct op_engine op;
    struct gemm_tune_args args = {.shapes_file = path};
    must(gemm_tune_op_init(&op, &args) == AT_OK, "op init");
    const struct dev_profile *dev = dev_find(devs[d]);
    at_error_clear();
    int rc = op.prepare(&op, dev);
    if (rc != AT_OK) {
      must(rc == AT_USAGE && at_last_error()[0], "a refused file says why");
      gemm_tune_op_release(&op);
      continue;
    }
    size_t n = op.nproblems(&op);
    must(n >= 1 && n <= OP_MAX_PROBLEMS, "problem count");
    char canon[8192];
    op.canonical(&op, canon, sizeof canon);
    for (size_t i = 0; i < n; i++) {
      struct op_problem p;
      must(op.bind(&op, i, dev, &p) == AT_OK, "an accepted shape binds");
      must(p.key.ndims == 3, "gemm has three dims");
      for (int j = 0; j < 3; j++)
        must(p.key.dims[j] >= 1 && p.key.dims[j] <= INT32_MAX, "dims in range");
      must(p.flops > 0 && isfinite(p.flops) && p.bytes > 0 && isfinite(p.bytes),
           "flops and bytes");
      op.unbind(&op, &p);
    }
    gemm_tune_op_release(&op);
  }
  unlink(path);
  return 0;
}
