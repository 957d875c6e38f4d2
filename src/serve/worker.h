/*
 * worker.h — one Python worker process of a deployment (a predictor or a
 * transformer), started by the server and spoken to over pipes.
 *
 * Protocol: each message is 4 bytes of big-endian length, then that many
 * bytes of JSON. The worker first sends {"ready": true} (or {"error"}
 * when the user's script failed to load); then it answers each request
 * {"op", "inputs"} with {"outputs"} or {"error"}. Its stderr (and what the
 * user's code prints) goes to the deployment's log file.
 */
#ifndef SERVE_WORKER_H
#define SERVE_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "oast/error.h"

/* The largest message either side may send. */
#define WORKER_MAX_MESSAGE ((size_t)256 << 20)

struct worker {
  pid_t pid;        /* 0: none */
  int to_fd;        /* requests go here (the worker's stdin) */
  int from_fd;      /* answers come from here (the worker's stdout) */
};

struct worker_config {
  const char *python;       /* the interpreter */
  const char *pythonpath;   /* where the oast package is, or NULL when installed */
  const char *config_json;  /* the worker's configuration (OAST_PREDICTOR) */
  const char *model_dir;    /* its working directory */
  int log_fd;               /* its stderr (and stdout of the user's code) */
};

/*
 * Starts a worker and waits up to ready_ms for its ready message. On
 * failure the process is gone and e says why: the script's own error when
 * it sent one, else how it ended (exit status, signal, or no answer).
 */
int worker_start(struct worker *w, const struct worker_config *c, int64_t ready_ms, oast_err *e);

/*
 * One request and its answer, within timeout_ms. *answer (allocated,
 * NUL-terminated, the caller frees) holds the answer's JSON. On failure
 * the worker is dead (reaped, or killed when it hung): OAST_EUNAVAILABLE
 * when it crashed (e says with which exit status or signal),
 * OAST_ETIMEOUT when it did not answer in time.
 */
int worker_call(struct worker *w, const char *msg, size_t len, int64_t timeout_ms, char **answer, size_t *alen,
                oast_err *e);

/* Whether the worker still runs (an idle worker that died is reaped here). */
bool worker_alive(struct worker *w);

/* Ends it: closes its stdin (it exits on EOF), waits up to grace_ms, then kills its process group. */
void worker_stop(struct worker *w, int grace_ms);

/* Describes a wait status: "exited with status 3", "was killed by signal 9 (Killed)". */
void worker_status_text(int status, char *out, size_t n);

#endif
