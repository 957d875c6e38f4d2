/*
 * deploy.c — deployments as records: /projects/{p}/deployments (create,
 * list, get, change, delete, start, stop, logs), and starting again at
 * server start what was running.
 *
 * A deployment row holds what to serve (a model version), how (the spec:
 * predictor, instances, batching, inference logging, transformer,
 * timeout) and the state its users asked for last ("running" or
 * "stopped"). The live state (starting, running, stopping, failed, with
 * each instance's worker) comes from the runtime, which this file drives;
 * a server that restarts starts every deployment whose asked-for state is
 * running, so a crash or a restart never silently leaves one down.
 *
 * Paths in the spec are project paths as the user wrote them, checked at
 * creation (inside the project's own datasets, no symlinks out, files
 * that exist) and turned into disk paths at each start, where they are
 * checked again: a script deleted since is a clear error, not a crash.
 * Start, stop, change and delete of deployments run one at a time
 * (serving's admin lock), so a deployment is never started twice.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/authz.h"
#include "http/server.h"
#include "meta/meta.h"
#include "project/project.h"
#include "prov/prov.h"
#include "serve/runtime.h"
#include "serve/serve.h"
#include "serve/xgb.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"
#include "util/path.h"

#define MAX_INSTANCES 64
#define MAX_MODEL_VERSION 1000000
#define MAX_BATCH 100000
#define MAX_LATENCY_MS 60000
#define DEFAULT_TIMEOUT_MS 30000
#define MAX_TIMEOUT_MS 3600000
#define LOG_LINES_DEFAULT 200
#define LOG_LINES_MAX 10000
#define LOG_READ_MAX ((size_t)8 << 20)

/* Files a native predictor loads when predictor.model_file is not given, in this order. */
static const char *const model_files[] = {"model.json", "model.ubj", "model.bin", "model.xgb", "model.model", NULL};

/* ---- the spec ---- */

static int int_field(json_t *o, const char *f, int lo, int hi, int *out, oast_err *e) {
  json_t *v = json_object_get(o, f);
  if (!v) return 0;
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
    return oast_err_set(e, OAST_EBAD_REQUEST, "field \"%s\" must be an integer from %d to %d", f, lo, hi);
  *out = (int)json_integer_value(v);
  return 0;
}

/* Checks batching (null or {"max_batch_size", "max_latency_ms"}); fills *max and *lat. */
static int check_batching(json_t *b, int *max, int *lat, oast_err *e) {
  *max = 0;
  *lat = 0;
  if (!b || json_is_null(b)) return 0;
  static const char *const allowed[] = {"max_batch_size", "max_latency_ms", NULL};
  if (!json_is_object(b))
    return oast_err_set(e, OAST_EBAD_REQUEST, "field \"batching\" must be {\"max_batch_size\", \"max_latency_ms\"} or null");
  int rc = json_only_fields(b, allowed, e);
  if (rc) return rc;
  if (!json_object_get(b, "max_batch_size"))
    return oast_err_set(e, OAST_EBAD_REQUEST, "field \"batching.max_batch_size\" is required");
  *lat = 5;
  json_t *v = json_object_get(b, "max_batch_size");
  if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > MAX_BATCH)
    return oast_err_set(e, OAST_EBAD_REQUEST, "field \"batching.max_batch_size\" must be an integer from 1 to %d", MAX_BATCH);
  *max = (int)json_integer_value(v);
  v = json_object_get(b, "max_latency_ms");
  if (v && (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > MAX_LATENCY_MS))
    return oast_err_set(e, OAST_EBAD_REQUEST, "field \"batching.max_latency_ms\" must be an integer from 0 to %d",
                        MAX_LATENCY_MS);
  if (v) *lat = (int)json_integer_value(v);
  return 0;
}

static int check_logging(json_t *v, int *mode, oast_err *e) {
  if (!v) return 0;
  *mode = log_mode_parse(json_string_value(v));
  if (*mode < 0)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "field \"inference_logging\" must be \"all\", \"predictions\", \"model_inputs\" or \"none\"");
  return 0;
}

/* A script given as a project path: own datasets, exists, a regular file. *norm gets "Dataset/rel". */
static int check_script(struct req *r, const char *field, const char *path, char **norm, oast_err *e) {
  struct dataset_ref ds;
  char *abs = NULL, *rel = NULL;
  struct stat st;
  int rc = project_resolve_path_st(r, path, strlen(path), RIGHT_READ, 0, &ds, &abs, &rel, &st, e);
  if (rc) {
    char copy[OAST_ERRMSG_MAX];
    snprintf(copy, sizeof copy, "%s", e->msg);
    rc = oast_err_set(e, rc == OAST_ENOT_FOUND ? OAST_EBAD_REQUEST : rc, "field \"%s\": %s", field, copy);
  } else if (ds.shared) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"%s\" must be inside the project's own datasets", field);
  } else if (!S_ISREG(st.st_mode)) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"%s\": \"%.200s\" is not a file in the project", field, path);
  } else {
    *norm = xasprintf("%s/%s", ds.name, rel);
  }
  free(abs);
  free(rel);
  return rc;
}

/* A regular file (never a symlink) at dir/rel. */
static bool regular_file(const char *dir, const char *rel) {
  char *p = fs_join(dir, rel);
  struct stat st;
  bool ok = lstat(p, &st) == 0 && S_ISREG(st.st_mode);
  free(p);
  return ok;
}

/* The native model file of a version directory: the one named, else the first usual name. *out is relative. */
static int find_model_file(const char *dir, const char *named, char **out, oast_err *e) {
  if (named) {
    char *norm = NULL;
    if (path_normalize(named, strlen(named), &norm, e) || !*norm || !regular_file(dir, norm)) {
      free(norm);
      return oast_err_set(e, OAST_EBAD_REQUEST, "field \"predictor.model_file\": the model version has no file \"%.200s\"",
                          named);
    }
    *out = norm;
    return 0;
  }
  for (int i = 0; model_files[i]; i++)
    if (regular_file(dir, model_files[i])) {
      *out = xstrdup(model_files[i]);
      return 0;
    }
  return oast_err_set(e, OAST_EBAD_REQUEST,
                      "the model version has none of model.json, model.ubj, model.bin, model.xgb, model.model; name its "
                      "file in \"predictor.model_file\"");
}

/* ---- rows to configurations ---- */

struct row {
  int64_t id, project_id, model_version, created, updated;
  char name[64], project[64], model[64], state[16], creator[64];
  json_t *spec;   /* owned */
};

#define ROW_COLS \
  "d.id, d.project_id, p.name, d.name, d.model, d.model_version, d.spec, d.state, d.creator, d.created, d.updated"

static void row_read(sqlite3_stmt *st, struct row *w) {
  memset(w, 0, sizeof *w);
  w->id = sqlite3_column_int64(st, 0);
  w->project_id = sqlite3_column_int64(st, 1);
  snprintf(w->project, sizeof w->project, "%s", (const char *)sqlite3_column_text(st, 2));
  snprintf(w->name, sizeof w->name, "%s", (const char *)sqlite3_column_text(st, 3));
  snprintf(w->model, sizeof w->model, "%s", (const char *)sqlite3_column_text(st, 4));
  w->model_version = sqlite3_column_int64(st, 5);
  w->spec = json_loads((const char *)sqlite3_column_text(st, 6), 0, NULL);
  if (!w->spec) w->spec = json_object();
  snprintf(w->state, sizeof w->state, "%s", (const char *)sqlite3_column_text(st, 7));
  snprintf(w->creator, sizeof w->creator, "%s", (const char *)sqlite3_column_text(st, 8));
  w->created = sqlite3_column_int64(st, 9);
  w->updated = sqlite3_column_int64(st, 10);
}

static int row_get(struct server *s, int64_t project_id, const char *name, struct row *w, oast_err *e) {
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT " ROW_COLS " FROM deployments d JOIN projects p ON "
                                                  "p.id = d.project_id WHERE d.project_id = ? AND d.name = ?"),
                               "is", project_id, name);
  int rc = 0;
  if (st && sqlite3_step(st) == SQLITE_ROW) row_read(st, w);
  else rc = oast_err_set(e, OAST_ENOT_FOUND, "deployment \"%.64s\" not found", name);
  if (st) sqlite3_reset(st);
  return rc;
}

/* What the runtime needs to start a row's deployment, with every path checked again. */
static int row_config(struct server *s, const struct row *w, struct dep_config *c, oast_err *e) {
  memset(c, 0, sizeof *c);
  json_t *pred = json_object_get(w->spec, "predictor"), *batching = json_object_get(w->spec, "batching");
  const char *type = json_string_value(json_object_get(pred, "type"));
  const char *script = json_string_value(json_object_get(pred, "script"));
  const char *mfile = json_string_value(json_object_get(pred, "model_file"));
  const char *tscript = json_string_value(json_object_get(json_object_get(w->spec, "transformer"), "script"));
  c->id = w->id;
  snprintf(c->name, sizeof c->name, "%s", w->name);
  snprintf(c->project, sizeof c->project, "%s", w->project);
  snprintf(c->model, sizeof c->model, "%s", w->model);
  c->project_id = w->project_id;
  c->model_version = w->model_version;
  c->native = type && !strcmp(type, "xgboost");
  c->instances = (int)json_integer_value(json_object_get(w->spec, "instances"));
  if (c->instances < 1) c->instances = 1;
  c->timeout_ms = (int)json_integer_value(json_object_get(w->spec, "timeout_ms"));
  if (c->timeout_ms < 1) c->timeout_ms = DEFAULT_TIMEOUT_MS;
  c->logging = log_mode_parse(json_string_value(json_object_get(w->spec, "inference_logging")));
  if (c->logging < 0) c->logging = LOG_NONE;
  c->max_batch = (int)json_integer_value(json_object_get(batching, "max_batch_size"));
  c->max_latency_ms = (int)json_integer_value(json_object_get(batching, "max_latency_ms"));
  char *pdir = server_project_dir(s, w->project);
  c->model_dir = xasprintf("%s/Models/%s/%lld", pdir, w->model, (long long)w->model_version);
  c->log_dir = xasprintf("%s/Logs/deployments/%s", pdir, w->name);
  int rc = 0;
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT framework, model_schema FROM models WHERE project_id = ? "
                                                  "AND name = ? AND version = ?"),
                               "isi", w->project_id, w->model, w->model_version);
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    snprintf(c->framework, sizeof c->framework, "%s", (const char *)sqlite3_column_text(st, 0));
    if (sqlite3_column_type(st, 1) != SQLITE_NULL)
      c->model_schema = json_loads((const char *)sqlite3_column_text(st, 1), JSON_DECODE_ANY, NULL);
  } else {
    rc = oast_err_set(e, OAST_ECONFLICT, "model \"%s\" version %lld no longer exists; deploy another version", w->model,
                      (long long)w->model_version);
  }
  if (st) sqlite3_reset(st);
  if (!rc && !fs_is_dir(c->model_dir))
    rc = oast_err_set(e, OAST_ECONFLICT, "the files of model \"%s\" version %lld are missing", w->model,
                      (long long)w->model_version);
  if (!rc && script) {
    if (!regular_file(pdir, script))
      rc = oast_err_set(e, OAST_ECONFLICT, "the predictor script %.200s no longer exists", script);
    else c->script = fs_join(pdir, script);
  }
  if (!rc && tscript) {
    if (!regular_file(pdir, tscript))
      rc = oast_err_set(e, OAST_ECONFLICT, "the transformer script %.200s no longer exists", tscript);
    else c->transformer = fs_join(pdir, tscript);
  }
  if (!rc && c->native) {
    char *rel = NULL;
    if ((rc = find_model_file(c->model_dir, mfile, &rel, e)) == 0) c->model_file = fs_join(c->model_dir, rel);
    free(rel);
  }
  free(pdir);
  if (rc) dep_config_release(c);
  return rc;
}

/* ---- answers ---- */

static json_t *row_json(struct server *s, const struct row *w) {
  char created[32], updated[32];
  meta_time_iso(w->created, created);
  meta_time_iso(w->updated, updated);
  json_t *j = json_pack("{s:s,s:s,s:s,s:I}", "name", w->name, "project", w->project, "model", w->model, "model_version",
                        (json_int_t)w->model_version);
  json_object_update(j, w->spec);
  json_object_set_new(j, "requested_state", json_string(w->state));
  struct dep *d = rt_get(s->serving, w->name);
  if (d && d->c.id == w->id) {
    json_t *st = rt_status(d);
    json_object_update(j, st);
    json_decref(st);
  } else {
    json_object_set_new(j, "state", json_string("stopped"));
    json_object_set_new(j, "instance_states", json_array());
  }
  rt_put(d);
  char *predict = xasprintf("/v1/models/%s:predict", w->name), *infer = xasprintf("/v2/models/%s/infer", w->name);
  char *logs = xasprintf("Logs/deployments/%s", w->name);
  json_object_set_new(j, "endpoints", json_pack("{s:s,s:s}", "predict", predict, "infer", infer));
  json_object_set_new(j, "logs", json_string(logs));
  free(predict);
  free(infer);
  free(logs);
  json_object_set_new(j, "creator", json_string(w->creator));
  json_object_set_new(j, "created", json_string(created));
  json_object_set_new(j, "updated", json_string(updated));
  return j;
}

static int answer_row(struct req *r, struct resp *w, int status, const char *name, oast_err *e) {
  struct row row;
  int rc = row_get(r->srv, r->proj.id, name, &row, e);
  if (rc) return rc;
  resp_json(w, status, row_json(r->srv, &row));
  json_decref(row.spec);
  return 0;
}

static int need_serving(struct req *r, oast_err *e) {
  if (!r->srv->serving) return oast_err_set(e, OAST_EUNAVAILABLE, "model serving is not running in this server");
  return 0;
}

/* ---- routes ---- */

static int deploy_create(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  json_t *b, *pred = NULL, *tr = NULL;
  int rc = req_json(r, &b, e);
  if (rc) return rc;
  static const char *const allowed[] = {"name", "model", "model_version", "predictor", "instances", "batching",
                                        "inference_logging", "transformer", "timeout_ms", "description", NULL};
  static const char *const pred_allowed[] = {"type", "script", "model_file", NULL};
  static const char *const tr_allowed[] = {"script", NULL};
  const char *name = NULL, *model = NULL, *type = NULL, *script = NULL, *mfile = NULL, *tscript = NULL, *desc = "";
  int64_t version = 0;
  int instances = 1, timeout = DEFAULT_TIMEOUT_MS, maxb = 0, lat = 0, logging = LOG_NONE;
  char *script_norm = NULL, *tscript_norm = NULL, *mfile_rel = NULL, *mdir = NULL, *spec_text = NULL;
  char framework[16] = "";
  json_t *spec = NULL;
  bool began = false;
  if ((rc = json_only_fields(b, allowed, e)) || (rc = json_get_str(b, "name", true, &name, e)) ||
      (rc = name_check("deployment name", name, e)) || (rc = json_get_str(b, "model", true, &model, e)) ||
      (rc = name_check("model name", model, e)) || (rc = json_get_int(b, "model_version", false, &version, e)) ||
      (rc = json_get_obj(b, "predictor", true, &pred, e)) || (rc = json_only_fields(pred, pred_allowed, e)) ||
      (rc = json_get_str(pred, "type", true, &type, e)) || (rc = json_get_str(pred, "script", false, &script, e)) ||
      (rc = json_get_str(pred, "model_file", false, &mfile, e)) ||
      (rc = int_field(b, "instances", 1, MAX_INSTANCES, &instances, e)) ||
      (rc = int_field(b, "timeout_ms", 10, MAX_TIMEOUT_MS, &timeout, e)) ||
      (rc = check_batching(json_object_get(b, "batching"), &maxb, &lat, e)) ||
      (rc = check_logging(json_object_get(b, "inference_logging"), &logging, e)) ||
      (rc = json_get_str(b, "description", false, &desc, e)) || (rc = authz_require(r, RIGHT_WRITE, e)))
    goto out;
  snprintf(r->audit_target, sizeof r->audit_target, "deployment:%s", name);
  if (strcmp(type, "python") && strcmp(type, "xgboost")) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"predictor.type\" must be \"python\" or \"xgboost\"");
    goto out;
  }
  if (!strcmp(type, "xgboost") && script) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"predictor.script\" is for python predictors; an xgboost predictor "
                      "runs in the server (use \"transformer\" for Python pre- and post-processing)");
    goto out;
  }
  if (!strcmp(type, "python") && mfile) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"predictor.model_file\" is for xgboost predictors");
    goto out;
  }
  if (strlen(desc) > 4096) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"description\" is longer than 4096 characters");
    goto out;
  }
  json_t *tv = json_object_get(b, "transformer");
  if (tv && !json_is_null(tv)) {
    if ((rc = json_get_obj(b, "transformer", true, &tr, e)) || (rc = json_only_fields(tr, tr_allowed, e)) ||
        (rc = json_get_str(tr, "script", true, &tscript, e)))
      goto out;
  }
  /* The model version: the newest when none is named. */
  if (json_object_get(b, "model_version") && version < 1) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"model_version\" must be a positive integer");
    goto out;
  }
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT version, framework FROM models WHERE project_id = ? AND "
                                                  "name = ? AND (? = 0 OR version = ?) ORDER BY version DESC LIMIT 1"),
                               "isii", r->proj.id, model, version, version);
  int64_t found = 0;
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    found = sqlite3_column_int64(st, 0);
    snprintf(framework, sizeof framework, "%s", (const char *)sqlite3_column_text(st, 1));
  }
  if (st) sqlite3_reset(st);
  if (!found) {
    rc = version ? oast_err_set(e, OAST_EBAD_REQUEST, "field \"model_version\": model \"%s\" has no version %lld", model,
                                (long long)version)
                 : oast_err_set(e, OAST_EBAD_REQUEST, "field \"model\": the project has no model \"%s\"", model);
    goto out;
  }
  version = found;
  char *pdir = server_project_dir(s, r->proj.name);
  mdir = xasprintf("%s/Models/%s/%lld", pdir, model, (long long)version);
  free(pdir);
  if (script && (rc = check_script(r, "predictor.script", script, &script_norm, e))) goto out;
  if (tscript && (rc = check_script(r, "transformer.script", tscript, &tscript_norm, e))) goto out;
  if (!strcmp(type, "python") && !script) {
    if (regular_file(mdir, "predictor.py")) script_norm = xasprintf("Models/%s/%lld/predictor.py", model, (long long)version);
    else if (strcmp(framework, "sklearn") != 0) {
      rc = oast_err_set(e, OAST_EBAD_REQUEST,
                        "field \"predictor.script\" is required: model \"%s\" is a %s model without a predictor.py "
                        "(only sklearn models have a built-in predictor)",
                        model, framework);
      goto out;
    }
  }
  if (!strcmp(type, "xgboost")) {
    if ((rc = find_model_file(mdir, mfile, &mfile_rel, e))) goto out;
    struct xgb_model *xm = NULL;
    char *path = fs_join(mdir, mfile_rel);
    rc = xgb_load(path, &xm, e);
    free(path);
    xgb_free(xm);
    if (rc) goto out;
  }
  spec = json_pack("{s:{s:s},s:i,s:s,s:i,s:s}", "predictor", "type", type, "instances", instances, "inference_logging",
                   log_mode_name(logging), "timeout_ms", timeout, "description", desc);
  json_t *ps = json_object_get(spec, "predictor");
  if (script_norm) json_object_set_new(ps, "script", json_string(script_norm));
  if (mfile_rel) json_object_set_new(ps, "model_file", json_string(mfile_rel));
  json_object_set_new(spec, "batching", maxb ? json_pack("{s:i,s:i}", "max_batch_size", maxb, "max_latency_ms", lat)
                                             : json_null());
  json_object_set_new(spec, "transformer", tscript_norm ? json_pack("{s:s}", "script", tscript_norm) : json_null());
  spec_text = json_dump(spec);
  if ((rc = meta_begin(s->meta, e))) goto out;
  began = true;
  int64_t now = meta_now();
  st = meta_bind(meta_stmt(s->meta, "INSERT INTO deployments(project_id, name, model, model_version, spec, state, "
                                    "creator, created, updated) VALUES (?, ?, ?, ?, ?, 'stopped', ?, ?, ?)"),
                 "ississii", r->proj.id, name, model, version, spec_text, r->who.username, now, now);
  int sr = sqlite3_step(st);
  sqlite3_reset(st);
  if (sr != SQLITE_DONE) {
    rc = (sr & 0xff) == SQLITE_CONSTRAINT
             ? oast_err_set(e, OAST_EEXISTS, "a deployment named \"%s\" already exists (names are unique per server)",
                            name)
             : meta_error(s->meta, sr, e, "creating the deployment");
    goto out;
  }
  char id[96];
  snprintf(id, sizeof id, "%s:%lld", model, (long long)version);
  if ((rc = prov_add(s, r->proj.id, "model", id, "deployment", name, "deployed", e))) goto out;
  if ((rc = meta_commit(s->meta, e))) goto out;
  began = false;
  rc = answer_row(r, w, 201, name, e);
out:
  if (began) meta_rollback(s->meta);
  free(script_norm);
  free(tscript_norm);
  free(mfile_rel);
  free(mdir);
  free(spec_text);
  json_decref(spec);
  json_decref(b);
  return rc;
}

static int deploy_list(struct req *r, struct resp *w, oast_err *e) {
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, "SELECT " ROW_COLS " FROM deployments d JOIN projects p ON "
                                                       "p.id = d.project_id WHERE d.project_id = ? ORDER BY d.name"),
                               "i", r->proj.id);
  json_t *items = json_array();
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    struct row row;
    row_read(st, &row);
    json_array_append_new(items, row_json(r->srv, &row));
    json_decref(row.spec);
  }
  if (st) sqlite3_reset(st);
  resp_items(w, items);
  return 0;
}

static int deploy_get(struct req *r, struct resp *w, oast_err *e) { return answer_row(r, w, 200, req_param(r, "name"), e); }

static int set_state(struct server *s, int64_t id, const char *state, oast_err *e) {
  return meta_exec(s->meta, e, "UPDATE deployments SET state = ?, updated = ? WHERE id = ?", "sii", state, meta_now(), id);
}

/* Starts a row's deployment unless it runs; replaces a leftover of an earlier row of the same name. */
static int start_row(struct server *s, const struct row *row, oast_err *e) {
  struct serving *sv = s->serving;
  struct dep *d = rt_get(sv, row->name);
  if (d) {
    int st = atomic_load(&d->state);
    bool same = d->c.id == row->id;
    rt_put(d);
    if (same && (st == DEP_RUNNING || st == DEP_STARTING)) return 0;
    rt_stop(sv, row->name);
  }
  struct dep_config c;
  int rc = row_config(s, row, &c, e);
  if (!rc) rc = rt_start(sv, &c, e);
  return rc;
}

static int deploy_start(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  const char *name = req_param(r, "name");
  struct row row;
  int rc;
  if ((rc = authz_require(r, RIGHT_WRITE, e)) || (rc = need_serving(r, e)) ||
      (rc = row_get(s, r->proj.id, name, &row, e)))
    return rc;
  snprintf(r->audit_target, sizeof r->audit_target, "deployment:%s", name);
  pthread_mutex_lock(&s->serving->admin);
  rc = start_row(s, &row, e);
  if (!rc) rc = set_state(s, row.id, "running", e);
  pthread_mutex_unlock(&s->serving->admin);
  json_decref(row.spec);
  if (rc) return rc;
  return answer_row(r, w, 200, name, e);
}

/*
 * Stop and delete begin alike: the write right, the deployment's row, and
 * (under the admin lock, which the caller releases) its running instance
 * stopped if it is this row's and not an older one of the same name.
 */
static int stop_locked(struct req *r, const char *name, struct row *row, oast_err *e) {
  struct server *s = r->srv;
  int rc;
  if ((rc = authz_require(r, RIGHT_WRITE, e)) || (rc = need_serving(r, e)) ||
      (rc = row_get(s, r->proj.id, name, row, e)))
    return rc;
  snprintf(r->audit_target, sizeof r->audit_target, "deployment:%s", name);
  pthread_mutex_lock(&s->serving->admin);
  struct dep *d = rt_get(s->serving, name);
  bool ours = d && d->c.id == row->id;
  rt_put(d);
  if (ours) rt_stop(s->serving, name);
  return 0;
}

static int deploy_stop_work(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  const char *name = req_param(r, "name");
  struct row row;
  int rc = stop_locked(r, name, &row, e);
  if (rc) return rc;
  rc = set_state(s, row.id, "stopped", e);
  pthread_mutex_unlock(&s->serving->admin);
  json_decref(row.spec);
  if (rc) return rc;
  return answer_row(r, w, 200, name, e);
}

static bool model_version_exists(struct server *s, int64_t project_id, const char *model, int64_t version) {
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT 1 FROM models WHERE project_id = ? AND name = ? AND version = ?"),
                               "isi", project_id, model, version);
  bool found = st && sqlite3_step(st) == SQLITE_ROW;
  if (st) sqlite3_reset(st);
  return found;
}

/*
 * A Python deployment whose script is its model version's own
 * predictor.py (the default at creation) takes the new version's, or the
 * built-in predictor of an sklearn version without one.
 */
static int follow_version_script(struct server *s, struct row *row, int version, oast_err *e) {
  json_t *ps = json_object_get(row->spec, "predictor");
  const char *script = json_string_value(json_object_get(ps, "script"));
  char *pinned = xasprintf("Models/%s/%lld/predictor.py", row->model, (long long)row->model_version);
  int rc = 0;
  if (script && !strcmp(script, pinned)) {
    char *pdir = server_project_dir(s, row->project);
    char *mdir = xasprintf("%s/Models/%s/%d", pdir, row->model, version);
    char framework[32] = "";
    sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT framework FROM models WHERE project_id = ? AND name = ? "
                                                    "AND version = ?"),
                                 "isi", row->project_id, row->model, (int64_t)version);
    if (st && sqlite3_step(st) == SQLITE_ROW)
      snprintf(framework, sizeof framework, "%s", (const char *)sqlite3_column_text(st, 0));
    if (st) sqlite3_reset(st);
    if (regular_file(mdir, "predictor.py")) {
      char *next = xasprintf("Models/%s/%d/predictor.py", row->model, version);
      json_object_set_new(ps, "script", json_string(next));
      free(next);
    } else if (!strcmp(framework, "sklearn")) {
      json_object_del(ps, "script");
    } else {
      rc = oast_err_set(e, OAST_EBAD_REQUEST,
                        "field \"model_version\": version %d of model \"%s\" has no predictor.py to take the place "
                        "of version %lld's",
                        version, row->model, (long long)row->model_version);
    }
    free(mdir);
    free(pdir);
  }
  free(pinned);
  return rc;
}

static int deploy_update_work(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  const char *name = req_param(r, "name");
  json_t *b = NULL;
  struct row row = {0};
  int rc;
  if ((rc = authz_require(r, RIGHT_WRITE, e)) || (rc = req_json(r, &b, e))) goto out;
  snprintf(r->audit_target, sizeof r->audit_target, "deployment:%s", name);
  static const char *const allowed[] = {"model_version", "instances",   "batching", "inference_logging",
                                        "timeout_ms",    "description", NULL};
  const char *k;
  json_t *v;
  json_object_foreach(b, k, v) {
    bool ok = false;
    for (int i = 0; allowed[i]; i++) ok |= !strcmp(allowed[i], k);
    if (!ok) {
      rc = oast_err_set(e, OAST_EBAD_REQUEST,
                        "field \"%.64s\" cannot be changed; a deployment changes its model_version, instances, "
                        "batching, inference_logging, timeout_ms and description (create a new deployment for the rest)",
                        k);
      goto out;
    }
  }
  int version = -1, instances = -1, timeout = -1, maxb = -1, lat = -1, logging = -1;
  const char *desc = NULL;
  if ((rc = int_field(b, "model_version", 1, MAX_MODEL_VERSION, &version, e)) ||
      (rc = int_field(b, "instances", 1, MAX_INSTANCES, &instances, e)) ||
      (rc = int_field(b, "timeout_ms", 10, MAX_TIMEOUT_MS, &timeout, e)) ||
      (rc = check_logging(json_object_get(b, "inference_logging"), &logging, e)) ||
      (rc = json_get_str(b, "description", false, &desc, e)))
    goto out;
  json_t *bv = json_object_get(b, "batching");
  if (bv && (rc = check_batching(bv, &maxb, &lat, e))) goto out;
  if (desc && strlen(desc) > 4096) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"description\" is longer than 4096 characters");
    goto out;
  }
  if ((rc = need_serving(r, e)) || (rc = row_get(s, r->proj.id, name, &row, e))) goto out;
  bool new_version = version > 0 && version != row.model_version;
  if (new_version && !model_version_exists(s, row.project_id, row.model, version)) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"model_version\": model \"%s\" has no version %d", row.model, version);
    goto out;
  }
  if (new_version && (rc = follow_version_script(s, &row, version, e))) goto out;
  pthread_mutex_lock(&s->serving->admin);
  if (new_version) row.model_version = version;
  if (instances > 0) json_object_set_new(row.spec, "instances", json_integer(instances));
  if (timeout > 0) json_object_set_new(row.spec, "timeout_ms", json_integer(timeout));
  if (logging >= 0) json_object_set_new(row.spec, "inference_logging", json_string(log_mode_name(logging)));
  if (desc) json_object_set_new(row.spec, "description", json_string(desc));
  if (bv)
    json_object_set_new(row.spec, "batching", maxb ? json_pack("{s:i,s:i}", "max_batch_size", maxb, "max_latency_ms", lat)
                                                   : json_null());
  struct dep *d = rt_get(s->serving, name);
  if (d && d->c.id != row.id) {
    rt_put(d); /* an older deployment's leftover */
    d = NULL;
  }
  int st = d ? atomic_load(&d->state) : -1;
  bool swapped = false;
  if (new_version && (st == DEP_RUNNING || st == DEP_STARTING)) {
    /* Another version while serving: it boots beside the old one and takes over when ready. */
    struct dep_config c;
    rc = row_config(s, &row, &c, e);
    if (!rc) rc = rt_replace(s->serving, d, &c, e);
    swapped = !rc;
  }
  char *text = rc ? NULL : json_dump(row.spec);
  if (!rc)
    rc = meta_exec(s->meta, e, "UPDATE deployments SET model_version = ?, spec = ?, updated = ? WHERE id = ?", "isii",
                   row.model_version, text, meta_now(), row.id);
  free(text);
  if (rc && swapped)
    log_error("deployment %s: serving version %lld but its record could not be updated: %s", name,
              (long long)row.model_version, e->msg);
  if (!rc && d && !new_version) rt_update(d, instances, bv ? maxb : -1, bv ? lat : -1, timeout, logging);
  rt_put(d);
  pthread_mutex_unlock(&s->serving->admin);
  if (!rc) rc = answer_row(r, w, 200, name, e);
out:
  json_decref(row.spec);
  json_decref(b);
  return rc;
}

static int deploy_delete_work(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  const char *name = req_param(r, "name");
  struct row row;
  int rc = stop_locked(r, name, &row, e);
  if (rc) return rc;
  rc = meta_exec(s->meta, e, "DELETE FROM deployments WHERE id = ?", "i", row.id);
  pthread_mutex_unlock(&s->serving->admin);
  json_decref(row.spec);
  if (!rc) resp_empty(w, 204);
  return rc;
}

/* The last `lines` lines of a file (all of it when shorter), reading at most LOG_READ_MAX from its end. */
static char *tail_lines(const char *path, long lines, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  *len = 0;
  if (fd < 0) return xstrdup("");
  struct stat st;
  fstat(fd, &st);
  size_t size = (size_t)st.st_size, take = size < LOG_READ_MAX ? size : LOG_READ_MAX;
  char *buf = xmalloc(take + 1);
  ssize_t n = pread(fd, buf, take, (off_t)(size - take));
  close(fd);
  if (n < 0) n = 0;
  buf[n] = '\0';
  size_t end = (size_t)n, start = end;
  if (end > 0 && buf[end - 1] == '\n') start = end - 1;
  long seen = 0;
  while (start > 0) {
    if (buf[start - 1] == '\n' && ++seen == lines) break;
    start--;
  }
  *len = end - start;
  memmove(buf, buf + start, *len);
  buf[*len] = '\0';
  return buf;
}

static int deploy_logs(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  const char *name = req_param(r, "name"), *kind = req_query(r, "kind"), *lq = req_query(r, "lines");
  struct row row;
  int rc = row_get(s, r->proj.id, name, &row, e);
  if (rc) return rc;
  json_decref(row.spec);
  if (!kind) kind = "predictor";
  if (strcmp(kind, "predictor") && strcmp(kind, "inference"))
    return oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"kind\" must be \"predictor\" or \"inference\"");
  long lines = LOG_LINES_DEFAULT;
  if (lq) {
    char *end;
    lines = strtol(lq, &end, 10);
    if (!*lq || *end || lines < 1 || lines > LOG_LINES_MAX)
      return oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"lines\" must be from 1 to %d", LOG_LINES_MAX);
  }
  char *pdir = server_project_dir(s, r->proj.name);
  char *path = xasprintf("%s/Logs/deployments/%s/%s", pdir, name,
                         !strcmp(kind, "predictor") ? "predictor.log" : "inference.jsonl");
  size_t len;
  char *text = tail_lines(path, lines, &len);
  long have = 0;
  for (size_t i = 0; i < len; i++) have += text[i] == '\n';
  if (have < lines && !strcmp(kind, "inference")) {
    /* Just after a rotation the lines before it are in inference.jsonl.1 (serve/runtime.c). */
    char *older = xasprintf("%s.1", path);
    size_t olen;
    char *otext = tail_lines(older, lines - have, &olen);
    if (olen) {
      otext = xrealloc(otext, olen + len + 1);
      memcpy(otext + olen, text, len + 1);
      free(text);
      text = otext;
      len += olen;
    } else {
      free(otext);
    }
    free(older);
  }
  resp_text(w, 200, text, len, "text/plain; charset=utf-8");
  free(text);
  free(path);
  free(pdir);
  return 0;
}

void deploy_restore(struct server *s) {
  sqlite3_stmt *st = meta_stmt(s->meta, "SELECT " ROW_COLS " FROM deployments d JOIN projects p ON p.id = d.project_id "
                                        "WHERE d.state = 'running' ORDER BY d.id");
  struct row *rows = NULL;
  size_t n = 0;
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    rows = xrealloc(rows, (n + 1) * sizeof *rows);
    row_read(st, &rows[n++]);
  }
  if (st) sqlite3_reset(st);
  pthread_mutex_lock(&s->serving->admin);
  for (size_t i = 0; i < n; i++) {
    oast_err e;
    oast_err_clear(&e);
    if (start_row(s, &rows[i], &e)) log_error("deployment %s was running but cannot start again: %s", rows[i].name, e.msg);
    else log_info("deployment %s started again", rows[i].name);
    json_decref(rows[i].spec);
  }
  pthread_mutex_unlock(&s->serving->admin);
  free(rows);
}

void deploy_reap(struct server *s) {
  struct serving *sv = s->serving;
  pthread_mutex_lock(&sv->admin);
  size_t n = 0;
  struct {
    char name[64];
    int64_t id;
  } *seen = NULL;
  pthread_mutex_lock(&sv->mu);
  for (struct dep *d = sv->deps; d; d = d->next) {
    seen = xrealloc(seen, (n + 1) * sizeof *seen);
    snprintf(seen[n].name, sizeof seen[n].name, "%s", d->c.name);
    seen[n++].id = d->c.id;
  }
  pthread_mutex_unlock(&sv->mu);
  for (size_t i = 0; i < n; i++) {
    sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT 1 FROM deployments WHERE id = ?"), "i", seen[i].id);
    bool exists = st && sqlite3_step(st) == SQLITE_ROW;
    if (st) sqlite3_reset(st);
    if (!st || exists) continue;
    log_info("deployment %s: its record is gone (its project was deleted); stopping it", seen[i].name);
    rt_stop(sv, seen[i].name);
  }
  pthread_mutex_unlock(&sv->admin);
  free(seen);
}

/* Stopping drains and a new version boots: seconds that no HTTP thread should wait through (http.h). */
static int deploy_stop(struct req *r, struct resp *w, oast_err *e) { return req_offload(r, deploy_stop_work, e); }
static int deploy_delete(struct req *r, struct resp *w, oast_err *e) { return req_offload(r, deploy_delete_work, e); }
static int deploy_update(struct req *r, struct resp *w, oast_err *e) { return req_offload(r, deploy_update_work, e); }

const struct route deployment_routes[] = {
    {"POST", "/api/v1/projects/{p}/deployments", ACCESS_MEMBER, 0, "deployment.create", deploy_create, NULL},
    {"GET", "/api/v1/projects/{p}/deployments", ACCESS_MEMBER, 0, "deployment.list", deploy_list, NULL},
    {"GET", "/api/v1/projects/{p}/deployments/{name}", ACCESS_MEMBER, 0, "deployment.get", deploy_get, NULL},
    {"PATCH", "/api/v1/projects/{p}/deployments/{name}", ACCESS_MEMBER, 0, "deployment.update", deploy_update, NULL},
    {"DELETE", "/api/v1/projects/{p}/deployments/{name}", ACCESS_MEMBER, 0, "deployment.delete", deploy_delete, NULL},
    {"POST", "/api/v1/projects/{p}/deployments/{name}/start", ACCESS_MEMBER, 0, "deployment.start", deploy_start, NULL},
    {"POST", "/api/v1/projects/{p}/deployments/{name}/stop", ACCESS_MEMBER, 0, "deployment.stop", deploy_stop, NULL},
    {"GET", "/api/v1/projects/{p}/deployments/{name}/logs", ACCESS_MEMBER, 0, "deployment.logs", deploy_logs, NULL},
    ROUTES_END,
};
