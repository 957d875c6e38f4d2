"""`oast fv` and `oast td` from the command line, and liboast's feature vector calls (include/oast/features.h)
through ctypes: happy paths, usage and server errors, and roles."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from fvtest import insert, make_group, ts_text
from oasttest import REPO, oast_bin
from test_vectors import setup_online


def run(server, key, *args, stdin=None):
    env = dict(os.environ, OAST_ADDR=server.addr, OAST_CONFIG="/nonexistent/oast.json")
    if key:
        env["OAST_API_KEY"] = key
    else:
        env.pop("OAST_API_KEY", None)
    return subprocess.run([oast_bin(), *args], env=env, input=stdin, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def proj(world):
    p = setup_online(world)
    api, key = world.api, world.alice.key
    make_group(api, key, p, "events", [("uid", "bigint"), ("ts", "timestamp"), ("label", "int")], ["uid"], "ts")
    insert(api, key, p, "events", [{"uid": u, "ts": ts_text(1704067200 * 10**6 + 1000 + u), "label": u % 2}
                                   for u in range(1, 5)])
    return p


def test_fv_create_show_list_vector(world, server, proj, tmp_path):
    definition = {"name": "train", "query": {"featuregroup": "events", "version": 1,
                                             "joins": [{"featuregroup": "users", "version": 1, "features": ["age"],
                                                        "prefix": "u_"}]}, "labels": ["label"]}
    f = tmp_path / "view.json"
    f.write_text(json.dumps(definition))
    r = run(server, world.bob.key, "fv", "create", proj, str(f))
    assert r.returncode == 0, r.stderr
    assert "created feature view train version 1" in r.stdout
    r = run(server, world.bob.key, "fv", "create", proj, "-", "--name", "train2", stdin=json.dumps(definition))
    assert r.returncode == 0 and "train2" in r.stdout, r.stderr
    r = run(server, world.bob.key, "fv", "list", proj)
    assert r.returncode == 0 and "train" in r.stdout and "train2" in r.stdout
    r = run(server, world.bob.key, "fv", "show", proj, "train")
    assert r.returncode == 0
    assert "u_age" in r.stdout and "users:1.age" in r.stdout and "yes" in r.stdout
    r = run(server, world.bob.key, "--json", "fv", "show", proj, "train")
    assert json.loads(r.stdout)["serving_key"] == ["uid"]
    r = run(server, world.bob.key, "fv", "vector", proj, "serve", "uid=1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["uid", "age", "cc", "c_gdp"] and lines[1].split() == ["1", "31", "se", "1.5"]
    r = run(server, world.bob.key, "--json", "fv", "vector", proj, "serve", "--entries", '[{"uid": 9}, {"uid": 2}]')
    assert json.loads(r.stdout)["vectors"] == [None, [2, 40, "xx", None]]


def test_fv_read_the_joined_rows(world, server, proj, tmp_path):
    definition = {"name": "batch", "query": {"featuregroup": "events", "version": 1,
                                             "joins": [{"featuregroup": "users", "version": 1, "features": ["age"],
                                                        "prefix": "u_"}]}, "labels": ["label"]}
    r = run(server, world.bob.key, "fv", "create", proj, "-", stdin=json.dumps(definition))
    assert r.returncode == 0, r.stderr
    r = run(server, world.bob.key, "fv", "read", proj, "batch")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "uid,ts,label,u_age" and len(lines) == 5, lines
    assert sorted(int(x.split(",")[0]) for x in lines[1:]) == [1, 2, 3, 4]
    # a window on the events' time and a limit
    r = run(server, world.bob.key, "fv", "read", proj, "batch", "--start", ts_text(1704067200 * 10**6 + 1003),
            "--format", "json")
    assert r.returncode == 0 and sorted(x["uid"] for x in json.loads(r.stdout)) == [3, 4], r.stdout
    r = run(server, world.bob.key, "fv", "read", proj, "batch", "-n", "1", "--format", "json")
    assert len(json.loads(r.stdout)) == 1
    out = tmp_path / "batch.parquet"
    r = run(server, world.bob.key, "fv", "read", proj, "batch", "-o", str(out))
    assert r.returncode == 0 and "as parquet to" in r.stdout and out.read_bytes()[:4] == b"PAR1", r.stdout
    r = run(server, world.bob.key, "fv", "read", proj, "batch", "--start", "soon")
    assert r.returncode == 1 and "start_time" in r.stderr
    r = run(server, world.bob.key, "fv", "read", proj, "batch", "--format", "xml")
    assert r.returncode == 2 and "--format" in r.stderr


def test_td_create_list_show(world, server, proj):
    r = run(server, world.bob.key, "td", "create", proj, "train", "--format", "csv", "--splits",
            "train=0.5,test=0.5", "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert "created training dataset train_1_td1 (csv, seed 3)" in r.stdout
    assert "train/train.csv" in r.stdout and "test/test.csv" in r.stdout
    r = run(server, world.bob.key, "td", "list", proj, "train")
    assert r.returncode == 0 and "train_1_td1" in r.stdout
    r = run(server, world.bob.key, "td", "show", proj, "train", "1")
    assert r.returncode == 0 and "statistics of train" in r.stdout and "u_age" in r.stdout
    r = run(server, world.bob.key, "--json", "td", "show", proj, "train", "1")
    assert json.loads(r.stdout)["splits"]["train"]["rows"] == 2


@pytest.mark.parametrize("args,rc,word", [
    (["td", "create", "{p}", "train", "--splits", "train=0.5,test=0.4"], 1, "sum to"),
    (["td", "create", "{p}", "train", "--format", "xls"], 1, "format"),
    (["td", "create", "{p}", "train", "--splits", "train"], 2, "--splits"),
    (["td", "show", "{p}", "train", "x"], 2, "TD"),
    (["fv", "vector", "{p}", "serve", "uid"], 2, "KEY=VALUE"),
    (["fv", "vector", "{p}", "serve", "user=1"], 1, "\"uid\" is missing"),
    (["fv", "show", "{p}", "nope"], 1, "not found"),
    (["fv", "show", "{p}", "serve", "--version", "x"], 2, "--version"),
    (["fv", "create", "{p}", "/nonexistent/view.json"], 1, "view.json"),
])
def test_cli_errors(world, server, proj, args, rc, word):
    r = run(server, world.bob.key, *[a.format(p=proj) for a in args])
    assert r.returncode == rc, (r.stdout, r.stderr)
    assert word in r.stderr


def test_cli_roles(world, server, proj):
    r = run(server, world.carol.key, "fv", "list", proj)
    assert r.returncode == 1 and "not found" in r.stderr.lower()
    r = run(server, world.bob.key, "fv", "delete", proj, "train2", "--version", "1")
    assert r.returncode == 1 and "role" in r.stderr.lower()
    r = run(server, world.alice.key, "fv", "delete", proj, "train2", "--version", "1")
    assert r.returncode == 0, r.stderr


# --- liboast ---------------------------------------------------------------------------


def liboast():
    path = os.environ.get("OAST_LIB") or str(REPO / "build" / "liboast.so")
    if not os.environ.get("OAST_LIB"):
        subprocess.run(["make", "-s", "-C", str(REPO), "build/liboast.so"], check=True)
    return path


def test_liboast_vectors(world, server, proj):
    """Runs tests/integration/fv_liboast.py in its own Python: an instrumented (SANITIZE) build of the library
    needs its sanitizer runtime loaded first, which only a fresh process can do."""
    r = world.api.call("POST", "/projects/%s/featurestore/featureviews" % proj, world.alice.key, json={
        "name": "nums", "query": {"featuregroup": "users", "version": 1, "features": ["uid", "age", "churn"]}})
    assert r.status == 201, r
    lib = liboast()
    env = dict(os.environ)
    deps = subprocess.run(["ldd", lib], capture_output=True, text=True).stdout
    asan = [line.split("=>")[1].split()[0] for line in deps.splitlines() if "libasan" in line and "=>" in line]
    ubsan = [line.split("=>")[1].split()[0] for line in deps.splitlines() if "libubsan" in line and "=>" in line]
    if asan:
        env["LD_PRELOAD"] = " ".join(asan + ubsan)
        env["ASAN_OPTIONS"] = "detect_leaks=0"  # the interpreter's own allocations are not ours to judge
    p = subprocess.run(["/usr/bin/python3", str(Path(__file__).with_name("fv_liboast.py")), lib, server.addr,
                        world.bob.key, proj], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ok" in p.stdout
