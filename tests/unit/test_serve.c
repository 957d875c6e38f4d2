/* test_serve.c — serving's pieces: input schemas and checks, the protocols' rows, native XGBoost under threads, and
 * the worker protocol's crash and hang handling. */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xgboost/c_api.h>

#include "serve/inputs.h"
#include "serve/worker.h"
#include "serve/xgb.h"
#include "test.h"
#include "util/alloc.h"
#include "util/fs.h"

static json_t *J(const char *text) {
  json_error_t je;
  json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
  if (!j) {
    fprintf(stderr, "bad test JSON %s: %s\n", text, je.text);
    exit(1);
  }
  return j;
}

static struct in_schema *schema(const char *text) {
  json_t *j = J(text);
  struct in_schema *s = NULL;
  oast_err e;
  ASSERT_EQ(schema_parse(j, &s, &e), 0);
  json_decref(j);
  return s;
}

/* rows_check of `rows` gives rc and, when failing, a message containing want. */
static void check(const struct in_schema *s, const char *rows, int rc, const char *want) {
  json_t *j = J(rows);
  oast_err e;
  oast_err_clear(&e);
  int got = rows_check(s, j, "instances", &e);
  json_decref(j);
  if (got != rc || (want && !strstr(e.msg, want))) {
    fprintf(stderr, "rows %s: rc %d (want %d), message \"%s\" (want \"%s\")\n", rows, got, rc, e.msg, want ? want : "");
    exit(1);
  }
}

TEST(serve_schema_parse) {
  struct in_schema *s = schema("{\"input_schema\": {\"columnar_schema\": [{\"name\": \"a\", \"type\": \"int64\"}, "
                               "{\"name\": \"b\", \"type\": \"string\"}]}}");
  ASSERT_EQ(s->kind, SCHEMA_COLUMNS);
  ASSERT_EQ(s->ncols, 2);
  ASSERT_EQ(s->types[0], VT_INT);
  ASSERT_EQ(s->types[1], VT_STRING);
  schema_free(s);
  s = schema("{\"input_schema\": {\"tensor_schema\": [{\"type\": \"float32\", \"shape\": [-1, 2, -1]}]}}");
  ASSERT_EQ(s->kind, SCHEMA_TENSOR);
  ASSERT_EQ(s->ndims, 2);
  ASSERT_EQ(s->dims[0], 2);
  ASSERT_EQ(s->dims[1], -1);
  schema_free(s);
  /* no input schema at all is fine */
  struct in_schema *none = (struct in_schema *)1;
  oast_err e;
  json_t *j = J("{\"output_schema\": {}}");
  ASSERT_EQ(schema_parse(j, &none, &e), 0);
  ASSERT(none == NULL);
  json_decref(j);
  static const char *const bad[][2] = {
      {"{\"input_schema\": {\"columnar_schema\": []}}", "list of 1 to"},
      {"{\"input_schema\": {\"columnar_schema\": [{\"name\": \"a\", \"type\": \"decimal128\"}]}}", "decimal128"},
      {"{\"input_schema\": {\"columnar_schema\": [{\"name\": \"a\", \"type\": \"int\"}, {\"name\": \"a\", \"type\": "
       "\"int\"}]}}",
       "appears twice"},
      {"{\"input_schema\": {\"tensor_schema\": [{\"type\": \"float\", \"shape\": [-1, 0]}]}}", "shape[1]"},
      {"{\"input_schema\": {\"tensor_schema\": [{\"type\": \"float\", \"shape\": [-1]}, {\"type\": \"float\", "
       "\"shape\": [-1]}]}}",
       "exactly one tensor"},
      {"{\"input_schema\": {\"columnar_schema\": [], \"tensor_schema\": []}}", "both"},
      {"[1]", "must be an object"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    j = J(bad[i][0]);
    struct in_schema *out = NULL;
    oast_err_clear(&e);
    ASSERT_EQ(schema_parse(j, &out, &e), OAST_EBAD_REQUEST);
    ASSERT(out == NULL);
    if (!strstr(e.msg, bad[i][1])) {
      fprintf(stderr, "%s: \"%s\" lacks \"%s\"\n", bad[i][0], e.msg, bad[i][1]);
      exit(1);
    }
    json_decref(j);
  }
}

TEST(serve_rows_without_schema_must_agree) {
  check(NULL, "[[1, 2], [3, 4.5], [null, 1]]", 0, NULL);
  check(NULL, "[[1, 2], [3]]", OAST_EBAD_REQUEST, "instances[1] is ragged: it has 1 values where instances[0] has 2");
  check(NULL, "[[1, [2, 3]], [1, [2]]]", OAST_EBAD_REQUEST, "instances[1][1] is ragged");
  check(NULL, "[[1, 2], [1, \"x\"]]", OAST_EBAD_REQUEST, "instances[1][1] is a string where instances[0][1] is an integer");
  check(NULL, "[{\"a\": 1}, {\"b\": 1}]", OAST_EBAD_REQUEST, "instances[1] lacks \"a\", which instances[0] has");
  check(NULL, "[{\"a\": 1}, {\"a\": 1, \"b\": 2}]", OAST_EBAD_REQUEST, "instances[1] has \"b\", which instances[0] lacks");
  check(NULL, "[1, [1]]", OAST_EBAD_REQUEST, "instances[1] is a list where instances[0] is an integer");
  check(NULL, "[]", OAST_EBAD_REQUEST, "is empty");
  check(NULL, "{}", OAST_EBAD_REQUEST, "must be a list");
  check(NULL, "[\"a\", \"b\", true]", OAST_EBAD_REQUEST, "instances[2] is a boolean where instances[0] is a string");
}

TEST(serve_rows_against_schemas) {
  struct in_schema *s = schema("{\"input_schema\": {\"columnar_schema\": [{\"name\": \"age\", \"type\": \"int\"}, "
                               "{\"name\": \"ok\", \"type\": \"boolean\"}, {\"name\": \"w\", \"type\": \"double\"}]}}");
  check(s, "[[1, true, 2.5], [2.0, false, 3], {\"age\": 3, \"ok\": null, \"w\": 1}]", 0, NULL);
  check(s, "[[1, true]]", OAST_EBAD_REQUEST, "has 2 values where the model schema has 3 columns (age, ok, w)");
  check(s, "[[1.5, true, 1]]", OAST_EBAD_REQUEST, "instances[0][0] (column \"age\") is a number where the model schema says int");
  check(s, "[[1, 1, 1]]", OAST_EBAD_REQUEST, "(column \"ok\") is an integer where the model schema says boolean");
  check(s, "[{\"age\": 1, \"ok\": true}]", OAST_EBAD_REQUEST, "instances[0] lacks column \"w\"");
  check(s, "[{\"age\": 1, \"ok\": true, \"w\": \"x\"}]", OAST_EBAD_REQUEST, "instances[0].w is a string");
  check(s, "[\"x\"]", OAST_EBAD_REQUEST, "wants a list of 3 values or an object");
  schema_free(s);
  s = schema("{\"input_schema\": {\"tensor_schema\": [{\"type\": \"double\", \"shape\": [-1, 2, -1]}]}}");
  check(s, "[[[1, 2, 3], [4, 5, 6]], [[1], [2]]]", 0, NULL);
  check(s, "[[[1, 2, 3]]]", OAST_EBAD_REQUEST, "instances[0] has 1 values where the model schema's shape [2, -1] wants 2");
  check(s, "[[[1, 2], 3]]", OAST_EBAD_REQUEST, "instances[0][1] is an integer where the model schema's shape [-1] wants a list");
  check(s, "[[[1, \"a\"], [1, 2]]]", OAST_EBAD_REQUEST, "instances[0][0][1] is a string where the model schema says double");
  schema_free(s);
}

TEST(serve_dense_rows) {
  json_t *rows = J("[[1, 2.5, null], {\"b\": true, \"c\": 4}, [0, false, -1]]");
  char *names[] = {"a", "b", "c"};
  float x[9];
  oast_err e;
  ASSERT_EQ(rows_dense(rows, "instances", 3, names, x, &e), 0);
  ASSERT(x[0] == 1 && x[1] == 2.5f && isnan(x[2]));
  ASSERT(isnan(x[3]) && x[4] == 1 && x[5] == 4);
  ASSERT(x[6] == 0 && x[7] == 0 && x[8] == -1);
  ASSERT_EQ(rows_dense(rows, "instances", 3, NULL, x, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "instances[1] is an object, but the model names no features"));
  json_decref(rows);
  rows = J("[{\"z\": 1}]");
  ASSERT_EQ(rows_dense(rows, "instances", 3, names, x, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "\"z\", which is not a feature"));
  json_decref(rows);
  rows = J("[[1, \"2\", 3]]");
  ASSERT_EQ(rows_dense(rows, "instances", 3, names, x, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "instances[0][1] is a string; the model takes numbers"));
  json_decref(rows);
  rows = J("[7, 8]");
  ASSERT_EQ(rows_dense(rows, "inputs", 1, NULL, x, &e), 0);
  ASSERT(x[0] == 7 && x[1] == 8);
  json_decref(rows);
}

TEST(serve_tf_serving_bodies) {
  json_t *rows;
  bool columnar;
  oast_err e;
  json_t *b = J("{\"inputs\": {\"a\": [1, 2], \"b\": [3, 4]}, \"signature_name\": \"serving_default\"}");
  ASSERT_EQ(tfs_rows(b, VERB_PREDICT, NULL, &rows, &columnar, &e), 0);
  ASSERT(columnar);
  char *t = json_dumps(rows, JSON_COMPACT);
  ASSERT_STREQ(t, "[{\"a\":1,\"b\":3},{\"a\":2,\"b\":4}]");
  free(t);
  json_decref(rows);
  json_decref(b);
  b = J("{\"context\": {\"c\": 9}, \"examples\": [{\"a\": 1}, {\"a\": 2, \"c\": 1}]}");
  ASSERT_EQ(tfs_rows(b, VERB_REGRESS, NULL, &rows, &columnar, &e), 0);
  t = json_dumps(rows, JSON_COMPACT);
  ASSERT_STREQ(t, "[{\"c\":9,\"a\":1},{\"c\":1,\"a\":2}]");
  free(t);
  json_decref(rows);
  json_decref(b);
  static const char *const bad[][2] = {
      {"{}", "needs \"instances\" or \"inputs\""},
      {"{\"instances\": [1], \"inputs\": [1]}", "not both"},
      {"{\"instances\": [1], \"x\": 1}", "unknown field \"x\""},
      {"{\"inputs\": {\"a\": [1], \"b\": 2}}", "inputs.b must be a list"},
      {"{\"examples\": [1]}", "belong to :classify"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    b = J(bad[i][0]);
    oast_err_clear(&e);
    ASSERT_EQ(tfs_rows(b, VERB_PREDICT, NULL, &rows, &columnar, &e), OAST_EBAD_REQUEST);
    if (!strstr(e.msg, bad[i][1])) {
      fprintf(stderr, "%s: \"%s\" lacks \"%s\"\n", bad[i][0], e.msg, bad[i][1]);
      exit(1);
    }
    json_decref(b);
  }
  b = J("{\"examples\": [[1, 2]]}");
  ASSERT_EQ(tfs_rows(b, VERB_CLASSIFY, NULL, &rows, &columnar, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "examples[0] is a list; an example is an object"));
  json_decref(b);
}

TEST(serve_kserve_tensors) {
  json_t *rows;
  oast_err e;
  json_t *b = J("{\"id\": \"q\", \"inputs\": [{\"name\": \"x\", \"shape\": [2, 2, 2], \"datatype\": \"INT32\", "
                "\"data\": [1, 2, 3, 4, 5, 6, 7, 8]}]}");
  ASSERT_EQ(v2_rows(b, NULL, &rows, &e), 0);
  char *t = json_dumps(rows, JSON_COMPACT);
  ASSERT_STREQ(t, "[[[1,2],[3,4]],[[5,6],[7,8]]]");
  free(t);
  json_decref(rows);
  json_decref(b);
  /* several columns become rows; named when the schema names them all */
  struct in_schema *s = schema("{\"input_schema\": {\"columnar_schema\": [{\"name\": \"a\", \"type\": \"int\"}, "
                               "{\"name\": \"b\", \"type\": \"string\"}]}}");
  b = J("{\"inputs\": [{\"name\": \"b\", \"shape\": [2], \"datatype\": \"BYTES\", \"data\": [\"x\", \"y\"]}, "
        "{\"name\": \"a\", \"shape\": [2, 1], \"datatype\": \"INT64\", \"data\": [[1], [2]]}]}");
  ASSERT_EQ(v2_rows(b, s, &rows, &e), 0);
  t = json_dumps(rows, JSON_COMPACT);
  ASSERT_STREQ(t, "[{\"b\":\"x\",\"a\":1},{\"b\":\"y\",\"a\":2}]");
  free(t);
  json_decref(rows);
  json_decref(b);
  schema_free(s);
  static const char *const bad[][2] = {
      {"{\"inputs\": [{\"name\": \"x\", \"shape\": [2], \"datatype\": \"UINT8\", \"data\": [1, -1]}]}",
       "inputs[0].data[1] is an integer, not UINT8"},
      {"{\"inputs\": [{\"name\": \"x\", \"shape\": [0], \"datatype\": \"FP32\", \"data\": []}]}", "has no rows"},
      {"{\"inputs\": [{\"name\": \"x\", \"shape\": [2, 3], \"datatype\": \"FP32\", \"data\": [[1, 2, 3], [4, 5, 6], [7]]}]}",
       "more values than its shape holds"},
      {"{\"inputs\": [{\"name\": \"x\", \"shape\": [1], \"datatype\": \"BOOL\", \"data\": [null]}]}", "is null, not BOOL"},
      {"{\"inputs\": [{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1], \"colour\": 1}]}",
       "unknown field \"colour\""},
      {"{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 2], \"datatype\": \"FP32\", \"data\": [1, 2]}, {\"name\": \"y\", "
       "\"shape\": [1, 2], \"datatype\": \"FP32\", \"data\": [1, 2]}]}",
       "each must be one column"},
      {"{\"id\": 5, \"inputs\": []}", "\"id\" must be a string"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    b = J(bad[i][0]);
    oast_err_clear(&e);
    ASSERT_EQ(v2_rows(b, NULL, &rows, &e), OAST_EBAD_REQUEST);
    if (!strstr(e.msg, bad[i][1])) {
      fprintf(stderr, "%s: \"%s\" lacks \"%s\"\n", bad[i][0], e.msg, bad[i][1]);
      exit(1);
    }
    json_decref(b);
  }
}

TEST(serve_kserve_outputs_and_float_text) {
  json_t *o = v2_output(J("[[1.5, 2], [3, 4]]"), "predict");
  char *t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  ASSERT_STREQ(t, "{\"data\":[1.5,2,3,4],\"datatype\":\"FP64\",\"name\":\"predict\",\"shape\":[2,2]}");
  free(t);
  json_decref(o);
  o = v2_output(J("[1, 2, 3]"), "predict");
  ASSERT_STREQ(json_string_value(json_object_get(o, "datatype")), "INT64");
  json_decref(o);
  o = v2_output(J("[[1], [1, 2]]"), "predict"); /* irregular: JSON text per row */
  ASSERT_STREQ(json_string_value(json_object_get(o, "datatype")), "BYTES");
  ASSERT_STREQ(json_string_value(json_array_get(json_object_get(o, "data"), 1)), "[1,2]");
  json_decref(o);
  char buf[32];
  float samples[] = {0.1f, 1.0f / 3, 123456.789f, -2.5e-8f, 0.97051024f, 16777217.0f, 1e30f};
  for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
    float_text(samples[i], buf, sizeof buf);
    ASSERT(strtof(buf, NULL) == samples[i]);
  }
  float_text(0.5f, buf, sizeof buf);
  ASSERT_STREQ(buf, "0.5");
  float_text(NAN, buf, sizeof buf);
  ASSERT_STREQ(buf, "null");
}

/* ---- native XGBoost ---- */

#define NROWS 200
#define NFEAT 5

/* Trains a small booster through the C API and saves it; returns the path (allocated). */
static char *train_model(const char *objective, int classes) {
  float *x = xmalloc(NROWS * NFEAT * sizeof *x), *y = xmalloc(NROWS * sizeof *y);
  unsigned s = 7;
  for (int i = 0; i < NROWS * NFEAT; i++) x[i] = (float)((s = s * 1103515245u + 12345u) >> 16 & 0x7fff) / 32768.0f;
  for (int i = 0; i < NROWS; i++) {
    float v = x[i * NFEAT] + x[i * NFEAT + 1];
    y[i] = classes > 2 ? (float)((int)(v * classes / 2.0f) % classes) : classes == 2 ? (float)(v > 1) : v * 3;
  }
  DMatrixHandle d;
  ASSERT_EQ(XGDMatrixCreateFromMat(x, NROWS, NFEAT, NAN, &d), 0);
  ASSERT_EQ(XGDMatrixSetFloatInfo(d, "label", y, NROWS), 0);
  BoosterHandle b;
  ASSERT_EQ(XGBoosterCreate(&d, 1, &b), 0);
  XGBoosterSetParam(b, "objective", objective);
  XGBoosterSetParam(b, "max_depth", "4");
  XGBoosterSetParam(b, "nthread", "1");
  if (classes > 2) {
    char n[16];
    snprintf(n, sizeof n, "%d", classes);
    XGBoosterSetParam(b, "num_class", n);
  }
  for (int it = 0; it < 10; it++) ASSERT_EQ(XGBoosterUpdateOneIter(b, it, d), 0);
  char *path = xasprintf("%s/model-%s.json", test_tmpdir(), objective);
  for (char *c = strrchr(path, '/'); *c; c++)
    if (*c == ':') *c = '_';
  ASSERT_EQ(XGBoosterSaveModel(b, path), 0);
  XGBoosterFree(b);
  XGDMatrixFree(d);
  free(x);
  free(y);
  return path;
}

struct job {
  struct xgb_model *m;
  const float *x;
  const float *want;
  size_t width;
  int bad;
};

static void *hammer(void *arg) {
  struct job *j = arg;
  for (int round = 0; round < 20; round++)
    for (int i = 0; i < NROWS; i += 7) {
      float *out = NULL;
      size_t w = 0;
      oast_err e;
      if (xgb_predict(j->m, j->x + (size_t)i * NFEAT, 1, &out, &w, &e) || w != j->width ||
          memcmp(out, j->want + (size_t)i * j->width, w * sizeof *out) != 0)
        j->bad++;
      free(out);
    }
  return NULL;
}

static void native_threads(const char *objective, int classes, size_t width) {
  char *path = train_model(objective, classes);
  struct xgb_model *m;
  oast_err e;
  ASSERT_EQ(xgb_load(path, &m, &e), 0);
  ASSERT_EQ(xgb_num_features(m), NFEAT);
  ASSERT_STREQ(xgb_objective(m), objective);
  float *x = xmalloc(NROWS * NFEAT * sizeof *x), *want = NULL;
  for (int i = 0; i < NROWS * NFEAT; i++) x[i] = (float)((i * 37) % 101) / 100.0f;
  x[3] = NAN; /* a missing value */
  size_t w;
  ASSERT_EQ(xgb_predict(m, x, NROWS, &want, &w, &e), 0);
  ASSERT_EQ(w, width);
  /* Row by row equals the whole batch, and so it stays with four threads at once. */
  pthread_t th[4];
  struct job jobs[4];
  for (int i = 0; i < 4; i++) {
    jobs[i] = (struct job){m, x, want, width, 0};
    pthread_create(&th[i], NULL, hammer, &jobs[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    ASSERT_EQ(jobs[i].bad, 0);
  }
  xgb_free(m);
  free(x);
  free(want);
  free(path);
}

TEST(serve_xgboost_threads_binary) { native_threads("binary:logistic", 2, 1); }
TEST(serve_xgboost_threads_softprob) { native_threads("multi:softprob", 3, 3); }
TEST(serve_xgboost_threads_regression) { native_threads("reg:squarederror", 0, 1); }

TEST(serve_xgboost_bad_file) {
  char *path = xasprintf("%s/model.json", test_tmpdir());
  ASSERT_EQ(fs_write_atomic(path, "{\"not\": \"a model\"}", 19, 0600, NULL), 0);
  struct xgb_model *m = NULL;
  oast_err e;
  ASSERT_EQ(xgb_load(path, &m, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "cannot load the XGBoost model") && strstr(e.msg, "(file model.json)"));
  ASSERT(!strchr(e.msg, '\n')); /* no stack trace */
  free(path);
}

/* ---- the worker protocol, with fake workers written in sh ---- */

static char *fake_worker(const char *name, const char *body) {
  char *path = xasprintf("%s/%s", test_tmpdir(), name);
  char *text = xasprintf("#!/bin/sh\n%s\n", body);
  ASSERT_EQ(fs_write_atomic(path, text, strlen(text), 0755, NULL), 0);
  free(text);
  return path;
}

static int start_fake(struct worker *w, const char *script, int64_t ready_ms, oast_err *e) {
  struct worker_config c = {script, NULL, "{}", test_tmpdir(), -1};
  return worker_start(w, &c, ready_ms, e);
}

/* The ready message: 4 bytes of length (14), then {"ready": true}. */
#define READY "printf '\\000\\000\\000\\016{\"ready\":true}'"

TEST(serve_worker_crash_is_reported_with_its_status) {
  char *sh = fake_worker("crash.sh", READY "\nhead -c 4 >/dev/null\nexit 3");
  struct worker w;
  oast_err e;
  ASSERT_EQ(start_fake(&w, sh, 5000, &e), 0);
  ASSERT(worker_alive(&w));
  char *ans = NULL;
  size_t n;
  ASSERT_EQ(worker_call(&w, "{}", 2, 5000, &ans, &n, &e), OAST_EUNAVAILABLE);
  ASSERT(strstr(e.msg, "exited with status 3 while answering"));
  ASSERT_EQ(w.pid, 0);
  ASSERT(!worker_alive(&w));
  free(sh);
}

TEST(serve_worker_hang_is_killed_at_the_deadline) {
  char *sh = fake_worker("hang.sh", READY "\nsleep 600");
  struct worker w;
  oast_err e;
  ASSERT_EQ(start_fake(&w, sh, 5000, &e), 0);
  pid_t pid = w.pid;
  char *ans = NULL;
  size_t n;
  ASSERT_EQ(worker_call(&w, "{}", 2, 300, &ans, &n, &e), OAST_ETIMEOUT);
  ASSERT(strstr(e.msg, "did not answer within 300 ms and was killed"));
  ASSERT(kill(pid, 0) != 0); /* gone and reaped */
  free(sh);
}

TEST(serve_worker_start_failures) {
  struct worker w;
  oast_err e;
  char *sh = fake_worker("err.sh", "printf '\\000\\000\\000\\024{\"error\":\"no model\"}'; exit 1");
  ASSERT_EQ(start_fake(&w, sh, 5000, &e), OAST_EUNAVAILABLE);
  ASSERT_STREQ(e.msg, "no model");
  free(sh);
  sh = fake_worker("dies.sh", "exit 7");
  ASSERT_EQ(start_fake(&w, sh, 5000, &e), OAST_EUNAVAILABLE);
  ASSERT(strstr(e.msg, "exited with status 7 before it was ready"));
  free(sh);
  sh = fake_worker("slow.sh", "sleep 600");
  ASSERT_EQ(start_fake(&w, sh, 200, &e), OAST_EUNAVAILABLE);
  ASSERT(strstr(e.msg, "did not become ready within 200 ms"));
  free(sh);
  ASSERT_EQ(start_fake(&w, "/nonexistent/python3", 200, &e), OAST_EUNAVAILABLE);
}

TEST(serve_worker_stop_ends_it) {
  char *sh = fake_worker("idle.sh", READY "\ncat >/dev/null");
  struct worker w;
  oast_err e;
  ASSERT_EQ(start_fake(&w, sh, 5000, &e), 0);
  pid_t pid = w.pid;
  worker_stop(&w, 2000); /* closes its stdin: cat ends, so does the script */
  ASSERT_EQ(w.pid, 0);
  ASSERT(kill(pid, 0) != 0);
  free(sh);
}

/* ---- the inference routes in the router ---- */

#include "http/router.h"

TEST(serve_routes_keep_the_verb_in_the_segment) {
  static struct req r;
  oast_err e;
  memset(&r, 0, sizeof r);
  ASSERT_EQ(router_find(&r, "/v1/models/iris:predict", "POST", &e), 0);
  ASSERT_STREQ(r.route->action, "inference.tfserving");
  ASSERT_STREQ(req_param(&r, "name"), "iris:predict");
  ASSERT(r.route->flags & ROUTE_KEEPS_ACCESS);
  router_free_params(&r);
  memset(&r, 0, sizeof r);
  ASSERT_EQ(router_find(&r, "/v1/models/iris/versions/3:classify", "POST", &e), 0);
  ASSERT_STREQ(req_param(&r, "name"), "iris");
  ASSERT_STREQ(req_param(&r, "v"), "3:classify");
  router_free_params(&r);
  memset(&r, 0, sizeof r);
  ASSERT_EQ(router_find(&r, "/v2/models/iris/versions/3/ready", "GET", &e), 0);
  ASSERT_STREQ(r.route->action, "inference.ready");
  router_free_params(&r);
  memset(&r, 0, sizeof r);
  ASSERT_EQ(router_find(&r, "/v2/models/iris/ready", "POST", &e), OAST_EMETHOD);
  memset(&r, 0, sizeof r);
  ASSERT_EQ(router_find(&r, "/v2/health/live", "GET", &e), 0);
  ASSERT_EQ(r.route->access, ACCESS_OPEN);
  /* management routes change access (the cache is dropped after them); inference does not */
  memset(&r, 0, sizeof r);
  ASSERT_EQ(router_find(&r, "/api/v1/projects/p/deployments/d/start", "POST", &e), 0);
  ASSERT(!(r.route->flags & ROUTE_KEEPS_ACCESS));
  router_free_params(&r);
}

TEST(serve_fast_path_reads_only_plain_number_rows) {
  float x[16];
  const char *ok = " {\"instances\" : [ [1, -2.5e1, null] ,[0.125,3,4]]} ";
  ASSERT_EQ(rows_fast_dense(ok, strlen(ok), 3, x, 5), 2);
  ASSERT(x[0] == 1 && x[1] == -25 && isnan(x[2]) && x[3] == 0.125f && x[5] == 4);
  /* anything else is left to the general path, which reports errors */
  static const char *const other[] = {
      "{\"instances\": [[1, 2]]}",               /* ragged against ncols */
      "{\"instances\": [[1, 2, 3, 4]]}",
      "{\"instances\": [[1, \"2\", 3]]}",
      "{\"instances\": [[1, 2, 3]], \"x\": 1}",
      "{\"inputs\": [[1, 2, 3]]}",
      "{\"instances\": [[1, 2, 0x3]]}",
      "{\"instances\": [[1, 2, inf]]}",
      "{\"instances\": [[1, 2, 1e999]]}",
      "{\"instances\": [[1, 2, 3]]",
      "{\"instances\": [[1, 2, 3]]} x",
      "{\"instances\": []}",
      "{\"instances\": [{\"a\": 1}]}",
      "",
  };
  for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
    if (rows_fast_dense(other[i], strlen(other[i]), 3, x, 5) != 0) {
      fprintf(stderr, "fast path took %s\n", other[i]);
      exit(1);
    }
  /* more rows than room: the general path */
  const char *many = "{\"instances\": [[1,2,3],[1,2,3],[1,2,3]]}";
  ASSERT_EQ(rows_fast_dense(many, strlen(many), 3, x, 2), 0);
}
