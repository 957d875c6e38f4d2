/*
 * hll.h — HyperLogLog, the mergeable sketch behind "distinct_count".
 *
 * 2^12 one-byte registers (4 KiB per column) give a relative standard
 * error of 1.04/sqrt(4096) = 1.6%: nine estimates in ten are within 2.7%
 * of the truth, and practically all within 5%. Small counts are exact in
 * practice: below 2.5 * 4096 the estimator switches to linear counting of
 * empty registers. Two sketches merge by taking the larger register, so
 * the distinct count of appended data can be combined with the sketch
 * kept for earlier commits without reading those again.
 *
 * Values are hashed by the caller with hll_hash_bytes / hll_hash_u64
 * (64-bit hashes: no large-range correction is needed).
 */
#ifndef FSTORE_HLL_H
#define FSTORE_HLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/table.h"

#define HLL_P 12
#define HLL_M (1u << HLL_P)

struct hll {
  uint8_t reg[HLL_M];
};

void hll_init(struct hll *h);
void hll_add(struct hll *h, uint64_t hash);
/* dst becomes the sketch of the union of both inputs. */
void hll_merge(struct hll *dst, const struct hll *src);
double hll_estimate(const struct hll *h);
uint64_t hll_hash_bytes(const void *p, size_t n);
uint64_t hll_hash_u64(uint64_t v);
/* The hash of row i of c (not null), equal for equal values: integers, dates
 * and timestamps by value, -0.0 as 0.0, every NaN alike, strings by bytes. */
uint64_t hll_hash_cell(const struct column *c, size_t i);
/* Whether row i of a and row j of b (same type, neither null) hold equal
 * values in the sense of hll_hash_cell. */
bool hll_cell_equal(const struct column *a, size_t i, const struct column *b, size_t j);

#endif
