"""Datasets: create, list, delete; bad input; the role matrix."""

import pytest

import oast
from oasttest import (BAD_NAMES, ROLES, assert_error, assert_status, default_datasets, expect_member, expect_owner,
                      run_matrix)


def _ds(world, p):
    return {d["name"]: d for d in world.owner_project(p).datasets.list()}


def test_create_list_delete(world, new_project):
    name = new_project("ds")
    p = world.owner_project(name)
    made = p.datasets.create("Raw_2024", "raw exports")
    assert made["name"] == "Raw_2024" and made["description"] == "raw exports"
    listed = _ds(world, name)
    assert set(listed) == set(default_datasets(name)) | {"Raw_2024"}
    assert listed["Raw_2024"]["description"] == "raw exports"
    assert "shared_from" not in listed["Raw_2024"]
    # the scientist sees the same list
    assert {d["name"] for d in world.bob.conn.projects.get(name).datasets.list()} == set(listed)
    folder = world.server.project_dir(name) / "Raw_2024"
    assert folder.is_dir()
    p.files.upload(b"a,b\n1,2\n", "Raw_2024/sub/x.csv")
    p.datasets.delete("Raw_2024")
    assert "Raw_2024" not in _ds(world, name)
    assert not folder.exists()
    with pytest.raises(oast.NotFound):
        p.files.list("Raw_2024")
    # the name can be used again and starts empty
    p.datasets.create("Raw_2024")
    assert p.files.list("Raw_2024") == []


def test_create_answer_is_201_with_body(world, new_project):
    name = new_project("ds")
    r = world.api.call("POST", "/projects/%s/datasets" % name, world.alice.key,
                       json={"name": "Fresh", "description": "d"})
    body = assert_status(r, 201).json()
    assert body["name"] == "Fresh" and body["description"] == "d"


BAD_DATASET_NAMES = BAD_NAMES + ["p::ds", "a:b"]


@pytest.mark.parametrize("name", BAD_DATASET_NAMES, ids=[repr(n)[:20] for n in BAD_DATASET_NAMES])
def test_bad_dataset_names(world, name):
    before = _ds(world, world.project)
    r = world.api.call("POST", "/projects/%s/datasets" % world.project, world.alice.key,
                       json={"name": name, "description": ""})
    assert_error(r, 400)
    assert _ds(world, world.project) == before


BAD_BODIES = [
    ("malformed", b'{"name": '),
    ("not_object", b"[]"),
    ("missing_name", b'{"description": "x"}'),
    ("name_number", b'{"name": 1}'),
    ("description_list", b'{"name": "Okname", "description": []}'),
    ("empty", b""),
]


@pytest.mark.parametrize("label,body", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_dataset_bodies(world, label, body):
    before = _ds(world, world.project)
    r = world.api.raw_json("POST", "/projects/%s/datasets" % world.project, world.alice.key, body)
    assert_error(r, 400)
    assert _ds(world, world.project) == before


@pytest.mark.parametrize("name", ["Resources", "Models"])
def test_duplicate_dataset(world, name):
    p = world.owner_project(world.project)
    p.files.upload(b"keep me", "%s/keep.txt" % name)
    before = _ds(world, world.project)
    r = world.api.call("POST", "/projects/%s/datasets" % world.project, world.alice.key,
                       json={"name": name, "description": "again"})
    assert_error(r, 409, "already_exists")
    assert _ds(world, world.project) == before
    assert p.files.read("%s/keep.txt" % name) == b"keep me"


def test_delete_unknown_dataset(world):
    before = _ds(world, world.project)
    assert_error(world.api.call("DELETE", "/projects/%s/datasets/Nothing_here" % world.project, world.alice.key), 404)
    assert_error(world.api.call("DELETE", "/projects/%s/datasets/..%%2F..%%2Fx" % world.project, world.alice.key),
                 (400, 404))
    assert _ds(world, world.project) == before


# --- the role matrix ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_matrix_list_datasets(world, role):
    def done(ctx, r):
        assert {d["name"] for d in r.json()["items"]} == set(default_datasets(ctx["p"]))

    run_matrix(world, role, "GET", "/projects/{p}/datasets", expect_member(200), done=done)


@pytest.mark.parametrize("role", ROLES)
def test_matrix_create_dataset(world, role):
    run_matrix(world, role, "POST", "/projects/{p}/datasets", expect_member(201),
               json={"name": "Extra", "description": ""},
               refused=lambda ctx: "Extra" not in _ds(world, ctx["p"]) or pytest.fail("dataset created"),
               done=lambda ctx, r: "Extra" in _ds(world, ctx["p"]) or pytest.fail("dataset missing"))


@pytest.mark.parametrize("role", ROLES)
def test_matrix_delete_dataset(world, role):
    def setup(world, p):
        h = world.owner_project(p)
        h.datasets.create("Doomed")
        h.files.upload(b"precious", "Doomed/keep.txt")

    def refused(ctx):
        assert "Doomed" in _ds(world, ctx["p"])
        assert world.owner_project(ctx["p"]).files.read("Doomed/keep.txt") == b"precious"

    def done(ctx, r):
        assert "Doomed" not in _ds(world, ctx["p"])
        assert not (world.server.project_dir(ctx["p"]) / "Doomed").exists()

    run_matrix(world, role, "DELETE", "/projects/{p}/datasets/Doomed", expect_owner(204), setup=setup,
               refused=refused, done=done)


@pytest.mark.parametrize("name", ["Resources", "Logs", "Jupyter"])
def test_builtin_datasets_cannot_be_deleted(world, name):
    p = world.owner_project(world.project)
    p.files.upload(b"stays", name + "/stays.txt")
    before = _ds(world, world.project)
    assert_error(world.api.call("DELETE", "/projects/%s/datasets/%s" % (world.project, name), world.alice.key), 409)
    assert _ds(world, world.project) == before
    assert p.files.read(name + "/stays.txt") == b"stays"


def test_builtin_flag(world, new_project):
    name = new_project("bf")
    p = world.owner_project(name)
    p.datasets.create("Mine")
    listed = _ds(world, name)
    assert listed["Mine"]["builtin"] is False
    assert all(listed[d]["builtin"] is True for d in default_datasets(name))
