/*
 * job_spec.c — job definitions to validated specs (see job_spec.h). The
 * fields are one table checked by spec_fields; what a table cannot say
 * (the program lies inside a dataset, a notebook is an .ipynb file, the
 * schedule parses) is checked here after it.
 */
#include "jobs/job_spec.h"

#include <stdio.h>
#include <string.h>

#include "jobs/spec_fields.h"
#include "util/alloc.h"
#include "util/path.h"

static const char *const type_names[] = {"python", "shell", "notebook", "binary", NULL};

static const struct spec_field job_fields[] = {
    {"type", SK_CHOICE, true, 0, type_names},
    {"program", SK_PATH, true},
    {"args", SK_STRS},
    {"env", SK_ENV},
    {"schedule", SK_STR},
    {"timeout_s", SK_SECONDS, false, JOB_MAX_TIMEOUT_S, NULL},
    {"cpus", SK_COUNT},
    {"gpus", SK_DELAY, false, JOB_MAX_GPUS, NULL},
    {NULL}};

const char *job_type_name(enum job_type t) { return type_names[t]; }

void job_spec_free(struct job_spec *s) {
  if (!s) return;
  json_decref(s->json);
  free(s);
}

int job_spec_from_json(json_t *doc, struct job_spec **out, oast_err *e) {
  static const char *const own[] = {"name", NULL};
  static const struct spec_field *const tables[] = {job_fields, NULL};
  *out = NULL;
  if (!json_is_object(doc)) return oast_err_set(e, OAST_EBAD_REQUEST, "a job must be an object with \"name\"");
  json_t *name = json_object_get(doc, "name");
  if (!name || json_is_null(name)) return oast_err_set(e, OAST_EBAD_REQUEST, "job: field \"name\" is required");
  if (!json_is_string(name) || strlen(json_string_value(name)) != json_string_length(name) ||
      !name_valid(json_string_value(name)))
    return name_check("job name", json_is_string(name) ? json_string_value(name) : "", e);
  char who[96];
  snprintf(who, sizeof who, "job \"%s\"", json_string_value(name));

  struct job_spec *s = xcalloc(1, sizeof *s);
  s->json = json_object();
  json_object_set(s->json, "name", name);
  int rc = spec_fields_check(doc, tables, own, s->json, who, e);
  if (rc) goto out;
  s->name = json_string_value(json_object_get(s->json, "name"));
  s->type = (enum job_type)spec_choice(type_names, json_string_value(json_object_get(s->json, "type")));
  s->program = json_string_value(json_object_get(s->json, "program"));
  if (!strchr(s->program, '/')) {
    rc = spec_fail(e, who, "field \"program\" must be a file inside a dataset, such as \"Resources/%s\"", s->program);
    goto out;
  }
  size_t plen = strlen(s->program);
  if (s->type == JOB_NOTEBOOK && (plen < 6 || strcmp(s->program + plen - 6, ".ipynb") != 0)) {
    rc = spec_fail(e, who, "a notebook job's \"program\" must be an .ipynb file");
    goto out;
  }
  if (!json_object_get(s->json, "args")) json_object_set_new(s->json, "args", json_array());
  if (!json_object_get(s->json, "env")) json_object_set_new(s->json, "env", json_object());
  json_t *sched = json_object_get(s->json, "schedule");
  if (sched) {
    oast_err ce;
    if (cron_parse(json_string_value(sched), &s->cron, &ce)) {
      rc = spec_fail(e, who, "field \"schedule\": %s", ce.msg);
      goto out;
    }
    s->schedule = json_string_value(sched);
  }
  json_t *to = json_object_get(s->json, "timeout_s");
  s->timeout_s = to ? (int64_t)json_integer_value(to) : 0;
  json_t *cpus = json_object_get(s->json, "cpus"), *gpus = json_object_get(s->json, "gpus");
  s->cpus = cpus ? (int)json_integer_value(cpus) : 1;
  s->gpus = gpus ? (int)json_integer_value(gpus) : 0;
  *out = s;
  return 0;
out:
  job_spec_free(s);
  return rc;
}
