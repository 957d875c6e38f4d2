/*
 * buf.h — a growable byte buffer with an optional hard cap.
 *
 * Anything read from the network goes into a capped buffer: an append that
 * would pass `max` fails with OAST_ETOO_LARGE and leaves the buffer as it
 * was, so a client cannot make the server allocate without bound. The data
 * is always NUL-terminated (the terminator is not counted in len), so text
 * can be used as a C string directly.
 */
#ifndef UTIL_BUF_H
#define UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
  char *data;   /* owned; NULL until the first append */
  size_t len;
  size_t cap;
  size_t max;   /* 0: no cap */
};

#define BUF_INIT {NULL, 0, 0, 0}

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);           /* len = 0, keeps memory */
int buf_append(struct buf *b, const void *p, size_t n);   /* 0 or OAST_ETOO_LARGE */
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Ensures room for n more bytes; 0 or OAST_ETOO_LARGE. */
int buf_reserve(struct buf *b, size_t n);
/* Hands the data to the caller (who frees it) and resets b. Never NULL. */
char *buf_detach(struct buf *b, size_t *len);
/* A C string of the content; valid until the next change. Never NULL. */
const char *buf_cstr(struct buf *b);

#endif
