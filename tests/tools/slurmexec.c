/*
 * slurmexec.c — a test helper that drives an executor pool directly, so
 * the integration suite can check the Slurm executor against a real
 * cluster (and the same scenario against the local executor). Built by
 * `make build/slurmexec`; not part of the oast binary.
 *
 *   slurmexec < scenario.json
 *
 * The scenario:
 *   {"executor": "slurm" | "local" | "sched",
 *    "spool": DIR, "partition"?: P, "slurm_conf"?: FILE,
 *    "submit_timeout_ms"?, "poll_ms"?, "squeue_ms"?,   (slurm)
 *    "cpus"?, "gpus"?: "0,1",                          (local)
 *    "home"?: DIR, "default"?: "local" | "slurm",        (sched)
 *    "wait_s"?: how long all jobs may take (default 120),
 *    "jobs": [{"argv": [..], "env"?: [..], "inherit_env"?: bool, "cwd"?,
 *              "cpus"?, "gpus"?, "timeout_s"?, "out_path"?, "err_path"?,
 *              "cancel"?: "now" | "start" | "line:TEXT",
 *              "on"?: "local" | "slurm" | other (sched: sched_submit_on's
 *              executor; absent: the server's default)}]}
 *
 * With "sched" the jobs go through the server's scheduler (exec/sched.h)
 * as a server would submit them: a scheduler thread, the local pool and a
 * Slurm pool beside it, created when first asked for; "spool" and
 * "slurm_conf" are the server's --slurm-spool and --slurm-conf. Events
 * then also say which executor ran the job ("pool").
 *
 * It submits the jobs in order, runs the pool's loop, cancels a job right
 * after its submit ("now"), at its start ("start") or when it prints a
 * line equal to TEXT, and prints one JSON object a line for what happens:
 *   {"ev": "submit", "i", "job"} | {"ev": "submit_error", "i", "code", "message"}
 *   {"ev": "start", "job", "pid", "gpus": [..]}
 *   {"ev": "line", "job", "stream": "out" | "err", "line"}
 *   {"ev": "exit", "job", "started", "exit_code", "signal", "timed_out",
 *    "cancelled", "duration_s", "error", "tail"}
 *   {"ev": "cancel_error", "job", "code", "message"}
 *   {"ev": "done", "unfinished", "stats": {..}}  at the end.
 * Exit status 0 when every submitted job ended within wait_s, 1 if not,
 * 2 for a bad scenario or a pool that cannot be created.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/exec.h"
#include "exec/sched.h"
#include "http/server.h"
#include "util/alloc.h"

#define MAXJOBS 256

struct jstate {
  int submitted, ended;
  char *cancel;  /* "start", "line:..." or NULL */
};

/* A job submitted through the scheduler. */
struct stask {
  struct sched_task t;
  int i;
};

static struct {
  struct exec_pool *pool;
  struct server *srv;               /* sched mode */
  struct stask *tasks[MAXJOBS + 1]; /* sched mode, by scenario index + 1 */
  struct jstate j[MAXJOBS + 1];
  int ended;
  pthread_mutex_t mu;
  pthread_cond_t cond;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void print(json_t *o) {
  char *s = json_dumps(o, JSON_COMPACT);
  printf("%s\n", s);
  fflush(stdout);
  free(s);
  json_decref(o);
}

static void do_cancel(uint64_t job) {
  oast_err e;
  oast_err_clear(&e);
  int rc;
  if (S.srv)
    rc = S.tasks[job] ? sched_cancel(S.srv, &S.tasks[job]->t, &e) : OAST_ENOT_FOUND;
  else
    rc = exec_cancel(S.pool, job, &e);
  if (rc != 0)
    print(json_pack("{s:s, s:I, s:s, s:s}", "ev", "cancel_error", "job", (json_int_t)job, "code",
                    oast_err_name(e.code), "message", e.msg));
}

static void on_start(void *ctx, uint64_t job, void *user, pid_t pid, const int *gpus, size_t n) {
  json_t *g = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(g, json_integer(gpus[i]));
  print(json_pack("{s:s, s:I, s:i, s:o}", "ev", "start", "job", (json_int_t)job, "pid", (int)pid,
                  "gpus", g));
  if (job <= MAXJOBS && S.j[job].cancel && strcmp(S.j[job].cancel, "start") == 0) do_cancel(job);
}

static void on_line(void *ctx, uint64_t job, void *user, enum exec_stream st, const char *line,
                    size_t n) {
  print(json_pack("{s:s, s:I, s:s, s:s%}", "ev", "line", "job", (json_int_t)job, "stream",
                  st == EXEC_STDOUT ? "out" : "err", "line", line, n));
  const char *c = job <= MAXJOBS ? S.j[job].cancel : NULL;
  if (c && strncmp(c, "line:", 5) == 0 && strlen(c + 5) == n && memcmp(c + 5, line, n) == 0)
    do_cancel(job);
}

static void on_exit_cb(void *ctx, uint64_t job, void *user, const struct exec_result *r) {
  print(json_pack("{s:s, s:I, s:b, s:i, s:i, s:b, s:b, s:f, s:s?, s:s}", "ev", "exit", "job",
                  (json_int_t)job, "started", r->started, "exit_code", r->exit_code, "signal",
                  r->signal, "timed_out", r->timed_out, "cancelled", r->cancelled, "duration_s",
                  r->duration_s, "error", r->error, "tail", r->tail));
  pthread_mutex_lock(&S.mu);
  if (job <= MAXJOBS && !S.j[job].ended) {
    S.j[job].ended = 1;
    S.ended++;
  }
  pthread_cond_broadcast(&S.cond);
  pthread_mutex_unlock(&S.mu);
}

/* Scheduler tasks: events are keyed by scenario index + 1 ("job"), with
 * the executor's own id and name beside it. */
static void t_start(struct server *srv, struct sched_task *t, pid_t pid, const int *gpus, size_t n) {
  struct stask *st = (struct stask *)t;
  print(json_pack("{s:s, s:i, s:s}", "ev", "pool", "job", st->i + 1, "pool", exec_name(t->pool)));
  on_start(NULL, (uint64_t)st->i + 1, NULL, pid, gpus, n);
}

static void t_line(struct server *srv, struct sched_task *t, enum exec_stream s, const char *line,
                   size_t n) {
  on_line(NULL, (uint64_t)((struct stask *)t)->i + 1, NULL, s, line, n);
}

static void t_exit(struct server *srv, struct sched_task *t, const struct exec_result *r) {
  on_exit_cb(NULL, (uint64_t)((struct stask *)t)->i + 1, NULL, r);
}

static const struct sched_task_ops task_ops = {t_start, t_line, t_exit};

static const char **strv(json_t *a) {
  if (!json_is_array(a)) return NULL;
  size_t n = json_array_size(a);
  const char **v = xcalloc(n + 1, sizeof *v);
  for (size_t i = 0; i < n; i++) v[i] = json_string_value(json_array_get(a, i));
  return v;
}

static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }
static int num(json_t *o, const char *k) { return (int)json_integer_value(json_object_get(o, k)); }

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void) {
  json_error_t jerr;
  json_t *sc = json_loadf(stdin, 0, &jerr);
  if (!sc || !json_is_object(sc)) {
    fprintf(stderr, "slurmexec: the scenario is not a JSON object: %s\n", jerr.text);
    return 2;
  }
  const char *kind = str(sc, "executor") ? str(sc, "executor") : "slurm";
  struct exec_callbacks cb = {NULL, on_start, on_line, on_exit_cb};
  oast_err e;
  oast_err_clear(&e);
  int rc;
  struct server srv;
  memset(&srv, 0, sizeof srv);
  if (strcmp(kind, "sched") == 0) {
    server_config_defaults(&srv.cfg);
    free(srv.cfg.home);
    free(srv.cfg.executor);
    srv.cfg.home = xstrdup(str(sc, "home") ? str(sc, "home") : ".");
    srv.cfg.executor = xstrdup(str(sc, "default") ? str(sc, "default") : "local");
    srv.cfg.gpus = xstrdup("");
    if (str(sc, "spool")) srv.cfg.slurm_spool = xstrdup(str(sc, "spool"));
    if (str(sc, "slurm_conf")) srv.cfg.slurm_conf = xstrdup(str(sc, "slurm_conf"));
    if (str(sc, "partition")) srv.cfg.slurm_partition = xstrdup(str(sc, "partition"));
    S.srv = &srv;
    rc = sched_start(&srv, &e);
  } else if (strcmp(kind, "local") == 0) {
    struct exec_local_config lc = {0};
    lc.cpus = num(sc, "cpus");
    lc.gpus = str(sc, "gpus") ? str(sc, "gpus") : "";
    rc = exec_local_new(&lc, &cb, &S.pool, &e);
  } else {
    struct exec_slurm_config c = {0};
    c.spool_dir = str(sc, "spool");
    c.partition = str(sc, "partition");
    c.slurm_conf = str(sc, "slurm_conf");
    c.submit_timeout_ms = num(sc, "submit_timeout_ms");
    c.poll_ms = num(sc, "poll_ms");
    c.squeue_ms = num(sc, "squeue_ms");
    rc = exec_slurm_new(&c, &cb, &S.pool, &e);
  }
  if (rc) {
    print(json_pack("{s:s, s:s, s:s}", "ev", "pool_error", "code", oast_err_name(e.code),
                    "message", e.msg));
    if (S.srv) server_config_release(&srv.cfg);
    json_decref(sc);
    return 2;
  }
  json_t *jobs = json_object_get(sc, "jobs");
  size_t njobs = json_array_size(jobs);
  if (njobs > MAXJOBS) njobs = MAXJOBS;
  int submitted = 0;
  for (size_t i = 0; i < njobs; i++) {
    json_t *js = json_array_get(jobs, i);
    const char **argv = strv(json_object_get(js, "argv"));
    const char **env = strv(json_object_get(js, "env"));
    struct exec_spec spec = {0};
    spec.argv = argv;
    spec.env = env;
    spec.inherit_env = json_is_true(json_object_get(js, "inherit_env"));
    spec.cwd = str(js, "cwd");
    spec.cpus = num(js, "cpus");
    spec.gpus = num(js, "gpus");
    spec.timeout_s = json_number_value(json_object_get(js, "timeout_s"));
    spec.out_path = str(js, "out_path");
    spec.err_path = str(js, "err_path");
    uint64_t id = 0;
    oast_err_clear(&e);
    int src;
    if (S.srv) {
      struct stask *st = xcalloc(1, sizeof *st);
      st->t.ops = &task_ops;
      st->i = (int)i;
      id = i + 1;
      S.tasks[id] = st;
      src = sched_submit_on(S.srv, str(js, "on"), &spec, &st->t, &e);
      if (src != 0) {
        S.tasks[id] = NULL;
        free(st);
      }
    } else {
      src = exec_submit(S.pool, &spec, &id, &e);
    }
    if (src != 0) {
      print(json_pack("{s:s, s:i, s:s, s:s}", "ev", "submit_error", "i", (int)i, "code",
                      oast_err_name(e.code), "message", e.msg));
    } else {
      print(json_pack("{s:s, s:i, s:I}", "ev", "submit", "i", (int)i, "job", (json_int_t)id));
      if (id <= MAXJOBS) {
        S.j[id].submitted = 1;
        const char *c = str(js, "cancel");
        if (c && strcmp(c, "now") == 0)
          do_cancel(id);
        else if (c)
          S.j[id].cancel = xstrdup(c);
      }
      submitted++;
    }
    free(argv);
    free(env);
  }
  double wait = json_number_value(json_object_get(sc, "wait_s"));
  if (wait <= 0) wait = 120;
  double deadline = now_s() + wait;
  if (S.srv) {
    pthread_mutex_lock(&S.mu);
    while (S.ended < submitted && now_s() < deadline) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 200000000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      pthread_cond_timedwait(&S.cond, &S.mu, &ts);
    }
    pthread_mutex_unlock(&S.mu);
  } else {
    while (S.ended < submitted && now_s() < deadline) exec_run_once(S.pool, 200);
  }
  struct exec_stats st;
  if (S.srv)
    sched_stats(S.srv, &st);
  else
    exec_stats(S.pool, &st);
  print(json_pack("{s:s, s:i, s:{s:I, s:I, s:I, s:i, s:i, s:i, s:i}}", "ev", "done", "unfinished",
                  submitted - S.ended, "stats", "queued", (json_int_t)st.queued, "running",
                  (json_int_t)st.running, "unfinished", (json_int_t)st.unfinished, "cpus_total",
                  st.cpus_total, "cpus_free", st.cpus_free, "gpus_total", st.gpus_total,
                  "gpus_free", st.gpus_free));
  pthread_mutex_lock(&S.mu);
  int ok = S.ended == submitted;
  pthread_mutex_unlock(&S.mu);
  if (S.srv) {
    sched_stop(S.srv);
    server_config_release(&srv.cfg);
    for (int i = 0; i <= MAXJOBS; i++) free(S.tasks[i]);
  } else {
    exec_free(S.pool);
  }
  for (int i = 0; i <= MAXJOBS; i++) free(S.j[i].cancel);
  json_decref(sc);
  return ok ? 0 : 1;
}
