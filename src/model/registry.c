/*
 * registry.c — the model registry: /projects/{p}/models.
 *
 * Registering a version makes it immutable: the files under the given
 * path are hard-linked (copied across filesystems) into
 * Models/<name>/<version>/ through a temporary directory renamed into
 * place, and the row, its provenance edges (experiment, trial, training
 * data → model) and the files are committed together. Because every write
 * in Oast replaces files by rename, a later upload over the source never
 * changes a registered version's files, even though they share inodes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/authz.h"
#include "http/server.h"
#include "meta/meta.h"
#include "project/project.h"
#include "prov/prov.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/path.h"

#define MODEL_MAX_VERSION 1000000

static const char *const frameworks[] = {"sklearn", "xgboost", "torch", "tensorflow", "keras", "python", "onnx", "other", NULL};

static json_t *model_json(sqlite3_stmt *st) {
  /* Columns: name, version, framework, description, metrics, input_example, model_schema,
   * experiment_id, trial_id, training_data, creator, created */
  char t[32];
  meta_time_iso(sqlite3_column_int64(st, 11), t);
  const char *name = (const char *)sqlite3_column_text(st, 0);
  int version = sqlite3_column_int(st, 1);
  json_t *metrics = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
  json_t *ex = sqlite3_column_type(st, 5) == SQLITE_NULL ? json_null() : json_loads((const char *)sqlite3_column_text(st, 5), JSON_DECODE_ANY, NULL);
  json_t *schema = sqlite3_column_type(st, 6) == SQLITE_NULL ? json_null() : json_loads((const char *)sqlite3_column_text(st, 6), JSON_DECODE_ANY, NULL);
  char *path = xasprintf("Models/%s/%d", name, version);
  json_t *j = json_pack("{s:s,s:i,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:s,s:s}", "name", name, "version", version,
                        "framework", (const char *)sqlite3_column_text(st, 2), "description",
                        (const char *)sqlite3_column_text(st, 3), "metrics", metrics ? metrics : json_object(),
                        "input_example", ex ? ex : json_null(), "model_schema", schema ? schema : json_null(),
                        "experiment_id",
                        sqlite3_column_type(st, 7) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(st, 7)),
                        "trial_id",
                        sqlite3_column_type(st, 8) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(st, 8)),
                        "training_data",
                        sqlite3_column_type(st, 9) == SQLITE_NULL ? json_null()
                                                                  : json_string((const char *)sqlite3_column_text(st, 9)),
                        "path", path, "creator", (const char *)sqlite3_column_text(st, 10), "created", t);
  free(path);
  return j;
}

#define MODEL_COLS \
  "name, version, framework, description, metrics, input_example, model_schema, experiment_id, trial_id, " \
  "training_data, creator, created"

static int check_metrics(json_t *m, oast_err *e) {
  if (!json_is_object(m)) return oast_err_set(e, OAST_EBAD_REQUEST, "field \"metrics\" must be an object of numbers");
  const char *k;
  json_t *v;
  json_object_foreach(m, k, v) {
    if (!json_is_number(v))
      return oast_err_set(e, OAST_EBAD_REQUEST, "field \"metrics\": \"%.64s\" must be a number", k);
    if (strlen(k) > 64) return oast_err_set(e, OAST_EBAD_REQUEST, "field \"metrics\": metric names are at most 64 characters");
  }
  if (json_object_size(m) > 256) return oast_err_set(e, OAST_EBAD_REQUEST, "field \"metrics\" has more than 256 metrics");
  return 0;
}

static int model_register(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  json_t *b;
  int rc = req_json(r, &b, e);
  if (rc) return rc;
  static const char *const allowed[] = {"name", "version", "framework", "path", "metrics", "description",
                                        "input_example", "model_schema", "experiment_id", "trial_id",
                                        "training_data", NULL};
  const char *name = NULL, *fw = NULL, *path = NULL, *desc = "", *td = NULL;
  int64_t version = 0, exp_id = 0, trial_id = 0;
  json_t *metrics = NULL, *schema = NULL;
  char *abs = NULL, *rel = NULL, *dest = NULL, *tmp = NULL, *ex_text = NULL, *schema_text = NULL, *metrics_text = NULL;
  struct dataset_ref ds;
  bool began = false;
  if ((rc = json_only_fields(b, allowed, e)) || (rc = json_get_str(b, "name", true, &name, e)) ||
      (rc = name_check("model name", name, e)) || (rc = json_get_int(b, "version", false, &version, e)) ||
      (rc = json_get_str(b, "framework", true, &fw, e)) || (rc = json_get_str(b, "path", true, &path, e)) ||
      (rc = json_get_str(b, "description", false, &desc, e)) || (rc = json_get_obj(b, "model_schema", false, &schema, e)) ||
      (rc = json_get_int(b, "experiment_id", false, &exp_id, e)) || (rc = json_get_int(b, "trial_id", false, &trial_id, e)) ||
      (rc = json_get_str(b, "training_data", false, &td, e)) || (rc = authz_require(r, RIGHT_WRITE, e)))
    goto out;
  snprintf(r->audit_target, sizeof r->audit_target, "model:%s", name);
  int ok = 0;
  for (int i = 0; frameworks[i]; i++) ok |= !strcmp(frameworks[i], fw);
  if (!ok) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST,
                      "field \"framework\" must be one of sklearn, xgboost, torch, tensorflow, keras, python, onnx, other");
    goto out;
  }
  if (json_object_get(b, "version") && (version < 1 || version > MODEL_MAX_VERSION)) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"version\" must be from 1 to %d", MODEL_MAX_VERSION);
    goto out;
  }
  metrics = json_object_get(b, "metrics");
  if (metrics && !json_is_null(metrics) && (rc = check_metrics(metrics, e))) goto out;
  if (strlen(desc) > 4096) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"description\" is longer than 4096 characters");
    goto out;
  }
  if (td && strlen(td) > 200) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"training_data\" is longer than 200 characters");
    goto out;
  }
  if ((rc = project_resolve_path(r, path, strlen(path), RIGHT_READ, 0, &ds, &abs, &rel, e))) goto out;
  if (ds.shared) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"path\" must be inside the project's own datasets");
    goto out;
  }
  if (!fs_exists(abs)) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"path\": \"%.200s\" does not exist", path);
    goto out;
  }
  json_t *ex = json_object_get(b, "input_example");
  ex_text = ex && !json_is_null(ex) ? json_dumps(ex, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  schema_text = schema ? json_dump(schema) : NULL;
  metrics_text = metrics && !json_is_null(metrics) ? json_dump(metrics) : xstrdup("{}");
  if ((rc = meta_begin(s->meta, e))) goto out;
  began = true;
  if (version == 0) {
    sqlite3_stmt *st = meta_bind(
        meta_stmt(s->meta, "SELECT coalesce(max(version), 0) + 1 FROM models WHERE project_id = ? AND name = ?"), "is",
        r->proj.id, name);
    if (st && sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int64(st, 0);
    if (st) sqlite3_reset(st);
  }
  sqlite3_stmt *st = meta_stmt(s->meta,
                               "INSERT INTO models(project_id, name, version, framework, description, metrics, input_example,"
                               " model_schema, experiment_id, trial_id, training_data, source_path, creator, created) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  meta_bind(st, "isisssss", r->proj.id, name, version, fw, desc, metrics_text, ex_text, schema_text);
  if (exp_id) sqlite3_bind_int64(st, 9, exp_id);
  if (trial_id) sqlite3_bind_int64(st, 10, trial_id);
  if (td) sqlite3_bind_text(st, 11, td, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 12, path, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 13, r->who.username, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 14, meta_now());
  int sr = sqlite3_step(st);
  sqlite3_reset(st);
  if (sr != SQLITE_DONE) {
    rc = (sr & 0xff) == SQLITE_CONSTRAINT
             ? oast_err_set(e, OAST_EEXISTS, "model \"%s\" version %lld already exists", name, (long long)version)
             : meta_error(s->meta, sr, e, "registering the model");
    goto out;
  }
  char id[96];
  snprintf(id, sizeof id, "%s:%lld", name, (long long)version);
  char other[64];
  if (exp_id) {
    snprintf(other, sizeof other, "%lld", (long long)exp_id);
    if ((rc = prov_add(s, r->proj.id, "experiment", other, "model", id, "trained", e))) goto out;
  }
  if (trial_id) {
    snprintf(other, sizeof other, "%lld", (long long)trial_id);
    if ((rc = prov_add(s, r->proj.id, "trial", other, "model", id, "trained", e))) goto out;
  }
  if (td && (rc = prov_add(s, r->proj.id, "trainingdata", td, "model", id, "trained_on", e))) goto out;
  /* The files: Models/<name>/<version>, made complete under a temporary name first. */
  char *models = xasprintf("%s/%s/Models/%s", s->fs_root, r->proj.name, name);
  dest = xasprintf("%s/%lld", models, (long long)version);
  tmp = xasprintf("%s/.oast-tmp-%lld", models, (long long)version);
  rc = fs_mkdirs(models, 0700, e);
  free(models);
  if (rc) goto out;
  if (strcmp(abs, dest) != 0) {
    fs_remove_tree(tmp, NULL);
    if (fs_exists(dest)) fs_remove_tree(dest, NULL); /* no row owned it */
    rc = fs_link_tree(abs, tmp, e);
    if (!rc && !fs_is_dir(tmp)) {
      /* A single file becomes the only file of the version's directory. */
      char *inner = xasprintf("%s.f", tmp);
      const char *base = strrchr(abs, '/') + 1;
      if (rename(tmp, inner) != 0 || mkdir(tmp, 0700) != 0) rc = oast_err_set(e, OAST_EIO, "cannot place the model file");
      char *final = fs_join(tmp, base);
      if (!rc && rename(inner, final) != 0) rc = oast_err_set(e, OAST_EIO, "cannot place the model file");
      free(inner);
      free(final);
    }
    if (!rc && rename(tmp, dest) != 0) rc = oast_err_set(e, OAST_EIO, "cannot move the model into place: %s", strerror(errno));
    if (rc) {
      fs_remove_tree(tmp, NULL);
      goto out;
    }
  }
  if ((rc = meta_commit(s->meta, e))) {
    fs_remove_tree(dest, NULL);
    goto out;
  }
  began = false;
  snprintf(r->audit_target, sizeof r->audit_target, "model:%s", id);
  st = meta_bind(meta_stmt(s->meta, "SELECT " MODEL_COLS " FROM models WHERE project_id = ? AND name = ? AND version = ?"),
                 "isi", r->proj.id, name, version);
  if (st && sqlite3_step(st) == SQLITE_ROW) resp_json(w, 201, model_json(st));
  if (st) sqlite3_reset(st);
out:
  if (began) meta_rollback(s->meta);
  free(abs);
  free(rel);
  free(dest);
  free(tmp);
  free(ex_text);
  free(schema_text);
  free(metrics_text);
  json_decref(b);
  return rc;
}

static int model_list(struct req *r, struct resp *w, oast_err *e) {
  const char *name = req_query(r, "name");
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, "SELECT " MODEL_COLS " FROM models WHERE project_id = ? "
                                                       "AND (? IS NULL OR name = ?) ORDER BY name, version"),
                               "iss", r->proj.id, name, name);
  json_t *items = json_array();
  while (st && sqlite3_step(st) == SQLITE_ROW) json_array_append_new(items, model_json(st));
  if (st) sqlite3_reset(st);
  resp_items(w, items);
  return 0;
}

static int parse_version(struct req *r, int64_t *v, oast_err *e) {
  const char *s = req_param(r, "v");
  char *end;
  long long x = strtoll(s ? s : "", &end, 10);
  if (!s || !*s || *end || x < 1 || x > MODEL_MAX_VERSION)
    return oast_err_set(e, OAST_EBAD_REQUEST, "the version in the path must be an integer from 1 to %d", MODEL_MAX_VERSION);
  *v = x;
  return 0;
}

static int model_get(struct req *r, struct resp *w, oast_err *e) {
  const char *name = req_param(r, "name");
  int64_t v;
  int rc = parse_version(r, &v, e);
  if (rc) return rc;
  sqlite3_stmt *st = meta_bind(
      meta_stmt(r->srv->meta, "SELECT " MODEL_COLS " FROM models WHERE project_id = ? AND name = ? AND version = ?"),
      "isi", r->proj.id, name, v);
  if (st && sqlite3_step(st) == SQLITE_ROW) resp_json(w, 200, model_json(st));
  else rc = oast_err_set(e, OAST_ENOT_FOUND, "model \"%.64s\" version %lld not found", name, (long long)v);
  if (st) sqlite3_reset(st);
  return rc;
}

static int model_best(struct req *r, struct resp *w, oast_err *e) {
  const char *name = req_param(r, "name"), *metric = req_query(r, "metric"), *dir = req_query(r, "direction");
  if (!metric || !*metric || strlen(metric) > 64)
    return oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"metric\" is required");
  if (!dir) dir = "max";
  if (strcmp(dir, "max") && strcmp(dir, "min"))
    return oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"direction\" must be \"max\" or \"min\"");
  static const char *const sql_max = "SELECT " MODEL_COLS " FROM models WHERE project_id = ? AND name = ? "
                                     "AND json_type(metrics, '$.\"' || ? || '\"') IN ('integer','real') "
                                     "ORDER BY json_extract(metrics, '$.\"' || ? || '\"') DESC, version DESC LIMIT 1";
  static const char *const sql_min = "SELECT " MODEL_COLS " FROM models WHERE project_id = ? AND name = ? "
                                     "AND json_type(metrics, '$.\"' || ? || '\"') IN ('integer','real') "
                                     "ORDER BY json_extract(metrics, '$.\"' || ? || '\"') ASC, version DESC LIMIT 1";
  if (strchr(metric, '"')) return oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"metric\" must not contain quotes");
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, strcmp(dir, "max") ? sql_min : sql_max), "isss", r->proj.id,
                               name, metric, metric);
  int rc = 0;
  if (st && sqlite3_step(st) == SQLITE_ROW) resp_json(w, 200, model_json(st));
  else rc = oast_err_set(e, OAST_ENOT_FOUND, "no version of model \"%.64s\" has the metric \"%.64s\"", name, metric);
  if (st) sqlite3_reset(st);
  return rc;
}

/*
 * A version that running deployments serve is not deleted under them
 * (409 naming them); a stopped deployment of it may stay, and starting it
 * later answers 409 (serve/deploy.c).
 */
static int refuse_if_served(struct server *s, int64_t project_id, const char *name, int64_t v, oast_err *e) {
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT name FROM deployments WHERE project_id = ? AND model = ? AND "
                                                  "model_version = ? AND state = 'running' ORDER BY name"),
                               "isi", project_id, name, v);
  struct buf names;
  buf_init(&names, 512);
  size_t n = 0;
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    const char *d = (const char *)sqlite3_column_text(st, 0);
    if (n < 5) buf_printf(&names, "%s\"%s\"", n ? ", " : "", d ? d : "");
    n++;
  }
  if (st) sqlite3_reset(st);
  int rc = 0;
  if (n)
    rc = oast_err_set(e, OAST_ECONFLICT,
                      "model \"%.64s\" version %lld is served by running deployment%s %s%s; stop %s first", name,
                      (long long)v, n == 1 ? "" : "s", names.data, n > 5 ? ", ..." : "", n == 1 ? "it" : "them");
  buf_release(&names);
  return rc;
}

static int model_delete(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  const char *name = req_param(r, "name");
  int64_t v;
  int rc = parse_version(r, &v, e);
  if (rc) return rc;
  snprintf(r->audit_target, sizeof r->audit_target, "model:%.64s:%lld", name, (long long)v);
  sqlite3_stmt *st = meta_bind(
      meta_stmt(s->meta, "SELECT id FROM models WHERE project_id = ? AND name = ? AND version = ?"), "isi", r->proj.id,
      name, v);
  int64_t id = 0;
  if (st && sqlite3_step(st) == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
  if (st) sqlite3_reset(st);
  if (!id) return oast_err_set(e, OAST_ENOT_FOUND, "model \"%.64s\" version %lld not found", name, (long long)v);
  if ((rc = refuse_if_served(s, r->proj.id, name, v, e))) return rc;
  char *dir = xasprintf("%s/%s/Models/%s/%lld", s->fs_root, r->proj.name, name, (long long)v);
  rc = project_delete_with_dir(s, "DELETE FROM models WHERE id = ?", id, dir, "model", e);
  free(dir);
  if (!rc) resp_empty(w, 204);
  return rc;
}

const struct route model_routes[] = {
    {"POST", "/api/v1/projects/{p}/models", ACCESS_MEMBER, 0, "model.register", model_register, NULL},
    {"GET", "/api/v1/projects/{p}/models", ACCESS_MEMBER, 0, "model.list", model_list, NULL},
    {"GET", "/api/v1/projects/{p}/models/{name}/versions/{v}", ACCESS_MEMBER, 0, "model.get", model_get, NULL},
    {"GET", "/api/v1/projects/{p}/models/{name}/best", ACCESS_MEMBER, 0, "model.best", model_best, NULL},
    {"DELETE", "/api/v1/projects/{p}/models/{name}/versions/{v}", ACCESS_OWNER, 0, "model.delete", model_delete, NULL},
    ROUTES_END,
};
