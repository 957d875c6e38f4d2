/* Unit tests of distributed runs' pure parts (src/exp/distributed.c): the
 * "distribution" field and how it fits the rest of a spec, roles and
 * TF_CONFIG, each worker's environment, free ports, the mpirun command
 * (its exit wrapper run for real under sh), tagged output, tails and the
 * workers' JSON. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exp/distributed.h"
#include "exp/service.h"
#include "test.h"

static json_t *J(const char *text) {
  json_error_t je;
  json_t *j = json_loads(text, 0, &je);
  if (!j) fprintf(stderr, "bad test JSON: %s: %s\n", je.text, text);
  ASSERT(j);
  return j;
}

static bool starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* dist_parse of {"distribution": dist}: its code, and the message in e. */
static int parse(const char *dist, struct exp_dist *d, oast_err *e) {
  char text[512];
  snprintf(text, sizeof text, "{\"distribution\": %s}", dist);
  json_t *doc = J(text);
  oast_err_clear(e);
  int rc = dist_parse(doc, d, e);
  json_decref(doc);
  return rc;
}

TEST(dist_parse_defaults_and_normal_form) {
  struct exp_dist d;
  oast_err e;
  json_t *doc = J("{\"name\": \"x\"}");
  ASSERT_EQ(dist_parse(doc, &d, &e), 0);
  ASSERT_EQ(d.workers, 0);
  json_decref(doc);
  doc = J("{\"distribution\": {\"workers\": 2}}");
  ASSERT_EQ(dist_parse(doc, &d, &e), 0);
  ASSERT_EQ(d.workers, 2);
  ASSERT_EQ(d.strategy, DIST_ALLREDUCE);
  ASSERT_EQ(d.gpus_per_worker, 0);
  char *norm = json_dumps(json_object_get(doc, "distribution"), JSON_COMPACT | JSON_SORT_KEYS);
  ASSERT_STREQ(norm, "{\"gpus_per_worker\":0,\"strategy\":\"allreduce\",\"workers\":2}");
  free(norm);
  json_decref(doc);
  doc = J("{\"distribution\": {\"workers\": 4, \"strategy\": \"parameter_server\", \"gpus_per_worker\": 1}}");
  ASSERT_EQ(dist_parse(doc, &d, &e), 0);
  ASSERT_EQ(d.strategy, DIST_PARAMETER_SERVER);
  ASSERT_EQ(d.parameter_servers, 1);
  ASSERT_EQ(json_integer_value(json_object_get(json_object_get(doc, "distribution"), "parameter_servers")), 1);
  json_decref(doc);
  ASSERT_EQ(parse("{\"workers\": 1, \"strategy\": \"mpi\"}", &d, &e), 0);
  ASSERT_EQ(d.strategy, DIST_MPI);
  ASSERT_EQ(parse("null", &d, &e), 0);
  ASSERT_EQ(d.workers, 0);
}

TEST(dist_parse_bad_input_names_the_field) {
  static const struct {
    const char *dist, *field;
  } cases[] = {
      {"{\"workers\": 0}", "distribution.workers"},
      {"{\"workers\": -3}", "distribution.workers"},
      {"{\"workers\": 100000}", "distribution.workers"},
      {"{\"workers\": \"2\"}", "distribution.workers"},
      {"{\"workers\": 1.5}", "distribution.workers"},
      {"{}", "distribution.workers"},
      {"{\"workers\": 2, \"strategy\": \"ring\"}", "distribution.strategy"},
      {"{\"workers\": 2, \"strategy\": 3}", "distribution.strategy"},
      {"{\"workers\": 2, \"gpus_per_worker\": -1}", "distribution.gpus_per_worker"},
      {"{\"workers\": 2, \"parameter_servers\": 1}", "distribution.parameter_servers"},
      {"{\"workers\": 2, \"strategy\": \"parameter_server\"}", "distribution.workers"},
      {"{\"workers\": 4, \"strategy\": \"parameter_server\", \"parameter_servers\": 3}", "distribution.workers"},
      {"{\"workers\": 4, \"strategy\": \"parameter_server\", \"parameter_servers\": 0}",
       "distribution.parameter_servers"},
      {"{\"workers\": 2, \"nodes\": 2}", "distribution"},
      {"[2]", "distribution"},
      {"2", "distribution"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct exp_dist d;
    oast_err e;
    int rc = parse(cases[i].dist, &d, &e);
    if (rc != OAST_EBAD_REQUEST || !starts(e.msg, cases[i].field))
      fprintf(stderr, "case %s: rc %d, message \"%s\"\n", cases[i].dist, rc, e.msg);
    ASSERT_EQ(rc, OAST_EBAD_REQUEST);
    ASSERT(starts(e.msg, cases[i].field));
  }
}

/* exp_spec_parse of a body with a distribution: the fields that must agree with it. */
TEST(dist_spec_fits_the_rest_of_the_experiment) {
  static const struct {
    const char *body, *field;
  } bad[] = {
      {"{\"name\": \"d\", \"command\": [\"t\"], \"distribution\": {\"workers\": 2}, \"optimizer\": \"grid\","
       " \"searchspace\": {\"x\": {\"type\": \"discrete\", \"values\": [1, 2]}}}",
       "optimizer"},
      {"{\"name\": \"d\", \"command\": [\"t\"], \"distribution\": {\"workers\": 2}, \"resources\": {\"gpus\": 1}}",
       "resources.gpus"},
      {"{\"name\": \"d\", \"command\": [\"t\"], \"distribution\": {\"workers\": 2}, \"env\": {\"RANK\": \"3\"}}",
       "env.RANK"},
      {"{\"name\": \"d\", \"command\": [\"t\"], \"distribution\": {\"workers\": 2}, \"env\": {\"TF_CONFIG\": \"{}\"}}",
       "env.TF_CONFIG"},
      {"{\"name\": \"d\", \"command\": [\"t\"], \"distribution\": {\"workers\": 0}}", "distribution.workers"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct exp_spec sp;
    struct optimizer *o = NULL;
    oast_err e;
    oast_err_clear(&e);
    json_t *b = J(bad[i].body);
    int rc = exp_spec_parse(b, false, &sp, &o, &e);
    if (rc != OAST_EBAD_REQUEST || !starts(e.msg, bad[i].field)) fprintf(stderr, "case %zu: \"%s\"\n", i, e.msg);
    ASSERT_EQ(rc, OAST_EBAD_REQUEST);
    ASSERT(starts(e.msg, bad[i].field));
    ASSERT(o == NULL);
    json_decref(b);
  }
  /* Good: GPUs per worker become the workers' resources, and the stored form parses again the same. */
  struct exp_spec sp, again;
  struct optimizer *o = NULL;
  oast_err e;
  json_t *b = J("{\"name\": \"d\", \"command\": [\"t\"], \"resources\": {\"cpus\": 2}, \"env\": {\"A\": \"b\"},"
                " \"distribution\": {\"workers\": 3, \"strategy\": \"mpi\", \"gpus_per_worker\": 2}}");
  ASSERT_EQ(exp_spec_parse(b, false, &sp, &o, &e), 0);
  ASSERT_EQ(sp.dist.workers, 3);
  ASSERT_EQ(sp.dist.strategy, DIST_MPI);
  ASSERT_EQ(sp.gpus, 2);
  ASSERT_EQ(sp.cpus, 2);
  ASSERT_EQ(exp_spec_parse(sp.doc, true, &again, NULL, &e), 0);
  ASSERT_EQ(again.dist.workers, 3);
  ASSERT_EQ(again.gpus, 2);
  ASSERT(json_equal(sp.doc, again.doc));
  exp_spec_release(&again);
  exp_spec_release(&sp);
  opt_free(o);
  json_decref(b);
  /* Without a distribution nothing changes. */
  b = J("{\"name\": \"d\", \"command\": [\"t\"], \"env\": {\"RANK\": \"1\"}, \"resources\": {\"gpus\": 1}}");
  ASSERT_EQ(exp_spec_parse(b, false, &sp, NULL, &e), 0);
  ASSERT_EQ(sp.dist.workers, 0);
  ASSERT_EQ(sp.gpus, 1);
  exp_spec_release(&sp);
  json_decref(b);
}

TEST(dist_roles_and_tf_config) {
  struct exp_dist ar = {3, DIST_ALLREDUCE, 0, 0}, ps = {5, DIST_PARAMETER_SERVER, 0, 2}, mpi = {2, DIST_MPI, 0, 0};
  int idx;
  ASSERT_STREQ(dist_role(&ar, 0, &idx), "chief");
  ASSERT_EQ(idx, 0);
  ASSERT_STREQ(dist_role(&ar, 2, &idx), "worker");
  ASSERT_EQ(idx, 1);
  ASSERT_STREQ(dist_role(&ps, 1, &idx), "ps");
  ASSERT_EQ(idx, 0);
  ASSERT_STREQ(dist_role(&ps, 2, &idx), "ps");
  ASSERT_EQ(idx, 1);
  ASSERT_STREQ(dist_role(&ps, 3, &idx), "worker");
  ASSERT_EQ(idx, 0);
  ASSERT_STREQ(dist_role(&ps, 4, &idx), "worker");
  ASSERT_EQ(idx, 1);
  ASSERT_STREQ(dist_role(&mpi, 1, &idx), "rank");
  ASSERT_EQ(idx, 1);

  int ports[] = {1001, 1002, 1003, 1004, 1005};
  char *tf = dist_tf_config(&ar, 2, ports);
  json_t *j = J(tf), *want = J("{\"cluster\": {\"chief\": [\"127.0.0.1:1001\"],"
                               " \"worker\": [\"127.0.0.1:1002\", \"127.0.0.1:1003\"]},"
                               " \"task\": {\"type\": \"worker\", \"index\": 1}}");
  ASSERT(json_equal(j, want));
  free(tf);
  json_decref(j);
  json_decref(want);
  tf = dist_tf_config(&ps, 1, ports);
  j = J(tf);
  want = J("{\"cluster\": {\"chief\": [\"127.0.0.1:1001\"], \"ps\": [\"127.0.0.1:1002\", \"127.0.0.1:1003\"],"
           " \"worker\": [\"127.0.0.1:1004\", \"127.0.0.1:1005\"]}, \"task\": {\"type\": \"ps\", \"index\": 0}}");
  ASSERT(json_equal(j, want));
  free(tf);
  json_decref(j);
  json_decref(want);
  /* One worker: a chief alone, no empty roles. */
  struct exp_dist one = {1, DIST_ALLREDUCE, 0, 0};
  tf = dist_tf_config(&one, 0, ports);
  ASSERT_STREQ(tf, "{\"cluster\":{\"chief\":[\"127.0.0.1:1001\"]},\"task\":{\"type\":\"chief\",\"index\":0}}");
  free(tf);
}

static const char *find_env(char **env, size_t n, const char *name) {
  size_t len = strlen(name);
  for (size_t i = 0; i < n; i++)
    if (!strncmp(env[i], name, len) && env[i][len] == '=') return env[i] + len + 1;
  return NULL;
}

TEST(dist_worker_env_has_what_each_framework_reads) {
  struct exp_dist ar = {2, DIST_ALLREDUCE, 0, 0}, mpi = {4, DIST_MPI, 0, 0};
  int tf_ports[] = {2001, 2002};
  char *env[DIST_ENV_MAX];
  size_t n = dist_worker_env(&ar, 1, 3000, tf_ports, env);
  ASSERT(n <= DIST_ENV_MAX);
  ASSERT_STREQ(find_env(env, n, "RANK"), "1");
  ASSERT_STREQ(find_env(env, n, "WORLD_SIZE"), "2");
  ASSERT_STREQ(find_env(env, n, "LOCAL_RANK"), "1");
  ASSERT_STREQ(find_env(env, n, "LOCAL_WORLD_SIZE"), "2");
  ASSERT_STREQ(find_env(env, n, "MASTER_ADDR"), "127.0.0.1");
  ASSERT_STREQ(find_env(env, n, "MASTER_PORT"), "3000");
  ASSERT_STREQ(find_env(env, n, "OAST_WORKERS"), "2");
  ASSERT_STREQ(find_env(env, n, "OAST_STRATEGY"), "allreduce");
  json_t *tf = J(find_env(env, n, "TF_CONFIG"));
  ASSERT_STREQ(json_string_value(json_object_get(json_object_get(tf, "task"), "type")), "worker");
  json_decref(tf);
  for (size_t i = 0; i < n; i++) free(env[i]);
  n = dist_worker_env(&mpi, 0, 0, NULL, env);
  ASSERT_STREQ(find_env(env, n, "OAST_WORKERS"), "4");
  ASSERT_STREQ(find_env(env, n, "OAST_STRATEGY"), "mpi");
  ASSERT(!find_env(env, n, "RANK") && !find_env(env, n, "TF_CONFIG"));
  for (size_t i = 0; i < n; i++) free(env[i]);
  /* The spec may not set what the server sets. */
  oast_err e;
  json_t *ok = J("{\"A\": \"1\"}"), *bad = J("{\"A\": \"1\", \"MASTER_PORT\": \"1\"}");
  ASSERT_EQ(dist_check_env(ok, &e), 0);
  ASSERT_EQ(dist_check_env(bad, &e), OAST_EBAD_REQUEST);
  ASSERT(starts(e.msg, "env.MASTER_PORT"));
  json_decref(ok);
  json_decref(bad);
}

TEST(dist_free_ports_are_distinct_and_free) {
  int ports[16];
  oast_err e;
  ASSERT_EQ(dist_free_ports(16, ports, &e), 0);
  for (int i = 0; i < 16; i++) {
    ASSERT(ports[i] > 0 && ports[i] < 65536);
    for (int j = 0; j < i; j++) ASSERT(ports[i] != ports[j]);
  }
}

/* Runs argv (from "sh" on) with env ("NAME=value" entries, NULL-terminated,
 * or NULL) added and stderr into buf; returns the exit status. */
static int run_sh_env(const char *const *argv, char *const *env, char *buf, size_t cap) {
  int fds[2];
  ASSERT(pipe(fds) == 0);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    for (size_t i = 0; env && env[i]; i++) putenv(env[i]);
    dup2(fds[1], 2);
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, 1);
    close(fds[0]);
    execvp(argv[0], (char *const *)argv);
    _exit(127);
  }
  close(fds[1]);
  size_t got = 0;
  ssize_t k;
  while (got + 1 < cap && (k = read(fds[0], buf + got, cap - 1 - got)) > 0) got += (size_t)k;
  buf[got] = '\0';
  close(fds[0]);
  int st;
  ASSERT(waitpid(pid, &st, 0) == pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int run_sh(const char *const *argv, char *buf, size_t cap) { return run_sh_env(argv, NULL, buf, cap); }

TEST(dist_mpi_argv_and_its_exit_wrapper) {
  struct exp_dist d = {3, DIST_MPI, 0, 0};
  const char *cmd[] = {"sh", "-c", "echo out; exit 7", NULL};
  const char **argv = dist_mpi_argv(&d, cmd, 3, false);
  ASSERT_STREQ(argv[0], "mpirun");
  ASSERT_STREQ(argv[1], "-np");
  ASSERT_STREQ(argv[2], "3");
  size_t n = 0, sh = 0;
  bool tag = false, root = false;
  for (; argv[n]; n++) {
    tag |= !strcmp(argv[n], "--tag-output");
    root |= !strcmp(argv[n], "--allow-run-as-root");
    if (!sh && !strcmp(argv[n], "sh")) sh = n;
  }
  ASSERT(tag && !root && sh > 0);
  ASSERT_STREQ(argv[n - 3], "sh");
  ASSERT_STREQ(argv[n - 1], "echo out; exit 7");
  /* The wrapper keeps the program's status and reports it on stderr. */
  char err[256];
  ASSERT_EQ(run_sh(argv + sh, err, sizeof err), 7);
  size_t len = strcspn(err, "\n");
  int code = -1;
  ASSERT(dist_mpi_exit(err, len, &code));
  ASSERT_EQ(code, 7);
  free(argv);
  const char *ok[] = {"true"};
  argv = dist_mpi_argv(&d, ok, 1, true);
  bool has_root = false;
  for (n = 0; argv[n]; n++) has_root |= !strcmp(argv[n], "--allow-run-as-root");
  ASSERT(has_root);
  for (sh = 0; strcmp(argv[sh], "sh") != 0; sh++) {}
  ASSERT_EQ(run_sh(argv + sh, err, sizeof err), 0);
  ASSERT(dist_mpi_exit(err, strcspn(err, "\n"), &code));
  ASSERT_EQ(code, 0);
  free(argv);
}

/* What the reader hands out, as "rank|text" lines. */
static void collect(void *arg, int rank, const char *text, size_t len) {
  struct buf *b = arg;
  buf_printf(b, "%d|%.*s\n", rank, (int)len, text);
}

static const char *feed_all(struct dist_mpi_reader *m, struct buf *b, const char *const *lines) {
  for (size_t i = 0; lines[i]; i++) dist_mpi_feed(m, lines[i], strlen(lines[i]), collect, b);
  return buf_cstr(b);
}

TEST(dist_mpi_lines_by_rank) {
  struct dist_mpi_reader m;
  struct buf b;
  buf_init(&b, 0);
  dist_mpi_reader_init(&m, 4);
  /* Whole lines, mpirun's own, and tags of ranks that do not exist or are malformed: mpirun's text. */
  static const char *const plain[] = {"[1,2]<stdout>:hello world", "[33,0]<stderr>:", "Primary job terminated",
                                      "[1,9]<stdout>:beyond the ranks", "[1,2]hello", "[1,x]<stdout>:a",
                                      "[1,1]<stdin>:a", "", NULL};
  ASSERT_STREQ(feed_all(&m, &b, plain), "2|hello world\n0|\n-1|Primary job terminated\n-1|[1,9]<stdout>:beyond the ranks\n"
                                        "-1|[1,2]hello\n-1|[1,x]<stdout>:a\n-1|[1,1]<stdin>:a\n-1|\n");
  buf_reset(&b);
  /* Ranks that wrote a line in pieces (text, then its newline): their
   * pieces run into the next chunk on mpirun's line. Streams stay apart. */
  static const char *const pieces[] = {"[1,1]<stdout>:worker 1 up[1,2]<stdout>:worker 2 up",
                                       "[1,3]<stdout>:worker 3 up[1,1]<stdout>:",
                                       "[1,3]<stdout>:part[1,3]<stderr>:oast-worker-exit-status 0",
                                       "[1,3]<stdout>: two[1,0]<stddiag>:diag", NULL};
  ASSERT_STREQ(feed_all(&m, &b, pieces), "2|worker 2 up\n1|worker 1 up\n3|oast-worker-exit-status 0\n0|diag\n");
  buf_reset(&b);
  /* At the end, the pieces left are lines. */
  dist_mpi_flush(&m, collect, &b);
  ASSERT_STREQ(buf_cstr(&b), "3|worker 3 uppart two\n");
  buf_reset(&b);
  dist_mpi_flush(&m, collect, &b);
  ASSERT_STREQ(buf_cstr(&b), "");
  /* A piece that never ends is cut at a line's length. */
  char *big = malloc(DIST_LINE_MAX + 64);
  strcpy(big, "[1,0]<stdout>:");
  memset(big + 14, 'x', DIST_LINE_MAX);
  strcpy(big + 14 + DIST_LINE_MAX, "[1,1]<stdout>:y");
  dist_mpi_feed(&m, big, strlen(big), collect, &b);
  ASSERT_EQ(b.len, 2 + DIST_LINE_MAX + 1 + 4);
  free(big);
  buf_release(&b);
  dist_mpi_reader_release(&m);
}

TEST(dist_mpi_exit_reports) {
  int code;
  ASSERT(dist_mpi_exit("oast-worker-exit-status 3", 25, &code));
  ASSERT_EQ(code, 3);
  ASSERT(!dist_mpi_exit("oast-worker-exit-status", 23, &code));
  ASSERT(!dist_mpi_exit("oast-worker-exit-status x", 25, &code));
  ASSERT(!dist_mpi_exit("oast-worker-exit-status 3 more", 30, &code));
  ASSERT(!dist_mpi_exit("worker exit 3", 13, &code));
}

TEST(dist_worker_tails_and_json) {
  struct dist_worker *w = dist_workers_new(2);
  ASSERT_EQ(w[0].state, DIST_QUEUED);
  ASSERT_EQ(w[1].exit_code, -1);
  char *t = dist_tail_text(&w[0]);
  ASSERT_STREQ(t, "");
  free(t);
  for (int i = 0; i < DIST_TAIL_LINES + 5; i++) {
    char line[32];
    int n = snprintf(line, sizeof line, "line %d", i);
    dist_tail_add(&w[0], line, (size_t)n);
  }
  t = dist_tail_text(&w[0]);
  ASSERT(starts(t, "line 5\nline 6\n"));
  ASSERT(strstr(t, "line 24\n") && !strstr(t, "line 4\n"));
  free(t);
  w[0].state = DIST_FINISHED;
  w[0].exit_code = 0;
  w[0].started_us = 1700000000000000LL;
  w[0].ended_us = 1700000001500000LL;
  snprintf(w[0].gpus, sizeof w[0].gpus, "0,1");
  w[1].state = DIST_KILLED;
  w[1].signal = 15;
  struct exp_dist d = {2, DIST_ALLREDUCE, 2, 0};
  json_t *j = dist_workers_json(&d, w, 2),
         *want = J("[{\"rank\": 0, \"role\": \"chief\", \"state\": \"finished\", \"exit_code\": 0, \"signal\": null,"
                   " \"gpus\": \"0,1\", \"started\": \"2023-11-14T22:13:20.000000Z\","
                   " \"ended\": \"2023-11-14T22:13:21.500000Z\"},"
                   " {\"rank\": 1, \"role\": \"worker\", \"state\": \"killed\", \"exit_code\": null, \"signal\": 15,"
                   " \"gpus\": null, \"started\": null, \"ended\": null}]");
  if (!json_equal(j, want)) {
    char *got = json_dumps(j, JSON_COMPACT);
    fprintf(stderr, "got %s\n", got);
    free(got);
  }
  ASSERT(json_equal(j, want));
  json_decref(j);
  json_decref(want);
  dist_workers_reset(w, 2);
  ASSERT_EQ(w[0].state, DIST_QUEUED);
  ASSERT_EQ(w[0].exit_code, -1);
  ASSERT_EQ(w[0].started_us, 0);
  dist_workers_free(w, 2);
}

/* Under mpirun (the Slurm executor), the wrapper gives each rank its own variables from Open MPI's. */
TEST(dist_mpirun_wrapper_maps_each_rank) {
  struct exp_dist d = {4, DIST_PARAMETER_SERVER, 2, 1};
  int tf_ports[] = {5001, 5002, 5003, 5004};
  char *env[DIST_ENV_MAX + 8 + 3];
  size_t n = dist_worker_env(&d, -1, 4000, tf_ports, env);
  ASSERT(n <= DIST_ENV_MAX + 4);
  ASSERT(!find_env(env, n, "RANK") && !find_env(env, n, "TF_CONFIG"));
  ASSERT_STREQ(find_env(env, n, "MASTER_PORT"), "4000");
  ASSERT_STREQ(find_env(env, n, "OAST_GPUS_PER_WORKER"), "2");
  env[n] = "OMPI_COMM_WORLD_RANK=2";
  env[n + 1] = "CUDA_VISIBLE_DEVICES=4,5,6,7,8,9,10,11";
  env[n + 2] = NULL;
  const char *cmd[] = {"sh", "-c", "echo \"$RANK|$LOCAL_RANK|$WORLD_SIZE|$CUDA_VISIBLE_DEVICES|$TF_CONFIG\" >&2; exit 5",
                       NULL};
  const char **argv = dist_mpi_argv(&d, cmd, 3, false);
  size_t sh = 0;
  while (strcmp(argv[sh], "sh") != 0) sh++;
  char err[1024];
  ASSERT_EQ(run_sh_env(argv + sh, env, err, sizeof err), 5);
  char *tf = dist_tf_config(&d, 2, tf_ports);
  char want[512];
  snprintf(want, sizeof want, "2|2|4|8,9|%s\n" "oast-worker-exit-status 5\n", tf);
  ASSERT_STREQ(err, want);
  free(tf);
  /* Without GPUs the variable is left as it is. */
  env[n + 1] = "CUDA_VISIBLE_DEVICES=";
  ASSERT_EQ(run_sh_env(argv + sh, env, err, sizeof err), 5);
  ASSERT(starts(err, "2|2|4||{"));
  free(argv);
  for (size_t i = 0; i < n; i++) free(env[i]);
}
