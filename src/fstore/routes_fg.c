/*
 * routes_fg.c — feature group definitions over REST:
 * /projects/{p}/featurestore/featuregroups[/{name}/versions/{v}].
 * Both roles create and read groups; deleting needs the manage right.
 */
#include <stdio.h>
#include <string.h>

#include "fstore/fgroup.h"
#include "http/server.h"
#include "meta/meta.h"
#include "project/project.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/json.h"

static int fg_create(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  json_t *b;
  struct fgroup g;
  memset(&g, 0, sizeof g);
  int rc = req_json(r, &b, e);
  if (rc) return rc;
  if ((rc = fgroup_parse(b, &g, e))) goto out;
  snprintf(r->audit_target, sizeof r->audit_target, "featuregroup:%s", g.name);
  if ((rc = meta_begin(s->meta, e))) goto out;
  if (g.version == 0) {
    sqlite3_stmt *st = meta_bind(
        meta_stmt(s->meta, "SELECT coalesce(max(version), 0) + 1 FROM featuregroups WHERE project_id = ? AND name = ?"),
        "is", r->proj.id, g.name);
    if (st && sqlite3_step(st) == SQLITE_ROW) g.version = sqlite3_column_int(st, 0);
    if (st) sqlite3_reset(st);
  }
  char *spec = json_dump(g.spec);
  rc = meta_exec(s->meta, e,
                 "INSERT INTO featuregroups(project_id, name, version, description, spec, online_enabled, creator, created) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 "isissisi", r->proj.id, g.name, (int64_t)g.version, g.description, spec, (int64_t)g.online,
                 r->who.username, meta_now());
  free(spec);
  if (rc == OAST_ECONFLICT)
    rc = oast_err_set(e, OAST_EEXISTS, "feature group \"%s\" version %d already exists", g.name, g.version);
  if (!rc) {
    g.project_id = r->proj.id;
    snprintf(g.project, sizeof g.project, "%s", r->proj.name);
    char *dir = fgroup_dir(r->srv, &g);
    fs_remove_tree(dir, NULL); /* a leftover of a crash, owned by no row */
    rc = fs_mkdirs(dir, 0700, e);
    free(dir);
  }
  if (!rc) rc = meta_commit(s->meta, e);
  if (rc) {
    meta_rollback(s->meta);
    goto out;
  }
  snprintf(r->audit_target, sizeof r->audit_target, "featuregroup:%s:%d", g.name, g.version);
  resp_json(w, 201, fgroup_json(&g));
out:
  fgroup_release(&g);
  json_decref(b);
  return rc;
}

static json_t *summary_of(struct req *r, int64_t id, const char *name, int version, const char *spec, int64_t created,
                          const char *creator) {
  json_t *j = json_loads(spec, 0, NULL);
  if (!j) j = json_object();
  char t[32];
  meta_time_iso(created, t);
  json_object_set_new(j, "name", json_string(name));
  json_object_set_new(j, "version", json_integer(version));
  json_object_set_new(j, "created", json_string(t));
  json_object_set_new(j, "creator", json_string(creator));
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta,
                                         "SELECT count(*), coalesce(max(id), 0) FROM fg_commits WHERE fg_id = ?"),
                               "i", id);
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    json_object_set_new(j, "commits", json_integer(sqlite3_column_int64(st, 0)));
    int64_t last = sqlite3_column_int64(st, 1);
    json_object_set_new(j, "latest_commit", last ? json_integer(last) : json_null());
  }
  if (st) sqlite3_reset(st);
  return j;
}

static int fg_list(struct req *r, struct resp *w, oast_err *e) {
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta,
                                         "SELECT id, name, version, spec, created, creator FROM featuregroups "
                                         "WHERE project_id = ? ORDER BY name, version"),
                               "i", r->proj.id);
  json_t *items = json_array();
  /* Collect first: summary_of runs its own statement on this connection. */
  struct row {
    int64_t id, created;
    int version;
    char *name, *spec, *creator;
  } *rows = NULL;
  size_t n = 0, cap = 0;
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    if (n == cap) rows = xreallocarray(rows, cap = cap ? cap * 2 : 16, sizeof *rows);
    rows[n].id = sqlite3_column_int64(st, 0);
    rows[n].name = xstrdup((const char *)sqlite3_column_text(st, 1));
    rows[n].version = sqlite3_column_int(st, 2);
    rows[n].spec = xstrdup((const char *)sqlite3_column_text(st, 3));
    rows[n].created = sqlite3_column_int64(st, 4);
    rows[n].creator = xstrdup((const char *)sqlite3_column_text(st, 5));
    n++;
  }
  if (st) sqlite3_reset(st);
  for (size_t i = 0; i < n; i++) {
    json_array_append_new(items, summary_of(r, rows[i].id, rows[i].name, rows[i].version, rows[i].spec, rows[i].created,
                                            rows[i].creator));
    free(rows[i].name);
    free(rows[i].spec);
    free(rows[i].creator);
  }
  free(rows);
  resp_items(w, items);
  return 0;
}

static int fg_get(struct req *r, struct resp *w, oast_err *e) {
  struct fgroup g;
  int rc = fgroup_from_route(r, &g, e);
  if (rc) return rc;
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, "SELECT spec, created, creator FROM featuregroups WHERE id = ?"), "i", g.id);
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    char *spec = xstrdup((const char *)sqlite3_column_text(st, 0));
    int64_t created = sqlite3_column_int64(st, 1);
    char *creator = xstrdup((const char *)sqlite3_column_text(st, 2));
    sqlite3_reset(st);
    resp_json(w, 200, summary_of(r, g.id, g.name, g.version, spec, created, creator));
    free(spec);
    free(creator);
  } else if (st) {
    sqlite3_reset(st);
  }
  fgroup_release(&g);
  return 0;
}

static int fg_delete(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  struct fgroup g;
  int rc = fgroup_from_route(r, &g, e);
  if (rc) return rc;
  char *dir = fgroup_dir(s, &g);
  rc = project_delete_with_dir(s, "DELETE FROM featuregroups WHERE id = ?", g.id, dir, "feature group", e);
  free(dir);
  fgroup_release(&g);
  if (!rc) resp_empty(w, 204);
  return rc;
}

const struct route fg_routes[] = {
    {"POST", "/api/v1/projects/{p}/featurestore/featuregroups", ACCESS_MEMBER, 0, "featuregroup.create", fg_create, NULL},
    {"GET", "/api/v1/projects/{p}/featurestore/featuregroups", ACCESS_MEMBER, 0, "featuregroup.list", fg_list, NULL},
    {"GET", "/api/v1/projects/{p}/featurestore/featuregroups/{name}/versions/{v}", ACCESS_MEMBER, 0, "featuregroup.get",
     fg_get, NULL},
    {"DELETE", "/api/v1/projects/{p}/featurestore/featuregroups/{name}/versions/{v}", ACCESS_OWNER, 0,
     "featuregroup.delete", fg_delete, NULL},
    ROUTES_END,
};
