/*
 * pitjoin_bench.c — the Oast side of bench/pitjoin.sh: generates a label
 * table and two feature groups (deterministic, from a seed), optionally
 * writes them as Parquet files for the peer (DuckDB) to load, then times
 * Oast's point-in-time join (src/fstore/pitjoin.c) of the labels against
 * both groups on in-memory tables, and prints one JSON line: the times of
 * each run and a checksum of the result (matched rows and the sum of two
 * feature columns) that the script compares with the peer's.
 *
 *   pitjoin_bench ROWS KEYS RUNS [DIR]
 *
 * Tables: labels(id bigint, ts timestamp, label int), fg1(id, ts, f1..f5
 * double), fg2(id, ts, g1..g5 double); ids uniform over KEYS, times
 * uniform over a year in microseconds, rows in random order (so a key's
 * rows are not sorted by time, and equal (id, ts) pairs, which a feature
 * group's key forbids, practically never occur).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "formats/parquet/parquet.h"
#include "fstore/pitjoin.h"
#include "util/alloc.h"

static uint64_t rng;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

#define T0 1704067200000000LL /* 2024-01-01 */
#define YEAR_S 31536000ULL

static void gen(struct table *t, size_t rows, uint64_t keys, const char *prefix, int nfeat, uint64_t seed) {
  rng = seed;
  const char *names[8];
  enum ftype types[8];
  char fn[8][8];
  names[0] = "id";
  types[0] = FT_BIGINT;
  names[1] = "ts";
  types[1] = FT_TIMESTAMP;
  for (int i = 0; i < nfeat; i++) {
    snprintf(fn[i], sizeof fn[i], "%s%d", prefix, i + 1);
    names[2 + i] = fn[i];
    types[2 + i] = nfeat == 1 ? FT_INT : FT_DOUBLE;
  }
  table_init(t, (size_t)(2 + nfeat), names, types);
  for (int c = 0; c < 2 + nfeat; c++) {
    column_reserve(&t->cols[c], rows);
    memset(t->cols[c].valid, 1, rows);
    t->cols[c].len = rows;
  }
  int64_t *id = t->cols[0].vals, *ts = t->cols[1].vals;
  for (size_t i = 0; i < rows; i++) {
    id[i] = (int64_t)(next() % keys);
    ts[i] = T0 + (int64_t)(next() % (YEAR_S * 1000000ULL)); /* µs: (id, ts) pairs do not repeat in practice */
    for (int f = 0; f < nfeat; f++) {
      if (nfeat == 1) ((int32_t *)t->cols[2 + f].vals)[i] = (int32_t)(next() % 2);
      else ((double *)t->cols[2 + f].vals)[i] = (double)(next() % 1000000) / 1000.0;
    }
  }
  t->nrows = rows;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: pitjoin_bench ROWS KEYS RUNS [DIR]\n");
    return 2;
  }
  size_t rows = strtoull(argv[1], NULL, 10);
  uint64_t keys = strtoull(argv[2], NULL, 10);
  int runs = atoi(argv[3]);
  struct table lab, fg1, fg2;
  gen(&lab, rows, keys, "label", 1, 0x1234567ULL);
  gen(&fg1, rows, keys, "f", 5, 0x89abcdefULL);
  gen(&fg2, rows, keys, "g", 5, 0x13579bdfULL);
  oast_err e;
  if (argc > 4) {
    const struct table *ts[] = {&lab, &fg1, &fg2};
    const char *files[] = {"labels.parquet", "fg1.parquet", "fg2.parquet"};
    for (int i = 0; i < 3; i++) {
      char *p = xasprintf("%s/%s", argv[4], files[i]);
      struct pq_write_opts o;
      pq_write_opts_init(&o);
      if (pq_write_table(p, ts[i], &o, &e)) {
        fprintf(stderr, "pitjoin_bench: %s\n", e.msg);
        return 1;
      }
      free(p);
    }
  }
  int keyc[] = {0};
  const int lcols[] = {0, 1, 2}, rcols[] = {2, 3, 4, 5, 6};
  const char *lnames[] = {"id", "ts", "label1"};
  const char *n1[] = {"f1", "f2", "f3", "f4", "f5"}, *n2[] = {"g1", "g2", "g3", "g4", "g5"};
  struct pit_join_spec js[2] = {
      {keyc, {&fg1, keyc, 1, 1}, rcols, n1, 5, false},
      {keyc, {&fg2, keyc, 1, 1}, rcols, n2, 5, false},
  };
  printf("{\"rows\": %zu, \"keys\": %llu, \"times_s\": [", rows, (unsigned long long)keys);
  double sum_f1 = 0, sum_g1 = 0;
  size_t matched1 = 0, matched2 = 0;
  for (int r = 0; r < runs; r++) {
    struct table out;
    double t = now();
    if (pit_join(&lab, 1, NULL, 0, lcols, lnames, 3, js, 2, 0, &out, &e)) {
      fprintf(stderr, "pitjoin_bench: %s\n", e.msg);
      return 1;
    }
    double dt = now() - t;
    printf("%s%.4f", r ? ", " : "", dt);
    fflush(stdout);
    if (r == runs - 1) {
      const struct column *f1 = &out.cols[3], *g1 = &out.cols[8];
      for (size_t i = 0; i < out.nrows; i++) {
        if (f1->valid[i]) {
          matched1++;
          sum_f1 += column_f64(f1, i);
        }
        if (g1->valid[i]) {
          matched2++;
          sum_g1 += column_f64(g1, i);
        }
      }
    }
    table_release(&out);
  }
  printf("], \"matched_fg1\": %zu, \"matched_fg2\": %zu, \"sum_f1\": %.3f, \"sum_g1\": %.3f}\n", matched1, matched2,
         sum_f1, sum_g1);
  table_release(&lab);
  table_release(&fg1);
  table_release(&fg2);
  return 0;
}
