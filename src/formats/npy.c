/* npy.c — NumPy .npy files (see npy.h). Values are written as they lie in
 * memory, so this file assumes a little-endian machine (as x86-64 and
 * arm64 Linux are), which the header's '<' declares. */
#include "formats/npy.h"

#include <stdio.h>
#include <string.h>

#include "util/fs.h"

void npy_header(const struct matrix *m, bool vector, struct buf *out) {
  char dict[160];
  if (vector)
    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }", m->ints ? "<i8" : "<f8",
             m->rows);
  else
    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }",
             m->ints ? "<i8" : "<f8", m->rows, m->cols);
  size_t len = strlen(dict);
  size_t total = 10 + len + 1;
  size_t pad = (64 - total % 64) % 64;
  size_t hlen = len + pad + 1;
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
  buf_append(out, pre, sizeof pre);
  buf_append(out, dict, len);
  for (size_t i = 0; i < pad; i++) buf_putc(out, ' ');
  buf_putc(out, '\n');
}

int npy_write(const char *path, const struct matrix *m, bool vector, oast_err *e) {
  if (vector && m->cols != 1) return oast_err_set(e, OAST_EINTERNAL, "a 1-D npy array needs one column");
  struct fs_tmp t;
  int rc = fs_tmp_open(&t, path, 0600, e);
  if (rc) return rc;
  struct buf h;
  buf_init(&h, 0);
  npy_header(m, vector, &h);
  size_t bytes = m->rows * m->cols * 8;
  rc = fs_tmp_write(&t, h.data, h.len, e);
  if (!rc && bytes) rc = fs_tmp_write(&t, m->ints ? (const void *)m->i : (const void *)m->f, bytes, e);
  buf_release(&h);
  if (!rc) rc = fs_tmp_commit(&t, e);
  if (rc) fs_tmp_discard(&t);
  return rc;
}
