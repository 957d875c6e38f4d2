/*
 * td.c — `oast td`: training datasets made from a feature view (create,
 * list, show with statistics).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "util/alloc.h"

static const struct cli_col td_cols[] = {
    {"VERSION", "version", CELL_TEXT},
    {"ID", "id", CELL_TEXT},
    {"FORMAT", "format", CELL_TEXT},
    {"PATH", "path", CELL_TEXT},
    {"CREATED", "created", CELL_TEXT},
    {NULL, NULL, CELL_TEXT},
};

/* "train=0.8,test=0.2" into {"train": 0.8, "test": 0.2}; NULL on a malformed list. */
static json_t *parse_splits(const char *s) {
  json_t *o = json_object();
  char *copy = xstrdup(s), *save = NULL;
  for (char *part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(part, '='), *end;
    double f = eq ? strtod(eq + 1, &end) : 0;
    if (!eq || eq == part || !eq[1] || *end) {
      json_decref(o);
      o = NULL;
      break;
    }
    *eq = '\0';
    json_object_set_new(o, part, json_real(f));
  }
  free(copy);
  return o;
}

static void print_splits(struct cli_ctx *ctx, json_t *td) {
  static const char *const heads[] = {"SPLIT", "ROWS", "FILES"};
  struct cli_table t;
  cli_table_init(&t, 3, heads);
  const char *name;
  json_t *sp;
  json_object_foreach(json_object_get(td, "splits"), name, sp) {
    char rows[32], files[512] = "";
    snprintf(rows, sizeof rows, "%lld", (long long)json_integer_value(json_object_get(sp, "rows")));
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(sp, "files"), i, f)
        snprintf(files + strlen(files), sizeof files - strlen(files), "%s%s", i ? " " : "", json_string_value(f));
    const char *cells[] = {name, rows, files};
    cli_table_add(&t, cells);
  }
  cli_table_print(ctx, &t);
}

static int create(struct cli_ctx *ctx, struct cli_args *a) {
  int version;
  if (cli_fv_version(ctx, a, &version)) return CLI_USAGE;
  json_t *body = json_object();
  const char *fmt = cli_opt_get(a, "format"), *splits = cli_opt_get(a, "splits"), *seed = cli_opt_get(a, "seed");
  const char *start = cli_opt_get(a, "start-time"), *end = cli_opt_get(a, "end-time"),
             *desc = cli_opt_get(a, "description");
  if (fmt) json_object_set_new(body, "format", json_string(fmt));
  if (splits) {
    json_t *sp = parse_splits(splits);
    if (!sp) {
      json_decref(body);
      return cli_usage(ctx, "--splits must look like train=0.8,test=0.2");
    }
    json_object_set_new(body, "splits", sp);
  }
  if (seed) {
    char *e;
    long long n = strtoll(seed, &e, 10);
    if (!*seed || *e) {
      json_decref(body);
      return cli_usage(ctx, "--seed must be an integer");
    }
    json_object_set_new(body, "seed", json_integer(n));
  }
  if (start) json_object_set_new(body, "start_time", json_string(start));
  if (end) json_object_set_new(body, "end_time", json_string(end));
  if (desc) json_object_set_new(body, "description", json_string(desc));
  json_t *out = NULL;
  int rc = cli_call(ctx, "POST", body, &out, "/projects/%s/featurestore/featureviews/%s/versions/%d/trainingdata",
                    a->pos[0], a->pos[1], version);
  json_decref(body);
  if (rc == CLI_OK) {
    if (ctx->json) {
      cli_print_json(ctx, out);
    } else {
      fprintf(ctx->out, "created training dataset %s (%s, seed %lld) in %s/%s\n",
              json_string_value(json_object_get(out, "id")), json_string_value(json_object_get(out, "format")),
              (long long)json_integer_value(json_object_get(out, "seed")), a->pos[0],
              json_string_value(json_object_get(out, "path")));
      print_splits(ctx, out);
    }
  }
  json_decref(out);
  return rc;
}

static int list(struct cli_ctx *ctx, struct cli_args *a) {
  int version;
  if (cli_fv_version(ctx, a, &version)) return CLI_USAGE;
  return cli_get_items(ctx, td_cols, "/projects/%s/featurestore/featureviews/%s/versions/%d/trainingdata", a->pos[0],
                       a->pos[1], version);
}

static int show(struct cli_ctx *ctx, struct cli_args *a) {
  int version;
  if (cli_fv_version(ctx, a, &version)) return CLI_USAGE;
  char *end;
  long td = strtol(a->pos[2], &end, 10);
  if (!*a->pos[2] || *end || td < 1) return cli_usage(ctx, "TD must be a training dataset number");
  json_t *out = NULL;
  int rc = cli_call(ctx, "GET", NULL, &out, "/projects/%s/featurestore/featureviews/%s/versions/%d/trainingdata/%d",
                    a->pos[0], a->pos[1], version, (int)td);
  if (rc != CLI_OK) return rc;
  if (ctx->json) {
    cli_print_json(ctx, out);
  } else {
    static const struct cli_col cols[] = {
        {"id", "id", CELL_TEXT},         {"format", "format", CELL_TEXT}, {"path", "path", CELL_TEXT},
        {"seed", "seed", CELL_TEXT},     {"start_time", "start_time", CELL_TEXT},
        {"end_time", "end_time", CELL_TEXT}, {"creator", "creator", CELL_TEXT}, {"created", "created", CELL_TEXT},
        {NULL, NULL, CELL_TEXT},
    };
    cli_print_object(ctx, out, cols);
    fprintf(ctx->out, "\n");
    print_splits(ctx, out);
    /* Per split: count, nulls, mean of each column. */
    const char *split;
    json_t *st;
    json_object_foreach(json_object_get(out, "statistics"), split, st) {
      fprintf(ctx->out, "\nstatistics of %s:\n", split);
      static const struct cli_col scols[] = {
          {"COLUMN", "name", CELL_TEXT}, {"TYPE", "type", CELL_TEXT},   {"COUNT", "count", CELL_TEXT},
          {"NULLS", "null_count", CELL_TEXT}, {"MIN", "min", CELL_TEXT}, {"MAX", "max", CELL_TEXT},
          {"MEAN", "mean", CELL_TEXT},   {NULL, NULL, CELL_TEXT},
      };
      json_t *items = json_pack("{s:O}", "items", json_object_get(st, "columns"));
      cli_print_items(ctx, items, scols);
      json_decref(items);
    }
  }
  json_decref(out);
  return CLI_OK;
}

static const struct cli_opt create_opts[] = {
    {"version", 'v', "V", "the feature view's version (default 1)"},
    {"format", 'f', "FORMAT", "csv (default), tfrecord, npy, hdf5 or parquet"},
    {"splits", 's', "LIST", "split fractions summing to 1, e.g. train=0.8,test=0.2 (default: all in train)"},
    {"seed", 0, "N", "the shuffle's seed (default: drawn and reported)"},
    {"start-time", 0, "TIME", "keep rows whose event time is at or after TIME (ISO-8601)"},
    {"end-time", 0, "TIME", "keep rows whose event time is before TIME"},
    {"description", 'd', "TEXT", "what the dataset is for"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt version_opts[] = {
    {"version", 'v', "V", "the feature view's version (default 1)"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_verb verbs[] = {
    {"create", "PROJECT VIEW [--version V] [--format F] [--splits LIST] [--seed N]",
     "Write a training dataset of a feature view under TrainingDatasets/.",
     "Rows are the view's point-in-time join of its groups' latest data, dealt into\n"
     "seeded random splits; each split is written in the format with its statistics.\n"
     "\nExample:\n  oast td create demo churn --format parquet --splits train=0.8,test=0.2 --seed 7\n",
     create_opts, 2, 2, 0, create},
    {"list", "PROJECT VIEW [--version V]", "List the training datasets of a feature view.", NULL, version_opts, 2, 2, 0,
     list},
    {"show", "PROJECT VIEW TD [--version V]", "Show a training dataset: splits, files and statistics.", NULL,
     version_opts, 3, 3, 0, show},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL},
};

const struct cli_noun cli_noun_td = {"td", "training datasets of feature views", verbs};
