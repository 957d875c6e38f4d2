/*
 * field.h — typed getters for the experiment specs (search space,
 * optimizer, early stopping) whose errors name the field by its dotted
 * path, e.g. `optimizer.population: must be an integer` or
 * `searchspace.lr.min: required field is missing`. `where` is the path of
 * the object being read ("optimizer", "searchspace.lr"). Every error is
 * OAST_EBAD_REQUEST (a 400). Getters of optional fields leave *out alone
 * when the field is absent or null, so callers preset defaults.
 */
#ifndef EXP_FIELD_H
#define EXP_FIELD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "oast/error.h"

/* A finite number. */
int exp_field_num(const json_t *o, const char *where, const char *field, bool required, double *out, oast_err *e);
/* An integer (or an integral real) within [lo, hi]. */
int exp_field_int(const json_t *o, const char *where, const char *field, bool required, int64_t lo, int64_t hi,
                  int64_t *out, oast_err *e);
int exp_field_bool(const json_t *o, const char *where, const char *field, bool required, bool *out, oast_err *e);
/* Borrowed string, valid as long as o. */
int exp_field_str(const json_t *o, const char *where, const char *field, bool required, const char **out,
                  oast_err *e);
/* The shortest decimal text that reads back as v exactly ("0.1", "1e-05",
 * "3"), written into buf and returned; "nan"/"inf"/"-inf" for non-finite v. */
const char *exp_num_str(double v, char buf[32]);
/* Refuses members of o not in the NULL-terminated list `allowed`. */
int exp_field_only(const json_t *o, const char *where, const char *const *allowed, oast_err *e);

#endif
