/*
 * server.h — the server context: configuration and the state of every
 * module, passed explicitly to everything (no globals for server state).
 */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "oast/error.h"

struct meta;
struct online;
struct sched;
struct serving;
struct exp_service;
struct jobs_service;
struct MHD_Daemon;

struct server_config {
  char *home;               /* data home (owned) */
  char *listen_host;        /* owned */
  int port;
  int threads;              /* HTTP thread pool size */
  size_t max_json_body;     /* cap of buffered bodies */
  uint64_t max_upload;      /* cap of one streamed upload */
  int64_t login_ttl_s;      /* login token lifetime */
  uint64_t inference_log_max; /* a deployment's inference.jsonl is rotated past this many bytes */
  char *executor;           /* "local" | "slurm" (owned) */
  int cpus;                 /* executor CPU slots; 0: the machine's CPUs */
  char *gpus;               /* executor GPU ids "0,1"; NULL: detected with nvidia-smi (owned) */
  char *slurm_partition;    /* Slurm executor: sbatch --partition; NULL: the cluster's default (owned) */
  char *slurm_conf;         /* Slurm executor: SLURM_CONF for its commands; NULL: theirs (owned) */
  char *slurm_spool;        /* Slurm executor: job scripts and output, shared with the nodes;
                               NULL: <home>/run/slurm (owned) */
};

struct server {
  struct server_config cfg;
  struct meta *meta;
  struct online *online;    /* the online feature store (LMDB) */
  struct sched *sched;      /* the scheduler thread and its executor pool (exec/sched.h) */
  struct serving *serving;  /* running model deployments (serve/serve.h) */
  struct exp_service *exp;  /* running experiments (exp/service.h) */
  struct jobs_service *jobs; /* job runs, schedules, pipeline runs (jobs/service.h) */
  int listening_port;       /* the bound port once HTTP listens, else 0 (__atomic loads and stores) */
  char *fs_root;            /* <home>/fs/Projects (owned) */
  char *tmp_dir;            /* <home>/tmp (owned) */
  struct MHD_Daemon *mhd;
  volatile int stopping;
  _Atomic uint64_t access_gen;  /* bumped by every change that may affect access (auth/cache.h) */
};

/* `oast server ...`: parses flags, runs until SIGTERM/SIGINT. Exit status. */
int server_main(int argc, char **argv);

/* Opens the home (dirs, database, first admin); for tests too. */
int server_init(struct server *s, oast_err *e);
void server_release(struct server *s);
void server_config_defaults(struct server_config *c);
void server_config_release(struct server_config *c);

/*
 * The API address the server's own child processes (job runs, trials)
 * call, "http://127.0.0.1:PORT" for a server listening on 0.0.0.0 or
 * localhost; NULL until the server listens. Caller frees. Any thread.
 */
char *server_self_addr(struct server *s);
/*
 * The directory holding the Python package `oast`, for the PYTHONPATH of
 * jobs and trials: $OAST_PYTHON_DIR, else python/ beside or above the
 * binary's folder (a build tree or an install); NULL when none is found.
 * Caller frees.
 */
char *server_python_dir(void);
/*
 * The Python interpreter that job runs and trials start for a Python
 * program: $OAST_PYTHON or $OAST_JOB_PYTHON, else Debian's /usr/bin/python3 (the one the
 * python3-* packages install into, whatever comes first on PATH), else
 * "python3" from PATH. Caller frees.
 */
char *server_python_exe(void);

/*
 * Project project_id was deleted (its rows committed away, its folder
 * moved out): what it still runs is stopped, experiments and job and
 * pipeline runs at once, deployments by the serving reaper. Any thread.
 */
void server_project_deleted(struct server *s, int64_t project_id);
/* The project's directory on disk: <fs_root>/<name>; caller frees. */
char *server_project_dir(struct server *s, const char *project);

#endif
