/*
 * exp.c — `oast exp`: run, list, show, follow and stop experiments.
 *
 * `oast exp run PROJECT [search options] -- CMD ARGS` builds the same
 * POST /experiments body any client sends: --grid and --random add
 * search-space parameters (repeat them for more), --asha turns the search
 * into asynchronous successive halving, and the words after "--" are the
 * command every trial runs. A word of the command that names a local file
 * by a relative path with a '/' (./train, bin/train.py) is sent along in
 * "files" and referred to by its name, so the command works against a
 * server on another machine; other words go as they are (a project path
 * such as Resources/train.py, a program on the server's PATH). Then it
 * follows the experiment's log (every line prefixed "[trial N] ") until
 * the experiment ends and prints its best trials; the exit status is 0
 * when it finished and 1 when it failed or was stopped.
 *
 * --workers N turns the experiment into one distributed run: N worker
 * processes of CMD at once, each with its framework's variables (RANK,
 * WORLD_SIZE, MASTER_ADDR, TF_CONFIG, ...), or under --strategy mpi one
 * `mpirun -np N CMD`; the log then shows "[worker k] " lines and the
 * summary each worker's state.
 *
 * A trial reads its parameters from $OAST_PARAMS (JSON) and reports with
 * liboast (oast/trial.h) or the Python reporter.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/command.h"
#include "client/client_json.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/fs.h"

#define MAX_PARAMS 64
#define MAX_FILE_BYTES (16u << 20)
#define SHOW_TRIALS 20

/* ---- building the body ---- */

static json_t *scalar(const char *text) {
  char *end;
  errno = 0;
  long long i = strtoll(text, &end, 10);
  if (*text && !*end && !errno) return json_integer(i);
  double d = strtod(text, &end);
  if (*text && !*end && isfinite(d)) return json_real(d);
  return NULL;
}

/* --grid NAME=V1,V2,...: numbers give a discrete parameter, anything else a categorical one. */
static int add_grid(struct cli_ctx *ctx, json_t *space, const char *arg) {
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg || !eq[1]) return cli_usage(ctx, "--grid wants NAME=V1,V2,..., got \"%s\"", arg);
  char *name = xstrndup(arg, (size_t)(eq - arg)), *list = xstrdup(eq + 1), *save = NULL;
  json_t *nums = json_array(), *strs = json_array();
  bool numeric = true;
  for (char *v = strtok_r(list, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
    json_t *x = scalar(v);
    if (x) json_array_append_new(nums, x);
    else numeric = false;
    json_array_append_new(strs, json_string(v));
  }
  json_object_set_new(space, name,
                      json_pack("{s:s,s:O}", "type", numeric ? "discrete" : "categorical", "values",
                                numeric ? nums : strs));
  json_decref(nums);
  json_decref(strs);
  free(name);
  free(list);
  return CLI_OK;
}

/* --random NAME=MIN:MAX[:log]: integers when both bounds are integers. */
static int add_random(struct cli_ctx *ctx, json_t *space, const char *arg) {
  const char *eq = strchr(arg, '=');
  char *name = eq ? xstrndup(arg, (size_t)(eq - arg)) : NULL, *spec = eq ? xstrdup(eq + 1) : NULL;
  char *parts[4] = {0};
  int n = 0;
  for (char *p = spec; p && n < 4; n++) {
    parts[n] = p;
    p = strchr(p, ':');
    if (p) *p++ = '\0';
  }
  int rc = CLI_OK;
  json_t *lo = n >= 2 ? scalar(parts[0]) : NULL, *hi = n >= 2 ? scalar(parts[1]) : NULL;
  bool log = n == 3 && !strcmp(parts[2], "log");
  if (!name || !*name || !lo || !hi || (n == 3 && !log) || n > 3) {
    rc = cli_usage(ctx, "--random wants NAME=MIN:MAX or NAME=MIN:MAX:log, got \"%s\"", arg);
  } else {
    bool ints = json_is_integer(lo) && json_is_integer(hi);
    json_t *p = json_pack("{s:s,s:O,s:O}", "type", ints ? "integer" : "double", "min", lo, "max", hi);
    if (log) json_object_set_new(p, "log", json_true());
    json_object_set_new(space, name, p);
  }
  json_decref(lo);
  json_decref(hi);
  free(name);
  free(spec);
  return rc;
}

static int parse_count(struct cli_ctx *ctx, const char *opt, const char *v, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (!*v || *end || errno || x < lo || x > hi) return cli_usage(ctx, "--%s wants a number from %ld to %ld", opt, lo, hi);
  *out = x;
  return CLI_OK;
}

/* The command words: local files become "files" entries named by their base name. */
static int add_command(struct cli_ctx *ctx, json_t *body, const char *const *words, int n) {
  json_t *cmd = json_array(), *files = json_object_get(body, "files");
  for (int i = 0; i < n; i++) {
    const char *w = words[i];
    struct stat st;
    bool local = w[0] != '/' && strchr(w, '/') && stat(w, &st) == 0 && S_ISREG(st.st_mode);
    if (!local) {
      json_array_append_new(cmd, json_string(w));
      continue;
    }
    char *data = NULL;
    size_t len = 0;
    oast_err e;
    if (fs_read_all(w, MAX_FILE_BYTES, &data, &len, &e) != 0) {
      json_decref(cmd);
      return cli_fail(ctx, &e);
    }
    const char *base = strrchr(w, '/') + 1;
    if (!files) {
      files = json_object();
      json_object_set_new(body, "files", files);
    }
    char *enc = base64_encode(data, len);
    json_object_set_new(files, base, json_string(enc));
    free(enc);
    free(data);
    json_array_append_new(cmd, json_string(base));
  }
  json_object_set_new(body, "command", cmd);
  return CLI_OK;
}

/* --workers N [--strategy S] [--gpus-per-worker G] [--parameter-servers P]: one distributed run. */
static int add_distribution(struct cli_ctx *ctx, struct cli_args *a, json_t *body) {
  const char *w = cli_opt_get(a, "workers"), *st = cli_opt_get(a, "strategy"), *g = cli_opt_get(a, "gpus-per-worker"),
             *ps = cli_opt_get(a, "parameter-servers");
  if (!w) {
    if (st || g || ps) return cli_usage(ctx, "--strategy, --gpus-per-worker and --parameter-servers go with --workers N");
    return CLI_OK;
  }
  long n, gpus = 0, nps = 0;
  int rc = parse_count(ctx, "workers", w, 1, 100000, &n);
  if (rc == CLI_OK && g) rc = parse_count(ctx, "gpus-per-worker", g, 0, 256, &gpus);
  if (rc == CLI_OK && ps) rc = parse_count(ctx, "parameter-servers", ps, 1, 100000, &nps);
  if (rc != CLI_OK) return rc;
  json_t *d = json_pack("{s:i,s:s,s:i}", "workers", (int)n, "strategy", st ? st : "allreduce", "gpus_per_worker",
                        (int)gpus);
  if (ps) json_object_set_new(d, "parameter_servers", json_integer(nps));
  json_object_set_new(body, "distribution", d);
  return CLI_OK;
}

/* A name for the experiment from its command: the program's base name, letters, digits and '_' only. */
static char *default_name(const char *cmd0) {
  const char *b = strrchr(cmd0, '/');
  b = b ? b + 1 : cmd0;
  char *n = xasprintf("x%s", b);
  size_t k = 0;
  for (const char *p = n; *p && k < 60; p++)
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) n[k++] = *p;
    else if (*p == '.') break;
    else n[k++] = '_';
  n[k] = '\0';
  char *out = xstrdup(n[1] ? n + 1 : "experiment");
  if (!((out[0] >= 'A' && out[0] <= 'Z') || (out[0] >= 'a' && out[0] <= 'z'))) {
    char *o2 = xasprintf("exp_%s", out);
    free(out);
    out = o2;
  }
  free(n);
  return out;
}

/* ---- following the log ---- */

static int state_of(struct cli_ctx *ctx, const char *project, const char *id, json_t **detail) {
  oast_err e;
  char *path = cli_path("/projects/%s/experiments/%s", project, id);
  int rc = client_request_json(ctx->client, "GET", path, NULL, NULL, detail, &e);
  free(path);
  return rc ? cli_fail(ctx, &e) : CLI_OK;
}

static bool running(json_t *d) { return !strcmp(json_string_value(json_object_get(d, "state")) ?: "", "running"); }

/* Streams the log to stdout; with follow, until the experiment ends (reconnecting from where it was). */
static int follow_logs(struct cli_ctx *ctx, const char *project, const char *id, bool follow) {
  uint64_t offset = 0;
  setvbuf(ctx->out, NULL, _IOLBF, 0);
  for (int attempt = 0;; attempt++) {
    char q[96];
    snprintf(q, sizeof q, "?follow=%s&offset=%llu", follow ? "true" : "false", (unsigned long long)offset);
    char *path = cli_path("/projects/%s/experiments/%s/logs%r", project, id, q);
    uint64_t got = 0;
    oast_err e;
    int rc = oast_download(ctx->client, path, ctx->out, NULL, NULL, &got, &e);
    free(path);
    fflush(ctx->out);
    offset += got;
    if (!follow) return rc ? cli_fail(ctx, &e) : CLI_OK;
    if (rc && e.code != OAST_ECONNECT && e.code != OAST_EIO && e.code != OAST_ETIMEOUT) return cli_fail(ctx, &e);
    json_t *d = NULL;
    if (state_of(ctx, project, id, &d) != CLI_OK) {
      if (attempt > 20) return CLI_FAIL;
      sleep(1);
      continue;
    }
    bool still = running(d);
    json_decref(d);
    if (!still) {
      /* What was written after the last read, if anything. */
      follow = false;
      continue;
    }
    if (rc) sleep(1);
  }
}

/* ---- show ---- */

/* Prints a table and releases it. */
static void print_trials(struct cli_ctx *ctx, json_t *d, size_t limit) {
  static const char *const headers[] = {"TRIAL", "STATE", "METRIC", "PARAMS", "SECONDS", "NOTE"};
  struct cli_table t;
  cli_table_init(&t, 6, headers);
  json_t *trials = json_object_get(d, "trials");
  size_t i;
  json_t *tr;
  json_array_foreach(trials, i, tr) {
    if (limit && i >= limit) break;
    char *cells[6];
    cells[0] = cli_cell_text(json_object_get(tr, "number"), CELL_TEXT);
    cells[1] = cli_cell_text(json_object_get(tr, "state"), CELL_TEXT);
    cells[2] = cli_cell_text(json_object_get(tr, "metric"), CELL_TEXT);
    cells[3] = json_dumps(json_object_get(tr, "params"), CLI_JSON_SHOW);
    json_t *dur = json_object_get(tr, "duration_s");
    cells[4] = json_is_number(dur) ? xasprintf("%.2f", json_number_value(dur)) : xstrdup("-");
    json_t *err = json_object_get(tr, "error");
    json_t *rung = json_object_get(tr, "rung");
    if (json_is_string(err)) cells[5] = xstrdup(json_string_value(err));
    else if (json_integer_value(rung) > 0 || json_is_number(json_object_get(tr, "budget")))
      cells[5] = xasprintf("rung %lld, budget %g", (long long)json_integer_value(rung),
                           json_number_value(json_object_get(tr, "budget")));
    else cells[5] = xstrdup("");
    cli_table_add(&t, (const char *const *)cells);
    for (int k = 0; k < 6; k++) free(cells[k]);
  }
  cli_table_print(ctx, &t);
  if (limit && json_array_size(trials) > limit)
    fprintf(ctx->out, "... %zu more trials (oast exp show --all)\n", json_array_size(trials) - limit);
}

static void print_workers(struct cli_ctx *ctx, json_t *workers) {
  static const char *const headers[] = {"WORKER", "ROLE", "STATE", "EXIT", "GPUS"};
  struct cli_table t;
  cli_table_init(&t, 5, headers);
  size_t i;
  json_t *w;
  json_array_foreach(workers, i, w) {
    char *cells[5];
    cells[0] = cli_cell_text(json_object_get(w, "rank"), CELL_TEXT);
    cells[1] = cli_cell_text(json_object_get(w, "role"), CELL_TEXT);
    cells[2] = cli_cell_text(json_object_get(w, "state"), CELL_TEXT);
    json_t *sig = json_object_get(w, "signal");
    cells[3] = json_is_integer(sig) ? xasprintf("signal %lld", (long long)json_integer_value(sig))
                                    : cli_cell_text(json_object_get(w, "exit_code"), CELL_TEXT);
    cells[4] = cli_cell_text(json_object_get(w, "gpus"), CELL_TEXT);
    cli_table_add(&t, (const char *const *)cells);
    for (int k = 0; k < 5; k++) free(cells[k]);
  }
  cli_table_print(ctx, &t);
}

static void print_summary(struct cli_ctx *ctx, json_t *d, size_t limit) {
  json_t *best = json_object_get(d, "best");
  fprintf(ctx->out, "experiment %lld (%s): %s\n", (long long)json_integer_value(json_object_get(d, "id")),
          json_string_value(json_object_get(d, "name")), json_string_value(json_object_get(d, "state")));
  if (json_is_object(best)) {
    char *params = json_dumps(json_object_get(best, "params"), CLI_JSON_SHOW);
    char *m = cli_cell_text(json_object_get(best, "metric"), CELL_TEXT);
    fprintf(ctx->out, "best: trial %lld, %s %s, params %s\n", (long long)json_integer_value(json_object_get(best, "number")),
            json_string_value(json_object_get(d, "metric")), m, params);
    free(params);
    free(m);
  }
  json_t *msg = json_object_get(d, "message");
  if (json_is_string(msg)) fprintf(ctx->out, "message: %s\n", json_string_value(msg));
  fprintf(ctx->out, "logdir: %s\n", json_string_value(json_object_get(d, "logdir")));
  json_t *dist = json_object_get(d, "distribution");
  if (json_is_object(dist)) {
    fprintf(ctx->out, "distributed: %lld workers, strategy %s\n",
            (long long)json_integer_value(json_object_get(dist, "workers")),
            json_string_value(json_object_get(dist, "strategy")));
    if (json_is_array(json_object_get(d, "workers"))) print_workers(ctx, json_object_get(d, "workers"));
  }
  print_trials(ctx, d, limit);
}

/* ---- verbs ---- */

static int run(struct cli_ctx *ctx, struct cli_args *a) {
  const char *project = a->pos[0];
  if (a->npos < 2) return cli_usage(ctx, "the command to run goes after \"--\"");
  json_t *body = NULL, *space = NULL;
  int rc = CLI_OK;
  const char *specfile = cli_opt_get(a, "spec");
  if (specfile) {
    json_error_t je;
    body = json_load_file(specfile, 0, &je);
    if (!json_is_object(body)) {
      json_decref(body);
      fprintf(stderr, "oast: %s: not a JSON object (%s, line %d)\n", specfile, je.text, je.line);
      return CLI_FAIL;
    }
  } else {
    body = json_object();
  }
  space = json_object_get(body, "searchspace");
  if (!json_is_object(space)) {
    space = json_object();
    json_object_set_new(body, "searchspace", space);
  }
  const char *vals[MAX_PARAMS];
  int ngrid = cli_opt_all(a, "grid", vals, MAX_PARAMS);
  for (int i = 0; rc == CLI_OK && i < ngrid && i < MAX_PARAMS; i++) rc = add_grid(ctx, space, vals[i]);
  int nrand = cli_opt_all(a, "random", vals, MAX_PARAMS);
  for (int i = 0; rc == CLI_OK && i < nrand && i < MAX_PARAMS; i++) rc = add_random(ctx, space, vals[i]);
  long n;
  const char *v;
  if (rc == CLI_OK && (v = cli_opt_get(a, "asha"))) {
    /* MAX[:MIN[:ETA]] */
    double rmax = 0, rmin = 1, eta = 2;
    int k = sscanf(v, "%lf:%lf:%lf", &rmax, &rmin, &eta);
    if (k < 1 || rmax <= 0) rc = cli_usage(ctx, "--asha wants MAX_RESOURCE[:MIN_RESOURCE[:ETA]], got \"%s\"", v);
    else
      json_object_set_new(body, "optimizer",
                          json_pack("{s:s,s:f,s:f,s:i}", "name", "asha", "max_resource", rmax, "min_resource", rmin,
                                    "reduction_factor", (int)eta));
  } else if (rc == CLI_OK && (v = cli_opt_get(a, "optimizer"))) {
    json_object_set_new(body, "optimizer", json_pack("{s:s}", "name", v));
  } else if (rc == CLI_OK && !json_object_get(body, "optimizer")) {
    json_object_set_new(body, "optimizer",
                        json_pack("{s:s}", "name", nrand ? "random" : ngrid ? "grid" : "single"));
  }
  if (rc == CLI_OK && (v = cli_opt_get(a, "samples")) && (rc = parse_count(ctx, "samples", v, 1, 10000, &n)) == CLI_OK)
    json_object_set_new(body, "num_trials", json_integer(n));
  if (rc == CLI_OK && !json_object_get(body, "num_trials") &&
      (nrand || cli_opt_get(a, "asha")))
    json_object_set_new(body, "num_trials", json_integer(10));
  if (rc == CLI_OK && (v = cli_opt_get(a, "parallel")) && (rc = parse_count(ctx, "parallel", v, 1, 1000, &n)) == CLI_OK)
    json_object_set_new(body, "parallelism", json_integer(n));
  if (rc == CLI_OK && (v = cli_opt_get(a, "seed")) && (rc = parse_count(ctx, "seed", v, 0, 2147483647L, &n)) == CLI_OK)
    json_object_set_new(body, "seed", json_integer(n));
  if (rc == CLI_OK && (v = cli_opt_get(a, "metric"))) json_object_set_new(body, "metric", json_string(v));
  if (rc == CLI_OK && (v = cli_opt_get(a, "direction"))) json_object_set_new(body, "direction", json_string(v));
  if (rc == CLI_OK && (v = cli_opt_get(a, "name"))) json_object_set_new(body, "name", json_string(v));
  if (rc == CLI_OK && (v = cli_opt_get(a, "executor"))) json_object_set_new(body, "executor", json_string(v));
  if (rc == CLI_OK && (v = cli_opt_get(a, "timeout"))) {
    char *end;
    double t = strtod(v, &end);
    if (!*v || *end || !(t > 0)) rc = cli_usage(ctx, "--timeout wants a number of seconds");
    else json_object_set_new(body, "timeout_s", json_real(t));
  }
  if (rc == CLI_OK && (v = cli_opt_get(a, "early-stop"))) {
    long minimum = 10;
    const char *colon = strchr(v, ':');
    if (strncmp(v, "median", 6) || (colon && parse_count(ctx, "early-stop", colon + 1, 1, 10000, &minimum)) ||
        (!colon && v[6]))
      rc = cli_usage(ctx, "--early-stop wants median or median:MIN_TRIALS");
    else
      json_object_set_new(body, "early_stopping", json_pack("{s:s,s:i}", "policy", "median", "min_trials", (int)minimum));
  }
  long cpus = 0, gpus = 0;
  if (rc == CLI_OK && (v = cli_opt_get(a, "cpus"))) rc = parse_count(ctx, "cpus", v, 1, 4096, &cpus);
  if (rc == CLI_OK && (v = cli_opt_get(a, "gpus"))) rc = parse_count(ctx, "gpus", v, 0, 256, &gpus);
  if (rc == CLI_OK && (cpus || gpus)) {
    json_t *res = json_object();
    if (cpus) json_object_set_new(res, "cpus", json_integer(cpus));
    if (gpus) json_object_set_new(res, "gpus", json_integer(gpus));
    json_object_set_new(body, "resources", res);
  }
  if (rc == CLI_OK) rc = add_distribution(ctx, a, body);
  if (rc == CLI_OK) rc = add_command(ctx, body, a->pos + 1, a->npos - 1);
  if (rc == CLI_OK && !json_object_get(body, "name")) {
    char *name = default_name(a->pos[1]);
    json_object_set_new(body, "name", json_string(name));
    free(name);
  }
  if (json_object_size(space) == 0) json_object_del(body, "searchspace");
  json_t *out = NULL;
  if (rc == CLI_OK) rc = cli_call(ctx, "POST", body, &out, "/projects/%s/experiments", project);
  json_decref(body);
  if (rc != CLI_OK) return rc;
  char id[32];
  snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(out, "id")));
  json_decref(out);
  if (cli_flag(a, "detach")) {
    if (ctx->json) fprintf(ctx->out, "{\"id\": %s}\n", id);
    else fprintf(ctx->out, "started experiment %s; follow it with `oast exp logs %s %s -f`\n", id, project, id);
    return CLI_OK;
  }
  if (!ctx->json) fprintf(ctx->out, "started experiment %s in project %s\n", id, project);
  if (!ctx->json && (rc = follow_logs(ctx, project, id, true)) != CLI_OK) return rc;
  json_t *d = NULL;
  if (ctx->json) {
    /* Wait for the end without printing the log. */
    for (;;) {
      if ((rc = state_of(ctx, project, id, &d)) != CLI_OK) return rc;
      if (!running(d)) break;
      json_decref(d);
      sleep(1);
    }
    cli_print_json(ctx, d);
  } else {
    if ((rc = state_of(ctx, project, id, &d)) != CLI_OK) return rc;
    print_summary(ctx, d, SHOW_TRIALS);
  }
  rc = !strcmp(json_string_value(json_object_get(d, "state")) ?: "", "finished") ? CLI_OK : CLI_FAIL;
  json_decref(d);
  return rc;
}

static const struct cli_col list_cols[] = {
    {"ID", "id", CELL_TEXT},         {"NAME", "name", CELL_TEXT},       {"STATE", "state", CELL_TEXT},
    {"OPTIMIZER", "optimizer", CELL_TEXT}, {"TRIALS", "trials", CELL_TEXT}, {"BEST", "best_metric", CELL_TEXT},
    {"CREATED", "created", CELL_TEXT}, {NULL, NULL, CELL_TEXT},
};

static int list(struct cli_ctx *ctx, struct cli_args *a) {
  return cli_get_items(ctx, list_cols, "/projects/%s/experiments", a->pos[0]);
}

static int show(struct cli_ctx *ctx, struct cli_args *a) {
  json_t *d = NULL;
  int rc = state_of(ctx, a->pos[0], a->pos[1], &d);
  if (rc != CLI_OK) return rc;
  if (ctx->json) cli_print_json(ctx, d);
  else print_summary(ctx, d, cli_flag(a, "all") ? 0 : SHOW_TRIALS);
  json_decref(d);
  return CLI_OK;
}

static int logs(struct cli_ctx *ctx, struct cli_args *a) {
  return follow_logs(ctx, a->pos[0], a->pos[1], cli_flag(a, "follow"));
}

static int stop(struct cli_ctx *ctx, struct cli_args *a) {
  json_t *out = NULL;
  int rc = cli_call(ctx, "POST", NULL, &out, "/projects/%s/experiments/%s/stop", a->pos[0], a->pos[1]);
  if (rc == CLI_OK) cli_done(ctx, out, "stopping experiment %s: no new trials, running ones are killed", a->pos[1]);
  json_decref(out);
  return rc;
}

static const struct cli_opt run_opts[] = {
    {"grid", 0, "NAME=V1,V2,..", "a grid parameter (repeatable); numbers, else strings"},
    {"random", 0, "NAME=MIN:MAX[:log]", "a range sampled at random (repeatable); integers when both bounds are"},
    {"samples", 0, "N", "random configurations to try (default 10)"},
    {"asha", 0, "MAX[:MIN[:ETA]]", "successive halving: budgets MIN..MAX (trials get \"budget\"), reduction ETA (2)"},
    {"optimizer", 0, "NAME", "single, grid, random, differential_evolution, asha or ablation"},
    {"parallel", 'p', "N", "trials at once (default 1)"},
    {"metric", 'm', "NAME", "the optimization key trials report (default metric)"},
    {"direction", 0, "max|min", "whether a higher or lower metric is better (default max)"},
    {"early-stop", 0, "median[:N]", "stop trials below the median once N trials finished (default 10)"},
    {"timeout", 0, "SECONDS", "kill a trial (its whole process group) after this long"},
    {"seed", 0, "N", "seed of the optimizer, for a reproducible experiment"},
    {"cpus", 0, "N", "CPU slots per trial (default 1)"},
    {"gpus", 0, "N", "GPUs per trial (default 0)"},
    {"workers", 'w', "N", "one distributed run of N worker processes of CMD (see below)"},
    {"strategy", 0, "NAME", "with --workers: allreduce (default), parameter_server or mpi"},
    {"gpus-per-worker", 0, "G", "with --workers: GPUs of each worker (default 0)"},
    {"parameter-servers", 0, "P", "with --strategy parameter_server: ranks 1..P serve parameters (default 1)"},
    {"name", 'n', "NAME", "the experiment's name (default: the program's)"},
    {"executor", 0, "local|slurm", "where trials and workers run (default: the server's)"},
    {"spec", 0, "FILE", "start from a JSON experiment body; options add to it"},
    {"detach", 'd', NULL, "print the id and return instead of following the log"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_opt logs_opts[] = {
    {"follow", 'f', NULL, "keep printing new lines until the experiment ends"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_opt show_opts[] = {
    {"all", 'a', NULL, "every trial, not only the best 20"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_verb verbs[] = {
    {"run", "PROJECT [options] -- CMD [ARGS...]", "Run an experiment: CMD once per trial, its log live.",
     "A trial is a process on the server that reads its parameters from $OAST_PARAMS\n"
     "(JSON) and reports with liboast (oast/trial.h) or the Python reporter. A CMD word\n"
     "that is a local file given with a '/' (./train) is sent with the experiment.\n"
     "Exit status: 0 when the experiment finished, 1 when it failed or was stopped.\n"
     "\nDistributed training (--workers N): CMD runs as N workers at once, each with RANK,\n"
     "WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (torch.distributed) and TF_CONFIG\n"
     "(TensorFlow); --strategy mpi runs `mpirun -np N CMD` instead. Log lines are prefixed\n"
     "\"[worker k] \"; one failing worker stops the others and fails the run.\n"
     "\nExamples:\n"
     "  oast exp run demo --grid lr=0.1,0.01 --parallel 2 -- ./train\n"
     "  oast exp run demo --random lr=0.0001:0.1:log --samples 20 -p 4 -- python3 ./train.py\n"
     "  oast exp run demo --random x=0:1 --asha 27:1:3 --samples 27 -- ./trial_curve\n"
     "  oast exp run demo --workers 2 --strategy allreduce -- python3 ./train_ddp.py\n"
     "  oast exp run demo --workers 4 --strategy mpi -- ./allreduce_mpi\n",
     run_opts, 2, -1, 0, run},
    {"list", "PROJECT", "List the project's experiments, newest first.", NULL, NULL, 1, 1, 0, list},
    {"show", "PROJECT ID [--all]", "Show an experiment and its trials, best first.", NULL, show_opts, 2, 2, 0, show},
    {"logs", "PROJECT ID [-f]", "Print an experiment's log; -f follows it until the experiment ends.", NULL,
     logs_opts, 2, 2, 0, logs},
    {"stop", "PROJECT ID", "Stop a running experiment: no new trials, running trials are killed.", NULL, NULL, 2, 2,
     0, stop},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_noun cli_noun_exp = {"exp", "experiments: hyperparameter searches and their trials", verbs};
