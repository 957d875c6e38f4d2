"""The model registry and deployments from the clients: the Python
client's export / get_model / get_best_model / download, its module-level
functions for trials and jobs, and the `oast model` and `oast deploy`
commands."""

import json
import os
import subprocess

import numpy as np
import pytest

import oast
from oasttest import oast_bin, unique
from servingtest import data, f32, train_xgb_classifier


@pytest.fixture(scope="module")
def proj(world):
    return world.owner_project(world.new_project("registry"))


def test_export_get_best_download(world, proj, tmp_path):
    X, y = data()
    clf = train_xgb_classifier(X, y)
    local = tmp_path / "model.json"
    clf.save_model(str(local))
    m1 = proj.models.export(str(local), "churn", metrics={"auc": 0.81, "loss": 0.4})
    assert m1["version"] == 1 and m1["framework"] == "xgboost" and m1["path"] == "Models/churn/1"
    d = tmp_path / "dir"
    (d / "sub").mkdir(parents=True)
    (d / "model.json").write_bytes(local.read_bytes())
    (d / "sub" / "notes.txt").write_text("trained on v2 data")
    m2 = proj.models.export(str(d), "churn", metrics={"auc": 0.9, "loss": 0.5}, description="bigger")
    assert m2["version"] == 2 and m2.files() == ["model.json", "sub/notes.txt"]
    assert proj.models.best("churn", "auc")["version"] == 2
    assert proj.models.best("churn", "loss", "min")["version"] == 1
    assert [m["version"] for m in proj.models.list("churn")] == [1, 2]
    assert proj.models.get("churn", 1)["metrics"] == {"auc": 0.81, "loss": 0.4}
    # no staging leftovers
    assert [i["name"] for i in proj.files.list("Models")] == ["churn"]
    # data owners download; data scientists may not move the bytes out
    got = m2.download(str(tmp_path / "out"))
    assert sorted(os.path.relpath(p, tmp_path / "out") for p in got) == ["model.json", "sub/notes.txt"]
    assert (tmp_path / "out" / "model.json").read_bytes() == local.read_bytes()
    bob = world.bob.conn.projects.get(proj.name)
    with pytest.raises(oast.Forbidden):
        bob.models.get("churn", 2).download(str(tmp_path / "bob"))
    with pytest.raises(oast.Forbidden):
        bob.models.export(str(local), "churn")
    # a data scientist registers files that are already in the project
    m3 = bob.models.export("Models/churn/1", "churn_copy", framework="xgboost", metrics={"auc": 0.7})
    assert m3["version"] == 1 and m3.files() == ["model.json"]
    # and deploys it
    dep = m3.deploy(unique("copy"))
    dep.start()
    assert np.array_equal(f32(dep.predict(X[:3].tolist())), clf.get_booster().inplace_predict(X[:3]))
    dep.delete()


def test_module_functions_use_the_environment(world, proj, tmp_path, monkeypatch):
    monkeypatch.setenv("OAST_ADDR", world.server.addr)
    monkeypatch.setenv("OAST_API_KEY", world.alice.key)
    monkeypatch.setenv("OAST_PROJECT", proj.name)
    f = tmp_path / "weights.bin"
    f.write_bytes(b"\x00\x01")
    for auc in (0.5, 0.75, 0.6):
        oast.model.export(str(f), "envmodel", metrics={"auc": auc}, framework="other")
    best = oast.model.get_best_model("envmodel", "auc", "max")
    assert best["version"] == 2 and best["metrics"]["auc"] == 0.75
    assert oast.model.get_model("envmodel", 3)["metrics"]["auc"] == 0.6
    assert len(oast.model.list_models("envmodel")) == 3
    monkeypatch.delenv("OAST_PROJECT")
    with pytest.raises(ValueError, match="OAST_PROJECT"):
        oast.model.get_model("envmodel", 1)
    with pytest.raises(oast.NotFound):
        oast.model.get_best_model("envmodel", "nosuchmetric", project=proj.name)


# --- the CLI -------------------------------------------------------------------------


def cli(world, user, *args, ok=True):
    env = dict(os.environ, OAST_ADDR=world.server.addr, OAST_API_KEY=user.key, HOME=str(world.server.home))
    env.pop("OAST_CONFIG", None)
    p = subprocess.run([oast_bin(), *args], env=env, capture_output=True, text=True, timeout=120)
    if ok:
        assert p.returncode == 0, "%s\nstdout: %s\nstderr: %s" % (args, p.stdout, p.stderr)
    return p


def test_cli_model_and_deploy(world, proj, tmp_path):
    X, y = data()
    clf = train_xgb_classifier(X, y)
    local = tmp_path / "model.json"
    clf.save_model(str(local))
    a = world.alice
    out = cli(world, a, "model", "export", proj.name, "clim", str(local), "--framework", "xgboost", "--metrics",
              '{"auc": 0.8}').stdout
    assert "registered clim version 1" in out
    cli(world, a, "model", "register", proj.name, "clim", "--path", "Models/clim/1", "--framework", "xgboost",
        "--metrics", '{"auc": 0.9}')
    best = json.loads(cli(world, a, "--json", "model", "best", proj.name, "clim", "--metric", "auc").stdout)
    assert best["version"] == 2
    listing = cli(world, a, "model", "list", proj.name, "--name", "clim").stdout
    assert listing.splitlines()[0].split()[:3] == ["NAME", "VERSION", "FRAMEWORK"] and len(listing.splitlines()) == 3
    cli(world, a, "model", "download", proj.name, "clim", "2", str(tmp_path / "dl"))
    assert (tmp_path / "dl" / "model.json").read_bytes() == local.read_bytes()
    # bad inputs and rights
    p = cli(world, a, "model", "export", proj.name, "clim", str(tmp_path / "missing"), ok=False)
    assert p.returncode == 2 and "cannot read" in p.stderr
    p = cli(world, a, "model", "register", proj.name, "clim", "--path", "Models/clim/1", "--metrics", "[1]", ok=False)
    assert p.returncode == 2 and "--metrics wants a JSON object" in p.stderr
    p = cli(world, world.bob, "model", "download", proj.name, "clim", "2", str(tmp_path / "bob"), ok=False)
    assert p.returncode == 1 and "does not allow" in p.stderr
    p = cli(world, world.carol, "model", "list", proj.name, ok=False)
    assert p.returncode == 1 and "not found" in p.stderr

    name = unique("clid")
    cli(world, world.bob, "deploy", "create", proj.name, name, "--model", "clim", "--predictor", "xgboost",
        "--logging", "all")
    assert "is running" in cli(world, world.bob, "deploy", "start", proj.name, name).stdout
    ans = json.loads(cli(world, world.bob, "deploy", "predict", proj.name, name, "--instances",
                         json.dumps(X[:2].tolist())).stdout)
    assert np.array_equal(f32(ans["predictions"]), clf.get_booster().inplace_predict(X[:2]))
    ans = json.loads(cli(world, a, "deploy", "predict", proj.name, name, "--verb", "classify", "--body",
                         json.dumps({"instances": X[:1].tolist()})).stdout)
    assert ans["results"][0][0][0] == "0"
    table = cli(world, a, "deploy", "list", proj.name).stdout
    assert name in table and "running" in table
    assert "scaled" in cli(world, a, "deploy", "scale", proj.name, name, "2").stdout
    assert json.loads(cli(world, a, "--json", "deploy", "show", proj.name, name).stdout)["instances"] == 2
    # another version while serving, and back to the newest
    out = cli(world, a, "deploy", "update", proj.name, name, "--version", "1").stdout
    assert "updated deployment %s: model clim version 1, running" % name in out, out
    out = cli(world, world.bob, "deploy", "create", proj.name, name, "--model", "clim", "--update").stdout
    assert "updated deployment %s: model clim version 2, running" % name in out, out
    assert json.loads(cli(world, a, "--json", "deploy", "update", proj.name, name, "--version", "latest").stdout)[
        "model_version"] == 2
    p = cli(world, a, "deploy", "update", proj.name, name, ok=False)
    assert p.returncode == 2 and "nothing to change" in p.stderr
    p = cli(world, a, "deploy", "update", proj.name, name, "--version", "7", ok=False)
    assert p.returncode == 1 and 'model "clim" has no version 7' in p.stderr
    logs = cli(world, a, "deploy", "logs", proj.name, name, "--inference", "--lines", "5").stdout
    assert json.loads(logs.splitlines()[-1])["verb"] == "classify"
    assert "starting model clim" in cli(world, a, "deploy", "logs", proj.name, name).stdout
    p = cli(world, world.carol, "deploy", "predict", proj.name, name, "--instances", "[[1,2,3,4]]", ok=False)
    assert p.returncode == 1 and "not found" in p.stderr
    p = cli(world, a, "deploy", "predict", proj.name, name, "--instances", "[[1,2]]", ok=False)
    assert p.returncode == 1 and "instances[0] has 2 values" in p.stderr
    p = cli(world, a, "deploy", "predict", proj.name, name, "--instances", "[[", ok=False)
    assert p.returncode == 2 and "not valid JSON" in p.stderr
    p = cli(world, a, "deploy", "create", proj.name, unique("x"), "--model", "clim", "--instances", "99", ok=False)
    assert p.returncode == 2
    cli(world, a, "deploy", "stop", proj.name, name)
    assert json.loads(cli(world, a, "--json", "deploy", "show", proj.name, name).stdout)["state"] == "stopped"
    cli(world, a, "deploy", "delete", proj.name, name)
    p = cli(world, a, "deploy", "show", proj.name, name, ok=False)
    assert p.returncode == 1 and "not found" in p.stderr
    # a failing start is reported with the reason
    proj.files.upload(b"class Predict:\n    def __init__(self):\n        raise ValueError('no weights here')\n",
                      "Resources/broken/predictor.py")
    proj.models.register("clibroken", "Resources/broken", "python")
    cli(world, a, "deploy", "create", proj.name, name + "b", "--model", "clibroken")
    p = cli(world, a, "deploy", "start", proj.name, name + "b", ok=False)
    assert p.returncode == 1 and "no weights here" in p.stderr


def test_docs_serving_md_examples_run(start_server, tmp_path):
    """docs/serving.md's python blocks, in order, as one script, against a
    fresh server with the admin key in $OAST_API_KEY."""
    import re
    import sys

    from oasttest import REPO
    doc = (REPO / "docs" / "serving.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    assert len(blocks) >= 7
    script = tmp_path / "guide.py"
    script.write_text("\n".join(blocks))
    srv = start_server()
    env = dict(os.environ, OAST_ADDR=srv.addr, OAST_API_KEY=srv.admin_key, HOME=str(tmp_path),
               PYTHONPATH=str(REPO / "python"))
    env.pop("OAST_CONFIG", None)
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "best version 1" in out.stdout and "instances[1] is ragged" in out.stdout
    assert "loaded LogisticRegression" in out.stdout and "stopped" in out.stdout
    assert "fraud_probability" in out.stdout and "'predictions'" in out.stdout
