/*
 * notify.h — webhook notifications, sent by a worker thread of their own.
 *
 * A pipeline run that fails POSTs a JSON body to its pipeline's
 * notify.webhook URL. The scheduler thread only queues the message
 * (notifier_post never blocks on the network); one worker thread sends
 * the queue in order with libcurl: http and https only, no redirects,
 * NOTIFY_TIMEOUT_S for the whole exchange. The outcome ("HTTP 200", or
 * why it failed) is written to pipeline_runs.notified, so a run shows
 * whether its notification went out, and a notification that a crash
 * interrupted is queued again at the next start (the caller finds runs
 * that failed with notified still NULL).
 */
#ifndef JOBS_NOTIFY_H
#define JOBS_NOTIFY_H

#include <stdint.h>

#include "oast/error.h"

#define NOTIFY_TIMEOUT_S 10
#define NOTIFY_MAX_QUEUED 1000

struct notifier;
struct server;

/* Starts the worker thread. */
int notifier_start(struct server *s, struct notifier **out, oast_err *e);
/* Queues a POST of body (JSON text, copied) to url (copied) for pipeline run `run_id`. Any thread. */
void notifier_post(struct notifier *n, const char *url, const char *body, int64_t run_id);
/* Stops the thread after the message being sent (if any); messages still queued are dropped
 * (they are sent again at the next start). NULL is a no-op. */
void notifier_stop(struct notifier *n);

#endif
