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
#include "http/router.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
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

/* 1: matched; 0: no; params filled on a match. Decoding errors give -1. */
static int match(struct req *r, const struct route *rt, const struct seg *segs, int nseg, const char *url) {
  struct seg pat[32];
  int np = split_raw(rt->pattern, pat, 32);
  int nparams = 0;
  char *vals[REQ_MAX_PARAMS];
  size_t lens[REQ_MAX_PARAMS];
  char *names[REQ_MAX_PARAMS];
  int i;
  for (i = 0; i < np; i++) {
    const struct seg *ps = &pat[i];
    if (ps->n >= 3 && ps->p[0] == '{' && ps->p[1] == '*') {
      /* The rest of the path, possibly empty. */
      const char *rest = i < nseg ? segs[i].p : url + strlen(url);
      char *v;
      size_t vn;
      if (url_decode(rest, strlen(rest), &v, &vn) != 0) goto bad;
      names[nparams] = xstrndup(ps->p + 2, ps->n - 3);
      vals[nparams] = v;
      lens[nparams] = vn;
      nparams++;
      i = np;
      nseg = np; /* consumed */
      break;
    }
    if (i >= nseg) goto no;
    if (ps->n >= 2 && ps->p[0] == '{') {
      char *v;
      size_t vn;
      if (url_decode(segs[i].p, segs[i].n, &v, &vn) != 0) goto bad;
      if (nparams == REQ_MAX_PARAMS) {
        free(v);
        goto no;
      }
      names[nparams] = xstrndup(ps->p + 1, ps->n - 2);
      vals[nparams] = v;
      lens[nparams] = vn;
      nparams++;
    } else if (ps->n != segs[i].n || memcmp(ps->p, segs[i].p, ps->n) != 0) {
      goto no;
    }
  }
  if (nseg != np) goto no;
  for (int k = 0; k < nparams; k++) {
    r->param_names[k] = names[k];
    r->param_vals[k] = vals[k];
    r->param_lens[k] = lens[k];
  }
  r->nparams = nparams;
  return 1;
no:
  for (int k = 0; k < nparams; k++) {
    free(names[k]);
    free(vals[k]);
  }
  return 0;
bad:
  for (int k = 0; k < nparams; k++) {
    free(names[k]);
    free(vals[k]);
  }
  return -1;
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
  struct seg segs[72];
  int nseg = split_raw(url, segs, 72);
  if (nseg < 0) return oast_err_set(e, OAST_ENOT_FOUND, "no such route");
  bool path_matched = false;
  for (const struct route *const *t = router_tables; *t; t++) {
    for (const struct route *rt = *t; rt->method; rt++) {
      int m = match(r, rt, segs, nseg, url);
      if (m < 0) return oast_err_set(e, OAST_EBAD_REQUEST, "the URL has a malformed percent-escape");
      if (m == 0) continue;
      if (strcmp(rt->method, method) == 0 || (!strcmp(method, "HEAD") && !strcmp(rt->method, "GET"))) {
        r->route = rt;
        return 0;
      }
      path_matched = true;
      router_free_params(r);
    }
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
  bool mutating = strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0;
  if (!rt) return;
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
  audit_req(r, w->status, rc != 0);
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
    if (!rc) rc = admit(r, &e);
    if (!rc) {
      const char *cl = req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
      uint64_t max = (r->route->flags & ROUTE_STREAM) ? s->cfg.max_upload : s->cfg.max_json_body;
      if (cl && strtoull(cl, NULL, 10) > max)
        rc = oast_err_set(&e, OAST_ETOO_LARGE, "the request body (%s bytes) is larger than the limit of %" PRIu64 " bytes",
                          cl, max);
    }
    if (!rc && (r->route->flags & ROUTE_STREAM) && r->route->begin) {
      rc = r->route->begin(r, &e);
      if (!rc && !r->upload_max) r->upload_max = s->cfg.max_upload;
    }
    if (rc) {
      struct resp w = {0};
      return finish(r, &w, &e, rc);
    }
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
  if (r->pending_error.code) {
    struct resp w = {0};
    e = r->pending_error;
    return finish(r, &w, &e, e.code);
  }
  struct resp w = {0};
  int rc = r->route->fn(r, &w, &e);
  return finish(r, &w, &e, rc);
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
