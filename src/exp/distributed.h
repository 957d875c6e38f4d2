/*
 * distributed.h — distributed training runs of the experiment service
 * (internal to src/exp).
 *
 * An experiment with "distribution": {"workers": N, "strategy", ...} is
 * one run of N worker processes instead of one process per trial. This
 * module holds what is particular to such a run and needs no server
 * state: the "distribution" field validated, the environment each worker
 * gets for its framework (torch.distributed's RANK, WORLD_SIZE,
 * LOCAL_RANK, MASTER_ADDR, MASTER_PORT; TensorFlow's TF_CONFIG), free
 * ports, the mpirun command line of the "mpi" strategy and the reading of
 * its tagged output, per-worker log tails, and the workers' record as
 * JSON. service.c submits the workers to the scheduler and follows them.
 *
 * Roles in TF_CONFIG, by strategy (rank r of N):
 *   allreduce         rank 0 is the chief, ranks 1..N-1 are workers 0..N-2
 *                     (MultiWorkerMirroredStrategy, or Horovod-style
 *                     all-reduce in torch);
 *   parameter_server  rank 0 is the chief, ranks 1..P are parameter
 *                     servers ps 0..P-1, the rest are workers
 *                     (ParameterServerStrategy); P is
 *                     "parameter_servers" (default 1), and N must leave
 *                     at least one worker;
 *   mpi               no TF_CONFIG: one `mpirun -np N` process whose
 *                     ranks get Open MPI's own variables.
 * Every rank of the first two gets the torch variables as well, so one
 * launcher serves both frameworks.
 */
#ifndef EXP_DISTRIBUTED_H
#define EXP_DISTRIBUTED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oast/error.h"

#define DIST_MAX_WORKERS 256
#define DIST_ENV_MAX 12            /* entries dist_worker_env adds at most */
#define DIST_TAIL_LINES 20         /* lines kept per worker of an MPI run */
#define DIST_TAIL_LINE_MAX 1024
#define DIST_HOST "127.0.0.1"      /* MASTER_ADDR and the TF_CONFIG hosts: workers run on this machine */

enum dist_strategy { DIST_ALLREDUCE = 1, DIST_PARAMETER_SERVER, DIST_MPI };

struct exp_dist {
  int workers;                  /* 0: not a distributed experiment */
  enum dist_strategy strategy;
  int gpus_per_worker;
  int parameter_servers;        /* parameter_server: how many of the ranks after the chief */
};

/*
 * Validates doc["distribution"] into d and writes its defaults back into
 * doc (the stored form). Absent or null leaves d->workers 0. Errors are
 * 400s whose message starts with the field ("distribution.workers: ...").
 */
int dist_parse(json_t *doc, struct exp_dist *d, oast_err *e);
/* Refuses env entries the server sets for every worker (RANK, TF_CONFIG, ...). */
int dist_check_env(const json_t *env, oast_err *e);
/* "allreduce", "parameter_server", "mpi". */
const char *dist_strategy_name(enum dist_strategy s);

/* The role of rank in TF_CONFIG ("chief", "worker" or "ps") and its
 * index among the tasks of that role; "rank" under mpi. Static string. */
const char *dist_role(const struct exp_dist *d, int rank, int *index);
/* TF_CONFIG of rank as compact JSON, tf_ports[r] being rank r's port.
 * The caller frees it. */
char *dist_tf_config(const struct exp_dist *d, int rank, const int *tf_ports);

/* Picks n distinct free TCP ports on DIST_HOST: binds n sockets to port
 * 0, reads their ports and closes them together. Another process may
 * still take one before the worker binds it, as with every launcher that
 * picks ports this way. */
int dist_free_ports(int n, int *ports, oast_err *e);

/* Writes worker rank's variables ("NAME=value", each the caller's to
 * free) into env (room for DIST_ENV_MAX) and returns how many. Under mpi
 * rank is ignored and only the run's shape (OAST_WORKERS, OAST_STRATEGY)
 * is given; mpirun gives each rank the rest. */
size_t dist_worker_env(const struct exp_dist *d, int rank, int master_port, const int *tf_ports, char **env);

/* The command of an MPI run: `mpirun -np N` with its options, then a
 * small sh wrapper that reports each rank's exit status on its stderr
 * (dist_mpi_exit reads it back), then cmd (nargs words, borrowed). The
 * array is NULL-terminated and the caller's to free; its strings are
 * static or cmd's. */
const char **dist_mpi_argv(const struct exp_dist *d, const char *const *cmd, size_t nargs, bool as_root);
/* A line of mpirun --tag-output: "[JOB,RANK]<stdout>:text" gives RANK
 * (< workers) and the text after the tag in *text, *len; a line without
 * a tag (mpirun's own) gives -1 and the whole line. */
int dist_mpi_line(const char *line, size_t n, int workers, const char **text, size_t *len);
/* Whether text is the wrapper's report of its rank's exit; *code is the
 * exit status (128 + N when signal N killed the program). */
bool dist_mpi_exit(const char *text, size_t n, int *code);

/* ---- the workers of one run ---- */

enum dist_wstate { DIST_QUEUED, DIST_RUNNING, DIST_FINISHED, DIST_FAILED, DIST_KILLED };

struct dist_worker {
  enum dist_wstate state;
  int exit_code;                /* -1: unknown */
  int signal;                   /* 0: none */
  char gpus[64];                /* GPU ids it holds, "0,1"; "" when none */
  int64_t started_us, ended_us; /* 0 until then */
  /* Its last lines (MPI runs, whose ranks share one stream). */
  char *tail;                   /* DIST_TAIL_LINES slots of DIST_TAIL_LINE_MAX, or NULL */
  uint16_t tail_len[DIST_TAIL_LINES];
  unsigned tail_next, tail_count;
};

/* n workers, queued; freed with dist_workers_free. */
struct dist_worker *dist_workers_new(int n);
void dist_workers_free(struct dist_worker *w, int n);
/* Resets every worker to queued (a run started again). */
void dist_workers_reset(struct dist_worker *w, int n);
/* Keeps line in w's tail. */
void dist_tail_add(struct dist_worker *w, const char *line, size_t n);
/* w's tail, lines ended by '\n', NUL-terminated; the caller frees it. */
char *dist_tail_text(const struct dist_worker *w);
/* [{"rank", "role", "state", "exit_code", "signal", "gpus", "started",
 * "ended"}] with times ISO-8601 UTC (new reference). */
json_t *dist_workers_json(const struct exp_dist *d, const struct dist_worker *w, int n);
const char *dist_wstate_name(enum dist_wstate s);

#endif
