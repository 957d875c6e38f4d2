/*
 * share.c — `oast share`: sharing a dataset with another project without
 * copying it. The owner's data owner creates the share, the receiving
 * project's data owner accepts it, either side's owner may list it, and
 * the owner revokes it.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"

static int create(struct cli_ctx *ctx, struct cli_args *a) {
  const char *with = cli_opt_get(a, "with");
  const char *perm = cli_opt_get(a, "permission");
  if (!with) return cli_usage(ctx, "--with PROJECT is required");
  if (!perm) perm = "read";
  char *p, *ds;
  int rc = cli_dataset_arg(ctx, a->pos[0], &p, &ds);
  if (rc) return rc;
  json_t *body = json_pack("{s:s, s:s}", "project", with, "permission", perm);
  json_t *out = NULL;
  rc = cli_call(ctx, "POST", body, &out, "/projects/%s/datasets/%s/shares", p, ds);
  json_decref(body);
  if (rc == CLI_OK)
    cli_done(ctx, out, "shared %s/%s with %s (%s); a data owner of %s accepts it with: oast share accept %s/%s::%s",
             p, ds, with, perm, with, with, p, ds);
  json_decref(out);
  free(p);
  free(ds);
  return rc;
}

static int list(struct cli_ctx *ctx, struct cli_args *a) {
  static const struct cli_col cols[] = {
      {"PROJECT", "project", CELL_TEXT},
      {"PERMISSION", "permission", CELL_TEXT},
      {"STATUS", "status", CELL_TEXT},
      {NULL, NULL, CELL_TEXT},
  };
  char *p, *ds;
  int rc = cli_dataset_arg(ctx, a->pos[0], &p, &ds);
  if (rc) return rc;
  rc = cli_get_items(ctx, cols, "/projects/%s/datasets/%s/shares", p, ds);
  free(p);
  free(ds);
  return rc;
}

static int accept(struct cli_ctx *ctx, struct cli_args *a) {
  char *q, *ds;
  int rc = cli_dataset_arg(ctx, a->pos[0], &q, &ds);
  if (rc) return rc;
  if (!strstr(ds, "::")) {
    rc = cli_usage(ctx, "\"%s\" is not a shared dataset; write PROJECT/OWNER::DATASET", a->pos[0]);
  } else {
    json_t *out = NULL;
    rc = cli_call(ctx, "POST", NULL, &out, "/projects/%s/datasets/%s/accept", q, ds);
    if (rc == CLI_OK) cli_done(ctx, out, "accepted %s in %s; its files are at %s/%s/", ds, q, q, ds);
    json_decref(out);
  }
  free(q);
  free(ds);
  return rc;
}

static int revoke(struct cli_ctx *ctx, struct cli_args *a) {
  const char *with = cli_opt_get(a, "with");
  if (!with) return cli_usage(ctx, "--with PROJECT is required");
  char *p, *ds;
  int rc = cli_dataset_arg(ctx, a->pos[0], &p, &ds);
  if (rc) return rc;
  rc = cli_call(ctx, "DELETE", NULL, NULL, "/projects/%s/datasets/%s/shares/%s", p, ds, with);
  if (rc == CLI_OK) cli_done(ctx, NULL, "revoked the share of %s/%s with %s", p, ds, with);
  free(p);
  free(ds);
  return rc;
}

static const struct cli_opt create_opts[] = {
    {"with", 'w', "PROJECT", "the project to share with (required)"},
    {"permission", 0, "PERM", "read or read_write (default read)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt revoke_opts[] = {
    {"with", 'w', "PROJECT", "the project whose share ends (required)"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_verb verbs[] = {
    {"create", "PROJECT/DATASET --with PROJECT [--permission read|read_write]",
     "Share a dataset with another project (data owners of the dataset's project).",
     "The share is pending until a data owner of the other project accepts it.\n"
     "Nothing is copied.\n"
     "\nExample:\n  oast share create demo/Resources --with analytics --permission read\n",
     create_opts, 1, 1, 0, create},
    {"list", "PROJECT/DATASET", "List the projects a dataset is shared with.", NULL, NULL, 1, 1, 0, list},
    {"accept", "PROJECT/OWNER::DATASET", "Accept a dataset shared with PROJECT (its data owners).",
     "Example:\n  oast share accept analytics/demo::Resources\n"
     "Then: oast fs ls analytics/demo::Resources\n",
     NULL, 1, 1, 0, accept},
    {"revoke", "PROJECT/DATASET --with PROJECT", "End a share (data owners of the dataset's project).", NULL,
     revoke_opts, 1, 1, 0, revoke},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_noun cli_noun_share = {"share", "sharing datasets between projects", verbs};
