/* Unit tests of the experiment service's pure parts: the optimizer state
 * in pieces, the experiment spec, base64, repeatable CLI options. */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "cli/command.h"
#include "exp/optimizer.h"
#include "exp/service.h"
#include "test.h"
#include "util/base64.h"

static json_t *J(const char *text) {
  json_error_t je;
  json_t *j = json_loads(text, 0, &je);
  if (!j) fprintf(stderr, "bad test JSON: %s: %s\n", je.text, text);
  ASSERT(j);
  return j;
}

/* ---- opt_save in pieces ---- */

struct store {
  json_t *head;
  json_t *trials; /* by id */
};

static void keep(struct store *st, const struct optimizer *o, int id) {
  json_decref(st->head);
  st->head = opt_save_head(o);
  json_t *rec = opt_save_trial(o, id);
  ASSERT(rec);
  if ((size_t)id < json_array_size(st->trials)) json_array_set_new(st->trials, (size_t)id, rec);
  else {
    ASSERT_EQ(json_array_size(st->trials), id);
    json_array_append_new(st->trials, rec);
  }
}

static void check_pieces(const struct store *st, const struct optimizer *o) {
  json_t *whole = opt_save(o), *pieced = json_deep_copy(st->head);
  json_object_set(pieced, "trials", st->trials);
  ASSERT(json_equal(whole, pieced));
  json_decref(whole);
  json_decref(pieced);
}

static double score(const json_t *p) {
  double s = 0;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)p, k, v) if (json_is_number(v)) s -= (json_number_value(v) - 0.3) * (json_number_value(v) - 0.3);
  return s;
}

/* Runs an optimizer with `width` trials in flight, finishing the oldest
 * first, saving the pieces after every decision as the service does. */
static void run_in_pieces(const char *space, const char *spec, int64_t num_trials) {
  oast_err e;
  struct searchspace ss;
  json_t *sj = J(space), *spj = J(spec);
  ASSERT_EQ(ss_parse(sj, &ss, &e), 0);
  struct optimizer *o;
  ASSERT_EQ(opt_create(spj, NULL, &ss, num_trials, OPT_MAXIMIZE, 99, &o, &e), 0);
  struct store st = {NULL, json_array()};
  int inflight[3], n = 0, decisions = 0;
  for (;;) {
    while (n < 3) {
      struct trial_suggestion s;
      enum opt_next_status ns = opt_next(o, &s);
      if (ns != OPT_TRIAL) break;
      keep(&st, o, s.id);
      inflight[n++] = s.id;
      bool stop;
      ASSERT_EQ(opt_report(o, s.id, 0, score(s.params) / 2, &stop, &e), 0);
      opt_suggestion_release(&s);
    }
    if (!n) break;
    int id = inflight[0];
    memmove(inflight, inflight + 1, sizeof(int) * (size_t)--n);
    json_t *rec = opt_save_trial(o, id);
    double m = score(json_object_get(rec, "params"));
    json_decref(rec);
    ASSERT_EQ(opt_finished(o, id, id % 7 == 3 ? OPT_FAILED : OPT_OK, m, &e), 0);
    keep(&st, o, id);
    if (++decisions % 5 == 0) check_pieces(&st, o);
  }
  check_pieces(&st, o);
  ASSERT(json_array_size(st.trials) > 10);
  ASSERT(opt_save_trial(o, (int)json_array_size(st.trials)) == NULL);
  /* The pieces restore the optimizer. */
  json_t *state = json_deep_copy(st.head);
  json_object_set(state, "trials", st.trials);
  struct optimizer *r;
  ASSERT_EQ(opt_restore(spj, NULL, &ss, num_trials, OPT_MAXIMIZE, 99, state, &r, &e), 0);
  json_t *a = opt_save(o), *b = opt_save(r);
  ASSERT(json_equal(a, b));
  json_decref(a);
  json_decref(b);
  json_decref(state);
  opt_free(r);
  opt_free(o);
  json_decref(st.head);
  json_decref(st.trials);
  json_decref(sj);
  json_decref(spj);
  ss_release(&ss);
}

TEST(exp_opt_pieces_equal_opt_save_de) {
  run_in_pieces("{\"a\": {\"type\": \"double\", \"min\": 0, \"max\": 1}, \"b\": {\"type\": \"integer\", \"min\": 0, "
                "\"max\": 9}}",
                "{\"name\": \"differential_evolution\", \"population\": 5, \"generations\": 4}", 0);
}

TEST(exp_opt_pieces_equal_opt_save_asha) {
  run_in_pieces("{\"a\": {\"type\": \"double\", \"min\": 0, \"max\": 1}}",
                "{\"name\": \"asha\", \"reduction_factor\": 3, \"max_resource\": 9}", 12);
}

TEST(exp_opt_pieces_equal_opt_save_random) {
  run_in_pieces("{\"a\": {\"type\": \"double\", \"min\": 0, \"max\": 1}}", "{\"name\": \"random\"}", 20);
}

/* ---- the spec ---- */

static const char *parse_error(const char *body_text) {
  static oast_err e;
  struct exp_spec sp;
  json_t *b = J(body_text);
  int rc = exp_spec_parse(b, false, &sp, NULL, &e);
  json_decref(b);
  if (rc == 0) {
    exp_spec_release(&sp);
    return NULL;
  }
  ASSERT_EQ(rc, OAST_EBAD_REQUEST);
  return e.msg;
}

#define EXPECT_FIELD(body, field)                                                        \
  do {                                                                                   \
    const char *m_ = parse_error(body);                                                  \
    if (!m_ || strncmp(m_, field, strlen(field)) != 0) {                                 \
      fprintf(stderr, "%s: expected an error naming %s, got %s\n", body, field, m_ ? m_ : "success"); \
      exit(1);                                                                           \
    }                                                                                    \
  } while (0)

TEST(exp_spec_defaults_and_stored_form) {
  oast_err e;
  struct exp_spec sp;
  struct optimizer *o;
  json_t *b = J("{\"name\": \"a1\", \"command\": [\"train\", \"--fast\"], \"files\": {\"train\": \"AA==\"},"
                " \"searchspace\": {\"lr\": {\"type\": \"double\", \"min\": 0.001, \"max\": 0.1}},"
                " \"optimizer\": \"random\", \"num_trials\": 3, \"env\": {\"OMP_NUM_THREADS\": \"1\"}}");
  ASSERT_EQ(exp_spec_parse(b, false, &sp, &o, &e), 0);
  ASSERT(o);
  ASSERT_STREQ(opt_name(o), "random");
  ASSERT_EQ(sp.parallelism, 1);
  ASSERT_EQ(sp.dir, OPT_MAXIMIZE);
  ASSERT_STREQ(sp.metric, "metric");
  ASSERT_STREQ(sp.description, "");
  ASSERT_EQ(sp.cpus, 1);
  ASSERT_EQ(sp.gpus, 0);
  ASSERT(sp.timeout_s == 0);
  ASSERT(sp.seed < (1ull << 53));
  ASSERT(json_object_get(sp.doc, "files") == NULL);
  ASSERT_EQ(json_integer_value(json_object_get(sp.doc, "seed")), (json_int_t)sp.seed);
  ASSERT_STREQ(json_string_value(json_object_get(json_object_get(sp.doc, "optimizer"), "name")), "random");
  exp_spec_set_program(&sp, "train", NULL);
  ASSERT_STREQ(sp.program, "train");
  ASSERT(sp.interpreter == NULL);
  /* The stored form parses to the same experiment (and the same seed). */
  struct exp_spec again;
  ASSERT_EQ(exp_spec_parse(sp.doc, true, &again, NULL, &e), 0);
  ASSERT(json_equal(sp.doc, again.doc));
  ASSERT_EQ(again.seed, sp.seed);
  ASSERT_STREQ(again.program, "train");
  /* ... but "files" is only for requests, "program" only for the stored form. */
  exp_spec_release(&again);
  ASSERT_EQ(exp_spec_parse(b, true, &again, NULL, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "files"));
  ASSERT(parse_error("{\"name\": \"a\", \"command\": [\"x\"], \"program\": {\"file\": \"x\"}}"));
  opt_free(o);
  exp_spec_release(&sp);
  json_decref(b);
}

TEST(exp_spec_errors_name_the_field) {
  EXPECT_FIELD("{\"command\": [\"x\"]}", "name");
  EXPECT_FIELD("{\"name\": \"1a\", \"command\": [\"x\"]}", "name");
  EXPECT_FIELD("{\"name\": \"a\"}", "command");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": \"x\"}", "command");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"\"]}", "command[0]");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\", 3]}", "command[1]");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\"], \"parallelism\": 0}", "parallelism");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\"], \"parallelism\": 1.5}", "parallelism");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\"], \"num_trials\": 10001}", "num_trials");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\"], \"seed\": -1}", "seed");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\"], \"direction\": \"best\"}", "direction");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\"], \"metric\": \"\"}", "metric");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\"], \"timeout_s\": 0}", "timeout_s");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\"], \"resources\": {\"gpus\": -1}}", "resources.gpus");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\"], \"resources\": {\"tpus\": 1}}", "resources");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\"], \"env\": {\"1A\": \"x\"}}", "env");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\"], \"env\": {\"CUDA_VISIBLE_DEVICES\": \"0\"}}",
               "env.CUDA_VISIBLE_DEVICES");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\"], \"resources_paths\": [\"\"]}", "resources_paths[0]");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\"], \"optimizer\": {\"name\": \"grid\"}}", "searchspace");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\"], \"searchspace\": {\"n\": {\"type\": \"integer\", \"min\": 3,"
               " \"max\": 1}}}", "searchspace.n");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\"], \"optimizer\": {\"name\": \"tpe\"}}", "optimizer.name");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\"], \"early_stopping\": {\"policy\": \"median\", \"interval\": 0}}",
               "early_stopping.interval");
  EXPECT_FIELD("{\"name\": \"a\", \"command\": [\"x\"], \"colour\": \"red\"}", "colour");
  ASSERT(parse_error("{\"name\": \"a\", \"command\": [\"x\"], \"seed\": 5, \"direction\": \"min\"}") == NULL);
}

TEST(exp_time_iso_has_microseconds) {
  char t[40];
  exp_time_iso_us(1700000000123456LL, t);
  ASSERT_STREQ(t, "2023-11-14T22:13:20.123456Z");
  exp_time_iso_us(0, t);
  ASSERT_STREQ(t, "1970-01-01T00:00:00.000000Z");
}

/* ---- base64 ---- */

TEST(base64_round_trips_and_refuses_garbage) {
  const char *cases[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *e = base64_encode(cases[i], strlen(cases[i]));
    ASSERT_STREQ(e, enc[i]);
    char *d;
    size_t n;
    ASSERT_EQ(base64_decode(e, strlen(e), &d, &n), 0);
    ASSERT_EQ(n, strlen(cases[i]));
    ASSERT(memcmp(d, cases[i], n) == 0);
    free(d);
    free(e);
  }
  unsigned char all[256];
  for (int i = 0; i < 256; i++) all[i] = (unsigned char)i;
  char *e = base64_encode(all, sizeof all), *d;
  size_t n;
  ASSERT_EQ(base64_decode(e, strlen(e), &d, &n), 0);
  ASSERT_EQ(n, 256);
  ASSERT(memcmp(d, all, 256) == 0);
  free(d);
  free(e);
  ASSERT_EQ(base64_decode("Zm9v\nYmFy", 9, &d, &n), 0); /* whitespace is ignored */
  ASSERT_STREQ(d, "foobar");
  free(d);
  ASSERT_EQ(base64_decode("Zm9v!", 5, &d, &n), -1);
  ASSERT_EQ(base64_decode("Zg==Zg", 6, &d, &n), -1); /* data after padding */
  ASSERT_EQ(base64_decode("Z", 1, &d, &n), -1);       /* a dangling sextet */
}

/* ---- repeatable CLI options ---- */

TEST(cli_opt_all_keeps_every_value_in_order) {
  static const struct cli_opt opts[] = {
      {"grid", 0, "K=V", "g"}, {"random", 0, "K=R", "r"}, {"detach", 'd', NULL, "d"}, {NULL, 0, NULL, NULL}};
  const struct cli_opt *const specs[] = {opts, NULL};
  char *argv[] = {"demo", "--grid", "a=1,2", "-d", "--random=b=0:1", "--grid", "c=x", "--", "--grid", "cmd"};
  struct cli_args a;
  oast_err e;
  ASSERT_EQ(cli_args_parse(&a, specs, 10, argv, &e), 0);
  const char *vals[4];
  ASSERT_EQ(cli_opt_all(&a, "grid", vals, 4), 2);
  ASSERT_STREQ(vals[0], "a=1,2");
  ASSERT_STREQ(vals[1], "c=x");
  ASSERT_STREQ(cli_opt_get(&a, "grid"), "c=x"); /* the last one, as before */
  ASSERT_EQ(cli_opt_all(&a, "random", vals, 4), 1);
  ASSERT_STREQ(vals[0], "b=0:1");
  ASSERT_EQ(cli_opt_all(&a, "grid", vals, 1), 2); /* counts beyond max */
  ASSERT_EQ(cli_opt_all(&a, "nothing", vals, 4), 0);
  ASSERT_EQ(a.npos, 3);
  ASSERT_STREQ(a.pos[1], "--grid");
  cli_args_release(&a);
}
