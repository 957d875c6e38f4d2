/* test_searchspace.c — search space parsing, errors, sampling, grids and enumeration. */
#include <math.h>

#include "exp/searchspace.h"
#include "test.h"

static json_t *J(const char *text) {
  json_error_t je;
  json_t *j = json_loads(text, 0, &je);
  if (!j) fprintf(stderr, "bad test JSON: %s: %s\n", text, je.text);
  ASSERT(j != NULL);
  return j;
}

static void parse_ok(const char *text, struct searchspace *ss) {
  json_t *j = J(text);
  oast_err e;
  int rc = ss_parse(j, ss, &e);
  if (rc) fprintf(stderr, "%s\n", e.msg);
  ASSERT_EQ(rc, 0);
  json_decref(j);
}

static double num(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

TEST(ss_parse_keeps_order_and_types) {
  struct searchspace ss;
  parse_ok("{\"lr\": {\"type\": \"double\", \"min\": 0.001, \"max\": 0.1, \"log\": true},"
           " \"n\": {\"type\": \"integer\", \"min\": 1, \"max\": 8},"
           " \"opt\": {\"type\": \"categorical\", \"values\": [\"adam\", \"sgd\", true, 3]},"
           " \"d\": {\"type\": \"discrete\", \"values\": [0.1, 0.2, 5]}}",
           &ss);
  ASSERT_EQ(ss.n, 4);
  ASSERT_STREQ(ss.params[0].name, "lr");
  ASSERT_EQ(ss.params[0].type, SS_DOUBLE);
  ASSERT(ss.params[0].log);
  ASSERT_STREQ(ss.params[1].name, "n");
  ASSERT_EQ(ss.params[1].type, SS_INTEGER);
  ASSERT_EQ(ss.params[2].type, SS_CATEGORICAL);
  ASSERT_EQ(ss.params[3].type, SS_DISCRETE);
  ASSERT_EQ(ss_find(&ss, "opt"), 2);
  ASSERT_EQ(ss_find(&ss, "nope"), -1);
  ss_release(&ss);
  parse_ok("{}", &ss);
  ASSERT_EQ(ss.n, 0);
  ss_release(&ss);
  oast_err e;
  ASSERT_EQ(ss_parse(NULL, &ss, &e), 0);
  ASSERT_EQ(ss.n, 0);
}

static void expect_error(const char *text, const char *msg) {
  json_t *j = J(text);
  struct searchspace ss;
  oast_err e;
  oast_err_clear(&e);
  int rc = ss_parse(j, &ss, &e);
  if (rc != OAST_EBAD_REQUEST || !strstr(e.msg, msg))
    fprintf(stderr, "input %s\n  expected \"%s\"\n  got %d \"%s\"\n", text, msg, rc, e.msg);
  ASSERT_EQ(rc, OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, msg) != NULL);
  ASSERT_EQ(ss.n, 0);
  ASSERT(ss.params == NULL);
  json_decref(j);
}

TEST(ss_errors_name_the_field) {
  /* the exact sentence of the issue */
  json_t *j = J("{\"lr\": {\"type\": \"double\", \"min\": 0.5, \"max\": 0.1}}");
  struct searchspace ss;
  oast_err e;
  ASSERT_EQ(ss_parse(j, &ss, &e), OAST_EBAD_REQUEST);
  ASSERT_STREQ(e.msg, "searchspace.lr: min (0.5) is greater than max (0.1)");
  json_decref(j);

  expect_error("[1]", "searchspace: must be an object");
  expect_error("{\"lr\": 5}", "searchspace.lr: must be an object");
  expect_error("{\"1x\": {\"type\": \"double\", \"min\": 0, \"max\": 1}}", "parameter name \"1x\"");
  expect_error("{\"lr\": {\"min\": 0, \"max\": 1}}", "searchspace.lr.type: required field is missing");
  expect_error("{\"lr\": {\"type\": \"float\", \"min\": 0, \"max\": 1}}", "searchspace.lr.type: unknown type \"float\"");
  expect_error("{\"lr\": {\"type\": \"double\", \"max\": 1}}", "searchspace.lr.min: required field is missing");
  expect_error("{\"lr\": {\"type\": \"double\", \"min\": 0}}", "searchspace.lr.max: required field is missing");
  expect_error("{\"lr\": {\"type\": \"double\", \"min\": \"a\", \"max\": 1}}", "searchspace.lr.min: must be a number");
  expect_error("{\"lr\": {\"type\": \"double\", \"min\": 0, \"max\": 1, \"log\": 1}}",
               "searchspace.lr.log: must be true or false");
  expect_error("{\"lr\": {\"type\": \"double\", \"min\": 0, \"max\": 1, \"log\": true}}",
               "searchspace.lr: a log scale needs min > 0 (min is 0)");
  expect_error("{\"lr\": {\"type\": \"double\", \"min\": 0, \"max\": 1, \"foo\": 1}}",
               "searchspace.lr: unknown field \"foo\"");
  expect_error("{\"lr\": {\"type\": \"double\", \"min\": 0, \"max\": 1, \"steps\": 1}}",
               "searchspace.lr.steps: 1 is out of range (2 to 1000)");
  expect_error("{\"n\": {\"type\": \"integer\", \"min\": 1.5, \"max\": 3}}", "searchspace.n.min: must be an integer");
  expect_error("{\"n\": {\"type\": \"integer\", \"min\": 0, \"max\": 1e300}}", "searchspace.n.max: must be an integer");
  expect_error("{\"n\": {\"type\": \"integer\", \"min\": 0, \"max\": 9007199254740993}}",
               "searchspace.n.max: 9007199254740993 is out of range");
  expect_error("{\"n\": {\"type\": \"integer\", \"min\": 7, \"max\": 3}}", "searchspace.n: min (7) is greater than max (3)");
  expect_error("{\"n\": {\"type\": \"integer\", \"min\": 0, \"max\": 5, \"log\": true}}",
               "searchspace.n: a log scale needs min >= 1 (min is 0)");
  expect_error("{\"opt\": {\"type\": \"categorical\"}}", "searchspace.opt.values: required field is missing");
  expect_error("{\"opt\": {\"type\": \"categorical\", \"values\": []}}", "searchspace.opt.values: must not be empty");
  expect_error("{\"opt\": {\"type\": \"categorical\", \"values\": \"a\"}}", "searchspace.opt.values: must be an array");
  expect_error("{\"opt\": {\"type\": \"categorical\", \"values\": [\"a\", \"b\", \"a\"]}}",
               "searchspace.opt.values[2]: repeats values[0]");
  expect_error("{\"opt\": {\"type\": \"categorical\", \"values\": [\"a\", {}]}}",
               "searchspace.opt.values[1]: must be a string, number or boolean");
  expect_error("{\"opt\": {\"type\": \"categorical\", \"values\": [\"a\"], \"min\": 1}}",
               "searchspace.opt: unknown field \"min\"");
  expect_error("{\"d\": {\"type\": \"discrete\", \"values\": [1, \"x\"]}}", "searchspace.d.values[1]: must be a number");
  expect_error("{\"d\": {\"type\": \"discrete\", \"values\": [1, 2, 1.0]}}", "searchspace.d.values[2]: repeats values[0]");
  /* the first bad parameter is named, after good ones */
  expect_error("{\"a\": {\"type\": \"integer\", \"min\": 0, \"max\": 1}, \"b\": {\"type\": \"double\", \"min\": 2, "
               "\"max\": 1}}",
               "searchspace.b: min (2) is greater than max (1)");
}

TEST(ss_grid_is_cartesian_and_complete) {
  struct searchspace ss;
  parse_ok("{\"a\": {\"type\": \"categorical\", \"values\": [\"x\", \"y\"]},"
           " \"n\": {\"type\": \"integer\", \"min\": 1, \"max\": 3},"
           " \"lr\": {\"type\": \"double\", \"min\": 1, \"max\": 100, \"log\": true, \"steps\": 3}}",
           &ss);
  uint64_t size;
  oast_err e;
  ASSERT_EQ(ss_grid_size(&ss, &size, &e), 0);
  ASSERT_EQ(size, 18);
  int seen[2][3][3] = {{{0}}};
  for (uint64_t i = 0; i < size; i++) {
    json_t *p = ss_grid_point(&ss, i);
    ASSERT_EQ(json_object_size(p), 3);
    const char *a = json_string_value(json_object_get(p, "a"));
    ASSERT(json_is_integer(json_object_get(p, "n")));
    ASSERT(json_is_real(json_object_get(p, "lr")));
    int ai = a[0] == 'y', ni = (int)num(p, "n") - 1;
    double lr = num(p, "lr");
    int li = lr == 1 ? 0 : fabs(lr - 10) < 1e-9 ? 1 : lr == 100 ? 2 : -1;
    ASSERT(li >= 0);
    /* first parameter slowest, last fastest */
    ASSERT_EQ(ai * 9 + ni * 3 + li, (long long)i);
    seen[ai][ni][li]++;
    json_decref(p);
  }
  for (int a = 0; a < 2; a++)
    for (int n = 0; n < 3; n++)
      for (int l = 0; l < 3; l++) ASSERT_EQ(seen[a][n][l], 1);
  ss_release(&ss);
}

TEST(ss_grid_steps_and_limits) {
  struct searchspace ss;
  uint64_t size;
  oast_err e;
  parse_ok("{\"n\": {\"type\": \"integer\", \"min\": 1, \"max\": 10, \"steps\": 4},"
           " \"m\": {\"type\": \"integer\", \"min\": 1, \"max\": 1000, \"steps\": 4, \"log\": true},"
           " \"k\": {\"type\": \"integer\", \"min\": 1, \"max\": 3, \"steps\": 10}}",
           &ss);
  ASSERT_EQ(ss.params[0].n_grid_ints, 4);
  long long want_n[] = {1, 4, 7, 10}, want_m[] = {1, 10, 100, 1000};
  for (int i = 0; i < 4; i++) {
    ASSERT_EQ(ss.params[0].grid_ints[i], want_n[i]);
    ASSERT_EQ(ss.params[1].grid_ints[i], want_m[i]);
  }
  ASSERT_EQ(ss.params[2].n_grid_ints, 3); /* rounded repeats dropped */
  ASSERT_EQ(ss_grid_size(&ss, &size, &e), 0);
  ASSERT_EQ(size, 48);
  ss_release(&ss);

  parse_ok("{\"a\": {\"type\": \"integer\", \"min\": 0, \"max\": 3}, \"lr\": {\"type\": \"double\", \"min\": 0, "
           "\"max\": 1}}",
           &ss);
  ASSERT_EQ(ss_grid_size(&ss, &size, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "searchspace.lr: grid search needs \"steps\"") != NULL);
  ss_release(&ss);

  parse_ok("{\"a\": {\"type\": \"integer\", \"min\": 0, \"max\": 999}, \"b\": {\"type\": \"integer\", \"min\": 0, "
           "\"max\": 999}}",
           &ss);
  ASSERT_EQ(ss_grid_size(&ss, &size, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "searchspace: the grid has more than 100000 points") != NULL);
  ASSERT_EQ(ss_enum_size(&ss), 0);
  ss_release(&ss);

  parse_ok("{}", &ss);
  ASSERT_EQ(ss_grid_size(&ss, &size, &e), 0);
  ASSERT_EQ(size, 1);
  ss_release(&ss);
}

TEST(ss_sample_bounds_integers_and_log_scale) {
  struct searchspace ss;
  parse_ok("{\"lr\": {\"type\": \"double\", \"min\": 1e-4, \"max\": 1, \"log\": true},"
           " \"x\": {\"type\": \"double\", \"min\": -2, \"max\": 2},"
           " \"n\": {\"type\": \"integer\", \"min\": 1, \"max\": 1000, \"log\": true},"
           " \"k\": {\"type\": \"integer\", \"min\": -3, \"max\": 3},"
           " \"opt\": {\"type\": \"categorical\", \"values\": [\"a\", \"b\", \"c\"]}}",
           &ss);
  struct exp_rng rng;
  exp_rng_seed(&rng, 42);
  int n = 4000, lr_low = 0, n_low = 0, x_neg = 0, k_seen[7] = {0}, opt_seen[3] = {0};
  for (int i = 0; i < n; i++) {
    json_t *p = ss_sample(&ss, &rng);
    double lr = num(p, "lr"), x = num(p, "x");
    ASSERT(lr >= 1e-4 && lr <= 1);
    ASSERT(x >= -2 && x <= 2);
    lr_low += lr < 1e-2;
    x_neg += x < 0;
    ASSERT(json_is_integer(json_object_get(p, "n")));
    ASSERT(json_is_integer(json_object_get(p, "k")));
    long long nv = json_integer_value(json_object_get(p, "n")), kv = json_integer_value(json_object_get(p, "k"));
    ASSERT(nv >= 1 && nv <= 1000);
    ASSERT(kv >= -3 && kv <= 3);
    n_low += nv < 32;
    k_seen[kv + 3]++;
    const char *o = json_string_value(json_object_get(p, "opt"));
    opt_seen[o[0] - 'a']++;
    json_decref(p);
  }
  /* log-uniform: half the mass below the geometric middle (1e-2; ~32 for 1..1000) */
  ASSERT(lr_low > n * 0.45 && lr_low < n * 0.55);
  ASSERT(n_low > n * 0.45 && n_low < n * 0.56);
  ASSERT(x_neg > n * 0.45 && x_neg < n * 0.55);
  for (int i = 0; i < 7; i++) ASSERT(k_seen[i] > n / 7 * 0.8);
  for (int i = 0; i < 3; i++) ASSERT(opt_seen[i] > n / 3 * 0.85);
  ss_release(&ss);
}

TEST(ss_sample_is_deterministic_under_a_seed) {
  struct searchspace ss;
  parse_ok("{\"lr\": {\"type\": \"double\", \"min\": 0, \"max\": 1}, \"n\": {\"type\": \"integer\", \"min\": 0, "
           "\"max\": 1000000}}",
           &ss);
  struct exp_rng a, b, c;
  exp_rng_seed(&a, 7);
  exp_rng_seed(&b, 7);
  exp_rng_seed(&c, 8);
  int differ = 0;
  for (int i = 0; i < 20; i++) {
    json_t *pa = ss_sample(&ss, &a), *pb = ss_sample(&ss, &b), *pc = ss_sample(&ss, &c);
    ASSERT(json_equal(pa, pb));
    differ += !json_equal(pa, pc);
    json_decref(pa);
    json_decref(pb);
    json_decref(pc);
  }
  ASSERT_EQ(differ, 20);
  ss_release(&ss);
}

TEST(ss_unit_mapping_edges_and_center) {
  struct searchspace ss;
  parse_ok("{\"lr\": {\"type\": \"double\", \"min\": 0.001, \"max\": 10, \"log\": true},"
           " \"n\": {\"type\": \"integer\", \"min\": 2, \"max\": 5},"
           " \"d\": {\"type\": \"discrete\", \"values\": [1, 2, 4, 8]}}",
           &ss);
  double lo[] = {0, 0, 0}, hi[] = {1, 1, 1}, out[] = {-5, 7, 2}, mid[] = {0.5, 0.5, 0.5};
  json_t *p = ss_from_unit(&ss, lo);
  ASSERT(num(p, "lr") == 0.001);
  ASSERT_EQ(json_integer_value(json_object_get(p, "n")), 2);
  ASSERT_EQ(json_integer_value(json_object_get(p, "d")), 1);
  json_decref(p);
  p = ss_from_unit(&ss, hi);
  ASSERT(num(p, "lr") == 10);
  ASSERT_EQ(json_integer_value(json_object_get(p, "n")), 5);
  ASSERT_EQ(json_integer_value(json_object_get(p, "d")), 8);
  json_decref(p);
  p = ss_from_unit(&ss, out); /* clamped */
  ASSERT(num(p, "lr") == 0.001);
  ASSERT_EQ(json_integer_value(json_object_get(p, "n")), 5);
  ASSERT_EQ(json_integer_value(json_object_get(p, "d")), 8);
  json_decref(p);
  p = ss_from_unit(&ss, mid);
  ASSERT(fabs(num(p, "lr") - 0.1) < 1e-12);
  ASSERT_EQ(json_integer_value(json_object_get(p, "n")), 4);
  ASSERT_EQ(json_integer_value(json_object_get(p, "d")), 4);
  json_decref(p);
  p = ss_center(&ss);
  ASSERT(fabs(num(p, "lr") - 0.1) < 1e-12);
  ASSERT_EQ(json_integer_value(json_object_get(p, "n")), 3);
  ASSERT_EQ(json_integer_value(json_object_get(p, "d")), 1);
  json_decref(p);
  ss_release(&ss);
}

TEST(ss_enumeration_of_finite_spaces) {
  struct searchspace ss;
  parse_ok("{\"n\": {\"type\": \"integer\", \"min\": 1, \"max\": 3}, \"c\": {\"type\": \"categorical\", \"values\": "
           "[\"u\", \"v\"]}, \"z\": {\"type\": \"double\", \"min\": 0.5, \"max\": 0.5}}",
           &ss);
  ASSERT_EQ(ss_enum_size(&ss), 6);
  json_t *p = ss_enum_point(&ss, 5);
  ASSERT_EQ(json_integer_value(json_object_get(p, "n")), 3);
  ASSERT_STREQ(json_string_value(json_object_get(p, "c")), "v");
  ASSERT(num(p, "z") == 0.5);
  json_decref(p);
  ss_release(&ss);
  parse_ok("{\"n\": {\"type\": \"integer\", \"min\": 1, \"max\": 3}, \"z\": {\"type\": \"double\", \"min\": 0, "
           "\"max\": 1}}",
           &ss);
  ASSERT_EQ(ss_enum_size(&ss), 0);
  ss_release(&ss);
}
