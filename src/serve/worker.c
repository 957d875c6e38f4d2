/*
 * worker.c — Python worker processes and their pipe protocol (worker.h).
 *
 * A worker is started with posix_spawn (no fork of the large server
 * process): stdin and stdout are pipes to the server, stderr the
 * deployment's log, the working directory the model's files, in a process
 * group of its own so that a kill reaches whatever the user's code
 * started. Its signal mask and dispositions are reset (the server blocks
 * SIGTERM and ignores SIGPIPE), and it gets a small environment of its
 * own rather than the server's: the variables a Python program needs,
 * one thread per numeric library (N workers already use N cores), and
 * its configuration in OAST_PREDICTOR.
 *
 * All pipe I/O is non-blocking with poll and a deadline, so a worker that
 * hangs (stops reading or stops answering) costs at most the deadline;
 * then its whole group is killed and reaped. A worker is used by one
 * thread at a time, so nothing here locks.
 */
#define _GNU_SOURCE
#include "serve/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"

extern char **environ;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void worker_status_text(int st, char *out, size_t n) {
  if (WIFEXITED(st)) snprintf(out, n, "exited with status %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) snprintf(out, n, "was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
  else snprintf(out, n, "ended");
}

static void close_fds(struct worker *w) {
  if (w->to_fd >= 0) close(w->to_fd);
  if (w->from_fd >= 0) close(w->from_fd);
  w->to_fd = w->from_fd = -1;
}

/* Kills the group, reaps the leader, closes the pipes; *status gets its wait status. */
static void kill_reap(struct worker *w, int *status) {
  int st = 0;
  if (w->pid > 0) {
    kill(-w->pid, SIGKILL);
    kill(w->pid, SIGKILL);
    while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR) {}
  }
  if (status) *status = st;
  w->pid = 0;
  close_fds(w);
}

/* After EOF on its stdout: the worker is ending; give it a moment to report its own status, then kill. */
static void reap_after_eof(struct worker *w, int *status) {
  for (int i = 0; i < 50 && w->pid > 0; i++) {
    int st;
    pid_t r = waitpid(w->pid, &st, WNOHANG);
    if (r == w->pid) {
      kill(-w->pid, SIGKILL); /* whatever it left behind */
      *status = st;
      w->pid = 0;
      close_fds(w);
      return;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  kill_reap(w, status);
}

enum io { IO_OK, IO_EOF, IO_TIMEOUT, IO_BAD };

static enum io wait_fd(int fd, short ev, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return IO_TIMEOUT;
    struct pollfd p = {fd, ev, 0};
    int r = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return IO_EOF;
    if (r == 0) continue;
    if (p.revents & ev) return IO_OK;
    return IO_EOF; /* POLLHUP or POLLERR without data */
  }
}

static enum io write_all(int fd, const char *p, size_t n, int64_t deadline) {
  while (n > 0) {
    ssize_t k = write(fd, p, n);
    if (k > 0) {
      p += k;
      n -= (size_t)k;
      continue;
    }
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && errno == EAGAIN) {
      enum io r = wait_fd(fd, POLLOUT, deadline);
      if (r != IO_OK) return r;
      continue;
    }
    return IO_EOF; /* EPIPE: the worker is gone */
  }
  return IO_OK;
}

static enum io read_all(int fd, char *p, size_t n, int64_t deadline) {
  while (n > 0) {
    ssize_t k = read(fd, p, n);
    if (k > 0) {
      p += k;
      n -= (size_t)k;
      continue;
    }
    if (k == 0) return IO_EOF;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      enum io r = wait_fd(fd, POLLIN, deadline);
      if (r == IO_EOF) {
        /* POLLHUP may come with the last bytes still readable: read until EOF proper. */
        k = read(fd, p, n);
        if (k > 0) {
          p += k;
          n -= (size_t)k;
          continue;
        }
        return IO_EOF;
      }
      if (r != IO_OK) return r;
      continue;
    }
    return IO_EOF;
  }
  return IO_OK;
}

static enum io read_msg(struct worker *w, int64_t deadline, char **out, size_t *len) {
  unsigned char h[4];
  enum io r = read_all(w->from_fd, (char *)h, 4, deadline);
  if (r != IO_OK) return r;
  size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
  if (n > WORKER_MAX_MESSAGE) return IO_BAD;
  char *buf = xmalloc(n + 1);
  r = read_all(w->from_fd, buf, n, deadline);
  if (r != IO_OK) {
    free(buf);
    return r;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return IO_OK;
}

/* The worker's environment: what Python needs from ours, plus its own settings. */
static char **make_env(const struct worker_config *c) {
  static const char *const keep[] = {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME",
                                     "CUDA_VISIBLE_DEVICES", NULL};
  size_t n = 0, cap = 24;
  char **env = xcalloc(cap, sizeof *env);
  for (char **v = environ; v && *v; v++)
    for (int i = 0; keep[i]; i++) {
      size_t k = strlen(keep[i]);
      if (!strncmp(*v, keep[i], k) && (*v)[k] == '=' && n + 12 < cap) env[n++] = xstrdup(*v);
    }
  if (c->pythonpath) env[n++] = xasprintf("PYTHONPATH=%s", c->pythonpath);
  env[n++] = xasprintf("OAST_PREDICTOR=%s", c->config_json);
  env[n++] = xasprintf("MODEL_FILES_PATH=%s", c->model_dir);
  env[n++] = xstrdup("OMP_NUM_THREADS=1");
  env[n++] = xstrdup("OPENBLAS_NUM_THREADS=1");
  env[n++] = xstrdup("MKL_NUM_THREADS=1");
  env[n++] = xstrdup("PYTHONUNBUFFERED=1");
  env[n++] = xstrdup("PYTHONDONTWRITEBYTECODE=1");
  env[n] = NULL;
  return env;
}

static void free_env(char **env) {
  for (char **v = env; *v; v++) free(*v);
  free(env);
}

int worker_start(struct worker *w, const struct worker_config *c, int64_t ready_ms, oast_err *e) {
  w->pid = 0;
  w->to_fd = w->from_fd = -1;
  int in[2] = {-1, -1}, out[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
    int err = errno;
    if (in[0] >= 0) {
      close(in[0]);
      close(in[1]);
    }
    return oast_err_set(e, OAST_EUNAVAILABLE, "cannot create the worker's pipes: %s", strerror(err));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  if (c->log_fd >= 0) posix_spawn_file_actions_adddup2(&fa, c->log_fd, 2);
  posix_spawn_file_actions_addchdir_np(&fa, c->model_dir);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, def;
  sigemptyset(&none);
  sigemptyset(&def);
  static const int reset[] = {SIGPIPE, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};
  for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++) sigaddset(&def, reset[i]);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &def);
  char *argv[] = {(char *)c->python, "-m", "oast.predictor_worker", NULL};
  char **env = make_env(c);
  pid_t pid;
  int rc = posix_spawnp(&pid, c->python, &fa, &attr, argv, env);
  free_env(env);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(in[0]);
  close(out[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    return oast_err_set(e, OAST_EUNAVAILABLE, "cannot start %s: %s", c->python, strerror(rc));
  }
  w->pid = pid;
  w->to_fd = in[1];
  w->from_fd = out[0];
  fcntl(w->to_fd, F_SETFL, O_NONBLOCK);
  fcntl(w->from_fd, F_SETFL, O_NONBLOCK);
  char *msg = NULL;
  size_t len = 0;
  enum io r = read_msg(w, now_ms() + ready_ms, &msg, &len);
  json_t *j = r == IO_OK ? json_loadb(msg, len, 0, NULL) : NULL;
  free(msg);
  if (j && json_is_true(json_object_get(j, "ready"))) {
    json_decref(j);
    return 0;
  }
  const char *why = json_string_value(json_object_get(j, "error"));
  int st = 0;
  char how[128];
  if (r == IO_TIMEOUT) kill_reap(w, &st);
  else reap_after_eof(w, &st);
  worker_status_text(st, how, sizeof how);
  if (why) rc = oast_err_set(e, OAST_EUNAVAILABLE, "%.900s", why);
  else if (r == IO_TIMEOUT)
    rc = oast_err_set(e, OAST_EUNAVAILABLE, "the worker did not become ready within %lld ms", (long long)ready_ms);
  else rc = oast_err_set(e, OAST_EUNAVAILABLE, "the worker %s before it was ready (its log has the details)", how);
  json_decref(j);
  return rc;
}

int worker_call(struct worker *w, const char *msg, size_t len, int64_t timeout_ms, char **answer, size_t *alen,
                oast_err *e) {
  if (w->pid <= 0) return oast_err_set(e, OAST_EUNAVAILABLE, "the worker is not running");
  if (len > WORKER_MAX_MESSAGE)
    return oast_err_set(e, OAST_ETOO_LARGE, "the request for the worker is larger than %zu bytes", WORKER_MAX_MESSAGE);
  int64_t deadline = now_ms() + timeout_ms;
  unsigned char h[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16), (unsigned char)(len >> 8),
                        (unsigned char)len};
  pid_t pid = w->pid;
  enum io r = write_all(w->to_fd, (const char *)h, 4, deadline);
  if (r == IO_OK) r = write_all(w->to_fd, msg, len, deadline);
  if (r == IO_OK) r = read_msg(w, deadline, answer, alen);
  if (r == IO_OK) return 0;
  int st = 0;
  char how[128];
  if (r == IO_TIMEOUT) {
    kill_reap(w, &st);
    return oast_err_set(e, OAST_ETIMEOUT, "the worker (pid %d) did not answer within %lld ms and was killed", (int)pid,
                        (long long)timeout_ms);
  }
  if (r == IO_BAD) {
    kill_reap(w, &st);
    return oast_err_set(e, OAST_EUNAVAILABLE, "the worker (pid %d) sent a message larger than %zu bytes and was killed",
                        (int)pid, WORKER_MAX_MESSAGE);
  }
  reap_after_eof(w, &st);
  worker_status_text(st, how, sizeof how);
  return oast_err_set(e, OAST_EUNAVAILABLE, "the worker (pid %d) %s while answering", (int)pid, how);
}

bool worker_alive(struct worker *w) {
  if (w->pid <= 0) return false;
  int st;
  if (waitpid(w->pid, &st, WNOHANG) == w->pid) {
    kill(-w->pid, SIGKILL);
    w->pid = 0;
    close_fds(w);
    return false;
  }
  return true;
}

void worker_stop(struct worker *w, int grace_ms) {
  if (w->pid <= 0) {
    close_fds(w);
    return;
  }
  if (w->to_fd >= 0) {
    close(w->to_fd);
    w->to_fd = -1;
  }
  int64_t deadline = now_ms() + grace_ms;
  int st;
  while (now_ms() < deadline) {
    if (waitpid(w->pid, &st, WNOHANG) == w->pid) {
      kill(-w->pid, SIGKILL);
      w->pid = 0;
      close_fds(w);
      return;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  kill_reap(w, NULL);
}
