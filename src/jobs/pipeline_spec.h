/*
 * pipeline_spec.h — a pipeline definition, parsed from JSON or YAML and
 * validated whole before anything is stored.
 *
 * Shape (API.md): {"name", "description"?, "schedule"?: cron,
 * "notify"?: {"webhook": "http(s)://..."} (POSTed to when a run fails), "tasks": [
 *   {"name", "type", "depends_on"?: [task names], "retries"?,
 *    "retry_delay_s"?, "max_retry_delay_s"?, "timeout_s"?,
 *    "trigger_rule"?: "all_success" | "all_done" | "one_failed",
 *    ...the fields of its type}]}
 *
 * Fields per type (? = optional):
 *   job                  "job" (a job name), "args"? [strings]
 *   sensor               "path" (project path to wait for, e.g.
 *                        "Resources/out/_SUCCESS"), "poke_interval_s"?
 *                        (default 30); its timeout_s defaults to 3600
 *   featuregroup_insert  "featuregroup", "version"?, "path",
 *                        "operation"?: "insert" | "upsert"
 *   trainingdata         "featureview", "version"?, "format"?: "csv" |
 *                        "tfrecord" | "npy" | "hdf5" | "parquet",
 *                        "splits"? {name: fraction, summing to 1},
 *                        "seed"?, "start_time"?, "end_time"?
 *   experiment           "experiment": the body of POST /experiments (an
 *                        object; its own module validates its contents)
 *   register_best_model  exactly one of "experiment" (the name of an
 *                        experiment task upstream of this one) or
 *                        "experiment_id" (an existing experiment), and
 *                        "model" (the model name to register under; not
 *                        "name", which is the task's), "metric",
 *                        "direction"?: "max" | "min", "framework"?,
 *                        "description"?
 *   deploy               "model", "model_version"?, "deployment",
 *                        "predictor"? {..}, "instances"?, "start"? bool
 *
 * Every error is a 400 that names the task (`task "train": depends_on
 * names unknown task "prep"`, `task "a": depends_on forms a cycle: a -> b
 * -> a (each task depends on the next)`). Unknown fields are refused, so a
 * misspelt "depend_on" is caught instead of silently ignored.
 *
 * The canonical JSON (spec->json) is what should be stored: the given
 * fields with paths normalized and every generic default filled in
 * (depends_on, retries, retry_delay_s, max_retry_delay_s, trigger_rule;
 * timeout_s when set; a sensor's timeout_s and poke_interval_s), so a
 * YAML file and the equivalent JSON give json_equal() results.
 */
#ifndef JOBS_PIPELINE_SPEC_H
#define JOBS_PIPELINE_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobs/cron.h"
#include "oast/error.h"

#define PIPELINE_MAX_BYTES (1u << 20)         /* text given to pipeline_spec_parse */
#define PIPELINE_MAX_TASKS 4096
#define PIPELINE_MAX_RETRIES 20
#define PIPELINE_MAX_DELAY_S 86400            /* retry_delay_s, max_retry_delay_s, poke_interval_s */
#define PIPELINE_MAX_TIMEOUT_S (7 * 86400)
#define PIPELINE_DEFAULT_RETRY_DELAY_S 30
#define PIPELINE_DEFAULT_MAX_RETRY_DELAY_S 3600
#define PIPELINE_DEFAULT_SENSOR_TIMEOUT_S 3600
#define PIPELINE_DEFAULT_POKE_INTERVAL_S 30
#define PIPELINE_MAX_URL 2048                 /* notify.webhook */

enum pipeline_task_type {
  PTASK_JOB,
  PTASK_SENSOR,
  PTASK_FEATUREGROUP_INSERT,
  PTASK_TRAININGDATA,
  PTASK_EXPERIMENT,
  PTASK_REGISTER_BEST_MODEL,
  PTASK_DEPLOY,
};

enum pipeline_trigger {
  TRIGGER_ALL_SUCCESS,  /* every upstream succeeded (the default) */
  TRIGGER_ALL_DONE,     /* every upstream finished, whatever its outcome */
  TRIGGER_ONE_FAILED,   /* some upstream failed (or was upstream_failed) */
};

struct pipeline_task {
  const char *name;            /* borrowed from spec->json */
  enum pipeline_task_type type;
  size_t *deps, ndeps;         /* indexes of upstream tasks, in the order given */
  size_t *children, nchildren; /* indexes of tasks that list this one, ascending */
  int retries;                 /* further attempts after a failure: 0..PIPELINE_MAX_RETRIES */
  int64_t retry_delay_s;       /* delay before the first retry; doubles per attempt */
  int64_t max_retry_delay_s;   /* cap of that delay */
  int64_t timeout_s;           /* per attempt; 0 = none */
  enum pipeline_trigger trigger;
  json_t *json;                /* borrowed: the canonical task object, for the type's fields */
};

struct pipeline_spec {
  const char *name;            /* borrowed from json */
  const char *schedule;        /* borrowed from json; NULL when unscheduled */
  struct cron cron;            /* parsed schedule, valid when schedule != NULL */
  const char *webhook;         /* borrowed from json: notify.webhook, NULL when none */
  struct pipeline_task *tasks; /* owned, in the order given */
  size_t ntasks;
  size_t *order;               /* owned: task indexes in a topological order (upstream first,
                                  ties by position in the file) */
  json_t *json;                /* owned: the canonical form */
};

/*
 * Parses text (len bytes) as JSON if its first non-blank character is '{',
 * else as YAML, and validates it. *out is owned by the caller
 * (pipeline_spec_free). 400 naming the task or field, 413 over the caps.
 */
int pipeline_spec_parse(const char *text, size_t len, struct pipeline_spec **out, oast_err *e);

/* Validates an already parsed document (borrowed; the spec keeps its own canonical copy). */
int pipeline_spec_from_json(json_t *doc, struct pipeline_spec **out, oast_err *e);

void pipeline_spec_free(struct pipeline_spec *s);  /* accepts NULL */

/* Index of the task called name, or -1. */
long pipeline_spec_task_index(const struct pipeline_spec *s, const char *name);

/* Static names as in the JSON ("featuregroup_insert", "all_done"). */
const char *pipeline_task_type_name(enum pipeline_task_type t);
const char *pipeline_trigger_name(enum pipeline_trigger t);

#endif
