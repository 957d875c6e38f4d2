/*
 * service.h — the experiment service: experiments and trials as the
 * server runs them (internal to src/exp; the server calls only
 * exp_service_init/free, the router only exp_routes).
 *
 * Three pieces:
 *   spec.c     validates a POST /experiments body into a struct exp_spec
 *              (pure: no files, no database) and gives its stored form;
 *   service.c  the runtime: one struct exp_run per running experiment,
 *              its optimizer, its trials as scheduler tasks, persistence,
 *              resume after a restart, the trial report/final calls and
 *              the combined log;
 *   routes.c   the REST routes, the files an experiment starts with, the
 *              detail and list answers and the log stream.
 *
 * Threads. The optimizer of a run is driven by the scheduler thread (its
 * tick and the trial callbacks) and by HTTP threads (reports, stop), so
 * every run has its own mutex. The service's mutex guards the list of
 * runs, the map from trial ids to runs, reference counts and the log
 * condition variable. Lock order: a run's mutex may be held while taking
 * the service's, never the other way round.
 */
#ifndef EXP_SERVICE_H
#define EXP_SERVICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "exp/distributed.h"
#include "exp/optimizer.h"
#include "exp/searchspace.h"
#include "http/http.h"
#include "oast/error.h"

struct server;

#define EXP_MAX_PARALLELISM 1000
#define EXP_MAX_ARGS 1024          /* command words */
#define EXP_MAX_ARG_LEN 4096       /* bytes of one command word or env value */
#define EXP_MAX_FILES 64           /* "files" entries */
#define EXP_MAX_RESOURCES 64       /* "resources_paths" entries */
#define EXP_MAX_ENV 256            /* "env" entries */
#define EXP_MAX_TIMEOUT_S (30.0 * 24 * 3600)
#define EXP_STOP_GRACE_S 10        /* a trial told to stop is killed after this */
#define EXP_LOG_MAX 65536          /* bytes of one reported log text */

/* A validated experiment definition. Strings and JSON are borrowed from doc. */
struct exp_spec {
  json_t *doc;                 /* the stored form (owned): the request without "files", defaults filled */
  const char *name, *description, *metric;
  json_t *command;             /* array of strings */
  json_t *env;                 /* object of strings, or NULL */
  json_t *optimizer, *early_stopping, *searchspace;  /* early_stopping may be NULL */
  struct searchspace ss;
  int64_t num_trials;          /* 0 when not given */
  int parallelism;
  enum opt_direction dir;
  int cpus, gpus;              /* per trial (per worker when distributed) */
  double timeout_s;            /* 0: none */
  uint64_t seed;
  struct exp_dist dist;        /* dist.workers 0: one process per trial */
  const char *executor;        /* "local", "slurm", or NULL: the server's */
  /* Set by routes.c when command[0] is a file copied into the experiment
   * (stored as doc.program): its name there and the interpreter it runs
   * with, or NULL when command[0] is run as given. */
  const char *program, *interpreter;
};

/*
 * Validates body (a request, or a stored doc when `stored`) into sp and
 * creates the optimizer the spec describes into *opt (may be NULL when not
 * wanted). Every error is a 400 naming the field. A request without
 * "seed" gets a random one. On failure sp is released.
 */
int exp_spec_parse(const json_t *body, bool stored, struct exp_spec *sp, struct optimizer **opt, oast_err *e);
/* Records the program file command[0] was resolved to (routes.c). */
void exp_spec_set_program(struct exp_spec *sp, const char *file, const char *interpreter);
void exp_spec_release(struct exp_spec *sp);
/* Releases and frees a spec allocated with xcalloc; NULL is a no-op. */
void exp_spec_free(struct exp_spec *sp);

/* ---- the runtime (service.c) ---- */

/* Creates the service and registers its scheduler tick (before sched_start). */
int exp_service_init(struct server *s, oast_err *e);
/* After sched_stop: frees every run. */
void exp_service_free(struct server *s);

/*
 * Takes over a new experiment whose row and folder exist: sp (allocated,
 * taken; the optimizer borrows its search space, so it never moves) and
 * opt (taken). dir is the experiment's folder. Its trials start on the
 * scheduler thread.
 */
void exp_service_launch(struct server *s, int64_t id, int64_t project_id, const char *project, int64_t user_id,
                        const char *dir, struct exp_spec *sp, struct optimizer *opt);
/* Stops a running experiment: no new trials, running ones are killed.
 * 409 when it is not running. */
int exp_service_stop(struct server *s, int64_t id, oast_err *e);
/* Project project_id was deleted (its rows and folder are gone): its
 * experiments stop, their running trials are killed. Any thread. */
void exp_service_project_deleted(struct server *s, int64_t project_id);
/* Whether experiment id is running on this server. */
bool exp_service_active(struct server *s, int64_t id);

/* An intermediate report of a trial (POST /trials/{id}/report). */
struct exp_report {
  bool has_metric;
  double metric;
  int64_t step;                /* -1: the report's number */
  json_t *metrics;             /* other scalars {name: number}, borrowed, or NULL */
  const char *log;             /* a line or lines for the logs, or NULL */
};
/*
 * Both are refused with 403 unless token_hash is the trial's own token,
 * and 404 unless trial_id is running here.
 */
int exp_service_report(struct server *s, int64_t trial_id, const char *token_hash, const struct exp_report *rep,
                       bool *stop, oast_err *e);
/* The trial's result: metric (NaN: take it from outputs[metric], else
 * none) and outputs (borrowed, may be NULL). *out_metric gets the metric kept. */
int exp_service_final(struct server *s, int64_t trial_id, const char *token_hash, double metric, json_t *outputs,
                      double *out_metric, oast_err *e);

/* Log followers: the log generation (bumped on every line written to any
 * experiment's log) and a wait of at most ms for it to change. */
uint64_t exp_service_log_gen(struct server *s);
void exp_service_log_wait(struct server *s, uint64_t gen, int ms);

/* Paths: the experiment folder and a trial's folder inside it; caller frees. */
char *exp_dir(struct server *s, const char *project, int64_t id);
char *exp_trial_dir(const char *exp_dir, int number);
/* Times as ISO-8601 UTC with microseconds into out. */
void exp_time_iso_us(int64_t us, char out[40]);
/* The experiment's summary (the GET answer) from the database; NULL if absent. */
json_t *exp_detail(struct server *s, int64_t project_id, int64_t id);

extern const struct route exp_routes[];

#endif
