"""train.py — a trial of the HopsML pipeline's ASHA experiment (examples/hopsml/pipeline.yaml).

The experiment starts this program once per trial with the trial's
hyperparameters in $OAST_PARAMS: max_depth, learning_rate and subsample
from the search space, and budget from ASHA. The budget is the number of
boosting rounds in tens: a configuration first gets few rounds, and only
the best ones are promoted to more. The trial

- reads the newest training dataset of the feature view "diagnosis" from
  the experiment's folder (the pipeline copies the project's
  TrainingDatasets/ there with "resources_paths"): npy files, split into
  train, validation and test, whose feature columns are the view's;
- trains an XGBoost classifier (binary:logistic) on train, reporting the
  validation log loss (the experiment's metric, lower is better) and AUC
  after every boosting round, so the experiment's log and TensorBoard
  show the learning curves;
- saves the booster as model.json in its own folder ($OAST_LOGDIR), which
  the pipeline registers in the model registry when the trial is the best
  and deploys with the native XGBoost predictor;
- ends with the validation log loss as its metric and the validation
  AUC, test AUC and test accuracy as outputs.

The metric is the log loss rather than the AUC because the classes of
this data set separate well: on 86 validation rows most configurations
reach an AUC of 1.0, which would leave nothing to choose between them,
while the log loss still tells a confident model from a hesitant one.

The model's inputs are the view's features without the patient id (the
key, not a measurement): the 10 mean measurements, then the 10 worst.
The column names are in model.json, so the deployment knows them.
"""

import glob
import json
import os
import re
import sys

import numpy as np
import xgboost as xgb

from oast import featureview
from oast.experiment import EarlyStop, Reporter

VIEW = "diagnosis_1"
KEY = "id"


def auc(y, p):
    """Area under the ROC curve (the rank statistic; ties count half)."""
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    sp = p[order]
    i = 0
    while i < len(sp):
        j = i
        while j + 1 < len(sp) and sp[j + 1] == sp[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def newest_training_data(root):
    """The folder of the view's training dataset with the highest number under root."""
    found = []
    for d in glob.glob(os.path.join(root, "TrainingDatasets", VIEW + "_td*")):
        m = re.search(r"_td(\d+)$", d)
        if m and os.path.exists(os.path.join(d, "training_dataset.json")):
            found.append((int(m.group(1)), d))
    if not found:
        sys.exit("train: no training dataset of %s under %s/TrainingDatasets" % (VIEW, root))
    return max(found)[1]


def logloss(y, p):
    """Mean binary cross-entropy of probabilities p for labels y."""
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


class ReportRounds(xgb.callback.TrainingCallback):
    """Sends the validation log loss and AUC to the experiment after every boosting round."""

    def __init__(self, reporter, dval, yval):
        self.reporter, self.dval, self.yval = reporter, dval, yval

    def after_iteration(self, model, epoch, evals_log):
        p = model.predict(self.dval)
        try:
            self.reporter.report(logloss(self.yval, p), step=epoch, auc=auc(self.yval, p))
        except EarlyStop:
            print("stopped early by the experiment after round %d" % (epoch + 1))
            return True     # ends the training; the model so far is still saved
        return False


def main():
    params = json.loads(os.environ.get("OAST_PARAMS", "{}"))
    root = os.environ.get("OAST_EXPERIMENT_DIR", ".")
    outdir = os.environ.get("OAST_LOGDIR", ".")
    td = newest_training_data(root)
    with open(os.path.join(td, "training_dataset.json")) as f:
        info = json.load(f)
    names = [c["name"] for c in info["columns"] if not c["label"]]
    keep = [i for i, n in enumerate(names) if n != KEY]
    data = featureview.read_training_data_dir(td)
    (Xtr, ytr), (Xva, yva), (Xte, yte) = (data[s] for s in ("train", "validation", "test"))
    Xtr, Xva, Xte = Xtr[:, keep], Xva[:, keep], Xte[:, keep]
    features = [names[i] for i in keep]

    rounds = int(params.get("budget", 3)) * 10
    booster_params = {
        "objective": "binary:logistic",
        "max_depth": int(params.get("max_depth", 3)),
        "eta": float(params.get("learning_rate", 0.1)),
        "subsample": float(params.get("subsample", 1.0)),
        "nthread": 1,
        "seed": 7,
    }
    print("%s: %d train, %d validation, %d test rows, %d features; %d boosting rounds"
          % (os.path.basename(td), len(ytr), len(yva), len(yte), len(features), rounds))
    dtr = xgb.DMatrix(Xtr, label=ytr, feature_names=features)
    dva = xgb.DMatrix(Xva, label=yva, feature_names=features)
    reporter = Reporter()
    booster = xgb.train(booster_params, dtr, num_boost_round=rounds, callbacks=[ReportRounds(reporter, dva, yva)])

    p_val = booster.predict(dva)
    val_loss, val_auc = logloss(yva, p_val), auc(yva, p_val)
    p_test = booster.predict(xgb.DMatrix(Xte, feature_names=features))
    test_auc = auc(yte, p_test)
    accuracy = float(((p_test >= 0.5) == (yte == 1)).mean())
    booster.save_model(os.path.join(outdir, "model.json"))
    print("validation: log loss %.4f, AUC %.4f; test: AUC %.4f, accuracy %.4f; saved model.json"
          % (val_loss, val_auc, test_auc, accuracy))
    reporter.final(val_loss, {"logloss": val_loss, "auc": val_auc, "test_auc": test_auc, "test_accuracy": accuracy,
                              "rounds": rounds})


if __name__ == "__main__":
    main()
