/*
 * opt_impl.h — what an optimizer implementation sees (internal to src/exp).
 *
 * optimizer.c keeps everything the optimizers share: the trial table, the
 * seeded generator, early stopping, rerun of restored trials and the
 * state's JSON form. An implementation is an opt_vtable: init validates
 * its part of the spec, next appends at most one trial with opt_add_trial,
 * finished learns from a result, and save/restore carry whatever it keeps
 * beyond the trial table. Implementations: opt_search.c (single, grid,
 * random, ablation), opt_de.c, opt_asha.c.
 */
#ifndef EXP_OPT_IMPL_H
#define EXP_OPT_IMPL_H

#include "exp/optimizer.h"
#include "exp/rng.h"

enum trial_state { TS_RUNNING, TS_QUEUED, TS_FINISHED, TS_EARLY, TS_FAILED };

struct opt_trial {
  int id;
  json_t *params;       /* owned */
  enum trial_state state;
  double metric;        /* NaN when none */
  double *hist;         /* reports, in order; owned */
  size_t nhist, caphist;
  bool stop;            /* the early-stopping rule said stop */
  double budget;        /* asha */
  int rung;             /* asha */
  int parent;           /* -1 none */
  int child;            /* asha: the trial promoted from this one, -1 none (derived from parent) */
  int slot;             /* DE: population slot, -1 none */
  double *unit;         /* DE: unit-cube coordinates, ss->n of them; owned */
};

struct opt_vtable {
  const char *name;
  bool needs_space;     /* refuses an empty search space */
  int (*init)(struct optimizer *o, const json_t *spec, oast_err *e);
  enum opt_next_status (*next)(struct optimizer *o);
  void (*finished)(struct optimizer *o, struct opt_trial *t);    /* may be NULL */
  json_t *(*save)(const struct optimizer *o);                    /* may be NULL */
  int (*restore)(struct optimizer *o, const json_t *extra, oast_err *e); /* may be NULL; after trials load */
  void (*release)(struct optimizer *o);                          /* may be NULL */
};

struct optimizer {
  const struct opt_vtable *vt;
  const struct searchspace *ss; /* borrowed */
  enum opt_direction dir;
  int64_t num_trials;
  uint64_t seed;
  int64_t total;                /* single, grid, ablation: the length of their fixed list of trials */
  struct exp_rng rng;
  struct opt_trial *trials;     /* owned; index == id */
  size_t ntrials, cap;
  size_t nqueued;               /* trials in TS_QUEUED (awaiting a rerun after restore) */
  /* early stopping */
  bool median;
  int64_t es_min_trials, es_interval;
  /* duplicate detection for opt_draw_unique: open-addressing set of canonical dumps */
  char **keys;
  size_t nkeys, capkeys;
  void *impl;                   /* the implementation's own state, owned by it */
};

extern const struct opt_vtable opt_single_vt, opt_grid_vt, opt_random_vt, opt_ablation_vt, opt_de_vt,
    opt_asha_vt;

/* Appends a new trial (state running) taking ownership of params; the
 * pointer is valid until the next append. */
struct opt_trial *opt_add_trial(struct optimizer *o, json_t *params, int parent);
/* Trials running or awaiting a rerun. */
int opt_active(const struct optimizer *o);
/* a ranks strictly before b (NaN ranks last). */
bool opt_better(const struct optimizer *o, double a, double b);
/* A random point never drawn before by this function (see random in
 * optimizer.h), or NULL when a finite space is exhausted. */
json_t *opt_draw_unique(struct optimizer *o);
/* Records params as drawn (restore rebuilds the set from the trials). */
void opt_mark_drawn(struct optimizer *o, const json_t *params);
/* The "params" member of spec (a copy) or the search space's center. */
int opt_base_params(const struct optimizer *o, const json_t *spec, json_t **out, oast_err *e);
/* Refuses a search-space parameter with a name the optimizer adds to params. */
int opt_reserve_name(const struct optimizer *o, const char *name, oast_err *e);

#endif
