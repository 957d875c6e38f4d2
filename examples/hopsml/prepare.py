"""prepare.py — the first task of the HopsML pipeline (examples/hopsml/pipeline.yaml).

It runs on the server as a job of the project, as the user who started
the pipeline (a data owner: it uploads files), so `import oast` needs no
address or key. It

1. reads the Wisconsin breast cancer data that scikit-learn ships
   (sklearn/datasets/data/breast_cancer.csv: a header line
   "569,30,malignant,benign", then 30 measurements of cell nuclei and the
   target, 0 = malignant, 1 = benign, per patient);
2. splits it into two tables keyed by a patient id, as two sources would
   deliver them: cells_mean.csv (the 10 mean measurements) and
   cells_worst.csv (the 10 worst measurements and the diagnosis), and
   uploads both to Resources/hopsml/ of the project;
3. defines, when they do not exist yet, the feature groups cells_mean and
   cells_worst (online, with strict expectation suites, so an insert that
   breaks a rule is refused whole) and the feature view diagnosis that
   joins them on the patient id with the diagnosis as its label.

The inserts themselves are the pipeline's featuregroup_insert tasks, so
every commit and its validation report is the platform's, not this
script's. Running it again re-uploads the same files and leaves the
definitions as they are.
"""

import csv
import io
import os
import sys

import oast
from oast import featureview

# The 30 columns of the file: 10 measurements, as mean, standard error
# and worst (mean of the three largest values) of the cells in an image.
MEASURES = ["radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
            "concave_points", "symmetry", "fractal_dimension"]
LABEL = "diagnosis"


def dataset_path():
    """breast_cancer.csv as installed with scikit-learn (Debian: python3-sklearn)."""
    import sklearn.datasets
    path = os.path.join(os.path.dirname(sklearn.datasets.__file__), "data", "breast_cancer.csv")
    if not os.path.exists(path):
        sys.exit("prepare: %s is missing; install scikit-learn (python3-sklearn)" % path)
    return path


def read_rows(path):
    """The data rows as lists of 31 strings, checked against the header's counts."""
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        n_rows, n_cols = int(header[0]), int(header[1])
        rows = [row for row in r if row]
    if n_cols != 3 * len(MEASURES) or len(rows) != n_rows or any(len(row) != n_cols + 1 for row in rows):
        sys.exit("prepare: %s does not hold %d rows of %d features and a target" % (path, n_rows, n_cols))
    return rows


def to_csv(header, rows):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue().encode()


def ensure_group(fs, name, features, rules, description):
    try:
        fg = fs.get_feature_group(name, 1)
        print("feature group %s:1 exists" % name)
        return fg
    except oast.NotFound:
        pass
    fg = fs.create_feature_group(name, primary_key="id", features=[("id", "bigint")] + features, version=1,
                                 description=description, online_enabled=True)
    fg.set_expectations(rules, policy="strict")
    print("created feature group %s:1 (%d features, %d expectations, strict)" % (name, len(features) + 1, len(rules)))
    return fg


def main():
    project = oast.connect().projects.get(os.environ["OAST_PROJECT"])
    path = dataset_path()
    rows = read_rows(path)
    print("read %d patients from %s" % (len(rows), path))

    mean_cols = ["mean_" + m for m in MEASURES]
    worst_cols = ["worst_" + m for m in MEASURES]
    mean_rows = [[i + 1] + row[0:10] for i, row in enumerate(rows)]
    worst_rows = [[i + 1] + row[20:30] + [row[30]] for i, row in enumerate(rows)]
    project.files.upload(to_csv(["id"] + mean_cols, mean_rows), "Resources/hopsml/cells_mean.csv")
    project.files.upload(to_csv(["id"] + worst_cols + [LABEL], worst_rows), "Resources/hopsml/cells_worst.csv")
    benign = sum(1 for row in rows if row[30] == "1")
    print("wrote Resources/hopsml/cells_mean.csv and cells_worst.csv (%d benign, %d malignant)"
          % (benign, len(rows) - benign))

    fs = project.get_feature_store()
    ensure_group(fs, "cells_mean", [(c, "double") for c in mean_cols], [
        {"column": "id", "rule": "not_null"},
        {"column": "id", "rule": "unique"},
        {"column": "mean_radius", "rule": "between", "min": 1, "max": 50},
        {"column": "mean_area", "rule": "min", "value": 0},
    ], "mean measurements of the cell nuclei of a breast mass image")
    ensure_group(fs, "cells_worst", [(c, "double") for c in worst_cols] + [(LABEL, "int")], [
        {"column": "id", "rule": "not_null"},
        {"column": "id", "rule": "unique"},
        {"column": "worst_radius", "rule": "between", "min": 1, "max": 80},
        {"column": LABEL, "rule": "in_set", "values": [0, 1]},
    ], "worst measurements and the diagnosis (0 malignant, 1 benign)")

    try:
        featureview.get_feature_view(project, "diagnosis", 1)
        print("feature view diagnosis:1 exists")
    except oast.NotFound:
        view = featureview.create_feature_view(
            project, "diagnosis",
            {"featuregroup": "cells_mean", "version": 1,
             "joins": [{"featuregroup": "cells_worst", "version": 1, "on": ["id"]}]},
            labels=[LABEL], version=1, description="mean and worst measurements of a patient, labelled")
        print("created feature view diagnosis:1: %d columns, label %s" % (len(view["features"]), LABEL))


if __name__ == "__main__":
    main()
