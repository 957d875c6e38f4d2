/*
 * stats.h — per-column statistics of feature data, kept as a mergeable
 * state so the statistics of appended rows can be folded into those of
 * the rows before without reading them again.
 *
 * Per column: count (non-null values), null_count, distinct_count
 * (HyperLogLog, relative standard error 1.6%, see hll.h), min and max,
 * mean and stddev (population standard deviation, like numpy's default),
 * and an equal-width histogram (STATS_BINS_DEFAULT bins between min and
 * max). Which applies to which type:
 *   int, bigint, float, double: all of them;
 *   boolean: min, max, mean (the fraction of true) and stddev, no histogram;
 *   timestamp, date: min, max and histogram (edges as ISO-8601 strings);
 *   string: "min_length" and "max_length" in characters instead of min/max.
 * What does not apply is null in the JSON. NaN and infinities count as
 * values but are left out of min, max, mean, stddev and histograms.
 * Optionally: Pearson correlations between the int, bigint, float, double
 * and boolean columns (the first STATS_CORR_MAX_COLS of them), each pair
 * over the rows where both are present.
 *
 * Merging is exact for counts, min/max, moments (Chan et al.'s pairwise
 * update), co-moments and HyperLogLog registers. Histograms are exact for
 * the data of one stats_add; when the range of merged data differs, the
 * counts are re-binned over the new range assuming values spread evenly
 * within each old bin (totals stay exact).
 */
#ifndef FSTORE_STATS_H
#define FSTORE_STATS_H

#include <jansson.h>
#include <stdbool.h>

#include "formats/table.h"
#include "oast/error.h"

#define STATS_BINS_DEFAULT 20
#define STATS_BINS_MAX 1000
#define STATS_CORR_MAX_COLS 50

struct stats_opts {
  bool histograms;
  bool correlations;
  unsigned bins;          /* 0: STATS_BINS_DEFAULT; at most STATS_BINS_MAX */
};

struct stats;

/* An empty state for tables with the columns of t (names and types; its
 * rows are not read). o NULL: histograms on, correlations off. Never NULL;
 * free with stats_free. */
struct stats *stats_new(const struct table *t, const struct stats_opts *o);
void stats_free(struct stats *s);
/* Folds the rows of t into s. t must have s's columns in the same order
 * (OAST_EBAD_REQUEST naming the first difference otherwise). */
int stats_add(struct stats *s, const struct table *t, oast_err *e);
/* Folds src into dst; both must have the same columns and options. */
int stats_merge(struct stats *dst, const struct stats *src, oast_err *e);

/* The API shape, a new reference for the caller:
 * {"columns": [{"name", "type", "count", "null_count", "distinct_count",
 *   "min", "max", "mean", "stddev", "histogram": {"edges", "counts"} | null,
 *   ("min_length", "max_length" for strings)}],
 *  "correlations": {"columns": [..], "values": [[..]]}   (when enabled)} */
json_t *stats_json(const struct stats *s);
/* The whole mergeable state as JSON (a new reference), to keep beside a
 * commit; stats_load turns it back into a state (caller frees). */
json_t *stats_save(const struct stats *s);
int stats_load(const json_t *j, struct stats **out, oast_err *e);

/* stats_new + stats_add + stats_json in one call; NULL never (an empty
 * table gives counts of zero). */
json_t *stats_of_table(const struct table *t, const struct stats_opts *o);

#endif
