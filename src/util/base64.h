/*
 * base64.h — standard base64 (RFC 4648, with '+', '/' and '=' padding),
 * for file contents sent inside JSON (experiment "files").
 */
#ifndef UTIL_BASE64_H
#define UTIL_BASE64_H

#include <stddef.h>

/* The encoding of len bytes, NUL-terminated; caller frees. */
char *base64_encode(const void *data, size_t len);
/* Decodes text (len bytes; whitespace ignored, padding optional) into
 * *out (caller frees; NUL-terminated, not counted in *outlen). -1 when
 * malformed (then *out is untouched). */
int base64_decode(const char *text, size_t len, char **out, size_t *outlen);

#endif
