/* auth.c — passwords, users, API keys, tokens and credential resolution (see auth.h). */
#include "auth/auth.h"

#include <argon2.h>
#include <string.h>

#include "auth/cache.h"
#include "http/server.h"
#include "meta/meta.h"
#include "util/alloc.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/path.h"

/* OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. */
#define PW_T_COST 2
#define PW_M_COST 19456
#define PW_LANES 1
#define PW_SALT 16
#define PW_HASH 32

int auth_hash_password(const char *pw, char **out, oast_err *e) {
  unsigned char salt[PW_SALT];
  if (crypto_random(salt, sizeof salt) != 0) return oast_err_set(e, OAST_EINTERNAL, "no randomness available");
  size_t enclen = argon2_encodedlen(PW_T_COST, PW_M_COST, PW_LANES, PW_SALT, PW_HASH, Argon2_id);
  char *enc = xmalloc(enclen);
  int rc = argon2id_hash_encoded(PW_T_COST, PW_M_COST, PW_LANES, pw, strlen(pw), salt, PW_SALT, PW_HASH, enc,
                                 enclen);
  if (rc != ARGON2_OK) {
    free(enc);
    return oast_err_set(e, OAST_EINTERNAL, "cannot hash the password: %s", argon2_error_message(rc));
  }
  *out = enc;
  return 0;
}

bool auth_verify_password(const char *encoded, const char *pw) {
  return encoded && argon2id_verify(encoded, pw, strlen(pw)) == ARGON2_OK;
}

int64_t auth_user_id(struct server *s, const char *username) {
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT id FROM users WHERE username = ?"), "s", username);
  int64_t id = 0;
  if (st && sqlite3_step(st) == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
  if (st) sqlite3_reset(st);
  return id;
}

int auth_user_create(struct server *s, const char *username, const char *password, bool admin, int64_t *id,
                     oast_err *e) {
  int rc = name_check("username", username, e);
  if (rc) return rc;
  char *hash = NULL;
  if (password) {
    size_t n = strlen(password);
    if (n < AUTH_PASSWORD_MIN || n > AUTH_PASSWORD_MAX)
      return oast_err_set(e, OAST_EBAD_REQUEST, "field \"password\" must be %d to %d characters long",
                          AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX);
    rc = auth_hash_password(password, &hash, e);
    if (rc) return rc;
  }
  if (auth_user_id(s, username)) {
    free(hash);
    return oast_err_set(e, OAST_EEXISTS, "user \"%s\" already exists", username);
  }
  rc = meta_exec(s->meta, e, "INSERT INTO users(username, pw_hash, admin, created) VALUES (?, ?, ?, ?)", "ssii",
                 username, hash, (int64_t)admin, meta_now());
  free(hash);
  if (rc == OAST_ECONFLICT) return oast_err_set(e, OAST_EEXISTS, "user \"%s\" already exists", username);
  if (rc) return rc;
  if (id) *id = meta_last_id(s->meta);
  return 0;
}

int auth_key_create(struct server *s, int64_t user_id, const char *name, char **key, oast_err *e) {
  int rc = name_check("API key name", name, e);
  if (rc) return rc;
  char *k = crypto_new_secret(AUTH_KEY_PREFIX);
  char h[65];
  crypto_sha256_hex(k, strlen(k), h);
  rc = meta_exec(s->meta, e, "INSERT INTO api_keys(user_id, name, key_hash, created) VALUES (?, ?, ?, ?)", "issi",
                 user_id, name, h, meta_now());
  if (rc) {
    free(k);
    if (rc == OAST_ECONFLICT) return oast_err_set(e, OAST_EEXISTS, "an API key named \"%s\" already exists", name);
    return rc;
  }
  *key = k;
  return 0;
}

int auth_token_create(struct server *s, int64_t user_id, const char *kind, int64_t project_id, int64_t ttl_s,
                      char **token, int64_t *expires, oast_err *e) {
  const char *prefix = !strcmp(kind, "trial") ? AUTH_TRIAL_PREFIX
                       : !strcmp(kind, "job") ? AUTH_JOB_PREFIX
                                              : AUTH_LOGIN_PREFIX;
  char *t = crypto_new_secret(prefix);
  char h[65];
  crypto_sha256_hex(t, strlen(t), h);
  int64_t now = meta_now(), exp = now + ttl_s;
  int rc = meta_exec(s->meta, e,
                     "INSERT INTO tokens(user_id, token_hash, kind, project_id, expires, created) "
                     "VALUES (?, ?, ?, ?, ?, ?)",
                     "issiii", user_id, h, kind, project_id, exp, now);
  if (rc) {
    free(t);
    return rc;
  }
  *token = t;
  if (expires) *expires = exp;
  return 0;
}

void auth_tokens_sweep(struct server *s) {
  meta_exec(s->meta, NULL, "DELETE FROM tokens WHERE expires <= ?", "i", meta_now());
}

static int unauth(oast_err *e, const char *msg) { return oast_err_set(e, OAST_EUNAUTHENTICATED, "%s", msg); }

int auth_resolve(struct server *s, const char *authorization, struct principal *p, oast_err *e) {
  memset(p, 0, sizeof *p);
  if (!authorization || !*authorization)
    return unauth(e, "authentication is required: send an API key as \"Authorization: Bearer <key>\"");
  if (strncasecmp(authorization, "Bearer ", 7) != 0)
    return unauth(e, "the Authorization header must be \"Bearer <key>\"");
  const char *secret = authorization + 7;
  while (*secret == ' ') secret++;
  size_t n = strlen(secret);
  if (n != 4 + 64) return unauth(e, "the API key or token is not valid");
  char h[65];
  crypto_sha256_hex(secret, n, h);
  int64_t cached_exp;
  if (auth_cache_principal(s, h, p, &cached_exp)) {
    if (cached_exp && cached_exp <= meta_now()) return unauth(e, "the token has expired; log in again");
    return 0;
  }
  uint64_t gen = auth_cache_gen(s);
  sqlite3_stmt *st;
  int found = 0;
  int64_t expires = 0;
  if (!strncmp(secret, AUTH_KEY_PREFIX, 4)) {
    st = meta_bind(meta_stmt(s->meta,
                             "SELECT u.id, u.username, u.admin FROM api_keys k JOIN users u ON u.id = k.user_id "
                             "WHERE k.key_hash = ?"),
                   "s", h);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
      found = 1;
      p->user_id = sqlite3_column_int64(st, 0);
      snprintf(p->username, sizeof p->username, "%s", (const char *)sqlite3_column_text(st, 1));
      p->admin = sqlite3_column_int(st, 2) != 0;
      snprintf(p->token_kind, sizeof p->token_kind, "api_key");
    }
    if (st) sqlite3_reset(st);
  } else {
    st = meta_bind(meta_stmt(s->meta,
                             "SELECT u.id, u.username, u.admin, t.kind, t.project_id, t.expires FROM tokens t "
                             "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?"),
                   "s", h);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
      if (sqlite3_column_int64(st, 5) > meta_now()) {
        found = 1;
        expires = sqlite3_column_int64(st, 5);
        p->user_id = sqlite3_column_int64(st, 0);
        snprintf(p->username, sizeof p->username, "%s", (const char *)sqlite3_column_text(st, 1));
        p->admin = sqlite3_column_int(st, 2) != 0;
        snprintf(p->token_kind, sizeof p->token_kind, "%s", (const char *)sqlite3_column_text(st, 3));
        p->only_project = sqlite3_column_int64(st, 4);
        /* Trial and job tokens act with the user's role but never as admin. */
        if (strcmp(p->token_kind, "login") != 0) p->admin = false;
      } else {
        sqlite3_reset(st);
        return unauth(e, "the token has expired; log in again");
      }
    }
    if (st) sqlite3_reset(st);
  }
  if (!found) return unauth(e, "the API key or token is not valid");
  auth_cache_put_principal(s, gen, h, p, expires);
  return 0;
}

int auth_login(struct server *s, const char *username, const char *password, int64_t *user_id, oast_err *e) {
  sqlite3_stmt *st =
      meta_bind(meta_stmt(s->meta, "SELECT id, pw_hash FROM users WHERE username = ?"), "s", username);
  int64_t id = 0;
  char *hash = NULL;
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    id = sqlite3_column_int64(st, 0);
    const unsigned char *hp = sqlite3_column_text(st, 1);
    if (hp) hash = xstrdup((const char *)hp);
  }
  if (st) sqlite3_reset(st);
  bool ok;
  if (hash) {
    ok = id && auth_verify_password(hash, password);
  } else {
    /* Spend the same time for an unknown user, so a login does not reveal which names exist. */
    char *dummy = NULL;
    if (auth_hash_password(password, &dummy, NULL) == 0) free(dummy);
    ok = false;
  }
  free(hash);
  if (!ok) return oast_err_set(e, OAST_EUNAUTHENTICATED, "wrong username or password");
  *user_id = id;
  return 0;
}
