/* test_online.c — the LMDB online store: apply, get, overwrite, drop, markers, reopen. */
#include "fstore/online.h"
#include "test.h"
#include "util/alloc.h"

static void schema(struct table *t) {
  const char *names[] = {"id", "name", "score", "ts", "ok"};
  enum ftype types[] = {FT_BIGINT, FT_STRING, FT_DOUBLE, FT_TIMESTAMP, FT_BOOLEAN};
  table_init(t, 5, names, types);
}

static void row(struct table *t, int64_t id, const char *name, double score) {
  column_append_i64(&t->cols[0], id);
  if (name) column_append_str(&t->cols[1], name, strlen(name));
  else column_append_null(&t->cols[1]);
  column_append_f64(&t->cols[2], score);
  column_append_i64(&t->cols[3], 1700000000000000LL + id);
  column_append_bool(&t->cols[4], id % 2);
  table_check(t, NULL);
}

TEST(online_apply_get_overwrite_drop) {
  struct online *o;
  oast_err e;
  char *dir = xasprintf("%s/online", test_tmpdir());
  ASSERT_EQ(online_open(&o, dir, 1 << 24, &e), 0);
  struct table t;
  schema(&t);
  int pk[] = {0};
  row(&t, 1, "a", 0.5);
  row(&t, 2, NULL, 1.5);
  row(&t, 1, "a2", 2.5); /* later row wins */
  ASSERT_EQ(online_apply(o, 7, &t, pk, 1, 3, &e), 0);
  ASSERT_EQ(online_marker(o, 7), 3);
  ASSERT_EQ(online_marker(o, 8), 0);
  json_t *k = json_integer(1), *res = NULL;
  ASSERT_EQ(online_get(o, 7, &t, pk, 1, &k, &res, &e), 0);
  ASSERT(res != NULL);
  ASSERT_STREQ(json_string_value(json_array_get(res, 1)), "a2");
  ASSERT(json_real_value(json_array_get(res, 2)) == 2.5);
  ASSERT_STREQ(json_string_value(json_array_get(res, 3)), "2023-11-14T22:13:20.000001Z");
  ASSERT(json_is_true(json_array_get(res, 4)));
  json_decref(res);
  json_decref(k);
  k = json_integer(2);
  ASSERT_EQ(online_get(o, 7, &t, pk, 1, &k, &res, &e), 0);
  ASSERT(json_is_null(json_array_get(res, 1)));
  json_decref(res);
  json_decref(k);
  /* Same key in another group: not found. */
  k = json_integer(1);
  ASSERT_EQ(online_get(o, 8, &t, pk, 1, &k, &res, &e), 0);
  ASSERT(res == NULL);
  json_decref(k);
  /* Wrong key type is a 400 naming the key. */
  k = json_string("1");
  ASSERT_EQ(online_get(o, 7, &t, pk, 1, &k, &res, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "\"id\"") != NULL);
  json_decref(k);
  ASSERT_EQ(online_drop(o, 7, &e), 0);
  ASSERT_EQ(online_marker(o, 7), 0);
  k = json_integer(1);
  ASSERT_EQ(online_get(o, 7, &t, pk, 1, &k, &res, &e), 0);
  ASSERT(res == NULL);
  json_decref(k);
  table_release(&t);
  online_free(o);
  free(dir);
}

TEST(online_survives_reopen_and_composite_keys) {
  struct online *o;
  oast_err e;
  char *dir = xasprintf("%s/online", test_tmpdir());
  ASSERT_EQ(online_open(&o, dir, 1 << 24, &e), 0);
  struct table t;
  schema(&t);
  int pk[] = {1, 0}; /* name, id */
  for (int i = 0; i < 1000; i++) {
    char n[16];
    snprintf(n, sizeof n, "k%d", i % 10);
    row(&t, i, n, i);
  }
  ASSERT_EQ(online_apply(o, 1, &t, pk, 2, 42, &e), 0);
  online_free(o);
  ASSERT_EQ(online_open(&o, dir, 1 << 24, &e), 0);
  ASSERT_EQ(online_marker(o, 1), 42);
  json_t *key[2] = {json_string("k7"), json_integer(517)}, *res = NULL;
  ASSERT_EQ(online_get(o, 1, &t, pk, 2, key, &res, &e), 0);
  ASSERT(res && json_real_value(json_array_get(res, 2)) == 517.0);
  json_decref(res);
  json_decref(key[1]);
  key[1] = json_integer(518); /* k8 owns 518 */
  ASSERT_EQ(online_get(o, 1, &t, pk, 2, key, &res, &e), 0);
  ASSERT(res == NULL);
  json_decref(key[0]);
  json_decref(key[1]);
  table_release(&t);
  online_free(o);
  free(dir);
}
