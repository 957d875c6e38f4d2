/*
 * jsonrows.c — NDJSON and JSON-array rows (see jsonrows.h).
 *
 * Parsing is jansson's: each NDJSON line, or the whole array, becomes a
 * json_t, and each object is converted into one table row by looking up
 * the schema's columns in it (jansson's objects are hash tables), so the
 * cost per row does not grow with the number of columns squared; an
 * object with more keys than were found has an unknown key, which is then
 * searched for to name it. Writing does not build json_t values at all:
 * it prints straight into the buffer, numbers through rows_format_cell so
 * that CSV and JSON show the same digits.
 */
#include "formats/jsonrows.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

struct jsonrows_reader {
  struct table proto;
  bool *required;
  struct table batch;
  enum jsonrows_format fmt;
  size_t max_bytes;
  size_t rows, rows_taken;
  size_t line;            /* NDJSON: line number of the next line */
  struct buf pend;        /* NDJSON: the unfinished line; array: everything */
  bool finished;
  oast_err err;
};

struct jsonrows_reader *jsonrows_reader_new(const struct rows_schema *s, enum jsonrows_format f,
                                            size_t max_bytes) {
  struct jsonrows_reader *r = xcalloc(1, sizeof *r);
  table_init(&r->proto, s->ncols, s->names, s->types);
  rows_table_like(&r->batch, &r->proto);
  r->required = xcalloc(s->ncols ? s->ncols : 1, sizeof *r->required);
  if (s->required) memcpy(r->required, s->required, s->ncols * sizeof *r->required);
  r->fmt = f;
  r->max_bytes = max_bytes ? max_bytes : JSONROWS_MAX_DEFAULT;
  r->line = 1;
  buf_init(&r->pend, r->max_bytes);
  return r;
}

void jsonrows_reader_free(struct jsonrows_reader *r) {
  if (!r) return;
  table_release(&r->proto);
  table_release(&r->batch);
  free(r->required);
  buf_release(&r->pend);
  free(r);
}

size_t jsonrows_batch_rows(const struct jsonrows_reader *r) { return r->rows - r->rows_taken; }
size_t jsonrows_total_rows(const struct jsonrows_reader *r) { return r->rows; }

void jsonrows_take(struct jsonrows_reader *r, struct table *out) {
  *out = r->batch;
  out->nrows = r->rows - r->rows_taken;
  r->rows_taken = r->rows;
  rows_table_like(&r->batch, &r->proto);
}

static int fail(struct jsonrows_reader *r, oast_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct jsonrows_reader *r, oast_err *e, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  r->err.code = code;
  vsnprintf(r->err.msg, sizeof r->err.msg, fmt, ap);
  va_end(ap);
  if (e) *e = r->err;
  return code;
}

static const char *json_kind(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
  }
}

int jsonrows_append_value(struct column *c, json_t *v, char *why, size_t whylen) {
  const char *expected;
  switch (c->type) {
    case FT_INT:
    case FT_BIGINT: {
      expected = "an integer";
      int64_t x;
      if (json_is_integer(v)) {
        x = json_integer_value(v);
      } else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
                 fabs(json_real_value(v)) < 9.2e18) {
        x = (int64_t)json_real_value(v);
      } else {
        break;
      }
      if (c->type == FT_INT && (x < INT32_MIN || x > INT32_MAX)) {
        snprintf(why, whylen, "%lld is out of range for an int", (long long)x);
        return -1;
      }
      if (c->type == FT_INT) column_append_i32(c, (int32_t)x);
      else column_append_i64(c, x);
      return 0;
    }
    case FT_FLOAT:
    case FT_DOUBLE: {
      expected = "a number";
      if (!json_is_number(v)) break;
      double d = json_number_value(v);
      if (c->type == FT_DOUBLE) {
        column_append_f64(c, d);
        return 0;
      }
      if (fabs(d) > 3.4028235677973366e38) {
        snprintf(why, whylen, "%g is out of range for a float", d);
        return -1;
      }
      column_append_f32(c, (float)d);
      return 0;
    }
    case FT_BOOLEAN:
      expected = "true or false";
      if (!json_is_boolean(v)) break;
      column_append_bool(c, json_is_true(v));
      return 0;
    case FT_TIMESTAMP:
      expected = "a timestamp string or epoch milliseconds";
      if (json_is_integer(v)) {
        json_int_t ms = json_integer_value(v);
        if (ms > INT64_MAX / 1000 || ms < INT64_MIN / 1000) {
          snprintf(why, whylen, "%lld is out of range for a timestamp", (long long)ms);
          return -1;
        }
        column_append_i64(c, ms * 1000);
        return 0;
      }
      if (!json_is_string(v)) break;
      return rows_parse_cell(c, json_string_value(v), json_string_length(v), why, whylen);
    case FT_DATE:
      expected = "a date string";
      if (!json_is_string(v)) break;
      return rows_parse_cell(c, json_string_value(v), json_string_length(v), why, whylen);
    case FT_STRING:
      expected = "a string";
      if (!json_is_string(v)) break;
      column_append_str(c, json_string_value(v), json_string_length(v));
      return 0;
    default:
      expected = "a value";
      break;
  }
  snprintf(why, whylen, "expected %s, got %s", expected, json_kind(v));
  return -1;
}

/* Adds one object as a row. where: "row 3" or "row 3 (line 4)". */
static int add_object(struct jsonrows_reader *r, json_t *o, const char *where, oast_err *e) {
  if (!json_is_object(o))
    return fail(r, e, OAST_EBAD_REQUEST, "%s is not a JSON object (got %s)", where, json_kind(o));
  size_t found = 0;
  char why[300];
  for (size_t i = 0; i < r->batch.ncols; i++) {
    struct column *c = &r->batch.cols[i];
    json_t *v = json_object_get(o, c->name);
    if (v) found++;
    if (!v || json_is_null(v)) {
      if (!r->required[i]) {
        column_append_null(c);
        continue;
      }
      if (!v) return fail(r, e, OAST_EBAD_REQUEST, "%s: the required column \"%s\" is missing", where, c->name);
      return fail(r, e, OAST_EBAD_REQUEST, "%s, column \"%s\": a value is required", where, c->name);
    }
    if (jsonrows_append_value(c, v, why, sizeof why))
      return fail(r, e, OAST_EBAD_REQUEST, "%s, column \"%s\": %s", where, c->name, why);
  }
  if (found < json_object_size(o)) {
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
      if (table_find(&r->batch, k) < 0) {
        char q[200];
        rows_quote(k, strlen(k), q, sizeof q);
        return fail(r, e, OAST_EBAD_REQUEST, "%s: unknown column %s", where, q);
      }
    }
  }
  r->rows++;
  return 0;
}

/* One NDJSON line (without its LF). */
static int ndjson_line(struct jsonrows_reader *r, const char *s, size_t n, oast_err *e) {
  size_t line = r->line++;
  if (n && s[n - 1] == '\r') n--;
  size_t k = 0;
  while (k < n && (s[k] == ' ' || s[k] == '\t')) k++;
  if (k == n) return 0;
  char where[64];
  snprintf(where, sizeof where, "row %zu (line %zu)", r->rows + 1, line);
  json_error_t je;
  json_t *o = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
  if (!o) return fail(r, e, OAST_EBAD_REQUEST, "%s: malformed JSON at column %d: %s", where, je.column, je.text);
  int rc = add_object(r, o, where, e);
  json_decref(o);
  return rc;
}

static int too_large(struct jsonrows_reader *r, oast_err *e) {
  if (r->fmt == JSONROWS_ARRAY)
    return fail(r, e, OAST_ETOO_LARGE, "the JSON array is larger than %zu bytes", r->max_bytes);
  return fail(r, e, OAST_ETOO_LARGE, "row %zu (line %zu) is longer than %zu bytes", r->rows + 1, r->line,
              r->max_bytes);
}

int jsonrows_feed(struct jsonrows_reader *r, const char *data, size_t n, oast_err *e) {
  if (r->err.code) {
    if (e) *e = r->err;
    return r->err.code;
  }
  if (r->finished) return oast_err_set(e, OAST_EINTERNAL, "jsonrows_feed after jsonrows_finish");
  if (r->fmt == JSONROWS_ARRAY) return buf_append(&r->pend, data, n) ? too_large(r, e) : 0;
  const char *p = data, *end = data + n;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return buf_append(&r->pend, p, (size_t)(end - p)) ? too_large(r, e) : 0;
    int rc;
    if (r->pend.len) {
      if (buf_append(&r->pend, p, (size_t)(nl - p))) return too_large(r, e);
      rc = ndjson_line(r, r->pend.data, r->pend.len, e);
      buf_reset(&r->pend);
    } else {
      if ((size_t)(nl - p) > r->max_bytes) return too_large(r, e);
      rc = ndjson_line(r, p, (size_t)(nl - p), e);
    }
    if (rc) return rc;
    p = nl + 1;
  }
  return 0;
}

static int finish_array(struct jsonrows_reader *r, oast_err *e) {
  json_error_t je;
  json_t *a = json_loadb(r->pend.data ? r->pend.data : "", r->pend.len, JSON_REJECT_DUPLICATES, &je);
  if (!a)
    return fail(r, e, OAST_EBAD_REQUEST, "malformed JSON at line %d, column %d: %s", je.line, je.column, je.text);
  int rc = 0;
  if (!json_is_array(a)) {
    rc = fail(r, e, OAST_EBAD_REQUEST, "the JSON must be an array of objects (got %s)", json_kind(a));
  } else {
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o) {
      char where[32];
      snprintf(where, sizeof where, "row %zu", i + 1);
      if ((rc = add_object(r, o, where, e))) break;
    }
  }
  json_decref(a);
  buf_release(&r->pend);
  return rc;
}

int jsonrows_finish(struct jsonrows_reader *r, oast_err *e) {
  if (r->err.code) {
    if (e) *e = r->err;
    return r->err.code;
  }
  int rc = 0;
  if (r->fmt == JSONROWS_ARRAY) {
    rc = finish_array(r, e);
  } else if (r->pend.len) {
    rc = ndjson_line(r, r->pend.data, r->pend.len, e);
    buf_reset(&r->pend);
  }
  if (!rc) r->finished = true;
  return rc;
}

int jsonrows_read(const char *data, size_t n, enum jsonrows_format f, const struct rows_schema *schema,
                  struct table *out, oast_err *e) {
  memset(out, 0, sizeof *out);
  struct jsonrows_reader *r = jsonrows_reader_new(schema, f, n + 1);
  int rc = jsonrows_feed(r, data, n, e);
  if (!rc) rc = jsonrows_finish(r, e);
  if (!rc) jsonrows_take(r, out);
  jsonrows_reader_free(r);
  return rc;
}

/* ---- writer ---- */

/* Appends s[0..n) as a JSON string; bytes that are not UTF-8 become U+FFFD. */
static int put_string(struct buf *b, const char *s, size_t n) {
  int rc = buf_reserve(b, n + 2);
  if (rc) return rc;
  b->data[b->len++] = '"';
  size_t i = 0;
  while (i < n) {
    size_t run = i;
    while (run < n && (unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\' &&
           (unsigned char)s[run] < 0x80)
      run++;
    if (run > i && (rc = buf_append(b, s + i, run - i))) return rc;
    i = run;
    if (i == n) break;
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x80) {
      size_t k = rows_utf8_seq(s + i, n - i);
      if ((rc = k ? buf_append(b, s + i, k) : buf_append(b, "\xEF\xBF\xBD", 3))) return rc;
      i += k ? k : 1;
      continue;
    }
    char esc[8];
    switch (c) {
      case '"': rc = buf_append(b, "\\\"", 2); break;
      case '\\': rc = buf_append(b, "\\\\", 2); break;
      case '\n': rc = buf_append(b, "\\n", 2); break;
      case '\r': rc = buf_append(b, "\\r", 2); break;
      case '\t': rc = buf_append(b, "\\t", 2); break;
      default:
        snprintf(esc, sizeof esc, "\\u%04x", c);
        rc = buf_append(b, esc, 6);
    }
    if (rc) return rc;
    i++;
  }
  return buf_putc(b, '"');
}

static int put_row(const struct table *t, size_t i, struct rows_fmt *f, struct buf *b) {
  int rc = buf_putc(b, '{');
  for (size_t j = 0; j < t->ncols && !rc; j++) {
    const struct column *c = &t->cols[j];
    if (j && (rc = buf_putc(b, ','))) break;
    if ((rc = put_string(b, c->name, strlen(c->name))) || (rc = buf_putc(b, ':'))) break;
    if (column_is_null(c, i)) {
      rc = buf_append(b, "null", 4);
    } else if (c->type == FT_STRING) {
      size_t n;
      const char *s = column_str(c, i, &n);
      rc = put_string(b, s, n);
    } else if ((c->type == FT_FLOAT || c->type == FT_DOUBLE) && !isfinite(column_num(c, i))) {
      rc = buf_append(b, "null", 4);
    } else {
      char cell[ROWS_CELL_MAX];
      size_t n = rows_format_cell(f, c, i, cell);
      bool quote = c->type == FT_TIMESTAMP || c->type == FT_DATE;
      if (quote) rc = buf_putc(b, '"');
      if (!rc) rc = buf_append(b, cell, n);
      if (!rc && quote) rc = buf_putc(b, '"');
    }
  }
  return rc ? rc : buf_putc(b, '}');
}

int jsonrows_write_row(const struct table *t, size_t i, struct buf *out) {
  struct rows_fmt f;
  rows_fmt_init(&f);
  return put_row(t, i, &f, out);
}

int jsonrows_write_list(const struct table *t, size_t from, size_t to, struct buf *out) {
  struct rows_fmt f;
  rows_fmt_init(&f);
  int rc = 0;
  for (size_t i = from; i < to && !rc; i++) {
    if (i) rc = buf_putc(out, ',');
    if (!rc) rc = put_row(t, i, &f, out);
  }
  return rc;
}

int jsonrows_write(const struct table *t, size_t from, size_t to, enum jsonrows_format fmt, struct buf *out) {
  struct rows_fmt f;
  rows_fmt_init(&f);
  int rc = fmt == JSONROWS_ARRAY ? buf_putc(out, '[') : 0;
  for (size_t i = from; i < to && !rc; i++) {
    if (fmt == JSONROWS_ARRAY && i > from) rc = buf_putc(out, ',');
    if (!rc) rc = put_row(t, i, &f, out);
    if (!rc && fmt == JSONROWS_NDJSON) rc = buf_putc(out, '\n');
  }
  if (!rc && fmt == JSONROWS_ARRAY) rc = buf_putc(out, ']');
  return rc;
}
