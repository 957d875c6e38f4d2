/*
 * files.c — the dataset filesystem: /projects/{p}/files/{dataset/path}.
 *
 * Every path goes through project_resolve_path: normalized (no "..",
 * ".", absolute paths, NUL or control characters), its dataset authorized
 * for the right the operation needs (authz.c), and each existing
 * component checked with lstat so a symlink planted on disk cannot lead
 * outside the dataset. Uploads stream into a temporary file beside the
 * target (named .oast-tmp-*, hidden from listings) and are renamed into
 * place after an fsync, so a file appears whole or not at all; downloads
 * stream from the file descriptor.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/server.h"
#include "project/project.h"
#include "meta/meta.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/path.h"

#define TMP_PREFIX ".oast-tmp-"
#define PREVIEW_MAX_LINES 1000
#define PREVIEW_MAX_BYTES (1 << 20)

int project_resolve_path(struct req *r, const char *path, size_t len, enum right right, int mkparents,
                         struct dataset_ref *ds, char **abs, char **relp, oast_err *e) {
  return project_resolve_path_st(r, path, len, right, mkparents, ds, abs, relp, NULL, e);
}

int project_resolve_path_st(struct req *r, const char *path, size_t len, enum right right, int mkparents,
                            struct dataset_ref *ds, char **abs, char **relp, struct stat *last, oast_err *e) {
  if (last) last->st_mode = 0;
  char *norm = NULL, *dsname = NULL, *base = NULL;
  const char *rel;
  *abs = NULL;
  int rc = path_normalize(path, len, &norm, e);
  if (rc) return rc;
  if (!norm[0]) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "the path must begin with a dataset name");
    goto out;
  }
  path_split_first(norm, &dsname, &rel);
  snprintf(r->audit_target, sizeof r->audit_target, "file:%.500s", norm);
  if ((rc = authz_dataset(r, dsname, right, ds, e))) goto out;
  base = project_dataset_dir(r->srv, ds);
  /* Walk the components: none may be a symlink or a temporary upload. */
  struct buf cur;
  buf_init(&cur, 0);
  buf_puts(&cur, base);
  const char *p = rel;
  while (*p) {
    const char *s = strchr(p, '/');
    size_t n = s ? (size_t)(s - p) : strlen(p);
    if (n >= sizeof TMP_PREFIX - 1 && !memcmp(p, TMP_PREFIX, sizeof TMP_PREFIX - 1)) {
      rc = oast_err_set(e, OAST_EBAD_REQUEST, "names beginning with \"%s\" are reserved", TMP_PREFIX);
      break;
    }
    buf_putc(&cur, '/');
    buf_append(&cur, p, n);
    struct stat st;
    if (lstat(cur.data, &st) == 0) {
      if (!s && last) *last = st;
      if (S_ISLNK(st.st_mode)) {
        rc = oast_err_set(e, OAST_EBAD_REQUEST, "the path crosses a symbolic link, which is not allowed");
        break;
      }
      if (s && !S_ISDIR(st.st_mode)) {
        rc = oast_err_set(e, OAST_EBAD_REQUEST, "\"%.*s\" is a file, not a directory", (int)n, p);
        break;
      }
    } else if (errno == ENOENT) {
      if (mkparents && s && mkdir(cur.data, 0700) != 0 && errno != EEXIST) {
        rc = oast_err_set(e, OAST_EIO, "cannot create a directory: %s", strerror(errno));
        break;
      }
    } else {
      rc = oast_err_set(e, OAST_EIO, "cannot examine the path: %s", strerror(errno));
      break;
    }
    if (!s) break;
    p = s + 1;
  }
  if (rc) {
    buf_release(&cur);
    goto out;
  }
  if (!rel[0] && last && lstat(cur.data, last) != 0) last->st_mode = 0;
  *abs = buf_detach(&cur, NULL);
  if (relp) *relp = xstrdup(rel);
out:
  free(norm);
  free(dsname);
  free(base);
  return rc;
}

static const char *path_of(struct req *r, size_t *len) {
  for (int i = 0; i < r->nparams; i++)
    if (!strcmp(r->param_names[i], "path")) {
      *len = r->param_lens[i];
      return r->param_vals[i];
    }
  *len = 0;
  return "";
}

static json_t *item_json(const char *name, const struct stat *st) {
  char t[32];
  meta_time_iso((int64_t)st->st_mtime, t);
  return json_pack("{s:s,s:s,s:I,s:s}", "name", name, "type", S_ISDIR(st->st_mode) ? "dir" : "file", "size",
                   (json_int_t)(S_ISDIR(st->st_mode) ? 0 : st->st_size), "modified", t);
}

/* ---- upload ---- */

struct put_state {
  bool existed;
  char *rel;
};

static void put_state_free(void *p) {
  struct put_state *ps = p;
  free(ps->rel);
  free(ps);
}

static int put_begin(struct req *r, oast_err *e) {
  size_t len;
  const char *path = path_of(r, &len);
  struct dataset_ref ds;
  char *abs = NULL, *rel = NULL;
  int rc = project_resolve_path(r, path, len, RIGHT_DATA_IO, 1, &ds, &abs, &rel, e);
  if (rc) return rc;
  if (ds.shared && strcmp(ds.permission, "read_write") != 0) {
    rc = authz_deny(r, e, OAST_EFORBIDDEN, "dataset \"%s::%s\" is shared read-only", ds.owner_project, ds.name);
    goto out;
  }
  if (!rel[0]) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "the path names a dataset, not a file inside it");
    goto out;
  }
  struct stat st;
  bool existed = lstat(abs, &st) == 0;
  if (existed && S_ISDIR(st.st_mode)) {
    rc = oast_err_set(e, OAST_ECONFLICT, "\"%s\" is a directory", rel);
    goto out;
  }
  if ((rc = fs_tmp_open(&r->upload, abs, 0600, e))) goto out;
  r->upload_open = true;
  struct put_state *ps = xcalloc(1, sizeof *ps);
  ps->existed = existed;
  ps->rel = xstrdup(path);
  r->state = ps;
  r->state_free = put_state_free;
out:
  free(abs);
  free(rel);
  return rc;
}

static int put_finish(struct req *r, struct resp *w, oast_err *e) {
  struct put_state *ps = r->state;
  if (!r->upload_open) return oast_err_set(e, OAST_EINTERNAL, "the upload was not opened");
  r->upload_open = false;
  int rc = fs_tmp_commit(&r->upload, e);
  if (rc) return rc;
  char *norm = NULL;
  path_normalize(ps->rel, strlen(ps->rel), &norm, NULL);
  resp_json(w, ps->existed ? 200 : 201,
            json_pack("{s:s,s:I}", "path", norm ? norm : ps->rel, "size", (json_int_t)r->upload_len));
  free(norm);
  return 0;
}

/* ---- reads ---- */

static int cmp_items(const void *a, const void *b) {
  const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
  return strcmp(json_string_value(json_object_get(x, "name")), json_string_value(json_object_get(y, "name")));
}

static int do_list(struct req *r, struct resp *w, const char *abs, oast_err *e) {
  DIR *d = opendir(abs);
  if (!d) {
    if (errno == ENOENT) return oast_err_set(e, OAST_ENOT_FOUND, "no such file or directory");
    if (errno == ENOTDIR) return oast_err_set(e, OAST_EBAD_REQUEST, "the path is a file; use op=stat");
    return oast_err_set(e, OAST_EIO, "cannot list the directory: %s", strerror(errno));
  }
  size_t n = 0, cap = 64;
  json_t **items = xmalloc(cap * sizeof *items);
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2]))) continue;
    if (!strncmp(de->d_name, TMP_PREFIX, sizeof TMP_PREFIX - 1)) continue;
    struct stat st;
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISLNK(st.st_mode)) continue;
    if (n == cap) {
      cap *= 2;
      items = xrealloc(items, cap * sizeof *items);
    }
    items[n++] = item_json(de->d_name, &st);
  }
  closedir(d);
  qsort(items, n, sizeof *items, cmp_items);
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(arr, items[i]);
  free(items);
  resp_items(w, arr);
  return 0;
}

static int parse_lines(struct req *r, long *lines, oast_err *e) {
  const char *l = req_query(r, "lines");
  *lines = 20;
  if (!l) return 0;
  char *end;
  long v = strtol(l, &end, 10);
  if (!*l || *end || v < 1 || v > PREVIEW_MAX_LINES)
    return oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"lines\" must be an integer from 1 to %d",
                        PREVIEW_MAX_LINES);
  *lines = v;
  return 0;
}

static int do_preview(struct req *r, struct resp *w, const char *abs, oast_err *e) {
  const char *mode = req_query(r, "mode");
  if (!mode) mode = "head";
  if (strcmp(mode, "head") && strcmp(mode, "tail"))
    return oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"mode\" must be \"head\" or \"tail\"");
  long lines;
  int rc = parse_lines(r, &lines, e);
  if (rc) return rc;
  int fd = open(abs, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return oast_err_set(e, errno == ENOENT ? OAST_ENOT_FOUND : OAST_EIO, "cannot open \"%.300s\": %s", r->audit_target + 5,
                        strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    close(fd);
    return oast_err_set(e, OAST_EBAD_REQUEST, "the path is a directory; use op=list");
  }
  char *data = NULL;
  size_t n = 0;
  if (!strcmp(mode, "head")) {
    size_t cap = (size_t)st.st_size < PREVIEW_MAX_BYTES ? (size_t)st.st_size : PREVIEW_MAX_BYTES;
    data = xmalloc(cap + 1);
    ssize_t got = pread(fd, data, cap, 0);
    size_t have = got > 0 ? (size_t)got : 0;
    long seen = 0;
    for (n = 0; n < have; n++)
      if (data[n] == '\n' && ++seen == lines) {
        n++;
        break;
      }
  } else {
    size_t want = (size_t)st.st_size < PREVIEW_MAX_BYTES ? (size_t)st.st_size : PREVIEW_MAX_BYTES;
    off_t from = st.st_size - (off_t)want;
    data = xmalloc(want + 1);
    ssize_t got = pread(fd, data, want, from);
    size_t have = got > 0 ? (size_t)got : 0;
    /* Count back `lines` line ends, ignoring a final newline. */
    size_t end = have, start = 0;
    long seen = 0;
    size_t i = have;
    if (i && data[i - 1] == '\n') i--;
    while (i > 0) {
      if (data[i - 1] == '\n' && ++seen == lines) {
        start = i;
        break;
      }
      i--;
    }
    memmove(data, data + start, end - start);
    n = end - start;
  }
  close(fd);
  resp_text(w, 200, data, n, "text/plain; charset=utf-8");
  free(data);
  return 0;
}

static int files_get(struct req *r, struct resp *w, oast_err *e) {
  const char *op = req_query(r, "op");
  size_t len;
  const char *path = path_of(r, &len);
  struct dataset_ref ds;
  char *abs = NULL, *rel = NULL;
  int rc;
  if (op && strcmp(op, "list") && strcmp(op, "stat") && strcmp(op, "preview"))
    return oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"op\" must be list, stat or preview, got \"%.32s\"", op);
  enum right right = op ? RIGHT_READ : RIGHT_DATA_IO;
  struct stat last;
  if ((rc = project_resolve_path_st(r, path, len, right, 0, &ds, &abs, &rel, &last, e))) return rc;
  if (op && !strcmp(op, "list")) {
    rc = do_list(r, w, abs, e);
  } else if (op && !strcmp(op, "stat")) {
    if (last.st_mode == 0) {
      rc = oast_err_set(e, OAST_ENOT_FOUND, "\"%.300s\": no such file or directory", r->audit_target + 5);
    } else {
      const char *slash = strrchr(rel, '/');
      const char *name = rel[0] ? (slash ? slash + 1 : rel) : ds.name;
      /* Written directly: stat is the hottest authenticated route (bench/http.sh). */
      struct buf b;
      buf_init(&b, 0);
      char t[32];
      meta_time_iso((int64_t)last.st_mtime, t);
      buf_puts(&b, "{\"name\":");
      json_buf_string(&b, name);
      buf_printf(&b, ",\"type\":\"%s\",\"size\":%lld,\"modified\":\"%s\"}", S_ISDIR(last.st_mode) ? "dir" : "file",
                 (long long)(S_ISDIR(last.st_mode) ? 0 : last.st_size), t);
      resp_text(w, 200, b.data, b.len, "application/json");
      buf_release(&b);
    }
  } else if (op) {
    rc = do_preview(r, w, abs, e);
  } else {
    int fd = open(abs, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
      rc = oast_err_set(e, errno == ENOENT ? OAST_ENOT_FOUND : OAST_EIO, "cannot open \"%.300s\": %s", r->audit_target + 5,
                        strerror(errno));
    } else if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
      close(fd);
      rc = oast_err_set(e, OAST_EBAD_REQUEST, "the path is a directory; use op=list");
    } else {
      resp_fd(w, 200, fd, (uint64_t)st.st_size, "application/octet-stream");
    }
  }
  free(abs);
  free(rel);
  return rc;
}

static int files_post(struct req *r, struct resp *w, oast_err *e) {
  const char *op = req_query(r, "op");
  if (!op || strcmp(op, "mkdir"))
    return oast_err_set(e, OAST_EBAD_REQUEST, "query parameter \"op\" must be \"mkdir\"");
  size_t len;
  const char *path = path_of(r, &len);
  struct dataset_ref ds;
  char *abs = NULL, *rel = NULL;
  int rc = project_resolve_path(r, path, len, RIGHT_WRITE, 1, &ds, &abs, &rel, e);
  if (rc) return rc;
  if (!rel[0]) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "the path names a dataset; create datasets with POST /datasets");
  } else if (mkdir(abs, 0700) != 0) {
    rc = errno == EEXIST ? oast_err_set(e, OAST_EEXISTS, "\"%s\" already exists", rel)
                         : oast_err_set(e, OAST_EIO, "cannot create the directory: %s", strerror(errno));
  } else {
    char *norm = NULL;
    path_normalize(path, len, &norm, NULL);
    resp_json(w, 201, json_pack("{s:s}", "path", norm ? norm : ""));
    free(norm);
  }
  free(abs);
  free(rel);
  return rc;
}

static int files_delete(struct req *r, struct resp *w, oast_err *e) {
  size_t len;
  const char *path = path_of(r, &len);
  struct dataset_ref ds;
  char *abs = NULL, *rel = NULL;
  int rc = project_resolve_path(r, path, len, RIGHT_WRITE, 0, &ds, &abs, &rel, e);
  if (rc) return rc;
  if (!rel[0]) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "the path names a dataset; delete datasets with DELETE /datasets/{name}");
  } else if (!fs_exists(abs)) {
    rc = oast_err_set(e, OAST_ENOT_FOUND, "no such file or directory");
  } else {
    rc = fs_remove_tree(abs, e);
    if (!rc) resp_empty(w, 204);
  }
  free(abs);
  free(rel);
  return rc;
}

const struct route file_routes[] = {
    {"PUT", "/api/v1/projects/{p}/files/{*path}", ACCESS_MEMBER, ROUTE_STREAM, "file.put", put_finish, put_begin},
    {"GET", "/api/v1/projects/{p}/files/{*path}", ACCESS_MEMBER, 0, "file.get", files_get, NULL},
    {"POST", "/api/v1/projects/{p}/files/{*path}", ACCESS_MEMBER, 0, "file.mkdir", files_post, NULL},
    {"DELETE", "/api/v1/projects/{p}/files/{*path}", ACCESS_MEMBER, 0, "file.delete", files_delete, NULL},
    ROUTES_END,
};
