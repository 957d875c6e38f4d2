"""The offline feature store over REST: feature groups, inserts (one commit
each, all or nothing), time travel, upsert merging, compaction,
statistics, expectations and validations; bad input names row and column
and writes nothing; the role matrix of every route."""

import datetime
import math
import time

import pytest

from fstest import (TX_FEATURES, by_key, commits, create, csv_text, data_files, fg_path, insert, insert_ok, read,
                    rows, tx_body)
from oasttest import ROLES, assert_error, assert_status, expect_member, expect_owner, parse_time, run_matrix

COLS = [f["name"] for f in TX_FEATURES]

ROWS = [
    {"id": 1, "qty": 3, "amount": 9.5, "score": 0.5, "cat": "books", "ok": True, "ts": "2024-01-01T10:00:00Z",
     "day": "2024-01-01"},
    {"id": 2, "qty": -7, "amount": 120.25, "score": 0.25, "cat": "toys, \"big\"", "ok": False,
     "ts": "2024-02-29T23:59:59.123456Z", "day": "1999-12-31"},
    {"id": 3, "qty": None, "amount": None, "score": None, "cat": None, "ok": None, "ts": None, "day": None},
    {"id": 4, "qty": 2147483647, "amount": -1e300, "score": 1.5, "cat": "日本語", "ok": True,
     "ts": "1970-01-01T00:00:00Z", "day": "1970-01-01"},
]


def new_tx(world, p=None, **extra):
    p = p or world.new_project("fs")
    create(world.api, world.alice.key, p, tx_body(**extra))
    return p


# --- definitions -----------------------------------------------------------------


def test_create_get_list_versions(world):
    p = world.new_project("fs")
    made = create(world.api, world.bob.key, p, tx_body(event_time="ts", online_enabled=False,
                                                         statistics={"correlations": True}))
    assert made["name"] == "tx" and made["version"] == 1
    assert made["primary_key"] == ["id"] and made["event_time"] == "ts"
    assert [f["name"] for f in made["features"]] == COLS
    assert made["statistics"] == {"enabled": True, "histograms": True, "correlations": True}
    got = assert_status(world.api.get(fg_path(p, "tx"), world.alice.key), 200).json()
    assert got["creator"] == "bob" and got["commits"] == 0 and got["latest_commit"] is None
    parse_time(got["created"])
    # no version: the next one; an explicit one that exists: 409
    again = create(world.api, world.alice.key, p, tx_body())
    assert again["version"] == 2
    assert_error(world.api.call("POST", fg_path(p), world.alice.key, json=tx_body(version=2)), 409)
    v7 = create(world.api, world.alice.key, p, tx_body(version=7))
    assert v7["version"] == 7
    listed = assert_status(world.api.get(fg_path(p), world.bob.key), 200).json()["items"]
    assert [(g["name"], g["version"]) for g in listed] == [("tx", 1), ("tx", 2), ("tx", 7)]
    # the data directory exists, empty
    assert data_files(world.server, p, "tx", 7) == []


def test_insert_three_formats_and_read_back(world):
    p = new_tx(world)
    api, key = world.api, world.bob.key
    out = insert_ok(api, key, p, "tx", csv_text(ROWS[:2], COLS))
    assert out["rows_inserted"] == 2 and out["rows_updated"] == 0 and out["validation"]["success"] is True
    insert_ok(api, key, p, "tx", ROWS[2:3])  # NDJSON
    import json
    insert_ok(api, key, p, "tx", json.dumps(ROWS[3:]), ctype="application/json")
    got = by_key(rows(api, key, p, "tx"))
    assert len(got) == 4
    for want in ROWS:
        g = got[want["id"]]
        for c in COLS:
            w = want[c]
            if c == "score" and w is not None:
                assert math.isclose(g[c], w, rel_tol=1e-7), (want["id"], c, g[c])
            elif c == "ts" and w is not None:
                assert parse_time(g[c]) == parse_time(w), (want["id"], c, g[c])
            else:
                assert g[c] == w, (want["id"], c, g[c])
    cs = commits(api, key, p, "tx")
    assert [c["rows_inserted"] for c in cs] == [1, 1, 2]
    ids = [c["commit_id"] for c in cs]
    assert ids == sorted(ids, reverse=True)
    files = data_files(world.server, p, "tx")
    assert files == sorted("c%d.parquet" % i for i in ids)


def test_read_formats_limit_and_header(world):
    p = new_tx(world)
    api, key = world.api, world.alice.key
    c1 = insert_ok(api, key, p, "tx", csv_text(ROWS, COLS))["commit_id"]
    r = read(api, key, p, "tx", fmt="csv")
    assert_status(r, 200)
    assert r.headers["content-type"].startswith("text/csv") and r.headers["x-oast-commit"] == str(c1)
    lines = r.text.splitlines()
    assert lines[0] == ",".join(COLS) and len(lines) == 5
    assert lines[3] == "3,,,,,,,"
    r = read(api, key, p, "tx", fmt="parquet")
    assert_status(r, 200)
    assert r.body[:4] == b"PAR1" and r.body[-4:] == b"PAR1"
    assert len(read(api, key, p, "tx", limit=2).json()) == 2
    assert read(api, key, p, "tx", limit=0).json() == []
    assert len(read(api, key, p, "tx", fmt="csv", limit=1).text.splitlines()) == 2
    # a group without commits reads as empty
    create(api, key, p, tx_body("empty"))
    assert rows(api, key, p, "empty") == []
    assert read(api, key, p, "empty", fmt="csv").text.splitlines() == [",".join(COLS)]


def test_delete_removes_data_and_history(world):
    p = new_tx(world)
    insert_ok(world.api, world.alice.key, p, "tx", ROWS)
    folder = world.server.project_dir(p) / ("%s_featurestore.db" % p) / "tx_1"
    assert folder.exists()
    assert_status(world.api.call("DELETE", fg_path(p, "tx"), world.alice.key), 204)
    assert not folder.exists()
    assert_error(world.api.get(fg_path(p, "tx"), world.alice.key), 404)
    assert_error(read(world.api, world.alice.key, p, "tx"), 404)
    # the name starts over, empty
    create(world.api, world.alice.key, p, tx_body())
    assert rows(world.api, world.alice.key, p, "tx") == []


# --- upserts, time travel, compaction -------------------------------------------------


def test_upsert_by_primary_key(world):
    p = new_tx(world)
    api, key = world.api, world.alice.key
    insert_ok(api, key, p, "tx", [{"id": i, "qty": i} for i in (1, 2, 3)])
    out = insert_ok(api, key, p, "tx", [{"id": 2, "qty": 20}, {"id": 4, "qty": 40}])
    assert (out["rows_inserted"], out["rows_updated"]) == (1, 1)
    got = rows(api, key, p, "tx")
    assert sorted((r["id"], r["qty"]) for r in got) == [(1, 1), (2, 20), (3, 3), (4, 40)]
    # the upsert replaces the whole row: columns it leaves out become null
    insert_ok(api, key, p, "tx", [{"id": 1, "cat": "x"}])
    assert by_key(rows(api, key, p, "tx"))[1]["qty"] is None
    # insert refuses an existing key, naming the row; nothing is written
    before = commits(api, key, p, "tx")
    r = insert(api, key, p, "tx", [{"id": 9}, {"id": 3, "qty": 0}], op="insert")
    err = assert_error(r, 400)
    assert "row 2" in err["message"] and "id=3" in err["message"]
    assert commits(api, key, p, "tx") == before
    out = insert_ok(api, key, p, "tx", [{"id": 9}], op="insert")
    assert (out["rows_inserted"], out["rows_updated"]) == (1, 0)
    assert commits(api, key, p, "tx")[0]["operation"] == "insert"


def test_upsert_with_event_time(world):
    p = world.new_project("fs")
    api, key = world.api, world.alice.key
    create(api, key, p, tx_body(event_time="ts"))
    insert_ok(api, key, p, "tx", [{"id": 1, "ts": "2024-01-01T00:00:00Z", "qty": 1},
                                  {"id": 1, "ts": "2024-01-02T00:00:00Z", "qty": 2}])
    # the same id at a new time is a new row; at a known time it replaces that row
    out = insert_ok(api, key, p, "tx", [{"id": 1, "ts": "2024-01-03T00:00:00Z", "qty": 3},
                                        {"id": 1, "ts": "2024-01-01T00:00:00Z", "qty": 10}])
    assert (out["rows_inserted"], out["rows_updated"]) == (1, 1)
    got = sorted((r["ts"], r["qty"]) for r in rows(api, key, p, "tx"))
    assert got == [("2024-01-01T00:00:00Z", 10), ("2024-01-02T00:00:00Z", 2), ("2024-01-03T00:00:00Z", 3)]
    # the event time is part of the key: required, and a repeat within one body is refused
    err = assert_error(insert(api, key, p, "tx", [{"id": 5, "qty": 1}]), 400)
    assert "row 1" in err["message"] and '"ts"' in err["message"]
    err = assert_error(insert(api, key, p, "tx", [{"id": 5, "ts": "2024-05-05T00:00:00Z"},
                                                  {"id": 5, "ts": "2024-05-05T00:00:00Z"}]), 400)
    assert "row 2" in err["message"] and "row 1" in err["message"]


def _states(api, key, p, name):
    """Every as_of answer: per commit id, and per commit time."""
    out = {}
    for c in commits(api, key, p, name):
        out[("id", c["commit_id"])] = rows(api, key, p, name, as_of=c["commit_id"])
        out[("time", c["committed_on"])] = rows(api, key, p, name, as_of=c["committed_on"])
    out["latest"] = rows(api, key, p, name)
    return out


def test_time_travel_by_commit_and_time(world):
    p = new_tx(world)
    api, key = world.api, world.alice.key
    a = insert_ok(api, key, p, "tx", [{"id": 1, "qty": 1}, {"id": 2, "qty": 2}])["commit_id"]
    time.sleep(0.01)
    b = insert_ok(api, key, p, "tx", [{"id": 2, "qty": 20}, {"id": 3, "qty": 3}])["commit_id"]
    time.sleep(0.01)
    c = insert_ok(api, key, p, "tx", [{"id": 4, "qty": 4}])["commit_id"]
    state = {a: [(1, 1), (2, 2)], b: [(1, 1), (2, 20), (3, 3)], c: [(1, 1), (2, 20), (3, 3), (4, 4)]}
    for cid, want in state.items():
        r = read(api, key, p, "tx", as_of=cid)
        assert r.headers["x-oast-commit"] == str(cid)
        assert sorted((x["id"], x["qty"]) for x in r.json()) == want
    cs = {x["commit_id"]: parse_time(x["committed_on"]) for x in commits(api, key, p, "tx")}
    for cid, when in cs.items():
        # exactly at the commit's time, and a moment after it (before the next)
        for t in (when, when + datetime.timedelta(microseconds=1)):
            iso = t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            r = read(api, key, p, "tx", as_of=iso)
            assert r.headers["x-oast-commit"] == str(cid), iso
            assert sorted((x["id"], x["qty"]) for x in r.json()) == state[cid]
    # a time zone offset is understood
    later = (cs[b] + datetime.timedelta(microseconds=1)).astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    assert read(api, key, p, "tx", as_of=later.isoformat()).headers["x-oast-commit"] == str(b)
    # before the first commit there is nothing to read
    early = (cs[a] - datetime.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert_error(read(api, key, p, "tx", as_of=early), 404)
    # another group's commit id is not this group's
    other = new_tx(world)
    oc = insert_ok(api, key, other, "tx", [{"id": 1}])["commit_id"]
    assert_error(read(api, key, p, "tx", as_of=oc), 404)


def test_compaction_keeps_every_answer(world):
    p = world.new_project("fs")
    api, key = world.api, world.alice.key
    create(api, key, p, tx_body(event_time="ts"))
    for k in range(4):
        batch = [{"id": i, "ts": "2024-01-0%dT00:00:00Z" % (1 + i % 3), "qty": 10 * k + i} for i in range(k, k + 6)]
        insert_ok(api, key, p, "tx", batch)
    before = _states(api, key, p, "tx")
    out = assert_status(api.call("POST", fg_path(p, "tx", tail="/compact"), world.bob.key), 200).json()
    latest = commits(api, key, p, "tx")[0]
    assert out == {"commit_id": latest["commit_id"], "rows": len(before["latest"])}
    assert latest["compacted"] is True
    assert "s%d.parquet" % latest["commit_id"] in data_files(world.server, p, "tx")
    assert _states(api, key, p, "tx") == before
    # later commits build on the snapshot; compacting again changes no answer either
    insert_ok(api, key, p, "tx", [{"id": 2, "ts": "2024-01-03T00:00:00Z", "qty": -1}, {"id": 99, "ts": "2024-02-01"}])
    before = _states(api, key, p, "tx")
    assert_status(api.call("POST", fg_path(p, "tx", tail="/compact"), key), 200)
    assert _states(api, key, p, "tx") == before
    assert [c["compacted"] for c in commits(api, key, p, "tx")] == [True, True, False, False, False]
    # a group without commits has nothing to compact
    create(api, key, p, tx_body("empty"))
    assert_error(api.call("POST", fg_path(p, "empty", tail="/compact"), key), 409)


# --- statistics -----------------------------------------------------------------------


def _np_hist(values, bins=20):
    import numpy as np
    lo, hi = min(values), max(values)
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    return list(counts), list(edges)


def test_statistics_match_numpy(world):
    import numpy as np
    p = world.new_project("fs")
    api, key = world.api, world.alice.key
    create(api, key, p, tx_body(statistics={"correlations": True}))
    rnd = np.random.default_rng(7)
    n = 500
    qty = rnd.integers(-1000, 1000, n)
    amount = rnd.normal(50, 10, n)
    batch = []
    for i in range(n):
        batch.append({"id": i, "qty": int(qty[i]) if i % 10 else None, "amount": float(amount[i]),
                      "score": float(amount[i] * 2 + 1), "cat": "c%d" % (i % 37), "ok": bool(i % 3 == 0),
                      "ts": "2024-01-01T00:00:%02dZ" % (i % 60), "day": "2024-03-%02d" % (1 + i % 28)})
    c1 = insert_ok(api, key, p, "tx", batch)["commit_id"]
    st = assert_status(api.get(fg_path(p, "tx", tail="/statistics"), world.bob.key), 200).json()
    assert st["commit_id"] == c1
    cols = {c["name"]: c for c in st["columns"]}
    assert list(cols) == COLS
    q = [int(qty[i]) for i in range(n) if i % 10]
    s = cols["qty"]
    assert (s["count"], s["null_count"], s["min"], s["max"]) == (len(q), n - len(q), min(q), max(q))
    assert math.isclose(s["mean"], np.mean(q), rel_tol=1e-12)
    assert math.isclose(s["stddev"], np.std(q), rel_tol=1e-9)
    assert abs(s["distinct_count"] - len(set(q))) <= 0.05 * len(set(q))
    counts, edges = _np_hist(q)
    assert s["histogram"]["counts"] == counts
    assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9) for a, b in zip(s["histogram"]["edges"], edges))
    a = cols["amount"]
    assert math.isclose(a["mean"], np.mean(amount), rel_tol=1e-12)
    assert math.isclose(a["stddev"], np.std(amount), rel_tol=1e-9)
    assert (a["min"], a["max"]) == (float(amount.min()), float(amount.max()))
    assert sum(a["histogram"]["counts"]) == n
    b = cols["ok"]
    assert b["count"] == n and math.isclose(b["mean"], sum(i % 3 == 0 for i in range(n)) / n)
    c = cols["cat"]
    assert c["count"] == n and c["min_length"] == 2 and c["max_length"] == 3 and 35 <= c["distinct_count"] <= 39
    t = cols["ts"]
    assert t["min"] == "2024-01-01T00:00:00Z" and t["max"] == "2024-01-01T00:00:59Z" and t["mean"] is None
    d = cols["day"]
    assert d["min"] == "2024-03-01" and d["max"] == "2024-03-28"
    # correlations over the numeric columns, each pair over rows where both are present
    corr = st["correlations"]
    i, j = corr["columns"].index("amount"), corr["columns"].index("score")
    assert math.isclose(corr["values"][i][j], 1.0, rel_tol=1e-6)
    k = corr["columns"].index("qty")
    rows_both = [i2 for i2 in range(n) if i2 % 10]
    want = np.corrcoef([qty[r] for r in rows_both], [amount[r] for r in rows_both])[0, 1]
    assert math.isclose(corr["values"][k][i], want, rel_tol=1e-6, abs_tol=1e-9)

    # a second commit: statistics per commit; an upsert recomputes from the merged state
    c2 = insert_ok(api, key, p, "tx", [{"id": 0, "qty": 5000, "amount": 1.0}, {"id": 10000, "qty": -5000}])["commit_id"]
    st2 = api.get(fg_path(p, "tx", tail="/statistics"), key).json()
    assert st2["commit_id"] == c2
    q2 = [v for i2, v in enumerate([int(x) for x in qty]) if i2 % 10 and i2 != 0] + [5000, -5000]
    s2 = {c["name"]: c for c in st2["columns"]}["qty"]
    assert (s2["count"], s2["min"], s2["max"]) == (len(q2), -5000, 5000)
    assert math.isclose(s2["mean"], np.mean(q2), rel_tol=1e-12)
    assert math.isclose(s2["stddev"], np.std(q2), rel_tol=1e-9)
    old = api.get(fg_path(p, "tx", tail="/statistics?commit=%d" % c1), key).json()
    assert old == st
    # a commit that replaces no row merges the saved state: counts stay exact
    insert_ok(api, key, p, "tx", [{"id": 20000 + i, "qty": i} for i in range(10)])
    s3 = {c["name"]: c for c in api.get(fg_path(p, "tx", tail="/statistics"), key).json()["columns"]}["qty"]
    assert s3["count"] == len(q2) + 10 and sum(s3["histogram"]["counts"]) == s3["count"]
    assert math.isclose(s3["mean"], np.mean(q2 + list(range(10))), rel_tol=1e-12)


def test_statistics_disabled_and_errors(world):
    p = world.new_project("fs")
    api, key = world.api, world.alice.key
    create(api, key, p, tx_body(statistics={"enabled": False}))
    assert_error(api.get(fg_path(p, "tx", tail="/statistics"), key), 404)  # no commits yet
    insert_ok(api, key, p, "tx", [{"id": 1}])
    err = assert_error(api.get(fg_path(p, "tx", tail="/statistics"), key), 404)
    assert "disabled" in err["message"]
    for bad in ("abc", "0", "-1", ""):
        assert_error(api.get(fg_path(p, "tx", tail="/statistics?commit=" + bad), key), 400)
    assert_error(api.get(fg_path(p, "tx", tail="/statistics?commit=999999"), key), 404)


# --- expectations -----------------------------------------------------------------------


RULES = [{"column": "qty", "rule": "between", "min": 0, "max": 100},
         {"column": "cat", "rule": "in_set", "values": ["a", "b"]},
         {"column": "id", "rule": "unique"}]


def test_expectations_always_reports_and_stores(world):
    p = new_tx(world)
    api, key = world.api, world.bob.key
    assert_error(api.get(fg_path(p, "tx", tail="/expectations"), key), 404)
    suite = {"policy": "always", "rules": RULES}
    assert assert_status(api.call("PUT", fg_path(p, "tx", tail="/expectations"), key, json=suite), 200).json() == suite
    assert api.get(fg_path(p, "tx", tail="/expectations"), key).json() == suite
    good = insert_ok(api, key, p, "tx", [{"id": 1, "qty": 5, "cat": "a"}])
    assert good["validation"]["success"] is True and len(good["validation"]["results"]) == 3
    bad = insert_ok(api, key, p, "tx", [{"id": 2, "qty": 500, "cat": "a"}, {"id": 3, "qty": 1, "cat": "zz"}])
    assert bad["validation"]["success"] is False
    res = {r["rule"]: r for r in bad["validation"]["results"]}
    assert res["between"]["success"] is False and res["between"]["unexpected_count"] == 1
    assert res["between"]["unexpected_examples"][0]["row"] == 1
    assert res["in_set"]["unexpected_examples"] == [{"row": 2, "value": "zz"}]
    assert len(rows(api, key, p, "tx")) == 3  # stored anyway
    vs = assert_status(api.get(fg_path(p, "tx", tail="/validations"), key), 200).json()["items"]
    assert [(v["commit_id"], v["success"], v["ingested"]) for v in vs] == [
        (bad["commit_id"], False, True), (good["commit_id"], True, True)]
    assert vs[0]["report"] == bad["validation"]
    parse_time(vs[0]["time"])


def test_expectations_strict_refuses_with_422(world):
    p = new_tx(world)
    api, key = world.api, world.alice.key
    assert_status(api.call("PUT", fg_path(p, "tx", tail="/expectations"), key,
                           json={"policy": "strict", "rules": RULES}), 200)
    insert_ok(api, key, p, "tx", [{"id": 1, "qty": 5, "cat": "a"}])
    before_commits, before_rows = commits(api, key, p, "tx"), rows(api, key, p, "tx")
    before_files = data_files(world.server, p, "tx")
    r = insert(api, key, p, "tx", [{"id": 2, "qty": 5, "cat": "a"}, {"id": 3, "qty": -5, "cat": "b"}])
    assert r.status == 422
    body = r.json()
    assert body["error"]["code"] == "validation_failed" and "strict" in body["error"]["message"]
    assert body["validation"]["success"] is False
    failed = [x for x in body["validation"]["results"] if not x["success"]]
    assert [(x["column"], x["rule"]) for x in failed] == [("qty", "between")]
    assert commits(api, key, p, "tx") == before_commits
    assert rows(api, key, p, "tx") == before_rows
    assert data_files(world.server, p, "tx") == before_files
    vs = api.get(fg_path(p, "tx", tail="/validations"), key).json()["items"]
    assert vs[0]["ingested"] is False and vs[0]["commit_id"] is None and vs[0]["report"] == body["validation"]
    # a suite can be replaced; back to always, the same rows go in
    assert_status(api.call("PUT", fg_path(p, "tx", tail="/expectations"), key,
                           json={"policy": "always", "rules": RULES}), 200)
    assert insert_ok(api, key, p, "tx", [{"id": 3, "qty": -5, "cat": "b"}])["validation"]["success"] is False


@pytest.mark.parametrize("suite,where", [
    ({"policy": "sometimes", "rules": []}, "policy"),
    ({"rules": [{"column": "nope", "rule": "not_null"}]}, "rules[0].column"),
    ({"rules": [{"column": "qty", "rule": "not_null"}, {"column": "qty", "rule": "frobnicate"}]}, "rules[1]"),
    ({"rules": [{"column": "qty", "rule": "min", "value": "x"}]}, "rules[0].value"),
    ({"rules": [{"column": "cat", "rule": "regex", "pattern": "("}]}, "rules[0].pattern"),
    ({"rules": [{"column": "qty", "rule": "between"}]}, "rules[0]"),
    ({"rules": "all"}, "rules"),
])
def test_bad_expectations(world, suite, where):
    p = new_tx(world)
    r = world.api.call("PUT", fg_path(p, "tx", tail="/expectations"), world.alice.key, json=suite)
    err = assert_error(r, 400)
    assert where in err["message"], err
    assert_error(world.api.get(fg_path(p, "tx", tail="/expectations"), world.alice.key), 404)


# --- bad input: 400 naming row and column, nothing written --------------------------------------


HEADER = ",".join(COLS) + "\n"
BAD_INSERTS = [
    # (id, body, content type, words the message must hold)
    ("wrong_type_int", HEADER + "5,1,1.0,1,a,true,,\n6,abc,1.0,1,a,true,,\n", "text/csv", ["row 2", '"qty"', "abc"]),
    ("int_overflow", HEADER + "5,99999999999,,,,,,\n", "text/csv", ["row 1", '"qty"']),
    ("wrong_type_bool", HEADER + "5,,,,,maybe,,\n", "text/csv", ["row 1", '"ok"']),
    ("wrong_type_ts", HEADER + "5,,,,,,yesterday,\n", "text/csv", ["row 1", '"ts"']),
    ("wrong_type_date", HEADER + "5,,,,,,,2024-02-30\n", "text/csv", ["row 1", '"day"']),
    ("missing_pk_value", HEADER + "5,,,,,,,\n,1,,,,,,\n", "text/csv", ["row 2", '"id"']),
    ("missing_pk_column", "qty,cat\n1,a\n", "text/csv", ['"id"']),
    ("duplicate_key", HEADER + "5,,,,,,,\n6,,,,,,,\n5,,,,,,,\n", "text/csv", ["row 3", "row 1", "id=5"]),
    ("ragged_short", HEADER + "5,,,,,,,\n6,1,2\n", "text/csv", ["row 2", '"score"']),
    ("ragged_long", HEADER + "5,,,,,,,,,\n", "text/csv", ["row 1", '"day"']),
    ("bad_quote_open", HEADER + '5,,,,"abc,,,\n', "text/csv", ["row 1", '"cat"']),
    ("bad_quote_inside", HEADER + '5,,,,ab"c,,,\n', "text/csv", ["row 1", '"cat"']),
    ("bad_quote_after", HEADER + '5,,,,"ab"c,,,\n', "text/csv", ["row 1", '"cat"']),
    ("bad_utf8", (HEADER + "5,,,,ok,,,\n6,,,,b\xffd,,,\n").encode("latin-1"), "text/csv", ["row 2", '"cat"', "UTF-8"]),
    ("unknown_column_csv", "id,colour\n5,red\n", "text/csv", ["colour"]),
    ("empty_csv", "", "text/csv", ["empty"]),
    ("header_only", HEADER, "text/csv", ["no rows"]),
    ("ndjson_wrong_type", '{"id": 5}\n{"id": 6, "amount": "lots"}\n', "application/x-ndjson", ["row 2", '"amount"']),
    ("ndjson_unknown_key", '{"id": 5, "colour": "red"}\n', "application/x-ndjson", ["row 1", "colour"]),
    ("ndjson_missing_pk", '{"id": 5}\n{"qty": 1}\n', "application/x-ndjson", ["row 2", '"id"']),
    ("ndjson_malformed", '{"id": 5}\n{"id": \n', "application/x-ndjson", ["row 2"]),
    ("json_not_array", '{"id": 5}', "application/json", ["array"]),
    ("json_wrong_type", '[{"id": 5}, {"id": 6, "ok": "yes"}]', "application/json", ["row 2", '"ok"']),
    ("json_duplicate", '[{"id": 5}, {"id": 5}]', "application/json", ["row 2", "row 1"]),
    ("bad_content_type", HEADER + "5,,,,,,,\n", "text/plain", ["Content-Type"]),
]


@pytest.mark.parametrize("case", BAD_INSERTS, ids=[c[0] for c in BAD_INSERTS])
def test_bad_insert_names_row_and_column_and_writes_nothing(world, case):
    _, body, ctype, words = case
    p = new_tx(world)
    api, key = world.api, world.alice.key
    insert_ok(api, key, p, "tx", [{"id": 1, "qty": 1}])
    before = (commits(api, key, p, "tx"), rows(api, key, p, "tx"), data_files(world.server, p, "tx"))
    r = insert(api, key, p, "tx", body, ctype=ctype)
    err = assert_error(r, 400)
    for w in words:
        assert w in err["message"], (w, err["message"])
    assert (commits(api, key, p, "tx"), rows(api, key, p, "tx"), data_files(world.server, p, "tx")) == before
    vs = api.get(fg_path(p, "tx", tail="/validations"), key).json()["items"]
    assert len(vs) == 1


def test_bad_insert_parameters(world):
    p = new_tx(world)
    api, key = world.api, world.alice.key
    r = api.call("POST", fg_path(p, "tx", tail="/data?operation=merge"), key, data=b"id\n1\n",
                 headers={"Content-Type": "text/csv"})
    assert "operation" in assert_error(r, 400)["message"]
    for v in ("0", "x", "100001"):
        assert_error(insert(api, key, p, "tx", "id\n1\n", v=0) if v == "0" else
                     api.call("POST", "/projects/%s/featurestore/featuregroups/tx/versions/%s/data" % (p, v), key,
                              data=b"id\n1\n", headers={"Content-Type": "text/csv"}), 400)
    assert_error(insert(api, key, p, "nope", "id\n1\n"), 404)
    assert_error(insert(api, key, p, "tx", "id\n1\n", v=2), 404)
    assert commits(api, key, p, "tx") == []


def test_bad_read_parameters(world):
    p = new_tx(world)
    api, key = world.api, world.alice.key
    insert_ok(api, key, p, "tx", [{"id": 1}])
    assert "format" in assert_error(read(api, key, p, "tx", fmt="xml"), 400)["message"]
    for lim in ("-1", "x", ""):
        r = api.get(fg_path(p, "tx", tail="/data?limit=" + lim), key)
        assert "limit" in assert_error(r, 400)["message"]
    assert "as_of" in assert_error(read(api, key, p, "tx", as_of="last tuesday"), 400)["message"]
    assert_error(read(api, key, p, "tx", as_of="99999999"), 404)


BAD_DEFS = [
    ("no_features", {"name": "g", "primary_key": ["id"], "features": []}, "features"),
    ("no_pk", {"name": "g", "primary_key": [], "features": [{"name": "id", "type": "int"}]}, "primary_key"),
    ("pk_unknown", {"name": "g", "primary_key": ["x"], "features": [{"name": "id", "type": "int"}]}, "primary_key[0]"),
    ("bad_type", {"name": "g", "primary_key": ["id"], "features": [{"name": "id", "type": "uuid"}]}, "features[0]"),
    ("dup_feature", {"name": "g", "primary_key": ["id"], "features": [{"name": "id", "type": "int"},
                                                                      {"name": "id", "type": "int"}]}, "features[1]"),
    ("bad_feature_name", {"name": "g", "primary_key": ["id"], "features": [{"name": "1d", "type": "int"}]},
     "features[0]"),
    ("event_time_type", {"name": "g", "primary_key": ["id"], "event_time": "s",
                         "features": [{"name": "id", "type": "int"}, {"name": "s", "type": "string"}]}, "event_time"),
    ("event_time_unknown", {"name": "g", "primary_key": ["id"], "event_time": "t",
                            "features": [{"name": "id", "type": "int"}]}, "event_time"),
    ("bad_name", {"name": "a-b", "primary_key": ["id"], "features": [{"name": "id", "type": "int"}]}, "name"),
    ("bad_version", {"name": "g", "version": 0, "primary_key": ["id"], "features": [{"name": "id", "type": "int"}]},
     "version"),
    ("unknown_field", {"name": "g", "primary_key": ["id"], "features": [{"name": "id", "type": "int"}], "x": 1}, "x"),
    ("stats_type", {"name": "g", "primary_key": ["id"], "features": [{"name": "id", "type": "int"}],
                    "statistics": {"enabled": "yes"}}, "enabled"),
]


@pytest.mark.parametrize("case", BAD_DEFS, ids=[c[0] for c in BAD_DEFS])
def test_bad_definitions(world, case):
    _, body, field = case
    p = world.new_project("fs")
    err = assert_error(world.api.call("POST", fg_path(p), world.alice.key, json=body), 400)
    assert field in err["message"], err
    assert world.api.get(fg_path(p), world.alice.key).json()["items"] == []


# --- the role matrix ------------------------------------------------------------------------


def _setup_group(world, p):
    create(world.api, world.alice.key, p, tx_body())
    insert_ok(world.api, world.alice.key, p, "tx", [{"id": 1, "qty": 1}])
    return {}


def _unchanged(ctx):
    w = ctx["world"]
    cs = commits(w.api, w.alice.key, ctx["p"], "tx")
    assert len(cs) == 1 and not cs[0]["compacted"]
    assert rows(w.api, w.alice.key, ctx["p"], "tx") == [dict(ROWS_MATRIX)]
    assert w.api.get(fg_path(ctx["p"], "tx", tail="/expectations"), w.alice.key).status == 404


ROWS_MATRIX = {"id": 1, "qty": 1, "amount": None, "score": None, "cat": None, "ok": None, "ts": None, "day": None}
FGP = "/projects/{p}/featurestore/featuregroups"
ONE = FGP + "/tx/versions/1"

MATRIX = [
    # (id, method, path, expectation, body, data/headers, setup)
    ("create", "POST", FGP, expect_member(201), tx_body("other"), None, _setup_group),
    ("list", "GET", FGP, expect_member(200), None, None, _setup_group),
    ("get", "GET", ONE, expect_member(200), None, None, _setup_group),
    ("delete", "DELETE", ONE, expect_owner(204), None, None, _setup_group),
    ("insert", "POST", ONE + "/data", expect_member(201), None, (b"id,qty\n2,2\n", {"Content-Type": "text/csv"}),
     _setup_group),
    ("read", "GET", ONE + "/data", expect_member(200), None, None, _setup_group),
    ("commits", "GET", ONE + "/commits", expect_member(200), None, None, _setup_group),
    ("statistics", "GET", ONE + "/statistics", expect_member(200), None, None, _setup_group),
    ("expectations_put", "PUT", ONE + "/expectations", expect_member(200),
     {"policy": "always", "rules": [{"column": "id", "rule": "not_null"}]}, None, _setup_group),
    ("expectations_get", "GET", ONE + "/expectations", expect_member(404), None, None, _setup_group),
    ("validations", "GET", ONE + "/validations", expect_member(200), None, None, _setup_group),
    ("compact", "POST", ONE + "/compact", expect_member(200), None, None, _setup_group),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", MATRIX, ids=[m[0] for m in MATRIX])
def test_role_matrix(world, case, role):
    name, method, path, expect, body, raw, setup = case
    from oasttest import NOBODY
    data, headers = raw if raw else (None, None)

    def done(ctx, r):
        w, p = ctx["world"], ctx["p"]
        if name == "create":
            assert r.json()["name"] == "other"
        elif name == "delete":
            assert_error(w.api.get(fg_path(p, "tx"), w.alice.key), 404)
        elif name == "insert":
            assert len(rows(w.api, w.alice.key, p, "tx")) == 2
        elif name == "compact":
            assert commits(w.api, w.alice.key, p, "tx")[0]["compacted"] is True

    r = run_matrix(world, role, method, path, expect, json=body if body is not None else NOBODY, data=data,
                   setup=setup, refused=_unchanged if name != "expectations_get" else None, done=done,
                   headers=headers)
    if name == "expectations_get" and role in ("data_owner", "data_scientist"):
        assert "no expectations" in r.json()["error"]["message"]


def test_non_member_cannot_learn_a_group_exists(world):
    p = new_tx(world)
    carol = world.carol.key
    for path in (fg_path(p), fg_path(p, "tx"), fg_path(p, "nope"), fg_path(p, "tx", tail="/data")):
        assert_error(world.api.get(path, carol), 404)
    assert_error(insert(world.api, carol, p, "tx", "id\n1\n"), 404)
    assert commits(world.api, world.alice.key, p, "tx") == []


# --- large CSV bodies (parsed in two halves at once) -----------------------------------------


def _big_rows(n):
    out = []
    for i in range(n):
        cat = "plain %d" % i
        if i % 7 == 0:
            cat = 'multi\nline, "quoted" %d\r\nend' % i
        elif i % 11 == 0:
            cat = ""
        out.append({"id": i, "qty": i % 1000 - 500, "amount": i / 8, "cat": cat, "ok": i % 2 == 0,
                    "ts": "2024-01-01T00:00:%02dZ" % (i % 60), "day": "2024-02-%02d" % (1 + i % 28)})
    return out


@pytest.mark.parametrize("middle", ["records", "quoted_newlines"])
def test_large_csv_reads_back_exactly(world, middle):
    p = new_tx(world)
    api, key = world.api, world.alice.key
    rs = _big_rows(40000)
    cols = ["id", "qty", "amount", "cat", "ok", "ts", "day"]
    if middle == "quoted_newlines":
        # one long quoted field full of line ends across the middle of the body
        rs[20000]["cat"] = ('x\n"",\n' * 100000)
    body = csv_text(rs, cols)
    assert len(body) > 2 << 20
    out = insert_ok(api, key, p, "tx", body)
    assert out["rows_inserted"] == len(rs)
    got = rows(api, key, p, "tx")
    assert [r["id"] for r in got] == list(range(len(rs)))
    for w, g in zip(rs, got):
        for c in cols:
            if c == "cat" and w[c] == "":
                assert g[c] is None, w["id"]  # csv_text writes "" as an empty field: null
            else:
                assert g[c] == w[c], (w["id"], c, g[c])


@pytest.mark.parametrize("where", [100, 30000, 39999])
def test_large_csv_errors_name_the_true_row(world, where):
    p = new_tx(world)
    api, key = world.api, world.alice.key
    rs = _big_rows(40000)
    rs[where]["qty"] = "many"
    body = csv_text(rs, ["id", "qty", "amount", "cat", "ok", "ts", "day"])
    # the physical line: the header, then one line per row plus the line ends inside quoted fields
    line = 2 + sum(1 + r["cat"].count("\n") for r in rs[:where])
    err = assert_error(insert(api, key, p, "tx", body), 400)
    assert err["message"].startswith('row %d (line %d), column "qty": "many" is not an int' % (where + 1, line)), err
    assert commits(api, key, p, "tx") == []


def test_large_csv_with_a_stray_quote(world):
    p = new_tx(world)
    api, key = world.api, world.alice.key
    rs = _big_rows(40000)
    cols = ["id", "qty", "amount", "cat", "ok", "ts", "day"]
    body = csv_text(rs, cols).replace(",plain 50,", ',pla"in 50,', 1)
    line = 2 + sum(1 + r["cat"].count("\n") for r in rs[:50])
    err = assert_error(insert(api, key, p, "tx", body), 400)
    assert err["message"].startswith('row 51 (line %d), column "cat": a quote inside an unquoted field' % line), err
    assert commits(api, key, p, "tx") == []
