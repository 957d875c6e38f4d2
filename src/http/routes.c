/*
 * routes.c — the one list of route tables. A module adds its table here
 * and nowhere else; docs/api.md lists the same routes.
 */
#include "http/router.h"

extern const struct route system_routes[];
extern const struct route auth_routes[];
extern const struct route project_routes[];
extern const struct route dataset_routes[];
extern const struct route file_routes[];
extern const struct route fg_routes[];
extern const struct route fg_ingest_routes[];
extern const struct route fg_data_routes[];
extern const struct route model_routes[];
extern const struct route prov_routes[];
extern const struct route job_routes[];
extern const struct route pipeline_routes[];
extern const struct route deployment_routes[];
extern const struct route inference_routes[];
extern const struct route fview_routes[];
extern const struct route td_routes[];
extern const struct route fvector_routes[];
extern const struct route exp_routes[];

const struct route *const router_tables[] = {
    system_routes, auth_routes, project_routes, dataset_routes, file_routes, fg_routes, fg_ingest_routes,
    fg_data_routes, model_routes, prov_routes, fview_routes, td_routes, fvector_routes, deployment_routes,
    inference_routes, exp_routes, job_routes, pipeline_routes, NULL,
};
