/*
 * npy.h — NumPy's .npy format (version 1.0), the file numpy.load reads:
 * the magic "\x93NUMPY", the version, a little-endian uint16 header length
 * and a Python dict literal {'descr', 'fortran_order', 'shape'} padded
 * with spaces to a multiple of 64 bytes and ended by a newline, then the
 * values, C order, little-endian ('<i8' or '<f8').
 */
#ifndef FORMATS_NPY_H
#define FORMATS_NPY_H

#include <stdbool.h>

#include "formats/matrix.h"
#include "oast/error.h"
#include "util/buf.h"

/* The header of m as a 2-D array (as a 1-D one of m->rows when vector). Appends to out. */
void npy_header(const struct matrix *m, bool vector, struct buf *out);
/* Writes m to path atomically (util/fs.h). vector: shape (rows,), m must have one column. */
int npy_write(const char *path, const struct matrix *m, bool vector, oast_err *e);

#endif
