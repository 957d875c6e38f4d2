/*
 * fgdata.h — reading a feature group's data as of a commit, shared by the
 * data routes, training data and the online store's recovery.
 */
#ifndef FSTORE_FGDATA_H
#define FSTORE_FGDATA_H

#include <stdint.h>

#include "formats/table.h"
#include "fstore/fgroup.h"
#include "http/http.h"

struct server;

/*
 * The group's rows as of commit `as_of` (0: the latest), merged: for each
 * key (primary key, plus event time when the group has one) the row of the
 * newest commit. columns/ncolumns select and order columns (NULL: all).
 * *commit receives the commit read (0 when the group has none; then *out
 * is empty with the requested columns). out is initialized by the call.
 */
int fgdata_read(struct server *s, const struct fgroup *g, int64_t as_of, const char *const *columns, size_t ncolumns,
                struct table *out, int64_t *commit, oast_err *e);

/* Appends every row of src to dst (same columns, same types). */
void fgdata_append(struct table *dst, const struct table *src);

#endif
