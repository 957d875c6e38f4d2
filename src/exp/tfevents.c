/*
 * tfevents.c — the TensorBoard event file writer (see tfevents.h).
 *
 * Protobuf wire format used here: a field key is the varint
 * (number << 3 | wire type); wire type 0 is a varint, 1 a little-endian
 * fixed64, 2 a varint length followed by that many bytes (strings and
 * nested messages), 5 a little-endian fixed32. Event is {1: double
 * wall_time, 2: int64 step, 3: string file_version, 5: Summary summary};
 * Summary is {1: repeated Value value}; Value is {1: string tag,
 * 2: float simple_value}. Nested messages are encoded into a scratch
 * buffer first because their length prefixes come before them.
 */
#define _GNU_SOURCE
#include "exp/tfevents.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/crc32c.h"

static int put_varint(struct buf *b, uint64_t v) {
  unsigned char tmp[10];
  size_t n = 0;
  do {
    tmp[n++] = (unsigned char)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
    v >>= 7;
  } while (v);
  return buf_append(b, tmp, n);
}

static int put_le(struct buf *b, uint64_t v, size_t n) {
  unsigned char tmp[8];
  for (size_t i = 0; i < n; i++) tmp[i] = (unsigned char)(v >> (8 * i));
  return buf_append(b, tmp, n);
}

static int put_bytes(struct buf *b, unsigned field, const void *data, size_t len) {
  int rc;
  if ((rc = put_varint(b, field << 3 | 2)) || (rc = put_varint(b, len))) return rc;
  return buf_append(b, data, len);
}

int tfevents_frame(struct buf *out, const void *data, size_t len) {
  unsigned char hdr[8];
  for (int i = 0; i < 8; i++) hdr[i] = (unsigned char)((uint64_t)len >> (8 * i));
  int rc;
  if ((rc = buf_append(out, hdr, 8)) || (rc = put_le(out, crc32c_mask(crc32c(hdr, 8)), 4)) ||
      (rc = buf_append(out, data, len)))
    return rc;
  return put_le(out, crc32c_mask(crc32c(data, len)), 4);
}

int tfevents_encode_event(struct buf *out, double wall_time, int64_t step, const char *file_version, size_t n,
                          const char *const *tags, const double *values) {
  uint64_t bits;
  memcpy(&bits, &wall_time, 8);
  int rc;
  if ((rc = put_varint(out, 1 << 3 | 1)) || (rc = put_le(out, bits, 8))) return rc;
  if (step != 0 && ((rc = put_varint(out, 2 << 3 | 0)) || (rc = put_varint(out, (uint64_t)step)))) return rc;
  if (file_version) return put_bytes(out, 3, file_version, strlen(file_version));
  struct buf summary = BUF_INIT, value = BUF_INIT;
  for (size_t i = 0; i < n && !rc; i++) {
    float f = (float)values[i];
    uint32_t fbits;
    memcpy(&fbits, &f, 4);
    buf_reset(&value);
    if (!(rc = put_bytes(&value, 1, tags[i], strlen(tags[i]))) && !(rc = put_varint(&value, 2 << 3 | 5)) &&
        !(rc = put_le(&value, fbits, 4)))
      rc = put_bytes(&summary, 1, value.data, value.len);
  }
  if (!rc) rc = put_bytes(out, 5, summary.data ? summary.data : "", summary.len);
  buf_release(&summary);
  buf_release(&value);
  return rc;
}

static int write_all(struct tfevents *w, const void *data, size_t len, oast_err *e) {
  const char *p = data;
  while (len > 0) {
    ssize_t k = write(w->fd, p, len);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return oast_err_set(e, OAST_EIO, "cannot write %s: %s", w->path, strerror(errno));
    p += k;
    len -= (size_t)k;
  }
  return 0;
}

static int write_event(struct tfevents *w, double wall_time, int64_t step, const char *file_version, size_t n,
                       const char *const *tags, const double *values, oast_err *e) {
  if (w->fd < 0) return oast_err_set(e, OAST_EINTERNAL, "the event file is closed");
  struct buf ev = BUF_INIT, rec = BUF_INIT;
  tfevents_encode_event(&ev, wall_time, step, file_version, n, tags, values);
  tfevents_frame(&rec, ev.data ? ev.data : "", ev.len);
  int rc = write_all(w, rec.data, rec.len, e);
  buf_release(&ev);
  buf_release(&rec);
  return rc;
}

int tfevents_open(struct tfevents *w, const char *dir, double wall_time, const char *suffix, oast_err *e) {
  char host[256];
  w->fd = -1;
  w->path = NULL;
  if (!suffix) {
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    suffix = host;
  }
  for (int i = 0; i < 100 && w->fd < 0; i++) {
    free(w->path);
    w->path = i ? xasprintf("%s/events.out.tfevents.%lld.%s.%d", dir, (long long)wall_time, suffix, i)
                : xasprintf("%s/events.out.tfevents.%lld.%s", dir, (long long)wall_time, suffix);
    w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (w->fd < 0 && errno != EEXIST) break;
  }
  if (w->fd < 0) {
    int rc = oast_err_set(e, OAST_EIO, "cannot create %s: %s", w->path, strerror(errno));
    free(w->path);
    w->path = NULL;
    return rc;
  }
  int rc = write_event(w, wall_time, 0, "brain.Event:2", 0, NULL, NULL, e);
  if (rc) {
    close(w->fd);
    unlink(w->path);
    free(w->path);
    w->path = NULL;
    w->fd = -1;
  }
  return rc;
}

int tfevents_scalars(struct tfevents *w, double wall_time, int64_t step, size_t n, const char *const *tags,
                     const double *values, oast_err *e) {
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(tags[i]);
    if (len == 0 || len > TFEVENTS_MAX_TAG)
      return oast_err_set(e, OAST_EBAD_REQUEST, "metric name: must be 1 to %d bytes", TFEVENTS_MAX_TAG);
  }
  return write_event(w, wall_time, step, NULL, n, tags, values, e);
}

int tfevents_scalar(struct tfevents *w, double wall_time, int64_t step, const char *tag, double value, oast_err *e) {
  return tfevents_scalars(w, wall_time, step, 1, &tag, &value, e);
}

int tfevents_flush(struct tfevents *w, oast_err *e) {
  if (w->fd >= 0 && fsync(w->fd) != 0)
    return oast_err_set(e, OAST_EIO, "cannot sync %s: %s", w->path, strerror(errno));
  return 0;
}

int tfevents_close(struct tfevents *w, oast_err *e) {
  int rc = 0;
  if (w->path) {
    rc = tfevents_flush(w, e);
    if (w->fd >= 0 && close(w->fd) != 0 && !rc)
      rc = oast_err_set(e, OAST_EIO, "cannot close %s: %s", w->path, strerror(errno));
  }
  free(w->path);
  w->path = NULL;
  w->fd = -1;
  return rc;
}

void tfevents_release(struct tfevents *w) {
  if (w->path && w->fd >= 0) close(w->fd);
  free(w->path);
  w->path = NULL;
  w->fd = -1;
}
