/*
 * trash.c — deleting metadata rows and their directory as one operation.
 *
 * The rows are deleted inside a transaction, the directory is renamed into
 * <home>/fs/.trash (one rename, so it vanishes from its place at once),
 * and only then is the transaction committed. A failure before the commit
 * rolls the rows back and renames the directory back; after the commit
 * the trash is removed. A crash in between leaves only trash, which the
 * server removes when it starts (server.c), so rows and files always agree.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http/server.h"
#include "meta/meta.h"
#include "project/project.h"
#include "util/alloc.h"
#include "util/fs.h"
#include "util/log.h"

int project_delete_with_dir(struct server *s, const char *sql, int64_t id, const char *dir, const char *what,
                            oast_err *e) {
  char *trash = xasprintf("%s/fs/.trash", s->cfg.home);
  char *to = xasprintf("%s/%s-%lld-XXXXXX", trash, what, (long long)id);
  bool moved = false;
  int rc = fs_mkdirs(trash, 0700, e);
  if (rc) goto out;
  /* A unique empty directory that the rename replaces. */
  if (!mkdtemp(to)) {
    rc = oast_err_set(e, OAST_EIO, "cannot prepare the removal of the %s: %s", what, strerror(errno));
    goto out;
  }
  if ((rc = meta_begin(s->meta, e))) goto out;
  rc = meta_exec(s->meta, e, sql, "i", id);
  if (!rc && fs_exists(dir)) {
    if (rename(dir, to) != 0) rc = oast_err_set(e, OAST_EIO, "cannot move the %s's files away: %s", what, strerror(errno));
    else moved = true;
  }
  if (!rc) rc = meta_commit(s->meta, e);
  if (rc) {
    meta_rollback(s->meta);
    if (moved && rename(to, dir) != 0) log_error("cannot move the files of a %s back from %s", what, to);
  }
out:
  fs_remove_tree(to, NULL); /* the trash after a commit, or the unused placeholder */
  free(trash);
  free(to);
  return rc;
}
