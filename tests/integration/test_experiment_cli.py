"""`oast exp` against the real server: run (grid, random, ASHA with the C
example trial), list, show, logs -f, stop, and its errors."""

import json
import os
import re
import subprocess

import pytest

from exptest import build_c_trial, detail, wait_done, wait_for
from oasttest import oast_bin

TRIAL = """\
import json, os, sys
from oast.experiment import Reporter
p = json.loads(os.environ["OAST_PARAMS"])
r = Reporter()
lr = p.get("lr", 0.1)
for step in range(3):
    r.report(1 - abs(lr - 0.01) * (3 - step), step=step)
print("lr=%s opt=%s" % (lr, p.get("opt")))
if p.get("opt") == "bad":
    sys.exit(4)
r.final(1 - abs(lr - 0.01))
"""


def cli(world, user, *args, cwd=None, timeout=180):
    env = dict(os.environ, OAST_ADDR=world.server.addr, OAST_API_KEY=user.key, OAST_CONFIG="/dev/null")
    return subprocess.run([oast_bin(), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "train.py").write_text(TRIAL)
    return tmp_path


def test_run_grid_follows_the_log_and_shows_the_best(world, workdir):
    p = world.new_project("c")
    r = cli(world, world.bob, "exp", "run", p, "--grid", "lr=0.1,0.01", "--grid", "opt=adam,sgd", "--parallel", "2",
            "--metric", "acc", "--", "python3", "./train.py", cwd=workdir)
    assert r.returncode == 0, r
    eid = int(re.search(r"started experiment (\d+)", r.stdout).group(1))
    for n in range(4):
        assert "[trial %d] started with" % n in r.stdout
    assert "[trial 0] lr=0.1 opt=adam" in r.stdout
    assert re.search(r"best: trial [23], acc 1, params", r.stdout), r.stdout
    table = r.stdout.split("logdir: Experiments/%d\n" % eid)[1].splitlines()
    assert table[0].split() == ["TRIAL", "STATE", "METRIC", "PARAMS", "SECONDS", "NOTE"]
    assert [row.split()[1] for row in table[1:]] == ["finished"] * 4
    assert [float(row.split()[2]) for row in table[1:]] == [1, 1, pytest.approx(0.91), pytest.approx(0.91)]
    d = detail(world.api, world.alice.key, p, eid)
    assert d["name"] == "python3" and d["command"] == ["python3", "train.py"] and d["metric"] == "acc"
    assert {json.dumps(t["params"], sort_keys=True) for t in d["trials"]} == {
        json.dumps({"lr": lr, "opt": o}, sort_keys=True) for lr in (0.1, 0.01) for o in ("adam", "sgd")}
    # list, show, logs
    r = cli(world, world.alice, "exp", "list", p)
    assert r.returncode == 0 and r.stdout.splitlines()[0].split()[:5] == ["ID", "NAME", "STATE", "OPTIMIZER", "TRIALS"]
    assert r.stdout.splitlines()[1].split()[:5] == [str(eid), "python3", "finished", "grid", "4"]
    r = cli(world, world.alice, "exp", "show", p, str(eid))
    assert r.returncode == 0 and "experiment %d (python3): finished" % eid in r.stdout
    r = cli(world, world.alice, "exp", "show", p, str(eid), "--json")
    assert json.loads(r.stdout)["id"] == eid
    logs = cli(world, world.alice, "exp", "logs", p, str(eid))
    assert logs.returncode == 0 and logs.stdout == (world.server.project_dir(p) / "Experiments" / str(eid) /
                                                    "experiment.log").read_text()


def test_run_random_with_seed_and_a_failing_trial(world, workdir):
    p = world.new_project("c")
    r = cli(world, world.alice, "exp", "run", p, "--random", "lr=0.001:0.1:log", "--samples", "3", "--seed", "4",
            "--grid", "opt=bad", "-p", "2", "--name", "rnd", "--", "python3", "./train.py", cwd=workdir)
    assert r.returncode == 1, r  # every trial failed
    assert "experiment" in r.stdout and ": failed" in r.stdout and "exit code 4" in r.stdout
    eid = int(re.search(r"started experiment (\d+)", r.stdout).group(1))
    d = detail(world.api, world.alice.key, p, eid)
    assert d["optimizer"]["name"] == "random" and d["seed"] == 4 and len(d["trials"]) == 3
    assert all(0.001 <= t["params"]["lr"] <= 0.1 and t["state"] == "failed" for t in d["trials"])


def test_run_asha_with_the_c_trial(world, tmp_path):
    binary = build_c_trial(tmp_path)
    p = world.new_project("c")
    r = cli(world, world.alice, "exp", "run", p, "--random", "x=0.0:1.0", "--asha", "9:1:3", "--samples", "9",
            "-p", "2", "--seed", "1", "--", "./trial_curve", cwd=tmp_path)
    assert r.returncode == 0, r
    assert "rung 2, budget 9" in r.stdout
    eid = int(re.search(r"started experiment (\d+)", r.stdout).group(1))
    d = detail(world.api, world.alice.key, p, eid)
    assert d["optimizer"] == {"name": "asha", "max_resource": 9, "min_resource": 1, "reduction_factor": 3}
    assert (world.server.project_dir(p) / "Experiments" / str(eid) / "trial_curve").is_file()


def test_detach_follow_and_stop(world, tmp_path):
    (tmp_path / "slow.py").write_text("import time\nprint('working', flush=True)\ntime.sleep(1000)\n")
    p = world.new_project("c")
    r = cli(world, world.alice, "exp", "run", p, "-d", "--grid", "x=1,2,3", "-p", "2", "--", "./slow.py", cwd=tmp_path)
    assert r.returncode == 0, r
    eid = int(re.search(r"started experiment (\d+)", r.stdout).group(1))
    wait_for(lambda: detail(world.api, world.alice.key, p, eid)["counts"]["running"] == 2, what="two trials")
    follower = subprocess.Popen([oast_bin(), "exp", "logs", p, str(eid), "-f"], stdout=subprocess.PIPE, text=True,
                                env=dict(os.environ, OAST_ADDR=world.server.addr, OAST_API_KEY=world.alice.key,
                                         OAST_CONFIG="/dev/null"))
    try:
        r = cli(world, world.bob, "exp", "stop", p, str(eid))
        assert r.returncode == 0 and "stopping experiment %d" % eid in r.stdout
        out, _ = follower.communicate(timeout=60)  # ends by itself when the experiment ends
    finally:
        follower.kill()
    assert follower.returncode == 0
    assert "[experiment] stopping" in out and out.rstrip().splitlines()[-1].startswith("[experiment] killed")
    assert wait_done(world.api, world.alice.key, p, eid)["state"] == "killed"
    r = cli(world, world.alice, "exp", "stop", p, str(eid))
    assert r.returncode == 1 and "is not running" in r.stderr


def test_errors(world, workdir):
    p = world.new_project("c")
    r = cli(world, world.alice, "exp", "run", p, "--grid", "lr", "--", "python3", "./train.py", cwd=workdir)
    assert r.returncode == 2 and "--grid wants NAME=V1,V2" in r.stderr
    r = cli(world, world.alice, "exp", "run", p, "--random", "lr=1", "--", "python3", "./train.py", cwd=workdir)
    assert r.returncode == 2 and "--random wants" in r.stderr
    r = cli(world, world.alice, "exp", "run", p, "--parallel", "0", "--", "python3", "./train.py", cwd=workdir)
    assert r.returncode == 2 and "--parallel" in r.stderr
    r = cli(world, world.alice, "exp", "run", p, "--direction", "up", "--", "python3", "./train.py", cwd=workdir)
    assert r.returncode == 1 and "direction" in r.stderr
    r = cli(world, world.alice, "exp", "run", p, "--", "no-such-program-here", cwd=workdir)
    assert r.returncode == 1 and "command[0]" in r.stderr
    r = cli(world, world.alice, "exp", "run", p)
    assert r.returncode == 2
    r = cli(world, world.carol, "exp", "list", p)
    assert r.returncode == 1 and "not found" in r.stderr
    r = cli(world, world.alice, "exp", "show", p, "424242")
    assert r.returncode == 1 and "not found" in r.stderr
    assert cli(world, world.alice, "exp", "list", p).stdout.count("\n") == 1  # the header only
