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
 *
 * How the workers start. On the local executor each worker of the first
 * two strategies is a process of its own from the pool. Where the
 * workers must share one node they cannot choose (the Slurm executor,
 * whose jobs are one process each and land on any node), the whole run is
 * one job holding every worker's CPUs and GPUs, and inside it mpirun is
 * the launcher: a small sh wrapper maps each rank's Open MPI variables to
 * RANK, LOCAL_RANK, its TF_CONFIG and its share of the job's GPUs before
 * it runs the command. The "mpi" strategy always runs that way.
 */
#ifndef EXP_DISTRIBUTED_H
#define EXP_DISTRIBUTED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oast/error.h"
#include "util/buf.h"

#define DIST_MAX_WORKERS 256
#define DIST_ENV_MAX 12            /* entries dist_worker_env adds at most, beyond one per worker */
#define DIST_TAIL_LINES 20         /* lines kept per worker of an MPI run */
#define DIST_TAIL_LINE_MAX 1024
#define DIST_LINE_MAX 65536        /* a rank's piece of a line grown past this is a line */
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

/* Writes the variables of worker rank ("NAME=value", each the caller's
 * to free) into env (room for DIST_ENV_MAX + d->workers) and returns how
 * many. rank -1 means the mpirun that launches every worker: under mpi
 * only the run's shape (OAST_WORKERS, OAST_STRATEGY), mpirun gives each
 * rank the rest; under the other strategies also what the wrapper of
 * dist_mpi_argv turns into each rank's variables (OAST_TF_CONFIG_<r>,
 * OAST_GPUS_PER_WORKER). */
size_t dist_worker_env(const struct exp_dist *d, int rank, int master_port, const int *tf_ports, char **env);

/* The command that launches every worker with mpirun: `mpirun -np N` with
 * its options, then a small sh wrapper, then cmd (nargs words, borrowed).
 * The wrapper gives each rank its variables (not under mpi, whose ranks
 * use Open MPI's) and reports the rank's exit status on its stderr
 * (dist_mpi_exit reads it back). The array is NULL-terminated and the
 * caller's to free; its strings are static or cmd's. */
const char **dist_mpi_argv(const struct exp_dist *d, const char *const *cmd, size_t nargs, bool as_root);
/*
 * mpirun's output, back into each rank's lines. --tag-output puts
 * "[JOB,RANK]<stdout>:" (or <stderr>, <stddiag>) before every chunk a rank
 * wrote, not every line: a rank that writes a line in two pieces (Python's
 * print, unbuffered, writes the text and then its newline) gives a chunk
 * without a newline, which the next chunk, of any rank, follows on the
 * same line of mpirun's output. The reader keeps such pieces per rank and
 * stream and hands out whole lines. Text without a tag is mpirun's own
 * (rank -1).
 */
typedef void (*dist_line_fn)(void *arg, int rank, const char *text, size_t len);
struct dist_mpi_reader {
  int workers;
  struct buf *partial;          /* 2 per rank: stdout, then stderr/stddiag */
};
void dist_mpi_reader_init(struct dist_mpi_reader *m, int workers);
void dist_mpi_reader_release(struct dist_mpi_reader *m);
/* One line of mpirun's output (without its newline): every line it
 * completes goes to fn. */
void dist_mpi_feed(struct dist_mpi_reader *m, const char *line, size_t n, dist_line_fn fn, void *arg);
/* mpirun has ended: the pieces left are lines too. */
void dist_mpi_flush(struct dist_mpi_reader *m, dist_line_fn fn, void *arg);
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
