/*
 * rle.h — Parquet's integer encodings (internal to src/formats/parquet):
 * the RLE/bit-packed hybrid (definition levels, dictionary indices,
 * booleans), plain bit-packed booleans, DELTA_BINARY_PACKED and the
 * BYTE_STREAM_SPLIT transposition.
 *
 * Encoders append to a pqbuf and cannot fail. Decoders read untrusted
 * bytes: each checks every length against the bytes it was given and
 * returns the number of bytes it consumed, or -1 when the input is short
 * or malformed; they never read or write outside the buffers they got.
 */
#ifndef FORMATS_PARQUET_RLE_H
#define FORMATS_PARQUET_RLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "formats/parquet/bytes.h"

/* Bits needed for values 0..max (0 for max == 0). */
int rle_bit_width(uint64_t max);

/* Hybrid-encodes n values of bit width 1 given as bytes (nonzero = 1). */
void rle_encode_bits(struct pqbuf *out, const uint8_t *v, size_t n);
/* Hybrid-encodes n values, each below 2^bw (1 <= bw <= 32). */
void rle_encode_u32(struct pqbuf *out, const uint32_t *v, size_t n, int bw);
/* Bit-packs n booleans (bytes, nonzero = true) LSB first into (n+7)/8 bytes at out. */
void bitpack_bools(uint8_t *out, const uint8_t *v, size_t n);

/* Decodes count values of bit width 1 into bytes 0/1. */
ssize_t rle_decode_bits(const uint8_t *p, size_t n, size_t count, uint8_t *out);
/* Decodes count values of bit width bw (0..32). */
ssize_t rle_decode_u32(const uint8_t *p, size_t n, int bw, size_t count, uint32_t *out);
/* Unpacks count bit-packed booleans into bytes 0/1; needs (count+7)/8 bytes at p. */
void unpack_bools(const uint8_t *p, size_t count, uint8_t *out);

/*
 * DELTA_BINARY_PACKED: decodes the value count from the header into *count
 * (refused above max) and the values into out (max slots, as 64-bit
 * integers with wrap-around arithmetic; INT32 columns truncate them).
 */
ssize_t delta_decode(const uint8_t *p, size_t n, int64_t *out, size_t max, size_t *count);

/* BYTE_STREAM_SPLIT: k values of width w, streams at src, values to dst. */
void bss_decode(const uint8_t *src, size_t k, size_t w, uint8_t *dst);

#endif
