"""
oast.predictor_worker — one worker process of a model deployment.

The Oast server starts ``python3 -m oast.predictor_worker`` once per
instance of a deployment with a Python predictor (or a transformer) and
speaks to it over its stdin and stdout: every message, both ways, is 4
bytes of big-endian length followed by that many bytes of JSON. The
worker's configuration comes in the environment variable OAST_PREDICTOR
(JSON: ``deployment``, ``model_dir``, ``script``, ``transformer``,
``builtin``, ``mode``, ``instance``); its working directory is the model
version's directory, also in ``MODEL_FILES_PATH``.

What a user writes (see docs/serving.md):

    class Predict:
        def __init__(self, model_dir):     # or __init__(self): cwd is the model's directory
            self.model = joblib.load(os.path.join(model_dir, "model.pkl"))
        def predict(self, inputs):          # a list of instances -> a list of predictions
            return self.model.predict(inputs).tolist()
        def classify(self, inputs): ...     # optional, for :classify
        def regress(self, inputs): ...      # optional, for :regress

    class Transformer:                      # optional, its own script
        def preprocess(self, inputs): ...   # instances -> instances
        def postprocess(self, outputs): ... # predictions -> predictions

The worker loads the classes once, answers {"ready": true} (or {"error"}
with the failure, and exits), then answers each {"op", "inputs"} with
{"outputs"} or {"error"} (with "kind": "bad_request" when the class
lacks the method the request needs). A predictor's exception is reported, and its
traceback printed to the deployment's log; the worker keeps serving. The
protocol's own streams are private file descriptors: what the user's code
prints goes to the log (stderr), never into the protocol.

With ``builtin`` = "sklearn" and no script, the worker serves the one
pickled scikit-learn model (``*.pkl``, ``*.joblib``, ``*.pickle``) of
the model's directory: predict, classify (predict_proba with the class
labels) and regress.
"""

import importlib.util
import inspect
import json
import os
import struct
import sys
import traceback

MAX_MESSAGE = 256 << 20


def _read_exact(fd, n):
    chunks = []
    while n > 0:
        b = os.read(fd, min(n, 1 << 20))
        if not b:
            return None
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def read_message(fd):
    """The next message as a decoded JSON value, or None at end of input."""
    head = _read_exact(fd, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">I", head)
    if n > MAX_MESSAGE:
        raise ValueError("message of %d bytes is larger than %d" % (n, MAX_MESSAGE))
    body = _read_exact(fd, n)
    if body is None:
        return None
    return json.loads(body.decode("utf-8"))


def _plain(value):
    """numpy arrays and scalars (and pandas objects) as JSON-able values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError("a %s cannot be sent as JSON" % type(value).__name__)


def write_message(fd, obj):
    try:
        data = json.dumps(obj, default=_plain, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except ValueError:
        data = json.dumps({"error": "the answer holds NaN or infinity, which JSON cannot carry"}).encode("utf-8")
    except TypeError as exc:
        data = json.dumps({"error": "the answer cannot be sent as JSON: %s" % exc}).encode("utf-8")
    view = memoryview(struct.pack(">I", len(data)) + data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot load %s as Python" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _instantiate(cls, model_dir):
    """cls(model_dir) when its __init__ takes an argument, else cls()."""
    try:
        params = [p for p in inspect.signature(cls).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    except (TypeError, ValueError):
        params = []
    return cls(model_dir) if params else cls()


def _find_class(module, names, path):
    for n in names:
        cls = getattr(module, n, None)
        if inspect.isclass(cls):
            return cls
    raise AttributeError("%s defines no class %s" % (os.path.basename(path), " or ".join(names)))


class MissingMethod(Exception):
    """The request asks for a method the user's class lacks (a 400, not a failure)."""


class SklearnPredictor:
    """The built-in predictor of a pickled scikit-learn model."""

    def __init__(self, model_dir):
        files = sorted(f for f in os.listdir(model_dir) if f.endswith((".pkl", ".joblib", ".pickle")))
        if len(files) != 1:
            raise FileNotFoundError("the model's directory must hold exactly one .pkl, .joblib or .pickle file, "
                                    "found %d (%s); or give the deployment a predictor script"
                                    % (len(files), ", ".join(files) or "none"))
        path = os.path.join(model_dir, files[0])
        try:
            import joblib
            self.model = joblib.load(path)
        except ImportError:
            import pickle
            with open(path, "rb") as f:
                self.model = pickle.load(f)

    def _frame(self, inputs):
        if inputs and isinstance(inputs[0], dict):
            import pandas
            return pandas.DataFrame(inputs)
        return inputs

    def predict(self, inputs):
        return self.model.predict(self._frame(inputs))

    def classify(self, inputs):
        if not hasattr(self.model, "predict_proba"):
            raise MissingMethod("the model has no predict_proba, so it cannot classify")
        probs = self.model.predict_proba(self._frame(inputs))
        labels = [str(_plain(c)) for c in self.model.classes_]
        return [[[labels[k], float(p[k])] for k in range(len(labels))] for p in probs]

    def regress(self, inputs):
        return self.model.predict(self._frame(inputs))


class Worker:
    def __init__(self, cfg):
        self.cfg = cfg
        self.model_dir = cfg.get("model_dir") or os.getcwd()
        self.predictor = None
        self.transformer = None
        if cfg.get("mode", "predictor") == "predictor":
            script = cfg.get("script")
            if script:
                module = _load_module(script, "oast_predictor")
                self.predictor = _instantiate(_find_class(module, ("Predict", "Predictor"), script), self.model_dir)
            elif cfg.get("builtin") == "sklearn":
                self.predictor = SklearnPredictor(self.model_dir)
            else:
                raise ValueError("no predictor script was given")
        if cfg.get("transformer"):
            path = cfg["transformer"]
            module = _load_module(path, "oast_transformer")
            self.transformer = _instantiate(_find_class(module, ("Transformer",), path), self.model_dir)

    def _method(self, obj, name, role):
        fn = getattr(obj, name, None)
        if not callable(fn):
            raise MissingMethod("the %s has no %s method" % (role, name))
        return fn

    def handle(self, msg):
        op = msg.get("op")
        inputs = msg.get("inputs")
        if op == "preprocess":
            return self._method(self.transformer, "preprocess", "transformer")(inputs)
        if op == "postprocess":
            return self._method(self.transformer, "postprocess", "transformer")(inputs)
        if op not in ("predict", "classify", "regress"):
            raise ValueError("unknown operation %r" % op)
        if self.predictor is None:
            raise ValueError("this worker is a transformer; it does not predict")
        if self.transformer is not None and hasattr(self.transformer, "preprocess"):
            inputs = self.transformer.preprocess(inputs)
        out = self._method(self.predictor, op, "predictor")(inputs)
        if self.transformer is not None and hasattr(self.transformer, "postprocess"):
            out = self.transformer.postprocess(out)
        return out


def main():
    # The protocol's streams are private; fd 0 reads nothing and fd 1 joins the log.
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    try:
        cfg = json.loads(os.environ.get("OAST_PREDICTOR") or "{}")
    except ValueError:
        cfg = {}
    tag = "[%s instance %s]" % (cfg.get("deployment", "?"), cfg.get("instance", "?"))
    try:
        worker = Worker(cfg)
    except BaseException as exc:  # noqa: B036 -- report anything that stops the start
        traceback.print_exc()
        write_message(proto_out, {"error": "the %s failed to load: %s: %s"
                                  % ("transformer" if cfg.get("mode") == "transformer" else "predictor",
                                     type(exc).__name__, exc)})
        return 1
    write_message(proto_out, {"ready": True, "pid": os.getpid()})
    while True:
        try:
            msg = read_message(proto_in)
        except (ValueError, OSError) as exc:
            print("%s cannot read a request: %s" % (tag, exc), file=sys.stderr)
            return 1
        if msg is None:
            return 0
        try:
            out = worker.handle(msg)
            answer = {"outputs": _plain(out) if not isinstance(out, list) else out}
        except MissingMethod as exc:
            answer = {"error": str(exc), "kind": "bad_request"}
        except Exception as exc:  # noqa: BLE001 -- the user's code may raise anything
            print("%s %s failed:" % (tag, msg.get("op")), file=sys.stderr)
            traceback.print_exc()
            answer = {"error": "%s: %s" % (type(exc).__name__, exc)}
        write_message(proto_out, answer)


if __name__ == "__main__":
    sys.exit(main())
