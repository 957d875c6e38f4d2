/* test_jsonrows.c — NDJSON and JSON-array rows: reading, errors, writing. */
#include <math.h>

#include "formats/jsonrows.h"
#include "test.h"

static const char *const names[] = {"id", "name", "price", "qty", "ok", "ts", "day", "f"};
static const enum ftype types[] = {FT_BIGINT, FT_STRING, FT_DOUBLE, FT_INT, FT_BOOLEAN, FT_TIMESTAMP, FT_DATE, FT_FLOAT};
static const bool req[] = {true, false, false, false, false, false, false, false};
static const struct rows_schema schema = {8, names, types, req};

static int read_chunked(const char *text, enum jsonrows_format f, size_t step, struct table *t, char *msg) {
  oast_err e = {0};
  struct jsonrows_reader *r = jsonrows_reader_new(&schema, f, 0);
  size_t n = strlen(text);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i += step) rc = jsonrows_feed(r, text + i, i + step <= n ? step : n - i, &e);
  if (!rc) rc = jsonrows_finish(r, &e);
  if (!rc) jsonrows_take(r, t);
  strcpy(msg, rc ? e.msg : "");
  jsonrows_reader_free(r);
  return rc;
}

static void expect_error(const char *text, enum jsonrows_format f, const char *want) {
  struct table t;
  oast_err e;
  ASSERT_EQ(jsonrows_read(text, strlen(text), f, &schema, &t, &e), OAST_EBAD_REQUEST);
  ASSERT_STREQ(e.msg, want);
  ASSERT_EQ(t.ncols, 0);
  char msg[OAST_ERRMSG_MAX];
  ASSERT_EQ(read_chunked(text, f, 1, &t, msg), OAST_EBAD_REQUEST);
  ASSERT_STREQ(msg, want);
}

static void check_rows(const struct table *t) {
  size_t n;
  ASSERT_EQ(t->nrows, 3);
  ASSERT_EQ(column_i64(&t->cols[0], 0), 1);
  ASSERT_EQ(column_i64(&t->cols[0], 2), 3);
  const char *s = column_str(&t->cols[1], 0, &n);
  ASSERT(n == 6 && memcmp(s, "caf\xc3\xa9\n", 6) == 0);
  ASSERT(column_is_null(&t->cols[1], 1));
  ASSERT(column_f64(&t->cols[2], 0) == 9.99);
  ASSERT(column_f64(&t->cols[2], 1) == 3);
  ASSERT(column_is_null(&t->cols[2], 2));
  ASSERT_EQ(column_i32(&t->cols[3], 0), 2);
  ASSERT_EQ(column_i32(&t->cols[3], 1), 4);
  ASSERT(column_bool(&t->cols[4], 0) && !column_bool(&t->cols[4], 1));
  ASSERT_EQ(column_i64(&t->cols[5], 0), 1704164645000000LL);
  ASSERT_EQ(column_i64(&t->cols[5], 1), 1500000);
  ASSERT_EQ(column_i32(&t->cols[6], 0), 19782);
  ASSERT(column_f32(&t->cols[7], 0) == 0.5f);
  for (int c = 1; c < 8; c++) ASSERT(column_is_null(&t->cols[c], 2));
}

static const char *ndjson =
    "{\"id\": 1, \"name\": \"caf\\u00e9\\n\", \"price\": 9.99, \"qty\": 2, \"ok\": true,"
    " \"ts\": \"2024-01-02T03:04:05Z\", \"day\": \"2024-02-29\", \"f\": 0.5}\r\n"
    "\n"
    "{\"qty\": 4.0, \"id\": 2, \"price\": 3, \"ok\": false, \"ts\": 1500, \"name\": null}\n"
    "  \n"
    "{\"id\": 3}";

TEST(jsonrows_reads_ndjson_and_arrays) {
  struct table t;
  oast_err e;
  ASSERT_EQ(jsonrows_read(ndjson, strlen(ndjson), JSONROWS_NDJSON, &schema, &t, &e), 0);
  check_rows(&t);
  table_release(&t);
  char msg[OAST_ERRMSG_MAX];
  for (size_t step = 1; step < 8; step++) {
    ASSERT_EQ(read_chunked(ndjson, JSONROWS_NDJSON, step, &t, msg), 0);
    check_rows(&t);
    table_release(&t);
  }
  const char *arr =
      "[{\"id\": 1, \"name\": \"caf\xc3\xa9\\n\", \"price\": 9.99, \"qty\": 2, \"ok\": true,"
      " \"ts\": \"2024-01-02 03:04:05\", \"day\": \"2024-02-29\", \"f\": 0.5},\n"
      " {\"qty\": 4, \"id\": 2, \"price\": 3.0, \"ok\": false, \"ts\": 1500},\n"
      " {\"id\": 3, \"day\": null}]";
  ASSERT_EQ(read_chunked(arr, JSONROWS_ARRAY, 5, &t, msg), 0);
  check_rows(&t);
  table_release(&t);
  ASSERT_EQ(jsonrows_read("[]", 2, JSONROWS_ARRAY, &schema, &t, &e), 0);
  ASSERT_EQ(t.nrows, 0);
  table_release(&t);
}

TEST(jsonrows_type_errors_name_row_and_column) {
  expect_error("{\"id\": 1}\n{\"id\": 2, \"price\": \"1.5\"}\n", JSONROWS_NDJSON,
               "row 2 (line 2), column \"price\": expected a number, got a string");
  expect_error("\n{\"id\": 1}\n\n{\"id\": 2.5}\n", JSONROWS_NDJSON,
               "row 2 (line 4), column \"id\": expected an integer, got a number");
  expect_error("[{\"id\": 1}, {\"id\": 2}, {\"id\": 3, \"qty\": 3000000000}]", JSONROWS_ARRAY,
               "row 3, column \"qty\": 3000000000 is out of range for an int");
  expect_error("[{\"id\": 1, \"ok\": 1}]", JSONROWS_ARRAY, "row 1, column \"ok\": expected true or false, got a number");
  expect_error("[{\"id\": 1, \"name\": 5}]", JSONROWS_ARRAY, "row 1, column \"name\": expected a string, got a number");
  expect_error("[{\"id\": 1, \"name\": [\"a\"]}]", JSONROWS_ARRAY,
               "row 1, column \"name\": expected a string, got an array");
  expect_error("[{\"id\": 1, \"ts\": \"soon\"}]", JSONROWS_ARRAY, "row 1, column \"ts\": \"soon\" is not a timestamp");
  expect_error("[{\"id\": 1, \"ts\": true}]", JSONROWS_ARRAY,
               "row 1, column \"ts\": expected a timestamp string or epoch milliseconds, got a boolean");
  expect_error("[{\"id\": 1, \"day\": 19000}]", JSONROWS_ARRAY,
               "row 1, column \"day\": expected a date string, got a number");
  expect_error("[{\"id\": 1, \"f\": 1e39}]", JSONROWS_ARRAY, "row 1, column \"f\": 1e+39 is out of range for a float");
}

TEST(jsonrows_structure_errors) {
  expect_error("{\"id\": 1, \"colour\": \"red\"}\n", JSONROWS_NDJSON, "row 1 (line 1): unknown column \"colour\"");
  expect_error("{\"name\": \"x\"}\n", JSONROWS_NDJSON, "row 1 (line 1): the required column \"id\" is missing");
  expect_error("{\"id\": null}\n", JSONROWS_NDJSON, "row 1 (line 1), column \"id\": a value is required");
  expect_error("{\"id\": 1}\n[1]\n", JSONROWS_NDJSON, "row 2 (line 2) is not a JSON object (got an array)");
  expect_error("{\"id\": 1}\n{\"id\": 2,}\n", JSONROWS_NDJSON,
               "row 2 (line 2): malformed JSON at column 10: string or '}' expected near '}'");
  expect_error("{\"id\": 1, \"id\": 2}\n", JSONROWS_NDJSON,
               "row 1 (line 1): malformed JSON at column 14: duplicate object key near '\"id\"'");
  expect_error("[{\"id\": 1},\n 7]", JSONROWS_ARRAY, "row 2 is not a JSON object (got a number)");
  expect_error("{\"id\": 1}", JSONROWS_ARRAY, "the JSON must be an array of objects (got an object)");
  expect_error("[{\"id\": 1},\n {\"id\": 2]", JSONROWS_ARRAY,
               "malformed JSON at line 2, column 10: '}' expected near ']'");
}

TEST(jsonrows_caps_are_enforced) {
  struct jsonrows_reader *r = jsonrows_reader_new(&schema, JSONROWS_ARRAY, 10);
  oast_err e;
  ASSERT_EQ(jsonrows_feed(r, "[{\"id\": 1}", 10, &e), 0);
  ASSERT_EQ(jsonrows_feed(r, "]", 1, &e), OAST_ETOO_LARGE);
  ASSERT_STREQ(e.msg, "the JSON array is larger than 10 bytes");
  ASSERT_EQ(jsonrows_finish(r, &e), OAST_ETOO_LARGE);
  jsonrows_reader_free(r);
  r = jsonrows_reader_new(&schema, JSONROWS_NDJSON, 12);
  ASSERT_EQ(jsonrows_feed(r, "{\"id\": 1}\n{\"id\":", 16, &e), 0);
  ASSERT_EQ(jsonrows_feed(r, "      2}\n", 9, &e), OAST_ETOO_LARGE);
  ASSERT_STREQ(e.msg, "row 2 (line 2) is longer than 12 bytes");
  jsonrows_reader_free(r);
}

TEST(jsonrows_writes_and_reads_back) {
  const char *n[] = {"id", "na\"me", "x", "f", "b", "ts", "d"};
  enum ftype ty[] = {FT_INT, FT_STRING, FT_DOUBLE, FT_FLOAT, FT_BOOLEAN, FT_TIMESTAMP, FT_DATE};
  struct table t;
  table_init(&t, 7, n, ty);
  column_append_i32(&t.cols[0], -5);
  column_append_str(&t.cols[1], "tab\there \"q\" \\ \x01 caf\xc3\xa9 bad\xff", 27);
  column_append_f64(&t.cols[2], 0.1);
  column_append_f32(&t.cols[3], NAN);
  column_append_bool(&t.cols[4], true);
  column_append_i64(&t.cols[5], 1704164645000000LL);
  column_append_i32(&t.cols[6], 0);
  column_append_null(&t.cols[0]);
  column_append_null(&t.cols[1]);
  column_append_f64(&t.cols[2], -2.5e-10);
  column_append_f32(&t.cols[3], 1.25f);
  column_append_bool(&t.cols[4], false);
  column_append_null(&t.cols[5]);
  column_append_null(&t.cols[6]);
  ASSERT_EQ(table_check(&t, NULL), 0);
  struct buf b = BUF_INIT;
  ASSERT_EQ(jsonrows_write(&t, 0, 2, JSONROWS_ARRAY, &b), 0);
  ASSERT_STREQ(b.data,
               "[{\"id\":-5,\"na\\\"me\":\"tab\\there \\\"q\\\" \\\\ \\u0001 caf\xc3\xa9 bad\xef\xbf\xbd\",\"x\":0.1,"
               "\"f\":null,\"b\":true,\"ts\":\"2024-01-02T03:04:05Z\",\"d\":\"1970-01-01\"},"
               "{\"id\":null,\"na\\\"me\":null,\"x\":-0.00000000025,\"f\":1.25,\"b\":false,\"ts\":null,\"d\":null}]");
  /* The same array written in two pieces with jsonrows_write_list. */
  struct buf pieces = BUF_INIT;
  buf_putc(&pieces, '[');
  ASSERT_EQ(jsonrows_write_list(&t, 0, 1, &pieces), 0);
  ASSERT_EQ(jsonrows_write_list(&t, 1, 2, &pieces), 0);
  ASSERT_EQ(jsonrows_write_list(&t, 2, 2, &pieces), 0);
  buf_putc(&pieces, ']');
  ASSERT_STREQ(pieces.data, b.data);
  buf_release(&pieces);
  /* jansson agrees that it is JSON. */
  json_error_t je;
  json_t *j = json_loadb(b.data, b.len, 0, &je);
  ASSERT(j && json_array_size(j) == 2);
  json_decref(j);
  buf_reset(&b);
  ASSERT_EQ(jsonrows_write(&t, 1, 2, JSONROWS_NDJSON, &b), 0);
  ASSERT_STREQ(b.data,
               "{\"id\":null,\"na\\\"me\":null,\"x\":-0.00000000025,\"f\":1.25,\"b\":false,\"ts\":null,\"d\":null}\n");
  /* NDJSON out, NDJSON in: the same rows. */
  const bool rq[7] = {false};
  struct rows_schema s = {7, n, ty, rq};
  buf_reset(&b);
  ASSERT_EQ(jsonrows_write(&t, 0, 2, JSONROWS_NDJSON, &b), 0);
  struct table t2;
  oast_err e;
  ASSERT_EQ(jsonrows_read(b.data, b.len, JSONROWS_NDJSON, &s, &t2, &e), 0);
  ASSERT_EQ(t2.nrows, 2);
  ASSERT_EQ(column_i64(&t2.cols[5], 0), 1704164645000000LL);
  ASSERT(column_f64(&t2.cols[2], 1) == -2.5e-10);
  ASSERT(column_is_null(&t2.cols[3], 0));
  table_release(&t2);
  buf_release(&b);
  table_release(&t);
}
