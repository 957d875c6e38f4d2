"""The feature store's files are real Parquet: DuckDB (an independent
reader) reads every committed c<N>.parquet, every compaction snapshot
s<N>.parquet and every format=parquet export, and every value matches
what was inserted or what the group answers as JSON."""

import math
import random
import struct

import pytest

from fstest import commits, create, data_files, duckdb_runner, group_dir, insert_ok, read, rows
from oasttest import assert_status

FEATURES = [
    ("id", "bigint"), ("i", "int"), ("bi", "bigint"), ("f", "float"), ("d", "double"), ("s", "string"),
    ("b", "boolean"), ("ts", "timestamp"), ("dt", "date"),
]
NAMES = [n for n, _ in FEATURES]
DUCK_TYPES = {"int": "INTEGER", "bigint": "BIGINT", "float": "FLOAT", "double": "DOUBLE", "string": "VARCHAR",
              "boolean": "BOOLEAN", "timestamp": "TIMESTAMP WITH TIME ZONE", "date": "DATE"}


@pytest.fixture(scope="module")
def duck():
    return duckdb_runner()


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def make_rows(n, seed, start=0):
    """Rows as (value per column) with the canonical forms DuckDB prints:
    timestamps in epoch microseconds, dates in days since 1970-01-01."""
    rnd = random.Random(seed)
    words = ["", "plain", "comma, inside", 'quote "q"', "new\nline", "tab\there", "日本語", "é" * 50, "x" * 500]
    out = []
    for k in range(n):
        def maybe(v, p=0.1):
            return None if rnd.random() < p else v
        out.append([
            start + k,
            maybe(rnd.choice([rnd.randint(-1000, 1000), -2 ** 31, 2 ** 31 - 1])),
            maybe(rnd.choice([rnd.randint(-2 ** 62, 2 ** 62), -2 ** 63, 2 ** 63 - 1])),
            maybe(f32(rnd.choice([rnd.uniform(-1e6, 1e6), 0.0, 3.4e38, 1e-30]))),
            maybe(rnd.choice([rnd.uniform(-1e12, 1e12), 0.0, -0.0, 1e-300, -1.5e300, float("inf"), float("-inf"),
                              float("nan")])),
            maybe(rnd.choice(words + ["v-%d" % rnd.randint(0, 10 ** 9)] * 3)),
            maybe(rnd.random() < 0.5),
            maybe(rnd.randint(-2 * 10 ** 15, 4 * 10 ** 15)),
            maybe(rnd.randint(-30000, 60000)),
        ])
    return out


def _ts_text(us):
    import datetime
    return (datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _date_text(days):
    import datetime
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=days)).isoformat()


def to_csv(rs):
    """Our rows as a CSV body (RFC 4180 quoting, empty for null)."""
    import csv
    import io
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(NAMES)
    for r in rs:
        cells = []
        for (name, kind), v in zip(FEATURES, r):
            if v is None:
                cells.append("")
            elif kind == "boolean":
                cells.append("true" if v else "false")
            elif kind in ("float", "double"):
                cells.append("nan" if math.isnan(v) else repr(v))
            elif kind == "timestamp":
                cells.append(_ts_text(v))
            elif kind == "date":
                cells.append(_date_text(v))
            elif kind == "string" and v == "":
                cells.append('""')
            else:
                cells.append(str(v))
        buf.write(",".join(c if c == '""' else _quote(c) for c in cells) + "\n")
    return buf.getvalue()


def _quote(c):
    if any(ch in c for ch in ',"\r\n'):
        return '"' + c.replace('"', '""') + '"'
    return c


def duck_form(kind, v):
    """A value as tests/tools/duckdb.mjs prints it."""
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    return v


def same(kind, a, b):
    if a is None or b is None:
        return a is None and b is None
    if kind in ("float", "double") and not isinstance(a, str) and not isinstance(b, str):
        if kind == "float":
            a, b = f32(a), f32(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


def duck_select(path):
    exprs = []
    for name, kind in FEATURES:
        q = '"%s"' % name
        if kind == "timestamp":
            exprs.append("epoch_us(%s)" % q)
        elif kind == "date":
            exprs.append("(%s - DATE '1970-01-01')" % q)
        else:
            exprs.append(q)
    return "SELECT %s FROM read_parquet('%s') ORDER BY id" % (", ".join(exprs), path)


def compare(want, got):
    assert len(want) == len(got), "%d rows expected, %d read" % (len(want), len(got))
    for r, (w, g) in enumerate(zip(want, got)):
        for c, (name, kind) in enumerate(FEATURES):
            assert same(kind, duck_form(kind, w[c]), g[c]), "row %d, column %s: %r != %r" % (r, name, w[c], g[c])


def check_types(duck, path):
    types = duck("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('%s'))" % path)
    assert types == [[n, DUCK_TYPES[k]] for n, k in FEATURES]


def test_duckdb_reads_every_commit_file(world, duck):
    p = world.new_project("fsf")
    api, key = world.api, world.alice.key
    create(api, key, p, {"name": "all", "primary_key": ["id"],
                         "features": [{"name": n, "type": k} for n, k in FEATURES]})
    batches = [make_rows(1500, 1), make_rows(700, 2, start=1500), make_rows(300, 3, start=400)]  # the last upserts
    for b in batches:
        insert_ok(api, key, p, "all", to_csv(b))
    cs = sorted(c["commit_id"] for c in commits(api, key, p, "all"))
    d = group_dir(world.server, p, "all")
    assert data_files(world.server, p, "all") == ["c%d.parquet" % c for c in cs]
    for c, b in zip(cs, batches):
        path = d / ("c%d.parquet" % c)
        check_types(duck, path)
        compare(sorted(b, key=lambda r: r[0]), duck(duck_select(path)))


def test_duckdb_reads_exports_and_snapshots(world, duck, tmp_path):
    p = world.new_project("fsf")
    api, key = world.api, world.alice.key
    create(api, key, p, {"name": "all", "primary_key": ["id"],
                         "features": [{"name": n, "type": k} for n, k in FEATURES]})
    first = make_rows(800, 11)
    c1 = insert_ok(api, key, p, "all", to_csv(first))["commit_id"]
    second = make_rows(400, 12, start=600)  # 200 updates, 200 new
    insert_ok(api, key, p, "all", to_csv(second))
    merged = {r[0]: r for r in first}
    merged.update({r[0]: r for r in second})
    want = [merged[k] for k in sorted(merged)]

    def export(as_of=None, limit=None):
        r = read(api, key, p, "all", as_of=as_of, fmt="parquet", limit=limit)
        assert_status(r, 200)
        assert r.headers["content-type"] == "application/vnd.apache.parquet"
        path = tmp_path / ("export-%s-%s.parquet" % (as_of, limit))
        path.write_bytes(r.body)
        return path

    path = export()
    check_types(duck, path)
    compare(want, duck(duck_select(path)))
    compare(sorted(first), duck(duck_select(export(as_of=c1))))
    assert len(duck(duck_select(export(limit=10)))) == 10
    # JSON and Parquet answer the same rows
    js = rows(api, key, p, "all")
    assert [r["id"] for r in sorted(js, key=lambda r: r["id"])] == [r[0] for r in want]

    out = assert_status(api.call("POST", "/projects/%s/featurestore/featuregroups/all/versions/1/compact" % p, key),
                        200).json()
    snap = group_dir(world.server, p, "all") / ("s%d.parquet" % out["commit_id"])
    check_types(duck, snap)
    compare(want, duck(duck_select(snap)))
    # the statistics DuckDB computes agree with the group's
    st = {c["name"]: c for c in api.get("/projects/%s/featurestore/featuregroups/all/versions/1/statistics" % p,
                                        key).json()["columns"]}
    lo, hi, n, nulls = duck("SELECT min(i), max(i), count(i), count(*) - count(i) FROM read_parquet('%s')" % snap)[0]
    assert (st["i"]["min"], st["i"]["max"], st["i"]["count"], st["i"]["null_count"]) == (lo, hi, n, nulls)
    mean, sd = duck("SELECT avg(bi::DOUBLE), stddev_pop(bi::DOUBLE) FROM read_parquet('%s')" % snap)[0]
    assert math.isclose(st["bi"]["mean"], mean, rel_tol=1e-9) and math.isclose(st["bi"]["stddev"], sd, rel_tol=1e-6)
