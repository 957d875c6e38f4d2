/*
 * dist_worker.c — the worker of bench/distributed.sh: appends "start US"
 * to TIMES the moment it runs, holds HOLD_MS milliseconds, appends
 * "exit US" and exits 0. US is the wall clock in microseconds, so the
 * driver can set the workers' times against its own. Each line is one
 * write to a file opened with O_APPEND, so the N workers' lines never mix.
 *
 *   dist_worker TIMES HOLD_MS
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void note(int fd, const char *what) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char line[64];
  int n = snprintf(line, sizeof line, "%s %lld\n", what, (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
  if (write(fd, line, (size_t)n) != n) exit(2);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: dist_worker TIMES HOLD_MS\n");
    return 2;
  }
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) return 2;
  note(fd, "start");
  long ms = atol(argv[2]);
  struct timespec hold = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&hold, NULL);
  note(fd, "exit");
  close(fd);
  return 0;
}
