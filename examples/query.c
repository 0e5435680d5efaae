/*
 * query.c - the smallest program that uses libautotune: open a tuning database, ask for
 * the best configuration of an f16 NN gemm on a device and shape, and print it. Copy it
 * as the start of your own dispatch code (README.md says how to build it).
 *
 *   query DB [DEVICE [M N K]]        defaults: h100, 4000 4096 4096
 *
 * Exit status: 0 a configuration was found, 1 nothing tuned matches (or the lookup
 * failed), 2 bad arguments or a database that cannot be opened.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <autotune/autotune.h>

/* A positive dimension from the command line, or -1. */
static int64_t parse_dim(const char *text)
{
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno || end == text || *end || v < 1)
    return -1;
  return (int64_t)v;
}

int main(int argc, char **argv)
{
  if (argc != 2 && argc != 3 && argc != 6) {
    fprintf(stderr, "usage: query DB [DEVICE [M N K]]\n");
    return 2;
  }
  const char *path = argv[1];
  const char *device = argc > 2 ? argv[2] : "h100";
  int64_t m = 4000, n = 4096, k = 4096;
  if (argc == 6) {
    m = parse_dim(argv[3]), n = parse_dim(argv[4]), k = parse_dim(argv[5]);
    if (m < 1 || n < 1 || k < 1) {
      fprintf(stderr, "query: M, N and K must be positive integers\n");
      return 2;
    }
  }

  /* Every call returns an at_status (0 is AT_OK); at_last_error() says what went wrong,
   * naming the file or the problem, in words meant for a user. */
  at_db *db = NULL;
  int rc = at_db_open(path, &db);
  if (rc != AT_OK) {
    fprintf(stderr, "query: %s\n", at_last_error());
    return 2;
  }

  /* The lookup walks a chain: this exact shape on this device, else the nearest tuned
   * shape on it, else a winner of another device of the same arch, then vendor. */
  at_problem problem = at_problem_gemm("f16", "NN", m, n, k);
  at_config *config = NULL;
  rc = at_best_config(db, device, &problem, &config);
  if (rc != AT_OK) {
    fprintf(stderr, "query: %s\n", at_last_error());
    at_db_close(db);
    return 1;
  }

  printf("match:   %s\n", at_match_name(at_config_match(config)));
  printf("device:  %s\n", at_config_device(config));
  printf("kernel:  %s\n", at_config_kernel(config));
  printf("asked:   m=%" PRId64 " n=%" PRId64 " k=%" PRId64 "\n", m, n, k);
  printf("tuned:   m=%" PRId64 " n=%" PRId64 " k=%" PRId64 "\n", at_config_dim(config, 0),
         at_config_dim(config, 1), at_config_dim(config, 2));
  printf("config:  %s\n", at_config_text(config));

  /* One parameter as a number, as a kernel launch would need it. Which keys exist is up
   * to the kernel template; a key it lacks is AT_NOT_FOUND, not a failure. */
  int64_t bm = 0;
  rc = at_config_get_int(config, "BM", &bm);
  if (rc == AT_OK)
    printf("BM:      %" PRId64 "\n", bm);
  else
    printf("BM:      (%s)\n", at_last_error());
  printf("time:    %.3f us (median of the winning trial)\n", at_config_time_us(config));

  at_config_free(config);
  at_db_close(db);
  return 0;
}
