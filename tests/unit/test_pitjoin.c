/* test_pitjoin.c — point-in-time joins against a brute-force oracle: ties, unsorted input, missing and null
 * keys, compound and string keys, int/bigint keys, date against timestamp, inner joins, no event time. */
#include "fstore/pitjoin.h"
#include "test.h"
#include "util/alloc.h"

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* The oracle: the last row (in input order) among those with the greatest time <= t. */
static uint32_t brute(const struct pit_side *l, size_t i, const struct pit_side *r) {
  uint32_t best = PIT_NONE;
  int64_t bt = 0;
  for (size_t k = 0; k < l->nkeys; k++)
    if (column_is_null(&l->t->cols[l->keys[k]], i)) return PIT_NONE;
  for (size_t j = 0; j < r->t->nrows; j++) {
    bool eq = true;
    for (size_t k = 0; k < l->nkeys && eq; k++) {
      const struct column *a = &l->t->cols[l->keys[k]], *b = &r->t->cols[r->keys[k]];
      if (column_is_null(b, j)) eq = false;
      else if (a->type == FT_STRING) {
        size_t na, nb;
        const char *sa = column_str(a, i, &na), *sb = column_str(b, j, &nb);
        eq = na == nb && !memcmp(sa, sb, na);
      } else eq = column_num(a, i) == column_num(b, j);
    }
    if (!eq) continue;
    int64_t t = r->time >= 0 ? pit_time_at(&r->t->cols[r->time], j) : 0;
    if (l->time >= 0 && r->time >= 0 && t > pit_time_at(&l->t->cols[l->time], i)) continue;
    if (best == PIT_NONE || t >= bt) {
      best = (uint32_t)j;
      bt = t;
    }
  }
  return best;
}

static void check_all(const struct pit_side *l, const struct pit_side *r, int threads) {
  size_t n = l->t->nrows;
  uint32_t *m = xmalloc((n + 1) * sizeof *m);
  oast_err e;
  ASSERT_EQ(pit_match(l, NULL, 0, r, threads, m, &e), 0);
  for (size_t i = 0; i < n; i++) {
    uint32_t want = brute(l, i, r);
    if (m[i] != want) {
      fprintf(stderr, "left row %zu: got %u, want %u\n", i, m[i], want);
      ASSERT(0);
    }
  }
  free(m);
}

/* id (bigint), ts (timestamp), v (double) rows with ids in [0, nkeys) and times in [0, tmax). */
static void random_table(struct table *t, size_t n, int nkeys, int tmax, enum ftype idtype, double null_frac) {
  const char *names[] = {"id", "ts", "v"};
  enum ftype types[] = {idtype, FT_TIMESTAMP, FT_DOUBLE};
  table_init(t, 3, names, types);
  for (size_t i = 0; i < n; i++) {
    int64_t id = (int64_t)(next() % (uint64_t)nkeys);
    if ((double)(next() % 1000) < null_frac * 1000) column_append_null(&t->cols[0]);
    else if (idtype == FT_INT) column_append_i32(&t->cols[0], (int32_t)id);
    else column_append_i64(&t->cols[0], id);
    column_append_i64(&t->cols[1], (int64_t)(next() % (uint64_t)tmax));
    column_append_f64(&t->cols[2], (double)i);
  }
  ASSERT_EQ(table_check(t, NULL), 0);
}

TEST(pitjoin_random_against_oracle) {
  for (int round = 0; round < 6; round++) {
    struct table L, R;
    /* Few times: many ties between left and right times, and between right rows of a key. */
    random_table(&L, 400, 30, round % 2 ? 20 : 1000, FT_BIGINT, 0.05);
    random_table(&R, 500, 25, round % 2 ? 20 : 1000, round % 3 ? FT_BIGINT : FT_INT, 0.05);
    int lk[] = {0}, rk[] = {0};
    struct pit_side l = {&L, lk, 1, 1}, r = {&R, rk, 1, 1};
    check_all(&l, &r, 1 + round % 3);
    /* No event time on one side or the other. */
    struct pit_side l0 = {&L, lk, 1, -1}, r0 = {&R, rk, 1, -1};
    check_all(&l0, &r, 2);
    check_all(&l, &r0, 2);
    table_release(&L);
    table_release(&R);
  }
}

TEST(pitjoin_exact_cases) {
  /* Right rows of key 1 at times 10, 20 (two rows: the later in input wins), 30, given out of order. */
  const char *names[] = {"id", "ts", "v"};
  enum ftype types[] = {FT_BIGINT, FT_TIMESTAMP, FT_DOUBLE};
  struct table R, L;
  table_init(&R, 3, names, types);
  int64_t rr[][3] = {{1, 30, 3}, {1, 10, 1}, {1, 20, 2}, {2, 5, 9}, {1, 20, 22}};
  for (int i = 0; i < 5; i++) {
    column_append_i64(&R.cols[0], rr[i][0]);
    column_append_i64(&R.cols[1], rr[i][1]);
    column_append_f64(&R.cols[2], (double)rr[i][2]);
  }
  table_check(&R, NULL);
  table_init(&L, 3, names, types);
  int64_t ll[][2] = {{1, 9}, {1, 10}, {1, 19}, {1, 20}, {1, 25}, {1, 1000}, {3, 50}, {2, 4}, {2, 5}};
  for (int i = 0; i < 9; i++) {
    column_append_i64(&L.cols[0], ll[i][0]);
    column_append_i64(&L.cols[1], ll[i][1]);
    column_append_f64(&L.cols[2], 0);
  }
  table_check(&L, NULL);
  int k[] = {0};
  struct pit_side l = {&L, k, 1, 1}, r = {&R, k, 1, 1};
  uint32_t m[9];
  oast_err e;
  ASSERT_EQ(pit_match(&l, NULL, 0, &r, 1, m, &e), 0);
  uint32_t want[] = {PIT_NONE, 1, 1, 4, 4, 0, PIT_NONE, PIT_NONE, 3};
  for (int i = 0; i < 9; i++) ASSERT_EQ(m[i], want[i]);
  /* A subset of left rows, in a given order. */
  uint32_t rows[] = {5, 0, 3};
  ASSERT_EQ(pit_match(&l, rows, 3, &r, 2, m, &e), 0);
  ASSERT_EQ(m[0], 0);
  ASSERT_EQ(m[1], PIT_NONE);
  ASSERT_EQ(m[2], 4);
  /* The joined table: left rows in order, nulls where nothing matched; inner drops them. */
  const char *ln[] = {"id", "ts"}, *rn[] = {"r_v"};
  int lc[] = {0, 1}, rc[] = {2};
  struct pit_join_spec js = {k, r, rc, rn, 1, false};
  struct table out;
  ASSERT_EQ(pit_join(&L, 1, NULL, 0, lc, ln, 2, &js, 1, 2, &out, &e), 0);
  ASSERT_EQ(out.nrows, 9);
  ASSERT_EQ(out.ncols, 3);
  ASSERT_STREQ(out.cols[2].name, "r_v");
  ASSERT(column_is_null(&out.cols[2], 0));
  ASSERT(column_f64(&out.cols[2], 3) == 22);
  ASSERT(column_f64(&out.cols[2], 5) == 3);
  table_release(&out);
  js.inner = true;
  ASSERT_EQ(pit_join(&L, 1, NULL, 0, lc, ln, 2, &js, 1, 1, &out, &e), 0);
  ASSERT_EQ(out.nrows, 6);
  ASSERT_EQ(column_i64(&out.cols[1], 0), 10);
  ASSERT_EQ(column_i64(&out.cols[1], 5), 5);
  table_release(&out);
  table_release(&L);
  table_release(&R);
}

TEST(pitjoin_compound_string_and_date_keys) {
  /* Left: (name string, region int) at a date; right: (name, region bigint) at timestamps. */
  const char *ln[] = {"name", "region", "day"}, *rn[] = {"name", "region", "ts", "v"};
  enum ftype lt[] = {FT_STRING, FT_INT, FT_DATE}, rt[] = {FT_STRING, FT_BIGINT, FT_TIMESTAMP, FT_FLOAT};
  struct table L, R;
  table_init(&L, 3, ln, lt);
  table_init(&R, 4, rn, rt);
  static const char *const words[] = {"a", "bb", "", "ccc"};
  for (int i = 0; i < 300; i++) {
    const char *w = words[next() % 4];
    if (i % 17 == 0) column_append_null(&L.cols[0]);
    else column_append_str(&L.cols[0], w, strlen(w));
    column_append_i32(&L.cols[1], (int32_t)(next() % 3));
    column_append_i32(&L.cols[2], (int32_t)(next() % 10));
  }
  for (int i = 0; i < 200; i++) {
    const char *w = words[next() % 4];
    column_append_str(&R.cols[0], w, strlen(w));
    column_append_i64(&R.cols[1], (int64_t)(next() % 3));
    /* Some rows exactly at midnight: a tie with the left date. */
    int64_t day = (int64_t)(next() % 10);
    column_append_i64(&R.cols[2], day * 86400000000LL + (next() % 2 ? 0 : (int64_t)(next() % 86400000000ULL)));
    column_append_f32(&R.cols[3], (float)i);
  }
  table_check(&L, NULL);
  table_check(&R, NULL);
  int lk[] = {0, 1}, rk[] = {0, 1};
  struct pit_side l = {&L, lk, 2, 2}, r = {&R, rk, 2, 2};
  check_all(&l, &r, 3);
  table_release(&L);
  table_release(&R);
}

TEST(pitjoin_refuses_incompatible) {
  const char *n1[] = {"id", "ts"};
  enum ftype t1[] = {FT_STRING, FT_TIMESTAMP}, t2[] = {FT_BIGINT, FT_BIGINT};
  struct table A, B;
  table_init(&A, 2, n1, t1);
  table_init(&B, 2, n1, t2);
  int k[] = {0};
  struct pit_side a = {&A, k, 1, 1}, b = {&B, k, 1, 1};
  uint32_t m[1];
  oast_err e;
  ASSERT_EQ(pit_match(&a, NULL, 0, &b, 1, m, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "cannot be compared") != NULL);
  ASSERT(pit_key_types_compatible(FT_INT, FT_BIGINT));
  ASSERT(!pit_key_types_compatible(FT_INT, FT_DOUBLE));
  ASSERT(!pit_key_types_compatible(FT_FLOAT, FT_DOUBLE));
  ASSERT(pit_time_types_compatible(FT_DATE, FT_TIMESTAMP));
  ASSERT(!pit_time_types_compatible(FT_BIGINT, FT_TIMESTAMP));
  table_release(&A);
  table_release(&B);
}

TEST(pitjoin_strings_gathered) {
  const char *n[] = {"id", "s"};
  enum ftype t[] = {FT_BIGINT, FT_STRING};
  struct table R;
  table_init(&R, 2, n, t);
  column_append_i64(&R.cols[0], 1);
  column_append_str(&R.cols[1], "one", 3);
  column_append_i64(&R.cols[0], 2);
  column_append_null(&R.cols[1]);
  column_append_i64(&R.cols[0], 3);
  column_append_str(&R.cols[1], "three", 5);
  table_check(&R, NULL);
  struct column c;
  column_init(&c, "s", FT_STRING);
  uint32_t idx[] = {2, PIT_NONE, 1, 0, 2};
  pit_gather(&c, &R.cols[1], idx, 5);
  size_t len;
  ASSERT_EQ(c.len, 5);
  ASSERT(!strncmp(column_str(&c, 0, &len), "three", 5) && len == 5);
  ASSERT(column_is_null(&c, 1));
  ASSERT(column_is_null(&c, 2));
  ASSERT(!strncmp(column_str(&c, 3, &len), "one", 3) && len == 3);
  ASSERT(!strncmp(column_str(&c, 4, &len), "three", 5) && len == 5);
  column_release(&c);
  table_release(&R);
}
