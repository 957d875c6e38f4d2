/*
 * searchspace.h — the hyperparameter search space of an experiment.
 *
 * JSON form (the "searchspace" member of POST /experiments), one member per
 * hyperparameter, in the order the user wrote them:
 *
 *   "lr":  {"type": "double",  "min": 1e-4, "max": 0.1, "log": true, "steps": 4}
 *   "n":   {"type": "integer", "min": 1, "max": 8, "log": false, "steps": 3}
 *   "opt": {"type": "categorical", "values": ["adam", "sgd"]}
 *   "d":   {"type": "discrete",    "values": [0.1, 0.2, 0.5]}
 *
 * Names follow the platform's name rule (a letter, then letters, digits
 * or underscores, at most 63), so they are valid Python keyword arguments.
 * "log" (default false) samples a range uniformly in log space; it needs
 * min > 0 for doubles and min >= 1 for integers. Integer bounds must lie
 * within ±2^53 so every value survives a trip through JSON. Categorical
 * values are strings, numbers or booleans; discrete values are numbers;
 * both lists are non-empty, at most SS_MAX_VALUES long, without repeats.
 *
 * Grid search decision: a grid is the cartesian product of each
 * parameter's grid values. Categorical and discrete parameters contribute
 * their values; an integer contributes every integer in [min, max], or,
 * when "steps" is given, `steps` evenly spaced points rounded to integers
 * (log-spaced when "log", repeats dropped); a double contributes `steps`
 * evenly spaced points from min to max inclusive (log-spaced when "log")
 * and has no grid without "steps" (unless min == max), because a
 * continuous range has no natural finite set of points. "steps" is
 * ignored by the other optimizers.
 *
 * Every point is a JSON object {name: value} in the search space's order:
 * integers as JSON integers, doubles as JSON reals, list values as given.
 * All functions returning json_t* return a new reference the caller owns
 * (json_decref). Errors are 400s whose message starts with the field's
 * dotted path, e.g. `searchspace.lr: min (0.5) is greater than max (0.1)`.
 */
#ifndef EXP_SEARCHSPACE_H
#define EXP_SEARCHSPACE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exp/rng.h"
#include "oast/error.h"

#define SS_MAX_PARAMS 64        /* hyperparameters in one search space */
#define SS_MAX_VALUES 1000      /* values of one list parameter, and "steps" */
#define SS_MAX_GRID 100000      /* points of a grid, and of an enumerable space */
#define SS_INT_LIMIT 9007199254740992LL /* 2^53: bound on integer min/max */

enum ss_type { SS_DOUBLE, SS_INTEGER, SS_CATEGORICAL, SS_DISCRETE };

struct ss_param {
  char *name;          /* owned */
  enum ss_type type;
  double min, max;     /* double and integer (integers are exact in a double) */
  bool log;
  int steps;           /* "steps" for double/integer; 0 when absent */
  int64_t *grid_ints;  /* integer with steps: its distinct grid values, ascending; owned */
  size_t n_grid_ints;
  json_t *values;      /* categorical/discrete: owned reference to the array; else NULL */
};

struct searchspace {
  struct ss_param *params; /* owned, n of them */
  size_t n;
};

/* Parses and validates j (an object, or NULL for the empty space) into ss.
 * On failure ss is left empty (safe to release). */
int ss_parse(const json_t *j, struct searchspace *ss, oast_err *e);
void ss_release(struct searchspace *ss);

/* The position of the parameter named `name`, or -1. */
int ss_find(const struct searchspace *ss, const char *name);

/* The point at unit-cube coordinates u[0..n-1], each clamped to [0, 1]:
 * a double maps linearly (or log-linearly) onto [min, max]; an integer
 * onto [min, max] by flooring u * (max - min + 1) (in log space when
 * "log"); a list parameter to values[floor(u * count)]. This is the
 * encoding differential evolution works in. */
json_t *ss_from_unit(const struct searchspace *ss, const double *u);
/* A random point: ss_from_unit at uniform coordinates drawn from rng, so
 * log scales are honoured and integers are integral. Consumes exactly
 * ss->n draws. */
json_t *ss_sample(const struct searchspace *ss, struct exp_rng *rng);
/* A fixed, deterministic point: the middle of each range (the geometric
 * middle when "log", integers rounded down) and the first value of each list. */
json_t *ss_center(const struct searchspace *ss);

/* The number of grid points (1 for the empty space); a 400 naming the
 * parameter that has no grid, or saying the grid passes SS_MAX_GRID. */
int ss_grid_size(const struct searchspace *ss, uint64_t *size, oast_err *e);
/* Grid point `index` < size, in cartesian (itertools.product) order: the
 * first parameter varies slowest. */
json_t *ss_grid_point(const struct searchspace *ss, uint64_t index);

/* The number of distinct points when every parameter takes finitely many
 * values (integers: every integer of the range; doubles only when
 * min == max) and that number is at most SS_MAX_GRID; otherwise 0. */
uint64_t ss_enum_size(const struct searchspace *ss);
/* Point `index` < ss_enum_size, in the same cartesian order. */
json_t *ss_enum_point(const struct searchspace *ss, uint64_t index);

#endif
