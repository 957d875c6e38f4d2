/*
 * infer.c — the inference routes, outside /api/v1: TensorFlow Serving's
 * REST API (/v1/models/NAME[/versions/V]:predict|:classify|:regress and
 * the model status) and KServe's v2 protocol (/v2/models/NAME/infer,
 * model metadata and readiness, server health).
 *
 * Access: any API key or token of a member of the deployment's project
 * (either role); a deployment of another project is "not found", as a
 * project is. Deployment names are unique per server, so the name alone
 * finds the project, and the check goes through authz like every route.
 *
 * The same TF Serving calls are also reachable inside the project's API,
 * /api/v1/projects/{p}/inference/models/NAME:verb, for clients that only
 * speak to /api/v1 (the CLI).
 *
 * The router splits paths on '/', so TF Serving's "NAME:predict" arrives
 * as one segment; the verb is split off here (names never hold ':').
 *
 * The hot path is an XGBoost deployment without batching: the handler
 * parses the body, checks it against the schema, builds the dense rows,
 * predicts on this HTTP thread and writes the answer's text directly. The
 * commonest body, {"instances": [[numbers], ...]}, is read straight into
 * the float rows without building JSON values (rows_fast_dense); any other
 * shape, and every malformed one, takes the general path.
 * Everything else is queued to the deployment's instances (runtime.c) and
 * answered when they resume the request.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authz.h"
#include "http/server.h"
#include "meta/meta.h"
#include "oast/version.h"
#include "serve/runtime.h"
#include "serve/xgb.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/json.h"

/* Rows of this many floats or fewer are built on the stack. */
#define STACK_FLOATS 512

/* Finds a running deployment the caller may call. 404 for non-members; 503 when it exists but does not run. */
static int find_dep(struct req *r, const char *name, struct dep **out, oast_err *e) {
  struct server *s = r->srv;
  *out = NULL;
  struct dep *d = rt_get(s->serving, name);
  char project[64] = "";
  if (d) snprintf(project, sizeof project, "%s", d->c.project);
  else {
    sqlite3_stmt *st = meta_bind(meta_stmt(s->meta, "SELECT p.name FROM deployments d JOIN projects p ON "
                                                    "p.id = d.project_id WHERE d.name = ?"),
                                 "s", name);
    if (st && sqlite3_step(st) == SQLITE_ROW) snprintf(project, sizeof project, "%s", (const char *)sqlite3_column_text(st, 0));
    if (st) sqlite3_reset(st);
  }
  /* Under /projects/{p}/inference the deployment must be that project's. */
  const char *in_project = req_param(r, "p");
  if (!project[0] || (in_project && strcmp(in_project, project) != 0) || authz_project(r, project, &r->proj, e)) {
    rt_put(d);
    return oast_err_set(e, OAST_ENOT_FOUND, "deployment \"%.64s\" not found", name);
  }
  if (d && d->c.project_id != r->proj.id) {
    /* A leftover of a deleted project whose name was taken again: never serve it to the new one's members. */
    rt_put(d);
    return oast_err_set(e, OAST_ENOT_FOUND, "deployment \"%.64s\" not found", name);
  }
  if (!d)
    return oast_err_set(e, OAST_EUNAVAILABLE, "deployment \"%.64s\" is not running; start it first", name);
  *out = d;
  return 0;
}

static int check_version(struct dep *d, const char *v, oast_err *e) {
  if (!v) return 0;
  char *end;
  long long x = strtoll(v, &end, 10);
  if (!*v || *end || x != d->c.model_version)
    return oast_err_set(e, OAST_ENOT_FOUND, "deployment \"%s\" serves version %lld of model %s, not version \"%.32s\"",
                        d->c.name, (long long)d->c.model_version, d->c.model, v);
  return 0;
}

/* ---- answers ---- */

static json_t *v2_answer(struct dep *d, const char *id, json_t *outputs) {
  char ver[32];
  snprintf(ver, sizeof ver, "%lld", (long long)d->c.model_version);
  json_t *outs = json_array();
  json_array_append_new(outs, v2_output(outputs, "predict"));
  json_t *j = json_pack("{s:s,s:s,s:o}", "model_name", d->c.name, "model_version", ver, "outputs", outs);
  if (id) json_object_set_new(j, "id", json_string(id));
  return j;
}

static json_t *tfs_answer(enum verb v, bool columnar, json_t *outputs) {
  const char *key = v != VERB_PREDICT ? "results" : columnar ? "outputs" : "predictions";
  return json_pack("{s:O}", key, outputs);
}

/* The deferred answer of a queued request (runs when an instance resumed it). */
static int answer(struct req *r, struct resp *w, oast_err *e) {
  struct item *it = r->state;
  if (it->err.code) {
    *e = it->err;
    return it->err.code;
  }
  resp_json(w, 200, it->proto == PROTO_V2 ? v2_answer(it->d, it->v2_id, it->outputs)
                                          : tfs_answer(it->verb, it->columnar, it->outputs));
  return 0;
}

/* ---- the inline native path ---- */

/* Whether a deployment's requests may take the fast path (rows_fast_dense): numbers only, nothing to log. */
static bool fast_ok(struct dep *d) {
  if (!d->c.native || d->c.transformer || atomic_load(&d->max_batch) > 1 || atomic_load(&d->logging) != LOG_NONE ||
      d->nfeat > STACK_FLOATS)
    return false;
  if (!d->schema) return true;
  if (d->schema->kind != SCHEMA_COLUMNS) return false;
  for (size_t i = 0; i < d->schema->ncols; i++)
    if (d->schema->types[i] != VT_FLOAT) return false;
  return true;
}

/* {"predictions": [p, ...]} (rows of lists for several outputs) as text; *start..*end is the list. */
static void predictions_text(struct buf *b, bool columnar, const float *p, size_t n, size_t width, size_t *start,
                             size_t *end) {
  buf_reserve(b, 32 + n * width * 14);
  buf_puts(b, columnar ? "{\"outputs\":" : "{\"predictions\":");
  *start = b->len;
  buf_putc(b, '[');
  char num[32];
  for (size_t i = 0; i < n; i++) {
    if (i) buf_putc(b, ',');
    if (width > 1) buf_putc(b, '[');
    for (size_t k = 0; k < width; k++) {
      if (k) buf_putc(b, ',');
      float_text(p[i * width + k], num, sizeof num);
      buf_puts(b, num);
    }
    if (width > 1) buf_putc(b, ']');
  }
  buf_putc(b, ']');
  *end = b->len;
  buf_putc(b, '}');
}

/* Predicts n dense rows on this HTTP thread and answers. rows (the request's, for the log) may be NULL. */
static int native_run(struct resp *w, struct dep *d, enum proto proto, enum verb verb, bool columnar, const char *id,
                      json_t *rows, const float *x, size_t n, oast_err *e) {
  atomic_fetch_add(&d->inline_inflight, 1);
  int st = atomic_load(&d->state), rc = 0;
  float *p = NULL;
  size_t width = 0;
  json_t *outs = NULL;
  if (st != DEP_RUNNING)
    rc = oast_err_set(e, OAST_EUNAVAILABLE, "deployment \"%s\" is %s; it does not take requests now", d->c.name,
                      dep_state_name(st));
  if (!rc) rc = xgb_predict(d->xgb, x, n, &p, &width, e);
  if (!rc && proto == PROTO_TFS && verb == VERB_PREDICT) {
    struct buf b;
    buf_init(&b, 0);
    size_t start, end;
    predictions_text(&b, columnar, p, n, width, &start, &end);
    if (rows && atomic_load(&d->logging) != LOG_NONE) {
      char *preds = xstrndup(b.data + start, end - start);
      inflog_write(d, verb, rows, NULL, preds, 200);
      free(preds);
    }
    resp_text(w, 200, b.data, b.len, "application/json");
    buf_release(&b);
  } else if (!rc) {
    rc = native_outputs(d, verb, p, n, width, &outs, e);
    if (!rc) {
      inflog_write(d, verb, rows, outs, NULL, 200);
      resp_json(w, 200, proto == PROTO_V2 ? v2_answer(d, id, outs) : tfs_answer(verb, columnar, outs));
    }
  }
  json_decref(outs);
  free(p);
  atomic_fetch_sub(&d->inline_inflight, 1);
  atomic_fetch_add(rc ? &d->failed : &d->served, 1);
  return rc;
}

static int native_inline(struct resp *w, struct dep *d, enum proto proto, enum verb verb, bool columnar, const char *id,
                         json_t *rows, oast_err *e) {
  size_t n = json_array_size(rows), need = n * d->nfeat;
  float stack[STACK_FLOATS], *x = need <= STACK_FLOATS ? stack : xmalloc(need * sizeof *x);
  int rc = rows_dense(rows, proto == PROTO_V2 ? "inputs" : columnar ? "inputs" : "instances", d->nfeat,
                      d->feature_names, x, e);
  if (!rc) rc = native_run(w, d, proto, verb, columnar, id, rows, x, n, e);
  else atomic_fetch_add(&d->failed, 1);
  if (x != stack) free(x);
  return rc;
}

/* ---- one inference request, any protocol ---- */

static int infer(struct req *r, struct resp *w, oast_err *e, enum proto proto, enum verb verb, const char *name,
                 const char *version) {
  struct dep *d;
  json_t *body = NULL, *rows = NULL;
  int rc = find_dep(r, name, &d, e);
  if (rc) return rc;
  bool columnar = false;
  const char *id = NULL;
  if ((rc = check_version(d, version, e))) goto out;
  if (proto == PROTO_TFS && verb == VERB_PREDICT && fast_ok(d)) {
    float x[STACK_FLOATS];
    size_t n = rows_fast_dense(r->body.data, r->body.len, d->nfeat, x, STACK_FLOATS / d->nfeat);
    if (n) {
      rc = native_run(w, d, proto, verb, false, NULL, NULL, x, n, e);
      goto out;
    }
  }
  if ((rc = req_json(r, &body, e))) goto out;
  /* With a transformer the request holds the transformer's inputs, which the model schema does not describe. */
  const struct in_schema *schema = d->c.transformer ? NULL : d->schema;
  if (proto == PROTO_V2) {
    rc = v2_rows(body, schema, &rows, e);
    id = json_string_value(json_object_get(body, "id"));
  } else {
    rc = tfs_rows(body, verb, schema, &rows, &columnar, e);
  }
  if (rc) goto out;
  bool native_direct = d->c.native && !d->c.transformer;
  if (native_direct && atomic_load(&d->max_batch) <= 1) {
    rc = native_inline(w, d, proto, verb, columnar, id, rows, e);
    goto out;
  }
  struct item *it = xcalloc(1, sizeof *it);
  it->d = d;
  d = NULL; /* the item holds the reference now */
  atomic_fetch_add(&it->d->sv->deferred, 1);
  it->r = r;
  it->verb = verb;
  it->proto = proto;
  it->columnar = columnar;
  it->v2_id = id ? xstrdup(id) : NULL;
  it->rows = rows;
  rows = NULL;
  it->nrows = json_array_size(it->rows);
  if (native_direct) {
    it->dense = xmalloc(it->nrows * it->d->nfeat * sizeof *it->dense);
    rc = rows_dense(it->rows, proto == PROTO_V2 ? "inputs" : columnar ? "inputs" : "instances", it->d->nfeat,
                    it->d->feature_names, it->dense, e);
  } else {
    it->rows_text = json_dumps(it->rows, JSON_COMPACT);
  }
  if (!rc) rc = rt_submit(it->d, it, answer, e);
  if (rc) item_free(it);
  else {
    r->state = it;
    r->state_free = item_free;
  }
out:
  json_decref(rows);
  json_decref(body);
  rt_put(d);
  return rc;
}

/* "NAME:verb" → name (into buf) and verb. */
static int split_verb(const char *seg, char *name, size_t n, enum verb *v, bool need, oast_err *e) {
  const char *colon = strrchr(seg, ':');
  if (!colon) {
    if (need)
      return oast_err_set(e, OAST_EBAD_REQUEST, "add the verb to the model's path: :predict, :classify or :regress");
    snprintf(name, n, "%s", seg);
    return 0;
  }
  const char *verb = colon + 1;
  if (!strcmp(verb, "predict")) *v = VERB_PREDICT;
  else if (!strcmp(verb, "classify")) *v = VERB_CLASSIFY;
  else if (!strcmp(verb, "regress")) *v = VERB_REGRESS;
  else
    return oast_err_set(e, OAST_ENOT_FOUND, "unknown verb \":%.32s\"; use :predict, :classify or :regress", verb);
  if ((size_t)(colon - seg) >= n) return oast_err_set(e, OAST_ENOT_FOUND, "deployment not found");
  snprintf(name, n, "%.*s", (int)(colon - seg), seg);
  return 0;
}

static int tfs_post(struct req *r, struct resp *w, oast_err *e) {
  char name[80], version[40];
  enum verb v = VERB_PREDICT;
  const char *ver = req_param(r, "v");
  int rc;
  if (ver) {
    snprintf(name, sizeof name, "%s", req_param(r, "name"));
    rc = split_verb(ver, version, sizeof version, &v, true, e);
  } else {
    rc = split_verb(req_param(r, "name"), name, sizeof name, &v, true, e);
  }
  if (rc) return rc;
  return infer(r, w, e, PROTO_TFS, v, name, ver ? version : NULL);
}

static int v2_infer(struct req *r, struct resp *w, oast_err *e) {
  return infer(r, w, e, PROTO_V2, VERB_PREDICT, req_param(r, "name"), req_param(r, "v"));
}

/* ---- status and metadata ---- */

static int tfs_status(struct req *r, struct resp *w, oast_err *e) {
  struct dep *d;
  int rc = find_dep(r, req_param(r, "name"), &d, e);
  if (rc && rc != OAST_EUNAVAILABLE) return rc;
  const char *state = "UNAVAILABLE";
  char ver[32] = "0";
  if (d) {
    if ((rc = check_version(d, req_param(r, "v"), e))) {
      rt_put(d);
      return rc;
    }
    int st = atomic_load(&d->state);
    state = st == DEP_RUNNING ? "AVAILABLE" : st == DEP_STARTING ? "LOADING" : st == DEP_STOPPING ? "UNLOADING" : "END";
    snprintf(ver, sizeof ver, "%lld", (long long)d->c.model_version);
  }
  json_t *status = json_pack("{s:s,s:s,s:{s:s,s:s}}", "version", ver, "state", state, "status", "error_code",
                             !strcmp(state, "AVAILABLE") ? "OK" : "UNAVAILABLE", "error_message", "");
  resp_json(w, 200, json_pack("{s:[o]}", "model_version_status", status));
  rt_put(d);
  return 0;
}

static const char *v2_type(enum vtype t) {
  switch (t) {
    case VT_INT: return "INT64";
    case VT_BOOL: return "BOOL";
    case VT_STRING: return "BYTES";
    default: return "FP64";
  }
}

static int v2_meta(struct req *r, struct resp *w, oast_err *e) {
  struct dep *d;
  int rc = find_dep(r, req_param(r, "name"), &d, e);
  if (rc) return rc;
  if ((rc = check_version(d, req_param(r, "v"), e))) {
    rt_put(d);
    return rc;
  }
  json_t *inputs = json_array();
  const struct in_schema *s = d->c.transformer ? NULL : d->schema;
  if (s && s->kind == SCHEMA_COLUMNS) {
    for (size_t i = 0; i < s->ncols; i++)
      json_array_append_new(inputs, json_pack("{s:s,s:s,s:[i]}", "name", s->names[i], "datatype", v2_type(s->types[i]),
                                              "shape", -1));
  } else if (s) {
    json_t *shape = json_pack("[i]", -1);
    for (int i = 0; i < s->ndims; i++) json_array_append_new(shape, json_integer(s->dims[i]));
    json_array_append_new(inputs, json_pack("{s:s,s:s,s:o}", "name", "input", "datatype", v2_type(s->ttype), "shape", shape));
  } else if (d->c.native && !d->c.transformer) {
    json_array_append_new(inputs, json_pack("{s:s,s:s,s:[i,I]}", "name", "input", "datatype", "FP32", "shape", -1,
                                            (json_int_t)d->nfeat));
  }
  char ver[32];
  snprintf(ver, sizeof ver, "%lld", (long long)d->c.model_version);
  json_t *outputs = json_pack("[{s:s,s:s,s:[i]}]", "name", "predict", "datatype", d->c.native ? "FP32" : "FP64",
                              "shape", -1);
  resp_json(w, 200, json_pack("{s:s,s:[s],s:s,s:o,s:o}", "name", d->c.name, "versions", ver, "platform",
                              d->c.native ? "xgboost" : "python", "inputs", inputs, "outputs", outputs));
  rt_put(d);
  return 0;
}

static int v2_ready(struct req *r, struct resp *w, oast_err *e) {
  struct dep *d;
  int rc = find_dep(r, req_param(r, "name"), &d, e);
  if (rc) return rc;
  if (!(rc = check_version(d, req_param(r, "v"), e))) {
    int st = atomic_load(&d->state);
    if (st == DEP_RUNNING) resp_json(w, 200, json_pack("{s:s,s:b}", "name", d->c.name, "ready", 1));
    else rc = oast_err_set(e, OAST_EUNAVAILABLE, "deployment \"%s\" is %s, not ready", d->c.name, dep_state_name(st));
  }
  rt_put(d);
  return rc;
}

static int v2_live(struct req *r, struct resp *w, oast_err *e) {
  resp_json(w, 200, json_pack("{s:b}", "live", 1));
  return 0;
}

static int v2_server_ready(struct req *r, struct resp *w, oast_err *e) {
  if (!r->srv->serving || r->srv->stopping)
    return oast_err_set(e, OAST_EUNAVAILABLE, "the server is not ready to serve models");
  resp_json(w, 200, json_pack("{s:b}", "ready", 1));
  return 0;
}

static int v2_server(struct req *r, struct resp *w, oast_err *e) {
  resp_json(w, 200, json_pack("{s:s,s:s,s:[]}", "name", "oast", "version", OAST_VERSION, "extensions"));
  return 0;
}

#define INFER_FLAGS (ROUTE_NO_AUDIT | ROUTE_KEEPS_ACCESS | ROUTE_ANY_TOKEN)

const struct route inference_routes[] = {
    {"POST", "/v1/models/{name}", ACCESS_USER, INFER_FLAGS, "inference.tfserving", tfs_post, NULL},
    {"POST", "/v1/models/{name}/versions/{v}", ACCESS_USER, INFER_FLAGS, "inference.tfserving", tfs_post, NULL},
    {"GET", "/v1/models/{name}", ACCESS_USER, ROUTE_ANY_TOKEN, "inference.status", tfs_status, NULL},
    {"GET", "/v1/models/{name}/versions/{v}", ACCESS_USER, ROUTE_ANY_TOKEN, "inference.status", tfs_status, NULL},
    {"POST", "/v2/models/{name}/infer", ACCESS_USER, INFER_FLAGS, "inference.v2", v2_infer, NULL},
    {"POST", "/v2/models/{name}/versions/{v}/infer", ACCESS_USER, INFER_FLAGS, "inference.v2", v2_infer, NULL},
    {"GET", "/v2/models/{name}", ACCESS_USER, ROUTE_ANY_TOKEN, "inference.metadata", v2_meta, NULL},
    {"GET", "/v2/models/{name}/versions/{v}", ACCESS_USER, ROUTE_ANY_TOKEN, "inference.metadata", v2_meta, NULL},
    {"GET", "/v2/models/{name}/ready", ACCESS_USER, ROUTE_ANY_TOKEN, "inference.ready", v2_ready, NULL},
    {"GET", "/v2/models/{name}/versions/{v}/ready", ACCESS_USER, ROUTE_ANY_TOKEN, "inference.ready", v2_ready, NULL},
    {"GET", "/v2/health/live", ACCESS_OPEN, 0, "inference.live", v2_live, NULL},
    {"GET", "/v2/health/ready", ACCESS_OPEN, 0, "inference.server_ready", v2_server_ready, NULL},
    {"GET", "/v2", ACCESS_OPEN, 0, "inference.server", v2_server, NULL},
    {"POST", "/api/v1/projects/{p}/inference/models/{name}", ACCESS_MEMBER, INFER_FLAGS, "inference.project",
     tfs_post, NULL},
    ROUTES_END,
};
