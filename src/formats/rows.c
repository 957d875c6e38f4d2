/*
 * rows.c — value parsing and printing shared by the text codecs (see rows.h).
 *
 * Parsing is on the hot path of every CSV ingest, so it avoids the C
 * library where the library is slow or needs a NUL-terminated copy:
 * integers are parsed by hand with overflow checks, and decimals take
 * Clinger's fast path (a mantissa below 2^53 and a power of ten up to 1e22
 * are both exact doubles, so one IEEE multiplication or division is the
 * correctly rounded result). Only the rest — long mantissas, large
 * exponents — goes through strtod/strtof after a strict syntax check
 * done here, so strtod's leniency (hex floats, leading blanks) never
 * leaks in.
 *
 * Printing mirrors this: a double is written with the fewest decimals k
 * for which round(v * 10^k) / 10^k gives v back, again by the exact fast
 * path, which covers the values people store (prices, ratios, sensor
 * readings); the others are printed with %.15g/%.16g/%.17g, the first
 * that reads back equal.
 */
#include "formats/rows.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"

static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
static const float p10f[] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, 1e9f, 1e10f};

#define TWO53 9007199254740992.0

void rows_table_like(struct table *t, const struct table *proto) {
  const char **names = xcalloc(proto->ncols ? proto->ncols : 1, sizeof *names);
  enum ftype *types = xcalloc(proto->ncols ? proto->ncols : 1, sizeof *types);
  for (size_t i = 0; i < proto->ncols; i++) {
    names[i] = proto->cols[i].name;
    types[i] = proto->cols[i].type;
  }
  table_init(t, proto->ncols, names, types);
  free(names);
  free(types);
}

/* ---- parsing ---- */

/* Decimal integer with optional sign. 0, -1 (syntax) or -2 (out of int64). */
static int parse_i64(const char *s, size_t n, int64_t *out) {
  size_t i = 0;
  bool neg = false;
  if (n && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == n) return -1;
  uint64_t v = 0;
  bool over = false;
  const uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; i < n; i++) {
    unsigned d = (unsigned)(unsigned char)s[i] - '0';
    if (d > 9) return -1;
    if (v > (lim - d) / 10) over = true;
    else v = v * 10 + d;
  }
  if (over) return -2;
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 0;
}

static bool is_special(const char *s, size_t n, double *out) {
  double sign = 1;
  if (n && (s[0] == '-' || s[0] == '+')) {
    sign = s[0] == '-' ? -1 : 1;
    s++;
    n--;
  }
  if (n == 3 && strncasecmp(s, "nan", 3) == 0) {
    *out = NAN;
    return true;
  }
  if ((n == 3 && strncasecmp(s, "inf", 3) == 0) || (n == 8 && strncasecmp(s, "infinity", 8) == 0)) {
    *out = sign * INFINITY;
    return true;
  }
  return false;
}

/*
 * Checks the decimal syntax [+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)? and
 * collects up to 19 significant digits. *exact is false when digits were
 * dropped. Returns -1 on a syntax error.
 */
static int scan_decimal(const char *s, size_t n, bool *neg, uint64_t *mant, int *exp10, bool *exact) {
  size_t i = 0;
  *neg = false;
  if (n && (s[0] == '-' || s[0] == '+')) {
    *neg = s[0] == '-';
    i = 1;
  }
  uint64_t m = 0;
  int nd = 0, ex = 0;
  bool any = false, ok = true;
  for (; i < n && (unsigned)(s[i] - '0') <= 9; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    any = true;
    if (m == 0 && d == 0) continue;
    if (nd < 19) {
      m = m * 10 + d;
      nd++;
    } else {
      ex++;
      if (d) ok = false;
    }
  }
  if (i < n && s[i] == '.') {
    for (i++; i < n && (unsigned)(s[i] - '0') <= 9; i++) {
      unsigned d = (unsigned)(s[i] - '0');
      any = true;
      if (m == 0 && d == 0) {
        ex--;
        continue;
      }
      if (nd < 19) {
        m = m * 10 + d;
        nd++;
        ex--;
      } else if (d) {
        ok = false;
      }
    }
  }
  if (!any) return -1;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    bool eneg = false;
    if (i < n && (s[i] == '-' || s[i] == '+')) eneg = s[i++] == '-';
    if (i == n) return -1;
    int e = 0;
    for (; i < n && (unsigned)(s[i] - '0') <= 9; i++)
      if (e < 100000) e = e * 10 + (s[i] - '0');
    ex += eneg ? -e : e;
  }
  if (i != n) return -1;
  *mant = m;
  *exp10 = ex;
  *exact = ok;
  return 0;
}

/* Runs strtod or strtof on a NUL-terminated copy of an already checked number. */
static double slow_parse(const char *s, size_t n, bool single) {
  char stack[128];
  char *b = n < sizeof stack ? stack : xmalloc(n + 1);
  memcpy(b, s, n);
  b[n] = '\0';
  double v = single ? (double)strtof(b, NULL) : strtod(b, NULL);
  if (b != stack) free(b);
  return v;
}

/* 0, -1 (syntax) or -2 (out of range). */
static int parse_double(const char *s, size_t n, double *out) {
  bool neg, exact;
  uint64_t m;
  int ex;
  if (scan_decimal(s, n, &neg, &m, &ex, &exact)) return is_special(s, n, out) ? 0 : -1;
  double v;
  if (exact && m <= (uint64_t)TWO53 && ex >= -22 && ex <= 22)
    v = ex >= 0 ? (double)m * p10[ex] : (double)m / p10[-ex];
  else
    v = fabs(slow_parse(s, n, false));
  if (isinf(v)) return -2;
  *out = neg ? -v : v;
  return 0;
}

static int parse_float(const char *s, size_t n, float *out) {
  bool neg, exact;
  uint64_t m;
  int ex;
  double sp;
  if (scan_decimal(s, n, &neg, &m, &ex, &exact)) {
    if (!is_special(s, n, &sp)) return -1;
    *out = (float)sp;
    return 0;
  }
  float v;
  if (exact && m <= (1u << 24) && ex >= -10 && ex <= 10)
    v = ex >= 0 ? (float)m * p10f[ex] : (float)m / p10f[-ex];
  else
    v = fabsf((float)slow_parse(s, n, true));
  if (isinf(v)) return -2;
  *out = neg ? -v : v;
  return 0;
}

int rows_parse_cell(struct column *c, const char *s, size_t n, char *why, size_t whylen) {
  char q[200];
  int64_t i64;
  int rc;
  switch (c->type) {
    case FT_INT:
      rc = parse_i64(s, n, &i64);
      if (rc == 0 && (i64 < INT32_MIN || i64 > INT32_MAX)) rc = -2;
      if (rc) break;
      column_append_i32(c, (int32_t)i64);
      return 0;
    case FT_BIGINT:
      if ((rc = parse_i64(s, n, &i64))) break;
      column_append_i64(c, i64);
      return 0;
    case FT_FLOAT: {
      float f;
      if ((rc = parse_float(s, n, &f))) break;
      column_append_f32(c, f);
      return 0;
    }
    case FT_DOUBLE: {
      double d;
      if ((rc = parse_double(s, n, &d))) break;
      column_append_f64(c, d);
      return 0;
    }
    case FT_BOOLEAN:
      rc = -1;
      if (n == 1 && (s[0] == '1' || s[0] == '0')) {
        column_append_bool(c, s[0] == '1');
        return 0;
      }
      if (n == 4 && strncasecmp(s, "true", 4) == 0) {
        column_append_bool(c, true);
        return 0;
      }
      if (n == 5 && strncasecmp(s, "false", 5) == 0) {
        column_append_bool(c, false);
        return 0;
      }
      break;
    case FT_TIMESTAMP:
      if ((rc = timestamp_parse(s, n, &i64))) break;
      column_append_i64(c, i64);
      return 0;
    case FT_DATE: {
      int32_t d;
      if ((rc = date_parse(s, n, &d))) break;
      column_append_i32(c, d);
      return 0;
    }
    case FT_STRING: {
      size_t bad = rows_utf8_check(s, n);
      if (bad < n) {
        snprintf(why, whylen, "invalid UTF-8 at byte %zu of the value", bad + 1);
        return -1;
      }
      column_append_str(c, s, n);
      return 0;
    }
    default:
      rc = -1;
      break;
  }
  rows_quote(s, n, q, sizeof q);
  static const char *const what[FT__COUNT] = {
      [FT_INT] = "an int", [FT_BIGINT] = "a bigint", [FT_FLOAT] = "a float", [FT_DOUBLE] = "a double",
      [FT_BOOLEAN] = "a boolean (true, false, 1 or 0)", [FT_TIMESTAMP] = "a timestamp",
      [FT_DATE] = "a date (YYYY-MM-DD)", [FT_STRING] = "a string"};
  const char *w = (unsigned)c->type < FT__COUNT ? what[c->type] : "a value";
  if (rc == -2)
    snprintf(why, whylen, "%s is out of range for %s", q, w);
  else
    snprintf(why, whylen, "%s is not %s", q, w);
  return -1;
}

/* ---- UTF-8 and quoting ---- */

/* Length of the valid UTF-8 sequence at p[0..n), 0 if it is invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
  unsigned c = p[0];
  if (c < 0x80) return 1;
  if (c < 0xC2) return 0;
  if (c < 0xE0) return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
  if (c < 0xF0) {
    if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0)) return 0;
    return 3;
  }
  if (c < 0xF5) {
    if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
    if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90)) return 0;
    return 4;
  }
  return 0;
}

size_t rows_utf8_seq(const char *s, size_t n) { return utf8_seq((const unsigned char *)s, n); }

size_t rows_utf8_check(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, p + i, 8);
      if (!(w & 0x8080808080808080ULL)) {
        i += 8;
        continue;
      }
    }
    size_t k = utf8_seq(p + i, n - i);
    if (!k) return i;
    i += k;
  }
  return n;
}

void rows_quote(const char *s, size_t n, char *out, size_t outlen) {
  const unsigned char *p = (const unsigned char *)s;
  size_t o = 0, i = 0;
  char tmp[240];
  tmp[o++] = '"';
  while (i < n && i < 40) {
    size_t k = utf8_seq(p + i, n - i);
    if (k == 1 && p[i] >= 0x20 && p[i] != 0x7f && p[i] != '"' && p[i] != '\\') {
      tmp[o++] = (char)p[i++];
    } else if (k == 1 && (p[i] == '"' || p[i] == '\\')) {
      tmp[o++] = '\\';
      tmp[o++] = (char)p[i++];
    } else if (k > 1) {
      if (i + k > 40) break;
      memcpy(tmp + o, p + i, k);
      o += k;
      i += k;
    } else {
      o += (size_t)snprintf(tmp + o, sizeof tmp - o, "\\x%02x", p[i]);
      i++;
    }
  }
  tmp[o++] = '"';
  if (i < n) {
    memcpy(tmp + o, "...", 3);
    o += 3;
  }
  tmp[o] = '\0';
  snprintf(out, outlen, "%s", tmp);
}

/* ---- printing ---- */

static size_t put_u64(uint64_t v, char *out) {
  char t[24];
  size_t n = 0;
  do {
    t[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) out[i] = t[n - 1 - i];
  return n;
}

static size_t put_i64(int64_t v, char *out) {
  if (v < 0) {
    out[0] = '-';
    return 1 + put_u64((uint64_t)0 - (uint64_t)v, out + 1);
  }
  return put_u64((uint64_t)v, out);
}

/* The digits of r with a decimal point k places from the right. */
static size_t put_scaled(bool neg, uint64_t r, int k, char *out) {
  char d[24];
  size_t nd = put_u64(r, d), o = 0;
  if (neg) out[o++] = '-';
  if ((size_t)k >= nd) {
    out[o++] = '0';
    out[o++] = '.';
    for (size_t z = 0; z < (size_t)k - nd; z++) out[o++] = '0';
    memcpy(out + o, d, nd);
    return o + nd;
  }
  memcpy(out + o, d, nd - (size_t)k);
  o += nd - (size_t)k;
  if (k) {
    out[o++] = '.';
    memcpy(out + o, d + nd - k, (size_t)k);
    o += (size_t)k;
  }
  return o;
}

static size_t put_special(double v, char *out) {
  const char *s = isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf";
  size_t n = strlen(s);
  memcpy(out, s, n + 1);
  return n;
}

size_t rows_format_double(double v, char *out) {
  if (!isfinite(v)) return put_special(v, out);
  if (v == 0) {
    size_t n = signbit(v) ? 2 : 1;
    memcpy(out, signbit(v) ? "-0" : "0", n + 1);
    return n;
  }
  double a = fabs(v);
  for (int k = 0; k <= 22; k++) {
    double m = a * p10[k];
    if (m >= TWO53) break;
    double r = nearbyint(m);
    if (r != 0 && r / p10[k] == a) {
      size_t n = put_scaled(v < 0, (uint64_t)r, k, out);
      out[n] = '\0';
      return n;
    }
  }
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(out, ROWS_CELL_MAX, "%.*g", prec, v);
    if (strtod(out, NULL) == v) break;
  }
  return (size_t)n;
}

static size_t format_float(float v, char *out) {
  if (!isfinite(v)) return put_special(v, out);
  if (v == 0) return rows_format_double(v, out);
  float a = fabsf(v);
  for (int k = 0; k <= 10; k++) {
    float m = a * p10f[k];
    if (m >= 16777216.0f) break;
    float r = nearbyintf(m);
    if (r != 0 && r / p10f[k] == a) {
      size_t n = put_scaled(v < 0, (uint64_t)r, k, out);
      out[n] = '\0';
      return n;
    }
  }
  int n = 0;
  for (int prec = 6; prec <= 9; prec++) {
    n = snprintf(out, ROWS_CELL_MAX, "%.*g", prec, (double)v);
    if (strtof(out, NULL) == v) break;
  }
  return (size_t)n;
}

void rows_fmt_init(struct rows_fmt *f) {
  for (size_t k = 0; k < ROWS_FMT_DAYS; k++) f->day[k] = INT64_MIN;
}

/* Copies the text of `day` to out; returns its length. */
static size_t day_text(struct rows_fmt *f, int64_t day, char *out) {
  size_t k = (size_t)day % ROWS_FMT_DAYS;
  if (f->day[k] != day) {
    date_format((int32_t)day, f->date[k], sizeof f->date[k]);
    f->len[k] = (uint8_t)strlen(f->date[k]);
    f->day[k] = day;
  }
  memcpy(out, f->date[k], 16);
  return f->len[k];
}

static void two(char *o, int v) {
  o[0] = (char)('0' + v / 10);
  o[1] = (char)('0' + v % 10);
}

/* The same text as timestamp_format, without printf for the time of day. */
static size_t format_timestamp(struct rows_fmt *f, int64_t micros, char *out) {
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
  size_t n = day_text(f, days, out);
  out[n++] = 'T';
  two(out + n, (int)(rem / 3600));
  out[n + 2] = ':';
  two(out + n + 3, (int)(rem / 60 % 60));
  out[n + 5] = ':';
  two(out + n + 6, (int)(rem % 60));
  n += 8;
  if (us) {
    out[n++] = '.';
    for (int i = 5; i >= 0; i--) {
      out[n + (size_t)i] = (char)('0' + us % 10);
      us /= 10;
    }
    n += 6;
  }
  out[n++] = 'Z';
  out[n] = '\0';
  return n;
}

size_t rows_format_cell(struct rows_fmt *f, const struct column *c, size_t i, char *out) {
  size_t n;
  switch (c->type) {
    case FT_INT: n = put_i64(column_i32(c, i), out); break;
    case FT_BIGINT: n = put_i64(column_i64(c, i), out); break;
    case FT_FLOAT: return format_float(column_f32(c, i), out);
    case FT_DOUBLE: return rows_format_double(column_f64(c, i), out);
    case FT_BOOLEAN:
      n = column_bool(c, i) ? 4 : 5;
      memcpy(out, column_bool(c, i) ? "true" : "false", n);
      break;
    case FT_TIMESTAMP: return format_timestamp(f, column_i64(c, i), out);
    case FT_DATE: n = day_text(f, column_i32(c, i), out); break;
    default: n = 0; break;
  }
  out[n] = '\0';
  return n;
}

/* A JSON string of s[0..n); bytes that are not UTF-8 become U+FFFD, so a
 * string that came from a binary source can still be dumped. */
static json_t *string_json(const char *s, size_t n) {
  if (rows_utf8_check(s, n) == n) return json_stringn_nocheck(s, n);
  char *t = xmalloc(n * 3 + 1);
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t k = utf8_seq((const unsigned char *)s + i, n - i);
    if (k) {
      memcpy(t + o, s + i, k);
      o += k;
      i += k;
    } else {
      memcpy(t + o, "\xEF\xBF\xBD", 3);
      o += 3;
      i++;
    }
  }
  json_t *j = json_stringn_nocheck(t, o);
  free(t);
  return j;
}

json_t *rows_cell_json(const struct column *c, size_t i) {
  if (column_is_null(c, i)) return json_null();
  char t[ROWS_CELL_MAX];
  struct rows_fmt f;
  switch (c->type) {
    case FT_INT: case FT_BIGINT: return json_integer((json_int_t)(c->type == FT_INT ? column_i32(c, i) : column_i64(c, i)));
    case FT_FLOAT: case FT_DOUBLE: {
      double v = column_num(c, i);
      return isfinite(v) ? json_real(v) : json_null();
    }
    case FT_BOOLEAN: return json_boolean(column_bool(c, i));
    case FT_STRING: {
      size_t n;
      const char *s = column_str(c, i, &n);
      return string_json(s, n);
    }
    default:
      rows_fmt_init(&f);
      rows_format_cell(&f, c, i, t);
      return json_string(t);
  }
}
