/*
 * exec.h — the executor pool: runs trials, job runs and pipeline tasks as
 * child processes on CPU and GPU slots.
 *
 * A pool is an executor behind a small vtable (struct executor_ops). The
 * first implementation, exec_local_new (local.c), runs processes on this
 * machine; a Slurm executor will be a second one behind the same calls.
 * Callers only use the exec_* functions below.
 *
 * Model. A job asks for `cpus` CPU slots and `gpus` GPUs. Jobs wait in one
 * FIFO queue; the head starts as soon as enough slots are free, and nothing
 * behind it overtakes it (strict FIFO, so a big job is never starved). A
 * job asking for more CPUs or GPUs than the pool has is refused at submit
 * (OAST_EBAD_REQUEST, 400). When a job's process ends its slots and GPUs
 * are free at once and the next job starts in the same loop iteration:
 * there are no stages or barriers.
 *
 * Processes (local executor). Each job is its own process group, started
 * with posix_spawn (no shell) with stdin on /dev/null, stdout and stderr on
 * two pipes, every other descriptor closed, default signal dispositions
 * and an empty signal mask. Its environment is the caller's entries on top
 * of either the server's environment or an empty one, and the pool always
 * sets CUDA_VISIBLE_DEVICES (overriding any inherited or given value): the
 * comma-separated ids of the GPUs the job holds, or the empty string when
 * it holds none, so that a CPU-only job cannot use a GPU another job holds.
 * A job holding GPUs also gets CUDA_DEVICE_ORDER=PCI_BUS_ID (unless its
 * entries set it), so CUDA numbers devices the way nvidia-smi does.
 * Output is split into lines (a line longer than line_max is split into
 * pieces of line_max bytes; a last line without a newline is still a line),
 * appended whole to the log files and delivered to on_line.
 * The end of a job is learned from its pid (a pidfd), not from EOF on its
 * pipes: when the leader exits, whatever is left of its process group is
 * killed with SIGKILL, the output it wrote is read to the end, the process
 * is reaped and its slots freed. A timeout or exec_cancel sends SIGTERM to
 * the whole group and SIGKILL after the pool's grace period.
 *
 * Threads. One thread drives the pool by calling exec_run_once in a loop
 * (the server's scheduler thread); every callback runs on that thread,
 * with no pool lock held, so callbacks may call exec_submit and
 * exec_cancel. exec_submit, exec_cancel, exec_wakeup and exec_stats may be
 * called from any thread at any time (a mutex guards the queue, an eventfd
 * wakes the loop). exec_free must be called when no other call is in
 * progress. The process must not reap children it did not start itself
 * (no waitpid(-1), SIGCHLD not set to SIG_IGN): the pool reaps its own by
 * pid.
 */
#ifndef EXEC_EXEC_H
#define EXEC_EXEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "oast/error.h"

enum exec_stream { EXEC_STDOUT = 1, EXEC_STDERR = 2 };

/* What to run. Everything is copied by exec_submit; the caller keeps its
 * own memory. */
struct exec_spec {
  const char *const *argv;  /* NULL-terminated, argv[0] non-empty; without a '/'
                               it is looked up in the server's PATH */
  const char *const *env;   /* NULL-terminated "NAME=value" entries, or NULL */
  int inherit_env;          /* 1: env goes on top of the server's environment;
                               0: the job sees only env (and CUDA_VISIBLE_DEVICES) */
  const char *cwd;          /* working directory; NULL: the server's */
  int cpus;                 /* CPU slots wanted; 0 means 1 */
  int gpus;                 /* GPUs wanted; 0: none */
  double timeout_s;         /* wall-clock limit from the start; 0: none */
  const char *out_path;     /* stdout lines are appended here; NULL: not kept */
  const char *err_path;     /* stderr lines; may equal out_path (one file,
                               whole lines of both streams interleaved) */
  void *user;               /* handed back to every callback */
};

/* How a job ended, given to on_exit. Pointers are valid during the call. */
struct exec_result {
  int started;        /* 0: never ran (cancelled while queued, or could not start) */
  int exit_code;      /* exit status when it exited normally, else -1 */
  int signal;         /* the signal that killed it, else 0 */
  int timed_out;      /* it ran past timeout_s and was killed */
  int cancelled;      /* exec_cancel was called for it */
  double duration_s;  /* from start to exit; 0 when never started */
  const char *error;  /* why it could not start, or why its exit status is
                         unknown; NULL otherwise (also when cancelled while queued) */
  const char *tail;   /* its last EXEC_TAIL_LINES lines of output (both streams,
                         in the order read, each cut to EXEC_TAIL_LINE_MAX bytes
                         and ended by '\n'), NUL-terminated; "" if none */
};

/* Called on the thread running exec_run_once. ctx is the callbacks' ctx,
 * user the spec's user. Any may be NULL. */
struct exec_callbacks {
  void *ctx;
  /* The job's process started. gpus lists the GPU ids it holds. */
  void (*on_start)(void *ctx, uint64_t job, void *user, pid_t pid, const int *gpus, size_t ngpus);
  /* One line of output, without its newline; line[n] is '\0' (the line
   * itself may contain NUL bytes). Lines of one stream come in order. */
  void (*on_line)(void *ctx, uint64_t job, void *user, enum exec_stream s, const char *line,
                  size_t n);
  /* The job is over (exited, killed, cancelled while queued, or could not
   * start); its slots are already free. Called exactly once per job, after
   * its last on_line and before on_start of any job that takes its slots. */
  void (*on_exit)(void *ctx, uint64_t job, void *user, const struct exec_result *r);
};

/* A snapshot of the pool's state. */
struct exec_stats {
  size_t queued;      /* waiting for slots */
  size_t running;     /* processes alive */
  size_t unfinished;  /* submitted jobs whose on_exit has not been called yet */
  int cpus_total, cpus_free;
  int gpus_total, gpus_free;
};

struct exec_pool;

/* The executor vtable. Implementations embed struct exec_pool first. */
struct executor_ops {
  const char *name;  /* "local", ... */
  int (*submit)(struct exec_pool *p, const struct exec_spec *spec, uint64_t *job, oast_err *e);
  int (*cancel)(struct exec_pool *p, uint64_t job, oast_err *e);
  int (*run_once)(struct exec_pool *p, int timeout_ms);
  void (*wakeup)(struct exec_pool *p);
  void (*stats)(struct exec_pool *p, struct exec_stats *s);
  void (*free)(struct exec_pool *p);
};

struct exec_pool {
  const struct executor_ops *ops;
};

/* Configuration of the local executor. Zeroed fields take the defaults. */
struct exec_local_config {
  int cpus;              /* CPU slots; 0: the number of online CPUs */
  const char *gpus;      /* GPU ids, "0,1,3"; "" for none; NULL: detected
                            with nvidia-smi (none when it is missing or fails) */
  int kill_grace_ms;     /* SIGTERM to SIGKILL on timeout or cancel; 0: 5000 */
  size_t line_max;       /* longest line before it is split; 0: 64 KiB (max 16 MiB) */
  size_t max_queued;     /* jobs waiting at most, beyond it submit fails with
                            OAST_EUNAVAILABLE; 0: 100000 */
};

#define EXEC_TAIL_LINES 20        /* lines kept for exec_result.tail */
#define EXEC_TAIL_LINE_MAX 1024   /* bytes kept of each of them */
#define EXEC_MAX_GPUS 256
#define EXEC_MAX_ARGS 65536       /* argv entries */
#define EXEC_MAX_ENV 4096         /* env entries */
#define EXEC_MAX_SPEC_BYTES (4u << 20)  /* all strings of a spec together */

/* Configuration of the Slurm executor (slurm.c). Zeroed fields take the
 * defaults; strings are copied. */
struct exec_slurm_config {
  const char *spool_dir;     /* required: where each job's batch script, output and
                                markers live; must be on a file system the compute
                                nodes share with the server, and used by this pool
                                alone (it is locked, and cleared of what a previous
                                pool left) */
  const char *partition;     /* sbatch --partition; NULL: the cluster's default */
  const char *slurm_conf;    /* SLURM_CONF for sbatch, squeue, scancel and sinfo;
                                NULL: whatever they find themselves */
  const char *const *sbatch_args;  /* more sbatch options, NULL-terminated (e.g.
                                      "--account=ml"); NULL: none */
  int submit_timeout_ms;     /* how long one sbatch may take; 0: 30000 */
  int poll_ms;               /* how often job files are read when no change was
                                signalled (shared file systems); 0: 500 */
  int squeue_ms;             /* how often squeue is asked about running jobs; 0: 2000 */
  size_t line_max;           /* longest line before it is split; 0: 64 KiB (max 16 MiB) */
  size_t max_jobs;           /* unfinished jobs at most, beyond it submit fails with
                                OAST_EUNAVAILABLE; 0: 100000 */
  /* Called on the pool's own thread whenever exec_run_once has something to
   * do, so that a thread blocked in another pool's exec_run_once can be
   * woken (sched.c wakes the local pool with it). NULL: none. */
  void (*notify)(void *arg);
  void *notify_arg;
};

/* Creates a Slurm executor: each job becomes one Slurm batch job (one
 * node, one task, spec.cpus CPUs per task, --gres=gpu:N for spec.gpus).
 * Nothing is asked of Slurm here; an unreachable controller shows at the
 * first submit. Fails with OAST_EBAD_REQUEST for a bad configuration,
 * OAST_ECONFLICT when another pool holds spool_dir, OAST_EUNAVAILABLE when
 * sbatch is not in PATH, OAST_EINTERNAL when the spool directory cannot
 * be made. Differences from the local executor are described in slurm.c:
 * exec_submit runs sbatch (failing with OAST_EUNAVAILABLE, and leaving
 * nothing queued, when the controller cannot be reached, and with
 * OAST_EBAD_REQUEST when Slurm refuses the job), jobs start in the order
 * Slurm picks, on_start's pid is 0, and the grace period after a timeout
 * or cancel is the cluster's KillWait. */
int exec_slurm_new(const struct exec_slurm_config *cfg, const struct exec_callbacks *cb,
                   struct exec_pool **out, oast_err *e);

/* Checks what every executor requires of a spec (argv, env entries of the
 * form NAME=value, caps, paths, counts not negative, timeout range) and
 * counts argv and env. 0 or OAST_EBAD_REQUEST naming the field. */
int exec_spec_check(const struct exec_spec *spec, size_t *nargv, size_t *nenv, oast_err *e);

/* Creates a local executor. cb is copied. *out is freed with exec_free.
 * Fails with OAST_EBAD_REQUEST for a bad configuration (a malformed GPU
 * list) and OAST_EINTERNAL when the kernel lacks what it needs (pidfd,
 * Linux 5.3 or later). */
int exec_local_new(const struct exec_local_config *cfg, const struct exec_callbacks *cb,
                   struct exec_pool **out, oast_err *e);

/* Queues a job and sets *job to its id (ids start at 1 and grow). Fails
 * with OAST_EBAD_REQUEST for a malformed spec or one asking for more CPUs
 * or GPUs than the pool has, and OAST_EUNAVAILABLE when the queue is full.
 * Thread-safe. */
int exec_submit(struct exec_pool *p, const struct exec_spec *spec, uint64_t *job, oast_err *e);

/* Cancels a job: a queued one is dropped (on_exit with started == 0), a
 * running one gets SIGTERM to its process group and SIGKILL after the
 * grace period. Cancelling a job that is already being cancelled is a
 * no-op returning 0; an unknown or finished job is OAST_ENOT_FOUND.
 * Thread-safe. */
int exec_cancel(struct exec_pool *p, uint64_t job, oast_err *e);

/* Waits up to timeout_ms (-1: until something happens, 0: not at all) for
 * process exits, output, timeouts, submissions or a wakeup, handles all
 * that is ready (starting queued jobs into free slots) and returns the
 * number of things handled (0 when it timed out or was woken with nothing
 * to do), or a negative OAST_E* code when the event loop itself failed.
 * Call from one thread only. */
int exec_run_once(struct exec_pool *p, int timeout_ms);

/* Makes a blocked exec_run_once return soon. Thread-safe. */
void exec_wakeup(struct exec_pool *p);

/* Fills *s. Thread-safe. */
void exec_stats(struct exec_pool *p, struct exec_stats *s);

/* "local", ... Static string. */
const char *exec_name(const struct exec_pool *p);

/* Kills every running job's process group with SIGKILL, reaps them and
 * frees the pool without calling any callback. NULL is a no-op. */
void exec_free(struct exec_pool *p);

/* GPU discovery (gpu.c). */

/* Parses "0,1,3" (spaces allowed around ids) into a sorted list of
 * distinct ids in 0..65535. "" gives none (*ids NULL). *ids is the
 * caller's to free. OAST_EBAD_REQUEST names the bad item. */
int exec_gpu_parse(const char *list, int **ids, size_t *n, oast_err *e);

/* Runs `nvidia-smi --query-gpu=index --format=csv,noheader` (found in
 * PATH) and parses its output. No nvidia-smi, a failure, or no answer in
 * timeout_ms gives no GPUs and returns 0: a machine without GPUs is not an
 * error. *ids is the caller's to free. */
int exec_gpu_detect(int timeout_ms, int **ids, size_t *n);

#endif
