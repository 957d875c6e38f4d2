/* routes.c — users, login and API keys (the "Server and users" part of API.md). */
#include <string.h>

#include "auth/auth.h"
#include "http/server.h"
#include "meta/meta.h"
#include "util/json.h"

static int user_create(struct req *r, struct resp *w, oast_err *e) {
  json_t *b;
  int rc = req_json(r, &b, e);
  if (rc) return rc;
  const char *name = NULL, *pw = NULL;
  bool admin = false;
  static const char *const allowed[] = {"username", "password", "admin", NULL};
  if (!(rc = json_only_fields(b, allowed, e)) && !(rc = json_get_str(b, "username", true, &name, e)) &&
      !(rc = json_get_str(b, "password", true, &pw, e)) && !(rc = json_get_bool(b, "admin", false, &admin, e))) {
    snprintf(r->audit_target, sizeof r->audit_target, "user:%s", name);
    rc = auth_user_create(r->srv, name, pw, admin, NULL, e);
    if (!rc) resp_json(w, 201, json_pack("{s:s,s:b}", "username", name, "admin", admin));
  }
  json_decref(b);
  return rc;
}

static int user_list(struct req *r, struct resp *w, oast_err *e) {
  json_t *items = json_array();
  sqlite3_stmt *st = meta_stmt(r->srv->meta, "SELECT username, admin, created FROM users ORDER BY username");
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    char t[32];
    meta_time_iso(sqlite3_column_int64(st, 2), t);
    json_array_append_new(items, json_pack("{s:s,s:b,s:s}", "username", (const char *)sqlite3_column_text(st, 0),
                                           "admin", sqlite3_column_int(st, 1), "created", t));
  }
  if (st) sqlite3_reset(st);
  resp_items(w, items);
  return 0;
}

static int user_me(struct req *r, struct resp *w, oast_err *e) {
  resp_json(w, 200, json_pack("{s:s,s:b}", "username", r->who.username, "admin", r->who.admin));
  return 0;
}

static int login(struct req *r, struct resp *w, oast_err *e) {
  json_t *b;
  int rc = req_json(r, &b, e);
  if (rc) return rc;
  const char *name = NULL, *pw = NULL;
  if (!(rc = json_get_str(b, "username", true, &name, e)) && !(rc = json_get_str(b, "password", true, &pw, e))) {
    snprintf(r->audit_target, sizeof r->audit_target, "user:%.200s", name);
    int64_t uid;
    rc = auth_login(r->srv, name, pw, &uid, e);
    if (rc) r->denied = true;
    char *tok = NULL;
    int64_t exp = 0;
    if (!rc) rc = auth_token_create(r->srv, uid, "login", 0, r->srv->cfg.login_ttl_s, &tok, &exp, e);
    if (!rc) {
      char t[32];
      meta_time_iso(exp, t);
      snprintf(r->who.username, sizeof r->who.username, "%s", name);
      resp_json(w, 200, json_pack("{s:s,s:s}", "token", tok, "expires", t));
      free(tok);
    }
  }
  json_decref(b);
  return rc;
}

static int key_create(struct req *r, struct resp *w, oast_err *e) {
  json_t *b;
  int rc = req_json(r, &b, e);
  if (rc) return rc;
  const char *name = NULL;
  if (!(rc = json_get_str(b, "name", true, &name, e))) {
    snprintf(r->audit_target, sizeof r->audit_target, "api_key:%s", name);
    char *key = NULL;
    rc = auth_key_create(r->srv, r->who.user_id, name, &key, e);
    if (!rc) {
      resp_json(w, 201, json_pack("{s:s,s:s}", "name", name, "key", key));
      free(key);
    }
  }
  json_decref(b);
  return rc;
}

static int key_list(struct req *r, struct resp *w, oast_err *e) {
  json_t *items = json_array();
  sqlite3_stmt *st = meta_bind(
      meta_stmt(r->srv->meta, "SELECT name, created FROM api_keys WHERE user_id = ? ORDER BY name"), "i",
      r->who.user_id);
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    char t[32];
    meta_time_iso(sqlite3_column_int64(st, 1), t);
    json_array_append_new(items, json_pack("{s:s,s:s}", "name", (const char *)sqlite3_column_text(st, 0), "created", t));
  }
  if (st) sqlite3_reset(st);
  resp_items(w, items);
  return 0;
}

static int key_delete(struct req *r, struct resp *w, oast_err *e) {
  const char *name = req_param(r, "name");
  snprintf(r->audit_target, sizeof r->audit_target, "api_key:%.200s", name);
  int rc = meta_exec(r->srv->meta, e, "DELETE FROM api_keys WHERE user_id = ? AND name = ?", "is", r->who.user_id, name);
  if (rc) return rc;
  if (meta_changes(r->srv->meta) == 0) return oast_err_set(e, OAST_ENOT_FOUND, "API key \"%.200s\" not found", name);
  resp_empty(w, 204);
  return 0;
}

const struct route auth_routes[] = {
    {"POST", "/api/v1/users", ACCESS_ADMIN, 0, "user.create", user_create, NULL},
    {"GET", "/api/v1/users", ACCESS_ADMIN, 0, "user.list", user_list, NULL},
    {"GET", "/api/v1/users/me", ACCESS_USER, ROUTE_ANY_TOKEN, "user.me", user_me, NULL},
    {"POST", "/api/v1/auth/login", ACCESS_OPEN, 0, "auth.login", login, NULL},
    {"POST", "/api/v1/users/me/api-keys", ACCESS_USER, 0, "api_key.create", key_create, NULL},
    {"GET", "/api/v1/users/me/api-keys", ACCESS_USER, 0, "api_key.list", key_list, NULL},
    {"DELETE", "/api/v1/users/me/api-keys/{name}", ACCESS_USER, 0, "api_key.delete", key_delete, NULL},
    ROUTES_END,
};
