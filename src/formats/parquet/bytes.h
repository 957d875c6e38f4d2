/*
 * bytes.h — the growable byte array and little-endian helpers the Parquet
 * encoder and decoder build pages in (internal to src/formats/parquet).
 * Kept separate from util/buf.h because these buffers hold binary page data
 * produced by our own code (no cap, no NUL terminator) and sit in the hot
 * loops, where an inline reserve matters.
 */
#ifndef FORMATS_PARQUET_BYTES_H
#define FORMATS_PARQUET_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/alloc.h"

/* Plain-encoded Parquet values are little-endian, and so is every machine
 * Oast targets; the codec copies them with memcpy. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the Parquet codec needs a little-endian host");

struct pqbuf {
  uint8_t *p;   /* owned */
  size_t len, cap;
};

static inline void pqbuf_release(struct pqbuf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* Room for n more bytes; returns where they go (len is not advanced). */
static inline uint8_t *pqbuf_room(struct pqbuf *b, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
  }
  return b->p + b->len;
}

static inline void pqbuf_put(struct pqbuf *b, const void *p, size_t n) {
  if (n) memcpy(pqbuf_room(b, n), p, n);
  b->len += n;
}

static inline void pqbuf_put_byte(struct pqbuf *b, uint8_t v) {
  *pqbuf_room(b, 1) = v;
  b->len++;
}

static inline void pqbuf_put_u32le(struct pqbuf *b, uint32_t v) {
  uint8_t *o = pqbuf_room(b, 4);
  o[0] = (uint8_t)v;
  o[1] = (uint8_t)(v >> 8);
  o[2] = (uint8_t)(v >> 16);
  o[3] = (uint8_t)(v >> 24);
  b->len += 4;
}

static inline void pqbuf_put_varint(struct pqbuf *b, uint64_t v) {
  uint8_t *o = pqbuf_room(b, 10);
  size_t k = 0;
  while (v >= 0x80) {
    o[k++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  o[k++] = (uint8_t)v;
  b->len += k;
}

/* Scratch space of at least n bytes; contents are not kept. */
static inline void *pqbuf_scratch(struct pqbuf *b, size_t n) {
  b->len = 0;
  return pqbuf_room(b, n);
}

static inline uint32_t rd_u32le(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t rd_u64le(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

#endif
