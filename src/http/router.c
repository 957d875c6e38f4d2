/*
 * router.c — the request pipeline: match, authenticate, authorize, read
 * or stream the body, run the handler, answer, audit.
 *
 * libmicrohttpd calls router_access several times per request: once with
 * the headers, then once per chunk of body, then once with no data. All
 * checks that do not need the body run on the first call, so a refused
 * upload is answered before its bytes are stored. URLs are kept raw (the
 * unescape callback in server.c is the identity) and decoded here segment
 * by segment, so an encoded "/" or NUL inside a segment is seen for what
 * it is instead of silently changing the path.
 */
#define _GNU_SOURCE
#include "http/router.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "auth/cache.h"
#include "auth/authz.h"
#include "http/server.h"
#include "meta/meta.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/log.h"
#include "util/path.h"

void audit_record(struct server *s, const char *user, int64_t project_id, const char *action, const char *target,
                  const char *outcome, int status, const char *detail) {
  sqlite3_stmt *st = meta_stmt(s->meta,
                               "INSERT INTO audit(time, user, project_id, action, target, outcome, status, detail) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st) return;
  meta_bind(st, "is", meta_now(), user);
  if (project_id > 0) sqlite3_bind_int64(st, 3, project_id);
  else sqlite3_bind_null(st, 3);
  sqlite3_bind_text(st, 4, action, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 5, target, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 6, outcome, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 7, status);
  sqlite3_bind_text(st, 8, detail ? detail : "", -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) log_error("cannot record audit line for %s %s", action, target);
}

/* ---- matching ---- */

struct seg {
  const char *p;
  size_t n;
};

static int split_raw(const char *url, struct seg *segs, int max) {
  int n = 0;
  const char *p = url;
  while (*p == '/') p++;
  while (*p) {
    const char *s = p;
    while (*p && *p != '/') p++;
    if (n == max) return -1;
    segs[n].p = s;
    segs[n].n = (size_t)(p - s);
    n++;
    if (*p == '/') p++;
  }
  return n;
}

/*
 * Route patterns are split into segments once, on first use, so matching
 * a request compares literal segments without allocating and decodes only
 * the captures of the route that matched.
 */
#define MAX_PATTERN_SEGS 16
struct compiled {
  const struct route *rt;
  int nseg;
  struct seg segs[MAX_PATTERN_SEGS];
  bool tail;            /* the last segment is {*name} */
};
static struct compiled *compiled_routes;
static size_t ncompiled;
static pthread_once_t compile_once = PTHREAD_ONCE_INIT;

static void compile_routes(void) {
  size_t n = 0;
  for (const struct route *const *t = router_tables; *t; t++)
    for (const struct route *rt = *t; rt->method; rt++) n++;
  compiled_routes = xcalloc(n ? n : 1, sizeof *compiled_routes);
  for (const struct route *const *t = router_tables; *t; t++)
    for (const struct route *rt = *t; rt->method; rt++) {
      struct compiled *c = &compiled_routes[ncompiled++];
      c->rt = rt;
      c->nseg = split_raw(rt->pattern, c->segs, MAX_PATTERN_SEGS);
      const struct seg *last = c->nseg > 0 ? &c->segs[c->nseg - 1] : NULL;
      c->tail = last && last->n >= 3 && last->p[0] == '{' && last->p[1] == '*';
    }
}

static bool is_capture(const struct seg *s) { return s->n >= 2 && s->p[0] == '{'; }

/* Whether the raw segments fit the pattern, comparing literals only. */
static bool fits(const struct compiled *c, const struct seg *segs, int nseg) {
  int fixed = c->tail ? c->nseg - 1 : c->nseg;
  if (c->tail ? nseg < fixed : nseg != fixed) return false;
  for (int i = 0; i < fixed; i++) {
    const struct seg *ps = &c->segs[i];
    if (is_capture(ps)) continue;
    if (ps->n != segs[i].n || memcmp(ps->p, segs[i].p, ps->n) != 0) return false;
  }
  return true;
}

/* Decodes the captures of a fitting route into r; -1 on a malformed escape. */
static int capture(struct req *r, const struct compiled *c, const struct seg *segs, int nseg, const char *url) {
  int np = 0;
  for (int i = 0; i < c->nseg && np < REQ_MAX_PARAMS; i++) {
    const struct seg *ps = &c->segs[i];
    if (!is_capture(ps)) continue;
    bool tail = c->tail && i == c->nseg - 1;
    const char *from = tail ? (i < nseg ? segs[i].p : url + strlen(url)) : segs[i].p;
    size_t len = tail ? strlen(from) : segs[i].n;
    char *v;
    size_t vn;
    if (url_decode(from, len, &v, &vn) != 0) {
      r->nparams = np;
      router_free_params(r);
      return -1;
    }
    r->param_names[np] = tail ? xstrndup(ps->p + 2, ps->n - 3) : xstrndup(ps->p + 1, ps->n - 2);
    r->param_vals[np] = v;
    r->param_lens[np] = vn;
    np++;
  }
  r->nparams = np;
  return 0;
}

void router_free_params(struct req *r) {
  for (int k = 0; k < r->nparams; k++) {
    free(r->param_names[k]);
    free(r->param_vals[k]);
  }
  r->nparams = 0;
}

/* Finds the route; 0, or an error (404 unknown path, 405 wrong method, 400 bad escape). */
int router_find(struct req *r, const char *url, const char *method, oast_err *e) {
  pthread_once(&compile_once, compile_routes);
  struct seg segs[80];
  int nseg = split_raw(url, segs, 80);
  if (nseg < 0) return oast_err_set(e, OAST_EBAD_REQUEST, "the URL has more than 80 path segments");
  bool path_matched = false;
  for (size_t i = 0; i < ncompiled; i++) {
    const struct compiled *c = &compiled_routes[i];
    if (!fits(c, segs, nseg)) continue;
    if (strcmp(c->rt->method, method) != 0 && !(!strcmp(method, "HEAD") && !strcmp(c->rt->method, "GET"))) {
      path_matched = true;
      continue;
    }
    if (capture(r, c, segs, nseg, url) != 0)
      return oast_err_set(e, OAST_EBAD_REQUEST, "the URL has a malformed percent-escape");
    r->route = c->rt;
    return 0;
  }
  if (path_matched) return oast_err_set(e, OAST_EMETHOD, "method %s is not allowed on %s", method, url);
  return oast_err_set(e, OAST_ENOT_FOUND, "no route %s %s", method, url);
}

const char *req_query(struct req *r, const char *name) {
  const char *raw = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
  if (!raw) return NULL;
  if (r->nquery == (int)(sizeof r->query_cache / sizeof r->query_cache[0])) return NULL;
  char *plus = xstrdup(raw);
  for (char *c = plus; *c; c++)
    if (*c == '+') *c = ' ';
  char *v;
  size_t n;
  if (url_decode(plus, strlen(plus), &v, &n) != 0 || n != strlen(v)) {
    free(plus);
    if (n == 0) return NULL;
    free(v);
    return NULL;
  }
  free(plus);
  r->query_cache[r->nquery++] = v;
  return v;
}

/* ---- the pipeline ---- */

static void req_free(struct req *r) {
  if (!r) return;
  router_free_params(r);
  for (int i = 0; i < r->nquery; i++) free(r->query_cache[i]);
  buf_release(&r->body);
  if (r->upload_open) fs_tmp_discard(&r->upload);
  if (r->state && r->state_free) r->state_free(r->state);
  free(r->path);
  free(r);
}

/* Authentication and the project-level check, before any body byte. */
static int admit(struct req *r, oast_err *e) {
  const struct route *rt = r->route;
  if (rt->access == ACCESS_OPEN) return 0;
  int rc = auth_resolve(r->srv, req_header(r, MHD_HTTP_HEADER_AUTHORIZATION), &r->who, e);
  if (rc) {
    r->denied = true;
    return rc;
  }
  const char *p = req_param(r, "p");
  if (r->who.only_project && !p && !(rt->flags & ROUTE_ANY_TOKEN))
    return authz_deny(r, e, OAST_EFORBIDDEN, "a job or trial token can only act inside its own project");
  switch (rt->access) {
    case ACCESS_ADMIN:
      if (!r->who.admin) return authz_deny(r, e, OAST_EFORBIDDEN, "only the administrator may do this");
      return 0;
    case ACCESS_MEMBER:
    case ACCESS_OWNER:
      rc = authz_project(r, p ? p : "", &r->proj, e);
      if (rc) return rc;
      if (rt->access == ACCESS_OWNER) return authz_require(r, RIGHT_MANAGE, e);
      return 0;
    default:
      return 0;
  }
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, struct resp *w) {
  struct MHD_Response *mr = w->raw;
  if (!mr) {
    if (w->json) {
      char *s = json_dump(w->json);
      mr = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
      MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    } else {
      mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
  }
  w->raw = NULL;
  enum MHD_Result ret = MHD_queue_response(conn, (unsigned)w->status, mr);
  MHD_destroy_response(mr);
  json_decref(w->json);
  w->json = NULL;
  return ret;
}

static void error_resp(struct resp *w, const oast_err *e) {
  int code = e->code ? e->code : OAST_EINTERNAL;
  const char *msg = e->msg[0] ? e->msg : oast_err_default_msg(code);
  if (w->raw) MHD_destroy_response(w->raw);
  w->raw = NULL;
  resp_json(w, oast_err_http(code), json_pack("{s:{s:s,s:s}}", "error", "code", oast_err_name(code), "message", msg));
}

static void audit_req(struct req *r, int status, bool failed) {
  const struct route *rt = r->route;
  if (!rt) return;
  bool mutating = strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0 && !(rt->flags & ROUTE_READ);
  if (!r->denied && (!mutating || (rt->flags & ROUTE_NO_AUDIT))) return;
  const char *outcome = r->denied ? "denied" : failed ? "error" : "ok";
  const char *user = r->who.username[0] ? r->who.username : "anonymous";
  const char *target = r->audit_target[0] ? r->audit_target : r->path;
  audit_record(r->srv, user, r->proj.id, rt->action ? rt->action : rt->pattern, target, outcome, status, NULL);
}

static enum MHD_Result finish(struct req *r, struct resp *w, oast_err *e, int rc) {
  if (rc) error_resp(w, e);
  if (w->status == 0) w->status = 200;
  if (w->status >= 500) log_error("%s %s -> %d: %s", r->method, r->path, w->status, e->msg);
  r->status = w->status;
  if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0 &&
      !(r->route && (r->route->flags & (ROUTE_KEEPS_ACCESS | ROUTE_READ))))
    auth_cache_invalidate(r->srv);
  audit_req(r, w->status, rc != 0 || w->status >= 400);
  return send_resp(r->conn, w);
}

enum MHD_Result router_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **con_cls) {
  struct server *s = cls;
  struct req *r = *con_cls;
  oast_err e;
  oast_err_clear(&e);
  if (!r) {
    r = xcalloc(1, sizeof *r);
    *con_cls = r;
    r->srv = s;
    r->conn = conn;
    r->method = method;
    char *dec;
    size_t dn;
    r->path = url_decode(url, strlen(url), &dec, &dn) == 0 ? dec : xstrdup(url);
    buf_init(&r->body, s->cfg.max_json_body);
    int rc = router_find(r, url, method, &e);
    /*
     * A request without a body is admitted in the final callback, inside one
     * read transaction with its handler: libmicrohttpd closes the connection
     * of a request answered on its first callback, and one transaction
     * instead of one per query halves the database's locking.
     */
    const char *cl = req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = req_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    r->has_body = (cl && strtoull(cl, NULL, 10) > 0) || (te && strcasestr(te, "chunked"));
    if (!rc && !r->has_body) return MHD_YES;
    if (!rc) rc = admit(r, &e);
    if (!rc) {
      uint64_t max = (r->route->flags & ROUTE_STREAM) ? s->cfg.max_upload : s->cfg.max_json_body;
      if (cl && strtoull(cl, NULL, 10) > max)
        rc = oast_err_set(&e, OAST_ETOO_LARGE, "the request body (%s bytes) is larger than the limit of %" PRIu64 " bytes",
                          cl, max);
    }
    if (!rc && (r->route->flags & ROUTE_STREAM) && r->route->begin) {
      rc = r->route->begin(r, &e);
      if (!rc && !r->upload_max) r->upload_max = s->cfg.max_upload;
    }
    if (rc && !r->has_body) {
      r->pending_error = e;
      return MHD_YES;
    }
    if (rc) {
      struct resp w = {0};
      return finish(r, &w, &e, rc);
    }
    r->admitted = true;
    return MHD_YES;
  }
  if (*upload_data_size) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (r->pending_error.code) return MHD_YES; /* refused already: the rest is read and dropped */
    int rc = 0;
    if (r->route->flags & ROUTE_STREAM) {
      if (r->upload_len + n > r->upload_max)
        rc = oast_err_set(&e, OAST_ETOO_LARGE, "the upload is larger than the limit of %" PRIu64 " bytes",
                          r->upload_max);
      else if (r->upload_open)
        rc = fs_tmp_write(&r->upload, upload_data, n, &e);
      r->upload_len += n;
    } else if (buf_append(&r->body, upload_data, n) != 0) {
      rc = oast_err_set(&e, OAST_ETOO_LARGE, "the request body is larger than the limit of %zu bytes",
                        s->cfg.max_json_body);
    }
    if (rc) {
      /* libmicrohttpd answers only once the body is consumed; remember the error until then. */
      if (r->upload_open) {
        fs_tmp_discard(&r->upload);
        r->upload_open = false;
      }
      buf_release(&r->body);
      r->pending_error = e;
    }
    return MHD_YES;
  }
  if (r->then) {
    /* Resumed after req_defer: the other thread's result is in r->state. */
    struct resp w = {0};
    route_fn then = r->then;
    r->then = NULL;
    int rc = then(r, &w, &e);
    return finish(r, &w, &e, rc);
  }
  if (r->pending_error.code || !r->route) {
    struct resp w = {0};
    e = r->pending_error;
    if (!e.code) router_find(r, url, method, &e);
    return finish(r, &w, &e, e.code ? e.code : OAST_EINTERNAL);
  }
  struct resp w = {0};
  int rc = 0;
  bool read_txn = false;
  if (!r->admitted) {
    /* Bodiless: admit now, and run reads in one transaction. */
    read_txn = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (read_txn && meta_begin_read(s->meta) != 0) read_txn = false;
    rc = admit(r, &e);
    if (!rc && (r->route->flags & ROUTE_STREAM) && r->route->begin) {
      rc = r->route->begin(r, &e);
      if (!rc && !r->upload_max) r->upload_max = s->cfg.max_upload;
    }
  }
  if (!rc) rc = r->route->fn(r, &w, &e);
  if (read_txn) meta_end_read(s->meta);
  if (!rc && r->then) return MHD_YES; /* deferred: suspended until req_resume */
  r->then = NULL;
  return finish(r, &w, &e, rc);
}

void req_defer(struct req *r, route_fn then) {
  r->then = then;
  MHD_suspend_connection(r->conn);
}

void req_resume(struct req *r) { MHD_resume_connection(r->conn); }

/* ---- offloaded handlers ---- */

static _Atomic int offloaded; /* handlers running on their own threads, all servers of the process */

struct offload {
  route_fn fn;
  struct req *r;
  struct resp w;
  oast_err e;
  int rc;
};

static void offload_free(void *p) {
  struct offload *o = p;
  json_decref(o->w.json);
  if (o->w.raw) MHD_destroy_response(o->w.raw);
  free(o);
}

/* On an HTTP thread, once resumed: the answer the handler built. */
static int offload_then(struct req *r, struct resp *w, oast_err *e) {
  struct offload *o = r->state;
  *w = o->w;
  memset(&o->w, 0, sizeof o->w);
  *e = o->e;
  return o->rc;
}

static void *offload_main(void *arg) {
  struct offload *o = arg;
  o->rc = o->fn(o->r, &o->w, &o->e);
  req_resume(o->r); /* o and r belong to the connection again */
  atomic_fetch_sub(&offloaded, 1);
  return NULL;
}

int req_offload(struct req *r, route_fn fn, oast_err *e) {
  if (r->state) return oast_err_set(e, OAST_EINTERNAL, "a handler with state cannot be offloaded");
  struct offload *o = xcalloc(1, sizeof *o);
  o->fn = fn;
  o->r = r;
  oast_err_clear(&o->e);
  r->state = o;
  r->state_free = offload_free;
  req_defer(r, offload_then);
  atomic_fetch_add(&offloaded, 1);
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  pthread_t th;
  if (pthread_create(&th, &at, offload_main, o) != 0) offload_main(o); /* no thread to be had: here, then */
  pthread_attr_destroy(&at);
  return 0;
}

void router_wait_offloaded(struct server *s) {
  (void)s;
  for (int i = 0; i < 120000 && atomic_load(&offloaded) > 0; i++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  if (atomic_load(&offloaded) > 0) log_warn("%d requests were still being answered at shutdown", atomic_load(&offloaded));
}

void router_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
  struct req *r = *con_cls;
  if (!r) return;
  if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && r->route && !r->status) {
    /* The client went away mid-request: whatever was uploaded is discarded by req_free. */
    audit_req(r, 499, true);
  }
  req_free(r);
  *con_cls = NULL;
}
