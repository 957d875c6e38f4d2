"""`oast fg` against the real server: every verb's happy path, its --json
form and --help, bad input (exit 1 with the server's message naming row
and column, or exit 2 for a usage error) and the rights of each role."""

import json
import os
import pty
import select

import pytest

from fstest import commits, fg_path, oast_cli, rows
from oasttest import MiB, oast_bin

SPEC = {"description": "from a file", "primary_key": ["id"], "event_time": "ts",
        "features": [{"name": "id", "type": "bigint", "description": "the key"},
                     {"name": "ts", "type": "timestamp"}, {"name": "amount", "type": "double"},
                     {"name": "cat", "type": "string"}]}
CSV = ("id,ts,amount,cat\n1,2024-01-01T00:00:00Z,1.5,a\n2,2024-01-02T00:00:00Z,2.5,b\n"
       "3,2024-01-03T00:00:00Z,10,a\n")


class Cli:
    def __init__(self, world):
        self.world = world

    def run(self, *args, user="alice", stdin=None):
        key = None if user is None else getattr(self.world, user).key
        return oast_cli(*args, key=key, addr=self.world.server.addr, stdin=stdin)

    def ok(self, *args, **kw):
        r = self.run(*args, **kw)
        assert r.returncode == 0, "oast %s: rc=%d\n%s\n%s" % (" ".join(args), r.returncode, r.stdout, r.stderr)
        return r

    def fails(self, rc, *args, **kw):
        r = self.run(*args, **kw)
        assert r.returncode == rc, "oast %s: rc=%d (want %d)\n%s\n%s" % (" ".join(args), r.returncode, rc, r.stdout,
                                                                       r.stderr)
        assert r.stderr.startswith("oast: "), r.stderr
        return r


@pytest.fixture
def cli(world):
    return Cli(world)


@pytest.fixture
def group(world, cli, tmp_path):
    """A project with group g (SPEC) holding CSV as one commit; returns (project, csv path)."""
    p = world.new_project("cli")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    cli.ok("fg", "create", p + "/g", "--file", str(spec))
    data = tmp_path / "rows.csv"
    data.write_text(CSV)
    cli.ok("fg", "insert", p + "/g", str(data))
    return p, data


def test_create_from_flags_and_file_list_show(world, cli, tmp_path):
    p = world.new_project("cli")
    r = cli.ok("fg", "create", p + "/tx", "--features", "id:bigint, ts:timestamp,amount:double", "--primary-key",
               "id", "--event-time", "ts", "-d", "card tx", "--online", "--correlations", user="bob")
    assert r.stdout.strip() == "created feature group %s/tx version 1" % p
    got = world.api.get(fg_path(p, "tx"), world.alice.key).json()
    assert [f["name"] for f in got["features"]] == ["id", "ts", "amount"] and got["event_time"] == "ts"
    assert got["online_enabled"] is True and got["statistics"]["correlations"] is True
    assert got["description"] == "card tx" and got["creator"] == "bob"
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    j = json.loads(cli.ok("fg", "create", p + "/tx", "--file", str(spec), "--no-histograms", "--json").stdout)
    assert j["version"] == 2 and j["statistics"]["histograms"] is False and j["features"][0]["description"] == "the key"
    cli.ok("fg", "create", p + "/tx:5", "--file", str(spec))
    lines = cli.ok("fg", "list", p).stdout.splitlines()
    assert lines[0].split()[:4] == ["NAME", "VERSION", "PRIMARY_KEY", "EVENT_TIME"]
    assert [line.split()[:2] for line in lines[1:]] == [["tx", "1"], ["tx", "2"], ["tx", "5"]]
    assert len(json.loads(cli.ok("fg", "list", p, "--json").stdout)["items"]) == 3
    out = cli.ok("fg", "show", p + "/tx").stdout  # the newest version
    assert "version:        5" in out and "the key" in out and "no data yet" in out


def test_insert_formats_read_export(world, cli, group, tmp_path):
    p, data = group
    # NDJSON, a JSON array and stdin, upserting id 2
    nd = tmp_path / "more.ndjson"
    nd.write_text('{"id": 4, "ts": "2024-01-04T00:00:00Z", "amount": 4}\n')
    r = cli.ok("fg", "insert", p + "/g", str(nd))
    assert "inserted 1 rows into %s/g:1" % p in r.stdout and "(1 new, 0 updated)" in r.stdout
    arr = tmp_path / "arr.data"
    arr.write_text('[{"id": 2, "ts": "2024-01-02T00:00:00Z", "amount": 20, "cat": "z"}]')
    j = json.loads(cli.ok("fg", "insert", p + "/g:1", str(arr), "--format", "json", "--json").stdout)
    assert (j["rows_inserted"], j["rows_updated"]) == (0, 1)
    cli.ok("fg", "insert", p + "/g", "-", stdin="id,ts\n5,2024-01-05T00:00:00Z\n")
    assert len(commits(world.api, world.alice.key, p, "g")) == 4
    # read: csv (default), json, limit, as_of
    out = cli.ok("fg", "read", p + "/g").stdout.splitlines()
    assert out[0] == "id,ts,amount,cat" and len(out) == 6 and "2,2024-01-02T00:00:00Z,20,z" in out
    assert len(json.loads(cli.ok("fg", "read", p + "/g", "--format", "json", "-n", "2").stdout)) == 2
    first = commits(world.api, world.alice.key, p, "g")[-1]
    old = cli.ok("fg", "read", p + "/g", "--as-of", str(first["commit_id"])).stdout
    assert old == CSV
    assert cli.ok("fg", "read", p + "/g", "--as-of", first["committed_on"]).stdout == CSV
    # export: the format from the name, written whole
    dest = tmp_path / "g.parquet"
    r = cli.ok("fg", "export", p + "/g", str(dest))
    assert "as parquet" in r.stdout and dest.read_bytes()[:4] == b"PAR1"
    cli.ok("fg", "read", p + "/g", "-o", str(tmp_path / "g.json"))
    assert len(json.loads((tmp_path / "g.json").read_text())) == 5
    cli.ok("fg", "export", p + "/g", str(tmp_path / "old.csv"), "--as-of", str(first["commit_id"]))
    assert (tmp_path / "old.csv").read_text() == CSV


def test_show_commits_stats(world, cli, group):
    p, _ = group
    out = cli.ok("fg", "show", p + "/g", "--limit", "2").stdout
    assert "primary key:    id" in out and "event time:     ts" in out and "preview (2 rows):" in out
    assert "id  ts" in out and "2024-01-01T00:00:00Z" in out and "2024-01-03" not in out
    j = json.loads(cli.ok("fg", "show", p + "/g", "--json").stdout)
    assert j["featuregroup"]["name"] == "g" and len(j["preview"]) == 3
    lines = cli.ok("fg", "commits", p + "/g").stdout.splitlines()
    assert lines[0].split() == ["COMMIT", "COMMITTED_ON", "OPERATION", "INSERTED", "UPDATED", "DELETED", "COMPACTED"]
    assert lines[1].split()[2:] == ["upsert", "3", "0", "0", "no"]
    out = cli.ok("fg", "stats", p + "/g").stdout
    assert "amount (double)" in out and "count 3" in out and "mean 4.66667" in out and "min 1.5" in out
    assert "\u2588" in out  # histogram bars
    bars = [line for line in out.splitlines() if "\u2588" in line and " .. " in line]
    assert len(bars) >= 3 and bars[0].rstrip().endswith(" 1")
    only = cli.ok("fg", "stats", p + "/g", "--column", "cat").stdout
    assert "cat (string)" in only and "amount" not in only and "min_length 1" in only
    st = json.loads(cli.ok("fg", "stats", p + "/g", "--json", "--column", "amount").stdout)
    assert [c["name"] for c in st["columns"]] == ["amount"] and st["columns"][0]["max"] == 10
    cid = commits(world.api, world.alice.key, p, "g")[0]["commit_id"]
    assert "at commit %d" % cid in cli.ok("fg", "stats", p + "/g", "--commit", str(cid)).stdout
    cli.fails(1, "fg", "stats", p + "/g", "--column", "nope")


def test_expectations_validations_compact_delete(world, cli, group, tmp_path):
    p, _ = group
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"column": "amount", "rule": "max", "value": 100},
                                 {"column": "cat", "rule": "not_null"}]))
    r = cli.ok("fg", "expectations", "set", p + "/g", str(rules), "--policy", "strict")
    assert "set 2 expectations" in r.stdout and "strict" in r.stdout
    out = cli.ok("fg", "expectations", "show", p + "/g").stdout
    assert out.startswith("policy: strict") and "amount  max" in out and '{"value":100}' in out
    bad = tmp_path / "bad.csv"
    bad.write_text("id,ts,amount,cat\n9,2024-02-01T00:00:00Z,1000,q\n")
    before = commits(world.api, world.alice.key, p, "g")
    r = cli.fails(1, "fg", "insert", p + "/g", str(bad))
    assert "strict" in r.stderr and "failed: max on amount (1 unexpected)" in r.stderr
    assert commits(world.api, world.alice.key, p, "g") == before
    lines = cli.ok("fg", "validations", p + "/g").stdout.splitlines()
    assert lines[0].split() == ["ID", "COMMIT", "TIME", "SUCCESS", "INGESTED", "FAILED_RULES"]
    assert lines[1].split()[-3:] == ["no", "no", "amount:max"]
    cli.ok("fg", "expectations", "set", p + "/g", "-", "--policy", "always",
           stdin=json.dumps({"rules": [{"column": "amount", "rule": "max", "value": 100}]}))
    r = cli.ok("fg", "insert", p + "/g", str(bad))
    assert "expectations: 1 of 1 failed" in r.stdout
    r = cli.ok("fg", "compact", p + "/g")
    assert "compacted %s/g:1" % p in r.stdout and "(4 rows in one file)" in r.stdout
    assert commits(world.api, world.alice.key, p, "g")[0]["compacted"] is True
    # deleting needs the version and the data owner
    cli.fails(2, "fg", "delete", p + "/g")
    r = cli.fails(1, "fg", "delete", p + "/g:1", user="bob")
    assert "role" in r.stderr
    assert cli.ok("fg", "delete", p + "/g:1").stdout.strip() == "deleted feature group %s/g version 1" % p
    cli.fails(1, "fg", "show", p + "/g")


def test_bad_input(world, cli, group, tmp_path):
    p, _ = group
    before = commits(world.api, world.alice.key, p, "g")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("id,ts,amount,cat\n7,2024-01-01T00:00:00Z,1,a\n8,2024-01-01T00:00:00Z\n")
    r = cli.fails(1, "fg", "insert", p + "/g", str(ragged))
    assert "row 2 (line 3)" in r.stderr and '"amount"' in r.stderr
    typed = tmp_path / "typed.ndjson"
    typed.write_text('{"id": 7, "ts": "2024-01-01T00:00:00Z", "amount": "much"}\n')
    r = cli.fails(1, "fg", "insert", p + "/g", str(typed))
    assert "row 1" in r.stderr and '"amount"' in r.stderr
    r = cli.fails(1, "fg", "insert", p + "/g", str(ragged), "--operation", "insert")
    assert commits(world.api, world.alice.key, p, "g") == before
    # usage errors: exit 2, nothing sent
    cli.fails(2, "fg", "insert", p + "/g", str(tmp_path / "x.txt"))
    cli.fails(2, "fg", "insert", p + "/g", str(ragged), "--format", "xml")
    cli.fails(2, "fg", "insert", p + "/g", str(ragged), "--operation", "merge")
    cli.fails(2, "fg", "read", p + "/g", "--limit", "-3")
    cli.fails(2, "fg", "read", p + "/g", "--format", "xml")
    cli.fails(2, "fg", "show", "just_a_name")
    cli.fails(2, "fg", "show", p + "/g:zero")
    cli.fails(2, "fg", "create", p + "/h")
    cli.fails(2, "fg", "create", p + "/h", "--features", "id", "--primary-key", "id")
    cli.fails(2, "fg", "stats", p + "/g", "--commit", "x")
    cli.fails(2, "fg", "export", p + "/g", str(tmp_path / "noext"))
    cli.fails(2, "fg", "expectations", "set", p + "/g", "x.json", "--policy", "never")
    # server-side refusals: exit 1 with the server's words
    r = cli.fails(1, "fg", "create", p + "/h", "--features", "id:uuid", "--primary-key", "id")
    assert 'unknown type "uuid"' in r.stderr
    r = cli.fails(1, "fg", "read", p + "/g", "--as-of", "yesterday")
    assert "as_of" in r.stderr
    r = cli.fails(1, "fg", "show", p + "/nope")
    assert 'feature group "nope" not found' in r.stderr
    missing = cli.fails(1, "fg", "insert", p + "/g", str(tmp_path / "missing.csv"))
    assert "missing.csv" in missing.stderr
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{")
    cli.fails(1, "fg", "expectations", "set", p + "/g", str(bad_json))
    assert commits(world.api, world.alice.key, p, "g") == before


def test_roles(world, cli, group):
    p, data = group
    # the data scientist creates, inserts and reads
    cli.ok("fg", "insert", p + "/g", str(data), user="bob")
    assert "3" in cli.ok("fg", "read", p + "/g", user="bob").stdout
    cli.ok("fg", "compact", p + "/g", user="bob")
    # an outsider gets "not found"; no key is a usage error
    r = cli.fails(1, "fg", "read", p + "/g", user="carol")
    assert "not found" in r.stderr
    cli.fails(1, "fg", "insert", p + "/g", str(data), user="carol")
    cli.fails(2, "fg", "list", p, user=None)
    assert len(rows(world.api, world.alice.key, p, "g")) == 3


VERBS = ["create", "list", "show", "insert", "read", "export", "commits", "stats", "expectations set",
         "expectations show", "validations", "compact", "delete"]


@pytest.mark.parametrize("verb", VERBS)
def test_help(verb):
    r = oast_cli("fg", *verb.split(), "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: oast fg " + verb), r.stdout
    assert "--json" in r.stdout


def test_noun_help():
    r = oast_cli("fg", "--help")
    assert r.returncode == 0
    for verb in VERBS:
        assert verb.split()[0] in r.stdout
    assert "fg" in oast_cli("--help").stdout


def test_progress_bar_on_a_terminal(world, tmp_path):
    p = world.new_project("cli")
    Cli(world).ok("fg", "create", p + "/big", "--features", "id:bigint,s:string", "--primary-key", "id")
    big = tmp_path / "big.csv"
    with open(big, "w") as f:
        f.write("id,s\n")
        for i in range(60000):
            f.write("%d,%s\n" % (i, "x" * 30))
    assert big.stat().st_size > 2 * MiB
    e = {k: v for k, v in os.environ.items() if not k.startswith("OAST_")}
    e.update(OAST_ADDR=world.server.addr, OAST_API_KEY=world.alice.key, HOME=str(tmp_path))
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(oast_bin(), [oast_bin(), "fg", "insert", p + "/big", str(big)], e)
    out = b""
    while True:
        try:
            ready, _, _ = select.select([fd], [], [], 60)
            chunk = os.read(fd, 4096) if ready else b""
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, st = os.waitpid(pid, 0)
    text = out.decode()
    assert os.waitstatus_to_exitcode(st) == 0, text
    assert "100% [##############]" in text and "inserted 60000 rows" in text
