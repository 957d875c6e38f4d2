/*
 * internal.h — the jobs service's state, shared by service.c and
 * runner.c only (see service.h for the threads and what owns what).
 */
#ifndef JOBS_INTERNAL_H
#define JOBS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "exec/sched.h"
#include "jobs/cron.h"
#include "jobs/dag.h"
#include "jobs/follow.h"
#include "jobs/notify.h"
#include "jobs/pipeline_spec.h"
#include "jobs/service.h"
#include "util/buf.h"

#define PROC_RESULT_MAX (256 * 1024) /* stdout of an op task kept as its result */
#define RUN_DIRS_KEPT 64                /* empty run directories kept for reuse */

/* One process in the pool: a job run, or an attempt of a pipeline's operation task. */
struct proc {
  struct sched_task t;
  struct proc *prev, *next;   /* the service's list */
  int64_t job_run_id;         /* >0: a job run */
  int64_t project_id;         /* whose it is, set when it starts */
  struct prun *pr;            /* a pipeline task: its run and index */
  size_t task;
  char token_hash[65];
  char *run_dir;              /* owned; removed when it ends */
  bool log_dirty;             /* output since the last notification of log followers */
  bool cancelled;
  struct buf out;             /* op tasks: their stdout, capped */
};

/* A schedule as last read from the database. */
struct sched_entry {
  bool pipeline;
  int64_t id;
  struct cron cron;
  int64_t last;               /* the watermark */
};

/* A process start, written at the next flush. */
struct started_rec {
  int64_t job_run_id;         /* 0: an op task */
  int64_t prun_id;            /* 0: not a pipeline task */
  size_t task;
  int64_t pid, pstart;
};

enum outcome { OUT_SUCCEEDED, OUT_FAILED, OUT_KILLED };

/* The end of a job run, written at the next flush. */
struct ended_rec {
  int64_t job_run_id;
  enum outcome o;
  int exit_code, sig;         /* -1 / 0 when none */
  bool timed_out;
  char *message;              /* owned, may be NULL */
  char token_hash[65];        /* its own token to revoke, or "" */
};

struct inbox_item {
  enum jobs_request_kind kind;
  int64_t id;
};

struct jobs_service {
  pthread_mutex_t mu;         /* guards the inbox */
  struct inbox_item *inbox;
  size_t ninbox, capinbox;
  atomic_uint_fast64_t sched_gen;  /* bumped when schedules change */
  struct follow_hub *hub;
  struct notifier *notifier;
  char *exe;                  /* this binary, for operation tasks */
  char *pydir;                /* the python/ directory holding package oast, or NULL */
  char *python;               /* the Python interpreter of python and notebook jobs */
  char **base_env;            /* the server's environment less OAST_* and PYTHONPATH */
  size_t nbase_env;
  /* Scheduler thread only: */
  char *addr;                 /* the API address jobs call, once the server listens */
  struct proc *procs;
  struct prun *pruns;
  struct sched_entry *scheds;
  size_t nscheds;
  uint64_t scheds_gen;
  bool scheds_loaded;
  int64_t last_cron, last_poke;
  int64_t *dirty;             /* job runs with new output to announce */
  size_t ndirty, capdirty;
  struct started_rec *starts; /* written by flush, in one transaction per tick */
  size_t nstarts, capstarts;
  struct ended_rec *ends;
  size_t nends, capends;
  char *free_dirs[RUN_DIRS_KEPT];  /* empty run directories to reuse (service.c) */
  size_t nfree_dirs;
  uint64_t run_dirs_made;
};

#endif
