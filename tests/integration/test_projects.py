"""Projects and members: happy path, bad input, and the role matrix."""

import pytest

import oast
from oasttest import (BAD_NAMES, ROLES, assert_error, assert_status, default_datasets, expect_member, expect_owner,
                      parse_time, run_matrix, unique)

GOOD_NAMES = ["A", "a" * 63, "a_1", "Zz9_"]


def _names(conn):
    return {p.name for p in conn.projects.list()}


# --- happy path ------------------------------------------------------------------------


def test_create_project(world):
    name = unique("proj")
    p = world.alice.conn.projects.create(name, "a description")
    assert p.name == name and p.description == "a description"
    assert p.owner == "alice" and p.role == "data_owner"
    parse_time(p.created)
    got = world.alice.conn.projects.get(name)
    assert got.info["name"] == name and got.role == "data_owner" and got.owner == "alice"
    assert got.description == "a description"
    assert p.members.list() == [{"username": "alice", "role": "data_owner"}]
    ds = {d["name"] for d in p.datasets.list()}
    assert ds == set(default_datasets(name))
    for d in default_datasets(name):
        assert (world.server.project_dir(name) / d).is_dir()


def test_create_answer_shape(world):
    name = unique("shape")
    r = world.api.call("POST", "/projects", world.carol.key, json={"name": name, "description": ""})
    body = assert_status(r, 201).json()
    assert {"name", "description", "created", "owner", "role"} <= set(body)
    assert body["name"] == name and body["owner"] == "carol" and body["role"] == "data_owner"


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_names(world, name):
    conn = world.dave.conn
    if name in _names(conn):
        return
    conn.projects.create(name)
    assert name in _names(conn)
    conn.projects.delete(name)


def test_list_shows_only_own_projects(world):
    assert world.project in _names(world.alice.conn)
    assert world.project in _names(world.bob.conn)
    assert world.project not in _names(world.carol.conn)
    items = assert_status(world.api.get("/projects", world.bob.key), 200).json()["items"]
    mine = [i for i in items if i["name"] == world.project]
    assert mine and mine[0]["role"] == "data_scientist"


def test_scientist_sees_own_role(world):
    p = world.bob.conn.projects.get(world.project)
    assert p.role == "data_scientist" and p.owner == "alice"


def test_member_lifecycle(world, new_project):
    name = new_project("life")
    p = world.owner_project(name)
    dave = world.dave.conn
    with pytest.raises(oast.NotFound):
        dave.projects.get(name)
    p.members.add("dave", "data_scientist")
    assert dave.projects.get(name).role == "data_scientist"
    assert p.members.role_of("dave") == "data_scientist"
    # a data scientist may not upload; promoted to data owner, dave may
    with pytest.raises(oast.Forbidden):
        dave.projects.get(name).files.upload(b"x", "Resources/by_dave.txt")
    p.members.set_role("dave", "data_owner")
    assert dave.projects.get(name).role == "data_owner"
    dave.projects.get(name).files.upload(b"x", "Resources/by_dave.txt")
    p.members.set_role("dave", "data_scientist")
    with pytest.raises(oast.Forbidden):
        dave.projects.get(name).files.upload(b"y", "Resources/by_dave.txt")
    p.members.remove("dave")
    with pytest.raises(oast.NotFound):
        dave.projects.get(name)
    assert name not in _names(dave)
    assert p.members.role_of("dave") is None


def test_delete_project(world, new_project):
    name = new_project("gone")
    p = world.owner_project(name)
    p.files.upload(b"data", "Resources/a.txt")
    folder = world.server.project_dir(name)
    assert (folder / "Resources" / "a.txt").is_file()
    p.delete()
    for u in (world.alice, world.bob):
        with pytest.raises(oast.NotFound):
            u.conn.projects.get(name)
        assert name not in _names(u.conn)
    assert not folder.exists()
    # the name is free again, and the new project starts empty
    again = world.carol.conn.projects.create(name)
    assert again.members.list() == [{"username": "carol", "role": "data_owner"}]
    assert again.files.list("Resources") == []
    with pytest.raises(oast.NotFound):
        world.bob.conn.projects.get(name)


def test_delete_unknown_project(world):
    assert_error(world.api.call("DELETE", "/projects/" + unique("nope"), world.alice.key), 404)


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", BAD_NAMES, ids=[repr(n)[:20] for n in BAD_NAMES])
def test_bad_project_names(world, name):
    before = _names(world.alice.conn)
    assert_error(world.api.call("POST", "/projects", world.alice.key, json={"name": name, "description": ""}), 400)
    assert _names(world.alice.conn) == before


BAD_BODIES = [
    ("malformed", b'{"name": "okname", '),
    ("trailing", b'{"name": "okname2"} x'),
    ("not_object", b'"okname3"'),
    ("missing_name", b'{"description": "d"}'),
    ("name_number", b'{"name": 12, "description": "d"}'),
    ("name_null", b'{"name": null}'),
    ("name_list", b'{"name": ["okname4"]}'),
    ("description_number", b'{"name": "okname5", "description": 5}'),
    ("not_utf8", b'{"name": "ok\xff\xfe"}'),
    ("unknown_field", b'{"name": "okname6", "owner": "carol"}'),
    ("empty", b""),
]


@pytest.mark.parametrize("label,body", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_create_project_bad_body(world, label, body):
    before = _names(world.alice.conn)
    r = world.api.raw_json("POST", "/projects", world.alice.key, body)
    assert_error(r, 400)
    assert _names(world.alice.conn) == before


def test_create_project_twice(world):
    before = _names(world.carol.conn)
    r = world.api.call("POST", "/projects", world.carol.key, json={"name": world.project, "description": "mine"})
    assert_error(r, 409, "already_exists")
    assert _names(world.carol.conn) == before
    assert world.alice.conn.projects.get(world.project).owner == "alice"


def test_oversized_body(world):
    before = _names(world.alice.conn)
    big = b'{"name": "huge", "description": "' + b"x" * (4 << 20) + b'"}'
    r = world.api.raw_json("POST", "/projects", world.alice.key, big)
    assert_error(r, 413, "too_large")
    assert _names(world.alice.conn) == before
    # the server is fine afterwards
    assert_status(world.api.get("/health"), 200)


MEMBER_BAD = [
    ("unknown_user", {"username": "nobody_here", "role": "data_scientist"}, 404),
    ("bad_role", {"username": "dave", "role": "king"}, 400),
    ("role_case", {"username": "dave", "role": "Data_Owner"}, 400),
    ("missing_role", {"username": "dave"}, 400),
    ("missing_username", {"role": "data_scientist"}, 400),
    ("username_number", {"username": 3, "role": "data_scientist"}, 400),
    ("role_number", {"username": "dave", "role": 1}, 400),
    ("already_member", {"username": "bob", "role": "data_owner"}, 409),
]


@pytest.mark.parametrize("label,body,status", MEMBER_BAD, ids=[m[0] for m in MEMBER_BAD])
def test_add_member_bad_input(world, new_project, label, body, status):
    name = new_project("mb")
    p = world.owner_project(name)
    before = p.members.list()
    assert_error(world.api.call("POST", "/projects/%s/members" % name, world.alice.key, json=body), status)
    assert p.members.list() == before


@pytest.mark.parametrize("user,body,status", [
    ("bob", {"role": "boss"}, 400),
    ("bob", {}, 400),
    ("bob", {"role": 7}, 400),
    ("carol", {"role": "data_owner"}, 404),
    ("nobody_here", {"role": "data_owner"}, 404),
])
def test_set_role_bad_input(world, new_project, user, body, status):
    name = new_project("sr")
    p = world.owner_project(name)
    before = p.members.list()
    assert_error(world.api.call("PATCH", "/projects/%s/members/%s" % (name, user), world.alice.key, json=body), status)
    assert p.members.list() == before


def test_remove_non_member(world, new_project):
    name = new_project("rm")
    p = world.owner_project(name)
    before = p.members.list()
    assert_error(world.api.call("DELETE", "/projects/%s/members/carol" % name, world.alice.key), 404)
    assert p.members.list() == before


def test_last_data_owner_stays(world, new_project):
    name = new_project("lo")
    p = world.owner_project(name)
    before = p.members.list()
    assert_error(world.api.call("DELETE", "/projects/%s/members/alice" % name, world.alice.key), 409, "conflict")
    assert_error(world.api.call("PATCH", "/projects/%s/members/alice" % name, world.alice.key,
                                json={"role": "data_scientist"}), 409, "conflict")
    assert p.members.list() == before
    # with a second data owner, alice may step down
    p.members.set_role("bob", "data_owner")
    p.members.set_role("alice", "data_scientist")
    assert world.alice.conn.projects.get(name).role == "data_scientist"
    with pytest.raises(oast.Forbidden):
        world.alice.conn.projects.get(name).members.add("dave", "data_scientist")


def test_malformed_member_body(world, new_project):
    name = new_project("mm")
    p = world.owner_project(name)
    before = p.members.list()
    r = world.api.raw_json("POST", "/projects/%s/members" % name, world.alice.key, b'{"username": "dave",')
    assert_error(r, 400)
    assert p.members.list() == before


# --- the role matrix ---------------------------------------------------------------------


def _exists_for_alice(ctx):
    assert ctx["world"].alice.conn.projects.get(ctx["p"]).name == ctx["p"]


def _members(ctx):
    return {m["username"]: m["role"] for m in ctx["world"].owner_project(ctx["p"]).members.list()}


@pytest.mark.parametrize("role", ROLES)
def test_matrix_create_project(world, role):
    name = unique("mc")
    r = world.api.call("POST", "/projects", world.key(role), json={"name": name, "description": ""})
    if role == "no_key":
        assert_error(r, 401)
        assert name not in _names(world.alice.conn)
    else:
        assert_status(r, 201)
        assert world.user(role).conn.projects.get(name).role == "data_owner"


@pytest.mark.parametrize("role", ROLES)
def test_matrix_list_projects(world, role):
    r = world.api.get("/projects", world.key(role))
    if role == "no_key":
        assert_error(r, 401)
    else:
        names = {i["name"] for i in assert_status(r, 200).json()["items"]}
        assert (world.project in names) == (role != "non_member")


@pytest.mark.parametrize("role", ROLES)
def test_matrix_get_project(world, role):
    def done(ctx, r):
        body = r.json()
        assert body["name"] == ctx["p"] and body["role"] == role and body["owner"] == "alice"

    run_matrix(world, role, "GET", "/projects/{p}", expect_member(200), done=done)


@pytest.mark.parametrize("role", ROLES)
def test_matrix_delete_project(world, role):
    def done(ctx, r):
        with pytest.raises(oast.NotFound):
            world.alice.conn.projects.get(ctx["p"])

    run_matrix(world, role, "DELETE", "/projects/{p}", expect_owner(204), refused=_exists_for_alice, done=done)


@pytest.mark.parametrize("role", ROLES)
def test_matrix_add_member(world, role):
    run_matrix(world, role, "POST", "/projects/{p}/members", expect_owner((200, 201)),
               json={"username": "dave", "role": "data_scientist"},
               refused=lambda ctx: _members(ctx).get("dave") is None or pytest.fail("dave was added"),
               done=lambda ctx, r: _members(ctx)["dave"] == "data_scientist" or pytest.fail("dave not added"))


@pytest.mark.parametrize("role", ROLES)
def test_matrix_list_members(world, role):
    def done(ctx, r):
        got = {m["username"]: m["role"] for m in r.json()["items"]}
        assert got == {"alice": "data_owner", "bob": "data_scientist"}

    run_matrix(world, role, "GET", "/projects/{p}/members", expect_member(200), done=done)


@pytest.mark.parametrize("role", ROLES)
def test_matrix_set_role(world, role):
    run_matrix(world, role, "PATCH", "/projects/{p}/members/bob", expect_owner((200, 204)),
               json={"role": "data_owner"},
               refused=lambda ctx: _members(ctx)["bob"] == "data_scientist" or pytest.fail("bob's role changed"),
               done=lambda ctx, r: _members(ctx)["bob"] == "data_owner" or pytest.fail("bob's role unchanged"))


@pytest.mark.parametrize("role", ROLES)
def test_matrix_remove_member(world, role):
    def done(ctx, r):
        assert "bob" not in _members(ctx)
        assert_error(world.api.get("/projects/%s" % ctx["p"], world.bob.key), 404)

    run_matrix(world, role, "DELETE", "/projects/{p}/members/bob", expect_owner(204),
               refused=lambda ctx: _members(ctx)["bob"] == "data_scientist" or pytest.fail("bob was removed"),
               done=done)


@pytest.mark.parametrize("role", ROLES)
def test_matrix_unknown_project(world, role):
    """A project that does not exist looks the same as one the caller is not in."""
    r = world.api.get("/projects/%s" % unique("ghost"), world.key(role))
    assert_error(r, 401 if role == "no_key" else 404)
