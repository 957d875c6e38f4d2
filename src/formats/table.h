/*
 * table.h — a typed, columnar in-memory batch of rows: the one shape that
 * every codec (CSV, JSON, Parquet, TFRecord, npy, HDF5), the statistics
 * and the validation code read and write, so no module converts between
 * private row formats.
 *
 * Each column holds one feature type. Storage per type:
 *   int        int32        bigint     int64
 *   float      float        double     double
 *   boolean    uint8 (0/1)  string     offsets + bytes (UTF-8)
 *   timestamp  int64, microseconds since 1970-01-01T00:00:00Z
 *   date       int32, days since 1970-01-01
 * Nulls: valid[i] is 0 for a null row (its value slot holds 0 / "").
 * Columns grow by appending; all columns of a table have nrows rows once
 * a row is complete (table_check verifies it).
 */
#ifndef FORMATS_TABLE_H
#define FORMATS_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oast/error.h"

enum ftype { FT_INT, FT_BIGINT, FT_FLOAT, FT_DOUBLE, FT_STRING, FT_BOOLEAN, FT_TIMESTAMP, FT_DATE, FT__COUNT };

/* "int", "bigint", ... ; -1 for an unknown name. */
int ftype_from_name(const char *s);
const char *ftype_name(enum ftype t);
/* Bytes per value for fixed-width types, 0 for strings. */
size_t ftype_width(enum ftype t);

struct column {
  char *name;              /* owned */
  enum ftype type;
  size_t len, cap;         /* rows */
  uint8_t *valid;          /* cap bytes, 1 = present */
  void *vals;              /* cap * width bytes (fixed-width types) */
  uint64_t *offs;          /* strings: cap + 1 offsets into sdata */
  char *sdata;             /* strings: concatenated bytes (not NUL-separated) */
  size_t sdata_len, sdata_cap;
};

struct table {
  struct column *cols;     /* owned array of ncols */
  size_t ncols;
  size_t nrows;            /* rows in every column */
};

void column_init(struct column *c, const char *name, enum ftype type);
void column_release(struct column *c);
void column_reserve(struct column *c, size_t rows);
void column_append_null(struct column *c);
void column_append_i32(struct column *c, int32_t v);   /* int, date */
void column_append_i64(struct column *c, int64_t v);   /* bigint, timestamp */
void column_append_f32(struct column *c, float v);
void column_append_f64(struct column *c, double v);
void column_append_bool(struct column *c, bool v);
void column_append_str(struct column *c, const char *s, size_t n);
/* Appends row i of src (same type) to dst. */
void column_append_from(struct column *dst, const struct column *src, size_t i);

static inline bool column_is_null(const struct column *c, size_t i) { return !c->valid[i]; }
static inline int32_t column_i32(const struct column *c, size_t i) { return ((const int32_t *)c->vals)[i]; }
static inline int64_t column_i64(const struct column *c, size_t i) { return ((const int64_t *)c->vals)[i]; }
static inline float column_f32(const struct column *c, size_t i) { return ((const float *)c->vals)[i]; }
static inline double column_f64(const struct column *c, size_t i) { return ((const double *)c->vals)[i]; }
static inline bool column_bool(const struct column *c, size_t i) { return ((const uint8_t *)c->vals)[i] != 0; }
static inline const char *column_str(const struct column *c, size_t i, size_t *n) {
  *n = (size_t)(c->offs[i + 1] - c->offs[i]);
  return c->sdata + c->offs[i];
}
/* Any numeric type as a double (ints, floats, boolean, timestamp, date). */
double column_num(const struct column *c, size_t i);

/* A table with the given column names and types, no rows. */
void table_init(struct table *t, size_t ncols, const char *const *names, const enum ftype *types);
void table_release(struct table *t);
/* Index of the column named name, -1 if none. */
int table_find(const struct table *t, const char *name);
/* Sets nrows from the columns; an internal error if they disagree. */
int table_check(struct table *t, oast_err *e);

/* Text forms used by CSV/JSON output and error messages. */
/* ISO-8601 "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" into out (>= 32 bytes). */
void timestamp_format(int64_t micros, char *out, size_t n);
/* Accepts "YYYY-MM-DD", "YYYY-MM-DD HH:MM:SS", with 'T', fractional seconds,
 * and a 'Z' or +HH:MM offset; or an integer of epoch milliseconds. 0 or -1. */
int timestamp_parse(const char *s, size_t n, int64_t *micros);
void date_format(int32_t days, char *out, size_t n);   /* "YYYY-MM-DD" */
int date_parse(const char *s, size_t n, int32_t *days); /* 0 or -1 */

#endif
