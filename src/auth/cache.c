/* cache.c — per-thread, generation-checked access caches (see cache.h). */
#include "auth/cache.h"

#include <stdatomic.h>
#include <string.h>

#include "http/server.h"

#define SLOTS 64

struct pslot {
  const struct server *srv;
  uint64_t gen;
  char hash[65];
  struct principal p;
  int64_t expires;
};
struct rslot {
  const struct server *srv;
  uint64_t gen;
  int64_t user_id;
  struct project_ref ref;
};
struct dslot {
  const struct server *srv;
  uint64_t gen;
  int64_t project_id;
  struct dataset_ref ref;
};

static _Thread_local struct pslot pcache[SLOTS];
static _Thread_local struct rslot rcache[SLOTS];
static _Thread_local struct dslot dcache[SLOTS];

static uint64_t gen_of(struct server *s) { return atomic_load_explicit(&s->access_gen, memory_order_acquire); }

uint64_t auth_cache_gen(struct server *s) { return gen_of(s); }

void auth_cache_invalidate(struct server *s) { atomic_fetch_add_explicit(&s->access_gen, 1, memory_order_acq_rel); }

static unsigned slot_of(const char *str, int64_t n) {
  uint64_t h = 1469598103934665603ULL ^ (uint64_t)n;
  for (const unsigned char *p = (const unsigned char *)str; *p; p++) h = (h ^ *p) * 1099511628211ULL;
  return (unsigned)(h % SLOTS);
}

bool auth_cache_principal(struct server *s, const char hash[65], struct principal *p, int64_t *expires) {
  struct pslot *c = &pcache[slot_of(hash, 0)];
  if (c->srv != s || c->gen != gen_of(s) || strcmp(c->hash, hash) != 0) return false;
  *p = c->p;
  *expires = c->expires;
  return true;
}

void auth_cache_put_principal(struct server *s, uint64_t gen, const char hash[65], const struct principal *p, int64_t expires) {
  struct pslot *c = &pcache[slot_of(hash, 0)];
  c->srv = s;
  c->gen = gen;
  memcpy(c->hash, hash, 65);
  c->p = *p;
  c->expires = expires;
}

bool auth_cache_project(struct server *s, int64_t user_id, const char *name, struct project_ref *out) {
  struct rslot *c = &rcache[slot_of(name, user_id)];
  if (c->srv != s || c->gen != gen_of(s) || c->user_id != user_id || strcmp(c->ref.name, name) != 0) return false;
  *out = c->ref;
  return true;
}

void auth_cache_put_project(struct server *s, uint64_t gen, int64_t user_id, const struct project_ref *ref) {
  struct rslot *c = &rcache[slot_of(ref->name, user_id)];
  c->srv = s;
  c->gen = gen;
  c->user_id = user_id;
  c->ref = *ref;
}

bool auth_cache_dataset(struct server *s, int64_t project_id, const char *name, struct dataset_ref *out) {
  struct dslot *c = &dcache[slot_of(name, project_id)];
  if (c->srv != s || c->gen != gen_of(s) || c->project_id != project_id || strcmp(c->ref.name, name) != 0) return false;
  *out = c->ref;
  return true;
}

void auth_cache_put_dataset(struct server *s, uint64_t gen, int64_t project_id, const struct dataset_ref *ref) {
  struct dslot *c = &dcache[slot_of(ref->name, project_id)];
  c->srv = s;
  c->gen = gen;
  c->project_id = project_id;
  c->ref = *ref;
}
