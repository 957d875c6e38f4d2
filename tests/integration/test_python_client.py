"""The Python client itself: configuration, errors, objects, streaming."""

import io
import json
import socket
import tracemalloc

import pytest

import oast
from oast import errors
from oasttest import MiB, HashSink, Pattern


# --- configuration ---------------------------------------------------------------------


def _clear_env(monkeypatch, tmp_path):
    for var in ("OAST_ADDR", "OAST_API_KEY", "OAST_CONFIG", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


def test_connect_from_environment(world, monkeypatch, tmp_path):
    _clear_env(monkeypatch, tmp_path)
    monkeypatch.setenv("OAST_ADDR", world.server.addr)
    monkeypatch.setenv("OAST_API_KEY", world.alice.key)
    conn = oast.connect()
    assert conn.addr == world.server.addr
    assert conn.users.me()["username"] == "alice"
    # explicit arguments win over the environment
    assert oast.connect(api_key=world.bob.key).users.me()["username"] == "bob"


def test_connect_from_config_file(world, monkeypatch, tmp_path):
    _clear_env(monkeypatch, tmp_path)
    cfg = tmp_path / ".config" / "oast" / "config.json"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(json.dumps({"addr": world.server.addr, "key": world.carol.key}))
    assert oast.config_path() == str(cfg)
    assert oast.connect().users.me()["username"] == "carol"
    # $OAST_CONFIG names another file
    other = tmp_path / "elsewhere.json"
    other.write_text(json.dumps({"addr": world.server.addr, "key": world.dave.key}))
    monkeypatch.setenv("OAST_CONFIG", str(other))
    assert oast.connect().users.me()["username"] == "dave"
    # the environment beats the file, per field
    monkeypatch.setenv("OAST_API_KEY", world.bob.key)
    assert oast.connect().users.me()["username"] == "bob"


def test_defaults_and_bad_config(monkeypatch, tmp_path):
    _clear_env(monkeypatch, tmp_path)
    conn = oast.connect()
    assert conn.addr == oast.DEFAULT_ADDR and conn.api_key is None
    assert oast.connect("127.0.0.1:9").addr == "http://127.0.0.1:9"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    monkeypatch.setenv("OAST_CONFIG", str(bad))
    with pytest.raises(ValueError, match="bad.json"):
        oast.connect()
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        oast.connect()
    with pytest.raises(ValueError):
        oast.Connection("ftp://example")


def test_login_helper(world):
    conn = oast.login("bob", world.bob.password, addr=world.server.addr)
    assert conn.users.me()["username"] == "bob"
    token = conn.api_key
    assert isinstance(token, oast.LoginToken) and token.expires is not None
    with pytest.raises(oast.Unauthenticated) as exc:
        oast.login("bob", "not his password", addr=world.server.addr)
    assert exc.value.status == 401 and exc.value.code == "unauthenticated" and exc.value.message


# --- errors ------------------------------------------------------------------------------


def test_errors_carry_status_code_message(world):
    alice = world.alice.conn
    with pytest.raises(oast.NotFound) as exc:
        alice.projects.get("No_such_project")
    e = exc.value
    assert isinstance(e, oast.OastError) and e.status == 404 and e.code == "not_found" and e.message
    assert "not_found" in str(e) and "404" in str(e)
    assert e.body["error"]["code"] == "not_found"
    with pytest.raises(oast.Forbidden):
        world.bob.conn.projects.get(world.project).delete()
    with pytest.raises(oast.BadRequest) as exc:
        alice.projects.create("no spaces allowed")
    assert exc.value.status == 400
    with pytest.raises(oast.AlreadyExists) as exc:
        alice.projects.create(world.project)
    assert isinstance(exc.value, oast.Conflict) and exc.value.status == 409
    with pytest.raises(oast.Unauthenticated):
        oast.connect(world.server.addr, "wrong").users.me()
    with pytest.raises(oast.Forbidden):
        alice.users.create("zed", "pw-zed-123")


def test_connection_failed():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(oast.ConnectionFailed) as exc:
        oast.connect("http://127.0.0.1:%d" % port, "k").users.me()
    assert exc.value.status == 0 and exc.value.code == "connection_failed"
    assert isinstance(exc.value, oast.OastError)


def test_error_mapping_without_a_json_body():
    e = errors.from_response(404, b"<html>nope</html>")
    assert type(e) is oast.NotFound and e.code == "not_found" and "nope" in e.message
    e = errors.from_response(502, b"")
    assert type(e) is oast.InternalError and e.status == 502 and e.message
    e = errors.from_response(400, b'{"error": {"code": "brand_new", "message": "m"}}')
    assert type(e) is oast.OastError and e.code == "brand_new" and e.message == "m"
    e = errors.from_response(409, b'{"error": {"code": "already_exists", "message": "dup"}}')
    assert type(e) is oast.AlreadyExists


# --- objects ---------------------------------------------------------------------------


def test_project_objects(world, new_project):
    name = new_project("obj")
    alice = world.alice.conn
    p = alice.projects.get(name)
    assert repr(p) == "<oast.Project %s>" % name
    assert p == alice.projects.get(name) and p in alice.projects.list()
    assert p.role == "data_owner" and p.owner == "alice"
    with pytest.raises(AttributeError):
        p.no_such_attribute
    assert p.members.role_of("bob") == "data_scientist"
    p.members.add("dave", "data_owner")
    assert p.refresh() is p
    item = p.datasets.list()[0]
    assert item.name == item["name"]
    with pytest.raises(AttributeError):
        item.no_such_key
    assert "Resources" in p.datasets.names()
    assert alice.health()["status"] == "ok"
    assert {u.username for u in world.server.admin.users.list()} >= {"alice", "bob"}


def test_upload_source_types(world):
    p = world.alice.conn.projects.get(world.project)
    with pytest.raises(TypeError):
        p.files.upload(12345, "Resources/int.txt")
    with pytest.raises(ValueError):
        p.files.upload(b"x", "")
    with pytest.raises(ValueError, match="announced size"):
        p.files.upload(io.BytesIO(b"short"), "Resources/short.txt", size=10 * MiB)
    assert not p.files.exists("Resources/short.txt")
    assert p.files.upload(bytearray(b"ba"), "/Resources/ba.txt/")["path"] == "Resources/ba.txt"


def test_failed_download_leaves_no_file(world, tmp_path):
    p = world.alice.conn.projects.get(world.project)
    dest = tmp_path / "out.txt"
    with pytest.raises(oast.NotFound):
        p.files.download("Resources/missing.txt", dest)
    assert list(tmp_path.iterdir()) == []
    dest.write_bytes(b"previous")
    with pytest.raises(oast.Forbidden):
        world.bob.conn.projects.get(world.project).files.download("Resources/ba.txt", dest)
    assert dest.read_bytes() == b"previous"
    assert [x.name for x in tmp_path.iterdir()] == ["out.txt"]


def test_client_memory_stays_flat(world):
    """Uploading and downloading 48 MiB allocate no more than a few chunks in the client."""
    p = world.alice.conn.projects.get(world.project)
    size = 48 * MiB
    tracemalloc.start()
    try:
        src = Pattern(size)
        tracemalloc.reset_peak()
        p.files.upload(src, "Resources/flat.bin", size=size)
        _, peak_up = tracemalloc.get_traced_memory()
        sink = HashSink()
        tracemalloc.reset_peak()
        p.files.download("Resources/flat.bin", sink)
        _, peak_down = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.n == size and sink.sha.hexdigest() == src.sha.hexdigest()
    assert peak_up < 8 * MiB, "client upload peaked at %d MiB" % (peak_up // MiB)
    assert peak_down < 8 * MiB, "client download peaked at %d MiB" % (peak_down // MiB)
    p.files.remove("Resources/flat.bin")


# --- the guide's examples run ------------------------------------------------------------


def test_docs_python_md_examples_run(start_server, tmp_path):
    """docs/python.md's python blocks, in order, as one script, against a
    fresh server with the admin key in $OAST_API_KEY."""
    import os
    import re
    import subprocess
    import sys

    from oasttest import REPO
    doc = (REPO / "docs" / "python.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    assert len(blocks) >= 8
    script = tmp_path / "guide.py"
    script.write_text("\n".join(blocks))
    srv = start_server()
    env = dict(os.environ, OAST_ADDR=srv.addr, OAST_API_KEY=srv.admin_key, HOME=str(tmp_path),
               PYTHONPATH=str(REPO / "python"))
    env.pop("OAST_CONFIG", None)
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "403 forbidden" in out.stdout and "404 not_found" in out.stdout and "already_exists" in out.stdout
    assert "33\n" in out.stdout and "remember the milk" in out.stdout
    assert "2 ['uid', 'ts', 'churned', 'act_clicks']\n" in out.stdout, out.stdout
    assert not (tmp_path / "stolen.csv").exists()
    assert (tmp_path / "downloaded.csv").read_text() == (tmp_path / "transactions.csv").read_text()
