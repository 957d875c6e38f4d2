/*
 * auth.h — users, passwords, API keys and tokens.
 *
 * Passwords are stored as argon2id encoded hashes. API keys ("oak_" + 64
 * hex) and tokens ("oat_" login tokens, "ott_" trial and "ojt_" job
 * tokens) are random 256-bit secrets shown once; only their SHA-256 is
 * stored, so a stolen database does not yield credentials. Tokens carry
 * an expiry, and trial/job tokens are confined to one project.
 */
#ifndef AUTH_AUTH_H
#define AUTH_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "http/http.h"
#include "oast/error.h"

struct server;

#define AUTH_KEY_PREFIX "oak_"
#define AUTH_LOGIN_PREFIX "oat_"
#define AUTH_TRIAL_PREFIX "ott_"
#define AUTH_JOB_PREFIX "ojt_"
#define AUTH_PASSWORD_MIN 8
#define AUTH_PASSWORD_MAX 256

/* argon2id; *out is a new encoded string. */
int auth_hash_password(const char *pw, char **out, oast_err *e);
bool auth_verify_password(const char *encoded, const char *pw);

/* Creates a user; password may be NULL (no password login). Returns the id in *id. */
int auth_user_create(struct server *s, const char *username, const char *password, bool admin, int64_t *id,
                     oast_err *e);
int64_t auth_user_id(struct server *s, const char *username);   /* 0 if none */

/* A new API key for user; *key is the secret (caller frees), shown once. */
int auth_key_create(struct server *s, int64_t user_id, const char *name, char **key, oast_err *e);
/*
 * A new token of kind "login" | "trial" | "job" living ttl_s seconds,
 * confined to project_id when > 0. *token is the secret (caller frees).
 */
int auth_token_create(struct server *s, int64_t user_id, const char *kind, int64_t project_id, int64_t ttl_s,
                      char **token, int64_t *expires, oast_err *e);
/* Removes expired tokens. */
void auth_tokens_sweep(struct server *s);

/* Resolves "Bearer <secret>" into p; 401 when absent, unknown or expired. */
int auth_resolve(struct server *s, const char *authorization, struct principal *p, oast_err *e);

/* Checks username/password; 401 with one message for both failure kinds. */
int auth_login(struct server *s, const char *username, const char *password, int64_t *user_id, oast_err *e);

/* The route table of users, keys and login (auth/routes.c). */
extern const struct route auth_routes[];

#endif
