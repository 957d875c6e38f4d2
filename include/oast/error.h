/*
 * oast/error.h — the one error convention of Oast.
 *
 * Every function that can fail returns 0 on success or a negative
 * OAST_E* code, and writes a sentence for a person into an oast_err the
 * caller passes in. The X-macro below is the single table that gives each
 * code its snake_case name (the "code" of the JSON error body), its HTTP
 * status and a default message, so the server, the C client and the CLI
 * agree on them by construction.
 */
#ifndef OAST_ERROR_H
#define OAST_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*      NAME              value name                 http  default message */
#define OAST_ERRORS(X)                                                              \
  X(OK,               0,  "ok",                200, "success")                      \
  X(BAD_REQUEST,     -1,  "bad_request",       400, "the request is malformed")     \
  X(UNAUTHENTICATED, -2,  "unauthenticated",   401, "authentication is required")   \
  X(FORBIDDEN,       -3,  "forbidden",         403, "your role does not allow this") \
  X(NOT_FOUND,       -4,  "not_found",         404, "not found")                    \
  X(METHOD,          -5,  "method_not_allowed",405, "method not allowed")           \
  X(EXISTS,          -6,  "already_exists",    409, "it already exists")            \
  X(CONFLICT,        -7,  "conflict",          409, "conflicting state")            \
  X(TOO_LARGE,       -8,  "too_large",         413, "the request is too large")     \
  X(VALIDATION,      -9,  "validation_failed", 422, "the data broke the rules")     \
  X(INTERNAL,        -10, "internal",          500, "internal error")               \
  X(IO,              -11, "io_error",          500, "input/output error")           \
  X(UNAVAILABLE,     -12, "unavailable",       503, "service unavailable")          \
  X(TIMEOUT,         -13, "timeout",           504, "timed out")                    \
  X(CONNECT,         -14, "connection_failed", 503, "cannot reach the server")

enum oast_errcode {
#define OAST_X_ENUM(n, v, s, h, m) OAST_E##n = v,
  OAST_ERRORS(OAST_X_ENUM)
#undef OAST_X_ENUM
};

#define OAST_ERRMSG_MAX 1024

/* Error detail. Owned by the caller; usually on the stack. */
typedef struct oast_err {
  int code;                    /* one of enum oast_errcode */
  char msg[OAST_ERRMSG_MAX];   /* a sentence for a person, never empty after a failure */
} oast_err;

/* Clears e (code 0, empty message). e may be NULL. */
void oast_err_clear(oast_err *e);
/* Sets e and returns code, so callers can `return oast_err_set(...)`. */
int oast_err_set(oast_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Static strings from the table; unknown codes map to "internal". */
const char *oast_err_name(int code);
int oast_err_http(int code);
const char *oast_err_default_msg(int code);
/* The code whose name is s (from a JSON error body), OAST_EINTERNAL if none. */
int oast_err_from_name(const char *s);

#ifdef __cplusplus
}
#endif
#endif
