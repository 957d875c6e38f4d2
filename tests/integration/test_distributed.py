"""Distributed training through the experiment service: a real two-worker
torch.distributed run (gloo, CPU) launched from Python, training on a
training dataset of the feature store, whose workers end with equal
weights; an MPI C program through mpirun (from the CLI); each worker's
environment (torch variables, TF_CONFIG roles, GPUs); a failing worker
stopping the others; stop; a lost run rerun whole after a crash; bad
input; rights."""

import importlib.util
import io
import json
import os
import random
import re
import shutil
import subprocess

import numpy as np
import pytest

from exptest import alive, body, cmdline, create, detail, exp_dir, logs, processes_with_env, wait_done, wait_for
from fvtest import insert, make_group, make_td, make_view
from oasttest import REPO, World, assert_error, assert_status, expect_member, oast_bin, run_matrix
from oast import experiment

#: A raw worker: writes its environment to the run's folder, then does what P["do"] says for its rank.
ENV_DUMP = """
import json, os, sys, time
rank = int(os.environ.get("RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))
keys = ["RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TF_CONFIG",
        "CUDA_VISIBLE_DEVICES", "OAST_WORKERS", "OAST_STRATEGY", "OAST_TRIAL_ID", "OAST_LOGDIR", "SLURM_JOB_ID"]
with open(os.path.join(os.environ["OAST_LOGDIR"], "env_%d.json" % rank), "w") as f:
    json.dump({k: os.environ.get(k) for k in keys}, f)
with open(os.path.join(os.environ["OAST_LOGDIR"], "pid_%d" % rank), "w") as f:
    f.write(str(os.getpid()))
print("worker %d of %s up" % (rank, os.environ.get("WORLD_SIZE")), flush=True)
do = json.loads(os.environ["OAST_PARAMS"]).get("do", {}).get(str(rank), "exit0")
if do == "fail":
    time.sleep(0.3)
    print("rank %d is about to fail" % rank, flush=True)
    sys.stderr.write("rank %d: boom\\n" % rank)
    sys.exit(3)
if do == "sleep":
    time.sleep(1000)
"""


def dist_body(name="d", workers=2, strategy="allreduce", do=None, **kw):
    d = {"workers": workers, "strategy": strategy}
    d.update(kw.pop("dist", {}))
    b = body(name, command=["worker.py"], files={"worker.py": _b64(ENV_DUMP)}, distribution=d,
             optimizer={"name": "single", "params": {"do": do or {}}})
    b.update(kw)
    return b


def _b64(text):
    import base64
    return base64.b64encode(text.encode()).decode()


def run_dir(server, p, d):
    return exp_dir(server, p, d["id"]) / "trial_0"


def envs(server, p, d, n):
    root = run_dir(server, p, d)
    return [json.loads((root / ("env_%d.json" % r)).read_text()) for r in range(n)]


def cli(server, key, *args, cwd=None, timeout=180):
    env = dict(os.environ, OAST_ADDR=server.addr, OAST_API_KEY=key, OAST_CONFIG="/dev/null")
    return subprocess.run([oast_bin(), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A server of its own with room for four workers and two (pretend) GPUs."""
    from oasttest import Server, stop_checked
    srv = Server(tmp_path_factory.mktemp("home"), ["--cpus", "4", "--gpus", "0,1"]).start()
    yield World(srv)
    stop_checked(srv)


@pytest.fixture(scope="module")
def mpi_prog(tmp_path_factory):
    mpicc = shutil.which("mpicc")
    assert mpicc, "mpicc is missing: scripts/install-deps installs libopenmpi-dev"
    out = tmp_path_factory.mktemp("mpi") / "allreduce_mpi"
    subprocess.run([mpicc, "-O2", "-o", str(out), str(REPO / "examples" / "allreduce_mpi.c")], check=True)
    return out


# --- torch.distributed, for real -------------------------------------------------------------


def train_ddp_module():
    """examples/train_ddp.py, imported: its train function is what the launcher sends."""
    spec = importlib.util.spec_from_file_location("train_ddp", REPO / "examples" / "train_ddp.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _make_training_data(world, p, rows=400):
    """A feature group of two features and a label from a logistic rule, its view, and an npy training dataset."""
    api, key = world.api, world.alice.key
    rnd = random.Random(6)
    make_group(api, key, p, "clicks", [("id", "bigint"), ("x1", "double"), ("x2", "double"), ("y", "int")], ["id"])
    data = []
    for i in range(rows):
        x1, x2 = rnd.gauss(0, 1), rnd.gauss(0, 1)
        data.append({"id": i, "x1": round(x1, 4), "x2": round(x2, 4), "y": int(2 * x1 - x2 + rnd.gauss(0, 0.3) > 0)})
    insert(api, key, p, "clicks", data)
    make_view(api, key, p, {"name": "clicks", "version": 1,
                            "query": {"featuregroup": "clicks", "version": 1, "features": ["x1", "x2", "y"]},
                            "labels": ["y"]})
    td = make_td(api, key, p, "clicks", 1, {"format": "npy", "splits": {"train": 0.8, "test": 0.2}, "seed": 3})
    return td, data


def test_torch_ddp_two_workers_train_on_a_training_dataset(world):
    p = world.new_project("ddp")
    td, data = _make_training_data(world, p)
    mod = train_ddp_module()
    out = io.StringIO()
    proj = world.alice.conn.projects.get(p)
    logdir, params, res = experiment.distributed(
        mod.train, workers=2, strategy="allreduce", project=proj, out=out, name="ddp",
        params={"view": "clicks", "td_version": td["version"], "epochs": 150}, optimization_key="accuracy")
    text = out.getvalue()
    assert res["state"] == "finished", text
    assert res["distribution"] == {"workers": 2, "strategy": "allreduce", "gpus_per_worker": 0}
    assert [(w["rank"], w["role"], w["state"], w["exit_code"]) for w in res["workers"]] == [
        (0, "chief", "finished", 0), (1, "worker", "finished", 0)]
    # Both workers trained on their own shard of the split, and their lines are prefixed.
    train_rows = td["splits"]["train"]["rows"]
    lines = {}
    for r in (0, 1):
        m = re.search(r"^\[worker %d\] rank %d of 2: (\d+) rows, loss ([\d.]+), accuracy ([\d.]+)$" % (r, r), text,
                      re.M)
        assert m, text
        lines[r] = m
    assert int(lines[0].group(1)) + int(lines[1].group(1)) == train_rows
    assert abs(int(lines[0].group(1)) - int(lines[1].group(1))) <= 1
    # All-reduced gradients: the final weights are the same on both workers (and not the random start).
    root = exp_dir(world.server, p, res["id"]) / "trial_0"
    w0, w1 = np.load(root / "weights_rank0.npy"), np.load(root / "weights_rank1.npy")
    assert w0.shape == (3,) and np.array_equal(w0, w1), (w0, w1)
    # The model learned the rule (y = 1 when 2 x1 - x2 > 0): the weights point that way.
    assert w0[0] > 0 and w0[1] < 0 and w0[0] > abs(w0[1])
    # The run's result is rank 0's.
    trial = res["trials"][0]
    assert trial["metric"] == pytest.approx(float(lines[0].group(3)), abs=1e-4)
    assert trial["metric"] > 0.85 and trial["outputs"]["rows"] == int(lines[0].group(1))
    assert res["best_val"] == trial["metric"] and logdir == "Experiments/%d" % res["id"]


# --- MPI -------------------------------------------------------------------------------------------


def test_mpi_c_program_runs_under_mpirun_from_the_cli(big, mpi_prog, tmp_path):
    p = big.new_project("mpi")
    shutil.copy(mpi_prog, tmp_path / "allreduce_mpi")
    r = cli(big.server, big.alice.key, "exp", "run", p, "--workers", "3", "--strategy", "mpi", "--",
            "./allreduce_mpi", cwd=tmp_path)
    assert r.returncode == 0, r
    for k in range(3):
        assert "[worker %d] rank %d of 3: allreduce sum 6" % (k, k) in r.stdout, r.stdout
        assert "[worker %d] finished" % k in r.stdout
    assert "distributed: 3 workers, strategy mpi" in r.stdout
    table = r.stdout.split("distributed: 3 workers, strategy mpi\n")[1].splitlines()
    assert table[0].split() == ["WORKER", "ROLE", "STATE", "EXIT", "GPUS"]
    assert [row.split()[:4] for row in table[1:4]] == [[str(k), "rank", "finished", "0"] for k in range(3)]
    eid = int(re.search(r"started experiment (\d+)", r.stdout).group(1))
    d = detail(big.api, big.alice.key, p, eid)
    assert d["state"] == "finished" and d["command"] == ["allreduce_mpi"]
    assert [w["state"] for w in d["workers"]] == ["finished"] * 3
    # No mpirun tags or exit markers leak into the log.
    text = logs(big.api, big.alice.key, p, eid)
    assert "<stdout>" not in text and "oast-worker-exit" not in text
    assert all(re.match(r"\[(worker \d|mpirun|trial 0|experiment)\] ", line) for line in text.splitlines()), text


def test_a_failing_mpi_rank_fails_the_run_with_its_tail(big, mpi_prog):
    api, key, p = big.api, big.alice.key, big.new_project("mpif")
    b = {"name": "mpifail", "command": ["allreduce_mpi", "--fail-rank", "1"],
         "files": {"allreduce_mpi": _b64_file(mpi_prog)}, "distribution": {"workers": 3, "strategy": "mpi"}}
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    assert d["state"] == "failed" and d["message"] == "worker 1: exit code 3", d
    w = {x["rank"]: x for x in d["workers"]}
    assert w[1]["state"] == "failed" and w[1]["exit_code"] == 3
    assert all(w[k]["state"] in ("killed", "finished") for k in (0, 2))
    t = d["trials"][0]
    assert t["state"] == "failed" and t["error"] == "worker 1: exit code 3"
    assert "rank 1 fails on purpose" in t["log_tail"] and "<stderr>" not in t["log_tail"]
    assert "[worker 1] failed: exit code 3" in logs(api, key, p, d["id"])


def _b64_file(path):
    import base64
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


# --- what each worker gets ---------------------------------------------------------------------------


def test_workers_get_torch_variables_and_tf_config(big):
    api, key, p = big.api, big.alice.key, big.new_project("env")
    d = wait_done(api, key, p, create(api, key, p, dist_body("ps", workers=4, strategy="parameter_server"))["id"])
    assert d["state"] == "finished", d
    e = envs(big.server, p, d, 4)
    port = e[0]["MASTER_PORT"]
    tf_roles = []
    for r, x in enumerate(e):
        assert (x["RANK"], x["WORLD_SIZE"], x["LOCAL_RANK"], x["LOCAL_WORLD_SIZE"]) == (str(r), "4", str(r), "4")
        assert x["MASTER_ADDR"] == "127.0.0.1" and x["MASTER_PORT"] == port and 0 < int(port) < 65536
        assert x["OAST_WORKERS"] == "4" and x["OAST_STRATEGY"] == "parameter_server"
        assert x["OAST_TRIAL_ID"] == str(d["trials"][0]["id"]) and x["CUDA_VISIBLE_DEVICES"] == ""
        tf = json.loads(x["TF_CONFIG"])
        assert tf["cluster"] == json.loads(e[0]["TF_CONFIG"])["cluster"]
        tf_roles.append((tf["task"]["type"], tf["task"]["index"]))
    assert tf_roles == [("chief", 0), ("ps", 0), ("worker", 0), ("worker", 1)]
    cluster = json.loads(e[0]["TF_CONFIG"])["cluster"]
    assert sorted(cluster) == ["chief", "ps", "worker"] and len(cluster["worker"]) == 2
    addrs = cluster["chief"] + cluster["ps"] + cluster["worker"]
    assert len(set(addrs)) == 4 and all(a.startswith("127.0.0.1:") for a in addrs)
    assert [w["role"] for w in d["workers"]] == ["chief", "ps", "worker", "worker"]
    # allreduce: a chief and workers.
    d = wait_done(api, key, p, create(api, key, p, dist_body("ar", workers=3))["id"])
    roles = [json.loads(x["TF_CONFIG"])["task"] for x in envs(big.server, p, d, 3)]
    assert roles == [{"type": "chief", "index": 0}, {"type": "worker", "index": 0}, {"type": "worker", "index": 1}]


def test_each_worker_holds_its_own_gpus(big):
    api, key, p = big.api, big.alice.key, big.new_project("gpu")
    d = wait_done(api, key, p, create(api, key, p, dist_body("g", workers=2, dist={"gpus_per_worker": 1}))["id"])
    assert d["state"] == "finished", d
    e = envs(big.server, p, d, 2)
    assert sorted(x["CUDA_VISIBLE_DEVICES"] for x in e) == ["0", "1"]
    assert [w["gpus"] for w in d["workers"]] == [x["CUDA_VISIBLE_DEVICES"] for x in e]
    assert d["distribution"]["gpus_per_worker"] == 1 and d["trials"][0]["gpus"] in ("0,1", "1,0")


# --- failures, stop, restart -------------------------------------------------------------------------


def test_a_failing_worker_stops_the_others_and_fails_the_run(big):
    api, key, p = big.api, big.alice.key, big.new_project("fail")
    b = dist_body("f", workers=3, do={"0": "sleep", "1": "fail", "2": "sleep"})
    eid = create(api, key, p, b)["id"]
    d = wait_done(api, key, p, eid)
    assert d["state"] == "failed" and d["message"] == "worker 1: exit code 3"
    w = d["workers"]
    assert (w[1]["state"], w[1]["exit_code"]) == ("failed", 3)
    assert [w[0]["state"], w[2]["state"]] == ["killed", "killed"]
    t = d["trials"][0]
    assert t["state"] == "failed" and t["error"] == "worker 1: exit code 3" and t["exit_code"] == 3
    assert "rank 1 is about to fail" in t["log_tail"] and "rank 1: boom" in t["log_tail"]
    assert "worker 0" not in t["log_tail"]
    text = logs(api, key, p, eid)
    assert "[worker 1] rank 1 is about to fail" in text and "[worker 1] failed: exit code 3" in text
    assert "[worker 0] killed by signal" in text and "[worker 2] killed by signal" in text
    assert text.rstrip().splitlines()[-1] == "[experiment] failed: worker 1: exit code 3"
    # The sleeping workers are gone, with everything they started (found by their folder: other
    # servers on this machine have trials of the same id).
    left = [q for q in processes_with_env("OAST_LOGDIR", str(run_dir(big.server, p, d))) if alive(q)]
    assert not left, [cmdline(q) for q in left]


@pytest.mark.parametrize("strategy", ["allreduce", "mpi"])
def test_stop_kills_every_worker(big, strategy):
    api, key, p = big.api, big.alice.key, big.new_project("stop")
    eid = create(api, key, p, dist_body("s", workers=2, strategy=strategy, do={"0": "sleep", "1": "sleep"}))["id"]
    root = exp_dir(big.server, p, eid) / "trial_0"
    wait_for(lambda: all((root / ("pid_%d" % r)).exists() for r in (0, 1)), what="both workers up")
    assert [w["state"] for w in detail(api, key, p, eid)["workers"]] == ["running", "running"]
    assert_status(api.call("POST", "/projects/%s/experiments/%d/stop" % (p, eid), big.bob.key), 200)
    d = wait_done(api, key, p, eid)
    assert d["state"] == "killed" and d["trials"][0]["state"] == "killed"
    assert [w["state"] for w in d["workers"]] == ["killed", "killed"]
    for r in (0, 1):
        pid = int((root / ("pid_%d" % r)).read_text())
        wait_for(lambda: not alive(pid), timeout=15, what="worker %d to be gone" % r)
    wait_for(lambda: not [q for q in processes_with_env("OAST_LOGDIR", str(root)) if alive(q)], timeout=15,
             what="nothing of the run to be left")


def test_a_lost_run_is_rerun_whole_after_a_crash(start_server):
    srv = start_server("--cpus", "3")
    api, key = srv.api, srv.admin_key
    assert_status(api.call("POST", "/projects", key, json={"name": "rr"}), 201)
    # The first attempt sleeps until the server is killed; the rerun (after the test leaves "crashed") ends.
    src = """
import os, time
d = os.environ["OAST_LOGDIR"]
open(os.path.join(d, "pid_%s" % os.environ["RANK"]), "w").write(str(os.getpid()))
if not os.path.exists(os.path.join(d, "crashed")):
    time.sleep(1000)
"""
    b = {"name": "rerun", "command": ["worker.py"], "files": {"worker.py": _b64(src)},
         "distribution": {"workers": 3}}
    eid = create(api, key, "rr", b)["id"]
    root = exp_dir(srv, "rr", eid) / "trial_0"
    wait_for(lambda: all((root / ("pid_%d" % r)).exists() for r in range(3)), what="three workers up")
    old = [int((root / ("pid_%d" % r)).read_text()) for r in range(3)]
    srv.kill9()
    (root / "crashed").write_text("")
    for r in range(3):
        (root / ("pid_%d" % r)).unlink()
    srv.start()
    d = wait_done(srv.api, key, "rr", eid)
    assert d["state"] == "finished", d
    t = d["trials"][0]
    assert t["attempts"] == 2 and [w["state"] for w in d["workers"]] == ["finished"] * 3
    new = [int((root / ("pid_%d" % r)).read_text()) for r in range(3)]
    assert not set(new) & set(old)
    for pid in old:
        wait_for(lambda: not alive(pid), timeout=15, what="worker %d of the crashed server to be killed" % pid)
    assert "lost when the server stopped" in logs(srv.api, key, "rr", eid)


# --- bad input and rights --------------------------------------------------------------------------------


def test_bad_distributions_are_a_400_naming_the_field(big):
    api, key, p = big.api, big.alice.key, big.new_project("bad")
    cases = [
        ({"distribution": {"workers": 0}}, "distribution.workers"),
        ({"distribution": {"workers": -1}}, "distribution.workers"),
        ({"distribution": {"workers": "two"}}, "distribution.workers"),
        ({"distribution": {"strategy": "allreduce"}}, "distribution.workers"),
        ({"distribution": {"workers": 2, "strategy": "ring"}}, "distribution.strategy"),
        ({"distribution": {"workers": 2, "gpus_per_worker": 2}}, "distribution.gpus_per_worker"),
        ({"distribution": {"workers": 3, "gpus_per_worker": 1}}, "distribution.gpus_per_worker"),
        ({"distribution": {"workers": 5}}, "distribution.workers"),
        ({"distribution": {"workers": 2}, "resources": {"cpus": 3}}, "distribution.workers"),
        ({"distribution": {"workers": 2, "strategy": "parameter_server"}}, "distribution.workers"),
        ({"distribution": {"workers": 2, "parameter_servers": 1}}, "distribution.parameter_servers"),
        ({"distribution": {"workers": 2, "hosts": 2}}, "distribution"),
        ({"distribution": 2}, "distribution"),
        ({"distribution": {"workers": 2}, "optimizer": "grid",
          "searchspace": {"x": {"type": "discrete", "values": [1, 2]}}}, "optimizer"),
        ({"distribution": {"workers": 2}, "resources": {"gpus": 1}}, "resources.gpus"),
        ({"distribution": {"workers": 2}, "env": {"MASTER_PORT": "1"}}, "env.MASTER_PORT"),
    ]
    before = api.get("/projects/%s/experiments" % p, key).json()["items"]
    for change, field in cases:
        b = {"name": "bad", "command": ["worker.py"], "files": {"worker.py": _b64(ENV_DUMP)}}
        b.update(change)
        err = assert_error(api.call("POST", "/projects/%s/experiments" % p, key, json=b), 400)
        assert err["message"].startswith(field), (change, err["message"])
    assert api.get("/projects/%s/experiments" % p, key).json()["items"] == before
    assert not list((big.server.project_dir(p) / "Experiments").iterdir())
    assert not processes_with_env("OAST_EXPERIMENT_DIR", str(big.server.project_dir(p) / "Experiments" / "1"))


def test_bad_distributions_from_python_and_the_cli(big, tmp_path):
    p = big.new_project("badc")
    (tmp_path / "w.py").write_text(ENV_DUMP)
    r = cli(big.server, big.alice.key, "exp", "run", p, "--workers", "0", "--", "python3", "./w.py", cwd=tmp_path)
    assert r.returncode == 2 and "--workers" in r.stderr, r
    r = cli(big.server, big.alice.key, "exp", "run", p, "--strategy", "mpi", "--", "python3", "./w.py", cwd=tmp_path)
    assert r.returncode == 2 and "--workers" in r.stderr, r
    r = cli(big.server, big.alice.key, "exp", "run", p, "--workers", "2", "--strategy", "ring", "--", "python3",
            "./w.py", cwd=tmp_path)
    assert r.returncode == 1 and "distribution.strategy" in r.stderr, r
    r = cli(big.server, big.alice.key, "exp", "run", p, "--workers", "2", "--gpus-per-worker", "2", "--",
            "python3", "./w.py", cwd=tmp_path)
    assert r.returncode == 1 and "distribution.gpus_per_worker" in r.stderr and "server has 2" in r.stderr, r
    mod = train_ddp_module()
    proj = big.alice.conn.projects.get(p)
    import oast
    with pytest.raises(oast.BadRequest) as exc:
        experiment.distributed(mod.train, workers=0, project=proj, out=io.StringIO())
    assert exc.value.message.startswith("distribution.workers")
    with pytest.raises(oast.BadRequest) as exc:
        experiment.distributed(mod.train, workers=2, strategy="gossip", project=proj, out=io.StringIO())
    assert exc.value.message.startswith("distribution.strategy")
    assert proj.experiments.list() == []


def test_detail_of_an_experiment_without_distribution_says_so(world):
    api, key, p = world.api, world.alice.key, world.new_project("nd")
    b = body("plain", command=["worker.py"], files={"worker.py": _b64(ENV_DUMP)})
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    assert d["distribution"] is None and d["workers"] is None and d["trials"][0]["workers"] is None
    e = json.loads((run_dir(world.server, p, d) / "env_0.json").read_text())
    assert e["RANK"] is None and e["TF_CONFIG"] is None and e["OAST_WORKERS"] is None


@pytest.mark.parametrize("role", ["data_owner", "data_scientist", "non_member", "no_key"])
def test_permission_matrix(world, role):
    api = world.api

    def none_created(ctx):
        assert api.get("/projects/%s/experiments" % ctx["p"], world.alice.key).json()["items"] == []

    def finished(ctx, r):
        d = wait_done(api, world.alice.key, ctx["p"], r.json()["id"])
        assert d["state"] == "finished" and [w["state"] for w in d["workers"]] == ["finished"] * 2
        assert d["creator"] == world.user(role).name

    run_matrix(world, role, "POST", "/projects/{p}/experiments", expect_member(201),
               json=lambda ctx: dist_body("m", workers=2), refused=none_created, done=finished)
