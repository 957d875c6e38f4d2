/*
 * expect.c — expectation suites: parsing with errors that name the rule
 * and field, and running them over a table (see expect.h).
 *
 * Parsing does all the work that can fail or that depends only on the
 * suite: bounds are converted to the column's numeric scale once
 * (timestamps to microseconds, dates to days), regular expressions are
 * compiled once, and an in_set list becomes a typed column of its own,
 * parsed by the same rules as inserted JSON rows, so "2024-01-01" in a set
 * of dates means what it means in the data. Running is then one pass per
 * rule. unique and in_set use one small open-addressing hash set of row
 * indices, keyed by the same value hash as HyperLogLog, so equal values
 * are found in constant time without copying them.
 */
#include "fstore/expect.h"

#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "formats/jsonrows.h"
#include "formats/rows.h"
#include "fstore/hll.h"
#include "util/alloc.h"
#include "util/json.h"

enum kind { K_NOT_NULL, K_UNIQUE, K_MIN, K_MAX, K_BETWEEN, K_IN_SET, K_REGEX, K_MEAN_BETWEEN, K_COMPLETENESS, K__COUNT };

static const struct {
  const char *name;
  const char *fields[3];     /* beyond "column" and "rule" */
} kinds[K__COUNT] = {
    [K_NOT_NULL] = {"not_null", {NULL}},
    [K_UNIQUE] = {"unique", {NULL}},
    [K_MIN] = {"min", {"value", NULL}},
    [K_MAX] = {"max", {"value", NULL}},
    [K_BETWEEN] = {"between", {"min", "max", NULL}},
    [K_IN_SET] = {"in_set", {"values", NULL}},
    [K_REGEX] = {"regex", {"pattern", NULL}},
    [K_MEAN_BETWEEN] = {"mean_between", {"min", "max", NULL}},
    [K_COMPLETENESS] = {"completeness_at_least", {"value", NULL}},
};

struct rule {
  enum kind kind;
  char *column;
  enum ftype type;
  bool has_lo, has_hi;
  double lo, hi;          /* bounds on the column's numeric scale */
  double fraction;
  bool has_set;
  struct column set;      /* in_set values */
  bool has_re;
  regex_t re;
};

struct expect_suite {
  enum expect_policy policy;
  size_t n;
  struct rule *rules;
};

static bool numeric(enum ftype t) { return t == FT_INT || t == FT_BIGINT || t == FT_FLOAT || t == FT_DOUBLE; }

void expect_suite_free(struct expect_suite *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) {
    struct rule *r = &s->rules[i];
    free(r->column);
    if (r->has_set) column_release(&r->set);
    if (r->has_re) regfree(&r->re);
  }
  free(s->rules);
  free(s);
}

enum expect_policy expect_suite_policy(const struct expect_suite *s) { return s->policy; }

#define BAD(...) oast_err_set(e, OAST_EBAD_REQUEST, __VA_ARGS__)

/* A bound (r's field `f`) on the column's numeric scale. */
static int parse_bound(size_t i, const struct rule *r, json_t *o, const char *f, bool required, bool *has,
                       double *out, oast_err *e) {
  json_t *v = json_object_get(o, f);
  if (!v || json_is_null(v)) {
    if (required) return BAD("rules[%zu].%s: is required", i, f);
    return 0;
  }
  if (r->type == FT_TIMESTAMP || r->type == FT_DATE) {
    struct column c;
    char why[300];
    column_init(&c, f, r->type);
    int rc = jsonrows_append_value(&c, v, why, sizeof why);
    if (!rc) *out = column_num(&c, 0);
    column_release(&c);
    if (rc) return BAD("rules[%zu].%s: %s", i, f, why);
  } else {
    if (!json_is_number(v)) return BAD("rules[%zu].%s: expected a number", i, f);
    *out = json_number_value(v);
  }
  *has = true;
  return 0;
}

static int parse_set(size_t i, struct rule *r, json_t *o, oast_err *e) {
  json_t *vals = json_object_get(o, "values");
  if (!vals) return BAD("rules[%zu].values: is required", i);
  if (!json_is_array(vals)) return BAD("rules[%zu].values: must be an array", i);
  if (json_array_size(vals) > EXPECT_MAX_SET)
    return BAD("rules[%zu].values: at most %d values are allowed", i, EXPECT_MAX_SET);
  column_init(&r->set, r->column, r->type);
  r->has_set = true;
  size_t k;
  json_t *v;
  json_array_foreach(vals, k, v) {
    char why[300];
    if (json_is_null(v)) return BAD("rules[%zu].values[%zu]: null is not allowed (nulls always pass)", i, k);
    if (jsonrows_append_value(&r->set, v, why, sizeof why)) return BAD("rules[%zu].values[%zu]: %s", i, k, why);
  }
  return 0;
}

static int parse_regex(size_t i, struct rule *r, json_t *o, oast_err *e) {
  json_t *p = json_object_get(o, "pattern");
  if (!p) return BAD("rules[%zu].pattern: is required", i);
  if (!json_is_string(p)) return BAD("rules[%zu].pattern: must be a string", i);
  const char *s = json_string_value(p);
  size_t n = json_string_length(p);
  if (n > EXPECT_MAX_PATTERN) return BAD("rules[%zu].pattern: longer than %d bytes", i, EXPECT_MAX_PATTERN);
  if (strlen(s) != n) return BAD("rules[%zu].pattern: contains a NUL character", i);
  for (size_t k = 0; k + 1 < n; k++) {
    if (s[k] == '\\' && s[k + 1] >= '1' && s[k + 1] <= '9')
      return BAD("rules[%zu].pattern: back-references are not supported", i);
    if (s[k] == '\\') k++;
  }
  int rc = regcomp(&r->re, s, REG_EXTENDED | REG_NOSUB);
  if (rc) {
    char msg[200];
    regerror(rc, &r->re, msg, sizeof msg);
    return BAD("rules[%zu].pattern: %s", i, msg);
  }
  r->has_re = true;
  return 0;
}

static int parse_rule(size_t i, json_t *o, const struct table *schema, struct rule *r, oast_err *e) {
  if (!json_is_object(o)) return BAD("rules[%zu]: must be an object", i);
  json_t *jr = json_object_get(o, "rule"), *jc = json_object_get(o, "column");
  if (!jr) return BAD("rules[%zu].rule: is required", i);
  if (!json_is_string(jr)) return BAD("rules[%zu].rule: must be a string", i);
  int k = -1;
  for (int j = 0; j < K__COUNT; j++)
    if (strcmp(kinds[j].name, json_string_value(jr)) == 0) k = j;
  if (k < 0) {
    char q[200];
    rows_quote(json_string_value(jr), json_string_length(jr), q, sizeof q);
    return BAD("rules[%zu].rule: unknown rule %s; the rules are not_null, unique, min, max, between, in_set, regex, "
               "mean_between and completeness_at_least",
               i, q);
  }
  r->kind = (enum kind)k;
  if (!jc) return BAD("rules[%zu].column: is required", i);
  if (!json_is_string(jc)) return BAD("rules[%zu].column: must be a string", i);
  int ci = table_find(schema, json_string_value(jc));
  if (ci < 0) {
    char q[200];
    rows_quote(json_string_value(jc), json_string_length(jc), q, sizeof q);
    return BAD("rules[%zu].column: no column %s", i, q);
  }
  r->column = xstrdup(schema->cols[ci].name);
  r->type = schema->cols[ci].type;
  const char *key;
  json_t *v;
  json_object_foreach(o, key, v) {
    bool ok = strcmp(key, "rule") == 0 || strcmp(key, "column") == 0;
    for (const char *const *f = kinds[k].fields; *f; f++) ok |= strcmp(*f, key) == 0;
    if (!ok) {
      char q[200];
      rows_quote(key, strlen(key), q, sizeof q);
      return BAD("rules[%zu]: unknown field %s for rule \"%s\"", i, q, kinds[k].name);
    }
  }
  const char *tn = ftype_name(r->type);
  int rc = 0;
  switch (r->kind) {
    case K_NOT_NULL: case K_UNIQUE: break;
    case K_MIN: case K_MAX: case K_BETWEEN:
      if (!numeric(r->type) && r->type != FT_TIMESTAMP && r->type != FT_DATE)
        return BAD("rules[%zu].column: \"%s\" is a %s column; rule \"%s\" needs a numeric, timestamp or date column", i,
                   r->column, tn, kinds[k].name);
      if (r->kind == K_MIN) rc = parse_bound(i, r, o, "value", true, &r->has_lo, &r->lo, e);
      else if (r->kind == K_MAX) rc = parse_bound(i, r, o, "value", true, &r->has_hi, &r->hi, e);
      break;
    case K_MEAN_BETWEEN:
      if (!numeric(r->type) && r->type != FT_BOOLEAN)
        return BAD("rules[%zu].column: \"%s\" is a %s column; rule \"mean_between\" needs a numeric or boolean column", i,
                   r->column, tn);
      break;
    case K_IN_SET: rc = parse_set(i, r, o, e); break;
    case K_REGEX:
      if (r->type != FT_STRING)
        return BAD("rules[%zu].column: \"%s\" is a %s column; rule \"regex\" needs a string column", i, r->column, tn);
      rc = parse_regex(i, r, o, e);
      break;
    case K_COMPLETENESS: {
      json_t *f = json_object_get(o, "value");
      if (!f) return BAD("rules[%zu].value: is required", i);
      if (!json_is_number(f) || json_number_value(f) < 0 || json_number_value(f) > 1)
        return BAD("rules[%zu].value: must be a number from 0 to 1", i);
      r->fraction = json_number_value(f);
      break;
    }
    default: break;
  }
  if (rc) return rc;
  if (r->kind == K_BETWEEN || r->kind == K_MEAN_BETWEEN) {
    if ((rc = parse_bound(i, r, o, "min", false, &r->has_lo, &r->lo, e)) ||
        (rc = parse_bound(i, r, o, "max", false, &r->has_hi, &r->hi, e)))
      return rc;
    if (!r->has_lo && !r->has_hi) return BAD("rules[%zu]: rule \"%s\" needs \"min\", \"max\" or both", i, kinds[k].name);
    if (r->has_lo && r->has_hi && r->lo > r->hi) return BAD("rules[%zu].min: is greater than \"max\"", i);
  }
  return 0;
}

int expect_parse(const json_t *cj, const struct table *schema, struct expect_suite **out, oast_err *e) {
  json_t *j = (json_t *)cj;
  *out = NULL;
  if (!json_is_object(j)) return BAD("the expectation suite must be a JSON object");
  static const char *const top[] = {"policy", "rules", NULL};
  int rc = json_only_fields(j, top, e);
  if (rc) return rc;
  const char *policy = "always";
  json_t *rules = NULL;
  if ((rc = json_get_str(j, "policy", false, &policy, e)) || (rc = json_get_array(j, "rules", true, &rules, e)))
    return rc;
  struct expect_suite *s = xcalloc(1, sizeof *s);
  if (strcmp(policy, "strict") == 0) s->policy = EXPECT_STRICT;
  else if (strcmp(policy, "always") != 0) rc = BAD("field \"policy\" must be \"always\" or \"strict\"");
  else s->policy = EXPECT_ALWAYS;
  if (!rc && json_array_size(rules) > EXPECT_MAX_RULES) rc = BAD("field \"rules\" has more than %d rules", EXPECT_MAX_RULES);
  if (!rc) {
    s->rules = xcalloc(json_array_size(rules) + 1, sizeof *s->rules);
    for (size_t i = 0; i < json_array_size(rules) && !rc; i++) {
      s->n = i + 1;
      rc = parse_rule(i, json_array_get(rules, i), schema, &s->rules[i], e);
    }
  }
  if (rc) {
    expect_suite_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* ---- running ---- */

/* Open addressing over row indices of `keys`; equal values by hll_cell_equal. */
struct cellset {
  const struct column *keys;
  size_t *slot;           /* row + 1, 0 = empty */
  size_t mask;
};

static void cellset_init(struct cellset *s, const struct column *keys, size_t n) {
  size_t cap = 16;
  while (cap < 2 * n + 2) cap *= 2;
  s->keys = keys;
  s->slot = xcalloc(cap, sizeof *s->slot);
  s->mask = cap - 1;
}

/* The row of keys equal to row i of q, or SIZE_MAX; with add, row i of q
 * (which must be the keys column) is added when absent. */
static size_t cellset_probe(struct cellset *s, const struct column *q, size_t i, bool add) {
  size_t h = (size_t)hll_hash_cell(q, i) & s->mask;
  while (s->slot[h]) {
    if (hll_cell_equal(s->keys, s->slot[h] - 1, q, i)) return s->slot[h] - 1;
    h = (h + 1) & s->mask;
  }
  if (add) s->slot[h] = i + 1;
  return SIZE_MAX;
}

struct outcome {
  size_t unexpected;
  json_t *examples;
};

static void unexpected(struct outcome *o, const struct column *c, size_t i, bool with_value) {
  if (o->unexpected++ >= EXPECT_EXAMPLES) return;
  json_t *ex = json_pack("{s:I}", "row", (json_int_t)(i + 1));
  if (with_value) json_object_set_new(ex, "value", rows_cell_json(c, i));
  json_array_append_new(o->examples, ex);
}

static bool matches(const regex_t *re, const char *s, size_t n, struct buf *scratch) {
  buf_reset(scratch);
  buf_append(scratch, s, n);
#ifdef REG_STARTEND
  regmatch_t m[1] = {{0, (regoff_t)n}};
  return regexec(re, buf_cstr(scratch), 1, m, REG_STARTEND) == 0;
#else
  return regexec(re, buf_cstr(scratch), 0, NULL, 0) == 0;
#endif
}

static json_t *run_rule(const struct rule *r, const struct table *t) {
  json_t *res = json_pack("{s:s,s:s}", "rule", kinds[r->kind].name, "column", r->column);
  int ci = table_find(t, r->column);
  if (ci < 0 || t->cols[ci].type != r->type) {
    json_object_set_new(res, "success", json_false());
    json_object_set_new(res, "unexpected_count", json_integer(0));
    json_object_set_new(res, "error", json_string("the data has no such column of this type"));
    return res;
  }
  const struct column *c = &t->cols[ci];
  const size_t n = t->nrows;
  struct outcome o = {0, json_array()};
  json_t *observed = NULL;
  bool ok = true;
  switch (r->kind) {
    case K_NOT_NULL:
      for (size_t i = 0; i < n; i++)
        if (column_is_null(c, i)) unexpected(&o, c, i, false);
      break;
    case K_UNIQUE: {
      struct cellset set;
      cellset_init(&set, c, n);
      size_t distinct = 0;
      for (size_t i = 0; i < n; i++) {
        if (column_is_null(c, i)) continue;
        if (cellset_probe(&set, c, i, true) != SIZE_MAX) unexpected(&o, c, i, true);
        else distinct++;
      }
      free(set.slot);
      observed = json_integer((json_int_t)distinct);
      break;
    }
    case K_MIN: case K_MAX: case K_BETWEEN: {
      size_t lo = SIZE_MAX, hi = SIZE_MAX;
      for (size_t i = 0; i < n; i++) {
        if (column_is_null(c, i)) continue;
        double d = column_num(c, i);
        if (isnan(d) || (r->has_lo && d < r->lo) || (r->has_hi && d > r->hi)) unexpected(&o, c, i, true);
        if (isnan(d)) continue;
        if (lo == SIZE_MAX || d < column_num(c, lo)) lo = i;
        if (hi == SIZE_MAX || d > column_num(c, hi)) hi = i;
      }
      json_t *jlo = lo == SIZE_MAX ? json_null() : rows_cell_json(c, lo);
      json_t *jhi = hi == SIZE_MAX ? json_null() : rows_cell_json(c, hi);
      if (r->kind == K_MIN) {
        observed = jlo;
        json_decref(jhi);
      } else if (r->kind == K_MAX) {
        observed = jhi;
        json_decref(jlo);
      } else {
        observed = json_pack("{s:o,s:o}", "min", jlo, "max", jhi);
      }
      break;
    }
    case K_IN_SET: {
      struct cellset set;
      cellset_init(&set, &r->set, r->set.len);
      for (size_t k = 0; k < r->set.len; k++) cellset_probe(&set, &r->set, k, true);
      for (size_t i = 0; i < n; i++)
        if (!column_is_null(c, i) && cellset_probe(&set, c, i, false) == SIZE_MAX) unexpected(&o, c, i, true);
      free(set.slot);
      break;
    }
    case K_REGEX: {
      struct buf scratch = BUF_INIT;
      for (size_t i = 0; i < n; i++) {
        if (column_is_null(c, i)) continue;
        size_t len;
        const char *s = column_str(c, i, &len);
        if (!matches(&r->re, s, len, &scratch)) unexpected(&o, c, i, true);
      }
      buf_release(&scratch);
      break;
    }
    case K_MEAN_BETWEEN: {
      double sum = 0;
      size_t k = 0;
      for (size_t i = 0; i < n; i++) {
        if (column_is_null(c, i)) continue;
        double d = column_num(c, i);
        if (isnan(d)) continue;
        sum += d;
        k++;
      }
      double mean = k ? sum / (double)k : NAN;
      ok = k && (!r->has_lo || mean >= r->lo) && (!r->has_hi || mean <= r->hi);
      observed = k && isfinite(mean) ? json_real(mean) : json_null();
      break;
    }
    case K_COMPLETENESS: {
      for (size_t i = 0; i < n; i++)
        if (column_is_null(c, i)) unexpected(&o, c, i, false);
      double frac = n ? (double)(n - o.unexpected) / (double)n : 1.0;
      ok = frac >= r->fraction;
      observed = json_real(frac);
      break;
    }
    default: break;
  }
  if (r->kind != K_MEAN_BETWEEN && r->kind != K_COMPLETENESS) ok = o.unexpected == 0;
  json_object_set_new(res, "success", json_boolean(ok));
  if (observed) json_object_set_new(res, "observed", observed);
  json_object_set_new(res, "unexpected_count", json_integer((json_int_t)o.unexpected));
  if (o.unexpected) json_object_set_new(res, "unexpected_examples", o.examples);
  else json_decref(o.examples);
  return res;
}

json_t *expect_run(const struct expect_suite *s, const struct table *t, bool *success) {
  json_t *results = json_array();
  bool all = true;
  for (size_t i = 0; i < s->n; i++) {
    json_t *r = run_rule(&s->rules[i], t);
    all &= json_is_true(json_object_get(r, "success"));
    json_array_append_new(results, r);
  }
  if (success) *success = all;
  return json_pack("{s:b,s:o}", "success", all, "results", results);
}
