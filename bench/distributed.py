"""
distributed.py — launching a distributed run through the experiment
service against plain mpirun (run by bench/distributed.sh, which builds
the worker and starts the server).

Three ways of running the same N workers (bench/dist_worker.c: each
notes when it starts, holds HOLD_MS, notes when it exits), in turn in
every round:
  service          an experiment with "distribution": {"workers": N,
                   "strategy": "allreduce"}: N processes from the
                   server's pool, each with its rank's environment
  service-mpi      the same with "strategy": "mpi": one mpirun -np N that
                   the server starts, its ranks' output tagged and followed
  mpirun           plain `mpirun -np N` from this script, the peer
Two figures each:
  launch_ms  from the moment the launcher is asked (before the POST, or
             before running mpirun) to the moment the last of the N
             workers runs;
  result_ms  from the last worker's exit to the moment the caller knows
             the run's result: the experiment's log stream (followed since
             the POST) ends, which it does once the end is committed, and
             the state read back is "finished"; for mpirun, its return.
The table gives the median and the best of ROUNDS; JSON lines go to
bench/results/distributed.jsonl, marked with the data home's filesystem
($HOME_FS).

usage: distributed.py ADDR KEY WORKER  (knobs in the environment: N, ROUNDS, HOLD_MS, BENCH_RESULTS)
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def call(addr, key, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(addr + "/api/v1" + path, data=data, method=method,
                                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.read()


def now_us():
    return time.time_ns() // 1000


def read_times(path, n):
    starts, exits = [], []
    with open(path) as f:
        for line in f:
            kind, us = line.split()
            (starts if kind == "start" else exits).append(int(us))
    if len(starts) != n or len(exits) != n:
        sys.exit("distributed.py: %s: %d starts and %d exits, not %d" % (path, len(starts), len(exits), n))
    return max(starts), max(exits)


def run_service(addr, key, project, worker, times, n, hold_ms, strategy):
    body = {"name": "bench_" + strategy, "command": [worker, times, str(hold_ms)],
            "distribution": {"workers": n, "strategy": strategy}}
    t0 = now_us()
    d = json.loads(call(addr, key, "POST", "/projects/%s/experiments" % project, body))
    # The stream ends once the experiment's end is committed.
    call(addr, key, "GET", "/projects/%s/experiments/%d/logs?follow=true" % (project, d["id"]))
    t1 = now_us()
    d = json.loads(call(addr, key, "GET", "/projects/%s/experiments/%d" % (project, d["id"])))
    if d["state"] != "finished" or [w["state"] for w in d["workers"]] != ["finished"] * n:
        sys.exit("distributed.py: the %s run did not finish: %s" % (strategy, json.dumps(d)[:2000]))
    return t0, t1


def run_mpirun(worker, times, n, hold_ms):
    cmd = ["mpirun", "-np", str(n), "--oversubscribe", "--bind-to", "none"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    t0 = now_us()
    subprocess.run(cmd + [worker, times, str(hold_ms)], check=True, stdout=subprocess.DEVNULL)
    return t0, now_us()


def main(addr, key, worker):
    n, rounds, hold_ms = int(os.environ["N"]), int(os.environ["ROUNDS"]), int(os.environ["HOLD_MS"])
    call(addr, key, "POST", "/projects", {"name": "bench_dist"})
    methods = ("service", "service-mpi", "mpirun")
    per = {m: [] for m in methods}
    load = open("/proc/loadavg").read().split()[:3]
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for m in methods:
                times = os.path.join(tmp, "%s-%d" % (m, r))
                if m == "mpirun":
                    t0, t1 = run_mpirun(worker, times, n, hold_ms)
                else:
                    strategy = "allreduce" if m == "service" else "mpi"
                    t0, t1 = run_service(addr, key, "bench_dist", worker, times, n, hold_ms, strategy)
                last_start, last_exit = read_times(times, n)
                per[m].append(((last_start - t0) / 1000.0, (t1 - last_exit) / 1000.0))
    med = {m: (statistics.median(a for a, _ in v), statistics.median(b for _, b in v)) for m, v in per.items()}
    best = {m: (min(a for a, _ in v), min(b for _, b in v)) for m, v in per.items()}
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    names = {"service": "service, allreduce", "service-mpi": "service, mpi", "mpirun": "mpirun -np N"}
    home_fs = os.environ.get("HOME_FS", "?")
    print("distributed: N=%d workers holding %d ms, %d rounds, data home on %s, %d CPUs (%s), load %s" % (
        n, hold_ms, rounds, home_fs, os.cpu_count(), cpu, " ".join(load)))
    print("%-20s %14s %14s %14s %14s" % ("", "launch_ms med", "launch_ms best", "result_ms med", "result_ms best"))
    for m in methods:
        print("%-20s %14.1f %14.1f %14.1f %14.1f" % (names[m], med[m][0], best[m][0], med[m][1], best[m][1]))
    machine = {"cpus": os.cpu_count(), "cpu": cpu, "kernel": "%s %s" % (platform.system(), platform.release()),
               "loadavg_before": " ".join(load)}
    date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with open(os.environ["BENCH_RESULTS"], "a") as f:
        for m in ("service", "service-mpi"):
            f.write(json.dumps({"figure": "distributed." + m, "date": date, "commit": os.environ.get("COMMIT", "?"),
                                "machine": machine, "home_fs": home_fs, "workers": n, "hold_ms": hold_ms, "rounds": rounds,
                                "launch_ms": round(med[m][0], 1), "result_ms": round(med[m][1], 1),
                                "launch_ms_best": round(best[m][0], 1), "result_ms_best": round(best[m][1], 1),
                                "peer": names["mpirun"], "peer_launch_ms": round(med["mpirun"][0], 1),
                                "peer_result_ms": round(med["mpirun"][1], 1),
                                "peer_launch_ms_best": round(best["mpirun"][0], 1),
                                "peer_result_ms_best": round(best["mpirun"][1], 1)},
                               separators=(",", ":")) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
