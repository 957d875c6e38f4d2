"""
exptest — what the experiment suites share: trial programs sent inline,
creating experiments, waiting for them, a TensorBoard event-file reader
written from the TFRecord framing, and the C example trial built against
liboast.

Trials here are small Python programs (sent in the experiment's "files",
run with the server's python3, reporting with oast.experiment.Reporter)
or the C example examples/trial_curve.c.
"""

import base64
import json
import os
import shutil
import struct
import subprocess
import textwrap
import time
from pathlib import Path

from oasttest import REPO, assert_status
from tfrecordtest import protobuf_fields, tfrecords

#: How long an experiment of a test may take before the test gives up.
DONE_TIMEOUT_S = 120


def py_trial(source, name="trial.py"):
    """(files, command) running `source` (dedented) as a Python trial."""
    text = textwrap.dedent(source).lstrip()
    return {name: base64.b64encode(text.encode()).decode()}, [name]


#: A preamble for trial sources: params, the reporter, the log folder.
PRELUDE = """
import json, os, sys, time
from oast.experiment import Reporter, EarlyStop
P = json.loads(os.environ["OAST_PARAMS"])
R = Reporter()
"""


def body(name="e", source=None, command=None, files=None, **kw):
    """An experiment body; `source` is a Python trial (PRELUDE prepended)."""
    b = {"name": name}
    if source is not None:
        f, c = py_trial(PRELUDE + textwrap.dedent(source))
        b["files"] = f
        b["command"] = c
    if command is not None:
        b["command"] = command
    if files is not None:
        b.setdefault("files", {}).update(files)
    b.update(kw)
    return b


def create(api, key, project, b, status=201):
    r = api.call("POST", "/projects/%s/experiments" % project, key, json=b)
    assert_status(r, status)
    return r.json()


def detail(api, key, project, eid):
    r = api.get("/projects/%s/experiments/%d" % (project, eid), key)
    assert_status(r, 200)
    return r.json()


def wait_done(api, key, project, eid, timeout=DONE_TIMEOUT_S):
    """Polls until the experiment is no longer running; returns its detail."""
    deadline = time.monotonic() + timeout
    while True:
        d = detail(api, key, project, eid)
        if d["state"] != "running":
            return d
        assert time.monotonic() < deadline, "experiment %d still running after %ss: %s" % (
            eid, timeout, json.dumps(d)[:3000])
        time.sleep(0.1)


def wait_for(cond, timeout=DONE_TIMEOUT_S, step=0.1, what="a condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        assert time.monotonic() < deadline, "timed out waiting for %s" % what
        time.sleep(step)


def by_number(d):
    return sorted(d["trials"], key=lambda t: t["number"])


def exp_dir(server, project, eid):
    return server.project_dir(project) / "Experiments" / str(eid)


def logs(api, key, project, eid, follow=False, offset=None):
    q = "?follow=%s" % ("true" if follow else "false")
    if offset is not None:
        q += "&offset=%d" % offset
    r = api.get("/projects/%s/experiments/%d/logs%s" % (project, eid, q), key)
    assert_status(r, 200)
    return r.text


# --- processes ---------------------------------------------------------------------


def processes_with_env(var, value):
    """PIDs of this user's processes whose environment has var=value."""
    found = []
    want = ("%s=%s" % (var, value)).encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            env = open("/proc/%s/environ" % d, "rb").read().split(b"\0")
        except OSError:
            continue
        if want in env:
            found.append(int(d))
    return found


def cmdline(pid):
    try:
        return open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")[:-1]
    except OSError:
        return None


def alive(pid):
    """Running and not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# --- TensorBoard event files -----------------------------------------------------------

def tf_events(path):
    """The events of an event file as dicts: wall_time, step, file_version
    or values {tag: simple_value} (tensorflow.Event / Summary)."""
    events = []
    for rec in tfrecords(path):
        ev = {"step": 0, "values": {}}
        for num, wt, v in protobuf_fields(rec):
            if num == 1 and wt == 1:
                ev["wall_time"] = struct.unpack("<d", v)[0]
            elif num == 2 and wt == 0:
                ev["step"] = v
            elif num == 3 and wt == 2:
                ev["file_version"] = v.decode()
            elif num == 5 and wt == 2:
                for snum, swt, sv in protobuf_fields(v):
                    if snum != 1:
                        continue
                    tag, val = None, None
                    for vnum, vwt, vv in protobuf_fields(sv):
                        if vnum == 1:
                            tag = vv.decode()
                        elif vnum == 2 and vwt == 5:
                            val = struct.unpack("<f", vv)[0]
                    ev["values"][tag] = val
        events.append(ev)
    return events


# --- the C example trial ------------------------------------------------------------------


def build_c_trial(dest_dir):
    """Builds examples/trial_curve.c against liboast; returns its path."""
    lib = Path(os.environ.get("OAST_LIB") or REPO / "build" / "liboast.so")
    cc = shutil.which(os.environ.get("CC", "cc")) or "cc"
    out = Path(dest_dir) / "trial_curve"
    cmd = [cc, "-o", str(out), str(REPO / "examples" / "trial_curve.c"), "-I", str(REPO / "include"),
           "-L", str(lib.parent), "-loast", "-lm", "-Wl,-rpath," + str(lib.parent)]
    syms = subprocess.run(["nm", "-D", str(lib)], capture_output=True, text=True).stdout
    if "__asan_" in syms:
        cmd.append("-fsanitize=address,undefined")
    subprocess.run(cmd, check=True)
    return out


def file_b64(path):
    return base64.b64encode(Path(path).read_bytes()).decode()
