/*
 * fv.c — `oast fv`: feature views (create from a JSON definition, list,
 * show, delete) and their online feature vectors.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fs.h"

#define FV_FILE_MAX (1u << 20)

static const struct cli_col view_cols[] = {
    {"NAME", "name", CELL_TEXT},
    {"VERSION", "version", CELL_TEXT},
    {"CREATOR", "creator", CELL_TEXT},
    {"CREATED", "created", CELL_TEXT},
    {"DESCRIPTION", "description", CELL_TEXT},
    {NULL, NULL, CELL_TEXT},
};

/* --version V, default 1; a usage error when it is not a positive integer. */
int cli_fv_version(struct cli_ctx *ctx, struct cli_args *a, int *version) {
  const char *v = cli_opt_get(a, "version");
  char *end;
  long n = v ? strtol(v, &end, 10) : 1;
  if (v && (!*v || *end || n < 1 || n > 100000)) return cli_usage(ctx, "--version must be a positive integer");
  *version = (int)n;
  return CLI_OK;
}

static int create(struct cli_ctx *ctx, struct cli_args *a) {
  const char *file = a->pos[1];
  char *text = NULL;
  size_t len = 0;
  oast_err e;
  oast_err_clear(&e);
  if (!strcmp(file, "-")) {
    struct buf b;
    buf_init(&b, FV_FILE_MAX);
    char chunk[4096];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, stdin)) > 0) rc = buf_append(&b, chunk, n);
    if (rc) {
      buf_release(&b);
      oast_err_set(&e, OAST_ETOO_LARGE, "the definition on stdin is larger than %u bytes", FV_FILE_MAX);
      return cli_fail(ctx, &e);
    }
    text = buf_detach(&b, &len);
  } else if (fs_read_all(file, FV_FILE_MAX, &text, &len, &e)) {
    return cli_fail(ctx, &e);
  }
  json_error_t je;
  json_t *body = json_loadb(text, len, 0, &je);
  free(text);
  if (!body || !json_is_object(body)) {
    json_decref(body);
    return cli_usage(ctx, "%s: not a JSON object (line %d: %s)", file, je.line, je.text);
  }
  const char *name = cli_opt_get(a, "name");
  if (name) json_object_set_new(body, "name", json_string(name));
  json_t *out = NULL;
  int rc = cli_call(ctx, "POST", body, &out, "/projects/%s/featurestore/featureviews", a->pos[0]);
  json_decref(body);
  if (rc == CLI_OK)
    cli_done(ctx, out, "created feature view %s version %lld in %s", json_string_value(json_object_get(out, "name")),
             (long long)json_integer_value(json_object_get(out, "version")), a->pos[0]);
  json_decref(out);
  return rc;
}

static int list(struct cli_ctx *ctx, struct cli_args *a) {
  return cli_get_items(ctx, view_cols, "/projects/%s/featurestore/featureviews", a->pos[0]);
}

static int show(struct cli_ctx *ctx, struct cli_args *a) {
  int version;
  if (cli_fv_version(ctx, a, &version)) return CLI_USAGE;
  json_t *out = NULL;
  int rc = cli_call(ctx, "GET", NULL, &out, "/projects/%s/featurestore/featureviews/%s/versions/%d", a->pos[0],
                    a->pos[1], version);
  if (rc != CLI_OK) return rc;
  if (ctx->json) {
    cli_print_json(ctx, out);
  } else {
    static const struct cli_col cols[] = {
        {"name", "name", CELL_TEXT},           {"version", "version", CELL_TEXT},
        {"description", "description", CELL_TEXT}, {"event_time", "event_time", CELL_TEXT},
        {"creator", "creator", CELL_TEXT},     {"created", "created", CELL_TEXT},
        {NULL, NULL, CELL_TEXT},
    };
    cli_print_object(ctx, out, cols);
    fprintf(ctx->out, "\n");
    static const char *const heads[] = {"FEATURE", "TYPE", "FROM", "LABEL"};
    struct cli_table t;
    cli_table_init(&t, 4, heads);
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(out, "features"), i, f) {
      char from[160];
      snprintf(from, sizeof from, "%s:%lld.%s", json_string_value(json_object_get(f, "featuregroup")),
               (long long)json_integer_value(json_object_get(f, "featuregroup_version")),
               json_string_value(json_object_get(f, "feature")));
      const char *cells[] = {json_string_value(json_object_get(f, "name")), json_string_value(json_object_get(f, "type")),
                             from, json_is_true(json_object_get(f, "label")) ? "yes" : ""};
      cli_table_add(&t, cells);
    }
    cli_table_print(ctx, &t);
  }
  json_decref(out);
  return CLI_OK;
}

static int delete_(struct cli_ctx *ctx, struct cli_args *a) {
  int version;
  if (cli_fv_version(ctx, a, &version)) return CLI_USAGE;
  int rc = cli_call(ctx, "DELETE", NULL, NULL, "/projects/%s/featurestore/featureviews/%s/versions/%d", a->pos[0],
                    a->pos[1], version);
  if (rc == CLI_OK) cli_done(ctx, NULL, "deleted feature view %s version %d", a->pos[1], version);
  return rc;
}

/* KEY=VALUE: the value as JSON when it parses (17, true, "x"), else as a string. */
static json_t *entry_value(const char *v) {
  json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
  return j ? j : json_string(v);
}

static int vector(struct cli_ctx *ctx, struct cli_args *a) {
  int version;
  if (cli_fv_version(ctx, a, &version)) return CLI_USAGE;
  const char *batch = cli_opt_get(a, "entries");
  json_t *entries = NULL;
  if (batch) {
    if (a->npos > 2) return cli_usage(ctx, "give either KEY=VALUE arguments or --entries, not both");
    entries = json_loads(batch, 0, NULL);
    if (!json_is_array(entries)) {
      json_decref(entries);
      return cli_usage(ctx, "--entries must be a JSON array of objects, e.g. '[{\"id\": 1}, {\"id\": 2}]'");
    }
  } else {
    if (a->npos < 3) return cli_usage(ctx, "give the entry's primary key as KEY=VALUE");
    json_t *entry = json_object();
    for (int i = 2; i < a->npos; i++) {
      const char *eq = strchr(a->pos[i], '=');
      if (!eq || eq == a->pos[i]) {
        json_decref(entry);
        return cli_usage(ctx, "\"%s\" is not KEY=VALUE", a->pos[i]);
      }
      char *key = xstrndup(a->pos[i], (size_t)(eq - a->pos[i]));
      json_object_set_new(entry, key, entry_value(eq + 1));
      free(key);
    }
    entries = json_pack("[o]", entry);
  }
  json_t *body = json_pack("{s:o}", "entries", entries), *out = NULL;
  int rc = cli_call(ctx, "POST", body, &out, "/projects/%s/featurestore/featureviews/%s/versions/%d/vectors",
                    a->pos[0], a->pos[1], version);
  json_decref(body);
  if (rc != CLI_OK) return rc;
  if (ctx->json) {
    cli_print_json(ctx, out);
  } else {
    /* One row per entry, a column per feature; "-" for nulls and unknown entries. */
    json_t *names = json_object_get(out, "features");
    size_t nf = json_array_size(names);
    const char **heads = xcalloc(nf ? nf : 1, sizeof *heads);
    for (size_t i = 0; i < nf; i++) heads[i] = json_string_value(json_array_get(names, i));
    struct cli_table t;
    cli_table_init(&t, (int)nf, heads);
    size_t i;
    json_t *vec;
    char **cells = xcalloc(nf ? nf : 1, sizeof *cells);
    json_array_foreach(json_object_get(out, "vectors"), i, vec) {
      for (size_t k = 0; k < nf; k++) {
        json_t *v = json_array_get(vec, k);
        cells[k] = json_is_string(v) ? xstrdup(json_string_value(v))
                   : (v && !json_is_null(v)) ? json_dumps(v, CLI_JSON_SHOW)
                                             : NULL;
      }
      cli_table_add(&t, (const char *const *)cells);
      for (size_t k = 0; k < nf; k++) free(cells[k]);
    }
    cli_table_print(ctx, &t);
    free(cells);
    free(heads);
  }
  json_decref(out);
  return CLI_OK;
}

/* `oast fv read`: the view's joined rows (GET .../data), to stdout or a file. */
static int read_(struct cli_ctx *ctx, struct cli_args *a) {
  const char *dest = cli_opt_get(a, "output"), *format = cli_opt_get(a, "format");
  if (!format) format = dest && cli_format_of_name(dest) ? cli_format_of_name(dest) : "csv";
  if (strcmp(format, "csv") && strcmp(format, "json") && strcmp(format, "parquet"))
    return cli_usage(ctx, "--format must be csv, json or parquet, not \"%s\"", format);
  int version, rc;
  long limit;
  if ((rc = cli_fv_version(ctx, a, &version))) return rc;
  const char *lim = cli_opt_get(a, "limit");
  if (lim && (rc = cli_limit_arg(ctx, lim, &limit))) return rc;
  struct buf q;
  buf_init(&q, 0);
  buf_printf(&q, "?format=%s", format);
  static const char *const opts[][2] = {{"start", "start_time"}, {"end", "end_time"}, {"limit", "limit"}};
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
    const char *v = cli_opt_get(a, opts[i][0]);
    if (!v) continue;
    char *esc = oast_escape(v, 0);
    buf_printf(&q, "&%s=%s", opts[i][1], esc);
    free(esc);
  }
  char *query = buf_detach(&q, NULL);
  char *path = cli_path("/projects/%s/featurestore/featureviews/%s/versions/%d/data%r", a->pos[0], a->pos[1], version,
                        query);
  char *shown = xasprintf("%s/%s:%d", a->pos[0], a->pos[1], version);
  rc = cli_fetch_rows(ctx, path, shown, dest, format);
  free(shown);
  free(path);
  free(query);
  return rc;
}

static const struct cli_opt read_opts[] = {
    {"version", 'v', "V", "the view's version (default 1)"},
    {"format", 0, "FMT", "csv (default), json or parquet"},
    {"start", 0, "TIME", "only rows whose left event time is at or after TIME (ISO-8601 or epoch ms)"},
    {"end", 0, "TIME", "only rows whose left event time is before TIME"},
    {"limit", 'n', "N", "at most N rows"},
    {"output", 'o', "FILE", "write to FILE (whole or not at all) instead of stdout"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt create_opts[] = {
    {"name", 'n', "NAME", "the view's name (overrides the file's \"name\")"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt version_opts[] = {
    {"version", 'v', "V", "the view's version (default 1)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt vector_opts[] = {
    {"version", 'v', "V", "the view's version (default 1)"},
    {"entries", 'e', "JSON", "a batch: a JSON array of entries, e.g. '[{\"id\": 1}, {\"id\": 2}]'"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_verb verbs[] = {
    {"create", "PROJECT FILE [--name NAME]", "Create a feature view from a JSON definition (FILE, or - for stdin).",
     "The definition is the body of POST /featureviews: {\"name\", \"version\"?, \"description\"?,\n"
     "\"query\": {\"featuregroup\", \"version\", \"features\"?, \"joins\"?: [{\"featuregroup\", \"version\",\n"
     "\"features\"?, \"on\" | \"left_on\" + \"right_on\", \"prefix\"?, \"join_type\"?}]}, \"labels\"?: [..]}.\n"
     "Joins are point in time when the groups have event times.\n"
     "\nExample:\n  oast fv create demo churn.json\n",
     create_opts, 2, 2, 0, create},
    {"list", "PROJECT", "List a project's feature views.", NULL, NULL, 1, 1, 0, list},
    {"show", "PROJECT NAME [--version V]", "Show a feature view and its features.", NULL, version_opts, 2, 2, 0, show},
    {"delete", "PROJECT NAME --version V", "Delete a feature view and its training datasets (data owners only).", NULL,
     version_opts, 2, 2, 0, delete_},
    {"read", "PROJECT NAME [--version V] [--format csv|json|parquet] [--start T] [--end T] [-n N] [-o FILE]",
     "The view's rows, joined point in time as for training data (batch data for scoring).",
     "\nExamples:\n  oast fv read demo churn --start 2024-05-01T00:00:00Z -n 10\n"
     "  oast fv read demo churn -o churn.parquet\n",
     read_opts, 2, 2, 0, read_},
    {"vector", "PROJECT NAME [--version V] KEY=VALUE... | --entries JSON",
     "Online feature vectors of entries, in the view's feature order.",
     "An entry is the view's serving key (the primary key of its left feature group).\n"
     "Values are read as JSON when they parse (17, true, \"x\"), else as text.\n"
     "An entry the online store has no row for prints as a row of \"-\".\n"
     "\nExamples:\n  oast fv vector demo churn uid=17\n  oast fv vector demo churn --entries '[{\"uid\": 1}, {\"uid\": 2}]'\n",
     vector_opts, 2, -1, 0, vector},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_noun cli_noun_fv = {"fv", "feature views and online feature vectors", verbs};
