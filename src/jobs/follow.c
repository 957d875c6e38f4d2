/*
 * follow.c — streamed and followed log files (see follow.h).
 *
 * Each followed stream is registered in the hub for its whole life; the
 * hub's mutex guards the list, each stream's `poked` and `suspended`
 * flags and `closing`. The order of locks is always hub, then
 * libmicrohttpd's own (taken inside MHD_suspend_connection and
 * MHD_resume_connection), and no libmicrohttpd call made under the hub
 * lock calls back into this file, so there is no deadlock.
 *
 * A reader that finds nothing new clears `poked` before it asks whether
 * the writer is active and reads; it suspends only if nobody poked it in
 * between, so a notification between its read and its suspension is
 * never lost.
 */
#define _GNU_SOURCE
#include "jobs/follow.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"

#define BLOCK (32 * 1024)

struct stream {
  struct follow_hub *hub;
  struct server *srv;
  struct MHD_Connection *conn;
  char *path;
  int fd;
  uint64_t offset;
  bool follow;
  int64_t key;
  follow_active_fn active;
  bool poked, suspended;      /* under the hub's lock */
  struct stream *prev, *next; /* the hub's list (followed streams only) */
};

struct follow_hub {
  pthread_mutex_t mu;
  struct stream *head;
  bool closing;
};

struct follow_hub *follow_hub_new(void) {
  struct follow_hub *h = xcalloc(1, sizeof *h);
  pthread_mutex_init(&h->mu, NULL);
  return h;
}

void follow_hub_free(struct follow_hub *h) {
  if (!h) return;
  pthread_mutex_destroy(&h->mu);
  free(h);
}

static void resume(struct stream *st) {
  st->poked = true;
  if (st->suspended) {
    st->suspended = false;
    MHD_resume_connection(st->conn);
  }
}

void follow_hub_notify(struct follow_hub *h, int64_t key) {
  pthread_mutex_lock(&h->mu);
  for (struct stream *st = h->head; st; st = st->next)
    if (st->key == key) resume(st);
  pthread_mutex_unlock(&h->mu);
}

void follow_hub_poke_all(struct follow_hub *h) {
  pthread_mutex_lock(&h->mu);
  for (struct stream *st = h->head; st; st = st->next) resume(st);
  pthread_mutex_unlock(&h->mu);
}

void follow_hub_close(struct follow_hub *h) {
  pthread_mutex_lock(&h->mu);
  h->closing = true;
  for (struct stream *st = h->head; st; st = st->next) resume(st);
  pthread_mutex_unlock(&h->mu);
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max) {
  struct stream *st = cls;
  struct follow_hub *h = st->hub;
  for (;;) {
    bool active = false;
    if (st->follow) {
      pthread_mutex_lock(&h->mu);
      st->poked = false;
      bool closing = h->closing;
      pthread_mutex_unlock(&h->mu);
      active = !closing && st->active(st->srv, st->key);
    }
    if (st->fd < 0) st->fd = open(st->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (st->fd >= 0) {
      ssize_t n = pread(st->fd, buf, max, (off_t)(st->offset + pos));
      if (n > 0) return n;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (!active) return MHD_CONTENT_READER_END_OF_STREAM;
    pthread_mutex_lock(&h->mu);
    if (st->poked || h->closing) {
      pthread_mutex_unlock(&h->mu);
      continue;
    }
    st->suspended = true;
    MHD_suspend_connection(st->conn);
    pthread_mutex_unlock(&h->mu);
    return 0; /* asked again once resumed */
  }
}

static void stream_free(void *cls) {
  struct stream *st = cls;
  if (st->follow) {
    struct follow_hub *h = st->hub;
    pthread_mutex_lock(&h->mu);
    if (st->prev) st->prev->next = st->next;
    else h->head = st->next;
    if (st->next) st->next->prev = st->prev;
    pthread_mutex_unlock(&h->mu);
  }
  if (st->fd >= 0) close(st->fd);
  free(st->path);
  free(st);
}

int follow_respond(struct follow_hub *h, struct req *r, struct resp *w, const char *path, uint64_t offset,
                   bool follow, int64_t key, follow_active_fn active, oast_err *e) {
  struct stream *st = xcalloc(1, sizeof *st);
  st->hub = h;
  st->srv = r->srv;
  st->conn = r->conn;
  st->path = xstrdup(path);
  st->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  st->offset = offset;
  st->follow = follow && active;
  st->key = key;
  st->active = active;
  struct MHD_Response *mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BLOCK, reader, st, stream_free);
  if (!mr) {
    if (st->fd >= 0) close(st->fd);
    free(st->path);
    free(st);
    return oast_err_set(e, OAST_EINTERNAL, "cannot create the log stream");
  }
  if (st->follow) {
    pthread_mutex_lock(&h->mu);
    st->next = h->head;
    if (h->head) h->head->prev = st;
    h->head = st;
    pthread_mutex_unlock(&h->mu);
  }
  MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
  MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  w->status = 200;
  w->raw = mr;
  return 0;
}
