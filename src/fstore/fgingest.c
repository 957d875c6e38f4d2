/*
 * fgingest.c — inserting into a feature group: one commit.
 *
 * POST .../featuregroups/{name}/versions/{v}/data?operation=insert|upsert
 * with a CSV (text/csv, header row), NDJSON (application/x-ndjson) or JSON
 * array (application/json) body. The body streams into a temporary file
 * (the router's upload path, capped), is parsed into a table of the group's
 * schema (every error names row and column), checked for missing or
 * duplicate keys, validated against the group's expectations, compared
 * with the existing keys (upsert counts updates; insert refuses existing
 * keys), and committed:
 *
 *   BEGIN; insert the commit row (its id names the file);
 *   write c<id>.parquet (temp, fsync, rename);
 *   statistics, validation report, online store rows and marker;
 *   COMMIT.
 *
 * A failure anywhere rolls back the row and removes the file, so readers
 * (who only read files named by committed rows) never see a half commit.
 * A crash between the rename and COMMIT leaves an orphan file that no row
 * names; the next commit reuses the id and replaces it. The online store
 * is written before COMMIT with the commit id as its marker, so after a
 * crash its marker is either the last committed id or a rolled-back one,
 * which the start-up check (fstore_recover) detects and rebuilds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "formats/csv.h"
#include "formats/jsonrows.h"
#include "formats/parquet/parquet.h"
#include "fstore/expect.h"
#include "fstore/fgdata.h"
#include "fstore/fgroup.h"
#include "fstore/fstore.h"
#include "fstore/keyset.h"
#include "fstore/online.h"
#include "fstore/stats.h"
#include "http/server.h"
#include "meta/meta.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/json.h"

enum body_format { BODY_CSV, BODY_NDJSON, BODY_JSON };

struct ingest {
  struct fgroup g;
  enum body_format fmt;
  bool upsert;
};

static void ingest_free(void *p) {
  struct ingest *in = p;
  fgroup_release(&in->g);
  free(in);
}

static int body_format(struct req *r, enum body_format *f, oast_err *e) {
  const char *ct = req_header(r, "Content-Type");
  char type[64] = "";
  if (ct) {
    size_t n = strcspn(ct, "; ");
    snprintf(type, sizeof type, "%.*s", (int)(n < sizeof type ? n : sizeof type - 1), ct);
  }
  if (!strcasecmp(type, "text/csv")) *f = BODY_CSV;
  else if (!strcasecmp(type, "application/x-ndjson")) *f = BODY_NDJSON;
  else if (!strcasecmp(type, "application/json")) *f = BODY_JSON;
  else
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "header \"Content-Type\" must be text/csv, application/x-ndjson or application/json, not \"%.64s\"",
                        type[0] ? type : "(none)");
  return 0;
}

static int ingest_begin(struct req *r, oast_err *e) {
  struct ingest *in = xcalloc(1, sizeof *in);
  in->g.event_time = -1;
  r->state = in;
  r->state_free = ingest_free;
  int rc = fgroup_from_route(r, &in->g, e);
  if (rc) return rc;
  const char *op = req_query(r, "operation");
  if (!op || !strcmp(op, "upsert")) in->upsert = true;
  else if (strcmp(op, "insert"))
    return oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"operation\" must be \"insert\" or \"upsert\"");
  if ((rc = body_format(r, &in->fmt, e))) return rc;
  char *target = xasprintf("%s/ingest", r->srv->tmp_dir);
  rc = fs_tmp_open(&r->upload, target, 0600, e);
  free(target);
  if (rc) return rc;
  r->upload_open = true;
  return 0;
}

/* Parses the uploaded body (at fd) into t. */
static int parse_body(struct ingest *in, int fd, struct table *t, oast_err *e) {
  const struct fgroup *g = &in->g;
  const char **names = xcalloc(g->nfeatures, sizeof *names);
  enum ftype *types = xcalloc(g->nfeatures, sizeof *types);
  bool *required = xcalloc(g->nfeatures, sizeof *required);
  for (size_t i = 0; i < g->nfeatures; i++) {
    names[i] = g->features[i].name;
    types[i] = g->features[i].type;
  }
  for (size_t i = 0; i < g->npk; i++) required[g->pk[i]] = true;
  if (g->event_time >= 0) required[g->event_time] = true;
  struct rows_schema schema = {g->nfeatures, names, types, required};
  struct csv_reader *cr = NULL;
  struct jsonrows_reader *jr = NULL;
  if (in->fmt == BODY_CSV) cr = csv_reader_new(&schema, 0);
  else jr = jsonrows_reader_new(&schema, in->fmt == BODY_NDJSON ? JSONROWS_NDJSON : JSONROWS_ARRAY, 0);
  size_t bufsz = 1 << 20;
  char *buf = xmalloc(bufsz);
  int rc = 0;
  for (;;) {
    ssize_t n = read(fd, buf, bufsz);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = oast_err_set(e, OAST_EIO, "cannot read the uploaded body");
      break;
    }
    if (n == 0) break;
    rc = cr ? csv_feed(cr, buf, (size_t)n, e) : jsonrows_feed(jr, buf, (size_t)n, e);
    if (rc) break;
  }
  if (!rc) rc = cr ? csv_finish(cr, e) : jsonrows_finish(jr, e);
  if (!rc) {
    if (cr) csv_take(cr, t);
    else jsonrows_take(jr, t);
  }
  csv_reader_free(cr);
  jsonrows_reader_free(jr);
  free(buf);
  free(names);
  free(types);
  free(required);
  return rc;
}

/* "id=5, ts=2024-01-01T00:00:00Z" for error messages. */
static void key_text(const struct table *t, const int *keys, size_t nk, size_t row, char *out, size_t n) {
  size_t used = 0;
  out[0] = '\0';
  for (size_t k = 0; k < nk && used < n; k++) {
    json_t *v = rows_cell_json(&t->cols[keys[k]], row);
    char *s = json_dumps(v, JSON_ENCODE_ANY);
    used += (size_t)snprintf(out + used, n - used, "%s%s=%.60s", k ? ", " : "", t->cols[keys[k]].name, s ? s : "?");
    free(s);
    json_decref(v);
  }
}

/* Existing keys of the group (all commits so far), as a table of key columns. */
static int existing_keys(struct req *r, const struct fgroup *g, const int *keys, size_t nk, struct table *out,
                         int64_t *latest, oast_err *e) {
  const char **cols = xcalloc(nk, sizeof *cols);
  for (size_t i = 0; i < nk; i++) cols[i] = g->features[keys[i]].name;
  int rc = fgdata_read(r->srv, g, 0, cols, nk, out, latest, e);
  free(cols);
  return rc;
}

static int ingest_finish(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  struct ingest *in = r->state;
  struct fgroup *g = &in->g;
  struct table t = {0}, old = {0};
  json_t *report = NULL, *stats_state = NULL;
  char *dir = NULL, *file = NULL, *path = NULL;
  bool began = false, wrote = false;
  int rc;
  int fd = open(r->upload.tmp_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return oast_err_set(e, OAST_EIO, "cannot reopen the uploaded body");
  rc = parse_body(in, fd, &t, e);
  close(fd);
  fs_tmp_discard(&r->upload);
  r->upload_open = false;
  if (rc) goto out;
  if (t.nrows == 0) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "the body has no rows");
    goto out;
  }
  /* The key: primary key, plus event time when the group has one. */
  int keys[FG_MAX_FEATURES + 1];
  size_t nk = 0;
  for (size_t i = 0; i < g->npk; i++) keys[nk++] = g->pk[i];
  if (g->event_time >= 0) keys[nk++] = g->event_time;
  const struct table *self[1] = {&t};
  struct keyset ks;
  keyset_init(&ks, self, keys, nk, t.nrows);
  for (size_t i = 0; i < t.nrows; i++) {
    size_t ft, fr;
    if (!keyset_add(&ks, 0, i, &ft, &fr)) {
      char kt[256];
      key_text(&t, keys, nk, i, kt, sizeof kt);
      rc = oast_err_set(e, OAST_EBAD_REQUEST, "row %zu repeats the key of row %zu (%s); a key may appear once per insert",
                        i + 1, fr + 1, kt);
      break;
    }
  }
  keyset_release(&ks);
  if (rc) goto out;
  /* Expectations. */
  bool valid = true;
  struct expect_suite *suite = NULL;
  rc = fstore_expectations(r, g, &t, &suite, e);
  if (rc) goto out;
  if (suite) {
    report = expect_run(suite, &t, &valid);
    bool strict = expect_suite_policy(suite) == EXPECT_STRICT;
    expect_suite_free(suite);
    if (!valid && strict) {
      char *rep = json_dump(report);
      meta_exec(s->meta, NULL,
                "INSERT INTO fg_validations(fg_id, commit_id, time, success, ingested, report) VALUES (?, NULL, ?, 0, 0, ?)",
                "iis", g->id, meta_now(), rep);
      free(rep);
      json_t *body = json_pack("{s:{s:s,s:s},s:O}", "error", "code", "validation_failed", "message",
                               "the rows broke the feature group's expectations (policy strict); nothing was written",
                               "validation", report);
      resp_json(w, 422, body);
      rc = 0;
      r->status = 422;
      goto out;
    }
  } else {
    report = json_pack("{s:b,s:[]}", "success", 1, "results");
  }
  /* Existing keys: upsert counts updates, insert refuses them. */
  int64_t latest = 0, rows_updated = 0;
  if ((rc = existing_keys(r, g, keys, nk, &old, &latest, e))) goto out;
  if (old.nrows) {
    int oldkeys[FG_MAX_FEATURES + 1];
    for (size_t i = 0; i < nk; i++) oldkeys[i] = (int)i;
    /* Compare by position: old holds only the key columns, in key order. */
    struct table proj = {0};
    proj.ncols = nk;
    proj.nrows = t.nrows;
    proj.cols = xcalloc(nk, sizeof *proj.cols);
    for (size_t i = 0; i < nk; i++) proj.cols[i] = t.cols[keys[i]];
    const struct table *both[2] = {&old, &proj};
    struct keyset oks;
    keyset_init(&oks, both, oldkeys, nk, old.nrows);
    for (size_t i = 0; i < old.nrows; i++) keyset_add(&oks, 0, i, NULL, NULL);
    for (size_t i = 0; i < t.nrows && !rc; i++) {
      if (!keyset_has(&oks, 1, i)) continue;
      rows_updated++;
      if (!in->upsert) {
        char kt[256];
        key_text(&t, keys, nk, i, kt, sizeof kt);
        rc = oast_err_set(e, OAST_EBAD_REQUEST, "row %zu: the key (%s) already exists; use operation=upsert to update it",
                          i + 1, kt);
      }
    }
    keyset_release(&oks);
    free(proj.cols);
    if (rc) goto out;
  }
  /* Commit. */
  if ((rc = meta_begin(s->meta, e))) goto out;
  began = true;
  int64_t now_us = meta_now_us();
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT coalesce(max(committed_on), 0) FROM fg_commits WHERE fg_id = ?"),
                               "i", g->id);
  if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) >= now_us) now_us = sqlite3_column_int64(st, 0) + 1;
  if (st) sqlite3_reset(st);
  if ((rc = meta_exec(s->meta, e,
                      "INSERT INTO fg_commits(fg_id, committed_on, operation, file, rows, rows_inserted, rows_updated) "
                      "VALUES (?, ?, ?, '', ?, ?, ?)",
                      "iisiii", g->id, now_us, in->upsert ? "upsert" : "insert", (int64_t)t.nrows,
                      (int64_t)t.nrows - rows_updated, rows_updated)))
    goto out;
  int64_t cid = meta_last_id(s->meta);
  dir = fgroup_dir(s, g);
  file = xasprintf("c%lld.parquet", (long long)cid);
  path = fs_join(dir, file);
  struct pq_write_opts po;
  pq_write_opts_init(&po);
  if ((rc = pq_write_table(path, &t, &po, e))) goto out;
  wrote = true;
  /* Statistics of the state after this commit: merged from the last commit's when nothing was replaced. */
  if (g->stats_enabled) {
    if ((rc = fstore_commit_stats(r, g, &t, latest, rows_updated, &stats_state, e))) goto out;
  }
  char *stats_text = stats_state ? json_dump(stats_state) : NULL;
  rc = meta_exec(s->meta, e, "UPDATE fg_commits SET file = ?, stats = ? WHERE id = ?", "ssi", file, stats_text, cid);
  free(stats_text);
  if (rc) goto out;
  char *rep = json_dump(report);
  rc = meta_exec(s->meta, e,
                 "INSERT INTO fg_validations(fg_id, commit_id, time, success, ingested, report) VALUES (?, ?, ?, ?, 1, ?)",
                 "iiiis", g->id, cid, meta_now(), (int64_t)valid, rep);
  free(rep);
  if (rc) goto out;
  if (g->online && (rc = online_apply_latest(s->online, g->id, &t, g->pk, g->npk, g->event_time, cid, e))) goto out;
  if ((rc = meta_commit(s->meta, e))) goto out;
  began = false;
  resp_json(w, 201, json_pack("{s:I,s:I,s:I,s:O}", "commit_id", (json_int_t)cid, "rows_inserted",
                              (json_int_t)(t.nrows - (size_t)rows_updated), "rows_updated", (json_int_t)rows_updated,
                              "validation", report));
out:
  if (began) {
    meta_rollback(s->meta);
    if (wrote) unlink(path);
    if (g->online) fstore_recover_group(s, g->id, NULL);
  }
  json_decref(report);
  json_decref(stats_state);
  table_release(&t);
  table_release(&old);
  free(dir);
  free(file);
  free(path);
  return rc;
}

const struct route fg_ingest_routes[] = {
    {"POST", "/api/v1/projects/{p}/featurestore/featuregroups/{name}/versions/{v}/data", ACCESS_MEMBER, ROUTE_STREAM,
     "featuregroup.insert", ingest_finish, ingest_begin},
    ROUTES_END,
};
