/*
 * authz.h — the one place where access is decided.
 *
 * Roles map to rights through a single matrix:
 *
 *                 read  write  data_io  manage
 *   data_owner     yes   yes    yes      yes
 *   data_scientist yes   yes    no       no
 *
 * read: list, stat, preview, see metadata. write: create and change
 * through the platform (mkdir, delete files, feature store, jobs).
 * data_io: move raw bytes across the project boundary (upload, download).
 * manage: members, shares, deleting datasets and the project.
 *
 * A caller who is not a member of a project is told the project does not
 * exist (404), never that it is forbidden, so project names do not leak.
 * A member whose role lacks the right gets 403. Every refusal marks the
 * request as denied so the router audits it.
 *
 * Datasets shared from another project ("q::ds") add the share's
 * permission: read needs an accepted share, write needs read_write, and
 * data_io on a shared dataset is reserved to data owners of the owning
 * project (the data never leaves its project through a share).
 */
#ifndef AUTH_AUTHZ_H
#define AUTH_AUTHZ_H

#include <stdbool.h>
#include <stdint.h>

#include "http/http.h"
#include "oast/error.h"

enum right { RIGHT_READ, RIGHT_WRITE, RIGHT_DATA_IO, RIGHT_MANAGE };

bool authz_role_allows(const char *role, enum right r);
const char *authz_right_name(enum right r);

/* Resolves project `name` for the caller into out; 404 for non-members. */
int authz_project(struct req *r, const char *name, struct project_ref *out, oast_err *e);
/* 403 unless the caller's role in r->proj allows right. */
int authz_require(struct req *r, enum right right, oast_err *e);

/* A dataset as seen from the request's project. */
struct dataset_ref {
  int64_t id;
  int64_t owner_project_id;
  char owner_project[64];
  char name[64];            /* the dataset's own name */
  bool shared;              /* reached through a share ("q::ds") */
  char permission[16];      /* shared: "read" | "read_write" */
  bool builtin;
};

/*
 * Resolves `ds` ("name" or "q::name") in r->proj and checks `right` on it.
 * 404 when it does not exist or is not shared with the project; 403 while
 * a share is still pending (the message says who must accept it).
 */
int authz_dataset(struct req *r, const char *ds, enum right right, struct dataset_ref *out, oast_err *e);

/* Marks r as refused (for the audit) and returns the error. */
int authz_deny(struct req *r, oast_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
