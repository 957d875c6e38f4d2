"""register_best_model after an ASHA experiment registers the
experiment's own best trial — the best of the highest rung, as `oast exp
show` reports it — and not a trial that scored better at a lower budget.
With a direction other than the experiment's it takes the trial with the
best value of the metric in that direction.

The trial's metric is x - budget (the experiment maximizes it), so every
configuration scores worse the more budget ASHA gives it: the promoted
trial at budget 3 is the experiment's best, while its own run at budget 1
has the highest value of all.
"""

from jobstest import jserver, jworld, project_of, task, wait_prun  # noqa: F401

TRIAL = (b"import json, os\nfrom oast.experiment import Reporter\n"
         b"p = json.loads(os.environ['OAST_PARAMS'])\n"
         b"open(os.path.join(os.environ['OAST_LOGDIR'], 'model.txt'), 'w').write('%r %r' % (p['x'], p['budget']))\n"
         b"Reporter().final(p['x'] - p['budget'])\n")


def test_register_best_model_takes_the_asha_best(jworld):
    p = jworld.new_project("regbest")
    proj = project_of(jworld, p)
    proj.files.upload(TRIAL, "Resources/trial.py")
    experiment = {"name": "asha", "command": ["Resources/trial.py"],
                  "searchspace": {"x": {"type": "double", "min": 0, "max": 1}},
                  "optimizer": {"name": "asha", "reduction_factor": 3, "min_resource": 1, "max_resource": 3},
                  "num_trials": 3, "parallelism": 1, "metric": "score", "direction": "max", "seed": 5}
    proj.pipelines.create({"name": "hpo", "tasks": [
        {"name": "exp", "type": "experiment", "experiment": experiment},
        {"name": "best", "type": "register_best_model", "experiment": "exp", "model": "asha", "metric": "score",
         "depends_on": ["exp"]},
        {"name": "lowest", "type": "register_best_model", "experiment": "exp", "model": "lowest", "metric": "score",
         "direction": "min", "depends_on": ["exp"]}]})
    run = wait_prun(proj.pipelines, "hpo", proj.pipelines.run("hpo")["id"], timeout=300)
    assert run["state"] == "succeeded", run
    x = proj.experiments.get(task(run, "exp")["result"]["id"])
    trials = [t for t in x["trials"] if t["metric"] is not None]
    top = max(t["budget"] for t in trials)
    assert top == 3, trials
    assert max(t["metric"] for t in trials) > x["best"]["metric"]   # a lower rung scored higher
    best_trial = [t for t in trials if t["number"] == x["best"]["number"]][0]
    assert best_trial["budget"] == top

    model = task(run, "best")["result"]
    assert model["metrics"] == {"score": x["best"]["metric"]}, (model, x["best"])
    x_val, budget = proj.files.preview(model["path"] + "/model.txt", "head", 1).split()
    assert float(budget) == 3 and float(x_val) == best_trial["params"]["x"]

    # Against the experiment's direction: the lowest value of any trial.
    lowest = task(run, "lowest")["result"]
    assert lowest["metrics"] == {"score": min(t["metric"] for t in trials)}, lowest
