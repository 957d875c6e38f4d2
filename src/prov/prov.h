/*
 * prov.h — provenance: edges "dst was made from src" between artifacts of
 * a project (feature groups, feature views, training data, experiments,
 * trials, models, deployments), recorded by the operation that creates
 * dst, inside that operation's transaction, so an artifact never exists
 * without its lineage.
 *
 * Artifacts are named by kind and a string id such as "sales:1" (name and
 * version) or "17" (an experiment id).
 */
#ifndef PROV_PROV_H
#define PROV_PROV_H

#include <stdint.h>

#include "http/http.h"
#include "oast/error.h"

struct server;

int prov_add(struct server *s, int64_t project_id, const char *src_kind, const char *src, const char *dst_kind,
             const char *dst, const char *relation, oast_err *e);

extern const struct route prov_routes[];

#endif
