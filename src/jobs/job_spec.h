/*
 * job_spec.h — the definition of a job (POST /projects/{p}/jobs),
 * validated whole before it is stored.
 *
 * Shape: {"name", "type": "python" | "shell" | "notebook" | "binary",
 * "program": "Resources/…" (a file inside a dataset; a notebook's ends in
 * .ipynb), "args"?: [strings], "env"?: {NAME: string} (OAST_* names are
 * reserved for the platform), "schedule"?: cron expression (cron.h),
 * "timeout_s"?: 1..JOB_MAX_TIMEOUT_S, "cpus"?: CPU slots 1..1024 (default
 * 1), "gpus"?: 0..JOB_MAX_GPUS (default 0)}. Unknown fields are refused; every
 * error is a 400 that names the job and the field.
 *
 * The canonical JSON (spec->json) is what should be stored: the program
 * path normalized, "args" and "env" always present.
 */
#ifndef JOBS_JOB_SPEC_H
#define JOBS_JOB_SPEC_H

#include <jansson.h>
#include <stdint.h>

#include "jobs/cron.h"
#include "oast/error.h"

#define JOB_MAX_TIMEOUT_S (7 * 86400)
#define JOB_MAX_GPUS 256

enum job_type { JOB_PYTHON, JOB_SHELL, JOB_NOTEBOOK, JOB_BINARY };

struct job_spec {
  const char *name;      /* borrowed from json */
  enum job_type type;
  const char *program;   /* borrowed from json: normalized project path */
  const char *schedule;  /* borrowed from json; NULL when unscheduled */
  struct cron cron;      /* valid when schedule != NULL */
  int64_t timeout_s;     /* 0 = none */
  int cpus, gpus;        /* executor slots asked for */
  json_t *json;          /* owned: the canonical form */
};

/* Validates doc (borrowed). *out is owned by the caller (job_spec_free). */
int job_spec_from_json(json_t *doc, struct job_spec **out, oast_err *e);
void job_spec_free(struct job_spec *s);  /* accepts NULL */
/* "python", "shell", "notebook", "binary" (static). */
const char *job_type_name(enum job_type t);

#endif
