"""The API reference documents every route the server has."""
import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_route_is_in_docs_api_md():
    out = subprocess.run([os.environ["OAST_BIN"], "server", "--routes"], check=True,
                         capture_output=True, text=True).stdout
    routes = [tuple(line.split()[:2]) for line in out.splitlines() if line.strip()]
    assert len(routes) >= 20
    doc = (ROOT / "docs" / "api.md").read_text()
    table = re.search(r"## Route table.*?```\n(.*?)```", doc, re.S).group(1)
    documented = {tuple(line.split()[:2]) for line in table.splitlines() if line.strip()}
    missing = [r for r in routes if r not in documented]
    assert not missing, f"routes missing from docs/api.md: {missing}"
    stale = [r for r in documented if r not in set(routes)]
    assert not stale, f"docs/api.md lists routes the server lacks: {stale}"


def test_server_help_lists_options():
    out = subprocess.run([os.environ["OAST_BIN"], "server", "--help"], check=True,
                         capture_output=True, text=True).stdout
    for opt in ("--home", "--listen", "--max-upload", "--login-ttl"):
        assert opt in out
