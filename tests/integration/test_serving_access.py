"""Who may manage and call deployments: the permission matrix of every
deployment route and of inference, and bad requests to the management
routes (a clear 4xx naming the field, nothing created)."""

import pytest

from oasttest import BAD_NAMES, assert_error, expect_member, run_matrix, unique
from servingtest import MAGIC_PREDICTOR, deploy, register, register_magic

ROLES = ("data_owner", "data_scientist", "non_member", "no_key")


def magic_project(world, p, start=True):
    """In project p: model "m" (the magic predictor) and a deployment of it."""
    proj = world.owner_project(p)
    register_magic(proj, "m")
    name = unique("d")
    deploy(proj, name, "m", start=start)
    return {"d": name}


def deployment_names(world, p):
    return [d["name"] for d in world.alice.conn.projects.get(p).request("GET", "/deployments")["items"]]


@pytest.mark.parametrize("role", ROLES)
def test_create_matrix(world, role):
    def setup(w, p):
        register_magic(w.owner_project(p), "m")
        return {"d": unique("made")}

    def refused(ctx):
        assert deployment_names(world, ctx["p"]) == []

    def done(ctx, r):
        assert r.json()["state"] == "stopped" and deployment_names(world, ctx["p"]) == [ctx["d"]]

    run_matrix(world, role, "POST", "/projects/{p}/deployments", expect_member(201), setup=setup, refused=refused,
               done=done, json=lambda ctx: {"name": ctx["d"], "model": "m", "predictor": {"type": "python"}})


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,suffix,ok", [
    ("GET", "", 200), ("GET", "/logs", 200), ("POST", "/start", 200), ("POST", "/stop", 200),
])
def test_lifecycle_matrix(world, role, method, suffix, ok):
    def done(ctx, r):
        if suffix == "/stop":
            assert r.json()["state"] == "stopped"
        if suffix == "/start":
            assert r.json()["state"] in ("starting", "running")

    run_matrix(world, role, method, "/projects/{p}/deployments/{d}" + suffix, expect_member(ok),
               setup=lambda w, p: magic_project(w, p, start=suffix != "/start"), done=done)


@pytest.mark.parametrize("role", ROLES)
def test_list_matrix(world, role):
    def done(ctx, r):
        assert [d["name"] for d in r.json()["items"]] == [ctx["d"]]

    run_matrix(world, role, "GET", "/projects/{p}/deployments", expect_member(200), setup=magic_project, done=done)


@pytest.mark.parametrize("role", ROLES)
def test_update_matrix(world, role):
    def refused(ctx):
        d = world.alice.conn.projects.get(ctx["p"]).deployments.get(ctx["d"])
        assert d.info["instances"] == 1

    def done(ctx, r):
        assert r.json()["instances"] == 2

    run_matrix(world, role, "PATCH", "/projects/{p}/deployments/{d}", expect_member(200), setup=magic_project,
               json={"instances": 2}, refused=refused, done=done)


@pytest.mark.parametrize("role", ROLES)
def test_delete_matrix(world, role):
    def refused(ctx):
        assert deployment_names(world, ctx["p"]) == [ctx["d"]]

    def done(ctx, r):
        assert deployment_names(world, ctx["p"]) == []

    run_matrix(world, role, "DELETE", "/projects/{p}/deployments/{d}", expect_member(204), setup=magic_project,
               refused=refused, done=done)


INFERENCE = [
    ("POST", "/v1/models/{d}:predict", {"instances": [1.0]}),
    ("POST", "/v1/models/{d}/versions/1:predict", {"instances": [1.0]}),
    ("POST", "/v2/models/{d}/infer", {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1.0]}]}),
    ("GET", "/v1/models/{d}", None),
    ("GET", "/v2/models/{d}", None),
    ("GET", "/v2/models/{d}/ready", None),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,path,body", INFERENCE)
def test_inference_matrix(world, role, method, path, body):
    p = world.new_project("inf")
    ctx = magic_project(world, p)
    kw = {"json": body} if body is not None else {}
    r = world.api.call(method, path.format(**ctx), world.key(role), prefix="", **kw)
    want = expect_member(200)[role]
    if want >= 400:
        err = assert_error(r, want)
        if role == "non_member":
            assert err["message"] == "deployment \"%s\" not found" % ctx["d"]
    else:
        assert r.status == 200, r
        if method == "POST" and "v1" in path:
            assert r.json() == {"predictions": [2.0]}


def test_a_deployment_of_another_project_is_not_found_even_when_stopped(world):
    p = world.new_project("hidden")
    ctx = magic_project(world, p, start=False)
    r = world.api.call("POST", "/v1/models/%s:predict" % ctx["d"], world.carol.key, prefix="", json={"instances": [1]})
    assert_error(r, 404)
    r = world.api.call("POST", "/v1/models/%s:predict" % ctx["d"], world.bob.key, prefix="", json={"instances": [1]})
    assert "is not running" in assert_error(r, 503)["message"]
    r = world.api.call("POST", "/v1/models/nosuch:predict", world.alice.key, prefix="", json={"instances": [1]})
    assert_error(r, 404)


def test_a_removed_member_loses_access_at_once(world):
    p = world.new_project("removed")
    ctx = magic_project(world, p)
    body = {"instances": [1.0]}
    assert world.api.call("POST", "/v1/models/%s:predict" % ctx["d"], world.bob.key, prefix="", json=body).status == 200
    world.alice.conn.projects.get(p).members.remove("bob")
    r = world.api.call("POST", "/v1/models/%s:predict" % ctx["d"], world.bob.key, prefix="", json=body)
    assert_error(r, 404)


# --- bad requests to the management routes ------------------------------------------


@pytest.fixture(scope="module")
def bad_proj(world):
    p = world.new_project("badreq")
    proj = world.owner_project(p)
    register_magic(proj, "m")
    proj.files.upload(b"not a model", "Resources/garbage/model.json")
    proj.models.register("garbage", "Resources/garbage", "xgboost")
    proj.files.upload(MAGIC_PREDICTOR.encode(), "Resources/pred.py")
    proj.datasets.create("Other")
    return proj


def ok_body(**over):
    body = {"name": unique("ok"), "model": "m", "predictor": {"type": "python"}}
    body.update(over)
    return body


BAD_CREATE = [
    ({"model": "m", "predictor": {"type": "python"}}, "\"name\""),
    (ok_body(predictor={"type": "java"}), "\"predictor.type\" must be \"python\" or \"xgboost\""),
    (ok_body(predictor={"type": "python", "colour": 1}), "colour"),
    (ok_body(predictor="python"), "\"predictor\""),
    (ok_body(model="nosuch"), "field \"model\": the project has no model \"nosuch\""),
    (ok_body(model_version=9), "field \"model_version\": model \"m\" has no version 9"),
    (ok_body(model_version=0), "\"model_version\""),
    (ok_body(instances=0), "field \"instances\" must be an integer from 1 to 64"),
    (ok_body(instances=65), "field \"instances\""),
    (ok_body(instances="2"), "field \"instances\""),
    (ok_body(timeout_ms=1), "field \"timeout_ms\""),
    (ok_body(batching={"max_batch_size": 0}), "\"batching.max_batch_size\""),
    (ok_body(batching={"max_latency_ms": 3}), "\"batching.max_batch_size\" is required"),
    (ok_body(batching={"max_batch_size": 4, "max_latency_ms": -1}), "\"batching.max_latency_ms\""),
    (ok_body(batching={"max_batch_size": 4, "size": 1}), "size"),
    (ok_body(inference_logging="everything"), "\"inference_logging\" must be"),
    (ok_body(predictor={"type": "python", "script": "Resources/nosuch.py"}), "predictor.script"),
    (ok_body(predictor={"type": "python", "script": "Resources/../../x.py"}), "predictor.script"),
    (ok_body(predictor={"type": "python", "script": "Resources"}), "is not a file"),
    (ok_body(transformer={"script": "Other/none.py"}), "transformer.script"),
    (ok_body(transformer={"file": "Resources/pred.py"}), "file"),
    (ok_body(predictor={"type": "xgboost", "script": "Resources/pred.py"}), "is for python predictors"),
    (ok_body(predictor={"type": "python", "model_file": "model.json"}), "is for xgboost predictors"),
    (ok_body(model="garbage", predictor={"type": "xgboost"}), "cannot load the XGBoost model"),
    (ok_body(model="garbage", predictor={"type": "xgboost", "model_file": "weights.bin"}), "has no file \"weights.bin\""),
    (ok_body(model="garbage", predictor={"type": "python"}), "\"predictor.script\" is required"),
    (ok_body(owner="me"), "owner"),
]


@pytest.mark.parametrize("body,msg", BAD_CREATE)
def test_bad_create(world, bad_proj, body, msg):
    r = world.api.call("POST", "/projects/%s/deployments" % bad_proj.name, world.alice.key, json=body)
    err = assert_error(r, 400)
    assert msg in err["message"], err
    assert deployment_names(world, bad_proj.name) == []


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names(world, bad_proj, name):
    r = world.api.call("POST", "/projects/%s/deployments" % bad_proj.name, world.alice.key, json=ok_body(name=name))
    assert_error(r, 400)


def test_names_are_unique_per_server(world, bad_proj):
    name = unique("taken")
    r = world.api.call("POST", "/projects/%s/deployments" % bad_proj.name, world.alice.key, json=ok_body(name=name))
    assert r.status == 201, r
    p2 = world.new_project("second")
    register_magic(world.owner_project(p2), "m")
    r = world.api.call("POST", "/projects/%s/deployments" % p2, world.alice.key, json=ok_body(name=name))
    assert "already exists" in assert_error(r, 409)["message"]
    assert deployment_names(world, p2) == []
    world.owner_project(bad_proj.name).deployments.get(name).delete()


def test_bad_updates_and_logs(world, bad_proj):
    name = unique("upd")
    dep = deploy(bad_proj, name, "m", start=False)
    base = "/projects/%s/deployments/%s" % (bad_proj.name, name)
    for body, msg in [({"model": "other"}, "field \"model\" cannot be changed"),
                      ({"instances": 100}, "field \"instances\""),
                      ({"batching": {"max_batch_size": -2}}, "batching.max_batch_size"),
                      ({"inference_logging": 1}, "inference_logging")]:
        err = assert_error(world.api.call("PATCH", base, world.alice.key, json=body), 400)
        assert msg in err["message"], err
    assert dep.refresh().info["instances"] == 1
    assert "\"kind\"" in assert_error(world.api.get(base + "/logs?kind=debug", world.alice.key), 400)["message"]
    assert "\"lines\"" in assert_error(world.api.get(base + "/logs?lines=0", world.alice.key), 400)["message"]
    assert_error(world.api.get("/projects/%s/deployments/nosuch" % bad_proj.name, world.alice.key), 404)
    assert_error(world.api.call("POST", "/projects/%s/deployments/nosuch/start" % bad_proj.name, world.alice.key), 404)
    dep.delete()


def test_start_after_the_model_was_deleted(world):
    p = world.new_project("deleted")
    proj = world.owner_project(p)
    m = register(proj, "shortlived", {"factor.txt": "2", "predictor.py": MAGIC_PREDICTOR}, "python")
    dep = deploy(proj, unique("orphan"), "shortlived", start=False)
    m.delete()
    r = world.api.call("POST", "/projects/%s/deployments/%s/start" % (p, dep.name), world.alice.key)
    assert "no longer exists" in assert_error(r, 409)["message"]
    assert dep.state == "stopped"


def test_a_served_version_is_not_deleted_under_its_deployment(world):
    p = world.new_project("inuse")
    proj = world.owner_project(p)
    m = register(proj, "served", {"factor.txt": "3", "predictor.py": MAGIC_PREDICTOR}, "python")
    dep = deploy(proj, unique("inuse"), "served")
    path = "/projects/%s/models/served/versions/%d" % (p, m.version)
    err = assert_error(world.api.call("DELETE", path, world.alice.key), 409)
    assert err["message"] == 'model "served" version %d is served by running deployment "%s"; stop it first' % (
        m.version, dep.name), err
    # nothing changed: the model is there and the deployment answers
    assert world.api.get(path, world.alice.key).status == 200
    assert dep.predict([1.0]) == [3.0]
    dep.stop()
    assert world.api.call("DELETE", path, world.alice.key).status == 204
    r = world.api.call("POST", "/projects/%s/deployments/%s/start" % (p, dep.name), world.alice.key)
    assert "no longer exists" in assert_error(r, 409)["message"]
