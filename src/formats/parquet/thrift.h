/*
 * thrift.h — the Thrift compact protocol, as much of it as Parquet's
 * metadata needs (internal to src/formats/parquet).
 *
 * Parquet stores its footer (FileMetaData) and every page header as
 * Thrift structs in the compact protocol. Rather than generated code we
 * have a small writer and a small cursor-style reader; the Parquet code
 * walks the fields of each struct it knows with a switch on the field id
 * and hands everything else to tr_skip.
 *
 * Writer: `struct tw` appends to a growable byte array (w->buf). Struct fields are
 * written with tw_field (or the tw_<type> shorthands that write a field
 * header and its value); tw_struct_begin/tw_struct_end nest, keeping the
 * last field id per level for the delta-encoded field headers. List
 * elements are written with the tw_put_* functions (no field header).
 *
 * Reader: `struct tr` is a bounded cursor over untrusted bytes. Every read
 * checks the bounds; the first failure sets r->err (and a message) and
 * every later read returns zero values, so callers check r->err once per
 * struct instead of after every call. Nesting (structs, lists, maps,
 * skipping) is capped at TR_MAX_DEPTH, list and map sizes are capped by the
 * bytes left (every element takes at least one byte), so a hostile input
 * can neither overflow the stack nor make the caller allocate more than a
 * small multiple of its own size.
 */
#ifndef FORMATS_PARQUET_THRIFT_H
#define FORMATS_PARQUET_THRIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/parquet/bytes.h"

/* Compact protocol type codes (in field headers and list headers). */
enum {
  TT_STOP = 0,
  TT_TRUE = 1,  /* boolean field whose value is true; also "bool" as a list element type */
  TT_FALSE = 2,
  TT_BYTE = 3,
  TT_I16 = 4,
  TT_I32 = 5,
  TT_I64 = 6,
  TT_DOUBLE = 7,
  TT_BINARY = 8,
  TT_LIST = 9,
  TT_SET = 10,
  TT_MAP = 11,
  TT_STRUCT = 12,
};

#define TW_MAX_DEPTH 16
#define TR_MAX_DEPTH 32

struct tw {
  struct pqbuf buf;   /* the encoded bytes */
  int depth;
  int16_t last[TW_MAX_DEPTH];
};

void tw_init(struct tw *w);
void tw_release(struct tw *w);
void tw_reset(struct tw *w);
/* Raw values, for list elements. */
void tw_put_byte(struct tw *w, uint8_t b);
void tw_put_varint(struct tw *w, uint64_t v);
void tw_put_i32(struct tw *w, int32_t v);
void tw_put_i64(struct tw *w, int64_t v);
void tw_put_binary(struct tw *w, const void *p, size_t n);
void tw_put_list(struct tw *w, int elem_type, size_t n);
/* Field header for a field of the given type in the current struct. */
void tw_field(struct tw *w, int16_t id, int type);
void tw_byte(struct tw *w, int16_t id, int8_t v);
void tw_i32(struct tw *w, int16_t id, int32_t v);
void tw_i64(struct tw *w, int16_t id, int64_t v);
void tw_bool(struct tw *w, int16_t id, bool v);
void tw_binary(struct tw *w, int16_t id, const void *p, size_t n);
void tw_string(struct tw *w, int16_t id, const char *s);
void tw_list(struct tw *w, int16_t id, int elem_type, size_t n);
/* A struct-valued field (id > 0) or a struct list element (id == 0). */
void tw_struct_begin(struct tw *w, int16_t id);
/* Writes the STOP byte and returns to the enclosing struct. */
void tw_struct_end(struct tw *w);

struct tr {
  const uint8_t *p, *end;
  int depth;
  const char *err;  /* NULL while all is well; a static description after the first failure */
};

void tr_init(struct tr *r, const void *p, size_t n);
static inline size_t tr_left(const struct tr *r) { return (size_t)(r->end - r->p); }
/* Marks the reader failed with a static message (first failure wins). */
void tr_fail(struct tr *r, const char *why);
/*
 * Next field of the current struct: returns true with *id and *type set,
 * false at the STOP byte or on an error. *last holds the previous field id
 * of this struct (start it at 0).
 */
bool tr_field(struct tr *r, int16_t *last, int16_t *id, int *type);
/* Field values; `type` is the field's type from tr_field, checked against
 * what the caller expects (a mismatch fails the reader). */
int32_t tr_i32(struct tr *r, int type);
int64_t tr_i64(struct tr *r, int type);   /* accepts byte, i16, i32 or i64 */
bool tr_bool(struct tr *r, int type);
/* Binary/string: a pointer into the input and its length. */
const uint8_t *tr_binary(struct tr *r, int type, size_t *n);
/* List header of a list-typed field: element type and count (count <= bytes left). */
size_t tr_list(struct tr *r, int type, int *elem_type);
/* Raw element readers, for list elements. */
int64_t tr_get_int(struct tr *r);        /* zigzag varint */
const uint8_t *tr_get_binary(struct tr *r, size_t *n);
/* Enter/leave a struct value (field of type TT_STRUCT or a struct list element). */
bool tr_struct_begin(struct tr *r, int type);
void tr_struct_end(struct tr *r);
/* Skips one value of any type, nested ones included. */
void tr_skip(struct tr *r, int type);

#endif
