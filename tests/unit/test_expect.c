/* test_expect.c — expectation suites: definition errors and reports. */
#include <math.h>

#include "formats/jsonrows.h"
#include "fstore/expect.h"
#include "test.h"

static const char *const names[] = {"id", "age", "name", "ts", "day", "score", "ok"};
static const enum ftype types[] = {FT_BIGINT, FT_INT, FT_STRING, FT_TIMESTAMP, FT_DATE, FT_DOUBLE, FT_BOOLEAN};

static void data(struct table *t) {
  const char *rows =
      "{\"id\": 1, \"age\": 20, \"name\": \"ann\", \"ts\": \"2024-01-01T00:00:00Z\", \"day\": \"2024-01-01\", \"score\": 0.5, \"ok\": true}\n"
      "{\"id\": 2, \"age\": 17, \"name\": \"bob\", \"ts\": \"2024-01-02T00:00:00Z\", \"day\": \"2024-01-02\", \"score\": 0.75, \"ok\": false}\n"
      "{\"id\": 3, \"age\": 45, \"name\": \"\", \"ts\": \"2023-12-31T23:00:00Z\", \"day\": \"2024-01-03\", \"score\": 0.9, \"ok\": true}\n"
      "{\"id\": 3, \"age\": 150, \"name\": \"Zed\", \"ts\": \"2024-01-05T00:00:00Z\", \"day\": \"2024-02-01\", \"score\": 1.0, \"ok\": true}\n"
      "{}\n";
  const struct rows_schema s = {7, names, types, NULL};
  oast_err e;
  ASSERT_EQ(jsonrows_read(rows, strlen(rows), JSONROWS_NDJSON, &s, t, &e), 0);
  ASSERT_EQ(t->nrows, 5);
}

static void parse_error(const char *suite, const char *want) {
  struct table t;
  data(&t);
  json_t *j = json_loads(suite, 0, NULL);
  ASSERT(j != NULL);
  struct expect_suite *s = (struct expect_suite *)1;
  oast_err e;
  ASSERT_EQ(expect_parse(j, &t, &s, &e), OAST_EBAD_REQUEST);
  ASSERT(s == NULL);
  if (strncmp(e.msg, want, strlen(want)) != 0) ASSERT_STREQ(e.msg, want);
  json_decref(j);
  table_release(&t);
}

TEST(expect_definition_errors_name_rule_and_field) {
  parse_error("[]", "the expectation suite must be a JSON object");
  parse_error("{\"rules\": 5}", "field \"rules\" must be an array");
  parse_error("{\"policy\": \"sometimes\", \"rules\": []}", "field \"policy\" must be \"always\" or \"strict\"");
  parse_error("{\"rules\": [], \"colour\": 1}", "unknown field \"colour\"");
  parse_error("{\"rules\": [{\"column\": \"id\", \"rule\": \"unique\"}, 7]}", "rules[1]: must be an object");
  parse_error("{\"rules\": [{\"column\": \"id\", \"rule\": \"sorted\"}]}",
              "rules[0].rule: unknown rule \"sorted\"; the rules are not_null, unique, min, max, between, in_set, "
              "regex, mean_between and completeness_at_least");
  parse_error("{\"rules\": [{\"rule\": \"unique\"}]}", "rules[0].column: is required");
  parse_error("{\"rules\": [{\"column\": \"agee\", \"rule\": \"unique\"}]}", "rules[0].column: no column \"agee\"");
  parse_error("{\"rules\": [{\"column\": \"age\", \"rule\": \"min\", \"vale\": 3}]}",
              "rules[0]: unknown field \"vale\" for rule \"min\"");
  parse_error("{\"rules\": [{\"column\": \"age\", \"rule\": \"min\"}]}", "rules[0].value: is required");
  parse_error("{\"rules\": [{\"column\": \"age\", \"rule\": \"max\", \"value\": \"9\"}]}",
              "rules[0].value: expected a number");
  parse_error("{\"rules\": [{\"column\": \"name\", \"rule\": \"min\", \"value\": 1}]}",
              "rules[0].column: \"name\" is a string column; rule \"min\" needs a numeric, timestamp or date column");
  parse_error("{\"rules\": [{\"column\": \"ts\", \"rule\": \"min\", \"value\": \"soon\"}]}",
              "rules[0].value: \"soon\" is not a timestamp");
  parse_error("{\"rules\": [{\"column\": \"age\", \"rule\": \"between\"}]}",
              "rules[0]: rule \"between\" needs \"min\", \"max\" or both");
  parse_error("{\"rules\": [{\"column\": \"age\", \"rule\": \"between\", \"min\": 5, \"max\": 1}]}",
              "rules[0].min: is greater than \"max\"");
  parse_error("{\"rules\": [{\"column\": \"id\", \"rule\": \"in_set\", \"values\": [1, \"2\"]}]}",
              "rules[0].values[1]: expected an integer, got a string");
  parse_error("{\"rules\": [{\"column\": \"id\", \"rule\": \"in_set\", \"values\": [1, null]}]}",
              "rules[0].values[1]: null is not allowed (nulls always pass)");
  parse_error("{\"rules\": [{\"column\": \"age\", \"rule\": \"regex\", \"pattern\": \"a\"}]}",
              "rules[0].column: \"age\" is a int column; rule \"regex\" needs a string column");
  parse_error("{\"rules\": [{\"column\": \"name\", \"rule\": \"regex\", \"pattern\": \"(a)\\\\1\"}]}",
              "rules[0].pattern: back-references are not supported");
  parse_error("{\"rules\": [{\"column\": \"name\", \"rule\": \"regex\", \"pattern\": \"(a\"}]}", "rules[0].pattern: ");
  parse_error("{\"rules\": [{\"column\": \"name\", \"rule\": \"mean_between\", \"min\": 1}]}",
              "rules[0].column: \"name\" is a string column; rule \"mean_between\" needs a numeric or boolean column");
  parse_error("{\"rules\": [{\"column\": \"age\", \"rule\": \"completeness_at_least\", \"value\": 1.5}]}",
              "rules[0].value: must be a number from 0 to 1");
}

static json_t *run(const char *suite, bool *ok, enum expect_policy *policy) {
  struct table t;
  data(&t);
  json_t *j = json_loads(suite, 0, NULL);
  struct expect_suite *s;
  oast_err e;
  ASSERT_EQ(expect_parse(j, &t, &s, &e), 0);
  if (policy) *policy = expect_suite_policy(s);
  json_t *rep = expect_run(s, &t, ok);
  expect_suite_free(s);
  json_decref(j);
  table_release(&t);
  return rep;
}

static void result_is(json_t *rep, size_t i, const char *want) {
  char *got = json_dumps(json_array_get(json_object_get(rep, "results"), i), JSON_COMPACT | JSON_REAL_PRECISION(15));
  ASSERT_STREQ(got, want);
  free(got);
}

TEST(expect_passing_suite) {
  bool ok = false;
  enum expect_policy p;
  json_t *rep = run("{\"policy\": \"strict\", \"rules\": ["
                    "{\"column\": \"name\", \"rule\": \"regex\", \"pattern\": \"^[a-zA-Z]*$\"},"
                    "{\"column\": \"ok\", \"rule\": \"in_set\", \"values\": [true, false]},"
                    "{\"column\": \"day\", \"rule\": \"between\", \"min\": \"2024-01-01\", \"max\": \"2024-12-31\"},"
                    "{\"column\": \"score\", \"rule\": \"mean_between\", \"min\": 0.7, \"max\": 0.8},"
                    "{\"column\": \"id\", \"rule\": \"completeness_at_least\", \"value\": 0.8}]}",
                    &ok, &p);
  ASSERT(ok);
  ASSERT_EQ(p, EXPECT_STRICT);
  ASSERT(json_is_true(json_object_get(rep, "success")));
  result_is(rep, 0, "{\"rule\":\"regex\",\"column\":\"name\",\"success\":true,\"unexpected_count\":0}");
  result_is(rep, 2,
            "{\"rule\":\"between\",\"column\":\"day\",\"success\":true,\"observed\":{\"min\":\"2024-01-01\",\"max\":"
            "\"2024-02-01\"},\"unexpected_count\":0}");
  result_is(rep, 3, "{\"rule\":\"mean_between\",\"column\":\"score\",\"success\":true,\"observed\":0.7875,\"unexpected_count\":0}");
  result_is(rep, 4,
            "{\"rule\":\"completeness_at_least\",\"column\":\"id\",\"success\":true,\"observed\":0.8,"
            "\"unexpected_count\":1,\"unexpected_examples\":[{\"row\":5}]}");
  json_decref(rep);
}

TEST(expect_failing_rules_report_rows_and_values) {
  bool ok = true;
  enum expect_policy p;
  json_t *rep = run("{\"rules\": ["
                    "{\"column\": \"id\", \"rule\": \"not_null\"},"
                    "{\"column\": \"id\", \"rule\": \"unique\"},"
                    "{\"column\": \"age\", \"rule\": \"min\", \"value\": 18},"
                    "{\"column\": \"age\", \"rule\": \"max\", \"value\": 120},"
                    "{\"column\": \"name\", \"rule\": \"in_set\", \"values\": [\"ann\", \"bob\"]},"
                    "{\"column\": \"name\", \"rule\": \"regex\", \"pattern\": \"^[a-z]+$\"},"
                    "{\"column\": \"ts\", \"rule\": \"min\", \"value\": \"2024-01-01\"},"
                    "{\"column\": \"score\", \"rule\": \"mean_between\", \"max\": 0.5},"
                    "{\"column\": \"age\", \"rule\": \"completeness_at_least\", \"value\": 0.9}]}",
                    &ok, &p);
  ASSERT(!ok);
  ASSERT_EQ(p, EXPECT_ALWAYS);
  ASSERT(json_is_false(json_object_get(rep, "success")));
  result_is(rep, 0,
            "{\"rule\":\"not_null\",\"column\":\"id\",\"success\":false,\"unexpected_count\":1,"
            "\"unexpected_examples\":[{\"row\":5}]}");
  result_is(rep, 1,
            "{\"rule\":\"unique\",\"column\":\"id\",\"success\":false,\"observed\":3,\"unexpected_count\":1,"
            "\"unexpected_examples\":[{\"row\":4,\"value\":3}]}");
  result_is(rep, 2,
            "{\"rule\":\"min\",\"column\":\"age\",\"success\":false,\"observed\":17,\"unexpected_count\":1,"
            "\"unexpected_examples\":[{\"row\":2,\"value\":17}]}");
  result_is(rep, 3,
            "{\"rule\":\"max\",\"column\":\"age\",\"success\":false,\"observed\":150,\"unexpected_count\":1,"
            "\"unexpected_examples\":[{\"row\":4,\"value\":150}]}");
  result_is(rep, 4,
            "{\"rule\":\"in_set\",\"column\":\"name\",\"success\":false,\"unexpected_count\":2,"
            "\"unexpected_examples\":[{\"row\":3,\"value\":\"\"},{\"row\":4,\"value\":\"Zed\"}]}");
  result_is(rep, 5,
            "{\"rule\":\"regex\",\"column\":\"name\",\"success\":false,\"unexpected_count\":2,"
            "\"unexpected_examples\":[{\"row\":3,\"value\":\"\"},{\"row\":4,\"value\":\"Zed\"}]}");
  result_is(rep, 6,
            "{\"rule\":\"min\",\"column\":\"ts\",\"success\":false,\"observed\":\"2023-12-31T23:00:00Z\","
            "\"unexpected_count\":1,\"unexpected_examples\":[{\"row\":3,\"value\":\"2023-12-31T23:00:00Z\"}]}");
  result_is(rep, 7, "{\"rule\":\"mean_between\",\"column\":\"score\",\"success\":false,\"observed\":0.7875,\"unexpected_count\":0}");
  result_is(rep, 8,
            "{\"rule\":\"completeness_at_least\",\"column\":\"age\",\"success\":false,\"observed\":0.8,"
            "\"unexpected_count\":1,\"unexpected_examples\":[{\"row\":5}]}");
  json_decref(rep);
}

TEST(expect_examples_are_capped_and_nan_fails_bounds) {
  const char *n[] = {"v", "s"};
  enum ftype ty[] = {FT_DOUBLE, FT_STRING};
  struct table t;
  table_init(&t, 2, n, ty);
  for (int i = 0; i < 100; i++) {
    column_append_f64(&t.cols[0], i == 50 ? NAN : i % 10);
    column_append_str(&t.cols[1], "a\0b", 3);
  }
  table_check(&t, NULL);
  json_t *j = json_loads("{\"rules\": [{\"column\": \"v\", \"rule\": \"unique\"},"
                         "{\"column\": \"v\", \"rule\": \"between\", \"min\": 0, \"max\": 9},"
                         "{\"column\": \"s\", \"rule\": \"regex\", \"pattern\": \"b$\"}]}",
                         0, NULL);
  struct expect_suite *s;
  oast_err e;
  ASSERT_EQ(expect_parse(j, &t, &s, &e), 0);
  bool ok;
  json_t *rep = expect_run(s, &t, &ok);
  json_t *u = json_array_get(json_object_get(rep, "results"), 0);
  ASSERT_EQ(json_integer_value(json_object_get(u, "unexpected_count")), 89);
  ASSERT_EQ(json_integer_value(json_object_get(u, "observed")), 11);
  ASSERT_EQ(json_array_size(json_object_get(u, "unexpected_examples")), EXPECT_EXAMPLES);
  result_is(rep, 1,
            "{\"rule\":\"between\",\"column\":\"v\",\"success\":false,\"observed\":{\"min\":0.0,\"max\":9.0},"
            "\"unexpected_count\":1,\"unexpected_examples\":[{\"row\":51,\"value\":null}]}");
  /* The whole value is matched, past an embedded NUL byte. */
  json_t *r = json_array_get(json_object_get(rep, "results"), 2);
  ASSERT(json_is_true(json_object_get(r, "success")));
  json_decref(rep);
  json_decref(j);
  expect_suite_free(s);
  table_release(&t);
}
