"""
oast.featurestore — a project's offline feature store: feature groups,
their commits, time travel, statistics and expectations.

    fs = project.get_feature_store()
    fg = fs.create_feature_group("tx", primary_key=["id"], event_time="ts",
                                 features=[("id", "bigint"), ("ts", "timestamp"), ("amount", "double")])
    fg.insert([{"id": 1, "ts": "2024-01-01T00:00:00Z", "amount": 9.5}])
    rows = fg.read()                   # a DataFrame when pandas is installed, else a list of dicts
    old = fg.read(as_of=1)             # time travel: by commit id or ISO-8601 time

Every insert is one commit, all or nothing. A :class:`FeatureGroup` sends
its data streamed: a pandas DataFrame is written as CSV to a temporary
file (timestamps in ISO-8601 UTC, integers without a decimal point) and
uploaded in chunks; a list of dicts is sent as NDJSON; a path is sent as
it is, its format taken from its extension. pandas and numpy are used
only when present: without them everything works on lists of dicts.

Errors are the client's exceptions (``oast.BadRequest`` for a bad row,
naming row and column; ``oast.ValidationFailed`` when a ``strict``
expectation suite refused an insert, with the report in ``.body``).
"""

import datetime
import http.client
import io
import json
import math
import os
import tempfile

from . import errors
from .client import CHUNK, quote_path

try:  # optional
    import pandas as _pd
except ImportError:  # pragma: no cover - depends on the machine
    _pd = None

FEATURE_TYPES = ("int", "bigint", "float", "double", "string", "boolean", "timestamp", "date")
CONTENT_TYPES = {"csv": "text/csv", "ndjson": "application/x-ndjson", "json": "application/json"}
EXTENSIONS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "json"}


def have_pandas():
    """True when pandas can be imported (DataFrames in and out)."""
    return _pd is not None


def _is_dataframe(x):
    return _pd is not None and isinstance(x, _pd.DataFrame)


# --- types -------------------------------------------------------------------


def _type_of_value(v):
    """The feature type of one Python value, or None for null/unknown."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "bigint"
    if isinstance(v, float):
        return "double"
    if isinstance(v, datetime.datetime):
        return "timestamp"
    if isinstance(v, datetime.date):
        return "date"
    if isinstance(v, str):
        return "string"
    if _pd is not None and isinstance(v, _pd.Timestamp):
        return "timestamp"
    return None


def _merge_types(a, b):
    if a is None or a == b:
        return b
    if b is None:
        return a
    if {a, b} == {"bigint", "double"}:
        return "double"
    if {a, b} == {"timestamp", "date"}:
        return "timestamp"
    return "string"


def _dtype_feature(series):
    """The feature type of a pandas column from its dtype (objects by their values)."""
    kind = series.dtype.kind
    name = str(series.dtype)
    if name in ("boolean", "bool"):
        return "boolean"
    if kind in "iu":
        size = series.dtype.itemsize
        return "int" if size < 4 or (size == 4 and kind == "i") else "bigint"
    if kind == "f":
        return "float" if series.dtype.itemsize == 4 else "double"
    if kind == "M" or name.startswith("datetime64"):
        return "timestamp"
    t = None
    for v in series.dropna().head(1000):
        t = _merge_types(t, _type_of_value(v))
    return t or "string"


def infer_features(data):
    """The features [{"name", "type"}] of a DataFrame or a list of dicts,
    from the dtypes (DataFrame) or the Python types of the values."""
    if _is_dataframe(data):
        return [{"name": str(c), "type": _dtype_feature(data[c])} for c in data.columns]
    if isinstance(data, (list, tuple)):
        order, types = [], {}
        for row in data:
            if not isinstance(row, dict):
                raise TypeError("rows must be dicts, not %s" % type(row).__name__)
            for k, v in row.items():
                if k not in types:
                    order.append(k)
                    types[k] = None
                types[k] = _merge_types(types[k], _type_of_value(v))
        return [{"name": k, "type": types[k] or "string"} for k in order]
    raise TypeError("cannot infer features from %s; give features=" % type(data).__name__)


def _features_arg(features):
    """features= as the API's list: dicts, (name, type) pairs or {name: type}."""
    if isinstance(features, dict):
        return [{"name": k, "type": v} for k, v in features.items()]
    out = []
    for f in features:
        if isinstance(f, dict):
            out.append(dict(f))
        elif isinstance(f, (list, tuple)) and len(f) in (2, 3):
            d = {"name": f[0], "type": f[1]}
            if len(f) == 3:
                d["description"] = f[2]
            out.append(d)
        else:
            raise TypeError("a feature is a dict, a (name, type) pair or (name, type, description), not %r" % (f,))
    return out


# --- encoding rows -------------------------------------------------------------


def _iso(v):
    """A datetime as ISO-8601 UTC ("...Z"); naive datetimes are taken as UTC."""
    if v.tzinfo is not None:
        v = v.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return v.isoformat(timespec="microseconds") + "Z"


def _json_value(v):
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if _pd is not None:
        if isinstance(v, _pd.Timestamp):
            return None if _pd.isna(v) else _iso(v.to_pydatetime())
        if v is _pd.NaT or (v is not None and not isinstance(v, (str, bytes, list, dict)) and _pd.api.types.is_scalar(v)
                            and _pd.isna(v)):
            return None
    if isinstance(v, datetime.datetime):
        return _iso(v)
    if isinstance(v, datetime.date):
        return v.isoformat()
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # numpy scalars
        return _json_value(v.item())
    return v


def _ndjson(rows, out):
    """Writes dicts as NDJSON into the binary file out."""
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise TypeError("row %d is a %s, not a dict" % (i + 1, type(row).__name__))
        out.write(json.dumps({k: _json_value(v) for k, v in row.items()}, allow_nan=False).encode("utf-8"))
        out.write(b"\n")


def _dataframe_csv(df, features, out):
    """Writes a DataFrame as CSV (header row) into the binary file out, with
    each column in the text form the group's type expects."""
    types = {f["name"]: f["type"] for f in features or []}
    df = df.copy(deep=False)
    for c in df.columns:
        col = df[c]
        t = types.get(str(c))
        if str(col.dtype).startswith("datetime64"):
            if getattr(col.dt, "tz", None) is not None:
                col = col.dt.tz_convert("UTC").dt.tz_localize(None)
            if t == "date":
                df[c] = col.dt.strftime("%Y-%m-%d")
            else:
                df[c] = col.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        elif col.dtype.kind == "O":
            df[c] = col.map(lambda v: _json_value(v) if isinstance(v, (datetime.date, _pd.Timestamp)) else v)
        elif t in ("int", "bigint") and col.dtype.kind == "f":
            df[c] = col.astype("Int64")  # 3.0 → "3"; NaN → empty
        elif col.dtype.kind == "b" or str(col.dtype) == "boolean":
            df[c] = col.map(lambda v: None if _pd.isna(v) else ("true" if v else "false"))
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        df.to_csv(text, index=False, lineterminator="\n", float_format=None)
    finally:
        text.detach()


# --- the feature store ----------------------------------------------------------


class FeatureStore:
    """``project.get_feature_store()``: the project's feature groups."""

    def __init__(self, project):
        self._p = project

    @property
    def project(self):
        return self._p

    def _path(self, suffix=""):
        return "/featurestore/featuregroups" + suffix

    def create_feature_group(self, name, primary_key, features=None, version=None, description="",
                             event_time=None, online_enabled=False, statistics=None, data=None):
        """Creates a feature group and returns its :class:`FeatureGroup`.

        ``primary_key`` is a feature name or a list of them. ``features``
        is a list of {"name", "type", "description"?} dicts, (name, type)
        pairs or a {name: type} dict; when it is None the features are
        inferred from ``data`` (a DataFrame or a list of dicts), which is
        then inserted as the first commit. Types: int, bigint, float,
        double, string, boolean, timestamp, date. ``statistics`` is
        {"enabled", "histograms", "correlations"} (all optional).
        Without ``version``, the next free one."""
        if features is None:
            if data is None:
                raise ValueError("give features=, or data= to infer them from")
            features = infer_features(data)
        body = {"name": name, "description": description, "features": _features_arg(features),
                "primary_key": [primary_key] if isinstance(primary_key, str) else list(primary_key),
                "online_enabled": bool(online_enabled)}
        if version is not None:
            body["version"] = version
        if event_time is not None:
            body["event_time"] = event_time
        if statistics is not None:
            body["statistics"] = dict(statistics)
        info = self._p.request("POST", self._path(), body)
        fg = FeatureGroup(self, info)
        if data is not None:
            fg.insert(data)
        return fg

    def list(self):
        """Every feature group and version: [FeatureGroup], by name and version."""
        return [FeatureGroup(self, i) for i in self._p.request("GET", self._path())["items"]]

    def versions(self, name):
        """The versions of feature group ``name``, oldest first."""
        return sorted(fg.version for fg in self.list() if fg.name == name)

    def get_feature_group(self, name, version=None):
        """One feature group; without ``version`` its newest. Raises
        oast.NotFound when there is none."""
        if version is None:
            vs = self.versions(name)
            if not vs:
                raise errors.NotFound(404, "not_found", "feature group \"%s\" not found in project \"%s\""
                                      % (name, self._p.name))
            version = vs[-1]
        info = self._p.request("GET", self._path("/%s/versions/%d" % (quote_path(name), int(version))))
        return FeatureGroup(self, info)

    def delete_feature_group(self, name, version):
        """Deletes one version with its data and history (data owner only)."""
        self._p.request("DELETE", self._path("/%s/versions/%d" % (quote_path(name), int(version))))


class FeatureGroup:
    """One version of a feature group. Attributes from the server:
    ``name``, ``version``, ``description``, ``features`` (a list of
    {"name", "type", "description"}), ``primary_key``, ``event_time``,
    ``online_enabled``, ``statistics`` (its settings), ``commits`` and
    ``latest_commit`` (as of the last refresh); the whole answer is
    ``info``."""

    def __init__(self, store, info):
        self._fs = store
        self.info = info
        self.name = info["name"]
        self.version = info["version"]

    def __getattr__(self, key):
        info = self.__dict__.get("info") or {}
        if key in info:
            return info[key]
        raise AttributeError(key)

    def __repr__(self):
        return "<oast.FeatureGroup %s:%d>" % (self.name, self.version)

    @property
    def feature_names(self):
        return [f["name"] for f in self.info["features"]]

    def _suffix(self, tail=""):
        return "/featurestore/featuregroups/%s/versions/%d%s" % (quote_path(self.name), self.version, tail)

    def _request(self, method, tail="", body=None, query=None):
        return self._fs.project.request(method, self._suffix(tail), body, query)

    def refresh(self):
        """Reloads the definition and commit counts; returns self."""
        self.info = self._request("GET")
        return self

    # --- writing ---------------------------------------------------------------

    def insert(self, data, operation="upsert", format=None):
        """Inserts rows as one commit and returns {"commit_id",
        "rows_inserted", "rows_updated", "validation"}.

        ``data`` is a pandas DataFrame, a list of dicts, a local file path
        (CSV with a header row, NDJSON or a JSON array; the format from the
        extension unless ``format`` says), bytes (with ``format``) or a
        binary file object (with ``format``). ``operation`` "upsert" (the
        default) replaces rows whose key exists, "insert" refuses them.
        Nothing is written when any row is bad (oast.BadRequest naming
        row and column) or a strict expectation fails
        (oast.ValidationFailed)."""
        if operation not in ("upsert", "insert"):
            raise ValueError("operation must be \"upsert\" or \"insert\", not %r" % (operation,))
        spool = None
        close = False
        try:
            if _is_dataframe(data):
                spool = tempfile.TemporaryFile()
                _dataframe_csv(data, self.info.get("features"), spool)
                fmt, f = "csv", spool
            elif isinstance(data, (list, tuple)):
                spool = tempfile.TemporaryFile()
                _ndjson(data, spool)
                fmt, f = "ndjson", spool
            elif isinstance(data, (str, os.PathLike)):
                path = os.fspath(data)
                fmt = format or EXTENSIONS.get(os.path.splitext(path)[1].lower())
                if fmt is None:
                    raise ValueError("cannot tell the format of %r from its name; give format=" % path)
                f = open(path, "rb")
                close = True
            elif isinstance(data, (bytes, bytearray, memoryview)):
                if format is None:
                    raise ValueError("bytes need format= (csv, ndjson or json)")
                fmt, f = format, io.BytesIO(bytes(data))
            elif hasattr(data, "read"):
                if format is None:
                    raise ValueError("a file object needs format= (csv, ndjson or json)")
                fmt, f = format, data
            else:
                raise TypeError("cannot insert a %s; give a DataFrame, a list of dicts, a path, bytes or a file"
                                % type(data).__name__)
            ctype = CONTENT_TYPES.get(fmt)
            if ctype is None:
                raise ValueError("format must be csv, ndjson or json, not %r" % (fmt,))
            if spool is not None:
                f.seek(0)
                length = os.fstat(f.fileno()).st_size
            else:
                length = _remaining(f)
            conn = self._fs.project.connection
            resp, hc = conn.send("POST", self._fs.project.path(self._suffix("/data")), f, length,
                                 query={"operation": operation}, headers={"Content-Type": ctype})
            return conn.finish(resp, hc)
        finally:
            if spool is not None:
                spool.close()
            if close:
                f.close()

    def compact(self):
        """Rewrites the latest state as one file (reads get faster; every
        answer, time travel included, stays the same) → {"commit_id", "rows"}."""
        return self._request("POST", "/compact")

    def delete(self):
        """Deletes this version with its data and history (data owner only)."""
        self._request("DELETE")

    # --- reading ---------------------------------------------------------------

    def read(self, as_of=None, format=None, limit=None, dest=None):
        """The group's rows, latest or as of a commit id (int) or a time
        (ISO-8601 string or datetime).

        ``format`` None: a pandas DataFrame when pandas is present (columns
        typed from the schema: timestamps as UTC datetimes, dates as
        ``datetime.date``, integers nullable), else a list of dicts (the
        JSON values: timestamps and dates as ISO-8601 strings).
        ``"dataframe"`` or ``"records"`` pick one. ``"csv"``, ``"json"`` or
        ``"parquet"`` return the exported bytes, or with ``dest`` (a path
        or a binary file object) write them there and return the byte
        count; a path is written whole or not at all."""
        check_rows_format(format)
        query = {}
        if as_of is not None:
            query["as_of"] = _iso(as_of) if isinstance(as_of, datetime.datetime) else str(as_of)
        if limit is not None:
            query["limit"] = int(limit)
        if format in ("csv", "json", "parquet"):
            query["format"] = format
            return self._download(query, dest)
        query["format"] = "json"
        rows = self._request("GET", "/data", query=query)
        return rows_as(self.info["features"], rows, format)

    def _download(self, query, dest):
        return download_rows(self._fs.project.connection, self._fs.project.path(self._suffix("/data")), query, dest)


    # --- history, statistics, validation -----------------------------------------

    def commits(self):
        """[{"commit_id", "committed_on", "operation", "rows_inserted",
        "rows_updated", "rows_deleted", "compacted"}], newest first."""
        return self._request("GET", "/commits")["items"]

    def statistics(self, commit=None):
        """The statistics as of a commit (default the latest): {"commit_id",
        "columns": [{"name", "type", "count", "null_count", "distinct_count",
        "min", "max", "mean", "stddev", "histogram"}], "correlations"?}."""
        query = {"commit": int(commit)} if commit is not None else None
        return self._request("GET", "/statistics", query=query)

    def set_expectations(self, rules, policy="always"):
        """Sets the expectation suite: ``rules`` a list of {"column", "rule",
        ...} (not_null, unique, min, max, between, in_set, regex,
        mean_between, completeness_at_least); ``policy`` "always" (store and
        report) or "strict" (refuse failing inserts, nothing written)."""
        return self._request("PUT", "/expectations", {"policy": policy, "rules": list(rules)})

    def expectations(self):
        """The expectation suite, or None when the group has none."""
        try:
            return self._request("GET", "/expectations")
        except errors.NotFound:
            return None

    def validations(self):
        """Validation reports of inserts, newest first: [{"id", "commit_id",
        "time", "success", "ingested", "report"}]; refused strict inserts
        are kept with "ingested": False."""
        return self._request("GET", "/validations")["items"]


def check_rows_format(format):
    """Refuses a read ``format`` other than None, dataframe, records, csv, json or parquet."""
    if format not in (None, "dataframe", "records", "csv", "json", "parquet"):
        raise ValueError("format must be None, dataframe, records, csv, json or parquet, not %r" % (format,))
    if format == "dataframe" and _pd is None:
        raise RuntimeError("format=\"dataframe\" needs pandas")


def rows_as(features, rows, format=None):
    """JSON rows as a list of dicts (``format="records"``, or None without pandas) or a DataFrame typed from
    ``features`` ([{"name", "type"}]): timestamps as UTC datetimes, dates as ``datetime.date``, integers
    nullable."""
    rows = rows if isinstance(rows, list) else []
    if format == "records" or (format is None and _pd is None):
        return [dict(r) for r in rows]
    df = _pd.DataFrame([[r.get(f["name"]) for f in features] for r in rows],
                       columns=[f["name"] for f in features])
    for f in features:
        c, t = f["name"], f["type"]
        if t == "timestamp":
            df[c] = _pd.to_datetime(df[c], utc=True)
        elif t == "date":
            df[c] = df[c].map(lambda s: None if s is None else datetime.date.fromisoformat(s)).astype(object)
        elif t in ("int", "bigint"):
            df[c] = df[c].astype("Int64" if df[c].isna().any() else ("int32" if t == "int" else "int64"))
        elif t in ("float", "double"):
            df[c] = df[c].astype("float32" if t == "float" else "float64")
        elif t == "boolean":
            df[c] = df[c].astype("boolean" if df[c].isna().any() else "bool")
    return df


def download_rows(conn, path, query, dest):
    """The bytes of GET path?query, or with ``dest`` (a path, written whole or not at all, or a binary file
    object) the byte count written there."""
    if dest is None:
        resp, hc = conn.open_stream("GET", path, query=query)
        try:
            buf = io.BytesIO()
            _copy(resp, buf)
            return buf.getvalue()
        finally:
            hc.close()
    if hasattr(dest, "write"):
        resp, hc = conn.open_stream("GET", path, query=query)
        try:
            return _copy(resp, dest)
        finally:
            hc.close()
    dest = os.fspath(dest)
    folder = os.path.dirname(os.path.abspath(dest))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(dest) + ".")
    try:
        resp, hc = conn.open_stream("GET", path, query=query)
        try:
            with os.fdopen(fd, "wb") as out:
                n = _copy(resp, out)
        finally:
            hc.close()
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return n


def _remaining(f):
    try:
        here = f.tell()
        end = f.seek(0, io.SEEK_END)
        f.seek(here)
        return end - here
    except (AttributeError, OSError, ValueError):
        raise ValueError("the file object must be seekable (or pass a path, bytes or rows)") from None


def _copy(resp, out):
    n = 0
    while True:
        try:
            chunk = resp.read(CHUNK)
        except (http.client.HTTPException, OSError) as exc:
            raise errors.connection_failed("the download broke off after %d bytes: %r" % (n, exc)) from None
        if not chunk:
            return n
        out.write(chunk)
        n += len(chunk)
