/* features.c — liboast's online feature vectors (see oast/features.h). */
#include "oast/features.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_json.h"
#include "util/alloc.h"

static char *vectors_path(const char *project, const char *view, int version) {
  char *p = oast_escape(project, 0), *v = oast_escape(view, 0);
  char *path = xasprintf("/projects/%s/featurestore/featureviews/%s/versions/%d/vectors", p, v, version);
  free(p);
  free(v);
  return path;
}

/* POST the entries (JSON text of an array) and parse the answer. */
static int call(oast_client *c, const char *project, const char *view, int version, json_t *entries, json_t **out,
                oast_err *e) {
  char *path = vectors_path(project, view, version);
  json_t *body = json_pack("{s:O}", "entries", entries);
  int rc = client_request_json(c, "POST", path, body, NULL, out, e);
  json_decref(body);
  free(path);
  if (!rc && (!*out || !json_is_array(json_object_get(*out, "vectors")))) {
    json_decref(*out);
    *out = NULL;
    rc = oast_err_set(e, OAST_EINTERNAL, "the server's answer has no \"vectors\"");
  }
  return rc;
}

static int parse(const char *text, const char *what, bool array, json_t **out, oast_err *e) {
  json_error_t je;
  *out = json_loads(text ? text : "", JSON_DECODE_ANY, &je);
  if (!*out || (array ? !json_is_array(*out) : !json_is_object(*out))) {
    json_decref(*out);
    *out = NULL;
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s must be a JSON %s", what, array ? "array" : "object");
  }
  return 0;
}

int oast_feature_vectors(oast_client *c, const char *project, const char *view, int version, const char *entries_json,
                         char **response, oast_err *e) {
  json_t *entries, *out = NULL;
  *response = NULL;
  int rc = parse(entries_json, "the entries", true, &entries, e);
  if (rc) return rc;
  rc = call(c, project, view, version, entries, &out, e);
  json_decref(entries);
  if (!rc) *response = json_dumps(out, JSON_COMPACT);
  json_decref(out);
  return rc;
}

/* One entry's answer: the parsed response and its first vector (borrowed from it). */
static int one(oast_client *c, const char *project, const char *view, int version, const char *entry_json,
               json_t **out, json_t **vec, oast_err *e) {
  json_t *entry;
  int rc = parse(entry_json, "the entry", false, &entry, e);
  if (rc) return rc;
  json_t *entries = json_pack("[o]", entry);
  rc = call(c, project, view, version, entries, out, e);
  json_decref(entries);
  if (!rc) *vec = json_array_get(json_object_get(*out, "vectors"), 0);
  if (!rc && !*vec) {
    json_decref(*out);
    rc = oast_err_set(e, OAST_EINTERNAL, "the server answered no vector");
  }
  return rc;
}

int oast_feature_vector(oast_client *c, const char *project, const char *view, int version, const char *entry_json,
                        char **vector_json, char **names_json, oast_err *e) {
  json_t *out, *vec;
  *vector_json = NULL;
  if (names_json) *names_json = NULL;
  int rc = one(c, project, view, version, entry_json, &out, &vec, e);
  if (rc) return rc;
  *vector_json = json_dumps(vec, JSON_COMPACT | JSON_ENCODE_ANY);
  if (names_json) *names_json = json_dumps(json_object_get(out, "features"), JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(out);
  return 0;
}

int oast_feature_vector_f64(oast_client *c, const char *project, const char *view, int version,
                            const char *entry_json, double *values, size_t cap, size_t *n, int *found, oast_err *e) {
  json_t *out, *vec;
  *n = 0;
  *found = 0;
  int rc = one(c, project, view, version, entry_json, &out, &vec, e);
  if (rc) return rc;
  if (json_is_array(vec)) {
    *found = 1;
    if (json_array_size(vec) > cap)
      rc = oast_err_set(e, OAST_ETOO_LARGE, "the vector has %zu features; the buffer holds %zu", json_array_size(vec), cap);
    json_t *names = json_object_get(out, "features");
    for (size_t i = 0; !rc && i < json_array_size(vec); i++) {
      json_t *v = json_array_get(vec, i);
      if (json_is_number(v)) values[i] = json_number_value(v);
      else if (json_is_boolean(v)) values[i] = json_is_true(v);
      else if (json_is_null(v)) values[i] = NAN;
      else
        rc = oast_err_set(e, OAST_EBAD_REQUEST, "feature \"%s\" is not a number; use oast_feature_vector",
                          json_string_value(json_array_get(names, i)) ? json_string_value(json_array_get(names, i)) : "?");
    }
    if (!rc) *n = json_array_size(vec);
  }
  json_decref(out);
  return rc;
}
