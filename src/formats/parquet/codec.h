/*
 * codec.h — page compression for Parquet (internal to src/formats/parquet):
 * UNCOMPRESSED, SNAPPY (libsnappy), GZIP (zlib) and ZSTD (libzstd).
 *
 * A `struct pqz` holds the per-thread compression state (zstd contexts,
 * a zlib stream) so hot loops reuse it instead of setting it up per page.
 * Decompression writes exactly the size the page header announced into a
 * buffer of that size and fails when the data decompresses to anything
 * else, so a corrupt page cannot overrun a buffer or hand back garbage.
 */
#ifndef FORMATS_PARQUET_CODEC_H
#define FORMATS_PARQUET_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/parquet/bytes.h"
#include "oast/error.h"

struct pqz {
  void *zc;   /* ZSTD_CCtx, created on first use */
  void *zd;   /* ZSTD_DCtx */
};

void pqz_release(struct pqz *z);
bool pqz_supported(int codec);
/* Appends the compressed form of src to out. level 0: the codec's default. */
int pqz_compress(struct pqz *z, int codec, int level, const uint8_t *src, size_t n, struct pqbuf *out, oast_err *e);
/* Decompresses src into exactly dst_n bytes at dst. */
int pqz_decompress(struct pqz *z, int codec, const uint8_t *src, size_t n, uint8_t *dst, size_t dst_n, oast_err *e);

#endif
