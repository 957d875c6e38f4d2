/*
 * parquet.h — Oast's own Parquet codec: writes a struct table to a Parquet
 * file and reads Parquet files (ours and other writers') back into tables.
 *
 * Supported: flat schemas (one level of columns under the root, REQUIRED or
 * OPTIONAL), the eight feature types, data pages v1 (written and read) and
 * v2 (read), PLAIN and dictionary encodings (written and read), the
 * RLE/bit-packed hybrid for definition levels, dictionary indices and
 * booleans, and on reading also DELTA_BINARY_PACKED,
 * DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and BYTE_STREAM_SPLIT. Codecs:
 * UNCOMPRESSED, SNAPPY, GZIP and ZSTD. Column chunk and page statistics
 * (min, max, null count, and the distinct count of dictionary-encoded
 * chunks) are written, and read back from the footer without touching the
 * data.
 *
 * Type mapping on write:
 *   int → INT32            bigint → INT64      float → FLOAT
 *   double → DOUBLE        boolean → BOOLEAN   string → BYTE_ARRAY STRING (UTF8)
 *   timestamp → INT64 TIMESTAMP(isAdjustedToUTC=true, MICROS)
 *   date → INT32 DATE
 * On read, other writers' types map to the nearest feature type: INT32
 * with INT(8|16|32, signed) or UINT(8|16) → int, UINT(32) → bigint, INT64
 * → bigint, TIMESTAMP in MILLIS/MICROS/NANOS and INT96 → timestamp (µs,
 * nanoseconds rounded down), DECIMAL on INT32/INT64/FIXED_LEN_BYTE_ARRAY
 * → double, BYTE_ARRAY with or without STRING/ENUM/JSON → string. Anything
 * else (nested or repeated columns, UINT64, TIME, INTERVAL, UUID, FLOAT16,
 * encryption, LZO/BROTLI/LZ4) is refused with an error that names the
 * column and the feature, never read wrongly.
 */
#ifndef FORMATS_PARQUET_PARQUET_H
#define FORMATS_PARQUET_PARQUET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/table.h"
#include "oast/error.h"

/* Codec values are Parquet's own CompressionCodec numbers. */
enum pq_codec { PQ_UNCOMPRESSED = 0, PQ_SNAPPY = 1, PQ_GZIP = 2, PQ_ZSTD = 6 };

/* "uncompressed", "snappy", "gzip", "zstd"; -1 for anything else. */
int pq_codec_from_name(const char *s);
const char *pq_codec_name(enum pq_codec c);

enum pq_dict_mode {
  PQ_DICT_AUTO = 0,   /* strings always tried, other types where it pays; never booleans */
  PQ_DICT_NEVER = 1,  /* PLAIN everywhere */
  PQ_DICT_ALWAYS = 2, /* every non-boolean column tried (still falls back past dict_max_bytes) */
};

struct pq_kv {
  const char *key;
  const char *value;   /* NULL: key without a value */
};

struct pq_write_opts {
  enum pq_codec codec;
  int level;                  /* zstd/gzip level; 0: the codec's default */
  size_t row_group_rows;      /* rows per row group; 0: PQ_DEFAULT_ROW_GROUP_ROWS */
  size_t page_bytes;          /* target uncompressed data page size; 0: PQ_DEFAULT_PAGE_BYTES */
  size_t dict_max_bytes;      /* a dictionary larger than this falls back to PLAIN; 0: default */
  enum pq_dict_mode dict;
  const bool *required;       /* per column of the table: REQUIRED (no nulls allowed); NULL: all OPTIONAL */
  const struct pq_kv *kv;     /* key/value metadata for the footer */
  size_t nkv;
  int threads;                /* columns encoded in parallel; 0: one per CPU (at most 8), 1: none */
};

#define PQ_DEFAULT_ROW_GROUP_ROWS ((size_t)1 << 20)
#define PQ_DEFAULT_PAGE_BYTES ((size_t)1 << 20)
#define PQ_DEFAULT_DICT_MAX_BYTES ((size_t)1 << 20)

/* Defaults: SNAPPY, dictionary AUTO, all columns OPTIONAL, sizes as above. */
void pq_write_opts_init(struct pq_write_opts *o);

/*
 * Writes t to path atomically (temporary file, fsync, rename): a reader
 * sees the old file or the whole new one. o may be NULL for the defaults.
 * Fails (writing nothing) when a REQUIRED column holds a null, a column's
 * length differs from t->nrows, or the file cannot be written.
 */
int pq_write_table(const char *path, const struct table *t, const struct pq_write_opts *o, oast_err *e);

/* A min or max value in the column's feature type. */
struct pq_scalar {
  int64_t i;        /* int, bigint, date, timestamp (µs), boolean (0/1) */
  double f;         /* float, double */
  const char *s;    /* string: s_len bytes, not NUL-terminated, owned by the pq_file */
  size_t s_len;
};

struct pq_stats {
  bool has_null_count, has_distinct_count, has_min_max;
  int64_t null_count, distinct_count;
  struct pq_scalar min, max;   /* valid when has_min_max */
};

struct pq_column_info {
  char *name;           /* owned by the pq_file */
  enum ftype type;      /* the feature type the reader produces */
  bool required;        /* REQUIRED in the schema: the column holds no nulls */
};

struct pq_chunk_info {
  int64_t num_values;                 /* rows of the row group, nulls included */
  int64_t compressed_size, uncompressed_size;
  int codec;                          /* Parquet CompressionCodec number */
  bool dictionary;                    /* has a dictionary page */
  struct pq_stats stats;              /* from the footer */
};

struct pq_row_group_info {
  int64_t num_rows;
  struct pq_chunk_info *chunks;       /* ncols entries, owned by the pq_file */
};

struct pq_kv_entry {
  char *key, *value;                  /* owned by the pq_file; value may be NULL */
};

struct pq_priv;

/* An open Parquet file: its schema and footer, decoded and checked. All
 * fields are read-only for callers except max_read_bytes. Reads keep no
 * state in it, so several threads may read one pq_file at once. */
struct pq_file {
  size_t ncols;
  struct pq_column_info *cols;
  int64_t num_rows;
  size_t nrow_groups;
  struct pq_row_group_info *row_groups;
  size_t nkv;
  struct pq_kv_entry *kv;
  char *created_by;                   /* may be NULL */
  /* Cap on the memory one read may fill (value arrays, validity, string
   * bytes); a read past it fails with OAST_ETOO_LARGE. Default
   * PQ_DEFAULT_MAX_READ_BYTES; callers may change it. */
  size_t max_read_bytes;
  struct pq_priv *priv;
};

#define PQ_DEFAULT_MAX_READ_BYTES ((size_t)4 << 30)
/* Footers larger than this are refused (a hostile length cannot make us allocate). */
#define PQ_MAX_FOOTER_BYTES ((size_t)64 << 20)

/* Opens path and decodes its footer. *out is the caller's; free it with pq_close. */
int pq_open(const char *path, struct pq_file **out, oast_err *e);
void pq_close(struct pq_file *f);
/* Index of the column named name, -1 if none. */
int pq_find_column(const struct pq_file *f, const char *name);
/*
 * Statistics of column col over the whole file, merged from the row
 * groups' footer statistics (no data is read). Fields are only set where
 * every row group had them; a distinct count only for a single row group.
 */
void pq_column_stats(const struct pq_file *f, size_t col, struct pq_stats *out);

/*
 * Reads the named columns (in that order; columns == NULL: all, in file
 * order) of every row group, or of row group rg only, into out, which the
 * call initializes: the caller releases it with table_release, also after
 * a failure. Corrupt or unsupported data fails with an error naming the
 * column and row group, never a crash. Columns are decoded in parallel, one
 * thread per CPU (at most 8).
 */
int pq_read_table(struct pq_file *f, const char *const *columns, size_t ncolumns, struct table *out, oast_err *e);
int pq_read_row_group(struct pq_file *f, size_t rg, const char *const *columns, size_t ncolumns, struct table *out,
                      oast_err *e);

#endif
