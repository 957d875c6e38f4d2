/*
 * trainingdata.c — training datasets made from a feature view:
 * POST/GET .../featureviews/{name}/versions/{v}/trainingdata[/{td}].
 *
 * Creating one reads the view (fview_read: latest commits, an optional
 * window on the left event time, the point-in-time join), deals its rows
 * into seeded random splits, and writes each split in the requested
 * format with its statistics:
 *
 *   TrainingDatasets/<view>_<version>_td<N>/
 *     training_dataset.json          what the folder holds (the GET answer)
 *     <split>/<split>.csv            csv: header and rows
 *     <split>/<split>.tfrecord       tfrecord: one tf.train.Example per row
 *     <split>/<split>.parquet        parquet
 *     <split>/<split>.h5             hdf5: /features and /labels
 *     <split>/features.npy, labels.npy   npy
 *
 * Files are written into a private folder under the server's tmp/ (which
 * a restart clears), then, in one metadata transaction, the dataset's
 * number N is taken, its row and its provenance edge (featureview →
 * trainingdata) are inserted and the folder is renamed into place; a
 * failure rolls back the row and removes the folder, so a dataset exists
 * whole or not at all.
 *
 * Splits: the rows are shuffled with a generator seeded by `seed` (given,
 * or drawn and reported), then cut in the canonical order of split names
 * (train, validation, test, then others by name) into shares of
 * round(fraction × rows) (the last split takes the rest); each split
 * keeps its rows in the view's order. The same view data and seed give
 * the same splits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/csv.h"
#include "formats/hdf5.h"
#include "formats/matrix.h"
#include "formats/npy.h"
#include "formats/parquet/parquet.h"
#include "formats/tfrecord.h"
#include "fstore/fview.h"
#include "fstore/stats.h"
#include "http/server.h"
#include "meta/meta.h"
#include "prov/prov.h"
#include "util/alloc.h"
#include "util/crypto.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/path.h"

#define TD_MAX_SPLITS 8

static const char *const formats[] = {"csv", "tfrecord", "npy", "hdf5", "parquet", NULL};

struct split {
  char name[64];
  double fraction;
  uint32_t *rows;    /* owned: rows of the view table */
  size_t n;
};

struct td_opts {
  const char *format;
  struct split splits[TD_MAX_SPLITS];
  size_t nsplits;
  uint64_t seed;
  bool has_window;
  int64_t start_us, end_us;
  json_t *start, *end;  /* borrowed, as given */
  const char *description;
};

static int split_rank(const char *n) {
  if (!strcmp(n, "train")) return 0;
  if (!strcmp(n, "validation")) return 1;
  if (!strcmp(n, "test")) return 2;
  return 3;
}

static int split_cmp(const void *a, const void *b) {
  const struct split *x = a, *y = b;
  int rx = split_rank(x->name), ry = split_rank(y->name);
  return rx != ry ? rx - ry : strcmp(x->name, y->name);
}

static int parse_time(json_t *v, const char *field, int64_t *us, oast_err *e) {
  if (json_is_integer(v)) {
    *us = json_integer_value(v) * 1000;
    return 0;
  }
  if (json_is_string(v) && timestamp_parse(json_string_value(v), json_string_length(v), us) == 0) return 0;
  return oast_err_set(e, OAST_EBAD_REQUEST, "field \"%s\" must be an ISO-8601 time or epoch milliseconds", field);
}

static int parse_opts(json_t *b, struct td_opts *o, oast_err *e) {
  static const char *const allowed[] = {"format", "splits", "seed", "start_time", "end_time", "description", NULL};
  memset(o, 0, sizeof *o);
  o->format = "csv";
  o->description = "";
  json_t *splits = NULL;
  int64_t seed = -1;
  int rc;
  if ((rc = json_only_fields(b, allowed, e)) || (rc = json_get_str(b, "format", false, &o->format, e)) ||
      (rc = json_get_obj(b, "splits", false, &splits, e)) || (rc = json_get_int(b, "seed", false, &seed, e)) ||
      (rc = json_get_str(b, "description", false, &o->description, e)))
    return rc;
  bool known = false;
  for (int i = 0; formats[i]; i++) known |= !strcmp(formats[i], o->format);
  if (!known)
    return oast_err_set(e, OAST_EBAD_REQUEST, "field \"format\" must be csv, tfrecord, npy, hdf5 or parquet, not \"%.32s\"",
                        o->format);
  if (strlen(o->description) > 4096)
    return oast_err_set(e, OAST_EBAD_REQUEST, "field \"description\" is longer than 4096 characters");
  if (json_object_get(b, "seed")) {
    if (seed < 0 || seed > ((int64_t)1 << 53))
      return oast_err_set(e, OAST_EBAD_REQUEST, "field \"seed\" must be an integer from 0 to 2^53");
    o->seed = (uint64_t)seed;
  } else {
    uint32_t r = 0;
    crypto_random(&r, sizeof r);
    o->seed = r;
  }
  if (!splits || json_object_size(splits) == 0) {
    snprintf(o->splits[0].name, sizeof o->splits[0].name, "train");
    o->splits[0].fraction = 1;
    o->nsplits = 1;
  } else {
    if (json_object_size(splits) > TD_MAX_SPLITS)
      return oast_err_set(e, OAST_EBAD_REQUEST, "field \"splits\" has %zu splits; at most %d are allowed",
                          json_object_size(splits), TD_MAX_SPLITS);
    const char *k;
    json_t *v;
    double sum = 0;
    json_object_foreach(splits, k, v) {
      if (!name_valid(k))
        return oast_err_set(e, OAST_EBAD_REQUEST, "field \"splits\": \"%.64s\" is not a valid split name", k);
      if (!json_is_number(v) || !(json_number_value(v) > 0) || json_number_value(v) > 1)
        return oast_err_set(e, OAST_EBAD_REQUEST, "field \"splits\": the fraction of \"%s\" must be a number in (0, 1]", k);
      struct split *s = &o->splits[o->nsplits++];
      snprintf(s->name, sizeof s->name, "%s", k);
      s->fraction = json_number_value(v);
      sum += s->fraction;
    }
    if (fabs(sum - 1) > 1e-6)
      return oast_err_set(e, OAST_EBAD_REQUEST, "field \"splits\": the fractions sum to %.6g; they must sum to 1", sum);
    qsort(o->splits, o->nsplits, sizeof o->splits[0], split_cmp);
  }
  o->start = json_object_get(b, "start_time");
  o->end = json_object_get(b, "end_time");
  if (o->start || o->end) {
    o->has_window = true;
    o->start_us = INT64_MIN;
    o->end_us = INT64_MAX;
    if (o->start && (rc = parse_time(o->start, "start_time", &o->start_us, e))) return rc;
    if (o->end && (rc = parse_time(o->end, "end_time", &o->end_us, e))) return rc;
    if (o->end_us <= o->start_us)
      return oast_err_set(e, OAST_EBAD_REQUEST, "field \"end_time\" must be later than \"start_time\"");
  }
  return 0;
}

/* splitmix64: a small, well-mixed generator; the seed fixes the shuffle. */
static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static int u32_cmp(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void deal(struct td_opts *o, size_t n) {
  uint32_t *perm = xmalloc((n ? n : 1) * sizeof *perm);
  for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
  uint64_t s = o->seed;
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)(splitmix(&s) % i);
    uint32_t t = perm[i - 1];
    perm[i - 1] = perm[j];
    perm[j] = t;
  }
  size_t at = 0;
  double cum = 0;
  for (size_t k = 0; k < o->nsplits; k++) {
    struct split *sp = &o->splits[k];
    cum += sp->fraction;
    size_t end = k + 1 == o->nsplits ? n : (size_t)llround(cum * (double)n);
    if (end > n) end = n;
    if (end < at) end = at;
    sp->n = end - at;
    sp->rows = xmalloc((sp->n ? sp->n : 1) * sizeof *sp->rows);
    memcpy(sp->rows, perm + at, sp->n * sizeof *sp->rows);
    qsort(sp->rows, sp->n, sizeof *sp->rows, u32_cmp);
    at = end;
  }
  free(perm);
}

/* The rows of t in idx[0..n) as a new table (out initialized here). */
static void take_rows(const struct table *t, const uint32_t *idx, size_t n, struct table *out) {
  const char **names = xcalloc(t->ncols ? t->ncols : 1, sizeof *names);
  enum ftype *types = xcalloc(t->ncols ? t->ncols : 1, sizeof *types);
  for (size_t c = 0; c < t->ncols; c++) {
    names[c] = t->cols[c].name;
    types[c] = t->cols[c].type;
  }
  table_init(out, t->ncols, names, types);
  for (size_t c = 0; c < t->ncols; c++) pit_gather(&out->cols[c], &t->cols[c], idx, n);
  out->nrows = n;
  free(names);
  free(types);
}

/* Writes one split's table in o->format into dir; appends the file names (relative to dir) to files. */
static int write_split(const struct fview *v, const char *format, const struct table *t, const char *dir,
                       const char *split, json_t *files, oast_err *e) {
  int rc = 0;
  char *path = NULL;
  if (!strcmp(format, "csv")) {
    path = xasprintf("%s/%s.csv", dir, split);
    struct fs_tmp f;
    struct buf b;
    buf_init(&b, 0);
    if ((rc = fs_tmp_open(&f, path, 0600, e))) goto out_csv;
    rc = csv_write_header(t, &b) ? oast_err_set(e, OAST_EINTERNAL, "cannot format the header") : 0;
    for (size_t from = 0; !rc && from < t->nrows; from += 65536) {
      size_t to = from + 65536 < t->nrows ? from + 65536 : t->nrows;
      if (csv_write_rows(t, from, to, &b)) rc = oast_err_set(e, OAST_EINTERNAL, "cannot format rows");
      if (!rc) rc = fs_tmp_write(&f, b.data, b.len, e);
      buf_reset(&b);
    }
    if (!rc && t->nrows == 0) rc = fs_tmp_write(&f, b.data, b.len, e);
    if (!rc) rc = fs_tmp_commit(&f, e);
    else fs_tmp_discard(&f);
  out_csv:
    buf_release(&b);
    json_array_append_new(files, json_sprintf("%s.csv", split));
  } else if (!strcmp(format, "tfrecord")) {
    path = xasprintf("%s/%s.tfrecord", dir, split);
    rc = tfrecord_write(path, t, e);
    json_array_append_new(files, json_sprintf("%s.tfrecord", split));
  } else if (!strcmp(format, "parquet")) {
    path = xasprintf("%s/%s.parquet", dir, split);
    struct pq_write_opts po;
    pq_write_opts_init(&po);
    rc = pq_write_table(path, t, &po, e);
    json_array_append_new(files, json_sprintf("%s.parquet", split));
  } else {
    /* npy and hdf5: features and labels as matrices. */
    int *fc = xcalloc(v->ncols, sizeof *fc), *lc = xcalloc(v->ncols, sizeof *lc);
    const char **fn = xcalloc(v->ncols, sizeof *fn), **ln = xcalloc(v->ncols, sizeof *ln);
    size_t nf = 0, nl = 0;
    for (size_t c = 0; c < v->ncols; c++) {
      if (v->cols[c].label) {
        ln[nl] = v->cols[c].name;
        lc[nl++] = (int)c;
      } else {
        fn[nf] = v->cols[c].name;
        fc[nf++] = (int)c;
      }
    }
    struct matrix fm, lm;
    memset(&lm, 0, sizeof lm);
    rc = matrix_from_table(t, fc, nf, &fm, e);
    if (!rc && nl) rc = matrix_from_table(t, lc, nl, &lm, e);
    if (!rc && !strcmp(format, "npy")) {
      path = xasprintf("%s/features.npy", dir);
      rc = npy_write(path, &fm, false, e);
      json_array_append_new(files, json_string("features.npy"));
      if (!rc && nl) {
        free(path);
        path = xasprintf("%s/labels.npy", dir);
        rc = npy_write(path, &lm, nl == 1, e);
        json_array_append_new(files, json_string("labels.npy"));
      }
    } else if (!rc) {
      path = xasprintf("%s/%s.h5", dir, split);
      rc = h5_write_training(path, &fm, fn, nl ? &lm : NULL, ln, e);
      json_array_append_new(files, json_sprintf("%s.h5", split));
    }
    matrix_release(&fm);
    matrix_release(&lm);
    free(fc);
    free(lc);
    free(fn);
    free(ln);
  }
  free(path);
  return rc;
}

static json_t *columns_json(const struct fview *v) {
  json_t *a = json_array();
  for (size_t c = 0; c < v->ncols; c++)
    json_array_append_new(a, json_pack("{s:s,s:s,s:b}", "name", v->cols[c].name, "type", ftype_name(v->cols[c].type),
                                       "label", v->cols[c].label));
  return a;
}

static int td_create(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  struct fview v;
  json_t *b = NULL, *commits = NULL, *splits = json_object(), *stats = json_object(), *result = NULL;
  struct table t = {0};
  struct td_opts o;
  memset(&o, 0, sizeof o);
  char *tmp = NULL, *pdir = NULL, *final = NULL, *trash = NULL, *rel = NULL;
  bool began = false, renamed = false;
  int rc = fview_from_route(r, &v, e);
  if (rc) goto out0;
  if ((rc = req_json(r, &b, e)) || (rc = parse_opts(b, &o, e))) goto out;
  if (!strcmp(o.format, "npy") || !strcmp(o.format, "hdf5"))
    for (size_t c = 0; c < v.ncols; c++)
      if (v.cols[c].type == FT_STRING) {
        rc = oast_err_set(e, OAST_EBAD_REQUEST,
                          "format \"%s\" holds numbers only, and column \"%s\" is a string; use csv, tfrecord or parquet",
                          o.format, v.cols[c].name);
        goto out;
      }
  if (o.has_window && v.groups[0].g.event_time < 0) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST,
                      "fields \"start_time\" and \"end_time\" filter on the event time, and feature group \"%s\" has none",
                      v.groups[0].g.name);
    goto out;
  }
  if ((rc = fview_read(s, &v, o.has_window, o.start_us, o.end_us, &t, &commits, e))) goto out;
  deal(&o, t.nrows);
  /* Write every split into a private folder. */
  tmp = xasprintf("%s/td-XXXXXX", s->tmp_dir);
  if (!mkdtemp(tmp)) {
    rc = oast_err_set(e, OAST_EIO, "cannot create a temporary folder: %s", strerror(errno));
    goto out;
  }
  struct stats_opts so = {true, false, 0};
  for (size_t k = 0; k < o.nsplits && !rc; k++) {
    struct table part;
    take_rows(&t, o.splits[k].rows, o.splits[k].n, &part);
    char *dir = xasprintf("%s/%s", tmp, o.splits[k].name);
    json_t *files = json_array();
    if (mkdir(dir, 0700) != 0) rc = oast_err_set(e, OAST_EIO, "cannot create %s: %s", dir, strerror(errno));
    if (!rc) rc = write_split(&v, o.format, &part, dir, o.splits[k].name, files, e);
    if (!rc) {
      json_t *paths = json_array();
      size_t i;
      json_t *f;
      json_array_foreach(files, i, f) json_array_append_new(paths, json_sprintf("%s/%s", o.splits[k].name, json_string_value(f)));
      json_object_set_new(splits, o.splits[k].name,
                          json_pack("{s:I,s:f,s:o}", "rows", (json_int_t)part.nrows, "fraction", o.splits[k].fraction,
                                    "files", paths));
      json_object_set_new(stats, o.splits[k].name, stats_of_table(&part, &so));
    }
    json_decref(files);
    free(dir);
    table_release(&part);
  }
  if (rc) goto out;
  fs_fsync_dir(tmp);
  /* Commit: number, row, lineage, folder in place. */
  if ((rc = meta_begin(s->meta, e))) goto out;
  began = true;
  int n = 1;
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT coalesce(max(version), 0) + 1 FROM training_datasets WHERE fv_id = ?"),
                               "i", v.id);
  if (st && sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
  if (st) sqlite3_reset(st);
  char id[128];
  snprintf(id, sizeof id, "%s_%d_td%d", v.name, v.version, n);
  rel = xasprintf("TrainingDatasets/%s", id);
  pdir = server_project_dir(s, r->proj.name);
  final = xasprintf("%s/%s", pdir, rel);
  snprintf(r->audit_target, sizeof r->audit_target, "trainingdata:%s", id);
  char created[32];
  meta_time_iso(meta_now(), created);
  result = json_pack("{s:s,s:i,s:s,s:i,s:s,s:s,s:s,s:I,s:O,s:O,s:O,s:o,s:O,s:O,s:s,s:s}", "id", id, "version", n,
                     "featureview", v.name, "featureview_version", v.version, "format", o.format, "description",
                     o.description, "path", rel, "seed", (json_int_t)o.seed, "start_time",
                     o.start ? o.start : json_null(), "end_time", o.end ? o.end : json_null(), "splits", splits,
                     "columns", columns_json(&v), "labels", json_object_get(v.spec, "labels"), "commits", commits,
                     "creator", r->who.username, "created", created);
  {
    json_t *meta_file = json_deep_copy(result);
    json_object_set(meta_file, "statistics", stats);
    char *text = json_dumps(meta_file, JSON_INDENT(2));
    char *mpath = xasprintf("%s/training_dataset.json", tmp);
    rc = fs_write_atomic(mpath, text, strlen(text), 0600, e);
    free(mpath);
    free(text);
    json_decref(meta_file);
  }
  if (rc) goto out;
  json_t *stored = json_deep_copy(result);
  json_object_set(stored, "statistics", stats);
  char *stored_text = json_dump(stored), *btext = json_dump(b);
  json_decref(stored);
  rc = meta_exec(s->meta, e,
                 "INSERT INTO training_datasets(fv_id, version, format, spec, result, path, creator, created) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 "iisssssi", v.id, (int64_t)n, o.format, btext, stored_text, rel, r->who.username, meta_now());
  free(btext);
  free(stored_text);
  if (rc) goto out;
  char src[96];
  snprintf(src, sizeof src, "%s:%d", v.name, v.version);
  if ((rc = prov_add(s, r->proj.id, "featureview", src, "trainingdata", id, "materialized_from", e))) goto out;
  if (fs_exists(final)) {
    /* A folder no row names: left by a crash between rename and commit. */
    trash = xasprintf("%s/fs/.trash/td-%lld", s->cfg.home, (long long)meta_now_us());
    char *tdir = xasprintf("%s/fs/.trash", s->cfg.home);
    fs_mkdirs(tdir, 0700, NULL);
    free(tdir);
    if (rename(final, trash) != 0) {
      rc = oast_err_set(e, OAST_EIO, "cannot clear %s: %s", rel, strerror(errno));
      goto out;
    }
    fs_remove_tree(trash, NULL);
  }
  if (rename(tmp, final) != 0) {
    rc = oast_err_set(e, OAST_EIO, "cannot move the training dataset into %s: %s", rel, strerror(errno));
    goto out;
  }
  renamed = true;
  char *parent = xasprintf("%s/TrainingDatasets", pdir);
  fs_fsync_dir(parent);
  free(parent);
  if ((rc = meta_commit(s->meta, e))) goto out;
  began = false;
  resp_json(w, 201, json_incref(result));
out:
  if (began) {
    meta_rollback(s->meta);
    if (renamed) rename(final, tmp);
  }
  if (tmp && rc) fs_remove_tree(tmp, NULL);
  for (size_t k = 0; k < o.nsplits; k++) free(o.splits[k].rows);
  table_release(&t);
  json_decref(b);
  json_decref(commits);
  json_decref(result);
  fview_release(&v);
out0:
  json_decref(splits);
  json_decref(stats);
  free(tmp);
  free(pdir);
  free(final);
  free(trash);
  free(rel);
  return rc;
}

/* The stored answer of a dataset row; with_stats keeps "statistics". New reference or NULL. */
static json_t *stored_json(const char *text, bool with_stats) {
  json_t *j = json_loads(text, 0, NULL);
  if (j && !with_stats) json_object_del(j, "statistics");
  return j;
}

static int td_list(struct req *r, struct resp *w, oast_err *e) {
  int64_t id;
  int version;
  int rc = fview_route_id(r, &id, &version, e);
  if (rc) return rc;
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, "SELECT result FROM training_datasets WHERE fv_id = ? ORDER BY version"),
                               "i", id);
  json_t *items = json_array();
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    json_t *j = stored_json((const char *)sqlite3_column_text(st, 0), false);
    if (j) json_array_append_new(items, j);
  }
  if (st) sqlite3_reset(st);
  resp_items(w, items);
  return 0;
}

static int td_get(struct req *r, struct resp *w, oast_err *e) {
  int64_t id;
  int version;
  int rc = fview_route_id(r, &id, &version, e);
  if (rc) return rc;
  const char *tds = req_param(r, "td");
  char *end;
  long td = strtol(tds ? tds : "", &end, 10);
  if (!tds || !*tds || *end || td < 1 || td > 1000000000)
    return oast_err_set(e, OAST_EBAD_REQUEST, "the training dataset number in the path must be a positive integer");
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, "SELECT result FROM training_datasets WHERE fv_id = ? AND version = ?"),
                               "ii", id, (int64_t)td);
  json_t *j = NULL;
  if (st && sqlite3_step(st) == SQLITE_ROW) j = stored_json((const char *)sqlite3_column_text(st, 0), true);
  if (st) sqlite3_reset(st);
  if (!j)
    return oast_err_set(e, OAST_ENOT_FOUND, "feature view \"%s\" version %s has no training dataset %ld", req_param(r, "name"),
                        req_param(r, "v"), td);
  resp_json(w, 200, j);
  return 0;
}

#define TD "/api/v1/projects/{p}/featurestore/featureviews/{name}/versions/{v}/trainingdata"
const struct route td_routes[] = {
    {"POST", TD, ACCESS_MEMBER, 0, "trainingdata.create", td_create, NULL},
    {"GET", TD, ACCESS_MEMBER, 0, "trainingdata.list", td_list, NULL},
    {"GET", TD "/{td}", ACCESS_MEMBER, 0, "trainingdata.get", td_get, NULL},
    ROUTES_END,
};
