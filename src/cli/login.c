/*
 * login.c — `oast login`: store the server's address and an API key in
 * the config file, so later commands need neither flags nor environment.
 *
 * With --user the password is exchanged for a login token
 * (POST /auth/login) and the token for a named API key
 * (POST /users/me/api-keys). The long-lived key is what is stored, not the
 * password and not the token, which expires: a stolen config file can be
 * revoked with `oast user key delete` without changing the password.
 * With --key an existing key is checked (GET /users/me) and stored.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/command.h"
#include "util/alloc.h"

/* cli_<host>_<time>: a default key name that says where and when it was made. */
static char *default_key_name(void) {
  char host[64] = "";
  gethostname(host, sizeof host - 1);
  host[40] = '\0';
  for (char *p = host; *p; p++)
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))) *p = '_';
  return xasprintf("cli_%s%s%lld", host, *host ? "_" : "", (long long)time(NULL));
}

static int store(struct cli_ctx *ctx, const char *user, const char *key, const char *key_name) {
  oast_err e;
  if (cli_config_write(ctx->cfg.path, oast_client_addr(ctx->client), key, &e)) return cli_fail(ctx, &e);
  json_t *j = json_pack("{s:s, s:s, s:s?, s:s}", "addr", oast_client_addr(ctx->client), "username", user,
                        "key_name", key_name, "config", ctx->cfg.path);
  cli_done(ctx, j, "logged in to %s as %s; key stored in %s", oast_client_addr(ctx->client), user, ctx->cfg.path);
  json_decref(j);
  return CLI_OK;
}

static int with_password(struct cli_ctx *ctx, struct cli_args *a, const char *user) {
  oast_err e;
  char *password = NULL, *name = NULL;
  json_t *tok = NULL, *made = NULL;
  int rc;
  if (cli_opt_get(a, "password")) password = xstrdup(cli_opt_get(a, "password"));
  else if (getenv("OAST_PASSWORD")) password = xstrdup(getenv("OAST_PASSWORD"));
  else if (cli_read_password("Password: ", &password, &e) != 0) return cli_usage(ctx, "%s", e.msg);

  oast_client_set_key(ctx->client, NULL);
  ctx->cfg.key_from = NULL; /* errors from here on are not about a configured key */
  json_t *body = json_pack("{s:s, s:s}", "username", user, "password", password);
  rc = cli_call(ctx, "POST", body, &tok, "/auth/login");
  json_decref(body);
  if (rc) goto out;
  const char *token = json_string_value(json_object_get(tok, "token"));
  if (!token) {
    oast_err_set(&e, OAST_EINTERNAL, "the server's login answer has no token");
    rc = cli_fail(ctx, &e);
    goto out;
  }
  oast_client_set_key(ctx->client, token);
  name = cli_opt_get(a, "name") ? xstrdup(cli_opt_get(a, "name")) : default_key_name();
  body = json_pack("{s:s}", "name", name);
  rc = cli_call(ctx, "POST", body, &made, "/users/me/api-keys");
  json_decref(body);
  if (rc) goto out;
  const char *key = json_string_value(json_object_get(made, "key"));
  if (!key) {
    oast_err_set(&e, OAST_EINTERNAL, "the server's answer has no API key");
    rc = cli_fail(ctx, &e);
    goto out;
  }
  rc = store(ctx, user, key, name);
out:
  if (password) explicit_bzero(password, strlen(password));
  free(password);
  free(name);
  json_decref(tok);
  json_decref(made);
  return rc;
}

static int with_key(struct cli_ctx *ctx) {
  json_t *me = NULL;
  int rc = cli_call(ctx, "GET", NULL, &me, "/users/me");
  if (rc) return rc;
  const char *user = json_string_value(json_object_get(me, "username"));
  rc = store(ctx, user ? user : "?", ctx->cfg.key, NULL);
  json_decref(me);
  return rc;
}

static int run(struct cli_ctx *ctx, struct cli_args *a) {
  const char *user = cli_opt_get(a, "user");
  bool key_flag = ctx->cfg.key_from && strcmp(ctx->cfg.key_from, "--key") == 0;
  if (!ctx->cfg.path)
    return cli_usage(ctx, "neither OAST_CONFIG nor HOME is set, so there is nowhere to store the login");
  if (user && key_flag) return cli_usage(ctx, "give --user or --key, not both");
  if (user) return with_password(ctx, a, user);
  if (key_flag) return with_key(ctx);
  return cli_usage(ctx, "pass --user NAME to log in with a password, or --key KEY to store an API key");
}

static const struct cli_opt opts[] = {
    {"user", 'u', "NAME", "log in as NAME with a password"},
    {"password", 0, "PASSWORD", "the password (else OAST_PASSWORD, else asked on the terminal)"},
    {"name", 0, "KEYNAME", "the name of the API key login creates (default cli_HOST_TIME)"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_verb verbs[] = {
    {NULL, "[--addr URL] (--user NAME [--password PASSWORD] | --key KEY)",
     "Store the server's address and an API key in the config file.",
     "With --user, logs in with the password (from --password, OAST_PASSWORD or asked\n"
     "on the terminal without echo), creates an API key for this machine and stores it.\n"
     "With --key, checks the key and stores it. The file is $OAST_CONFIG, else\n"
     "~/.config/oast/config.json, written with mode 0600. The address stored is the\n"
     "one in use: --addr, else OAST_ADDR, else the file's, else " OAST_DEFAULT_ADDR ".\n"
     "\n"
     "Examples:\n"
     "  oast login --addr http://127.0.0.1:7070 --user alice\n"
     "  oast login --addr http://127.0.0.1:7070 --key \"$(cat ~/.oast/admin.key)\"\n",
     opts, 0, 0, CLI_NEEDS_NO_KEY, run},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_noun cli_noun_login = {"login", "store the server address and an API key for later commands", verbs};
