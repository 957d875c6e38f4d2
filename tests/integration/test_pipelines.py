"""Pipelines: order of depends_on, retries with backoff, timeouts, the
three trigger rules, sensors, rerun from a failed task, stop, a restart
in the middle of a run, the failure webhook, bad specs (400 naming the
task), the CLI with --follow, the Python client and the permission
matrix.

Tasks run tests/integration/jobstest.py's MARK_SH: each records its
attempts in the test's tmp dir, checks that its upstream tasks finished
first, and can wait at a gate the test opens. Nothing depends on speed.
"""

import json
from pathlib import Path

import pytest

import oast
from jobstest import (MARK_SH, Hook, alive, cli, jserver, jworld, poll, project_of, put_file,  # noqa: F401
                      start_jobs_server, task, wait_file, wait_pid, wait_prun)
from oasttest import World, assert_error, expect_member, run_matrix, stop_checked


def setup_project(world, prefix="pl"):
    """A project with the mark job (alice's)."""
    p = world.new_project(prefix)
    put_file(world, p, "Resources/mark.sh", MARK_SH)
    project_of(world, p).jobs.create("mark", "shell", "Resources/mark.sh")
    return p


def mark(name, d, deps=(), gate=None, **kw):
    """A job task running MARK_SH as `name` in dir d."""
    t = {"name": name, "type": "job", "job": "mark", "args": [str(d), name, str(gate) if gate else "-", *deps]}
    if deps:
        t["depends_on"] = list(deps)
    t.update(kw)
    return t


def counts(d, name):
    f = Path(d) / (name + ".count")
    return int(f.read_text()) if f.exists() else 0


# --- order, retries, timeouts, trigger rules -------------------------------------------------


def test_depends_on_order_diamond_and_yaml_equals_json(jworld, tmp_path):
    p = setup_project(jworld)
    pl = project_of(jworld, p).pipelines
    spec = {"name": "diamond", "tasks": [mark("d", tmp_path, ["b", "c"]), mark("b", tmp_path, ["a"]),
                                         mark("c", tmp_path, ["a"]), mark("a", tmp_path)]}
    created = pl.create(spec)
    assert [t["name"] for t in created["tasks"]] == ["d", "b", "c", "a"]
    assert created["tasks"][0]["trigger_rule"] == "all_success" and created["tasks"][0]["retries"] == 0
    run = pl.run("diamond")
    assert run["state"] == "running" and [t["name"] for t in run["tasks"]] == ["d", "b", "c", "a"]
    run = wait_prun(pl, "diamond", run["id"])
    assert run["state"] == "succeeded", run
    for t in run["tasks"]:
        assert t["state"] == "succeeded" and t["attempts"] == 1 and t["job_run"], t
        assert t["log"] == "Logs/jobs/mark/%d.log" % t["job_run"]
        assert counts(tmp_path, t["name"]) == 1
    # The job runs of the tasks are runs of the job "mark", tagged with the pipeline run.
    jr = project_of(jworld, p).jobs.get_run("mark", task(run, "d")["job_run"])
    assert jr["trigger"] == "pipeline" and jr["pipeline_run"] == run["id"] and jr["task"] == "d"
    # The same pipeline written in YAML is stored identically.
    yaml_text = """
name: diamond_yaml
tasks:
""" + "".join("""  - name: %s
    type: job
    job: mark
    args: %s
%s""" % (t["name"], json.dumps(t["args"]), "    depends_on: %s\n" % json.dumps(t["depends_on"]) if "depends_on" in t else "")
        for t in spec["tasks"])
    y = pl.create(yaml_text)
    assert y["tasks"] == created["tasks"]
    assert [x["name"] for x in pl.list()] == ["diamond", "diamond_yaml"]
    assert pl.list()[0]["tasks"] == 4 and pl.list()[0]["last_run"]["id"] == run["id"]


def test_retries_with_backoff_then_success_or_failure(jworld, tmp_path):
    p = setup_project(jworld)
    pl = project_of(jworld, p).pipelines
    (tmp_path / "flaky.failures").write_text("2")
    (tmp_path / "hopeless.failures").write_text("99")
    pl.create({"name": "retry", "tasks": [mark("flaky", tmp_path, retries=2, retry_delay_s=1),
                                          mark("hopeless", tmp_path, retries=1, retry_delay_s=1),
                                          mark("after", tmp_path, ["flaky"])]})
    run = pl.run("retry")
    # Between attempts a task waits in state retrying with the time of its next attempt.
    waiting = poll(lambda: next((t for t in pl.get_run("retry", run["id"])["tasks"]
                                 if t["name"] == "flaky" and t["state"] == "retrying"), None))
    assert waiting["next_attempt"] and waiting["message"] == "exited with code 1"
    run = wait_prun(pl, "retry", run["id"])
    assert run["state"] == "failed"
    flaky, hopeless, after = task(run, "flaky"), task(run, "hopeless"), task(run, "after")
    assert flaky["state"] == "succeeded" and flaky["attempts"] == 3 and counts(tmp_path, "flaky") == 3
    assert hopeless["state"] == "failed" and hopeless["attempts"] == 2 and counts(tmp_path, "hopeless") == 2
    assert hopeless["message"] == "exited with code 1" and hopeless["exit_code"] == 1
    assert after["state"] == "succeeded" and after["attempts"] == 1
    # Every attempt of a job task is a run of its job.
    assert len(project_of(jworld, p).jobs.runs("mark")) == 6


def test_task_timeout(jworld, tmp_path):
    p = setup_project(jworld)
    pl = project_of(jworld, p).pipelines
    pl.create({"name": "slow", "tasks": [mark("slow", tmp_path, gate=tmp_path / "never", timeout_s=3)]})
    run = wait_prun(pl, "slow", pl.run("slow")["id"])
    t = task(run, "slow")
    assert run["state"] == "failed" and t["state"] == "failed" and "timed out" in t["message"], run
    pid = wait_pid(tmp_path / "slow.pid")
    poll(lambda: not alive(pid), timeout=15)


def test_trigger_rules(jworld, tmp_path):
    p = setup_project(jworld)
    pl = project_of(jworld, p).pipelines
    (tmp_path / "bad.exit").write_text("3")
    pl.create({"name": "rules", "tasks": [
        mark("bad", tmp_path),
        mark("good", tmp_path),
        {**mark("after_ok", tmp_path), "depends_on": ["bad"]},
        {**mark("after_all", tmp_path), "depends_on": ["bad"], "trigger_rule": "all_done"},
        {**mark("on_fail", tmp_path), "depends_on": ["bad"], "trigger_rule": "one_failed"},
        {**mark("on_fail2", tmp_path), "depends_on": ["good"], "trigger_rule": "one_failed"},
        {**mark("after_skip", tmp_path), "depends_on": ["on_fail2"]},
    ]})
    run = wait_prun(pl, "rules", pl.run("rules")["id"])
    states = {t["name"]: t["state"] for t in run["tasks"]}
    assert states == {"bad": "failed", "good": "succeeded", "after_ok": "upstream_failed", "after_all": "succeeded",
                      "on_fail": "succeeded", "on_fail2": "skipped", "after_skip": "skipped"}, states
    assert run["state"] == "failed"
    assert counts(tmp_path, "after_ok") == 0 and counts(tmp_path, "on_fail2") == 0
    assert counts(tmp_path, "after_all") == 1 and counts(tmp_path, "on_fail") == 1


def test_sensor_waits_for_path_and_times_out(jworld, tmp_path):
    p = setup_project(jworld)
    pl = project_of(jworld, p).pipelines
    pl.create({"name": "sense", "tasks": [
        {"name": "wait", "type": "sensor", "path": "Resources/out/_SUCCESS", "poke_interval_s": 1, "timeout_s": 300},
        mark("then", tmp_path, ["wait"])]})
    run = pl.run("sense")
    poll(lambda: task(pl.get_run("sense", run["id"]), "wait")["state"] == "running")
    assert task(pl.get_run("sense", run["id"]), "then")["state"] == "pending"
    (tmp_path / "wait.done").touch()  # the mark program checks its upstream's mark
    out = jworld.server.project_dir(p) / "Resources" / "out"
    out.mkdir()
    (out / "_SUCCESS").touch()
    run = wait_prun(pl, "sense", run["id"])
    assert run["state"] == "succeeded" and task(run, "wait")["attempts"] == 1 and counts(tmp_path, "then") == 1
    # A path that never appears: the sensor fails after its timeout, downstream never runs.
    pl.create({"name": "never", "tasks": [
        {"name": "wait", "type": "sensor", "path": "Resources/nothing/_SUCCESS", "poke_interval_s": 1,
         "timeout_s": 1},
        mark("never_then", tmp_path, ["wait"])]})
    run = wait_prun(pl, "never", pl.run("never")["id"])
    assert task(run, "wait")["state"] == "failed"
    assert task(run, "wait")["message"] == "timed out after 1 s waiting for Resources/nothing/_SUCCESS"
    assert task(run, "never_then")["state"] == "upstream_failed" and run["state"] == "failed"


# --- rerun, stop, restart ---------------------------------------------------------------------------


def test_rerun_from_failed_task_keeps_succeeded(jworld, tmp_path):
    p = setup_project(jworld)
    pl = project_of(jworld, p).pipelines
    (tmp_path / "b.exit").write_text("5")
    pl.create({"name": "chain", "tasks": [mark("a", tmp_path), mark("b", tmp_path, ["a"]),
                                          mark("c", tmp_path, ["b"]), mark("side", tmp_path)]})
    run = wait_prun(pl, "chain", pl.run("chain")["id"])
    assert [t["state"] for t in run["tasks"]] == ["succeeded", "failed", "upstream_failed", "succeeded"]
    a_run = task(run, "a")["job_run"]
    with pytest.raises(oast.Conflict) as ei:
        pl.rerun("chain", run["id"], "a")
    assert 'task "a" is in state succeeded' in ei.value.message
    with pytest.raises(oast.BadRequest):
        pl.rerun("chain", run["id"], "zzz")
    (tmp_path / "b.exit").unlink()
    again = pl.rerun("chain", run["id"], "b")
    assert again["id"] == run["id"] and again["state"] == "running"
    assert task(again, "a")["state"] == "succeeded" and task(again, "c")["state"] in ("pending", "running")
    assert task(again, "b")["state"] in ("pending", "running") and task(again, "b")["attempts"] <= 1
    run = wait_prun(pl, "chain", run["id"])
    assert run["state"] == "succeeded", run
    assert [(t["name"], t["attempts"]) for t in run["tasks"]] == [("a", 1), ("b", 1), ("c", 1), ("side", 1)]
    assert task(run, "a")["job_run"] == a_run
    assert counts(tmp_path, "a") == 1 and counts(tmp_path, "b") == 2 and counts(tmp_path, "c") == 1
    assert counts(tmp_path, "side") == 1
    # A run in progress cannot be rerun.
    pl.create({"name": "busy", "tasks": [mark("w", tmp_path, gate=tmp_path / "busy_gate")]})
    busy = pl.run("busy")
    with pytest.raises(oast.Conflict):
        pl.rerun("busy", busy["id"], "w")
    (tmp_path / "busy_gate").touch()
    assert wait_prun(pl, "busy", busy["id"])["state"] == "succeeded"


def test_stop_a_run(jworld, tmp_path):
    p = setup_project(jworld)
    pl = project_of(jworld, p).pipelines
    pl.create({"name": "stopme", "tasks": [mark("w", tmp_path, gate=tmp_path / "never"),
                                           mark("later", tmp_path, ["w"])]})
    run = pl.run("stopme")
    pid = wait_pid(tmp_path / "w.pid")
    with pytest.raises(oast.Conflict):
        pl.delete("stopme")
    run = pl.stop("stopme", run["id"])
    assert run["state"] == "killed"
    assert task(run, "w")["state"] == "failed" and task(run, "w")["message"] == "stopped"
    assert task(run, "later")["state"] == "skipped"
    poll(lambda: not alive(pid), timeout=15)
    with pytest.raises(oast.Conflict):
        pl.stop("stopme", run["id"])
    pl.delete("stopme")
    assert pl.list() == []


def test_restart_mid_run_resumes_without_rerunning_succeeded(tmp_path):
    srv = start_jobs_server(tmp_path / "home")
    d = tmp_path / "marks"
    d.mkdir()
    try:
        w = World(srv)
        p = setup_project(w)
        pl = project_of(w, p).pipelines
        pl.create({"name": "long", "tasks": [
            mark("a", d),
            mark("b", d, ["a"], gate=d / "gate", retries=1, retry_delay_s=1),
            mark("c", d, ["b"]),
            {"name": "s", "type": "sensor", "path": "Resources/flag", "poke_interval_s": 1, "timeout_s": 600}]})
        run = pl.run("long")
        first_b = wait_pid(d / "b.pid")
        poll(lambda: task(pl.get_run("long", run["id"]), "s")["state"] == "running")
        srv.kill9()
        assert alive(first_b)  # an orphan of the dead server, still waiting at its gate
        (d / "b.pid").unlink()
        srv.start()
        pl = project_of(w, p).pipelines
        # The orphan is killed, b is retried (the lost attempt counts), a is not run again.
        poll(lambda: not alive(first_b), timeout=15)
        second_b = wait_pid(d / "b.pid")
        assert second_b != first_b
        mid = pl.get_run("long", run["id"])
        assert mid["state"] == "running"
        assert task(mid, "a")["state"] == "succeeded" and task(mid, "a")["attempts"] == 1
        (d / "gate").touch()
        (srv.project_dir(p) / "Resources" / "flag").touch()
        run = wait_prun(pl, "long", run["id"])
        assert run["state"] == "succeeded", run
        assert [(t["name"], t["attempts"]) for t in run["tasks"]] == [("a", 1), ("b", 2), ("c", 1), ("s", 1)]
        assert counts(d, "a") == 1 and counts(d, "b") == 2 and counts(d, "c") == 1
        jr = project_of(w, p).jobs.runs("mark")
        lost = [r for r in jr if r["task"] == "b" and r["state"] == "failed"]
        assert len(lost) == 1 and "server stopped" in lost[0]["message"]
        assert len(jr) == 4
    finally:
        stop_checked(srv)


def test_restart_without_retries_fails_the_lost_task(tmp_path):
    srv = start_jobs_server(tmp_path / "home")
    d = tmp_path / "marks"
    d.mkdir()
    try:
        w = World(srv)
        p = setup_project(w)
        pl = project_of(w, p).pipelines
        pl.create({"name": "once", "tasks": [mark("x", d, gate=d / "gate"), mark("y", d, ["x"])]})
        run = pl.run("once")
        wait_file(d / "x.pid")
        srv.kill9()
        srv.start()
        run = wait_prun(project_of(w, p).pipelines, "once", run["id"])
        assert run["state"] == "failed"
        assert task(run, "x")["state"] == "failed" and "lost" in task(run, "x")["message"]
        assert task(run, "y")["state"] == "upstream_failed"
    finally:
        stop_checked(srv)


# --- webhook ------------------------------------------------------------------------------------------------


def test_webhook_on_failure(jworld, tmp_path):
    hook = Hook()
    try:
        p = setup_project(jworld)
        pl = project_of(jworld, p).pipelines
        pl.create({"name": "hooked", "notify": {"webhook": hook.url}, "tasks": [mark("t", tmp_path)]})
        ok = wait_prun(pl, "hooked", pl.run("hooked")["id"])
        assert ok["state"] == "succeeded" and ok["notified"] is None
        (tmp_path / "t.exit").write_text("2")
        bad = wait_prun(pl, "hooked", pl.run("hooked")["id"])
        assert bad["state"] == "failed"
        poll(lambda: hook.bodies)
        assert len(hook.bodies) == 1  # the successful run sent nothing
        body = hook.bodies[0]
        assert body["path"] == "/hook" and body["type"] == "application/json"
        j = body["json"]
        assert j["event"] == "pipeline_run_failed" and j["project"] == p and j["pipeline"] == "hooked"
        assert j["run"] == bad["id"] and j["state"] == "failed" and j["failed_tasks"] == ["t"]
        assert j["tasks"] == [{"name": "t", "state": "failed", "attempts": 1, "message": "exited with code 2"}]
        assert j["url"].endswith("/api/v1/projects/%s/pipelines/hooked/runs/%d" % (p, bad["id"]))
        assert poll(lambda: pl.get_run("hooked", bad["id"])["notified"]) == "HTTP 200"
    finally:
        hook.close()
    # A webhook that cannot be reached: the run records why.
    pl.create({"name": "deaf", "notify": {"webhook": hook.url}, "tasks": [mark("t", tmp_path)]})
    run = wait_prun(pl, "deaf", pl.run("deaf")["id"])
    assert poll(lambda: pl.get_run("deaf", run["id"])["notified"]).startswith("failed: ")


# --- bad specs ----------------------------------------------------------------------------------------------------


def test_bad_specs_are_refused_naming_the_task(jworld):
    p = setup_project(jworld)
    api, key = jworld.api, jworld.alice.key
    y = {"Content-Type": "application/yaml"}
    cases = [
        ("name: p\ntasks:\n  - {name: a, type: job, job: mark, depends_on: [b]}\n"
         "  - {name: b, type: job, job: mark, depends_on: [a]}\n",
         'task "a": depends_on forms a cycle: a -> b -> a (each task depends on the next)'),
        ("name: p\ntasks:\n  - {name: a, type: job, job: mark, depends_on: [ghost]}\n",
         'task "a": depends_on names unknown task "ghost"'),
        ("name: p\nschedule: '0 25 * * *'\ntasks:\n  - {name: a, type: job, job: mark}\n",
         'field "schedule": cron field 2 (hour): 25 is out of range 0-23'),
        ("name: p\ntasks:\n  - {name: a, type: spark, job: mark}\n",
         'task "a": unknown task type "spark" (known: job, sensor, featuregroup_insert, trainingdata, experiment, '
         'register_best_model, deploy)'),
        ("name: p\ntasks:\n  - {name: a, type: job, job: nojob}\n",
         'task "a": job "nojob" does not exist in project "%s"' % p),
        ("name: p\ntasks:\n  - {name: a, type: job, job: mark, retries: 99}\n",
         'task "a": field "retries" is 99; it must be between 0 and 20'),
        ("name: p\ntasks:\n  - {name: a, type: sensor}\n", 'task "a": field "path" is required'),
        ("name: p\ntasks:\n  - {name: a, type: job, job: mark, depend_on: [x]}\n", 'task "a": unknown field "depend_on"'),
        ("name: p\nnotify: {webhook: 'file:///etc/passwd'}\ntasks:\n  - {name: a, type: job, job: mark}\n",
         'notify: field "webhook" must be an http:// or https:// URL'),
        ("name: p\ntasks: [\n", "YAML line 3, column 1"),
        ('{"name": "p", "tasks": [', "line 1"),
    ]
    for body, msg in cases:
        err = assert_error(api.call("POST", "/projects/%s/pipelines" % p, key, data=body.encode(), headers=y), 400)
        assert msg in err["message"], (body, err)
    assert api.get("/projects/%s/pipelines" % p, key).json()["items"] == []
    # PUT must name the pipeline of the path; existing names conflict.
    pl = project_of(jworld, p).pipelines
    pl.create("name: p\ntasks:\n  - {name: a, type: job, job: mark}\n")
    err = assert_error(api.call("POST", "/projects/%s/pipelines" % p, key,
                                data=b"name: p\ntasks: [{name: a, type: job, job: mark}]", headers=y), 409)
    assert err["message"] == 'pipeline "p" already exists in project "%s"' % p
    err = assert_error(api.call("PUT", "/projects/%s/pipelines/q" % p, key,
                                data=b"name: p\ntasks: [{name: a, type: job, job: mark}]", headers=y), 400)
    assert "the pipeline named in the path" in err["message"]
    assert_error(api.call("POST", "/projects/%s/pipelines/p/runs" % p, key, json={"x": 1}), 400)
    assert pl.runs("p") == []
    assert_error(api.get("/projects/%s/pipelines/p/runs/99999" % p, key), 404)
    assert_error(api.call("POST", "/projects/%s/pipelines/nope/runs" % p, key), 404)
    err = assert_error(api.call("POST", "/projects/%s/pipelines/p/runs/1/rerun" % p, key), (400, 404))
    # A schedule is shown with its next time; replacing without it removes it.
    s = pl.create("name: p\nschedule: '@daily'\ntasks:\n  - {name: a, type: job, job: mark}\n", replace=True)
    assert s["schedule"] == "@daily" and s["next_run"].endswith("T00:00:00Z")


# --- permissions ---------------------------------------------------------------------------------------------------

SIMPLE = "name: pp\ntasks:\n  - {name: a, type: sensor, path: Resources/x, timeout_s: 1, poke_interval_s: 1}\n"


def _with_pipeline(world, p):
    project_of(world, p).pipelines.create(SIMPLE)
    return {}


def _with_run(world, p):
    pl = project_of(world, p).pipelines
    pl.create(SIMPLE)
    return {"id": str(wait_prun(pl, "pp", pl.run("pp")["id"])["id"])}


def _with_running(world, p):
    pl = project_of(world, p).pipelines
    pl.create("name: pp\ntasks:\n  - {name: a, type: sensor, path: Resources/never, poke_interval_s: 1}\n")
    return {"id": str(pl.run("pp")["id"])}


@pytest.mark.parametrize("role", ("data_owner", "data_scientist", "non_member", "no_key"))
def test_permission_matrix(jworld, role):
    y = {"Content-Type": "application/yaml"}

    def none_new(ctx):
        assert project_of(jworld, ctx["p"]).pipelines.list() == []

    run_matrix(jworld, role, "POST", "/projects/{p}/pipelines", expect_member(201), data=SIMPLE.encode(), headers=y,
               refused=none_new)
    run_matrix(jworld, role, "PUT", "/projects/{p}/pipelines/pp", expect_member(201), data=SIMPLE.encode(), headers=y,
               refused=none_new)
    run_matrix(jworld, role, "GET", "/projects/{p}/pipelines", expect_member(200), setup=_with_pipeline)
    run_matrix(jworld, role, "GET", "/projects/{p}/pipelines/pp", expect_member(200), setup=_with_pipeline)

    def kept(ctx):
        assert project_of(jworld, ctx["p"]).pipelines.get("pp")["name"] == "pp"

    run_matrix(jworld, role, "DELETE", "/projects/{p}/pipelines/pp", expect_member(204), setup=_with_pipeline,
               refused=kept)

    def no_runs(ctx):
        assert project_of(jworld, ctx["p"]).pipelines.runs("pp") == []

    run_matrix(jworld, role, "POST", "/projects/{p}/pipelines/pp/runs", expect_member(201), setup=_with_pipeline,
               refused=no_runs)
    run_matrix(jworld, role, "GET", "/projects/{p}/pipelines/pp/runs", expect_member(200), setup=_with_run)
    run_matrix(jworld, role, "GET", "/projects/{p}/pipelines/pp/runs/{id}", expect_member(200), setup=_with_run)

    def not_rerun(ctx):
        run = project_of(jworld, ctx["p"]).pipelines.get_run("pp", ctx["id"])
        assert run["state"] == "failed" and task(run, "a")["attempts"] == 1

    run_matrix(jworld, role, "POST", "/projects/{p}/pipelines/pp/runs/{id}/rerun?from=a", expect_member(200),
               setup=_with_run, refused=not_rerun)

    def still_running(ctx):
        pl = project_of(jworld, ctx["p"]).pipelines
        assert pl.get_run("pp", ctx["id"])["state"] == "running"
        pl.stop("pp", ctx["id"])

    def stopped(ctx, r):
        assert wait_prun(project_of(jworld, ctx["p"]).pipelines, "pp", ctx["id"])["state"] == "killed"

    run_matrix(jworld, role, "POST", "/projects/{p}/pipelines/pp/runs/{id}/stop", expect_member(202),
               setup=_with_running, refused=still_running, done=stopped)


# --- the CLI and the Python client --------------------------------------------------------------------------------


def test_cli_pipeline_commands(jworld, tmp_path):
    srv, key = jworld.server, jworld.alice.key
    p = setup_project(jworld)
    f = tmp_path / "pipe.yaml"
    (tmp_path / "second.exit").write_text("4")
    f.write_text("""# a small pipeline
name: clipipe
tasks:
  - name: first
    type: job
    job: mark
    args: [%(d)s, first, "-"]
  - name: second
    type: job
    job: mark
    args: [%(d)s, second, "-", first]
    depends_on: [first]
""" % {"d": json.dumps(str(tmp_path))})
    r = cli(srv, key, "pipeline", "create", p, str(f))
    assert r.returncode == 0 and r.stdout == "created pipeline clipipe in %s (2 tasks)\n" % p, r
    r = cli(srv, key, "pipeline", "create", p, str(f))
    assert r.returncode == 1 and "already exists" in r.stderr
    r = cli(srv, key, "pipeline", "list", p)
    assert r.returncode == 0 and "clipipe" in r.stdout
    r = cli(srv, key, "pipeline", "show", "%s/clipipe" % p)
    assert r.returncode == 0 and r.stdout.splitlines()[1].split()[:3] == ["TASK", "TYPE", "DEPENDS"]
    # run FILE --follow: one line per change (not a terminal); exit 1 because second fails.
    r = cli(srv, key, "pipeline", "run", p, str(f), "--follow")
    assert r.returncode == 1, r
    lines = r.stdout.splitlines()
    assert lines[0].startswith("pipeline clipipe, run ")
    assert "task first: succeeded" in lines and "task second: failed: exited with code 4" in lines, r.stdout
    assert "failed" in r.stderr
    rid = int(lines[0].split()[-1])
    r = cli(srv, key, "pipeline", "show", "%s/clipipe" % p, str(rid))
    assert r.returncode == 0 and "upstream" not in r.stdout and "exited with code 4" in r.stdout
    r = cli(srv, key, "--json", "pipeline", "show", "%s/clipipe" % p, str(rid))
    assert json.loads(r.stdout)["state"] == "failed"
    r = cli(srv, key, "pipeline", "runs", "%s/clipipe" % p)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2
    # rerun --from after fixing the cause.
    (tmp_path / "second.exit").unlink()
    r = cli(srv, key, "pipeline", "rerun", "%s/clipipe" % p, str(rid), "--from", "second", "--follow")
    assert r.returncode == 0 and "task second: succeeded" in r.stdout, r
    assert counts(tmp_path, "first") == 1 and counts(tmp_path, "second") == 2
    r = cli(srv, key, "pipeline", "rerun", "%s/clipipe" % p, str(rid))
    assert r.returncode == 2 and "--from" in r.stderr
    # stop.
    g = tmp_path / "wait.yaml"
    g.write_text("name: waiter\ntasks:\n  - {name: w, type: sensor, path: Resources/never, poke_interval_s: 1}\n")
    r = cli(srv, key, "--json", "pipeline", "run", p, str(g))
    wid = json.loads(r.stdout)["id"]
    r = cli(srv, key, "pipeline", "stop", "%s/waiter" % p, str(wid))
    assert r.returncode == 0 and r.stdout == "run %d of pipeline waiter: killed\n" % wid, r
    r = cli(srv, key, "pipeline", "delete", "%s/waiter" % p)
    assert r.returncode == 0
    # A bad file is refused locally (syntax) or by the server (naming the task).
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\ntasks:\n  - {name: a, type: job, job: mark, depends_on: [zz]}\n")
    r = cli(srv, key, "pipeline", "create", p, str(bad))
    assert r.returncode == 1 and 'task "a": depends_on names unknown task "zz"' in r.stderr
    bad.write_text("name: b\ntasks: [\n")
    r = cli(srv, key, "pipeline", "create", p, str(bad))
    assert r.returncode == 1 and "YAML line 3" in r.stderr
    r = cli(srv, jworld.carol.key, "pipeline", "list", p)
    assert r.returncode == 1


def test_cli_follow_on_a_terminal_redraws(jworld, tmp_path):
    import os
    import pty
    import select
    srv, key = jworld.server, jworld.alice.key
    p = setup_project(jworld)
    project_of(jworld, p).pipelines.create({"name": "tty", "tasks": [mark("one", tmp_path)]})
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(OAST_ADDR=srv.addr, OAST_API_KEY=key, OAST_CONFIG="/dev/null")
        os.execv(os.environ.get("OAST_BIN") or str(Path(__file__).resolve().parents[2] / "build" / "oast"),
                 ["oast", "pipeline", "run", "%s/tty" % p, "--follow"])
    out = b""
    while True:
        r, _, _ = select.select([fd], [], [], 60)
        if not r:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    text = out.decode("utf-8", "replace")
    assert os.WEXITSTATUS(status) == 0, text
    assert "TASK" in text and "STATE" in text and "succeeded" in text


def test_python_client_pipelines(jworld, tmp_path):
    p = setup_project(jworld)
    pl = project_of(jworld, p, jworld.bob).pipelines  # a data scientist runs pipelines too
    pl.create({"name": "py", "tasks": [mark("x", tmp_path)]})
    run = pl.run("py", wait=True, timeout=60)
    assert run.state == "succeeded" and run.tasks[0].name == "x" and run.tasks[0].attempts == 1
    assert pl.get("py")["owner"] == "bob"
    assert project_of(jworld, p).jobs.get_run("mark", run.tasks[0].job_run)["user"] == "bob"
    assert [r.id for r in pl.runs("py")] == [run.id]
