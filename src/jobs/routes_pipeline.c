/*
 * routes_pipeline.c — pipelines and their runs over REST:
 * /projects/{p}/pipelines[/{name}[/runs[/{id}[/rerun|/stop]]]].
 *
 * A pipeline is posted as YAML or JSON (the body is parsed as JSON when
 * it starts with '{', else as YAML; the Content-Type is not needed) and
 * validated whole by pipeline_spec.c: a cycle, an unknown dependency, a
 * bad cron expression or an unknown task type is a 400 that names the
 * task. A job task must name a job of the project. Runs are advanced by
 * the runner on the scheduler thread (runner.c); these handlers only
 * write rows and hand the run over.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authz.h"
#include "http/server.h"
#include "jobs/dag.h"
#include "jobs/defs.h"
#include "jobs/pipeline_spec.h"
#include "jobs/service.h"
#include "meta/meta.h"
#include "util/alloc.h"
#include "util/json.h"

static char *col_text(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? xstrdup((const char *)t) : NULL;
}

/* ---- JSON ---- */

#define PRUN_COLS "r.id, pl.name, r.state, r.trigger, r.scheduled_for, u.username, r.created, r.ended, r.notified "
#define PRUN_FROM "FROM pipeline_runs r JOIN pipelines pl ON pl.id = r.pipeline_id JOIN users u ON u.id = r.user_id "

static json_t *prun_summary(sqlite3_stmt *st) {
  json_t *o = json_object();
  json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
  json_object_set_new(o, "pipeline", json_string((const char *)sqlite3_column_text(st, 1)));
  json_object_set_new(o, "state", json_string((const char *)sqlite3_column_text(st, 2)));
  json_object_set_new(o, "trigger", json_string((const char *)sqlite3_column_text(st, 3)));
  json_object_set_new(o, "scheduled_for", jobs_time(sqlite3_column_int64(st, 4)));
  json_object_set_new(o, "user", json_string((const char *)sqlite3_column_text(st, 5)));
  json_object_set_new(o, "created", jobs_time(sqlite3_column_int64(st, 6)));
  json_object_set_new(o, "ended", jobs_time(sqlite3_column_int64(st, 7)));
  const unsigned char *nt = sqlite3_column_text(st, 8);
  json_object_set_new(o, "notified", nt ? json_string((const char *)nt) : json_null());
  return o;
}

/* Counts of tasks per state, for run lists. */
static json_t *task_counts(struct server *s, int64_t run_id) {
  json_t *c = json_object();
  sqlite3_stmt *st =
      meta_bind(meta_stmt(s->meta, "SELECT state, count(*) FROM task_runs WHERE run_id = ? GROUP BY state"), "i", run_id);
  while (st && sqlite3_step(st) == SQLITE_ROW)
    json_object_set_new(c, (const char *)sqlite3_column_text(st, 0), json_integer(sqlite3_column_int64(st, 1)));
  if (st) sqlite3_reset(st);
  return c;
}

/* The whole run: summary and every task. NULL when it is not a run of pipeline_id. */
static json_t *prun_json(struct server *s, const char *project, int64_t pipeline_id, int64_t id) {
  sqlite3_stmt *st = meta_bind(
      meta_stmt(s->meta, "SELECT " PRUN_COLS ", r.spec " PRUN_FROM "WHERE r.id = ? AND r.pipeline_id = ?"), "ii", id,
      pipeline_id);
  if (!st || sqlite3_step(st) != SQLITE_ROW) {
    if (st) sqlite3_reset(st);
    return NULL;
  }
  json_t *o = prun_summary(st);
  char *spec_text = col_text(st, 9);
  sqlite3_reset(st);
  json_t *spec = spec_text ? json_loads(spec_text, 0, NULL) : NULL;
  free(spec_text);
  json_t *specs = json_object_get(spec, "tasks");
  const char *pipeline = json_string_value(json_object_get(o, "pipeline"));
  json_t *tasks = json_array();
  st = meta_bind(meta_stmt(s->meta,
                           "SELECT t.idx, t.name, t.state, t.attempts, t.not_before, t.job_run_id, t.exit_code, t.message, "
                           "t.result, t.started, t.ended, j.name FROM task_runs t LEFT JOIN job_runs jr ON jr.id = t.job_run_id "
                           "LEFT JOIN jobs j ON j.id = jr.job_id WHERE t.run_id = ? ORDER BY t.idx"),
                 "i", id);
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    json_t *t = json_object();
    json_t *ts = json_array_get(specs, (size_t)sqlite3_column_int64(st, 0));
    const char *name = (const char *)sqlite3_column_text(st, 1);
    const char *type = json_string_value(json_object_get(ts, "type"));
    json_object_set_new(t, "name", json_string(name));
    json_object_set_new(t, "type", type ? json_string(type) : json_null());
    json_object_set_new(t, "state", json_string((const char *)sqlite3_column_text(st, 2)));
    json_object_set_new(t, "attempts", json_integer(sqlite3_column_int(st, 3)));
    json_object_set_new(t, "depends_on", json_incref(json_object_get(ts, "depends_on")) ?: json_array());
    json_object_set_new(t, "next_attempt", jobs_time(sqlite3_column_int64(st, 4)));
    json_object_set_new(t, "job_run",
                        sqlite3_column_type(st, 5) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(st, 5)));
    json_object_set_new(t, "exit_code",
                        sqlite3_column_type(st, 6) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(st, 6)));
    const unsigned char *msg = sqlite3_column_text(st, 7), *res = sqlite3_column_text(st, 8);
    json_object_set_new(t, "message", msg ? json_string((const char *)msg) : json_null());
    json_t *rj = res ? json_loads((const char *)res, JSON_DECODE_ANY, NULL) : NULL;
    json_object_set_new(t, "result", rj ? rj : json_null());
    json_object_set_new(t, "started", jobs_time(sqlite3_column_int64(st, 9)));
    json_object_set_new(t, "ended", jobs_time(sqlite3_column_int64(st, 10)));
    /* Where its output is: a job task's job run log, or the task's own log. */
    char *log = NULL;
    if (sqlite3_column_type(st, 5) != SQLITE_NULL && sqlite3_column_text(st, 11))
      log = jobs_run_log((const char *)sqlite3_column_text(st, 11), sqlite3_column_int64(st, 5));
    else if (type && strcmp(type, "sensor") && strcmp(type, "job"))
      log = xasprintf("Logs/pipelines/%s/%" PRId64 "/%s.log", pipeline, id, name);
    json_object_set_new(t, "log", log ? json_string(log) : json_null());
    free(log);
    json_array_append_new(tasks, t);
  }
  if (st) sqlite3_reset(st);
  json_object_set_new(o, "project", json_string(project));
  json_object_set_new(o, "tasks", tasks);
  json_decref(spec);
  return o;
}

static json_t *pipeline_json(struct server *s, int64_t id, bool full);

static const struct def_kind pipelines_kind = {
    "pipeline",
    "SELECT id, schedule, sched_last, spec FROM pipelines WHERE project_id = ? AND name = ?",
    "UPDATE pipelines SET spec = ?, owner_id = ?, schedule = ?, sched_last = ?, updated = ? WHERE id = ?",
    "INSERT INTO pipelines(project_id, name, spec, owner_id, schedule, sched_last, created, updated) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "SELECT id FROM pipelines WHERE project_id = ? ORDER BY name",
    "SELECT pl.spec, u.username, pl.created, pl.updated, pl.schedule, pl.sched_last "
    "FROM pipelines pl JOIN users u ON u.id = pl.owner_id WHERE pl.id = ?",
    "SELECT count(*) FROM pipeline_runs WHERE pipeline_id = ? AND state = 'running'",
    "DELETE FROM pipelines WHERE id = ?",
    pipeline_json,
};

/* The stored pipeline with its owner, times, next scheduled run and last run; listed, its tasks as a count. */
static json_t *pipeline_json(struct server *s, int64_t id, bool full) {
  json_t *o = defs_base_json(s, &pipelines_kind, id);
  if (!o) return NULL;
  if (!full) json_object_set_new(o, "tasks", json_integer((json_int_t)json_array_size(json_object_get(o, "tasks"))));
  sqlite3_stmt *st = meta_bind(
      meta_stmt(s->meta, "SELECT " PRUN_COLS PRUN_FROM "WHERE r.pipeline_id = ? ORDER BY r.id DESC LIMIT 1"), "i", id);
  json_object_set_new(o, "last_run", st && sqlite3_step(st) == SQLITE_ROW ? prun_summary(st) : json_null());
  if (st) sqlite3_reset(st);
  return o;
}

static int find_pipeline(struct req *r, const char *name, int64_t *id, oast_err *e) {
  return defs_find(r, &pipelines_kind, name, id, NULL, e);
}

/* ---- pipelines ---- */

/* Parses and validates a pipeline body; job tasks must name jobs of the project. */
static int parse_pipeline(struct req *r, struct pipeline_spec **out, oast_err *e) {
  int rc = pipeline_spec_parse(r->body.data ? r->body.data : "", r->body.len, out, e);
  if (rc) return rc;
  struct pipeline_spec *p = *out;
  for (size_t i = 0; i < p->ntasks && !rc; i++) {
    if (p->tasks[i].type != PTASK_JOB) continue;
    const char *job = json_string_value(json_object_get(p->tasks[i].json, "job"));
    sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, "SELECT 1 FROM jobs WHERE project_id = ? AND name = ?"), "is",
                                 r->proj.id, job);
    bool found = st && sqlite3_step(st) == SQLITE_ROW;
    if (st) sqlite3_reset(st);
    if (!found)
      rc = oast_err_set(e, OAST_EBAD_REQUEST, "task \"%s\": job \"%s\" does not exist in project \"%s\"",
                        p->tasks[i].name, job, r->proj.name);
  }
  if (rc) {
    pipeline_spec_free(p);
    *out = NULL;
  }
  return rc;
}

static int pipeline_create_or_put(struct req *r, struct resp *w, oast_err *e, bool put) {
  int rc = authz_require(r, RIGHT_WRITE, e);
  if (rc) return rc;
  struct pipeline_spec *p = NULL;
  if ((rc = parse_pipeline(r, &p, e))) return rc;
  const char *url_name = req_param(r, "name");
  if (put && strcmp(p->name, url_name) != 0) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"name\" is \"%s\"; it must be \"%s\", the pipeline named in the path",
                      p->name, url_name);
    goto out;
  }
  rc = defs_save(r, &pipelines_kind, p->name, p->json, p->schedule, put, w, e);
out:
  pipeline_spec_free(p);
  return rc;
}

static int pipeline_create(struct req *r, struct resp *w, oast_err *e) { return pipeline_create_or_put(r, w, e, false); }
static int pipeline_put(struct req *r, struct resp *w, oast_err *e) { return pipeline_create_or_put(r, w, e, true); }

static int pipeline_list(struct req *r, struct resp *w, oast_err *e) { return defs_list(r, &pipelines_kind, w, e); }
static int pipeline_get(struct req *r, struct resp *w, oast_err *e) { return defs_get(r, &pipelines_kind, w, e); }
static int pipeline_delete(struct req *r, struct resp *w, oast_err *e) { return defs_delete(r, &pipelines_kind, w, e); }

/* ---- runs ---- */

static int prun_create(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  const char *name = req_param(r, "name");
  int rc = authz_require(r, RIGHT_WRITE, e);
  if (rc) return rc;
  if (r->body.len) {
    json_t *b = NULL;
    static const char *const none[] = {NULL};
    rc = req_json(r, &b, e);
    if (!rc) rc = json_only_fields(b, none, e);
    json_decref(b);
    if (rc) return rc;
  }
  int64_t pid, id = 0;
  if ((rc = find_pipeline(r, name, &pid, e))) return rc;
  if ((rc = meta_begin(s->meta, e))) return rc;
  rc = pipelines_run_insert(s, pid, r->proj.id, r->who.user_id, "manual", 0, &id, e);
  if (!rc) rc = meta_commit(s->meta, e);
  if (rc) {
    meta_rollback(s->meta);
    return rc;
  }
  snprintf(r->audit_target, sizeof r->audit_target, "pipeline_run:%s:%" PRId64, name, id);
  jobs_request(s, JOBS_PIPELINE, id);
  json_t *o = prun_json(s, r->proj.name, pid, id);
  resp_json(w, 201, o ? o : json_pack("{s:I}", "id", (json_int_t)id));
  return 0;
}

static int prun_list(struct req *r, struct resp *w, oast_err *e) {
  int64_t pid, limit;
  int rc = find_pipeline(r, req_param(r, "name"), &pid, e);
  if (!rc) rc = jobs_query_limit(r, &limit, e);
  if (rc) return rc;
  sqlite3_stmt *st = meta_bind(
      meta_stmt(r->srv->meta, "SELECT " PRUN_COLS PRUN_FROM "WHERE r.pipeline_id = ? ORDER BY r.id DESC LIMIT ?"), "ii",
      pid, limit);
  json_t *items = json_array();
  while (st && sqlite3_step(st) == SQLITE_ROW) json_array_append_new(items, prun_summary(st));
  if (st) sqlite3_reset(st);
  size_t i;
  json_t *it;
  json_array_foreach(items, i, it) {
    json_object_set_new(it, "tasks", task_counts(r->srv, json_integer_value(json_object_get(it, "id"))));
  }
  resp_items(w, items);
  return 0;
}

static int find_prun(struct req *r, int64_t *pid, int64_t *id, oast_err *e) {
  int rc = find_pipeline(r, req_param(r, "name"), pid, e);
  if (!rc) rc = jobs_param_id(r, "id", id, e);
  if (rc) return rc;
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, "SELECT 1 FROM pipeline_runs WHERE id = ? AND pipeline_id = ?"),
                               "ii", *id, *pid);
  bool found = st && sqlite3_step(st) == SQLITE_ROW;
  if (st) sqlite3_reset(st);
  if (!found) return oast_err_set(e, OAST_ENOT_FOUND, "pipeline \"%s\" has no run %" PRId64, req_param(r, "name"), *id);
  return 0;
}

static int prun_get(struct req *r, struct resp *w, oast_err *e) {
  int64_t pid, id;
  int rc = find_prun(r, &pid, &id, e);
  if (rc) return rc;
  json_t *o = prun_json(r->srv, r->proj.name, pid, id);
  if (!o) return oast_err_set(e, OAST_ENOT_FOUND, "no run %" PRId64, id);
  resp_json(w, 200, o);
  return 0;
}

static int prun_stop(struct req *r, struct resp *w, oast_err *e) {
  int64_t pid, id;
  int rc = authz_require(r, RIGHT_WRITE, e);
  if (!rc) rc = find_prun(r, &pid, &id, e);
  if (rc) return rc;
  snprintf(r->audit_target, sizeof r->audit_target, "pipeline_run:%s:%" PRId64, req_param(r, "name"), id);
  json_t *o = prun_json(r->srv, r->proj.name, pid, id);
  const char *state = json_string_value(json_object_get(o, "state"));
  if (!state || strcmp(state, "running") != 0) {
    rc = oast_err_set(e, OAST_ECONFLICT, "run %" PRId64 " has already ended (%s)", id, state ? state : "gone");
    json_decref(o);
    return rc;
  }
  jobs_request(r->srv, JOBS_STOP_PIPELINE, id);
  resp_json(w, 202, o);
  return 0;
}

/*
 * Rerun from a failed task: that task and everything downstream go back
 * to pending, every other task keeps its state (succeeded ones are not
 * run again), and the run is running again. Checked and written in one
 * transaction.
 */
static int prun_rerun(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  int64_t pid, id;
  int rc = authz_require(r, RIGHT_WRITE, e);
  if (!rc) rc = find_prun(r, &pid, &id, e);
  if (rc) return rc;
  const char *from = req_query(r, "from");
  if (!from || !*from) return oast_err_set(e, OAST_EBAD_REQUEST, "from: name the failed task to rerun from (?from=TASK)");
  snprintf(r->audit_target, sizeof r->audit_target, "pipeline_run:%s:%" PRId64, req_param(r, "name"), id);
  if ((rc = meta_begin(s->meta, e))) return rc;
  struct pipeline_spec *spec = NULL;
  struct dag_task *dag = NULL, *before = NULL;
  json_t *doc = NULL;
  char *state = NULL, *spec_text = NULL;
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT state, spec FROM pipeline_runs WHERE id = ?"), "i", id);
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    state = col_text(st, 0);
    spec_text = col_text(st, 1);
  }
  if (st) sqlite3_reset(st);
  doc = spec_text ? json_loads(spec_text, 0, NULL) : NULL;
  if (!doc || pipeline_spec_from_json(doc, &spec, e) != 0) {
    rc = oast_err_set(e, OAST_EINTERNAL, "run %" PRId64 ": its stored spec is unreadable", id);
    goto out;
  }
  if (!strcmp(state, "running")) {
    rc = oast_err_set(e, OAST_ECONFLICT, "run %" PRId64 " is still in progress; rerun from task \"%s\" once it has ended",
                      id, from);
    goto out;
  }
  long from_i = pipeline_spec_task_index(spec, from);
  if (from_i < 0) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "from: pipeline \"%s\" has no task \"%s\"", spec->name, from);
    goto out;
  }
  dag = xcalloc(spec->ntasks, sizeof *dag);
  before = xcalloc(spec->ntasks, sizeof *before);
  st = meta_bind(meta_stmt(s->meta, "SELECT idx, state, attempts, not_before FROM task_runs WHERE run_id = ?"), "i", id);
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    int64_t i = sqlite3_column_int64(st, 0);
    if (i < 0 || (size_t)i >= spec->ntasks) continue;
    oast_err pe;
    if (dag_state_parse((const char *)sqlite3_column_text(st, 1), &dag[i].state, &pe) != 0) dag[i].state = DAG_FAILED;
    dag[i].attempts = sqlite3_column_int(st, 2);
    dag[i].not_before = sqlite3_column_int64(st, 3);
  }
  if (st) sqlite3_reset(st);
  memcpy(before, dag, spec->ntasks * sizeof *dag);
  if ((rc = dag_rerun_from(spec, dag, (size_t)from_i, e))) goto out;
  for (size_t i = 0; i < spec->ntasks && !rc; i++) {
    if (!memcmp(&before[i], &dag[i], sizeof dag[i])) continue;
    rc = meta_exec(s->meta, e,
                   "UPDATE task_runs SET state = ?, attempts = 0, not_before = 0, job_run_id = NULL, exit_code = NULL, "
                   "message = NULL, result = NULL, started = NULL, ended = NULL WHERE run_id = ? AND idx = ?",
                   "sii", dag_state_name(dag[i].state), id, (int64_t)i);
  }
  if (!rc)
    rc = meta_exec(s->meta, e, "UPDATE pipeline_runs SET state = 'running', ended = NULL, notified = NULL WHERE id = ?",
                   "i", id);
  if (!rc) rc = meta_commit(s->meta, e);
out:
  if (rc) meta_rollback(s->meta);
  pipeline_spec_free(spec);
  json_decref(doc);
  free(dag);
  free(before);
  free(state);
  free(spec_text);
  if (rc) return rc;
  jobs_request(s, JOBS_PIPELINE, id);
  json_t *o = prun_json(s, r->proj.name, pid, id);
  resp_json(w, 200, o ? o : json_object());
  return 0;
}

const struct route pipeline_routes[] = {
    {"POST", "/api/v1/projects/{p}/pipelines", ACCESS_MEMBER, 0, "pipeline.create", pipeline_create, NULL},
    {"GET", "/api/v1/projects/{p}/pipelines", ACCESS_MEMBER, 0, "pipeline.list", pipeline_list, NULL},
    {"GET", "/api/v1/projects/{p}/pipelines/{name}", ACCESS_MEMBER, 0, "pipeline.get", pipeline_get, NULL},
    {"PUT", "/api/v1/projects/{p}/pipelines/{name}", ACCESS_MEMBER, 0, "pipeline.put", pipeline_put, NULL},
    {"DELETE", "/api/v1/projects/{p}/pipelines/{name}", ACCESS_MEMBER, 0, "pipeline.delete", pipeline_delete, NULL},
    {"POST", "/api/v1/projects/{p}/pipelines/{name}/runs", ACCESS_MEMBER, 0, "pipeline.run", prun_create, NULL},
    {"GET", "/api/v1/projects/{p}/pipelines/{name}/runs", ACCESS_MEMBER, 0, "pipeline.runs", prun_list, NULL},
    {"GET", "/api/v1/projects/{p}/pipelines/{name}/runs/{id}", ACCESS_MEMBER, 0, "pipeline.run.get", prun_get, NULL},
    {"POST", "/api/v1/projects/{p}/pipelines/{name}/runs/{id}/rerun", ACCESS_MEMBER, 0, "pipeline.run.rerun", prun_rerun,
     NULL},
    {"POST", "/api/v1/projects/{p}/pipelines/{name}/runs/{id}/stop", ACCESS_MEMBER, 0, "pipeline.run.stop", prun_stop,
     NULL},
    ROUTES_END,
};
