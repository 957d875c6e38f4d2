/*
 * fview.h — feature views: a query over feature groups (a left group, its
 * selected features, and groups joined to it on a key with optional
 * prefixes) plus the label columns, versioned and stored as canonical
 * JSON in the featureviews table. Training data (trainingdata.c) and
 * online feature vectors are read through a view.
 *
 * Joins are left joins (or inner, on request) from the left group: the
 * right side's keys must be its whole primary key, so a key and an event
 * time name at most one row of a group, and when both groups have event
 * times the join is point in time (pitjoin.h): a left row takes, per
 * joined group, the latest row with its key and an event time at or
 * before its own.
 */
#ifndef FSTORE_FVIEW_H
#define FSTORE_FVIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "formats/table.h"
#include "fstore/fgroup.h"
#include "fstore/pitjoin.h"
#include "http/http.h"
#include "oast/error.h"

#define FV_MAX_JOINS 16
#define FV_MAX_VERSION 100000

/* One feature group of a view: groups[0] is the left group, then one per join. */
struct fv_group {
  struct fgroup g;
  char prefix[64];      /* prepended to the names of its features in the view ("" for none) */
  int *sel;             /* owned: selected feature indexes in g, in view order */
  size_t nsel;
  int left_on[PIT_MAX_KEYS];   /* joins: the left group's key features */
  int right_on[PIT_MAX_KEYS];  /* joins: this group's key features (its primary key) */
  size_t nkeys;
  bool inner;
};

/* One column of the view, in view order. */
struct fv_col {
  char *name;           /* owned, prefixed */
  enum ftype type;
  size_t group;         /* index into groups */
  int feature;          /* index into that group's features */
  bool label;
};

struct fview {
  int64_t id;
  int64_t project_id;
  char name[64];
  int version;
  char *description;    /* owned */
  struct fv_group *groups;  /* owned array */
  size_t ngroups;
  struct fv_col *cols;  /* owned array */
  size_t ncols;
  json_t *spec;         /* owned: the canonical definition as stored */
};

void fview_release(struct fview *v);

/*
 * Validates a creation body against the project's feature groups into v
 * (version stays 0 when absent): groups and versions exist, features
 * exist, join keys have compatible types and cover the joined group's
 * primary key, names do not clash, labels are columns of the view. 400
 * naming the field, 404 for a missing group.
 */
int fview_parse(struct req *r, json_t *body, struct fview *v, oast_err *e);

/* Loads the view (project of r, name, version) or 404. On failure v holds nothing to release. */
int fview_load(struct req *r, const char *name, int version, struct fview *v, oast_err *e);
/* Loads from the route's {name} and {v}; the same on failure. */
int fview_from_route(struct req *r, struct fview *v, oast_err *e);

/* The row id (and version) of the route's view, without resolving its groups, so a view whose group was
 * deleted can still be listed or deleted; 404 when there is none. */
int fview_route_id(struct req *r, int64_t *id, int *version, oast_err *e);

/* The view as the API shows it; new reference. */
json_t *fview_json(const struct fview *v);

/*
 * The view's rows: the left group's latest data, optionally limited to
 * left event times in [start_us, end_us) (has_window), joined point in
 * time with each joined group's latest data. Columns in view order.
 * *commits (may be NULL) gets {"group:version": commit id} of what was
 * read, a new reference. out is initialized by the call.
 */
int fview_read(struct server *s, const struct fview *v, bool has_window, int64_t start_us, int64_t end_us,
               struct table *out, json_t **commits, oast_err *e);

extern const struct route fview_routes[];

#endif
