/*
 * oast/features.h — liboast: online feature vectors of a feature view,
 * for serving code in C.
 *
 * A feature view's vector for an entry is its features (labels left out),
 * in the view's order, read from the online store: see the REST route
 * POST /projects/{p}/featurestore/featureviews/{view}/versions/{v}/vectors.
 * An entry is the view's serving key (the primary key of its left feature
 * group) as a JSON object, e.g. {"uid": 17}.
 *
 * Conventions are those of oast/client.h: 0 or a negative OAST_E* code,
 * the server's sentence in the oast_err, strings returned malloc'ed and
 * owned by the caller.
 */
#ifndef OAST_FEATURES_H
#define OAST_FEATURES_H

#include <stddef.h>

#include "oast/client.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Vectors of a batch: entries_json is a JSON array of entry objects
 * ("[{\"uid\": 1}, {\"uid\": 2}]"). *response receives the answer's text,
 * {"features": [names], "vectors": [[values] | null, ...]}.
 */
int oast_feature_vectors(oast_client *c, const char *project, const char *view, int version, const char *entries_json,
                         char **response, oast_err *e);

/*
 * The vector of one entry (a JSON object text) as JSON array text in
 * *vector_json, or "null" when the online store has no row for it.
 * names_json (may be NULL) receives the feature names as a JSON array.
 */
int oast_feature_vector(oast_client *c, const char *project, const char *view, int version, const char *entry_json,
                        char **vector_json, char **names_json, oast_err *e);

/*
 * The vector of one entry as numbers, for models: values[0..*n) (at most
 * cap) are the features as doubles (booleans 0/1, nulls NaN). *found is 0
 * (and *n 0) when the store has no row for the entry. A feature that is
 * not a number, boolean or null (a string, a timestamp) fails with
 * OAST_EBAD_REQUEST naming it; more features than cap with
 * OAST_ETOO_LARGE.
 */
int oast_feature_vector_f64(oast_client *c, const char *project, const char *view, int version,
                            const char *entry_json, double *values, size_t cap, size_t *n, int *found, oast_err *e);

#ifdef __cplusplus
}
#endif
#endif
