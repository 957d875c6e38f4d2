/* test_dag.c — pipeline run states: trigger rules, cascades, retries with backoff, rerun from a failed task. */
#include "jobs/dag.h"
#include "jobs/pipeline_spec.h"
#include "test.h"

static struct pipeline_spec *spec_of(const char *tasks) {
  char buf[4096];
  snprintf(buf, sizeof buf, "{\"name\": \"p\", \"tasks\": [%s]}", tasks);
  struct pipeline_spec *s = NULL;
  oast_err e;
  if (pipeline_spec_parse(buf, strlen(buf), &s, &e)) {
    fprintf(stderr, "spec: %s\n", e.msg);
    exit(1);
  }
  return s;
}

/* The names of the ready tasks, space-separated, after applying the rules at `now`. */
static const char *ready_names(const struct pipeline_spec *s, struct dag_task *run, int64_t now, int64_t *wake) {
  static char out[512];
  size_t idx[PIPELINE_MAX_TASKS];
  size_t n = dag_ready(s, run, now, idx, wake);
  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    strcat(out, i ? " " : "");
    strcat(out, s->tasks[idx[i]].name);
  }
  return out;
}

static size_t T(const struct pipeline_spec *s, const char *name) {
  long i = pipeline_spec_task_index(s, name);
  ASSERT(i >= 0);
  return (size_t)i;
}

static void run_task(const struct pipeline_spec *s, struct dag_task *run, const char *name, bool ok, int64_t now) {
  oast_err e;
  ASSERT_EQ(dag_start(s, run, T(s, name), &e), 0);
  ASSERT_EQ(dag_finish(s, run, T(s, name), ok, now, &e), 0);
}

#define STATE(s, run, name) dag_state_name((run)[T(s, name)].state)

#define JOB(name, deps, extra) "{\"name\": \"" name "\", \"type\": \"job\", \"job\": \"j\", \"depends_on\": " deps extra "}"

TEST(dag_linear_success) {
  struct pipeline_spec *s = spec_of(JOB("a", "[]", "") "," JOB("b", "[\"a\"]", "") "," JOB("c", "[\"b\"]", ""));
  struct dag_task run[3];
  dag_init(s, run);
  int64_t wake = -1;
  ASSERT_STREQ(ready_names(s, run, 100, &wake), "a");
  ASSERT_EQ(wake, 0);
  ASSERT_STREQ(ready_names(s, run, 100, NULL), "a");  /* asking again changes nothing */
  oast_err e;
  ASSERT_EQ(dag_start(s, run, T(s, "a"), &e), 0);
  ASSERT_STREQ(ready_names(s, run, 100, NULL), "");
  ASSERT_EQ(dag_run_state(s, run), DAG_RUN_RUNNING);
  ASSERT_EQ(dag_finish(s, run, T(s, "a"), true, 110, &e), 0);
  ASSERT_STREQ(ready_names(s, run, 110, NULL), "b");
  run_task(s, run, "b", true, 120);
  run_task(s, run, "c", true, 130);
  ASSERT_STREQ(ready_names(s, run, 130, NULL), "");
  ASSERT_EQ(dag_run_state(s, run), DAG_RUN_SUCCEEDED);
  ASSERT_EQ(run[0].attempts, 1);
  pipeline_spec_free(s);
}

TEST(dag_all_success_cascades_upstream_failed) {
  struct pipeline_spec *s = spec_of(JOB("a", "[]", "") "," JOB("b", "[]", "") "," JOB("c", "[\"a\", \"b\"]", "")
                                    "," JOB("d", "[\"c\"]", "") "," JOB("e", "[\"b\"]", ""));
  struct dag_task run[5];
  dag_init(s, run);
  ASSERT_STREQ(ready_names(s, run, 0, NULL), "a b");
  oast_err e;
  ASSERT_EQ(dag_start(s, run, T(s, "a"), &e), 0);
  ASSERT_EQ(dag_start(s, run, T(s, "b"), &e), 0);
  ASSERT_EQ(dag_finish(s, run, T(s, "a"), false, 5, &e), 0);
  /* c gives up at a's failure although b still runs; d follows in the same call. */
  ASSERT_STREQ(ready_names(s, run, 5, NULL), "");
  ASSERT_STREQ(STATE(s, run, "a"), "failed");
  ASSERT_STREQ(STATE(s, run, "c"), "upstream_failed");
  ASSERT_STREQ(STATE(s, run, "d"), "upstream_failed");
  ASSERT_STREQ(STATE(s, run, "e"), "pending");
  ASSERT_EQ(dag_run_state(s, run), DAG_RUN_RUNNING);
  ASSERT_EQ(dag_finish(s, run, T(s, "b"), true, 6, &e), 0);
  ASSERT_STREQ(ready_names(s, run, 6, NULL), "e");
  run_task(s, run, "e", true, 7);
  ready_names(s, run, 7, NULL);
  ASSERT_EQ(dag_run_state(s, run), DAG_RUN_FAILED);
  pipeline_spec_free(s);
}

TEST(dag_all_done_runs_after_failure) {
  struct pipeline_spec *s = spec_of(JOB("a", "[]", "") "," JOB("b", "[]", "") ","
                                    JOB("cleanup", "[\"a\", \"b\"]", ", \"trigger_rule\": \"all_done\""));
  struct dag_task run[3];
  dag_init(s, run);
  oast_err e;
  ASSERT_EQ(dag_start(s, run, T(s, "a"), &e), 0);
  ASSERT_EQ(dag_start(s, run, T(s, "b"), &e), 0);
  ASSERT_EQ(dag_finish(s, run, T(s, "a"), false, 1, &e), 0);
  ASSERT_STREQ(ready_names(s, run, 1, NULL), "");  /* waits for b */
  ASSERT_EQ(dag_finish(s, run, T(s, "b"), true, 2, &e), 0);
  ASSERT_STREQ(ready_names(s, run, 2, NULL), "cleanup");
  run_task(s, run, "cleanup", true, 3);
  ASSERT_EQ(dag_run_state(s, run), DAG_RUN_FAILED);  /* a's failure still fails the run */
  pipeline_spec_free(s);

  /* all_done also runs after upstream_failed and skipped upstreams. */
  s = spec_of(JOB("a", "[]", "") "," JOB("b", "[\"a\"]", "") ","
              JOB("c", "[\"b\"]", ", \"trigger_rule\": \"all_done\""));
  struct dag_task run2[3];
  dag_init(s, run2);
  run_task(s, run2, "a", false, 1);
  ASSERT_STREQ(ready_names(s, run2, 1, NULL), "c");
  ASSERT_STREQ(STATE(s, run2, "b"), "upstream_failed");
  pipeline_spec_free(s);
}

TEST(dag_one_failed_triggers_or_skips) {
  const char *tasks = JOB("a", "[]", "") "," JOB("b", "[]", "") ","
      JOB("alert", "[\"a\", \"b\"]", ", \"trigger_rule\": \"one_failed\"") ","
      JOB("after_alert", "[\"alert\"]", "");
  struct pipeline_spec *s = spec_of(tasks);
  struct dag_task run[4];
  oast_err e;
  /* A failure starts it at once, without waiting for b. */
  dag_init(s, run);
  ASSERT_EQ(dag_start(s, run, T(s, "a"), &e), 0);
  ASSERT_EQ(dag_start(s, run, T(s, "b"), &e), 0);
  ASSERT_EQ(dag_finish(s, run, T(s, "a"), false, 1, &e), 0);
  ASSERT_STREQ(ready_names(s, run, 1, NULL), "alert");
  run_task(s, run, "alert", true, 2);
  ASSERT_STREQ(ready_names(s, run, 2, NULL), "after_alert");
  /* No failure: alert is skipped, and all_success after it is skipped too. */
  dag_init(s, run);
  run_task(s, run, "a", true, 1);
  ASSERT_STREQ(ready_names(s, run, 1, NULL), "b");
  run_task(s, run, "b", true, 2);
  ASSERT_STREQ(ready_names(s, run, 2, NULL), "");
  ASSERT_STREQ(STATE(s, run, "alert"), "skipped");
  ASSERT_STREQ(STATE(s, run, "after_alert"), "skipped");
  ASSERT_EQ(dag_run_state(s, run), DAG_RUN_SUCCEEDED);  /* skipped tasks do not fail a run */
  pipeline_spec_free(s);

  /* upstream_failed counts as a failure for one_failed. */
  s = spec_of(JOB("a", "[]", "") "," JOB("b", "[\"a\"]", "") ","
              JOB("h", "[\"b\"]", ", \"trigger_rule\": \"one_failed\""));
  struct dag_task run2[3];
  dag_init(s, run2);
  run_task(s, run2, "a", false, 1);
  ASSERT_STREQ(ready_names(s, run2, 1, NULL), "h");
  pipeline_spec_free(s);
}

TEST(dag_retries_with_exponential_backoff) {
  struct pipeline_spec *s = spec_of(JOB("a", "[]", ", \"retries\": 4, \"retry_delay_s\": 10, \"max_retry_delay_s\": 25")
                                    "," JOB("b", "[\"a\"]", ""));
  const struct pipeline_task *a = &s->tasks[0];
  ASSERT_EQ(dag_backoff(a, 1), 10);
  ASSERT_EQ(dag_backoff(a, 2), 20);
  ASSERT_EQ(dag_backoff(a, 3), 25);
  ASSERT_EQ(dag_backoff(a, 60), 25);
  struct dag_task run[2];
  dag_init(s, run);
  oast_err e;
  int64_t wake = 0;
  run_task(s, run, "a", false, 1000);
  ASSERT_STREQ(STATE(s, run, "a"), "retrying");
  ASSERT_EQ(run[0].not_before, 1010);
  ASSERT_STREQ(ready_names(s, run, 1009, &wake), "");
  ASSERT_EQ(wake, 1010);
  ASSERT_STREQ(STATE(s, run, "b"), "pending");  /* a retrying task holds its downstream */
  ASSERT_EQ(dag_run_state(s, run), DAG_RUN_RUNNING);
  ASSERT_STREQ(ready_names(s, run, 1010, &wake), "a");
  ASSERT_EQ(wake, 0);
  run_task(s, run, "a", false, 1100);
  ASSERT_EQ(run[0].not_before, 1120);
  ASSERT_EQ(run[0].attempts, 2);
  run_task(s, run, "a", false, 1200);
  ASSERT_EQ(run[0].not_before, 1225);
  run_task(s, run, "a", false, 1300);
  ASSERT_EQ(run[0].not_before, 1325);
  run_task(s, run, "a", false, 1400);  /* the fifth attempt was the last allowed */
  ASSERT_STREQ(STATE(s, run, "a"), "failed");
  ASSERT_EQ(run[0].attempts, 5);
  ASSERT_EQ(dag_start(s, run, 0, &e), OAST_ECONFLICT);
  ASSERT_STREQ(ready_names(s, run, 2000, NULL), "");
  ASSERT_STREQ(STATE(s, run, "b"), "upstream_failed");
  ASSERT_EQ(dag_run_state(s, run), DAG_RUN_FAILED);
  pipeline_spec_free(s);

  /* A retry that succeeds lets the run go on. */
  s = spec_of(JOB("a", "[]", ", \"retries\": 1") "," JOB("b", "[\"a\"]", ""));
  dag_init(s, run);
  run_task(s, run, "a", false, 0);
  ASSERT_EQ(run[0].not_before, PIPELINE_DEFAULT_RETRY_DELAY_S);
  ASSERT_STREQ(ready_names(s, run, PIPELINE_DEFAULT_RETRY_DELAY_S, NULL), "a");
  run_task(s, run, "a", true, 40);
  ASSERT_STREQ(ready_names(s, run, 40, NULL), "b");
  pipeline_spec_free(s);
}

TEST(dag_rerun_from_failed_task) {
  struct pipeline_spec *s = spec_of(JOB("a", "[]", "") "," JOB("b", "[\"a\"]", "") "," JOB("c", "[\"b\"]", "")
                                    "," JOB("d", "[\"a\"]", "") "," JOB("e", "[\"c\", \"d\"]", ""));
  struct dag_task run[5];
  oast_err e;
  dag_init(s, run);
  run_task(s, run, "a", true, 1);
  ASSERT_STREQ(ready_names(s, run, 1, NULL), "b d");
  ASSERT_EQ(dag_start(s, run, T(s, "b"), &e), 0);
  ASSERT_EQ(dag_rerun_from(s, run, T(s, "b"), &e), OAST_ECONFLICT);  /* still running */
  ASSERT(strstr(e.msg, "still in progress") != NULL);
  ASSERT_EQ(dag_finish(s, run, T(s, "b"), false, 2, &e), 0);
  run_task(s, run, "d", true, 3);
  ASSERT_STREQ(ready_names(s, run, 3, NULL), "");
  ASSERT_EQ(dag_run_state(s, run), DAG_RUN_FAILED);
  ASSERT_EQ(dag_rerun_from(s, run, T(s, "a"), &e), OAST_ECONFLICT);  /* not failed */
  ASSERT_STREQ(e.msg, "task \"a\" is in state succeeded, so it cannot be rerun (only a failed task can)");
  ASSERT_EQ(dag_rerun_from(s, run, T(s, "c"), &e), OAST_ECONFLICT);

  ASSERT_EQ(dag_rerun_from(s, run, T(s, "b"), &e), 0);
  ASSERT_STREQ(STATE(s, run, "a"), "succeeded");
  ASSERT_STREQ(STATE(s, run, "d"), "succeeded");
  ASSERT_STREQ(STATE(s, run, "b"), "pending");
  ASSERT_STREQ(STATE(s, run, "c"), "pending");
  ASSERT_STREQ(STATE(s, run, "e"), "pending");
  ASSERT_EQ(run[T(s, "b")].attempts, 0);
  ASSERT_EQ(run[T(s, "a")].attempts, 1);
  ASSERT_STREQ(ready_names(s, run, 10, NULL), "b");
  run_task(s, run, "b", true, 11);
  ASSERT_STREQ(ready_names(s, run, 11, NULL), "c");
  run_task(s, run, "c", true, 12);
  ASSERT_STREQ(ready_names(s, run, 12, NULL), "e");
  run_task(s, run, "e", true, 13);
  ASSERT_EQ(dag_run_state(s, run), DAG_RUN_SUCCEEDED);
  pipeline_spec_free(s);
}

TEST(dag_conflicts_and_state_names) {
  struct pipeline_spec *s = spec_of(JOB("a", "[]", ""));
  struct dag_task run[1];
  oast_err e;
  dag_init(s, run);
  ASSERT_EQ(dag_finish(s, run, 0, true, 0, &e), OAST_ECONFLICT);
  ASSERT_STREQ(e.msg, "task \"a\" is in state pending, so it cannot finish");
  ASSERT_EQ(dag_start(s, run, 0, &e), 0);
  ASSERT_EQ(dag_start(s, run, 0, &e), OAST_ECONFLICT);
  ASSERT_EQ(dag_start(s, run, 1, &e), OAST_ENOT_FOUND);
  for (int st = DAG_PENDING; st <= DAG_UPSTREAM_FAILED; st++) {
    enum dag_state back;
    ASSERT_EQ(dag_state_parse(dag_state_name((enum dag_state)st), &back, &e), 0);
    ASSERT_EQ(back, st);
  }
  enum dag_state x;
  ASSERT_EQ(dag_state_parse("done", &x, &e), OAST_EBAD_REQUEST);
  ASSERT_STREQ(dag_run_state_name(DAG_RUN_FAILED), "failed");
  ASSERT_STREQ(dag_state_name(DAG_UPSTREAM_FAILED), "upstream_failed");
  pipeline_spec_free(s);
}
