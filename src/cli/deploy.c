/*
 * deploy.c — `oast deploy`: deployments of registered models. Create
 * (or, with --update, move an existing one to the model's newest
 * version), list, show, start (waiting until it serves, unless
 * --wait 0), stop, update (another model version, instances, batching,
 * logging, timeout), scale, delete, show the logs, and send a prediction.
 *
 * predict goes through the project's inference route
 * (/api/v1/projects/P/inference/models/NAME:verb), the same TF Serving
 * call as /v1/models/NAME:verb, and prints the server's JSON answer.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/command.h"
#include "client/client_json.h"
#include "util/alloc.h"
#include "util/fs.h"

/* How long `deploy start` waits for a deployment to serve, by default. */
#define START_WAIT_S 120

static const struct cli_col dep_cols[] = {
    {"NAME", "name", CELL_TEXT},
    {"STATE", "state", CELL_TEXT},
    {"MODEL", "model", CELL_TEXT},
    {"VERSION", "model_version", CELL_TEXT},
    {"PREDICTOR", "predictor", CELL_TEXT},
    {"INSTANCES", "instances", CELL_TEXT},
    {"ERROR", "error", CELL_TEXT},
    {NULL, NULL, CELL_TEXT},
};

static int int_opt(struct cli_ctx *ctx, struct cli_args *a, const char *name, long lo, long hi, json_t *obj,
                   const char *field) {
  const char *v = cli_opt_get(a, name);
  if (!v) return CLI_OK;
  char *end;
  long x = strtol(v, &end, 10);
  if (!*v || *end || x < lo || x > hi) return cli_usage(ctx, "--%s wants a number from %ld to %ld", name, lo, hi);
  json_object_set_new(obj, field, json_integer(x));
  return CLI_OK;
}

/* The newest version of model `model` in the project, or 0 (with the error shown). */
static long newest_version(struct cli_ctx *ctx, const char *project, const char *model) {
  json_t *out = NULL;
  if (cli_call(ctx, "GET", NULL, &out, "/projects/%s/models?name=%s", project, model) != CLI_OK) return 0;
  long v = 0;
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(out, "items"), i, m) {
    long x = (long)json_integer_value(json_object_get(m, "version"));
    if (x > v) v = x;
  }
  json_decref(out);
  if (!v) fprintf(ctx->err, "oast: project %s has no model \"%s\"\n", project, model);
  return v;
}

/* PATCH a deployment with body and report it. */
static int patch(struct cli_ctx *ctx, struct cli_args *a, json_t *body, const char *done) {
  json_t *out = NULL;
  int rc = cli_call(ctx, "PATCH", body, &out, "/projects/%s/deployments/%s", a->pos[0], a->pos[1]);
  if (rc == CLI_OK) {
    const char *model = json_string_value(json_object_get(out, "model")),
               *state = json_string_value(json_object_get(out, "state"));
    cli_done(ctx, out, "%s %s: model %s version %lld, %s", done, a->pos[1], model ? model : "?",
             (long long)json_integer_value(json_object_get(out, "model_version")), state ? state : "?");
  }
  json_decref(out);
  return rc;
}

/*
 * create --update on a name that exists: the deployment must serve the
 * same model; it moves to --version or the newest version (a running one
 * switches without dropping requests). *absent when the name does not exist.
 */
static int update_existing(struct cli_ctx *ctx, struct cli_args *a, const char *model, json_t *body, bool *absent) {
  char *path = cli_path("/projects/%s/deployments/%s", a->pos[0], a->pos[1]);
  json_t *cur = NULL;
  oast_err e;
  int rc = client_request_json(ctx->client, "GET", path, NULL, NULL, &cur, &e);
  free(path);
  *absent = rc == OAST_ENOT_FOUND;
  if (*absent) return CLI_OK;
  if (rc) return cli_fail(ctx, &e);
  const char *has = json_string_value(json_object_get(cur, "model"));
  if (!has || strcmp(has, model)) {
    fprintf(ctx->err, "oast: deployment %s serves model \"%s\", not \"%s\"; delete it or choose another name\n",
            a->pos[1], has ? has : "?", model);
    json_decref(cur);
    return CLI_FAIL;
  }
  json_decref(cur);
  json_t *v = json_object_get(body, "model_version");
  long version = v ? (long)json_integer_value(v) : newest_version(ctx, a->pos[0], model);
  if (!version) return CLI_FAIL;
  json_t *pb = json_pack("{s:I}", "model_version", (json_int_t)version);
  rc = patch(ctx, a, pb, "updated deployment");
  json_decref(pb);
  return rc;
}

static int create(struct cli_ctx *ctx, struct cli_args *a) {
  const char *model = cli_opt_get(a, "model"), *pred = cli_opt_get(a, "predictor"),
             *script = cli_opt_get(a, "script"), *mfile = cli_opt_get(a, "model-file"),
             *tr = cli_opt_get(a, "transformer"), *logging = cli_opt_get(a, "logging");
  if (!model) return cli_usage(ctx, "--model is required");
  json_t *body = json_pack("{s:s,s:s,s:{s:s}}", "name", a->pos[1], "model", model, "predictor", "type",
                           pred ? pred : "python");
  json_t *p = json_object_get(body, "predictor");
  if (script) json_object_set_new(p, "script", json_string(script));
  if (mfile) json_object_set_new(p, "model_file", json_string(mfile));
  if (tr) json_object_set_new(body, "transformer", json_pack("{s:s}", "script", tr));
  if (logging) json_object_set_new(body, "inference_logging", json_string(logging));
  int rc = CLI_OK;
  json_t *batching = json_object();
  if ((rc = int_opt(ctx, a, "version", 1, 1000000, body, "model_version")) ||
      (rc = int_opt(ctx, a, "instances", 1, 64, body, "instances")) ||
      (rc = int_opt(ctx, a, "timeout", 10, 3600000, body, "timeout_ms")) ||
      (rc = int_opt(ctx, a, "batch-size", 1, 100000, batching, "max_batch_size")) ||
      (rc = int_opt(ctx, a, "batch-latency", 0, 60000, batching, "max_latency_ms")))
    goto out;
  if (json_object_size(batching)) json_object_set(body, "batching", batching);
  bool absent = true;
  if (cli_flag(a, "update") && ((rc = update_existing(ctx, a, model, body, &absent)) != CLI_OK || !absent)) goto out;
  json_t *out = NULL;
  rc = cli_call(ctx, "POST", body, &out, "/projects/%s/deployments", a->pos[0]);
  if (rc == CLI_OK) cli_done(ctx, out, "created deployment %s (stopped; start it with `oast deploy start %s %s`)",
                             a->pos[1], a->pos[0], a->pos[1]);
  json_decref(out);
out:
  json_decref(batching);
  json_decref(body);
  return rc;
}

static int list(struct cli_ctx *ctx, struct cli_args *a) {
  return cli_get_items(ctx, dep_cols, "/projects/%s/deployments", a->pos[0]);
}

static int show(struct cli_ctx *ctx, struct cli_args *a) {
  return cli_get_object(ctx, dep_cols, "/projects/%s/deployments/%s", a->pos[0], a->pos[1]);
}

static int start(struct cli_ctx *ctx, struct cli_args *a) {
  json_t *out = NULL;
  int rc = cli_call(ctx, "POST", NULL, &out, "/projects/%s/deployments/%s/start", a->pos[0], a->pos[1]);
  if (rc != CLI_OK) return rc;
  const char *wait = cli_opt_get(a, "wait");
  long secs = START_WAIT_S;
  if (wait) {
    char *end;
    secs = strtol(wait, &end, 10);
    if (!*wait || *end || secs < 0 || secs > 86400) {
      json_decref(out);
      return cli_usage(ctx, "--wait wants seconds from 0 to 86400");
    }
  }
  time_t deadline = time(NULL) + secs;
  for (;;) {
    const char *state = json_string_value(json_object_get(out, "state"));
    if (!state || strcmp(state, "starting") || time(NULL) >= deadline) break;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    json_decref(out);
    out = NULL;
    if ((rc = cli_call(ctx, "GET", NULL, &out, "/projects/%s/deployments/%s", a->pos[0], a->pos[1])) != CLI_OK)
      return rc;
  }
  const char *state = json_string_value(json_object_get(out, "state"));
  if (state && !strcmp(state, "failed")) {
    fprintf(ctx->err, "oast: deployment %s failed to start: %s\n", a->pos[1],
            json_string_value(json_object_get(out, "error")) ? json_string_value(json_object_get(out, "error")) : "?");
    rc = CLI_FAIL;
  } else {
    cli_done(ctx, out, "deployment %s is %s", a->pos[1], state ? state : "?");
  }
  json_decref(out);
  return rc;
}

static int simple(struct cli_ctx *ctx, struct cli_args *a, const char *method, const char *verb, json_t *body,
                  const char *done) {
  json_t *out = NULL;
  int rc = verb ? cli_call(ctx, method, body, &out, "/projects/%s/deployments/%s/%s", a->pos[0], a->pos[1], verb)
                : cli_call(ctx, method, body, &out, "/projects/%s/deployments/%s", a->pos[0], a->pos[1]);
  if (rc == CLI_OK) cli_done(ctx, out, "%s %s", done, a->pos[1]);
  json_decref(out);
  return rc;
}

static int stop(struct cli_ctx *ctx, struct cli_args *a) { return simple(ctx, a, "POST", "stop", NULL, "stopped"); }

static int delete_(struct cli_ctx *ctx, struct cli_args *a) { return simple(ctx, a, "DELETE", NULL, NULL, "deleted"); }

static int update(struct cli_ctx *ctx, struct cli_args *a) {
  const char *ver = cli_opt_get(a, "version"), *logging = cli_opt_get(a, "logging");
  json_t *body = json_object(), *batching = json_object();
  int rc = CLI_OK;
  if (ver && !strcmp(ver, "latest")) {
    json_t *cur = NULL;
    if ((rc = cli_call(ctx, "GET", NULL, &cur, "/projects/%s/deployments/%s", a->pos[0], a->pos[1])) != CLI_OK) goto out;
    const char *model = json_string_value(json_object_get(cur, "model"));
    long v = model ? newest_version(ctx, a->pos[0], model) : 0;
    json_decref(cur);
    if (!v) {
      rc = CLI_FAIL;
      goto out;
    }
    json_object_set_new(body, "model_version", json_integer(v));
  } else if ((rc = int_opt(ctx, a, "version", 1, 1000000, body, "model_version"))) {
    goto out;
  }
  if (logging) json_object_set_new(body, "inference_logging", json_string(logging));
  if (cli_flag(a, "no-batching")) json_object_set_new(body, "batching", json_null());
  if ((rc = int_opt(ctx, a, "instances", 1, 64, body, "instances")) ||
      (rc = int_opt(ctx, a, "timeout", 10, 3600000, body, "timeout_ms")) ||
      (rc = int_opt(ctx, a, "batch-size", 1, 100000, batching, "max_batch_size")) ||
      (rc = int_opt(ctx, a, "batch-latency", 0, 60000, batching, "max_latency_ms")))
    goto out;
  if (json_object_size(batching)) json_object_set(body, "batching", batching);
  if (!json_object_size(body)) {
    rc = cli_usage(ctx, "nothing to change: give --version, --instances, --timeout, --logging or batching options");
    goto out;
  }
  rc = patch(ctx, a, body, "updated deployment");
out:
  json_decref(batching);
  json_decref(body);
  return rc;
}

static int scale(struct cli_ctx *ctx, struct cli_args *a) {
  char *end;
  long n = strtol(a->pos[2], &end, 10);
  if (!*a->pos[2] || *end || n < 1 || n > 64) return cli_usage(ctx, "INSTANCES must be a number from 1 to 64");
  json_t *body = json_pack("{s:i}", "instances", (int)n);
  int rc = simple(ctx, a, "PATCH", NULL, body, "scaled");
  json_decref(body);
  return rc;
}

static int logs(struct cli_ctx *ctx, struct cli_args *a) {
  const char *lines = cli_opt_get(a, "lines");
  char *path = cli_path("/projects/%s/deployments/%s/logs?kind=%s&lines=%s", a->pos[0], a->pos[1],
                        cli_flag(a, "inference") ? "inference" : "predictor", lines ? lines : "200");
  char *text = NULL;
  size_t len = 0;
  oast_err e;
  int rc = oast_get_text(ctx->client, path, (size_t)64 << 20, &text, &len, &e);
  free(path);
  if (rc) return cli_fail(ctx, &e);
  fwrite(text, 1, len, ctx->out);
  free(text);
  return CLI_OK;
}

static int predict(struct cli_ctx *ctx, struct cli_args *a) {
  const char *inst = cli_opt_get(a, "instances"), *bodytext = cli_opt_get(a, "body"), *file = cli_opt_get(a, "file"),
             *verb = cli_opt_get(a, "verb");
  if (!!inst + !!bodytext + !!file != 1) return cli_usage(ctx, "give one of --instances, --body or --file");
  if (verb && strcmp(verb, "predict") && strcmp(verb, "classify") && strcmp(verb, "regress"))
    return cli_usage(ctx, "--verb is predict, classify or regress");
  char *text = NULL;
  if (file) {
    oast_err e;
    size_t n;
    if (fs_read_all(file, (size_t)64 << 20, &text, &n, &e)) return cli_fail(ctx, &e);
  }
  json_error_t je;
  json_t *v = json_loads(inst ? inst : bodytext ? bodytext : text, 0, &je);
  free(text);
  if (!v) return cli_usage(ctx, "not valid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
  json_t *body = inst ? json_pack("{s:o}", "instances", v) : v;
  json_t *out = NULL;
  char *name = xasprintf("%s:%s", a->pos[1], verb ? verb : "predict");
  int rc = cli_call(ctx, "POST", body, &out, "/projects/%s/inference/models/%s", a->pos[0], name);
  free(name);
  json_decref(body);
  if (rc == CLI_OK) cli_print_json(ctx, out);
  json_decref(out);
  return rc;
}

static const struct cli_opt create_opts[] = {
    {"model", 'm', "NAME", "the registered model to serve (required)"},
    {"version", 'v', "N", "its version (default: the newest)"},
    {"predictor", 'p', "TYPE", "xgboost (in the server) or python (default)"},
    {"script", 's', "PATH", "python: the predictor script's project path (default: predictor.py of the model, "
                            "or the built-in one of sklearn models)"},
    {"model-file", 0, "FILE", "xgboost: the model file in the version (default: model.json, model.ubj, ...)"},
    {"instances", 'n', "N", "worker instances (default 1)"},
    {"batch-size", 0, "N", "batch up to N instances per prediction"},
    {"batch-latency", 0, "MS", "wait at most MS milliseconds to fill a batch (default 5)"},
    {"logging", 'l', "MODE", "inference logging: all, predictions, model_inputs or none (default)"},
    {"transformer", 't', "PATH", "a transformer script (preprocess/postprocess)"},
    {"timeout", 0, "MS", "a prediction's time limit; a worker over it is restarted (default 30000)"},
    {"update", 'u', NULL, "when NAME exists (serving the same model), move it to --version or the newest version "
                          "instead of failing"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt update_opts[] = {
    {"version", 'v', "N|latest", "serve another version of the model; a running deployment switches once the new "
                                 "version is ready, without dropping requests"},
    {"instances", 'n', "N", "worker instances"},
    {"timeout", 0, "MS", "a prediction's time limit"},
    {"logging", 'l', "MODE", "inference logging: all, predictions, model_inputs or none"},
    {"batch-size", 0, "N", "batch up to N instances per prediction"},
    {"batch-latency", 0, "MS", "wait at most MS milliseconds to fill a batch"},
    {"no-batching", 0, NULL, "turn batching off"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt start_opts[] = {
    {"wait", 'w', "SECS", "how long to wait until it serves (default 120; 0 returns at once)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt logs_opts[] = {
    {"inference", 'i', NULL, "the inference log (JSON lines) instead of the predictor's log"},
    {"lines", 'n', "N", "how many of the last lines (default 200)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt predict_opts[] = {
    {"instances", 'i', "JSON", "the instances, e.g. '[[1.0, 2.0]]'"},
    {"body", 'b', "JSON", "a whole TF Serving request body"},
    {"file", 'f', "FILE", "a file holding the request body"},
    {"verb", 0, "VERB", "predict (default), classify or regress"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_verb verbs[] = {
    {"create", "PROJECT NAME --model M [--predictor xgboost|python] [options]", "Create a deployment of a model.",
     "Deployment names are unique in the server. Any member of the project may call it:\n"
     "POST /v1/models/NAME:predict (TF Serving) or /v2/models/NAME/infer (KServe v2).\n"
     "\nExample:\n  oast deploy create demo churn --model churn --predictor xgboost --logging all\n",
     create_opts, 2, 2, 0, create},
    {"list", "PROJECT", "List the project's deployments and their states.", NULL, NULL, 1, 1, 0, list},
    {"show", "PROJECT NAME", "Show a deployment.", NULL, NULL, 2, 2, 0, show},
    {"start", "PROJECT NAME [--wait SECS]", "Start a deployment and wait until it serves.", NULL, start_opts, 2, 2, 0,
     start},
    {"stop", "PROJECT NAME", "Stop a deployment once what is in flight was answered.", NULL, NULL, 2, 2, 0, stop},
    {"update", "PROJECT NAME [--version N|latest] [--instances N] [options]",
     "Change a deployment, also while it serves.",
     "A new --version boots beside the running one and takes over once all its instances are\n"
     "ready; requests in flight are answered by the old version. If the new version cannot\n"
     "start, the old one goes on serving and the error says why.\n"
     "\nExample:\n  oast deploy update demo churn --version latest\n",
     update_opts, 2, 2, 0, update},
    {"scale", "PROJECT NAME INSTANCES", "Change the number of instances, also while serving.", NULL, NULL, 3, 3, 0,
     scale},
    {"delete", "PROJECT NAME", "Stop and delete a deployment (its logs stay in Logs/).", NULL, NULL, 2, 2, 0, delete_},
    {"logs", "PROJECT NAME [--inference] [--lines N]", "Show the predictor's log or the inference log.", NULL,
     logs_opts, 2, 2, 0, logs},
    {"predict", "PROJECT NAME (--instances JSON | --body JSON | --file F) [--verb V]",
     "Send a prediction request and print the answer.",
     "Example:\n  oast deploy predict demo churn --instances '[[0.1, 2.0, 3.5, 1.0]]'\n", predict_opts, 2, 2, 0,
     predict},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_noun cli_noun_deploy = {"deploy", "deployments of models and predictions", verbs};
