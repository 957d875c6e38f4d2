"""Files: upload, download, list, stat, preview, mkdir, remove; streaming,
atomic uploads, path escapes, bad input and the role matrix."""

import io
import json
import os
import socket
import threading
import time

import pytest

import oast
from oasttest import (ROLES, HashSink, MiB, Pattern, assert_error, assert_status, expect_member, expect_owner,
                      parse_time, q, run_matrix, wait_until)



@pytest.fixture(scope="module")
def proj(world):
    """alice's handle on a project of this module (bob is its data scientist)."""
    return world.owner_project(world.new_project("files"))


def _tree(root):
    """Every path under root (relative), for before/after comparisons."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            out.add(os.path.relpath(os.path.join(dirpath, n), root))
    return out


# --- happy path ------------------------------------------------------------------------


def test_upload_download_replace(world, proj):
    api = world.api
    url = "/projects/%s/files/Resources/hello.txt" % proj.name
    r = api.call("PUT", url, world.alice.key, data=b"hello\n", headers={"Content-Type": "application/octet-stream"})
    assert assert_status(r, 201).json() == {"path": "Resources/hello.txt", "size": 6}
    r = assert_status(api.get(url, world.alice.key), 200)
    assert r.body == b"hello\n" and r.headers["content-length"] == "6"
    r = api.call("PUT", url, world.alice.key, data=b"bye\n", headers={"Content-Type": "application/octet-stream"})
    assert assert_status(r, 200).json() == {"path": "Resources/hello.txt", "size": 4}
    assert proj.files.read("Resources/hello.txt") == b"bye\n"


def test_client_sources_and_destinations(proj, tmp_path):
    data = os.urandom(3 * MiB + 17)
    local = tmp_path / "in.bin"
    local.write_bytes(data)
    assert proj.files.upload(str(local), "Resources/from_path.bin") == {"path": "Resources/from_path.bin",
                                                                       "size": len(data)}
    assert proj.files.upload(data, "Resources/from_bytes.bin")["size"] == len(data)
    with open(local, "rb") as f:
        f.seek(1000)
        assert proj.files.upload(f, "Resources/from_file.bin")["size"] == len(data) - 1000
    r, w = os.pipe()
    os.write(w, b"piped data")
    os.close(w)
    with os.fdopen(r, "rb") as pipe:
        assert proj.files.upload(pipe, "Resources/from_pipe.bin")["size"] == 10
    out = tmp_path / "out.bin"
    assert proj.files.download("Resources/from_path.bin", out) == len(data)
    assert out.read_bytes() == data
    buf = io.BytesIO()
    proj.files.download("Resources/from_file.bin", buf)
    assert buf.getvalue() == data[1000:]
    assert proj.files.read("Resources/from_bytes.bin") == data
    assert proj.files.read("Resources/from_pipe.bin") == b"piped data"
    assert sorted(os.listdir(tmp_path)) == ["in.bin", "out.bin"]


def test_empty_file(proj):
    assert proj.files.upload(b"", "Resources/empty.txt") == {"path": "Resources/empty.txt", "size": 0}
    assert proj.files.read("Resources/empty.txt") == b""
    assert proj.files.stat("Resources/empty.txt")["size"] == 0
    assert proj.files.preview("Resources/empty.txt", "head", 5) == ""


def test_parents_are_created(world, proj):
    proj.files.upload(b"deep", "Resources/a/b/c/deep.txt")
    assert proj.files.stat("Resources/a")["type"] == "dir"
    assert proj.files.stat("Resources/a/b/c")["type"] == "dir"
    assert proj.files.read("Resources/a/b/c/deep.txt") == b"deep"
    assert (world.server.project_dir(proj.name) / "Resources/a/b/c/deep.txt").read_bytes() == b"deep"


@pytest.mark.parametrize("name", ["my file (1).txt", "\u00fcn\u00efc\u00f8de.txt", "100%.txt", "a#b?c.txt",
                                  "semi;colon,comma.txt", "plus+sign.txt"])
def test_names_that_need_encoding(proj, name):
    path = "Resources/odd/" + name
    proj.files.upload(name.encode(), path)
    assert proj.files.read(path) == name.encode()
    assert name in {i["name"] for i in proj.files.list("Resources/odd")}
    assert proj.files.stat(path)["name"] == name


def test_list_and_stat(proj):
    proj.files.mkdir("Models/listing")
    proj.files.upload(b"12345", "Models/listing/five.txt")
    proj.files.mkdir("Models/listing/sub")
    items = {i["name"]: i for i in proj.files.list("Models/listing")}
    assert set(items) == {"five.txt", "sub"}
    assert items["five.txt"]["type"] == "file" and items["five.txt"]["size"] == 5
    assert items["sub"]["type"] == "dir"
    for i in items.values():
        assert {"name", "type", "size", "modified"} <= set(i)
        parse_time(i["modified"])
    st = proj.files.stat("Models/listing/five.txt")
    assert st["name"] == "five.txt" and st["type"] == "file" and st["size"] == 5
    assert abs(parse_time(st["modified"]).timestamp() - time.time()) < 3600
    assert proj.files.stat("Models/listing")["type"] == "dir"
    root = {i["name"] for i in proj.files.list("Models")}
    assert "listing" in root
    assert proj.files.stat("Models")["type"] == "dir"


LINES = "".join("line %d\n" % i for i in range(1, 51))


@pytest.mark.parametrize("mode,n,want", [
    ("head", 5, ["line %d" % i for i in range(1, 6)]),
    ("tail", 5, ["line %d" % i for i in range(46, 51)]),
    ("head", 1, ["line 1"]),
    ("tail", 1, ["line 50"]),
    ("head", 1000, ["line %d" % i for i in range(1, 51)]),
    ("tail", 80, ["line %d" % i for i in range(1, 51)]),
])
def test_preview(world, proj, mode, n, want):
    proj.files.upload(LINES.encode(), "Resources/lines.txt")
    r = world.api.get("/projects/%s/files/Resources/lines.txt?op=preview&mode=%s&lines=%d" % (proj.name, mode, n),
                      world.bob.key)
    assert_status(r, 200)
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text.splitlines() == want
    assert proj.files.preview("Resources/lines.txt", mode, n).splitlines() == want


def test_preview_default_is_20_lines(world, proj):
    proj.files.upload(LINES.encode(), "Resources/lines.txt")
    r = world.api.get("/projects/%s/files/Resources/lines.txt?op=preview&mode=head" % proj.name, world.alice.key)
    assert assert_status(r, 200).text.splitlines() == ["line %d" % i for i in range(1, 21)]


def test_list_is_sorted(proj):
    for n in ("b.txt", "C.txt", "a.txt", "a0"):
        proj.files.upload(b"x", "TrainingDatasets/sorted/" + n)
    names = [i["name"] for i in proj.files.list("TrainingDatasets/sorted")]
    assert names == sorted(names) and len(names) == 4


def test_upload_over_the_cap(start_server):
    srv = start_server("--max-upload", "1000")
    p = srv.admin.projects.create("capped")
    p.files.upload(b"x" * 1000, "Resources/fits.bin")
    r = srv.api.call("PUT", "/projects/capped/files/Resources/too_big.bin", srv.admin_key, data=b"x" * 1001)
    assert_error(r, 413, "too_large")
    with pytest.raises(oast.TooLarge):
        p.files.upload(b"y" * (3 * MiB), "Resources/too_big.bin")
    with pytest.raises(oast.TooLarge):
        p.files.upload(b"y" * 1001, "Resources/fits.bin")
    assert [i["name"] for i in p.files.list("Resources")] == ["fits.bin"]
    assert p.files.read("Resources/fits.bin") == b"x" * 1000
    assert sorted(os.listdir(srv.project_dir("capped") / "Resources")) == ["fits.bin"]


def test_preview_without_final_newline(proj):
    proj.files.upload(b"a\nb\nc", "Resources/nonl.txt")
    assert proj.files.preview("Resources/nonl.txt", "tail", 2).splitlines() == ["b", "c"]
    assert proj.files.preview("Resources/nonl.txt", "head", 2).splitlines() == ["a", "b"]


def test_mkdir_and_remove(world, proj):
    r = world.api.call("POST", "/projects/%s/files/Jupyter/nb?op=mkdir" % proj.name, world.bob.key)
    assert assert_status(r, 201).json() == {"path": "Jupyter/nb"}
    proj.files.upload(b"1", "Jupyter/nb/x/one.txt")
    proj.files.upload(b"2", "Jupyter/nb/two.txt")
    assert_error(world.api.call("POST", "/projects/%s/files/Jupyter/nb?op=mkdir" % proj.name, world.bob.key), 409)
    proj.files.remove("Jupyter/nb/two.txt")
    assert {i["name"] for i in proj.files.list("Jupyter/nb")} == {"x"}
    assert_status(world.api.call("DELETE", "/projects/%s/files/Jupyter/nb" % proj.name, world.bob.key), 204)
    assert not proj.files.exists("Jupyter/nb")
    assert "nb" not in {i["name"] for i in proj.files.list("Jupyter")}
    assert not (world.server.project_dir(proj.name) / "Jupyter/nb").exists()


# --- bad input ---------------------------------------------------------------------------


def _resources(proj):
    return {(i["name"], i["type"], i["size"]) for i in proj.files.list("Resources")}


@pytest.mark.parametrize("query", [
    "op=preview&mode=middle&lines=3", "op=preview&mode=head&lines=1001", "op=preview&mode=head&lines=-1",
    "op=preview&mode=head&lines=abc", "op=preview&mode=head&lines=99999999999999999999", "op=bogus",
])
def test_bad_preview_and_op(world, proj, query):
    proj.files.upload(LINES.encode(), "Resources/lines.txt")
    r = world.api.get("/projects/%s/files/Resources/lines.txt?%s" % (proj.name, query), world.alice.key)
    assert_error(r, 400)


def test_list_of_a_file_is_400(world, proj):
    proj.files.upload(b"x", "Resources/plain.txt")
    assert_error(world.api.get("/projects/%s/files/Resources/plain.txt?op=list" % proj.name, world.alice.key), 400)


def test_preview_of_a_dir_is_400(world, proj):
    assert_error(world.api.get("/projects/%s/files/Resources?op=preview&mode=head&lines=3" % proj.name,
                               world.alice.key), 400)


@pytest.mark.parametrize("method,suffix", [
    ("GET", ""), ("GET", "?op=list"), ("GET", "?op=stat"), ("GET", "?op=preview&mode=head&lines=2"), ("DELETE", ""),
])
def test_missing_file_is_404(world, proj, method, suffix):
    r = world.api.call(method, "/projects/%s/files/Resources/no/such/file%s" % (proj.name, suffix), world.alice.key)
    assert_error(r, 404)


@pytest.mark.parametrize("path", ["Nodataset/x.txt", "Nodataset"])
def test_upload_to_missing_dataset(world, proj, path):
    r = world.api.call("PUT", "/projects/%s/files/%s" % (proj.name, path), world.alice.key, data=b"x")
    assert_error(r, (400, 404))
    assert "Nodataset" not in proj.datasets.names()
    assert not (world.server.project_dir(proj.name) / "Nodataset").exists()


def test_upload_conflicts(world, proj):
    proj.files.upload(b"i am a file", "Resources/conflict/file.txt")
    before = _resources(proj)
    tree = _tree(world.server.project_dir(proj.name))
    for target in ("Resources/conflict/file.txt/below.txt",   # parent is a file
                   "Resources/conflict",                       # a directory
                   "Resources"):                               # a dataset root
        r = world.api.call("PUT", "/projects/%s/files/%s" % (proj.name, target), world.alice.key, data=b"x")
        assert_error(r, (400, 409))
    assert _resources(proj) == before
    assert _tree(world.server.project_dir(proj.name)) == tree
    assert proj.files.read("Resources/conflict/file.txt") == b"i am a file"


def test_mkdir_over_a_file_and_delete_of_a_dataset_root(world, proj):
    proj.files.upload(b"a file", "Resources/is_file")
    before = _resources(proj)
    assert_error(world.api.call("POST", "/projects/%s/files/Resources/is_file?op=mkdir" % proj.name,
                                world.alice.key), 409)
    assert_error(world.api.call("DELETE", "/projects/%s/files/Resources" % proj.name, world.alice.key), 400)
    assert _resources(proj) == before
    assert "Resources" in proj.datasets.names()


@pytest.mark.parametrize("path", ["Resources/" + "d/" * 3000 + "x", "Resources/" + "n" * 300])
def test_overlong_paths(world, proj, path):
    before = _tree(world.server.project_dir(proj.name))
    r = world.api.call("PUT", "/projects/%s/files/%s" % (proj.name, path), world.alice.key, data=b"x")
    assert_error(r, (400, 404, 414))
    assert _tree(world.server.project_dir(proj.name)) == before


def test_chunked_upload(world, proj):
    """An upload without Content-Length (chunked transfer encoding) works too."""
    import http.client
    c = http.client.HTTPConnection(world.api.host, world.api.port, timeout=30)
    try:
        c.request("PUT", "/api/v1/projects/%s/files/Resources/chunked.txt" % proj.name, body=iter([b"ab", b"cd"]),
                  headers={"Authorization": "Bearer " + world.alice.key})
        r = c.getresponse()
        assert r.status == 201 and json.loads(r.read()) == {"path": "Resources/chunked.txt", "size": 4}
    finally:
        c.close()
    assert proj.files.read("Resources/chunked.txt") == b"abcd"


def test_mkdir_in_missing_dataset(world, proj):
    r = world.api.call("POST", "/projects/%s/files/Nodataset/d?op=mkdir" % proj.name, world.alice.key)
    assert_error(r, (400, 404))
    assert "Nodataset" not in proj.datasets.names()


# --- paths never escape their dataset ---------------------------------------------------------

ESCAPES = [
    "Resources/../../escaped.txt",
    "Resources/../Logs/escaped.txt",
    "Resources/%2e%2e/%2e%2e/escaped.txt",
    "Resources/%2E%2E/%2E%2E/%2E%2E/escaped.txt",
    "%2e%2e/escaped.txt",
    "Resources/..%2f..%2fescaped.txt",
    "Resources/sub/%2e%2e/%2e%2e/%2e%2e/escaped.txt",
    "/tmp/escaped.txt",
    "%2ftmp%2fescaped.txt",
    "Resources/a%00b.txt",
    "Resources/%00/escaped.txt",
    "Resources/escaped.txt%00.png",
    "Resources/./escaped.txt",
    "Resources/%2e/escaped.txt",
    "Resources/ctl%01.txt",
]

OPS = [("PUT", ""), ("GET", ""), ("GET", "?op=list"), ("GET", "?op=stat"),
       ("GET", "?op=preview&mode=head&lines=2"), ("POST", "?op=mkdir"), ("DELETE", "")]


@pytest.mark.parametrize("method,suffix", OPS, ids=[m + s for m, s in OPS])
@pytest.mark.parametrize("path", ESCAPES)
def test_path_escapes_are_refused(world, proj, path, method, suffix):
    home = world.server.home
    before = _tree(home / "fs")
    data = b"escaped!" if method == "PUT" else None
    r = world.api.call(method, "/projects/%s/files/%s%s" % (proj.name, path, suffix), world.alice.key, data=data)
    assert_error(r, 400)
    assert _tree(home / "fs") == before


@pytest.fixture(scope="module")
def planted(world, proj, tmp_path_factory):
    """Symlinks planted on disk in proj's Resources dataset that point out of it."""
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("secret\n")
    res = world.server.project_dir(proj.name) / "Resources"
    proj.files.mkdir("Resources/planted")
    os.symlink(outside, res / "planted" / "link_dir")
    os.symlink(outside / "secret.txt", res / "planted" / "link_file")
    os.symlink("../../Logs", res / "planted" / "link_up")      # into another dataset
    os.symlink("/", res / "planted" / "link_root")
    proj.files.upload(b"logs stuff", "Logs/inlogs.txt")
    return outside


SYMLINK_CASES = [
    ("GET", "planted/link_file", ""),
    ("GET", "planted/link_dir/secret.txt", ""),
    ("GET", "planted/link_up/inlogs.txt", ""),
    ("GET", "planted/link_root/etc/passwd", ""),
    ("GET", "planted/link_file", "?op=preview&mode=head&lines=1"),
    ("GET", "planted/link_dir/secret.txt", "?op=preview&mode=tail&lines=1"),
    ("GET", "planted/link_dir", "?op=list"),
    ("GET", "planted/link_root/etc", "?op=list"),
    ("GET", "planted/link_dir/secret.txt", "?op=stat"),
    ("PUT", "planted/link_dir/new.txt", ""),
    ("PUT", "planted/link_up/new.txt", ""),
    ("PUT", "planted/link_dir/sub/new.txt", ""),
    ("POST", "planted/link_dir/newdir", "?op=mkdir"),
    ("DELETE", "planted/link_dir/secret.txt", ""),
    ("DELETE", "planted/link_up/inlogs.txt", ""),
]


@pytest.mark.parametrize("method,path,suffix", SYMLINK_CASES, ids=["%s %s%s" % c for c in SYMLINK_CASES])
def test_symlinks_out_are_refused(world, proj, planted, method, path, suffix):
    before_outside = _tree(planted)
    r = world.api.call(method, "/projects/%s/files/Resources/%s%s" % (proj.name, path, suffix), world.alice.key,
                       data=b"written through a link" if method == "PUT" else None)
    assert_error(r, 400)
    assert _tree(planted) == before_outside
    assert (planted / "secret.txt").read_text() == "secret\n"
    assert proj.files.read("Logs/inlogs.txt") == b"logs stuff"
    assert "new.txt" not in {i["name"] for i in proj.files.list("Logs")}


# --- uploads stream, and appear whole or not at all -----------------------------------------------


class RssWatch:
    """Samples the server's VmRSS in a thread while a transfer runs; peak()
    is the highest of those samples and of VmHWM's growth, in kB."""

    def __init__(self, srv):
        self.srv = srv
        self.hwm0 = srv.proc_status("VmHWM")
        self.base = srv.proc_status("VmRSS")
        self.top = self.base
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.done.is_set():
            self.top = max(self.top, self.srv.proc_status("VmRSS"))
            time.sleep(0.005)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        hwm = self.srv.proc_status("VmHWM")
        if hwm > self.hwm0:
            self.top = max(self.top, hwm)

    def grew_mib(self):
        return (self.top - self.base) / 1024


def test_big_upload_and_download_stream(start_server):
    size = 200 * MiB
    srv = start_server()
    # The admin works with its key: no password hashing (whose memory would
    # raise the peak RSS before the measurement) happens on this server.
    p = srv.admin.projects.create("big")
    src = Pattern(size)
    with RssWatch(srv) as up:
        assert p.files.upload(src, "Resources/big.bin", size=size) == {"path": "Resources/big.bin", "size": size}
    assert (srv.project_dir("big") / "Resources/big.bin").stat().st_size == size
    sink = HashSink()
    with RssWatch(srv) as down:
        assert p.files.download("Resources/big.bin", sink) == size
    assert sink.sha.hexdigest() == src.sha.hexdigest()
    assert up.grew_mib() < 50, "server RSS grew by %.0f MiB during a 200 MiB upload" % up.grew_mib()
    assert down.grew_mib() < 50, "server RSS grew by %.0f MiB during a 200 MiB download" % down.grew_mib()
    p.files.remove("Resources/big.bin")


def _raw_put_start(world, project, path, total, key):
    """A PUT whose headers announce `total` bytes; returns the open socket."""
    s = socket.create_connection((world.api.host, world.api.port), timeout=30)
    head = ("PUT /api/v1/projects/%s/files/%s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
            % (project, q(path), world.api.host, world.api.port, key, total))
    s.sendall(head.encode())
    return s


def _disk_names(world, project, dataset_dir):
    return set(os.listdir(world.server.project_dir(project) / dataset_dir))


def test_aborted_upload_leaves_nothing(world, proj):
    proj.files.mkdir("Resources/abort")
    on_disk = _disk_names(world, proj.name, "Resources/abort")
    s = _raw_put_start(world, proj.name, "Resources/abort/never.bin", 8 * MiB, world.alice.key)
    s.sendall(b"x" * MiB)
    time.sleep(0.3)
    # mid-upload: nothing visible
    assert proj.files.list("Resources/abort") == []
    s.close()
    assert wait_until(lambda: _disk_names(world, proj.name, "Resources/abort") == on_disk), \
        "left on disk: %r" % (_disk_names(world, proj.name, "Resources/abort") - on_disk)
    assert proj.files.list("Resources/abort") == []
    assert not proj.files.exists("Resources/abort/never.bin")


def test_aborted_replace_keeps_the_old_file(world, proj):
    proj.files.upload(b"old content\n", "Resources/abort2/keep.txt")
    on_disk = _disk_names(world, proj.name, "Resources/abort2")
    s = _raw_put_start(world, proj.name, "Resources/abort2/keep.txt", 4 * MiB, world.alice.key)
    s.sendall(b"n" * (MiB // 2))
    time.sleep(0.3)
    assert proj.files.read("Resources/abort2/keep.txt") == b"old content\n"
    s.close()
    assert wait_until(lambda: _disk_names(world, proj.name, "Resources/abort2") == on_disk)
    assert proj.files.read("Resources/abort2/keep.txt") == b"old content\n"
    assert [i["name"] for i in proj.files.list("Resources/abort2")] == ["keep.txt"]


def test_upload_appears_whole_when_done(world, proj):
    total = 2 * MiB
    s = _raw_put_start(world, proj.name, "Resources/slow/whole.bin", total, world.alice.key)
    try:
        s.sendall(b"a" * MiB)
        time.sleep(0.3)
        assert not proj.files.exists("Resources/slow/whole.bin")
        if proj.files.exists("Resources/slow"):
            assert proj.files.list("Resources/slow") == []
        s.sendall(b"b" * MiB)
        s.settimeout(30)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    finally:
        s.close()
    assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
    assert proj.files.read("Resources/slow/whole.bin") == b"a" * MiB + b"b" * MiB
    assert [i["name"] for i in proj.files.list("Resources/slow")] == ["whole.bin"]


def test_refused_upload_answers_before_the_body(world, proj):
    """A data scientist's upload is refused from the headers; the client
    sees 403, not a broken pipe, even for a large body."""
    p = world.bob.conn.projects.get(proj.name)
    with pytest.raises(oast.Forbidden) as exc:
        p.files.upload(Pattern(64 * MiB), "Resources/refused.bin", size=64 * MiB)
    assert exc.value.status == 403 and exc.value.code == "forbidden"
    assert not proj.files.exists("Resources/refused.bin")


# --- the role matrix ---------------------------------------------------------------------


def _put_setup(world, p):
    world.owner_project(p).files.upload(b"a,b\n1,2\n3,4\n", "Resources/data.csv")


def _unchanged(ctx):
    p = ctx["world"].owner_project(ctx["p"])
    assert p.files.read("Resources/data.csv") == b"a,b\n1,2\n3,4\n"
    assert {i["name"] for i in p.files.list("Resources")} == {"data.csv"}


@pytest.mark.parametrize("role", ROLES)
def test_matrix_upload(world, role):
    def done(ctx, r):
        assert r.json() == {"path": "Resources/new.csv", "size": 4}
        assert ctx["world"].owner_project(ctx["p"]).files.read("Resources/new.csv") == b"x,y\n"

    run_matrix(world, role, "PUT", "/projects/{p}/files/Resources/new.csv", expect_owner(201), data=b"x,y\n",
               setup=_put_setup, refused=_unchanged, done=done,
               headers={"Content-Type": "application/octet-stream"})


@pytest.mark.parametrize("role", ROLES)
def test_matrix_replace(world, role):
    def done(ctx, r):
        assert ctx["world"].owner_project(ctx["p"]).files.read("Resources/data.csv") == b"x,y\n"

    run_matrix(world, role, "PUT", "/projects/{p}/files/Resources/data.csv", expect_owner(200), data=b"x,y\n",
               setup=_put_setup, refused=_unchanged, done=done)


@pytest.mark.parametrize("role", ROLES)
def test_matrix_download(world, role):
    run_matrix(world, role, "GET", "/projects/{p}/files/Resources/data.csv", expect_owner(200), setup=_put_setup,
               done=lambda ctx, r: r.body == b"a,b\n1,2\n3,4\n" or pytest.fail(repr(r)))


@pytest.mark.parametrize("role", ROLES)
def test_matrix_list(world, role):
    run_matrix(world, role, "GET", "/projects/{p}/files/Resources?op=list", expect_member(200), setup=_put_setup,
               done=lambda ctx, r: [i["name"] for i in r.json()["items"]] == ["data.csv"] or pytest.fail(repr(r)))


@pytest.mark.parametrize("role", ROLES)
def test_matrix_stat(world, role):
    run_matrix(world, role, "GET", "/projects/{p}/files/Resources/data.csv?op=stat", expect_member(200),
               setup=_put_setup, done=lambda ctx, r: r.json()["size"] == 12 or pytest.fail(repr(r)))


@pytest.mark.parametrize("role", ROLES)
def test_matrix_preview(world, role):
    run_matrix(world, role, "GET", "/projects/{p}/files/Resources/data.csv?op=preview&mode=tail&lines=1",
               expect_member(200), setup=_put_setup,
               done=lambda ctx, r: r.text.splitlines() == ["3,4"] or pytest.fail(repr(r)))


@pytest.mark.parametrize("role", ROLES)
def test_matrix_mkdir(world, role):
    run_matrix(world, role, "POST", "/projects/{p}/files/Resources/newdir?op=mkdir", expect_member(201),
               setup=_put_setup, refused=_unchanged,
               done=lambda ctx, r: world.owner_project(ctx["p"]).files.stat("Resources/newdir")["type"] == "dir"
               or pytest.fail("no dir"))


@pytest.mark.parametrize("role", ROLES)
def test_matrix_remove(world, role):
    run_matrix(world, role, "DELETE", "/projects/{p}/files/Resources/data.csv", expect_member(204),
               setup=_put_setup, refused=_unchanged,
               done=lambda ctx, r: not world.owner_project(ctx["p"]).files.exists("Resources/data.csv")
               or pytest.fail("still there"))
