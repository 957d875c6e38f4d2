"""
oast.trial_runner — what a trial of a Python experiment runs:

    python3 -m oast.trial_runner FILE FUNCTION

FILE (relative to the experiment's folder, the trial's working
directory) is the training script sent with the experiment. It is
executed as a module named ``__oast_trial__`` (so an ``if __name__ ==
"__main__":`` block does not run); if the script starts an experiment at
top level anyway, that call ends the import and the functions defined
before it are used. FUNCTION is then called with the trial's parameters
($OAST_PARAMS) that it accepts by name (all of them if it takes
``**kwargs``) and a :class:`oast.experiment.Reporter` as ``reporter`` if
it has a parameter of that name.

What it returns becomes the trial's result: a number is the metric; a
dict is the trial's outputs and must hold the optimization key
($OAST_METRIC) as a number. An :class:`oast.experiment.EarlyStop` from
the reporter ends the trial early; its last report is its metric. A
function that raises, or returns something else, fails the trial: the
traceback is in the trial's log and the exit status is 1.
"""

import inspect
import json
import os
import sys
import traceback
import types

from . import experiment
from .experiment import EarlyStop, Reporter


class TrialError(Exception):
    """A problem with the trial's setup or result, reported in one line."""


def load_function(path, name):
    """Imports the script at path and returns its function `name`."""
    base = os.environ.get("OAST_EXPERIMENT_DIR") or os.getcwd()
    full = path if os.path.isabs(path) else os.path.join(base, path)
    with open(full, "rb") as f:
        source = f.read()
    sys.path.insert(0, os.path.dirname(full))
    module = types.ModuleType("__oast_trial__")
    module.__file__ = full
    sys.modules["__oast_trial__"] = module
    experiment._IN_TRIAL = True
    try:
        exec(compile(source, full, "exec"), module.__dict__)
    except experiment._LaunchInTrial:
        pass  # the script launched its experiment at top level; what it defined so far is enough
    finally:
        experiment._IN_TRIAL = False
    fn = module.__dict__.get(name)
    if not callable(fn):
        raise TrialError("%s defines no function %s" % (path, name))
    return fn


def arguments(fn, params, reporter):
    """The keyword arguments fn accepts, from params and the reporter."""
    sig = inspect.signature(fn)
    kwargs = {}
    takes_all = False
    for p in sig.parameters.values():
        if p.kind == p.VAR_KEYWORD:
            takes_all = True
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            if p.name == "reporter":
                kwargs["reporter"] = reporter
            elif p.name in params:
                kwargs[p.name] = params[p.name]
            elif p.default is p.empty:
                raise TrialError("%s needs the parameter %r, which this trial does not have (it has: %s)"
                                 % (fn.__name__, p.name, ", ".join(sorted(params)) or "none"))
    if takes_all:
        for k, v in params.items():
            kwargs.setdefault(k, v)
    return kwargs


def result_body(result, key, reporter, stopped):
    """(metric, outputs) to send as the final result."""
    if result is None:
        if stopped or reporter.metric is not None:
            return reporter.metric, None
        raise TrialError("the training function returned nothing; return the metric %r or a dict holding it" % key)
    if isinstance(result, bool) or not isinstance(result, (int, float, dict)):
        raise TrialError("the training function returned %s; return a number or a dict holding %r"
                         % (type(result).__name__, key))
    if isinstance(result, dict):
        value = result.get(key)
        if not experiment._finite(value):
            if stopped:
                return reporter.metric, _jsonable(result)
            raise TrialError("the returned dict has no number under the optimization key %r (keys: %s)"
                             % (key, ", ".join(map(str, result)) or "none"))
        return float(value), _jsonable(result)
    if not experiment._finite(result):
        raise TrialError("the training function returned %r, not a finite number" % (result,))
    return float(result), None


def _jsonable(d):
    out = {}
    for k, v in d.items():
        try:
            json.dumps(v, allow_nan=False)
            out[str(k)] = v
        except (TypeError, ValueError):
            out[str(k)] = repr(v)
    return out


def main(argv):
    if len(argv) != 3:
        print("usage: python3 -m oast.trial_runner FILE FUNCTION", file=sys.stderr)
        return 2
    key = os.environ.get("OAST_METRIC") or "metric"
    try:
        params = json.loads(os.environ.get("OAST_PARAMS") or "{}")
        reporter = Reporter()
        fn = load_function(argv[1], argv[2])
        kwargs = arguments(fn, params, reporter)
    except TrialError as exc:
        print("trial setup failed: %s" % exc, file=sys.stderr)
        return 1
    stopped = False
    try:
        result = fn(**kwargs)
    except EarlyStop as exc:
        print(exc)
        stopped, result = True, None
    except Exception:
        traceback.print_exc()
        return 1
    try:
        metric, outputs = result_body(result, key, reporter, stopped)
    except TrialError as exc:
        print("trial failed: %s" % exc, file=sys.stderr)
        return 1
    reporter.final(metric, outputs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
