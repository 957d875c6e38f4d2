/* test_table.c — the columnar batch and its date/time text forms. */
#include "formats/table.h"
#include "test.h"

TEST(table_append_and_read) {
  const char *names[] = {"id", "name", "score"};
  enum ftype types[] = {FT_BIGINT, FT_STRING, FT_DOUBLE};
  struct table t;
  table_init(&t, 3, names, types);
  for (int i = 0; i < 100; i++) {
    column_append_i64(&t.cols[0], i);
    if (i % 10 == 0)
      column_append_null(&t.cols[1]);
    else
      column_append_str(&t.cols[1], "abc", (size_t)(i % 4));
    column_append_f64(&t.cols[2], i * 0.5);
  }
  ASSERT_EQ(table_check(&t, NULL), 0);
  ASSERT_EQ(t.nrows, 100);
  ASSERT_EQ(table_find(&t, "score"), 2);
  ASSERT_EQ(table_find(&t, "nope"), -1);
  size_t n;
  const char *s = column_str(&t.cols[1], 7, &n);
  ASSERT_EQ(n, 3);
  ASSERT(memcmp(s, "abc", 3) == 0);
  ASSERT(column_is_null(&t.cols[1], 20));
  ASSERT(column_f64(&t.cols[2], 9) == 4.5);
  column_append_i64(&t.cols[0], 1);
  oast_err e;
  ASSERT_EQ(table_check(&t, &e), OAST_EINTERNAL);
  table_release(&t);
}

TEST(type_names) {
  ASSERT_EQ(ftype_from_name("timestamp"), FT_TIMESTAMP);
  ASSERT_EQ(ftype_from_name("varchar"), -1);
  ASSERT_STREQ(ftype_name(FT_BOOLEAN), "boolean");
}

TEST(dates_and_timestamps) {
  int32_t d;
  ASSERT_EQ(date_parse("1970-01-02", 10, &d), 0);
  ASSERT_EQ(d, 1);
  ASSERT_EQ(date_parse("2024-02-29", 10, &d), 0);
  ASSERT_EQ(date_parse("2023-02-29", 10, &d), -1);
  ASSERT_EQ(date_parse("1969-12-31", 10, &d), 0);
  ASSERT_EQ(d, -1);
  char out[40];
  date_format(19782, out, sizeof out);
  ASSERT_STREQ(out, "2024-02-29");
  int64_t us;
  ASSERT_EQ(timestamp_parse("2024-01-02T03:04:05Z", 20, &us), 0);
  timestamp_format(us, out, sizeof out);
  ASSERT_STREQ(out, "2024-01-02T03:04:05Z");
  ASSERT_EQ(timestamp_parse("2024-01-02 03:04:05.25", 22, &us), 0);
  timestamp_format(us, out, sizeof out);
  ASSERT_STREQ(out, "2024-01-02T03:04:05.250000Z");
  ASSERT_EQ(timestamp_parse("2024-01-02T05:04:05+02:00", 25, &us), 0);
  timestamp_format(us, out, sizeof out);
  ASSERT_STREQ(out, "2024-01-02T03:04:05Z");
  ASSERT_EQ(timestamp_parse("1000", 4, &us), 0);
  ASSERT_EQ(us, 1000000);
  ASSERT_EQ(timestamp_parse("2024-13-01", 10, &us), -1);
  ASSERT_EQ(timestamp_parse("yesterday", 9, &us), -1);
  timestamp_format(-1, out, sizeof out);
  ASSERT_STREQ(out, "1969-12-31T23:59:59.999999Z");
}
