/* error.c — the table-driven error codes of include/oast/error.h. */
#include "oast/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void oast_err_clear(oast_err *e) {
  if (!e) return;
  e->code = 0;
  e->msg[0] = '\0';
}

int oast_err_set(oast_err *e, int code, const char *fmt, ...) {
  if (!e) return code;
  e->code = code;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
  } else {
    snprintf(e->msg, sizeof e->msg, "%s", oast_err_default_msg(code));
  }
  return code;
}

#define ROW(n, v, s, h, m) case v: return s;
const char *oast_err_name(int code) {
  switch (code) { OAST_ERRORS(ROW) default: return "internal"; }
}
#undef ROW
#define ROW(n, v, s, h, m) case v: return h;
int oast_err_http(int code) {
  switch (code) { OAST_ERRORS(ROW) default: return 500; }
}
#undef ROW
#define ROW(n, v, s, h, m) case v: return m;
const char *oast_err_default_msg(int code) {
  switch (code) { OAST_ERRORS(ROW) default: return "internal error"; }
}
#undef ROW

int oast_err_from_name(const char *s) {
  if (!s) return OAST_EINTERNAL;
#define ROW(n, v, str, h, m) if (strcmp(s, str) == 0) return v;
  OAST_ERRORS(ROW)
#undef ROW
  return OAST_EINTERNAL;
}
