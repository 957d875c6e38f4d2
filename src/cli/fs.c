/*
 * fs.c — `oast fs`: the files of a project's datasets, addressed as
 * PROJECT/DATASET/PATH (a dataset shared from project q and accepted is
 * PROJECT/q::DATASET/PATH).
 *
 * put and get move raw bytes through liboast's streaming calls, so a file
 * of any size costs constant memory; get writes to a temporary file and
 * renames it into place only when the download is complete. Both show a
 * progress bar on a terminal. put and get behave like cp where it helps:
 * a destination that is a directory (remotely or locally) receives the
 * file under its own name.
 */
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/command.h"
#include "client/client_json.h"
#include "util/alloc.h"
#include "util/fs.h"

/* The server caps its answers to previews; this only bounds what the client buffers. */
#define PREVIEW_MAX ((size_t)64 << 20)

struct remote {
  char *project;
  char *rest;    /* DATASET/PATH, "" for the project itself */
  bool slash;    /* the argument ended with '/' */
};

static void remote_free(struct remote *r) {
  free(r->project);
  free(r->rest);
}

/* Parses arg; need: 0 anything, 1 at least a dataset, 2 a path inside a dataset. */
static int remote(struct cli_ctx *ctx, const char *arg, int need, struct remote *r) {
  oast_err e;
  if (cli_remote_parse(arg, &r->project, &r->rest, &r->slash, &e) != 0) return cli_usage(ctx, "%s", e.msg);
  if ((need >= 1 && !*r->rest) || (need >= 2 && !strchr(r->rest, '/'))) {
    remote_free(r);
    return cli_usage(ctx, "\"%s\" does not name %s; write PROJECT/DATASET%s", arg,
                     need >= 2 ? "a path inside a dataset" : "a dataset", need >= 2 ? "/PATH" : "[/PATH]");
  }
  return CLI_OK;
}

/* The last component of a path (allocated). */
static char *base_name(const char *p) {
  char *copy = xstrdup(p);
  char *b = xstrdup(basename(copy));
  free(copy);
  return b;
}

/* GET ?op=stat without printing errors; *out is the item. */
static int stat_remote(struct cli_ctx *ctx, const struct remote *r, json_t **out, oast_err *e) {
  char *path = cli_path("/projects/%s/files/%P?op=stat", r->project, r->rest);
  int rc = client_request_json(ctx->client, "GET", path, NULL, NULL, out, e);
  free(path);
  return rc;
}

static bool is_dir_item(json_t *item) {
  const char *t = json_string_value(json_object_get(item, "type"));
  return t && strcmp(t, "dir") == 0;
}

static void print_listing(struct cli_ctx *ctx, json_t *resp) {
  static const char *const headers[] = {"NAME", "TYPE", "SIZE", "MODIFIED"};
  if (ctx->json) {
    cli_print_json(ctx, resp);
    return;
  }
  struct cli_table t;
  cli_table_init(&t, 4, headers);
  size_t i;
  json_t *item;
  json_array_foreach(json_object_get(resp, "items"), i, item) {
    bool dir = is_dir_item(item);
    char *name = cli_cell_text(json_object_get(item, "name"), CELL_TEXT);
    char *shown = dir ? xasprintf("%s/", name) : xstrdup(name);
    char *type = cli_cell_text(json_object_get(item, "type"), CELL_TEXT);
    char *size = dir ? xstrdup("-") : cli_cell_text(json_object_get(item, "size"), CELL_SIZE);
    char *mod = cli_cell_text(json_object_get(item, "modified"), CELL_TEXT);
    const char *cells[] = {shown, type, size, mod};
    cli_table_add(&t, cells);
    free(name);
    free(shown);
    free(type);
    free(size);
    free(mod);
  }
  cli_table_print(ctx, &t);
}

static int ls(struct cli_ctx *ctx, struct cli_args *a) {
  struct remote r;
  int rc = remote(ctx, a->pos[0], 0, &r);
  if (rc) return rc;
  if (!*r.rest) {
    rc = cli_dataset_list(ctx, r.project);
    remote_free(&r);
    return rc;
  }
  oast_err e;
  json_t *out = NULL;
  char *path = cli_path("/projects/%s/files/%P?op=list", r.project, r.rest);
  rc = client_request_json(ctx->client, "GET", path, NULL, NULL, &out, &e);
  free(path);
  if (rc == OAST_EBAD_REQUEST) {
    /* Listing a file is refused; like ls, show the file itself. */
    json_t *item = NULL;
    oast_err e2;
    if (stat_remote(ctx, &r, &item, &e2) == 0 && !is_dir_item(item)) {
      out = json_pack("{s:[o]}", "items", item);
      rc = 0;
    } else {
      json_decref(item);
    }
  }
  if (rc == 0) print_listing(ctx, out);
  else rc = cli_fail(ctx, &e);
  json_decref(out);
  remote_free(&r);
  return rc ? CLI_FAIL : CLI_OK;
}

static int stat_(struct cli_ctx *ctx, struct cli_args *a) {
  static const struct cli_col cols[] = {
      {"NAME", "name", CELL_TEXT},
      {"TYPE", "type", CELL_TEXT},
      {"SIZE", "size", CELL_TEXT},
      {"MODIFIED", "modified", CELL_TEXT},
      {NULL, NULL, CELL_TEXT},
  };
  struct remote r;
  int rc = remote(ctx, a->pos[0], 1, &r);
  if (rc) return rc;
  rc = cli_get_object(ctx, cols, "/projects/%s/files/%P?op=stat", r.project, r.rest);
  remote_free(&r);
  return rc;
}

static int put(struct cli_ctx *ctx, struct cli_args *a) {
  const char *local = a->pos[0];
  bool from_stdin = strcmp(local, "-") == 0;
  struct remote r;
  int rc = remote(ctx, a->pos[1], 1, &r);
  if (rc) return rc;
  char *target = NULL, *resp = NULL;
  oast_err e;
  bool root = !strchr(r.rest, '/');
  if (from_stdin) {
    if (r.slash || root) {
      rc = cli_usage(ctx, "name the file to write from stdin: PROJECT/DATASET/PATH");
      goto out;
    }
    target = xstrdup(r.rest);
  } else {
    struct stat st;
    if (stat(local, &st) != 0) {
      oast_err_set(&e, OAST_EIO, "cannot open %s: %s", local, strerror(errno));
      rc = cli_fail(ctx, &e);
      goto out;
    }
    if (!S_ISREG(st.st_mode)) {
      oast_err_set(&e, OAST_EBAD_REQUEST, "%s is not a regular file; fs put uploads one file", local);
      rc = cli_fail(ctx, &e);
      goto out;
    }
    bool into_dir = r.slash || root;
    if (!into_dir) {
      json_t *item = NULL;
      oast_err ignored;
      into_dir = stat_remote(ctx, &r, &item, &ignored) == 0 && is_dir_item(item);
      json_decref(item);
    }
    if (into_dir) {
      char *b = base_name(local);
      target = xasprintf("%s/%s", r.rest, b);
      free(b);
    } else {
      target = xstrdup(r.rest);
    }
  }
  char *shown = xasprintf("%s/%s", r.project, target);
  char *path = cli_path("/projects/%s/files/%P", r.project, target);
  struct cli_progress prog;
  cli_progress_init(&prog, ctx->err, ctx->progress, shown);
  if (from_stdin)
    rc = oast_upload(ctx->client, path, stdin, -1, cli_progress_cb, &prog, NULL, &resp, &e);
  else
    rc = oast_upload_file(ctx->client, path, local, cli_progress_cb, &prog, NULL, &resp, &e);
  cli_progress_end(&prog, rc == 0);
  free(path);
  if (rc) {
    rc = cli_fail(ctx, &e);
  } else {
    json_t *j = json_loads(resp, JSON_DECODE_ANY, NULL);
    char size[32];
    json_t *sz = json_object_get(j, "size");
    cli_human_size(json_is_integer(sz) ? (uint64_t)json_integer_value(sz) : prog.done, size, sizeof size);
    cli_done(ctx, j, "uploaded %s to %s (%s)", from_stdin ? "stdin" : local, shown, size);
    json_decref(j);
    rc = CLI_OK;
  }
  free(shown);
out:
  free(resp);
  free(target);
  remote_free(&r);
  return rc;
}

static int get(struct cli_ctx *ctx, struct cli_args *a) {
  struct remote r;
  int rc = remote(ctx, a->pos[0], 2, &r);
  if (rc) return rc;
  char *b = base_name(r.rest);
  const char *dest = a->npos > 1 ? a->pos[1] : b;
  bool to_stdout = strcmp(dest, "-") == 0;
  char *local = !to_stdout && fs_is_dir(dest) ? fs_join(dest, b) : xstrdup(dest);
  char *shown = xasprintf("%s/%s", r.project, r.rest);
  char *path = cli_path("/projects/%s/files/%P", r.project, r.rest);
  struct cli_progress prog;
  cli_progress_init(&prog, ctx->err, ctx->progress, shown);
  oast_err e;
  uint64_t size = 0;
  if (to_stdout)
    rc = oast_download(ctx->client, path, stdout, cli_progress_cb, &prog, &size, &e);
  else
    rc = oast_download_file(ctx->client, path, local, cli_progress_cb, &prog, &size, &e);
  cli_progress_end(&prog, rc == 0);
  if (rc) {
    rc = cli_fail(ctx, &e);
  } else {
    if (!to_stdout) {
      json_t *j = json_pack("{s:s, s:I}", "path", local, "size", (json_int_t)size);
      char hs[32];
      cli_done(ctx, j, "downloaded %s to %s (%s)", shown, local, cli_human_size(size, hs, sizeof hs));
      json_decref(j);
    }
    rc = CLI_OK;
  }
  free(path);
  free(shown);
  free(local);
  free(b);
  remote_free(&r);
  return rc;
}

static int cat(struct cli_ctx *ctx, struct cli_args *a) {
  const char *head = cli_opt_get(a, "head"), *tail = cli_opt_get(a, "tail");
  if (head && tail) return cli_usage(ctx, "give --head or --tail, not both");
  const char *n = head ? head : tail;
  if (n) {
    char *end;
    long v = strtol(n, &end, 10);
    if (*end || end == n || v < 1) return cli_usage(ctx, "--%s needs a positive number of lines, not \"%s\"",
                                                     head ? "head" : "tail", n);
  }
  struct remote r;
  int rc = remote(ctx, a->pos[0], 2, &r);
  if (rc) return rc;
  oast_err e;
  char *path;
  if (n) {
    path = cli_path("/projects/%s/files/%P?op=preview&mode=%r&lines=%r", r.project, r.rest, head ? "head" : "tail", n);
    char *text = NULL;
    size_t len = 0;
    rc = oast_get_text(ctx->client, path, PREVIEW_MAX, &text, &len, &e);
    if (rc == 0) fwrite(text, 1, len, ctx->out);
    free(text);
  } else {
    path = cli_path("/projects/%s/files/%P", r.project, r.rest);
    rc = oast_download(ctx->client, path, ctx->out, NULL, NULL, NULL, &e);
  }
  free(path);
  remote_free(&r);
  return rc ? cli_fail(ctx, &e) : CLI_OK;
}

static int mkdir_(struct cli_ctx *ctx, struct cli_args *a) {
  struct remote r;
  int rc = remote(ctx, a->pos[0], 2, &r);
  if (rc) return rc;
  json_t *out = NULL;
  rc = cli_call(ctx, "POST", NULL, &out, "/projects/%s/files/%P?op=mkdir", r.project, r.rest);
  if (rc == CLI_OK) cli_done(ctx, out, "created directory %s/%s", r.project, r.rest);
  json_decref(out);
  remote_free(&r);
  return rc;
}

static int rm(struct cli_ctx *ctx, struct cli_args *a) {
  struct remote r;
  int rc = remote(ctx, a->pos[0], 2, &r);
  if (rc) return rc;
  json_t *item = NULL;
  oast_err e;
  if (stat_remote(ctx, &r, &item, &e) != 0) {
    rc = cli_fail(ctx, &e);
    goto out;
  }
  if (is_dir_item(item) && !cli_flag(a, "recursive")) {
    oast_err_set(&e, OAST_EBAD_REQUEST, "%s/%s is a directory; use rm -r to remove it and everything in it",
                 r.project, r.rest);
    rc = cli_fail(ctx, &e);
    goto out;
  }
  rc = cli_call(ctx, "DELETE", NULL, NULL, "/projects/%s/files/%P", r.project, r.rest);
  if (rc == CLI_OK) cli_done(ctx, NULL, "removed %s/%s", r.project, r.rest);
out:
  json_decref(item);
  remote_free(&r);
  return rc;
}

static const struct cli_opt cat_opts[] = {
    {"head", 0, "N", "only the first N lines (any member; N at most 1000)"},
    {"tail", 0, "N", "only the last N lines (any member; N at most 1000)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt rm_opts[] = {
    {"recursive", 'r', NULL, "remove a directory and everything in it"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_verb verbs[] = {
    {"ls", "PROJECT[/DATASET[/PATH]]", "List a directory, a dataset's top level, or a project's datasets.",
     "Example:\n  oast fs ls demo/Resources\n", NULL, 1, 1, 0, ls},
    {"stat", "PROJECT/DATASET[/PATH]", "Show a file's or directory's type, size and modification time.", NULL,
     NULL, 1, 1, 0, stat_},
    {"put", "LOCAL PROJECT/DATASET[/PATH]", "Upload a file (data owners only).",
     "LOCAL - reads stdin. When the destination is a dataset, an existing directory\n"
     "or ends with '/', the file keeps its name inside it. Missing parent\n"
     "directories are created. An existing file is replaced whole.\n"
     "\nExamples:\n  oast fs put data.csv demo/Resources/\n"
     "  gzip -c big.csv | oast fs put - demo/Resources/big.csv.gz\n",
     NULL, 2, 2, 0, put},
    {"get", "PROJECT/DATASET/PATH [LOCAL]", "Download a file (data owners only).",
     "LOCAL defaults to the file's name in the current directory; a directory\n"
     "receives the file under its name; - writes to stdout. The local file is\n"
     "replaced only once the whole download has arrived.\n"
     "\nExample:\n  oast fs get demo/Resources/data.csv /tmp/\n",
     NULL, 1, 2, 0, get},
    {"cat", "PROJECT/DATASET/PATH [--head N | --tail N]", "Print a file, or its first or last lines.",
     "Without --head or --tail the whole file is downloaded (data owners only);\n"
     "--head and --tail ask the server for a preview, which any member may see.\n"
     "\nExample:\n  oast fs cat demo/Resources/data.csv --head 5\n",
     cat_opts, 1, 1, 0, cat},
    {"mkdir", "PROJECT/DATASET/PATH", "Create a directory (and missing parents).", NULL, NULL, 1, 1, 0, mkdir_},
    {"rm", "[-r] PROJECT/DATASET/PATH", "Remove a file, or with -r a directory and its contents.", NULL, rm_opts,
     1, 1, 0, rm},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_noun cli_noun_fs = {"fs", "files in a project's datasets", verbs};
