/*
 * read.c — the Parquet reader (pq_open, pq_read_table, see parquet.h).
 *
 * pq_open reads the footer (length-checked and capped), decodes it and
 * maps every column's physical and logical type to a feature type plus a
 * conversion (milliseconds to microseconds, decimals to doubles, ...),
 * refusing what it cannot read faithfully. Column chunk statistics are
 * decoded at that point, so callers get min/max/null counts of any size
 * of file from the footer alone.
 *
 * Reading decodes each selected column on its own task (columns are
 * spread over the CPUs), row group after row group: the chunk's bytes are
 * read with one pread, then its pages are walked. For each data page the
 * definition levels are decoded straight into the output column's
 * validity bytes; the non-null values are decoded (PLAIN, dictionary
 * indices, delta or byte-stream-split), converted to the feature type,
 * and written straight into the column when the page has no nulls, or
 * into scratch space and scattered over the non-null rows otherwise.
 * Strings are first decoded into (pointer, length) views, then copied
 * into the column's byte buffer in one pass after one reservation.
 *
 * Everything from the file is untrusted: offsets and sizes are checked
 * against the file, every decoder is bounded, dictionary indices are
 * checked against the dictionary size, and what a read may allocate is
 * charged against max_read_bytes so a small hostile file cannot exhaust
 * memory. Errors name the column and row group.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/parquet/codec.h"
#include "formats/parquet/meta.h"
#include "formats/parquet/par.h"
#include "formats/parquet/parquet.h"
#include "formats/parquet/rle.h"

/* How a column's physical values become feature-type values. */
enum conv {
  CV_NONE,        /* same layout */
  CV_U32_I64,     /* unsigned 32-bit to bigint */
  CV_MUL1000,     /* milliseconds to microseconds */
  CV_DIV1000,     /* nanoseconds to microseconds (floor) */
  CV_INT96,       /* legacy INT96 timestamp to microseconds */
  CV_DEC_I32,     /* decimals to double */
  CV_DEC_I64,
  CV_DEC_FLBA,
};

struct rcol {
  int phys;
  int32_t type_length;
  enum conv conv;
  int32_t scale;
  int max_def;
  size_t pw;          /* bytes per PLAIN physical value (0: booleans and byte arrays) */
};

struct pq_priv {
  int fd;
  uint64_t file_size;
  uint64_t data_end;  /* where the footer starts */
  uint8_t *footer;    /* owned; statistics point into it */
  struct pm_file fm;
  struct rcol *rc;    /* per column */
};

static const uint8_t magic[4] = {'P', 'A', 'R', '1'};

/* ---- type mapping ---- */

static double pow10i(int32_t s) {
  double v = 1;
  for (int32_t i = 0; i < s && i < 400; i++) v *= 10;
  return v;
}

static int map_column(const struct pm_schema *s, struct pq_column_info *ci, struct rcol *rc, oast_err *e) {
  const char *name = s->name;
  memset(rc, 0, sizeof *rc);
  ci->name = s->name;
  if (s->num_children > 0 || !s->has_type)
    return oast_err_set(e, OAST_EBAD_REQUEST, "column \"%s\" is nested, which is not supported", name);
  if (!s->has_rep) return oast_err_set(e, OAST_EBAD_REQUEST, "column \"%s\" has no repetition type", name);
  if (s->rep == REP_REPEATED)
    return oast_err_set(e, OAST_EBAD_REQUEST, "column \"%s\" is repeated (a list), which is not supported", name);
  if (s->rep != REP_REQUIRED && s->rep != REP_OPTIONAL)
    return oast_err_set(e, OAST_EBAD_REQUEST, "column \"%s\" has an unknown repetition type", name);
  ci->required = s->rep == REP_REQUIRED;
  rc->max_def = ci->required ? 0 : 1;
  rc->phys = s->type;
  rc->type_length = s->type_length;
  int lt = s->logical;
  int ct = s->has_converted ? s->converted : -1;
  bool decimal = lt == LT_DECIMAL || (lt == LT_NONE && ct == CT_DECIMAL);
  rc->scale = lt == LT_DECIMAL ? s->lt_scale : s->scale;
  if (decimal && (rc->scale < 0 || rc->scale > 38))
    return oast_err_set(e, OAST_EBAD_REQUEST, "column \"%s\": decimal scale %d is out of range", name, rc->scale);
  const char *bad = NULL;
  switch (s->type) {
    case PT_BOOLEAN: ci->type = FT_BOOLEAN; break;
    case PT_INT32:
      rc->pw = 4;
      if (lt == LT_DATE || (lt == LT_NONE && ct == CT_DATE)) {
        ci->type = FT_DATE;
      } else if (decimal) {
        ci->type = FT_DOUBLE;
        rc->conv = CV_DEC_I32;
      } else if (lt == LT_TIME || (lt == LT_NONE && ct == CT_TIME_MILLIS)) {
        bad = "TIME";
      } else if ((lt == LT_INTEGER && !s->lt_signed && s->lt_bits >= 32) || (lt == LT_NONE && ct == CT_UINT_32)) {
        ci->type = FT_BIGINT;
        rc->conv = CV_U32_I64;
      } else if (lt == LT_NONE && ct != -1 && ct != CT_INT_8 && ct != CT_INT_16 && ct != CT_INT_32 && ct != CT_UINT_8 &&
                 ct != CT_UINT_16) {
        bad = "this annotation of INT32";
      } else if (lt != LT_NONE && lt != LT_INTEGER && lt != LT_UNKNOWN) {
        bad = "this logical type on INT32";
      } else {
        ci->type = FT_INT;
      }
      break;
    case PT_INT64:
      rc->pw = 8;
      if (lt == LT_TIMESTAMP || (lt == LT_NONE && (ct == CT_TIMESTAMP_MILLIS || ct == CT_TIMESTAMP_MICROS))) {
        ci->type = FT_TIMESTAMP;
        int unit = lt == LT_TIMESTAMP ? s->lt_unit : ct == CT_TIMESTAMP_MILLIS ? TU_MILLIS : TU_MICROS;
        if (unit == TU_MILLIS) rc->conv = CV_MUL1000;
        else if (unit == TU_NANOS) rc->conv = CV_DIV1000;
        else if (unit != TU_MICROS) bad = "a timestamp of unknown unit";
      } else if (decimal) {
        ci->type = FT_DOUBLE;
        rc->conv = CV_DEC_I64;
      } else if ((lt == LT_INTEGER && !s->lt_signed) || (lt == LT_NONE && ct == CT_UINT_64)) {
        bad = "unsigned 64-bit integers";
      } else if (lt == LT_TIME || (lt == LT_NONE && ct == CT_TIME_MICROS)) {
        bad = "TIME";
      } else if ((lt == LT_NONE && ct != -1 && ct != CT_INT_64 && ct != CT_INT_32 && ct != CT_INT_16 &&
                  ct != CT_INT_8) ||
                 (lt != LT_NONE && lt != LT_INTEGER && lt != LT_UNKNOWN)) {
        bad = "this annotation of INT64";
      } else {
        ci->type = FT_BIGINT;
      }
      break;
    case PT_INT96:
      rc->pw = 12;
      ci->type = FT_TIMESTAMP;
      rc->conv = CV_INT96;
      break;
    case PT_FLOAT: rc->pw = 4; ci->type = FT_FLOAT; break;
    case PT_DOUBLE: rc->pw = 8; ci->type = FT_DOUBLE; break;
    case PT_BYTE_ARRAY:
      if (decimal) bad = "decimals stored as byte arrays";
      else if (lt == LT_NONE && ct != -1 && ct != CT_UTF8 && ct != CT_ENUM && ct != CT_JSON) bad = "this annotation of BYTE_ARRAY";
      else if (lt != LT_NONE && lt != LT_STRING && lt != LT_ENUM && lt != LT_JSON) bad = "this logical type on BYTE_ARRAY";
      else ci->type = FT_STRING;
      break;
    case PT_FLBA:
      if (decimal && s->type_length >= 1 && s->type_length <= 16) {
        rc->pw = (size_t)s->type_length;
        ci->type = FT_DOUBLE;
        rc->conv = CV_DEC_FLBA;
      } else {
        bad = "FIXED_LEN_BYTE_ARRAY other than decimals";
      }
      break;
    default: bad = "an unknown physical type";
  }
  if (bad) return oast_err_set(e, OAST_EBAD_REQUEST, "column \"%s\" holds %s, which is not supported", name, bad);
  return 0;
}

/* ---- value conversion ---- */

static inline int64_t floordiv1000(int64_t v) { return v >= 0 ? v / 1000 : -((-(v + 1)) / 1000) - 1; }

/* Converts k PLAIN physical values at src (any alignment) into the feature type's layout at dst. */
static void convert(const struct rcol *rc, const uint8_t *src, size_t k, uint8_t *dst) {
  switch (rc->conv) {
    case CV_NONE: memcpy(dst, src, k * rc->pw); return;
    case CV_U32_I64: {
      int64_t *d = (int64_t *)dst;
      for (size_t i = 0; i < k; i++) d[i] = rd_u32le(src + 4 * i);
      return;
    }
    case CV_MUL1000: {
      int64_t *d = (int64_t *)dst;
      for (size_t i = 0; i < k; i++) d[i] = (int64_t)(rd_u64le(src + 8 * i) * 1000u);
      return;
    }
    case CV_DIV1000: {
      int64_t *d = (int64_t *)dst;
      for (size_t i = 0; i < k; i++) d[i] = floordiv1000((int64_t)rd_u64le(src + 8 * i));
      return;
    }
    case CV_INT96: {
      int64_t *d = (int64_t *)dst;
      for (size_t i = 0; i < k; i++) {
        int64_t nanos = (int64_t)rd_u64le(src + 12 * i);
        int64_t jd = (int64_t)rd_u32le(src + 12 * i + 8);
        d[i] = (jd - 2440588) * 86400000000LL + floordiv1000(nanos);
      }
      return;
    }
    case CV_DEC_I32: {
      double *d = (double *)dst, sc = pow10i(rc->scale);
      for (size_t i = 0; i < k; i++) d[i] = (int32_t)rd_u32le(src + 4 * i) / sc;
      return;
    }
    case CV_DEC_I64: {
      double *d = (double *)dst, sc = pow10i(rc->scale);
      for (size_t i = 0; i < k; i++) d[i] = (double)(int64_t)rd_u64le(src + 8 * i) / sc;
      return;
    }
    case CV_DEC_FLBA: {
      double *d = (double *)dst, sc = pow10i(rc->scale);
      size_t w = rc->pw;
      for (size_t i = 0; i < k; i++) {
        const uint8_t *p = src + w * i;
        __int128 v = (int8_t)p[0];   /* big-endian two's complement: sign from the first byte */
        for (size_t b = 1; b < w; b++) v = v * 256 + p[b];
        d[i] = (double)v / sc;
      }
      return;
    }
  }
}

/* ---- statistics from the footer ---- */

static bool stat_value(const struct rcol *rc, enum ftype t, struct pm_bytes b, struct pq_scalar *out) {
  memset(out, 0, sizeof *out);
  if (!b.set) return false;
  if (t == FT_STRING) {
    out->s = (const char *)b.p;
    out->s_len = b.n;
    return true;
  }
  if (rc->phys == PT_BOOLEAN) {
    if (b.n != 1) return false;
    out->i = b.p[0] != 0;
    return true;
  }
  if (rc->conv == CV_INT96 || b.n != rc->pw) return false;
  uint8_t v[8];
  convert(rc, b.p, 1, v);
  switch (t) {
    case FT_INT:
    case FT_DATE: {
      int32_t x;
      memcpy(&x, v, 4);
      out->i = x;
      return true;
    }
    case FT_BIGINT:
    case FT_TIMESTAMP: memcpy(&out->i, v, 8); return true;
    case FT_FLOAT: {
      float x;
      memcpy(&x, v, 4);
      out->f = x;
      return !isnan(out->f);
    }
    case FT_DOUBLE: memcpy(&out->f, v, 8); return !isnan(out->f);
    default: return false;
  }
}

static void chunk_stats(const struct rcol *rc, enum ftype t, const struct pm_column_meta *m, struct pq_stats *s) {
  memset(s, 0, sizeof *s);
  if (!m->has_stats) return;
  const struct pm_stats *ps = &m->stats;
  s->has_null_count = ps->has_null_count && ps->null_count >= 0;
  s->null_count = s->has_null_count ? ps->null_count : 0;
  s->has_distinct_count = ps->has_distinct_count && ps->distinct_count >= 0;
  s->distinct_count = s->has_distinct_count ? ps->distinct_count : 0;
  struct pm_bytes lo = ps->min_value, hi = ps->max_value;
  if (!lo.set || !hi.set) {
    /* The deprecated fields used signed comparison: only trust them
     * where that is the type's order. */
    bool signed_ok = t != FT_STRING && rc->conv != CV_U32_I64 && rc->conv != CV_DEC_FLBA;
    if (!signed_ok) return;
    lo = ps->min;
    hi = ps->max;
  }
  /* A truncated (inexact) bound is not the column's min or max: leave it out. */
  if (ps->min_inexact || ps->max_inexact) return;
  s->has_min_max = stat_value(rc, t, lo, &s->min) && stat_value(rc, t, hi, &s->max);
  if (!s->has_min_max) {
    memset(&s->min, 0, sizeof s->min);
    memset(&s->max, 0, sizeof s->max);
  }
}

static int scalar_cmp(enum ftype t, const struct pq_scalar *a, const struct pq_scalar *b) {
  if (t == FT_FLOAT || t == FT_DOUBLE) return a->f < b->f ? -1 : a->f > b->f;
  if (t == FT_STRING) {
    int c = memcmp(a->s, b->s, a->s_len < b->s_len ? a->s_len : b->s_len);
    if (c) return c;
    return a->s_len < b->s_len ? -1 : a->s_len > b->s_len;
  }
  return a->i < b->i ? -1 : a->i > b->i;
}

void pq_column_stats(const struct pq_file *f, size_t col, struct pq_stats *out) {
  memset(out, 0, sizeof *out);
  if (col >= f->ncols) return;
  enum ftype t = f->cols[col].type;
  bool nulls_ok = true, minmax_ok = true, any_minmax = false;
  for (size_t g = 0; g < f->nrow_groups; g++) {
    const struct pq_chunk_info *ch = &f->row_groups[g].chunks[col];
    const struct pq_stats *s = &ch->stats;
    if (s->has_null_count) out->null_count += s->null_count; else nulls_ok = false;
    if (s->has_min_max) {
      if (!any_minmax || scalar_cmp(t, &s->min, &out->min) < 0) out->min = s->min;
      if (!any_minmax || scalar_cmp(t, &s->max, &out->max) > 0) out->max = s->max;
      any_minmax = true;
    } else if (!(s->has_null_count && s->null_count == ch->num_values)) {
      minmax_ok = false;   /* a chunk with values but no min/max */
    }
  }
  out->has_null_count = nulls_ok;
  if (!nulls_ok) out->null_count = 0;
  out->has_min_max = minmax_ok && any_minmax;
  if (!out->has_min_max) {
    memset(&out->min, 0, sizeof out->min);
    memset(&out->max, 0, sizeof out->max);
  }
  if (f->nrow_groups == 1 && f->row_groups[0].chunks[col].stats.has_distinct_count) {
    out->has_distinct_count = true;
    out->distinct_count = f->row_groups[0].chunks[col].stats.distinct_count;
  }
}

/* ---- open ---- */

static int pread_all(int fd, void *buf, size_t n, uint64_t off) {
  uint8_t *p = buf;
  while (n) {
    ssize_t r = pread(fd, p, n, (off_t)off);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) {
      errno = EIO;
      return -1;
    }
    p += r;
    n -= (size_t)r;
    off += (uint64_t)r;
  }
  return 0;
}

void pq_close(struct pq_file *f) {
  if (!f) return;
  if (f->priv) {
    if (f->priv->fd >= 0) close(f->priv->fd);
    free(f->priv->footer);
    pm_file_release(&f->priv->fm);
    free(f->priv->rc);
    free(f->priv);
  }
  free(f->cols);
  for (size_t g = 0; g < f->nrow_groups; g++) free(f->row_groups[g].chunks);
  free(f->row_groups);
  free(f->kv);
  free(f);
}

static int check_footer(struct pq_file *f, const char *path, oast_err *e) {
  struct pq_priv *pv = f->priv;
  struct pm_file *fm = &pv->fm;
  if (fm->encrypted) return oast_err_set(e, OAST_EBAD_REQUEST, "%s is encrypted, which is not supported", path);
  if (fm->nschema < 1) return oast_err_set(e, OAST_EBAD_REQUEST, "%s has an empty schema", path);
  if (fm->schema[0].num_children < 0 || (size_t)fm->schema[0].num_children != fm->nschema - 1) {
    for (size_t i = 1; i < fm->nschema; i++)
      if (fm->schema[i].num_children > 0)
        return oast_err_set(e, OAST_EBAD_REQUEST, "%s: column \"%s\" is nested, which is not supported", path,
                            fm->schema[i].name);
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s: the schema is not a flat list of columns", path);
  }
  f->ncols = fm->nschema - 1;
  f->cols = xcalloc(f->ncols + 1, sizeof *f->cols);
  pv->rc = xcalloc(f->ncols + 1, sizeof *pv->rc);
  for (size_t c = 0; c < f->ncols; c++) {
    oast_err sub;
    oast_err_clear(&sub);
    int rc = map_column(&fm->schema[c + 1], &f->cols[c], &pv->rc[c], &sub);
    if (rc) return oast_err_set(e, rc, "%s: %s", path, sub.msg);
  }
  if (fm->num_rows < 0) return oast_err_set(e, OAST_EBAD_REQUEST, "%s: negative row count", path);
  f->num_rows = fm->num_rows;
  f->nrow_groups = fm->nrgs;
  f->row_groups = xcalloc(fm->nrgs + 1, sizeof *f->row_groups);
  int64_t total = 0;
  for (size_t g = 0; g < fm->nrgs; g++) {
    const struct pm_row_group *rg = &fm->rgs[g];
    struct pq_row_group_info *ri = &f->row_groups[g];
    if (rg->nchunks != f->ncols)
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s: row group %zu has %zu columns, the schema %zu", path, g,
                          rg->nchunks, f->ncols);
    if (rg->num_rows < 0 || rg->num_rows > INT64_MAX - total)
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s: row group %zu has a bad row count", path, g);
    total += rg->num_rows;
    ri->num_rows = rg->num_rows;
    ri->chunks = xcalloc(f->ncols + 1, sizeof *ri->chunks);
    for (size_t c = 0; c < f->ncols; c++) {
      const struct pm_chunk *pc = &rg->chunks[c];
      const struct pm_column_meta *m = &pc->meta;
      const char *name = f->cols[c].name;
      if (pc->encrypted)
        return oast_err_set(e, OAST_EBAD_REQUEST, "%s: column \"%s\" is encrypted, which is not supported", path, name);
      if (pc->has_file_path)
        return oast_err_set(e, OAST_EBAD_REQUEST, "%s: column \"%s\" is stored in another file, which is not supported",
                            path, name);
      if (!pc->has_meta)
        return oast_err_set(e, OAST_EBAD_REQUEST, "%s: column \"%s\" in row group %zu has no metadata", path, name, g);
      if (m->type != pv->rc[c].phys)
        return oast_err_set(e, OAST_EBAD_REQUEST, "%s: column \"%s\" in row group %zu has a type other than the schema's",
                            path, name, g);
      if (m->num_values < 0 || m->total_compressed_size < 0 || m->total_uncompressed_size < 0)
        return oast_err_set(e, OAST_EBAD_REQUEST, "%s: column \"%s\" in row group %zu has negative sizes", path, name, g);
      struct pq_chunk_info *ci = &ri->chunks[c];
      ci->num_values = m->num_values;
      ci->compressed_size = m->total_compressed_size;
      ci->uncompressed_size = m->total_uncompressed_size;
      ci->codec = m->codec;
      ci->dictionary = m->has_dictionary_page_offset && m->dictionary_page_offset > 0;
      chunk_stats(&pv->rc[c], f->cols[c].type, m, &ci->stats);
    }
  }
  if (total != fm->num_rows)
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s: the row groups hold %lld rows, the footer says %lld", path,
                        (long long)total, (long long)fm->num_rows);
  f->nkv = fm->nkv;
  f->kv = xcalloc(fm->nkv + 1, sizeof *f->kv);
  for (size_t i = 0; i < fm->nkv; i++) {
    f->kv[i].key = fm->kv[i].key;
    f->kv[i].value = fm->kv[i].value;
  }
  f->created_by = fm->created_by;
  return 0;
}

int pq_open(const char *path, struct pq_file **out, oast_err *e) {
  *out = NULL;
  struct pq_file *f = xcalloc(1, sizeof *f);
  f->priv = xcalloc(1, sizeof *f->priv);
  f->max_read_bytes = PQ_DEFAULT_MAX_READ_BYTES;
  struct pq_priv *pv = f->priv;
  int rc = 0;
  pv->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (pv->fd < 0) {
    rc = oast_err_set(e, errno == ENOENT ? OAST_ENOT_FOUND : OAST_EIO, "cannot open %s: %s", path, strerror(errno));
    goto out;
  }
  struct stat st;
  if (fstat(pv->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "%s is not a regular file", path);
    goto out;
  }
  pv->file_size = (uint64_t)st.st_size;
  uint8_t head[4], tail[8];
  if (pv->file_size < 12 || pread_all(pv->fd, head, 4, 0) || pread_all(pv->fd, tail, 8, pv->file_size - 8)) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "%s is not a Parquet file (too short)", path);
    goto out;
  }
  if (memcmp(tail + 4, "PARE", 4) == 0) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "%s has an encrypted footer, which is not supported", path);
    goto out;
  }
  if (memcmp(head, magic, 4) || memcmp(tail + 4, magic, 4)) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "%s is not a Parquet file (no PAR1 magic)", path);
    goto out;
  }
  uint32_t flen = rd_u32le(tail);
  if (flen == 0 || flen > pv->file_size - 12 || flen > PQ_MAX_FOOTER_BYTES) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "%s: the footer length %u is impossible", path, flen);
    goto out;
  }
  pv->data_end = pv->file_size - 8 - flen;
  pv->footer = xmalloc(flen);
  if (pread_all(pv->fd, pv->footer, flen, pv->data_end)) {
    rc = oast_err_set(e, OAST_EIO, "cannot read %s: %s", path, strerror(errno));
    goto out;
  }
  const char *why = NULL;
  if (pm_decode_file(pv->footer, flen, &pv->fm, &why)) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "%s: the footer is corrupt (%s)", path, why);
    goto out;
  }
  rc = check_footer(f, path, e);
out:
  if (rc) {
    pq_close(f);
    return rc;
  }
  *out = f;
  return 0;
}

int pq_find_column(const struct pq_file *f, const char *name) {
  for (size_t i = 0; i < f->ncols; i++)
    if (strcmp(f->cols[i].name, name) == 0) return (int)i;
  return -1;
}

/* ---- reading data ---- */

struct sview {
  const uint8_t *p;
  size_t n;
};

/* Per-thread decoding state, reused from chunk to chunk. */
struct rstate {
  struct pqz z;
  struct pqbuf chunk, page, vals, phys, idx, views, lens, lens2, build;
  struct pqbuf dvals, dbytes, dviews;   /* the chunk's dictionary, in the feature type's layout */
  size_t dn;
  bool have_dict;
};

static void rstate_release(struct rstate *s) {
  pqz_release(&s->z);
  struct pqbuf *bufs[] = {&s->chunk, &s->page,  &s->vals,  &s->phys,   &s->idx,    &s->views,
                          &s->lens,  &s->lens2, &s->build, &s->dvals, &s->dbytes, &s->dviews};
  for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) pqbuf_release(bufs[i]);
}

struct rjob {
  struct pq_file *f;
  size_t g0, g1;
  const size_t *sel;       /* file column of each output column */
  struct table *out;
  struct rstate *st;       /* per worker */
  atomic_size_t used;      /* bytes charged against f->max_read_bytes */
  int *rcs;                /* per output column */
  oast_err *errs;
};

/* Where an error happened, for messages. */
struct where {
  const char *col;
  size_t rg;
};

static int fail(const struct where *w, oast_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(const struct where *w, oast_err *e, int code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return oast_err_set(e, code, "column \"%s\", row group %zu: %s", w->col, w->rg, msg);
}

static int charge(struct rjob *j, size_t n, const struct where *w, oast_err *e) {
  size_t before = atomic_fetch_add(&j->used, n);
  if (n > j->f->max_read_bytes || before > j->f->max_read_bytes - n)
    return fail(w, e, OAST_ETOO_LARGE, "reading it needs more than %zu bytes of memory", j->f->max_read_bytes);
  return 0;
}

static void reserve_sdata(struct column *c, size_t more) {
  if (c->sdata_len + more <= c->sdata_cap) return;
  size_t cap = c->sdata_cap ? c->sdata_cap : 256;
  while (cap < c->sdata_len + more) cap *= 2;
  c->sdata = xrealloc(c->sdata, cap);
  c->sdata_cap = cap;
}

/* Decompresses a page body of n bytes into un bytes; *out points at them. */
static int inflate_body(struct rjob *j, struct rstate *st, int codec, const uint8_t *src, size_t n, size_t un,
                        const uint8_t **out, const struct where *w, oast_err *e) {
  if (codec == PQ_UNCOMPRESSED) {
    if (n != un) return fail(w, e, OAST_EBAD_REQUEST, "an uncompressed page's sizes differ");
    *out = src;
    return 0;
  }
  if (un > j->f->max_read_bytes)
    return fail(w, e, OAST_ETOO_LARGE, "a page of %zu bytes is larger than the read limit", un);
  uint8_t *dst = pqbuf_scratch(&st->page, un + 1);
  oast_err sub;
  oast_err_clear(&sub);
  int rc = pqz_decompress(&st->z, codec, src, n, dst, un, &sub);
  if (rc) return fail(w, e, rc, "%s", sub.msg);
  *out = dst;
  return 0;
}

/* Views of k PLAIN byte arrays (4-byte length, bytes) in p[0..n); -1 if truncated. */
static int plain_views(const uint8_t *p, size_t n, size_t k, struct sview *v) {
  size_t pos = 0;
  for (size_t i = 0; i < k; i++) {
    if (n - pos < 4) return -1;
    uint32_t len = rd_u32le(p + pos);
    pos += 4;
    if (len > n - pos) return -1;
    v[i].p = p + pos;
    v[i].n = len;
    pos += len;
  }
  return 0;
}

/* Decodes k dictionary indices and checks them against the dictionary. */
static int decode_indices(struct rstate *st, const uint8_t *p, size_t n, size_t k, const uint32_t **out,
                          const struct where *w, oast_err *e) {
  if (!st->have_dict) return fail(w, e, OAST_EBAD_REQUEST, "a dictionary-encoded page has no dictionary");
  if (n < 1) return fail(w, e, OAST_EBAD_REQUEST, "a dictionary-encoded page is empty");
  int bw = p[0];
  uint32_t *idx = pqbuf_scratch(&st->idx, k * sizeof *idx + 1);
  if (bw > 32 || rle_decode_u32(p + 1, n - 1, bw, k, idx) < 0)
    return fail(w, e, OAST_EBAD_REQUEST, "dictionary indices are corrupt");
  uint32_t max = 0;
  for (size_t i = 0; i < k; i++) max = idx[i] > max ? idx[i] : max;
  if (k && max >= st->dn)
    return fail(w, e, OAST_EBAD_REQUEST, "dictionary index %u is past the dictionary's %zu entries", max, st->dn);
  *out = idx;
  return 0;
}

static int read_dictionary(struct rstate *st, const struct rcol *rc, enum ftype t, const struct pm_page *h,
                           const uint8_t *p, size_t n, const struct where *w, oast_err *e) {
  if (st->have_dict) return fail(w, e, OAST_EBAD_REQUEST, "the chunk has two dictionary pages");
  if (!h->has_dict || (h->dict_encoding != ENC_PLAIN && h->dict_encoding != ENC_PLAIN_DICTIONARY))
    return fail(w, e, OAST_EBAD_REQUEST, "the dictionary page's encoding is not supported");
  if (h->dict_num_values < 0) return fail(w, e, OAST_EBAD_REQUEST, "the dictionary has a negative size");
  size_t k = (size_t)h->dict_num_values;
  if (t == FT_STRING) {
    if (k > n / 4 + 1) return fail(w, e, OAST_EBAD_REQUEST, "the dictionary page is truncated");
    uint8_t *bytes = pqbuf_scratch(&st->dbytes, n + 1);
    memcpy(bytes, p, n);
    struct sview *v = pqbuf_scratch(&st->dviews, k * sizeof *v + 1);
    if (plain_views(bytes, n, k, v) < 0) return fail(w, e, OAST_EBAD_REQUEST, "the dictionary page is truncated");
  } else if (rc->phys == PT_BOOLEAN) {
    if ((k + 7) / 8 > n) return fail(w, e, OAST_EBAD_REQUEST, "the dictionary page is truncated");
    unpack_bools(p, k, pqbuf_scratch(&st->dvals, k + 1));
  } else {
    if (k > n / rc->pw) return fail(w, e, OAST_EBAD_REQUEST, "the dictionary page is truncated");
    convert(rc, p, k, pqbuf_scratch(&st->dvals, k * ftype_width(t) + 1));
  }
  st->dn = k;
  st->have_dict = true;
  return 0;
}

/* Decodes k delta-packed integers into the physical layout at st->phys. */
static int delta_phys(struct rstate *st, const struct rcol *rc, const uint8_t *p, size_t n, size_t k,
                      const uint8_t **phys, const struct where *w, oast_err *e) {
  int64_t *v = pqbuf_scratch(&st->lens, k * sizeof *v + 1);
  size_t cnt;
  if (delta_decode(p, n, v, k, &cnt) < 0 || cnt != k)
    return fail(w, e, OAST_EBAD_REQUEST, "delta-encoded values are corrupt");
  if (rc->phys == PT_INT32) {
    uint32_t *o = pqbuf_scratch(&st->phys, k * 4 + 1);
    for (size_t i = 0; i < k; i++) o[i] = (uint32_t)v[i];
    *phys = (const uint8_t *)o;
  } else {
    *phys = (const uint8_t *)v;
  }
  return 0;
}

/* Scatters k packed values of width vw over the rows of valid[0..nrows). */
static void scatter(const uint8_t *src, uint8_t *dst, const uint8_t *valid, size_t nrows, size_t vw) {
  size_t k = 0;
  if (vw == 8) {
    const uint64_t *s = (const uint64_t *)src;
    uint64_t *d = (uint64_t *)dst;
    for (size_t i = 0; i < nrows; i++) d[i] = valid[i] ? s[k++] : 0;
  } else if (vw == 4) {
    const uint32_t *s = (const uint32_t *)src;
    uint32_t *d = (uint32_t *)dst;
    for (size_t i = 0; i < nrows; i++) d[i] = valid[i] ? s[k++] : 0;
  } else {
    for (size_t i = 0; i < nrows; i++) dst[i] = valid[i] ? src[k++] : 0;
  }
}

static int decode_strings(struct rjob *j, struct rstate *st, struct column *out, size_t base, size_t nrows,
                          size_t nn, const uint8_t *p, size_t n, int enc, const struct where *w, oast_err *e) {
  struct sview *v = pqbuf_scratch(&st->views, nn * sizeof *v + 1);
  int rc;
  switch (enc) {
    case ENC_PLAIN:
      if (plain_views(p, n, nn, v) < 0) return fail(w, e, OAST_EBAD_REQUEST, "string values are truncated");
      break;
    case ENC_PLAIN_DICTIONARY:
    case ENC_RLE_DICTIONARY: {
      if (nn == 0) break;
      const uint32_t *idx;
      if ((rc = decode_indices(st, p, n, nn, &idx, w, e))) return rc;
      const struct sview *dv = (const struct sview *)st->dviews.p;
      for (size_t i = 0; i < nn; i++) v[i] = dv[idx[i]];
      break;
    }
    case ENC_DELTA_LENGTH_BYTE_ARRAY:
    case ENC_DELTA_BYTE_ARRAY: {
      if (nn == 0) break;
      int64_t *pre = NULL;
      size_t cnt, pos = 0;
      ssize_t used;
      if (enc == ENC_DELTA_BYTE_ARRAY) {
        pre = pqbuf_scratch(&st->lens2, nn * sizeof *pre + 1);
        if ((used = delta_decode(p, n, pre, nn, &cnt)) < 0 || cnt != nn)
          return fail(w, e, OAST_EBAD_REQUEST, "delta string prefixes are corrupt");
        pos = (size_t)used;
      }
      int64_t *len = pqbuf_scratch(&st->lens, nn * sizeof *len + 1);
      if ((used = delta_decode(p + pos, n - pos, len, nn, &cnt)) < 0 || cnt != nn)
        return fail(w, e, OAST_EBAD_REQUEST, "delta string lengths are corrupt");
      pos += (size_t)used;
      size_t total = 0;
      for (size_t i = 0; i < nn; i++) {
        if (len[i] < 0 || (uint64_t)len[i] > n - pos) return fail(w, e, OAST_EBAD_REQUEST, "string values are truncated");
        v[i].p = p + pos;
        v[i].n = (size_t)len[i];
        pos += (size_t)len[i];
      }
      if (!pre) break;
      /* Front coding: value i is prefix[i] bytes of value i-1, then its suffix. */
      size_t prev = 0;
      for (size_t i = 0; i < nn; i++) {
        if (pre[i] < 0 || (uint64_t)pre[i] > prev)
          return fail(w, e, OAST_EBAD_REQUEST, "a delta string prefix is longer than the previous value");
        prev = (size_t)pre[i] + v[i].n;
        if (prev > SIZE_MAX / 2 - total) return fail(w, e, OAST_ETOO_LARGE, "delta strings are too large");
        total += prev;
      }
      if ((rc = charge(j, total, w, e))) return rc;
      uint8_t *b = pqbuf_scratch(&st->build, total + 1);
      size_t at = 0;
      const uint8_t *last = b;
      for (size_t i = 0; i < nn; i++) {
        size_t pl = (size_t)pre[i];
        memmove(b + at, last, pl);
        memcpy(b + at + pl, v[i].p, v[i].n);
        last = b + at;
        v[i].p = b + at;
        v[i].n += pl;
        at += v[i].n;
      }
      break;
    }
    default: return fail(w, e, OAST_EBAD_REQUEST, "string encoding %d is not supported", enc);
  }
  size_t total = 0;
  for (size_t i = 0; i < nn; i++) total += v[i].n;
  if ((rc = charge(j, total, w, e))) return rc;
  reserve_sdata(out, total);
  const uint8_t *valid = out->valid + base;
  uint64_t *offs = out->offs + base;
  char *sd = out->sdata;
  size_t at = out->sdata_len, k = 0;
  for (size_t i = 0; i < nrows; i++) {
    if (valid[i]) {
      memcpy(sd + at, v[k].p, v[k].n);
      at += v[k].n;
      k++;
    }
    offs[i + 1] = at;
  }
  out->sdata_len = at;
  return 0;
}

/* Decodes the values of a data page whose validity is already in out->valid[base..]. */
static int decode_values(struct rjob *j, struct rstate *st, const struct rcol *rc, struct column *out, size_t base,
                         size_t nrows, size_t nn, const uint8_t *p, size_t n, int enc, const struct where *w,
                         oast_err *e) {
  if (out->type == FT_STRING) return decode_strings(j, st, out, base, nrows, nn, p, n, enc, w, e);
  size_t vw = ftype_width(out->type);
  uint8_t *col = (uint8_t *)out->vals + base * vw;
  uint8_t *dst = nn == nrows ? col : pqbuf_scratch(&st->vals, nn * vw + 1);
  int r;
  switch (enc) {
    case ENC_PLAIN:
      if (rc->phys == PT_BOOLEAN) {
        if ((nn + 7) / 8 > n) return fail(w, e, OAST_EBAD_REQUEST, "boolean values are truncated");
        unpack_bools(p, nn, dst);
      } else {
        if (nn > n / rc->pw) return fail(w, e, OAST_EBAD_REQUEST, "values are truncated");
        convert(rc, p, nn, dst);
      }
      break;
    case ENC_PLAIN_DICTIONARY:
    case ENC_RLE_DICTIONARY: {
      if (nn == 0) break;
      const uint32_t *idx;
      if ((r = decode_indices(st, p, n, nn, &idx, w, e))) return r;
      const uint8_t *dv = st->dvals.p;
      if (vw == 8) {
        for (size_t i = 0; i < nn; i++) ((uint64_t *)dst)[i] = ((const uint64_t *)dv)[idx[i]];
      } else if (vw == 4) {
        for (size_t i = 0; i < nn; i++) ((uint32_t *)dst)[i] = ((const uint32_t *)dv)[idx[i]];
      } else {
        for (size_t i = 0; i < nn; i++) dst[i] = dv[idx[i]];
      }
      break;
    }
    case ENC_RLE: {
      if (rc->phys != PT_BOOLEAN) return fail(w, e, OAST_EBAD_REQUEST, "RLE values are only allowed for booleans");
      if (n < 4 || rd_u32le(p) > n - 4 || rle_decode_bits(p + 4, rd_u32le(p), nn, dst) < 0)
        return fail(w, e, OAST_EBAD_REQUEST, "RLE boolean values are corrupt");
      break;
    }
    case ENC_DELTA_BINARY_PACKED: {
      if (rc->phys != PT_INT32 && rc->phys != PT_INT64)
        return fail(w, e, OAST_EBAD_REQUEST, "delta encoding on a type other than INT32/INT64");
      if (nn == 0) break;
      const uint8_t *phys = NULL;
      if ((r = delta_phys(st, rc, p, n, nn, &phys, w, e))) return r;
      convert(rc, phys, nn, dst);
      break;
    }
    case ENC_BYTE_STREAM_SPLIT: {
      if (rc->phys == PT_BOOLEAN) return fail(w, e, OAST_EBAD_REQUEST, "byte-stream-split booleans");
      if (nn > n / rc->pw) return fail(w, e, OAST_EBAD_REQUEST, "values are truncated");
      uint8_t *phys = pqbuf_scratch(&st->phys, nn * rc->pw + 1);
      /* The streams fill the rest of the page: each is n / width bytes long. */
      if (n % rc->pw || n / rc->pw != nn) return fail(w, e, OAST_EBAD_REQUEST, "byte-stream-split size mismatch");
      bss_decode(p, nn, rc->pw, phys);
      convert(rc, phys, nn, dst);
      break;
    }
    default: return fail(w, e, OAST_EBAD_REQUEST, "encoding %d is not supported", enc);
  }
  if (nn != nrows) scatter(dst, col, out->valid + base, nrows, vw);
  return 0;
}

static int read_data_page(struct rjob *j, struct rstate *st, const struct rcol *rc, struct column *out,
                          const struct pm_page *h, int codec, const uint8_t *body, int64_t rows_left,
                          const struct where *w, oast_err *e) {
  bool v2 = h->type == PAGE_DATA_V2;
  if (v2 ? !h->has_v2 : !h->has_data) return fail(w, e, OAST_EBAD_REQUEST, "a data page lacks its header");
  if (h->num_values < 0 || h->num_values > rows_left)
    return fail(w, e, OAST_EBAD_REQUEST, "a page holds more values than the row group has rows left");
  size_t nrows = (size_t)h->num_values;
  size_t base = out->len;
  uint8_t *valid = out->valid + base;
  const uint8_t *vals;
  size_t vlen;
  int r;
  if (!v2) {
    const uint8_t *page;
    size_t plen = (size_t)h->uncompressed_size;
    if ((r = inflate_body(j, st, codec, body, (size_t)h->compressed_size, plen, &page, w, e))) return r;
    size_t pos = 0;
    if (rc->max_def) {
      if (h->def_encoding == ENC_RLE) {
        if (plen < 4 || rd_u32le(page) > plen - 4 || rle_decode_bits(page + 4, rd_u32le(page), nrows, valid) < 0)
          return fail(w, e, OAST_EBAD_REQUEST, "definition levels are corrupt");
        pos = 4 + rd_u32le(page);
      } else if (h->def_encoding == ENC_BIT_PACKED) {
        /* The deprecated packing: most significant bit first, no length prefix. */
        if ((nrows + 7) / 8 > plen) return fail(w, e, OAST_EBAD_REQUEST, "definition levels are truncated");
        for (size_t i = 0; i < nrows; i++) valid[i] = (page[i >> 3] >> (7 - (i & 7))) & 1;
        pos = (nrows + 7) / 8;
      } else {
        return fail(w, e, OAST_EBAD_REQUEST, "definition level encoding %d is not supported", h->def_encoding);
      }
    }
    vals = page + pos;
    vlen = plen - pos;
  } else {
    if (h->def_len < 0 || h->rep_len < 0 || (int64_t)h->def_len + h->rep_len > h->compressed_size ||
        (int64_t)h->def_len + h->rep_len > h->uncompressed_size)
      return fail(w, e, OAST_EBAD_REQUEST, "the level sizes of a v2 page are impossible");
    size_t lv = (size_t)h->def_len + (size_t)h->rep_len;
    if (rc->max_def && rle_decode_bits(body, (size_t)h->def_len, nrows, valid) < 0)
      return fail(w, e, OAST_EBAD_REQUEST, "definition levels are corrupt");
    size_t cn = (size_t)h->compressed_size - lv, un = (size_t)h->uncompressed_size - lv;
    if (h->is_compressed) {
      if ((r = inflate_body(j, st, codec, body + lv, cn, un, &vals, w, e))) return r;
      vlen = un;
    } else {
      vals = body + lv;
      vlen = cn;
    }
  }
  size_t nn = nrows;
  if (rc->max_def) {
    nn = 0;
    for (size_t i = 0; i < nrows; i++) nn += valid[i];
  } else {
    memset(valid, 1, nrows);
  }
  if (v2 && rc->max_def && (int64_t)(nrows - nn) != h->num_nulls)
    return fail(w, e, OAST_EBAD_REQUEST, "a v2 page's null count disagrees with its levels");
  if ((r = decode_values(j, st, rc, out, base, nrows, nn, vals, vlen, h->encoding, w, e))) return r;
  out->len += nrows;
  return 0;
}

static const char *codec_label(int codec) {
  switch (codec) {
    case 3: return "LZO";
    case 4: return "BROTLI";
    case 5: return "LZ4";
    case 7: return "LZ4_RAW";
    default: return "an unknown codec";
  }
}

static int read_chunk(struct rjob *j, struct rstate *st, size_t g, size_t c, struct column *out, oast_err *e) {
  struct pq_priv *pv = j->f->priv;
  const struct pm_column_meta *m = &pv->fm.rgs[g].chunks[c].meta;
  const struct rcol *rc = &pv->rc[c];
  struct where w = {j->f->cols[c].name, g};
  int64_t rows = pv->fm.rgs[g].num_rows;
  if (rows == 0) return 0;
  if (!pqz_supported(m->codec))
    return fail(&w, e, OAST_EBAD_REQUEST, "compression %s is not supported", codec_label(m->codec));
  uint64_t start = (uint64_t)m->data_page_offset;
  if (m->has_dictionary_page_offset && m->dictionary_page_offset > 0 && (uint64_t)m->dictionary_page_offset < start)
    start = (uint64_t)m->dictionary_page_offset;
  uint64_t len = (uint64_t)m->total_compressed_size;
  if (m->data_page_offset < 4 || start > pv->data_end || len > pv->data_end - start)
    return fail(&w, e, OAST_EBAD_REQUEST, "the column chunk lies outside the file's data");
  uint8_t *buf = pqbuf_scratch(&st->chunk, (size_t)len + 1);
  if (pread_all(pv->fd, buf, (size_t)len, start) < 0)
    return fail(&w, e, OAST_EIO, "cannot read: %s", strerror(errno));
  st->have_dict = false;
  st->dn = 0;
  size_t pos = 0;
  int64_t done = 0;
  int r;
  while (done < rows) {
    if (pos >= len)
      return fail(&w, e, OAST_EBAD_REQUEST, "the chunk ends after %lld of %lld rows", (long long)done, (long long)rows);
    struct tr tr;
    tr_init(&tr, buf + pos, (size_t)len - pos);
    struct pm_page h;
    if (pm_decode_page(&tr, &h) < 0) return fail(&w, e, OAST_EBAD_REQUEST, "a page header is corrupt (%s)", tr.err);
    pos += (size_t)(tr.p - (buf + pos));
    if ((uint64_t)h.compressed_size > len - pos) return fail(&w, e, OAST_EBAD_REQUEST, "a page runs past its chunk");
    const uint8_t *body = buf + pos;
    pos += (size_t)h.compressed_size;
    if (h.type == PAGE_DICTIONARY) {
      if (done > 0) return fail(&w, e, OAST_EBAD_REQUEST, "a dictionary page follows data pages");
      const uint8_t *page;
      if ((r = inflate_body(j, st, m->codec, body, (size_t)h.compressed_size, (size_t)h.uncompressed_size, &page, &w,
                            e)))
        return r;
      if ((r = read_dictionary(st, rc, out->type, &h, page, (size_t)h.uncompressed_size, &w, e))) return r;
    } else if (h.type == PAGE_DATA || h.type == PAGE_DATA_V2) {
      size_t before = out->len;
      if ((r = read_data_page(j, st, rc, out, &h, m->codec, body, rows - done, &w, e))) return r;
      done += (int64_t)(out->len - before);
    }
    /* Index pages and unknown page types are skipped. */
  }
  return 0;
}

static void read_task(void *arg, size_t task, int worker) {
  struct rjob *j = arg;
  struct column *out = &j->out->cols[task];
  for (size_t g = j->g0; g < j->g1; g++) {
    j->rcs[task] = read_chunk(j, &j->st[worker], g, j->sel[task], out, &j->errs[task]);
    if (j->rcs[task]) return;
  }
}

static int read_groups(struct pq_file *f, size_t g0, size_t g1, const char *const *columns, size_t ncolumns,
                       struct table *out, oast_err *e) {
  memset(out, 0, sizeof *out);
  size_t nsel = columns ? ncolumns : f->ncols;
  size_t *sel = xcalloc(nsel + 1, sizeof *sel);
  const char **names = xcalloc(nsel + 1, sizeof *names);
  enum ftype *types = xcalloc(nsel + 1, sizeof *types);
  struct rjob j = {.f = f, .g0 = g0, .g1 = g1, .sel = sel, .out = out};
  atomic_init(&j.used, 0);
  int rc = 0;
  for (size_t i = 0; i < nsel; i++) {
    int c = columns ? pq_find_column(f, columns[i]) : (int)i;
    if (c < 0) {
      rc = oast_err_set(e, OAST_EBAD_REQUEST, "the Parquet file has no column \"%s\"", columns[i]);
      goto out;
    }
    sel[i] = (size_t)c;
    names[i] = f->cols[c].name;
    types[i] = f->cols[c].type;
  }
  table_init(out, nsel, names, types);
  uint64_t rows = 0;
  for (size_t g = g0; g < g1; g++) rows += (uint64_t)f->row_groups[g].num_rows;
  size_t per_row = 0;
  for (size_t i = 0; i < nsel; i++) per_row += 1 + (types[i] == FT_STRING ? 8 : ftype_width(types[i]));
  if (per_row && rows > f->max_read_bytes / per_row) {
    rc = oast_err_set(e, OAST_ETOO_LARGE, "reading %llu rows needs more than the %zu bytes allowed",
                      (unsigned long long)rows, f->max_read_bytes);
    goto out;
  }
  atomic_store(&j.used, (size_t)rows * per_row);
  for (size_t i = 0; i < nsel; i++) column_reserve(&out->cols[i], (size_t)rows);
  int nworkers = par_workers(0, nsel);
  j.st = xcalloc((size_t)nworkers, sizeof *j.st);
  j.rcs = xcalloc(nsel + 1, sizeof *j.rcs);
  j.errs = xcalloc(nsel + 1, sizeof *j.errs);
  par_run(nsel, nworkers, read_task, &j);
  for (size_t i = 0; i < nsel && !rc; i++)
    if (j.rcs[i]) rc = oast_err_set(e, j.rcs[i], "%s", j.errs[i].msg);
  for (int i = 0; i < nworkers; i++) rstate_release(&j.st[i]);
  free(j.st);
  free(j.rcs);
  free(j.errs);
  if (!rc) {
    for (size_t i = 0; i < nsel && !rc; i++)
      if (out->cols[i].len != rows)
        rc = oast_err_set(e, OAST_EBAD_REQUEST, "column \"%s\" has %zu rows, the footer says %llu",
                          out->cols[i].name, out->cols[i].len, (unsigned long long)rows);
    out->nrows = (size_t)rows;
  }
out:
  free(sel);
  free(names);
  free(types);
  return rc;
}

int pq_read_table(struct pq_file *f, const char *const *columns, size_t ncolumns, struct table *out, oast_err *e) {
  return read_groups(f, 0, f->nrow_groups, columns, ncolumns, out, e);
}

int pq_read_row_group(struct pq_file *f, size_t rg, const char *const *columns, size_t ncolumns, struct table *out,
                      oast_err *e) {
  if (rg >= f->nrow_groups) {
    memset(out, 0, sizeof *out);
    return oast_err_set(e, OAST_ENOT_FOUND, "the Parquet file has %zu row groups, not %zu", f->nrow_groups, rg + 1);
  }
  return read_groups(f, rg, rg + 1, columns, ncolumns, out, e);
}
