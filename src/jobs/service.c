/*
 * service.c — job runs as processes, cron schedules, start-up recovery
 * and the scheduler tick that drives them (see service.h).
 *
 * A job run goes: a row `queued` (written by the HTTP handler, the cron
 * tick or the pipeline runner) → the scheduler thread stages it: the
 * program is taken out of its dataset as an immutable copy, cached per
 * version of the file (a notebook as a .py of its code cells), a private
 * working directory is made, and the run gets a job token that acts as
 * the launching user with that user's role, confined to the project (a
 * standalone run its own; the tasks of a pipeline run share the run's) →
 * submitted to the executor pool, with stdout and stderr appended to
 * Logs/jobs/<job>/<run>.log → `running` when its process starts →
 * `succeeded`, `failed` (exit code, signal, timeout, or it could not
 * start) or `killed` (stopped) when it ends; then its own token is
 * revoked and its working directory given back.
 *
 * States are written per scheduler round: the pool's start and end
 * callbacks of one round are recorded in memory and flushed in one
 * transaction by the tick that follows it, before log followers are
 * woken, so a tiny task does not pay for transactions of its own.
 *
 * The process gets a clean environment: the server's own without any
 * OAST_* variable (the server's credentials must not leak into jobs) and
 * without PYTHONPATH, then the job's env, then OAST_ADDR, OAST_API_KEY
 * (the job token), OAST_PROJECT, OAST_JOB, OAST_RUN_ID, OAST_CONFIG
 * (/dev/null, so no config file of the server's user is read),
 * PYTHONUNBUFFERED=1 and PYTHONPATH starting with the repository's
 * python/ directory, so `import oast` works in every job.
 *
 * A crash cannot leave a run pretending to run: every start records the
 * process id and its start time, and at the next start-up a run found
 * queued-but-started or running is finished as failed, its process group
 * (if that same process still lives, an orphan of the dead server) is
 * killed, and its token revoked. Runs that never started are queued
 * again.
 */
#define _GNU_SOURCE
#include "jobs/service.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/cache.h"
#include "http/server.h"
#include "jobs/internal.h"
#include "jobs/job_spec.h"
#include "jobs/notebook.h"
#include "meta/meta.h"
#include "util/alloc.h"
#include "util/crypto.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/path.h"

extern char **environ;

#define POKE_EVERY_S 10             /* waiting log streams look again this often (dead clients) */
#define TOKEN_SLACK_S 3600          /* a job token outlives the job's timeout by this */
#define TOKEN_TTL_NO_TIMEOUT_S (30 * 86400)
#define PROGRAM_MAX_BYTES ((uint64_t)2 << 30)

static const char *const run_states[] = {"queued", "running", "succeeded", "failed", "killed", NULL};

static void flush(struct server *s);

/* ---- small helpers ---- */

static char *col_text(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? xstrdup((const char *)t) : NULL;
}

char *jobs_run_log(const char *job, int64_t id) { return xasprintf("Logs/jobs/%s/%" PRId64 ".log", job, id); }

char *jobs_run_log_abs(struct server *s, const char *project, const char *job, int64_t id) {
  return xasprintf("%s/%s/Logs/jobs/%s/%" PRId64 ".log", s->fs_root, project, job, id);
}

int64_t jobs_proc_start(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  /* Field 2 is "(comm)", which may hold spaces: count fields after its last ')'. */
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  p++; /* the space before field 3 */
  for (int field = 3; field < 22 && p; field++) p = strchr(p + 1, ' ');
  return p ? strtoll(p + 1, NULL, 10) : 0;
}

void jobs_kill_orphan(int64_t pid, int64_t pstart) {
  if (pid <= 1 || pid == getpid() || !pstart) return;
  if (jobs_proc_start((pid_t)pid) != pstart) return;
  log_warn("killing process group %" PRId64 ", left running by a server that stopped", pid);
  kill((pid_t)-pid, SIGKILL);
}

void jobs_token_revoke(struct server *s, const char *hash) {
  if (!hash || !*hash) return;
  meta_exec(s->meta, NULL, "DELETE FROM tokens WHERE token_hash = ?", "s", hash);
  auth_cache_invalidate(s);
}

bool jobs_run_active(struct server *s, int64_t id) {
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT state FROM job_runs WHERE id = ?"), "i", id);
  bool active = false;
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    const char *state = (const char *)sqlite3_column_text(st, 0);
    active = state && (!strcmp(state, "queued") || !strcmp(state, "running"));
  }
  if (st) sqlite3_reset(st);
  return active;
}

int jobs_log_respond(struct req *r, struct resp *w, const char *abs_path, int64_t run_id, bool follow,
                     uint64_t offset, oast_err *e) {
  return follow_respond(r->srv->jobs->hub, r, w, abs_path, offset, follow, run_id, jobs_run_active, e);
}

int jobs_resolve_path(struct server *s, int64_t project_id, const char *project, const char *path, char **abs,
                      oast_err *e) {
  *abs = NULL;
  char *norm = NULL, *ds = NULL, *base = NULL;
  const char *rel;
  int rc = path_normalize(path, strlen(path), &norm, e);
  if (rc) return rc;
  if (!*norm) {
    free(norm);
    return oast_err_set(e, OAST_EBAD_REQUEST, "the path must begin with a dataset name");
  }
  path_split_first(norm, &ds, &rel);
  char *sep = strstr(ds, "::");
  sqlite3_stmt *st;
  if (sep) {
    *sep = '\0';
    st = meta_bind(meta_stmt(s->meta,
                             "SELECT 1 FROM shares sh JOIN datasets d ON d.id = sh.dataset_id "
                             "JOIN projects q ON q.id = d.project_id "
                             "WHERE sh.project_id = ? AND sh.status = 'accepted' AND q.name = ? AND d.name = ?"),
                   "iss", project_id, ds, sep + 2);
  } else {
    st = meta_bind(meta_stmt(s->meta, "SELECT 1 FROM datasets WHERE project_id = ? AND name = ?"), "is",
                   project_id, ds);
  }
  bool found = st && sqlite3_step(st) == SQLITE_ROW;
  if (st) sqlite3_reset(st);
  if (!found) {
    if (sep) *sep = ':';
    rc = oast_err_set(e, OAST_ENOT_FOUND, "dataset \"%s\" does not exist in project \"%s\"%s", ds, project,
                      sep ? " (or it is not shared with it)" : "");
    goto out;
  }
  base = sep ? xasprintf("%s/%s/%s", s->fs_root, ds, sep + 2) : xasprintf("%s/%s/%s", s->fs_root, project, ds);
  /* No component may be a symbolic link: a planted link must not lead outside the dataset. */
  struct buf cur;
  buf_init(&cur, 0);
  buf_puts(&cur, base);
  for (const char *p = rel; *p;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    buf_putc(&cur, '/');
    buf_append(&cur, p, n);
    struct stat sb;
    if (lstat(cur.data, &sb) == 0) {
      if (S_ISLNK(sb.st_mode)) {
        rc = oast_err_set(e, OAST_EBAD_REQUEST, "the path \"%s\" crosses a symbolic link, which is not allowed", norm);
        break;
      }
      if (slash && !S_ISDIR(sb.st_mode)) {
        rc = oast_err_set(e, OAST_EBAD_REQUEST, "\"%.*s\" in \"%s\" is a file, not a directory", (int)n, p, norm);
        break;
      }
    }
    p += n + (slash ? 1 : 0);
  }
  if (rc) buf_release(&cur);
  else *abs = buf_detach(&cur, NULL);
out:
  free(base);
  free(ds);
  free(norm);
  return rc;
}

/* ---- the service object ---- */

static void inbox_push(struct jobs_service *v, enum jobs_request_kind kind, int64_t id) {
  pthread_mutex_lock(&v->mu);
  if (v->ninbox == v->capinbox) v->inbox = xreallocarray(v->inbox, v->capinbox = v->capinbox ? v->capinbox * 2 : 64,
                                                         sizeof *v->inbox);
  v->inbox[v->ninbox++] = (struct inbox_item){kind, id};
  pthread_mutex_unlock(&v->mu);
}

void jobs_request(struct server *s, enum jobs_request_kind kind, int64_t id) {
  inbox_push(s->jobs, kind, id);
  sched_wakeup(s);
}

void jobs_schedules_changed(struct server *s) {
  atomic_fetch_add(&s->jobs->sched_gen, 1);
  sched_wakeup(s);
}

static void base_env_init(struct jobs_service *v) {
  size_t n = 0;
  for (char **p = environ; *p; p++) n++;
  v->base_env = xcalloc(n + 1, sizeof *v->base_env);
  for (char **p = environ; *p; p++) {
    if (!strncmp(*p, "OAST_", 5) || !strncmp(*p, "PYTHONPATH=", 11) || !strchr(*p, '=')) continue;
    v->base_env[v->nbase_env++] = xstrdup(*p);
  }
}

/* The address jobs call: the server's own, once it listens. */
static const char *service_addr(struct server *s) {
  struct jobs_service *v = s->jobs;
  if (!v->addr) v->addr = server_self_addr(s);
  return v->addr;
}

/* ---- processes ---- */

/*
 * A private, empty working directory for one process. Directories that
 * their process left empty are kept for the next ones (most are: jobs
 * write their results through the API), since creating and deleting a
 * directory per run is a real share of a tiny task's cost.
 */
static int make_run_dir(struct server *s, struct proc *p, oast_err *e) {
  struct jobs_service *v = s->jobs;
  if (v->nfree_dirs) {
    p->run_dir = v->free_dirs[--v->nfree_dirs];
    return 0;
  }
  p->run_dir = xasprintf("%s/jobs/run-%" PRIu64, s->tmp_dir, ++v->run_dirs_made);
  fs_remove_tree(p->run_dir, NULL);
  return fs_mkdirs(p->run_dir, 0700, e);
}

static bool dir_empty(const char *path) {
  DIR *d = opendir(path);
  if (!d) return false;
  struct dirent *de;
  bool empty = true;
  while (empty && (de = readdir(d)))
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) empty = false;
  closedir(d);
  return empty;
}

/* Gives a run directory back: kept when empty (and not too many are), else removed. */
static void drop_run_dir(struct jobs_service *v, char *dir) {
  if (v->nfree_dirs < RUN_DIRS_KEPT && dir_empty(dir)) {
    v->free_dirs[v->nfree_dirs++] = dir;
    return;
  }
  fs_remove_tree(dir, NULL);
  free(dir);
}

static struct proc *proc_new(struct jobs_service *v, int64_t job_run_id, struct prun *pr, size_t task);
static void proc_free(struct jobs_service *v, struct proc *p);

static const struct sched_task_ops proc_ops;

static struct proc *proc_new(struct jobs_service *v, int64_t job_run_id, struct prun *pr, size_t task) {
  struct proc *p = xcalloc(1, sizeof *p);
  p->t.ops = &proc_ops;
  p->job_run_id = job_run_id;
  p->pr = pr;
  p->task = task;
  buf_init(&p->out, PROC_RESULT_MAX);
  if (pr) runner_task_proc(pr, task, p);
  p->next = v->procs;
  if (v->procs) v->procs->prev = p;
  v->procs = p;
  return p;
}

static void proc_free(struct jobs_service *v, struct proc *p) {
  if (p->prev) p->prev->next = p->next;
  else v->procs = p->next;
  if (p->next) p->next->prev = p->prev;
  if (p->run_dir) drop_run_dir(v, p->run_dir);
  buf_release(&p->out);
  free(p);
}

static struct proc *of(struct sched_task *t) { return (struct proc *)t; }

/*
 * The end of a process (or of a run that never got one): the run's row
 * and its token are written at the next flush (with the other changes of
 * the same scheduler round, in one transaction); the pipeline runner
 * learns of it at once. Frees p.
 */
static void proc_finish(struct server *s, struct proc *p, enum outcome o, int exit_code, int sig, bool timed_out,
                        const char *message) {
  struct jobs_service *v = s->jobs;
  if (p->job_run_id) {
    if (v->nends == v->capends)
      v->ends = xreallocarray(v->ends, v->capends = v->capends ? v->capends * 2 : 16, sizeof *v->ends);
    struct ended_rec *r = &v->ends[v->nends++];
    *r = (struct ended_rec){p->job_run_id, o, exit_code, sig, timed_out, message ? xstrdup(message) : NULL, ""};
    memcpy(r->token_hash, p->token_hash, sizeof r->token_hash);
  } else {
    jobs_token_revoke(s, p->token_hash);
  }
  if (p->pr) {
    char *result = NULL;
    if (!p->job_run_id && p->out.len) result = xstrndup(p->out.data, p->out.len);
    runner_task_done(s, p->pr, p->task, o == OUT_SUCCEEDED, exit_code, message, result);
    free(result);
  }
  proc_free(v, p);
}

static void on_start(struct server *s, struct sched_task *t, pid_t pid, const int *gpus, size_t ngpus) {
  struct proc *p = of(t);
  struct jobs_service *v = s->jobs;
  if (v->nstarts == v->capstarts)
    v->starts = xreallocarray(v->starts, v->capstarts = v->capstarts ? v->capstarts * 2 : 16, sizeof *v->starts);
  int64_t run_id = 0, project_id, user_id;
  const char *project;
  if (p->pr) runner_identity(p->pr, &run_id, &project_id, &user_id, &project);
  v->starts[v->nstarts++] = (struct started_rec){p->job_run_id, run_id, p->task, (int64_t)pid, jobs_proc_start(pid)};
  if (p->pr) runner_task_started(s, p->pr, p->task, p);
}

/*
 * Writes the starts and ends of the last scheduler round in one
 * transaction, then revokes the ended runs' tokens from the access cache
 * and wakes their log followers (who ask the database whether the run is
 * still active). Kept for the next round when the database is busy.
 */
static void flush(struct server *s) {
  struct jobs_service *v = s->jobs;
  if (!v->nstarts && !v->nends) return;
  oast_err e;
  if (meta_begin(s->meta, &e) != 0) {
    log_warn("jobs: cannot record run states now (%s); trying again", e.msg);
    return;
  }
  int rc = 0;
  bool revoked = false;
  for (size_t i = 0; i < v->nstarts && !rc; i++) {
    struct started_rec *r = &v->starts[i];
    if (r->job_run_id)
      rc = meta_exec(s->meta, &e,
                     "UPDATE job_runs SET state = 'running', started = ?, pid = ?, pstart = ? "
                     "WHERE id = ? AND state = 'queued'",
                     "iiii", meta_now(), r->pid, r->pstart, r->job_run_id);
    if (!rc && r->prun_id)
      rc = meta_exec(s->meta, &e, "UPDATE task_runs SET pid = ?, pstart = ? WHERE run_id = ? AND idx = ?", "iiii",
                     r->pid, r->pstart, r->prun_id, (int64_t)r->task);
  }
  for (size_t i = 0; i < v->nends && !rc; i++) {
    struct ended_rec *r = &v->ends[i];
    sqlite3_stmt *st = meta_bind(
        meta_stmt(s->meta,
                  "UPDATE job_runs SET state = ?, exit_code = ?, signal = ?, timed_out = ?, message = ?, ended = ?, "
                  "token_hash = NULL WHERE id = ?"),
        "s", run_states[r->o == OUT_SUCCEEDED ? 2 : r->o == OUT_FAILED ? 3 : 4]);
    if (!st) {
      rc = -1;
      break;
    }
    if (r->exit_code >= 0) sqlite3_bind_int(st, 2, r->exit_code);
    if (r->sig) sqlite3_bind_int(st, 3, r->sig);
    sqlite3_bind_int(st, 4, r->timed_out ? 1 : 0);
    if (r->message) sqlite3_bind_text(st, 5, r->message, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, meta_now());
    sqlite3_bind_int64(st, 7, r->job_run_id);
    if (sqlite3_step(st) != SQLITE_DONE) rc = -1;
    sqlite3_reset(st);
    if (!rc && r->token_hash[0]) {
      rc = meta_exec(s->meta, &e, "DELETE FROM tokens WHERE token_hash = ?", "s", r->token_hash);
      revoked = true;
    }
  }
  if (!rc) rc = meta_commit(s->meta, &e);
  if (rc) {
    meta_rollback(s->meta);
    log_warn("jobs: cannot record run states now; trying again");
    return;
  }
  if (revoked) auth_cache_invalidate(s);
  for (size_t i = 0; i < v->nends; i++) {
    follow_hub_notify(v->hub, v->ends[i].job_run_id);
    free(v->ends[i].message);
  }
  v->nstarts = v->nends = 0;
}

static void on_line(struct server *s, struct sched_task *t, enum exec_stream stream, const char *line, size_t n) {
  struct proc *p = of(t);
  struct jobs_service *v = s->jobs;
  if (p->job_run_id && !p->log_dirty) {
    p->log_dirty = true;
    if (v->ndirty == v->capdirty)
      v->dirty = xreallocarray(v->dirty, v->capdirty = v->capdirty ? v->capdirty * 2 : 16, sizeof *v->dirty);
    v->dirty[v->ndirty++] = p->job_run_id;
  }
  if (!p->job_run_id && stream == EXEC_STDOUT && buf_append(&p->out, line, n) == 0) buf_putc(&p->out, '\n');
}

static void on_exit_cb(struct server *s, struct sched_task *t, const struct exec_result *r) {
  struct proc *p = of(t);
  char msg[512];
  enum outcome o;
  if (r->cancelled || p->cancelled) {
    o = OUT_KILLED;
    snprintf(msg, sizeof msg, "stopped");
  } else if (!r->started) {
    o = OUT_FAILED;
    snprintf(msg, sizeof msg, "could not start: %s", r->error ? r->error : "unknown error");
  } else if (r->timed_out) {
    o = OUT_FAILED;
    snprintf(msg, sizeof msg, "timed out after %.0f s; its processes were killed", r->duration_s);
  } else if (r->exit_code == 0) {
    o = OUT_SUCCEEDED;
    msg[0] = '\0';
  } else if (r->exit_code > 0) {
    o = OUT_FAILED;
    snprintf(msg, sizeof msg, "exited with code %d", r->exit_code);
  } else if (r->signal) {
    o = OUT_FAILED;
    snprintf(msg, sizeof msg, "killed by signal %d (%s)", r->signal, strsignal(r->signal));
  } else {
    o = OUT_FAILED;
    snprintf(msg, sizeof msg, "ended abnormally");
  }
  if (r->error && r->started && o != OUT_SUCCEEDED) {
    size_t k = strlen(msg);
    snprintf(msg + k, sizeof msg - k, " (%s)", r->error);
  }
  proc_finish(s, p, o, r->started ? r->exit_code : -1, r->signal, r->timed_out, msg[0] ? msg : NULL);
}

static const struct sched_task_ops proc_ops = {on_start, on_line, on_exit_cb};

/* Copies src to dst (mode), streamed. */
static int copy_file(const char *src, const char *dst, mode_t mode, oast_err *e) {
  int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (in < 0) return oast_err_set(e, OAST_EIO, "cannot open the program: %s", strerror(errno));
  int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (out < 0) {
    close(in);
    return oast_err_set(e, OAST_EIO, "cannot stage the program: %s", strerror(errno));
  }
  char buf[65536];
  int rc = 0;
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = oast_err_set(e, OAST_EIO, "cannot read the program: %s", strerror(errno));
      break;
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t k = write(out, buf + off, (size_t)(n - off));
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) {
        rc = oast_err_set(e, OAST_EIO, "cannot stage the program: %s", strerror(errno));
        break;
      }
      off += k;
    }
    if (rc) break;
  }
  close(in);
  if (close(out) != 0 && !rc) rc = oast_err_set(e, OAST_EIO, "cannot stage the program: %s", strerror(errno));
  return rc;
}

/* Whether the file begins like something the kernel can execute: an ELF image or a #! script. */
static bool looks_executable(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  unsigned char head[4] = {0};
  ssize_t n = read(fd, head, sizeof head);
  close(fd);
  return (n >= 4 && !memcmp(head, "\x7f" "ELF", 4)) || (n >= 2 && head[0] == '#' && head[1] == '!');
}

int jobs_check_program(const char *abs, enum job_type type, oast_err *e) {
  struct stat sb;
  if (lstat(abs, &sb) != 0) return oast_err_set(e, OAST_ENOT_FOUND, "the program file does not exist");
  if (!S_ISREG(sb.st_mode)) return oast_err_set(e, OAST_EBAD_REQUEST, "the program is not a regular file");
  if ((uint64_t)sb.st_size > PROGRAM_MAX_BYTES)
    return oast_err_set(e, OAST_ETOO_LARGE, "the program is larger than %" PRIu64 " bytes", PROGRAM_MAX_BYTES);
  if (type == JOB_BINARY && !looks_executable(abs))
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "a binary job's program must be an executable: an ELF file or a script that starts with #!");
  return 0;
}

/* The environment of a job process; entries owned by the returned array (free with env_free). */
static char **env_build(struct server *s, const char *token, const char *project, json_t *job_env,
                        const char *extra1, const char *extra2) {
  struct jobs_service *v = s->jobs;
  size_t n = v->nbase_env + (job_env ? json_object_size(job_env) : 0) + 16;
  char **env = xcalloc(n, sizeof *env);
  size_t k = 0;
  for (size_t i = 0; i < v->nbase_env; i++) env[k++] = xstrdup(v->base_env[i]);
  const char *user_pp = NULL;
  const char *key;
  json_t *val;
  json_object_foreach(job_env, key, val) {
    if (!strcmp(key, "PYTHONPATH")) {
      user_pp = json_string_value(val);
      continue;
    }
    env[k++] = xasprintf("%s=%s", key, json_string_value(val));
  }
  env[k++] = xasprintf("OAST_ADDR=%s", v->addr);
  env[k++] = xasprintf("OAST_API_KEY=%s", token);
  env[k++] = xasprintf("OAST_PROJECT=%s", project);
  env[k++] = xstrdup("OAST_CONFIG=/dev/null");
  env[k++] = xstrdup("PYTHONUNBUFFERED=1");
  if (extra1) env[k++] = xstrdup(extra1);
  if (extra2) env[k++] = xstrdup(extra2);
  const char *server_pp = getenv("PYTHONPATH");
  const char *rest = user_pp && *user_pp ? user_pp : server_pp && *server_pp ? server_pp : NULL;
  if (v->pydir) env[k++] = rest ? xasprintf("PYTHONPATH=%s:%s", v->pydir, rest) : xasprintf("PYTHONPATH=%s", v->pydir);
  else if (rest) env[k++] = xasprintf("PYTHONPATH=%s", rest);
  env[k] = NULL;
  return env;
}

static void env_free(char **env) {
  if (!env) return;
  for (char **p = env; *p; p++) free(*p);
  free(env);
}

/* What start_process needs beyond the proc. */
struct start {
  const char *const *argv;
  int64_t project_id, user_id;
  const char *project;
  json_t *job_env;          /* borrowed, may be NULL */
  const char *extra_env[2]; /* "NAME=value" or NULL */
  const char *log_abs;
  double timeout_s;
  int cpus, gpus;
};

/*
 * Gets the job token (a standalone run makes its own, recorded with the
 * run so a crash can revoke it; a pipeline task uses its run's), the
 * environment and the log's folder, and submits the process. 0, or an
 * error with nothing left behind but p's token (revoked by proc_finish).
 */
static int start_process(struct server *s, struct proc *p, const struct start *st, oast_err *e) {
  char *token = NULL;
  int rc = 0;
  p->project_id = st->project_id;
  if (p->pr) {
    /* A pipeline's tasks share their run's token. */
    const char *t = runner_token(s, p->pr, e);
    if (!t) return e->code ? e->code : OAST_EINTERNAL;
    token = xstrdup(t);
  } else {
    int64_t ttl = st->timeout_s > 0 ? (int64_t)st->timeout_s + TOKEN_SLACK_S : TOKEN_TTL_NO_TIMEOUT_S;
    if ((rc = meta_begin(s->meta, e))) return rc;
    rc = auth_token_create(s, st->user_id, "job", st->project_id, ttl, &token, NULL, e);
    if (!rc) {
      crypto_sha256_hex(token, strlen(token), p->token_hash);
      rc = meta_exec(s->meta, e, "UPDATE job_runs SET token_hash = ? WHERE id = ?", "si", p->token_hash,
                     p->job_run_id);
    }
    if (!rc) rc = meta_commit(s->meta, e);
    if (rc) {
      meta_rollback(s->meta);
      p->token_hash[0] = '\0';
      free(token);
      return rc;
    }
  }
  char *logdir = xstrdup(st->log_abs);
  char *slash = strrchr(logdir, '/');
  if (slash) *slash = '\0';
  if (!fs_is_dir(logdir)) {
    /* Never recreates the project's folder: a project deleted meanwhile stays gone. */
    char *pdir = server_project_dir(s, st->project);
    rc = fs_mkdirs_below(pdir, logdir, 0700, e);
    free(pdir);
  }
  free(logdir);
  char **env = rc ? NULL : env_build(s, token, st->project, st->job_env, st->extra_env[0], st->extra_env[1]);
  explicit_bzero(token, strlen(token));
  free(token);
  if (rc) return rc;
  struct exec_spec spec;
  memset(&spec, 0, sizeof spec);
  spec.argv = st->argv;
  spec.env = (const char *const *)env;
  spec.inherit_env = 0;
  spec.cwd = p->run_dir;
  spec.cpus = st->cpus;
  spec.gpus = st->gpus;
  spec.timeout_s = st->timeout_s;
  spec.out_path = st->log_abs;
  spec.err_path = st->log_abs;
  rc = sched_submit(s, &spec, &p->t, e);
  env_free(env);
  return rc;
}

/*
 * The program of a run, staged: runs read a private, immutable copy, so
 * replacing the file in its dataset never changes a run in flight. The
 * copy is cached per version of the file (device, inode, size and
 * modification time: files in datasets are only ever replaced whole, by
 * rename, so a new version is a new inode) under tmp/jobs/programs, which
 * the server clears when it starts. A notebook is cached as its Python
 * conversion; a binary as a copy of its own with an executable mode;
 * other programs as a hard link when the filesystem allows. *prog is
 * allocated.
 */
static int stage_program(struct server *s, int64_t project_id, const char *project, const struct job_spec *spec,
                         char **prog, oast_err *e) {
  char *abs = NULL;
  *prog = NULL;
  int rc = jobs_resolve_path(s, project_id, project, spec->program, &abs, e);
  if (!rc) rc = jobs_check_program(abs, spec->type, e);
  struct stat sb;
  if (!rc && stat(abs, &sb) != 0) rc = oast_err_set(e, OAST_ENOT_FOUND, "the program file does not exist");
  if (rc) {
    oast_err inner = *e;
    free(abs);
    return oast_err_set(e, inner.code, "program \"%s\": %s", spec->program, inner.msg);
  }
  const char *base = strrchr(spec->program, '/');
  base = base ? base + 1 : spec->program;
  char *dir = xasprintf("%s/jobs/programs/%llx-%llx-%llx-%lld.%09ld-%d", s->tmp_dir, (unsigned long long)sb.st_dev,
                        (unsigned long long)sb.st_ino, (unsigned long long)sb.st_size, (long long)sb.st_mtim.tv_sec,
                        sb.st_mtim.tv_nsec, (int)spec->type);
  *prog = spec->type == JOB_NOTEBOOK ? xasprintf("%s/%.*s.py", dir, (int)(strlen(base) - 6), base)
                                     : xasprintf("%s/%s", dir, base);
  if (access(*prog, F_OK) == 0) goto out; /* staged before */
  if ((rc = fs_mkdirs(dir, 0700, e))) goto out;
  char *tmp = xasprintf("%s.staging", *prog);
  if (spec->type == JOB_NOTEBOOK) {
    char *text = NULL, *py = NULL;
    size_t len = 0, pylen = 0;
    rc = fs_read_all(abs, NOTEBOOK_MAX_BYTES, &text, &len, e);
    if (!rc) rc = notebook_to_python(text, len, &py, &pylen, e);
    if (!rc) {
      rc = fs_write_atomic(tmp, py, pylen, 0600, e);
    } else {
      oast_err inner = *e;
      rc = oast_err_set(e, inner.code, "notebook \"%s\": %s", spec->program, inner.msg);
    }
    free(text);
    free(py);
  } else if (spec->type == JOB_BINARY || link(abs, tmp) != 0) {
    rc = copy_file(abs, tmp, spec->type == JOB_BINARY ? 0700 : 0600, e);
  }
  if (!rc && rename(tmp, *prog) != 0) rc = oast_err_set(e, OAST_EIO, "cannot stage the program: %s", strerror(errno));
  if (rc) unlink(tmp);
  free(tmp);
out:
  if (rc) {
    free(*prog);
    *prog = NULL;
  }
  free(dir);
  free(abs);
  return rc;
}

void jobs_launch_run(struct server *s, int64_t id, struct prun *pr, size_t task) {
  struct jobs_service *v = s->jobs;
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta,
                                         "SELECT r.state, r.user_id, r.args, j.name, j.spec, p.id, p.name, "
                                         "(SELECT count(*) FROM members m WHERE m.project_id = p.id AND m.user_id = r.user_id) "
                                         "FROM job_runs r JOIN jobs j ON j.id = r.job_id JOIN projects p ON p.id = r.project_id "
                                         "WHERE r.id = ?"),
                               "i", id);
  if (!st) return;
  if (sqlite3_step(st) != SQLITE_ROW) {
    sqlite3_reset(st);
    if (pr) runner_task_done(s, pr, task, false, -1, "its job run disappeared", NULL);
    return;
  }
  char *state = col_text(st, 0), *args = col_text(st, 2), *job = col_text(st, 3), *spec_text = col_text(st, 4),
       *project = col_text(st, 6);
  int64_t user_id = sqlite3_column_int64(st, 1), project_id = sqlite3_column_int64(st, 5);
  bool member = sqlite3_column_int64(st, 7) > 0;
  sqlite3_reset(st);

  struct job_spec *spec = NULL;
  json_t *doc = NULL, *argv_json = NULL;
  char *prog = NULL, *log_abs = NULL;
  const char **argv = NULL;
  oast_err e;
  oast_err_clear(&e);
  int rc = 0;
  if (strcmp(state, "queued") != 0) goto out_free; /* stopped before it started */
  struct proc *p = proc_new(v, id, pr, task);
  doc = json_loads(spec_text, 0, NULL);
  if (!doc || job_spec_from_json(doc, &spec, &e) != 0) {
    rc = oast_err_set(&e, OAST_EINTERNAL, "the job's stored definition is unreadable");
    goto fail;
  }
  if (!member) {
    rc = oast_err_set(&e, OAST_EFORBIDDEN, "the user who launched it is no longer a member of project \"%s\"", project);
    goto fail;
  }
  if ((rc = make_run_dir(s, p, &e)) || (rc = stage_program(s, project_id, project, spec, &prog, &e)))
    goto fail;
  argv_json = json_loads(args ? args : "[]", 0, NULL);
  size_t nargs = json_array_size(argv_json), a = 0;
  argv = xcalloc(nargs + 3, sizeof *argv);
  if (spec->type == JOB_PYTHON || spec->type == JOB_NOTEBOOK) argv[a++] = v->python;
  else if (spec->type == JOB_SHELL) argv[a++] = "/bin/sh";
  argv[a++] = prog;
  for (size_t i = 0; i < nargs; i++) argv[a++] = json_string_value(json_array_get(argv_json, i));
  argv[a] = NULL;
  log_abs = jobs_run_log_abs(s, project, job, id);
  char job_env[96], run_env[64];
  snprintf(job_env, sizeof job_env, "OAST_JOB=%s", job);
  snprintf(run_env, sizeof run_env, "OAST_RUN_ID=%" PRId64, id);
  double timeout = (double)spec->timeout_s;
  if (pr && runner_task_timeout(pr, task) > 0) timeout = (double)runner_task_timeout(pr, task); /* the task's wins */
  struct start sp = {argv, project_id, user_id, project, json_object_get(spec->json, "env"), {job_env, run_env},
                     log_abs, timeout, spec->cpus, spec->gpus};
  rc = start_process(s, p, &sp, &e);
fail:
  if (rc) {
    log_info("job run %" PRId64 " of %s/%s failed before it started: %s", id, project, job, e.msg);
    proc_finish(s, p, OUT_FAILED, -1, 0, false, e.msg);
  }
out_free:
  free(argv);
  json_decref(argv_json);
  json_decref(doc);
  job_spec_free(spec);
  free(prog);
  free(log_abs);
  free(state);
  free(args);
  free(job);
  free(spec_text);
  free(project);
}

int jobs_launch_op(struct server *s, struct prun *pr, size_t task, const struct op_launch *op, oast_err *e) {
  struct jobs_service *v = s->jobs;
  int64_t run_id, project_id, user_id;
  const char *project;
  runner_identity(pr, &run_id, &project_id, &user_id, &project);
  struct proc *p = proc_new(v, 0, pr, task);
  int rc = make_run_dir(s, p, e);
  if (!rc && op->file_name) {
    char *path = fs_join(p->run_dir, op->file_name);
    rc = fs_write_atomic(path, op->file_body, strlen(op->file_body), 0600, e);
    free(path);
  }
  if (!rc) {
    struct start sp = {op->argv, project_id, user_id, project, NULL, {NULL, NULL}, op->log_abs, op->timeout_s, 1, 0};
    rc = start_process(s, p, &sp, e);
  }
  if (rc) {
    /* Not started: undo without reporting an end (the caller does). */
    jobs_token_revoke(s, p->token_hash);
    runner_task_proc(pr, task, NULL);
    proc_free(v, p);
  }
  return rc;
}

void jobs_proc_cancel(struct server *s, struct proc *p) {
  if (p->cancelled) return;
  p->cancelled = true;
  oast_err e;
  sched_cancel(s, &p->t, &e);
}

static void stop_run(struct server *s, int64_t id) {
  for (struct proc *p = s->jobs->procs; p; p = p->next)
    if (p->job_run_id == id) {
      jobs_proc_cancel(s, p);
      return;
    }
  /* Not launched (yet): a queued run just ends. */
  meta_exec(s->meta, NULL,
            "UPDATE job_runs SET state = 'killed', message = 'stopped before it started', ended = ? "
            "WHERE id = ? AND state = 'queued'",
            "ii", meta_now(), id);
  follow_hub_notify(s->jobs->hub, id);
}

/* A deleted project's runs: its processes are killed (their rows are gone, so nothing else of them is kept). */
static void stop_project(struct server *s, int64_t project_id) {
  runner_stop_project(s, project_id);
  size_t n = 0;
  for (struct proc *p = s->jobs->procs; p; p = p->next)
    if (p->project_id == project_id && !p->cancelled) {
      jobs_proc_cancel(s, p);
      n++;
    }
  if (n) log_info("project %" PRId64 " was deleted: %zu of its processes stopped", project_id, n);
}

/* ---- cron ---- */

static int load_schedules(struct server *s) {
  struct jobs_service *v = s->jobs;
  v->scheds_gen = atomic_load(&v->sched_gen);
  free(v->scheds);
  v->scheds = NULL;
  v->nscheds = 0;
  size_t cap = 0;
  static const char *const sql[] = {
      "SELECT id, schedule, sched_last FROM jobs WHERE schedule IS NOT NULL",
      "SELECT id, schedule, sched_last FROM pipelines WHERE schedule IS NOT NULL",
  };
  for (int k = 0; k < 2; k++) {
    sqlite3_stmt *st = meta_stmt(s->meta, sql[k]);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
      struct cron c;
      oast_err e;
      const char *expr = (const char *)sqlite3_column_text(st, 1);
      if (!expr || cron_parse(expr, &c, &e) != 0) continue;
      if (v->nscheds == cap) v->scheds = xreallocarray(v->scheds, cap = cap ? cap * 2 : 16, sizeof *v->scheds);
      v->scheds[v->nscheds++] = (struct sched_entry){k == 1, sqlite3_column_int64(st, 0), c,
                                                      sqlite3_column_int64(st, 2)};
    }
    if (st) sqlite3_reset(st);
  }
  v->scheds_loaded = true;
  return 0;
}

/* One due schedule: re-checked against the stored watermark, then one run and the new watermark, together. */
static int fire(struct server *s, struct sched_entry *se, int64_t now, bool *fired, oast_err *e) {
  *fired = false;
  int rc = meta_begin(s->meta, e);
  if (rc) return rc;
  sqlite3_stmt *st = meta_bind(
      meta_stmt(s->meta, se->pipeline ? "SELECT schedule, sched_last, project_id, owner_id, spec FROM pipelines WHERE id = ?"
                                      : "SELECT schedule, sched_last, project_id, owner_id, spec FROM jobs WHERE id = ?"),
      "i", se->id);
  char *expr = NULL, *spec = NULL;
  int64_t last = 0, project_id = 0, owner = 0;
  bool found = st && sqlite3_step(st) == SQLITE_ROW;
  if (found) {
    expr = col_text(st, 0);
    last = sqlite3_column_int64(st, 1);
    project_id = sqlite3_column_int64(st, 2);
    owner = sqlite3_column_int64(st, 3);
    spec = col_text(st, 4);
  }
  if (st) sqlite3_reset(st);
  struct cron c;
  oast_err ce;
  time_t due = 0;
  int64_t id = 0;
  if (!found || !expr || cron_parse(expr, &c, &ce) != 0 || memcmp(&c, &se->cron, sizeof c) != 0) {
    atomic_fetch_add(&s->jobs->sched_gen, 1); /* changed under us: reload */
    goto done;
  }
  se->last = last;
  if (!cron_due(&c, (time_t)last, (time_t)now, &due)) goto done;
  if (se->pipeline) {
    rc = pipelines_run_insert(s, se->id, project_id, owner, "schedule", (int64_t)due, &id, e);
  } else {
    json_t *doc = json_loads(spec, 0, NULL);
    char *args = json_dumps(json_object_get(doc, "args") ? json_object_get(doc, "args") : json_array(), JSON_COMPACT);
    rc = jobs_run_insert(s, se->id, project_id, owner, "schedule", (int64_t)due, args ? args : "[]", 0, NULL, &id, e);
    free(args);
    json_decref(doc);
  }
  if (!rc)
    rc = meta_exec(s->meta, e, se->pipeline ? "UPDATE pipelines SET sched_last = ? WHERE id = ?"
                                             : "UPDATE jobs SET sched_last = ? WHERE id = ?",
                   "ii", (int64_t)due, se->id);
  if (!rc) {
    rc = meta_commit(s->meta, e);
    if (!rc) {
      se->last = (int64_t)due;
      *fired = true;
      inbox_push(s->jobs, se->pipeline ? JOBS_PIPELINE : JOBS_LAUNCH, id);
    }
  }
done:
  if (!*fired) meta_rollback(s->meta);
  free(expr);
  free(spec);
  return rc;
}

int jobs_cron_tick(struct server *s, int64_t now, oast_err *e) {
  struct jobs_service *v = s->jobs;
  if (!v->scheds_loaded || v->scheds_gen != atomic_load(&v->sched_gen)) load_schedules(s);
  int n = 0;
  for (size_t i = 0; i < v->nscheds; i++) {
    struct sched_entry *se = &v->scheds[i];
    time_t due;
    if (!cron_due(&se->cron, (time_t)se->last, (time_t)now, &due)) continue;
    bool fired = false;
    oast_err fe;
    int rc = fire(s, se, now, &fired, &fe);
    if (rc) {
      log_error("%s %" PRId64 ": its schedule could not fire: %s", se->pipeline ? "pipeline" : "job", se->id, fe.msg);
      if (e) *e = fe;
      continue;
    }
    if (fired) n++;
  }
  return n;
}

/* ---- inserts shared by handlers, cron and the runner ---- */

int jobs_run_insert(struct server *s, int64_t job_id, int64_t project_id, int64_t user_id, const char *trigger,
                    int64_t scheduled_for, const char *args_json, int64_t prun, const char *task, int64_t *id,
                    oast_err *e) {
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta,
                                         "INSERT INTO job_runs(job_id, project_id, user_id, state, trigger, scheduled_for, "
                                         "pipeline_run_id, task, args, created) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)"),
                               "iiis", job_id, project_id, user_id, trigger);
  if (!st) return oast_err_set(e, OAST_EINTERNAL, "cannot record the run");
  if (scheduled_for) sqlite3_bind_int64(st, 5, scheduled_for);
  if (prun) sqlite3_bind_int64(st, 6, prun);
  if (task) sqlite3_bind_text(st, 7, task, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 8, args_json, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 9, meta_now());
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return meta_error(s->meta, rc, e, "recording the run");
  *id = meta_last_id(s->meta);
  return 0;
}

int pipelines_run_insert(struct server *s, int64_t pipeline_id, int64_t project_id, int64_t user_id,
                         const char *trigger, int64_t scheduled_for, int64_t *id, oast_err *e) {
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT spec FROM pipelines WHERE id = ?"), "i", pipeline_id);
  char *spec = NULL;
  if (st && sqlite3_step(st) == SQLITE_ROW) spec = col_text(st, 0);
  if (st) sqlite3_reset(st);
  json_t *doc = spec ? json_loads(spec, 0, NULL) : NULL;
  json_t *tasks = json_object_get(doc, "tasks");
  int rc = 0;
  if (!json_is_array(tasks)) {
    rc = oast_err_set(e, OAST_EINTERNAL, "the pipeline's stored definition is unreadable");
    goto out;
  }
  st = meta_bind(meta_stmt(s->meta,
                           "INSERT INTO pipeline_runs(pipeline_id, project_id, user_id, state, trigger, scheduled_for, "
                           "spec, created) VALUES (?, ?, ?, 'running', ?, ?, ?, ?)"),
                 "iiis", pipeline_id, project_id, user_id, trigger);
  if (!st) {
    rc = oast_err_set(e, OAST_EINTERNAL, "cannot record the run");
    goto out;
  }
  if (scheduled_for) sqlite3_bind_int64(st, 5, scheduled_for);
  sqlite3_bind_text(st, 6, spec, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 7, meta_now());
  int sr = sqlite3_step(st);
  sqlite3_reset(st);
  if (sr != SQLITE_DONE) {
    rc = meta_error(s->meta, sr, e, "recording the run");
    goto out;
  }
  *id = meta_last_id(s->meta);
  size_t i;
  json_t *t;
  json_array_foreach(tasks, i, t) {
    rc = meta_exec(s->meta, e, "INSERT INTO task_runs(run_id, idx, name, state) VALUES (?, ?, ?, 'pending')", "iis",
                   *id, (int64_t)i, json_string_value(json_object_get(t, "name")));
    if (rc) break;
  }
out:
  json_decref(doc);
  free(spec);
  return rc;
}

/* ---- recovery ---- */

/* Runs a crash or stop left queued or running. */
static int recover_runs(struct server *s, oast_err *e) {
  struct row {
    int64_t id, pid, pstart, prun;
    char *state, *token;
  } *rows = NULL;
  size_t n = 0, cap = 0;
  sqlite3_stmt *st = meta_stmt(s->meta,
                               "SELECT id, state, pid, pstart, token_hash, coalesce(pipeline_run_id, 0) FROM job_runs "
                               "WHERE state IN ('queued', 'running')");
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    if (n == cap) rows = xreallocarray(rows, cap = cap ? cap * 2 : 16, sizeof *rows);
    rows[n++] = (struct row){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
                             sqlite3_column_int64(st, 5), col_text(st, 1), col_text(st, 4)};
  }
  if (st) sqlite3_reset(st);
  for (size_t i = 0; i < n; i++) {
    struct row *r = &rows[i];
    jobs_kill_orphan(r->pid, r->pstart);
    jobs_token_revoke(s, r->token);
    bool started = !strcmp(r->state, "running") || r->pid;
    if (!started && !r->prun) {
      /* It never ran: run it now. */
      meta_exec(s->meta, NULL, "UPDATE job_runs SET token_hash = NULL WHERE id = ?", "i", r->id);
      inbox_push(s->jobs, JOBS_LAUNCH, r->id);
    } else {
      meta_exec(s->meta, NULL,
                "UPDATE job_runs SET state = 'failed', message = ?, ended = ?, token_hash = NULL WHERE id = ?", "sii",
                started ? "the server stopped while this run was in progress"
                        : "the server stopped before this pipeline task's run started",
                meta_now(), r->id);
    }
    free(r->state);
    free(r->token);
  }
  free(rows);
  return 0;
}

/* ---- the tick ---- */

static void tick(struct server *s, void *arg) {
  struct jobs_service *v = s->jobs;
  flush(s); /* the pool's callbacks of this round */
  if (!service_addr(s)) return; /* processes need the address; nothing starts before the server listens */
  int64_t now = (int64_t)time(NULL);
  if (now != v->last_cron) {
    v->last_cron = now;
    jobs_cron_tick(s, now, NULL);
  }
  pthread_mutex_lock(&v->mu);
  struct inbox_item *items = v->inbox;
  size_t n = v->ninbox;
  v->inbox = NULL;
  v->ninbox = v->capinbox = 0;
  pthread_mutex_unlock(&v->mu);
  for (size_t i = 0; i < n; i++) {
    switch (items[i].kind) {
      case JOBS_LAUNCH: jobs_launch_run(s, items[i].id, NULL, 0); break;
      case JOBS_STOP_RUN: stop_run(s, items[i].id); break;
      case JOBS_PIPELINE: runner_load(s, items[i].id); break;
      case JOBS_STOP_PIPELINE: runner_stop(s, items[i].id); break;
      case JOBS_STOP_PROJECT: stop_project(s, items[i].id); break;
    }
  }
  free(items);
  runner_tick(s, now);
  flush(s);
  /* Output of the last pool round is in the log files now: wake its followers. */
  for (size_t i = 0; i < v->ndirty; i++) follow_hub_notify(v->hub, v->dirty[i]);
  for (struct proc *p = v->procs; p; p = p->next) p->log_dirty = false;
  v->ndirty = 0;
  if (now - v->last_poke >= POKE_EVERY_S) {
    v->last_poke = now;
    follow_hub_poke_all(v->hub);
  }
}

/* ---- life cycle ---- */

int jobs_service_init(struct server *s, oast_err *e) {
  struct jobs_service *v = xcalloc(1, sizeof *v);
  pthread_mutex_init(&v->mu, NULL);
  s->jobs = v;
  v->hub = follow_hub_new();
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    v->exe = xstrdup(exe);
  }
  v->pydir = server_python_dir();
  v->python = server_python_exe();
  base_env_init(v);
  char *dir = fs_join(s->tmp_dir, "jobs");
  fs_remove_tree(dir, NULL); /* run directories of processes that are gone */
  free(dir);
  int rc = recover_runs(s, e);
  if (!rc) rc = runner_recover(s, e);
  if (!rc) rc = notifier_start(s, &v->notifier, e);
  if (!rc) {
    /* Failure notifications a stop interrupted go out again. */
    sqlite3_stmt *st = meta_stmt(s->meta,
                                 "SELECT id FROM pipeline_runs WHERE state = 'failed' AND notified IS NULL "
                                 "AND instr(spec, '\"webhook\"') > 0");
    int64_t *ids = NULL;
    size_t nid = 0, cap = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
      if (nid == cap) ids = xreallocarray(ids, cap = cap ? cap * 2 : 8, sizeof *ids);
      ids[nid++] = sqlite3_column_int64(st, 0);
    }
    if (st) sqlite3_reset(st);
    for (size_t i = 0; i < nid; i++) {
      char *url, *body;
      if (runner_webhook(s, ids[i], &url, &body) == 0) notifier_post(v->notifier, url, body, ids[i]);
      free(url);
      free(body);
    }
    free(ids);
  }
  if (rc) return rc;
  sched_add_tick(s, tick, NULL);
  return 0;
}

void jobs_service_quiesce(struct server *s) {
  if (s->jobs) follow_hub_close(s->jobs->hub);
}

void jobs_service_free(struct server *s) {
  struct jobs_service *v = s->jobs;
  if (!v) return;
  flush(s);
  notifier_stop(v->notifier);
  runner_free_all(s);
  while (v->procs) proc_free(v, v->procs);
  for (size_t i = 0; i < v->nends; i++) free(v->ends[i].message);
  free(v->ends);
  for (size_t i = 0; i < v->nfree_dirs; i++) free(v->free_dirs[i]);
  free(v->starts);
  follow_hub_free(v->hub);
  for (size_t i = 0; i < v->nbase_env; i++) free(v->base_env[i]);
  free(v->base_env);
  free(v->inbox);
  free(v->scheds);
  free(v->dirty);
  free(v->exe);
  free(v->pydir);
  free(v->python);
  free(v->addr);
  pthread_mutex_destroy(&v->mu);
  free(v);
  s->jobs = NULL;
}
