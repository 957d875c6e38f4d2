"""Online feature vectors of a feature view: joined in the view's order, single entries and batches, unknown
entries, latest values by event time, bad input naming the entry and feature; the online store across a clean
restart, after kill -9, and after a crash that left it ahead of the offline store (it is rebuilt to agree with
the offline store's latest commit)."""

import sqlite3

import pytest

from fvtest import fs_path, insert, make_group, make_view, ts_text, vectors
from oasttest import assert_error, assert_status

T = 1704067200 * 10**6


def setup_online(world, api=None, key=None, p=None):
    api, key = api or world.api, key or world.alice.key
    p = p or world.new_project("on")
    make_group(api, key, p, "users", [("uid", "bigint"), ("ts", "timestamp"), ("age", "int"), ("cc", "string"),
                                      ("churn", "boolean")], ["uid"], "ts", online=True)
    make_group(api, key, p, "countries", [("code", "string"), ("gdp", "double"), ("day", "date")], ["code"], "day",
               online=True)
    make_group(api, key, p, "offline", [("uid", "bigint"), ("z", "double")], ["uid"])
    insert(api, key, p, "users", [
        {"uid": 1, "ts": ts_text(T + 20), "age": 31, "cc": "se", "churn": False},
        {"uid": 1, "ts": ts_text(T + 10), "age": 30, "cc": "no", "churn": True},   # older: not the online value
        {"uid": 2, "ts": ts_text(T), "age": 40, "cc": "xx", "churn": True},        # no such country
        {"uid": 3, "ts": ts_text(T), "age": 50, "cc": None, "churn": False},       # a null join key
    ])
    insert(api, key, p, "countries", [{"code": "se", "gdp": 1.5, "day": "2024-01-01"},
                                      {"code": "no", "gdp": 2.5, "day": "2024-01-01"}])
    make_view(api, key, p, {"name": "serve", "query": {
        "featuregroup": "users", "version": 1, "features": ["uid", "age", "cc", "churn"],
        "joins": [{"featuregroup": "countries", "version": 1, "left_on": ["cc"], "right_on": ["code"],
                   "prefix": "c_", "features": ["gdp"]}]}, "labels": ["churn"]})
    return p


def test_vectors_single_and_batch(world):
    p = setup_online(world)
    r = vectors(world.api, world.bob.key, p, "serve", 1, [{"uid": 1}])
    assert_status(r, 200)
    assert r.json() == {"features": ["uid", "age", "cc", "c_gdp"], "vectors": [[1, 31, "se", 1.5]]}
    r = vectors(world.api, world.alice.key, p, "serve", 1, [{"uid": 3}, {"uid": 9}, {"uid": 2}, {"uid": 1}])
    assert r.json()["vectors"] == [[3, 50, None, None], None, [2, 40, "xx", None], [1, 31, "se", 1.5]]
    # A new commit is seen at once; an older event time does not replace a newer one.
    insert(world.api, world.alice.key, p, "countries", [{"code": "se", "gdp": 9.0, "day": "2024-02-01"}])
    insert(world.api, world.alice.key, p, "users", [{"uid": 1, "ts": ts_text(T + 5), "age": 1, "cc": "no",
                                                     "churn": True}])
    assert vectors(world.api, world.alice.key, p, "serve", 1, [{"uid": 1}]).json()["vectors"] == [[1, 31, "se", 9.0]]


@pytest.mark.parametrize("entries,word", [
    ([{}], "entries[0]: the primary key \"uid\" is missing"),
    ([{"uid": 1}, {"id": 1}], "entries[1]: the primary key \"uid\" is missing"),
    ([{"uid": 1, "age": 3}], "entries[0]: \"age\" is not part of the serving key"),
    ([{"uid": "one"}], "entries[0]: primary key \"uid\""),
    ([{"uid": None}], "entries[0]: primary key \"uid\""),
    ([7], "entries[0] must be an object"),
    ([], "1 to 10000"),
])
def test_bad_lookups(world, entries, word):
    p = setup_online(world)
    err = assert_error(vectors(world.api, world.alice.key, p, "serve", 1, entries), 400)
    assert word in err["message"], err


def test_lookup_refusals(world):
    p = setup_online(world)
    api, key = world.api, world.alice.key
    assert_error(vectors(api, key, p, "nope", 1, [{"uid": 1}]), 404)
    assert_error(api.call("POST", fs_path(p, "/featureviews/serve/versions/1/vectors"), key, json={"entry": {}}), 400)
    make_view(api, key, p, {"name": "mixed", "query": {"featuregroup": "users", "version": 1,
                                                       "joins": [{"featuregroup": "offline", "version": 1}]}})
    err = assert_error(vectors(api, key, p, "mixed", 1, [{"uid": 1}]), 400)
    assert "\"offline\"" in err["message"] and "online" in err["message"]
    # Lookups are reads: nothing lands in the audit log.
    audit = api.get("/projects/%s/audit?limit=1000" % p, key).json()["items"]
    assert not [a for a in audit if a["action"] == "featureview.vectors" and a["outcome"] == "ok"]


def all_vectors(world, p, uids):
    return vectors(world.api, world.alice.key, p, "serve", 1, [{"uid": u} for u in uids]).json()["vectors"]


def offline_latest(world, p):
    """Per uid, the users row with the latest event time, from the offline store."""
    rows = world.api.get(fs_path(p, "/featuregroups/users/versions/1/data"), world.alice.key).json()
    best = {}
    for r in rows:
        if r["uid"] not in best or r["ts"] > best[r["uid"]]["ts"]:
            best[r["uid"]] = r
    return best


def test_online_store_survives_restart_and_kill9(start_server):
    from oasttest import World
    srv = start_server()
    world = World(srv)
    p = setup_online(world)
    before = all_vectors(world, p, [1, 2, 3, 4])
    srv.restart()
    world.api = srv.api
    assert all_vectors(world, p, [1, 2, 3, 4]) == before
    insert(srv.api, world.alice.key, p, "users", [{"uid": 4, "ts": ts_text(T), "age": 7, "cc": "no", "churn": False}])
    srv.kill9()
    srv.start()
    world.api = srv.api
    after = all_vectors(world, p, [1, 2, 3, 4])
    assert after[:3] == before[:3] and after[3] == [4, 7, "no", 2.5]
    latest = offline_latest(world, p)
    assert [v[1] if v else None for v in after] == [latest[u]["age"] for u in (1, 2, 3, 4)]


def test_online_store_rebuilt_when_ahead_of_offline(start_server):
    """A crash between the online write and the metadata commit leaves the online store one commit ahead; the
    next start must roll it back to the offline store's latest commit. Simulated by removing the last commit's
    row from the metadata while the server is down."""
    from oasttest import World
    srv = start_server()
    world = World(srv)
    p = setup_online(world)
    before = all_vectors(world, p, [1, 2, 3, 5])
    c = insert(srv.api, world.alice.key, p, "users", [{"uid": 5, "ts": ts_text(T + 99), "age": 99, "cc": "se",
                                                      "churn": True},
                                                     {"uid": 1, "ts": ts_text(T + 99), "age": 98, "cc": "se",
                                                      "churn": True}])
    assert all_vectors(world, p, [1, 5])[1][1] == 99
    srv.kill9()
    con = sqlite3.connect(str(srv.meta_db))
    con.execute("DELETE FROM fg_commits WHERE id = ?", (c["commit_id"],))
    con.commit()
    con.close()
    srv.start()
    world.api = srv.api
    assert all_vectors(world, p, [1, 2, 3, 5]) == before
    assert before[3] is None
    assert "rebuilding" in srv.output()


def test_compound_keys_in_any_order(world, server):
    """A joined group whose primary key has two features, joined with left_on/right_on given in the other order,
    offline (training data) and online (vectors) alike; an int left key against a bigint right key."""
    api, key = world.api, world.alice.key
    p = world.new_project("ck")
    make_group(api, key, p, "orders", [("oid", "bigint"), ("shop", "string"), ("item", "int"), ("qty", "int")],
               ["oid"], online=True)
    make_group(api, key, p, "prices", [("shop_id", "string"), ("item_id", "bigint"), ("price", "double")],
               ["shop_id", "item_id"], online=True)
    insert(api, key, p, "orders", [{"oid": 1, "shop": "a", "item": 7, "qty": 2}, {"oid": 2, "shop": "b", "item": 7,
                                                                                 "qty": 1},
                                   {"oid": 3, "shop": "a", "item": 8, "qty": 5}])
    insert(api, key, p, "prices", [{"shop_id": "a", "item_id": 7, "price": 1.25}, {"shop_id": "b", "item_id": 7,
                                                                                  "price": 2.5}])
    make_view(api, key, p, {"name": "v", "query": {
        "featuregroup": "orders", "version": 1, "features": ["oid", "qty"],
        "joins": [{"featuregroup": "prices", "version": 1, "left_on": ["item", "shop"],
                   "right_on": ["item_id", "shop_id"], "features": ["price"]}]}})
    r = vectors(api, key, p, "v", 1, [{"oid": 1}, {"oid": 2}, {"oid": 3}])
    assert r.json()["vectors"] == [[1, 2, 1.25], [2, 1, 2.5], [3, 5, None]]
    td = api.call("POST", fs_path(p, "/featureviews/v/versions/1/trainingdata"), key, json={"format": "csv"}).json()
    text = (server.project_dir(p) / td["path"] / "train" / "train.csv").read_text()
    assert sorted(text.splitlines()[1:]) == ["1,2,1.25", "2,1,2.5", "3,5,"]
