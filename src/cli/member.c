/*
 * member.c — `oast member`: the members of a project and their roles.
 * Roles are data_owner and data_scientist; data owners manage members.
 */
#include <jansson.h>

#include "cli/command.h"

static int add(struct cli_ctx *ctx, struct cli_args *a) {
  const char *role = cli_opt_get(a, "role");
  if (!role) role = "data_scientist";
  json_t *body = json_pack("{s:s, s:s}", "username", a->pos[1], "role", role);
  json_t *out = NULL;
  int rc = cli_call(ctx, "POST", body, &out, "/projects/%s/members", a->pos[0]);
  json_decref(body);
  if (rc == CLI_OK) cli_done(ctx, out, "added %s to %s as %s", a->pos[1], a->pos[0], role);
  json_decref(out);
  return rc;
}

static int list(struct cli_ctx *ctx, struct cli_args *a) {
  static const struct cli_col cols[] = {
      {"USERNAME", "username", CELL_TEXT},
      {"ROLE", "role", CELL_TEXT},
      {NULL, NULL, CELL_TEXT},
  };
  return cli_get_items(ctx, cols, "/projects/%s/members", a->pos[0]);
}

static int set_role(struct cli_ctx *ctx, struct cli_args *a) {
  const char *role = cli_opt_get(a, "role");
  if (!role) return cli_usage(ctx, "--role is required");
  json_t *body = json_pack("{s:s}", "role", role);
  json_t *out = NULL;
  int rc = cli_call(ctx, "PATCH", body, &out, "/projects/%s/members/%s", a->pos[0], a->pos[1]);
  json_decref(body);
  if (rc == CLI_OK) cli_done(ctx, out, "%s is now %s in %s", a->pos[1], role, a->pos[0]);
  json_decref(out);
  return rc;
}

static int remove_(struct cli_ctx *ctx, struct cli_args *a) {
  int rc = cli_call(ctx, "DELETE", NULL, NULL, "/projects/%s/members/%s", a->pos[0], a->pos[1]);
  if (rc == CLI_OK) cli_done(ctx, NULL, "removed %s from %s", a->pos[1], a->pos[0]);
  return rc;
}

static const struct cli_opt add_opts[] = {
    {"role", 'r', "ROLE", "data_owner or data_scientist (default data_scientist)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt role_opts[] = {
    {"role", 'r', "ROLE", "data_owner or data_scientist (required)"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_verb verbs[] = {
    {"add", "PROJECT USER [--role ROLE]", "Add a user to a project (data owners only).",
     "A data owner imports and exports data, manages members and shares datasets.\n"
     "A data scientist works inside the project but cannot upload or download files.\n"
     "\nExample:\n  oast member add demo bob --role data_scientist\n",
     add_opts, 2, 2, 0, add},
    {"list", "PROJECT", "List a project's members and their roles.", NULL, NULL, 1, 1, 0, list},
    {"set-role", "PROJECT USER --role ROLE", "Change a member's role (data owners only).", NULL, role_opts, 2, 2, 0,
     set_role},
    {"remove", "PROJECT USER", "Remove a member from a project (data owners only).", NULL, NULL, 2, 2, 0, remove_},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_noun cli_noun_member = {"member", "the members of a project and their roles", verbs};
