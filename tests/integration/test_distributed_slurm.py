"""Distributed runs and experiments on the Slurm executor, against a real
one-node Slurm cluster (tests/tools/slurm-cluster.sh, the fixture of
test_slurm.py): "executor": "slurm" per experiment on a server whose
default is local; a distributed run as one Slurm job whose workers
mpirun starts, each with its rank's variables and its own GPUs; a real
torch.distributed (gloo) run and an MPI C program inside a Slurm job; a
failing worker; stop; an unreachable controller; bad executors."""

import io
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from exptest import create, detail, exp_dir, logs, wait_done, wait_for
from oasttest import REPO, Server, World, assert_error, assert_status, stop_checked, wait_until
from test_distributed import _make_training_data, dist_body, envs, train_ddp_module
from test_slurm import CLUSTER_SH, Cluster, ended_jobs
from oast import experiment

#: CPUs of the cluster's node: a run of four workers is one job of four CPUs.
NODE_CPUS = 4


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    path = tmp_path_factory.mktemp("slurm")
    env = dict(os.environ, OAST_SLURM_CPUS=str(NODE_CPUS))
    r = subprocess.run([str(CLUSTER_SH), "start", str(path)], capture_output=True, text=True, timeout=600, env=env)
    if r.returncode != 0:
        subprocess.run([str(CLUSTER_SH), "stop", str(path)], capture_output=True, timeout=120)
        pytest.fail("the Slurm test cluster did not start:\n%s\n%s" % (r.stdout, r.stderr[-8000:]))
    c = Cluster(path)
    assert c.cpus() == NODE_CPUS
    yield c
    r = subprocess.run([str(CLUSTER_SH), "stop", str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def sw(cluster, tmp_path_factory):
    """A server whose default executor is local, with Slurm beside it."""
    srv = Server(tmp_path_factory.mktemp("home"), ["--cpus", "4", "--slurm-conf", str(cluster.conf)]).start()
    yield World(srv)
    stop_checked(srv)
    assert wait_until(lambda: not cluster.live_jobs(), timeout=30), cluster.live_jobs()


def slurm_jobs(cluster, states="all"):
    out = cluster.run("squeue", "--noheader", "--states=" + states, "--format=%i|%j|%T").stdout
    return [line.split("|") for line in out.splitlines() if line.split("|")[1].startswith("oast-")]


def test_a_distributed_run_is_one_slurm_job_with_every_rank(sw, cluster):
    api, key, p = sw.api, sw.alice.key, sw.new_project("sd")
    before = {j[0] for j in slurm_jobs(cluster)}
    b = dist_body("onslurm", workers=4, strategy="parameter_server", executor="slurm")
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    assert d["state"] == "finished", (d["message"], d["trials"][0]["log_tail"], logs(api, key, p, d["id"]))
    assert d["executor"] == "slurm"
    assert [(w["rank"], w["role"], w["state"], w["exit_code"]) for w in d["workers"]] == [
        (0, "chief", "finished", 0), (1, "ps", "finished", 0), (2, "worker", "finished", 0),
        (3, "worker", "finished", 0)]
    e = envs(sw.server, p, d, 4)
    # One Slurm job ran every rank, each with its own variables.
    jobs = {x["SLURM_JOB_ID"] for x in e}
    assert len(jobs) == 1 and None not in jobs
    ours = ended_jobs(cluster, before, 1)
    assert list(ours) == list(jobs) and list(ours.values()) == ["COMPLETED"], ours
    port = e[0]["MASTER_PORT"]
    roles = []
    for r, x in enumerate(e):
        assert (x["RANK"], x["LOCAL_RANK"], x["WORLD_SIZE"]) == (str(r), str(r), "4")
        assert x["MASTER_ADDR"] == "127.0.0.1" and x["MASTER_PORT"] == port
        tf = json.loads(x["TF_CONFIG"])
        roles.append((tf["task"]["type"], tf["task"]["index"]))
        assert tf["cluster"] == json.loads(e[0]["TF_CONFIG"])["cluster"]
    assert roles == [("chief", 0), ("ps", 0), ("worker", 0), ("worker", 1)]
    text = logs(api, key, p, d["id"])
    for r in range(4):
        assert "[worker %d] worker %d of 4 up" % (r, r) in text
    assert "<stdout>" not in text and "oast-worker-exit" not in text and "OAST_TF_CONFIG" not in text


def test_each_worker_gets_its_own_slurm_gpu(sw, cluster):
    api, key, p = sw.api, sw.alice.key, sw.new_project("sg")
    assert cluster.gpus() >= 2
    b = dist_body("gpus", workers=2, executor="slurm", dist={"gpus_per_worker": 1})
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    assert d["state"] == "finished", d
    e = envs(sw.server, p, d, 2)
    seen = [x["CUDA_VISIBLE_DEVICES"] for x in e]
    assert all(s and "," not in s for s in seen) and len(set(seen)) == 2, seen
    assert [w["gpus"] for w in d["workers"]] == seen
    # More GPUs than the cluster has: Slurm refuses the job, the run fails saying so, nothing is queued.
    b = dist_body("greedy", workers=2, executor="slurm", dist={"gpus_per_worker": cluster.gpus()})
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    assert d["state"] == "failed" and "could not start" in d["message"] and "GPU" in d["message"], d
    assert [w["state"] for w in d["workers"]] == ["queued", "queued"]
    assert not cluster.live_jobs()


def test_torch_ddp_inside_a_slurm_job(sw, cluster):
    p = sw.new_project("sddp")
    td, _ = _make_training_data(sw, p)
    mod = train_ddp_module()
    out = io.StringIO()
    logdir, _, res = experiment.distributed(
        mod.train, workers=2, project=sw.alice.conn.projects.get(p), out=out, executor="slurm",
        params={"view": "clicks", "td_version": td["version"], "epochs": 100}, optimization_key="accuracy")
    assert res["state"] == "finished", out.getvalue()
    root = exp_dir(sw.server, p, res["id"]) / "trial_0"
    w0, w1 = np.load(root / "weights_rank0.npy"), np.load(root / "weights_rank1.npy")
    assert np.array_equal(w0, w1) and w0[0] > 0 > w0[1]
    assert res["trials"][0]["metric"] > 0.85
    assert re.search(r"^\[worker 1\] rank 1 of 2: \d+ rows", out.getvalue(), re.M)


def test_mpi_c_program_inside_a_slurm_job(sw, cluster, tmp_path):
    mpicc = shutil.which("mpicc")
    prog = tmp_path / "allreduce_mpi"
    subprocess.run([mpicc, "-O2", "-o", str(prog), str(REPO / "examples" / "allreduce_mpi.c")], check=True)
    import base64
    api, key, p = sw.api, sw.alice.key, sw.new_project("smpi")
    b = {"name": "mpi", "command": ["allreduce_mpi"], "executor": "slurm",
         "files": {"allreduce_mpi": base64.b64encode(prog.read_bytes()).decode()},
         "distribution": {"workers": 2, "strategy": "mpi"}}
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    assert d["state"] == "finished", d
    text = logs(api, key, p, d["id"])
    for k in range(2):
        assert "[worker %d] rank %d of 2: allreduce sum 3" % (k, k) in text
    b["command"] = ["allreduce_mpi", "--fail-rank", "0"]
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    assert d["state"] == "failed" and d["message"] == "worker 0: exit code 3", d
    assert (d["workers"][0]["state"], d["workers"][0]["exit_code"]) == ("failed", 3)
    assert "rank 0 fails on purpose" in d["trials"][0]["log_tail"]
    assert wait_until(lambda: not cluster.live_jobs(), timeout=30), cluster.live_jobs()


def test_a_failing_worker_and_stop_on_slurm(sw, cluster):
    api, key, p = sw.api, sw.alice.key, sw.new_project("sf")
    b = dist_body("fail", workers=2, executor="slurm", do={"0": "sleep", "1": "fail"})
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    assert d["state"] == "failed" and d["message"] == "worker 1: exit code 3", d
    assert [w["state"] for w in d["workers"]] == ["killed", "failed"]
    assert "rank 1: boom" in d["trials"][0]["log_tail"]
    assert wait_until(lambda: not cluster.live_jobs(), timeout=30), cluster.live_jobs()
    eid = create(api, key, p, dist_body("stop", workers=2, executor="slurm", do={"0": "sleep", "1": "sleep"}))["id"]
    wait_for(lambda: [w["state"] for w in detail(api, key, p, eid)["workers"] or []] == ["running", "running"] and
             logs(api, key, p, eid).count(" up") == 2, what="both workers up on Slurm")
    assert len(cluster.live_jobs()) == 1
    assert_status(api.call("POST", "/projects/%s/experiments/%d/stop" % (p, eid), key), 200)
    d = wait_done(api, key, p, eid)
    assert d["state"] == "killed" and [w["state"] for w in d["workers"]] == ["killed", "killed"]
    assert wait_until(lambda: not cluster.live_jobs(), timeout=30), cluster.live_jobs()


def test_executor_per_experiment(sw, cluster):
    api, key, p = sw.api, sw.alice.key, sw.new_project("se")
    # Local explicitly (and by default) on this server: no Slurm job.
    for extra in ({"executor": "local"}, {}):
        before = len(slurm_jobs(cluster))
        d = wait_done(api, key, p, create(api, key, p, dist_body("loc", workers=2, **extra))["id"])
        assert d["state"] == "finished" and d["executor"] == extra.get("executor")
        assert [x["SLURM_JOB_ID"] for x in envs(sw.server, p, d, 2)] == [None, None]
        assert len(slurm_jobs(cluster)) == before
    # Plain trials go there too.
    b = {"name": "plain", "command": ["worker.py"], "files": dist_body()["files"], "executor": "slurm"}
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    assert d["state"] == "finished" and envs(sw.server, p, d, 1)[0]["SLURM_JOB_ID"]
    # Bad executors name the field; nothing is created.
    n = len(api.get("/projects/%s/experiments" % p, key).json()["items"])
    for bad in ("pbs", 3, ""):
        err = assert_error(api.call("POST", "/projects/%s/experiments" % p, key,
                                    json=dist_body("bad", workers=2, executor=bad)), 400)
        assert err["message"].startswith("executor"), err
    assert len(api.get("/projects/%s/experiments" % p, key).json()["items"]) == n


def test_an_unreachable_controller_fails_the_run_with_nothing_queued(cluster, start_server):
    srv = start_server("--cpus", "2", "--slurm-conf", str(cluster.dead_conf()))
    w = World(srv)
    api, key, p = w.api, w.alice.key, w.new_project("dead")
    d = wait_done(api, key, p, create(api, key, p, dist_body("dead", workers=2, executor="slurm"))["id"])
    assert d["state"] == "failed", d
    assert "could not start" in d["message"] and "Unable to contact slurm controller" in d["message"], d
    t = d["trials"][0]
    assert t["state"] == "failed" and "Unable to contact slurm controller" in t["error"]
    assert [w["state"] for w in d["workers"]] == ["queued", "queued"]
    assert not cluster.live_jobs()
    assert not (exp_dir(srv, p, d["id"]) / "trial_0" / "pid_0").exists()
