"""The Python client's feature store (oast.featurestore): groups from
explicit features or inferred from data, inserts from DataFrames, lists
of dicts, files and bytes, reads as DataFrames or records with time
travel, exports, history, statistics, expectations and errors."""

import datetime
import json
import math

import pytest

import oast
from oast import featurestore
from fstest import duckdb_runner

UTC = datetime.timezone.utc


def fs_of(world, user="alice", p=None):
    p = p or world.new_project("py")
    return getattr(world, user).conn.projects.get(p).get_feature_store(), p


def test_records_round_trip_without_pandas_types(world):
    fs, p = fs_of(world)
    fg = fs.create_feature_group("tx", primary_key="id", event_time="ts", description="d",
                                 features=[("id", "bigint"), ("ts", "timestamp"), ("amount", "double", "euros"),
                                           ("day", "date"), ("ok", "boolean"), ("cat", "string")])
    assert (fg.name, fg.version, fg.primary_key, fg.event_time) == ("tx", 1, ["id"], "ts")
    assert fg.features[2] == {"name": "amount", "type": "double", "description": "euros"}
    out = fg.insert([
        {"id": 1, "ts": datetime.datetime(2024, 1, 1, 12, tzinfo=UTC), "amount": 9.5, "day": datetime.date(2024, 1, 1),
         "ok": True, "cat": "a"},
        {"id": 2, "ts": "2024-01-02T00:00:00Z", "amount": float("nan"), "day": None, "ok": False, "cat": None},
    ])
    assert (out.rows_inserted, out.rows_updated) == (2, 0) and out.validation["success"]
    recs = sorted(fg.read(format="records"), key=lambda r: r["id"])
    assert recs == [
        {"id": 1, "ts": "2024-01-01T12:00:00Z", "amount": 9.5, "day": "2024-01-01", "ok": True, "cat": "a"},
        {"id": 2, "ts": "2024-01-02T00:00:00Z", "amount": None, "day": None, "ok": False, "cat": None},
    ]
    c1 = fg.commits()[0].commit_id
    fg.insert([{"id": 1, "ts": "2024-01-01T12:00:00Z", "amount": 1.0}], operation="upsert")
    assert {r["id"]: r["amount"] for r in fg.read(format="records")} == {1: 1.0, 2: None}
    assert {r["id"]: r["amount"] for r in fg.read(as_of=c1, format="records")} == {1: 9.5, 2: None}
    when = datetime.datetime.fromisoformat(fg.commits()[-1].committed_on.replace("Z", "+00:00"))
    assert len(fg.read(as_of=when, format="records")) == 2
    with pytest.raises(oast.BadRequest) as ei:
        fg.insert([{"id": 2, "ts": "2024-01-02T00:00:00Z"}], operation="insert")
    assert "row 1" in ei.value.message
    assert fs.get_feature_group("tx").version == 1 and [g.name for g in fs.list()] == ["tx"]


def test_dataframes_in_and_out(world):
    pd = pytest.importorskip("pandas")
    fs, p = fs_of(world, user="bob")
    df = pd.DataFrame({
        "id": [1, 2, 3],
        "ts": pd.to_datetime(["2024-01-01T00:00:00Z", "2024-01-02T00:00:00.5Z", "2024-01-03T08:00:00+02:00"],
                             utc=True),
        "amount": [1.5, None, -3.25],
        "qty": pd.array([1, None, 3], dtype="Int64"),
        "small": pd.array([1, 2, 3], dtype="int32"),
        "score": pd.array([0.5, 0.25, 1.0], dtype="float32"),
        "ok": [True, False, True],
        "name": ["a", 'b, "quoted"\nline', None],
        "day": [datetime.date(2024, 1, 1), None, datetime.date(2024, 3, 1)],
    })
    fg = fs.create_feature_group("frame", primary_key=["id"], event_time="ts", data=df)
    types = {f["name"]: f["type"] for f in fg.features}
    assert types == {"id": "bigint", "ts": "timestamp", "amount": "double", "qty": "bigint", "small": "int",
                     "score": "float", "ok": "boolean", "name": "string", "day": "date"}
    back = fg.read().sort_values("id").reset_index(drop=True)
    assert list(back.columns) == list(df.columns)
    pd.testing.assert_series_equal(back["ts"], df["ts"], check_names=False)
    assert back["amount"].tolist()[0] == 1.5 and math.isnan(back["amount"][1])
    assert back["qty"].tolist()[:1] == [1] and back["qty"].isna().tolist() == [False, True, False]
    assert back["small"].dtype == "int32" and back["score"].dtype == "float32"
    assert back["ok"].tolist() == [True, False, True]
    assert back["name"].tolist() == ["a", 'b, "quoted"\nline', None]
    assert back["day"].tolist() == [datetime.date(2024, 1, 1), None, datetime.date(2024, 3, 1)]
    # an upsert from a DataFrame with floats in an integer column
    upd = pd.DataFrame({"id": [3], "ts": df["ts"][2:], "qty": [30.0]})
    out = fg.insert(upd)
    assert out.rows_updated == 1
    assert fg.read(format="records")[-1]["qty"] == 30
    # the same rows as CSV and Parquet
    text = fg.read(format="csv").decode()
    assert text.splitlines()[0] == ",".join(df.columns)


def test_insert_from_files_bytes_and_exports(world, tmp_path):
    fs, p = fs_of(world)
    fg = fs.create_feature_group("f", primary_key="id", features={"id": "int", "v": "string"})
    (tmp_path / "a.csv").write_text("id,v\n1,x\n2,y\n")
    (tmp_path / "b.jsonl").write_text('{"id": 3, "v": "z"}\n')
    (tmp_path / "c.data").write_text('[{"id": 4, "v": "w"}]')
    fg.insert(tmp_path / "a.csv")
    fg.insert(str(tmp_path / "b.jsonl"))
    fg.insert(tmp_path / "c.data", format="json")
    fg.insert(b"id,v\n5,q\n", format="csv")
    with open(tmp_path / "a.csv", "rb") as f:
        fg.insert(f, format="csv")
    assert len(fg.commits()) == 5 and len(fg.read(format="records")) == 5
    n = fg.read(format="parquet", dest=tmp_path / "out.parquet")
    assert n == (tmp_path / "out.parquet").stat().st_size
    duck = duckdb_runner()
    assert duck("SELECT id, v FROM read_parquet('%s') ORDER BY id" % (tmp_path / "out.parquet")) == [
        [1, "x"], [2, "y"], [3, "z"], [4, "w"], [5, "q"]]
    js = json.loads(fg.read(format="json", limit=2))
    assert len(js) == 2
    with pytest.raises(ValueError):
        fg.insert(tmp_path / "c.data")
    with pytest.raises(ValueError):
        fg.insert([{"id": 9}], operation="merge")
    with pytest.raises(TypeError):
        fg.insert(42)


def test_statistics_expectations_validations_compact_delete(world):
    fs, p = fs_of(world)
    fg = fs.create_feature_group("s", primary_key="id", features=[("id", "bigint"), ("x", "double")])
    fg.insert([{"id": i, "x": float(i)} for i in range(10)])
    st = fg.statistics()
    x = {c["name"]: c for c in st["columns"]}["x"]
    assert (x["count"], x["min"], x["max"], x["mean"]) == (10, 0.0, 9.0, 4.5)
    assert math.isclose(x["stddev"], math.sqrt(8.25))
    assert fg.statistics(commit=st["commit_id"]) == st
    assert fg.expectations() is None
    fg.set_expectations([{"column": "x", "rule": "max", "value": 100}], policy="strict")
    assert fg.expectations()["policy"] == "strict"
    with pytest.raises(oast.ValidationFailed) as ei:
        fg.insert([{"id": 99, "x": 1000.0}])
    assert ei.value.status == 422 and ei.value.body["validation"]["success"] is False
    v = fg.validations()
    assert v[0]["ingested"] is False and v[1]["ingested"] is True
    assert len(fg.commits()) == 1
    with pytest.raises(oast.BadRequest) as ei:
        fg.set_expectations([{"column": "nope", "rule": "not_null"}])
    assert "rules[0].column" in ei.value.message
    out = fg.compact()
    assert out["rows"] == 10 and fg.commits()[0]["compacted"] is True
    # only the data owner deletes
    as_bob = world.bob.conn.projects.get(p).get_feature_store().get_feature_group("s")
    with pytest.raises(oast.Forbidden):
        as_bob.delete()
    fg.delete()
    with pytest.raises(oast.NotFound):
        fs.get_feature_group("s")
    with pytest.raises(oast.NotFound):
        fs.get_feature_group("s", version=1)


def test_errors_and_outsiders(world):
    fs, p = fs_of(world)
    with pytest.raises(oast.BadRequest) as ei:
        fs.create_feature_group("bad", primary_key="id", features=[("id", "uuid")])
    assert "features[0]" in ei.value.message
    with pytest.raises(ValueError):
        fs.create_feature_group("bad", primary_key="id")
    fg = fs.create_feature_group("g", primary_key="id", features=[("id", "bigint"), ("n", "int")])
    with pytest.raises(oast.BadRequest) as ei:
        fg.insert([{"id": 1, "n": 1}, {"id": 2, "n": "two"}])
    assert "row 2" in ei.value.message and '"n"' in ei.value.message
    assert fg.commits() == []
    carol = world.carol.conn
    with pytest.raises(oast.NotFound):
        carol.projects.get(p)
    outsider = featurestore.FeatureStore(oast.Project(carol, {"name": p}))
    with pytest.raises(oast.NotFound):
        outsider.list()
    with pytest.raises(oast.NotFound):
        featurestore.FeatureGroup(outsider, fg.info).insert([{"id": 3}])
    assert fg.commits() == []


def test_infer_features_from_records():
    feats = featurestore.infer_features([
        {"a": 1, "b": 1.5, "c": "x", "d": True, "e": datetime.datetime(2024, 1, 1), "f": datetime.date(2024, 1, 1)},
        {"a": 2.5, "b": None, "g": None},
    ])
    assert feats == [{"name": "a", "type": "double"}, {"name": "b", "type": "double"},
                     {"name": "c", "type": "string"}, {"name": "d", "type": "boolean"},
                     {"name": "e", "type": "timestamp"}, {"name": "f", "type": "date"},
                     {"name": "g", "type": "string"}]
