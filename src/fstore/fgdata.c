/*
 * fgdata.c — a feature group's data as of a commit (see fgdata.h).
 *
 * Each commit is one Parquet file. A commit may carry a snapshot (written
 * by compaction): the merged state at that commit in one file. Reading as
 * of commit C starts from the newest snapshot at or before C and applies
 * the later commits up to C. When none of those commits updated an
 * existing key, the state is their concatenation; otherwise the newest row
 * of each key wins (keyset.c), and rows keep the order of the commit and
 * position they came from. A read of some columns only (the key checks of
 * an insert read just the key) reads those columns and the key columns
 * from the files, nothing else.
 */
#include "fstore/fgdata.h"

#include <string.h>

#include "formats/parquet/parquet.h"
#include "fstore/keyset.h"
#include "http/server.h"
#include "meta/meta.h"
#include "util/alloc.h"

void fgdata_append(struct table *dst, const struct table *src) {
  for (size_t c = 0; c < dst->ncols; c++) {
    struct column *d = &dst->cols[c];
    const struct column *s = &src->cols[c];
    size_t n = s->len;
    if (!n) continue;
    column_reserve(d, d->len + n);
    memcpy(d->valid + d->len, s->valid, n);
    if (d->type == FT_STRING) {
      size_t bytes = s->sdata_len;
      if (d->sdata_len + bytes > d->sdata_cap) {
        size_t cap = d->sdata_cap ? d->sdata_cap : 256;
        while (cap < d->sdata_len + bytes) cap *= 2;
        d->sdata = xrealloc(d->sdata, cap);
        d->sdata_cap = cap;
      }
      if (bytes) memcpy(d->sdata + d->sdata_len, s->sdata, bytes);
      for (size_t i = 0; i < n; i++) d->offs[d->len + i + 1] = d->sdata_len + s->offs[i + 1];
      d->sdata_len += bytes;
    } else {
      size_t w = ftype_width(d->type);
      memcpy((char *)d->vals + d->len * w, s->vals, n * w);
    }
    d->len += n;
  }
  dst->nrows += src->nrows;
}

struct commit_file {
  int64_t id;
  char *file;
  int64_t rows_updated;
};

static int load_file(const char *dir, const char *name, const char *const *columns, size_t ncolumns, struct table *t,
                     oast_err *e) {
  char *path = xasprintf("%s/%s", dir, name);
  struct pq_file *f = NULL;
  int rc = pq_open(path, &f, e);
  if (!rc) rc = pq_read_table(f, columns, ncolumns, t, e);
  pq_close(f);
  free(path);
  return rc;
}

/* Keeps the columns named (in order) of t, dropping the others. */
static void project(struct table *t, const char *const *columns, size_t ncolumns) {
  if (!columns) return;
  struct column *cols = xcalloc(ncolumns ? ncolumns : 1, sizeof *cols);
  int *from = xcalloc(ncolumns ? ncolumns : 1, sizeof *from);
  /* Find every column before moving any: a moved column's name is gone. */
  for (size_t i = 0; i < ncolumns; i++) from[i] = table_find(t, columns[i]);
  for (size_t i = 0; i < ncolumns; i++) {
    int k = from[i];
    if (!t->cols[k].name) { /* asked twice: copy it */
      const struct column *src = &cols[0];
      for (size_t j = 0; j < i; j++)
        if (from[j] == k) src = &cols[j];
      column_init(&cols[i], src->name, src->type);
      for (size_t r = 0; r < src->len; r++) column_append_from(&cols[i], src, r);
      continue;
    }
    cols[i] = t->cols[k];
    memset(&t->cols[k], 0, sizeof t->cols[k]);
  }
  free(from);
  for (size_t i = 0; i < t->ncols; i++) column_release(&t->cols[i]);
  free(t->cols);
  t->cols = cols;
  t->ncols = ncolumns;
}

int fgdata_read(struct server *s, const struct fgroup *g, int64_t as_of, const char *const *columns, size_t ncolumns,
                struct table *out, int64_t *commit, oast_err *e) {
  for (size_t i = 0; columns && i < ncolumns; i++)
    if (!columns[i] || !name_like_feature(g, columns[i]))
      return oast_err_set(e, OAST_EBAD_REQUEST, "feature group \"%s\" has no feature \"%.64s\"", g->name,
                          columns[i] ? columns[i] : "");
  /* What to read from the files: the columns asked for and, for merging, the key columns. */
  int key_idx[FG_MAX_FEATURES + 1];
  size_t nk = 0;
  for (size_t i = 0; i < g->npk; i++) key_idx[nk++] = g->pk[i];
  if (g->event_time >= 0) key_idx[nk++] = g->event_time;
  const char **want = NULL;
  size_t nwant = 0;
  if (columns) {
    want = xcalloc(ncolumns + nk + 1, sizeof *want);
    for (size_t i = 0; i < ncolumns; i++) want[nwant++] = columns[i];
    for (size_t k = 0; k < nk; k++) {
      const char *kn = g->features[key_idx[k]].name;
      bool have = false;
      for (size_t i = 0; i < nwant && !have; i++) have = !strcmp(want[i], kn);
      if (!have) want[nwant++] = kn;
    }
    enum ftype *types = xcalloc(nwant, sizeof *types);
    for (size_t i = 0; i < nwant; i++)
      for (size_t f = 0; f < g->nfeatures; f++)
        if (!strcmp(g->features[f].name, want[i])) types[i] = g->features[f].type;
    table_init(out, nwant, want, types);
    free(types);
  } else {
    fgroup_table(g, out);
  }
  *commit = 0;
  /* The commits to read: from the newest snapshot at or before as_of. */
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta,
                                         "SELECT id, file, rows_updated, snapshot_file FROM fg_commits "
                                         "WHERE fg_id = ? AND (? = 0 OR id <= ?) ORDER BY id"),
                               "iii", g->id, as_of, as_of);
  struct commit_file *cf = NULL;
  size_t n = 0, cap = 0, start = 0;
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    if (n == cap) cf = xreallocarray(cf, cap = cap ? cap * 2 : 16, sizeof *cf);
    cf[n].id = sqlite3_column_int64(st, 0);
    cf[n].rows_updated = sqlite3_column_int64(st, 2);
    if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
      /* A snapshot replaces everything up to and including its commit. */
      for (size_t i = start; i < n; i++) free(cf[i].file);
      start = n;
      cf[n].file = xstrdup((const char *)sqlite3_column_text(st, 3));
      cf[n].rows_updated = 0;
    } else {
      cf[n].file = xstrdup((const char *)sqlite3_column_text(st, 1));
    }
    n++;
  }
  if (st) sqlite3_reset(st);
  int rc = 0;
  if (n == 0) goto done;
  *commit = cf[n - 1].id;
  char *dir = fgroup_dir(s, g);
  size_t k = n - start;
  struct table *parts = xcalloc(k, sizeof *parts);
  bool updates = false;
  for (size_t i = 0; i < k && !rc; i++) {
    rc = load_file(dir, cf[start + i].file, want, nwant, &parts[i], e);
    if (i > 0 && cf[start + i].rows_updated > 0) updates = true;
  }
  free(dir);
  if (!rc) {
    if (!updates) {
      if (k == 1) {
        table_release(out);
        *out = parts[0];
        memset(&parts[0], 0, sizeof parts[0]);
      } else {
        for (size_t i = 0; i < k; i++) fgdata_append(out, &parts[i]);
      }
    } else {
      /* The newest row of each key wins. */
      size_t total = 0;
      for (size_t i = 0; i < k; i++) total += parts[i].nrows;
      /* The key columns by position in what was read. */
      int *keys = xcalloc(nk + 1, sizeof *keys);
      for (size_t j = 0; j < nk; j++) keys[j] = table_find(out, g->features[key_idx[j]].name);
      const struct table **tp = xcalloc(k, sizeof *tp);
      for (size_t i = 0; i < k; i++) tp[i] = &parts[i];
      struct keyset ks;
      keyset_init(&ks, tp, keys, nk, total);
      uint8_t **win = xcalloc(k, sizeof *win);
      for (size_t i = k; i-- > 0;) {
        win[i] = xcalloc(parts[i].nrows ? parts[i].nrows : 1, 1);
        for (size_t j = parts[i].nrows; j-- > 0;) win[i][j] = keyset_add(&ks, i, j, NULL, NULL);
      }
      for (size_t i = 0; i < k; i++) {
        for (size_t j = 0; j < parts[i].nrows; j++)
          if (win[i][j])
            for (size_t c = 0; c < out->ncols; c++) column_append_from(&out->cols[c], &parts[i].cols[c], j);
        free(win[i]);
      }
      table_check(out, NULL);
      keyset_release(&ks);
      free(win);
      free(tp);
      free(keys);
    }
  }
  for (size_t i = 0; i < k; i++) table_release(&parts[i]);
  free(parts);
done:
  for (size_t i = start; i < n; i++) free(cf[i].file);
  free(cf);
  free(want);
  if (!rc) project(out, columns, ncolumns);
  return rc;
}
