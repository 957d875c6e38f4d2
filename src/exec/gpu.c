/*
 * gpu.c — which GPUs the executor pool may hand out.
 *
 * The list is either configured ("0,1,3") or asked of the NVIDIA driver by
 * running `nvidia-smi --query-gpu=index --format=csv,noheader`, which
 * prints one index per line. The tool is run once, at pool creation, with
 * posix_spawn and a deadline (a wedged driver can make it hang), and any
 * failure means "no GPUs": a machine without them is the common case, not
 * an error. Parsing is shared: ids are separated by commas or newlines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec/exec.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

extern char **environ;

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

int exec_gpu_parse(const char *list, int **ids, size_t *n, oast_err *e) {
  *ids = NULL;
  *n = 0;
  if (!list) return 0;
  int *v = NULL;
  size_t nv = 0, item = 0;
  const char *p = list;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == '\r') p++;
    const char *start = p;
    while (*p && *p != ',' && *p != '\n') p++;
    const char *end = p;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) end--;
    item++;
    if (end > start) {
      long id = 0;
      for (const char *q = start; q < end; q++) {
        if (*q < '0' || *q > '9' || id > 65535) {
          id = -1;
          break;
        }
        id = id * 10 + (*q - '0');
      }
      if (id < 0 || id > 65535) {
        free(v);
        return oast_err_set(e, OAST_EBAD_REQUEST,
                            "GPU list item %zu: \"%.*s\" is not a GPU index (0 to 65535)", item,
                            (int)(end - start > 64 ? 64 : end - start), start);
      }
      if (nv == EXEC_MAX_GPUS) {
        free(v);
        return oast_err_set(e, OAST_EBAD_REQUEST, "GPU list: more than %d GPUs", EXEC_MAX_GPUS);
      }
      v = xreallocarray(v, nv + 1, sizeof *v);
      v[nv++] = (int)id;
    } else if (*p == ',' || (*p == '\0' && item > 1 && p > list && p[-1] == ',')) {
      free(v);
      return oast_err_set(e, OAST_EBAD_REQUEST, "GPU list item %zu is empty", item);
    }
    if (!*p) break;
    p++;
  }
  if (nv) qsort(v, nv, sizeof *v, cmp_int);
  for (size_t i = 1; i < nv; i++) {
    if (v[i] == v[i - 1]) {
      int dup = v[i];
      free(v);
      return oast_err_set(e, OAST_EBAD_REQUEST, "GPU list: GPU %d is listed twice", dup);
    }
  }
  *ids = v;
  *n = nv;
  return 0;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int exec_gpu_detect(int timeout_ms, int **ids, size_t *n) {
  *ids = NULL;
  *n = 0;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return 0;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  char *argv[] = {"nvidia-smi", "--query-gpu=index", "--format=csv,noheader", NULL};
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    if (rc != ENOENT) log_warn("exec: cannot run nvidia-smi: %s; no GPUs", strerror(rc));
    return 0;
  }
  struct buf out;
  buf_init(&out, 64 * 1024);
  long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  int ok = 1;
  for (;;) {
    long long left = deadline - now_ms();
    if (left <= 0) {
      log_warn("exec: nvidia-smi did not answer in %d ms; no GPUs", timeout_ms);
      ok = 0;
      break;
    }
    struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
    int r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char chunk[4096];
    ssize_t k = read(fds[0], chunk, sizeof chunk);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    if (buf_append(&out, chunk, (size_t)k) != 0) {
      log_warn("exec: nvidia-smi printed too much; no GPUs");
      ok = 0;
      break;
    }
  }
  close(fds[0]);
  if (!ok) kill(pid, SIGKILL);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  if (ok && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
    if (WIFEXITED(st))
      log_warn("exec: nvidia-smi failed (exit %d); no GPUs", WEXITSTATUS(st));
    else
      log_warn("exec: nvidia-smi was killed by signal %d; no GPUs", WTERMSIG(st));
    ok = 0;
  }
  if (ok) {
    oast_err e;
    if (exec_gpu_parse(buf_cstr(&out), ids, n, &e) != 0) {
      log_warn("exec: cannot read nvidia-smi's answer: %s; no GPUs", e.msg);
    }
  }
  buf_release(&out);
  return 0;
}
