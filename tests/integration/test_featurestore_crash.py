"""A feature group insert is atomic across crashes: kill -9 while the body
streams in, or while the server parses and writes it, and after a restart
the group reads as before (or, if the commit had finished, with all of
the new rows), the commit list never shows a half commit, and the next
insert works. Online-enabled groups restart cleanly too (the start-up
check compares the online store with the offline commits)."""

import http.client
import random
import urllib.parse

import pytest

from fstest import commits, create, data_files, fg_path, insert_ok, rows
from oasttest import assert_status

FEATURES = [{"name": "id", "type": "bigint"}, {"name": "v", "type": "double"}, {"name": "s", "type": "string"},
            {"name": "ts", "type": "timestamp"}]


def big_csv(n, start):
    lines = ["id,v,s,ts"]
    for i in range(start, start + n):
        lines.append("%d,%d.25,name-%d,2024-01-%02dT00:00:00Z" % (i, i, i % 997, 1 + i % 28))
    return ("\n".join(lines) + "\n").encode()


def setup_group(srv, online):
    key = srv.admin_key
    srv.api.call("POST", "/projects", key, json={"name": "crash"})
    create(srv.api, key, "crash", {"name": "g", "primary_key": ["id"], "online_enabled": online, "features": FEATURES})
    insert_ok(srv.api, key, "crash", "g", big_csv(100, 0))
    return key


def start_upload(srv, body, send):
    """Opens a POST of `body` to the group's data and sends the first `send` bytes; returns the connection."""
    u = urllib.parse.urlsplit(srv.addr)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.putrequest("POST", "/api/v1" + fg_path("crash", "g", tail="/data"))
    conn.putheader("Authorization", "Bearer " + srv.admin_key)
    conn.putheader("Content-Type", "text/csv")
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    view = memoryview(body)
    for i in range(0, send, 1 << 16):
        conn.send(view[i:min(send, i + (1 << 16))])
    return conn


def state(srv, key):
    cs = commits(srv.api, key, "crash", "g")
    rs = rows(srv.api, key, "crash", "g")
    return cs, sorted(r["id"] for r in rs)


def check_files(srv, cs):
    """Exactly the files of the commits are there: nothing half-written or
    uncommitted is left after the restart."""
    files = data_files(srv, "crash", "g")
    assert files == sorted("c%d.parquet" % c["commit_id"] for c in cs)
    assert not list((srv.home / "tmp").glob("*")), "temporary uploads survived the restart"


@pytest.mark.parametrize("online", [False, True], ids=["offline", "online"])
def test_kill_during_upload_leaves_previous_state(start_server, online):
    srv = start_server()
    key = setup_group(srv, online)
    before = state(srv, key)
    body = big_csv(200000, 1000)
    conn = start_upload(srv, body, len(body) // 2)
    srv.kill9()
    conn.close()
    srv.start()
    assert state(srv, key) == before
    check_files(srv, before[0])
    # the next insert commits normally
    out = insert_ok(srv.api, key, "crash", "g", big_csv(10, 100))
    cs, ids = state(srv, key)
    assert cs[0]["commit_id"] == out["commit_id"] and len(cs) == len(before[0]) + 1
    assert ids == list(range(110))


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.4])
def test_kill_during_commit_is_all_or_nothing(start_server, delay):
    srv = start_server()
    key = setup_group(srv, online=True)
    before_commits, before_ids = state(srv, key)
    n, start = 150000, 1000
    body = big_csv(n, start)
    conn = start_upload(srv, body, len(body))
    # The whole body is sent: the server is parsing, checking, writing or committing.
    import time
    time.sleep(delay + random.random() * 0.02)
    srv.kill9()
    conn.close()
    srv.start()
    cs, ids = state(srv, key)
    if len(cs) == len(before_commits):
        assert cs == before_commits and ids == before_ids
    else:
        # the commit had finished: all of it is there, nothing else
        assert cs[1:] == before_commits and cs[0]["rows_inserted"] == n
        assert ids == before_ids + list(range(start, start + n))
    check_files(srv, cs)
    # writing goes on; a later restart (SIGTERM) is clean and changes nothing
    insert_ok(srv.api, key, "crash", "g", big_csv(5, 10 ** 7))
    after = state(srv, key)
    srv.restart()
    assert state(srv, key) == after


def test_online_group_restarts_cleanly(start_server):
    srv = start_server()
    key = setup_group(srv, online=True)
    insert_ok(srv.api, key, "crash", "g", big_csv(50, 80))  # 20 updates
    srv.api.call("POST", fg_path("crash", "g", tail="/compact"), key)
    want = state(srv, key)
    srv.restart()
    assert state(srv, key) == want
    srv.kill9()
    srv.start()
    assert state(srv, key) == want
    assert "disagrees" not in srv.output(), "a clean store was rebuilt"
    # deleting an online group and restarting is clean too
    assert_status(srv.api.call("DELETE", fg_path("crash", "g"), key), 204)
    srv.restart()
    assert srv.api.get(fg_path("crash"), key).json()["items"] == []
