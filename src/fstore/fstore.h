/*
 * fstore.h — feature store services shared by its routes: expectations,
 * per-commit statistics and the online store's recovery.
 */
#ifndef FSTORE_FSTORE_H
#define FSTORE_FSTORE_H

#include <jansson.h>
#include <stdint.h>

#include "formats/table.h"
#include "fstore/expect.h"
#include "fstore/fgroup.h"
#include "http/http.h"

struct server;

/* The group's expectation suite parsed for t's schema; *out NULL when it has none. */
int fstore_expectations(struct req *r, const struct fgroup *g, const struct table *t, struct expect_suite **out,
                        oast_err *e);

/*
 * The saved statistics state of the group after a commit of rows `t`:
 * merged from the state of commit `prev` when the commit replaced no row
 * (rows_updated == 0), recomputed from the merged data otherwise.
 */
int fstore_commit_stats(struct req *r, const struct fgroup *g, const struct table *t, int64_t prev, int64_t rows_updated,
                        json_t **state, oast_err *e);

/* Rebuilds the online rows of one group from its latest offline commit. */
int fstore_recover_group(struct server *s, int64_t fg_id, oast_err *e);
/* At start: files that no commit names are removed from every group's directory, and every online
 * group whose marker disagrees with its latest commit is rebuilt. */
int fstore_recover(struct server *s, oast_err *e);

/* The ?format=csv|json|parquet (default json) and ?limit=N of a read, each refused with a 400 naming it. */
int fstore_read_query(struct req *r, const char **fmt, size_t *limit, oast_err *e);
/*
 * Answers with the first n rows of t (all when fewer) in fmt: CSV and
 * JSON are formatted while they are sent, Parquet is written whole first.
 * t is taken (left empty).
 */
int fstore_answer_table(struct req *r, struct resp *w, struct table *t, size_t n, const char *fmt, oast_err *e);

#endif
