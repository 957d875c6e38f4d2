/*
 * test_cli_fg.c — the histogram `oast fg stats` draws: one line per bin,
 * bars scaled to the largest count in eighths of a cell, a sliver for any
 * non-zero count, edges as numbers or times, and nothing for a malformed
 * histogram.
 */
#include <string.h>

#include "cli/command.h"
#include "test.h"

/* Cells of block characters on a line (a full block or a partial one counts once). */
static int bar_cells(const char *line) {
  int n = 0;
  for (const unsigned char *p = (const unsigned char *)line; *p; p++)
    if (p[0] == 0xE2 && p[1] == 0x96 && p[2] >= 0x88 && p[2] <= 0x8F) n++;
  return n;
}

TEST(fg_histogram_scales_bars) {
  json_t *h = json_pack("{s:[f,f,f,f],s:[i,i,i]}", "edges", 0.0, 1.0, 2.0, 3.0, "counts", 10, 5, 0);
  char *text = cli_fg_histogram(h, 60);
  char *lines[4] = {0};
  int n = 0;
  for (char *s = strtok(text, "\n"); s && n < 4; s = strtok(NULL, "\n")) lines[n++] = s;
  ASSERT_EQ(n, 3);
  int full = bar_cells(lines[0]), half = bar_cells(lines[1]);
  ASSERT(full >= 10);
  ASSERT(half == (full + 1) / 2 || half == full / 2);
  ASSERT_EQ(bar_cells(lines[2]), 0);
  ASSERT(strstr(lines[0], "0 .. 1") != NULL);
  ASSERT(strlen(lines[0]) > 3 && !strcmp(lines[0] + strlen(lines[0]) - 3, " 10"));
  ASSERT(!strcmp(lines[2] + strlen(lines[2]) - 2, " 0"));
  free(text);
  json_decref(h);
}

TEST(fg_histogram_small_counts_show_a_sliver) {
  json_t *h = json_pack("{s:[f,f,f],s:[i,i]}", "edges", 0.0, 0.5, 1.0, "counts", 100000, 1);
  char *text = cli_fg_histogram(h, 60);
  char *second = strchr(text, '\n') + 1;
  ASSERT_EQ(bar_cells(second), 1);
  free(text);
  json_decref(h);
}

TEST(fg_histogram_time_edges_and_bad_shapes) {
  json_t *h = json_pack("{s:[s,s],s:[i]}", "edges", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "counts", 3);
  char *text = cli_fg_histogram(h, 80);
  ASSERT(strstr(text, "2024-01-01T00:00:00Z .. 2024-01-02T00:00:00Z") != NULL);
  free(text);
  json_decref(h);
  json_t *bad = json_pack("{s:[f],s:[i,i]}", "edges", 0.0, "counts", 1, 2);
  text = cli_fg_histogram(bad, 80);
  ASSERT_STREQ(text, "");
  free(text);
  json_decref(bad);
  text = cli_fg_histogram(NULL, 80);
  ASSERT_STREQ(text, "");
  free(text);
}
