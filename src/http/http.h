/*
 * http.h — the server's request/response model and route table types.
 *
 * A route is one row of a table: method, pattern, the access it needs,
 * flags, an audit action name and a handler. The router (router.c) matches
 * the pattern, authenticates the caller and checks the project-level
 * access in one place (auth/authz.c) before any handler runs, so no
 * handler can forget it; handlers that need finer checks (a dataset shared
 * read-only, say) call the same authz functions. Mutating calls and every
 * refused call are audited by the router too.
 *
 * Patterns are literal segments and `{name}` captures; a final `{*name}`
 * captures the rest of the path (decoded, possibly with slashes). The
 * first matching row wins; a path that matches a pattern but not its
 * method is a 405.
 *
 * Bodies: by default a request body is buffered up to the server's JSON
 * cap. A ROUTE_STREAM route instead names a `begin` hook that runs after
 * the access check and before the first byte, and opens `r->upload`
 * (a temp file beside its final place); the router streams the body into
 * it with the route's size cap, and the handler commits it. A failed or
 * aborted upload is discarded, so files appear whole or not at all.
 *
 * Answering later: a handler whose work is done by another thread (model
 * inference queued for a batch) calls req_defer before handing the
 * request over and returns 0 without answering. The connection is
 * suspended, so no HTTP thread waits; the other thread calls req_resume
 * once, when the result is in r->state, and the router then runs the
 * `then` function on an HTTP thread to build the answer.
 */
#ifndef HTTP_HTTP_H
#define HTTP_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "oast/error.h"
#include "util/buf.h"
#include "util/fs.h"

struct server;

/* Who is calling, resolved from the bearer credential. */
struct principal {
  int64_t user_id;       /* 0: anonymous */
  char username[64];
  bool admin;
  int64_t only_project;  /* >0: a job/trial token confined to this project */
  char token_kind[16];   /* "api_key", "login", "trial", "job" */
};

/* The project a {p} route is about, resolved by the router. */
struct project_ref {
  int64_t id;            /* 0: route has no {p} */
  char name[64];
  char role[24];         /* the caller's role in it: "data_owner" | "data_scientist" */
};

#define REQ_MAX_PARAMS 8

struct req;
struct resp;
typedef int (*route_fn)(struct req *r, struct resp *w, oast_err *e);

struct req {
  struct server *srv;
  struct MHD_Connection *conn;
  const struct route *route;
  const char *method;
  char *path;                         /* decoded URL path, owned */
  char *param_names[REQ_MAX_PARAMS];  /* borrowed from the route pattern copy */
  char *param_vals[REQ_MAX_PARAMS];   /* owned, decoded */
  size_t param_lens[REQ_MAX_PARAMS];  /* decoded lengths (a NUL inside shows as len > strlen) */
  char *query_cache[16];              /* decoded query values handed out by req_query, owned */
  int nquery;
  int nparams;
  struct principal who;
  struct project_ref proj;
  struct buf body;                    /* buffered body (non-stream routes) */
  struct fs_tmp upload;               /* ROUTE_STREAM: opened by begin */
  bool upload_open;
  uint64_t upload_len;
  uint64_t upload_max;                /* set by begin; 0 means the server default */
  void *state;                        /* for begin -> handler hand-off; freed with state_free */
  void (*state_free)(void *);
  char audit_target[512];             /* what the audit line names; defaults to the path */
  int status;                         /* final HTTP status, for the audit */
  bool has_body;                      /* Content-Length > 0 or chunked */
  bool admitted;                      /* authenticated and authorized */
  oast_err pending_error;             /* a refusal found mid-body, answered at its end */
  bool denied;                        /* refused by authz: audited as "denied" */
  route_fn then;                      /* set by req_defer: builds the answer once resumed */
};

/* What a handler answers. Exactly one of json / raw is set, or neither for an empty body. */
struct resp {
  int status;
  json_t *json;                 /* owned */
  struct MHD_Response *raw;     /* owned; built by resp_file/resp_text/resp_stream */
};

typedef int (*route_begin_fn)(struct req *r, oast_err *e);

/* Access levels checked by the router before a handler runs. */
enum access {
  ACCESS_OPEN,     /* no credential needed (health only) */
  ACCESS_USER,     /* any authenticated user */
  ACCESS_ADMIN,    /* the platform administrator */
  ACCESS_MEMBER,   /* a member of {p}, either role */
  ACCESS_OWNER,    /* a data owner of {p} */
};

enum route_flags {
  ROUTE_STREAM = 1,       /* body streamed into r->upload by begin */
  ROUTE_NO_AUDIT = 2,     /* a mutating route not worth auditing (trial reports) */
  ROUTE_ANY_TOKEN = 4,    /* trial/job tokens may call this outside their project check */
  ROUTE_KEEPS_ACCESS = 8, /* a POST that changes nothing access depends on (inference): the access cache stays */
  ROUTE_READ = 16,        /* a POST that only reads (lookups with a body): not audited, keeps the access cache */
};

struct route {
  const char *method;
  const char *pattern;
  enum access access;
  int flags;
  const char *action;     /* audit action, e.g. "member.add" */
  route_fn fn;
  route_begin_fn begin;   /* ROUTE_STREAM only */
};

/* Module route tables end with a row whose method is NULL. */
#define ROUTES_END {NULL, NULL, 0, 0, NULL, NULL, NULL}

/* Request accessors. */
const char *req_param(struct req *r, const char *name);    /* NULL if absent */
const char *req_query(struct req *r, const char *name);    /* NULL if absent */
const char *req_header(struct req *r, const char *name);
/* The query of a log stream: ?follow=true|false|1|0 and ?offset=BYTES (400 naming the bad one). */
int req_follow_offset(struct req *r, bool *follow, uint64_t *offset, oast_err *e);
/* Parses the buffered body as a JSON object (400 naming the problem). Caller decrefs. */
int req_json(struct req *r, json_t **out, oast_err *e);

/*
 * Answering later (see the top of this file). req_defer suspends the
 * connection; call it on the HTTP thread, in the handler, before another
 * thread can see r. req_resume (any thread, exactly once) wakes it; after
 * it the other thread must not touch r. The answer is then(r, w, e).
 * Buffered (non-stream) routes only; the server's daemon must allow it.
 */
void req_defer(struct req *r, route_fn then);
void req_resume(struct req *r);
/*
 * Runs handler fn on a thread of its own and answers with what it
 * answers, for work that may wait for seconds (draining a deployment,
 * booting a model version): an HTTP thread serves many connections, and
 * none of them should wait behind it. Call it as the handler's return
 * value, before anything else touched r->state. Any body is already read.
 */
int req_offload(struct req *r, route_fn fn, oast_err *e);
/* At shutdown, before the modules stop: waits (bounded) for offloaded handlers to answer. */
void router_wait_offloaded(struct server *s);

/* Response builders. resp_json steals the reference. */
void resp_json(struct resp *w, int status, json_t *j);
void resp_empty(struct resp *w, int status);
/* Streams an open fd (taken over) of size bytes from offset 0. */
void resp_fd(struct resp *w, int status, int fd, uint64_t size, const char *content_type);
void resp_text(struct resp *w, int status, const char *text, size_t len, const char *content_type);
/* {"items": arr} with arr stolen. */
void resp_items(struct resp *w, json_t *arr);

#endif
