/* matrix.c — table columns as a dense numeric matrix (see matrix.h). */
#include "formats/matrix.h"

#include <math.h>
#include <string.h>

#include "util/alloc.h"

void matrix_release(struct matrix *m) {
  if (!m) return;
  free(m->i);
  free(m->f);
  memset(m, 0, sizeof *m);
}

static bool integer_type(enum ftype t) { return t != FT_FLOAT && t != FT_DOUBLE && t != FT_STRING; }

static int64_t int_at(const struct column *c, size_t r) {
  switch (c->type) {
    case FT_INT: case FT_DATE: return column_i32(c, r);
    case FT_BOOLEAN: return column_bool(c, r);
    default: return column_i64(c, r);
  }
}

int matrix_from_table(const struct table *t, const int *cols, size_t n, struct matrix *m, oast_err *e) {
  memset(m, 0, sizeof *m);
  m->rows = t->nrows;
  m->cols = n;
  bool ints = true;
  for (size_t k = 0; k < n; k++) {
    const struct column *c = &t->cols[cols[k]];
    if (c->type == FT_STRING)
      return oast_err_set(e, OAST_EBAD_REQUEST,
                          "column \"%s\" is a string, which has no numeric form; use the csv, tfrecord or parquet format",
                          c->name);
    if (!integer_type(c->type)) ints = false;
    for (size_t r = 0; r < t->nrows && ints; r++) ints = c->valid[r] != 0;
  }
  m->ints = ints;
  size_t cells = m->rows * n;
  if (ints) m->i = xmalloc((cells ? cells : 1) * sizeof *m->i);
  else m->f = xmalloc((cells ? cells : 1) * sizeof *m->f);
  for (size_t k = 0; k < n; k++) {
    const struct column *c = &t->cols[cols[k]];
    for (size_t r = 0; r < t->nrows; r++) {
      size_t at = r * n + k;
      if (ints) m->i[at] = int_at(c, r);
      else if (!c->valid[r]) m->f[at] = NAN;
      else if (c->type == FT_FLOAT) m->f[at] = column_f32(c, r);
      else if (c->type == FT_DOUBLE) m->f[at] = column_f64(c, r);
      else m->f[at] = (double)int_at(c, r);
    }
  }
  return 0;
}
