/* field.c — spec getters that name fields by dotted path (see field.h). */
#include "exp/field.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *get(const json_t *o, const char *where, const char *field, bool required, int *rc, oast_err *e) {
  json_t *v = json_object_get(o, field);
  *rc = 0;
  if (!v || json_is_null(v)) {
    if (required) *rc = oast_err_set(e, OAST_EBAD_REQUEST, "%s.%s: required field is missing", where, field);
    return NULL;
  }
  return v;
}

int exp_field_num(const json_t *o, const char *where, const char *field, bool required, double *out, oast_err *e) {
  int rc;
  json_t *v = get(o, where, field, required, &rc, e);
  if (!v) return rc;
  if (!json_is_number(v) || !isfinite(json_number_value(v)))
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s.%s: must be a number", where, field);
  *out = json_number_value(v);
  return 0;
}

int exp_field_int(const json_t *o, const char *where, const char *field, bool required, int64_t lo, int64_t hi,
                  int64_t *out, oast_err *e) {
  int rc;
  json_t *v = get(o, where, field, required, &rc, e);
  if (!v) return rc;
  int64_t x;
  if (json_is_integer(v)) {
    x = json_integer_value(v);
  } else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) && fabs(json_real_value(v)) < 9e15) {
    x = (int64_t)json_real_value(v);
  } else {
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s.%s: must be an integer", where, field);
  }
  if (x < lo || x > hi)
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s.%s: %lld is out of range (%lld to %lld)", where, field,
                        (long long)x, (long long)lo, (long long)hi);
  *out = x;
  return 0;
}

int exp_field_bool(const json_t *o, const char *where, const char *field, bool required, bool *out, oast_err *e) {
  int rc;
  json_t *v = get(o, where, field, required, &rc, e);
  if (!v) return rc;
  if (!json_is_boolean(v)) return oast_err_set(e, OAST_EBAD_REQUEST, "%s.%s: must be true or false", where, field);
  *out = json_is_true(v);
  return 0;
}

int exp_field_str(const json_t *o, const char *where, const char *field, bool required, const char **out,
                  oast_err *e) {
  int rc;
  json_t *v = get(o, where, field, required, &rc, e);
  if (!v) return rc;
  if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s.%s: must be a string", where, field);
  *out = json_string_value(v);
  return 0;
}

int exp_field_only(const json_t *o, const char *where, const char *const *allowed, oast_err *e) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)o, k, v) {
    const char *const *a = allowed;
    while (*a && strcmp(*a, k) != 0) a++;
    if (!*a) return oast_err_set(e, OAST_EBAD_REQUEST, "%s: unknown field \"%s\"", where, k);
  }
  return 0;
}

const char *exp_num_str(double v, char buf[32]) {
  if (!isfinite(v)) {
    snprintf(buf, 32, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    return buf;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, 32, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
  return buf;
}
