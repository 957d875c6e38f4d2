/*
 * matrix.h — some columns of a table as one dense, row-major numeric
 * matrix: what trainers read from npy and HDF5 training data.
 *
 * Values: int, bigint, boolean (0/1), date (days since 1970-01-01) and
 * timestamp (microseconds since 1970-01-01T00:00:00Z) are integers;
 * float and double are floating point. The matrix is int64 when every
 * column is integer-typed and holds no null, else float64 with nulls as
 * NaN (integers beyond 2^53 then round). Strings have no numeric form and
 * are refused with a 400 naming the column.
 */
#ifndef FORMATS_MATRIX_H
#define FORMATS_MATRIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/table.h"
#include "oast/error.h"

struct matrix {
  size_t rows, cols;
  bool ints;        /* i holds the values (int64); else f (float64) */
  int64_t *i;       /* owned, rows * cols, row-major */
  double *f;        /* owned, rows * cols, row-major */
};

/* Fills m (released with matrix_release, also after a failure) from columns cols[0..n) of t. */
int matrix_from_table(const struct table *t, const int *cols, size_t n, struct matrix *m, oast_err *e);
void matrix_release(struct matrix *m);

#endif
