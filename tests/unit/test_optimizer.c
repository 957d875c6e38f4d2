/* test_optimizer.c — every optimizer, early stopping, bad specs, and save/restore. */
#include <math.h>

#include "exp/optimizer.h"
#include "test.h"

static json_t *J(const char *text) {
  json_error_t je;
  json_t *j = json_loads(text, 0, &je);
  if (!j) fprintf(stderr, "bad test JSON: %s: %s\n", text, je.text);
  ASSERT(j != NULL);
  return j;
}

/* An experiment under test: its search space and optimizer. */
struct exp {
  struct searchspace ss;
  struct optimizer *o;
  json_t *spec, *es;
  int64_t num_trials;
  enum opt_direction dir;
  uint64_t seed;
};

static void setup(struct exp *x, const char *ss, const char *spec, const char *es, int64_t num_trials,
                  enum opt_direction dir, uint64_t seed) {
  oast_err e;
  json_t *sj = J(ss);
  ASSERT_EQ(ss_parse(sj, &x->ss, &e), 0);
  json_decref(sj);
  x->spec = J(spec);
  x->es = es ? J(es) : NULL;
  x->num_trials = num_trials;
  x->dir = dir;
  x->seed = seed;
  int rc = opt_create(x->spec, x->es, &x->ss, num_trials, dir, seed, &x->o, &e);
  if (rc) fprintf(stderr, "%s\n", e.msg);
  ASSERT_EQ(rc, 0);
}

static void teardown(struct exp *x) {
  opt_free(x->o);
  ss_release(&x->ss);
  json_decref(x->spec);
  json_decref(x->es);
}

static double num(const json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

static void finish(struct optimizer *o, int id, enum opt_outcome out, double metric) {
  oast_err e;
  int rc = opt_finished(o, id, out, metric, &e);
  if (rc) fprintf(stderr, "%s\n", e.msg);
  ASSERT_EQ(rc, 0);
}

/* Runs trials one at a time with metric f until DONE; returns how many ran. */
static int run_sequential(struct optimizer *o, double (*f)(const json_t *), json_t *collect) {
  struct trial_suggestion s;
  int n = 0;
  enum opt_next_status st;
  while ((st = opt_next(o, &s)) == OPT_TRIAL) {
    ASSERT_EQ(s.id, n);
    if (collect) json_array_append(collect, s.params);
    finish(o, s.id, OPT_OK, f(s.params));
    opt_suggestion_release(&s);
    n++;
  }
  ASSERT_EQ(st, OPT_DONE);
  ASSERT_EQ(opt_running_count(o), 0);
  return n;
}

static double f_sum(const json_t *p) {
  double s = 0;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)p, k, v) if (json_is_number(v)) s += json_number_value(v);
  return s;
}

static bool all_distinct(const json_t *arr) {
  for (size_t i = 0; i < json_array_size(arr); i++)
    for (size_t k = 0; k < i; k++)
      if (json_equal(json_array_get(arr, i), json_array_get(arr, k))) return false;
  return true;
}

TEST(opt_grid_runs_the_whole_grid_once) {
  struct exp x;
  setup(&x, "{\"a\": {\"type\": \"discrete\", \"values\": [1, 2, 3]}, \"b\": {\"type\": \"integer\", \"min\": 0, "
            "\"max\": 3}}",
        "{\"name\": \"grid\"}", NULL, 0, OPT_MAXIMIZE, 1);
  json_t *all = json_array();
  ASSERT_EQ(run_sequential(x.o, f_sum, all), 12);
  ASSERT(all_distinct(all));
  ASSERT_EQ(num(json_array_get(all, 0), "a"), 1);
  ASSERT_EQ(num(json_array_get(all, 0), "b"), 0);
  ASSERT_EQ(num(json_array_get(all, 11), "a"), 3);
  ASSERT_EQ(num(json_array_get(all, 11), "b"), 3);
  double best;
  ASSERT_EQ(opt_best(x.o, &best), 11);
  ASSERT(best == 6);
  json_decref(all);
  teardown(&x);
}

TEST(opt_random_never_repeats_and_ends_when_space_is_exhausted) {
  struct exp x;
  setup(&x, "{\"c\": {\"type\": \"categorical\", \"values\": [\"a\", \"b\", \"c\"]}, \"n\": {\"type\": \"integer\", "
            "\"min\": 1, \"max\": 4}}",
        "{\"name\": \"random\"}", NULL, 50, OPT_MAXIMIZE, 3);
  json_t *all = json_array();
  ASSERT_EQ(run_sequential(x.o, f_sum, all), 12);
  ASSERT(all_distinct(all));
  json_decref(all);
  teardown(&x);
}

TEST(opt_random_is_deterministic_integral_and_log_scaled) {
  const char *ss = "{\"lr\": {\"type\": \"double\", \"min\": 1e-5, \"max\": 1, \"log\": true}, \"n\": {\"type\": "
                   "\"integer\", \"min\": 1, \"max\": 100}}";
  struct exp a, b, c;
  setup(&a, ss, "{\"name\": \"random\"}", NULL, 400, OPT_MINIMIZE, 11);
  setup(&b, ss, "{\"name\": \"random\"}", NULL, 400, OPT_MINIMIZE, 11);
  setup(&c, ss, "{\"name\": \"random\"}", NULL, 400, OPT_MINIMIZE, 12);
  json_t *la = json_array(), *lb = json_array(), *lc = json_array();
  ASSERT_EQ(run_sequential(a.o, f_sum, la), 400);
  ASSERT_EQ(run_sequential(b.o, f_sum, lb), 400);
  ASSERT_EQ(run_sequential(c.o, f_sum, lc), 400);
  ASSERT(json_equal(la, lb));
  ASSERT(!json_equal(la, lc));
  ASSERT(all_distinct(la));
  int low = 0;
  for (size_t i = 0; i < json_array_size(la); i++) {
    json_t *p = json_array_get(la, i);
    ASSERT(json_is_integer(json_object_get(p, "n")));
    double lr = num(p, "lr");
    ASSERT(lr >= 1e-5 && lr <= 1);
    low += lr < 1e-3; /* 2/5 of the log range */
  }
  ASSERT(low > 400 * 0.3 && low < 400 * 0.5);
  json_decref(la);
  json_decref(lb);
  json_decref(lc);
  teardown(&a);
  teardown(&b);
  teardown(&c);
}

TEST(opt_single_gives_one_trial) {
  struct exp x;
  setup(&x, "{}", "{\"name\": \"single\", \"params\": {\"lr\": 0.1, \"layers\": [1, 2]}}", NULL, 0, OPT_MAXIMIZE, 1);
  json_t *all = json_array();
  ASSERT_EQ(run_sequential(x.o, f_sum, all), 1);
  json_t *want = J("{\"lr\": 0.1, \"layers\": [1, 2]}");
  ASSERT(json_equal(json_array_get(all, 0), want));
  json_decref(want);
  json_decref(all);
  teardown(&x);

  setup(&x, "{\"n\": {\"type\": \"integer\", \"min\": 0, \"max\": 10}}", "{\"name\": \"single\"}", NULL, 5,
        OPT_MAXIMIZE, 1);
  all = json_array();
  ASSERT_EQ(run_sequential(x.o, f_sum, all), 1);
  ASSERT_EQ(num(json_array_get(all, 0), "n"), 5);
  json_decref(all);
  teardown(&x);
}

TEST(opt_ablation_leaves_one_out) {
  struct exp x;
  setup(&x, "{}", "{\"name\": \"ablation\", \"features\": [\"age\", \"income\"], \"components\": [\"dense_1\"], "
                  "\"params\": {\"epochs\": 3}}",
        NULL, 0, OPT_MAXIMIZE, 1);
  json_t *all = json_array();
  ASSERT_EQ(run_sequential(x.o, f_sum, all), 4);
  json_t *want = J("[{\"epochs\": 3, \"ablated_feature\": null, \"ablated_component\": null},"
                   " {\"epochs\": 3, \"ablated_feature\": \"age\", \"ablated_component\": null},"
                   " {\"epochs\": 3, \"ablated_feature\": \"income\", \"ablated_component\": null},"
                   " {\"epochs\": 3, \"ablated_feature\": null, \"ablated_component\": \"dense_1\"}]");
  ASSERT(json_equal(all, want));
  json_decref(want);
  json_decref(all);
  teardown(&x);
}

/* A quadratic bowl with its minimum 0 at x = 0.3, y = -0.2 (k, c add a little). */
static double bowl(const json_t *p) {
  double x = num(p, "x"), y = num(p, "y"), k = num(p, "k");
  const char *c = json_string_value(json_object_get(p, "c"));
  return (x - 0.3) * (x - 0.3) + (y + 0.2) * (y + 0.2) + 0.01 * fabs(k - 2) + (strcmp(c, "good") ? 0.05 : 0);
}

static const char *bowl_space = "{\"x\": {\"type\": \"double\", \"min\": -1, \"max\": 1},"
                                " \"y\": {\"type\": \"double\", \"min\": -1, \"max\": 1},"
                                " \"k\": {\"type\": \"integer\", \"min\": 0, \"max\": 5},"
                                " \"c\": {\"type\": \"categorical\", \"values\": [\"bad\", \"good\", \"ugly\"]}}";

/* Runs with up to `width` trials in flight, finishing them in a scrambled but
 * fixed order; returns the suggestions' params in order. */
static json_t *run_async(struct optimizer *o, double (*f)(const json_t *), int width) {
  json_t *all = json_array();
  int inflight[64], n = 0, round = 0;
  for (;;) {
    struct trial_suggestion s;
    enum opt_next_status st = OPT_WAIT;
    while (n < width && (st = opt_next(o, &s)) == OPT_TRIAL) {
      ASSERT_EQ((size_t)s.id, json_array_size(all));
      json_array_append(all, s.params);
      inflight[n++] = s.id;
      opt_suggestion_release(&s);
    }
    if (n == 0) {
      ASSERT_EQ(st, OPT_DONE);
      break;
    }
    int pick = (round++ * 7) % n;
    int id = inflight[pick];
    inflight[pick] = inflight[--n];
    finish(o, id, OPT_OK, f(json_array_get(all, (size_t)id)));
  }
  return all;
}

TEST(opt_de_stays_in_bounds_and_improves_a_quadratic) {
  struct exp x;
  setup(&x, bowl_space,
        "{\"name\": \"differential_evolution\", \"population\": 12, \"generations\": 25, \"mutation\": 0.6, "
        "\"crossover\": 0.8}",
        NULL, 0, OPT_MINIMIZE, 5);
  json_t *all = run_async(x.o, bowl, 4);
  ASSERT_EQ(json_array_size(all), 12 * 25);
  double first = INFINITY, best_all = INFINITY;
  for (size_t i = 0; i < json_array_size(all); i++) {
    json_t *p = json_array_get(all, i);
    ASSERT(num(p, "x") >= -1 && num(p, "x") <= 1);
    ASSERT(num(p, "y") >= -1 && num(p, "y") <= 1);
    ASSERT(json_is_integer(json_object_get(p, "k")));
    ASSERT(num(p, "k") >= 0 && num(p, "k") <= 5);
    double v = bowl(p);
    if (i < 12 && v < first) first = v;
    if (v < best_all) best_all = v;
  }
  double best;
  int id = opt_best(x.o, &best);
  ASSERT(id >= 12);
  ASSERT(best == best_all);
  ASSERT(best < first);
  ASSERT(best < 0.005);
  /* the optimizer's own coordinates stay clipped to the unit cube */
  json_t *state = opt_save(x.o);
  json_t *trials = json_object_get(state, "trials");
  ASSERT_EQ(json_array_size(trials), 300);
  for (size_t i = 0; i < json_array_size(trials); i++) {
    json_t *u = json_object_get(json_array_get(trials, i), "unit");
    ASSERT_EQ(json_array_size(u), 4);
    for (size_t k = 0; k < 4; k++) {
      double v = json_number_value(json_array_get(u, k));
      ASSERT(v >= 0 && v <= 1);
    }
  }
  json_decref(state);
  json_t *bp = json_array_get(all, (size_t)id);
  ASSERT_STREQ(json_string_value(json_object_get(bp, "c")), "good");
  ASSERT_EQ(num(bp, "k"), 2);

  /* same seed, same calls: the same trials; another seed: others */
  struct exp y, z;
  setup(&y, bowl_space,
        "{\"name\": \"differential_evolution\", \"population\": 12, \"generations\": 25, \"mutation\": 0.6, "
        "\"crossover\": 0.8}",
        NULL, 0, OPT_MINIMIZE, 5);
  setup(&z, bowl_space, "{\"name\": \"differential_evolution\", \"population\": 12, \"generations\": 25, "
                        "\"mutation\": 0.6, \"crossover\": 0.8}",
        NULL, 0, OPT_MINIMIZE, 6);
  json_t *ally = run_async(y.o, bowl, 4), *allz = run_async(z.o, bowl, 4);
  ASSERT(json_equal(all, ally));
  ASSERT(!json_equal(all, allz));
  json_decref(all);
  json_decref(ally);
  json_decref(allz);
  teardown(&x);
  teardown(&y);
  teardown(&z);
}

TEST(opt_de_generations_default_from_num_trials) {
  struct exp x;
  setup(&x, bowl_space, "{\"name\": \"differential_evolution\", \"population\": 5}", NULL, 23, OPT_MINIMIZE, 1);
  json_t *all = run_async(x.o, bowl, 1);
  ASSERT_EQ(json_array_size(all), 25); /* ceil(23 / 5) = 5 generations */
  json_decref(all);
  teardown(&x);
}

/* ---- ASHA ---- */

static struct trial_suggestion next_trial(struct optimizer *o) {
  struct trial_suggestion s;
  ASSERT_EQ(opt_next(o, &s), OPT_TRIAL);
  return s;
}

static void expect_status(struct optimizer *o, enum opt_next_status want) {
  struct trial_suggestion s;
  ASSERT_EQ(opt_next(o, &s), want);
  ASSERT(s.params == NULL);
}

TEST(opt_asha_promotes_as_soon_as_a_rung_allows) {
  struct exp x;
  setup(&x, "{\"q\": {\"type\": \"double\", \"min\": 0, \"max\": 1}}",
        "{\"name\": \"asha\", \"reduction_factor\": 2, \"min_resource\": 1, \"max_resource\": 4}", NULL, 4,
        OPT_MAXIMIZE, 9);
  struct trial_suggestion t[8];
  for (int i = 0; i < 4; i++) {
    t[i] = next_trial(x.o);
    ASSERT_EQ(t[i].id, i);
    ASSERT(t[i].budget == 1);
    ASSERT_EQ(t[i].rung, 0);
    ASSERT_EQ(t[i].parent, -1);
    ASSERT(json_is_integer(json_object_get(t[i].params, "budget")));
    ASSERT_EQ(num(t[i].params, "budget"), 1);
  }
  expect_status(x.o, OPT_WAIT); /* all configurations sampled, none finished */
  finish(x.o, 0, OPT_OK, 0.1);
  expect_status(x.o, OPT_WAIT); /* rung 0 has 1 result: top floor(1/2) = 0 */
  finish(x.o, 1, OPT_OK, 0.9);
  t[4] = next_trial(x.o); /* 2 results: the best, trial 1, goes up */
  ASSERT_EQ(t[4].id, 4);
  ASSERT_EQ(t[4].parent, 1);
  ASSERT_EQ(t[4].rung, 1);
  ASSERT(t[4].budget == 2);
  ASSERT_EQ(num(t[4].params, "budget"), 2);
  ASSERT(num(t[4].params, "q") == num(t[1].params, "q"));
  finish(x.o, 2, OPT_OK, 0.5);
  expect_status(x.o, OPT_WAIT); /* 3 results: top 1 is trial 1, already promoted */
  finish(x.o, 3, OPT_OK, 0.7);
  t[5] = next_trial(x.o); /* 4 results: top 2 are trials 1 and 3 */
  ASSERT_EQ(t[5].parent, 3);
  ASSERT_EQ(t[5].rung, 1);
  finish(x.o, 4, OPT_OK, 0.95);
  expect_status(x.o, OPT_WAIT);
  finish(x.o, 5, OPT_OK, 0.8);
  t[6] = next_trial(x.o); /* rung 1 has 2 results: trial 4 goes to the top rung */
  ASSERT_EQ(t[6].parent, 4);
  ASSERT_EQ(t[6].rung, 2);
  ASSERT(t[6].budget == 4);
  expect_status(x.o, OPT_WAIT);
  finish(x.o, 6, OPT_OK, 0.97);
  expect_status(x.o, OPT_DONE);
  double best;
  ASSERT_EQ(opt_best(x.o, &best), 6);
  ASSERT(best == 0.97);
  for (int i = 0; i < 7; i++) opt_suggestion_release(&t[i]);
  teardown(&x);
}

TEST(opt_asha_finishes_at_max_resource) {
  struct exp x;
  setup(&x, "{\"q\": {\"type\": \"double\", \"min\": 0, \"max\": 1}}",
        "{\"name\": \"asha\", \"reduction_factor\": 3, \"min_resource\": 1, \"max_resource\": 10}", NULL, 2,
        OPT_MINIMIZE, 9);
  struct trial_suggestion a = next_trial(x.o), b = next_trial(x.o);
  finish(x.o, a.id, OPT_OK, 0.3);
  finish(x.o, b.id, OPT_OK, 0.2);
  /* 2 results, floor(2/3) = 0: nothing promotable, nothing left to sample, nothing
   * running: the best goes up anyway, to 3, then to the top (max_resource 10) */
  struct trial_suggestion c = next_trial(x.o);
  ASSERT_EQ(c.parent, b.id);
  ASSERT(c.budget == 3);
  finish(x.o, c.id, OPT_OK, 0.1);
  struct trial_suggestion d = next_trial(x.o);
  ASSERT_EQ(d.parent, c.id);
  ASSERT(d.budget == 10);
  ASSERT_EQ(d.rung, 2);
  finish(x.o, d.id, OPT_OK, 0.05);
  expect_status(x.o, OPT_DONE);
  opt_suggestion_release(&a);
  opt_suggestion_release(&b);
  opt_suggestion_release(&c);
  opt_suggestion_release(&d);
  teardown(&x);
}

/* Synthetic learning curves: loss falls with budget, ordered by quality q. */
static double curve(const json_t *p) { return num(p, "q") + 1.0 / num(p, "budget"); }

TEST(opt_asha_follows_the_rule_on_synthetic_curves) {
  /* An independent check of Algorithm 2: before each suggestion, work out from
   * the results so far which configuration must be promoted, if any. */
  struct exp x;
  setup(&x, "{\"q\": {\"type\": \"double\", \"min\": 0, \"max\": 1}}",
        "{\"name\": \"asha\", \"reduction_factor\": 3, \"min_resource\": 1, \"max_resource\": 9}", NULL, 27,
        OPT_MINIMIZE, 21);
  enum { MAXT = 200 };
  int rung[MAXT], inflight[8], n = 0, ntr = 0, round = 0, per_rung[3] = {0};
  bool ended[MAXT] = {false}, promoted[MAXT] = {false};
  double metric[MAXT];
  json_t *params[MAXT];
  for (;;) {
    struct trial_suggestion s;
    enum opt_next_status st = OPT_WAIT;
    while (n < 5) {
      int want = -1;
      for (int k = 1; k >= 0 && want < 0; k--) {
        int ids[MAXT], m = 0;
        for (int i = 0; i < ntr; i++)
          if (rung[i] == k && ended[i]) ids[m++] = i;
        for (int i = 0; i < m; i++) /* sort by metric (all distinct here) */
          for (int j = i + 1; j < m; j++)
            if (metric[ids[j]] < metric[ids[i]]) {
              int t = ids[i];
              ids[i] = ids[j];
              ids[j] = t;
            }
        for (int i = 0; i < m / 3 && want < 0; i++)
          if (!promoted[ids[i]]) want = ids[i];
      }
      if ((st = opt_next(x.o, &s)) != OPT_TRIAL) break;
      ASSERT_EQ(s.id, ntr);
      ASSERT_EQ(s.parent, want);
      if (want >= 0) {
        ASSERT_EQ(s.rung, rung[want] + 1);
        ASSERT(num(s.params, "q") == num(params[want], "q"));
        promoted[want] = true;
      }
      ASSERT(s.budget == (s.rung == 0 ? 1 : s.rung == 1 ? 3 : 9));
      ASSERT(num(s.params, "budget") == s.budget);
      rung[ntr] = s.rung;
      per_rung[s.rung]++;
      params[ntr++] = json_incref(s.params);
      inflight[n++] = s.id;
      opt_suggestion_release(&s);
    }
    if (n == 0) {
      ASSERT_EQ(st, OPT_DONE);
      break;
    }
    int pick = (round++ * 7) % n, id = inflight[pick];
    inflight[pick] = inflight[--n];
    metric[id] = curve(params[id]);
    ended[id] = true;
    finish(x.o, id, OPT_OK, metric[id]);
  }
  ASSERT_EQ(per_rung[0], 27);
  ASSERT(per_rung[1] >= 9); /* asynchronous promotion may take a few more than n / eta */
  ASSERT(per_rung[2] >= 3);
  double best;
  int id = opt_best(x.o, &best);
  ASSERT_EQ(rung[id], 2);
  for (int i = 0; i < ntr; i++) json_decref(params[i]);
  teardown(&x);
}

/* ---- median early stopping ---- */

static bool report(struct optimizer *o, int id, int64_t step, double v) {
  bool stop;
  oast_err e;
  ASSERT_EQ(opt_report(o, id, step, v, &stop, &e), 0);
  return stop;
}

TEST(opt_median_rule_decisions) {
  struct exp x;
  setup(&x, "{\"q\": {\"type\": \"double\", \"min\": 0, \"max\": 1}}", "{\"name\": \"random\"}",
        "{\"policy\": \"median\", \"min_trials\": 2, \"interval\": 1}", 10, OPT_MAXIMIZE, 1);
  struct trial_suggestion s[6];
  s[0] = next_trial(x.o);
  ASSERT(!report(x.o, 0, 0, 1));
  ASSERT(!report(x.o, 0, 1, 2));
  ASSERT(!report(x.o, 0, 2, 3));
  finish(x.o, 0, OPT_OK, 3);
  s[1] = next_trial(x.o);
  ASSERT(!report(x.o, 1, 0, 0)); /* only 1 finished trial < min_trials */
  finish(x.o, 1, OPT_FAILED, NAN); /* failed ones do not count */
  s[2] = next_trial(x.o);
  ASSERT(!report(x.o, 2, 0, 0));
  ASSERT(!report(x.o, 2, 1, 0));
  finish(x.o, 2, OPT_OK, 0); /* it did not know yet; finished: averages 0 */
  /* finished: trial 0 [1,2,3], trial 2 [0,0] */
  s[3] = next_trial(x.o);
  ASSERT(!report(x.o, 3, 0, 0.5)); /* step 1: median of 1 and 0 = 0.5; best 0.5 is not worse */
  ASSERT(!report(x.o, 3, 1, 0.8)); /* step 2: averages 1.5 and 0, median 0.75 */
  ASSERT(report(x.o, 3, 2, 0.1)); /* step 3: only trial 0 has 3 reports, average 2; best 0.8 < 2: stop */
  finish(x.o, 3, OPT_EARLY_STOPPED, NAN);
  s[4] = next_trial(x.o); /* finished: [1,2,3], [0,0], [0.5,0.8,0.1] (early-stopped ones count) */
  ASSERT(report(x.o, 4, 0, 0.4)); /* step 1: averages 1, 0, 0.5 -> median 0.5; 0.4 is worse: stop */
  ASSERT(report(x.o, 4, 1, 9));   /* once stopped, stays stopped */
  finish(x.o, 4, OPT_EARLY_STOPPED, NAN);
  json_t *st = opt_save(x.o);
  json_t *t3 = json_array_get(json_object_get(st, "trials"), 3), *t4 = json_array_get(json_object_get(st, "trials"), 4);
  ASSERT(num(t3, "metric") == 0.1); /* no final metric: the last report */
  ASSERT_STREQ(json_string_value(json_object_get(t3, "state")), "early_stopped");
  ASSERT_STREQ(json_string_value(json_object_get(t4, "state")), "early_stopped");
  ASSERT(num(t4, "metric") == 9);
  json_decref(st);
  for (int i = 0; i < 5; i++) opt_suggestion_release(&s[i]);
  teardown(&x);
}

TEST(opt_median_rule_step_three_and_interval) {
  /* the step-3 case above, made to stop: best-so-far under the median of averages */
  struct exp x;
  setup(&x, "{\"q\": {\"type\": \"double\", \"min\": 0, \"max\": 1}}", "{\"name\": \"random\"}",
        "{\"policy\": \"median\", \"min_trials\": 2, \"interval\": 2}", 10, OPT_MINIMIZE, 1);
  struct trial_suggestion s[4];
  double hist[2][4] = {{4, 3, 2, 1}, {8, 6, 4, 2}};
  for (int k = 0; k < 2; k++) {
    s[k] = next_trial(x.o);
    for (int i = 0; i < 4; i++) ASSERT(!report(x.o, k, i, hist[k][i]));
    finish(x.o, k, OPT_OK, hist[k][3]);
  }
  /* minimize. averages of the first 2: 3.5 and 7, median 5.25; of the first 4: 2.5 and 5, median 3.75 */
  s[2] = next_trial(x.o);
  ASSERT(!report(x.o, 2, 0, 100)); /* report 1: not a multiple of interval 2, no decision */
  ASSERT(!report(x.o, 2, 1, 5));   /* report 2: best 5 < 5.25: keep */
  ASSERT(!report(x.o, 2, 2, 4.5)); /* report 3: no decision */
  ASSERT(report(x.o, 2, 3, 4));    /* report 4: best 4 > 3.75: stop */
  s[3] = next_trial(x.o);
  ASSERT(!report(x.o, 3, 0, 100));
  ASSERT(report(x.o, 3, 1, 6)); /* 6 > 5.25 */
  oast_err e;
  bool stop;
  ASSERT_EQ(opt_report(x.o, 3, -1, 1, &stop, &e), OAST_EBAD_REQUEST);
  for (int i = 0; i < 4; i++) opt_suggestion_release(&s[i]);
  teardown(&x);
}

/* ---- bad input ---- */

static void expect_bad(const char *ss, const char *spec, const char *es, int64_t num_trials, const char *msg) {
  oast_err e;
  struct searchspace space;
  json_t *sj = J(ss), *pj = J(spec), *ej = es ? J(es) : NULL;
  ASSERT_EQ(ss_parse(sj, &space, &e), 0);
  struct optimizer *o = (struct optimizer *)1;
  oast_err_clear(&e);
  int rc = opt_create(pj, ej, &space, num_trials, OPT_MAXIMIZE, 1, &o, &e);
  if (rc != OAST_EBAD_REQUEST || !strstr(e.msg, msg))
    fprintf(stderr, "spec %s\n  expected \"%s\"\n  got %d \"%s\"\n", spec, msg, rc, e.msg);
  ASSERT_EQ(rc, OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, msg) != NULL);
  ASSERT(o == NULL);
  ss_release(&space);
  json_decref(sj);
  json_decref(pj);
  json_decref(ej);
}

TEST(opt_bad_specs_name_the_field) {
  const char *q = "{\"q\": {\"type\": \"double\", \"min\": 0, \"max\": 1}}";
  expect_bad(q, "[]", NULL, 5, "optimizer: must be an object");
  expect_bad(q, "{}", NULL, 5, "optimizer.name: required field is missing");
  expect_bad(q, "{\"name\": \"hyperband\"}", NULL, 5, "optimizer.name: unknown optimizer \"hyperband\"");
  expect_bad(q, "{\"name\": \"random\", \"foo\": 1}", NULL, 5, "optimizer: unknown field \"foo\"");
  expect_bad(q, "{\"name\": \"random\"}", NULL, 0, "num_trials: the random optimizer needs num_trials");
  expect_bad(q, "{\"name\": \"random\"}", NULL, 20000, "num_trials: 20000 is more than 10000");
  expect_bad("{}", "{\"name\": \"random\"}", NULL, 5, "searchspace: the random optimizer needs at least one parameter");
  expect_bad(q, "{\"name\": \"grid\"}", NULL, 0, "searchspace.q: grid search needs \"steps\"");
  expect_bad("{\"a\": {\"type\": \"integer\", \"min\": 0, \"max\": 200}, \"b\": {\"type\": \"integer\", \"min\": 0, "
             "\"max\": 200}}",
             "{\"name\": \"grid\"}", NULL, 0, "searchspace: the grid has 40401 points, more than 10000 trials");
  expect_bad(q, "{\"name\": \"single\", \"params\": 3}", NULL, 0, "optimizer.params: must be an object");
  expect_bad(q, "{\"name\": \"differential_evolution\", \"population\": 2}", NULL, 10,
             "optimizer.population: 2 is out of range (4 to 1000)");
  expect_bad(q, "{\"name\": \"differential_evolution\", \"mutation\": 3}", NULL, 10,
             "optimizer.mutation: must be greater than 0 and at most 2");
  expect_bad(q, "{\"name\": \"differential_evolution\", \"crossover\": -0.5}", NULL, 10,
             "optimizer.crossover: must be between 0 and 1");
  expect_bad(q, "{\"name\": \"differential_evolution\", \"crossover\": \"high\"}", NULL, 10,
             "optimizer.crossover: must be a number");
  expect_bad(q, "{\"name\": \"differential_evolution\"}", NULL, 0,
             "optimizer.generations: required unless num_trials is given");
  expect_bad(q, "{\"name\": \"differential_evolution\", \"population\": 100, \"generations\": 101}", NULL, 0,
             "optimizer.generations: population x generations is 10100");
  expect_bad(q, "{\"name\": \"asha\"}", NULL, 10, "optimizer.max_resource: required field is missing");
  expect_bad(q, "{\"name\": \"asha\", \"min_resource\": 5, \"max_resource\": 1}", NULL, 10,
             "optimizer.min_resource: min_resource (5) is greater than max_resource (1)");
  expect_bad(q, "{\"name\": \"asha\", \"min_resource\": 0, \"max_resource\": 1}", NULL, 10,
             "optimizer.min_resource: must be greater than 0");
  expect_bad(q, "{\"name\": \"asha\", \"reduction_factor\": 1, \"max_resource\": 9}", NULL, 10,
             "optimizer.reduction_factor: 1 is out of range");
  expect_bad(q, "{\"name\": \"asha\", \"max_resource\": 9}", NULL, 0, "num_trials: the asha optimizer needs");
  expect_bad("{\"budget\": {\"type\": \"integer\", \"min\": 0, \"max\": 3}}", "{\"name\": \"asha\", \"max_resource\": 9}",
             NULL, 10, "searchspace.budget: this name is reserved by the asha optimizer");
  expect_bad(q, "{\"name\": \"asha\", \"max_resource\": 9}", "{\"policy\": \"median\"}", 10,
             "early_stopping.policy: median cannot be combined with the asha optimizer");
  expect_bad(q, "{\"name\": \"random\"}", "{\"policy\": \"mean\"}", 10, "early_stopping.policy: unknown policy \"mean\"");
  expect_bad(q, "{\"name\": \"random\"}", "{\"min_trials\": 3}", 10, "early_stopping.policy: required field is missing");
  expect_bad(q, "{\"name\": \"random\"}", "{\"policy\": \"median\", \"interval\": 0}", 10,
             "early_stopping.interval: 0 is out of range");
  expect_bad(q, "{\"name\": \"random\"}", "{\"policy\": \"median\", \"min_trials\": \"x\"}", 10,
             "early_stopping.min_trials: must be an integer");
  expect_bad(q, "{\"name\": \"random\"}", "{\"policy\": \"median\", \"every\": 2}", 10,
             "early_stopping: unknown field \"every\"");
  expect_bad(q, "{\"name\": \"random\"}", "[]", 10, "early_stopping: must be an object");
  expect_bad(q, "{\"name\": \"ablation\"}", NULL, 0,
             "optimizer.features: ablation needs at least one name in \"features\" or \"components\"");
  expect_bad(q, "{\"name\": \"ablation\", \"features\": [\"a\", \"\"]}", NULL, 0,
             "optimizer.features[1]: must be a non-empty string");
  expect_bad(q, "{\"name\": \"ablation\", \"components\": [\"l1\", \"l1\"]}", NULL, 0,
             "optimizer.components[1]: repeats components[0]");
  expect_bad(q, "{\"name\": \"ablation\", \"features\": \"a\"}", NULL, 0, "optimizer.features: must be an array");
  expect_bad("{\"ablated_feature\": {\"type\": \"integer\", \"min\": 0, \"max\": 3}}",
             "{\"name\": \"ablation\", \"features\": [\"a\"]}", NULL, 0,
             "searchspace.ablated_feature: this name is reserved by the ablation optimizer");
  expect_bad(q, "{\"name\": \"ablation\", \"features\": [\"a\"], \"params\": {\"ablated_component\": 1}}", NULL, 0,
             "optimizer.params.ablated_component: this name is reserved");
  enum opt_direction d;
  oast_err e;
  ASSERT_EQ(opt_direction_parse("up", &d, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "direction: must be \"max\" or \"min\"") != NULL);
  ASSERT_EQ(opt_direction_parse("min", &d, &e), 0);
  ASSERT_EQ(d, OPT_MINIMIZE);
}

TEST(opt_misuse_is_refused) {
  struct exp x;
  setup(&x, "{\"q\": {\"type\": \"double\", \"min\": 0, \"max\": 1}}", "{\"name\": \"random\"}", NULL, 3,
        OPT_MAXIMIZE, 1);
  struct trial_suggestion s = next_trial(x.o);
  oast_err e;
  bool stop;
  ASSERT_EQ(opt_report(x.o, 7, 0, 1, &stop, &e), OAST_ENOT_FOUND);
  ASSERT(strstr(e.msg, "trial 7") != NULL);
  ASSERT_EQ(opt_finished(x.o, -1, OPT_OK, 1, &e), OAST_ENOT_FOUND);
  finish(x.o, 0, OPT_OK, 1);
  ASSERT_EQ(opt_report(x.o, 0, 0, 1, &stop, &e), OAST_ECONFLICT);
  ASSERT_EQ(opt_finished(x.o, 0, OPT_OK, 1, &e), OAST_ECONFLICT);
  opt_suggestion_release(&s);
  teardown(&x);
}

/* ---- save and restore ---- */

/*
 * Drives `a` with up to `width` trials in flight for `steps` finishes,
 * saves it, restores a twin from the saved text, and checks that the twin
 * first hands out the in-flight trials again (same ids and params, rerun),
 * then makes exactly the same suggestions as `a` under the same calls.
 */
static void check_resume(const char *ss, const char *spec, int64_t num_trials, double (*f)(const json_t *),
                         int width, int steps) {
  struct exp a;
  setup(&a, ss, spec, NULL, num_trials, OPT_MINIMIZE, 77);
  json_t *params = json_array();
  int inflight[32], n = 0, round = 0;
  struct trial_suggestion s;
  for (int k = 0; k < steps; k++) {
    while (n < width && opt_next(a.o, &s) == OPT_TRIAL) {
      json_array_append(params, s.params);
      inflight[n++] = s.id;
      opt_suggestion_release(&s);
    }
    ASSERT(n > 0);
    int pick = (round++ * 5) % n, id = inflight[pick];
    inflight[pick] = inflight[--n];
    finish(a.o, id, (id % 7 == 3) ? OPT_FAILED : OPT_OK, f(json_array_get(params, (size_t)id)));
  }
  while (n < width && opt_next(a.o, &s) == OPT_TRIAL) {
    json_array_append(params, s.params);
    inflight[n++] = s.id;
    opt_suggestion_release(&s);
  }
  ASSERT(n > 0);
  json_t *state = opt_save(a.o);
  char *text = json_dumps(state, JSON_COMPACT);
  json_decref(state);
  json_error_t je;
  state = json_loads(text, 0, &je);
  free(text);

  struct optimizer *b;
  oast_err e;
  int rc = opt_restore(a.spec, NULL, &a.ss, num_trials, OPT_MINIMIZE, 77, state, &b, &e);
  if (rc) fprintf(stderr, "%s\n", e.msg);
  ASSERT_EQ(rc, 0);
  ASSERT_EQ(opt_trial_count(b), opt_trial_count(a.o));
  ASSERT_EQ(opt_running_count(b), n);
  /* the lost trials come back first, lowest id first, unchanged */
  int sorted[32];
  memcpy(sorted, inflight, sizeof(int) * (size_t)n);
  for (int i = 0; i < n; i++)
    for (int k = i + 1; k < n; k++)
      if (sorted[k] < sorted[i]) {
        int t = sorted[i];
        sorted[i] = sorted[k];
        sorted[k] = t;
      }
  for (int i = 0; i < n; i++) {
    ASSERT_EQ(opt_next(b, &s), OPT_TRIAL);
    ASSERT(s.rerun);
    ASSERT_EQ(s.id, sorted[i]);
    ASSERT(json_equal(s.params, json_array_get(params, (size_t)s.id)));
    opt_suggestion_release(&s);
  }
  /* then both behave identically */
  for (int guard = 0; guard < 100000; guard++) {
    struct trial_suggestion sa, sb;
    enum opt_next_status sta = opt_next(a.o, &sa), stb = opt_next(b, &sb);
    ASSERT_EQ(sta, stb);
    if (sta == OPT_TRIAL) {
      ASSERT_EQ(sa.id, sb.id);
      ASSERT(!sb.rerun);
      ASSERT(json_equal(sa.params, sb.params));
      ASSERT(sa.budget == sb.budget);
      ASSERT_EQ(sa.parent, sb.parent);
      json_array_append(params, sa.params);
      inflight[n++] = sa.id;
      opt_suggestion_release(&sa);
      opt_suggestion_release(&sb);
      if (n < width) continue;
    }
    if (n == 0) {
      ASSERT_EQ(sta, OPT_DONE);
      break;
    }
    int pick = (round++ * 5) % n, id = inflight[pick];
    inflight[pick] = inflight[--n];
    double m = f(json_array_get(params, (size_t)id));
    finish(a.o, id, OPT_OK, m);
    finish(b, id, OPT_OK, m);
  }
  json_t *sa = opt_save(a.o), *sb = opt_save(b);
  ASSERT(json_equal(sa, sb));
  json_decref(sa);
  json_decref(sb);
  json_decref(state);
  json_decref(params);
  opt_free(b);
  teardown(&a);
}

TEST(opt_resume_random) { check_resume(bowl_space, "{\"name\": \"random\"}", 40, bowl, 3, 15); }
TEST(opt_resume_grid) {
  check_resume("{\"a\": {\"type\": \"integer\", \"min\": 0, \"max\": 5}, \"b\": {\"type\": \"discrete\", \"values\": "
               "[1, 2, 3]}}",
               "{\"name\": \"grid\"}", 0, f_sum, 3, 7);
}
TEST(opt_resume_differential_evolution) {
  check_resume(bowl_space, "{\"name\": \"differential_evolution\", \"population\": 6, \"generations\": 8}", 0, bowl, 4,
               20);
}
TEST(opt_resume_asha) {
  check_resume("{\"q\": {\"type\": \"double\", \"min\": 0, \"max\": 1}}",
               "{\"name\": \"asha\", \"reduction_factor\": 3, \"max_resource\": 9}", 20, curve, 4, 12);
}
TEST(opt_resume_ablation) {
  check_resume("{}", "{\"name\": \"ablation\", \"features\": [\"a\", \"b\", \"c\"], \"components\": [\"x\"]}", 0,
               f_sum, 2, 2);
}

TEST(opt_restore_refuses_a_state_that_does_not_fit) {
  struct exp x;
  setup(&x, "{\"q\": {\"type\": \"double\", \"min\": 0, \"max\": 1}}", "{\"name\": \"random\"}", NULL, 5,
        OPT_MAXIMIZE, 1);
  struct trial_suggestion s = next_trial(x.o);
  json_t *state = opt_save(x.o);
  struct optimizer *b = NULL;
  oast_err e;
  ASSERT_EQ(opt_restore(x.spec, NULL, &x.ss, 5, OPT_MAXIMIZE, 2, state, &b, &e), OAST_EINTERNAL);
  ASSERT(strstr(e.msg, "seed") != NULL);
  json_object_set_new(state, "trials", json_string("x"));
  ASSERT_EQ(opt_restore(x.spec, NULL, &x.ss, 5, OPT_MAXIMIZE, 1, state, &b, &e), OAST_EINTERNAL);
  ASSERT(strstr(e.msg, "trials") != NULL);
  ASSERT(b == NULL);
  json_decref(state);
  state = opt_save(x.o);
  json_object_set_new(json_array_get(json_object_get(state, "trials"), 0), "params", json_integer(3));
  ASSERT_EQ(opt_restore(x.spec, NULL, &x.ss, 5, OPT_MAXIMIZE, 1, state, &b, &e), OAST_EINTERNAL);
  ASSERT(strstr(e.msg, "trials[0].params") != NULL);
  json_decref(state);
  /* a trial that finished while the server was down: finished, not rerun */
  state = opt_save(x.o);
  ASSERT_EQ(opt_restore(x.spec, NULL, &x.ss, 5, OPT_MAXIMIZE, 1, state, &b, &e), 0);
  finish(b, 0, OPT_OK, 0.5);
  struct trial_suggestion t = next_trial(b);
  ASSERT_EQ(t.id, 1);
  ASSERT(!t.rerun);
  opt_suggestion_release(&t);
  opt_free(b);
  json_decref(state);
  opt_suggestion_release(&s);
  teardown(&x);
}
