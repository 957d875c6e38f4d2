"""
The Slurm executor against a real one-node Slurm cluster.

The module starts the cluster once with tests/tools/slurm-cluster.sh
(munged, slurmctld and `slurmd -N localhost` in a pytest tmp dir; the
script installs slurm-wlm and munge from Debian when they are missing)
and stops its daemons at the end. Nothing is skipped: when the cluster
cannot start, every test fails with the daemons' logs.

Most tests drive the executor directly with build/slurmexec (a scenario
in JSON, events out as JSON lines; see tests/tools/slurmexec.c): output
lines in order, exit codes and signals, failures to start, cancelling a
running and a queued job, timeouts, GPUs, and bad input — more CPUs or
GPUs than exist, an unreachable controller — which must give a clear
error and leave nothing queued or running. The server tests run the real
`oast server --executor slurm`.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from exptest import body, by_number, create, detail, exp_dir, logs, wait_done, wait_for
from oasttest import REPO, Server, World, assert_error, assert_status, oast_bin, stop_checked, wait_until

CLUSTER_SH = REPO / "tests" / "tools" / "slurm-cluster.sh"


def slurmexec_bin():
    return os.environ.get("OAST_SLURMEXEC") or str(REPO / "build" / "slurmexec")


class Cluster:
    def __init__(self, path):
        self.dir = Path(path)
        self.conf = self.dir / "slurm.conf"
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))

    def run(self, *args, check=True):
        r = subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=60)
        if check:
            assert r.returncode == 0, "%s failed (%d): %s%s" % (args, r.returncode, r.stdout, r.stderr)
        return r

    def live_jobs(self, name_prefix="oast-"):
        """Jobs of ours Slurm still has pending, running or completing."""
        out = self.run("squeue", "--noheader", "--states=PENDING,RUNNING,COMPLETING,CONFIGURING,SUSPENDED",
                       "--format=%i|%j|%T").stdout
        return [line for line in out.splitlines() if line.split("|")[1].startswith(name_prefix)]

    def gpus(self):
        out = self.run("sinfo", "--noheader", "--Node", "--format=%G").stdout.strip()
        total = 0
        for item in out.split(","):
            parts = item.split("(")[0].split(":")
            if parts[0] == "gpu":
                total += int(parts[-1])
        return total

    def cpus(self):
        out = self.run("sinfo", "--noheader", "--Node", "--format=%c").stdout.split()
        return int(out[0])

    def dead_conf(self):
        """A slurm.conf whose controller port nobody listens on (and a short timeout)."""
        dead = self.dir / "dead.conf"
        lines = []
        for line in self.conf.read_text().splitlines():
            if line.startswith("SlurmctldPort="):
                line = "SlurmctldPort=9"
            lines.append(line)
        lines.append("MessageTimeout=2")
        dead.write_text("\n".join(lines) + "\n")
        return dead


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    path = tmp_path_factory.mktemp("slurm")
    r = subprocess.run([str(CLUSTER_SH), "start", str(path)], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        subprocess.run([str(CLUSTER_SH), "stop", str(path)], capture_output=True, timeout=120)
        pytest.fail("the Slurm test cluster did not start:\n%s\n%s" % (r.stdout, r.stderr[-8000:]))
    assert ("export SLURM_CONF=%s/slurm.conf" % path) in r.stdout
    c = Cluster(path)
    yield c
    r = subprocess.run([str(CLUSTER_SH), "stop", str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for daemon in ("munged", "slurmctld", "slurmd"):
        assert not (path / "run" / (daemon + ".pid")).exists()


class Run:
    """The events of one slurmexec run."""

    def __init__(self, proc, events):
        self.rc = proc.returncode
        self.stderr = proc.stderr
        self.events = events

    def of(self, ev, job=None):
        return [e for e in self.events if e["ev"] == ev and (job is None or e.get("job") == job)]

    def job(self, i):
        """The pool's id of the i-th job of the scenario."""
        for e in self.events:
            if e["ev"] == "submit" and e["i"] == i:
                return e["job"]
        raise AssertionError("job %d was not submitted: %s" % (i, self.events))

    def exit(self, job):
        ex = self.of("exit", job)
        assert len(ex) == 1, "job %s: %d exits in %s" % (job, len(ex), self.events)
        return ex[0]

    def lines(self, job, stream="out"):
        return [e["line"] for e in self.of("line", job) if e["stream"] == stream]

    def done(self):
        return self.of("done")[0]


def run_scenario(scenario, env=None, timeout=180):
    proc = subprocess.run([slurmexec_bin()], input=json.dumps(scenario), capture_output=True, text=True,
                          env=env, timeout=timeout)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return Run(proc, events)


def slurm(cluster, tmp_path, jobs, **kw):
    sc = {"executor": "slurm", "spool": str(tmp_path / "spool"), "slurm_conf": str(cluster.conf),
          "squeue_ms": 500, "jobs": jobs}
    sc.update(kw)
    r = run_scenario(sc, env=kw.pop("env", None))
    return r


def assert_clean(cluster, tmp_path):
    """Nothing of ours is queued or running, and the spool holds nothing but its lock."""
    assert wait_until(lambda: not cluster.live_jobs(), timeout=30), cluster.live_jobs()
    spool = tmp_path / "spool"
    if spool.exists():
        assert [p.name for p in spool.iterdir()] == [".lock"], list(spool.iterdir())


# --- the executor, driven directly ------------------------------------------


def test_lines_in_order_exit_codes_and_logs(cluster, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    jobs = []
    for k in range(3):
        script = "for i in $(seq 1 200); do echo %d-$i; done; echo oops >&2; exit %d" % (k, k)
        jobs.append({"argv": ["sh", "-c", script], "out_path": str(logs / ("%d.out" % k)),
                     "err_path": str(logs / ("%d.err" % k))})
    jobs.append({"argv": ["sh", "-c", "printf 'a\\nb\\nno newline'"], "out_path": str(logs / "3.log"),
                 "err_path": str(logs / "3.log")})
    r = slurm(cluster, tmp_path, jobs)
    assert r.rc == 0, (r.events, r.stderr)
    for k in range(3):
        job = r.job(k)
        assert r.lines(job) == ["%d-%d" % (k, i) for i in range(1, 201)]
        assert r.lines(job, "err") == ["oops"]
        ex = r.exit(job)
        assert ex["started"] and ex["exit_code"] == k and ex["signal"] == 0
        assert not ex["cancelled"] and not ex["timed_out"] and ex["error"] is None
        assert ex["tail"].endswith("%d-200\noops\n" % k) or ex["tail"].endswith("oops\n%d-200\n" % k)
        assert (logs / ("%d.out" % k)).read_text() == "".join("%d-%d\n" % (k, i) for i in range(1, 201))
        assert (logs / ("%d.err" % k)).read_text() == "oops\n"
        starts = r.of("start", job)
        assert len(starts) == 1 and starts[0]["pid"] == 0 and starts[0]["gpus"] == []
        # on_start comes before the job's first line and on_exit after its last
        idx = [i for i, e in enumerate(r.events) if e.get("job") == job and e["ev"] != "submit"]
        assert r.events[idx[0]]["ev"] == "start" and r.events[idx[-1]]["ev"] == "exit"
    job = r.job(3)
    assert r.lines(job) == ["a", "b", "no newline"]
    assert (logs / "3.log").read_text() == "a\nb\nno newline\n"
    assert r.done()["unfinished"] == 0
    assert_clean(cluster, tmp_path)


def test_argv_env_and_cwd_reach_the_command(cluster, tmp_path):
    work = tmp_path / "work dir 'quoted'"
    work.mkdir()
    tricky = ["it's", "two words", "$(touch pwned)", "`id`", "a\"b", "back\\slash", "", "*"]
    jobs = [
        {"argv": ["sh", "-c", 'pwd; for a in "$@"; do printf "<%s>\\n" "$a"; done', "sh"] + tricky,
         "cwd": str(work)},
        {"argv": ["/usr/bin/env"], "env": ["ONLY=this one", "ODD='q'"], "inherit_env": False},
        {"argv": ["sh", "-c", 'echo "mark=$OAST_TEST_MARK given=$GIVEN cvd=[$CUDA_VISIBLE_DEVICES]"'],
         "env": ["GIVEN=yes", "CUDA_VISIBLE_DEVICES=7"], "inherit_env": True},
    ]
    env = dict(os.environ, OAST_TEST_MARK="from-the-server")
    r = slurm(cluster, tmp_path, jobs, env=env)
    assert r.rc == 0, (r.events, r.stderr)
    out = r.lines(r.job(0))
    assert out[0] == str(work)
    assert out[1:] == ["<%s>" % a for a in tricky]
    assert not (work / "pwned").exists()
    env_lines = sorted(r.lines(r.job(1)))
    assert env_lines == sorted(["ONLY=this one", "ODD='q'", "CUDA_VISIBLE_DEVICES="]), env_lines
    assert r.lines(r.job(2)) == ["mark=from-the-server given=yes cvd=[]"]
    assert_clean(cluster, tmp_path)


def test_a_job_that_cannot_start_or_fails(cluster, tmp_path):
    jobs = [
        {"argv": ["no-such-program-here"]},
        {"argv": ["true"], "cwd": str(tmp_path / "missing")},
        {"argv": ["sh", "-c", "echo dying; kill -KILL $$"]},
        {"argv": ["sh", "-c", "exit 7"]},
        {"argv": [str(tmp_path)]},
    ]
    r = slurm(cluster, tmp_path, jobs)
    assert r.rc == 0, (r.events, r.stderr)
    ex = r.exit(r.job(0))
    assert not ex["started"] and ex["exit_code"] == -1
    assert ex["error"] == 'cannot run "no-such-program-here": No such file or directory'
    assert not r.of("start", r.job(0))
    ex = r.exit(r.job(1))
    assert not ex["started"] and ex["error"] == 'cannot use the working directory "%s"' % (tmp_path / "missing")
    ex = r.exit(r.job(2))
    assert ex["started"] and ex["signal"] == 9 and ex["exit_code"] == -1
    assert r.lines(r.job(2)) == ["dying"]
    ex = r.exit(r.job(3))
    assert ex["started"] and ex["exit_code"] == 7 and ex["error"] is None
    ex = r.exit(r.job(4))
    assert not ex["started"] and "not an executable file" in ex["error"]
    assert_clean(cluster, tmp_path)


def test_cancel_a_running_and_a_queued_job(cluster, tmp_path):
    cpus = cluster.cpus()
    jobs = [
        # Holds every CPU, so the next one must wait in Slurm's queue.
        {"argv": ["sh", "-c", "echo holding; sleep 100"], "cpus": cpus, "cancel": "line:holding"},
        {"argv": ["sh", "-c", "echo never"], "cancel": "now"},
    ]
    r = slurm(cluster, tmp_path, jobs)
    assert r.rc == 0, (r.events, r.stderr)
    ex = r.exit(r.job(0))
    assert ex["started"] and ex["cancelled"] and ex["signal"] in (15, 9) and not ex["timed_out"]
    assert ex["error"] is None
    ex = r.exit(r.job(1))
    assert ex["cancelled"] and not ex["started"] and ex["error"] is None
    assert r.lines(r.job(1)) == [] and not r.of("start", r.job(1))
    assert_clean(cluster, tmp_path)


def test_cancelling_twice_and_unknown_jobs(cluster, tmp_path):
    jobs = [{"argv": ["sleep", "100"], "cancel": "start"}]
    r = slurm(cluster, tmp_path, jobs)
    assert r.rc == 0
    assert not r.of("cancel_error")
    assert r.exit(r.job(0))["cancelled"]
    assert_clean(cluster, tmp_path)


def test_timeout_cancels_the_job(cluster, tmp_path):
    jobs = [{"argv": ["sh", "-c", "echo started; sleep 100"], "timeout_s": 2},
            {"argv": ["sh", "-c", "echo quick"], "timeout_s": 100}]
    r = slurm(cluster, tmp_path, jobs)
    assert r.rc == 0, (r.events, r.stderr)
    ex = r.exit(r.job(0))
    assert ex["started"] and ex["timed_out"] and not ex["cancelled"] and ex["signal"] in (15, 9)
    assert r.lines(r.job(0)) == ["started"]
    ex = r.exit(r.job(1))
    assert ex["exit_code"] == 0 and not ex["timed_out"]
    assert_clean(cluster, tmp_path)


def test_gpus_are_granted_by_slurm_or_refused(cluster, tmp_path):
    n = cluster.gpus()
    if n >= 2:
        jobs = [{"argv": ["sh", "-c", "echo cvd=$CUDA_VISIBLE_DEVICES order=$CUDA_DEVICE_ORDER; sleep 2"],
                 "gpus": 1} for _ in range(2)]
        r = slurm(cluster, tmp_path, jobs)
        assert r.rc == 0, (r.events, r.stderr)
        ids = []
        for i in range(2):
            start = r.of("start", r.job(i))[0]
            assert len(start["gpus"]) == 1
            ids.append(start["gpus"][0])
            line = r.lines(r.job(i))[0]
            assert line.startswith("cvd=") and line.endswith(" order=PCI_BUS_ID")
            assert line != "cvd= order=PCI_BUS_ID"
        # Slurm gives each job its own GPU (the jobs overlap: each sleeps)
        assert sorted(ids) == sorted(set(ids))
    # More GPUs than any node has: a clear refusal, nothing queued.
    r = slurm(cluster, tmp_path, [{"argv": ["true"], "gpus": n + 1}])
    assert r.rc == 0
    err = r.of("submit_error")[0]
    assert err["code"] == "bad_request" and "GPU" in err["message"], err
    assert not r.of("submit")
    assert_clean(cluster, tmp_path)


def test_more_cpus_than_exist_and_bad_specs(cluster, tmp_path):
    cpus = cluster.cpus()
    jobs = [{"argv": ["true"], "cpus": cpus + 1}, {"argv": ["true"], "cpus": -1},
            {"argv": []}, {"argv": ["true"], "env": ["NOEQUALS"]}, {"argv": ["true"], "timeout_s": -1}]
    r = slurm(cluster, tmp_path, jobs, wait_s=5)
    assert r.rc == 0
    errs = r.of("submit_error")
    assert [e["i"] for e in errs] == [0, 1, 2, 3, 4]
    assert all(e["code"] == "bad_request" for e in errs), errs
    assert "CPUs" in errs[0]["message"] and "%d" % (cpus + 1) in errs[0]["message"]
    assert errs[1]["message"] == "cpus is negative (-1)"
    assert errs[2]["message"] == "the command is empty"
    assert "NAME=value" in errs[3]["message"]
    assert not r.of("submit")
    assert_clean(cluster, tmp_path)


def test_unreachable_controller_is_a_clear_error(cluster, tmp_path):
    dead = cluster.dead_conf()
    sc = {"executor": "slurm", "spool": str(tmp_path / "spool"), "slurm_conf": str(dead), "wait_s": 5,
          "jobs": [{"argv": ["sh", "-c", "echo must-not-run"]}, {"argv": ["true"]}]}
    r = run_scenario(sc)
    assert r.rc == 0, (r.events, r.stderr)
    errs = r.of("submit_error")
    assert len(errs) == 2, r.events
    for e in errs:
        assert e["code"] == "unavailable"
        assert "Unable to contact slurm controller" in e["message"], e
    assert not r.of("submit")
    # nothing reached the real controller either
    assert not cluster.live_jobs()
    assert_clean(cluster, tmp_path)


def test_no_slurm_commands_is_a_clear_error(tmp_path):
    sc = {"executor": "slurm", "spool": str(tmp_path / "spool"), "jobs": [{"argv": ["true"]}]}
    r = run_scenario(sc, env=dict(os.environ, PATH=str(tmp_path)))
    assert r.rc == 2, (r.events, r.stderr)
    err = r.of("pool_error")[0]
    assert err["code"] == "unavailable" and "sbatch is not in PATH" in err["message"]


def test_a_second_pool_on_the_same_spool_is_refused(cluster, tmp_path):
    spool = tmp_path / "spool"
    first = subprocess.Popen([slurmexec_bin()], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env=cluster.env)
    first.stdin.write(json.dumps({"spool": str(spool), "slurm_conf": str(cluster.conf),
                                  "jobs": [{"argv": ["sleep", "3"]}]}))
    first.stdin.close()
    try:
        assert json.loads(first.stdout.readline())["ev"] == "submit"
        r = slurm(cluster, tmp_path, [{"argv": ["true"]}])
        assert r.rc == 2, (r.events, r.stderr)
        assert r.of("pool_error")[0]["code"] == "conflict"
        first.stdout.read()
        assert first.wait(60) == 0
    finally:
        if first.poll() is None:
            first.terminate()
            first.wait()
    assert_clean(cluster, tmp_path)


def test_jobs_of_a_crashed_pool_are_cancelled_by_the_next(cluster, tmp_path):
    spool = tmp_path / "spool"
    crashed = subprocess.Popen([slurmexec_bin()], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    crashed.stdin.write(json.dumps({"spool": str(spool), "slurm_conf": str(cluster.conf),
                                    "jobs": [{"argv": ["sleep", "300"]}]}))
    crashed.stdin.close()
    for line in crashed.stdout:
        if json.loads(line)["ev"] == "start":
            break
    crashed.kill()
    crashed.wait()
    assert len(cluster.live_jobs()) == 1
    r = slurm(cluster, tmp_path, [])
    assert r.rc == 0
    assert_clean(cluster, tmp_path)


def test_local_and_slurm_deliver_the_same(cluster, tmp_path):
    """The same scenario through both executors: the same lines and results."""
    jobs = [{"argv": ["sh", "-c", "seq 1 50; echo e1 >&2; seq 51 60; exit 4"]},
            {"argv": ["sh", "-c", "printf 'x\\ny'"]},
            {"argv": ["sh", "-c", "kill -TERM $$"]}]
    results = {}
    for kind in ("local", "slurm"):
        sc = {"executor": kind, "spool": str(tmp_path / ("spool-" + kind)), "slurm_conf": str(cluster.conf),
              "jobs": jobs, "cpus": 2}
        r = run_scenario(sc)
        assert r.rc == 0, (kind, r.events, r.stderr)
        results[kind] = [(r.lines(r.job(i)), r.lines(r.job(i), "err"),
                          {k: r.exit(r.job(i))[k] for k in ("started", "exit_code", "signal", "error")})
                         for i in range(len(jobs))]
    assert results["local"] == results["slurm"]
    assert_clean(cluster, tmp_path)


# --- the scheduler: both executors side by side ------------------------------


def sched(cluster, tmp_path, jobs, env=None, **kw):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    sc = {"executor": "sched", "home": str(home), "slurm_conf": str(cluster.conf), "jobs": jobs}
    sc.update(kw)
    return run_scenario(sc, env=env)


def test_scheduler_runs_jobs_on_the_executor_they_name(cluster, tmp_path):
    jobs = [{"argv": ["sh", "-c", "echo on-local"], "on": "local"},
            {"argv": ["sh", "-c", "echo on-slurm $SLURM_JOB_ID"], "on": "slurm", "inherit_env": True},
            {"argv": ["sh", "-c", "echo on-default"]},
            {"argv": ["true"], "on": "pbs"},
            {"argv": ["sleep", "100"], "on": "slurm", "cancel": "start"}]
    r = sched(cluster, tmp_path, jobs)
    assert r.rc == 0, (r.events, r.stderr)
    pools = {e["job"]: e["pool"] for e in r.of("pool")}
    assert pools == {1: "local", 2: "slurm", 3: "local", 5: "slurm"}
    assert r.lines(1) == ["on-local"] and r.lines(3) == ["on-default"]
    line = r.lines(2)[0]
    assert line.startswith("on-slurm ") and line.split()[1].isdigit()  # Slurm's job id
    err = r.of("submit_error")[0]
    assert err["i"] == 3 and err["code"] == "bad_request" and '"pbs"' in err["message"]
    ex = r.exit(5)
    assert ex["cancelled"] and ex["started"]
    assert "the Slurm executor is ready" in r.stderr
    assert [p.name for p in (tmp_path / "home" / "run" / "slurm").iterdir()] == [".lock"]
    # a cancelled job may still be COMPLETING in Slurm for a moment
    assert wait_until(lambda: not cluster.live_jobs(), timeout=30), cluster.live_jobs()


def test_scheduler_with_slurm_as_default(cluster, tmp_path):
    jobs = [{"argv": ["sh", "-c", "echo a"]}, {"argv": ["sh", "-c", "echo b"], "on": "local"}]
    r = sched(cluster, tmp_path, jobs, default="slurm", spool=str(tmp_path / "spool"))
    assert r.rc == 0, (r.events, r.stderr)
    assert {e["job"]: e["pool"] for e in r.of("pool")} == {1: "slurm", 2: "local"}
    assert r.lines(1) == ["a"] and r.lines(2) == ["b"]
    assert_clean(cluster, tmp_path)


def test_scheduler_without_slurm_refuses_slurm_jobs_only(tmp_path):
    jobs = [{"argv": ["true"], "on": "slurm"}, {"argv": ["/bin/echo", "still-local"], "on": "local"}]
    home = tmp_path / "home"
    home.mkdir()
    r = run_scenario({"executor": "sched", "home": str(home), "jobs": jobs},
                     env=dict(os.environ, PATH=str(tmp_path)))
    assert r.rc == 0, (r.events, r.stderr)
    err = r.of("submit_error")[0]
    assert err["i"] == 0 and err["code"] == "unavailable" and "sbatch is not in PATH" in err["message"]
    assert r.lines(2) == ["still-local"]


# --- the server ---------------------------------------------------------------


def test_server_with_the_slurm_executor_starts_and_stops(cluster, tmp_path):
    srv = Server(tmp_path / "home", ["--executor", "slurm", "--slurm-conf", str(cluster.conf),
                                     "--slurm-partition", "debug"])
    srv.start()
    try:
        assert wait_until(lambda: "Slurm executor is ready" in srv.output(), timeout=10), srv.output()
        assert (tmp_path / "home" / "run" / "slurm" / ".lock").exists()
        r = srv.api.get("/health")
        assert r.status == 200
    finally:
        stop_checked(srv)
    # the pool's directory is gone with it
    assert [p.name for p in (tmp_path / "home" / "run" / "slurm").iterdir()] == [".lock"]


def test_server_refuses_to_start_without_slurm(tmp_path):
    home = tmp_path / "home"
    env = dict(os.environ, PATH="/nonexistent")
    r = subprocess.run([oast_bin(), "server", "--home", str(home), "--listen", "127.0.0.1:0",
                        "--executor", "slurm"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "sbatch is not in PATH" in r.stderr


def test_server_flags_are_checked(tmp_path):
    r = subprocess.run([oast_bin(), "server", "--home", str(tmp_path / "h"), "--executor", "pbs"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and '--executor is local or slurm, got "pbs"' in r.stderr
    r = subprocess.run([oast_bin(), "server", "--home", str(tmp_path / "h"), "--slurm-spool", "rel/dir"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "--slurm-spool wants an absolute path" in r.stderr


# --- experiments through `oast server --executor slurm` -------------------------


@pytest.fixture(scope="module")
def slurm_world(cluster, tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("home"), ["--executor", "slurm", "--slurm-conf", str(cluster.conf)])
    srv.start()
    yield World(srv)
    stop_checked(srv)
    assert not cluster.live_jobs()


def slurm_jobs_named(cluster, prefix="oast-"):
    out = cluster.run("squeue", "--noheader", "--states=all", "--format=%i|%j|%T").stdout
    return [line.split("|") for line in out.splitlines() if line.split("|")[1].startswith(prefix)]


#: Slurm's states of a job that has ended (COMPLETING is not one: the server may see the end first).
SLURM_ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
               "BOOT_FAIL", "DEADLINE"}


def ended_jobs(cluster, before, n):
    """{id: state} of our jobs not in `before`, once there are n and Slurm says each has ended (else as they are)."""
    def now():
        return {j[0]: j[2] for j in slurm_jobs_named(cluster) if j[0] not in before}
    return wait_until(lambda: (lambda o: o if len(o) >= n and set(o.values()) <= SLURM_ENDED else None)(now()),
                      timeout=30) or now()


REPORTING = """
x = P.get("x", 0)
print("slurm job %s on %s" % (os.environ.get("SLURM_JOB_ID"), os.environ.get("SLURMD_NODENAME")), flush=True)
for step in range(3):
    R.report(-(x - 2) ** 2 + step / 100, step=step)
print("trial x=%s done" % x)
R.final(-(x - 2) ** 2 + 0.02)
"""


def test_experiment_trials_run_as_slurm_jobs(cluster, slurm_world):
    w = slurm_world
    api, key, p = w.api, w.alice.key, w.new_project("slx")
    before = {j[0] for j in slurm_jobs_named(cluster)}
    b = body("onslurm", REPORTING, searchspace={"x": {"type": "discrete", "values": [1, 2, 3]}},
             optimizer="grid", parallelism=2)
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    assert d["state"] == "finished", d
    trials = by_number(d)
    assert [t["params"] for t in trials] == [{"x": 1}, {"x": 2}, {"x": 3}]
    assert all(t["state"] == "finished" and t["exit_code"] == 0 for t in trials)
    assert d["best"]["params"] == {"x": 2} and d["best"]["metric"] == pytest.approx(0.02)
    # Each trial was its own Slurm job, and its output landed in the project as with local runs.
    root = exp_dir(w.server, p, d["id"])
    job_ids = set()
    for t in trials:
        text = (root / t["logdir"] / "output.log").read_text()
        first = text.splitlines()[0].split()
        assert first[:2] == ["slurm", "job"] and first[2].isdigit() and first[4] == "localhost", text
        job_ids.add(first[2])
        assert "trial x=%d done" % t["params"]["x"] in text
    assert len(job_ids) == 3
    ours = ended_jobs(cluster, before, 3)
    assert set(ours) == job_ids and set(ours.values()) == {"COMPLETED"}
    text = logs(api, key, p, d["id"])
    assert all(line.startswith("[trial ") or line.startswith("[experiment] ") for line in text.splitlines())
    assert text.count("trial x=") == 3
    assert wait_until(lambda: not cluster.live_jobs(), timeout=30), cluster.live_jobs()


def test_experiment_stop_cancels_its_slurm_jobs(cluster, slurm_world):
    w = slurm_world
    api, key, p = w.api, w.alice.key, w.new_project("sls")
    b = body("stopme", "print('sleeping', flush=True); time.sleep(1000)",
             searchspace={"x": {"type": "discrete", "values": [1, 2, 3, 4]}}, optimizer="grid", parallelism=2)
    eid = create(api, key, p, b)["id"]
    wait_for(lambda: detail(api, key, p, eid)["counts"]["running"] == 2 and
             logs(api, key, p, eid).count("sleeping") == 2, what="two trials running on Slurm")
    assert len(cluster.live_jobs()) == 2
    assert_status(api.call("POST", "/projects/%s/experiments/%d/stop" % (p, eid), w.bob.key), 200)
    d = wait_done(api, key, p, eid)
    assert d["state"] == "killed"
    assert sorted(t["state"] for t in d["trials"]) == ["killed", "killed"]
    assert wait_until(lambda: not cluster.live_jobs(), timeout=30), cluster.live_jobs()


def test_experiment_trial_timeout_on_slurm(cluster, slurm_world):
    w = slurm_world
    api, key, p = w.api, w.alice.key, w.new_project("slt")
    b = body("timeout", "print('up', flush=True); time.sleep(1000)", timeout_s=2)
    d = wait_done(api, key, p, create(api, key, p, b)["id"])
    t = d["trials"][0]
    assert t["state"] == "failed" and t["timed_out"] is True and "timed out" in t["error"]
    assert wait_until(lambda: not cluster.live_jobs(), timeout=30), cluster.live_jobs()


def test_experiment_asking_for_more_gpus_than_slurm_has_is_refused(cluster, slurm_world):
    w = slurm_world
    api, key, p = w.api, w.alice.key, w.new_project("slg")
    b = body("greedy", "R.final(1)", resources={"gpus": cluster.gpus() + 1})
    r = api.call("POST", "/projects/%s/experiments" % p, key, json=b)
    assert_error(r, 400)
    assert "resources.gpus" in r.json()["error"]["message"]
    assert api.get("/projects/%s/experiments" % p, key).json()["items"] == []
    assert not cluster.live_jobs()


def test_job_runs_as_a_slurm_job_and_its_log_lands_in_the_project(cluster, slurm_world):
    """Issue 6: a job run through the Slurm executor, with its log under Logs/ as for local runs."""
    w = slurm_world
    p = w.new_project("sljob")
    project = w.alice.conn.projects.get(p)
    script = 'echo "job ran"\necho "args: $*"\nexit 0\n'
    project.files.upload(script.encode(), "Resources/hello.sh")
    before = {j[0] for j in slurm_jobs_named(cluster)}
    project.jobs.create("hello", "shell", "Resources/hello.sh", args=["a", "b"])
    run = project.jobs.run("hello")
    run = project.jobs.wait("hello", run["id"], timeout=120)
    assert run["state"] == "succeeded" and run["exit_code"] == 0, run
    text = project.jobs.logs("hello", run["id"])
    assert "job ran" in text and "args: a b" in text, text
    # The run was one Slurm job (jobs get a clean environment, so Slurm's own
    # variables do not reach the program; the controller's records show it).
    ours = ended_jobs(cluster, before, 1)
    assert list(ours.values()) == ["COMPLETED"], ours
    # Its log is a file of the project, readable through the files API.
    logs = project.files.list("Logs/jobs/hello")
    assert any(item["name"].startswith(str(run["id"])) for item in logs), logs
    assert wait_until(lambda: not cluster.live_jobs(), timeout=30), cluster.live_jobs()


def test_failing_job_on_slurm_reports_its_exit_code(cluster, slurm_world):
    w = slurm_world
    p = w.new_project("sljobf")
    project = w.alice.conn.projects.get(p)
    project.files.upload(b'echo "about to fail"\nexit 7\n', "Resources/fail.sh")
    project.jobs.create("fail", "shell", "Resources/fail.sh")
    run = project.jobs.run("fail")
    run = project.jobs.wait("fail", run["id"], timeout=120)
    assert run["state"] == "failed" and run["exit_code"] == 7, run
    assert "about to fail" in project.jobs.logs("fail", run["id"])
    assert wait_until(lambda: not cluster.live_jobs(), timeout=30), cluster.live_jobs()
