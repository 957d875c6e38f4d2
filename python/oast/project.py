"""
oast.project — projects, their members, sharing and audit.

A project is the unit of access control: its members are data owners
(import and export data, manage members, share datasets) or data
scientists (work inside the project but never move raw data across its
boundary). A :class:`Project` object is a handle on one project by name;
its sub-objects group the routes below ``/projects/{p}``:
``project.members``, ``project.datasets`` and ``project.files``. Later
parts of the platform (feature store, experiments, models) hang off the
same handle, each in its own module.
"""

from .client import quote_path
from .dataset import Datasets, Files
from .experiment import Experiments
from .jobs import Jobs, Pipelines


class Projects:
    """``conn.projects``: create, list, get and delete projects."""

    def __init__(self, conn):
        self._conn = conn

    def create(self, name, description=""):
        """Creates a project; the caller becomes its data owner. Returns a
        :class:`Project`. Its datasets Resources, Logs, Experiments, Models,
        TrainingDatasets and Jupyter are created with it."""
        info = self._conn.request("POST", "/projects", {"name": name, "description": description})
        return Project(self._conn, info)

    def list(self):
        """The projects the caller is a member of, as :class:`Project` objects."""
        return [Project(self._conn, p) for p in self._conn.request("GET", "/projects")["items"]]

    def get(self, name):
        """One project (NotFound if it does not exist or the caller is not a member)."""
        return Project(self._conn, self._conn.request("GET", "/projects/" + quote_path(name)))

    def delete(self, name):
        """Deletes a project with all its data (data owner only)."""
        self._conn.request("DELETE", "/projects/" + quote_path(name))


class Project:
    """One project. Attributes from the server: ``name``, ``description``,
    ``created``, ``owner`` and ``role`` (the caller's role in it); the
    whole answer is ``info``."""

    def __init__(self, conn, info):
        self._conn = conn
        self.info = info
        self.name = info["name"]
        self.members = Members(self)
        self.datasets = Datasets(self)
        self.files = Files(self)
        self.experiments = Experiments(self)
        self.jobs = Jobs(self)
        self.pipelines = Pipelines(self)

    def __getattr__(self, key):
        info = self.__dict__.get("info") or {}
        if key in info:
            return info[key]
        raise AttributeError(key)

    def __repr__(self):
        return "<oast.Project %s>" % self.name

    def __eq__(self, other):
        return isinstance(other, Project) and other.name == self.name and other._conn.addr == self._conn.addr

    def __hash__(self):
        return hash(self.name)

    @property
    def connection(self):
        """The :class:`oast.Connection` this handle calls through."""
        return self._conn

    def path(self, suffix=""):
        """The API path of this project plus ``suffix`` (already encoded)."""
        return "/projects/" + quote_path(self.name) + suffix

    def request(self, method, suffix, body=None, query=None):
        """A JSON call below this project's path (for modules built on it)."""
        return self._conn.request(method, self.path(suffix), body, query)

    def refresh(self):
        """Reloads the project's information from the server; returns self."""
        self.info = self.request("GET", "")
        return self

    def delete(self):
        """Deletes this project with all its data (data owner only)."""
        self.request("DELETE", "")

    def get_feature_store(self):
        """The project's feature store: a :class:`oast.featurestore.FeatureStore`."""
        from .featurestore import FeatureStore
        return FeatureStore(self)

    # --- sharing ---------------------------------------------------------

    def share(self, dataset, project, permission="read"):
        """Offers ``dataset`` of this project to ``project`` (a name or
        Project), with permission "read" or "read_write". The share is
        pending until a data owner of the other project accepts it.
        Sharing never copies data."""
        other = project.name if isinstance(project, Project) else project
        return self.request("POST", "/datasets/" + quote_path(dataset) + "/shares",
                            {"project": other, "permission": permission})

    def accept_share(self, shared_name):
        """Accepts a dataset shared with this project, named ``"p::ds"``;
        it is then reachable under that name in this project's files."""
        return self.request("POST", "/datasets/" + quote_path(shared_name) + "/accept")

    def revoke_share(self, dataset, project):
        """Withdraws the share of ``dataset`` with ``project``; effective at once."""
        other = project.name if isinstance(project, Project) else project
        self.request("DELETE", "/datasets/" + quote_path(dataset) + "/shares/" + quote_path(other))

    def shares(self, dataset):
        """Who ``dataset`` is shared with: [{"project", "permission", "status"}]."""
        return self.request("GET", "/datasets/" + quote_path(dataset) + "/shares")["items"]

    # --- audit -----------------------------------------------------------

    def audit(self, limit=None):
        """The project's audit log, newest first (data owner only):
        [{"time", "user", "action", "target", "outcome"}]. ``limit``
        defaults to the server's (100), at most 1000."""
        query = {"limit": limit} if limit is not None else None
        return self.request("GET", "/audit", query=query)["items"]


class Members:
    """``project.members``: who is in the project and in which role."""

    def __init__(self, project):
        self._p = project

    def add(self, username, role="data_scientist"):
        """Adds a user with role "data_owner" or "data_scientist" (data owner only)."""
        return self._p.request("POST", "/members", {"username": username, "role": role})

    def list(self):
        """[{"username", "role"}] of every member."""
        return self._p.request("GET", "/members")["items"]

    def set_role(self, username, role):
        """Changes a member's role (data owner only)."""
        return self._p.request("PATCH", "/members/" + quote_path(username), {"role": role})

    def remove(self, username):
        """Removes a member (data owner only); their access ends at once."""
        self._p.request("DELETE", "/members/" + quote_path(username))

    def role_of(self, username):
        """The role of ``username``, or None when not a member."""
        for m in self.list():
            if m["username"] == username:
                return m["role"]
        return None
