/*
 * num.h - small numeric helpers every layer uses, one copy each: the qsort comparator
 * for doubles and the xorshift64* generator for deterministic test data and sampling.
 * (The search strategies' generator, with its stronger statistics, is search_rng.)
 */
#ifndef AT_BASE_NUM_H
#define AT_BASE_NUM_H

#include <stdint.h>

/* qsort comparator for doubles, ascending; NaNs sort after every number. */
int num_cmp_double(const void *a, const void *b);

/* xorshift64* (Vigna): the next value of state *s, the same on every machine. A zero
 * state stays zero: seed it with a nonzero value. */
uint64_t num_xorshift64s(uint64_t *s);

/* The state of xorshift64* after n more steps from s, in O(log n) (the step is linear over
 * GF(2): its 64 x 64 bit matrix raised to n): a stream cut into parts that threads fill
 * at once, each from its own offset, holds exactly the values one thread would write. */
uint64_t num_xorshift64s_jump(uint64_t s, uint64_t n);

#endif
