/*
 * hash.h - the hashes every layer uses, one copy each. SHA-256 names content: a
 * template's content hash, a variant's name, a compile-cache key and its checksums,
 * anything stored or compared across runs, where a collision would silently mix up two
 * sources. FNV-1a (64 bits) is for in-memory hash tables and for spreading items over
 * shards, where speed matters and a collision costs only a probe.
 */
#ifndef AT_BASE_HASH_H
#define AT_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* An incremental SHA-256 (FIPS 180-4): hash_sha256_init, then hash_sha256_add any number
 * of times, then hash_sha256_hex once. */
struct hash_sha256 {
  uint32_t h[8];
  uint64_t len;
  unsigned char buf[64];
  size_t nbuf;
};

#define HASH_SHA256_HEX 65 /* 64 lowercase hex digits and a NUL */

void hash_sha256_init(struct hash_sha256 *c);
void hash_sha256_add(struct hash_sha256 *c, const void *data, size_t n);
/* hash_sha256_add of a NUL-terminated string, without its NUL. */
void hash_sha256_str(struct hash_sha256 *c, const char *s);
/* Finish: the digest as lowercase hex. OUT: out[HASH_SHA256_HEX]. c is spent after. */
void hash_sha256_hex(struct hash_sha256 *c, char out[HASH_SHA256_HEX]);
/* The hex digest of one buffer. OUT: out[HASH_SHA256_HEX]. */
void hash_sha256_of(const void *data, size_t n, char out[HASH_SHA256_HEX]);

/* FNV-1a, 64 bits: start from HASH_FNV1A64_SEED and fold buffers in one after another. */
#define HASH_FNV1A64_SEED 0xcbf29ce484222325ULL
uint64_t hash_fnv1a64(uint64_t h, const void *data, size_t n);
/* The tag in front of a content hash that is FNV-1a, not SHA-256: the template hashes
 * that databases of schema 1 stored, tagged by the migration to schema 2. */
#define HASH_FNV1A64_TAG "fnv1a64:"

#endif
