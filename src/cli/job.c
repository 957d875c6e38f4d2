/*
 * job.c — `oast job`: define jobs (a program in a dataset with its
 * arguments, environment, schedule, timeout and slots), run them, follow
 * their logs, stop them.
 *
 * `oast job run --follow` and `oast job logs -f` stream the log as the
 * server sends it (the server holds the answer open while the run goes on
 * and ends it when the run ends), then ask for the run's final state;
 * the command's exit status is 0 only when the run succeeded, so scripts
 * can chain on it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/jobcli.h"
#include "client/client_json.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/yaml.h"

#define SPEC_FILE_MAX ((size_t)1 << 20)
#define STOP_WAIT_MS 60000

/* ---- shared with pipeline.c (jobcli.h) ---- */

int cli_project_name(struct cli_ctx *ctx, const char *arg, const char *what, char **project, char **name) {
  oast_err e;
  if (cli_remote_parse(arg, project, name, NULL, &e) != 0) return cli_usage(ctx, "%s", e.msg);
  if (!**name || strchr(*name, '/')) {
    free(*project);
    free(*name);
    *project = *name = NULL;
    return cli_usage(ctx, "\"%s\" does not name a %s; write PROJECT/NAME", arg, what);
  }
  return CLI_OK;
}

int cli_run_id(struct cli_ctx *ctx, const char *arg, int *id) {
  char *end;
  errno = 0;
  long v = strtol(arg, &end, 10);
  if (!*arg || *end || errno || v <= 0 || v > 0x7fffffff)
    return cli_usage(ctx, "\"%s\" is not a run id (a positive number)", arg);
  *id = (int)v;
  return CLI_OK;
}

void cli_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int cli_read_spec(struct cli_ctx *ctx, const char *path, size_t max, json_t **out) {
  char *text = NULL;
  size_t len = 0;
  oast_err e;
  *out = NULL;
  if (fs_read_all(path, max, &text, &len, &e) != 0) {
    fprintf(stderr, "oast: %s: %s\n", path, e.msg);
    return CLI_FAIL;
  }
  size_t i = 0;
  while (i < len && strchr(" \t\r\n", text[i])) i++;
  int rc;
  if (i < len && text[i] == '{') {
    json_error_t je;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    rc = *out ? 0 : oast_err_set(&e, OAST_EBAD_REQUEST, "line %d, column %d: %s", je.line, je.column, je.text);
  } else {
    rc = yaml_to_json(text, len, out, &e);
  }
  free(text);
  if (rc == 0 && !json_is_object(*out)) {
    json_decref(*out);
    *out = NULL;
    rc = oast_err_set(&e, OAST_EBAD_REQUEST, "the file must hold an object (a mapping)");
  }
  if (rc) {
    fprintf(stderr, "oast: %s: %s\n", path, e.msg);
    return CLI_FAIL;
  }
  return CLI_OK;
}

int cli_run_outcome(struct cli_ctx *ctx, const char *what, json_t *run) {
  const char *state = json_string_value(json_object_get(run, "state"));
  const char *msg = json_string_value(json_object_get(run, "message"));
  if (ctx->json) cli_print_json(ctx, run);
  else
    fprintf(stderr, "oast: %s %s%s%s\n", what, state ? state : "ended", msg ? ": " : "", msg ? msg : "");
  return state && !strcmp(state, "succeeded") ? CLI_OK : CLI_FAIL;
}

/* ---- commands ---- */

static const struct cli_col job_cols[] = {
    {"NAME", "name", CELL_TEXT},       {"TYPE", "type", CELL_TEXT},          {"PROGRAM", "program", CELL_TEXT},
    {"SCHEDULE", "schedule", CELL_TEXT}, {"NEXT RUN", "next_run", CELL_TEXT}, {"OWNER", "owner", CELL_TEXT},
    {NULL, NULL, CELL_TEXT},
};

static const struct cli_col job_show_cols[] = {
    {"NAME", "name", CELL_TEXT},         {"TYPE", "type", CELL_TEXT},        {"PROGRAM", "program", CELL_TEXT},
    {"ARGS", "args", CELL_TEXT},         {"ENV", "env", CELL_TEXT},          {"SCHEDULE", "schedule", CELL_TEXT},
    {"NEXT RUN", "next_run", CELL_TEXT}, {"TIMEOUT_S", "timeout_s", CELL_TEXT}, {"CPUS", "cpus", CELL_TEXT},
    {"GPUS", "gpus", CELL_TEXT},         {"OWNER", "owner", CELL_TEXT},      {"CREATED", "created", CELL_TEXT},
    {"UPDATED", "updated", CELL_TEXT},   {NULL, NULL, CELL_TEXT},
};

static const struct cli_col run_cols[] = {
    {"ID", "id", CELL_TEXT},           {"STATE", "state", CELL_TEXT},     {"EXIT", "exit_code", CELL_TEXT},
    {"TRIGGER", "trigger", CELL_TEXT}, {"USER", "user", CELL_TEXT},       {"STARTED", "started", CELL_TEXT},
    {"SECONDS", "duration_s", CELL_TEXT}, {"MESSAGE", "message", CELL_TEXT}, {NULL, NULL, CELL_TEXT},
};

/* The positionals after the first as a JSON array of strings. */
static json_t *args_of(struct cli_args *a, int from) {
  json_t *arr = json_array();
  for (int i = from; i < a->npos; i++) json_array_append_new(arr, json_string(a->pos[i]));
  return arr;
}

/* "A=1,B=2" into an object; a usage error naming the bad item. */
static int parse_env(struct cli_ctx *ctx, const char *s, json_t *env) {
  char *copy = xstrdup(s), *save = NULL;
  int rc = CLI_OK;
  for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(item, '=');
    if (!eq || eq == item) {
      rc = cli_usage(ctx, "--env wants NAME=VALUE[,NAME=VALUE...]; \"%s\" has no NAME=", item);
      break;
    }
    *eq = '\0';
    json_object_set_new(env, item, json_string(eq + 1));
  }
  free(copy);
  return rc;
}

/* An integer option into body[field]; a usage error when malformed. */
static int int_opt(struct cli_ctx *ctx, struct cli_args *a, const char *opt, json_t *body, const char *field) {
  const char *v = cli_opt_get(a, opt);
  if (!v) return CLI_OK;
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (!*v || *end || errno) return cli_usage(ctx, "--%s wants a whole number, got \"%s\"", opt, v);
  json_object_set_new(body, field, json_integer(x));
  return CLI_OK;
}

static int create(struct cli_ctx *ctx, struct cli_args *a) {
  char *project = NULL, *name = NULL;
  int rc = cli_project_name(ctx, a->pos[0], "job", &project, &name);
  if (rc) return rc;
  json_t *body = NULL;
  const char *file = cli_opt_get(a, "file");
  if (file) {
    if ((rc = cli_read_spec(ctx, file, SPEC_FILE_MAX, &body))) goto out;
  } else {
    body = json_object();
  }
  json_object_set_new(body, "name", json_string(name));
  static const char *const strs[][2] = {{"type", "type"}, {"program", "program"}, {"schedule", "schedule"}};
  for (size_t i = 0; i < 3; i++)
    if (cli_opt_get(a, strs[i][0])) json_object_set_new(body, strs[i][1], json_string(cli_opt_get(a, strs[i][0])));
  if ((rc = int_opt(ctx, a, "timeout", body, "timeout_s")) || (rc = int_opt(ctx, a, "cpus", body, "cpus")) ||
      (rc = int_opt(ctx, a, "gpus", body, "gpus")))
    goto out;
  if (cli_opt_get(a, "env")) {
    json_t *env = json_object_get(body, "env");
    if (!json_is_object(env)) json_object_set_new(body, "env", env = json_object());
    if ((rc = parse_env(ctx, cli_opt_get(a, "env"), env))) goto out;
  }
  if (a->npos > 1) json_object_set_new(body, "args", args_of(a, 1));
  if (!json_object_get(body, "type") || !json_object_get(body, "program")) {
    rc = cli_usage(ctx, "give --type and --program (or a --file with them)");
    goto out;
  }
  json_t *resp = NULL;
  bool replace = cli_flag(a, "replace");
  rc = replace ? cli_call(ctx, "PUT", body, &resp, "/projects/%s/jobs/%s", project, name)
               : cli_call(ctx, "POST", body, &resp, "/projects/%s/jobs", project);
  if (rc == CLI_OK) cli_done(ctx, resp, "%s job %s in %s", replace ? "saved" : "created", name, project);
  json_decref(resp);
out:
  json_decref(body);
  free(project);
  free(name);
  return rc;
}

static int list(struct cli_ctx *ctx, struct cli_args *a) {
  return cli_get_items(ctx, job_cols, "/projects/%s/jobs", a->pos[0]);
}

static int show(struct cli_ctx *ctx, struct cli_args *a) {
  char *project = NULL, *name = NULL;
  int rc = cli_project_name(ctx, a->pos[0], "job", &project, &name);
  if (rc) return rc;
  json_t *job = NULL;
  rc = cli_call(ctx, "GET", NULL, &job, "/projects/%s/jobs/%s", project, name);
  if (rc == CLI_OK) {
    cli_print_object(ctx, job, job_show_cols);
    json_t *last = json_object_get(job, "last_run");
    if (!ctx->json && json_is_object(last))
      fprintf(ctx->out, "last run:  %lld %s\n", (long long)json_integer_value(json_object_get(last, "id")),
              json_string_value(json_object_get(last, "state")));
  }
  json_decref(job);
  free(project);
  free(name);
  return rc;
}

int cli_delete_def(struct cli_ctx *ctx, struct cli_args *a, const char *noun) {
  char *project = NULL, *name = NULL;
  int rc = cli_project_name(ctx, a->pos[0], noun, &project, &name);
  if (rc) return rc;
  char *path = cli_path("/projects/%s/%r/%s", project, !strcmp(noun, "job") ? "jobs" : "pipelines", name);
  rc = cli_call(ctx, "DELETE", NULL, NULL, "%r", path);
  if (rc == CLI_OK) cli_done(ctx, NULL, "deleted %s %s", noun, name);
  free(path);
  free(project);
  free(name);
  return rc;
}

int cli_list_runs(struct cli_ctx *ctx, struct cli_args *a, const char *noun, const struct cli_col *cols) {
  char *project = NULL, *name = NULL;
  int rc = cli_project_name(ctx, a->pos[0], noun, &project, &name);
  if (rc) return rc;
  const char *limit = cli_opt_get(a, "limit");
  char q[48] = "";
  if (limit) snprintf(q, sizeof q, "?limit=%.20s", limit);
  rc = cli_get_items(ctx, cols, "/projects/%s/%r/%s/runs%r", project, !strcmp(noun, "job") ? "jobs" : "pipelines",
                     name, q);
  free(project);
  free(name);
  return rc;
}

static int del(struct cli_ctx *ctx, struct cli_args *a) { return cli_delete_def(ctx, a, "job"); }

/* Streams the run's log to stdout (following it while it runs when follow is set). */
static int stream_log(struct cli_ctx *ctx, const char *project, const char *name, int id, bool follow) {
  char *path = cli_path("/projects/%s/jobs/%s/runs/%d/logs%r", project, name, id, follow ? "?follow=true" : "");
  oast_err e;
  fflush(stdout);
  setvbuf(stdout, NULL, _IOLBF, 0); /* lines appear as the job prints them, even into a pipe */
  int rc = oast_download(ctx->client, path, stdout, NULL, NULL, NULL, &e);
  free(path);
  return rc ? cli_fail(ctx, &e) : CLI_OK;
}

/* The run's final state (a follow ends when the run does; a short wait covers the last write). */
static int final_state(struct cli_ctx *ctx, const char *project, const char *name, int id, int wait_ms, json_t **out) {
  for (int waited = 0;; waited += 100) {
    json_t *run = NULL;
    int rc = cli_call(ctx, "GET", NULL, &run, "/projects/%s/jobs/%s/runs/%d", project, name, id);
    if (rc) return rc;
    const char *st = json_string_value(json_object_get(run, "state"));
    if ((st && strcmp(st, "queued") && strcmp(st, "running")) || waited >= wait_ms) {
      *out = run;
      return CLI_OK;
    }
    json_decref(run);
    cli_sleep_ms(100);
  }
}

static int run(struct cli_ctx *ctx, struct cli_args *a) {
  char *project = NULL, *name = NULL;
  int rc = cli_project_name(ctx, a->pos[0], "job", &project, &name);
  if (rc) return rc;
  json_t *body = a->npos > 1 ? json_pack("{s:o}", "args", args_of(a, 1)) : NULL;
  json_t *resp = NULL;
  rc = cli_call(ctx, "POST", body, &resp, "/projects/%s/jobs/%s/runs", project, name);
  json_decref(body);
  if (rc) goto out;
  int id = (int)json_integer_value(json_object_get(resp, "id"));
  if (!cli_flag(a, "follow")) {
    cli_done(ctx, resp, "started run %d of job %s (oast job logs %s/%s %d -f)", id, name, project, name, id);
    goto out;
  }
  if (!ctx->json) fprintf(stderr, "oast: run %d of job %s\n", id, name);
  if ((rc = stream_log(ctx, project, name, id, true))) goto out;
  json_t *final = NULL;
  if ((rc = final_state(ctx, project, name, id, 5000, &final))) goto out;
  char what[96];
  snprintf(what, sizeof what, "run %d", id);
  rc = cli_run_outcome(ctx, what, final);
  json_decref(final);
out:
  json_decref(resp);
  free(project);
  free(name);
  return rc;
}

static int runs(struct cli_ctx *ctx, struct cli_args *a) { return cli_list_runs(ctx, a, "job", run_cols); }

static int logs(struct cli_ctx *ctx, struct cli_args *a) {
  char *project = NULL, *name = NULL;
  int id;
  int rc = cli_project_name(ctx, a->pos[0], "job", &project, &name);
  if (rc) return rc;
  if (!(rc = cli_run_id(ctx, a->pos[1], &id))) rc = stream_log(ctx, project, name, id, cli_flag(a, "follow"));
  free(project);
  free(name);
  return rc;
}

static int stop(struct cli_ctx *ctx, struct cli_args *a) {
  char *project = NULL, *name = NULL;
  int id;
  int rc = cli_project_name(ctx, a->pos[0], "job", &project, &name);
  if (rc) return rc;
  if ((rc = cli_run_id(ctx, a->pos[1], &id))) goto out;
  json_t *resp = NULL;
  if ((rc = cli_call(ctx, "POST", NULL, &resp, "/projects/%s/jobs/%s/runs/%d/stop", project, name, id))) goto out;
  json_decref(resp);
  json_t *final = NULL;
  if ((rc = final_state(ctx, project, name, id, STOP_WAIT_MS, &final))) goto out;
  const char *st = json_string_value(json_object_get(final, "state"));
  cli_done(ctx, final, "run %d of job %s: %s", id, name, st ? st : "?");
  json_decref(final);
out:
  free(project);
  free(name);
  return rc;
}

static const struct cli_opt create_opts[] = {
    {"type", 't', "TYPE", "python, shell, notebook or binary"},
    {"program", 'p', "PATH", "the program, a file in a dataset: Resources/train.py"},
    {"schedule", 's', "CRON", "run on a cron schedule (5 fields, UTC): '0 3 * * *'"},
    {"timeout", 0, "SECS", "stop a run after SECS seconds (its whole process group)"},
    {"env", 'e', "NAME=VALUE,...", "environment variables of its runs"},
    {"cpus", 0, "N", "CPU slots each run takes (default 1)"},
    {"gpus", 0, "N", "GPUs each run takes (default 0)"},
    {"file", 'f', "SPEC", "start from a job definition in a JSON or YAML file"},
    {"replace", 0, NULL, "replace the job if it exists (otherwise that is an error)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt run_opts[] = {
    {"follow", 'f', NULL, "stream the log until the run ends; exit 0 only if it succeeded"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt logs_opts[] = {
    {"follow", 'f', NULL, "keep streaming while the run goes on"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt runs_opts[] = {
    {"limit", 'n', "N", "the newest N runs (default 100)"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_verb verbs[] = {
    {"create", "PROJECT/NAME --type TYPE --program PATH [options] [-- ARG...]", "Define a job.",
     "A job runs a program from one of the project's datasets: a Python script\n"
     "(python), a shell script (shell), a notebook's code cells in order\n"
     "(notebook) or an executable (binary). Arguments after the name (after --\n"
     "when they start with '-') are passed to every run. Runs act as the user\n"
     "who starts them, with that user's role in the project.\n"
     "\nExamples:\n"
     "  oast job create demo/train --type python --program Resources/train.py -- --epochs 3\n"
     "  oast job create demo/nightly --type shell --program Resources/etl.sh --schedule '0 3 * * *'\n",
     create_opts, 1, -1, 0, create},
    {"list", "PROJECT", "List the project's jobs with their schedules.", NULL, NULL, 1, 1, 0, list},
    {"show", "PROJECT/NAME", "Show a job's definition and its last run.", NULL, NULL, 1, 1, 0, show},
    {"run", "PROJECT/NAME [--follow] [-- ARG...]", "Start a run (arguments replace the job's).",
     "With --follow the log is streamed until the run ends and the exit status\n"
     "is 0 only when it succeeded.\n",
     run_opts, 1, -1, 0, run},
    {"runs", "PROJECT/NAME [--limit N]", "List a job's runs, newest first.", NULL, runs_opts, 1, 1, 0, runs},
    {"logs", "PROJECT/NAME RUN [-f]", "Print a run's log (stdout and stderr); -f follows it.", NULL, logs_opts, 2, 2, 0,
     logs},
    {"stop", "PROJECT/NAME RUN", "Stop a run (its process group gets SIGTERM, then SIGKILL) and wait for it.", NULL,
     NULL, 2, 2, 0, stop},
    {"delete", "PROJECT/NAME", "Delete a job and its run history (not while it runs).", NULL, NULL, 1, 1, 0, del},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_noun cli_noun_job = {"job", "jobs: programs run on the server, now or on a schedule", verbs};
