/*
 * trial.c — the C reporter of experiment trials (see oast/trial.h).
 *
 * A trial is one process, so the reporter keeps one lazily created
 * client (the address and token from the environment) behind a mutex,
 * reusing its connection for every report. The parameters are parsed
 * once. This is process state of a trial program, not server state.
 */
#include "oast/trial.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_json.h"
#include "oast/client.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static oast_client *client;
static json_t *params;

int oast_trial_active(void) {
  const char *id = getenv("OAST_TRIAL_ID"), *tok = getenv("OAST_TRIAL_TOKEN");
  return id && *id && tok && *tok;
}

const char *oast_trial_params(void) {
  const char *p = getenv("OAST_PARAMS");
  return p && *p ? p : "{}";
}

/* The parsed parameters (borrowed), {} when unset or malformed. */
static json_t *param(const char *name) {
  pthread_mutex_lock(&mu);
  if (!params) {
    params = json_loads(oast_trial_params(), 0, NULL);
    if (!json_is_object(params)) {
      json_decref(params);
      params = json_object();
    }
  }
  json_t *v = json_object_get(params, name);
  pthread_mutex_unlock(&mu);
  return v;
}

double oast_trial_param_double(const char *name, double dflt) {
  json_t *v = param(name);
  return json_is_number(v) ? json_number_value(v) : dflt;
}

long long oast_trial_param_int(const char *name, long long dflt) {
  json_t *v = param(name);
  if (json_is_integer(v)) return json_integer_value(v);
  if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) && fabs(json_real_value(v)) < 9e18)
    return (long long)json_real_value(v);
  return dflt;
}

const char *oast_trial_param_str(const char *name, char *buf, size_t len) {
  json_t *v = param(name);
  if (!json_is_string(v) || !len) return NULL;
  snprintf(buf, len, "%s", json_string_value(v));
  return buf;
}

/* POSTs body (stolen) to /trials/ID/WHAT; *out (may be NULL) gets the answer. */
static int call(const char *what, json_t *body, json_t **out, oast_err *e) {
  oast_err local;
  if (!e) e = &local;
  if (out) *out = NULL;
  if (!oast_trial_active()) {
    json_decref(body);
    return 0;
  }
  pthread_mutex_lock(&mu);
  if (!client) client = oast_client_new(getenv("OAST_ADDR"), getenv("OAST_TRIAL_TOKEN"));
  int rc;
  if (!client) {
    rc = oast_err_set(e, OAST_EINTERNAL, "cannot create an HTTP client");
  } else {
    char *id = oast_escape(getenv("OAST_TRIAL_ID"), 0);
    char path[256];
    snprintf(path, sizeof path, "/trials/%s/%s", id, what);
    free(id);
    rc = client_request_json(client, "POST", path, body, NULL, out, e);
  }
  pthread_mutex_unlock(&mu);
  json_decref(body);
  return rc;
}

static json_t *number(double v) { return isfinite(v) ? json_real(v) : json_null(); }

int oast_trial_report(double metric, int64_t step, int *stop, oast_err *e) {
  if (stop) *stop = 0;
  json_t *body = json_pack("{s:o}", "metric", number(metric));
  if (step >= 0) json_object_set_new(body, "step", json_integer(step));
  if (!isfinite(metric)) json_object_set_new(body, "log", json_string("(a report without a finite metric)"));
  json_t *out = NULL;
  int rc = call("report", body, &out, e);
  if (!rc && stop) *stop = json_is_true(json_object_get(out, "stop"));
  json_decref(out);
  return rc;
}

int oast_trial_log(const char *text, oast_err *e) {
  return call("report", json_pack("{s:s}", "log", text ? text : ""), NULL, e);
}

int oast_trial_final(double metric, oast_err *e) {
  if (!isfinite(metric)) return call("final", json_pack("{s:{}}", "outputs"), NULL, e);
  return call("final", json_pack("{s:f}", "metric", metric), NULL, e);
}

int oast_trial_final_outputs(const char *outputs_json, oast_err *e) {
  json_error_t je;
  json_t *o = json_loads(outputs_json ? outputs_json : "", 0, &je);
  if (!json_is_object(o)) {
    json_decref(o);
    return oast_err_set(e, OAST_EBAD_REQUEST, "outputs: must be a JSON object");
  }
  return call("final", json_pack("{s:o}", "outputs", o), NULL, e);
}
