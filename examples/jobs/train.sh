#!/bin/sh
# train.sh — a job of the example pipeline: fails on its first attempt
# when asked to (to show retries), otherwise "trains" and reports.
set -e
marker="${TMPDIR:-/tmp}/oast-example-train-$OAST_PROJECT-$1"
if [ "$2" = flaky ] && [ ! -e "$marker" ]; then
  touch "$marker"
  echo "first attempt fails on purpose; the pipeline retries it"
  exit 1
fi
rm -f "$marker"
echo "training run $OAST_RUN_ID of job $OAST_JOB in project $OAST_PROJECT"
