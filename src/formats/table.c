/* table.c — the columnar batch shared by every codec (see table.h). */
#include "formats/table.h"

#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

static const char *const type_names[FT__COUNT] = {"int",    "bigint",  "float",     "double",
                                                  "string", "boolean", "timestamp", "date"};

int ftype_from_name(const char *s) {
  for (int i = 0; i < FT__COUNT; i++)
    if (s && strcmp(s, type_names[i]) == 0) return i;
  return -1;
}

const char *ftype_name(enum ftype t) { return (unsigned)t < FT__COUNT ? type_names[t] : "unknown"; }

size_t ftype_width(enum ftype t) {
  switch (t) {
    case FT_INT: case FT_DATE: case FT_FLOAT: return 4;
    case FT_BIGINT: case FT_TIMESTAMP: case FT_DOUBLE: return 8;
    case FT_BOOLEAN: return 1;
    default: return 0;
  }
}

void column_init(struct column *c, const char *name, enum ftype type) {
  memset(c, 0, sizeof *c);
  c->name = xstrdup(name);
  c->type = type;
  if (type == FT_STRING) {
    c->offs = xcalloc(1, sizeof *c->offs);
  }
}

void column_release(struct column *c) {
  if (!c) return;
  free(c->name);
  free(c->valid);
  free(c->vals);
  free(c->offs);
  free(c->sdata);
  memset(c, 0, sizeof *c);
}

void column_reserve(struct column *c, size_t rows) {
  if (rows <= c->cap) return;
  size_t cap = c->cap ? c->cap : 16;
  while (cap < rows) cap *= 2;
  c->valid = xrealloc(c->valid, cap);
  if (c->type == FT_STRING)
    c->offs = xreallocarray(c->offs, cap + 1, sizeof *c->offs);
  else
    c->vals = xreallocarray(c->vals, cap, ftype_width(c->type));
  c->cap = cap;
}

static void *slot(struct column *c) {
  column_reserve(c, c->len + 1);
  return (char *)c->vals + c->len * ftype_width(c->type);
}

void column_append_null(struct column *c) {
  column_reserve(c, c->len + 1);
  if (c->type == FT_STRING)
    c->offs[c->len + 1] = c->offs[c->len];
  else
    memset(slot(c), 0, ftype_width(c->type));
  c->valid[c->len++] = 0;
}

#define APPEND(fn, ctype)                     \
  void fn(struct column *c, ctype v) {        \
    *(ctype *)slot(c) = v;                    \
    c->valid[c->len++] = 1;                   \
  }
APPEND(column_append_i32, int32_t)
APPEND(column_append_i64, int64_t)
APPEND(column_append_f32, float)
APPEND(column_append_f64, double)
#undef APPEND

void column_append_bool(struct column *c, bool v) {
  *(uint8_t *)slot(c) = v ? 1 : 0;
  c->valid[c->len++] = 1;
}

void column_append_str(struct column *c, const char *s, size_t n) {
  column_reserve(c, c->len + 1);
  if (c->sdata_len + n > c->sdata_cap) {
    size_t cap = c->sdata_cap ? c->sdata_cap : 256;
    while (cap < c->sdata_len + n) cap *= 2;
    c->sdata = xrealloc(c->sdata, cap);
    c->sdata_cap = cap;
  }
  if (n) memcpy(c->sdata + c->sdata_len, s, n);
  c->sdata_len += n;
  c->offs[c->len + 1] = c->sdata_len;
  c->valid[c->len++] = 1;
}

void column_append_from(struct column *dst, const struct column *src, size_t i) {
  if (!src->valid[i]) {
    column_append_null(dst);
    return;
  }
  if (src->type == FT_STRING) {
    size_t n;
    const char *s = column_str(src, i, &n);
    column_append_str(dst, s, n);
    return;
  }
  size_t w = ftype_width(src->type);
  memcpy(slot(dst), (const char *)src->vals + i * w, w);
  dst->valid[dst->len++] = 1;
}

double column_num(const struct column *c, size_t i) {
  switch (c->type) {
    case FT_INT: case FT_DATE: return column_i32(c, i);
    case FT_BIGINT: case FT_TIMESTAMP: return (double)column_i64(c, i);
    case FT_FLOAT: return column_f32(c, i);
    case FT_DOUBLE: return column_f64(c, i);
    case FT_BOOLEAN: return column_bool(c, i);
    default: return 0;
  }
}

void table_init(struct table *t, size_t ncols, const char *const *names, const enum ftype *types) {
  t->ncols = ncols;
  t->nrows = 0;
  t->cols = xcalloc(ncols ? ncols : 1, sizeof *t->cols);
  for (size_t i = 0; i < ncols; i++) column_init(&t->cols[i], names[i], types[i]);
}

void table_release(struct table *t) {
  if (!t) return;
  for (size_t i = 0; i < t->ncols; i++) column_release(&t->cols[i]);
  free(t->cols);
  t->cols = NULL;
  t->ncols = t->nrows = 0;
}

int table_find(const struct table *t, const char *name) {
  for (size_t i = 0; i < t->ncols; i++)
    if (strcmp(t->cols[i].name, name) == 0) return (int)i;
  return -1;
}

int table_check(struct table *t, oast_err *e) {
  size_t n = t->ncols ? t->cols[0].len : 0;
  for (size_t i = 1; i < t->ncols; i++)
    if (t->cols[i].len != n)
      return oast_err_set(e, OAST_EINTERNAL, "column \"%s\" has %zu rows, expected %zu", t->cols[i].name,
                          t->cols[i].len, n);
  t->nrows = n;
  return 0;
}

/* Days since the epoch of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = (int64_t)yoe + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

static int days_in_month(int64_t y, unsigned m) {
  static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return dm[m - 1];
}

static int digits(const char *s, size_t n, size_t at, size_t count, int *out) {
  if (at + count > n) return -1;
  int v = 0;
  for (size_t i = 0; i < count; i++) {
    char c = s[at + i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return 0;
}

static int parse_date_prefix(const char *s, size_t n, int64_t *days) {
  int y, m, d;
  if (digits(s, n, 0, 4, &y) || n < 10 || s[4] != '-' || digits(s, n, 5, 2, &m) || s[7] != '-' ||
      digits(s, n, 8, 2, &d))
    return -1;
  if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, (unsigned)m)) return -1;
  *days = days_from_civil(y, (unsigned)m, (unsigned)d);
  return 0;
}

int date_parse(const char *s, size_t n, int32_t *days) {
  int64_t d;
  if (n != 10 || parse_date_prefix(s, n, &d)) return -1;
  *days = (int32_t)d;
  return 0;
}

void date_format(int32_t days, char *out, size_t n) {
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  snprintf(out, n, "%04lld-%02u-%02u", (long long)y, m, d);
}

int timestamp_parse(const char *s, size_t n, int64_t *micros) {
  /* Epoch milliseconds: an optional '-' and digits only. */
  size_t i = 0;
  if (n && s[0] == '-') i = 1;
  if (n > i && n - i <= 15) {
    int all = 1;
    for (size_t k = i; k < n; k++)
      if (s[k] < '0' || s[k] > '9') all = 0;
    if (all) {
      long long v = 0;
      for (size_t k = i; k < n; k++) v = v * 10 + (s[k] - '0');
      *micros = (i ? -v : v) * 1000;
      return 0;
    }
  }
  int64_t days;
  if (parse_date_prefix(s, n, &days)) return -1;
  int64_t secs = days * 86400, frac = 0;
  size_t p = 10;
  if (p < n && (s[p] == 'T' || s[p] == ' ')) {
    int hh, mm, ss = 0;
    if (digits(s, n, p + 1, 2, &hh) || p + 3 >= n || s[p + 3] != ':' || digits(s, n, p + 4, 2, &mm)) return -1;
    p += 6;
    if (p < n && s[p] == ':') {
      if (digits(s, n, p + 1, 2, &ss)) return -1;
      p += 3;
      if (p < n && s[p] == '.') {
        p++;
        int nd = 0;
        int64_t scale = 100000;
        while (p < n && s[p] >= '0' && s[p] <= '9') {
          if (nd < 6) frac += (s[p] - '0') * scale;
          scale /= 10;
          nd++;
          p++;
        }
        if (nd == 0) return -1;
      }
    }
    if (hh > 23 || mm > 59 || ss > 60) return -1;
    secs += hh * 3600 + mm * 60 + ss;
  }
  if (p < n) {
    if (s[p] == 'Z' && p + 1 == n) {
      p++;
    } else if ((s[p] == '+' || s[p] == '-') && n - p == 6 && s[p + 3] == ':') {
      int oh, om;
      if (digits(s, n, p + 1, 2, &oh) || digits(s, n, p + 4, 2, &om)) return -1;
      int64_t off = oh * 3600 + om * 60;
      secs -= s[p] == '+' ? off : -off;
      p = n;
    } else {
      return -1;
    }
  }
  *micros = secs * 1000000 + frac;
  return 0;
}

void timestamp_format(int64_t micros, char *out, size_t n) {
  int64_t secs = micros / 1000000, us = micros % 1000000;
  if (us < 0) {
    us += 1000000;
    secs -= 1;
  }
  int64_t days = secs / 86400, rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  if (us)
    snprintf(out, n, "%04lld-%02u-%02uT%02d:%02d:%02d.%06lldZ", (long long)y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60), (long long)us);
  else
    snprintf(out, n, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60));
}
