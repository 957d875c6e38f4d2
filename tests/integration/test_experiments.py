"""Experiments over REST: real trials (small Python programs and the C
example), the optimizers end to end, failures, timeouts, GPUs, restart,
the on-disk layout with TensorBoard event files, bad input and rights."""

import json
import math
import os
import signal
import time

import pytest

from exptest import (PRELUDE, alive, body, build_c_trial, by_number, cmdline, create, detail, exp_dir, file_b64,
                     logs, processes_with_env, py_trial, tf_events, wait_done, wait_for)
from oasttest import World, assert_error, assert_status, expect_member, run_matrix

# A trial that reports metric = -(x - 2)^2 + step/100 for `steps` steps and returns the last.
REPORTING = """
x = P.get("x", 0)
steps = int(P.get("steps", 3))
m = None
for step in range(steps):
    m = -(x - 2) ** 2 + step / 100
    R.report(m, step=step, loss=abs(m))
print("trial x=%s done" % x)
R.final(m)
"""


@pytest.fixture(scope="module")
def c_trial(tmp_path_factory):
    return build_c_trial(tmp_path_factory.mktemp("ctrial"))


def project(world):
    return world.new_project("x")


def test_grid_runs_every_point_and_ranks_best_first(world):
    api, key, p = world.api, world.alice.key, project(world)
    b = body("grid", REPORTING, searchspace={"x": {"type": "discrete", "values": [1, 2, 3]},
                                             "opt": {"type": "categorical", "values": ["a", "b"]}},
             optimizer={"name": "grid"}, parallelism=2)
    d = create(api, key, p, b)
    assert d["state"] == "running" and d["logdir"] == "Experiments/%d" % d["id"]
    d = wait_done(api, key, p, d["id"])
    assert d["state"] == "finished"
    trials = by_number(d)
    assert [t["params"] for t in trials] == [{"x": x, "opt": o} for x in (1, 2, 3) for o in ("a", "b")]
    assert all(t["state"] == "finished" and t["exit_code"] == 0 for t in trials)
    metrics = [t["metric"] for t in d["trials"]]
    assert metrics == sorted(metrics, reverse=True)
    assert d["best"]["params"]["x"] == 2 and d["best"]["metric"] == pytest.approx(0.02)
    assert d["counts"]["finished"] == 6
    assert all(t["duration_s"] >= 0 and t["started"] and t["ended"] for t in trials)
    # Listed, newest first.
    items = api.get("/projects/%s/experiments" % p, key).json()["items"]
    assert items[0]["id"] == d["id"] and items[0]["trials"] == 6 and items[0]["optimizer"] == "grid"


def test_min_direction_ranks_lowest_first(world):
    api, key, p = world.api, world.alice.key, project(world)
    b = body("mini", "R.final(P['x'])", searchspace={"x": {"type": "discrete", "values": [3, 1, 2]}},
             optimizer="grid", direction="min")
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    assert [t["metric"] for t in d["trials"]] == [1, 2, 3]
    assert d["best"]["params"] == {"x": 1}


def test_random_search_is_deterministic_under_a_seed(world):
    api, key, p = world.api, world.alice.key, project(world)
    space = {"lr": {"type": "double", "min": 1e-4, "max": 1e-1, "log": True},
             "n": {"type": "integer", "min": 1, "max": 100}}

    def run(seed):
        b = body("rnd", "R.final(P['lr'])", searchspace=space, optimizer={"name": "random"}, num_trials=5,
                 seed=seed, parallelism=2)
        d = wait_done(api, key, p, create(api, key, p, b)["id"])
        assert d["seed"] == seed and d["state"] == "finished"
        return [t["params"] for t in by_number(d)]

    a, b2, c = run(7), run(7), run(8)
    assert a == b2
    assert a != c
    assert len({json.dumps(x, sort_keys=True) for x in a}) == 5
    assert all(1e-4 <= x["lr"] <= 1e-1 and 1 <= x["n"] <= 100 and isinstance(x["n"], int) for x in a)


def test_asha_promotes_configurations_with_the_c_trial(world, c_trial):
    api, key, p = world.api, world.alice.key, project(world)
    b = {"name": "asha", "command": ["trial_curve"], "files": {"trial_curve": file_b64(c_trial)},
         "searchspace": {"x": {"type": "double", "min": 0.0, "max": 1.0}},
         "optimizer": {"name": "asha", "reduction_factor": 3, "min_resource": 1, "max_resource": 9},
         "num_trials": 9, "parallelism": 2, "seed": 3}
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    assert d["state"] == "finished", d
    trials = {t["number"]: t for t in d["trials"]}
    rungs = {}
    for t in trials.values():
        rungs.setdefault(t["rung"], []).append(t)
    assert len(rungs[0]) == 9 and all(t["budget"] == 1 and t["parent"] is None for t in rungs[0])
    assert rungs.get(1) and rungs.get(2), "no promotions recorded: %s" % d["trials"]
    for t in rungs[1] + rungs[2]:
        parent = trials[t["parent"]]
        assert parent["rung"] == t["rung"] - 1
        assert t["budget"] == {1: 3, 2: 9}[t["rung"]] and t["params"]["budget"] == t["budget"]
        assert parent["params"]["x"] == t["params"]["x"]
        # A promoted configuration was among the best of its rung when promoted: never the worst there.
        assert parent["metric"] > min(u["metric"] for u in rungs[parent["rung"]])
    # The best is a top-rung trial, and the C reporter's final metric is the curve's value.
    best = trials[d["best"]["number"]]
    assert best["rung"] == 2
    x = best["params"]["x"]
    assert best["metric"] == pytest.approx((1 - (x - 0.7) ** 2) * (1 - 0.5 ** (9 / 4)), rel=1e-6)


def test_median_rule_stops_a_bad_trial_early(world, c_trial):
    api, key, p = world.api, world.alice.key, project(world)
    # One at a time, in grid order: two good trials finish, then the bad one is below their median.
    b = {"name": "median", "command": ["trial_curve"], "files": {"trial_curve": file_b64(c_trial)},
         "searchspace": {"x": {"type": "discrete", "values": [0.7, 0.6, -2.0]}, "steps": {"type": "discrete",
                                                                                             "values": [30]}},
         "optimizer": "grid", "parallelism": 1,
         "early_stopping": {"policy": "median", "min_trials": 2, "interval": 1}}
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    t = by_number(d)
    assert [x["state"] for x in t] == ["finished", "finished", "early_stopped"]
    assert t[2]["early_stopped"] is True and t[2]["exit_code"] == 0
    assert t[2]["metric"] is not None and t[2]["metric"] < t[0]["metric"]
    text = logs(api, key, p, d["id"])
    assert "[trial 2] stopped early at step 0" in text
    assert "[trial 2] early stopped" in text


def test_python_reporter_stop_is_early_stopped_not_failed(world):
    api, key, p = world.api, world.alice.key, project(world)
    src = """
    q = P["q"]
    try:
        for step in range(20):
            R.report(q, step=step)
    except EarlyStop as e:
        print("told to stop:", e)
        sys.exit(0)
    R.final(q)
    """
    b = body("pystop", src, searchspace={"q": {"type": "discrete", "values": [1.0, 0.9, 0.1]}}, optimizer="grid",
             early_stopping={"policy": "median", "min_trials": 2})
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    t = by_number(d)
    assert t[2]["state"] == "early_stopped" and t[2]["metric"] == pytest.approx(0.1)
    assert d["counts"] == {"running": 0, "finished": 2, "early_stopped": 1, "failed": 0, "killed": 0}


def test_crashed_trial_is_failed_and_the_experiment_goes_on(world):
    api, key, p = world.api, world.alice.key, project(world)
    src = """
    if P["x"] == 2:
        print("about to fail", flush=True)
        sys.stderr.write("boom: x is 2\\n")
        sys.exit(3)
    R.final(P["x"])
    """
    b = body("crash", src, searchspace={"x": {"type": "discrete", "values": [1, 2, 3]}}, optimizer="grid")
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    assert d["state"] == "finished"
    t = by_number(d)
    assert [x["state"] for x in t] == ["finished", "failed", "finished"]
    bad = t[1]
    assert bad["exit_code"] == 3 and bad["metric"] is None and bad["error"] == "exit code 3"
    assert "boom: x is 2" in bad["log_tail"] and "about to fail" in bad["log_tail"]
    assert d["best"]["params"] == {"x": 3}
    assert "[trial 1] failed: exit code 3" in logs(api, key, p, d["id"])


def test_all_trials_failing_fails_the_experiment(world):
    api, key, p = world.api, world.alice.key, project(world)
    b = body("allbad", "sys.exit(1)")
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    assert d["state"] == "failed" and d["trials"][0]["state"] == "failed"


def test_timeout_kills_the_whole_process_group(world):
    api, key, p = world.api, world.alice.key, project(world)
    # No reporter import: the child's pid is written at once, well within the timeout on a loaded machine.
    files, cmd = py_trial("""
    import os, subprocess, time
    child = subprocess.Popen(["sleep", "1000"])
    open(os.path.join(os.environ["OAST_LOGDIR"], "child.pid"), "w").write(str(child.pid))
    time.sleep(1000)
    """)
    b = body("timeout", files=files, command=cmd, timeout_s=6)
    d = create(api, key, p, b)
    d = wait_done(api, key, p, d["id"])
    t = d["trials"][0]
    assert t["state"] == "failed" and t["timed_out"] is True and "timed out" in t["error"]
    pid = int((exp_dir(world.server, p, d["id"]) / "trial_0" / "child.pid").read_text())
    # The child (same process group) is gone, and so is anything else of this trial.
    wait_for(lambda: not alive(pid), timeout=15, what="sleep 1000 to be killed")
    left = [q for q in processes_with_env("OAST_TRIAL_ID", str(t["id"])) if alive(q)]
    assert not left, "processes of the timed-out trial remain: %s" % [cmdline(q) for q in left]


def test_stop_kills_running_trials(world):
    api, key, p = world.api, world.alice.key, project(world)
    b = body("stopme", "print('sleeping', flush=True); time.sleep(1000)",
             searchspace={"x": {"type": "discrete", "values": [1, 2, 3, 4]}}, optimizer="grid", parallelism=2)
    eid = create(api, key, p, b)["id"]
    wait_for(lambda: detail(api, key, p, eid)["counts"]["running"] == 2 and
             logs(api, key, p, eid).count("sleeping") == 2, what="two trials running")
    r = api.call("POST", "/projects/%s/experiments/%d/stop" % (p, eid), world.bob.key)
    assert_status(r, 200)
    d = wait_done(api, key, p, eid)
    assert d["state"] == "killed"
    assert sorted(t["state"] for t in d["trials"]) == ["killed", "killed"]
    assert_error(api.call("POST", "/projects/%s/experiments/%d/stop" % (p, eid), key), 409)
    assert "[experiment] stopping" in logs(api, key, p, eid)


def test_on_disk_layout_and_tensorboard_events(world):
    api, key, p = world.api, world.alice.key, project(world)
    b = body("layout", REPORTING, searchspace={"x": {"type": "discrete", "values": [1, 2]}, "steps": {
        "type": "discrete", "values": [4]}}, optimizer="grid", metric="acc")
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    root = exp_dir(world.server, p, d["id"])
    ej = json.loads((root / "experiment.json").read_text())
    assert ej["id"] == d["id"] and ej["state"] == "finished" and ej["metric"] == "acc"
    summary = json.loads((root / ".summary.json").read_text())
    assert summary["state"] == "finished" and summary["best"]["params"]["x"] == 2
    assert len(summary["trials"]) == 2
    assert (root / "trial.py").is_file()  # the program, a versioned copy
    for t in by_number(d):
        td = root / t["logdir"]
        assert json.loads((td / ".hparams.json").read_text()) == t["params"]
        assert float((td / ".metric").read_text()) == t["metric"]
        assert json.loads((td / ".outputs.json").read_text()) == {"acc": t["metric"]}
        assert "trial x=%d done" % t["params"]["x"] in (td / "output.log").read_text()
        files = sorted(td.glob("events.out.tfevents.*"))
        assert len(files) == 1, files
        ev = tf_events(files[0])
        assert ev[0]["file_version"] == "brain.Event:2"
        scalars = [e for e in ev[1:]]
        assert [e["step"] for e in scalars] == [0, 1, 2, 3]
        x = t["params"]["x"]
        for e in scalars:
            m = -(x - 2) ** 2 + e["step"] / 100
            assert e["values"]["acc"] == pytest.approx(m, abs=1e-6)
            assert e["values"]["loss"] == pytest.approx(abs(m), abs=1e-6)
            assert e["wall_time"] > 1e9
    text = (root / "experiment.log").read_text()
    assert text == logs(api, key, p, d["id"])
    assert all(line.startswith("[trial ") or line.startswith("[experiment] ") for line in text.splitlines())


def test_log_follow_streams_until_the_end_and_resumes_from_an_offset(world):
    api, key, p = world.api, world.alice.key, project(world)
    src = """
    for i in range(5):
        print("line %d" % i, flush=True)
        time.sleep(0.2)
    R.final(1)
    """
    eid = create(api, key, p, body("follow", src))["id"]
    text = logs(api, key, p, eid, follow=True)  # returns when the experiment has ended
    assert detail(api, key, p, eid)["state"] == "finished"
    assert ["[trial 0] line %d" % i in text for i in range(5)] == [True] * 5
    assert text.rstrip("\n").splitlines()[-1].startswith("[experiment] finished")
    cut = text.index("[trial 0] line 3")
    assert logs(api, key, p, eid, follow=True, offset=cut) == text[cut:]
    assert logs(api, key, p, eid, offset=len(text)) == ""


def test_project_files_and_resources_become_versioned_copies(world):
    api, key, p = world.api, world.alice.key, project(world)
    conn = world.alice.conn.projects.get(p)
    conn.files.upload(b"print('from the project'); import json, os; print(open('data.txt').read())",
                      "Resources/prog.py")
    conn.files.upload(b"payload-1", "Resources/data.txt")
    b = {"name": "res", "command": ["Resources/prog.py"], "resources_paths": ["Resources/data.txt"]}
    d = create(api, key, p, b)
    conn.files.upload(b"payload-2", "Resources/data.txt")  # a later change does not reach the experiment
    d = wait_done(api, key, p, d["id"])
    text = logs(api, key, p, d["id"])
    assert "[trial 0] from the project" in text and "[trial 0] payload-1" in text
    assert (exp_dir(world.server, p, d["id"]) / "prog.py").is_file()


def test_bad_input_is_a_400_naming_the_field(world):
    api, key, p = world.api, world.alice.key, project(world)
    files, cmd = py_trial("print(1)")
    ok = {"name": "bad", "files": files, "command": cmd}
    cases = [
        ({"searchspace": {"lr": {"type": "double", "min": 0.5, "max": 0.1}}, "optimizer": "random",
          "num_trials": 2}, "searchspace.lr"),
        ({"searchspace": {"o": {"type": "categorical", "values": []}}, "optimizer": "grid"}, "searchspace.o"),
        ({"searchspace": {"o": {"type": "float", "min": 0, "max": 1}}, "optimizer": "grid"}, "searchspace.o"),
        ({"optimizer": {"name": "bayes"}}, "optimizer.name"),
        ({"parallelism": 0}, "parallelism"),
        ({"parallelism": "2"}, "parallelism"),
        ({"command": ["no-such-program-anywhere"]}, "command[0]"),
        ({"command": ["Resources/missing.py"]}, "command[0]"),
        ({"command": []}, "command"),
        ({"name": "bad name"}, "name"),
        ({"direction": "up"}, "direction"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"resources": {"gpus": 64}}, "resources.gpus"),
        ({"resources": {"cpus": 0}}, "resources.cpus"),
        ({"num_trials": 0}, "num_trials"),
        ({"early_stopping": {"policy": "sometimes"}}, "early_stopping.policy"),
        ({"files": {"../x": "AA=="}}, "files"),
        ({"files": {"x.py": "@@@"}}, "files.x.py"),
        ({"env": {"OAST_TRIAL_TOKEN": "x"}}, "env.OAST_TRIAL_TOKEN"),
        ({"resources_paths": ["Resources/nothing"]}, "resources_paths[0]"),
        ({"surprise": 1}, "surprise"),
    ]
    before = api.get("/projects/%s/experiments" % p, key).json()["items"]
    for change, field in cases:
        b = dict(ok)
        b.update(change)
        r = api.call("POST", "/projects/%s/experiments" % p, key, json=b)
        err = assert_error(r, 400)
        assert err["message"].startswith(field), (change, err["message"])
    assert_error(api.raw_json("POST", "/projects/%s/experiments" % p, key, b"{not json"), 400)
    assert api.get("/projects/%s/experiments" % p, key).json()["items"] == before
    assert not list((world.server.project_dir(p) / "Experiments").iterdir())


def test_unknown_experiments_are_404(world):
    api, key, p = world.api, world.alice.key, project(world)
    for path in ("/experiments/999999", "/experiments/abc", "/experiments/999999/logs"):
        assert_error(api.get("/projects/%s%s" % (p, path), key), 404)
    assert_error(api.call("POST", "/projects/%s/experiments/999999/stop" % p, key), 404)


# --- rights ---------------------------------------------------------------------------


def _quick(ctx):
    files, cmd = py_trial("print('hi')")
    return {"name": "m", "files": files, "command": cmd}


def _made(world, p):
    key = world.alice.key
    eid = create(world.api, key, p, _quick(None))["id"]
    wait_done(world.api, key, p, eid)
    return {"id": str(eid)}


def _running(world, p):
    files, cmd = py_trial("import time; time.sleep(1000)")
    eid = create(world.api, world.alice.key, p, {"name": "r", "files": files, "command": cmd})["id"]
    return {"id": str(eid)}


@pytest.mark.parametrize("role", ["data_owner", "data_scientist", "non_member", "no_key"])
def test_permission_matrix(world, role):
    api = world.api

    def none_created(ctx):
        assert api.get("/projects/%s/experiments" % ctx["p"], world.alice.key).json()["items"] == []

    run_matrix(world, role, "POST", "/projects/{p}/experiments", expect_member(201), json=_quick, refused=none_created,
               done=lambda ctx, r: wait_done(api, world.alice.key, ctx["p"], r.json()["id"]))
    run_matrix(world, role, "GET", "/projects/{p}/experiments", expect_member(200))
    run_matrix(world, role, "GET", "/projects/{p}/experiments/{id}", expect_member(200), setup=_made)
    run_matrix(world, role, "GET", "/projects/{p}/experiments/{id}/logs", expect_member(200), setup=_made)

    def still_running(ctx):
        assert detail(api, world.alice.key, ctx["p"], int(ctx["id"]))["state"] == "running"
        api.call("POST", "/projects/%s/experiments/%s/stop" % (ctx["p"], ctx["id"]), world.alice.key)

    run_matrix(world, role, "POST", "/projects/{p}/experiments/{id}/stop", expect_member(200), setup=_running,
               refused=still_running,
               done=lambda ctx, r: wait_done(api, world.alice.key, ctx["p"], int(ctx["id"])))


def test_trial_tokens_are_confined_to_their_trial_and_project(world):
    api, key = world.api, world.alice.key
    p, other = project(world), world.new_project("o")
    src = """
    import urllib.request, urllib.error
    def call(method, path, body=None):
        req = urllib.request.Request(os.environ["OAST_ADDR"] + "/api/v1" + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer " + os.environ["OAST_TRIAL_TOKEN"],
                                              "Content-Type": "application/json"})
        try:
            return urllib.request.urlopen(req).status
        except urllib.error.HTTPError as e:
            return e.code
    me, other = os.environ["OAST_PROJECT"], P["other"]
    out = {"own": call("GET", "/projects/" + me), "other": call("GET", "/projects/" + other),
           "me": call("GET", "/users/me"), "keys": call("GET", "/users/me/api-keys"),
           "new_key": call("POST", "/users/me/api-keys", {"name": "stolen"}),
           "new_project": call("POST", "/projects", {"name": "escape"}),
           "own_experiments": call("GET", "/projects/" + me + "/experiments"),
           "not_mine": call("POST", "/trials/%d/report" % (int(os.environ["OAST_TRIAL_ID"]) + 100000), {"metric": 1}),
           "metric": 1}
    open(os.path.join(os.environ["OAST_LOGDIR"], "token"), "w").write(os.environ["OAST_TRIAL_TOKEN"])
    R.final(outputs=out)
    """
    b = body("tok", src, optimizer={"name": "single", "params": {"other": other}})
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    t = d["trials"][0]
    assert t["state"] == "finished", t
    out = t["outputs"]
    assert out["own"] == 200 and out["own_experiments"] == 200
    assert out["other"] == 404
    assert out["me"] == 200  # who the trial acts for, a route open to trial tokens
    assert out["keys"] == 403 and out["new_key"] == 403 and out["new_project"] == 403
    assert out["not_mine"] == 404
    # Revoked when the trial ended.
    token = (exp_dir(world.server, p, d["id"]) / "trial_0" / "token").read_text()
    assert_error(api.get("/projects/%s" % p, token), 401)
    assert_error(api.call("POST", "/trials/%d/report" % t["id"], token, json={"metric": 1}), 401)


def test_trial_routes_need_the_trials_own_token(world):
    api, key, p = world.api, world.alice.key, project(world)
    src = """
    open(os.path.join(os.environ["OAST_LOGDIR"], "token"), "w").write(os.environ["OAST_TRIAL_TOKEN"])
    time.sleep(1000)
    """
    b = body("own", src, searchspace={"x": {"type": "discrete", "values": [1, 2]}}, optimizer="grid",
             parallelism=2)
    eid = create(api, key, p, b)["id"]
    root = exp_dir(world.server, p, eid)
    wait_for(lambda: all((root / ("trial_%d" % i) / "token").exists() for i in (0, 1)), what="both trials")
    trials = by_number(detail(api, key, p, eid))
    tok0 = (root / "trial_0" / "token").read_text()
    tok1 = (root / "trial_1" / "token").read_text()
    t0, t1 = trials[0]["id"], trials[1]["id"]
    assert_status(api.call("POST", "/trials/%d/report" % t0, tok0, json={"metric": 0.5, "step": 0}), 200)
    assert api.call("POST", "/trials/%d/report" % t0, tok0, json={"metric": 0.5}).json() == {"stop": False}
    for who, tok in (("other trial", tok1), ("owner's key", world.alice.key), ("scientist's key", world.bob.key)):
        r = api.call("POST", "/trials/%d/report" % t0, tok, json={"metric": 1})
        assert_error(r, 403)
        assert_error(api.call("POST", "/trials/%d/final" % t0, tok, json={"metric": 1}), 403)
    assert_error(api.call("POST", "/trials/%d/report" % t0, None, json={"metric": 1}), 401)
    # Bad reports name the field.
    for bad, field in (({"metric": "high"}, "metric"), ({"step": -1, "metric": 1}, "step"), ({}, "metric"),
                       ({"metric": 1, "metrics": {"a": "b"}}, "metrics.a"), ({"metric": 1, "x": 2}, "unknown field")):
        err = assert_error(api.call("POST", "/trials/%d/report" % t1, tok1, json=bad), 400)
        assert field in err["message"], (bad, err)
    assert_status(api.call("POST", "/trials/%d/final" % t1, tok1, json={"outputs": {"metric": 3}}), 200)
    assert_error(api.call("POST", "/trials/%d/final" % t1, tok1, json={"metric": 4}), 409)
    api.call("POST", "/projects/%s/experiments/%d/stop" % (p, eid), key)
    wait_done(api, key, p, eid)


# --- GPUs and restarts (own servers) ------------------------------------------------------


def test_gpu_slots_give_each_running_trial_its_own_device(start_server):
    srv = start_server("--gpus", "0,1", "--cpus", "4")
    world = World(srv)
    api, key, p = world.api, world.alice.key, world.new_project("g")
    src = """
    print("CUDA_VISIBLE_DEVICES=%s" % os.environ["CUDA_VISIBLE_DEVICES"], flush=True)
    time.sleep(0.5)
    R.final(1)
    """
    b = body("gpu", src, searchspace={"x": {"type": "discrete", "values": [1, 2, 3, 4, 5, 6]}}, optimizer="grid",
             parallelism=4, resources={"gpus": 1})
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    assert d["state"] == "finished"
    trials = by_number(d)
    root = exp_dir(srv, p, d["id"])
    for t in trials:
        assert t["gpus"] in ("0", "1")
        assert "CUDA_VISIBLE_DEVICES=%s" % t["gpus"] in (root / t["logdir"] / "output.log").read_text()
    # Trials whose runs overlap in time held different GPUs.
    for a in trials:
        for c in trials:
            if a["number"] < c["number"] and a["started"] < c["ended"] and c["started"] < a["ended"]:
                assert a["gpus"] != c["gpus"], (a, c)
    err = assert_error(api.call("POST", "/projects/%s/experiments" % p, key,
                                json=dict(b, resources={"gpus": 3})), 400)
    assert err["message"].startswith("resources.gpus")


def test_restart_after_a_crash_resumes_the_experiment(start_server, tmp_path):
    srv = start_server("--cpus", "2")
    api, key = srv.api, srv.admin_key
    assert_status(api.call("POST", "/projects", key, json={"name": "rs"}), 201)
    # Trials 1 and 2 end by themselves; the later ones wait for the gate, which opens after the crash,
    # so the trials running at the crash are known for sure.
    gate = tmp_path / "gate"
    src = """
    open(os.path.join(os.environ["OAST_LOGDIR"], "pid-%%d" %% os.getpid()), "w").close()
    if P["x"] <= 2:
        time.sleep(1.5)
    while P["x"] > 2 and not os.path.exists(%r):
        time.sleep(0.05)
    R.final(P["x"])
    """ % str(gate)
    b = body("resume", src, searchspace={"x": {"type": "discrete", "values": [1, 2, 3, 4, 5, 6]}}, optimizer="grid",
             parallelism=2)
    eid = create(api, key, "rs", b)["id"]
    root = exp_dir(srv, "rs", eid)

    def progress():
        d = detail(api, key, "rs", eid)
        return d if d["counts"]["finished"] >= 2 and d["counts"]["running"] == 2 else None

    before = wait_for(progress, what="two finished and two running trials")
    kept = {t["number"]: t for t in before["trials"] if t["state"] == "finished"}
    lost = [t for t in before["trials"] if t["state"] == "running"]
    wait_for(lambda: all(list((root / t["logdir"]).glob("pid-*")) for t in lost), what="the running trials' pids")
    old_pids = [int(f.name[4:]) for t in lost for f in (root / t["logdir"]).glob("pid-*")]
    srv.kill9()
    srv.start()
    api = srv.api
    # What the crashed server left running is killed, not left to run on (the gate is still shut, so they
    # cannot have ended by themselves).
    for pid in old_pids:
        wait_for(lambda: not alive(pid), timeout=15, what="orphan %d to be killed" % pid)
    gate.touch()
    d = wait_done(api, key, "rs", eid)
    assert d["state"] == "finished"
    trials = by_number(d)
    assert [t["params"]["x"] for t in trials] == [1, 2, 3, 4, 5, 6]
    assert all(t["state"] == "finished" and t["metric"] == t["params"]["x"] for t in trials)
    for t in trials:
        if t["number"] in kept:
            k = kept[t["number"]]
            assert t["attempts"] == 1 and t["ended"] == k["ended"] and t["metric"] == k["metric"]
    for t in lost:
        assert trials[t["number"]]["attempts"] == 2
    assert "lost when the server stopped" in logs(api, key, "rs", eid)


def test_clean_restart_resumes_too(start_server):
    srv = start_server("--cpus", "2")
    api, key = srv.api, srv.admin_key
    assert_status(api.call("POST", "/projects", key, json={"name": "cr"}), 201)
    b = body("clean", "time.sleep(1.0); R.final(P['x'])",
             searchspace={"x": {"type": "discrete", "values": [1, 2, 3]}}, optimizer="grid", parallelism=1)
    eid = create(api, key, "cr", b)["id"]
    wait_for(lambda: detail(api, key, "cr", eid)["counts"]["running"] == 1, what="a running trial")
    srv.restart()
    d = wait_done(srv.api, key, "cr", eid)
    assert d["state"] == "finished" and [t["params"]["x"] for t in by_number(d)] == [1, 2, 3]
    assert all(t["state"] == "finished" for t in d["trials"])


def test_trials_that_no_longer_fit_the_pool_fail_and_the_experiment_ends(start_server):
    srv = start_server("--cpus", "4")
    api, key = srv.api, srv.admin_key
    assert_status(api.call("POST", "/projects", key, json={"name": "fit"}), 201)
    b = body("fit", "time.sleep(1000)", searchspace={"x": {"type": "discrete", "values": [1, 2, 3]}},
             optimizer="grid", resources={"cpus": 3})
    eid = create(api, key, "fit", b)["id"]
    wait_for(lambda: detail(api, key, "fit", eid)["counts"]["running"] == 1, what="a running trial")
    srv.stop()
    srv.args = ["--cpus", "2"]  # the server comes back with fewer CPUs than a trial asks for
    srv.start()
    d = wait_done(srv.api, key, "fit", eid)
    assert d["state"] == "failed"
    assert [t["state"] for t in by_number(d)] == ["failed"] * 3
    assert all("could not start" in t["error"] and "CPU" in t["error"] for t in d["trials"])
