/* codec.c — page compression for Parquet (see codec.h). */
#include "formats/parquet/codec.h"

#include <limits.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "formats/parquet/parquet.h"

void pqz_release(struct pqz *z) {
  if (!z) return;
  ZSTD_freeCCtx(z->zc);
  ZSTD_freeDCtx(z->zd);
  z->zc = z->zd = NULL;
}

bool pqz_supported(int codec) {
  return codec == PQ_UNCOMPRESSED || codec == PQ_SNAPPY || codec == PQ_GZIP || codec == PQ_ZSTD;
}

static int gzip_compress(int level, const uint8_t *src, size_t n, struct pqbuf *out, oast_err *e) {
  z_stream s;
  memset(&s, 0, sizeof s);
  /* windowBits 15 + 16: a gzip wrapper, which is what Parquet's GZIP means. */
  if (deflateInit2(&s, level ? level : 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return oast_err_set(e, OAST_EINTERNAL, "cannot start gzip compression");
  size_t bound = deflateBound(&s, (uLong)n);
  uint8_t *o = pqbuf_room(out, bound);
  s.next_in = (Bytef *)src;
  s.avail_in = (uInt)n;
  s.next_out = o;
  s.avail_out = (uInt)bound;
  int rc = deflate(&s, Z_FINISH);
  size_t produced = bound - s.avail_out;
  deflateEnd(&s);
  if (rc != Z_STREAM_END) return oast_err_set(e, OAST_EINTERNAL, "gzip compression failed");
  out->len += produced;
  return 0;
}

int pqz_compress(struct pqz *z, int codec, int level, const uint8_t *src, size_t n, struct pqbuf *out, oast_err *e) {
  if (n > INT32_MAX) return oast_err_set(e, OAST_EINTERNAL, "a Parquet page of %zu bytes is too large", n);
  switch (codec) {
    case PQ_UNCOMPRESSED: pqbuf_put(out, src, n); return 0;
    case PQ_SNAPPY: {
      size_t cap = snappy_max_compressed_length(n);
      size_t len = cap;
      if (snappy_compress((const char *)src, n, (char *)pqbuf_room(out, cap), &len) != SNAPPY_OK)
        return oast_err_set(e, OAST_EINTERNAL, "snappy compression failed");
      out->len += len;
      return 0;
    }
    case PQ_ZSTD: {
      if (!z->zc) z->zc = ZSTD_createCCtx();
      size_t cap = ZSTD_compressBound(n);
      size_t len = ZSTD_compressCCtx(z->zc, pqbuf_room(out, cap), cap, src, n, level ? level : 3);
      if (ZSTD_isError(len)) return oast_err_set(e, OAST_EINTERNAL, "zstd compression failed: %s", ZSTD_getErrorName(len));
      out->len += len;
      return 0;
    }
    case PQ_GZIP: return gzip_compress(level, src, n, out, e);
    default: return oast_err_set(e, OAST_EINTERNAL, "unknown Parquet codec %d", codec);
  }
}

static int gzip_decompress(const uint8_t *src, size_t n, uint8_t *dst, size_t dst_n, oast_err *e) {
  z_stream s;
  memset(&s, 0, sizeof s);
  /* windowBits 15 + 32: accept a gzip or a zlib header, as other readers do. */
  if (inflateInit2(&s, 15 + 32) != Z_OK) return oast_err_set(e, OAST_EINTERNAL, "cannot start gzip decompression");
  s.next_in = (Bytef *)src;
  s.avail_in = (uInt)n;
  s.next_out = dst;
  s.avail_out = (uInt)dst_n;
  int rc = inflate(&s, Z_FINISH);
  size_t produced = dst_n - s.avail_out;
  inflateEnd(&s);
  if (rc != Z_STREAM_END || produced != dst_n)
    return oast_err_set(e, OAST_EBAD_REQUEST, "gzip data is corrupt or not of the announced size");
  return 0;
}

int pqz_decompress(struct pqz *z, int codec, const uint8_t *src, size_t n, uint8_t *dst, size_t dst_n, oast_err *e) {
  if (n > UINT_MAX || dst_n > UINT_MAX)
    return oast_err_set(e, OAST_EBAD_REQUEST, "a compressed page of %zu bytes is too large", n);
  switch (codec) {
    case PQ_UNCOMPRESSED:
      if (n != dst_n) return oast_err_set(e, OAST_EBAD_REQUEST, "an uncompressed page's two sizes differ");
      memcpy(dst, src, n);
      return 0;
    case PQ_SNAPPY: {
      size_t len;
      if (snappy_uncompressed_length((const char *)src, n, &len) != SNAPPY_OK || len != dst_n)
        return oast_err_set(e, OAST_EBAD_REQUEST, "snappy data is corrupt or not of the announced size");
      len = dst_n;
      if (snappy_uncompress((const char *)src, n, (char *)dst, &len) != SNAPPY_OK || len != dst_n)
        return oast_err_set(e, OAST_EBAD_REQUEST, "snappy data is corrupt");
      return 0;
    }
    case PQ_ZSTD: {
      if (!z->zd) z->zd = ZSTD_createDCtx();
      size_t len = ZSTD_decompressDCtx(z->zd, dst, dst_n, src, n);
      if (ZSTD_isError(len) || len != dst_n)
        return oast_err_set(e, OAST_EBAD_REQUEST, "zstd data is corrupt or not of the announced size");
      return 0;
    }
    case PQ_GZIP: return gzip_decompress(src, n, dst, dst_n, e);
    default: return oast_err_set(e, OAST_EBAD_REQUEST, "compression codec %d is not supported", codec);
  }
}
