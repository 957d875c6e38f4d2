/*
 * test.h — the unit test harness. TEST(name) defines a test and registers
 * it at load time; the runner (runner.c) forks each test into its own
 * process, as libuv does, so a crash or a leak in one cannot hide another's
 * result. Assertions print the file, line and expression and exit(1).
 */
#ifndef TEST_H
#define TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
/* A fresh empty directory for this test (removed by the runner). */
const char *test_tmpdir(void);

#define TEST(name)                                                                 \
  static void test_##name(void);                                                   \
  __attribute__((constructor)) static void reg_##name(void) { test_register(#name, test_##name); } \
  static void test_##name(void)

#define ASSERT(cond)                                                               \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
      exit(1);                                                                     \
    }                                                                              \
  } while (0)

#define ASSERT_EQ(a, b)                                                            \
  do {                                                                             \
    long long _a = (long long)(a), _b = (long long)(b);                            \
    if (_a != _b) {                                                                \
      fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b, _a, _b); \
      exit(1);                                                                     \
    }                                                                              \
  } while (0)

#define ASSERT_STREQ(a, b)                                                         \
  do {                                                                             \
    const char *_a = (a), *_b = (b);                                               \
    if (!_a || !_b || strcmp(_a, _b) != 0) {                                       \
      fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b, \
              _a ? _a : "(null)", _b ? _b : "(null)");                              \
      exit(1);                                                                     \
    }                                                                              \
  } while (0)

#endif
