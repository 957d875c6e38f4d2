/*
 * dag.c — trigger rules, retries and reruns of a pipeline run (see dag.h).
 *
 * dag_ready walks the tasks once in the spec's topological order. Every
 * upstream of a task comes before it, so a task that this walk turns
 * skipped or upstream_failed is already final when its children are
 * looked at, and a whole failed branch settles in one call. A rule is
 * decided from four counts over the upstream tasks: succeeded, failed
 * (failed or upstream_failed), skipped, and not yet finished. Decisions
 * that a still-running upstream could not change are taken early, as
 * workflow schedulers usually do: all_success gives upstream_failed at the
 * first failure, and one_failed starts at the first failure.
 */
#include "jobs/dag.h"

#include <string.h>

static const char *const state_names[] = {"pending", "running", "retrying", "succeeded",
                                          "failed",  "skipped", "upstream_failed"};
static const char *const run_state_names[] = {"running", "succeeded", "failed"};

const char *dag_state_name(enum dag_state s) { return state_names[s]; }
const char *dag_run_state_name(enum dag_run_state s) { return run_state_names[s]; }

int dag_state_parse(const char *name, enum dag_state *out, oast_err *e) {
  for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++)
    if (strcmp(state_names[i], name) == 0) {
      *out = (enum dag_state)i;
      return 0;
    }
  return oast_err_set(e, OAST_EBAD_REQUEST, "unknown task state \"%.80s\"", name);
}

static bool finished(enum dag_state s) { return s >= DAG_SUCCEEDED; }

void dag_init(const struct pipeline_spec *spec, struct dag_task *run) {
  memset(run, 0, spec->ntasks * sizeof *run);
}

int64_t dag_backoff(const struct pipeline_task *t, int attempt) {
  int64_t d = t->retry_delay_s;
  for (int k = 1; k < attempt && d < t->max_retry_delay_s; k++) d *= 2;
  return d < t->max_retry_delay_s ? d : t->max_retry_delay_s;
}

/* What a pending task's rule says now: DAG_RUNNING for "may start", DAG_PENDING for "wait". */
static enum dag_state decide(const struct pipeline_spec *spec, const struct dag_task *run, size_t i) {
  const struct pipeline_task *t = &spec->tasks[i];
  size_t ok = 0, bad = 0, skip = 0, open = 0;
  for (size_t k = 0; k < t->ndeps; k++) switch (run[t->deps[k]].state) {
      case DAG_SUCCEEDED: ok++; break;
      case DAG_FAILED:
      case DAG_UPSTREAM_FAILED: bad++; break;
      case DAG_SKIPPED: skip++; break;
      default: open++; break;
    }
  switch (t->trigger) {
    case TRIGGER_ALL_SUCCESS:
      if (bad) return DAG_UPSTREAM_FAILED;
      if (open) return DAG_PENDING;
      return skip ? DAG_SKIPPED : DAG_RUNNING;
    case TRIGGER_ALL_DONE:
      return open ? DAG_PENDING : DAG_RUNNING;
    case TRIGGER_ONE_FAILED:
      if (bad) return DAG_RUNNING;
      return open ? DAG_PENDING : DAG_SKIPPED;
  }
  return DAG_PENDING;
}

size_t dag_ready(const struct pipeline_spec *spec, struct dag_task *run, int64_t now, size_t *ready,
                 int64_t *wake_at) {
  size_t n = 0;
  int64_t wake = 0;
  for (size_t o = 0; o < spec->ntasks; o++) {
    size_t i = spec->order[o];
    struct dag_task *r = &run[i];
    if (r->state == DAG_RETRYING) {
      if (r->not_before <= now) ready[n++] = i;
      else if (!wake || r->not_before < wake) wake = r->not_before;
    } else if (r->state == DAG_PENDING) {
      enum dag_state d = decide(spec, run, i);
      if (d == DAG_RUNNING) ready[n++] = i;
      else if (d != DAG_PENDING) r->state = d;
    }
  }
  if (wake_at) *wake_at = wake;
  return n;
}

static int conflict(oast_err *e, const struct pipeline_spec *spec, const struct dag_task *run, size_t i,
                    const char *what) {
  return oast_err_set(e, OAST_ECONFLICT, "task \"%s\" is in state %s, so it cannot %s", spec->tasks[i].name,
                      state_names[run[i].state], what);
}

int dag_start(const struct pipeline_spec *spec, struct dag_task *run, size_t i, oast_err *e) {
  if (i >= spec->ntasks) return oast_err_set(e, OAST_ENOT_FOUND, "no task #%zu", i + 1);
  if (run[i].state != DAG_PENDING && run[i].state != DAG_RETRYING) return conflict(e, spec, run, i, "start");
  run[i].state = DAG_RUNNING;
  run[i].attempts++;
  run[i].not_before = 0;
  return 0;
}

int dag_finish(const struct pipeline_spec *spec, struct dag_task *run, size_t i, bool ok, int64_t now,
               oast_err *e) {
  if (i >= spec->ntasks) return oast_err_set(e, OAST_ENOT_FOUND, "no task #%zu", i + 1);
  if (run[i].state != DAG_RUNNING) return conflict(e, spec, run, i, "finish");
  const struct pipeline_task *t = &spec->tasks[i];
  if (ok) {
    run[i].state = DAG_SUCCEEDED;
  } else if (run[i].attempts <= t->retries) {
    run[i].state = DAG_RETRYING;
    run[i].not_before = now + dag_backoff(t, run[i].attempts);
  } else {
    run[i].state = DAG_FAILED;
  }
  return 0;
}

enum dag_run_state dag_run_state(const struct pipeline_spec *spec, const struct dag_task *run) {
  bool failed = false;
  for (size_t i = 0; i < spec->ntasks; i++) {
    if (!finished(run[i].state)) return DAG_RUN_RUNNING;
    if (run[i].state == DAG_FAILED || run[i].state == DAG_UPSTREAM_FAILED) failed = true;
  }
  return failed ? DAG_RUN_FAILED : DAG_RUN_SUCCEEDED;
}

int dag_rerun_from(const struct pipeline_spec *spec, struct dag_task *run, size_t i, oast_err *e) {
  if (i >= spec->ntasks) return oast_err_set(e, OAST_ENOT_FOUND, "no task #%zu", i + 1);
  if (dag_run_state(spec, run) == DAG_RUN_RUNNING)
    return oast_err_set(e, OAST_ECONFLICT, "the run is still in progress; rerun from task \"%s\" once it has finished",
                        spec->tasks[i].name);
  if (run[i].state != DAG_FAILED) return conflict(e, spec, run, i, "be rerun (only a failed task can)");
  /* Downstream of i = tasks with a marked upstream; the topological order sees upstreams first. */
  bool mark[PIPELINE_MAX_TASKS] = {false};
  mark[i] = true;
  for (size_t o = 0; o < spec->ntasks; o++) {
    const struct pipeline_task *t = &spec->tasks[spec->order[o]];
    for (size_t k = 0; k < t->ndeps && !mark[spec->order[o]]; k++) mark[spec->order[o]] = mark[t->deps[k]];
  }
  for (size_t k = 0; k < spec->ntasks; k++)
    if (mark[k]) run[k] = (struct dag_task){DAG_PENDING, 0, 0};
  return 0;
}
