/*
 * prov.c — lineage edges and their queries (see prov.h).
 * GET /projects/{p}/provenance?kind=K&id=ID answers what the artifact was
 * made from ("upstream") and what was made from it ("downstream"),
 * following edges transitively up to a fixed depth.
 */
#include "prov/prov.h"

#include <string.h>

#include "http/server.h"
#include "meta/meta.h"
#include "util/alloc.h"

#define PROV_MAX_DEPTH 16
#define PROV_MAX_EDGES 1000

int prov_add(struct server *s, int64_t project_id, const char *src_kind, const char *src, const char *dst_kind,
             const char *dst, const char *relation, oast_err *e) {
  return meta_exec(s->meta, e,
                   "INSERT INTO provenance(project_id, src_kind, src, dst_kind, dst, relation, created) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   "isssssi", project_id, src_kind, src, dst_kind, dst, relation, meta_now());
}

static const char *const kinds[] = {"featuregroup", "featureview", "trainingdata", "experiment", "trial",
                                    "model",        "deployment",  "job",          "pipeline",   NULL};

static int kind_valid(const char *k) {
  for (int i = 0; kinds[i]; i++)
    if (!strcmp(kinds[i], k)) return 1;
  return 0;
}

/* Breadth-first walk; up: follow edges into the artifact, else out of it. */
static json_t *walk(struct req *r, const char *kind, const char *id, int up) {
  static const char *const sql_up =
      "SELECT src_kind, src, relation FROM provenance WHERE project_id = ? AND dst_kind = ? AND dst = ? ORDER BY id";
  static const char *const sql_down =
      "SELECT dst_kind, dst, relation FROM provenance WHERE project_id = ? AND src_kind = ? AND src = ? ORDER BY id";
  json_t *out = json_array();
  json_t *frontier = json_array();
  json_array_append_new(frontier, json_pack("{s:s,s:s}", "kind", kind, "id", id));
  for (int depth = 1; depth <= PROV_MAX_DEPTH && json_array_size(frontier) && json_array_size(out) < PROV_MAX_EDGES;
       depth++) {
    json_t *next = json_array();
    size_t i;
    json_t *node;
    json_array_foreach(frontier, i, node) {
      const char *nk = json_string_value(json_object_get(node, "kind"));
      const char *ni = json_string_value(json_object_get(node, "id"));
      sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, up ? sql_up : sql_down), "iss", r->proj.id, nk, ni);
      while (st && sqlite3_step(st) == SQLITE_ROW && json_array_size(out) < PROV_MAX_EDGES) {
        json_t *n = json_pack("{s:s,s:s,s:s,s:i}", "kind", (const char *)sqlite3_column_text(st, 0), "id",
                              (const char *)sqlite3_column_text(st, 1), "relation",
                              (const char *)sqlite3_column_text(st, 2), "depth", depth);
        json_array_append(out, n);
        json_array_append_new(next, n);
      }
      if (st) sqlite3_reset(st);
    }
    json_decref(frontier);
    frontier = next;
  }
  json_decref(frontier);
  return out;
}

static int prov_get(struct req *r, struct resp *w, oast_err *e) {
  const char *kind = req_query(r, "kind"), *id = req_query(r, "id");
  if (!kind || !kind_valid(kind))
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "query parameter \"kind\" must be one of featuregroup, featureview, trainingdata, experiment, "
                        "trial, model, deployment, job, pipeline");
  if (!id || !*id || strlen(id) > 200)
    return oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"id\" is required (e.g. \"name:version\")");
  resp_json(w, 200, json_pack("{s:s,s:s,s:o,s:o}", "kind", kind, "id", id, "upstream", walk(r, kind, id, 1),
                              "downstream", walk(r, kind, id, 0)));
  return 0;
}

const struct route prov_routes[] = {
    {"GET", "/api/v1/projects/{p}/provenance", ACCESS_MEMBER, 0, "provenance.get", prov_get, NULL},
    ROUTES_END,
};
