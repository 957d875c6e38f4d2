/* test_parquet.c — the Parquet codec: Thrift, RLE, round trips of every
 * type, codecs, row groups, statistics, and hostile files. DuckDB
 * cross-checks live in tests/integration/test_parquet_duckdb.py. */
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "formats/parquet/meta.h"
#include "formats/parquet/parquet.h"
#include "formats/parquet/rle.h"
#include "formats/parquet/thrift.h"
#include "test.h"
#include "util/alloc.h"
#include "util/fs.h"

/* ---- helpers ---- */

static char *tmp(const char *name) { return fs_join(test_tmpdir(), name); }

/* Deterministic pseudo-random numbers. */
static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static const char *all_names[] = {"i", "bi", "f", "d", "s", "b", "ts", "dt"};
static const enum ftype all_types[] = {FT_INT, FT_BIGINT, FT_FLOAT, FT_DOUBLE, FT_STRING, FT_BOOLEAN, FT_TIMESTAMP, FT_DATE};

/* A table of every type with nulls, special values and varied strings. */
static void make_table(struct table *t, size_t n, int null_every) {
  table_init(t, 8, all_names, all_types);
  static const char *words[] = {"", "alpha", "beta", "gamma", "héllo", "tab\there", "a much longer string value"};
  char buf[64];
  for (size_t r = 0; r < n; r++) {
    for (size_t c = 0; c < 8; c++) {
      struct column *col = &t->cols[c];
      if (null_every && (r + c) % (size_t)null_every == 0) {
        column_append_null(col);
        continue;
      }
      uint64_t x = rnd();
      switch (col->type) {
        case FT_INT: column_append_i32(col, r % 50 == 1 ? INT32_MIN : r % 50 == 2 ? INT32_MAX : (int32_t)(x % 2001) - 1000); break;
        case FT_BIGINT: column_append_i64(col, r % 40 == 3 ? INT64_MIN : (int64_t)x); break;
        case FT_FLOAT: column_append_f32(col, r % 30 == 4 ? NAN : r % 30 == 5 ? -0.0f : (float)((double)(x % 100000) / 7.0)); break;
        case FT_DOUBLE: column_append_f64(col, r % 30 == 6 ? INFINITY : (double)(int64_t)x / 3.0); break;
        case FT_STRING:
          if (r % 3 == 0) {
            int k = snprintf(buf, sizeof buf, "unique-%zu-%llu", r, (unsigned long long)(x % 1000));
            column_append_str(col, buf, (size_t)k);
          } else {
            const char *w = words[x % 7];
            column_append_str(col, w, strlen(w));
          }
          break;
        case FT_BOOLEAN: column_append_bool(col, x & 1); break;
        case FT_TIMESTAMP: column_append_i64(col, (int64_t)(x % 4000000000000000ULL) - 1000000000000000LL); break;
        case FT_DATE: column_append_i32(col, (int32_t)(x % 80000) - 20000); break;
        default: break;
      }
    }
  }
  ASSERT_EQ(table_check(t, NULL), 0);
}

/* Bitwise equality of two values, string bytes included. */
static void assert_same_tables(const struct table *a, const struct table *b) {
  ASSERT_EQ(a->ncols, b->ncols);
  ASSERT_EQ(a->nrows, b->nrows);
  for (size_t c = 0; c < a->ncols; c++) {
    const struct column *x = &a->cols[c], *y = &b->cols[c];
    ASSERT_STREQ(x->name, y->name);
    ASSERT_EQ(x->type, y->type);
    ASSERT_EQ(x->len, y->len);
    for (size_t r = 0; r < x->len; r++) {
      if (x->valid[r] != y->valid[r]) {
        fprintf(stderr, "column %s row %zu: validity %d != %d\n", x->name, r, x->valid[r], y->valid[r]);
        ASSERT(0);
      }
      if (!x->valid[r]) continue;
      if (x->type == FT_STRING) {
        size_t n1, n2;
        const char *s1 = column_str(x, r, &n1), *s2 = column_str(y, r, &n2);
        if (n1 != n2 || memcmp(s1, s2, n1)) {
          fprintf(stderr, "column %s row %zu: \"%.*s\" != \"%.*s\"\n", x->name, r, (int)n1, s1, (int)n2, s2);
          ASSERT(0);
        }
      } else {
        size_t w = ftype_width(x->type);
        if (memcmp((const char *)x->vals + r * w, (const char *)y->vals + r * w, w)) {
          fprintf(stderr, "column %s row %zu differs\n", x->name, r);
          ASSERT(0);
        }
      }
    }
  }
}

static void roundtrip(const struct table *t, const struct pq_write_opts *o) {
  char *path = tmp("rt.parquet");
  oast_err e;
  oast_err_clear(&e);
  int rc = pq_write_table(path, t, o, &e);
  if (rc) fprintf(stderr, "%s\n", e.msg);
  ASSERT_EQ(rc, 0);
  struct pq_file *f;
  ASSERT_EQ(pq_open(path, &f, &e), 0);
  ASSERT_EQ(f->num_rows, (int64_t)t->nrows);
  struct table back;
  rc = pq_read_table(f, NULL, 0, &back, &e);
  if (rc) fprintf(stderr, "%s\n", e.msg);
  ASSERT_EQ(rc, 0);
  assert_same_tables(t, &back);
  table_release(&back);
  pq_close(f);
  free(path);
}

/* ---- thrift ---- */

TEST(parquet_thrift_roundtrip_and_skip) {
  struct tw w;
  tw_init(&w);
  tw_i32(&w, 1, -7);
  tw_i64(&w, 2, INT64_MIN);
  tw_bool(&w, 3, true);
  tw_binary(&w, 4, "abc", 3);
  /* Unknown fields of every type, to be skipped. */
  tw_field(&w, 20, TT_DOUBLE);
  for (int i = 0; i < 8; i++) tw_put_byte(&w, (uint8_t)(0x40 + i));
  tw_byte(&w, 21, -3);
  tw_list(&w, 22, TT_STRUCT, 20);   /* long list header form */
  for (int i = 0; i < 20; i++) {
    tw_struct_begin(&w, 0);
    tw_list(&w, 1, TT_TRUE, 2);
    tw_put_varint(&w, 1);
    tw_put_varint(&w, 2);
    tw_struct_begin(&w, 300);   /* a large id jump: long field header form */
    tw_binary(&w, 1, "x", 1);
    tw_struct_end(&w);
    tw_struct_end(&w);
  }
  tw_field(&w, 23, TT_MAP);
  tw_put_varint(&w, 2);
  tw_put_byte(&w, (TT_BINARY << 4) | TT_I32);
  tw_put_binary(&w, "k", 1);
  tw_put_i32(&w, 5);
  tw_put_binary(&w, "l", 1);
  tw_put_i32(&w, 6);
  tw_bool(&w, 24, false);
  tw_i32(&w, 25, 99);
  tw_struct_end(&w);

  struct tr r;
  tr_init(&r, w.buf.p, w.buf.len);
  int16_t last = 0, id;
  int type, seen = 0;
  while (tr_field(&r, &last, &id, &type)) {
    switch (id) {
      case 1: ASSERT_EQ(tr_i32(&r, type), -7); seen |= 1; break;
      case 2: ASSERT(tr_i64(&r, type) == INT64_MIN); seen |= 2; break;
      case 3: ASSERT(tr_bool(&r, type)); seen |= 4; break;
      case 4: {
        size_t n;
        const uint8_t *p = tr_binary(&r, type, &n);
        ASSERT(n == 3 && !memcmp(p, "abc", 3));
        seen |= 8;
        break;
      }
      case 25: ASSERT_EQ(tr_i32(&r, type), 99); seen |= 16; break;
      default: tr_skip(&r, type);
    }
  }
  ASSERT(r.err == NULL);
  ASSERT_EQ(seen, 31);
  ASSERT_EQ(tr_left(&r), 0);

  /* Every truncation fails cleanly: no crash, an error, nothing past the end. */
  for (size_t cut = 0; cut < w.buf.len; cut++) {
    struct tr t;
    tr_init(&t, w.buf.p, cut);
    last = 0;
    while (tr_field(&t, &last, &id, &type)) tr_skip(&t, type);
    ASSERT(t.err != NULL || cut == 0);
  }
  tw_release(&w);
}

TEST(parquet_thrift_hostile_input) {
  /* A list claiming a billion elements in a 6-byte input. */
  uint8_t big_list[] = {0x19, 0xFC, 0xFF, 0xFF, 0xFF, 0x03};
  struct tr r;
  tr_init(&r, big_list, sizeof big_list);
  int16_t last = 0, id;
  int type;
  ASSERT(tr_field(&r, &last, &id, &type));
  tr_skip(&r, type);
  ASSERT(r.err != NULL);
  /* Structs nested 1000 deep: refused, not a stack overflow. */
  uint8_t deep[2000];
  for (size_t i = 0; i < sizeof deep; i++) deep[i] = 0x1C;   /* field +1, type struct */
  tr_init(&r, deep, sizeof deep);
  last = 0;
  ASSERT(tr_field(&r, &last, &id, &type));
  tr_skip(&r, type);
  ASSERT(r.err != NULL);
  /* A varint that never ends. */
  uint8_t endless[12];
  memset(endless, 0xFF, sizeof endless);
  endless[0] = 0x15;   /* field 1, i32 */
  tr_init(&r, endless, sizeof endless);
  last = 0;
  ASSERT(tr_field(&r, &last, &id, &type));
  tr_i32(&r, type);
  ASSERT(r.err != NULL);
  /* A footer made of garbage is refused, never decoded into nonsense. */
  struct pm_file fm;
  const char *why = NULL;
  for (int k = 0; k < 200; k++) {
    uint8_t junk[64];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)rnd();
    if (pm_decode_file(junk, sizeof junk, &fm, &why) == 0) pm_file_release(&fm);
  }
}

/* ---- RLE / bit packing ---- */

static void rle_roundtrip(const uint32_t *v, size_t n, int bw) {
  struct pqbuf b = {0};
  rle_encode_u32(&b, v, n, bw);
  uint32_t *out = xcalloc(n + 1, sizeof *out);
  ASSERT_EQ(rle_decode_u32(b.p, b.len, bw, n, out), (ssize_t)b.len);
  for (size_t i = 0; i < n; i++) ASSERT_EQ(out[i], v[i]);
  /* Truncated input is refused (or, cut only in the padding of the last
   * group, still decodes right); it is never read past its end. */
  for (size_t cut = 0; cut < b.len; cut++) {
    uint8_t *copy = xmalloc(cut + 1);
    memcpy(copy, b.p, cut);
    memset(out, 0xEE, n * sizeof *out);
    if (rle_decode_u32(copy, cut, bw, n, out) >= 0)
      for (size_t i = 0; i < n; i++) ASSERT_EQ(out[i], v[i]);
    free(copy);
  }
  free(out);
  pqbuf_release(&b);
}

TEST(parquet_rle_hybrid) {
  enum { N = 1000 };
  uint32_t v[N];
  for (int bw = 1; bw <= 32; bw += (bw < 4 ? 1 : 5)) {
    uint32_t mask = bw == 32 ? 0xFFFFFFFFu : (1u << bw) - 1;
    /* Runs and literals mixed, including runs that start mid-group. */
    for (size_t i = 0; i < N; i++) v[i] = (i / 37) % 3 == 0 ? (uint32_t)(i / 37) & mask : (uint32_t)rnd() & mask;
    rle_roundtrip(v, N, bw);
    for (size_t i = 0; i < N; i++) v[i] = mask;   /* one long run */
    rle_roundtrip(v, N, bw);
    rle_roundtrip(v, 3, bw);   /* shorter than a group */
  }
  /* Width-1 levels from bytes, and booleans. */
  uint8_t bits[N], back[N];
  for (size_t i = 0; i < N; i++) bits[i] = (i % 100 < 60) ? 1 : (rnd() & 1);
  struct pqbuf b = {0};
  rle_encode_bits(&b, bits, N);
  ASSERT_EQ(rle_decode_bits(b.p, b.len, N, back), (ssize_t)b.len);
  ASSERT(memcmp(bits, back, N) == 0);
  uint8_t packed[N / 8 + 1];
  bitpack_bools(packed, bits, N);
  unpack_bools(packed, N, back);
  ASSERT(memcmp(bits, back, N) == 0);
  /* An RLE run of a level above 1 is corrupt. */
  uint8_t badrun[] = {0x10, 0x02};
  ASSERT(rle_decode_bits(badrun, sizeof badrun, 8, back) < 0);
  pqbuf_release(&b);
}

TEST(parquet_delta_and_byte_stream_split) {
  /* Values 1..5: block 128 with 4 miniblocks, min delta 1, widths 0. */
  uint8_t enc[] = {0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0, 0, 0, 0};
  int64_t out[8];
  size_t n;
  ASSERT_EQ(delta_decode(enc, sizeof enc, out, 8, &n), (ssize_t)sizeof enc);
  ASSERT_EQ(n, 5);
  for (int i = 0; i < 5; i++) ASSERT_EQ(out[i], i + 1);
  /* More values than the caller allows, and a truncated block. */
  ASSERT(delta_decode(enc, sizeof enc, out, 4, &n) < 0);
  ASSERT(delta_decode(enc, 6, out, 8, &n) < 0);
  /* 7, 5, 3, 1, 2, 3, 4, 5: min delta -2, relative 0 0 0 3 3 3 3 on 2 bits. */
  uint8_t enc2[] = {0x80, 0x01, 0x04, 0x08, 0x0E, 0x03, 2, 0, 0, 0, 0xC0, 0xFF, 0, 0, 0, 0, 0, 0};
  ASSERT(delta_decode(enc2, sizeof enc2, out, 8, &n) > 0);
  int64_t want[] = {7, 5, 3, 1, 2, 3, 4, 5};
  ASSERT_EQ(n, 8);
  for (int i = 0; i < 8; i++) ASSERT_EQ(out[i], want[i]);
  uint8_t streams[] = {0xAA, 0x00, 0xA3, 0xBB, 0x11, 0xB4, 0xCC, 0x22, 0xC5, 0xDD, 0x33, 0xD6};
  uint8_t vals[12];
  bss_decode(streams, 3, 4, vals);
  uint8_t wantv[] = {0xAA, 0xBB, 0xCC, 0xDD, 0x00, 0x11, 0x22, 0x33, 0xA3, 0xB4, 0xC5, 0xD6};
  ASSERT(memcmp(vals, wantv, 12) == 0);
}

/* ---- round trips ---- */

TEST(parquet_roundtrip_every_type_every_codec) {
  struct table t;
  make_table(&t, 3000, 7);
  enum pq_codec codecs[] = {PQ_UNCOMPRESSED, PQ_SNAPPY, PQ_ZSTD, PQ_GZIP};
  enum pq_dict_mode modes[] = {PQ_DICT_AUTO, PQ_DICT_NEVER, PQ_DICT_ALWAYS};
  for (size_t c = 0; c < 4; c++) {
    for (size_t m = 0; m < 3; m++) {
      struct pq_write_opts o;
      pq_write_opts_init(&o);
      o.codec = codecs[c];
      o.dict = modes[m];
      o.page_bytes = 1000;   /* many pages per chunk */
      o.row_group_rows = 700;
      o.threads = (int)(m + 1);
      roundtrip(&t, &o);
    }
  }
  table_release(&t);
}

TEST(parquet_roundtrip_defaults_and_no_nulls) {
  struct table t;
  make_table(&t, 5000, 0);
  roundtrip(&t, NULL);
  struct pq_write_opts o;
  pq_write_opts_init(&o);
  bool req[8] = {true, true, true, true, true, true, true, true};
  o.required = req;
  roundtrip(&t, &o);
  char *path = tmp("rt.parquet");
  struct pq_file *f;
  ASSERT_EQ(pq_open(path, &f, NULL), 0);
  for (size_t c = 0; c < f->ncols; c++) {
    ASSERT(f->cols[c].required);
    ASSERT_EQ(f->cols[c].type, all_types[c]);
  }
  pq_close(f);
  free(path);
  table_release(&t);
}

TEST(parquet_empty_table_and_all_null_column) {
  struct table t;
  make_table(&t, 0, 3);
  roundtrip(&t, NULL);
  char *path = tmp("rt.parquet");
  struct pq_file *f;
  ASSERT_EQ(pq_open(path, &f, NULL), 0);
  ASSERT_EQ(f->num_rows, 0);
  ASSERT_EQ(f->nrow_groups, 0);
  ASSERT_EQ(f->ncols, 8);
  pq_close(f);
  table_release(&t);

  const char *names[] = {"x", "y"};
  enum ftype types[] = {FT_STRING, FT_DOUBLE};
  table_init(&t, 2, names, types);
  for (int i = 0; i < 1000; i++) {
    column_append_null(&t.cols[0]);
    column_append_null(&t.cols[1]);
  }
  table_check(&t, NULL);
  roundtrip(&t, NULL);
  ASSERT_EQ(pq_open(path, &f, NULL), 0);
  struct pq_stats s;
  pq_column_stats(f, 0, &s);
  ASSERT(s.has_null_count && s.null_count == 1000);
  ASSERT(!s.has_min_max);
  pq_close(f);
  free(path);
  table_release(&t);
}

TEST(parquet_dictionary_and_fallback) {
  const char *names[] = {"low", "high", "num"};
  enum ftype types[] = {FT_STRING, FT_STRING, FT_BIGINT};
  struct table t;
  table_init(&t, 3, names, types);
  char buf[32];
  for (int i = 0; i < 40000; i++) {
    int k = snprintf(buf, sizeof buf, "c%d", i % 5);
    column_append_str(&t.cols[0], buf, (size_t)k);
    k = snprintf(buf, sizeof buf, "distinct-%d", i);
    column_append_str(&t.cols[1], buf, (size_t)k);
    column_append_i64(&t.cols[2], i % 3);
  }
  table_check(&t, NULL);
  struct pq_write_opts o;
  pq_write_opts_init(&o);
  o.dict = PQ_DICT_ALWAYS;        /* no sampling shortcut: the size limit must trigger */
  o.dict_max_bytes = 64 * 1024;
  roundtrip(&t, &o);
  char *path = tmp("rt.parquet");
  struct pq_file *f;
  ASSERT_EQ(pq_open(path, &f, NULL), 0);
  ASSERT(f->row_groups[0].chunks[0].dictionary);
  ASSERT(!f->row_groups[0].chunks[1].dictionary);   /* fell back to PLAIN */
  ASSERT(f->row_groups[0].chunks[2].dictionary);
  struct pq_stats s;
  pq_column_stats(f, 0, &s);
  ASSERT(s.has_distinct_count && s.distinct_count == 5);
  pq_close(f);
  /* AUTO gives up on the unique strings after a sample, keeps the others. */
  o.dict = PQ_DICT_AUTO;
  o.dict_max_bytes = 0;
  roundtrip(&t, &o);
  ASSERT_EQ(pq_open(path, &f, NULL), 0);
  ASSERT(f->row_groups[0].chunks[0].dictionary);
  ASSERT(!f->row_groups[0].chunks[1].dictionary);
  ASSERT(f->row_groups[0].chunks[2].dictionary);
  pq_close(f);
  free(path);
  table_release(&t);
}

TEST(parquet_row_groups_and_subsets) {
  struct table t;
  make_table(&t, 1050, 5);
  struct pq_write_opts o;
  pq_write_opts_init(&o);
  o.row_group_rows = 100;
  char *path = tmp("rg.parquet");
  oast_err e;
  ASSERT_EQ(pq_write_table(path, &t, &o, &e), 0);
  struct pq_file *f;
  ASSERT_EQ(pq_open(path, &f, &e), 0);
  ASSERT_EQ(f->nrow_groups, 11);
  ASSERT_EQ(f->row_groups[10].num_rows, 50);
  struct table part;
  const char *cols[] = {"s", "i"};
  ASSERT_EQ(pq_read_row_group(f, 5, cols, 2, &part, &e), 0);
  ASSERT_EQ(part.nrows, 100);
  ASSERT_STREQ(part.cols[0].name, "s");
  ASSERT_STREQ(part.cols[1].name, "i");
  for (size_t r = 0; r < 100; r++) {
    ASSERT_EQ(part.cols[1].valid[r], t.cols[0].valid[500 + r]);
    if (part.cols[1].valid[r]) ASSERT_EQ(column_i32(&part.cols[1], r), column_i32(&t.cols[0], 500 + r));
    size_t n1, n2;
    const char *a = column_str(&part.cols[0], r, &n1), *b = column_str(&t.cols[4], 500 + r, &n2);
    ASSERT(n1 == n2 && !memcmp(a, b, n1));
  }
  table_release(&part);
  /* Unknown column and row group: clear errors. */
  const char *bad[] = {"nope"};
  ASSERT_EQ(pq_read_table(f, bad, 1, &part, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "nope"));
  table_release(&part);
  ASSERT_EQ(pq_read_row_group(f, 11, NULL, 0, &part, &e), OAST_ENOT_FOUND);
  table_release(&part);
  ASSERT_EQ(pq_find_column(f, "dt"), 7);
  pq_close(f);
  free(path);
  table_release(&t);
}

TEST(parquet_statistics_from_footer) {
  const char *names[] = {"n", "x", "s", "b", "ts"};
  enum ftype types[] = {FT_BIGINT, FT_DOUBLE, FT_STRING, FT_BOOLEAN, FT_TIMESTAMP};
  struct table t;
  table_init(&t, 5, names, types);
  /* 200k rows in one row group; the statistics must come from the footer. */
  size_t n = 200000;
  for (size_t i = 0; i < n; i++) {
    column_append_i64(&t.cols[0], (int64_t)i - 1000);
    if (i % 10 == 0) column_append_null(&t.cols[1]); else column_append_f64(&t.cols[1], i == 77 ? NAN : (double)i / 2);
    char buf[16];
    int k = snprintf(buf, sizeof buf, "k%05zu", i % 5000);
    column_append_str(&t.cols[2], buf, (size_t)k);
    column_append_bool(&t.cols[3], false);
    column_append_i64(&t.cols[4], -(int64_t)i);
  }
  table_check(&t, NULL);
  char *path = tmp("stats.parquet");
  struct pq_write_opts o;
  pq_write_opts_init(&o);
  o.row_group_rows = n;
  o.page_bytes = 4096;
  ASSERT_EQ(pq_write_table(path, &t, &o, NULL), 0);
  table_release(&t);
  struct pq_file *f;
  ASSERT_EQ(pq_open(path, &f, NULL), 0);
  struct pq_stats s;
  pq_column_stats(f, 0, &s);
  ASSERT(s.has_min_max && s.min.i == -1000 && s.max.i == (int64_t)n - 1001);
  ASSERT(s.has_null_count && s.null_count == 0);
  pq_column_stats(f, 1, &s);
  ASSERT(s.has_min_max && s.min.f == 0.5 && s.max.f == (double)(n - 1) / 2);   /* NaN ignored, nulls skipped */
  ASSERT_EQ(s.null_count, (int64_t)n / 10);
  pq_column_stats(f, 2, &s);
  ASSERT(s.has_min_max && s.min.s_len == 6 && !memcmp(s.min.s, "k00000", 6) && !memcmp(s.max.s, "k04999", 6));
  ASSERT(s.has_distinct_count && s.distinct_count == 5000);
  pq_column_stats(f, 3, &s);
  ASSERT(s.has_min_max && s.min.i == 0 && s.max.i == 0);
  pq_column_stats(f, 4, &s);
  ASSERT(s.has_min_max && s.min.i == -(int64_t)n + 1 && s.max.i == 0);
  /* Merged over several row groups. */
  pq_close(f);
  make_table(&t, 900, 4);
  o.row_group_rows = 250;
  ASSERT_EQ(pq_write_table(path, &t, &o, NULL), 0);
  ASSERT_EQ(pq_open(path, &f, NULL), 0);
  ASSERT_EQ(f->nrow_groups, 4);
  pq_column_stats(f, 0, &s);
  int64_t lo = INT64_MAX, hi = INT64_MIN, nulls = 0;
  for (size_t r = 0; r < t.nrows; r++) {
    if (!t.cols[0].valid[r]) {
      nulls++;
      continue;
    }
    int32_t v = column_i32(&t.cols[0], r);
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  ASSERT(s.has_min_max && s.min.i == lo && s.max.i == hi && s.null_count == nulls);
  ASSERT(!s.has_distinct_count);
  pq_close(f);
  table_release(&t);
  free(path);
}

TEST(parquet_key_value_metadata) {
  struct table t;
  make_table(&t, 10, 0);
  struct pq_kv kv[] = {{"oast.version", "1"}, {"empty", NULL}};
  struct pq_write_opts o;
  pq_write_opts_init(&o);
  o.kv = kv;
  o.nkv = 2;
  char *path = tmp("kv.parquet");
  ASSERT_EQ(pq_write_table(path, &t, &o, NULL), 0);
  struct pq_file *f;
  ASSERT_EQ(pq_open(path, &f, NULL), 0);
  ASSERT_EQ(f->nkv, 2);
  ASSERT_STREQ(f->kv[0].key, "oast.version");
  ASSERT_STREQ(f->kv[0].value, "1");
  ASSERT_STREQ(f->kv[1].key, "empty");
  ASSERT(f->kv[1].value == NULL);
  ASSERT_STREQ(f->created_by, "oast");
  pq_close(f);
  free(path);
  table_release(&t);
}

/* ---- bad input ---- */

static size_t count_entries(const char *dir) {
  DIR *d = opendir(dir);
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (de->d_name[0] != '.' || strncmp(de->d_name, ".oast-tmp", 9) == 0) n++;
  closedir(d);
  return n;
}

TEST(parquet_write_errors_leave_nothing) {
  struct table t;
  make_table(&t, 100, 9);
  char *path = tmp("keep.parquet");
  ASSERT_EQ(fs_write_atomic(path, "old", 3, 0644, NULL), 0);
  struct pq_write_opts o;
  pq_write_opts_init(&o);
  bool req[8] = {false, false, false, false, true, false, false, false};
  o.required = req;
  oast_err e;
  ASSERT_EQ(pq_write_table(path, &t, &o, &e), OAST_EVALIDATION);
  ASSERT(strstr(e.msg, "\"s\"") && strstr(e.msg, "required"));
  char *data;
  size_t len;
  ASSERT_EQ(fs_read_all(path, 0, &data, &len, NULL), 0);
  ASSERT(len == 3 && !memcmp(data, "old", 3));
  free(data);
  ASSERT_EQ(count_entries(test_tmpdir()), 1);
  /* A column whose length disagrees with the table. */
  column_append_i32(&t.cols[0], 1);
  ASSERT(pq_write_table(path, &t, NULL, &e) < 0);
  ASSERT_EQ(count_entries(test_tmpdir()), 1);
  /* A directory that does not exist. */
  t.cols[0].len--;
  char *nodir = tmp("no/such/dir.parquet");
  ASSERT_EQ(pq_write_table(nodir, &t, NULL, &e), OAST_EIO);
  free(nodir);
  free(path);
  table_release(&t);
}

/* Writes a test file without the fsyncs of fs_write_atomic (many per test). */
static void put_file(const char *path, const void *data, size_t len) {
  FILE *fp = fopen(path, "wb");
  ASSERT(fp);
  ASSERT_EQ(fwrite(data, 1, len, fp), len);
  ASSERT_EQ(fclose(fp), 0);
}

/* Opens and reads path; returns the error code (0 when all went well). */
static int try_read(const char *path) {
  struct pq_file *f;
  oast_err e;
  int rc = pq_open(path, &f, &e);
  if (rc) {
    ASSERT(e.msg[0] != 0);
    return rc;
  }
  f->max_read_bytes = 64 << 20;
  struct table t;
  rc = pq_read_table(f, NULL, 0, &t, &e);
  if (rc) ASSERT(e.msg[0] != 0);
  for (size_t g = 0; g < f->nrow_groups && !rc; g++) {
    struct table p;
    int r2 = pq_read_row_group(f, g, NULL, 0, &p, &e);
    table_release(&p);
    if (r2) break;
  }
  table_release(&t);
  pq_close(f);
  return rc;
}

TEST(parquet_corrupt_and_truncated_files) {
  struct table t;
  make_table(&t, 400, 6);
  char *path = tmp("good.parquet");
  struct pq_write_opts o;
  pq_write_opts_init(&o);
  o.row_group_rows = 150;
  o.page_bytes = 512;
  ASSERT_EQ(pq_write_table(path, &t, &o, NULL), 0);
  char *data;
  size_t len;
  ASSERT_EQ(fs_read_all(path, 0, &data, &len, NULL), 0);
  char *bad = tmp("bad.parquet");
  /* Every truncation is an error, never a crash. */
  for (size_t cut = 0; cut < len; cut += (cut < 64 || len - cut < 600) ? 1 : 37) {
    put_file(bad, data, cut);
    ASSERT(try_read(bad) < 0);
  }
  /* Flipped bytes anywhere: an error or (if harmless) a read, never a crash. */
  for (int k = 0; k < 1500; k++) {
    char *copy = xmalloc(len);
    memcpy(copy, data, len);
    int nflip = 1 + (int)(rnd() % 3);
    for (int i = 0; i < nflip; i++) {
      size_t at = (size_t)(rnd() % len);
      /* Half the time aim at the footer, where the structure lives. */
      if (k % 2) at = len - 8 - (size_t)(rnd() % 600 % (len - 8));
      copy[at] = (char)rnd();
    }
    put_file(bad, copy, len);
    try_read(bad);
    free(copy);
  }
  /* Not Parquet at all, and a file that does not exist. */
  ASSERT_EQ(fs_write_atomic(bad, "PAR1 hello, this is not a parquet file PAR1", 43, 0644, NULL), 0);
  ASSERT(try_read(bad) == OAST_EBAD_REQUEST);
  char *missing = tmp("missing.parquet");
  ASSERT_EQ(try_read(missing), OAST_ENOT_FOUND);
  free(missing);
  free(data);
  free(bad);
  free(path);
  table_release(&t);
}

TEST(parquet_read_memory_cap) {
  struct table t;
  make_table(&t, 2000, 0);
  char *path = tmp("cap.parquet");
  ASSERT_EQ(pq_write_table(path, &t, NULL, NULL), 0);
  struct pq_file *f;
  ASSERT_EQ(pq_open(path, &f, NULL), 0);
  f->max_read_bytes = 10000;
  struct table back;
  oast_err e;
  ASSERT_EQ(pq_read_table(f, NULL, 0, &back, &e), OAST_ETOO_LARGE);
  table_release(&back);
  f->max_read_bytes = PQ_DEFAULT_MAX_READ_BYTES;
  ASSERT_EQ(pq_read_table(f, NULL, 0, &back, &e), 0);
  assert_same_tables(&t, &back);
  table_release(&back);
  pq_close(f);
  free(path);
  table_release(&t);
}

TEST(parquet_refuses_nested_schema) {
  /* Hand-built footer: root -> group "g" -> leaf "x". */
  struct pm_schema sch[3];
  memset(sch, 0, sizeof sch);
  sch[0].name = "schema";
  sch[0].num_children = 1;
  sch[1].name = "g";
  sch[1].num_children = 1;
  sch[1].has_rep = true;
  sch[1].rep = REP_OPTIONAL;
  sch[2].name = "x";
  sch[2].has_type = sch[2].has_rep = true;
  sch[2].type = PT_INT32;
  sch[2].rep = REP_OPTIONAL;
  struct pm_file fm = {.version = 1, .schema = sch, .nschema = 3};
  struct tw w;
  tw_init(&w);
  pm_encode_file(&w, &fm);
  struct pqbuf file = {0};
  pqbuf_put(&file, "PAR1", 4);
  pqbuf_put(&file, w.buf.p, w.buf.len);
  pqbuf_put_u32le(&file, (uint32_t)w.buf.len);
  pqbuf_put(&file, "PAR1", 4);
  char *path = tmp("nested.parquet");
  ASSERT_EQ(fs_write_atomic(path, file.p, file.len, 0644, NULL), 0);
  struct pq_file *f;
  oast_err e;
  ASSERT_EQ(pq_open(path, &f, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "nested"));
  free(path);
  pqbuf_release(&file);
  tw_release(&w);
}

/* ---- files written by hand: encodings our writer never produces ---- */

struct hcol {
  struct pm_schema s;
  struct pqbuf chunk;
  size_t dict_len;   /* bytes of a leading dictionary page, 0 if none */
};

static void add_page(struct hcol *c, struct pm_page *h, const void *body, size_t n) {
  struct tw w;
  tw_init(&w);
  h->uncompressed_size = h->compressed_size = (int32_t)n;
  pm_encode_page(&w, h);
  pqbuf_put(&c->chunk, w.buf.p, w.buf.len);
  pqbuf_put(&c->chunk, body, n);
  if (h->type == PAGE_DICTIONARY) c->dict_len = c->chunk.len;
  tw_release(&w);
}

/* One row group of `rows` rows, uncompressed, from ready-made chunks. */
static char *write_handmade(struct hcol *cols, size_t ncols, int64_t rows) {
  struct pm_schema *sch = xcalloc(ncols + 1, sizeof *sch);
  struct pm_chunk *chunks = xcalloc(ncols, sizeof *chunks);
  sch[0].name = "schema";
  sch[0].num_children = (int32_t)ncols;
  struct pqbuf file = {0};
  pqbuf_put(&file, "PAR1", 4);
  for (size_t i = 0; i < ncols; i++) {
    sch[i + 1] = cols[i].s;
    struct pm_column_meta *m = &chunks[i].meta;
    chunks[i].has_meta = true;
    chunks[i].file_offset = (int64_t)file.len;
    m->type = cols[i].s.type;
    m->encodings = 1u << ENC_PLAIN;
    m->path = cols[i].s.name;
    m->path_len = 1;
    m->num_values = rows;
    m->total_compressed_size = m->total_uncompressed_size = (int64_t)cols[i].chunk.len;
    if (cols[i].dict_len) {
      m->has_dictionary_page_offset = true;
      m->dictionary_page_offset = (int64_t)file.len;
    }
    m->data_page_offset = (int64_t)(file.len + cols[i].dict_len);
    pqbuf_put(&file, cols[i].chunk.p, cols[i].chunk.len);
  }
  struct pm_row_group rg = {.chunks = chunks, .nchunks = ncols, .num_rows = rows};
  struct pm_file fm = {.version = 1, .schema = sch, .nschema = ncols + 1, .num_rows = rows, .rgs = &rg, .nrgs = 1};
  struct tw w;
  tw_init(&w);
  pm_encode_file(&w, &fm);
  pqbuf_put(&file, w.buf.p, w.buf.len);
  pqbuf_put_u32le(&file, (uint32_t)w.buf.len);
  pqbuf_put(&file, "PAR1", 4);
  char *path = tmp("handmade.parquet");
  ASSERT_EQ(fs_write_atomic(path, file.p, file.len, 0644, NULL), 0);
  tw_release(&w);
  pqbuf_release(&file);
  free(sch);
  free(chunks);
  return path;
}

static struct pm_schema leaf(const char *name, int type, int rep) {
  struct pm_schema s;
  memset(&s, 0, sizeof s);
  s.name = (char *)name;
  s.has_type = s.has_rep = true;
  s.type = type;
  s.rep = rep;
  return s;
}

TEST(parquet_reads_other_writers_encodings) {
  enum { ROWS = 5 };
  struct hcol c[5];
  memset(c, 0, sizeof c);

  /* INT96 timestamps, REQUIRED, PLAIN (nanoseconds of day + Julian day). */
  c[0].s = leaf("t96", PT_INT96, REP_REQUIRED);
  uint8_t t96[12 * ROWS];
  uint64_t nanos[ROWS] = {1500, 86399999999500ULL, 0, 0, 0};
  uint32_t jd[ROWS] = {2451545, 2440587, 2440588, 2440588, 2440588};
  for (int i = 0; i < ROWS; i++) {
    memcpy(t96 + 12 * i, &nanos[i], 8);
    memcpy(t96 + 12 * i + 8, &jd[i], 4);
  }
  struct pm_page h = {.type = PAGE_DATA, .num_values = ROWS, .encoding = ENC_PLAIN, .def_encoding = ENC_RLE,
                      .rep_encoding = ENC_RLE};
  add_page(&c[0], &h, t96, sizeof t96);

  /* Strings in a v2 page, DELTA_BYTE_ARRAY, one null: axis, -, axle, babble, babyhood. */
  c[1].s = leaf("s", PT_BYTE_ARRAY, REP_OPTIONAL);
  c[1].s.has_converted = true;
  c[1].s.converted = CT_UTF8;
  static const uint8_t v2body[] = {
      0x03, 0x1D,                                            /* def levels: 1 0 1 1 1 */
      0x80, 0x01, 0x04, 0x04, 0x00, 0x03, 3, 0, 0, 0,        /* prefix lengths 0 2 0 3 */
      0x44, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      0x80, 0x01, 0x04, 0x04, 0x08, 0x03, 3, 0, 0, 0,        /* suffix lengths 4 2 6 5 */
      0x70, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      'a', 'x', 'i', 's', 'l', 'e', 'b', 'a', 'b', 'b', 'l', 'e', 'y', 'h', 'o', 'o', 'd'};
  struct pm_page h2 = {.type = PAGE_DATA_V2, .num_values = ROWS, .num_nulls = 1, .num_rows = ROWS,
                       .encoding = ENC_DELTA_BYTE_ARRAY, .def_len = 2, .is_compressed = false};
  add_page(&c[1], &h2, v2body, sizeof v2body);

  /* Booleans: deprecated BIT_PACKED levels (1 1 0 1 1), RLE-encoded values. */
  c[2].s = leaf("b", PT_BOOLEAN, REP_OPTIONAL);
  static const uint8_t bbody[] = {0xD8, 0x02, 0x00, 0x00, 0x00, 0x03, 0x0D};
  struct pm_page h3 = {.type = PAGE_DATA, .num_values = ROWS, .encoding = ENC_RLE, .def_encoding = ENC_BIT_PACKED};
  add_page(&c[2], &h3, bbody, sizeof bbody);

  /* Unsigned 32-bit integers become bigint. */
  c[3].s = leaf("u", PT_INT32, REP_REQUIRED);
  c[3].s.has_converted = true;
  c[3].s.converted = CT_UINT_32;
  uint32_t u[ROWS] = {4000000000u, 1, 0, 2147483648u, 7};
  add_page(&c[3], &h, u, sizeof u);

  /* An old-style PLAIN_DICTIONARY chunk with one entry and 0-bit indices. */
  c[4].s = leaf("d", PT_INT64, REP_OPTIONAL);
  int64_t entry = 42;
  struct pm_page hd = {.type = PAGE_DICTIONARY, .dict_num_values = 1, .dict_encoding = ENC_PLAIN_DICTIONARY};
  add_page(&c[4], &hd, &entry, 8);
  static const uint8_t dbody[] = {0x02, 0x00, 0x00, 0x00, 0x0A, 0x01, 0x00, 0x0A};
  struct pm_page h4 = {.type = PAGE_DATA, .num_values = ROWS, .encoding = ENC_PLAIN_DICTIONARY,
                       .def_encoding = ENC_RLE, .rep_encoding = ENC_RLE};
  add_page(&c[4], &h4, dbody, sizeof dbody);

  char *path = write_handmade(c, 5, ROWS);
  struct pq_file *f;
  oast_err e;
  ASSERT_EQ(pq_open(path, &f, &e), 0);
  ASSERT_EQ(f->cols[0].type, FT_TIMESTAMP);
  ASSERT_EQ(f->cols[3].type, FT_BIGINT);
  struct table t;
  int rc = pq_read_table(f, NULL, 0, &t, &e);
  if (rc) fprintf(stderr, "%s\n", e.msg);
  ASSERT_EQ(rc, 0);
  ASSERT_EQ(column_i64(&t.cols[0], 0), 946684800000001LL);
  ASSERT_EQ(column_i64(&t.cols[0], 1), -1);   /* -0.5 µs rounds down */
  static const char *want[] = {"axis", NULL, "axle", "babble", "babyhood"};
  for (int i = 0; i < ROWS; i++) {
    if (!want[i]) {
      ASSERT(column_is_null(&t.cols[1], i));
      continue;
    }
    size_t n;
    const char *s = column_str(&t.cols[1], (size_t)i, &n);
    ASSERT(n == strlen(want[i]) && !memcmp(s, want[i], n));
  }
  ASSERT(!column_is_null(&t.cols[2], 0) && column_bool(&t.cols[2], 0));
  ASSERT(!column_bool(&t.cols[2], 1));
  ASSERT(column_is_null(&t.cols[2], 2));
  ASSERT(column_bool(&t.cols[2], 3) && column_bool(&t.cols[2], 4));
  ASSERT_EQ(column_i64(&t.cols[3], 0), 4000000000LL);
  ASSERT_EQ(column_i64(&t.cols[3], 3), 2147483648LL);
  for (int i = 0; i < ROWS; i++) ASSERT_EQ(column_i64(&t.cols[4], (size_t)i), 42);
  table_release(&t);
  pq_close(f);
  for (int i = 0; i < 5; i++) pqbuf_release(&c[i].chunk);
  free(path);

  /* A dictionary index past the dictionary is an error naming the column. */
  memset(c, 0, sizeof c);
  c[0].s = leaf("d", PT_INT64, REP_REQUIRED);
  add_page(&c[0], &hd, &entry, 8);
  static const uint8_t badidx[] = {0x01, 0x0A, 0x01};   /* bit width 1, run of 5 ones */
  add_page(&c[0], &h4, badidx, sizeof badidx);
  path = write_handmade(c, 1, ROWS);
  ASSERT_EQ(pq_open(path, &f, &e), 0);
  ASSERT_EQ(pq_read_table(f, NULL, 0, &t, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "\"d\"") && strstr(e.msg, "dictionary"));
  table_release(&t);
  pq_close(f);
  pqbuf_release(&c[0].chunk);
  free(path);
}
