/*
 * csv.h — a strict RFC 4180 CSV reader and writer over struct table.
 *
 * Reading. Input is fed in chunks of any size (a byte at a time works) and
 * parsed into a batch table of a given schema; the caller takes the batch
 * whenever it likes (say every 64k rows), so a file of many gigabytes is
 * read with memory bounded by one batch plus one record. The first record
 * is the header: its names are matched to the schema by name, in any
 * order. Columns of the schema that the header lacks are null in every
 * row, unless they are required, which is an error.
 *
 * Fields: an empty unquoted field is null; a quoted empty field ("") is
 * the empty string in a string column and null in others. Inside quotes,
 * "" is one quote, and commas, line feeds and carriage returns are data.
 * Records end with LF or CRLF. Blank lines at the very end are ignored.
 *
 * Numbering in errors: "row N" counts data records from 1 (the header is
 * not a row); "line L" is the physical line, from 1, where the record
 * starts (the header is line 1, so row 1 is line 2 unless quoted fields
 * span lines). Every error is OAST_EBAD_REQUEST and names both, and the
 * column where there is one: `row 17 (line 18), column "age": "abc" is not
 * an int`. After an error the reader only repeats it.
 *
 * Writing. A table becomes a header line and one line per row, ended by
 * LF: null as an empty field, the empty string as "", fields holding a
 * comma, quote, CR or LF quoted with inner quotes doubled, numbers as
 * rows_format_cell prints them, timestamps ISO-8601 in UTC.
 */
#ifndef FORMATS_CSV_H
#define FORMATS_CSV_H

#include <stddef.h>

#include "formats/rows.h"
#include "formats/table.h"
#include "oast/error.h"
#include "util/buf.h"

/* Default cap on the bytes of one record that spans fed chunks. */
#define CSV_MAX_RECORD_DEFAULT (16u << 20)

struct csv_reader;

/* A reader for the schema (copied). max_record caps one record that is
 * split across chunks (0: CSV_MAX_RECORD_DEFAULT). Free with csv_reader_free. */
struct csv_reader *csv_reader_new(const struct rows_schema *schema, size_t max_record);
void csv_reader_free(struct csv_reader *r);
/* Parses the complete records in data[0..n) (and keeps an incomplete last
 * one for the next call). 0 or OAST_EBAD_REQUEST. */
int csv_feed(struct csv_reader *r, const char *data, size_t n, oast_err *e);
/* End of input: parses the last record (which may lack its line end) and
 * checks that there was a header. 0 or OAST_EBAD_REQUEST. */
int csv_finish(struct csv_reader *r, oast_err *e);
/* Rows in the current batch. */
size_t csv_batch_rows(const struct csv_reader *r);
/* Data rows parsed so far, in all batches. */
size_t csv_total_rows(const struct csv_reader *r);
/* Moves the current batch into *out (an uninitialised table the caller
 * then owns and releases with table_release) and starts an empty one. */
void csv_take(struct csv_reader *r, struct table *out);

/* Reads a whole CSV text into *out (caller releases). On failure *out is
 * left empty (no columns) and nothing needs releasing. */
int csv_read(const char *data, size_t n, const struct rows_schema *schema, struct table *out, oast_err *e);

/* Appends the header line of t to out. 0 or OAST_ETOO_LARGE (out's cap). */
int csv_write_header(const struct table *t, struct buf *out);
/* Appends rows [from, to) of t. 0 or OAST_ETOO_LARGE. */
int csv_write_rows(const struct table *t, size_t from, size_t to, struct buf *out);
/* Header and all rows. 0 or OAST_ETOO_LARGE. */
int csv_write(const struct table *t, struct buf *out);

#endif
