/*
 * alloc.h — allocation wrappers. Out of memory is not a recoverable
 * condition for a server of this size, so every allocation goes through
 * these and aborts with a message instead of returning NULL; callers never
 * check. Memory from them is released with free() (or xfree, which is the
 * same and reads better next to them).
 */
#ifndef UTIL_ALLOC_H
#define UTIL_ALLOC_H

#include <stddef.h>
#include <stdlib.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* Growth with overflow check: returns an array of at least `want` items. */
void *xreallocarray(void *p, size_t count, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a freshly allocated string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void xfree(void *p) { free(p); }

#endif
