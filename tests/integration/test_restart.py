"""A restarted server serves the same state: after a clean stop (SIGTERM,
exit 0) and after a crash (kill -9), including one in the middle of an
upload."""

import socket
import time

import pytest

import oast
from oasttest import make_user, q


def _walk(project, path):
    """(path, type, size) of everything below path, through the API."""
    out = []
    for i in sorted(project.files.list(path), key=lambda i: i["name"]):
        sub = path + "/" + i["name"]
        out.append((sub, i["type"], i["size"] if i["type"] == "file" else None))
        if i["type"] == "dir":
            out.extend(_walk(project, sub))
    return out


def _audit_rows(project):
    return [(i["time"], i["user"], i["action"], i["target"], i["outcome"]) for i in project.audit(limit=1000)]


class State:
    """Users, a project with members, files and a share, made on srv."""

    def __init__(self, srv):
        self.srv = srv
        self.alice = make_user(srv, "alice")
        self.bob = make_user(srv, "bob")
        self.carol = make_user(srv, "carol")
        self.spare_key = self.alice.conn.users.api_keys.create("spare")["key"]
        p = self.alice.conn.projects.create("Keep", "kept across restarts")
        p.members.add("bob", "data_scientist")
        p.datasets.create("Data", "the data")
        p.files.upload(b"a,b\n1,2\n", "Data/table.csv")
        p.files.upload(bytes(range(256)) * 4096, "Data/deep/er/blob.bin")
        p.files.mkdir("Data/empty_dir")
        p.files.upload(b"x" * 10, "Resources/r.txt")
        other = self.carol.conn.projects.create("Other")
        p.share("Data", "Other", "read")
        other.accept_share("Keep::Data")
        self.admin_key = srv.admin_key

    def snapshot(self):
        srv = self.srv
        s = {"users": sorted((u["username"], u["admin"]) for u in srv.admin.users.list())}
        alice = srv.connect(self.alice.key)
        s["alice keys"] = sorted(k["name"] for k in alice.users.api_keys.list())
        for u in (self.alice, self.bob, self.carol):
            conn = srv.connect(u.key)
            s["me " + u.name] = conn.users.me()
            s["projects " + u.name] = sorted((p.name, p.role, p.owner, p.description) for p in conn.projects.list())
        keep = alice.projects.get("Keep")
        other = srv.connect(self.carol.key).projects.get("Other")
        s["members"] = sorted((m["username"], m["role"]) for m in keep.members.list())
        s["datasets Keep"] = sorted(sorted(d.items()) for d in keep.datasets.list())
        s["datasets Other"] = sorted(sorted(d.items()) for d in other.datasets.list())
        s["shares"] = keep.shares("Data")
        s["files"] = _walk(keep, "Data") + _walk(keep, "Resources")
        s["through share"] = _walk(other, "Keep::Data")
        s["table"] = keep.files.read("Data/table.csv")
        s["blob"] = keep.files.read("Data/deep/er/blob.bin")
        s["preview"] = other.files.preview("Keep::Data/table.csv", "tail", 1)
        return s


def _check_same(state, before, before_audit):
    after = state.snapshot()
    for k in before:
        assert after[k] == before[k], "%s changed across the restart" % k
    rows = _audit_rows(state.srv.connect(state.alice.key).projects.get("Keep"))
    assert rows[-len(before_audit):] == before_audit, "audit lost or changed"
    # the credentials of before still work, the admin key was not replaced
    assert (state.srv.home / "admin.key").read_text().strip() == state.admin_key
    assert state.srv.connect(state.admin_key).users.me()["admin"] is True
    assert state.srv.connect(state.spare_key).users.me()["username"] == "alice"
    assert state.srv.connect(state.bob.token).users.me()["username"] == "bob"
    assert oast.connect(state.srv.addr, None).login("carol", state.carol.password)
    return after


@pytest.fixture
def state(start_server):
    return State(start_server())


def test_clean_restart_keeps_state(state):
    before = state.snapshot()
    audit = _audit_rows(state.srv.connect(state.alice.key).projects.get("Keep"))
    state.srv.restart()
    _check_same(state, before, audit)
    # and it keeps working: a change after the restart sticks too
    keep = state.srv.connect(state.alice.key).projects.get("Keep")
    keep.files.upload(b"after", "Data/after.txt")
    state.srv.restart()
    assert state.srv.connect(state.alice.key).projects.get("Keep").files.read("Data/after.txt") == b"after"


def test_crash_restart_keeps_state(state):
    before = state.snapshot()
    audit = _audit_rows(state.srv.connect(state.alice.key).projects.get("Keep"))
    state.srv.kill9()
    state.srv.start()
    _check_same(state, before, audit)
    assert state.srv.admin.users.list()  # still one working admin
    assert sum(1 for u in state.srv.admin.users.list() if u["admin"]) == 1


def test_crash_during_upload(state):
    srv = state.srv
    keep = srv.connect(state.alice.key).projects.get("Keep")
    names_before = sorted(i["name"] for i in keep.files.list("Data"))
    s = socket.create_connection(("127.0.0.1", int(srv.addr.rsplit(":", 1)[1])), timeout=30)
    head = ("PUT /api/v1/projects/Keep/files/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
            % (q("Data/half.bin"), state.alice.key, 8 << 20))
    s.sendall(head.encode() + b"h" * (2 << 20))
    s.sendall(b"r" * (1 << 20))  # the server is reading
    time.sleep(0.3)
    srv.kill9()
    s.close()
    srv.start()
    keep = srv.connect(state.alice.key).projects.get("Keep")
    assert sorted(i["name"] for i in keep.files.list("Data")) == names_before
    assert not keep.files.exists("Data/half.bin")
    assert keep.files.read("Data/table.csv") == b"a,b\n1,2\n"
    # the name is usable
    keep.files.upload(b"whole", "Data/half.bin")
    assert keep.files.read("Data/half.bin") == b"whole"


def test_crash_during_replace(state):
    srv = state.srv
    s = socket.create_connection(("127.0.0.1", int(srv.addr.rsplit(":", 1)[1])), timeout=30)
    head = ("PUT /api/v1/projects/Keep/files/Data/table.csv HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % (state.alice.key, 4 << 20))
    s.sendall(head.encode() + b"z" * (1 << 20))
    time.sleep(0.3)
    srv.kill9()
    s.close()
    srv.start()
    keep = srv.connect(state.alice.key).projects.get("Keep")
    assert keep.files.read("Data/table.csv") == b"a,b\n1,2\n"
    assert sorted(i["name"] for i in keep.files.list("Data")) == ["deep", "empty_dir", "table.csv"]
