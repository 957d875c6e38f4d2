/*
 * rle.c — Parquet's integer encodings (see rle.h).
 *
 * The hybrid encoder scans runs of equal values: a run of 8 or more
 * becomes an RLE run, anything shorter joins the pending literal span,
 * which is bit-packed in groups of 8 straight from the input (no copy).
 * Before an RLE run the literal span is topped up to a multiple of 8 with
 * values taken from the run, as the format requires whole groups.
 *
 * Width-1 data (definition levels, booleans) is the hot case, so it packs
 * and unpacks 8 values at a time with one multiplication: bytes that are
 * 0 or 1 in a 64-bit word gather into one byte when multiplied by
 * 0x0102040810204080 (each bit lands at a distinct position, so nothing
 * carries), and a byte spreads back into 8 bytes through a mask.
 */
#include "formats/parquet/rle.h"

#include <string.h>

int rle_bit_width(uint64_t max) {
  int bw = 0;
  while (max) {
    bw++;
    max >>= 1;
  }
  return bw;
}

static inline uint8_t pack8(const uint8_t *v) {
  uint64_t x;
  memcpy(&x, v, 8);
  /* Normalize nonzero bytes to 1 first: (x | x>>1 | ...) & 1 per byte. */
  x |= x >> 4;
  x |= x >> 2;
  x |= x >> 1;
  x &= 0x0101010101010101ULL;
  return (uint8_t)((x * 0x0102040810204080ULL) >> 56);
}

static inline void unpack8(uint8_t b, uint8_t *out) {
  uint64_t x = (b * 0x0101010101010101ULL) & 0x8040201008040201ULL;
  x = ((x + 0x7F7F7F7F7F7F7F7FULL) >> 7) & 0x0101010101010101ULL;
  memcpy(out, &x, 8);
}

void bitpack_bools(uint8_t *out, const uint8_t *v, size_t n) {
  size_t i = 0, o = 0;
  for (; i + 8 <= n; i += 8) out[o++] = pack8(v + i);
  if (i < n) {
    uint8_t b = 0;
    for (size_t k = 0; i + k < n; k++) b |= (uint8_t)((v[i + k] != 0) << k);
    out[o] = b;
  }
}

void unpack_bools(const uint8_t *p, size_t count, uint8_t *out) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) unpack8(p[i >> 3], out + i);
  for (; i < count; i++) out[i] = (p[i >> 3] >> (i & 7)) & 1;
}

/* Bit-packs n values (n a multiple of 8 after zero padding) of width bw. */
static void pack_u32(struct pqbuf *out, const uint32_t *v, size_t n, size_t padded, int bw) {
  size_t nbytes = padded * (size_t)bw / 8;
  uint8_t *o = pqbuf_room(out, nbytes + 8);
  uint64_t acc = 0;
  int bits = 0;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    acc |= (uint64_t)v[i] << bits;
    bits += bw;
    while (bits >= 8) {
      o[k++] = (uint8_t)acc;
      acc >>= 8;
      bits -= 8;
    }
  }
  /* Zero padding up to a whole number of groups. */
  while (k < nbytes) {
    o[k++] = (uint8_t)acc;
    acc >>= 8;
  }
  out->len += nbytes;
}

static void emit_literal_bits(struct pqbuf *out, const uint8_t *v, size_t n) {
  size_t groups = (n + 7) / 8;
  pqbuf_put_varint(out, (uint64_t)groups << 1 | 1);
  bitpack_bools(pqbuf_room(out, groups), v, n);
  out->len += groups;
}

static void emit_literal_u32(struct pqbuf *out, const uint32_t *v, size_t n, int bw) {
  size_t groups = (n + 7) / 8;
  pqbuf_put_varint(out, (uint64_t)groups << 1 | 1);
  pack_u32(out, v, n, groups * 8, bw);
}

static void emit_rle(struct pqbuf *out, uint32_t v, size_t run, int bw) {
  pqbuf_put_varint(out, (uint64_t)run << 1);
  for (int b = 0; b < (bw + 7) / 8; b++) pqbuf_put_byte(out, (uint8_t)(v >> (8 * b)));
}

/* The run scanner, shared by both input widths. EQ compares two inputs,
 * LIT emits a literal span, VAL reads a value for an RLE run. */
#define RLE_ENCODE_BODY(EQ, LIT, VAL)                                   \
  size_t i = 0, lit = 0;                                                \
  while (i < n) {                                                       \
    size_t j = i + 1;                                                   \
    while (j < n && EQ(v[j], v[i])) j++;                                \
    size_t run = j - i;                                                 \
    if (run >= 8) {                                                     \
      size_t litlen = i - lit;                                          \
      if (litlen) {                                                     \
        size_t pad = (8 - litlen % 8) % 8;                              \
        i += pad;                                                       \
        run -= pad;                                                     \
        LIT(v + lit, litlen + pad);                                     \
        lit = i;                                                        \
      }                                                                 \
      if (run >= 8) {                                                   \
        emit_rle(out, VAL(v[i]), run, bw);                              \
        lit = j;                                                        \
      }                                                                 \
    }                                                                   \
    i = j;                                                              \
  }                                                                     \
  if (lit < n) LIT(v + lit, n - lit);

#define EQ_BITS(a, b) (((a) != 0) == ((b) != 0))
#define LIT_BITS(p, m) emit_literal_bits(out, p, m)
#define VAL_BITS(x) ((uint32_t)((x) != 0))
#define EQ_U32(a, b) ((a) == (b))
#define LIT_U32(p, m) emit_literal_u32(out, p, m, bw)
#define VAL_U32(x) (x)

void rle_encode_bits(struct pqbuf *out, const uint8_t *v, size_t n) {
  const int bw = 1;
  RLE_ENCODE_BODY(EQ_BITS, LIT_BITS, VAL_BITS)
}

void rle_encode_u32(struct pqbuf *out, const uint32_t *v, size_t n, int bw) {
  RLE_ENCODE_BODY(EQ_U32, LIT_U32, VAL_U32)
}

/* ---- decoding ---- */

static ssize_t get_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= n) return -1;
    uint8_t b = p[(*pos)++];
    v |= (uint64_t)(b & 0x7F) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return -1;
}

/* Unpacks count values of width bw (1..32) from p (avail bytes, enough for them). */
static void unpack_u32(const uint8_t *p, size_t avail, int bw, size_t count, uint32_t *out) {
  uint64_t mask = bw == 32 ? 0xFFFFFFFFULL : ((1ULL << bw) - 1);
  size_t i = 0;
  size_t bit = 0;
  /* Fast path while 8 bytes can be loaded at the value's first byte. */
  for (; i < count && (bit >> 3) + 8 <= avail; i++, bit += (size_t)bw)
    out[i] = (uint32_t)((rd_u64le(p + (bit >> 3)) >> (bit & 7)) & mask);
  for (; i < count; i++, bit += (size_t)bw) {
    uint64_t acc = 0;
    size_t first = bit >> 3;
    for (size_t b = 0; b < 5 && first + b < avail; b++) acc |= (uint64_t)p[first + b] << (8 * b);
    out[i] = (uint32_t)((acc >> (bit & 7)) & mask);
  }
}

/*
 * The hybrid decoder for both output forms: 32-bit values (out8 == NULL)
 * or width-1 values as bytes (out32 == NULL, bw == 1). Returns bytes used.
 */
static ssize_t rle_decode(const uint8_t *p, size_t n, int bw, size_t count, uint32_t *out32, uint8_t *out8) {
  if (bw < 0 || bw > 32) return -1;
  size_t pos = 0, got = 0;
  size_t vbytes = (size_t)(bw + 7) / 8;
  while (got < count) {
    uint64_t h;
    if (get_varint(p, n, &pos, &h) < 0) return -1;
    if (h & 1) {
      uint64_t groups = h >> 1;
      if (groups > ((uint64_t)1 << 31)) return -1;
      size_t nvals = (size_t)groups * 8;
      size_t take = nvals < count - got ? nvals : count - got;
      size_t full = (size_t)groups * (size_t)bw;
      size_t need = (take * (size_t)bw + 7) / 8;
      if (need > n - pos) return -1;
      if (out8) unpack_bools(p + pos, take, out8 + got);
      else if (bw == 0) memset(out32 + got, 0, take * sizeof *out32);
      else unpack_u32(p + pos, n - pos, bw, take, out32 + got);
      /* The last run may stop after its last used byte. */
      pos += full < n - pos ? full : n - pos;
      got += take;
    } else {
      uint64_t run = h >> 1;
      if (vbytes > n - pos) return -1;
      uint32_t v = 0;
      for (size_t b = 0; b < vbytes; b++) v |= (uint32_t)p[pos + b] << (8 * b);
      pos += vbytes;
      if (bw < 32 && (v >> bw)) return -1;
      size_t take = run < count - got ? (size_t)run : count - got;
      if (out8) memset(out8 + got, (int)v, take);
      else for (size_t k = 0; k < take; k++) out32[got + k] = v;
      got += take;
    }
  }
  return (ssize_t)pos;
}

ssize_t rle_decode_u32(const uint8_t *p, size_t n, int bw, size_t count, uint32_t *out) {
  return rle_decode(p, n, bw, count, out, NULL);
}

ssize_t rle_decode_bits(const uint8_t *p, size_t n, size_t count, uint8_t *out) {
  return rle_decode(p, n, 1, count, NULL, out);
}

/* ---- DELTA_BINARY_PACKED ---- */

static int get_zigzag(const uint8_t *p, size_t n, size_t *pos, int64_t *out) {
  uint64_t u;
  if (get_varint(p, n, pos, &u) < 0) return -1;
  *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
  return 0;
}

/* Unpacks count values of width bw (0..64) as uint64 from p (avail bytes). */
static void unpack_u64(const uint8_t *p, size_t avail, int bw, size_t count, uint64_t *out) {
  if (bw == 0) {
    memset(out, 0, count * sizeof *out);
    return;
  }
  uint64_t mask = bw == 64 ? ~0ULL : ((1ULL << bw) - 1);
  size_t bit = 0;
  for (size_t i = 0; i < count; i++, bit += (size_t)bw) {
    size_t first = bit >> 3;
    int sh = (int)(bit & 7);
    uint64_t lo = 0;
    /* Up to 9 bytes hold a 64-bit value that starts mid-byte. */
    for (size_t b = 0; b < 8 && first + b < avail; b++) lo |= (uint64_t)p[first + b] << (8 * b);
    uint64_t v = lo >> sh;
    if (sh && bw + sh > 64 && first + 8 < avail) v |= (uint64_t)p[first + 8] << (64 - sh);
    out[i] = v & mask;
  }
}

ssize_t delta_decode(const uint8_t *p, size_t n, int64_t *out, size_t max, size_t *count) {
  size_t pos = 0;
  uint64_t block, nmini, total;
  int64_t first;
  if (get_varint(p, n, &pos, &block) < 0 || get_varint(p, n, &pos, &nmini) < 0 ||
      get_varint(p, n, &pos, &total) < 0 || get_zigzag(p, n, &pos, &first) < 0)
    return -1;
  if (block == 0 || block % 128 || block > 65536 || nmini == 0 || block % nmini || (block / nmini) % 32)
    return -1;
  if (total > max) return -1;
  *count = (size_t)total;
  if (total == 0) return (ssize_t)pos;
  size_t per_mini = (size_t)(block / nmini);
  uint64_t scratch[2048];   /* per_mini <= block <= 65536, but unpacked in slices of 2048 */
  out[0] = first;
  size_t got = 1;
  uint64_t prev = (uint64_t)first;
  while (got < total) {
    int64_t min_delta;
    if (get_zigzag(p, n, &pos, &min_delta) < 0) return -1;
    if (nmini > n - pos) return -1;
    const uint8_t *widths = p + pos;
    pos += (size_t)nmini;
    for (size_t m = 0; m < nmini && got < total; m++) {
      int bw = widths[m];
      if (bw > 64) return -1;
      size_t bytes = per_mini * (size_t)bw / 8;
      size_t take = per_mini < total - got ? per_mini : (size_t)total - got;
      if ((take * (size_t)bw + 7) / 8 > n - pos) return -1;
      const uint8_t *mp = p + pos;
      size_t done = 0;
      while (done < take) {
        size_t slice = take - done < 2048 ? take - done : 2048;
        /* Slices start at multiples of 2048 values, so at byte boundaries. */
        size_t off = done * (size_t)bw / 8;
        unpack_u64(mp + off, n - pos - off, bw, slice, scratch);
        for (size_t k = 0; k < slice; k++) {
          prev += (uint64_t)min_delta + scratch[k];
          out[got + done + k] = (int64_t)prev;
        }
        done += slice;
      }
      got += take;
      pos += bytes < n - pos ? bytes : n - pos;
    }
  }
  return (ssize_t)pos;
}

void bss_decode(const uint8_t *src, size_t k, size_t w, uint8_t *dst) {
  for (size_t b = 0; b < w; b++) {
    const uint8_t *s = src + b * k;
    for (size_t i = 0; i < k; i++) dst[i * w + b] = s[i];
  }
}
