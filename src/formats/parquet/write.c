/*
 * write.c — the Parquet writer (pq_write_table, see parquet.h).
 *
 * The table is cut into row groups; within a row group every column chunk
 * is encoded independently, on as many threads as there are CPUs, into an
 * in-memory buffer holding its pages (headers included); the chunks are
 * then appended to the temporary file in column order, and the footer
 * records their offsets. The file is committed (fsync + rename) only when
 * the footer is written, so a failure leaves no file behind.
 *
 * A chunk is encoded as follows. Non-boolean columns first try a
 * dictionary: an open-addressing hash table maps each distinct value (the
 * bit pattern of fixed-width values, the bytes of strings, which stay in
 * the table's own buffer) to an entry number, producing one index per
 * non-null value. The attempt is abandoned for PLAIN as soon as the
 * dictionary page would pass dict_max_bytes, or (in AUTO mode) when a
 * sample shows nearly every value is distinct, or when the dictionary plus
 * the indices would not be clearly smaller than PLAIN. Pages are then cut
 * to about page_bytes each: a data page v1 holds the definition levels
 * (RLE/bit-packed, absent for REQUIRED columns) and the values, PLAIN or
 * as bit-packed dictionary indices, compressed as one block.
 *
 * Statistics: each page gets min, max and null count, computed in typed
 * loops over its values (NaN ignored, -0.0/+0.0 widened as the spec
 * asks); the chunk's statistics merge its pages' and add the dictionary
 * size as the distinct count. Strings longer than PQ_STATS_MAX_STRING are
 * left out of min/max rather than truncated.
 */
#define _GNU_SOURCE
#include <math.h>
#include <string.h>

#include "formats/parquet/codec.h"
#include "formats/parquet/meta.h"
#include "formats/parquet/par.h"
#include "formats/parquet/parquet.h"
#include "formats/parquet/rle.h"
#include "util/fs.h"

#define PQ_STATS_MAX_STRING 4096
#define PQ_MAX_PAGE_ROWS ((size_t)1 << 20)
#define DICT_SAMPLE 8192

int pq_codec_from_name(const char *s) {
  if (!s) return -1;
  if (!strcmp(s, "uncompressed") || !strcmp(s, "none")) return PQ_UNCOMPRESSED;
  if (!strcmp(s, "snappy")) return PQ_SNAPPY;
  if (!strcmp(s, "gzip")) return PQ_GZIP;
  if (!strcmp(s, "zstd")) return PQ_ZSTD;
  return -1;
}

const char *pq_codec_name(enum pq_codec c) {
  switch (c) {
    case PQ_UNCOMPRESSED: return "uncompressed";
    case PQ_SNAPPY: return "snappy";
    case PQ_GZIP: return "gzip";
    case PQ_ZSTD: return "zstd";
  }
  return "unknown";
}

void pq_write_opts_init(struct pq_write_opts *o) {
  memset(o, 0, sizeof *o);
  o->codec = PQ_SNAPPY;
  o->dict = PQ_DICT_AUTO;
}

/* ---- hashing ---- */

static inline uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
  while (n >= 8) {
    h = (h ^ rd_u64le(p)) * 0x9FB21C651E98DF25ULL;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  uint64_t t = 0;
  memcpy(&t, p, n);
  return mix64((h ^ t) * 0x9FB21C651E98DF25ULL);
}

/* ---- statistics ---- */

/* Min/max/nulls of a run of rows, in the column's own type. */
struct vstat {
  bool has;                      /* min/max found (some non-null, non-NaN value) */
  int64_t nulls;
  int64_t imin, imax;            /* int, bigint, date, timestamp, boolean */
  double fmin, fmax;             /* float, double */
  const uint8_t *smin, *smax;    /* strings: into the table's buffer */
  size_t smin_n, smax_n;
};

static int str_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  if (c) return c;
  return an < bn ? -1 : an > bn;
}

static void vstat_merge(enum ftype t, struct vstat *into, const struct vstat *s) {
  into->nulls += s->nulls;
  if (!s->has) return;
  if (!into->has) {
    int64_t nulls = into->nulls;
    *into = *s;
    into->nulls = nulls;
    return;
  }
  switch (t) {
    case FT_FLOAT:
    case FT_DOUBLE:
      if (s->fmin < into->fmin) into->fmin = s->fmin;
      if (s->fmax > into->fmax) into->fmax = s->fmax;
      break;
    case FT_STRING:
      if (str_cmp(s->smin, s->smin_n, into->smin, into->smin_n) < 0) {
        into->smin = s->smin;
        into->smin_n = s->smin_n;
      }
      if (str_cmp(s->smax, s->smax_n, into->smax, into->smax_n) > 0) {
        into->smax = s->smax;
        into->smax_n = s->smax_n;
      }
      break;
    default:
      if (s->imin < into->imin) into->imin = s->imin;
      if (s->imax > into->imax) into->imax = s->imax;
  }
}

#define INT_MINMAX(ctype)                                            \
  do {                                                               \
    const ctype *v = (const ctype *)c->vals;                         \
    ctype lo = 0, hi = 0;                                            \
    bool any = false;                                                \
    if (!nulls) {                                                    \
      lo = hi = v[a];                                                \
      for (size_t i = a + 1; i < b; i++) {                           \
        lo = v[i] < lo ? v[i] : lo;                                  \
        hi = v[i] > hi ? v[i] : hi;                                  \
      }                                                              \
      any = b > a;                                                   \
    } else {                                                         \
      for (size_t i = a; i < b; i++) {                               \
        if (!valid[i]) continue;                                     \
        if (!any || v[i] < lo) lo = v[i];                            \
        if (!any || v[i] > hi) hi = v[i];                            \
        any = true;                                                  \
      }                                                              \
    }                                                                \
    s->has = any;                                                    \
    s->imin = lo;                                                    \
    s->imax = hi;                                                    \
  } while (0)

#define FLOAT_MINMAX(ctype)                                          \
  do {                                                               \
    const ctype *v = (const ctype *)c->vals;                         \
    double lo = 0, hi = 0;                                           \
    bool any = false;                                                \
    for (size_t i = a; i < b; i++) {                                 \
      if (!valid[i] || isnan(v[i])) continue;                        \
      if (!any || v[i] < lo) lo = v[i];                              \
      if (!any || v[i] > hi) hi = v[i];                              \
      any = true;                                                    \
    }                                                                \
    /* The spec: a zero minimum is written -0.0, a zero maximum +0.0. */ \
    if (any && lo == 0) lo = -0.0;                                   \
    if (any && hi == 0) hi = 0.0;                                    \
    s->has = any;                                                    \
    s->fmin = lo;                                                    \
    s->fmax = hi;                                                    \
  } while (0)

/* Statistics of rows [a, b) of c, which hold `nulls` nulls. */
static void page_stats(const struct column *c, size_t a, size_t b, size_t nulls, struct vstat *s) {
  memset(s, 0, sizeof *s);
  s->nulls = (int64_t)nulls;
  const uint8_t *valid = c->valid;
  switch (c->type) {
    case FT_INT:
    case FT_DATE: INT_MINMAX(int32_t); break;
    case FT_BIGINT:
    case FT_TIMESTAMP: INT_MINMAX(int64_t); break;
    case FT_BOOLEAN: INT_MINMAX(uint8_t); break;
    case FT_FLOAT: FLOAT_MINMAX(float); break;
    case FT_DOUBLE: FLOAT_MINMAX(double); break;
    case FT_STRING: {
      const uint8_t *base = (const uint8_t *)c->sdata;
      for (size_t i = a; i < b; i++) {
        if (!valid[i]) continue;
        const uint8_t *p = base + c->offs[i];
        size_t n = (size_t)(c->offs[i + 1] - c->offs[i]);
        if (!s->has || str_cmp(p, n, s->smin, s->smin_n) < 0) {
          s->smin = p;
          s->smin_n = n;
        }
        if (!s->has || str_cmp(p, n, s->smax, s->smax_n) > 0) {
          s->smax = p;
          s->smax_n = n;
        }
        s->has = true;
      }
      break;
    }
    default: break;
  }
}

/* Encoded min/max storage for one statistics struct. */
struct statbytes {
  uint8_t min[8], max[8];
};

/* Fills a Parquet Statistics struct from s; bytes for numbers go to sb. */
static void stats_to_pm(enum ftype t, const struct vstat *s, struct statbytes *sb, struct pm_stats *out) {
  memset(out, 0, sizeof *out);
  out->has_null_count = true;
  out->null_count = s->nulls;
  if (!s->has) return;
  size_t w = 0;
  switch (t) {
    case FT_INT:
    case FT_DATE: {
      int32_t lo = (int32_t)s->imin, hi = (int32_t)s->imax;
      memcpy(sb->min, &lo, 4);
      memcpy(sb->max, &hi, 4);
      w = 4;
      break;
    }
    case FT_BIGINT:
    case FT_TIMESTAMP:
      memcpy(sb->min, &s->imin, 8);
      memcpy(sb->max, &s->imax, 8);
      w = 8;
      break;
    case FT_BOOLEAN:
      sb->min[0] = (uint8_t)s->imin;
      sb->max[0] = (uint8_t)s->imax;
      w = 1;
      break;
    case FT_FLOAT: {
      float lo = (float)s->fmin, hi = (float)s->fmax;
      memcpy(sb->min, &lo, 4);
      memcpy(sb->max, &hi, 4);
      w = 4;
      break;
    }
    case FT_DOUBLE:
      memcpy(sb->min, &s->fmin, 8);
      memcpy(sb->max, &s->fmax, 8);
      w = 8;
      break;
    case FT_STRING:
      if (s->smin_n > PQ_STATS_MAX_STRING || s->smax_n > PQ_STATS_MAX_STRING) return;
      out->min_value = (struct pm_bytes){s->smin, s->smin_n, true};
      out->max_value = (struct pm_bytes){s->smax, s->smax_n, true};
      return;
    default: return;
  }
  out->min_value = (struct pm_bytes){sb->min, w, true};
  out->max_value = (struct pm_bytes){sb->max, w, true};
}

/* ---- dictionary ---- */

struct dict {
  uint32_t *slots;      /* entry + 1; 0 = empty */
  size_t mask;
  uint64_t *keys;       /* fixed width: the value's bits; strings: its hash */
  size_t *rows;         /* strings: a row holding the entry's bytes */
  size_t n, cap;
  size_t bytes;         /* PLAIN size of the dictionary page */
};

static void dict_reset(struct dict *d, size_t want_slots) {
  size_t ns = 1024;
  while (ns < want_slots) ns *= 2;
  if (ns != d->mask + 1 || !d->slots) {
    free(d->slots);
    d->slots = xcalloc(ns, sizeof *d->slots);
    d->mask = ns - 1;
  } else {
    memset(d->slots, 0, ns * sizeof *d->slots);
  }
  d->n = 0;
  d->bytes = 0;
}

static void dict_release(struct dict *d) {
  free(d->slots);
  free(d->keys);
  free(d->rows);
  memset(d, 0, sizeof *d);
}

static void dict_grow(struct dict *d) {
  size_t ns = (d->mask + 1) * 2;
  uint32_t *slots = xcalloc(ns, sizeof *slots);
  for (size_t e = 0; e < d->n; e++) {
    size_t s = mix64(d->keys[e]) & (ns - 1);
    while (slots[s]) s = (s + 1) & (ns - 1);
    slots[s] = (uint32_t)(e + 1);
  }
  free(d->slots);
  d->slots = slots;
  d->mask = ns - 1;
}

static void dict_add_entry(struct dict *d, uint64_t key, size_t row) {
  if (d->n == d->cap) {
    d->cap = d->cap ? d->cap * 2 : 1024;
    d->keys = xreallocarray(d->keys, d->cap, sizeof *d->keys);
    d->rows = xreallocarray(d->rows, d->cap, sizeof *d->rows);
  }
  d->keys[d->n] = key;
  d->rows[d->n] = row;
  d->n++;
}

/*
 * Builds the dictionary of rows [a, b) and one index per non-null value.
 * Returns false when the dictionary is abandoned (too big, or in AUTO
 * mode not worth it).
 */
static bool dict_build(struct dict *d, const struct column *c, size_t a, size_t b, size_t nonnull, uint32_t *idx,
                       const struct pq_write_opts *o) {
  size_t w = ftype_width(c->type);
  bool strings = c->type == FT_STRING;
  bool autom = o->dict == PQ_DICT_AUTO;
  size_t max_bytes = o->dict_max_bytes;
  dict_reset(d, nonnull < 65536 ? nonnull * 2 : 131072);
  const uint8_t *valid = c->valid;
  size_t k = 0;
  for (size_t i = a; i < b; i++) {
    if (!valid[i]) continue;
    uint64_t key;
    const uint8_t *sp = NULL;
    size_t sn = 0;
    if (strings) {
      sp = (const uint8_t *)c->sdata + c->offs[i];
      sn = (size_t)(c->offs[i + 1] - c->offs[i]);
      key = hash_bytes(sp, sn);
    } else if (w == 4) {
      key = ((const uint32_t *)c->vals)[i];
    } else {
      key = ((const uint64_t *)c->vals)[i];
    }
    size_t s = (strings ? key : mix64(key)) & d->mask;
    uint32_t e;
    for (;;) {
      e = d->slots[s];
      if (!e) break;
      if (d->keys[e - 1] == key) {
        if (!strings) break;
        size_t r = d->rows[e - 1];
        size_t rn = (size_t)(c->offs[r + 1] - c->offs[r]);
        if (rn == sn && memcmp(c->sdata + c->offs[r], sp, sn) == 0) break;
      }
      s = (s + 1) & d->mask;
    }
    if (!e) {
      dict_add_entry(d, key, i);
      e = (uint32_t)d->n;
      d->slots[s] = e;
      d->bytes += strings ? 4 + sn : w;
      if (d->bytes > max_bytes) return false;
      if (d->n * 2 > d->mask + 1) {
        /* Strings keep their hash as the key, so regrowing needs no rehash of bytes. */
        if (strings) {
          size_t ns = (d->mask + 1) * 2;
          uint32_t *slots = xcalloc(ns, sizeof *slots);
          for (size_t x = 0; x < d->n; x++) {
            size_t y = d->keys[x] & (ns - 1);
            while (slots[y]) y = (y + 1) & (ns - 1);
            slots[y] = (uint32_t)(x + 1);
          }
          free(d->slots);
          d->slots = slots;
          d->mask = ns - 1;
        } else {
          dict_grow(d);
        }
      }
    }
    idx[k++] = e - 1;
    /* Nearly all distinct after a sample: a dictionary would not pay. */
    if (autom && k == DICT_SAMPLE && nonnull > 2 * DICT_SAMPLE && d->n > (strings ? k * 9 / 10 : k / 2)) return false;
  }
  if (autom && !strings) {
    int bw = rle_bit_width(d->n ? d->n - 1 : 0);
    if (bw == 0) bw = 1;
    size_t dict_size = d->bytes + nonnull * (size_t)bw / 8;
    if (dict_size * 5 > nonnull * w * 4) return false;
  }
  return true;
}

/* ---- chunk encoding ---- */

/* Per-thread scratch, reused from chunk to chunk. */
struct wctx {
  struct pqz z;
  struct pqbuf page, comp, vals;
  struct tw hdr;
  struct dict dict;
  uint32_t *idx;
  size_t idx_cap;
  uint32_t *rank;      /* string dictionaries: entry -> sorted position */
  uint32_t *order;     /* sorted position -> entry */
  size_t rank_cap;
};

static void wctx_release(struct wctx *x) {
  pqz_release(&x->z);
  pqbuf_release(&x->page);
  pqbuf_release(&x->comp);
  pqbuf_release(&x->vals);
  tw_release(&x->hdr);
  dict_release(&x->dict);
  free(x->idx);
  free(x->rank);
  free(x->order);
}

/* The encoded chunk of one column in one row group. */
struct chunk {
  struct pqbuf data;           /* dictionary page then data pages, headers included */
  size_t dict_len;             /* bytes of the dictionary page with its header; 0: none */
  uint32_t encodings;
  int64_t uncompressed;        /* headers + uncompressed page bodies */
  struct vstat stats;
  bool has_distinct;
  int64_t distinct;
  int rc;
  oast_err err;
};

/* Appends header + compressed body of one page to ch. */
static int emit_page(struct wctx *x, const struct pq_write_opts *o, struct chunk *ch, struct pm_page *h,
                     oast_err *e) {
  x->comp.len = 0;
  const uint8_t *body = x->page.p;
  size_t body_n = x->page.len;
  if (o->codec != PQ_UNCOMPRESSED) {
    int rc = pqz_compress(&x->z, o->codec, o->level, x->page.p, x->page.len, &x->comp, e);
    if (rc) return rc;
    body = x->comp.p;
    body_n = x->comp.len;
  }
  if (x->page.len > INT32_MAX || body_n > INT32_MAX)
    return oast_err_set(e, OAST_EINTERNAL, "a Parquet page of %zu bytes is too large", x->page.len);
  h->uncompressed_size = (int32_t)x->page.len;
  h->compressed_size = (int32_t)body_n;
  pm_encode_page(&x->hdr, h);
  pqbuf_put(&ch->data, x->hdr.buf.p, x->hdr.buf.len);
  pqbuf_put(&ch->data, body, body_n);
  ch->uncompressed += (int64_t)(x->hdr.buf.len + x->page.len);
  return 0;
}

/* PLAIN values of the dictionary entries into x->page. */
static void dict_page_body(struct wctx *x, const struct column *c) {
  struct dict *d = &x->dict;
  x->page.len = 0;
  if (c->type == FT_STRING) {
    for (size_t e = 0; e < d->n; e++) {
      size_t r = d->rows[e];
      size_t n = (size_t)(c->offs[r + 1] - c->offs[r]);
      pqbuf_put_u32le(&x->page, (uint32_t)n);
      pqbuf_put(&x->page, c->sdata + c->offs[r], n);
    }
  } else if (ftype_width(c->type) == 4) {
    uint8_t *o = pqbuf_room(&x->page, d->n * 4);
    for (size_t e = 0; e < d->n; e++) {
      uint32_t v = (uint32_t)d->keys[e];
      memcpy(o + 4 * e, &v, 4);
    }
    x->page.len = d->n * 4;
  } else {
    pqbuf_put(&x->page, d->keys, d->n * 8);
  }
}

/* Sorting dictionary entries by their bytes (string dictionaries only). */
struct sort_ctx {
  const struct column *c;
  const struct dict *d;
};

static int cmp_entries(const void *pa, const void *pb, void *arg) {
  const struct sort_ctx *sc = arg;
  const struct column *c = sc->c;
  size_t ra = sc->d->rows[*(const uint32_t *)pa], rb = sc->d->rows[*(const uint32_t *)pb];
  return str_cmp((const uint8_t *)c->sdata + c->offs[ra], (size_t)(c->offs[ra + 1] - c->offs[ra]),
                 (const uint8_t *)c->sdata + c->offs[rb], (size_t)(c->offs[rb + 1] - c->offs[rb]));
}

/* Sorts a string dictionary once so that page min/max become integer
 * comparisons of ranks instead of byte comparisons of every value. */
static void rank_strings(struct wctx *x, const struct column *c) {
  struct dict *d = &x->dict;
  if (x->rank_cap < d->n) {
    x->rank_cap = d->n;
    x->rank = xreallocarray(x->rank, d->n, sizeof *x->rank);
    x->order = xreallocarray(x->order, d->n, sizeof *x->order);
  }
  for (size_t e = 0; e < d->n; e++) x->order[e] = (uint32_t)e;
  struct sort_ctx sc = {c, d};
  qsort_r(x->order, d->n, sizeof *x->order, cmp_entries, &sc);
  for (size_t r = 0; r < d->n; r++) x->rank[x->order[r]] = (uint32_t)r;
}

static void entry_bytes(const struct column *c, const struct dict *d, uint32_t e, const uint8_t **p, size_t *n) {
  size_t r = d->rows[e];
  *p = (const uint8_t *)c->sdata + c->offs[r];
  *n = (size_t)(c->offs[r + 1] - c->offs[r]);
}

/* Rows [a, b) of c from `a` on that fill about page_bytes of PLAIN strings. */
static size_t string_page_end(const struct column *c, size_t a, size_t b, size_t page_bytes) {
  size_t lo = a + 1, hi = b;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    size_t bytes = (size_t)(c->offs[mid] - c->offs[a]) + 4 * (mid - a);
    if (bytes >= page_bytes) hi = mid; else lo = mid + 1;
  }
  return lo;
}

static size_t count_nulls(const uint8_t *valid, size_t n) {
  if (!memchr(valid, 0, n)) return 0;
  size_t z = 0;
  for (size_t i = 0; i < n; i++) z += valid[i] == 0;
  return z;
}

/* PLAIN values of the non-null rows [a, b) appended to x->page. */
static void plain_values(struct wctx *x, const struct column *c, size_t a, size_t b, size_t nonnull) {
  const uint8_t *valid = c->valid;
  size_t m = b - a;
  size_t w = ftype_width(c->type);
  struct pqbuf *pg = &x->page;
  switch (c->type) {
    case FT_STRING: {
      size_t bytes = (size_t)(c->offs[b] - c->offs[a]) + 4 * nonnull;
      uint8_t *o = pqbuf_room(pg, bytes);
      size_t k = 0;
      for (size_t i = a; i < b; i++) {
        if (!valid[i]) continue;
        uint32_t n = (uint32_t)(c->offs[i + 1] - c->offs[i]);
        memcpy(o + k, &n, 4);
        memcpy(o + k + 4, c->sdata + c->offs[i], n);
        k += 4 + n;
      }
      pg->len += k;
      return;
    }
    case FT_BOOLEAN: {
      const uint8_t *v = (const uint8_t *)c->vals + a;
      if (nonnull != m) {
        uint8_t *t = pqbuf_scratch(&x->vals, nonnull);
        size_t k = 0;
        for (size_t i = a; i < b; i++)
          if (valid[i]) t[k++] = ((const uint8_t *)c->vals)[i];
        v = t;
      }
      bitpack_bools(pqbuf_room(pg, (nonnull + 7) / 8), v, nonnull);
      pg->len += (nonnull + 7) / 8;
      return;
    }
    default: {
      const uint8_t *v = (const uint8_t *)c->vals + a * w;
      if (nonnull == m) {
        pqbuf_put(pg, v, m * w);
        return;
      }
      /* The page is not aligned (levels come first): store through memcpy. */
      uint8_t *o = pqbuf_room(pg, nonnull * w);
      size_t k = 0;
      if (w == 4) {
        const uint32_t *s = (const uint32_t *)c->vals;
        for (size_t i = a; i < b; i++)
          if (valid[i]) memcpy(o + 4 * k++, &s[i], 4);
      } else {
        const uint64_t *s = (const uint64_t *)c->vals;
        for (size_t i = a; i < b; i++)
          if (valid[i]) memcpy(o + 8 * k++, &s[i], 8);
      }
      pg->len += nonnull * w;
    }
  }
}

static void encode_chunk(struct wctx *x, const struct pq_write_opts *o, const struct column *c, bool required,
                         size_t a, size_t b, struct chunk *ch) {
  oast_err *e = &ch->err;
  size_t n = b - a;
  size_t nulls = count_nulls(c->valid + a, n);
  size_t nonnull = n - nulls;
  size_t w = ftype_width(c->type);
  struct dict *d = &x->dict;

  bool use_dict = false;
  if (o->dict != PQ_DICT_NEVER && c->type != FT_BOOLEAN && nonnull > 0) {
    if (x->idx_cap < nonnull) {
      x->idx_cap = nonnull;
      free(x->idx);
      x->idx = xreallocarray(NULL, nonnull, sizeof *x->idx);
    }
    use_dict = dict_build(d, c, a, b, nonnull, x->idx, o);
  }
  int bw = 0;
  if (!required) ch->encodings |= 1u << ENC_RLE;
  ch->encodings |= 1u << ENC_PLAIN;
  if (use_dict) {
    dict_page_body(x, c);
    struct pm_page h = {.type = PAGE_DICTIONARY, .dict_num_values = (int32_t)d->n, .dict_encoding = ENC_PLAIN};
    if ((ch->rc = emit_page(x, o, ch, &h, e))) return;
    ch->dict_len = ch->data.len;
    ch->encodings |= 1u << ENC_RLE_DICTIONARY;
    ch->has_distinct = true;
    ch->distinct = (int64_t)d->n;
    bw = rle_bit_width(d->n - 1);
    if (bw == 0) bw = 1;
    if (c->type == FT_STRING) rank_strings(x, c);
  }

  size_t rows_per_page;
  if (use_dict) rows_per_page = o->page_bytes * 8 / (size_t)bw;
  else if (c->type == FT_BOOLEAN) rows_per_page = o->page_bytes * 8;
  else rows_per_page = w ? o->page_bytes / w : 0;   /* strings are cut by bytes below */
  if (rows_per_page > PQ_MAX_PAGE_ROWS) rows_per_page = PQ_MAX_PAGE_ROWS;
  if (rows_per_page == 0 && (use_dict || w)) rows_per_page = 1;

  size_t k = 0;   /* dictionary index of the page's first non-null value */
  for (size_t row = a; row < b;) {
    size_t end;
    if (c->type == FT_STRING && !use_dict) {
      end = string_page_end(c, row, b, o->page_bytes);
      if (end - row > PQ_MAX_PAGE_ROWS) end = row + PQ_MAX_PAGE_ROWS;
    } else {
      end = b - row > rows_per_page ? row + rows_per_page : b;
    }
    size_t m = end - row;
    size_t pnulls = nulls ? count_nulls(c->valid + row, m) : 0;
    size_t pnn = m - pnulls;
    x->page.len = 0;
    if (!required) {
      size_t at = x->page.len;
      pqbuf_put_u32le(&x->page, 0);
      if (pnulls == 0) {
        pqbuf_put_varint(&x->page, (uint64_t)m << 1);
        pqbuf_put_byte(&x->page, 1);
      } else {
        rle_encode_bits(&x->page, c->valid + row, m);
      }
      uint32_t len = (uint32_t)(x->page.len - at - 4);
      memcpy(x->page.p + at, &len, 4);
    }
    struct vstat ps;
    if (use_dict) {
      pqbuf_put_byte(&x->page, (uint8_t)bw);
      rle_encode_u32(&x->page, x->idx + k, pnn, bw);
      if (c->type == FT_STRING) {
        memset(&ps, 0, sizeof ps);
        ps.nulls = (int64_t)pnulls;
        if (pnn) {
          uint32_t lo = UINT32_MAX, hi = 0;
          for (size_t i = k; i < k + pnn; i++) {
            uint32_t r = x->rank[x->idx[i]];
            lo = r < lo ? r : lo;
            hi = r > hi ? r : hi;
          }
          entry_bytes(c, d, x->order[lo], &ps.smin, &ps.smin_n);
          entry_bytes(c, d, x->order[hi], &ps.smax, &ps.smax_n);
          ps.has = true;
        }
      } else {
        page_stats(c, row, end, pnulls, &ps);
      }
    } else {
      plain_values(x, c, row, end, pnn);
      page_stats(c, row, end, pnulls, &ps);
    }
    struct statbytes sb;
    struct pm_page h = {.type = PAGE_DATA, .num_values = (int32_t)m,
                        .encoding = use_dict ? ENC_RLE_DICTIONARY : ENC_PLAIN,
                        .def_encoding = ENC_RLE, .rep_encoding = ENC_RLE, .has_stats = true};
    stats_to_pm(c->type, &ps, &sb, &h.stats);
    if ((ch->rc = emit_page(x, o, ch, &h, e))) return;
    vstat_merge(c->type, &ch->stats, &ps);
    k += pnn;
    row = end;
  }
}

/* ---- the file ---- */

struct wjob {
  const struct pq_write_opts *o;
  const struct table *t;
  size_t a, b;
  struct chunk *chunks;
  struct wctx *ctx;
};

static void encode_task(void *arg, size_t col, int worker) {
  struct wjob *j = arg;
  struct chunk *ch = &j->chunks[col];
  ch->data.len = 0;
  ch->dict_len = 0;
  ch->encodings = 0;
  ch->uncompressed = 0;
  memset(&ch->stats, 0, sizeof ch->stats);
  ch->has_distinct = false;
  ch->distinct = 0;
  ch->rc = 0;
  oast_err_clear(&ch->err);
  encode_chunk(&j->ctx[worker], j->o, &j->t->cols[col], j->o->required && j->o->required[col], j->a, j->b, ch);
}

/* Schema element of column c. */
static void column_schema(const struct column *c, bool required, struct pm_schema *s) {
  memset(s, 0, sizeof *s);
  s->name = c->name;
  s->has_type = s->has_rep = true;
  s->rep = required ? REP_REQUIRED : REP_OPTIONAL;
  switch (c->type) {
    case FT_INT: s->type = PT_INT32; break;
    case FT_BIGINT: s->type = PT_INT64; break;
    case FT_FLOAT: s->type = PT_FLOAT; break;
    case FT_DOUBLE: s->type = PT_DOUBLE; break;
    case FT_BOOLEAN: s->type = PT_BOOLEAN; break;
    case FT_STRING:
      s->type = PT_BYTE_ARRAY;
      s->has_converted = true;
      s->converted = CT_UTF8;
      s->logical = LT_STRING;
      break;
    case FT_TIMESTAMP:
      s->type = PT_INT64;
      s->has_converted = true;
      s->converted = CT_TIMESTAMP_MICROS;
      s->logical = LT_TIMESTAMP;
      s->lt_utc = true;
      s->lt_unit = TU_MICROS;
      break;
    case FT_DATE:
      s->type = PT_INT32;
      s->has_converted = true;
      s->converted = CT_DATE;
      s->logical = LT_DATE;
      break;
    default: break;
  }
}

static int check_table(const struct table *t, const struct pq_write_opts *o, oast_err *e) {
  if (t->ncols == 0) return oast_err_set(e, OAST_EBAD_REQUEST, "a table without columns cannot be written as Parquet");
  for (size_t i = 0; i < t->ncols; i++) {
    const struct column *c = &t->cols[i];
    if (c->len != t->nrows)
      return oast_err_set(e, OAST_EINTERNAL, "column \"%s\" has %zu rows, expected %zu", c->name, c->len, t->nrows);
    if ((unsigned)c->type >= FT__COUNT)
      return oast_err_set(e, OAST_EINTERNAL, "column \"%s\" has an unknown type", c->name);
    for (size_t j = 0; j < i; j++)
      if (!strcmp(t->cols[j].name, c->name))
        return oast_err_set(e, OAST_EBAD_REQUEST, "column \"%s\" appears twice", c->name);
    if (o->required && o->required[i] && t->nrows) {
      const uint8_t *z = memchr(c->valid, 0, t->nrows);
      if (z)
        return oast_err_set(e, OAST_EVALIDATION, "row %zu, column \"%s\": null in a required column",
                            (size_t)(z - c->valid) + 1, c->name);
    }
    if (c->type == FT_STRING && t->nrows) {
      for (size_t r = 0; r < t->nrows; r++)
        if (c->offs[r + 1] - c->offs[r] > INT32_MAX)
          return oast_err_set(e, OAST_EBAD_REQUEST, "row %zu, column \"%s\": a string over 2 GiB", r + 1, c->name);
    }
  }
  return 0;
}

static const uint8_t magic[4] = {'P', 'A', 'R', '1'};

int pq_write_table(const char *path, const struct table *t, const struct pq_write_opts *oin, oast_err *e) {
  struct pq_write_opts o;
  if (oin) o = *oin; else pq_write_opts_init(&o);
  if (!o.row_group_rows) o.row_group_rows = PQ_DEFAULT_ROW_GROUP_ROWS;
  if (!o.page_bytes) o.page_bytes = PQ_DEFAULT_PAGE_BYTES;
  if (!o.dict_max_bytes) o.dict_max_bytes = PQ_DEFAULT_DICT_MAX_BYTES;
  if (!pqz_supported(o.codec)) return oast_err_set(e, OAST_EBAD_REQUEST, "unknown Parquet codec %d", (int)o.codec);
  if (o.row_group_rows > INT32_MAX) o.row_group_rows = INT32_MAX;
  int rc = check_table(t, &o, e);
  if (rc) return rc;

  size_t ncols = t->ncols;
  size_t nrgs = (t->nrows + o.row_group_rows - 1) / o.row_group_rows;
  int nworkers = par_workers(o.threads, ncols);
  struct wctx *ctx = xcalloc((size_t)nworkers, sizeof *ctx);
  struct chunk *chunks = xcalloc(ncols, sizeof *chunks);
  struct pm_row_group *rgs = xcalloc(nrgs ? nrgs : 1, sizeof *rgs);
  struct statbytes *sbs = xcalloc(nrgs * ncols + 1, sizeof *sbs);
  struct pm_schema *schema = xcalloc(ncols + 1, sizeof *schema);
  struct pm_kv *kv = xcalloc(o.nkv + 1, sizeof *kv);
  struct tw footer;
  tw_init(&footer);
  struct fs_tmp tmp = {.fd = -1};
  size_t done_rgs = 0;

  if ((rc = fs_tmp_open(&tmp, path, 0644, e))) goto out;
  if ((rc = fs_tmp_write(&tmp, magic, 4, e))) goto out;
  int64_t offset = 4;
  for (size_t g = 0; g < nrgs; g++) {
    struct wjob job = {.o = &o, .t = t, .a = g * o.row_group_rows, .chunks = chunks, .ctx = ctx};
    job.b = job.a + o.row_group_rows < t->nrows ? job.a + o.row_group_rows : t->nrows;
    par_run(ncols, nworkers, encode_task, &job);
    for (size_t c = 0; c < ncols; c++) {
      if (chunks[c].rc) {
        rc = chunks[c].rc;
        oast_err_set(e, rc, "column \"%s\": %s", t->cols[c].name, chunks[c].err.msg);
        goto out;
      }
    }
    struct pm_row_group *rg = &rgs[g];
    rg->chunks = xcalloc(ncols, sizeof *rg->chunks);
    rg->nchunks = ncols;
    rg->num_rows = (int64_t)(job.b - job.a);
    rg->file_offset = offset;
    rg->has_ordinal = g <= INT16_MAX;
    rg->ordinal = (int16_t)g;
    done_rgs = g + 1;
    for (size_t c = 0; c < ncols; c++) {
      struct chunk *ch = &chunks[c];
      struct pm_chunk *pc = &rg->chunks[c];
      struct pm_column_meta *m = &pc->meta;
      pc->has_meta = true;
      pc->file_offset = offset;
      struct pm_schema cs;
      column_schema(&t->cols[c], o.required && o.required[c], &cs);
      m->type = cs.type;
      m->encodings = ch->encodings;
      m->path = t->cols[c].name;
      m->path_len = 1;
      m->codec = o.codec;
      m->num_values = rg->num_rows;
      m->total_uncompressed_size = ch->uncompressed;
      m->total_compressed_size = (int64_t)ch->data.len;
      if (ch->dict_len) {
        m->has_dictionary_page_offset = true;
        m->dictionary_page_offset = offset;
      }
      m->data_page_offset = offset + (int64_t)ch->dict_len;
      m->has_stats = true;
      stats_to_pm(t->cols[c].type, &ch->stats, &sbs[g * ncols + c], &m->stats);
      m->stats.has_distinct_count = ch->has_distinct;
      m->stats.distinct_count = ch->distinct;
      if ((rc = fs_tmp_write(&tmp, ch->data.p, ch->data.len, e))) goto out;
      offset += (int64_t)ch->data.len;
      rg->total_byte_size += ch->uncompressed;
      rg->total_compressed_size += (int64_t)ch->data.len;
    }
  }

  schema[0].name = "schema";
  schema[0].num_children = (int32_t)ncols;
  for (size_t c = 0; c < ncols; c++) column_schema(&t->cols[c], o.required && o.required[c], &schema[c + 1]);
  for (size_t i = 0; i < o.nkv; i++) {
    kv[i].key = (char *)o.kv[i].key;
    kv[i].value = (char *)o.kv[i].value;
  }
  struct pm_file fm = {.version = 1, .schema = schema, .nschema = ncols + 1, .num_rows = (int64_t)t->nrows,
                       .rgs = rgs, .nrgs = nrgs, .kv = kv, .nkv = o.nkv, .created_by = "oast",
                       .type_order = true};
  pm_encode_file(&footer, &fm);
  uint8_t tail[8];
  uint32_t flen = (uint32_t)footer.buf.len;
  memcpy(tail, &flen, 4);
  memcpy(tail + 4, magic, 4);
  if ((rc = fs_tmp_write(&tmp, footer.buf.p, footer.buf.len, e))) goto out;
  if ((rc = fs_tmp_write(&tmp, tail, 8, e))) goto out;
  rc = fs_tmp_commit(&tmp, e);

out:
  if (rc) fs_tmp_discard(&tmp);
  tw_release(&footer);
  for (int i = 0; i < nworkers; i++) wctx_release(&ctx[i]);
  free(ctx);
  for (size_t c = 0; c < ncols; c++) pqbuf_release(&chunks[c].data);
  free(chunks);
  for (size_t g = 0; g < done_rgs; g++) free(rgs[g].chunks);
  free(rgs);
  free(sbs);
  free(schema);
  free(kv);
  return rc;
}
