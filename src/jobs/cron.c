/*
 * cron.c — cron expressions as bit sets, and field-by-field search for the
 * next and previous matching minute (see cron.h for the grammar and the
 * fire-once protocol).
 *
 * Each field becomes a bit set of the values it allows, so matching a
 * candidate time is a handful of shifts. The search works on a broken-down
 * UTC date (year, month, day, hour, minute) rather than on seconds: when a
 * field does not match, every smaller field is reset and the date moves to
 * the next (or previous) value of that field, so a year is crossed in at
 * most about 12 + 31 steps instead of half a million minutes. Calendar
 * arithmetic uses the proleptic Gregorian day-number formulas (days since
 * 1970-01-01), which need no time zone and no libc state.
 */
#include "jobs/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MIN_TIME 0LL                /* 1970-01-01 00:00:00 */
#define MAX_TIME 253402300799LL     /* 9999-12-31 23:59:59 */
#define SEARCH_YEARS 400

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

struct field {
  const char *name;
  int lo, hi;
  const char *const *names;  /* names[i] is value lo + i */
  const char *names_hint;
};

static const struct field fields[5] = {
    {"minute", 0, 59, NULL, NULL},
    {"hour", 0, 23, NULL, NULL},
    {"day-of-month", 1, 31, NULL, NULL},
    {"month", 1, 12, month_names, "a month name (JAN-DEC)"},
    {"day-of-week", 0, 7, dow_names, "a weekday name (SUN-SAT)"},
};

static const struct {
  const char *alias;
  const char *expr;
} aliases[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* ---- parsing ---- */

static int field_err(oast_err *e, int fi, const char *fmt, const char *tok, size_t toklen, int a, int b) {
  char what[160];
  snprintf(what, sizeof what, fmt, (int)(toklen > 40 ? 40 : toklen), tok, a, b);
  return oast_err_set(e, OAST_EBAD_REQUEST, "cron field %d (%s): %s", fi + 1, fields[fi].name, what);
}

/* One value (number or name) at *p, ending before `end`; advances *p. */
static int parse_value(int fi, const char **p, const char *end, int *out, oast_err *e) {
  const struct field *f = &fields[fi];
  const char *s = *p;
  if (s < end && isdigit((unsigned char)*s)) {
    const char *q = s;
    long v = 0;
    while (q < end && isdigit((unsigned char)*q)) {
      if (v < 100000) v = v * 10 + (*q - '0');
      q++;
    }
    if (v < f->lo || v > f->hi)
      return field_err(e, fi, "%.*s is out of range %d-%d", s, (size_t)(q - s), f->lo, f->hi);
    *out = (int)v;
    *p = q;
    return 0;
  }
  const char *q = s;
  while (q < end && isalpha((unsigned char)*q)) q++;
  if (q > s && f->names) {
    for (int i = 0; f->names[i]; i++)
      if ((size_t)(q - s) == 3 && strncasecmp(s, f->names[i], 3) == 0) {
        *out = f->lo + i;
        *p = q;
        return 0;
      }
  }
  if (q == s)  /* not a letter either: show up to the next separator */
    while (q < end && *q != '-' && *q != '/') q++;
  if (q == s) q = end;
  if (f->names) {
    char fmt[96];
    snprintf(fmt, sizeof fmt, "\"%%.*s\" is not a number or %s", f->names_hint);
    return field_err(e, fi, fmt, s, (size_t)(q - s), 0, 0);
  }
  return field_err(e, fi, "\"%.*s\" is not a number", s, (size_t)(q - s), 0, 0);
}

/* One list item [s, end): `*`, N, A-B, each optionally /S. */
static int parse_item(int fi, const char *s, const char *end, uint64_t *bits, oast_err *e) {
  const struct field *f = &fields[fi];
  const char *p = s;
  int a, b, step = 1, rc;
  bool ranged = false;
  if (p == end) return field_err(e, fi, "empty list item%.*s", "", 0, 0, 0);
  if (*p == '*') {
    a = f->lo;
    b = f->hi;
    p++;
    ranged = true;
  } else {
    if ((rc = parse_value(fi, &p, end, &a, e))) return rc;
    b = a;
    if (p < end && *p == '-') {
      p++;
      if ((rc = parse_value(fi, &p, end, &b, e))) return rc;
      if (b < a) return field_err(e, fi, "range \"%.*s\" runs backwards", s, (size_t)(end - s), 0, 0);
      ranged = true;
    }
  }
  if (p < end && *p == '/') {
    const char *q = ++p;
    long v = 0;
    while (p < end && isdigit((unsigned char)*p)) {
      if (v < 100000) v = v * 10 + (*p - '0');
      p++;
    }
    if (p == q || p != end) return field_err(e, fi, "step in \"%.*s\" is not a number", s, (size_t)(end - s), 0, 0);
    int maxstep = f->hi - f->lo + 1;
    if (v < 1 || v > maxstep) return field_err(e, fi, "step %.*s is out of range %d-%d", q, (size_t)(p - q), 1, maxstep);
    step = (int)v;
    if (!ranged) b = f->hi;  /* N/S: from N to the maximum */
  }
  if (p != end) return field_err(e, fi, "unexpected \"%.*s\"", p, (size_t)(end - p), 0, 0);
  for (int v = a; v <= b; v += step) *bits |= 1ULL << v;
  return 0;
}

static int parse_field(int fi, const char *s, const char *end, uint64_t *bits, oast_err *e) {
  *bits = 0;
  const char *p = s;
  for (;;) {
    const char *q = p;
    while (q < end && *q != ',') q++;
    int rc = parse_item(fi, p, q, bits, e);
    if (rc) return rc;
    if (q == end) return 0;
    p = q + 1;
  }
}

static bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int64_t y, int m) {
  static const int dim[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : dim[m];
}

int cron_parse(const char *expr, struct cron *out, oast_err *e) {
  memset(out, 0, sizeof *out);
  if (!expr) return oast_err_set(e, OAST_EBAD_REQUEST, "cron expression is missing");
  size_t len = strnlen(expr, CRON_EXPR_MAX + 1);
  if (len > CRON_EXPR_MAX)
    return oast_err_set(e, OAST_EBAD_REQUEST, "cron expression is longer than %d characters", CRON_EXPR_MAX);
  const char *s = expr;
  while (isspace((unsigned char)*s)) s++;
  const char *end = expr + len;
  while (end > s && isspace((unsigned char)end[-1])) end--;
  if (s < end && *s == '@') {
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
      if ((size_t)(end - s) == strlen(aliases[i].alias) && strncasecmp(s, aliases[i].alias, end - s) == 0)
        return cron_parse(aliases[i].expr, out, e);
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "unknown cron alias \"%.*s\" (known: @yearly, @annually, @monthly, @weekly, @daily, "
                        "@midnight, @hourly)",
                        (int)(end - s > 40 ? 40 : end - s), s);
  }
  const char *fs[6], *fe[6];
  int n = 0;
  for (const char *p = s; p < end;) {
    while (p < end && isspace((unsigned char)*p)) p++;
    if (p == end) break;
    const char *q = p;
    while (q < end && !isspace((unsigned char)*q)) q++;
    if (n < 6) {
      fs[n] = p;
      fe[n] = q;
    }
    n++;
    p = q;
  }
  if (n != 5)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "cron expression \"%.*s\" must have 5 fields (minute hour day-of-month month "
                        "day-of-week), not %d",
                        (int)(end - s > 80 ? 80 : end - s), s, n);
  uint64_t bits[5];
  for (int i = 0; i < 5; i++) {
    int rc = parse_field(i, fs[i], fe[i], &bits[i], e);
    if (rc) {
      memset(out, 0, sizeof *out);
      return rc;
    }
  }
  struct cron c = {0};
  c.minute = bits[0];
  c.hour = (uint32_t)bits[1];
  c.dom = (uint32_t)bits[2];
  c.month = (uint16_t)bits[3];
  c.dow = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f);
  c.dom_star = *fs[2] == '*';
  c.dow_star = *fs[4] == '*';
  if (c.dom_star || c.dow_star) {
    /* Both fields must match: some chosen day must exist in some chosen month (Feb 29 counts). */
    bool ok = false;
    int first = 0;
    for (int d = 31; d >= 1; d--)
      if (c.dom >> d & 1) first = d;
    for (int m = 1; m <= 12 && !ok; m++)
      if (c.month >> m & 1 && first <= days_in_month(2000, m)) ok = true;
    if (!ok)
      return oast_err_set(e, OAST_EBAD_REQUEST,
                          "cron field 3 (day-of-month): day %d never occurs in the months of field 4 (month), "
                          "so \"%.*s\" would never fire",
                          first, (int)(end - s > 80 ? 80 : end - s), s);
  }
  *out = c;
  return 0;
}

/* ---- calendar ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (the well-known era/day-of-era formulas). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

struct tmin {
  int64_t y;
  int mo, d, h, mi;
};

static void split(int64_t t, struct tmin *x) {
  int64_t days = t / 86400, rem = t % 86400;
  civil_from_days(days, &x->y, &x->mo, &x->d);
  x->h = (int)(rem / 3600);
  x->mi = (int)(rem % 3600 / 60);
}

static int64_t join(const struct tmin *x) {
  return days_from_civil(x->y, x->mo, x->d) * 86400 + x->h * 3600 + x->mi * 60;
}

static bool day_ok(const struct cron *c, const struct tmin *x) {
  int wd = (int)((days_from_civil(x->y, x->mo, x->d) % 7 + 11) % 7);  /* 1970-01-01 was a Thursday */
  bool dm = c->dom >> x->d & 1, wm = c->dow >> wd & 1;
  return (c->dom_star || c->dow_star) ? (dm && wm) : (dm || wm);
}

/* The first set bit of bits met going from `from` in direction dir (+1 or -1) within [lo, hi], or -1. */
static int bit_seek(uint64_t bits, int from, int dir, int lo, int hi) {
  for (int i = from; i >= lo && i <= hi; i += dir)
    if (bits >> i & 1) return i;
  return -1;
}

/* Puts the time at the first (dir > 0) or last (dir < 0) minute of its day. */
static void day_edge(struct tmin *x, int dir) {
  x->h = dir > 0 ? 0 : 23;
  x->mi = dir > 0 ? 0 : 59;
}

/* Moves to the next (dir > 0) or previous day, at that day's edge. */
static void day_step(struct tmin *x, int dir) {
  x->d += dir;
  if (x->d < 1 || x->d > days_in_month(x->y, x->mo)) {
    x->mo += dir;
    if (x->mo < 1 || x->mo > 12) {
      x->mo = dir > 0 ? 1 : 12;
      x->y += dir;
    }
    x->d = dir > 0 ? 1 : days_in_month(x->y, x->mo);
  }
  day_edge(x, dir);
}

/*
 * The first matching minute at or after (dir > 0) or at or before (dir < 0)
 * the minute `start`. Each failed field moves to that field's next value
 * in the direction of the search and resets the smaller fields to their
 * edge, so whole months, days and hours are skipped at once.
 */
static int search(const struct cron *c, int64_t start, int dir, time_t *out) {
  struct tmin x;
  split(start, &x);
  int64_t ylimit = x.y + dir * SEARCH_YEARS;
  for (;;) {
    if (dir > 0 ? x.y > ylimit : (x.y < ylimit || x.y < 1970)) return OAST_ENOT_FOUND;
    if (!(c->month >> x.mo & 1)) {
      int m = bit_seek(c->month, x.mo + dir, dir, 1, 12);
      if (m < 0) {
        x.y += dir;
        m = bit_seek(c->month, dir > 0 ? 1 : 12, dir, 1, 12);
        if (m < 0) return OAST_ENOT_FOUND;
      }
      x.mo = m;
      x.d = dir > 0 ? 1 : days_in_month(x.y, x.mo);
      day_edge(&x, dir);
      continue;
    }
    if (!day_ok(c, &x)) {
      day_step(&x, dir);
      continue;
    }
    int h = bit_seek(c->hour, x.h, dir, 0, 23);
    if (h < 0) {
      day_step(&x, dir);
      continue;
    }
    if (h != x.h) {
      x.h = h;
      x.mi = dir > 0 ? 0 : 59;
    }
    int mi = bit_seek(c->minute, x.mi, dir, 0, 59);
    if (mi < 0) {
      x.h += dir;
      x.mi = dir > 0 ? 0 : 59;
      if (x.h < 0 || x.h > 23) day_step(&x, dir);
      continue;
    }
    x.mi = mi;
    *out = (time_t)join(&x);
    return 0;
  }
}

static bool in_range(time_t t) { return (int64_t)t >= MIN_TIME && (int64_t)t <= MAX_TIME; }

int cron_next(const struct cron *c, time_t after, time_t *next) {
  if (!in_range(after)) return OAST_EBAD_REQUEST;
  return search(c, (int64_t)after - (int64_t)after % 60 + 60, 1, next);
}

int cron_prev(const struct cron *c, time_t at, time_t *prev) {
  if (!in_range(at)) return OAST_EBAD_REQUEST;
  return search(c, (int64_t)at - (int64_t)at % 60, -1, prev);
}

int cron_due(const struct cron *c, time_t last, time_t now, time_t *due) {
  time_t p;
  if (now <= last || cron_prev(c, now, &p) != 0 || p <= last) return 0;
  *due = p;
  return 1;
}
