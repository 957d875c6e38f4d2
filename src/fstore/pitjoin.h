/*
 * pitjoin.h — point-in-time correct joins over struct table.
 *
 * A left table (labels, say, each row at an event time) is joined with a
 * right table (a feature group) on key columns: each left row takes the
 * right row with the same key whose event time is the latest at or before
 * its own. Nothing later than the left row can leak into it, and a key
 * with no such row gives nulls (or drops the row in an inner join). When
 * the left side has no event time, a left row takes the latest row of its
 * key; when the right side has none, the last row of its key in input
 * order. Among right rows with equal key and equal time the last in input
 * order wins, so the answer never depends on how the input was sorted.
 *
 * Key columns are compared by value across compatible types (int with
 * bigint; otherwise the same type); a null key matches nothing. Event
 * times compare as microseconds for timestamp and date (a date is its
 * midnight UTC), and as plain numbers when both sides are bigint.
 *
 * Rows are addressed with 32-bit indexes, so a side holds fewer than
 * 2^32 - 1 rows. See pitjoin.c for the algorithm.
 */
#ifndef FSTORE_PITJOIN_H
#define FSTORE_PITJOIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/table.h"
#include "oast/error.h"

/* "No row" in a match or row-index array. */
#define PIT_NONE UINT32_MAX
/* Most key columns of one join. */
#define PIT_MAX_KEYS 16

/* One side of a join: a table (borrowed), its key columns and its event time column. */
struct pit_side {
  const struct table *t;
  const int *keys;   /* nkeys column indexes, borrowed */
  size_t nkeys;
  int time;          /* event time column, -1 for none */
};

/* Whether key columns of these types can be joined (int with bigint; otherwise equal types). */
bool pit_key_types_compatible(enum ftype a, enum ftype b);
/* Whether event times of these types compare (timestamp and date with each other; bigint with bigint). */
bool pit_time_types_compatible(enum ftype a, enum ftype b);

/*
 * For each of the n left rows rows[0..n) (rows NULL: every left row, n =
 * the table's rows), match[i] receives the right row it takes, or
 * PIT_NONE. threads: worker threads (0: one per CPU, at most 8). Fails
 * with OAST_EBAD_REQUEST on incompatible or mismatched key and time
 * columns and OAST_ETOO_LARGE past the row limit.
 */
int pit_match(const struct pit_side *left, const uint32_t *rows, size_t n, const struct pit_side *right, int threads,
              uint32_t *match, oast_err *e);

/* Appends to dst (same type as src) the n rows src[idx[i]], a null where idx[i] is PIT_NONE. */
void pit_gather(struct column *dst, const struct column *src, const uint32_t *idx, size_t n);

/* One right side of pit_join, the left keys it joins on, and the columns it brings. */
struct pit_join_spec {
  const int *left_keys;       /* right.nkeys left columns, borrowed */
  struct pit_side right;
  const int *cols;            /* right columns to add, borrowed */
  const char *const *names;   /* their names in the output, borrowed */
  size_t ncols;
  bool inner;                 /* drop left rows without a match (else nulls) */
};

/*
 * out (initialized by the call; the caller releases it, also on failure)
 * gets, for every row of `left` in rows[0..n) (rows NULL: all) in that
 * order, the left columns lcols named lnames, then each join's columns.
 * left_time is the left event time column (-1: none). Rows that an inner
 * join cannot match are left out.
 */
int pit_join(const struct table *left, int left_time, const uint32_t *rows, size_t n, const int *lcols,
             const char *const *lnames, size_t nl, const struct pit_join_spec *joins, size_t nj, int threads,
             struct table *out, oast_err *e);

/* Event time of row i as a comparable number (µs for timestamp and date; the value for bigint). */
int64_t pit_time_at(const struct column *c, size_t i);

#endif
