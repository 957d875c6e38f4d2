"""
oasttest — the machinery the integration suites share: starting and
stopping the real `oast server`, a raw HTTP caller that sends exactly the
bytes a test wants (malformed JSON, escaping paths, aborted uploads), the
standard users and project, and assertions on the error body.

Fixtures built from these live in conftest.py; suites of later parts of
the platform (feature store, experiments, models) import this module and
reuse the same fixtures, so they never start servers their own way.

Conventions the suites rely on:
- A server runs on 127.0.0.1:0 with a fresh home in a pytest tmp dir; its
  address is read from HOME/run/server.addr, its admin key from
  HOME/admin.key. Its stdout and stderr go to HOME/server.out, which a
  failed start or stop quotes.
- World: alice owns the project in `world.project`, bob is its
  data_scientist, carol is a member of nothing, dave is spare (a second
  project's data scientist in the sharing suite). Each has a password, a
  login token and an API key, and an `oast.Connection` using the key.
"""

import datetime
import hashlib
import io
import http.client
import itertools
import json as jsonlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "python") not in sys.path:
    sys.path.insert(0, str(REPO / "python"))

import oast  # noqa: E402

#: The roles of the permission matrix, in the order reports list them.
ROLES = ("data_owner", "data_scientist", "non_member", "no_key")
#: Datasets every new project has (and its feature store, see default_datasets).
DEFAULT_DATASETS = ("Resources", "Logs", "Experiments", "Models", "TrainingDatasets", "Jupyter")


def default_datasets(project):
    """The names of the datasets a new project `project` starts with."""
    return DEFAULT_DATASETS + (project + "_featurestore.db",)
#: Names the contract refuses (^[A-Za-z][A-Za-z0-9_]{0,62}$).
BAD_NAMES = ["", "1abc", "_abc", "a-b", "a b", "a.b", "a/b", "..", "caf\u00e9", "a" * 64, "a\u0000b", " abc"]
#: The error code that goes with each status in the API contract.
CODE_OF_STATUS = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
                  405: "method_not_allowed", 413: "too_large", 422: "validation_failed", 500: "internal"}

START_TIMEOUT_S = 30
MiB = 1 << 20
STOP_TIMEOUT_S = 30


def oast_bin():
    """The server binary: $OAST_BIN, else build/oast of this checkout."""
    return os.environ.get("OAST_BIN") or str(REPO / "build" / "oast")


# --- the server ------------------------------------------------------------


class Server:
    """One `oast server` process on a home directory. start() may be called
    again after stop() or kill9() to restart on the same home (a new port)."""

    def __init__(self, home, args=()):
        self.home = Path(home)
        self.args = list(args)
        self.proc = None
        self.addr = None
        self.admin_key = None
        self.starts = 0

    @property
    def addr_file(self):
        return self.home / "run" / "server.addr"

    @property
    def out_file(self):
        return self.home / "server.out"

    @property
    def pid(self):
        return self.proc.pid

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def output(self):
        """What the server printed so far (all starts)."""
        try:
            return self.out_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self):
        """Starts the server and waits for its address file; returns self."""
        assert not self.running, "server already running"
        self.home.mkdir(parents=True, exist_ok=True)
        try:
            self.addr_file.unlink()  # a stale address from a previous run
        except FileNotFoundError:
            pass
        binary = oast_bin()
        assert os.access(binary, os.X_OK), "no server binary at %s (build with make, or set OAST_BIN)" % binary
        out = open(self.out_file, "ab")
        try:
            self.proc = subprocess.Popen(
                [binary, "server", "--home", str(self.home), "--listen", "127.0.0.1:0", *self.args],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        finally:
            out.close()
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("oast server exited with %s before listening:\n%s"
                                     % (self.proc.returncode, self.output()[-4000:]))
            if self.addr_file.exists():
                text = self.addr_file.read_text().strip()
                if text:
                    break
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("oast server wrote no %s within %ss:\n%s"
                                     % (self.addr_file, START_TIMEOUT_S, self.output()[-4000:]))
            time.sleep(0.02)
        self.addr = text
        self.admin_key = (self.home / "admin.key").read_text().strip()
        self.api = Api(self.addr)
        return self

    def stop(self, sig=signal.SIGTERM):
        """Sends sig and waits; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("oast server did not stop within %ss of signal %d:\n%s"
                                     % (STOP_TIMEOUT_S, sig, self.output()[-4000:]))
        return self.proc.returncode

    def kill9(self):
        """Kills the server with SIGKILL (a crash) and reaps it."""
        return self.stop(signal.SIGKILL)

    def restart(self):
        """A clean stop (asserting exit 0) and a start on the same home."""
        rc = self.stop()
        assert rc == 0, "oast server exited %s on SIGTERM:\n%s" % (rc, self.output()[-4000:])
        return self.start()

    def proc_status(self, field):
        """A kB field of /proc/PID/status (VmRSS, VmHWM) as an int."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise AssertionError("no %s in /proc/%d/status" % (field, self.pid))

    def connect(self, key):
        """An oast.Connection to this server with the given credential."""
        return oast.connect(self.addr, key)

    @property
    def admin(self):
        return self.connect(self.admin_key)

    @property
    def meta_db(self):
        return self.home / "meta.db"

    def project_dir(self, project):
        return self.home / "fs" / "Projects" / project


def stop_checked(server):
    """Teardown: SIGTERM and assert a clean exit 0 (when still running)."""
    if server.running:
        rc = server.stop()
        assert rc == 0, "oast server exited %s on SIGTERM:\n%s" % (rc, server.output()[-4000:])


# --- raw HTTP ----------------------------------------------------------------


class Resp:
    """A raw answer: status, headers (lower-case names), body bytes."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return jsonlib.loads(self.body.decode("utf-8"))

    @property
    def error_code(self):
        try:
            return self.json()["error"]["code"]
        except Exception:
            return None

    def __repr__(self):
        return "<Resp %d %s>" % (self.status, self.text[:300])


NOBODY = object()


class Api:
    """Sends requests below /api/v1 exactly as given: the path is not
    encoded or normalized, so tests control every byte."""

    def __init__(self, addr):
        parts = urllib.parse.urlsplit(addr)
        self.host = parts.hostname
        self.port = parts.port

    def call(self, method, path, key=None, json=NOBODY, data=None, headers=None, prefix="/api/v1", timeout=60):
        """One request. json= sends a JSON body (any value, None included);
        data= sends raw bytes. Returns a Resp. A server that answers early
        and closes the socket still yields its answer."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        hdrs = {}
        if key:
            hdrs["Authorization"] = "Bearer " + key
        body = None
        if json is not NOBODY:
            body = jsonlib.dumps(json).encode()
            hdrs["Content-Type"] = "application/json"
        elif data is not None:
            body = data
        if body is not None:
            hdrs["Content-Length"] = str(len(body))
        elif method in ("POST", "PUT", "PATCH"):
            hdrs["Content-Length"] = "0"
        hdrs.update(headers or {})
        try:
            conn.putrequest(method, prefix + path, skip_accept_encoding=True)
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.endheaders()
            if body:
                view = memoryview(body)
                for i in range(0, len(view), 1 << 20):
                    conn.send(view[i:i + (1 << 20)])
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered early; read the answer below
        try:
            r = conn.getresponse()
            out = Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()
        return out

    def get(self, path, key=None, **kw):
        return self.call("GET", path, key, **kw)

    def raw_json(self, method, path, key, body):
        """Sends `body` bytes as they are, labelled application/json."""
        return self.call(method, path, key, data=body, headers={"Content-Type": "application/json"})


def assert_error(resp, status, code=None):
    """The answer is `status` with the body {"error": {"code", "message"}}
    and the code of that status (or `code`)."""
    expected = (status,) if isinstance(status, int) else tuple(status)
    assert resp.status in expected, "expected HTTP %s, got %r" % (status, resp)
    assert "json" in resp.headers.get("content-type", ""), "error without a JSON content type: %r" % resp
    body = resp.json()
    assert isinstance(body, dict) and set(body) == {"error"}, "bad error body %r" % body
    err = body["error"]
    assert isinstance(err, dict) and {"code", "message"} <= set(err), "bad error body %r" % body
    assert isinstance(err["message"], str) and err["message"].strip(), "empty error message %r" % body
    want = code or CODE_OF_STATUS.get(resp.status)
    if resp.status == 409 and code is None:
        assert err["code"] in ("already_exists", "conflict"), body
    elif want:
        assert err["code"] == want, "expected code %s, got %r" % (want, body)
    return err


def assert_status(resp, status):
    expected = (status,) if isinstance(status, int) else tuple(status)
    assert resp.status in expected, "expected HTTP %s, got %r" % (status, resp)
    return resp


def parse_time(s):
    """An ISO-8601 UTC string from the server as an aware datetime."""
    assert isinstance(s, str), "time %r is not a string" % (s,)
    d = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    assert d.tzinfo is not None and d.utcoffset() == datetime.timedelta(0), "time %r is not UTC" % s
    return d


# --- users and projects --------------------------------------------------------


class User:
    """A user of a test server: name, password, API key, login token and a
    Connection that uses the key."""

    def __init__(self, server, name, password, key, token):
        self.server = server
        self.name = name
        self.password = password
        self.key = key
        self.token = token

    @property
    def conn(self):
        return self.server.connect(self.key)

    def __repr__(self):
        return "<User %s>" % self.name


def make_user(server, name, password=None):
    """Admin creates the user; the user logs in and makes an API key."""
    password = password or "pw-%s-%s" % (name, os.urandom(6).hex())
    admin = server.admin
    admin.users.create(name, password)
    token = oast.connect(server.addr, None).login(name, password)
    key = server.connect(token).users.api_keys.create("default")["key"]
    return User(server, name, password, key, str(token))


_names = itertools.count(1)


def unique(prefix):
    """A fresh valid name (unique within this test session)."""
    return "%s%d" % (prefix, next(_names))


class World:
    """The standard cast on one server (see the module comment)."""

    def __init__(self, server):
        self.server = server
        self.api = server.api
        self.alice = make_user(server, "alice")
        self.bob = make_user(server, "bob")
        self.carol = make_user(server, "carol")
        self.dave = make_user(server, "dave")
        self.project = self.new_project("core")

    def new_project(self, prefix="p", owner=None, scientist="bob"):
        """A fresh project owned by `owner` (alice) with `scientist` (bob,
        or None) as data scientist; returns its name."""
        owner = owner or self.alice
        name = unique(prefix)
        p = owner.conn.projects.create(name, "made by the tests")
        if scientist:
            p.members.add(scientist, "data_scientist")
        return name

    def key(self, role):
        """The API key that plays `role` in projects from new_project()."""
        return {"data_owner": self.alice.key, "data_scientist": self.bob.key,
                "non_member": self.carol.key, "no_key": None}[role]

    def user(self, role):
        return {"data_owner": self.alice, "data_scientist": self.bob, "non_member": self.carol}.get(role)

    def owner_project(self, name):
        """alice's handle on project `name`."""
        return self.alice.conn.projects.get(name)


# --- the database and the disk -----------------------------------------------------


def db_files(home):
    """meta.db and its WAL/journal files."""
    return sorted(p for p in Path(home).glob("meta.db*") if p.is_file())


def db_text_values(home):
    """Every TEXT/BLOB value of every table of meta.db, read through SQLite
    (read-only), as (table, column, value) — the WAL is included."""
    uri = "file:%s?mode=ro" % (Path(home) / "meta.db")
    con = sqlite3.connect(uri, uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        out = []
        for t in tables:
            cols = [r[1] for r in con.execute('PRAGMA table_info("%s")' % t.replace('"', '""'))]
            for row in con.execute('SELECT * FROM "%s"' % t.replace('"', '""')):
                for c, v in zip(cols, row):
                    if isinstance(v, (str, bytes)):
                        out.append((t, c, v))
        return out
    finally:
        con.close()


def db_holds(home, secret):
    """Where `secret` appears in plain text in the database: a list of
    places (empty when nowhere), from SQLite values and the raw bytes of the
    database files."""
    found = []
    sb = secret.encode()
    for t, c, v in db_text_values(home):
        if (sb in v) if isinstance(v, bytes) else (secret in v):
            found.append("%s.%s" % (t, c))
    for f in db_files(home):
        if sb in f.read_bytes():
            found.append(f.name)
    return found


def wait_until(cond, timeout=10.0, step=0.05):
    """Polls cond() until it is truthy; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def q(path):
    """Percent-encodes a file path per segment (as the clients do)."""
    return urllib.parse.quote(path, safe="/:")


# --- the permission matrix ------------------------------------------------------------


def expect_owner(ok):
    """Data owners only: `ok` for them, 403 for data scientists, 404 for
    non-members, 401 without a key."""
    return {"data_owner": ok, "data_scientist": 403, "non_member": 404, "no_key": 401}


def expect_member(ok):
    """Any member: `ok` for both roles, 404 for non-members, 401 without a key."""
    return {"data_owner": ok, "data_scientist": ok, "non_member": 404, "no_key": 401}


def run_matrix(world, role, method, path, expect, json=NOBODY, data=None, setup=None, refused=None, done=None,
               headers=None):
    """One cell of a route x role matrix on a fresh project (alice owner,
    bob data scientist).

    `path` is formatted with {p} (the project) and whatever setup(world, p)
    returns (a dict). On a refusal the error body is checked and
    refused(ctx) must show nothing changed; on success done(ctx, resp)
    checks the effect. Returns the response."""
    p = world.new_project("m")
    ctx = {"p": p, "world": world}
    if setup:
        ctx.update(setup(world, p) or {})
    fmt = {k: v for k, v in ctx.items() if isinstance(v, str)}
    body = json(ctx) if callable(json) else json
    r = world.api.call(method, path.format(**fmt), world.key(role), json=body, data=data, headers=headers)
    want = expect[role]
    if (want if isinstance(want, int) else min(want)) >= 400:
        assert_error(r, want)
        if refused:
            refused(ctx)
    else:
        assert_status(r, want)
        if done:
            done(ctx, r)
    return r


# --- generated data -----------------------------------------------------------------


class Pattern(io.RawIOBase):
    """`size` bytes of a reproducible pattern, made as they are read."""

    BASE = hashlib.sha256(b"oast").digest() * (MiB // 32)

    def __init__(self, size):
        self.size = size
        self.pos = 0
        self.sha = hashlib.sha256()

    def readable(self):
        return True

    def read(self, n=-1):
        if n is None or n < 0:
            n = self.size - self.pos
        out = bytearray()
        while n > 0 and self.pos < self.size:
            i, off = divmod(self.pos, MiB)
            block = i.to_bytes(8, "big") + self.BASE[8:]
            take = min(n, MiB - off, self.size - self.pos)
            out += block[off:off + take]
            self.pos += take
            n -= take
        self.sha.update(out)
        return bytes(out)


class HashSink:
    def __init__(self):
        self.sha = hashlib.sha256()
        self.n = 0

    def write(self, b):
        self.sha.update(b)
        self.n += len(b)
        return len(b)
