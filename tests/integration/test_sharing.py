"""Sharing datasets between projects: offer, accept, use, revoke; bad
input and the role matrix."""

import os

import pytest

import oast
from oasttest import ROLES, assert_error, assert_status, expect_member, expect_owner, run_matrix

CSV = b"id,v\n1,a\n2,b\n3,c\n"


def _pair(world, dataset="Shared", permission=None):
    """p (alice owner, bob scientist) with `dataset` holding data.csv, and q
    (carol owner, dave scientist); shared when permission is given."""
    p = world.owner_project(world.new_project("sp"))
    q = world.carol.conn.projects.get(world.new_project("sq", owner=world.carol, scientist="dave"))
    p.datasets.create(dataset, "to share")
    p.files.upload(CSV, dataset + "/data.csv")
    if permission:
        p.share(dataset, q.name, permission)
    return p, q


def _shared_names(q):
    return {d["name"]: d for d in q.datasets.list() if "::" in d["name"]}


def test_read_share_lifecycle(world):
    p, q = _pair(world)
    api = world.api
    shared = "%s::Shared" % p.name
    r = api.call("POST", "/projects/%s/datasets/Shared/shares" % p.name, world.alice.key,
                 json={"project": q.name, "permission": "read"})
    body = assert_status(r, 201).json()
    assert body == {"dataset": "Shared", "project": q.name, "permission": "read", "status": "pending"}
    assert p.shares("Shared") == [{"project": q.name, "permission": "read", "status": "pending"}]
    listed = _shared_names(q)[shared]
    assert listed["shared_from"] == p.name and listed["permission"] == "read" and listed["status"] == "pending"
    dave_q = world.dave.conn.projects.get(q.name)
    assert shared in _shared_names(dave_q)

    # pending: not reachable yet (refused; the offer itself is visible in the list)
    assert_error(api.get("/projects/%s/files/%s?op=list" % (q.name, shared), world.carol.key), (403, 404))

    # only a data owner of q accepts
    accept = "/projects/%s/datasets/%s/accept" % (q.name, shared)
    assert_error(api.call("POST", accept, world.dave.key), 403)
    assert_error(api.call("POST", accept, world.alice.key), 404)
    assert_error(api.call("POST", accept, None), 401)
    assert _shared_names(q)[shared]["status"] == "pending"
    body = assert_status(api.call("POST", accept, world.carol.key), 200).json()
    assert body["status"] == "accepted" and body["permission"] == "read" and body["project"] == q.name
    assert _shared_names(q)[shared]["status"] == "accepted"
    assert p.shares("Shared") == [{"project": q.name, "permission": "read", "status": "accepted"}]

    # members of q read through the share
    for who in (world.carol, world.dave):
        h = who.conn.projects.get(q.name)
        assert [i["name"] for i in h.files.list(shared)] == ["data.csv"]
        assert h.files.stat(shared + "/data.csv")["size"] == len(CSV)
        assert h.files.preview(shared + "/data.csv", "tail", 1).splitlines() == ["3,c"]
        # raw data never leaves through q: download is the owning project's data owners' right
        with pytest.raises(oast.Forbidden):
            h.files.read(shared + "/data.csv")
        # read only: no writes
        with pytest.raises(oast.Forbidden):
            h.files.upload(b"no", shared + "/new.csv")
        with pytest.raises(oast.Forbidden):
            h.files.mkdir(shared + "/newdir")
        with pytest.raises(oast.Forbidden):
            h.files.remove(shared + "/data.csv")
    assert [i["name"] for i in p.files.list("Shared")] == ["data.csv"]
    assert p.files.read("Shared/data.csv") == CSV

    # bob (p's scientist, not in q) does not get in through q
    assert_error(api.get("/projects/%s/files/%s?op=list" % (q.name, shared), world.bob.key), 404)

    # no copy: a file written in p is seen in q at once, and q's folder holds no data
    p.files.upload(b"later\n", "Shared/later.txt")
    assert q.files.preview(shared + "/later.txt", "head", 1) == "later\n"
    q_files = [f for _, _, fs in os.walk(world.server.project_dir(q.name)) for f in fs]
    assert "data.csv" not in q_files and "later.txt" not in q_files

    # revoke: effective at once
    assert_status(api.call("DELETE", "/projects/%s/datasets/Shared/shares/%s" % (p.name, q.name), world.alice.key),
                  204)
    assert_error(api.get("/projects/%s/files/%s?op=list" % (q.name, shared), world.carol.key), 404)
    assert_error(api.get("/projects/%s/files/%s/data.csv?op=preview&mode=head&lines=1" % (q.name, shared),
                         world.dave.key), 404)
    assert shared not in _shared_names(q)
    assert p.shares("Shared") == []
    assert p.files.read("Shared/data.csv") == CSV


def test_read_write_share(world):
    p, q = _pair(world, "Rw", "read_write")
    shared = "%s::Rw" % p.name
    q.accept_share(shared)
    assert _shared_names(q)[shared]["permission"] == "read_write"
    dave_q = world.dave.conn.projects.get(q.name)
    assert dave_q.files.mkdir(shared + "/made_in_q") == {"path": shared + "/made_in_q"}
    assert p.files.stat("Rw/made_in_q")["type"] == "dir"
    dave_q.files.remove(shared + "/data.csv")
    assert not p.files.exists("Rw/data.csv")
    # still no export of raw data through q
    p.files.upload(CSV, "Rw/data.csv")
    with pytest.raises(oast.Forbidden):
        q.files.read(shared + "/data.csv")
    # revocation ends the write access at once
    p.revoke_share("Rw", q.name)
    with pytest.raises(oast.NotFound):
        dave_q.files.mkdir(shared + "/after_revoke")
    assert not p.files.exists("Rw/after_revoke")


def test_owner_of_both_projects_downloads(world):
    """A data owner of the owning project may download through the share."""
    p, q = _pair(world, "Both", "read")
    q.members.add("alice", "data_owner")
    q.accept_share("%s::Both" % p.name)
    alice_q = world.alice.conn.projects.get(q.name)
    assert alice_q.files.read("%s::Both/data.csv" % p.name) == CSV


def test_deleting_a_shared_dataset_ends_the_share(world):
    p, q = _pair(world, "Gone", "read")
    shared = "%s::Gone" % p.name
    q.accept_share(shared)
    p.datasets.delete("Gone")
    assert shared not in _shared_names(q)
    with pytest.raises(oast.NotFound):
        q.files.list(shared)


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("label,body,status", [
    ("bad_permission", {"project": "{q}", "permission": "write"}, 400),
    ("missing_project", {"permission": "read"}, 400),
    ("project_number", {"project": 5, "permission": "read"}, 400),
    ("unknown_project", {"project": "Nowhere_x", "permission": "read"}, 404),
    ("bad_project_name", {"project": "../x", "permission": "read"}, (400, 404)),
    ("own_project", {"project": "{p}", "permission": "read"}, (400, 409)),
])
def test_share_bad_input(world, label, body, status):
    p, q = _pair(world)
    body = {k: (v.format(p=p.name, q=q.name) if isinstance(v, str) else v) for k, v in body.items()}
    r = world.api.call("POST", "/projects/%s/datasets/Shared/shares" % p.name, world.alice.key, json=body)
    assert_error(r, status)
    assert p.shares("Shared") == []
    assert _shared_names(q) == {}


def test_share_permission_defaults_to_read(world):
    p, q = _pair(world)
    r = world.api.call("POST", "/projects/%s/datasets/Shared/shares" % p.name, world.alice.key,
                       json={"project": q.name})
    assert assert_status(r, 201).json()["permission"] == "read"
    assert p.shares("Shared") == [{"project": q.name, "permission": "read", "status": "pending"}]


def test_share_unknown_field(world):
    p, q = _pair(world)
    r = world.api.call("POST", "/projects/%s/datasets/Shared/shares" % p.name, world.alice.key,
                       json={"project": q.name, "permission": "read", "copy": True})
    assert_error(r, 400)
    assert p.shares("Shared") == []


def test_removing_an_accepted_share_from_the_receiving_side(world):
    p, q = _pair(world, "Drop", "read")
    shared = "%s::Drop" % p.name
    q.accept_share(shared)
    assert_error(world.api.call("DELETE", "/projects/%s/datasets/%s" % (q.name, shared), world.dave.key), 403)
    assert shared in _shared_names(q)
    q.datasets.delete(shared)
    assert shared not in _shared_names(q)
    assert p.shares("Drop") == []
    assert p.files.read("Drop/data.csv") == CSV


def test_share_malformed_body(world):
    p, q = _pair(world)
    r = world.api.raw_json("POST", "/projects/%s/datasets/Shared/shares" % p.name, world.alice.key, b'{"project": ')
    assert_error(r, 400)
    assert p.shares("Shared") == []


def test_share_unknown_dataset(world):
    p, q = _pair(world)
    r = world.api.call("POST", "/projects/%s/datasets/Nothing/shares" % p.name, world.alice.key,
                       json={"project": q.name, "permission": "read"})
    assert_error(r, 404)
    assert _shared_names(q) == {}


def test_share_twice(world):
    p, q = _pair(world, "Twice", "read")
    r = world.api.call("POST", "/projects/%s/datasets/Twice/shares" % p.name, world.alice.key,
                       json={"project": q.name, "permission": "read_write"})
    assert_error(r, 409)
    assert p.shares("Twice") == [{"project": q.name, "permission": "read", "status": "pending"}]


def test_reshare_of_a_shared_dataset_is_refused(world):
    p, q = _pair(world, "Once", "read")
    shared = "%s::Once" % p.name
    q.accept_share(shared)
    third = world.new_project("third", owner=world.carol, scientist=None)
    r = world.api.call("POST", "/projects/%s/datasets/%s/shares" % (q.name, shared), world.carol.key,
                       json={"project": third, "permission": "read"})
    assert_error(r, (400, 403, 404))
    assert not [d for d in world.carol.conn.projects.get(third).datasets.list() if "::" in d["name"]]


def test_accept_and_revoke_unknown(world):
    p, q = _pair(world)
    assert_error(world.api.call("POST", "/projects/%s/datasets/%s::Shared/accept" % (q.name, p.name),
                                world.carol.key), 404)
    assert_error(world.api.call("POST", "/projects/%s/datasets/%s::Nothing/accept" % (q.name, p.name),
                                world.carol.key), 404)
    assert_error(world.api.call("DELETE", "/projects/%s/datasets/Shared/shares/%s" % (p.name, q.name),
                                world.alice.key), 404)
    assert _shared_names(q) == {}


# --- the role matrix ---------------------------------------------------------------------


def _setup_target(world, p):
    """A dataset in p to share, and q owned by carol (not in p) with dave."""
    world.owner_project(p).datasets.create("Shr")
    q = world.new_project("mq", owner=world.carol, scientist="dave")
    return {"q": q}


def _setup_shared(world, p):
    ctx = _setup_target(world, p)
    world.owner_project(p).share("Shr", ctx["q"], "read")
    world.carol.conn.projects.get(ctx["q"]).accept_share("%s::Shr" % p)
    return ctx


@pytest.mark.parametrize("role", ROLES)
def test_matrix_create_share(world, role):
    run_matrix(world, role, "POST", "/projects/{p}/datasets/Shr/shares", expect_owner(201), setup=_setup_target,
               json=lambda ctx: {"project": ctx["q"], "permission": "read"},
               refused=lambda ctx: world.owner_project(ctx["p"]).shares("Shr") == [] or pytest.fail("shared"),
               done=lambda ctx, r: len(world.owner_project(ctx["p"]).shares("Shr")) == 1 or pytest.fail("no share"))


@pytest.mark.parametrize("role", ROLES)
def test_matrix_list_shares(world, role):
    run_matrix(world, role, "GET", "/projects/{p}/datasets/Shr/shares", expect_member(200), setup=_setup_shared,
               done=lambda ctx, r: r.json()["items"] == [{"project": ctx["q"], "permission": "read",
                                                          "status": "accepted"}] or pytest.fail(repr(r)))


@pytest.mark.parametrize("role", ROLES)
def test_matrix_revoke_share(world, role):
    def still(ctx):
        q = world.carol.conn.projects.get(ctx["q"])
        assert q.files.list("%s::Shr" % ctx["p"]) == []

    def gone(ctx, r):
        with pytest.raises(oast.NotFound):
            world.carol.conn.projects.get(ctx["q"]).files.list("%s::Shr" % ctx["p"])

    run_matrix(world, role, "DELETE", "/projects/{p}/datasets/Shr/shares/{q}", expect_owner(204),
               setup=_setup_shared, refused=still, done=gone)


def _setup_offer(world, p):
    """carol's project r offers its dataset Offer to p (not yet accepted)."""
    r = world.carol.conn.projects.get(world.new_project("mr", owner=world.carol, scientist=None))
    r.datasets.create("Offer")
    r.share("Offer", p, "read")
    return {"shared": "%s::Offer" % r.name}


@pytest.mark.parametrize("role", ROLES)
def test_matrix_accept_share(world, role):
    def status(ctx):
        return {d["name"]: d for d in world.owner_project(ctx["p"]).datasets.list()}[ctx["shared"]]["status"]

    run_matrix(world, role, "POST", "/projects/{p}/datasets/{shared}/accept", expect_owner(200),
               setup=_setup_offer,
               refused=lambda ctx: status(ctx) == "pending" or pytest.fail("accepted"),
               done=lambda ctx, r: status(ctx) == "accepted" or pytest.fail("not accepted"))
