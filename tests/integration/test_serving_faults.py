"""Model serving when things go wrong: workers that crash, are killed or
hang are restarted while other deployments keep serving; stopping drains
what is in flight; scaling while serving; scripts that fail to load;
deployments come back after a server restart."""

import os
import signal

import pytest

import oast
from oasttest import assert_error, unique, wait_until
from servingtest import (BROKEN_PREDICTOR, call_in_thread, data, deploy, f32, pids, predict_raw, register,
                         register_magic, train_xgb_classifier, wait_busy, wait_in_flight, wait_ready,
                         xgb_file)


@pytest.fixture(scope="module")
def proj(world):
    return world.owner_project(world.new_project("faults"))


@pytest.fixture(scope="module")
def other(proj, tmp_path_factory):
    """A native deployment that must keep serving while the others fail."""
    X, y = data()
    clf = train_xgb_classifier(X, y)
    register(proj, "steady", {"model.json": xgb_file(clf, tmp_path_factory.mktemp("steady"))}, "xgboost")
    dep = deploy(proj, unique("steady"), "steady", predictor="xgboost")
    return dep, X[:3].tolist(), clf.get_booster().inplace_predict(X[:3])


def steady_ok(other):
    dep, rows, want = other
    assert (f32(dep.predict(rows)) == want).all()


def test_a_crashing_worker_is_restarted(world, proj, other):
    register_magic(proj, "crashy")
    dep = deploy(proj, unique("crashy"), "crashy", instances=2)
    before = pids(dep)
    assert len(before) == 2
    r = predict_raw(world.api, world.alice.key, dep.name, {"instances": ["crash"]})
    err = assert_error(r, 503)
    assert "exited with status 3 while answering" in err["message"] and "is being restarted" in err["message"], err
    steady_ok(other)
    states = wait_ready(dep, 2)
    assert states and sum(s["restarts"] for s in states) == 1
    assert pids(dep) != before
    assert dep.predict([1.5]) == [3.0]
    assert "exited with status 3" in dep.logs()


def test_kill_9_of_a_busy_worker_fails_its_request_only(world, proj, other):
    register_magic(proj, "killed")
    dep = deploy(proj, unique("killed"), "killed")
    (pid,) = pids(dep)
    t, box = call_in_thread(dep.predict, ["sleep5"])
    assert wait_busy(dep)
    os.kill(pid, signal.SIGKILL)
    t.join(30)
    exc = box["error"]
    assert isinstance(exc, oast.Unavailable) and exc.status == 503
    assert "killed by signal 9" in exc.message, exc.message
    steady_ok(other)
    assert wait_ready(dep, 1)
    assert pids(dep) != [pid]
    assert dep.predict([2.0]) == [4.0]


def test_an_idle_worker_that_dies_is_replaced_before_a_request_meets_it(world, proj):
    register_magic(proj, "idle")
    dep = deploy(proj, unique("idle"), "idle")
    (pid,) = pids(dep)
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: pids(dep) and pids(dep) != [pid], 20)
    assert dep.predict(["pid"]) == pids(dep)
    assert dep.refresh().info["requests"]["failed"] == 0


def test_a_hanging_worker_times_out_and_is_restarted(world, proj, other):
    register_magic(proj, "hangs")
    dep = deploy(proj, unique("hangs"), "hangs", timeout_ms=1500)
    (pid,) = pids(dep)
    r = predict_raw(world.api, world.bob.key, dep.name, {"instances": ["hang"]})
    err = assert_error(r, 504)
    assert "did not answer within 1500 ms" in err["message"], err
    steady_ok(other)
    assert wait_ready(dep, 1)
    assert pids(dep) != [pid]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert dep.predict([1.0]) == [2.0]


def test_stop_drains_requests_in_flight(world, proj, other, tmp_path):
    register_magic(proj, "drain")
    dep = deploy(proj, unique("drain"), "drain", instances=2)
    gate = tmp_path / "gate"
    calls = [call_in_thread(dep.predict, ["wait:%s" % gate]) for _ in range(4)]
    # all four reach the server (two answering, two queued) before the stop
    assert wait_in_flight(dep, busy=2, queued=2)
    stopping, stopped = call_in_thread(dep.stop)
    assert wait_until(lambda: dep.refresh().info["state"] == "stopping", 10)
    # while it drains, new requests are refused
    r = predict_raw(world.api, world.alice.key, dep.name, {"instances": [1]})
    assert assert_error(r, 503)
    gate.touch()
    stopping.join(60)
    assert "error" not in stopped, stopped
    assert dep.refresh().info["state"] == "stopped"
    for t, box in calls:
        t.join(30)
        assert box.get("result") == ["waited"], box
    r = predict_raw(world.api, world.alice.key, dep.name, {"instances": [1]})
    assert "is not running" in assert_error(r, 503)["message"]
    steady_ok(other)
    # and it starts again
    dep.start()
    assert dep.predict([1.0]) == [2.0]


def test_scale_while_serving(world, proj):
    register_magic(proj, "scaled")
    dep = deploy(proj, unique("scaled"), "scaled")
    busy = [call_in_thread(dep.predict, ["sleep0.5"]) for _ in range(3)]
    dep.scale(3)
    assert dep.info["instances"] == 3
    states = wait_ready(dep, 3)
    assert states and len(set(pids(dep))) == 3
    for t, box in busy:
        t.join(30)
        assert box.get("result") == ["sleep0.5"], box
    seen = set()
    for _ in range(30):
        seen.add(dep.predict(["pid"])[0])
    assert seen <= set(pids(dep))
    dep.scale(1)
    assert wait_until(lambda: len(pids(dep)) == 1, 20)
    assert dep.predict([1.0]) == [2.0]
    with pytest.raises(oast.BadRequest, match="instances"):
        dep.scale(0)


def test_a_script_that_fails_to_load(world, proj):
    register(proj, "broken", {"predictor.py": BROKEN_PREDICTOR}, "python")
    dep = deploy(proj, unique("broken"), "broken", start=False)
    with pytest.raises(oast.DeploymentFailed, match="RuntimeError: cannot find the weights"):
        dep.start()
    assert dep.refresh().info["state"] == "failed"
    r = predict_raw(world.api, world.alice.key, dep.name, {"instances": [1]})
    assert "cannot find the weights" in assert_error(r, 503)["message"]
    assert "cannot find the weights" in dep.logs()
    dep.stop()
    assert dep.info["state"] == "stopped"


def test_delete_a_running_deployment(world, proj):
    register_magic(proj, "gone")
    dep = deploy(proj, unique("gone"), "gone")
    (pid,) = pids(dep)
    dep.delete()
    r = predict_raw(world.api, world.alice.key, dep.name, {"instances": [1]})
    assert_error(r, 404)
    assert wait_until(lambda: not os.path.exists("/proc/%d" % pid) or "zombie" in open("/proc/%d/status" % pid).read().lower())
    with pytest.raises(oast.NotFound):
        proj.deployments.get(dep.name)


def test_deployments_come_back_after_a_restart(start_server, tmp_path):
    from oasttest import World
    srv = start_server()
    world = World(srv)
    proj = world.owner_project(world.project)
    X, y = data()
    clf = train_xgb_classifier(X, y)
    register(proj, "back", {"model.json": xgb_file(clf, tmp_path)}, "xgboost")
    native = deploy(proj, "backnative", "back", predictor="xgboost")
    register_magic(proj, "backpy")
    py = deploy(proj, "backpy", "backpy")
    deploy(proj, "backstopped", "backpy", start=False)
    srv.restart()
    proj = world.owner_project(world.project)
    native = proj.deployments.get("backnative")
    assert native.state == "running"
    assert (f32(native.predict(X[:4].tolist())) == clf.get_booster().inplace_predict(X[:4])).all()
    py = proj.deployments.get("backpy")
    py.wait_running(60)
    assert py.predict([1.0]) == [2.0]
    assert proj.deployments.get("backstopped").state == "stopped"
    # a crash of the server too
    srv.kill9()
    srv.start()
    proj = world.owner_project(world.project)
    py = proj.deployments.get("backpy")
    py.wait_running(60)
    assert py.predict([3.0]) == [6.0]


def gone(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return "zombie" in f.read().lower()
    except FileNotFoundError:
        return True


def test_deleting_the_project_stops_its_deployments(world):
    p = world.new_project("doomed")
    proj = world.owner_project(p)
    register_magic(proj, "m", factor=2.0)
    name = unique("doomed")
    dep = deploy(proj, name, "m")
    (pid,) = pids(dep)
    proj.delete()
    r = predict_raw(world.api, world.alice.key, name, {"instances": [1.0]})
    assert_error(r, 404)
    assert wait_until(lambda: gone(pid), 20)
    # a new project of the same name, someone else's, may deploy the name again; it serves its own model
    again = world.carol.conn.projects.create(p, "same name, new owner")
    register_magic(again, "m", factor=5.0)
    deploy(again, name, "m")
    r = predict_raw(world.api, world.carol.key, name, {"instances": [1.0]})
    assert r.status == 200 and r.json() == {"predictions": [5.0]}, r
    assert_error(predict_raw(world.api, world.alice.key, name, {"instances": [1.0]}), 404)


def test_another_version_takes_over_without_dropping_requests(world, proj, other, tmp_path):
    register_magic(proj, "rolling", factor=2.0)
    dep = deploy(proj, unique("rolling"), "rolling", instances=2)
    old = pids(dep)
    assert register_magic(proj, "rolling", factor=5.0).version == 2
    gate = tmp_path / "gate"
    calls = [call_in_thread(dep.predict, ["wait:%s" % gate]) for _ in range(3)]
    assert wait_in_flight(dep, busy=2, queued=1)
    updating, updated = call_in_thread(dep.update, model_version=2)
    # version 2 takes the name (its instances are ready) and answers while version 1 still holds its three requests
    assert wait_until(lambda: "serving in place of version 1" in dep.logs(), 60), dep.logs()
    assert dep.predict([1.0]) == [5.0]
    assert updating.is_alive() and all(t.is_alive() for t, _ in calls)
    gate.touch()
    updating.join(60)
    assert "error" not in updated, updated
    assert dep.refresh().info["model_version"] == 2 and dep.info["state"] == "running", dep.info
    # what the old version held, it answered
    for t, box in calls:
        t.join(30)
        assert box.get("result") == ["waited"], box
    assert wait_until(lambda: all(gone(pid) for pid in old), 20)
    assert len(pids(dep)) == 2 and not set(pids(dep)) & set(old)
    # a version that cannot start: 409 with its reason, and the running one goes on unchanged
    assert register(proj, "rolling", {"predictor.py": BROKEN_PREDICTOR}, "python").version == 3
    with pytest.raises(oast.Conflict, match="cannot find the weights") as ei:
        dep.update(model_version=3)
    assert "version 2 goes on serving" in ei.value.message
    assert dep.refresh().info["model_version"] == 2 and dep.info["state"] == "running"
    assert dep.predict([1.0]) == [5.0]
    with pytest.raises(oast.BadRequest, match='model "rolling" has no version 9'):
        dep.update(model_version=9)
    # a stopped deployment records the version and serves it when started
    dep.stop()
    dep.update(model_version=1)
    assert dep.info["model_version"] == 1 and dep.info["state"] == "stopped"
    dep.start(timeout=60)
    assert dep.predict([1.0]) == [2.0]
    steady_ok(other)
