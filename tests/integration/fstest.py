"""
fstest — what the feature store suites share: the paths of the routes, a
standard schema, making groups and inserting rows over raw HTTP, reading
the state back, and the files a group keeps on disk.

Inserts go through oasttest.Api so tests send exactly the bytes they
mean (a ragged CSV, bad UTF-8) with the Content-Type they choose.
"""

import csv
import io
import json
import os
import subprocess
import urllib.parse
from pathlib import Path

from oasttest import REPO, assert_status

TOOLS = REPO / "tests" / "tools"

#: Every feature type once, a primary key and no event time.
TX_FEATURES = [
    {"name": "id", "type": "bigint"},
    {"name": "qty", "type": "int"},
    {"name": "amount", "type": "double"},
    {"name": "score", "type": "float"},
    {"name": "cat", "type": "string"},
    {"name": "ok", "type": "boolean"},
    {"name": "ts", "type": "timestamp"},
    {"name": "day", "type": "date"},
]


def fg_path(p, name=None, v=1, tail=""):
    base = "/projects/%s/featurestore/featuregroups" % p
    if name is None:
        return base
    return "%s/%s/versions/%d%s" % (base, name, v, tail)


def tx_body(name="tx", **extra):
    body = {"name": name, "description": "transactions", "primary_key": ["id"], "features": TX_FEATURES}
    body.update(extra)
    return body


def create(api, key, p, body):
    r = api.call("POST", fg_path(p), key, json=body)
    assert_status(r, 201)
    return r.json()


def insert(api, key, p, name, data, ctype="text/csv", v=1, op=None):
    """POSTs data (bytes, str, or rows: a list of dicts sent as NDJSON) and returns the Resp."""
    if isinstance(data, list):
        data = "".join(json.dumps(r) + "\n" for r in data)
        ctype = "application/x-ndjson"
    if isinstance(data, str):
        data = data.encode()
    path = fg_path(p, name, v, "/data")
    if op:
        path += "?operation=" + op
    return api.call("POST", path, key, data=data, headers={"Content-Type": ctype})


def insert_ok(api, key, p, name, data, **kw):
    r = insert(api, key, p, name, data, **kw)
    assert_status(r, 201)
    return r.json()


def read(api, key, p, name, v=1, as_of=None, fmt="json", limit=None):
    q = {"format": fmt}
    if as_of is not None:
        q["as_of"] = str(as_of)
    if limit is not None:
        q["limit"] = str(limit)
    return api.get(fg_path(p, name, v, "/data?" + urllib.parse.urlencode(q)), key)


def rows(api, key, p, name, v=1, as_of=None):
    r = read(api, key, p, name, v, as_of)
    assert_status(r, 200)
    return r.json()


def commits(api, key, p, name, v=1):
    r = api.get(fg_path(p, name, v, "/commits"), key)
    assert_status(r, 200)
    return r.json()["items"]


def by_key(rs, key="id"):
    """Rows as a dict keyed by one column (or a tuple of columns)."""
    if isinstance(key, str):
        return {r[key]: r for r in rs}
    return {tuple(r[k] for k in key): r for r in rs}


def csv_text(rows, columns):
    """Rows (dicts) as CSV with a header; None is an empty field."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else _text(r.get(c)) for c in columns])
    return out.getvalue()


def _text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def group_dir(server, p, name, v=1):
    return server.project_dir(p) / ("%s_featurestore.db" % p) / ("%s_%d" % (name, v))


def data_files(server, p, name, v=1):
    """The names of the group's files (commits, snapshots and anything else)."""
    d = group_dir(server, p, name, v)
    return sorted(f.name for f in d.iterdir()) if d.exists() else []


def duckdb_runner():
    """A function running SQL in DuckDB (tests/tools/duckdb.mjs) and returning rows as lists."""
    subprocess.run([str(TOOLS / "duckdb-setup.sh")], check=True)

    def run(*sql):
        p = subprocess.run(["node", str(TOOLS / "duckdb.mjs"), *sql], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        return [json.loads(line) for line in p.stdout.splitlines()]

    return run


def oast_cli(*args, key=None, addr=None, stdin=None, env=None, timeout=120):
    """Runs the `oast` CLI with OAST_ADDR/OAST_API_KEY set; returns the CompletedProcess (text)."""
    from oasttest import oast_bin
    e = dict(os.environ)
    e.pop("OAST_CONFIG", None)
    e["HOME"] = "/nonexistent"  # no config file: address and key come from the environment
    if addr:
        e["OAST_ADDR"] = addr
    if key:
        e["OAST_API_KEY"] = key
    else:
        e.pop("OAST_API_KEY", None)
    e.update(env or {})
    return subprocess.run([oast_bin(), *args], input=stdin, capture_output=True, text=stdin is None or
                          isinstance(stdin, str), env=e, timeout=timeout)


__all__ = ["TX_FEATURES", "fg_path", "tx_body", "create", "insert", "insert_ok", "read", "rows", "commits", "by_key",
           "csv_text", "group_dir", "data_files", "duckdb_runner", "oast_cli", "Path"]
