/*
 * test_slurm.c — the parts of the Slurm executor that need no cluster:
 * reading squeue, sinfo and sbatch answers, telling an unreachable
 * controller from a refusal, running a command with a deadline, and the
 * batch script, run here by /bin/sh with the variables Slurm would set.
 * The executor against a real cluster is tests/integration/test_slurm.py.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/common.h"
#include "exec/slurmcli.h"
#include "test.h"
#include "util/alloc.h"
#include "util/fs.h"

extern char **environ;

TEST(slurm_parse_squeue_rows_sorted) {
  const char *text =
      "12|COMPLETED|768|NonZeroExitCode|\n"
      "  9|RUNNING|0|None|\n"
      "garbage line\n"
      "11_3|PENDING|0|Resources|\n"  /* an array task: not ours */
      "10|CANCELLED|15|None|   \n";
  struct slurm_qrow *rows;
  size_t n = slurm_parse_squeue(text, &rows);
  ASSERT_EQ(n, 3);
  ASSERT_EQ(rows[0].id, 9);
  ASSERT_STREQ(rows[0].state, "RUNNING");
  ASSERT_EQ(rows[1].id, 10);
  ASSERT_EQ(rows[1].status, 15);
  ASSERT(WIFSIGNALED(rows[1].status) && WTERMSIG(rows[1].status) == 15);
  ASSERT_EQ(rows[2].id, 12);
  ASSERT(WIFEXITED(rows[2].status) && WEXITSTATUS(rows[2].status) == 3);
  ASSERT_STREQ(rows[2].reason, "NonZeroExitCode");
  ASSERT(slurm_find_row(rows, n, 10) == &rows[1]);
  ASSERT(slurm_find_row(rows, n, 11) == NULL);
  free(rows);
  ASSERT_EQ(slurm_parse_squeue("", &rows), 0);
  free(rows);
}

TEST(slurm_states_that_end_a_job) {
  ASSERT(!slurm_state_ended("PENDING"));
  ASSERT(!slurm_state_ended("RUNNING"));
  ASSERT(!slurm_state_ended("CONFIGURING"));
  ASSERT(!slurm_state_ended(""));
  ASSERT(slurm_state_ended("COMPLETING"));
  ASSERT(slurm_state_ended("COMPLETED"));
  ASSERT(slurm_state_ended("CANCELLED"));
  ASSERT(slurm_state_ended("TIMEOUT"));
  ASSERT(slurm_state_ended("NODE_FAIL"));
  ASSERT(slurm_state_ended("OUT_OF_MEMORY"));
}

TEST(slurm_gres_and_sinfo_totals) {
  ASSERT_EQ(slurm_gres_gpus("gpu:2"), 2);
  ASSERT_EQ(slurm_gres_gpus("gpu:a100:4(S:0-1)"), 4);
  ASSERT_EQ(slurm_gres_gpus("gpu:tesla:1(IDX:0),gpu:v100:2(IDX:1-2)"), 3);
  ASSERT_EQ(slurm_gres_gpus("shard:8,gpu:1"), 1);
  ASSERT_EQ(slurm_gres_gpus("gpus:3"), 0);
  ASSERT_EQ(slurm_gres_gpus("(null)"), 0);
  ASSERT_EQ(slurm_gres_gpus(""), 0);
  struct slurm_totals t;
  slurm_parse_sinfo("n1|2/6/0/8|gpu:4|gpu:1(IDX:0)|mix|\n"
                    "n2|0/16/0/16|(null)|gpu:0|idle|\n"
                    "n1|2/6/0/8|gpu:4|gpu:1(IDX:0)|mix|\n"  /* n1 again, in a second partition */
                    "bad|x|y|z|\n",
                    &t);
  ASSERT_EQ(t.nodes, 2);
  ASSERT_EQ(t.cpus_total, 24);
  ASSERT_EQ(t.cpus_idle, 22);
  ASSERT_EQ(t.cpus_max_node, 16);
  ASSERT_EQ(t.gpus_total, 4);
  ASSERT_EQ(t.gpus_used, 1);
  ASSERT_EQ(t.gpus_max_node, 4);
}

TEST(slurm_jobid_from_sbatch) {
  ASSERT_EQ(slurm_parse_jobid("123\n"), 123);
  ASSERT_EQ(slurm_parse_jobid("77;cluster\n"), 77);
  ASSERT_EQ(slurm_parse_jobid("Submitted batch job 5"), -1);
  ASSERT_EQ(slurm_parse_jobid(""), -1);
  ASSERT_EQ(slurm_parse_jobid("12abc"), -1);
  ASSERT_EQ(slurm_parse_jobid("0"), -1);
}

static void fake_run(struct slurm_run *r, int code, const char *err) {
  memset(r, 0, sizeof *r);
  buf_init(&r->out, 0);
  buf_init(&r->err, 0);
  r->exited = 1;
  r->status = code << 8;
  buf_puts(&r->err, err);
}

TEST(slurm_messages_and_unreachable_controllers) {
  struct slurm_run r;
  fake_run(&r, 1, "sbatch: error: Batch job submission failed: Unable to contact slurm controller "
                  "(connect failure)\n");
  ASSERT(slurm_run_unreachable(&r));
  char *m = slurm_run_message("sbatch", &r);
  ASSERT_STREQ(m, "sbatch: Unable to contact slurm controller (connect failure)");
  free(m);
  slurm_run_release(&r);

  fake_run(&r, 1, "sbatch: error: Batch job submission failed: Invalid partition name specified\n");
  ASSERT(!slurm_run_unreachable(&r));
  m = slurm_run_message("sbatch", &r);
  ASSERT_STREQ(m, "sbatch: Invalid partition name specified");
  free(m);
  slurm_run_release(&r);

  fake_run(&r, 3, "");
  m = slurm_run_message("squeue", &r);
  ASSERT_STREQ(m, "squeue failed with exit status 3");
  free(m);
  slurm_run_release(&r);

  memset(&r, 0, sizeof r);
  r.timed_out = 1;
  ASSERT(slurm_run_unreachable(&r));
  m = slurm_run_message("sinfo", &r);
  ASSERT_STREQ(m, "sinfo did not answer in time");
  free(m);
  r.timed_out = 0;
  r.spawn_err = ENOENT;
  ASSERT(slurm_run_unreachable(&r));
  m = slurm_run_message("sbatch", &r);
  ASSERT(strstr(m, "cannot run sbatch: No such file or directory"));
  free(m);
}

TEST(slurm_run_cmd_captures_and_kills_at_the_deadline) {
  struct slurm_run r;
  char *ok[] = {"sh", "-c", "echo out; echo err >&2; exit 0", NULL};
  ASSERT_EQ(slurm_run_cmd(ok, environ, 10000, 1024, &r), 0);
  ASSERT_STREQ(buf_cstr(&r.out), "out\n");
  ASSERT_STREQ(buf_cstr(&r.err), "err\n");
  slurm_run_release(&r);

  char *fail[] = {"sh", "-c", "exit 4", NULL};
  ASSERT_EQ(slurm_run_cmd(fail, environ, 10000, 1024, &r), -1);
  ASSERT(r.exited && WEXITSTATUS(r.status) == 4);
  slurm_run_release(&r);

  /* A child and a grandchild that outlive the deadline are both killed. */
  char *pidfile = fs_join(test_tmpdir(), "grandchild");
  char *script = xasprintf("sleep 100 & echo $! > %s; wait", pidfile);
  char *hang[] = {"sh", "-c", script, NULL};
  ASSERT_EQ(slurm_run_cmd(hang, environ, 300, 1024, &r), -1);
  ASSERT(r.timed_out && !r.exited);
  slurm_run_release(&r);
  char *text;
  size_t len;
  ASSERT_EQ(fs_read_all(pidfile, 64, &text, &len, NULL), 0);
  pid_t gc = (pid_t)atoi(text);
  free(text);
  ASSERT(gc > 0);
  /* it was in the killed group; once reaped by init it is gone */
  for (int i = 0; i < 100 && kill(gc, 0) == 0; i++) usleep(20000);
  ASSERT(kill(gc, 0) != 0);
  free(script);
  free(pidfile);

  /* Output past the cap is read and dropped. */
  char *big[] = {"sh", "-c", "head -c 100000 /dev/zero", NULL};
  ASSERT_EQ(slurm_run_cmd(big, environ, 10000, 1000, &r), 0);
  ASSERT_EQ(r.out.len, 1000);
  slurm_run_release(&r);

  char *none[] = {"no-such-command-for-slurm-tests", NULL};
  ASSERT_EQ(slurm_run_cmd(none, environ, 1000, 1024, &r), -1);
  ASSERT_EQ(r.spawn_err, ENOENT);
  slurm_run_release(&r);
}

/* Writes the script for argv/env into dir and runs it with /bin/sh the
 * way slurmstepd would (stdout and stderr to files in dir). Returns the
 * shell's exit status. */
static int run_script(const char *dir, const char *cwd, const char *const *argv,
                      const char *const *env, int inherit, int gpus, const char *const *slurm_env) {
  struct slurm_script_in in = {dir, cwd, argv, env, inherit, gpus, "test job"};
  char *text = slurm_script(&in);
  char *path = fs_join(dir, "job.sh");
  ASSERT_EQ(fs_write_atomic(path, text, strlen(text), 0700, NULL), 0);
  free(text);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    char *out = fs_join(dir, "out"), *err = fs_join(dir, "err");
    if (!freopen(out, "w", stdout) || !freopen(err, "w", stderr)) _exit(99);
    for (const char *const *e = slurm_env; e && *e; e++) putenv((char *)*e);
    execl("/bin/sh", "sh", path, (char *)NULL);
    _exit(98);
  }
  int st;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  free(path);
  ASSERT(WIFEXITED(st));
  return WEXITSTATUS(st);
}

static char *slurp(const char *dir, const char *name) {
  char *p = fs_join(dir, name), *text = NULL;
  size_t len;
  if (fs_read_all(p, 1 << 20, &text, &len, NULL) != 0) text = NULL;
  free(p);
  return text;
}

TEST(slurm_script_runs_the_command_and_leaves_markers) {
  const char *dir = test_tmpdir();
  const char *argv[] = {"sh", "-c", "for a in \"$@\"; do printf '<%s>\\n' \"$a\"; done; echo e >&2; exit 5",
                        "sh", "it's", "$(id)", "a b", "", NULL};
  const char *env[] = {"X=1", NULL};
  const char *senv[] = {"SLURMD_NODENAME=node7", "SLURM_JOB_GPUS=", NULL};
  ASSERT_EQ(run_script(dir, "/", argv, env, 1, 0, senv), 5);
  char *out = slurp(dir, "out"), *err = slurp(dir, "err"), *start = slurp(dir, "start"),
       *ex = slurp(dir, "exit");
  ASSERT_STREQ(out, "<it's>\n<$(id)>\n<a b>\n<>\n");
  ASSERT_STREQ(err, "e\n");
  ASSERT_STREQ(start, "node7\n\n");
  ASSERT_STREQ(ex, "5\n");
  ASSERT(slurp(dir, "error") == NULL);
  free(out);
  free(err);
  free(start);
  free(ex);
}

TEST(slurm_script_environment_and_gpus) {
  const char *dir = test_tmpdir();
  const char *argv[] = {"env", NULL};
  const char *env[] = {"ONLY=x y", "CUDA_VISIBLE_DEVICES=9", NULL};
  const char *senv[] = {"SLURM_JOB_GPUS=2,3", "CUDA_VISIBLE_DEVICES=2,3", NULL};
  ASSERT_EQ(run_script(dir, "/", argv, env, 0, 2, senv), 0);
  char *out = slurp(dir, "out"), *start = slurp(dir, "start");
  /* only the given entries, Slurm's GPUs (not the caller's), the PCI order */
  ASSERT_STREQ(out, "ONLY=x y\nCUDA_VISIBLE_DEVICES=2,3\nCUDA_DEVICE_ORDER=PCI_BUS_ID\n");
  ASSERT_STREQ(start, "\n2,3\n");
  free(out);
  free(start);

  /* a CPU-only job sees no GPUs even when its environment names some */
  const char *dir2 = fs_join(dir, "cpu");
  ASSERT_EQ(mkdir(dir2, 0700), 0);
  const char *argv2[] = {"sh", "-c", "echo \"[$CUDA_VISIBLE_DEVICES][${CUDA_DEVICE_ORDER-unset}]\"", NULL};
  const char *senv2[] = {"CUDA_VISIBLE_DEVICES=0", NULL};
  ASSERT_EQ(run_script(dir2, "/", argv2, NULL, 1, 0, senv2), 0);
  out = slurp(dir2, "out");
  ASSERT_STREQ(out, "[][unset]\n");
  free(out);
  free((char *)dir2);
}

TEST(slurm_script_errors_instead_of_start) {
  const char *dir = test_tmpdir();
  const char *argv[] = {"definitely-not-a-program", NULL};
  ASSERT_EQ(run_script(dir, "/", argv, NULL, 1, 0, NULL), 127);
  char *err = slurp(dir, "error");
  ASSERT_STREQ(err, "cannot run \"definitely-not-a-program\": No such file or directory\n");
  ASSERT(slurp(dir, "start") == NULL && slurp(dir, "exit") == NULL);
  free(err);

  char *d2 = fs_join(dir, "cwd");
  ASSERT_EQ(mkdir(d2, 0700), 0);
  const char *argv2[] = {"true", NULL};
  ASSERT_EQ(run_script(d2, "/no/such/dir", argv2, NULL, 1, 0, NULL), 127);
  err = slurp(d2, "error");
  ASSERT_STREQ(err, "cannot use the working directory \"/no/such/dir\"\n");
  free(err);
  free(d2);
}

TEST(slurm_script_reports_a_killed_command_as_128_plus_signal) {
  const char *dir = test_tmpdir();
  const char *argv[] = {"sh", "-c", "kill -TERM $$", NULL};
  ASSERT_EQ(run_script(dir, "/", argv, NULL, 1, 0, NULL), 143);
  char *ex = slurp(dir, "exit"), *err = slurp(dir, "err");
  ASSERT_STREQ(ex, "143\n");
  ASSERT_STREQ(err, "");  /* the waiting shell says nothing into the job's stderr */
  free(ex);
  free(err);
}

static size_t nlines;
static char got[8][32];
static void collect(void *arg, const char *line, size_t n) {
  ASSERT(strlen(line) == n);
  if (nlines < 8) snprintf(got[nlines], sizeof got[0], "%s", line);
  nlines++;
}

TEST(exec_split_lines_and_tail) {
  struct exec_splitter sp = {0};
  char a[] = "ab\ncdefgh", b[] = "ij\n\nxyz";
  exec_split(&sp, 4, a, strlen(a), collect, NULL);
  exec_split(&sp, 4, b, strlen(b), collect, NULL);
  exec_split_end(&sp, collect, NULL);
  exec_splitter_release(&sp);
  ASSERT_EQ(nlines, 5);
  ASSERT_STREQ(got[0], "ab");
  ASSERT_STREQ(got[1], "cdef");  /* cut at 4 bytes */
  ASSERT_STREQ(got[2], "ghij");  /* the rest, joined across chunks */
  ASSERT_STREQ(got[3], "");
  ASSERT_STREQ(got[4], "xyz");   /* no newline at the end: still a line */

  struct exec_tail t = {0};
  struct buf bb;
  buf_init(&bb, 0);
  ASSERT_STREQ(exec_tail_str(&t, &bb), "");
  for (int i = 0; i < EXEC_TAIL_LINES + 5; i++) {
    char line[16];
    snprintf(line, sizeof line, "l%d", i);
    exec_tail_add(&t, line, strlen(line));
  }
  const char *s = exec_tail_str(&t, &bb);
  ASSERT(strncmp(s, "l5\nl6\n", 6) == 0);
  char last[32];
  snprintf(last, sizeof last, "l%d\n", EXEC_TAIL_LINES + 4);
  ASSERT(strlen(s) > strlen(last) && strcmp(s + strlen(s) - strlen(last), last) == 0);
  exec_tail_release(&t);
  buf_release(&bb);
}
