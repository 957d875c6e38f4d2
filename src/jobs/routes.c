/*
 * routes.c — jobs and job runs over REST: /projects/{p}/jobs[/{name}
 * [/runs[/{id}[/logs|/stop]]]].
 *
 * Every member of a project may define, run and stop its jobs (the write
 * right of both roles); a job runs as the user who launched it, with that
 * user's role, through a job token confined to the project (service.c).
 * A job's definition is checked whole before it is stored, its program
 * must exist in one of the project's datasets (or one shared with it),
 * and a schedule starts counting from the moment it is set, so a new
 * schedule never fires for the past.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authz.h"
#include "http/server.h"
#include "jobs/defs.h"
#include "jobs/job_spec.h"
#include "jobs/service.h"
#include "meta/meta.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/path.h"

#define RUN_ARGS_MAX 256

static json_t *col_int_or_null(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(st, i));
}

static json_t *col_str_or_null(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? json_string((const char *)t) : json_null();
}

/* ---- jobs ---- */

#define RUN_COLS                                                                                                    \
  "r.id, j.name, r.state, r.exit_code, r.signal, r.timed_out, r.message, r.trigger, r.scheduled_for, u.username, " \
  "r.args, r.created, r.started, r.ended, r.pipeline_run_id, r.task "
#define RUN_FROM "FROM job_runs r JOIN jobs j ON j.id = r.job_id JOIN users u ON u.id = r.user_id "

static json_t *run_json(sqlite3_stmt *st) {
  json_t *o = json_object();
  int64_t id = sqlite3_column_int64(st, 0);
  const char *job = (const char *)sqlite3_column_text(st, 1);
  json_object_set_new(o, "id", json_integer(id));
  json_object_set_new(o, "job", json_string(job));
  json_object_set_new(o, "state", json_string((const char *)sqlite3_column_text(st, 2)));
  json_object_set_new(o, "exit_code", col_int_or_null(st, 3));
  json_object_set_new(o, "signal", col_int_or_null(st, 4));
  json_object_set_new(o, "timed_out", json_boolean(sqlite3_column_int(st, 5)));
  json_object_set_new(o, "message", col_str_or_null(st, 6));
  json_object_set_new(o, "trigger", json_string((const char *)sqlite3_column_text(st, 7)));
  json_object_set_new(o, "scheduled_for", jobs_time(sqlite3_column_int64(st, 8)));
  json_object_set_new(o, "user", json_string((const char *)sqlite3_column_text(st, 9)));
  json_t *args = json_loads((const char *)sqlite3_column_text(st, 10), 0, NULL);
  json_object_set_new(o, "args", args ? args : json_array());
  json_object_set_new(o, "created", jobs_time(sqlite3_column_int64(st, 11)));
  json_object_set_new(o, "started", jobs_time(sqlite3_column_int64(st, 12)));
  json_object_set_new(o, "ended", jobs_time(sqlite3_column_int64(st, 13)));
  int64_t started = sqlite3_column_int64(st, 12), ended = sqlite3_column_int64(st, 13);
  json_object_set_new(o, "duration_s", started && ended ? json_integer(ended - started) : json_null());
  json_object_set_new(o, "pipeline_run", col_int_or_null(st, 14));
  json_object_set_new(o, "task", col_str_or_null(st, 15));
  char *log = jobs_run_log(job, id);
  json_object_set_new(o, "log", json_string(log));
  free(log);
  return o;
}

/* One run of job_id as JSON, or NULL. */
static json_t *run_get_json(struct server *s, int64_t job_id, int64_t id) {
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT " RUN_COLS RUN_FROM "WHERE r.id = ? AND r.job_id = ?"), "ii",
                               id, job_id);
  json_t *o = st && sqlite3_step(st) == SQLITE_ROW ? run_json(st) : NULL;
  if (st) sqlite3_reset(st);
  return o;
}

static json_t *job_json(struct server *s, int64_t id, bool full);

static const struct def_kind jobs_kind = {
    "job",
    "SELECT id, schedule, sched_last, spec FROM jobs WHERE project_id = ? AND name = ?",
    "UPDATE jobs SET spec = ?, owner_id = ?, schedule = ?, sched_last = ?, updated = ? WHERE id = ?",
    "INSERT INTO jobs(project_id, name, spec, owner_id, schedule, sched_last, created, updated) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "SELECT id FROM jobs WHERE project_id = ? ORDER BY name",
    "SELECT j.spec, u.username, j.created, j.updated, j.schedule, j.sched_last "
    "FROM jobs j JOIN users u ON u.id = j.owner_id WHERE j.id = ?",
    "SELECT count(*) FROM job_runs WHERE job_id = ? AND state IN ('queued', 'running')",
    "DELETE FROM jobs WHERE id = ?",
    job_json,
};

/* The stored job with its owner, times, next scheduled run and last run. */
static json_t *job_json(struct server *s, int64_t id, bool full) {
  json_t *o = defs_base_json(s, &jobs_kind, id);
  if (!o) return NULL;
  sqlite3_stmt *st = meta_bind(
      meta_stmt(s->meta, "SELECT " RUN_COLS RUN_FROM "WHERE r.job_id = ? ORDER BY r.id DESC LIMIT 1"), "i", id);
  json_object_set_new(o, "last_run", st && sqlite3_step(st) == SQLITE_ROW ? run_json(st) : json_null());
  if (st) sqlite3_reset(st);
  return o;
}

static int find_job(struct req *r, const char *name, int64_t *id, char **spec, oast_err *e) {
  return defs_find(r, &jobs_kind, name, id, spec, e);
}

/* Validates a job definition (and that its program is there) into *spec. */
static int parse_job(struct req *r, json_t *body, struct job_spec **spec, oast_err *e) {
  int rc = job_spec_from_json(body, spec, e);
  if (rc) return rc;
  char *abs = NULL;
  rc = jobs_resolve_path(r->srv, r->proj.id, r->proj.name, (*spec)->program, &abs, e);
  if (!rc) rc = jobs_check_program(abs, (*spec)->type, e);
  free(abs);
  if (rc) {
    oast_err inner = *e;
    rc = oast_err_set(e, inner.code == OAST_ETOO_LARGE ? OAST_ETOO_LARGE : OAST_EBAD_REQUEST,
                      "job \"%s\": field \"program\": \"%s\": %s", (*spec)->name, (*spec)->program, inner.msg);
    job_spec_free(*spec);
    *spec = NULL;
  }
  return rc;
}

static int job_create_or_put(struct req *r, struct resp *w, oast_err *e, bool put) {
  int rc = authz_require(r, RIGHT_WRITE, e);
  if (rc) return rc;
  json_t *body = NULL;
  struct job_spec *spec = NULL;
  if ((rc = req_json(r, &body, e))) return rc;
  const char *url_name = req_param(r, "name");
  if (put) {
    json_t *n = json_object_get(body, "name");
    if (!n) json_object_set_new(body, "name", json_string(url_name));
    else if (!json_is_string(n) || strcmp(json_string_value(n), url_name) != 0) {
      rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"name\" must be \"%s\", the job named in the path", url_name);
      goto out;
    }
  }
  if ((rc = parse_job(r, body, &spec, e))) goto out;
  rc = defs_save(r, &jobs_kind, spec->name, spec->json, spec->schedule, put, w, e);
out:
  job_spec_free(spec);
  json_decref(body);
  return rc;
}

static int job_create(struct req *r, struct resp *w, oast_err *e) { return job_create_or_put(r, w, e, false); }
static int job_put(struct req *r, struct resp *w, oast_err *e) { return job_create_or_put(r, w, e, true); }

static int job_list(struct req *r, struct resp *w, oast_err *e) { return defs_list(r, &jobs_kind, w, e); }
static int job_get(struct req *r, struct resp *w, oast_err *e) { return defs_get(r, &jobs_kind, w, e); }
static int job_delete(struct req *r, struct resp *w, oast_err *e) { return defs_delete(r, &jobs_kind, w, e); }

/* ---- runs ---- */

/* {"args"?: [strings]} of a run request; *args_text is the JSON array to run with (owned). */
static int run_args(struct req *r, const char *spec_text, char **args_text, oast_err *e) {
  json_t *spec = json_loads(spec_text, 0, NULL);
  json_t *args = json_object_get(spec, "args");
  json_t *body = NULL;
  int rc = 0;
  if (r->body.len) {
    static const char *const fields[] = {"args", NULL};
    if ((rc = req_json(r, &body, e)) || (rc = json_only_fields(body, fields, e))) goto out;
    json_t *given = json_object_get(body, "args");
    if (given && !json_is_null(given)) {
      if (!json_is_array(given) || json_array_size(given) > RUN_ARGS_MAX) {
        rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"args\" must be an array of at most %d strings", RUN_ARGS_MAX);
        goto out;
      }
      size_t i;
      json_t *a;
      json_array_foreach(given, i, a) {
        if (!json_is_string(a) || strlen(json_string_value(a)) != json_string_length(a) || json_string_length(a) > 4096) {
          rc = oast_err_set(e, OAST_EBAD_REQUEST, "item %zu of \"args\" must be a string without NUL of at most 4096 bytes",
                            i + 1);
          goto out;
        }
      }
      args = given;
    }
  }
  *args_text = json_dumps(args ? args : json_array(), JSON_COMPACT);
out:
  json_decref(body);
  json_decref(spec);
  return rc;
}

static int run_create(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  const char *name = req_param(r, "name");
  int rc = authz_require(r, RIGHT_WRITE, e);
  if (rc) return rc;
  int64_t job_id, id = 0;
  char *spec = NULL, *args = NULL;
  if ((rc = find_job(r, name, &job_id, &spec, e)) || (rc = run_args(r, spec, &args, e))) goto out;
  if ((rc = meta_begin(s->meta, e))) goto out;
  rc = jobs_run_insert(s, job_id, r->proj.id, r->who.user_id, "manual", 0, args, 0, NULL, &id, e);
  if (!rc) rc = meta_commit(s->meta, e);
  if (rc) {
    meta_rollback(s->meta);
    goto out;
  }
  snprintf(r->audit_target, sizeof r->audit_target, "job_run:%s:%" PRId64, name, id);
  jobs_request(s, JOBS_LAUNCH, id);
  json_t *o = run_get_json(s, job_id, id);
  resp_json(w, 201, o ? o : json_pack("{s:I}", "id", (json_int_t)id));
out:
  free(spec);
  free(args);
  return rc;
}

static int run_list(struct req *r, struct resp *w, oast_err *e) {
  int64_t job_id, limit;
  int rc = find_job(r, req_param(r, "name"), &job_id, NULL, e);
  if (!rc) rc = jobs_query_limit(r, &limit, e);
  if (rc) return rc;
  sqlite3_stmt *st = meta_bind(
      meta_stmt(r->srv->meta, "SELECT " RUN_COLS RUN_FROM "WHERE r.job_id = ? ORDER BY r.id DESC LIMIT ?"), "ii", job_id,
      limit);
  json_t *items = json_array();
  while (st && sqlite3_step(st) == SQLITE_ROW) json_array_append_new(items, run_json(st));
  if (st) sqlite3_reset(st);
  resp_items(w, items);
  return 0;
}

/* The job and run of a /runs/{id} path; 404 naming what is missing. */
static int find_run(struct req *r, int64_t *job_id, int64_t *id, oast_err *e) {
  int rc = find_job(r, req_param(r, "name"), job_id, NULL, e);
  if (!rc) rc = jobs_param_id(r, "id", id, e);
  if (rc) return rc;
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, "SELECT 1 FROM job_runs WHERE id = ? AND job_id = ?"), "ii", *id,
                               *job_id);
  bool found = st && sqlite3_step(st) == SQLITE_ROW;
  if (st) sqlite3_reset(st);
  if (!found)
    return oast_err_set(e, OAST_ENOT_FOUND, "job \"%s\" has no run %" PRId64, req_param(r, "name"), *id);
  return 0;
}

static int run_get(struct req *r, struct resp *w, oast_err *e) {
  int64_t job_id, id;
  int rc = find_run(r, &job_id, &id, e);
  if (rc) return rc;
  json_t *o = run_get_json(r->srv, job_id, id);
  if (!o) return oast_err_set(e, OAST_ENOT_FOUND, "no run %" PRId64, id);
  resp_json(w, 200, o);
  return 0;
}

static int run_logs(struct req *r, struct resp *w, oast_err *e) {
  int64_t job_id, id;
  int rc = find_run(r, &job_id, &id, e);
  if (rc) return rc;
  bool follow;
  uint64_t offset;
  if ((rc = req_follow_offset(r, &follow, &offset, e))) return rc;
  char *abs = jobs_run_log_abs(r->srv, r->proj.name, req_param(r, "name"), id);
  rc = jobs_log_respond(r, w, abs, id, follow, offset, e);
  free(abs);
  return rc;
}

static int run_stop(struct req *r, struct resp *w, oast_err *e) {
  int64_t job_id, id;
  int rc = authz_require(r, RIGHT_WRITE, e);
  if (!rc) rc = find_run(r, &job_id, &id, e);
  if (rc) return rc;
  snprintf(r->audit_target, sizeof r->audit_target, "job_run:%s:%" PRId64, req_param(r, "name"), id);
  json_t *o = run_get_json(r->srv, job_id, id);
  const char *state = json_string_value(json_object_get(o, "state"));
  if (!state || (strcmp(state, "queued") && strcmp(state, "running"))) {
    rc = oast_err_set(e, OAST_ECONFLICT, "run %" PRId64 " has already ended (%s)", id, state ? state : "gone");
    json_decref(o);
    return rc;
  }
  jobs_request(r->srv, JOBS_STOP_RUN, id);
  resp_json(w, 202, o);
  return 0;
}

const struct route job_routes[] = {
    {"POST", "/api/v1/projects/{p}/jobs", ACCESS_MEMBER, 0, "job.create", job_create, NULL},
    {"GET", "/api/v1/projects/{p}/jobs", ACCESS_MEMBER, 0, "job.list", job_list, NULL},
    {"GET", "/api/v1/projects/{p}/jobs/{name}", ACCESS_MEMBER, 0, "job.get", job_get, NULL},
    {"PUT", "/api/v1/projects/{p}/jobs/{name}", ACCESS_MEMBER, 0, "job.put", job_put, NULL},
    {"DELETE", "/api/v1/projects/{p}/jobs/{name}", ACCESS_MEMBER, 0, "job.delete", job_delete, NULL},
    {"POST", "/api/v1/projects/{p}/jobs/{name}/runs", ACCESS_MEMBER, 0, "job.run", run_create, NULL},
    {"GET", "/api/v1/projects/{p}/jobs/{name}/runs", ACCESS_MEMBER, 0, "job.runs", run_list, NULL},
    {"GET", "/api/v1/projects/{p}/jobs/{name}/runs/{id}", ACCESS_MEMBER, 0, "job.run.get", run_get, NULL},
    {"GET", "/api/v1/projects/{p}/jobs/{name}/runs/{id}/logs", ACCESS_MEMBER, 0, "job.run.logs", run_logs, NULL},
    {"POST", "/api/v1/projects/{p}/jobs/{name}/runs/{id}/stop", ACCESS_MEMBER, 0, "job.run.stop", run_stop, NULL},
    ROUTES_END,
};
