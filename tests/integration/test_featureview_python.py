"""The Python client's feature view calls: creating views and training data, reading every format back into numpy
arrays and pandas DataFrames (the same rows as the point-in-time oracle), online vectors, and its errors."""

import math

import numpy as np
import pandas as pd
import pytest

import oast
from oast import featureview as fv
from test_featureview import FULL, NUMERIC, Scenario
from test_vectors import setup_online

FEATURES = ["uid", "ts", "cc", "act_a", "act_tag", "r_rate", "score"]


@pytest.fixture(scope="module")
def scp(world):
    s = Scenario(world)
    s.project = world.alice.conn.projects.get(s.p)
    s.view = fv.create_feature_view(s.project, "full", FULL["query"], labels=FULL["labels"], version=1)
    fv.create_feature_view(s.project, "numeric", NUMERIC["query"], labels=["y"])
    return s


def same(a, b, tol):
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    if isinstance(b, float) or isinstance(a, float):
        return b is not None and abs(float(a) - float(b)) <= tol * max(1.0, abs(float(b)))
    return a == b


def check_rows(X, y, names, want, tol=0.0):
    got = sorted(zip(map(list, X), list(y)), key=lambda r: (int(r[0][0]), int(r[0][1])))
    assert len(got) == len(want)
    for (row, label), w in zip(got, want):
        for name, v in zip(names, row):
            wv = w[name]
            if name == "act_tag" and wv == "":
                wv = None  # csv reads an empty string as a null
            assert same(v if not isinstance(v, (np.floating, np.integer)) else v.item(), wv, tol) or \
                (name == "act_tag" and v in ("", None) and wv in ("", None)), (name, v, wv)
        assert int(label) == w["y"]


@pytest.mark.parametrize("fmt,tol", [("csv", 0), ("tfrecord", 1e-6), ("parquet", 0)])
def test_read_back_numpy_and_pandas(scp, fmt, tol):
    td = fv.create_training_data(scp.project, "full", 1, format=fmt, splits={"train": 0.8, "test": 0.2}, seed=4)
    splits = fv.get_training_data(scp.project, "full", 1, td["version"])
    assert list(splits) == ["train", "test"]
    X = np.concatenate([splits[s][0] for s in splits])
    y = np.concatenate([splits[s][1] for s in splits])
    assert X.dtype == object and X.shape == (len(scp.labels), len(FEATURES))
    check_rows(X, y, FEATURES, scp.expected(), tol)
    Xd, yd = fv.get_training_data(scp.project, "full", 1, td["version"], split="train", as_="pandas")
    assert list(Xd.columns) == FEATURES and yd.name == "y"
    assert len(Xd) == td["splits"]["train"]["rows"] == len(yd)
    assert str(Xd["ts"].dtype).startswith("datetime64")


@pytest.mark.parametrize("fmt", ["npy", "hdf5", "csv", "parquet"])
def test_numeric_view_reads_as_float_matrix(scp, fmt):
    td = scp.project and fv.create_training_data(scp.project, "numeric", 1, format=fmt, seed=1)
    X, y = fv.get_training_data(scp.project, "numeric", 1, td["version"], split="train")
    assert X.dtype == np.float64 and X.shape == (len(scp.labels), 4)
    assert y.dtype == np.int64 and y.shape == (len(scp.labels),)
    want = scp.expected()
    got = sorted(zip(map(list, X), y), key=lambda r: (r[0][0], r[0][1]))
    for (row, label), w in zip(got, want):
        assert [int(row[0]), int(row[1])] == [w["uid"], w["ts"]]
        assert same(float(row[2]), w["act_a"], 0) and same(float(row[3]), w["score"], 0)
        assert int(label) == w["y"]
    Xd, yd = fv.get_training_data(scp.project, "numeric", 1, td["version"], split="train", as_="pandas")
    assert list(Xd.columns) == ["uid", "ts", "act_a", "score"] and len(yd) == len(scp.labels)


def test_view_objects_and_errors(scp, world):
    v = fv.get_feature_view(scp.project, "full", 1)
    assert isinstance(v, fv.FeatureView) and v.serving_key == ["uid"]
    assert [f["name"] for f in v.features if f["label"]] == ["y"]
    assert {x["name"] for x in fv.list_feature_views(scp.project)} >= {"full", "numeric"}
    td = v.create_training_data(format="csv")
    assert td["id"] in [t["id"] for t in v.training_datasets()]
    with pytest.raises(oast.BadRequest) as ei:
        fv.create_training_data(scp.project, "full", 1, splits={"train": 0.5, "test": 0.4})
    assert "sum to" in ei.value.message
    with pytest.raises(oast.NotFound):
        fv.get_feature_view(scp.project, "nope", 1)
    # Data scientists make training data but cannot download it.
    bob_project = world.bob.conn.projects.get(scp.p)
    td2 = fv.create_training_data(bob_project, "full", 1, format="csv")
    with pytest.raises(oast.Forbidden):
        fv.get_training_data(bob_project, "full", 1, td2["version"])


def test_vectors_from_python(world):
    p = setup_online(world)
    project = world.bob.conn.projects.get(p)
    assert fv.get_feature_vector(project, "serve", 1, {"uid": 1}) == [1, 31, "se", 1.5]
    assert fv.get_feature_vectors(project, "serve", 1, [{"uid": 9}, {"uid": 2}]) == [None, [2, 40, "xx", None]]
    names, vec = fv.feature_vector_names(project, "serve", 1, {"uid": 3})
    assert names == ["uid", "age", "cc", "c_gdp"] and vec == [3, 50, None, None]
    with pytest.raises(oast.BadRequest) as ei:
        fv.get_feature_vector(project, "serve", 1, {"user": 1})
    assert "\"uid\" is missing" in ei.value.message
    assert oast.get_feature_vector is fv.get_feature_vector
    assert isinstance(pd.DataFrame, type)


def test_batch_data_as_dataframe_records_and_bytes(scp, tmp_path):
    want = scp.expected()
    df = scp.view.get_batch_data()
    assert isinstance(df, pd.DataFrame) and list(df.columns) == FEATURES[:3] + ["y"] + FEATURES[3:]
    assert str(df["ts"].dtype).startswith("datetime64") and str(df["uid"].dtype) == "int64"
    scores = (None if math.isnan(x) else x for x in df["score"])
    got = sorted(zip(df["uid"], (t.value // 1000 for t in df["ts"]), scores))
    assert got == sorted((w["uid"], w["ts"], w["score"]) for w in want)
    # a window (from just after the first label time), as records
    first = min(w["ts"] for w in want)
    start = pd.Timestamp(first + 1, unit="us", tz="UTC").to_pydatetime()
    recs = fv.get_batch_data(scp.project, "full", 1, start_time=start, format="records")
    assert isinstance(recs, list) and isinstance(recs[0], dict)
    assert len(recs) == sum(1 for w in want if w["ts"] > first) < len(want)
    # bytes, and a file written whole
    head = scp.view.get_batch_data(format="csv", limit=3).decode().splitlines()
    assert len(head) == 4 and head[0].split(",")[:2] == ["uid", "ts"]
    n = scp.view.get_batch_data(format="parquet", dest=tmp_path / "rows.parquet")
    assert n == (tmp_path / "rows.parquet").stat().st_size and (tmp_path / "rows.parquet").read_bytes()[:4] == b"PAR1"
    with pytest.raises(ValueError, match="format must be"):
        scp.view.get_batch_data(format="xml")
    with pytest.raises(oast.BadRequest, match="start_time"):
        scp.view.get_batch_data(start_time="soon")
