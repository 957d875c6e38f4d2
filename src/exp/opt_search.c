/*
 * opt_search.c — the optimizers that need no feedback: single, grid,
 * random and ablation (see optimizer.h for what each proposes).
 *
 * None of them learns from results, so their whole state is the trial
 * table the core keeps (and, for random, the generator and the set of
 * points drawn, which restore rebuilds from the trials): trial i of a
 * fixed list is a pure function of i, which is what makes them trivially
 * resumable.
 */
#include <string.h>

#include "exp/field.h"
#include "exp/opt_impl.h"
#include "util/alloc.h"

/* ---- single ---- */

static int single_init(struct optimizer *o, const json_t *spec, oast_err *e) {
  static const char *const allowed[] = {"name", "params", NULL};
  json_t *base;
  int rc = exp_field_only(spec, "optimizer", allowed, e);
  if (rc || (rc = opt_base_params(o, spec, &base, e))) return rc;
  o->impl = base;
  o->total = 1;
  return 0;
}

static enum opt_next_status single_next(struct optimizer *o) {
  if ((int64_t)o->ntrials >= o->total) return OPT_DONE;
  opt_add_trial(o, json_deep_copy(o->impl), -1);
  return OPT_TRIAL;
}

static void single_release(struct optimizer *o) { json_decref(o->impl); }

const struct opt_vtable opt_single_vt = {
    .name = "single", .init = single_init, .next = single_next, .release = single_release};

/* ---- grid ---- */

static int grid_init(struct optimizer *o, const json_t *spec, oast_err *e) {
  static const char *const allowed[] = {"name", NULL};
  uint64_t size;
  int rc = exp_field_only(spec, "optimizer", allowed, e);
  if (rc || (rc = ss_grid_size(o->ss, &size, e))) return rc;
  if (size > OPT_MAX_TRIALS)
    return oast_err_set(e, OAST_EBAD_REQUEST, "searchspace: the grid has %llu points, more than %d trials",
                        (unsigned long long)size, OPT_MAX_TRIALS);
  o->total = (int64_t)size;
  return 0;
}

static enum opt_next_status grid_next(struct optimizer *o) {
  if ((int64_t)o->ntrials >= o->total) return OPT_DONE;
  opt_add_trial(o, ss_grid_point(o->ss, o->ntrials), -1);
  return OPT_TRIAL;
}

const struct opt_vtable opt_grid_vt = {.name = "grid", .needs_space = true, .init = grid_init, .next = grid_next};

/* ---- random ---- */

static int random_init(struct optimizer *o, const json_t *spec, oast_err *e) {
  static const char *const allowed[] = {"name", NULL};
  int rc = exp_field_only(spec, "optimizer", allowed, e);
  if (rc) return rc;
  if (o->num_trials < 1)
    return oast_err_set(e, OAST_EBAD_REQUEST, "num_trials: the random optimizer needs num_trials between 1 and %d",
                        OPT_MAX_TRIALS);
  return 0;
}

static enum opt_next_status random_next(struct optimizer *o) {
  if ((int64_t)o->ntrials >= o->num_trials) return OPT_DONE;
  json_t *p = opt_draw_unique(o);
  if (!p) return OPT_DONE;
  opt_add_trial(o, p, -1);
  return OPT_TRIAL;
}

static int random_restore(struct optimizer *o, const json_t *extra, oast_err *e) {
  for (size_t i = 0; i < o->ntrials; i++) opt_mark_drawn(o, o->trials[i].params);
  return 0;
}

const struct opt_vtable opt_random_vt = {.name = "random",
                                         .needs_space = true,
                                         .init = random_init,
                                         .next = random_next,
                                         .restore = random_restore};

/* ---- ablation (leave one component out) ---- */

struct ablation {
  json_t *base;       /* params every trial starts from */
  json_t *features;   /* array of names */
  json_t *components; /* array of names */
};

static int name_list(const json_t *spec, const char *field, json_t **out, oast_err *e) {
  json_t *a = json_object_get(spec, field);
  *out = json_array();
  if (!a || json_is_null(a)) return 0;
  if (!json_is_array(a)) return oast_err_set(e, OAST_EBAD_REQUEST, "optimizer.%s: must be an array of names", field);
  if (json_array_size(a) > OPT_MAX_NAMES)
    return oast_err_set(e, OAST_EBAD_REQUEST, "optimizer.%s: more than %d names", field, OPT_MAX_NAMES);
  for (size_t i = 0; i < json_array_size(a); i++) {
    json_t *v = json_array_get(a, i);
    if (!json_is_string(v) || json_string_length(v) == 0 || strlen(json_string_value(v)) != json_string_length(v))
      return oast_err_set(e, OAST_EBAD_REQUEST, "optimizer.%s[%zu]: must be a non-empty string", field, i);
    for (size_t k = 0; k < i; k++)
      if (json_equal(v, json_array_get(a, k)))
        return oast_err_set(e, OAST_EBAD_REQUEST, "optimizer.%s[%zu]: repeats %s[%zu]", field, i, field, k);
    json_array_append(*out, v);
  }
  return 0;
}

static int ablation_init(struct optimizer *o, const json_t *spec, oast_err *e) {
  static const char *const allowed[] = {"name", "features", "components", "params", NULL};
  static const char *const reserved[] = {"ablated_feature", "ablated_component"};
  struct ablation *a = xcalloc(1, sizeof *a);
  o->impl = a;
  int rc;
  if ((rc = exp_field_only(spec, "optimizer", allowed, e)) ||
      (rc = name_list(spec, "features", &a->features, e)) ||
      (rc = name_list(spec, "components", &a->components, e)) || (rc = opt_base_params(o, spec, &a->base, e)))
    return rc;
  if (json_array_size(a->features) + json_array_size(a->components) == 0)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "optimizer.features: ablation needs at least one name in \"features\" or \"components\"");
  for (size_t i = 0; i < 2; i++) {
    if ((rc = opt_reserve_name(o, reserved[i], e))) return rc;
    if (json_object_get(a->base, reserved[i]))
      return oast_err_set(e, OAST_EBAD_REQUEST, "optimizer.params.%s: this name is reserved by the ablation optimizer",
                          reserved[i]);
  }
  o->total = 1 + (int64_t)json_array_size(a->features) + (int64_t)json_array_size(a->components);
  return 0;
}

static enum opt_next_status ablation_next(struct optimizer *o) {
  struct ablation *a = o->impl;
  int64_t i = (int64_t)o->ntrials, nf = (int64_t)json_array_size(a->features);
  if (i >= o->total) return OPT_DONE;
  json_t *p = json_deep_copy(a->base);
  json_object_set(p, "ablated_feature", i >= 1 && i <= nf ? json_array_get(a->features, (size_t)(i - 1)) : json_null());
  json_object_set(p, "ablated_component", i > nf ? json_array_get(a->components, (size_t)(i - 1 - nf)) : json_null());
  opt_add_trial(o, p, -1);
  return OPT_TRIAL;
}

static void ablation_release(struct optimizer *o) {
  struct ablation *a = o->impl;
  if (!a) return;
  json_decref(a->base);
  json_decref(a->features);
  json_decref(a->components);
  free(a);
}

const struct opt_vtable opt_ablation_vt = {
    .name = "ablation", .init = ablation_init, .next = ablation_next, .release = ablation_release};
