/* test_cron.c — cron parsing, errors, next/previous fire times and the catch-up rule. */
#define _GNU_SOURCE
#include <stdint.h>
#include <time.h>

#include "jobs/cron.h"
#include "test.h"

/* "YYYY-MM-DD HH:MM[:SS]" in UTC, through libc (independent of cron.c's calendar code). */
static time_t T(const char *s) {
  struct tm tm = {0};
  int sec = 0;
  int n = sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &sec);
  if (n < 5) {
    fprintf(stderr, "bad test time %s\n", s);
    exit(2);
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  tm.tm_sec = sec;
  return timegm(&tm);
}

static const char *show(time_t t, char *buf) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

typedef int (*search_fn)(const struct cron *, time_t, time_t *);

static void check(search_fn fn, const char *what, const char *expr, const char *from, const char *want, int line) {
  struct cron c;
  oast_err e;
  if (cron_parse(expr, &c, &e)) {
    fprintf(stderr, "line %d: %s: %s\n", line, expr, e.msg);
    exit(1);
  }
  time_t got = 0;
  int rc = fn(&c, T(from), &got);
  char b1[32], b2[32];
  if (rc || got != T(want)) {
    fprintf(stderr, "line %d: %s(\"%s\", %s) = %s (rc %d), want %s\n", line, what, expr, from, show(got, b1), rc,
            show(T(want), b2));
    exit(1);
  }
}
#define NEXT(expr, after, want) check(cron_next, "next", expr, after, want, __LINE__)
#define PREV(expr, at, want) check(cron_prev, "prev", expr, at, want, __LINE__)

static void check_bad(const char *expr, const char *want_msg, int line) {
  struct cron c;
  oast_err e;
  oast_err_clear(&e);
  int rc = cron_parse(expr, &c, &e);
  if (rc != OAST_EBAD_REQUEST || !strstr(e.msg, want_msg)) {
    fprintf(stderr, "line %d: parse(\"%s\") rc %d msg \"%s\", want a 400 containing \"%s\"\n", line,
            expr ? expr : "(null)", rc, e.msg, want_msg);
    exit(1);
  }
}
#define BAD(expr, msg) check_bad(expr, msg, __LINE__)

TEST(cron_next_steps_and_minutes) {
  NEXT("*/15 * * * *", "2024-01-01 00:00", "2024-01-01 00:15");
  NEXT("*/15 * * * *", "2024-01-01 00:14:59", "2024-01-01 00:15");
  NEXT("*/15 * * * *", "2023-12-31 23:50", "2024-01-01 00:00");
  NEXT("* * * * *", "2024-05-05 10:00", "2024-05-05 10:01");
  NEXT("* * * * *", "2024-05-05 10:00:30", "2024-05-05 10:01");
  NEXT("10/20 * * * *", "2024-01-01 00:31", "2024-01-01 00:50");
  NEXT("10/20 * * * *", "2024-01-01 00:50", "2024-01-01 01:10");
  NEXT("0 */6 * * *", "2024-01-01 18:00", "2024-01-02 00:00");
  NEXT("0 8-18/4 * * *", "2024-01-01 12:00", "2024-01-01 16:00");
  NEXT("0 8-18/4 * * *", "2024-01-01 16:00", "2024-01-02 08:00");
}

TEST(cron_next_lists_and_ranges) {
  NEXT("5,10-12,40-50/5 3 * * *", "2024-01-01 03:11", "2024-01-01 03:12");
  NEXT("5,10-12,40-50/5 3 * * *", "2024-01-01 03:12", "2024-01-01 03:40");
  NEXT("5,10-12,40-50/5 3 * * *", "2024-01-01 03:45", "2024-01-01 03:50");
  NEXT("5,10-12,40-50/5 3 * * *", "2024-01-01 03:50", "2024-01-02 03:05");
  NEXT("0 0 1 jan,Jul *", "2024-02-01 00:00", "2024-07-01 00:00");
  NEXT("0 0 1 JAN-MAR/2 *", "2024-01-01 00:00", "2024-03-01 00:00");
  NEXT("0 0 1 JAN-MAR/2 *", "2024-03-01 00:00", "2025-01-01 00:00");
}

TEST(cron_next_month_and_year_rollover) {
  NEXT("0 0 31 * *", "2024-01-31 00:00", "2024-03-31 00:00");  /* February has no 31st */
  NEXT("0 0 31 * *", "2024-03-31 00:00", "2024-05-31 00:00");
  NEXT("59 23 31 12 *", "2024-12-31 23:59", "2025-12-31 23:59");
  NEXT("0 0 1 1 *", "2023-06-15 12:00", "2024-01-01 00:00");
  NEXT("@yearly", "2023-12-31 23:59:59", "2024-01-01 00:00");
  NEXT("@monthly", "2024-02-29 12:00", "2024-03-01 00:00");
  NEXT("@daily", "2024-02-28 00:00", "2024-02-29 00:00");
  NEXT("@hourly", "2024-02-28 10:00", "2024-02-28 11:00");
  NEXT("@weekly", "2024-10-12 00:00", "2024-10-13 00:00");   /* a Saturday, then Sunday */
  NEXT("@MIDNIGHT", "2024-10-12 00:00", "2024-10-13 00:00");
}

TEST(cron_next_leap_years) {
  NEXT("30 2 29 2 *", "2021-03-01 00:00", "2024-02-29 02:30");
  NEXT("30 2 29 2 *", "2024-02-29 02:30", "2028-02-29 02:30");
  NEXT("30 2 29 2 *", "2096-03-01 00:00", "2104-02-29 02:30");  /* 2100 is not a leap year */
  NEXT("0 0 29 2 *", "1999-01-01 00:00", "2000-02-29 00:00");   /* 2000 is */
  NEXT("0 12 28 2 *", "2023-02-28 12:00", "2024-02-28 12:00");
}

TEST(cron_next_weekdays_and_dom_dow_or_rule) {
  /* 2024-06-01 was a Saturday. */
  NEXT("0 12 * * MON-FRI", "2024-06-01 10:00", "2024-06-03 12:00");
  NEXT("0 12 * * 1-5", "2024-06-07 12:00", "2024-06-10 12:00");
  NEXT("0 0 * * 7", "2024-10-12 00:00", "2024-10-13 00:00");   /* 7 is Sunday */
  NEXT("0 0 * * sun", "2024-10-12 00:00", "2024-10-13 00:00");
  NEXT("0 0 * * 5-7", "2024-10-13 00:00", "2024-10-18 00:00");  /* Fri..Sun */
  /* Both restricted: the 13th OR a Friday. Sunday 2024-10-13 matches as the 13th. */
  NEXT("0 0 13 * FRI", "2024-10-12 00:00", "2024-10-13 00:00");
  NEXT("0 0 13 * FRI", "2024-10-13 00:00", "2024-10-18 00:00");
  /* A '*'-prefixed day-of-month keeps AND: odd days that are Mondays. */
  NEXT("0 0 */2 * 1", "2024-10-01 00:00", "2024-10-07 00:00");
  NEXT("0 0 */2 * 1", "2024-10-07 00:00", "2024-10-21 00:00");
  /* Day 30 of February never comes, but Mondays of February do (OR). */
  NEXT("0 0 30 2 MON", "2024-01-01 00:00", "2024-02-05 00:00");
}

TEST(cron_prev_and_due) {
  PREV("0 0 13 * FRI", "2024-10-12 23:59", "2024-10-11 00:00");
  PREV("30 2 29 2 *", "2100-12-31 00:00", "2096-02-29 02:30");
  PREV("*/15 * * * *", "2024-01-01 00:15", "2024-01-01 00:15");  /* the minute itself counts */
  PREV("*/15 * * * *", "2024-01-01 00:14:59", "2024-01-01 00:00");
  PREV("0 0 1 1 *", "2024-01-01 00:00:59", "2024-01-01 00:00");
  PREV("59 23 31 12 *", "2024-06-01 00:00", "2023-12-31 23:59");

  struct cron c;
  oast_err e;
  ASSERT_EQ(cron_parse("0 * * * *", &c, &e), 0);
  time_t due = 0;
  ASSERT_EQ(cron_due(&c, T("2024-01-01 10:00"), T("2024-01-01 10:59:59"), &due), 0);
  ASSERT_EQ(cron_due(&c, T("2024-01-01 10:00"), T("2024-01-01 11:00"), &due), 1);
  ASSERT_EQ(due, T("2024-01-01 11:00"));
  /* After moving the watermark to the fire, the same minute never fires again. */
  ASSERT_EQ(cron_due(&c, due, T("2024-01-01 11:00:30"), &due), 0);
  ASSERT_EQ(cron_due(&c, T("2024-01-01 11:00"), T("2024-01-01 11:59:59"), &due), 0);
  /* Down from 10:00 to 15:30: fires once, for 15:00, then waits for 16:00. */
  ASSERT_EQ(cron_due(&c, T("2024-01-01 10:00"), T("2024-01-01 15:30"), &due), 1);
  ASSERT_EQ(due, T("2024-01-01 15:00"));
  ASSERT_EQ(cron_due(&c, due, T("2024-01-01 15:45"), &due), 0);
  /* A schedule created mid-minute does not fire for that minute. */
  ASSERT_EQ(cron_due(&c, T("2024-01-01 16:00:20"), T("2024-01-01 16:00:40"), &due), 0);
  /* Clock going backwards: nothing. */
  ASSERT_EQ(cron_due(&c, T("2024-01-01 17:00"), T("2024-01-01 16:00"), &due), 0);
}

TEST(cron_bad_expressions_name_field_and_token) {
  struct cron c;
  oast_err e;
  ASSERT_EQ(cron_parse("* 24 * * *", &c, &e), OAST_EBAD_REQUEST);
  ASSERT_STREQ(e.msg, "cron field 2 (hour): 24 is out of range 0-23");
  BAD("60 * * * *", "cron field 1 (minute): 60 is out of range 0-59");
  BAD("* * 0 * *", "cron field 3 (day-of-month): 0 is out of range 1-31");
  BAD("* * 32 * *", "cron field 3 (day-of-month): 32 is out of range 1-31");
  BAD("* * * 13 *", "cron field 4 (month): 13 is out of range 1-12");
  BAD("* * * FOO *", "cron field 4 (month): \"FOO\" is not a number or a month name");
  BAD("* * * JANUARY *", "cron field 4 (month): \"JANUARY\"");
  BAD("* * * * 8", "cron field 5 (day-of-week): 8 is out of range 0-7");
  BAD("* * * * FUN", "cron field 5 (day-of-week): \"FUN\" is not a number or a weekday name");
  BAD("a * * * *", "cron field 1 (minute): \"a\" is not a number");
  BAD("*/0 * * * *", "cron field 1 (minute): step 0 is out of range 1-60");
  BAD("*/x * * * *", "cron field 1 (minute): step in \"*/x\" is not a number");
  BAD("5-2 * * * *", "cron field 1 (minute): range \"5-2\" runs backwards");
  BAD("1,,2 * * * *", "cron field 1 (minute): empty list item");
  BAD("1, * * * *", "cron field 1 (minute): empty list item");
  BAD("1-2-3 * * * *", "cron field 1 (minute): unexpected \"-3\"");
  BAD("-5 * * * *", "cron field 1 (minute): \"-5\" is not a number");
  BAD("* * * *", "must have 5 fields (minute hour day-of-month month day-of-week), not 4");
  BAD("* * * * * *", "not 6");
  BAD("", "not 0");
  BAD("@every", "unknown cron alias \"@every\"");
  BAD("@reboot", "unknown cron alias \"@reboot\"");
  BAD("0 0 30 2 *", "day 30 never occurs in the months of field 4");
  BAD("0 0 31 4,6,9,11 *", "day 31 never occurs");
  BAD(NULL, "missing");
  char longexpr[400];
  memset(longexpr, '1', sizeof longexpr - 1);
  longexpr[sizeof longexpr - 1] = '\0';
  BAD(longexpr, "longer than 256");
  /* A failed parse leaves nothing usable behind. */
  ASSERT_EQ(cron_parse("* 24 * * *", &c, &e), OAST_EBAD_REQUEST);
  ASSERT_EQ(c.minute, 0);
  /* Whitespace around and between fields is fine. */
  ASSERT_EQ(cron_parse("  0\t0  1 * *\n", &c, &e), 0);
}

TEST(cron_impossible_struct_terminates) {
  /* cron_parse refuses this; a hand-built struct must still end the search. */
  struct cron c = {0};
  c.minute = 1;
  c.hour = 1;
  c.dom = 1u << 30;
  c.month = 1u << 2;
  c.dow = 0x7f;
  c.dow_star = true;
  time_t t = 0;
  ASSERT_EQ(cron_next(&c, T("2024-01-01 00:00"), &t), OAST_ENOT_FOUND);
  ASSERT_EQ(cron_prev(&c, T("2024-01-01 00:00"), &t), OAST_ENOT_FOUND);
  struct cron ok;
  oast_err e;
  ASSERT_EQ(cron_parse("* * * * *", &ok, &e), 0);
  ASSERT_EQ(cron_next(&ok, -5, &t), OAST_EBAD_REQUEST);
  ASSERT_EQ(cron_next(&ok, (time_t)253402300800LL, &t), OAST_EBAD_REQUEST);
  ASSERT_EQ(cron_next(&ok, T("9999-12-31 23:58"), &t), 0);
  ASSERT_EQ(t, T("9999-12-31 23:59"));
}

/* ---- cross-check against a minute-by-minute search through libc's gmtime ---- */

static uint64_t rng = 88172645463325252ULL;
static unsigned rnd(unsigned n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng % n);
}

static void random_field(char *out, size_t cap, int lo, int hi) {
  switch (rnd(6)) {
    case 0: snprintf(out, cap, "*"); break;
    case 1: snprintf(out, cap, "*/%d", 1 + rnd(hi - lo + 1)); break;
    case 2: snprintf(out, cap, "%d", lo + rnd(hi - lo + 1)); break;
    case 3: {
      int a = lo + rnd(hi - lo + 1), b = a + rnd(hi - a + 1);
      snprintf(out, cap, "%d-%d/%d", a, b, 1 + rnd(4));
      break;
    }
    case 4: snprintf(out, cap, "%d,%d", lo + rnd(hi - lo + 1), lo + rnd(hi - lo + 1)); break;
    default: snprintf(out, cap, "%d/%d", lo + rnd(hi - lo + 1), 1 + rnd(10)); break;
  }
}

static bool brute_match(const struct cron *c, time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  bool dm = c->dom >> tm.tm_mday & 1, wm = c->dow >> tm.tm_wday & 1;
  bool day = (c->dom_star || c->dow_star) ? (dm && wm) : (dm || wm);
  return (c->minute >> tm.tm_min & 1) && (c->hour >> tm.tm_hour & 1) && (c->month >> (tm.tm_mon + 1) & 1) && day;
}

TEST(cron_next_matches_brute_force) {
  const time_t base = T("2020-01-01 00:00"), window = 45 * 86400;
  int checked = 0;
  for (int k = 0; k < 150; k++) {
    char f[5][32], expr[200];
    random_field(f[0], 32, 0, 59);
    random_field(f[1], 32, 0, 23);
    random_field(f[2], 32, 1, 31);
    if (rnd(2)) snprintf(f[3], 32, "*");
    else random_field(f[3], 32, 1, 12);
    random_field(f[4], 32, 0, 7);
    snprintf(expr, sizeof expr, "%s %s %s %s %s", f[0], f[1], f[2], f[3], f[4]);
    struct cron c;
    oast_err e;
    if (cron_parse(expr, &c, &e)) continue;  /* e.g. day 31 in February only */
    time_t after = base + (time_t)rnd(10 * 365) * 86400 + (time_t)rnd(86400);
    time_t want = 0;
    for (time_t t = after - after % 60 + 60; t <= after + window; t += 60)
      if (brute_match(&c, t)) {
        want = t;
        break;
      }
    time_t got = 0, back = 0;
    ASSERT_EQ(cron_next(&c, after, &got), 0);
    if (want) {
      if (got != want) {
        char b1[32], b2[32], b3[32];
        fprintf(stderr, "\"%s\" after %s: got %s, want %s\n", expr, show(after, b3), show(got, b1), show(want, b2));
        exit(1);
      }
      ASSERT_EQ(cron_prev(&c, got, &back), 0);
      ASSERT_EQ(back, got);
      ASSERT_EQ(cron_prev(&c, got - 1, &back), 0);
      ASSERT(back <= after);
      ASSERT(brute_match(&c, back));
      checked++;
    } else {
      ASSERT(got > after + window);
      ASSERT(brute_match(&c, got));
    }
    /* The same backwards: the latest matching minute at or before `after`. */
    time_t want_prev = 0, got_prev = 0;
    for (time_t t = after - after % 60; t >= after - window; t -= 60)
      if (brute_match(&c, t)) {
        want_prev = t;
        break;
      }
    ASSERT_EQ(cron_prev(&c, after, &got_prev), 0);
    if (want_prev) ASSERT_EQ(got_prev, want_prev);
    else ASSERT(got_prev < after - window && brute_match(&c, got_prev));
  }
  ASSERT(checked > 50);
}
