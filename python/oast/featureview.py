"""
oast.featureview — feature views, training data and online feature
vectors.

A feature view is a query over feature groups (a left group, groups joined
to it on a key, prefixes) plus label columns; the server joins it point in
time. From a view come training datasets, written on the server in one of
csv, tfrecord, npy, hdf5 or parquet with seeded random splits, and online
feature vectors for serving::

    from oast import featureview as fv
    view = fv.create_feature_view(project, "churn", {
        "featuregroup": "labels", "version": 1, "features": ["uid", "ts", "churned"],
        "joins": [{"featuregroup": "activity", "version": 1, "prefix": "act_"}]},
        labels=["churned"])
    td = fv.create_training_data(project, "churn", 1, format="parquet",
                                 splits={"train": 0.8, "test": 0.2}, seed=7)
    splits = fv.get_training_data(project, "churn", 1, td["version"])
    X_train, y_train = splits["train"]
    fv.get_feature_vector(project, "churn", 1, {"uid": 17})

Reading training data downloads the files through the files API (which
needs the download right: data owners) and parses them here: csv with the
csv module, tfrecord with a reader of the TFRecord framing and of
tf.train.Example, npy with numpy, hdf5 with h5py, parquet with the pure
Python reader in oast._parquet (no pyarrow needed). In csv an empty string
and a null read the same (None). The
result is numpy arrays (``as_="numpy"``, the default: features as int64
when every feature column is an integer type without nulls, else float64
with NaN for nulls, or an object array when a feature is a string; labels
1-D for one label) or pandas DataFrames (``as_="pandas"``). Timestamps are
microseconds and dates days since 1970-01-01 in numpy form, as in the npy
and hdf5 files.
"""

import json
import os
import shutil
import struct
import tempfile
import urllib.parse

from . import _parquet

FORMATS = ("csv", "tfrecord", "npy", "hdf5", "parquet")
_INT_TYPES = ("int", "bigint", "boolean", "timestamp", "date")


def _path(project, suffix=""):
    return project.path("/featurestore/featureviews" + suffix)


def _view_path(project, name, version, suffix=""):
    return _path(project, "/%s/versions/%d%s" % (urllib.parse.quote(name, safe=""), int(version), suffix))


class FeatureView(dict):
    """A feature view's definition as the server shows it (name, version, query, labels, features,
    serving_key, event_time, ...), with the calls that act on it."""

    def __init__(self, project, info):
        super().__init__(info)
        self.project = project

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def create_training_data(self, **kw):
        return create_training_data(self.project, self["name"], self["version"], **kw)

    def get_training_data(self, td_version, **kw):
        return get_training_data(self.project, self["name"], self["version"], td_version, **kw)

    def training_datasets(self):
        return list_training_data(self.project, self["name"], self["version"])

    def get_batch_data(self, start_time=None, end_time=None, format=None, limit=None, dest=None):
        return get_batch_data(self.project, self["name"], self["version"], start_time, end_time, format, limit,
                              dest)

    def get_feature_vector(self, entry):
        return get_feature_vector(self.project, self["name"], self["version"], entry)

    def get_feature_vectors(self, entries):
        return get_feature_vectors(self.project, self["name"], self["version"], entries)

    def delete(self):
        delete_feature_view(self.project, self["name"], self["version"])


# --- definitions ---------------------------------------------------------------


def create_feature_view(project, name, query, labels=(), version=None, description=None):
    """Creates a feature view (POST .../featureviews) and returns it as a :class:`FeatureView`.

    ``query`` is ``{"featuregroup", "version", "features"?, "joins"?: [{"featuregroup", "version",
    "features"?, "on" | "left_on" + "right_on", "prefix"?, "join_type"?}]}``; ``labels`` name columns of the
    view. Without ``version``, the next one."""
    body = {"name": name, "query": query, "labels": list(labels)}
    if version is not None:
        body["version"] = version
    if description is not None:
        body["description"] = description
    return FeatureView(project, project.connection.request("POST", _path(project), body))


def get_feature_view(project, name, version=1):
    """One feature view as a :class:`FeatureView` (NotFound if it does not exist)."""
    return FeatureView(project, project.connection.request("GET", _view_path(project, name, version)))


def list_feature_views(project):
    """Every feature view of the project (definitions, without resolving their groups)."""
    return project.connection.request("GET", _path(project))["items"]


def delete_feature_view(project, name, version):
    """Deletes a feature view and its training datasets (data owners)."""
    project.connection.request("DELETE", _view_path(project, name, version))


# --- training data -----------------------------------------------------------------


def create_training_data(project, name, version, format="csv", splits=None, seed=None, start_time=None,
                         end_time=None, description=None):
    """Writes a training dataset of the view on the server and returns its metadata: ``id``, ``version``,
    ``path`` (under TrainingDatasets/), ``splits`` ({split: {"rows", "fraction", "files"}}), ``seed``, ...

    ``splits`` maps split names to fractions summing to 1 (default: all rows in "train"); ``seed`` fixes the
    shuffle (default: drawn by the server and reported); ``start_time``/``end_time`` (ISO-8601 or epoch
    milliseconds) keep left rows with start <= event time < end."""
    body = {"format": format}
    for k, v in (("splits", splits), ("seed", seed), ("start_time", start_time), ("end_time", end_time),
                 ("description", description)):
        if v is not None:
            body[k] = v
    return project.connection.request("POST", _view_path(project, name, version, "/trainingdata"), body)


def list_training_data(project, name, version):
    return project.connection.request("GET", _view_path(project, name, version, "/trainingdata"))["items"]


def get_batch_data(project, name, version, start_time=None, end_time=None, format=None, limit=None, dest=None):
    """The view's rows as the server joins them (point in time, as for training data), for batch
    scoring: all of them, or those whose left event time is in [start_time, end_time) (ISO-8601
    strings, datetimes or epoch milliseconds). ``format`` as for ``FeatureGroup.read``: None gives a
    pandas DataFrame when pandas is present (typed from the view's features), else a list of dicts;
    ``"csv"``, ``"json"`` or ``"parquet"`` give the bytes, or write them to ``dest``."""
    from .featurestore import check_rows_format, download_rows, rows_as

    check_rows_format(format)
    query = {}
    for key, t in (("start_time", start_time), ("end_time", end_time)):
        if t is not None:
            query[key] = t.isoformat() if hasattr(t, "isoformat") else str(t)
    if limit is not None:
        query["limit"] = int(limit)
    path = _view_path(project, name, version, "/data")
    if format in ("csv", "json", "parquet"):
        query["format"] = format
        return download_rows(project.connection, path, query, dest)
    query["format"] = "json"
    rows = project.connection.request("GET", path, query=query)
    return rows_as(get_feature_view(project, name, version)["features"], rows, format)


def get_training_data_info(project, name, version, td_version):
    """A training dataset's metadata, with its statistics per split."""
    return project.connection.request("GET", _view_path(project, name, version, "/trainingdata/%d" % int(td_version)))


def get_training_data(project, name, version, td_version, split=None, as_="numpy", dest=None):
    """Reads a training dataset back: ``{split: (X, y)}``, or ``(X, y)`` for one ``split``.

    ``as_="numpy"`` gives arrays, ``as_="pandas"`` DataFrames (y a Series for one label, None without
    labels). The files are downloaded into ``dest`` (default: a temporary folder, removed afterwards)."""
    if as_ not in ("numpy", "pandas"):
        raise ValueError("as_ must be \"numpy\" or \"pandas\"")
    info = get_training_data_info(project, name, version, td_version)
    names = [split] if split else list(info["splits"])
    for s in names:
        if s not in info["splits"]:
            raise KeyError("training dataset %s has no split %r (it has %s)" % (info["id"], s, ", ".join(info["splits"])))
    tmp = dest or tempfile.mkdtemp(prefix="oast-td-")
    try:
        out = {}
        for s in names:
            local = []
            for f in info["splits"][s]["files"]:
                target = os.path.join(tmp, s, os.path.basename(f))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                project.files.download(info["path"] + "/" + f, target)
                local.append(target)
            out[s] = _read_split(info, local, as_)
        return out[split] if split else out
    finally:
        if dest is None:
            shutil.rmtree(tmp, ignore_errors=True)


def read_training_data_dir(path, split=None, as_="numpy"):
    """Reads a training dataset from a local copy of its folder (the one holding training_dataset.json)."""
    with open(os.path.join(path, "training_dataset.json"), encoding="utf-8") as f:
        info = json.load(f)
    names = [split] if split else list(info["splits"])
    out = {s: _read_split(info, [os.path.join(path, f) for f in info["splits"][s]["files"]], as_) for s in names}
    return out[split] if split else out


# --- readers ---------------------------------------------------------------------------


def _read_split(info, files, as_):
    fmt = info["format"]
    cols = info["columns"]
    if fmt in ("npy", "hdf5"):
        X, y = _read_arrays(fmt, files)
        if as_ == "pandas":
            import pandas as pd
            fnames = [c["name"] for c in cols if not c["label"]]
            lnames = [c["name"] for c in cols if c["label"]]
            Xd = pd.DataFrame(X, columns=fnames)
            yd = None
            if y is not None:
                yd = pd.Series(y, name=lnames[0]) if y.ndim == 1 else pd.DataFrame(y, columns=lnames)
            return Xd, yd
        return X, y
    if fmt == "csv":
        values = _read_csv(files[0], cols)
    elif fmt == "tfrecord":
        values = _read_tfrecord(files[0], cols)
    elif fmt == "parquet":
        values = _read_parquet(files[0], cols)
    else:
        raise ValueError("unknown training data format %r" % fmt)
    return _assemble(cols, values, as_)


def _read_arrays(fmt, files):
    if fmt == "npy":
        import numpy as np
        X = np.load([f for f in files if f.endswith("features.npy")][0])
        ys = [f for f in files if f.endswith("labels.npy")]
        return X, (np.load(ys[0]) if ys else None)
    try:
        import h5py
    except ImportError:
        raise ImportError("reading hdf5 training data needs h5py (Debian: python3-h5py)") from None
    with h5py.File(files[0], "r") as f:
        X = f["features"][:]
        y = f["labels"][:] if "labels" in f else None
    return X, y


def _cell(text, typ):
    """A CSV field as a value of the column's type (numpy form: timestamps in µs, dates in days)."""
    if text == "":
        return None
    if typ in ("int", "bigint"):
        return int(text)
    if typ in ("float", "double"):
        return float(text)
    if typ == "boolean":
        return text.lower() in ("true", "1")
    if typ == "timestamp":
        import datetime
        d = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (d - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)) // datetime.timedelta(microseconds=1)
    if typ == "date":
        import datetime
        return (datetime.date.fromisoformat(text) - datetime.date(1970, 1, 1)).days
    return text


def _read_csv(path, cols):
    import csv
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        header = next(r)
        idx = [header.index(c["name"]) for c in cols]
        out = [[] for _ in cols]
        for row in r:
            for k, c in enumerate(cols):
                out[k].append(_cell(row[idx[k]], c["type"]))
    return out


def _fields(buf):
    i = 0
    while i < len(buf):
        tag, i = _parquet.uvarint(buf, i)
        wt = tag & 7
        if wt == 2:
            n, i = _parquet.uvarint(buf, i)
            yield tag >> 3, wt, buf[i:i + n]
            i += n
        elif wt == 0:
            v, i = _parquet.uvarint(buf, i)
            yield tag >> 3, wt, v
        elif wt == 5:
            yield tag >> 3, wt, buf[i:i + 4]
            i += 4
        elif wt == 1:
            yield tag >> 3, wt, buf[i:i + 8]
            i += 8
        else:
            raise ValueError("corrupt tf.train.Example (wire type %d)" % wt)


def _example(buf):
    """A serialized tf.train.Example as {name: first value or None}."""
    out = {}
    for _, _, features in _fields(buf):
        for _, _, entry in _fields(features):
            name, feature = None, b""
            for f, _, v in _fields(entry):
                if f == 1:
                    name = bytes(v).decode("utf-8")
                elif f == 2:
                    feature = v
            value = None
            for kind, _, lst in _fields(feature):
                for _, wt, v in _fields(lst):
                    if kind == 1:
                        value = bytes(v).decode("utf-8")
                    elif kind == 2:
                        value = struct.unpack("<f", bytes(v[:4]))[0]
                    else:
                        x = _parquet.uvarint(v, 0)[0] if wt == 2 else v
                        value = x - (1 << 64) if x >= 1 << 63 else x
                    break
            out[name] = value
    return out


def _read_tfrecord(path, cols):
    """TFRecord framing (uint64 length, masked crc32c, data, masked crc32c) of tf.train.Example records."""
    with open(path, "rb") as f:
        data = f.read()
    out = [[] for _ in cols]
    i = 0
    while i < len(data):
        if i + 12 > len(data):
            raise ValueError("%s: a truncated record at byte %d" % (path, i))
        (n,) = struct.unpack_from("<Q", data, i)
        rec = data[i + 12:i + 12 + n]
        if len(rec) != n or i + 16 + n > len(data):
            raise ValueError("%s: a truncated record at byte %d" % (path, i))
        ex = _example(rec)
        for k, c in enumerate(cols):
            v = ex.get(c["name"])
            if c["type"] == "boolean" and v is not None:
                v = bool(v)
            out[k].append(v)
        i += 16 + n
    return out


def _read_parquet(path, cols):
    names, columns = _parquet.read(path)
    by = dict(zip(names, columns))
    out = []
    for c in cols:
        v = by[c["name"]]
        if c["type"] == "boolean":
            v = [None if x is None else bool(x) for x in v]
        out.append(v)
    return out


def _assemble(cols, values, as_):
    """Columns of Python values → (X, y) as numpy arrays or pandas objects."""
    feats = [(c, v) for c, v in zip(cols, values) if not c["label"]]
    labels = [(c, v) for c, v in zip(cols, values) if c["label"]]
    if as_ == "pandas":
        import pandas as pd

        def frame(pairs):
            return pd.DataFrame({c["name"]: _pandas_column(c, v) for c, v in pairs})

        X = frame(feats)
        y = None
        if labels:
            y = frame(labels)
            if len(labels) == 1:
                y = y[labels[0][0]["name"]]
        return X, y
    return _matrix(feats), (_matrix(labels, vector=len(labels) == 1) if labels else None)


def _pandas_column(c, v):
    import pandas as pd
    if c["type"] == "timestamp":
        return pd.to_datetime(pd.Series(v, dtype="float64"), unit="us", utc=True)
    if c["type"] == "date":
        return pd.to_datetime(pd.Series(v, dtype="float64"), unit="D")
    if c["type"] in ("int", "bigint") and None in v:
        return pd.Series(v, dtype="float64")
    return pd.Series(v)


def _matrix(pairs, vector=False):
    """The server's matrix rule (formats/matrix.h), with strings giving an object array."""
    import numpy as np
    n = len(pairs[0][1]) if pairs else 0
    if any(c["type"] == "string" for c, _ in pairs):
        m = np.empty((n, len(pairs)), dtype=object)
        for k, (_, v) in enumerate(pairs):
            m[:, k] = v
    elif all(c["type"] in _INT_TYPES and None not in v for c, v in pairs):
        m = np.array([[int(x) for x in v] for _, v in pairs], dtype=np.int64).T.reshape(n, len(pairs))
    else:
        m = np.array([[np.nan if x is None else float(x) for x in v] for _, v in pairs],
                     dtype=np.float64).T.reshape(n, len(pairs))
    return m[:, 0] if vector else m


# --- online vectors -------------------------------------------------------------------------


def get_feature_vectors(project, name, version, entries):
    """The view's features (labels left out) for each entry ({primary key: value}) from the online store, in
    the view's order: a list of lists, with None for an entry the store has no row for."""
    out = project.connection.request("POST", _view_path(project, name, version, "/vectors"),
                                     {"entries": list(entries)})
    return out["vectors"]


def get_feature_vector(project, name, version, entry):
    """The vector of one entry (a list), or None when the online store has no row for it."""
    return get_feature_vectors(project, name, version, [entry])[0]


def feature_vector_names(project, name, version, entry):
    """(feature names, vector) of one entry."""
    out = project.connection.request("POST", _view_path(project, name, version, "/vectors"), {"entries": [entry]})
    return out["features"], out["vectors"][0]


__all__ = ["FORMATS", "FeatureView", "create_feature_view", "get_feature_view", "list_feature_views",
           "delete_feature_view", "create_training_data", "list_training_data", "get_training_data_info",
           "get_training_data", "read_training_data_dir", "get_feature_vector", "get_feature_vectors",
           "feature_vector_names"]

