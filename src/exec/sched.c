/* sched.c — the scheduler thread around the executor pools (see sched.h). */
#include "exec/sched.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "http/server.h"
#include "util/alloc.h"
#include "util/log.h"

struct sched {
  struct exec_pool *pool;   /* local: the thread waits on it */
  pthread_mutex_t mu;       /* guards slurm */
  struct exec_pool *slurm;  /* NULL until first needed */
  pthread_t thread;
  int running;
  _Atomic int stop;   /* written by sched_stop, read by the scheduler thread */
  struct {
    sched_tick_fn fn;
    void *arg;
  } ticks[SCHED_MAX_TICKS];
  int nticks;
};

static struct sched *get(struct server *s) {
  if (!s->sched) {
    s->sched = xcalloc(1, sizeof(struct sched));
    pthread_mutex_init(&s->sched->mu, NULL);
  }
  return s->sched;
}

void sched_add_tick(struct server *s, sched_tick_fn fn, void *arg) {
  struct sched *sc = get(s);
  if (sc->nticks == SCHED_MAX_TICKS) {
    log_error("scheduler: too many ticks registered");
    abort();
  }
  sc->ticks[sc->nticks].fn = fn;
  sc->ticks[sc->nticks].arg = arg;
  sc->nticks++;
}

static void cb_start(void *ctx, uint64_t job, void *user, pid_t pid, const int *gpus, size_t ngpus) {
  struct sched_task *t = user;
  if (t && t->ops->on_start) t->ops->on_start(ctx, t, pid, gpus, ngpus);
}

static void cb_line(void *ctx, uint64_t job, void *user, enum exec_stream st, const char *line, size_t n) {
  struct sched_task *t = user;
  if (t && t->ops->on_line) t->ops->on_line(ctx, t, st, line, n);
}

static void cb_exit(void *ctx, uint64_t job, void *user, const struct exec_result *r) {
  struct sched_task *t = user;
  if (t && t->ops->on_exit) t->ops->on_exit(ctx, t, r);
}

static struct exec_pool *slurm_pool(struct sched *sc) {
  pthread_mutex_lock(&sc->mu);
  struct exec_pool *p = sc->slurm;
  pthread_mutex_unlock(&sc->mu);
  return p;
}

static void *loop(void *arg) {
  struct server *s = arg;
  struct sched *sc = s->sched;
  while (!sc->stop) {
    exec_run_once(sc->pool, SCHED_TICK_MS);
    if (sc->stop) break;
    struct exec_pool *sl = slurm_pool(sc);
    if (sl) exec_run_once(sl, 0);
    for (int i = 0; i < sc->nticks; i++) sc->ticks[i].fn(s, sc->ticks[i].arg);
  }
  return NULL;
}

/* The Slurm pool wakes the thread, which waits on the local pool. */
static void wake_local(void *arg) { exec_wakeup(arg); }

/* The Slurm pool, created from the server's settings on first use. */
static int get_slurm(struct server *s, struct exec_pool **out, oast_err *e) {
  struct sched *sc = s->sched;
  int rc = 0;
  pthread_mutex_lock(&sc->mu);
  if (!sc->slurm) {
    char *home = realpath(s->cfg.home, NULL); /* the spool must be absolute */
    char *spool = s->cfg.slurm_spool ? xstrdup(s->cfg.slurm_spool)
                                     : xasprintf("%s/run/slurm", home ? home : s->cfg.home);
    free(home);
    struct exec_slurm_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.spool_dir = spool;
    cfg.partition = s->cfg.slurm_partition;
    cfg.slurm_conf = s->cfg.slurm_conf;
    cfg.notify = wake_local;
    cfg.notify_arg = sc->pool;
    struct exec_callbacks cb = {s, cb_start, cb_line, cb_exit};
    rc = exec_slurm_new(&cfg, &cb, &sc->slurm, e);
    if (rc == 0) log_info("scheduler: the Slurm executor is ready (spool %s)", spool);
    free(spool);
  }
  *out = sc->slurm;
  pthread_mutex_unlock(&sc->mu);
  return rc;
}

int sched_start(struct server *s, oast_err *e) {
  struct sched *sc = get(s);
  struct exec_local_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.cpus = s->cfg.cpus;
  cfg.gpus = s->cfg.gpus;
  struct exec_callbacks cb = {s, cb_start, cb_line, cb_exit};
  int rc = exec_local_new(&cfg, &cb, &sc->pool, e);
  if (rc) return rc;
  if (s->cfg.executor && strcmp(s->cfg.executor, "slurm") == 0) {
    struct exec_pool *sl;
    if ((rc = get_slurm(s, &sl, e))) {
      exec_free(sc->pool);
      sc->pool = NULL;
      return rc;
    }
  }
  sc->stop = 0;
  if (pthread_create(&sc->thread, NULL, loop, s) != 0) {
    exec_free(sc->slurm);
    exec_free(sc->pool);
    sc->slurm = sc->pool = NULL;
    return oast_err_set(e, OAST_EINTERNAL, "cannot start the scheduler thread");
  }
  sc->running = 1;
  return 0;
}

void sched_stop(struct server *s) {
  struct sched *sc = s->sched;
  if (!sc) return;
  if (sc->running) {
    sc->stop = 1;
    exec_wakeup(sc->pool);
    pthread_join(sc->thread, NULL);
    sc->running = 0;
  }
  exec_free(sc->slurm);
  if (sc->pool) exec_free(sc->pool);
  pthread_mutex_destroy(&sc->mu);
  free(sc);
  s->sched = NULL;
}

int sched_executor_valid(const char *name) {
  return name && (strcmp(name, "local") == 0 || strcmp(name, "slurm") == 0);
}

int sched_submit_on(struct server *s, const char *executor, struct exec_spec *spec,
                    struct sched_task *t, oast_err *e) {
  struct sched *sc = s->sched;
  if (!sc || !sc->pool) return oast_err_set(e, OAST_EUNAVAILABLE, "the scheduler is not running");
  if (!executor) executor = s->cfg.executor ? s->cfg.executor : "local";
  struct exec_pool *pool;
  if (strcmp(executor, "local") == 0) {
    pool = sc->pool;
  } else if (strcmp(executor, "slurm") == 0) {
    int rc = get_slurm(s, &pool, e);
    if (rc) return rc;
  } else {
    return oast_err_set(e, OAST_EBAD_REQUEST, "executor must be \"local\" or \"slurm\", not \"%.64s\"",
                        executor);
  }
  spec->user = t;
  t->pool = pool;
  return exec_submit(pool, spec, &t->job, e);
}

int sched_submit(struct server *s, struct exec_spec *spec, struct sched_task *t, oast_err *e) {
  return sched_submit_on(s, NULL, spec, t, e);
}

int sched_cancel(struct server *s, struct sched_task *t, oast_err *e) {
  struct sched *sc = s->sched;
  if (!sc || !sc->pool) return oast_err_set(e, OAST_EUNAVAILABLE, "the scheduler is not running");
  return exec_cancel(t->pool ? t->pool : sc->pool, t->job, e);
}

void sched_wakeup(struct server *s) {
  if (s->sched && s->sched->pool) exec_wakeup(s->sched->pool);
}

void sched_stats(struct server *s, struct exec_stats *st) {
  memset(st, 0, sizeof *st);
  struct sched *sc = s->sched;
  if (!sc || !sc->pool) return;
  struct exec_pool *p = sc->pool;
  if (s->cfg.executor && strcmp(s->cfg.executor, "slurm") == 0 && slurm_pool(sc))
    p = slurm_pool(sc);
  exec_stats(p, st);
}
