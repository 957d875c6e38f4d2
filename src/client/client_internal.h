/*
 * client_internal.h — what client.c and transfer.c share: the client's
 * layout and one transfer, described by `struct xfer` and run by
 * client_perform. Internal to src/client.
 */
#ifndef CLIENT_CLIENT_INTERNAL_H
#define CLIENT_CLIENT_INTERNAL_H

#include <curl/curl.h>
#include <stdbool.h>

#include "oast/client.h"
#include "util/buf.h"
#include "util/fs.h"

struct oast_client {
  char *addr;   /* normalized, owned */
  char *key;    /* owned, NULL for none */
  CURL *curl;   /* reused between calls, so connections are kept alive */
  char errbuf[CURL_ERROR_SIZE];
};

/* Error bodies are small; more than this of one is cut (the message stays readable). */
#define CLIENT_ERROR_BODY_MAX ((size_t)1 << 20)

/*
 * One request and where its answer goes. Fill the request part (zero the
 * rest) and call client_perform. A 2xx body goes to `out` or `tmp` when
 * one is set, else into `resp` (capped at resp_max); any other body goes
 * into `resp` for the error message.
 */
struct xfer {
  const char *method;        /* "GET", "POST", ... */
  const char *path;          /* below /api/v1, already escaped */
  const char *body;          /* JSON text or NULL */
  FILE *in;                  /* upload source, or NULL */
  const char *in_name;       /* for messages about reading `in` */
  int64_t in_size;           /* -1: unknown, sent chunked */
  const char *in_type;       /* Content-Type of `in`, NULL: application/octet-stream */
  FILE *out;                 /* download sink, or NULL */
  struct fs_tmp *tmp;        /* download sink, or NULL */
  size_t resp_max;           /* cap of a 2xx body kept in resp */
  oast_progress_fn progress;
  void *progress_arg;

  /* results */
  long status;
  struct buf resp;
  uint64_t written;          /* bytes given to out/tmp */

  /* state of the callbacks */
  int sink;                  /* 0: undecided, 1: stream, 2: resp */
  bool failed;               /* a callback stored an error in cb_err */
  oast_err cb_err;
};

/* Runs x on c. 0 on a 2xx answer; else the code, with e filled. x->resp is the caller's to release. */
int client_perform(oast_client *c, struct xfer *x, oast_err *e);

#endif
