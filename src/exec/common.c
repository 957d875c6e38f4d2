/* common.c — line splitting, output tails, log writes and string vectors
 * for the executors (see common.h). */
#include "exec/common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/log.h"

static void emit_part(struct exec_splitter *s, exec_line_fn fn, void *arg) {
  size_t n = s->plen;
  s->part[n] = '\0';
  s->plen = 0;
  fn(arg, s->part, n);
}

void exec_split(struct exec_splitter *s, size_t max, char *b, size_t n, exec_line_fn fn, void *arg) {
  while (n > 0) {
    char *nl = memchr(b, '\n', n);
    size_t take = nl ? (size_t)(nl - b) : n;
    if (s->plen == 0 && nl && take <= max) {  /* a whole line inside the chunk */
      *nl = '\0';
      fn(arg, b, take);
      b = nl + 1;
      n -= take + 1;
      continue;
    }
    if (!s->part) s->part = xmalloc(max + 1);
    size_t room = max - s->plen;
    if (take > room) {  /* too long: the first max bytes are a line */
      memcpy(s->part + s->plen, b, room);
      s->plen = max;
      emit_part(s, fn, arg);
      b += room;
      n -= room;
      continue;
    }
    memcpy(s->part + s->plen, b, take);
    s->plen += take;
    b += take;
    n -= take;
    if (nl) {
      emit_part(s, fn, arg);
      b++;
      n--;
    }
  }
}

void exec_split_end(struct exec_splitter *s, exec_line_fn fn, void *arg) {
  if (s->plen) emit_part(s, fn, arg);
}

void exec_splitter_release(struct exec_splitter *s) {
  free(s->part);
  s->part = NULL;
  s->plen = 0;
}

void exec_tail_add(struct exec_tail *t, const char *line, size_t n) {
  if (!t->ring) t->ring = xmalloc((size_t)EXEC_TAIL_LINES * EXEC_TAIL_LINE_MAX);
  size_t keep = n < EXEC_TAIL_LINE_MAX ? n : EXEC_TAIL_LINE_MAX;
  memcpy(t->ring + (size_t)t->next * EXEC_TAIL_LINE_MAX, line, keep);
  t->len[t->next] = (unsigned short)keep;
  t->next = (t->next + 1) % EXEC_TAIL_LINES;
  if (t->count < EXEC_TAIL_LINES) t->count++;
}

const char *exec_tail_str(const struct exec_tail *t, struct buf *b) {
  buf_reset(b);
  unsigned first = (t->next + EXEC_TAIL_LINES - t->count) % EXEC_TAIL_LINES;
  for (unsigned i = 0; i < t->count; i++) {
    unsigned k = (first + i) % EXEC_TAIL_LINES;
    buf_append(b, t->ring + (size_t)k * EXEC_TAIL_LINE_MAX, t->len[k]);
    buf_putc(b, '\n');
  }
  return buf_cstr(b);
}

void exec_tail_release(struct exec_tail *t) {
  free(t->ring);
  memset(t, 0, sizeof *t);
}

int exec_write_all(int fd, const char *d, size_t n) {
  while (n > 0) {
    ssize_t k = write(fd, d, n);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return -1;
    if (k == 0) {
      errno = EIO;
      return -1;
    }
    d += k;
    n -= (size_t)k;
  }
  return 0;
}

static void sink_line(void *arg, const char *line, size_t n) {
  struct exec_sink *k = arg;
  if (k->logfd >= 0 && !*k->log_failed) {
    buf_append(k->wbuf, line, n);
    buf_putc(k->wbuf, '\n');
  }
  exec_tail_add(k->tail, line, n);
  if (k->cb->on_line) k->cb->on_line(k->cb->ctx, k->job, k->user, k->which, line, n);
}

static void sink_flush(struct exec_sink *k) {
  if (k->wbuf->len && k->logfd >= 0 && !*k->log_failed &&
      exec_write_all(k->logfd, k->wbuf->data, k->wbuf->len) != 0) {
    log_warn("%s: job %llu: cannot write its log \"%s\": %s; output is no longer kept there",
             k->who, (unsigned long long)k->job, k->log_path, strerror(errno));
    *k->log_failed = 1;
  }
  buf_reset(k->wbuf);
}

void exec_sink_feed(struct exec_sink *k, struct exec_splitter *s, size_t max, char *b, size_t n) {
  exec_split(s, max, b, n, sink_line, k);
  sink_flush(k);
}

void exec_sink_end(struct exec_sink *k, struct exec_splitter *s) {
  exec_split_end(s, sink_line, k);
  sink_flush(k);
}

char **exec_strv_copy(const char *const *v, size_t n) {
  if (n == (size_t)-1)
    for (n = 0; v && v[n]; n++) {}
  char **c = xcalloc(n + 1, sizeof *c);
  for (size_t i = 0; i < n; i++) c[i] = xstrdup(v[i]);
  return c;
}

void exec_strv_free(char **v) {
  if (!v) return;
  for (char **s = v; *s; s++) free(*s);
  free(v);
}
