/*
 * defs.h — what the route files of jobs (routes.c) and pipelines
 * (routes_pipeline.c) share: their definitions live in two tables of the
 * same shape (jobs, pipelines: project, name, spec, owner, schedule and
 * its watermark, times), stored, listed, shown and deleted the same way;
 * plus the parsing of ids and limits and the time format of answers.
 * Internal to src/jobs.
 */
#ifndef JOBS_DEFS_H
#define JOBS_DEFS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/http.h"
#include "oast/error.h"

struct server;

/* One kind of definition: its noun and its statements (string literals: meta_stmt caches by address). */
struct def_kind {
  const char *noun;        /* "job", "pipeline" */
  const char *find_sql;    /* SELECT id, schedule, sched_last, spec FROM t WHERE project_id = ? AND name = ? */
  const char *update_sql;  /* UPDATE t SET spec = ?, owner_id = ?, schedule = ?, sched_last = ?, updated = ? WHERE id = ? */
  const char *insert_sql;  /* INSERT INTO t(project_id, name, spec, owner_id, schedule, sched_last, created, updated) */
  const char *list_sql;    /* SELECT id FROM t WHERE project_id = ? ORDER BY name */
  const char *base_sql;    /* SELECT t.spec, owner's username, created, updated, schedule, sched_last ... WHERE t.id = ? */
  const char *active_sql;  /* SELECT count(*) of its runs in progress, by the definition's id */
  const char *delete_sql;  /* DELETE FROM t WHERE id = ? */
  /* The definition as answered (NULL when gone); full: everything a GET of one shows. */
  json_t *(*json)(struct server *s, int64_t id, bool full);
};

/* The id (and, when spec is not NULL, the stored spec text, owned) of definition `name`; 404 naming it. */
int defs_find(struct req *r, const struct def_kind *k, const char *name, int64_t *id, char **spec, oast_err *e);
/*
 * Stores a definition (canon: its canonical JSON, borrowed) under name in
 * one transaction: a new one (201), or over an existing one when replace
 * (200; 409 otherwise), and answers it. The caller becomes its owner,
 * whom its schedule acts as. An unchanged schedule keeps its watermark; a
 * new one counts from now. Audited as "<noun>:<name>".
 */
int defs_save(struct req *r, const struct def_kind *k, const char *name, json_t *canon, const char *schedule,
              bool replace, struct resp *w, oast_err *e);
/* GET of the list, of one ({name} of the path), DELETE of one (409 while a run is in progress). */
int defs_list(struct req *r, const struct def_kind *k, struct resp *w, oast_err *e);
int defs_get(struct req *r, const struct def_kind *k, struct resp *w, oast_err *e);
int defs_delete(struct req *r, const struct def_kind *k, struct resp *w, oast_err *e);
/* The stored spec with "owner", "created", "updated" and "next_run" added (base_sql), or NULL. */
json_t *defs_base_json(struct server *s, const struct def_kind *k, int64_t id);

/* A positive integer path parameter, else 404 naming it as a run. */
int jobs_param_id(struct req *r, const char *name, int64_t *out, oast_err *e);
/* ?limit=1..1000, default 100; 400 otherwise. */
int jobs_query_limit(struct req *r, int64_t *limit, oast_err *e);
/* ISO-8601 UTC text of a time, or JSON null for 0. New reference. */
json_t *jobs_time(int64_t t);

#endif
