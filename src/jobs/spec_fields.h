/*
 * spec_fields.h — table-driven checks of the fields of job and pipeline
 * specs (internal to src/jobs).
 *
 * A spec type lists its fields once as a table of {name, kind, required};
 * spec_fields_check validates each present field by its kind, refuses
 * fields that no table lists, and copies the accepted values (paths
 * normalized) into a canonical object. Every message starts with `who`
 * (`task "train"`, `job "etl"`), so the caller never has to rewrap.
 */
#ifndef JOBS_SPEC_FIELDS_H
#define JOBS_SPEC_FIELDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "oast/error.h"

#define SPEC_MAX_STR 4096      /* bytes of a free-text string (description, metric, argument) */
#define SPEC_MAX_LIST 256      /* items of args and entries of env */

enum spec_kind {
  SK_NAME,      /* a string that is a valid name (util/path.h) */
  SK_PATH,      /* a non-empty relative project path; stored normalized */
  SK_STR,       /* a non-empty string up to SPEC_MAX_STR bytes without NUL */
  SK_VERSION,   /* an integer >= 1 */
  SK_INT,       /* any integer */
  SK_COUNT,     /* an integer 1..1024 */
  SK_SECONDS,   /* an integer 1..max (max from the table row) */
  SK_DELAY,     /* an integer 0..max */
  SK_OBJ,       /* an object, kept as given */
  SK_STRS,      /* an array of at most SPEC_MAX_LIST strings */
  SK_ENV,       /* an object of at most SPEC_MAX_LIST NAME=string pairs; OAST_* names are reserved */
  SK_SPLITS,    /* an object {name: fraction in (0,1]} summing to 1 */
  SK_CHOICE,    /* one of the strings in choices */
  SK_TIME,      /* a non-empty string up to 64 bytes, or an integer */
  SK_BOOL,
  SK_ID,        /* an integer >= 1 or a string of [A-Za-z0-9_-], 1 to 64 bytes */
};

struct spec_field {
  const char *name;
  enum spec_kind kind;
  bool required;
  int64_t max;                   /* SK_SECONDS, SK_DELAY */
  const char *const *choices;    /* SK_CHOICE: NULL-terminated */
};

/*
 * Checks the fields of obj that tables (a NULL-terminated list of
 * NULL-name-terminated arrays) describe, and refuses any other field of
 * obj except those in `also` (NULL-terminated; checked by the caller).
 * Accepted values are deep-copied into canon. 0 or OAST_EBAD_REQUEST.
 */
int spec_fields_check(json_t *obj, const struct spec_field *const *tables, const char *const *also,
                      json_t *canon, const char *who, oast_err *e);

/* Sets e to "<who>: <formatted message>" with OAST_EBAD_REQUEST; returns that code. */
int spec_fail(oast_err *e, const char *who, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Index of s in the NULL-terminated names, or -1. */
int spec_choice(const char *const *names, const char *s);

#endif
