/*
 * meta.c — Parquet footer and page header codec (see meta.h).
 *
 * Each struct has a decoder that loops over its fields with a switch on
 * the field id (unknown ids are skipped whatever their type) and an
 * encoder that writes the fields in id order, as the compact protocol's
 * delta field headers prefer. Field ids follow parquet.thrift.
 */
#include "formats/parquet/meta.h"

#include <string.h>

#include "util/alloc.h"

/* Decoding context: the reader plus the allocation budget. */
struct dctx {
  struct tr r;
  size_t budget;
};

static void *alloc_list(struct dctx *d, size_t n, size_t size) {
  if (n == 0) return NULL;
  if (n > d->budget / size) {
    tr_fail(&d->r, "metadata lists are larger than the footer can hold");
    return NULL;
  }
  d->budget -= n * size;
  return xcalloc(n, size);
}

/*
 * Header of a list-of-structs field: allocates *arr of n elements of
 * `size` bytes (charged to the budget) and sets *count to n. A second occurrence
 * of the field, or elements that are not structs, fail the reader (and
 * leave the first occurrence as it was, for pm_file_release).
 */
static void struct_list(struct dctx *d, int type, void **arr, size_t *count, size_t size, const char *what) {
  int et;
  size_t n = tr_list(&d->r, type, &et);
  if (*arr || (n && et != TT_STRUCT)) {
    tr_fail(&d->r, what);
    return;
  }
  *arr = alloc_list(d, n, size);
  *count = *arr ? n : 0;
}

static char *dup_binary(struct dctx *d, int type) {
  size_t n;
  const uint8_t *p = tr_binary(&d->r, type, &n);
  if (d->r.err) return NULL;
  if (n + 1 > d->budget) {
    tr_fail(&d->r, "metadata strings are larger than the footer can hold");
    return NULL;
  }
  d->budget -= n + 1;
  return xstrndup((const char *)p, n);
}

static struct pm_bytes get_bytes(struct tr *r, int type) {
  struct pm_bytes b;
  b.p = tr_binary(r, type, &b.n);
  b.set = !r->err;
  return b;
}

/* Iterates the fields of a struct value: FOR_FIELDS(r, id, type) { switch (id) ... } */
#define FOR_FIELDS(r, id, type) \
  for (int16_t last_##id = 0, id = 0; tr_field((r), &last_##id, &id, &(type));)

/* ---- statistics ---- */

static void dec_stats(struct tr *r, int t, struct pm_stats *s) {
  memset(s, 0, sizeof *s);
  if (!tr_struct_begin(r, t)) return;
  int type;
  FOR_FIELDS(r, id, type) {
    switch (id) {
      case 1: s->max = get_bytes(r, type); break;
      case 2: s->min = get_bytes(r, type); break;
      case 3: s->null_count = tr_i64(r, type); s->has_null_count = true; break;
      case 4: s->distinct_count = tr_i64(r, type); s->has_distinct_count = true; break;
      case 5: s->max_value = get_bytes(r, type); break;
      case 6: s->min_value = get_bytes(r, type); break;
      case 7: s->max_inexact = !tr_bool(r, type); break;
      case 8: s->min_inexact = !tr_bool(r, type); break;
      default: tr_skip(r, type);
    }
  }
  tr_struct_end(r);
}

static void enc_stats(struct tw *w, int16_t id, const struct pm_stats *s) {
  tw_struct_begin(w, id);
  if (s->max.set) tw_binary(w, 1, s->max.p, s->max.n);
  if (s->min.set) tw_binary(w, 2, s->min.p, s->min.n);
  if (s->has_null_count) tw_i64(w, 3, s->null_count);
  if (s->has_distinct_count) tw_i64(w, 4, s->distinct_count);
  if (s->max_value.set) tw_binary(w, 5, s->max_value.p, s->max_value.n);
  if (s->min_value.set) tw_binary(w, 6, s->min_value.p, s->min_value.n);
  tw_struct_end(w);
}

/* ---- schema ---- */

/* A TimeUnit union: which member is set. */
static int dec_time_unit(struct tr *r, int t) {
  int unit = TU_NONE, type;
  if (!tr_struct_begin(r, t)) return TU_NONE;
  FOR_FIELDS(r, id, type) {
    if (id >= 1 && id <= 3) unit = id;
    tr_skip(r, type);
  }
  tr_struct_end(r);
  return unit;
}

static void dec_logical(struct tr *r, int t, struct pm_schema *s) {
  int type;
  if (!tr_struct_begin(r, t)) return;
  FOR_FIELDS(r, id, type) {
    s->logical = id;
    if ((id == LT_TIMESTAMP || id == LT_TIME || id == LT_INTEGER || id == LT_DECIMAL) && tr_struct_begin(r, type)) {
      int ft;
      FOR_FIELDS(r, fid, ft) {
        if (id == LT_INTEGER && fid == 1) {
          s->lt_bits = (int)tr_i64(r, ft);
        } else if (id == LT_INTEGER && fid == 2) {
          s->lt_signed = tr_bool(r, ft);
        } else if (id == LT_DECIMAL && fid == 1) {
          s->lt_scale = tr_i32(r, ft);
        } else if (id == LT_DECIMAL && fid == 2) {
          s->lt_precision = tr_i32(r, ft);
        } else if (id != LT_INTEGER && id != LT_DECIMAL && fid == 1) {
          s->lt_utc = tr_bool(r, ft);
        } else if (id != LT_INTEGER && id != LT_DECIMAL && fid == 2) {
          s->lt_unit = dec_time_unit(r, ft);
        } else {
          tr_skip(r, ft);
        }
      }
      tr_struct_end(r);
    } else {
      tr_skip(r, type);
    }
  }
  tr_struct_end(r);
}

static void dec_schema(struct dctx *d, int t, struct pm_schema *s) {
  struct tr *r = &d->r;
  int type;
  if (!tr_struct_begin(r, t)) return;
  FOR_FIELDS(r, id, type) {
    switch (id) {
      case 1: s->type = tr_i32(r, type); s->has_type = true; break;
      case 2: s->type_length = tr_i32(r, type); break;
      case 3: s->rep = tr_i32(r, type); s->has_rep = true; break;
      case 4: free(s->name); s->name = dup_binary(d, type); break;
      case 5: s->num_children = tr_i32(r, type); break;
      case 6: s->converted = tr_i32(r, type); s->has_converted = true; break;
      case 7: s->scale = tr_i32(r, type); break;
      case 8: s->precision = tr_i32(r, type); break;
      case 10: dec_logical(r, type, s); break;
      default: tr_skip(r, type);
    }
  }
  tr_struct_end(r);
  if (!r->err && !s->name) tr_fail(r, "a schema element has no name");
}

static void enc_unit_struct(struct tw *w, int16_t id) {
  tw_struct_begin(w, id);
  tw_struct_end(w);
}

static void enc_schema(struct tw *w, const struct pm_schema *s) {
  tw_struct_begin(w, 0);
  if (s->has_type) tw_i32(w, 1, s->type);
  if (s->type == PT_FLBA && s->has_type) tw_i32(w, 2, s->type_length);
  if (s->has_rep) tw_i32(w, 3, s->rep);
  tw_string(w, 4, s->name);
  if (s->num_children) tw_i32(w, 5, s->num_children);
  if (s->has_converted) tw_i32(w, 6, s->converted);
  if (s->logical != LT_NONE) {
    tw_struct_begin(w, 10);
    if (s->logical == LT_TIMESTAMP || s->logical == LT_TIME) {
      tw_struct_begin(w, (int16_t)s->logical);
      tw_bool(w, 1, s->lt_utc);
      tw_struct_begin(w, 2);
      enc_unit_struct(w, (int16_t)s->lt_unit);
      tw_struct_end(w);
      tw_struct_end(w);
    } else if (s->logical == LT_INTEGER) {
      tw_struct_begin(w, LT_INTEGER);
      tw_byte(w, 1, (int8_t)s->lt_bits);
      tw_bool(w, 2, s->lt_signed);
      tw_struct_end(w);
    } else {
      enc_unit_struct(w, (int16_t)s->logical);
    }
    tw_struct_end(w);
  }
  tw_struct_end(w);
}

/* ---- column chunks ---- */

static void dec_column_meta(struct dctx *d, int t, struct pm_column_meta *m) {
  struct tr *r = &d->r;
  int type;
  if (!tr_struct_begin(r, t)) return;
  FOR_FIELDS(r, id, type) {
    switch (id) {
      case 1: m->type = tr_i32(r, type); break;
      case 2: {
        int et;
        size_t n = tr_list(r, type, &et);
        for (size_t i = 0; i < n && !r->err; i++) {
          if (et != TT_I32) {
            tr_fail(r, "encodings are not a list of integers");
            break;
          }
          int64_t enc = tr_get_int(r);
          if (enc >= 0 && enc < 32) m->encodings |= 1u << enc;
        }
        break;
      }
      case 3: {
        int et;
        size_t n = tr_list(r, type, &et);
        m->path_len = n;
        for (size_t i = 0; i < n && !r->err; i++) {
          if (i == 0 && !m->path) m->path = dup_binary(d, et); else tr_skip(r, et);
        }
        break;
      }
      case 4: m->codec = tr_i32(r, type); break;
      case 5: m->num_values = tr_i64(r, type); break;
      case 6: m->total_uncompressed_size = tr_i64(r, type); break;
      case 7: m->total_compressed_size = tr_i64(r, type); break;
      case 9: m->data_page_offset = tr_i64(r, type); break;
      case 11:
        m->dictionary_page_offset = tr_i64(r, type);
        m->has_dictionary_page_offset = true;
        break;
      case 12: dec_stats(r, type, &m->stats); m->has_stats = !r->err; break;
      default: tr_skip(r, type);
    }
  }
  tr_struct_end(r);
}

static void enc_column_meta(struct tw *w, int16_t id, const struct pm_column_meta *m) {
  tw_struct_begin(w, id);
  tw_i32(w, 1, m->type);
  size_t nenc = 0;
  for (int i = 0; i < 32; i++) nenc += (m->encodings >> i) & 1;
  tw_list(w, 2, TT_I32, nenc);
  for (int i = 0; i < 32; i++)
    if ((m->encodings >> i) & 1) tw_put_i32(w, i);
  tw_list(w, 3, TT_BINARY, 1);
  tw_put_binary(w, m->path, strlen(m->path));
  tw_i32(w, 4, m->codec);
  tw_i64(w, 5, m->num_values);
  tw_i64(w, 6, m->total_uncompressed_size);
  tw_i64(w, 7, m->total_compressed_size);
  tw_i64(w, 9, m->data_page_offset);
  if (m->has_dictionary_page_offset) tw_i64(w, 11, m->dictionary_page_offset);
  if (m->has_stats) enc_stats(w, 12, &m->stats);
  tw_struct_end(w);
}

static void dec_chunk(struct dctx *d, int t, struct pm_chunk *c) {
  struct tr *r = &d->r;
  int type;
  if (!tr_struct_begin(r, t)) return;
  FOR_FIELDS(r, id, type) {
    switch (id) {
      case 1: c->has_file_path = true; tr_skip(r, type); break;
      case 2: c->file_offset = tr_i64(r, type); break;
      case 3:
        if (c->has_meta) {
          tr_skip(r, type);
          break;
        }
        dec_column_meta(d, type, &c->meta);
        c->has_meta = true;
        break;
      case 8:
      case 9: c->encrypted = true; tr_skip(r, type); break;
      default: tr_skip(r, type);
    }
  }
  tr_struct_end(r);
}

static void enc_chunk(struct tw *w, const struct pm_chunk *c) {
  tw_struct_begin(w, 0);
  tw_i64(w, 2, c->file_offset);
  enc_column_meta(w, 3, &c->meta);
  tw_struct_end(w);
}

static void dec_row_group(struct dctx *d, int t, struct pm_row_group *g) {
  struct tr *r = &d->r;
  int type;
  if (!tr_struct_begin(r, t)) return;
  FOR_FIELDS(r, id, type) {
    switch (id) {
      case 1:
        struct_list(d, type, (void **)&g->chunks, &g->nchunks, sizeof *g->chunks, "a row group's columns are malformed");
        for (size_t i = 0; i < g->nchunks && !r->err; i++) dec_chunk(d, TT_STRUCT, &g->chunks[i]);
        break;
      case 2: g->total_byte_size = tr_i64(r, type); break;
      case 3: g->num_rows = tr_i64(r, type); break;
      case 5: g->file_offset = tr_i64(r, type); break;
      case 6: g->total_compressed_size = tr_i64(r, type); break;
      case 7: g->ordinal = (int16_t)tr_i32(r, type); g->has_ordinal = true; break;
      default: tr_skip(r, type);
    }
  }
  tr_struct_end(r);
}

static void enc_row_group(struct tw *w, const struct pm_row_group *g) {
  tw_struct_begin(w, 0);
  tw_list(w, 1, TT_STRUCT, g->nchunks);
  for (size_t i = 0; i < g->nchunks; i++) enc_chunk(w, &g->chunks[i]);
  tw_i64(w, 2, g->total_byte_size);
  tw_i64(w, 3, g->num_rows);
  tw_i64(w, 5, g->file_offset);
  tw_i64(w, 6, g->total_compressed_size);
  if (g->has_ordinal) {
    tw_field(w, 7, TT_I16);
    tw_put_i32(w, g->ordinal);
  }
  tw_struct_end(w);
}

static void dec_kv(struct dctx *d, int t, struct pm_kv *kv) {
  struct tr *r = &d->r;
  int type;
  if (!tr_struct_begin(r, t)) return;
  FOR_FIELDS(r, id, type) {
    if (id == 1 && !kv->key) kv->key = dup_binary(d, type);
    else if (id == 2 && !kv->value) kv->value = dup_binary(d, type);
    else tr_skip(r, type);
  }
  tr_struct_end(r);
  if (!r->err && !kv->key) tr_fail(r, "a key/value entry has no key");
}

/* ---- the file ---- */

int pm_decode_file(const uint8_t *p, size_t n, struct pm_file *f, const char **why) {
  memset(f, 0, sizeof *f);
  struct dctx d;
  tr_init(&d.r, p, n);
  /* Decoded structs are larger than their encoding; allow a fixed multiple. */
  d.budget = n * 32 + 65536;
  struct tr *r = &d.r;
  bool have_version = false, have_schema = false, have_rows = false, have_rgs = false;
  int type;
  FOR_FIELDS(r, id, type) {
    switch (id) {
      case 1: f->version = tr_i32(r, type); have_version = true; break;
      case 2:
        struct_list(&d, type, (void **)&f->schema, &f->nschema, sizeof *f->schema, "the schema is malformed");
        for (size_t i = 0; i < f->nschema && !r->err; i++) dec_schema(&d, TT_STRUCT, &f->schema[i]);
        have_schema = true;
        break;
      case 3: f->num_rows = tr_i64(r, type); have_rows = true; break;
      case 4:
        struct_list(&d, type, (void **)&f->rgs, &f->nrgs, sizeof *f->rgs, "the row groups are malformed");
        for (size_t i = 0; i < f->nrgs && !r->err; i++) dec_row_group(&d, TT_STRUCT, &f->rgs[i]);
        have_rgs = true;
        break;
      case 5:
        struct_list(&d, type, (void **)&f->kv, &f->nkv, sizeof *f->kv, "the key/value metadata is malformed");
        for (size_t i = 0; i < f->nkv && !r->err; i++) dec_kv(&d, TT_STRUCT, &f->kv[i]);
        break;
      case 6: free(f->created_by); f->created_by = dup_binary(&d, type); break;
      case 7: {
        int et;
        size_t cnt = tr_list(r, type, &et);
        f->type_order = cnt > 0;
        for (size_t i = 0; i < cnt && !r->err; i++) {
          /* Each ColumnOrder is a union; TYPE_ORDER is member 1. */
          if (!tr_struct_begin(r, et)) break;
          int ft;
          FOR_FIELDS(r, fid, ft) {
            if (fid != 1) f->type_order = false;
            tr_skip(r, ft);
          }
          tr_struct_end(r);
        }
        break;
      }
      case 8: f->encrypted = true; tr_skip(r, type); break;
      default: tr_skip(r, type);
    }
  }
  if (!r->err && !(have_version && have_schema && have_rows && have_rgs))
    tr_fail(r, "a required footer field is missing");
  if (r->err) {
    *why = r->err;
    pm_file_release(f);
    return -1;
  }
  return 0;
}

void pm_file_release(struct pm_file *f) {
  if (!f) return;
  for (size_t i = 0; i < f->nschema; i++) free(f->schema[i].name);
  free(f->schema);
  for (size_t i = 0; i < f->nrgs; i++) {
    for (size_t c = 0; c < f->rgs[i].nchunks; c++) free(f->rgs[i].chunks[c].meta.path);
    free(f->rgs[i].chunks);
  }
  free(f->rgs);
  for (size_t i = 0; i < f->nkv; i++) {
    free(f->kv[i].key);
    free(f->kv[i].value);
  }
  free(f->kv);
  free(f->created_by);
  memset(f, 0, sizeof *f);
}

void pm_encode_file(struct tw *w, const struct pm_file *f) {
  tw_reset(w);
  tw_i32(w, 1, f->version);
  tw_list(w, 2, TT_STRUCT, f->nschema);
  for (size_t i = 0; i < f->nschema; i++) enc_schema(w, &f->schema[i]);
  tw_i64(w, 3, f->num_rows);
  tw_list(w, 4, TT_STRUCT, f->nrgs);
  for (size_t i = 0; i < f->nrgs; i++) enc_row_group(w, &f->rgs[i]);
  if (f->nkv) {
    tw_list(w, 5, TT_STRUCT, f->nkv);
    for (size_t i = 0; i < f->nkv; i++) {
      tw_struct_begin(w, 0);
      tw_string(w, 1, f->kv[i].key);
      if (f->kv[i].value) tw_string(w, 2, f->kv[i].value);
      tw_struct_end(w);
    }
  }
  if (f->created_by) tw_string(w, 6, f->created_by);
  if (f->type_order && f->nschema > 1) {
    tw_list(w, 7, TT_STRUCT, f->nschema - 1);
    for (size_t i = 1; i < f->nschema; i++) {
      tw_struct_begin(w, 0);
      enc_unit_struct(w, 1);
      tw_struct_end(w);
    }
  }
  tw_struct_end(w);   /* the STOP of FileMetaData itself */
}

/* ---- page headers ---- */

int pm_decode_page(struct tr *r, struct pm_page *h) {
  memset(h, 0, sizeof *h);
  h->is_compressed = true;
  h->type = -1;
  bool have_type = false, have_u = false, have_c = false;
  int type;
  r->depth = 0;
  FOR_FIELDS(r, id, type) {
    switch (id) {
      case 1: h->type = tr_i32(r, type); have_type = true; break;
      case 2: h->uncompressed_size = tr_i32(r, type); have_u = true; break;
      case 3: h->compressed_size = tr_i32(r, type); have_c = true; break;
      case 5:
      case 8: {
        if (!tr_struct_begin(r, type)) break;
        bool v2 = id == 8;
        int ft;
        FOR_FIELDS(r, fid, ft) {
          switch (v2 ? fid + 100 : fid) {
            case 1: case 101: h->num_values = tr_i32(r, ft); break;
            case 2: h->encoding = tr_i32(r, ft); break;
            case 3: h->def_encoding = tr_i32(r, ft); break;
            case 4: h->rep_encoding = tr_i32(r, ft); break;
            case 102: h->num_nulls = tr_i32(r, ft); break;
            case 103: h->num_rows = tr_i32(r, ft); break;
            case 104: h->encoding = tr_i32(r, ft); break;
            case 105: h->def_len = tr_i32(r, ft); break;
            case 106: h->rep_len = tr_i32(r, ft); break;
            case 107: h->is_compressed = tr_bool(r, ft); break;
            default: tr_skip(r, ft);
          }
        }
        tr_struct_end(r);
        if (v2) h->has_v2 = true; else h->has_data = true;
        break;
      }
      case 7: {
        if (!tr_struct_begin(r, type)) break;
        int ft;
        FOR_FIELDS(r, fid, ft) {
          if (fid == 1) h->dict_num_values = tr_i32(r, ft);
          else if (fid == 2) h->dict_encoding = tr_i32(r, ft);
          else tr_skip(r, ft);
        }
        tr_struct_end(r);
        h->has_dict = true;
        break;
      }
      default: tr_skip(r, type);
    }
  }
  if (!r->err && !(have_type && have_u && have_c)) tr_fail(r, "a page header lacks its type or sizes");
  if (!r->err && (h->uncompressed_size < 0 || h->compressed_size < 0)) tr_fail(r, "a page size is negative");
  return r->err ? -1 : 0;
}

void pm_encode_page(struct tw *w, const struct pm_page *h) {
  tw_reset(w);
  tw_i32(w, 1, h->type);
  tw_i32(w, 2, h->uncompressed_size);
  tw_i32(w, 3, h->compressed_size);
  if (h->type == PAGE_DATA) {
    tw_struct_begin(w, 5);
    tw_i32(w, 1, h->num_values);
    tw_i32(w, 2, h->encoding);
    tw_i32(w, 3, h->def_encoding);
    tw_i32(w, 4, h->rep_encoding);
    if (h->has_stats) enc_stats(w, 5, &h->stats);
    tw_struct_end(w);
  } else if (h->type == PAGE_DATA_V2) {
    tw_struct_begin(w, 8);
    tw_i32(w, 1, h->num_values);
    tw_i32(w, 2, h->num_nulls);
    tw_i32(w, 3, h->num_rows);
    tw_i32(w, 4, h->encoding);
    tw_i32(w, 5, h->def_len);
    tw_i32(w, 6, h->rep_len);
    if (!h->is_compressed) tw_bool(w, 7, false);
    if (h->has_stats) enc_stats(w, 8, &h->stats);
    tw_struct_end(w);
  } else if (h->type == PAGE_DICTIONARY) {
    tw_struct_begin(w, 7);
    tw_i32(w, 1, h->dict_num_values);
    tw_i32(w, 2, h->dict_encoding);
    tw_struct_end(w);
  }
  tw_struct_end(w);
}
