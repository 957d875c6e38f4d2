/* exec.c — the executor calls, dispatched through struct executor_ops, and
 * the checks every executor makes of a spec. */
#include "exec/exec.h"

#include <limits.h>
#include <string.h>

static size_t count_strv(const char *const *v, size_t max, size_t *bytes) {
  size_t n = 0;
  if (!v) return 0;
  for (; v[n]; n++) {
    if (n == max) return n + 1;
    *bytes += strlen(v[n]) + 1;
  }
  return n;
}

static int check_path(const char *what, const char *s, oast_err *e) {
  if (s && !*s) return oast_err_set(e, OAST_EBAD_REQUEST, "%s is empty", what);
  if (s && strlen(s) >= PATH_MAX)
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s is longer than %d bytes", what, PATH_MAX - 1);
  return 0;
}

int exec_spec_check(const struct exec_spec *spec, size_t *nargv, size_t *nenv, oast_err *e) {
  if (!spec || !spec->argv || !spec->argv[0] || !spec->argv[0][0])
    return oast_err_set(e, OAST_EBAD_REQUEST, "the command is empty");
  size_t bytes = 0;
  *nargv = count_strv(spec->argv, EXEC_MAX_ARGS, &bytes);
  if (*nargv > EXEC_MAX_ARGS)
    return oast_err_set(e, OAST_EBAD_REQUEST, "the command has more than %d arguments",
                        EXEC_MAX_ARGS);
  *nenv = count_strv(spec->env, EXEC_MAX_ENV, &bytes);
  if (*nenv > EXEC_MAX_ENV)
    return oast_err_set(e, OAST_EBAD_REQUEST, "env has more than %d entries", EXEC_MAX_ENV);
  if (bytes > EXEC_MAX_SPEC_BYTES)
    return oast_err_set(e, OAST_EBAD_REQUEST, "the command and env are larger than %u bytes",
                        EXEC_MAX_SPEC_BYTES);
  for (size_t i = 0; i < *nenv; i++) {
    const char *eq = strchr(spec->env[i], '=');
    if (!eq || eq == spec->env[i])
      return oast_err_set(e, OAST_EBAD_REQUEST,
                          "env entry %zu (\"%.64s\") is not of the form NAME=value", i + 1,
                          spec->env[i]);
  }
  int rc;
  if ((rc = check_path("cwd", spec->cwd, e)) || (rc = check_path("out_path", spec->out_path, e)) ||
      (rc = check_path("err_path", spec->err_path, e)))
    return rc;
  if (spec->cpus < 0) return oast_err_set(e, OAST_EBAD_REQUEST, "cpus is negative (%d)", spec->cpus);
  if (spec->gpus < 0) return oast_err_set(e, OAST_EBAD_REQUEST, "gpus is negative (%d)", spec->gpus);
  if (!(spec->timeout_s >= 0) || spec->timeout_s > 1e8)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "timeout_s must be between 0 (none) and 100000000 seconds");
  return 0;
}

int exec_submit(struct exec_pool *p, const struct exec_spec *spec, uint64_t *job, oast_err *e) {
  return p->ops->submit(p, spec, job, e);
}

int exec_cancel(struct exec_pool *p, uint64_t job, oast_err *e) {
  return p->ops->cancel(p, job, e);
}

int exec_run_once(struct exec_pool *p, int timeout_ms) { return p->ops->run_once(p, timeout_ms); }

void exec_wakeup(struct exec_pool *p) { p->ops->wakeup(p); }

void exec_stats(struct exec_pool *p, struct exec_stats *s) { p->ops->stats(p, s); }

const char *exec_name(const struct exec_pool *p) { return p->ops->name; }

void exec_free(struct exec_pool *p) {
  if (p) p->ops->free(p);
}
