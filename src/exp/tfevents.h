/*
 * tfevents.h — TensorBoard event files for the metrics trials report.
 *
 * A file is a sequence of TFRecord records, each framed as
 *   uint64 length (little-endian) | uint32 masked crc32c(length bytes)
 *   | data | uint32 masked crc32c(data)
 * whose data is a serialized tensorflow.Event protobuf. The first event
 * carries file_version "brain.Event:2"; every later one carries
 * wall_time, step and a Summary of scalar values (simple_value) tagged by
 * metric name, which TensorBoard plots as scalars. The protobuf is
 * encoded by hand: three message types with a handful of fields do not
 * justify a protobuf dependency.
 *
 * Records are written with one write(2) each and no user-space buffer, so
 * a TensorBoard watching the directory sees them at once; fsync happens on
 * tfevents_flush and tfevents_close.
 */
#ifndef EXP_TFEVENTS_H
#define EXP_TFEVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "oast/error.h"
#include "util/buf.h"

#define TFEVENTS_MAX_TAG 1024 /* bytes of one tag */

struct tfevents {
  int fd;     /* -1 when closed */
  char *path; /* the file's path, owned */
};

/*
 * Creates DIR/events.out.tfevents.<seconds of wall_time>.<suffix> (with
 * ".1", ".2", ... appended if that name exists, so two writers never share
 * a file) and writes the file_version event. suffix is usually the host
 * name; NULL means this machine's host name. w is released on failure.
 */
int tfevents_open(struct tfevents *w, const char *dir, double wall_time, const char *suffix, oast_err *e);
/* One event holding n scalar values (tags[i] = values[i]) at step. A 400
 * for an empty or overlong tag. Values are stored as float, as
 * simple_value is. */
int tfevents_scalars(struct tfevents *w, double wall_time, int64_t step, size_t n, const char *const *tags,
                     const double *values, oast_err *e);
/* One scalar: tfevents_scalars with n = 1. */
int tfevents_scalar(struct tfevents *w, double wall_time, int64_t step, const char *tag, double value, oast_err *e);
/* fsyncs the file. */
int tfevents_flush(struct tfevents *w, oast_err *e);
/* fsyncs, closes and releases w; safe after a failed open, twice, or on a
 * zero-initialized writer. */
int tfevents_close(struct tfevents *w, oast_err *e);

/* Closes and releases w without fsync, for writers whose events are
 * not worth a disk flush on the caller's thread (every record is already
 * in the file, and the page cache writes it back). Safe as tfevents_close is. */
void tfevents_release(struct tfevents *w);

/* Encoders, also for other TFRecord writers. Both append to out; a capped
 * buffer that overflows returns OAST_ETOO_LARGE. */
/* The TFRecord framing of len bytes of data. */
int tfevents_frame(struct buf *out, const void *data, size_t len);
/* A serialized Event: wall_time, step, and either file_version (when
 * non-NULL) or a Summary of the n scalar values. */
int tfevents_encode_event(struct buf *out, double wall_time, int64_t step, const char *file_version, size_t n,
                          const char *const *tags, const double *values);

#endif
