/*
 * meta.h — Parquet's footer (FileMetaData) and page headers as C structs,
 * with their Thrift encoding and decoding (internal to
 * src/formats/parquet).
 *
 * Only the fields Oast reads or writes are kept; the decoder skips the
 * rest (bloom filters, page indexes, size statistics, geospatial data) and
 * notes the ones whose presence means we cannot read the file correctly
 * (encryption, chunks in other files). Binary fields (statistics) point
 * into the decoded buffer, which must outlive the structs; names and
 * key/value strings are copied and NUL-terminated.
 *
 * Decoded arrays are charged against a budget proportional to the input
 * size, so a footer that is small on disk cannot make the decoder allocate
 * gigabytes of empty structs.
 */
#ifndef FORMATS_PARQUET_META_H
#define FORMATS_PARQUET_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/parquet/thrift.h"

enum { PT_BOOLEAN = 0, PT_INT32 = 1, PT_INT64 = 2, PT_INT96 = 3, PT_FLOAT = 4, PT_DOUBLE = 5, PT_BYTE_ARRAY = 6,
       PT_FLBA = 7 };
enum { REP_REQUIRED = 0, REP_OPTIONAL = 1, REP_REPEATED = 2 };
enum { ENC_PLAIN = 0, ENC_PLAIN_DICTIONARY = 2, ENC_RLE = 3, ENC_BIT_PACKED = 4, ENC_DELTA_BINARY_PACKED = 5,
       ENC_DELTA_LENGTH_BYTE_ARRAY = 6, ENC_DELTA_BYTE_ARRAY = 7, ENC_RLE_DICTIONARY = 8,
       ENC_BYTE_STREAM_SPLIT = 9 };
enum { PAGE_DATA = 0, PAGE_INDEX = 1, PAGE_DICTIONARY = 2, PAGE_DATA_V2 = 3 };
enum { CT_UTF8 = 0, CT_MAP = 1, CT_MAP_KEY_VALUE = 2, CT_LIST = 3, CT_ENUM = 4, CT_DECIMAL = 5, CT_DATE = 6,
       CT_TIME_MILLIS = 7, CT_TIME_MICROS = 8, CT_TIMESTAMP_MILLIS = 9, CT_TIMESTAMP_MICROS = 10, CT_UINT_8 = 11,
       CT_UINT_16 = 12, CT_UINT_32 = 13, CT_UINT_64 = 14, CT_INT_8 = 15, CT_INT_16 = 16, CT_INT_32 = 17,
       CT_INT_64 = 18, CT_JSON = 19, CT_BSON = 20, CT_INTERVAL = 21 };
/* LogicalType union members (their Thrift field ids). */
enum { LT_NONE = 0, LT_STRING = 1, LT_MAP = 2, LT_LIST = 3, LT_ENUM = 4, LT_DECIMAL = 5, LT_DATE = 6, LT_TIME = 7,
       LT_TIMESTAMP = 8, LT_INTEGER = 10, LT_UNKNOWN = 11, LT_JSON = 12, LT_BSON = 13, LT_UUID = 14,
       LT_FLOAT16 = 15 };
enum { TU_NONE = 0, TU_MILLIS = 1, TU_MICROS = 2, TU_NANOS = 3 };

struct pm_bytes {
  const uint8_t *p;
  size_t n;
  bool set;
};

struct pm_stats {
  struct pm_bytes max, min;              /* deprecated fields 1, 2 (signed order) */
  struct pm_bytes max_value, min_value;  /* fields 5, 6 */
  bool has_null_count, has_distinct_count;
  int64_t null_count, distinct_count;
  bool min_inexact, max_inexact;         /* fields 8, 7 present and false: truncated bounds */
};

struct pm_schema {
  char *name;                   /* owned */
  bool has_type, has_rep, has_converted;
  int type, rep, converted;
  int32_t type_length, num_children, scale, precision;
  int logical;                  /* LT_*, LT_NONE if absent */
  bool lt_utc;                  /* TIMESTAMP/TIME: isAdjustedToUTC */
  int lt_unit;                  /* TIMESTAMP/TIME: TU_* */
  int lt_bits;                  /* INTEGER: bit width */
  bool lt_signed;               /* INTEGER */
  int32_t lt_scale, lt_precision;  /* DECIMAL */
};

struct pm_column_meta {
  int type;
  uint32_t encodings;           /* bit set of ENC_* (1u << enc) */
  char *path;                   /* first path element, owned; path_len elements in all */
  size_t path_len;
  int codec;
  int64_t num_values, total_uncompressed_size, total_compressed_size;
  int64_t data_page_offset, dictionary_page_offset;
  bool has_dictionary_page_offset, has_stats;
  struct pm_stats stats;
};

struct pm_chunk {
  bool has_meta, has_file_path, encrypted;
  int64_t file_offset;
  struct pm_column_meta meta;
};

struct pm_row_group {
  struct pm_chunk *chunks;      /* owned */
  size_t nchunks;
  int64_t total_byte_size, num_rows, file_offset, total_compressed_size;
  int16_t ordinal;
  bool has_ordinal;
};

struct pm_kv {
  char *key, *value;            /* owned; value may be NULL */
};

struct pm_file {
  int32_t version;
  struct pm_schema *schema;     /* owned */
  size_t nschema;
  int64_t num_rows;
  struct pm_row_group *rgs;     /* owned */
  size_t nrgs;
  struct pm_kv *kv;             /* owned */
  size_t nkv;
  char *created_by;             /* owned, may be NULL */
  bool type_order;              /* column_orders present, all TYPE_ORDER (written) */
  bool encrypted;               /* encryption_algorithm present */
};

struct pm_page {
  int type;
  int32_t uncompressed_size, compressed_size;
  bool has_data, has_dict, has_v2;
  /* DATA_PAGE */
  int32_t num_values;
  int encoding, def_encoding, rep_encoding;
  /* DICTIONARY_PAGE */
  int32_t dict_num_values;
  int dict_encoding;
  /* DATA_PAGE_V2 (num_values and encoding shared with v1) */
  int32_t num_nulls, num_rows, def_len, rep_len;
  bool is_compressed;
  /* Page statistics (written; skipped on read). */
  bool has_stats;
  struct pm_stats stats;
};

/* Decodes a footer; on failure returns -1 with a static reason in *why. */
int pm_decode_file(const uint8_t *p, size_t n, struct pm_file *out, const char **why);
void pm_file_release(struct pm_file *f);
void pm_encode_file(struct tw *w, const struct pm_file *f);

/* Decodes one page header at r (advancing it); -1 with r->err on failure. */
int pm_decode_page(struct tr *r, struct pm_page *h);
void pm_encode_page(struct tw *w, const struct pm_page *h);

#endif
