/* json.c — field-naming validation helpers over jansson (see json.h). */
#include "util/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

int json_parse_object(const char *text, size_t len, json_t **out, oast_err *e) {
  json_error_t je;
  *out = NULL;
  if (len == 0) return oast_err_set(e, OAST_EBAD_REQUEST, "the request body is empty; a JSON object is expected");
  json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!j)
    return oast_err_set(e, OAST_EBAD_REQUEST, "malformed JSON at line %d, column %d: %s", je.line, je.column,
                        je.text);
  if (!json_is_object(j)) {
    json_decref(j);
    return oast_err_set(e, OAST_EBAD_REQUEST, "the request body must be a JSON object");
  }
  *out = j;
  return 0;
}

static int missing(const char *field, oast_err *e) {
  return oast_err_set(e, OAST_EBAD_REQUEST, "field \"%s\" is required", field);
}

int json_get_str(json_t *o, const char *field, bool required, const char **out, oast_err *e) {
  json_t *v = json_object_get(o, field);
  if (!v || json_is_null(v)) return required ? missing(field, e) : 0;
  if (!json_is_string(v)) return oast_err_set(e, OAST_EBAD_REQUEST, "field \"%s\" must be a string", field);
  if (strlen(json_string_value(v)) != json_string_length(v))
    return oast_err_set(e, OAST_EBAD_REQUEST, "field \"%s\" must not contain NUL characters", field);
  *out = json_string_value(v);
  return 0;
}

int json_get_int(json_t *o, const char *field, bool required, int64_t *out, oast_err *e) {
  json_t *v = json_object_get(o, field);
  if (!v || json_is_null(v)) return required ? missing(field, e) : 0;
  if (json_is_integer(v)) {
    *out = json_integer_value(v);
    return 0;
  }
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (d == floor(d) && fabs(d) < 9e15) {
      *out = (int64_t)d;
      return 0;
    }
  }
  return oast_err_set(e, OAST_EBAD_REQUEST, "field \"%s\" must be an integer", field);
}

int json_get_num(json_t *o, const char *field, bool required, double *out, oast_err *e) {
  json_t *v = json_object_get(o, field);
  if (!v || json_is_null(v)) return required ? missing(field, e) : 0;
  if (!json_is_number(v)) return oast_err_set(e, OAST_EBAD_REQUEST, "field \"%s\" must be a number", field);
  *out = json_number_value(v);
  return 0;
}

int json_get_bool(json_t *o, const char *field, bool required, bool *out, oast_err *e) {
  json_t *v = json_object_get(o, field);
  if (!v || json_is_null(v)) return required ? missing(field, e) : 0;
  if (!json_is_boolean(v)) return oast_err_set(e, OAST_EBAD_REQUEST, "field \"%s\" must be true or false", field);
  *out = json_is_true(v);
  return 0;
}

int json_get_array(json_t *o, const char *field, bool required, json_t **out, oast_err *e) {
  json_t *v = json_object_get(o, field);
  if (!v || json_is_null(v)) return required ? missing(field, e) : 0;
  if (!json_is_array(v)) return oast_err_set(e, OAST_EBAD_REQUEST, "field \"%s\" must be an array", field);
  *out = v;
  return 0;
}

int json_get_obj(json_t *o, const char *field, bool required, json_t **out, oast_err *e) {
  json_t *v = json_object_get(o, field);
  if (!v || json_is_null(v)) return required ? missing(field, e) : 0;
  if (!json_is_object(v)) return oast_err_set(e, OAST_EBAD_REQUEST, "field \"%s\" must be an object", field);
  *out = v;
  return 0;
}

int json_only_fields(json_t *o, const char *const *allowed, oast_err *e) {
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    int ok = 0;
    for (const char *const *a = allowed; *a; a++)
      if (strcmp(*a, k) == 0) ok = 1;
    if (!ok) return oast_err_set(e, OAST_EBAD_REQUEST, "unknown field \"%s\"", k);
  }
  return 0;
}

char *json_dump(const json_t *j) { return json_dumps(j, JSON_COMPACT); }

void json_buf_string(struct buf *b, const char *s) {
  static const char hx[] = "0123456789abcdef";
  buf_putc(b, '"');
  const char *run = s;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p >= 0x20 && *p != '"' && *p != '\\') continue;
    buf_append(b, run, (size_t)((const char *)p - run));
    char esc[6] = {'\\', 'u', '0', '0', hx[*p >> 4], hx[*p & 15]};
    if (*p == '"' || *p == '\\') {
      char two[2] = {'\\', (char)*p};
      buf_append(b, two, 2);
    } else if (*p == '\n') {
      buf_append(b, "\\n", 2);
    } else {
      buf_append(b, esc, 6);
    }
    run = (const char *)p + 1;
  }
  buf_puts(b, run);
  buf_putc(b, '"');
}
