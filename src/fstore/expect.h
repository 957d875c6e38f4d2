/*
 * expect.h — data validation: a suite of expectations on the columns of
 * a feature group, checked against each batch of data before it is
 * written.
 *
 * A suite is {"policy": "always" | "strict", "rules": [{"column", "rule",
 * ...}]} (policy defaults to "always": insert and report; "strict": the
 * caller refuses the insert when any rule fails). Rules:
 *   not_null                        no nulls
 *   unique                          no value twice (nulls ignored)
 *   min {"value"}, max {"value"}    every value >= / <= the bound
 *   between {"min"?, "max"?}        both bounds inclusive, at least one given
 *   in_set {"values": [..]}         every value is one of these (<= 10000)
 *   regex {"pattern"}               POSIX extended regex found in every value
 *                                   (unanchored; use ^...$), strings only,
 *                                   at most 1024 bytes, no back-references
 *   mean_between {"min"?, "max"?}   the mean of the column (numeric/boolean)
 *   completeness_at_least {"value"} fraction of non-null rows, 0..1
 * Nulls pass every rule but not_null and completeness_at_least. Bounds are
 * JSON numbers for numeric columns and ISO-8601 strings (or epoch
 * milliseconds) for timestamp and date columns; NaN never satisfies a
 * bound. Bounds are compared as doubles (bigints beyond 2^53 are rounded).
 *
 * Every mistake in a suite is OAST_EBAD_REQUEST naming the rule by its
 * index in "rules" (from 0) and the field: `rules[2].value: expected a
 * number, got a string`, `rules[0].column: no column "agee"`.
 */
#ifndef FSTORE_EXPECT_H
#define FSTORE_EXPECT_H

#include <jansson.h>
#include <stdbool.h>

#include "formats/table.h"
#include "oast/error.h"

#define EXPECT_MAX_RULES 1000
#define EXPECT_MAX_SET 10000
#define EXPECT_MAX_PATTERN 1024
#define EXPECT_EXAMPLES 5

enum expect_policy { EXPECT_ALWAYS, EXPECT_STRICT };

struct expect_suite;

/* Checks and compiles suite j against the columns of schema (names and
 * types; its rows are not read). *out is the caller's (expect_suite_free). */
int expect_parse(const json_t *j, const struct table *schema, struct expect_suite **out, oast_err *e);
void expect_suite_free(struct expect_suite *s);
enum expect_policy expect_suite_policy(const struct expect_suite *s);

/* Runs every rule on t and returns the report (a new reference):
 * {"success": bool, "results": [{"rule", "column", "success", "observed"?,
 *  "unexpected_count", "unexpected_examples"?: [{"row", "value"?}]}]}
 * Rows are numbered from 1; examples are the first EXPECT_EXAMPLES failing
 * rows. "observed" is the actual min (min), max (max), {"min","max"}
 * (between), number of distinct values (unique), mean (mean_between) or
 * completeness (completeness_at_least). *success (may be NULL) gets the
 * overall verdict. */
json_t *expect_run(const struct expect_suite *s, const struct table *t, bool *success);

#endif
