"""Feature views and training data: point-in-time correct joins (ties, unsorted input, missing keys, rows from the
future, upserts, date against timestamp, int against bigint keys, groups without event time) checked against an
oracle written from the contract; every training data format read back by an independent reader (csv module,
a TFRecord reader written from the published framing, numpy, h5py, DuckDB); splits, seeds and time windows;
bad input (a clear 4xx, nothing written); the permission matrix; provenance."""

import json
import math
import random
import urllib.parse

import h5py
import numpy as np
import pytest

from fvtest import (asof, date_text, duckdb, fs_path, insert, make_group, make_td, make_view, merged, read_csv,
                    read_tfrecord, td_dir, tree, ts_text, ts_us)
from oasttest import NOBODY, ROLES, assert_error, assert_status, expect_member, expect_owner, run_matrix

DAY = 86400 * 10**6
DAY0 = 19723  # 2024-01-01
T0 = DAY0 * DAY


class Scenario:
    """A project with four groups, their rows (inserted over two commits each, shuffled, with upserts) and the
    merged states the oracle reads."""

    def __init__(self, world):
        rnd = random.Random(4)
        self.api, self.key = world.api, world.alice.key
        self.p = world.new_project("fv")
        api, key, p = self.api, self.key, self.p
        make_group(api, key, p, "labels", [("uid", "bigint"), ("ts", "timestamp"), ("cc", "string"), ("y", "int")],
                   ["uid"], "ts")
        make_group(api, key, p, "acts", [("uid", "bigint"), ("ts", "timestamp"), ("a", "double"), ("tag", "string")],
                   ["uid"], "ts", online=True)
        make_group(api, key, p, "rates", [("country", "string"), ("day", "date"), ("rate", "double")],
                   ["country"], "day")
        make_group(api, key, p, "static", [("uid", "int"), ("score", "double")], ["uid"])
        grid = [T0 + k * 8 * 3600 * 10**6 for k in range(12)]  # 4 days, 8 h apart: ties between groups
        pairs = rnd.sample([(u, t) for u in range(10) for t in grid], 60)
        labels = [{"uid": u, "ts": ts_text(t), "cc": rnd.choice(["se", "no", "dk", "fi"]), "y": rnd.randint(0, 1)}
                  for u, t in pairs]
        acts = [{"uid": u, "ts": ts_text(t), "a": round(rnd.uniform(-5, 5), 3), "tag": rnd.choice(["x", "yz", ""])}
                for u, t in rnd.sample([(u, t) for u in range(7) for t in grid], 40)]
        rnd.shuffle(labels)
        upd = [dict(r, a=r["a"] + 100) for r in rnd.sample(acts[:20], 5)]  # upserts of existing (uid, ts)
        rates = [{"country": c, "day": date_text(d), "rate": round(rnd.uniform(0, 2), 4)}
                 for c in ["se", "no", "dk"] for d in range(DAY0 - 1, DAY0 + 4) if rnd.random() < 0.7]
        static = [{"uid": u, "score": float(u) / 4} for u in range(9)]
        static_upd = [{"uid": 2, "score": 42.5}]
        self.commits = {
            "labels": [labels[:35], labels[35:]],
            "acts": [acts[20:], acts[:20] + upd[:0], upd],
            "rates": [rates[len(rates) // 2:], rates[:len(rates) // 2]],
            "static": [static, static_upd],
        }
        for name, commits in self.commits.items():
            for rows in commits:
                if rows:
                    insert(api, key, p, name, rows)
        self.labels = merged(self.commits["labels"], lambda r: (r["uid"], r["ts"]))
        self.acts = merged(self.commits["acts"], lambda r: (r["uid"], r["ts"]))
        self.rates = merged(self.commits["rates"], lambda r: (r["country"], r["day"]))
        self.static = merged(self.commits["static"], lambda r: r["uid"])

    def expected(self):
        """The view "full" by the oracle: one dict per label row."""
        out = []
        for l in self.labels:
            t = ts_us(l["ts"])
            a = asof(self.acts, lambda r: r["uid"], lambda r: ts_us(r["ts"]), l["uid"], t)
            r = asof(self.rates, lambda r: r["country"], lambda r: ts_us(r["day"] + "T00:00:00Z"), l["cc"], t)
            s = asof(self.static, lambda r: r["uid"], None, l["uid"], None)
            out.append({"uid": l["uid"], "ts": ts_us(l["ts"]), "cc": l["cc"], "y": l["y"],
                        "act_a": a and a["a"], "act_tag": a and a["tag"], "r_rate": r and r["rate"],
                        "score": s and s["score"]})
        return sorted(out, key=lambda d: (d["uid"], d["ts"]))


FULL = {"name": "full", "version": 1, "description": "everything",
        "query": {"featuregroup": "labels", "version": 1, "features": ["uid", "ts", "cc", "y"],
                  "joins": [{"featuregroup": "acts", "version": 1, "prefix": "act_"},
                            {"featuregroup": "rates", "version": 1, "left_on": ["cc"], "right_on": ["country"],
                             "features": ["rate"], "prefix": "r_"},
                            {"featuregroup": "static", "version": 1, "on": ["uid"], "features": ["score"]}]},
        "labels": ["y"]}
NUMERIC = {"name": "numeric", "version": 1,
           "query": {"featuregroup": "labels", "version": 1, "features": ["uid", "ts", "y"],
                     "joins": [{"featuregroup": "acts", "version": 1, "prefix": "act_", "features": ["a"]},
                               {"featuregroup": "static", "version": 1, "features": ["score"]}]},
           "labels": ["y"]}
COLUMNS = ["uid", "ts", "cc", "y", "act_a", "act_tag", "r_rate", "score"]


@pytest.fixture(scope="module")
def sc(world):
    s = Scenario(world)
    make_view(s.api, s.key, s.p, FULL)
    make_view(s.api, s.key, s.p, NUMERIC)
    return s


def num(x):
    return None if x in (None, "") else float(x)


def nan_none(x):
    return None if math.isnan(x) else float(x)


def close(a, b, tol=0.0):
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= tol * max(1.0, abs(float(b)))


# --- definitions -----------------------------------------------------------------


def test_view_definition_is_canonical(sc, world):
    r = world.api.get(fs_path(sc.p, "/featureviews/full/versions/1"), sc.key)
    assert_status(r, 200)
    v = r.json()
    assert [f["name"] for f in v["features"]] == COLUMNS
    assert [f["name"] for f in v["features"] if f["label"]] == ["y"]
    assert v["serving_key"] == ["uid"] and v["event_time"] == "ts"
    joins = v["query"]["joins"]
    assert joins[0] == {"featuregroup": "acts", "version": 1, "features": ["a", "tag"], "left_on": ["uid"],
                        "right_on": ["uid"], "prefix": "act_", "join_type": "left"}
    assert joins[1]["left_on"] == ["cc"] and joins[1]["right_on"] == ["country"]
    assert v["creator"] == "alice" and v["description"] == "everything"
    items = world.api.get(fs_path(sc.p, "/featureviews"), sc.key).json()["items"]
    assert [(i["name"], i["version"]) for i in items] == [("full", 1), ("numeric", 1)]
    # Without a version, the next one.
    body = dict(NUMERIC)
    del body["version"]
    assert make_view(sc.api, sc.key, sc.p, body)["version"] == 2
    assert_status(world.api.call("DELETE", fs_path(sc.p, "/featureviews/numeric/versions/2"), sc.key), 204)
    assert_error(world.api.get(fs_path(sc.p, "/featureviews/numeric/versions/2"), sc.key), 404)


# --- point-in-time correctness ----------------------------------------------------


def test_point_in_time_join_matches_the_oracle(sc, server):
    td = make_td(sc.api, sc.key, sc.p, "full", 1, {"format": "csv", "seed": 1})
    assert td["splits"]["train"]["rows"] == len(sc.labels)
    rows = read_csv(td_dir(server, sc.p, td) / "train" / "train.csv")
    assert list(rows[0].keys()) == COLUMNS
    got = sorted(({"uid": int(r["uid"]), "ts": ts_us(r["ts"]), "cc": r["cc"], "y": int(r["y"]),
                   "act_a": num(r["act_a"]), "act_tag": None if r["act_tag"] == "" and r["act_a"] == "" else r["act_tag"],
                   "r_rate": num(r["r_rate"]), "score": num(r["score"])} for r in rows),
                 key=lambda d: (d["uid"], d["ts"]))
    want = sc.expected()
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g == w, "row %r, expected %r" % (g, w)
    # The cases the oracle covers really occur in this data.
    assert any(w["act_a"] is None and any(a["uid"] == w["uid"] for a in sc.acts) for w in want), "no future-only key"
    assert any(w["act_a"] is None and w["uid"] >= 7 for w in want), "no missing key"
    assert any(any(a["uid"] == w["uid"] and ts_us(a["ts"]) == w["ts"] for a in sc.acts) for w in want), "no tie"
    assert any(w["act_a"] is not None and w["act_a"] > 50 for w in want), "no upserted row used"
    assert any(w["score"] == 42.5 for w in want)
    assert any(w["r_rate"] is None and w["cc"] == "fi" for w in want)


def test_nothing_from_the_future(sc, server):
    td = make_td(sc.api, sc.key, sc.p, "full", 1, {"format": "csv", "seed": 2})
    for r in read_csv(td_dir(server, sc.p, td) / "train" / "train.csv"):
        if r["act_a"] == "":
            continue
        t = ts_us(r["ts"])
        used = [a for a in sc.acts if a["uid"] == int(r["uid"]) and close(a["a"], r["act_a"])]
        assert used and all(ts_us(a["ts"]) <= t for a in used)
        later = [a for a in sc.acts if a["uid"] == int(r["uid"]) and ts_us(used[0]["ts"]) < ts_us(a["ts"]) <= t]
        assert not later, "an earlier row was taken although a later one at or before the label existed"


def test_inner_join_drops_unmatched_rows(sc, server):
    body = {"name": "inner", "query": {"featuregroup": "labels", "version": 1, "features": ["uid", "ts", "y"],
                                       "joins": [{"featuregroup": "acts", "version": 1, "features": ["a"],
                                                  "join_type": "inner"}]}, "labels": ["y"]}
    make_view(sc.api, sc.key, sc.p, body)
    td = make_td(sc.api, sc.key, sc.p, "inner", 1, {"format": "csv"})
    rows = read_csv(td_dir(server, sc.p, td) / "train" / "train.csv")
    want = [w for w in sc.expected() if w["act_a"] is not None]
    assert sorted((int(r["uid"]), ts_us(r["ts"]), float(r["a"])) for r in rows) == \
        sorted((w["uid"], w["ts"], w["act_a"]) for w in want)


# --- formats, read back independently ------------------------------------------------


def test_tfrecord_read_by_an_independent_reader(sc, server):
    td = make_td(sc.api, sc.key, sc.p, "full", 1, {"format": "tfrecord", "seed": 5})
    recs = read_tfrecord(td_dir(server, sc.p, td) / "train" / "train.tfrecord")
    assert len(recs) == len(sc.labels)
    got = {}
    for ex in recs:
        assert list(ex) == COLUMNS
        assert ex["uid"][0] == "int64" and ex["ts"][0] == "int64" and ex["cc"][0] == "bytes"
        assert ex["act_a"][0] == "float" and ex["r_rate"][0] == "float" and ex["score"][0] == "float"
        got[(ex["uid"][1][0], ex["ts"][1][0])] = ex
    for w in sc.expected():
        ex = got[(w["uid"], w["ts"])]
        assert ex["cc"][1] == [w["cc"].encode()] and ex["y"][1] == [w["y"]]
        for col in ("act_a", "r_rate", "score"):
            if w[col] is None:
                assert ex[col][1] == [], col
            else:
                assert ex[col][1] and close(ex[col][1][0], w[col], 1e-6), col
        assert ex["act_tag"][1] == ([] if w["act_tag"] is None else [w["act_tag"].encode()])


def test_parquet_read_by_duckdb(sc, server):
    td = make_td(sc.api, sc.key, sc.p, "full", 1, {"format": "parquet", "splits": {"train": 0.5, "test": 0.5},
                                                   "seed": 9})
    d = td_dir(server, sc.p, td)
    rows = []
    for split in ("train", "test"):
        got = duckdb("SELECT uid, epoch_us(ts), cc, y, act_a, act_tag, r_rate, score FROM read_parquet('%s')"
                     % (d / split / ("%s.parquet" % split)))
        assert len(got) == td["splits"][split]["rows"]
        rows += got
    want = sc.expected()
    assert sorted(rows, key=lambda r: (r[0], r[1])) == [[w[c] for c in COLUMNS] for w in want]


def test_npy_read_by_numpy(sc, server):
    td = make_td(sc.api, sc.key, sc.p, "numeric", 1, {"format": "npy", "splits": {"train": 0.75, "test": 0.25},
                                                      "seed": 11})
    d = td_dir(server, sc.p, td)
    assert tree(d) == ["test/features.npy", "test/labels.npy", "train/features.npy", "train/labels.npy",
                       "training_dataset.json"]
    X = np.concatenate([np.load(d / s / "features.npy") for s in ("train", "test")])
    y = np.concatenate([np.load(d / s / "labels.npy") for s in ("train", "test")])
    assert X.dtype == np.float64 and X.shape == (len(sc.labels), 4)
    assert y.dtype == np.int64 and y.shape == (len(sc.labels),)
    got = sorted(((int(x[0]), int(x[1]), nan_none(x[2]), nan_none(x[3]), int(l)) for x, l in zip(X, y)),
                 key=lambda t: (t[0], t[1]))
    assert got == [(w["uid"], w["ts"], w["act_a"], w["score"], w["y"]) for w in sc.expected()]


def test_hdf5_read_by_h5py(sc, server):
    td = make_td(sc.api, sc.key, sc.p, "numeric", 1, {"format": "hdf5", "splits": {"train": 0.6, "validation": 0.2,
                                                                                   "test": 0.2}, "seed": 12})
    d = td_dir(server, sc.p, td)
    assert list(td["splits"]) == ["train", "validation", "test"]
    X, y = [], []
    for s in ("train", "validation", "test"):
        with h5py.File(d / s / ("%s.h5" % s), "r") as f:
            assert list(f["features"].attrs["columns"]) == ["uid", "ts", "act_a", "score"]
            assert list(f["labels"].attrs["columns"]) == ["y"]
            assert f["features"].shape == (td["splits"][s]["rows"], 4)
            X.append(f["features"][:])
            y.append(f["labels"][:])
    X, y = np.concatenate(X), np.concatenate(y)
    got = sorted(((int(x[0]), int(x[1]), nan_none(x[2]), nan_none(x[3]), int(l)) for x, l in zip(X, y)),
                 key=lambda t: (t[0], t[1]))
    assert got == [(w["uid"], w["ts"], w["act_a"], w["score"], w["y"]) for w in sc.expected()]


# --- splits, seeds, windows, statistics, metadata ---------------------------------------


def split_keys(server, sc, td, split):
    return sorted((r["uid"], r["ts"]) for r in read_csv(td_dir(server, sc.p, td) / split / ("%s.csv" % split)))


def test_seeded_splits_partition_and_repeat(sc, server):
    body = {"format": "csv", "splits": {"test": 0.3, "train": 0.7}, "seed": 77}
    a = make_td(sc.api, sc.key, sc.p, "full", 1, body)
    b = make_td(sc.api, sc.key, sc.p, "full", 1, body)
    c = make_td(sc.api, sc.key, sc.p, "full", 1, dict(body, seed=78))
    n = len(sc.labels)
    assert list(a["splits"]) == ["train", "test"]
    assert a["splits"]["train"]["rows"] == round(0.7 * n) and a["splits"]["test"]["rows"] == n - round(0.7 * n)
    tr, te = split_keys(server, sc, a, "train"), split_keys(server, sc, a, "test")
    assert not set(tr) & set(te) and len(set(tr) | set(te)) == n
    assert tr == split_keys(server, sc, b, "train") and te == split_keys(server, sc, b, "test")
    assert tr != split_keys(server, sc, c, "train")
    assert b["version"] == a["version"] + 1 and b["id"] == "full_1_td%d" % b["version"]


def test_time_window_on_the_left_event_time(sc, server):
    start, end = T0 + 8 * 3600 * 10**6, T0 + 48 * 3600 * 10**6
    td = make_td(sc.api, sc.key, sc.p, "full", 1, {"format": "csv", "start_time": ts_text(start),
                                                   "end_time": end // 1000})
    got = sorted(ts_us(r["ts"]) for r in read_csv(td_dir(server, sc.p, td) / "train" / "train.csv"))
    want = sorted(w["ts"] for w in sc.expected() if start <= w["ts"] < end)
    assert got == want and 0 < len(got) < len(sc.labels)


# --- the view's rows (batch data) ---------------------------------------------------


def batch(sc, view="full", **query):
    qs = "?" + urllib.parse.urlencode(query) if query else ""
    return sc.api.get(fs_path(sc.p, "/featureviews/%s/versions/1/data%s" % (view, qs)), sc.key)


def test_batch_data_is_the_join_the_oracle_reads(sc, tmp_path):
    r = batch(sc)
    assert r.status == 200 and r.headers["content-type"] == "application/json"
    got = sorted((dict(x, ts=ts_us(x["ts"])) for x in r.json()), key=lambda d: (d["uid"], d["ts"]))
    assert [list(x) for x in got[:1]] == [COLUMNS]
    assert got == sc.expected()
    # which commit of each group was read
    commits = json.loads(r.headers["x-oast-commits"])
    assert sorted(commits) == ["acts:1", "labels:1", "rates:1", "static:1"]
    assert all(isinstance(c, int) and c > 0 for c in commits.values())
    # a window on the left event time, as for training data; a limit; CSV
    start, end = T0 + 8 * 3600 * 10**6, T0 + 48 * 3600 * 10**6
    r = batch(sc, format="csv", start_time=ts_text(start), end_time=end // 1000)
    assert r.status == 200 and r.headers["content-type"] == "text/csv"
    lines = r.body.decode().splitlines()
    assert lines[0].split(",") == COLUMNS
    want = sorted(w["ts"] for w in sc.expected() if start <= w["ts"] < end)
    assert sorted(ts_us(line.split(",")[1]) for line in lines[1:]) == want and 0 < len(want) < len(sc.labels)
    assert len(batch(sc, limit=5).json()) == 5
    # Parquet, read by DuckDB
    r = batch(sc, format="parquet")
    assert r.status == 200
    (tmp_path / "batch.parquet").write_bytes(r.body)
    rows = duckdb("SELECT uid, epoch_us(ts), cc, y, act_a, act_tag, r_rate, score FROM read_parquet('%s')"
                  % (tmp_path / "batch.parquet"))
    assert sorted(rows, key=lambda x: (x[0], x[1])) == [[w[c] for c in COLUMNS] for w in sc.expected()]


@pytest.mark.parametrize("query,word", [
    ({"format": "xml"}, '"format"'),
    ({"limit": "-1"}, '"limit"'),
    ({"start_time": "yesterday"}, '"start_time"'),
    ({"end_time": "2024-13-01T00:00:00Z"}, '"end_time"'),
    ({"start_time": "2024-01-02T00:00:00Z", "end_time": "2024-01-01T00:00:00Z"}, "later than"),
])
def test_bad_batch_data_requests(sc, query, word):
    err = assert_error(batch(sc, **query), 400)
    assert word in err["message"], err


def test_batch_data_window_needs_an_event_time(sc):
    make_view(sc.api, sc.key, sc.p, {"name": "scores", "version": 1, "query": {"featuregroup": "static",
                                                                               "version": 1}})
    assert len(batch(sc, "scores").json()) == len(sc.static)
    err = assert_error(batch(sc, "scores", start_time="2024-01-01T00:00:00Z"), 400)
    assert 'feature group "static" has none' in err["message"], err
    assert_error(batch(sc, "nosuch"), 404)


def test_statistics_metadata_and_lineage(sc, server, world):
    td = make_td(sc.api, sc.key, sc.p, "full", 1, {"format": "csv", "splits": {"train": 0.5, "test": 0.5},
                                                   "seed": 3, "description": "for the stats test"})
    r = world.api.get(fs_path(sc.p, "/featureviews/full/versions/1/trainingdata/%d" % td["version"]), world.bob.key)
    assert_status(r, 200)
    meta = r.json()
    for split in ("train", "test"):
        st = {c["name"]: c for c in meta["statistics"][split]["columns"]}
        assert st["uid"]["count"] == td["splits"][split]["rows"]
        rows = read_csv(td_dir(server, sc.p, td) / split / ("%s.csv" % split))
        ys = [int(x["y"]) for x in rows]
        assert st["y"]["mean"] == pytest.approx(sum(ys) / len(ys))
        assert st["act_a"]["null_count"] == sum(1 for x in rows if x["act_a"] == "")
    latest = {g + ":1": world.api.get(fs_path(sc.p, "/featuregroups/%s/versions/1/commits" % g), sc.key)
              .json()["items"][0]["commit_id"] for g in ("labels", "acts", "rates", "static")}
    assert meta["commits"] == latest
    assert meta["format"] == "csv" and meta["seed"] == 3 and meta["description"] == "for the stats test"
    on_disk = json.loads((td_dir(server, sc.p, td) / "training_dataset.json").read_text())
    assert on_disk["id"] == td["id"] and on_disk["statistics"] == meta["statistics"]
    listed = world.api.get(fs_path(sc.p, "/featureviews/full/versions/1/trainingdata"), sc.key).json()["items"]
    assert td["id"] in [i["id"] for i in listed] and all("statistics" not in i for i in listed)
    prov = world.api.get("/projects/%s/provenance?kind=trainingdata&id=%s" % (sc.p, td["id"]), sc.key).json()
    ups = {(u["kind"], u["id"]) for u in prov["upstream"]}
    assert ("featureview", "full:1") in ups and ("featuregroup", "acts:1") in ups and ("featuregroup", "labels:1") in ups
    assert_error(world.api.get(fs_path(sc.p, "/featureviews/full/versions/1/trainingdata/999"), sc.key), 404)


# --- bad input: a clear error, nothing written ---------------------------------------------


def views_of(world, p):
    return [(i["name"], i["version"]) for i in world.api.get(fs_path(p, "/featureviews"), world.alice.key).json()["items"]]


BAD_VIEWS = [
    ({"featuregroup": "nope", "version": 1}, 404, "nope"),
    ({"featuregroup": "labels", "version": 7}, 404, "version 7"),
    ({"featuregroup": "labels", "version": 1, "features": ["uid", "zzz"]}, 404, "zzz"),
    ({"featuregroup": "labels", "version": 1,
      "joins": [{"featuregroup": "acts", "version": 1, "left_on": ["cc"], "right_on": ["uid"]}]}, 400, "incompatible"),
    ({"featuregroup": "labels", "version": 1,
      "joins": [{"featuregroup": "acts", "version": 1, "left_on": ["uid", "ts"], "right_on": ["uid", "ts"]}]}, 400,
     "primary key"),
    ({"featuregroup": "labels", "version": 1,
      "joins": [{"featuregroup": "acts", "version": 1, "features": ["ts", "a"]}]}, 400, "two columns named \"ts\""),
    ({"featuregroup": "labels", "version": 1,
      "joins": [{"featuregroup": "rates", "version": 1}]}, 400, "\"country\" is not a feature of the left"),
    ({"featuregroup": "labels", "version": 1,
      "joins": [{"featuregroup": "acts", "version": 1, "prefix": "1x"}]}, 400, "prefix"),
    ({"featuregroup": "labels", "version": 1,
      "joins": [{"featuregroup": "acts", "version": 1, "join_type": "outer"}]}, 400, "join_type"),
    ({"featuregroup": "labels", "version": 1,
      "joins": [{"featuregroup": "acts", "version": 1, "on": ["uid"], "left_on": ["uid"]}]}, 400, "either"),
    ({"featuregroup": "labels", "version": 1, "extra": 1}, 400, "extra"),
]


@pytest.mark.parametrize("query,status,word", BAD_VIEWS)
def test_bad_view_definitions(sc, world, query, status, word):
    before = views_of(world, sc.p)
    r = world.api.call("POST", fs_path(sc.p, "/featureviews"), sc.key, json={"name": "bad", "query": query,
                                                                              "labels": []})
    err = assert_error(r, status)
    assert word in err["message"], err
    assert views_of(world, sc.p) == before


@pytest.mark.parametrize("body,word", [
    ({"name": "bad", "query": {"featuregroup": "labels", "version": 1}, "labels": ["nope"]}, "labels[0]"),
    ({"name": "bad", "query": {"featuregroup": "labels", "version": 1, "features": ["y"]}, "labels": ["y"]},
     "every column"),
    ({"name": "1bad", "query": {"featuregroup": "labels", "version": 1}}, "name"),
    ({"name": "bad", "version": 0, "query": {"featuregroup": "labels", "version": 1}}, "version"),
    ({"name": "bad"}, "query"),
])
def test_bad_view_bodies(sc, world, body, word):
    before = views_of(world, sc.p)
    err = assert_error(world.api.call("POST", fs_path(sc.p, "/featureviews"), sc.key, json=body), 400)
    assert word in err["message"], err
    assert views_of(world, sc.p) == before


def test_duplicate_version_conflicts(sc, world):
    assert_error(world.api.call("POST", fs_path(sc.p, "/featureviews"), sc.key, json=FULL), 409, "already_exists")


def tds_of(world, p, view):
    return world.api.get(fs_path(p, "/featureviews/%s/versions/1/trainingdata" % view), world.alice.key).json()["items"]


@pytest.mark.parametrize("view,body,word", [
    ("full", {"format": "xlsx"}, "format"),
    ("full", {"splits": {"train": 0.7, "test": 0.2}}, "sum to 0.9"),
    ("full", {"splits": {"train": 0.7, "test": 0.4}}, "sum to"),
    ("full", {"splits": {"train": -0.5, "test": 1.5}}, "fraction"),
    ("full", {"splits": {"tr ain": 1}}, "split name"),
    ("full", {"start_time": "yesterday"}, "start_time"),
    ("full", {"start_time": "2024-01-03", "end_time": "2024-01-02"}, "later"),
    ("full", {"format": "npy"}, "\"cc\" is a string"),
    ("full", {"format": "hdf5"}, "\"cc\" is a string"),
    ("full", {"seed": -1}, "seed"),
    ("full", {"colour": "red"}, "colour"),
])
def test_bad_training_data_requests(sc, world, server, view, body, word):
    before = tds_of(world, sc.p, view)
    files = tree(server.project_dir(sc.p) / "TrainingDatasets")
    err = assert_error(world.api.call("POST", fs_path(sc.p, "/featureviews/%s/versions/1/trainingdata" % view),
                                      sc.key, json=body), 400)
    assert word in err["message"], err
    assert tds_of(world, sc.p, view) == before
    assert tree(server.project_dir(sc.p) / "TrainingDatasets") == files
    assert not list((server.home / "tmp").glob("td-*"))


def test_window_needs_an_event_time(sc, world):
    make_view(sc.api, sc.key, sc.p, {"name": "noet", "query": {"featuregroup": "static", "version": 1}})
    err = assert_error(world.api.call("POST", fs_path(sc.p, "/featureviews/noet/versions/1/trainingdata"), sc.key,
                                      json={"start_time": "2024-01-01"}), 400)
    assert "event time" in err["message"]
    assert_error(world.api.call("POST", fs_path(sc.p, "/featureviews/nope/versions/1/trainingdata"), sc.key,
                                json={}), 404)


def test_deleting_a_view_removes_its_training_data(world, server):
    api, key = world.api, world.alice.key
    p = world.new_project("fvdel")
    make_group(api, key, p, "g", [("id", "bigint"), ("x", "double")], ["id"])
    insert(api, key, p, "g", [{"id": 1, "x": 2.0}])
    make_view(api, key, p, {"name": "v", "query": {"featuregroup": "g", "version": 1}, "labels": ["x"]})
    td = make_td(api, key, p, "v", 1, {"format": "csv"})
    assert td_dir(server, p, td).is_dir()
    assert_error(api.call("DELETE", fs_path(p, "/featureviews/v/versions/1"), world.bob.key), 403)
    assert td_dir(server, p, td).is_dir()
    assert_status(api.call("DELETE", fs_path(p, "/featureviews/v/versions/1"), key), 204)
    assert not td_dir(server, p, td).exists()
    assert_error(api.get(fs_path(p, "/featureviews/v/versions/1/trainingdata"), key), 404)
    # A view whose group was deleted answers 404 naming the group.
    make_view(api, key, p, {"name": "w", "query": {"featuregroup": "g", "version": 1}})
    assert_status(api.call("DELETE", fs_path(p, "/featuregroups/g/versions/1"), key), 204)
    err = assert_error(api.get(fs_path(p, "/featureviews/w/versions/1"), key), 404)
    assert "\"g\"" in err["message"]


# --- permissions ---------------------------------------------------------------------


def setup_view(world, p):
    api, key = world.api, world.alice.key
    make_group(api, key, p, "g", [("id", "bigint"), ("x", "double")], ["id"], online=True)
    insert(api, key, p, "g", [{"id": 1, "x": 2.0}])
    make_view(api, key, p, {"name": "v", "query": {"featuregroup": "g", "version": 1}})
    make_td(api, key, p, "v", 1, {"format": "csv"})
    return {}


VIEW_BODY = {"name": "v2", "query": {"featuregroup": "g", "version": 1}}
MATRIX = [
    ("POST", fs_path("{p}", "/featureviews"), expect_member(201), VIEW_BODY),
    ("GET", fs_path("{p}", "/featureviews"), expect_member(200), None),
    ("GET", fs_path("{p}", "/featureviews/v/versions/1"), expect_member(200), None),
    ("GET", fs_path("{p}", "/featureviews/v/versions/1/data"), expect_member(200), None),
    ("DELETE", fs_path("{p}", "/featureviews/v/versions/1"), expect_owner(204), None),
    ("POST", fs_path("{p}", "/featureviews/v/versions/1/trainingdata"), expect_member(201), {"format": "csv"}),
    ("GET", fs_path("{p}", "/featureviews/v/versions/1/trainingdata"), expect_member(200), None),
    ("GET", fs_path("{p}", "/featureviews/v/versions/1/trainingdata/1"), expect_member(200), None),
    ("POST", fs_path("{p}", "/featureviews/v/versions/1/vectors"), expect_member(200), {"entries": [{"id": 1}]}),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,path,expect,body", MATRIX)
def test_permission_matrix(world, server, role, method, path, expect, body):
    def refused(ctx):
        p = ctx["p"]
        assert views_of(world, p) == [("v", 1)]
        assert len(tds_of(world, p, "v")) == 1

    run_matrix(world, role, method, path, expect, json=NOBODY if body is None else body, setup=setup_view,
               refused=refused)
