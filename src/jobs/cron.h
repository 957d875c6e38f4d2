/*
 * cron.h — cron schedules: parsing and next/previous fire times, in UTC.
 *
 * An expression has the five standard fields
 *
 *     minute hour day-of-month month day-of-week
 *      0-59  0-23     1-31     1-12     0-7 (0 and 7 are Sunday)
 *
 * each a comma-separated list of items: `*` (every value), `N`, `A-B`,
 * and any of these followed by a step `/S`: `*` with a step takes every
 * S-th value from the field's minimum, `A-B/S` every S-th from A to B,
 * and `N/S` every S-th from N to the field's maximum. Months and weekdays
 * also take their English three-letter names (JAN-DEC, SUN-SAT), in any
 * case, also inside ranges (MON-FRI). The aliases @yearly (@annually),
 * @monthly, @weekly, @daily (@midnight) and @hourly stand for their usual
 * expressions. Day of month and day of week combine as in the classic
 * Unix cron daemon: when both fields are restricted (neither begins with
 * `*`) a day matches if EITHER matches ("0 0 13 * FRI" fires on every 13th
 * and every Friday); otherwise both must match (a day-of-month of `*`
 * with step 2 and a day-of-week of MON mean the odd-numbered days that
 * are Mondays).
 *
 * Schedules are evaluated in UTC, so there are no daylight-saving gaps or
 * repeated hours. cron_next and cron_prev jump field by field (a month
 * that does not match is skipped whole, then a day, then an hour), so they
 * cost at most a few hundred steps even for "Feb 29 on a Sunday"; they
 * give up after 400 years, the period of the Gregorian calendar, past
 * which nothing new can match. cron_parse already refuses expressions that
 * can never fire, such as "0 0 30 2 *".
 *
 * Firing at most once and surviving restarts is the caller's protocol,
 * built on cron_due:
 *   1. Persist, per schedule, a watermark `last`: the scheduled minute of
 *      the last fire. When a schedule is created (or changed), set it to
 *      the current time, so it does not fire for the past.
 *   2. On every tick (and once at startup), call cron_due(c, last, now,
 *      &due). It answers 1 only when a scheduled minute lies in
 *      (last, now], and then `due` is the LATEST such minute.
 *   3. In ONE transaction, record the run (tagged with `due`) and move the
 *      watermark to `due`; start the run only after the commit.
 * Because the watermark only moves forward and a minute is due only if it
 * is after the watermark, no scheduled minute fires twice, even if the
 * server is killed between ticks or the clock is read twice in a minute.
 * A server that was down over several scheduled minutes fires ONCE on
 * restart, for the latest missed minute (missed periods are coalesced, not
 * replayed), and then continues with the schedule.
 */
#ifndef JOBS_CRON_H
#define JOBS_CRON_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "oast/error.h"

/* Longest expression accepted (bytes). */
#define CRON_EXPR_MAX 256

/* A parsed schedule; plain data, no ownership. Bit i set: value i matches. */
struct cron {
  uint64_t minute;  /* bits 0-59 */
  uint32_t hour;    /* bits 0-23 */
  uint32_t dom;     /* bits 1-31 */
  uint16_t month;   /* bits 1-12 */
  uint8_t dow;      /* bits 0-6, 0 = Sunday (7 is folded into 0) */
  bool dom_star;    /* the day-of-month field began with '*' */
  bool dow_star;    /* the day-of-week field began with '*' */
};

/*
 * Parses expr into *out. On failure returns OAST_EBAD_REQUEST with a
 * message naming the field and the bad token, e.g.
 * `cron field 2 (hour): 24 is out of range 0-23`; *out is then zeroed.
 */
int cron_parse(const char *expr, struct cron *out, oast_err *e);

/*
 * The first matching minute strictly after `after` (UTC), in *next.
 * Returns 0; OAST_EBAD_REQUEST if `after` is before 1970 or after the
 * year 9999; OAST_ENOT_FOUND if nothing matches within 400 years (only
 * for a hand-built struct cron: cron_parse refuses such expressions).
 */
int cron_next(const struct cron *c, time_t after, time_t *next);

/* The last matching minute at or before `at`, in *prev. Returns as cron_next. */
int cron_prev(const struct cron *c, time_t at, time_t *prev);

/*
 * The catch-up rule (see the protocol above): 1 and *due = the latest
 * matching minute in (last, now] if there is one, else 0. Never fails:
 * times out of range answer 0.
 */
int cron_due(const struct cron *c, time_t last, time_t now, time_t *due);

#endif
