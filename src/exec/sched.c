/* sched.c — the scheduler thread around the executor pool (see sched.h). */
#include "exec/sched.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "http/server.h"
#include "util/alloc.h"
#include "util/log.h"

struct sched {
  struct exec_pool *pool;
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
  if (!s->sched) s->sched = xcalloc(1, sizeof(struct sched));
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

static void *loop(void *arg) {
  struct server *s = arg;
  struct sched *sc = s->sched;
  while (!sc->stop) {
    exec_run_once(sc->pool, SCHED_TICK_MS);
    if (sc->stop) break;
    for (int i = 0; i < sc->nticks; i++) sc->ticks[i].fn(s, sc->ticks[i].arg);
  }
  return NULL;
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
  sc->stop = 0;
  if (pthread_create(&sc->thread, NULL, loop, s) != 0) {
    exec_free(sc->pool);
    sc->pool = NULL;
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
  if (sc->pool) exec_free(sc->pool);
  free(sc);
  s->sched = NULL;
}

int sched_submit(struct server *s, struct exec_spec *spec, struct sched_task *t, oast_err *e) {
  struct sched *sc = s->sched;
  if (!sc || !sc->pool) return oast_err_set(e, OAST_EUNAVAILABLE, "the scheduler is not running");
  spec->user = t;
  return exec_submit(sc->pool, spec, &t->job, e);
}

int sched_cancel(struct server *s, struct sched_task *t, oast_err *e) {
  struct sched *sc = s->sched;
  if (!sc || !sc->pool) return oast_err_set(e, OAST_EUNAVAILABLE, "the scheduler is not running");
  return exec_cancel(sc->pool, t->job, e);
}

void sched_wakeup(struct server *s) {
  if (s->sched && s->sched->pool) exec_wakeup(s->sched->pool);
}

void sched_stats(struct server *s, struct exec_stats *st) {
  memset(st, 0, sizeof *st);
  if (s->sched && s->sched->pool) exec_stats(s->sched->pool, st);
}
