"""Server start, health, users, login tokens and API keys."""

import os
import re
import stat
import time

import pytest

import oast
from oasttest import assert_error, assert_status, db_holds, make_user, parse_time, unique


def test_start_prints_address_and_writes_files(server):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.addr), server.addr
    assert int(server.addr.rsplit(":", 1)[1]) > 0
    # The line is printed before the address file (the readiness signal) is written.
    assert "oast server listening on " + server.addr in server.output(), server.output()[-2000:]
    key_file = server.home / "admin.key"
    mode = stat.S_IMODE(os.stat(key_file).st_mode)
    assert mode == 0o600, oct(mode)
    text = key_file.read_text()
    assert text.endswith("\n") and text.count("\n") == 1 and len(text.strip()) >= 16


def test_help_lists_options():
    import subprocess

    from oasttest import oast_bin
    out = subprocess.run([oast_bin(), "server", "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out
    for flag in ("--home", "--listen", "--login-ttl"):
        assert flag in out.stdout + out.stderr


def test_health_is_open(api):
    r = assert_status(api.get("/health"), 200)
    body = r.json()
    assert body["status"] == "ok" and isinstance(body["version"], str) and body["version"]


def test_admin_is_admin(server, world):
    me = server.admin.users.me()
    assert me == {"username": "admin", "admin": True}
    assert world.alice.conn.users.me() == {"username": "alice", "admin": False}


# --- the matrix: admin, a plain user, no key, a wrong key ---------------------------------------

USER_ROLES = ("admin", "user", "no_key", "bad_key")


def _key(world, role):
    return {"admin": world.server.admin_key, "user": world.carol.key, "no_key": None,
            "bad_key": "oast_not_a_real_key_0123456789abcdef"}[role]


def _usernames(world):
    return {u["username"] for u in world.server.admin.users.list()}


@pytest.mark.parametrize("role", USER_ROLES)
def test_matrix_create_user(world, role):
    name = unique("u")
    r = world.api.call("POST", "/users", _key(world, role), json={"username": name, "password": "secret-pw-1"})
    if role == "admin":
        assert_status(r, 201)
        assert name in _usernames(world)
        assert oast.connect(world.server.addr, None).login(name, "secret-pw-1")
    else:
        assert_error(r, 403 if role == "user" else 401)
        assert name not in _usernames(world)


@pytest.mark.parametrize("role", USER_ROLES)
def test_matrix_list_users(world, role):
    r = world.api.get("/users", _key(world, role))
    if role == "admin":
        items = assert_status(r, 200).json()["items"]
        by = {u["username"]: u["admin"] for u in items}
        assert by["admin"] is True and by["alice"] is False and by["bob"] is False
    else:
        assert_error(r, 403 if role == "user" else 401)


@pytest.mark.parametrize("role", USER_ROLES)
def test_matrix_server_audit(world, role):
    r = world.api.get("/audit?limit=5", _key(world, role))
    if role == "admin":
        items = assert_status(r, 200).json()["items"]
        assert 0 < len(items) <= 5
    else:
        assert_error(r, 403 if role == "user" else 401)


def test_admin_creates_admin(world):
    name = unique("boss")
    made = world.server.admin.users.create(name, "secret-pw-boss")
    assert made == {"username": name, "admin": False}
    name2 = unique("boss")
    r = world.api.call("POST", "/users", world.server.admin_key,
                       json={"username": name2, "password": "secret-pw-boss", "admin": True})
    assert assert_status(r, 201).json() == {"username": name2, "admin": True}
    conn = oast.login(name2, "secret-pw-boss", addr=world.server.addr)
    assert conn.users.me() == {"username": name2, "admin": True}
    assert conn.users.list()


@pytest.mark.parametrize("role", USER_ROLES)
def test_matrix_me(world, role):
    r = world.api.get("/users/me", _key(world, role))
    if role in ("admin", "user"):
        body = assert_status(r, 200).json()
        assert body == {"username": "admin" if role == "admin" else "carol", "admin": role == "admin"}
    else:
        assert_error(r, 401)


@pytest.mark.parametrize("role", USER_ROLES)
def test_matrix_create_api_key(world, role):
    name = unique("k")
    r = world.api.call("POST", "/users/me/api-keys", _key(world, role), json={"name": name})
    if role in ("admin", "user"):
        body = assert_status(r, 201).json()
        assert body["name"] == name and isinstance(body["key"], str) and len(body["key"]) >= 16
        assert_status(world.api.get("/users/me", body["key"]), 200)
    else:
        assert_error(r, 401)


@pytest.mark.parametrize("role", USER_ROLES)
def test_matrix_list_api_keys(world, role):
    r = world.api.get("/users/me/api-keys", _key(world, role))
    if role in ("admin", "user"):
        items = assert_status(r, 200).json()["items"]
        assert all(set(k) >= {"name", "created"} and "key" not in k for k in items), items
    else:
        assert_error(r, 401)


@pytest.mark.parametrize("role", USER_ROLES)
def test_matrix_delete_api_key(world, role):
    spare = world.carol.conn.users.api_keys.create(unique("k"))
    r = world.api.call("DELETE", "/users/me/api-keys/" + spare["name"], _key(world, role))
    if role == "user":
        assert_status(r, 204)
        assert_error(world.api.get("/users/me", spare["key"]), 401)
    else:
        # admin has no key of that name; no_key/bad_key are not authenticated
        assert_error(r, 404 if role == "admin" else 401)
        assert_status(world.api.get("/users/me", spare["key"]), 200)


# --- users and login -----------------------------------------------------------------------


def test_login_token_works_and_wrong_passwords_do_not(world):
    api = world.api
    name = unique("login")
    world.server.admin.users.create(name, "right-password")
    r = assert_status(api.call("POST", "/auth/login", json={"username": name, "password": "right-password"}), 200)
    body = r.json()
    assert isinstance(body["token"], str) and len(body["token"]) >= 16
    assert "expires" in body
    assert assert_status(api.get("/users/me", body["token"]), 200).json()["username"] == name
    wrong = api.call("POST", "/auth/login", json={"username": name, "password": "wrong-password"})
    unknown = api.call("POST", "/auth/login", json={"username": unique("nobody"), "password": "right-password"})
    assert_error(wrong, 401)
    assert_error(unknown, 401)


def test_two_logins_give_two_tokens(world):
    a = oast.connect(world.server.addr, None).login("alice", world.alice.password)
    b = oast.connect(world.server.addr, None).login("alice", world.alice.password)
    assert a != b
    assert world.server.connect(a).users.me()["username"] == "alice"
    assert world.server.connect(b).users.me()["username"] == "alice"


@pytest.mark.parametrize("header", [
    "Bearer ", "Bearer garbage", "Basic YWxpY2U6cHc=", "Token abc", "Bearer%20x",
])
def test_bad_authorization_headers(world, header):
    assert_error(world.api.get("/users/me", headers={"Authorization": header}), 401)


def test_no_credential_gets_error_body(api):
    for path in ("/users/me", "/projects", "/users/me/api-keys"):
        assert_error(api.get(path), 401)


BAD_USER_BODIES = [
    ("malformed", b'{"username": "x", "password": '),
    ("not_object", b'["x", "y"]'),
    ("empty_object", b"{}"),
    ("missing_password", b'{"username": "newuser1"}'),
    ("missing_username", b'{"password": "secret-pw-1"}'),
    ("username_number", b'{"username": 17, "password": "secret-pw-1"}'),
    ("password_number", b'{"username": "newuser2", "password": 17}'),
    ("password_null", b'{"username": "newuser3", "password": null}'),
    ("empty_username", b'{"username": "", "password": "secret-pw-1"}'),
    ("slash_username", b'{"username": "a/b", "password": "secret-pw-1"}'),
    ("dotdot_username", b'{"username": "..", "password": "secret-pw-1"}'),
    ("space_username", b'{"username": "a b", "password": "secret-pw-1"}'),
    ("long_username", b'{"username": "' + b"a" * 300 + b'", "password": "secret-pw-1"}'),
    ("empty_password", b'{"username": "newuser4", "password": ""}'),
    ("short_password", b'{"username": "newuser5", "password": "1234567"}'),
    ("long_password", b'{"username": "newuser6", "password": "' + b"p" * 257 + b'"}'),
    ("admin_string", b'{"username": "newuser7", "password": "secret-pw-1", "admin": "yes"}'),
    ("unknown_field", b'{"username": "newuser8", "password": "secret-pw-1", "role": "root"}'),
]


@pytest.mark.parametrize("name,body", BAD_USER_BODIES, ids=[b[0] for b in BAD_USER_BODIES])
def test_create_user_bad_input(world, name, body):
    before = _usernames(world)
    r = world.api.raw_json("POST", "/users", world.server.admin_key, body)
    assert_error(r, 400)
    assert _usernames(world) == before


def test_create_user_twice(world):
    name = unique("twice")
    world.server.admin.users.create(name, "secret-pw-1")
    before = _usernames(world)
    assert_error(world.api.call("POST", "/users", world.server.admin_key,
                                json={"username": name, "password": "other-pw-2"}), 409, "already_exists")
    assert _usernames(world) == before
    # the first password still holds
    oast.connect(world.server.addr, None).login(name, "secret-pw-1")
    with pytest.raises(oast.Unauthenticated):
        oast.connect(world.server.addr, None).login(name, "other-pw-2")


@pytest.mark.parametrize("body", [b"{", b"[]", b"{}", b'{"username": "alice"}', b'{"username": 1, "password": 2}'])
def test_login_bad_input(api, body):
    assert_error(api.raw_json("POST", "/auth/login", None, body), 400)


def test_api_keys_lifecycle(world):
    conn = world.dave.conn
    name = unique("key")
    made = conn.users.api_keys.create(name)
    other = world.server.connect(made["key"])
    assert other.users.me()["username"] == "dave"
    listed = {k["name"]: k for k in conn.users.api_keys.list()}
    assert name in listed and "default" in listed
    parse_time(listed[name]["created"])
    assert made["key"] not in repr(listed)
    # a second key of the same name is refused, the first still works
    with pytest.raises(oast.AlreadyExists):
        conn.users.api_keys.create(name)
    assert other.users.me()["username"] == "dave"
    # keys are per user: alice may not delete dave's key
    with pytest.raises(oast.NotFound):
        world.alice.conn.users.api_keys.delete(name)
    assert other.users.me()["username"] == "dave"
    conn.users.api_keys.delete(name)
    with pytest.raises(oast.Unauthenticated):
        other.users.me()
    assert name not in {k["name"] for k in conn.users.api_keys.list()}
    with pytest.raises(oast.NotFound):
        conn.users.api_keys.delete(name)


@pytest.mark.parametrize("body", [b"{", b"{}", b'{"name": 5}', b'{"name": ""}', b'{"name": "a/b"}'])
def test_api_key_bad_input(world, body):
    before = world.dave.conn.users.api_keys.list()
    r = world.api.raw_json("POST", "/users/me/api-keys", world.dave.key, body)
    assert_error(r, 400)
    assert world.dave.conn.users.api_keys.list() == before


# --- secrets are stored only as hashes ---------------------------------------------------------


def test_passwords_and_keys_are_stored_as_hashes(world):
    server = world.server
    secrets = {"admin key": server.admin_key}
    for u in (world.alice, world.bob, world.carol, world.dave):
        secrets[u.name + " password"] = u.password
        secrets[u.name + " key"] = u.key
    extra = world.alice.conn.users.api_keys.create(unique("hashcheck"))
    secrets["fresh key"] = extra["key"]
    leaks = {what: where for what, s in secrets.items() if (where := db_holds(server.home, s))}
    assert not leaks, "plaintext secrets in the database: %r" % leaks
    # the scan does see what is stored in plain text
    assert db_holds(server.home, "alice") and db_holds(server.home, world.project)


def test_login_tokens_are_stored_as_hashes(world):
    token = oast.connect(world.server.addr, None).login("bob", world.bob.password)
    leaks = {what: where for what, s in (("bob's token", str(token)), ("alice's token", world.alice.token))
             if (where := db_holds(world.server.home, s))}
    assert not leaks, "plaintext tokens in the database: %r" % leaks


# --- login tokens expire ---------------------------------------------------------------------


def test_login_tokens_expire(start_server):
    ttl = 5
    srv = start_server("--login-ttl", str(ttl))
    user = make_user(srv, "erin")
    token = oast.connect(srv.addr, None).login("erin", user.password)
    assert_status(srv.api.get("/users/me", str(token)), 200)
    if isinstance(token.expires, str):
        left = (parse_time(token.expires).timestamp() - time.time())
        assert left <= ttl + 5, "expires %s is not about %ds away" % (token.expires, ttl)
    deadline = time.monotonic() + ttl + 15
    while time.monotonic() < deadline and srv.api.get("/users/me", str(token)).status == 200:
        time.sleep(0.25)
    assert_error(srv.api.get("/users/me", str(token)), 401)
    # the API key made through the (earlier) token does not expire with it
    assert_status(srv.api.get("/users/me", user.key), 200)
    # and logging in again gives a working token
    fresh = oast.connect(srv.addr, None).login("erin", user.password)
    assert_status(srv.api.get("/users/me", str(fresh)), 200)


def test_login_ttl_default_is_a_day(world):
    token = oast.connect(world.server.addr, None).login("carol", world.carol.password)
    if isinstance(token.expires, str):
        left = parse_time(token.expires).timestamp() - time.time()
    else:
        left = float(token.expires) - time.time()
    assert 23 * 3600 < left <= 24 * 3600 + 60, left
