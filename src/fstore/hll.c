/*
 * hll.c — HyperLogLog (Flajolet et al. 2007) with linear counting for
 * small cardinalities (see hll.h). The register index is the top HLL_P
 * bits of the hash and the rank is counted in the remaining bits, so one
 * 64-bit hash serves both.
 */
#include "fstore/hll.h"

#include <math.h>
#include <string.h>

void hll_init(struct hll *h) { memset(h->reg, 0, sizeof h->reg); }

void hll_add(struct hll *h, uint64_t hash) {
  uint32_t idx = (uint32_t)(hash >> (64 - HLL_P));
  uint64_t rest = (hash << HLL_P) | ((uint64_t)1 << (HLL_P - 1)); /* a sentinel bit caps the rank */
  uint8_t rank = (uint8_t)(__builtin_clzll(rest) + 1);
  if (rank > h->reg[idx]) h->reg[idx] = rank;
}

void hll_merge(struct hll *dst, const struct hll *src) {
  for (size_t i = 0; i < HLL_M; i++)
    if (src->reg[i] > dst->reg[i]) dst->reg[i] = src->reg[i];
}

double hll_estimate(const struct hll *h) {
  double sum = 0;
  size_t zeros = 0;
  for (size_t i = 0; i < HLL_M; i++) {
    sum += ldexp(1.0, -h->reg[i]);
    zeros += h->reg[i] == 0;
  }
  const double m = HLL_M;
  double est = 0.7213 / (1 + 1.079 / m) * m * m / sum;
  if (est <= 2.5 * m && zeros) est = m * log(m / (double)zeros);
  return est;
}

static inline uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

uint64_t hll_hash_u64(uint64_t v) { return fmix64(v ^ 0x9E3779B97F4A7C15ULL); }

static inline uint64_t mum(uint64_t a, uint64_t b) {
  __uint128_t r = (__uint128_t)a * b;
  return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t hll_hash_bytes(const void *p, size_t n) {
  const unsigned char *s = p;
  uint64_t h = 0x243F6A8885A308D3ULL ^ (uint64_t)n;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = mum(h ^ w ^ 0xA0761D6478BD642FULL, 0xE7037ED1A0B428DBULL);
    s += 8;
    n -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, s, n);
  h = mum(h ^ w ^ 0x8EBC6AF09C88C6E3ULL, 0x589965CC75374CC3ULL);
  return fmix64(h);
}

static bool int_like(enum ftype t) { return t != FT_FLOAT && t != FT_DOUBLE && t != FT_STRING; }

/* The 64 bits that identify a non-string value. */
static uint64_t cell_bits(const struct column *c, size_t i) {
  if (int_like(c->type)) {
    switch (c->type) {
      case FT_INT: case FT_DATE: return (uint64_t)(int64_t)column_i32(c, i);
      case FT_BOOLEAN: return column_bool(c, i);
      default: return (uint64_t)column_i64(c, i);
    }
  }
  double d = column_num(c, i);
  if (d == 0) d = 0;
  if (isnan(d)) d = NAN;
  uint64_t bits;
  memcpy(&bits, &d, 8);
  return bits;
}

uint64_t hll_hash_cell(const struct column *c, size_t i) {
  if (c->type == FT_STRING) {
    size_t n;
    const char *s = column_str(c, i, &n);
    return hll_hash_bytes(s, n);
  }
  return hll_hash_u64(cell_bits(c, i));
}

bool hll_cell_equal(const struct column *a, size_t i, const struct column *b, size_t j) {
  if (a->type == FT_STRING) {
    size_t n, m;
    const char *s = column_str(a, i, &n), *t = column_str(b, j, &m);
    return n == m && memcmp(s, t, n) == 0;
  }
  return cell_bits(a, i) == cell_bits(b, j);
}
