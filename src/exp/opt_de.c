/*
 * opt_de.c — asynchronous differential evolution (DE/rand/1/bin, Storn and
 * Price 1997) over the search space's unit cube (see optimizer.h).
 *
 * The population is a set of slots; each slot holds its current member
 * (the best trial it has seen) and at most one challenger in flight. The
 * classic algorithm evaluates a whole generation before the next one
 * starts; here a slot's next challenger is built as soon as its previous
 * one has finished, from the members the other slots have at that moment,
 * so a slow trial never idles the other workers. Picking the slot with the
 * fewest generations first keeps generations close to each other, which
 * keeps the method close to the synchronous one. Working in [0, 1]^n and
 * clipping there makes every trial respect the bounds and lets integers
 * and list parameters evolve as positions in their ranges.
 */
#include <math.h>
#include <stdlib.h>

#include "exp/field.h"
#include "exp/opt_impl.h"
#include "util/alloc.h"

struct slot {
  int member;  /* trial id of the slot's current member, -1 before its first result */
  int gen;     /* generation of the last trial made for this slot, -1 none */
  int pending; /* trial id in flight, -1 none */
};

struct de {
  int64_t pop, gens;
  double f, cr;
  struct slot *slots;
};

static int de_init(struct optimizer *o, const json_t *spec, oast_err *e) {
  static const char *const allowed[] = {"name", "population", "generations", "mutation", "crossover", NULL};
  struct de *d = xcalloc(1, sizeof *d);
  o->impl = d;
  d->pop = 10;
  d->gens = 0;
  d->f = 0.5;
  d->cr = 0.7;
  int rc;
  if ((rc = exp_field_only(spec, "optimizer", allowed, e)) ||
      (rc = exp_field_int(spec, "optimizer", "population", false, 4, 1000, &d->pop, e)) ||
      (rc = exp_field_int(spec, "optimizer", "generations", false, 1, OPT_MAX_TRIALS, &d->gens, e)) ||
      (rc = exp_field_num(spec, "optimizer", "mutation", false, &d->f, e)) ||
      (rc = exp_field_num(spec, "optimizer", "crossover", false, &d->cr, e)))
    return rc;
  if (!(d->f > 0 && d->f <= 2))
    return oast_err_set(e, OAST_EBAD_REQUEST, "optimizer.mutation: must be greater than 0 and at most 2");
  if (!(d->cr >= 0 && d->cr <= 1))
    return oast_err_set(e, OAST_EBAD_REQUEST, "optimizer.crossover: must be between 0 and 1");
  if (d->gens == 0) {
    if (o->num_trials < 1)
      return oast_err_set(e, OAST_EBAD_REQUEST, "optimizer.generations: required unless num_trials is given");
    d->gens = (o->num_trials + d->pop - 1) / d->pop;
  }
  if (d->pop * d->gens > OPT_MAX_TRIALS)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "optimizer.generations: population x generations is %lld, more than %d trials",
                        (long long)(d->pop * d->gens), OPT_MAX_TRIALS);
  d->slots = xmalloc(sizeof *d->slots * (size_t)d->pop);
  for (int64_t i = 0; i < d->pop; i++) d->slots[i] = (struct slot){-1, -1, -1};
  return 0;
}

static void add(struct optimizer *o, int s, double *unit, int parent) {
  struct de *d = o->impl;
  struct opt_trial *t = opt_add_trial(o, ss_from_unit(o->ss, unit), parent);
  t->slot = s;
  t->unit = unit;
  d->slots[s].gen++;
  d->slots[s].pending = t->id;
}

static enum opt_next_status de_next(struct optimizer *o) {
  struct de *d = o->impl;
  size_t n = o->ss->n;
  for (int s = 0; s < d->pop; s++) {
    if (d->slots[s].gen < 0) { /* generation 0: a random point */
      double *u = xmalloc(sizeof(double) * n);
      for (size_t k = 0; k < n; k++) u[k] = exp_rng_unit(&o->rng);
      add(o, s, u, -1);
      return OPT_TRIAL;
    }
  }
  int target = -1;
  bool more = false;
  for (int s = 0; s < d->pop; s++) {
    const struct slot *sl = &d->slots[s];
    if (sl->gen >= d->gens - 1) continue;
    more = true;
    if (sl->pending < 0 && sl->member >= 0 && (target < 0 || sl->gen < d->slots[target].gen)) target = s;
  }
  if (!more) return OPT_DONE;
  if (target < 0) return OPT_WAIT;
  int *donors = xmalloc(sizeof(int) * (size_t)d->pop), nd = 0;
  for (int s = 0; s < d->pop; s++)
    if (s != target && d->slots[s].member >= 0) donors[nd++] = s;
  if (nd < 3) {
    free(donors);
    return OPT_WAIT;
  }
  for (int k = 0; k < 3; k++) { /* three distinct donors: a partial Fisher-Yates shuffle */
    int r = k + (int)exp_rng_below(&o->rng, (uint64_t)(nd - k));
    int tmp = donors[k];
    donors[k] = donors[r];
    donors[r] = tmp;
  }
  const double *a = o->trials[d->slots[donors[0]].member].unit, *b = o->trials[d->slots[donors[1]].member].unit,
               *c = o->trials[d->slots[donors[2]].member].unit;
  const struct opt_trial *x = &o->trials[d->slots[target].member];
  free(donors);
  double *u = xmalloc(sizeof(double) * n);
  size_t jrand = (size_t)exp_rng_below(&o->rng, n);
  for (size_t k = 0; k < n; k++) {
    double v = a[k] + d->f * (b[k] - c[k]);
    u[k] = exp_rng_unit(&o->rng) < d->cr || k == jrand ? v : x->unit[k];
    u[k] = u[k] < 0 ? 0 : u[k] > 1 ? 1 : u[k];
  }
  add(o, target, u, x->id);
  return OPT_TRIAL;
}

static void de_finished(struct optimizer *o, struct opt_trial *t) {
  struct de *d = o->impl;
  struct slot *sl = &d->slots[t->slot];
  if (sl->pending == t->id) sl->pending = -1;
  /* The challenger replaces the member when at least as good (ties move the population). */
  if (sl->member < 0 || (!isnan(t->metric) && !opt_better(o, o->trials[sl->member].metric, t->metric)))
    sl->member = t->id;
}

static json_t *de_save(const struct optimizer *o) {
  const struct de *d = o->impl;
  json_t *slots = json_array();
  for (int64_t s = 0; s < d->pop; s++)
    json_array_append_new(slots, json_pack("[i,i,i]", d->slots[s].member, d->slots[s].gen, d->slots[s].pending));
  return json_pack("{s:o}", "slots", slots);
}

static int de_restore(struct optimizer *o, const json_t *extra, oast_err *e) {
  struct de *d = o->impl;
  json_t *slots = json_object_get(extra, "slots");
  if (!json_is_array(slots) || (int64_t)json_array_size(slots) != d->pop)
    return oast_err_set(e, OAST_EINTERNAL, "optimizer state: extra.slots: must hold %lld slots", (long long)d->pop);
  for (size_t i = 0; i < o->ntrials; i++)
    if (o->trials[i].slot < 0 || o->trials[i].slot >= d->pop || !o->trials[i].unit)
      return oast_err_set(e, OAST_EINTERNAL, "optimizer state: trials[%zu]: needs a slot and a unit point", i);
  for (int64_t s = 0; s < d->pop; s++) {
    json_t *v = json_array_get(slots, (size_t)s);
    json_int_t m = json_integer_value(json_array_get(v, 0)), g = json_integer_value(json_array_get(v, 1)),
               p = json_integer_value(json_array_get(v, 2));
    if (json_array_size(v) != 3 || m < -1 || m >= (json_int_t)o->ntrials || g < -1 || g >= d->gens || p < -1 ||
        p >= (json_int_t)o->ntrials)
      return oast_err_set(e, OAST_EINTERNAL, "optimizer state: extra.slots[%lld]: out of range", (long long)s);
    d->slots[s] = (struct slot){(int)m, (int)g, (int)p};
  }
  return 0;
}

static void de_release(struct optimizer *o) {
  struct de *d = o->impl;
  if (!d) return;
  free(d->slots);
  free(d);
}

const struct opt_vtable opt_de_vt = {.name = "differential_evolution",
                                     .needs_space = true,
                                     .init = de_init,
                                     .next = de_next,
                                     .finished = de_finished,
                                     .save = de_save,
                                     .restore = de_restore,
                                     .release = de_release};
