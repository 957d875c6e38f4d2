"""
oast.client — the HTTP core of the Python client: where the server is,
who is calling, and how one REST call is made.

A :class:`Connection` holds the server's address and a bearer credential
(an API key or a login token) and makes each call on a fresh
``http.client`` connection, so one Connection can be shared by threads
and a broken socket never poisons the next call. JSON goes in and out
through :meth:`Connection.request`; file bodies go through
:meth:`Connection.send` and :meth:`Connection.open_stream`, which move the
bytes in chunks of :data:`CHUNK` so neither side ever holds a whole file.

Uploads announce themselves with ``Expect: 100-continue`` on plain HTTP:
the server checks the caller's rights before the first byte, so a refused
upload costs one round trip instead of the whole body. If the server
answers early anyway (or closes the socket), the client still reads its
answer and raises the server's error rather than a broken pipe.

The resource classes (users, projects, datasets, files, and later the
feature store, experiments and models) live in their own modules and
only call the methods here.
"""

import http.client
import io
import json
import os
import select
import socket
import ssl
import urllib.parse

from . import errors

DEFAULT_ADDR = "http://127.0.0.1:7070"
API_PREFIX = "/api/v1"
#: Bytes moved per read/write when streaming file bodies.
CHUNK = 1 << 20
#: How long an upload waits for "100 Continue" before sending anyway.
EXPECT_WAIT_S = 5.0


class Record(dict):
    """A JSON object from the server. Keys read as items or attributes
    (``item["name"]`` or ``item.name``)."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


class LoginToken(str):
    """A login token (a str usable as a bearer credential) with the time it
    expires as ``.expires`` (whatever the server sent, an ISO-8601 string
    or epoch seconds)."""

    expires = None


def quote_path(path):
    """Percent-encodes a path per segment, keeping '/' between segments
    (and ':' so shared datasets read ``p::ds``)."""
    return urllib.parse.quote(path, safe="/:")


def config_path():
    """The client config file: $OAST_CONFIG, else
    $XDG_CONFIG_HOME/oast/config.json, else ~/.config/oast/config.json."""
    explicit = os.environ.get("OAST_CONFIG")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "oast", "config.json")


def load_config(path=None):
    """Reads the config file ({"addr", "key"}); {} when it does not exist.

    Raises ValueError naming the file when it exists but is not a JSON
    object."""
    path = path or config_path()
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return {}
    try:
        cfg = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError("%s: not valid JSON (%s)" % (path, exc)) from None
    if not isinstance(cfg, dict):
        raise ValueError("%s: must hold a JSON object with \"addr\" and \"key\"" % path)
    return cfg


def _as_json(raw, ctype):
    if not raw:
        return None
    if ctype and "json" not in ctype:
        return raw
    try:
        return _records(json.loads(raw.decode("utf-8")))
    except (UnicodeDecodeError, ValueError):
        return raw


def _records(value):
    """Wraps top-level objects and the objects of an "items" list as Records."""
    if isinstance(value, dict):
        rec = Record(value)
        if isinstance(rec.get("items"), list):
            rec["items"] = [Record(x) if isinstance(x, dict) else x for x in rec["items"]]
        return rec
    return value


class Connection:
    """A client of one Oast server, acting as one user.

    Create it with :func:`oast.connect`. Attributes:
        addr: the server's base address, e.g. ``http://127.0.0.1:7070``.
        api_key: the bearer credential (API key or login token), or None.
        users: :class:`oast.users.Users` — create users, ``me()``, API keys.
        projects: :class:`oast.project.Projects` — create, list, get, delete.
    """

    def __init__(self, addr=None, api_key=None, timeout=60.0, ssl_context=None):
        addr = addr or DEFAULT_ADDR
        if "://" not in addr:
            addr = "http://" + addr
        parts = urllib.parse.urlsplit(addr)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("server address %r must look like http://HOST:PORT" % addr)
        self.addr = addr.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/") + API_PREFIX
        self._ssl = ssl_context
        # Imported here: the resource modules import this one.
        from .project import Projects
        from .users import Users

        self.users = Users(self)
        self.projects = Projects(self)

    def __repr__(self):
        return "<oast.Connection %s>" % self.addr

    # --- calls -----------------------------------------------------------

    def health(self):
        """GET /health (no credential needed) → {"status", "version"}."""
        return self.request("GET", "/health")

    def login(self, username, password):
        """POST /auth/login → a :class:`LoginToken` (a str) for this user.

        The token is a bearer credential like an API key that expires
        (``token.expires``); ``oast.connect(addr, token)`` uses it. This
        connection's own credential is not changed."""
        out = self.request("POST", "/auth/login", {"username": username, "password": password})
        tok = LoginToken(out["token"])
        tok.expires = out.get("expires")
        return tok

    def with_key(self, api_key):
        """A new Connection to the same server with another credential."""
        return Connection(self.addr, api_key, self.timeout, self._ssl)

    def request(self, method, path, body=None, query=None):
        """Makes one JSON call and returns the decoded answer.

        ``path`` is below /api/v1 and already percent-encoded; ``body`` is
        JSON-encoded when not None; ``query`` is a dict of parameters.
        Returns a :class:`Record` (or list, or None for an empty answer, or
        the raw bytes of a non-JSON answer). Raises :class:`oast.OastError`
        (the subclass of the server's code) on any status >= 400."""
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        resp, conn = self.send(method, path, data, query=query, headers=headers)
        return self.finish(resp, conn)

    def finish(self, resp, conn):
        """Reads a whole answer from :meth:`send`, closes the connection and
        returns the decoded body, or raises the server's error."""
        try:
            raw = self._read_all(resp)
        finally:
            conn.close()
        if resp.status >= 400:
            raise errors.from_response(resp.status, raw)
        return _as_json(raw, resp.getheader("Content-Type", ""))

    def send(self, method, path, body=None, length=None, query=None, headers=None):
        """Sends one request and returns ``(response, http_connection)``;
        the caller reads the response and closes the connection.

        ``body`` is None, bytes, or a binary file object of which exactly
        ``length`` bytes are streamed in chunks. Raises
        :class:`oast.ConnectionFailed` when the server cannot be reached."""
        url = self._prefix + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        hdrs = {"Accept": "application/json"}
        if self.api_key:
            hdrs["Authorization"] = "Bearer " + self.api_key
        hdrs.update(headers or {})
        if isinstance(body, (bytes, bytearray, memoryview)):
            length = len(body)
            body = io.BytesIO(body)
        elif body is not None and length is None:
            raise ValueError("a file body needs its length")
        stream = body is not None and length > 0
        expect = stream and length > CHUNK and not self._https
        if body is not None:
            hdrs["Content-Length"] = str(length)
        if expect:
            hdrs["Expect"] = "100-continue"
        conn = self._http()
        try:
            conn.putrequest(method, url, skip_host=False, skip_accept_encoding=True)
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.endheaders()
            go = True
            if expect:
                go = self._await_continue(conn)
            if stream and go:
                self._stream_body(conn, body, length)
        except (BrokenPipeError, ConnectionResetError) as exc:
            # The server may have answered early and closed: read its answer.
            return self._response_after(conn, exc), conn
        except OSError as exc:
            conn.close()
            raise errors.connection_failed("cannot reach %s: %s" % (self.addr, exc)) from None
        except BaseException:
            conn.close()
            raise
        return self._response_after(conn, None), conn

    def open_stream(self, method, path, query=None):
        """Starts a call whose answer is a byte stream (a file download).

        Returns ``(response, http_connection)`` with the status checked:
        an error status raises its :class:`oast.OastError` here. The caller
        reads ``response`` in chunks and closes the connection."""
        resp, conn = self.send(method, path, query=query)
        if resp.status >= 400:
            try:
                raw = self._read_all(resp)
            finally:
                conn.close()
            raise errors.from_response(resp.status, raw)
        return resp, conn

    # --- plumbing --------------------------------------------------------

    def _http(self):
        if self._https:
            ctx = self._ssl or ssl.create_default_context()
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout, context=ctx,
                                               blocksize=CHUNK)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout, blocksize=CHUNK)

    def _read_all(self, resp):
        try:
            return resp.read()
        except (http.client.HTTPException, OSError) as exc:
            raise errors.connection_failed("the answer from %s broke off: %s" % (self.addr, exc)) from None

    def _response_after(self, conn, cause):
        try:
            return conn.getresponse()
        except (http.client.HTTPException, OSError) as exc:
            conn.close()
            why = cause or exc
            raise errors.connection_failed("the connection to %s broke: %s" % (self.addr, why)) from None

    @staticmethod
    def _await_continue(conn):
        """After the headers of an Expect: 100-continue request: True to send
        the body (the server said 100 Continue, or said nothing in time),
        False when the server already answered with a final status."""
        sock = conn.sock
        ready, _, _ = select.select([sock], [], [], EXPECT_WAIT_S)
        if not ready:
            return True
        head = sock.recv(256, socket.MSG_PEEK)
        if not head.startswith(b"HTTP/1.1 100") and not head.startswith(b"HTTP/1.0 100"):
            return False  # a final answer; getresponse() reads it
        end = head.find(b"\r\n\r\n")
        if end < 0:
            return True  # partial interim line; http.client skips 100s itself
        sock.recv(end + 4)
        return True

    @staticmethod
    def _stream_body(conn, f, length):
        left = length
        while left > 0:
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                raise ValueError("the source ended %d bytes before its announced size of %d" % (left, length))
            conn.send(chunk)
            left -= len(chunk)


def connect(addr=None, api_key=None, timeout=60.0, ssl_context=None):
    """Connects to an Oast server and returns a :class:`Connection`.

    ``addr`` defaults to $OAST_ADDR, else the config file's "addr", else
    http://127.0.0.1:7070; ``api_key`` to $OAST_API_KEY, else the config
    file's "key". The config file is $OAST_CONFIG or
    ~/.config/oast/config.json. Nothing is sent until the first call."""
    cfg = None
    if addr is None:
        addr = os.environ.get("OAST_ADDR")
        if not addr:
            cfg = load_config()
            addr = cfg.get("addr")
    if api_key is None:
        api_key = os.environ.get("OAST_API_KEY")
        if not api_key:
            cfg = load_config() if cfg is None else cfg
            api_key = cfg.get("key")
    return Connection(addr, api_key, timeout, ssl_context)


def login(username, password, addr=None, timeout=60.0, ssl_context=None):
    """Logs in with a password and returns a Connection that uses the
    login token (which expires; see :meth:`Connection.login`)."""
    anon = Connection(addr or os.environ.get("OAST_ADDR") or load_config().get("addr"), None, timeout, ssl_context)
    return anon.with_key(anon.login(username, password))
