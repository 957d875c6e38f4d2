/*
 * launch.c — the launch benchmark's two programs in one (bench/launch.sh
 * builds it and runs the figures).
 *
 *   launch worker TIMES HOLD_MS
 *     A worker: appends "start <µs>" to TIMES as its first act, sleeps
 *     HOLD_MS, appends "exit <µs>" as its last and exits 0. Times are
 *     CLOCK_REALTIME microseconds, so that processes started by anything
 *     (the pool, mpirun, slurmstepd) on this machine can be compared.
 *
 *   launch pool local|slurm N WORKER TIMES HOLD_MS [SPOOL SLURM_CONF]
 *     Creates an executor pool, notes the time, submits N workers (one
 *     CPU each) and runs the pool's loop until the last on_exit, whose
 *     time is "the recorded result".
 *
 *   launch cmd N -- ARGV...
 *     The peers: notes the time, starts N copies of ARGV at once (N = 1
 *     for mpirun, which starts the workers itself; N sbatch --wait for
 *     plain Slurm) and waits for all of them; their end is the result.
 *
 * `pool` and `cmd` print one line: "t0 <µs> result <µs>". The script
 * takes from TIMES the last start and the last exit: launch-to-running is
 * last start - t0, exit-to-result is result - last exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec/exec.h"

extern char **environ;

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void mark(const char *path, const char *what) {
  char line[64];
  int n = snprintf(line, sizeof line, "%s %lld\n", what, now_us());
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, line, (size_t)n) != n) {
    perror(path);
    exit(1);
  }
  close(fd);
}

static int worker(int argc, char **argv) {
  if (argc < 4) return 2;
  mark(argv[2], "start");
  long ms = atol(argv[3]);
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
  mark(argv[2], "exit");
  return 0;
}

struct tally {
  int n, ended, failed;
  long long result;
};

static void on_exit_cb(void *ctx, uint64_t job, void *user, const struct exec_result *r) {
  struct tally *t = ctx;
  t->ended++;
  if (!r->started || r->exit_code != 0) {
    t->failed++;
    fprintf(stderr, "launch: job %llu failed: exit %d signal %d %s\n%s", (unsigned long long)job,
            r->exit_code, r->signal, r->error ? r->error : "", r->tail);
  }
  if (t->ended == t->n) t->result = now_us();
}

static int pool(int argc, char **argv) {
  if (argc < 7) return 2;
  const char *kind = argv[2];
  struct tally t = {atoi(argv[3]), 0, 0, 0};
  const char *wargv[] = {argv[4], "worker", argv[5], argv[6], NULL};
  struct exec_callbacks cb = {&t, NULL, NULL, on_exit_cb};
  struct exec_pool *p = NULL;
  oast_err e;
  oast_err_clear(&e);
  int rc;
  if (strcmp(kind, "slurm") == 0) {
    if (argc < 9) return 2;
    struct exec_slurm_config c = {0};
    c.spool_dir = argv[7];
    c.slurm_conf = argv[8];
    rc = exec_slurm_new(&c, &cb, &p, &e);
  } else {
    struct exec_local_config c = {0};
    c.cpus = t.n;
    c.gpus = "";
    rc = exec_local_new(&c, &cb, &p, &e);
  }
  if (rc) {
    fprintf(stderr, "launch: %s\n", e.msg);
    return 1;
  }
  long long t0 = now_us();
  for (int i = 0; i < t.n; i++) {
    struct exec_spec s = {0};
    s.argv = wargv;
    s.inherit_env = 1;
    s.cpus = 1;
    if (exec_submit(p, &s, NULL, &e) != 0) {
      fprintf(stderr, "launch: submit: %s\n", e.msg);
      exec_free(p);
      return 1;
    }
  }
  while (t.ended < t.n) exec_run_once(p, 1000);
  exec_free(p);
  printf("t0 %lld result %lld\n", t0, t.result);
  return t.failed ? 1 : 0;
}

static int cmd(int argc, char **argv) {
  if (argc < 5 || strcmp(argv[3], "--") != 0) return 2;
  int n = atoi(argv[2]);
  pid_t *pids = calloc((size_t)n, sizeof *pids);
  long long t0 = now_us();
  for (int i = 0; i < n; i++) {
    if (posix_spawnp(&pids[i], argv[4], NULL, NULL, argv + 4, environ) != 0) {
      perror(argv[4]);
      return 1;
    }
  }
  int failed = 0;
  for (int i = 0; i < n; i++) {
    int st;
    while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) failed++;
  }
  long long result = now_us();
  free(pids);
  printf("t0 %lld result %lld\n", t0, result);
  return failed ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "worker") == 0) return worker(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "pool") == 0) return pool(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "cmd") == 0) return cmd(argc, argv);
  fprintf(stderr, "usage: launch worker|pool|cmd ... (see bench/launch.c)\n");
  return 2;
}
