"""The data read by Spark itself (`crmspec.engine.spark.data`): Parquet at a URI and
tables of Spark's catalog, attached and checked on Spark by the data package's own code,
against the DuckDB build of the same data as Parquet files of the project.

The shop is the tiny one with test_data_problems' dirty rows (a duplicate and an id-less
customer, a bad email, orders of an unknown customer, a negative amount, an unknown
status, an order after the as-of date, events of an unknown customer, of an unknown type
and after the as-of date) and a do-not-contact list: the send files must be the same
bytes, the data problems the same counts and examples, the manifests equal but for the
plan's hash (shop.yaml differs) and the data's fingerprint (Spark's row hash is not
DuckDB's). Spark runs in local mode on the test run's session.
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

import duckdb
import pytest
from conftest import BUILD_LEFTOVERS, FIXTURES
from shop_edits import append, edit

from crmspec.build import build
from crmspec.core.diagnostics import PlanError

pytestmark = pytest.mark.spark

SPARK_CONF = "spark:\n  master: local[2]\n  conf:\n    spark.sql.shuffle.partitions: 2\n"
DIRTY = {
    "customers": ["c01,13800000099,x@qq.com,,dup,张一,,F,浙江,1,2025-06-01 10:00:00,organic,"
                  "false,false,false,false,false",
                  ",13800000098,,,noid,,,F,浙江,1,2025-06-01 10:00:00,organic,"
                  "false,false,false,false,false",
                  "c17,13800000017,broken-at-qq.com,,n17,,,F,浙江,1,2025-06-01 10:00:00,"
                  "organic,false,false,false,false,false"],
    "orders": ["o01,c01,2026-03-01 10:00:00,2026-03-01 10:05:00,,,100.00,paid,normal",
               "o90,c99,2026-02-01 10:00:00,2026-02-01 10:05:00,,,50.00,paid,normal",
               "o91,c03,2026-02-01 10:00:00,2026-02-01 10:05:00,,,-5.00,paid,normal",
               "o92,c03,2026-02-01 10:00:00,2026-02-01 10:05:00,,,5.00,lost,normal",
               "o93,c03,2026-03-05 10:00:00,2026-03-05 10:05:00,,,70.00,paid,normal"],
    "events": ["c98,cart,2026-02-20 21:00:00,SKU001", "c03,wishlist,2026-02-20 21:00:00,SKU001",
               "c03,cart,2026-03-04 21:00:00,SKU001"],
}


@pytest.fixture(scope="module")
def spark():
    """The test run's local session (the other Spark tests' one, if started)."""
    import warnings

    from pyspark.sql import SparkSession

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return (SparkSession.builder.master("local[2]")
                .config("spark.sql.shuffle.partitions", "2")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.log.level", "ERROR").getOrCreate())


@pytest.fixture
def exported(tmp_path) -> Path:
    """The dirty tiny shop with its data as typed Parquet files in data_pq/ (and a
    do-not-contact list: c04 on SMS), shop.yaml reading them there."""
    shop = tmp_path / "shop"
    shutil.copytree(FIXTURES / "tiny", shop, ignore=BUILD_LEFTOVERS)
    for table, lines in DIRTY.items():
        with open(shop / "data" / f"{table}.csv", "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    folder = shop / "data_pq"
    folder.mkdir()
    con = duckdb.connect()
    for table in DIRTY:
        con.execute(f"COPY (SELECT * FROM read_csv('{shop}/data/{table}.csv', header = true, "
                    f"auto_detect = true)) TO '{folder}/{table}.parquet'")
    con.execute(f"COPY (SELECT 'c04' AS customer_id, 'sms' AS channel, 'asked' AS reason) "
                f"TO '{folder}/suppressions.parquet'")
    con.close()
    edit(shop, "shop.yaml", "  source: csv\n  path: data\n", "  source: parquet\n  path: data_pq\n")
    return shop


def twin(shop: Path, tmp_path: Path, data: str) -> Path:
    """A copy of `shop` whose `data:` lines are `data` (Spark's source), for Spark."""
    root = tmp_path / "spark"
    shutil.copytree(shop, root, ignore=BUILD_LEFTOVERS)
    edit(root, "shop.yaml", "  source: parquet\n  path: data_pq\n", data)
    append(root, "shop.yaml", SPARK_CONF)
    return root


def files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


def same_as_duckdb(duck: Path, spark: Path) -> dict:
    """Both built (Spark's through `--engine spark`: shop.yaml says nothing of the
    engine); the send files equal, the manifests but for the plan hash and the
    fingerprint. Returns DuckDB's manifest."""
    a = build(duck, engine="duckdb")
    b = build(spark, engine="spark")
    fa, fb = files(a.out_dir), files(b.out_dir)
    assert sorted(fa) == sorted(fb)
    assert [n for n in fa if fa[n] != fb[n]] == []
    differ = {k for k in a.manifest if a.manifest[k] != b.manifest[k]}
    assert differ <= {"plan_hash", "data_fingerprint"}
    assert a.manifest["data_problems"] == b.manifest["data_problems"]
    return a.manifest


def problem_counts(manifest: dict) -> dict[str, int]:
    return {p["code"]: p["count"] for p in manifest["data_problems"]}


EXPECTED_PROBLEMS = {
    "customers_duplicate_id": 1, "customers_missing_id": 1, "customers_bad_phone": 1,
    "customers_bad_email": 1,
    "orders_duplicate_id": 1, "orders_unknown_customer": 1, "orders_negative_amount": 1,
    "orders_bad_status": 1, "orders_after_as_of": 1, "events_unknown_customer": 1,
    "events_bad_type": 1, "events_after_as_of": 1,
}


def test_parquet_at_a_uri_read_and_checked_by_spark(exported, tmp_path, spark):
    """data.path a `file://` URI (as s3a://, hdfs://... would be): Spark reads it, the
    checks run there, the do-not-contact list comes along."""
    uri = (exported / "data_pq").as_uri()
    root = twin(exported, tmp_path, f"  source: parquet\n  path: {uri}\n")
    manifest = same_as_duckdb(exported, root)
    assert problem_counts(manifest) == EXPECTED_PROBLEMS
    assert sum(a["suppressed"].get("do_not_contact", 0) for a in manifest["activities"]) > 0


def test_catalog_tables_by_name(exported, tmp_path, spark):
    """`source: catalog`: the tables of a database of Spark's catalog (saveAsTable), the
    orders under another name (`tables.orders: db.table`)."""
    db = f"crm_test_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE DATABASE {db} LOCATION '{(tmp_path / 'warehouse').as_uri()}'")
    try:
        for table in ("customers", "orders", "events", "suppressions"):
            name = "tmall_orders" if table == "orders" else table
            spark.read.parquet(str(exported / "data_pq" / f"{table}.parquet")).write.saveAsTable(
                f"{db}.{name}")
        root = twin(exported, tmp_path, f"  source: catalog\n  path: {db}\n"
                    f"  tables: {{orders: {db}.tmall_orders}}\n")
        manifest = same_as_duckdb(exported, root)
        assert problem_counts(manifest) == EXPECTED_PROBLEMS
    finally:
        spark.sql(f"DROP DATABASE {db} CASCADE")


def test_a_table_missing_at_the_uri_is_e402_at_the_path(exported, tmp_path, spark):
    (exported / "data_pq" / "orders.parquet").unlink()
    uri = (exported / "data_pq").as_uri()
    root = twin(exported, tmp_path, f"  source: parquet\n  path: {uri}\n")
    with pytest.raises(PlanError) as caught:
        build(root, engine="spark")
    [d] = caught.value.diagnostics
    assert (d.code, d.line) == ("E402", 7)
    assert d.message == f"orders data not found: {uri}/orders.parquet"
    assert not (root / "out").exists()


@pytest.mark.parametrize("damage", ["truncated", "pages", "not_parquet"])
def test_a_corrupt_file_at_the_uri_is_e407_at_the_path(exported, tmp_path, spark, damage):
    """The footer cut off (Spark fails inferring the schema), pages overwritten with the
    footer intact (Spark fails reading the rows, in the checking pass), a CSV named
    .parquet: E407 at shop.yaml's data path naming the file, not a traceback."""
    orders = exported / "data_pq" / "orders.parquet"
    con = duckdb.connect()  # enough rows for pages past the first bytes
    con.execute(f"COPY (SELECT 'o' || range AS order_id, 'c01' AS customer_id, "
                f"TIMESTAMP '2026-02-01 10:00:00' AS created_at, TIMESTAMP '2026-02-01 "
                f"10:05:00' AS paid_at, NULL::TIMESTAMP AS shipped_at, NULL::TIMESTAMP AS "
                f"signed_at, 10.0 + range AS amount, 'paid' AS status, 'normal' AS "
                f"source FROM range(20000)) TO '{orders}'")
    con.close()
    data = orders.read_bytes()
    if damage == "truncated":
        orders.write_bytes(data[: len(data) // 2])
    elif damage == "pages":
        orders.write_bytes(data[:4] + bytes(b ^ 0x5A for b in data[4:len(data) // 2])
                           + data[len(data) // 2:])
    else:
        orders.write_text("order_id,amount\no01,100\n", encoding="utf-8")
    uri = (exported / "data_pq").as_uri()
    root = twin(exported, tmp_path, f"  source: parquet\n  path: {uri}\n")
    with pytest.raises(PlanError) as caught:
        build(root, engine="spark")
    [d] = caught.value.diagnostics
    assert (d.code, d.line, d.col) == ("E407", 7, 9)
    assert re.fullmatch(r"Spark cannot read file:/+\S+/data_pq/orders\.parquet as Parquet "
                        r"\((FAILED_READ_FILE\.\w+|not a Parquet file)\): truncated or "
                        r"corrupt\?", d.message), d.message
    assert not (root / "out").exists()


def test_spark_data_with_the_duckdb_engine_is_e410_at_the_path(exported, tmp_path):
    """No Spark started: the error comes before the data is read."""
    root = twin(exported, tmp_path, "  source: parquet\n  path: s3a://exports/shop\n")
    with pytest.raises(PlanError) as caught:
        build(root, engine="duckdb")
    [d] = caught.value.diagnostics
    assert (d.code, d.line, d.col) == ("E410", 7, 9)
    assert d.message == ("the data is Parquet at s3a://exports/shop, which only Spark reads, "
                         "and the engine is duckdb")


@pytest.mark.slow
def test_the_terminal_shows_e407_without_sparks_java_stack(exported, tmp_path):
    """`crmspec build --engine spark` in its own process (its own JVM) on a truncated
    Parquet file: stderr is the located E407, not the failed task's Java stack that
    Spark's loggers print at ERROR before crmspec reports the failure."""
    import subprocess
    import sys

    orders = exported / "data_pq" / "orders.parquet"
    orders.write_bytes(orders.read_bytes()[:100])
    uri = (exported / "data_pq").as_uri()
    root = twin(exported, tmp_path, f"  source: parquet\n  path: {uri}\n")
    done = subprocess.run([sys.executable, "-m", "crmspec", "--project", str(root), "build",
                           "--engine", "spark"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "plans/shop.yaml:7:9: error[E407]: Spark cannot read" in done.stderr
    assert "ERROR Executor" not in done.stderr and "ERROR TaskSetManager" not in done.stderr
    assert "\tat org.apache" not in done.stderr and "Traceback" not in done.stderr
