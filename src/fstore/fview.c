/*
 * fview.c — feature views: definition, validation, storage, reading, and
 * the routes /projects/{p}/featurestore/featureviews[/{name}/versions/{v}].
 *
 * A definition is validated whole against the project's feature groups at
 * creation and stored in canonical form (every default filled in), so a
 * stored view always reads the same way. Loading a view re-resolves its
 * groups by name and version; a group deleted since gives a 404 that names
 * it. Reading (fview_read) takes each group's latest commit, selects the
 * columns the view needs and runs the point-in-time join (pitjoin.c).
 *
 * Both roles create and read views; deleting one needs the manage right
 * and removes its training datasets (rows and files) with it.
 */
#define _GNU_SOURCE
#include "fstore/fview.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "fstore/fgdata.h"
#include "fstore/fstore.h"
#include "http/server.h"
#include "meta/meta.h"
#include "prov/prov.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/path.h"

void fview_release(struct fview *v) {
  if (!v) return;
  for (size_t i = 0; i < v->ngroups; i++) {
    fgroup_release(&v->groups[i].g);
    free(v->groups[i].sel);
  }
  free(v->groups);
  for (size_t i = 0; i < v->ncols; i++) free(v->cols[i].name);
  free(v->cols);
  free(v->description);
  json_decref(v->spec);
  memset(v, 0, sizeof *v);
}

static int feature_of(const struct fgroup *g, const char *name) {
  for (size_t i = 0; i < g->nfeatures; i++)
    if (!strcmp(g->features[i].name, name)) return (int)i;
  return -1;
}

/* Prefixes "ERR: " to e's message, keeping its code. */
static int wrap(oast_err *e, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int wrap(oast_err *e, int rc, const char *fmt, ...) {
  if (!e) return rc;
  char pre[256], msg[OAST_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(pre, sizeof pre, fmt, ap);
  va_end(ap);
  snprintf(msg, sizeof msg, "%s", e->msg);
  return oast_err_set(e, rc, "%s: %s", pre, msg);
}

/* A list of feature names of g (field `where`) into sel; absent: all features but `skip` ones. */
static int parse_features(json_t *list, const char *where, const struct fgroup *g, const bool *skip, int **sel,
                          size_t *nsel, oast_err *e) {
  if (!list || json_is_null(list)) {
    *sel = xcalloc(g->nfeatures, sizeof **sel);
    *nsel = 0;
    for (size_t i = 0; i < g->nfeatures; i++)
      if (!skip || !skip[i]) (*sel)[(*nsel)++] = (int)i;
    return 0;
  }
  if (!json_is_array(list) || json_array_size(list) == 0)
    return oast_err_set(e, OAST_EBAD_REQUEST, "field \"%s\" must be a non-empty list of feature names", where);
  size_t n = json_array_size(list);
  if (n > g->nfeatures)
    return oast_err_set(e, OAST_EBAD_REQUEST, "field \"%s\" lists %zu features; feature group \"%s\" has %zu", where, n,
                        g->name, g->nfeatures);
  *sel = xcalloc(n, sizeof **sel);
  *nsel = 0;
  for (size_t i = 0; i < n; i++) {
    json_t *f = json_array_get(list, i);
    if (!json_is_string(f)) return oast_err_set(e, OAST_EBAD_REQUEST, "%s[%zu] must be a feature name", where, i);
    int k = feature_of(g, json_string_value(f));
    if (k < 0)
      return oast_err_set(e, OAST_ENOT_FOUND, "%s[%zu]: feature group \"%s\" version %d has no feature \"%.64s\"", where,
                          i, g->name, g->version, json_string_value(f));
    for (size_t j = 0; j < *nsel; j++)
      if ((*sel)[j] == k) return oast_err_set(e, OAST_EBAD_REQUEST, "%s[%zu]: feature \"%s\" is listed twice", where, i, g->features[k].name);
    (*sel)[(*nsel)++] = k;
  }
  return 0;
}

/* Resolves {"featuregroup", "version"} of obj (field prefix `where`) into g. */
static int parse_group_ref(struct req *r, json_t *obj, const char *where, struct fgroup *g, oast_err *e) {
  const char *name = NULL;
  int64_t version = 0;
  int rc;
  if ((rc = json_get_str(obj, "featuregroup", true, &name, e)) || (rc = json_get_int(obj, "version", true, &version, e)))
    return wrap(e, rc, "%s", where);
  if (!name_valid(name)) return oast_err_set(e, OAST_EBAD_REQUEST, "%s: \"featuregroup\" is not a valid name", where);
  if (version < 1 || version > FG_MAX_VERSION)
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s: \"version\" must be from 1 to %d", where, FG_MAX_VERSION);
  return fgroup_load(r, name, (int)version, g, e);
}

static int parse_key_list(json_t *list, const char *field, const struct fgroup *g, int *out, size_t *n, oast_err *e) {
  if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > PIT_MAX_KEYS)
    return oast_err_set(e, OAST_EBAD_REQUEST, "field \"%s\" must list 1 to %d feature names", field, PIT_MAX_KEYS);
  *n = json_array_size(list);
  for (size_t i = 0; i < *n; i++) {
    json_t *f = json_array_get(list, i);
    int k = json_is_string(f) ? feature_of(g, json_string_value(f)) : -1;
    if (k < 0)
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s[%zu] must name a feature of feature group \"%s\"", field, i, g->name);
    out[i] = k;
  }
  return 0;
}

/* The join keys of join `where` (left group L, joined group R) into jg. */
static int parse_join_keys(json_t *j, const char *where, const struct fgroup *L, struct fv_group *jg, oast_err *e) {
  const struct fgroup *R = &jg->g;
  json_t *on = json_object_get(j, "on"), *lo = json_object_get(j, "left_on"), *ro = json_object_get(j, "right_on");
  char field[64];
  int rc;
  if (on && (lo || ro))
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s: give either \"on\" or \"left_on\" with \"right_on\", not both", where);
  if ((lo != NULL) != (ro != NULL))
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s: \"left_on\" and \"right_on\" go together", where);
  if (lo) {
    size_t nl = 0, nr = 0;
    snprintf(field, sizeof field, "%s.left_on", where);
    if ((rc = parse_key_list(lo, field, L, jg->left_on, &nl, e))) return rc;
    snprintf(field, sizeof field, "%s.right_on", where);
    if ((rc = parse_key_list(ro, field, R, jg->right_on, &nr, e))) return rc;
    if (nl != nr)
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s: \"left_on\" has %zu features and \"right_on\" %zu", where, nl, nr);
    jg->nkeys = nl;
  } else {
    json_t *names = on;
    json_t *dflt = NULL;
    if (!names) {
      /* Default: the joined group's primary key, by name, in the left group too. */
      dflt = json_array();
      for (size_t i = 0; i < R->npk; i++) json_array_append_new(dflt, json_string(R->features[R->pk[i]].name));
      names = dflt;
    }
    snprintf(field, sizeof field, "%s.on", where);
    size_t n = 0;
    rc = parse_key_list(names, field, R, jg->right_on, &n, e);
    if (!rc) {
      for (size_t i = 0; i < n && !rc; i++) {
        const char *kn = R->features[jg->right_on[i]].name;
        int k = feature_of(L, kn);
        if (k < 0)
          rc = oast_err_set(e, OAST_EBAD_REQUEST,
                            "%s: the join key \"%s\" is not a feature of the left feature group \"%s\"; use \"left_on\" "
                            "and \"right_on\"",
                            where, kn, L->name);
        jg->left_on[i] = k;
      }
    }
    json_decref(dflt);
    if (rc) return rc;
    jg->nkeys = n;
  }
  /* The right keys are the joined group's whole primary key, each once. */
  for (size_t i = 0; i < jg->nkeys; i++)
    for (size_t k = 0; k < i; k++)
      if (jg->right_on[k] == jg->right_on[i])
        return oast_err_set(e, OAST_EBAD_REQUEST, "%s: join key \"%s\" is given twice", where,
                            R->features[jg->right_on[i]].name);
  bool covers = jg->nkeys == R->npk;
  for (size_t i = 0; i < R->npk && covers; i++) {
    bool found = false;
    for (size_t k = 0; k < jg->nkeys; k++) found |= jg->right_on[k] == R->pk[i];
    covers = found;
  }
  if (!covers) {
    char pk[256] = "";
    for (size_t i = 0; i < R->npk; i++)
      snprintf(pk + strlen(pk), sizeof pk - strlen(pk), "%s\"%s\"", i ? ", " : "", R->features[R->pk[i]].name);
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s: feature group \"%s\" is joined on its primary key (%s), so the right keys must be exactly those",
                        where, R->name, pk);
  }
  for (size_t i = 0; i < jg->nkeys; i++) {
    const struct fg_feature *a = &L->features[jg->left_on[i]], *b = &R->features[jg->right_on[i]];
    if (!pit_key_types_compatible(a->type, b->type))
      return oast_err_set(e, OAST_EBAD_REQUEST,
                          "%s: join keys \"%s\" (%s) of \"%s\" and \"%s\" (%s) of \"%s\" have incompatible types", where,
                          a->name, ftype_name(a->type), L->name, b->name, ftype_name(b->type), R->name);
  }
  if (L->event_time >= 0 && R->event_time >= 0) {
    const struct fg_feature *a = &L->features[L->event_time], *b = &R->features[R->event_time];
    if (!pit_time_types_compatible(a->type, b->type))
      return oast_err_set(e, OAST_EBAD_REQUEST,
                          "%s: event times \"%s\" (%s) of \"%s\" and \"%s\" (%s) of \"%s\" cannot be compared", where,
                          a->name, ftype_name(a->type), L->name, b->name, ftype_name(b->type), R->name);
  }
  return 0;
}

static int valid_prefix(const char *p) {
  size_t n = strlen(p);
  if (n == 0) return 1;
  if (n > 32 || !((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z'))) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return 0;
  }
  return 1;
}

/* Appends the selected features of group gi as view columns, checking names. */
static int add_columns(struct fview *v, size_t gi, const char *where, oast_err *e) {
  struct fv_group *fg = &v->groups[gi];
  for (size_t i = 0; i < fg->nsel; i++) {
    const struct fg_feature *f = &fg->g.features[fg->sel[i]];
    char *name = xasprintf("%s%s", fg->prefix, f->name);
    if (!name_valid(name)) {
      int rc = oast_err_set(e, OAST_EBAD_REQUEST, "%s: the prefixed name \"%.80s\" is not a valid feature name", where, name);
      free(name);
      return rc;
    }
    for (size_t c = 0; c < v->ncols; c++)
      if (!strcmp(v->cols[c].name, name)) {
        const struct fv_group *other = &v->groups[v->cols[c].group];
        int rc = oast_err_set(e, OAST_EBAD_REQUEST,
                              "%s: the view would have two columns named \"%s\" (from \"%s\" and \"%s\"); select fewer "
                              "features or give the join a \"prefix\"",
                              where, name, other->g.name, fg->g.name);
        free(name);
        return rc;
      }
    v->cols = xreallocarray(v->cols, v->ncols + 1, sizeof *v->cols);
    v->cols[v->ncols++] = (struct fv_col){name, f->type, gi, fg->sel[i], false};
  }
  return 0;
}

static json_t *names_json(const struct fgroup *g, const int *idx, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(a, json_string(g->features[idx[i]].name));
  return a;
}

int fview_parse(struct req *r, json_t *body, struct fview *v, oast_err *e) {
  memset(v, 0, sizeof *v);
  static const char *const allowed[] = {"name", "version", "description", "query", "labels", NULL};
  static const char *const qallowed[] = {"featuregroup", "version", "features", "joins", NULL};
  static const char *const jallowed[] = {"featuregroup", "version", "features", "on", "left_on",
                                         "right_on", "prefix", "join_type", NULL};
  const char *name = NULL, *desc = "";
  int64_t version = 0;
  json_t *query = NULL, *labels = NULL, *joins = NULL;
  int rc;
  if ((rc = json_only_fields(body, allowed, e)) || (rc = json_get_str(body, "name", true, &name, e)) ||
      (rc = name_check("feature view name", name, e)) || (rc = json_get_int(body, "version", false, &version, e)) ||
      (rc = json_get_str(body, "description", false, &desc, e)) || (rc = json_get_obj(body, "query", true, &query, e)) ||
      (rc = json_get_array(body, "labels", false, &labels, e)))
    return rc;
  if (json_object_get(body, "version") && (version < 1 || version > FV_MAX_VERSION))
    return oast_err_set(e, OAST_EBAD_REQUEST, "field \"version\" must be from 1 to %d", FV_MAX_VERSION);
  if (strlen(desc) > 4096) return oast_err_set(e, OAST_EBAD_REQUEST, "field \"description\" is longer than 4096 characters");
  if ((rc = json_only_fields(query, qallowed, e))) return wrap(e, rc, "field \"query\"");
  if ((rc = json_get_array(query, "joins", false, &joins, e))) return wrap(e, rc, "field \"query\"");
  size_t nj = json_array_size(joins);
  if (nj > FV_MAX_JOINS)
    return oast_err_set(e, OAST_EBAD_REQUEST, "field \"query.joins\" has %zu joins; at most %d are allowed", nj, FV_MAX_JOINS);
  snprintf(v->name, sizeof v->name, "%s", name);
  v->version = (int)version;
  v->description = xstrdup(desc);
  v->groups = xcalloc(nj + 1, sizeof *v->groups);
  for (size_t i = 0; i <= nj; i++) v->groups[i].g.event_time = -1;
  /* The left group. */
  struct fv_group *left = &v->groups[0];
  if ((rc = parse_group_ref(r, query, "field \"query\"", &left->g, e))) return rc;
  v->ngroups = 1;
  if ((rc = parse_features(json_object_get(query, "features"), "query.features", &left->g, NULL, &left->sel, &left->nsel, e)))
    return rc;
  if ((rc = add_columns(v, 0, "query.features", e))) return rc;
  /* The joins. */
  for (size_t i = 0; i < nj; i++) {
    json_t *j = json_array_get(joins, i);
    char where[48];
    snprintf(where, sizeof where, "query.joins[%zu]", i);
    if (!json_is_object(j)) return oast_err_set(e, OAST_EBAD_REQUEST, "%s must be an object", where);
    if ((rc = json_only_fields(j, jallowed, e))) return wrap(e, rc, "%s", where);
    struct fv_group *jg = &v->groups[i + 1];
    if ((rc = parse_group_ref(r, j, where, &jg->g, e))) return rc;
    v->ngroups = i + 2;
    const char *prefix = "", *type = "left";
    if ((rc = json_get_str(j, "prefix", false, &prefix, e)) || (rc = json_get_str(j, "join_type", false, &type, e)))
      return wrap(e, rc, "%s", where);
    if (!valid_prefix(prefix))
      return oast_err_set(e, OAST_EBAD_REQUEST,
                          "%s: \"prefix\" must start with a letter and hold at most 32 letters, digits and '_'", where);
    snprintf(jg->prefix, sizeof jg->prefix, "%s", prefix);
    if (strcmp(type, "left") && strcmp(type, "inner"))
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s: \"join_type\" must be \"left\" or \"inner\"", where);
    jg->inner = !strcmp(type, "inner");
    if ((rc = parse_join_keys(j, where, &left->g, jg, e))) return rc;
    /* By default a joined group brings its features but its key and event time, which the left row has. */
    bool *skip = xcalloc(jg->g.nfeatures, sizeof *skip);
    for (size_t k = 0; k < jg->nkeys; k++) skip[jg->right_on[k]] = true;
    if (jg->g.event_time >= 0) skip[jg->g.event_time] = true;
    char field[64];
    snprintf(field, sizeof field, "%s.features", where);
    rc = parse_features(json_object_get(j, "features"), field, &jg->g, skip, &jg->sel, &jg->nsel, e);
    free(skip);
    if (rc) return rc;
    if ((rc = add_columns(v, i + 1, field, e))) return rc;
  }
  if (v->ncols == 0) return oast_err_set(e, OAST_EBAD_REQUEST, "the view selects no features");
  /* Labels: columns of the view. */
  for (size_t i = 0; i < json_array_size(labels); i++) {
    json_t *l = json_array_get(labels, i);
    size_t c = 0;
    if (json_is_string(l))
      for (; c < v->ncols; c++)
        if (!strcmp(v->cols[c].name, json_string_value(l))) break;
    if (!json_is_string(l) || c == v->ncols)
      return oast_err_set(e, OAST_EBAD_REQUEST, "labels[%zu] must name a feature of the view%s%.64s%s", i,
                          json_is_string(l) ? " (not \"" : "", json_is_string(l) ? json_string_value(l) : "",
                          json_is_string(l) ? "\")" : "");
    if (v->cols[c].label) return oast_err_set(e, OAST_EBAD_REQUEST, "labels[%zu]: \"%s\" is listed twice", i, v->cols[c].name);
    v->cols[c].label = true;
  }
  size_t nlabels = 0;
  for (size_t c = 0; c < v->ncols; c++) nlabels += v->cols[c].label;
  if (nlabels == v->ncols) return oast_err_set(e, OAST_EBAD_REQUEST, "every column of the view is a label; a view needs features");
  /* The canonical definition. */
  json_t *jj = json_array();
  for (size_t i = 1; i < v->ngroups; i++) {
    struct fv_group *jg = &v->groups[i];
    json_array_append_new(jj, json_pack("{s:s,s:i,s:o,s:o,s:o,s:s,s:s}", "featuregroup", jg->g.name, "version",
                                        jg->g.version, "features", names_json(&jg->g, jg->sel, jg->nsel), "left_on",
                                        names_json(&left->g, jg->left_on, jg->nkeys), "right_on",
                                        names_json(&jg->g, jg->right_on, jg->nkeys), "prefix", jg->prefix, "join_type",
                                        jg->inner ? "inner" : "left"));
  }
  json_t *jl = json_array();
  for (size_t c = 0; c < v->ncols; c++)
    if (v->cols[c].label) json_array_append_new(jl, json_string(v->cols[c].name));
  v->spec = json_pack("{s:s,s:{s:s,s:i,s:o,s:o},s:o}", "description", v->description, "query", "featuregroup",
                      left->g.name, "version", left->g.version, "features", names_json(&left->g, left->sel, left->nsel),
                      "joins", jj, "labels", jl);
  return 0;
}

int fview_load(struct req *r, const char *name, int version, struct fview *v, oast_err *e) {
  memset(v, 0, sizeof *v);
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta,
                                         "SELECT id, spec FROM featureviews WHERE project_id = ? AND name = ? AND version = ?"),
                               "isi", r->proj.id, name, (int64_t)version);
  int64_t id = 0;
  json_t *body = NULL;
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    id = sqlite3_column_int64(st, 0);
    body = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
  }
  if (st) sqlite3_reset(st);
  if (!id)
    return oast_err_set(e, OAST_ENOT_FOUND, "feature view \"%.64s\" version %d not found in project \"%s\"", name, version,
                        r->proj.name);
  if (!body) return oast_err_set(e, OAST_EINTERNAL, "the stored definition of feature view %s is unreadable", name);
  json_object_set_new(body, "name", json_string(name));
  json_object_set_new(body, "version", json_integer(version));
  int rc = fview_parse(r, body, v, e);
  json_decref(body);
  if (rc) {
    fview_release(v);
    return wrap(e, rc, "feature view \"%s\" version %d", name, version);
  }
  v->id = id;
  v->project_id = r->proj.id;
  return 0;
}

int fview_from_route(struct req *r, struct fview *v, oast_err *e) {
  const char *name = req_param(r, "name"), *ver = req_param(r, "v");
  char *end;
  long version = strtol(ver ? ver : "", &end, 10);
  if (!ver || !*ver || *end || version < 1 || version > FV_MAX_VERSION)
    return oast_err_set(e, OAST_EBAD_REQUEST, "the version in the path must be an integer from 1 to %d", FV_MAX_VERSION);
  snprintf(r->audit_target, sizeof r->audit_target, "featureview:%.64s:%ld", name, version);
  return fview_load(r, name, (int)version, v, e);
}

json_t *fview_json(const struct fview *v) {
  json_t *j = json_deep_copy(v->spec);
  json_object_set_new(j, "name", json_string(v->name));
  json_object_set_new(j, "version", json_integer(v->version));
  json_t *cols = json_array();
  for (size_t c = 0; c < v->ncols; c++) {
    const struct fv_group *g = &v->groups[v->cols[c].group];
    json_array_append_new(cols, json_pack("{s:s,s:s,s:s,s:i,s:s,s:b}", "name", v->cols[c].name, "type",
                                          ftype_name(v->cols[c].type), "featuregroup", g->g.name,
                                          "featuregroup_version", g->g.version, "feature",
                                          g->g.features[v->cols[c].feature].name, "label", v->cols[c].label));
  }
  json_object_set_new(j, "features", cols);
  const struct fgroup *L = &v->groups[0].g;
  json_object_set_new(j, "serving_key", names_json(L, L->pk, L->npk));
  json_object_set_new(j, "event_time", L->event_time >= 0 ? json_string(L->features[L->event_time].name) : json_null());
  return j;
}

/* ---- reading ---- */

/* Adds feature index f of g to the read list (once); returns its position. */
static int need(int *list, size_t *n, int f) {
  for (size_t i = 0; i < *n; i++)
    if (list[i] == f) return (int)i;
  list[*n] = f;
  return (int)(*n)++;
}

/* Reads the columns `list` of group g (latest commit) into t; records the commit in commits. */
static int read_group(struct server *s, const struct fgroup *g, const int *list, size_t n, struct table *t,
                      json_t *commits, oast_err *e) {
  const char **names = xcalloc(n ? n : 1, sizeof *names);
  for (size_t i = 0; i < n; i++) names[i] = g->features[list[i]].name;
  int64_t commit = 0;
  int rc = fgdata_read(s, g, 0, names, n, t, &commit, e);
  free(names);
  if (!rc && commits) {
    char key[96];
    snprintf(key, sizeof key, "%s:%d", g->name, g->version);
    json_object_set_new(commits, key, commit ? json_integer(commit) : json_null());
  }
  return rc;
}

int fview_read(struct server *s, const struct fview *v, bool has_window, int64_t start_us, int64_t end_us,
               struct table *out, json_t **commits, oast_err *e) {
  memset(out, 0, sizeof *out);
  size_t ng = v->ngroups, nj = ng - 1;
  struct table *t = xcalloc(ng, sizeof *t);
  int **lists = xcalloc(ng, sizeof *lists);
  size_t *nlist = xcalloc(ng, sizeof *nlist);
  int *lkeys = xcalloc(nj ? nj * PIT_MAX_KEYS : 1, sizeof *lkeys);
  int *rkeys = xcalloc(nj ? nj * PIT_MAX_KEYS : 1, sizeof *rkeys);
  int *times = xcalloc(ng, sizeof *times);
  int **cols = xcalloc(ng, sizeof *cols);
  const char ***names = xcalloc(ng, sizeof *names);
  struct pit_join_spec *js = xcalloc(nj ? nj : 1, sizeof *js);
  uint32_t *rows = NULL;
  size_t nrows = 0;
  json_t *cm = json_object();
  int rc = 0;
  /* The columns each group must give: its selected features, its keys, its event time. */
  for (size_t gi = 0; gi < ng; gi++) {
    const struct fv_group *fg = &v->groups[gi];
    lists[gi] = xcalloc(fg->g.nfeatures, sizeof **lists);
    cols[gi] = xcalloc(fg->nsel ? fg->nsel : 1, sizeof **cols);
    names[gi] = xcalloc(fg->nsel ? fg->nsel : 1, sizeof **names);
    for (size_t i = 0; i < fg->nsel; i++) cols[gi][i] = need(lists[gi], &nlist[gi], fg->sel[i]);
    times[gi] = fg->g.event_time >= 0 ? need(lists[gi], &nlist[gi], fg->g.event_time) : -1;
  }
  for (size_t j = 0; j < nj; j++) {
    const struct fv_group *fg = &v->groups[j + 1];
    for (size_t k = 0; k < fg->nkeys; k++) {
      lkeys[j * PIT_MAX_KEYS + k] = need(lists[0], &nlist[0], fg->left_on[k]);
      rkeys[j * PIT_MAX_KEYS + k] = need(lists[j + 1], &nlist[j + 1], fg->right_on[k]);
    }
  }
  for (size_t c = 0; c < v->ncols; c++) {
    const struct fv_col *col = &v->cols[c];
    const struct fv_group *fg = &v->groups[col->group];
    for (size_t i = 0; i < fg->nsel; i++)
      if (fg->sel[i] == col->feature) names[col->group][i] = col->name;
  }
  for (size_t gi = 0; gi < ng && !rc; gi++) rc = read_group(s, &v->groups[gi].g, lists[gi], nlist[gi], &t[gi], cm, e);
  if (rc) goto out;
  if (has_window) {
    if (times[0] < 0) {
      rc = oast_err_set(e, OAST_EBAD_REQUEST, "feature group \"%s\" has no event time, so a time window cannot apply",
                        v->groups[0].g.name);
      goto out;
    }
    const struct column *tc = &t[0].cols[times[0]];
    rows = xmalloc((t[0].nrows ? t[0].nrows : 1) * sizeof *rows);
    for (size_t i = 0; i < t[0].nrows; i++) {
      int64_t x = pit_time_at(tc, i);
      if (x >= start_us && x < end_us) rows[nrows++] = (uint32_t)i;
    }
  }
  for (size_t j = 0; j < nj; j++) {
    const struct fv_group *fg = &v->groups[j + 1];
    js[j].left_keys = &lkeys[j * PIT_MAX_KEYS];
    js[j].right = (struct pit_side){&t[j + 1], &rkeys[j * PIT_MAX_KEYS], fg->nkeys, times[j + 1]};
    js[j].cols = cols[j + 1];
    js[j].names = names[j + 1];
    js[j].ncols = fg->nsel;
    js[j].inner = fg->inner;
  }
  rc = pit_join(&t[0], times[0], has_window ? rows : NULL, nrows, cols[0], names[0], v->groups[0].nsel, js, nj, 0, out,
                e);
out:
  if (!rc && commits) *commits = json_incref(cm);
  json_decref(cm);
  for (size_t gi = 0; gi < ng; gi++) {
    table_release(&t[gi]);
    free(lists[gi]);
    free(cols[gi]);
    free(names[gi]);
  }
  free(t);
  free(lists);
  free(nlist);
  free(lkeys);
  free(rkeys);
  free(times);
  free(cols);
  free(names);
  free(js);
  free(rows);
  return rc;
}

/* ---- routes ---- */

static int fv_create(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  json_t *b;
  struct fview v;
  memset(&v, 0, sizeof v);
  int rc = req_json(r, &b, e);
  if (rc) return rc;
  if ((rc = fview_parse(r, b, &v, e))) goto out;
  snprintf(r->audit_target, sizeof r->audit_target, "featureview:%s", v.name);
  if ((rc = meta_begin(s->meta, e))) goto out;
  if (v.version == 0) {
    sqlite3_stmt *st = meta_bind(
        meta_stmt(s->meta, "SELECT coalesce(max(version), 0) + 1 FROM featureviews WHERE project_id = ? AND name = ?"),
        "is", r->proj.id, v.name);
    if (st && sqlite3_step(st) == SQLITE_ROW) v.version = sqlite3_column_int(st, 0);
    if (st) sqlite3_reset(st);
  }
  char *spec = json_dump(v.spec);
  rc = meta_exec(s->meta, e,
                 "INSERT INTO featureviews(project_id, name, version, description, spec, creator, created) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)",
                 "isisssi", r->proj.id, v.name, (int64_t)v.version, v.description, spec, r->who.username, meta_now());
  free(spec);
  if (rc == OAST_ECONFLICT)
    rc = oast_err_set(e, OAST_EEXISTS, "feature view \"%s\" version %d already exists", v.name, v.version);
  char dst[96];
  snprintf(dst, sizeof dst, "%s:%d", v.name, v.version);
  for (size_t i = 0; i < v.ngroups && !rc; i++) {
    char src[96];
    snprintf(src, sizeof src, "%s:%d", v.groups[i].g.name, v.groups[i].g.version);
    bool dup = false;
    for (size_t k = 0; k < i; k++) dup |= v.groups[k].g.id == v.groups[i].g.id;
    if (!dup) rc = prov_add(s, r->proj.id, "featuregroup", src, "featureview", dst, "selected_from", e);
  }
  if (!rc) rc = meta_commit(s->meta, e);
  if (rc) {
    meta_rollback(s->meta);
    goto out;
  }
  snprintf(r->audit_target, sizeof r->audit_target, "featureview:%s:%d", v.name, v.version);
  json_t *j = fview_json(&v);
  char t[32];
  meta_time_iso(meta_now(), t);
  json_object_set_new(j, "created", json_string(t));
  json_object_set_new(j, "creator", json_string(r->who.username));
  resp_json(w, 201, j);
out:
  fview_release(&v);
  json_decref(b);
  return rc;
}

static int fv_list(struct req *r, struct resp *w, oast_err *e) {
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta,
                                         "SELECT name, version, spec, created, creator FROM featureviews "
                                         "WHERE project_id = ? ORDER BY name, version"),
                               "i", r->proj.id);
  json_t *items = json_array();
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    json_t *j = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
    if (!j) j = json_object();
    char t[32];
    meta_time_iso(sqlite3_column_int64(st, 3), t);
    json_object_set_new(j, "name", json_string((const char *)sqlite3_column_text(st, 0)));
    json_object_set_new(j, "version", json_integer(sqlite3_column_int(st, 1)));
    json_object_set_new(j, "created", json_string(t));
    json_object_set_new(j, "creator", json_string((const char *)sqlite3_column_text(st, 4)));
    json_array_append_new(items, j);
  }
  if (st) sqlite3_reset(st);
  resp_items(w, items);
  return 0;
}

static int fv_get(struct req *r, struct resp *w, oast_err *e) {
  struct fview v;
  int rc = fview_from_route(r, &v, e);
  if (rc) return rc;
  json_t *j = fview_json(&v);
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, "SELECT created, creator FROM featureviews WHERE id = ?"), "i", v.id);
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    char t[32];
    meta_time_iso(sqlite3_column_int64(st, 0), t);
    json_object_set_new(j, "created", json_string(t));
    json_object_set_new(j, "creator", json_string((const char *)sqlite3_column_text(st, 1)));
  }
  if (st) sqlite3_reset(st);
  resp_json(w, 200, j);
  fview_release(&v);
  return 0;
}

int fview_route_id(struct req *r, int64_t *id, int *version, oast_err *e) {
  const char *name = req_param(r, "name"), *ver = req_param(r, "v");
  char *end;
  long vn = strtol(ver ? ver : "", &end, 10);
  if (!ver || !*ver || *end || vn < 1 || vn > FV_MAX_VERSION)
    return oast_err_set(e, OAST_EBAD_REQUEST, "the version in the path must be an integer from 1 to %d", FV_MAX_VERSION);
  snprintf(r->audit_target, sizeof r->audit_target, "featureview:%.64s:%ld", name, vn);
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta,
                                         "SELECT id FROM featureviews WHERE project_id = ? AND name = ? AND version = ?"),
                               "isi", r->proj.id, name, (int64_t)vn);
  *id = 0;
  if (st && sqlite3_step(st) == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
  if (st) sqlite3_reset(st);
  *version = (int)vn;
  if (!*id)
    return oast_err_set(e, OAST_ENOT_FOUND, "feature view \"%.64s\" version %ld not found in project \"%s\"", name, vn,
                        r->proj.name);
  return 0;
}

static int fv_delete(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  int64_t id;
  int version;
  int rc = fview_route_id(r, &id, &version, e);
  if (rc) return rc;
  /* Its training datasets go with it: their folders move to the trash in the transaction. */
  char *pdir = server_project_dir(s, r->proj.name);
  char *trash = xasprintf("%s/fs/.trash", s->cfg.home);
  fs_mkdirs(trash, 0700, NULL);
  char **from = NULL, **to = NULL;
  size_t n = 0;
  if ((rc = meta_begin(s->meta, e))) goto out;
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT id, path FROM training_datasets WHERE fv_id = ?"), "i", id);
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    from = xreallocarray(from, n + 1, sizeof *from);
    to = xreallocarray(to, n + 1, sizeof *to);
    from[n] = xasprintf("%s/%s", pdir, (const char *)sqlite3_column_text(st, 1));
    to[n] = xasprintf("%s/td-%lld-%lld", trash, (long long)sqlite3_column_int64(st, 0), (long long)meta_now_us());
    n++;
  }
  if (st) sqlite3_reset(st);
  rc = meta_exec(s->meta, e, "DELETE FROM featureviews WHERE id = ?", "i", id);
  size_t moved = 0;
  for (; moved < n && !rc; moved++)
    if (fs_exists(from[moved]) && rename(from[moved], to[moved]) != 0) {
      rc = oast_err_set(e, OAST_EIO, "cannot move training dataset files away");
      break;
    }
  if (!rc) rc = meta_commit(s->meta, e);
  if (rc) {
    meta_rollback(s->meta);
    for (size_t i = 0; i < moved; i++) rename(to[i], from[i]);
    goto out;
  }
  for (size_t i = 0; i < n; i++) fs_remove_tree(to[i], NULL);
  resp_empty(w, 204);
out:
  for (size_t i = 0; i < n; i++) {
    free(from[i]);
    free(to[i]);
  }
  free(from);
  free(to);
  free(pdir);
  free(trash);
  return rc;
}

#define FV "/api/v1/projects/{p}/featurestore/featureviews"
/* ?start_time= / ?end_time=: an ISO-8601 time or epoch milliseconds; *given when present. */
static int query_time(struct req *r, const char *name, int64_t *us, bool *given, oast_err *e) {
  const char *q = req_query(r, name);
  if (!q || !*q) return 0;
  *given = true;
  char *end;
  errno = 0;
  long long ms = strtoll(q, &end, 10);
  if (!*end && !errno && ms > INT64_MIN / 1000 && ms < INT64_MAX / 1000) {
    *us = (int64_t)ms * 1000;
    return 0;
  }
  if (timestamp_parse(q, strlen(q), us) == 0) return 0;
  return oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"%s\" must be an ISO-8601 time or epoch milliseconds",
                      name);
}

/*
 * The view's rows (hsfs's get_batch_data): the same point-in-time join as
 * its training data, optionally over a window of the left group's event
 * time, answered as CSV, JSON or Parquet; which commit of each group was
 * read is in X-Oast-Commits.
 */
static int fv_data(struct req *r, struct resp *w, oast_err *e) {
  struct fview v;
  int rc = fview_from_route(r, &v, e);
  if (rc) return rc;
  const char *fmt;
  size_t limit;
  int64_t start = INT64_MIN, end = INT64_MAX;
  bool has_start = false, has_end = false;
  struct table t = {0};
  json_t *commits = NULL;
  if ((rc = fstore_read_query(r, &fmt, &limit, e)) || (rc = query_time(r, "start_time", &start, &has_start, e)) ||
      (rc = query_time(r, "end_time", &end, &has_end, e)))
    goto out;
  bool window = has_start || has_end;
  if (window && end <= start) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"end_time\" must be later than \"start_time\"");
    goto out;
  }
  if (window && v.groups[0].g.event_time < 0) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST,
                      "start_time and end_time filter on the event time, and feature group \"%s\" has none",
                      v.groups[0].g.name);
    goto out;
  }
  if ((rc = fview_read(r->srv, &v, window, start, end, &t, &commits, e))) goto out;
  rc = fstore_answer_table(r, w, &t, limit, fmt, e);
  if (!rc && w->raw && commits) {
    char *text = json_dumps(commits, JSON_COMPACT | JSON_SORT_KEYS);
    if (text) MHD_add_response_header(w->raw, "X-Oast-Commits", text);
    free(text);
  }
out:
  json_decref(commits);
  table_release(&t);
  fview_release(&v);
  return rc;
}

const struct route fview_routes[] = {
    {"POST", FV, ACCESS_MEMBER, 0, "featureview.create", fv_create, NULL},
    {"GET", FV, ACCESS_MEMBER, 0, "featureview.list", fv_list, NULL},
    {"GET", FV "/{name}/versions/{v}", ACCESS_MEMBER, 0, "featureview.get", fv_get, NULL},
    {"GET", FV "/{name}/versions/{v}/data", ACCESS_MEMBER, 0, "featureview.data", fv_data, NULL},
    {"DELETE", FV "/{name}/versions/{v}", ACCESS_OWNER, 0, "featureview.delete", fv_delete, NULL},
    ROUTES_END,
};
