/*
 * inputs.c — request bodies into rows, checked against the model's input
 * schema (see inputs.h).
 *
 * Errors name the place of the problem the way a person would look for
 * it: "instances[3][1] (column \"age\") is a string where the model schema
 * says double", "instances[2] is ragged: 3 values where instances[0] has
 * 4". Paths are built in a small buffer while walking, so a valid request
 * costs no allocation for them.
 */
#define _GNU_SOURCE
#include "serve/inputs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

#define SCHEMA_MAX_COLS 4096
#define PATH_MAX_LEN 160

/* ---- types and schema ---- */

static const struct {
  const char *name;
  enum vtype t;
} type_names[] = {
    {"double", VT_FLOAT},  {"float", VT_FLOAT},   {"float16", VT_FLOAT}, {"float32", VT_FLOAT}, {"float64", VT_FLOAT},
    {"number", VT_FLOAT},  {"decimal", VT_FLOAT}, {"int", VT_INT},       {"bigint", VT_INT},    {"integer", VT_INT},
    {"long", VT_INT},      {"smallint", VT_INT},  {"tinyint", VT_INT},   {"int8", VT_INT},      {"int16", VT_INT},
    {"int32", VT_INT},     {"int64", VT_INT},     {"uint8", VT_INT},     {"uint16", VT_INT},    {"uint32", VT_INT},
    {"uint64", VT_INT},    {"boolean", VT_BOOL},  {"bool", VT_BOOL},     {"string", VT_STRING}, {"str", VT_STRING},
    {"object", VT_STRING}, {"bytes", VT_STRING},
};

const char *vtype_name(enum vtype t) {
  switch (t) {
    case VT_FLOAT: return "double";
    case VT_INT: return "int";
    case VT_BOOL: return "boolean";
    default: return "string";
  }
}

static int parse_type(const char *s, enum vtype *t) {
  for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
    if (!strcasecmp(s, type_names[i].name)) {
      *t = type_names[i].t;
      return 0;
    }
  return -1;
}

void schema_free(struct in_schema *s) {
  if (!s) return;
  for (size_t i = 0; i < s->ncols; i++) free(s->names[i]);
  free(s->names);
  free(s->types);
  free(s);
}

static int bad_type(oast_err *e, const char *field, const char *got) {
  return oast_err_set(e, OAST_EBAD_REQUEST,
                      "%s: type \"%.40s\" is not one of double, float, int, bigint, boolean, string (or numpy's "
                      "float32, int64, ...)",
                      field, got);
}

static int parse_columns(json_t *cols, struct in_schema *s, oast_err *e) {
  const char *f = "model_schema.input_schema.columnar_schema";
  if (!json_is_array(cols) || json_array_size(cols) == 0 || json_array_size(cols) > SCHEMA_MAX_COLS)
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s must be a list of 1 to %d columns", f, SCHEMA_MAX_COLS);
  s->kind = SCHEMA_COLUMNS;
  s->ncols = json_array_size(cols);
  s->names = xcalloc(s->ncols, sizeof *s->names);
  s->types = xcalloc(s->ncols, sizeof *s->types);
  for (size_t i = 0; i < s->ncols; i++) {
    json_t *c = json_array_get(cols, i);
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *type = json_string_value(json_object_get(c, "type"));
    if (!json_is_object(c) || !name || !*name || strlen(name) > 128 || !type)
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s[%zu] must be {\"name\", \"type\"} with a name of 1 to 128 characters",
                          f, i);
    char field[96];
    snprintf(field, sizeof field, "%s[%zu]", f, i);
    if (parse_type(type, &s->types[i])) return bad_type(e, field, type);
    for (size_t j = 0; j < i; j++)
      if (!strcmp(s->names[j], name)) return oast_err_set(e, OAST_EBAD_REQUEST, "%s: column \"%s\" appears twice", f, name);
    s->names[i] = xstrdup(name);
  }
  return 0;
}

static int parse_tensor(json_t *t, struct in_schema *s, oast_err *e) {
  const char *f = "model_schema.input_schema.tensor_schema";
  if (json_is_array(t)) {
    if (json_array_size(t) != 1)
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s must describe exactly one tensor (several are not supported)", f);
    t = json_array_get(t, 0);
  }
  json_t *shape = json_object_get(t, "shape");
  const char *type = json_string_value(json_object_get(t, "type"));
  if (!json_is_object(t) || !type || !json_is_array(shape))
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s must be {\"type\", \"shape\"}", f);
  s->kind = SCHEMA_TENSOR;
  if (parse_type(type, &s->ttype)) return bad_type(e, f, type);
  size_t n = json_array_size(shape);
  if (n < 1 || n > INPUTS_MAX_DIMS + 1)
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s.shape must have 1 to %d dimensions, the first being the batch", f,
                        INPUTS_MAX_DIMS + 1);
  s->ndims = (int)n - 1;
  for (size_t i = 0; i < n; i++) {
    json_t *d = json_array_get(shape, i);
    if (!json_is_integer(d) || json_integer_value(d) < -1 || json_integer_value(d) == 0 ||
        json_integer_value(d) > 1000000)
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s.shape[%zu] must be -1 (any size) or a positive integer", f, i);
    if (i > 0) s->dims[i - 1] = json_integer_value(d);
  }
  return 0;
}

int schema_parse(json_t *ms, struct in_schema **out, oast_err *e) {
  *out = NULL;
  if (!ms || json_is_null(ms)) return 0;
  if (!json_is_object(ms)) return oast_err_set(e, OAST_EBAD_REQUEST, "model_schema must be an object");
  json_t *in = json_object_get(ms, "input_schema");
  if (!in || json_is_null(in)) return 0;
  if (!json_is_object(in)) return oast_err_set(e, OAST_EBAD_REQUEST, "model_schema.input_schema must be an object");
  json_t *cols = json_object_get(in, "columnar_schema"), *tens = json_object_get(in, "tensor_schema");
  if (cols && tens)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "model_schema.input_schema has both columnar_schema and tensor_schema; keep one");
  if (!cols && !tens) return 0;
  struct in_schema *s = xcalloc(1, sizeof *s);
  int rc = cols ? parse_columns(cols, s, e) : parse_tensor(tens, s, e);
  if (rc) {
    schema_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* ---- paths in errors ---- */

struct path {
  char s[PATH_MAX_LEN];
  size_t n;
};

static void path_set(struct path *p, const char *what, size_t i) {
  int k = snprintf(p->s, sizeof p->s, "%s[%zu]", what, i);
  p->n = k < 0 ? 0 : (size_t)k >= sizeof p->s ? sizeof p->s - 1 : (size_t)k;
}

/* Appends "[i]" or ".key"; returns the previous length to restore. */
static size_t path_push_index(struct path *p, size_t i) {
  size_t old = p->n;
  int k = snprintf(p->s + p->n, sizeof p->s - p->n, "[%zu]", i);
  if (k > 0) p->n = p->n + (size_t)k >= sizeof p->s ? sizeof p->s - 1 : p->n + (size_t)k;
  return old;
}

static size_t path_push_key(struct path *p, const char *key) {
  size_t old = p->n;
  int k = snprintf(p->s + p->n, sizeof p->s - p->n, ".%.40s", key);
  if (k > 0) p->n = p->n + (size_t)k >= sizeof p->s ? sizeof p->s - 1 : p->n + (size_t)k;
  return old;
}

static void path_pop(struct path *p, size_t old) {
  p->n = old;
  p->s[old] = '\0';
}

static const char *kind_of(json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
  }
}

/* Whether a value fits a type; null (a missing value) fits every type. */
static bool fits(json_t *v, enum vtype t) {
  switch (json_typeof(v)) {
    case JSON_NULL: return true;
    case JSON_INTEGER: return t == VT_FLOAT || t == VT_INT;
    case JSON_REAL: {
      if (t == VT_FLOAT) return true;
      double d = json_real_value(v);
      return t == VT_INT && isfinite(d) && floor(d) == d;
    }
    case JSON_TRUE:
    case JSON_FALSE: return t == VT_BOOL;
    case JSON_STRING: return t == VT_STRING;
    default: return false;
  }
}

/* ---- checks ---- */

static void list_columns(const struct in_schema *s, char *out, size_t n) {
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < s->ncols && used + 1 < n; i++) {
    int k = snprintf(out + used, n - used, "%s%s", i ? ", " : "", s->names[i]);
    if (k < 0 || used + (size_t)k >= n) {
      if (n > 5) strcpy(out + (n > used + 5 ? used : n - 5), ", ...");
      break;
    }
    used += (size_t)k;
  }
}

static int check_columns(const struct in_schema *s, json_t *row, struct path *p, oast_err *e) {
  if (json_is_array(row)) {
    if (json_array_size(row) != s->ncols) {
      char cols[256];
      list_columns(s, cols, sizeof cols);
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s has %zu values where the model schema has %zu columns (%s)", p->s,
                          json_array_size(row), s->ncols, cols);
    }
    for (size_t j = 0; j < s->ncols; j++) {
      json_t *v = json_array_get(row, j);
      if (!fits(v, s->types[j]))
        return oast_err_set(e, OAST_EBAD_REQUEST, "%s[%zu] (column \"%s\") is %s where the model schema says %s", p->s,
                            j, s->names[j], kind_of(v), vtype_name(s->types[j]));
    }
    return 0;
  }
  if (json_is_object(row)) {
    for (size_t j = 0; j < s->ncols; j++) {
      json_t *v = json_object_get(row, s->names[j]);
      if (!v) return oast_err_set(e, OAST_EBAD_REQUEST, "%s lacks column \"%s\" of the model schema", p->s, s->names[j]);
      if (!fits(v, s->types[j]))
        return oast_err_set(e, OAST_EBAD_REQUEST, "%s.%s is %s where the model schema says %s", p->s, s->names[j],
                            kind_of(v), vtype_name(s->types[j]));
    }
    if (json_object_size(row) != s->ncols) {
      const char *k;
      json_t *v;
      json_object_foreach(row, k, v) {
        size_t j = 0;
        while (j < s->ncols && strcmp(s->names[j], k)) j++;
        if (j == s->ncols)
          return oast_err_set(e, OAST_EBAD_REQUEST, "%s has \"%.64s\", which is not a column of the model schema", p->s, k);
      }
    }
    return 0;
  }
  if (s->ncols == 1) {
    if (!fits(row, s->types[0]))
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s (column \"%s\") is %s where the model schema says %s", p->s,
                          s->names[0], kind_of(row), vtype_name(s->types[0]));
    return 0;
  }
  return oast_err_set(e, OAST_EBAD_REQUEST,
                      "%s is %s where the model schema wants a list of %zu values or an object of named values", p->s,
                      kind_of(row), s->ncols);
}

static void shape_text(const int64_t *dims, int n, char *out, size_t len) {
  size_t used = (size_t)snprintf(out, len, "[");
  for (int i = 0; i < n && used < len; i++) {
    if (dims[i] < 0) used += (size_t)snprintf(out + used, len - used, "%s-1", i ? ", " : "");
    else used += (size_t)snprintf(out + used, len - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
  }
  if (used < len) snprintf(out + used, len - used, "]");
}

static int check_tensor(const struct in_schema *s, json_t *v, int depth, struct path *p, oast_err *e) {
  char shape[96];
  if (depth == s->ndims) {
    if (!fits(v, s->ttype))
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s is %s where the model schema says %s", p->s, kind_of(v),
                          vtype_name(s->ttype));
    return 0;
  }
  shape_text(s->dims + depth, s->ndims - depth, shape, sizeof shape);
  if (!json_is_array(v))
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s is %s where the model schema's shape %s wants a list", p->s,
                        kind_of(v), shape);
  size_t n = json_array_size(v);
  if (s->dims[depth] >= 0 && (int64_t)n != s->dims[depth])
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s has %zu values where the model schema's shape %s wants %lld", p->s, n,
                        shape, (long long)s->dims[depth]);
  for (size_t i = 0; i < n; i++) {
    size_t old = path_push_index(p, i);
    int rc = check_tensor(s, json_array_get(v, i), depth + 1, p, e);
    path_pop(p, old);
    if (rc) return rc;
  }
  return 0;
}

/* Whether two scalars are of one kind (numbers of either JSON type agree; null agrees with all). */
static bool same_kind(json_t *a, json_t *b) {
  if (json_is_null(a) || json_is_null(b)) return true;
  if (json_is_number(a) && json_is_number(b)) return true;
  if (json_is_boolean(a) && json_is_boolean(b)) return true;
  return json_typeof(a) == json_typeof(b);
}

/* Compares row v (at path p) with the first row's value ref (at path r). */
static int same_shape(json_t *v, json_t *ref, struct path *p, struct path *r, int depth, oast_err *e) {
  if (json_is_null(v) || json_is_null(ref)) return 0;
  if (json_is_array(v) != json_is_array(ref) || json_is_object(v) != json_is_object(ref) || !same_kind(v, ref))
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s is %s where %s is %s", p->s, kind_of(v), r->s, kind_of(ref));
  if (depth >= INPUTS_MAX_DIMS + 2) return 0;
  if (json_is_array(v)) {
    size_t n = json_array_size(v);
    if (n != json_array_size(ref))
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s is ragged: it has %zu values where %s has %zu", p->s, n, r->s,
                          json_array_size(ref));
    for (size_t i = 0; i < n; i++) {
      size_t op = path_push_index(p, i), orr = path_push_index(r, i);
      int rc = same_shape(json_array_get(v, i), json_array_get(ref, i), p, r, depth + 1, e);
      path_pop(p, op);
      path_pop(r, orr);
      if (rc) return rc;
    }
  } else if (json_is_object(v)) {
    const char *k;
    json_t *x;
    json_object_foreach(ref, k, x) {
      json_t *y = json_object_get(v, k);
      if (!y) return oast_err_set(e, OAST_EBAD_REQUEST, "%s lacks \"%.64s\", which %s has", p->s, k, r->s);
      size_t op = path_push_key(p, k), orr = path_push_key(r, k);
      int rc = same_shape(y, x, p, r, depth + 1, e);
      path_pop(p, op);
      path_pop(r, orr);
      if (rc) return rc;
    }
    if (json_object_size(v) != json_object_size(ref)) {
      json_object_foreach(v, k, x) {
        if (!json_object_get(ref, k))
          return oast_err_set(e, OAST_EBAD_REQUEST, "%s has \"%.64s\", which %s lacks", p->s, k, r->s);
      }
    }
  }
  return 0;
}

int rows_check(const struct in_schema *s, json_t *rows, const char *what, oast_err *e) {
  if (!json_is_array(rows)) return oast_err_set(e, OAST_EBAD_REQUEST, "\"%s\" must be a list of instances", what);
  size_t n = json_array_size(rows);
  if (n == 0) return oast_err_set(e, OAST_EBAD_REQUEST, "\"%s\" is empty; send at least one instance", what);
  if (n > INPUTS_MAX_ROWS)
    return oast_err_set(e, OAST_ETOO_LARGE, "\"%s\" has %zu instances; one request may carry at most %d", what, n,
                        INPUTS_MAX_ROWS);
  struct path p, r;
  path_set(&r, what, 0);
  json_t *first = json_array_get(rows, 0);
  for (size_t i = 0; i < n; i++) {
    json_t *row = json_array_get(rows, i);
    path_set(&p, what, i);
    int rc = !s ? (i ? same_shape(row, first, &p, &r, 0, e) : 0)
             : s->kind == SCHEMA_COLUMNS ? check_columns(s, row, &p, e)
                                         : check_tensor(s, row, 0, &p, e);
    if (rc) return rc;
  }
  return 0;
}

/* ---- dense rows for native predictors ---- */

static int dense_value(json_t *v, float *out, const char *what, size_t i, const char *col, size_t j, oast_err *e) {
  switch (json_typeof(v)) {
    case JSON_INTEGER: *out = (float)json_integer_value(v); return 0;
    case JSON_REAL: *out = (float)json_real_value(v); return 0;
    case JSON_TRUE: *out = 1; return 0;
    case JSON_FALSE: *out = 0; return 0;
    case JSON_NULL: *out = NAN; return 0;
    default:
      if (col)
        return oast_err_set(e, OAST_EBAD_REQUEST, "%s[%zu].%s is %s; the model takes numbers", what, i, col, kind_of(v));
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s[%zu][%zu] is %s; the model takes numbers", what, i, j, kind_of(v));
  }
}

int rows_dense(json_t *rows, const char *what, size_t ncols, char *const *names, float *x, oast_err *e) {
  size_t n = json_array_size(rows);
  for (size_t i = 0; i < n; i++) {
    json_t *row = json_array_get(rows, i);
    float *dst = x + i * ncols;
    int rc = 0;
    if (json_is_array(row)) {
      if (json_array_size(row) != ncols)
        return oast_err_set(e, OAST_EBAD_REQUEST, "%s[%zu] has %zu values where the model takes %zu features", what, i,
                            json_array_size(row), ncols);
      for (size_t j = 0; j < ncols && !rc; j++) rc = dense_value(json_array_get(row, j), dst + j, what, i, NULL, j, e);
    } else if (json_is_object(row)) {
      if (!names)
        return oast_err_set(e, OAST_EBAD_REQUEST,
                            "%s[%zu] is an object, but the model names no features; send a list of %zu values", what,
                            i, ncols);
      size_t found = 0;
      for (size_t j = 0; j < ncols && !rc; j++) {
        json_t *v = json_object_get(row, names[j]);
        if (v) found++;
        if (v) rc = dense_value(v, dst + j, what, i, names[j], j, e);
        else dst[j] = NAN; /* a feature left out is a missing value */
      }
      if (!rc && found != json_object_size(row)) {
        const char *k;
        json_t *v;
        json_object_foreach(row, k, v) {
          size_t j = 0;
          while (j < ncols && strcmp(names[j], k)) j++;
          if (j == ncols)
            return oast_err_set(e, OAST_EBAD_REQUEST, "%s[%zu] has \"%.64s\", which is not a feature of the model", what,
                                i, k);
        }
      }
    } else if (ncols == 1 && !json_is_string(row)) {
      rc = dense_value(row, dst, what, i, NULL, 0, e);
    } else {
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s[%zu] is %s where the model takes a list of %zu numbers", what, i,
                          kind_of(row), ncols);
    }
    if (rc) return rc;
  }
  return 0;
}

/* ---- the fast path ---- */

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  return p;
}

/* A JSON number (or null) at p; NULL when there is none. strtod also takes what JSON does not (hex, inf),
 * so the characters are checked first. */
static const char *fast_number(const char *p, const char *end, float *out) {
  if (end - p >= 4 && !memcmp(p, "null", 4)) {
    *out = NAN;
    return p + 4;
  }
  const char *q = p;
  if (q < end && *q == '-') q++;
  if (q >= end || *q < '0' || *q > '9') return NULL;
  while (q < end && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' || *q == '+' || *q == '-')) q++;
  char buf[64];
  size_t n = (size_t)(q - p);
  if (n >= sizeof buf) return NULL;
  memcpy(buf, p, n);
  buf[n] = '\0';
  char *stop;
  double d = strtod(buf, &stop);
  if (stop != buf + n || !isfinite(d)) return NULL;
  *out = (float)d;
  return q;
}

size_t rows_fast_dense(const char *text, size_t len, size_t ncols, float *x, size_t max_rows) {
  static const char key[] = "\"instances\"";
  const char *p = text, *end = text + len;
  p = skip_ws(p, end);
  if (p == end || *p++ != '{') return 0;
  p = skip_ws(p, end);
  if ((size_t)(end - p) < sizeof key - 1 || memcmp(p, key, sizeof key - 1)) return 0;
  p = skip_ws(p + sizeof key - 1, end);
  if (p == end || *p++ != ':') return 0;
  p = skip_ws(p, end);
  if (p == end || *p++ != '[') return 0;
  size_t rows = 0;
  for (;;) {
    p = skip_ws(p, end);
    if (p == end || *p++ != '[' || rows == max_rows) return 0;
    for (size_t j = 0; j < ncols; j++) {
      p = skip_ws(p, end);
      if (!(p = fast_number(p, end, &x[rows * ncols + j]))) return 0;
      p = skip_ws(p, end);
      if (p == end || *p++ != (j + 1 < ncols ? ',' : ']')) return 0;
    }
    rows++;
    p = skip_ws(p, end);
    if (p == end) return 0;
    if (*p == ',') {
      p++;
      continue;
    }
    if (*p++ != ']') return 0;
    break;
  }
  p = skip_ws(p, end);
  if (p == end || *p++ != '}') return 0;
  return skip_ws(p, end) == end ? rows : 0;
}

/* ---- protocols ---- */

const char *verb_name(enum verb v) { return v == VERB_CLASSIFY ? "classify" : v == VERB_REGRESS ? "regress" : "predict"; }

static int columns_to_rows(json_t *in, json_t **rows, oast_err *e) {
  if (json_object_size(in) == 0) return oast_err_set(e, OAST_EBAD_REQUEST, "\"inputs\" has no named inputs");
  size_t n = 0;
  const char *first = NULL, *k;
  json_t *v;
  json_object_foreach(in, k, v) {
    if (!json_is_array(v))
      return oast_err_set(e, OAST_EBAD_REQUEST, "inputs.%.64s must be a list with one value per instance", k);
    if (!first) {
      first = k;
      n = json_array_size(v);
    } else if (json_array_size(v) != n) {
      return oast_err_set(e, OAST_EBAD_REQUEST, "inputs.%.64s has %zu values where inputs.%.64s has %zu", k,
                          json_array_size(v), first, n);
    }
  }
  if (n > INPUTS_MAX_ROWS)
    return oast_err_set(e, OAST_ETOO_LARGE, "\"inputs\" has %zu instances; one request may carry at most %d", n,
                        INPUTS_MAX_ROWS);
  json_t *out = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *row = json_object();
    json_object_foreach(in, k, v) json_object_set(row, k, json_array_get(v, i));
    json_array_append_new(out, row);
  }
  *rows = out;
  return 0;
}

int tfs_rows(json_t *body, enum verb verb, const struct in_schema *s, json_t **rows, bool *columnar, oast_err *e) {
  json_t *inst = json_object_get(body, "instances"), *in = json_object_get(body, "inputs");
  json_t *ex = json_object_get(body, "examples");
  *columnar = false;
  *rows = NULL;
  const char *k;
  json_t *v;
  json_object_foreach(body, k, v) {
    if (strcmp(k, "instances") && strcmp(k, "inputs") && strcmp(k, "examples") && strcmp(k, "context") &&
        strcmp(k, "signature_name"))
      return oast_err_set(e, OAST_EBAD_REQUEST,
                          "unknown field \"%.64s\"; a request has \"instances\" or \"inputs\" (:predict) or "
                          "\"examples\" (:classify, :regress), and optionally \"signature_name\"",
                          k);
  }
  const char *what;
  if (verb == VERB_PREDICT) {
    if (ex) return oast_err_set(e, OAST_EBAD_REQUEST, "\"examples\" belong to :classify and :regress; :predict takes \"instances\" or \"inputs\"");
    if (inst && in) return oast_err_set(e, OAST_EBAD_REQUEST, "send either \"instances\" or \"inputs\", not both");
    if (!inst && !in) return oast_err_set(e, OAST_EBAD_REQUEST, "the body needs \"instances\" or \"inputs\"");
    if (in) {
      *columnar = true;
      what = "inputs";
      if (json_is_object(in)) {
        int rc = columns_to_rows(in, rows, e);
        if (rc) return rc;
      } else {
        *rows = json_incref(in);
      }
    } else {
      what = "instances";
      *rows = json_incref(inst);
    }
  } else {
    if (in) return oast_err_set(e, OAST_EBAD_REQUEST, ":%s takes \"examples\", not \"inputs\"", verb_name(verb));
    if (ex && inst) return oast_err_set(e, OAST_EBAD_REQUEST, "send either \"examples\" or \"instances\", not both");
    if (!ex && !inst) return oast_err_set(e, OAST_EBAD_REQUEST, "the body needs \"examples\"");
    json_t *ctx = json_object_get(body, "context");
    if (ctx && !json_is_object(ctx) && !json_is_null(ctx))
      return oast_err_set(e, OAST_EBAD_REQUEST, "\"context\" must be an object of feature values");
    if (ex) {
      what = "examples";
      if (!json_is_array(ex)) return oast_err_set(e, OAST_EBAD_REQUEST, "\"examples\" must be a list of objects");
      if (json_array_size(ex) > INPUTS_MAX_ROWS)
        return oast_err_set(e, OAST_ETOO_LARGE, "\"examples\" has %zu examples; one request may carry at most %d",
                            json_array_size(ex), INPUTS_MAX_ROWS);
      json_t *out = json_array();
      for (size_t i = 0; i < json_array_size(ex); i++) {
        json_t *x = json_array_get(ex, i);
        if (!json_is_object(x)) {
          json_decref(out);
          return oast_err_set(e, OAST_EBAD_REQUEST, "examples[%zu] is %s; an example is an object of feature values", i,
                              kind_of(x));
        }
        json_t *row = json_is_object(ctx) ? json_deep_copy(ctx) : json_object();
        json_object_update(row, x);
        json_array_append_new(out, row);
      }
      *rows = out;
    } else {
      what = "instances";
      *rows = json_incref(inst);
    }
  }
  int rc = rows_check(s, *rows, what, e);
  if (rc) {
    json_decref(*rows);
    *rows = NULL;
  }
  return rc;
}

/* ---- KServe v2 tensors ---- */

static const struct {
  const char *name;
  enum vtype t;
  bool unsig;
} v2_types[] = {
    {"BOOL", VT_BOOL, false},   {"UINT8", VT_INT, true},   {"UINT16", VT_INT, true},   {"UINT32", VT_INT, true},
    {"UINT64", VT_INT, true},   {"INT8", VT_INT, false},   {"INT16", VT_INT, false},   {"INT32", VT_INT, false},
    {"INT64", VT_INT, false},   {"FP16", VT_FLOAT, false}, {"FP32", VT_FLOAT, false},  {"FP64", VT_FLOAT, false},
    {"BYTES", VT_STRING, false},
};

struct tensor {
  const char *name;
  size_t ndims;
  size_t dims[INPUTS_MAX_DIMS + 1];
  json_t *flat;  /* owned: the data, flattened */
};

static int flatten(json_t *v, json_t *flat, int depth, size_t cap, oast_err *e, size_t k) {
  if (!json_is_array(v)) {
    if (json_array_size(flat) >= cap)
      return oast_err_set(e, OAST_EBAD_REQUEST, "inputs[%zu].data has more values than its shape holds", k);
    json_array_append(flat, v);
    return 0;
  }
  if (depth > INPUTS_MAX_DIMS + 1)
    return oast_err_set(e, OAST_EBAD_REQUEST, "inputs[%zu].data is nested deeper than %d levels", k, INPUTS_MAX_DIMS + 1);
  for (size_t i = 0; i < json_array_size(v); i++) {
    int rc = flatten(json_array_get(v, i), flat, depth + 1, cap, e, k);
    if (rc) return rc;
  }
  return 0;
}

static int read_tensor(json_t *in, size_t k, struct tensor *t, oast_err *e) {
  memset(t, 0, sizeof *t);
  if (!json_is_object(in)) return oast_err_set(e, OAST_EBAD_REQUEST, "inputs[%zu] must be an object", k);
  const char *k2;
  json_t *v;
  json_object_foreach(in, k2, v) {
    if (strcmp(k2, "name") && strcmp(k2, "shape") && strcmp(k2, "datatype") && strcmp(k2, "data") &&
        strcmp(k2, "parameters"))
      return oast_err_set(e, OAST_EBAD_REQUEST,
                          "inputs[%zu] has unknown field \"%.64s\"; an input is {\"name\", \"shape\", \"datatype\", "
                          "\"data\"}",
                          k, k2);
  }
  t->name = json_string_value(json_object_get(in, "name"));
  json_t *shape = json_object_get(in, "shape"), *data = json_object_get(in, "data");
  const char *dt = json_string_value(json_object_get(in, "datatype"));
  if (!t->name || !*t->name) return oast_err_set(e, OAST_EBAD_REQUEST, "inputs[%zu].name must be a non-empty string", k);
  if (!dt) return oast_err_set(e, OAST_EBAD_REQUEST, "inputs[%zu].datatype must be a string such as \"FP32\"", k);
  size_t ti = 0, nt = sizeof v2_types / sizeof v2_types[0];
  while (ti < nt && strcmp(v2_types[ti].name, dt)) ti++;
  if (ti == nt)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "inputs[%zu].datatype \"%.32s\" is not one of BOOL, INT8, INT16, INT32, INT64, UINT8, UINT16, "
                        "UINT32, UINT64, FP16, FP32, FP64, BYTES",
                        k, dt);
  if (!json_is_array(shape) || json_array_size(shape) < 1 || json_array_size(shape) > INPUTS_MAX_DIMS + 1)
    return oast_err_set(e, OAST_EBAD_REQUEST, "inputs[%zu].shape must be a list of 1 to %d sizes, the first the batch",
                        k, INPUTS_MAX_DIMS + 1);
  size_t total = 1;
  t->ndims = json_array_size(shape);
  for (size_t i = 0; i < t->ndims; i++) {
    json_t *d = json_array_get(shape, i);
    if (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > INPUTS_MAX_ROWS * 64LL)
      return oast_err_set(e, OAST_EBAD_REQUEST, "inputs[%zu].shape[%zu] must be a size (a non-negative integer)", k, i);
    t->dims[i] = (size_t)json_integer_value(d);
    total *= t->dims[i];
    if (total > (size_t)INPUTS_MAX_ROWS * 64)
      return oast_err_set(e, OAST_ETOO_LARGE, "inputs[%zu].shape holds more than %d values", k, INPUTS_MAX_ROWS * 64);
  }
  if (t->dims[0] == 0) return oast_err_set(e, OAST_EBAD_REQUEST, "inputs[%zu].shape has no rows (its first size is 0)", k);
  if (t->dims[0] > INPUTS_MAX_ROWS)
    return oast_err_set(e, OAST_ETOO_LARGE, "inputs[%zu] has %zu rows; one request may carry at most %d", k, t->dims[0],
                        INPUTS_MAX_ROWS);
  if (!json_is_array(data)) return oast_err_set(e, OAST_EBAD_REQUEST, "inputs[%zu].data must be a list of values", k);
  t->flat = json_array();
  int rc = flatten(data, t->flat, 0, total, e, k);
  if (!rc && json_array_size(t->flat) != total)
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "inputs[%zu]: its shape holds %zu values but data has %zu", k, total,
                      json_array_size(t->flat));
  for (size_t i = 0; !rc && i < total; i++) {
    json_t *x = json_array_get(t->flat, i);
    bool ok = !json_is_null(x) && fits(x, v2_types[ti].t) &&
              !(v2_types[ti].unsig && json_is_integer(x) && json_integer_value(x) < 0);
    if (!ok) rc = oast_err_set(e, OAST_EBAD_REQUEST, "inputs[%zu].data[%zu] is %s, not %s", k, i, kind_of(x), dt);
  }
  if (rc) {
    json_decref(t->flat);
    t->flat = NULL;
  }
  return rc;
}

/* The nested list of shape dims[0..n) from flat values starting at *pos. */
static json_t *nest(json_t *flat, const size_t *dims, size_t n, size_t *pos) {
  if (n == 0) return json_incref(json_array_get(flat, (*pos)++));
  json_t *a = json_array();
  for (size_t i = 0; i < dims[0]; i++) json_array_append_new(a, nest(flat, dims + 1, n - 1, pos));
  return a;
}

int v2_rows(json_t *body, const struct in_schema *s, json_t **rows, oast_err *e) {
  *rows = NULL;
  const char *k;
  json_t *v;
  json_object_foreach(body, k, v) {
    if (strcmp(k, "id") && strcmp(k, "inputs") && strcmp(k, "outputs") && strcmp(k, "parameters"))
      return oast_err_set(e, OAST_EBAD_REQUEST,
                          "unknown field \"%.64s\"; an infer request has \"inputs\" and optionally \"id\", "
                          "\"parameters\", \"outputs\"",
                          k);
  }
  json_t *id = json_object_get(body, "id");
  if (id && !json_is_string(id)) return oast_err_set(e, OAST_EBAD_REQUEST, "\"id\" must be a string");
  json_t *inputs = json_object_get(body, "inputs");
  if (!json_is_array(inputs) || json_array_size(inputs) == 0)
    return oast_err_set(e, OAST_EBAD_REQUEST, "\"inputs\" must be a non-empty list of tensors");
  size_t n = json_array_size(inputs);
  if (n > SCHEMA_MAX_COLS) return oast_err_set(e, OAST_EBAD_REQUEST, "\"inputs\" has more than %d tensors", SCHEMA_MAX_COLS);
  struct tensor *ts = xcalloc(n, sizeof *ts);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) rc = read_tensor(json_array_get(inputs, i), i, &ts[i], e);
  json_t *out = NULL;
  if (rc) goto done;
  out = json_array();
  if (n == 1) {
    size_t pos = 0;
    for (size_t r = 0; r < ts[0].dims[0]; r++) json_array_append_new(out, nest(ts[0].flat, ts[0].dims + 1, ts[0].ndims - 1, &pos));
  } else {
    bool named = s && s->kind == SCHEMA_COLUMNS;
    for (size_t i = 0; i < n && !rc; i++) {
      if (ts[i].ndims > 2 || (ts[i].ndims == 2 && ts[i].dims[1] != 1))
        rc = oast_err_set(e, OAST_EBAD_REQUEST,
                          "inputs[%zu] has %zu dimensions; with several inputs each must be one column of shape [n] "
                          "or [n, 1]",
                          i, ts[i].ndims);
      else if (ts[i].dims[0] != ts[0].dims[0])
        rc = oast_err_set(e, OAST_EBAD_REQUEST, "inputs[%zu] has %zu rows where inputs[0] has %zu", i, ts[i].dims[0],
                          ts[0].dims[0]);
      for (size_t j = 0; named && j < i; j++)
        if (!strcmp(ts[i].name, ts[j].name))
          rc = oast_err_set(e, OAST_EBAD_REQUEST, "inputs[%zu]: the name \"%.64s\" appears twice", i, ts[i].name);
      if (named) {
        size_t c = 0;
        while (c < s->ncols && strcmp(s->names[c], ts[i].name)) c++;
        named = c < s->ncols;
      }
    }
    for (size_t r = 0; !rc && r < ts[0].dims[0]; r++) {
      json_t *row = named ? json_object() : json_array();
      for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(ts[i].flat, r);
        if (named) json_object_set(row, ts[i].name, x);
        else json_array_append(row, x);
      }
      json_array_append_new(out, row);
    }
  }
  if (!rc) rc = rows_check(s, out, "inputs", e);
done:
  for (size_t i = 0; i < n; i++) json_decref(ts[i].flat);
  free(ts);
  if (rc) json_decref(out);
  else *rows = out;
  return rc;
}

/* The shape of v (dims into d, count into *nd); false when irregular or too deep. */
static bool shape_of(json_t *v, size_t *d, size_t *nd) {
  *nd = 0;
  while (json_is_array(v)) {
    if (*nd == INPUTS_MAX_DIMS) return false;
    d[(*nd)++] = json_array_size(v);
    if (json_array_size(v) == 0) break;
    v = json_array_get(v, 0);
  }
  return true;
}

static bool flat_into(json_t *v, const size_t *d, size_t nd, json_t *flat) {
  if (nd == 0) {
    if (json_is_array(v) || json_is_object(v)) return false;
    json_array_append(flat, v);
    return true;
  }
  if (!json_is_array(v) || json_array_size(v) != d[0]) return false;
  for (size_t i = 0; i < d[0]; i++)
    if (!flat_into(json_array_get(v, i), d + 1, nd - 1, flat)) return false;
  return true;
}

json_t *v2_output(json_t *outputs, const char *name) {
  size_t n = json_array_size(outputs), d[INPUTS_MAX_DIMS], nd = 0;
  json_t *flat = json_array();
  bool ok = n > 0 && shape_of(json_array_get(outputs, 0), d, &nd);
  for (size_t i = 0; ok && i < n; i++) ok = flat_into(json_array_get(outputs, i), d, nd, flat);
  const char *dt = "BYTES";
  if (ok) {
    bool all_int = true, all_num = true, all_bool = true, all_str = true;
    for (size_t i = 0; i < json_array_size(flat); i++) {
      json_t *x = json_array_get(flat, i);
      all_int &= json_is_integer(x);
      all_num &= json_is_number(x);
      all_bool &= json_is_boolean(x);
      all_str &= json_is_string(x);
    }
    dt = all_bool ? "BOOL" : all_int ? "INT64" : all_num ? "FP64" : all_str ? "BYTES" : NULL;
    ok = dt != NULL;
  }
  json_t *shape = json_array();
  json_array_append_new(shape, json_integer((json_int_t)n));
  if (ok) {
    for (size_t i = 0; i < nd; i++) json_array_append_new(shape, json_integer((json_int_t)d[i]));
  } else {
    /* Irregular or mixed outputs travel as one JSON text per row. */
    json_array_clear(flat);
    for (size_t i = 0; i < n; i++) {
      char *t = json_dumps(json_array_get(outputs, i), JSON_COMPACT | JSON_ENCODE_ANY);
      json_array_append_new(flat, json_string(t ? t : "null"));
      free(t);
    }
    dt = "BYTES";
  }
  return json_pack("{s:s,s:s,s:o,s:o}", "name", name, "datatype", dt, "shape", shape, "data", flat);
}

void float_text(float f, char *out, size_t n) {
  if (!isfinite(f)) {
    snprintf(out, n, "null");
    return;
  }
  for (int p = 6; p <= 9; p++) {
    snprintf(out, n, "%.*g", p, (double)f);
    if (strtof(out, NULL) == f) return;
  }
}
