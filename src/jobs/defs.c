/* defs.c — job and pipeline definitions stored and answered alike (see defs.h). */
#include "jobs/defs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authz.h"
#include "http/server.h"
#include "jobs/cron.h"
#include "jobs/service.h"
#include "meta/meta.h"
#include "util/alloc.h"

int jobs_param_id(struct req *r, const char *name, int64_t *out, oast_err *e) {
  const char *v = req_param(r, name);
  char *end;
  errno = 0;
  long long x = v ? strtoll(v, &end, 10) : 0;
  if (!v || !*v || *end || errno || x <= 0)
    return oast_err_set(e, OAST_ENOT_FOUND, "no run \"%.40s\": run ids are positive integers", v ? v : "");
  *out = x;
  return 0;
}

int jobs_query_limit(struct req *r, int64_t *limit, oast_err *e) {
  const char *v = req_query(r, "limit");
  *limit = 100;
  if (!v) return 0;
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (!*v || *end || errno || x < 1 || x > 1000)
    return oast_err_set(e, OAST_EBAD_REQUEST, "limit: must be an integer from 1 to 1000");
  *limit = x;
  return 0;
}

json_t *jobs_time(int64_t t) {
  if (!t) return json_null();
  char s[32];
  meta_time_iso(t, s);
  return json_string(s);
}

int defs_find(struct req *r, const struct def_kind *k, const char *name, int64_t *id, char **spec, oast_err *e) {
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, k->find_sql), "is", r->proj.id, name);
  bool found = st && sqlite3_step(st) == SQLITE_ROW;
  if (found) {
    *id = sqlite3_column_int64(st, 0);
    if (spec) *spec = xstrdup((const char *)sqlite3_column_text(st, 3));
  }
  if (st) sqlite3_reset(st);
  if (!found)
    return oast_err_set(e, OAST_ENOT_FOUND, "%s \"%s\" does not exist in project \"%s\"", k->noun, name, r->proj.name);
  return 0;
}

static int defs_store(struct req *r, const struct def_kind *k, const char *name, const char *spec_json,
                      const char *schedule, bool replace, int64_t *id, bool *created, oast_err *e) {
  struct server *s = r->srv;
  int64_t now = meta_now(), old = 0, old_last = 0;
  char *old_sched = NULL;
  *id = 0;
  *created = false;
  int rc = meta_begin(s->meta, e);
  if (rc) return rc;
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, k->find_sql), "is", r->proj.id, name);
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    old = sqlite3_column_int64(st, 0);
    if (sqlite3_column_text(st, 1)) old_sched = xstrdup((const char *)sqlite3_column_text(st, 1));
    old_last = sqlite3_column_int64(st, 2);
  }
  if (st) sqlite3_reset(st);
  if (old && !replace) {
    rc = oast_err_set(e, OAST_EEXISTS, "%s \"%s\" already exists in project \"%s\"", k->noun, name, r->proj.name);
  } else {
    bool same = old_sched && schedule && !strcmp(old_sched, schedule);
    st = old ? meta_bind(meta_stmt(s->meta, k->update_sql), "sis", spec_json, r->who.user_id, schedule)
             : meta_bind(meta_stmt(s->meta, k->insert_sql), "issis", r->proj.id, name, spec_json, r->who.user_id,
                         schedule);
    if (!st) {
      rc = oast_err_set(e, OAST_EINTERNAL, "cannot store the %s", k->noun);
    } else {
      int at = old ? 4 : 6; /* the watermark's parameter, then the times */
      if (schedule) sqlite3_bind_int64(st, at, same ? old_last : now);
      sqlite3_bind_int64(st, at + 1, now);
      sqlite3_bind_int64(st, at + 2, old ? old : now);
      int sr = sqlite3_step(st);
      sqlite3_reset(st);
      if (sr != SQLITE_DONE) rc = meta_error(s->meta, sr, e, old ? "updating the definition" : "storing the definition");
    }
    *id = old ? old : meta_last_id(s->meta);
    *created = !old;
  }
  if (!rc) rc = meta_commit(s->meta, e);
  if (rc) meta_rollback(s->meta);
  else if (schedule || old_sched) jobs_schedules_changed(s);
  free(old_sched);
  return rc;
}

int defs_save(struct req *r, const struct def_kind *k, const char *name, json_t *canon, const char *schedule,
              bool replace, struct resp *w, oast_err *e) {
  snprintf(r->audit_target, sizeof r->audit_target, "%s:%s", k->noun, name);
  int64_t id = 0;
  bool created = false;
  char *text = json_dumps(canon, JSON_COMPACT);
  int rc = defs_store(r, k, name, text, schedule, replace, &id, &created, e);
  free(text);
  if (rc) return rc;
  json_t *o = k->json(r->srv, id, true);
  resp_json(w, created ? 201 : 200, o ? o : json_object());
  return 0;
}

json_t *defs_base_json(struct server *s, const struct def_kind *k, int64_t id) {
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, k->base_sql), "i", id);
  if (!st || sqlite3_step(st) != SQLITE_ROW) {
    if (st) sqlite3_reset(st);
    return NULL;
  }
  json_t *o = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
  if (!o) o = json_object();
  json_object_set_new(o, "owner", json_string((const char *)sqlite3_column_text(st, 1)));
  json_object_set_new(o, "created", jobs_time(sqlite3_column_int64(st, 2)));
  json_object_set_new(o, "updated", jobs_time(sqlite3_column_int64(st, 3)));
  const char *sched = (const char *)sqlite3_column_text(st, 4);
  int64_t last = sqlite3_column_int64(st, 5);
  /* The next scheduled minute after now (or after the watermark, if a clock went back). */
  json_t *next = json_null();
  struct cron c;
  oast_err ce;
  time_t nx;
  if (sched && cron_parse(sched, &c, &ce) == 0 && cron_next(&c, (time_t)(last > meta_now() ? last : meta_now()), &nx) == 0)
    next = jobs_time((int64_t)nx);
  json_object_set_new(o, "next_run", next);
  sqlite3_reset(st);
  return o;
}

int defs_list(struct req *r, const struct def_kind *k, struct resp *w, oast_err *e) {
  int64_t *ids = NULL;
  size_t n = 0, cap = 0;
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, k->list_sql), "i", r->proj.id);
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    if (n == cap) ids = xreallocarray(ids, cap = cap ? cap * 2 : 16, sizeof *ids);
    ids[n++] = sqlite3_column_int64(st, 0);
  }
  if (st) sqlite3_reset(st);
  json_t *items = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *o = k->json(r->srv, ids[i], false);
    if (o) json_array_append_new(items, o);
  }
  free(ids);
  resp_items(w, items);
  return 0;
}

int defs_get(struct req *r, const struct def_kind *k, struct resp *w, oast_err *e) {
  int64_t id;
  const char *name = req_param(r, "name");
  int rc = defs_find(r, k, name, &id, NULL, e);
  if (rc) return rc;
  json_t *o = k->json(r->srv, id, true);
  if (!o) return oast_err_set(e, OAST_ENOT_FOUND, "%s \"%s\" does not exist", k->noun, name);
  resp_json(w, 200, o);
  return 0;
}

int defs_delete(struct req *r, const struct def_kind *k, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  const char *name = req_param(r, "name");
  int rc = authz_require(r, RIGHT_WRITE, e);
  if (rc) return rc;
  snprintf(r->audit_target, sizeof r->audit_target, "%s:%s", k->noun, name);
  if ((rc = meta_begin(s->meta, e))) return rc;
  int64_t id = 0;
  rc = defs_find(r, k, name, &id, NULL, e);
  if (!rc) {
    sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, k->active_sql), "i", id);
    int64_t active = st && sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (st) sqlite3_reset(st);
    if (active)
      rc = oast_err_set(e, OAST_ECONFLICT, "%s \"%s\" has %" PRId64 " run%s in progress; stop %s first", k->noun, name,
                        active, active == 1 ? "" : "s", active == 1 ? "it" : "them");
  }
  if (!rc) rc = meta_exec(s->meta, e, k->delete_sql, "i", id);
  if (!rc) rc = meta_commit(s->meta, e);
  if (rc) {
    meta_rollback(s->meta);
    return rc;
  }
  jobs_schedules_changed(s);
  resp_empty(w, 204);
  return 0;
}
