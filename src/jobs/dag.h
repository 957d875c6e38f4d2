/*
 * dag.h — the state machine of one pipeline run, as pure functions.
 *
 * A run is an array of struct dag_task, one per task of its spec (same
 * indexes). The functions read and update that array and nothing else: no
 * clock (the caller passes `now`, Unix seconds), no I/O, no allocation, so
 * the runner persists the array (state name, attempts, not_before) after
 * every change and can rebuild a run after a restart by loading it back.
 *
 * Task states:
 *   pending          not started (or reset by a rerun)
 *   running          an attempt is in progress
 *   retrying         an attempt failed and another is allowed at not_before
 *   succeeded        an attempt succeeded
 *   failed           the last allowed attempt failed
 *   skipped          its trigger rule can no longer be met without a failure:
 *                    all_success when an upstream was skipped, one_failed
 *                    when every upstream finished and none failed
 *   upstream_failed  all_success and an upstream failed or upstream_failed
 *
 * The runner's loop:
 *   n = dag_ready(spec, run, now, ready, &wake_at);
 *   for each ready[i] it can give a slot: dag_start(...), launch the attempt;
 *   when an attempt ends: dag_finish(spec, run, i, ok, now, ...);
 *   persist; stop when dag_run_state() is no longer DAG_RUN_RUNNING;
 *   sleep until an attempt ends or wake_at.
 * A task found running after a server restart whose process is gone is
 * finished with ok = false, so its retries apply.
 */
#ifndef JOBS_DAG_H
#define JOBS_DAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobs/pipeline_spec.h"
#include "oast/error.h"

enum dag_state {
  DAG_PENDING,
  DAG_RUNNING,
  DAG_RETRYING,
  DAG_SUCCEEDED,
  DAG_FAILED,
  DAG_SKIPPED,
  DAG_UPSTREAM_FAILED,
};

enum dag_run_state { DAG_RUN_RUNNING, DAG_RUN_SUCCEEDED, DAG_RUN_FAILED };

/* The persisted state of one task in one run. Plain data. */
struct dag_task {
  enum dag_state state;
  int attempts;        /* attempts started so far (1 after the first start) */
  int64_t not_before;  /* DAG_RETRYING: the earliest time of the next attempt; else 0 */
};

/* Every task pending, no attempts. run has spec->ntasks entries. */
void dag_init(const struct pipeline_spec *spec, struct dag_task *run);

/*
 * Applies the trigger rules: pending tasks whose rule can no longer be
 * met become skipped or upstream_failed (cascading downstream in the same
 * call). Writes the indexes of the tasks that may start now into ready
 * (room for spec->ntasks), in topological order: pending tasks whose rule
 * is met, and retrying tasks whose not_before <= now. Returns how many.
 * *wake_at (may be NULL) gets the earliest not_before still in the
 * future, or 0 if none. Calling it again without changes gives the same
 * answer.
 */
size_t dag_ready(const struct pipeline_spec *spec, struct dag_task *run, int64_t now, size_t *ready,
                 int64_t *wake_at);

/* Marks task i running and counts the attempt. OAST_ECONFLICT unless it is pending or retrying. */
int dag_start(const struct pipeline_spec *spec, struct dag_task *run, size_t i, oast_err *e);

/*
 * Records the end of task i's attempt (it must be running, else
 * OAST_ECONFLICT). ok: succeeded. Not ok: retrying with not_before = now +
 * dag_backoff(...) while attempts <= retries, else failed.
 */
int dag_finish(const struct pipeline_spec *spec, struct dag_task *run, size_t i, bool ok, int64_t now,
               oast_err *e);

/*
 * The delay after failed attempt number `attempt` (1-based):
 * retry_delay_s * 2^(attempt-1), capped at max_retry_delay_s.
 */
int64_t dag_backoff(const struct pipeline_task *t, int attempt);

/*
 * DAG_RUN_RUNNING while any task is pending, running or retrying; once
 * all are finished, DAG_RUN_FAILED if any task failed or is
 * upstream_failed, else DAG_RUN_SUCCEEDED (skipped tasks do not fail a
 * run). Call dag_ready first so that rules have been applied.
 */
enum dag_run_state dag_run_state(const struct pipeline_spec *spec, const struct dag_task *run);

/*
 * Rerun from a failed task: task i (which must be failed) and every task
 * downstream of it go back to pending with no attempts; all others (the
 * succeeded upstream tasks above all) keep their state. The run must be
 * finished. OAST_ECONFLICT otherwise, with a message naming the task.
 */
int dag_rerun_from(const struct pipeline_spec *spec, struct dag_task *run, size_t i, oast_err *e);

/* Names as stored and shown ("upstream_failed"); static strings. */
const char *dag_state_name(enum dag_state s);
const char *dag_run_state_name(enum dag_run_state s);
/* Parses a stored state name; OAST_EBAD_REQUEST for an unknown one. */
int dag_state_parse(const char *name, enum dag_state *out, oast_err *e);

#endif
