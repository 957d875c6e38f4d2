"""
oast.users — users, who-am-I and API keys.

Creating users is for the platform administrator; every user can read
``me()`` and manage their own API keys. An API key is shown once, when it
is created; the server keeps only its hash.
"""

from .client import quote_path


class Users:
    """``conn.users``: the users of the server."""

    def __init__(self, conn):
        self._conn = conn
        self.api_keys = ApiKeys(conn)

    def create(self, username, password):
        """Creates a user (administrator only). Returns the server's answer."""
        return self._conn.request("POST", "/users", {"username": username, "password": password})

    def list(self):
        """All users (administrator only): [{"username", "admin"}]."""
        return self._conn.request("GET", "/users")["items"]

    def me(self):
        """The caller: {"username", "admin": bool}."""
        return self._conn.request("GET", "/users/me")


class ApiKeys:
    """``conn.users.api_keys``: the caller's own API keys."""

    def __init__(self, conn):
        self._conn = conn

    def create(self, name):
        """Creates a named key: {"name", "key"}. Keep "key": it is shown only now."""
        return self._conn.request("POST", "/users/me/api-keys", {"name": name})

    def list(self):
        """The caller's keys, without their secrets: [{"name", "created"}]."""
        return self._conn.request("GET", "/users/me/api-keys")["items"]

    def delete(self, name):
        """Deletes a key; it stops working at once."""
        self._conn.request("DELETE", "/users/me/api-keys/" + quote_path(name))
