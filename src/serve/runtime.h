/*
 * runtime.h — running deployments inside the server (internal to
 * src/serve): the registry of what runs, each deployment's request queue
 * and instances, and the requests that wait for a predictor.
 *
 * A deployment that runs is a `struct dep`, found by name through the
 * registry (struct serving) and reference-counted: a request holds a
 * reference while it uses it, so stopping never frees what a request
 * still reads.
 *
 * Two ways to predict:
 * - inline: an XGBoost model without batching or transformer is predicted
 *   on the HTTP thread that parsed the request (libxgboost is thread-safe
 *   for tree models), with no queue and no hand-over;
 * - queued: everything else. The request becomes a `struct item`, its
 *   connection is suspended (req_defer), and one of the deployment's
 *   instances (a thread, with its Python worker process when it needs
 *   one) takes a batch of items from the queue, predicts them together
 *   and resumes each connection with its result.
 */
#ifndef SERVE_RUNTIME_H
#define SERVE_RUNTIME_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/http.h"
#include "serve/inputs.h"
#include "serve/worker.h"

struct server;
struct xgb_model;

enum dep_state { DEP_STARTING, DEP_RUNNING, DEP_STOPPING, DEP_FAILED };
const char *dep_state_name(int state);

enum log_mode { LOG_NONE, LOG_PREDICTIONS, LOG_INPUTS, LOG_ALL };
/* "none" | "predictions" | "model_inputs" | "all"; -1 when unknown. */
int log_mode_parse(const char *s);
const char *log_mode_name(int m);

/* What a deployment runs, with every path resolved (owned strings). */
struct dep_config {
  int64_t id;               /* the deployment's row */
  char name[64];
  char project[64];
  int64_t project_id;
  char model[64];
  int64_t model_version;
  char framework[16];
  bool native;              /* predictor "xgboost": predicted in the server */
  char *model_dir;          /* Models/<model>/<version> on disk */
  char *model_file;         /* native: the model file */
  char *script;             /* python: the predictor script, or NULL for the built-in sklearn one */
  char *transformer;        /* the transformer script, or NULL */
  char *log_dir;            /* Logs/deployments/<name> on disk */
  json_t *model_schema;     /* owned, or NULL */
  int instances;
  int max_batch;            /* 0: no batching */
  int max_latency_ms;
  int timeout_ms;           /* one predictor call, and how long a request may wait for an instance */
  int logging;              /* enum log_mode */
};
void dep_config_release(struct dep_config *c);

/* Protocols, for the answer's shape. */
enum proto { PROTO_TFS, PROTO_V2 };

/* A request waiting for (or answered by) the queue. */
struct item {
  struct item *next;
  struct dep *d;            /* a reference */
  struct req *r;
  enum verb verb;
  enum proto proto;
  bool columnar;            /* TF Serving "inputs": the answer is "outputs" */
  char *v2_id;              /* KServe request id, owned, may be NULL */
  json_t *rows;             /* owned */
  char *rows_text;          /* rows as JSON text (Python predictors), owned */
  float *dense;             /* native: rows × features, owned */
  size_t nrows;
  int64_t enqueued_ms;
  /* the result */
  oast_err err;             /* err.code 0: outputs holds one output per row */
  json_t *outputs;          /* owned */
};

enum inst_state { I_BOOTING, I_READY, I_BUSY, I_RESTARTING, I_RETIRING, I_DONE };

/* One instance: a thread taking batches, with its worker process when it needs one. */
struct inst {
  struct inst *next;
  struct dep *d;
  int id;                   /* 1, 2, ... within the deployment */
  pthread_t th;
  struct worker w;          /* used by the thread only */
  int pid;                  /* copy of w.pid for status (dep mu) */
  int state;                /* enum inst_state (dep mu) */
  int restarts;             /* (dep mu) */
  bool retire;              /* scale-down: leave after the current batch (dep mu) */
  bool started;             /* the thread exists and must be joined */
};

struct dep {
  struct serving *sv;
  _Atomic int refs;
  struct dep *next;         /* registry list (serving mu) */
  struct dep_config c;
  struct in_schema *schema;
  struct xgb_model *xgb;    /* native */
  size_t nfeat;
  char *const *feature_names; /* schema column names or the model's own, borrowed; NULL when none */
  int log_fd;               /* predictor.log: events and the workers' stderr */
  int inflog_fd;            /* inference.jsonl, -1 until first needed */
  uint64_t inflog_size;     /* its size (inflog_mu) */
  pthread_mutex_t inflog_mu;
  _Atomic int logging;      /* live enum log_mode */
  _Atomic int state;        /* enum dep_state */
  _Atomic int max_batch, max_latency_ms, timeout_ms;
  _Atomic int inline_inflight;
  _Atomic uint64_t served, failed;
  pthread_mutex_t mu;
  pthread_cond_t work;      /* idle instances wait for items */
  pthread_cond_t fill;      /* the collecting instance waits for a fuller batch */
  pthread_cond_t changed;   /* instance states, drains */
  struct item *qhead, *qtail;
  size_t qitems;
  bool collecting;
  bool quit;                /* stopping: leave once the queue is empty */
  int busy_items;           /* items taken by instances, not yet answered */
  struct inst *insts;
  int next_inst_id;
  int ready;                /* instances that came up at least once */
  char error[600];          /* why it failed (mu) */
};

struct serving {
  struct server *srv;
  pthread_mutex_t mu;       /* the registry */
  pthread_mutex_t admin;    /* start, stop, scale and delete, one at a time */
  struct dep *deps;
  char *python;
  char *pythonpath;         /* NULL: the oast package is installed */
  _Atomic int deferred;     /* suspended requests not yet freed */
  pthread_t reaper;         /* stops deployments whose row is gone (their project was deleted) */
  bool reaper_started;
  bool reaper_quit;         /* (reap_mu) */
  pthread_mutex_t reap_mu;
  pthread_cond_t reap_cond;
};

/* Registry. rt_get returns a reference (rt_put it) or NULL when the deployment does not run. */
struct dep *rt_get(struct serving *sv, const char *name);
void rt_put(struct dep *d);

/*
 * Starts a deployment (takes *c over, also on failure). Native models are
 * loaded before it returns (a bad model file is a 400); Python workers
 * come up in the background: the state is "starting" until they are all
 * ready, "failed" (with the reason) when one cannot load the script.
 * Caller holds sv->admin.
 */
int rt_start(struct serving *sv, struct dep_config *c, oast_err *e);
/*
 * Replaces running deployment `old` (a reference the caller holds) by a
 * runtime of config c (taken), e.g. another model version: the new one
 * boots unlisted while old serves, takes the name once all its instances
 * are ready, and old then drains and stops. When the new one cannot start
 * (409 with its reason) old goes on serving. Caller holds sv->admin.
 */
int rt_replace(struct serving *sv, struct dep *old, struct dep_config *c, oast_err *e);
/* Stops and drains a deployment; 0 also when it was not running. Caller holds sv->admin. */
void rt_stop(struct serving *sv, const char *name);
/* Live changes of a running deployment (negative: unchanged). Caller holds sv->admin. */
void rt_update(struct dep *d, int instances, int max_batch, int max_latency_ms, int timeout_ms, int logging);
/* {"state", "error"?, "instance_states": [{"id", "pid", "state", "restarts"}], "queued", "requests": {"served", "failed"}}. */
json_t *rt_status(struct dep *d);

/*
 * Queues an item (which holds a reference on d) and defers its request
 * (req_defer with `then`); OAST_EUNAVAILABLE, with nothing deferred, when
 * d does not take requests.
 */
int rt_submit(struct dep *d, struct item *it, route_fn then, oast_err *e);
void item_free(void *item);

/* Native outputs (rows × width floats) as JSON outputs of a verb; 400 when the verb does not fit the model. */
int native_outputs(struct dep *d, enum verb v, const float *p, size_t rows, size_t width, json_t **out, oast_err *e);
/* Appends one line to the deployment's inference log, as its logging mode says. */
void inflog_write(struct dep *d, enum verb v, json_t *rows, json_t *outputs, const char *outputs_text, int status);
/* Appends a line "TIME message" to the deployment's predictor.log. */
void dep_event(struct dep *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int64_t rt_now_ms(void);

/* deploy.c: starts the deployments whose requested state is running (at server start). */
void deploy_restore(struct server *s);
/* deploy.c: stops running deployments whose row no longer exists (a deleted project takes its rows along). */
void deploy_reap(struct server *s);

#endif
