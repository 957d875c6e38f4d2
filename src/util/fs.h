/*
 * fs.h — file helpers that never leave a half-written file behind.
 *
 * fs_write_atomic writes to a temporary name in the target's directory,
 * fsyncs it, renames it over the target and fsyncs the directory, so a
 * reader (or a restart after a crash) sees the old content or the new one,
 * never a mixture. fs_tmpfile_* is the same protocol split in three steps
 * for streaming writers (uploads, Parquet files).
 */
#ifndef UTIL_FS_H
#define UTIL_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "oast/error.h"

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, oast_err *e);
/* Reads a whole file up to max bytes (0: no cap); *out is NUL-terminated, caller frees. */
int fs_read_all(const char *path, size_t max, char **out, size_t *len, oast_err *e);
/* mkdir -p with the given mode. */
int fs_mkdirs(const char *path, mode_t mode, oast_err *e);
/*
 * mkdir -p of `path` below `base`, which must exist and is never created:
 * when base is gone (its project was deleted, say) nothing is made and the
 * error is OAST_ENOT_FOUND. path must start with base followed by '/'.
 */
int fs_mkdirs_below(const char *base, const char *path, mode_t mode, oast_err *e);
/* rm -rf that does not follow symlinks. Missing path is success. */
int fs_remove_tree(const char *path, oast_err *e);
int fs_fsync_dir(const char *dir);
int fs_exists(const char *path);
int fs_is_dir(const char *path);

/* A temporary file beside `target`, to be committed (renamed over it) or discarded. */
struct fs_tmp {
  int fd;
  char *tmp_path;   /* owned */
  char *target;     /* owned */
};
int fs_tmp_open(struct fs_tmp *t, const char *target, mode_t mode, oast_err *e);
int fs_tmp_write(struct fs_tmp *t, const void *data, size_t len, oast_err *e);
/* fsync, rename over target, fsync dir. Releases t. */
int fs_tmp_commit(struct fs_tmp *t, oast_err *e);
/* Closes and unlinks; safe after a failed commit or on a zeroed struct. */
void fs_tmp_discard(struct fs_tmp *t);

/*
 * Recreates the file or directory tree at `from` as `to` (which must not
 * exist): directories are made, files hard-linked, or copied when `to` is
 * on another filesystem; symbolic links and .oast-tmp-* files are left
 * out. Since every write in Oast replaces a file by rename, a linked copy
 * keeps its content when the original is later replaced: a cheap
 * immutable snapshot (registered models, experiment resources).
 */
int fs_link_tree(const char *from, const char *to, oast_err *e);

/* Joins a and b with one '/', newly allocated. */
char *fs_join(const char *a, const char *b);

#endif
