/*
 * serve.h — model serving, as the server sees it: started after the
 * scheduler, stopped before the HTTP daemon, and two route tables
 * (deployment management under /api/v1, inference under /v1 and /v2).
 */
#ifndef SERVE_SERVE_H
#define SERVE_SERVE_H

#include "oast/error.h"

struct server;

/* Creates s->serving and starts again every deployment whose last requested state was running. */
int serve_start(struct server *s, oast_err *e);
/*
 * Stops every deployment, draining what is in flight, and waits until
 * every suspended inference request was answered, so the HTTP daemon can
 * stop. Deployments keep their requested state for the next start.
 */
void serve_stop(struct server *s);
/* Frees s->serving (stopping what still runs); NULL-safe. */
void serve_free(struct server *s);

#endif
