/*
 * slurm.c — the Slurm executor: every job is one Slurm batch job (the
 * contract is in exec.h; what differs from the local executor is said
 * there and below).
 *
 * Submitting. exec_submit writes the job's batch script (slurmcli.c) into
 * its own spool directory, <spool>/<pool>/<id>/, and runs `sbatch
 * --parsable` on it in the caller's thread, with stdout and stderr of the
 * job going to files in that directory. sbatch is a child process waited
 * for with a deadline (submit_timeout_ms): a controller that answers
 * costs one round trip (tens of milliseconds); one that does not is
 * reported as OAST_EUNAVAILABLE with sbatch's own message. Running sbatch
 * inline, rather than queueing the job and submitting it later, is what
 * lets exec_submit say at once that Slurm is unreachable or refuses the
 * job, with nothing left behind. To keep an outage from blocking every
 * caller for the whole deadline, the pool remembers that the controller
 * was unreachable (from sbatch, squeue or sinfo) and fails submits at
 * once until its own thread hears from the controller again. When sbatch
 * is killed at the deadline the job may still have been queued; its
 * unique name (oast-<pool>-<id>) is then cancelled by name.
 *
 * Following. Slurm tells a job's start and end late and only when asked,
 * so the job tells us itself: the batch script leaves `start`, `exit` or
 * `error` markers beside its output files. The pool's own thread (the
 * watcher) watches the spool with inotify, and also wakes every poll_ms
 * for file systems where inotify sees nothing of other machines' writes
 * (NFS); either way it makes exec_run_once look at the files. There the
 * output files are read from where the last read stopped and split into
 * lines exactly as the local executor splits pipe output, `start` gives
 * on_start (pid 0; the GPU ids from SLURM_JOB_GPUS), and `exit` asks the
 * watcher to confirm with squeue that the batch script is over (so its
 * output files are closed, and complete on a shared file system). The
 * watcher also runs squeue for all the pool's jobs every squeue_ms, which
 * is how jobs that died without a marker (cancelled, out of memory, node
 * failure, time limit) are noticed: their state and wait status come
 * from squeue. A job gone from squeue altogether (purged) ends with an
 * error saying its status is unknown.
 *
 * Exit status. With an `exit` marker it is the shell's view of the
 * command: an exit code, or 128 + N reported as signal N (so a command
 * that itself exits with 130 reads as killed by SIGINT). Without one,
 * squeue's wait status of the batch script.
 *
 * Stopping. exec_cancel and timeouts only mark the job; the watcher runs
 * scancel, so neither blocks the caller. A job cancelled while still
 * pending ends with started == 0. Slurm sends SIGTERM to every process of
 * the job and SIGKILL after the cluster's KillWait. The pool's own timer
 * enforces timeout_s from the moment the job started (its `start`
 * marker); the job's --time is that rounded up to minutes plus one, as a
 * backstop in case the server is gone.
 *
 * Threads. A mutex guards the job list, the flags the watcher and the
 * callers share, and the statistics. Callbacks run on the thread calling
 * exec_run_once, with no lock held; a job is freed only there, after it
 * left the list under the lock, so the watcher, which only touches jobs
 * in the list under the lock, never sees a freed one.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec/exec.h"
#include "exec/common.h"
#include "exec/slurmcli.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/log.h"

extern char **environ;

#define DEFAULT_SUBMIT_MS 30000
#define DEFAULT_POLL_MS 500
#define DEFAULT_SQUEUE_MS 2000
#define DEFAULT_LINE_MAX (64 * 1024)
#define MAX_LINE_MAX (16 * 1024 * 1024)
#define DEFAULT_MAX_JOBS 100000
#define CMD_MS 20000          /* squeue, scancel, sinfo */
#define CMD_OUT_CAP (8 << 20) /* bytes kept of their output */
#define SINFO_MS 30000        /* partition totals refresh */
#define DOWN_PROBE_MS 1000    /* how often an unreachable controller is probed */
#define CONFIRM_FIRST_MS 10   /* first squeue retry after an exit marker */
#define EXIT_TRUST_MS 30000   /* an exit marker is trusted alone after this */
#define SQUEUE_CHUNK 500      /* job ids per squeue call */
#define MARKER_MAX 4096
#define READ_CHUNK 65536
#define NSEC 1000000000LL

struct sjob;

/* One output file of a job (loop thread only). */
struct sout {
  enum exec_stream which;
  const char *name;   /* "out" or "err", in the job's directory */
  int fd;             /* the file Slurm writes, -1 until it exists or after the end */
  int logfd;          /* the spec's log, -1: none */
  const char *log_path;
  struct exec_splitter split;
};

struct sjob {
  struct sjob *prev, *next;  /* in the pool's list while unfinished (mu) */
  /* Set at submit, then read-only. */
  uint64_t id;
  long long sid;            /* Slurm's job id */
  char *dir;
  void *user;
  int cpus, gpus;
  long long timeout_ns;
  char *out_path, *err_path;
  int wd;                   /* inotify watch, -1: none */

  /* mu */
  int cancelled, timed_out, want_scancel, confirm, running;
  int q_known, q_gone, q_status;
  char q_state[24], q_reason[64];

  /* Loop thread only. */
  int started, exit_seen, exit_rc, err_marker, log_failed;
  long long start_ns, exit_seen_ns;
  char *error;
  struct sout out, err;
  struct exec_tail tail;
};

struct slurm {
  struct exec_pool base;
  struct exec_callbacks cb;
  void (*notify)(void *);
  void *notify_arg;

  /* Read-only after creation. */
  char *spool, *pooldir, *token, *partition, *cwd;
  char **sbatch_args;
  char **envp;  /* the server's environment, with SLURM_CONF when configured */
  int submit_ms, poll_ms, squeue_ms;
  size_t line_max, max_jobs;
  int lockfd, inofd, loopfd, watchfd;  /* spool lock, inotify, two eventfds */
  pthread_t watcher;
  int watcher_started;

  pthread_mutex_t mu;
  /* mu */
  struct sjob *head, *tail;
  size_t njobs, nrunning;
  uint64_t next_id;
  int stop;
  int down;          /* the controller did not answer the last time it was asked */
  char *down_msg;
  long long down_since_ms;
  struct slurm_totals totals;
  int totals_known;
  char **name_cancels;  /* job names to scancel (sbatch killed at its deadline) */
  size_t nname_cancels;
  long long *stale;     /* Slurm ids left by an earlier pool, to scancel once */
  size_t nstale;

  /* Loop thread only. */
  struct sjob **snap;
  size_t snap_cap;
  struct buf wbuf, tailbuf;
  char rbuf[READ_CHUNK];
};

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * NSEC + ts.tv_nsec;
}

static long long now_ms(void) { return now_ns() / 1000000; }

static void kick(int fd) {
  uint64_t one = 1;
  while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {}
}

static int drain_fd(int fd) {
  uint64_t v;
  ssize_t k;
  while ((k = read(fd, &v, sizeof v)) < 0 && errno == EINTR) {}
  return k == (ssize_t)sizeof v;
}

/* Wakes exec_run_once (and whoever waits for this pool's work). */
static void wake_loop(struct slurm *p) {
  kick(p->loopfd);
  if (p->notify) p->notify(p->notify_arg);
}

static void wake_watcher(struct slurm *p) { kick(p->watchfd); }

static char *job_file(const struct sjob *j, const char *name) { return fs_join(j->dir, name); }

static void job_free(struct sjob *j) {
  if (!j) return;
  free(j->dir);
  free(j->out_path);
  free(j->err_path);
  free(j->error);
  exec_splitter_release(&j->out.split);
  exec_splitter_release(&j->err.split);
  exec_tail_release(&j->tail);
  free(j);
}

/* ---- the controller's health (mu held) ---- */

static void mark_down(struct slurm *p, const char *msg) {
  if (!p->down) {
    log_warn("slurm: the controller cannot be reached: %s", msg);
    p->down_since_ms = now_ms();
  }
  p->down = 1;
  free(p->down_msg);
  p->down_msg = xstrdup(msg);
}

static void mark_up(struct slurm *p) {
  if (p->down) log_info("slurm: the controller answers again");
  p->down = 0;
}

/* Notes how a Slurm command went: reachable or not. */
static void note_run(struct slurm *p, const char *cmd, const struct slurm_run *r, int ok) {
  pthread_mutex_lock(&p->mu);
  if (ok || !slurm_run_unreachable(r)) {
    mark_up(p);
  } else {
    char *msg = slurm_run_message(cmd, r);
    mark_down(p, msg);
    free(msg);
  }
  pthread_mutex_unlock(&p->mu);
}

static int run_slurm(struct slurm *p, char **argv, int timeout_ms, struct slurm_run *r) {
  int rc = slurm_run_cmd(argv, p->envp, timeout_ms, CMD_OUT_CAP, r);
  note_run(p, argv[0], r, rc == 0);
  return rc;
}

/* ---- submit ---- */

static void poll_sinfo(struct slurm *p);

static const char *plural(int n) { return n == 1 ? "" : "s"; }

/* Writes a small new file (no fsync: it matters only while this pool lives). */
static int write_file(const char *path, const char *text, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, mode);
  if (fd < 0) return -1;
  int rc = exec_write_all(fd, text, strlen(text));
  int err = errno;
  if (close(fd) != 0 && rc == 0) return -1;
  errno = err;
  return rc;
}

/* --time in minutes: timeout rounded up, plus one, so that our own timer
 * (exact, from the start) acts first. */
static long long time_minutes(double timeout_s) {
  double m = timeout_s / 60.0;
  long long k = (long long)m;
  if ((double)k < m) k++;
  return k + 1;
}

static int slurm_submit(struct exec_pool *pool, const struct exec_spec *spec, uint64_t *jobid,
                        oast_err *e) {
  struct slurm *p = (struct slurm *)pool;
  size_t nargv, nenv;
  int rc = exec_spec_check(spec, &nargv, &nenv, e);
  if (rc) return rc;
  int cpus = spec->cpus ? spec->cpus : 1;

  pthread_mutex_lock(&p->mu);
  if (p->down) {
    char *msg = xstrdup(p->down_msg);
    pthread_mutex_unlock(&p->mu);
    rc = oast_err_set(e, OAST_EUNAVAILABLE, "the Slurm controller cannot be reached (%s)", msg);
    free(msg);
    return rc;
  }
  if (p->njobs >= p->max_jobs) {
    size_t n = p->njobs;
    pthread_mutex_unlock(&p->mu);
    return oast_err_set(e, OAST_EUNAVAILABLE, "the Slurm executor has %zu unfinished jobs", n);
  }
  int known = p->totals_known;
  pthread_mutex_unlock(&p->mu);
  /* Slurm accepts a job no node can hold and leaves it pending for ever:
   * the partition's nodes are checked here, and asked for once if the
   * watcher has not yet done so. */
  if (!known) poll_sinfo(p);
  pthread_mutex_lock(&p->mu);
  struct slurm_totals t = p->totals;
  known = p->totals_known;
  if (!known && p->down) {
    char *msg = xstrdup(p->down_msg);
    pthread_mutex_unlock(&p->mu);
    rc = oast_err_set(e, OAST_EUNAVAILABLE, "the Slurm controller cannot be reached (%s)", msg);
    free(msg);
    return rc;
  }
  uint64_t id = p->next_id++;
  pthread_mutex_unlock(&p->mu);
  if (known && t.nodes > 0 && cpus > t.cpus_max_node)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "the job asks for %d CPUs but no node of the Slurm partition has more "
                        "than %d",
                        cpus, t.cpus_max_node);
  if (known && t.nodes > 0 && spec->gpus > t.gpus_max_node)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "the job asks for %d GPUs but no node of the Slurm partition has more "
                        "than %d",
                        spec->gpus, t.gpus_max_node);

  struct sjob *j = xcalloc(1, sizeof *j);
  j->id = id;
  j->user = spec->user;
  j->cpus = cpus;
  j->gpus = spec->gpus;
  j->timeout_ns = (long long)(spec->timeout_s * 1e9);
  if (spec->timeout_s > 0 && j->timeout_ns == 0) j->timeout_ns = 1;
  j->out_path = spec->out_path ? xstrdup(spec->out_path) : NULL;
  j->err_path = spec->err_path ? xstrdup(spec->err_path) : NULL;
  j->out = (struct sout){EXEC_STDOUT, "out", -1, -1, j->out_path, {0}};
  j->err = (struct sout){EXEC_STDERR, "err", -1, -1, j->err_path, {0}};
  j->wd = -1;
  char idstr[32];
  snprintf(idstr, sizeof idstr, "%llu", (unsigned long long)id);
  j->dir = fs_join(p->pooldir, idstr);
  char *name = xasprintf("oast-%s-%s", p->token, idstr);
  char *script_path = fs_join(j->dir, "job.sh");
  char *title = xasprintf("Oast job %s (%s)", idstr, name);
  char *script = NULL;
  struct slurm_run r;
  memset(&r, 0, sizeof r);
  char *argv[64 + 1];
  size_t nopts = 0;
  char *opts[16];

  if (mkdir(j->dir, 0700) != 0) {
    rc = oast_err_set(e, OAST_EINTERNAL, "cannot create the job's directory \"%s\": %s", j->dir,
                      strerror(errno));
    goto fail;
  }
  struct slurm_script_in in = {j->dir, spec->cwd ? spec->cwd : p->cwd, spec->argv, spec->env,
                               spec->inherit_env, spec->gpus, title};
  script = slurm_script(&in);
  if (write_file(script_path, script, 0700) != 0) {
    rc = oast_err_set(e, OAST_EINTERNAL, "cannot write the batch script \"%s\": %s", script_path,
                      strerror(errno));
    goto fail;
  }
  j->wd = inotify_add_watch(p->inofd, j->dir, IN_CREATE | IN_MOVED_TO | IN_MODIFY | IN_CLOSE_WRITE);

  opts[nopts++] = xasprintf("--job-name=%s", name);
  opts[nopts++] = xasprintf("--output=%s/out", j->dir);
  opts[nopts++] = xasprintf("--error=%s/err", j->dir);
  opts[nopts++] = xasprintf("--chdir=%s", j->dir);
  opts[nopts++] = xasprintf("--cpus-per-task=%d", cpus);
  if (spec->gpus > 0) opts[nopts++] = xasprintf("--gres=gpu:%d", spec->gpus);
  if (spec->timeout_s > 0) opts[nopts++] = xasprintf("--time=%lld", time_minutes(spec->timeout_s));
  if (p->partition) opts[nopts++] = xasprintf("--partition=%s", p->partition);
  size_t k = 0;
  argv[k++] = "sbatch";
  argv[k++] = "--parsable";
  argv[k++] = "--export=ALL";
  argv[k++] = "--nodes=1";
  argv[k++] = "--ntasks=1";
  argv[k++] = "--no-requeue";
  argv[k++] = "--open-mode=append";
  for (size_t i = 0; i < nopts; i++) argv[k++] = opts[i];
  for (char **a = p->sbatch_args; *a && k < 63; a++) argv[k++] = *a;
  argv[k++] = script_path;
  argv[k] = NULL;

  int ok = slurm_run_cmd(argv, p->envp, p->submit_ms, 64 * 1024, &r) == 0;
  long long sid = ok ? slurm_parse_jobid(buf_cstr(&r.out)) : -1;
  if (ok && sid > 0) {
    note_run(p, "sbatch", &r, 1);
  } else {
    char *msg = slurm_run_message("sbatch", &r);
    if (ok) {
      rc = oast_err_set(e, OAST_EINTERNAL, "sbatch answered \"%.200s\", not a job id",
                        buf_cstr(&r.out));
    } else if (slurm_run_unreachable(&r)) {
      note_run(p, "sbatch", &r, 0);
      rc = oast_err_set(e, OAST_EUNAVAILABLE, "Slurm did not take the job: %s", msg);
      if (r.timed_out) {  /* it may have been queued all the same */
        pthread_mutex_lock(&p->mu);
        p->name_cancels = xreallocarray(p->name_cancels, p->nname_cancels + 1, sizeof(char *));
        p->name_cancels[p->nname_cancels++] = xstrdup(name);
        pthread_mutex_unlock(&p->mu);
        wake_watcher(p);
      }
    } else {
      note_run(p, "sbatch", &r, 1);  /* it answered */
      rc = oast_err_set(e, OAST_EBAD_REQUEST, "Slurm refused the job (%d CPU%s, %d GPU%s): %s",
                        cpus, plural(cpus), spec->gpus, plural(spec->gpus), msg);
    }
    free(msg);
    goto fail;
  }
  j->sid = sid;
  {
    char sidtxt[32];
    snprintf(sidtxt, sizeof sidtxt, "%lld\n", sid);
    char *sidpath = fs_join(j->dir, "slurm_id");
    if (write_file(sidpath, sidtxt, 0600) != 0)
      log_warn("slurm: cannot write \"%s\": %s", sidpath, strerror(errno));
    free(sidpath);
  }
  pthread_mutex_lock(&p->mu);
  j->prev = p->tail;
  if (p->tail)
    p->tail->next = j;
  else
    p->head = j;
  p->tail = j;
  p->njobs++;
  pthread_mutex_unlock(&p->mu);
  wake_watcher(p);
  if (jobid) *jobid = id;
  rc = 0;
  goto out;

fail:
  if (j->wd >= 0) inotify_rm_watch(p->inofd, j->wd);
  fs_remove_tree(j->dir, NULL);
  job_free(j);
out:
  for (size_t i = 0; i < nopts; i++) free(opts[i]);
  slurm_run_release(&r);
  free(script);
  free(title);
  free(script_path);
  free(name);
  return rc;
}

static struct sjob *find_job(struct slurm *p, uint64_t id) {
  for (struct sjob *j = p->head; j; j = j->next)
    if (j->id == id) return j;
  return NULL;
}

static int slurm_cancel(struct exec_pool *pool, uint64_t id, oast_err *e) {
  struct slurm *p = (struct slurm *)pool;
  pthread_mutex_lock(&p->mu);
  struct sjob *j = find_job(p, id);
  if (!j) {
    pthread_mutex_unlock(&p->mu);
    return oast_err_set(e, OAST_ENOT_FOUND, "job %llu is not queued or running",
                        (unsigned long long)id);
  }
  int fresh = !j->cancelled;
  if (fresh) {
    j->cancelled = 1;
    j->want_scancel = 1;
  }
  pthread_mutex_unlock(&p->mu);
  if (fresh) wake_watcher(p);
  return 0;
}

static void slurm_stats(struct exec_pool *pool, struct exec_stats *s) {
  struct slurm *p = (struct slurm *)pool;
  /* The totals come from sinfo, which the watcher asks at once; a caller
   * that comes first (a server checking a request against them right
   * after it started) asks itself rather than see none. */
  pthread_mutex_lock(&p->mu);
  int ask = !p->totals_known && !p->down;
  pthread_mutex_unlock(&p->mu);
  if (ask) poll_sinfo(p);
  pthread_mutex_lock(&p->mu);
  s->running = p->nrunning;
  s->unfinished = p->njobs;
  s->queued = p->njobs - p->nrunning;
  s->cpus_total = p->totals.cpus_total;
  s->cpus_free = p->totals.cpus_idle;
  s->gpus_total = p->totals.gpus_total;
  s->gpus_free = p->totals.gpus_total - p->totals.gpus_used;
  if (s->gpus_free < 0) s->gpus_free = 0;
  pthread_mutex_unlock(&p->mu);
}

static void slurm_wakeup(struct exec_pool *pool) { wake_loop((struct slurm *)pool); }

/* ---- the watcher thread ---- */

/* Runs scancel for ids (best effort); 0 when it succeeded. */
static int scancel_ids(struct slurm *p, const long long *ids, size_t n) {
  int rc = 0;
  for (size_t off = 0; off < n; off += SQUEUE_CHUNK) {
    size_t m = n - off < SQUEUE_CHUNK ? n - off : SQUEUE_CHUNK;
    char **argv = xcalloc(m + 2, sizeof *argv);
    argv[0] = "scancel";
    for (size_t i = 0; i < m; i++) argv[i + 1] = xasprintf("%lld", ids[off + i]);
    struct slurm_run r;
    if (run_slurm(p, argv, CMD_MS, &r) != 0) {
      char *msg = slurm_run_message("scancel", &r);
      log_warn("slurm: cannot cancel %zu job%s: %s", m, m == 1 ? "" : "s", msg);
      free(msg);
      rc = -1;
    }
    slurm_run_release(&r);
    for (size_t i = 0; i < m; i++) free(argv[i + 1]);
    free(argv);
  }
  return rc;
}

/* -1 when some failed (they are kept to be tried again). */
static int scancel_names(struct slurm *p) {
  pthread_mutex_lock(&p->mu);
  char **names = p->name_cancels;
  size_t n = p->nname_cancels;
  p->name_cancels = NULL;
  p->nname_cancels = 0;
  pthread_mutex_unlock(&p->mu);
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    char *opt = xasprintf("--name=%s", names[i]);
    char *argv[] = {"scancel", opt, NULL};
    struct slurm_run r;
    if (run_slurm(p, argv, CMD_MS, &r) != 0) {
      char *msg = slurm_run_message("scancel", &r);
      log_warn("slurm: cannot cancel the job named %s (its sbatch timed out): %s", names[i], msg);
      free(msg);
      rc = -1;
      pthread_mutex_lock(&p->mu);
      p->name_cancels = xreallocarray(p->name_cancels, p->nname_cancels + 1, sizeof(char *));
      p->name_cancels[p->nname_cancels++] = names[i];
      pthread_mutex_unlock(&p->mu);
    } else {
      free(names[i]);
    }
    slurm_run_release(&r);
    free(opt);
  }
  free(names);
  return rc;
}

static int cmp_ll(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return x < y ? -1 : x > y;
}

/* Sends the scancels the loop or callers asked for; -1 when some failed. */
static int send_cancels(struct slurm *p) {
  pthread_mutex_lock(&p->mu);
  size_t n = 0;
  for (struct sjob *j = p->head; j; j = j->next)
    if (j->want_scancel) n++;
  long long *ids = n ? xcalloc(n, sizeof *ids) : NULL;
  n = 0;
  for (struct sjob *j = p->head; j; j = j->next)
    if (j->want_scancel) ids[n++] = j->sid;
  pthread_mutex_unlock(&p->mu);
  if (!n) return 0;
  int rc = scancel_ids(p, ids, n);
  if (rc == 0) {
    qsort(ids, n, sizeof *ids, cmp_ll);
    pthread_mutex_lock(&p->mu);
    for (struct sjob *j = p->head; j; j = j->next)
      if (j->want_scancel && bsearch(&j->sid, ids, n, sizeof *ids, cmp_ll)) j->want_scancel = 0;
    pthread_mutex_unlock(&p->mu);
  }
  free(ids);
  return rc;
}

/* Asks squeue about every unfinished job and records the answers. */
static void poll_squeue(struct slurm *p) {
  pthread_mutex_lock(&p->mu);
  size_t n = p->njobs, k = 0;
  long long *ids = n ? xcalloc(n, sizeof *ids) : NULL;
  for (struct sjob *j = p->head; j && k < n; j = j->next) ids[k++] = j->sid;
  pthread_mutex_unlock(&p->mu);
  qsort(ids, k, sizeof *ids, cmp_ll);
  for (size_t off = 0; off < k; off += SQUEUE_CHUNK) {
    size_t m = k - off < SQUEUE_CHUNK ? k - off : SQUEUE_CHUNK;
    struct buf list;
    buf_init(&list, 0);
    buf_puts(&list, "--jobs=");
    for (size_t i = 0; i < m; i++) buf_printf(&list, i ? ",%lld" : "%lld", ids[off + i]);
    char *argv[] = {"squeue", "--noheader", "--all", "--states=all",
                    "--Format=JobID:|,State:|,exit_code:|,Reason:|", list.data, NULL};
    struct slurm_run r;
    int ok = run_slurm(p, argv, CMD_MS, &r) == 0;
    /* All of them unknown: squeue says so and fails. */
    int none = !ok && r.exited && strstr(buf_cstr(&r.err), "Invalid job id");
    if (!ok && !none) {
      char *msg = slurm_run_message("squeue", &r);
      log_debug("slurm: %s", msg);
      free(msg);
    } else {
      struct slurm_qrow *rows = NULL;
      size_t nrows = ok ? slurm_parse_squeue(buf_cstr(&r.out), &rows) : 0;
      pthread_mutex_lock(&p->mu);
      for (struct sjob *j = p->head; j; j = j->next) {
        if (!bsearch(&j->sid, ids + off, m, sizeof *ids, cmp_ll)) continue;
        const struct slurm_qrow *row = slurm_find_row(rows, nrows, j->sid);
        if (row) {
          j->q_known = 1;
          j->q_status = row->status;
          snprintf(j->q_state, sizeof j->q_state, "%s", row->state);
          snprintf(j->q_reason, sizeof j->q_reason, "%s", row->reason);
        } else {
          j->q_gone = 1;
        }
      }
      pthread_mutex_unlock(&p->mu);
      free(rows);
    }
    slurm_run_release(&r);
    buf_release(&list);
  }
  free(ids);
}

static void poll_sinfo(struct slurm *p) {
  char *part = p->partition ? xasprintf("--partition=%s", p->partition) : NULL;
  char *argv[] = {"sinfo", "--noheader", "--Node",
                  "--Format=NodeList:|,CPUsState:|,Gres:|,GresUsed:|,StateCompact:|", part, NULL};
  struct slurm_run r;
  if (run_slurm(p, argv, CMD_MS, &r) == 0) {
    struct slurm_totals t;
    slurm_parse_sinfo(buf_cstr(&r.out), &t);
    pthread_mutex_lock(&p->mu);
    p->totals = t;
    p->totals_known = 1;
    pthread_mutex_unlock(&p->mu);
    if (t.nodes == 0)
      log_warn("slurm: the partition %s has no nodes", p->partition ? p->partition : "(default)");
  }
  slurm_run_release(&r);
  free(part);
}

/* Jobs an earlier pool in this spool left behind: cancelled once, then
 * their directories go. */
static void clear_stale(struct slurm *p) {
  pthread_mutex_lock(&p->mu);
  long long *ids = p->stale;
  size_t n = p->nstale;
  p->stale = NULL;
  p->nstale = 0;
  pthread_mutex_unlock(&p->mu);
  if (n) {
    log_info("slurm: cancelling %zu job%s left by an earlier server", n, n == 1 ? "" : "s");
    scancel_ids(p, ids, n);
  }
  free(ids);
  DIR *d = opendir(p->spool);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.' || strcmp(de->d_name, p->token) == 0) continue;
    char *path = fs_join(p->spool, de->d_name);
    if (fs_is_dir(path)) fs_remove_tree(path, NULL);
    free(path);
  }
  closedir(d);
}

static void *watch_loop(void *arg) {
  struct slurm *p = arg;
  long long next_squeue = 0, next_confirm = 0, next_cancel = 0, last_sinfo = 0;
  long long confirm_ms = CONFIRM_FIRST_MS;
  int sinfo_done = 0;
  clear_stale(p);
  for (;;) {
    pthread_mutex_lock(&p->mu);
    if (p->stop) {
      pthread_mutex_unlock(&p->mu);
      break;
    }
    size_t njobs = p->njobs;
    int any_confirm = 0, any_cancel = p->nname_cancels > 0;
    for (struct sjob *j = p->head; j; j = j->next) {
      any_confirm |= j->confirm;
      any_cancel |= j->want_scancel;
    }
    pthread_mutex_unlock(&p->mu);

    long long now = now_ms();
    if (any_cancel && now >= next_cancel) {
      int failed = send_cancels(p) != 0;
      failed |= scancel_names(p) != 0;
      /* What failed is tried again a little later. */
      next_cancel = failed ? now_ms() + DOWN_PROBE_MS : 0;
    }
    int asked = 0;
    if (njobs && (now >= next_squeue || (any_confirm && now >= next_confirm))) {
      poll_squeue(p);
      asked = 1;
      now = now_ms();
      next_squeue = now + p->squeue_ms;
      if (any_confirm) {
        next_confirm = now + confirm_ms;
        confirm_ms = confirm_ms * 2 < p->squeue_ms ? confirm_ms * 2 : p->squeue_ms;
      }
    }
    if (!any_confirm) confirm_ms = CONFIRM_FIRST_MS;
    pthread_mutex_lock(&p->mu);
    long long sinfo_every = p->down ? DOWN_PROBE_MS : SINFO_MS;
    pthread_mutex_unlock(&p->mu);
    if (!sinfo_done || now - last_sinfo >= sinfo_every) {
      poll_sinfo(p);
      sinfo_done = 1;
      now = last_sinfo = now_ms();
    }
    if (asked) wake_loop(p);

    /* Sleep until the next thing is due, a file changes, or we are kicked. */
    pthread_mutex_lock(&p->mu);
    long long due = last_sinfo + (p->down ? DOWN_PROBE_MS : SINFO_MS);
    njobs = p->njobs;
    any_cancel = p->nname_cancels > 0;
    for (struct sjob *j = p->head; j; j = j->next) any_cancel |= j->want_scancel;
    pthread_mutex_unlock(&p->mu);
    if (njobs) {
      if (next_squeue < due) due = next_squeue;
      if (any_confirm && next_confirm < due) due = next_confirm;
      if (now + p->poll_ms < due) due = now + p->poll_ms;
    }
    if (any_cancel && next_cancel < due) due = next_cancel;
    long long wait = due - now;
    if (wait < 0) wait = 0;
    if (wait > INT_MAX) wait = INT_MAX;
    struct pollfd fds[2] = {{p->watchfd, POLLIN, 0}, {p->inofd, POLLIN, 0}};
    int k = poll(fds, 2, (int)wait);
    if (k > 0 && (fds[0].revents & POLLIN)) drain_fd(p->watchfd);
    if (k > 0 && (fds[1].revents & POLLIN)) {
      char evbuf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
      while (read(p->inofd, evbuf, sizeof evbuf) > 0) {}
      wake_loop(p);
    } else if (k == 0 && njobs) {
      wake_loop(p);  /* the periodic look at the files */
    }
  }
  return NULL;
}

/* ---- the loop thread: files, markers, callbacks ---- */

static struct exec_sink sink(struct slurm *p, struct sjob *j, struct sout *s) {
  return (struct exec_sink){.cb = &p->cb, .job = j->id, .user = j->user, .which = s->which,
                            .logfd = s->logfd, .log_path = s->log_path,
                            .log_failed = &j->log_failed, .tail = &j->tail, .wbuf = &p->wbuf,
                            .who = "slurm"};
}

/* The job already runs in Slurm: a log that cannot be opened is a warning,
 * as a log that cannot be written is. */
static int open_log(struct sjob *j, const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0)
    log_warn("slurm: job %llu: cannot open its log \"%s\": %s; its output is not kept there",
             (unsigned long long)j->id, path, strerror(errno));
  return fd;
}

/* Reads what the job wrote to one of its output files since the last
 * time; at the end also the unfinished last line. Returns 1 if anything
 * was read. */
static int read_out(struct slurm *p, struct sjob *j, struct sout *s, int end) {
  if (s->fd < 0) {
    char *path = job_file(j, s->name);
    s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    free(path);
    if (s->fd < 0) return 0;
  }
  int any = 0;
  for (;;) {
    ssize_t k = read(s->fd, p->rbuf, sizeof p->rbuf);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    any = 1;
    struct exec_sink ks = sink(p, j, s);
    exec_sink_feed(&ks, &s->split, p->line_max, p->rbuf, (size_t)k);
  }
  if (end) {
    struct exec_sink ks = sink(p, j, s);
    exec_sink_end(&ks, &s->split);
    close(s->fd);
    s->fd = -1;
  }
  return any;
}

/* Reads a marker file (at most MARKER_MAX bytes); NULL when absent. */
static char *read_marker(struct sjob *j, const char *name) {
  char *path = job_file(j, name), *text = NULL;
  size_t len;
  if (fs_read_all(path, MARKER_MAX, &text, &len, NULL) != 0) text = NULL;
  free(path);
  return text;
}

static void strip(char *s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == ' ')) s[--n] = '\0';
}

/* The `start` marker: on_start with the GPUs Slurm gave the job. */
static int check_start(struct slurm *p, struct sjob *j) {
  char *text = read_marker(j, "start");
  if (!text) return 0;
  char *nl = strchr(text, '\n');
  const char *gpus_txt = nl ? nl + 1 : "";
  char *g = xstrdup(gpus_txt);
  strip(g);
  int *gpus = NULL;
  size_t ng = 0;
  if (j->gpus > 0 && exec_gpu_parse(g, &gpus, &ng, NULL) != 0) ng = 0;
  free(g);
  free(text);
  j->started = 1;
  j->start_ns = now_ns();
  pthread_mutex_lock(&p->mu);
  j->running = 1;
  p->nrunning++;
  pthread_mutex_unlock(&p->mu);
  if (j->out_path) j->out.logfd = open_log(j, j->out_path);
  if (j->err_path) {
    if (j->out_path && strcmp(j->out_path, j->err_path) == 0)
      j->err.logfd = j->out.logfd;
    else
      j->err.logfd = open_log(j, j->err_path);
  }
  if (p->cb.on_start) p->cb.on_start(p->cb.ctx, j->id, j->user, 0, gpus, ng);
  free(gpus);
  return 1;
}

static int check_end_markers(struct slurm *p, struct sjob *j) {
  if (j->exit_seen || j->err_marker) return 0;
  char *text = read_marker(j, "exit");
  if (text) {
    j->exit_seen = 1;
    j->exit_rc = atoi(text);
    free(text);
  } else if ((text = read_marker(j, "error"))) {
    strip(text);
    j->err_marker = 1;
    free(j->error);
    j->error = text;
  } else {
    return 0;
  }
  j->exit_seen_ns = now_ns();
  pthread_mutex_lock(&p->mu);
  j->confirm = 1;
  pthread_mutex_unlock(&p->mu);
  wake_watcher(p);
  return 1;
}

/* The job is over: last output, on_exit, and it is gone. */
static void finish(struct slurm *p, struct sjob *j) {
  if (!j->started && !j->err_marker) check_start(p, j);
  read_out(p, j, &j->out, 1);
  read_out(p, j, &j->err, 1);
  if (j->err.logfd >= 0 && j->err.logfd != j->out.logfd) close(j->err.logfd);
  if (j->out.logfd >= 0) close(j->out.logfd);
  j->out.logfd = j->err.logfd = -1;

  pthread_mutex_lock(&p->mu);
  int cancelled = j->cancelled, timed_out = j->timed_out, gone = j->q_gone, known = j->q_known;
  int status = j->q_status;
  char state[24], reason[64];
  snprintf(state, sizeof state, "%s", j->q_state);
  snprintf(reason, sizeof reason, "%s", j->q_reason);
  pthread_mutex_unlock(&p->mu);

  struct exec_result r;
  memset(&r, 0, sizeof r);
  r.started = j->started && !j->err_marker;
  r.exit_code = -1;
  char *err = NULL;
  if (j->exit_seen) {
    if (j->exit_rc > 128 && j->exit_rc < 128 + 65)
      r.signal = j->exit_rc - 128;
    else
      r.exit_code = j->exit_rc;
  } else if (r.started && known && !gone) {
    if (WIFSIGNALED(status))
      r.signal = WTERMSIG(status);
    else if (WIFEXITED(status))
      r.exit_code = WEXITSTATUS(status);
  }
  if (strcmp(state, "TIMEOUT") == 0) timed_out = 1;
  if (!j->exit_seen && !j->err_marker && !j->error) {
    if (gone)
      err = xasprintf("Slurm no longer knows job %lld; its exit status is unknown", j->sid);
    else if (strcmp(state, "CANCELLED") == 0 && !cancelled && !timed_out)
      err = xasprintf("Slurm job %lld was cancelled outside Oast", j->sid);
    else if (!timed_out && !cancelled && strcmp(state, "COMPLETED") != 0)
      err = xasprintf("Slurm job %lld ended in state %s (%s)%s", j->sid, state,
                      *reason ? reason : "no reason given",
                      r.started ? "" : " before it started");
  }
  r.timed_out = timed_out;
  r.cancelled = cancelled;
  r.duration_s = r.started ? (double)(now_ns() - j->start_ns) / 1e9 : 0;
  r.error = err ? err : j->error;
  r.tail = exec_tail_str(&j->tail, &p->tailbuf);

  pthread_mutex_lock(&p->mu);
  if (j->prev)
    j->prev->next = j->next;
  else
    p->head = j->next;
  if (j->next)
    j->next->prev = j->prev;
  else
    p->tail = j->prev;
  if (j->running) p->nrunning--;
  pthread_mutex_unlock(&p->mu);
  if (j->wd >= 0) inotify_rm_watch(p->inofd, j->wd);
  if (p->cb.on_exit) p->cb.on_exit(p->cb.ctx, j->id, j->user, &r);
  /* Counted as unfinished until on_exit returned, as the local pool does. */
  pthread_mutex_lock(&p->mu);
  p->njobs--;
  pthread_mutex_unlock(&p->mu);
  free(err);
  fs_remove_tree(j->dir, NULL);
  job_free(j);
}

/* Looks at one job; returns how many things happened; *due_ns gets the
 * nearest timer (0: none). */
static int step(struct slurm *p, struct sjob *j, long long now, long long *due_ns) {
  int n = 0;
  if (!j->started && !j->err_marker) {
    check_end_markers(p, j);  /* an `error` comes instead of `start` */
    if (!j->err_marker) n += check_start(p, j);
  }
  n += read_out(p, j, &j->out, 0);
  n += read_out(p, j, &j->err, 0);
  n += check_end_markers(p, j);

  pthread_mutex_lock(&p->mu);
  int ended = j->q_gone ||
              (j->q_known && slurm_state_ended(j->q_state) &&
               (strcmp(j->q_state, "COMPLETING") != 0 || j->exit_seen || j->err_marker));
  if ((j->exit_seen || j->err_marker) && now - j->exit_seen_ns > (long long)EXIT_TRUST_MS * 1000000)
    ended = 1;  /* squeue has not answered for long: the marker is enough */
  int kick_watcher = 0;
  if (!ended && j->started && j->timeout_ns && !j->timed_out && !j->cancelled) {
    long long deadline = j->start_ns + j->timeout_ns;
    if (now >= deadline) {
      j->timed_out = 1;
      j->want_scancel = 1;
      kick_watcher = 1;
    } else if (!*due_ns || deadline < *due_ns) {
      *due_ns = deadline;
    }
  }
  pthread_mutex_unlock(&p->mu);
  if (kick_watcher) wake_watcher(p);
  if (ended) {
    finish(p, j);
    n++;
  }
  return n;
}

static int slurm_run_once(struct exec_pool *pool, int timeout_ms) {
  struct slurm *p = (struct slurm *)pool;
  /* Nothing is lost by waiting first: the eventfd stays readable. */
  long long due = 0;
  pthread_mutex_lock(&p->mu);
  for (struct sjob *j = p->head; j; j = j->next)
    if (j->started && j->timeout_ns && !j->timed_out && !j->cancelled &&
        (!due || j->start_ns + j->timeout_ns < due))
      due = j->start_ns + j->timeout_ns;
  pthread_mutex_unlock(&p->mu);
  int wait = timeout_ms;
  if (due) {
    long long ms = (due - now_ns() + 999999) / 1000000;
    if (ms < 0) ms = 0;
    if (wait < 0 || ms < wait) wait = (int)(ms > INT_MAX ? INT_MAX : ms);
  }
  struct pollfd pf = {p->loopfd, POLLIN, 0};
  int k = poll(&pf, 1, wait);
  int kicked = k > 0 && drain_fd(p->loopfd);
  long long now = now_ns();
  if (!kicked && !(due && now >= due)) return 0;

  /* A snapshot of the list: only this thread removes jobs, so the
   * pointers stay valid; jobs submitted meanwhile wait for the next call. */
  pthread_mutex_lock(&p->mu);
  if (p->snap_cap < p->njobs) {
    p->snap_cap = p->njobs * 2;
    p->snap = xreallocarray(p->snap, p->snap_cap, sizeof *p->snap);
  }
  size_t n = 0;
  for (struct sjob *j = p->head; j; j = j->next) p->snap[n++] = j;
  pthread_mutex_unlock(&p->mu);
  int handled = 0;
  long long next_due = 0;
  for (size_t i = 0; i < n; i++) handled += step(p, p->snap[i], now, &next_due);
  return handled;
}

/* ---- creation and teardown ---- */

static void slurm_free(struct exec_pool *pool) {
  struct slurm *p = (struct slurm *)pool;
  if (p->watcher_started) {
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_mutex_unlock(&p->mu);
    wake_watcher(p);
    pthread_join(p->watcher, NULL);
  }
  /* What still runs dies with the pool, as local processes do. */
  size_t n = 0;
  for (struct sjob *j = p->head; j; j = j->next) n++;
  if (n) {
    long long *ids = xcalloc(n, sizeof *ids);
    n = 0;
    for (struct sjob *j = p->head; j; j = j->next) ids[n++] = j->sid;
    scancel_ids(p, ids, n);
    free(ids);
  }
  while (p->head) {
    struct sjob *j = p->head;
    p->head = j->next;
    if (j->out.fd >= 0) close(j->out.fd);
    if (j->err.fd >= 0) close(j->err.fd);
    if (j->err.logfd >= 0 && j->err.logfd != j->out.logfd) close(j->err.logfd);
    if (j->out.logfd >= 0) close(j->out.logfd);
    job_free(j);
  }
  if (p->pooldir) fs_remove_tree(p->pooldir, NULL);
  for (size_t i = 0; i < p->nname_cancels; i++) free(p->name_cancels[i]);
  free(p->name_cancels);
  free(p->stale);
  free(p->snap);
  buf_release(&p->wbuf);
  buf_release(&p->tailbuf);
  if (p->inofd >= 0) close(p->inofd);
  if (p->loopfd >= 0) close(p->loopfd);
  if (p->watchfd >= 0) close(p->watchfd);
  if (p->lockfd >= 0) close(p->lockfd);
  exec_strv_free(p->sbatch_args);
  exec_strv_free(p->envp);
  free(p->down_msg);
  free(p->spool);
  free(p->pooldir);
  free(p->token);
  free(p->partition);
  free(p->cwd);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

static const struct executor_ops slurm_ops = {
    .name = "slurm",
    .submit = slurm_submit,
    .cancel = slurm_cancel,
    .run_once = slurm_run_once,
    .wakeup = slurm_wakeup,
    .stats = slurm_stats,
    .free = slurm_free,
};

/* Whether name is an executable file in PATH. */
static int in_path(const char *name) {
  const char *path = getenv("PATH");
  if (!path) path = "/usr/bin:/bin";
  char *copy = xstrdup(path), *save = NULL;
  int found = 0;
  for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
    char *f = fs_join(*d ? d : ".", name);
    found = access(f, X_OK) == 0;
    free(f);
  }
  free(copy);
  return found;
}

/* The server's environment, with SLURM_CONF set to conf when given. */
static char **build_envp(const char *conf) {
  size_t n = 0;
  while (environ[n]) n++;
  char **v = xcalloc(n + 2, sizeof *v);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (conf && strncmp(environ[i], "SLURM_CONF=", 11) == 0) continue;
    v[k++] = xstrdup(environ[i]);
  }
  if (conf) v[k++] = xasprintf("SLURM_CONF=%s", conf);
  return v;
}

/* Collects the Slurm ids an earlier pool left in spool (their slurm_id files). */
static void find_stale(struct slurm *p) {
  DIR *d = opendir(p->spool);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char *pdir = fs_join(p->spool, de->d_name);
    DIR *jd = opendir(pdir);
    if (jd) {
      struct dirent *je;
      while ((je = readdir(jd))) {
        if (je->d_name[0] == '.') continue;
        char *jdir = fs_join(pdir, je->d_name);
        char *f = fs_join(jdir, "slurm_id"), *text = NULL;
        size_t len;
        if (fs_read_all(f, 64, &text, &len, NULL) == 0) {
          long long id = slurm_parse_jobid(text);
          if (id > 0) {
            p->stale = xreallocarray(p->stale, p->nstale + 1, sizeof *p->stale);
            p->stale[p->nstale++] = id;
          }
          free(text);
        }
        free(f);
        free(jdir);
      }
      closedir(jd);
    }
    free(pdir);
  }
  closedir(d);
}

int exec_slurm_new(const struct exec_slurm_config *cfg, const struct exec_callbacks *cb,
                   struct exec_pool **out, oast_err *e) {
  *out = NULL;
  if (!cfg || !cfg->spool_dir || !*cfg->spool_dir)
    return oast_err_set(e, OAST_EBAD_REQUEST, "the Slurm executor needs a spool directory");
  if (cfg->line_max > MAX_LINE_MAX)
    return oast_err_set(e, OAST_EBAD_REQUEST, "line_max is over %d bytes", MAX_LINE_MAX);
  if (cfg->submit_timeout_ms < 0 || cfg->poll_ms < 0 || cfg->squeue_ms < 0)
    return oast_err_set(e, OAST_EBAD_REQUEST, "the Slurm executor's intervals must not be negative");
  if (cfg->partition && (!*cfg->partition || strpbrk(cfg->partition, " \t\n,")))
    return oast_err_set(e, OAST_EBAD_REQUEST, "the Slurm partition \"%s\" is not a partition name",
                        cfg->partition);
  for (const char *const *a = cfg->sbatch_args; a && *a; a++) {
    if ((*a)[0] != '-')
      return oast_err_set(e, OAST_EBAD_REQUEST, "the sbatch option \"%s\" does not start with '-'",
                          *a);
    if (a - cfg->sbatch_args >= 32)
      return oast_err_set(e, OAST_EBAD_REQUEST, "more than 32 extra sbatch options");
  }
  if (!in_path("sbatch"))
    return oast_err_set(e, OAST_EUNAVAILABLE,
                        "sbatch is not in PATH: the Slurm executor needs Slurm's client commands");
  if (cfg->spool_dir[0] != '/')
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "the Slurm spool directory \"%s\" must be an absolute path",
                        cfg->spool_dir);
  int rc = fs_mkdirs(cfg->spool_dir, 0700, e);
  if (rc) return rc;

  struct slurm *p = xcalloc(1, sizeof *p);
  p->base.ops = &slurm_ops;
  if (cb) p->cb = *cb;
  p->notify = cfg->notify;
  p->notify_arg = cfg->notify_arg;
  pthread_mutex_init(&p->mu, NULL);
  p->lockfd = p->inofd = p->loopfd = p->watchfd = -1;
  p->spool = xstrdup(cfg->spool_dir);
  p->partition = cfg->partition ? xstrdup(cfg->partition) : NULL;
  p->sbatch_args = exec_strv_copy(cfg->sbatch_args, (size_t)-1);
  p->envp = build_envp(cfg->slurm_conf);
  p->submit_ms = cfg->submit_timeout_ms ? cfg->submit_timeout_ms : DEFAULT_SUBMIT_MS;
  p->poll_ms = cfg->poll_ms ? cfg->poll_ms : DEFAULT_POLL_MS;
  p->squeue_ms = cfg->squeue_ms ? cfg->squeue_ms : DEFAULT_SQUEUE_MS;
  p->line_max = cfg->line_max ? cfg->line_max : DEFAULT_LINE_MAX;
  p->max_jobs = cfg->max_jobs ? cfg->max_jobs : DEFAULT_MAX_JOBS;
  p->next_id = 1;
  buf_init(&p->wbuf, 0);
  buf_init(&p->tailbuf, 0);
  char cwd[PATH_MAX];
  p->cwd = xstrdup(getcwd(cwd, sizeof cwd) ? cwd : "/");

  char *lock = fs_join(p->spool, ".lock");
  p->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  free(lock);
  if (p->lockfd < 0) {
    rc = oast_err_set(e, OAST_EINTERNAL, "cannot open the lock of the Slurm spool \"%s\": %s",
                      p->spool, strerror(errno));
    goto fail;
  }
  if (flock(p->lockfd, LOCK_EX | LOCK_NB) != 0) {
    rc = oast_err_set(e, OAST_ECONFLICT, "the Slurm spool \"%s\" is used by another executor",
                      p->spool);
    goto fail;
  }
  unsigned char rnd[4];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
    unsigned x = (unsigned)getpid() ^ (unsigned)now_ns();
    memcpy(rnd, &x, sizeof rnd);
  }
  p->token = xasprintf("%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
  find_stale(p);
  p->pooldir = fs_join(p->spool, p->token);
  if ((rc = fs_mkdirs(p->pooldir, 0700, e))) goto fail;
  p->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  p->loopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  p->watchfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (p->inofd < 0 || p->loopfd < 0 || p->watchfd < 0) {
    rc = oast_err_set(e, OAST_EINTERNAL, "cannot create the Slurm executor's event loop: %s",
                      strerror(errno));
    goto fail;
  }
  if (pthread_create(&p->watcher, NULL, watch_loop, p) != 0) {
    rc = oast_err_set(e, OAST_EINTERNAL, "cannot start the Slurm executor's thread");
    goto fail;
  }
  p->watcher_started = 1;
  *out = &p->base;
  return 0;
fail:
  slurm_free(&p->base);
  return rc;
}
