/* notify.c — the webhook worker thread (see notify.h). */
#include "jobs/notify.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/server.h"
#include "meta/meta.h"
#include "util/alloc.h"
#include "util/log.h"

struct message {
  char *url, *body;
  int64_t run_id;
  struct message *next;
};

struct notifier {
  struct server *srv;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct message *head, *tail;
  size_t queued;
  bool stop;
};

static size_t discard(char *p, size_t size, size_t n, void *arg) { return size * n; }

/* One POST; the outcome as text into out. */
static void send_one(const struct message *m, char *out, size_t outlen) {
  CURL *c = curl_easy_init();
  if (!c) {
    snprintf(out, outlen, "cannot initialise the HTTP client");
    return;
  }
  char errbuf[CURL_ERROR_SIZE] = "";
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, m->url);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)NOTIFY_TIMEOUT_S);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)NOTIFY_TIMEOUT_S);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, m->body);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(m->body));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "oast-webhook");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  if (rc == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    snprintf(out, outlen, "HTTP %ld", status);
  } else {
    snprintf(out, outlen, "failed: %.200s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
  }
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
}

static void message_free(struct message *m) {
  free(m->url);
  free(m->body);
  free(m);
}

static void *loop(void *arg) {
  struct notifier *n = arg;
  pthread_mutex_lock(&n->mu);
  for (;;) {
    while (!n->head && !n->stop) pthread_cond_wait(&n->cv, &n->mu);
    if (n->stop) break;
    struct message *m = n->head;
    n->head = m->next;
    if (!n->head) n->tail = NULL;
    n->queued--;
    pthread_mutex_unlock(&n->mu);
    char outcome[256];
    send_one(m, outcome, sizeof outcome);
    if (strncmp(outcome, "HTTP 2", 6) != 0)
      log_warn("pipeline run %lld: the webhook %s: %s", (long long)m->run_id, m->url, outcome);
    meta_exec(n->srv->meta, NULL, "UPDATE pipeline_runs SET notified = ? WHERE id = ?", "si", outcome, m->run_id);
    message_free(m);
    pthread_mutex_lock(&n->mu);
  }
  pthread_mutex_unlock(&n->mu);
  return NULL;
}

int notifier_start(struct server *s, struct notifier **out, oast_err *e) {
  struct notifier *n = xcalloc(1, sizeof *n);
  n->srv = s;
  pthread_mutex_init(&n->mu, NULL);
  pthread_cond_init(&n->cv, NULL);
  if (pthread_create(&n->thread, NULL, loop, n) != 0) {
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    free(n);
    return oast_err_set(e, OAST_EINTERNAL, "cannot start the webhook thread");
  }
  *out = n;
  return 0;
}

void notifier_post(struct notifier *n, const char *url, const char *body, int64_t run_id) {
  struct message *m = xcalloc(1, sizeof *m);
  m->url = xstrdup(url);
  m->body = xstrdup(body);
  m->run_id = run_id;
  pthread_mutex_lock(&n->mu);
  if (n->queued >= NOTIFY_MAX_QUEUED) {
    pthread_mutex_unlock(&n->mu);
    log_warn("pipeline run %lld: too many webhook messages queued; this one is dropped", (long long)run_id);
    message_free(m);
    return;
  }
  if (n->tail) n->tail->next = m;
  else n->head = m;
  n->tail = m;
  n->queued++;
  pthread_cond_signal(&n->cv);
  pthread_mutex_unlock(&n->mu);
}

void notifier_stop(struct notifier *n) {
  if (!n) return;
  pthread_mutex_lock(&n->mu);
  n->stop = true;
  pthread_cond_signal(&n->cv);
  pthread_mutex_unlock(&n->mu);
  pthread_join(n->thread, NULL);
  while (n->head) {
    struct message *m = n->head;
    n->head = m->next;
    message_free(m);
  }
  pthread_mutex_destroy(&n->mu);
  pthread_cond_destroy(&n->cv);
  free(n);
}
