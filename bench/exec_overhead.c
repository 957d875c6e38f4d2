/*
 * exec_overhead.c — what the executor pool costs per process, against
 * `xargs -P` running the same no-op program the same number of times.
 *
 * Each round times three ways of running N processes P at a time: xargs
 * (the peer: fork+exec, no output capture), the pool as the scheduler uses
 * it (stdout and stderr captured through pipes, exits learned from pidfds),
 * and the pool also opening a log file per job. Rounds alternate so that
 * both see the same machine state; the best round of each is reported, with
 * the ratio pool / xargs (the target is at most 1.2). Run it with
 * bench/exec-overhead.sh, which builds the no-op program and this tool.
 *
 * usage: exec_overhead NOOP [N [P [ROUNDS [LOGDIR]]]]
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

struct counts {
  long ok, bad;
};

static void on_exit_count(void *ctx, uint64_t job, void *user, const struct exec_result *r) {
  struct counts *c = ctx;
  if (r->started && r->exit_code == 0)
    c->ok++;
  else
    c->bad++;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xargs -P p -n 1 NOOP < a file of the numbers 1..n. */
static double run_xargs(const char *noop, long n, int p) {
  char list[] = "/tmp/oast-bench-xargs-XXXXXX";
  int fd = mkstemp(list);
  if (fd < 0) {
    perror("mkstemp");
    exit(2);
  }
  FILE *f = fdopen(fd, "w");
  for (long i = 1; i <= n; i++) fprintf(f, "%ld\n", i);
  fclose(f);
  char pstr[16];
  snprintf(pstr, sizeof pstr, "%d", p);
  char *argv[] = {"xargs", "-P", pstr, "-n", "1", (char *)noop, NULL};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, list, O_RDONLY, 0);
  double t0 = now_s();
  pid_t pid;
  int rc = posix_spawnp(&pid, "xargs", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    fprintf(stderr, "cannot run xargs: %s\n", strerror(rc));
    exit(2);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  double t = now_s() - t0;
  unlink(list);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "xargs failed (status %d)\n", st);
    exit(2);
  }
  return t;
}

/* The same through the pool; logdir non-NULL: one log file per job there. */
static double run_pool(const char *noop, long n, int p, const char *logdir) {
  struct counts c = {0, 0};
  struct exec_callbacks cb = {.ctx = &c, .on_exit = on_exit_count};
  struct exec_local_config cfg = {.cpus = p, .gpus = "", .max_queued = (size_t)n};
  struct exec_pool *pool;
  oast_err e;
  if (exec_local_new(&cfg, &cb, &pool, &e) != 0) {
    fprintf(stderr, "exec_local_new: %s\n", e.msg);
    exit(2);
  }
  double t0 = now_s();
  char arg[32], logp[4096];
  const char *argv[] = {noop, arg, NULL};
  for (long i = 1; i <= n; i++) {
    snprintf(arg, sizeof arg, "%ld", i);
    struct exec_spec sp = {.argv = argv, .inherit_env = 1};
    if (logdir) {
      snprintf(logp, sizeof logp, "%s/%ld.log", logdir, i);
      sp.out_path = sp.err_path = logp;
    }
    if (exec_submit(pool, &sp, NULL, &e) != 0) {
      fprintf(stderr, "exec_submit: %s\n", e.msg);
      exit(2);
    }
  }
  for (;;) {
    struct exec_stats s;
    exec_stats(pool, &s);
    if (!s.unfinished) break;
    if (exec_run_once(pool, -1) < 0) {
      fprintf(stderr, "exec_run_once failed\n");
      exit(2);
    }
  }
  double t = now_s() - t0;
  exec_free(pool);
  if (c.bad || c.ok != n) {
    fprintf(stderr, "pool: %ld of %ld runs failed\n", c.bad, n);
    exit(2);
  }
  return t;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s NOOP [N [P [ROUNDS [LOGDIR]]]]\n", argv[0]);
    return 2;
  }
  const char *noop = argv[1];
  long n = argc > 2 ? atol(argv[2]) : 10000;
  int p = argc > 3 ? atoi(argv[3]) : 2;
  int rounds = argc > 4 ? atoi(argv[4]) : 3;
  const char *logdir = argc > 5 ? argv[5] : NULL;
  if (n < 1 || p < 1 || rounds < 1) {
    fprintf(stderr, "N, P and ROUNDS must be positive\n");
    return 2;
  }
  double bx = 1e30, bp = 1e30, bl = 1e30;
  printf("%-6s %12s %12s %16s\n", "round", "xargs_s", "pool_s", "pool+logs_s");
  for (int r = 1; r <= rounds; r++) {
    double tx = run_xargs(noop, n, p);
    double tp = run_pool(noop, n, p, NULL);
    double tl = logdir ? run_pool(noop, n, p, logdir) : 0;
    if (tx < bx) bx = tx;
    if (tp < bp) bp = tp;
    if (logdir && tl < bl) bl = tl;
    if (logdir)
      printf("%-6d %12.3f %12.3f %16.3f\n", r, tx, tp, tl);
    else
      printf("%-6d %12.3f %12.3f %16s\n", r, tx, tp, "-");
  }
  printf("best of %d, %ld processes at parallelism %d:\n", rounds, n, p);
  printf("  xargs -P%d      %8.3f s  %7.1f us/process\n", p, bx, bx / n * 1e6);
  printf("  pool            %8.3f s  %7.1f us/process  ratio %.3f\n", bp, bp / n * 1e6, bp / bx);
  if (logdir)
    printf("  pool + logs     %8.3f s  %7.1f us/process  ratio %.3f\n", bl, bl / n * 1e6,
           bl / bx);
  return 0;
}
