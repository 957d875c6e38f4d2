/*
 * xgb.c — native XGBoost inference through libxgboost's C API.
 *
 * A model is loaded once per deployment (XGBoosterLoadModel reads JSON,
 * UBJSON or the legacy binary format by the file's extension) and is
 * limited to one OpenMP thread: the server predicts one request's few rows
 * per call on many HTTP threads at once, where a thread team per call
 * would cost more than the trees.
 *
 * Prediction goes through XGBoosterPredictFromDense with the rows as an
 * __array_interface__ over the caller's float buffer, so no DMatrix is
 * built per request. For tree boosters (gbtree) that call is thread-safe
 * in libxgboost 1.7: the learner keeps each thread's output buffer apart
 * and the trees are only read. Other boosters (dart drops trees with
 * state, gblinear) are predicted under a mutex. The result buffer belongs
 * to the calling thread inside libxgboost and is copied out at once.
 *
 * Each call hands libxgboost a proxy DMatrix of our own instead of NULL:
 * without one, every call builds a fresh proxy whose context reads the
 * cgroup's CPU quota from /sys, which is most of a small prediction's
 * time. A proxy holds the call's data, so each is used by one thread at a
 * time: they live in a small pool per model, taken and given back under a
 * mutex held for a pointer swap.
 * One prediction at load time runs the learner's lazy configuration
 * before any concurrent call can race on it.
 */
#define _GNU_SOURCE
#include "serve/xgb.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <xgboost/c_api.h>

#include "util/alloc.h"

struct xgb_model {
  BoosterHandle h;
  size_t nfeat;
  char **names;
  size_t nnames;
  char objective[64];
  bool locked;          /* not a tree booster: predictions are serialized */
  pthread_mutex_t mu;
  pthread_mutex_t pool_mu;
  DMatrixHandle *pool;  /* idle proxies (pool_mu) */
  size_t npool, cap;
};

/* A proxy DMatrix from the pool, or a new one; NULL when libxgboost cannot make one. */
static DMatrixHandle proxy_take(struct xgb_model *m) {
  DMatrixHandle h = NULL;
  pthread_mutex_lock(&m->pool_mu);
  if (m->npool) h = m->pool[--m->npool];
  pthread_mutex_unlock(&m->pool_mu);
  if (!h && XGProxyDMatrixCreate(&h) != 0) h = NULL;
  return h;
}

static void proxy_give(struct xgb_model *m, DMatrixHandle h) {
  pthread_mutex_lock(&m->pool_mu);
  if (m->npool == m->cap) {
    m->cap = m->cap ? m->cap * 2 : 8;
    m->pool = xrealloc(m->pool, m->cap * sizeof *m->pool);
  }
  m->pool[m->npool++] = h;
  pthread_mutex_unlock(&m->pool_mu);
}

static const char predict_config[] =
    "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, \"strict_shape\": false, "
    "\"missing\": NaN, \"cache_id\": 0}";

/* libxgboost's last error, without its stack trace. */
static int xgb_error(oast_err *e, int code, const char *what) {
  const char *msg = XGBGetLastError();
  if (!msg || !*msg) msg = "libxgboost gave no reason";
  const char *nl = strchr(msg, '\n');
  int n = nl ? (int)(nl - msg) : (int)strlen(msg);
  return oast_err_set(e, code, "%s: %.*s", what, n > 600 ? 600 : n, msg);
}

/* Reads the objective and booster name from the learner's saved configuration. */
static void read_config(struct xgb_model *m) {
  bst_ulong len = 0;
  const char *text = NULL;
  snprintf(m->objective, sizeof m->objective, "unknown");
  if (XGBoosterSaveJsonConfig(m->h, &len, &text) != 0 || !text) return;
  json_t *cfg = json_loadb(text, len, 0, NULL);
  if (!cfg) return;
  json_t *learner = json_object_get(cfg, "learner");
  const char *obj = json_string_value(json_object_get(json_object_get(learner, "objective"), "name"));
  const char *booster = json_string_value(json_object_get(json_object_get(learner, "gradient_booster"), "name"));
  if (obj) snprintf(m->objective, sizeof m->objective, "%s", obj);
  m->locked = !booster || strcmp(booster, "gbtree") != 0;
  json_decref(cfg);
}

int xgb_load(const char *path, struct xgb_model **out, oast_err *e) {
  struct xgb_model *m = xcalloc(1, sizeof *m);
  pthread_mutex_init(&m->mu, NULL);
  pthread_mutex_init(&m->pool_mu, NULL);
  m->locked = true;
  int rc = 0;
  if (XGBoosterCreate(NULL, 0, &m->h) != 0) {
    rc = xgb_error(e, OAST_EBAD_REQUEST, "cannot create an XGBoost booster");
    goto fail;
  }
  if (XGBoosterLoadModel(m->h, path) != 0) {
    const char *base = strrchr(path, '/');
    rc = xgb_error(e, OAST_EBAD_REQUEST, "cannot load the XGBoost model");
    char copy[OAST_ERRMSG_MAX];
    snprintf(copy, sizeof copy, "%s", e->msg);
    oast_err_set(e, OAST_EBAD_REQUEST, "%s (file %s)", copy, base ? base + 1 : path);
    goto fail;
  }
  if (XGBoosterSetParam(m->h, "nthread", "1") != 0) {
    rc = xgb_error(e, OAST_EBAD_REQUEST, "cannot configure the XGBoost booster");
    goto fail;
  }
  bst_ulong nf = 0;
  if (XGBoosterGetNumFeature(m->h, &nf) != 0 || nf == 0 || nf > (1u << 20)) {
    rc = oast_err_set(e, OAST_EBAD_REQUEST, "the XGBoost model has no usable number of features");
    goto fail;
  }
  m->nfeat = (size_t)nf;
  bst_ulong nn = 0;
  const char **names = NULL;
  if (XGBoosterGetStrFeatureInfo(m->h, "feature_name", &nn, &names) == 0 && nn == nf && names) {
    m->names = xcalloc(nn, sizeof *m->names);
    for (bst_ulong i = 0; i < nn; i++) m->names[i] = xstrdup(names[i]);
    m->nnames = nn;
  }
  read_config(m);
  /* One prediction runs the lazy configuration before threads share the booster. */
  float *row = xcalloc(m->nfeat, sizeof *row), *res = NULL;
  size_t width;
  rc = xgb_predict(m, row, 1, &res, &width, e);
  free(row);
  free(res);
  if (rc) goto fail;
  *out = m;
  return 0;
fail:
  xgb_free(m);
  return rc;
}

void xgb_free(struct xgb_model *m) {
  if (!m) return;
  for (size_t i = 0; i < m->npool; i++) XGDMatrixFree(m->pool[i]);
  free(m->pool);
  pthread_mutex_destroy(&m->pool_mu);
  if (m->h) XGBoosterFree(m->h);
  for (size_t i = 0; i < m->nnames; i++) free(m->names[i]);
  free(m->names);
  pthread_mutex_destroy(&m->mu);
  free(m);
}

size_t xgb_num_features(const struct xgb_model *m) { return m->nfeat; }

char *const *xgb_feature_names(const struct xgb_model *m, size_t *n) {
  *n = m->nnames;
  return m->nnames ? m->names : NULL;
}

const char *xgb_objective(const struct xgb_model *m) { return m->objective; }

int xgb_predict(struct xgb_model *m, const float *x, size_t rows, float **out, size_t *width, oast_err *e) {
  char iface[160];
  snprintf(iface, sizeof iface,
           "{\"data\": [%" PRIuPTR ", true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", \"version\": 3}",
           (uintptr_t)x, rows, m->nfeat);
  const bst_ulong *shape = NULL;
  bst_ulong dim = 0;
  const float *res = NULL;
  DMatrixHandle proxy = proxy_take(m);
  if (!proxy) return xgb_error(e, OAST_EINTERNAL, "XGBoost could not make a proxy matrix");
  if (m->locked) pthread_mutex_lock(&m->mu);
  int rc = XGBoosterPredictFromDense(m->h, iface, predict_config, proxy, &shape, &dim, &res);
  size_t n = 0, w = 1;
  if (rc == 0) {
    n = dim >= 1 ? (size_t)shape[0] : 0;
    for (bst_ulong i = 1; i < dim; i++) w *= (size_t)shape[i];
    if (n != rows) rc = -1;
    else {
      *out = xmalloc((n * w > 0 ? n * w : 1) * sizeof **out);
      memcpy(*out, res, n * w * sizeof **out);
      *width = w;
    }
  }
  if (m->locked) pthread_mutex_unlock(&m->mu);
  proxy_give(m, proxy);
  if (rc != 0) return xgb_error(e, OAST_EINTERNAL, "XGBoost could not predict");
  return 0;
}
