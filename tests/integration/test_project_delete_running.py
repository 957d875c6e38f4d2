"""Deleting a project ends everything it still runs: job runs, pipeline
runs and experiments are stopped (their processes killed), nothing of the
project comes back after a restart, and the server goes on serving the
other projects."""

import oast
from exptest import PRELUDE, body, create, detail
from jobstest import MARK_SH, alive, jserver, jworld, poll, project_of, put_file, wait_pid, wait_run  # noqa: F401
from oasttest import assert_status, wait_until


def _running_work(jworld, p, tmp_path):
    """Starts a job run, a pipeline run and an experiment in p; returns their process ids."""
    proj = project_of(jworld, p)
    put_file(jworld, p, "Resources/mark.sh", MARK_SH)
    proj.jobs.create("wait", "shell", "Resources/mark.sh", args=[str(tmp_path), "job", str(tmp_path / "never")])
    run = proj.jobs.run("wait")
    proj.jobs.create("step", "shell", "Resources/mark.sh", args=[str(tmp_path), "task", str(tmp_path / "never")])
    proj.pipelines.create("name: pl\ntasks:\n  - {name: t, type: job, job: step}\n")
    prun = proj.pipelines.run("pl")
    src = PRELUDE + "open(os.path.join(%r, 'trial.pid'), 'w').write('%%d\\n' %% os.getpid())\ntime.sleep(1000)\n" % (
        str(tmp_path))
    eid = create(jworld.api, jworld.alice.key, p, body("sleeps", src))["id"]
    pids = [wait_pid(tmp_path / name) for name in ("job.pid", "task.pid", "trial.pid")]
    poll(lambda: proj.jobs.get_run("wait", run["id"])["state"] == "running")
    poll(lambda: detail(jworld.api, jworld.alice.key, p, eid)["counts"]["running"] == 1)
    return pids


def test_deleting_a_project_stops_its_runs(jworld, tmp_path):
    p = jworld.new_project("busy")
    other = jworld.new_project("bystander")
    put_file(jworld, other, "Resources/quick.sh", "echo still here\n")
    project_of(jworld, other).jobs.create("quick", "shell", "Resources/quick.sh")
    pids = _running_work(jworld, p, tmp_path)
    assert all(alive(pid) for pid in pids)

    project_of(jworld, p).delete()

    assert wait_until(lambda: not any(alive(pid) for pid in pids), 30), \
        "still running after the project was deleted: %r" % [pid for pid in pids if alive(pid)]
    assert_status(jworld.api.get("/projects/%s" % p, jworld.alice.key), 404)
    # the other project is untouched and the server keeps running work
    jobs = project_of(jworld, other).jobs
    done = wait_run(jobs, "quick", jobs.run("quick")["id"])
    assert done["state"] == "succeeded", done
    # a new project of the same name starts empty
    again = jworld.alice.conn.projects.create(p)
    assert again.jobs.list() == [] and again.pipelines.list() == []
    assert jworld.api.get("/projects/%s/experiments" % p, jworld.alice.key).json()["items"] == []
    # nothing the stopped runs did afterwards (logs, trial folders) came back into the new project's folder
    assert again.files.list("Logs") == [] and again.files.list("Experiments") == []


def test_a_deleted_projects_runs_do_not_come_back_after_a_restart(jserver, jworld, tmp_path):
    p = jworld.new_project("gone")
    pids = _running_work(jworld, p, tmp_path)
    project_of(jworld, p).delete()
    jserver.restart()
    assert wait_until(lambda: not any(alive(pid) for pid in pids), 30)
    conn = oast.connect(jserver.addr, jworld.alice.key)
    assert p not in [x.name for x in conn.projects.list()]
