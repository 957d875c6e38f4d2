/* test_stats.c — column statistics, HyperLogLog, merging and saved state. */
#include <math.h>
#include <stdio.h>

#include "formats/table.h"
#include "fstore/hll.h"
#include "fstore/stats.h"
#include "test.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static const char *const names[] = {"x", "y", "z", "s", "b", "ts"};
static const enum ftype types[] = {FT_INT, FT_DOUBLE, FT_DOUBLE, FT_STRING, FT_BOOLEAN, FT_TIMESTAMP};

/* Rows [from, to) of a small table whose statistics are worked out by hand. */
static void fill(struct table *t, int from, int to) {
  table_init(t, 6, names, types);
  static const char *const strs[] = {"a", "bb", "a", NULL, "ccc", "\xc3\xa9", "bb"};
  static const int bools[] = {1, 0, 1, 1, -1, 0, -1};
  for (int i = from; i < to; i++) {
    if (i < 5) column_append_i32(&t->cols[0], i + 1);
    else column_append_null(&t->cols[0]);
    column_append_f64(&t->cols[1], i < 5 ? 2.0 * (i + 1) : i == 5 ? 7 : NAN);
    if (i < 5) column_append_f64(&t->cols[2], 5 - i);
    else column_append_null(&t->cols[2]);
    if (strs[i]) column_append_str(&t->cols[3], strs[i], strlen(strs[i]));
    else column_append_null(&t->cols[3]);
    if (bools[i] < 0) column_append_null(&t->cols[4]);
    else column_append_bool(&t->cols[4], bools[i]);
    column_append_i64(&t->cols[5], (int64_t)i * 86400000000LL);
  }
  ASSERT_EQ(table_check(t, NULL), 0);
}

static json_t *col(json_t *st, size_t i) { return json_array_get(json_object_get(st, "columns"), i); }
static double num(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }
static long long integer(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

static void check_hand_values(json_t *st) {
  json_t *x = col(st, 0), *y = col(st, 1), *z = col(st, 2), *s = col(st, 3), *b = col(st, 4), *ts = col(st, 5);
  ASSERT_STREQ(json_string_value(json_object_get(x, "name")), "x");
  ASSERT_EQ(integer(x, "count"), 5);
  ASSERT_EQ(integer(x, "null_count"), 2);
  ASSERT_EQ(integer(x, "distinct_count"), 5);
  ASSERT_EQ(integer(x, "min"), 1);
  ASSERT_EQ(integer(x, "max"), 5);
  ASSERT(NEAR(num(x, "mean"), 3));
  ASSERT(NEAR(num(x, "stddev"), sqrt(2)));
  /* y: 2,4,6,8,10,7 and a NaN, which counts but is left out of the moments. */
  ASSERT_EQ(integer(y, "count"), 7);
  ASSERT_EQ(integer(y, "null_count"), 0);
  ASSERT(NEAR(num(y, "min"), 2) && NEAR(num(y, "max"), 10));
  ASSERT(NEAR(num(y, "mean"), 37.0 / 6));
  double m = 37.0 / 6, v = 0;
  double ys[] = {2, 4, 6, 8, 10, 7};
  for (int i = 0; i < 6; i++) v += (ys[i] - m) * (ys[i] - m);
  ASSERT(NEAR(num(y, "stddev"), sqrt(v / 6)));
  ASSERT(NEAR(num(z, "mean"), 3));
  ASSERT_EQ(integer(s, "count"), 6);
  ASSERT_EQ(integer(s, "null_count"), 1);
  ASSERT_EQ(integer(s, "distinct_count"), 4);
  ASSERT_EQ(integer(s, "min_length"), 1);
  ASSERT_EQ(integer(s, "max_length"), 3);
  ASSERT(json_is_null(json_object_get(s, "min")) && json_is_null(json_object_get(s, "mean")));
  ASSERT(json_is_null(json_object_get(s, "histogram")));
  ASSERT(json_is_false(json_object_get(b, "min")) && json_is_true(json_object_get(b, "max")));
  ASSERT(NEAR(num(b, "mean"), 0.6));
  ASSERT(NEAR(num(b, "stddev"), sqrt(0.24)));
  ASSERT_EQ(integer(b, "distinct_count"), 2);
  ASSERT_STREQ(json_string_value(json_object_get(ts, "min")), "1970-01-01T00:00:00Z");
  ASSERT_STREQ(json_string_value(json_object_get(ts, "max")), "1970-01-07T00:00:00Z");
  ASSERT(json_is_null(json_object_get(ts, "mean")));
}

TEST(stats_hand_computed_values) {
  struct table t;
  fill(&t, 0, 7);
  struct stats_opts o = {true, true, 4};
  json_t *st = stats_of_table(&t, &o);
  check_hand_values(st);
  /* x = 1..5 in 4 bins of width 1; the maximum falls in the last bin. */
  json_t *h = json_object_get(col(st, 0), "histogram");
  json_t *edges = json_object_get(h, "edges"), *counts = json_object_get(h, "counts");
  ASSERT_EQ(json_array_size(edges), 5);
  for (int i = 0; i < 5; i++) ASSERT(NEAR(json_real_value(json_array_get(edges, i)), i + 1));
  long long want[] = {1, 1, 1, 2};
  for (int i = 0; i < 4; i++) ASSERT_EQ(json_integer_value(json_array_get(counts, i)), want[i]);
  /* Timestamps: edges are ISO strings from the first to the last day. */
  json_t *te = json_object_get(json_object_get(col(st, 5), "histogram"), "edges");
  ASSERT_STREQ(json_string_value(json_array_get(te, 0)), "1970-01-01T00:00:00Z");
  ASSERT_STREQ(json_string_value(json_array_get(te, 2)), "1970-01-04T00:00:00Z");
  ASSERT_STREQ(json_string_value(json_array_get(te, 4)), "1970-01-07T00:00:00Z");
  /* Correlations over x, y, z, b with pairwise-complete rows: y = 2x, z = 6 - x. */
  json_t *cor = json_object_get(st, "correlations");
  char *cn = json_dumps(json_object_get(cor, "columns"), JSON_COMPACT);
  ASSERT_STREQ(cn, "[\"x\",\"y\",\"z\",\"b\"]");
  free(cn);
  json_t *vals = json_object_get(cor, "values");
#define R(a, b) json_real_value(json_array_get(json_array_get(vals, a), b))
  ASSERT(NEAR(R(0, 0), 1));
  ASSERT(NEAR(R(0, 1), 1) && NEAR(R(1, 0), 1));
  ASSERT(NEAR(R(0, 2), -1) && NEAR(R(1, 2), -1));
  /* x and b over rows 1-4: x = 1,2,3,4, b = 1,0,1,1: r = 0.5 / sqrt(5 * 0.75). */
  double xb[] = {1, 2, 3, 4}, bb[] = {1, 0, 1, 1}, mx = 2.5, mb = 0.75, c = 0, vx = 0, vb = 0;
  for (int i = 0; i < 4; i++) {
    c += (xb[i] - mx) * (bb[i] - mb);
    vx += (xb[i] - mx) * (xb[i] - mx);
    vb += (bb[i] - mb) * (bb[i] - mb);
  }
  ASSERT(NEAR(R(0, 3), c / sqrt(vx * vb)));
  ASSERT(NEAR(R(0, 3), 0.2581988897471611));
#undef R
  json_decref(st);
  table_release(&t);
}

TEST(stats_merge_equals_one_pass) {
  struct table all, a, b;
  fill(&all, 0, 7);
  fill(&a, 0, 3);
  fill(&b, 3, 7);
  struct stats_opts o = {true, true, 4};
  struct stats *s1 = stats_new(&all, &o), *sa = stats_new(&a, &o), *sb = stats_new(&b, &o), *s2 = stats_new(&all, &o);
  oast_err e;
  ASSERT_EQ(stats_add(s1, &all, &e), 0);
  ASSERT_EQ(stats_add(sa, &a, &e), 0);
  ASSERT_EQ(stats_add(sb, &b, &e), 0);
  ASSERT_EQ(stats_merge(sa, sb, &e), 0);
  /* Two stats_add calls on one state merge the same way. */
  ASSERT_EQ(stats_add(s2, &b, &e), 0);
  ASSERT_EQ(stats_add(s2, &a, &e), 0);
  json_t *j1 = stats_json(s1), *j2 = stats_json(sa), *j3 = stats_json(s2);
  check_hand_values(j2);
  check_hand_values(j3);
  for (size_t i = 0; i < 6; i++) {
    const char *keys[] = {"count", "null_count", "distinct_count", "min", "max"};
    for (int k = 0; k < 5; k++) ASSERT(json_equal(json_object_get(col(j1, i), keys[k]), json_object_get(col(j2, i), keys[k])));
    /* Histogram totals stay exact after re-binning. */
    json_t *h1 = json_object_get(col(j1, i), "histogram"), *h2 = json_object_get(col(j2, i), "histogram");
    if (json_is_null(h1)) continue;
    long long t1 = 0, t2 = 0;
    for (size_t k = 0; k < 4; k++) {
      t1 += json_integer_value(json_array_get(json_object_get(h1, "counts"), k));
      t2 += json_integer_value(json_array_get(json_object_get(h2, "counts"), k));
    }
    ASSERT_EQ(t1, t2);
  }
  json_t *v1 = json_object_get(json_object_get(j1, "correlations"), "values");
  json_t *v2 = json_object_get(json_object_get(j2, "correlations"), "values");
  for (size_t r = 0; r < 4; r++)
    for (size_t c = 0; c < 4; c++) {
      json_t *p = json_array_get(json_array_get(v1, r), c), *q = json_array_get(json_array_get(v2, r), c);
      ASSERT(json_is_null(p) == json_is_null(q));
      if (!json_is_null(p)) ASSERT(NEAR(json_real_value(p), json_real_value(q)));
    }
  json_decref(j1);
  json_decref(j2);
  json_decref(j3);
  stats_free(s1);
  stats_free(sa);
  stats_free(sb);
  stats_free(s2);
  table_release(&all);
  table_release(&a);
  table_release(&b);
}

static void one_column(struct table *t, const double *v, size_t n) {
  const char *nm[] = {"v"};
  enum ftype ty[] = {FT_DOUBLE};
  table_init(t, 1, nm, ty);
  for (size_t i = 0; i < n; i++) column_append_f64(&t->cols[0], v[i]);
  table_check(t, NULL);
}

static void hist_counts(struct stats *s, long long *out, double *lo, double *hi) {
  json_t *j = stats_json(s);
  json_t *h = json_object_get(col(j, 0), "histogram");
  json_t *c = json_object_get(h, "counts"), *ed = json_object_get(h, "edges");
  for (size_t i = 0; i < json_array_size(c); i++) out[i] = json_integer_value(json_array_get(c, i));
  *lo = json_real_value(json_array_get(ed, 0));
  *hi = json_real_value(json_array_get(ed, json_array_size(ed) - 1));
  json_decref(j);
}

TEST(stats_histograms_rebin_on_merge) {
  struct stats_opts o = {true, false, 2};
  struct table a, b, c;
  double va[] = {0, 1}, vb[] = {2, 3}, vc[] = {3, 3, 3};
  one_column(&a, va, 2);
  one_column(&b, vb, 2);
  one_column(&c, vc, 3);
  struct stats *s = stats_new(&a, &o);
  oast_err e;
  long long k[4];
  double lo, hi;
  ASSERT_EQ(stats_add(s, &a, &e), 0);
  hist_counts(s, k, &lo, &hi);
  ASSERT(k[0] == 1 && k[1] == 1 && lo == 0 && hi == 1);
  /* {0,1} + {2,3} over [0,3] in two bins: [0,1.5) holds 2, [1.5,3] holds 2. */
  ASSERT_EQ(stats_add(s, &b, &e), 0);
  hist_counts(s, k, &lo, &hi);
  ASSERT(k[0] == 2 && k[1] == 2 && lo == 0 && hi == 3);
  /* A single repeated value is one bin of zero width, and lands in the last bin when merged at the top. */
  struct stats *p = stats_new(&c, &o);
  ASSERT_EQ(stats_add(p, &c, &e), 0);
  json_t *j = stats_json(p);
  char *txt = json_dumps(json_object_get(col(j, 0), "histogram"), JSON_COMPACT);
  ASSERT_STREQ(txt, "{\"edges\":[3.0,3.0],\"counts\":[3]}");
  free(txt);
  json_decref(j);
  ASSERT_EQ(stats_merge(s, p, &e), 0);
  hist_counts(s, k, &lo, &hi);
  ASSERT(k[0] == 2 && k[1] == 5);
  stats_free(s);
  stats_free(p);
  table_release(&a);
  table_release(&b);
  table_release(&c);
}

TEST(stats_save_load_round_trip) {
  struct table t;
  fill(&t, 0, 7);
  struct stats_opts o = {true, true, 0};
  struct stats *s = stats_new(&t, &o);
  oast_err e;
  ASSERT_EQ(stats_add(s, &t, &e), 0);
  json_t *saved = stats_save(s);
  char *txt = json_dumps(saved, JSON_COMPACT);
  json_t *back = json_loads(txt, 0, NULL);
  struct stats *s2;
  ASSERT_EQ(stats_load(back, &s2, &e), 0);
  json_t *j1 = stats_json(s), *j2 = stats_json(s2);
  ASSERT(json_equal(j1, j2));
  ASSERT_EQ(json_array_size(json_object_get(json_object_get(col(j1, 0), "histogram"), "counts")), STATS_BINS_DEFAULT);
  /* A loaded state keeps merging. */
  ASSERT_EQ(stats_add(s2, &t, &e), 0);
  json_t *j3 = stats_json(s2);
  ASSERT_EQ(integer(col(j3, 0), "count"), 10);
  ASSERT_EQ(integer(col(j3, 0), "null_count"), 4);
  ASSERT_EQ(integer(col(j3, 0), "distinct_count"), 5);
  /* A damaged state is refused. */
  json_object_set_new(json_array_get(json_object_get(back, "columns"), 1), "hll", json_string("zz"));
  struct stats *s3;
  ASSERT_EQ(stats_load(back, &s3, &e), OAST_EBAD_REQUEST);
  ASSERT(s3 == NULL);
  ASSERT_STREQ(e.msg, "statistics state, column 2: bad values");
  json_decref(j1);
  json_decref(j2);
  json_decref(j3);
  json_decref(saved);
  json_decref(back);
  free(txt);
  stats_free(s);
  stats_free(s2);
  table_release(&t);
}

TEST(stats_refuses_other_columns_and_handles_empty) {
  struct table t, u;
  fill(&t, 0, 7);
  const char *nm[] = {"x"};
  enum ftype ty[] = {FT_BIGINT};
  table_init(&u, 1, nm, ty);
  struct stats *s = stats_new(&t, NULL);
  oast_err e;
  ASSERT_EQ(stats_add(s, &u, &e), OAST_EBAD_REQUEST);
  ASSERT_STREQ(e.msg, "the data has 1 columns, the statistics have 6");
  json_t *j = stats_json(s);
  ASSERT_EQ(integer(col(j, 0), "count"), 0);
  ASSERT(json_is_null(json_object_get(col(j, 0), "min")));
  ASSERT(json_is_null(json_object_get(col(j, 0), "histogram")));
  ASSERT(!json_object_get(j, "correlations"));
  json_decref(j);
  stats_free(s);
  struct stats *s1 = stats_new(&u, NULL);
  const char *nm2[] = {"x"};
  enum ftype ty2[] = {FT_INT};
  struct table w;
  table_init(&w, 1, nm2, ty2);
  ASSERT_EQ(stats_add(s1, &w, &e), OAST_EBAD_REQUEST);
  ASSERT_STREQ(e.msg, "column 1 is \"x\" (int), the statistics have \"x\" (bigint)");
  stats_free(s1);
  table_release(&t);
  table_release(&u);
  table_release(&w);
}

static double distinct(struct table *t) {
  json_t *j = stats_of_table(t, NULL);
  double d = (double)integer(col(j, 0), "distinct_count");
  json_decref(j);
  return d;
}

TEST(stats_hll_within_error_bounds) {
  const char *nm[] = {"id", "s"};
  enum ftype ty[] = {FT_BIGINT, FT_STRING};
  struct table t;
  table_init(&t, 2, nm, ty);
  for (int i = 0; i < 100000; i++) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "user-%d", i);
    column_append_i64(&t.cols[0], (int64_t)i * 7919);
    column_append_str(&t.cols[1], buf, (size_t)n);
  }
  table_check(&t, NULL);
  json_t *j = stats_of_table(&t, NULL);
  /* 1.6% standard error: 5% is three standard errors. */
  ASSERT(fabs(num(col(j, 0), "distinct_count") - 100000) < 5000);
  ASSERT(fabs(num(col(j, 1), "distinct_count") - 100000) < 5000);
  json_decref(j);
  table_release(&t);
  /* Small counts are exact; repeated values count once. */
  double v[300];
  for (int i = 0; i < 300; i++) v[i] = i % 30;
  one_column(&t, v, 300);
  ASSERT_EQ(distinct(&t), 30);
  table_release(&t);
  /* Merged sketches estimate the union. */
  struct hll a, b;
  hll_init(&a);
  hll_init(&b);
  for (uint64_t i = 0; i < 60000; i++) hll_add(&a, hll_hash_u64(i));
  for (uint64_t i = 40000; i < 100000; i++) hll_add(&b, hll_hash_u64(i));
  hll_merge(&a, &b);
  ASSERT(fabs(hll_estimate(&a) - 100000) < 5000);
}
