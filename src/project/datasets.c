/*
 * datasets.c — datasets of a project and sharing them between projects.
 *
 * A share is a row (dataset, target project, permission, status). It is
 * created "pending" by a data owner of the owning project and becomes
 * usable when a data owner of the target project accepts it; from then
 * the target reaches the dataset as "owner::name" and reads the owner's
 * directory in place, so sharing never copies bytes and revoking (deleting
 * the row) takes effect on the next request.
 */
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "http/server.h"
#include "meta/meta.h"
#include "project/project.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/path.h"

char *project_dataset_dir(struct server *s, const struct dataset_ref *d) {
  return xasprintf("%s/%s/%s", s->fs_root, d->owner_project, d->name);
}

static int dataset_list(struct req *r, struct resp *w, oast_err *e) {
  json_t *items = json_array();
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta,
                                         "SELECT name, description, created, builtin FROM datasets "
                                         "WHERE project_id = ? ORDER BY name"),
                               "i", r->proj.id);
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    char t[32];
    meta_time_iso(sqlite3_column_int64(st, 2), t);
    json_array_append_new(items, json_pack("{s:s,s:s,s:s,s:b}", "name", (const char *)sqlite3_column_text(st, 0),
                                           "description", (const char *)sqlite3_column_text(st, 1), "created", t,
                                           "builtin", sqlite3_column_int(st, 3)));
  }
  if (st) sqlite3_reset(st);
  st = meta_bind(meta_stmt(r->srv->meta,
                           "SELECT q.name, d.name, d.description, sh.permission, sh.status, sh.created "
                           "FROM shares sh JOIN datasets d ON d.id = sh.dataset_id JOIN projects q ON q.id = d.project_id "
                           "WHERE sh.project_id = ? ORDER BY q.name, d.name"),
                 "i", r->proj.id);
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    char t[32];
    meta_time_iso(sqlite3_column_int64(st, 5), t);
    char *full = xasprintf("%s::%s", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1));
    json_array_append_new(items, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "name", full, "description",
                                           (const char *)sqlite3_column_text(st, 2), "shared_from",
                                           (const char *)sqlite3_column_text(st, 0), "permission",
                                           (const char *)sqlite3_column_text(st, 3), "status",
                                           (const char *)sqlite3_column_text(st, 4), "created", t));
    free(full);
  }
  if (st) sqlite3_reset(st);
  resp_items(w, items);
  return 0;
}

static int dataset_create(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  json_t *b;
  int rc = req_json(r, &b, e);
  if (rc) return rc;
  const char *name = NULL, *desc = "";
  static const char *const allowed[] = {"name", "description", NULL};
  if ((rc = json_only_fields(b, allowed, e)) || (rc = json_get_str(b, "name", true, &name, e)) ||
      (rc = json_get_str(b, "description", false, &desc, e)) || (rc = name_check("dataset name", name, e)) ||
      (rc = authz_require(r, RIGHT_WRITE, e)))
    goto out;
  snprintf(r->audit_target, sizeof r->audit_target, "dataset:%s", name);
  if (strlen(desc) > 4096) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"description\" is longer than 4096 characters");
    goto out;
  }
  if ((rc = meta_begin(s->meta, e))) goto out;
  rc = meta_exec(s->meta, e, "INSERT INTO datasets(project_id, name, description, builtin, created) VALUES (?, ?, ?, 0, ?)",
                 "issi", r->proj.id, name, desc, meta_now());
  if (rc == OAST_ECONFLICT)
    rc = oast_err_set(e, OAST_EEXISTS, "dataset \"%s\" already exists in project \"%s\"", name, r->proj.name);
  if (!rc) {
    char *dir = xasprintf("%s/%s/%s", s->fs_root, r->proj.name, name);
    /* A directory without a row is a leftover of a crash; it is emptied, not adopted. */
    fs_remove_tree(dir, NULL);
    rc = fs_mkdirs(dir, 0700, e);
    free(dir);
  }
  if (!rc) rc = meta_commit(s->meta, e);
  if (rc) {
    meta_rollback(s->meta);
    goto out;
  }
  resp_json(w, 201, json_pack("{s:s,s:s}", "name", name, "description", desc));
out:
  json_decref(b);
  return rc;
}

static int dataset_delete(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  const char *name = req_param(r, "ds");
  snprintf(r->audit_target, sizeof r->audit_target, "dataset:%.140s", name);
  struct dataset_ref d;
  int rc = authz_dataset(r, name, RIGHT_READ, &d, e);
  if (rc) return rc;
  if (d.shared) {
    /* The receiving project leaves a share: only the row goes. */
    rc = meta_exec(s->meta, e, "DELETE FROM shares WHERE dataset_id = ? AND project_id = ?", "ii", d.id, r->proj.id);
    if (!rc) resp_empty(w, 204);
    return rc;
  }
  if (d.builtin)
    return oast_err_set(e, OAST_ECONFLICT, "dataset \"%s\" is built into every project and cannot be deleted", name);
  char *dir = project_dataset_dir(s, &d);
  rc = project_delete_with_dir(s, "DELETE FROM datasets WHERE id = ?", d.id, dir, "dataset", e);
  free(dir);
  if (!rc) resp_empty(w, 204);
  return rc;
}

/* The id of the project's own dataset `name`, or a 404. */
static int own_dataset(struct req *r, const char *name, int64_t *id, oast_err *e) {
  struct dataset_ref d;
  if (strstr(name, "::"))
    return oast_err_set(e, OAST_EBAD_REQUEST, "only a project's own datasets can be shared, not \"%.140s\"", name);
  int rc = authz_dataset(r, name, RIGHT_READ, &d, e);
  if (rc) return rc;
  *id = d.id;
  return 0;
}

static int64_t project_id_by_name(struct server *s, const char *name) {
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT id FROM projects WHERE name = ?"), "s", name);
  int64_t id = 0;
  if (st && sqlite3_step(st) == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
  if (st) sqlite3_reset(st);
  return id;
}

static int share_create(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  const char *name = req_param(r, "ds");
  json_t *b;
  int rc = req_json(r, &b, e);
  if (rc) return rc;
  const char *target = NULL, *perm = "read";
  static const char *const allowed[] = {"project", "permission", NULL};
  int64_t dsid, qid;
  if ((rc = json_only_fields(b, allowed, e)) || (rc = json_get_str(b, "project", true, &target, e)) ||
      (rc = json_get_str(b, "permission", false, &perm, e)))
    goto out;
  snprintf(r->audit_target, sizeof r->audit_target, "dataset:%.64s share:%.64s", name, target);
  if (strcmp(perm, "read") && strcmp(perm, "read_write")) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"permission\" must be \"read\" or \"read_write\", got \"%.64s\"", perm);
    goto out;
  }
  if ((rc = own_dataset(r, name, &dsid, e))) goto out;
  qid = project_id_by_name(s, target);
  if (!qid) {
    rc = oast_err_set(e, OAST_ENOT_FOUND, "project \"%.64s\" not found", target);
    goto out;
  }
  if (qid == r->proj.id) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "a dataset cannot be shared with its own project");
    goto out;
  }
  rc = meta_exec(s->meta, e, "INSERT INTO shares(dataset_id, project_id, permission, status, created) VALUES (?, ?, ?, 'pending', ?)",
                 "iisi", dsid, qid, perm, meta_now());
  if (rc == OAST_ECONFLICT)
    rc = oast_err_set(e, OAST_EEXISTS, "dataset \"%s\" is already shared with project \"%s\"", name, target);
  if (!rc)
    resp_json(w, 201, json_pack("{s:s,s:s,s:s,s:s}", "dataset", name, "project", target, "permission", perm, "status",
                                "pending"));
out:
  json_decref(b);
  return rc;
}

static int share_list(struct req *r, struct resp *w, oast_err *e) {
  const char *name = req_param(r, "ds");
  int64_t dsid;
  int rc = own_dataset(r, name, &dsid, e);
  if (rc) return rc;
  json_t *items = json_array();
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta,
                                         "SELECT q.name, sh.permission, sh.status FROM shares sh "
                                         "JOIN projects q ON q.id = sh.project_id WHERE sh.dataset_id = ? ORDER BY q.name"),
                               "i", dsid);
  while (st && sqlite3_step(st) == SQLITE_ROW)
    json_array_append_new(items, json_pack("{s:s,s:s,s:s}", "project", (const char *)sqlite3_column_text(st, 0),
                                           "permission", (const char *)sqlite3_column_text(st, 1), "status",
                                           (const char *)sqlite3_column_text(st, 2)));
  if (st) sqlite3_reset(st);
  resp_items(w, items);
  return 0;
}

static int share_accept(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  const char *full = req_param(r, "ds");
  snprintf(r->audit_target, sizeof r->audit_target, "dataset:%.140s", full);
  const char *sep = strstr(full, "::");
  if (!sep)
    return oast_err_set(e, OAST_EBAD_REQUEST, "a share is accepted by its shared name \"project::dataset\", not \"%.140s\"",
                        full);
  char *owner = xstrndup(full, (size_t)(sep - full));
  const char *dsname = sep + 2;
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta,
                                         "SELECT sh.dataset_id, sh.permission FROM shares sh JOIN datasets d ON d.id = sh.dataset_id "
                                         "JOIN projects q ON q.id = d.project_id WHERE sh.project_id = ? AND q.name = ? AND d.name = ?"),
                               "iss", r->proj.id, owner, dsname);
  int64_t dsid = 0;
  char perm[16] = "";
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    dsid = sqlite3_column_int64(st, 0);
    snprintf(perm, sizeof perm, "%s", (const char *)sqlite3_column_text(st, 1));
  }
  if (st) sqlite3_reset(st);
  int rc = 0;
  if (!dsid) {
    rc = oast_err_set(e, OAST_ENOT_FOUND, "no share of \"%.140s\" to project \"%s\"", full, r->proj.name);
    goto out;
  }
  rc = meta_exec(s->meta, e, "UPDATE shares SET status = 'accepted' WHERE dataset_id = ? AND project_id = ?", "ii", dsid,
                 r->proj.id);
  if (!rc)
    resp_json(w, 200, json_pack("{s:s,s:s,s:s,s:s}", "dataset", full, "project", r->proj.name, "permission", perm,
                                "status", "accepted"));
out:
  free(owner);
  return rc;
}

static int share_revoke(struct req *r, struct resp *w, oast_err *e) {
  const char *name = req_param(r, "ds"), *target = req_param(r, "q");
  snprintf(r->audit_target, sizeof r->audit_target, "dataset:%.64s share:%.64s", name, target);
  int64_t dsid;
  int rc = own_dataset(r, name, &dsid, e);
  if (rc) return rc;
  int64_t qid = project_id_by_name(r->srv, target);
  if (qid) rc = meta_exec(r->srv->meta, e, "DELETE FROM shares WHERE dataset_id = ? AND project_id = ?", "ii", dsid, qid);
  if (rc) return rc;
  if (!qid || meta_changes(r->srv->meta) == 0)
    return oast_err_set(e, OAST_ENOT_FOUND, "dataset \"%s\" is not shared with project \"%.64s\"", name, target);
  resp_empty(w, 204);
  return 0;
}

const struct route dataset_routes[] = {
    {"GET", "/api/v1/projects/{p}/datasets", ACCESS_MEMBER, 0, "dataset.list", dataset_list, NULL},
    {"POST", "/api/v1/projects/{p}/datasets", ACCESS_MEMBER, 0, "dataset.create", dataset_create, NULL},
    {"DELETE", "/api/v1/projects/{p}/datasets/{ds}", ACCESS_OWNER, 0, "dataset.delete", dataset_delete, NULL},
    {"POST", "/api/v1/projects/{p}/datasets/{ds}/shares", ACCESS_OWNER, 0, "share.create", share_create, NULL},
    {"GET", "/api/v1/projects/{p}/datasets/{ds}/shares", ACCESS_MEMBER, 0, "share.list", share_list, NULL},
    {"DELETE", "/api/v1/projects/{p}/datasets/{ds}/shares/{q}", ACCESS_OWNER, 0, "share.revoke", share_revoke, NULL},
    {"POST", "/api/v1/projects/{p}/datasets/{ds}/accept", ACCESS_OWNER, 0, "share.accept", share_accept, NULL},
    ROUTES_END,
};
