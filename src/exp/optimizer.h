/*
 * optimizer.h — the one interface of every hyperparameter optimizer.
 *
 * An optimizer proposes trials and learns from their results. The
 * experiment scheduler drives it with three calls and never waits for a
 * whole "stage": it asks opt_next whenever it has a free slot, forwards
 * every intermediate report to opt_report (which may answer "stop this
 * trial"), and calls opt_finished when a trial's process ends. Everything
 * here is pure and deterministic: no clock, no I/O, no threads; the same
 * spec, seed and sequence of calls always give the same trials. An
 * optimizer is not thread-safe; the scheduler thread owns it.
 *
 * Optimizers ("optimizer": {"name": ..., params}) and what num_trials means:
 *
 *   single                  {"params"?: {..}} — one trial. Its params are
 *                           "params" when given (any JSON object), else the
 *                           search space's center (ss_center). num_trials
 *                           is ignored.
 *   grid                    {} — every point of the grid (searchspace.h
 *                           says what a grid is), in cartesian order.
 *                           num_trials is ignored; at most OPT_MAX_TRIALS
 *                           points.
 *   random                  {} — num_trials random points (log scales
 *                           honoured, integers integral), never the same
 *                           point twice. In a finite space smaller than
 *                           num_trials it ends when every point was tried.
 *   differential_evolution  {"population": 10 (4..1000), "generations"?,
 *                           "mutation": 0.5 (F, in (0, 2]), "crossover":
 *                           0.7 (CR, in [0, 1])} — DE/rand/1/bin in the unit
 *                           cube of ss_from_unit, coordinates clipped to
 *                           [0, 1] so every trial is within bounds; list
 *                           parameters are positions in their value list.
 *                           Generation 0 is `population` random points;
 *                           each later generation gives every population
 *                           slot one challenger v = a + F (b - c) crossed
 *                           with the slot's member, which replaces the
 *                           member if its metric is at least as good.
 *                           Asynchronous: a slot's next challenger is made
 *                           as soon as its previous one has finished (the
 *                           slot with the fewest generations first), with
 *                           donors a, b, c drawn from the members of other
 *                           slots that have a result. Trials in all:
 *                           population x generations; without
 *                           "generations" it is ceil(num_trials /
 *                           population).
 *   asha                    {"reduction_factor": 2 (eta, 2..100),
 *                           "min_resource": 1, "max_resource" (required)}
 *                           — asynchronous successive halving (Li et al.,
 *                           "A System for Massively Parallel Hyperparameter
 *                           Tuning", 2020, Algorithm 2). Rung k has budget
 *                           min_resource * eta^k, the top rung K (the
 *                           largest k with min_resource * eta^k <=
 *                           max_resource) has max_resource. The budget is
 *                           passed to the trial as params "budget" (a JSON
 *                           integer when integral) and in the suggestion.
 *                           On each opt_next, from the highest rung down, a
 *                           finished configuration in the top
 *                           floor(n_k / eta) of rung k (n_k: finished trials
 *                           of rung k, failed ones counting as worst) that
 *                           was not yet promoted is promoted: a new trial
 *                           with the same params at rung k + 1, parent the
 *                           trial it continues (as in the paper, a
 *                           promotion stands even if the trial later drops
 *                           out of the top, so a rung may receive a few
 *                           more than n_k / eta). Otherwise a new random
 *                           configuration starts at rung 0, until
 *                           num_trials configurations were sampled. Then
 *                           it waits for running trials; when none runs,
 *                           nothing is promotable and no trial has yet
 *                           finished at max_resource, the best unpromoted
 *                           configuration of the highest rung below the top
 *                           is promoted, so every experiment ends with a
 *                           trial at max_resource. A search-space parameter
 *                           may not be called "budget".
 *   ablation                {"features"?: [names], "components"?: [names],
 *                           "params"?: {..}} — leave-one-component-out
 *                           (LOCO, as in maggy): trial 0 is the base with
 *                           everything; then one trial per feature, then
 *                           one per component, each leaving that one out.
 *                           Params are "params" (or the space's center)
 *                           plus "ablated_feature" and "ablated_component",
 *                           the name left out or null. At least one name in
 *                           all; names are non-empty strings, unique within
 *                           their list. num_trials is ignored.
 *
 * Early stopping ("early_stopping": {"policy": "median" | "none",
 * "min_trials": 10, "interval": 1}) is maggy's median stopping rule, with
 * steps counted as reports: when a running trial makes its s-th report
 * (s = 1, 2, ...), s is a multiple of `interval` and at least `min_trials`
 * trials have finished (normally or early-stopped, not failed), take every
 * such finished trial with at least s reports, average its first s
 * reports, and take the median of those averages (the mean of the middle
 * two for an even count). The trial is stopped when its best report so far
 * (max or min per direction) is strictly worse than that median. No
 * finished trial with s reports means no decision. The "step" number of a
 * report is not used for alignment, so trials that report irregular step
 * numbers are compared by report count as maggy does. A finished trial
 * whose first s reports hold a NaN or infinity is left out of the median.
 * "median" cannot be combined with asha, which stops trials itself.
 *
 * Trial ids are 0, 1, 2, ... in the order opt_next first hands trials out;
 * the scheduler can use them as the experiment's trial numbers.
 *
 * Results: a failed trial has no metric and ranks below every trial with
 * one (so does a metric that is NaN). A trial that ends (normally or
 * early-stopped) without a final metric (NaN) takes its last report as
 * its metric.
 *
 * Restart: opt_save returns the whole state as JSON; it changes only in
 * opt_next and opt_finished, so saving after those calls is enough (reports
 * of running trials are not saved). opt_restore rebuilds the optimizer from
 * the same spec and seed plus that state: finished trials are kept, trials
 * that were running are handed out again by opt_next, first, with the same
 * id and params and `rerun` set (their reports start over). If the
 * scheduler knows one of those finished after the state was saved, it may
 * call opt_finished on it instead, before or after it is handed out.
 *
 * Errors: every bad spec is a 400 whose message names the field
 * (`optimizer.population: 2 is out of range (4 to 1000)`, `num_trials: ...`,
 * `early_stopping.interval: ...`, `searchspace.lr: ...`). Misuse by the
 * scheduler (unknown trial, trial not running) is 404 or 409.
 */
#ifndef EXP_OPTIMIZER_H
#define EXP_OPTIMIZER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "exp/searchspace.h"
#include "oast/error.h"

#define OPT_MAX_TRIALS 10000      /* trials of one experiment (asha: configurations) */
#define OPT_MAX_NAMES 1000        /* ablation features or components */
#define OPT_MAX_REPORTS 100000    /* intermediate reports kept per trial */

enum opt_direction { OPT_MAXIMIZE, OPT_MINIMIZE };

/* "max" or "min"; a 400 naming `direction` otherwise. */
int opt_direction_parse(const char *s, enum opt_direction *out, oast_err *e);

enum opt_next_status {
  OPT_TRIAL, /* *out holds a trial to start now */
  OPT_WAIT,  /* nothing to start until a running trial finishes; ask again after opt_finished */
  OPT_DONE,  /* no trial will ever be proposed again; the experiment ends when running trials end */
};

enum opt_outcome {
  OPT_OK,            /* ended normally with its final metric (NaN if it gave none) */
  OPT_EARLY_STOPPED, /* ended because opt_report said stop */
  OPT_FAILED,        /* crashed, timed out or was lost; metric ignored */
};

struct trial_suggestion {
  int id;         /* the trial's number: 0, 1, 2, ... */
  json_t *params; /* the hyperparameters (incl. "budget" / "ablated_*"); the caller owns this copy */
  double budget;  /* asha: the resource for this trial; 0 otherwise */
  int rung;       /* asha: the rung; 0 otherwise */
  int parent;     /* asha: the trial this one continues; DE: the member it challenges; -1 none */
  bool rerun;     /* handed out again after opt_restore (it was running when saved) */
};

/* Releases the params of a suggestion (safe on a zeroed one). */
void opt_suggestion_release(struct trial_suggestion *s);

struct optimizer;

/*
 * Validates the spec and creates an optimizer. `optimizer` is the
 * "optimizer" object (required), `early_stopping` the "early_stopping"
 * object or NULL, ss the parsed search space (borrowed: it must outlive
 * the optimizer), num_trials as each optimizer defines it (<= 0 when not
 * given). The specs are only read during the call. *out is owned by the
 * caller (opt_free).
 */
int opt_create(const json_t *optimizer, const json_t *early_stopping, const struct searchspace *ss,
               int64_t num_trials, enum opt_direction direction, uint64_t seed, struct optimizer **out,
               oast_err *e);
/* As opt_create, then loads `state` (from opt_save). The spec, ss,
 * num_trials, direction and seed must be the ones the state was made with;
 * a state that does not fit them is refused (OAST_EINTERNAL). */
int opt_restore(const json_t *optimizer, const json_t *early_stopping, const struct searchspace *ss,
                int64_t num_trials, enum opt_direction direction, uint64_t seed, const json_t *state,
                struct optimizer **out, oast_err *e);
void opt_free(struct optimizer *o);

/* The next trial to start, or OPT_WAIT / OPT_DONE (then *out is zeroed).
 * A suggested trial counts as running until opt_finished. */
enum opt_next_status opt_next(struct optimizer *o, struct trial_suggestion *out);

/* An intermediate result of a running trial; *stop says whether the
 * early-stopping rule stops it (and stays true for its later reports).
 * 404 for an unknown trial, 409 if it is not running, 400 for step < 0,
 * 413 past OPT_MAX_REPORTS reports. */
int opt_report(struct optimizer *o, int trial_id, int64_t step, double metric, bool *stop, oast_err *e);

/* A trial ended. Accepted for running trials and for trials awaiting a
 * rerun after opt_restore; 404 unknown, 409 already finished. */
int opt_finished(struct optimizer *o, int trial_id, enum opt_outcome outcome, double metric, oast_err *e);

/*
 * The state as a new JSON object (caller owns):
 *   {"format": 1, "optimizer": name, "seed": "<16 hex>", "rng": "<16 hex>",
 *    "trials": [{"id", "params", "state": "running" | "finished" |
 *      "early_stopped" | "failed", "metric": number | null, "history": [..]
 *      (finished trials), "budget"?, "rung"?, "parent"?, "slot"?, "unit"?}],
 *    "extra"?: optimizer-specific}
 * The "trials" array is also the optimizer's view of the experiment.
 */
json_t *opt_save(const struct optimizer *o);

/*
 * The state in pieces, for a scheduler that persists it incrementally:
 * opt_save is opt_save_head plus "trials", the array of every
 * opt_save_trial in id order. After opt_next only the head and the
 * suggested trial's record change; after opt_report nothing that is
 * saved; after opt_finished the head and that trial's record. So storing
 * the head and one record per decision keeps a stored copy equal to
 * opt_save, and opt_restore accepts the pieces put back together. Both
 * return a new reference (caller owns); opt_save_trial gives NULL for an
 * unknown id.
 */
json_t *opt_save_head(const struct optimizer *o);
json_t *opt_save_trial(const struct optimizer *o, int id);

/* The best finished trial's id (and its metric into *metric), or -1 if no
 * trial has a metric yet. For asha only trials of the highest rung that
 * has a metric compete, since budgets differ between rungs. */
int opt_best(const struct optimizer *o, double *metric);

/* The optimizer's name ("random", ...), static. */
const char *opt_name(const struct optimizer *o);
/* Trials handed out so far (the next new id), and those running or awaiting a rerun. */
int opt_trial_count(const struct optimizer *o);
int opt_running_count(const struct optimizer *o);

#endif
