"""`oast fv` and `oast td` from the command line, and liboast's feature vector calls (include/oast/features.h)
through ctypes: happy paths, usage and server errors, and roles."""

import ctypes
import json
import math
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


class Err(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 1024)]


@pytest.fixture(scope="module")
def lib():
    path = os.environ.get("OAST_LIB") or str(REPO / "build" / "liboast.so")
    if not os.environ.get("OAST_LIB"):
        subprocess.run(["make", "-s", "-C", str(REPO), "build/liboast.so"], check=True)
    lib = ctypes.CDLL(path)
    lib.oast_client_new.restype = ctypes.c_void_p
    lib.oast_client_new.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.oast_client_free.argtypes = [ctypes.c_void_p]
    lib.free = ctypes.CDLL(None).free
    lib.free.argtypes = [ctypes.c_void_p]
    for f in ("oast_feature_vectors",):
        getattr(lib, f).argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                    ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(Err)]
    lib.oast_feature_vector.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int,
                                        ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p),
                                        ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(Err)]
    lib.oast_feature_vector_f64.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int,
                                            ctypes.c_char_p, ctypes.POINTER(ctypes.c_double), ctypes.c_size_t,
                                            ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_int),
                                            ctypes.POINTER(Err)]
    return lib


def take(lib, ptr):
    s = ctypes.string_at(ptr.value).decode()
    lib.free(ptr)
    return s


def test_liboast_vectors(world, server, proj, lib):
    c = lib.oast_client_new(server.addr.encode(), world.bob.key.encode())
    try:
        e = Err()
        out = ctypes.c_void_p()
        assert lib.oast_feature_vectors(c, proj.encode(), b"serve", 1, b'[{"uid": 1}, {"uid": 9}]', ctypes.byref(out),
                                        ctypes.byref(e)) == 0, e.msg
        assert json.loads(take(lib, out)) == {"features": ["uid", "age", "cc", "c_gdp"],
                                              "vectors": [[1, 31, "se", 1.5], None]}
        vec, names = ctypes.c_void_p(), ctypes.c_void_p()
        assert lib.oast_feature_vector(c, proj.encode(), b"serve", 1, b'{"uid": 2}', ctypes.byref(vec),
                                       ctypes.byref(names), ctypes.byref(e)) == 0
        assert json.loads(take(lib, vec)) == [2, 40, "xx", None]
        assert json.loads(take(lib, names)) == ["uid", "age", "cc", "c_gdp"]
        assert lib.oast_feature_vector(c, proj.encode(), b"serve", 1, b'{"uid": 9}', ctypes.byref(vec), None,
                                       ctypes.byref(e)) == 0
        assert take(lib, vec) == "null"
        # Numbers only: a view of numeric features.
        r = world.api.call("POST", "/projects/%s/featurestore/featureviews" % proj, world.alice.key, json={
            "name": "nums", "query": {"featuregroup": "users", "version": 1, "features": ["uid", "age", "churn"]}})
        assert r.status == 201, r
        vals = (ctypes.c_double * 8)()
        n, found = ctypes.c_size_t(), ctypes.c_int()
        assert lib.oast_feature_vector_f64(c, proj.encode(), b"nums", 1, b'{"uid": 1}', vals, 8, ctypes.byref(n),
                                           ctypes.byref(found), ctypes.byref(e)) == 0, e.msg
        assert found.value == 1 and list(vals[:n.value]) == [1.0, 31.0, 0.0]
        assert lib.oast_feature_vector_f64(c, proj.encode(), b"nums", 1, b'{"uid": 99}', vals, 8, ctypes.byref(n),
                                           ctypes.byref(found), ctypes.byref(e)) == 0
        assert found.value == 0 and n.value == 0
        assert lib.oast_feature_vector_f64(c, proj.encode(), b"nums", 1, b'{"uid": 1}', vals, 2, ctypes.byref(n),
                                           ctypes.byref(found), ctypes.byref(e)) == -8  # OAST_ETOO_LARGE
        rc = lib.oast_feature_vector_f64(c, proj.encode(), b"serve", 1, b'{"uid": 1}', vals, 8, ctypes.byref(n),
                                         ctypes.byref(found), ctypes.byref(e))
        assert rc == -1 and b"\"cc\" is not a number" in e.msg
        rc = lib.oast_feature_vector(c, proj.encode(), b"serve", 1, b'{"user": 1}', ctypes.byref(vec), None,
                                     ctypes.byref(e))
        assert rc == -1 and b"\"uid\" is missing" in e.msg
        rc = lib.oast_feature_vector(c, proj.encode(), b"serve", 1, b'[1]', ctypes.byref(vec), None, ctypes.byref(e))
        assert rc == -1 and b"JSON object" in e.msg
        assert not math.isnan(vals[0])
    finally:
        lib.oast_client_free(c)
    assert Path(oast_bin()).exists()
