/*
 * spec_fields.c — the field kinds of job and pipeline specs (see
 * spec_fields.h). One checker per kind keeps every spec's messages
 * identical in wording and every outside size capped in one place.
 */
#include "jobs/spec_fields.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/path.h"

#define MAX_SPLITS 16
#define MAX_COUNT 1024

int spec_fail(oast_err *e, const char *who, const char *fmt, ...) {
  char msg[OAST_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return oast_err_set(e, OAST_EBAD_REQUEST, "%s: %s", who, msg);
}

int spec_choice(const char *const *names, const char *s) {
  for (int i = 0; names[i]; i++)
    if (strcmp(names[i], s) == 0) return i;
  return -1;
}

static bool has_nul(json_t *s) { return strlen(json_string_value(s)) != json_string_length(s); }

static int want_str(json_t *v, const char *field, const char *who, size_t max, oast_err *e) {
  if (!json_is_string(v)) return spec_fail(e, who, "field \"%s\" must be a string", field);
  if (json_string_length(v) == 0) return spec_fail(e, who, "field \"%s\" must not be empty", field);
  if (has_nul(v)) return spec_fail(e, who, "field \"%s\" must not contain NUL characters", field);
  if (json_string_length(v) > max) return spec_fail(e, who, "field \"%s\" is longer than %zu bytes", field, max);
  return 0;
}

static int want_int(json_t *v, const char *field, const char *who, int64_t lo, int64_t hi, oast_err *e) {
  if (!json_is_integer(v)) return spec_fail(e, who, "field \"%s\" must be an integer", field);
  json_int_t n = json_integer_value(v);
  if (n < lo || n > hi)
    return spec_fail(e, who, "field \"%s\" is %lld; it must be between %lld and %lld", field, (long long)n,
                     (long long)lo, (long long)hi);
  return 0;
}

static bool id_chars(const char *s) {
  for (; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
          *s == '-'))
      return false;
  return true;
}

static int check_splits(json_t *v, const char *who, oast_err *e) {
  if (!json_is_object(v) || json_object_size(v) == 0)
    return spec_fail(e, who, "field \"splits\" must be an object of split names and fractions");
  if (json_object_size(v) > MAX_SPLITS) return spec_fail(e, who, "field \"splits\" has more than %d splits", MAX_SPLITS);
  double sum = 0;
  const char *k;
  json_t *f;
  json_object_foreach(v, k, f) {
    if (!name_valid(k)) return spec_fail(e, who, "split name \"%.80s\" is not a valid name", k);
    if (!json_is_number(f) || json_number_value(f) <= 0 || json_number_value(f) > 1)
      return spec_fail(e, who, "split \"%s\" must be a fraction greater than 0 and at most 1", k);
    sum += json_number_value(f);
  }
  if (fabs(sum - 1) > 1e-6) return spec_fail(e, who, "the fractions of \"splits\" add up to %g, not 1", sum);
  return 0;
}

static int check_env(json_t *v, const char *who, oast_err *e) {
  if (!json_is_object(v)) return spec_fail(e, who, "field \"env\" must be an object of NAME: value strings");
  if (json_object_size(v) > SPEC_MAX_LIST)
    return spec_fail(e, who, "field \"env\" has more than %d variables", SPEC_MAX_LIST);
  const char *k;
  json_t *s;
  json_object_foreach(v, k, s) {
    bool ok = (*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || *k == '_';
    for (const char *p = k; ok && *p; p++)
      ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
    if (!ok || strlen(k) > 128)
      return spec_fail(e, who, "env name \"%.80s\" is not a valid variable name", k);
    if (strncmp(k, "OAST_", 5) == 0)
      return spec_fail(e, who, "env name \"%.80s\" is reserved: the platform sets OAST_* variables", k);
    if (!json_is_string(s) || has_nul(s) || json_string_length(s) > SPEC_MAX_STR)
      return spec_fail(e, who, "env \"%s\" must be a string without NUL of at most %d bytes", k, SPEC_MAX_STR);
  }
  return 0;
}

/* Validates one present field; *keep is the value to store (a new reference). */
static int check_one(const struct spec_field *f, json_t *v, const char *who, json_t **keep, oast_err *e) {
  int rc = 0;
  *keep = NULL;
  switch (f->kind) {
    case SK_NAME:
      if (!json_is_string(v)) return spec_fail(e, who, "field \"%s\" must be a string", f->name);
      if (has_nul(v) || !name_valid(json_string_value(v)))
        return spec_fail(e, who,
                         "field \"%s\": \"%.80s\" is not a valid name (a letter, then letters, digits or '_', "
                         "at most 63 characters)",
                         f->name, json_string_value(v));
      break;
    case SK_PATH: {
      if ((rc = want_str(v, f->name, who, 4096, e))) return rc;
      char *norm = NULL;
      oast_err pe;
      if (path_normalize(json_string_value(v), json_string_length(v), &norm, &pe))
        return spec_fail(e, who, "field \"%s\": %s", f->name, pe.msg);
      if (!*norm) {
        free(norm);
        return spec_fail(e, who, "field \"%s\" must name a file or directory, not the project root", f->name);
      }
      *keep = json_string(norm);
      free(norm);
      return 0;
    }
    case SK_STR: rc = want_str(v, f->name, who, SPEC_MAX_STR, e); break;
    case SK_VERSION: rc = want_int(v, f->name, who, 1, INT32_MAX, e); break;
    case SK_INT: rc = want_int(v, f->name, who, INT64_MIN, INT64_MAX, e); break;
    case SK_COUNT: rc = want_int(v, f->name, who, 1, MAX_COUNT, e); break;
    case SK_SECONDS: rc = want_int(v, f->name, who, 1, f->max, e); break;
    case SK_DELAY: rc = want_int(v, f->name, who, 0, f->max, e); break;
    case SK_OBJ:
      if (!json_is_object(v)) return spec_fail(e, who, "field \"%s\" must be an object", f->name);
      break;
    case SK_STRS: {
      if (!json_is_array(v)) return spec_fail(e, who, "field \"%s\" must be an array of strings", f->name);
      if (json_array_size(v) > SPEC_MAX_LIST)
        return spec_fail(e, who, "field \"%s\" has more than %d items", f->name, SPEC_MAX_LIST);
      size_t i;
      json_t *s;
      json_array_foreach(v, i, s) {
        if (!json_is_string(s) || has_nul(s) || json_string_length(s) > SPEC_MAX_STR)
          return spec_fail(e, who, "item %zu of \"%s\" must be a string without NUL of at most %d bytes", i + 1,
                           f->name, SPEC_MAX_STR);
      }
      break;
    }
    case SK_ENV: rc = check_env(v, who, e); break;
    case SK_SPLITS: rc = check_splits(v, who, e); break;
    case SK_CHOICE:
      if (!json_is_string(v) || spec_choice(f->choices, json_string_value(v)) < 0) {
        struct buf b;
        buf_init(&b, 512);
        for (int i = 0; f->choices[i]; i++) buf_printf(&b, "%s\"%s\"", i ? ", " : "", f->choices[i]);
        rc = spec_fail(e, who, "field \"%s\" must be one of %s", f->name, buf_cstr(&b));
        buf_release(&b);
      }
      break;
    case SK_TIME:
      if (!json_is_integer(v)) rc = want_str(v, f->name, who, 64, e);
      break;
    case SK_BOOL:
      if (!json_is_boolean(v)) return spec_fail(e, who, "field \"%s\" must be true or false", f->name);
      break;
    case SK_ID:
      if (json_is_integer(v)) {
        rc = want_int(v, f->name, who, 1, INT64_MAX, e);
      } else if (!json_is_string(v) || json_string_length(v) < 1 || json_string_length(v) > 64 || has_nul(v) ||
                 !id_chars(json_string_value(v))) {
        rc = spec_fail(e, who, "field \"%s\" must be an id: a positive integer or up to 64 letters, digits, '_' or '-'",
                       f->name);
      }
      break;
  }
  if (!rc) *keep = json_deep_copy(v);
  return rc;
}

static const struct spec_field *find(const struct spec_field *const *tables, const char *name) {
  for (size_t t = 0; tables[t]; t++)
    for (const struct spec_field *f = tables[t]; f->name; f++)
      if (strcmp(f->name, name) == 0) return f;
  return NULL;
}

int spec_fields_check(json_t *obj, const struct spec_field *const *tables, const char *const *also,
                      json_t *canon, const char *who, oast_err *e) {
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) {
    if (find(tables, k) || (also && spec_choice(also, k) >= 0)) continue;
    struct buf b;
    buf_init(&b, 1024);
    for (size_t t = 0; tables[t]; t++)
      for (const struct spec_field *f = tables[t]; f->name; f++) buf_printf(&b, "%s%s", b.len ? ", " : "", f->name);
    for (size_t i = 0; also && also[i]; i++) buf_printf(&b, "%s%s", b.len ? ", " : "", also[i]);
    int rc = spec_fail(e, who, "unknown field \"%.80s\" (known: %s)", k, buf_cstr(&b));
    buf_release(&b);
    return rc;
  }
  for (size_t t = 0; tables[t]; t++)
    for (const struct spec_field *f = tables[t]; f->name; f++) {
      v = json_object_get(obj, f->name);
      if (!v || json_is_null(v)) {
        if (f->required) return spec_fail(e, who, "field \"%s\" is required", f->name);
        continue;
      }
      json_t *keep;
      int rc = check_one(f, v, who, &keep, e);
      if (rc) return rc;
      json_object_set_new(canon, f->name, keep);
    }
  return 0;
}
