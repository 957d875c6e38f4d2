/*
 * runner.c — runs every registered unit test in its own child process.
 * `unit_tests` runs all; `unit_tests NAME...` runs those whose name
 * contains one of the arguments. The last line is "N passed, N failed".
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "util/fs.h"

#define MAX_TESTS 4096
static struct {
  const char *name;
  test_fn fn;
} tests[MAX_TESTS];
static int ntests;
static char tmpdir[256];

void test_register(const char *name, test_fn fn) {
  if (ntests < MAX_TESTS) {
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
  }
}

const char *test_tmpdir(void) { return tmpdir; }

static int selected(const char *name, int argc, char **argv) {
  if (argc < 2) return 1;
  for (int i = 1; i < argc; i++)
    if (strstr(name, argv[i])) return 1;
  return 0;
}

int main(int argc, char **argv) {
  int passed = 0, failed = 0;
  for (int i = 0; i < ntests; i++) {
    if (!selected(tests[i].name, argc, argv)) continue;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/oast-unit-XXXXXX");
    if (!mkdtemp(tmpdir)) {
      perror("mkdtemp");
      return 2;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      tests[i].fn();
      fflush(stdout);
      _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    fs_remove_tree(tmpdir, NULL);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
      passed++;
      printf("ok   %s\n", tests[i].name);
    } else {
      failed++;
      if (WIFSIGNALED(st))
        printf("FAIL %s (signal %d)\n", tests[i].name, WTERMSIG(st));
      else
        printf("FAIL %s (exit %d)\n", tests[i].name, WEXITSTATUS(st));
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
