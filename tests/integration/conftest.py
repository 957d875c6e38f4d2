"""
Fixtures of the integration suites (see oasttest.py for the machinery).

- server: one real `oast server` per test module, fresh home, stopped
  with SIGTERM at the end of the module (and it must exit 0).
- world: the standard users (alice, bob, carol, dave) and alice's project
  with bob as data scientist, on the module's server.
- new_project: a fresh project of that shape, for tests that change it.
- start_server: a factory for servers of one test (fresh home, extra
  flags), each stopped and checked at the end of the test.
"""

import pytest

from oasttest import Server, World, stop_checked


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("home")).start()
    yield srv
    stop_checked(srv)


@pytest.fixture(scope="module")
def world(server):
    return World(server)


@pytest.fixture
def api(world):
    return world.api


@pytest.fixture
def new_project(world):
    """A function: new_project(prefix="p", owner=None, scientist="bob") -> name."""
    return world.new_project


@pytest.fixture
def start_server(tmp_path_factory):
    started = []

    def start(*args, home=None):
        srv = Server(home or tmp_path_factory.mktemp("home"), args)
        started.append(srv)
        return srv.start()

    yield start
    for srv in started:
        stop_checked(srv)
