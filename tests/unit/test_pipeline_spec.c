/* test_pipeline_spec.c — pipeline files: YAML = JSON, defaults, order, and every refusal naming its task. */
#include <jansson.h>

#include "jobs/pipeline_spec.h"
#include "test.h"
#include "util/buf.h"

static const char *yaml_text =
    "# the demo pipeline\n"
    "name: churn\n"
    "schedule: '0 3 * * MON-FRI'\n"
    "tasks:\n"
    "  - name: wait_raw\n"
    "    type: sensor\n"
    "    path: Resources//raw/_SUCCESS\n"
    "    poke_interval_s: 10\n"
    "  - name: ingest\n"
    "    type: featuregroup_insert\n"
    "    depends_on: [wait_raw]\n"
    "    featuregroup: customers\n"
    "    version: 1\n"
    "    path: Resources/raw/customers.csv\n"
    "    retries: 2\n"
    "    retry_delay_s: 10\n"
    "  - name: td\n"
    "    type: trainingdata\n"
    "    depends_on: [ingest]\n"
    "    featureview: churn_fv\n"
    "    format: parquet\n"
    "    splits: {train: 0.8, test: 0.2}\n"
    "  - name: train\n"
    "    type: experiment\n"
    "    depends_on: [td]\n"
    "    timeout_s: 3600\n"
    "    experiment:\n"
    "      name: churn_hpo\n"
    "      command: [python3, Resources/train.py]\n"
    "      num_trials: 4\n"
    "      searchspace:\n"
    "        lr: {type: double, min: 0.001, max: 0.1, log: true}\n"
    "  - name: register\n"
    "    type: register_best_model\n"
    "    depends_on: [train]\n"
    "    experiment: train\n"
    "    model: churn_model\n"
    "    metric: auc\n"
    "    direction: max\n"
    "  - name: serve\n"
    "    type: deploy\n"
    "    depends_on: [register]\n"
    "    model: churn_model\n"
    "    deployment: churn\n"
    "    start: true\n"
    "  - name: report\n"
    "    type: job\n"
    "    depends_on: [serve, train]\n"
    "    trigger_rule: all_done\n"
    "    job: report_job\n"
    "    args: [--verbose]\n"
    "  - name: alert\n"
    "    type: job\n"
    "    depends_on: [ingest, td, train]\n"
    "    trigger_rule: one_failed\n"
    "    job: alert_job\n";

static const char *json_text =
    "{\"name\": \"churn\", \"schedule\": \"0 3 * * MON-FRI\", \"tasks\": ["
    "{\"name\": \"wait_raw\", \"type\": \"sensor\", \"path\": \"Resources/raw/_SUCCESS\", \"poke_interval_s\": 10},"
    "{\"name\": \"ingest\", \"type\": \"featuregroup_insert\", \"depends_on\": [\"wait_raw\"],"
    " \"featuregroup\": \"customers\", \"version\": 1, \"path\": \"Resources/raw/customers.csv\","
    " \"retries\": 2, \"retry_delay_s\": 10},"
    "{\"name\": \"td\", \"type\": \"trainingdata\", \"depends_on\": [\"ingest\"], \"featureview\": \"churn_fv\","
    " \"format\": \"parquet\", \"splits\": {\"train\": 0.8, \"test\": 0.2}},"
    "{\"name\": \"train\", \"type\": \"experiment\", \"depends_on\": [\"td\"], \"timeout_s\": 3600,"
    " \"experiment\": {\"name\": \"churn_hpo\", \"command\": [\"python3\", \"Resources/train.py\"],"
    " \"num_trials\": 4, \"searchspace\": {\"lr\": {\"type\": \"double\", \"min\": 0.001, \"max\": 0.1,"
    " \"log\": true}}}},"
    "{\"name\": \"register\", \"type\": \"register_best_model\", \"depends_on\": [\"train\"],"
    " \"experiment\": \"train\", \"model\": \"churn_model\", \"metric\": \"auc\", \"direction\": \"max\"},"
    "{\"name\": \"serve\", \"type\": \"deploy\", \"depends_on\": [\"register\"], \"model\": \"churn_model\","
    " \"deployment\": \"churn\", \"start\": true},"
    "{\"name\": \"report\", \"type\": \"job\", \"depends_on\": [\"serve\", \"train\"],"
    " \"trigger_rule\": \"all_done\", \"job\": \"report_job\", \"args\": [\"--verbose\"]},"
    "{\"name\": \"alert\", \"type\": \"job\", \"depends_on\": [\"ingest\", \"td\", \"train\"],"
    " \"trigger_rule\": \"one_failed\", \"job\": \"alert_job\"}]}";

static struct pipeline_spec *parse_ok(const char *text) {
  struct pipeline_spec *s = NULL;
  oast_err e;
  oast_err_clear(&e);
  if (pipeline_spec_parse(text, strlen(text), &s, &e)) {
    fprintf(stderr, "parse failed: %s\n", e.msg);
    exit(1);
  }
  return s;
}

static void refused(const char *text, const char *msg, int line) {
  struct pipeline_spec *s = (struct pipeline_spec *)1;
  oast_err e;
  oast_err_clear(&e);
  int rc = pipeline_spec_parse(text, strlen(text), &s, &e);
  if (rc != OAST_EBAD_REQUEST || s != NULL || strcmp(e.msg, msg) != 0) {
    fprintf(stderr, "line %d: rc %d msg\n  \"%s\"\nwant 400 with\n  \"%s\"\n", line, rc, e.msg, msg);
    exit(1);
  }
}
#define REFUSED(text, msg) refused(text, msg, __LINE__)

/* A JSON pipeline with the given tasks array body. */
static char *with_tasks(const char *tasks) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "{\"name\": \"p\", \"tasks\": [%s]}", tasks);
  return buf;
}

TEST(pipeline_yaml_and_json_give_the_same_spec) {
  struct pipeline_spec *y = parse_ok(yaml_text), *j = parse_ok(json_text);
  if (!json_equal(y->json, j->json)) {
    char *a = json_dumps(y->json, JSON_SORT_KEYS), *b = json_dumps(j->json, JSON_SORT_KEYS);
    fprintf(stderr, "yaml %s\njson %s\n", a, b);
    exit(1);
  }
  ASSERT_STREQ(y->name, "churn");
  ASSERT_STREQ(y->schedule, "0 3 * * MON-FRI");
  ASSERT(y->cron.dow == 0x3e);
  ASSERT_EQ(y->ntasks, 8);
  ASSERT_EQ(pipeline_spec_task_index(y, "register"), 4);
  ASSERT_EQ(pipeline_spec_task_index(y, "nope"), -1);
  ASSERT_EQ(y->tasks[1].type, PTASK_FEATUREGROUP_INSERT);
  ASSERT_EQ(y->tasks[6].trigger, TRIGGER_ALL_DONE);
  ASSERT_EQ(y->tasks[7].trigger, TRIGGER_ONE_FAILED);
  ASSERT_EQ(y->tasks[7].ndeps, 3);
  ASSERT_EQ(y->tasks[7].deps[2], 3);
  ASSERT_EQ(y->tasks[3].nchildren, 3);  /* train -> register, report, alert */
  ASSERT_EQ(y->tasks[3].children[0], 4);
  ASSERT_EQ(y->tasks[3].children[2], 7);
  ASSERT_STREQ(pipeline_task_type_name(y->tasks[4].type), "register_best_model");
  ASSERT_STREQ(pipeline_trigger_name(y->tasks[7].trigger), "one_failed");
  pipeline_spec_free(y);
  pipeline_spec_free(j);
}

TEST(pipeline_defaults_are_filled_in) {
  struct pipeline_spec *s = parse_ok(yaml_text);
  const struct pipeline_task *wait = &s->tasks[0], *ingest = &s->tasks[1], *train = &s->tasks[3];
  ASSERT_STREQ(json_string_value(json_object_get(wait->json, "path")), "Resources/raw/_SUCCESS");
  ASSERT_EQ(wait->timeout_s, PIPELINE_DEFAULT_SENSOR_TIMEOUT_S);
  ASSERT_EQ(json_integer_value(json_object_get(wait->json, "timeout_s")), PIPELINE_DEFAULT_SENSOR_TIMEOUT_S);
  ASSERT_EQ(json_integer_value(json_object_get(wait->json, "poke_interval_s")), 10);
  ASSERT_EQ(wait->retries, 0);
  ASSERT_EQ(wait->retry_delay_s, PIPELINE_DEFAULT_RETRY_DELAY_S);
  ASSERT_EQ(wait->max_retry_delay_s, PIPELINE_DEFAULT_MAX_RETRY_DELAY_S);
  ASSERT_EQ(wait->trigger, TRIGGER_ALL_SUCCESS);
  ASSERT_STREQ(json_string_value(json_object_get(wait->json, "trigger_rule")), "all_success");
  ASSERT(json_is_array(json_object_get(wait->json, "depends_on")));
  ASSERT_EQ(ingest->retries, 2);
  ASSERT_EQ(ingest->retry_delay_s, 10);
  ASSERT_EQ(ingest->timeout_s, 0);
  ASSERT(json_object_get(ingest->json, "timeout_s") == NULL);
  ASSERT_EQ(train->timeout_s, 3600);
  ASSERT_EQ(json_integer_value(json_object_get(json_object_get(train->json, "experiment"), "num_trials")), 4);
  pipeline_spec_free(s);

  s = parse_ok(with_tasks("{\"name\": \"w\", \"type\": \"sensor\", \"path\": \"Logs/x\", \"retry_delay_s\": 7200}"));
  ASSERT_EQ(json_integer_value(json_object_get(s->tasks[0].json, "poke_interval_s")), PIPELINE_DEFAULT_POKE_INTERVAL_S);
  ASSERT_EQ(s->tasks[0].max_retry_delay_s, 7200);  /* never below retry_delay_s */
  ASSERT(s->schedule == NULL);
  pipeline_spec_free(s);
}

TEST(pipeline_order_is_topological_and_stable) {
  struct pipeline_spec *s = parse_ok(with_tasks(
      "{\"name\": \"d\", \"type\": \"job\", \"job\": \"j\", \"depends_on\": [\"b\", \"c\"]},"
      "{\"name\": \"c\", \"type\": \"job\", \"job\": \"j\", \"depends_on\": [\"a\"]},"
      "{\"name\": \"b\", \"type\": \"job\", \"job\": \"j\", \"depends_on\": [\"a\"]},"
      "{\"name\": \"a\", \"type\": \"job\", \"job\": \"j\"},"
      "{\"name\": \"z\", \"type\": \"job\", \"job\": \"j\"}"));
  /* a and z are free: a (index 3) first; then c (1) before b (2) by position; d; z. */
  size_t want[] = {3, 1, 2, 0, 4};
  for (size_t i = 0; i < 5; i++) ASSERT_EQ(s->order[i], want[i]);
  pipeline_spec_free(s);
}

TEST(pipeline_cycles_are_named) {
  REFUSED(with_tasks("{\"name\": \"a\", \"type\": \"job\", \"job\": \"j\", \"depends_on\": [\"c\"]},"
                     "{\"name\": \"b\", \"type\": \"job\", \"job\": \"j\", \"depends_on\": [\"a\"]},"
                     "{\"name\": \"c\", \"type\": \"job\", \"job\": \"j\", \"depends_on\": [\"b\"]}"),
          "task \"a\": depends_on forms a cycle: a -> c -> b -> a (each task depends on the next)");
  /* A cycle behind a free task and a task that only hangs off the cycle. */
  REFUSED(with_tasks("{\"name\": \"root\", \"type\": \"job\", \"job\": \"j\"},"
                     "{\"name\": \"tail\", \"type\": \"job\", \"job\": \"j\", \"depends_on\": [\"y\"]},"
                     "{\"name\": \"x\", \"type\": \"job\", \"job\": \"j\", \"depends_on\": [\"root\", \"y\"]},"
                     "{\"name\": \"y\", \"type\": \"job\", \"job\": \"j\", \"depends_on\": [\"x\"]}"),
          "task \"x\": depends_on forms a cycle: x -> y -> x (each task depends on the next)");
  REFUSED(with_tasks("{\"name\": \"a\", \"type\": \"job\", \"job\": \"j\", \"depends_on\": [\"a\"]}"),
          "task \"a\": depends_on names the task itself");
}

TEST(pipeline_dependency_errors_name_the_task) {
  REFUSED(with_tasks("{\"name\": \"prep\", \"type\": \"job\", \"job\": \"j\"},"
                     "{\"name\": \"train\", \"type\": \"job\", \"job\": \"j\", \"depends_on\": [\"prepp\"]}"),
          "task \"train\": depends_on names unknown task \"prepp\"");
  REFUSED(with_tasks("{\"name\": \"a\", \"type\": \"job\", \"job\": \"j\"},"
                     "{\"name\": \"b\", \"type\": \"job\", \"job\": \"j\", \"depends_on\": [\"a\", \"a\"]}"),
          "task \"b\": depends_on lists \"a\" twice");
  REFUSED(with_tasks("{\"name\": \"b\", \"type\": \"job\", \"job\": \"j\", \"depends_on\": \"a\"}"),
          "task \"b\": field \"depends_on\" must be an array of task names");
  REFUSED(with_tasks("{\"name\": \"a\", \"type\": \"job\", \"job\": \"j\"},"
                     "{\"name\": \"a\", \"type\": \"job\", \"job\": \"k\"}"),
          "task \"a\": the name is used by task #1 and task #2");
  REFUSED(with_tasks("{\"name\": \"a\", \"type\": \"job\", \"job\": \"j\", \"trigger_rule\": \"one_failed\"}"),
          "task \"a\": trigger_rule one_failed needs depends_on: it runs when an upstream task fails");
}

TEST(pipeline_field_errors_name_the_task) {
  REFUSED(with_tasks("{\"name\": \"x\", \"type\": \"spark\"}"),
          "task \"x\": unknown task type \"spark\" (known: job, sensor, featuregroup_insert, trainingdata, "
          "experiment, register_best_model, deploy)");
  REFUSED(with_tasks("{\"name\": \"x\", \"type\": \"job\"}"), "task \"x\": field \"job\" is required");
  REFUSED(with_tasks("{\"name\": \"x\", \"type\": \"sensor\"}"), "task \"x\": field \"path\" is required");
  REFUSED(with_tasks("{\"name\": \"x\", \"type\": \"sensor\", \"path\": \"../etc/passwd\"}"),
          "task \"x\": field \"path\": path must not contain \".\" or \"..\" components");
  REFUSED(with_tasks("{\"type\": \"job\", \"job\": \"j\"}"), "task #1: field \"name\" is required");
  REFUSED(with_tasks("{\"name\": \"a b\", \"type\": \"job\", \"job\": \"j\"}"),
          "task #1: \"a b\" is not a valid task name (a letter, then letters, digits or '_', at most 63)");
  REFUSED(with_tasks("{\"name\": \"x\", \"type\": \"job\", \"job\": \"j\", \"retries\": 21}"),
          "task \"x\": field \"retries\" is 21; it must be between 0 and 20");
  REFUSED(with_tasks("{\"name\": \"x\", \"type\": \"job\", \"job\": \"j\", \"retries\": 1.5}"),
          "task \"x\": field \"retries\" must be an integer");
  REFUSED(with_tasks("{\"name\": \"x\", \"type\": \"job\", \"job\": \"j\", \"timeout_s\": 0}"),
          "task \"x\": field \"timeout_s\" is 0; it must be between 1 and 604800");
  REFUSED(with_tasks("{\"name\": \"x\", \"type\": \"job\", \"job\": \"j\", \"retry_delay_s\": 60,"
                     " \"max_retry_delay_s\": 30}"),
          "task \"x\": max_retry_delay_s (30) is smaller than retry_delay_s (60)");
  REFUSED(with_tasks("{\"name\": \"x\", \"type\": \"job\", \"job\": \"j\", \"trigger_rule\": \"any\"}"),
          "task \"x\": field \"trigger_rule\" must be one of \"all_success\", \"all_done\", \"one_failed\"");
  REFUSED(with_tasks("{\"name\": \"x\", \"type\": \"job\", \"job\": \"j\", \"depend_on\": []}"),
          "task \"x\": unknown field \"depend_on\" (known: trigger_rule, retries, retry_delay_s, "
          "max_retry_delay_s, timeout_s, job, args, name, type, depends_on)");
  REFUSED(with_tasks("{\"name\": \"x\", \"type\": \"trainingdata\", \"featureview\": \"fv\","
                     " \"splits\": {\"train\": 0.8, \"test\": 0.3}}"),
          "task \"x\": the fractions of \"splits\" add up to 1.1, not 1");
  REFUSED(with_tasks("{\"name\": \"x\", \"type\": \"trainingdata\", \"featureview\": \"fv\", \"format\": \"xls\"}"),
          "task \"x\": field \"format\" must be one of \"csv\", \"tfrecord\", \"npy\", \"hdf5\", \"parquet\"");
  REFUSED(with_tasks("{\"name\": \"x\", \"type\": \"experiment\", \"experiment\": \"hpo\"}"),
          "task \"x\": field \"experiment\" must be an object");
  REFUSED(with_tasks("{\"name\": \"x\", \"type\": \"deploy\", \"model\": \"m\"}"),
          "task \"x\": field \"deployment\" is required");
  REFUSED(with_tasks("{\"name\": \"x\", \"type\": \"featuregroup_insert\", \"featuregroup\": \"fg\","
                     " \"path\": \"Resources/a.csv\", \"version\": 0}"),
          "task \"x\": field \"version\" is 0; it must be between 1 and 2147483647");
}

TEST(pipeline_register_best_model_references) {
  const char *exp = "{\"name\": \"hpo\", \"type\": \"experiment\", \"experiment\": {\"name\": \"e\"}},";
  char buf[2048];
  snprintf(buf, sizeof buf, "%s{\"name\": \"reg\", \"type\": \"register_best_model\", \"experiment\": \"hpo\","
           " \"model\": \"m\", \"metric\": \"auc\"}", exp);
  REFUSED(with_tasks(buf), "task \"reg\": experiment task \"hpo\" must run before this one: list it in depends_on");
  snprintf(buf, sizeof buf, "%s{\"name\": \"reg\", \"type\": \"register_best_model\", \"experiment\": \"hpoo\","
           " \"depends_on\": [\"hpo\"], \"model\": \"m\", \"metric\": \"auc\"}", exp);
  REFUSED(with_tasks(buf), "task \"reg\": field \"experiment\" names unknown task \"hpoo\" (use \"experiment_id\" "
                           "for an existing experiment)");
  snprintf(buf, sizeof buf, "{\"name\": \"j\", \"type\": \"job\", \"job\": \"j\"}, {\"name\": \"reg\", \"type\":"
           " \"register_best_model\", \"experiment\": \"j\", \"depends_on\": [\"j\"], \"model\": \"m\", \"metric\":"
           " \"auc\"}");
  REFUSED(with_tasks(buf), "task \"reg\": field \"experiment\" names task \"j\", which is a job task, not an "
                           "experiment");
  REFUSED(with_tasks("{\"name\": \"reg\", \"type\": \"register_best_model\", \"model\": \"m\", \"metric\": \"auc\"}"),
          "task \"reg\": give exactly one of \"experiment\" (an experiment task of this pipeline) or "
          "\"experiment_id\" (an existing experiment)");
  /* Upstream through another task is enough; an existing experiment needs no task. */
  snprintf(buf, sizeof buf, "%s{\"name\": \"mid\", \"type\": \"job\", \"job\": \"j\", \"depends_on\": [\"hpo\"]},"
           "{\"name\": \"reg\", \"type\": \"register_best_model\", \"experiment\": \"hpo\", \"depends_on\": [\"mid\"],"
           " \"model\": \"m\", \"metric\": \"auc\"}", exp);
  pipeline_spec_free(parse_ok(with_tasks(buf)));
  pipeline_spec_free(parse_ok(with_tasks("{\"name\": \"reg\", \"type\": \"register_best_model\", \"experiment_id\": 12,"
                                         " \"model\": \"m\", \"metric\": \"auc\", \"direction\": \"min\"}")));
}

TEST(pipeline_top_level_errors) {
  REFUSED("{\"name\": \"p\", \"schedule\": \"0 25 * * *\", \"tasks\": [{\"name\": \"a\", \"type\": \"job\","
          " \"job\": \"j\"}]}",
          "field \"schedule\": cron field 2 (hour): 25 is out of range 0-23");
  REFUSED("{\"name\": \"p\", \"tasks\": []}", "pipeline \"p\" has no tasks");
  REFUSED("{\"name\": \"p\"}", "field \"tasks\" is required");
  REFUSED("{\"name\": \"p-1\", \"tasks\": []}",
          "pipeline name \"p-1\" is not a valid name: it must start with a letter and contain only letters, "
          "digits and '_' (at most 63 characters)");
  REFUSED("{\"name\": \"p\", \"task\": []}", "pipeline: unknown field \"task\"");
  REFUSED("{\"name\": \"p\", \"tasks\": [1]}", "task #1: a task must be an object with \"name\" and \"type\"");
  REFUSED("- a\n- b\n", "a pipeline must be an object with \"name\" and \"tasks\"");
  REFUSED("{\"name\": \"p\",", "malformed JSON at line 1, column 13: string or '}' expected near end of file");
  REFUSED("name: p\ntasks: [\n", "YAML line 3, column 1: did not find expected node content (while parsing a flow "
                                 "node)");
  REFUSED("name: p\nschedule: '*/0 * * * *'\ntasks:\n  - {name: a, type: job, job: j}\n",
          "field \"schedule\": cron field 1 (minute): step 0 is out of range 1-60");
  struct buf b;
  buf_init(&b, 0);
  buf_puts(&b, "{\"name\": \"p\", \"tasks\": [");
  for (int i = 0; i <= PIPELINE_MAX_TASKS; i++) buf_printf(&b, "%s{\"name\": \"t%d\", \"type\": \"job\", \"job\": \"j\"}", i ? "," : "", i);
  buf_puts(&b, "]}");
  REFUSED(buf_cstr(&b), "pipeline \"p\" has 4097 tasks; at most 4096 are allowed");
  buf_release(&b);
}
