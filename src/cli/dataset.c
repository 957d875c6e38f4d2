/*
 * dataset.c — `oast dataset`: the datasets of a project, its own and
 * those other projects shared with it (named OWNER::DATASET).
 */
#include <jansson.h>
#include <stdlib.h>

#include "cli/command.h"

/* The sharing columns are shown only when some dataset is shared. */
int cli_dataset_list(struct cli_ctx *ctx, const char *project) {
  static const struct cli_col cols[] = {
      {"NAME", "name", CELL_TEXT},
      {"DESCRIPTION", "description", CELL_TEXT},
      {NULL, NULL, CELL_TEXT},
  };
  static const struct cli_col shared_cols[] = {
      {"NAME", "name", CELL_TEXT},
      {"SHARED_FROM", "shared_from", CELL_TEXT},
      {"PERMISSION", "permission", CELL_TEXT},
      {"STATUS", "status", CELL_TEXT},
      {"DESCRIPTION", "description", CELL_TEXT},
      {NULL, NULL, CELL_TEXT},
  };
  json_t *out = NULL;
  int rc = cli_call(ctx, "GET", NULL, &out, "/projects/%s/datasets", project);
  if (rc == CLI_OK) {
    bool shared = false;
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(out, "items"), i, item) shared |= json_object_get(item, "shared_from") != NULL;
    cli_print_items(ctx, out, shared ? shared_cols : cols);
  }
  json_decref(out);
  return rc;
}

static int create(struct cli_ctx *ctx, struct cli_args *a) {
  char *p, *ds;
  int rc = cli_dataset_arg(ctx, a->pos[0], &p, &ds);
  if (rc) return rc;
  const char *desc = cli_opt_get(a, "description");
  json_t *body = json_pack("{s:s, s:s}", "name", ds, "description", desc ? desc : "");
  json_t *out = NULL;
  rc = cli_call(ctx, "POST", body, &out, "/projects/%s/datasets", p);
  json_decref(body);
  if (rc == CLI_OK) cli_done(ctx, out, "created dataset %s/%s", p, ds);
  json_decref(out);
  free(p);
  free(ds);
  return rc;
}

static int list(struct cli_ctx *ctx, struct cli_args *a) { return cli_dataset_list(ctx, a->pos[0]); }

static int delete(struct cli_ctx *ctx, struct cli_args *a) {
  char *p, *ds;
  int rc = cli_dataset_arg(ctx, a->pos[0], &p, &ds);
  if (rc) return rc;
  rc = cli_call(ctx, "DELETE", NULL, NULL, "/projects/%s/datasets/%s", p, ds);
  if (rc == CLI_OK) cli_done(ctx, NULL, "deleted dataset %s/%s", p, ds);
  free(p);
  free(ds);
  return rc;
}

static const struct cli_opt create_opts[] = {
    {"description", 'd', "TEXT", "what the dataset holds"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_verb verbs[] = {
    {"create", "PROJECT/DATASET [--description TEXT]", "Create a dataset in a project.",
     "Example:\n  oast dataset create demo/raw --description 'landing zone'\n", create_opts, 1, 1, 0, create},
    {"list", "PROJECT", "List a project's datasets, including those shared with it.",
     "A dataset shared by project q appears as q::NAME with its permission and\n"
     "whether it was accepted; accepted ones are used as PROJECT/q::NAME/PATH.\n",
     NULL, 1, 1, 0, list},
    {"delete", "PROJECT/DATASET", "Delete a dataset and its files (data owners only).", NULL, NULL, 1, 1, 0, delete},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_noun cli_noun_dataset = {"dataset", "the datasets of a project", verbs};
