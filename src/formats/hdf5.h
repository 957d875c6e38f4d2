/*
 * hdf5.h — training data as an HDF5 file (libhdf5's C API), the layout
 * h5py and Keras read:
 *   /features  int64 or float64, shape (rows, features)
 *   /labels    the same rule, shape (rows,) for one label or (rows, labels)
 *              for several; absent when there are no labels
 * each with an attribute "columns": the column names as UTF-8 strings.
 * The file is written under a temporary name, fsynced and renamed, so it
 * appears whole or not at all.
 */
#ifndef FORMATS_HDF5_H
#define FORMATS_HDF5_H

#include "formats/matrix.h"
#include "oast/error.h"

/* labels may be NULL (no /labels). Names: one per matrix column. */
int h5_write_training(const char *path, const struct matrix *features, const char *const *fnames,
                      const struct matrix *labels, const char *const *lnames, oast_err *e);

#endif
