/*
 * slurmcli.c — running Slurm's client commands, the batch script, and
 * reading squeue and sinfo (see slurmcli.h).
 *
 * Commands run as children with pipes for stdout and stderr and a pidfd
 * for their end, watched with poll() against a deadline, so that a
 * controller that does not answer costs at most the deadline and never
 * leaves a process behind: on the deadline the child's whole process
 * group is killed and reaped.
 *
 * The batch script is plain sh, written so that every value in it is a
 * single-quoted literal: the spool directory, the working directory, each
 * argument and each environment entry. It leaves three markers in the
 * job's spool directory, each written to a temporary name and renamed, so
 * the server never reads half of one: `start` (the node's name and the
 * GPUs Slurm gave the job) just before the command runs, `exit` (the
 * command's exit status, 128 + N for signal N, as sh reports it) after,
 * and `error` instead of both when the command cannot be started (no
 * working directory, no such program). The shell waits for the command
 * rather than exec'ing it so that it can write `exit`; it catches the
 * termination signals (a caught signal is reset to its default in the
 * command) so that on scancel it outlives the command long enough to
 * record how the command ended.
 */
#define _GNU_SOURCE
#include "exec/slurmcli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* ---- running a command ---- */

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drain(int *fd, struct buf *b, size_t cap) {
  char chunk[4096];
  for (;;) {
    ssize_t k = read(*fd, chunk, sizeof chunk);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (k <= 0) {
      close(*fd);
      *fd = -1;
      return;
    }
    size_t room = b->len < cap ? cap - b->len : 0;
    buf_append(b, chunk, (size_t)k < room ? (size_t)k : room);
  }
}

int slurm_run_cmd(char *const argv[], char *const envp[], int timeout_ms, size_t cap,
                  struct slurm_run *r) {
  memset(r, 0, sizeof *r);
  buf_init(&r->out, 0);
  buf_init(&r->err, 0);
  int po[2] = {-1, -1}, pe[2] = {-1, -1}, pidfd = -1;
  pid_t pid = -1;
  if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0 ||
      fcntl(po[0], F_SETFL, O_NONBLOCK) != 0 || fcntl(pe[0], F_SETFL, O_NONBLOCK) != 0) {
    r->spawn_err = errno;
    goto out;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, po[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t at;
  sigset_t none, def;
  sigemptyset(&none);
  sigfillset(&def);
  sigdelset(&def, SIGKILL);
  sigdelset(&def, SIGSTOP);
  posix_spawnattr_init(&at);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                    POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&at, 0);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &def);
  int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(po[1]);
  close(pe[1]);
  po[1] = pe[1] = -1;
  if (rc != 0) {
    r->spawn_err = rc;
    pid = -1;
    goto out;
  }
  pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  int ended = 0;
  while (!ended || po[0] >= 0 || pe[0] >= 0) {
    struct pollfd fds[3];
    int nf = 0, ipid = -1;
    if (po[0] >= 0) fds[nf++] = (struct pollfd){po[0], POLLIN, 0};
    if (pe[0] >= 0) fds[nf++] = (struct pollfd){pe[0], POLLIN, 0};
    if (!ended && pidfd >= 0) {
      ipid = nf;
      fds[nf++] = (struct pollfd){pidfd, POLLIN, 0};
    }
    long long left = deadline - now_ms();
    if (left <= 0) {
      r->timed_out = 1;
      break;
    }
    /* Without a pidfd (old kernel) the end is EOF on both pipes. */
    if (nf == 0) break;
    int k = poll(fds, (nfds_t)nf, (int)(left > 1000 ? 1000 : left));
    if (k < 0 && errno != EINTR) break;
    if (po[0] >= 0) drain(&po[0], &r->out, cap);
    if (pe[0] >= 0) drain(&pe[0], &r->err, cap);
    if (ipid >= 0 && k > 0 && (fds[ipid].revents & (POLLIN | POLLHUP))) {
      ended = 1;
      /* What it wrote is in the pipes; a descendant that kept them open
       * must not hold us up: drain what is there and stop. */
      if (po[0] >= 0) drain(&po[0], &r->out, cap);
      if (pe[0] >= 0) drain(&pe[0], &r->err, cap);
      break;
    }
  }
  killpg(pid, SIGKILL);
  int st = 0;
  pid_t w;
  while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {}
  if (w == pid && !r->timed_out) {
    r->exited = 1;
    r->status = st;
  }
out:
  for (int i = 0; i < 2; i++) {
    if (po[i] >= 0) close(po[i]);
    if (pe[i] >= 0) close(pe[i]);
  }
  if (pidfd >= 0) close(pidfd);
  return r->exited && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0 ? 0 : -1;
}

void slurm_run_release(struct slurm_run *r) {
  buf_release(&r->out);
  buf_release(&r->err);
}

/* The last non-empty line of text, without trailing blanks. */
static char *last_line(const char *text) {
  const char *end = text + strlen(text);
  while (end > text && isspace((unsigned char)end[-1])) end--;
  const char *start = end;
  while (start > text && start[-1] != '\n') start--;
  return xstrndup(start, (size_t)(end - start));
}

char *slurm_run_message(const char *cmd, const struct slurm_run *r) {
  if (r->spawn_err)
    return xasprintf("cannot run %s: %s (are Slurm's client commands installed and in PATH?)",
                     cmd, strerror(r->spawn_err));
  if (r->timed_out) return xasprintf("%s did not answer in time", cmd);
  char *line = last_line(buf_cstr((struct buf *)&r->err));
  if (!*line) {
    free(line);
    line = last_line(buf_cstr((struct buf *)&r->out));
  }
  char *msg;
  /* "sbatch: error: Batch job submission failed: X" reads best as "X". */
  static const char *const noise[] = {"Batch job submission failed: ", "error: ", "fatal: "};
  const char *m = line;
  if (strncmp(m, cmd, strlen(cmd)) == 0 && m[strlen(cmd)] == ':') m += strlen(cmd) + 1;
  while (*m == ' ') m++;
  for (size_t i = 0; i < sizeof noise / sizeof *noise; i++)
    if (strncmp(m, noise[i], strlen(noise[i])) == 0) {
      m += strlen(noise[i]);
      i = (size_t)-1;  /* again from the first: "error: Batch job submission failed: " */
    }
  if (*m)
    msg = xasprintf("%s: %s", cmd, m);
  else if (r->exited && WIFSIGNALED(r->status))
    msg = xasprintf("%s was killed by signal %d", cmd, WTERMSIG(r->status));
  else
    msg = xasprintf("%s failed with exit status %d", cmd,
                    r->exited && WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1);
  free(line);
  return msg;
}

int slurm_run_unreachable(const struct slurm_run *r) {
  if (r->spawn_err || r->timed_out) return 1;
  static const char *const signs[] = {"Unable to contact slurm controller",
                                      "Socket timed out",
                                      "Zero Bytes were transmitted",
                                      "Connection refused",
                                      "Communication connection failure",
                                      "Could not establish a configuration source",
                                      "Slurm temporarily unable",
                                      "Slurm backup controller in standby mode"};
  const char *err = buf_cstr((struct buf *)&r->err);
  for (size_t i = 0; i < sizeof signs / sizeof *signs; i++)
    if (strcasestr(err, signs[i])) return 1;
  return 0;
}

/* ---- the batch script ---- */

void slurm_quote(struct buf *b, const char *s) {
  buf_putc(b, '\'');
  for (; *s; s++) {
    if (*s == '\'')
      buf_puts(b, "'\\''");
    else
      buf_putc(b, *s);
  }
  buf_putc(b, '\'');
}

static void quoted_msg(struct buf *b, const char *fmt, const char *arg) {
  char *m = xasprintf(fmt, arg);
  slurm_quote(b, m);
  free(m);
}

static int env_named(const char *entry, const char *name) {
  size_t n = strlen(name);
  return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

char *slurm_script(const struct slurm_script_in *in) {
  struct buf b;
  buf_init(&b, 0);
  buf_puts(&b, "#!/bin/sh\n# ");
  for (const char *t = in->title ? in->title : ""; *t && *t != '\n'; t++) buf_putc(&b, *t);
  buf_puts(&b, "\n# Written by Oast's Slurm executor: runs the command, leaving start/exit\n"
               "# (or error) markers beside its output for the server to read.\nd=");
  slurm_quote(&b, in->dir);
  buf_puts(&b, "\nmark() { printf '%s\\n' \"$2\" >\"$d/$1.tmp\" && mv -f \"$d/$1.tmp\" \"$d/$1\"; }\n"
               "fail() { mark error \"$1\"; exit 127; }\ncd ");
  slurm_quote(&b, in->cwd);
  buf_puts(&b, " 2>/dev/null || fail ");
  quoted_msg(&b, "cannot use the working directory \"%s\"", in->cwd);
  buf_puts(&b, "\np=");
  slurm_quote(&b, in->argv[0]);
  buf_puts(&b, "\ncase $p in\n*/*) [ -f \"$p\" ] && [ -x \"$p\" ] || fail ");
  quoted_msg(&b, "cannot run \"%s\": it is not an executable file", in->argv[0]);
  buf_puts(&b, " ;;\n*) q=$(IFS=:; for x in $PATH; do [ -n \"$x\" ] || x=.; "
               "if [ -f \"$x/$p\" ] && [ -x \"$x/$p\" ]; then printf '%s' \"$x/$p\"; break; fi; done)\n"
               "  [ -n \"$q\" ] || fail ");
  quoted_msg(&b, "cannot run \"%s\": No such file or directory", in->argv[0]);
  buf_puts(&b, "\n  p=$q ;;\nesac\n"
               "mark start \"${SLURMD_NODENAME-}\n${SLURM_JOB_GPUS:-${CUDA_VISIBLE_DEVICES-}}\"\n");
  buf_puts(&b, in->gpus > 0 ? "c=${CUDA_VISIBLE_DEVICES-}\n" : "c=\n");
  /* The shell's own stderr goes away (it would say "Terminated" when the
   * command is killed); the command, in a subshell that execs it so that
   * the redirection is not the waiting shell's, gets the job's stderr. */
  buf_puts(&b, "trap : HUP INT QUIT TERM USR1 USR2\nexec 3>&2 2>/dev/null\n(exec env ");
  if (!in->inherit_env) buf_puts(&b, "-i ");
  buf_puts(&b, "--");
  int order_given = 0;
  for (const char *const *e = in->env; e && *e; e++) {
    if (env_named(*e, "CUDA_VISIBLE_DEVICES")) continue;
    if (env_named(*e, "CUDA_DEVICE_ORDER")) order_given = 1;
    buf_putc(&b, ' ');
    slurm_quote(&b, *e);
  }
  buf_puts(&b, " CUDA_VISIBLE_DEVICES=\"$c\"");
  if (in->gpus > 0 && !order_given) buf_puts(&b, " CUDA_DEVICE_ORDER=PCI_BUS_ID");
  buf_puts(&b, " \"$p\"");
  for (const char *const *a = in->argv + 1; *a; a++) {
    buf_putc(&b, ' ');
    slurm_quote(&b, *a);
  }
  buf_puts(&b, " </dev/null 2>&3 3>&-)\nrc=$?\nmark exit \"$rc\"\nexit \"$rc\"\n");
  return buf_detach(&b, NULL);
}

/* ---- answers ---- */

/* Splits line at '|' into at most n trimmed fields (in place). */
static size_t fields(char *line, char **f, size_t n) {
  size_t k = 0;
  char *s = line;
  while (k < n) {
    char *bar = strchr(s, '|');
    if (bar) *bar = '\0';
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    f[k++] = s;
    if (!bar) break;
    s = bar + 1;
  }
  return k;
}

static int parse_ll(const char *s, long long *v) {
  if (!*s) return -1;
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (errno || *end) return -1;
  *v = x;
  return 0;
}

static int cmp_row(const void *a, const void *b) {
  long long x = ((const struct slurm_qrow *)a)->id, y = ((const struct slurm_qrow *)b)->id;
  return x < y ? -1 : x > y;
}

static void copy_field(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src);
}

size_t slurm_parse_squeue(const char *text, struct slurm_qrow **rows) {
  size_t n = 0, cap = 0;
  struct slurm_qrow *v = NULL;
  char *copy = xstrdup(text), *save = NULL;
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *f[4] = {"", "", "", ""};
    long long id, st;
    if (fields(line, f, 4) < 3 || parse_ll(f[0], &id) || parse_ll(f[2], &st) || id <= 0 || !*f[1])
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      v = xrealloc(v, cap * sizeof *v);
    }
    struct slurm_qrow *r = &v[n++];
    memset(r, 0, sizeof *r);
    r->id = id;
    r->status = (int)st;
    copy_field(r->state, sizeof r->state, f[1]);
    copy_field(r->reason, sizeof r->reason, f[3]);
  }
  free(copy);
  if (n > 1) qsort(v, n, sizeof *v, cmp_row);
  *rows = v;
  return n;
}

const struct slurm_qrow *slurm_find_row(const struct slurm_qrow *rows, size_t n, long long id) {
  struct slurm_qrow key = {.id = id};
  return n ? bsearch(&key, rows, n, sizeof *rows, cmp_row) : NULL;
}

int slurm_state_ended(const char *state) {
  static const char *const live[] = {"PENDING",  "CONFIGURING", "RUNNING",   "SUSPENDED",
                                     "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING",
                                     "SIGNALING", "STAGE_OUT",  "RESV_DEL_HOLD", "STOPPED"};
  for (size_t i = 0; i < sizeof live / sizeof *live; i++)
    if (strcmp(state, live[i]) == 0) return 0;
  return *state != '\0';
}

int slurm_gres_gpus(const char *gres) {
  int total = 0;
  char *copy = xstrdup(gres), *save = NULL;
  /* Items are separated by commas outside parentheses: "gpu:2(S:0-1),shard:8". */
  int depth = 0;
  for (char *c = copy; *c; c++) {
    if (*c == '(') depth++;
    else if (*c == ')') depth--;
    else if (*c == ',' && depth == 0) *c = '\n';
  }
  for (char *it = strtok_r(copy, "\n", &save); it; it = strtok_r(NULL, "\n", &save)) {
    while (isspace((unsigned char)*it)) it++;
    if (strncmp(it, "gpu", 3) != 0 || (it[3] != ':' && it[3] != '\0')) continue;
    char *paren = strchr(it, '(');
    if (paren) *paren = '\0';
    char *colon = strrchr(it, ':');
    if (!colon) {
      total += 1;
      continue;
    }
    long long k;
    if (parse_ll(colon + 1, &k) == 0 && k >= 0 && k < 1000000) total += (int)k;
  }
  free(copy);
  return total;
}

void slurm_parse_sinfo(const char *text, struct slurm_totals *t) {
  memset(t, 0, sizeof *t);
  char *copy = xstrdup(text), *save = NULL;
  struct buf seen;  /* "\nname\n" of each node counted: one shows once per partition */
  buf_init(&seen, 0);
  buf_putc(&seen, '\n');
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *f[5] = {"", "", "", "", ""};
    if (fields(line, f, 5) < 4 || !*f[0]) continue;
    char *key = xasprintf("\n%s\n", f[0]);
    int dup = strstr(buf_cstr(&seen), key) != NULL;
    if (!dup) buf_puts(&seen, key + 1);
    free(key);
    if (dup) continue;
    long long a, i, o, tot;
    if (sscanf(f[1], "%lld/%lld/%lld/%lld", &a, &i, &o, &tot) != 4) continue;
    int g = slurm_gres_gpus(f[2]), gu = slurm_gres_gpus(f[3]);
    t->nodes++;
    t->cpus_total += (int)tot;
    t->cpus_idle += (int)i;
    if ((int)tot > t->cpus_max_node) t->cpus_max_node = (int)tot;
    t->gpus_total += g;
    t->gpus_used += gu;
    if (g > t->gpus_max_node) t->gpus_max_node = g;
  }
  buf_release(&seen);
  free(copy);
}

long long slurm_parse_jobid(const char *out) {
  while (isspace((unsigned char)*out)) out++;
  if (!isdigit((unsigned char)*out)) return -1;
  char *end;
  errno = 0;
  long long id = strtoll(out, &end, 10);
  if (errno || id <= 0) return -1;
  if (*end && *end != ';' && !isspace((unsigned char)*end)) return -1;
  return id;
}
