/*
 * jobcli.h — what `oast job` (job.c) and `oast pipeline` (pipeline.c)
 * share: PROJECT/NAME arguments, run ids, waiting and file reading.
 */
#ifndef CLI_JOBCLI_H
#define CLI_JOBCLI_H

#include <jansson.h>

#include "cli/command.h"

/* Splits PROJECT/NAME into allocated parts; a usage error (printed, CLI_USAGE) when it is not that. */
int cli_project_name(struct cli_ctx *ctx, const char *arg, const char *what, char **project, char **name);
/* A run id argument; a usage error when it is not a positive integer. */
int cli_run_id(struct cli_ctx *ctx, const char *arg, int *id);
/* Sleeps ms milliseconds. */
void cli_sleep_ms(int ms);
/* Reads a local file of at most max bytes as JSON or YAML into *out; prints the error (CLI_FAIL/CLI_USAGE). */
int cli_read_spec(struct cli_ctx *ctx, const char *path, size_t max, json_t **out);
/* `oast job|pipeline delete PROJECT/NAME` and `... runs PROJECT/NAME [--limit N]` (noun "job" or "pipeline"). */
int cli_delete_def(struct cli_ctx *ctx, struct cli_args *a, const char *noun);
int cli_list_runs(struct cli_ctx *ctx, struct cli_args *a, const char *noun, const struct cli_col *cols);
/* Writes a run's end as one line to stderr (people) and returns its exit status: 0 when it succeeded. */
int cli_run_outcome(struct cli_ctx *ctx, const char *what, json_t *run);

#endif
