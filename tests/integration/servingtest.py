"""
servingtest — what the serving suites share: models trained in the test
(scikit-learn and XGBoost, small and seeded), their registration through
the Python client, a test predictor with "magic" inputs that crash, hang,
sleep or raise, and small helpers around deployments.

The magic predictor (MAGIC_PREDICTOR) multiplies numbers by the factor in
its model directory's factor.txt, and on a string instance:
  "crash"      exits the worker with status 3 (os._exit);
  "hang"       sleeps for an hour;
  "sleepS"     sleeps S seconds and answers the string;
  "wait:PATH"  waits until the file PATH exists (a gate the test opens) and answers "waited";
  "raise"      raises ValueError;
  "batch"      answers the size of the batch it was given;
  "pid"        answers its process id.
"""

import io
import json
import os
import pickle
import threading

import numpy as np

from oasttest import wait_until

SEED = 7

MAGIC_PREDICTOR = '''
import os, time

class Predict:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "factor.txt")) as f:
            self.factor = float(f.read())

    def predict(self, inputs):
        out = []
        for x in inputs:
            if x == "crash":
                os._exit(3)
            if x == "hang":
                time.sleep(3600)
            if x == "raise":
                raise ValueError("the input said raise")
            if x == "batch":
                out.append(len(inputs))
            elif x == "pid":
                out.append(os.getpid())
            elif isinstance(x, str) and x.startswith("wait:"):
                while not os.path.exists(x[5:]):
                    time.sleep(0.02)
                out.append("waited")
            elif isinstance(x, str) and x.startswith("sleep"):
                time.sleep(float(x[5:]))
                out.append(x)
            elif isinstance(x, list):
                out.append([v * self.factor if isinstance(v, (int, float)) else v for v in x])
            elif isinstance(x, dict):
                out.append(x)
            else:
                out.append(x * self.factor)
        return out

    def regress(self, inputs):
        return [sum(x) for x in inputs]
'''

TRANSFORMER = '''
class Transformer:
    def preprocess(self, inputs):
        # instances arrive as {"a": .., "b": .., ...}: the model takes lists in feature order
        return [[row[k] for k in ("a", "b", "c", "d")] for row in inputs]

    def postprocess(self, outputs):
        return [{"score": o} for o in outputs]
'''

BROKEN_PREDICTOR = '''
class Predict:
    def __init__(self):
        raise RuntimeError("cannot find the weights")

    def predict(self, inputs):
        return inputs
'''


def data(n=120, features=4, seed=SEED):
    rng = np.random.RandomState(seed)
    X = rng.rand(n, features)
    y = ((X[:, 0] + X[:, 1] * 0.5 - X[:, 2] * 0.3) > 0.6).astype(int)
    return X, y


def train_xgb_classifier(X, y, multiclass=False):
    import xgboost
    if multiclass:
        y = np.digitize(X[:, 0] + X[:, 1], [0.7, 1.3])
        clf = xgboost.XGBClassifier(n_estimators=8, max_depth=3, objective="multi:softprob", random_state=SEED)
    else:
        clf = xgboost.XGBClassifier(n_estimators=8, max_depth=3, random_state=SEED)
    return clf.fit(X, y)


def train_xgb_regressor(X):
    import xgboost
    target = X[:, 0] * 2 + X[:, 3]
    return xgboost.XGBRegressor(n_estimators=8, max_depth=3, random_state=SEED).fit(X, target)


def xgb_file(model, tmp_path, name="model.json"):
    path = os.path.join(str(tmp_path), name)
    model.save_model(path)
    with open(path, "rb") as f:
        return f.read()


def register(project, name, files, framework, **kwargs):
    """Uploads files ({relative path: bytes or str}) under Resources/ and
    registers them as a new version of model `name`; returns the Model."""
    base = "Resources/src-%s-%s" % (name, os.urandom(4).hex())
    for rel, content in files.items():
        if isinstance(content, str):
            content = content.encode()
        project.files.upload(content, "%s/%s" % (base, rel))
    return project.models.register(name, base, framework, **kwargs)


def register_magic(project, name, factor=2.0):
    return register(project, name, {"factor.txt": str(factor), "predictor.py": MAGIC_PREDICTOR}, "python")


def register_sklearn(project, name, model, **kwargs):
    return register(project, name, {"model.pkl": pickle.dumps(model)}, "sklearn", **kwargs)


def deploy(project, name, model, start=True, **kwargs):
    dep = project.deployments.create(name, model, **kwargs)
    if start:
        dep.start(timeout=60)
    return dep


def instance_states(dep):
    return dep.refresh().info["instance_states"]


def pids(dep):
    return sorted(i["pid"] for i in instance_states(dep) if i["pid"])


def wait_busy(dep, timeout=10):
    return wait_until(lambda: any(i["state"] == "busy" for i in instance_states(dep)), timeout)


def wait_in_flight(dep, busy, queued, timeout=10):
    """Waits until the server holds the requests: `busy` instances answering and `queued` more waiting."""
    def held():
        info = dep.refresh().info
        return (sum(i["state"] == "busy" for i in info["instance_states"]) == busy and info["queued"] == queued)
    return wait_until(held, timeout)


def wait_ready(dep, n, timeout=30):
    """Waits until n instances are ready (with a worker pid); returns the states."""
    return wait_until(lambda: (lambda s: s if len(s) == n and all(i["state"] == "ready" for i in s) else None)(
        instance_states(dep)), timeout)


def call_in_thread(fn, *args, **kwargs):
    """Runs fn in a thread; returns (thread, box) where box["result"] or box["error"] is set at the end."""
    box = {}

    def run():
        try:
            box["result"] = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 -- the test inspects it
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def predict_raw(api, key, name, body, verb="predict", version=None):
    """POST /v1/models/NAME[:verb] with a raw JSON body; returns the Resp."""
    path = "/v1/models/%s" % name
    if version is not None:
        path += "/versions/%s" % version
    return api.call("POST", path + ":" + verb, key, json=body, prefix="")


def v2_raw(api, key, name, body):
    return api.call("POST", "/v2/models/%s/infer" % name, key, json=body, prefix="")


def f32(values):
    return np.asarray(values, dtype=np.float32)


def pickled(model):
    buf = io.BytesIO()
    pickle.dump(model, buf)
    return buf.getvalue()


def jsonl(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]
