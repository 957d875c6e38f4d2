/*
 * spec.c — an experiment's definition, validated (see service.h).
 *
 * The request is checked field by field, each error a 400 whose message
 * starts with the field's name (`parallelism: must be at least 1`,
 * `searchspace.lr: min (0.5) is greater than max (0.1)`), and the optimizer
 * is created from it, so a request that passes here can run. What is
 * stored in the database is the request itself without the inline
 * "files" (they are copied into the experiment's folder), with defaults
 * filled in and the seed fixed: parsing the stored form again on resume
 * gives the same experiment, and the same optimizer state fits it.
 */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "exp/field.h"
#include "exp/service.h"
#include "util/alloc.h"
#include "util/crypto.h"
#include "util/path.h"

#define SEED_LIMIT ((int64_t)1 << 53)
#define DESCRIPTION_MAX 4096
#define METRIC_MAX 64

static int bad(oast_err *e, const char *fmt, const char *field, const char *why) {
  return oast_err_set(e, OAST_EBAD_REQUEST, fmt, field, why);
}

/* A non-negative integer field in [lo, hi]; absent leaves *out. */
static int int_field(json_t *o, const char *field, int64_t lo, int64_t hi, int64_t *out, oast_err *e) {
  json_t *v = json_object_get(o, field);
  if (!v || json_is_null(v)) return 0;
  double d = json_is_number(v) ? json_number_value(v) : NAN;
  if (!json_is_integer(v) && !(json_is_real(v) && d == floor(d) && fabs(d) < 9e15))
    return bad(e, "%s: %s", field, "must be an integer");
  int64_t x = json_is_integer(v) ? json_integer_value(v) : (int64_t)d;
  if (x < lo || x > hi)
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s: %lld is out of range (%lld to %lld)", field, (long long)x,
                        (long long)lo, (long long)hi);
  *out = x;
  return 0;
}

static int check_text(const json_t *v, const char *field, size_t max, bool nonempty, oast_err *e) {
  if (!json_is_string(v)) return bad(e, "%s: %s", field, "must be a string");
  size_t n = json_string_length(v);
  if (strlen(json_string_value(v)) != n) return bad(e, "%s: %s", field, "must not contain NUL characters");
  if (nonempty && n == 0) return bad(e, "%s: %s", field, "must not be empty");
  if (n > max) return oast_err_set(e, OAST_EBAD_REQUEST, "%s: longer than %zu bytes", field, max);
  return 0;
}

static int parse_command(json_t *cmd, oast_err *e) {
  if (!cmd || json_is_null(cmd)) return bad(e, "%s: %s", "command", "required field is missing");
  if (!json_is_array(cmd) || json_array_size(cmd) == 0)
    return bad(e, "%s: %s", "command", "must be a non-empty array of strings (the program and its arguments)");
  if (json_array_size(cmd) > EXP_MAX_ARGS)
    return oast_err_set(e, OAST_EBAD_REQUEST, "command: more than %d words", EXP_MAX_ARGS);
  size_t i;
  json_t *w;
  json_array_foreach(cmd, i, w) {
    char field[32];
    snprintf(field, sizeof field, "command[%zu]", i);
    int rc = check_text(w, field, EXP_MAX_ARG_LEN, i == 0, e);
    if (rc) return rc;
  }
  return 0;
}

static bool env_name_ok(const char *k) {
  if (!*k || !(k[0] == '_' || (k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z'))) return false;
  for (const char *c = k; *c; c++)
    if (!(*c == '_' || (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')))
      return false;
  return strlen(k) <= 128;
}

static int parse_env(json_t *env, oast_err *e) {
  if (!env || json_is_null(env)) return 0;
  if (!json_is_object(env)) return bad(e, "%s: %s", "env", "must be an object of strings");
  if (json_object_size(env) > EXP_MAX_ENV)
    return oast_err_set(e, OAST_EBAD_REQUEST, "env: more than %d variables", EXP_MAX_ENV);
  const char *k;
  json_t *v;
  json_object_foreach(env, k, v) {
    if (!env_name_ok(k))
      return oast_err_set(e, OAST_EBAD_REQUEST, "env: \"%.64s\" is not a valid variable name", k);
    if (!strncmp(k, "OAST_", 5) || !strcmp(k, "CUDA_VISIBLE_DEVICES") || !strcmp(k, "CUDA_DEVICE_ORDER"))
      return oast_err_set(e, OAST_EBAD_REQUEST, "env.%s: set by the server for every trial", k);
    char field[160];
    snprintf(field, sizeof field, "env.%s", k);
    int rc = check_text(v, field, EXP_MAX_ARG_LEN, false, e);
    if (rc) return rc;
  }
  return 0;
}

static int parse_resources(json_t *res, struct exp_spec *sp, oast_err *e) {
  sp->cpus = 1;
  sp->gpus = 0;
  if (!res || json_is_null(res)) return 0;
  if (!json_is_object(res)) return bad(e, "%s: %s", "resources", "must be an object with \"cpus\" and \"gpus\"");
  static const char *const allowed[] = {"cpus", "gpus", NULL};
  int64_t cpus = 1, gpus = 0;
  int rc;
  if ((rc = exp_field_only(res, "resources", allowed, e)) ||
      (rc = exp_field_int(res, "resources", "cpus", false, 1, 4096, &cpus, e)) ||
      (rc = exp_field_int(res, "resources", "gpus", false, 0, 256, &gpus, e)))
    return rc;
  sp->cpus = (int)cpus;
  sp->gpus = (int)gpus;
  return 0;
}

static int parse_paths(json_t *paths, oast_err *e) {
  if (!paths || json_is_null(paths)) return 0;
  if (!json_is_array(paths)) return bad(e, "%s: %s", "resources_paths", "must be an array of project paths");
  if (json_array_size(paths) > EXP_MAX_RESOURCES)
    return oast_err_set(e, OAST_EBAD_REQUEST, "resources_paths: more than %d paths", EXP_MAX_RESOURCES);
  size_t i;
  json_t *p;
  json_array_foreach(paths, i, p) {
    char field[40];
    snprintf(field, sizeof field, "resources_paths[%zu]", i);
    int rc = check_text(p, field, PATH_MAX_LEN, true, e);
    if (rc) return rc;
  }
  return 0;
}

void exp_spec_release(struct exp_spec *sp) {
  ss_release(&sp->ss);
  json_decref(sp->doc);
  memset(sp, 0, sizeof *sp);
}

void exp_spec_free(struct exp_spec *sp) {
  if (!sp) return;
  exp_spec_release(sp);
  free(sp);
}

void exp_spec_set_program(struct exp_spec *sp, const char *file, const char *interpreter) {
  json_object_set_new(sp->doc, "program",
                      json_pack("{s:s,s:o}", "file", file, "interpreter",
                                interpreter ? json_string(interpreter) : json_null()));
  json_t *p = json_object_get(sp->doc, "program");
  sp->program = json_string_value(json_object_get(p, "file"));
  sp->interpreter = json_string_value(json_object_get(p, "interpreter"));
}

int exp_spec_parse(const json_t *body, bool stored, struct exp_spec *sp, struct optimizer **opt, oast_err *e) {
  static const char *const allowed[] = {"name", "description", "command", "files", "resources_paths", "searchspace",
                                        "optimizer", "num_trials", "parallelism", "direction", "metric",
                                        "early_stopping", "resources", "timeout_s", "seed", "env", NULL};
  static const char *const allowed_stored[] = {"name", "description", "command", "resources_paths", "searchspace",
                                               "optimizer", "num_trials", "parallelism", "direction", "metric",
                                               "early_stopping", "resources", "timeout_s", "seed", "env", "program",
                                               NULL};
  memset(sp, 0, sizeof *sp);
  if (opt) *opt = NULL;
  if (!json_is_object(body)) return oast_err_set(e, OAST_EBAD_REQUEST, "the experiment must be a JSON object");
  json_t *d = json_deep_copy(body);
  sp->doc = d;
  json_object_del(d, "files");
  int rc;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)body, k, v) {
    bool ok = false;
    for (const char *const *a = stored ? allowed_stored : allowed; *a; a++) ok |= !strcmp(*a, k);
    if (!ok) {
      rc = oast_err_set(e, OAST_EBAD_REQUEST, "%.64s: unknown field", k);
      goto fail;
    }
  }

  /* name, description */
  v = json_object_get(d, "name");
  if (!v || json_is_null(v)) {
    rc = bad(e, "%s: %s", "name", "required field is missing");
    goto fail;
  }
  if ((rc = check_text(v, "name", NAME_MAX_LEN, true, e))) goto fail;
  if (!name_valid(json_string_value(v))) {
    rc = bad(e, "%s: %s", "name",
             "must start with a letter and hold only letters, digits and underscores (at most 63)");
    goto fail;
  }
  sp->name = json_string_value(v);
  v = json_object_get(d, "description");
  if (!v || json_is_null(v)) json_object_set_new(d, "description", json_string(""));
  else if ((rc = check_text(v, "description", DESCRIPTION_MAX, false, e)))
    goto fail;
  sp->description = json_string_value(json_object_get(d, "description"));

  /* what runs */
  if ((rc = parse_command(json_object_get(d, "command"), e))) goto fail;
  sp->command = json_object_get(d, "command");
  if ((rc = parse_env(json_object_get(d, "env"), e))) goto fail;
  sp->env = json_object_get(d, "env");
  if (json_is_null(sp->env)) sp->env = NULL;
  if ((rc = parse_paths(json_object_get(d, "resources_paths"), e))) goto fail;
  if ((rc = parse_resources(json_object_get(d, "resources"), sp, e))) goto fail;
  v = json_object_get(d, "timeout_s");
  if (v && !json_is_null(v)) {
    if (!json_is_number(v) || !(json_number_value(v) > 0) || json_number_value(v) > EXP_MAX_TIMEOUT_S) {
      rc = oast_err_set(e, OAST_EBAD_REQUEST, "timeout_s: must be a number of seconds above 0 and at most %.0f",
                        EXP_MAX_TIMEOUT_S);
      goto fail;
    }
    sp->timeout_s = json_number_value(v);
  }

  /* how many, how fast, what counts */
  int64_t par = 1, num = 0, seed = -1;
  if ((rc = int_field(d, "parallelism", 1, EXP_MAX_PARALLELISM, &par, e)) ||
      (rc = int_field(d, "num_trials", 1, OPT_MAX_TRIALS, &num, e)) ||
      (rc = int_field(d, "seed", 0, SEED_LIMIT - 1, &seed, e)))
    goto fail;
  sp->parallelism = (int)par;
  sp->num_trials = num;
  json_object_set_new(d, "parallelism", json_integer(par));
  if (seed < 0) {
    uint64_t r = 0;
    crypto_random(&r, sizeof r);
    seed = (int64_t)(r & (uint64_t)(SEED_LIMIT - 1));
    json_object_set_new(d, "seed", json_integer(seed));
  }
  sp->seed = (uint64_t)seed;
  v = json_object_get(d, "direction");
  if (!v || json_is_null(v)) json_object_set_new(d, "direction", json_string("max"));
  else if (!json_is_string(v) || (rc = opt_direction_parse(json_string_value(v), &sp->dir, e))) {
    rc = bad(e, "%s: %s", "direction", "must be \"max\" or \"min\"");
    goto fail;
  }
  opt_direction_parse(json_string_value(json_object_get(d, "direction")), &sp->dir, NULL);
  v = json_object_get(d, "metric");
  if (!v || json_is_null(v)) json_object_set_new(d, "metric", json_string("metric"));
  else if ((rc = check_text(v, "metric", METRIC_MAX, true, e)))
    goto fail;
  sp->metric = json_string_value(json_object_get(d, "metric"));

  /* the search */
  v = json_object_get(d, "optimizer");
  if (!v || json_is_null(v)) json_object_set_new(d, "optimizer", json_pack("{s:s}", "name", "single"));
  else if (json_is_string(v))
    json_object_set_new(d, "optimizer", json_pack("{s:s}", "name", json_string_value(v)));
  sp->optimizer = json_object_get(d, "optimizer");
  sp->searchspace = json_object_get(d, "searchspace");
  sp->early_stopping = json_object_get(d, "early_stopping");
  if (json_is_null(sp->early_stopping)) sp->early_stopping = NULL;
  if ((rc = ss_parse(sp->searchspace, &sp->ss, e))) goto fail;
  struct optimizer *o = NULL;
  if ((rc = opt_create(sp->optimizer, sp->early_stopping, &sp->ss, sp->num_trials, sp->dir, sp->seed, &o, e)))
    goto fail;
  if (opt) *opt = o;
  else opt_free(o);

  if (stored) {
    json_t *p = json_object_get(d, "program");
    if (json_is_object(p)) {
      sp->program = json_string_value(json_object_get(p, "file"));
      sp->interpreter = json_string_value(json_object_get(p, "interpreter"));
    }
  }
  return 0;
fail:
  exp_spec_release(sp);
  return rc;
}
