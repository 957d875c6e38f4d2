/*
 * cache.h — a per-thread cache of access decisions' inputs: credential →
 * principal, (user, project) → membership, (project, dataset) → dataset.
 *
 * Every entry carries the server's generation number, which the router
 * bumps after every request that may change users, keys, members,
 * projects, datasets or shares (every non-GET request), and the server
 * bumps for its own changes (auth_cache_invalidate). An entry of an older
 * generation is never used, so a revoked key or a removed member is
 * refused on the very next request, as without the cache. Entries are
 * per thread (no locks) and per server (tests run several in one process).
 */
#ifndef AUTH_CACHE_H
#define AUTH_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/authz.h"
#include "http/http.h"

struct server;

/* Any change that can affect access: drop everything cached so far. */
void auth_cache_invalidate(struct server *s);
/* The generation to tag an entry with: read it BEFORE the lookup whose result is cached,
 * so a change committed during the lookup makes the entry stale rather than wrong. */
uint64_t auth_cache_gen(struct server *s);

bool auth_cache_principal(struct server *s, const char hash[65], struct principal *p, int64_t *expires);
void auth_cache_put_principal(struct server *s, uint64_t gen, const char hash[65], const struct principal *p, int64_t expires);

bool auth_cache_project(struct server *s, int64_t user_id, const char *name, struct project_ref *out);
void auth_cache_put_project(struct server *s, uint64_t gen, int64_t user_id, const struct project_ref *ref);

bool auth_cache_dataset(struct server *s, int64_t project_id, const char *name, struct dataset_ref *out);
void auth_cache_put_dataset(struct server *s, uint64_t gen, int64_t project_id, const struct dataset_ref *ref);

#endif
