/*
 * rng.h — the seeded pseudo-random generator of the optimizers.
 *
 * SplitMix64 (Steele, Lea, Flood 2014): one 64-bit word of state, which
 * makes an optimizer's randomness trivially saved and restored with the
 * rest of its state, good statistical quality for sampling, and the same
 * sequence on every platform, so an experiment with a given seed proposes
 * the same trials everywhere. Not for secrets (util/crypto.h is).
 */
#ifndef EXP_RNG_H
#define EXP_RNG_H

#include <stdint.h>

struct exp_rng {
  uint64_t s;
};

static inline void exp_rng_seed(struct exp_rng *r, uint64_t seed) { r->s = seed; }

static inline uint64_t exp_rng_u64(struct exp_rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double exp_rng_unit(struct exp_rng *r) { return (double)(exp_rng_u64(r) >> 11) * 0x1.0p-53; }

/* Uniform in [0, n) without modulo bias; n > 0. */
static inline uint64_t exp_rng_below(struct exp_rng *r, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = exp_rng_u64(r);
  while (x >= limit);
  return x % n;
}

#endif
