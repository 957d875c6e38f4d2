/* test_tdwriters.c — training data writers (matrix, npy, TFRecord/tf.train.Example, HDF5) and the online store's
 * latest-event-time rule. */
#include <hdf5.h>
#include <math.h>

#include "formats/hdf5.h"
#include "formats/matrix.h"
#include "formats/npy.h"
#include "formats/tfrecord.h"
#include "fstore/online.h"
#include "test.h"
#include "util/alloc.h"
#include "util/crc32c.h"
#include "util/fs.h"

static void sample(struct table *t) {
  const char *names[] = {"i", "b", "d", "f", "ok", "day", "ts", "s"};
  enum ftype types[] = {FT_INT, FT_BIGINT, FT_DOUBLE, FT_FLOAT, FT_BOOLEAN, FT_DATE, FT_TIMESTAMP, FT_STRING};
  table_init(t, 8, names, types);
  for (int r = 0; r < 3; r++) {
    column_append_i32(&t->cols[0], r - 1);
    if (r == 1) column_append_null(&t->cols[1]);
    else column_append_i64(&t->cols[1], (int64_t)1 << 40 | r);
    column_append_f64(&t->cols[2], r * 0.5);
    column_append_f32(&t->cols[3], 1.25f * (float)r);
    column_append_bool(&t->cols[4], r == 2);
    column_append_i32(&t->cols[5], 19000 + r);
    column_append_i64(&t->cols[6], 1700000000000000LL + r);
    if (r == 2) column_append_null(&t->cols[7]);
    else column_append_str(&t->cols[7], r ? "héllo" : "", r ? 6 : 0);
  }
  ASSERT_EQ(table_check(t, NULL), 0);
}

TEST(matrix_ints_floats_nulls_strings) {
  struct table t;
  sample(&t);
  struct matrix m;
  oast_err e;
  int ints[] = {0, 4, 5, 6};
  ASSERT_EQ(matrix_from_table(&t, ints, 4, &m, &e), 0);
  ASSERT(m.ints);
  ASSERT_EQ(m.i[0 * 4 + 0], -1);
  ASSERT_EQ(m.i[2 * 4 + 1], 1);
  ASSERT_EQ(m.i[1 * 4 + 2], 19001);
  ASSERT_EQ(m.i[2 * 4 + 3], 1700000000000002LL);
  matrix_release(&m);
  int mixed[] = {1, 3};  /* a null bigint: floats with NaN */
  ASSERT_EQ(matrix_from_table(&t, mixed, 2, &m, &e), 0);
  ASSERT(!m.ints);
  ASSERT(isnan(m.f[1 * 2 + 0]));
  ASSERT(m.f[2 * 2 + 1] == 2.5);
  matrix_release(&m);
  int str[] = {7};
  ASSERT_EQ(matrix_from_table(&t, str, 1, &m, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "\"s\"") != NULL);
  matrix_release(&m);
  table_release(&t);
}

TEST(npy_header_and_bytes) {
  struct table t;
  sample(&t);
  struct matrix m;
  oast_err e;
  int cols[] = {2, 3};
  ASSERT_EQ(matrix_from_table(&t, cols, 2, &m, &e), 0);
  char *path = xasprintf("%s/x.npy", test_tmpdir());
  ASSERT_EQ(npy_write(path, &m, false, &e), 0);
  char *data;
  size_t n;
  ASSERT_EQ(fs_read_all(path, 0, &data, &n, &e), 0);
  ASSERT(!memcmp(data, "\x93NUMPY\x01\x00", 8));
  size_t hlen = (unsigned char)data[8] | (size_t)(unsigned char)data[9] << 8;
  ASSERT_EQ((10 + hlen) % 64, 0);
  ASSERT_EQ(data[10 + hlen - 1], '\n');
  ASSERT(strstr(data + 10, "'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }") != NULL);
  ASSERT_EQ(n, 10 + hlen + 3 * 2 * 8);
  double v;
  memcpy(&v, data + 10 + hlen + 8 * 3, 8); /* row 1, column 1: f = 1.25 */
  ASSERT(v == 1.25);
  free(data);
  matrix_release(&m);
  int one[] = {0};
  ASSERT_EQ(matrix_from_table(&t, one, 1, &m, &e), 0);
  ASSERT_EQ(npy_write(path, &m, true, &e), 0);
  ASSERT_EQ(fs_read_all(path, 0, &data, &n, &e), 0);
  ASSERT(strstr(data + 10, "'descr': '<i8', 'fortran_order': False, 'shape': (3,), }") != NULL);
  free(data);
  matrix_release(&m);
  free(path);
  table_release(&t);
}

/* ---- a small protobuf reader for the test ---- */

static uint64_t varint(const unsigned char **p, const unsigned char *end) {
  uint64_t v = 0;
  for (int s = 0; *p < end; s += 7) {
    unsigned char b = *(*p)++;
    v |= (uint64_t)(b & 0x7f) << s;
    if (!(b & 0x80)) break;
  }
  return v;
}

/* The first length-delimited field `field` inside [p, end); NULL when absent. */
static const unsigned char *field(const unsigned char *p, const unsigned char *end, unsigned want, size_t *len,
                                  const unsigned char **after) {
  while (p < end) {
    uint64_t tag = varint(&p, end);
    ASSERT_EQ(tag & 7, 2);
    size_t n = (size_t)varint(&p, end);
    if ((tag >> 3) == want) {
      *len = n;
      if (after) *after = p + n;
      return p;
    }
    p += n;
  }
  return NULL;
}

TEST(tfrecord_examples_framed) {
  struct table t;
  sample(&t);
  char *path = xasprintf("%s/x.tfrecord", test_tmpdir());
  oast_err e;
  ASSERT_EQ(tfrecord_write(path, &t, &e), 0);
  char *data;
  size_t n;
  ASSERT_EQ(fs_read_all(path, 0, &data, &n, &e), 0);
  const unsigned char *p = (const unsigned char *)data, *end = p + n;
  int records = 0;
  while (p < end) {
    uint64_t len = 0;
    for (int i = 0; i < 8; i++) len |= (uint64_t)p[i] << (8 * i);
    uint32_t lcrc = p[8] | p[9] << 8 | p[10] << 16 | (uint32_t)p[11] << 24;
    ASSERT_EQ(lcrc, crc32c_mask(crc32c(p, 8)));
    const unsigned char *rec = p + 12;
    const unsigned char *q = rec + len;
    uint32_t dcrc = q[0] | q[1] << 8 | q[2] << 16 | (uint32_t)q[3] << 24;
    ASSERT_EQ(dcrc, crc32c_mask(crc32c(rec, len)));
    /* Example.features (1) → Features.feature (1) entries: key (1), value (2). */
    size_t flen;
    const unsigned char *feats = field(rec, rec + len, 1, &flen, NULL);
    ASSERT(feats);
    const unsigned char *it = feats, *fend = feats + flen;
    int col = 0;
    while (it < fend) {
      size_t elen;
      const unsigned char *after;
      const unsigned char *entry = field(it, fend, 1, &elen, &after);
      ASSERT(entry);
      size_t klen, vlen;
      const unsigned char *key = field(entry, entry + elen, 1, &klen, NULL);
      ASSERT_EQ(klen, strlen(t.cols[col].name));
      ASSERT(!memcmp(key, t.cols[col].name, klen));
      const unsigned char *val = field(entry, entry + elen, 2, &vlen, NULL);
      ASSERT(val);
      const unsigned char *vp = val;
      uint64_t tag = varint(&vp, val + vlen);
      unsigned kind = (unsigned)(tag >> 3);
      size_t llen = (size_t)varint(&vp, val + vlen);
      bool null = column_is_null(&t.cols[col], (size_t)records);
      enum ftype ty = t.cols[col].type;
      ASSERT_EQ(kind, ty == FT_STRING ? 1u : (ty == FT_FLOAT || ty == FT_DOUBLE) ? 2u : 3u);
      if (null) ASSERT_EQ(llen, 0);
      else if (col == 1) { /* bigint: packed varint */
        size_t plen;
        const unsigned char *packed = field(vp, vp + llen, 1, &plen, NULL);
        ASSERT_EQ((int64_t)varint(&packed, packed + plen), column_i64(&t.cols[1], (size_t)records));
      } else if (col == 0 && records == 0) { /* -1 as a 10-byte varint */
        size_t plen;
        const unsigned char *packed = field(vp, vp + llen, 1, &plen, NULL);
        ASSERT_EQ(plen, 10);
        ASSERT_EQ((int64_t)varint(&packed, packed + plen), -1);
      } else if (col == 3) {
        size_t plen;
        const unsigned char *packed = field(vp, vp + llen, 1, &plen, NULL);
        ASSERT_EQ(plen, 4);
        float f;
        memcpy(&f, packed, 4);
        ASSERT(f == column_f32(&t.cols[3], (size_t)records));
      } else if (col == 7) {
        size_t slen;
        const unsigned char *s = field(vp, vp + llen, 1, &slen, NULL);
        size_t want;
        const char *ws = column_str(&t.cols[7], (size_t)records, &want);
        ASSERT_EQ(slen, want);
        ASSERT(!memcmp(s, ws, slen));
      }
      it = after;
      col++;
    }
    ASSERT_EQ(col, 8);
    p = q + 4;
    records++;
  }
  ASSERT_EQ(records, 3);
  free(data);
  free(path);
  table_release(&t);
}

TEST(hdf5_features_labels_columns) {
  struct table t;
  sample(&t);
  struct matrix fm, lm;
  oast_err e;
  int fc[] = {2, 3}, lc[] = {4};
  ASSERT_EQ(matrix_from_table(&t, fc, 2, &fm, &e), 0);
  ASSERT_EQ(matrix_from_table(&t, lc, 1, &lm, &e), 0);
  const char *fn[] = {"d", "f"}, *ln[] = {"ok"};
  char *path = xasprintf("%s/x.h5", test_tmpdir());
  ASSERT_EQ(h5_write_training(path, &fm, fn, &lm, ln, &e), 0);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT(f >= 0);
  hid_t ds = H5Dopen2(f, "features", H5P_DEFAULT);
  hsize_t dims[2];
  hid_t sp = H5Dget_space(ds);
  ASSERT_EQ(H5Sget_simple_extent_ndims(sp), 2);
  H5Sget_simple_extent_dims(sp, dims, NULL);
  ASSERT_EQ(dims[0], 3);
  ASSERT_EQ(dims[1], 2);
  double v[6];
  ASSERT(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
  ASSERT(v[5] == 2.5 && v[4] == 1.0);
  H5Sclose(sp);
  H5Dclose(ds);
  ds = H5Dopen2(f, "labels", H5P_DEFAULT);
  sp = H5Dget_space(ds);
  ASSERT_EQ(H5Sget_simple_extent_ndims(sp), 1);
  int64_t l[3];
  ASSERT(H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, l) >= 0);
  ASSERT(l[0] == 0 && l[2] == 1);
  H5Sclose(sp);
  H5Dclose(ds);
  H5Fclose(f);
  matrix_release(&fm);
  matrix_release(&lm);
  free(path);
  table_release(&t);
}

TEST(online_keeps_latest_event_time) {
  struct online *o;
  oast_err e;
  char *dir = xasprintf("%s/online", test_tmpdir());
  ASSERT_EQ(online_open(&o, dir, 1 << 24, &e), 0);
  const char *names[] = {"id", "ts", "v"};
  enum ftype types[] = {FT_BIGINT, FT_TIMESTAMP, FT_DOUBLE};
  struct table t;
  table_init(&t, 3, names, types);
  int64_t rows[][2] = {{1, 20}, {1, 10}, {2, 5}, {2, 5}};
  for (int i = 0; i < 4; i++) {
    column_append_i64(&t.cols[0], rows[i][0]);
    column_append_i64(&t.cols[1], rows[i][1]);
    column_append_f64(&t.cols[2], i);
  }
  table_check(&t, NULL);
  int pk[] = {0};
  ASSERT_EQ(online_apply_latest(o, 3, &t, pk, 1, 1, 7, &e), 0);
  json_t *k = json_integer(1), *row = NULL;
  ASSERT_EQ(online_get(o, 3, &t, pk, 1, &k, &row, &e), 0);
  ASSERT(json_real_value(json_array_get(row, 2)) == 0); /* ts 20 beats the later row at ts 10 */
  json_decref(row);
  json_decref(k);
  k = json_integer(2);
  ASSERT_EQ(online_get(o, 3, &t, pk, 1, &k, &row, &e), 0);
  ASSERT(json_real_value(json_array_get(row, 2)) == 3); /* a tie: the later row */
  json_decref(row);
  /* A later commit with an older row changes nothing; a newer one replaces. */
  table_release(&t);
  table_init(&t, 3, names, types);
  column_append_i64(&t.cols[0], 2);
  column_append_i64(&t.cols[1], 4);
  column_append_f64(&t.cols[2], 9);
  table_check(&t, NULL);
  ASSERT_EQ(online_apply_latest(o, 3, &t, pk, 1, 1, 8, &e), 0);
  ASSERT_EQ(online_get(o, 3, &t, pk, 1, &k, &row, &e), 0);
  ASSERT(json_real_value(json_array_get(row, 2)) == 3);
  json_decref(row);
  ASSERT_EQ(online_marker(o, 3), 8);
  json_decref(k);
  table_release(&t);
  online_free(o);
  free(dir);
}
