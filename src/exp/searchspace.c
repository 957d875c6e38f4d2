/*
 * searchspace.c — parsing, sampling and enumerating search spaces (see
 * searchspace.h for the JSON form and the grid rules).
 *
 * Every way of producing a point goes through one of two mappings, so the
 * optimizers cannot disagree about what a value means: the unit-cube
 * mapping (ss_from_unit, shared by random sampling and differential
 * evolution) and the per-parameter value lists used by grids and
 * enumeration (count/value_at, in "grid" or "full" mode), decoded as a
 * mixed-radix number with the first parameter most significant.
 */
#include "exp/searchspace.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exp/field.h"
#include "util/alloc.h"
#include "util/path.h"

void ss_release(struct searchspace *ss) {
  if (!ss) return;
  for (size_t i = 0; i < ss->n; i++) {
    free(ss->params[i].name);
    free(ss->params[i].grid_ints);
    json_decref(ss->params[i].values);
  }
  free(ss->params);
  ss->params = NULL;
  ss->n = 0;
}

int ss_find(const struct searchspace *ss, const char *name) {
  for (size_t i = 0; i < ss->n; i++)
    if (strcmp(ss->params[i].name, name) == 0) return (int)i;
  return -1;
}

static bool same_value(const json_t *a, const json_t *b) {
  if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
  return json_equal((json_t *)a, (json_t *)b);
}

static int parse_values(const json_t *def, const char *where, struct ss_param *p, oast_err *e) {
  json_t *vals = json_object_get(def, "values");
  if (!vals || json_is_null(vals))
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s.values: required field is missing", where);
  if (!json_is_array(vals)) return oast_err_set(e, OAST_EBAD_REQUEST, "%s.values: must be an array", where);
  size_t n = json_array_size(vals);
  if (n == 0) return oast_err_set(e, OAST_EBAD_REQUEST, "%s.values: must not be empty", where);
  if (n > SS_MAX_VALUES)
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s.values: more than %d values", where, SS_MAX_VALUES);
  for (size_t i = 0; i < n; i++) {
    json_t *v = json_array_get(vals, i);
    if (p->type == SS_DISCRETE && !json_is_number(v))
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s.values[%zu]: must be a number", where, i);
    if (p->type == SS_CATEGORICAL && !json_is_string(v) && !json_is_number(v) && !json_is_boolean(v))
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s.values[%zu]: must be a string, number or boolean", where, i);
    for (size_t k = 0; k < i; k++)
      if (same_value(v, json_array_get(vals, k)))
        return oast_err_set(e, OAST_EBAD_REQUEST, "%s.values[%zu]: repeats values[%zu]", where, i, k);
  }
  p->values = json_incref(vals);
  return 0;
}

/* Grid point i of `steps` points spanning [min, max], log-spaced if log. */
static double step_point(const struct ss_param *p, int i) {
  if (i <= 0) return p->min;
  if (i >= p->steps - 1) return p->max;
  double t = (double)i / (double)(p->steps - 1);
  if (p->log) return exp(log(p->min) + t * (log(p->max) - log(p->min)));
  return p->min + t * (p->max - p->min);
}

static int parse_range(const json_t *def, const char *where, struct ss_param *p, oast_err *e) {
  static const char *const allowed[] = {"type", "min", "max", "log", "steps", NULL};
  int rc;
  if ((rc = exp_field_only(def, where, allowed, e))) return rc;
  if (p->type == SS_INTEGER) {
    int64_t lo = 0, hi = 0;
    if ((rc = exp_field_int(def, where, "min", true, -SS_INT_LIMIT, SS_INT_LIMIT, &lo, e)) ||
        (rc = exp_field_int(def, where, "max", true, -SS_INT_LIMIT, SS_INT_LIMIT, &hi, e)))
      return rc;
    p->min = (double)lo;
    p->max = (double)hi;
  } else {
    if ((rc = exp_field_num(def, where, "min", true, &p->min, e)) ||
        (rc = exp_field_num(def, where, "max", true, &p->max, e)))
      return rc;
  }
  char b1[32], b2[32];
  if (p->min > p->max)
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s: min (%s) is greater than max (%s)", where,
                        exp_num_str(p->min, b1), exp_num_str(p->max, b2));
  if ((rc = exp_field_bool(def, where, "log", false, &p->log, e))) return rc;
  if (p->log && p->type == SS_DOUBLE && p->min <= 0)
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s: a log scale needs min > 0 (min is %s)", where,
                        exp_num_str(p->min, b1));
  if (p->log && p->type == SS_INTEGER && p->min < 1)
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s: a log scale needs min >= 1 (min is %s)", where,
                        exp_num_str(p->min, b1));
  int64_t steps = 0;
  if ((rc = exp_field_int(def, where, "steps", false, 2, SS_MAX_VALUES, &steps, e))) return rc;
  p->steps = (int)steps;
  if (p->type == SS_INTEGER && p->steps) {
    p->grid_ints = xmalloc(sizeof(int64_t) * (size_t)p->steps);
    for (int i = 0; i < p->steps; i++) {
      int64_t v = (int64_t)llround(step_point(p, i));
      if (v < (int64_t)p->min) v = (int64_t)p->min;
      if (v > (int64_t)p->max) v = (int64_t)p->max;
      if (p->n_grid_ints == 0 || p->grid_ints[p->n_grid_ints - 1] != v) p->grid_ints[p->n_grid_ints++] = v;
    }
  }
  return 0;
}

static int parse_param(const char *name, const json_t *def, struct ss_param *p, oast_err *e) {
  char where[96];
  snprintf(where, sizeof where, "searchspace.%s", name);
  if (!json_is_object(def))
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s: must be an object with a \"type\"", where);
  const char *type = NULL;
  int rc;
  if ((rc = exp_field_str(def, where, "type", true, &type, e))) return rc;
  if (strcmp(type, "double") == 0) {
    p->type = SS_DOUBLE;
  } else if (strcmp(type, "integer") == 0) {
    p->type = SS_INTEGER;
  } else if (strcmp(type, "categorical") == 0) {
    p->type = SS_CATEGORICAL;
  } else if (strcmp(type, "discrete") == 0) {
    p->type = SS_DISCRETE;
  } else {
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "%s.type: unknown type \"%s\" (expected double, integer, categorical or discrete)", where,
                        type);
  }
  if (p->type == SS_DOUBLE || p->type == SS_INTEGER) return parse_range(def, where, p, e);
  static const char *const allowed[] = {"type", "values", NULL};
  if ((rc = exp_field_only(def, where, allowed, e))) return rc;
  return parse_values(def, where, p, e);
}

int ss_parse(const json_t *j, struct searchspace *ss, oast_err *e) {
  ss->params = NULL;
  ss->n = 0;
  if (!j || json_is_null(j)) return 0;
  if (!json_is_object(j)) return oast_err_set(e, OAST_EBAD_REQUEST, "searchspace: must be an object");
  size_t n = json_object_size(j);
  if (n > SS_MAX_PARAMS)
    return oast_err_set(e, OAST_EBAD_REQUEST, "searchspace: more than %d parameters", SS_MAX_PARAMS);
  ss->params = xcalloc(n ? n : 1, sizeof *ss->params);
  const char *name;
  json_t *def;
  json_object_foreach((json_t *)j, name, def) {
    if (!name_valid(name)) {
      ss_release(ss);
      return oast_err_set(e, OAST_EBAD_REQUEST,
                          "searchspace: parameter name \"%.64s\" is not valid (a letter, then letters, digits or "
                          "underscores, at most %d characters)",
                          name, NAME_MAX_LEN);
    }
    struct ss_param *p = &ss->params[ss->n++];
    p->name = xstrdup(name);
    int rc = parse_param(name, def, p, e);
    if (rc) {
      ss_release(ss);
      return rc;
    }
  }
  return 0;
}

static json_t *range_value(const struct ss_param *p, double v) {
  if (p->type == SS_INTEGER) return json_integer((json_int_t)v);
  return json_real(v);
}

static double clamp01(double u) { return u < 0 ? 0 : u > 1 ? 1 : (u == u ? u : 0); }

static json_t *unit_value(const struct ss_param *p, double u) {
  u = clamp01(u);
  if (p->values) {
    size_t n = json_array_size(p->values);
    size_t i = (size_t)(u * (double)n);
    return json_incref(json_array_get(p->values, i < n ? i : n - 1));
  }
  double v;
  if (p->type == SS_DOUBLE) {
    if (u == 0 || u == 1) /* exact ends: exp(log(x)) need not give x back */
      v = u == 0 ? p->min : p->max;
    else if (p->log)
      v = exp(log(p->min) + u * (log(p->max) - log(p->min)));
    else
      v = p->min + u * (p->max - p->min);
  } else if (p->log) {
    v = floor(exp(log(p->min) + u * (log(p->max + 1) - log(p->min))));
  } else {
    v = p->min + floor(u * (p->max - p->min + 1));
  }
  if (v < p->min) v = p->min;
  if (v > p->max) v = p->max;
  return range_value(p, v);
}

json_t *ss_from_unit(const struct searchspace *ss, const double *u) {
  json_t *o = json_object();
  for (size_t i = 0; i < ss->n; i++) json_object_set_new(o, ss->params[i].name, unit_value(&ss->params[i], u[i]));
  return o;
}

json_t *ss_sample(const struct searchspace *ss, struct exp_rng *rng) {
  double u[SS_MAX_PARAMS];
  for (size_t i = 0; i < ss->n; i++) u[i] = exp_rng_unit(rng);
  return ss_from_unit(ss, u);
}

json_t *ss_center(const struct searchspace *ss) {
  json_t *o = json_object();
  for (size_t i = 0; i < ss->n; i++) {
    const struct ss_param *p = &ss->params[i];
    json_t *v;
    if (p->values) {
      v = json_incref(json_array_get(p->values, 0));
    } else {
      double m = p->log ? sqrt(p->min) * sqrt(p->max) : p->min + (p->max - p->min) / 2;
      if (p->type == SS_INTEGER) m = floor(m);
      v = range_value(p, m < p->min ? p->min : m > p->max ? p->max : m);
    }
    json_object_set_new(o, p->name, v);
  }
  return o;
}

/* How many values p takes in a grid (grid) or in full enumeration (!grid);
 * 0 when unbounded. */
static uint64_t count(const struct ss_param *p, bool grid) {
  if (p->values) return json_array_size(p->values);
  if (p->type == SS_INTEGER) return grid && p->steps ? p->n_grid_ints : (uint64_t)(p->max - p->min) + 1;
  if (grid && p->steps) return (uint64_t)p->steps;
  return p->min == p->max ? 1 : 0;
}

static json_t *value_at(const struct ss_param *p, bool grid, uint64_t i) {
  if (p->values) return json_incref(json_array_get(p->values, i));
  if (p->type == SS_INTEGER) return json_integer(grid && p->steps ? p->grid_ints[i] : (json_int_t)p->min + (json_int_t)i);
  if (grid && p->steps) return json_real(step_point(p, (int)i));
  return json_real(p->min);
}

/* The product of the counts, or 0 if one is 0 or it passes SS_MAX_GRID;
 * *bad gets the first unbounded parameter, if any. */
static uint64_t product(const struct searchspace *ss, bool grid, int *bad) {
  uint64_t total = 1;
  *bad = -1;
  for (size_t i = 0; i < ss->n; i++) {
    uint64_t c = count(&ss->params[i], grid);
    if (c == 0) {
      *bad = (int)i;
      return 0;
    }
    if (total > SS_MAX_GRID / c) total = SS_MAX_GRID + 1;
    else total *= c;
  }
  return total > SS_MAX_GRID ? 0 : total;
}

static json_t *point(const struct searchspace *ss, bool grid, uint64_t index) {
  json_t *vals[SS_MAX_PARAMS];
  for (size_t k = ss->n; k-- > 0;) {
    uint64_t c = count(&ss->params[k], grid);
    vals[k] = value_at(&ss->params[k], grid, index % c);
    index /= c;
  }
  json_t *o = json_object();
  for (size_t i = 0; i < ss->n; i++) json_object_set_new(o, ss->params[i].name, vals[i]);
  return o;
}

int ss_grid_size(const struct searchspace *ss, uint64_t *size, oast_err *e) {
  int bad;
  *size = product(ss, true, &bad);
  if (bad >= 0)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "searchspace.%s: grid search needs \"steps\" (the number of grid points) for a double "
                        "parameter",
                        ss->params[bad].name);
  if (*size == 0)
    return oast_err_set(e, OAST_EBAD_REQUEST, "searchspace: the grid has more than %d points", SS_MAX_GRID);
  return 0;
}

json_t *ss_grid_point(const struct searchspace *ss, uint64_t index) { return point(ss, true, index); }

uint64_t ss_enum_size(const struct searchspace *ss) {
  int bad;
  return product(ss, false, &bad);
}

json_t *ss_enum_point(const struct searchspace *ss, uint64_t index) { return point(ss, false, index); }
