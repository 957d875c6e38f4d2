/*
 * test_exec.c — the executor pool, with real processes: slots and FIFO
 * order, exit codes and signals, output lines and logs, timeouts and
 * cancellation killing whole process groups, GPU assignment, environment,
 * and submissions from several threads.
 *
 * Tests assert what the children saw and what the callbacks reported,
 * never how long anything took. A child that must be killed sleeps for
 * 100 s, so a pool that failed to kill it would be caught by the wrong
 * exit status, not by a clock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec/exec.h"
#include "test.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fs.h"

#define MAXJ 512
#define MAXL 512

/* What the callbacks saw, per job id. */
struct jrec {
  int started, exited, start_seq, exit_seq;
  pid_t pid;
  int gpus[8];
  size_t ngpus;
  size_t nlines;
  char *line[MAXL];
  size_t len[MAXL];
  int stream[MAXL];
  struct exec_result r;  /* error and tail copied */
};

static struct {
  struct exec_pool *pool;
  struct jrec j[MAXJ];
  int nstart, nexit;
  int max_running;
  int gpu_busy[8];
  /* Hooks for individual tests. */
  void (*line_hook)(uint64_t job, const char *line);
  void (*start_hook)(uint64_t job);
} R;

static pthread_mutex_t rec_mu = PTHREAD_MUTEX_INITIALIZER;

static void on_start(void *ctx, uint64_t job, void *user, pid_t pid, const int *gpus, size_t ng) {
  ASSERT(job < MAXJ);
  struct jrec *r = &R.j[job];
  ASSERT(!r->started);
  r->started = 1;
  r->start_seq = ++R.nstart;
  r->pid = pid;
  r->ngpus = ng;
  for (size_t i = 0; i < ng && i < 8; i++) {
    r->gpus[i] = gpus[i];
    ASSERT(gpus[i] >= 0 && gpus[i] < 8);
    ASSERT(!R.gpu_busy[gpus[i]]);
    R.gpu_busy[gpus[i]] = 1;
  }
  struct exec_stats s;
  exec_stats(R.pool, &s);
  if ((int)s.running > R.max_running) R.max_running = (int)s.running;
  if (R.start_hook) R.start_hook(job);
}

static void on_line(void *ctx, uint64_t job, void *user, enum exec_stream st, const char *line,
                    size_t n) {
  ASSERT(job < MAXJ);
  struct jrec *r = &R.j[job];
  ASSERT(r->started && !r->exited);
  ASSERT_EQ(line[n], '\0');
  ASSERT(r->nlines < MAXL);
  r->line[r->nlines] = xstrndup(line, n);
  r->len[r->nlines] = n;
  r->stream[r->nlines] = st;
  r->nlines++;
  if (R.line_hook) R.line_hook(job, line);
}

static void on_exit_cb(void *ctx, uint64_t job, void *user, const struct exec_result *res) {
  ASSERT(job < MAXJ);
  pthread_mutex_lock(&rec_mu);
  struct jrec *r = &R.j[job];
  ASSERT(!r->exited);
  ASSERT_EQ(r->started, res->started);
  r->exited = 1;
  r->exit_seq = ++R.nexit;
  r->r = *res;
  r->r.error = res->error ? xstrdup(res->error) : NULL;
  r->r.tail = xstrdup(res->tail);
  for (size_t i = 0; i < r->ngpus; i++) R.gpu_busy[r->gpus[i]] = 0;
  pthread_mutex_unlock(&rec_mu);
}

static const struct exec_callbacks CB = {NULL, on_start, on_line, on_exit_cb};

static struct exec_pool *pool_new(int cpus, const char *gpus, int grace_ms, size_t line_max) {
  struct exec_local_config cfg = {.cpus = cpus, .gpus = gpus ? gpus : "",
                                  .kill_grace_ms = grace_ms, .line_max = line_max};
  oast_err e;
  struct exec_pool *p = NULL;
  int rc = exec_local_new(&cfg, &CB, &p, &e);
  if (rc) fprintf(stderr, "exec_local_new: %s\n", e.msg);
  ASSERT_EQ(rc, 0);
  ASSERT_STREQ(exec_name(p), "local");
  R.pool = p;
  return p;
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs the loop until every submitted job has been reported. The 300 s
 * guard only turns a hang into a failure; nothing here comes near it. */
static void run_all(struct exec_pool *p) {
  double t0 = mono_s();
  for (;;) {
    struct exec_stats s;
    exec_stats(p, &s);
    if (!s.unfinished) break;
    ASSERT(exec_run_once(p, 1000) >= 0);
    ASSERT(mono_s() - t0 < 300);
  }
  struct exec_stats s;
  exec_stats(p, &s);
  ASSERT_EQ(s.queued, 0);
  ASSERT_EQ(s.running, 0);
  ASSERT_EQ(s.cpus_free, s.cpus_total);
  ASSERT_EQ(s.gpus_free, s.gpus_total);
}

/* {"D=<this test's directory>", NULL}, for children that share files. */
static const char *const *env_with_tmpdir(void) {
  static char env_d[512];
  static const char *env[] = {env_d, NULL};
  snprintf(env_d, sizeof env_d, "D=%s", test_tmpdir());
  return env;
}

/* Runs the loop until on_exit was called `want` times (submissions may
 * still be coming from other threads). */
static void run_until_exits(struct exec_pool *p, int want) {
  double t0 = mono_s();
  for (;;) {
    pthread_mutex_lock(&rec_mu);
    int done = R.nexit;
    pthread_mutex_unlock(&rec_mu);
    if (done == want) break;
    ASSERT(exec_run_once(p, 1000) >= 0);
    ASSERT(mono_s() - t0 < 300);
  }
}

static uint64_t submit(struct exec_pool *p, struct exec_spec *sp) {
  uint64_t id = 0;
  oast_err e;
  int rc = exec_submit(p, sp, &id, &e);
  if (rc) fprintf(stderr, "exec_submit: %s\n", e.msg);
  ASSERT_EQ(rc, 0);
  ASSERT(id > 0 && id < MAXJ);
  return id;
}

/* Submits `/bin/sh -c script` with the server's environment plus env. */
static uint64_t submit_sh(struct exec_pool *p, const char *script, struct exec_spec *base) {
  const char *argv[] = {"/bin/sh", "-c", script, NULL};
  struct exec_spec sp = base ? *base : (struct exec_spec){0};
  sp.argv = argv;
  if (!base) sp.inherit_env = 1;
  return submit(p, &sp);
}

static uint64_t submit_argv(struct exec_pool *p, const char *const *argv) {
  struct exec_spec sp = {.argv = argv, .inherit_env = 1};
  return submit(p, &sp);
}

/* The lines of one stream, each followed by '\n'. Caller frees. */
static char *lines_of(uint64_t job, int stream) {
  struct jrec *r = &R.j[job];
  size_t n = 1;
  for (size_t i = 0; i < r->nlines; i++) n += r->len[i] + 1;
  char *s = xmalloc(n), *q = s;
  for (size_t i = 0; i < r->nlines; i++) {
    if (r->stream[i] != stream) continue;
    memcpy(q, r->line[i], r->len[i]);
    q += r->len[i];
    *q++ = '\n';
  }
  *q = '\0';
  return s;
}

static void assert_lines(uint64_t job, int stream, const char *want) {
  char *s = lines_of(job, stream);
  ASSERT_STREQ(s, want);
  free(s);
}

static int has_line(uint64_t job, const char *want) {
  for (size_t i = 0; i < R.j[job].nlines; i++)
    if (strcmp(R.j[job].line[i], want) == 0) return 1;
  return 0;
}

static char *read_file(const char *path) {
  char *s = NULL;
  size_t n;
  ASSERT_EQ(fs_read_all(path, 0, &s, &n, NULL), 0);
  return s;
}

static void assert_file(const char *path, const char *want) {
  char *s = read_file(path);
  ASSERT_STREQ(s, want);
  free(s);
}

/* Waits for a process this test inherited as subreaper; it must have been killed. */
static void assert_killed(pid_t pid) {
  int st = 0;
  pid_t r;
  while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {}
  ASSERT_EQ(r, pid);
  ASSERT(WIFSIGNALED(st));
}

/* ---- exits ---- */

TEST(exec_exit_codes_and_signals) {
  struct exec_pool *p = pool_new(2, NULL, 0, 0);
  const char *t[] = {"/bin/true", NULL};
  const char *f[] = {"false", NULL};  /* found in PATH */
  const char *missing[] = {"/nonexistent/oast-no-such-program", NULL};
  uint64_t a = submit_argv(p, t);
  uint64_t b = submit_sh(p, "exit 3", NULL);
  uint64_t c = submit_sh(p, "kill -9 $$", NULL);
  uint64_t d = submit_argv(p, missing);
  uint64_t g = submit_argv(p, f);
  run_all(p);
  ASSERT_EQ(R.j[a].r.exit_code, 0);
  ASSERT_EQ(R.j[a].r.signal, 0);
  ASSERT(R.j[a].r.started);
  ASSERT(R.j[a].pid > 0);
  ASSERT_EQ(R.j[b].r.exit_code, 3);
  ASSERT_EQ(R.j[c].r.exit_code, -1);
  ASSERT_EQ(R.j[c].r.signal, SIGKILL);
  ASSERT(!R.j[c].r.timed_out && !R.j[c].r.cancelled);
  ASSERT(!R.j[d].started);
  ASSERT(!R.j[d].r.started);
  ASSERT(R.j[d].r.error && strstr(R.j[d].r.error, "oast-no-such-program"));
  ASSERT_EQ(R.j[g].r.exit_code, 1);
  ASSERT(R.j[a].r.duration_s >= 0);
  ASSERT_EQ(R.nexit, 5);
  exec_free(p);
}

/* ---- output ---- */

TEST(exec_output_lines_in_order_with_job_ids) {
  struct exec_pool *p = pool_new(2, NULL, 0, 0);
  char *outf = fs_join(test_tmpdir(), "a.out"), *errf = fs_join(test_tmpdir(), "a.err");
  char *both = fs_join(test_tmpdir(), "b.log");
  struct exec_spec sa = {.inherit_env = 1, .out_path = outf, .err_path = errf};
  uint64_t a = submit_sh(p, "echo a1; echo e1 >&2; echo a2; echo; echo e2 >&2; printf last", &sa);
  struct exec_spec sb = {.inherit_env = 1, .out_path = both, .err_path = both};
  uint64_t b = submit_sh(p, "for i in 1 2 3 4 5; do echo b$i; echo x$i >&2; done", &sb);
  run_all(p);
  char *s;
  assert_lines(a, EXEC_STDOUT, "a1\na2\n\nlast\n");
  assert_lines(a, EXEC_STDERR, "e1\ne2\n");
  assert_file(outf, "a1\na2\n\nlast\n");
  assert_file(errf, "e1\ne2\n");
  assert_lines(b, EXEC_STDOUT, "b1\nb2\nb3\nb4\nb5\n");
  assert_lines(b, EXEC_STDERR, "x1\nx2\nx3\nx4\nx5\n");
  /* One file for both streams: every line whole, each stream in order. */
  s = read_file(both);
  ASSERT_EQ(strlen(s), 30);
  const char *prev_b = s, *prev_x = s;
  for (int i = 1; i <= 5; i++) {
    char wb[16], wx[16];
    snprintf(wb, sizeof wb, "b%d\n", i);
    snprintf(wx, sizeof wx, "x%d\n", i);
    const char *pb = strstr(s, wb), *px = strstr(s, wx);
    ASSERT(pb && px && pb >= prev_b && px >= prev_x);
    ASSERT(pb == s || pb[-1] == '\n');
    ASSERT(px == s || px[-1] == '\n');
    prev_b = pb;
    prev_x = px;
  }
  free(s);
  /* A second run appends. */
  uint64_t c = submit_sh(p, "echo again", &sb);
  run_all(p);
  ASSERT_EQ(R.j[c].r.exit_code, 0);
  s = read_file(both);
  ASSERT_EQ(strlen(s), 36);
  ASSERT(strcmp(s + 30, "again\n") == 0);
  free(s);
  free(outf);
  free(errf);
  free(both);
  exec_free(p);
}

TEST(exec_long_lines_are_split) {
  struct exec_pool *p = pool_new(1, NULL, 0, 1000);
  uint64_t a = submit_sh(p,
                         "head -c 2500 /dev/zero | tr '\\0' x; echo;"
                         "head -c 1000 /dev/zero | tr '\\0' y; echo;"
                         "echo short; head -c 200000 /dev/zero | tr '\\0' z",
                         NULL);
  run_all(p);
  struct jrec *r = &R.j[a];
  ASSERT_EQ(R.j[a].r.exit_code, 0);
  ASSERT_EQ(r->nlines, 3 + 1 + 1 + 200);
  ASSERT_EQ(r->len[0], 1000);
  ASSERT_EQ(r->len[1], 1000);
  ASSERT_EQ(r->len[2], 500);
  ASSERT_EQ(r->line[2][499], 'x');
  ASSERT_EQ(r->len[3], 1000);
  ASSERT_EQ(r->line[3][0], 'y');
  ASSERT_STREQ(r->line[4], "short");
  for (size_t i = 5; i < r->nlines; i++) {
    ASSERT_EQ(r->len[i], 1000);
    ASSERT(r->line[i][0] == 'z' && r->line[i][999] == 'z');
  }
  exec_free(p);
}

TEST(exec_tail_holds_last_lines) {
  struct exec_pool *p = pool_new(1, NULL, 0, 0);
  uint64_t a = submit_sh(p, "i=1; while [ $i -le 30 ]; do echo l$i; i=$((i+1)); done; exit 1", NULL);
  uint64_t b = submit_argv(p, (const char *const[]){"/bin/true", NULL});
  run_all(p);
  ASSERT_EQ(R.j[a].r.exit_code, 1);
  struct buf want = BUF_INIT;
  for (int i = 11; i <= 30; i++) buf_printf(&want, "l%d\n", i);
  ASSERT_STREQ(R.j[a].r.tail, buf_cstr(&want));
  buf_release(&want);
  ASSERT_STREQ(R.j[b].r.tail, "");
  exec_free(p);
}

/* ---- slots and order ---- */

TEST(exec_parallelism_never_exceeds_slots) {
  struct exec_pool *p = pool_new(2, NULL, 0, 0);
  const char *const *env = env_with_tmpdir();
  struct exec_spec sp = {.inherit_env = 1, .env = env};
  uint64_t ids[10];
  /* Each child marks itself present, counts who is present, and leaves. */
  for (int i = 0; i < 10; i++)
    ids[i] = submit_sh(p, "touch \"$D/$$\"; ls \"$D\" | wc -l; sleep 0.05; rm \"$D/$$\"", &sp);
  run_all(p);
  for (int i = 0; i < 10; i++) {
    struct jrec *r = &R.j[ids[i]];
    ASSERT_EQ(r->r.exit_code, 0);
    ASSERT_EQ(r->nlines, 1);
    int n = atoi(r->line[0]);
    ASSERT(n >= 1 && n <= 2);
  }
  ASSERT(R.max_running <= 2);
  exec_free(p);
}

TEST(exec_slots_run_jobs_at_the_same_time) {
  /* a waits for a file that only b creates: it can only end if both run at once. */
  struct exec_pool *p = pool_new(2, NULL, 0, 0);
  const char *const *env = env_with_tmpdir();
  struct exec_spec sp = {.inherit_env = 1, .env = env, .timeout_s = 120};
  uint64_t a = submit_sh(p, "while [ ! -e \"$D/b\" ]; do sleep 0.01; done; echo saw-b", &sp);
  uint64_t b = submit_sh(p, "touch \"$D/b\"", &sp);
  run_all(p);
  ASSERT_EQ(R.j[a].r.exit_code, 0);
  ASSERT(!R.j[a].r.timed_out);
  ASSERT(has_line(a, "saw-b"));
  ASSERT_EQ(R.j[b].r.exit_code, 0);
  exec_free(p);
}

TEST(exec_fifo_order) {
  struct exec_pool *p = pool_new(1, NULL, 0, 0);
  char *f = fs_join(test_tmpdir(), "order");
  char script[1024];
  uint64_t ids[6];
  for (int i = 0; i < 6; i++) {
    snprintf(script, sizeof script, "echo %d >> '%s'", i + 1, f);
    ids[i] = submit_sh(p, script, NULL);
  }
  run_all(p);
  char *s = read_file(f);
  ASSERT_STREQ(s, "1\n2\n3\n4\n5\n6\n");
  free(s);
  for (int i = 0; i < 6; i++) {
    ASSERT_EQ(R.j[ids[i]].start_seq, i + 1);
    ASSERT_EQ(R.j[ids[i]].exit_seq, i + 1);
  }
  ASSERT_EQ(R.max_running, 1);
  free(f);
  exec_free(p);
}

TEST(exec_fifo_big_job_is_not_overtaken) {
  /* 2 slots: a (1 CPU) runs, b wants 2, c wants 1 and fits beside a, but
   * must not start before b. */
  struct exec_pool *p = pool_new(2, NULL, 0, 0);
  struct exec_spec one = {.inherit_env = 1, .cpus = 1};
  struct exec_spec two = {.inherit_env = 1, .cpus = 2};
  uint64_t a = submit_sh(p, "sleep 0.2", &one);
  uint64_t b = submit_sh(p, "true", &two);
  uint64_t c = submit_sh(p, "true", &one);
  run_all(p);
  ASSERT_EQ(R.j[a].start_seq, 1);
  ASSERT_EQ(R.j[b].start_seq, 2);
  ASSERT_EQ(R.j[c].start_seq, 3);
  ASSERT(R.j[b].exit_seq > R.j[a].exit_seq);
  exec_free(p);
}

TEST(exec_many_short_jobs) {
  struct exec_pool *p = pool_new(2, NULL, 0, 0);
  const char *t[] = {"/bin/true", NULL};
  for (int i = 0; i < 300; i++) submit_argv(p, t);
  run_all(p);
  ASSERT_EQ(R.nexit, 300);
  for (int i = 1; i <= 300; i++) ASSERT_EQ(R.j[i].r.exit_code, 0);
  ASSERT(R.max_running <= 2);
  exec_free(p);
}

/* ---- ends that are not plain exits ---- */

TEST(exec_timeout_kills_whole_group) {
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  struct exec_pool *p = pool_new(1, NULL, 200, 0);
  struct exec_spec sp = {.inherit_env = 1, .timeout_s = 0.5};
  /* The grandchild ignores SIGTERM; only the group's SIGKILL ends it. */
  uint64_t a = submit_sh(p, "sh -c 'trap \"\" TERM; exec sleep 100' & echo $!; wait", &sp);
  run_all(p);
  struct jrec *r = &R.j[a];
  ASSERT(r->r.timed_out);
  ASSERT(!r->r.cancelled);
  ASSERT_EQ(r->r.signal, SIGTERM);
  ASSERT_EQ(r->nlines, 1);
  assert_killed((pid_t)atoi(r->line[0]));
  exec_free(p);
}

TEST(exec_timeout_sigkill_after_grace) {
  struct exec_pool *p = pool_new(1, NULL, 200, 0);
  struct exec_spec sp = {.inherit_env = 1, .timeout_s = 0.3};
  uint64_t a = submit_sh(p, "trap '' TERM; while :; do sleep 1; done", &sp);
  run_all(p);
  ASSERT(R.j[a].r.timed_out);
  ASSERT_EQ(R.j[a].r.signal, SIGKILL);
  exec_free(p);
}

TEST(exec_leader_exit_ends_job_though_grandchild_holds_pipe) {
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  struct exec_pool *p = pool_new(1, NULL, 0, 0);
  uint64_t a = submit_sh(p, "sleep 100 & echo $!; echo done", NULL);
  uint64_t b = submit_sh(p, "echo next", NULL);
  run_all(p);
  struct jrec *r = &R.j[a];
  ASSERT_EQ(r->r.exit_code, 0);
  ASSERT(!r->r.timed_out);
  ASSERT_EQ(r->nlines, 2);
  ASSERT_STREQ(r->line[1], "done");
  assert_killed((pid_t)atoi(r->line[0]));
  ASSERT(has_line(b, "next"));
  exec_free(p);
}

TEST(exec_closed_stdout_keeps_running) {
  struct exec_pool *p = pool_new(1, NULL, 0, 0);
  uint64_t a = submit_sh(p, "echo before; exec 1>&-; sleep 0.1; echo after >&2; exit 5", NULL);
  run_all(p);
  assert_lines(a, EXEC_STDOUT, "before\n");
  assert_lines(a, EXEC_STDERR, "after\n");
  ASSERT_EQ(R.j[a].r.exit_code, 5);
  exec_free(p);
}

TEST(exec_out_of_descriptors_waits_for_a_running_job) {
  struct exec_pool *p = pool_new(8, NULL, 0, 0);
  /* Room for two running jobs (three descriptors each: two pipes and a
   * pidfd) and one more: the third start fails for want of descriptors and
   * must wait for one of them to end, not fail. */
  int top = 0;
  for (int fd = 0; fd < 1024; fd++)
    if (fcntl(fd, F_GETFD) >= 0) top = fd;
  for (int fd; (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < top;) ASSERT(fd >= 0);  /* holes */
  top++;
  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  rl.rlim_cur = (rlim_t)top + 1 + 7;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
  for (int i = 0; i < 6; i++) submit_sh(p, "echo hi", NULL);
  run_all(p);
  ASSERT_EQ(R.nexit, 6);
  for (int i = 1; i <= 6; i++) {
    ASSERT(R.j[i].r.started);
    ASSERT_EQ(R.j[i].r.exit_code, 0);
    ASSERT(has_line(i, "hi"));
  }
  ASSERT(R.max_running <= 2);
  /* With nothing running to wait for, it fails with a clear error. */
  rl.rlim_cur = (rlim_t)top + 1 + 1;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
  uint64_t a = submit_sh(p, "true", NULL);
  run_all(p);
  ASSERT(!R.j[a].r.started);
  ASSERT(R.j[a].r.error && strstr(R.j[a].r.error, "pipes"));
  exec_free(p);
}

/* ---- cancel ---- */

static uint64_t cancel_stubborn, cancel_queued;

static void cancel_on_ready(uint64_t job, const char *line) {
  if (job != cancel_stubborn || strcmp(line, "ready") != 0) return;
  oast_err e;
  ASSERT_EQ(exec_cancel(R.pool, cancel_queued, &e), 0);
  ASSERT_EQ(exec_cancel(R.pool, cancel_stubborn, &e), 0);
  ASSERT_EQ(exec_cancel(R.pool, cancel_stubborn, &e), 0); /* again: no-op */
}

TEST(exec_cancel_running_and_queued) {
  struct exec_pool *p = pool_new(1, NULL, 200, 0);
  /* Ignores SIGTERM: ends by the SIGKILL after the grace period. */
  cancel_stubborn = submit_sh(p, "trap '' TERM; echo ready; while :; do sleep 1; done", NULL);
  cancel_queued = submit_argv(p, (const char *const[]){"/bin/true", NULL});
  uint64_t after = submit_sh(p, "echo after", NULL);
  R.line_hook = cancel_on_ready;
  run_all(p);
  struct jrec *s = &R.j[cancel_stubborn], *q = &R.j[cancel_queued];
  ASSERT(s->r.started && s->r.cancelled && !s->r.timed_out);
  ASSERT_EQ(s->r.signal, SIGKILL);
  ASSERT(!q->started);
  ASSERT(!q->r.started && q->r.cancelled);
  ASSERT_EQ(q->r.exit_code, -1);
  ASSERT(q->r.error == NULL);
  ASSERT(has_line(after, "after"));
  oast_err e;
  ASSERT_EQ(exec_cancel(p, cancel_stubborn, &e), OAST_ENOT_FOUND);
  ASSERT_EQ(exec_cancel(p, 424242, &e), OAST_ENOT_FOUND);
  ASSERT(strstr(e.msg, "424242"));
  exec_free(p);
}

static void cancel_at_start(uint64_t job) {
  oast_err e;
  ASSERT_EQ(exec_cancel(R.pool, job, &e), 0);
}

/* Cancels once the grandchild said it ignores SIGTERM (and its pid is known). */
static void cancel_on_second_line(uint64_t job, const char *line) {
  oast_err e;
  if (R.j[job].nlines == 2) ASSERT_EQ(exec_cancel(R.pool, job, &e), 0);
}

TEST(exec_cancel_kills_whole_group) {
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  struct exec_pool *p = pool_new(1, NULL, 200, 0);
  R.line_hook = cancel_on_second_line;
  uint64_t a = submit_sh(p, "sh -c 'trap \"\" TERM; echo ready; exec sleep 100' & echo $!; wait",
                         NULL);
  run_all(p);
  ASSERT(R.j[a].r.cancelled);
  ASSERT_EQ(R.j[a].r.signal, SIGTERM);
  ASSERT_EQ(R.j[a].nlines, 2);
  assert_killed((pid_t)atoi(strcmp(R.j[a].line[0], "ready") ? R.j[a].line[0] : R.j[a].line[1]));
  exec_free(p);
}

TEST(exec_cancel_from_on_start) {
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  struct exec_pool *p = pool_new(1, NULL, 200, 0);
  R.start_hook = cancel_at_start;
  uint64_t a = submit_argv(p, (const char *const[]){"sleep", "100", NULL});
  run_all(p);
  ASSERT(R.j[a].r.cancelled);
  ASSERT_EQ(R.j[a].r.signal, SIGTERM);
  exec_free(p);
}

/* ---- GPUs ---- */

TEST(exec_gpus_assigned_distinct_and_freed) {
  struct exec_pool *p = pool_new(4, "0,1", 0, 0);
  struct exec_stats st;
  exec_stats(p, &st);
  ASSERT_EQ(st.gpus_total, 2);
  const char *const *env = env_with_tmpdir();
  struct exec_spec one = {.inherit_env = 1, .env = env, .gpus = 1};
  /* A GPU file that exists means another job holds the same GPU: noclobber fails. */
  const char *script =
      "set -C; : > \"$D/gpu.$CUDA_VISIBLE_DEVICES\" || exit 9; echo \"$CUDA_VISIBLE_DEVICES\";"
      " sleep 0.05; rm \"$D/gpu.$CUDA_VISIBLE_DEVICES\"";
  uint64_t ids[6];
  for (int i = 0; i < 6; i++) ids[i] = submit_sh(p, script, &one);
  struct exec_spec two = {.inherit_env = 1, .gpus = 2};
  uint64_t both = submit_sh(p, "echo \"[$CUDA_VISIBLE_DEVICES]\"", &two);
  struct exec_spec none = {.inherit_env = 1};
  uint64_t cpu = submit_sh(p, "echo \"[${CUDA_VISIBLE_DEVICES-unset}]\"", &none);
  run_all(p);
  for (int i = 0; i < 6; i++) {
    struct jrec *r = &R.j[ids[i]];
    ASSERT_EQ(r->r.exit_code, 0);
    ASSERT_EQ(r->ngpus, 1);
    char want[16];
    snprintf(want, sizeof want, "%d", r->gpus[0]);
    ASSERT_EQ(r->nlines, 1);
    ASSERT_STREQ(r->line[0], want);
  }
  ASSERT_EQ(R.j[both].ngpus, 2);
  ASSERT_STREQ(R.j[both].line[0], "[0,1]");
  ASSERT_EQ(R.j[cpu].ngpus, 0);
  ASSERT_STREQ(R.j[cpu].line[0], "[]");
  /* GPUs bound how many run at once even with CPUs to spare. */
  ASSERT(R.max_running <= 3);

  oast_err e;
  uint64_t id = 0;
  struct exec_spec three = {.argv = (const char *const[]){"true", NULL}, .gpus = 3};
  ASSERT_EQ(exec_submit(p, &three, &id, &e), OAST_EBAD_REQUEST);
  ASSERT_EQ(oast_err_http(e.code), 400);
  ASSERT(strstr(e.msg, "3 GPUs") && strstr(e.msg, "has 2"));
  struct exec_spec cpus5 = {.argv = (const char *const[]){"true", NULL}, .cpus = 5};
  ASSERT_EQ(exec_submit(p, &cpus5, &id, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "5 CPUs"));
  exec_free(p);
}

TEST(exec_gpu_list_parse) {
  int *ids;
  size_t n;
  oast_err e;
  ASSERT_EQ(exec_gpu_parse("0,1", &ids, &n, &e), 0);
  ASSERT_EQ(n, 2);
  ASSERT(ids[0] == 0 && ids[1] == 1);
  free(ids);
  ASSERT_EQ(exec_gpu_parse(" 3 , 1 ", &ids, &n, &e), 0);
  ASSERT(n == 2 && ids[0] == 1 && ids[1] == 3);
  free(ids);
  ASSERT_EQ(exec_gpu_parse("0\n1\n", &ids, &n, &e), 0);
  ASSERT_EQ(n, 2);
  free(ids);
  ASSERT_EQ(exec_gpu_parse("", &ids, &n, &e), 0);
  ASSERT(n == 0 && ids == NULL);
  ASSERT_EQ(exec_gpu_parse("0,0", &ids, &n, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "twice"));
  ASSERT_EQ(exec_gpu_parse("0,gpu1", &ids, &n, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "item 2") && strstr(e.msg, "gpu1"));
  ASSERT_EQ(exec_gpu_parse("1,,2", &ids, &n, &e), OAST_EBAD_REQUEST);
  ASSERT_EQ(exec_gpu_parse("1,", &ids, &n, &e), OAST_EBAD_REQUEST);
  ASSERT_EQ(exec_gpu_parse("99999", &ids, &n, &e), OAST_EBAD_REQUEST);
  struct exec_local_config cfg = {.cpus = 1, .gpus = "x"};
  struct exec_pool *p = NULL;
  ASSERT_EQ(exec_local_new(&cfg, &CB, &p, &e), OAST_EBAD_REQUEST);
  ASSERT(p == NULL);
}

static void write_script(const char *path, const char *body) {
  ASSERT_EQ(fs_write_atomic(path, body, strlen(body), 0755, NULL), 0);
  ASSERT_EQ(chmod(path, 0755), 0);
}

TEST(exec_gpu_detect_with_nvidia_smi) {
  char *bin = fs_join(test_tmpdir(), "bin");
  ASSERT_EQ(fs_mkdirs(bin, 0755, NULL), 0);
  char *smi = fs_join(bin, "nvidia-smi");
  write_script(smi,
               "#!/bin/sh\n"
               "[ \"$1 $2\" = '--query-gpu=index --format=csv,noheader' ] || exit 2\n"
               "echo 0; echo 1; echo 2\n");
  char path[1024];
  snprintf(path, sizeof path, "%s:/usr/bin:/bin", bin);
  setenv("PATH", path, 1);
  int *ids;
  size_t n;
  ASSERT_EQ(exec_gpu_detect(10000, &ids, &n), 0);
  ASSERT_EQ(n, 3);
  ASSERT(ids[0] == 0 && ids[2] == 2);
  free(ids);
  /* A pool with no configured list asks nvidia-smi. */
  struct exec_local_config cfg = {.cpus = 1};
  struct exec_pool *p = NULL;
  oast_err e;
  ASSERT_EQ(exec_local_new(&cfg, &CB, &p, &e), 0);
  struct exec_stats st;
  exec_stats(p, &st);
  ASSERT_EQ(st.gpus_total, 3);
  exec_free(p);
  /* A failing nvidia-smi means no GPUs. */
  write_script(smi, "#!/bin/sh\necho 'NVIDIA-SMI has failed'; exit 9\n");
  ASSERT_EQ(exec_gpu_detect(10000, &ids, &n), 0);
  ASSERT_EQ(n, 0);
  /* So does none at all. */
  ASSERT_EQ(unlink(smi), 0);
  ASSERT_EQ(exec_gpu_detect(10000, &ids, &n), 0);
  ASSERT_EQ(n, 0);
  free(smi);
  free(bin);
}

/* ---- environment, directory, bad specs ---- */

TEST(exec_env_clean_and_inherited) {
  struct exec_pool *p = pool_new(1, "0", 0, 0);
  const char *envcmd[] = {"/usr/bin/env", NULL};
  const char *env1[] = {"FOO=bar baz", "CUDA_VISIBLE_DEVICES=7", NULL};
  struct exec_spec clean = {.argv = envcmd, .env = env1};
  uint64_t a = submit(p, &clean);
  setenv("OAST_T_INHERIT", "yes", 1);
  setenv("OAST_T_OVER", "old", 1);
  setenv("CUDA_VISIBLE_DEVICES", "5", 1);
  setenv("CUDA_DEVICE_ORDER", "FASTEST_FIRST", 1);
  const char *env2[] = {"OAST_T_OVER=new", NULL};
  struct exec_spec inh = {.argv = envcmd, .env = env2, .inherit_env = 1, .gpus = 1};
  uint64_t b = submit(p, &inh);
  run_all(p);
  char *s = lines_of(a, EXEC_STDOUT);
  ASSERT_STREQ(s, "FOO=bar baz\nCUDA_VISIBLE_DEVICES=\n");
  free(s);
  ASSERT(has_line(b, "OAST_T_INHERIT=yes"));
  ASSERT(has_line(b, "OAST_T_OVER=new"));
  ASSERT(!has_line(b, "OAST_T_OVER=old"));
  ASSERT(has_line(b, "CUDA_VISIBLE_DEVICES=0"));
  ASSERT(!has_line(b, "CUDA_VISIBLE_DEVICES=5"));
  ASSERT(has_line(b, "CUDA_DEVICE_ORDER=PCI_BUS_ID"));
  ASSERT(!has_line(b, "CUDA_DEVICE_ORDER=FASTEST_FIRST"));
  exec_free(p);
}

TEST(exec_cwd_and_stdin) {
  struct exec_pool *p = pool_new(1, NULL, 0, 0);
  char *dir = fs_join(test_tmpdir(), "work dir");
  ASSERT_EQ(fs_mkdirs(dir, 0755, NULL), 0);
  char real[PATH_MAX];
  ASSERT(realpath(dir, real));
  struct exec_spec sp = {.inherit_env = 1, .cwd = dir};
  uint64_t a = submit_sh(p, "pwd -P; cat; echo end", &sp);
  char *missing = fs_join(test_tmpdir(), "missing");
  struct exec_spec bad = {.inherit_env = 1, .cwd = missing};
  uint64_t b = submit_sh(p, "true", &bad);
  char *badlog = fs_join(missing, "x.log");
  struct exec_spec badl = {.inherit_env = 1, .out_path = badlog};
  uint64_t c = submit_sh(p, "true", &badl);
  run_all(p);
  ASSERT_EQ(R.j[a].nlines, 2);
  ASSERT_STREQ(R.j[a].line[0], real);
  ASSERT_STREQ(R.j[a].line[1], "end");
  ASSERT(!R.j[b].r.started);
  ASSERT(R.j[b].r.error && strstr(R.j[b].r.error, "missing"));
  ASSERT(!R.j[c].r.started);
  ASSERT(R.j[c].r.error && strstr(R.j[c].r.error, "x.log"));
  free(dir);
  free(missing);
  free(badlog);
  exec_free(p);
}

TEST(exec_submit_refuses_bad_specs) {
  struct exec_pool *p = NULL;
  struct exec_local_config cfg = {.cpus = 2, .gpus = "", .max_queued = 2};
  oast_err e;
  ASSERT_EQ(exec_local_new(&cfg, &CB, &p, &e), 0);
  R.pool = p;
  uint64_t id = 0;
  const char *ok[] = {"true", NULL};
  const char *empty[] = {"", NULL};
  const char *noargs[] = {NULL};
  struct exec_spec s = {0};
  ASSERT_EQ(exec_submit(p, &s, &id, &e), OAST_EBAD_REQUEST);
  s.argv = noargs;
  ASSERT_EQ(exec_submit(p, &s, &id, &e), OAST_EBAD_REQUEST);
  s.argv = empty;
  ASSERT_EQ(exec_submit(p, &s, &id, &e), OAST_EBAD_REQUEST);
  s.argv = ok;
  const char *env_bad[] = {"A=1", "NOEQUALS", NULL};
  s.env = env_bad;
  ASSERT_EQ(exec_submit(p, &s, &id, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "entry 2") && strstr(e.msg, "NOEQUALS"));
  const char *env_bad2[] = {"=x", NULL};
  s.env = env_bad2;
  ASSERT_EQ(exec_submit(p, &s, &id, &e), OAST_EBAD_REQUEST);
  s.env = NULL;
  s.timeout_s = -1;
  ASSERT_EQ(exec_submit(p, &s, &id, &e), OAST_EBAD_REQUEST);
  s.timeout_s = NAN;
  ASSERT_EQ(exec_submit(p, &s, &id, &e), OAST_EBAD_REQUEST);
  s.timeout_s = 0;
  s.cwd = "";
  ASSERT_EQ(exec_submit(p, &s, &id, &e), OAST_EBAD_REQUEST);
  s.cwd = NULL;
  s.cpus = -1;
  ASSERT_EQ(exec_submit(p, &s, &id, &e), OAST_EBAD_REQUEST);
  s.cpus = 0;
  s.gpus = 1;
  ASSERT_EQ(exec_submit(p, &s, &id, &e), OAST_EBAD_REQUEST);
  s.gpus = 0;
  struct exec_stats st;
  exec_stats(p, &st);
  ASSERT_EQ(st.unfinished, 0);
  /* The queue is capped. */
  ASSERT_EQ(exec_submit(p, &s, &id, &e), 0);
  ASSERT_EQ(id, 1);
  ASSERT_EQ(exec_submit(p, &s, &id, &e), 0);
  ASSERT_EQ(exec_submit(p, &s, &id, &e), OAST_EUNAVAILABLE);
  run_all(p);
  ASSERT_EQ(R.nexit, 2);
  exec_free(p);
}

/* ---- threads ---- */

static void *submitter(void *arg) {
  struct exec_pool *p = arg;
  const char *t[] = {"/bin/true", NULL};
  struct exec_spec sp = {.argv = t, .inherit_env = 1};
  for (int i = 0; i < 25; i++) {
    uint64_t id;
    oast_err e;
    if (exec_submit(p, &sp, &id, &e) != 0) return (void *)1;
  }
  return NULL;
}

TEST(exec_submit_from_threads) {
  struct exec_pool *p = pool_new(2, NULL, 0, 0);
  pthread_t th[4];
  for (int i = 0; i < 4; i++) ASSERT_EQ(pthread_create(&th[i], NULL, submitter, p), 0);
  run_until_exits(p, 100);
  for (int i = 0; i < 4; i++) {
    void *rv;
    pthread_join(th[i], &rv);
    ASSERT(rv == NULL);
  }
  for (int i = 1; i <= 100; i++) {
    ASSERT(R.j[i].exited);
    ASSERT_EQ(R.j[i].r.exit_code, 0);
  }
  exec_free(p);
}

static void *submit_then_cancel(void *arg) {
  struct exec_pool *p = arg;
  const char *argv[] = {"sleep", "100", NULL};
  struct exec_spec sp = {.argv = argv, .inherit_env = 1};
  uint64_t ids[20];
  oast_err e;
  for (int i = 0; i < 20; i++)
    if (exec_submit(p, &sp, &ids[i], &e) != 0) return (void *)1;
  for (int i = 19; i >= 0; i--)
    if (exec_cancel(p, ids[i], &e) != 0 && e.code != OAST_ENOT_FOUND) return (void *)2;
  return NULL;
}

TEST(exec_cancel_from_another_thread) {
  struct exec_pool *p = pool_new(2, NULL, 200, 0);
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, submit_then_cancel, p), 0);
  run_until_exits(p, 20);
  void *rv;
  pthread_join(th, &rv);
  ASSERT(rv == NULL);
  for (int i = 1; i <= 20; i++) {
    struct jrec *r = &R.j[i];
    ASSERT(r->exited && r->r.cancelled);
    if (r->r.started) ASSERT_EQ(r->r.signal, SIGTERM);
  }
  ASSERT(R.max_running <= 2);
  exec_free(p);
}

static void *wake_later(void *arg) {
  exec_wakeup(arg);
  return NULL;
}

TEST(exec_wakeup_and_free_with_running_jobs) {
  struct exec_pool *p = pool_new(1, NULL, 0, 0);
  /* Nothing to do: a wakeup from another thread ends the wait. */
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, wake_later, p), 0);
  ASSERT(exec_run_once(p, -1) >= 0);
  pthread_join(th, NULL);
  uint64_t a = submit_argv(p, (const char *const[]){"sleep", "100", NULL});
  submit_argv(p, (const char *const[]){"sleep", "100", NULL});
  while (!R.j[a].started) ASSERT(exec_run_once(p, 1000) >= 0);
  pid_t pid = R.j[a].pid;
  exec_free(p);  /* kills and reaps the running one, drops the queued one */
  ASSERT_EQ(kill(pid, 0), -1);
  ASSERT_EQ(errno, ESRCH);
}
