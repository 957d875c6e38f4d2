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
 *   write c<id>.parquet (temp, fsync, rename) and, at the same time on
 *   this thread, the statistics;
 *   validation report, online store rows and marker;
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
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

/*
 * Parsing. JSON bodies and small CSV bodies are parsed in one pass. A
 * large CSV body is parsed in two halves at once: the split is the first
 * line end past the middle that the parity of the quotes before it puts
 * outside any quoted field, after a line that is not blank; the second
 * half is parsed by a reader fed the header first. That is exactly what a
 * single pass would do when the first half parses without error (its last
 * record then ends right at the split, so a single pass starts a fresh
 * record there too); the halves' rows are joined in order. When either
 * half fails, the body is parsed again in one pass, whose error (with the
 * true row and line numbers) is the one reported.
 */
#define PARSE_CHUNK ((size_t)1 << 20)
#define PARSE_SPLIT_MIN ((off_t)1 << 20)

/* The uploaded body: mapped into memory when it can be, else read with pread. */
struct body {
  int fd;
  const char *map;  /* NULL: not mapped */
  off_t size;
};

/* Bytes [pos, pos + want) of the body (want > 0, pos < size): a pointer into the map, or buf filled
 * by pread. Returns how many bytes there are, -1 on a read error. */
static ssize_t body_at(const struct body *b, off_t pos, size_t want, char *buf, const char **out) {
  if ((off_t)want > b->size - pos) want = (size_t)(b->size - pos);
  if (b->map) {
    *out = b->map + pos;
    return (ssize_t)want;
  }
  ssize_t n;
  do n = pread(b->fd, buf, want, pos);
  while (n < 0 && errno == EINTR);
  *out = buf;
  return n > 0 ? n : -1;
}

/* Feeds bytes [from, to) of the body to one of the readers, a chunk at a time. */
static int feed_range(const struct body *b, off_t from, off_t to, struct csv_reader *cr, struct jsonrows_reader *jr,
                      oast_err *e) {
  char *buf = b->map ? NULL : xmalloc(PARSE_CHUNK);
  int rc = 0;
  while (from < to && !rc) {
    const char *p;
    size_t want = (size_t)(to - from) < PARSE_CHUNK ? (size_t)(to - from) : PARSE_CHUNK;
    ssize_t n = body_at(b, from, want, buf, &p);
    if (n < 0) {
      rc = oast_err_set(e, OAST_EIO, "cannot read the uploaded body");
      break;
    }
    rc = cr ? csv_feed(cr, p, (size_t)n, e) : jsonrows_feed(jr, p, (size_t)n, e);
    from += n;
  }
  free(buf);
  return rc;
}

static int parse_whole(const struct rows_schema *schema, enum body_format fmt, const struct body *b, struct table *t,
                       oast_err *e) {
  struct csv_reader *cr = NULL;
  struct jsonrows_reader *jr = NULL;
  if (fmt == BODY_CSV) cr = csv_reader_new(schema, 0);
  else jr = jsonrows_reader_new(schema, fmt == BODY_NDJSON ? JSONROWS_NDJSON : JSONROWS_ARRAY, 0);
  int rc = feed_range(b, 0, b->size, cr, jr, e);
  if (!rc) rc = cr ? csv_finish(cr, e) : jsonrows_finish(jr, e);
  if (!rc) {
    if (cr) csv_take(cr, t);
    else jsonrows_take(jr, t);
  }
  csv_reader_free(cr);
  jsonrows_reader_free(jr);
  return rc;
}

/*
 * Where a CSV body splits: the offset after a line end past the middle,
 * outside quotes by their parity, after a line that is not blank; 0 when
 * there is none. *head_end gets the end of the header record.
 */
static off_t split_point(const struct body *b, off_t *head_end) {
  char *buf = b->map ? NULL : xmalloc(PARSE_CHUNK);
  bool odd = false;
  char p1 = '\n', p2 = '\n'; /* the two bytes before the current one */
  off_t half = b->size / 2, pos = 0, mid = 0;
  *head_end = 0;
  while (pos < b->size && !mid) {
    const char *d;
    ssize_t n = body_at(b, pos, PARSE_CHUNK, buf, &d);
    if (n <= 0) break;
    if (*head_end && pos + n <= half) {
      /* Before the middle only the parity of the quotes matters. */
      for (const char *q = d; (q = memchr(q, '"', (size_t)(d + n - q))); q++) odd = !odd;
      p2 = n > 1 ? d[n - 2] : p1;
      p1 = d[n - 1];
      pos += n;
      continue;
    }
    for (ssize_t i = 0; i < n; i++) {
      char c = d[i];
      if (c == '"') {
        odd = !odd;
      } else if (c == '\n' && !odd) {
        off_t at = pos + i + 1;
        bool blank = p1 == '\n' || (p1 == '\r' && p2 == '\n');
        if (!*head_end) *head_end = at;
        else if (at > half && !blank) {
          mid = at;
          break;
        }
      }
      p2 = p1;
      p1 = c;
    }
    pos += n;
  }
  free(buf);
  return mid < b->size ? mid : 0;
}

struct half {
  const struct rows_schema *schema;
  const struct body *body;
  off_t from, to;
  const char *head;   /* the header record, fed first (second half only) */
  size_t head_len;
  struct table t;
  int rc;
};

static void *parse_half(void *arg) {
  struct half *h = arg;
  struct csv_reader *cr = csv_reader_new(h->schema, 0);
  oast_err e;
  h->rc = h->head ? csv_feed(cr, h->head, h->head_len, &e) : 0;
  if (!h->rc) h->rc = feed_range(h->body, h->from, h->to, cr, NULL, &e);
  if (!h->rc) h->rc = csv_finish(cr, &e);
  if (!h->rc) csv_take(cr, &h->t);
  csv_reader_free(cr);
  return NULL;
}

/* The two-halves parse; 0 with *t filled, or -1 when it does not apply or a half failed. */
static int parse_split(const struct rows_schema *schema, const struct body *body, struct table *t) {
  off_t head_end;
  off_t mid = split_point(body, &head_end);
  if (!mid || mid <= head_end) return -1;
  char *head = xmalloc((size_t)head_end);
  const char *hp;
  if (body_at(body, 0, (size_t)head_end, head, &hp) != (ssize_t)head_end) {
    free(head);
    return -1;
  }
  struct half a = {schema, body, 0, mid, NULL, 0, {0}, 0};
  struct half b = {schema, body, mid, body->size, hp, (size_t)head_end, {0}, 0};
  pthread_t th;
  if (pthread_create(&th, NULL, parse_half, &b) != 0) {
    free(head);
    return -1;
  }
  parse_half(&a);
  pthread_join(th, NULL);
  free(head);
  if (a.rc || b.rc) {
    table_release(&a.t);
    table_release(&b.t);
    return -1;
  }
  fgdata_append(&a.t, &b.t);
  table_release(&b.t);
  *t = a.t;
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
  struct stat st;
  int rc;
  if (fstat(fd, &st) != 0) {
    rc = oast_err_set(e, OAST_EIO, "cannot read the uploaded body");
  } else {
    struct body b = {fd, NULL, st.st_size};
    /* Mapped (and read ahead in one go) rather than copied out chunk by chunk. */
    void *m = st.st_size > 0 ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0) : MAP_FAILED;
    if (m != MAP_FAILED) b.map = m;
    rc = -1;
    if (in->fmt == BODY_CSV && st.st_size >= PARSE_SPLIT_MIN) rc = parse_split(&schema, &b, t);
    if (rc) rc = parse_whole(&schema, in->fmt, &b, t, e);
    if (m != MAP_FAILED) munmap(m, (size_t)st.st_size);
  }
  free(names);
  free(types);
  free(required);
  return rc;
}

/* Writing the commit's file (on a thread for large commits, see ingest_finish). */
#define WRITE_THREAD_ROWS 65536

struct write_job {
  const char *path;
  const struct table *t;
  int rc;
  oast_err e;
};

static void *write_file(void *arg) {
  struct write_job *j = arg;
  struct pq_write_opts po;
  pq_write_opts_init(&po);
  j->rc = pq_write_table(j->path, j->t, &po, &j->e);
  return NULL;
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

/*
 * The fast path of the key checks: a key of one int or bigint column (no
 * event time). *lo and *hi get its smallest and largest value; the result
 * says whether the values strictly increase row after row, in which case
 * no value repeats. Key values are never null (the reader requires them).
 * Inserts of ascending ids, the common case, so skip the hash set.
 */
static bool int_key_range(const struct table *t, int col, int64_t *lo, int64_t *hi) {
  const struct column *c = &t->cols[col];
  bool wide = c->type == FT_BIGINT, ascending = true;
  int64_t prev = 0;
  *lo = INT64_MAX;
  *hi = INT64_MIN;
  for (size_t i = 0; i < t->nrows; i++) {
    int64_t v = wide ? column_i64(c, i) : column_i32(c, i);
    if (i && v <= prev) ascending = false;
    if (v < *lo) *lo = v;
    if (v > *hi) *hi = v;
    prev = v;
  }
  return ascending;
}

static bool int_key(const struct table *t, const int *keys, size_t nk) {
  return nk == 1 && (t->cols[keys[0]].type == FT_INT || t->cols[keys[0]].type == FT_BIGINT);
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
  int64_t new_lo = 0, new_hi = 0;
  bool fast = int_key(&t, keys, nk) && int_key_range(&t, keys[0], &new_lo, &new_hi);
  const struct table *self[1] = {&t};
  struct keyset ks;
  keyset_init(&ks, self, keys, fast ? 0 : nk, fast ? 0 : t.nrows);
  for (size_t i = 0; i < t.nrows && !fast; i++) {
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
  bool disjoint = false;
  if (old.nrows && int_key(&t, keys, nk)) {
    /* Integer keys: new ones all above (or below) the old ones cannot meet them. */
    int64_t old_lo, old_hi;
    int_key_range(&old, 0, &old_lo, &old_hi);
    if (!fast) int_key_range(&t, keys[0], &new_lo, &new_hi);
    disjoint = new_lo > old_hi || new_hi < old_lo;
  }
  if (old.nrows && !disjoint) {
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
  /* The file is written on a thread while this one computes the statistics of the state after the commit
   * (merged from the last commit's when nothing was replaced): both only read t. */
  struct write_job wj = {path, &t, 0, {0}};
  pthread_t wt;
  bool threaded = t.nrows >= WRITE_THREAD_ROWS && pthread_create(&wt, NULL, write_file, &wj) == 0;
  if (!threaded) write_file(&wj);
  int src = 0;
  oast_err se;
  if (g->stats_enabled) src = fstore_commit_stats(r, g, &t, latest, rows_updated, &stats_state, &se);
  if (threaded) pthread_join(wt, NULL);
  if (wj.rc) {
    *e = wj.e;
    rc = wj.rc;
    goto out;
  }
  wrote = true;
  if (src) {
    *e = se;
    rc = src;
    goto out;
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
