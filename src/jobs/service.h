/*
 * service.h — the jobs service: job runs, cron schedules and pipeline
 * runs, driven by the server's scheduler thread (exec/sched.h).
 *
 * The server calls three functions: jobs_service_init from server_init
 * (after the database is open, before the scheduler starts: it recovers
 * what a crash or stop interrupted and registers the service's tick),
 * jobs_service_quiesce just before the HTTP daemon stops (log streams
 * end), and jobs_service_free after the scheduler stopped.
 *
 * Everything else here is for the service's own files (routes.c,
 * routes_pipeline.c, runner.c) and its unit tests.
 *
 * Threads. HTTP handlers write rows in their own transactions and then
 * post a request (launch this run, stop that one, advance this pipeline
 * run) to the service's inbox and wake the scheduler; the scheduler
 * thread's tick takes the requests and does all process work: staging
 * programs, making tokens, submitting to the pool, and the callbacks. So
 * the in-memory state of runs belongs to one thread and only the inbox
 * needs a lock.
 *
 * State that outlives the process is in the database (migration "jobs,
 * job runs, pipelines, pipeline runs, task runs, schedule watermarks"):
 * a job run is queued, running, succeeded, failed or killed; a pipeline
 * run and each of its tasks keep their state, attempts and retry time
 * after every change, so a restart resumes them (see runner.c).
 */
#ifndef JOBS_SERVICE_H
#define JOBS_SERVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "jobs/job_spec.h"
#include "oast/error.h"

struct server;
struct prun;
struct proc;
struct jobs_service;
struct req;
struct resp;

int jobs_service_init(struct server *s, oast_err *e);
void jobs_service_quiesce(struct server *s);
void jobs_service_free(struct server *s);

/* ---- requests from HTTP handlers (any thread) ---- */

enum jobs_request_kind {
  JOBS_LAUNCH,         /* job run `id` is queued: start it */
  JOBS_STOP_RUN,       /* stop job run `id` */
  JOBS_PIPELINE,       /* pipeline run `id` is running (new or rerun): advance it */
  JOBS_STOP_PIPELINE,  /* stop pipeline run `id` */
  JOBS_STOP_PROJECT,   /* project `id` was deleted: stop its job and pipeline runs */
};
void jobs_request(struct server *s, enum jobs_request_kind kind, int64_t id);
/* A schedule was created, changed or removed: the cron tick reloads them. */
void jobs_schedules_changed(struct server *s);

/* ---- shared by the service's files ---- */

/* Whether job run `id` is queued or running (for log streams). Any thread. */
bool jobs_run_active(struct server *s, int64_t id);
/* Answers a job run's log, followed while it runs (follow.h). */
int jobs_log_respond(struct req *r, struct resp *w, const char *abs_path, int64_t run_id, bool follow,
                     uint64_t offset, oast_err *e);

/*
 * The file or directory `path` ("Dataset/rel/path", or "q::Dataset/..."
 * for a dataset project q shared with this one and this one accepted) of
 * project `project` on disk: *abs (caller frees). 404 when the dataset
 * does not exist (or is not shared), 400 for a malformed path or one that
 * crosses a symbolic link. The final component need not exist.
 */
int jobs_resolve_path(struct server *s, int64_t project_id, const char *project, const char *path, char **abs,
                      oast_err *e);

/* The checks a job's program file (at abs) must pass for its type: 404 missing, 400 not a regular file or,
 * for a binary, not an ELF executable or #! script, 413 over 2 GiB. Messages without the path. */
int jobs_check_program(const char *abs, enum job_type type, oast_err *e);

/* The path of job run `id`'s log inside its project ("Logs/jobs/<job>/<id>.log"); caller frees. */
char *jobs_run_log(const char *job, int64_t id);
/* The same on disk; caller frees. */
char *jobs_run_log_abs(struct server *s, const char *project, const char *job, int64_t id);

/*
 * Inserts a queued job run (inside the caller's transaction): args_json
 * is the JSON array of its arguments; prun/task tie it to a pipeline run
 * (0 and NULL otherwise). *id receives the run id.
 */
int jobs_run_insert(struct server *s, int64_t job_id, int64_t project_id, int64_t user_id, const char *trigger,
                    int64_t scheduled_for, const char *args_json, int64_t prun, const char *task, int64_t *id,
                    oast_err *e);
/*
 * Inserts a running pipeline run of pipeline `pipeline_id` with all its
 * tasks pending (inside the caller's transaction); the run keeps its own
 * copy of the pipeline's spec. *id receives the run id.
 */
int pipelines_run_insert(struct server *s, int64_t pipeline_id, int64_t project_id, int64_t user_id,
                         const char *trigger, int64_t scheduled_for, int64_t *id, oast_err *e);

/*
 * Fires the schedules due at `now` (Unix seconds): for each job or
 * pipeline whose cron has a minute in (watermark, now], ONE run is made
 * and the watermark moved to the latest such minute in one transaction
 * (cron.h's protocol), and the run is handed to the scheduler. Returns
 * the number of runs made, or a negative code. Scheduler thread (or a
 * test with no scheduler running).
 */
int jobs_cron_tick(struct server *s, int64_t now, oast_err *e);

/*
 * Starts job run `id` (queued) on the scheduler thread; when the run is
 * a pipeline task, pr and task say which, and its end is reported to the
 * runner. Failures before the process starts finish the run as failed.
 */
void jobs_launch_run(struct server *s, int64_t id, struct prun *pr, size_t task);

/* What a platform-operation task runs: argv (argv[0] is this binary), its log (absolute). */
struct op_launch {
  const char *const *argv;
  const char *log_abs;
  double timeout_s;
  const char *file_name;      /* a file to write into its run directory first, or NULL */
  const char *file_body;
};
/*
 * Starts a pipeline task that runs the `oast` CLI itself with a job token
 * of the run's user; its end (with its stdout parsed as JSON when it is)
 * is reported to the runner. 0, or an error (nothing started).
 */
int jobs_launch_op(struct server *s, struct prun *pr, size_t task, const struct op_launch *op, oast_err *e);

/* Cancels the process of a pipeline task (its end is reported as usual). */
void jobs_proc_cancel(struct server *s, struct proc *p);

/* Revokes a job token by its hash (NULL or "" is a no-op). */
void jobs_token_revoke(struct server *s, const char *hash);
/* Kills the process group of pid if pid still is the process that started at pstart. */
void jobs_kill_orphan(int64_t pid, int64_t pstart);
/* The start time of process pid in clock ticks since boot (/proc), or 0. */
int64_t jobs_proc_start(pid_t pid);

/* ---- the pipeline runner (runner.c), scheduler thread ---- */

/* Loads the running pipeline runs at start-up; tasks whose process was lost are finished as failed. */
int runner_recover(struct server *s, oast_err *e);
/* Takes pipeline run `id` into the runner (again, after a rerun). */
void runner_load(struct server *s, int64_t id);
void runner_stop(struct server *s, int64_t id);
/* Stops every pipeline run of project `project_id` (it was deleted). */
void runner_stop_project(struct server *s, int64_t project_id);
/* Advances every pipeline run. */
void runner_tick(struct server *s, int64_t now);
void runner_free_all(struct server *s);
/* Task i's process started (pid) or ended; result is its stdout as JSON (op tasks) or NULL. */
void runner_task_started(struct server *s, struct prun *pr, size_t i, struct proc *p);
void runner_task_done(struct server *s, struct prun *pr, size_t i, bool ok, int exit_code, const char *message,
                      const char *result);
/* The webhook of pipeline run `id` and the JSON body to POST to it (both caller frees); -1 when it has none. */
int runner_webhook(struct server *s, int64_t id, char **url, char **body);
/* What service.c needs to know of a run it starts a process for. */
void runner_identity(struct prun *pr, int64_t *run_id, int64_t *project_id, int64_t *user_id, const char **project);
int64_t runner_task_timeout(struct prun *pr, size_t task);
/* The run's job token (made on first use, revoked when the run ends), borrowed; NULL with e set on failure. */
const char *runner_token(struct server *s, struct prun *pr, oast_err *e);
/* The process of task i (NULL once it is gone without an end to report). */
void runner_task_proc(struct prun *pr, size_t task, struct proc *p);

#endif
