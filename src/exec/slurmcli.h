/*
 * slurmcli.h — the pieces of the Slurm executor that talk to Slurm's
 * client commands: running a command with a deadline, the batch script a
 * job runs as, and reading the answers of squeue and sinfo. Kept apart
 * from the pool (slurm.c) so that they can be tested without a cluster.
 */
#ifndef EXEC_SLURMCLI_H
#define EXEC_SLURMCLI_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* ---- running a command ---- */

struct slurm_run {
  int exited;       /* 1: it ended by itself; status is its wait status */
  int status;
  int timed_out;    /* 1: it ran past the deadline and was killed */
  int spawn_err;    /* errno when it could not be started, else 0 */
  struct buf out;   /* stdout and stderr, each cut at the cap given */
  struct buf err;
};

/* Runs argv (argv[0] looked up in the caller's PATH) with environment
 * envp, stdin on /dev/null, in its own process group, capturing stdout
 * and stderr (up to cap bytes each; more is read and dropped). After
 * timeout_ms the group is killed with SIGKILL. The child is always
 * reaped before this returns. r is initialised here; release it with
 * slurm_run_release. Returns 0 when the command exited with status 0, -1
 * otherwise (see r). */
int slurm_run_cmd(char *const argv[], char *const envp[], int timeout_ms, size_t cap,
                  struct slurm_run *r);
void slurm_run_release(struct slurm_run *r);

/* What went wrong, as a sentence naming the command: its last stderr
 * line (without "sbatch: error: " noise), or how it ended. Caller frees. */
char *slurm_run_message(const char *cmd, const struct slurm_run *r);

/* Whether a failed command failed because the controller could not be
 * reached (as opposed to refusing the request). */
int slurm_run_unreachable(const struct slurm_run *r);

/* ---- the batch script ---- */

struct slurm_script_in {
  const char *dir;          /* the job's spool directory: markers go here */
  const char *cwd;          /* where the command runs */
  const char *const *argv;  /* NULL-terminated */
  const char *const *env;   /* NULL-terminated "NAME=value", or NULL */
  int inherit_env;
  int gpus;
  const char *title;        /* a comment line, e.g. "Oast job 3" */
};

/* The text of the batch script (see slurm.c for what it does). Every
 * string is single-quoted for the shell, so any bytes but NUL are safe.
 * Caller frees. */
char *slurm_script(const struct slurm_script_in *in);

/* Appends s single-quoted for sh to b. */
void slurm_quote(struct buf *b, const char *s);

/* ---- answers ---- */

/* One line of `squeue --noheader -O JobID:|,State:|,exit_code:|,Reason:|`. */
struct slurm_qrow {
  long long id;
  char state[24];
  int status;       /* the batch script's wait status, as squeue shows it */
  char reason[64];
};

/* Parses squeue's answer into *rows (caller frees), sorted by id. Lines
 * that do not parse (other job kinds, noise) are skipped. */
size_t slurm_parse_squeue(const char *text, struct slurm_qrow **rows);

/* Finds id in rows sorted by id; NULL when absent. */
const struct slurm_qrow *slurm_find_row(const struct slurm_qrow *rows, size_t n, long long id);

/* Whether a job in this squeue state is over (its batch script ended or
 * it never will run): COMPLETED, FAILED, CANCELLED, TIMEOUT, ... and
 * COMPLETING. */
int slurm_state_ended(const char *state);

/* Partition totals from `sinfo --noheader --Node -O
 * NodeList:|,CPUsState:|,Gres:|,GresUsed:|,StateCompact:|`. */
struct slurm_totals {
  int nodes;
  int cpus_total, cpus_idle, cpus_max_node;
  int gpus_total, gpus_used, gpus_max_node;
};
void slurm_parse_sinfo(const char *text, struct slurm_totals *t);

/* The GPU count of a Gres string such as "gpu:2", "gpu:a100:4(S:0-1)",
 * "gpu:0,shard:8" or "(null)". */
int slurm_gres_gpus(const char *gres);

/* Reads the job id from `sbatch --parsable` output ("123" or
 * "123;cluster"); -1 when it is not one. */
long long slurm_parse_jobid(const char *out);

#endif
