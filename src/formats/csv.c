/*
 * csv.c — the streaming CSV reader and the CSV writer (see csv.h).
 *
 * The reader parses records in place, straight from the caller's chunk:
 * an unquoted field is found by scanning eight bytes at a time for the
 * four bytes that matter (comma, quote, CR, LF), a quoted field by memchr
 * for the next quote, and each field is converted into its column as soon
 * as it ends, so no field is copied or allocated (a quoted field with
 * doubled quotes is unescaped into one reused scratch buffer).
 *
 * Chunk boundaries: a record that is cut by the end of a chunk is undone
 * (its columns are truncated back to the last whole row) and its bytes
 * are kept in `pend`. When the next chunk comes, the end of that record
 * is found by counting quotes — in valid CSV a line feed ends the record
 * exactly when an even number of quotes came before it — so only that one
 * record is copied and re-parsed, and the rest of the chunk is again
 * parsed in place. Invalid CSV cannot fool this: a stray quote is an error
 * wherever the record is cut, and an open quote makes the record grow
 * until it reaches max_record, which is reported.
 *
 * Blank lines are held back as a count: if a record follows, they were
 * rows (a null in a one-column file, an error otherwise); at the end of
 * input they are dropped, so a trailing blank line is harmless.
 */
#include "formats/csv.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

struct csv_reader {
  struct table proto;     /* the schema: columns without rows */
  bool *required;         /* per schema column */
  struct table batch;
  size_t max_record;

  bool have_header;
  size_t nfields;         /* fields of the header */
  int *map;               /* header field -> schema column (ncols slots) */
  size_t *field_of;       /* schema column -> header field + 1, 0 if absent */

  size_t rows;            /* data rows completed, in all batches */
  size_t rows_taken;      /* rows in batches already taken */
  size_t line;            /* line where the next record starts */
  size_t blanks;          /* blank lines held back */
  size_t blank_line;      /* line of the first of them */

  char *pend;             /* bytes of an unfinished record */
  size_t pend_len, pend_cap;
  bool pend_odd;          /* odd number of quotes in pend */
  char *scratch;          /* unescaped quoted field */
  size_t scratch_cap;

  bool finished;
  oast_err err;           /* the first error, repeated afterwards */
};

/* ---- scanning ---- */

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define HAS_ZERO(v) (((v) - ONES) & ~(v) & HIGHS)

static const unsigned char special[256] = {[','] = 1, ['"'] = 1, ['\r'] = 1, ['\n'] = 1};

/* The first comma, quote, CR or LF in [p, end), or end. */
static inline const char *scan_special(const char *p, const char *end) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  while (end - p >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    uint64_t a = w ^ (ONES * ','), b = w ^ (ONES * '"'), c = w ^ (ONES * '\r'), d = w ^ (ONES * '\n');
    uint64_t t = HAS_ZERO(a) | HAS_ZERO(b) | HAS_ZERO(c) | HAS_ZERO(d);
    if (t) return p + (__builtin_ctzll(t) >> 3);
    p += 8;
  }
#endif
  while (p < end && !special[(unsigned char)*p]) p++;
  return p;
}

static size_t count_lf(const char *p, const char *end) {
  size_t n = 0;
  while ((p = memchr(p, '\n', (size_t)(end - p)))) {
    n++;
    p++;
  }
  return n;
}

/* ---- reader ---- */

struct csv_reader *csv_reader_new(const struct rows_schema *s, size_t max_record) {
  struct csv_reader *r = xcalloc(1, sizeof *r);
  table_init(&r->proto, s->ncols, s->names, s->types);
  rows_table_like(&r->batch, &r->proto);
  size_t n = s->ncols ? s->ncols : 1;
  r->required = xcalloc(n, sizeof *r->required);
  if (s->required) memcpy(r->required, s->required, s->ncols * sizeof *r->required);
  r->map = xcalloc(n, sizeof *r->map);
  r->field_of = xcalloc(n, sizeof *r->field_of);
  r->max_record = max_record ? max_record : CSV_MAX_RECORD_DEFAULT;
  r->line = 1;
  return r;
}

void csv_reader_free(struct csv_reader *r) {
  if (!r) return;
  table_release(&r->proto);
  table_release(&r->batch);
  free(r->required);
  free(r->map);
  free(r->field_of);
  free(r->pend);
  free(r->scratch);
  free(r);
}

size_t csv_batch_rows(const struct csv_reader *r) { return r->rows - r->rows_taken; }
size_t csv_total_rows(const struct csv_reader *r) { return r->rows; }

void csv_take(struct csv_reader *r, struct table *out) {
  *out = r->batch;
  out->nrows = r->rows - r->rows_taken;
  r->rows_taken = r->rows;
  rows_table_like(&r->batch, &r->proto);
}

static int fail(struct csv_reader *r, oast_err *e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct csv_reader *r, oast_err *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  r->err.code = OAST_EBAD_REQUEST;
  vsnprintf(r->err.msg, sizeof r->err.msg, fmt, ap);
  va_end(ap);
  if (e) *e = r->err;
  return OAST_EBAD_REQUEST;
}

/* Where field f of the record that starts on `line` is, for an error:
 * `row 3 (line 4), column "age"` once the header is known, else
 * `header (line 1), field 2` (or `row 3 (line 4), field 9` past the header's fields). */
static const char *where(const struct csv_reader *r, size_t f, size_t line, char *out, size_t n) {
  if (!r->have_header) snprintf(out, n, "header (line %zu), field %zu", line, f + 1);
  else if (f < r->nfields) snprintf(out, n, "row %zu (line %zu), column \"%s\"", r->rows + 1, line,
                                    r->proto.cols[r->map[f]].name);
  else snprintf(out, n, "row %zu (line %zu), field %zu", r->rows + 1, line, f + 1);
  return out;
}

/* Truncates every column of the batch to `rows` rows (undoing a cut record). */
static void truncate_batch(struct csv_reader *r, size_t rows) {
  for (size_t i = 0; i < r->batch.ncols; i++) {
    struct column *c = &r->batch.cols[i];
    if (c->len <= rows) continue;
    c->len = rows;
    if (c->type == FT_STRING) c->sdata_len = c->offs[rows];
  }
}

static void scratch_add(struct csv_reader *r, size_t *len, const char *p, size_t n) {
  if (*len + n > r->scratch_cap) {
    size_t cap = r->scratch_cap ? r->scratch_cap : 256;
    while (cap < *len + n) cap *= 2;
    r->scratch = xrealloc(r->scratch, cap);
    r->scratch_cap = cap;
  }
  memcpy(r->scratch + *len, p, n);
  *len += n;
}

/* One header field: a schema column name, not seen before. */
static int header_field(struct csv_reader *r, size_t f, const char *v, size_t n, oast_err *e) {
  char q[200];
  size_t bad = rows_utf8_check(v, n);
  if (bad < n) return fail(r, e, "header (line 1), field %zu: invalid UTF-8 at byte %zu", f + 1, bad + 1);
  if (n == 0) return fail(r, e, "header (line 1), field %zu: the column name is empty", f + 1);
  for (size_t i = 0; i < r->proto.ncols; i++) {
    const char *name = r->proto.cols[i].name;
    if (strlen(name) != n || memcmp(name, v, n) != 0) continue;
    if (r->field_of[i])
      return fail(r, e, "header (line 1): column \"%s\" appears twice (fields %zu and %zu)", name, r->field_of[i],
                  f + 1);
    r->field_of[i] = f + 1;
    r->map[f] = (int)i;
    return 0;
  }
  rows_quote(v, n, q, sizeof q);
  char known[400];
  size_t k = 0;
  known[0] = '\0';
  for (size_t i = 0; i < r->proto.ncols && k < sizeof known - 64; i++)
    k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", i ? ", " : "", r->proto.cols[i].name);
  if (k >= sizeof known - 64) snprintf(known + k, sizeof known - k, ", ...");
  return fail(r, e, "header (line 1), field %zu: unknown column %s; the columns are: %s", f + 1, q, known);
}

static int header_end(struct csv_reader *r, size_t nfields, oast_err *e) {
  for (size_t i = 0; i < r->proto.ncols; i++)
    if (r->required[i] && !r->field_of[i])
      return fail(r, e, "header (line 1): the required column \"%s\" is missing", r->proto.cols[i].name);
  r->nfields = nfields;
  r->have_header = true;
  return 0;
}

/* Appends nulls to the schema columns that the header lacks. */
static void fill_absent(struct csv_reader *r) {
  if (r->nfields == r->proto.ncols) return;
  for (size_t i = 0; i < r->proto.ncols; i++)
    if (!r->field_of[i]) column_append_null(&r->batch.cols[i]);
}

static int data_field(struct csv_reader *r, size_t f, const char *v, size_t n, bool quoted, size_t line,
                      oast_err *e) {
  int ci = r->map[f];
  struct column *c = &r->batch.cols[ci];
  if (n == 0 && (!quoted || c->type != FT_STRING)) {
    if (r->required[ci])
      return fail(r, e, "row %zu (line %zu), column \"%s\": a value is required", r->rows + 1, line, c->name);
    column_append_null(c);
    return 0;
  }
  char why[300];
  if (rows_parse_cell(c, v, n, why, sizeof why))
    return fail(r, e, "row %zu (line %zu), column \"%s\": %s", r->rows + 1, line, c->name, why);
  return 0;
}

/* Turns held-back blank lines into rows, now that a record follows them. */
static int flush_blanks(struct csv_reader *r, oast_err *e) {
  for (size_t k = 0; k < r->blanks; k++) {
    size_t line = r->blank_line + k;
    if (r->nfields != 1)
      return fail(r, e, "row %zu (line %zu) is empty, the header has %zu fields", r->rows + 1, line, r->nfields);
    int rc = data_field(r, 0, "", 0, false, line, e);
    if (rc) return rc;
    fill_absent(r);
    r->rows++;
  }
  r->blanks = 0;
  return 0;
}

enum { REC_MORE = 0, REC_DONE = 1 };

/*
 * Parses the record at p (p < end). REC_DONE with *next after its line end,
 * REC_MORE when it does not end before `end` and more input may come, or
 * an error. With final, end is the end of input.
 */
static int parse_record(struct csv_reader *r, const char *p, const char *end, bool final, const char **next,
                        oast_err *e) {
  const size_t line = r->line;
  size_t nl = 0, f = 0;
  int rc;
  char loc[160];

  if (!r->have_header && line == 1) {
    static const char bom[] = "\xEF\xBB\xBF";
    size_t k = 0;
    while (k < 3 && p + k < end && p[k] == bom[k]) k++;
    if (k == 3) p += 3;
    else if (p + k == end && !final) return REC_MORE;
    if (p == end) {
      if (!final) return REC_MORE;
      return fail(r, e, "the header row (line 1) is empty");
    }
  }

  if (*p == '\n' || *p == '\r') {
    const char *q = p + 1;
    if (*p == '\r') {
      if (q == end && !final) return REC_MORE;
      if (q < end && *q != '\n')
        return fail(r, e, "line %zu: a carriage return outside quotes must be followed by a line feed", line);
      if (q < end) q++;
    }
    if (!r->have_header) return fail(r, e, "the header row (line 1) is empty");
    if (!r->blanks) r->blank_line = line;
    r->blanks++;
    r->line++;
    *next = q;
    return REC_DONE;
  }
  if (r->have_header && r->blanks && (rc = flush_blanks(r, e))) return rc;

  for (;;) {
    const char *v, *q;
    size_t vn;
    bool quoted = p < end && *p == '"';
    if (quoted) {
      const char *s = p + 1;
      size_t sl = 0;
      bool esc = false;
      for (;;) {
        const char *x = memchr(s, '"', (size_t)(end - s));
        if (!x) {
          if (!final) return REC_MORE;
          return fail(r, e, "%s: a quoted field is not closed before the end of the input",
                      where(r, f, line, loc, sizeof loc));
        }
        if (x + 1 == end && !final) return REC_MORE;
        if (x + 1 < end && x[1] == '"') {
          scratch_add(r, &sl, s, (size_t)(x + 1 - s));
          esc = true;
          s = x + 2;
          continue;
        }
        if (esc) {
          scratch_add(r, &sl, s, (size_t)(x - s));
          v = r->scratch;
          vn = sl;
        } else {
          v = p + 1;
          vn = (size_t)(x - v);
        }
        nl += count_lf(p + 1, x);
        q = x + 1;
        break;
      }
      if (q < end && *q != ',' && *q != '\n' && *q != '\r')
        return fail(r, e, "%s: unexpected character after the closing quote (a quote inside a quoted field is "
                    "written twice)", where(r, f, line + nl, loc, sizeof loc));
    } else {
      q = scan_special(p, end);
      if (q < end && *q == '"')
        return fail(r, e, "%s: a quote inside an unquoted field (quote the whole field and double the quote)",
                    where(r, f, line, loc, sizeof loc));
      v = p;
      vn = (size_t)(q - p);
    }
    if (q == end && !final) return REC_MORE;
    if (q < end && *q == '\r') {
      if (q + 1 == end && !final) return REC_MORE;
      if (q + 1 < end && q[1] != '\n')
        return fail(r, e, "%s: a carriage return outside quotes must be followed by a line feed",
                    where(r, f, line + nl, loc, sizeof loc));
    }
    if (!r->have_header) {
      if (f >= r->proto.ncols) {
        /* More fields than columns: this one is unknown or a duplicate. */
        if ((rc = header_field(r, f, v, vn, e))) return rc;
        return fail(r, e, "header (line 1): too many fields");
      }
      if ((rc = header_field(r, f, v, vn, e))) return rc;
    } else if (f < r->nfields) {
      if ((rc = data_field(r, f, v, vn, quoted, line, e))) return rc;
    }
    f++;
    if (q < end && *q == ',') {
      p = q + 1;
      if (p == end && !final) return REC_MORE;
      continue;
    }
    if (q == end) *next = end;
    else if (*q == '\r') *next = q + 1 < end ? q + 2 : q + 1;
    else *next = q + 1;
    break;
  }

  if (!r->have_header) {
    if ((rc = header_end(r, f, e))) return rc;
    r->line += 1 + nl;
    return REC_DONE;
  }
  if (f < r->nfields)
    return fail(r, e, "row %zu (line %zu) has %zu field%s, the header has %zu: column \"%s\" is missing", r->rows + 1,
                line, f, f == 1 ? "" : "s", r->nfields, r->proto.cols[r->map[f]].name);
  if (f > r->nfields)
    return fail(r, e, "row %zu (line %zu) has %zu fields, the header has %zu: field %zu is after the last column \"%s\"",
                r->rows + 1, line, f, r->nfields, r->nfields + 1, r->proto.cols[r->map[r->nfields - 1]].name);
  fill_absent(r);
  r->rows++;
  r->line += 1 + nl;
  return REC_DONE;
}

/* Parses whole records from buf; *used is where the first unfinished one starts. */
static int parse_buf(struct csv_reader *r, const char *buf, size_t n, bool final, size_t *used, oast_err *e) {
  const char *p = buf, *end = buf + n;
  while (p < end) {
    size_t rows = r->rows, line = r->line, blanks = r->blanks, blank_line = r->blank_line;
    const char *next = NULL;
    int rc = parse_record(r, p, end, final, &next, e);
    if (rc < 0) return rc;
    if (rc == REC_MORE) {
      truncate_batch(r, rows - r->rows_taken);
      if (!r->have_header) memset(r->field_of, 0, r->proto.ncols * sizeof *r->field_of);
      r->rows = rows;
      r->line = line;
      r->blanks = blanks;
      r->blank_line = blank_line;
      break;
    }
    p = next;
  }
  *used = (size_t)(p - buf);
  return 0;
}

static int pend_add(struct csv_reader *r, const char *p, size_t n, oast_err *e) {
  if (!n) return 0;
  if (r->pend_len + n > r->max_record)
    return fail(r, e, "row %zu (line %zu) is longer than %zu bytes (is a quote left open?)", r->rows + r->blanks + 1,
                r->line, r->max_record);
  if (r->pend_len + n > r->pend_cap) {
    size_t cap = r->pend_cap ? r->pend_cap : 1024;
    while (cap < r->pend_len + n) cap *= 2;
    r->pend = xrealloc(r->pend, cap);
    r->pend_cap = cap;
  }
  memcpy(r->pend + r->pend_len, p, n);
  r->pend_len += n;
  for (size_t i = 0; i < n; i++)
    if (p[i] == '"') r->pend_odd = !r->pend_odd;
  return 0;
}

/* Parses what pend holds and keeps the unfinished rest at its start. */
static int parse_pend(struct csv_reader *r, bool final, oast_err *e) {
  size_t used;
  int rc = parse_buf(r, r->pend, r->pend_len, final, &used, e);
  if (rc) return rc;
  memmove(r->pend, r->pend + used, r->pend_len - used);
  r->pend_len -= used;
  r->pend_odd = false;
  for (size_t i = 0; i < r->pend_len; i++)
    if (r->pend[i] == '"') r->pend_odd = !r->pend_odd;
  return 0;
}

int csv_feed(struct csv_reader *r, const char *data, size_t n, oast_err *e) {
  if (r->err.code) {
    if (e) *e = r->err;
    return r->err.code;
  }
  if (r->finished) return oast_err_set(e, OAST_EINTERNAL, "csv_feed after csv_finish");
  int rc;
  if (r->pend_len) {
    /* Complete the cut record first: it ends at the first LF after an even number of quotes. */
    bool odd = r->pend_odd, found = false;
    size_t k = 0;
    for (; k < n; k++) {
      if (data[k] == '"') odd = !odd;
      else if (data[k] == '\n' && !odd) {
        k++;
        found = true;
        break;
      }
    }
    if ((rc = pend_add(r, data, k, e))) return rc;
    data += k;
    n -= k;
    if (!found) return 0;
    if ((rc = parse_pend(r, false, e))) return rc;
    if (r->pend_len) return pend_add(r, data, n, e);
  }
  size_t used;
  if ((rc = parse_buf(r, data, n, false, &used, e))) return rc;
  return pend_add(r, data + used, n - used, e);
}

int csv_finish(struct csv_reader *r, oast_err *e) {
  if (r->err.code) {
    if (e) *e = r->err;
    return r->err.code;
  }
  int rc;
  if (r->pend_len && (rc = parse_pend(r, true, e))) return rc;
  if (!r->have_header) return fail(r, e, "the input is empty; a CSV header row is required");
  r->blanks = 0;
  r->finished = true;
  return 0;
}

int csv_read(const char *data, size_t n, const struct rows_schema *schema, struct table *out, oast_err *e) {
  memset(out, 0, sizeof *out);
  struct csv_reader *r = csv_reader_new(schema, n + 1);
  size_t used;
  int rc = parse_buf(r, data, n, true, &used, e);
  if (!rc) rc = csv_finish(r, e);
  if (!rc) csv_take(r, out);
  csv_reader_free(r);
  return rc;
}

/* ---- writer ---- */

/* Appends s[0..n) as a CSV field, quoted when it must be. */
static int put_field(struct buf *b, const char *s, size_t n) {
  const char *end = s + n;
  if (n && scan_special(s, end) == end) return buf_append(b, s, n);
  size_t quotes = 0;
  for (const char *p = s; (p = memchr(p, '"', (size_t)(end - p))); p++) quotes++;
  int rc = buf_reserve(b, n + quotes + 2);
  if (rc) return rc;
  char *o = b->data + b->len;
  *o++ = '"';
  if (!quotes) {
    memcpy(o, s, n);
    o += n;
  } else {
    for (const char *p = s; p < end;) {
      const char *x = memchr(p, '"', (size_t)(end - p));
      size_t k = x ? (size_t)(x - p) + 1 : (size_t)(end - p);
      memcpy(o, p, k);
      o += k;
      if (x) *o++ = '"';
      p += k;
    }
  }
  *o++ = '"';
  b->len = (size_t)(o - b->data);
  b->data[b->len] = '\0';
  return 0;
}

int csv_write_header(const struct table *t, struct buf *out) {
  int rc = 0;
  for (size_t j = 0; j < t->ncols && !rc; j++) {
    if (j) rc = buf_putc(out, ',');
    if (!rc) rc = put_field(out, t->cols[j].name, strlen(t->cols[j].name));
  }
  return rc ? rc : buf_putc(out, '\n');
}

int csv_write_rows(const struct table *t, size_t from, size_t to, struct buf *out) {
  struct rows_fmt f;
  rows_fmt_init(&f);
  int rc;
  for (size_t i = from; i < to; i++) {
    /* Room for the fixed-width cells and separators of the row at once. */
    if ((rc = buf_reserve(out, t->ncols * (ROWS_CELL_MAX + 1) + 1))) return rc;
    for (size_t j = 0; j < t->ncols; j++) {
      const struct column *c = &t->cols[j];
      if (j) out->data[out->len++] = ',';
      if (column_is_null(c, i)) continue;
      if (c->type == FT_STRING) {
        size_t n;
        const char *s = column_str(c, i, &n);
        if ((rc = put_field(out, s, n))) return rc;
        if ((rc = buf_reserve(out, (t->ncols - j) * (ROWS_CELL_MAX + 1) + 1))) return rc;
      } else {
        out->len += rows_format_cell(&f, c, i, out->data + out->len);
      }
    }
    out->data[out->len++] = '\n';
    out->data[out->len] = '\0';
  }
  return 0;
}

int csv_write(const struct table *t, struct buf *out) {
  int rc = csv_write_header(t, out);
  return rc ? rc : csv_write_rows(t, 0, t->nrows, out);
}
