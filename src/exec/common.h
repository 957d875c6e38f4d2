/*
 * common.h — what the executors share: splitting a stream of bytes into
 * lines, the ring of last lines that becomes exec_result.tail, appending
 * to a log file, and copying string vectors.
 *
 * Both executors get a job's output in chunks (the local one from pipes,
 * the Slurm one from files the job writes) and must deliver the same
 * lines: a line longer than line_max is cut into pieces of line_max
 * bytes, and a last line without a newline is still a line once the
 * stream ends. Keeping that in one place keeps the two executors'
 * contracts the same.
 */
#ifndef EXEC_COMMON_H
#define EXEC_COMMON_H

#include <stddef.h>

#include "exec/exec.h"
#include "util/buf.h"

/* Called for each line; line[n] is '\0'. The line may be changed in place
 * by the callee but is only valid during the call. */
typedef void (*exec_line_fn)(void *arg, const char *line, size_t n);

/* The unfinished line of one stream. Zero-initialised is empty. */
struct exec_splitter {
  char *part;   /* max + 1 bytes, allocated on need (owned) */
  size_t plen;
};

/* Splits chunk b (n bytes, changed in place) into lines of at most max
 * bytes, calling fn for each complete one; keeps an unfinished one. */
void exec_split(struct exec_splitter *s, size_t max, char *b, size_t n, exec_line_fn fn, void *arg);
/* The stream ended: delivers the unfinished line, if any. */
void exec_split_end(struct exec_splitter *s, exec_line_fn fn, void *arg);
void exec_splitter_release(struct exec_splitter *s);

/* The last EXEC_TAIL_LINES lines, each cut to EXEC_TAIL_LINE_MAX bytes.
 * Zero-initialised is empty. */
struct exec_tail {
  char *ring;  /* owned, allocated on the first line */
  unsigned short len[EXEC_TAIL_LINES];
  unsigned next, count;
};

void exec_tail_add(struct exec_tail *t, const char *line, size_t n);
/* The lines in order, each ended by '\n', as a C string kept in b (valid
 * until b changes); "" when there are none. */
const char *exec_tail_str(const struct exec_tail *t, struct buf *b);
void exec_tail_release(struct exec_tail *t);

/* Where the lines of one stream of one job go: appended to its log file
 * (through the pool's buffer, written once per chunk), kept in its tail,
 * and given to on_line. Built on the stack by the executor per chunk;
 * every pointer is borrowed. */
struct exec_sink {
  const struct exec_callbacks *cb;
  uint64_t job;
  void *user;
  enum exec_stream which;
  int logfd;             /* -1: the stream is not kept */
  const char *log_path;  /* named in the warning when a write fails */
  int *log_failed;       /* the job's flag: set by a failed write; no writes after */
  struct exec_tail *tail;
  struct buf *wbuf;      /* scratch, the pool's */
  const char *who;       /* "exec", "slurm": the log's prefix */
};

/* Splits chunk b (n bytes, changed in place) into lines of at most max
 * bytes for the sink, keeping an unfinished one in s, and writes the
 * whole lines to the log. */
void exec_sink_feed(struct exec_sink *k, struct exec_splitter *s, size_t max, char *b, size_t n);
/* The stream ended: its unfinished line, if any, goes to the sink too. */
void exec_sink_end(struct exec_sink *k, struct exec_splitter *s);

/* A NULL-terminated copy of the first n strings of v (all of them when n
 * is (size_t)-1); free it with exec_strv_free. */
char **exec_strv_copy(const char *const *v, size_t n);
void exec_strv_free(char **v);

/* Writes all n bytes to fd, retrying after EINTR and short writes.
 * 0, or -1 with errno set (EIO for a write of 0 bytes). */
int exec_write_all(int fd, const char *d, size_t n);

#endif
