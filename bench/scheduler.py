"""
scheduler.py — the experiment scheduler's figures (run by bench/scheduler.sh,
which builds the programs and starts the server).

1. overhead: N no-op trials (a C program that exits at once) at
   parallelism P through the experiment service (a grid over an integer
   with N points, POST to the end of the experiment), against spawning
   the same program N times with `xargs -P P` in the same run. Each round
   runs xargs and then the service; the ratio of a round compares the two
   under the same machine load, and the best and median round ratios are
   reported, with the CPU time both spent (server plus trials against
   xargs plus its children), which depends far less on what else runs.
   Aim: service / xargs <= 1.2.
2. utilization: trials sleeping random durations (a random search over
   the duration) at parallelism P; from the start and end times the
   server records, the share of slot-time spent inside trials between the
   first start and the last end. Aim: >= 98%.
3. asha_vs_grid: the example trial (examples/trial_curve.c) on synthetic
   learning curves, step_ms per step: a grid over K configurations at the
   full budget R, and ASHA (eta 3, budgets 1..R) over the same K points;
   for each, the wall time from creating the experiment until a trial
   reached the grid's best metric. Aim: grid / ASHA >= 3.

usage: scheduler.py ADDR KEY NOOP SLEEPER CURVE  (environment knobs: see scheduler.sh)
"""

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime


def call(addr, key, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(addr + "/api/v1" + path, data=data, method=method,
                                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read() or b"null")


def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


class Bench:
    def __init__(self, addr, key, project):
        self.addr, self.key, self.project = addr, key, project

    def run(self, body, poll=0.05):
        """Creates an experiment and waits for its end; (seconds, detail)."""
        t0 = time.monotonic()
        d = call(self.addr, self.key, "POST", "/projects/%s/experiments" % self.project, body)
        eid = d["id"]
        while True:
            items = call(self.addr, self.key, "GET", "/projects/%s/experiments" % self.project)["items"]
            state = next(i["state"] for i in items if i["id"] == eid)
            if state != "running":
                break
            time.sleep(poll)
        wall = time.monotonic() - t0
        d = call(self.addr, self.key, "GET", "/projects/%s/experiments/%d" % (self.project, eid))
        assert d["state"] == "finished", d["state"]
        return wall, d


def xargs_run(noop, n, p):
    """(wall seconds, CPU seconds of xargs and its children)."""
    with tempfile.TemporaryFile("w+") as f:
        f.write("".join("%d\n" % i for i in range(n)))
        f.seek(0)
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        subprocess.run(["xargs", "-P", str(p), "-n", "1", noop], stdin=f, check=True)
        wall = time.monotonic() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def server_cpu(pid):
    """CPU seconds of the server and its reaped children (the trials)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def overhead(b, noop, n, p, rounds, pid):
    rows = []
    for r in range(rounds):
        xw, xc = xargs_run(noop, n, p)
        body = {"name": "overhead", "command": [noop], "parallelism": p, "optimizer": "grid",
                "searchspace": {"i": {"type": "integer", "min": 1, "max": n}}}
        c0 = server_cpu(pid)
        sw, d = b.run(body, poll=0.2)
        sc = server_cpu(pid) - c0
        failed = d["counts"]["failed"]
        assert len(d["trials"]) == n and failed == 0, (len(d["trials"]), failed)
        rows.append((xw, sw, xc, sc))
        print("  round %d: xargs %.3f s (CPU %.3f s), service %.3f s (CPU %.3f s): wall ratio %.3f, CPU ratio %.3f"
              % (r + 1, xw, xc, sw, sc, sw / xw, sc / xc), flush=True)
    walls = sorted(sw / xw for xw, sw, _, _ in rows)
    cpus = sorted(sc / xc for _, _, xc, sc in rows)
    best = min(rows, key=lambda row: row[1] / row[0])
    return {"figure": "scheduler.overhead", "trials": n, "parallelism": p, "rounds": rounds,
            "xargs_s": round(best[0], 3), "service_s": round(best[1], 3), "ratio": round(walls[0], 3),
            "median_ratio": round(walls[len(walls) // 2], 3), "cpu_ratio": round(cpus[len(cpus) // 2], 3),
            "xargs_us_per_process": round(best[0] / n * 1e6, 1), "service_us_per_trial": round(best[1] / n * 1e6, 1),
            "service_cpu_us_per_trial": round(best[3] / n * 1e6, 1), "xargs_cpu_us_per_process": round(best[2] / n * 1e6, 1),
            "aim": "ratio <= 1.2"}


def utilization(b, sleeper, n, p, lo, hi, seed):
    body = {"name": "utilization", "command": [sleeper], "parallelism": p, "optimizer": "random", "num_trials": n,
            "seed": seed, "searchspace": {"d": {"type": "double", "min": lo, "max": hi}}}
    wall, d = b.run(body)
    starts = [ts(t["started"]) for t in d["trials"]]
    ends = [ts(t["ended"]) for t in d["trials"]]
    busy = sum(e - s for s, e in zip(starts, ends))
    span = max(ends) - min(starts)
    util = busy / (p * span)
    gaps = []
    # The idle time between a trial's end and the next start, per slot (ordered by start).
    order = sorted(zip(starts, ends))
    for k in range(p, len(order)):
        gaps.append(max(0.0, order[k][0] - sorted(e for _, e in order[:k])[k - p]))
    gaps.sort()
    return {"figure": "scheduler.utilization", "trials": n, "parallelism": p, "durations_s": [lo, hi],
            "busy_slot_s": round(busy, 3), "span_s": round(span, 3), "utilization": round(util, 4),
            "median_gap_ms": round(gaps[len(gaps) // 2] * 1e3, 2) if gaps else 0, "aim": "utilization >= 0.98"}


def reach_time(d, target):
    """Seconds from the experiment's creation until a trial reached target."""
    created = ts(d["created"])
    hits = [ts(t["ended"]) for t in d["trials"] if t["metric"] is not None and t["metric"] >= target - 1e-12]
    return min(hits) - created if hits else None


def asha_vs_grid(b, curve, k, rmax, step_ms, p, seed):
    xs = [round(i / (k - 1), 6) for i in range(k)]
    grid = {"name": "grid", "command": [curve], "parallelism": p, "optimizer": "grid",
            "searchspace": {"x": {"type": "discrete", "values": xs}, "steps": {"type": "discrete", "values": [rmax]},
                            "step_ms": {"type": "discrete", "values": [step_ms]}}}
    gwall, gd = b.run(grid)
    best = gd["best"]["metric"]
    asha = {"name": "asha", "command": [curve], "parallelism": p, "num_trials": k, "seed": seed,
            "optimizer": {"name": "asha", "reduction_factor": 3, "min_resource": 1, "max_resource": rmax},
            "searchspace": {"x": {"type": "discrete", "values": xs},
                            "step_ms": {"type": "discrete", "values": [step_ms]}}}
    awall, ad = b.run(asha)
    g_reach, a_reach = reach_time(gd, best), reach_time(ad, best)
    steps = sum(int(t["budget"]) for t in ad["trials"])
    return {"figure": "scheduler.asha_vs_grid", "configurations": k, "max_budget": rmax, "step_ms": step_ms,
            "parallelism": p, "grid_best": best, "asha_best": ad["best"]["metric"],
            "grid_trials": len(gd["trials"]), "asha_trials": len(ad["trials"]),
            "grid_steps": k * rmax, "asha_steps": steps,
            "grid_wall_s": round(gwall, 3), "asha_wall_s": round(awall, 3),
            "grid_reach_s": round(g_reach, 3), "asha_reach_s": round(a_reach, 3) if a_reach else None,
            "speedup": round(g_reach / a_reach, 2) if a_reach else None, "aim": "speedup >= 3"}


def main():
    addr, key, noop, sleeper, curve = sys.argv[1:6]
    env = os.environ.get
    n, p, rounds = int(env("N", "10000")), int(env("P", "2")), int(env("ROUNDS", "2"))
    call(addr, key, "POST", "/projects", {"name": "bench"})
    b = Bench(addr, key, "bench")
    machine = "%d CPUs, %s, %s" % (os.cpu_count(), platform.processor() or platform.machine(), platform.platform())
    try:
        with open("/proc/cpuinfo") as f:
            model = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
        machine = "%d CPUs, %s, Linux %s" % (os.cpu_count(), model, platform.release())
    except (OSError, StopIteration):
        pass
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out = []
    figures = env("FIGURES", "overhead,utilization,asha").split(",")
    if "overhead" in figures:
        print("overhead: %d no-op trials at parallelism %d, %d rounds, data home on %s"
              % (n, p, rounds, env("HOME_FS", "?")), flush=True)
        out.append(overhead(b, noop, n, p, rounds, int(env("SERVER_PID"))))
    if "utilization" in figures:
        print("utilization: random sleeps", flush=True)
        out.append(utilization(b, sleeper, int(env("UTIL_TRIALS", "200")), p, float(env("UTIL_MIN", "0.05")),
                               float(env("UTIL_MAX", "0.25")), 1))
    if "asha" in figures:
        print("asha vs grid: synthetic curves", flush=True)
        out.append(asha_vs_grid(b, curve, int(env("ASHA_K", "27")), int(env("ASHA_R", "27")),
                                int(env("ASHA_STEP_MS", "50")), p, 1))
    for o in out:
        o["time"] = when
        o["machine"] = machine
        o["home_fs"] = env("HOME_FS", "?")
        print(json.dumps(o))
    with open(env("BENCH_RESULTS", "bench/results/scheduler.jsonl"), "a") as f:
        for o in out:
            f.write(json.dumps(o) + "\n")


if __name__ == "__main__":
    main()
