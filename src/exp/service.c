/*
 * service.c — experiments as the server runs them (see service.h).
 *
 * Every running experiment is a struct exp_run holding its optimizer and
 * its trials in flight. The scheduler thread drives it: its tick (and the
 * exit of any trial) asks the optimizer for trials while the experiment
 * has fewer than `parallelism` in flight and the pool has nothing queued,
 * so a slot freed by one trial is taken by the next in the same loop
 * iteration, with no stage barrier. Each trial is one process (an
 * exec_spec submitted as a sched_task) that gets its parameters and a
 * token of its own in the environment, and talks back over REST: reports
 * go to the optimizer (which may answer "stop"), a final result is kept
 * until the process ends.
 *
 * Persistence is incremental: each decision writes, in one transaction,
 * the trial's row (with the optimizer's record of that trial) and the
 * optimizer's head (opt_save_head). The rows put back together are
 * exactly opt_save, so after a restart opt_restore rebuilds the optimizer
 * and the trials that were running are handed out again. Saving the whole
 * state after every decision would cost O(trials) per decision, which
 * 10,000 trials cannot afford. The trial's files (.hparams.json,
 * .outputs.json, .metric) are written beside the rows and rewritten from
 * them on resume when missing.
 *
 * Every trial line goes to the trial's output.log and, with the prefix
 * "[trial N] ", to the experiment's experiment.log, which log followers
 * read; a condition variable tells them a line was written. output.log is
 * created with the trial's first line, and .outputs.json only when the
 * trial returned something: creating files is most of what a trial costs
 * the server beyond the process itself (see docs/BENCHMARKS.md), so a
 * silent trial that returns nothing costs its folder and .hparams.json.
 */
#define _GNU_SOURCE
#include "exp/service.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/cache.h"
#include "exec/sched.h"
#include "exp/field.h"
#include "exp/tfevents.h"
#include "exp/trialrec.h"
#include "http/server.h"
#include "meta/meta.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"

#define TOKEN_SPARE_S 3600               /* a trial token outlives its timeout by this */
#define TOKEN_TTL_S (30LL * 24 * 3600)   /* ... or lives this long without one */
#define LOG_LINE_MAX 65536

struct exp_run;
struct trial_run;

/* One process of a distributed run: a worker, or the mpirun of an MPI run. */
struct trial_proc {
  struct sched_task task;      /* the scheduler's handle; ops and job */
  struct trial_run *T;
  int rank;                    /* its worker; -1: the mpirun of an MPI run */
  bool live;                   /* queued or running: its exit is still to come */
};

struct trial_run {
  struct sched_task task;      /* the scheduler's handle; ops and job */
  struct exp_run *run;
  struct trial_run *next;      /* in run->inflight */
  int64_t id;                  /* trials.id */
  int num;                     /* the optimizer's trial id, the experiment's trial number */
  json_t *params;              /* owned */
  char token_hash[65];
  char *dir;                   /* the trial's folder, owned */
  int64_t submitted_us, started_us;
  char gpus[128];
  bool stop_said, cancel_sent;
  int64_t stop_at_us;
  bool has_final;
  double final_metric;
  json_t *outputs;             /* owned, or NULL */
  int64_t nreports;
  struct tfevents tb;
  bool tb_open;
  int outfd;                   /* output.log, opened with the first line; -1 before */
  /* A distributed run (the spec's dist.workers > 0); procs NULL otherwise. */
  struct trial_proc *procs;
  int nprocs, nlive;
  struct dist_worker *workers; /* spec->dist.workers of them */
  int fail_rank;               /* the worker whose failure ends the run, -1: none */
  bool failing;                /* a worker failed: the others are being stopped */
  bool cancelling;             /* trial_cancel was called: what ends now was killed */
  bool has_decide, decide_bad; /* decide holds a result; it is not a clean exit */
  struct exec_result decide;   /* what decides the run: the first worker not ok, else rank 0's */
  char *decide_error, *decide_tail;  /* decide's strings, owned */
  struct dist_mpi_reader mpi;  /* launched by mpirun: its output back into ranks' lines */
};

struct exp_run {
  pthread_mutex_t mu;
  struct exp_run *next;        /* in the service's list (service mutex) */
  int refs;                    /* service mutex */
  int64_t id, project_id, user_id;
  char project[64];
  char *dir;                   /* owned */
  struct exp_spec *spec;       /* owned; the optimizer borrows its search space */
  struct optimizer *opt;
  int64_t *ids;                /* trials.id by trial number, 0 when not created */
  size_t nids;
  struct trial_run *inflight;
  int ninflight;
  bool stopping, opt_done, any_ok, done;
  char *failure;               /* why the experiment failed as a whole, or NULL */
  int logfd;
};

struct trial_ref {
  int64_t trial_id;
  struct exp_run *run;
};

struct exp_service {
  pthread_mutex_t mu;
  pthread_cond_t log_cond;
  uint64_t log_gen;
  int followers;
  struct exp_run *runs;
  struct trial_ref *map;       /* trials in flight, unordered */
  size_t nmap, capmap;
  /* scheduler thread only */
  bool txn;                    /* a write transaction of decisions is open */
  char *addr;
  char *pythonpath;            /* the directory holding the oast package, or NULL */
  char *python;                /* what "python3" runs as (server_python_exe) */
  struct exp_run **snap;
  size_t capsnap;
};

static const struct sched_task_ops trial_ops;

/* ---- small helpers ---- */

char *exp_dir(struct server *s, const char *project, int64_t id) {
  return xasprintf("%s/%s/Experiments/%" PRId64, s->fs_root, project, id);
}

char *exp_trial_dir(const char *dir, int number) { return xasprintf("%s/trial_%d", dir, number); }

void exp_time_iso_us(int64_t us, char out[40]) {
  time_t t = (time_t)(us / 1000000);
  struct tm tm;
  gmtime_r(&t, &tm);
  size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 40 - n, ".%06dZ", (int)(us % 1000000));
}

static void notify_followers(struct exp_service *v) {
  pthread_mutex_lock(&v->mu);
  v->log_gen++;
  if (v->followers) pthread_cond_broadcast(&v->log_cond);
  pthread_mutex_unlock(&v->mu);
}

uint64_t exp_service_log_gen(struct server *s) {
  struct exp_service *v = s->exp;
  pthread_mutex_lock(&v->mu);
  uint64_t g = v->log_gen;
  pthread_mutex_unlock(&v->mu);
  return g;
}

void exp_service_log_wait(struct server *s, uint64_t gen, int ms) {
  struct exp_service *v = s->exp;
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_nsec += (long)ms * 1000000L;
  until.tv_sec += until.tv_nsec / 1000000000L;
  until.tv_nsec %= 1000000000L;
  pthread_mutex_lock(&v->mu);
  v->followers++;
  while (v->log_gen == gen && !s->stopping)
    if (pthread_cond_timedwait(&v->log_cond, &v->mu, &until) == ETIMEDOUT) break;
  v->followers--;
  pthread_mutex_unlock(&v->mu);
}

static void write_fully(int fd, const char *p, size_t n) {
  while (fd >= 0 && n) {
    ssize_t k = write(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return;
    p += k;
    n -= (size_t)k;
  }
}

/* Appends "[prefix] text\n" for each line of text (n bytes) to fd in one write. */
static void write_prefixed(int fd, const char *prefix, const char *text, size_t n) {
  struct buf b;
  buf_init(&b, 0);
  const char *p = text, *end = text + n;
  do {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (len > LOG_LINE_MAX) len = LOG_LINE_MAX;
    buf_printf(&b, "[%s] ", prefix);
    buf_append(&b, p, len);
    buf_putc(&b, '\n');
    p = nl ? nl + 1 : end;
  } while (p < end);
  write_fully(fd, b.data, b.len);
  buf_release(&b);
}

static void run_log(struct server *s, struct exp_run *R, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void run_log(struct server *s, struct exp_run *R, const char *prefix, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = NULL;
  if (vasprintf(&text, fmt, ap) < 0) text = NULL;
  va_end(ap);
  if (!text) return;
  write_prefixed(R->logfd, prefix, text, strlen(text));
  free(text);
  notify_followers(s->exp);
}

static void trial_prefix(int num, char out[32]) { snprintf(out, 32, "trial %d", num); }

static void worker_prefix(int rank, char out[32]) {
  if (rank >= 0) snprintf(out, 32, "worker %d", rank);
  else snprintf(out, 32, "mpirun");
}

/* Why a trial's or worker's process ended badly, in a few words; the caller frees it. */
static char *why_text(const struct exec_result *r, double timeout_s) {
  if (!r->started) return xasprintf("could not start: %s", r->error ? r->error : "unknown error");
  if (r->timed_out) return xasprintf("timed out after %g s", timeout_s);
  if (r->signal) return xasprintf("killed by signal %d (%s)", r->signal, strsignal(r->signal));
  return xasprintf("exit code %d", r->exit_code);
}

static char *dump_params(const json_t *p) { return json_dumps(p, JSON_COMPACT | JSON_ENCODE_ANY); }

/* The address trials call: the server's own, once it listens. */
static const char *service_addr(struct server *s) {
  struct exp_service *v = s->exp;
  if (!v->addr) v->addr = server_self_addr(s);
  return v->addr;
}

/* ---- the service ---- */

static void tick(struct server *s, void *arg);
static void resume_all(struct server *s);

int exp_service_init(struct server *s, oast_err *e) {
  struct exp_service *v = xcalloc(1, sizeof *v);
  pthread_mutex_init(&v->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_cond_init(&v->log_cond, &ca);
  pthread_condattr_destroy(&ca);
  v->pythonpath = server_python_dir();
  v->python = server_python_exe();
  s->exp = v;
  sched_add_tick(s, tick, NULL);
  /* Before the server takes requests: experiments a restart interrupted
   * are back in the list before anyone can ask about them. */
  resume_all(s);
  return 0;
}

static void trial_free(struct trial_run *T) {
  if (!T) return;
  free(T->procs);
  if (T->workers) dist_workers_free(T->workers, T->run->spec->dist.workers);
  dist_mpi_reader_release(&T->mpi);
  free(T->decide_error);
  free(T->decide_tail);
  json_decref(T->params);
  json_decref(T->outputs);
  if (T->tb_open) tfevents_release(&T->tb);
  if (T->outfd >= 0) close(T->outfd);
  free(T->dir);
  free(T);
}

static void run_free(struct exp_run *R) {
  if (!R) return;
  while (R->inflight) {
    struct trial_run *T = R->inflight;
    R->inflight = T->next;
    trial_free(T);
  }
  opt_free(R->opt);
  exp_spec_free(R->spec);
  if (R->logfd >= 0) close(R->logfd);
  pthread_mutex_destroy(&R->mu);
  free(R->ids);
  free(R->dir);
  free(R->failure);
  free(R);
}

void exp_service_free(struct server *s) {
  struct exp_service *v = s->exp;
  if (!v) return;
  while (v->runs) {
    struct exp_run *R = v->runs;
    v->runs = R->next;
    run_free(R);
  }
  free(v->map);
  free(v->snap);
  free(v->addr);
  free(v->pythonpath);
  free(v->python);
  pthread_cond_destroy(&v->log_cond);
  pthread_mutex_destroy(&v->mu);
  free(v);
  s->exp = NULL;
}

static struct exp_run *run_new(int64_t id, int64_t project_id, const char *project, int64_t user_id,
                               const char *dir, struct exp_spec *sp, struct optimizer *opt) {
  struct exp_run *R = xcalloc(1, sizeof *R);
  pthread_mutex_init(&R->mu, NULL);
  R->id = id;
  R->project_id = project_id;
  R->user_id = user_id;
  snprintf(R->project, sizeof R->project, "%s", project);
  R->dir = xstrdup(dir);
  R->spec = sp;
  R->opt = opt;
  char *log = fs_join(dir, "experiment.log");
  R->logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (R->logfd < 0) log_error("experiment %" PRId64 ": cannot open %s: %s", id, log, strerror(errno));
  free(log);
  return R;
}

static void run_add(struct exp_service *v, struct exp_run *R) {
  pthread_mutex_lock(&v->mu);
  R->next = v->runs;
  v->runs = R;
  pthread_mutex_unlock(&v->mu);
}

static void unref(struct exp_service *v, struct exp_run *R) {
  pthread_mutex_lock(&v->mu);
  R->refs--;
  pthread_mutex_unlock(&v->mu);
}

static struct exp_run *ref_run(struct exp_service *v, int64_t id) {
  pthread_mutex_lock(&v->mu);
  struct exp_run *R = v->runs;
  while (R && R->id != id) R = R->next;
  if (R) R->refs++;
  pthread_mutex_unlock(&v->mu);
  return R;
}

static struct exp_run *ref_trial(struct exp_service *v, int64_t trial_id) {
  struct exp_run *R = NULL;
  pthread_mutex_lock(&v->mu);
  for (size_t i = 0; i < v->nmap; i++)
    if (v->map[i].trial_id == trial_id) {
      R = v->map[i].run;
      R->refs++;
      break;
    }
  pthread_mutex_unlock(&v->mu);
  return R;
}

static void map_add(struct exp_service *v, int64_t trial_id, struct exp_run *R) {
  pthread_mutex_lock(&v->mu);
  if (v->nmap == v->capmap) {
    v->capmap = v->capmap ? 2 * v->capmap : 16;
    v->map = xreallocarray(v->map, v->capmap, sizeof *v->map);
  }
  v->map[v->nmap++] = (struct trial_ref){trial_id, R};
  pthread_mutex_unlock(&v->mu);
}

static void map_del(struct exp_service *v, int64_t trial_id) {
  pthread_mutex_lock(&v->mu);
  for (size_t i = 0; i < v->nmap; i++)
    if (v->map[i].trial_id == trial_id) {
      v->map[i] = v->map[--v->nmap];
      break;
    }
  pthread_mutex_unlock(&v->mu);
}

static struct trial_run *find_inflight(struct exp_run *R, int64_t trial_id) {
  for (struct trial_run *T = R->inflight; T; T = T->next)
    if (T->id == trial_id) return T;
  return NULL;
}

static void set_id(struct exp_run *R, int num, int64_t id) {
  if ((size_t)num >= R->nids) {
    size_t n = R->nids ? R->nids : 16;
    while (n <= (size_t)num) n *= 2;
    R->ids = xreallocarray(R->ids, n, sizeof *R->ids);
    memset(R->ids + R->nids, 0, (n - R->nids) * sizeof *R->ids);
    R->nids = n;
  }
  R->ids[num] = id;
}

static int64_t id_of(const struct exp_run *R, int num) {
  return num >= 0 && (size_t)num < R->nids ? R->ids[num] : 0;
}

/* ---- persistence ---- */

/* The optimizer's head, and (after a trial ended, with_best) the best trial. */
static int save_head(struct server *s, struct exp_run *R, bool with_best, oast_err *e) {
  json_t *head = opt_save_head(R->opt);
  char *text = json_dump(head);
  json_decref(head);
  double best_metric = NAN;
  int best = with_best ? opt_best(R->opt, &best_metric) : -1;
  int rc;
  if (best >= 0 && id_of(R, best))
    rc = meta_exec(s->meta, e, "UPDATE experiments SET opt_head = ?, best_trial = ?, best_metric = ? WHERE id = ?",
                   "sidi", text, id_of(R, best), best_metric, R->id);
  else
    rc = meta_exec(s->meta, e, "UPDATE experiments SET opt_head = ? WHERE id = ?", "si", text, R->id);
  free(text);
  if (!rc && meta_changes(s->meta) == 0)
    rc = oast_err_set(e, OAST_ENOT_FOUND, "experiment %" PRId64 " no longer exists", R->id);
  return rc;
}

static char *trial_record(struct exp_run *R, int num) {
  json_t *rec = opt_save_trial(R->opt, num);
  char *text = json_dump(rec);
  json_decref(rec);
  return text;
}

/*
 * The decisions made in one step of the scheduler thread (a trial's end
 * and the trials started in its place, or what a tick starts for one
 * experiment) share one write transaction, committed by txn_close before
 * the pool starts the new processes; each decision is a savepoint of it,
 * so a failed one is undone alone. One commit per step instead of one
 * per decision halves the database's work per trial.
 */
static int decision_begin(struct server *s, oast_err *e) {
  struct exp_service *v = s->exp;
  if (!v->txn) {
    int rc = meta_begin(s->meta, e);
    if (rc) return rc;
    v->txn = true;
  }
  return meta_exec(s->meta, e, "SAVEPOINT decision", "");
}

static int decision_end(struct server *s, int rc, oast_err *e) {
  if (rc) {
    meta_exec(s->meta, NULL, "ROLLBACK TO decision", "");
    meta_exec(s->meta, NULL, "RELEASE decision", "");
    return rc;
  }
  return meta_exec(s->meta, e, "RELEASE decision", "");
}

static void run_abort(struct server *s, struct exp_run *R, const oast_err *why);

/* Kills a trial: its process, or every live process of a distributed run. */
static void trial_cancel(struct server *s, struct trial_run *T) {
  T->cancelling = true;
  if (!T->procs) {
    sched_cancel(s, &T->task, NULL);
    return;
  }
  for (int i = 0; i < T->nprocs; i++)
    if (T->procs[i].live) sched_cancel(s, &T->procs[i].task, NULL);
}

static void txn_close(struct server *s, struct exp_run *R) {
  struct exp_service *v = s->exp;
  if (!v->txn) return;
  v->txn = false;
  oast_err e;
  oast_err_clear(&e);
  if (meta_commit(s->meta, &e) != 0) run_abort(s, R, &e);
  auth_cache_invalidate(s); /* revoked trial tokens */
}

/* The experiment cannot go on (its project was deleted, the database
 * refuses writes): no new trials, running ones are killed. */
static void run_abort(struct server *s, struct exp_run *R, const oast_err *why) {
  if (!R->failure) R->failure = xstrdup(why->msg);
  if (!R->stopping) log_error("experiment %" PRId64 ": %s", R->id, why->msg);
  R->stopping = true;
  for (struct trial_run *T = R->inflight; T; T = T->next) trial_cancel(s, T);
}

/* ---- starting trials ---- */

static void trial_done(struct server *s, struct exp_run *R, struct trial_run *T, const struct exec_result *r);

/* The trial's output.log, created on first use (-1 when it cannot be). */
static int trial_out(struct trial_run *T) {
  if (T->outfd < 0) {
    char *path = fs_join(T->dir, "output.log");
    T->outfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (T->outfd < 0) log_warn("cannot open %s: %s", path, strerror(errno));
    free(path);
  }
  return T->outfd;
}

static char *env_entry(const char *name, const char *value) { return xasprintf("%s=%s", name, value); }

/* A command's "python3" runs the server's Python; anything else as given. */
static const char *python_or(const struct exp_service *v, const char *prog) {
  return !strcmp(prog, "python3") ? v->python : prog;
}

static const struct sched_task_ops worker_ops;
static void workers_over(struct server *s, struct exp_run *R, struct trial_run *T);

/* Keeps r as what decides a distributed run (its strings copied). */
static void keep_decide(struct trial_run *T, const struct exec_result *r, bool bad) {
  free(T->decide_error);
  free(T->decide_tail);
  T->decide = *r;
  T->decide_error = r->error ? xstrdup(r->error) : NULL;
  T->decide_tail = xstrdup(r->tail ? r->tail : "");
  T->decide.error = T->decide_error;
  T->decide.tail = T->decide_tail;
  T->has_decide = true;
  T->decide_bad = bad;
}

/* The workers' states into the trial's row, so GET shows them live;
 * commit: close the step's transaction (else the caller does). */
static void save_workers(struct server *s, struct exp_run *R, struct trial_run *T, bool commit) {
  json_t *j = dist_workers_json(&R->spec->dist, T->workers, R->spec->dist.workers);
  char *text = json_dump(j);
  json_decref(j);
  oast_err e;
  oast_err_clear(&e);
  int rc = decision_begin(s, &e);
  if (!rc) rc = meta_exec(s->meta, &e, "UPDATE trials SET workers = ? WHERE id = ?", "si", text, T->id);
  rc = decision_end(s, rc, &e);
  free(text);
  if (commit) txn_close(s, R);
  if (rc) run_abort(s, R, &e);
}

/* Whether the experiment's work goes to the Slurm executor. */
static bool on_slurm(struct server *s, const struct exp_run *R) {
  const char *x = R->spec->executor ? R->spec->executor : s->cfg.executor;
  return x && !strcmp(x, "slurm");
}

/*
 * Submits the processes of a distributed run together: one per worker,
 * each with its rank's variables on top of the trial's environment
 * (env[0..k) with room after it), or one mpirun that launches every rank
 * (the mpi strategy, and every strategy on Slurm, where one job on one
 * node holds the whole run; see distributed.h). All or nothing: when one
 * cannot be queued, those already queued are cancelled and the run fails
 * with the reason. The local pool is strictly first in, first out and the
 * experiment was refused unless it can hold every worker at once, so the
 * workers start together as soon as there is room.
 */
static void start_workers(struct server *s, struct exp_run *R, struct trial_run *T, const struct exec_spec *spec,
                          const char **argv, size_t nargv, char **env, size_t k) {
  const struct exp_dist *d = &R->spec->dist;
  bool launcher = d->strategy == DIST_MPI || on_slurm(s, R);
  oast_err e;
  oast_err_clear(&e);
  T->nprocs = launcher ? 1 : d->workers;
  T->procs = xcalloc((size_t)T->nprocs, sizeof *T->procs);
  T->workers = dist_workers_new(d->workers);
  T->fail_rank = -1;
  if (launcher) dist_mpi_reader_init(&T->mpi, d->workers);
  int *ports = xcalloc((size_t)d->workers + 1, sizeof *ports);
  int rc = d->strategy == DIST_MPI ? 0 : dist_free_ports(d->workers + 1, ports, &e);
  const char **margv = launcher ? dist_mpi_argv(d, argv, nargv, geteuid() == 0) : NULL;
  int i;
  for (i = 0; !rc && i < T->nprocs; i++) {
    struct trial_proc *P = &T->procs[i];
    P->task.ops = &worker_ops;
    P->T = T;
    P->rank = launcher ? -1 : i;
    size_t m = dist_worker_env(d, P->rank, ports[0], ports + 1, env + k);
    env[k + m] = NULL;
    struct exec_spec ws = *spec;
    ws.env = (const char *const *)env;
    if (launcher) {
      ws.argv = margv;
      ws.cpus = (spec->cpus ? spec->cpus : 1) * d->workers;
      ws.gpus = spec->gpus * d->workers;
    }
    P->live = true;
    T->nlive++;
    rc = sched_submit_on(s, R->spec->executor, &ws, &P->task, &e);
    if (rc) {
      P->live = false;
      T->nlive--;
    }
    for (size_t j = k; j < k + m; j++) {
      free(env[j]);
      env[j] = NULL;
    }
  }
  free(ports);
  free(margv);
  if (!rc) {
    save_workers(s, R, T, false); /* queued, from the start */
    return;
  }
  /* Nothing of it runs: the queued ones go, and the run fails with why. */
  struct exec_result r = {0};
  r.exit_code = -1;
  r.error = e.msg;
  r.tail = "";
  keep_decide(T, &r, true);
  T->failing = true;
  T->fail_rank = launcher ? -1 : i - 1;
  if (T->fail_rank >= 0) T->workers[T->fail_rank].state = DIST_FAILED;
  for (int j = 0; j < T->nprocs; j++)
    if (T->procs[j].live) sched_cancel(s, &T->procs[j].task, NULL);
  if (T->nlive == 0) workers_over(s, R, T);
}

static int start_trial(struct server *s, struct exp_run *R, struct trial_suggestion *sug) {
  struct exp_service *v = s->exp;
  oast_err e;
  oast_err_clear(&e);
  struct trial_run *T = xcalloc(1, sizeof *T);
  T->task.ops = &trial_ops;
  T->outfd = -1;
  T->run = R;
  T->num = sug->id;
  T->params = sug->params;
  sug->params = NULL;
  T->dir = exp_trial_dir(R->dir, T->num);
  T->submitted_us = meta_now_us();

  char *params = dump_params(T->params), *rec = trial_record(R, T->num), *token = NULL;
  int64_t ttl = R->spec->timeout_s > 0 ? (int64_t)R->spec->timeout_s + TOKEN_SPARE_S : TOKEN_TTL_S;
  int64_t id = id_of(R, T->num);
  int rc = decision_begin(s, &e);
  if (!rc) rc = auth_token_create(s, R->user_id, "trial", R->project_id, ttl, &token, NULL, &e);
  if (!rc) crypto_sha256_hex(token, strlen(token), T->token_hash);
  if (!rc && id) {
    rc = meta_exec(s->meta, &e,
                   "UPDATE trials SET state = 'running', params = ?, opt = ?, token_hash = ?, attempts = attempts + 1,"
                   " submitted = ?, started = NULL, ended = NULL, metric = NULL, outputs = NULL, exit_code = NULL,"
                   " signal = NULL, timed_out = 0, error = NULL, log_tail = NULL, gpus = NULL, workers = NULL WHERE id = ?",
                   "sssii", params, rec, T->token_hash, T->submitted_us, id);
  } else if (!rc) {
    sqlite3_stmt *st = meta_stmt(s->meta,
                                 "INSERT INTO trials(experiment_id, number, params, state, budget, rung, parent, opt,"
                                 " token_hash, attempts, submitted) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, 1, ?)");
    meta_bind(st, "iisdiissi", R->id, (int64_t)T->num, params, sug->budget, (int64_t)sug->rung,
              (int64_t)sug->parent, rec, T->token_hash, T->submitted_us);
    if (st && sug->budget <= 0) sqlite3_bind_null(st, 4);
    if (st && sug->parent < 0) sqlite3_bind_null(st, 6);
    int sr = st ? sqlite3_step(st) : SQLITE_ERROR;
    if (st) sqlite3_reset(st);
    if (sr != SQLITE_DONE) rc = meta_error(s->meta, sr, &e, "insert trial");
    else id = meta_last_id(s->meta);
  }
  if (!rc) rc = save_head(s, R, false, &e);
  rc = decision_end(s, rc, &e);
  free(params);
  free(rec);
  if (rc) {
    free(token);
    trial_free(T);
    opt_finished(R->opt, sug->id, OPT_FAILED, NAN, NULL);
    run_abort(s, R, &e);
    return rc;
  }
  T->id = id;
  set_id(R, T->num, id);

  /* Its folder and the environment of API.md. */
  if (fs_mkdirs_below(R->dir, T->dir, 0755, &e) == 0) trialrec_write_hparams(T->dir, T->params, &e);
  if (sug->rerun) {
    static const char line[] = "[oast] the server restarted while this trial ran; it runs again\n";
    write_fully(trial_out(T), line, sizeof line - 1);
  }
  char idbuf[24], numbuf[24], expbuf[24];
  snprintf(idbuf, sizeof idbuf, "%" PRId64, T->id);
  snprintf(numbuf, sizeof numbuf, "%d", T->num);
  snprintf(expbuf, sizeof expbuf, "%" PRId64, R->id);
  char *penv = dump_params(T->params);
  size_t nextra = R->spec->env ? json_object_size(R->spec->env) : 0;
  char **env = xcalloc(20 + nextra + DIST_ENV_MAX + (size_t)R->spec->dist.workers, sizeof *env);
  size_t k = 0;
  const char *pp = getenv("PYTHONPATH");
  env[k++] = env_entry("OAST_ADDR", service_addr(s));
  env[k++] = env_entry("OAST_TRIAL_TOKEN", token);
  env[k++] = env_entry("OAST_API_KEY", token);
  env[k++] = env_entry("OAST_TRIAL_ID", idbuf);
  env[k++] = env_entry("OAST_TRIAL_NUMBER", numbuf);
  env[k++] = env_entry("OAST_EXPERIMENT_ID", expbuf);
  env[k++] = env_entry("OAST_PROJECT", R->project);
  env[k++] = env_entry("OAST_PARAMS", penv);
  env[k++] = env_entry("OAST_LOGDIR", T->dir);
  env[k++] = env_entry("OAST_EXPERIMENT_DIR", R->dir);
  env[k++] = env_entry("OAST_METRIC", R->spec->metric);
  env[k++] = env_entry("OAST_DIRECTION", R->spec->dir == OPT_MAXIMIZE ? "max" : "min");
  env[k++] = env_entry("OAST_CONFIG", "/dev/null");
  env[k++] = env_entry("PYTHONUNBUFFERED", "1");
  if (v->pythonpath)
    env[k++] = pp && *pp ? xasprintf("PYTHONPATH=%s:%s", v->pythonpath, pp) : env_entry("PYTHONPATH", v->pythonpath);
  const char *ek;
  json_t *ev;
  json_object_foreach(R->spec->env, ek, ev) env[k++] = env_entry(ek, json_string_value(ev));
  env[k] = NULL;
  free(penv);
  free(token);

  /* The command: the program copied into the experiment, or command[0] as given.
   * "python3" is the server's Python, the one jobs run with. */
  size_t nargs = json_array_size(R->spec->command);
  const char **argv = xcalloc(nargs + 2, sizeof *argv);
  char *progpath = NULL;
  size_t a = 0;
  if (R->spec->program) {
    progpath = fs_join(R->dir, R->spec->program);
    if (R->spec->interpreter) argv[a++] = python_or(v, R->spec->interpreter);
    argv[a++] = progpath;
  } else {
    argv[a++] = python_or(v, json_string_value(json_array_get(R->spec->command, 0)));
  }
  if (!strcmp(argv[0], "python3")) argv[0] = v->python;
  for (size_t i = 1; i < nargs; i++) argv[a++] = json_string_value(json_array_get(R->spec->command, i));
  argv[a] = NULL;

  struct exec_spec spec = {0};
  spec.argv = argv;
  spec.env = (const char *const *)env;
  spec.inherit_env = 1;
  spec.cwd = R->dir;
  spec.cpus = R->spec->cpus;
  spec.gpus = R->spec->gpus;
  spec.timeout_s = R->spec->timeout_s;
  T->next = R->inflight;
  R->inflight = T;
  R->ninflight++;
  map_add(v, T->id, R);
  if (R->spec->dist.workers) {
    start_workers(s, R, T, &spec, argv, a, env, k);
    rc = 0;
  } else {
    rc = sched_submit_on(s, R->spec->executor, &spec, &T->task, &e);
  }
  for (size_t i = 0; env[i]; i++) free(env[i]);
  free(env);
  free(argv);
  free(progpath);
  if (rc) {
    /* Never ran: it ends here as a trial that could not start. */
    struct exec_result r = {0};
    r.exit_code = -1;
    r.error = e.msg;
    r.tail = "";
    trial_done(s, R, T, &r);
  }
  return 0;
}

/* Asks the optimizer for trials while the experiment has room; ends the
 * experiment when nothing runs and nothing will. R is locked. */
static void finish_run(struct server *s, struct exp_run *R);

static void fill(struct server *s, struct exp_run *R) {
  if (R->done) return;
  while (!R->stopping && !R->opt_done && R->ninflight < R->spec->parallelism) {
    if (!service_addr(s)) return; /* not listening yet: trials could not call back */
    struct exec_stats st;
    sched_stats(s, &st);
    if (st.queued > 0) break; /* decide when a slot is free, with the most results known */
    struct trial_suggestion sug;
    enum opt_next_status ns = opt_next(R->opt, &sug);
    if (ns == OPT_TRIAL) {
      start_trial(s, R, &sug);
      opt_suggestion_release(&sug);
      continue;
    }
    if (ns == OPT_DONE || R->ninflight == 0) R->opt_done = true;
    break;
  }
  if (R->ninflight == 0 && (R->stopping || R->opt_done)) finish_run(s, R);
}

/* ---- trial callbacks (scheduler thread) ---- */

static void trial_started(struct server *s, struct sched_task *t, pid_t pid, const int *gpus, size_t ngpus) {
  struct trial_run *T = (struct trial_run *)t;
  struct exp_run *R = T->run;
  pthread_mutex_lock(&R->mu);
  T->started_us = meta_now_us();
  size_t off = 0;
  T->gpus[0] = '\0';
  for (size_t i = 0; i < ngpus && off + 8 < sizeof T->gpus; i++)
    off += (size_t)snprintf(T->gpus + off, sizeof T->gpus - off, "%s%d", i ? "," : "", gpus[i]);
  char prefix[32], *params = dump_params(T->params);
  trial_prefix(T->num, prefix);
  if (ngpus) run_log(s, R, prefix, "started with %s on GPU %s", params, T->gpus);
  else run_log(s, R, prefix, "started with %s", params);
  free(params);
  pthread_mutex_unlock(&R->mu);
}

static void trial_line(struct server *s, struct sched_task *t, enum exec_stream stream, const char *line, size_t n) {
  struct trial_run *T = (struct trial_run *)t;
  char prefix[32];
  trial_prefix(T->num, prefix);
  struct iovec iov[2] = {{(void *)line, n}, {(void *)"\n", 1}};
  pthread_mutex_lock(&T->run->mu); /* report logs of HTTP threads use output.log too */
  int fd = trial_out(T);
  if (fd >= 0 && writev(fd, iov, 2) < 0) log_warn("trial %" PRId64 ": cannot write its output.log: %s", T->id, strerror(errno));
  pthread_mutex_unlock(&T->run->mu);
  write_prefixed(T->run->logfd, prefix, line, n);
  notify_followers(s->exp);
}

static const char *outcome_state(enum opt_outcome o, bool killed) {
  if (killed) return "killed";
  return o == OPT_OK ? "finished" : o == OPT_EARLY_STOPPED ? "early_stopped" : "failed";
}

/* A trial is over: its result goes to the optimizer, the database and its
 * files, and T is freed. R is locked; the caller asks for the next trials. */
static void trial_done(struct server *s, struct exp_run *R, struct trial_run *T, const struct exec_result *r) {
  map_del(s->exp, T->id);
  for (struct trial_run **pp = &R->inflight; *pp; pp = &(*pp)->next)
    if (*pp == T) {
      *pp = T->next;
      break;
    }
  R->ninflight--;

  bool ended_ok = r->started && r->exit_code == 0 && !r->timed_out;
  bool killed = R->stopping && r->cancelled && !ended_ok && !T->stop_said;
  enum opt_outcome outcome = T->stop_said ? OPT_EARLY_STOPPED : ended_ok ? OPT_OK : OPT_FAILED;
  if (killed) outcome = OPT_FAILED;
  oast_err e;
  oast_err_clear(&e);
  opt_finished(R->opt, T->num, outcome, T->has_final ? T->final_metric : NAN, &e);
  if (outcome != OPT_FAILED) R->any_ok = true;

  json_t *rec = opt_save_trial(R->opt, T->num);
  json_t *mj = json_object_get(rec, "metric");
  double metric = json_is_number(mj) ? json_number_value(mj) : NAN;
  char *rectext = json_dump(rec);
  json_decref(rec);
  int64_t now = meta_now_us();
  int64_t started = T->started_us ? T->started_us : now;
  const char *state = outcome_state(outcome, killed);
  char *error = NULL;
  if (!killed && outcome == OPT_FAILED) {
    char *why = why_text(r, R->spec->timeout_s);
    if (T->procs) {
      /* A distributed run fails with the worker that failed first (or
       * mpirun, when no rank did), and so does its experiment. */
      char who[32];
      worker_prefix(T->fail_rank, who);
      if (T->fail_rank >= 0 || r->started) {
        error = xasprintf("%s: %s", who, why);
        free(why);
      } else {
        error = why;
      }
      if (!R->failure) R->failure = xstrdup(error);
    } else {
      error = why;
    }
  }
  char *workers = NULL;
  if (T->workers) {
    json_t *wj = dist_workers_json(&R->spec->dist, T->workers, R->spec->dist.workers);
    workers = json_dump(wj);
    json_decref(wj);
  }

  /* Files first: a crash before the commit reruns the trial, which rewrites them. */
  json_t *outputs = T->outputs ? json_incref(T->outputs) : json_object();
  if (!T->outputs && isfinite(metric)) json_object_set_new(outputs, R->spec->metric, json_real(metric));
  if (T->outputs || isfinite(metric)) {
    trialrec_write_outputs(T->dir, outputs, NULL);
    if (isfinite(metric)) trialrec_write_metric(T->dir, metric, NULL);
  }
  char *outtext = T->outputs || isfinite(metric) ? json_dump(outputs) : NULL;
  json_decref(outputs);
  if (T->tb_open) {
    tfevents_release(&T->tb);
    T->tb_open = false;
  }

  int rc = decision_begin(s, &e);
  if (!rc) {
    sqlite3_stmt *st = meta_stmt(s->meta,
                                 "UPDATE trials SET state = ?, metric = ?, outputs = ?, exit_code = ?, signal = ?,"
                                 " timed_out = ?, error = ?, log_tail = ?, opt = ?, started = ?, ended = ?, gpus = ?,"
                                 " workers = ?, token_hash = NULL WHERE id = ?");
    meta_bind(st, "sdsiiisssiissi", state, metric, outtext, (int64_t)r->exit_code, (int64_t)r->signal,
              (int64_t)(r->timed_out != 0), error, r->tail ? r->tail : "", rectext, started, now,
              T->gpus[0] ? T->gpus : (const char *)NULL, workers, T->id);
    if (!isfinite(metric)) sqlite3_bind_null(st, 2);
    if (!r->started || r->exit_code < 0) sqlite3_bind_null(st, 4);
    if (!r->signal) sqlite3_bind_null(st, 5);
    int sr = st ? sqlite3_step(st) : SQLITE_ERROR;
    if (st) sqlite3_reset(st);
    if (sr != SQLITE_DONE) rc = meta_error(s->meta, sr, &e, "update trial");
  }
  if (!rc) rc = meta_exec(s->meta, &e, "DELETE FROM tokens WHERE token_hash = ?", "s", T->token_hash);
  if (!rc) rc = save_head(s, R, true, &e);
  rc = decision_end(s, rc, &e);
  free(rectext);
  free(outtext);
  free(workers);

  char prefix[32], mbuf[32];
  trial_prefix(T->num, prefix);
  if (killed) run_log(s, R, prefix, "killed: the experiment was stopped");
  else if (outcome == OPT_FAILED) run_log(s, R, prefix, "failed: %s", error);
  else
    run_log(s, R, prefix, "%s: %s %s", outcome == OPT_OK ? "finished" : "early stopped", R->spec->metric,
            isfinite(metric) ? exp_num_str(metric, mbuf) : "none");
  free(error);
  trial_free(T);
  if (rc) run_abort(s, R, &e);
}

static void trial_exited(struct server *s, struct sched_task *t, const struct exec_result *r) {
  struct trial_run *T = (struct trial_run *)t;
  struct exp_run *R = T->run;
  pthread_mutex_lock(&R->mu);
  trial_done(s, R, T, r);
  fill(s, R);
  txn_close(s, R);
  pthread_mutex_unlock(&R->mu);
}

static const struct sched_task_ops trial_ops = {trial_started, trial_line, trial_exited};

/* ---- the workers of a distributed run (scheduler thread) ---- */

static void worker_started(struct server *s, struct sched_task *t, pid_t pid, const int *gpus, size_t ngpus) {
  struct trial_proc *P = (struct trial_proc *)t;
  struct trial_run *T = P->T;
  struct exp_run *R = T->run;
  const struct exp_dist *d = &R->spec->dist;
  pthread_mutex_lock(&R->mu);
  int64_t now = meta_now_us();
  char g[64] = "", prefix[32];
  size_t off = 0;
  for (size_t i = 0; i < ngpus && off + 8 < sizeof g; i++)
    off += (size_t)snprintf(g + off, sizeof g - off, "%s%d", i ? "," : "", gpus[i]);
  if (!T->started_us) {
    T->started_us = now;
    char *params = dump_params(T->params);
    trial_prefix(T->num, prefix);
    run_log(s, R, prefix, "started with %s: %d worker%s, strategy %s", params, d->workers, d->workers == 1 ? "" : "s",
            dist_strategy_name(d->strategy));
    free(params);
  }
  size_t used = strlen(T->gpus);
  if (g[0] && used + strlen(g) + 2 <= sizeof T->gpus)
    snprintf(T->gpus + used, sizeof T->gpus - used, "%s%s", used ? "," : "", g);
  int lo = P->rank < 0 ? 0 : P->rank, hi = P->rank < 0 ? d->workers : P->rank + 1;
  for (int r = lo; r < hi; r++) {
    T->workers[r].state = DIST_RUNNING;
    T->workers[r].started_us = now;
    snprintf(T->workers[r].gpus, sizeof T->workers[r].gpus, "%s", g);
    /* Launched by mpirun for another strategy: the wrapper gives each rank its share. */
    if (P->rank < 0 && d->strategy != DIST_MPI && d->gpus_per_worker && ngpus == (size_t)d->workers * d->gpus_per_worker) {
      size_t o = 0;
      for (int j = 0; j < d->gpus_per_worker && o + 8 < sizeof T->workers[r].gpus; j++)
        o += (size_t)snprintf(T->workers[r].gpus + o, sizeof T->workers[r].gpus - o, "%s%d", j ? "," : "",
                              gpus[r * d->gpus_per_worker + j]);
    }
  }
  worker_prefix(P->rank, prefix);
  char where[64];
  if (pid > 0) snprintf(where, sizeof where, "pid %d", (int)pid);
  else snprintf(where, sizeof where, "on %s", on_slurm(s, R) ? "Slurm" : "its executor");
  if (P->rank >= 0) {
    int idx;
    const char *role = dist_role(d, P->rank, &idx);
    run_log(s, R, prefix, "started as %s %d (%s%s%s)", role, idx, where, g[0] ? ", GPU " : "", g);
  } else {
    run_log(s, R, prefix, "started %d ranks (%s%s%s)", d->workers, where, g[0] ? ", GPU " : "", g);
  }
  save_workers(s, R, T, true);
  pthread_mutex_unlock(&R->mu);
}

/* A rank that mpirun launched ended (the wrapper's line). While the run
 * is stopped, or after another rank failed, a rank ended by SIGTERM or
 * SIGKILL (status 128 + N, the shell's way) was killed, not a failure of
 * its own. R is locked. */
static void mpi_rank_exit(struct server *s, struct exp_run *R, struct trial_run *T, int rank, int code) {
  struct dist_worker *w = &T->workers[rank];
  w->exit_code = code;
  w->ended_us = meta_now_us();
  bool by_signal = code == 128 + SIGTERM || code == 128 + SIGKILL || code == 128 + SIGINT;
  bool killed = code != 0 && (T->cancelling || R->stopping || (T->failing && by_signal));
  w->state = code == 0 ? DIST_FINISHED : killed ? DIST_KILLED : DIST_FAILED;
  char prefix[32];
  worker_prefix(rank, prefix);
  if (code == 0) {
    run_log(s, R, prefix, "finished");
  } else if (killed) {
    run_log(s, R, prefix, "killed (exit status %d)", code);
  } else {
    run_log(s, R, prefix, "failed: exit code %d", code);
    if (!T->failing) {
      T->failing = true;
      T->fail_rank = rank;
    }
  }
  save_workers(s, R, T, true);
}

/* A line of a worker (rank -1: of mpirun itself) into the trial's and the experiment's logs. R is locked. */
static void worker_log(struct server *s, struct exp_run *R, struct trial_run *T, int rank, const char *text,
                       size_t len) {
  char prefix[32];
  worker_prefix(rank, prefix);
  write_prefixed(trial_out(T), prefix, text, len);
  write_prefixed(R->logfd, prefix, text, len);
}

struct rank_line_ctx {
  struct server *s;
  struct exp_run *R;
  struct trial_run *T;
};

/* A whole line of a rank that mpirun launched: its exit report, or its output. */
static void rank_line(void *arg, int rank, const char *text, size_t len) {
  struct rank_line_ctx *c = arg;
  int code;
  if (rank >= 0 && dist_mpi_exit(text, len, &code)) {
    mpi_rank_exit(c->s, c->R, c->T, rank, code);
    return;
  }
  if (rank >= 0) dist_tail_add(&c->T->workers[rank], text, len);
  worker_log(c->s, c->R, c->T, rank, text, len);
}

static void worker_line(struct server *s, struct sched_task *t, enum exec_stream stream, const char *line, size_t n) {
  struct trial_proc *P = (struct trial_proc *)t;
  struct trial_run *T = P->T;
  struct exp_run *R = T->run;
  pthread_mutex_lock(&R->mu);
  if (P->rank < 0) {
    struct rank_line_ctx c = {s, R, T};
    dist_mpi_feed(&T->mpi, line, n, rank_line, &c);
  } else {
    worker_log(s, R, T, P->rank, line, n);
  }
  pthread_mutex_unlock(&R->mu);
  notify_followers(s->exp);
}

/* Every process of the run has ended: the run ends as its deciding result says. R is locked. */
static void workers_over(struct server *s, struct exp_run *R, struct trial_run *T) {
  struct exec_result r = {0};
  if (T->has_decide) {
    r = T->decide;
    r.error = T->decide_error ? xstrdup(T->decide_error) : NULL;
    r.tail = xstrdup(T->decide_tail);
  } else {
    r.started = 1;
    r.tail = xstrdup("");
  }
  /* trial_done frees T, and with it decide's strings. */
  trial_done(s, R, T, &r);
  free((char *)r.error);
  free((char *)r.tail);
}

static void worker_exited(struct server *s, struct sched_task *t, const struct exec_result *r) {
  struct trial_proc *P = (struct trial_proc *)t;
  struct trial_run *T = P->T;
  struct exp_run *R = T->run;
  const struct exp_dist *d = &R->spec->dist;
  pthread_mutex_lock(&R->mu);
  P->live = false;
  T->nlive--;
  bool ok = r->started && r->exit_code == 0 && !r->timed_out;
  bool ours = r->cancelled && !r->timed_out && (T->failing || R->stopping || T->stop_said);
  int64_t now = meta_now_us();
  char prefix[32];
  worker_prefix(P->rank, prefix);
  if (P->rank >= 0) {
    struct dist_worker *w = &T->workers[P->rank];
    w->exit_code = r->started ? r->exit_code : -1;
    w->signal = r->signal;
    if (r->started) w->ended_us = now;
    w->state = ok ? DIST_FINISHED : ours ? DIST_KILLED : DIST_FAILED;
    char *why = ok ? NULL : why_text(r, R->spec->timeout_s);
    if (ok) run_log(s, R, prefix, "finished");
    else if (ours && !r->started) run_log(s, R, prefix, "cancelled before it started");
    else if (ours && r->signal) run_log(s, R, prefix, "killed by signal %d (%s)", r->signal, strsignal(r->signal));
    else if (ours) run_log(s, R, prefix, "stopped: exit code %d", r->exit_code);
    else run_log(s, R, prefix, "failed: %s", why);
    free(why);
    if (!ok && !ours && !T->failing) {
      /* The first failure ends the run: the other workers are stopped. */
      T->failing = true;
      T->fail_rank = P->rank;
      keep_decide(T, r, true);
      if (T->nlive > 0) {
        char tp[32];
        trial_prefix(T->num, tp);
        run_log(s, R, tp, "worker %d failed: stopping the other %d", P->rank, T->nlive);
        trial_cancel(s, T);
      }
    } else if (!ok && !T->decide_bad) {
      keep_decide(T, r, true);
    } else if (ok && P->rank == 0 && !T->has_decide) {
      keep_decide(T, r, false);
    }
  } else {
    /* The mpirun of the run: pieces of lines it left are lines, and ranks
     * that did not say how they ended end with it. */
    struct rank_line_ctx c = {s, R, T};
    dist_mpi_flush(&T->mpi, rank_line, &c);
    for (int k = 0; k < d->workers; k++) {
      struct dist_worker *w = &T->workers[k];
      if (w->state != DIST_QUEUED && w->state != DIST_RUNNING) continue;
      if (r->started) w->ended_us = now;
      if (ok) {
        w->state = DIST_FINISHED;
        w->exit_code = 0;
      } else {
        w->state = ours || r->timed_out || T->fail_rank >= 0 ? DIST_KILLED : DIST_FAILED;
      }
    }
    char *why = ok ? NULL : why_text(r, R->spec->timeout_s);
    if (ok) run_log(s, R, prefix, "finished");
    else run_log(s, R, prefix, "%s: %s", ours ? "killed" : "failed", why);
    free(why);
    keep_decide(T, r, !ok);
    if (T->fail_rank >= 0) T->decide.exit_code = T->workers[T->fail_rank].exit_code;
    /* The tail of the rank that failed (of rank 0 when none did), untagged. */
    int tail_rank = T->fail_rank >= 0 ? T->fail_rank : ok ? 0 : -1;
    if (tail_rank >= 0 && T->workers[tail_rank].tail) {
      free(T->decide_tail);
      T->decide_tail = dist_tail_text(&T->workers[tail_rank]);
      T->decide.tail = T->decide_tail;
    }
  }
  if (T->nlive > 0) {
    save_workers(s, R, T, true);
  } else {
    workers_over(s, R, T);
    fill(s, R);
    txn_close(s, R);
  }
  pthread_mutex_unlock(&R->mu);
}

static const struct sched_task_ops worker_ops = {worker_started, worker_line, worker_exited};

/* ---- the end of an experiment ---- */

static void finish_run(struct server *s, struct exp_run *R) {
  const char *state = R->failure ? "failed" : R->stopping ? "killed" : R->any_ok ? "finished" : "failed";
  int64_t now = meta_now_us();
  oast_err e;
  oast_err_clear(&e);
  /* The files first, with the state they will have once the row says so. */
  json_t *d = exp_detail(s, R->project_id, R->id);
  if (d) {
    char t[40];
    exp_time_iso_us(now, t);
    json_object_set_new(d, "state", json_string(state));
    json_object_set_new(d, "ended", json_string(t));
    if (R->failure) json_object_set_new(d, "message", json_string(R->failure));
    char *summary = json_dumps(d, JSON_INDENT(2));
    char *path = fs_join(R->dir, ".summary.json");
    if (fs_is_dir(R->dir)) fs_write_atomic(path, summary, strlen(summary), 0644, NULL);
    free(path);
    free(summary);
    json_t *ej = json_deep_copy(R->spec->doc);
    json_object_set_new(ej, "id", json_integer(R->id));
    json_object_set(ej, "state", json_object_get(d, "state"));
    json_object_set(ej, "created", json_object_get(d, "created"));
    json_object_set(ej, "ended", json_object_get(d, "ended"));
    char *text = json_dumps(ej, JSON_INDENT(2));
    path = fs_join(R->dir, "experiment.json");
    if (fs_is_dir(R->dir)) fs_write_atomic(path, text, strlen(text), 0644, NULL);
    free(path);
    free(text);
    json_decref(ej);
    json_decref(d);
  }
  int rc = meta_exec(s->meta, &e, "UPDATE experiments SET state = ?, ended = ?, message = ? WHERE id = ?", "sisi",
                     state, now, R->failure, R->id);
  if (rc) log_error("experiment %" PRId64 ": cannot record its end: %s", R->id, e.msg);
  /* Committed before anyone can see it has ended (a log follower's stream ends with it). */
  txn_close(s, R);
  double best = NAN;
  int b = opt_best(R->opt, &best);
  char mbuf[32];
  if (R->failure) run_log(s, R, "experiment", "failed: %s", R->failure);
  else if (b >= 0)
    run_log(s, R, "experiment", "%s: best trial %d, %s %s", state, b, R->spec->metric, exp_num_str(best, mbuf));
  else run_log(s, R, "experiment", "%s: no trial has a metric", state);
  R->done = true;
  if (R->logfd >= 0) close(R->logfd);
  R->logfd = -1;
  notify_followers(s->exp);
}

/* ---- resume after a restart ---- */

/* Kills what is left of trials a crashed server started: processes whose
 * environment names one of these trials of this home's experiment. */
static void kill_orphans(const char *expdir, const int64_t *ids, size_t n) {
  if (!n) return;
  DIR *d = opendir("/proc");
  if (!d) return;
  char *dirvar = xasprintf("OAST_EXPERIMENT_DIR=%s", expdir);
  struct dirent *de;
  while ((de = readdir(d))) {
    char *end;
    long pid = strtol(de->d_name, &end, 10);
    if (*end || pid <= 1 || pid == getpid()) continue;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/environ", pid);
    char *env = NULL;
    size_t len = 0;
    if (fs_read_all(path, 1 << 20, &env, &len, NULL) != 0) continue;
    bool mine = false;
    int64_t tid = 0;
    for (size_t off = 0; off < len; off += strlen(env + off) + 1) {
      const char *var = env + off;
      if (!strcmp(var, dirvar)) mine = true;
      else if (!strncmp(var, "OAST_TRIAL_ID=", 14)) tid = strtoll(var + 14, NULL, 10);
    }
    free(env);
    bool lost = false;
    for (size_t i = 0; i < n && mine; i++) lost |= ids[i] == tid;
    if (!lost) continue;
    pid_t pg = getpgid((pid_t)pid);
    if (pg == (pid_t)pid) kill(-(pid_t)pid, SIGKILL);
    else kill((pid_t)pid, SIGKILL);
    log_info("experiment folder %s: killed process %ld left by trial %" PRId64 " before the restart", expdir, pid,
             tid);
  }
  free(dirvar);
  closedir(d);
}

/* Writes the files of a finished trial again when a crash lost them. */
static void restore_files(const char *dir, int num, const char *params, const char *outputs, sqlite3_stmt *st) {
  char *tdir = exp_trial_dir(dir, num);
  char *hp = fs_join(tdir, TRIALREC_HPARAMS), *op = fs_join(tdir, TRIALREC_OUTPUTS), *mp = fs_join(tdir, TRIALREC_METRIC);
  if (fs_mkdirs(tdir, 0755, NULL) == 0) {
    json_t *j;
    if (!fs_exists(hp) && params && (j = json_loads(params, 0, NULL))) {
      trialrec_write_hparams(tdir, j, NULL);
      json_decref(j);
    }
    if (!fs_exists(op) && outputs && (j = json_loads(outputs, 0, NULL))) {
      trialrec_write_outputs(tdir, j, NULL);
      json_decref(j);
    }
    if (!fs_exists(mp) && sqlite3_column_type(st, 5) != SQLITE_NULL)
      trialrec_write_metric(tdir, sqlite3_column_double(st, 5), NULL);
  }
  free(hp);
  free(op);
  free(mp);
  free(tdir);
}

static void resume_one(struct server *s, int64_t id, int64_t project_id, int64_t user_id, const char *project,
                       const char *spec_text, const char *head_text) {
  oast_err e;
  oast_err_clear(&e);
  struct exp_spec *sp = xcalloc(1, sizeof *sp);
  struct optimizer *o = NULL;
  char *dir = exp_dir(s, project, id);
  json_t *doc = json_loads(spec_text, 0, NULL), *state = head_text ? json_loads(head_text, 0, NULL) : NULL;
  json_t *trials = json_array();
  int64_t *lost = NULL;
  size_t nlost = 0, caplost = 0;
  bool any_ok = false;
  int rc = exp_spec_parse(doc, true, sp, head_text ? NULL : &o, &e);
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta,
                                         "SELECT id, number, opt, state, token_hash, metric, params, outputs FROM trials"
                                         " WHERE experiment_id = ? ORDER BY number"),
                               "i", id);
  struct exp_run *R = NULL;
  if (!rc) {
    R = run_new(id, project_id, project, user_id, dir, sp, NULL);
    sp = NULL;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
      int64_t tid = sqlite3_column_int64(st, 0);
      int num = sqlite3_column_int(st, 1);
      const char *tstate = (const char *)sqlite3_column_text(st, 3);
      json_t *rec = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
      json_array_append_new(trials, rec ? rec : json_null());
      set_id(R, num, tid);
      if (!strcmp(tstate, "running")) {
        if (nlost == caplost) {
          caplost = caplost ? 2 * caplost : 8;
          lost = xreallocarray(lost, caplost, sizeof *lost);
        }
        lost[nlost++] = tid;
        if (sqlite3_column_type(st, 4) != SQLITE_NULL)
          meta_exec(s->meta, NULL, "DELETE FROM tokens WHERE token_hash = ?", "s",
                    (const char *)sqlite3_column_text(st, 4));
        char prefix[32];
        trial_prefix(num, prefix);
        run_log(s, R, prefix, "lost when the server stopped; it runs again");
      } else {
        any_ok |= !strcmp(tstate, "finished") || !strcmp(tstate, "early_stopped");
        if (!strcmp(tstate, "finished") || !strcmp(tstate, "early_stopped") || !strcmp(tstate, "failed"))
          restore_files(dir, num, (const char *)sqlite3_column_text(st, 6),
                        (const char *)sqlite3_column_text(st, 7), st);
      }
    }
  }
  if (st) sqlite3_reset(st);
  if (!rc && head_text) {
    if (!state) {
      rc = oast_err_set(&e, OAST_EINTERNAL, "the saved optimizer state is not JSON");
    } else {
      json_object_set(state, "trials", trials);
      rc = opt_restore(R->spec->optimizer, R->spec->early_stopping, &R->spec->ss, R->spec->num_trials, R->spec->dir,
                       R->spec->seed, state, &o, &e);
    }
  }
  auth_cache_invalidate(s);
  kill_orphans(dir, lost, nlost);
  if (rc) {
    if (R) {
      R->opt = NULL;
      R->failure = xasprintf("cannot resume after the restart: %s", e.msg);
      run_log(s, R, "experiment", "%s", R->failure);
      meta_exec(s->meta, NULL, "UPDATE trials SET state = 'failed', error = 'lost when the server stopped'"
                               " WHERE experiment_id = ? AND state = 'running'", "i", id);
      meta_exec(s->meta, NULL, "UPDATE experiments SET state = 'failed', ended = ?, message = ? WHERE id = ?", "isi",
                meta_now_us(), R->failure, id);
      run_free(R);
    } else {
      meta_exec(s->meta, NULL, "UPDATE experiments SET state = 'failed', ended = ?, message = ? WHERE id = ?", "isi",
                meta_now_us(), e.msg, id);
    }
    log_error("experiment %" PRId64 ": cannot resume: %s", id, e.msg);
  } else {
    R->opt = o;
    R->any_ok = any_ok;
    run_add(s->exp, R);
    log_info("experiment %" PRId64 ": resumed with %zu trials kept and %zu to run again", id,
             json_array_size(trials) - nlost, nlost);
  }
  exp_spec_free(sp);
  free(lost);
  json_decref(trials);
  json_decref(state);
  json_decref(doc);
  free(dir);
}

static void resume_all(struct server *s) {
  struct row {
    int64_t id, project_id, user_id;
    char *project, *spec, *head;
  } *rows = NULL;
  size_t n = 0, cap = 0;
  sqlite3_stmt *st = meta_stmt(s->meta,
                               "SELECT e.id, e.project_id, e.user_id, p.name, e.spec, e.opt_head FROM experiments e"
                               " JOIN projects p ON p.id = e.project_id WHERE e.state = 'running' ORDER BY e.id");
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    if (n == cap) {
      cap = cap ? 2 * cap : 8;
      rows = xreallocarray(rows, cap, sizeof *rows);
    }
    rows[n].id = sqlite3_column_int64(st, 0);
    rows[n].project_id = sqlite3_column_int64(st, 1);
    rows[n].user_id = sqlite3_column_int64(st, 2);
    rows[n].project = xstrdup((const char *)sqlite3_column_text(st, 3));
    rows[n].spec = xstrdup((const char *)sqlite3_column_text(st, 4));
    rows[n].head = sqlite3_column_type(st, 5) == SQLITE_NULL ? NULL : xstrdup((const char *)sqlite3_column_text(st, 5));
    n++;
  }
  if (st) sqlite3_reset(st);
  for (size_t i = 0; i < n; i++) {
    resume_one(s, rows[i].id, rows[i].project_id, rows[i].user_id, rows[i].project, rows[i].spec, rows[i].head);
    free(rows[i].project);
    free(rows[i].spec);
    free(rows[i].head);
  }
  free(rows);
}

/* ---- the tick ---- */

static void tick(struct server *s, void *arg) {
  struct exp_service *v = s->exp;
  size_t n = 0;
  pthread_mutex_lock(&v->mu);
  for (struct exp_run *R = v->runs; R; R = R->next) {
    if (n == v->capsnap) {
      v->capsnap = v->capsnap ? 2 * v->capsnap : 16;
      v->snap = xreallocarray(v->snap, v->capsnap, sizeof *v->snap);
    }
    R->refs++;
    v->snap[n++] = R;
  }
  pthread_mutex_unlock(&v->mu);
  int64_t now = meta_now_us();
  for (size_t i = 0; i < n; i++) {
    struct exp_run *R = v->snap[i];
    pthread_mutex_lock(&R->mu);
    for (struct trial_run *T = R->inflight; T; T = T->next)
      if (T->stop_said && !T->cancel_sent && now - T->stop_at_us > (int64_t)EXP_STOP_GRACE_S * 1000000) {
        T->cancel_sent = true;
        trial_cancel(s, T);
      }
    fill(s, R);
    txn_close(s, R);
    pthread_mutex_unlock(&R->mu);
  }
  /* Forget finished experiments nobody is looking at. */
  struct exp_run *dead = NULL;
  pthread_mutex_lock(&v->mu);
  for (size_t i = 0; i < n; i++) v->snap[i]->refs--;
  for (struct exp_run **pp = &v->runs; *pp;) {
    struct exp_run *R = *pp;
    if (R->done && R->refs == 0) {
      *pp = R->next;
      R->next = dead;
      dead = R;
    } else {
      pp = &R->next;
    }
  }
  pthread_mutex_unlock(&v->mu);
  while (dead) {
    struct exp_run *R = dead;
    dead = R->next;
    run_free(R);
  }
}

/* ---- calls from HTTP threads ---- */

void exp_service_launch(struct server *s, int64_t id, int64_t project_id, const char *project, int64_t user_id,
                        const char *dir, struct exp_spec *sp, struct optimizer *opt) {
  struct exp_run *R = run_new(id, project_id, project, user_id, dir, sp, opt);
  run_add(s->exp, R);
  sched_wakeup(s);
}

bool exp_service_active(struct server *s, int64_t id) {
  struct exp_service *v = s->exp;
  pthread_mutex_lock(&v->mu);
  struct exp_run *R = v->runs;
  while (R && R->id != id) R = R->next;
  bool active = R && !R->done;
  pthread_mutex_unlock(&v->mu);
  return active;
}

int exp_service_stop(struct server *s, int64_t id, oast_err *e) {
  struct exp_service *v = s->exp;
  struct exp_run *R = ref_run(v, id);
  if (!R) return oast_err_set(e, OAST_ECONFLICT, "experiment %" PRId64 " is not running", id);
  pthread_mutex_lock(&R->mu);
  int rc = 0;
  if (R->done) {
    rc = oast_err_set(e, OAST_ECONFLICT, "experiment %" PRId64 " is not running", id);
  } else if (!R->stopping) {
    R->stopping = true;
    for (struct trial_run *T = R->inflight; T; T = T->next) trial_cancel(s, T);
    run_log(s, R, "experiment", "stopping: no new trials, %d running trial%s killed", R->ninflight,
            R->ninflight == 1 ? "" : "s");
  }
  pthread_mutex_unlock(&R->mu);
  unref(v, R);
  sched_wakeup(s);
  return rc;
}

void exp_service_project_deleted(struct server *s, int64_t project_id) {
  struct exp_service *v = s->exp;
  if (!v) return;
  /* References to this project's runs, then each stopped under its own lock. */
  struct exp_run **mine = NULL;
  size_t n = 0;
  pthread_mutex_lock(&v->mu);
  for (struct exp_run *R = v->runs; R; R = R->next)
    if (R->project_id == project_id) {
      mine = xreallocarray(mine, n + 1, sizeof *mine);
      R->refs++;
      mine[n++] = R;
    }
  pthread_mutex_unlock(&v->mu);
  for (size_t i = 0; i < n; i++) {
    struct exp_run *R = mine[i];
    pthread_mutex_lock(&R->mu);
    if (!R->done && !R->stopping) {
      R->stopping = true;
      for (struct trial_run *T = R->inflight; T; T = T->next) trial_cancel(s, T);
      log_info("experiment %" PRId64 ": its project was deleted; %d running trial%s killed", R->id, R->ninflight,
               R->ninflight == 1 ? "" : "s");
    }
    pthread_mutex_unlock(&R->mu);
    unref(v, R);
  }
  free(mine);
  if (n) sched_wakeup(s);
}

/* Finds trial_id running here and checks the caller's token; R locked on success. */
static int lock_trial(struct server *s, int64_t trial_id, const char *token_hash, struct exp_run **rp,
                      struct trial_run **tp, oast_err *e) {
  struct exp_run *R = ref_trial(s->exp, trial_id);
  if (!R) return oast_err_set(e, OAST_ENOT_FOUND, "trial %" PRId64 " is not running", trial_id);
  pthread_mutex_lock(&R->mu);
  struct trial_run *T = find_inflight(R, trial_id);
  int rc = 0;
  if (!T) rc = oast_err_set(e, OAST_ENOT_FOUND, "trial %" PRId64 " is not running", trial_id);
  else if (!token_hash || !crypto_equal(T->token_hash, token_hash, 64))
    rc = oast_err_set(e, OAST_EFORBIDDEN, "only trial %" PRId64 "'s own token (OAST_TRIAL_TOKEN) may report for it",
                      trial_id);
  if (rc) {
    pthread_mutex_unlock(&R->mu);
    unref(s->exp, R);
    return rc;
  }
  *rp = R;
  *tp = T;
  return 0;
}

static void unlock_trial(struct server *s, struct exp_run *R) {
  pthread_mutex_unlock(&R->mu);
  unref(s->exp, R);
}

static void trial_log_text(struct server *s, struct trial_run *T, const char *text) {
  char prefix[32];
  trial_prefix(T->num, prefix);
  write_prefixed(T->run->logfd, prefix, text, strlen(text));
  size_t n = strlen(text);
  struct iovec iov[2] = {{(void *)text, n}, {(void *)"\n", !n || text[n - 1] != '\n'}};
  int fd = trial_out(T);
  if (fd >= 0 && writev(fd, iov, 2) < 0) log_warn("trial %" PRId64 ": cannot write its output.log: %s", T->id, strerror(errno));
  notify_followers(s->exp);
}

int exp_service_report(struct server *s, int64_t trial_id, const char *token_hash, const struct exp_report *rep,
                       bool *stop, oast_err *e) {
  struct exp_run *R;
  struct trial_run *T;
  *stop = false;
  int rc = lock_trial(s, trial_id, token_hash, &R, &T, e);
  if (rc) return rc;
  if (rep->has_metric) {
    int64_t step = rep->step >= 0 ? rep->step : T->nreports;
    rc = opt_report(R->opt, T->num, step, rep->metric, stop, e);
    if (!rc) {
      T->nreports++;
      double wall = (double)meta_now_us() / 1e6;
      oast_err we;
      oast_err_clear(&we);
      if (!T->tb_open && fs_mkdirs_below(R->dir, T->dir, 0755, &we) == 0 &&
          tfevents_open(&T->tb, T->dir, wall, NULL, &we) == 0)
        T->tb_open = true;
      if (T->tb_open) {
        size_t n = 1 + (rep->metrics ? json_object_size(rep->metrics) : 0), k = 0;
        const char **tags = xcalloc(n, sizeof *tags);
        double *vals = xcalloc(n, sizeof *vals);
        tags[k] = R->spec->metric;
        vals[k++] = rep->metric;
        const char *name;
        json_t *val;
        json_object_foreach(rep->metrics, name, val) {
          if (strcmp(name, R->spec->metric) == 0) continue;
          tags[k] = name;
          vals[k++] = json_number_value(val);
        }
        if (tfevents_scalars(&T->tb, wall, step, k, tags, vals, &we))
          log_warn("trial %" PRId64 ": cannot write its event file: %s", T->id, we.msg);
        free(tags);
        free(vals);
      } else {
        log_warn("trial %" PRId64 ": cannot create its event file: %s", T->id, we.msg);
      }
      if (*stop && !T->stop_said) {
        T->stop_said = true;
        T->stop_at_us = meta_now_us();
        char prefix[32], mbuf[32];
        trial_prefix(T->num, prefix);
        run_log(s, R, prefix, "told to stop early at step %" PRId64 " (%s %s is below the median of finished trials)",
                step, R->spec->metric, exp_num_str(rep->metric, mbuf));
      }
    }
  } else {
    *stop = T->stop_said;
  }
  if (!rc && rep->log) trial_log_text(s, T, rep->log);
  unlock_trial(s, R);
  return rc;
}

int exp_service_final(struct server *s, int64_t trial_id, const char *token_hash, double metric, json_t *outputs,
                      double *out_metric, oast_err *e) {
  struct exp_run *R;
  struct trial_run *T;
  int rc = lock_trial(s, trial_id, token_hash, &R, &T, e);
  if (rc) return rc;
  if (T->has_final) {
    rc = oast_err_set(e, OAST_ECONFLICT, "trial %" PRId64 " already gave its final result", trial_id);
  } else {
    if (isnan(metric) && outputs) {
      json_t *m = json_object_get(outputs, R->spec->metric);
      if (json_is_number(m)) metric = json_number_value(m);
    }
    T->has_final = true;
    T->final_metric = metric;
    T->outputs = outputs ? json_incref(outputs) : NULL;
    *out_metric = metric;
  }
  unlock_trial(s, R);
  return rc;
}
