/*
 * pipeline_spec.c — pipeline files to validated specs (see pipeline_spec.h).
 *
 * Validation runs in passes so that each error can name one task: first
 * every task on its own (name, type, fields by the type's table, generic
 * limits), then names are indexed and duplicates refused, then depends_on
 * is resolved (unknown, self and repeated names), then the graph is
 * ordered with Kahn's algorithm, always taking the earliest task in the
 * file among those ready, so the order is deterministic. Tasks that Kahn
 * cannot place lie on or behind a cycle; following their unplaced
 * dependencies from the first of them must revisit a task, and that loop
 * is the cycle we report. Cross-task references (a register_best_model's
 * experiment task) are checked last, against the finished graph.
 */
#include "jobs/pipeline_spec.h"

#include <stdio.h>
#include <string.h>

#include "jobs/spec_fields.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/path.h"
#include "util/yaml.h"

static const char *const type_names[] = {"job",          "sensor",
                                         "featuregroup_insert", "trainingdata",
                                         "experiment",   "register_best_model",
                                         "deploy",       NULL};
static const char *const trigger_names[] = {"all_success", "all_done", "one_failed", NULL};
static const char *const td_formats[] = {"csv", "tfrecord", "npy", "hdf5", "parquet", NULL};
static const char *const fg_operations[] = {"insert", "upsert", NULL};
static const char *const directions[] = {"max", "min", NULL};

static const struct spec_field generic_fields[] = {
    {"trigger_rule", SK_CHOICE, false, 0, trigger_names},
    {"retries", SK_DELAY, false, PIPELINE_MAX_RETRIES, NULL},
    {"retry_delay_s", SK_DELAY, false, PIPELINE_MAX_DELAY_S, NULL},
    {"max_retry_delay_s", SK_DELAY, false, PIPELINE_MAX_DELAY_S, NULL},
    {"timeout_s", SK_SECONDS, false, PIPELINE_MAX_TIMEOUT_S, NULL},
    {NULL}};
static const struct spec_field job_fields[] = {{"job", SK_NAME, true}, {"args", SK_STRS}, {NULL}};
static const struct spec_field sensor_fields[] = {
    {"path", SK_PATH, true}, {"poke_interval_s", SK_SECONDS, false, PIPELINE_MAX_DELAY_S, NULL}, {NULL}};
static const struct spec_field fg_fields[] = {{"featuregroup", SK_NAME, true},
                                              {"version", SK_VERSION},
                                              {"path", SK_PATH, true},
                                              {"operation", SK_CHOICE, false, 0, fg_operations},
                                              {NULL}};
static const struct spec_field td_fields[] = {{"featureview", SK_NAME, true},
                                              {"version", SK_VERSION},
                                              {"format", SK_CHOICE, false, 0, td_formats},
                                              {"splits", SK_SPLITS},
                                              {"seed", SK_INT},
                                              {"start_time", SK_TIME},
                                              {"end_time", SK_TIME},
                                              {NULL}};
static const struct spec_field exp_fields[] = {{"experiment", SK_OBJ, true}, {NULL}};
static const struct spec_field reg_fields[] = {{"experiment", SK_NAME},
                                               {"experiment_id", SK_ID},
                                               {"model", SK_NAME, true},
                                               {"metric", SK_STR, true},
                                               {"direction", SK_CHOICE, false, 0, directions},
                                               {"framework", SK_STR},
                                               {"description", SK_STR},
                                               {NULL}};
static const struct spec_field deploy_fields[] = {{"model", SK_NAME, true},
                                                  {"model_version", SK_VERSION},
                                                  {"deployment", SK_NAME, true},
                                                  {"predictor", SK_OBJ},
                                                  {"instances", SK_COUNT},
                                                  {"start", SK_BOOL},
                                                  {NULL}};
static const struct spec_field *const type_fields[] = {job_fields, sensor_fields, fg_fields, td_fields,
                                                       exp_fields, reg_fields,    deploy_fields};

/* The fields of a task that are not in the tables: checked here. */
static const char *const task_own_fields[] = {"name", "type", "depends_on", NULL};

const char *pipeline_task_type_name(enum pipeline_task_type t) { return type_names[t]; }
const char *pipeline_trigger_name(enum pipeline_trigger t) { return trigger_names[t]; }

void pipeline_spec_free(struct pipeline_spec *s) {
  if (!s) return;
  for (size_t i = 0; i < s->ntasks; i++) {
    free(s->tasks[i].deps);
    free(s->tasks[i].children);
  }
  free(s->tasks);
  free(s->order);
  json_decref(s->json);
  free(s);
}

long pipeline_spec_task_index(const struct pipeline_spec *s, const char *name) {
  for (size_t i = 0; i < s->ntasks; i++)
    if (strcmp(s->tasks[i].name, name) == 0) return (long)i;
  return -1;
}

static int64_t get_i64(json_t *o, const char *k, int64_t dflt) {
  json_t *v = json_object_get(o, k);
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* Pass 1: one task on its own. Fills t (but deps) and appends its canonical object to ctasks. */
static int check_task(json_t *in, size_t i, struct pipeline_task *t, json_t *ctasks, oast_err *e) {
  char who[96];
  snprintf(who, sizeof who, "task #%zu", i + 1);
  if (!json_is_object(in)) return spec_fail(e, who, "a task must be an object with \"name\" and \"type\"");
  json_t *name = json_object_get(in, "name");
  if (!name || json_is_null(name)) return spec_fail(e, who, "field \"name\" is required");
  if (!json_is_string(name) || !name_valid(json_string_value(name)) ||
      strlen(json_string_value(name)) != json_string_length(name))
    return spec_fail(e, who, "\"%.80s\" is not a valid task name (a letter, then letters, digits or '_', at most 63)",
                     json_is_string(name) ? json_string_value(name) : "");
  snprintf(who, sizeof who, "task \"%s\"", json_string_value(name));
  json_t *type = json_object_get(in, "type");
  if (!type || json_is_null(type)) return spec_fail(e, who, "field \"type\" is required");
  int ti = json_is_string(type) ? spec_choice(type_names, json_string_value(type)) : -1;
  if (ti < 0)
    return spec_fail(e, who,
                     "unknown task type \"%.80s\" (known: job, sensor, featuregroup_insert, trainingdata, "
                     "experiment, register_best_model, deploy)",
                     json_is_string(type) ? json_string_value(type) : "");
  json_t *deps = json_object_get(in, "depends_on");
  if (deps && !json_is_null(deps) && !json_is_array(deps))
    return spec_fail(e, who, "field \"depends_on\" must be an array of task names");

  json_t *c = json_object();
  json_array_append_new(ctasks, c);
  json_object_set(c, "name", name);
  json_object_set(c, "type", type);
  json_object_set_new(c, "depends_on", deps && json_is_array(deps) ? json_deep_copy(deps) : json_array());
  const struct spec_field *const tables[] = {generic_fields, type_fields[ti], NULL};
  int rc = spec_fields_check(in, tables, task_own_fields, c, who, e);
  if (rc) return rc;

  t->type = (enum pipeline_task_type)ti;
  t->json = c;
  t->name = json_string_value(json_object_get(c, "name"));
  json_t *tr = json_object_get(c, "trigger_rule");
  t->trigger = tr ? (enum pipeline_trigger)spec_choice(trigger_names, json_string_value(tr)) : TRIGGER_ALL_SUCCESS;
  t->retries = (int)get_i64(c, "retries", 0);
  t->retry_delay_s = get_i64(c, "retry_delay_s", PIPELINE_DEFAULT_RETRY_DELAY_S);
  int64_t dflt_max = t->retry_delay_s > PIPELINE_DEFAULT_MAX_RETRY_DELAY_S ? t->retry_delay_s
                                                                           : PIPELINE_DEFAULT_MAX_RETRY_DELAY_S;
  t->max_retry_delay_s = get_i64(c, "max_retry_delay_s", dflt_max);
  if (t->max_retry_delay_s < t->retry_delay_s)
    return spec_fail(e, who, "max_retry_delay_s (%lld) is smaller than retry_delay_s (%lld)",
                     (long long)t->max_retry_delay_s, (long long)t->retry_delay_s);
  t->timeout_s = get_i64(c, "timeout_s", t->type == PTASK_SENSOR ? PIPELINE_DEFAULT_SENSOR_TIMEOUT_S : 0);
  if (t->type == PTASK_SENSOR && !json_object_get(c, "poke_interval_s"))
    json_object_set_new(c, "poke_interval_s", json_integer(PIPELINE_DEFAULT_POKE_INTERVAL_S));
  json_object_set_new(c, "trigger_rule", json_string(trigger_names[t->trigger]));
  json_object_set_new(c, "retries", json_integer(t->retries));
  json_object_set_new(c, "retry_delay_s", json_integer(t->retry_delay_s));
  json_object_set_new(c, "max_retry_delay_s", json_integer(t->max_retry_delay_s));
  if (t->timeout_s) json_object_set_new(c, "timeout_s", json_integer(t->timeout_s));
  if (t->type == PTASK_REGISTER_BEST_MODEL &&
      !json_object_get(c, "experiment") == !json_object_get(c, "experiment_id"))
    return spec_fail(e, who,
                     "give exactly one of \"experiment\" (an experiment task of this pipeline) or "
                     "\"experiment_id\" (an existing experiment)");
  return 0;
}

/* Pass 3: depends_on names to indexes; children lists. */
static int resolve_deps(struct pipeline_spec *s, oast_err *e) {
  for (size_t i = 0; i < s->ntasks; i++) {
    struct pipeline_task *t = &s->tasks[i];
    char who[96];
    snprintf(who, sizeof who, "task \"%s\"", t->name);
    json_t *deps = json_object_get(t->json, "depends_on");
    t->deps = xcalloc(json_array_size(deps) + 1, sizeof *t->deps);
    size_t k;
    json_t *d;
    json_array_foreach(deps, k, d) {
      if (!json_is_string(d)) return spec_fail(e, who, "item %zu of depends_on must be a task name", k + 1);
      long j = pipeline_spec_task_index(s, json_string_value(d));
      if (j < 0) return spec_fail(e, who, "depends_on names unknown task \"%.80s\"", json_string_value(d));
      if ((size_t)j == i) return spec_fail(e, who, "depends_on names the task itself");
      for (size_t m = 0; m < t->ndeps; m++)
        if (t->deps[m] == (size_t)j) return spec_fail(e, who, "depends_on lists \"%s\" twice", s->tasks[j].name);
      t->deps[t->ndeps++] = (size_t)j;
    }
    if (t->trigger == TRIGGER_ONE_FAILED && t->ndeps == 0)
      return spec_fail(e, who, "trigger_rule one_failed needs depends_on: it runs when an upstream task fails");
  }
  size_t *count = xcalloc(s->ntasks, sizeof *count);
  for (size_t i = 0; i < s->ntasks; i++)
    for (size_t k = 0; k < s->tasks[i].ndeps; k++) count[s->tasks[i].deps[k]]++;
  for (size_t i = 0; i < s->ntasks; i++) s->tasks[i].children = xcalloc(count[i] + 1, sizeof(size_t));
  free(count);
  for (size_t i = 0; i < s->ntasks; i++)
    for (size_t k = 0; k < s->tasks[i].ndeps; k++) {
      struct pipeline_task *p = &s->tasks[s->tasks[i].deps[k]];
      p->children[p->nchildren++] = i;
    }
  return 0;
}

/* Pass 4: topological order, or the error naming a cycle. */
static int order_tasks(struct pipeline_spec *s, oast_err *e) {
  size_t n = s->ntasks, placed = 0;
  size_t *indeg = xcalloc(n, sizeof *indeg);
  bool *done = xcalloc(n, sizeof *done);
  s->order = xcalloc(n, sizeof *s->order);
  for (size_t i = 0; i < n; i++) indeg[i] = s->tasks[i].ndeps;
  for (;;) {
    size_t i = 0;
    while (i < n && (done[i] || indeg[i])) i++;
    if (i == n) break;
    done[i] = true;
    s->order[placed++] = i;
    for (size_t k = 0; k < s->tasks[i].nchildren; k++) indeg[s->tasks[i].children[k]]--;
  }
  int rc = 0;
  if (placed < n) {
    /* Every unplaced task has an unplaced dependency: walk them until one repeats. */
    long *step = xcalloc(n, sizeof *step); /* 1 + position on the walk, 0 = unvisited */
    size_t *walk = xcalloc(n + 1, sizeof *walk), len = 0, u = 0;
    while (done[u]) u++;
    while (!step[u]) {
      step[u] = (long)++len;
      walk[len - 1] = u;
      size_t k = 0;
      while (done[s->tasks[u].deps[k]]) k++;
      u = s->tasks[u].deps[k];
    }
    size_t first = (size_t)step[u] - 1, clen = len - first, start = first;
    for (size_t m = first; m < len; m++)  /* name the cycle from its earliest task in the file */
      if (walk[m] < walk[start]) start = m;
    struct buf b;
    buf_init(&b, 700);
    for (size_t m = 0; m <= clen; m++)
      if (buf_printf(&b, "%s%s", m ? " -> " : "", s->tasks[walk[first + (start - first + m) % clen]].name)) {
        buf_release(&b);
        buf_init(&b, 0);
        buf_puts(&b, "(a cycle too long to print)");
        break;
      }
    char who[96];
    snprintf(who, sizeof who, "task \"%s\"", s->tasks[walk[start]].name);
    rc = spec_fail(e, who, "depends_on forms a cycle: %s (each task depends on the next)", buf_cstr(&b));
    buf_release(&b);
    free(step);
    free(walk);
  }
  free(indeg);
  free(done);
  return rc;
}

static bool is_upstream(const struct pipeline_spec *s, size_t anc, size_t i, bool *seen) {
  for (size_t k = 0; k < s->tasks[i].ndeps; k++) {
    size_t d = s->tasks[i].deps[k];
    if (d == anc) return true;
    if (!seen[d]) {
      seen[d] = true;
      if (is_upstream(s, anc, d, seen)) return true;
    }
  }
  return false;
}

/* Pass 5: references between tasks, on the acyclic graph. */
static int check_refs(struct pipeline_spec *s, oast_err *e) {
  for (size_t i = 0; i < s->ntasks; i++) {
    struct pipeline_task *t = &s->tasks[i];
    json_t *x = json_object_get(t->json, "experiment");
    if (t->type != PTASK_REGISTER_BEST_MODEL || !x) continue;
    char who[96];
    snprintf(who, sizeof who, "task \"%s\"", t->name);
    long j = pipeline_spec_task_index(s, json_string_value(x));
    if (j < 0)
      return spec_fail(e, who, "field \"experiment\" names unknown task \"%s\" (use \"experiment_id\" for an "
                       "existing experiment)", json_string_value(x));
    if (s->tasks[j].type != PTASK_EXPERIMENT)
      return spec_fail(e, who, "field \"experiment\" names task \"%s\", which is a %s task, not an experiment",
                       s->tasks[j].name, type_names[s->tasks[j].type]);
    bool *seen = xcalloc(s->ntasks, sizeof *seen);
    bool up = is_upstream(s, (size_t)j, i, seen);
    free(seen);
    if (!up)
      return spec_fail(e, who, "experiment task \"%s\" must run before this one: list it in depends_on",
                       s->tasks[j].name);
  }
  return 0;
}

/* "notify": {"webhook": "http(s)://..."}: the only notification there is. */
static int check_notify(json_t *n, oast_err *e) {
  static const char *const fields[] = {"webhook", NULL};
  oast_err je;
  if (!json_is_object(n))
    return oast_err_set(e, OAST_EBAD_REQUEST, "field \"notify\" must be an object such as {\"webhook\": URL}");
  if (json_only_fields(n, fields, &je)) return oast_err_set(e, OAST_EBAD_REQUEST, "notify: %s", je.msg);
  json_t *w = json_object_get(n, "webhook");
  if (!json_is_string(w))
    return oast_err_set(e, OAST_EBAD_REQUEST, "notify: field \"webhook\" must be a URL string");
  const char *u = json_string_value(w);
  size_t len = json_string_length(w);
  bool scheme = !strncmp(u, "http://", 7) || !strncmp(u, "https://", 8);
  bool clean = len == strlen(u) && len <= PIPELINE_MAX_URL;
  for (size_t i = 0; clean && i < len; i++) clean = (unsigned char)u[i] > ' ' && u[i] != 0x7f;
  if (!scheme || !clean || len <= 8)
    return oast_err_set(e, OAST_EBAD_REQUEST,
                        "notify: field \"webhook\" must be an http:// or https:// URL of at most %d characters "
                        "without spaces",
                        PIPELINE_MAX_URL);
  return 0;
}

int pipeline_spec_from_json(json_t *doc, struct pipeline_spec **out, oast_err *e) {
  static const char *const top_fields[] = {"name", "description", "schedule", "notify", "tasks", NULL};
  *out = NULL;
  if (!json_is_object(doc))
    return oast_err_set(e, OAST_EBAD_REQUEST, "a pipeline must be an object with \"name\" and \"tasks\"");
  oast_err je;
  if (json_only_fields(doc, top_fields, &je)) return oast_err_set(e, OAST_EBAD_REQUEST, "pipeline: %s", je.msg);
  const char *name = NULL, *desc = NULL, *sched = NULL;
  json_t *tasks = NULL;
  int rc;
  if ((rc = json_get_str(doc, "name", true, &name, e)) || (rc = name_check("pipeline name", name, e)) ||
      (rc = json_get_str(doc, "description", false, &desc, e)) ||
      (rc = json_get_str(doc, "schedule", false, &sched, e)) || (rc = json_get_array(doc, "tasks", true, &tasks, e)))
    return rc;
  if (desc && strlen(desc) > SPEC_MAX_STR)
    return oast_err_set(e, OAST_EBAD_REQUEST, "field \"description\" is longer than %d bytes", SPEC_MAX_STR);
  size_t n = json_array_size(tasks);
  if (n == 0) return oast_err_set(e, OAST_EBAD_REQUEST, "pipeline \"%s\" has no tasks", name);
  if (n > PIPELINE_MAX_TASKS)
    return oast_err_set(e, OAST_EBAD_REQUEST, "pipeline \"%s\" has %zu tasks; at most %d are allowed", name, n,
                        PIPELINE_MAX_TASKS);

  struct pipeline_spec *s = xcalloc(1, sizeof *s);
  s->json = json_object();
  json_object_set_new(s->json, "name", json_string(name));
  if (desc) json_object_set_new(s->json, "description", json_string(desc));
  if (sched) {
    oast_err ce;
    if ((rc = cron_parse(sched, &s->cron, &ce))) {
      rc = oast_err_set(e, OAST_EBAD_REQUEST, "field \"schedule\": %s", ce.msg);
      goto out;
    }
    json_object_set_new(s->json, "schedule", json_string(sched));
    s->schedule = json_string_value(json_object_get(s->json, "schedule"));
  }
  json_t *notify = json_object_get(doc, "notify");
  if (notify && !json_is_null(notify)) {
    if ((rc = check_notify(notify, e))) goto out;
    json_object_set_new(s->json, "notify", json_deep_copy(notify));
    s->webhook = json_string_value(json_object_get(json_object_get(s->json, "notify"), "webhook"));
  }
  s->name = json_string_value(json_object_get(s->json, "name"));
  json_t *ctasks = json_array();
  json_object_set_new(s->json, "tasks", ctasks);
  s->tasks = xcalloc(n, sizeof *s->tasks);
  for (size_t i = 0; i < n; i++) {
    if ((rc = check_task(json_array_get(tasks, i), i, &s->tasks[i], ctasks, e))) goto out;
    s->ntasks++;
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < i; j++)
      if (strcmp(s->tasks[i].name, s->tasks[j].name) == 0) {
        rc = oast_err_set(e, OAST_EBAD_REQUEST, "task \"%s\": the name is used by task #%zu and task #%zu",
                          s->tasks[i].name, j + 1, i + 1);
        goto out;
      }
  if ((rc = resolve_deps(s, e)) || (rc = order_tasks(s, e)) || (rc = check_refs(s, e))) goto out;
  *out = s;
  return 0;
out:
  pipeline_spec_free(s);
  return rc;
}

int pipeline_spec_parse(const char *text, size_t len, struct pipeline_spec **out, oast_err *e) {
  *out = NULL;
  if (len > PIPELINE_MAX_BYTES)
    return oast_err_set(e, OAST_ETOO_LARGE, "the pipeline file is larger than %u bytes", PIPELINE_MAX_BYTES);
  size_t bom = len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;  /* a UTF-8 byte order mark */
  size_t i = bom;
  while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) i++;
  json_t *doc = NULL;
  int rc = i < len && text[i] == '{' ? json_parse_object(text + bom, len - bom, &doc, e)
                                     : yaml_to_json(text, len, &doc, e);
  if (rc) return rc;
  rc = pipeline_spec_from_json(doc, out, e);
  json_decref(doc);
  return rc;
}
