"""`make demo` end to end: scripts/demo.sh with the binary under test.

The demo starts its own server, runs examples/hopsml/pipeline.yaml (a
job, two feature group inserts, training data, an ASHA experiment,
register_best_model, deploy), sends predictions and prints where
everything is. The test runs it with OAST_DEMO_KEEP=1 so that the
server outlives the script, checks what it printed, then runs every
command of its closing "Explore with the CLI" list against that server
(they must all work as printed), and stops the server itself.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import time

import pytest

from oasttest import REPO, oast_bin

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def needs_ml_packages():
    probe = subprocess.run(["/usr/bin/python3", "-c", "import numpy, xgboost, sklearn.datasets"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip("the demo needs numpy, xgboost and scikit-learn for /usr/bin/python3 (scripts/install-deps)")


def explore_commands(out):
    """The OAST_CONFIG and the commands of the demo's closing list."""
    section = out[out.index("Explore with the CLI"):]
    config = re.search(r"export OAST_CONFIG=(\S+)", section).group(1)
    cmds = [shlex.split(line) for line in section.splitlines() if line.startswith("  " + oast_bin() + " ")]
    return config, cmds


def stop(pid, home):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    for _ in range(200):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    shutil.rmtree(home, ignore_errors=True)


def test_make_demo_runs_the_pipeline_and_predicts(tmp_path):
    needs_ml_packages()
    env = dict(os.environ, TMPDIR=str(tmp_path), OAST_DEMO_KEEP="1")
    for k in ("OAST_API_KEY", "OAST_ADDR", "OAST_CONFIG"):
        env.pop(k, None)
    # Into a file, not a pipe: the server the demo leaves running keeps its stdout open.
    log = tmp_path / "demo.out"
    with open(log, "w") as f:
        proc = subprocess.run([str(REPO / "scripts" / "demo.sh"), oast_bin()], cwd=str(tmp_path), env=env,
                              stdout=f, stderr=subprocess.STDOUT, timeout=900)
    out = ANSI.sub("", log.read_text())
    m = re.search(r"^server at \S+ \(pid (\d+)\)", out, re.M)
    homes = list(tmp_path.glob("oast-demo.*"))
    try:
        assert proc.returncode == 0, out[-6000:]
        assert m and len(homes) == 1, out[-3000:]
        assert "The server keeps running (pid %s)" % m.group(1) in out

        # Every task of the pipeline succeeded, and so did the run.
        for task in ("prepare", "ingest_mean", "ingest_worst", "training_data", "tune", "register", "deploy"):
            assert re.search(r"^task %s: succeeded" % task, out, re.M), out
        assert "pipeline hopsml run 1 succeeded" in out
        # The experiment's trials were shown live, with ASHA's promotions.
        assert re.search(r"^    \[trial \d+\] started with \{.*\"budget\":9", out, re.M), out
        assert re.search(r"^    \[experiment\] finished: best trial \d+, logloss", out, re.M), out
        # Both inserts were validated by strict suites and ingested.
        assert re.search(r"^\d+\s+\d+\s+\S+Z\s+yes\s+yes\s*$", out, re.M), out
        # A delivery that breaks the strict suite was refused whole, and the refusal is recorded.
        assert "nothing was written" in out and "failed: in_set on diagnosis (1 unexpected)" in out, out
        assert re.search(r"^\d+\s+-\s+\S+Z\s+no\s+no\s+worst_radius:between, diagnosis:in_set", out, re.M), out
        # The model and the deployment.
        assert re.search(r"^diagnosis\s+1\s+xgboost\s+\{\"logloss\":", out, re.M), out
        assert re.search(r"^diagnosis\s+running\s+diagnosis\s+1\s", out, re.M), out

        # Eight predictions beside the true diagnoses, four of each class, mostly right.
        rows = re.findall(r"^\s+(\d+)\s+(0\.\d{4}|1\.0000)\s+(benign|malignant)\s+(benign|malignant)", out, re.M)
        assert len(rows) == 8, out
        assert sorted(r[3] for r in rows) == ["benign"] * 4 + ["malignant"] * 4
        for _, p, predicted, _ in rows:
            assert predicted == ("benign" if float(p) >= 0.5 else "malignant")
        right = int(re.search(r"predictions: (\d) of 8 right", out).group(1))
        assert right == sum(r[2] == r[3] for r in rows) and right >= 6, out

        # Bob, a data scientist, was refused the model's files.
        assert "does not allow you to upload or download data" in out

        # Every command of the closing list works as printed.
        config, cmds = explore_commands(out)
        assert len(cmds) >= 8, out
        cenv = dict(env, OAST_CONFIG=config)
        for cmd in cmds:
            r = subprocess.run(cmd, env=cenv, capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, (cmd, r.stdout, r.stderr)
            if cmd[1:3] == ["deploy", "predict"]:
                assert '"predictions"' in r.stdout
    finally:
        if m:
            stop(int(m.group(1)), homes[0])


def test_demo_cleans_up_when_it_fails(tmp_path):
    """A demo that cannot run its server stops with an error and leaves nothing behind."""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    env.pop("OAST_DEMO_KEEP", None)
    fake = tmp_path / "bin" / "oast"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'no server here' >&2\nexit 3\n")
    fake.chmod(0o755)
    proc = subprocess.run([str(REPO / "scripts" / "demo.sh"), str(fake)], cwd=str(tmp_path), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert proc.returncode != 0, proc.stdout
    assert "Where everything is" not in proc.stdout
    assert not list(tmp_path.glob("oast-demo.*")), proc.stdout


@pytest.mark.parametrize("broken,failed_task", [("prepare.py", "prepare"), ("train.py", "tune")])
def test_demo_stops_at_a_failed_pipeline_and_cleans_up(tmp_path, broken, failed_task):
    """A pipeline task that fails ends the demo with an error after the run's states are shown; the
    server, its home and the demo's own background follower are gone."""
    needs_ml_packages()
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "scripts", repo / "scripts")
    shutil.copytree(REPO / "examples" / "hopsml", repo / "examples" / "hopsml")
    (repo / "examples" / "hopsml" / broken).write_text("import sys\nsys.exit('this fails on purpose')\n")
    env = dict(os.environ, TMPDIR=str(tmp_path))
    for k in ("OAST_DEMO_KEEP", "OAST_API_KEY", "OAST_ADDR", "OAST_CONFIG"):
        env.pop(k, None)
    log = tmp_path / "demo.out"
    with open(log, "w") as f:
        proc = subprocess.run([str(repo / "scripts" / "demo.sh"), oast_bin()], cwd=str(tmp_path), env=env,
                              stdout=f, stderr=subprocess.STDOUT, timeout=600)
    out = ANSI.sub("", log.read_text())
    assert proc.returncode != 0, out
    assert re.search(r"^task %s: failed" % failed_task, out, re.M), out
    assert re.search(r"^task deploy: upstream_failed", out, re.M), out
    assert re.search(r"^deploy\s+deploy\s+upstream_failed", out, re.M), out   # the run's table
    assert "demo: the pipeline failed" in out
    if failed_task == "tune":
        assert "    [experiment] failed: no trial has a metric" in out, out
    assert "Where everything is" not in out
    assert not list(tmp_path.glob("oast-demo.*")), out
    # Nothing the demo started is left running (the server, the experiment follower).
    time.sleep(1)
    left = []
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, PermissionError, NotADirectoryError):
            continue
        if str(tmp_path) in cmd:
            left.append((pid, cmd))
    assert not left, left
