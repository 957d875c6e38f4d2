"""
fvtest — what the feature view suites share: making feature groups and
inserting rows over REST, a point-in-time oracle written from the contract
(not from the server's code), and independent readers of the training data
formats: a TFRecord reader written from the published framing (with its own
CRC-32C), the csv module, numpy, h5py and DuckDB (tests/tools/duckdb.mjs).
"""

import csv
import datetime
import io
import json
import os
import struct
import subprocess
from pathlib import Path

from oasttest import assert_status
from tfrecordtest import protobuf_fields, tfrecords, varint

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "tests" / "tools"
FS = "/projects/{p}/featurestore"


def fs_path(p, suffix=""):
    return FS.format(p=p) + suffix


def make_group(api, key, p, name, features, pk, event_time=None, online=False, version=1):
    """Creates a feature group; features is [(name, type)]. Returns the answer."""
    body = {"name": name, "version": version, "primary_key": pk, "online_enabled": online,
            "features": [{"name": n, "type": t} for n, t in features]}
    if event_time:
        body["event_time"] = event_time
    r = api.call("POST", fs_path(p, "/featuregroups"), key, json=body)
    assert_status(r, 201)
    return r.json()


def insert(api, key, p, name, rows, version=1, operation="upsert"):
    """Inserts rows (dicts) as a JSON array; returns the commit answer."""
    r = api.call("POST", fs_path(p, "/featuregroups/%s/versions/%d/data?operation=%s" % (name, version, operation)),
                 key, data=json.dumps(rows).encode(), headers={"Content-Type": "application/json"})
    assert_status(r, 201)
    return r.json()


def make_view(api, key, p, body, status=201):
    r = api.call("POST", fs_path(p, "/featureviews"), key, json=body)
    assert_status(r, status)
    return r.json()


def make_td(api, key, p, view, version, body, status=201):
    r = api.call("POST", fs_path(p, "/featureviews/%s/versions/%d/trainingdata" % (view, version)), key, json=body)
    assert_status(r, status)
    return r.json()


def vectors(api, key, p, view, version, entries):
    return api.call("POST", fs_path(p, "/featureviews/%s/versions/%d/vectors" % (view, version)), key,
                    json={"entries": entries})


# --- time ---------------------------------------------------------------------

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def ts_text(us):
    """An ISO-8601 text of epoch microseconds, as the server writes them."""
    d = EPOCH + datetime.timedelta(microseconds=us)
    frac = ".%06d" % d.microsecond if d.microsecond else ""
    return d.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def ts_us(text):
    d = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (d - EPOCH) // datetime.timedelta(microseconds=1)


def date_text(days):
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=days)).isoformat()


# --- the oracle ---------------------------------------------------------------


def merged(commits, key):
    """The state after commits (lists of row dicts) applied as upserts on key(row)."""
    state = {}
    for rows in commits:
        for row in rows:
            state[key(row)] = row
    return list(state.values())


def asof(rows, key_of, time_of, key, t):
    """The row among rows with key_of(row) == key and the greatest time_of(row) <= t (t None: the greatest);
    None when there is none. Keys and times of rows are unique (a group's primary key and event time)."""
    best = None
    for row in rows:
        if key is None or key_of(row) != key:
            continue
        rt = time_of(row) if time_of else 0
        if t is not None and time_of and rt > t:
            continue
        if best is None or rt > (time_of(best) if time_of else 0):
            best = row
    return best


# --- independent readers ----------------------------------------------------------


def _signed64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def parse_example(buf):
    """A tf.train.Example as {name: (kind, [values])}, kind bytes|float|int64."""
    out = {}
    for fnum, _, features in protobuf_fields(buf):
        assert fnum == 1
        for fnum2, _, entry in protobuf_fields(features):
            assert fnum2 == 1
            name, feature = None, None
            for f3, _, v in protobuf_fields(entry):
                if f3 == 1:
                    name = v.decode()
                elif f3 == 2:
                    feature = v
            kind, values = None, []
            for f4, _, lst in protobuf_fields(feature):
                kind = {1: "bytes", 2: "float", 3: "int64"}[f4]
                for f5, wt, v in protobuf_fields(lst):
                    assert f5 == 1
                    if kind == "bytes":
                        values.append(bytes(v))
                    elif kind == "float":
                        if wt == 2:
                            values += list(struct.unpack("<%df" % (len(v) // 4), v))
                        else:
                            values.append(struct.unpack("<f", v)[0])
                    else:
                        if wt == 2:
                            j = 0
                            while j < len(v):
                                x, j = varint(v, j)
                                values.append(_signed64(x))
                        else:
                            values.append(_signed64(v))
            out[name] = (kind, values)
    return out


def read_tfrecord(path):
    """Every record of a TFRecord file, checking both masked CRC-32Cs; each parsed as an Example."""
    return [parse_example(rec) for rec in tfrecords(path)]


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def duckdb(*sql):
    """Rows of the last statement, as DuckDB sees them (tests/tools/duckdb.mjs)."""
    subprocess.run([str(TOOLS / "duckdb-setup.sh")], check=True)
    p = subprocess.run(["node", str(TOOLS / "duckdb.mjs"), *sql], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


def td_dir(server, p, td):
    """The folder of a training dataset answer on the server's disk."""
    return server.project_dir(p) / td["path"]


def tree(path):
    """Relative file paths under path, sorted."""
    path = Path(path)
    return sorted(str(q.relative_to(path)) for q in path.rglob("*") if q.is_file())


def csv_text(rows, columns):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else r[c] for c in columns])
    return out.getvalue()


def env_flag(name):
    return os.environ.get(name, "") not in ("", "0")
