"""The Python experiment API (oast.experiment) end to end: the training
function's file goes to the server, trials run it with the trial runner,
the log is printed live with trial prefixes, and every entry point
returns (logdir, best params, results)."""

import importlib.util
import io
import itertools
import textwrap

import pytest

import oast
from oast import experiment
from exptest import by_number

_mods = itertools.count()

TRAIN = '''
import os
import time

def train(x, reporter, y=0):
    """A curve that is best at x = 2; y nudges it."""
    m = None
    for step in range(3):
        m = -(x - 2) ** 2 + y + step / 100
        reporter.report(m, step=step)
    print("trained with x=%s y=%s" % (x, y))
    return {"acc": m, "note": "x=%s" % x}

def plain(x):
    return float(x) * 2

def bad_result(x):
    return {"loss": 1.0}

def ablate(ablated_feature, ablated_component, base=1.0):
    # Leaving out "age" hurts most; dropping "dropout" helps a little.
    score = {None: 0.8, "age": 0.5, "income": 0.75}[ablated_feature]
    if ablated_component == "dropout":
        score += 0.05
    return score * base

def budgeted(x, budget, reporter=None):
    m = (1 - (x - 0.7) ** 2) * (1 - 0.5 ** (budget / 4))
    return m

def median(q, reporter):
    for step in range(10):
        reporter.report(q, step=step)
        time.sleep(0.01)
    return q

def kwargs_fn(**params):
    return sum(v for v in params.values() if isinstance(v, (int, float)))

if __name__ == "__main__":
    raise SystemExit("the trial runner must not run this block")
'''


def load(tmp_path, source=TRAIN):
    path = tmp_path / ("train_%d.py" % next(_mods))
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def proj(world):
    return world.alice.conn.projects.get(world.new_project("py"))


def test_grid_search_prints_prefixed_logs_and_returns_the_best(proj, tmp_path):
    mod = load(tmp_path)
    out = io.StringIO()
    logdir, best, res = experiment.grid_search(mod.train, {"x": [1, 2, 3], "y": [0, 1]}, direction="max",
                                               optimization_key="acc", project=proj, parallelism=2, out=out,
                                               name="grid_py")
    text = out.getvalue()
    assert logdir == "Experiments/%d" % res["id"] and res["state"] == "finished"
    assert best == {"x": 2, "y": 1}
    assert res["best_val"] == pytest.approx(1.02) and res["best_config"] == best and res["num_trials"] == 6
    for n in range(6):
        assert "[trial %d] started with" % n in text
    assert "[trial 0] trained with x=1 y=0" in text
    assert text.rstrip().splitlines()[-1].startswith("[experiment] finished: best trial")
    trials = by_number(res)
    assert [t["params"] for t in trials] == [{"x": x, "y": y} for x in (1, 2, 3) for y in (0, 1)]
    assert trials[3]["outputs"] == {"acc": pytest.approx(1.02), "note": "x=2"}
    # The function's file went along as the experiment's own copy.
    assert proj.files.exists(logdir + "/" + mod.__file__.rsplit("/", 1)[1])


def test_launch_runs_one_trial_with_the_given_params(proj, tmp_path):
    mod = load(tmp_path)
    logdir, best, res = experiment.launch(mod.plain, {"x": 4}, project=proj.name, conn=proj.connection,
                                          out=io.StringIO())
    assert best == {"x": 4} and res["best_val"] == 8 and res["optimizer"] == {"name": "single", "params": {"x": 4}}
    assert len(res["trials"]) == 1 and res["trials"][0]["state"] == "finished"


def test_random_search_is_reproducible_with_a_seed(proj, tmp_path):
    mod = load(tmp_path)
    runs = [experiment.random_search(mod.kwargs_fn, {"x": [0.0, 1.0], "n": [1, 9]}, samples=4, seed=11,
                                     project=proj, out=io.StringIO(), parallelism=2) for _ in range(2)]
    params = [[t["params"] for t in by_number(r[2])] for r in runs]
    assert params[0] == params[1] and len(params[0]) == 4
    assert all(isinstance(p["n"], int) and 1 <= p["n"] <= 9 and 0.0 <= p["x"] <= 1.0 for p in params[0])


def test_differential_evolution(proj, tmp_path):
    mod = load(tmp_path)
    _, best, res = experiment.differential_evolution(mod.plain, {"x": [-5.0, 5.0]}, direction="max", generations=3,
                                                     population=4, project=proj, out=io.StringIO(), seed=5)
    assert res["num_trials"] == 12 and res["state"] == "finished"
    assert best["x"] == max(t["params"]["x"] for t in res["trials"])
    assert any(t["parent"] is not None for t in res["trials"])  # challengers name the member they challenge


def test_lagom_asha(proj, tmp_path):
    mod = load(tmp_path)
    sp = experiment.Searchspace(x=("DOUBLE", [0.0, 1.0]))
    cfg = experiment.OptimizationConfig(num_trials=9, optimizer="asha", searchspace=sp, direction="max",
                                        reduction_factor=3, min_resource=1, max_resource=9, seed=2, parallelism=2,
                                        name="asha_py")
    _, best, res = experiment.lagom(mod.budgeted, cfg, project=proj, out=io.StringIO())
    assert res["state"] == "finished"
    assert {t["rung"] for t in res["trials"]} == {0, 1, 2}
    assert best["budget"] == 9 and res["trials"][0]["rung"] == 2


def test_lagom_median_early_stopping(proj, tmp_path):
    mod = load(tmp_path)
    sp = experiment.Searchspace()
    sp.add("q", ("DISCRETE", [1.0, 0.9, 0.2]))
    cfg = experiment.OptimizationConfig(optimizer="gridsearch", searchspace=sp, es_policy="median", es_min=2,
                                        es_interval=1)
    _, best, res = experiment.lagom(mod.median, cfg, project=proj, out=io.StringIO())
    trials = by_number(res)
    assert [t["state"] for t in trials] == ["finished", "finished", "early_stopped"]
    assert res["early_stopped"] == 1 and trials[2]["metric"] == pytest.approx(0.2)
    assert best == {"q": 1.0}


def test_lagom_ablation_leaves_one_component_out(proj, tmp_path):
    mod = load(tmp_path)
    study = experiment.AblationStudy(features=["age"], components=["dropout"], params={"base": 1.0})
    study.include_feature_view({"features": [{"name": "income"}]})
    _, best, res = experiment.lagom(mod.ablate, experiment.AblationConfig(study, name="abl"), project=proj,
                                    out=io.StringIO())
    trials = by_number(res)
    assert [(t["params"]["ablated_feature"], t["params"]["ablated_component"]) for t in trials] == [
        (None, None), ("age", None), ("income", None), (None, "dropout")]
    assert [t["metric"] for t in trials] == pytest.approx([0.8, 0.5, 0.75, 0.85])
    assert best["ablated_component"] == "dropout"


def test_a_result_without_the_key_fails_the_trial_with_a_reason(proj, tmp_path):
    mod = load(tmp_path)
    _, best, res = experiment.grid_search(mod.bad_result, {"x": [1]}, optimization_key="acc", project=proj,
                                          out=io.StringIO())
    t = res["trials"][0]
    assert res["state"] == "failed" and t["state"] == "failed" and t["exit_code"] == 1
    assert "no number under the optimization key 'acc'" in t["log_tail"]
    assert best == {}


def test_a_script_that_launches_at_top_level_still_runs_as_a_trial(proj, tmp_path):
    source = '''
    from oast import experiment

    def train(x):
        return x + 1

    experiment.grid_search(train, {"x": [1, 2]}, project="%s")   # no __main__ guard
    ''' % proj.name
    # Importing the module runs the top-level launch here, as a user's script would.
    out = io.StringIO()
    orig = experiment.sys.stdout
    experiment.sys.stdout = out
    try:
        import os
        os.environ["OAST_ADDR"], os.environ["OAST_API_KEY"] = proj.connection.addr, proj.connection.api_key
        mod = load(tmp_path, source)
    finally:
        experiment.sys.stdout = orig
        del os.environ["OAST_ADDR"], os.environ["OAST_API_KEY"]
    text = out.getvalue()
    assert "[experiment] finished: best trial 1, metric 3" in text, text
    assert mod.train(1) == 2


def test_bad_arguments_are_caught_before_anything_is_sent(proj, tmp_path):
    mod = load(tmp_path)
    with pytest.raises(ValueError, match="top level"):
        experiment.grid_search(lambda x: x, {"x": [1]}, project=proj)
    with pytest.raises(ValueError, match="no values"):
        experiment.grid_search(mod.plain, {"x": []}, project=proj)
    with pytest.raises(ValueError, match="min, max"):
        experiment.random_search(mod.plain, {"x": [1, 2, 3]}, project=proj)
    with pytest.raises(ValueError, match="unknown type"):
        experiment.Searchspace(x=("FLOAT", [0, 1]))
    with pytest.raises(oast.BadRequest) as exc:
        experiment.grid_search(mod.plain, {"x": [1]}, project=proj, parallelism=0)
    assert exc.value.message.startswith("parallelism")
    assert proj.experiments.list() == []


def test_reporter_outside_a_trial_only_remembers(monkeypatch):
    monkeypatch.delenv("OAST_TRIAL_ID", raising=False)
    r = experiment.Reporter()
    r.report(0.5)
    r.report(0.7, step=5)
    assert not r.active and r.metric == 0.7 and r.step == 5
