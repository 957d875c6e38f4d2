/*
 * xgb.h — a native XGBoost predictor: one booster loaded through
 * libxgboost's C API, predicting dense float rows inside the server.
 */
#ifndef SERVE_XGB_H
#define SERVE_XGB_H

#include <stdbool.h>
#include <stddef.h>

#include "oast/error.h"

struct xgb_model;

/* Loads a model file (JSON, UBJSON or the legacy binary format). Free with xgb_free. */
int xgb_load(const char *path, struct xgb_model **out, oast_err *e);
void xgb_free(struct xgb_model *m);

/* Number of input features. */
size_t xgb_num_features(const struct xgb_model *m);
/* Feature names stored in the model (NULL when it has none); borrowed, *n gets their count. */
char *const *xgb_feature_names(const struct xgb_model *m, size_t *n);
/* The objective, e.g. "binary:logistic", "multi:softprob", "reg:squarederror". */
const char *xgb_objective(const struct xgb_model *m);

/*
 * Predicts `rows` rows of xgb_num_features floats each (row-major; NaN is
 * a missing value). *out (allocated, the caller frees) receives rows ×
 * *width values: width 1 for regression and binary models, the number of
 * classes for multi:softprob. Safe to call from several threads at once.
 */
int xgb_predict(struct xgb_model *m, const float *x, size_t rows, float **out, size_t *width, oast_err *e);

#endif
