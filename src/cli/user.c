/*
 * user.c — `oast user`: accounts (create, me, list) and the caller's API
 * keys (key create, key list, key delete).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "util/alloc.h"

static const struct cli_col user_cols[] = {
    {"USERNAME", "username", CELL_TEXT},
    {"ADMIN", "admin", CELL_YESNO},
    {NULL, NULL, CELL_TEXT},
};
static const struct cli_col user_list_cols[] = {
    {"USERNAME", "username", CELL_TEXT},
    {"ADMIN", "admin", CELL_YESNO},
    {"CREATED", "created", CELL_TEXT},
    {NULL, NULL, CELL_TEXT},
};

/* The new user's password: --password, else asked twice on the terminal. */
static int new_password(struct cli_ctx *ctx, struct cli_args *a, char **out) {
  oast_err e;
  *out = NULL;
  if (cli_opt_get(a, "password")) {
    *out = xstrdup(cli_opt_get(a, "password"));
    return CLI_OK;
  }
  char *again = NULL;
  if (cli_read_password("New user's password: ", out, &e) != 0) return cli_usage(ctx, "%s", e.msg);
  if (cli_read_password("Again: ", &again, &e) != 0) {
    free(*out);
    *out = NULL;
    return cli_usage(ctx, "%s", e.msg);
  }
  bool same = strcmp(*out, again) == 0;
  free(again);
  if (!same) {
    free(*out);
    *out = NULL;
    return cli_usage(ctx, "the two passwords differ");
  }
  return CLI_OK;
}

static int create(struct cli_ctx *ctx, struct cli_args *a) {
  char *password;
  int rc = new_password(ctx, a, &password);
  if (rc) return rc;
  json_t *body = json_pack("{s:s, s:s, s:b}", "username", a->pos[0], "password", password, "admin",
                           cli_flag(a, "admin"));
  json_t *out = NULL;
  rc = cli_call(ctx, "POST", body, &out, "/users");
  json_decref(body);
  free(password);
  if (rc == CLI_OK) cli_done(ctx, out, "created user %s", a->pos[0]);
  json_decref(out);
  return rc;
}

static int me(struct cli_ctx *ctx, struct cli_args *a) {
  return cli_get_object(ctx, user_cols, "/users/me");
}

static int list(struct cli_ctx *ctx, struct cli_args *a) {
  return cli_get_items(ctx, user_list_cols, "/users");
}

static int key_create(struct cli_ctx *ctx, struct cli_args *a) {
  json_t *body = json_pack("{s:s}", "name", a->pos[0]);
  json_t *out = NULL;
  int rc = cli_call(ctx, "POST", body, &out, "/users/me/api-keys");
  json_decref(body);
  if (rc == CLI_OK) {
    if (ctx->json) {
      cli_print_json(ctx, out);
    } else {
      /* The note goes to stderr so that KEY=$(oast user key create NAME) captures the key alone. */
      fprintf(ctx->err, "created API key \"%s\"; it is shown only this once:\n", a->pos[0]);
      fprintf(ctx->out, "%s\n", json_string_value(json_object_get(out, "key")));
    }
  }
  json_decref(out);
  return rc;
}

static int key_list(struct cli_ctx *ctx, struct cli_args *a) {
  static const struct cli_col cols[] = {
      {"NAME", "name", CELL_TEXT},
      {"CREATED", "created", CELL_TEXT},
      {NULL, NULL, CELL_TEXT},
  };
  return cli_get_items(ctx, cols, "/users/me/api-keys");
}

static int key_delete(struct cli_ctx *ctx, struct cli_args *a) {
  int rc = cli_call(ctx, "DELETE", NULL, NULL, "/users/me/api-keys/%s", a->pos[0]);
  if (rc == CLI_OK) cli_done(ctx, NULL, "deleted API key \"%s\"", a->pos[0]);
  return rc;
}

static const struct cli_opt create_opts[] = {
    {"password", 0, "PASSWORD", "the new user's password, 8 to 256 characters (else asked twice on the terminal)"},
    {"admin", 0, NULL, "make the user an administrator"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_verb verbs[] = {
    {"create", "NAME [--password PASSWORD] [--admin]", "Create a user (administrators only).",
     "Example:\n  oast user create alice --password 's3cret-pass'\n", create_opts, 1, 1, 0, create},
    {"me", "", "Show who the API key in use belongs to.", NULL, NULL, 0, 0, 0, me},
    {"list", "", "List the users (administrators only).", NULL, NULL, 0, 0, 0, list},
    {"key create", "NAME", "Create an API key for yourself and print it.",
     "The key is printed once, alone on stdout (the note goes to stderr), so\n"
     "  KEY=$(oast user key create ci)\n"
     "captures it. Only a hash of it is kept by the server.\n",
     NULL, 1, 1, 0, key_create},
    {"key list", "", "List your API keys (names and creation times, never the keys).", NULL, NULL, 0, 0, 0,
     key_list},
    {"key delete", "NAME", "Delete one of your API keys; it stops working at once.", NULL, NULL, 1, 1, 0,
     key_delete},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_noun cli_noun_user = {"user", "users and your API keys", verbs};
