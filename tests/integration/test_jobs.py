"""Jobs and job runs: program types, arguments and environment, exit
codes, timeouts and stop (whole process groups), logs (followed live),
the job token's confinement and role, the CLI and the Python client, bad
input, and the permission matrix of every route."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

import oast
from jobstest import (MARK_SH, alive, cli, jserver, jworld, poll, project_of, put_file, wait_file,  # noqa: F401
                      wait_pid, wait_run)
from oasttest import assert_error, assert_status, expect_member, run_matrix, stop_checked

PY_ENV = r"""
import json, os, sys
print("args", json.dumps(sys.argv[1:]))
print("env", json.dumps({k: v for k, v in os.environ.items() if k.startswith(("OAST_", "GREETING", "PYTHONPATH"))}))
print("cwd", os.getcwd())
sys.stderr.write("to stderr\n")
"""


def env_of(log):
    for line in log.splitlines():
        if line.startswith("env "):
            return json.loads(line[4:])
    raise AssertionError("no env line in %r" % log)


# --- types, arguments, environment, exit codes ---------------------------------------


def test_python_job_args_env_and_log(jworld):
    p = jworld.new_project("jpy")
    put_file(jworld, p, "Resources/env.py", PY_ENV)
    jobs = project_of(jworld, p).jobs
    job = jobs.create("envy", "python", "Resources/env.py", args=["a b", "--x=1"], env={"GREETING": "hi"})
    assert job["type"] == "python" and job["args"] == ["a b", "--x=1"] and job["owner"] == "alice"
    run = jobs.run("envy")
    assert run["state"] in ("queued", "running") and run["log"] == "Logs/jobs/envy/%d.log" % run["id"]
    run = wait_run(jobs, "envy", run["id"])
    assert run["state"] == "succeeded" and run["exit_code"] == 0 and run["user"] == "alice", run
    log = jobs.logs("envy", run["id"])
    assert 'args ["a b", "--x=1"]' in log and "to stderr" in log
    env = env_of(log)
    assert env["GREETING"] == "hi" and env["OAST_PROJECT"] == p and env["OAST_JOB"] == "envy"
    assert env["OAST_RUN_ID"] == str(run["id"]) and env["OAST_API_KEY"].startswith("ojt_")
    assert env["OAST_ADDR"] == jworld.server.addr and env["OAST_CONFIG"] == "/dev/null"
    assert "python" in env["PYTHONPATH"].split(":")[0]
    # The server's own OAST_* variables never reach a job.
    for k in os.environ:
        if k.startswith("OAST_") and k not in ("OAST_ADDR", "OAST_API_KEY", "OAST_CONFIG"):
            assert k not in env, k
    # The log is a file of the project's Logs dataset; members preview it through the files API.
    assert "to stderr" in project_of(jworld, p, jworld.bob).files.preview(run["log"], "head", 100)
    # Arguments given to a run replace the job's.
    run2 = wait_run(jobs, "envy", jobs.run("envy", args=["other"])["id"])
    assert 'args ["other"]' in jobs.logs("envy", run2["id"])
    assert [r["id"] for r in jobs.runs("envy")] == [run2["id"], run["id"]]


def test_shell_job_exit_codes(jworld):
    p = jworld.new_project("jsh")
    put_file(jworld, p, "Resources/exit.sh", 'echo "exiting $1"; exit "$1"\n')
    jobs = project_of(jworld, p).jobs
    jobs.create("ex", "shell", "Resources/exit.sh", args=["0"])
    ok = wait_run(jobs, "ex", jobs.run("ex")["id"])
    assert ok["state"] == "succeeded" and ok["exit_code"] == 0
    bad = wait_run(jobs, "ex", jobs.run("ex", args=["7"])["id"])
    assert bad["state"] == "failed" and bad["exit_code"] == 7 and bad["message"] == "exited with code 7"
    assert "exiting 7" in jobs.logs("ex", bad["id"])
    put_file(jworld, p, "Resources/kill.sh", "kill -9 $$\n")
    jobs.create("kl", "shell", "Resources/kill.sh")
    k = wait_run(jobs, "kl", jobs.run("kl")["id"])
    assert k["state"] == "failed" and k["signal"] == 9 and "signal 9" in k["message"]


def test_notebook_job_runs_code_cells_in_order(jworld):
    p = jworld.new_project("jnb")
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# A notebook\n", "print('never')"]},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "outputs": [],
         "source": ["x = 20\n", "print('cell one', x)"]},
        {"cell_type": "code", "metadata": {}, "execution_count": 2, "outputs": [{"output_type": "stream"}],
         "source": "%matplotlib inline\nimport sys\nprint('cell two', x + 1, sys.argv[1:])"},
    ]}
    put_file(jworld, p, "Jupyter/analysis.ipynb", json.dumps(nb))
    jobs = project_of(jworld, p).jobs
    jobs.create("nb", "notebook", "Jupyter/analysis.ipynb", args=["z"])
    run = wait_run(jobs, "nb", jobs.run("nb")["id"])
    assert run["state"] == "succeeded", (run, jobs.logs("nb", run["id"]))
    assert jobs.logs("nb", run["id"]).splitlines() == ["cell one 20", "cell two 21 ['z']"]
    # A notebook that is not one fails its run with the reason.
    put_file(jworld, p, "Jupyter/bad.ipynb", "{not json")
    jobs.create("nb2", "notebook", "Jupyter/bad.ipynb")
    bad = wait_run(jobs, "nb2", jobs.run("nb2")["id"])
    assert bad["state"] == "failed" and "not valid JSON" in bad["message"], bad


def test_binary_jobs_script_and_compiled(jworld, tmp_path):
    p = jworld.new_project("jbin")
    put_file(jworld, p, "Resources/tool", "#!/bin/sh\necho \"tool $1\"\nexit 4\n")
    jobs = project_of(jworld, p).jobs
    jobs.create("tool", "binary", "Resources/tool", args=["x"])
    run = wait_run(jobs, "tool", jobs.run("tool")["id"])
    assert run["state"] == "failed" and run["exit_code"] == 4 and jobs.logs("tool", run["id"]) == "tool x\n"
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc:
        src = tmp_path / "hello.c"
        src.write_text('#include <stdio.h>\nint main(int c, char **v) { printf("compiled %s\\n", v[1]); return 0; }\n')
        subprocess.run([cc, "-o", str(tmp_path / "hello"), str(src)], check=True)
        put_file(jworld, p, "Resources/hello", (tmp_path / "hello").read_bytes())
        jobs.create("hello", "binary", "Resources/hello", args=["ok"])
        run = wait_run(jobs, "hello", jobs.run("hello")["id"])
        assert run["state"] == "succeeded" and jobs.logs("hello", run["id"]) == "compiled ok\n"
    # A file that is neither ELF nor #! is refused when the job is defined.
    put_file(jworld, p, "Resources/data.txt", "just text\n")
    with pytest.raises(oast.BadRequest) as ei:
        jobs.create("nope", "binary", "Resources/data.txt")
    assert 'job "nope": field "program"' in ei.value.message and "executable" in ei.value.message


# --- timeouts, stop, follow ------------------------------------------------------------


def test_timeout_kills_the_whole_group(jworld, tmp_path):
    p = jworld.new_project("jto")
    put_file(jworld, p, "Resources/slow.sh", 'sleep 300 & echo $! > "$1"; sleep 300\n')
    jobs = project_of(jworld, p).jobs
    jobs.create("slow", "shell", "Resources/slow.sh", args=[str(tmp_path / "child")], timeout_s=3)
    run = wait_run(jobs, "slow", jobs.run("slow")["id"])
    assert run["state"] == "failed" and run["timed_out"] is True and "timed out" in run["message"], run
    child = wait_pid(tmp_path / "child")
    poll(lambda: not alive(child), timeout=15)


def test_stop_kills_and_marks_killed(jworld, tmp_path):
    p = jworld.new_project("jstop")
    put_file(jworld, p, "Resources/mark.sh", MARK_SH)
    jobs = project_of(jworld, p).jobs
    jobs.create("wait", "shell", "Resources/mark.sh", args=[str(tmp_path), "w", str(tmp_path / "never")])
    run = jobs.run("wait")
    pid = wait_pid(tmp_path / "w.pid")
    poll(lambda: jobs.get_run("wait", run["id"])["state"] == "running")
    # A running job cannot be deleted.
    with pytest.raises(oast.Conflict):
        jobs.delete("wait")
    stopped = jobs.stop("wait", run["id"])
    assert stopped["state"] == "killed" and stopped["message"] == "stopped", stopped
    poll(lambda: not alive(pid), timeout=15)
    # Stopping it again is a conflict; the run stays killed.
    with pytest.raises(oast.Conflict) as ei:
        jobs.stop("wait", run["id"])
    assert "already ended (killed)" in ei.value.message
    jobs.delete("wait")
    with pytest.raises(oast.NotFound):
        jobs.get("wait")


def test_logs_follow_streams_while_running(jworld, tmp_path):
    p = jworld.new_project("jfol")
    put_file(jworld, p, "Resources/mark.sh", MARK_SH)
    jobs = project_of(jworld, p).jobs
    gate = tmp_path / "gate"
    jobs.create("f", "shell", "Resources/mark.sh", args=[str(tmp_path), "f", str(gate)])
    run = jobs.run("f")
    stream = jobs.follow_logs("f", run["id"])
    first = next(stream)
    assert first == "f attempt 1\n"
    # The first line arrived while the run still waits at its gate.
    assert jobs.get_run("f", run["id"])["state"] == "running"
    gate.touch()
    rest = "".join(stream)
    assert rest == "f done\n"
    assert wait_run(jobs, "f", run["id"])["state"] == "succeeded"
    # Following a finished run gives its log and ends.
    assert "".join(jobs.follow_logs("f", run["id"])) == "f attempt 1\nf done\n"
    # offset skips bytes already read.
    r = jworld.api.get("/projects/%s/jobs/f/runs/%d/logs?offset=11" % (p, run["id"]), jworld.alice.key)
    assert r.status == 200 and r.text == "\nf done\n"


def test_follow_ends_when_the_server_stops(tmp_path):
    from jobstest import start_jobs_server
    from oasttest import World
    srv = start_jobs_server(tmp_path / "home")
    try:
        w = World(srv)
        p = w.new_project("jsd")
        put_file(w, p, "Resources/mark.sh", MARK_SH)
        jobs = project_of(w, p).jobs
        jobs.create("f", "shell", "Resources/mark.sh", args=[str(tmp_path), "f", str(tmp_path / "never")])
        run = jobs.run("f")
        stream = jobs.follow_logs("f", run["id"])
        assert next(stream) == "f attempt 1\n"
        # A clean stop with a follower waiting: the stream ends and the server exits 0.
        assert srv.stop() == 0
        assert "".join(stream) == ""
        pid = wait_pid(tmp_path / "f.pid")
        poll(lambda: not alive(pid), timeout=15)
        # After the restart the interrupted run is failed, not left running.
        srv.start()
        run = project_of(w, p).jobs.get_run("f", run["id"])
        assert run["state"] == "failed" and "server stopped" in run["message"], run
    finally:
        stop_checked(srv)


# --- the job token ---------------------------------------------------------------------

PROBE = r"""
import json, os, sys, urllib.request, urllib.error
addr, key = os.environ["OAST_ADDR"], os.environ["OAST_API_KEY"]
out = {"token": key}
for name, path in [("own", "/projects/%s/datasets" % os.environ["OAST_PROJECT"]),
                   ("other", "/projects/%s/datasets" % sys.argv[1]),
                   ("users", "/users"),
                   ("raw", "/projects/%s/files/Resources/raw.csv" % os.environ["OAST_PROJECT"])]:
    req = urllib.request.Request(addr + "/api/v1" + path, headers={"Authorization": "Bearer " + key})
    try:
        with urllib.request.urlopen(req) as r:
            out[name] = r.status
    except urllib.error.HTTPError as e:
        out[name] = e.code
import oast
out["client"] = [p.name for p in oast.connect().projects.list()]
print(json.dumps(out))
"""


def test_job_token_is_confined_and_acts_with_the_users_role(jworld):
    p = jworld.new_project("jtok")
    other = jworld.new_project("jother")  # alice and bob are members of both
    put_file(jworld, p, "Resources/probe.py", PROBE)
    put_file(jworld, p, "Resources/raw.csv", "a,b\n1,2\n")
    jobs = project_of(jworld, p).jobs
    jobs.create("probe", "python", "Resources/probe.py", args=[other])
    results = {}
    for user in (jworld.alice, jworld.bob):
        ujobs = project_of(jworld, p, user).jobs
        run = wait_run(ujobs, "probe", ujobs.run("probe")["id"])
        assert run["state"] == "succeeded" and run["user"] == user.name, (run, ujobs.logs("probe", run["id"]))
        results[user.name] = json.loads(ujobs.logs("probe", run["id"]).splitlines()[-1])
    for name, got in results.items():
        assert got["own"] == 200, got
        assert got["other"] == 404, got     # another project's data: as if it did not exist
        assert got["users"] == 403, got     # routes outside the project: refused
        assert got["client"] == [p], got   # `import oast` works and sees only its project
    assert results["alice"]["raw"] == 200   # the data owner's job may download raw data
    assert results["bob"]["raw"] == 403     # a data scientist's job may not
    # The token is revoked when the run ends.
    for got in results.values():
        r = jworld.api.get("/projects/%s/datasets" % p, got["token"])
        assert_error(r, 401)


def test_runs_of_a_removed_member_fail(jworld):
    p = jworld.new_project("jrm")
    put_file(jworld, p, "Resources/exit.sh", "exit 0\n")
    bjobs = project_of(jworld, p, jworld.bob).jobs
    bjobs.create("e", "shell", "Resources/exit.sh", schedule="0 0 1 1 *")
    assert bjobs.get("e")["owner"] == "bob"
    project_of(jworld, p).members.remove("bob")
    # alice runs it fine; bob no longer can.
    ajobs = project_of(jworld, p).jobs
    assert wait_run(ajobs, "e", ajobs.run("e")["id"])["state"] == "succeeded"
    with pytest.raises(oast.NotFound):
        bjobs.run("e")


# --- schedules ----------------------------------------------------------------------------


def test_schedule_shows_next_run_and_bad_cron_is_refused(jworld):
    p = jworld.new_project("jcron")
    put_file(jworld, p, "Resources/exit.sh", "exit 0\n")
    jobs = project_of(jworld, p).jobs
    job = jobs.create("hourly", "shell", "Resources/exit.sh", schedule="0 * * * *")
    assert job["schedule"] == "0 * * * *"
    assert job["next_run"].endswith(":00:00Z"), job
    assert jobs.get("hourly")["next_run"] == job["next_run"]
    with pytest.raises(oast.BadRequest) as ei:
        jobs.create("bad", "shell", "Resources/exit.sh", schedule="61 * * * *")
    assert ei.value.message == 'job "bad": field "schedule": cron field 1 (minute): 61 is out of range 0-59'
    with pytest.raises(oast.NotFound):
        jobs.get("bad")
    # Replacing a job keeps its runs; dropping the schedule clears next_run.
    job = jobs.create("hourly", "shell", "Resources/exit.sh", replace=True)
    assert "schedule" not in job and job["next_run"] is None


# --- bad input -----------------------------------------------------------------------------


def test_bad_job_definitions_are_refused_and_change_nothing(jworld):
    p = jworld.new_project("jbad")
    put_file(jworld, p, "Resources/a.py", "print(1)\n")
    api, key = jworld.api, jworld.alice.key
    cases = [
        ({"name": "j", "type": "java", "program": "Resources/a.py"},
         'job "j": field "type" must be one of "python", "shell", "notebook", "binary"'),
        ({"name": "j", "type": "python", "program": "Resources/missing.py"},
         'job "j": field "program": "Resources/missing.py": the program file does not exist'),
        ({"name": "j", "type": "python", "program": "Nowhere/a.py"},
         'job "j": field "program": "Nowhere/a.py": dataset "Nowhere" does not exist in project "%s"' % p),
        ({"name": "j", "type": "python", "program": "Resources"},
         'job "j": field "program" must be a file inside a dataset, such as "Resources/Resources"'),
        ({"name": "j", "type": "python", "program": "Resources/a.py", "env": {"OAST_API_KEY": "x"}},
         'job "j": env name "OAST_API_KEY" is reserved: the platform sets OAST_* variables'),
        ({"name": "j", "type": "python", "program": "Resources/a.py", "args": [1]},
         'job "j": item 1 of "args" must be a string without NUL of at most 4096 bytes'),
        ({"name": "j", "type": "python", "program": "Resources/a.py", "cpus": 0},
         'job "j": field "cpus" is 0; it must be between 1 and 1024'),
        ({"name": "1j", "type": "python", "program": "Resources/a.py"}, None),
    ]
    for body, msg in cases:
        err = assert_error(api.call("POST", "/projects/%s/jobs" % p, key, json=body), 400)
        if msg:
            assert err["message"] == msg, (body, err)
    assert api.get("/projects/%s/jobs" % p, key).json()["items"] == []
    assert_error(api.call("POST", "/projects/%s/jobs" % p, key, data=b"{nope",
                          headers={"Content-Type": "application/json"}), 400)
    # A job asking for more CPUs than the server has fails its run with the reason.
    jobs = project_of(jworld, p).jobs
    jobs.create("big", "python", "Resources/a.py", cpus=1000)
    run = wait_run(jobs, "big", jobs.run("big")["id"])
    assert run["state"] == "failed" and "CPU" in run["message"], run
    # Existing names, PUT with another name, bad run bodies, unknown runs.
    jobs.create("ok", "python", "Resources/a.py")
    err = assert_error(api.call("POST", "/projects/%s/jobs" % p, key,
                                json={"name": "ok", "type": "python", "program": "Resources/a.py"}), 409)
    assert err["message"] == 'job "ok" already exists in project "%s"' % p
    err = assert_error(api.call("PUT", "/projects/%s/jobs/ok" % p, key,
                                json={"name": "other", "type": "python", "program": "Resources/a.py"}), 400)
    assert "the job named in the path" in err["message"]
    err = assert_error(api.call("POST", "/projects/%s/jobs/ok/runs" % p, key, json={"args": "x"}), 400)
    assert err["message"] == 'field "args" must be an array of at most 256 strings'
    err = assert_error(api.call("POST", "/projects/%s/jobs/ok/runs" % p, key, json={"argv": []}), 400)
    assert "argv" in err["message"]
    assert jobs.runs("ok") == []
    assert_error(api.call("POST", "/projects/%s/jobs/nojob/runs" % p, key), 404)
    assert_error(api.get("/projects/%s/jobs/ok/runs/999999" % p, key), 404)
    assert_error(api.get("/projects/%s/jobs/ok/runs/abc" % p, key), 404)
    assert_error(api.get("/projects/%s/jobs/ok/runs?limit=0" % p, key), 400)
    run = wait_run(jobs, "ok", jobs.run("ok")["id"])
    err = assert_error(api.get("/projects/%s/jobs/ok/runs/%d/logs?follow=maybe" % (p, run["id"]), key), 400)
    assert err["message"] == "follow: must be true or false"
    # A run id of another job is not found under this one.
    jobs.create("ok2", "python", "Resources/a.py")
    assert_error(api.get("/projects/%s/jobs/ok2/runs/%d" % (p, run["id"]), key), 404)


# --- permissions ------------------------------------------------------------------------


def _with_job(world, p):
    put_file(world, p, "Resources/a.sh", "echo hi\n")
    project_of(world, p).jobs.create("j", "shell", "Resources/a.sh")
    return {}


def _with_run(world, p):
    _with_job(world, p)
    jobs = project_of(world, p).jobs
    return {"id": str(wait_run(jobs, "j", jobs.run("j")["id"])["id"])}


def _with_running(world, p):
    put_file(world, p, "Resources/w.sh", "while [ ! -e \"$1\" ]; do sleep 0.05; done\n")
    jobs = project_of(world, p).jobs
    gate = "/tmp/oast-never-%s" % p
    jobs.create("j", "shell", "Resources/w.sh", args=[gate])
    return {"id": str(jobs.run("j")["id"])}


ROLES = ("data_owner", "data_scientist", "non_member", "no_key")


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(jworld, role):
    def job_body(ctx):
        put_file(jworld, ctx["p"], "Resources/b.sh", "echo b\n")
        return {"name": "k", "type": "shell", "program": "Resources/b.sh"}

    def no_new_job(ctx):
        names = [j["name"] for j in project_of(jworld, ctx["p"]).jobs.list()]
        assert "k" not in names

    run_matrix(jworld, role, "POST", "/projects/{p}/jobs", expect_member(201), json=job_body, refused=no_new_job)
    run_matrix(jworld, role, "PUT", "/projects/{p}/jobs/k", expect_member((200, 201)), json=job_body,
               refused=no_new_job)
    run_matrix(jworld, role, "GET", "/projects/{p}/jobs", expect_member(200), setup=_with_job)
    run_matrix(jworld, role, "GET", "/projects/{p}/jobs/j", expect_member(200), setup=_with_job)

    def job_kept(ctx):
        assert project_of(jworld, ctx["p"]).jobs.get("j")["name"] == "j"

    run_matrix(jworld, role, "DELETE", "/projects/{p}/jobs/j", expect_member(204), setup=_with_job, refused=job_kept)

    def no_runs(ctx):
        assert project_of(jworld, ctx["p"]).jobs.runs("j") == []

    def ran(ctx, r):
        run = wait_run(project_of(jworld, ctx["p"]).jobs, "j", r.json()["id"])
        assert run["state"] == "succeeded"

    run_matrix(jworld, role, "POST", "/projects/{p}/jobs/j/runs", expect_member(201), setup=_with_job,
               refused=no_runs, done=ran)
    run_matrix(jworld, role, "GET", "/projects/{p}/jobs/j/runs", expect_member(200), setup=_with_run)
    run_matrix(jworld, role, "GET", "/projects/{p}/jobs/j/runs/{id}", expect_member(200), setup=_with_run)
    r = run_matrix(jworld, role, "GET", "/projects/{p}/jobs/j/runs/{id}/logs", expect_member(200), setup=_with_run)
    if r.status == 200:
        assert r.text == "hi\n"

    def still_running(ctx):
        assert project_of(jworld, ctx["p"]).jobs.get_run("j", ctx["id"])["state"] in ("queued", "running")
        project_of(jworld, ctx["p"]).jobs.stop("j", ctx["id"])

    def was_stopped(ctx, r):
        assert wait_run(project_of(jworld, ctx["p"]).jobs, "j", ctx["id"])["state"] == "killed"

    run_matrix(jworld, role, "POST", "/projects/{p}/jobs/j/runs/{id}/stop", expect_member(202), setup=_with_running,
               refused=still_running, done=was_stopped)


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_job_commands(jworld, tmp_path):
    srv = jworld.server
    p = jworld.new_project("jcli")
    put_file(jworld, p, "Resources/mark.sh", MARK_SH)
    put_file(jworld, p, "Resources/exit.sh", 'echo "exit $1"; exit "$1"\n')
    key = jworld.alice.key
    r = cli(srv, key, "job", "create", "%s/ex" % p, "--type", "shell", "--program", "Resources/exit.sh",
            "--timeout", "60", "--env", "A=1,B=two", "--", "0")
    assert r.returncode == 0 and r.stdout == "created job ex in %s\n" % p, r
    job = project_of(jworld, p).jobs.get("ex")
    assert job["env"] == {"A": "1", "B": "two"} and job["args"] == ["0"] and job["timeout_s"] == 60
    r = cli(srv, key, "job", "list", p)
    assert r.returncode == 0 and r.stdout.splitlines()[0].split()[:3] == ["NAME", "TYPE", "PROGRAM"]
    assert "Resources/exit.sh" in r.stdout
    r = cli(srv, key, "job", "show", "%s/ex" % p)
    assert r.returncode == 0 and "program:" in r.stdout and "Resources/exit.sh" in r.stdout
    # run --follow: the log on stdout, the outcome on stderr, the exit status from the run.
    r = cli(srv, key, "job", "run", "%s/ex" % p, "--follow")
    assert r.returncode == 0 and r.stdout == "exit 0\n" and "succeeded" in r.stderr, r
    r = cli(srv, key, "job", "run", "%s/ex" % p, "--follow", "--", "5")
    assert r.returncode == 1 and r.stdout == "exit 5\n" and "failed: exited with code 5" in r.stderr, r
    r = cli(srv, key, "--json", "job", "run", "%s/ex" % p)
    assert r.returncode == 0
    rid = json.loads(r.stdout)["id"]
    wait_run(project_of(jworld, p).jobs, "ex", rid)
    r = cli(srv, key, "job", "logs", "%s/ex" % p, str(rid))
    assert r.returncode == 0 and r.stdout == "exit 0\n"
    r = cli(srv, key, "job", "runs", "%s/ex" % p)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 4 and "exited with code 5" in r.stdout
    # stop waits for the run to end.
    cli(srv, key, "job", "create", "%s/w" % p, "--type", "shell", "--program", "Resources/mark.sh", "--",
        str(tmp_path), "w", str(tmp_path / "never"))
    r = cli(srv, key, "--json", "job", "run", "%s/w" % p)
    wid = json.loads(r.stdout)["id"]
    wait_file(tmp_path / "w.pid")
    r = cli(srv, key, "job", "stop", "%s/w" % p, str(wid))
    assert r.returncode == 0 and r.stdout == "run %d of job w: killed\n" % wid, r
    # logs -f of a finished run prints it and ends.
    r = cli(srv, key, "job", "logs", "%s/w" % p, str(wid), "-f")
    assert r.returncode == 0 and r.stdout == "w attempt 1\n"
    r = cli(srv, key, "job", "delete", "%s/w" % p)
    assert r.returncode == 0 and r.stdout == "deleted job w\n"
    # Errors: the server's message and exit 1; usage errors exit 2.
    r = cli(srv, key, "job", "create", "%s/bad" % p, "--type", "python", "--program", "Resources/none.py")
    assert r.returncode == 1 and 'job "bad": field "program"' in r.stderr
    r = cli(srv, key, "job", "create", "%s/bad" % p, "--type", "python")
    assert r.returncode == 2 and "--program" in r.stderr
    r = cli(srv, key, "job", "logs", "%s/ex" % p, "abc")
    assert r.returncode == 2
    r = cli(srv, jworld.carol.key, "job", "list", p)
    assert r.returncode == 1 and "not found" in r.stderr
    r = cli(srv, key, "job", "--help")
    assert r.returncode == 0 and "create" in r.stdout and "logs" in r.stdout


def test_python_client_follow_and_module_functions(jworld):
    p = jworld.new_project("jpyc")
    put_file(jworld, p, "Resources/hi.py", "print('hello')\nprint('world')\n")
    proj = project_of(jworld, p)
    from oast import jobs as jobsmod
    jobsmod.create_job(proj, "hi", "python", "Resources/hi.py")
    import io
    out = io.StringIO()
    run = jobsmod.run_job(proj, "hi", follow=True, out=out)
    assert run["state"] == "succeeded" and out.getvalue() == "hello\nworld\n"
    assert jobsmod.get_run(proj, "hi", run["id"])["exit_code"] == 0
