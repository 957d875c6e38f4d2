/* hdf5.c — training data as HDF5 (see hdf5.h). Debian's libhdf5 is built
 * thread-safe, so server threads may write files at the same time. */
#define _GNU_SOURCE
#include "formats/hdf5.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/fs.h"

static int put_matrix(hid_t f, const char *name, const struct matrix *m, const char *const *names, bool vector) {
  hsize_t dims[2] = {m->rows, m->cols};
  hid_t space = H5Screate_simple(vector ? 1 : 2, dims, NULL);
  hid_t ds = space < 0 ? -1
                       : H5Dcreate2(f, name, m->ints ? H5T_STD_I64LE : H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT,
                                    H5P_DEFAULT);
  int rc = ds < 0 ? -1 : 0;
  if (!rc && m->rows && m->cols)
    rc = H5Dwrite(ds, m->ints ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                  m->ints ? (const void *)m->i : (const void *)m->f) < 0 ? -1 : 0;
  if (!rc) {
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    H5Tset_cset(st, H5T_CSET_UTF8);
    hsize_t n = m->cols;
    hid_t as = H5Screate_simple(1, &n, NULL);
    hid_t a = H5Acreate2(ds, "columns", st, as, H5P_DEFAULT, H5P_DEFAULT);
    rc = a < 0 || H5Awrite(a, st, names) < 0 ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(as);
    H5Tclose(st);
  }
  if (ds >= 0) H5Dclose(ds);
  if (space >= 0) H5Sclose(space);
  return rc;
}

int h5_write_training(const char *path, const struct matrix *features, const char *const *fnames,
                      const struct matrix *labels, const char *const *lnames, oast_err *e) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors come back as codes; the library prints nothing */
  char *tmp = xasprintf("%s.oast-tmp-h5", path);
  int rc = 0;
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) {
    rc = oast_err_set(e, OAST_EIO, "cannot create the HDF5 file %s", path);
    goto out;
  }
  int bad = put_matrix(f, "features", features, fnames, false);
  if (!bad && labels) bad = put_matrix(f, "labels", labels, lnames, labels->cols == 1);
  if (H5Fclose(f) < 0) bad = -1;
  if (bad) {
    rc = oast_err_set(e, OAST_EIO, "cannot write the HDF5 file %s", path);
    goto out;
  }
  int fd = open(tmp, O_RDONLY | O_CLOEXEC);
  bool synced = fd >= 0 && fsync(fd) == 0;
  if (fd >= 0) close(fd);
  if (!synced || rename(tmp, path) != 0) {
    rc = oast_err_set(e, OAST_EIO, "cannot store the HDF5 file %s: %s", path, strerror(errno));
    goto out;
  }
  char *dir = xstrdup(path);
  char *slash = strrchr(dir, '/');
  if (slash) {
    *slash = '\0';
    fs_fsync_dir(dir);
  }
  free(dir);
out:
  if (rc) unlink(tmp);
  free(tmp);
  return rc;
}
