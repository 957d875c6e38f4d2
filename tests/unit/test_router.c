/* test_router.c — route matching against the real route tables. */
#include <string.h>

#include "http/router.h"
#include "test.h"

static struct req *find(const char *url, const char *method, int *rc, oast_err *e) {
  static struct req r;
  memset(&r, 0, sizeof r);
  *rc = router_find(&r, url, method, e);
  return &r;
}

TEST(router_captures_params_and_tail) {
  int rc;
  oast_err e;
  struct req *r = find("/api/v1/projects/demo/files/Resources/a%20b/c.txt", "GET", &rc, &e);
  ASSERT_EQ(rc, 0);
  ASSERT_STREQ(r->route->action, "file.get");
  ASSERT_STREQ(req_param(r, "p"), "demo");
  ASSERT_STREQ(req_param(r, "path"), "Resources/a b/c.txt");
  router_free_params(r);
  r = find("/api/v1/projects/demo/members/bob", "PATCH", &rc, &e);
  ASSERT_EQ(rc, 0);
  ASSERT_STREQ(r->route->action, "member.update");
  ASSERT_STREQ(req_param(r, "user"), "bob");
  router_free_params(r);
}

TEST(router_keeps_encoded_nul_and_slash_visible) {
  int rc;
  oast_err e;
  struct req *r = find("/api/v1/projects/demo/files/Resources/a%00b", "GET", &rc, &e);
  ASSERT_EQ(rc, 0);
  const char *p = req_param(r, "path");
  ASSERT(strlen(p) < r->param_lens[1]); /* the NUL is inside: the files layer refuses it */
  router_free_params(r);
  r = find("/api/v1/projects/de%2Fmo/datasets", "GET", &rc, &e);
  ASSERT_EQ(rc, 0);
  ASSERT_STREQ(req_param(r, "p"), "de/mo"); /* one segment, never a path: names are validated later */
  router_free_params(r);
}

TEST(router_errors) {
  int rc;
  oast_err e;
  find("/api/v1/nothing/here", "GET", &rc, &e);
  ASSERT_EQ(rc, OAST_ENOT_FOUND);
  find("/api/v1/health", "DELETE", &rc, &e);
  ASSERT_EQ(rc, OAST_EMETHOD);
  find("/api/v1/projects/a%zz", "GET", &rc, &e);
  ASSERT_EQ(rc, OAST_EBAD_REQUEST);
  struct req *r = find("/api/v1/projects/", "GET", &rc, &e);
  ASSERT_EQ(rc, 0);
  ASSERT_STREQ(r->route->action, "project.list");
}

TEST(router_every_route_has_an_action_and_handler) {
  for (const struct route *const *t = router_tables; *t; t++)
    for (const struct route *rt = *t; rt->method; rt++) {
      ASSERT(rt->action != NULL);
      ASSERT(rt->fn != NULL);
      ASSERT(!(rt->flags & ROUTE_STREAM) || rt->begin != NULL);
    }
}
