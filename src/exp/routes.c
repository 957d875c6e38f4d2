/*
 * routes.c — the experiment routes: /projects/{p}/experiments and the
 * trial calls /trials/{id}/report and /trials/{id}/final.
 *
 * Creating an experiment checks everything before anything is written:
 * the spec (spec.c), that the pool can hold one trial's resources, and
 * what command[0] is — a file sent inline in "files", a project path such
 * as Resources/train.py, an absolute path or a program on the server's
 * PATH. Inline files and project files become the experiment's own copy
 * under Experiments/<id>/ (a versioned resource: later edits of the
 * original do not change what this experiment ran), as do
 * resources_paths. The row and the folder are made together; a failure
 * removes both. The running part is service.c's.
 *
 * The log stream is a libmicrohttpd content reader over experiment.log:
 * it sends what the file holds and, when following, waits up to
 * FOLLOW_WAIT_MS per call for the next line (a condition variable, not a
 * poll loop), ending when the experiment has ended and the file is read
 * to its end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/authz.h"
#include "exec/sched.h"
#include "exp/field.h"
#include "exp/service.h"
#include "http/server.h"
#include "meta/meta.h"
#include "project/project.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/crypto.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/path.h"

#define FOLLOW_WAIT_MS 100
#define FOLLOW_BLOCK 32768
#define FILES_MAX_BYTES (64u << 20)

/* ---- small helpers ---- */

static int parse_id(struct req *r, const char *name, int64_t *out, oast_err *e) {
  const char *v = req_param(r, name);
  char *end;
  errno = 0;
  long long x = v ? strtoll(v, &end, 10) : 0;
  if (!v || !*v || *end || errno || x <= 0)
    return oast_err_set(e, OAST_ENOT_FOUND, "no experiment or trial \"%.64s\"", v ? v : "");
  *out = x;
  return 0;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

/* The interpreter a program file runs with, by its suffix. */
static const char *interpreter_of(const char *name) {
  size_t n = strlen(name);
  if (n > 3 && !strcmp(name + n - 3, ".py")) return "python3";
  if (n > 3 && !strcmp(name + n - 3, ".sh")) return "sh";
  return NULL;
}

static bool reserved_name(const char *n) {
  if (!strcmp(n, "experiment.json") || !strcmp(n, "experiment.log") || !strcmp(n, ".summary.json")) return true;
  if (strncmp(n, "trial_", 6) != 0) return false;
  for (const char *c = n + 6; *c; c++)
    if (*c < '0' || *c > '9') return false;
  return n[6] != '\0';
}

/* A file name inside the experiment's folder: one path component. */
static int check_file_name(const char *field, const char *name, oast_err *e) {
  char *norm = NULL;
  int rc = path_normalize(name, strlen(name), &norm, e);
  if (!rc && (!norm[0] || strchr(norm, '/') || strcmp(norm, name) != 0))
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "x");
  if (!rc && (name[0] == '.' || reserved_name(name) || strlen(name) > 255))
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "x");
  free(norm);
  if (rc)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "%s: \"%.64s\" is not a plain file name (one path component, not starting with '.', "
                        "not experiment.json, experiment.log or trial_N)",
                        field, name);
  return 0;
}

/* Whether name is an executable regular file; for a bare name, looked up in PATH. */
static bool find_program(const char *name) {
  struct stat st;
  if (strchr(name, '/')) return stat(name, &st) == 0 && S_ISREG(st.st_mode) && access(name, X_OK) == 0;
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
  char *copy = xstrdup(path), *save = NULL;
  bool found = false;
  for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
    char *p = fs_join(*dir ? dir : ".", name);
    found = stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
    free(p);
  }
  free(copy);
  return found;
}

/* ---- creating an experiment ---- */

/* A distributed run needs room for all its workers at once (else some
 * would wait forever for the others), and mpirun for the "mpi" strategy.
 * st is the pool's size when it is known (NULL otherwise); local says the
 * run's processes start on this machine, where mpirun must then be. */
static int check_distribution(const struct exp_spec *sp, const struct exec_stats *st, bool local, oast_err *e) {
  const struct exp_dist *d = &sp->dist;
  if (!d->workers) return 0;
  long long cpus = (long long)d->workers * sp->cpus, gpus = (long long)d->workers * d->gpus_per_worker;
  if (d->strategy == DIST_MPI && local && !find_program("mpirun"))
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "distribution.strategy: \"mpi\" runs the command under mpirun, which is not on the server's "
                        "PATH (Debian package openmpi-bin)");
  if (!st) return 0;
  if (st->cpus_total > 0 && cpus > st->cpus_total)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "distribution.workers: %d workers of %d CPU%s need %lld CPUs at once but the server has %d",
                        d->workers, sp->cpus, sp->cpus == 1 ? "" : "s", cpus, st->cpus_total);
  if (gpus > st->gpus_total)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "distribution.gpus_per_worker: %d workers of %d GPU%s need %lld GPUs at once but the server "
                        "has %d",
                        d->workers, d->gpus_per_worker, d->gpus_per_worker == 1 ? "" : "s", gpus, st->gpus_total);
  return 0;
}

struct inline_file {
  char *name;  /* borrowed from the body */
  char *data;  /* owned */
  size_t len;
};

struct copy_in {
  char *src;   /* absolute path in the project, owned */
  char *name;  /* its name in the experiment folder, owned */
};

struct plan {
  struct inline_file *files;
  size_t nfiles;
  struct copy_in *copies;
  size_t ncopies;
};

static void plan_release(struct plan *pl) {
  for (size_t i = 0; i < pl->nfiles; i++) free(pl->files[i].data);
  for (size_t i = 0; i < pl->ncopies; i++) {
    free(pl->copies[i].src);
    free(pl->copies[i].name);
  }
  free(pl->files);
  free(pl->copies);
}

static bool plan_has(const struct plan *pl, const char *name) {
  for (size_t i = 0; i < pl->nfiles; i++)
    if (!strcmp(pl->files[i].name, name)) return true;
  for (size_t i = 0; i < pl->ncopies; i++)
    if (!strcmp(pl->copies[i].name, name)) return true;
  return false;
}

static int plan_files(json_t *files, struct plan *pl, oast_err *e) {
  if (!files || json_is_null(files)) return 0;
  if (!json_is_object(files))
    return oast_err_set(e, OAST_EBAD_REQUEST, "files: must be an object of file name to base64 content");
  if (json_object_size(files) > EXP_MAX_FILES)
    return oast_err_set(e, OAST_EBAD_REQUEST, "files: more than %d files", EXP_MAX_FILES);
  pl->files = xcalloc(json_object_size(files) + 1, sizeof *pl->files);
  size_t total = 0;
  const char *k;
  json_t *v;
  json_object_foreach(files, k, v) {
    char field[300];
    snprintf(field, sizeof field, "files.%.255s", k);
    int rc = check_file_name("files", k, e);
    if (rc) return rc;
    if (!json_is_string(v)) return oast_err_set(e, OAST_EBAD_REQUEST, "%s: must be a base64 string", field);
    struct inline_file *f = &pl->files[pl->nfiles];
    if (base64_decode(json_string_value(v), json_string_length(v), &f->data, &f->len) != 0)
      return oast_err_set(e, OAST_EBAD_REQUEST, "%s: is not valid base64", field);
    f->name = (char *)k;
    pl->nfiles++;
    total += f->len;
    if (total > FILES_MAX_BYTES)
      return oast_err_set(e, OAST_ETOO_LARGE, "files: more than %u bytes in all", FILES_MAX_BYTES);
  }
  return 0;
}

/* A project path (DATASET/PATH) of a regular file or directory, for `field`. */
static int plan_project_path(struct req *r, const char *field, const char *path, bool file_only, struct plan *pl,
                             oast_err *e) {
  struct dataset_ref ds;
  char *abs = NULL;
  struct stat st;
  oast_err inner;
  oast_err_clear(&inner);
  int rc = project_resolve_path_st(r, path, strlen(path), RIGHT_READ, 0, &ds, &abs, NULL, &st, &inner);
  r->denied = false; /* a bad path in a body is bad input, not a refused request */
  if (rc) return oast_err_set(e, OAST_EBAD_REQUEST, "%s: %s", field, inner.msg);
  if (!S_ISREG(st.st_mode) && (file_only || !S_ISDIR(st.st_mode))) {
    free(abs);
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s: \"%.200s\" does not exist or is not a %s", field, path,
                        file_only ? "file" : "file or directory");
  }
  const char *name = base_name(abs);
  if (plan_has(pl, name) || reserved_name(name) || name[0] == '.') {
    free(abs);
    return oast_err_set(e, OAST_EBAD_REQUEST, "%s: the experiment already has a file named \"%.200s\"", field, name);
  }
  pl->copies = xreallocarray(pl->copies, pl->ncopies + 1, sizeof *pl->copies);
  pl->copies[pl->ncopies].src = abs;
  pl->copies[pl->ncopies].name = xstrdup(name);
  pl->ncopies++;
  return 0;
}

/* What command[0] is; sets the spec's program when it is a file of the experiment. */
static int plan_command(struct req *r, struct exp_spec *sp, struct plan *pl, oast_err *e) {
  const char *c0 = json_string_value(json_array_get(sp->command, 0));
  if (plan_has(pl, c0)) {
    exp_spec_set_program(sp, c0, interpreter_of(c0));
    return 0;
  }
  if (strchr(c0, '/') && c0[0] != '/') {
    int rc = plan_project_path(r, "command[0]", c0, true, pl, e);
    if (rc) return rc;
    const char *name = pl->copies[pl->ncopies - 1].name;
    exp_spec_set_program(sp, name, interpreter_of(name));
    return 0;
  }
  if (!find_program(c0))
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "command[0]: \"%.200s\" is not a file sent in \"files\", a file of the project "
                        "(DATASET/PATH), nor an executable program on the server (an absolute path or a name on its PATH)",
                        c0);
  return 0;
}

static int write_plan(const char *dir, const struct plan *pl, const char *program, oast_err *e) {
  for (size_t i = 0; i < pl->nfiles; i++) {
    char *p = fs_join(dir, pl->files[i].name);
    bool exe = program && !strcmp(program, pl->files[i].name);
    int rc = fs_write_atomic(p, pl->files[i].data, pl->files[i].len, exe ? 0755 : 0644, e);
    free(p);
    if (rc) return rc;
  }
  for (size_t i = 0; i < pl->ncopies; i++) {
    char *p = fs_join(dir, pl->copies[i].name);
    int rc = fs_link_tree(pl->copies[i].src, p, e);
    /* A program copied from the project must be runnable; its link shares the mode, so copy it. */
    if (!rc && program && !strcmp(program, pl->copies[i].name) && access(p, X_OK) != 0) {
      char *data = NULL;
      size_t n = 0;
      rc = fs_read_all(p, 0, &data, &n, e);
      if (!rc) {
        unlink(p);
        rc = fs_write_atomic(p, data, n, 0755, e);
      }
      free(data);
    }
    free(p);
    if (rc) return rc;
  }
  return 0;
}

static int exp_create(struct req *r, struct resp *w, oast_err *e) {
  struct server *s = r->srv;
  json_t *body = NULL;
  struct exp_spec *sp = xcalloc(1, sizeof *sp);
  struct optimizer *opt = NULL;
  struct plan pl;
  memset(&pl, 0, sizeof pl);
  char *dir = NULL;
  int64_t id = 0;
  int rc = authz_require(r, RIGHT_WRITE, e);
  if (!rc) rc = req_json(r, &body, e);
  if (!rc) rc = exp_spec_parse(body, false, sp, &opt, e);
  if (rc) goto out;
  /* The pool's size is known for the server's own executor; another one
   * (a per-experiment "slurm") refuses what it cannot hold when the work
   * is submitted, and the trial or run fails with its reason. */
  const char *executor = sp->executor ? sp->executor : s->cfg.executor;
  bool own = !sp->executor || !strcmp(sp->executor, s->cfg.executor);
  struct exec_stats st;
  sched_stats(s, &st);
  if (!own) memset(&st, 0, sizeof st);
  if (st.cpus_total > 0 && sp->cpus > st.cpus_total) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "resources.cpus: a trial asks for %d CPUs but the server has %d", sp->cpus,
                      st.cpus_total);
    goto out;
  }
  if (own && sp->gpus > st.gpus_total && !sp->dist.workers) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "resources.gpus: a trial asks for %d GPUs but the server has %d", sp->gpus,
                      st.gpus_total);
    goto out;
  }
  if ((rc = check_distribution(sp, own ? &st : NULL, strcmp(executor, "local") == 0, e))) goto out;
  if ((rc = plan_files(json_object_get(body, "files"), &pl, e)) || (rc = plan_command(r, sp, &pl, e))) goto out;
  json_t *paths = json_object_get(sp->doc, "resources_paths");
  for (size_t i = 0; i < json_array_size(paths); i++) {
    char field[40];
    snprintf(field, sizeof field, "resources_paths[%zu]", i);
    if ((rc = plan_project_path(r, field, json_string_value(json_array_get(paths, i)), false, &pl, e))) goto out;
  }

  /* The row and the folder, together. */
  char *spec_text = json_dumps(sp->doc, JSON_COMPACT);
  int64_t now = meta_now_us();
  if (!(rc = meta_begin(s->meta, e))) {
    rc = meta_exec(s->meta, e,
                   "INSERT INTO experiments(project_id, user_id, creator, name, spec, state, created)"
                   " VALUES (?, ?, ?, ?, ?, 'running', ?)",
                   "iisssi", r->proj.id, r->who.user_id, r->who.username, sp->name, spec_text, now);
    if (!rc) id = meta_last_id(s->meta);
    if (!rc) {
      dir = exp_dir(s, r->proj.name, id);
      fs_remove_tree(dir, NULL); /* nothing owns it: ids are never reused */
      rc = fs_mkdirs(dir, 0755, e);
    }
    if (!rc) rc = write_plan(dir, &pl, sp->program, e);
    if (!rc) {
      json_t *ej = json_deep_copy(sp->doc);
      char t[40];
      exp_time_iso_us(now, t);
      json_object_set_new(ej, "id", json_integer(id));
      json_object_set_new(ej, "state", json_string("running"));
      json_object_set_new(ej, "created", json_string(t));
      char *text = json_dumps(ej, JSON_INDENT(2));
      char *p = fs_join(dir, "experiment.json");
      rc = fs_write_atomic(p, text, strlen(text), 0644, e);
      free(p);
      free(text);
      json_decref(ej);
    }
    if (!rc) rc = meta_commit(s->meta, e);
    else meta_rollback(s->meta);
    if (rc && dir) fs_remove_tree(dir, NULL);
  }
  free(spec_text);
  if (rc) goto out;
  snprintf(r->audit_target, sizeof r->audit_target, "experiment:%" PRId64, id);
  exp_service_launch(s, id, r->proj.id, r->proj.name, r->who.user_id, dir, sp, opt);
  opt = NULL;
  sp = NULL;
  json_t *d = exp_detail(s, r->proj.id, id);
  resp_json(w, 201, d ? d : json_pack("{s:I}", "id", (json_int_t)id));
out:
  opt_free(opt);
  exp_spec_free(sp);
  plan_release(&pl);
  json_decref(body);
  free(dir);
  return rc;
}

/* ---- reading ---- */

static json_t *col_json(sqlite3_stmt *st, int i) {
  if (sqlite3_column_type(st, i) == SQLITE_NULL) return json_null();
  const char *t = (const char *)sqlite3_column_text(st, i);
  json_t *j = t ? json_loads(t, JSON_DECODE_ANY, NULL) : NULL;
  return j ? j : json_null();
}

static json_t *col_num(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null() : json_real(sqlite3_column_double(st, i));
}

static json_t *col_int(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(st, i));
}

static json_t *col_str(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null() : json_string((const char *)sqlite3_column_text(st, i));
}

static json_t *col_time(sqlite3_stmt *st, int i) {
  if (sqlite3_column_type(st, i) == SQLITE_NULL) return json_null();
  char t[40];
  exp_time_iso_us(sqlite3_column_int64(st, i), t);
  return json_string(t);
}

/* Trials columns: id, number, params, state, metric, exit_code, signal, timed_out, error, log_tail, budget, rung,
 * parent, gpus, attempts, submitted, started, ended, outputs */
static json_t *trial_json(sqlite3_stmt *st, int64_t now) {
  const char *state = (const char *)sqlite3_column_text(st, 3);
  json_t *duration = json_null();
  if (sqlite3_column_type(st, 16) != SQLITE_NULL) {
    int64_t end = sqlite3_column_type(st, 17) != SQLITE_NULL ? sqlite3_column_int64(st, 17) : now;
    duration = json_real((double)(end - sqlite3_column_int64(st, 16)) / 1e6);
  }
  json_t *t = json_pack("{s:I,s:I,s:o,s:s,s:o,s:b,s:o}", "id", (json_int_t)sqlite3_column_int64(st, 0), "number",
                        (json_int_t)sqlite3_column_int64(st, 1), "params", col_json(st, 2), "state", state, "metric",
                        col_num(st, 4), "early_stopped", !strcmp(state, "early_stopped"), "duration_s", duration);
  json_object_set_new(t, "exit_code", col_int(st, 5));
  json_object_set_new(t, "signal", col_int(st, 6));
  json_object_set_new(t, "timed_out", json_boolean(sqlite3_column_int(st, 7)));
  json_object_set_new(t, "error", col_str(st, 8));
  json_object_set_new(t, "log_tail", col_str(st, 9));
  json_object_set_new(t, "budget", col_num(st, 10));
  json_object_set_new(t, "rung", json_integer(sqlite3_column_int(st, 11)));
  json_object_set_new(t, "parent", col_int(st, 12));
  json_object_set_new(t, "gpus", col_str(st, 13));
  json_object_set_new(t, "attempts", json_integer(sqlite3_column_int(st, 14)));
  json_object_set_new(t, "submitted", col_time(st, 15));
  json_object_set_new(t, "started", col_time(st, 16));
  json_object_set_new(t, "ended", col_time(st, 17));
  json_object_set_new(t, "outputs", col_json(st, 18));
  json_object_set_new(t, "workers", col_json(st, 19));
  char dir[48];
  snprintf(dir, sizeof dir, "trial_%d", sqlite3_column_int(st, 1));
  json_object_set_new(t, "logdir", json_string(dir));
  return t;
}

json_t *exp_detail(struct server *s, int64_t project_id, int64_t id) {
  sqlite3_stmt *st = meta_bind(meta_stmt(s->meta,
                                         "SELECT e.name, e.spec, e.state, e.best_trial, e.best_metric, e.message,"
                                         " e.creator, e.created, e.ended, p.name FROM experiments e"
                                         " JOIN projects p ON p.id = e.project_id WHERE e.id = ? AND e.project_id = ?"),
                               "ii", id, project_id);
  if (!st || sqlite3_step(st) != SQLITE_ROW) {
    if (st) sqlite3_reset(st);
    return NULL;
  }
  json_t *spec = col_json(st, 1);
  if (!json_is_object(spec)) {
    json_decref(spec);
    spec = json_object();
  }
  json_t *d = json_pack("{s:I,s:o,s:o,s:o}", "id", (json_int_t)id, "name", col_str(st, 0), "state", col_str(st, 2),
                        "description", json_incref(json_object_get(spec, "description")));
  static const char *const copied[] = {"command", "optimizer", "searchspace", "num_trials", "parallelism", "direction",
                                       "metric", "early_stopping", "resources", "timeout_s", "seed", "env",
                                       "resources_paths", "distribution", "executor", NULL};
  for (const char *const *k = copied; *k; k++) {
    json_t *v = json_object_get(spec, *k);
    json_object_set_new(d, *k, v ? json_incref(v) : json_null());
  }
  int64_t best = sqlite3_column_type(st, 3) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 3);
  json_object_set_new(d, "message", col_str(st, 5));
  json_object_set_new(d, "creator", col_str(st, 6));
  json_object_set_new(d, "created", col_time(st, 7));
  json_object_set_new(d, "ended", col_time(st, 8));
  char *logdir = xasprintf("Experiments/%" PRId64, id);
  json_object_set_new(d, "logdir", json_string(logdir));
  free(logdir);
  bool maximize = !json_is_string(json_object_get(spec, "direction")) ||
                  strcmp(json_string_value(json_object_get(spec, "direction")), "min") != 0;
  sqlite3_reset(st);
  json_decref(spec);

  /* Trials, best first: those with a metric (the highest rung first, as budgets differ), then the rest by number. */
  st = meta_bind(meta_stmt(s->meta,
                           "SELECT id, number, params, state, metric, exit_code, signal, timed_out, error, log_tail,"
                           " budget, rung, parent, gpus, attempts, submitted, started, ended, outputs, workers FROM trials"
                           " WHERE experiment_id = ? ORDER BY metric IS NULL, CASE WHEN metric IS NULL THEN 0 ELSE rung"
                           " END DESC, CASE WHEN ? THEN -metric ELSE metric END, number"),
                 "ii", id, (int64_t)maximize);
  json_t *trials = json_array(), *best_j = json_null();
  json_t *counts = json_pack("{s:i,s:i,s:i,s:i,s:i}", "running", 0, "finished", 0, "early_stopped", 0, "failed", 0,
                             "killed", 0);
  int64_t now = meta_now_us();
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    json_t *t = trial_json(st, now);
    const char *state = json_string_value(json_object_get(t, "state"));
    json_object_set_new(counts, state, json_integer(json_integer_value(json_object_get(counts, state)) + 1));
    if (sqlite3_column_int64(st, 0) == best) {
      json_decref(best_j);
      best_j = json_pack("{s:I,s:O,s:O,s:O}", "trial_id", (json_int_t)best, "number", json_object_get(t, "number"),
                         "params", json_object_get(t, "params"), "metric", json_object_get(t, "metric"));
    }
    json_array_append_new(trials, t);
  }
  if (st) sqlite3_reset(st);
  json_object_set_new(d, "best", best_j);
  /* A distributed experiment is one run: its workers are the experiment's. */
  json_t *first = json_array_get(trials, 0);
  json_t *workers = json_is_object(json_object_get(d, "distribution")) && first ? json_object_get(first, "workers")
                                                                                 : NULL;
  json_object_set_new(d, "workers", workers ? json_incref(workers) : json_null());
  json_object_set_new(d, "counts", counts);
  json_object_set_new(d, "trials", trials);
  return d;
}

static int exp_get(struct req *r, struct resp *w, oast_err *e) {
  int64_t id;
  int rc = parse_id(r, "id", &id, e);
  if (rc) return rc;
  json_t *d = exp_detail(r->srv, r->proj.id, id);
  if (!d) return oast_err_set(e, OAST_ENOT_FOUND, "experiment %" PRId64 " not found in project \"%s\"", id, r->proj.name);
  resp_json(w, 200, d);
  return 0;
}

static int exp_list(struct req *r, struct resp *w, oast_err *e) {
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta,
                                         "SELECT e.id, e.name, e.state, e.spec, e.created, e.ended, e.best_metric,"
                                         " e.creator, (SELECT count(*) FROM trials t WHERE t.experiment_id = e.id),"
                                         " (SELECT number FROM trials t WHERE t.id = e.best_trial)"
                                         " FROM experiments e WHERE e.project_id = ? ORDER BY e.id DESC"),
                               "i", r->proj.id);
  json_t *items = json_array();
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    json_t *spec = col_json(st, 3);
    json_t *opt = json_object_get(json_object_get(spec, "optimizer"), "name");
    json_t *it = json_pack("{s:I,s:o,s:o,s:O,s:O,s:O,s:o,s:o,s:o,s:o,s:I,s:o}", "id",
                           (json_int_t)sqlite3_column_int64(st, 0), "name", col_str(st, 1), "state", col_str(st, 2),
                           "optimizer", opt ? opt : json_null(), "metric",
                           json_object_get(spec, "metric") ? json_object_get(spec, "metric") : json_null(),
                           "direction",
                           json_object_get(spec, "direction") ? json_object_get(spec, "direction") : json_null(),
                           "created", col_time(st, 4), "ended", col_time(st, 5), "best_metric", col_num(st, 6),
                           "creator", col_str(st, 7), "trials", (json_int_t)sqlite3_column_int64(st, 8),
                           "best_trial", col_int(st, 9));
    json_decref(spec);
    json_array_append_new(items, it);
  }
  if (st) sqlite3_reset(st);
  resp_items(w, items);
  return 0;
}

static int exp_exists(struct req *r, int64_t id, oast_err *e) {
  sqlite3_stmt *st = meta_bind(meta_stmt(r->srv->meta, "SELECT 1 FROM experiments WHERE id = ? AND project_id = ?"),
                               "ii", id, r->proj.id);
  bool found = st && sqlite3_step(st) == SQLITE_ROW;
  if (st) sqlite3_reset(st);
  if (!found)
    return oast_err_set(e, OAST_ENOT_FOUND, "experiment %" PRId64 " not found in project \"%s\"", id, r->proj.name);
  return 0;
}

static int exp_stop(struct req *r, struct resp *w, oast_err *e) {
  int64_t id;
  int rc = authz_require(r, RIGHT_WRITE, e);
  if (!rc) rc = parse_id(r, "id", &id, e);
  if (!rc) rc = exp_exists(r, id, e);
  if (!rc) rc = exp_service_stop(r->srv, id, e);
  if (rc) return rc;
  snprintf(r->audit_target, sizeof r->audit_target, "experiment:%" PRId64, id);
  json_t *d = exp_detail(r->srv, r->proj.id, id);
  resp_json(w, 200, d ? d : json_object());
  return 0;
}

/* ---- the log stream ---- */

struct follow {
  struct server *s;
  int fd;
  int64_t id;
  uint64_t offset;
  bool follow;
};

static ssize_t follow_read(void *cls, uint64_t pos, char *buf, size_t max) {
  struct follow *f = cls;
  if (f->fd < 0) return MHD_CONTENT_READER_END_OF_STREAM;
  for (int waited = 0;; waited++) {
    /* Whether it is still running is read before the file, so a line
     * written just before the end is never missed. */
    bool active = f->follow && !f->s->stopping && exp_service_active(f->s, f->id);
    uint64_t gen = active ? exp_service_log_gen(f->s) : 0;
    ssize_t n = pread(f->fd, buf, max, (off_t)(f->offset + pos));
    if (n > 0) return n;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return MHD_CONTENT_READER_END_WITH_ERROR;
    if (!active) return MHD_CONTENT_READER_END_OF_STREAM;
    if (waited) return 0; /* nothing yet: libmicrohttpd asks again */
    exp_service_log_wait(f->s, gen, FOLLOW_WAIT_MS);
  }
}

static void follow_free(void *cls) {
  struct follow *f = cls;
  if (f->fd >= 0) close(f->fd);
  free(f);
}

static int exp_logs(struct req *r, struct resp *w, oast_err *e) {
  int64_t id;
  int rc = parse_id(r, "id", &id, e);
  if (!rc) rc = exp_exists(r, id, e);
  if (rc) return rc;
  bool follow;
  uint64_t offset;
  if ((rc = req_follow_offset(r, &follow, &offset, e))) return rc;
  char *dir = exp_dir(r->srv, r->proj.name, id);
  char *path = fs_join(dir, "experiment.log");
  struct follow *f = xcalloc(1, sizeof *f);
  f->s = r->srv;
  f->id = id;
  f->offset = offset;
  f->follow = follow;
  f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  free(path);
  free(dir);
  w->status = 200;
  w->raw = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, FOLLOW_BLOCK, follow_read, f, follow_free);
  if (!w->raw) {
    follow_free(f);
    return oast_err_set(e, OAST_EINTERNAL, "cannot create the log stream");
  }
  MHD_add_response_header(w->raw, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
  return 0;
}

/* ---- trial calls ---- */

/* The trial id, the caller's token hash, and that the caller is a trial token. */
static int trial_caller(struct req *r, int64_t *id, char hash[65], oast_err *e) {
  int rc = parse_id(r, "id", id, e);
  if (rc) return rc;
  if (strcmp(r->who.token_kind, "trial") != 0)
    return authz_deny(r, e, OAST_EFORBIDDEN, "only a trial's own token (OAST_TRIAL_TOKEN) may report for it");
  const char *a = req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
  const char *secret = a && strlen(a) > 7 ? a + 7 : "";
  while (*secret == ' ') secret++;
  crypto_sha256_hex(secret, strlen(secret), hash);
  return 0;
}

static int trial_report(struct req *r, struct resp *w, oast_err *e) {
  int64_t id;
  char hash[65];
  json_t *b = NULL;
  int rc = trial_caller(r, &id, hash, e);
  if (!rc) rc = req_json(r, &b, e);
  if (rc) return rc;
  static const char *const allowed[] = {"metric", "step", "log", "metrics", NULL};
  struct exp_report rep = {0};
  rep.step = -1;
  json_t *m = json_object_get(b, "metric"), *metrics = NULL;
  const char *log = NULL;
  if ((rc = json_only_fields(b, allowed, e))) goto out;
  if (m && !json_is_null(m)) {
    if (!json_is_number(m)) {
      rc = oast_err_set(e, OAST_EBAD_REQUEST, "metric: must be a number");
      goto out;
    }
    rep.has_metric = true;
    rep.metric = json_number_value(m);
  }
  if ((rc = json_get_int(b, "step", false, &rep.step, e))) goto out;
  if (json_object_get(b, "step") && !json_is_null(json_object_get(b, "step")) && rep.step < 0) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "step: must be 0 or more");
    goto out;
  }
  if ((rc = json_get_str(b, "log", false, &log, e))) goto out;
  if (log && strlen(log) > EXP_LOG_MAX) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "log: longer than %d bytes", EXP_LOG_MAX);
    goto out;
  }
  if ((rc = json_get_obj(b, "metrics", false, &metrics, e))) goto out;
  const char *k;
  json_t *v;
  json_object_foreach(metrics, k, v) {
    if (!json_is_number(v) || !*k || strlen(k) > 256) {
      rc = oast_err_set(e, OAST_EBAD_REQUEST, "metrics.%.64s: must be a number named by 1 to 256 bytes", k);
      goto out;
    }
  }
  if (!rep.has_metric && !log) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "metric: required field is missing (or send a \"log\")");
    goto out;
  }
  rep.metrics = metrics;
  rep.log = log;
  bool stop = false;
  if ((rc = exp_service_report(r->srv, id, hash, &rep, &stop, e))) goto out;
  resp_json(w, 200, json_pack("{s:b}", "stop", stop));
out:
  json_decref(b);
  return rc;
}

static int trial_final(struct req *r, struct resp *w, oast_err *e) {
  int64_t id;
  char hash[65];
  json_t *b = NULL;
  int rc = trial_caller(r, &id, hash, e);
  if (!rc) rc = req_json(r, &b, e);
  if (rc) return rc;
  static const char *const allowed[] = {"metric", "outputs", NULL};
  json_t *m = json_object_get(b, "metric"), *outputs = NULL;
  double metric = NAN, kept = NAN;
  if ((rc = json_only_fields(b, allowed, e)) || (rc = json_get_obj(b, "outputs", false, &outputs, e))) goto out;
  if (m && !json_is_null(m)) {
    if (!json_is_number(m)) {
      rc = oast_err_set(e, OAST_EBAD_REQUEST, "metric: must be a number");
      goto out;
    }
    metric = json_number_value(m);
  }
  if ((!m || json_is_null(m)) && !outputs) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "metric: required field is missing (or send \"outputs\")");
    goto out;
  }
  if ((rc = exp_service_final(r->srv, id, hash, metric, outputs, &kept, e))) goto out;
  resp_json(w, 200, json_pack("{s:o}", "metric", isfinite(kept) ? json_real(kept) : json_null()));
out:
  json_decref(b);
  return rc;
}

const struct route exp_routes[] = {
    {"POST", "/api/v1/projects/{p}/experiments", ACCESS_MEMBER, 0, "experiment.create", exp_create, NULL},
    {"GET", "/api/v1/projects/{p}/experiments", ACCESS_MEMBER, 0, "experiment.list", exp_list, NULL},
    {"GET", "/api/v1/projects/{p}/experiments/{id}", ACCESS_MEMBER, 0, "experiment.get", exp_get, NULL},
    {"GET", "/api/v1/projects/{p}/experiments/{id}/logs", ACCESS_MEMBER, 0, "experiment.logs", exp_logs, NULL},
    {"POST", "/api/v1/projects/{p}/experiments/{id}/stop", ACCESS_MEMBER, 0, "experiment.stop", exp_stop, NULL},
    {"POST", "/api/v1/trials/{id}/report", ACCESS_USER, ROUTE_ANY_TOKEN | ROUTE_NO_AUDIT, "trial.report", trial_report,
     NULL},
    {"POST", "/api/v1/trials/{id}/final", ACCESS_USER, ROUTE_ANY_TOKEN | ROUTE_NO_AUDIT, "trial.final", trial_final,
     NULL},
    ROUTES_END,
};
