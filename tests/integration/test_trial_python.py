"""Trials of Python programs run with the server's Python, the one jobs
run with ($OAST_JOB_PYTHON, else /usr/bin/python3), not with the first
python3 on the server's PATH: a machine whose PATH starts with another
Python (a virtualenv, pyenv) must still find the Debian python3-*
packages in its trials, as `make demo`'s XGBoost trials do.

The server runs with a PATH whose first python3 is a fake that fails;
a .py program and a command starting with "python3" must both run with
/usr/bin/python3. With OAST_JOB_PYTHON naming the fake, they fail.
"""

import os
import time

import pytest

from oasttest import Server, World, stop_checked

TRIAL = (b"import sys\nfrom oast.experiment import Reporter\n"
         b"print('python', sys.executable)\nReporter().final(1.0)\n")


def fake_python(tmp_path):
    """A directory whose python3 says so and fails."""
    d = tmp_path / "fakebin"
    d.mkdir()
    f = d / "python3"
    f.write_text("#!/bin/sh\necho 'the fake python3 from PATH' >&2\nexit 7\n")
    f.chmod(0o755)
    return d


def start_server(tmp_path, monkeypatch, job_python=None):
    """A server whose PATH starts with the fake python3 (and OAST_JOB_PYTHON set when asked)."""
    fake = fake_python(tmp_path)
    with monkeypatch.context() as m:
        m.setenv("PATH", "%s:%s" % (fake, os.environ["PATH"]))
        if job_python:
            m.setenv("OAST_JOB_PYTHON", str(fake / "python3"))
        return Server(tmp_path / "home").start()


def run_experiment(proj, body):
    x = proj.experiments.create(dict(body, name="py"))
    deadline = time.monotonic() + 120
    while x["state"] == "running":
        assert time.monotonic() < deadline, x
        time.sleep(0.05)
        x = proj.experiments.get(x["id"])
    return x


def project_with_trial(srv):
    world = World(srv)
    proj = world.alice.conn.projects.get(world.new_project("pyexp"))
    proj.files.upload(TRIAL, "Resources/trial.py")
    return proj


@pytest.mark.skipif(not os.access("/usr/bin/python3", os.X_OK), reason="no /usr/bin/python3")
def test_trials_use_the_servers_python_not_the_first_on_path(tmp_path, monkeypatch):
    srv = start_server(tmp_path, monkeypatch)
    try:
        proj = project_with_trial(srv)
        # A .py program of the project, and "python3" with the program among the experiment's files.
        for body in ({"command": ["Resources/trial.py"]},
                     {"command": ["python3", "trial.py"], "resources_paths": ["Resources/trial.py"]}):
            x = run_experiment(proj, body)
            t = x["trials"][0]
            assert x["state"] == "finished" and t["state"] == "finished", (body, t)
            log = proj.files.preview("Experiments/%d/trial_0/output.log" % x["id"], "head", 5)
            assert "python /usr/bin/python3" in log, (body, log)
    finally:
        stop_checked(srv)


def test_oast_job_python_names_the_trials_python(tmp_path, monkeypatch):
    srv = start_server(tmp_path, monkeypatch, job_python=True)
    try:
        proj = project_with_trial(srv)
        x = run_experiment(proj, {"command": ["Resources/trial.py"]})
        t = x["trials"][0]
        assert x["state"] == "failed" and t["exit_code"] == 7, t
        assert "the fake python3 from PATH" in (t["log_tail"] or ""), t
    finally:
        stop_checked(srv)
