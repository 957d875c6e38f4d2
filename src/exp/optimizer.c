/*
 * optimizer.c — the part every optimizer shares (see optimizer.h for the
 * contract and opt_impl.h for the implementation interface).
 *
 * The trial table is the heart of it: one record per trial ever handed
 * out, indexed by id, holding params, state, reports and result. Keeping
 * it here, not in each optimizer, means early stopping, rerun after a
 * restart, "best trial" and the saved state work the same for all of them,
 * and an implementation only decides what to propose next. Saving the
 * state (rather than replaying calls) makes restart independent of the
 * order in which the scheduler happened to see events before a crash.
 */
#include "exp/optimizer.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp/field.h"
#include "exp/opt_impl.h"
#include "util/alloc.h"

#define STATE_FORMAT 1
#define DRAW_ATTEMPTS 100

static const struct opt_vtable *const all_vts[] = {&opt_single_vt, &opt_grid_vt, &opt_random_vt,
                                                   &opt_de_vt,     &opt_asha_vt, &opt_ablation_vt};

int opt_direction_parse(const char *s, enum opt_direction *out, oast_err *e) {
  if (s && strcmp(s, "max") == 0) {
    *out = OPT_MAXIMIZE;
  } else if (s && strcmp(s, "min") == 0) {
    *out = OPT_MINIMIZE;
  } else {
    return oast_err_set(e, OAST_EBAD_REQUEST, "direction: must be \"max\" or \"min\"");
  }
  return 0;
}

void opt_suggestion_release(struct trial_suggestion *s) {
  if (!s) return;
  json_decref(s->params);
  s->params = NULL;
}

/* ---- duplicate detection ---- */

static uint64_t hash_str(const char *s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
  return h;
}

/* The slot of key k in the set: where it is, or the empty slot where it would go. */
static size_t key_slot(const struct optimizer *o, const char *k) {
  size_t mask = o->capkeys - 1, i = (size_t)hash_str(k) & mask;
  while (o->keys[i] && strcmp(o->keys[i], k) != 0) i = (i + 1) & mask;
  return i;
}

/* Adds k (taking it) unless present; returns whether it was added. */
static bool key_add(struct optimizer *o, char *k) {
  if (2 * (o->nkeys + 1) > o->capkeys) {
    char **old = o->keys;
    size_t oldcap = o->capkeys;
    o->capkeys = oldcap ? 2 * oldcap : 64;
    o->keys = xcalloc(o->capkeys, sizeof *o->keys);
    for (size_t i = 0; i < oldcap; i++)
      if (old[i]) o->keys[key_slot(o, old[i])] = old[i];
    free(old);
  }
  size_t i = key_slot(o, k);
  if (o->keys[i]) {
    free(k);
    return false;
  }
  o->keys[i] = k;
  o->nkeys++;
  return true;
}

static char *canonical(const json_t *params) { return json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS); }

void opt_mark_drawn(struct optimizer *o, const json_t *params) { key_add(o, canonical(params)); }

json_t *opt_draw_unique(struct optimizer *o) {
  uint64_t n = ss_enum_size(o->ss);
  if (n > 0 && o->nkeys >= n) return NULL;
  for (int attempt = 0; attempt < DRAW_ATTEMPTS; attempt++) {
    json_t *p = ss_sample(o->ss, &o->rng);
    if (key_add(o, canonical(p))) return p;
    json_decref(p);
  }
  /* Rejection keeps failing: in a finite space, pick uniformly among the
   * points not drawn yet; an unbounded space cannot really get here. */
  if (n == 0) return NULL;
  uint64_t r = exp_rng_below(&o->rng, n - o->nkeys);
  for (uint64_t i = 0; i < n; i++) {
    json_t *p = ss_enum_point(o->ss, i);
    char *k = canonical(p);
    bool seen = o->keys[key_slot(o, k)] != NULL;
    if (!seen && r-- == 0) {
      key_add(o, k);
      return p;
    }
    free(k);
    json_decref(p);
  }
  return NULL;
}

/* ---- trials ---- */

struct opt_trial *opt_add_trial(struct optimizer *o, json_t *params, int parent) {
  if (o->ntrials == o->cap) {
    o->cap = o->cap ? 2 * o->cap : 16;
    o->trials = xreallocarray(o->trials, o->cap, sizeof *o->trials);
  }
  struct opt_trial *t = &o->trials[o->ntrials];
  memset(t, 0, sizeof *t);
  t->id = (int)o->ntrials++;
  t->params = params;
  t->state = TS_RUNNING;
  t->metric = NAN;
  t->parent = parent;
  t->child = -1;
  t->slot = -1;
  return t;
}

int opt_active(const struct optimizer *o) {
  int n = 0;
  for (size_t i = 0; i < o->ntrials; i++) n += o->trials[i].state == TS_RUNNING || o->trials[i].state == TS_QUEUED;
  return n;
}

bool opt_better(const struct optimizer *o, double a, double b) {
  if (isnan(a)) return false;
  if (isnan(b)) return true;
  return o->dir == OPT_MAXIMIZE ? a > b : a < b;
}

int opt_base_params(const struct optimizer *o, const json_t *spec, json_t **out, oast_err *e) {
  json_t *p = json_object_get(spec, "params");
  if (p && !json_is_null(p)) {
    if (!json_is_object(p)) return oast_err_set(e, OAST_EBAD_REQUEST, "optimizer.params: must be an object");
    *out = json_deep_copy(p);
  } else {
    *out = ss_center(o->ss);
  }
  return 0;
}

int opt_reserve_name(const struct optimizer *o, const char *name, oast_err *e) {
  if (ss_find(o->ss, name) >= 0)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "searchspace.%s: this name is reserved by the %s optimizer, which passes it to trials", name,
                        o->vt->name);
  return 0;
}

static void trial_release(struct opt_trial *t) {
  json_decref(t->params);
  free(t->hist);
  free(t->unit);
}

/* ---- lifecycle ---- */

void opt_free(struct optimizer *o) {
  if (!o) return;
  if (o->vt && o->vt->release) o->vt->release(o);
  for (size_t i = 0; i < o->ntrials; i++) trial_release(&o->trials[i]);
  free(o->trials);
  for (size_t i = 0; i < o->capkeys; i++) free(o->keys[i]);
  free(o->keys);
  free(o);
}

static int parse_early_stopping(struct optimizer *o, const json_t *es, oast_err *e) {
  o->es_min_trials = 10;
  o->es_interval = 1;
  if (!es || json_is_null(es)) return 0;
  if (!json_is_object(es)) return oast_err_set(e, OAST_EBAD_REQUEST, "early_stopping: must be an object");
  static const char *const allowed[] = {"policy", "min_trials", "interval", NULL};
  const char *policy = NULL;
  int rc;
  if ((rc = exp_field_only(es, "early_stopping", allowed, e)) ||
      (rc = exp_field_str(es, "early_stopping", "policy", true, &policy, e)) ||
      (rc = exp_field_int(es, "early_stopping", "min_trials", false, 1, OPT_MAX_TRIALS, &o->es_min_trials, e)) ||
      (rc = exp_field_int(es, "early_stopping", "interval", false, 1, 1000000, &o->es_interval, e)))
    return rc;
  if (strcmp(policy, "median") == 0) {
    o->median = true;
  } else if (strcmp(policy, "none") != 0) {
    return oast_err_set(e, OAST_EBAD_REQUEST, "early_stopping.policy: unknown policy \"%s\" (expected median or none)",
                        policy);
  }
  if (o->median && o->vt == &opt_asha_vt)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "early_stopping.policy: median cannot be combined with the asha optimizer, which stops "
                        "trials itself");
  return 0;
}

int opt_create(const json_t *spec, const json_t *early_stopping, const struct searchspace *ss, int64_t num_trials,
               enum opt_direction direction, uint64_t seed, struct optimizer **out, oast_err *e) {
  *out = NULL;
  if (!spec || !json_is_object(spec))
    return oast_err_set(e, OAST_EBAD_REQUEST, "optimizer: must be an object with a \"name\"");
  const char *name = NULL;
  int rc = exp_field_str(spec, "optimizer", "name", true, &name, e);
  if (rc) return rc;
  const struct opt_vtable *vt = NULL;
  for (size_t i = 0; i < sizeof all_vts / sizeof *all_vts; i++)
    if (strcmp(all_vts[i]->name, name) == 0) vt = all_vts[i];
  if (!vt)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "optimizer.name: unknown optimizer \"%s\" (expected single, grid, random, "
                        "differential_evolution, asha or ablation)",
                        name);
  if (vt->needs_space && ss->n == 0)
    return oast_err_set(e, OAST_EBAD_REQUEST, "searchspace: the %s optimizer needs at least one parameter", name);
  if (num_trials > OPT_MAX_TRIALS)
    return oast_err_set(e, OAST_EBAD_REQUEST, "num_trials: %lld is more than %d", (long long)num_trials,
                        OPT_MAX_TRIALS);
  struct optimizer *o = xcalloc(1, sizeof *o);
  o->vt = vt;
  o->ss = ss;
  o->dir = direction;
  o->num_trials = num_trials;
  o->seed = seed;
  exp_rng_seed(&o->rng, seed);
  if ((rc = parse_early_stopping(o, early_stopping, e)) || (rc = vt->init(o, spec, e))) {
    opt_free(o);
    return rc;
  }
  *out = o;
  return 0;
}

const char *opt_name(const struct optimizer *o) { return o->vt->name; }
int opt_trial_count(const struct optimizer *o) { return (int)o->ntrials; }
int opt_running_count(const struct optimizer *o) { return opt_active(o); }

/* ---- the three calls ---- */

static void suggest(const struct opt_trial *t, bool rerun, struct trial_suggestion *out) {
  out->id = t->id;
  out->params = json_deep_copy(t->params);
  out->budget = t->budget;
  out->rung = t->rung;
  out->parent = t->parent;
  out->rerun = rerun;
}

enum opt_next_status opt_next(struct optimizer *o, struct trial_suggestion *out) {
  memset(out, 0, sizeof *out);
  out->parent = -1;
  for (size_t i = 0; o->nqueued && i < o->ntrials; i++) {
    if (o->trials[i].state == TS_QUEUED) {
      o->trials[i].state = TS_RUNNING;
      o->nqueued--;
      suggest(&o->trials[i], true, out);
      return OPT_TRIAL;
    }
  }
  size_t before = o->ntrials;
  enum opt_next_status st = o->vt->next(o);
  if (st != OPT_TRIAL) return st;
  suggest(&o->trials[before], false, out);
  return OPT_TRIAL;
}

static struct opt_trial *find(struct optimizer *o, int id, oast_err *e) {
  if (id < 0 || (size_t)id >= o->ntrials) {
    oast_err_set(e, OAST_ENOT_FOUND, "trial %d does not exist", id);
    return NULL;
  }
  return &o->trials[id];
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Maggy's median rule for trial t after its s-th report (see optimizer.h). */
static bool median_says_stop(const struct optimizer *o, const struct opt_trial *t) {
  size_t s = t->nhist;
  if (s == 0 || s % (size_t)o->es_interval != 0) return false;
  size_t finished = 0;
  for (size_t i = 0; i < o->ntrials; i++)
    finished += o->trials[i].state == TS_FINISHED || o->trials[i].state == TS_EARLY;
  if (finished < (size_t)o->es_min_trials) return false;
  double *avgs = xmalloc(sizeof(double) * finished);
  size_t n = 0;
  for (size_t i = 0; i < o->ntrials; i++) {
    const struct opt_trial *f = &o->trials[i];
    if ((f->state != TS_FINISHED && f->state != TS_EARLY) || f->nhist < s) continue;
    double sum = 0;
    for (size_t k = 0; k < s; k++) sum += f->hist[k];
    if (isfinite(sum)) avgs[n++] = sum / (double)s;
  }
  bool stop = false;
  if (n > 0) {
    qsort(avgs, n, sizeof *avgs, cmp_double);
    double median = n % 2 ? avgs[n / 2] : (avgs[n / 2 - 1] + avgs[n / 2]) / 2;
    double best = NAN;
    for (size_t k = 0; k < s; k++)
      if (opt_better(o, t->hist[k], best)) best = t->hist[k];
    stop = opt_better(o, median, best);
  }
  free(avgs);
  return stop;
}

int opt_report(struct optimizer *o, int trial_id, int64_t step, double metric, bool *stop, oast_err *e) {
  struct opt_trial *t = find(o, trial_id, e);
  *stop = false;
  if (!t) return OAST_ENOT_FOUND;
  if (t->state != TS_RUNNING) return oast_err_set(e, OAST_ECONFLICT, "trial %d is not running", trial_id);
  if (step < 0) return oast_err_set(e, OAST_EBAD_REQUEST, "step: must be >= 0");
  if (t->nhist >= OPT_MAX_REPORTS)
    return oast_err_set(e, OAST_ETOO_LARGE, "trial %d: more than %d reports", trial_id, OPT_MAX_REPORTS);
  if (t->nhist == t->caphist) {
    t->caphist = t->caphist ? 2 * t->caphist : 16;
    t->hist = xreallocarray(t->hist, t->caphist, sizeof *t->hist);
  }
  t->hist[t->nhist++] = metric;
  if (!t->stop && o->median) t->stop = median_says_stop(o, t);
  *stop = t->stop;
  return 0;
}

int opt_finished(struct optimizer *o, int trial_id, enum opt_outcome outcome, double metric, oast_err *e) {
  struct opt_trial *t = find(o, trial_id, e);
  if (!t) return OAST_ENOT_FOUND;
  if (t->state != TS_RUNNING && t->state != TS_QUEUED)
    return oast_err_set(e, OAST_ECONFLICT, "trial %d has already finished", trial_id);
  if (t->state == TS_QUEUED) o->nqueued--;
  if (outcome == OPT_FAILED) {
    t->state = TS_FAILED;
    t->metric = NAN;
  } else {
    t->state = outcome == OPT_EARLY_STOPPED ? TS_EARLY : TS_FINISHED;
    t->metric = isnan(metric) && t->nhist ? t->hist[t->nhist - 1] : metric;
  }
  if (o->vt->finished) o->vt->finished(o, t);
  return 0;
}

int opt_best(const struct optimizer *o, double *metric) {
  int best = -1;
  for (size_t i = 0; i < o->ntrials; i++) {
    const struct opt_trial *t = &o->trials[i];
    if ((t->state != TS_FINISHED && t->state != TS_EARLY) || isnan(t->metric)) continue;
    if (best < 0 || t->rung > o->trials[best].rung ||
        (t->rung == o->trials[best].rung && opt_better(o, t->metric, o->trials[best].metric)))
      best = t->id;
  }
  if (best >= 0 && metric) *metric = o->trials[best].metric;
  return best;
}

/* ---- state ---- */

static const char *const state_names[] = {[TS_RUNNING] = "running",
                                          [TS_QUEUED] = "running",
                                          [TS_FINISHED] = "finished",
                                          [TS_EARLY] = "early_stopped",
                                          [TS_FAILED] = "failed"};

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *hex64(uint64_t v) {
  char b[17];
  snprintf(b, sizeof b, "%016" PRIx64, v);
  return json_string(b);
}

static json_t *trial_json(const struct optimizer *o, const struct opt_trial *t) {
  json_t *j = json_pack("{s:i, s:O, s:s, s:o}", "id", t->id, "params", t->params, "state", state_names[t->state],
                        "metric", num_or_null(t->metric));
  if (t->state == TS_FINISHED || t->state == TS_EARLY) {
    json_t *h = json_array();
    for (size_t k = 0; k < t->nhist; k++) json_array_append_new(h, num_or_null(t->hist[k]));
    json_object_set_new(j, "history", h);
  }
  if (t->budget > 0) json_object_set_new(j, "budget", json_real(t->budget));
  if (t->rung > 0) json_object_set_new(j, "rung", json_integer(t->rung));
  if (t->parent >= 0) json_object_set_new(j, "parent", json_integer(t->parent));
  if (t->slot >= 0) json_object_set_new(j, "slot", json_integer(t->slot));
  if (t->unit) {
    json_t *u = json_array();
    for (size_t k = 0; k < o->ss->n; k++) json_array_append_new(u, json_real(t->unit[k]));
    json_object_set_new(j, "unit", u);
  }
  return j;
}

json_t *opt_save_head(const struct optimizer *o) {
  json_t *s = json_pack("{s:i, s:s, s:o, s:o}", "format", STATE_FORMAT, "optimizer", o->vt->name, "seed",
                        hex64(o->seed), "rng", hex64(o->rng.s));
  if (o->vt->save) json_object_set_new(s, "extra", o->vt->save(o));
  return s;
}

json_t *opt_save_trial(const struct optimizer *o, int id) {
  if (id < 0 || (size_t)id >= o->ntrials) return NULL;
  return trial_json(o, &o->trials[id]);
}

json_t *opt_save(const struct optimizer *o) {
  json_t *trials = json_array();
  for (size_t i = 0; i < o->ntrials; i++) json_array_append_new(trials, trial_json(o, &o->trials[i]));
  json_t *s = opt_save_head(o);
  json_object_set_new(s, "trials", trials);
  return s;
}

#define DAMAGED(e, ...) oast_err_set(e, OAST_EINTERNAL, "optimizer state: " __VA_ARGS__)

static int read_hex64(const json_t *s, const char *field, uint64_t *out, oast_err *e) {
  const char *v = json_string_value(json_object_get(s, field));
  char *end;
  if (!v || strlen(v) != 16) return DAMAGED(e, "%s: must be 16 hex digits", field);
  *out = strtoull(v, &end, 16);
  if (*end) return DAMAGED(e, "%s: must be 16 hex digits", field);
  return 0;
}

static int read_numbers(const json_t *a, const char *what, size_t i, double **out, size_t *n, oast_err *e) {
  if (!json_is_array(a)) return DAMAGED(e, "trials[%zu].%s: must be an array", i, what);
  *n = json_array_size(a);
  *out = xmalloc(sizeof(double) * (*n ? *n : 1));
  for (size_t k = 0; k < *n; k++) {
    json_t *v = json_array_get(a, k);
    if (!json_is_number(v) && !json_is_null(v)) return DAMAGED(e, "trials[%zu].%s[%zu]: must be a number", i, what, k);
    (*out)[k] = json_is_number(v) ? json_number_value(v) : NAN;
  }
  return 0;
}

static int load_trial(struct optimizer *o, const json_t *j, size_t i, oast_err *e) {
  json_t *params = json_object_get(j, "params");
  if (!json_is_object(j) || json_integer_value(json_object_get(j, "id")) != (json_int_t)i)
    return DAMAGED(e, "trials[%zu]: must be an object with \"id\": %zu", i, i);
  if (!json_is_object(params)) return DAMAGED(e, "trials[%zu].params: must be an object", i);
  json_t *parent = json_object_get(j, "parent"), *slot = json_object_get(j, "slot");
  int p = parent ? (int)json_integer_value(parent) : -1;
  if (parent && (!json_is_integer(parent) || p < 0 || (size_t)p >= i))
    return DAMAGED(e, "trials[%zu].parent: must be an earlier trial", i);
  struct opt_trial *t = opt_add_trial(o, json_deep_copy(params), p);
  const char *st = json_string_value(json_object_get(j, "state"));
  if (!st) st = "";
  if (strcmp(st, "running") == 0) {
    t->state = TS_QUEUED;
    o->nqueued++;
  } else if (strcmp(st, "finished") == 0) {
    t->state = TS_FINISHED;
  } else if (strcmp(st, "early_stopped") == 0) {
    t->state = TS_EARLY;
  } else if (strcmp(st, "failed") == 0) {
    t->state = TS_FAILED;
  } else {
    return DAMAGED(e, "trials[%zu].state: unknown state \"%s\"", i, st);
  }
  json_t *m = json_object_get(j, "metric");
  if (m && !json_is_null(m) && !json_is_number(m)) return DAMAGED(e, "trials[%zu].metric: must be a number", i);
  t->metric = json_is_number(m) ? json_number_value(m) : NAN;
  json_t *h = json_object_get(j, "history");
  int rc;
  if (h && t->state != TS_QUEUED) {
    if ((rc = read_numbers(h, "history", i, &t->hist, &t->nhist, e))) return rc;
    t->caphist = t->nhist;
  }
  json_t *u = json_object_get(j, "unit");
  if (u) {
    size_t n;
    if ((rc = read_numbers(u, "unit", i, &t->unit, &n, e))) return rc;
    if (n != o->ss->n) return DAMAGED(e, "trials[%zu].unit: must have %zu coordinates", i, o->ss->n);
  }
  json_t *b = json_object_get(j, "budget"), *r = json_object_get(j, "rung");
  if ((b && !json_is_number(b)) || (r && (!json_is_integer(r) || json_integer_value(r) < 0)) ||
      (slot && (!json_is_integer(slot) || json_integer_value(slot) < 0)))
    return DAMAGED(e, "trials[%zu]: budget, rung and slot must be non-negative numbers", i);
  t->budget = b ? json_number_value(b) : 0;
  t->rung = r ? (int)json_integer_value(r) : 0;
  t->slot = slot ? (int)json_integer_value(slot) : -1;
  if (p >= 0) o->trials[p].child = t->id;
  return 0;
}

int opt_restore(const json_t *spec, const json_t *early_stopping, const struct searchspace *ss, int64_t num_trials,
                enum opt_direction direction, uint64_t seed, const json_t *state, struct optimizer **out,
                oast_err *e) {
  struct optimizer *o;
  int rc = opt_create(spec, early_stopping, ss, num_trials, direction, seed, &o, e);
  if (rc) return rc;
  uint64_t saved_seed = 0;
  json_t *trials = json_object_get(state, "trials");
  const char *name = json_string_value(json_object_get(state, "optimizer"));
  if (!json_is_object(state) || json_integer_value(json_object_get(state, "format")) != STATE_FORMAT) {
    rc = DAMAGED(e, "not a format %d optimizer state", STATE_FORMAT);
  } else if (!name || strcmp(name, o->vt->name) != 0) {
    rc = DAMAGED(e, "made by optimizer \"%s\", not \"%s\"", name ? name : "", o->vt->name);
  } else if ((rc = read_hex64(state, "seed", &saved_seed, e)) || (rc = read_hex64(state, "rng", &o->rng.s, e))) {
  } else if (saved_seed != seed) {
    rc = DAMAGED(e, "made with another seed");
  } else if (!json_is_array(trials) || json_array_size(trials) > 4 * (size_t)OPT_MAX_TRIALS) {
    rc = DAMAGED(e, "trials: must be an array of at most %d trials", 4 * OPT_MAX_TRIALS);
  }
  for (size_t i = 0; !rc && i < json_array_size(trials); i++) rc = load_trial(o, json_array_get(trials, i), i, e);
  if (!rc && o->vt->restore) rc = o->vt->restore(o, json_object_get(state, "extra"), e);
  if (rc) {
    opt_free(o);
    return rc;
  }
  *out = o;
  return 0;
}
