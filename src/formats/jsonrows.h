/*
 * jsonrows.h — rows as JSON: newline-delimited objects (NDJSON) or one
 * array of objects, read into and written from struct table.
 *
 * Reading follows the CSV reader's rules (csv.h): keys are matched to the
 * schema by name, an unknown key is an error, an absent key or a JSON null
 * is null (an error for a required column). Each value must have the JSON
 * type of its column: integers for int and bigint (3.0 is accepted, 3.5
 * is not), numbers for float and double, strings for string, true/false
 * for boolean, a string as timestamp_parse reads it or an integer of epoch
 * milliseconds for timestamp, a "YYYY-MM-DD" string for date.
 *
 * Errors are OAST_EBAD_REQUEST, except OAST_ETOO_LARGE for input over the
 * cap, and name the row: rows count objects from 1; NDJSON also gives the
 * line ("row 3 (line 4), column \"price\": expected a number, got a
 * string"); blank NDJSON lines are skipped and are not rows.
 *
 * NDJSON is streamed: feed chunks, take batches, as with csv_reader; only
 * one line is held at a time, capped by max_bytes. An array is held whole
 * (capped by max_bytes) and parsed at jsonrows_finish.
 *
 * Writing: one object per row with the columns in table order; null and
 * non-finite floating values as null, timestamps and dates as their
 * ISO-8601 strings.
 */
#ifndef FORMATS_JSONROWS_H
#define FORMATS_JSONROWS_H

#include <jansson.h>
#include <stddef.h>

#include "formats/rows.h"
#include "formats/table.h"
#include "oast/error.h"
#include "util/buf.h"

enum jsonrows_format { JSONROWS_NDJSON, JSONROWS_ARRAY };

#define JSONROWS_MAX_DEFAULT (64u << 20)

struct jsonrows_reader;

/* max_bytes: NDJSON: longest line; array: whole input (0: JSONROWS_MAX_DEFAULT).
 * The schema is copied. Free with jsonrows_reader_free. */
struct jsonrows_reader *jsonrows_reader_new(const struct rows_schema *schema, enum jsonrows_format f,
                                            size_t max_bytes);
void jsonrows_reader_free(struct jsonrows_reader *r);
/* 0, OAST_EBAD_REQUEST or OAST_ETOO_LARGE; after an error the reader repeats it. */
int jsonrows_feed(struct jsonrows_reader *r, const char *data, size_t n, oast_err *e);
/* End of input: the last NDJSON line without a line end, or the whole array. */
int jsonrows_finish(struct jsonrows_reader *r, oast_err *e);
size_t jsonrows_batch_rows(const struct jsonrows_reader *r);
size_t jsonrows_total_rows(const struct jsonrows_reader *r);
/* Moves the current batch into *out (caller releases) and starts an empty one. */
void jsonrows_take(struct jsonrows_reader *r, struct table *out);

/* Reads a whole text into *out (caller releases); on failure *out is empty. */
int jsonrows_read(const char *data, size_t n, enum jsonrows_format f, const struct rows_schema *schema,
                  struct table *out, oast_err *e);

/* Appends the JSON value v (not null) to c by the reading rules above; on a
 * mismatch appends nothing, writes the reason ("expected a number, got a
 * string") into why and returns -1. */
int jsonrows_append_value(struct column *c, json_t *v, char *why, size_t whylen);

/* Appends row i of t as one JSON object (no line end). 0 or OAST_ETOO_LARGE. */
int jsonrows_write_row(const struct table *t, size_t i, struct buf *out);
/* Rows [from, to) as the objects of a JSON array, comma-separated, with a
 * comma before the first unless from is 0: the pieces of one array written
 * in batches. 0 or OAST_ETOO_LARGE. */
int jsonrows_write_list(const struct table *t, size_t from, size_t to, struct buf *out);
/* Appends rows [from, to): an array "[{..},{..}]" or NDJSON lines each ended
 * by LF. 0 or OAST_ETOO_LARGE. */
int jsonrows_write(const struct table *t, size_t from, size_t to, enum jsonrows_format f, struct buf *out);

#endif
