/*
 * fstore.c — feature store services and read routes: data (with time
 * travel), commits, statistics, expectations, validations, compaction,
 * and the recovery at start (files of unfinished commits are removed, the
 * online store is rebuilt where it disagrees with the offline commits).
 */
#define _GNU_SOURCE
#include "fstore/fstore.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "formats/csv.h"
#include "formats/jsonrows.h"
#include "formats/parquet/parquet.h"
#include "fstore/fgdata.h"
#include "fstore/keyset.h"
#include "fstore/online.h"
#include "fstore/stats.h"
#include "http/server.h"
#include "meta/meta.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"

#define READ_MAX_LIMIT ((int64_t)1 << 40)

int fstore_expectations(struct req *r, const struct fgroup *g, const struct table *t, struct expect_suite **out,
                        oast_err *e) {
  *out = NULL;
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, "SELECT suite FROM fg_expectations WHERE fg_id = ?"), "i", g->id);
  json_t *suite = NULL;
  if (st && sqlite3_step(st) == SQLITE_ROW) suite = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
  if (st) sqlite3_reset(st);
  if (!suite) return 0;
  int rc = expect_parse(suite, t, out, e);
  json_decref(suite);
  return rc;
}

static struct stats_opts opts_of(const struct fgroup *g) {
  struct stats_opts o = {g->histograms, g->correlations, 0};
  return o;
}

static int load_stats(struct server *s, int64_t commit, struct stats **out, oast_err *e) {
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT stats FROM fg_commits WHERE id = ?"), "i", commit);
  json_t *j = NULL;
  if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
    j = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
  if (st) sqlite3_reset(st);
  *out = NULL;
  if (!j) return 0;
  int rc = stats_load(j, out, e);
  json_decref(j);
  return rc;
}

int fstore_commit_stats(struct req *r, const struct fgroup *g, const struct table *t, int64_t prev, int64_t rows_updated,
                        json_t **state, oast_err *e) {
  struct stats_opts o = opts_of(g);
  struct stats *st = NULL;
  int rc = 0;
  if (prev && rows_updated == 0) {
    if ((rc = load_stats(r->srv, prev, &st, e))) return rc;
  }
  if (!st) {
    st = stats_new(t, &o);
    if (prev) {
      /* Recompute: the previous state's rows whose key this commit replaces drop out. */
      struct table old;
      int64_t c;
      if ((rc = fgdata_read(r->srv, g, prev, NULL, 0, &old, &c, e))) {
        stats_free(st);
        return rc;
      }
      int keys[FG_MAX_FEATURES + 1];
      size_t nk = 0;
      for (size_t i = 0; i < g->npk; i++) keys[nk++] = g->pk[i];
      if (g->event_time >= 0) keys[nk++] = g->event_time;
      const struct table *both[2] = {t, &old};
      struct keyset ks;
      keyset_init(&ks, both, keys, nk, t->nrows);
      for (size_t i = 0; i < t->nrows; i++) keyset_add(&ks, 0, i, NULL, NULL);
      struct table kept;
      fgroup_table(g, &kept);
      for (size_t i = 0; i < old.nrows; i++)
        if (!keyset_has(&ks, 1, i))
          for (size_t c2 = 0; c2 < kept.ncols; c2++) column_append_from(&kept.cols[c2], &old.cols[c2], i);
      table_check(&kept, NULL);
      keyset_release(&ks);
      rc = stats_add(st, &kept, e);
      table_release(&kept);
      table_release(&old);
      if (rc) {
        stats_free(st);
        return rc;
      }
    }
  }
  rc = stats_add(st, t, e);
  if (!rc) *state = stats_save(st);
  stats_free(st);
  return rc;
}

int fstore_recover_group(struct server *s, int64_t fg_id, oast_err *e) {
  struct fgroup g;
  int rc = fgroup_load_id(s, fg_id, &g, e);
  if (rc) return rc;
  struct table t;
  int64_t commit = 0;
  rc = fgdata_read(s, &g, 0, NULL, 0, &t, &commit, e);
  if (!rc) rc = online_drop(s->online, fg_id, e);
  if (!rc && commit) rc = online_apply_latest(s->online, fg_id, &t, g.pk, g.npk, g.event_time, commit, e);
  table_release(&t);
  fgroup_release(&g);
  return rc;
}

/* Whether a group's file is one a commit row names (as its file or its snapshot). */
static bool file_named(struct server *s, int64_t fg_id, const char *name) {
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT 1 FROM fg_commits WHERE fg_id = ? AND (file = ? OR snapshot_file = ?)"),
                               "iss", fg_id, name, name);
  bool named = st && sqlite3_step(st) == SQLITE_ROW;
  if (st) sqlite3_reset(st);
  return named;
}

/*
 * Removes what a crash left in a group's directory: files of commits or
 * snapshots that were written but never committed, and half-written
 * temporary files. Readers only open files that commit rows name, so this
 * changes no answer; it only returns the space.
 */
static void sweep_group(struct server *s, int64_t fg_id) {
  struct fgroup g;
  if (fgroup_load_id(s, fg_id, &g, NULL)) return;
  char *dir = fgroup_dir(s, &g);
  DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    const char *n = de->d_name;
    bool tmp = !strncmp(n, ".oast-tmp-", 10);
    size_t len = strlen(n), digits = 0;
    while (1 + digits < len && n[1 + digits] >= '0' && n[1 + digits] <= '9') digits++;
    bool data = (n[0] == 'c' || n[0] == 's') && digits > 0 && !strcmp(n + 1 + digits, ".parquet");
    if (!tmp && !(data && !file_named(s, fg_id, n))) continue;
    char *path = fs_join(dir, n);
    if (unlink(path) == 0) log_info("feature group %s version %d: removed %s, left by an unfinished commit", g.name, g.version, n);
    free(path);
  }
  if (d) closedir(d);
  free(dir);
  fgroup_release(&g);
}

int fstore_recover(struct server *s, oast_err *e) {
  {
    sqlite3_stmt *all = meta_stmt(s->meta, "SELECT id FROM featuregroups");
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    while (all && sqlite3_step(all) == SQLITE_ROW) {
      if (n == cap) ids = xreallocarray(ids, cap = cap ? cap * 2 : 16, sizeof *ids);
      ids[n++] = sqlite3_column_int64(all, 0);
    }
    if (all) sqlite3_reset(all);
    for (size_t i = 0; i < n; i++) sweep_group(s, ids[i]);
    free(ids);
  }
  sqlite3_stmt *st = meta_stmt(s->meta,
                               "SELECT f.id, (SELECT coalesce(max(c.id), 0) FROM fg_commits c WHERE c.fg_id = f.id) "
                               "FROM featuregroups f WHERE f.online_enabled = 1");
  int64_t *ids = NULL;
  size_t n = 0, cap = 0;
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0), latest = sqlite3_column_int64(st, 1);
    if (online_marker(s->online, id) == latest) continue;
    if (n == cap) ids = xreallocarray(ids, cap = cap ? cap * 2 : 8, sizeof *ids);
    ids[n++] = id;
  }
  if (st) sqlite3_reset(st);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    log_warn("online store: feature group %lld disagrees with its offline commits; rebuilding it", (long long)ids[i]);
    rc = fstore_recover_group(s, ids[i], e);
  }
  free(ids);
  return rc;
}

/* ---- routes ---- */

/* as_of: a commit id (an integer) or an ISO-8601 time; 0 = latest. */
static int parse_as_of(struct req *r, const struct fgroup *g, int64_t *commit, oast_err *e) {
  const char *a = req_query(r, "as_of");
  *commit = 0;
  if (!a || !*a) return 0;
  char *end;
  long long id = strtoll(a, &end, 10);
  sqlite3_stmt *st;
  if (!*end) {
    st = meta_bind(meta_stmt(r->srv->meta, "SELECT id FROM fg_commits WHERE fg_id = ? AND id = ?"), "ii", g->id,
                   (int64_t)id);
    bool ok = st && sqlite3_step(st) == SQLITE_ROW;
    if (st) sqlite3_reset(st);
    if (!ok) return oast_err_set(e, OAST_ENOT_FOUND, "feature group \"%s\" has no commit %lld", g->name, id);
    *commit = id;
    return 0;
  }
  int64_t us;
  if (timestamp_parse(a, strlen(a), &us) != 0)
    return oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"as_of\" must be a commit id or an ISO-8601 time, not \"%.64s\"", a);
  st = meta_bind(meta_stmt(r->srv->meta, "SELECT max(id) FROM fg_commits WHERE fg_id = ? AND committed_on <= ?"), "ii",
                 g->id, us);
  if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) *commit = sqlite3_column_int64(st, 0);
  if (st) sqlite3_reset(st);
  if (!*commit) return oast_err_set(e, OAST_ENOT_FOUND, "feature group \"%s\" had no commit at %.64s", g->name, a);
  return 0;
}

/*
 * A CSV or JSON answer is made while it is sent: MHD asks for the next
 * bytes as the socket drains, and each ask formats the next batch of rows
 * into `out`. The table moves into the stream and is freed with it, so
 * nothing is written to disk and memory stays at the table plus one batch.
 */
#define STREAM_BATCH_ROWS 8192

struct row_stream {
  struct table t;       /* owned */
  size_t n, next;       /* rows to send, the next one to format */
  bool csv;
  int stage;            /* 0: header, 1: rows, 2: the end, 3: done */
  struct buf out;
  size_t off;           /* bytes of out already sent */
};

static void stream_fill(struct row_stream *st) {
  buf_reset(&st->out);
  st->off = 0;
  if (st->stage == 0) {
    if (st->csv) csv_write_header(&st->t, &st->out);
    else buf_putc(&st->out, '[');
    st->stage = 1;
  }
  if (st->stage == 1) {
    size_t to = st->next + STREAM_BATCH_ROWS < st->n ? st->next + STREAM_BATCH_ROWS : st->n;
    if (st->csv) csv_write_rows(&st->t, st->next, to, &st->out);
    else jsonrows_write_list(&st->t, st->next, to, &st->out);
    st->next = to;
    if (st->next >= st->n) st->stage = 2;
  } else if (st->stage == 2) {
    if (!st->csv) buf_puts(&st->out, "]\n");
    st->stage = 3;
  }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *dst, size_t max) {
  struct row_stream *st = cls;
  (void)pos;
  while (st->off == st->out.len) {
    if (st->stage == 3) return MHD_CONTENT_READER_END_OF_STREAM;
    stream_fill(st);
  }
  size_t k = st->out.len - st->off < max ? st->out.len - st->off : max;
  memcpy(dst, st->out.data + st->off, k);
  st->off += k;
  return (ssize_t)k;
}

static void stream_free(void *cls) {
  struct row_stream *st = cls;
  table_release(&st->t);
  buf_release(&st->out);
  free(st);
}

int fstore_read_query(struct req *r, const char **fmt, size_t *limit, oast_err *e) {
  *fmt = req_query(r, "format");
  if (!*fmt) *fmt = "json";
  if (strcmp(*fmt, "csv") && strcmp(*fmt, "json") && strcmp(*fmt, "parquet"))
    return oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"format\" must be csv, json or parquet");
  *limit = READ_MAX_LIMIT;
  const char *l = req_query(r, "limit");
  if (l) {
    char *end;
    long long x = strtoll(l, &end, 10);
    if (!*l || *end || x < 0)
      return oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"limit\" must be a non-negative integer");
    *limit = (size_t)x;
  }
  return 0;
}

int fstore_answer_table(struct req *r, struct resp *w, struct table *t, size_t n, const char *fmt, oast_err *e) {
  if (n > t->nrows) n = t->nrows;
  if (strcmp(fmt, "parquet")) {
    struct row_stream *st = xcalloc(1, sizeof *st);
    st->t = *t;
    memset(t, 0, sizeof *t);
    st->n = n;
    st->csv = !strcmp(fmt, "csv");
    buf_init(&st->out, 0);
    w->status = 200;
    w->raw = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 256 * 1024, stream_read, st, stream_free);
    if (!w->raw) {
      stream_free(st);
      return oast_err_set(e, OAST_EINTERNAL, "cannot create the response");
    }
    MHD_add_response_header(w->raw, MHD_HTTP_HEADER_CONTENT_TYPE, st->csv ? "text/csv" : "application/json");
    return 0;
  }
  /* Parquet needs the whole file first (its footer comes last): an unlinked temporary file. */
  char *path = xasprintf("%s/export-XXXXXX", r->srv->tmp_dir);
  int fd = mkostemp(path, O_CLOEXEC);
  if (fd < 0) {
    free(path);
    return oast_err_set(e, OAST_EIO, "cannot create a temporary file");
  }
  close(fd);
  struct table lim = *t;
  struct table copy = {0};
  if (n < t->nrows) {
    rows_table_like(&copy, t);
    for (size_t c = 0; c < t->ncols; c++)
      for (size_t i = 0; i < n; i++) column_append_from(&copy.cols[c], &t->cols[c], i);
    table_check(&copy, NULL);
    lim = copy;
  }
  struct pq_write_opts po;
  pq_write_opts_init(&po);
  int rc = pq_write_table(path, &lim, &po, e);
  table_release(&copy);
  fd = rc ? -1 : open(path, O_RDONLY | O_CLOEXEC);
  unlink(path);
  free(path);
  if (rc) return rc;
  if (fd < 0) return oast_err_set(e, OAST_EIO, "cannot reopen the export");
  off_t size = lseek(fd, 0, SEEK_END);
  lseek(fd, 0, SEEK_SET);
  resp_fd(w, 200, fd, (uint64_t)size, "application/vnd.apache.parquet");
  return 0;
}

static int fg_data(struct req *r, struct resp *w, oast_err *e) {
  struct fgroup g;
  int rc = fgroup_from_route(r, &g, e);
  if (rc) return rc;
  const char *fmt;
  size_t limit;
  int64_t as_of = 0, commit = 0;
  struct table t = {0};
  if ((rc = fstore_read_query(r, &fmt, &limit, e))) goto out;
  if ((rc = parse_as_of(r, &g, &as_of, e))) goto out;
  if ((rc = fgdata_read(r->srv, &g, as_of, NULL, 0, &t, &commit, e))) goto out;
  rc = fstore_answer_table(r, w, &t, limit, fmt, e);
  if (!rc && w->raw) {
    char c[32];
    snprintf(c, sizeof c, "%lld", (long long)commit);
    MHD_add_response_header(w->raw, "X-Oast-Commit", c);
  }
out:
  table_release(&t);
  fgroup_release(&g);
  return rc;
}

static int fg_commits(struct req *r, struct resp *w, oast_err *e) {
  struct fgroup g;
  int rc = fgroup_from_route(r, &g, e);
  if (rc) return rc;
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta,
                                         "SELECT id, committed_on, operation, rows_inserted, rows_updated, rows_deleted, "
                                         "snapshot_file IS NOT NULL FROM fg_commits WHERE fg_id = ? ORDER BY id DESC"),
                               "i", g.id);
  json_t *items = json_array();
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    char t[40];
    timestamp_format(sqlite3_column_int64(st, 1), t, sizeof t);
    json_array_append_new(items, json_pack("{s:I,s:s,s:s,s:I,s:I,s:I,s:b}", "commit_id",
                                           (json_int_t)sqlite3_column_int64(st, 0), "committed_on", t, "operation",
                                           (const char *)sqlite3_column_text(st, 2), "rows_inserted",
                                           (json_int_t)sqlite3_column_int64(st, 3), "rows_updated",
                                           (json_int_t)sqlite3_column_int64(st, 4), "rows_deleted",
                                           (json_int_t)sqlite3_column_int64(st, 5), "compacted", sqlite3_column_int(st, 6)));
  }
  if (st) sqlite3_reset(st);
  resp_items(w, items);
  fgroup_release(&g);
  return 0;
}

static int fg_statistics(struct req *r, struct resp *w, oast_err *e) {
  struct fgroup g;
  int rc = fgroup_from_route(r, &g, e);
  if (rc) return rc;
  int64_t commit = 0;
  const char *c = req_query(r, "commit");
  if (c) {
    char *end;
    commit = strtoll(c, &end, 10);
    if (!*c || *end || commit < 1) {
      rc = oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"commit\" must be a commit id");
      goto out;
    }
  } else {
    sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, "SELECT coalesce(max(id), 0) FROM fg_commits WHERE fg_id = ?"),
                                 "i", g.id);
    if (st && sqlite3_step(st) == SQLITE_ROW) commit = sqlite3_column_int64(st, 0);
    if (st) sqlite3_reset(st);
    if (!commit) {
      rc = oast_err_set(e, OAST_ENOT_FOUND, "feature group \"%s\" has no commits yet", g.name);
      goto out;
    }
  }
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, "SELECT 1 FROM fg_commits WHERE fg_id = ? AND id = ?"), "ii", g.id, commit);
  bool exists = st && sqlite3_step(st) == SQLITE_ROW;
  if (st) sqlite3_reset(st);
  if (!exists) {
    rc = oast_err_set(e, OAST_ENOT_FOUND, "feature group \"%s\" has no commit %lld", g.name, (long long)commit);
    goto out;
  }
  struct stats *s = NULL;
  if ((rc = load_stats(r->srv, commit, &s, e))) goto out;
  if (!s) {
    rc = oast_err_set(e, OAST_ENOT_FOUND, "statistics are disabled for feature group \"%s\"", g.name);
    goto out;
  }
  json_t *j = stats_json(s);
  stats_free(s);
  json_object_set_new(j, "commit_id", json_integer(commit));
  resp_json(w, 200, j);
out:
  fgroup_release(&g);
  return rc;
}

static int fg_put_expectations(struct req *r, struct resp *w, oast_err *e) {
  struct fgroup g;
  int rc = fgroup_from_route(r, &g, e);
  if (rc) return rc;
  json_t *b = NULL;
  struct table schema;
  fgroup_table(&g, &schema);
  struct expect_suite *suite = NULL;
  if ((rc = req_json(r, &b, e)) || (rc = expect_parse(b, &schema, &suite, e))) goto out;
  expect_suite_free(suite);
  char *text = json_dump(b);
  rc = meta_exec(r->srv->meta, e,
                 "INSERT INTO fg_expectations(fg_id, suite, updated) VALUES (?, ?, ?) "
                 "ON CONFLICT(fg_id) DO UPDATE SET suite = excluded.suite, updated = excluded.updated",
                 "isi", g.id, text, meta_now());
  free(text);
  if (!rc) resp_json(w, 200, json_incref(b));
out:
  json_decref(b);
  table_release(&schema);
  fgroup_release(&g);
  return rc;
}

static int fg_get_expectations(struct req *r, struct resp *w, oast_err *e) {
  struct fgroup g;
  int rc = fgroup_from_route(r, &g, e);
  if (rc) return rc;
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, "SELECT suite FROM fg_expectations WHERE fg_id = ?"), "i", g.id);
  json_t *j = NULL;
  if (st && sqlite3_step(st) == SQLITE_ROW) j = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
  if (st) sqlite3_reset(st);
  if (j) resp_json(w, 200, j);
  else rc = oast_err_set(e, OAST_ENOT_FOUND, "feature group \"%s\" has no expectations", g.name);
  fgroup_release(&g);
  return rc;
}

static int fg_validations(struct req *r, struct resp *w, oast_err *e) {
  struct fgroup g;
  int rc = fgroup_from_route(r, &g, e);
  if (rc) return rc;
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta,
                                         "SELECT id, commit_id, time, success, ingested, report FROM fg_validations "
                                         "WHERE fg_id = ? ORDER BY id DESC LIMIT 1000"),
                               "i", g.id);
  json_t *items = json_array();
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    char t[32];
    meta_time_iso(sqlite3_column_int64(st, 2), t);
    json_t *rep = json_loads((const char *)sqlite3_column_text(st, 5), 0, NULL);
    json_array_append_new(items, json_pack("{s:I,s:o,s:s,s:b,s:b,s:o}", "id", (json_int_t)sqlite3_column_int64(st, 0),
                                           "commit_id",
                                           sqlite3_column_type(st, 1) == SQLITE_NULL ? json_null()
                                                                                     : json_integer(sqlite3_column_int64(st, 1)),
                                           "time", t, "success", sqlite3_column_int(st, 3), "ingested",
                                           sqlite3_column_int(st, 4), "report", rep ? rep : json_object()));
  }
  if (st) sqlite3_reset(st);
  resp_items(w, items);
  fgroup_release(&g);
  return 0;
}

static int fg_compact(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  struct fgroup g;
  int rc = fgroup_from_route(r, &g, e);
  if (rc) return rc;
  struct table t = {0};
  int64_t commit = 0;
  char *dir = NULL, *file = NULL, *path = NULL;
  if ((rc = fgdata_read(s, &g, 0, NULL, 0, &t, &commit, e))) goto out;
  if (!commit) {
    rc = oast_err_set(e, OAST_ECONFLICT, "feature group \"%s\" has no commits to compact", g.name);
    goto out;
  }
  dir = fgroup_dir(s, &g);
  file = xasprintf("s%lld.parquet", (long long)commit);
  path = fs_join(dir, file);
  struct pq_write_opts po;
  pq_write_opts_init(&po);
  if ((rc = pq_write_table(path, &t, &po, e))) goto out;
  /* The snapshot counts only once its row says so; a lost race leaves a file no row names. */
  rc = meta_exec(s->meta, e, "UPDATE fg_commits SET snapshot_file = ? WHERE id = ? AND fg_id = ?", "sii", file, commit, g.id);
  if (rc) {
    unlink(path);
    goto out;
  }
  resp_json(w, 200, json_pack("{s:I,s:I}", "commit_id", (json_int_t)commit, "rows", (json_int_t)t.nrows));
out:
  table_release(&t);
  free(dir);
  free(file);
  free(path);
  fgroup_release(&g);
  return rc;
}

#define FG "/api/v1/projects/{p}/featurestore/featuregroups/{name}/versions/{v}"
const struct route fg_data_routes[] = {
    {"GET", FG "/data", ACCESS_MEMBER, 0, "featuregroup.read", fg_data, NULL},
    {"GET", FG "/commits", ACCESS_MEMBER, 0, "featuregroup.commits", fg_commits, NULL},
    {"GET", FG "/statistics", ACCESS_MEMBER, 0, "featuregroup.statistics", fg_statistics, NULL},
    {"PUT", FG "/expectations", ACCESS_MEMBER, 0, "featuregroup.expectations.set", fg_put_expectations, NULL},
    {"GET", FG "/expectations", ACCESS_MEMBER, 0, "featuregroup.expectations.get", fg_get_expectations, NULL},
    {"GET", FG "/validations", ACCESS_MEMBER, 0, "featuregroup.validations", fg_validations, NULL},
    {"POST", FG "/compact", ACCESS_MEMBER, 0, "featuregroup.compact", fg_compact, NULL},
    ROUTES_END,
};
