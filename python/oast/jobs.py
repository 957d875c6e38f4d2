"""
oast.jobs — jobs, their runs and logs; pipelines and their runs.

A job is a program in one of the project's datasets (a Python script, a
shell script, a notebook whose code cells run in order, or an
executable) with arguments, environment, an optional cron schedule, a
timeout and CPU/GPU slots. Each run acts as the user who started it,
with that user's role, through a token confined to the project; inside a
run, ``oast.connect()`` needs no arguments (OAST_ADDR and OAST_API_KEY
are set). A run's output goes to ``Logs/jobs/<job>/<run>.log``.

A pipeline is a YAML or JSON document of tasks with ``depends_on``,
retries with backoff, timeouts, trigger rules and sensors (see
docs/jobs.md). Its runs keep each task's state and attempts; a finished
run can be rerun from a failed task, keeping what succeeded.

    jobs = project.jobs
    jobs.create("train", "python", "Resources/train.py", args=["--epochs", "3"])
    run = jobs.run("train", follow=True)       # streams the log, returns the final run
    assert run.state == "succeeded"

    p = project.pipelines
    p.create(open("pipeline.yaml").read())
    r = p.run("nightly", wait=True)
    print([(t.name, t.state, t.attempts) for t in r.tasks])
"""

import json
import sys
import time

from .client import Record, quote_path

#: States after which a job run or pipeline run does not change any more.
JOB_RUN_ENDED = ("succeeded", "failed", "killed")
PIPELINE_RUN_ENDED = ("succeeded", "failed", "killed")
POLL_S = 0.2


def _records(items):
    return [Record(x) if isinstance(x, dict) else x for x in items]


def _run_record(run):
    """A run Record whose tasks (pipeline runs) are Records too."""
    run = Record(run)
    if isinstance(run.get("tasks"), list):
        run["tasks"] = _records(run["tasks"])
    return run


def _wait(get, ended, timeout, poll, what):
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        run = get()
        if run["state"] in ended:
            return run
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError("%s is still %s after %ss" % (what, run["state"], timeout))
        time.sleep(poll)


class _Definitions:
    """What jobs and pipelines share: definitions by name and their runs."""

    _collection = None  # "jobs" or "pipelines"
    _ended = ()

    def __init__(self, project):
        self._p = project

    def _path(self, name="", suffix=""):
        return "/" + self._collection + ("/" + quote_path(name) if name else "") + suffix

    def list(self):
        """Every definition of the project (with its next scheduled run and last run)."""
        return self._p.request("GET", self._path())["items"]

    def get(self, name):
        return self._p.request("GET", self._path(name))

    def delete(self, name):
        """Deletes the definition and its run history (409 while a run is in progress)."""
        self._p.request("DELETE", self._path(name))

    def runs(self, name, limit=None):
        """Its runs, newest first."""
        q = {"limit": limit} if limit else None
        return _records(self._p.request("GET", self._path(name, "/runs"), query=q)["items"])

    def get_run(self, name, run_id):
        """One run."""
        return _run_record(self._p.request("GET", self._path(name, "/runs/%d" % int(run_id))))

    def wait(self, name, run_id, timeout=None, poll=POLL_S):
        """Polls the run until it has ended; returns it (TimeoutError after ``timeout`` seconds)."""
        return _wait(lambda: self.get_run(name, run_id), self._ended, timeout, poll, "run %s" % run_id)

    def stop(self, name, run_id, wait=True, timeout=60):
        """Stops a run (its processes get SIGTERM, then SIGKILL after a
        grace period); with ``wait`` returns it once it has ended."""
        run = _run_record(self._p.request("POST", self._path(name, "/runs/%d/stop" % int(run_id))))
        return self.wait(name, run_id, timeout=timeout) if wait else run


class Jobs(_Definitions):
    """``project.jobs``: define, run, follow and stop the project's jobs
    (and, from the base class: list, get, delete, runs, get_run, wait,
    stop)."""

    _collection = "jobs"
    _ended = JOB_RUN_ENDED

    def create(self, name, type, program, args=None, env=None, schedule=None, timeout_s=None, cpus=None, gpus=None,
               replace=False):
        """Defines a job; with ``replace`` an existing job of that name is
        replaced (its run history stays). ``type`` is "python", "shell",
        "notebook" or "binary"; ``program`` a file in a dataset, e.g.
        "Resources/train.py"; ``schedule`` a 5-field cron expression (UTC).
        Returns the job."""
        body = {"name": name, "type": type, "program": program}
        for k, v in (("args", args), ("env", env), ("schedule", schedule), ("timeout_s", timeout_s), ("cpus", cpus),
                     ("gpus", gpus)):
            if v is not None:
                body[k] = list(v) if k == "args" else v
        if replace:
            return self._p.request("PUT", self._path(name), body)
        return self._p.request("POST", self._path(), body)

    def run(self, name, args=None, follow=False, out=None, timeout=None):
        """Starts a run (``args`` replace the job's arguments) and returns it.

        With ``follow`` the run's log is streamed to ``out`` (a text file
        object, default sys.stdout) as it is written, and the run's final
        state is returned once it ends."""
        body = {"args": list(args)} if args is not None else None
        run = _run_record(self._p.request("POST", self._path(name, "/runs"), body))
        if follow:
            for chunk in self.follow_logs(name, run["id"]):
                (out or sys.stdout).write(chunk)
            run = self.wait(name, run["id"], timeout=timeout if timeout is not None else 30)
        return run

    def logs(self, name, run_id):
        """The run's log so far, as text."""
        raw = self._p.request("GET", self._path(name, "/runs/%d/logs" % int(run_id)))
        return raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else (raw or "")

    def follow_logs(self, name, run_id):
        """Yields the run's log as text while it is written, until the run ends."""
        conn = self._p.connection.with_key(self._p.connection.api_key)
        conn.timeout = None  # a quiet job may print nothing for a long time
        resp, http = conn.open_stream("GET", self._p.path(self._path(name, "/runs/%d/logs" % int(run_id))),
                                      query={"follow": "true"})
        try:
            while True:
                line = resp.readline()
                if not line:
                    break
                yield line.decode("utf-8", "replace")
        finally:
            http.close()


class Pipelines(_Definitions):
    """``project.pipelines``: pipeline definitions and their runs (and,
    from the base class: list, get, delete, runs, get_run, wait, stop)."""

    _collection = "pipelines"
    _ended = PIPELINE_RUN_ENDED

    def create(self, spec, replace=False):
        """Saves a pipeline: ``spec`` is a dict, or the text of a YAML or
        JSON file. With ``replace`` a pipeline of the same name is replaced.
        A bad spec raises BadRequest naming the task. Returns the pipeline."""
        if isinstance(spec, dict):
            data, ctype, name = json.dumps(spec).encode(), "application/json", spec.get("name")
        else:
            text = spec.decode() if isinstance(spec, (bytes, bytearray)) else str(spec)
            data, ctype, name = text.encode(), "application/yaml", None
            if replace:
                name = self._name_of(text)
        conn = self._p.connection
        path = self._p.path(self._path(name) if replace else self._path())
        resp, http = conn.send("PUT" if replace else "POST", path, data, headers={"Content-Type": ctype})
        return conn.finish(resp, http)

    @staticmethod
    def _name_of(text):
        """The pipeline's name in YAML or JSON text (a top-level "name:" line for YAML)."""
        s = text.lstrip()
        if s.startswith("{"):
            return json.loads(s).get("name")
        for line in text.splitlines():
            if line.startswith("name:"):
                return line.split(":", 1)[1].strip().strip("'\"")
        raise ValueError("the pipeline text has no top-level name")

    def run(self, name, wait=False, timeout=None, poll=POLL_S):
        """Starts a run; with ``wait`` returns it once it has ended."""
        run = _run_record(self._p.request("POST", self._path(name, "/runs")))
        return self.wait(name, run["id"], timeout, poll) if wait else run

    def rerun(self, name, run_id, from_task, wait=False, timeout=None):
        """Runs a finished run again from the failed task ``from_task``:
        it and everything downstream run again, succeeded tasks keep their
        state."""
        run = _run_record(self._p.request("POST", self._path(name, "/runs/%d/rerun" % int(run_id)),
                                          query={"from": from_task}))
        return self.wait(name, run_id, timeout) if wait else run


# --- the functions of the wording, for scripts --------------------------


def create_job(project, name, type, program, **kw):
    """``project.jobs.create(name, type, program, ...)``."""
    return Jobs(project).create(name, type, program, **kw)


def run_job(project, name, args=None, follow=False, out=None, timeout=None):
    """``project.jobs.run(...)``: starts a run; ``follow`` streams its log and returns the final run."""
    return Jobs(project).run(name, args=args, follow=follow, out=out, timeout=timeout)


def get_run(project, name, run_id):
    """``project.jobs.get_run(name, run_id)``."""
    return Jobs(project).get_run(name, run_id)
