/*
 * model.c — `oast model`: the model registry of a project. Register files
 * already in the project, export local files (uploaded, then registered),
 * list, show, find the best version by a metric, download a version's
 * files and delete a version.
 *
 * export uploads into a staging folder of the Models dataset and
 * registers from there (the registry copies the files into
 * Models/NAME/VERSION), then removes the staging folder, whatever
 * happened. Uploading and downloading are a data owner's rights.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/command.h"
#include "client/client_json.h"
#include "util/alloc.h"
#include "util/crypto.h"
#include "util/fs.h"

/* Directory depth export and download walk at most. */
#define WALK_DEPTH 16

static const struct cli_col model_cols[] = {
    {"NAME", "name", CELL_TEXT},
    {"VERSION", "version", CELL_TEXT},
    {"FRAMEWORK", "framework", CELL_TEXT},
    {"METRICS", "metrics", CELL_TEXT},
    {"PATH", "path", CELL_TEXT},
    {"CREATED", "created", CELL_TEXT},
    {NULL, NULL, CELL_TEXT},
};

/* The registration body from the command's options; NULL after a usage error (printed). */
static json_t *register_body(struct cli_ctx *ctx, struct cli_args *a, const char *name, const char *path, int *rc) {
  const char *fw = cli_opt_get(a, "framework"), *metrics = cli_opt_get(a, "metrics"),
             *desc = cli_opt_get(a, "description"), *version = cli_opt_get(a, "version"),
             *schema = cli_opt_get(a, "schema");
  json_t *body = json_pack("{s:s,s:s,s:s}", "name", name, "path", path, "framework", fw ? fw : "other");
  if (desc) json_object_set_new(body, "description", json_string(desc));
  if (version) {
    char *end;
    long v = strtol(version, &end, 10);
    if (!*version || *end || v < 1) {
      json_decref(body);
      *rc = cli_usage(ctx, "--version wants a positive integer, got \"%s\"", version);
      return NULL;
    }
    json_object_set_new(body, "version", json_integer(v));
  }
  const char *const json_opts[][2] = {{"metrics", metrics}, {"model_schema", schema}};
  for (int i = 0; i < 2; i++) {
    if (!json_opts[i][1]) continue;
    json_error_t je;
    json_t *v = json_loads(json_opts[i][1], 0, &je);
    if (!json_is_object(v)) {
      json_decref(v);
      json_decref(body);
      *rc = cli_usage(ctx, "--%s wants a JSON object, e.g. '{\"auc\": 0.91}'", i ? "schema" : "metrics");
      return NULL;
    }
    json_object_set_new(body, json_opts[i][0], v);
  }
  return body;
}

static int do_register(struct cli_ctx *ctx, struct cli_args *a, const char *project, const char *name,
                       const char *path) {
  int rc = CLI_OK;
  json_t *body = register_body(ctx, a, name, path, &rc), *out = NULL;
  if (!body) return rc;
  rc = cli_call(ctx, "POST", body, &out, "/projects/%s/models", project);
  json_decref(body);
  if (rc == CLI_OK)
    cli_done(ctx, out, "registered %s version %lld", name, (long long)json_integer_value(json_object_get(out, "version")));
  json_decref(out);
  return rc;
}

static int register_(struct cli_ctx *ctx, struct cli_args *a) {
  const char *path = cli_opt_get(a, "path");
  if (!path) return cli_usage(ctx, "--path is required (the files' project path, e.g. Resources/model)");
  return do_register(ctx, a, a->pos[0], a->pos[1], path);
}

/* Uploads local file or directory `local` to remote (a project path); 0 or an error (printed). */
static int upload_tree(struct cli_ctx *ctx, const char *project, const char *local, const char *remote, int depth) {
  struct stat st;
  if (stat(local, &st) != 0) {
    fprintf(ctx->err, "oast: cannot read %s: %s\n", local, strerror(errno));
    return CLI_FAIL;
  }
  if (S_ISREG(st.st_mode)) {
    char *path = cli_path("/projects/%s/files/%P", project, remote);
    oast_err e;
    int rc = oast_upload_file(ctx->client, path, local, NULL, NULL, NULL, NULL, &e);
    free(path);
    return rc ? cli_fail(ctx, &e) : CLI_OK;
  }
  if (!S_ISDIR(st.st_mode) || depth > WALK_DEPTH) {
    fprintf(ctx->err, "oast: %s is neither a file nor a directory (or is nested too deep)\n", local);
    return CLI_FAIL;
  }
  DIR *d = opendir(local);
  if (!d) {
    fprintf(ctx->err, "oast: cannot read %s: %s\n", local, strerror(errno));
    return CLI_FAIL;
  }
  int rc = CLI_OK;
  struct dirent *de;
  while (rc == CLI_OK && (de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    char *l = fs_join(local, de->d_name), *r = xasprintf("%s/%s", remote, de->d_name);
    rc = upload_tree(ctx, project, l, r, depth + 1);
    free(l);
    free(r);
  }
  closedir(d);
  return rc;
}

static int export_(struct cli_ctx *ctx, struct cli_args *a) {
  const char *project = a->pos[0], *name = a->pos[1], *local = a->pos[2];
  struct stat st;
  if (stat(local, &st) != 0) return cli_usage(ctx, "cannot read %s: %s", local, strerror(errno));
  unsigned char rnd[8];
  crypto_random(rnd, sizeof rnd);
  char hex[17];
  crypto_hex(rnd, sizeof rnd, hex);
  char *staging = xasprintf("Models/.staging-%s", hex);
  char *copy = xstrdup(local);
  char *remote = S_ISDIR(st.st_mode) ? xstrdup(staging) : xasprintf("%s/%s", staging, basename(copy));
  int rc = upload_tree(ctx, project, local, remote, 0);
  if (rc == CLI_OK) rc = do_register(ctx, a, project, name, remote);
  /* The staging copy goes whatever happened. */
  char *path = cli_path("/projects/%s/files/%P", project, staging);
  oast_err e;
  client_request_json(ctx->client, "DELETE", path, NULL, NULL, NULL, &e);
  free(path);
  free(copy);
  free(remote);
  free(staging);
  return rc;
}

static int list(struct cli_ctx *ctx, struct cli_args *a) {
  const char *name = cli_opt_get(a, "name");
  if (name) return cli_get_items(ctx, model_cols, "/projects/%s/models?name=%s", a->pos[0], name);
  return cli_get_items(ctx, model_cols, "/projects/%s/models", a->pos[0]);
}

static int show(struct cli_ctx *ctx, struct cli_args *a) {
  return cli_get_object(ctx, model_cols, "/projects/%s/models/%s/versions/%s", a->pos[0], a->pos[1], a->pos[2]);
}

static int best(struct cli_ctx *ctx, struct cli_args *a) {
  const char *metric = cli_opt_get(a, "metric"), *dir = cli_opt_get(a, "direction");
  if (!metric) return cli_usage(ctx, "--metric is required");
  return cli_get_object(ctx, model_cols, "/projects/%s/models/%s/best?metric=%s&direction=%s", a->pos[0], a->pos[1],
                        metric, dir ? dir : "max");
}

static int delete_(struct cli_ctx *ctx, struct cli_args *a) {
  int rc = cli_call(ctx, "DELETE", NULL, NULL, "/projects/%s/models/%s/versions/%s", a->pos[0], a->pos[1], a->pos[2]);
  if (rc == CLI_OK) cli_done(ctx, NULL, "deleted %s version %s", a->pos[1], a->pos[2]);
  return rc;
}

/* Downloads the files under remote (a project path of a directory) into local. */
static int download_tree(struct cli_ctx *ctx, const char *project, const char *remote, const char *local, int depth,
                         int *count) {
  if (depth > WALK_DEPTH) return CLI_OK;
  json_t *out = NULL;
  char *path = cli_path("/projects/%s/files/%P?op=list", project, remote);
  oast_err e;
  int rc = client_request_json(ctx->client, "GET", path, NULL, NULL, &out, &e);
  free(path);
  if (rc) return cli_fail(ctx, &e);
  if (fs_mkdirs(local, 0755, &e)) {
    json_decref(out);
    return cli_fail(ctx, &e);
  }
  size_t i;
  json_t *item;
  rc = CLI_OK;
  json_array_foreach(json_object_get(out, "items"), i, item) {
    const char *n = json_string_value(json_object_get(item, "name"));
    const char *t = json_string_value(json_object_get(item, "type"));
    if (!n || !*n || strchr(n, '/') || !strcmp(n, ".") || !strcmp(n, "..")) continue;
    char *r = xasprintf("%s/%s", remote, n), *l = fs_join(local, n);
    if (t && !strcmp(t, "dir")) rc = download_tree(ctx, project, r, l, depth + 1, count);
    else {
      char *p = cli_path("/projects/%s/files/%P", project, r);
      if (oast_download_file(ctx->client, p, l, NULL, NULL, NULL, &e)) rc = cli_fail(ctx, &e);
      else (*count)++;
      free(p);
    }
    free(r);
    free(l);
    if (rc != CLI_OK) break;
  }
  json_decref(out);
  return rc;
}

static int download(struct cli_ctx *ctx, struct cli_args *a) {
  char *remote = xasprintf("Models/%s/%s", a->pos[1], a->pos[2]);
  int count = 0;
  int rc = download_tree(ctx, a->pos[0], remote, a->pos[3], 0, &count);
  if (rc == CLI_OK) cli_done(ctx, NULL, "downloaded %d file%s of %s version %s into %s", count, count == 1 ? "" : "s",
                             a->pos[1], a->pos[2], a->pos[3]);
  free(remote);
  return rc;
}

static const struct cli_opt reg_opts[] = {
    {"path", 'p', "PATH", "the files' project path (register only), e.g. Experiments/3/trial_1/model"},
    {"framework", 'f', "NAME", "sklearn, xgboost, torch, tensorflow, keras, python, onnx or other"},
    {"metrics", 'm', "JSON", "metrics as a JSON object, e.g. '{\"auc\": 0.91}'"},
    {"version", 'v', "N", "the version number (default: the next)"},
    {"description", 'd', "TEXT", "what the model is"},
    {"schema", 0, "JSON", "the model schema, e.g. '{\"input_schema\": {\"columnar_schema\": [...]}}'"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt list_opts[] = {
    {"name", 'n', "NAME", "only the versions of this model"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt best_opts[] = {
    {"metric", 'm', "NAME", "the metric to compare (required)"},
    {"direction", 0, "max|min", "whether higher (max, the default) or lower is better"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_verb verbs[] = {
    {"register", "PROJECT NAME --path PATH [--framework F] [--metrics JSON]",
     "Register files already in the project as a new model version.",
     "The files are copied into Models/NAME/VERSION and the version is immutable.\n"
     "\nExample:\n  oast model register demo churn --path Experiments/3/trial_2/model \\\n"
     "    --framework xgboost --metrics '{\"auc\": 0.91}'\n",
     reg_opts, 2, 2, 0, register_},
    {"export", "PROJECT NAME LOCAL_PATH [--framework F] [--metrics JSON]",
     "Upload a local model file or directory and register it (data owners only).",
     "Example:\n  oast model export demo churn ./model.json --framework xgboost --metrics '{\"auc\": 0.91}'\n",
     reg_opts, 3, 3, 0, export_},
    {"list", "PROJECT [--name NAME]", "List the registered model versions.", NULL, list_opts, 1, 1, 0, list},
    {"show", "PROJECT NAME VERSION", "Show one model version.", NULL, NULL, 3, 3, 0, show},
    {"best", "PROJECT NAME --metric M [--direction max|min]", "Show the version with the best value of a metric.",
     NULL, best_opts, 2, 2, 0, best},
    {"download", "PROJECT NAME VERSION LOCAL_DIR", "Download a version's files (data owners only).", NULL, NULL, 4, 4,
     0, download},
    {"delete", "PROJECT NAME VERSION", "Delete a model version (data owners only).", NULL, NULL, 3, 3, 0, delete_},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_noun cli_noun_model = {"model", "the model registry", verbs};
