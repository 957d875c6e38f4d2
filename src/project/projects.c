/*
 * projects.c — projects and their members.
 *
 * A project's rows (project, creator membership, built-in datasets) and
 * its directories are created together: the directories are made inside
 * the open transaction and the transaction commits only if they all
 * exist, so a failure leaves neither. Deleting moves the directory into
 * <home>/fs/.trash first (one rename), commits, then removes the trash;
 * a crash in between leaves trash that the next start clears.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "http/router.h"
#include "http/server.h"
#include "meta/meta.h"
#include "project/project.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"
#include "util/path.h"

const char *const project_builtin_datasets[] = {"Resources", "Logs", "Experiments", "Models",
                                                "TrainingDatasets", "Jupyter", NULL};

static char *trash_dir(struct server *s) { return xasprintf("%s/fs/.trash", s->cfg.home); }

static json_t *project_json(struct server *s, int64_t id, const char *role) {
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta,
                                         "SELECT p.name, p.description, p.created, u.username FROM projects p "
                                         "JOIN users u ON u.id = p.owner_id WHERE p.id = ?"),
                               "i", id);
  json_t *j = NULL;
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    char t[32];
    meta_time_iso(sqlite3_column_int64(st, 2), t);
    j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", (const char *)sqlite3_column_text(st, 0), "description",
                  (const char *)sqlite3_column_text(st, 1), "created", t, "owner",
                  (const char *)sqlite3_column_text(st, 3), "role", role);
  }
  if (st) sqlite3_reset(st);
  return j ? j : json_object();
}

static int make_dirs(struct server *s, const char *name, oast_err *e) {
  char *dir = server_project_dir(s, name);
  int rc = 0;
  if (fs_exists(dir)) {
    /* Left over from a crash between mkdir and commit: no row owns it. */
    char *trash = trash_dir(s);
    fs_mkdirs(trash, 0700, NULL);
    char *to = xasprintf("%s/%s-orphan-%lld", trash, name, (long long)meta_now());
    if (rename(dir, to) != 0) rc = oast_err_set(e, OAST_EIO, "cannot clear the stale directory of project %s", name);
    free(to);
    free(trash);
  }
  for (int i = 0; !rc && project_builtin_datasets[i]; i++) {
    char *d = xasprintf("%s/%s", dir, project_builtin_datasets[i]);
    rc = fs_mkdirs(d, 0700, e);
    free(d);
  }
  if (!rc) {
    char *d = xasprintf("%s/%s_featurestore.db", dir, name);
    rc = fs_mkdirs(d, 0700, e);
    free(d);
  }
  if (!rc) {
    fs_fsync_dir(dir);
    fs_fsync_dir(s->fs_root);
  }
  free(dir);
  return rc;
}

static int project_create(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  json_t *b;
  int rc = req_json(r, &b, e);
  if (rc) return rc;
  const char *name = NULL, *desc = "";
  static const char *const allowed[] = {"name", "description", NULL};
  if ((rc = json_only_fields(b, allowed, e)) || (rc = json_get_str(b, "name", true, &name, e)) ||
      (rc = json_get_str(b, "description", false, &desc, e)) || (rc = name_check("project name", name, e)))
    goto out;
  snprintf(r->audit_target, sizeof r->audit_target, "project:%s", name);
  if (strlen(desc) > 4096) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"description\" is longer than 4096 characters");
    goto out;
  }
  if ((rc = meta_begin(s->meta, e))) goto out;
  rc = meta_exec(s->meta, e, "INSERT INTO projects(name, description, owner_id, created) VALUES (?, ?, ?, ?)",
                 "ssii", name, desc, r->who.user_id, meta_now());
  if (rc == OAST_ECONFLICT) rc = oast_err_set(e, OAST_EEXISTS, "project \"%s\" already exists", name);
  int64_t id = rc ? 0 : meta_last_id(s->meta);
  if (!rc)
    rc = meta_exec(s->meta, e, "INSERT INTO members(project_id, user_id, role, added) VALUES (?, ?, 'data_owner', ?)",
                   "iii", id, r->who.user_id, meta_now());
  for (int i = 0; !rc && project_builtin_datasets[i]; i++)
    rc = meta_exec(s->meta, e,
                   "INSERT INTO datasets(project_id, name, description, builtin, created) VALUES (?, ?, ?, 1, ?)",
                   "issi", id, project_builtin_datasets[i], "", meta_now());
  if (!rc) {
    char *fsname = xasprintf("%s_featurestore.db", name);
    rc = meta_exec(s->meta, e,
                   "INSERT INTO datasets(project_id, name, description, builtin, created) VALUES (?, ?, ?, 1, ?)",
                   "issi", id, fsname, "feature store data", meta_now());
    free(fsname);
  }
  if (!rc) rc = make_dirs(s, name, e);
  if (!rc) rc = meta_commit(s->meta, e);
  if (rc) {
    meta_rollback(s->meta);
    goto out;
  }
  r->proj.id = id;
  resp_json(w, 201, project_json(s, id, "data_owner"));
out:
  json_decref(b);
  return rc;
}

static int project_list(struct req *r, struct resp *w, oast_err *e) {
  json_t *items = json_array();
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta,
                                         "SELECT p.name, p.description, p.created, u.username, m.role "
                                         "FROM members m JOIN projects p ON p.id = m.project_id "
                                         "JOIN users u ON u.id = p.owner_id WHERE m.user_id = ? "
                                         "AND (? = 0 OR p.id = ?) ORDER BY p.name"),
                               "iii", r->who.user_id, r->who.only_project, r->who.only_project);
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    char t[32];
    meta_time_iso(sqlite3_column_int64(st, 2), t);
    json_array_append_new(items, json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", (const char *)sqlite3_column_text(st, 0),
                                           "description", (const char *)sqlite3_column_text(st, 1), "created", t,
                                           "owner", (const char *)sqlite3_column_text(st, 3), "role",
                                           (const char *)sqlite3_column_text(st, 4)));
  }
  if (st) sqlite3_reset(st);
  resp_items(w, items);
  return 0;
}

static int project_get(struct req *r, struct resp *w, oast_err *e) {
  resp_json(w, 200, project_json(r->srv, r->proj.id, r->proj.role));
  return 0;
}

static int project_delete(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  snprintf(r->audit_target, sizeof r->audit_target, "project:%s", r->proj.name);
  char *dir = server_project_dir(s, r->proj.name);
  int rc = project_delete_with_dir(s, "DELETE FROM projects WHERE id = ?", r->proj.id, dir, "project", e);
  free(dir);
  if (!rc) server_project_deleted(s, r->proj.id);
  if (!rc) resp_empty(w, 204);
  return rc;
}

/* ---- members ---- */

static int check_role(const char *role, oast_err *e) {
  if (role && (!strcmp(role, "data_owner") || !strcmp(role, "data_scientist"))) return 0;
  return oast_err_set(e, OAST_EBAD_REQUEST, "field \"role\" must be \"data_owner\" or \"data_scientist\", got \"%.64s\"",
                      role ? role : "");
}

static int member_add(struct req *r, struct resp *w, oast_err *e) {
  json_t *b;
  int rc = req_json(r, &b, e);
  if (rc) return rc;
  const char *user = NULL, *role = NULL;
  static const char *const allowed[] = {"username", "role", NULL};
  if ((rc = json_only_fields(b, allowed, e)) || (rc = json_get_str(b, "username", true, &user, e)) ||
      (rc = json_get_str(b, "role", true, &role, e)) || (rc = check_role(role, e)))
    goto out;
  snprintf(r->audit_target, sizeof r->audit_target, "member:%.64s", user);
  int64_t uid = auth_user_id(r->srv, user);
  if (!uid) {
    rc = oast_err_set(e, OAST_ENOT_FOUND, "user \"%.64s\" not found", user);
    goto out;
  }
  rc = meta_exec(r->srv->meta, e, "INSERT INTO members(project_id, user_id, role, added) VALUES (?, ?, ?, ?)", "iisi",
                 r->proj.id, uid, role, meta_now());
  if (rc == OAST_ECONFLICT)
    rc = oast_err_set(e, OAST_EEXISTS, "user \"%s\" is already a member of project \"%s\"", user, r->proj.name);
  if (!rc) resp_json(w, 201, json_pack("{s:s,s:s}", "username", user, "role", role));
out:
  json_decref(b);
  return rc;
}

static int member_list(struct req *r, struct resp *w, oast_err *e) {
  json_t *items = json_array();
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta,
                                         "SELECT u.username, m.role FROM members m JOIN users u ON u.id = m.user_id "
                                         "WHERE m.project_id = ? ORDER BY u.username"),
                               "i", r->proj.id);
  while (st && sqlite3_step(st) == SQLITE_ROW)
    json_array_append_new(items, json_pack("{s:s,s:s}", "username", (const char *)sqlite3_column_text(st, 0), "role",
                                           (const char *)sqlite3_column_text(st, 1)));
  if (st) sqlite3_reset(st);
  resp_items(w, items);
  return 0;
}

/* The member's user id, or a 404. */
static int member_id(struct req *r, const char *user, int64_t *uid, oast_err *e) {
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta,
                                         "SELECT u.id FROM members m JOIN users u ON u.id = m.user_id "
                                         "WHERE m.project_id = ? AND u.username = ?"),
                               "is", r->proj.id, user);
  *uid = 0;
  if (st && sqlite3_step(st) == SQLITE_ROW) *uid = sqlite3_column_int64(st, 0);
  if (st) sqlite3_reset(st);
  if (!*uid)
    return oast_err_set(e, OAST_ENOT_FOUND, "user \"%.64s\" is not a member of project \"%s\"", user, r->proj.name);
  return 0;
}

/* Inside a transaction: refuses a change that leaves the project without a data owner. */
static int keep_an_owner(struct req *r, oast_err *e) {
  sqlite3_stmt *st = meta_bind(
      meta_stmt(r->srv->meta, "SELECT count(*) FROM members WHERE project_id = ? AND role = 'data_owner'"), "i",
      r->proj.id);
  int64_t n = 0;
  if (st && sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
  if (st) sqlite3_reset(st);
  if (n == 0)
    return oast_err_set(e, OAST_ECONFLICT, "project \"%s\" must keep at least one data owner", r->proj.name);
  return 0;
}

static int member_update(struct req *r, struct resp *w, oast_err *e) {
  const char *user = req_param(r, "user");
  snprintf(r->audit_target, sizeof r->audit_target, "member:%.64s", user);
  json_t *b;
  int rc = req_json(r, &b, e);
  if (rc) return rc;
  const char *role = NULL;
  static const char *const allowed[] = {"role", NULL};
  int64_t uid;
  if ((rc = json_only_fields(b, allowed, e)) || (rc = json_get_str(b, "role", true, &role, e)) ||
      (rc = check_role(role, e)) || (rc = member_id(r, user, &uid, e)))
    goto out;
  if ((rc = meta_begin(r->srv->meta, e))) goto out;
  rc = meta_exec(r->srv->meta, e, "UPDATE members SET role = ? WHERE project_id = ? AND user_id = ?", "sii", role,
                 r->proj.id, uid);
  if (!rc) rc = keep_an_owner(r, e);
  if (!rc) rc = meta_commit(r->srv->meta, e);
  if (rc) meta_rollback(r->srv->meta);
  else resp_json(w, 200, json_pack("{s:s,s:s}", "username", user, "role", role));
out:
  json_decref(b);
  return rc;
}

static int member_remove(struct req *r, struct resp *w, oast_err *e) {
  const char *user = req_param(r, "user");
  snprintf(r->audit_target, sizeof r->audit_target, "member:%.64s", user);
  int64_t uid;
  int rc = member_id(r, user, &uid, e);
  if (rc) return rc;
  if ((rc = meta_begin(r->srv->meta, e))) return rc;
  rc = meta_exec(r->srv->meta, e, "DELETE FROM members WHERE project_id = ? AND user_id = ?", "ii", r->proj.id, uid);
  if (!rc) rc = keep_an_owner(r, e);
  if (!rc) rc = meta_commit(r->srv->meta, e);
  if (rc) {
    meta_rollback(r->srv->meta);
    return rc;
  }
  resp_empty(w, 204);
  return 0;
}

/* ---- audit ---- */

int audit_list(struct req *r, struct resp *w, int64_t project_id, oast_err *e) {
  int64_t limit = 100;
  const char *l = req_query(r, "limit");
  if (l) {
    char *end;
    limit = strtoll(l, &end, 10);
    if (*end || limit < 1 || limit > 1000)
      return oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"limit\" must be an integer from 1 to 1000");
  }
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta,
                                         "SELECT time, user, action, target, outcome, status FROM audit "
                                         "WHERE (? = 0 OR project_id = ?) ORDER BY id DESC LIMIT ?"),
                               "iii", project_id, project_id, limit);
  json_t *items = json_array();
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    char t[32];
    meta_time_iso(sqlite3_column_int64(st, 0), t);
    json_array_append_new(items, json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "time", t, "user",
                                           (const char *)sqlite3_column_text(st, 1), "action",
                                           (const char *)sqlite3_column_text(st, 2), "target",
                                           (const char *)sqlite3_column_text(st, 3), "outcome",
                                           (const char *)sqlite3_column_text(st, 4), "status",
                                           sqlite3_column_int(st, 5)));
  }
  if (st) sqlite3_reset(st);
  resp_items(w, items);
  return 0;
}

static int project_audit(struct req *r, struct resp *w, oast_err *e) { return audit_list(r, w, r->proj.id, e); }

const struct route project_routes[] = {
    {"POST", "/api/v1/projects", ACCESS_USER, 0, "project.create", project_create, NULL},
    {"GET", "/api/v1/projects", ACCESS_USER, ROUTE_ANY_TOKEN, "project.list", project_list, NULL},
    {"GET", "/api/v1/projects/{p}", ACCESS_MEMBER, 0, "project.get", project_get, NULL},
    {"DELETE", "/api/v1/projects/{p}", ACCESS_OWNER, 0, "project.delete", project_delete, NULL},
    {"POST", "/api/v1/projects/{p}/members", ACCESS_OWNER, 0, "member.add", member_add, NULL},
    {"GET", "/api/v1/projects/{p}/members", ACCESS_MEMBER, 0, "member.list", member_list, NULL},
    {"PATCH", "/api/v1/projects/{p}/members/{user}", ACCESS_OWNER, 0, "member.update", member_update, NULL},
    {"DELETE", "/api/v1/projects/{p}/members/{user}", ACCESS_OWNER, 0, "member.remove", member_remove, NULL},
    {"GET", "/api/v1/projects/{p}/audit", ACCESS_OWNER, 0, "audit.list", project_audit, NULL},
    ROUTES_END,
};
