/*
 * opt_asha.c — asynchronous successive halving (Li et al. 2020,
 * Algorithm 2; see optimizer.h for the rules as Oast applies them).
 *
 * Rung membership, promotions and the number of configurations sampled
 * are all read off the trial table (a trial's rung, its parent and child
 * links), so ASHA keeps no state of its own beyond its settings and a
 * restored optimizer continues exactly where the saved one stood. Rungs
 * are small enough (trials of one experiment) that recomputing the top
 * of a rung on each call costs nothing that matters next to running a
 * trial.
 */
#define _GNU_SOURCE /* qsort_r */
#include <math.h>
#include <stdlib.h>

#include "exp/field.h"
#include "exp/opt_impl.h"
#include "util/alloc.h"

#define MAX_RUNGS 32

struct asha {
  int64_t eta;
  double rmin, rmax;
  int top;                  /* index of the top rung, K */
  double budget[MAX_RUNGS]; /* budget of each rung */
};

static int asha_init(struct optimizer *o, const json_t *spec, oast_err *e) {
  static const char *const allowed[] = {"name", "reduction_factor", "min_resource", "max_resource", NULL};
  struct asha *a = xcalloc(1, sizeof *a);
  o->impl = a;
  a->eta = 2;
  a->rmin = 1;
  int rc;
  char b1[32], b2[32];
  if ((rc = exp_field_only(spec, "optimizer", allowed, e)) ||
      (rc = exp_field_int(spec, "optimizer", "reduction_factor", false, 2, 100, &a->eta, e)) ||
      (rc = exp_field_num(spec, "optimizer", "min_resource", false, &a->rmin, e)) ||
      (rc = exp_field_num(spec, "optimizer", "max_resource", true, &a->rmax, e)) ||
      (rc = opt_reserve_name(o, "budget", e)))
    return rc;
  if (!(a->rmin > 0)) return oast_err_set(e, OAST_EBAD_REQUEST, "optimizer.min_resource: must be greater than 0");
  if (a->rmin > a->rmax)
    return oast_err_set(e, OAST_EBAD_REQUEST, "optimizer.min_resource: min_resource (%s) is greater than max_resource (%s)",
                        exp_num_str(a->rmin, b1), exp_num_str(a->rmax, b2));
  if (o->num_trials < 1)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "num_trials: the asha optimizer needs num_trials (configurations to sample) between 1 and %d",
                        OPT_MAX_TRIALS);
  a->budget[0] = a->rmin;
  double r = a->rmin;
  while (r * (double)a->eta <= a->rmax * (1 + 1e-12)) {
    if (a->top + 1 >= MAX_RUNGS)
      return oast_err_set(e, OAST_EBAD_REQUEST, "optimizer.max_resource: more than %d rungs above min_resource",
                          MAX_RUNGS);
    r *= (double)a->eta;
    a->budget[++a->top] = r;
  }
  a->budget[a->top] = a->rmax;
  return 0;
}

static bool ended(const struct opt_trial *t) {
  return t->state == TS_FINISHED || t->state == TS_EARLY || t->state == TS_FAILED;
}

static int rank_cmp(const void *x, const void *y, void *arg) {
  const struct optimizer *o = arg;
  const struct opt_trial *a = &o->trials[*(const int *)x], *b = &o->trials[*(const int *)y];
  if (opt_better(o, a->metric, b->metric)) return -1;
  if (opt_better(o, b->metric, a->metric)) return 1;
  return a->id - b->id;
}

/* The trial ids of rung k that have ended, best first; returns how many. */
static int rung_ranked(const struct optimizer *o, int k, int *ids) {
  int n = 0;
  for (size_t i = 0; i < o->ntrials; i++)
    if (o->trials[i].rung == k && ended(&o->trials[i])) ids[n++] = (int)i;
  qsort_r(ids, (size_t)n, sizeof *ids, rank_cmp, (void *)o);
  return n;
}

/* The best unpromoted trial with a metric among the first `limit` of rung k, or -1. */
static int candidate(const struct optimizer *o, int k, bool whole_rung) {
  int *ids = xmalloc(sizeof(int) * (o->ntrials ? o->ntrials : 1));
  const struct asha *a = o->impl;
  int n = rung_ranked(o, k, ids), limit = whole_rung ? n : n / (int)a->eta, found = -1;
  for (int i = 0; i < limit && found < 0; i++)
    if (o->trials[ids[i]].child < 0 && !isnan(o->trials[ids[i]].metric)) found = ids[i];
  free(ids);
  return found;
}

static json_t *budget_value(double b) {
  return b == floor(b) && fabs(b) < 9e15 ? json_integer((json_int_t)b) : json_real(b);
}

static void add(struct optimizer *o, json_t *params, int rung, int parent) {
  const struct asha *a = o->impl;
  json_object_set_new(params, "budget", budget_value(a->budget[rung]));
  struct opt_trial *t = opt_add_trial(o, params, parent);
  t->rung = rung;
  t->budget = a->budget[rung];
  if (parent >= 0) o->trials[parent].child = t->id;
}

static void promote(struct optimizer *o, int id) {
  add(o, json_deep_copy(o->trials[id].params), o->trials[id].rung + 1, id);
}

static enum opt_next_status asha_next(struct optimizer *o) {
  const struct asha *a = o->impl;
  for (int k = a->top - 1; k >= 0; k--) {
    int c = candidate(o, k, false);
    if (c >= 0) {
      promote(o, c);
      return OPT_TRIAL;
    }
  }
  int64_t sampled = 0;
  bool at_top = false;
  for (size_t i = 0; i < o->ntrials; i++) {
    sampled += o->trials[i].rung == 0;
    at_top |= o->trials[i].rung == a->top && ended(&o->trials[i]) && !isnan(o->trials[i].metric);
  }
  if (sampled < o->num_trials) {
    json_t *p = opt_draw_unique(o);
    if (p) {
      add(o, p, 0, -1);
      return OPT_TRIAL;
    }
  }
  if (opt_active(o) > 0) return OPT_WAIT;
  if (!at_top) { /* finish: carry the best remaining configuration up to max_resource */
    for (int k = a->top - 1; k >= 0; k--) {
      int c = candidate(o, k, true);
      if (c >= 0) {
        promote(o, c);
        return OPT_TRIAL;
      }
    }
  }
  return OPT_DONE;
}

static int asha_restore(struct optimizer *o, const json_t *extra, oast_err *e) {
  const struct asha *a = o->impl;
  for (size_t i = 0; i < o->ntrials; i++) {
    const struct opt_trial *t = &o->trials[i];
    if (t->rung > a->top || t->budget != a->budget[t->rung] || (t->rung > 0) != (t->parent >= 0) ||
        (t->parent >= 0 && o->trials[t->parent].rung != t->rung - 1))
      return oast_err_set(e, OAST_EINTERNAL, "optimizer state: trials[%zu]: rung, budget or parent do not fit", i);
    if (t->rung == 0) {
      json_t *p = json_deep_copy(t->params);
      json_object_del(p, "budget");
      opt_mark_drawn(o, p);
      json_decref(p);
    }
  }
  return 0;
}

static void asha_release(struct optimizer *o) { free(o->impl); }

const struct opt_vtable opt_asha_vt = {.name = "asha",
                                       .needs_space = true,
                                       .init = asha_init,
                                       .next = asha_next,
                                       .restore = asha_restore,
                                       .release = asha_release};
