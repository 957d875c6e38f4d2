/*
 * json.h — validation helpers over jansson for request bodies.
 *
 * Each getter checks presence and type and, on failure, writes an error
 * that names the field (`field "name" must be a string`), so every route
 * reports bad input the same way. Getters borrow: returned strings live as
 * long as the json_t they came from.
 */
#ifndef UTIL_JSON_H
#define UTIL_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "oast/error.h"

/* Parses text (len bytes) into an object; a 400 naming line and column on failure. */
int json_parse_object(const char *text, size_t len, json_t **out, oast_err *e);

/* required: a missing field is an error; optional: *out keeps its value. */
int json_get_str(json_t *o, const char *field, bool required, const char **out, oast_err *e);
int json_get_int(json_t *o, const char *field, bool required, int64_t *out, oast_err *e);
int json_get_num(json_t *o, const char *field, bool required, double *out, oast_err *e);
int json_get_bool(json_t *o, const char *field, bool required, bool *out, oast_err *e);
int json_get_array(json_t *o, const char *field, bool required, json_t **out, oast_err *e);
int json_get_obj(json_t *o, const char *field, bool required, json_t **out, oast_err *e);
/* Refuses fields not in the NULL-terminated list `allowed`. */
int json_only_fields(json_t *o, const char *const *allowed, oast_err *e);

/* Appends s as a JSON string literal (quoted, escaped) to b. */
struct buf;
void json_buf_string(struct buf *b, const char *s);

/* Serializes compactly; caller frees. */
char *json_dump(const json_t *j);

#endif
