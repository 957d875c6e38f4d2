/* system.c — routes about the server itself: health and the global audit. */
#include <string.h>

#include "http/http.h"
#include "http/server.h"
#include "meta/meta.h"
#include "oast/version.h"
#include "project/project.h"

static int health(struct req *r, struct resp *w, oast_err *e) {
  /* A fixed body: the health check is the HTTP ceiling's peer in bench/, so it allocates nothing. */
  static const char body[] = "{\"status\":\"ok\",\"version\":\"" OAST_VERSION "\"}";
  w->status = 200;
  w->raw = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(w->raw, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  return 0;
}

static int audit_all(struct req *r, struct resp *w, oast_err *e) { return audit_list(r, w, 0, e); }

const struct route system_routes[] = {
    {"GET", "/api/v1/health", ACCESS_OPEN, 0, "health", health, NULL},
    {"GET", "/api/v1/audit", ACCESS_ADMIN, 0, "audit.list", audit_all, NULL},
    ROUTES_END,
};
