/*
 * path.h — names and relative paths from outside, checked before any use.
 *
 * Names of projects, datasets, feature groups, models, deployments and
 * jobs follow ^[A-Za-z][A-Za-z0-9_]{0,62}$. A relative path inside a
 * dataset is split into components; each must be non-empty, not "." or
 * "..", free of NUL and control characters, and at most 255 bytes, so it
 * can never name anything outside its dataset. (Symlinks are checked at
 * open time by the project filesystem layer, which walks the components
 * with O_NOFOLLOW.)
 */
#ifndef UTIL_PATH_H
#define UTIL_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "oast/error.h"

#define NAME_MAX_LEN 63
#define PATH_MAX_LEN 4096
#define PATH_MAX_DEPTH 64

bool name_valid(const char *s);
/* 0, or a 400 naming `what` and why. */
int name_check(const char *what, const char *s, oast_err *e);

/*
 * Normalizes a relative path: collapses repeated and trailing slashes and
 * refuses absolute paths, "..", ".", NUL (len counts the bytes, so a NUL
 * inside is seen) and control characters. *out is newly allocated and may
 * be "" for the root.
 */
int path_normalize(const char *p, size_t len, char **out, oast_err *e);

/* Splits a normalized path at the first '/': head (allocated) and tail (pointer into p, "" if none). */
void path_split_first(const char *p, char **head, const char **tail);

/* Percent-decodes s (len bytes) into a new string; *outlen excludes the NUL. -1 on bad escapes. */
int url_decode(const char *s, size_t len, char **out, size_t *outlen);
/* Percent-encodes everything but unreserved chars and, if keep_slash, '/'. */
char *url_encode(const char *s, bool keep_slash);

#endif
