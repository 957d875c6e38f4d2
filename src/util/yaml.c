/*
 * yaml.c — YAML text to jansson values (see yaml.h for the typing rules).
 *
 * libyaml's event parser is driven directly, not its document loader: the
 * loader would build a whole node graph first (aliases included, without a
 * size bound), while events let us keep an explicit stack of the open
 * collections, check depth and node count as we go, and resolve each
 * alias by copying the finished anchored value only after checking that
 * the copy fits under the node cap. An anchor becomes visible only when
 * its node is complete, so a recursive alias is reported as unknown
 * rather than looping.
 */
#include "util/yaml.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/alloc.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

struct frame {
  json_t *node;    /* the open object or array (owned by the stack until attached) */
  char *key;       /* for an object: the key waiting for its value */
  char *anchor;    /* anchor to register when the node is complete */
  size_t nodes0;   /* node count before this node */
};

struct anchor {
  char *name;
  json_t *value;
  size_t nodes;  /* how many nodes a copy adds */
};

struct loader {
  struct frame stack[YAML_JSON_MAX_DEPTH];
  size_t depth;
  struct anchor *anchors;
  size_t nanchors, anchors_cap;
  size_t nodes;
  json_t *root;
  oast_err *e;
};

static int at(struct loader *l, int code, const yaml_mark_t *m, const char *what) {
  return oast_err_set(l->e, code, "YAML line %zu, column %zu: %s", m->line + 1, m->column + 1, what);
}

static int count(struct loader *l, size_t n, const yaml_mark_t *m) {
  if (n > YAML_JSON_MAX_NODES || l->nodes + n > YAML_JSON_MAX_NODES) {
    char msg[96];
    snprintf(msg, sizeof msg, "the document has more than %d nodes (aliases included)", YAML_JSON_MAX_NODES);
    return at(l, OAST_ETOO_LARGE, m, msg);
  }
  l->nodes += n;
  return 0;
}

/* Puts v (a new reference, taken) where the document is being built. */
static int attach(struct loader *l, json_t *v, const yaml_mark_t *m) {
  if (l->depth == 0) {
    if (l->root) {
      json_decref(v);
      return at(l, OAST_EBAD_REQUEST, m, "more than one root value");
    }
    l->root = v;
    return 0;
  }
  struct frame *f = &l->stack[l->depth - 1];
  if (json_is_array(f->node)) {
    json_array_append_new(f->node, v);
    return 0;
  }
  json_object_set_new(f->node, f->key, v);
  free(f->key);
  f->key = NULL;
  return 0;
}

static void add_anchor(struct loader *l, const char *name, json_t *v, size_t nodes) {
  if (l->nanchors == l->anchors_cap) {
    l->anchors_cap = l->anchors_cap ? 2 * l->anchors_cap : 8;
    l->anchors = xreallocarray(l->anchors, l->anchors_cap, sizeof *l->anchors);
  }
  l->anchors[l->nanchors].name = xstrdup(name);
  l->anchors[l->nanchors].value = json_incref(v);
  l->anchors[l->nanchors].nodes = nodes;
  l->nanchors++;
}

static const struct anchor *find_anchor(struct loader *l, const char *name) {
  for (size_t i = l->nanchors; i-- > 0;)  /* a later definition shadows an earlier one */
    if (strcmp(l->anchors[i].name, name) == 0) return &l->anchors[i];
  return NULL;
}

static bool expecting_key(struct loader *l) {
  return l->depth > 0 && json_is_object(l->stack[l->depth - 1].node) && !l->stack[l->depth - 1].key;
}

/* A key scalar (or alias of one) of the open mapping. */
static int set_key(struct loader *l, const char *s, size_t len, const yaml_mark_t *m) {
  struct frame *f = &l->stack[l->depth - 1];
  if (strlen(s) != len) return at(l, OAST_EBAD_REQUEST, m, "a mapping key contains a NUL character");
  if (json_object_get(f->node, s)) {
    char msg[160];
    snprintf(msg, sizeof msg, "duplicate key \"%.100s\"", s);
    return at(l, OAST_EBAD_REQUEST, m, msg);
  }
  f->key = xstrdup(s);
  return 0;
}

/* ---- scalar typing (YAML 1.2 core schema) ---- */

static bool all_in(const char *s, const char *set) {
  if (!*s) return false;
  for (; *s; s++)
    if (!strchr(set, *s)) return false;
  return true;
}

static bool is_null(const char *s) {
  return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int is_bool(const char *s) {
  if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) return 1;
  if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) return 0;
  return -1;
}

/* 1: an integer in *v; 0: not integer syntax; -1: integer syntax but out of range. */
static int as_int(const char *s, long long *v) {
  int base = 10;
  const char *digits = s;
  if (s[0] == '0' && s[1] == 'o' && all_in(s + 2, "01234567")) {
    base = 8;
    digits = s + 2;
  } else if (s[0] == '0' && s[1] == 'x' && all_in(s + 2, "0123456789abcdefABCDEF")) {
    base = 16;
    digits = s + 2;
  } else if (!all_in(s[0] == '-' || s[0] == '+' ? s + 1 : s, "0123456789")) {
    return 0;
  }
  errno = 0;
  char *end;
  if (base == 10) {
    *v = strtoll(digits, &end, 10);
    if (errno) return -1;
  } else {
    unsigned long long u = strtoull(digits, &end, base);
    if (errno || u > INT64_MAX) return -1;
    *v = (long long)u;
  }
  return 1;
}

/* 1: a float in *v; 0: not float syntax; -1: float syntax but not finite (.inf, .nan, 1e999). */
static int as_float(const char *s, double *v) {
  const char *p = s;
  if (*p == '-' || *p == '+') p++;
  if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) return -1;
  if (p == s && (!strcmp(p, ".nan") || !strcmp(p, ".NaN") || !strcmp(p, ".NAN"))) return -1;
  size_t int_digits = strspn(p, "0123456789");
  p += int_digits;
  size_t frac_digits = 0;
  if (*p == '.') {
    p++;
    frac_digits = strspn(p, "0123456789");
    p += frac_digits;
  }
  if (int_digits + frac_digits == 0) return 0;
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '-' || *p == '+') p++;
    size_t n = strspn(p, "0123456789");
    if (!n) return 0;
    p += n;
  }
  if (*p) return 0;
  *v = strtod(s, NULL);
  return isfinite(*v) ? 1 : -1;
}

static int typed(struct loader *l, const char *s, const char *want, const yaml_mark_t *m, json_t **out) {
  long long iv;
  double dv;
  int b, r;
  char msg[200];
  *out = NULL;
  if ((!want || !strcmp(want, "null")) && is_null(s)) {
    *out = json_null();
  } else if ((!want || !strcmp(want, "bool")) && (b = is_bool(s)) >= 0) {
    *out = json_boolean(b);
  } else if ((!want || !strcmp(want, "int") || !strcmp(want, "float")) && (r = as_int(s, &iv)) != 0) {
    if (r < 0) {
      snprintf(msg, sizeof msg, "integer %.60s is out of the 64-bit range", s);
      return at(l, OAST_EBAD_REQUEST, m, msg);
    }
    *out = want && !strcmp(want, "float") ? json_real((double)iv) : json_integer(iv);
  } else if ((!want || !strcmp(want, "float")) && (r = as_float(s, &dv)) != 0) {
    if (r < 0) {
      snprintf(msg, sizeof msg, "%.60s is not a finite number, which JSON cannot represent", s);
      return at(l, OAST_EBAD_REQUEST, m, msg);
    }
    *out = json_real(dv);
  } else if (want) {
    snprintf(msg, sizeof msg, "\"%.60s\" is not a valid !!%s", s, want);
    return at(l, OAST_EBAD_REQUEST, m, msg);
  }
  return 0;
}

static int on_scalar(struct loader *l, yaml_event_t *ev) {
  const yaml_mark_t *m = &ev->start_mark;
  const char *s = (const char *)ev->data.scalar.value;
  size_t len = ev->data.scalar.length;
  const char *tag = (const char *)ev->data.scalar.tag;
  const char *want = NULL;  /* explicit core type, or NULL for implicit resolution */
  bool str = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
  int rc;
  if (tag) {
    if (!strcmp(tag, "!")) {
      str = true;
    } else if (!strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX))) {
      want = tag + strlen(TAG_PREFIX);
      if (!strcmp(want, "str")) {
        str = true;
        want = NULL;
      } else if (strcmp(want, "int") && strcmp(want, "float") && strcmp(want, "bool") && strcmp(want, "null")) {
        goto bad_tag;
      } else {
        str = false;
      }
    } else {
      goto bad_tag;
    }
  }
  if ((rc = count(l, 1, m))) return rc;
  if (expecting_key(l)) {
    if (want) return at(l, OAST_EBAD_REQUEST, m, "a mapping key must be a string");
    if ((rc = set_key(l, s, len, m))) return rc;
    json_t *k = ev->data.scalar.anchor ? json_stringn(s, len) : NULL;
    if (k) add_anchor(l, (const char *)ev->data.scalar.anchor, k, 1);
    json_decref(k);
    return 0;
  }
  json_t *v = NULL;
  if (!str && (rc = typed(l, s, want, m, &v))) return rc;
  if (!v) {
    v = json_stringn(s, len);
    if (!v) return at(l, OAST_EBAD_REQUEST, m, "a string is not valid UTF-8");
  }
  if (ev->data.scalar.anchor) add_anchor(l, (const char *)ev->data.scalar.anchor, v, 1);
  return attach(l, v, m);
bad_tag:;
  char msg[200];
  snprintf(msg, sizeof msg, "the tag %.80s is not supported (only !!str, !!int, !!float, !!bool, !!null)",
           (const char *)ev->data.scalar.tag);
  return at(l, OAST_EBAD_REQUEST, m, msg);
}

static int on_start(struct loader *l, yaml_event_t *ev, bool map) {
  const yaml_mark_t *m = &ev->start_mark;
  const char *tag = (const char *)(map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
  const char *anchor = (const char *)(map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor);
  int rc;
  if (tag && strcmp(tag, map ? TAG_PREFIX "map" : TAG_PREFIX "seq")) {
    char msg[160];
    snprintf(msg, sizeof msg, "the tag %.80s is not supported on a %s", tag, map ? "mapping" : "sequence");
    return at(l, OAST_EBAD_REQUEST, m, msg);
  }
  if (expecting_key(l)) return at(l, OAST_EBAD_REQUEST, m, "a mapping key must be a scalar, not a collection");
  if (l->depth == YAML_JSON_MAX_DEPTH) {
    char msg[80];
    snprintf(msg, sizeof msg, "nesting deeper than %d levels", YAML_JSON_MAX_DEPTH);
    return at(l, OAST_EBAD_REQUEST, m, msg);
  }
  if ((rc = count(l, 1, m))) return rc;
  struct frame *f = &l->stack[l->depth++];
  f->node = map ? json_object() : json_array();
  f->key = NULL;
  f->anchor = anchor ? xstrdup(anchor) : NULL;
  f->nodes0 = l->nodes - 1;
  return 0;
}

static int on_end(struct loader *l, yaml_event_t *ev) {
  struct frame f = l->stack[--l->depth];
  free(f.key);  /* NULL for a well-formed event stream */
  if (f.anchor) {
    add_anchor(l, f.anchor, f.node, l->nodes - f.nodes0);
    free(f.anchor);
  }
  return attach(l, f.node, &ev->start_mark);
}

static int on_alias(struct loader *l, yaml_event_t *ev) {
  const yaml_mark_t *m = &ev->start_mark;
  const char *name = (const char *)ev->data.alias.anchor;
  const struct anchor *a = find_anchor(l, name);
  char msg[160];
  int rc;
  if (!a) {
    snprintf(msg, sizeof msg, "the alias *%.80s names no complete anchor before it", name);
    return at(l, OAST_EBAD_REQUEST, m, msg);
  }
  if ((rc = count(l, a->nodes, m))) return rc;
  if (expecting_key(l)) {
    if (!json_is_string(a->value)) return at(l, OAST_EBAD_REQUEST, m, "a mapping key must be a string");
    return set_key(l, json_string_value(a->value), json_string_length(a->value), m);
  }
  return attach(l, json_deep_copy(a->value), m);
}

int yaml_to_json(const char *text, size_t len, json_t **out, oast_err *e) {
  *out = NULL;
  if (len > YAML_JSON_MAX_BYTES)
    return oast_err_set(e, OAST_ETOO_LARGE, "the YAML text is larger than %u bytes", YAML_JSON_MAX_BYTES);
  struct loader *l = xcalloc(1, sizeof *l);
  l->e = e;
  yaml_parser_t parser;
  yaml_parser_initialize(&parser);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  int rc = 0, docs = 0;
  for (bool done = false; !done && !rc;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      char msg[256];
      snprintf(msg, sizeof msg, "%s%s%s%s", parser.problem ? parser.problem : "malformed YAML",
               parser.context ? " (" : "", parser.context ? parser.context : "", parser.context ? ")" : "");
      rc = at(l, OAST_EBAD_REQUEST, &parser.problem_mark, msg);
      break;
    }
    switch (ev.type) {
      case YAML_STREAM_END_EVENT: done = true; break;
      case YAML_DOCUMENT_START_EVENT:
        if (++docs > 1) rc = at(l, OAST_EBAD_REQUEST, &ev.start_mark, "only one YAML document is allowed");
        break;
      case YAML_SCALAR_EVENT: rc = on_scalar(l, &ev); break;
      case YAML_SEQUENCE_START_EVENT: rc = on_start(l, &ev, false); break;
      case YAML_MAPPING_START_EVENT: rc = on_start(l, &ev, true); break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: rc = on_end(l, &ev); break;
      case YAML_ALIAS_EVENT: rc = on_alias(l, &ev); break;
      default: break;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  for (size_t i = 0; i < l->depth; i++) {  /* only after an error */
    json_decref(l->stack[i].node);
    free(l->stack[i].key);
    free(l->stack[i].anchor);
  }
  for (size_t i = 0; i < l->nanchors; i++) {
    free(l->anchors[i].name);
    json_decref(l->anchors[i].value);
  }
  free(l->anchors);
  if (!rc) *out = l->root ? l->root : json_null();
  else json_decref(l->root);
  free(l);
  return rc;
}
