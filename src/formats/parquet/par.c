/*
 * par.c — task fan-out for the Parquet codec (see par.h). Threads are
 * started per call and take tasks from a shared atomic counter; a call
 * covers one row group (seconds of work at most), so the start-up cost
 * does not matter and no pool outlives the call. If a thread cannot be
 * started the remaining workers (at least the caller) do its share.
 */
#include "formats/parquet/par.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define PAR_MAX_WORKERS 8

int par_workers(int want, size_t ntasks) {
  long n = want > 0 ? want : sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) n = 1;
  if (n > PAR_MAX_WORKERS) n = PAR_MAX_WORKERS;
  if ((size_t)n > ntasks) n = ntasks ? (long)ntasks : 1;
  return (int)n;
}

struct job {
  par_fn fn;
  void *arg;
  size_t ntasks;
  atomic_size_t next;
};

struct worker {
  struct job *job;
  int id;
};

static void drain(struct job *j, int id) {
  for (;;) {
    size_t t = atomic_fetch_add(&j->next, 1);
    if (t >= j->ntasks) return;
    j->fn(j->arg, t, id);
  }
}

static void *thread_main(void *p) {
  struct worker *w = p;
  drain(w->job, w->id);
  return NULL;
}

void par_run(size_t ntasks, int nworkers, par_fn fn, void *arg) {
  struct job j = {.fn = fn, .arg = arg, .ntasks = ntasks};
  atomic_init(&j.next, 0);
  if (nworkers > PAR_MAX_WORKERS) nworkers = PAR_MAX_WORKERS;
  pthread_t th[PAR_MAX_WORKERS];
  struct worker ws[PAR_MAX_WORKERS];
  int started = 0;
  for (int i = 1; i < nworkers && (size_t)i < ntasks; i++) {
    ws[i].job = &j;
    ws[i].id = i;
    if (pthread_create(&th[started], NULL, thread_main, &ws[i]) != 0) break;
    started++;
  }
  drain(&j, 0);
  for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
}
