"""
oast.serving — deployments of registered models, and inference.

    project = oast.connect().projects.get("demo")
    dep = project.deployments.create("churn", "churn", predictor="xgboost")
    dep.start()                                  # waits until it serves
    dep.predict([[0.1, 2.0, 3.5, 1.0]])          # TF Serving :predict
    dep.classify([{"f0": 0.1, "f1": 2.0, "f2": 3.5, "f3": 1.0}])
    dep.infer([{"name": "x", "shape": [1, 4], "datatype": "FP32",
                "data": [0.1, 2.0, 3.5, 1.0]}])  # KServe v2
    dep.scale(4)                                 # while serving
    print(dep.logs())
    dep.stop()                                   # answers what is in flight first

A deployment serves one model version with a predictor: "xgboost" runs
the model inside the server; "python" runs the user's predictor script
(a class ``Predict`` with ``predict(inputs)``; the built-in one for
pickled scikit-learn models) in ``instances`` worker processes. Options:
``batching={"max_batch_size", "max_latency_ms"}``, ``inference_logging``
("all", "predictions", "model_inputs", "none"), ``transformer`` (a script
with a ``Transformer`` class: ``preprocess`` and ``postprocess``),
``timeout_ms`` (one prediction; a worker that takes longer is restarted).

Inference goes to the server's /v1 (TensorFlow Serving) and /v2 (KServe)
routes with the connection's credential: any member of the project may
call its deployments.
"""

import http.client
import json
import ssl
import time
import urllib.parse

from . import errors
from .client import Record, quote_path


class Deployments:
    """``project.deployments``: create, list and get deployments."""

    def __init__(self, project):
        self._p = project

    def create(self, name, model, model_version=None, predictor="python", script=None, model_file=None, instances=None,
               batching=None, inference_logging=None, transformer=None, timeout_ms=None, description=None):
        """Creates a (stopped) deployment of ``model`` (its newest version
        unless ``model_version``) and returns the :class:`Deployment`.
        ``script`` and ``transformer`` are project paths of Python files
        (e.g. ``Resources/predict.py``); ``batching`` is a dict
        ``{"max_batch_size": 32, "max_latency_ms": 5}``."""
        body = {"name": name, "model": model, "predictor": {"type": predictor}}
        if script is not None:
            body["predictor"]["script"] = script
        if model_file is not None:
            body["predictor"]["model_file"] = model_file
        if transformer is not None:
            body["transformer"] = {"script": transformer} if isinstance(transformer, str) else transformer
        for key, value in (("model_version", model_version), ("instances", instances), ("batching", batching),
                           ("inference_logging", inference_logging), ("timeout_ms", timeout_ms),
                           ("description", description)):
            if value is not None:
                body[key] = value
        return Deployment(self._p, self._p.request("POST", "/deployments", body))

    def get(self, name):
        """The deployment ``name`` of this project (NotFound otherwise)."""
        return Deployment(self._p, self._p.request("GET", "/deployments/" + quote_path(name)))

    def list(self):
        """Every deployment of the project, with its live state."""
        return [Deployment(self._p, d) for d in self._p.request("GET", "/deployments")["items"]]


class DeploymentFailed(errors.Unavailable):
    """A deployment that was started could not come up (its predictor
    script failed to load, say); the message says why."""


class Deployment:
    """One deployment. ``info`` is the server's last answer (``state``,
    ``instance_states``, ``requests``, ...); :meth:`refresh` reloads it."""

    def __init__(self, project, info):
        self._p = project
        self.info = Record(info)
        self.name = info["name"]

    def __repr__(self):
        return "<oast.Deployment %s (%s)>" % (self.name, self.info.get("state"))

    def __getattr__(self, key):
        info = self.__dict__.get("info") or {}
        if key in info:
            return info[key]
        raise AttributeError(key)

    def _path(self, suffix=""):
        return "/deployments/" + quote_path(self.name) + suffix

    def refresh(self):
        """Reloads the deployment's state; returns self."""
        self.info = Record(self._p.request("GET", self._path()))
        return self

    @property
    def state(self):
        """The live state: "stopped", "starting", "running", "stopping" or "failed"."""
        return self.refresh().info["state"]

    # --- lifecycle -------------------------------------------------------

    def start(self, wait=True, timeout=120.0):
        """Starts the deployment. With ``wait`` (the default), returns once
        it serves, and raises :class:`DeploymentFailed` with the reason when
        it cannot start (or TimeoutError after ``timeout`` seconds)."""
        self.info = Record(self._p.request("POST", self._path("/start")))
        if wait:
            self.wait_running(timeout)
        return self

    def wait_running(self, timeout=120.0):
        """Waits until the deployment runs (see :meth:`start`)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.refresh().info["state"]
            if state == "running":
                return self
            if state in ("failed", "stopped"):
                msg = self.info.get("error") or "deployment %s is %s" % (self.name, state)
                raise DeploymentFailed(503, "unavailable", msg, dict(self.info))
            if time.monotonic() > deadline:
                raise TimeoutError("deployment %s is still %s after %ss" % (self.name, state, timeout))
            time.sleep(0.05)

    def stop(self):
        """Stops the deployment once what is in flight was answered."""
        self.info = Record(self._p.request("POST", self._path("/stop")))
        return self

    def scale(self, instances):
        """Changes the number of instances, also while serving."""
        return self.update(instances=instances)

    def update(self, **fields):
        """Changes ``model_version``, ``instances``, ``batching``,
        ``inference_logging``, ``timeout_ms`` or ``description`` (live when
        running). A new ``model_version`` of a running deployment boots
        beside the old one and takes over once ready; the call returns
        then, or raises Conflict (the old version goes on serving)."""
        self.info = Record(self._p.request("PATCH", self._path(), fields))
        return self

    def delete(self):
        """Stops and deletes the deployment (its logs stay in Logs/)."""
        self._p.request("DELETE", self._path())

    def logs(self, kind="predictor", lines=200):
        """The last ``lines`` lines of the predictor's log (events and what
        the workers print) or, with kind="inference", of the inference log
        (JSON lines)."""
        raw = self._p.request("GET", self._path("/logs"), query={"kind": kind, "lines": lines})
        if raw is None:
            return ""
        return raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else str(raw)

    # --- inference -------------------------------------------------------

    def _call(self, method, path, body=None):
        return infer_call(self._p.connection, method, path, body)

    def _v1(self, verb, version):
        base = "/v1/models/" + quote_path(self.name)
        if version is not None:
            base += "/versions/%d" % int(version)
        return base + ":" + verb

    def predict(self, instances=None, inputs=None, version=None):
        """TF Serving :predict. ``instances`` (a list of rows) gives the
        list of predictions; ``inputs`` (a list, or a dict of equally long
        columns) gives the "outputs" answer's value."""
        if (instances is None) == (inputs is None):
            raise ValueError("give either instances or inputs")
        body = {"instances": _plain(instances)} if instances is not None else {"inputs": _plain(inputs)}
        out = self._call("POST", self._v1("predict", version), body)
        return out["predictions"] if instances is not None else out["outputs"]

    def classify(self, examples, context=None, version=None):
        """TF Serving :classify: per example a list of [label, score].
        ``examples`` are dicts of named features (merged over ``context``),
        or rows (lists), which are sent as "instances"."""
        return self._call("POST", self._v1("classify", version), _examples(examples, context))["results"]

    def regress(self, examples, context=None, version=None):
        """TF Serving :regress: one number per example (as :meth:`classify`)."""
        return self._call("POST", self._v1("regress", version), _examples(examples, context))["results"]

    def infer(self, inputs, id=None, version=None):
        """KServe v2 infer with ``inputs`` as a list of tensors
        ({"name", "shape", "datatype", "data"}) or one 2-D list/array (sent
        as one FP64 tensor). Returns the whole answer (``outputs``...)."""
        if not (isinstance(inputs, list) and inputs and isinstance(inputs[0], dict)):
            rows = _plain(inputs)
            flat = [v for row in rows for v in (row if isinstance(row, list) else [row])]
            shape = [len(rows)] + ([len(rows[0])] if rows and isinstance(rows[0], list) else [])
            inputs = [{"name": "input", "shape": shape, "datatype": "FP64", "data": flat}]
        body = {"inputs": inputs}
        if id is not None:
            body["id"] = id
        path = "/v2/models/" + quote_path(self.name)
        if version is not None:
            path += "/versions/%d" % int(version)
        return self._call("POST", path + "/infer", body)

    def metadata(self):
        """KServe v2 model metadata: name, versions, platform, inputs, outputs."""
        return self._call("GET", "/v2/models/" + quote_path(self.name))

    def ready(self):
        """True when the deployment answers requests (KServe v2 model ready)."""
        try:
            return bool(self._call("GET", "/v2/models/%s/ready" % quote_path(self.name)).get("ready"))
        except errors.Unavailable:
            return False


def _examples(examples, context):
    examples = _plain(examples)
    if examples and not isinstance(examples[0], dict):
        return {"instances": examples}
    body = {"examples": examples}
    if context is not None:
        body["context"] = context
    return body


def _plain(value):
    """numpy arrays and pandas frames as lists."""
    if hasattr(value, "to_dict") and hasattr(value, "columns"):
        return value.to_dict(orient="records")
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def infer_call(conn, method, path, body=None):
    """One call to the server's inference routes (outside /api/v1) with the
    connection's credential; the decoded JSON answer, or the server's
    error raised as :class:`oast.OastError`."""
    parts = urllib.parse.urlsplit(conn.addr)
    base = parts.path.rstrip("/")
    if parts.scheme == "https":
        c = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=conn.timeout,
                                        context=getattr(conn, "_ssl", None) or ssl.create_default_context())
    else:
        c = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=conn.timeout)
    headers = {"Accept": "application/json"}
    if conn.api_key:
        headers["Authorization"] = "Bearer " + conn.api_key
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    try:
        c.request(method, base + path, body=data, headers=headers)
        resp = c.getresponse()
        raw = resp.read()
    except (OSError, http.client.HTTPException) as exc:
        raise errors.connection_failed("cannot reach %s: %s" % (conn.addr, exc)) from None
    finally:
        c.close()
    if resp.status >= 400:
        raise errors.from_response(resp.status, raw)
    return json.loads(raw.decode("utf-8")) if raw else None


def _attach():
    # Deployments hang off the project handle like its other parts.
    from .project import Project
    if not hasattr(Project, "deployments"):
        Project.deployments = property(lambda self: Deployments(self), doc="The project's deployments.")


_attach()
