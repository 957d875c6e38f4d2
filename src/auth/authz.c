/* authz.c — the role/right matrix and project/dataset resolution (see authz.h). */
#include "auth/authz.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "auth/cache.h"
#include "http/server.h"
#include "meta/meta.h"

static const struct {
  const char *role;
  bool rights[4]; /* read, write, data_io, manage */
} matrix[] = {
    {"data_owner", {true, true, true, true}},
    {"data_scientist", {true, true, false, false}},
};

static const char *const right_names[] = {"read", "write", "upload or download data", "manage the project"};

const char *authz_right_name(enum right r) { return right_names[r]; }

bool authz_role_allows(const char *role, enum right r) {
  for (size_t i = 0; i < sizeof matrix / sizeof matrix[0]; i++)
    if (role && strcmp(matrix[i].role, role) == 0) return matrix[i].rights[r];
  return false;
}

int authz_deny(struct req *r, oast_err *e, int code, const char *fmt, ...) {
  r->denied = true;
  if (!e) return code;
  e->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  return code;
}

int authz_project(struct req *r, const char *name, struct project_ref *out, oast_err *e) {
  struct server *s = r->srv;
  memset(out, 0, sizeof *out);
  if (auth_cache_project(s, r->who.user_id, name, out)) goto decide;
  {
  uint64_t gen = auth_cache_gen(s);
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta,
                                         "SELECT p.id, m.role FROM projects p LEFT JOIN members m "
                                         "ON m.project_id = p.id AND m.user_id = ? WHERE p.name = ?"),
                               "is", r->who.user_id, name);
  int64_t id = 0;
  char role[24] = "";
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    id = sqlite3_column_int64(st, 0);
    const unsigned char *rl = sqlite3_column_text(st, 1);
    if (rl) snprintf(role, sizeof role, "%s", (const char *)rl);
  }
  if (st) sqlite3_reset(st);
  /* The project id is kept even for a refusal, so the owner's audit shows the attempt. */
  out->id = id;
  snprintf(out->name, sizeof out->name, "%s", name);
  snprintf(out->role, sizeof out->role, "%s", role);
  if (strlen(name) < sizeof out->name) auth_cache_put_project(s, gen, r->who.user_id, out);
  }
decide:
  if (!out->id || !out->role[0] || (r->who.only_project && r->who.only_project != out->id)) {
    out->role[0] = '\0';
    return authz_deny(r, e, OAST_ENOT_FOUND, "project \"%.64s\" not found", name);
  }
  return 0;
}

int authz_require(struct req *r, enum right right, oast_err *e) {
  if (authz_role_allows(r->proj.role, right)) return 0;
  return authz_deny(r, e, OAST_EFORBIDDEN, "your role in project \"%s\" (%s) does not allow you to %s",
                    r->proj.name, r->proj.role, authz_right_name(right));
}

int authz_dataset(struct req *r, const char *ds, enum right right, struct dataset_ref *out, oast_err *e) {
  struct server *s = r->srv;
  memset(out, 0, sizeof *out);
  const char *sep = strstr(ds, "::");
  if (!sep) {
    if (auth_cache_dataset(s, r->proj.id, ds, out)) return authz_require(r, right, e);
    uint64_t gen = auth_cache_gen(s);
    sqlite3_stmt *st = meta_bind(
        meta_stmt(s->meta, "SELECT id, builtin FROM datasets WHERE project_id = ? AND name = ?"), "is",
        r->proj.id, ds);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
      out->id = sqlite3_column_int64(st, 0);
      out->builtin = sqlite3_column_int(st, 1) != 0;
    }
    if (st) sqlite3_reset(st);
    if (!out->id) return oast_err_set(e, OAST_ENOT_FOUND, "dataset \"%.64s\" not found in project \"%s\"", ds, r->proj.name);
    out->owner_project_id = r->proj.id;
    snprintf(out->owner_project, sizeof out->owner_project, "%s", r->proj.name);
    snprintf(out->name, sizeof out->name, "%s", ds);
    if (strlen(ds) < sizeof out->name) auth_cache_put_dataset(s, gen, r->proj.id, out);
    return authz_require(r, right, e);
  }
  /* "q::name": a dataset of project q shared with this project. */
  size_t qlen = (size_t)(sep - ds);
  if (qlen == 0 || qlen >= sizeof out->owner_project || strlen(sep + 2) >= sizeof out->name)
    return oast_err_set(e, OAST_ENOT_FOUND, "dataset \"%.140s\" not found", ds);
  memcpy(out->owner_project, ds, qlen);
  out->owner_project[qlen] = '\0';
  snprintf(out->name, sizeof out->name, "%s", sep + 2);
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta,
                                         "SELECT d.id, d.project_id, sh.permission, sh.status FROM datasets d "
                                         "JOIN projects q ON q.id = d.project_id "
                                         "JOIN shares sh ON sh.dataset_id = d.id AND sh.project_id = ? "
                                         "WHERE q.name = ? AND d.name = ?"),
                               "iss", r->proj.id, out->owner_project, out->name);
  char status[16] = "";
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    out->id = sqlite3_column_int64(st, 0);
    out->owner_project_id = sqlite3_column_int64(st, 1);
    snprintf(out->permission, sizeof out->permission, "%s", (const char *)sqlite3_column_text(st, 2));
    snprintf(status, sizeof status, "%s", (const char *)sqlite3_column_text(st, 3));
  }
  if (st) sqlite3_reset(st);
  out->shared = true;
  if (!out->id) return authz_deny(r, e, OAST_ENOT_FOUND, "dataset \"%.140s\" is not shared with project \"%s\"", ds, r->proj.name);
  if (strcmp(status, "accepted") != 0)
    return authz_deny(r, e, OAST_EFORBIDDEN,
                      "the share of \"%.140s\" has not been accepted yet; a data owner of \"%s\" must accept it", ds,
                      r->proj.name);
  int rc = authz_require(r, right == RIGHT_DATA_IO ? RIGHT_READ : right, e);
  if (rc) return rc;
  if (right == RIGHT_WRITE && strcmp(out->permission, "read_write") != 0)
    return authz_deny(r, e, OAST_EFORBIDDEN, "dataset \"%.140s\" is shared read-only with project \"%s\"", ds,
                      r->proj.name);
  if (right == RIGHT_DATA_IO) {
    /* Raw bytes of a shared dataset leave only through its owning project's data owners. */
    sqlite3_stmt *m = meta_bind(
        meta_stmt(s->meta, "SELECT role FROM members WHERE project_id = ? AND user_id = ?"), "ii",
        out->owner_project_id, r->who.user_id);
    bool owner = false;
    if (m && sqlite3_step(m) == SQLITE_ROW) owner = !strcmp((const char *)sqlite3_column_text(m, 0), "data_owner");
    if (m) sqlite3_reset(m);
    if (!owner || (r->who.only_project && r->who.only_project != out->owner_project_id))
      return authz_deny(r, e, OAST_EFORBIDDEN,
                        "only data owners of project \"%s\" may upload or download the files of its dataset \"%s\"",
                        out->owner_project, out->name);
  }
  return 0;
}
