"""
jobstest — what the jobs and pipelines suites share: a server with
enough executor slots for jobs that wait, programs uploaded into a
project, waiting for runs, running the CLI, and a tiny webhook receiver.

Jobs that must stay running while a test looks at them wait for a
"gate" file to appear (a path in the test's tmp dir, given as an
argument); the test opens the gate by creating the file. So the suites
check behaviour (what ran, in what order, with which outcome) and never
depend on how fast anything is.
"""

import http.server
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from oasttest import Server, World, oast_bin, stop_checked, wait_until

RUN_TIMEOUT_S = 60

#: A shell program that records its task and waits for its gate when given one:
#: args: DIR NAME GATE|- [DEP...]; fails with 9 when a DEP has no mark in DIR,
#: fails with 1 while its attempt number is at most the number in
#: DIR/NAME.failures, exits with the number in DIR/NAME.exit when that file
#: exists, else marks DIR/NAME.done.
MARK_SH = r"""
dir="$1"; me="$2"; gate="$3"; shift 3
for dep in "$@"; do [ -f "$dir/$dep.done" ] || { echo "missing $dep"; exit 9; }; done
echo $$ > "$dir/$me.pid"
n=$(cat "$dir/$me.count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$dir/$me.count"
echo "$me attempt $n"
if [ "$gate" != "-" ]; then while [ ! -e "$gate" ]; do sleep 0.05; done; fi
if [ -f "$dir/$me.failures" ] && [ $n -le $(cat "$dir/$me.failures") ]; then echo "$me fails"; exit 1; fi
if [ -f "$dir/$me.exit" ]; then code=$(cat "$dir/$me.exit"); echo "$me exits $code"; exit "$code"; fi
touch "$dir/$me.done"
echo "$me done"
"""


def start_jobs_server(home):
    """A server with 8 CPU slots, so several waiting jobs never block the others."""
    return Server(home, ["--cpus", "8"]).start()


@pytest.fixture(scope="module")
def jserver(tmp_path_factory):
    srv = start_jobs_server(tmp_path_factory.mktemp("jobs-home"))
    yield srv
    stop_checked(srv)


@pytest.fixture(scope="module")
def jworld(jserver):
    return World(jserver)


def put_file(world, project, path, content):
    """alice (the data owner) uploads content (str or bytes) to project/path."""
    data = content.encode() if isinstance(content, str) else content
    world.alice.conn.projects.get(project).files.upload(data, path)


def project_of(world, project, user=None):
    return (user or world.alice).conn.projects.get(project)


def wait_run(jobs, name, run_id, timeout=RUN_TIMEOUT_S):
    """The job run once it has ended."""
    return jobs.wait(name, run_id, timeout=timeout, poll=0.05)


def wait_prun(pipelines, name, run_id, timeout=RUN_TIMEOUT_S):
    return pipelines.wait(name, run_id, timeout=timeout, poll=0.05)


def task(run, name):
    for t in run["tasks"]:
        if t["name"] == name:
            return t
    raise AssertionError("no task %s in %r" % (name, run))


def alive(pid):
    """Whether process pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def wait_file(path, timeout=RUN_TIMEOUT_S):
    assert wait_until(lambda: Path(path).exists(), timeout=timeout, step=0.02), "%s never appeared" % path
    return Path(path)


def wait_pid(path, timeout=RUN_TIMEOUT_S):
    """The process id a job wrote into path (waiting for the whole line)."""
    def read():
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            return None
        return int(text) if text.endswith("\n") else None
    pid = wait_until(read, timeout=timeout, step=0.02)
    assert pid, "%s never held a process id" % path
    return pid


def cli(server, key, *args, input=None, timeout=120):
    """Runs `oast ARGS` against server with key; returns the CompletedProcess (text)."""
    env = dict(os.environ, OAST_ADDR=server.addr, OAST_API_KEY=key or "", OAST_CONFIG="/dev/null")
    if not key:
        env.pop("OAST_API_KEY")
    return subprocess.run([oast_bin(), *args], env=env, capture_output=True, text=True, input=input, timeout=timeout)


class Hook:
    """A tiny HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it."""

    def __init__(self, status=200):
        self.bodies = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                hook.bodies.append({"path": self.path, "type": self.headers.get("Content-Type"),
                                    "json": json.loads(body)})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def poll(fn, timeout=RUN_TIMEOUT_S, step=0.05):
    """fn() until truthy; asserts it became truthy."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.monotonic() < deadline, "condition not met within %ss" % timeout
        time.sleep(step)
