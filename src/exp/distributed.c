/*
 * distributed.c — the pure parts of distributed training runs (see
 * distributed.h): the "distribution" field, each worker's environment,
 * ports, the mpirun command and its tagged output, workers' records.
 *
 * Why the variables are set here and not by torchrun: Debian's torch
 * 1.13 with Python 3.11 cannot run torchrun without `--redirects`, and
 * the variables torch.distributed's env:// initialization reads are few
 * and documented, so the server sets them itself for every worker and
 * every framework works the same way. MPI programs are different: their
 * ranks find each other through mpirun, so an MPI run is one mpirun
 * process; --tag-output marks every line with its rank, and a one-line
 * sh wrapper around the program prints the rank's exit status on its own
 * stderr, which is how each rank's status is known (mpirun itself only
 * tells the first failure, in prose).
 */
#define _GNU_SOURCE
#include "exp/distributed.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exp/field.h"
#include "exp/service.h"
#include "util/alloc.h"

#define EXIT_MARK "oast-worker-exit-status "
#define RUN_AND_REPORT "\"$@\"; rc=$?; echo \"" EXIT_MARK "$rc\" >&2; exit $rc"
/* Under mpirun, a worker of allreduce or parameter_server: its rank's
 * variables from Open MPI's, its TF_CONFIG from OAST_TF_CONFIG_<rank>, and
 * its own OAST_GPUS_PER_WORKER of the job's GPUs. */
#define MAP_RANK                                                                                      \
  "r=$OMPI_COMM_WORLD_RANK; RANK=$r; LOCAL_RANK=${OMPI_COMM_WORLD_LOCAL_RANK:-$r}; "                    \
  "eval \"TF_CONFIG=\\$OAST_TF_CONFIG_$r\"; export RANK LOCAL_RANK TF_CONFIG; "                           \
  "g=${OAST_GPUS_PER_WORKER:-0}; "                                                                     \
  "if [ \"$g\" -gt 0 ] && [ -n \"$CUDA_VISIBLE_DEVICES\" ]; then "                                      \
  "CUDA_VISIBLE_DEVICES=$(echo \"$CUDA_VISIBLE_DEVICES\" | cut -d, -f$((r * g + 1))-$(((r + 1) * g))); " \
  "export CUDA_VISIBLE_DEVICES; fi; "

static const char *const strategy_names[] = {NULL, "allreduce", "parameter_server", "mpi"};

const char *dist_strategy_name(enum dist_strategy s) {
  return s >= DIST_ALLREDUCE && s <= DIST_MPI ? strategy_names[s] : "none";
}

/* Variables every worker gets from the server; a spec's env may not set them. */
static const char *const reserved_env[] = {"RANK",        "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE",
                                           "MASTER_ADDR", "MASTER_PORT", "TF_CONFIG", NULL};

int dist_parse(json_t *doc, struct exp_dist *d, oast_err *e) {
  memset(d, 0, sizeof *d);
  json_t *o = json_object_get(doc, "distribution");
  if (!o || json_is_null(o)) return 0;
  if (!json_is_object(o))
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "distribution: must be an object {\"workers\", \"strategy\", \"gpus_per_worker\"?}");
  static const char *const allowed[] = {"workers", "strategy", "gpus_per_worker", "parameter_servers", NULL};
  int64_t workers = 0, gpus = 0, ps = 1;
  const char *strategy = NULL;
  int rc;
  if ((rc = exp_field_only(o, "distribution", allowed, e)) ||
      (rc = exp_field_int(o, "distribution", "workers", true, 1, DIST_MAX_WORKERS, &workers, e)) ||
      (rc = exp_field_str(o, "distribution", "strategy", false, &strategy, e)) ||
      (rc = exp_field_int(o, "distribution", "gpus_per_worker", false, 0, 256, &gpus, e)))
    return rc;
  if (!strategy) strategy = "allreduce";
  enum dist_strategy s = 0;
  for (int i = DIST_ALLREDUCE; i <= DIST_MPI; i++)
    if (!strcmp(strategy, strategy_names[i])) s = (enum dist_strategy)i;
  if (!s)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "distribution.strategy: \"%.64s\" is not a strategy (allreduce, parameter_server or mpi)",
                        strategy);
  if (s != DIST_PARAMETER_SERVER && json_object_get(o, "parameter_servers") &&
      !json_is_null(json_object_get(o, "parameter_servers")))
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "distribution.parameter_servers: only the parameter_server strategy has parameter servers");
  if (s == DIST_PARAMETER_SERVER) {
    if ((rc = exp_field_int(o, "distribution", "parameter_servers", false, 1, DIST_MAX_WORKERS, &ps, e))) return rc;
    if (workers < ps + 2)
      return oast_err_set(e, OAST_EBAD_REQUEST,
                          "distribution.workers: the parameter_server strategy with %lld parameter server%s needs "
                          "at least %lld workers (a chief, the parameter servers and one worker), not %lld",
                          (long long)ps, ps == 1 ? "" : "s", (long long)ps + 2, (long long)workers);
  }
  d->workers = (int)workers;
  d->strategy = s;
  d->gpus_per_worker = (int)gpus;
  d->parameter_servers = s == DIST_PARAMETER_SERVER ? (int)ps : 0;
  json_t *norm = json_pack("{s:i,s:s,s:i}", "workers", d->workers, "strategy", strategy_names[s], "gpus_per_worker",
                           d->gpus_per_worker);
  if (s == DIST_PARAMETER_SERVER) json_object_set_new(norm, "parameter_servers", json_integer(d->parameter_servers));
  json_object_set_new(doc, "distribution", norm);
  return 0;
}

int dist_check_env(const json_t *env, oast_err *e) {
  for (const char *const *r = reserved_env; *r; r++)
    if (json_object_get(env, *r))
      return oast_err_set(e, OAST_EBAD_REQUEST, "env.%s: set by the server for every worker of a distributed run",
                          *r);
  return 0;
}

const char *dist_role(const struct exp_dist *d, int rank, int *index) {
  if (d->strategy == DIST_MPI) {
    *index = rank;
    return "rank";
  }
  if (rank == 0) {
    *index = 0;
    return "chief";
  }
  if (d->strategy == DIST_PARAMETER_SERVER && rank <= d->parameter_servers) {
    *index = rank - 1;
    return "ps";
  }
  *index = rank - 1 - (d->strategy == DIST_PARAMETER_SERVER ? d->parameter_servers : 0);
  return "worker";
}

char *dist_tf_config(const struct exp_dist *d, int rank, const int *tf_ports) {
  json_t *cluster = json_object();
  for (int r = 0; r < d->workers; r++) {
    int idx;
    const char *role = dist_role(d, r, &idx);
    json_t *list = json_object_get(cluster, role);
    if (!list) {
      list = json_array();
      json_object_set_new(cluster, role, list);
    }
    char addr[64];
    snprintf(addr, sizeof addr, "%s:%d", DIST_HOST, tf_ports[r]);
    json_array_append_new(list, json_string(addr));
  }
  int idx;
  const char *role = dist_role(d, rank, &idx);
  json_t *tf = json_pack("{s:o,s:{s:s,s:i}}", "cluster", cluster, "task", "type", role, "index", idx);
  char *text = json_dumps(tf, JSON_COMPACT);
  json_decref(tf);
  return text;
}

int dist_free_ports(int n, int *ports, oast_err *e) {
  int *fds = xcalloc((size_t)n, sizeof *fds);
  int rc = 0, i;
  for (i = 0; i < n; i++) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fds[i], (struct sockaddr *)&a, &len) != 0) {
      rc = oast_err_set(e, OAST_EUNAVAILABLE, "cannot find a free port on %s for the workers: %s", DIST_HOST,
                        strerror(errno));
      if (fds[i] >= 0) close(fds[i]);
      break;
    }
    ports[i] = ntohs(a.sin_port);
  }
  while (i-- > 0) close(fds[i]);
  free(fds);
  return rc;
}

size_t dist_worker_env(const struct exp_dist *d, int rank, int master_port, const int *tf_ports, char **env) {
  size_t k = 0;
  env[k++] = xasprintf("OAST_WORKERS=%d", d->workers);
  env[k++] = xasprintf("OAST_STRATEGY=%s", dist_strategy_name(d->strategy));
  if (d->strategy == DIST_MPI) return k;
  env[k++] = xasprintf("WORLD_SIZE=%d", d->workers);
  env[k++] = xasprintf("LOCAL_WORLD_SIZE=%d", d->workers);
  env[k++] = xasprintf("MASTER_ADDR=%s", DIST_HOST);
  env[k++] = xasprintf("MASTER_PORT=%d", master_port);
  if (rank < 0) {
    /* For the wrapper under mpirun: every rank's TF_CONFIG, and the GPUs per worker. */
    env[k++] = xasprintf("OAST_GPUS_PER_WORKER=%d", d->gpus_per_worker);
    for (int r = 0; r < d->workers; r++) {
      char *tf = dist_tf_config(d, r, tf_ports);
      env[k++] = xasprintf("OAST_TF_CONFIG_%d=%s", r, tf);
      free(tf);
    }
    return k;
  }
  env[k++] = xasprintf("RANK=%d", rank);
  env[k++] = xasprintf("LOCAL_RANK=%d", rank);
  char *tf = dist_tf_config(d, rank, tf_ports);
  env[k++] = xasprintf("TF_CONFIG=%s", tf);
  free(tf);
  return k;
}

const char **dist_mpi_argv(const struct exp_dist *d, const char *const *cmd, size_t nargs, bool as_root) {
  /* One block: the pointers, then the text of -np's count, freed together. */
  size_t slots = nargs + 16;
  const char **argv = xcalloc(1, slots * sizeof *argv + 16);
  char *np = (char *)(argv + slots);
  snprintf(np, 16, "%d", d->workers);
  size_t a = 0;
  argv[a++] = "mpirun";
  argv[a++] = "-np";
  argv[a++] = np;
  argv[a++] = "--oversubscribe";
  argv[a++] = "--bind-to";
  argv[a++] = "none";
  argv[a++] = "--tag-output";
  if (as_root) argv[a++] = "--allow-run-as-root";
  argv[a++] = "sh";
  argv[a++] = "-c";
  argv[a++] = d->strategy == DIST_MPI ? RUN_AND_REPORT : MAP_RANK RUN_AND_REPORT;
  argv[a++] = "sh";
  for (size_t i = 0; i < nargs; i++) argv[a++] = cmd[i];
  argv[a] = NULL;
  return argv;
}

static bool digits(const char **p, const char *end) {
  const char *s = *p;
  while (*p < end && **p >= '0' && **p <= '9') (*p)++;
  return *p > s && *p - s < 10;
}

/* The length of a tag "[J,R]<stdout>:" at p (0: none there), its rank and stream (0 stdout, 1 the others). */
static size_t tag_at(const char *p, const char *end, int workers, int *rank, int *stream) {
  const char *q = p;
  if (q == end || *q++ != '[' || !digits(&q, end) || q == end || *q++ != ',') return 0;
  const char *r = q;
  if (!digits(&q, end) || q == end || *q++ != ']' || q == end || *q++ != '<') return 0;
  const char *name = q;
  while (q < end && *q >= 'a' && *q <= 'z') q++;
  size_t nlen = (size_t)(q - name);
  if (q == end || *q++ != '>' || q == end || *q++ != ':') return 0;
  if (!(nlen == 6 && (!memcmp(name, "stdout", 6) || !memcmp(name, "stderr", 6))) &&
      !(nlen == 7 && !memcmp(name, "stddiag", 7)))
    return 0;
  long k = strtol(r, NULL, 10);
  if (k >= workers) return 0;
  *rank = (int)k;
  *stream = name[3] == 'o' ? 0 : 1;
  return (size_t)(q - p);
}

/* The next tag at or after p, or end. */
static const char *next_tag(const char *p, const char *end, int workers) {
  int r, st;
  for (; p < end; p++) {
    p = memchr(p, '[', (size_t)(end - p));
    if (!p) return end;
    if (tag_at(p, end, workers, &r, &st)) return p;
  }
  return end;
}

void dist_mpi_reader_init(struct dist_mpi_reader *m, int workers) {
  m->workers = workers;
  m->partial = xcalloc((size_t)workers * 2, sizeof *m->partial);
  for (int i = 0; i < workers * 2; i++) buf_init(&m->partial[i], 0);
}

void dist_mpi_reader_release(struct dist_mpi_reader *m) {
  for (int i = 0; m->partial && i < m->workers * 2; i++) buf_release(&m->partial[i]);
  free(m->partial);
  m->partial = NULL;
}

static void emit(struct buf *b, int rank, dist_line_fn fn, void *arg) {
  fn(arg, rank, b->data ? b->data : "", b->len);
  buf_reset(b);
}

void dist_mpi_feed(struct dist_mpi_reader *m, const char *line, size_t n, dist_line_fn fn, void *arg) {
  const char *p = line, *end = line + n;
  const char *q = next_tag(p, end, m->workers);
  if (q > p || n == 0) fn(arg, -1, p, (size_t)(q - p)); /* mpirun's own text */
  for (p = q; p < end; p = q) {
    int rank, stream;
    p += tag_at(p, end, m->workers, &rank, &stream);
    q = next_tag(p, end, m->workers);
    struct buf *b = &m->partial[rank * 2 + stream];
    buf_append(b, p, (size_t)(q - p));
    /* The last piece of the line is the one its newline ended; a piece
     * grown past a line's length is cut as the executor cuts lines. */
    if (q == end || b->len >= DIST_LINE_MAX) emit(b, rank, fn, arg);
  }
}

void dist_mpi_flush(struct dist_mpi_reader *m, dist_line_fn fn, void *arg) {
  for (int i = 0; i < m->workers * 2; i++)
    if (m->partial[i].len) emit(&m->partial[i], i / 2, fn, arg);
}

bool dist_mpi_exit(const char *text, size_t n, int *code) {
  size_t m = strlen(EXIT_MARK);
  if (n <= m || memcmp(text, EXIT_MARK, m) != 0) return false;
  const char *p = text + m, *end = text + n;
  if (!digits(&p, end) || p != end) return false;
  *code = atoi(text + m);
  return *code <= 255;
}

/* ---- workers ---- */

static const char *const wstate_names[] = {"queued", "running", "finished", "failed", "killed"};

const char *dist_wstate_name(enum dist_wstate s) { return wstate_names[s]; }

struct dist_worker *dist_workers_new(int n) {
  struct dist_worker *w = xcalloc((size_t)n, sizeof *w);
  dist_workers_reset(w, n);
  return w;
}

void dist_workers_reset(struct dist_worker *w, int n) {
  for (int i = 0; i < n; i++) {
    char *tail = w[i].tail;
    memset(&w[i], 0, sizeof w[i]);
    w[i].tail = tail;
    w[i].state = DIST_QUEUED;
    w[i].exit_code = -1;
  }
}

void dist_workers_free(struct dist_worker *w, int n) {
  if (!w) return;
  for (int i = 0; i < n; i++) free(w[i].tail);
  free(w);
}

void dist_tail_add(struct dist_worker *w, const char *line, size_t n) {
  if (!w->tail) w->tail = xmalloc((size_t)DIST_TAIL_LINES * DIST_TAIL_LINE_MAX);
  if (n > DIST_TAIL_LINE_MAX) n = DIST_TAIL_LINE_MAX;
  memcpy(w->tail + (size_t)w->tail_next * DIST_TAIL_LINE_MAX, line, n);
  w->tail_len[w->tail_next] = (uint16_t)n;
  w->tail_next = (w->tail_next + 1) % DIST_TAIL_LINES;
  if (w->tail_count < DIST_TAIL_LINES) w->tail_count++;
}

char *dist_tail_text(const struct dist_worker *w) {
  size_t total = 1;
  for (unsigned i = 0; i < w->tail_count; i++) total += w->tail_len[i] + 1u;
  char *out = xmalloc(total), *p = out;
  unsigned first = (w->tail_next + DIST_TAIL_LINES - w->tail_count) % DIST_TAIL_LINES;
  for (unsigned i = 0; i < w->tail_count; i++) {
    unsigned k = (first + i) % DIST_TAIL_LINES;
    memcpy(p, w->tail + (size_t)k * DIST_TAIL_LINE_MAX, w->tail_len[k]);
    p += w->tail_len[k];
    *p++ = '\n';
  }
  *p = '\0';
  return out;
}

static json_t *time_or_null(int64_t us) {
  if (!us) return json_null();
  char t[40];
  exp_time_iso_us(us, t);
  return json_string(t);
}

json_t *dist_workers_json(const struct exp_dist *d, const struct dist_worker *w, int n) {
  json_t *a = json_array();
  for (int r = 0; r < n; r++) {
    int idx;
    const char *role = dist_role(d, r, &idx);
    json_t *o = json_pack("{s:i,s:s,s:s}", "rank", r, "role", role, "state", wstate_names[w[r].state]);
    json_object_set_new(o, "exit_code", w[r].exit_code >= 0 ? json_integer(w[r].exit_code) : json_null());
    json_object_set_new(o, "signal", w[r].signal ? json_integer(w[r].signal) : json_null());
    json_object_set_new(o, "gpus", w[r].gpus[0] ? json_string(w[r].gpus) : json_null());
    json_object_set_new(o, "started", time_or_null(w[r].started_us));
    json_object_set_new(o, "ended", time_or_null(w[r].ended_us));
    json_array_append_new(a, o);
  }
  return a;
}
