/*
 * audit.c — `oast audit [PROJECT]`: who did what in a project (data
 * owners) or on the whole server (administrators), newest first, refused
 * attempts included.
 */
#include <jansson.h>
#include <stdlib.h>

#include "cli/command.h"

static int run(struct cli_ctx *ctx, struct cli_args *a) {
  static const struct cli_col cols[] = {
      {"TIME", "time", CELL_TEXT},
      {"USER", "user", CELL_TEXT},
      {"OUTCOME", "outcome", CELL_TEXT},
      {"ACTION", "action", CELL_TEXT},
      {"TARGET", "target", CELL_TEXT},
      {NULL, NULL, CELL_TEXT},
  };
  const char *limit = cli_opt_get(a, "limit");
  char *end = NULL;
  long n = limit ? strtol(limit, &end, 10) : 100;
  if (limit && (*end || end == limit || n < 1 || n > 1000))
    return cli_usage(ctx, "--limit must be a number from 1 to 1000, not \"%s\"", limit);
  if (a->npos) return cli_get_items(ctx, cols, "/projects/%s/audit?limit=%d", a->pos[0], (int)n);
  return cli_get_items(ctx, cols, "/audit?limit=%d", (int)n);
}

static const struct cli_opt opts[] = {
    {"limit", 'n', "N", "show the N newest entries (1 to 1000, default 100)"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_verb verbs[] = {
    {NULL, "[PROJECT] [--limit N]", "Show a project's audit log, newest first (data owners only).",
     "Every change and every refused attempt is recorded with its time, user,\n"
     "action (project.create, file.put, member.add, ...), target and outcome\n"
     "(ok, denied or error). Without PROJECT, the whole server's log\n"
     "(administrators only).\n"
     "\nExample:\n  oast audit demo --limit 20\n",
     opts, 0, 1, 0, run},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_noun cli_noun_audit = {"audit", "a project's audit log", verbs};
