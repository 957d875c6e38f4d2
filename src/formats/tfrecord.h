/*
 * tfrecord.h — TFRecord files of tf.train.Example records, the training
 * data format TensorFlow reads with tf.data.TFRecordDataset.
 *
 * Each row becomes one Example: a Features map from the column name to a
 * Feature holding one value in an Int64List (int, bigint, boolean as 0/1,
 * date as days and timestamp as microseconds since the epoch), a
 * FloatList (float and double; the list is float32, as TensorFlow's is)
 * or a BytesList (string, UTF-8). A null is a Feature with an empty list
 * of its column's kind. Map entries follow the column order.
 *
 * Each record is framed as TFRecord frames everything:
 *   uint64 length, little-endian | uint32 masked crc32c of those 8 bytes
 *   | data | uint32 masked crc32c of the data
 * with the mask of util/crc32c.h. The protobuf encoding is written by
 * hand: four small message types do not justify a protobuf dependency.
 */
#ifndef FORMATS_TFRECORD_H
#define FORMATS_TFRECORD_H

#include <stddef.h>

#include "formats/table.h"
#include "oast/error.h"
#include "util/buf.h"

/* Appends row `row` of t as a serialized tf.train.Example. */
void tfrecord_encode_example(const struct table *t, size_t row, struct buf *out);
/* Appends the TFRecord frame of data[0..len). */
void tfrecord_frame(struct buf *out, const void *data, size_t len);
/* Writes every row of t to path as one record each, atomically (util/fs.h). */
int tfrecord_write(const char *path, const struct table *t, oast_err *e);

#endif
