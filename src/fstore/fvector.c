/*
 * fvector.c — online feature vectors of a feature view:
 * POST .../featureviews/{name}/versions/{v}/vectors {"entries": [{pk: value}, ..]}
 * → {"features": [names], "vectors": [[..] | null, ..]}.
 *
 * An entry gives the view's serving key: the primary key of its left
 * feature group, by feature name. Its vector is the view's features
 * (labels left out), in view order, from the online store: the left
 * group's row for the key, then each joined group's row for the key
 * values the left row holds (its left_on features). A joined group
 * without a row gives nulls for its features; an entry whose left row
 * does not exist gives a null vector, so a batch answers every entry in
 * order. Every group of the view must be online-enabled (else 400). An
 * entry that misses part of the key, names anything else, or gives a
 * value of the wrong type is a 400 naming the entry and the feature, and
 * nothing is answered for the batch.
 *
 * Speed: a lookup is a read, so the route is flagged ROUTE_READ (no audit
 * line, no access-cache invalidation). The view's compiled serving plan
 * (group ids, schemas, key mappings) is kept in a small per-thread cache
 * tagged with the server's access generation, which every change through
 * the API (a new or deleted view or group among them) bumps, so the
 * steady state of a lookup does no metadata query at all. All entries
 * of a request are read in one LMDB read transaction, rows stay in their
 * stored encoding (a joined group's key is the left row's key cells,
 * copied as they are), and the answer is written as JSON text straight
 * from the cells, with no JSON objects built per value.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "auth/cache.h"
#include "fstore/fview.h"
#include "fstore/online.h"
#include "http/server.h"
#include "util/alloc.h"
#include "util/json.h"

#define FVEC_MAX_ENTRIES 10000
#define CACHE_SLOTS 16

struct plan_group {
  int64_t fg_id;
  struct table schema;   /* the group's columns, no rows */
  int *pk;               /* owned: the group's primary key columns */
  size_t npk;
  int *from_left;        /* joins, owned: per pk position, the left column that supplies it */
};

struct plan {
  int64_t project_id;
  char name[64];
  int version;
  uint64_t gen;
  const struct server *srv;
  struct plan_group *groups;
  size_t ngroups;
  size_t nout;
  size_t *out_group;     /* per output feature: its group and column */
  int *out_col;
  json_t *features;      /* the output names */
  char *features_text;   /* the same as JSON text */
  char **pk_names;       /* the serving key (left pk) names */
  size_t npk;
};

static void plan_free(struct plan *p) {
  if (!p) return;
  for (size_t i = 0; i < p->ngroups; i++) {
    table_release(&p->groups[i].schema);
    free(p->groups[i].pk);
    free(p->groups[i].from_left);
  }
  free(p->groups);
  free(p->out_group);
  free(p->out_col);
  json_decref(p->features);
  free(p->features_text);
  for (size_t i = 0; i < p->npk; i++) free(p->pk_names[i]);
  free(p->pk_names);
  free(p);
}

/* ---- the per-thread plan cache ---- */

struct cache {
  struct plan *slot[CACHE_SLOTS];
  unsigned next;
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_destroy(void *p) {
  struct cache *c = p;
  for (int i = 0; i < CACHE_SLOTS; i++) plan_free(c->slot[i]);
  free(c);
}

static void cache_init(void) { pthread_key_create(&cache_key, cache_destroy); }

static struct cache *thread_cache(void) {
  pthread_once(&cache_once, cache_init);
  struct cache *c = pthread_getspecific(cache_key);
  if (!c) {
    c = xcalloc(1, sizeof *c);
    pthread_setspecific(cache_key, c);
  }
  return c;
}

static int plan_build(struct req *r, uint64_t gen, struct plan **out, oast_err *e) {
  struct fview v;
  int rc = fview_from_route(r, &v, e);
  if (rc) return rc;
  for (size_t i = 0; i < v.ngroups; i++)
    if (!v.groups[i].g.online) {
      rc = oast_err_set(e, OAST_EBAD_REQUEST,
                        "feature group \"%s\" version %d of feature view \"%s\" is not online-enabled; vectors come from "
                        "the online store",
                        v.groups[i].g.name, v.groups[i].g.version, v.name);
      fview_release(&v);
      return rc;
    }
  struct plan *p = xcalloc(1, sizeof *p);
  p->srv = r->srv;
  p->gen = gen;
  p->project_id = r->proj.id;
  snprintf(p->name, sizeof p->name, "%s", v.name);
  p->version = v.version;
  p->ngroups = v.ngroups;
  p->groups = xcalloc(v.ngroups, sizeof *p->groups);
  for (size_t i = 0; i < v.ngroups; i++) {
    const struct fv_group *fg = &v.groups[i];
    struct plan_group *pg = &p->groups[i];
    pg->fg_id = fg->g.id;
    fgroup_table(&fg->g, &pg->schema);
    pg->npk = fg->g.npk;
    pg->pk = xcalloc(pg->npk, sizeof *pg->pk);
    memcpy(pg->pk, fg->g.pk, pg->npk * sizeof *pg->pk);
    if (i > 0) {
      pg->from_left = xcalloc(pg->npk, sizeof *pg->from_left);
      for (size_t k = 0; k < pg->npk; k++)
        for (size_t j = 0; j < fg->nkeys; j++)
          if (fg->right_on[j] == pg->pk[k]) pg->from_left[k] = fg->left_on[j];
    }
  }
  p->features = json_array();
  p->out_group = xcalloc(v.ncols, sizeof *p->out_group);
  p->out_col = xcalloc(v.ncols, sizeof *p->out_col);
  for (size_t c = 0; c < v.ncols; c++) {
    if (v.cols[c].label) continue;
    p->out_group[p->nout] = v.cols[c].group;
    p->out_col[p->nout] = v.cols[c].feature;
    p->nout++;
    json_array_append_new(p->features, json_string(v.cols[c].name));
  }
  p->features_text = json_dumps(p->features, JSON_COMPACT);
  const struct fgroup *L = &v.groups[0].g;
  p->npk = L->npk;
  p->pk_names = xcalloc(L->npk, sizeof *p->pk_names);
  for (size_t k = 0; k < L->npk; k++) p->pk_names[k] = xstrdup(L->features[L->pk[k]].name);
  fview_release(&v);
  *out = p;
  return 0;
}

/* The plan of the route's view: cached, or built and cached. Borrowed from the thread's cache. */
static int plan_get(struct req *r, struct plan **out, oast_err *e) {
  const char *name = req_param(r, "name"), *ver = req_param(r, "v");
  char *end;
  long version = strtol(ver ? ver : "", &end, 10);
  uint64_t gen = auth_cache_gen(r->srv); /* read first: a change during the build makes the entry stale */
  struct cache *c = thread_cache();
  if (ver && *ver && !*end)
    for (int i = 0; i < CACHE_SLOTS; i++) {
      struct plan *p = c->slot[i];
      if (p && p->srv == r->srv && p->gen == gen && p->project_id == r->proj.id && p->version == version &&
          !strcmp(p->name, name)) {
        *out = p;
        return 0;
      }
    }
  struct plan *p = NULL;
  int rc = plan_build(r, gen, &p, e);
  if (rc) return rc;
  unsigned at = c->next++ % CACHE_SLOTS;
  plan_free(c->slot[at]);
  c->slot[at] = p;
  *out = p;
  return 0;
}

/* ---- the lookup ---- */

/* Prefixes the entry index to e's message. */
static int at_entry(oast_err *e, int rc, size_t i) {
  char msg[OAST_ERRMSG_MAX];
  snprintf(msg, sizeof msg, "%s", e ? e->msg : "");
  return oast_err_set(e, rc, "entries[%zu]: %s", i, msg);
}

static int check_entry(const struct plan *p, json_t *entry, size_t i, oast_err *e) {
  if (!json_is_object(entry))
    return oast_err_set(e, OAST_EBAD_REQUEST, "entries[%zu] must be an object of primary key values", i);
  for (size_t k = 0; k < p->npk; k++)
    if (!json_object_get(entry, p->pk_names[k]))
      return oast_err_set(e, OAST_EBAD_REQUEST, "entries[%zu]: the primary key \"%s\" is missing", i, p->pk_names[k]);
  if (json_object_size(entry) != p->npk) {
    const char *key;
    json_t *val;
    json_object_foreach(entry, key, val) {
      bool known = false;
      for (size_t k = 0; k < p->npk; k++) known |= !strcmp(p->pk_names[k], key);
      if (!known)
        return oast_err_set(e, OAST_EBAD_REQUEST,
                            "entries[%zu]: \"%.64s\" is not part of the serving key of feature view \"%s\" (its primary "
                            "key)",
                            i, key, p->name);
    }
  }
  return 0;
}

/* Appends the vector of one entry as JSON text (or null) to out, reading the rows of the snapshot. */
static int lookup(struct online_snap *snap, const struct plan *p, json_t *entry, size_t i, struct buf *key,
                  struct buf *out, oast_err *e) {
  const void *rows[FV_MAX_JOINS + 1] = {NULL};
  size_t lens[FV_MAX_JOINS + 1] = {0};
  const struct plan_group *L = &p->groups[0];
  int rc = 0;
  buf_reset(key);
  for (size_t k = 0; k < L->npk && !rc; k++)
    if ((rc = online_encode_json(key, L->schema.cols[L->pk[k]].type, json_object_get(entry, p->pk_names[k]), e))) {
      char msg[OAST_ERRMSG_MAX];
      snprintf(msg, sizeof msg, "%s", e ? e->msg : "");
      oast_err_set(e, rc, "primary key \"%s\": %s", p->pk_names[k], msg);
      return at_entry(e, rc, i);
    }
  if ((rc = online_snap_get(snap, L->fg_id, key->data, key->len, &rows[0], &lens[0], e))) return rc;
  if (!rows[0]) {
    buf_puts(out, "null");
    return 0;
  }
  /* Each joined group by the key cells the left row holds (a null cell: no row). */
  for (size_t g = 1; g < p->ngroups && !rc; g++) {
    const struct plan_group *pg = &p->groups[g];
    bool null_key = false;
    buf_reset(key);
    for (size_t k = 0; k < pg->npk && !null_key; k++) {
      const void *cell;
      size_t n;
      if (online_cell(rows[0], lens[0], (size_t)pg->from_left[k], &cell, &n))
        return oast_err_set(e, OAST_EINTERNAL, "a corrupt record in the online store");
      null_key = online_cell_is_null(cell, n);
      buf_append(key, cell, n);
    }
    if (!null_key) rc = online_snap_get(snap, pg->fg_id, key->data, key->len, &rows[g], &lens[g], e);
  }
  if (rc) return rc;
  buf_putc(out, '[');
  for (size_t f = 0; f < p->nout; f++) {
    size_t g = p->out_group[f];
    const void *cell = NULL;
    size_t n = 0;
    if (f) buf_putc(out, ',');
    if (rows[g] && online_cell(rows[g], lens[g], (size_t)p->out_col[f], &cell, &n))
      return oast_err_set(e, OAST_EINTERNAL, "a corrupt record in the online store");
    online_cell_json(cell, n, out);
  }
  buf_putc(out, ']');
  return 0;
}

static int fv_vectors(struct req *r, struct resp *w, oast_err *e) {
  struct plan *p;
  int rc = plan_get(r, &p, e);
  if (rc) return rc;
  json_t *b = NULL, *entries = NULL;
  static const char *const allowed[] = {"entries", NULL};
  if ((rc = req_json(r, &b, e)) || (rc = json_only_fields(b, allowed, e)) ||
      (rc = json_get_array(b, "entries", true, &entries, e)))
    goto out;
  size_t n = json_array_size(entries);
  if (n == 0 || n > FVEC_MAX_ENTRIES) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"entries\" must hold 1 to %d entries", FVEC_MAX_ENTRIES);
    goto out;
  }
  for (size_t i = 0; i < n && !rc; i++) rc = check_entry(p, json_array_get(entries, i), i, e);
  if (rc) goto out;
  struct online_snap *snap = NULL;
  if ((rc = online_snap_begin(r->srv->online, &snap, e))) goto out;
  struct buf text, key;
  buf_init(&text, 0);
  buf_init(&key, 0);
  buf_puts(&text, "{\"features\":");
  buf_puts(&text, p->features_text);
  buf_puts(&text, ",\"vectors\":[");
  for (size_t i = 0; i < n && !rc; i++) {
    if (i) buf_putc(&text, ',');
    rc = lookup(snap, p, json_array_get(entries, i), i, &key, &text, e);
  }
  online_snap_end(snap);
  buf_puts(&text, "]}");
  if (!rc) resp_text(w, 200, text.data, text.len, "application/json");
  buf_release(&text);
  buf_release(&key);
out:
  json_decref(b);
  return rc;
}

const struct route fvector_routes[] = {
    {"POST", "/api/v1/projects/{p}/featurestore/featureviews/{name}/versions/{v}/vectors", ACCESS_MEMBER, ROUTE_READ,
     "featureview.vectors", fv_vectors, NULL},
    ROUTES_END,
};
