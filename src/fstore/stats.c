/*
 * stats.c — mergeable column statistics (see stats.h).
 *
 * stats_add reads each column of the new rows twice: once for the counts,
 * the range, the sum and the HyperLogLog registers, once more for the sum
 * of squared deviations from that batch's own mean (the two-pass form is
 * exact where a running sum of squares cancels catastrophically) and for
 * the histogram over the batch's own range. The batch's results are then
 * merged into the state exactly as two states are merged, so stats_add,
 * stats_merge and stats_load/stats_save share one set of merge rules.
 *
 * Columns do not depend on each other, so a large batch's columns are
 * spread over a few threads (each merges into its own column's state).
 *
 * Correlations go through the rows in blocks of 4096: each block's
 * numeric columns are converted to doubles once (NaN for null), every
 * pair gets its block co-moment by two passes, and blocks are merged like
 * batches. Memory stays at one block whatever the table's size.
 */
#include "fstore/stats.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fstore/hll.h"
#include "util/alloc.h"
#include "util/crypto.h"

struct hist {
  double lo, hi;          /* the range the bins split; lo == hi: one point */
  uint64_t total;
  uint64_t *counts;       /* bins entries */
};

struct colstat {
  char *name;
  enum ftype type;
  uint64_t count, nulls;
  uint64_t n;             /* finite values in the moments */
  double mean, m2;
  uint64_t nr;            /* values in the range */
  double lo, hi;          /* range of finite values */
  int64_t imin, imax;     /* exact range of integer-like types */
  uint64_t lmin, lmax;    /* string lengths in characters */
  struct hll hll;
  struct hist h;
};

struct pair {
  uint64_t n;
  double mx, my, m2x, m2y, cxy;
};

struct stats {
  struct stats_opts o;
  size_t ncols;
  struct colstat *cols;
  size_t ncorr;
  size_t *corr;           /* indices of the correlated columns */
  struct pair *pairs;     /* (a, b) with a < b, row by row */
};

static bool has_moments(enum ftype t) {
  return t == FT_INT || t == FT_BIGINT || t == FT_FLOAT || t == FT_DOUBLE || t == FT_BOOLEAN;
}
static bool int_like(enum ftype t) {
  return t == FT_INT || t == FT_BIGINT || t == FT_BOOLEAN || t == FT_TIMESTAMP || t == FT_DATE;
}
static bool has_hist(const struct stats *s, enum ftype t) {
  return s->o.histograms && t != FT_STRING && t != FT_BOOLEAN;
}

static int64_t int_value(const struct column *c, size_t i) {
  switch (c->type) {
    case FT_INT: case FT_DATE: return column_i32(c, i);
    case FT_BOOLEAN: return column_bool(c, i);
    default: return column_i64(c, i);
  }
}

static struct stats *alloc_stats(size_t ncols, const char *const *names, const enum ftype *types,
                                 const struct stats_opts *o) {
  struct stats *s = xcalloc(1, sizeof *s);
  if (o) s->o = *o;
  else s->o.histograms = true;
  if (!s->o.bins) s->o.bins = STATS_BINS_DEFAULT;
  if (s->o.bins > STATS_BINS_MAX) s->o.bins = STATS_BINS_MAX;
  s->ncols = ncols;
  s->cols = xcalloc(ncols ? ncols : 1, sizeof *s->cols);
  s->corr = xcalloc(ncols ? ncols : 1, sizeof *s->corr);
  for (size_t i = 0; i < ncols; i++) {
    struct colstat *c = &s->cols[i];
    c->name = xstrdup(names[i]);
    c->type = types[i];
    hll_init(&c->hll);
    if (has_hist(s, c->type)) c->h.counts = xcalloc(s->o.bins, sizeof *c->h.counts);
    if (s->o.correlations && has_moments(c->type) && s->ncorr < STATS_CORR_MAX_COLS)
      s->corr[s->ncorr++] = i;
  }
  s->pairs = xcalloc(s->ncorr * s->ncorr / 2 + 1, sizeof *s->pairs);
  return s;
}

struct stats *stats_new(const struct table *t, const struct stats_opts *o) {
  const char **names = xcalloc(t->ncols + 1, sizeof *names);
  enum ftype *types = xcalloc(t->ncols + 1, sizeof *types);
  for (size_t i = 0; i < t->ncols; i++) {
    names[i] = t->cols[i].name;
    types[i] = t->cols[i].type;
  }
  struct stats *s = alloc_stats(t->ncols, names, types, o);
  free(names);
  free(types);
  return s;
}

void stats_free(struct stats *s) {
  if (!s) return;
  for (size_t i = 0; i < s->ncols; i++) {
    free(s->cols[i].name);
    free(s->cols[i].h.counts);
  }
  free(s->cols);
  free(s->corr);
  free(s->pairs);
  free(s);
}

static size_t npairs(const struct stats *s);

/* ---- merge rules ---- */

static void merge_moments(uint64_t *na, double *ma, double *m2a, uint64_t nb, double mb, double m2b) {
  if (!nb) return;
  if (!*na) {
    *na = nb;
    *ma = mb;
    *m2a = m2b;
    return;
  }
  double n = (double)(*na + nb), d = mb - *ma;
  *m2a += m2b + d * d * (double)*na * (double)nb / n;
  *ma += d * (double)nb / n;
  *na += nb;
}

static void merge_pair(struct pair *a, const struct pair *b) {
  if (!b->n) return;
  if (!a->n) {
    *a = *b;
    return;
  }
  double n = (double)(a->n + b->n), f = (double)a->n * (double)b->n / n;
  double dx = b->mx - a->mx, dy = b->my - a->my;
  a->cxy += b->cxy + dx * dy * f;
  a->m2x += b->m2x + dx * dx * f;
  a->m2y += b->m2y + dy * dy * f;
  a->mx += dx * (double)b->n / n;
  a->my += dy * (double)b->n / n;
  a->n += b->n;
}

/* Values of h below x, spreading each bin's count evenly over its width. */
static double hist_below(const struct hist *h, unsigned bins, double x) {
  if (h->lo == h->hi) return x > h->lo ? (double)h->total : 0;
  double t = (x - h->lo) / (h->hi - h->lo) * bins;
  if (t <= 0) return 0;
  if (t >= bins) return (double)h->total;
  unsigned k = (unsigned)t;
  double below = 0;
  for (unsigned j = 0; j < k; j++) below += (double)h->counts[j];
  return below + (double)h->counts[k] * (t - k);
}

/* Adds src's counts to out, whose bins split [lo, hi]. */
static void rebin(const struct hist *src, unsigned bins, double lo, double hi, uint64_t *out) {
  double prev = 0;
  for (unsigned j = 0; j < bins; j++) {
    double next = j + 1 == bins ? (double)src->total : round(hist_below(src, bins, lo + (hi - lo) * (j + 1) / bins));
    out[j] += (uint64_t)(next - prev);
    prev = next;
  }
}

static void merge_hist(struct hist *dst, const struct hist *src, unsigned bins) {
  if (!src->total) return;
  if (!dst->total || (dst->lo == src->lo && dst->hi == src->hi)) {
    for (unsigned j = 0; j < bins; j++) dst->counts[j] += src->counts[j];
    dst->lo = src->lo;
    dst->hi = src->hi;
    dst->total += src->total;
    return;
  }
  double lo = fmin(dst->lo, src->lo), hi = fmax(dst->hi, src->hi);
  uint64_t *out = xcalloc(bins, sizeof *out);
  rebin(dst, bins, lo, hi, out);
  rebin(src, bins, lo, hi, out);
  free(dst->counts);
  dst->counts = out;
  dst->lo = lo;
  dst->hi = hi;
  dst->total += src->total;
}

/* Folds column b into a (same name and type). */
static void merge_col(struct colstat *a, const struct colstat *b, unsigned bins) {
  if (b->count + b->nulls == 0) return;
  if (b->nr) {
    if (!a->nr) {
      a->lo = b->lo;
      a->hi = b->hi;
      a->imin = b->imin;
      a->imax = b->imax;
    } else {
      a->lo = fmin(a->lo, b->lo);
      a->hi = fmax(a->hi, b->hi);
      if (b->imin < a->imin) a->imin = b->imin;
      if (b->imax > a->imax) a->imax = b->imax;
    }
    a->nr += b->nr;
  }
  if (b->count && a->type == FT_STRING) {
    if (!a->count) {
      a->lmin = b->lmin;
      a->lmax = b->lmax;
    } else {
      if (b->lmin < a->lmin) a->lmin = b->lmin;
      if (b->lmax > a->lmax) a->lmax = b->lmax;
    }
  }
  a->count += b->count;
  a->nulls += b->nulls;
  merge_moments(&a->n, &a->mean, &a->m2, b->n, b->mean, b->m2);
  hll_merge(&a->hll, &b->hll);
  if (a->h.counts && b->h.counts) merge_hist(&a->h, &b->h, bins);
}

/* ---- adding a table ---- */

static size_t utf8_chars(const char *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
  return k;
}

/* The statistics of column c alone, into b (zeroed, with a histogram buffer when wanted). */
static void column_stats(const struct column *c, size_t nrows, unsigned bins, struct colstat *b) {
  if (c->type == FT_STRING) {
    for (size_t i = 0; i < nrows; i++) {
      if (column_is_null(c, i)) {
        b->nulls++;
        continue;
      }
      size_t n;
      const char *s = column_str(c, i, &n);
      hll_add(&b->hll, hll_hash_bytes(s, n));
      uint64_t len = utf8_chars(s, n);
      if (!b->count || len < b->lmin) b->lmin = len;
      if (!b->count || len > b->lmax) b->lmax = len;
      b->count++;
    }
    return;
  }
  bool ints = int_like(c->type);
  double sum = 0;
  for (size_t i = 0; i < nrows; i++) {
    if (column_is_null(c, i)) {
      b->nulls++;
      continue;
    }
    b->count++;
    hll_add(&b->hll, hll_hash_cell(c, i));
    if (ints) {
      int64_t v = int_value(c, i);
      if (!b->nr || v < b->imin) b->imin = v;
      if (!b->nr || v > b->imax) b->imax = v;
    }
    double d = column_num(c, i);
    if (!isfinite(d)) continue;
    if (!b->nr || d < b->lo) b->lo = d;
    if (!b->nr || d > b->hi) b->hi = d;
    b->nr++;
    sum += d;
  }
  if (!b->nr) return;
  if (has_moments(c->type)) {
    b->n = b->nr;
    b->mean = sum / (double)b->n;
  }
  double m2 = 0, width = b->hi - b->lo;
  for (size_t i = 0; i < nrows; i++) {
    if (column_is_null(c, i)) continue;
    double d = column_num(c, i);
    if (!isfinite(d)) continue;
    m2 += (d - b->mean) * (d - b->mean);
    if (b->h.counts) {
      unsigned k = width > 0 ? (unsigned)((d - b->lo) / width * bins) : 0;
      b->h.counts[k < bins ? k : bins - 1]++;
    }
  }
  if (has_moments(c->type)) b->m2 = m2;
  if (b->h.counts) {
    b->h.lo = b->lo;
    b->h.hi = b->hi;
    b->h.total = b->nr;
  }
}

#define BLOCK 4096

static void add_pairs(struct stats *s, const struct table *t) {
  size_t k = s->ncorr;
  if (k < 2) return;
  double *v = xmalloc(k * BLOCK * sizeof *v);
  for (size_t start = 0; start < t->nrows; start += BLOCK) {
    size_t m = t->nrows - start < BLOCK ? t->nrows - start : BLOCK;
    for (size_t a = 0; a < k; a++) {
      const struct column *c = &t->cols[s->corr[a]];
      for (size_t r = 0; r < m; r++) {
        double d = column_is_null(c, start + r) ? NAN : column_num(c, start + r);
        v[a * BLOCK + r] = isfinite(d) ? d : NAN;
      }
    }
    size_t p = 0;
    for (size_t a = 0; a < k; a++) {
      for (size_t b = a + 1; b < k; b++, p++) {
        const double *x = v + a * BLOCK, *y = v + b * BLOCK;
        struct pair q = {0};
        double sx = 0, sy = 0;
        for (size_t r = 0; r < m; r++)
          if (!isnan(x[r]) && !isnan(y[r])) {
            q.n++;
            sx += x[r];
            sy += y[r];
          }
        if (!q.n) continue;
        q.mx = sx / (double)q.n;
        q.my = sy / (double)q.n;
        for (size_t r = 0; r < m; r++)
          if (!isnan(x[r]) && !isnan(y[r])) {
            double dx = x[r] - q.mx, dy = y[r] - q.my;
            q.m2x += dx * dx;
            q.m2y += dy * dy;
            q.cxy += dx * dy;
          }
        merge_pair(&s->pairs[p], &q);
      }
    }
  }
  free(v);
}

static int same_columns(const struct stats *s, size_t ncols, const char *const *names, const enum ftype *types,
                        oast_err *e) {
  if (ncols != s->ncols)
    return oast_err_set(e, OAST_EBAD_REQUEST, "the data has %zu columns, the statistics have %zu", ncols, s->ncols);
  for (size_t i = 0; i < ncols; i++)
    if (strcmp(names[i], s->cols[i].name) != 0 || types[i] != s->cols[i].type)
      return oast_err_set(e, OAST_EBAD_REQUEST, "column %zu is \"%s\" (%s), the statistics have \"%s\" (%s)", i + 1,
                          names[i], ftype_name(types[i]), s->cols[i].name, ftype_name(s->cols[i].type));
  return 0;
}

/* stats_add spreads its columns over threads from this many cells on, with at most this many helpers. */
#define ADD_PARALLEL_CELLS 200000
#define ADD_MAX_THREADS 3

struct add_job {
  struct stats *s;
  const struct table *t;
  atomic_size_t next;     /* the next column to take */
};

/* Takes columns until none is left: each column's batch statistics, merged into its own state. */
static void *add_worker(void *arg) {
  struct add_job *j = arg;
  struct colstat b;
  for (;;) {
    size_t i = atomic_fetch_add(&j->next, 1);
    if (i >= j->t->ncols) break;
    memset(&b, 0, sizeof b);
    b.type = j->t->cols[i].type;
    if (j->s->cols[i].h.counts) b.h.counts = xcalloc(j->s->o.bins, sizeof *b.h.counts);
    column_stats(&j->t->cols[i], j->t->nrows, j->s->o.bins, &b);
    merge_col(&j->s->cols[i], &b, j->s->o.bins);
    free(b.h.counts);
  }
  return NULL;
}

int stats_add(struct stats *s, const struct table *t, oast_err *e) {
  const char **names = xcalloc(t->ncols + 1, sizeof *names);
  enum ftype *types = xcalloc(t->ncols + 1, sizeof *types);
  for (size_t i = 0; i < t->ncols; i++) {
    names[i] = t->cols[i].name;
    types[i] = t->cols[i].type;
  }
  int rc = same_columns(s, t->ncols, names, types, e);
  free(names);
  free(types);
  if (rc) return rc;
  /* Columns are independent: large batches spread them over a few threads. */
  struct add_job job = {s, t, 0};
  pthread_t th[ADD_MAX_THREADS];
  int extra = 0;
  if (t->nrows * t->ncols >= ADD_PARALLEL_CELLS && t->ncols > 1) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long want = cpus < (long)t->ncols ? cpus : (long)t->ncols;
    if (want > ADD_MAX_THREADS + 1) want = ADD_MAX_THREADS + 1;
    while (extra + 1 < want && pthread_create(&th[extra], NULL, add_worker, &job) == 0) extra++;
  }
  add_worker(&job);
  for (int i = 0; i < extra; i++) pthread_join(th[i], NULL);
  add_pairs(s, t);
  return 0;
}

static int same_stats(const struct stats *a, const struct stats *b, oast_err *e) {
  if (a->o.bins != b->o.bins || a->o.histograms != b->o.histograms || a->o.correlations != b->o.correlations)
    return oast_err_set(e, OAST_EBAD_REQUEST, "the statistics were computed with different options");
  const char **names = xcalloc(b->ncols + 1, sizeof *names);
  enum ftype *types = xcalloc(b->ncols + 1, sizeof *types);
  for (size_t i = 0; i < b->ncols; i++) {
    names[i] = b->cols[i].name;
    types[i] = b->cols[i].type;
  }
  int rc = same_columns(a, b->ncols, names, types, e);
  free(names);
  free(types);
  return rc;
}

int stats_merge(struct stats *dst, const struct stats *src, oast_err *e) {
  int rc = same_stats(dst, src, e);
  if (rc) return rc;
  for (size_t i = 0; i < dst->ncols; i++) merge_col(&dst->cols[i], &src->cols[i], dst->o.bins);
  for (size_t p = 0; p < npairs(dst); p++) merge_pair(&dst->pairs[p], &src->pairs[p]);
  return 0;
}

/* ---- JSON ---- */

static size_t npairs(const struct stats *s) { return s->ncorr ? s->ncorr * (s->ncorr - 1) / 2 : 0; }

/* A real, or null for what JSON cannot hold (an overflowed sum). */
static json_t *real(double x) { return isfinite(x) ? json_real(x) : json_null(); }

/* The number in j, NaN for null; -1 when j is neither. */
static int get_real(json_t *j, double *out) {
  if (json_is_null(j)) *out = NAN;
  else if (json_is_number(j)) *out = json_number_value(j);
  else return -1;
  return 0;
}

static json_t *edge_json(enum ftype t, double x) {
  char buf[64];
  if (t == FT_TIMESTAMP || t == FT_DATE) {
    double us = t == FT_DATE ? x * 86400e6 : x;
    timestamp_format((int64_t)llround(us), buf, sizeof buf);
    return json_string(buf);
  }
  return real(x);
}

static json_t *bound_json(const struct colstat *c, bool lower) {
  char buf[64];
  if (!c->nr || c->type == FT_STRING) return json_null();
  int64_t iv = lower ? c->imin : c->imax;
  switch (c->type) {
    case FT_INT: case FT_BIGINT: return json_integer(iv);
    case FT_BOOLEAN: return json_boolean(iv != 0);
    case FT_TIMESTAMP: timestamp_format(iv, buf, sizeof buf); return json_string(buf);
    case FT_DATE: date_format((int32_t)iv, buf, sizeof buf); return json_string(buf);
    default: return real(lower ? c->lo : c->hi);
  }
}

static json_t *hist_json(const struct colstat *c, unsigned bins) {
  if (!c->h.counts || !c->h.total) return json_null();
  unsigned nb = c->h.lo == c->h.hi ? 1 : bins;
  json_t *edges = json_array(), *counts = json_array();
  for (unsigned j = 0; j <= nb; j++)
    json_array_append_new(edges, edge_json(c->type, j == nb ? c->h.hi : c->h.lo + (c->h.hi - c->h.lo) * j / nb));
  if (nb == 1) json_array_append_new(counts, json_integer((json_int_t)c->h.total));
  else
    for (unsigned j = 0; j < nb; j++) json_array_append_new(counts, json_integer((json_int_t)c->h.counts[j]));
  return json_pack("{s:o,s:o}", "edges", edges, "counts", counts);
}

static json_t *col_json(const struct colstat *c, unsigned bins) {
  json_t *o = json_object();
  json_object_set_new(o, "name", json_string(c->name));
  json_object_set_new(o, "type", json_string(ftype_name(c->type)));
  json_object_set_new(o, "count", json_integer((json_int_t)c->count));
  json_object_set_new(o, "null_count", json_integer((json_int_t)c->nulls));
  double d = c->count ? round(hll_estimate(&c->hll)) : 0;
  if (d > (double)c->count) d = (double)c->count;
  if (c->count && d < 1) d = 1;
  json_object_set_new(o, "distinct_count", json_integer((json_int_t)d));
  json_object_set_new(o, "min", bound_json(c, true));
  json_object_set_new(o, "max", bound_json(c, false));
  bool mom = has_moments(c->type) && c->n;
  json_object_set_new(o, "mean", mom ? real(c->mean) : json_null());
  json_object_set_new(o, "stddev", mom ? real(sqrt(c->m2 / (double)c->n)) : json_null());
  json_object_set_new(o, "histogram", hist_json(c, bins));
  if (c->type == FT_STRING) {
    json_object_set_new(o, "min_length", c->count ? json_integer((json_int_t)c->lmin) : json_null());
    json_object_set_new(o, "max_length", c->count ? json_integer((json_int_t)c->lmax) : json_null());
  }
  return o;
}

static json_t *corr_value(const struct pair *p) {
  if (p->n < 2 || p->m2x <= 0 || p->m2y <= 0) return json_null();
  double r = p->cxy / sqrt(p->m2x * p->m2y);
  return real(r > 1 ? 1 : r < -1 ? -1 : r);
}

/* Index of pair (a, b), a < b, among k columns. */
static size_t pair_index(size_t k, size_t a, size_t b) { return a * (2 * k - a - 1) / 2 + (b - a - 1); }

json_t *stats_json(const struct stats *s) {
  json_t *cols = json_array();
  for (size_t i = 0; i < s->ncols; i++) json_array_append_new(cols, col_json(&s->cols[i], s->o.bins));
  json_t *out = json_pack("{s:o}", "columns", cols);
  if (!s->o.correlations) return out;
  json_t *names = json_array(), *rows = json_array();
  for (size_t a = 0; a < s->ncorr; a++) {
    const struct colstat *c = &s->cols[s->corr[a]];
    json_array_append_new(names, json_string(c->name));
    json_t *row = json_array();
    for (size_t b = 0; b < s->ncorr; b++) {
      if (a == b) json_array_append_new(row, c->n > 1 && c->m2 > 0 ? json_real(1) : json_null());
      else json_array_append_new(row, corr_value(&s->pairs[a < b ? pair_index(s->ncorr, a, b) : pair_index(s->ncorr, b, a)]));
    }
    json_array_append_new(rows, row);
  }
  json_object_set_new(out, "correlations", json_pack("{s:o,s:o}", "columns", names, "values", rows));
  return out;
}

json_t *stats_of_table(const struct table *t, const struct stats_opts *o) {
  struct stats *s = stats_new(t, o);
  stats_add(s, t, NULL);
  json_t *j = stats_json(s);
  stats_free(s);
  return j;
}

/* ---- saved state ---- */

json_t *stats_save(const struct stats *s) {
  json_t *cols = json_array();
  char *hex = xmalloc(2 * HLL_M + 1);
  for (size_t i = 0; i < s->ncols; i++) {
    const struct colstat *c = &s->cols[i];
    crypto_hex(c->hll.reg, HLL_M, hex);
    json_t *hist = json_null();
    if (c->h.counts) {
      json_t *counts = json_array();
      for (unsigned j = 0; j < s->o.bins; j++) json_array_append_new(counts, json_integer((json_int_t)c->h.counts[j]));
      hist = json_pack("{s:o,s:o,s:I,s:o}", "lo", real(c->h.lo), "hi", real(c->h.hi), "total", (json_int_t)c->h.total,
                       "counts", counts);
    }
    json_array_append_new(
        cols, json_pack("{s:s,s:s,s:I,s:I,s:I,s:o,s:o,s:I,s:o,s:o,s:I,s:I,s:I,s:I,s:s,s:o}", "name", c->name, "type",
                        ftype_name(c->type), "count", (json_int_t)c->count, "nulls", (json_int_t)c->nulls, "n",
                        (json_int_t)c->n, "mean", real(c->mean), "m2", real(c->m2), "nr", (json_int_t)c->nr, "lo",
                        real(c->lo), "hi", real(c->hi), "imin", (json_int_t)c->imin, "imax", (json_int_t)c->imax, "lmin", (json_int_t)c->lmin,
                        "lmax", (json_int_t)c->lmax, "hll", hex, "hist", hist));
  }
  free(hex);
  json_t *pairs = json_array();
  for (size_t p = 0; p < npairs(s); p++) {
    const struct pair *q = &s->pairs[p];
    json_array_append_new(pairs, json_pack("[I,o,o,o,o,o]", (json_int_t)q->n, real(q->mx), real(q->my), real(q->m2x),
                                           real(q->m2y), real(q->cxy)));
  }
  return json_pack("{s:i,s:b,s:b,s:i,s:o,s:o}", "version", 1, "histograms", s->o.histograms, "correlations",
                   s->o.correlations, "bins", (int)s->o.bins, "columns", cols, "pairs", pairs);
}

static int unhex(const char *s, uint8_t *out, size_t n) {
  if (!s || strlen(s) != 2 * n) return -1;
  for (size_t i = 0; i < n; i++) {
    int v = 0;
    for (int k = 0; k < 2; k++) {
      char ch = s[2 * i + k];
      int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    out[i] = (uint8_t)v;
  }
  return 0;
}

static int load_col(json_t *j, struct stats *s, size_t i, oast_err *e) {
  struct colstat *c = &s->cols[i];
  json_int_t count, nulls, n, nr, imin, imax, lmin, lmax;
  json_t *mean, *m2, *lo, *hi;
  const char *hex;
  json_t *hist;
  json_error_t je;
  if (json_unpack_ex(j, &je, JSON_STRICT, "{s:s,s:s,s:I,s:I,s:I,s:o,s:o,s:I,s:o,s:o,s:I,s:I,s:I,s:I,s:s,s:o}", "name",
                     &(const char *){0}, "type", &(const char *){0}, "count", &count, "nulls", &nulls, "n", &n, "mean",
                     &mean, "m2", &m2, "nr", &nr, "lo", &lo, "hi", &hi, "imin", &imin, "imax", &imax, "lmin", &lmin,
                     "lmax", &lmax, "hll", &hex, "hist", &hist))
    return oast_err_set(e, OAST_EBAD_REQUEST, "statistics state, column %zu: %s", i + 1, je.text);
  if (count < 0 || nulls < 0 || n < 0 || nr < 0 || lmin < 0 || lmax < 0 || unhex(hex, c->hll.reg, HLL_M) ||
      get_real(mean, &c->mean) || get_real(m2, &c->m2) || get_real(lo, &c->lo) || get_real(hi, &c->hi))
    return oast_err_set(e, OAST_EBAD_REQUEST, "statistics state, column %zu: bad values", i + 1);
  c->count = (uint64_t)count, c->nulls = (uint64_t)nulls, c->n = (uint64_t)n, c->nr = (uint64_t)nr;
  c->imin = imin, c->imax = imax;
  c->lmin = (uint64_t)lmin, c->lmax = (uint64_t)lmax;
  if (!c->h.counts) return json_is_null(hist) ? 0 : oast_err_set(e, OAST_EBAD_REQUEST, "statistics state, column %zu: unexpected histogram", i + 1);
  json_t *counts, *hlo, *hhi;
  json_int_t total;
  if (json_unpack_ex(hist, &je, JSON_STRICT, "{s:o,s:o,s:I,s:o}", "lo", &hlo, "hi", &hhi, "total", &total, "counts",
                     &counts) ||
      get_real(hlo, &c->h.lo) || get_real(hhi, &c->h.hi) || !json_is_array(counts) || json_array_size(counts) != s->o.bins || total < 0)
    return oast_err_set(e, OAST_EBAD_REQUEST, "statistics state, column %zu: bad histogram", i + 1);
  c->h.total = (uint64_t)total;
  for (unsigned b = 0; b < s->o.bins; b++) {
    json_t *v = json_array_get(counts, b);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
      return oast_err_set(e, OAST_EBAD_REQUEST, "statistics state, column %zu: bad histogram", i + 1);
    c->h.counts[b] = (uint64_t)json_integer_value(v);
  }
  return 0;
}

int stats_load(const json_t *j, struct stats **out, oast_err *e) {
  *out = NULL;
  int version, hist, corr, bins;
  json_t *cols, *pairs;
  json_error_t je;
  if (json_unpack_ex((json_t *)j, &je, JSON_STRICT, "{s:i,s:b,s:b,s:i,s:o,s:o}", "version", &version, "histograms",
                     &hist, "correlations", &corr, "bins", &bins, "columns", &cols, "pairs", &pairs))
    return oast_err_set(e, OAST_EBAD_REQUEST, "statistics state: %s", je.text);
  if (version != 1 || bins < 1 || bins > (int)STATS_BINS_MAX || !json_is_array(cols) || !json_is_array(pairs))
    return oast_err_set(e, OAST_EBAD_REQUEST, "statistics state: unsupported version or options");
  size_t ncols = json_array_size(cols);
  const char **names = xcalloc(ncols + 1, sizeof *names);
  enum ftype *types = xcalloc(ncols + 1, sizeof *types);
  int rc = 0;
  for (size_t i = 0; i < ncols && !rc; i++) {
    json_t *c = json_array_get(cols, i);
    names[i] = json_string_value(json_object_get(c, "name"));
    int t = ftype_from_name(json_string_value(json_object_get(c, "type")));
    if (!names[i] || t < 0) rc = oast_err_set(e, OAST_EBAD_REQUEST, "statistics state, column %zu: bad name or type", i + 1);
    types[i] = (enum ftype)(t < 0 ? 0 : t);
  }
  struct stats *s = NULL;
  if (!rc) {
    struct stats_opts o = {hist != 0, corr != 0, (unsigned)bins};
    s = alloc_stats(ncols, names, types, &o);
    for (size_t i = 0; i < ncols && !rc; i++) rc = load_col(json_array_get(cols, i), s, i, e);
  }
  if (!rc && json_array_size(pairs) != npairs(s))
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "statistics state: %zu correlation pairs, expected %zu",
                      json_array_size(pairs), npairs(s));
  for (size_t p = 0; !rc && p < json_array_size(pairs); p++) {
    struct pair *q = &s->pairs[p];
    json_int_t n;
    json_t *v[5];
    if (json_unpack_ex(json_array_get(pairs, p), &je, JSON_STRICT, "[I,o,o,o,o,o]", &n, &v[0], &v[1], &v[2], &v[3],
                       &v[4]) ||
        n < 0 || get_real(v[0], &q->mx) || get_real(v[1], &q->my) || get_real(v[2], &q->m2x) ||
        get_real(v[3], &q->m2y) || get_real(v[4], &q->cxy))
      rc = oast_err_set(e, OAST_EBAD_REQUEST, "statistics state, pair %zu: bad values", p + 1);
    q->n = (uint64_t)n;
  }
  free(names);
  free(types);
  if (rc) {
    stats_free(s);
    return rc;
  }
  *out = s;
  return 0;
}
