/* exec.c — the executor calls, dispatched through struct executor_ops. */
#include "exec/exec.h"

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
