/*
 * runner.c — pipeline runs: the state machine of dag.h applied on the
 * scheduler thread, with every change written to the database.
 *
 * Each running pipeline run is held in memory as its spec (the copy the
 * run was started with, so editing the pipeline never changes a run in
 * flight), the dag_task array and per task the process, times, message
 * and result. On every scheduler tick the runner asks dag_ready which
 * tasks may start, starts them (a job task makes a job run of that job;
 * a sensor starts looking for its path; a platform operation runs this
 * binary's own CLI with a job token of the run's user), looks for the
 * paths of running sensors, then writes every task whose state, attempts,
 * retry time or details changed, in one transaction. A process's end is
 * reported by service.c (runner_task_done) and written at the next tick,
 * which follows at once.
 *
 * Restart. A run found running at start-up is loaded back as it was
 * written: succeeded tasks stay succeeded and are never run again; a
 * sensor that was waiting simply goes on waiting (its timeout counts
 * from its original start); a task whose process was running is lost —
 * its orphaned process group, if still alive, is killed, its token
 * revoked — and it is finished as a failed attempt, so its retries decide
 * whether it runs again.
 *
 * Platform operations are the `oast` CLI (this same binary) run as child
 * processes with --json and the run's job token, one command per step
 * (op_argv lists them): featuregroup_insert is `oast fg insert`,
 * trainingdata `oast td create`, experiment `oast exp run`,
 * register_best_model `oast exp show` then `oast model register` of the
 * best trial's folder, deploy `oast deploy create` then `oast deploy
 * start`. A step's stdout, parsed as JSON, is its result and feeds the
 * next step; the last one's is the task's result, and a
 * register_best_model that names an experiment task reads the
 * experiment's id from that task's result.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth/auth.h"
#include "http/server.h"
#include "jobs/internal.h"
#include "meta/meta.h"
#include "util/alloc.h"
#include "util/crypto.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"

#define MESSAGE_MAX 1024
#define TOKEN_TTL_S (30 * 86400)  /* a run's token; revoked when the run ends */

struct ptask {
  struct proc *proc;        /* its process (op and job tasks), or NULL */
  int64_t started, ended;   /* this attempt's */
  int64_t next_poke;        /* sensors */
  int64_t job_run_id;       /* job tasks: the run of this attempt */
  int exit_code;            /* -1: none */
  char *message;            /* why it failed (or what it is waiting for), owned */
  char *result;             /* op tasks: their last step's stdout as JSON text, owned */
  int step;                 /* op tasks: the step running (a task may run several CLI commands) */
  bool dirty;               /* details changed since written */
};

struct prun {
  int64_t id, pipeline_id, project_id, user_id;
  char *project, *pipeline;
  struct pipeline_spec *spec;
  struct dag_task *dag, *saved;
  struct ptask *t;
  size_t *ready;
  bool stop, cancelling, done;
  char *token;              /* the run's job token (its tasks share it), or NULL until needed */
  char token_hash[65];
  struct prun *next;
};

static char *col_text(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? xstrdup((const char *)t) : NULL;
}

void runner_identity(struct prun *pr, int64_t *run_id, int64_t *project_id, int64_t *user_id, const char **project) {
  *run_id = pr->id;
  *project_id = pr->project_id;
  *user_id = pr->user_id;
  *project = pr->project;
}

int64_t runner_task_timeout(struct prun *pr, size_t task) { return pr->spec->tasks[task].timeout_s; }

void runner_task_proc(struct prun *pr, size_t task, struct proc *p) { pr->t[task].proc = p; }

static void prun_free(struct prun *pr) {
  if (!pr) return;
  if (pr->t)
    for (size_t i = 0; i < pr->spec->ntasks; i++) {
      free(pr->t[i].message);
      free(pr->t[i].result);
    }
  free(pr->t);
  free(pr->dag);
  free(pr->saved);
  free(pr->ready);
  pipeline_spec_free(pr->spec);
  free(pr->project);
  free(pr->pipeline);
  if (pr->token) explicit_bzero(pr->token, strlen(pr->token));
  free(pr->token);
  free(pr);
}

const char *runner_token(struct server *s, struct prun *pr, oast_err *e) {
  if (pr->token) return pr->token;
  char *token = NULL;
  char hash[65];
  int rc = meta_begin(s->meta, e);
  if (rc) return NULL;
  rc = auth_token_create(s, pr->user_id, "job", pr->project_id, TOKEN_TTL_S, &token, NULL, e);
  if (!rc) {
    crypto_sha256_hex(token, strlen(token), hash);
    rc = meta_exec(s->meta, e, "UPDATE pipeline_runs SET token_hash = ? WHERE id = ?", "si", hash, pr->id);
  }
  if (!rc) rc = meta_commit(s->meta, e);
  if (rc) {
    meta_rollback(s->meta);
    free(token);
    return NULL;
  }
  memcpy(pr->token_hash, hash, sizeof hash);
  pr->token = token;
  return token;
}

static void set_message(struct ptask *t, const char *msg) {
  free(t->message);
  t->message = msg && *msg ? xstrndup(msg, MESSAGE_MAX) : NULL;
  t->dirty = true;
}

/* Loads a running pipeline run from the database; NULL when it is not running (or gone). */
static struct prun *prun_load(struct server *s, int64_t id) {
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta,
                                         "SELECT r.pipeline_id, r.project_id, r.user_id, r.state, r.spec, p.name, pl.name "
                                         "FROM pipeline_runs r JOIN projects p ON p.id = r.project_id "
                                         "JOIN pipelines pl ON pl.id = r.pipeline_id WHERE r.id = ?"),
                               "i", id);
  if (!st) return NULL;
  if (sqlite3_step(st) != SQLITE_ROW) {
    sqlite3_reset(st);
    return NULL;
  }
  struct prun *pr = xcalloc(1, sizeof *pr);
  pr->id = id;
  pr->pipeline_id = sqlite3_column_int64(st, 0);
  pr->project_id = sqlite3_column_int64(st, 1);
  pr->user_id = sqlite3_column_int64(st, 2);
  char *state = col_text(st, 3), *spec = col_text(st, 4);
  pr->project = col_text(st, 5);
  pr->pipeline = col_text(st, 6);
  sqlite3_reset(st);
  bool running = state && !strcmp(state, "running");
  json_t *doc = running && spec ? json_loads(spec, 0, NULL) : NULL;
  oast_err e;
  if (!doc || pipeline_spec_from_json(doc, &pr->spec, &e) != 0) {
    if (running) log_error("pipeline run %" PRId64 ": its stored spec is unreadable", id);
    json_decref(doc);
    free(state);
    free(spec);
    prun_free(pr);
    return NULL;
  }
  json_decref(doc);
  free(state);
  free(spec);
  size_t n = pr->spec->ntasks;
  pr->dag = xcalloc(n, sizeof *pr->dag);
  pr->saved = xcalloc(n, sizeof *pr->saved);
  pr->t = xcalloc(n, sizeof *pr->t);
  pr->ready = xcalloc(n, sizeof *pr->ready);
  for (size_t i = 0; i < n; i++) pr->t[i].exit_code = -1;
  st = meta_bind(meta_stmt(s->meta,
                           "SELECT idx, state, attempts, not_before, coalesce(job_run_id, 0), coalesce(started, 0), "
                           "coalesce(ended, 0), coalesce(exit_code, -1), message, result FROM task_runs WHERE run_id = ?"),
                 "i", id);
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    int64_t i = sqlite3_column_int64(st, 0);
    if (i < 0 || (size_t)i >= n) continue;
    const char *sn = (const char *)sqlite3_column_text(st, 1);
    if (!sn || dag_state_parse(sn, &pr->dag[i].state, &e) != 0) pr->dag[i].state = DAG_PENDING;
    pr->dag[i].attempts = sqlite3_column_int(st, 2);
    pr->dag[i].not_before = sqlite3_column_int64(st, 3);
    struct ptask *t = &pr->t[i];
    t->job_run_id = sqlite3_column_int64(st, 4);
    t->started = sqlite3_column_int64(st, 5);
    t->ended = sqlite3_column_int64(st, 6);
    t->exit_code = sqlite3_column_int(st, 7);
    t->message = col_text(st, 8);
    t->result = col_text(st, 9);
  }
  if (st) sqlite3_reset(st);
  memcpy(pr->saved, pr->dag, n * sizeof *pr->dag);
  return pr;
}

/* Writes changed tasks (and the run's end when final is set) in one transaction. */
static void persist(struct server *s, struct prun *pr, const char *final) {
  size_t n = pr->spec->ntasks;
  bool any = final != NULL;
  for (size_t i = 0; i < n && !any; i++)
    any = pr->t[i].dirty || memcmp(&pr->dag[i], &pr->saved[i], sizeof pr->dag[i]) != 0;
  if (!any) return;
  oast_err e;
  if (meta_begin(s->meta, &e) != 0) {
    log_warn("pipeline run %" PRId64 ": cannot save its state now (%s); trying again", pr->id, e.msg);
    return;
  }
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    struct ptask *t = &pr->t[i];
    if (!t->dirty && !memcmp(&pr->dag[i], &pr->saved[i], sizeof pr->dag[i])) continue;
    bool running = pr->dag[i].state == DAG_RUNNING;
    sqlite3_stmt *st = meta_bind(
        meta_stmt(s->meta,
                  "UPDATE task_runs SET state = ?, attempts = ?, not_before = ?, job_run_id = ?, started = ?, ended = ?, "
                  "exit_code = ?, message = ?, result = ?, "
                  "pid = CASE WHEN ? THEN pid END, pstart = CASE WHEN ? THEN pstart END "
                  "WHERE run_id = ? AND idx = ?"),
        "sii", dag_state_name(pr->dag[i].state), (int64_t)pr->dag[i].attempts, pr->dag[i].not_before);
    if (!st) {
      rc = -1;
      break;
    }
    if (t->job_run_id) sqlite3_bind_int64(st, 4, t->job_run_id);
    if (t->started) sqlite3_bind_int64(st, 5, t->started);
    if (t->ended) sqlite3_bind_int64(st, 6, t->ended);
    if (t->exit_code >= 0) sqlite3_bind_int(st, 7, t->exit_code);
    if (t->message) sqlite3_bind_text(st, 8, t->message, -1, SQLITE_TRANSIENT);
    if (t->result) sqlite3_bind_text(st, 9, t->result, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 10, running);
    sqlite3_bind_int(st, 11, running);
    sqlite3_bind_int64(st, 12, pr->id);
    sqlite3_bind_int64(st, 13, (int64_t)i);
    if (sqlite3_step(st) != SQLITE_DONE) rc = -1;
    sqlite3_reset(st);
  }
  if (!rc && final)
    rc = meta_exec(s->meta, &e, "UPDATE pipeline_runs SET state = ?, ended = ?, token_hash = NULL WHERE id = ?", "sii",
                   final, meta_now(), pr->id);
  if (!rc) rc = meta_commit(s->meta, &e);
  if (rc) {
    meta_rollback(s->meta);
    log_warn("pipeline run %" PRId64 ": cannot save its state now; trying again", pr->id);
    return;
  }
  memcpy(pr->saved, pr->dag, n * sizeof *pr->dag);
  for (size_t i = 0; i < n; i++) pr->t[i].dirty = false;
  if (final) {
    pr->done = true;
    jobs_token_revoke(s, pr->token_hash);
  }
}

/* The end of task i's attempt. */
static void finish(struct prun *pr, size_t i, bool ok, int64_t now, const char *message) {
  struct ptask *t = &pr->t[i];
  oast_err e;
  if (pr->stop) {
    /* A stopped run retries nothing. */
    pr->dag[i].state = ok ? DAG_SUCCEEDED : DAG_FAILED;
    pr->dag[i].not_before = 0;
  } else if (dag_finish(pr->spec, pr->dag, i, ok, now, &e) != 0) {
    log_error("pipeline run %" PRId64 ": %s", pr->id, e.msg);
  }
  t->ended = now;
  set_message(t, ok ? NULL : message);
}

void runner_task_started(struct server *s, struct prun *pr, size_t i, struct proc *p) { pr->t[i].proc = p; }

static int start_step(struct server *s, struct prun *pr, size_t i, oast_err *e);

void runner_task_done(struct server *s, struct prun *pr, size_t i, bool ok, int exit_code, const char *message,
                      const char *result) {
  struct ptask *t = &pr->t[i];
  int64_t now = (int64_t)time(NULL);
  t->proc = NULL;
  t->exit_code = exit_code;
  free(t->result);
  t->result = NULL;
  if (result) {
    /* Kept only when it is JSON: what the CLI printed with --json. */
    json_t *j = json_loads(result, JSON_DECODE_ANY, NULL);
    if (j) t->result = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
  }
  t->dirty = true;
  if (ok && !pr->stop && pr->spec->tasks[i].type != PTASK_JOB && pr->spec->tasks[i].type != PTASK_SENSOR) {
    /* An operation of several steps goes on with its next one. */
    oast_err e;
    t->step++;
    int rc = start_step(s, pr, i, &e);
    if (rc == 0) return;
    if (rc != 1) {
      finish(pr, i, false, now, e.msg);
      return;
    }
  }
  finish(pr, i, ok, now, message);
}

/* ---- platform operations: the CLI's argv ---- */

struct argv_b {
  char **v;
  size_t n, cap;
};

static void arg(struct argv_b *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(struct argv_b *a, const char *fmt, ...) {
  if (a->n + 2 > a->cap) a->v = xreallocarray(a->v, a->cap = a->cap ? a->cap * 2 : 16, sizeof *a->v);
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&a->v[a->n], fmt, ap) < 0) abort();
  va_end(ap);
  a->n++;
  a->v[a->n] = NULL;
}

static void argv_free(struct argv_b *a) {
  for (size_t i = 0; i < a->n; i++) free(a->v[i]);
  free(a->v);
}

static const char *jstr(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* A time field as given (string), or as seconds since the epoch (integer). */
static void time_opt(struct argv_b *a, json_t *task, const char *field, const char *opt) {
  json_t *v = json_object_get(task, field);
  if (!v) return;
  arg(a, "%s", opt);
  if (json_is_integer(v)) arg(a, "%lld", (long long)json_integer_value(v));
  else arg(a, "%s", json_string_value(v));
}

/* --opt VALUE when the object has the string or integer field. */
static void field_opt(struct argv_b *a, json_t *o, const char *field, const char *opt) {
  json_t *v = json_object_get(o, field);
  if (json_is_string(v)) {
    arg(a, "%s", opt);
    arg(a, "%s", json_string_value(v));
  } else if (json_is_integer(v)) {
    arg(a, "%s", opt);
    arg(a, "%lld", (long long)json_integer_value(v));
  }
}

/* The id of an experiment in a JSON result ({"id"} or {"experiment": {"id"}}), into buf; false when none. */
static bool result_id(const char *result, char *buf, size_t len) {
  json_t *r = result ? json_loads(result, JSON_DECODE_ANY, NULL) : NULL;
  json_t *id = json_object_get(r, "id");
  if (!id) id = json_object_get(json_object_get(r, "experiment"), "id");
  bool ok = true;
  if (json_is_integer(id)) snprintf(buf, len, "%lld", (long long)json_integer_value(id));
  else if (json_is_string(id)) snprintf(buf, len, "%s", json_string_value(id));
  else ok = false;
  json_decref(r);
  return ok;
}

/*
 * Step `step` of an operation task: the argv of the `oast` CLI command
 * (with --json, so its answer is the step's result) and the file it
 * needs in its run directory (*file_name, *file_body; body owned by the
 * caller). `prev` is the previous step's result (JSON text) or NULL.
 * Returns 0 with the argv, 1 when the task has no step `step` (it is
 * done), or an error naming what is missing.
 *
 *   featuregroup_insert  oast fg insert PROJECT/FG[:V] FILE [--operation OP]
 *   trainingdata         oast td create PROJECT VIEW [--version V] [--format F] [--splits a=F,...] [--seed N]
 *                        [--start-time T] [--end-time T]
 *   experiment           oast exp run PROJECT --spec experiment.json
 *   register_best_model  oast exp show PROJECT ID, then
 *                        oast model register PROJECT MODEL --path <best trial's folder> --metrics {METRIC: value}
 *                        [--framework F] [--description D]
 *   deploy               oast deploy create --update PROJECT NAME --model M [--version V] [--predictor T] [--script S]
 *                        [--model-file F] [--instances N], then oast deploy start PROJECT NAME when "start"
 */
static int op_argv(struct server *s, struct prun *pr, size_t i, int step, const char *prev, struct argv_b *a,
                   const char **file_name, char **file_body, oast_err *e) {
  const struct pipeline_task *pt = &pr->spec->tasks[i];
  json_t *t = pt->json;
  *file_name = NULL;
  *file_body = NULL;
  arg(a, "%s", s->jobs->exe);
  arg(a, "--json");
  switch (pt->type) {
    case PTASK_FEATUREGROUP_INSERT: {
      if (step > 0) return 1;
      char *abs = NULL;
      int rc = jobs_resolve_path(s, pr->project_id, pr->project, jstr(t, "path"), &abs, e);
      if (rc) return rc;
      if (!fs_exists(abs)) {
        free(abs);
        return oast_err_set(e, OAST_ENOT_FOUND, "the file \"%s\" does not exist", jstr(t, "path"));
      }
      arg(a, "fg");
      arg(a, "insert");
      json_t *v = json_object_get(t, "version");
      if (json_is_integer(v)) arg(a, "%s/%s:%lld", pr->project, jstr(t, "featuregroup"), (long long)json_integer_value(v));
      else arg(a, "%s/%s", pr->project, jstr(t, "featuregroup"));
      arg(a, "%s", abs);
      free(abs);
      field_opt(a, t, "operation", "--operation");
      return 0;
    }
    case PTASK_TRAININGDATA: {
      if (step > 0) return 1;
      arg(a, "td");
      arg(a, "create");
      arg(a, "%s", pr->project);
      arg(a, "%s", jstr(t, "featureview"));
      field_opt(a, t, "version", "--version");
      field_opt(a, t, "format", "--format");
      json_t *splits = json_object_get(t, "splits");
      if (splits) {
        struct buf b;
        buf_init(&b, 0);
        const char *k;
        json_t *f;
        json_object_foreach(splits, k, f) buf_printf(&b, "%s%s=%.17g", b.len ? "," : "", k, json_number_value(f));
        arg(a, "--splits");
        arg(a, "%s", buf_cstr(&b));
        buf_release(&b);
      }
      field_opt(a, t, "seed", "--seed");
      time_opt(a, t, "start_time", "--start-time");
      time_opt(a, t, "end_time", "--end-time");
      return 0;
    }
    case PTASK_EXPERIMENT: {
      if (step > 0) return 1;
      json_t *x = json_object_get(t, "experiment"), *cmd = json_object_get(x, "command");
      if (!json_is_array(cmd) || json_array_size(cmd) == 0)
        return oast_err_set(e, OAST_EBAD_REQUEST, "the experiment has no \"command\" to run");
      *file_name = "experiment.json";
      *file_body = json_dumps(x, JSON_INDENT(2));
      arg(a, "exp");
      arg(a, "run");
      arg(a, "%s", pr->project);
      arg(a, "--spec");
      arg(a, "experiment.json");
      arg(a, "--");
      size_t k;
      json_t *word;
      json_array_foreach(cmd, k, word) arg(a, "%s", json_is_string(word) ? json_string_value(word) : "");
      return 0;
    }
    case PTASK_REGISTER_BEST_MODEL:
      if (step == 0) {
        char idbuf[80];
        json_t *xid = json_object_get(t, "experiment_id");
        if (json_is_integer(xid)) snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(xid));
        else if (xid) snprintf(idbuf, sizeof idbuf, "%s", json_string_value(xid));
        else {
          long up = pipeline_spec_task_index(pr->spec, jstr(t, "experiment"));
          if (up < 0 || !result_id(pr->t[up].result, idbuf, sizeof idbuf))
            return oast_err_set(e, OAST_ENOT_FOUND, "experiment task \"%s\" left no experiment id in its result",
                                jstr(t, "experiment"));
        }
        arg(a, "exp");
        arg(a, "show");
        arg(a, "%s", pr->project);
        arg(a, "%s", idbuf);
        return 0;
      }
      if (step == 1) {
        /* The best trial of the experiment just read, by the task's metric:
         * the experiment's own best when the task asks for its metric and
         * direction (under ASHA that is the best of the highest rung, not a
         * trial stopped at a lower budget), else the trial with the best value. */
        json_t *x = prev ? json_loads(prev, 0, NULL) : NULL;
        json_t *best = json_object_get(x, "best");
        const char *metric = jstr(t, "metric");
        const char *xdirection = json_string_value(json_object_get(x, "direction"));
        const char *dir = jstr(t, "direction") ? jstr(t, "direction") : xdirection;
        bool max = !dir || strcmp(dir, "min") != 0;
        const char *xmetric = json_string_value(json_object_get(x, "metric"));
        bool own_best = json_is_object(best) && (!metric || !xmetric || !strcmp(metric, xmetric)) &&
                        (!jstr(t, "direction") || (xdirection && !strcmp(jstr(t, "direction"), xdirection)));
        json_t *pick = NULL;
        double pv = 0;
        size_t k;
        json_t *tr;
        if (own_best)
          json_array_foreach(json_object_get(x, "trials"), k, tr) {
            if (json_equal(json_object_get(tr, "number"), json_object_get(best, "number")) &&
                json_is_number(json_object_get(tr, "metric")))
              pick = tr;
          }
        if (!pick) json_array_foreach(json_object_get(x, "trials"), k, tr) {
          json_t *m = json_object_get(tr, "metric");
          if (!json_is_number(m)) continue;
          if (metric && json_is_string(json_object_get(x, "metric")) &&
              strcmp(json_string_value(json_object_get(x, "metric")), metric) != 0)
            continue;
          double mv = json_number_value(m);
          if (!pick || (max ? mv > pv : mv < pv)) {
            pick = tr;
            pv = mv;
          }
        }
        if (!pick && json_is_object(best)) pick = best;
        /* A trial's folder is relative to its experiment's (Experiments/<id>/trial_<n>). */
        const char *tdir = json_string_value(json_object_get(pick, "logdir"));
        const char *xdir = json_string_value(json_object_get(x, "logdir"));
        char *path = !tdir ? NULL : xdir && tdir[0] != '/' ? xasprintf("%s/%s", xdir, tdir) : xstrdup(tdir);
        int rc = 0;
        if (!pick || !path) {
          rc = oast_err_set(e, OAST_ENOT_FOUND, "the experiment has no trial with a value of \"%s\" and a folder to register",
                            metric ? metric : "its metric");
        } else {
          arg(a, "model");
          arg(a, "register");
          arg(a, "%s", pr->project);
          arg(a, "%s", jstr(t, "model"));
          arg(a, "--path");
          arg(a, "%s", path);
          arg(a, "--metrics");
          json_t *mj = json_pack("{s:f}", metric, json_number_value(json_object_get(pick, "metric")));
          char *mt = json_dumps(mj, JSON_COMPACT);
          arg(a, "%s", mt);
          free(mt);
          json_decref(mj);
          field_opt(a, t, "framework", "--framework");
          field_opt(a, t, "description", "--description");
        }
        free(path);
        json_decref(x);
        return rc;
      }
      return 1;
    case PTASK_DEPLOY: {
      bool start = json_is_true(json_object_get(t, "start"));
      if (step == 0) {
        json_t *pred = json_object_get(t, "predictor");
        arg(a, "deploy");
        arg(a, "create");
        arg(a, "--update"); /* a rerun moves the deployment to the new version */
        arg(a, "%s", pr->project);
        arg(a, "%s", jstr(t, "deployment"));
        arg(a, "--model");
        arg(a, "%s", jstr(t, "model"));
        field_opt(a, t, "model_version", "--version");
        field_opt(a, pred, "type", "--predictor");
        field_opt(a, pred, "script", "--script");
        field_opt(a, pred, "model_file", "--model-file");
        field_opt(a, t, "instances", "--instances");
        return 0;
      }
      if (step == 1 && start) {
        arg(a, "deploy");
        arg(a, "start");
        arg(a, "%s", pr->project);
        arg(a, "%s", jstr(t, "deployment"));
        return 0;
      }
      return 1;
    }
    default:
      return oast_err_set(e, OAST_EINTERNAL, "task type %s is not an operation", pipeline_task_type_name(pt->type));
  }
}

/* The log of an operation task (all its attempts and steps): Logs/pipelines/<pipeline>/<run>/<task>.log. */
static char *task_log_abs(struct server *s, struct prun *pr, size_t i) {
  return xasprintf("%s/%s/Logs/pipelines/%s/%" PRId64 "/%s.log", s->fs_root, pr->project, pr->pipeline, pr->id,
                   pr->spec->tasks[i].name);
}

/*
 * Starts the task's step t->step (the previous step's result in
 * t->result). Returns 1 when there is no such step (the task succeeded),
 * 0 when it started, or an error (in e).
 */
static int start_step(struct server *s, struct prun *pr, size_t i, oast_err *e) {
  struct argv_b a = {0};
  char *file_body = NULL, *log_abs = task_log_abs(s, pr, i);
  const char *file_name = NULL;
  oast_err_clear(e);
  int rc = op_argv(s, pr, i, pr->t[i].step, pr->t[i].result, &a, &file_name, &file_body, e);
  if (rc == 0) {
    struct op_launch op = {(const char *const *)a.v, log_abs, (double)pr->spec->tasks[i].timeout_s, file_name,
                           file_body};
    rc = jobs_launch_op(s, pr, i, &op, e);
  }
  argv_free(&a);
  free(file_body);
  free(log_abs);
  return rc;
}

static void start_op(struct server *s, struct prun *pr, size_t i, int64_t now) {
  oast_err e;
  pr->t[i].step = 0;
  int rc = start_step(s, pr, i, &e);
  if (rc) finish(pr, i, rc == 1, now, rc == 1 ? NULL : e.msg);
}

/* Looks for a sensor's path; finishes it when found or timed out. */
static void poke(struct server *s, struct prun *pr, size_t i, int64_t now) {
  struct ptask *t = &pr->t[i];
  if (now < t->next_poke) return;
  json_t *tj = pr->spec->tasks[i].json;
  char *abs = NULL;
  oast_err e;
  bool found = jobs_resolve_path(s, pr->project_id, pr->project, jstr(tj, "path"), &abs, &e) == 0 && fs_exists(abs);
  free(abs);
  if (found) {
    finish(pr, i, true, now, NULL);
    return;
  }
  int64_t timeout = pr->spec->tasks[i].timeout_s;
  if (timeout > 0 && now - t->started >= timeout) {
    char msg[200];
    snprintf(msg, sizeof msg, "timed out after %lld s waiting for %s", (long long)timeout, jstr(tj, "path"));
    finish(pr, i, false, now, msg);
    return;
  }
  json_t *iv = json_object_get(tj, "poke_interval_s");
  t->next_poke = now + (json_is_integer(iv) ? json_integer_value(iv) : PIPELINE_DEFAULT_POKE_INTERVAL_S);
}

/* Marks task i started (an attempt counted) and clears what its last attempt left. */
static bool begin_attempt(struct prun *pr, size_t i, int64_t now) {
  oast_err e;
  if (dag_start(pr->spec, pr->dag, i, &e) != 0) {
    log_error("pipeline run %" PRId64 ": %s", pr->id, e.msg);
    return false;
  }
  struct ptask *t = &pr->t[i];
  t->started = now;
  t->ended = 0;
  t->exit_code = -1;
  t->job_run_id = 0;
  t->next_poke = now;
  free(t->result);
  t->result = NULL;
  set_message(t, NULL);
  return true;
}

/*
 * Makes the job runs of the job tasks among ready[0..k) in one
 * transaction (a wide pipeline starts hundreds at once); a task whose job
 * is gone fails.
 */
static void insert_job_runs(struct server *s, struct prun *pr, const size_t *ready, size_t k, int64_t now) {
  oast_err e;
  int rc = meta_begin(s->meta, &e);
  for (size_t j = 0; j < k && !rc; j++) {
    size_t i = ready[j];
    if (pr->spec->tasks[i].type != PTASK_JOB || pr->dag[i].state != DAG_RUNNING) continue;
    json_t *t = pr->spec->tasks[i].json;
    sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT id, spec FROM jobs WHERE project_id = ? AND name = ?"), "is",
                                 pr->project_id, jstr(t, "job"));
    int64_t job_id = 0;
    char *spec = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
      job_id = sqlite3_column_int64(st, 0);
      spec = col_text(st, 1);
    }
    if (st) sqlite3_reset(st);
    if (!job_id) continue; /* reported by start_ready */
    json_t *doc = json_loads(spec, 0, NULL);
    json_t *args = json_object_get(t, "args") ? json_object_get(t, "args") : json_object_get(doc, "args");
    char *args_text = json_dumps(args ? args : json_array(), JSON_COMPACT);
    rc = jobs_run_insert(s, job_id, pr->project_id, pr->user_id, "pipeline", 0, args_text ? args_text : "[]", pr->id,
                         pr->spec->tasks[i].name, &pr->t[i].job_run_id, &e);
    free(args_text);
    json_decref(doc);
    free(spec);
  }
  if (!rc) rc = meta_commit(s->meta, &e);
  if (rc) {
    meta_rollback(s->meta);
    for (size_t j = 0; j < k; j++) {
      size_t i = ready[j];
      if (pr->spec->tasks[i].type != PTASK_JOB || pr->dag[i].state != DAG_RUNNING) continue;
      pr->t[i].job_run_id = 0;
      finish(pr, i, false, now, e.msg);
    }
  }
}

/*
 * Starts the ready tasks ready[0..k), processes only while *budget lasts
 * (sensors always): the others stay pending for a later round. Returns
 * whether a task it started has already ended (which may make others
 * ready). ready is reordered.
 */
static bool start_ready(struct server *s, struct prun *pr, size_t *ready, size_t k, int64_t *budget, int64_t now) {
  size_t m = 0;
  for (size_t j = 0; j < k; j++) {
    bool process = pr->spec->tasks[ready[j]].type != PTASK_SENSOR;
    if (process && *budget <= 0) continue;
    if (process) (*budget)--;
    ready[m++] = ready[j];
  }
  k = m;
  for (size_t j = 0; j < k; j++) begin_attempt(pr, ready[j], now);
  insert_job_runs(s, pr, ready, k, now);
  for (size_t j = 0; j < k; j++) {
    size_t i = ready[j];
    if (pr->dag[i].state != DAG_RUNNING) continue;
    switch (pr->spec->tasks[i].type) {
      case PTASK_SENSOR: poke(s, pr, i, now); break;
      case PTASK_JOB:
        if (pr->t[i].job_run_id) {
          jobs_launch_run(s, pr->t[i].job_run_id, pr, i);
        } else {
          char msg[160];
          snprintf(msg, sizeof msg, "job \"%s\" does not exist", jstr(pr->spec->tasks[i].json, "job"));
          finish(pr, i, false, now, msg);
        }
        break;
      default: start_op(s, pr, i, now); break;
    }
  }
  for (size_t j = 0; j < k; j++)
    if (pr->dag[ready[j]].state != DAG_RUNNING) return true;
  return false;
}

/* ---- the webhook ---- */

int runner_webhook(struct server *s, int64_t id, char **url, char **body) {
  *url = *body = NULL;
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta,
                                         "SELECT r.state, r.spec, p.name, pl.name, r.ended FROM pipeline_runs r "
                                         "JOIN projects p ON p.id = r.project_id JOIN pipelines pl ON pl.id = r.pipeline_id "
                                         "WHERE r.id = ?"),
                               "i", id);
  if (!st || sqlite3_step(st) != SQLITE_ROW) {
    if (st) sqlite3_reset(st);
    return -1;
  }
  char *state = col_text(st, 0), *spec = col_text(st, 1), *project = col_text(st, 2), *pipeline = col_text(st, 3);
  int64_t ended = sqlite3_column_int64(st, 4);
  sqlite3_reset(st);
  json_t *doc = spec ? json_loads(spec, 0, NULL) : NULL;
  const char *hook = json_string_value(json_object_get(json_object_get(doc, "notify"), "webhook"));
  int rc = -1;
  if (hook) {
    *url = xstrdup(hook);
    json_t *tasks = json_array(), *failed = json_array();
    st = meta_bind(meta_stmt(s->meta, "SELECT name, state, attempts, message FROM task_runs WHERE run_id = ? ORDER BY idx"),
                   "i", id);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
      const char *tn = (const char *)sqlite3_column_text(st, 0), *ts = (const char *)sqlite3_column_text(st, 1);
      const char *msg = (const char *)sqlite3_column_text(st, 3);
      json_array_append_new(tasks, json_pack("{s:s, s:s, s:i, s:s?}", "name", tn, "state", ts, "attempts",
                                             sqlite3_column_int(st, 2), "message", msg));
      if (!strcmp(ts, "failed")) json_array_append_new(failed, json_string(tn));
    }
    if (st) sqlite3_reset(st);
    char t[32];
    meta_time_iso(ended, t);
    const char *addr = s->jobs->addr ? s->jobs->addr : "";
    char *link = xasprintf("%s/api/v1/projects/%s/pipelines/%s/runs/%" PRId64, addr, project, pipeline, id);
    json_t *b = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:o, s:s}", "event", "pipeline_run_failed", "project",
                          project, "pipeline", pipeline, "run", (json_int_t)id, "state", state, "ended", t,
                          "failed_tasks", failed, "tasks", tasks, "url", link);
    *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    free(link);
    rc = 0;
  }
  json_decref(doc);
  free(state);
  free(spec);
  free(project);
  free(pipeline);
  return rc;
}

static void notify_failure(struct server *s, struct prun *pr) {
  if (!pr->spec->webhook) return;
  char *url, *body;
  if (runner_webhook(s, pr->id, &url, &body) == 0) notifier_post(s->jobs->notifier, url, body, pr->id);
  free(url);
  free(body);
}

/* ---- advancing ---- */

static bool any_proc(struct prun *pr) {
  for (size_t i = 0; i < pr->spec->ntasks; i++)
    if (pr->t[i].proc) return true;
  return false;
}

static void advance(struct server *s, struct prun *pr, int64_t *budget, int64_t now) {
  size_t n = pr->spec->ntasks;
  if (pr->stop) {
    if (!pr->cancelling) {
      pr->cancelling = true;
      for (size_t i = 0; i < n; i++)
        if (pr->t[i].proc) jobs_proc_cancel(s, pr->t[i].proc);
    }
    if (any_proc(pr)) {
      persist(s, pr, NULL);
      return;
    }
    for (size_t i = 0; i < n; i++) {
      enum dag_state st = pr->dag[i].state;
      if (st == DAG_RUNNING) {
        pr->dag[i].state = DAG_FAILED;
        pr->t[i].ended = now;
        set_message(&pr->t[i], "stopped");
      } else if (st == DAG_PENDING || st == DAG_RETRYING) {
        pr->dag[i].state = DAG_SKIPPED;
        pr->dag[i].not_before = 0;
        set_message(&pr->t[i], "the run was stopped");
      }
    }
    persist(s, pr, "killed");
    return;
  }
  /* Tasks that end at once (a sensor that finds its path, a launch that fails) may free others: go round. */
  for (size_t round = 0; round <= n; round++) {
    size_t k = dag_ready(pr->spec, pr->dag, now, pr->ready, NULL);
    if (k == 0 || !start_ready(s, pr, pr->ready, k, budget, now)) break;
  }
  for (size_t i = 0; i < n; i++)
    if (pr->dag[i].state == DAG_RUNNING && pr->spec->tasks[i].type == PTASK_SENSOR) poke(s, pr, i, now);
  dag_ready(pr->spec, pr->dag, now, pr->ready, NULL); /* settle rules after sensors ended */
  enum dag_run_state rs = dag_run_state(pr->spec, pr->dag);
  persist(s, pr, rs == DAG_RUN_RUNNING ? NULL : dag_run_state_name(rs));
  if (pr->done && rs == DAG_RUN_FAILED) notify_failure(s, pr);
}

void runner_tick(struct server *s, int64_t now) {
  struct jobs_service *v = s->jobs;
  /*
   * Tasks are handed to the pool just in time: a few more than it has CPU
   * slots wait in its queue, so a slot that frees takes the next one at
   * once, while a wide pipeline's thousand ready tasks cost no job runs,
   * directories or queue entries before their turn (and stay "pending",
   * which they are, rather than "running" in a queue).
   */
  struct exec_stats st;
  sched_stats(s, &st);
  int64_t budget = (int64_t)st.cpus_total * 2 + 2 - (int64_t)st.queued;
  for (struct prun *pr = v->pruns; pr; pr = pr->next)
    if (!pr->done) advance(s, pr, &budget, now);
  for (struct prun **pp = &v->pruns; *pp;) {
    struct prun *pr = *pp;
    if (pr->done && !any_proc(pr)) {
      *pp = pr->next;
      prun_free(pr);
    } else {
      pp = &pr->next;
    }
  }
}

void runner_load(struct server *s, int64_t id) {
  struct jobs_service *v = s->jobs;
  for (struct prun *pr = v->pruns; pr; pr = pr->next)
    if (pr->id == id && !pr->done) return;
  struct prun *pr = prun_load(s, id);
  if (!pr) return;
  pr->next = v->pruns;
  v->pruns = pr;
}

void runner_stop(struct server *s, int64_t id) {
  for (struct prun *pr = s->jobs->pruns; pr; pr = pr->next)
    if (pr->id == id && !pr->done) pr->stop = true;
}

void runner_stop_project(struct server *s, int64_t project_id) {
  for (struct prun *pr = s->jobs->pruns; pr; pr = pr->next)
    if (pr->project_id == project_id && !pr->done) pr->stop = true;
}

int runner_recover(struct server *s, oast_err *e) {
  struct jobs_service *v = s->jobs;
  int64_t *ids = NULL;
  size_t n = 0, cap = 0;
  sqlite3_stmt *st = meta_stmt(s->meta, "SELECT id FROM pipeline_runs WHERE state = 'running' ORDER BY id");
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    if (n == cap) ids = xreallocarray(ids, cap = cap ? cap * 2 : 8, sizeof *ids);
    ids[n++] = sqlite3_column_int64(st, 0);
  }
  if (st) sqlite3_reset(st);
  int64_t now = (int64_t)time(NULL);
  for (size_t k = 0; k < n; k++) {
    struct prun *pr = prun_load(s, ids[k]);
    if (!pr) {
      meta_exec(s->meta, NULL,
                "UPDATE pipeline_runs SET state = 'failed', ended = ? WHERE id = ? AND state = 'running'", "ii",
                meta_now(), ids[k]);
      continue;
    }
    /* The old token's secret died with the old process: revoke it; a new one is made when needed. */
    st = meta_bind(meta_stmt(s->meta, "SELECT token_hash FROM pipeline_runs WHERE id = ?"), "i", pr->id);
    char *old = st && sqlite3_step(st) == SQLITE_ROW ? col_text(st, 0) : NULL;
    if (st) sqlite3_reset(st);
    jobs_token_revoke(s, old);
    free(old);
    meta_exec(s->meta, NULL, "UPDATE pipeline_runs SET token_hash = NULL WHERE id = ?", "i", pr->id);
    for (size_t i = 0; i < pr->spec->ntasks; i++) {
      if (pr->dag[i].state != DAG_RUNNING) continue;
      if (pr->spec->tasks[i].type == PTASK_SENSOR) {
        pr->t[i].next_poke = 0; /* it goes on waiting; its timeout counts from its start */
        continue;
      }
      st = meta_bind(meta_stmt(s->meta,
                               "SELECT coalesce(pid, 0), coalesce(pstart, 0) FROM task_runs WHERE run_id = ? AND idx = ?"),
                     "ii", pr->id, (int64_t)i);
      if (st && sqlite3_step(st) == SQLITE_ROW) jobs_kill_orphan(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
      if (st) sqlite3_reset(st);
      finish(pr, i, false, now, "lost: the server stopped while it ran");
    }
    persist(s, pr, NULL);
    pr->next = v->pruns;
    v->pruns = pr;
  }
  free(ids);
  return 0;
}

void runner_free_all(struct server *s) {
  struct jobs_service *v = s->jobs;
  while (v->pruns) {
    struct prun *pr = v->pruns;
    v->pruns = pr->next;
    prun_free(pr);
  }
}
