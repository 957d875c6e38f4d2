/* resp.c — request accessors and response builders (see http.h). */
#include <errno.h>
#include <stdlib.h>
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

int req_follow_offset(struct req *r, bool *follow, uint64_t *offset, oast_err *e) {
  const char *fq = req_query(r, "follow"), *oq = req_query(r, "offset");
  *follow = fq && (!strcmp(fq, "true") || !strcmp(fq, "1"));
  *offset = 0;
  if (fq && !*follow && strcmp(fq, "false") && strcmp(fq, "0"))
    return oast_err_set(e, OAST_EBAD_REQUEST, "follow: must be true or false");
  if (oq) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(oq, &end, 10);
    if (!*oq || *end || errno || oq[0] == '-')
      return oast_err_set(e, OAST_EBAD_REQUEST, "offset: must be a byte offset (a non-negative integer)");
    *offset = v;
  }
  return 0;
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
