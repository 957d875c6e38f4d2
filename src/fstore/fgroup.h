/*
 * fgroup.h — feature groups: their schema and metadata.
 *
 * A feature group is a versioned, typed table with a primary key and an
 * optional event time. Its definition is validated once at creation and
 * stored as canonical JSON (the `spec` column); every later operation
 * loads it into a struct fgroup. Data lives in the project's feature store
 * dataset as one Parquet file per commit (commit.c).
 */
#ifndef FSTORE_FGROUP_H
#define FSTORE_FGROUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "formats/table.h"
#include "http/http.h"
#include "oast/error.h"

struct server;

#define FG_MAX_FEATURES 1024
#define FG_MAX_VERSION 100000

struct fg_feature {
  char *name;         /* owned */
  enum ftype type;
  char *description;  /* owned, may be "" */
};

struct fgroup {
  int64_t id;
  int64_t project_id;
  char project[64];
  char name[64];
  int version;
  char *description;             /* owned */
  struct fg_feature *features;   /* owned array */
  size_t nfeatures;
  int *pk;                       /* owned: indexes into features */
  size_t npk;
  int event_time;                /* index into features, -1 if none */
  bool online;
  bool stats_enabled, histograms, correlations;
  json_t *spec;                  /* owned: the canonical definition */
};

void fgroup_release(struct fgroup *g);

/*
 * Validates a creation request body into g (name, features, keys, options;
 * version stays 0 when absent). 400 naming the field on bad input.
 */
int fgroup_parse(json_t *body, struct fgroup *g, oast_err *e);

/* Loads the group (project id, name, version) or 404. */
int fgroup_load(struct req *r, const char *name, int version, struct fgroup *g, oast_err *e);

/* Loads from the route's {name} and {v} params. */
int fgroup_from_route(struct req *r, struct fgroup *g, oast_err *e);

/* Loads a group by id (any project), for work outside a request. */
int fgroup_load_id(struct server *s, int64_t id, struct fgroup *g, oast_err *e);

/* The group's data directory: <project>/<project>_featurestore.db/<name>_<version>; caller frees. */
char *fgroup_dir(struct server *s, const struct fgroup *g);

/* An empty table with the group's columns. */
void fgroup_table(const struct fgroup *g, struct table *t);

/* Whether the group has a feature of that name. */
bool name_like_feature(const struct fgroup *g, const char *name);

/* The group as the API shows it (spec plus id-free metadata). New reference. */
json_t *fgroup_json(const struct fgroup *g);

#endif
