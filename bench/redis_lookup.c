/*
 * redis_lookup.c — the Redis peer of bench/online.sh: the same feature
 * reads as an Oast feature vector lookup, from Redis with pipelined
 * hiredis clients.
 *
 *   redis_lookup load HOST PORT PREFIX CSV
 *       stores each row "id,v1,..,vn" of CSV (after its header, whose
 *       names become the fields) as the hash PREFIX:id, pipelined.
 *   redis_lookup run HOST PORT KEYS BATCH SECONDS THREADS DEPTH
 *       each of THREADS connections keeps DEPTH requests in flight; a
 *       request is BATCH entries, an entry two HMGETs (A:id f1..f5 and
 *       B:id g1..g5, random ids below KEYS). Prints one JSON line:
 *       requests/s, entries/s, and p50/p99 of a request's time from send
 *       to its last reply (ms).
 */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load(const char *host, int port, const char *prefix, const char *csv) {
  redisContext *c = redisConnect(host, port);
  if (!c || c->err) {
    fprintf(stderr, "redis_lookup: cannot connect: %s\n", c ? c->errstr : "?");
    return 1;
  }
  FILE *f = fopen(csv, "r");
  if (!f) {
    perror(csv);
    return 1;
  }
  char line[4096], *names[64];
  int nn = 0;
  if (!fgets(line, sizeof line, f)) return 1;
  line[strcspn(line, "\r\n")] = 0;
  for (char *s = NULL, *t = strtok_r(line, ",", &s); t && nn < 64; t = strtok_r(NULL, ",", &s)) names[nn++] = strdup(t);
  long pending = 0, rows = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    const char *argv[130];
    size_t lens[130];
    char key[128];
    int argc = 0, col = 0;
    argv[argc++] = "HSET";
    for (char *s = NULL, *t = strtok_r(line, ",", &s); t && col < nn; t = strtok_r(NULL, ",", &s), col++) {
      if (col == 0) {
        snprintf(key, sizeof key, "%s:%s", prefix, t);
        argv[argc++] = key;
      } else {
        argv[argc++] = names[col];
        argv[argc++] = t;
      }
    }
    for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    redisAppendCommandArgv(c, argc, argv, lens);
    if (++pending == 1000) {
      for (; pending > 0; pending--) {
        redisReply *r;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) return 1;
        freeReplyObject(r);
      }
    }
    rows++;
  }
  for (; pending > 0; pending--) {
    redisReply *r;
    if (redisGetReply(c, (void **)&r) != REDIS_OK) return 1;
    freeReplyObject(r);
  }
  fclose(f);
  redisFree(c);
  printf("loaded %ld rows as %s:*\n", rows, prefix);
  return 0;
}

struct worker {
  const char *host;
  int port;
  long keys;
  int batch, depth;
  double seconds;
  uint64_t seed;
  long requests;
  double *lat;
  long nlat, cap;
  int failed;
};

static uint64_t xs(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void send_request(redisContext *c, struct worker *w) {
  for (int i = 0; i < w->batch; i++) {
    long id = (long)(xs(&w->seed) % (uint64_t)w->keys);
    redisAppendCommand(c, "HMGET A:%ld f1 f2 f3 f4 f5", id);
    redisAppendCommand(c, "HMGET B:%ld g1 g2 g3 g4 g5", id);
  }
}

static void *run_worker(void *arg) {
  struct worker *w = arg;
  redisContext *c = redisConnect(w->host, w->port);
  if (!c || c->err) {
    w->failed = 1;
    return NULL;
  }
  double *sent = calloc((size_t)w->depth, sizeof *sent);
  double end = now() + w->seconds;
  int head = 0;
  for (int d = 0; d < w->depth; d++) {
    sent[d] = now();
    send_request(c, w);
  }
  while (now() < end) {
    /* The oldest request's replies, then a new request in its place. */
    for (int i = 0; i < 2 * w->batch; i++) {
      redisReply *r;
      if (redisGetReply(c, (void **)&r) != REDIS_OK || r->type != REDIS_REPLY_ARRAY) {
        w->failed = 1;
        goto out;
      }
      freeReplyObject(r);
    }
    double t = now();
    if (w->nlat == w->cap) w->lat = realloc(w->lat, (size_t)(w->cap = w->cap ? w->cap * 2 : 65536) * sizeof *w->lat);
    w->lat[w->nlat++] = (t - sent[head]) * 1000;
    w->requests++;
    sent[head] = t;
    send_request(c, w);
    head = (head + 1) % w->depth;
  }
out:
  free(sent);
  redisFree(c);
  return NULL;
}

static int dcmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc == 6 && !strcmp(argv[1], "load")) return load(argv[2], atoi(argv[3]), argv[4], argv[5]);
  if (argc != 9 || strcmp(argv[1], "run")) {
    fprintf(stderr, "usage: redis_lookup load HOST PORT PREFIX CSV | run HOST PORT KEYS BATCH SECONDS THREADS DEPTH\n");
    return 2;
  }
  int threads = atoi(argv[7]);
  struct worker *w = calloc((size_t)threads, sizeof *w);
  pthread_t *tid = calloc((size_t)threads, sizeof *tid);
  double t0 = now();
  for (int i = 0; i < threads; i++) {
    w[i] = (struct worker){argv[2], atoi(argv[3]), atol(argv[4]), atoi(argv[5]), atoi(argv[8]), atof(argv[6]),
                           0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1), 0, NULL, 0, 0, 0};
    pthread_create(&tid[i], NULL, run_worker, &w[i]);
  }
  long requests = 0, n = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(tid[i], NULL);
    if (w[i].failed) {
      fprintf(stderr, "redis_lookup: a worker failed\n");
      return 1;
    }
    requests += w[i].requests;
    n += w[i].nlat;
  }
  double dt = now() - t0;
  double *all = malloc((size_t)(n ? n : 1) * sizeof *all);
  long k = 0;
  for (int i = 0; i < threads; i++) {
    memcpy(all + k, w[i].lat, (size_t)w[i].nlat * sizeof *all);
    k += w[i].nlat;
    free(w[i].lat);
  }
  qsort(all, (size_t)n, sizeof *all, dcmp);
  int batch = atoi(argv[5]);
  printf("{\"rps\": %.1f, \"entries_per_s\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f}\n", requests / dt,
         requests * (double)batch / dt, n ? all[n / 2] : 0, n ? all[(long)(n * 0.99)] : 0);
  free(all);
  free(w);
  free(tid);
  return 0;
}
