/* test_job_spec.c — job definitions: canonical form and refusals naming the job and field. */
#include <jansson.h>

#include "jobs/job_spec.h"
#include "test.h"

static int parse(const char *text, struct job_spec **s, oast_err *e) {
  json_t *j = json_loads(text, 0, NULL);
  ASSERT(j != NULL);
  oast_err_clear(e);
  int rc = job_spec_from_json(j, s, e);
  json_decref(j);
  return rc;
}

static void refused(const char *text, const char *msg, int line) {
  struct job_spec *s = NULL;
  oast_err e;
  int rc = parse(text, &s, &e);
  if (rc != OAST_EBAD_REQUEST || s || strcmp(e.msg, msg) != 0) {
    fprintf(stderr, "line %d: rc %d msg\n  \"%s\"\nwant 400 with\n  \"%s\"\n", line, rc, e.msg, msg);
    exit(1);
  }
}
#define REFUSED(text, msg) refused(text, msg, __LINE__)

TEST(job_spec_canonical_form) {
  struct job_spec *s = NULL;
  oast_err e;
  ASSERT_EQ(parse("{\"name\": \"etl\", \"type\": \"python\", \"program\": \"Resources//etl.py\","
                  " \"args\": [\"--day\", \"1\"], \"env\": {\"MODE\": \"full\"}, \"schedule\": \"@daily\","
                  " \"timeout_s\": 600}", &s, &e), 0);
  ASSERT_STREQ(s->name, "etl");
  ASSERT_EQ(s->type, JOB_PYTHON);
  ASSERT_STREQ(job_type_name(s->type), "python");
  ASSERT_STREQ(s->program, "Resources/etl.py");
  ASSERT_STREQ(s->schedule, "@daily");
  ASSERT_EQ(s->cron.hour, 1);
  ASSERT_EQ(s->timeout_s, 600);
  json_t *want = json_loads("{\"name\": \"etl\", \"type\": \"python\", \"program\": \"Resources/etl.py\","
                            " \"args\": [\"--day\", \"1\"], \"env\": {\"MODE\": \"full\"}, \"schedule\": \"@daily\","
                            " \"timeout_s\": 600}", 0, NULL);
  ASSERT(json_equal(s->json, want));
  json_decref(want);
  job_spec_free(s);

  ASSERT_EQ(parse("{\"name\": \"nb\", \"type\": \"notebook\", \"program\": \"Jupyter/a.ipynb\"}", &s, &e), 0);
  ASSERT(s->schedule == NULL);
  ASSERT_EQ(s->timeout_s, 0);
  ASSERT_EQ(json_array_size(json_object_get(s->json, "args")), 0);
  ASSERT(json_is_object(json_object_get(s->json, "env")));
  job_spec_free(s);
}

TEST(job_spec_refusals) {
  REFUSED("{\"type\": \"python\"}", "job: field \"name\" is required");
  REFUSED("{\"name\": \"9x\", \"type\": \"python\", \"program\": \"Resources/a.py\"}",
          "job name \"9x\" is not a valid name: it must start with a letter and contain only letters, digits and "
          "'_' (at most 63 characters)");
  REFUSED("{\"name\": \"j\", \"type\": \"java\", \"program\": \"Resources/a.py\"}",
          "job \"j\": field \"type\" must be one of \"python\", \"shell\", \"notebook\", \"binary\"");
  REFUSED("{\"name\": \"j\", \"type\": \"python\"}", "job \"j\": field \"program\" is required");
  REFUSED("{\"name\": \"j\", \"type\": \"python\", \"program\": \"/bin/sh\"}",
          "job \"j\": field \"program\": path must be relative, not absolute");
  REFUSED("{\"name\": \"j\", \"type\": \"python\", \"program\": \"a.py\"}",
          "job \"j\": field \"program\" must be a file inside a dataset, such as \"Resources/a.py\"");
  REFUSED("{\"name\": \"j\", \"type\": \"notebook\", \"program\": \"Jupyter/a.py\"}",
          "job \"j\": a notebook job's \"program\" must be an .ipynb file");
  REFUSED("{\"name\": \"j\", \"type\": \"shell\", \"program\": \"Resources/a.sh\", \"schedule\": \"* * * * 9\"}",
          "job \"j\": field \"schedule\": cron field 5 (day-of-week): 9 is out of range 0-7");
  REFUSED("{\"name\": \"j\", \"type\": \"shell\", \"program\": \"Resources/a.sh\", \"args\": [1]}",
          "job \"j\": item 1 of \"args\" must be a string without NUL of at most 4096 bytes");
  REFUSED("{\"name\": \"j\", \"type\": \"shell\", \"program\": \"Resources/a.sh\", \"env\": {\"OAST_TOKEN\": \"x\"}}",
          "job \"j\": env name \"OAST_TOKEN\" is reserved: the platform sets OAST_* variables");
  REFUSED("{\"name\": \"j\", \"type\": \"shell\", \"program\": \"Resources/a.sh\", \"env\": {\"A-B\": \"x\"}}",
          "job \"j\": env name \"A-B\" is not a valid variable name");
  REFUSED("{\"name\": \"j\", \"type\": \"shell\", \"program\": \"Resources/a.sh\", \"timeout_s\": 999999999}",
          "job \"j\": field \"timeout_s\" is 999999999; it must be between 1 and 604800");
  REFUSED("{\"name\": \"j\", \"type\": \"shell\", \"program\": \"Resources/a.sh\", \"cron\": \"@daily\"}",
          "job \"j\": unknown field \"cron\" (known: type, program, args, env, schedule, timeout_s, cpus, gpus, name)");
}
