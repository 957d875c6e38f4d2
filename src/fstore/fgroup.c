/* fgroup.c — feature group definitions: validation, loading, JSON (see fgroup.h). */
#include "fstore/fgroup.h"

#include <stdio.h>
#include <string.h>

#include "http/server.h"
#include "meta/meta.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/path.h"

void fgroup_release(struct fgroup *g) {
  if (!g) return;
  for (size_t i = 0; i < g->nfeatures; i++) {
    free(g->features[i].name);
    free(g->features[i].description);
  }
  free(g->features);
  free(g->pk);
  free(g->description);
  json_decref(g->spec);
  memset(g, 0, sizeof *g);
  g->event_time = -1;
}

static int feature_index(const struct fgroup *g, const char *name) {
  for (size_t i = 0; i < g->nfeatures; i++)
    if (!strcmp(g->features[i].name, name)) return (int)i;
  return -1;
}

bool name_like_feature(const struct fgroup *g, const char *name) { return feature_index(g, name) >= 0; }

int fgroup_parse(json_t *body, struct fgroup *g, oast_err *e) {
  memset(g, 0, sizeof *g);
  g->event_time = -1;
  static const char *const allowed[] = {"name", "version", "description", "primary_key", "event_time",
                                        "online_enabled", "features", "statistics", NULL};
  const char *name = NULL, *desc = "", *et = NULL;
  int64_t version = 0;
  json_t *feats = NULL, *pk = NULL, *stats = NULL;
  bool online = false;
  int rc;
  if ((rc = json_only_fields(body, allowed, e)) || (rc = json_get_str(body, "name", true, &name, e)) ||
      (rc = name_check("feature group name", name, e)) || (rc = json_get_int(body, "version", false, &version, e)) ||
      (rc = json_get_str(body, "description", false, &desc, e)) ||
      (rc = json_get_array(body, "features", true, &feats, e)) ||
      (rc = json_get_array(body, "primary_key", true, &pk, e)) ||
      (rc = json_get_str(body, "event_time", false, &et, e)) ||
      (rc = json_get_bool(body, "online_enabled", false, &online, e)) ||
      (rc = json_get_obj(body, "statistics", false, &stats, e)))
    return rc;
  if (json_object_get(body, "version") && (version < 1 || version > FG_MAX_VERSION))
    return oast_err_set(e, OAST_EBAD_REQUEST, "field \"version\" must be from 1 to %d", FG_MAX_VERSION);
  if (strlen(desc) > 4096) return oast_err_set(e, OAST_EBAD_REQUEST, "field \"description\" is longer than 4096 characters");
  size_t nf = json_array_size(feats);
  if (nf == 0) return oast_err_set(e, OAST_EBAD_REQUEST, "field \"features\" must list at least one feature");
  if (nf > FG_MAX_FEATURES)
    return oast_err_set(e, OAST_EBAD_REQUEST, "field \"features\" has %zu features; at most %d are allowed", nf, FG_MAX_FEATURES);
  snprintf(g->name, sizeof g->name, "%s", name);
  g->version = (int)version;
  g->description = xstrdup(desc);
  g->online = online;
  g->stats_enabled = true;
  g->histograms = true;
  g->features = xcalloc(nf, sizeof *g->features);
  for (size_t i = 0; i < nf; i++) {
    json_t *f = json_array_get(feats, i);
    char field[48];
    snprintf(field, sizeof field, "features[%zu]", i);
    if (!json_is_object(f)) return oast_err_set(e, OAST_EBAD_REQUEST, "field \"%s\" must be an object", field);
    const char *fname = NULL, *ftype = NULL, *fdesc = "";
    static const char *const fallowed[] = {"name", "type", "description", NULL};
    if ((rc = json_only_fields(f, fallowed, e)) || (rc = json_get_str(f, "name", true, &fname, e)) ||
        (rc = json_get_str(f, "type", true, &ftype, e)) || (rc = json_get_str(f, "description", false, &fdesc, e))) {
      char msg[OAST_ERRMSG_MAX];
      snprintf(msg, sizeof msg, "%s", e ? e->msg : "");
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s: %s", field, msg);
    }
    if (!name_valid(fname))
      return oast_err_set(e, OAST_EBAD_REQUEST,
                          "%s: feature name \"%.80s\" must start with a letter and contain only letters, digits and '_'",
                          field, fname);
    int t = ftype_from_name(ftype);
    if (t < 0)
      return oast_err_set(e, OAST_EBAD_REQUEST,
                          "%s: unknown type \"%.40s\"; use int, bigint, float, double, string, boolean, timestamp or date",
                          field, ftype);
    if (feature_index(g, fname) >= 0)
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s: feature \"%s\" is defined twice", field, fname);
    g->features[i].name = xstrdup(fname);
    g->features[i].type = (enum ftype)t;
    g->features[i].description = xstrdup(fdesc);
    g->nfeatures = i + 1;
  }
  size_t np = json_array_size(pk);
  if (np == 0) return oast_err_set(e, OAST_EBAD_REQUEST, "field \"primary_key\" must name at least one feature");
  g->pk = xcalloc(np, sizeof *g->pk);
  for (size_t i = 0; i < np; i++) {
    json_t *k = json_array_get(pk, i);
    int idx = json_is_string(k) ? feature_index(g, json_string_value(k)) : -1;
    if (idx < 0)
      return oast_err_set(e, OAST_EBAD_REQUEST, "primary_key[%zu] must name a feature of the group", i);
    for (size_t j = 0; j < i; j++)
      if (g->pk[j] == idx) return oast_err_set(e, OAST_EBAD_REQUEST, "primary_key[%zu] repeats a feature", i);
    g->pk[i] = idx;
    g->npk = i + 1;
  }
  if (et) {
    g->event_time = feature_index(g, et);
    if (g->event_time < 0)
      return oast_err_set(e, OAST_EBAD_REQUEST, "field \"event_time\" must name a feature of the group, not \"%.80s\"", et);
    enum ftype t = g->features[g->event_time].type;
    if (t != FT_TIMESTAMP && t != FT_DATE && t != FT_BIGINT)
      return oast_err_set(e, OAST_EBAD_REQUEST, "field \"event_time\": feature \"%s\" must be a timestamp, date or bigint", et);
  }
  if (stats) {
    static const char *const sallowed[] = {"enabled", "histograms", "correlations", NULL};
    if ((rc = json_only_fields(stats, sallowed, e)) || (rc = json_get_bool(stats, "enabled", false, &g->stats_enabled, e)) ||
        (rc = json_get_bool(stats, "histograms", false, &g->histograms, e)) ||
        (rc = json_get_bool(stats, "correlations", false, &g->correlations, e)))
      return rc;
  }
  /* The canonical definition, as stored and shown. */
  json_t *jf = json_array(), *jpk = json_array();
  for (size_t i = 0; i < g->nfeatures; i++)
    json_array_append_new(jf, json_pack("{s:s,s:s,s:s}", "name", g->features[i].name, "type",
                                        ftype_name(g->features[i].type), "description", g->features[i].description));
  for (size_t i = 0; i < g->npk; i++) json_array_append_new(jpk, json_string(g->features[g->pk[i]].name));
  g->spec = json_pack("{s:s,s:o,s:o,s:o,s:b,s:{s:b,s:b,s:b}}", "description", g->description, "features", jf,
                      "primary_key", jpk, "event_time", g->event_time >= 0 ? json_string(g->features[g->event_time].name) : json_null(),
                      "online_enabled", g->online, "statistics", "enabled", g->stats_enabled, "histograms",
                      g->histograms, "correlations", g->correlations);
  return 0;
}

int fgroup_load(struct req *r, const char *name, int version, struct fgroup *g, oast_err *e) {
  memset(g, 0, sizeof *g);
  g->event_time = -1;
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta,
                                         "SELECT id, spec FROM featuregroups WHERE project_id = ? AND name = ? AND version = ?"),
                               "isi", r->proj.id, name, (int64_t)version);
  int64_t id = 0;
  char *spec = NULL;
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    id = sqlite3_column_int64(st, 0);
    spec = xstrdup((const char *)sqlite3_column_text(st, 1));
  }
  if (st) sqlite3_reset(st);
  if (!id)
    return oast_err_set(e, OAST_ENOT_FOUND, "feature group \"%.64s\" version %d not found in project \"%s\"", name, version,
                        r->proj.name);
  json_t *body = json_loads(spec, 0, NULL);
  free(spec);
  if (!body) return oast_err_set(e, OAST_EINTERNAL, "the stored definition of feature group %s is unreadable", name);
  json_object_set_new(body, "name", json_string(name));
  json_object_set_new(body, "version", json_integer(version));
  int rc = fgroup_parse(body, g, e);
  json_decref(body);
  if (rc) return rc;
  g->id = id;
  g->project_id = r->proj.id;
  snprintf(g->project, sizeof g->project, "%s", r->proj.name);
  return 0;
}

int fgroup_from_route(struct req *r, struct fgroup *g, oast_err *e) {
  const char *name = req_param(r, "name"), *v = req_param(r, "v");
  char *end;
  long version = strtol(v ? v : "", &end, 10);
  if (!v || !*v || *end || version < 1 || version > FG_MAX_VERSION)
    return oast_err_set(e, OAST_EBAD_REQUEST, "the version in the path must be an integer from 1 to %d", FG_MAX_VERSION);
  snprintf(r->audit_target, sizeof r->audit_target, "featuregroup:%.64s:%ld", name, version);
  return fgroup_load(r, name, (int)version, g, e);
}

char *fgroup_dir(struct server *s, const struct fgroup *g) {
  return xasprintf("%s/%s/%s_featurestore.db/%s_%d", s->fs_root, g->project, g->project, g->name, g->version);
}

int fgroup_load_id(struct server *s, int64_t id, struct fgroup *g, oast_err *e) {
  memset(g, 0, sizeof *g);
  g->event_time = -1;
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta,
                                         "SELECT f.name, f.version, f.spec, p.id, p.name FROM featuregroups f "
                                         "JOIN projects p ON p.id = f.project_id WHERE f.id = ?"),
                               "i", id);
  json_t *body = NULL;
  int64_t pid = 0;
  char pname[64] = "";
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    body = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
    if (body) {
      json_object_set_new(body, "name", json_string((const char *)sqlite3_column_text(st, 0)));
      json_object_set_new(body, "version", json_integer(sqlite3_column_int(st, 1)));
    }
    pid = sqlite3_column_int64(st, 3);
    snprintf(pname, sizeof pname, "%s", (const char *)sqlite3_column_text(st, 4));
  }
  if (st) sqlite3_reset(st);
  if (!body) return oast_err_set(e, OAST_ENOT_FOUND, "feature group %lld not found", (long long)id);
  int rc = fgroup_parse(body, g, e);
  json_decref(body);
  if (rc) return rc;
  g->id = id;
  g->project_id = pid;
  snprintf(g->project, sizeof g->project, "%s", pname);
  return 0;
}

void fgroup_table(const struct fgroup *g, struct table *t) {
  const char **names = xcalloc(g->nfeatures, sizeof *names);
  enum ftype *types = xcalloc(g->nfeatures, sizeof *types);
  for (size_t i = 0; i < g->nfeatures; i++) {
    names[i] = g->features[i].name;
    types[i] = g->features[i].type;
  }
  table_init(t, g->nfeatures, names, types);
  free(names);
  free(types);
}

json_t *fgroup_json(const struct fgroup *g) {
  json_t *j = json_deep_copy(g->spec);
  json_object_set_new(j, "name", json_string(g->name));
  json_object_set_new(j, "version", json_integer(g->version));
  return j;
}
