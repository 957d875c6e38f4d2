/*
 * oast/trial.h — liboast's reporter for experiment trials written in C.
 *
 * An Oast experiment runs each trial as a process whose environment says
 * who it is: OAST_ADDR (the server), OAST_TRIAL_TOKEN (its own token),
 * OAST_TRIAL_ID, OAST_PARAMS (its hyperparameters as a JSON object, with
 * "budget" under ASHA), OAST_LOGDIR (its folder, for files it wants to
 * keep) and, when it holds GPUs, CUDA_VISIBLE_DEVICES. These functions
 * read that environment and talk to the server with the trial's token:
 *
 *   double lr = oast_trial_param_double("lr", 0.01);
 *   for (int step = 0; step < 100; step++) {
 *     double acc = train_one_epoch(lr);
 *     int stop = 0;
 *     if (oast_trial_report(acc, step, &stop, &err) == 0 && stop) break;
 *   }
 *   oast_trial_final(acc, &err);
 *
 * A report returns `stop` = 1 when the experiment's early-stopping rule
 * stops the trial; the trial should then end (it is recorded as early
 * stopped, with its last report as its metric). The final result is what
 * the optimizer ranks; without one, the last report counts.
 *
 * Outside a trial (OAST_TRIAL_ID or OAST_TRIAL_TOKEN unset) the reporting
 * calls do nothing and return 0, so a trial program also runs on its own.
 * The functions share one connection and may be called from several
 * threads. Every call returns 0 or a negative OAST_E* code with the
 * server's sentence in *e (which may be NULL).
 */
#ifndef OAST_TRIAL_H
#define OAST_TRIAL_H

#include <stddef.h>
#include <stdint.h>

#include "oast/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether this process runs as a trial of an Oast experiment. */
int oast_trial_active(void);

/* The trial's parameters as JSON text (OAST_PARAMS), "{}" when unset.
 * Owned by the library; valid for the life of the process. */
const char *oast_trial_params(void);

/* One parameter: a number (integers included), dflt when absent or of
 * another type. */
double oast_trial_param_double(const char *name, double dflt);
/* An integral parameter (a real with no fraction is accepted), dflt otherwise. */
long long oast_trial_param_int(const char *name, long long dflt);
/* A string parameter copied into buf (len bytes, always NUL-terminated);
 * returns buf, or NULL when absent or not a string. */
const char *oast_trial_param_str(const char *name, char *buf, size_t len);

/* An intermediate result at `step` (>= 0; pass -1 to number reports
 * 0, 1, 2, ...). *stop (may be NULL) is set to 1 when the trial should end. */
int oast_trial_report(double metric, int64_t step, int *stop, oast_err *e);
/* A line (or lines) for the experiment's log, prefixed by the trial. */
int oast_trial_log(const char *text, oast_err *e);
/* The trial's final metric. */
int oast_trial_final(double metric, oast_err *e);
/* The final result as a JSON object of outputs (text); the metric is the
 * member named by the experiment's "metric", when it is a number. */
int oast_trial_final_outputs(const char *outputs_json, oast_err *e);

#ifdef __cplusplus
}
#endif
#endif
