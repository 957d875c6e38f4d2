/*
 * router.h — matches requests to the route tables of all modules and runs
 * them with authentication, access checks and auditing (see http.h).
 */
#ifndef HTTP_ROUTER_H
#define HTTP_ROUTER_H

#include "http/http.h"

struct server;

/* The libmicrohttpd callbacks, with the server as closure. */
enum MHD_Result router_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **con_cls);
void router_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe);

/* Finds the route of url and method, filling r->route and its params; 404/405/400 otherwise. */
int router_find(struct req *r, const char *url, const char *method, oast_err *e);
/* Releases the params router_find captured. */
void router_free_params(struct req *r);

/* Every module's table, in match order, NULL-terminated (routes.c). */
extern const struct route *const router_tables[];

/* Records one audit line (also used by handlers for extra events). */
void audit_record(struct server *s, const char *user, int64_t project_id, const char *action, const char *target,
                  const char *outcome, int status, const char *detail);

#endif
