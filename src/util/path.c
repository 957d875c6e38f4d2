/* path.c — name and path validation, URL coding (see path.h). */
#include "util/path.h"

#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"

bool name_valid(const char *s) {
  if (!s || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z'))) return false;
  size_t n = 1;
  for (const char *p = s + 1; *p; p++, n++) {
    char c = *p;
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return n <= NAME_MAX_LEN;
}

int name_check(const char *what, const char *s, oast_err *e) {
  if (name_valid(s)) return 0;
  return oast_err_set(e, OAST_EBAD_REQUEST,
                      "%s \"%.80s\" is not a valid name: it must start with a letter and contain only "
                      "letters, digits and '_' (at most 63 characters)",
                      what, s ? s : "");
}

int path_normalize(const char *p, size_t len, char **out, oast_err *e) {
  *out = NULL;
  if (len > PATH_MAX_LEN) return oast_err_set(e, OAST_EBAD_REQUEST, "path is longer than %d bytes", PATH_MAX_LEN);
  if (len && p[0] == '/') return oast_err_set(e, OAST_EBAD_REQUEST, "path must be relative, not absolute");
  struct buf b;
  buf_init(&b, 0);
  size_t i = 0;
  int depth = 0;
  while (i < len) {
    while (i < len && p[i] == '/') i++;
    if (i >= len) break;
    size_t s = i;
    while (i < len && p[i] != '/') {
      unsigned char c = (unsigned char)p[i];
      if (c == 0) {
        buf_release(&b);
        return oast_err_set(e, OAST_EBAD_REQUEST, "path contains a NUL character");
      }
      if (c < 0x20 || c == 0x7f) {
        buf_release(&b);
        return oast_err_set(e, OAST_EBAD_REQUEST, "path contains a control character");
      }
      i++;
    }
    size_t n = i - s;
    if ((n == 1 && p[s] == '.') || (n == 2 && p[s] == '.' && p[s + 1] == '.')) {
      buf_release(&b);
      return oast_err_set(e, OAST_EBAD_REQUEST, "path must not contain \".\" or \"..\" components");
    }
    if (n > 255) {
      buf_release(&b);
      return oast_err_set(e, OAST_EBAD_REQUEST, "a path component is longer than 255 bytes");
    }
    if (++depth > PATH_MAX_DEPTH) {
      buf_release(&b);
      return oast_err_set(e, OAST_EBAD_REQUEST, "path is deeper than %d levels", PATH_MAX_DEPTH);
    }
    if (b.len) buf_putc(&b, '/');
    buf_append(&b, p + s, n);
  }
  *out = buf_detach(&b, NULL);
  return 0;
}

void path_split_first(const char *p, char **head, const char **tail) {
  const char *s = strchr(p, '/');
  if (!s) {
    *head = xstrdup(p);
    *tail = p + strlen(p);
  } else {
    *head = xstrndup(p, (size_t)(s - p));
    *tail = s + 1;
  }
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int url_decode(const char *s, size_t len, char **out, size_t *outlen) {
  char *d = xmalloc(len + 1);
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] != '%') {
      d[n++] = s[i];
      continue;
    }
    int h = i + 2 < len ? hexval(s[i + 1]) : -1;
    int l = i + 2 < len ? hexval(s[i + 2]) : -1;
    if (h < 0 || l < 0) {
      free(d);
      return -1;
    }
    d[n++] = (char)(h * 16 + l);
    i += 2;
  }
  d[n] = '\0';
  *out = d;
  if (outlen) *outlen = n;
  return 0;
}

char *url_encode(const char *s, bool keep_slash) {
  static const char hx[] = "0123456789ABCDEF";
  struct buf b;
  buf_init(&b, 0);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    unsigned char c = *p;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~' || (keep_slash && c == '/') || c == ':') {
      buf_putc(&b, (char)c);
    } else {
      char t[3] = {'%', hx[c >> 4], hx[c & 15]};
      buf_append(&b, t, 3);
    }
  }
  return buf_detach(&b, NULL);
}
