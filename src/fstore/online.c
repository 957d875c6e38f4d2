/* online.c — the LMDB online store (see online.h). */
#include "fstore/online.h"

#include <lmdb.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "formats/rows.h"
#include "util/alloc.h"
#include "util/fs.h"

struct online {
  MDB_env *env;
  MDB_dbi dbi;
};

static int lmdb_err(int rc, oast_err *e, const char *what) {
  if (rc == MDB_MAP_FULL) return oast_err_set(e, OAST_ETOO_LARGE, "the online store is full (%s)", what);
  return oast_err_set(e, OAST_EIO, "online store error during %s: %s", what, mdb_strerror(rc));
}

int online_open(struct online **out, const char *dir, size_t map_size, oast_err *e) {
  int rc = fs_mkdirs(dir, 0700, e);
  if (rc) return rc;
  struct online *o = xcalloc(1, sizeof *o);
  MDB_txn *txn = NULL;
  if ((rc = mdb_env_create(&o->env)) || (rc = mdb_env_set_mapsize(o->env, map_size ? map_size : (size_t)16 << 30)) ||
      (rc = mdb_env_set_maxreaders(o->env, 512)) || (rc = mdb_env_open(o->env, dir, MDB_NOTLS, 0600)) ||
      (rc = mdb_txn_begin(o->env, NULL, 0, &txn)) || (rc = mdb_dbi_open(txn, NULL, 0, &o->dbi)) ||
      (rc = mdb_txn_commit(txn))) {
    int r = lmdb_err(rc, e, "open");
    online_free(o);
    return r;
  }
  *out = o;
  return 0;
}

void online_free(struct online *o) {
  if (!o) return;
  if (o->env) mdb_env_close(o->env);
  free(o);
}

/* ---- encoding ---- */

enum { TAG_NULL = 0, TAG_INT = 'i', TAG_FLOAT = 'f', TAG_STR = 's', TAG_BOOL = 'b', TAG_TS = 't', TAG_DATE = 'd' };

static void put_u64be(struct buf *b, uint64_t v) {
  unsigned char x[8];
  for (int i = 7; i >= 0; i--) {
    x[i] = (unsigned char)(v & 0xff);
    v >>= 8;
  }
  buf_append(b, x, 8);
}

static uint64_t get_u64be(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

static void enc_int(struct buf *b, char tag, int64_t v) {
  buf_putc(b, tag);
  put_u64be(b, (uint64_t)v ^ ((uint64_t)1 << 63));
}

static void enc_double(struct buf *b, double d) {
  uint64_t u;
  if (d == 0) d = 0; /* -0.0 and 0.0 are one key */
  memcpy(&u, &d, 8);
  buf_putc(b, TAG_FLOAT);
  put_u64be(b, u);
}

static void enc_str(struct buf *b, const char *s, size_t n) {
  buf_putc(b, TAG_STR);
  unsigned char l[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
  buf_append(b, l, 4);
  buf_append(b, s, n);
}

static void enc_cell(struct buf *b, const struct column *c, size_t i) {
  if (column_is_null(c, i)) {
    buf_putc(b, TAG_NULL);
    return;
  }
  switch (c->type) {
    case FT_INT: enc_int(b, TAG_INT, column_i32(c, i)); break;
    case FT_BIGINT: enc_int(b, TAG_INT, column_i64(c, i)); break;
    case FT_DATE: enc_int(b, TAG_DATE, column_i32(c, i)); break;
    case FT_TIMESTAMP: enc_int(b, TAG_TS, column_i64(c, i)); break;
    case FT_BOOLEAN: enc_int(b, TAG_BOOL, column_bool(c, i)); break;
    case FT_FLOAT: enc_double(b, column_f32(c, i)); break;
    case FT_DOUBLE: enc_double(b, column_f64(c, i)); break;
    case FT_STRING: {
      size_t n;
      const char *s = column_str(c, i, &n);
      enc_str(b, s, n);
      break;
    }
    default: buf_putc(b, TAG_NULL);
  }
}

int online_encode_json(struct buf *b, enum ftype t, json_t *v, oast_err *e) {
  if (!v || json_is_null(v)) return oast_err_set(e, OAST_EBAD_REQUEST, "a primary key value must not be null");
  switch (t) {
    case FT_INT:
    case FT_BIGINT:
      if (!json_is_integer(v)) return oast_err_set(e, OAST_EBAD_REQUEST, "expected an integer key value");
      enc_int(b, TAG_INT, json_integer_value(v));
      return 0;
    case FT_BOOLEAN:
      if (!json_is_boolean(v)) return oast_err_set(e, OAST_EBAD_REQUEST, "expected a boolean key value");
      enc_int(b, TAG_BOOL, json_is_true(v));
      return 0;
    case FT_FLOAT:
    case FT_DOUBLE:
      if (!json_is_number(v)) return oast_err_set(e, OAST_EBAD_REQUEST, "expected a number key value");
      enc_double(b, t == FT_FLOAT ? (double)(float)json_number_value(v) : json_number_value(v));
      return 0;
    case FT_STRING:
      if (!json_is_string(v)) return oast_err_set(e, OAST_EBAD_REQUEST, "expected a string key value");
      enc_str(b, json_string_value(v), json_string_length(v));
      return 0;
    case FT_TIMESTAMP: {
      int64_t us;
      if (json_is_integer(v)) us = json_integer_value(v) * 1000; /* epoch milliseconds */
      else if (!json_is_string(v) || timestamp_parse(json_string_value(v), json_string_length(v), &us) != 0)
        return oast_err_set(e, OAST_EBAD_REQUEST, "expected a timestamp key value (ISO-8601 or epoch milliseconds)");
      enc_int(b, TAG_TS, us);
      return 0;
    }
    case FT_DATE: {
      int32_t d;
      if (!json_is_string(v) || date_parse(json_string_value(v), json_string_length(v), &d) != 0)
        return oast_err_set(e, OAST_EBAD_REQUEST, "expected a date key value (YYYY-MM-DD)");
      enc_int(b, TAG_DATE, d);
      return 0;
    }
    default: return oast_err_set(e, OAST_EBAD_REQUEST, "unsupported key type");
  }
}

/* Decodes one value at *p (bounded by end) as JSON; NULL on a corrupt record. */
static json_t *dec_value(const unsigned char **p, const unsigned char *end) {
  if (*p >= end) return NULL;
  unsigned char tag = *(*p)++;
  if (tag == TAG_NULL) return json_null();
  if (tag == TAG_STR) {
    if (end - *p < 4) return NULL;
    size_t n = ((size_t)(*p)[0] << 24) | ((size_t)(*p)[1] << 16) | ((size_t)(*p)[2] << 8) | (*p)[3];
    *p += 4;
    if ((size_t)(end - *p) < n) return NULL;
    json_t *j = json_stringn((const char *)*p, n);
    *p += n;
    return j ? j : json_null();
  }
  if (end - *p < 8) return NULL;
  uint64_t u = get_u64be(*p);
  *p += 8;
  int64_t v = (int64_t)(u ^ ((uint64_t)1 << 63));
  char text[40];
  switch (tag) {
    case TAG_INT: return json_integer(v);
    case TAG_BOOL: return json_boolean(v != 0);
    case TAG_FLOAT: {
      double d;
      memcpy(&d, &u, 8);
      return isfinite(d) ? json_real(d) : json_null();
    }
    case TAG_TS: timestamp_format(v, text, sizeof text); return json_string(text);
    case TAG_DATE: date_format((int32_t)v, text, sizeof text); return json_string(text);
    default: return NULL;
  }
}

static void key_prefix(struct buf *b, int64_t fg_id) { put_u64be(b, (uint64_t)fg_id); }

static void marker_key(struct buf *b, int64_t fg_id) {
  key_prefix(b, fg_id);
  buf_putc(b, (char)0xFF);
  buf_putc(b, 'c');
}

/* The event time stored in cell `col` of an encoded row; false when the row is corrupt or the cell is null. */
static bool stored_time(const unsigned char *p, const unsigned char *end, int col, int64_t *out) {
  for (int c = 0; p < end; c++) {
    unsigned char tag = *p++;
    if (c == col) {
      if (tag == TAG_NULL || tag == TAG_STR || tag == TAG_FLOAT || end - p < 8) return false;
      *out = (int64_t)(get_u64be(p) ^ ((uint64_t)1 << 63));
      return true;
    }
    if (tag == TAG_NULL) continue;
    if (tag == TAG_STR) {
      if (end - p < 4) return false;
      size_t n = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
      if ((size_t)(end - p - 4) < n) return false;
      p += 4 + n;
    } else {
      if (end - p < 8) return false;
      p += 8;
    }
  }
  return false;
}

/* A row's event time in the stored encoding's units (enc_int's value). */
static int64_t row_time(const struct column *c, size_t i) {
  return c->type == FT_DATE || c->type == FT_INT ? column_i32(c, i) : column_i64(c, i);
}

int online_apply(struct online *o, int64_t fg_id, const struct table *t, const int *pk, size_t npk, int64_t commit_id,
                 oast_err *e) {
  return online_apply_latest(o, fg_id, t, pk, npk, -1, commit_id, e);
}

int online_apply_latest(struct online *o, int64_t fg_id, const struct table *t, const int *pk, size_t npk,
                        int event_time, int64_t commit_id, oast_err *e) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(o->env, NULL, 0, &txn);
  if (rc) return lmdb_err(rc, e, "begin");
  struct buf k, v;
  buf_init(&k, 0);
  buf_init(&v, 0);
  for (size_t i = 0; i < t->nrows && !rc; i++) {
    buf_reset(&k);
    buf_reset(&v);
    key_prefix(&k, fg_id);
    for (size_t j = 0; j < npk; j++) enc_cell(&k, &t->cols[pk[j]], i);
    MDB_val mk = {k.len, k.data};
    if (event_time >= 0 && !column_is_null(&t->cols[event_time], i)) {
      /* Keep the row with the latest event time (this one on a tie). */
      MDB_val old;
      int64_t had;
      if (mdb_get(txn, o->dbi, &mk, &old) == 0 &&
          stored_time(old.mv_data, (const unsigned char *)old.mv_data + old.mv_size, event_time, &had) &&
          had > row_time(&t->cols[event_time], i))
        continue;
    }
    for (size_t c = 0; c < t->ncols; c++) enc_cell(&v, &t->cols[c], i);
    MDB_val mv = {v.len, v.data};
    rc = mdb_put(txn, o->dbi, &mk, &mv, 0);
  }
  if (!rc) {
    buf_reset(&k);
    marker_key(&k, fg_id);
    unsigned char c8[8];
    for (int i = 7, x = 0; i >= 0; i--, x++) c8[i] = (unsigned char)((uint64_t)commit_id >> (8 * x));
    MDB_val mk = {k.len, k.data}, mv = {8, c8};
    rc = mdb_put(txn, o->dbi, &mk, &mv, 0);
  }
  buf_release(&k);
  buf_release(&v);
  if (rc) {
    mdb_txn_abort(txn);
    return lmdb_err(rc, e, "write");
  }
  rc = mdb_txn_commit(txn);
  return rc ? lmdb_err(rc, e, "commit") : 0;
}

int online_drop(struct online *o, int64_t fg_id, oast_err *e) {
  MDB_txn *txn;
  MDB_cursor *cur;
  int rc = mdb_txn_begin(o->env, NULL, 0, &txn);
  if (rc) return lmdb_err(rc, e, "begin");
  if ((rc = mdb_cursor_open(txn, o->dbi, &cur))) {
    mdb_txn_abort(txn);
    return lmdb_err(rc, e, "cursor");
  }
  struct buf k;
  buf_init(&k, 0);
  key_prefix(&k, fg_id);
  MDB_val mk = {k.len, k.data}, mv;
  rc = mdb_cursor_get(cur, &mk, &mv, MDB_SET_RANGE);
  while (rc == 0 && mk.mv_size >= 8 && memcmp(mk.mv_data, k.data, 8) == 0) {
    if ((rc = mdb_cursor_del(cur, 0))) break;
    /* Seek again from the group's prefix: simple and safe after a delete. */
    mk.mv_size = k.len;
    mk.mv_data = k.data;
    rc = mdb_cursor_get(cur, &mk, &mv, MDB_SET_RANGE);
  }
  mdb_cursor_close(cur);
  buf_release(&k);
  if (rc && rc != MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return lmdb_err(rc, e, "drop");
  }
  rc = mdb_txn_commit(txn);
  return rc ? lmdb_err(rc, e, "commit") : 0;
}

int64_t online_marker(struct online *o, int64_t fg_id) {
  MDB_txn *txn;
  if (mdb_txn_begin(o->env, NULL, MDB_RDONLY, &txn)) return 0;
  struct buf k;
  buf_init(&k, 0);
  marker_key(&k, fg_id);
  MDB_val mk = {k.len, k.data}, mv;
  int64_t c = 0;
  if (mdb_get(txn, o->dbi, &mk, &mv) == 0 && mv.mv_size == 8) c = (int64_t)get_u64be(mv.mv_data);
  mdb_txn_abort(txn);
  buf_release(&k);
  return c;
}

int online_get(struct online *o, int64_t fg_id, const struct table *schema, const int *pk, size_t npk,
               json_t *const *key, json_t **row, oast_err *e) {
  *row = NULL;
  struct buf k;
  buf_init(&k, 0);
  key_prefix(&k, fg_id);
  int rc = 0;
  for (size_t j = 0; j < npk && !rc; j++) {
    rc = online_encode_json(&k, schema->cols[pk[j]].type, key[j], e);
    if (rc) {
      char msg[OAST_ERRMSG_MAX];
      snprintf(msg, sizeof msg, "%s", e ? e->msg : "");
      rc = oast_err_set(e, OAST_EBAD_REQUEST, "primary key \"%s\": %s", schema->cols[pk[j]].name, msg);
    }
  }
  if (rc) {
    buf_release(&k);
    return rc;
  }
  MDB_txn *txn;
  if ((rc = mdb_txn_begin(o->env, NULL, MDB_RDONLY, &txn))) {
    buf_release(&k);
    return lmdb_err(rc, e, "read");
  }
  MDB_val mk = {k.len, k.data}, mv;
  rc = mdb_get(txn, o->dbi, &mk, &mv);
  if (rc == 0) {
    const unsigned char *p = mv.mv_data, *end = p + mv.mv_size;
    json_t *arr = json_array();
    for (size_t c = 0; c < schema->ncols; c++) {
      json_t *v = dec_value(&p, end);
      if (!v) {
        json_decref(arr);
        arr = NULL;
        break;
      }
      json_array_append_new(arr, v);
    }
    *row = arr;
    rc = arr ? 0 : oast_err_set(e, OAST_EINTERNAL, "a corrupt record in the online store");
  } else if (rc == MDB_NOTFOUND) {
    rc = 0;
  } else {
    rc = lmdb_err(rc, e, "read");
  }
  mdb_txn_abort(txn);
  buf_release(&k);
  return rc;
}

/* ---- raw reads ---- */

struct online_snap {
  struct online *o;
  MDB_txn *txn;
  struct buf key;
};

int online_snap_begin(struct online *o, struct online_snap **out, oast_err *e) {
  struct online_snap *s = xcalloc(1, sizeof *s);
  s->o = o;
  int rc = mdb_txn_begin(o->env, NULL, MDB_RDONLY, &s->txn);
  if (rc) {
    free(s);
    return lmdb_err(rc, e, "read");
  }
  buf_init(&s->key, 0);
  *out = s;
  return 0;
}

void online_snap_end(struct online_snap *s) {
  if (!s) return;
  mdb_txn_abort(s->txn);
  buf_release(&s->key);
  free(s);
}

int online_snap_get(struct online_snap *s, int64_t fg_id, const void *key, size_t klen, const void **row, size_t *len,
                    oast_err *e) {
  buf_reset(&s->key);
  key_prefix(&s->key, fg_id);
  buf_append(&s->key, key, klen);
  MDB_val mk = {s->key.len, s->key.data}, mv;
  int rc = mdb_get(s->txn, s->o->dbi, &mk, &mv);
  *row = NULL;
  *len = 0;
  if (rc == MDB_NOTFOUND) return 0;
  if (rc) return lmdb_err(rc, e, "read");
  *row = mv.mv_data;
  *len = mv.mv_size;
  return 0;
}

/* The size of the encoded cell at p (bounded by end), 0 when corrupt. */
static size_t cell_size(const unsigned char *p, const unsigned char *end) {
  if (p >= end) return 0;
  if (*p == TAG_NULL) return 1;
  if (*p == TAG_STR) {
    if (end - p < 5) return 0;
    size_t n = ((size_t)p[1] << 24) | ((size_t)p[2] << 16) | ((size_t)p[3] << 8) | p[4];
    return (size_t)(end - p - 5) < n ? 0 : 5 + n;
  }
  return end - p < 9 ? 0 : 9;
}

int online_cell(const void *row, size_t len, size_t col, const void **cell, size_t *n) {
  const unsigned char *p = row, *end = p + len;
  for (size_t c = 0;; c++) {
    size_t k = cell_size(p, end);
    if (!k) return -1;
    if (c == col) {
      *cell = p;
      *n = k;
      return 0;
    }
    p += k;
  }
}

bool online_cell_is_null(const void *cell, size_t n) { return n == 0 || *(const unsigned char *)cell == TAG_NULL; }

static void json_string_text(struct buf *out, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  buf_putc(out, '"');
  size_t from = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    buf_append(out, s + from, i - from);
    from = i + 1;
    switch (c) {
      case '"': buf_puts(out, "\\\""); break;
      case '\\': buf_puts(out, "\\\\"); break;
      case '\n': buf_puts(out, "\\n"); break;
      case '\r': buf_puts(out, "\\r"); break;
      case '\t': buf_puts(out, "\\t"); break;
      default: {
        char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
        buf_puts(out, u);
      }
    }
  }
  buf_append(out, s + from, n - from);
  buf_putc(out, '"');
}

void online_cell_json(const void *cell, size_t n, struct buf *out) {
  const unsigned char *p = cell;
  if (n == 0 || *p == TAG_NULL) {
    buf_puts(out, "null");
    return;
  }
  if (*p == TAG_STR) {
    json_string_text(out, (const char *)p + 5, n - 5);
    return;
  }
  uint64_t u = get_u64be(p + 1);
  int64_t v = (int64_t)(u ^ ((uint64_t)1 << 63));
  char text[48];
  switch (*p) {
    case TAG_INT: buf_printf(out, "%lld", (long long)v); return;
    case TAG_BOOL: buf_puts(out, v ? "true" : "false"); return;
    case TAG_FLOAT: {
      double d;
      memcpy(&d, &u, 8);
      if (!isfinite(d)) {
        buf_puts(out, "null");
        return;
      }
      size_t k = rows_format_double(d, text);
      buf_append(out, text, k);
      if (!memchr(text, '.', k) && !memchr(text, 'e', k)) buf_puts(out, ".0"); /* stays a real */
      return;
    }
    case TAG_TS:
      timestamp_format(v, text, sizeof text);
      json_string_text(out, text, strlen(text));
      return;
    case TAG_DATE:
      date_format((int32_t)v, text, sizeof text);
      json_string_text(out, text, strlen(text));
      return;
    default: buf_puts(out, "null");
  }
}
