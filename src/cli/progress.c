/*
 * progress.c — the progress bar of uploads and downloads.
 *
 * Drawn on stderr only when it is a terminal and --json is off, so pipes,
 * logs and scripts never see it, and only for transfers over
 * CLI_PROGRESS_MIN bytes, where waiting is noticeable. A frame is one
 * line rewritten in place with '\r', redrawn at most ten times a second;
 * the formatting is a pure function so it can be tested.
 */
#include <inttypes.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/command.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int term_width(FILE *f) {
  struct winsize ws;
  if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

void cli_progress_format(char *buf, size_t len, int width, const char *label, uint64_t done, uint64_t total,
                         double seconds) {
  char d[32], t[32], r[32];
  cli_human_size(done, d, sizeof d);
  double rate = seconds > 0 ? (double)done / seconds : 0;
  cli_human_size((uint64_t)rate, r, sizeof r);
  char tail[128];
  int pct = -1;
  if (total > 0) {
    uint64_t shown = done > total ? total : done;
    pct = (int)(shown * 100 / total);
    cli_human_size(total, t, sizeof t);
    snprintf(tail, sizeof tail, "  %s / %s  %s/s", d, t, r);
  } else {
    snprintf(tail, sizeof tail, "  %s  %s/s", d, r);
  }
  /* The label gets what is left after the bar and the numbers, at least a few characters. */
  int bar = pct >= 0 ? 22 : 0;  /* " 42% [" + 14 + "]" */
  int room = width - 1 - (int)strlen(tail) - bar;
  if (room < 8) room = 8;
  char lab[256];
  size_t ll = strlen(label);
  if ((int)ll > room) snprintf(lab, sizeof lab, "...%s", label + ll - (size_t)(room - 3));
  else snprintf(lab, sizeof lab, "%s", label);
  if (pct >= 0) {
    char fill[15];
    int n = pct * 14 / 100;
    for (int i = 0; i < 14; i++) fill[i] = i < n ? '#' : '.';
    fill[14] = '\0';
    snprintf(buf, len, "%s %3d%% [%s]%s", lab, pct, fill, tail);
  } else {
    snprintf(buf, len, "%s%s", lab, tail);
  }
  if (width > 0 && strlen(buf) >= (size_t)width) buf[width - 1] = '\0';
}

void cli_progress_init(struct cli_progress *p, FILE *f, bool enabled, const char *label) {
  memset(p, 0, sizeof *p);
  p->f = f;
  p->enabled = enabled;
  p->label = label;
  p->start = now();
}

static void draw(struct cli_progress *p) {
  char line[512];
  int w = term_width(p->f);
  if (w > (int)sizeof line) w = (int)sizeof line;
  cli_progress_format(line, sizeof line, w, p->label, p->done, p->total, now() - p->start);
  fprintf(p->f, "\r%s\033[K", line);
  fflush(p->f);
  p->drawn = true;
}

int cli_progress_cb(void *arg, uint64_t done, uint64_t total) {
  struct cli_progress *p = arg;
  p->done = done;
  if (total) p->total = total;
  if (!p->enabled) return 0;
  uint64_t size = p->total ? p->total : p->done;
  if (size <= CLI_PROGRESS_MIN) return 0;
  double t = now();
  if (p->drawn && t - p->last < 0.1) return 0;
  p->last = t;
  draw(p);
  return 0;
}

void cli_progress_end(struct cli_progress *p, bool ok) {
  if (!p->drawn) return;
  if (ok && p->total) p->done = p->total;
  draw(p);
  fputc('\n', p->f);
  fflush(p->f);
}
