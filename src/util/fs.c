/* fs.c — atomic writes, directory helpers (see fs.h). */
#define _GNU_SOURCE
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"

char *fs_join(const char *a, const char *b) {
  size_t la = strlen(a);
  while (*b == '/') b++;
  if (la && a[la - 1] == '/') return xasprintf("%s%s", a, b);
  return xasprintf("%s/%s", a, b);
}

static char *dir_of(const char *path) {
  char *tmp = xstrdup(path);
  char *d = xstrdup(dirname(tmp));
  free(tmp);
  return d;
}

int fs_fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

int fs_exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

int fs_is_dir(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int fs_tmp_open(struct fs_tmp *t, const char *target, mode_t mode, oast_err *e) {
  t->fd = -1;
  t->target = xstrdup(target);
  char *dir = dir_of(target);
  t->tmp_path = xasprintf("%s/.oast-tmp-XXXXXX", dir);
  free(dir);
  t->fd = mkostemp(t->tmp_path, O_CLOEXEC);
  if (t->fd < 0) {
    int err = errno;
    free(t->tmp_path);
    free(t->target);
    t->tmp_path = t->target = NULL;
    return oast_err_set(e, OAST_EIO, "cannot create a temporary file for %s: %s", target, strerror(err));
  }
  fchmod(t->fd, mode);
  return 0;
}

int fs_tmp_write(struct fs_tmp *t, const void *data, size_t len, oast_err *e) {
  const char *p = data;
  while (len) {
    ssize_t n = write(t->fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return oast_err_set(e, OAST_EIO, "cannot write %s: %s", t->target, strerror(errno));
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int fs_tmp_commit(struct fs_tmp *t, oast_err *e) {
  int rc = 0;
  if (fsync(t->fd) != 0) {
    rc = oast_err_set(e, OAST_EIO, "cannot sync %s: %s", t->target, strerror(errno));
    goto out;
  }
  if (close(t->fd) != 0) {
    t->fd = -1;
    rc = oast_err_set(e, OAST_EIO, "cannot close %s: %s", t->target, strerror(errno));
    goto out;
  }
  t->fd = -1;
  if (rename(t->tmp_path, t->target) != 0) {
    rc = oast_err_set(e, OAST_EIO, "cannot rename into %s: %s", t->target, strerror(errno));
    goto out;
  }
  char *dir = dir_of(t->target);
  fs_fsync_dir(dir);
  free(dir);
  free(t->tmp_path);
  t->tmp_path = NULL;
out:
  fs_tmp_discard(t);
  return rc;
}

void fs_tmp_discard(struct fs_tmp *t) {
  if (!t) return;
  if (t->fd >= 0) close(t->fd);
  t->fd = -1;
  if (t->tmp_path) unlink(t->tmp_path);
  free(t->tmp_path);
  free(t->target);
  t->tmp_path = t->target = NULL;
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, oast_err *e) {
  struct fs_tmp t;
  int rc = fs_tmp_open(&t, path, mode, e);
  if (rc) return rc;
  rc = fs_tmp_write(&t, data, len, e);
  if (rc) {
    fs_tmp_discard(&t);
    return rc;
  }
  return fs_tmp_commit(&t, e);
}

int fs_read_all(const char *path, size_t max, char **out, size_t *len, oast_err *e) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return oast_err_set(e, errno == ENOENT ? OAST_ENOT_FOUND : OAST_EIO, "cannot open %s: %s", path,
                        strerror(errno));
  size_t cap = 4096, n = 0;
  char *b = xmalloc(cap);
  for (;;) {
    if (n + 1 >= cap) {
      cap *= 2;
      b = xrealloc(b, cap);
    }
    ssize_t r = read(fd, b + n, cap - n - 1);
    if (r < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      free(b);
      return oast_err_set(e, OAST_EIO, "cannot read %s: %s", path, strerror(err));
    }
    if (r == 0) break;
    n += (size_t)r;
    if (max && n > max) {
      close(fd);
      free(b);
      return oast_err_set(e, OAST_ETOO_LARGE, "%s is larger than %zu bytes", path, max);
    }
  }
  close(fd);
  b[n] = '\0';
  *out = b;
  if (len) *len = n;
  return 0;
}

int fs_mkdirs(const char *path, mode_t mode, oast_err *e) {
  char *p = xstrdup(path);
  int rc = 0;
  for (char *s = p + 1;; s++) {
    if (*s == '/' || *s == '\0') {
      char c = *s;
      *s = '\0';
      if (mkdir(p, mode) != 0 && errno != EEXIST) {
        rc = oast_err_set(e, OAST_EIO, "cannot create directory %s: %s", p, strerror(errno));
        break;
      }
      *s = c;
      if (c == '\0') break;
    }
  }
  free(p);
  return rc;
}

int fs_mkdirs_below(const char *base, const char *path, mode_t mode, oast_err *e) {
  size_t n = strlen(base);
  while (n > 1 && base[n - 1] == '/') n--;
  if (strncmp(path, base, n) != 0 || (path[n] != '/' && path[n] != '\0'))
    return oast_err_set(e, OAST_EINTERNAL, "directory %s is not below %s", path, base);
  if (!fs_is_dir(base)) return oast_err_set(e, OAST_ENOT_FOUND, "directory %s is gone", base);
  char *p = xstrdup(path);
  int rc = 0;
  /* Each component after base; mkdir of a child of a removed parent fails with ENOENT. */
  for (char *s = p + n; *s;) {
    s++;
    while (*s && *s != '/') s++;
    char c = *s;
    *s = '\0';
    if (mkdir(p, mode) != 0 && errno != EEXIST) {
      rc = oast_err_set(e, errno == ENOENT ? OAST_ENOT_FOUND : OAST_EIO, "cannot create directory %s: %s", p,
                        strerror(errno));
      break;
    }
    *s = c;
  }
  free(p);
  return rc;
}

static int remove_at(int dfd, const char *name) {
  struct stat st;
  if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR(st.st_mode)) return unlinkat(dfd, name, 0);
  int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return -1;
  }
  int rc = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    if (remove_at(dirfd(d), de->d_name) != 0) rc = -1;
  }
  closedir(d);
  if (rc == 0) rc = unlinkat(dfd, name, AT_REMOVEDIR);
  return rc;
}

int fs_remove_tree(const char *path, oast_err *e) {
  if (remove_at(AT_FDCWD, path) != 0)
    return oast_err_set(e, OAST_EIO, "cannot remove %s: %s", path, strerror(errno));
  return 0;
}

static int link_or_copy(const char *from, const char *to, oast_err *e) {
  if (link(from, to) == 0) return 0;
  if (errno != EXDEV && errno != EPERM) return oast_err_set(e, OAST_EIO, "cannot link %s: %s", from, strerror(errno));
  char *data;
  size_t n;
  int rc = fs_read_all(from, 0, &data, &n, e);
  if (rc) return rc;
  rc = fs_write_atomic(to, data, n, 0600, e);
  free(data);
  return rc;
}

int fs_link_tree(const char *from, const char *to, oast_err *e) {
  struct stat st;
  if (lstat(from, &st) != 0) return oast_err_set(e, OAST_ENOT_FOUND, "%s does not exist", from);
  if (S_ISLNK(st.st_mode)) return 0; /* never followed */
  if (!S_ISDIR(st.st_mode)) return link_or_copy(from, to, e);
  if (mkdir(to, 0700) != 0) return oast_err_set(e, OAST_EIO, "cannot create %s: %s", to, strerror(errno));
  DIR *d = opendir(from);
  if (!d) return oast_err_set(e, OAST_EIO, "cannot read %s: %s", from, strerror(errno));
  int rc = 0;
  struct dirent *de;
  while (!rc && (de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strncmp(de->d_name, ".oast-tmp-", 10)) continue;
    char *a = fs_join(from, de->d_name), *b = fs_join(to, de->d_name);
    rc = fs_link_tree(a, b, e);
    free(a);
    free(b);
  }
  closedir(d);
  return rc;
}
