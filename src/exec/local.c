/*
 * local.c — the local executor: runs jobs as child processes of this
 * server on CPU and GPU slots (the contract is in exec.h).
 *
 * How. One epoll set watches, per running job, a pidfd (readable the
 * moment the process exits) and the read ends of its stdout and stderr
 * pipes, plus one eventfd that other threads write to after changing the
 * queue. exec_run_once waits on it with a timeout that is the nearest job
 * deadline (timeouts and SIGKILL after the grace period), so nothing is
 * polled on an interval and nothing sleeps. Processes are started with
 * posix_spawn, which glibc implements with clone(CLONE_VM|CLONE_VFORK):
 * no page tables are copied and the child is in its own process group
 * before the call returns, so the group can be signalled at once.
 *
 * Why a pidfd and not EOF: a process may close its output and keep
 * running, or exit while a grandchild holds the pipes open; the job is
 * its leader process. A pidfd needs no process-wide SIGCHLD handler
 * (there are no globals), and since the pool reaps only its own children,
 * by pid, the pid cannot be recycled while the pool still uses it.
 * When the pidfd fires, the leader is a zombie, so its pid (and process
 * group id) still belongs to it: the rest of the group is sent SIGKILL,
 * the pipes are read until they are empty (everything the leader wrote is
 * there), and only then is the leader reaped and its slots freed.
 *
 * Locking. A mutex guards the queue, the job table, the slot counts and
 * each job's state and kill fields; the loop thread holds it only for
 * bookkeeping, never while it spawns, reads pipes or calls a callback.
 * Pipes, line buffers and log files belong to the loop thread alone. A job
 * is freed only by the loop thread, at the end of exec_run_once, so event
 * pointers into it stay valid for the whole batch of events.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec/exec.h"
#include "exec/common.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

extern char **environ;

#define READ_CHUNK 65536
#define DEFAULT_LINE_MAX (64 * 1024)
#define MAX_LINE_MAX (16 * 1024 * 1024)
#define DEFAULT_GRACE_MS 5000
#define DEFAULT_MAX_QUEUED 100000
#define NSEC 1000000000LL

enum jstate { J_QUEUED, J_STARTING, J_RUNNING, J_DONE };
enum wkind { W_PID, W_OUT, W_ERR };

struct job;

/* What an epoll event points at. */
struct watch {
  struct job *job;
  enum wkind kind;
};

/* One output stream of a running job (loop thread only). */
struct stream {
  int fd;          /* read end of the pipe, -1 once closed */
  int logfd;       /* -1: no log file */
  struct exec_splitter split;  /* the unfinished line */
  enum exec_stream which;
  struct watch w;
};

struct job {
  uint64_t id;
  struct job *prev, *next;  /* in exactly one list at a time */
  enum jstate state;        /* mu */

  /* The spec, copied. */
  char **argv, **env;
  int inherit_env;
  char *cwd, *out_path, *err_path;
  int cpus, gpus;
  long long timeout_ns;
  void *user;

  /* Running. */
  pid_t pid;
  int pidfd;
  struct watch wpid;
  int *gpu_ids;        /* gpus of them, ascending */
  struct stream out, err;
  long long start_ns, end_ns;
  long long deadline_ns, kill_at_ns;  /* mu; 0: none */
  int timed_out, cancelled, sigkilled, cancel_pending;  /* mu */
  int started, reaped, status, log_failed;
  int spawn_err;  /* errno of a failed start */
  char *error;

  struct exec_tail tail;  /* the last lines */
};

struct jlist {
  struct job *head, *tail;
  size_t n;
};

/* Open-addressing table of live jobs by id (linear probing). */
struct jtab {
  struct job **slot;
  size_t cap, n;  /* cap is a power of two */
};

struct local {
  struct exec_pool base;
  struct exec_callbacks cb;
  pthread_mutex_t mu;
  int epfd, evfd;
  posix_spawnattr_t attr;
  int grace_ms;
  size_t line_max, max_queued;

  /* mu */
  int cpus_total, cpus_free;
  int *gpu_ids;           /* ascending */
  unsigned char *gpu_busy;
  int ngpus, gpus_free;
  uint64_t next_id;
  struct jlist queue, running, done;  /* done: cancelled while queued */
  struct jtab tab;
  size_t unfinished;
  int in_loop;
  pthread_t loop_thread;
  int spawn_blocked;  /* out of descriptors or processes: wait for an exit */

  /* loop thread only */
  struct jlist finished, dead;
  struct buf wbuf, tailbuf;
  char rbuf[READ_CHUNK];
};

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * NSEC + ts.tv_nsec;
}

/* ---- lists and the job table ---- */

static void list_push(struct jlist *l, struct job *j) {
  j->next = NULL;
  j->prev = l->tail;
  if (l->tail)
    l->tail->next = j;
  else
    l->head = j;
  l->tail = j;
  l->n++;
}

static void list_push_front(struct jlist *l, struct job *j) {
  j->prev = NULL;
  j->next = l->head;
  if (l->head)
    l->head->prev = j;
  else
    l->tail = j;
  l->head = j;
  l->n++;
}

static void list_remove(struct jlist *l, struct job *j) {
  if (j->prev)
    j->prev->next = j->next;
  else
    l->head = j->next;
  if (j->next)
    j->next->prev = j->prev;
  else
    l->tail = j->prev;
  j->prev = j->next = NULL;
  l->n--;
}

static size_t tab_home(uint64_t id, size_t cap) {
  uint64_t h = id * 0x9E3779B97F4A7C15ull;
  h ^= h >> 29;
  return (size_t)h & (cap - 1);
}

static void tab_put(struct jtab *t, struct job *j);

static void tab_grow(struct jtab *t) {
  struct jtab old = *t;
  t->cap = old.cap ? old.cap * 2 : 64;
  t->slot = xcalloc(t->cap, sizeof *t->slot);
  t->n = 0;
  for (size_t i = 0; i < old.cap; i++)
    if (old.slot[i]) tab_put(t, old.slot[i]);
  free(old.slot);
}

static void tab_put(struct jtab *t, struct job *j) {
  if ((t->n + 1) * 2 > t->cap) tab_grow(t);
  size_t i = tab_home(j->id, t->cap);
  while (t->slot[i]) i = (i + 1) & (t->cap - 1);
  t->slot[i] = j;
  t->n++;
}

static struct job *tab_get(struct jtab *t, uint64_t id) {
  if (!t->cap) return NULL;
  for (size_t i = tab_home(id, t->cap); t->slot[i]; i = (i + 1) & (t->cap - 1))
    if (t->slot[i]->id == id) return t->slot[i];
  return NULL;
}

static void tab_del(struct jtab *t, uint64_t id) {
  if (!t->cap) return;
  size_t mask = t->cap - 1, i = tab_home(id, t->cap);
  while (t->slot[i] && t->slot[i]->id != id) i = (i + 1) & mask;
  if (!t->slot[i]) return;
  t->slot[i] = NULL;
  t->n--;
  /* Backward-shift the run after i so that every probe still finds its job. */
  for (size_t k = (i + 1) & mask; t->slot[k]; k = (k + 1) & mask) {
    size_t home = tab_home(t->slot[k]->id, t->cap);
    /* Move slot k to the hole unless its home lies cyclically in (i, k]. */
    int stays = (i <= k) ? (home > i && home <= k) : (home > i || home <= k);
    if (!stays) {
      t->slot[i] = t->slot[k];
      t->slot[k] = NULL;
      i = k;
    }
  }
}

/* ---- jobs ---- */

static void job_free(struct job *j) {
  if (!j) return;
  exec_strv_free(j->argv);
  exec_strv_free(j->env);
  free(j->cwd);
  free(j->out_path);
  free(j->err_path);
  free(j->gpu_ids);
  exec_splitter_release(&j->out.split);
  exec_splitter_release(&j->err.split);
  free(j->error);
  exec_tail_release(&j->tail);
  free(j);
}

static void wake(struct local *p) {
  uint64_t one = 1;
  while (write(p->evfd, &one, sizeof one) < 0 && errno == EINTR) {}
}

/* Whether the caller is the loop thread inside exec_run_once (mu held):
 * then the loop looks at the queue again before returning, no wakeup needed. */
static int on_loop_thread(struct local *p) {
  return p->in_loop && pthread_equal(p->loop_thread, pthread_self());
}

static void signal_group(struct job *j, int sig) {
  if (j->pid > 0 && killpg(j->pid, sig) != 0 && errno != ESRCH)
    log_warn("exec: job %llu: cannot signal process group %d: %s", (unsigned long long)j->id,
             (int)j->pid, strerror(errno));
}

/* SIGTERM now, SIGKILL after the grace period (mu held). */
static void begin_kill(struct local *p, struct job *j, long long now) {
  if (j->kill_at_ns) return;
  signal_group(j, SIGTERM);
  j->kill_at_ns = now + (long long)p->grace_ms * 1000000LL;
  if (j->kill_at_ns == 0) j->kill_at_ns = 1;
}

static void release_slots(struct local *p, struct job *j) {
  p->cpus_free += j->cpus;
  for (int g = 0; g < j->gpus && j->gpu_ids; g++)
    for (int i = 0; i < p->ngpus; i++)
      if (p->gpu_ids[i] == j->gpu_ids[g] && p->gpu_busy[i]) {
        p->gpu_busy[i] = 0;
        p->gpus_free++;
        break;
      }
}

/* ---- submit, cancel, stats ---- */

static int local_submit(struct exec_pool *pool, const struct exec_spec *spec, uint64_t *job,
                        oast_err *e) {
  struct local *p = (struct local *)pool;
  size_t nargv, nenv;
  int rc = exec_spec_check(spec, &nargv, &nenv, e);
  if (rc) return rc;
  int cpus = spec->cpus ? spec->cpus : 1;
  if (cpus > p->cpus_total)
    return oast_err_set(e, OAST_EBAD_REQUEST, "the job asks for %d CPUs but the pool has %d", cpus,
                        p->cpus_total);
  if (spec->gpus > p->ngpus)
    return oast_err_set(e, OAST_EBAD_REQUEST, "the job asks for %d GPUs but the pool has %d",
                        spec->gpus, p->ngpus);

  struct job *j = xcalloc(1, sizeof *j);
  j->argv = exec_strv_copy(spec->argv, nargv);
  j->env = exec_strv_copy(spec->env, nenv);
  j->inherit_env = spec->inherit_env != 0;
  j->cwd = spec->cwd ? xstrdup(spec->cwd) : NULL;
  j->out_path = spec->out_path ? xstrdup(spec->out_path) : NULL;
  j->err_path = spec->err_path ? xstrdup(spec->err_path) : NULL;
  j->cpus = cpus;
  j->gpus = spec->gpus;
  j->timeout_ns = (long long)(spec->timeout_s * 1e9);
  if (spec->timeout_s > 0 && j->timeout_ns == 0) j->timeout_ns = 1;
  j->user = spec->user;
  j->pid = -1;
  j->pidfd = j->out.fd = j->err.fd = j->out.logfd = j->err.logfd = -1;

  pthread_mutex_lock(&p->mu);
  if (p->queue.n >= p->max_queued) {
    size_t n = p->queue.n;
    pthread_mutex_unlock(&p->mu);
    job_free(j);
    return oast_err_set(e, OAST_EUNAVAILABLE, "the executor queue is full (%zu jobs waiting)", n);
  }
  uint64_t id = j->id = p->next_id++;
  j->state = J_QUEUED;
  tab_put(&p->tab, j);
  list_push(&p->queue, j);
  p->unfinished++;
  int need_wake = !on_loop_thread(p);
  pthread_mutex_unlock(&p->mu);
  if (need_wake) wake(p);
  if (job) *job = id;  /* j may already be finished and freed */
  return 0;
}

static int local_cancel(struct exec_pool *pool, uint64_t id, oast_err *e) {
  struct local *p = (struct local *)pool;
  pthread_mutex_lock(&p->mu);
  struct job *j = tab_get(&p->tab, id);
  if (!j) {
    pthread_mutex_unlock(&p->mu);
    return oast_err_set(e, OAST_ENOT_FOUND, "job %llu is not queued or running",
                        (unsigned long long)id);
  }
  int need_wake = 0;
  if (!j->cancelled) {
    j->cancelled = 1;
    switch (j->state) {
    case J_QUEUED:
      list_remove(&p->queue, j);
      tab_del(&p->tab, j->id);
      j->state = J_DONE;
      list_push(&p->done, j);
      need_wake = 1;
      break;
    case J_STARTING:
      j->cancel_pending = 1;
      break;
    case J_RUNNING:
      begin_kill(p, j, now_ns());
      need_wake = 1;
      break;
    case J_DONE:
      break;
    }
  }
  if (on_loop_thread(p)) need_wake = 0;
  pthread_mutex_unlock(&p->mu);
  if (need_wake) wake(p);
  return 0;
}

static void local_stats(struct exec_pool *pool, struct exec_stats *s) {
  struct local *p = (struct local *)pool;
  pthread_mutex_lock(&p->mu);
  s->queued = p->queue.n;
  s->running = p->running.n;
  s->unfinished = p->unfinished;
  s->cpus_total = p->cpus_total;
  s->cpus_free = p->cpus_free;
  s->gpus_total = p->ngpus;
  s->gpus_free = p->gpus_free;
  pthread_mutex_unlock(&p->mu);
}

static void local_wakeup(struct exec_pool *pool) { wake((struct local *)pool); }

/* ---- output ---- */

static struct exec_sink sink(struct local *p, struct job *j, struct stream *s) {
  return (struct exec_sink){.cb = &p->cb, .job = j->id, .user = j->user, .which = s->which,
                            .logfd = s->logfd,
                            .log_path = s->which == EXEC_STDOUT ? j->out_path : j->err_path,
                            .log_failed = &j->log_failed, .tail = &j->tail, .wbuf = &p->wbuf,
                            .who = "exec"};
}

/* Splits a chunk of output into lines; keeps an unfinished one. */
static void feed(struct local *p, struct job *j, struct stream *s, char *b, size_t n) {
  struct exec_sink k = sink(p, j, s);
  exec_sink_feed(&k, &s->split, p->line_max, b, n);
}

static void close_fd(struct local *p, int *fd) {
  if (*fd < 0) return;
  epoll_ctl(p->epfd, EPOLL_CTL_DEL, *fd, NULL);
  close(*fd);
  *fd = -1;
}

/* Reads what is there (one chunk, or when drain until it is empty, but no
 * more than the pipe holds: a process that escaped the group may go on
 * writing); at EOF the last unfinished line is delivered and the pipe closed. */
static int read_stream(struct local *p, struct job *j, struct stream *s, int drain) {
  int handled = 0;
  long long left = 0;
  if (drain && s->fd >= 0) {
    int psz = fcntl(s->fd, F_GETPIPE_SZ);
    left = psz > 0 ? psz : 1 << 20;
  }
  while (s->fd >= 0) {
    ssize_t k = read(s->fd, p->rbuf, sizeof p->rbuf);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    handled = 1;
    if (k <= 0) {
      if (s->split.plen) {
        struct exec_sink ks = sink(p, j, s);
        exec_sink_end(&ks, &s->split);
      }
      close_fd(p, &s->fd);
      break;
    }
    feed(p, j, s, p->rbuf, (size_t)k);
    left -= k;
    if (!drain || left <= 0) break;
  }
  return handled;
}

/* ---- starting ---- */

static int name_matches(const char *entry, const char *const *names, size_t nnames) {
  const char *eq = strchr(entry, '=');
  size_t len = eq ? (size_t)(eq - entry) : strlen(entry);
  for (size_t i = 0; i < nnames; i++) {
    const char *ne = strchr(names[i], '=');
    size_t nl = ne ? (size_t)(ne - names[i]) : strlen(names[i]);
    if (nl == len && memcmp(entry, names[i], len) == 0) return 1;
  }
  return 0;
}

/* The child's environment: base (minus the names set here), env, then
 * CUDA_VISIBLE_DEVICES; a job holding GPUs also gets
 * CUDA_DEVICE_ORDER=PCI_BUS_ID (unless env sets it) so that CUDA numbers
 * devices as nvidia-smi does. Entries are borrowed; only the array and
 * *cuda are to be freed. */
static char **build_env(struct job *j, char **cuda) {
  static const char *const cuda_names[] = {"CUDA_VISIBLE_DEVICES=", "CUDA_DEVICE_ORDER="};
  static char pci_order[] = "CUDA_DEVICE_ORDER=PCI_BUS_ID";
  struct buf b;
  buf_init(&b, 0);
  buf_puts(&b, "CUDA_VISIBLE_DEVICES=");
  for (int g = 0; g < j->gpus; g++) buf_printf(&b, g ? ",%d" : "%d", j->gpu_ids[g]);
  *cuda = buf_detach(&b, NULL);

  size_t nenv = 0, nbase = 0;
  while (j->env[nenv]) nenv++;
  char **base = j->inherit_env ? environ : NULL;
  if (base)
    while (base[nbase]) nbase++;
  char **envp = xcalloc(nbase + nenv + 3, sizeof *envp);
  size_t k = 0;
  for (size_t i = 0; i < nbase; i++) {
    if (name_matches(base[i], cuda_names, j->gpus ? 2 : 1)) continue;
    if (nenv && name_matches(base[i], (const char *const *)j->env, nenv)) continue;
    envp[k++] = base[i];
  }
  int order_given = 0;
  for (size_t i = 0; i < nenv; i++) {
    if (name_matches(j->env[i], cuda_names, 1)) continue;
    if (name_matches(j->env[i], cuda_names + 1, 1)) order_given = 1;
    envp[k++] = j->env[i];
  }
  envp[k++] = *cuda;
  if (j->gpus && !order_given) envp[k++] = pci_order;
  envp[k] = NULL;
  return envp;
}

static int open_log(struct job *j, const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0) {
    j->spawn_err = errno;
    j->error = xasprintf("cannot open the log file \"%s\": %s", path, strerror(errno));
  }
  return fd;
}

static int watch_fd(struct local *p, int fd, struct watch *w) {
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
  return epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void close_logs(struct job *j) {
  if (j->err.logfd >= 0 && j->err.logfd != j->out.logfd) close(j->err.logfd);
  if (j->out.logfd >= 0) close(j->out.logfd);
  j->out.logfd = j->err.logfd = -1;
}

/* Starts j's process (loop thread, mu not held). On failure sets j->error,
 * leaves nothing open and no process behind, and returns -1. */
static int spawn_job(struct local *p, struct job *j) {
  int po[2] = {-1, -1}, pe[2] = {-1, -1};
  char **envp = NULL, *cuda = NULL;
  int ok = 0;

  j->out.which = EXEC_STDOUT;
  j->err.which = EXEC_STDERR;
  j->out.w = (struct watch){j, W_OUT};
  j->err.w = (struct watch){j, W_ERR};
  j->wpid = (struct watch){j, W_PID};

  if (j->cwd) {
    struct stat st;
    if (stat(j->cwd, &st) != 0) {
      j->error = xasprintf("cannot use the working directory \"%s\": %s", j->cwd, strerror(errno));
      goto out;
    }
    if (!S_ISDIR(st.st_mode)) {
      j->error = xasprintf("the working directory \"%s\" is not a directory", j->cwd);
      goto out;
    }
  }
  if (j->out_path && (j->out.logfd = open_log(j, j->out_path)) < 0) goto out;
  if (j->err_path) {
    if (j->out_path && strcmp(j->out_path, j->err_path) == 0)
      j->err.logfd = j->out.logfd;
    else if ((j->err.logfd = open_log(j, j->err_path)) < 0)
      goto out;
  }
  if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0 ||
      fcntl(po[0], F_SETFL, O_NONBLOCK) != 0 || fcntl(pe[0], F_SETFL, O_NONBLOCK) != 0) {
    j->spawn_err = errno;
    j->error = xasprintf("cannot create the output pipes: %s", strerror(errno));
    goto out;
  }
  envp = build_env(j, &cuda);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, po[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
  if (j->cwd) posix_spawn_file_actions_addchdir_np(&fa, j->cwd);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, j->argv[0], &fa, &p->attr, j->argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  close(po[1]);
  close(pe[1]);
  po[1] = pe[1] = -1;
  if (rc != 0) {
    j->spawn_err = rc;
    j->error = xasprintf("cannot run \"%s\": %s", j->argv[0], strerror(rc));
    goto out;
  }
  j->pid = pid;
  j->start_ns = now_ns();
  j->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  j->out.fd = po[0];
  j->err.fd = pe[0];
  po[0] = pe[0] = -1;
  if (j->pidfd < 0 || watch_fd(p, j->out.fd, &j->out.w) != 0 ||
      watch_fd(p, j->err.fd, &j->err.w) != 0 || watch_fd(p, j->pidfd, &j->wpid) != 0) {
    j->spawn_err = errno;
    j->error = xasprintf("cannot watch the process of \"%s\": %s", j->argv[0], strerror(errno));
    killpg(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    j->pid = -1;
    close_fd(p, &j->pidfd);
    close_fd(p, &j->out.fd);
    close_fd(p, &j->err.fd);
    goto out;
  }
  j->started = 1;
  ok = 1;
out:
  for (int i = 0; i < 2; i++) {
    if (po[i] >= 0) close(po[i]);
    if (pe[i] >= 0) close(pe[i]);
  }
  free(envp);
  free(cuda);
  if (!ok) close_logs(j);
  return ok ? 0 : -1;
}

static int deliver_exits(struct local *p);

/* A start that failed for want of descriptors, processes or memory, which
 * a job that ends gives back. */
static int transient(int err) {
  return err == EMFILE || err == ENFILE || err == EAGAIN || err == ENOMEM;
}

/* Whether the head of the queue can start now (mu held). */
static int head_fits(struct local *p) {
  struct job *h = p->queue.head;
  return h && !p->spawn_blocked && h->cpus <= p->cpus_free && h->gpus <= p->gpus_free;
}

/* Starts queued jobs while the head of the queue fits. Returns how many.
 * When a start fails for want of resources while other jobs run, the job
 * goes back to the head of the queue and starting stops until one ends. */
static int start_ready(struct local *p) {
  int n = 0;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    struct job *j = p->queue.head;
    if (!head_fits(p)) {
      pthread_mutex_unlock(&p->mu);
      break;
    }
    list_remove(&p->queue, j);
    p->cpus_free -= j->cpus;
    if (j->gpus) {
      j->gpu_ids = xcalloc((size_t)j->gpus, sizeof *j->gpu_ids);
      for (int i = 0, g = 0; i < p->ngpus && g < j->gpus; i++)
        if (!p->gpu_busy[i]) {
          p->gpu_busy[i] = 1;
          p->gpus_free--;
          j->gpu_ids[g++] = p->gpu_ids[i];
        }
    }
    j->state = J_STARTING;
    pthread_mutex_unlock(&p->mu);

    int rc = spawn_job(p, j);
    n++;

    pthread_mutex_lock(&p->mu);
    if (rc != 0 && transient(j->spawn_err) && p->running.n > 0 && !j->cancel_pending) {
      int err = j->spawn_err;
      release_slots(p, j);
      free(j->gpu_ids);
      free(j->error);
      j->gpu_ids = NULL;
      j->error = NULL;
      j->spawn_err = 0;
      j->state = J_QUEUED;
      list_push_front(&p->queue, j);
      p->spawn_blocked = 1;
      size_t nrun = p->running.n;
      pthread_mutex_unlock(&p->mu);
      log_warn("exec: cannot start job %llu yet (%s); it waits for one of the %zu running to end",
               (unsigned long long)j->id, strerror(err), nrun);
      break;
    }
    if (rc != 0) {
      release_slots(p, j);
      tab_del(&p->tab, j->id);
      j->state = J_DONE;
      pthread_mutex_unlock(&p->mu);
      list_push(&p->finished, j);
      deliver_exits(p);  /* before anything else takes its slots */
      continue;
    }
    j->state = J_RUNNING;
    list_push(&p->running, j);
    if (j->timeout_ns) j->deadline_ns = j->start_ns + j->timeout_ns;
    if (j->cancel_pending) begin_kill(p, j, now_ns());
    pthread_mutex_unlock(&p->mu);
    if (p->cb.on_start) p->cb.on_start(p->cb.ctx, j->id, j->user, j->pid, j->gpu_ids, (size_t)j->gpus);
  }
  return n;
}

/* ---- ending ---- */

/* The leader exited (its pidfd fired): kill the rest of its group, read
 * its output to the end, reap it and free its slots. */
static void finish_job(struct local *p, struct job *j) {
  signal_group(j, SIGKILL);
  read_stream(p, j, &j->out, 1);
  read_stream(p, j, &j->err, 1);
  close_fd(p, &j->out.fd);
  close_fd(p, &j->err.fd);
  close_fd(p, &j->pidfd);
  close_logs(j);

  pthread_mutex_lock(&p->mu);
  int st = 0;
  pid_t r;
  while ((r = waitpid(j->pid, &st, 0)) < 0 && errno == EINTR) {}
  j->end_ns = now_ns();
  if (r == j->pid) {
    j->reaped = 1;
    j->status = st;
  } else {
    j->error = xasprintf("the exit status of process %d was lost (%s)", (int)j->pid,
                         strerror(errno));
  }
  list_remove(&p->running, j);
  tab_del(&p->tab, j->id);
  release_slots(p, j);
  p->spawn_blocked = 0;
  j->state = J_DONE;
  pthread_mutex_unlock(&p->mu);
  list_push(&p->finished, j);
}

/* Calls on_exit for every finished job (and jobs cancelled while queued). */
static int deliver_exits(struct local *p) {
  pthread_mutex_lock(&p->mu);
  while (p->done.head) {
    struct job *j = p->done.head;
    list_remove(&p->done, j);
    list_push(&p->finished, j);
  }
  pthread_mutex_unlock(&p->mu);
  int n = 0;
  while (p->finished.head) {
    struct job *j = p->finished.head;
    list_remove(&p->finished, j);
    struct exec_result r = {0};
    r.started = j->started;
    r.exit_code = -1;
    if (j->reaped && WIFEXITED(j->status)) r.exit_code = WEXITSTATUS(j->status);
    if (j->reaped && WIFSIGNALED(j->status)) r.signal = WTERMSIG(j->status);
    pthread_mutex_lock(&p->mu);
    r.timed_out = j->timed_out;
    r.cancelled = j->cancelled;
    pthread_mutex_unlock(&p->mu);
    r.duration_s = j->started ? (double)(j->end_ns - j->start_ns) / 1e9 : 0;
    r.error = j->error;
    r.tail = exec_tail_str(&j->tail, &p->tailbuf);
    if (p->cb.on_exit) p->cb.on_exit(p->cb.ctx, j->id, j->user, &r);
    pthread_mutex_lock(&p->mu);
    p->unfinished--;
    pthread_mutex_unlock(&p->mu);
    list_push(&p->dead, j);
    n++;
  }
  return n;
}

/* Timeouts and SIGKILLs that are due (mu held). Returns the nanoseconds
 * until the next one, or -1 if none is pending. */
static long long check_timers(struct local *p, long long now) {
  long long next = -1;
  for (struct job *j = p->running.head; j; j = j->next) {
    if (j->deadline_ns && !j->timed_out) {
      if (now >= j->deadline_ns) {
        j->timed_out = 1;
        begin_kill(p, j, now);
      } else if (next < 0 || j->deadline_ns - now < next) {
        next = j->deadline_ns - now;
      }
    }
    if (j->kill_at_ns && !j->sigkilled) {
      if (now >= j->kill_at_ns) {
        j->sigkilled = 1;
        signal_group(j, SIGKILL);
      } else if (next < 0 || j->kill_at_ns - now < next) {
        next = j->kill_at_ns - now;
      }
    }
  }
  return next;
}

static int local_run_once(struct exec_pool *pool, int timeout_ms) {
  struct local *p = (struct local *)pool;
  struct epoll_event evs[64];

  pthread_mutex_lock(&p->mu);
  if (p->in_loop) {
    pthread_mutex_unlock(&p->mu);
    log_error("exec: exec_run_once called while it is running (from a callback?)");
    return OAST_ECONFLICT;
  }
  p->in_loop = 1;
  p->loop_thread = pthread_self();
  long long next = check_timers(p, now_ns());
  int busy = p->done.n || head_fits(p);
  pthread_mutex_unlock(&p->mu);

  int wait_ms = timeout_ms < 0 ? -1 : timeout_ms;
  if (busy) wait_ms = 0;
  if (next >= 0) {
    long long ms = (next + 999999) / 1000000;
    if (ms > INT_MAX) ms = INT_MAX;
    if (wait_ms < 0 || ms < wait_ms) wait_ms = (int)ms;
  }
  int n = 0, rc = 0;
  int nev = epoll_wait(p->epfd, evs, 64, wait_ms);
  if (nev < 0) {
    if (errno != EINTR) {
      log_error("exec: epoll_wait: %s", strerror(errno));
      rc = OAST_EINTERNAL;
    }
    nev = 0;
  }
  for (int i = 0; i < nev; i++) {
    struct watch *w = evs[i].data.ptr;
    if (!w) {
      uint64_t v;
      while (read(p->evfd, &v, sizeof v) < 0 && errno == EINTR) {}
      continue;
    }
    struct job *j = w->job;
    if (j->state == J_DONE) continue;  /* finished earlier in this batch */
    if (w->kind == W_PID) {
      finish_job(p, j);
      n++;
    } else {
      n += read_stream(p, j, w->kind == W_OUT ? &j->out : &j->err, 0);
    }
  }

  pthread_mutex_lock(&p->mu);
  check_timers(p, now_ns());
  pthread_mutex_unlock(&p->mu);
  /* on_exit of a job comes before on_start of the job that takes its slots.
   * Callbacks may submit or cancel: look again until nothing changes. */
  for (;;) {
    int k = deliver_exits(p);
    k += start_ready(p);
    n += k;
    if (!k) break;
  }

  while (p->dead.head) {
    struct job *j = p->dead.head;
    list_remove(&p->dead, j);
    job_free(j);
  }
  pthread_mutex_lock(&p->mu);
  p->in_loop = 0;
  pthread_mutex_unlock(&p->mu);
  return rc ? rc : n;
}

/* ---- creation and teardown ---- */

static void free_list(struct jlist *l) {
  while (l->head) {
    struct job *j = l->head;
    list_remove(l, j);
    job_free(j);
  }
}

static void local_free(struct exec_pool *pool) {
  struct local *p = (struct local *)pool;
  for (struct job *j = p->running.head; j; j = j->next) {
    signal_group(j, SIGKILL);
    while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR) {}
    close_fd(p, &j->out.fd);
    close_fd(p, &j->err.fd);
    close_fd(p, &j->pidfd);
    close_logs(j);
  }
  free_list(&p->running);
  free_list(&p->queue);
  free_list(&p->done);
  free_list(&p->finished);
  free_list(&p->dead);
  free(p->tab.slot);
  free(p->gpu_ids);
  free(p->gpu_busy);
  buf_release(&p->wbuf);
  buf_release(&p->tailbuf);
  posix_spawnattr_destroy(&p->attr);
  if (p->epfd >= 0) close(p->epfd);
  if (p->evfd >= 0) close(p->evfd);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

static const struct executor_ops local_ops = {
    .name = "local",
    .submit = local_submit,
    .cancel = local_cancel,
    .run_once = local_run_once,
    .wakeup = local_wakeup,
    .stats = local_stats,
    .free = local_free,
};

/* The child starts with no blocked signals and the default action for
 * every signal a server typically catches or ignores. */
static void init_attr(posix_spawnattr_t *a) {
  static const int deflt[] = {SIGPIPE, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGCHLD, SIGUSR1,
                              SIGUSR2, SIGALRM, SIGXFSZ, SIGTSTP, SIGTTIN, SIGTTOU};
  sigset_t none, def;
  sigemptyset(&none);
  sigemptyset(&def);
  for (size_t i = 0; i < sizeof deflt / sizeof *deflt; i++) sigaddset(&def, deflt[i]);
  posix_spawnattr_init(a);
  posix_spawnattr_setflags(a, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                  POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(a, 0);
  posix_spawnattr_setsigmask(a, &none);
  posix_spawnattr_setsigdefault(a, &def);
}

int exec_local_new(const struct exec_local_config *cfg, const struct exec_callbacks *cb,
                   struct exec_pool **out, oast_err *e) {
  static const struct exec_local_config defaults = {0};
  if (!cfg) cfg = &defaults;
  *out = NULL;
  if (cfg->cpus < 0) return oast_err_set(e, OAST_EBAD_REQUEST, "cpus is negative (%d)", cfg->cpus);
  if (cfg->kill_grace_ms < 0)
    return oast_err_set(e, OAST_EBAD_REQUEST, "kill_grace_ms is negative (%d)", cfg->kill_grace_ms);
  if (cfg->line_max > MAX_LINE_MAX)
    return oast_err_set(e, OAST_EBAD_REQUEST, "line_max is over %d bytes", MAX_LINE_MAX);

  /* The kernel must have pidfds; ask about ourselves. */
  int probe = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (probe < 0)
    return oast_err_set(e, OAST_EINTERNAL,
                        "the kernel cannot watch processes (pidfd_open: %s); Linux 5.3 or "
                        "later is needed",
                        strerror(errno));
  close(probe);

  int *gpus = NULL;
  size_t ngpus = 0;
  int rc;
  if (cfg->gpus)
    rc = exec_gpu_parse(cfg->gpus, &gpus, &ngpus, e);
  else
    rc = exec_gpu_detect(10000, &gpus, &ngpus);
  if (rc != 0) return rc;

  struct local *p = xcalloc(1, sizeof *p);
  p->base.ops = &local_ops;
  if (cb) p->cb = *cb;
  pthread_mutex_init(&p->mu, NULL);
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  p->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (p->epfd < 0 || p->evfd < 0) {
    rc = oast_err_set(e, OAST_EINTERNAL, "cannot create the executor's event loop: %s",
                      strerror(errno));
    goto fail;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->evfd, &ev) != 0) {
    rc = oast_err_set(e, OAST_EINTERNAL, "cannot create the executor's event loop: %s",
                      strerror(errno));
    goto fail;
  }
  init_attr(&p->attr);
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  p->cpus_total = p->cpus_free = cfg->cpus ? cfg->cpus : (ncpu > 0 ? (int)ncpu : 1);
  p->gpu_ids = gpus;
  p->ngpus = p->gpus_free = (int)ngpus;
  p->gpu_busy = xcalloc(ngpus ? ngpus : 1, 1);
  p->grace_ms = cfg->kill_grace_ms ? cfg->kill_grace_ms : DEFAULT_GRACE_MS;
  p->line_max = cfg->line_max ? cfg->line_max : DEFAULT_LINE_MAX;
  p->max_queued = cfg->max_queued ? cfg->max_queued : DEFAULT_MAX_QUEUED;
  p->next_id = 1;
  buf_init(&p->wbuf, 0);
  buf_init(&p->tailbuf, 0);
  *out = &p->base;
  return 0;
fail:
  if (p->epfd >= 0) close(p->epfd);
  if (p->evfd >= 0) close(p->evfd);
  pthread_mutex_destroy(&p->mu);
  free(gpus);
  free(p);
  return rc;
}
