/* tfrecord.c — tf.train.Example records in TFRecord files (see tfrecord.h). */
#include "formats/tfrecord.h"

#include <string.h>

#include "util/crc32c.h"
#include "util/fs.h"

static void put_varint(struct buf *b, uint64_t v) {
  unsigned char x[10];
  size_t n = 0;
  do {
    x[n] = (unsigned char)(v & 0x7f);
    v >>= 7;
    if (v) x[n] |= 0x80;
    n++;
  } while (v);
  buf_append(b, x, n);
}

/* A length-delimited field (wire type 2). */
static void put_field(struct buf *b, unsigned field, const void *data, size_t len) {
  put_varint(b, ((uint64_t)field << 3) | 2);
  put_varint(b, len);
  buf_append(b, data, len);
}

enum { BYTES_LIST = 1, FLOAT_LIST = 2, INT64_LIST = 3 };

/* The Feature message of one cell into f. */
static void feature_of(const struct column *c, size_t row, struct buf *f, struct buf *list) {
  buf_reset(f);
  buf_reset(list);
  int kind;
  switch (c->type) {
    case FT_FLOAT: case FT_DOUBLE: kind = FLOAT_LIST; break;
    case FT_STRING: kind = BYTES_LIST; break;
    default: kind = INT64_LIST; break;
  }
  if (!column_is_null(c, row)) {
    if (kind == BYTES_LIST) {
      size_t n;
      const char *s = column_str(c, row, &n);
      put_field(list, 1, s, n);
    } else if (kind == FLOAT_LIST) {
      float v = c->type == FT_FLOAT ? column_f32(c, row) : (float)column_f64(c, row);
      unsigned char le[4];
      uint32_t u;
      memcpy(&u, &v, 4);
      for (int i = 0; i < 4; i++) le[i] = (unsigned char)(u >> (8 * i));
      put_field(list, 1, le, 4); /* packed: one 4-byte value */
    } else {
      int64_t v;
      switch (c->type) {
        case FT_INT: case FT_DATE: v = column_i32(c, row); break;
        case FT_BOOLEAN: v = column_bool(c, row); break;
        default: v = column_i64(c, row); break;
      }
      struct buf packed;
      buf_init(&packed, 0);
      put_varint(&packed, (uint64_t)v);
      put_field(list, 1, packed.data, packed.len);
      buf_release(&packed);
    }
  }
  put_field(f, (unsigned)kind, list->data ? list->data : "", list->len);
}

void tfrecord_encode_example(const struct table *t, size_t row, struct buf *out) {
  struct buf features, entry, feature, list;
  buf_init(&features, 0);
  buf_init(&entry, 0);
  buf_init(&feature, 0);
  buf_init(&list, 0);
  for (size_t c = 0; c < t->ncols; c++) {
    buf_reset(&entry);
    put_field(&entry, 1, t->cols[c].name, strlen(t->cols[c].name));
    feature_of(&t->cols[c], row, &feature, &list);
    put_field(&entry, 2, feature.data, feature.len);
    put_field(&features, 1, entry.data, entry.len);
  }
  put_field(out, 1, features.data ? features.data : "", features.len);
  buf_release(&features);
  buf_release(&entry);
  buf_release(&feature);
  buf_release(&list);
}

static void put_u32le(struct buf *b, uint32_t v) {
  unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
  buf_append(b, x, 4);
}

void tfrecord_frame(struct buf *out, const void *data, size_t len) {
  unsigned char l[8];
  for (int i = 0; i < 8; i++) l[i] = (unsigned char)((uint64_t)len >> (8 * i));
  buf_append(out, l, 8);
  put_u32le(out, crc32c_mask(crc32c(l, 8)));
  buf_append(out, data, len);
  put_u32le(out, crc32c_mask(crc32c(data, len)));
}

int tfrecord_write(const char *path, const struct table *t, oast_err *e) {
  struct fs_tmp f;
  int rc = fs_tmp_open(&f, path, 0600, e);
  if (rc) return rc;
  struct buf rec, out;
  buf_init(&rec, 0);
  buf_init(&out, 0);
  for (size_t r = 0; r < t->nrows && !rc; r++) {
    buf_reset(&rec);
    tfrecord_encode_example(t, r, &rec);
    tfrecord_frame(&out, rec.data, rec.len);
    if (out.len >= (1u << 20) || r + 1 == t->nrows) {
      rc = fs_tmp_write(&f, out.data, out.len, e);
      buf_reset(&out);
    }
  }
  buf_release(&rec);
  buf_release(&out);
  if (!rc) rc = fs_tmp_commit(&f, e);
  if (rc) fs_tmp_discard(&f);
  return rc;
}
