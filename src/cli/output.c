/*
 * output.c — how the CLI shows answers: aligned tables and "field: value"
 * blocks for people, the server's JSON for scripts (--json).
 *
 * Tables are built as text cells first and printed once every width is
 * known. Widths count characters, not bytes, so UTF-8 names line up. Cells
 * come from the server and may hold anything a user typed: control
 * characters are shown as '?' so a file name cannot move the cursor or
 * rewrite the terminal.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "cli/command.h"
#include "util/alloc.h"
#include "util/buf.h"

void cli_table_init(struct cli_table *t, int ncols, const char *const *headers) {
  memset(t, 0, sizeof *t);
  t->ncols = ncols;
  t->headers = headers;
}

void cli_table_add(struct cli_table *t, const char *const *cells) {
  if (t->nrows == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 16;
    t->cells = xreallocarray(t->cells, t->cap * (size_t)t->ncols, sizeof *t->cells);
  }
  for (int i = 0; i < t->ncols; i++) t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = xstrdup(cells[i] ? cells[i] : "-");
  t->nrows++;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s) {
  size_t w = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80) w++;
  return w;
}

static void render_row(struct buf *b, const char *const *cells, int ncols, const size_t *w) {
  for (int i = 0; i < ncols; i++) {
    buf_puts(b, cells[i]);
    if (i + 1 < ncols)
      for (size_t k = width(cells[i]); k < w[i] + 2; k++) buf_putc(b, ' ');
  }
  /* A last column that is empty would leave trailing blanks. */
  while (b->len && b->data[b->len - 1] == ' ') b->data[--b->len] = '\0';
  buf_putc(b, '\n');
}

char *cli_table_render(const struct cli_table *t) {
  size_t *w = xcalloc((size_t)t->ncols, sizeof *w);
  for (int i = 0; i < t->ncols; i++) w[i] = width(t->headers[i]);
  for (size_t r = 0; r < t->nrows; r++)
    for (int i = 0; i < t->ncols; i++) {
      size_t cw = width(t->cells[r * (size_t)t->ncols + (size_t)i]);
      if (cw > w[i]) w[i] = cw;
    }
  struct buf b;
  buf_init(&b, 0);
  render_row(&b, t->headers, t->ncols, w);
  for (size_t r = 0; r < t->nrows; r++)
    render_row(&b, (const char *const *)&t->cells[r * (size_t)t->ncols], t->ncols, w);
  free(w);
  return buf_detach(&b, NULL);
}

void cli_table_release(struct cli_table *t) {
  for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++) free(t->cells[i]);
  free(t->cells);
  memset(t, 0, sizeof *t);
}

void cli_table_print(struct cli_ctx *ctx, struct cli_table *t) {
  char *text = cli_table_render(t);
  fputs(text, ctx->out);
  free(text);
  cli_table_release(t);
}

const char *cli_human_size(uint64_t n, char *buf, size_t len) {
  static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (n < 1024) {
    snprintf(buf, len, "%" PRIu64 " B", n);
    return buf;
  }
  double v = (double)n / 1024;
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  snprintf(buf, len, "%.1f %s", v, units[u]);
  return buf;
}

char *cli_cell_text(json_t *v, enum cli_cell kind) {
  char tmp[64];
  if (!v || json_is_null(v)) return xstrdup("-");
  if (json_is_string(v)) {
    char *s = xstrdup(json_string_value(v));
    for (char *p = s; *p; p++)
      if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    return s;
  }
  if (json_is_integer(v)) {
    if (kind == CELL_SIZE && json_integer_value(v) >= 0)
      return xstrdup(cli_human_size((uint64_t)json_integer_value(v), tmp, sizeof tmp));
    return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
  }
  if (json_is_real(v)) return xasprintf("%g", json_real_value(v));
  if (json_is_boolean(v)) {
    if (kind == CELL_YESNO) return xstrdup(json_is_true(v) ? "yes" : "no");
    return xstrdup(json_is_true(v) ? "true" : "false");
  }
  return json_dumps(v, CLI_JSON_SHOW);
}

/* ---- printing answers ---- */

void cli_print_json(struct cli_ctx *ctx, json_t *j) {
  char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
  fprintf(ctx->out, "%s\n", s);
  free(s);
}

void cli_print_items(struct cli_ctx *ctx, json_t *resp, const struct cli_col *cols) {
  if (ctx->json) {
    cli_print_json(ctx, resp);
    return;
  }
  int ncols = 0;
  while (cols[ncols].header) ncols++;
  const char **headers = xcalloc((size_t)ncols, sizeof *headers);
  char **cells = xcalloc((size_t)ncols, sizeof *cells);
  for (int i = 0; i < ncols; i++) headers[i] = cols[i].header;
  struct cli_table t;
  cli_table_init(&t, ncols, headers);
  size_t idx;
  json_t *item;
  json_array_foreach(json_object_get(resp, "items"), idx, item) {
    for (int i = 0; i < ncols; i++) cells[i] = cli_cell_text(json_object_get(item, cols[i].field), cols[i].kind);
    cli_table_add(&t, (const char *const *)cells);
    for (int i = 0; i < ncols; i++) free(cells[i]);
  }
  cli_table_print(ctx, &t);
  free(cells);
  free(headers);
}

void cli_print_object(struct cli_ctx *ctx, json_t *obj, const struct cli_col *cols) {
  if (ctx->json) {
    cli_print_json(ctx, obj);
    return;
  }
  size_t w = 0;
  for (const struct cli_col *c = cols; c->header; c++)
    if (strlen(c->header) > w) w = strlen(c->header);
  for (const struct cli_col *c = cols; c->header; c++) {
    char *v = cli_cell_text(json_object_get(obj, c->field), c->kind);
    char label[64];
    snprintf(label, sizeof label, "%s:", c->header);
    for (char *p = label; *p; p++) *p = (char)tolower((unsigned char)*p);
    fprintf(ctx->out, "%-*s %s\n", (int)w + 1, label, v);
    free(v);
  }
}

void cli_done(struct cli_ctx *ctx, json_t *j, const char *fmt, ...) {
  if (ctx->json) {
    if (j) cli_print_json(ctx, j);
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  vfprintf(ctx->out, fmt, ap);
  va_end(ap);
  fputc('\n', ctx->out);
}
