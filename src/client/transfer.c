/*
 * transfer.c — file uploads and downloads of liboast (see oast/client.h).
 *
 * Both directions stream through libcurl's own buffer: an upload is read
 * from its FILE* as curl asks for more, a download is written as it
 * arrives, so a file of any size costs a constant amount of memory.
 * A download into a named file goes through util/fs's temporary-file
 * protocol (write beside the target, fsync, rename), so an interrupted or
 * refused transfer leaves the target as it was.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "client/client_internal.h"
#include "util/alloc.h"

static int upload(oast_client *c, const char *method, const char *path, const char *type, FILE *in, const char *name,
                  int64_t size, oast_progress_fn progress, void *arg, int *status, char **response, oast_err *e) {
  struct xfer x = {.method = method,
                   .path = path,
                   .in = in,
                   .in_name = name,
                   .in_size = size,
                   .in_type = type,
                   .resp_max = OAST_RESPONSE_MAX,
                   .progress = progress,
                   .progress_arg = arg};
  int rc = client_perform(c, &x, e);
  if (status) *status = (int)x.status;
  if (response) *response = rc == 0 ? buf_detach(&x.resp, NULL) : NULL;
  buf_release(&x.resp);
  return rc;
}

int oast_send(oast_client *c, const char *method, const char *path, const char *content_type, FILE *in,
              int64_t size, oast_progress_fn progress, void *arg, int *status, char **response, oast_err *e) {
  return upload(c, method, path, content_type, in, "the upload", size, progress, arg, status, response, e);
}

int oast_upload(oast_client *c, const char *path, FILE *in, int64_t size, oast_progress_fn progress, void *arg,
                int *status, char **response, oast_err *e) {
  return oast_send(c, "PUT", path, NULL, in, size, progress, arg, status, response, e);
}

int oast_send_file(oast_client *c, const char *method, const char *path, const char *content_type,
                   const char *local_path, oast_progress_fn progress, void *arg, int *status, char **response,
                   oast_err *e) {
  if (status) *status = 0;
  if (response) *response = NULL;
  FILE *f = fopen(local_path, "rb");
  if (!f)
    return oast_err_set(e, errno == ENOENT ? OAST_ENOT_FOUND : OAST_EIO, "cannot open %s: %s", local_path,
                        strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s is not a regular file", local_path);
  }
  int rc = upload(c, method, path, content_type, f, local_path, (int64_t)st.st_size, progress, arg, status, response,
                  e);
  fclose(f);
  return rc;
}

int oast_upload_file(oast_client *c, const char *path, const char *local_path, oast_progress_fn progress,
                     void *arg, int *status, char **response, oast_err *e) {
  return oast_send_file(c, "PUT", path, NULL, local_path, progress, arg, status, response, e);
}

int oast_download(oast_client *c, const char *path, FILE *out, oast_progress_fn progress, void *arg,
                  uint64_t *size, oast_err *e) {
  struct xfer x = {.method = "GET", .path = path, .out = out, .progress = progress, .progress_arg = arg};
  int rc = client_perform(c, &x, e);
  if (rc == 0 && fflush(out) != 0)
    rc = oast_err_set(e, OAST_EIO, "cannot write the downloaded data: %s", strerror(errno));
  if (size) *size = x.written;
  buf_release(&x.resp);
  return rc;
}

int oast_download_file(oast_client *c, const char *path, const char *local_path, oast_progress_fn progress,
                       void *arg, uint64_t *size, oast_err *e) {
  struct fs_tmp t;
  if (size) *size = 0;
  int rc = fs_tmp_open(&t, local_path, 0644, e);
  if (rc) return rc;
  struct xfer x = {.method = "GET", .path = path, .tmp = &t, .progress = progress, .progress_arg = arg};
  rc = client_perform(c, &x, e);
  buf_release(&x.resp);
  if (rc) {
    fs_tmp_discard(&t);
    return rc;
  }
  rc = fs_tmp_commit(&t, e);
  if (rc == 0 && size) *size = x.written;
  return rc;
}
