/* test_csv.c — the streaming CSV reader, its errors, and the writer. */
#include <math.h>
#include <stdint.h>

#include "formats/csv.h"
#include "test.h"
#include "util/alloc.h"

static const char *const names[] = {"id", "name", "age", "score", "ok", "ts", "day"};
static const enum ftype types[] = {FT_BIGINT, FT_STRING, FT_INT, FT_DOUBLE, FT_BOOLEAN, FT_TIMESTAMP, FT_DATE};
static const bool req[] = {true, false, false, false, false, false, false};
static const struct rows_schema schema = {7, names, types, req};

/* Parses text whole; returns the code and leaves the message in msg. */
static int parse(const char *text, struct table *t, char *msg) {
  oast_err e = {0};
  int rc = csv_read(text, strlen(text), &schema, t, &e);
  strcpy(msg, rc ? e.msg : "");
  return rc;
}

/* Parses text fed in chunks of `step` bytes; same results expected as parse(). */
static int parse_chunked(const char *text, size_t step, struct table *t, char *msg) {
  oast_err e = {0};
  struct csv_reader *r = csv_reader_new(&schema, 0);
  size_t n = strlen(text);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i += step) rc = csv_feed(r, text + i, i + step <= n ? step : n - i, &e);
  if (!rc) rc = csv_finish(r, &e);
  if (!rc) csv_take(r, t);
  else memset(t, 0, sizeof *t);
  strcpy(msg, rc ? e.msg : "");
  csv_reader_free(r);
  return rc;
}

static void expect_error(const char *text, const char *want) {
  struct table t;
  char msg[OAST_ERRMSG_MAX];
  ASSERT_EQ(parse(text, &t, msg), OAST_EBAD_REQUEST);
  ASSERT_STREQ(msg, want);
  ASSERT_EQ(t.ncols, 0);
  /* The same error, with the same row and line, when fed a byte at a time. */
  ASSERT_EQ(parse_chunked(text, 1, &t, msg), OAST_EBAD_REQUEST);
  ASSERT_STREQ(msg, want);
  ASSERT_EQ(parse_chunked(text, 3, &t, msg), OAST_EBAD_REQUEST);
  ASSERT_STREQ(msg, want);
}

static const char *str_at(const struct table *t, int col, size_t row, size_t *n) {
  return column_str(&t->cols[col], row, n);
}

static void check_sample(const struct table *t) {
  size_t n;
  ASSERT_EQ(t->ncols, 7);
  ASSERT_EQ(t->nrows, 4);
  ASSERT_EQ(column_i64(&t->cols[0], 0), 1);
  ASSERT_EQ(column_i64(&t->cols[0], 3), -9223372036854775807LL - 1);
  const char *s = str_at(t, 1, 0, &n);
  ASSERT(n == 5 && memcmp(s, "Alice", 5) == 0);
  s = str_at(t, 1, 1, &n);
  ASSERT(n == 14 && memcmp(s, "Bob \"the\",\nB.", 13) == 0 && s[13] == 'x');
  s = str_at(t, 1, 2, &n);
  ASSERT(n == 0 && !column_is_null(&t->cols[1], 2));
  ASSERT(column_is_null(&t->cols[1], 3));
  ASSERT_EQ(column_i32(&t->cols[2], 0), 30);
  ASSERT(column_is_null(&t->cols[2], 1));
  ASSERT_EQ(column_i32(&t->cols[2], 2), -2147483647 - 1);
  ASSERT(column_f64(&t->cols[3], 0) == 1.5);
  ASSERT(column_f64(&t->cols[3], 1) == -2e-3);
  ASSERT(column_f64(&t->cols[3], 2) == 0.1);
  ASSERT(isnan(column_f64(&t->cols[3], 3)));
  ASSERT(column_bool(&t->cols[4], 0) && !column_bool(&t->cols[4], 1) && column_bool(&t->cols[4], 2));
  ASSERT(!column_bool(&t->cols[4], 3));
  ASSERT_EQ(column_i64(&t->cols[5], 0), 1704164645000000LL);
  ASSERT_EQ(column_i64(&t->cols[5], 1), 1000);
  /* "day" is not in the header: null everywhere. */
  for (size_t i = 0; i < 4; i++) ASSERT(column_is_null(&t->cols[6], i));
}

static const char *sample =
    "name,id,age,score,ok,ts\r\n"
    "Alice,1,30,1.5,true,2024-01-02T03:04:05Z\r\n"
    "\"Bob \"\"the\"\",\nB.x\",2,,-2e-3,FALSE,1\r\n"
    "\"\",3,-2147483648,0.1,1,\n"
    ",-9223372036854775808,,nan,0,\"\"\n";

TEST(csv_reads_types_quotes_and_crlf) {
  struct table t;
  char msg[OAST_ERRMSG_MAX];
  ASSERT_EQ(parse(sample, &t, msg), 0);
  check_sample(&t);
  table_release(&t);
}

TEST(csv_byte_by_byte_equals_whole) {
  for (size_t step = 1; step <= 9; step++) {
    struct table t;
    char msg[OAST_ERRMSG_MAX];
    ASSERT_EQ(parse_chunked(sample, step, &t, msg), 0);
    check_sample(&t);
    table_release(&t);
  }
}

TEST(csv_batches_take_rows_in_order) {
  const char *names1[] = {"k", "v"};
  enum ftype types1[] = {FT_INT, FT_STRING};
  struct rows_schema s = {2, names1, types1, NULL};
  struct buf in = BUF_INIT;
  buf_puts(&in, "v,k\n");
  for (int i = 0; i < 1000; i++) buf_printf(&in, "\"line %d\nmore\",%d\n", i, i);
  struct csv_reader *r = csv_reader_new(&s, 0);
  oast_err e;
  size_t total = 0, next = 0;
  for (size_t off = 0; off < in.len; off += 97) {
    ASSERT_EQ(csv_feed(r, in.data + off, off + 97 <= in.len ? 97 : in.len - off, &e), 0);
    if (csv_batch_rows(r) >= 100 || off + 97 >= in.len) {
      if (off + 97 >= in.len) ASSERT_EQ(csv_finish(r, &e), 0);
      struct table t;
      csv_take(r, &t);
      ASSERT_EQ(table_check(&t, &e), 0);
      for (size_t i = 0; i < t.nrows; i++, next++) {
        ASSERT_EQ(column_i32(&t.cols[0], i), (int)next);
        size_t n;
        const char *v = column_str(&t.cols[1], i, &n);
        char want[64];
        snprintf(want, sizeof want, "line %zu\nmore", next);
        ASSERT(n == strlen(want) && memcmp(v, want, n) == 0);
      }
      total += t.nrows;
      table_release(&t);
    }
  }
  ASSERT_EQ(total, 1000);
  ASSERT_EQ(csv_total_rows(r), 1000);
  csv_reader_free(r);
  buf_release(&in);
}

TEST(csv_header_errors) {
  expect_error("id,name,colour\n1,a,b\n",
               "header (line 1), field 3: unknown column \"colour\"; the columns are: id, name, age, score, ok, ts, day");
  expect_error("name,age\nx,1\n", "header (line 1): the required column \"id\" is missing");
  expect_error("id,name,id\n", "header (line 1): column \"id\" appears twice (fields 1 and 3)");
  expect_error("", "the input is empty; a CSV header row is required");
  expect_error("\nid\n1\n", "the header row (line 1) is empty");
  expect_error("id,,name\n", "header (line 1), field 2: the column name is empty");
  expect_error("id,na\xffme\n", "header (line 1), field 2: invalid UTF-8 at byte 3");
}

TEST(csv_ragged_rows) {
  expect_error("id,name,age\n1,a,2\n2,b\n", "row 2 (line 3) has 2 fields, the header has 3: column \"age\" is missing");
  expect_error("id,name,age\n1,a,2\n2,b,3,4,5\n", "row 2 (line 3) has 5 fields, the header has 3: field 4 is after the last column \"age\"");
  expect_error("id,name\n1,a\n\n2,b\n", "row 2 (line 3) is empty, the header has 2 fields");
  /* The line number counts the lines inside quoted fields of earlier rows. */
  expect_error("id,name\n1,\"a\nb\nc\"\n2\n", "row 2 (line 5) has 1 field, the header has 2: column \"name\" is missing");
}

TEST(csv_quoting_errors) {
  expect_error("id,name\n1,\"abc\n", "row 1 (line 2), column \"name\": a quoted field is not closed before the end of the input");
  expect_error("id,name\n1,ab\"c\n", "row 1 (line 2), column \"name\": a quote inside an unquoted field (quote the whole field and double the quote)");
  expect_error("id,name\n1,\"ab\"c\n", "row 1 (line 2), column \"name\": unexpected character after the closing quote (a quote inside a quoted field is written twice)");
  expect_error("id,name\n1,a\rb\n", "row 1 (line 2), column \"name\": a carriage return outside quotes must be followed by a line feed");
}

TEST(csv_value_errors) {
  expect_error("id,age\n1,30\n2,abc\n", "row 2 (line 3), column \"age\": \"abc\" is not an int");
  expect_error("id,age\n1,2147483648\n", "row 1 (line 2), column \"age\": \"2147483648\" is out of range for an int");
  expect_error("id\n9223372036854775808\n", "row 1 (line 2), column \"id\": \"9223372036854775808\" is out of range for a bigint");
  expect_error("id,score\n1,1e400\n", "row 1 (line 2), column \"score\": \"1e400\" is out of range for a double");
  expect_error("id,score\n1,0x10\n", "row 1 (line 2), column \"score\": \"0x10\" is not a double");
  expect_error("id,score\n1, 5\n", "row 1 (line 2), column \"score\": \" 5\" is not a double");
  expect_error("id,ok\n1,yes\n", "row 1 (line 2), column \"ok\": \"yes\" is not a boolean (true, false, 1 or 0)");
  expect_error("id,ts\n1,2024-02-30\n", "row 1 (line 2), column \"ts\": \"2024-02-30\" is not a timestamp");
  expect_error("id,day\n1,2024-01-01T00:00:00Z\n",
               "row 1 (line 2), column \"day\": \"2024-01-01T00:00:00Z\" is not a date (YYYY-MM-DD)");
  expect_error("id,name\n1,ok\n2,caf\xc3\n", "row 2 (line 3), column \"name\": invalid UTF-8 at byte 4 of the value");
  expect_error("id,name\n1,\"a\"\"\xed\xa0\x80\"\n", "row 1 (line 2), column \"name\": invalid UTF-8 at byte 3 of the value");
  expect_error("id,name\n1,a\n,b\n", "row 2 (line 3), column \"id\": a value is required");
  expect_error("id,name\n1,a\n\"\",b\n", "row 2 (line 3), column \"id\": a value is required");
  expect_error("id,age\n1,\"\x01x\"\n", "row 1 (line 2), column \"age\": \"\\x01x\" is not an int");
}

TEST(csv_blank_lines_bom_and_last_line) {
  const char *n1[] = {"v"};
  enum ftype t1[] = {FT_STRING};
  struct rows_schema s = {1, n1, t1, NULL};
  struct table t;
  oast_err e;
  const char *text = "\xEF\xBB\xBFv\na\n\nb\n\n\n";
  ASSERT_EQ(csv_read(text, strlen(text), &s, &t, &e), 0);
  ASSERT_EQ(t.nrows, 3); /* a, null, b; the two trailing blank lines are dropped */
  table_release(&t);
  /* The same, fed a byte at a time (the BOM is split too). */
  struct csv_reader *r = csv_reader_new(&s, 0);
  for (size_t i = 0; i < strlen(text); i++) ASSERT_EQ(csv_feed(r, text + i, 1, &e), 0);
  ASSERT_EQ(csv_finish(r, &e), 0);
  csv_take(r, &t);
  csv_reader_free(r);
  ASSERT_EQ(t.nrows, 3);
  ASSERT(column_is_null(&t.cols[0], 1));
  ASSERT(!column_is_null(&t.cols[0], 2));
  table_release(&t);
  /* No line end after the last record; a trailing comma is one more (null) field. */
  const char *n2[] = {"a", "b"};
  enum ftype t2[] = {FT_INT, FT_INT};
  struct rows_schema s2 = {2, n2, t2, NULL};
  ASSERT_EQ(csv_read("a,b\r\n1,", 7, &s2, &t, &e), 0);
  ASSERT_EQ(t.nrows, 1);
  ASSERT(column_is_null(&t.cols[1], 0));
  table_release(&t);
  /* A header only is an empty table. */
  ASSERT_EQ(csv_read("a,b", 3, &s2, &t, &e), 0);
  ASSERT_EQ(t.nrows, 0);
  ASSERT_EQ(t.ncols, 2);
  table_release(&t);
}

TEST(csv_errors_stick_and_long_records_are_capped) {
  struct csv_reader *r = csv_reader_new(&schema, 64);
  oast_err e;
  ASSERT_EQ(csv_feed(r, "id,name\n1,\"", 11, &e), 0);
  char junk[100];
  memset(junk, 'x', sizeof junk);
  ASSERT_EQ(csv_feed(r, junk, sizeof junk, &e), OAST_EBAD_REQUEST);
  ASSERT_STREQ(e.msg, "row 1 (line 2) is longer than 64 bytes (is a quote left open?)");
  ASSERT_EQ(csv_feed(r, "\"\n", 2, &e), OAST_EBAD_REQUEST);
  ASSERT_EQ(csv_finish(r, &e), OAST_EBAD_REQUEST);
  ASSERT_STREQ(e.msg, "row 1 (line 2) is longer than 64 bytes (is a quote left open?)");
  csv_reader_free(r);
}

TEST(csv_doubles_parse_like_strtod) {
  /* Fast path and slow path must both give the correctly rounded double. */
  const char *cases[] = {"0.1", "0.3", "123456.789", "-1.7976931348623157e308", "2.2250738585072014e-308",
                         "4.9e-324", "9007199254740993", "1e22", "1e23", "0.000001234", "123456789012345678901234",
                         "3.14159265358979323846", ".5", "5.", "+7", "1E-5", "8.589973e9", "1e-400"};
  const char *n1[] = {"d", "f"};
  enum ftype t1[] = {FT_DOUBLE, FT_FLOAT};
  struct rows_schema s = {2, n1, t1, NULL};
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    char text[200];
    snprintf(text, sizeof text, "d,f\n%s,%s\n", cases[k], cases[k]);
    struct table t;
    oast_err e;
    int rc = csv_read(text, strlen(text), &s, &t, &e);
    if (isinf(strtof(cases[k], NULL))) {
      ASSERT_EQ(rc, OAST_EBAD_REQUEST); /* beyond float's range */
      continue;
    }
    ASSERT_EQ(rc, 0);
    ASSERT(column_f64(&t.cols[0], 0) == strtod(cases[k], NULL));
    ASSERT(column_f32(&t.cols[1], 0) == strtof(cases[k], NULL));
    table_release(&t);
  }
  /* Random decimals with few digits (the common case). */
  uint64_t x = 88172645463325252ULL;
  for (int k = 0; k < 20000; k++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    char v[64];
    snprintf(v, sizeof v, "%lld.%0*llde%d", (long long)(x % 100000) - 50000, (int)((x >> 40) % 8) + 1,
             (unsigned long long)(x >> 20) % 1000, (int)((x >> 50) % 40) - 20);
    char text[200];
    snprintf(text, sizeof text, "d,f\n%s,%s\n", v, v);
    struct table t;
    oast_err e;
    ASSERT_EQ(csv_read(text, strlen(text), &s, &t, &e), 0);
    ASSERT(column_f64(&t.cols[0], 0) == strtod(v, NULL));
    ASSERT(column_f32(&t.cols[1], 0) == strtof(v, NULL));
    table_release(&t);
  }
}

TEST(csv_writer_quotes_and_formats) {
  const char *n[] = {"id", "na,me", "x", "f", "b", "ts", "d"};
  enum ftype ty[] = {FT_INT, FT_STRING, FT_DOUBLE, FT_FLOAT, FT_BOOLEAN, FT_TIMESTAMP, FT_DATE};
  struct table t;
  table_init(&t, 7, n, ty);
  column_append_i32(&t.cols[0], -5);
  column_append_str(&t.cols[1], "say \"hi\",\r\nbye", 14);
  column_append_f64(&t.cols[2], 0.1 + 0.2);
  column_append_f32(&t.cols[3], 0.1f);
  column_append_bool(&t.cols[4], true);
  column_append_i64(&t.cols[5], 1704164645123456LL);
  column_append_i32(&t.cols[6], 19782);
  column_append_null(&t.cols[0]);
  column_append_str(&t.cols[1], "", 0);
  column_append_f64(&t.cols[2], 1e300);
  column_append_f32(&t.cols[3], -INFINITY);
  column_append_null(&t.cols[4]);
  column_append_i64(&t.cols[5], -1);
  column_append_null(&t.cols[6]);
  column_append_i32(&t.cols[0], 7);
  column_append_null(&t.cols[1]);
  column_append_f64(&t.cols[2], 2.5);
  column_append_f32(&t.cols[3], 3);
  column_append_bool(&t.cols[4], false);
  column_append_i64(&t.cols[5], 0);
  column_append_i32(&t.cols[6], -1);
  ASSERT_EQ(table_check(&t, NULL), 0);
  struct buf b = BUF_INIT;
  ASSERT_EQ(csv_write(&t, &b), 0);
  ASSERT_STREQ(b.data,
               "id,\"na,me\",x,f,b,ts,d\n"
               "-5,\"say \"\"hi\"\",\r\nbye\",0.30000000000000004,0.1,true,2024-01-02T03:04:05.123456Z,2024-02-29\n"
               ",\"\",1e+300,-inf,,1969-12-31T23:59:59.999999Z,\n"
               "7,,2.5,3,false,1970-01-01T00:00:00Z,1969-12-31\n");
  /* A capped buffer refuses, it does not truncate silently. */
  struct buf small;
  buf_init(&small, 40);
  ASSERT_EQ(csv_write(&t, &small), OAST_ETOO_LARGE);
  buf_release(&small);
  buf_release(&b);
  table_release(&t);
}

TEST(csv_write_then_read_round_trips) {
  struct table t;
  char msg[OAST_ERRMSG_MAX];
  ASSERT_EQ(parse(sample, &t, msg), 0);
  struct buf b = BUF_INIT;
  ASSERT_EQ(csv_write(&t, &b), 0);
  struct table t2;
  ASSERT_EQ(parse(b.data, &t2, msg), 0);
  check_sample(&t2);
  struct buf b2 = BUF_INIT;
  ASSERT_EQ(csv_write(&t2, &b2), 0);
  ASSERT_STREQ(b.data, b2.data);
  /* Doubles print in their shortest exact form and read back bit for bit. */
  const char *n[] = {"id", "score"};
  enum ftype ty[] = {FT_BIGINT, FT_DOUBLE};
  struct table d;
  table_init(&d, 2, n, ty);
  uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (int i = 0; i < 5000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    double v;
    if (i % 2) {
      uint64_t bits = x & 0x7FEFFFFFFFFFFFFFULL;
      memcpy(&v, &bits, 8);
    } else {
      v = (double)(int64_t)(x % 2000000) / 1000.0 - 1000;
    }
    column_append_i64(&d.cols[0], i);
    column_append_f64(&d.cols[1], v);
  }
  ASSERT_EQ(table_check(&d, NULL), 0);
  buf_reset(&b);
  ASSERT_EQ(csv_write(&d, &b), 0);
  const bool rq[] = {false, false};
  struct rows_schema s = {2, n, ty, rq};
  struct table d2;
  oast_err e;
  ASSERT_EQ(csv_read(b.data, b.len, &s, &d2, &e), 0);
  ASSERT_EQ(d2.nrows, 5000);
  for (size_t i = 0; i < 5000; i++) ASSERT(column_f64(&d2.cols[1], i) == column_f64(&d.cols[1], i));
  table_release(&d);
  table_release(&d2);
  table_release(&t);
  table_release(&t2);
  buf_release(&b);
  buf_release(&b2);
}

TEST(csv_timestamp_text_matches_table_format) {
  struct rows_fmt f;
  rows_fmt_init(&f);
  const char *n[] = {"ts"};
  enum ftype ty[] = {FT_TIMESTAMP};
  struct table t;
  table_init(&t, 1, n, ty);
  int64_t vals[] = {0, -1, 1, 86399999999LL, 86400000000LL, -86400000001LL, 253402300799999999LL,
                    -62135596800000000LL, 1704164645000001LL};
  for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) column_append_i64(&t.cols[0], vals[i]);
  for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
    char a[ROWS_CELL_MAX], b[64];
    rows_format_cell(&f, &t.cols[0], i, a);
    timestamp_format(vals[i], b, sizeof b);
    ASSERT_STREQ(a, b);
  }
  table_release(&t);
}
