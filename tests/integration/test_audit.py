"""The audit log: mutating and refused calls are recorded, newest first,
for the project's data owners only."""

import pytest

import oast
from oasttest import ROLES, assert_error, assert_status, expect_owner, parse_time, run_matrix

OUTCOMES = {"ok", "denied", "error"}


def _find(items, action=None, user=None, outcome=None, target=None):
    return [i for i in items
            if (action is None or i["action"] == action) and (user is None or i["user"] == user)
            and (outcome is None or i["outcome"] == outcome) and (target is None or target in i["target"])]


def test_item_shape_and_order(world, new_project):
    name = new_project("au")
    p = world.owner_project(name)
    p.files.upload(b"1", "Resources/one.txt")
    p.files.upload(b"2", "Resources/two.txt")
    items = p.audit()
    assert items, "empty audit"
    for i in items:
        assert {"time", "user", "action", "target", "outcome"} <= set(i), i
        assert i["outcome"] in OUTCOMES
        parse_time(i["time"])
    times = [parse_time(i["time"]) for i in items]
    assert times == sorted(times, reverse=True), "not newest first"
    puts = _find(items, action="file.put", user="alice", outcome="ok")
    assert [i["target"] for i in puts][:2] and "two.txt" in puts[0]["target"] and "one.txt" in puts[1]["target"]


def test_mutations_are_recorded(world, new_project):
    name = new_project("au")
    p = world.owner_project(name)
    items = p.audit()
    assert _find(items, action="project.create", user="alice", outcome="ok", target=name)
    assert _find(items, action="member.add", user="alice", outcome="ok", target="bob") or \
        _find(items, action="member.add", user="alice", outcome="ok")
    p.datasets.create("Audited")
    p.files.upload(b"x", "Audited/f.txt")
    p.files.mkdir("Audited/d")
    p.files.remove("Audited/f.txt")
    p.members.set_role("bob", "data_owner")
    p.members.remove("bob")
    after = p.audit()
    assert len(after) >= len(items) + 6
    new = after[:len(after) - len(items)]
    assert all(i["user"] == "alice" and i["outcome"] == "ok" for i in new), new
    assert _find(new, action="file.put", target="Audited/f.txt")
    assert any("Audited/d" in i["target"] for i in new)
    assert any("Audited/f.txt" in i["target"] and i["action"] != "file.put" for i in new)
    assert any("bob" in i["target"] for i in new)


def test_refused_calls_are_recorded(world, new_project):
    name = new_project("au")
    p = world.owner_project(name)
    r = world.api.call("PUT", "/projects/%s/files/Resources/sneaky.csv" % name, world.bob.key, data=b"x")
    assert_error(r, 403)
    r = world.api.call("DELETE", "/projects/%s" % name, world.bob.key)
    assert_error(r, 403)
    items = p.audit()
    denied = _find(items, user="bob", outcome="denied")
    assert _find(denied, action="file.put", target="sneaky.csv"), items[:5]
    assert len(denied) >= 2


def test_non_member_probes_are_recorded(world, new_project):
    name = new_project("au")
    p = world.owner_project(name)
    assert_error(world.api.call("DELETE", "/projects/%s" % name, world.carol.key), 404)
    assert_error(world.api.call("PUT", "/projects/%s/files/Resources/x.txt" % name, world.carol.key, data=b"x"), 404)
    assert len(_find(p.audit(), user="carol", outcome="denied")) >= 2


def test_failed_calls_are_recorded(world, new_project):
    name = new_project("au")
    p = world.owner_project(name)
    assert_error(world.api.call("POST", "/projects/%s/members" % name, world.alice.key,
                                json={"username": "dave", "role": "king"}), 400)
    bad = _find(p.audit(), action="member.add", user="alice", outcome="error")
    assert bad, p.audit()[:3]


def test_projects_see_only_their_own_events(world, new_project):
    a = world.owner_project(new_project("aua"))
    b = world.owner_project(new_project("aub"))
    a.files.upload(b"x", "Resources/only_in_a.txt")
    assert _find(a.audit(), target="only_in_a.txt")
    assert not _find(b.audit(), target="only_in_a.txt")
    assert not _find(b.audit(), target=a.name)


def test_limit(world, new_project):
    name = new_project("au")
    p = world.owner_project(name)
    for i in range(5):
        p.files.upload(b"x", "Resources/f%d.txt" % i)
    everything = p.audit()
    assert len(everything) >= 5
    two = p.audit(limit=2)
    assert len(two) == 2 and parse_time(two[1]["time"]) >= parse_time(everything[1]["time"])
    assert len(p.audit(limit=1000)) == len(everything)
    for bad in ("abc", "-1", "1.5", "0", "1001"):
        assert_error(world.api.get("/projects/%s/audit?limit=%s" % (name, bad), world.alice.key), 400)


def test_audit_is_not_for_scientists_in_the_client(world):
    with pytest.raises(oast.Forbidden):
        world.bob.conn.projects.get(world.project).audit()


@pytest.mark.parametrize("role", ROLES)
def test_matrix_audit(world, role):
    run_matrix(world, role, "GET", "/projects/{p}/audit", expect_owner(200),
               done=lambda ctx, r: assert_status(r, 200).json()["items"] or pytest.fail("empty audit"))
