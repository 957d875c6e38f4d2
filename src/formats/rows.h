/*
 * rows.h — what the text-based row codecs (CSV, NDJSON, JSON arrays)
 * share: the schema a reader fills, the parsing of one text value into a
 * typed column, UTF-8 checking, quoting of bad input for error messages,
 * and the text and JSON forms of one stored value.
 *
 * Keeping these in one place makes every reader accept the same spellings
 * ("true"/"0", ISO-8601 or epoch-millisecond timestamps, "NaN"/"inf") and
 * word its errors the same way, and makes every writer print numbers the
 * same way: integers exactly, floating point values in the shortest
 * decimal form that reads back to the same bits.
 */
#ifndef FORMATS_ROWS_H
#define FORMATS_ROWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/table.h"

/* The columns a reader produces, in this order. Borrowed: the arrays must
 * outlive the reader that uses the schema (readers copy what they keep). */
struct rows_schema {
  size_t ncols;
  const char *const *names;
  const enum ftype *types;
  const bool *required;   /* ncols flags or NULL; a required column must be in
                             the input and must not be null in any row */
};

/* Initialises t as an empty table with the columns of proto (names and
 * types, no rows); t is the caller's to release. */
void rows_table_like(struct table *t, const struct table *proto);

/* Longest text form of a non-string value (rows_format_cell), NUL included. */
#define ROWS_CELL_MAX 40

/*
 * Parses s[0..n) (n > 0, not NUL-terminated) as a value of c's type and
 * appends it to c. Spellings: int/bigint: optional sign and decimal digits;
 * float/double: decimal with optional exponent, or nan/inf/infinity in any
 * case; boolean: true/false/1/0 in any case; timestamp/date: as
 * timestamp_parse/date_parse; string: any valid UTF-8. On failure appends
 * nothing, writes the reason (`"abc" is not an int`) into why and returns -1.
 */
int rows_parse_cell(struct column *c, const char *s, size_t n, char *why, size_t whylen);

/* The offset of the first byte of s[0..n) that is not valid UTF-8
 * (overlong forms, surrogates and code points above U+10FFFF are invalid),
 * or n when all of it is valid. */
size_t rows_utf8_check(const char *s, size_t n);

/* The length (1 to 4) of the valid UTF-8 character at s[0..n), n > 0, or 0
 * when the bytes there are not one. */
size_t rows_utf8_seq(const char *s, size_t n);

/* Writes s[0..n) into out as a double-quoted, printable excerpt for an error
 * message: control and non-UTF-8 bytes become \xNN, long values are cut at
 * 40 bytes with "...". out must hold 200 bytes. */
void rows_quote(const char *s, size_t n, char *out, size_t outlen);

/* Text forms of stored values. A rows_fmt caches the text of recent dates
 * (direct-mapped by day) so a column of timestamps costs no printf per row;
 * one per writer, on the stack. */
#define ROWS_FMT_DAYS 1024
struct rows_fmt {
  int64_t day[ROWS_FMT_DAYS];      /* days since the epoch, or INT64_MIN */
  char date[ROWS_FMT_DAYS][16];    /* "YYYY-MM-DD" of day[k] */
  uint8_t len[ROWS_FMT_DAYS];
};
void rows_fmt_init(struct rows_fmt *f);
/* The text of row i of c (not null, not a string) into out[ROWS_CELL_MAX];
 * returns its length. Integers in decimal, floats and doubles in the
 * shortest form that reads back exactly ("NaN", "inf", "-inf" for the
 * non-finite), booleans "true"/"false", timestamps as timestamp_format,
 * dates "YYYY-MM-DD". */
size_t rows_format_cell(struct rows_fmt *f, const struct column *c, size_t i, char *out);
/* Shortest round-trip text of a double (finite or not); out[ROWS_CELL_MAX]. */
size_t rows_format_double(double v, char *out);

/* Row i of c as a new JSON value (caller owns the reference): null, an
 * integer, a real (null when not finite), a boolean, or a string (strings,
 * and timestamps and dates in their text forms). */
json_t *rows_cell_json(const struct column *c, size_t i);

#endif
