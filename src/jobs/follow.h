/*
 * follow.h — log files streamed over HTTP, optionally followed while the
 * process writing them runs (`GET .../runs/{id}/logs?follow=true`).
 *
 * A followed stream sends what the file holds, and when it has caught up
 * with a run that is still active it suspends its connection
 * (MHD_suspend_connection) instead of polling: no HTTP thread waits and
 * nothing spins. The scheduler thread calls follow_hub_notify(key) after
 * the run's new output has reached the file and once more when the run
 * ends; that resumes the streams of that key, which read on. Whether the
 * run is still active is asked (through the caller's function) BEFORE each
 * read of the file, so output written just before the end is never lost:
 * a stream ends only after a read that began when the run had ended.
 *
 * follow_hub_close (at shutdown, before the HTTP daemon stops) ends every
 * stream at its next read and resumes the suspended ones, since the
 * daemon may not stop while a connection is suspended.
 */
#ifndef JOBS_FOLLOW_H
#define JOBS_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "http/http.h"

struct follow_hub;
struct server;

/* Whether the writer of `key` is still active (called on HTTP threads). */
typedef bool (*follow_active_fn)(struct server *s, int64_t key);

struct follow_hub *follow_hub_new(void);
/* Frees the hub; every stream must have ended (after follow_hub_close and the daemon's stop). NULL is a no-op. */
void follow_hub_free(struct follow_hub *h);
/* New output of `key` is in its file, or `key` ended: its waiting streams read on. Any thread. */
void follow_hub_notify(struct follow_hub *h, int64_t key);
/* Resumes every waiting stream (they look again, and end if their writer is gone). Any thread. */
void follow_hub_poke_all(struct follow_hub *h);
/* Ends every stream at its next read; no stream waits any more. Any thread. */
void follow_hub_close(struct follow_hub *h);

/*
 * Answers r with the file at path (absolute) from byte `offset`, as
 * text/plain. A file that does not exist yet reads as empty. When follow
 * is set, the answer goes on until active(s, key) is false and the file
 * has been read to its end. The server's daemon must allow
 * suspend/resume. 0, or OAST_EINTERNAL when the response cannot be made.
 */
int follow_respond(struct follow_hub *h, struct req *r, struct resp *w, const char *path, uint64_t offset,
                   bool follow, int64_t key, follow_active_fn active, oast_err *e);

#endif
