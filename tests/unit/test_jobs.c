/*
 * test_jobs.c — the jobs service's pieces that need no processes: the
 * cron tick against a real database with an injected clock (fires once
 * per scheduled minute, never twice, once after downtime, and not again
 * after a restart), notebooks to Python, and the pipeline's notify field.
 */
#include <string.h>
#include <unistd.h>

#include "http/server.h"
#include "jobs/notebook.h"
#include "jobs/pipeline_spec.h"
#include "jobs/service.h"
#include "meta/meta.h"
#include "test.h"
#include "util/alloc.h"

/* An hour boundary, so "* * * * *" is due exactly at T0 + 60k and "*\/5 * * * *" at T0 + 300k. */
#define T0 ((int64_t)1700000000 - 1700000000 % 3600)

static void open_server(struct server *s) {
  memset(s, 0, sizeof *s);
  server_config_defaults(&s->cfg);
  free(s->cfg.home);
  s->cfg.home = xstrdup(test_tmpdir());
  oast_err e;
  int rc = server_init(s, &e);
  if (rc) fprintf(stderr, "server_init: %s\n", e.msg);
  ASSERT_EQ(rc, 0);
}

static void close_server(struct server *s) {
  server_release(s);
  server_config_release(&s->cfg);
}

static int64_t count(struct server *s, const char *sql) {
  sqlite3_stmt *st = meta_stmt(s->meta, sql);
  ASSERT(st);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return n;
}

static void exec_sql(struct server *s, const char *sql) {
  char *err = NULL;
  int rc = sqlite3_exec(meta_db(s->meta), sql, NULL, NULL, &err);
  if (rc != SQLITE_OK) fprintf(stderr, "%s: %s\n", sql, err ? err : "?");
  ASSERT_EQ(rc, SQLITE_OK);
}

static int tick(struct server *s, int64_t now) {
  oast_err e;
  int n = jobs_cron_tick(s, now, &e);
  ASSERT(n >= 0);
  return n;
}

static void add_schedules(struct server *s) {
  char sql[1024];
  exec_sql(s, "INSERT INTO projects(name, owner_id, created) VALUES ('p', 1, 0)");
  snprintf(sql, sizeof sql,
           "INSERT INTO jobs(project_id, name, spec, owner_id, schedule, sched_last, created, updated) VALUES "
           "(1, 'every', '{\"name\":\"every\",\"type\":\"shell\",\"program\":\"Resources/a.sh\",\"args\":[\"x\"],"
           "\"env\":{}}', 1, '* * * * *', %lld, 0, 0)",
           (long long)T0);
  exec_sql(s, sql);
  snprintf(sql, sizeof sql,
           "INSERT INTO pipelines(project_id, name, spec, owner_id, schedule, sched_last, created, updated) VALUES "
           "(1, 'five', '{\"name\":\"five\",\"schedule\":\"*/5 * * * *\",\"tasks\":[{\"name\":\"a\",\"type\":\"sensor\","
           "\"path\":\"Resources/x\"},{\"name\":\"b\",\"type\":\"sensor\",\"path\":\"Resources/y\"}]}', 1, "
           "'*/5 * * * *', %lld, 0, 0)",
           (long long)T0);
  exec_sql(s, sql);
  jobs_schedules_changed(s);
}

TEST(cron_tick_fires_each_minute_once) {
  struct server s;
  open_server(&s);
  add_schedules(&s);
  ASSERT_EQ(tick(&s, T0 + 30), 0);
  ASSERT_EQ(tick(&s, T0 + 60), 1);
  ASSERT_EQ(count(&s, "SELECT count(*) FROM job_runs"), 1);
  ASSERT_EQ(count(&s, "SELECT scheduled_for FROM job_runs"), T0 + 60);
  ASSERT_EQ(count(&s, "SELECT sched_last FROM jobs"), T0 + 60);
  ASSERT_EQ(count(&s, "SELECT count(*) FROM job_runs WHERE state = 'queued' AND trigger = 'schedule' AND "
                      "args = '[\"x\"]'"), 1);
  /* The same minute read again, and the rest of it: nothing. */
  ASSERT_EQ(tick(&s, T0 + 60), 0);
  ASSERT_EQ(tick(&s, T0 + 119), 0);
  ASSERT_EQ(tick(&s, T0 + 120), 1);
  ASSERT_EQ(count(&s, "SELECT count(*) FROM job_runs"), 2);
  /* A clock that goes back never fires a minute again. */
  ASSERT_EQ(tick(&s, T0 + 61), 0);
  ASSERT_EQ(count(&s, "SELECT count(*) FROM job_runs"), 2);
  close_server(&s);
}

TEST(cron_tick_catches_up_once_and_survives_restart) {
  struct server s;
  open_server(&s);
  add_schedules(&s);
  /* Down for ten minutes: one run for the latest missed minute, one for the pipeline. */
  ASSERT_EQ(tick(&s, T0 + 600 + 10), 2);
  ASSERT_EQ(count(&s, "SELECT count(*) FROM job_runs"), 1);
  ASSERT_EQ(count(&s, "SELECT scheduled_for FROM job_runs"), T0 + 600);
  ASSERT_EQ(count(&s, "SELECT count(*) FROM pipeline_runs WHERE state = 'running' AND trigger = 'schedule'"), 1);
  ASSERT_EQ(count(&s, "SELECT scheduled_for FROM pipeline_runs"), T0 + 600);
  ASSERT_EQ(count(&s, "SELECT count(*) FROM task_runs WHERE state = 'pending'"), 2);
  close_server(&s);

  /* A restart within the same minute fires nothing: the watermark is in the database. */
  open_server(&s);
  ASSERT_EQ(tick(&s, T0 + 600 + 20), 0);
  ASSERT_EQ(tick(&s, T0 + 660), 1);
  ASSERT_EQ(count(&s, "SELECT count(*) FROM job_runs"), 2);
  ASSERT_EQ(count(&s, "SELECT count(*) FROM pipeline_runs"), 1);
  close_server(&s);
}

TEST(cron_tick_follows_schedule_changes) {
  struct server s;
  open_server(&s);
  add_schedules(&s);
  ASSERT_EQ(tick(&s, T0 + 60), 1);
  /* The schedule is removed: nothing fires any more. */
  exec_sql(&s, "UPDATE jobs SET schedule = NULL");
  jobs_schedules_changed(&s);
  ASSERT_EQ(tick(&s, T0 + 180), 0);
  /* A new schedule counts from its watermark (set when it was set). */
  char sql[256];
  snprintf(sql, sizeof sql, "UPDATE jobs SET schedule = '0 * * * *', sched_last = %lld", (long long)(T0 + 180));
  exec_sql(&s, sql);
  jobs_schedules_changed(&s);
  ASSERT_EQ(tick(&s, T0 + 240), 0);
  ASSERT_EQ(tick(&s, T0 + 3600), 2); /* the job's hour and the pipeline's fifth minute */
  ASSERT_EQ(count(&s, "SELECT count(*) FROM job_runs"), 2);
  ASSERT_EQ(count(&s, "SELECT max(scheduled_for) FROM job_runs"), T0 + 3600);
  close_server(&s);
}

static char *nb(const char *text, int *rc, char *msg) {
  char *out = NULL;
  size_t len = 0;
  oast_err e;
  oast_err_clear(&e);
  *rc = notebook_to_python(text, strlen(text), &out, &len, &e);
  strcpy(msg, e.msg);
  if (out) ASSERT_EQ(len, strlen(out));
  return out;
}

TEST(notebook_code_cells_in_order) {
  int rc;
  char msg[OAST_ERRMSG_MAX];
  char *py = nb("{\"nbformat\": 4, \"cells\": ["
                "{\"cell_type\": \"markdown\", \"source\": [\"# Title\"]},"
                "{\"cell_type\": \"code\", \"source\": [\"import sys\\n\", \"x = 1\"], \"outputs\": []},"
                "{\"cell_type\": \"code\", \"source\": \"%matplotlib inline\\n  !pip install x\\nprint(x)\"},"
                "{\"cell_type\": \"code\", \"source\": \"%%bash\\necho hi\"},"
                "{\"cell_type\": \"raw\", \"source\": \"not code\"}]}",
                &rc, msg);
  ASSERT_EQ(rc, 0);
  ASSERT_STREQ(py, "# Generated by Oast from the code cells of a notebook.\n"
                   "\n# cell 1\nimport sys\nx = 1\n"
                   "\n# cell 2\n# %matplotlib inline\n#   !pip install x\nprint(x)\n"
                   "\n# cell 3\n# %%bash\n# echo hi\n");
  free(py);
}

TEST(notebook_errors_say_what_is_wrong) {
  int rc;
  char msg[OAST_ERRMSG_MAX];
  ASSERT(!nb("{\"cells\": 3}", &rc, msg));
  ASSERT_EQ(rc, OAST_EBAD_REQUEST);
  ASSERT_STREQ(msg, "the notebook has no \"cells\" list");
  ASSERT(!nb("{\"nbformat\": 3, \"worksheets\": []}", &rc, msg));
  ASSERT_STREQ(msg, "the notebook is in nbformat 3; save it as nbformat 4");
  ASSERT(!nb("{\"cells\": [{\"cell_type\": \"code\", \"source\": [\"a\", 7]}]}", &rc, msg));
  ASSERT_STREQ(msg, "cell 1: item 2 of \"source\" is not a string");
  ASSERT(!nb("{\"cells\": [{\"source\": \"a\"}]}", &rc, msg));
  ASSERT_STREQ(msg, "cell 1 of the notebook has no \"cell_type\"");
  ASSERT(!nb("[1]", &rc, msg));
  ASSERT_STREQ(msg, "the notebook is not a JSON object");
  ASSERT(!nb("{\"cells\": [", &rc, msg));
  ASSERT_EQ(rc, OAST_EBAD_REQUEST);
  ASSERT(strstr(msg, "not valid JSON: line 1"));
}

static int parse(const char *text, struct pipeline_spec **p, char *msg) {
  oast_err e;
  oast_err_clear(&e);
  int rc = pipeline_spec_parse(text, strlen(text), p, &e);
  strcpy(msg, e.msg);
  return rc;
}

TEST(pipeline_notify_webhook) {
  struct pipeline_spec *p = NULL;
  char msg[OAST_ERRMSG_MAX];
  ASSERT_EQ(parse("name: p\nnotify: {webhook: 'http://127.0.0.1:9/hook'}\ntasks: [{name: a, type: sensor, path: R/x}]\n",
                  &p, msg),
            0);
  ASSERT_STREQ(p->webhook, "http://127.0.0.1:9/hook");
  pipeline_spec_free(p);
  ASSERT_EQ(parse("name: p\ntasks: [{name: a, type: sensor, path: R/x}]\n", &p, msg), 0);
  ASSERT(p->webhook == NULL);
  pipeline_spec_free(p);
  ASSERT_EQ(parse("name: p\nnotify: {webhook: 'ftp://x/y'}\ntasks: [{name: a, type: sensor, path: R/x}]\n", &p, msg),
            OAST_EBAD_REQUEST);
  ASSERT_STREQ(msg, "notify: field \"webhook\" must be an http:// or https:// URL of at most 2048 characters without spaces");
  ASSERT_EQ(parse("name: p\nnotify: {email: a@b}\ntasks: [{name: a, type: sensor, path: R/x}]\n", &p, msg),
            OAST_EBAD_REQUEST);
  ASSERT(strstr(msg, "notify: ") && strstr(msg, "email"));
  ASSERT_EQ(parse("name: p\nnotify: http://x\ntasks: [{name: a, type: sensor, path: R/x}]\n", &p, msg),
            OAST_EBAD_REQUEST);
  ASSERT_STREQ(msg, "field \"notify\" must be an object such as {\"webhook\": URL}");
}

TEST(proc_start_is_field_22_of_proc_stat) {
  FILE *f = fopen("/proc/self/stat", "r");
  ASSERT(f);
  char buf[1024];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')') + 2; /* field 3 */
  for (int field = 3; field < 22; field++) p = strchr(p, ' ') + 1;
  ASSERT_EQ(jobs_proc_start(getpid()), strtoll(p, NULL, 10));
  ASSERT(jobs_proc_start(getpid()) > 0);
  ASSERT_EQ(jobs_proc_start(0), 0);
}
