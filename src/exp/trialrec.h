/*
 * trialrec.h — the small files each trial leaves in its folder under
 * Experiments/<id>/ (API.md, "On disk"), in the forms Hopsworks' experiment
 * service reads:
 *   .hparams.json  the trial's params as a JSON object (2-space indent)
 *   .outputs.json  what the trial returned with its final report, a JSON object
 *   .metric        the final metric as text: the shortest decimal that reads
 *                  back exactly ("0.9", "1e-05"), no newline
 * output.log and the TensorBoard event files are written as the trial runs
 * (tfevents.h). Every file is replaced atomically (written beside and
 * renamed), so a reader sees the old content or the new one. They are not
 * fsynced: the metadata database is the durable record, and the
 * experiment service writes the files again from it when it resumes.
 */
#ifndef EXP_TRIALREC_H
#define EXP_TRIALREC_H

#include <jansson.h>

#include "oast/error.h"

#define TRIALREC_HPARAMS ".hparams.json"
#define TRIALREC_OUTPUTS ".outputs.json"
#define TRIALREC_METRIC ".metric"

/* params and outputs must be objects (a 400 naming the file otherwise). */
int trialrec_write_hparams(const char *trial_dir, const json_t *params, oast_err *e);
int trialrec_write_outputs(const char *trial_dir, const json_t *outputs, oast_err *e);
/* A 400 for a non-finite metric, which no reader could parse. */
int trialrec_write_metric(const char *trial_dir, double metric, oast_err *e);
/* Reads .metric back; 404 when absent, OAST_EIO when it is not a number. */
int trialrec_read_metric(const char *trial_dir, double *metric, oast_err *e);
/* Reads .hparams.json or .outputs.json (name is one of the macros); *out
 * is a new reference the caller owns. */
int trialrec_read_json(const char *trial_dir, const char *name, json_t **out, oast_err *e);

#endif
