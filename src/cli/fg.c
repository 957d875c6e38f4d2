/*
 * fg.c — `oast fg`: feature groups of a project's feature store.
 *
 * A group is named PROJECT/NAME[:VERSION] on the command line; without a
 * version, commands that read or write a group use its newest version
 * (found by listing the project's groups), and `create` asks the server
 * for the next one. Every verb is one or two REST calls (docs/api.md,
 * "Feature store"); this file only turns arguments into requests and
 * answers into text.
 *
 * Inserts stream the local file to the server with liboast's oast_send
 * (constant memory, a progress bar on a terminal for large files); reads
 * and exports stream the answer to stdout or into a file that appears
 * whole or not at all. `stats` draws each column's histogram with block
 * characters, one bar per bin, from the statistics the server kept for
 * the commit (cli_fg_histogram, a pure function so it can be tested).
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/command.h"
#include "client/client_json.h"
#include "util/alloc.h"
#include "util/buf.h"

#define FG_BASE "/projects/%s/featurestore/featuregroups"
#define FG_ONE FG_BASE "/%s/versions/%d"
/* Rows `show` previews unless --limit says otherwise. */
#define PREVIEW_ROWS 10
/* The most a JSON answer (a preview) may be. */
#define PREVIEW_MAX ((size_t)64 << 20)

/* PROJECT/NAME[:VERSION] */
struct fgref {
  char *project;
  char *name;
  int version; /* 0: not given */
};

static void fgref_free(struct fgref *g) {
  free(g->project);
  free(g->name);
}

/* Parses a group argument; prints a usage error and returns CLI_USAGE when it is malformed. */
static int fgref_parse(struct cli_ctx *ctx, const char *arg, struct fgref *g) {
  memset(g, 0, sizeof *g);
  oast_err e;
  char *rest = NULL;
  if (cli_remote_parse(arg, &g->project, &rest, NULL, &e) != 0) return cli_usage(ctx, "%s", e.msg);
  if (!*rest || strchr(rest, '/')) {
    free(rest);
    fgref_free(g);
    return cli_usage(ctx, "\"%s\" is not a feature group; write PROJECT/NAME or PROJECT/NAME:VERSION", arg);
  }
  char *colon = strchr(rest, ':');
  if (colon) {
    char *end;
    long v = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || v < 1 || v > 100000) {
      free(rest);
      fgref_free(g);
      return cli_usage(ctx, "\"%s\": the version after ':' must be a number from 1 to 100000", arg);
    }
    g->version = (int)v;
    *colon = '\0';
  }
  g->name = rest;
  return CLI_OK;
}

/* Fills in the newest version when none was given. Prints the error and returns CLI_FAIL when there is none. */
static int fgref_resolve(struct cli_ctx *ctx, struct fgref *g) {
  if (g->version) return CLI_OK;
  json_t *out = NULL;
  int rc = cli_call(ctx, "GET", NULL, &out, FG_BASE, g->project);
  if (rc) return rc;
  size_t i;
  json_t *item;
  json_array_foreach(json_object_get(out, "items"), i, item) {
    const char *n = json_string_value(json_object_get(item, "name"));
    int v = (int)json_integer_value(json_object_get(item, "version"));
    if (n && !strcmp(n, g->name) && v > g->version) g->version = v;
  }
  json_decref(out);
  if (!g->version) {
    fprintf(stderr, "oast: feature group \"%s\" not found in project \"%s\"\n", g->name, g->project);
    return CLI_FAIL;
  }
  return CLI_OK;
}

/* Parses and resolves a group argument. */
static int fgref_get(struct cli_ctx *ctx, const char *arg, struct fgref *g) {
  int rc = fgref_parse(ctx, arg, g);
  if (rc) return rc;
  if ((rc = fgref_resolve(ctx, g))) fgref_free(g);
  return rc;
}

/* "a, b" from a JSON array of strings (allocated). */
static char *join_names(json_t *arr) {
  struct buf b;
  buf_init(&b, 0);
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    if (i) buf_puts(&b, ", ");
    buf_puts(&b, json_is_string(v) ? json_string_value(v) : "?");
  }
  char *s = buf_detach(&b, NULL);
  return s ? s : xstrdup("");
}

/* A comma-separated list as a JSON array of its non-empty items. */
static json_t *split_list(const char *s) {
  json_t *arr = json_array();
  while (s && *s) {
    size_t n = strcspn(s, ",");
    size_t a = 0, z = n;
    while (a < z && (s[a] == ' ' || s[a] == '\t')) a++;
    while (z > a && (s[z - 1] == ' ' || s[z - 1] == '\t')) z--;
    if (z > a) json_array_append_new(arr, json_stringn(s + a, z - a));
    s += n;
    if (*s) s++;
  }
  return arr;
}

/* Reads a local JSON file (or stdin for "-"); prints the error and returns CLI_FAIL when it is not JSON. */
static int read_json_file(struct cli_ctx *ctx, const char *path, json_t **out) {
  json_error_t je;
  *out = strcmp(path, "-") == 0 ? json_loadf(stdin, 0, &je) : json_load_file(path, 0, &je);
  if (!*out) {
    fprintf(stderr, "oast: %s: %s (line %d)\n", strcmp(path, "-") ? path : "stdin", je.text, je.line);
    return CLI_FAIL;
  }
  return CLI_OK;
}

/* ---- create, list, show, delete ---- */

static int create(struct cli_ctx *ctx, struct cli_args *a) {
  struct fgref g;
  int rc = fgref_parse(ctx, a->pos[0], &g);
  if (rc) return rc;
  const char *file = cli_opt_get(a, "file"), *features = cli_opt_get(a, "features");
  const char *pk = cli_opt_get(a, "primary-key"), *et = cli_opt_get(a, "event-time");
  const char *desc = cli_opt_get(a, "description");
  json_t *body = NULL, *out = NULL;
  if (file) {
    if ((rc = read_json_file(ctx, file, &body))) goto out;
    if (!json_is_object(body)) {
      fprintf(stderr, "oast: %s must hold a JSON object (the feature group's definition)\n", file);
      rc = CLI_FAIL;
      goto out;
    }
  } else {
    body = json_object();
  }
  if (features) {
    json_t *list = split_list(features), *feats = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
      const char *f = json_string_value(item);
      const char *colon = strchr(f, ':');
      if (!colon || colon == f || !colon[1]) {
        rc = cli_usage(ctx, "--features: \"%s\" must be NAME:TYPE", f);
        json_decref(list);
        json_decref(feats);
        goto out;
      }
      json_array_append_new(feats, json_pack("{s:s%,s:s}", "name", f, (size_t)(colon - f), "type", colon + 1));
    }
    json_decref(list);
    json_object_set_new(body, "features", feats);
  }
  if (!json_object_get(body, "features")) {
    rc = cli_usage(ctx, "give the features with --features NAME:TYPE,... or a definition with --file");
    goto out;
  }
  if (pk) json_object_set_new(body, "primary_key", split_list(pk));
  if (!json_object_get(body, "primary_key")) {
    rc = cli_usage(ctx, "give the primary key with --primary-key NAME[,NAME...] (or in the --file definition)");
    goto out;
  }
  json_object_set_new(body, "name", json_string(g.name));
  if (g.version) json_object_set_new(body, "version", json_integer(g.version));
  if (et) json_object_set_new(body, "event_time", json_string(et));
  if (desc) json_object_set_new(body, "description", json_string(desc));
  if (cli_flag(a, "online")) json_object_set_new(body, "online_enabled", json_true());
  if (cli_flag(a, "no-statistics") || cli_flag(a, "no-histograms") || cli_flag(a, "correlations")) {
    json_t *st = json_object_get(body, "statistics");
    if (!json_is_object(st)) {
      st = json_object();
      json_object_set_new(body, "statistics", st);
    }
    if (cli_flag(a, "no-statistics")) json_object_set_new(st, "enabled", json_false());
    if (cli_flag(a, "no-histograms")) json_object_set_new(st, "histograms", json_false());
    if (cli_flag(a, "correlations")) json_object_set_new(st, "correlations", json_true());
  }
  rc = cli_call(ctx, "POST", body, &out, FG_BASE, g.project);
  if (rc == CLI_OK)
    cli_done(ctx, out, "created feature group %s/%s version %d", g.project, g.name,
             (int)json_integer_value(json_object_get(out, "version")));
out:
  json_decref(body);
  json_decref(out);
  fgref_free(&g);
  return rc;
}

static int list(struct cli_ctx *ctx, struct cli_args *a) {
  static const char *const headers[] = {"NAME", "VERSION", "PRIMARY_KEY", "EVENT_TIME", "ONLINE", "COMMITS",
                                        "LATEST", "CREATOR", "DESCRIPTION"};
  json_t *out = NULL;
  int rc = cli_call(ctx, "GET", NULL, &out, FG_BASE, a->pos[0]);
  if (rc) return rc;
  if (ctx->json) {
    cli_print_json(ctx, out);
    json_decref(out);
    return CLI_OK;
  }
  struct cli_table t;
  cli_table_init(&t, 9, headers);
  size_t i;
  json_t *item;
  json_array_foreach(json_object_get(out, "items"), i, item) {
    char *cells[9];
    cells[0] = cli_cell_text(json_object_get(item, "name"), CELL_TEXT);
    cells[1] = cli_cell_text(json_object_get(item, "version"), CELL_TEXT);
    cells[2] = join_names(json_object_get(item, "primary_key"));
    cells[3] = cli_cell_text(json_object_get(item, "event_time"), CELL_TEXT);
    cells[4] = cli_cell_text(json_object_get(item, "online_enabled"), CELL_YESNO);
    cells[5] = cli_cell_text(json_object_get(item, "commits"), CELL_TEXT);
    cells[6] = cli_cell_text(json_object_get(item, "latest_commit"), CELL_TEXT);
    cells[7] = cli_cell_text(json_object_get(item, "creator"), CELL_TEXT);
    cells[8] = cli_cell_text(json_object_get(item, "description"), CELL_TEXT);
    cli_table_add(&t, (const char *const *)cells);
    for (int k = 0; k < 9; k++) free(cells[k]);
  }
  cli_table_print(ctx, &t);
  json_decref(out);
  return CLI_OK;
}

/* The query string of a data read: format, as_of, limit (allocated, begins with '?'). */
static char *data_query(const char *format, const char *as_of, const char *limit) {
  struct buf b;
  buf_init(&b, 0);
  buf_printf(&b, "?format=%s", format);
  if (as_of) {
    char *esc = oast_escape(as_of, 0);
    buf_printf(&b, "&as_of=%s", esc);
    free(esc);
  }
  if (limit) {
    char *esc = oast_escape(limit, 0);
    buf_printf(&b, "&limit=%s", esc);
    free(esc);
  }
  return buf_detach(&b, NULL);
}

/* Prints the definition of a group (human form). */
static void print_definition(struct cli_ctx *ctx, json_t *fg) {
  char *pk = join_names(json_object_get(fg, "primary_key"));
  json_t *st = json_object_get(fg, "statistics");
  const char *on = json_is_true(json_object_get(st, "enabled")) ? "on" : "off";
  char stats[96];
  snprintf(stats, sizeof stats, "%s%s%s", on, json_is_true(json_object_get(st, "histograms")) ? ", histograms" : "",
           json_is_true(json_object_get(st, "correlations")) ? ", correlations" : "");
  char *fields[][2] = {
      {"name:", cli_cell_text(json_object_get(fg, "name"), CELL_TEXT)},
      {"version:", cli_cell_text(json_object_get(fg, "version"), CELL_TEXT)},
      {"description:", cli_cell_text(json_object_get(fg, "description"), CELL_TEXT)},
      {"primary key:", pk},
      {"event time:", cli_cell_text(json_object_get(fg, "event_time"), CELL_TEXT)},
      {"online:", cli_cell_text(json_object_get(fg, "online_enabled"), CELL_YESNO)},
      {"statistics:", xstrdup(stats)},
      {"created:", cli_cell_text(json_object_get(fg, "created"), CELL_TEXT)},
      {"creator:", cli_cell_text(json_object_get(fg, "creator"), CELL_TEXT)},
      {"commits:", cli_cell_text(json_object_get(fg, "commits"), CELL_TEXT)},
      {"latest commit:", cli_cell_text(json_object_get(fg, "latest_commit"), CELL_TEXT)},
  };
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    fprintf(ctx->out, "%-15s %s\n", fields[i][0], fields[i][1]);
    free(fields[i][1]);
  }
  static const char *const headers[] = {"FEATURE", "TYPE", "KEY", "DESCRIPTION"};
  struct cli_table t;
  cli_table_init(&t, 4, headers);
  const char *event = json_string_value(json_object_get(fg, "event_time"));
  size_t i;
  json_t *f;
  json_array_foreach(json_object_get(fg, "features"), i, f) {
    const char *name = json_string_value(json_object_get(f, "name"));
    const char *key = "";
    size_t k;
    json_t *p;
    json_array_foreach(json_object_get(fg, "primary_key"), k, p) if (name && json_string_value(p) &&
                                                                      !strcmp(json_string_value(p), name)) key =
        "primary";
    if (!*key && event && name && !strcmp(event, name)) key = "event time";
    char *cells[4] = {cli_cell_text(json_object_get(f, "name"), CELL_TEXT),
                      cli_cell_text(json_object_get(f, "type"), CELL_TEXT), xstrdup(key),
                      cli_cell_text(json_object_get(f, "description"), CELL_TEXT)};
    cli_table_add(&t, (const char *const *)cells);
    for (int c = 0; c < 4; c++) free(cells[c]);
  }
  char *text = cli_table_render(&t);
  fprintf(ctx->out, "\n%s", text);
  free(text);
  cli_table_release(&t);
}

/* Prints rows (a JSON array of objects) as a table with the group's feature order. */
static void print_rows(struct cli_ctx *ctx, json_t *fg, json_t *rows) {
  json_t *feats = json_object_get(fg, "features");
  int n = (int)json_array_size(feats);
  const char **headers = xcalloc((size_t)n + 1, sizeof *headers);
  char **cells = xcalloc((size_t)n + 1, sizeof *cells);
  for (int i = 0; i < n; i++) {
    const char *h = json_string_value(json_object_get(json_array_get(feats, (size_t)i), "name"));
    headers[i] = h ? h : "?";
  }
  struct cli_table t;
  cli_table_init(&t, n, headers);
  size_t r;
  json_t *row;
  json_array_foreach(rows, r, row) {
    for (int i = 0; i < n; i++) cells[i] = cli_cell_text(json_object_get(row, headers[i]), CELL_TEXT);
    cli_table_add(&t, (const char *const *)cells);
    for (int i = 0; i < n; i++) free(cells[i]);
  }
  cli_table_print(ctx, &t);
  free(headers);
  free(cells);
}

/* Reads a --limit value; prints a usage error when it is not a count. */
static int show(struct cli_ctx *ctx, struct cli_args *a) {
  struct fgref g;
  int rc = fgref_get(ctx, a->pos[0], &g);
  if (rc) return rc;
  const char *as_of = cli_opt_get(a, "as-of"), *lim = cli_opt_get(a, "limit");
  long limit = PREVIEW_ROWS;
  json_t *fg = NULL, *rows = NULL;
  char *query = NULL, *path = NULL, *text = NULL;
  if (lim && (rc = cli_limit_arg(ctx, lim, &limit))) goto out;
  if ((rc = cli_call(ctx, "GET", NULL, &fg, FG_ONE, g.project, g.name, g.version))) goto out;
  bool has_data = json_integer_value(json_object_get(fg, "commits")) > 0;
  if (has_data && limit > 0) {
    char ls[32];
    snprintf(ls, sizeof ls, "%ld", limit);
    query = data_query("json", as_of, ls);
    path = cli_path(FG_ONE "/data%r", g.project, g.name, g.version, query);
    oast_err e;
    if (client_request_json(ctx->client, "GET", path, NULL, NULL, &rows, &e) != 0) {
      rc = cli_fail(ctx, &e);
      goto out;
    }
  }
  if (ctx->json) {
    json_t *j = json_pack("{s:O,s:o}", "featuregroup", fg, "preview", rows ? json_incref(rows) : json_array());
    cli_print_json(ctx, j);
    json_decref(j);
    goto out;
  }
  print_definition(ctx, fg);
  if (!has_data) {
    fprintf(ctx->out, "\nno data yet: insert rows with oast fg insert %s/%s:%d FILE\n", g.project, g.name, g.version);
  } else if (limit > 0) {
    fprintf(ctx->out, "\npreview%s%s (%zu row%s):\n", as_of ? " as of " : "", as_of ? as_of : "",
            json_array_size(rows), json_array_size(rows) == 1 ? "" : "s");
    print_rows(ctx, fg, rows);
  }
out:
  json_decref(fg);
  json_decref(rows);
  free(query);
  free(path);
  free(text);
  fgref_free(&g);
  return rc;
}

static int delete(struct cli_ctx *ctx, struct cli_args *a) {
  struct fgref g;
  int rc = fgref_parse(ctx, a->pos[0], &g);
  if (rc) return rc;
  if (!g.version) {
    fgref_free(&g);
    return cli_usage(ctx, "name the version to delete: PROJECT/NAME:VERSION");
  }
  rc = cli_call(ctx, "DELETE", NULL, NULL, FG_ONE, g.project, g.name, g.version);
  if (rc == CLI_OK) cli_done(ctx, NULL, "deleted feature group %s/%s version %d", g.project, g.name, g.version);
  fgref_free(&g);
  return rc;
}

/* ---- insert ---- */

/* The Content-Type of a body format name, or NULL. */
static const char *format_type(const char *f) {
  if (!strcmp(f, "csv")) return "text/csv";
  if (!strcmp(f, "ndjson") || !strcmp(f, "jsonl")) return "application/x-ndjson";
  if (!strcmp(f, "json")) return "application/json";
  return NULL;
}

/* The format a file name implies ("csv", "ndjson", "json", "parquet"), or NULL. */
/* After a refused strict insert: the failed rules of the newest validation report. */
static void print_refusal(struct cli_ctx *ctx, const struct fgref *g) {
  json_t *out = NULL;
  char *path = cli_path(FG_ONE "/validations", g->project, g->name, g->version);
  oast_err e;
  if (client_request_json(ctx->client, "GET", path, NULL, NULL, &out, &e) == 0) {
    json_t *rep = json_object_get(json_array_get(json_object_get(out, "items"), 0), "report");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(rep, "results"), i, r) {
      if (json_is_true(json_object_get(r, "success"))) continue;
      fprintf(stderr, "oast:   failed: %s on %s (%lld unexpected)\n",
              json_string_value(json_object_get(r, "rule")) ? json_string_value(json_object_get(r, "rule")) : "?",
              json_string_value(json_object_get(r, "column")) ? json_string_value(json_object_get(r, "column")) : "?",
              (long long)json_integer_value(json_object_get(r, "unexpected_count")));
    }
  }
  json_decref(out);
  free(path);
}

static int insert(struct cli_ctx *ctx, struct cli_args *a) {
  const char *file = a->pos[1];
  bool from_stdin = strcmp(file, "-") == 0;
  const char *format = cli_opt_get(a, "format"), *op = cli_opt_get(a, "operation");
  if (!format) format = from_stdin ? "csv" : cli_format_of_name(file);
  if (!format) return cli_usage(ctx, "cannot tell the format of \"%s\" from its name; give --format csv|ndjson|json", file);
  const char *type = format_type(format);
  if (!type) return cli_usage(ctx, "--format must be csv, ndjson or json, not \"%s\"", format);
  if (!op) op = "upsert";
  if (strcmp(op, "upsert") && strcmp(op, "insert"))
    return cli_usage(ctx, "--operation must be insert or upsert, not \"%s\"", op);
  struct fgref g;
  int rc = fgref_get(ctx, a->pos[0], &g);
  if (rc) return rc;
  char *shown = xasprintf("%s/%s:%d", g.project, g.name, g.version);
  char *path = cli_path(FG_ONE "/data?operation=%s", g.project, g.name, g.version, op);
  struct cli_progress prog;
  cli_progress_init(&prog, ctx->err, ctx->progress, shown);
  char *resp = NULL;
  oast_err e;
  if (from_stdin)
    rc = oast_send(ctx->client, "POST", path, type, stdin, -1, cli_progress_cb, &prog, NULL, &resp, &e);
  else
    rc = oast_send_file(ctx->client, "POST", path, type, file, cli_progress_cb, &prog, NULL, &resp, &e);
  cli_progress_end(&prog, rc == 0);
  if (rc) {
    rc = cli_fail(ctx, &e);
    if (e.code == OAST_EVALIDATION) print_refusal(ctx, &g);
  } else {
    json_t *j = json_loads(resp, 0, NULL);
    json_int_t ins = json_integer_value(json_object_get(j, "rows_inserted"));
    json_int_t upd = json_integer_value(json_object_get(j, "rows_updated"));
    json_t *val = json_object_get(j, "validation");
    size_t failed = 0;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(val, "results"), i, r) failed += !json_is_true(json_object_get(r, "success"));
    char checks[96] = "";
    if (json_array_size(json_object_get(val, "results")))
      snprintf(checks, sizeof checks, "; expectations: %s", failed ? "" : "all passed");
    if (failed)
      snprintf(checks, sizeof checks, "; expectations: %zu of %zu failed (see oast fg validations)", failed,
               json_array_size(json_object_get(val, "results")));
    cli_done(ctx, j, "inserted %lld rows into %s as commit %lld (%lld new, %lld updated)%s",
             (long long)(ins + upd), shown, (long long)json_integer_value(json_object_get(j, "commit_id")),
             (long long)ins, (long long)upd, checks);
    json_decref(j);
    rc = CLI_OK;
  }
  free(resp);
  free(path);
  free(shown);
  fgref_free(&g);
  return rc;
}

/* ---- read and export ---- */

/* Downloads the rows to `dest` (a file, or stdout when NULL or "-"). */
static int fetch_rows(struct cli_ctx *ctx, struct cli_args *a, const char *arg, const char *dest, const char *format) {
  if (strcmp(format, "csv") && strcmp(format, "json") && strcmp(format, "parquet"))
    return cli_usage(ctx, "--format must be csv, json or parquet, not \"%s\"", format);
  const char *lim = cli_opt_get(a, "limit");
  long limit;
  int rc;
  if (lim && (rc = cli_limit_arg(ctx, lim, &limit))) return rc;
  struct fgref g;
  if ((rc = fgref_get(ctx, arg, &g))) return rc;
  char *query = data_query(format, cli_opt_get(a, "as-of"), lim);
  char *path = cli_path(FG_ONE "/data%r", g.project, g.name, g.version, query);
  char *shown = xasprintf("%s/%s:%d", g.project, g.name, g.version);
  rc = cli_fetch_rows(ctx, path, shown, dest, format);
  free(shown);
  free(query);
  free(path);
  fgref_free(&g);
  return rc;
}

static int read_(struct cli_ctx *ctx, struct cli_args *a) {
  const char *format = cli_opt_get(a, "format");
  const char *dest = cli_opt_get(a, "output");
  if (!format) format = dest && cli_format_of_name(dest) ? cli_format_of_name(dest) : "csv";
  return fetch_rows(ctx, a, a->pos[0], dest, format);
}

static int export(struct cli_ctx *ctx, struct cli_args *a) {
  const char *dest = a->pos[1];
  const char *format = cli_opt_get(a, "format");
  if (!format) format = cli_format_of_name(dest);
  if (!format) return cli_usage(ctx, "cannot tell the format of \"%s\" from its name; give --format csv|json|parquet", dest);
  return fetch_rows(ctx, a, a->pos[0], dest, format);
}

/* ---- commits, validations, expectations, compaction ---- */

static int commits(struct cli_ctx *ctx, struct cli_args *a) {
  static const struct cli_col cols[] = {
      {"COMMIT", "commit_id", CELL_TEXT},   {"COMMITTED_ON", "committed_on", CELL_TEXT},
      {"OPERATION", "operation", CELL_TEXT}, {"INSERTED", "rows_inserted", CELL_TEXT},
      {"UPDATED", "rows_updated", CELL_TEXT}, {"DELETED", "rows_deleted", CELL_TEXT},
      {"COMPACTED", "compacted", CELL_YESNO}, {NULL, NULL, CELL_TEXT},
  };
  struct fgref g;
  int rc = fgref_get(ctx, a->pos[0], &g);
  if (rc) return rc;
  rc = cli_get_items(ctx, cols, FG_ONE "/commits", g.project, g.name, g.version);
  fgref_free(&g);
  return rc;
}

static int validations(struct cli_ctx *ctx, struct cli_args *a) {
  static const char *const headers[] = {"ID", "COMMIT", "TIME", "SUCCESS", "INGESTED", "FAILED_RULES"};
  struct fgref g;
  int rc = fgref_get(ctx, a->pos[0], &g);
  if (rc) return rc;
  json_t *out = NULL;
  if ((rc = cli_call(ctx, "GET", NULL, &out, FG_ONE "/validations", g.project, g.name, g.version))) goto out;
  if (ctx->json) {
    cli_print_json(ctx, out);
    goto out;
  }
  struct cli_table t;
  cli_table_init(&t, 6, headers);
  size_t i;
  json_t *item;
  json_array_foreach(json_object_get(out, "items"), i, item) {
    struct buf b;
    buf_init(&b, 0);
    size_t k;
    json_t *r;
    json_array_foreach(json_object_get(json_object_get(item, "report"), "results"), k, r) {
      if (json_is_true(json_object_get(r, "success"))) continue;
      const char *col = json_string_value(json_object_get(r, "column"));
      const char *rule = json_string_value(json_object_get(r, "rule"));
      buf_printf(&b, "%s%s:%s", b.len ? ", " : "", col ? col : "?", rule ? rule : "?");
    }
    char *failed = buf_detach(&b, NULL);
    char *cells[6] = {cli_cell_text(json_object_get(item, "id"), CELL_TEXT),
                      cli_cell_text(json_object_get(item, "commit_id"), CELL_TEXT),
                      cli_cell_text(json_object_get(item, "time"), CELL_TEXT),
                      cli_cell_text(json_object_get(item, "success"), CELL_YESNO),
                      cli_cell_text(json_object_get(item, "ingested"), CELL_YESNO), failed ? failed : xstrdup("")};
    for (char *p = cells[5]; *p; p++)
      if ((unsigned char)*p < 0x20) *p = '?';
    cli_table_add(&t, (const char *const *)cells);
    for (int c = 0; c < 6; c++) free(cells[c]);
  }
  cli_table_print(ctx, &t);
out:
  json_decref(out);
  fgref_free(&g);
  return rc;
}

static int expectations_set(struct cli_ctx *ctx, struct cli_args *a) {
  const char *policy = cli_opt_get(a, "policy");
  if (policy && strcmp(policy, "always") && strcmp(policy, "strict"))
    return cli_usage(ctx, "--policy must be always or strict, not \"%s\"", policy);
  struct fgref g;
  int rc = fgref_get(ctx, a->pos[0], &g);
  if (rc) return rc;
  json_t *body = NULL, *out = NULL;
  if ((rc = read_json_file(ctx, a->pos[1], &body))) goto out;
  if (json_is_array(body)) { /* a bare list of rules */
    json_t *suite = json_pack("{s:o}", "rules", body);
    body = suite;
  }
  if (policy && json_is_object(body)) json_object_set_new(body, "policy", json_string(policy));
  rc = cli_call(ctx, "PUT", body, &out, FG_ONE "/expectations", g.project, g.name, g.version);
  if (rc == CLI_OK) {
    const char *pol = json_string_value(json_object_get(out, "policy"));
    cli_done(ctx, out, "set %zu expectation%s on %s/%s:%d (policy %s)", json_array_size(json_object_get(out, "rules")),
             json_array_size(json_object_get(out, "rules")) == 1 ? "" : "s", g.project, g.name, g.version,
             pol ? pol : "always");
  }
out:
  json_decref(body);
  json_decref(out);
  fgref_free(&g);
  return rc;
}

static int expectations_show(struct cli_ctx *ctx, struct cli_args *a) {
  static const char *const headers[] = {"#", "COLUMN", "RULE", "PARAMETERS"};
  struct fgref g;
  int rc = fgref_get(ctx, a->pos[0], &g);
  if (rc) return rc;
  json_t *out = NULL;
  if ((rc = cli_call(ctx, "GET", NULL, &out, FG_ONE "/expectations", g.project, g.name, g.version))) goto out;
  if (ctx->json) {
    cli_print_json(ctx, out);
    goto out;
  }
  const char *pol = json_string_value(json_object_get(out, "policy"));
  fprintf(ctx->out, "policy: %s\n\n", pol ? pol : "always");
  struct cli_table t;
  cli_table_init(&t, 4, headers);
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(out, "rules"), i, r) {
    json_t *params = json_deep_copy(r);
    json_object_del(params, "column");
    json_object_del(params, "rule");
    char *num = xasprintf("%zu", i);
    char *cells[4] = {num, cli_cell_text(json_object_get(r, "column"), CELL_TEXT),
                      cli_cell_text(json_object_get(r, "rule"), CELL_TEXT),
                      json_object_size(params) ? json_dumps(params, CLI_JSON_SHOW) : xstrdup("")};
    for (char *p = cells[3]; *p; p++)
      if ((unsigned char)*p < 0x20) *p = '?';
    cli_table_add(&t, (const char *const *)cells);
    for (int c = 0; c < 4; c++) free(cells[c]);
    json_decref(params);
  }
  cli_table_print(ctx, &t);
out:
  json_decref(out);
  fgref_free(&g);
  return rc;
}

static int compact(struct cli_ctx *ctx, struct cli_args *a) {
  struct fgref g;
  int rc = fgref_get(ctx, a->pos[0], &g);
  if (rc) return rc;
  json_t *out = NULL;
  rc = cli_call(ctx, "POST", NULL, &out, FG_ONE "/compact", g.project, g.name, g.version);
  if (rc == CLI_OK)
    cli_done(ctx, out, "compacted %s/%s:%d at commit %lld (%lld rows in one file)", g.project, g.name, g.version,
             (long long)json_integer_value(json_object_get(out, "commit_id")),
             (long long)json_integer_value(json_object_get(out, "rows")));
  json_decref(out);
  fgref_free(&g);
  return rc;
}

/* ---- statistics ---- */

static const char *const eighths[] = {"", "\u258F", "\u258E", "\u258D", "\u258C", "\u258B", "\u258A", "\u2589"};

/* A number or time edge as short text. */
static void edge_text(json_t *v, char *out, size_t n) {
  if (json_is_string(v)) {
    snprintf(out, n, "%s", json_string_value(v));
  } else if (json_is_number(v)) {
    double d = json_number_value(v);
    if (d != 0 && (fabs(d) >= 1e7 || fabs(d) < 1e-3)) snprintf(out, n, "%.4g", d);
    else snprintf(out, n, "%.6g", d);
  } else {
    snprintf(out, n, "-");
  }
  for (char *p = out; *p; p++)
    if ((unsigned char)*p < 0x20) *p = '?';
}

char *cli_fg_histogram(json_t *hist, int width) {
  json_t *edges = json_object_get(hist, "edges"), *counts = json_object_get(hist, "counts");
  size_t nb = json_array_size(counts);
  if (!nb || json_array_size(edges) != nb + 1) return xstrdup("");
  json_int_t maxc = 0;
  size_t wl = 0, wr = 0, wc = 0;
  char lo[64], hi[64], cnt[32];
  for (size_t i = 0; i < nb; i++) {
    json_int_t c = json_integer_value(json_array_get(counts, i));
    if (c > maxc) maxc = c;
    edge_text(json_array_get(edges, i), lo, sizeof lo);
    edge_text(json_array_get(edges, i + 1), hi, sizeof hi);
    snprintf(cnt, sizeof cnt, "%lld", (long long)c);
    if (strlen(lo) > wl) wl = strlen(lo);
    if (strlen(hi) > wr) wr = strlen(hi);
    if (strlen(cnt) > wc) wc = strlen(cnt);
  }
  /* "  LO .. HI  BAR  COUNT" */
  int bar = width - (int)(wl + wr + wc) - 10;
  if (bar < 10) bar = 10;
  struct buf b;
  buf_init(&b, 0);
  for (size_t i = 0; i < nb; i++) {
    json_int_t c = json_integer_value(json_array_get(counts, i));
    edge_text(json_array_get(edges, i), lo, sizeof lo);
    edge_text(json_array_get(edges, i + 1), hi, sizeof hi);
    buf_printf(&b, "  %*s .. %-*s ", (int)wl, lo, (int)wr, hi);
    /* The bar in eighths of a cell; a non-zero count shows at least a sliver. */
    long units = maxc ? (long)((double)c * bar * 8 / (double)maxc + 0.5) : 0;
    if (c > 0 && units == 0) units = 1;
    for (long k = 0; k < units / 8; k++) buf_puts(&b, "\u2588");
    buf_puts(&b, eighths[units % 8]);
    long used = units / 8 + (units % 8 ? 1 : 0);
    for (long k = used; k < bar; k++) buf_putc(&b, ' ');
    buf_printf(&b, " %*lld\n", (int)wc, (long long)c);
  }
  return buf_detach(&b, NULL);
}

static int term_width(void) {
  struct winsize ws;
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40) return ws.ws_col;
  return 80;
}

/* A statistic as text: integers exactly, other numbers with 6 significant digits. */
static char *stat_text(json_t *v) {
  if (json_is_real(v)) return xasprintf("%.6g", json_real_value(v));
  return cli_cell_text(v, CELL_TEXT);
}

static void print_column_stats(struct cli_ctx *ctx, json_t *col, int width) {
  const char *name = json_string_value(json_object_get(col, "name"));
  const char *type = json_string_value(json_object_get(col, "type"));
  fprintf(ctx->out, "%s (%s)\n", name ? name : "?", type ? type : "?");
  static const char *const keys[][2] = {{"count", "count"}, {"nulls", "null_count"}, {"distinct", "distinct_count"},
                                        {"min", "min"},     {"max", "max"},         {"min_length", "min_length"},
                                        {"max_length", "max_length"}, {"mean", "mean"}, {"stddev", "stddev"}};
  struct buf b;
  buf_init(&b, 0);
  buf_puts(&b, " ");
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    json_t *v = json_object_get(col, keys[i][1]);
    if (!v || json_is_null(v)) continue;
    char *t = stat_text(v);
    for (char *p = t; *p; p++)
      if ((unsigned char)*p < 0x20) *p = '?';
    buf_printf(&b, " %s%s %s", !strcmp(keys[i][0], "distinct") ? "~" : "", keys[i][0], t);
    free(t);
  }
  fprintf(ctx->out, "%s\n", b.data ? b.data : "");
  buf_release(&b);
  json_t *h = json_object_get(col, "histogram");
  if (json_is_object(h)) {
    char *text = cli_fg_histogram(h, width);
    fputs(text, ctx->out);
    free(text);
  }
  fputc('\n', ctx->out);
}

static void print_correlations(struct cli_ctx *ctx, json_t *corr) {
  json_t *cols = json_object_get(corr, "columns"), *vals = json_object_get(corr, "values");
  size_t n = json_array_size(cols);
  if (!n) return;
  const char **headers = xcalloc(n + 1, sizeof *headers);
  char **cells = xcalloc(n + 1, sizeof *cells);
  headers[0] = "CORRELATION";
  for (size_t i = 0; i < n; i++) headers[i + 1] = json_string_value(json_array_get(cols, i));
  struct cli_table t;
  cli_table_init(&t, (int)n + 1, headers);
  for (size_t i = 0; i < n; i++) {
    cells[0] = xstrdup(headers[i + 1] ? headers[i + 1] : "?");
    for (size_t j = 0; j < n; j++) {
      json_t *v = json_array_get(json_array_get(vals, i), j);
      cells[j + 1] = json_is_number(v) ? xasprintf("%.3f", json_number_value(v)) : xstrdup("-");
    }
    cli_table_add(&t, (const char *const *)cells);
    for (size_t j = 0; j <= n; j++) free(cells[j]);
  }
  cli_table_print(ctx, &t);
  free(headers);
  free(cells);
}

static int stats(struct cli_ctx *ctx, struct cli_args *a) {
  const char *commit = cli_opt_get(a, "commit"), *only = cli_opt_get(a, "column");
  if (commit) {
    char *end;
    long long c = strtoll(commit, &end, 10);
    if (!*commit || *end || c < 1) return cli_usage(ctx, "--commit needs a commit id, not \"%s\"", commit);
  }
  struct fgref g;
  int rc = fgref_get(ctx, a->pos[0], &g);
  if (rc) return rc;
  json_t *out = NULL, *want = only ? split_list(only) : NULL;
  if (commit) rc = cli_call(ctx, "GET", NULL, &out, FG_ONE "/statistics?commit=%s", g.project, g.name, g.version, commit);
  else rc = cli_call(ctx, "GET", NULL, &out, FG_ONE "/statistics", g.project, g.name, g.version);
  if (rc) goto out;
  json_t *cols = json_object_get(out, "columns");
  /* Every column asked for must exist. */
  size_t i, k;
  json_t *w, *col;
  json_array_foreach(want, k, w) {
    bool found = false;
    json_array_foreach(cols, i, col) found |= json_equal(json_object_get(col, "name"), w);
    if (!found) {
      fprintf(stderr, "oast: feature group %s/%s:%d has no column \"%s\"\n", g.project, g.name, g.version,
              json_string_value(w));
      rc = CLI_FAIL;
      goto out;
    }
  }
  if (ctx->json) {
    if (want) {
      json_t *keep = json_array();
      json_array_foreach(cols, i, col) {
        bool match = false;
        json_array_foreach(want, k, w) match |= json_equal(json_object_get(col, "name"), w);
        if (match) json_array_append(keep, col);
      }
      json_object_set_new(out, "columns", keep);
    }
    cli_print_json(ctx, out);
    goto out;
  }
  fprintf(ctx->out, "statistics of %s/%s:%d at commit %lld\n\n", g.project, g.name, g.version,
          (long long)json_integer_value(json_object_get(out, "commit_id")));
  int width = term_width();
  json_array_foreach(cols, i, col) {
    bool match = !want;
    json_array_foreach(want, k, w) match |= json_equal(json_object_get(col, "name"), w);
    if (match) print_column_stats(ctx, col, width);
  }
  json_t *corr = json_object_get(out, "correlations");
  if (json_is_object(corr) && !want) print_correlations(ctx, corr);
out:
  json_decref(out);
  json_decref(want);
  fgref_free(&g);
  return rc;
}

/* ---- the table ---- */

static const struct cli_opt create_opts[] = {
    {"features", 'f', "NAME:TYPE,...", "the features (types: int bigint float double string boolean timestamp date)"},
    {"primary-key", 'k', "NAME,...", "the primary key's features"},
    {"event-time", 'e', "NAME", "the event time feature (a timestamp, date or bigint)"},
    {"description", 'd', "TEXT", "what the group holds"},
    {"online", 0, NULL, "also keep the latest row of each key in the online store"},
    {"no-statistics", 0, NULL, "compute no statistics on commits"},
    {"no-histograms", 0, NULL, "statistics without histograms"},
    {"correlations", 0, NULL, "also compute correlations between numeric features"},
    {"file", 0, "SPEC.json", "take the definition from a JSON file (the REST body); flags add to it"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt show_opts[] = {
    {"as-of", 0, "COMMIT|TIME", "preview the rows as of a commit id or an ISO-8601 time"},
    {"limit", 'n', "N", "rows to preview (default 10; 0 for none)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt insert_opts[] = {
    {"format", 0, "FMT", "csv, ndjson or json (default: from the file's extension; csv for stdin)"},
    {"operation", 0, "OP", "upsert (default: rows with an existing key replace it) or insert (refuse them)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt read_opts[] = {
    {"format", 0, "FMT", "csv (default), json or parquet"},
    {"as-of", 0, "COMMIT|TIME", "the rows as of a commit id or an ISO-8601 time"},
    {"limit", 'n', "N", "at most N rows"},
    {"output", 'o', "FILE", "write to FILE (whole or not at all) instead of stdout"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt export_opts[] = {
    {"format", 0, "FMT", "csv, json or parquet (default: from FILE's extension)"},
    {"as-of", 0, "COMMIT|TIME", "the rows as of a commit id or an ISO-8601 time"},
    {"limit", 'n', "N", "at most N rows"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt stats_opts[] = {
    {"commit", 'c', "ID", "the statistics as of this commit (default: the latest)"},
    {"column", 0, "NAME,...", "only these columns"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt expect_opts[] = {
    {"policy", 0, "POLICY", "always (store and report) or strict (refuse failing inserts); overrides the file's"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_verb verbs[] = {
    {"create", "PROJECT/NAME[:VERSION] (--features NAME:TYPE,... --primary-key NAME,... | --file SPEC.json)",
     "Create a feature group (any member).",
     "Without a version the group gets the next free one. The definition comes from\n"
     "flags, or from a JSON file with the REST body ({\"features\": [{\"name\", \"type\",\n"
     "\"description\"}], \"primary_key\", \"event_time\", ...}), which flags add to.\n"
     "\nExamples:\n"
     "  oast fg create demo/tx --features id:bigint,ts:timestamp,amount:double \\\n"
     "      --primary-key id --event-time ts --description 'card transactions'\n"
     "  oast fg create demo/tx:2 --file tx.json\n",
     create_opts, 1, 1, 0, create},
    {"list", "PROJECT", "List the feature groups of a project, every version.", NULL, NULL, 1, 1, 0, list},
    {"show", "PROJECT/NAME[:VERSION] [--as-of COMMIT|TIME] [--limit N]",
     "Show a feature group's definition and a preview of its rows.",
     "Without a version, the newest. --as-of previews the group as it was at a\n"
     "commit or a time (time travel).\n"
     "\nExample:\n  oast fg show demo/tx --limit 5\n",
     show_opts, 1, 1, 0, show},
    {"insert", "PROJECT/NAME[:VERSION] FILE [--format csv|ndjson|json] [--operation upsert|insert]",
     "Insert or upsert the rows of a file as one commit.",
     "FILE is CSV with a header row, NDJSON (one object per line) or a JSON array of\n"
     "objects; - reads stdin. The upload streams, with a progress bar on a terminal.\n"
     "The commit is all or nothing: a bad row is reported with its row and column\n"
     "and nothing is written.\n"
     "\nExample:\n  oast fg insert demo/tx transactions.csv\n",
     insert_opts, 2, 2, 0, insert},
    {"read", "PROJECT/NAME[:VERSION] [--format csv|json|parquet] [--as-of COMMIT|TIME] [-o FILE]",
     "Print a feature group's rows, latest or as of a commit or time.",
     "\nExamples:\n  oast fg read demo/tx --limit 20\n  oast fg read demo/tx --as-of 3 --format json\n", read_opts, 1,
     1, 0, read_},
    {"export", "PROJECT/NAME[:VERSION] FILE [--format csv|json|parquet] [--as-of COMMIT|TIME]",
     "Save a feature group's rows to a file (format from its extension).",
     "The file is written whole or not at all.\n"
     "\nExample:\n  oast fg export demo/tx tx.parquet --as-of 2024-05-01T00:00:00Z\n",
     export_opts, 2, 2, 0, export},
    {"commits", "PROJECT/NAME[:VERSION]", "List a feature group's commits, newest first.", NULL, NULL, 1, 1, 0,
     commits},
    {"stats", "PROJECT/NAME[:VERSION] [--commit ID] [--column NAME,...]",
     "Show a feature group's statistics and draw its histograms.",
     "Statistics are computed on every commit and kept with it: count, nulls,\n"
     "approximate distinct values, min, max, mean, stddev and a histogram per\n"
     "column, and correlations when the group asks for them.\n"
     "\nExample:\n  oast fg stats demo/tx --column amount\n",
     stats_opts, 1, 1, 0, stats},
    {"expectations set", "PROJECT/NAME[:VERSION] FILE [--policy always|strict]",
     "Set a feature group's expectations from a JSON file.",
     "FILE holds {\"policy\", \"rules\": [{\"column\", \"rule\", ...}]} or just the list of\n"
     "rules; - reads stdin. Rules: not_null, unique, min, max, between, in_set,\n"
     "regex, mean_between, completeness_at_least (see docs/api.md).\n"
     "\nExample:\n  oast fg expectations set demo/tx rules.json --policy strict\n",
     expect_opts, 2, 2, 0, expectations_set},
    {"expectations show", "PROJECT/NAME[:VERSION]", "Show a feature group's expectations.", NULL, NULL, 1, 1, 0,
     expectations_show},
    {"validations", "PROJECT/NAME[:VERSION]", "List the validation reports of a feature group's inserts.",
     "Refused strict inserts are listed too, as not ingested.\n", NULL, 1, 1, 0, validations},
    {"compact", "PROJECT/NAME[:VERSION]", "Rewrite the latest state of a feature group as one file.",
     "Reads get faster; every answer, time travel included, stays the same.\n", NULL, 1, 1, 0, compact},
    {"delete", "PROJECT/NAME:VERSION", "Delete a feature group version with its data (data owners only).", NULL,
     NULL, 1, 1, 0, delete},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_noun cli_noun_fg = {"fg", "feature groups: create, insert, read, time travel, statistics", verbs};
