"""Model serving: predictions through the server equal the model's own
predictions in Python (XGBoost in the server, scikit-learn in Python
workers), over TensorFlow Serving's and KServe v2's protocols; batching,
transformers, inference logging, bad inputs and the body cap."""

import json
import subprocess

import numpy as np
import pytest

import oast
from oasttest import World, assert_error, oast_bin, unique, wait_until
from servingtest import (MAGIC_PREDICTOR, TRANSFORMER, call_in_thread, data, deploy, f32, jsonl, predict_raw, register,
                         register_magic, register_sklearn, train_xgb_classifier, train_xgb_regressor, v2_raw, wait_in_flight,
                         xgb_file)


@pytest.fixture(scope="module")
def proj(world):
    return world.owner_project(world.new_project("serve"))


@pytest.fixture(scope="module")
def xy():
    return data()


@pytest.fixture(scope="module")
def xgb_dep(proj, xy, tmp_path_factory):
    X, y = xy
    clf = train_xgb_classifier(X, y)
    raw = xgb_file(clf, tmp_path_factory.mktemp("xgb"))
    register(proj, "xgbbin", {"model.json": raw}, "xgboost", metrics={"acc": float((clf.predict(X) == y).mean())})
    dep = deploy(proj, unique("xgbbin"), "xgbbin", predictor="xgboost")
    return clf, dep


# --- XGBoost, native --------------------------------------------------------------------


def test_xgboost_predict_equals_the_model(xgb_dep, xy):
    clf, dep = xgb_dep
    X, _ = xy
    booster = clf.get_booster()
    want = booster.inplace_predict(X)
    assert dep.state == "running"
    got = dep.predict(X.tolist())
    assert np.array_equal(f32(got), want)
    assert np.array_equal(f32(got), f32(clf.predict_proba(X)[:, 1]))
    # one instance per request, as a service is called
    for i in range(5):
        assert f32(dep.predict([X[i].tolist()]))[0] == want[i]
    # "inputs" answers "outputs"; a versioned path serves the same version
    assert np.array_equal(f32(dep.predict(inputs=X[:7].tolist())), want[:7])
    assert np.array_equal(f32(dep.predict(X[:7].tolist(), version=1)), want[:7])


def test_xgboost_classify_and_regress(world, proj, xy, xgb_dep, tmp_path):
    clf, dep = xgb_dep
    X, _ = xy
    names = ["f0", "f1", "f2", "f3"]
    # the model stores no feature names: instances are lists (named examples would need a schema)
    r = predict_raw(world.api, world.alice.key, dep.name, {"examples": [dict(zip(names, X[0].tolist()))]}, "classify")
    assert "names no features" in assert_error(r, 400)["message"]
    res = dep.classify(X[:10].tolist())
    labels = [max(r, key=lambda p: p[1])[0] for r in res]
    assert labels == [str(v) for v in clf.predict(X[:10])]
    assert np.allclose([[p[1] for p in r] for r in res], clf.predict_proba(X[:10]), atol=1e-6)
    # :regress needs one numeric output per instance; a binary classifier has it (the probability)
    assert np.array_equal(f32(dep.regress(X[:4].tolist())),
                          clf.get_booster().inplace_predict(X[:4]))
    # a regressor, with its feature names from a column schema
    reg = train_xgb_regressor(X)
    schema = {"input_schema": {"columnar_schema": [{"name": n, "type": "double"} for n in names]}}
    register(proj, "xgbreg", {"model.json": xgb_file(reg, tmp_path)}, "xgboost", model_schema=schema)
    rdep = deploy(proj, unique("xgbreg"), "xgbreg", predictor="xgboost")
    examples = [dict(zip(names, row)) for row in X[:9].tolist()]
    assert np.array_equal(f32(rdep.regress(examples)), f32(reg.predict(X[:9])))
    # context is merged into every example
    ctx = {"f3": 0.5}
    ex = [{k: v for k, v in e.items() if k != "f3"} for e in examples]
    X2 = X[:9].copy()
    X2[:, 3] = 0.5
    assert np.array_equal(f32(rdep.regress(ex, context=ctx)), f32(reg.predict(X2)))
    # columnar "inputs" by name
    cols = {n: X[:6, i].tolist() for i, n in enumerate(names)}
    assert np.array_equal(f32(rdep.predict(inputs=cols)), f32(reg.predict(X[:6])))
    # a regressor does not classify
    r = predict_raw(world.api, world.alice.key, rdep.name, {"examples": examples[:1]}, "classify")
    assert "does not classify" in assert_error(r, 400)["message"]


def test_xgboost_multiclass(proj, xy, tmp_path):
    X, y = xy
    clf = train_xgb_classifier(X, y, multiclass=True)
    register(proj, "xgbmulti", {"weights.ubj": xgb_file(clf, tmp_path, "weights.ubj")}, "xgboost")
    dep = deploy(proj, unique("xgbmulti"), "xgbmulti", predictor="xgboost", model_file="weights.ubj")
    got = f32(dep.predict(X[:20].tolist()))
    assert got.shape == (20, 3)
    assert np.array_equal(got, f32(clf.predict_proba(X[:20])))
    res = dep.classify(X[:20].tolist())
    assert [max(r, key=lambda p: p[1])[0] for r in res] == [str(v) for v in clf.predict(X[:20])]
    assert np.array_equal(f32([[p[1] for p in r] for r in res]), got)
    with pytest.raises(oast.BadRequest, match="objective multi:softprob and 3 outputs"):
        dep.regress(X[:2].tolist())


def test_kserve_v2_infer_and_metadata(world, xgb_dep, xy):
    clf, dep = xgb_dep
    X, _ = xy
    want = clf.get_booster().inplace_predict(X[:5])
    out = dep.infer([{"name": "input", "shape": [5, 4], "datatype": "FP32", "data": X[:5].ravel().tolist()}], id="r1")
    assert out["model_name"] == dep.name and out["model_version"] == "1" and out["id"] == "r1"
    (o,) = out["outputs"]
    assert o["shape"] == [5] and np.array_equal(f32(o["data"]), want)
    # nested data, and one column per input
    out = dep.infer([{"name": "input", "shape": [5, 4], "datatype": "FP64", "data": X[:5].tolist()}])
    assert np.array_equal(f32(out["outputs"][0]["data"]), want)
    cols = [{"name": "f%d" % i, "shape": [5, 1], "datatype": "FP64", "data": X[:5, i].tolist()} for i in range(4)]
    assert np.array_equal(f32(dep.infer(cols)["outputs"][0]["data"]), want)
    meta = dep.metadata()
    assert meta["name"] == dep.name and meta["versions"] == ["1"] and meta["platform"] == "xgboost"
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}]
    assert dep.ready() is True
    # server health is open
    for path in ("/v2/health/live", "/v2/health/ready", "/v2"):
        r = world.api.get(path, prefix="")
        assert r.status == 200, r
    # TF Serving's model status
    r = world.api.get("/v1/models/%s" % dep.name, world.bob.key, prefix="")
    assert r.json()["model_version_status"][0]["state"] == "AVAILABLE"


def test_versions_in_the_path(world, xgb_dep):
    _, dep = xgb_dep
    r = predict_raw(world.api, world.alice.key, dep.name, {"instances": [[0, 0, 0, 0]]}, version=2)
    assert "serves version 1" in assert_error(r, 404)["message"]
    r = world.api.call("POST", "/v2/models/%s/versions/1/infer" % dep.name, world.alice.key, prefix="",
                       json={"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [0, 0, 0, 0]}]})
    assert r.status == 200, r


# --- scikit-learn in Python workers -------------------------------------------------------


def test_sklearn_builtin_predictor_equals_the_model(proj, xy):
    from sklearn.linear_model import LogisticRegression
    X, y = xy
    clf = LogisticRegression().fit(X, y)
    register_sklearn(proj, "logreg", clf)
    dep = deploy(proj, unique("logreg"), "logreg", instances=2)
    assert dep.info["predictor"] == {"type": "python"}
    assert [s["state"] for s in dep.refresh().info["instance_states"]] == ["ready", "ready"]
    assert dep.predict(X.tolist()) == clf.predict(X).tolist()
    for i in range(3):
        assert dep.predict([X[i].tolist()]) == [int(clf.predict(X[i:i + 1])[0])]
    res = dep.classify(X[:10].tolist())
    assert [[p[0] for p in r] for r in res] == [["0", "1"]] * 10
    assert np.allclose([[p[1] for p in r] for r in res], clf.predict_proba(X[:10]), rtol=0, atol=1e-12)
    out = dep.infer(X[:4].tolist())
    assert out["outputs"][0]["datatype"] == "INT64" and out["outputs"][0]["data"] == clf.predict(X[:4]).tolist()


def test_sklearn_user_script_equals_the_model(proj, xy):
    from sklearn.ensemble import RandomForestRegressor
    X, _ = xy
    target = X[:, 0] * 3 - X[:, 2]
    reg = RandomForestRegressor(n_estimators=5, random_state=1).fit(X, target)
    script = (
        "import os, pickle\n"
        "class Predict:\n"
        "    def __init__(self):\n"
        "        with open('forest.pkl', 'rb') as f:  # the working directory is the model's\n"
        "            self.model = pickle.load(f)\n"
        "    def predict(self, inputs):\n"
        "        print('predicting', len(inputs), 'rows')  # goes to the log, not the protocol\n"
        "        return self.model.predict(inputs)\n")
    import pickle
    register(proj, "forest", {"forest.pkl": pickle.dumps(reg)}, "sklearn")
    proj.files.upload(script.encode(), "Resources/forest_predict.py")
    dep = deploy(proj, unique("forest"), "forest", script="Resources/forest_predict.py")
    got = dep.predict(X[:30].tolist())
    assert got == reg.predict(X[:30]).tolist()
    assert "predicting 30 rows" in dep.logs()
    with pytest.raises(oast.BadRequest, match="has no regress"):
        dep.regress([{"a": 1}])


def test_transformers(proj, xy, tmp_path):
    X, y = xy
    proj.files.upload(TRANSFORMER.encode(), "Resources/transformer.py")
    rows = [dict(zip("abcd", r)) for r in X[:6].tolist()]
    # around the native predictor
    clf = train_xgb_classifier(X, y)
    register(proj, "xgbtr", {"model.json": xgb_file(clf, tmp_path)}, "xgboost")
    dep = deploy(proj, unique("xgbtr"), "xgbtr", predictor="xgboost", transformer="Resources/transformer.py")
    got = dep.predict(rows)
    assert [set(g) for g in got] == [{"score"}] * 6
    assert np.array_equal(f32([g["score"] for g in got]), clf.get_booster().inplace_predict(X[:6]))
    # around a Python predictor
    register_magic(proj, "magictr", factor=3.0)
    dep = deploy(proj, unique("magictr"), "magictr", transformer="Resources/transformer.py")
    got = dep.predict(rows)
    assert got == [{"score": [v * 3.0 for v in r]} for r in X[:6].tolist()]


def test_batching_joins_requests(world, proj, tmp_path):
    register_magic(proj, "magicb")
    dep = deploy(proj, unique("magicb"), "magicb", batching={"max_batch_size": 8, "max_latency_ms": 200})
    # one instance held by a request until the gate opens; the others queue and are taken together
    gate = tmp_path / "gate"
    slow, box = call_in_thread(dep.predict, ["wait:%s" % gate])
    assert wait_until(lambda: any(s["state"] == "busy" for s in dep.refresh().info["instance_states"]))
    calls = [call_in_thread(dep.predict, ["batch"]) for _ in range(6)]
    calls += [call_in_thread(dep.predict, [[1.0, float(i)]]) for i in range(4)]
    # all ten wait in the queue while the instance is busy
    assert wait_in_flight(dep, busy=1, queued=10)
    gate.touch()
    for t, _ in calls:
        t.join(30)
    slow.join(30)
    assert box["result"] == ["waited"]
    sizes = [b["result"][0] for _, b in calls[:6]]
    assert max(sizes) > 1 and max(sizes) <= 8, sizes
    # every request got its own answer back
    assert [b["result"] for _, b in calls[6:]] == [[[2.0, 2.0 * i]] for i in range(4)]
    # batching can be changed while serving: off again, each request alone
    dep.update(batching=None)
    assert dep.info["batching"] is None
    assert dep.predict(["batch", "batch"]) == [2, 2]


def test_batching_native(proj, xy, tmp_path):
    X, y = xy
    clf = train_xgb_classifier(X, y)
    register(proj, "xgbbatch", {"model.json": xgb_file(clf, tmp_path)}, "xgboost")
    dep = deploy(proj, unique("xgbbatch"), "xgbbatch", predictor="xgboost",
                 batching={"max_batch_size": 16, "max_latency_ms": 20}, instances=2)
    want = clf.get_booster().inplace_predict(X)
    calls = [call_in_thread(dep.predict, [X[i].tolist()]) for i in range(24)]
    for t, _ in calls:
        t.join(30)
    assert np.array_equal(f32([b["result"][0] for _, b in calls]), want[:24])


# --- inference logging -----------------------------------------------------------------------


def test_inference_logging_modes(world, proj, xy):
    register_magic(proj, "magiclog", factor=10.0)
    dep = deploy(proj, unique("magiclog"), "magiclog", inference_logging="all")
    assert dep.predict([[1.0, 2.0]]) == [[10.0, 20.0]]
    lines = jsonl(dep.logs(kind="inference"))
    assert len(lines) == 1
    line = lines[0]
    assert line["inputs"] == [[1.0, 2.0]] and line["predictions"] == [[10.0, 20.0]]
    assert line["deployment"] == dep.name and line["model"] == "magiclog" and line["model_version"] == 1
    assert line["verb"] == "predict" and line["status"] == 200 and line["time"].endswith("Z")
    for mode, has_in, has_pred in (("predictions", False, True), ("model_inputs", True, False), ("none", None, None)):
        dep.update(inference_logging=mode)
        dep.predict([[3.0]])
        last = jsonl(dep.logs(kind="inference"))
        if has_in is None:
            assert len(last) == len(lines)
            continue
        lines = last
        assert ("inputs" in lines[-1]) == has_in and ("predictions" in lines[-1]) == has_pred
    # the log is a file of the project's Logs dataset
    text = proj.files.read("Logs/deployments/%s/inference.jsonl" % dep.name).decode()
    assert len(jsonl(text)) == 3
    # any member reads it through the deployment, the last lines first
    bob = world.bob.conn.projects.get(proj.name)
    assert jsonl(bob.deployments.get(dep.name).logs(kind="inference", lines=2))[0]["predictions"] == [[30.0]]


def test_inference_log_is_rotated_by_size(start_server):
    srv = start_server("--inference-log-max", "4096")
    w = World(srv)
    proj = w.owner_project(w.new_project("rot"))
    register_magic(proj, "rotlog", factor=1.0)
    dep = deploy(proj, unique("rotlog"), "rotlog", inference_logging="all")
    sent = 150  # each line is about 150 bytes: enough for more than four files of 4 KiB
    for i in range(sent):
        assert dep.predict([float(i)]) == [float(i)]
    names = sorted(f["name"] for f in proj.files.list("Logs/deployments/%s" % dep.name))
    assert names == ["inference.jsonl", "inference.jsonl.1", "inference.jsonl.2", "inference.jsonl.3",
                     "predictor.log"], names
    kept = []
    for name in names[3:0:-1] + names[:1]:  # oldest first
        text = proj.files.read("Logs/deployments/%s/%s" % (dep.name, name)).decode()
        assert 0 < len(text.encode()) <= 4096, (name, len(text))
        kept += [line["inputs"][0] for line in jsonl(text)]
    current = len(jsonl(text))
    # the newest requests, each once and in order; the oldest were dropped with the fourth file
    assert kept == [float(i) for i in range(sent - len(kept), sent)] and len(kept) < sent
    # the last lines reach back over the rotation into inference.jsonl.1
    want = current + 5  # .1 is a full file: it holds more than 5 lines
    last = jsonl(dep.logs(kind="inference", lines=want))
    assert [line["inputs"][0] for line in last] == kept[-want:]
    bad = subprocess.run([oast_bin(), "server", "--inference-log-max", "100"], capture_output=True, text=True)
    assert bad.returncode != 0 and "--inference-log-max wants at least 4096 bytes" in bad.stderr


def test_inference_log_of_native(proj, xy, xgb_dep):
    clf, dep = xgb_dep
    X, _ = xy
    dep.update(inference_logging="all")
    dep.predict(X[:2].tolist())
    line = jsonl(dep.logs(kind="inference"))[-1]
    assert line["inputs"] == X[:2].tolist()
    assert np.array_equal(f32(line["predictions"]), clf.get_booster().inplace_predict(X[:2]))
    dep.update(inference_logging="none")


# --- bad inputs ----------------------------------------------------------------------------


BAD_TF = [
    ({"instances": [[1, 2, 3, 4], [1, 2, 3]]}, "instances[1] is ragged"),
    ({"instances": [[1, 2, 3, 4], [1, 2, "x", 4]]}, "instances[1][2] is a string"),
    ({"instances": [[1, 2, 3]]}, "instances[0] has 3 values where the model takes 4 features"),
    ({"instances": [["a", "b", "c", "d"]]}, "instances[0][0] is a string; the model takes numbers"),
    ({"instances": []}, "is empty"),
    ({"instances": {"a": 1}}, "must be a list"),
    ({}, "needs \"instances\" or \"inputs\""),
    ({"instances": [[1, 2, 3, 4]], "inputs": [[1, 2, 3, 4]]}, "not both"),
    ({"instances": [[1, 2, 3, 4]], "extra": 1}, "unknown field \"extra\""),
    ({"inputs": {"a": [1, 2], "b": [1]}}, "inputs.b has 1 values where inputs.a has 2"),
    ({"instances": [{"x": 1}]}, "names no features"),
    ({"examples": [{"x": 1}]}, "belong to :classify"),
]


@pytest.mark.parametrize("body,msg", BAD_TF)
def test_bad_tf_serving_inputs(world, xgb_dep, body, msg):
    _, dep = xgb_dep
    r = predict_raw(world.api, world.alice.key, dep.name, body)
    assert msg in assert_error(r, 400)["message"]


BAD_V2 = [
    ({"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [1] * 7}]}, "holds 8 values but data has 7"),
    ({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, "3", 4]}]}, "data[2] is a string, not FP32"),
    ({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FLOAT", "data": [1, 2, 3, 4]}]}, "datatype \"FLOAT\""),
    ({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}, "has 3 values where the model takes 4"),
    ({"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1, 2]},
                 {"name": "y", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]}]}, "inputs[1] has 3 rows where inputs[0] has 2"),
    ({"inputs": []}, "non-empty list"),
    ({"inputs": [{"shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}, "inputs[0].name"),
    ({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "INT64", "data": [1, 2, 3.5, 4]}]}, "data[2] is a number, not INT64"),
]


@pytest.mark.parametrize("body,msg", BAD_V2)
def test_bad_kserve_inputs(world, xgb_dep, body, msg):
    _, dep = xgb_dep
    r = v2_raw(world.api, world.alice.key, dep.name, body)
    assert msg in assert_error(r, 400)["message"]


def test_inputs_against_the_model_schema(world, proj):
    cols = {"input_schema": {"columnar_schema": [{"name": "age", "type": "int"}, {"name": "income", "type": "double"},
                                                 {"name": "city", "type": "string"}]}}
    register(proj, "magicschema", {"factor.txt": "1", "predictor.py": MAGIC_PREDICTOR}, "python", model_schema=cols)
    dep = deploy(proj, unique("magicschema"), "magicschema")
    good = [[30, 1.5, "oslo"], [41, 2.0, "rome"]]
    r = predict_raw(world.api, world.bob.key, dep.name, {"instances": good})
    assert r.status == 200, r
    for body, msg in [
        ({"instances": [[30, 1.5]]}, "instances[0] has 2 values where the model schema has 3 columns (age, income, city)"),
        ({"instances": [[30, "x", "oslo"]]}, "instances[0][1] (column \"income\") is a string where the model schema says double"),
        ({"instances": [[30.5, 1.0, "oslo"]]}, "(column \"age\") is a number where the model schema says int"),
        ({"instances": [{"age": 3, "income": 1.0}]}, "instances[0] lacks column \"city\""),
        ({"instances": [{"age": 3, "income": 1.0, "city": "a", "zip": 1}]}, "\"zip\", which is not a column"),
        ({"instances": [30]}, "instances[0] is an integer where the model schema wants a list of 3 values"),
    ]:
        r = predict_raw(world.api, world.alice.key, dep.name, body)
        assert msg in assert_error(r, 400)["message"], r
    tensor = {"input_schema": {"tensor_schema": [{"type": "float32", "shape": [-1, 2, 3]}]}}
    register(proj, "magictensor", {"factor.txt": "1", "predictor.py": MAGIC_PREDICTOR}, "python", model_schema=tensor)
    dep = deploy(proj, unique("magictensor"), "magictensor")
    ok = [[[1, 2, 3], [4, 5, 6]]]
    assert predict_raw(world.api, world.alice.key, dep.name, {"instances": ok}).status == 200
    for body, msg in [
        ({"instances": [[[1, 2, 3]]]}, "instances[0] has 1 values where the model schema's shape [2, 3] wants 2"),
        ({"instances": [[[1, 2], [4, 5]]]}, "instances[0][0] has 2 values where the model schema's shape [3] wants 3"),
        ({"instances": [[[1, 2, 3], [4, 5, True]]]}, "instances[0][1][2] is a boolean where the model schema says double"),
        ({"instances": [5]}, "instances[0] is an integer where the model schema's shape [2, 3] wants a list"),
    ]:
        r = predict_raw(world.api, world.alice.key, dep.name, body)
        assert msg in assert_error(r, 400)["message"], r


def test_malformed_json_unknown_verbs_and_the_body_cap(world, xgb_dep):
    _, dep = xgb_dep
    r = world.api.call("POST", "/v1/models/%s:predict" % dep.name, world.alice.key, prefix="", data=b"{\"instances\": [",
                       headers={"Content-Type": "application/json"})
    assert_error(r, 400)
    r = predict_raw(world.api, world.alice.key, dep.name, {"instances": [[0, 0, 0, 0]]}, verb="explain")
    assert "unknown verb" in assert_error(r, 404)["message"]
    r = world.api.call("POST", "/v1/models/%s" % dep.name, world.alice.key, prefix="", json={"instances": [[1, 2, 3, 4]]})
    assert ":predict" in assert_error(r, 400)["message"]
    # the server's cap on request bodies (1 MiB by default)
    big = {"instances": [[0.123456789] * 4] * 40000}
    assert len(json.dumps(big)) > (1 << 20)
    r = predict_raw(world.api, world.alice.key, dep.name, big)
    assert_error(r, 413)
    # and the server still answers
    assert predict_raw(world.api, world.alice.key, dep.name, {"instances": [[0, 0, 0, 0]]}).status == 200


def test_predictor_exceptions_are_500_with_the_message(world, proj):
    register_magic(proj, "magicraise")
    dep = deploy(proj, unique("magicraise"), "magicraise")
    r = predict_raw(world.api, world.alice.key, dep.name, {"instances": ["raise"]})
    assert "raised ValueError: the input said raise" in assert_error(r, 500)["message"]
    assert dep.predict([1.0]) == [2.0]
    assert "the input said raise" in dep.logs()
    assert dep.refresh().info["instance_states"][0]["restarts"] == 0
