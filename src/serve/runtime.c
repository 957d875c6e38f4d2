/*
 * runtime.c — running deployments: the registry, the request queue, the
 * instances that take batches from it, worker restarts, draining stops
 * and live scaling (see runtime.h for the two ways of predicting).
 *
 * Batching. Instances wait on the deployment's queue. The first that
 * finds work becomes the collector: with batching on it waits until the
 * items of one verb at the head add up to max_batch_size rows, or until
 * the oldest has waited max_latency_ms, then takes them; the others wait
 * for the next collection. So a batch forms while the other instances are
 * busy predicting, and an idle deployment adds at most max_latency_ms.
 * Without batching an instance takes one request at a time.
 *
 * Failures. A worker that crashes or does not answer within the
 * deployment's timeout is killed with its process group; every request
 * of the batch it held gets a 503 (crash) or 504 (hang) that says so, and
 * the instance starts a new worker (with growing pauses while that fails)
 * while the other instances keep serving. An idle instance checks its
 * worker every 250 ms, so a worker that dies between requests is replaced
 * before a request can meet it. Requests that wait in the queue longer
 * than the timeout, because no instance is ready, get a 503.
 *
 * Stopping first refuses new requests (503), then waits until the queue
 * is empty and every taken request was answered, bounded by the timeout,
 * then ends the instances and their workers. A deployment is freed when
 * the last request that holds a reference lets go of it. A reaper thread
 * stops, every two seconds at most, deployments whose record is gone
 * (deleting a project deletes its deployments' rows).
 */
#define _GNU_SOURCE
#include "serve/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/server.h"
#include "serve/serve.h"
#include "serve/xgb.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"

#define BOOT_TIMEOUT_MS 60000
#define IDLE_CHECK_MS 250
#define STOP_GRACE_MS 2000
#define RESTART_PAUSE_MAX_MS 10000
#define REAP_MS 2000
#define INFLOG_NAME "inference.jsonl"
#define INFLOG_KEEP 3 /* rotated inference logs kept beside the current one */

/* ---- small things ---- */

int64_t rt_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *dep_state_name(int s) {
  switch (s) {
    case DEP_STARTING: return "starting";
    case DEP_RUNNING: return "running";
    case DEP_STOPPING: return "stopping";
    default: return "failed";
  }
}

static const char *const log_names[] = {"none", "predictions", "model_inputs", "all"};

int log_mode_parse(const char *s) {
  for (int i = 0; i < 4; i++)
    if (s && !strcmp(s, log_names[i])) return i;
  return -1;
}

const char *log_mode_name(int m) { return m >= 0 && m < 4 ? log_names[m] : "none"; }

void dep_config_release(struct dep_config *c) {
  free(c->model_dir);
  free(c->model_file);
  free(c->script);
  free(c->transformer);
  free(c->log_dir);
  json_decref(c->model_schema);
  memset(c, 0, sizeof *c);
}

static void cond_init(pthread_cond_t *c) {
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(c, &a);
  pthread_condattr_destroy(&a);
}

static void wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline_ms) {
  struct timespec ts = {(time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000L};
  pthread_cond_timedwait(c, m, &ts);
}

static void time_text(char out[40]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 40 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void dep_event(struct dep *d, const char *fmt, ...) {
  if (d->log_fd < 0) return;
  char line[1400], t[40];
  time_text(t);
  int n = snprintf(line, sizeof line, "%s [oast] ", t);
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (k < 0 ? 0 : (size_t)k >= sizeof line - (size_t)n - 1 ? sizeof line - (size_t)n - 2 : (size_t)k);
  line[len++] = '\n';
  if (write(d->log_fd, line, len) < 0) log_warn("deployment %s: cannot write its log: %s", d->c.name, strerror(errno));
}

/* ---- the inference log ---- */

static void json_text(struct buf *b, const char *s) {
  json_t *j = json_string(s);
  char *x = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
  buf_puts(b, x ? x : "\"\"");
  free(x);
  json_decref(j);
}

/* Opens inference.jsonl for appending and learns its size. inflog_mu held. */
static void inflog_open(struct dep *d) {
  char *path = fs_join(d->c.log_dir, INFLOG_NAME);
  d->inflog_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  struct stat st;
  if (d->inflog_fd < 0) log_warn("deployment %s: cannot open %s: %s", d->c.name, path, strerror(errno));
  else d->inflog_size = fstat(d->inflog_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
  free(path);
}

/*
 * inference.jsonl -> .1 -> .2 -> ... -> .INFLOG_KEEP (the oldest is
 * dropped); the next write opens a new file. Each step is a rename, so a
 * reader sees every line in exactly one file. inflog_mu held.
 */
static void inflog_rotate(struct dep *d) {
  close(d->inflog_fd);
  d->inflog_fd = -1;
  d->inflog_size = 0;
  for (int k = INFLOG_KEEP; k >= 1; k--) {
    char *from = k == 1 ? xasprintf("%s/%s", d->c.log_dir, INFLOG_NAME)
                        : xasprintf("%s/%s.%d", d->c.log_dir, INFLOG_NAME, k - 1);
    char *to = xasprintf("%s/%s.%d", d->c.log_dir, INFLOG_NAME, k);
    if (rename(from, to) != 0 && errno != ENOENT)
      log_warn("deployment %s: cannot rotate %s: %s", d->c.name, from, strerror(errno));
    free(from);
    free(to);
  }
}

void inflog_write(struct dep *d, enum verb v, json_t *rows, json_t *outputs, const char *outputs_text, int status) {
  int mode = atomic_load(&d->logging);
  if (mode == LOG_NONE) return;
  struct buf b;
  buf_init(&b, 0);
  char t[40];
  time_text(t);
  buf_printf(&b, "{\"time\":\"%s\",\"deployment\":", t);
  json_text(&b, d->c.name);
  buf_puts(&b, ",\"model\":");
  json_text(&b, d->c.model);
  buf_printf(&b, ",\"model_version\":%lld,\"verb\":\"%s\",\"status\":%d", (long long)d->c.model_version, verb_name(v),
             status);
  if ((mode == LOG_ALL || mode == LOG_INPUTS) && rows) {
    char *x = json_dumps(rows, JSON_COMPACT | JSON_ENCODE_ANY);
    buf_puts(&b, ",\"inputs\":");
    buf_puts(&b, x ? x : "null");
    free(x);
  }
  if (mode == LOG_ALL || mode == LOG_PREDICTIONS) {
    buf_puts(&b, ",\"predictions\":");
    if (outputs_text) buf_puts(&b, outputs_text);
    else {
      char *x = outputs ? json_dumps(outputs, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
      buf_puts(&b, x ? x : "null");
      free(x);
    }
  }
  buf_puts(&b, "}\n");
  pthread_mutex_lock(&d->inflog_mu);
  uint64_t max = d->sv->srv->cfg.inference_log_max;
  if (d->inflog_fd >= 0 && max && d->inflog_size > 0 && d->inflog_size + b.len > max) inflog_rotate(d);
  if (d->inflog_fd < 0) inflog_open(d);
  if (d->inflog_fd >= 0) {
    if (write(d->inflog_fd, b.data, b.len) < 0)
      log_warn("deployment %s: cannot write its inference log: %s", d->c.name, strerror(errno));
    else
      d->inflog_size += b.len;
  }
  pthread_mutex_unlock(&d->inflog_mu);
  buf_release(&b);
}

/* ---- native outputs ---- */

int native_outputs(struct dep *d, enum verb v, const float *p, size_t rows, size_t width, json_t **out, oast_err *e) {
  const char *obj = xgb_objective(d->xgb);
  json_t *o = json_array();
  int rc = 0;
  if (v == VERB_PREDICT) {
    for (size_t i = 0; i < rows; i++) {
      if (width == 1) {
        json_array_append_new(o, json_real(p[i]));
        continue;
      }
      json_t *row = json_array();
      for (size_t k = 0; k < width; k++) json_array_append_new(row, json_real(p[i * width + k]));
      json_array_append_new(o, row);
    }
  } else if (v == VERB_REGRESS) {
    if (width != 1 || !strncmp(obj, "multi:", 6))
      rc = oast_err_set(e, OAST_EBAD_REQUEST,
                        "deployment \"%s\" serves a model with objective %s and %zu outputs per instance; :regress "
                        "needs a model with one numeric output",
                        d->c.name, obj, width);
    for (size_t i = 0; !rc && i < rows; i++) json_array_append_new(o, json_real(p[i]));
  } else {
    bool prob = !strcmp(obj, "binary:logistic") || !strcmp(obj, "multi:softprob");
    bool label = !strcmp(obj, "multi:softmax") || !strcmp(obj, "binary:hinge");
    if (!prob && !label)
      rc = oast_err_set(e, OAST_EBAD_REQUEST,
                        "deployment \"%s\" serves a model with objective %s, which does not classify; use :predict or "
                        ":regress",
                        d->c.name, obj);
    for (size_t i = 0; !rc && i < rows; i++) {
      json_t *res = json_array();
      char lab[32];
      if (label) {
        snprintf(lab, sizeof lab, "%lld", (long long)p[i * width]);
        json_array_append_new(res, json_pack("[s,f]", lab, 1.0));
      } else if (width == 1) {
        json_array_append_new(res, json_pack("[s,f]", "0", 1.0 - (double)p[i]));
        json_array_append_new(res, json_pack("[s,f]", "1", (double)p[i]));
      } else {
        for (size_t k = 0; k < width; k++) {
          snprintf(lab, sizeof lab, "%zu", k);
          json_array_append_new(res, json_pack("[s,f]", lab, (double)p[i * width + k]));
        }
      }
      json_array_append_new(o, res);
    }
  }
  if (rc) {
    json_decref(o);
    return rc;
  }
  *out = o;
  return 0;
}

/* ---- registry ---- */

static void dep_free(struct dep *d) {
  xgb_free(d->xgb);
  schema_free(d->schema);
  if (d->log_fd >= 0) close(d->log_fd);
  if (d->inflog_fd >= 0) close(d->inflog_fd);
  for (struct inst *in = d->insts, *next; in; in = next) {
    next = in->next;
    free(in);
  }
  dep_config_release(&d->c);
  pthread_mutex_destroy(&d->mu);
  pthread_mutex_destroy(&d->inflog_mu);
  pthread_cond_destroy(&d->work);
  pthread_cond_destroy(&d->fill);
  pthread_cond_destroy(&d->changed);
  free(d);
}

struct dep *rt_get(struct serving *sv, const char *name) {
  if (!sv) return NULL;
  pthread_mutex_lock(&sv->mu);
  struct dep *d = sv->deps;
  while (d && strcmp(d->c.name, name)) d = d->next;
  if (d) atomic_fetch_add(&d->refs, 1);
  pthread_mutex_unlock(&sv->mu);
  return d;
}

void rt_put(struct dep *d) {
  if (d && atomic_fetch_sub(&d->refs, 1) == 1) dep_free(d);
}

void item_free(void *p) {
  struct item *it = p;
  if (!it) return;
  json_decref(it->rows);
  json_decref(it->outputs);
  free(it->rows_text);
  free(it->dense);
  free(it->v2_id);
  if (it->d) {
    atomic_fetch_sub(&it->d->sv->deferred, 1);
    rt_put(it->d);
  }
  free(it);
}

/* ---- answering items ---- */

static void resolve(struct item *it) {
  struct dep *d = it->d;
  if (it->err.code) atomic_fetch_add(&d->failed, 1);
  else {
    atomic_fetch_add(&d->served, 1);
    inflog_write(d, it->verb, it->rows, it->outputs, NULL, 200);
  }
  req_resume(it->r); /* the item now belongs to the HTTP thread */
}

static void fail_items(struct item *list, const oast_err *e) {
  for (struct item *it = list, *next; it; it = next) {
    next = it->next;
    it->err = *e;
    resolve(it);
  }
}

/* Takes queued items that waited longer than the timeout out of the queue; the caller fails them. */
static struct item *expired(struct dep *d, int64_t now) {
  struct item *out = NULL, **tail = &out, **pp = &d->qhead, *last = NULL;
  int64_t limit = atomic_load(&d->timeout_ms);
  while (*pp) {
    struct item *it = *pp;
    if (now - it->enqueued_ms > limit) {
      *pp = it->next;
      d->qitems--;
      it->next = NULL;
      *tail = it;
      tail = &it->next;
    } else {
      last = it;
      pp = &it->next;
    }
  }
  d->qtail = last;
  return out;
}

static void expire_queue(struct dep *d) {
  pthread_mutex_lock(&d->mu);
  struct item *old = d->collecting ? NULL : expired(d, rt_now_ms());
  pthread_mutex_unlock(&d->mu);
  if (!old) return;
  oast_err e;
  oast_err_set(&e, OAST_EUNAVAILABLE,
               "deployment \"%s\": no instance was ready to answer within %d ms (its workers are restarting; see its "
               "logs)",
               d->c.name, atomic_load(&d->timeout_ms));
  fail_items(old, &e);
}

int rt_submit(struct dep *d, struct item *it, route_fn then, oast_err *e) {
  pthread_mutex_lock(&d->mu);
  int st = atomic_load(&d->state);
  if (st != DEP_RUNNING || d->quit) {
    pthread_mutex_unlock(&d->mu);
    if (st == DEP_FAILED)
      return oast_err_set(e, OAST_EUNAVAILABLE, "deployment \"%s\" failed: %s", d->c.name, d->error);
    return oast_err_set(e, OAST_EUNAVAILABLE, "deployment \"%s\" is %s; it does not take requests now", d->c.name,
                        dep_state_name(st));
  }
  req_defer(it->r, then); /* before an instance can see the item */
  it->enqueued_ms = rt_now_ms();
  it->next = NULL;
  if (d->qtail) d->qtail->next = it;
  else d->qhead = it;
  d->qtail = it;
  d->qitems++;
  if (d->collecting) pthread_cond_signal(&d->fill);
  else pthread_cond_signal(&d->work);
  pthread_mutex_unlock(&d->mu);
  return 0;
}

/* ---- workers ---- */

static bool needs_worker(const struct dep *d) { return !d->c.native || d->c.transformer; }

static int boot(struct inst *in, oast_err *e) {
  struct dep *d = in->d;
  json_t *cfg = json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:s,s:i}", "deployment", d->c.name, "model_dir", d->c.model_dir,
                          "script", d->c.native ? NULL : d->c.script, "transformer", d->c.transformer, "builtin",
                          !d->c.native && !d->c.script ? "sklearn" : NULL, "mode",
                          d->c.native ? "transformer" : "predictor", "instance", in->id);
  char *text = json_dump(cfg);
  json_decref(cfg);
  struct worker_config wc = {d->sv->python, d->sv->pythonpath, text, d->c.model_dir, d->log_fd};
  int rc = worker_start(&in->w, &wc, BOOT_TIMEOUT_MS, e);
  free(text);
  pthread_mutex_lock(&d->mu);
  in->pid = rc ? 0 : in->w.pid;
  pthread_mutex_unlock(&d->mu);
  if (!rc) dep_event(d, "instance %d: worker pid %d is ready", in->id, (int)in->w.pid);
  return rc;
}

static bool leaving(struct inst *in) { return in->retire || in->d->quit; }

/* A new worker for an instance whose worker died; false when the instance should leave instead. */
static bool restart(struct inst *in) {
  struct dep *d = in->d;
  pthread_mutex_lock(&d->mu);
  in->state = I_RESTARTING;
  in->restarts++;
  in->pid = 0;
  pthread_mutex_unlock(&d->mu);
  int pause = 0;
  for (;;) {
    pthread_mutex_lock(&d->mu);
    if (pause > 0 && !leaving(in)) wait_until(&d->changed, &d->mu, rt_now_ms() + pause);
    bool stop = leaving(in);
    pthread_mutex_unlock(&d->mu);
    if (stop) return false;
    oast_err e;
    oast_err_clear(&e);
    if (boot(in, &e) == 0) {
      pthread_mutex_lock(&d->mu);
      in->state = I_READY;
      pthread_cond_broadcast(&d->changed);
      pthread_mutex_unlock(&d->mu);
      return true;
    }
    dep_event(d, "instance %d: the worker did not start again: %s", in->id, e.msg);
    expire_queue(d);
    pause = pause ? pause * 2 : 500;
    if (pause > RESTART_PAUSE_MAX_MS) pause = RESTART_PAUSE_MAX_MS;
  }
}

/* One message to the instance's worker and its "outputs" (expect of them), or an error. */
static int worker_op(struct inst *in, const char *op, const char *inputs, size_t ilen, size_t expect, json_t **outputs,
                     bool *dead, oast_err *e) {
  struct dep *d = in->d;
  struct buf msg;
  buf_init(&msg, 0);
  buf_printf(&msg, "{\"op\":\"%s\",\"inputs\":", op);
  buf_append(&msg, inputs, ilen);
  buf_putc(&msg, '}');
  char *ans = NULL;
  size_t alen = 0;
  oast_err we;
  oast_err_clear(&we);
  int rc = worker_call(&in->w, msg.data, msg.len, atomic_load(&d->timeout_ms), &ans, &alen, &we);
  buf_release(&msg);
  if (rc) {
    *dead = true;
    dep_event(d, "instance %d: %s", in->id, we.msg);
    return oast_err_set(e, rc,
                        "deployment \"%s\": %s; the request was not answered and instance %d is being restarted",
                        d->c.name, we.msg, in->id);
  }
  json_error_t je;
  json_t *j = json_loadb(ans, alen, 0, &je);
  free(ans);
  const char *role = !strcmp(op, "preprocess") || !strcmp(op, "postprocess") ? "transformer" : "predictor";
  if (!j || !json_is_object(j)) {
    json_decref(j);
    return oast_err_set(e, OAST_EINTERNAL, "deployment \"%s\": the %s's worker answered with something that is not "
                        "a JSON object", d->c.name, role);
  }
  const char *err = json_string_value(json_object_get(j, "error"));
  json_t *out = json_object_get(j, "outputs");
  const char *kind = json_string_value(json_object_get(j, "kind"));
  if (err && kind && !strcmp(kind, "bad_request"))
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "deployment \"%s\": %.700s", d->c.name, err);
  else if (err)
    rc = oast_err_set(e, OAST_EINTERNAL, "deployment \"%s\": the %s (%s) raised %.700s", d->c.name, role, op, err);
  else if (!json_is_array(out))
    rc = oast_err_set(e, OAST_EINTERNAL,
                      "deployment \"%s\": the %s's %s must return a list with one value per instance, not %s",
                      d->c.name, role, op, out ? "a single value" : "nothing");
  else if (json_array_size(out) != expect)
    rc = oast_err_set(e, OAST_EINTERNAL, "deployment \"%s\": the %s's %s returned %zu values for %zu instances",
                      d->c.name, role, op, json_array_size(out), expect);
  if (!rc) *outputs = json_incref(out);
  json_decref(j);
  return rc;
}

/* The rows of a batch as one JSON list text. */
static void batch_rows_text(struct item *batch, struct buf *b) {
  buf_putc(b, '[');
  bool first = true;
  for (struct item *it = batch; it; it = it->next) {
    size_t n = strlen(it->rows_text);
    if (n < 2) continue;
    if (!first) buf_putc(b, ',');
    buf_append(b, it->rows_text + 1, n - 2);
    first = false;
  }
  buf_putc(b, ']');
}

static int python_batch(struct inst *in, struct item *batch, size_t total, json_t **outs, bool *dead, oast_err *e) {
  struct buf rows;
  buf_init(&rows, 0);
  batch_rows_text(batch, &rows);
  int rc = worker_op(in, verb_name(batch->verb), rows.data, rows.len, total, outs, dead, e);
  buf_release(&rows);
  return rc;
}

static int native_batch(struct inst *in, struct item *batch, size_t total, json_t **outs, bool *dead, oast_err *e) {
  struct dep *d = in->d;
  float *x = xmalloc(total * d->nfeat * sizeof *x), *p = NULL;
  size_t width = 0;
  int rc = 0;
  json_t *pre = NULL, *o = NULL;
  if (d->c.transformer) {
    struct buf rows;
    buf_init(&rows, 0);
    batch_rows_text(batch, &rows);
    rc = worker_op(in, "preprocess", rows.data, rows.len, total, &pre, dead, e);
    buf_release(&rows);
    if (!rc) {
      oast_err de;
      if (rows_dense(pre, "preprocessed", d->nfeat, d->feature_names, x, &de))
        rc = oast_err_set(e, OAST_EINTERNAL, "deployment \"%s\": the transformer's preprocess output does not fit the "
                          "model: %s", d->c.name, de.msg);
    }
  } else {
    size_t off = 0;
    for (struct item *it = batch; it; it = it->next) {
      memcpy(x + off, it->dense, it->nrows * d->nfeat * sizeof *x);
      off += it->nrows * d->nfeat;
    }
  }
  if (!rc) rc = xgb_predict(d->xgb, x, total, &p, &width, e);
  if (!rc) rc = native_outputs(d, batch->verb, p, total, width, &o, e);
  if (!rc && d->c.transformer) {
    char *text = json_dumps(o, JSON_COMPACT);
    json_t *post = NULL;
    rc = worker_op(in, "postprocess", text, strlen(text), total, &post, dead, e);
    free(text);
    json_decref(o);
    o = rc ? NULL : post;
  }
  if (!rc) *outs = o;
  else json_decref(o);
  json_decref(pre);
  free(x);
  free(p);
  return rc;
}

static void run_batch(struct inst *in, struct item *batch) {
  struct dep *d = in->d;
  size_t total = 0;
  for (struct item *it = batch; it; it = it->next) total += it->nrows;
  json_t *outs = NULL;
  bool dead = false;
  oast_err e;
  oast_err_clear(&e);
  int rc = d->c.native ? native_batch(in, batch, total, &outs, &dead, &e)
                       : python_batch(in, batch, total, &outs, &dead, &e);
  size_t off = 0;
  for (struct item *it = batch, *next; it; it = next) {
    next = it->next;
    if (rc) it->err = e;
    else {
      it->outputs = json_array();
      for (size_t i = 0; i < it->nrows; i++) json_array_append(it->outputs, json_array_get(outs, off + i));
      off += it->nrows;
    }
    resolve(it);
  }
  json_decref(outs);
  if (dead && !restart(in)) {
    pthread_mutex_lock(&d->mu);
    in->retire = in->retire || d->quit;
    pthread_mutex_unlock(&d->mu);
  }
}

/* Rows of the items of the head's verb that fit one batch of max rows. */
static size_t head_rows(struct dep *d, int max) {
  size_t rows = 0;
  for (struct item *it = d->qhead; it && it->verb == d->qhead->verb; it = it->next) {
    if (rows && rows + it->nrows > (size_t)max) break;
    rows += it->nrows;
  }
  return rows;
}

static void leave(struct inst *in) {
  struct dep *d = in->d;
  worker_stop(&in->w, STOP_GRACE_MS);
  pthread_mutex_lock(&d->mu);
  in->state = I_DONE;
  in->pid = 0;
  pthread_cond_broadcast(&d->changed);
  pthread_mutex_unlock(&d->mu);
}

static void *inst_main(void *arg) {
  struct inst *in = arg;
  struct dep *d = in->d;
  bool worker = needs_worker(d);
  if (worker) {
    oast_err e;
    oast_err_clear(&e);
    int rc = boot(in, &e);
    pthread_mutex_lock(&d->mu);
    if (rc) {
      if (atomic_load(&d->state) == DEP_STARTING) {
        atomic_store(&d->state, DEP_FAILED);
        snprintf(d->error, sizeof d->error, "instance %d: %.560s", in->id, e.msg);
        d->quit = true;
        pthread_cond_broadcast(&d->work);
        pthread_cond_broadcast(&d->fill);
      }
      pthread_mutex_unlock(&d->mu);
      dep_event(d, "instance %d: %s", in->id, e.msg);
      if (atomic_load(&d->state) != DEP_FAILED && restart(in)) goto serve;
      leave(in);
      return NULL;
    }
    in->state = I_READY;
    d->ready++;
    bool booting = false;
    for (struct inst *o = d->insts; o; o = o->next) booting |= o->state == I_BOOTING;
    if (!booting && atomic_load(&d->state) == DEP_STARTING) {
      atomic_store(&d->state, DEP_RUNNING);
      dep_event(d, "running with %d instance%s", d->c.instances, d->c.instances == 1 ? "" : "s");
    }
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->mu);
  }
serve:
  for (;;) {
    pthread_mutex_lock(&d->mu);
    for (;;) {
      if (in->retire) goto out_locked;
      if (d->qhead && !d->collecting) break;
      if (d->quit && !d->qhead) goto out_locked;
      int64_t woke = rt_now_ms();
      wait_until(&d->work, &d->mu, woke + IDLE_CHECK_MS);
      if (rt_now_ms() - woke >= IDLE_CHECK_MS && !d->quit) {
        /* Idle: replace a worker that died, and fail requests nobody could take in time. */
        pthread_mutex_unlock(&d->mu);
        if (worker && !worker_alive(&in->w)) {
          dep_event(d, "instance %d: its worker ended while idle", in->id);
          if (!restart(in)) goto out;
        }
        expire_queue(d);
        pthread_mutex_lock(&d->mu);
      }
    }
    d->collecting = true;
    int max = atomic_load(&d->max_batch);
    if (max > 1) {
      int64_t deadline = d->qhead->enqueued_ms + atomic_load(&d->max_latency_ms);
      while (d->qhead && head_rows(d, max) < (size_t)max && !d->quit && !in->retire && rt_now_ms() < deadline)
        wait_until(&d->fill, &d->mu, deadline);
    }
    if (!d->qhead) {
      d->collecting = false;
      pthread_mutex_unlock(&d->mu);
      continue;
    }
    struct item *batch = d->qhead, *last = batch;
    size_t rows = batch->nrows, n = 1;
    while (max > 1 && last->next && last->next->verb == batch->verb && rows + last->next->nrows <= (size_t)max) {
      last = last->next;
      rows += last->nrows;
      n++;
    }
    d->qhead = last->next;
    if (!d->qhead) d->qtail = NULL;
    last->next = NULL;
    d->qitems -= n;
    d->collecting = false;
    d->busy_items += (int)n;
    in->state = I_BUSY;
    if (d->qhead) pthread_cond_signal(&d->work);
    pthread_mutex_unlock(&d->mu);
    if (worker && !worker_alive(&in->w)) {
      dep_event(d, "instance %d: its worker had ended; starting a new one before answering", in->id);
      if (!restart(in)) {
        oast_err e;
        oast_err_set(&e, OAST_EUNAVAILABLE, "deployment \"%s\" is stopping; the request was not answered", d->c.name);
        fail_items(batch, &e);
        batch = NULL;
      }
    }
    if (batch) run_batch(in, batch);
    pthread_mutex_lock(&d->mu);
    d->busy_items -= (int)n;
    if (in->state == I_BUSY) in->state = I_READY;
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->mu);
  }
out_locked:
  pthread_mutex_unlock(&d->mu);
out:
  leave(in);
  return NULL;
}

/* Adds an instance and starts its thread. Caller holds d->mu (or d is not shared yet). */
static void add_instance(struct dep *d) {
  struct inst *in = xcalloc(1, sizeof *in);
  in->d = d;
  in->id = ++d->next_inst_id;
  in->w.pid = 0;
  in->w.to_fd = in->w.from_fd = -1;
  in->state = needs_worker(d) ? I_BOOTING : I_READY;
  struct inst **pp = &d->insts;
  while (*pp) pp = &(*pp)->next;
  *pp = in;
  if (pthread_create(&in->th, NULL, inst_main, in) == 0) in->started = true;
  else {
    in->state = I_DONE;
    log_error("deployment %s: cannot start a thread for instance %d", d->c.name, in->id);
  }
}

/* Joins and frees the instances whose thread ended. */
static void reap_instances(struct dep *d) {
  pthread_mutex_lock(&d->mu);
  struct inst *done = NULL, **pp = &d->insts;
  while (*pp) {
    struct inst *in = *pp;
    if (in->state == I_DONE) {
      *pp = in->next;
      in->next = done;
      done = in;
    } else {
      pp = &in->next;
    }
  }
  pthread_mutex_unlock(&d->mu);
  for (struct inst *in = done, *next; in; in = next) {
    next = in->next;
    if (in->started) pthread_join(in->th, NULL);
    free(in);
  }
}

/* A deployment's runtime, loaded but not listed and with no instances yet; c is taken. */
static int dep_new(struct serving *sv, struct dep_config *c, struct dep **out, oast_err *e) {
  struct dep *d = xcalloc(1, sizeof *d);
  d->sv = sv;
  atomic_init(&d->refs, 1);
  d->c = *c;
  memset(c, 0, sizeof *c);
  d->log_fd = d->inflog_fd = -1;
  pthread_mutex_init(&d->mu, NULL);
  pthread_mutex_init(&d->inflog_mu, NULL);
  cond_init(&d->work);
  cond_init(&d->fill);
  cond_init(&d->changed);
  atomic_init(&d->logging, d->c.logging);
  atomic_init(&d->state, DEP_STARTING);
  atomic_init(&d->max_batch, d->c.max_batch);
  atomic_init(&d->max_latency_ms, d->c.max_latency_ms);
  atomic_init(&d->timeout_ms, d->c.timeout_ms);
  int rc = schema_parse(d->c.model_schema, &d->schema, e);
  if (!rc) rc = fs_mkdirs(d->c.log_dir, 0700, e);
  if (!rc) {
    char *path = fs_join(d->c.log_dir, "predictor.log");
    d->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (d->log_fd < 0) rc = oast_err_set(e, OAST_EIO, "cannot open the deployment's log: %s", strerror(errno));
    free(path);
  }
  if (!rc && d->c.native) {
    rc = xgb_load(d->c.model_file, &d->xgb, e);
    if (!rc) {
      d->nfeat = xgb_num_features(d->xgb);
      size_t nn = 0;
      char *const *names = xgb_feature_names(d->xgb, &nn);
      if (d->schema && d->schema->kind == SCHEMA_COLUMNS) {
        if (d->schema->ncols != d->nfeat)
          rc = oast_err_set(e, OAST_EBAD_REQUEST,
                            "the model schema has %zu columns but the XGBoost model takes %zu features", d->schema->ncols,
                            d->nfeat);
        d->feature_names = d->schema->names;
      } else {
        d->feature_names = names;
        size_t need = 1;
        for (int i = 0; d->schema && i < d->schema->ndims; i++) need *= d->schema->dims[i] < 0 ? d->nfeat : (size_t)d->schema->dims[i];
        if (d->schema && (d->schema->ndims > 1 || need != d->nfeat))
          rc = oast_err_set(e, OAST_EBAD_REQUEST,
                            "the model schema's tensor does not hold one row of the XGBoost model's %zu features",
                            d->nfeat);
      }
    }
  }
  if (rc) {
    dep_event(d, "cannot start: %s", e->msg);
    rt_put(d);
    return rc;
  }
  *out = d;
  return 0;
}

/* Lists d first, so that rt_get finds it before an older runtime of the same name. */
static void dep_link(struct dep *d) {
  pthread_mutex_lock(&d->sv->mu);
  d->next = d->sv->deps;
  d->sv->deps = d;
  pthread_mutex_unlock(&d->sv->mu);
}

static void dep_launch(struct dep *d) {
  dep_event(d, "starting model %s version %lld with %s predictor, %d instance%s", d->c.model,
            (long long)d->c.model_version, d->c.native ? "the native XGBoost" : "a Python", d->c.instances,
            d->c.instances == 1 ? "" : "s");
  pthread_mutex_lock(&d->mu);
  for (int i = 0; i < d->c.instances; i++) add_instance(d);
  if (!needs_worker(d)) atomic_store(&d->state, DEP_RUNNING);
  pthread_mutex_unlock(&d->mu);
}

int rt_start(struct serving *sv, struct dep_config *c, oast_err *e) {
  struct dep *d;
  int rc = dep_new(sv, c, &d, e);
  if (rc) return rc;
  dep_link(d);
  dep_launch(d);
  return 0;
}

static void stop_dep(struct serving *sv, struct dep *d);

int rt_replace(struct serving *sv, struct dep *old, struct dep_config *c, oast_err *e) {
  struct dep *d;
  int rc = dep_new(sv, c, &d, e);
  if (rc) return rc;
  dep_launch(d);
  /* Unlisted until every instance is ready: requests keep going to the old one meanwhile. */
  pthread_mutex_lock(&d->mu);
  int64_t deadline = rt_now_ms() + BOOT_TIMEOUT_MS + 5000;
  while (atomic_load(&d->state) == DEP_STARTING && rt_now_ms() < deadline)
    wait_until(&d->changed, &d->mu, rt_now_ms() + 100);
  int st = atomic_load(&d->state);
  if (st != DEP_RUNNING)
    rc = oast_err_set(e, OAST_ECONFLICT, "version %lld of model \"%s\" did not start (%s); version %lld goes on serving",
                      (long long)d->c.model_version, d->c.model, st == DEP_FAILED ? d->error : "it took too long",
                      (long long)old->c.model_version);
  pthread_mutex_unlock(&d->mu);
  if (rc) {
    stop_dep(sv, d);
    return rc;
  }
  dep_link(d);
  dep_event(d, "serving in place of version %lld; it stops once it has answered what it holds",
            (long long)old->c.model_version);
  stop_dep(sv, old);
  return 0;
}

void rt_stop(struct serving *sv, const char *name) {
  pthread_mutex_lock(&sv->mu);
  struct dep *d = sv->deps;
  while (d && strcmp(d->c.name, name)) d = d->next;
  pthread_mutex_unlock(&sv->mu);
  if (d) stop_dep(sv, d);
}

/* Drains and stops d, unlists it and drops the list's reference. */
static void stop_dep(struct serving *sv, struct dep *d) {
  int was = atomic_exchange(&d->state, DEP_STOPPING);
  pthread_mutex_lock(&d->mu);
  if (d->qitems || d->busy_items)
    dep_event(d, "stopping: answering %zu queued and %d taken requests first", d->qitems, d->busy_items);
  int64_t deadline = rt_now_ms() + atomic_load(&d->timeout_ms) + 5000;
  while ((d->qhead || d->busy_items) && was != DEP_FAILED && rt_now_ms() < deadline) {
    bool any = false;
    for (struct inst *in = d->insts; in; in = in->next) any |= in->state != I_DONE;
    if (!any) break;
    wait_until(&d->changed, &d->mu, rt_now_ms() + 50);
  }
  d->quit = true;
  struct item *left = d->qhead;
  d->qhead = d->qtail = NULL;
  d->qitems = 0;
  pthread_cond_broadcast(&d->work);
  pthread_cond_broadcast(&d->fill);
  pthread_cond_broadcast(&d->changed);
  pthread_mutex_unlock(&d->mu);
  if (left) {
    oast_err e;
    oast_err_set(&e, OAST_EUNAVAILABLE, "deployment \"%s\" was stopped before an instance could answer", d->c.name);
    fail_items(left, &e);
  }
  for (int i = 0; i < 5000 && atomic_load(&d->inline_inflight) > 0; i++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  /* Every instance leaves now; join them all. */
  pthread_mutex_lock(&d->mu);
  struct inst *all = d->insts;
  d->insts = NULL;
  pthread_mutex_unlock(&d->mu);
  for (struct inst *in = all, *next; in; in = next) {
    next = in->next;
    if (in->started) pthread_join(in->th, NULL);
    free(in);
  }
  pthread_mutex_lock(&sv->mu);
  struct dep **pp = &sv->deps;
  while (*pp && *pp != d) pp = &(*pp)->next;
  if (*pp) *pp = d->next;
  pthread_mutex_unlock(&sv->mu);
  dep_event(d, "stopped (%llu requests answered, %llu failed)", (unsigned long long)atomic_load(&d->served),
            (unsigned long long)atomic_load(&d->failed));
  rt_put(d);
}

void rt_update(struct dep *d, int instances, int max_batch, int max_latency_ms, int timeout_ms, int logging) {
  if (max_batch >= 0) atomic_store(&d->max_batch, max_batch);
  if (max_latency_ms >= 0) atomic_store(&d->max_latency_ms, max_latency_ms);
  if (timeout_ms > 0) atomic_store(&d->timeout_ms, timeout_ms);
  if (logging >= 0) atomic_store(&d->logging, logging);
  pthread_mutex_lock(&d->mu);
  if (max_batch >= 0 || max_latency_ms >= 0) pthread_cond_broadcast(&d->fill);
  if (instances > 0 && atomic_load(&d->state) != DEP_FAILED && !d->quit) {
    int live = 0;
    for (struct inst *in = d->insts; in; in = in->next) live += in->state != I_DONE && !in->retire;
    if (instances > live) {
      dep_event(d, "scaling up from %d to %d instances", live, instances);
      for (int i = live; i < instances; i++) add_instance(d);
    } else if (instances < live) {
      dep_event(d, "scaling down from %d to %d instances", live, instances);
      int keep = 0;
      for (struct inst *in = d->insts; in; in = in->next) {
        if (in->state == I_DONE || in->retire) continue;
        if (++keep > instances) {
          in->retire = true;
          if (in->state != I_BUSY) in->state = I_RETIRING;
        }
      }
      pthread_cond_broadcast(&d->work);
      pthread_cond_broadcast(&d->fill);
      pthread_cond_broadcast(&d->changed);
    }
    d->c.instances = instances;
  }
  pthread_mutex_unlock(&d->mu);
  reap_instances(d);
}

static const char *inst_state_name(int s) {
  static const char *const names[] = {"starting", "ready", "busy", "restarting", "retiring", "done"};
  return s >= 0 && s <= I_DONE ? names[s] : "unknown";
}

json_t *rt_status(struct dep *d) {
  pthread_mutex_lock(&d->mu);
  json_t *insts = json_array();
  for (struct inst *in = d->insts; in; in = in->next) {
    if (in->state == I_DONE) continue;
    json_t *o = json_pack("{s:i,s:s,s:i}", "id", in->id, "state", inst_state_name(in->retire && in->state != I_BUSY ? I_RETIRING : in->state),
                          "restarts", in->restarts);
    json_object_set_new(o, "pid", in->pid > 0 ? json_integer(in->pid) : json_null());
    json_array_append_new(insts, o);
  }
  int st = atomic_load(&d->state);
  json_t *j = json_pack("{s:s,s:o,s:I,s:{s:I,s:I}}", "state", dep_state_name(st), "instance_states", insts, "queued",
                        (json_int_t)d->qitems, "requests", "served", (json_int_t)atomic_load(&d->served), "failed",
                        (json_int_t)atomic_load(&d->failed));
  if (st == DEP_FAILED) json_object_set_new(j, "error", json_string(d->error));
  pthread_mutex_unlock(&d->mu);
  return j;
}

/* ---- the module ---- */

/* Where the oast Python package is: $OAST_PYTHONPATH, else beside the binary in a checkout, else installed. */
static char *find_pythonpath(void) {
  const char *env = getenv("OAST_PYTHONPATH");
  if (env && *env) return xstrdup(env);
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return NULL;
  exe[n] = '\0';
  char *dir = dirname(exe);
  static const char *const ups[] = {"/../python", "/../../python", "/../../../python"};
  for (size_t i = 0; i < sizeof ups / sizeof ups[0]; i++) {
    char *cand = xasprintf("%s%s/oast/predictor_worker.py", dir, ups[i]);
    bool ok = access(cand, R_OK) == 0;
    free(cand);
    if (ok) {
      char *rel = xasprintf("%s%s", dir, ups[i]);
      char *abs = realpath(rel, NULL);
      free(rel);
      if (abs) return abs;
    }
  }
  return NULL;
}

static void *reaper_main(void *arg) {
  struct serving *sv = arg;
  pthread_mutex_lock(&sv->reap_mu);
  while (!sv->reaper_quit) {
    wait_until(&sv->reap_cond, &sv->reap_mu, rt_now_ms() + REAP_MS);
    if (sv->reaper_quit) break;
    pthread_mutex_unlock(&sv->reap_mu);
    deploy_reap(sv->srv);
    pthread_mutex_lock(&sv->reap_mu);
  }
  pthread_mutex_unlock(&sv->reap_mu);
  return NULL;
}

static void reaper_stop(struct serving *sv) {
  if (!sv->reaper_started) return;
  pthread_mutex_lock(&sv->reap_mu);
  sv->reaper_quit = true;
  pthread_cond_broadcast(&sv->reap_cond);
  pthread_mutex_unlock(&sv->reap_mu);
  pthread_join(sv->reaper, NULL);
  sv->reaper_started = false;
}

int serve_start(struct server *s, oast_err *e) {
  struct serving *sv = xcalloc(1, sizeof *sv);
  sv->srv = s;
  pthread_mutex_init(&sv->mu, NULL);
  pthread_mutex_init(&sv->admin, NULL);
  pthread_mutex_init(&sv->reap_mu, NULL);
  cond_init(&sv->reap_cond);
  const char *py = getenv("OAST_PYTHON");
  sv->python = xstrdup(py && *py ? py : access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3");
  sv->pythonpath = find_pythonpath();
  s->serving = sv;
  deploy_restore(s);
  sv->reaper_started = pthread_create(&sv->reaper, NULL, reaper_main, sv) == 0;
  return 0;
}

static void stop_all(struct serving *sv) {
  pthread_mutex_lock(&sv->admin);
  for (;;) {
    pthread_mutex_lock(&sv->mu);
    char name[64] = "";
    if (sv->deps) snprintf(name, sizeof name, "%s", sv->deps->c.name);
    pthread_mutex_unlock(&sv->mu);
    if (!name[0]) break;
    rt_stop(sv, name);
  }
  pthread_mutex_unlock(&sv->admin);
}

void serve_stop(struct server *s) {
  struct serving *sv = s->serving;
  if (!sv) return;
  reaper_stop(sv);
  stop_all(sv);
  /* Suspended connections must be answered before the HTTP daemon may stop. */
  for (int i = 0; i < 10000 && atomic_load(&sv->deferred) > 0; i++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  if (atomic_load(&sv->deferred) > 0) log_warn("%d inference requests were still being answered at shutdown", atomic_load(&sv->deferred));
}

void serve_free(struct server *s) {
  struct serving *sv = s->serving;
  if (!sv) return;
  reaper_stop(sv);
  stop_all(sv);
  free(sv->python);
  free(sv->pythonpath);
  pthread_mutex_destroy(&sv->mu);
  pthread_mutex_destroy(&sv->admin);
  pthread_mutex_destroy(&sv->reap_mu);
  pthread_cond_destroy(&sv->reap_cond);
  free(sv);
  s->serving = NULL;
}
