"""
oast.model — the model registry: export a trained model with its metrics,
find a version (or the best one by a metric), download its files, deploy
it.

    import oast
    project = oast.connect().projects.get("demo")
    m = project.models.export("model.json", "churn", framework="xgboost",
                              metrics={"auc": 0.91})
    best = project.models.best("churn", "auc")          # direction="max"
    best.download("/tmp/churn")                         # data owners only
    dep = best.deploy("churn", predictor="xgboost")

Inside a trial or a job, the module-level functions find the server and
the project in the environment ($OAST_ADDR, $OAST_API_KEY or the trial's
token, $OAST_PROJECT):

    oast.model.export("out/model.pkl", "churn", metrics={"auc": auc})
    m = oast.model.get_best_model("churn", "auc", "max")

A registered version is immutable: its files live under
``Models/<name>/<version>/`` in the project. Exporting local files uploads
them first, which is a data owner's right (raw bytes cross the project's
boundary); a data scientist registers files that are already in the
project (written by a trial or job) by giving their project path.
"""

import os
import posixpath

from .client import Record, connect, quote_path

#: Frameworks the registry knows.
FRAMEWORKS = ("sklearn", "xgboost", "torch", "tensorflow", "keras", "python", "onnx", "other")


class Model(Record):
    """One registered model version (a dict of the server's answer:
    ``name``, ``version``, ``framework``, ``metrics``, ``path``, ...)."""

    _project = None

    @property
    def project(self):
        return self._project

    def files(self):
        """Paths of the version's files, relative to its directory."""
        out = []
        stack = [""]
        while stack:
            rel = stack.pop()
            for item in self._project.files.list(posixpath.join(self["path"], rel) if rel else self["path"]):
                sub = posixpath.join(rel, item["name"]) if rel else item["name"]
                if item["type"] == "dir":
                    stack.append(sub)
                else:
                    out.append(sub)
        return sorted(out)

    def download(self, local_dir):
        """Downloads every file of the version into ``local_dir`` (created
        when missing) and returns the local paths. Downloading is reserved
        to data owners, as for any file of the project."""
        got = []
        for rel in self.files():
            dest = os.path.join(local_dir, *rel.split("/"))
            os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
            self._project.files.download(posixpath.join(self["path"], rel), dest)
            got.append(dest)
        return got

    def deploy(self, name, predictor=None, **kwargs):
        """Creates a deployment of this version (see
        :meth:`oast.serving.Deployments.create`); ``predictor`` defaults to
        "xgboost" for XGBoost models and "python" otherwise."""
        from .serving import Deployments
        if predictor is None:
            predictor = "xgboost" if self.get("framework") == "xgboost" else "python"
        return Deployments(self._project).create(name, self["name"], self["version"], predictor=predictor, **kwargs)

    def delete(self):
        """Deletes this version (data owner only)."""
        self._project.request("DELETE", "/models/%s/versions/%d" % (quote_path(self["name"]), self["version"]))


def _model(project, info):
    m = Model(info)
    m._project = project
    return m


class Models:
    """``project.models``: the project's model registry."""

    def __init__(self, project):
        self._p = project

    def register(self, name, path, framework, metrics=None, version=None, description=None, input_example=None,
                 model_schema=None, experiment_id=None, trial_id=None, training_data=None):
        """Registers the files already at project path ``path`` (a file or a
        directory, e.g. ``Experiments/3/trial_2/model``) as a new version of
        model ``name`` and returns the :class:`Model`. Without ``version``,
        the next one."""
        body = {"name": name, "path": path, "framework": framework}
        for key, value in (("metrics", metrics), ("version", version), ("description", description),
                           ("input_example", input_example), ("model_schema", model_schema),
                           ("experiment_id", experiment_id), ("trial_id", trial_id),
                           ("training_data", training_data)):
            if value is not None:
                body[key] = value
        return _model(self._p, self._p.request("POST", "/models", body))

    def export(self, path, name, framework=None, metrics=None, **kwargs):
        """Exports a model: ``path`` is a local file or directory, which is
        uploaded (data owners only) and registered, or a project path of
        files already in the project (anyone with write access). The
        framework defaults to what the files look like (``.json``/``.ubj``
        XGBoost, ``.pkl``/``.joblib`` scikit-learn, ``.pt`` torch, else
        "python"). Other keyword arguments are those of :meth:`register`.
        Returns the :class:`Model`."""
        if not os.path.exists(path):
            return self.register(name, path, framework or "other", metrics=metrics, **kwargs)
        framework = framework or _guess_framework(path)
        staging = "Models/.staging-%s" % os.urandom(8).hex()
        remote = staging if os.path.isdir(path) else posixpath.join(staging, os.path.basename(path))
        try:
            if os.path.isdir(path):
                for root, _dirs, files in os.walk(path):
                    rel_root = os.path.relpath(root, path)
                    for f in sorted(files):
                        rel = f if rel_root == "." else posixpath.join(*rel_root.split(os.sep), f)
                        self._p.files.upload(os.path.join(root, f), posixpath.join(staging, rel))
            else:
                self._p.files.upload(path, remote)
            return self.register(name, remote, framework, metrics=metrics, **kwargs)
        finally:
            try:
                self._p.files.remove(staging)
            except Exception:  # noqa: BLE001 -- the staging copy is only a leftover
                pass

    def get(self, name, version):
        """Version ``version`` of model ``name`` (NotFound otherwise)."""
        return _model(self._p, self._p.request("GET", "/models/%s/versions/%d" % (quote_path(name), int(version))))

    def best(self, name, metric, direction="max"):
        """The version of ``name`` with the best value of ``metric``
        ("max" or "min"; ties go to the newest)."""
        return _model(self._p, self._p.request("GET", "/models/%s/best" % quote_path(name),
                                               query={"metric": metric, "direction": direction}))

    def list(self, name=None):
        """Every registered version (of model ``name`` only, when given)."""
        query = {"name": name} if name else None
        return [_model(self._p, m) for m in self._p.request("GET", "/models", query=query)["items"]]

    def delete(self, name, version):
        """Deletes a version (data owner only)."""
        self._p.request("DELETE", "/models/%s/versions/%d" % (quote_path(name), int(version)))


def _guess_framework(path):
    names = [path] if os.path.isfile(path) else [f for _r, _d, fs in os.walk(path) for f in fs]
    exts = {os.path.splitext(n)[1].lower() for n in names}
    if exts & {".pkl", ".joblib", ".pickle"}:
        return "sklearn"
    if exts & {".ubj", ".xgb"} or any(os.path.basename(n).startswith("model.json") for n in names):
        return "xgboost"
    if exts & {".pt", ".pth"}:
        return "torch"
    if ".onnx" in exts:
        return "onnx"
    return "python"


# --- the module-level functions, for trials and jobs ---------------------------


def _project(project=None, conn=None):
    """The Project from an argument or $OAST_PROJECT, on ``conn`` or a
    connection from the environment (an API key, else the trial's or job's
    token)."""
    from .project import Project
    if isinstance(project, Project):
        return project
    name = project or os.environ.get("OAST_PROJECT")
    if not name:
        raise ValueError("no project: pass project=... or set OAST_PROJECT")
    if conn is None:
        key = os.environ.get("OAST_API_KEY") or os.environ.get("OAST_TRIAL_TOKEN") or os.environ.get("OAST_JOB_TOKEN")
        conn = connect(api_key=key)
    return conn.projects.get(name)


def export(path, name, metrics=None, framework=None, project=None, conn=None, **kwargs):
    """Exports the model at ``path`` as a new version of ``name`` (see
    :meth:`Models.export`). In a trial, the trial's id is recorded with it."""
    trial = os.environ.get("OAST_TRIAL_ID")
    if trial and "trial_id" not in kwargs and trial.isdigit():
        kwargs["trial_id"] = int(trial)
    return _project(project, conn).models.export(path, name, framework=framework, metrics=metrics, **kwargs)


def get_model(name, version, project=None, conn=None):
    """Version ``version`` of model ``name``."""
    return _project(project, conn).models.get(name, version)


def get_best_model(name, metric, direction="max", project=None, conn=None):
    """The version of ``name`` with the best ``metric``."""
    return _project(project, conn).models.best(name, metric, direction)


def list_models(name=None, project=None, conn=None):
    """Every registered version (of ``name`` only, when given)."""
    return _project(project, conn).models.list(name)


def _attach():
    # The registry hangs off the project handle like its other parts.
    from .project import Project
    if not hasattr(Project, "models"):
        Project.models = property(lambda self: Models(self), doc="The project's model registry (oast.model.Models).")


_attach()
