/* thrift.c — Thrift compact protocol writer and bounded reader (see thrift.h). */
#include "formats/parquet/thrift.h"

#include <string.h>


/* ---- writer ---- */

void tw_init(struct tw *w) { memset(w, 0, sizeof *w); }

void tw_release(struct tw *w) {
  pqbuf_release(&w->buf);
  memset(w, 0, sizeof *w);
}

void tw_reset(struct tw *w) {
  w->buf.len = 0;
  w->depth = 0;
  w->last[0] = 0;
}

void tw_put_byte(struct tw *w, uint8_t b) { pqbuf_put_byte(&w->buf, b); }

void tw_put_varint(struct tw *w, uint64_t v) { pqbuf_put_varint(&w->buf, v); }

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

void tw_put_i32(struct tw *w, int32_t v) { tw_put_varint(w, zigzag(v)); }
void tw_put_i64(struct tw *w, int64_t v) { tw_put_varint(w, zigzag(v)); }

void tw_put_binary(struct tw *w, const void *p, size_t n) {
  tw_put_varint(w, n);
  pqbuf_put(&w->buf, p, n);
}

void tw_put_list(struct tw *w, int elem_type, size_t n) {
  if (n < 15) {
    tw_put_byte(w, (uint8_t)(n << 4 | (size_t)elem_type));
  } else {
    tw_put_byte(w, (uint8_t)(0xF0 | elem_type));
    tw_put_varint(w, n);
  }
}

void tw_field(struct tw *w, int16_t id, int type) {
  int16_t *last = &w->last[w->depth];
  int delta = id - *last;
  if (delta > 0 && delta <= 15) {
    tw_put_byte(w, (uint8_t)(delta << 4 | type));
  } else {
    tw_put_byte(w, (uint8_t)type);
    tw_put_i32(w, id);
  }
  *last = id;
}

void tw_byte(struct tw *w, int16_t id, int8_t v) {
  tw_field(w, id, TT_BYTE);
  tw_put_byte(w, (uint8_t)v);
}

void tw_i32(struct tw *w, int16_t id, int32_t v) {
  tw_field(w, id, TT_I32);
  tw_put_i32(w, v);
}

void tw_i64(struct tw *w, int16_t id, int64_t v) {
  tw_field(w, id, TT_I64);
  tw_put_i64(w, v);
}

void tw_bool(struct tw *w, int16_t id, bool v) { tw_field(w, id, v ? TT_TRUE : TT_FALSE); }

void tw_binary(struct tw *w, int16_t id, const void *p, size_t n) {
  tw_field(w, id, TT_BINARY);
  tw_put_binary(w, p, n);
}

void tw_string(struct tw *w, int16_t id, const char *s) { tw_binary(w, id, s, strlen(s)); }

void tw_list(struct tw *w, int16_t id, int elem_type, size_t n) {
  tw_field(w, id, TT_LIST);
  tw_put_list(w, elem_type, n);
}

void tw_struct_begin(struct tw *w, int16_t id) {
  if (id > 0) tw_field(w, id, TT_STRUCT);
  /* Our own metadata nests a handful of levels; deeper is a programming error. */
  if (w->depth + 1 >= TW_MAX_DEPTH) abort();
  w->last[++w->depth] = 0;
}

void tw_struct_end(struct tw *w) {
  tw_put_byte(w, TT_STOP);
  if (w->depth > 0) w->depth--;
}

/* ---- reader ---- */

void tr_init(struct tr *r, const void *p, size_t n) {
  r->p = p;
  r->end = r->p + n;
  r->depth = 0;
  r->err = NULL;
}

void tr_fail(struct tr *r, const char *why) {
  if (!r->err) r->err = why;
  r->p = r->end;
}

static uint64_t get_varint(struct tr *r) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end) {
      tr_fail(r, "truncated varint");
      return 0;
    }
    uint8_t b = *r->p++;
    v |= (uint64_t)(b & 0x7F) << shift;
    if (!(b & 0x80)) return v;
  }
  tr_fail(r, "varint longer than 10 bytes");
  return 0;
}

int64_t tr_get_int(struct tr *r) {
  uint64_t u = get_varint(r);
  return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static uint8_t get_byte(struct tr *r) {
  if (r->p >= r->end) {
    tr_fail(r, "truncated value");
    return 0;
  }
  return *r->p++;
}

bool tr_field(struct tr *r, int16_t *last, int16_t *id, int *type) {
  if (r->err) return false;
  uint8_t b = get_byte(r);
  if (r->err) return false;
  *type = b & 0x0F;
  if (*type == TT_STOP) return false;
  int delta = b >> 4;
  if (delta) {
    *id = (int16_t)(*last + delta);
  } else {
    int64_t v = tr_get_int(r);
    if (v < -32768 || v > 32767) tr_fail(r, "field id out of range");
    *id = (int16_t)v;
  }
  if (*type > TT_STRUCT) tr_fail(r, "unknown field type");
  if (r->err) return false;
  *last = *id;
  return true;
}

static bool is_int_type(int type) { return type == TT_BYTE || type == TT_I16 || type == TT_I32 || type == TT_I64; }

int64_t tr_i64(struct tr *r, int type) {
  if (!is_int_type(type)) {
    tr_fail(r, "field has the wrong type (expected an integer)");
    return 0;
  }
  if (type == TT_BYTE) return (int8_t)get_byte(r);
  return tr_get_int(r);
}

int32_t tr_i32(struct tr *r, int type) {
  int64_t v = tr_i64(r, type);
  if (type == TT_I64 || v < INT32_MIN || v > INT32_MAX) {
    tr_fail(r, "field has the wrong type (expected a 32-bit integer)");
    return 0;
  }
  return (int32_t)v;
}

bool tr_bool(struct tr *r, int type) {
  if (type == TT_TRUE) return true;
  if (type == TT_FALSE) return false;
  tr_fail(r, "field has the wrong type (expected a boolean)");
  return false;
}

const uint8_t *tr_get_binary(struct tr *r, size_t *n) {
  uint64_t len = get_varint(r);
  if (r->err || len > tr_left(r)) {
    tr_fail(r, "binary value runs past the end");
    *n = 0;
    return (const uint8_t *)"";
  }
  const uint8_t *p = r->p;
  r->p += len;
  *n = (size_t)len;
  return p;
}

const uint8_t *tr_binary(struct tr *r, int type, size_t *n) {
  if (type != TT_BINARY) {
    tr_fail(r, "field has the wrong type (expected binary)");
    *n = 0;
    return (const uint8_t *)"";
  }
  return tr_get_binary(r, n);
}

/* List or set header. Every element takes at least one byte, so a count
 * above the bytes left is a lie and is refused before anyone allocates. */
static size_t get_list_header(struct tr *r, int *elem_type) {
  uint8_t b = get_byte(r);
  uint64_t n = b >> 4;
  *elem_type = b & 0x0F;
  if (n == 15) n = get_varint(r);
  if (r->err) return 0;
  if (*elem_type == TT_STOP || *elem_type > TT_STRUCT) {
    tr_fail(r, "unknown list element type");
    return 0;
  }
  if (n > tr_left(r)) {
    tr_fail(r, "list is longer than the bytes left");
    return 0;
  }
  return (size_t)n;
}

size_t tr_list(struct tr *r, int type, int *elem_type) {
  if (type != TT_LIST && type != TT_SET) {
    tr_fail(r, "field has the wrong type (expected a list)");
    *elem_type = TT_STOP;
    return 0;
  }
  return get_list_header(r, elem_type);
}

bool tr_struct_begin(struct tr *r, int type) {
  if (type != TT_STRUCT) {
    tr_fail(r, "field has the wrong type (expected a struct)");
    return false;
  }
  if (r->depth >= TR_MAX_DEPTH) {
    tr_fail(r, "structs nested too deeply");
    return false;
  }
  r->depth++;
  return !r->err;
}

void tr_struct_end(struct tr *r) {
  if (r->depth > 0) r->depth--;
}

static void skip_bytes(struct tr *r, size_t n) {
  if (n > tr_left(r)) {
    tr_fail(r, "value runs past the end");
    return;
  }
  r->p += n;
}

void tr_skip(struct tr *r, int type) {
  if (r->err) return;
  switch (type) {
    case TT_TRUE:
    case TT_FALSE:
      /* A boolean field carries its value in the type; nothing follows. */
      return;
    case TT_BYTE: skip_bytes(r, 1); return;
    case TT_I16:
    case TT_I32:
    case TT_I64: get_varint(r); return;
    case TT_DOUBLE: skip_bytes(r, 8); return;
    case TT_BINARY: {
      size_t n;
      tr_get_binary(r, &n);
      return;
    }
    case TT_LIST:
    case TT_SET: {
      int et;
      size_t n = get_list_header(r, &et);
      if (r->depth >= TR_MAX_DEPTH) {
        tr_fail(r, "values nested too deeply");
        return;
      }
      r->depth++;
      for (size_t i = 0; i < n && !r->err; i++) {
        /* Booleans inside a list are one byte each. */
        if (et == TT_TRUE || et == TT_FALSE)
          skip_bytes(r, 1);
        else
          tr_skip(r, et);
      }
      r->depth--;
      return;
    }
    case TT_MAP: {
      uint64_t n = get_varint(r);
      if (n == 0 || r->err) return;
      uint8_t kv = get_byte(r);
      int kt = kv >> 4, vt = kv & 0x0F;
      if (kt == TT_STOP || kt > TT_STRUCT || vt == TT_STOP || vt > TT_STRUCT) {
        tr_fail(r, "unknown map element type");
        return;
      }
      if (n > tr_left(r)) {
        tr_fail(r, "map is longer than the bytes left");
        return;
      }
      if (r->depth >= TR_MAX_DEPTH) {
        tr_fail(r, "values nested too deeply");
        return;
      }
      r->depth++;
      for (uint64_t i = 0; i < n && !r->err; i++) {
        if (kt == TT_TRUE || kt == TT_FALSE) skip_bytes(r, 1); else tr_skip(r, kt);
        if (vt == TT_TRUE || vt == TT_FALSE) skip_bytes(r, 1); else tr_skip(r, vt);
      }
      r->depth--;
      return;
    }
    case TT_STRUCT: {
      if (!tr_struct_begin(r, TT_STRUCT)) return;
      int16_t last = 0, id;
      int t;
      while (tr_field(r, &last, &id, &t)) tr_skip(r, t);
      tr_struct_end(r);
      return;
    }
    default: tr_fail(r, "unknown value type"); return;
  }
}
