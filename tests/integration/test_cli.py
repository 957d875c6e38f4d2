"""The `oast` command-line client against the real server.

Every command is run as a user would run it: a fresh process with the
address and key in the environment or the config file `oast login` wrote.
Each command has its happy path, a bad input (non-zero exit and the
server's own message on stderr) and, where the server checks rights, a
permission case. The fixtures are in this file on purpose: this suite
starts its server its own way, with nothing shared with the Python client
suites.
"""

import itertools
import json
import os
import pty
import select
import stat
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

OAST = os.environ.get("OAST_BIN") or str(Path(__file__).resolve().parents[2] / "build" / "oast")
START_TIMEOUT_S = 30
MiB = 1 << 20

_names = itertools.count(1)


def uniq(prefix):
    """A fresh name for a project, user or key, so tests do not depend on each other."""
    return f"{prefix}{next(_names)}"


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.raw = proc.stdout
        self.out = proc.stdout.decode("utf-8", "replace") if isinstance(proc.stdout, bytes) else proc.stdout
        self.err = proc.stderr.decode("utf-8", "replace") if isinstance(proc.stderr, bytes) else proc.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"rc={self.rc}\nstdout:\n{self.out}\nstderr:\n{self.err}"


class Env:
    """The running server, its admin key and a way to run the CLI against it."""

    def __init__(self, home, work):
        self.home = Path(home)
        self.work = Path(work)
        self.addr = None
        self.admin = None
        self.proc = None
        self.keys = {}

    def start(self):
        self.log = open(self.home / "server.out", "wb")
        self.proc = subprocess.Popen([OAST, "server", "--home", str(self.home), "--listen", "127.0.0.1:0"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        addr_file = self.home / "run" / "server.addr"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not addr_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start:\n" + (self.home / "server.out").read_text())
            time.sleep(0.05)
        self.addr = addr_file.read_text().strip()
        self.admin = (self.home / "admin.key").read_text().strip()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.log.close()

    def run(self, *args, key="admin", addr=True, config=None, env=None, stdin=None, text=True):
        """Runs `oast ARGS`. key: a user name from self.keys, "admin", a literal key, or None for
        no OAST_API_KEY. config: the OAST_CONFIG path (default: one that does not exist)."""
        e = {k: v for k, v in os.environ.items() if not k.startswith("OAST_")}
        e["HOME"] = str(self.work)
        e["OAST_CONFIG"] = str(config or self.work / "no-such-config.json")
        if addr:
            e["OAST_ADDR"] = self.addr
        if key is not None:
            e["OAST_API_KEY"] = self.admin if key == "admin" else self.keys.get(key, key)
        e.update(env or {})
        proc = subprocess.run([OAST, *args], env=e, input=stdin, capture_output=True, text=text, timeout=120,
                              cwd=self.work)
        return Result(proc)

    def ok(self, *args, **kw):
        r = self.run(*args, **kw)
        assert r.rc == 0, r
        assert "oast:" not in r.err, r
        return r

    def fails(self, *args, rc=1, message=None, **kw):
        """Runs a command that must fail with exit status rc and, when given, the server's message."""
        r = self.run(*args, **kw)
        assert r.rc == rc, r
        assert r.err.startswith("oast: "), r
        if message is not None:
            assert message in r.err, (message, r)
        return r

    def api(self, method, path, body=None, key="admin"):
        """A direct REST call: (status, parsed body or None)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.addr + "/api/v1" + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + (self.admin if key == "admin" else self.keys[key]))
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def server_message(self, method, path, body=None, key="admin"):
        """The error message the server gives for a request that must fail."""
        status, resp = self.api(method, path, body, key)
        assert status >= 400, (status, resp)
        return resp["error"]["message"]

    def user(self, name, password="a long password"):
        """Creates a user with the CLI and logs it in with the CLI; remembers its key."""
        self.ok("user", "create", name, "--password", password)
        cfg = self.work / f"{name}.json"
        self.ok("login", "--user", name, "--password", password, key=None, config=cfg)
        self.keys[name] = json.loads(cfg.read_text())["key"]
        return name


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("work"))
    e.start()
    yield e
    e.stop()


@pytest.fixture(scope="module")
def world(env):
    """alice owns project `proj`, bob is its data scientist, carol is in no project."""
    w = type("World", (), {})()
    w.alice, w.bob, w.carol = env.user(uniq("alice")), env.user(uniq("bob")), env.user(uniq("carol"))
    w.proj = uniq("proj")
    env.ok("project", "create", w.proj, key=w.alice)
    env.ok("member", "add", w.proj, w.bob, "--role", "data_scientist", key=w.alice)
    return w


# --- the command line itself -------------------------------------------------

NOUN_VERBS = {
    "login": [None], "audit": [None], "version": [None],
    "user": ["create", "me", "list", "key create", "key list", "key delete"],
    "project": ["create", "list", "show", "delete"],
    "member": ["add", "list", "set-role", "remove"],
    "dataset": ["create", "list", "delete"],
    "fs": ["ls", "stat", "put", "get", "cat", "mkdir", "rm"],
    "share": ["create", "list", "accept", "revoke"],
    "model": ["register", "export", "list", "show", "best", "download", "delete"],
    "deploy": ["create", "list", "show", "start", "stop", "scale", "delete", "logs", "predict"],
    "fv": ["create", "list", "show", "delete", "vector"],
    "td": ["create", "list", "show"],
    "exp": ["run", "list", "show", "logs", "stop"],
    "fg": ["create", "list", "show", "insert", "read", "export", "commits", "stats", "expectations set",
           "expectations show", "validations", "compact", "delete"],
    "job": ["create", "list", "show", "run", "runs", "logs", "stop", "delete"],
    "pipeline": ["create", "list", "show", "run", "runs", "rerun", "stop", "delete"],
}


def test_help_everywhere(env):
    r = env.ok("--help", key=None)
    for noun in NOUN_VERBS:
        assert f"\n  {noun} " in r.out
    assert "PROJECT/DATASET/PATH" in r.out
    for noun, verbs in NOUN_VERBS.items():
        r = env.ok(noun, "--help", key=None)
        assert r.out.startswith(f"usage: oast {noun}"), r
        for verb in verbs:
            words = [noun] + (verb.split() if verb else [])
            r = env.ok(*words, "--help", key=None)
            assert r.out.startswith("usage: oast " + " ".join(words)), r
            assert "--json" in r.out
            r = env.ok("help", *words, key=None)
            assert r.out.startswith("usage: oast " + " ".join(words)), r
    assert "--head" in env.ok("fs", "cat", "-h", key=None).out


def test_usage_errors_exit_2(env):
    env.fails("frobnicate", rc=2, message='unknown command "frobnicate"', key=None)
    env.fails("project", "frobnicate", rc=2, message='unknown project command "frobnicate"', key=None)
    r = env.fails("project", "create", rc=2, message="missing arguments")
    assert "usage: oast project create NAME" in r.err
    env.fails("project", "list", "extra", rc=2, message='unexpected argument "extra"')
    env.fails("project", "list", "--colour", rc=2, message='unknown option "--colour"')
    env.fails("member", "add", "p", "u", "--role", rc=2, message="needs a value")
    # A noun alone prints its commands on stderr.
    r = env.run("fs", key=None)
    assert r.rc == 2 and "usage: oast fs <command>" in r.err
    r = env.run(key=None)
    assert r.rc == 2 and "usage: oast" in r.err


def test_version_reports_client_and_server(env):
    r = env.ok("version", key=None)
    assert r.out.startswith("oast 0.1.0\n")
    assert f"server 0.1.0 at {env.addr}" in r.out
    j = env.ok("--json", "version", key=None).json()
    assert j == {"client": "0.1.0", "addr": env.addr, "server": "0.1.0"}


def test_missing_key_and_unreachable_server(env, tmp_path):
    env.fails("project", "list", key=None, rc=2, message="no API key")
    # A port with nothing listening: a clear message naming the address, exit 1.
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = env.fails("project", "list", addr=False, env={"OAST_ADDR": f"http://127.0.0.1:{port}"})
    assert f"cannot reach the Oast server at http://127.0.0.1:{port}" in r.err
    assert "OAST_ADDR" in r.err
    # --addr beats OAST_ADDR.
    r = env.fails("project", "list", "--addr", f"127.0.0.1:{port}")
    assert f"http://127.0.0.1:{port}" in r.err
    # A wrong key: the server's message, and where the key came from.
    env.keys["wrong"] = "oak_not_a_key"
    r = env.fails("user", "me", key="wrong", message=env.server_message("GET", "/users/me", key="wrong"))
    assert "OAST_API_KEY" in r.err
    # A broken config file is named.
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    env.fails("project", "list", key=None, config=bad, message=str(bad))


# --- login ---------------------------------------------------------------------


def test_login_with_password_writes_a_private_config(env, tmp_path):
    name = uniq("lena")
    env.ok("user", "create", name, "--password", "correct horse")
    cfg = tmp_path / "sub" / "config.json"
    r = env.ok("login", "--user", name, "--password", "correct horse", "--name", "laptop", key=None, config=cfg)
    assert f"logged in to {env.addr} as {name}" in r.out
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    saved = json.loads(cfg.read_text())
    assert saved["addr"] == env.addr and saved["key"]
    # Later commands need neither OAST_ADDR nor OAST_API_KEY.
    r = env.ok("user", "me", key=None, addr=False, config=cfg)
    assert f"username: {name}" in r.out
    # The key is a named API key of the user; the login token was not stored.
    keys = env.ok("--json", "user", "key", "list", key=None, addr=False, config=cfg).json()["items"]
    assert [k["name"] for k in keys] == ["laptop"]
    # The password can come from OAST_PASSWORD; --json reports without the key.
    j = env.ok("login", "--user", name, "--json", key=None, config=cfg, env={"OAST_PASSWORD": "correct horse"}).json()
    assert j["username"] == name and j["addr"] == env.addr and "key" not in j
    assert json.loads(cfg.read_text())["key"] != saved["key"]


def test_login_refusals(env, tmp_path):
    name = uniq("lena")
    env.ok("user", "create", name, "--password", "correct horse")
    cfg = tmp_path / "config.json"
    status, resp = env.api("POST", "/auth/login", {"username": name, "password": "wrong password"})
    assert status == 401
    r = env.fails("login", "--user", name, "--password", "wrong password", key=None, config=cfg,
                  message=resp["error"]["message"])
    assert "OAST_API_KEY" not in r.err
    assert not cfg.exists()
    # No password and no terminal to ask on.
    env.fails("login", "--user", name, key=None, config=cfg, rc=2, message="--password")
    env.fails("login", key=None, config=cfg, rc=2, message="--user NAME")
    env.fails("login", "--key", "oak_bogus", key=None, config=cfg)
    assert not cfg.exists()


def test_login_with_key_stores_it(env, tmp_path):
    cfg = tmp_path / "config.json"
    r = env.ok("login", "--key", env.admin, key=None, config=cfg)
    assert "as admin" in r.out
    assert json.loads(cfg.read_text()) == {"addr": env.addr, "key": env.admin}
    assert "username: admin" in env.ok("user", "me", key=None, addr=False, config=cfg).out


# --- users and keys -----------------------------------------------------------


def test_user_commands(env, world):
    r = env.ok("user", "me", key=world.alice)
    assert f"username: {world.alice}" in r.out and "admin:    no" in r.out
    assert env.ok("--json", "user", "me").json() == {"username": "admin", "admin": True}
    r = env.ok("user", "list")
    assert r.out.startswith("USERNAME")
    assert world.alice in r.out
    names = [u["username"] for u in env.ok("user", "list", "--json").json()["items"]]
    assert "admin" in names and world.bob in names
    # Permission: only administrators list or create users.
    env.fails("user", "list", key=world.alice, message=env.server_message("GET", "/users", key=world.alice))
    env.fails("user", "create", uniq("x"), "--password", "a long password", key=world.alice)
    # Bad input: the server's own sentences.
    env.fails("user", "create", world.alice, "--password", "a long password",
              message=env.server_message("POST", "/users", {"username": world.alice, "password": "a long password"}))
    env.fails("user", "create", uniq("s"), "--password", "short",
              message=env.server_message("POST", "/users", {"username": "zz", "password": "short"}))
    env.fails("user", "create", uniq("t"), rc=2, message="--password")
    admin2 = uniq("root")
    env.ok("user", "create", admin2, "--password", "a long password", "--admin")
    assert {"username": admin2, "admin": True} in [
        {"username": u["username"], "admin": u["admin"]} for u in env.ok("--json", "user", "list").json()["items"]]


def test_user_key_commands(env, world):
    name = uniq("ci")
    r = env.ok("user", "key", "create", name, key=world.bob)
    key = r.out.strip()
    assert "\n" not in key and key
    assert "shown only this once" in r.err
    env.keys[name] = key
    assert f"username: {world.bob}" in env.ok("user", "me", key=name).out
    r = env.ok("user", "key", "list", key=world.bob)
    assert r.out.startswith("NAME") and name in r.out and key not in r.out
    j = env.ok("user", "key", "create", uniq("ci"), "--json", key=world.bob).json()
    assert j["key"] and j["name"]
    env.fails("user", "key", "create", name, key=world.bob,
              message=env.server_message("POST", "/users/me/api-keys", {"name": name}, key=world.bob))
    env.fails("user", "key", "create", "not a name", key=world.bob)
    r = env.ok("user", "key", "delete", name, key=world.bob)
    assert f'deleted API key "{name}"' in r.out
    env.fails("user", "me", key=name)
    env.fails("user", "key", "delete", name, key=world.bob)


# --- projects and members -------------------------------------------------------


def test_project_commands(env, world):
    p = uniq("proj")
    assert env.ok("project", "create", p, "--description", "churn model", key=world.alice).out == \
        f"created project {p}\n"
    r = env.ok("project", "list", key=world.alice)
    header, *rows = r.out.splitlines()
    assert header.split() == ["NAME", "ROLE", "OWNER", "CREATED", "DESCRIPTION"]
    row = next(line for line in rows if line.startswith(p + " "))
    assert "data_owner" in row and "churn model" in row
    # Columns line up: every row's ROLE starts where the header's does.
    col = header.index("ROLE")
    assert all(line[col - 2:col] == "  " for line in rows)
    items = env.ok("project", "list", "--json", key=world.alice).json()["items"]
    assert any(i["name"] == p and i["role"] == "data_owner" for i in items)
    r = env.ok("project", "show", p, key=world.alice)
    assert f"name:        {p}" in r.out and "role:        data_owner" in r.out
    assert env.ok("--json", "project", "show", p, key=world.alice).json()["owner"] == world.alice
    j = env.ok("--json", "project", "create", uniq("proj"), key=world.alice).json()
    assert j["role"] == "data_owner"
    # Bad input and permission.
    env.fails("project", "create", "1bad", key=world.alice,
              message=env.server_message("POST", "/projects", {"name": "1bad"}, key=world.alice))
    env.fails("project", "create", p, key=world.alice,
              message=env.server_message("POST", "/projects", {"name": p}, key=world.alice))
    env.fails("project", "show", p, key=world.carol,
              message=env.server_message("GET", f"/projects/{p}", key=world.carol))
    env.ok("member", "add", p, world.bob, key=world.alice)
    env.fails("project", "delete", p, key=world.bob,
              message=env.server_message("DELETE", f"/projects/{p}", key=world.bob))
    assert env.ok("project", "delete", p, key=world.alice).out == f"deleted project {p}\n"
    env.fails("project", "show", p, key=world.alice)


def test_project_delete_json_prints_nothing(env, world):
    p = uniq("proj")
    env.ok("project", "create", p, key=world.alice)
    r = env.ok("--json", "project", "delete", p, key=world.alice)
    assert r.out == ""


def test_member_commands(env, world):
    p = uniq("proj")
    env.ok("project", "create", p, key=world.alice)
    assert env.ok("member", "add", p, world.bob, key=world.alice).out == f"added {world.bob} to {p} as data_scientist\n"
    r = env.ok("member", "list", p, key=world.bob)
    assert r.out.splitlines()[0].split() == ["USERNAME", "ROLE"]
    assert any(line.split() == [world.bob, "data_scientist"] for line in r.out.splitlines())
    members = env.ok("member", "list", p, "--json", key=world.alice).json()["items"]
    assert {"username": world.alice, "role": "data_owner"} in members
    # A data scientist cannot manage members.
    env.fails("member", "add", p, world.carol, key=world.bob,
              message=env.server_message("POST", f"/projects/{p}/members",
                                         {"username": world.carol, "role": "data_scientist"}, key=world.bob))
    env.fails("member", "set-role", p, world.bob, "--role", "bogus", key=world.alice,
              message=env.server_message("PATCH", f"/projects/{p}/members/{world.bob}", {"role": "bogus"},
                                         key=world.alice))
    env.fails("member", "set-role", p, world.bob, key=world.alice, rc=2, message="--role is required")
    env.fails("member", "add", p, "nobody_here", key=world.alice)
    env.ok("member", "set-role", p, world.bob, "--role", "data_owner", key=world.alice)
    assert {"username": world.bob, "role": "data_owner"} in \
        env.ok("member", "list", p, "--json", key=world.alice).json()["items"]
    env.ok("member", "remove", p, world.bob, key=world.alice)
    assert world.bob not in env.ok("member", "list", p, key=world.alice).out
    # The last data owner stays.
    env.fails("member", "remove", p, world.alice, key=world.alice,
              message=env.server_message("DELETE", f"/projects/{p}/members/{world.alice}", key=world.alice))


# --- datasets --------------------------------------------------------------------


def test_dataset_commands(env, world):
    p = world.proj
    ds = uniq("raw")
    assert env.ok("dataset", "create", f"{p}/{ds}", "-d", "landing zone", key=world.alice).out == \
        f"created dataset {p}/{ds}\n"
    r = env.ok("dataset", "list", p, key=world.bob)
    assert r.out.splitlines()[0].split() == ["NAME", "DESCRIPTION"]
    assert any(line.split()[0] == ds and "landing zone" in line for line in r.out.splitlines())
    assert "Resources" in r.out
    items = env.ok("dataset", "list", p, "--json", key=world.alice).json()["items"]
    assert any(i["name"] == ds for i in items)
    env.fails("dataset", "create", f"{p}/bad-name", key=world.alice,
              message=env.server_message("POST", f"/projects/{p}/datasets", {"name": "bad-name"}, key=world.alice))
    env.fails("dataset", "create", p, key=world.alice, rc=2, message="PROJECT/DATASET")
    env.fails("dataset", "delete", f"{p}/Resources", key=world.alice,
              message=env.server_message("DELETE", f"/projects/{p}/datasets/Resources", key=world.alice))
    env.fails("dataset", "delete", f"{p}/{ds}", key=world.bob,
              message=env.server_message("DELETE", f"/projects/{p}/datasets/{ds}", key=world.bob))
    env.fails("dataset", "list", p, key=world.carol)
    env.ok("dataset", "delete", f"{p}/{ds}", key=world.alice)
    assert ds not in env.ok("dataset", "list", p, key=world.alice).out


# --- files -----------------------------------------------------------------------


def test_fs_put_get_round_trip(env, world, tmp_path):
    p = world.proj
    data = os.urandom(2 * MiB + 12345)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    r = env.ok("fs", "put", str(src), f"{p}/Resources/", key=world.alice)
    assert r.out == f"uploaded {src} to {p}/Resources/big.bin (2.0 MiB)\n"
    assert r.err == ""  # no progress bar when stderr is not a terminal
    dst = tmp_path / "copy.bin"
    r = env.ok("fs", "get", f"{p}/Resources/big.bin", str(dst), key=world.alice)
    assert f"downloaded {p}/Resources/big.bin to {dst}" in r.out
    assert dst.read_bytes() == data
    # Into a directory: the file keeps its name; to stdout with "-".
    outdir = tmp_path / "out"
    outdir.mkdir()
    j = env.ok("--json", "fs", "get", f"{p}/Resources/big.bin", str(outdir), key=world.alice).json()
    assert j == {"path": str(outdir / "big.bin"), "size": len(data)}
    assert (outdir / "big.bin").read_bytes() == data
    r = env.ok("fs", "get", f"{p}/Resources/big.bin", "-", key=world.alice, text=False)
    assert r.raw == data
    # The default destination is the file's name in the current directory.
    env.ok("fs", "get", f"{p}/Resources/big.bin", key=world.alice)
    assert (env.work / "big.bin").read_bytes() == data
    # Replacing answers with the server's JSON.
    j = env.ok("fs", "put", str(src), f"{p}/Resources/big.bin", "--json", key=world.alice).json()
    assert j["size"] == len(data)


def test_fs_put_from_stdin_and_into_directories(env, world, tmp_path):
    p = world.proj
    env.ok("fs", "put", "-", f"{p}/Resources/deep/er/notes.txt", key=world.alice, stdin="one\ntwo\nthree\n")
    assert env.ok("fs", "cat", f"{p}/Resources/deep/er/notes.txt", key=world.alice).out == "one\ntwo\nthree\n"
    r = env.ok("fs", "mkdir", f"{p}/Resources/incoming", key=world.alice)
    assert r.out == f"created directory {p}/Resources/incoming\n"
    f = tmp_path / "a.csv"
    f.write_text("x,y\n1,2\n")
    # An existing remote directory receives the file under its own name.
    env.ok("fs", "put", str(f), f"{p}/Resources/incoming", key=world.alice)
    env.ok("fs", "put", str(f), f"{p}/Resources", key=world.alice)
    names = [i["name"] for i in env.ok("fs", "ls", f"{p}/Resources/incoming", "--json", key=world.alice).json()["items"]]
    assert names == ["a.csv"]
    assert env.ok("fs", "stat", f"{p}/Resources/a.csv", "--json", key=world.alice).json()["size"] == 8
    env.fails("fs", "put", "-", f"{p}/Resources/", key=world.alice, rc=2, stdin="x")
    env.fails("fs", "put", str(tmp_path / "missing.csv"), f"{p}/Resources/", key=world.alice,
              message="missing.csv")
    env.fails("fs", "put", str(tmp_path), f"{p}/Resources/", key=world.alice, message="not a regular file")


def test_fs_ls_stat_cat_rm(env, world, tmp_path):
    p = world.proj
    lines = "".join(f"line {i}\n" for i in range(1, 51))
    env.ok("fs", "put", "-", f"{p}/Resources/t/lines.txt", key=world.alice, stdin=lines)
    r = env.ok("fs", "ls", f"{p}/Resources/t", key=world.bob)
    header, row = r.out.splitlines()
    assert header.split() == ["NAME", "TYPE", "SIZE", "MODIFIED"]
    assert row.split()[:4] == ["lines.txt", "file", str(len(lines)), "B"]
    r = env.ok("fs", "ls", f"{p}/Resources", key=world.bob)
    assert any(line.split()[:3] == ["t/", "dir", "-"] for line in r.out.splitlines())
    # ls of a file shows the file; ls of a project shows its datasets.
    assert env.ok("fs", "ls", f"{p}/Resources/t/lines.txt", "--json", key=world.bob).json()["items"][0]["name"] == \
        "lines.txt"
    assert "Resources" in env.ok("fs", "ls", p, key=world.bob).out
    r = env.ok("fs", "stat", f"{p}/Resources/t/lines.txt", key=world.bob)
    assert "type:     file" in r.out and f"size:     {len(lines)}" in r.out
    # Previews for any member; whole files for data owners only.
    assert env.ok("fs", "cat", f"{p}/Resources/t/lines.txt", "--head", "2", key=world.bob).out == "line 1\nline 2\n"
    assert env.ok("fs", "cat", f"{p}/Resources/t/lines.txt", "--tail", "1", key=world.bob).out == "line 50\n"
    assert env.ok("fs", "cat", f"{p}/Resources/t/lines.txt", key=world.alice).out == lines
    env.fails("fs", "cat", f"{p}/Resources/t/lines.txt", "--head", "2", "--tail", "2", key=world.bob, rc=2)
    env.fails("fs", "cat", f"{p}/Resources/t/lines.txt", "--head", "many", key=world.bob, rc=2)
    env.fails("fs", "cat", f"{p}/Resources/t/lines.txt", "--head", "5000", key=world.bob)
    env.fails("fs", "ls", f"{p}/Resources/nothing", key=world.bob,
              message=env.server_message("GET", f"/projects/{p}/files/Resources/nothing?op=list", key=world.bob))
    env.fails("fs", "ls", f"{p}/Resources/../Logs", key=world.bob)
    # rm: a directory needs -r.
    env.fails("fs", "rm", f"{p}/Resources/t", key=world.bob, message="use rm -r")
    assert env.ok("fs", "rm", f"{p}/Resources/t/lines.txt", key=world.bob).out == \
        f"removed {p}/Resources/t/lines.txt\n"
    env.ok("fs", "rm", "-r", f"{p}/Resources/t", key=world.bob)
    env.fails("fs", "stat", f"{p}/Resources/t", key=world.bob)
    env.fails("fs", "rm", f"{p}/Resources/t", key=world.bob)
    env.fails("fs", "stat", "justaproject", key=world.bob, rc=2, message="PROJECT/DATASET")


def test_fs_permissions(env, world, tmp_path):
    p = world.proj
    env.ok("fs", "put", "-", f"{p}/Resources/secret.csv", key=world.alice, stdin="a\n")
    f = tmp_path / "x.csv"
    f.write_text("x\n")
    # A data scientist may not move raw bytes across the project boundary.
    env.fails("fs", "put", str(f), f"{p}/Resources/x.csv", key=world.bob,
              message=env.server_message("PUT", f"/projects/{p}/files/Resources/x.csv", {}, key=world.bob))
    dst = tmp_path / "got.csv"
    env.fails("fs", "get", f"{p}/Resources/secret.csv", str(dst), key=world.bob,
              message=env.server_message("GET", f"/projects/{p}/files/Resources/secret.csv", key=world.bob))
    assert not dst.exists()
    assert list(tmp_path.iterdir()) == [f]  # no temporary file left behind
    env.fails("fs", "cat", f"{p}/Resources/secret.csv", key=world.bob)
    # Outsiders see nothing.
    env.fails("fs", "ls", f"{p}/Resources", key=world.carol,
              message=env.server_message("GET", f"/projects/{p}/files/Resources?op=list", key=world.carol))
    env.fails("fs", "get", f"{p}/Resources/nope.csv", str(dst), key=world.alice)
    assert not dst.exists()


def on_tty(env, key, config, *args, answers=()):
    """Runs oast on a pseudo-terminal (stdin, stdout and stderr); types each of `answers` after
    a prompt ending in ": " appears. Returns (exit status, everything the terminal showed)."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("OAST_")}
    e.update(OAST_ADDR=env.addr, OAST_CONFIG=str(config), HOME=str(env.work))
    if key:
        e["OAST_API_KEY"] = env.keys.get(key, key)
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(OAST, [OAST, *args], e)
    out, pending = b"", list(answers)
    while True:
        try:
            ready, _, _ = select.select([fd], [], [], 60)
            chunk = os.read(fd, 4096) if ready else b""
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if pending and out.rstrip(b" ").endswith(b":"):
            os.write(fd, pending.pop(0).encode() + b"\n")
    _, st = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(st), out.decode()


def test_passwords_are_asked_on_a_terminal_without_echo(env, world, tmp_path):
    name = uniq("tina")
    rc, out = on_tty(env, env.admin, tmp_path / "none.json", "user", "create", name,
                     answers=["typed secret 1", "typed secret 1"])
    assert rc == 0 and f"created user {name}" in out, out
    assert "typed secret" not in out
    rc, out = on_tty(env, env.admin, tmp_path / "none.json", "user", "create", uniq("tina"),
                     answers=["first version", "second version"])
    assert rc == 2 and "the two passwords differ" in out, out
    cfg = tmp_path / "config.json"
    rc, out = on_tty(env, None, cfg, "login", "--user", name, answers=["typed secret 1"])
    assert rc == 0 and "Password:" in out and f"as {name}" in out, out
    assert "typed secret" not in out
    assert json.loads(cfg.read_text())["addr"] == env.addr


def test_progress_bar_on_a_terminal(env, world, tmp_path):
    src = tmp_path / "two.bin"
    src.write_bytes(b"\0" * (2 * MiB))
    cfg = tmp_path / "none.json"

    rc, out = on_tty(env, world.alice, cfg, "fs", "put", str(src), f"{world.proj}/Resources/two.bin")
    assert rc == 0, out
    assert "100% [##############]" in out and "2.0 MiB / 2.0 MiB" in out
    rc, out = on_tty(env, world.alice, cfg, "fs", "get", f"{world.proj}/Resources/two.bin", str(tmp_path / "back.bin"))
    assert rc == 0 and "100%" in out, out
    rc, out = on_tty(env, world.alice, cfg, "--json", "fs", "put", str(src), f"{world.proj}/Resources/two.bin")
    assert rc == 0 and "%" not in out and json.loads(out)["size"] == 2 * MiB
    # Small files get no bar.
    small = tmp_path / "small.txt"
    small.write_text("hi\n")
    rc, out = on_tty(env, world.alice, cfg, "fs", "put", str(small), f"{world.proj}/Resources/small.txt")
    assert rc == 0 and "%" not in out, out


# --- sharing ---------------------------------------------------------------------


def test_share_commands(env, world, tmp_path):
    owner, other = world.proj, uniq("other")
    env.ok("project", "create", other, key=world.carol)
    env.ok("fs", "put", "-", f"{owner}/Resources/shared/s.txt", key=world.alice, stdin="alpha\nbeta\n")
    r = env.ok("share", "create", f"{owner}/Resources", "--with", other, key=world.alice)
    assert f"oast share accept {other}/{owner}::Resources" in r.out
    r = env.ok("share", "list", f"{owner}/Resources", key=world.alice)
    assert any(line.split() == [other, "read", "pending"] for line in r.out.splitlines())
    # Only the receiving project's data owner accepts; bob of the owner project cannot.
    env.fails("share", "accept", f"{other}/{owner}::Resources", key=world.bob)
    j = env.ok("share", "accept", f"{other}/{owner}::Resources", "--json", key=world.carol).json()
    assert j["status"] == "accepted"
    r = env.ok("dataset", "list", other, key=world.carol)
    assert r.out.splitlines()[0].split() == ["NAME", "SHARED_FROM", "PERMISSION", "STATUS", "DESCRIPTION"]
    assert any(line.split()[:4] == [f"{owner}::Resources", owner, "read", "accepted"] for line in r.out.splitlines())
    assert "s.txt" in env.ok("fs", "ls", f"{other}/{owner}::Resources/shared", key=world.carol).out
    assert env.ok("fs", "cat", f"{other}/{owner}::Resources/shared/s.txt", "--head", "1", key=world.carol).out == \
        "alpha\n"
    # read only: no writes through the share.
    env.fails("fs", "mkdir", f"{other}/{owner}::Resources/new", key=world.carol)
    # Bad input and permission on create.
    env.fails("share", "create", f"{owner}/Logs", "--with", other, "--permission", "everything", key=world.alice,
              message=env.server_message("POST", f"/projects/{owner}/datasets/Logs/shares",
                                         {"project": other, "permission": "everything"}, key=world.alice))
    env.fails("share", "create", f"{owner}/Logs", "--with", other, key=world.bob,
              message=env.server_message("POST", f"/projects/{owner}/datasets/Logs/shares",
                                         {"project": other, "permission": "read"}, key=world.bob))
    env.fails("share", "create", f"{owner}/Logs", key=world.alice, rc=2, message="--with PROJECT")
    env.fails("share", "accept", f"{other}/Resources", key=world.carol, rc=2, message="OWNER::DATASET")
    env.fails("share", "accept", f"{other}/{owner}::Logs", key=world.carol)
    # read_write shares allow writes.
    env.ok("share", "create", f"{owner}/Models", "--with", other, "--permission", "read_write", key=world.alice)
    env.ok("share", "accept", f"{other}/{owner}::Models", key=world.carol)
    env.ok("fs", "mkdir", f"{other}/{owner}::Models/from_other", key=world.carol)
    assert "from_other/" in env.ok("fs", "ls", f"{owner}/Models", key=world.alice).out
    # Revoke ends access.
    env.fails("share", "revoke", f"{owner}/Resources", "--with", other, key=world.bob)
    assert env.ok("share", "revoke", f"{owner}/Resources", "--with", other, key=world.alice).out == \
        f"revoked the share of {owner}/Resources with {other}\n"
    env.fails("fs", "ls", f"{other}/{owner}::Resources", key=world.carol)
    assert other not in env.ok("share", "list", f"{owner}/Resources", key=world.alice).out


# --- audit -----------------------------------------------------------------------


def test_audit(env, world):
    p = uniq("proj")
    env.ok("project", "create", p, key=world.alice)
    env.ok("member", "add", p, world.bob, key=world.alice)
    env.fails("dataset", "delete", f"{p}/Logs", key=world.bob)  # denied, and recorded
    r = env.ok("audit", p, key=world.alice)
    header, *rows = r.out.splitlines()
    assert header.split() == ["TIME", "USER", "OUTCOME", "ACTION", "TARGET"]
    assert any("project.create" in row and world.alice in row for row in rows)
    items = env.ok("audit", p, "--json", key=world.alice).json()["items"]
    assert any(i["outcome"] == "denied" and i["user"] == world.bob for i in items)
    assert any(i["action"] == "member.add" for i in items)
    assert len(env.ok("audit", p, "--limit", "1", "--json", key=world.alice).json()["items"]) == 1
    env.fails("audit", p, "--limit", "0", key=world.alice, rc=2, message="--limit")
    env.fails("audit", p, key=world.bob, message=env.server_message("GET", f"/projects/{p}/audit", key=world.bob))
    env.fails("audit", p, key=world.carol)
    # The server-wide log is for administrators.
    assert any(i["action"] == "project.create" for i in env.ok("audit", "--json", "-n", "1000").json()["items"])
    env.fails("audit", key=world.alice, message=env.server_message("GET", "/audit", key=world.alice))


# --- the guide -------------------------------------------------------------------


def test_every_command_is_in_docs_cli_md(env):
    """docs/cli.md documents every command the client has (read from its own help)."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    main = env.ok("--help", key=None).out
    nouns = [line.split()[0] for line in main.split("Commands:\n")[1].split("\n\n")[0].splitlines()]
    nouns = [n for n in nouns if n not in ("server", "help")]
    assert set(nouns) == set(NOUN_VERBS)
    for noun in nouns:
        out = env.ok(noun, "--help", key=None).out
        if "Commands:\n" not in out:
            assert f"oast {noun}" in doc, noun
            continue
        for line in out.split("Commands:\n")[1].split("\n\n")[0].splitlines():
            verb = line[2:15].strip()
            assert f"`oast {noun} {verb}" in doc, f"oast {noun} {verb} is missing from docs/cli.md"
