/*
 * pitjoin.c — point-in-time joins (see pitjoin.h).
 *
 * How. The right side is indexed once:
 *   1. every row's key is hashed column by column (a tight loop per
 *      column, the type switch outside it);
 *   2. a hash table of distinct keys gives each row a dense key id (equal
 *      hashes are confirmed by comparing the values, kept in the slot for
 *      a single integer-like key so no row is re-read);
 *   3. a counting sort by key id lays the rows of each key side by side
 *      (in input order) with their event times in a parallel array;
 *   4. each key's run is sorted by (time, row) unless already in order,
 *      which ingestion order usually gives.
 * The left rows are hashed the same way and given the key id of their
 * key (or none), then counting-sorted by key id too, with their times. The
 * match then walks key by key: the left rows of a key binary-search the
 * key's right run for the last time at or before their own. Both runs of
 * a key sit in cache while it is worked on, so the only random accesses
 * are the two scatters of the counting sorts and the final writes of the
 * answers. Hashing and probing run in parallel over ranges of left rows,
 * run sorting and matching over ranges of keys, gathering the output over
 * columns.
 *
 * Why this way. Probing each left row straight into the right index
 * costs several dependent cache misses per row once the tables outgrow
 * the cache (tens of millions of rows); grouping both sides by key turns
 * them into sequential passes, without a comparison sort of either side.
 */
#define _GNU_SOURCE
#include "fstore/pitjoin.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"

#define MAX_THREADS 8
/* How far ahead a gather prefetches: its reads are random, which hardware prefetchers cannot guess. */
#define PREFETCH 16

bool pit_key_types_compatible(enum ftype a, enum ftype b) {
  bool ia = a == FT_INT || a == FT_BIGINT, ib = b == FT_INT || b == FT_BIGINT;
  if (ia || ib) return ia && ib;
  return a == b;
}

bool pit_time_types_compatible(enum ftype a, enum ftype b) {
  bool ta = a == FT_TIMESTAMP || a == FT_DATE, tb = b == FT_TIMESTAMP || b == FT_DATE;
  if (ta || tb) return ta && tb;
  return a == FT_BIGINT && b == FT_BIGINT;
}

int64_t pit_time_at(const struct column *c, size_t i) {
  switch (c->type) {
    case FT_DATE: return (int64_t)column_i32(c, i) * 86400000000LL;
    case FT_INT: return column_i32(c, i);
    default: return column_i64(c, i);
  }
}

/* ---- threads ---- */

struct par {
  void (*fn)(void *arg, size_t from, size_t to);
  void *arg;
  size_t from, to;
};

static void *par_main(void *p) {
  struct par *w = p;
  w->fn(w->arg, w->from, w->to);
  return NULL;
}

static int nthreads(int want) {
  if (want > 0) return want > MAX_THREADS ? MAX_THREADS : want;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) n = 1;
  return n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/* Runs fn over [0, n) split into ranges, one per thread (the caller's thread takes the first). */
static void parallel_for(int threads, size_t n, size_t min_chunk, void (*fn)(void *, size_t, size_t), void *arg) {
  size_t t = (size_t)threads;
  if (t > 1 && n / t < min_chunk) t = n / min_chunk ? n / min_chunk : 1;
  if (t <= 1) {
    fn(arg, 0, n);
    return;
  }
  struct par w[MAX_THREADS];
  pthread_t tid[MAX_THREADS];
  bool started[MAX_THREADS] = {false};
  for (size_t k = 0; k < t; k++) {
    w[k] = (struct par){fn, arg, n * k / t, n * (k + 1) / t};
    if (k > 0) started[k] = pthread_create(&tid[k], NULL, par_main, &w[k]) == 0;
  }
  fn(arg, w[0].from, w[0].to);
  for (size_t k = 1; k < t; k++) {
    if (started[k]) pthread_join(tid[k], NULL);
    else fn(arg, w[k].from, w[k].to); /* no thread: do its share here */
  }
}

/* ---- key hashing and comparison ---- */

static inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

static uint64_t bytes_hash(const char *s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, s + i, 8);
    h = mix64(h ^ v);
  }
  uint64_t v = 0;
  memcpy(&v, s + i, n - i);
  return mix64(h ^ v);
}

static inline uint64_t double_bits(double d) {
  if (d == 0) d = 0; /* -0.0 equals 0.0 */
  uint64_t u;
  memcpy(&u, &d, 8);
  return u;
}

/* The value of a key cell as 64 bits; equal values of compatible types give equal bits. */
static inline uint64_t cell_bits(const struct column *c, size_t i) {
  switch (c->type) {
    case FT_INT: case FT_DATE: return (uint64_t)(int64_t)column_i32(c, i);
    case FT_BIGINT: case FT_TIMESTAMP: return (uint64_t)column_i64(c, i);
    case FT_FLOAT: return double_bits(column_f32(c, i));
    case FT_DOUBLE: return double_bits(column_f64(c, i));
    case FT_BOOLEAN: return column_bool(c, i);
    default: {
      size_t n;
      const char *s = column_str(c, i, &n);
      return bytes_hash(s, n);
    }
  }
}

static bool cells_equal(const struct column *a, size_t i, const struct column *b, size_t j) {
  if (a->type == FT_STRING) {
    size_t na, nb;
    const char *sa = column_str(a, i, &na), *sb = column_str(b, j, &nb);
    return na == nb && memcmp(sa, sb, na) == 0;
  }
  if (a->type == FT_FLOAT || a->type == FT_DOUBLE) {
    double x = a->type == FT_FLOAT ? column_f32(a, i) : column_f64(a, i);
    double y = b->type == FT_FLOAT ? column_f32(b, j) : column_f64(b, j);
    return x == y;
  }
  return cell_bits(a, i) == cell_bits(b, j);
}

/* Hashes of rows [from, to) of a side (rows NULL: identity); nullkey[i] set where a key cell is null. */
struct hash_job {
  const struct pit_side *side;
  const uint32_t *rows;
  uint64_t *h;
  uint8_t *nullkey;
};

static void hash_range(void *arg, size_t from, size_t to) {
  struct hash_job *j = arg;
  const struct pit_side *s = j->side;
  for (size_t i = from; i < to; i++) {
    j->h[i] = 0x9e3779b97f4a7c15ULL;
    j->nullkey[i] = 0;
  }
  for (size_t k = 0; k < s->nkeys; k++) {
    const struct column *c = &s->t->cols[s->keys[k]];
    const uint8_t *valid = c->valid;
    const uint32_t *rows = j->rows;
#define HASH_LOOP(EXPR)                                         \
  for (size_t i = from; i < to; i++) {                          \
    size_t r = rows ? rows[i] : i;                              \
    j->nullkey[i] |= !valid[r];                                 \
    j->h[i] = mix64(j->h[i] ^ (uint64_t)(EXPR) ^ (k << 56));    \
  }
    switch (c->type) {
      case FT_INT: case FT_DATE: HASH_LOOP((int64_t)((const int32_t *)c->vals)[r]); break;
      case FT_BIGINT: case FT_TIMESTAMP: HASH_LOOP(((const int64_t *)c->vals)[r]); break;
      case FT_BOOLEAN: HASH_LOOP(((const uint8_t *)c->vals)[r] != 0); break;
      default: HASH_LOOP(valid[r] ? cell_bits(c, r) : 0); break;
    }
#undef HASH_LOOP
  }
}

/* ---- the right side's index ---- */

struct slot {
  uint64_t hash;
  uint64_t bits;  /* fast keys: the key's value, compared instead of the row's cells */
  uint32_t kid;   /* PIT_NONE: empty */
  uint32_t row;   /* a right row holding the key */
};

struct index {
  const struct pit_side *side;
  bool fast;          /* one integer-like key column: compare slot bits, never the rows */
  struct slot *slots;
  size_t mask, nkeys;
  uint32_t *off;      /* nkeys + 1: run of key k is [off[k], off[k+1]) */
  uint32_t *rows;     /* right rows, grouped by key, sorted by (time, row) */
  int64_t *times;     /* their event times (NULL when the right side has none) */
};

static bool keys_equal(const struct pit_side *a, size_t i, const struct pit_side *b, size_t j) {
  for (size_t k = 0; k < a->nkeys; k++)
    if (!cells_equal(&a->t->cols[a->keys[k]], i, &b->t->cols[b->keys[k]], j)) return false;
  return true;
}

/* Whether a side's key is one column whose 64-bit value decides equality exactly. */
static bool fast_key(const struct pit_side *s) {
  if (s->nkeys != 1) return false;
  enum ftype t = s->t->cols[s->keys[0]].type;
  return t != FT_STRING && t != FT_FLOAT && t != FT_DOUBLE;
}

static void index_grow(struct index *x) {
  size_t cap = (x->mask + 1) * 2;
  struct slot *s = xmalloc(cap * sizeof *s);
  for (size_t i = 0; i < cap; i++) s[i].kid = PIT_NONE;
  for (size_t i = 0; i <= x->mask; i++) {
    if (x->slots[i].kid == PIT_NONE) continue;
    size_t p = x->slots[i].hash & (cap - 1);
    while (s[p].kid != PIT_NONE) p = (p + 1) & (cap - 1);
    s[p] = x->slots[i];
  }
  free(x->slots);
  x->slots = s;
  x->mask = cap - 1;
}

/* The key id of a probe row (side/row with hash h), PIT_NONE when absent. */
static inline uint32_t index_find(const struct index *x, uint64_t h, const struct pit_side *side, size_t row) {
  size_t p = h & x->mask;
  uint64_t bits = x->fast ? cell_bits(&side->t->cols[side->keys[0]], row) : 0;
  for (;;) {
    const struct slot *s = &x->slots[p];
    if (s->kid == PIT_NONE) return PIT_NONE;
    if (s->hash == h && (x->fast ? s->bits == bits : keys_equal(side, row, x->side, s->row))) return s->kid;
    p = (p + 1) & x->mask;
  }
}

struct pair {
  int64_t t;
  uint32_t row;
};

/*
 * Sorts a[0..n) by time, stably (so rows, which ascend within a run, stay
 * in order among equal times): insertion sort for short runs, else a
 * bottom-up merge sort through tmp (n entries). Comparisons are inline:
 * runs are sorted by the hundred thousand, where qsort's indirect calls
 * would dominate.
 */
static void sort_pairs(struct pair *a, struct pair *tmp, size_t n) {
  const size_t small = 24;
  for (size_t from = 0; from < n; from += small) {
    size_t to = from + small < n ? from + small : n;
    for (size_t i = from + 1; i < to; i++) {
      struct pair v = a[i];
      size_t p = i;
      while (p > from && a[p - 1].t > v.t) {
        a[p] = a[p - 1];
        p--;
      }
      a[p] = v;
    }
  }
  struct pair *src = a, *dst = tmp;
  for (size_t width = small; width < n; width *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * width) {
      size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) dst[k++] = src[j].t < src[i].t ? src[j++] : src[i++];
      while (i < mid) dst[k++] = src[i++];
      while (j < hi) dst[k++] = src[j++];
    }
    struct pair *t = src;
    src = dst;
    dst = t;
  }
  if (src != a) memcpy(a, src, n * sizeof *a);
}

/* Sorts runs[off[k]..off[k+1]) of (times, rows) by (time, row) for keys [from, to). */
struct sort_job {
  const uint32_t *off;
  int64_t *times;
  uint32_t *rows;
};

static void sort_runs(void *arg, size_t from, size_t to) {
  struct sort_job *j = arg;
  struct pair *buf = NULL;
  size_t cap = 0;
  for (size_t k = from; k < to; k++) {
    uint32_t a = j->off[k], b = j->off[k + 1];
    bool sorted = true;
    for (uint32_t i = a + 1; i < b && sorted; i++) sorted = j->times[i - 1] <= j->times[i];
    if (sorted) continue; /* rows ascend within a run, so ties are already in row order */
    size_t n = b - a;
    if (2 * n > cap) buf = xreallocarray(buf, cap = 2 * n, sizeof *buf);
    for (size_t i = 0; i < n; i++) buf[i] = (struct pair){j->times[a + i], j->rows[a + i]};
    sort_pairs(buf, buf + n, n);
    for (size_t i = 0; i < n; i++) {
      j->times[a + i] = buf[i].t;
      j->rows[a + i] = buf[i].row;
    }
  }
  free(buf);
}

static void index_release(struct index *x) {
  free(x->slots);
  free(x->off);
  free(x->rows);
  free(x->times);
}

/*
 * Counting sort of n items by kid[i] (PIT_NONE: left out) into runs:
 * *off (nkeys + 1 entries), *pos (the item numbers, ascending within a
 * run; item i stands for row rows ? rows[i] : i when rows_out) and, when
 * tc is set, *times (each item's event time, read sequentially here so
 * later passes never chase rows).
 */
static void runs_build(const uint32_t *kid, size_t n, size_t nkeys, const struct column *tc, const uint32_t *rows,
                       bool rows_out, uint32_t **off_out, uint32_t **pos_out, int64_t **times_out) {
  uint32_t *off = xcalloc(nkeys + 1, sizeof *off);
  for (size_t i = 0; i < n; i++)
    if (kid[i] != PIT_NONE) off[kid[i] + 1]++;
  for (size_t k = 0; k < nkeys; k++) off[k + 1] += off[k];
  size_t m = off[nkeys];
  uint32_t *pos = xmalloc((m ? m : 1) * sizeof *pos);
  int64_t *times = tc ? xmalloc((m ? m : 1) * sizeof *times) : NULL;
  uint32_t *fill = xmalloc((nkeys ? nkeys : 1) * sizeof *fill);
  memcpy(fill, off, nkeys * sizeof *fill);
  for (size_t i = 0; i < n; i++) {
    uint32_t k = kid[i];
    if (k == PIT_NONE) continue;
    uint32_t at = fill[k]++;
    size_t r = rows ? rows[i] : i;
    pos[at] = rows_out ? (uint32_t)r : (uint32_t)i;
    if (tc) times[at] = pit_time_at(tc, r);
  }
  free(fill);
  *off_out = off;
  *pos_out = pos;
  *times_out = times;
}

static void index_build(struct index *x, const struct pit_side *right, int threads) {
  size_t n = right->t->nrows;
  memset(x, 0, sizeof *x);
  x->side = right;
  x->fast = fast_key(right);
  uint64_t *h = xmalloc((n ? n : 1) * sizeof *h);
  uint8_t *nullkey = xmalloc(n ? n : 1);
  struct hash_job hj = {right, NULL, h, nullkey};
  parallel_for(threads, n, 1 << 16, hash_range, &hj);
  size_t cap = 1024;
  x->slots = xmalloc(cap * sizeof *x->slots);
  for (size_t i = 0; i < cap; i++) x->slots[i].kid = PIT_NONE;
  x->mask = cap - 1;
  uint32_t *kid = xmalloc((n ? n : 1) * sizeof *kid);
  const struct column *kc = &right->t->cols[right->keys[0]];
  for (size_t i = 0; i < n; i++) {
    if (nullkey[i]) {
      kid[i] = PIT_NONE;
      continue;
    }
    uint64_t bits = x->fast ? cell_bits(kc, i) : 0;
    size_t p = h[i] & x->mask;
    for (;;) {
      struct slot *s = &x->slots[p];
      if (s->kid == PIT_NONE) {
        s->hash = h[i];
        s->bits = bits;
        s->kid = (uint32_t)x->nkeys++;
        s->row = (uint32_t)i;
        kid[i] = s->kid;
        if (x->nkeys * 2 > x->mask + 1) index_grow(x);
        break;
      }
      if (s->hash == h[i] && (x->fast ? s->bits == bits : keys_equal(right, i, right, s->row))) {
        kid[i] = s->kid;
        break;
      }
      p = (p + 1) & x->mask;
    }
  }
  free(h);
  free(nullkey);
  const struct column *tc = right->time >= 0 ? &right->t->cols[right->time] : NULL;
  runs_build(kid, n, x->nkeys, tc, NULL, true, &x->off, &x->rows, &x->times);
  free(kid);
  if (tc) {
    struct sort_job sj = {x->off, x->times, x->rows};
    parallel_for(threads, x->nkeys, 1024, sort_runs, &sj);
  }
}

/* ---- probing ---- */

/* Phase 1, over ranges of left items: each item's key id in the right index. */
struct kid_job {
  const struct index *x;
  const struct pit_side *left;
  const uint32_t *rows;
  uint64_t *h;
  uint8_t *nullkey;
  uint32_t *kid;
};

static void kid_range(void *arg, size_t from, size_t to) {
  struct kid_job *j = arg;
  struct hash_job hj = {j->left, j->rows, j->h, j->nullkey};
  hash_range(&hj, from, to);
  for (size_t i = from; i < to; i++)
    j->kid[i] = j->nullkey[i] ? PIT_NONE : index_find(j->x, j->h[i], j->left, j->rows ? j->rows[i] : i);
}

/* Phase 2, over ranges of keys: the left items of each key against its right run, both in cache. */
struct match_job {
  const struct index *x;
  const uint32_t *loff, *lpos;
  const int64_t *ltimes;  /* NULL: the left side has no event time */
  uint32_t *match;
};

static void match_range(void *arg, size_t from, size_t to) {
  struct match_job *j = arg;
  const struct index *x = j->x;
  for (size_t k = from; k < to; k++) {
    uint32_t a = x->off[k], b = x->off[k + 1];
    for (uint32_t p = j->loff[k]; p < j->loff[k + 1]; p++) {
      uint32_t item = j->lpos[p];
      if (!j->ltimes || !x->times) {
        j->match[item] = x->rows[b - 1]; /* the latest row of the key */
        continue;
      }
      int64_t t = j->ltimes[p];
      /* The first position in [a, b) whose time is later than t. */
      uint32_t lo = a, hi = b;
      while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (x->times[mid] <= t) lo = mid + 1;
        else hi = mid;
      }
      j->match[item] = lo > a ? x->rows[lo - 1] : PIT_NONE;
    }
  }
}

static int check_side(const struct pit_side *s, const char *which, oast_err *e) {
  if (s->t->nrows >= PIT_NONE)
    return oast_err_set(e, OAST_ETOO_LARGE, "the %s side of a join has %zu rows; at most %u are supported", which,
                        s->t->nrows, PIT_NONE - 1);
  if (s->nkeys == 0 || s->nkeys > PIT_MAX_KEYS)
    return oast_err_set(e, OAST_EBAD_REQUEST, "a join needs 1 to %d key columns", PIT_MAX_KEYS);
  for (size_t k = 0; k < s->nkeys; k++)
    if (s->keys[k] < 0 || (size_t)s->keys[k] >= s->t->ncols)
      return oast_err_set(e, OAST_EINTERNAL, "join key %zu of the %s side is not a column", k, which);
  if (s->time >= (int)s->t->ncols) return oast_err_set(e, OAST_EINTERNAL, "the %s side's event time is not a column", which);
  return 0;
}

int pit_match(const struct pit_side *left, const uint32_t *rows, size_t n, const struct pit_side *right, int threads,
              uint32_t *match, oast_err *e) {
  int rc;
  if ((rc = check_side(left, "left", e)) || (rc = check_side(right, "right", e))) return rc;
  if (left->nkeys != right->nkeys)
    return oast_err_set(e, OAST_EBAD_REQUEST, "the join has %zu left keys and %zu right keys", left->nkeys,
                        right->nkeys);
  for (size_t k = 0; k < left->nkeys; k++) {
    const struct column *a = &left->t->cols[left->keys[k]], *b = &right->t->cols[right->keys[k]];
    if (!pit_key_types_compatible(a->type, b->type))
      return oast_err_set(e, OAST_EBAD_REQUEST, "join key \"%s\" (%s) cannot be compared with \"%s\" (%s)", a->name,
                          ftype_name(a->type), b->name, ftype_name(b->type));
  }
  if (left->time >= 0 && right->time >= 0) {
    const struct column *a = &left->t->cols[left->time], *b = &right->t->cols[right->time];
    if (!pit_time_types_compatible(a->type, b->type))
      return oast_err_set(e, OAST_EBAD_REQUEST, "event time \"%s\" (%s) cannot be compared with \"%s\" (%s)", a->name,
                          ftype_name(a->type), b->name, ftype_name(b->type));
  }
  if (!rows) n = left->t->nrows;
  threads = nthreads(threads);
  struct index x;
  index_build(&x, right, threads);
  uint32_t *kid = xmalloc((n ? n : 1) * sizeof *kid);
  struct kid_job kj = {&x, left, rows, xmalloc((n ? n : 1) * sizeof(uint64_t)), xmalloc(n ? n : 1), kid};
  parallel_for(threads, n, 1 << 15, kid_range, &kj);
  free(kj.h);
  free(kj.nullkey);
  for (size_t i = 0; i < n; i++)
    if (kid[i] == PIT_NONE) match[i] = PIT_NONE;
  struct match_job mj = {&x, NULL, NULL, NULL, match};
  const struct column *lt = left->time >= 0 && x.times ? &left->t->cols[left->time] : NULL;
  uint32_t *loff, *lpos;
  int64_t *ltimes;
  runs_build(kid, n, x.nkeys, lt, rows, false, &loff, &lpos, &ltimes);
  free(kid);
  mj.loff = loff;
  mj.lpos = lpos;
  mj.ltimes = ltimes;
  parallel_for(threads, x.nkeys, 256, match_range, &mj);
  free(loff);
  free(lpos);
  free(ltimes);
  index_release(&x);
  return 0;
}

/* ---- gathering ---- */

void pit_gather(struct column *dst, const struct column *src, const uint32_t *idx, size_t n) {
  column_reserve(dst, dst->len + n);
  uint8_t *valid = dst->valid + dst->len;
  if (src->type == FT_STRING) {
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
      if (idx[i] != PIT_NONE) bytes += (size_t)(src->offs[idx[i] + 1] - src->offs[idx[i]]);
    if (dst->sdata_len + bytes > dst->sdata_cap) {
      size_t cap = dst->sdata_cap ? dst->sdata_cap : 256;
      while (cap < dst->sdata_len + bytes) cap *= 2;
      dst->sdata = xrealloc(dst->sdata, cap);
      dst->sdata_cap = cap;
    }
    uint64_t *offs = dst->offs + dst->len;
    for (size_t i = 0; i < n; i++) {
      uint32_t r = idx[i];
      if (r == PIT_NONE || !src->valid[r]) {
        valid[i] = 0;
      } else {
        size_t len = (size_t)(src->offs[r + 1] - src->offs[r]);
        if (len) memcpy(dst->sdata + dst->sdata_len, src->sdata + src->offs[r], len);
        dst->sdata_len += len;
        valid[i] = 1;
      }
      offs[i + 1] = dst->sdata_len;
    }
  } else {
    size_t w = ftype_width(src->type);
    char *out = (char *)dst->vals + dst->len * w;
#define GATHER(T)                                          \
  for (size_t i = 0; i < n; i++) {                         \
    uint32_t r = idx[i];                                   \
    if (i + PREFETCH < n && idx[i + PREFETCH] != PIT_NONE) \
      __builtin_prefetch((const T *)src->vals + idx[i + PREFETCH]); \
    if (r == PIT_NONE) {                                   \
      ((T *)out)[i] = 0;                                   \
      valid[i] = 0;                                        \
    } else {                                               \
      ((T *)out)[i] = ((const T *)src->vals)[r];           \
      valid[i] = src->valid[r];                            \
    }                                                      \
  }
    switch (w) {
      case 1: GATHER(uint8_t); break;
      case 4: GATHER(uint32_t); break;
      default: GATHER(uint64_t); break;
    }
#undef GATHER
  }
  dst->len += n;
}

struct gather_job {
  struct table *out;
  const struct column **src;    /* per output column */
  const uint32_t **idx;         /* per output column */
  size_t n;
};

static void gather_range(void *arg, size_t from, size_t to) {
  struct gather_job *g = arg;
  for (size_t c = from; c < to; c++) pit_gather(&g->out->cols[c], g->src[c], g->idx[c], g->n);
}

int pit_join(const struct table *left, int left_time, const uint32_t *rows, size_t n, const int *lcols,
             const char *const *lnames, size_t nl, const struct pit_join_spec *joins, size_t nj, int threads,
             struct table *out, oast_err *e) {
  memset(out, 0, sizeof *out);
  if (!rows) n = left->nrows;
  size_t ncols = nl;
  for (size_t j = 0; j < nj; j++) ncols += joins[j].ncols;
  const char **names = xcalloc(ncols ? ncols : 1, sizeof *names);
  enum ftype *types = xcalloc(ncols ? ncols : 1, sizeof *types);
  const struct column **src = xcalloc(ncols ? ncols : 1, sizeof *src);
  const uint32_t **idx = xcalloc(ncols ? ncols : 1, sizeof *idx);
  uint32_t **match = xcalloc(nj ? nj : 1, sizeof *match);
  uint32_t *keep = NULL;
  int rc = 0;
  for (size_t j = 0; j < nj && !rc; j++) {
    match[j] = xmalloc((n ? n : 1) * sizeof **match);
    struct pit_side l = {left, joins[j].left_keys, joins[j].right.nkeys, left_time};
    rc = pit_match(&l, rows ? rows : NULL, n, &joins[j].right, threads, match[j], e);
  }
  if (rc) goto out;
  /* Inner joins keep only rows matched by each of them: compact rows and matches. */
  size_t m = n;
  bool any_inner = false;
  for (size_t j = 0; j < nj; j++) any_inner |= joins[j].inner;
  keep = xmalloc((n ? n : 1) * sizeof *keep);
  for (size_t i = 0; i < n; i++) keep[i] = rows ? rows[i] : (uint32_t)i;
  if (any_inner) {
    m = 0;
    for (size_t i = 0; i < n; i++) {
      bool ok = true;
      for (size_t j = 0; j < nj && ok; j++) ok = !joins[j].inner || match[j][i] != PIT_NONE;
      if (!ok) continue;
      keep[m] = keep[i];
      for (size_t j = 0; j < nj; j++) match[j][m] = match[j][i];
      m++;
    }
  }
  size_t c = 0;
  for (size_t i = 0; i < nl; i++, c++) {
    src[c] = &left->cols[lcols[i]];
    names[c] = lnames[i];
    types[c] = src[c]->type;
    idx[c] = keep;
  }
  for (size_t j = 0; j < nj; j++)
    for (size_t i = 0; i < joins[j].ncols; i++, c++) {
      src[c] = &joins[j].right.t->cols[joins[j].cols[i]];
      names[c] = joins[j].names[i];
      types[c] = src[c]->type;
      idx[c] = match[j];
    }
  table_init(out, ncols, names, types);
  struct gather_job gj = {out, src, idx, m};
  parallel_for(nthreads(threads), ncols, 1, gather_range, &gj);
  out->nrows = m;
out:
  for (size_t j = 0; j < nj; j++) free(match[j]);
  free(match);
  free(keep);
  free(names);
  free(types);
  free(src);
  free(idx);
  return rc;
}
