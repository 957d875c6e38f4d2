/*
 * pipeline.c — `oast pipeline`: pipeline files (YAML or JSON) stored on
 * the server, their runs, reruns from a failed task, and following a run.
 *
 * The file is read and parsed here (YAML through util/yaml.c, the same
 * parser the server uses) and sent as JSON, so a file with a syntax error
 * is refused before anything is sent, with its line and column.
 *
 * Following a run polls it twice a second. On a terminal the task table
 * is redrawn in place; otherwise (a pipe, a log file) one line is printed
 * per task that changes state, so the output is a readable history. The
 * command's exit status is 0 only when the run succeeded.
 */
#include <string.h>
#include <unistd.h>

#include "cli/jobcli.h"
#include "util/alloc.h"

#define FILE_MAX ((size_t)1 << 20)
#define POLL_MS 500

static const struct cli_col pipeline_cols[] = {
    {"NAME", "name", CELL_TEXT},         {"TASKS", "tasks", CELL_TEXT}, {"SCHEDULE", "schedule", CELL_TEXT},
    {"NEXT RUN", "next_run", CELL_TEXT}, {"OWNER", "owner", CELL_TEXT}, {"UPDATED", "updated", CELL_TEXT},
    {NULL, NULL, CELL_TEXT},
};

static const struct cli_col run_cols[] = {
    {"ID", "id", CELL_TEXT},           {"STATE", "state", CELL_TEXT},     {"TRIGGER", "trigger", CELL_TEXT},
    {"USER", "user", CELL_TEXT},       {"CREATED", "created", CELL_TEXT}, {"ENDED", "ended", CELL_TEXT},
    {"TASKS", "tasks", CELL_TEXT},     {NULL, NULL, CELL_TEXT},
};

static const struct cli_col task_cols[] = {
    {"TASK", "name", CELL_TEXT},       {"TYPE", "type", CELL_TEXT},       {"STATE", "state", CELL_TEXT},
    {"ATTEMPTS", "attempts", CELL_TEXT}, {"STARTED", "started", CELL_TEXT}, {"ENDED", "ended", CELL_TEXT},
    {"MESSAGE", "message", CELL_TEXT}, {NULL, NULL, CELL_TEXT},
};

static const struct cli_col def_cols[] = {
    {"TASK", "name", CELL_TEXT},           {"TYPE", "type", CELL_TEXT},
    {"DEPENDS ON", "depends_on", CELL_TEXT}, {"TRIGGER", "trigger_rule", CELL_TEXT},
    {"RETRIES", "retries", CELL_TEXT},     {"TIMEOUT_S", "timeout_s", CELL_TEXT},
    {NULL, NULL, CELL_TEXT},
};

/* PUT (replace) or POST the pipeline in file to project; *name gets its name. */
static int send_file(struct cli_ctx *ctx, const char *project, const char *file, bool replace, char **name,
                     json_t **resp) {
  json_t *spec = NULL;
  int rc = cli_read_spec(ctx, file, FILE_MAX, &spec);
  if (rc) return rc;
  const char *n = json_string_value(json_object_get(spec, "name"));
  if (!n) {
    json_decref(spec);
    fprintf(stderr, "oast: %s: the pipeline has no \"name\"\n", file);
    return CLI_FAIL;
  }
  *name = xstrdup(n);
  rc = replace ? cli_call(ctx, "PUT", spec, resp, "/projects/%s/pipelines/%s", project, n)
               : cli_call(ctx, "POST", spec, resp, "/projects/%s/pipelines", project);
  json_decref(spec);
  return rc;
}

static int create(struct cli_ctx *ctx, struct cli_args *a) {
  char *name = NULL;
  json_t *resp = NULL;
  bool replace = cli_flag(a, "replace");
  int rc = send_file(ctx, a->pos[0], a->pos[1], replace, &name, &resp);
  if (rc == CLI_OK)
    cli_done(ctx, resp, "%s pipeline %s in %s (%zu tasks)", replace ? "saved" : "created", name, a->pos[0],
             json_array_size(json_object_get(resp, "tasks")));
  json_decref(resp);
  free(name);
  return rc;
}

static int list(struct cli_ctx *ctx, struct cli_args *a) {
  return cli_get_items(ctx, pipeline_cols, "/projects/%s/pipelines", a->pos[0]);
}

/* Prints the tasks of a run (or of a definition) as a table. */
static void print_tasks(struct cli_ctx *ctx, json_t *tasks, const struct cli_col *cols) {
  json_t *wrap = json_pack("{s:O}", "items", tasks);
  cli_print_items(ctx, wrap, cols);
  json_decref(wrap);
}

/* ---- following a run ---- */

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

static char *render(json_t *run) {
  struct cli_ctx tmp = {0};
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  tmp.out = f;
  fprintf(f, "pipeline %s, run %lld: %s\n", json_string_value(json_object_get(run, "pipeline")),
          (long long)json_integer_value(json_object_get(run, "id")), json_string_value(json_object_get(run, "state")));
  print_tasks(&tmp, json_object_get(run, "tasks"), task_cols);
  fclose(f);
  return buf;
}

/* One line per task whose state or attempt count changed since `prev` (an object name -> "state/attempts"). */
static void print_changes(struct cli_ctx *ctx, json_t *run, json_t *prev) {
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(run, "tasks"), i, t) {
    const char *name = json_string_value(json_object_get(t, "name"));
    const char *state = json_string_value(json_object_get(t, "state"));
    long long attempts = (long long)json_integer_value(json_object_get(t, "attempts"));
    char key[96];
    snprintf(key, sizeof key, "%s/%lld", state, attempts);
    const char *was = json_string_value(json_object_get(prev, name));
    if (was && !strcmp(was, key)) continue;
    if (!was && !strcmp(state, "pending")) {
      json_object_set_new(prev, name, json_string(key));
      continue;
    }
    json_object_set_new(prev, name, json_string(key));
    const char *msg = json_string_value(json_object_get(t, "message"));
    fprintf(ctx->out, "task %s: %s", name, state);
    if (attempts > 1 || !strcmp(state, "running") || !strcmp(state, "retrying")) fprintf(ctx->out, " (attempt %lld)", attempts);
    if (msg) fprintf(ctx->out, ": %s", msg);
    fputc('\n', ctx->out);
  }
  fflush(ctx->out);
}

static int follow(struct cli_ctx *ctx, const char *project, const char *name, int id) {
  bool tty = !ctx->json && isatty(STDOUT_FILENO);
  int drawn = 0, rc;
  json_t *prev = json_object(), *run = NULL;
  for (;;) {
    json_decref(run);
    run = NULL;
    if ((rc = cli_call(ctx, "GET", NULL, &run, "/projects/%s/pipelines/%s/runs/%d", project, name, id))) break;
    const char *state = json_string_value(json_object_get(run, "state"));
    if (tty) {
      char *text = render(run);
      if (drawn) fprintf(ctx->out, "\033[%dA\033[J", drawn);
      fputs(text, ctx->out);
      fflush(ctx->out);
      drawn = count_lines(text);
      free(text);
    } else if (!ctx->json) {
      print_changes(ctx, run, prev);
    }
    if (!state || strcmp(state, "running") != 0) break;
    cli_sleep_ms(POLL_MS);
  }
  if (!rc) {
    char what[128];
    snprintf(what, sizeof what, "pipeline %s run %d", name, id);
    rc = cli_run_outcome(ctx, what, run);
  }
  json_decref(run);
  json_decref(prev);
  return rc;
}

/* Starts a run and follows it or reports it. */
static int start(struct cli_ctx *ctx, const char *project, const char *name, bool follow_it) {
  json_t *resp = NULL;
  int rc = cli_call(ctx, "POST", NULL, &resp, "/projects/%s/pipelines/%s/runs", project, name);
  if (rc) return rc;
  int id = (int)json_integer_value(json_object_get(resp, "id"));
  if (follow_it) {
    if (!ctx->json) fprintf(ctx->out, "pipeline %s, run %d\n", name, id);
    rc = follow(ctx, project, name, id);
  } else {
    cli_done(ctx, resp, "started run %d of pipeline %s (oast pipeline show %s/%s %d --follow)", id, name, project, name,
             id);
  }
  json_decref(resp);
  return rc;
}

static int run(struct cli_ctx *ctx, struct cli_args *a) {
  bool f = cli_flag(a, "follow");
  if (a->npos == 2) {
    /* PROJECT FILE: save the file's pipeline (replacing it), then run it. */
    char *name = NULL;
    json_t *resp = NULL;
    int rc = send_file(ctx, a->pos[0], a->pos[1], true, &name, &resp);
    json_decref(resp);
    if (rc == CLI_OK) rc = start(ctx, a->pos[0], name, f);
    free(name);
    return rc;
  }
  char *project = NULL, *name = NULL;
  int rc = cli_project_name(ctx, a->pos[0], "pipeline", &project, &name);
  if (rc == CLI_OK) rc = start(ctx, project, name, f);
  free(project);
  free(name);
  return rc;
}

static int show(struct cli_ctx *ctx, struct cli_args *a) {
  char *project = NULL, *name = NULL;
  int rc = cli_project_name(ctx, a->pos[0], "pipeline", &project, &name);
  if (rc) return rc;
  json_t *resp = NULL;
  if (a->npos == 2) {
    int id;
    if ((rc = cli_run_id(ctx, a->pos[1], &id))) goto out;
    if (cli_flag(a, "follow")) {
      rc = follow(ctx, project, name, id);
      goto out;
    }
    if ((rc = cli_call(ctx, "GET", NULL, &resp, "/projects/%s/pipelines/%s/runs/%d", project, name, id))) goto out;
    if (ctx->json) {
      cli_print_json(ctx, resp);
    } else {
      fprintf(ctx->out, "pipeline %s, run %d: %s\n", name, id, json_string_value(json_object_get(resp, "state")));
      print_tasks(ctx, json_object_get(resp, "tasks"), task_cols);
    }
  } else {
    if (cli_flag(a, "follow")) {
      rc = cli_usage(ctx, "--follow needs a RUN");
      goto out;
    }
    if ((rc = cli_call(ctx, "GET", NULL, &resp, "/projects/%s/pipelines/%s", project, name))) goto out;
    if (ctx->json) {
      cli_print_json(ctx, resp);
    } else {
      const char *sched = json_string_value(json_object_get(resp, "schedule"));
      const char *hook = json_string_value(json_object_get(json_object_get(resp, "notify"), "webhook"));
      fprintf(ctx->out, "pipeline %s%s%s%s%s\n", name, sched ? ", schedule " : "", sched ? sched : "",
              hook ? ", on failure POST " : "", hook ? hook : "");
      print_tasks(ctx, json_object_get(resp, "tasks"), def_cols);
    }
  }
out:
  json_decref(resp);
  free(project);
  free(name);
  return rc;
}

static int runs(struct cli_ctx *ctx, struct cli_args *a) { return cli_list_runs(ctx, a, "pipeline", run_cols); }

static int rerun(struct cli_ctx *ctx, struct cli_args *a) {
  char *project = NULL, *name = NULL;
  int id;
  int rc = cli_project_name(ctx, a->pos[0], "pipeline", &project, &name);
  if (rc) return rc;
  const char *from = cli_opt_get(a, "from");
  if ((rc = cli_run_id(ctx, a->pos[1], &id))) goto out;
  if (!from || !*from) {
    rc = cli_usage(ctx, "name the failed task to rerun from with --from TASK");
    goto out;
  }
  char *q = oast_escape(from, 0);
  char *query = xasprintf("?from=%s", q);
  free(q);
  json_t *resp = NULL;
  rc = cli_call(ctx, "POST", NULL, &resp, "/projects/%s/pipelines/%s/runs/%d/rerun%r", project, name, id, query);
  free(query);
  if (rc == CLI_OK) {
    if (cli_flag(a, "follow")) {
      if (!ctx->json) fprintf(ctx->out, "pipeline %s, run %d again from task %s\n", name, id, from);
      rc = follow(ctx, project, name, id);
    } else {
      cli_done(ctx, resp, "run %d of pipeline %s runs again from task %s", id, name, from);
    }
  }
  json_decref(resp);
out:
  free(project);
  free(name);
  return rc;
}

static int stop(struct cli_ctx *ctx, struct cli_args *a) {
  char *project = NULL, *name = NULL;
  int id;
  int rc = cli_project_name(ctx, a->pos[0], "pipeline", &project, &name);
  if (rc) return rc;
  if ((rc = cli_run_id(ctx, a->pos[1], &id))) goto out;
  json_t *resp = NULL;
  if ((rc = cli_call(ctx, "POST", NULL, &resp, "/projects/%s/pipelines/%s/runs/%d/stop", project, name, id))) goto out;
  /* Wait for the running tasks' processes to be stopped. */
  for (int waited = 0; waited < 60000; waited += 200) {
    const char *st = json_string_value(json_object_get(resp, "state"));
    if (st && strcmp(st, "running")) break;
    cli_sleep_ms(200);
    json_decref(resp);
    resp = NULL;
    if ((rc = cli_call(ctx, "GET", NULL, &resp, "/projects/%s/pipelines/%s/runs/%d", project, name, id))) goto out;
  }
  cli_done(ctx, resp, "run %d of pipeline %s: %s", id, name, json_string_value(json_object_get(resp, "state")));
  json_decref(resp);
out:
  free(project);
  free(name);
  return rc;
}

static int del(struct cli_ctx *ctx, struct cli_args *a) { return cli_delete_def(ctx, a, "pipeline"); }

static const struct cli_opt create_opts[] = {
    {"replace", 0, NULL, "replace the pipeline of that name if it exists"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt follow_opts[] = {
    {"follow", 'f', NULL, "show task states live until the run ends; exit 0 only if it succeeded"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt rerun_opts[] = {
    {"from", 0, "TASK", "the failed task to run again (with everything downstream of it)"},
    {"follow", 'f', NULL, "show task states live until the run ends"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt runs_opts[] = {
    {"limit", 'n', "N", "the newest N runs (default 100)"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_verb verbs[] = {
    {"create", "PROJECT FILE [--replace]", "Save the pipeline of a YAML or JSON file.",
     "The whole file is checked first: a cycle, an unknown dependency, a bad cron\n"
     "expression or an unknown task type is refused with the task's name.\n"
     "See docs/jobs.md for the format.\n\nExample:\n  oast pipeline create demo examples/pipeline.yaml\n",
     create_opts, 2, 2, 0, create},
    {"list", "PROJECT", "List the project's pipelines.", NULL, NULL, 1, 1, 0, list},
    {"show", "PROJECT/NAME [RUN] [--follow]", "Show a pipeline's tasks, or a run's task states.", NULL, follow_opts, 1, 2,
     0, show},
    {"run", "PROJECT/NAME | PROJECT FILE [--follow]", "Start a run (of a saved pipeline, or save FILE first).",
     "With FILE the pipeline in it is saved (replacing one of the same name) and\n"
     "run. --follow shows the task states until the run ends; the exit status\n"
     "is then 0 only when the run succeeded.\n\nExample:\n  oast pipeline run demo examples/pipeline.yaml --follow\n",
     follow_opts, 1, 2, 0, run},
    {"runs", "PROJECT/NAME [--limit N]", "List a pipeline's runs, newest first.", NULL, runs_opts, 1, 1, 0, runs},
    {"rerun", "PROJECT/NAME RUN --from TASK [--follow]", "Run a finished run again from a failed task.",
     "The task and every task downstream of it run again; tasks that succeeded\nkeep their results and do not run.\n",
     rerun_opts, 2, 2, 0, rerun},
    {"stop", "PROJECT/NAME RUN", "Stop a run: running tasks are stopped, the rest skipped.", NULL, NULL, 2, 2, 0, stop},
    {"delete", "PROJECT/NAME", "Delete a pipeline and its run history (not while it runs).", NULL, NULL, 1, 1, 0, del},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_noun cli_noun_pipeline = {"pipeline", "pipelines: tasks with dependencies, retries and schedules",
                                           verbs};
