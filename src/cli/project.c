/*
 * project.c — `oast project`: create, list, show and delete projects.
 */
#include <jansson.h>

#include "cli/command.h"

static const struct cli_col project_cols[] = {
    {"NAME", "name", CELL_TEXT},
    {"ROLE", "role", CELL_TEXT},
    {"OWNER", "owner", CELL_TEXT},
    {"CREATED", "created", CELL_TEXT},
    {"DESCRIPTION", "description", CELL_TEXT},
    {NULL, NULL, CELL_TEXT},
};

static int create(struct cli_ctx *ctx, struct cli_args *a) {
  const char *desc = cli_opt_get(a, "description");
  json_t *body = json_pack("{s:s, s:s}", "name", a->pos[0], "description", desc ? desc : "");
  json_t *out = NULL;
  int rc = cli_call(ctx, "POST", body, &out, "/projects");
  json_decref(body);
  if (rc == CLI_OK) cli_done(ctx, out, "created project %s", a->pos[0]);
  json_decref(out);
  return rc;
}

static int list(struct cli_ctx *ctx, struct cli_args *a) {
  return cli_get_items(ctx, project_cols, "/projects");
}

static int show(struct cli_ctx *ctx, struct cli_args *a) {
  return cli_get_object(ctx, project_cols, "/projects/%s", a->pos[0]);
}

static int delete(struct cli_ctx *ctx, struct cli_args *a) {
  int rc = cli_call(ctx, "DELETE", NULL, NULL, "/projects/%s", a->pos[0]);
  if (rc == CLI_OK) cli_done(ctx, NULL, "deleted project %s", a->pos[0]);
  return rc;
}

static const struct cli_opt create_opts[] = {
    {"description", 'd', "TEXT", "what the project is for"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_verb verbs[] = {
    {"create", "NAME [--description TEXT]", "Create a project; you become its data owner.",
     "Names match ^[A-Za-z][A-Za-z0-9_]{0,62}$. The datasets Resources, Logs,\n"
     "Experiments, Models, TrainingDatasets and Jupyter are created with it.\n"
     "\nExample:\n  oast project create demo --description 'churn model'\n",
     create_opts, 1, 1, 0, create},
    {"list", "", "List the projects you are a member of, with your role.", NULL, NULL, 0, 0, 0, list},
    {"show", "NAME", "Show a project.", NULL, NULL, 1, 1, 0, show},
    {"delete", "NAME", "Delete a project and all its data (data owners only).", NULL, NULL, 1, 1, 0, delete},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_noun cli_noun_project = {"project", "projects", verbs};
