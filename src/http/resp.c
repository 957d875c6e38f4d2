/* resp.c — request accessors and response builders (see http.h). */
#include <string.h>
#include <unistd.h>

#include "http/http.h"
#include "http/server.h"
#include "util/alloc.h"
#include "util/json.h"

const char *req_param(struct req *r, const char *name) {
  for (int i = 0; i < r->nparams; i++)
    if (strcmp(r->param_names[i], name) == 0) return r->param_vals[i];
  return NULL;
}

const char *req_header(struct req *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

int req_json(struct req *r, json_t **out, oast_err *e) { return json_parse_object(r->body.data, r->body.len, out, e); }

void resp_json(struct resp *w, int status, json_t *j) {
  w->status = status;
  json_decref(w->json);
  w->json = j;
}

void resp_empty(struct resp *w, int status) { w->status = status; }

void resp_items(struct resp *w, json_t *arr) { resp_json(w, 200, json_pack("{s:o}", "items", arr)); }

void resp_fd(struct resp *w, int status, int fd, uint64_t size, const char *content_type) {
  w->status = status;
  w->raw = MHD_create_response_from_fd64(size, fd);
  if (w->raw) MHD_add_response_header(w->raw, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  else close(fd);
}

void resp_text(struct resp *w, int status, const char *text, size_t len, const char *content_type) {
  w->status = status;
  char *copy = xmalloc(len + 1);
  memcpy(copy, text, len);
  w->raw = MHD_create_response_from_buffer(len, copy, MHD_RESPMEM_MUST_FREE);
  MHD_add_response_header(w->raw, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
}
