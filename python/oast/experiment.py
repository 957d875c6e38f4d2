"""
oast.experiment — hyperparameter experiments from Python, as in hops and
maggy.

    from oast import experiment

    def train(lr, layers, reporter):
        for epoch in range(10):
            acc = fit_one_epoch(lr, layers)
            reporter.report(acc, step=epoch)    # may end the trial early
        return {"accuracy": acc}

    logdir, best, results = experiment.grid_search(
        train, {"lr": [0.1, 0.01], "layers": [2, 4]},
        direction="max", optimization_key="accuracy", project="demo", parallelism=2)

The training function's source file goes to the server with the
experiment (a versioned copy under ``Experiments/<id>/``); every trial
is a process on the server that runs it with :mod:`oast.trial_runner`,
which imports the file, calls the function with the parameters it
accepts (and ``reporter`` if it takes one) and sends its result: a
number, or a dict holding the optimization key. While the experiment
runs, its log is printed live, every line prefixed by its trial
(``[trial 3] ...``). Every entry point returns ``(logdir, best_params,
results)``: the experiment's folder in the project, the best trial's
parameters, and the experiment as the server describes it (trials best
first) with maggy's summary keys added.

Entry points: :func:`launch` (one trial), :func:`grid_search`,
:func:`random_search`, :func:`differential_evolution`, :func:`lagom`
(ASHA, random or grid search with early stopping, and ablation studies)
and :func:`run` (a raw experiment body). They share the keyword
arguments of :func:`run`: ``project`` (a Project, or a name; default
$OAST_PROJECT), ``conn``, ``name``, ``description``, ``parallelism``,
``timeout_s``, ``resources`` ({"cpus", "gpus"}), ``seed``, ``env``,
``files`` (more local files to send along), ``follow`` and ``out``.

The module also holds the REST handle (:class:`Experiments`, reached as
``project.experiments``) and the trial side: :class:`Reporter` and
:class:`EarlyStop`.
"""

import base64
import http.client
import inspect
import json
import math
import os
import sys
import time

from . import errors
from .client import connect, quote_path

__all__ = ["launch", "grid_search", "random_search", "differential_evolution", "lagom", "run", "Searchspace",
           "OptimizationConfig", "AblationStudy", "AblationConfig", "Experiments", "Reporter", "EarlyStop"]

#: Seconds between attempts to resume a broken log stream, and how many
#: attempts in a row before giving up (the server is gone for good).
RECONNECT_S = 0.5
RECONNECT_TRIES = 120


class EarlyStop(Exception):
    """Raised by :meth:`Reporter.report` when the experiment stops the
    trial early; the trial runner catches it and records the trial as
    early stopped with its last report as its metric."""


class _LaunchInTrial(BaseException):
    """A script started an experiment while being imported as a trial."""


#: Set by the trial runner while it imports the user's file: starting an
#: experiment then ends the import instead of launching a nested one.
_IN_TRIAL = False


# --- the trial side -----------------------------------------------------------


def _finite(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


class Reporter:
    """Reports a trial's progress to the server (inside a trial: the
    environment names the server, the trial and its token).

    ``report(metric, step)`` sends an intermediate result and raises
    :class:`EarlyStop` when the early-stopping rule (or ASHA) ends the
    trial; ``log(text)`` adds lines to the experiment's log. Outside a
    trial both only remember what they were given."""

    def __init__(self, conn=None, trial_id=None):
        self.trial_id = trial_id or os.environ.get("OAST_TRIAL_ID")
        token = os.environ.get("OAST_TRIAL_TOKEN")
        if conn is None and self.trial_id and token:
            conn = connect(os.environ.get("OAST_ADDR"), token)
        self._conn = conn
        self.metric = None
        self.step = -1
        self.stopped = False

    @property
    def active(self):
        return self._conn is not None and self.trial_id is not None

    def report(self, metric, step=None, **metrics):
        """Sends ``metric`` at ``step`` (default: the next step) with any
        other scalars as keyword arguments (they go to TensorBoard);
        raises EarlyStop when the trial should end."""
        self.step = self.step + 1 if step is None else int(step)
        if _finite(metric):
            self.metric = float(metric)
        if not self.active:
            return
        body = {"metric": float(metric) if _finite(metric) else None, "step": self.step}
        if not _finite(metric):
            body["log"] = "reported a metric that is not a finite number: %r" % (metric,)
        extra = {k: float(v) for k, v in metrics.items() if _finite(v)}
        if extra:
            body["metrics"] = extra
        out = self._conn.request("POST", "/trials/%s/report" % quote_path(str(self.trial_id)), body)
        if out and out.get("stop"):
            self.stopped = True
            raise EarlyStop("the experiment stopped this trial early at step %d" % self.step)

    #: maggy's name for report.
    broadcast = report

    def log(self, text):
        """Adds text (one or more lines) to the experiment's log."""
        if not self.active:
            print(text)
            return
        self._conn.request("POST", "/trials/%s/report" % quote_path(str(self.trial_id)), {"log": str(text)})

    def final(self, metric=None, outputs=None):
        """Sends the trial's result (the trial runner does this with what
        the training function returned)."""
        if not self.active:
            return None
        body = {}
        if _finite(metric):
            body["metric"] = float(metric)
        if outputs is not None:
            body["outputs"] = outputs
        if not body:
            body["outputs"] = {}
        return self._conn.request("POST", "/trials/%s/final" % quote_path(str(self.trial_id)), body)


# --- the REST handle ------------------------------------------------------------


class Experiments:
    """``project.experiments``: create, list, inspect, follow and stop
    experiments of one project."""

    def __init__(self, project):
        self._p = project

    def create(self, spec):
        """POST an experiment body (see docs/api.md); returns its detail."""
        return self._p.request("POST", "/experiments", spec)

    def list(self):
        """Every experiment of the project, newest first."""
        return self._p.request("GET", "/experiments")["items"]

    def get(self, experiment_id):
        """One experiment with its trials, best first."""
        return self._p.request("GET", "/experiments/%d" % int(experiment_id))

    def stop(self, experiment_id):
        """Stops a running experiment: no new trials, running ones are killed."""
        return self._p.request("POST", "/experiments/%d/stop" % int(experiment_id))

    def logs(self, experiment_id, follow=False, offset=0):
        """The experiment's log lines ("[trial N] ..."), as a generator of
        str. With ``follow`` it yields lines as they are written until the
        experiment ends, reconnecting from where it was when a stream
        breaks."""
        conn = self._p.connection
        path = self._p.path("/experiments/%d/logs" % int(experiment_id))
        pending = b""
        failures = 0
        while True:
            query = {"follow": "true" if follow else "false", "offset": str(offset)}
            try:
                resp, hc = conn.open_stream("GET", path, query=query)
                failures = 0
            except errors.ConnectionFailed:
                failures += 1
                if not follow or failures > RECONNECT_TRIES:
                    raise
                time.sleep(RECONNECT_S)
                continue
            try:
                while True:
                    chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
                    if not chunk:
                        break
                    offset += len(chunk)
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        yield line.decode("utf-8", "replace")
            except (OSError, ValueError, http.client.HTTPException, errors.OastError):
                pass  # a broken stream: resumed below from `offset`
            finally:
                hc.close()
            if not follow or self.get(experiment_id)["state"] != "running":
                # Ended: whatever was written after the last read.
                if follow:
                    follow = False
                    continue
                break
        if pending:
            yield pending.decode("utf-8", "replace")


# --- search spaces and configurations (maggy's shapes) --------------------------------

_TYPES = {"DOUBLE": "double", "INTEGER": "integer", "DISCRETE": "discrete", "CATEGORICAL": "categorical"}


class Searchspace:
    """A search space as in maggy:

        sp = Searchspace(kernel=("INTEGER", [2, 8]), pool=("INTEGER", [2, 8]))
        sp.add("lr", ("DOUBLE", [1e-4, 1e-1]), log=True)
        sp.add("opt", ("CATEGORICAL", ["adam", "sgd"]))

    Types DOUBLE and INTEGER take [min, max]; DISCRETE (numbers) and
    CATEGORICAL (any values) take the list of values."""

    def __init__(self, **params):
        self._params = {}
        for name, value in params.items():
            self.add(name, value)

    def add(self, name, value, log=False, steps=None):
        if not (isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], str)):
            raise ValueError("searchspace %s: expected (TYPE, values), e.g. (\"DOUBLE\", [0.01, 0.1])" % name)
        kind, values = value
        t = _TYPES.get(kind.upper())
        if t is None:
            raise ValueError("searchspace %s: unknown type %r (DOUBLE, INTEGER, DISCRETE or CATEGORICAL)" % (name, kind))
        if t in ("double", "integer"):
            if len(values) != 2:
                raise ValueError("searchspace %s: %s takes [min, max]" % (name, kind))
            p = {"type": t, "min": values[0], "max": values[1]}
            if log:
                p["log"] = True
            if steps:
                p["steps"] = int(steps)
        else:
            p = {"type": t, "values": list(values)}
        self._params[name] = p
        return self

    def names(self):
        return list(self._params)

    def to_json(self):
        return dict(self._params)


def _space(obj):
    return obj.to_json() if isinstance(obj, Searchspace) else dict(obj or {})


class OptimizationConfig:
    """What :func:`lagom` runs for a search: ``optimizer`` is "asha",
    "randomsearch"/"random", "gridsearch"/"grid" or
    "differential_evolution"; early stopping with ``es_policy`` "median"
    (after ``es_min`` finished trials, every ``es_interval`` reports) or
    "none". ASHA takes ``reduction_factor``, ``min_resource`` and
    ``max_resource`` (the budget a trial receives as the parameter
    "budget")."""

    def __init__(self, num_trials=None, optimizer="randomsearch", searchspace=None, optimization_key="metric",
                 direction="max", es_interval=1, es_min=10, es_policy="none", name="experiment", description="",
                 parallelism=1, reduction_factor=2, min_resource=1, max_resource=None, seed=None, timeout_s=None,
                 resources=None, population=None, generations=None, mutation=None, crossover=None):
        self.__dict__.update(locals())
        del self.__dict__["self"]

    def spec(self):
        names = {"asha": "asha", "randomsearch": "random", "random": "random", "gridsearch": "grid", "grid": "grid",
                 "differential_evolution": "differential_evolution", "de": "differential_evolution",
                 "single": "single"}
        name = names.get(str(self.optimizer).lower())
        if name is None:
            raise ValueError("optimizer %r: expected asha, randomsearch, gridsearch or differential_evolution"
                             % (self.optimizer,))
        opt = {"name": name}
        if name == "asha":
            opt.update(reduction_factor=self.reduction_factor, min_resource=self.min_resource,
                       max_resource=self.max_resource)
        if name == "differential_evolution":
            for k in ("population", "generations", "mutation", "crossover"):
                if getattr(self, k) is not None:
                    opt[k] = getattr(self, k)
        body = {"searchspace": _space(self.searchspace), "optimizer": opt, "direction": self.direction,
                "metric": self.optimization_key}
        if self.num_trials is not None:
            body["num_trials"] = self.num_trials
        if self.es_policy and self.es_policy != "none" and name != "asha":
            body["early_stopping"] = {"policy": self.es_policy, "min_trials": self.es_min,
                                      "interval": self.es_interval}
        return body


class AblationStudy:
    """Leave-one-component-out ablation: one base trial with everything,
    then one trial per feature and one per named model component, each
    leaving that one out. The training function learns what is left out
    from its parameters ``ablated_feature`` and ``ablated_component``
    (None for the base trial).

        study = AblationStudy(features=["age", "income"], components=["dropout"])
        study.features.include("zip")        # or a feature view's features
    """

    class _Names(list):
        def include(self, *names):
            for n in names:
                if isinstance(n, (list, tuple)):
                    self.include(*n)
                elif n not in self:
                    self.append(str(n))
            return self

    def __init__(self, features=(), components=(), params=None):
        self.features = AblationStudy._Names()
        self.components = AblationStudy._Names()
        self.features.include(*features)
        self.components.include(*components)
        self.params = dict(params or {})

    def include_feature_view(self, feature_view):
        """Adds the features of a feature view: an object with a
        ``features`` list (names, or dicts with a "name"), or such a dict."""
        feats = feature_view.get("features") if isinstance(feature_view, dict) else feature_view.features
        self.features.include(*[f["name"] if isinstance(f, dict) else f for f in feats])
        return self


class AblationConfig:
    """What :func:`lagom` runs for an ablation study."""

    def __init__(self, ablation_study, ablator="loco", optimization_key="metric", direction="max",
                 name="ablation", description="", parallelism=1, timeout_s=None, resources=None, seed=None):
        if ablator != "loco":
            raise ValueError("ablator %r: only \"loco\" (leave one component out) is supported" % (ablator,))
        self.__dict__.update(locals())
        del self.__dict__["self"]

    def spec(self):
        s = self.ablation_study
        opt = {"name": "ablation", "features": list(s.features), "components": list(s.components)}
        if s.params:
            opt["params"] = s.params
        return {"optimizer": opt, "direction": self.direction, "metric": self.optimization_key}


# --- launching ------------------------------------------------------------------


def _function_source(train_fn):
    """(file name, source bytes, function name) of a top-level function."""
    if not callable(train_fn) or not hasattr(train_fn, "__name__"):
        raise TypeError("train_fn must be a function")
    name = train_fn.__name__
    if getattr(train_fn, "__qualname__", name) != name or name == "<lambda>":
        raise ValueError("train_fn must be a function defined at the top level of a file (got %s)"
                         % getattr(train_fn, "__qualname__", name))
    path = inspect.getsourcefile(train_fn)
    if not path or not os.path.isfile(path):
        raise ValueError("cannot find the file that defines %s; define it in a .py file" % name)
    with open(path, "rb") as f:
        return os.path.basename(path), f.read(), name


def _project(project, conn):
    from .project import Project
    if isinstance(project, Project):
        return project
    conn = conn or connect()
    name = project or os.environ.get("OAST_PROJECT")
    if not name:
        raise ValueError("which project? pass project= (a name or Project) or set $OAST_PROJECT")
    return conn.projects.get(name)


def _summary(detail):
    """maggy's result keys on top of the server's detail."""
    res = dict(detail)
    trials = [t for t in detail.get("trials", []) if t.get("metric") is not None]
    best = detail.get("best") or {}
    res["best_id"] = best.get("number")
    res["best_val"] = best.get("metric")
    res["best_config"] = best.get("params")
    if trials:
        worst = trials[-1]
        res["worst_id"], res["worst_val"], res["worst_config"] = worst["number"], worst["metric"], worst["params"]
        res["avg"] = sum(t["metric"] for t in trials) / len(trials)
        res["metric_list"] = [t["metric"] for t in trials]
    res["num_trials"] = len(detail.get("trials", []))
    res["early_stopped"] = sum(1 for t in detail.get("trials", []) if t.get("early_stopped"))
    return res


def run(spec, train_fn=None, project=None, conn=None, name=None, description=None, parallelism=None,
        timeout_s=None, resources=None, seed=None, env=None, files=(), follow=True, out=None):
    """Creates an experiment from ``spec`` (a body as in docs/api.md; when
    ``train_fn`` is given its file and the trial runner become the
    command), prints its log live unless ``follow`` is False, and returns
    ``(logdir, best_params, results)`` (without following: the results as
    they are when the call returns)."""
    if _IN_TRIAL:
        raise _LaunchInTrial()
    p = _project(project, conn)
    body = dict(spec)
    sent = dict(body.get("files") or {})
    for path in files or ():
        with open(path, "rb") as f:
            sent[os.path.basename(path)] = base64.b64encode(f.read()).decode("ascii")
    if train_fn is not None:
        fname, source, fn_name = _function_source(train_fn)
        sent[fname] = base64.b64encode(source).decode("ascii")
        body["command"] = ["python3", "-m", "oast.trial_runner", fname, fn_name]
    if sent:
        body["files"] = sent
    for key, value in (("name", name), ("description", description), ("parallelism", parallelism),
                       ("timeout_s", timeout_s), ("resources", resources), ("seed", seed), ("env", env)):
        if value is not None:
            body[key] = value
    body.setdefault("name", "experiment")
    detail = p.experiments.create(body)
    eid = detail["id"]
    out = out or sys.stdout
    if follow:
        try:
            for line in p.experiments.logs(eid, follow=True):
                print(line, file=out, flush=True)
        except KeyboardInterrupt:
            try:
                p.experiments.stop(eid)
            except errors.OastError:
                pass
            raise
    detail = p.experiments.get(eid)
    best = (detail.get("best") or {}).get("params") or {}
    return detail["logdir"], dict(best), _summary(detail)


def _common(kw):
    kw.setdefault("name", "experiment")
    return kw


def launch(train_fn, params=None, **kw):
    """Runs train_fn once, as a single trial with ``params`` (a dict of
    keyword arguments)."""
    spec = {"optimizer": {"name": "single", "params": dict(params or {})}}
    if "optimization_key" in kw:
        spec["metric"] = kw.pop("optimization_key")
    if "direction" in kw:
        spec["direction"] = kw.pop("direction")
    return run(spec, train_fn, **_common(kw))


def _grid_space(grid_dict):
    space = {}
    for k, values in grid_dict.items():
        values = list(values)
        if not values:
            raise ValueError("grid %s: no values" % k)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        space[k] = {"type": "discrete" if numeric else "categorical", "values": values}
    return space


def _boundary_space(boundary_dict):
    space = {}
    for k, b in boundary_dict.items():
        if isinstance(b, tuple) and len(b) == 2 and isinstance(b[0], str):
            space.update(Searchspace().add(k, b).to_json())
            continue
        b = list(b)
        if len(b) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in b):
            raise ValueError("boundary %s: expected [min, max], got %r" % (k, b))
        t = "integer" if all(isinstance(v, int) for v in b) else "double"
        space[k] = {"type": t, "min": b[0], "max": b[1]}
    return space


def grid_search(train_fn, grid_dict, direction="max", optimization_key="metric", **kw):
    """Every combination of grid_dict's values ({"lr": [0.1, 0.01], ...})."""
    spec = {"searchspace": _grid_space(grid_dict), "optimizer": {"name": "grid"}, "direction": direction,
            "metric": optimization_key}
    return run(spec, train_fn, **_common(kw))


def random_search(train_fn, boundary_dict, samples=10, direction="max", optimization_key="metric", **kw):
    """``samples`` random points within boundary_dict ({"lr": [0.001, 0.1],
    "layers": [1, 8]}: integers when both bounds are ints), seeded by
    ``seed`` for a reproducible experiment."""
    spec = {"searchspace": _boundary_space(boundary_dict), "optimizer": {"name": "random"},
            "num_trials": int(samples), "direction": direction, "metric": optimization_key}
    return run(spec, train_fn, **_common(kw))


def differential_evolution(train_fn, boundary_dict, direction="max", generations=4, population=6, mutation=0.5,
                           crossover=0.7, optimization_key="metric", **kw):
    """Differential evolution (DE/rand/1/bin) over boundary_dict."""
    spec = {"searchspace": _boundary_space(boundary_dict),
            "optimizer": {"name": "differential_evolution", "generations": int(generations),
                          "population": int(population), "mutation": mutation, "crossover": crossover},
            "direction": direction, "metric": optimization_key}
    return run(spec, train_fn, **_common(kw))


def lagom(train_fn, config, **kw):
    """maggy's entry point: an :class:`OptimizationConfig` (ASHA, random or
    grid search, optionally with median early stopping) or an
    :class:`AblationConfig` (leave one feature or component out)."""
    if not isinstance(config, (OptimizationConfig, AblationConfig)):
        raise TypeError("config must be an OptimizationConfig or an AblationConfig")
    spec = config.spec()
    for key in ("name", "description", "parallelism", "timeout_s", "resources", "seed"):
        value = getattr(config, key, None)
        if value is not None and key not in kw:
            kw[key] = value
    return run(spec, train_fn, **_common(kw))
