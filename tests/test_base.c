/*
 * test_base.c - the one-copy helpers of base/: SHA-256 and FNV-1a against their
 * published test vectors, the double comparator's order (NaNs last), xorshift64*'s
 * sequence, os_mkdir_p on nested, existing and blocked paths, and an error message that
 * quotes the one before it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/hash.h"
#include "base/num.h"
#include "base/os.h"
#include "base/status.h"
#include "tests/helpers.h"

Test(base, sha256_matches_the_fips_vectors)
{
  char hex[HASH_SHA256_HEX];
  hash_sha256_of("", 0, hex);
  cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  hash_sha256_of("abc", 3, hex);
  cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  /* two blocks, fed in uneven pieces */
  const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  struct hash_sha256 c;
  hash_sha256_init(&c);
  hash_sha256_add(&c, m, 5);
  hash_sha256_str(&c, m + 5);
  hash_sha256_hex(&c, hex);
  cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(base, fnv1a64_matches_the_reference_vectors)
{
  cr_assert_eq(hash_fnv1a64(HASH_FNV1A64_SEED, "", 0), 0xcbf29ce484222325ULL);
  cr_assert_eq(hash_fnv1a64(HASH_FNV1A64_SEED, "a", 1), 0xaf63dc4c8601ec8cULL);
  cr_assert_eq(hash_fnv1a64(HASH_FNV1A64_SEED, "foobar", 6), 0x85944171f73967e8ULL);
  /* folding pieces in one after another is hashing them together */
  cr_assert_eq(hash_fnv1a64(hash_fnv1a64(HASH_FNV1A64_SEED, "foo", 3), "bar", 3),
               0x85944171f73967e8ULL);
}

Test(base, cmp_double_sorts_ascending_with_nans_last)
{
  double v[] = {3, NAN, -1, INFINITY, 2, NAN, -INFINITY, 0};
  qsort(v, 8, sizeof v[0], num_cmp_double);
  const double want[] = {-INFINITY, -1, 0, 2, 3, INFINITY};
  for (int i = 0; i < 6; i++)
    cr_assert_eq(v[i], want[i], "v[%d] = %g", i, v[i]);
  cr_assert(isnan(v[6]) && isnan(v[7]));
}

Test(base, xorshift64s_is_the_published_generator)
{
  uint64_t s = 1;
  /* xorshift64* from state 1: x = 1 ^ (1 << 25) ^ ((1 ^ 1 << 25) >> 27), times M */
  uint64_t x = 1;
  x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
  cr_assert_eq(x, 0x2000001ULL);
  cr_assert_eq(num_xorshift64s(&s), 0x2000001ULL * 0x2545F4914F6CDD1DULL);
  cr_assert_eq(s, 0x2000001ULL);
  uint64_t a = 42, b = 42;
  for (int i = 0; i < 100; i++)
    cr_assert_eq(num_xorshift64s(&a), num_xorshift64s(&b));
}

Test(base, xorshift64s_jump_lands_where_the_steps_do)
{
  static const uint64_t ns[] = {0, 1, 2, 63, 64, 65, 1000, 123457};
  for (uint64_t seed = 1; seed < 4; seed++) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL | 1, walked = s;
    uint64_t done = 0;
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
      for (; done < ns[i]; done++)
        num_xorshift64s(&walked);
      cr_assert_eq(num_xorshift64s_jump(s, ns[i]), walked, "seed %llu, %llu steps",
                   (unsigned long long)seed, (unsigned long long)ns[i]);
    }
  }
}

Test(base, mkdir_p_makes_parents_accepts_existing_and_names_a_blocker)
{
  char *dir = th_tmpdir();
  char *deep = th_path(dir, "a/b/c");
  cr_assert_eq(os_mkdir_p(deep), AT_OK, "%s", at_last_error());
  struct stat st;
  cr_assert(stat(deep, &st) == 0 && S_ISDIR(st.st_mode));
  cr_assert_eq(os_mkdir_p(deep), AT_OK, "an existing folder is fine");
  char *trailing = th_path(dir, "a/b/d/");
  cr_assert_eq(os_mkdir_p(trailing), AT_OK, "%s", at_last_error());
  char *file = th_path(dir, "a/f");
  cr_assert_eq(os_write_file(file, "x", 1), AT_OK);
  char *blocked = th_path(dir, "a/f/g");
  cr_assert_eq(os_mkdir_p(blocked), AT_IO);
  cr_assert_eq(errno, ENOTDIR);
  cr_assert(strstr(at_last_error(), "a/f"), "%s", at_last_error());
  cr_assert_eq(os_mkdir_p(""), AT_IO);
  free(deep), free(trailing), free(file), free(blocked);
  th_rmtree(dir);
  free(dir);
}

/* Library code wraps a callee's message in its own: "bad --arg x=N+: <expr's message>".
 * The wrapped message is read from the buffer being written, so it must survive. */
Test(base, an_error_may_quote_the_last_one)
{
  at_error(AT_PARSE, "unexpected end of expression at column 3");
  cr_assert_eq(at_error(AT_USAGE, "bad --arg x=N+: %s (expected an integer expression)",
                        at_last_error()), AT_USAGE);
  cr_assert_str_eq(at_last_error(), "bad --arg x=N+: unexpected end of expression at column 3 "
                   "(expected an integer expression)");
}

/* os_grow: doubling from `first` until `need` fits, the contents kept; a request that
 * fits changes nothing; one whose byte size would overflow is AT_NOMEM with the array
 * and its capacity as they were. */
Test(base, grow_doubles_keeps_contents_and_refuses_overflow)
{
  int *a = NULL;
  size_t cap = 0;
  cr_assert_eq(os_grow(&a, &cap, 1, sizeof *a, 8), AT_OK);
  cr_assert_eq(cap, 8);
  cr_assert_not_null(a);
  for (int i = 0; i < 8; i++)
    a[i] = i * 7;
  int *before = a;
  cr_assert_eq(os_grow(&a, &cap, 8, sizeof *a, 8), AT_OK);
  cr_assert(a == before && cap == 8, "a request that fits moved the array");
  cr_assert_eq(os_grow(&a, &cap, 9, sizeof *a, 8), AT_OK);
  cr_assert_eq(cap, 16);
  cr_assert_eq(os_grow(&a, &cap, 100, sizeof *a, 8), AT_OK);
  cr_assert_eq(cap, 128);
  for (int i = 0; i < 8; i++)
    cr_assert_eq(a[i], i * 7);
  before = a;
  cr_assert_eq(os_grow(&a, &cap, SIZE_MAX / 2, sizeof *a, 8), AT_NOMEM);
  cr_assert(a == before && cap == 128, "a refused request changed the array");
  cr_assert_eq(os_grow(&a, &cap, SIZE_MAX, 1, 8), AT_NOMEM);
  cr_assert_eq(cap, 128);
  free(a);
  char *s = NULL;
  size_t scap = 0;
  cr_assert_eq(os_grow(&s, &scap, 3, 1, 0), AT_OK, "first 0 starts from one");
  cr_assert_eq(scap, 4);
  free(s);
}
