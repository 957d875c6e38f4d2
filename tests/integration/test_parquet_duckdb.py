"""Cross-checks Oast's Parquet codec against DuckDB, an independent
implementation: DuckDB must read every value of the files we write, and we
must read every value of the files DuckDB writes (every codec, data page v1
and v2, dictionary and plain encodings, nulls, several row groups).

Our side runs through build/pqtool (tests/tools/pqtool.c, `make
build/pqtool`; OAST_PQTOOL names another build), DuckDB's through
tests/tools/duckdb.mjs with @duckdb/node-api, which tests/tools/duckdb-setup.sh
installs into the git-ignored tests/.tools on first use.
"""
import json
import math
import os
import random
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "tests" / "tools"


def _pqtool():
    env = os.environ.get("OAST_PQTOOL")
    if env:
        return env
    path = REPO / "build" / "pqtool"
    subprocess.run(["make", "-s", "-C", str(REPO), "build/pqtool"], check=True)
    return str(path)


@pytest.fixture(scope="module")
def pqtool():
    return _pqtool()


@pytest.fixture(scope="module")
def duck():
    subprocess.run([str(TOOLS / "duckdb-setup.sh")], check=True)

    def run(*sql):
        p = subprocess.run(["node", str(TOOLS / "duckdb.mjs"), *sql], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        return [json.loads(line) for line in p.stdout.splitlines()]

    return run


def run_pqtool(pqtool, *args, stdin=None):
    p = subprocess.run([pqtool, *args], input=stdin, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def dump(pqtool, path, *args):
    lines = run_pqtool(pqtool, "dump", str(path), *args).splitlines()
    head = json.loads(lines[0])
    return head, [json.loads(line) for line in lines[1:]]


def f32(x):
    if isinstance(x, str):
        return x
    return struct.unpack("<f", struct.pack("<f", x))[0]


def same(kind, a, b):
    """Equality of one value: floats through their own width, NaN equal to
    NaN, -0.0 distinct from 0.0, decimals (read as doubles) within 1e-15."""
    if a is None or b is None:
        return a is None and b is None
    if kind in ("float", "double", "decimal"):
        if isinstance(a, str) or isinstance(b, str):
            return a == b
        if kind == "float":
            a, b = f32(a), f32(b)
        if kind == "decimal":
            return math.isclose(a, b, rel_tol=1e-15, abs_tol=1e-300)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


def compare(kinds, names, want, got):
    assert len(want) == len(got), f"{len(want)} rows expected, {len(got)} read"
    for r, (w, g) in enumerate(zip(want, got)):
        for c, kind in enumerate(kinds):
            assert same(kind, w[c], g[c]), f"row {r}, column {names[c]}: {w[c]!r} != {g[c]!r}"


# ---- our files, read by DuckDB ----

SCHEMA = [
    ("rid", "bigint"),
    ("i", "int"),
    ("bi", "bigint"),
    ("f", "float"),
    ("d", "double"),
    ("s", "string"),
    ("cat", "string"),
    ("b", "boolean"),
    ("ts", "timestamp"),
    ("dt", "date"),
    ("allnull", "double"),
    ("lowcard", "bigint"),
]

DUCK_TYPES = {
    "int": "INTEGER", "bigint": "BIGINT", "float": "FLOAT", "double": "DOUBLE",
    "string": "VARCHAR", "boolean": "BOOLEAN", "timestamp": "TIMESTAMP WITH TIME ZONE", "date": "DATE",
}


def make_rows(n, seed):
    rnd = random.Random(seed)
    words = ["", "a", "héllo wörld", "tab\there", "new\nline", "back\\slash", "日本語", "x" * 300, "quote\"d"]
    special_d = [0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1e-300, -1.5e300, 5e-324]
    rows = []
    for r in range(n):
        def maybe(v, p=0.1):
            return None if rnd.random() < p else v
        i = maybe(rnd.choice([rnd.randint(-1000, 1000), -2**31, 2**31 - 1, 0]))
        bi = maybe(rnd.choice([rnd.randint(-2**62, 2**62), -2**63, 2**63 - 1]))
        f = maybe(f32(rnd.choice([rnd.uniform(-1e6, 1e6), 0.0, -0.0, 3.4e38, 1e-45, float("nan")])))
        d = maybe(rnd.choice([rnd.uniform(-1e12, 1e12)] * 6 + special_d))
        s = maybe(rnd.choice(words + [f"value-{rnd.randint(0, 10**9)}"] * 5))
        cat = maybe(rnd.choice(["red", "green", "blue", "ünïcode"]), 0.3)
        b = maybe(rnd.random() < 0.5)
        ts = maybe(rnd.randint(-2 * 10**15, 4 * 10**15))
        dt = maybe(rnd.randint(-30000, 60000))
        low = maybe(rnd.randint(0, 9), 0.05)
        rows.append([r, i, bi, f, d, s, cat, b, ts, dt, None, low])
    return rows


def tsv_field(kind, v):
    if v is None:
        return "\\N"
    if kind == "boolean":
        return "true" if v else "false"
    if kind == "string":
        return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    if kind in ("float", "double"):
        return repr(v) if not math.isnan(v) else "nan"
    return str(v)


def to_json_form(kind, v):
    """A value as our dump and duckdb.mjs print it (NaN/inf as strings)."""
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    return v


def duck_select(path, schema):
    exprs = []
    for name, kind in schema:
        q = f'"{name}"'
        if kind == "timestamp":
            exprs.append(f"epoch_us({q})")
        elif kind == "date":
            exprs.append(f"({q} - DATE '1970-01-01')")
        else:
            exprs.append(q)
    return f"SELECT {', '.join(exprs)} FROM read_parquet('{path}')"


@pytest.mark.parametrize("codec,dict_mode", [
    ("uncompressed", "auto"), ("snappy", "auto"), ("zstd", "auto"), ("gzip", "auto"),
    ("snappy", "never"), ("zstd", "always"),
])
def test_duckdb_reads_every_value_we_write(tmp_path, pqtool, duck, codec, dict_mode):
    rows = make_rows(4000, seed=zlib.crc32(f"{codec}-{dict_mode}".encode()))
    kinds = [k for _, k in SCHEMA]
    names = [n for n, _ in SCHEMA]
    text = "".join("\t".join(tsv_field(k, v) for k, v in zip(kinds, row)) + "\n" for row in rows)
    out = tmp_path / "ours.parquet"
    # Small row groups and pages so the file has several of each; a tiny
    # dictionary limit makes the wide string column fall back to PLAIN.
    run_pqtool(pqtool, "write", str(out), "--schema", ",".join(f"{n}:{k}" for n, k in SCHEMA),
               "--codec", codec, "--dict", dict_mode, "--rg-rows", "1500", "--page-bytes", "2048",
               "--dict-max-bytes", "4096", "--required", "rid", "--kv", "origin=oast-test", stdin=text)

    types = duck(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{out}'))")
    assert types == [[n, DUCK_TYPES[k]] for n, k in SCHEMA]

    got = duck(duck_select(out, SCHEMA) + " ORDER BY rid")
    want = [[to_json_form(k, v) for k, v in zip(kinds, row)] for row in rows]
    compare(kinds, names, want, got)

    # Our own reader agrees too.
    head, ours = dump(pqtool, out)
    assert head["rows"] == len(rows)
    compare(kinds, names, want, ours)

    # DuckDB sees our statistics: per row group null counts and min/max.
    meta = duck(f"SELECT row_group_id, path_in_schema, stats_null_count, stats_min_value, stats_max_value "
                f"FROM parquet_metadata('{out}') WHERE path_in_schema IN ('i', 'bi', 'cat', 'allnull') "
                f"ORDER BY row_group_id, column_id")
    assert len(meta) == 3 * 4
    col = {n: c for c, n in enumerate(names)}
    for rg, name, nulls, lo, hi in meta:
        part = [r[col[name]] for r in rows[rg * 1500:(rg + 1) * 1500]]
        assert nulls == sum(v is None for v in part), (rg, name)
        present = [v for v in part if v is not None]
        if not present:
            assert lo is None and hi is None
        else:
            assert str(lo) == str(min(present)) and str(hi) == str(max(present)), (rg, name, lo, hi)
    kv = duck(f"SELECT decode(key), decode(value) FROM parquet_kv_metadata('{out}')")
    assert kv == [["origin", "oast-test"]]


def test_duckdb_reads_empty_and_required(tmp_path, pqtool, duck):
    out = tmp_path / "empty.parquet"
    run_pqtool(pqtool, "write", str(out), "--schema", "a:int,b:string", stdin="")
    assert duck(f"SELECT count(*) FROM read_parquet('{out}')") == [[0]]
    out2 = tmp_path / "req.parquet"
    run_pqtool(pqtool, "write", str(out2), "--schema", "a:int,b:string", "--required", "a,b",
               stdin="1\tx\n2\ty\n")
    assert duck(f"SELECT * FROM read_parquet('{out2}') ORDER BY a") == [[1, "x"], [2, "y"]]
    rep = duck(f"SELECT name, repetition_type FROM parquet_schema('{out2}') WHERE name != 'schema'")
    assert rep == [["a", "REQUIRED"], ["b", "REQUIRED"]]


# ---- DuckDB's files, read by us ----

# (name, DuckDB expression over i in range(n), our kind, how DuckDB normalizes it)
DUCK_COLUMNS = [
    ("rid", "i::BIGINT", "bigint", None),
    ("i", "CASE WHEN i % 7 = 0 THEN NULL ELSE (i * 37 - 50000)::INTEGER END", "int", None),
    ("bi", "(i * 1000000007 - 4000000000000)::BIGINT", "bigint", None),
    ("ti", "(i % 100 - 50)::TINYINT", "int", None),
    ("si", "CASE WHEN i % 3 = 0 THEN NULL ELSE (i % 1000)::SMALLINT END", "int", None),
    ("ui", "(i * 3 + 4000000000)::UINTEGER", "bigint", None),
    ("f", "CASE WHEN i % 13 = 0 THEN NULL ELSE (i / 3.0 - 100)::FLOAT END", "float", None),
    ("d", "(i / 7.0 - 1000)::DOUBLE", "double", None),
    ("s", "CASE WHEN i % 5 = 0 THEN NULL ELSE 'cat' || (i % 10) END", "string", None),
    ("su", "'unique-' || i || repeat('z', i % 17)", "string", None),
    ("sp", "CASE WHEN i % 2 = 0 THEN 'prefix-shared-' || (i // 2) ELSE NULL END", "string", None),
    ("b", "(i % 3 = 0)", "boolean", None),
    ("bn", "CASE WHEN i % 11 = 0 THEN NULL ELSE (i % 2 = 0) END", "boolean", None),
    ("ts", "TIMESTAMP '1960-01-01' + to_microseconds(i * 1234567891)", "timestamp", "epoch_us"),
    ("tstz", "TIMESTAMPTZ '2020-01-01 00:00:00+00' + to_microseconds(i * 7)", "timestamp", "epoch_us"),
    ("tms", "(TIMESTAMP '2020-01-01' + to_microseconds(i * 1001000))::TIMESTAMP_MS", "timestamp", "epoch_us"),
    ("tns", "(TIMESTAMP '2020-01-01' + to_microseconds(i * 3))::TIMESTAMP_NS", "timestamp", "epoch_us"),
    ("tns2", "make_timestamp_ns(i * 1234567 - 3000000000::BIGINT)", "timestamp", "floor_us"),
    ("dt", "CASE WHEN i % 9 = 0 THEN NULL ELSE DATE '1950-01-01' + (i % 30000)::INTEGER END", "date", "days"),
    ("d92", "(i * 1.25 - 3000)::DECIMAL(9,2)", "decimal", "double"),
    ("d183", "(i * 1.125)::DECIMAL(18,3)", "decimal", "double"),
    ("d304", "(i * 1.5 - 7)::DECIMAL(30,4)", "decimal", "double"),
    ("nul", "NULL::INTEGER", "int", None),
]


def duck_norm(name, how):
    q = f'"{name}"'
    if how == "epoch_us":
        return f"epoch_us({q})"
    if how == "floor_us":
        # Nanoseconds to microseconds rounded down (DuckDB's own cast truncates toward zero).
        return f"(epoch_ns({q}) - (epoch_ns({q}) % 1000 + 1000) % 1000) // 1000"
    if how == "days":
        return f"({q} - DATE '1970-01-01')"
    if how == "double":
        return f"{q}::DOUBLE"
    return q


@pytest.mark.parametrize("codec", ["uncompressed", "snappy", "zstd", "gzip"])
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_we_read_every_value_duckdb_writes(tmp_path, pqtool, duck, codec, version):
    n = 7000
    path = tmp_path / f"duck_{codec}_{version}.parquet"
    sel = ", ".join(f"{expr} AS {name}" for name, expr, _, _ in DUCK_COLUMNS)
    duck(f"COPY (SELECT {sel} FROM range({n}) t(i)) TO '{path}' "
         f"(FORMAT parquet, COMPRESSION {codec}, PARQUET_VERSION {version}, ROW_GROUP_SIZE 2048)")
    names = [c[0] for c in DUCK_COLUMNS]
    kinds = [c[2] for c in DUCK_COLUMNS]
    want = duck(f"SELECT {', '.join(duck_norm(c[0], c[3]) for c in DUCK_COLUMNS)} "
                f"FROM read_parquet('{path}') ORDER BY rid")
    head, got = dump(pqtool, path)
    assert head["rows"] == n
    expect_types = ["double" if k == "decimal" else k for k in kinds]
    assert head["columns"] == [[nm, t] for nm, t in zip(names, expect_types)]
    compare(kinds, names, want, got)

    # Footer statistics match what DuckDB computes from the data.
    stats = json.loads(run_pqtool(pqtool, "stats", str(path)))
    assert stats["rows"] == n and len(stats["row_groups"]) >= 2
    for name, kind in [("i", "int"), ("bi", "bigint"), ("s", "string"), ("dt", "date"), ("tms", "timestamp")]:
        col = names.index(name)
        lo, hi, nulls = duck(f"SELECT min(v), max(v), count(*) - count(v) FROM "
                             f"(SELECT {duck_norm(name, DUCK_COLUMNS[col][3])} AS v FROM read_parquet('{path}'))")[0]
        st = stats["columns"][name]
        assert st["null_count"] == nulls, name
        assert (st["min"], st["max"]) == (lo, hi), name


def test_we_read_one_row_group_and_a_column_subset(tmp_path, pqtool, duck):
    path = tmp_path / "sub.parquet"
    duck(f"COPY (SELECT i::INTEGER AS a, 'v' || i AS b, i * 0.5 AS c FROM range(5000) t(i)) TO '{path}' "
         f"(FORMAT parquet, ROW_GROUP_SIZE 2048)")
    head, rows = dump(pqtool, path, "--columns", "c,a", "--row-group", "1")
    assert head["columns"] == [["c", "double"], ["a", "int"]]
    assert rows == [[i * 0.5, i] for i in range(2048, 4096)]


def test_we_refuse_what_we_cannot_read(tmp_path, pqtool, duck):
    path = tmp_path / "nested.parquet"
    duck(f"COPY (SELECT [1, 2] AS l, {{'x': 1}} AS st FROM range(3)) TO '{path}' (FORMAT parquet)")
    p = subprocess.run([pqtool, "dump", str(path)], capture_output=True, text=True)
    assert p.returncode != 0 and "not supported" in p.stderr
    path2 = tmp_path / "time.parquet"
    duck(f"COPY (SELECT TIME '12:00:00' AS t FROM range(3)) TO '{path2}' (FORMAT parquet)")
    p = subprocess.run([pqtool, "dump", str(path2)], capture_output=True, text=True)
    assert p.returncode != 0 and '"t"' in p.stderr and "TIME" in p.stderr
