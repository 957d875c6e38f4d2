/* trialrec.c — a trial's .hparams.json, .outputs.json and .metric (see trialrec.h). */
#include "exp/trialrec.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exp/field.h"
#include "util/alloc.h"
#include "util/fs.h"

#define MAX_RECORD (16u << 20) /* a trial's outputs are small; refuse to read runaway files */

/*
 * Written to a temporary name and renamed over the target, so a reader
 * sees the old file or the new one, never a part. Not fsynced: an
 * experiment writes these for every trial (10,000 trials would spend
 * minutes in fsync), and the metadata database, not these files, is the
 * record that survives a crash; the experiment service writes them again
 * from it when it resumes.
 */
static int write_text(const char *dir, const char *name, const char *text, oast_err *e) {
  char *path = fs_join(dir, name);
  char *tmp = xasprintf("%s/.oast-tmp-%s", dir, name + (name[0] == '.'));
  int rc = 0;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  size_t len = strlen(text), done = 0;
  while (fd >= 0 && done < len) {
    ssize_t n = write(fd, text + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += (size_t)n;
  }
  if (fd < 0 || done < len || close(fd) != 0 || rename(tmp, path) != 0) {
    rc = oast_err_set(e, OAST_EIO, "cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
  }
  free(tmp);
  free(path);
  return rc;
}

static int write_object(const char *dir, const char *name, const json_t *obj, oast_err *e) {
  if (!json_is_object(obj)) return oast_err_set(e, OAST_EBAD_REQUEST, "%s: must be a JSON object", name);
  char *text = json_dumps(obj, JSON_INDENT(2));
  char *line = xasprintf("%s\n", text);
  int rc = write_text(dir, name, line, e);
  free(text);
  free(line);
  return rc;
}

int trialrec_write_hparams(const char *trial_dir, const json_t *params, oast_err *e) {
  return write_object(trial_dir, TRIALREC_HPARAMS, params, e);
}

int trialrec_write_outputs(const char *trial_dir, const json_t *outputs, oast_err *e) {
  return write_object(trial_dir, TRIALREC_OUTPUTS, outputs, e);
}

int trialrec_write_metric(const char *trial_dir, double metric, oast_err *e) {
  char b[32];
  if (!isfinite(metric)) return oast_err_set(e, OAST_EBAD_REQUEST, "metric: must be a finite number");
  return write_text(trial_dir, TRIALREC_METRIC, exp_num_str(metric, b), e);
}

static int read_file(const char *dir, const char *name, char **text, size_t *len, oast_err *e) {
  char *path = fs_join(dir, name);
  int rc = 0;
  if (!fs_exists(path))
    rc = oast_err_set(e, OAST_ENOT_FOUND, "%s does not exist", path);
  else
    rc = fs_read_all(path, MAX_RECORD, text, len, e);
  free(path);
  return rc;
}

int trialrec_read_metric(const char *trial_dir, double *metric, oast_err *e) {
  char *text, *end;
  size_t len;
  int rc = read_file(trial_dir, TRIALREC_METRIC, &text, &len, e);
  if (rc) return rc;
  errno = 0;
  double v = strtod(text, &end);
  while (*end == '\n' || *end == ' ') end++;
  if (end == text || *end || errno || !isfinite(v))
    rc = oast_err_set(e, OAST_EIO, "%s/%s: not a number", trial_dir, TRIALREC_METRIC);
  else
    *metric = v;
  free(text);
  return rc;
}

int trialrec_read_json(const char *trial_dir, const char *name, json_t **out, oast_err *e) {
  char *text;
  size_t len;
  *out = NULL;
  int rc = read_file(trial_dir, name, &text, &len, e);
  if (rc) return rc;
  json_error_t je;
  json_t *j = json_loadb(text, len, 0, &je);
  free(text);
  if (!json_is_object(j)) {
    json_decref(j);
    return oast_err_set(e, OAST_EIO, "%s/%s: not a JSON object", trial_dir, name);
  }
  *out = j;
  return 0;
}
