/*
 * sched.h — the server's scheduler: one thread that owns the executor
 * pool and drives every long-running piece of work (experiment trials,
 * job runs, pipeline tasks).
 *
 * Work is submitted as an exec_spec plus a struct sched_task, which the
 * submitting module embeds in its own record and whose ops receive the
 * pool's callbacks (start, each output line, exit) on the scheduler
 * thread. Modules also register ticks: functions the scheduler thread
 * calls after every pool event and at least every SCHED_TICK_MS, where
 * they decide what to start next (an optimizer's next trial, a due cron
 * schedule, a pipeline task whose dependencies finished). Keeping all of
 * that on one thread means module state touched by callbacks and ticks
 * needs a lock only where HTTP handlers touch it too.
 *
 * Executors. The scheduler always has the local pool and, when the
 * server runs with --executor slurm or something asks for "slurm", a
 * Slurm pool beside it (created on first use, then kept). Work goes to
 * the server's default executor (s->cfg.executor) unless the submitter
 * names one with sched_submit_on. The thread waits on the local pool; the
 * Slurm pool wakes it whenever it has something to deliver, so callbacks
 * of both arrive on the one scheduler thread.
 */
#ifndef EXEC_SCHED_H
#define EXEC_SCHED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "exec/exec.h"
#include "oast/error.h"

struct server;
struct sched_task;

#define SCHED_TICK_MS 200
#define SCHED_MAX_TICKS 16

struct sched_task_ops {
  void (*on_start)(struct server *s, struct sched_task *t, pid_t pid, const int *gpus, size_t ngpus);
  void (*on_line)(struct server *s, struct sched_task *t, enum exec_stream stream, const char *line, size_t n);
  /* Called once; the task may be freed by it. */
  void (*on_exit)(struct server *s, struct sched_task *t, const struct exec_result *r);
};

struct sched_task {
  const struct sched_task_ops *ops;
  uint64_t job;   /* the pool's id, set by sched_submit */
  struct exec_pool *pool;  /* the pool it went to, set by sched_submit */
};

typedef void (*sched_tick_fn)(struct server *s, void *arg);

/* Registers a tick before sched_start. */
void sched_add_tick(struct server *s, sched_tick_fn fn, void *arg);
/* Creates the pool (s->cfg.cpus / s->cfg.gpus) and starts the thread. */
int sched_start(struct server *s, oast_err *e);
/* Stops the thread and frees the pool, killing what still runs. */
void sched_stop(struct server *s);
/* Queues work on the server's default executor; spec->user is set to t.
 * Any thread. */
int sched_submit(struct server *s, struct exec_spec *spec, struct sched_task *t, oast_err *e);
/* The same on a named executor: "local", "slurm", or NULL for the
 * server's default. The Slurm pool is created on first use from the
 * server's Slurm settings (--slurm-partition, --slurm-conf,
 * --slurm-spool); when that fails (no Slurm commands here, spool in use)
 * the error says why and nothing is queued. An unknown name is
 * OAST_EBAD_REQUEST. With "slurm" the call runs sbatch and may take as
 * long as the controller takes to answer (see exec/slurm.c). */
int sched_submit_on(struct server *s, const char *executor, struct exec_spec *spec,
                    struct sched_task *t, oast_err *e);
int sched_cancel(struct server *s, struct sched_task *t, oast_err *e);
/* Makes the scheduler thread run its ticks soon. Any thread. */
void sched_wakeup(struct server *s);
/* Statistics (slots, queue) of the default executor's pool. Any thread. */
void sched_stats(struct server *s, struct exec_stats *st);
/* Whether name is an executor the scheduler knows ("local", "slurm"). */
int sched_executor_valid(const char *name);

#endif
