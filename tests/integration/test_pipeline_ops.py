"""Pipeline tasks that run the platform's own operations through the
`oast` CLI with the run's job token: training data from a feature view,
deploying a registered model, inserting a file into a feature group,
running an experiment and registering its best model."""

from fvtest import fs_path, insert, make_group, make_view
from jobstest import jserver, jworld, project_of, task, wait_prun  # noqa: F401
from servingtest import register_magic


def test_trainingdata_task(jworld):
    p = jworld.new_project("opsfv")
    api, key = jworld.api, jworld.alice.key
    make_group(api, key, p, "labels", [("uid", "bigint"), ("ts", "timestamp"), ("y", "int")], ["uid"],
               event_time="ts")
    insert(api, key, p, "labels", [{"uid": i, "ts": "2024-01-0%dT00:00:00Z" % (1 + i % 5), "y": i % 2}
                                   for i in range(20)])
    make_view(api, key, p, {"name": "churn", "version": 1,
                            "query": {"featuregroup": "labels", "version": 1, "features": ["uid", "ts", "y"]},
                            "labels": ["y"]})
    pl = project_of(jworld, p, jworld.bob).pipelines  # a data scientist's pipeline makes training data
    pl.create({"name": "td", "tasks": [{"name": "make", "type": "trainingdata", "featureview": "churn",
                                        "format": "csv", "splits": {"train": 0.75, "test": 0.25}, "seed": 7}]})
    run = wait_prun(pl, "td", pl.run("td")["id"])
    t = task(run, "make")
    assert run["state"] == "succeeded", (run, project_of(jworld, p).files.preview(t["log"], "tail", 50))
    assert t["log"] == "Logs/pipelines/td/%d/make.log" % run["id"]
    assert isinstance(t["result"], dict) and t["result"]["version"] == 1, t
    tds = api.get(fs_path(p, "/featureviews/churn/versions/1/trainingdata"), key).json()["items"]
    assert [d["version"] for d in tds] == [1]
    assert sorted(t["result"]["splits"]) == ["test", "train"] and t["result"]["seed"] == 7
    assert sum(sp["rows"] for sp in t["result"]["splits"].values()) == 20
    # A view that does not exist fails the task with the CLI's (the server's) message in the log.
    pl.create({"name": "td2", "tasks": [{"name": "make", "type": "trainingdata", "featureview": "nope"}]})
    run = wait_prun(pl, "td2", pl.run("td2")["id"])
    t = task(run, "make")
    assert run["state"] == "failed" and t["exit_code"] == 1, t
    assert "nope" in project_of(jworld, p).files.preview(t["log"], "tail", 20)


def test_deploy_task_creates_and_starts_then_moves_to_the_new_version(jworld):
    p = jworld.new_project("opsdep")
    proj = project_of(jworld, p)
    register_magic(proj, "magic", factor=3.0)
    name = "dep%s" % p
    pl = proj.pipelines
    pl.create({"name": "ship", "tasks": [{"name": "deploy", "type": "deploy", "model": "magic", "deployment": name,
                                          "predictor": {"type": "python"}, "instances": 1, "start": True}]})
    run = wait_prun(pl, "ship", pl.run("ship")["id"], timeout=120)
    t = task(run, "deploy")
    assert run["state"] == "succeeded", (run, proj.files.preview(t["log"], "tail", 50))
    dep = proj.deployments.get(name)
    assert dep.info["state"] in ("starting", "running") and dep.info["model"] == "magic"
    assert t["result"]["name"] == name
    assert dep.info["model_version"] == 1
    dep.start(timeout=60)
    assert dep.predict([1.0]) == [3.0]
    # The next run (a new version registered meanwhile) moves the running deployment to it.
    register_magic(proj, "magic", factor=7.0)
    run = wait_prun(pl, "ship", pl.run("ship")["id"], timeout=120)
    t = task(run, "deploy")
    assert run["state"] == "succeeded", (run, proj.files.preview(t["log"], "tail", 50))
    dep = proj.deployments.get(name)
    assert dep.info["model_version"] == 2 and dep.info["state"] == "running", dep.info
    assert dep.predict([1.0]) == [7.0]
    # A deployment of that name serving another model is not taken over: the task fails and says why.
    register_magic(proj, "other", factor=1.0)
    pl.create({"name": "clash", "tasks": [{"name": "deploy", "type": "deploy", "model": "other", "deployment": name,
                                           "start": True}]})
    run = wait_prun(pl, "clash", pl.run("clash")["id"], timeout=120)
    t = task(run, "deploy")
    assert run["state"] == "failed", run
    assert 'serves model "magic", not "other"' in proj.files.preview(t["log"], "tail", 20)
    assert proj.deployments.get(name).info["model_version"] == 2
    proj.deployments.get(name).delete()


def test_featuregroup_insert_task(jworld):
    p = jworld.new_project("opsfg")
    api, key = jworld.api, jworld.alice.key
    make_group(api, key, p, "tx", [("id", "bigint"), ("amount", "double")], ["id"])
    project_of(jworld, p).files.upload(b"id,amount\n1,2.5\n2,4.0\n", "Resources/tx.csv")
    pl = project_of(jworld, p).pipelines
    pl.create({"name": "ingest", "tasks": [
        {"name": "wait", "type": "sensor", "path": "Resources/tx.csv", "poke_interval_s": 1},
        {"name": "insert", "type": "featuregroup_insert", "featuregroup": "tx", "path": "Resources/tx.csv",
         "depends_on": ["wait"]}]})
    run = wait_prun(pl, "ingest", pl.run("ingest")["id"])
    assert run["state"] == "succeeded", run
    commits = api.get(fs_path(p, "/featuregroups/tx/versions/1/commits"), key).json()["items"]
    assert len(commits) == 1 and commits[0]["rows_inserted"] == 2


def test_experiment_and_register_best_model_tasks(jworld, tmp_path):
    p = jworld.new_project("opsexp")
    proj = project_of(jworld, p)
    proj.files.upload(b"import json, os\nfrom oast.experiment import Reporter\n"
                      b"x = json.loads(os.environ['OAST_PARAMS'])['x']\n"
                      b"open(os.path.join(os.environ['OAST_LOGDIR'], 'model.txt'), 'w').write(str(x))\n"
                      b"Reporter().final(x)\n", "Resources/trial.py")
    pl = proj.pipelines
    pl.create({"name": "search", "tasks": [
        {"name": "exp", "type": "experiment",
         "experiment": {"name": "x", "command": ["Resources/trial.py"], "optimizer": "grid",
                        "searchspace": {"x": {"type": "discrete", "values": [1, 3, 2]}},
                        "metric": "metric", "direction": "max"}},
        {"name": "best", "type": "register_best_model", "experiment": "exp", "model": "bestx", "metric": "metric",
         "depends_on": ["exp"]}]})
    run = wait_prun(pl, "search", pl.run("search")["id"], timeout=180)
    best = task(run, "best")
    assert run["state"] == "succeeded", (best, proj.files.preview(best["log"] or task(run, "exp")["log"], "tail", 20))
    exp_id = task(run, "exp")["result"]["id"]
    assert task(run, "exp")["result"]["state"] == "finished"
    # The best trial (x = 3) was registered, with its metric, from its folder.
    model = best["result"]
    assert model["name"] == "bestx" and model["metrics"] == {"metric": 3}, model
    assert proj.files.preview(model["path"] + "/model.txt", "head", 1).strip() == "3"
    assert exp_id
