"""
oast — the Python client of the Oast ML platform (standard library only).

    import oast
    conn = oast.connect("http://127.0.0.1:7070", api_key)
    project = conn.projects.create("fraud", "card fraud models")
    project.files.upload("train.csv", "Resources/train.csv")
    print(project.files.preview("Resources/train.csv", "head", 5))

:func:`connect` reads $OAST_ADDR / $OAST_API_KEY or the config file
(~/.config/oast/config.json or $OAST_CONFIG, {"addr", "key"}) when its
arguments are left out. Every failed call raises an :class:`OastError`
subclass that carries the HTTP ``status``, the server's error ``code``
and its ``message``. See docs/python.md for the guide.

Package layout: ``client`` (HTTP core, Connection), ``errors``, ``users``,
``project`` (projects, members, sharing, audit), ``dataset`` (datasets,
files); later parts of the platform add their own modules and hang off
:class:`Project`.
"""

from .client import (API_PREFIX, CHUNK, DEFAULT_ADDR, Connection, LoginToken, Record, config_path, connect,
                     load_config, login)
from . import featureview
from .dataset import Datasets, Files
from .featureview import (FeatureView, create_feature_view, create_training_data, delete_feature_view,
                          get_feature_vector, get_feature_vectors, get_feature_view, get_training_data,
                          list_feature_views)
from .errors import (AlreadyExists, BadRequest, Conflict, ConnectionFailed, Forbidden, InternalError,
                     MethodNotAllowed, NotFound, OastError, ServerIOError, Timeout, TooLarge, Unauthenticated,
                     Unavailable, ValidationFailed, error_class)
from .featurestore import FeatureGroup, FeatureStore
from .project import Members, Project, Projects
from . import model, serving
from .model import Model, Models
from .serving import Deployment, DeploymentFailed, Deployments
from . import jobs
from .jobs import Jobs, Pipelines
from .users import ApiKeys, Users
from . import experiment
from .experiment import EarlyStop, Experiments, Reporter

__version__ = "0.1.0"

ROLES = ("data_owner", "data_scientist")
PERMISSIONS = ("read", "read_write")

__all__ = [
    "connect", "login", "Connection", "Record", "LoginToken", "config_path", "load_config",
    "Projects", "Project", "Members", "Datasets", "Files", "Users", "ApiKeys", "FeatureStore", "FeatureGroup",
    "OastError", "BadRequest", "Unauthenticated", "Forbidden", "NotFound", "MethodNotAllowed", "Conflict",
    "AlreadyExists", "TooLarge", "ValidationFailed", "InternalError", "ServerIOError", "Unavailable", "Timeout",
    "ConnectionFailed", "error_class", "ROLES", "PERMISSIONS", "API_PREFIX", "CHUNK", "DEFAULT_ADDR",
    "experiment", "Experiments", "Reporter", "EarlyStop",
    "model", "serving", "Model", "Models", "Deployment", "Deployments", "DeploymentFailed",
    "featureview", "FeatureView", "create_feature_view", "get_feature_view", "list_feature_views",
    "delete_feature_view", "create_training_data", "get_training_data", "get_feature_vector", "get_feature_vectors",
    "jobs", "Jobs", "Pipelines",
]
