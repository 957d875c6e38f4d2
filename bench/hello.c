/*
 * hello.c — the HTTP ceiling for bench/http.sh: libmicrohttpd's hello
 * world, answering every request with a fixed small JSON body.
 *
 * It is the peer the Oast server is measured against, so it runs the
 * daemon exactly as `oast server` does (src/http/server.c): an internal
 * polling thread with epoll that allows suspending connections, a pool
 * of worker threads (4 unless told otherwise), the same connection
 * timeout, per-connection memory limit, address reuse and a completion
 * callback, and it answers on the second call of the access handler, once
 * the body (empty, or read and dropped) has been read, as Oast's router
 * does. What is left is the cost of the library itself, so
 * the ratio of Oast's rate to this one is the share of the ceiling that
 * Oast's own request pipeline keeps.
 *
 * The main thread blocks SIGTERM and SIGINT and waits for them, then
 * stops the daemon and exits 0, so the benchmark can stop it cleanly.
 *
 * usage: hello PORT [THREADS]   (PORT 0 picks a free one; the chosen
 * port is printed as "hello listening on http://127.0.0.1:PORT").
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if MHD_VERSION < 0x00097002
#define MHD_Result int
#endif

/* Oast's per-connection memory limit; -DHELLO_POOL_BYTES=N compiles a variant for experiments. */
#ifndef HELLO_POOL_BYTES
#define HELLO_POOL_BYTES (64 * 1024)
#endif

/* The same shape and length as Oast's health answer. */
static const char body[] = "{\"status\":\"ok\",\"version\":\"0.1.0\"}";

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
  static int first_call_marker;
  if (*con_cls == NULL) {
    *con_cls = &first_call_marker;
    return MHD_YES;
  }
  if (*upload_data_size) {
    *upload_data_size = 0;
    return MHD_YES;
  }
  struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
  MHD_destroy_response(r);
  return ret;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  *con_cls = NULL;
}

static int parse_int(const char *s, long lo, long hi, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

int main(int argc, char **argv) {
  long port = 0, threads = 4;
  if (argc < 2 || argc > 3 || parse_int(argv[1], 0, 65535, &port) ||
      (argc == 3 && parse_int(argv[2], 1, 256, &threads))) {
    fprintf(stderr, "usage: %s PORT [THREADS]   (PORT 0 picks a free port; THREADS 1 to 256, default 4)\n",
            argv[0]);
    return 2;
  }
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  struct sockaddr_in a4;
  memset(&a4, 0, sizeof a4);
  a4.sin_family = AF_INET;
  a4.sin_port = htons((uint16_t)port);
  a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
  struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, access_cb, NULL,
                                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a4,
                                          MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
                                          MHD_OPTION_NOTIFY_COMPLETED, completed_cb, NULL,
                                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)600,
                                          MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HELLO_POOL_BYTES,
                                          MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
                                          MHD_OPTION_END);
  if (!d) {
    perror("hello: cannot start the daemon");
    return 1;
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  printf("hello listening on http://127.0.0.1:%d\n", di ? (int)di->port : (int)port);
  fflush(stdout);
  int sig = 0;
  sigwait(&sigs, &sig);
  MHD_stop_daemon(d);
  return 0;
}
