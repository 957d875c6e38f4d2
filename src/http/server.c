/*
 * server.c — `oast server`: flags, the data home, the first admin, the
 * HTTP daemon and a clean shutdown.
 *
 * The main thread blocks SIGTERM/SIGINT before any other thread starts
 * and then waits for them with sigwait, so shutdown is ordinary code, not
 * a signal handler: stop accepting, finish requests in flight, close the
 * database (checkpointing the WAL), exit 0.
 */
#define _GNU_SOURCE
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/auth.h"
#include "exec/sched.h"
#include "exp/service.h"
#include "fstore/fstore.h"
#include "fstore/online.h"
#include "http/router.h"
#include "jobs/service.h"
#include "meta/meta.h"
#include "serve/serve.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/log.h"

#include "oast/version.h"
#define OAST_VERSION_STR OAST_VERSION

void server_config_defaults(struct server_config *c) {
  memset(c, 0, sizeof *c);
  const char *h = getenv("OAST_HOME");
  if (h && *h) c->home = xstrdup(h);
  else {
    const char *home = getenv("HOME");
    c->home = xasprintf("%s/.oast", home && *home ? home : ".");
  }
  c->listen_host = xstrdup("127.0.0.1");
  c->port = 7070;
  c->threads = 4;
  c->max_json_body = 1 << 20;
  c->max_upload = (uint64_t)64 << 30;
  c->inference_log_max = (uint64_t)64 << 20;
  c->login_ttl_s = 24 * 3600;
  c->executor = xstrdup("local");
}

void server_config_release(struct server_config *c) {
  free(c->home);
  free(c->listen_host);
  free(c->executor);
  free(c->gpus);
  free(c->slurm_partition);
  free(c->slurm_conf);
  free(c->slurm_spool);
  memset(c, 0, sizeof *c);
}

char *server_project_dir(struct server *s, const char *project) { return fs_join(s->fs_root, project); }

void server_project_deleted(struct server *s, int64_t project_id) {
  if (s->exp) exp_service_project_deleted(s, project_id);
  if (s->jobs) jobs_request(s, JOBS_STOP_PROJECT, project_id);
  /* Deployments: the serving reaper stops those whose rows are gone (serve/deploy.c). */
}

char *server_self_addr(struct server *s) {
  int port = __atomic_load_n(&s->listening_port, __ATOMIC_ACQUIRE);
  if (!port) return NULL;
  const char *h = s->cfg.listen_host;
  if (!strcmp(h, "0.0.0.0") || !strcmp(h, "localhost") || !*h) h = "127.0.0.1";
  if (!strcmp(h, "::")) h = "::1";
  return strchr(h, ':') ? xasprintf("http://[%s]:%d", h, port) : xasprintf("http://%s:%d", h, port);
}

char *server_python_dir(void) {
  const char *env = getenv("OAST_PYTHON_DIR");
  if (env && *env) return xstrdup(env);
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return NULL;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash) return NULL;
  *slash = '\0';
  static const char *const rel[] = {"../python", "../../python", "../lib/oast/python", NULL};
  for (const char *const *r = rel; *r; r++) {
    char *cand = xasprintf("%s/%s", exe, *r);
    char *init = xasprintf("%s/oast/__init__.py", cand);
    char real[PATH_MAX];
    bool ok = fs_exists(init) && realpath(cand, real);
    free(init);
    free(cand);
    if (ok) return xstrdup(real);
  }
  return NULL;
}

char *server_python_exe(void) {
  const char *py = getenv("OAST_PYTHON");
  if (!py || !*py) py = getenv("OAST_JOB_PYTHON");
  if (py && *py) return xstrdup(py);
  return xstrdup(access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3");
}

static int ensure_admin(struct server *s, oast_err *e) {
  sqlite3_stmt *st = meta_stmt(s->meta, "SELECT count(*) FROM users");
  int64_t n = 0;
  if (st && sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
  if (st) sqlite3_reset(st);
  if (n > 0) return 0;
  int rc = meta_begin(s->meta, e);
  if (rc) return rc;
  int64_t id;
  char *key = NULL;
  rc = auth_user_create(s, "admin", NULL, true, &id, e);
  if (!rc) rc = auth_key_create(s, id, "initial", &key, e);
  if (!rc) {
    char *path = fs_join(s->cfg.home, "admin.key");
    char *text = xasprintf("%s\n", key);
    rc = fs_write_atomic(path, text, strlen(text), 0600, e);
    if (!rc) log_info("created the administrator \"admin\"; its API key is in %s", path);
    free(text);
    free(path);
  }
  free(key);
  if (rc) {
    meta_rollback(s->meta);
    return rc;
  }
  return meta_commit(s->meta, e);
}

int server_init(struct server *s, oast_err *e) {
  int rc;
  char *run = NULL, *db = NULL;
  s->fs_root = xasprintf("%s/fs/Projects", s->cfg.home);
  s->tmp_dir = fs_join(s->cfg.home, "tmp");
  run = fs_join(s->cfg.home, "run");
  if ((rc = fs_mkdirs(s->cfg.home, 0700, e)) || (rc = fs_mkdirs(s->fs_root, 0700, e)) ||
      (rc = fs_mkdirs(s->tmp_dir, 0700, e)) || (rc = fs_mkdirs(run, 0700, e)))
    goto out;
  /* Leftovers of a crash: half-written uploads live only under tmp/ or as .oast-tmp-* files. */
  fs_remove_tree(s->tmp_dir, NULL);
  {
    char *trash = xasprintf("%s/fs/.trash", s->cfg.home);
    fs_remove_tree(trash, NULL); /* deletions that committed before a crash */
    free(trash);
  }
  fs_mkdirs(s->tmp_dir, 0700, NULL);
  db = fs_join(s->cfg.home, "meta.db");
  if ((rc = meta_open(&s->meta, db, e))) goto out;
  if ((rc = ensure_admin(s, e))) goto out;
  auth_tokens_sweep(s);
  {
    char *online = fs_join(s->cfg.home, "online");
    rc = online_open(&s->online, online, 0, e);
    free(online);
    if (rc) goto out;
  }
  /* The online store must agree with the offline commits (a crash can leave it one ahead). */
  if ((rc = fstore_recover(s, e))) goto out;
  /* Experiments register their scheduler tick, which resumes those a restart interrupted. */
  if ((rc = exp_service_init(s, e))) goto out;
  /* Jobs and pipelines register their scheduler tick and recover runs a stop interrupted. */
  if ((rc = jobs_service_init(s, e))) goto out;
out:
  free(run);
  free(db);
  return rc;
}

void server_release(struct server *s) {
  serve_free(s);
  sched_stop(s);
  exp_service_free(s);
  jobs_service_free(s);
  online_free(s->online);
  s->online = NULL;
  meta_free(s->meta);
  s->meta = NULL;
  free(s->fs_root);
  free(s->tmp_dir);
  s->fs_root = s->tmp_dir = NULL;
}

/* Keeps URLs raw; router.c decodes each segment itself. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s) { return strlen(s); }

static void usage(FILE *f) {
  fprintf(f,
          "usage: oast server [options]\n\n"
          "Runs the Oast server: the REST API under /api/v1, model inference under /v1 and /v2.\n\n"
          "options:\n"
          "  --home DIR          data home (default: $OAST_HOME, else ~/.oast)\n"
          "  --listen HOST:PORT  address to listen on (default 127.0.0.1:7070; port 0 picks a free one)\n"
          "  --threads N         HTTP worker threads (default 4)\n"
          "  --max-body BYTES    cap of JSON request bodies (default 1048576)\n"
          "  --max-upload BYTES  cap of one file upload (default 68719476736)\n"
          "  --login-ttl SECS    lifetime of login tokens (default 86400)\n"
          "  --inference-log-max BYTES\n"
          "                      rotate a deployment's inference log past this size, keeping\n"
          "                      3 older files (default 67108864)\n"
          "  --executor NAME     where trials and jobs run: local (default) or slurm\n"
          "  --cpus N            executor CPU slots (default: the machine's CPUs)\n"
          "  --gpus LIST         executor GPU ids, e.g. 0,1 (default: found with nvidia-smi; \"\" for none)\n"
          "  --slurm-partition P Slurm partition for Slurm jobs (default: the cluster's default)\n"
          "  --slurm-conf FILE   slurm.conf for sbatch, squeue and scancel (default: theirs)\n"
          "  --slurm-spool DIR   Slurm jobs' scripts and output, on a file system the nodes share\n"
          "                      (default: HOME/run/slurm)\n"
          "  --log FILE          append the log to FILE (default: stderr)\n"
          "  --verbose           debug logging\n"
          "  --routes            print the route table (method, path, access, action) and exit\n"
          "  -h, --help          this help\n\n"
          "The first start creates the user \"admin\" and writes its API key to DIR/admin.key.\n"
          "Once listening, the address is printed and written to DIR/run/server.addr.\n");
}

static void print_routes(void) {
  static const char *const access_names[] = {"open", "user", "admin", "member", "data_owner"};
  for (const struct route *const *t = router_tables; *t; t++)
    for (const struct route *rt = *t; rt->method; rt++)
      printf("%-6s %-60s %-10s %s\n", rt->method, rt->pattern, access_names[rt->access], rt->action);
}

static int parse_listen(const char *v, char **host, int *port) {
  const char *colon = strrchr(v, ':');
  if (!colon) return -1;
  char *end;
  long p = strtol(colon + 1, &end, 10);
  if (*end || p < 0 || p > 65535 || colon == v) return -1;
  free(*host);
  if (v[0] == '[' && colon[-1] == ']') *host = xstrndup(v + 1, (size_t)(colon - v - 2));
  else *host = xstrndup(v, (size_t)(colon - v));
  *port = (int)p;
  return 0;
}

static int parse_u64(const char *v, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (errno || *end || !*v || v[0] == '-') return -1;
  *out = x;
  return 0;
}

int server_main(int argc, char **argv) {
  struct server s;
  memset(&s, 0, sizeof s);
  server_config_defaults(&s.cfg);
  static const struct option opts[] = {
      {"home", required_argument, 0, 'H'},      {"listen", required_argument, 0, 'l'},
      {"threads", required_argument, 0, 't'},   {"max-body", required_argument, 0, 'b'},
      {"max-upload", required_argument, 0, 'u'}, {"login-ttl", required_argument, 0, 'T'},
      {"executor", required_argument, 0, 'x'},  {"log", required_argument, 0, 'L'},
      {"verbose", no_argument, 0, 'v'},         {"help", no_argument, 0, 'h'},
      {"routes", no_argument, 0, 'R'},         {"cpus", required_argument, 0, 'c'},
      {"gpus", required_argument, 0, 'g'},
      {"slurm-partition", required_argument, 0, 'P'}, {"slurm-conf", required_argument, 0, 'C'},
      {"slurm-spool", required_argument, 0, 'S'}, {"inference-log-max", required_argument, 0, 'I'},
      {0, 0, 0, 0}};
  int c, status = 1;
  const char *logpath = NULL;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    uint64_t v;
    switch (c) {
      case 'H': free(s.cfg.home); s.cfg.home = xstrdup(optarg); break;
      case 'l':
        if (parse_listen(optarg, &s.cfg.listen_host, &s.cfg.port)) {
          fprintf(stderr, "oast server: --listen wants HOST:PORT, got \"%s\"\n", optarg);
          goto out;
        }
        break;
      case 't':
        if (parse_u64(optarg, &v) || v < 1 || v > 256) {
          fprintf(stderr, "oast server: --threads wants 1 to 256\n");
          goto out;
        }
        s.cfg.threads = (int)v;
        break;
      case 'b':
        if (parse_u64(optarg, &v) || v < 1024 || v > ((uint64_t)1 << 31)) {
          fprintf(stderr, "oast server: --max-body wants 1024 to 2147483648 bytes\n");
          goto out;
        }
        s.cfg.max_json_body = (size_t)v;
        break;
      case 'u':
        if (parse_u64(optarg, &v) || v < 1) {
          fprintf(stderr, "oast server: --max-upload wants a positive number of bytes\n");
          goto out;
        }
        s.cfg.max_upload = v;
        break;
      case 'I':
        if (parse_u64(optarg, &v) || v < 4096) {
          fprintf(stderr, "oast server: --inference-log-max wants at least 4096 bytes\n");
          goto out;
        }
        s.cfg.inference_log_max = v;
        break;
      case 'T':
        if (parse_u64(optarg, &v) || v < 1) {
          fprintf(stderr, "oast server: --login-ttl wants a positive number of seconds\n");
          goto out;
        }
        s.cfg.login_ttl_s = (int64_t)v;
        break;
      case 'x':
        if (strcmp(optarg, "local") && strcmp(optarg, "slurm")) {
          fprintf(stderr, "oast server: --executor is local or slurm, got \"%s\"\n", optarg);
          goto out;
        }
        free(s.cfg.executor);
        s.cfg.executor = xstrdup(optarg);
        break;
      case 'c':
        if (parse_u64(optarg, &v) || v < 1 || v > 4096) {
          fprintf(stderr, "oast server: --cpus wants 1 to 4096\n");
          goto out;
        }
        s.cfg.cpus = (int)v;
        break;
      case 'g': free(s.cfg.gpus); s.cfg.gpus = xstrdup(optarg); break;
      case 'P': free(s.cfg.slurm_partition); s.cfg.slurm_partition = xstrdup(optarg); break;
      case 'C': free(s.cfg.slurm_conf); s.cfg.slurm_conf = xstrdup(optarg); break;
      case 'S':
        if (optarg[0] != '/') {
          fprintf(stderr, "oast server: --slurm-spool wants an absolute path, got \"%s\"\n", optarg);
          goto out;
        }
        free(s.cfg.slurm_spool);
        s.cfg.slurm_spool = xstrdup(optarg);
        break;
      case 'L': logpath = optarg; break;
      case 'v': log_set_level(LOG_DEBUG); break;
      case 'h': usage(stdout); status = 0; goto out;
      case 'R': print_routes(); status = 0; goto out;
      default: usage(stderr); status = 2; goto out;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "oast server: unexpected argument \"%s\"\n", argv[optind]);
    status = 2;
    goto out;
  }
  if (logpath && log_open(logpath) != 0) {
    fprintf(stderr, "oast server: cannot open log file %s: %s\n", logpath, strerror(errno));
    goto out;
  }

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  oast_err e;
  oast_err_clear(&e);
  if (server_init(&s, &e)) {
    fprintf(stderr, "oast server: %s\n", e.msg);
    goto out;
  }

  if (sched_start(&s, &e)) {
    fprintf(stderr, "oast server: %s\n", e.msg);
    goto out_release;
  }
  if (serve_start(&s, &e)) {
    fprintf(stderr, "oast server: %s\n", e.msg);
    goto out_release;
  }

  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
  if (strchr(s.cfg.listen_host, ':')) {
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)s.cfg.port);
    if (inet_pton(AF_INET6, s.cfg.listen_host, &a6->sin6_addr) != 1) goto badhost;
    flags |= MHD_USE_IPv6;
  } else {
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)s.cfg.port);
    const char *h = strcmp(s.cfg.listen_host, "localhost") ? s.cfg.listen_host : "127.0.0.1";
    if (inet_pton(AF_INET, h, &a4->sin_addr) != 1) goto badhost;
  }
  s.mhd = MHD_start_daemon(flags, (uint16_t)s.cfg.port, NULL, NULL, router_access, &s,
                           MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                           MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)s.cfg.threads,
                           MHD_OPTION_NOTIFY_COMPLETED, router_completed, &s,
                           MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
                           MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)600,
                           MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                           MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
                           MHD_OPTION_END);
  if (!s.mhd) {
    fprintf(stderr, "oast server: cannot listen on %s:%d: %s\n", s.cfg.listen_host, s.cfg.port, strerror(errno));
    goto out_release;
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(s.mhd, MHD_DAEMON_INFO_BIND_PORT);
  int port = di ? di->port : s.cfg.port;
  __atomic_store_n(&s.listening_port, port, __ATOMIC_RELEASE);
  char *addr = strchr(s.cfg.listen_host, ':') ? xasprintf("http://[%s]:%d", s.cfg.listen_host, port)
                                              : xasprintf("http://%s:%d", s.cfg.listen_host, port);
  char *addrfile = xasprintf("%s/run/server.addr", s.cfg.home);
  printf("oast server listening on %s\n", addr);
  fflush(stdout);
  log_info("oast %s listening on %s, home %s", OAST_VERSION_STR, addr, s.cfg.home);
  /* Last: the address file is what scripts and tests wait for. */
  fs_write_atomic(addrfile, addr, strlen(addr), 0600, NULL);
  free(addr);

  int sig = 0;
  sigwait(&sigs, &sig);
  log_info("received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  s.stopping = 1;
  router_wait_offloaded(&s); /* deployment stops and version changes under way answer first */
  serve_stop(&s); /* drains deployments and answers every suspended request first */
  jobs_service_quiesce(&s); /* log streams end: the daemon cannot stop while one is suspended */
  MHD_stop_daemon(s.mhd);
  s.mhd = NULL;
  unlink(addrfile);
  free(addrfile);
  status = 0;
  goto out_release;
badhost:
  fprintf(stderr, "oast server: --listen host \"%s\" is not an IP address\n", s.cfg.listen_host);
out_release:
  server_release(&s);
out:
  log_close();
  server_config_release(&s.cfg);
  return status;
}
