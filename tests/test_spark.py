"""`engine: spark` against DuckDB: the same build on both engines writes the same bytes
in every send file, audience list and manifest.

The builds go through `crmspec.build.build` with `engine=`, as `crmspec build --engine`
does; each shop is copied twice and built once per engine, day after day where the
ledger matters (cooldowns, limits, budgets read earlier runs). Spark runs in local mode
(local[2], two shuffle partitions, set in each shop's shop.yaml `spark.conf`) on one
session for the whole test run. A machine without Java fails these tests (it does not
skip them): .ci/run installs Debian's default-jre-headless.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from conftest import BUILD_LEFTOVERS, FIXTURES
from shop_edits import append, edit

from crmspec.build import build

pytestmark = pytest.mark.spark

SPARK_CONF = "spark:\n  master: local[2]\n  conf:\n    spark.sql.shuffle.partitions: 2\n"


@pytest.fixture(scope="session", autouse=True)
def _java():
    if shutil.which("java") is None:
        pytest.fail("the Spark parity tests need Java (`java` not found on PATH): install a "
                    "Java 17+ runtime (Debian: apt-get install default-jre-headless; "
                    ".ci/run does)", pytrace=False)


def files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}


def twins(shop: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Two copies of a shop, one per engine, the Spark one with its local settings."""
    roots = []
    for engine in ("duckdb", "spark"):
        root = tmp_path / engine
        shutil.copytree(shop, root, ignore=BUILD_LEFTOVERS)
        append(root, "shop.yaml", SPARK_CONF)
        roots.append(root)
    return roots[0], roots[1]


def same_builds(duck: Path, spark: Path, days: list[date | None]) -> list[dict]:
    """Build both copies day by day; every file of every day must be equal. Returns the
    manifests (for the tests to check that their rules did bind)."""
    manifests = []
    for day in days:
        a = build(duck, as_of=day, engine="duckdb")
        b = build(spark, as_of=day, engine="spark")
        fa, fb = files(a.out_dir), files(b.out_dir)
        assert sorted(fa) == sorted(fb)
        assert [n for n in fa if fa[n] != fb[n]] == []
        assert a.manifest == b.manifest
        manifests.append(a.manifest)
    return manifests


def suppressed(manifests: list[dict], reason: str) -> int:
    return sum(a["suppressed"].get(reason, 0) for m in manifests for a in m["activities"])


@pytest.fixture
def spark_ran(monkeypatch) -> list[list[str]]:
    """What each Spark build created on Spark (`SparkRunner.ran`), one list per build."""
    from crmspec.engine.spark.run import SparkRunner

    ran: list[list[str]] = []
    close = SparkRunner.close

    def recorded(self):
        ran.append(list(self.ran))
        close(self)

    monkeypatch.setattr(SparkRunner, "close", recorded)
    return ran


def test_tiny_shop_with_cooldowns_limits_ties_budgets_and_a_feb_29_birthday(tmp_path,
                                                                           spark_ran):
    """The tiny shop (test_build_tiny) with every contact rule binding on some day:
    a cooldown and a weekly contact limit (test_contact_plan's), two marketing activities
    of equal priority sharing the SMS cap (decided by id), a monthly budget with
    keep_first that runs out on 03-02, and a birthday trigger: c01 is born on Feb 29
    (greeted on Feb 28 in 2026), c02 on Feb 28."""
    shop = tmp_path / "shop"
    shutil.copytree(FIXTURES / "tiny", shop, ignore=BUILD_LEFTOVERS)
    append(shop, "shop.yaml", "contact:\n  limits:\n    overall: [{days: 7, max: 2}]\n"
           "    channels:\n      sms: [{days: 7, max: 1}]\nbudget:\n  monthly_cap: 0.30\n")
    edit(shop, "activities.yaml", "    segment: active_not_fans\n",
         "    segment: active_not_fans\n    trigger: {type: state, cooldown_days: 14}\n")
    edit(shop, "activities.yaml", "    segment: lapsed\n",
         "    segment: lapsed\n    budget: {cap: 100, keep_first: {by: spend}}\n")
    append(shop, "activities.yaml", """  - id: another
    name: 再来一次
    template: winback
    kind: marketing
    stage: silent
    segment: lapsed
    channel: sms
  - id: birthday_care
    name: 生日关怀
    template: active_care
    kind: maintenance
    stage: [active, silent, sleeping, churning]
    segment: has_birthday
    channel: sms
    trigger: {type: birthday}
""")
    append(shop, "segments.yaml", "  - id: has_birthday\n    name: 有生日\n    where:\n"
           "      sql: \"birthday IS NOT NULL\"\n")
    customers = shop / "data" / "customers.csv"
    text = customers.read_text(encoding="utf-8")
    text = text.replace(",张一,1990-05-01,", ",张一,2000-02-29,").replace(
        ",nick02,张二,,", ",nick02,张二,1990-02-28,")
    customers.write_text(text, encoding="utf-8")
    duck, spark = twins(shop, tmp_path)
    days = [date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 2)]
    manifests = same_builds(duck, spark, days)
    birthday = [next(a for a in m["activities"] if a["id"] == "birthday_care")
                for m in manifests]
    assert [b["eligible"] for b in birthday] == [2, 0, 0]  # c01 (Feb 29) and c02
    for reason in ("cooldown", "channel_limit", "budget_month"):
        assert suppressed(manifests, reason) > 0, reason
    # the audiences, then the contact decisions, ran on Spark, every day
    assert spark_ran == [["trigger_orders", "features", "facts", "candidates", "rule_flags",
                          "verdicts", "contact_cut", "decisions_pre", "budget_cut",
                          "decisions"]] * len(days)


def test_timestamps_around_midnight_in_the_shop_timezone(tmp_path):
    """test_contact_plan's time-zone shop: c03's payment written as a UTC instant in
    Parquet, 2026-02-22 16:30 UTC = 02-23 00:30 in Shanghai (after-sale, not active)."""
    import duckdb

    shop = tmp_path / "shop"
    shutil.copytree(FIXTURES / "tiny", shop, ignore=BUILD_LEFTOVERS)
    data, folder = shop / "data", shop / "data_tz"
    folder.mkdir()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in ("customers", "events"):
        con.execute(f"COPY (SELECT * FROM read_csv('{data}/{table}.csv', header = true, "
                    f"auto_detect = true)) TO '{folder}/{table}.parquet'")
    con.execute(f"""COPY (SELECT * REPLACE (
          CASE WHEN order_id = 'o04' THEN TIMESTAMPTZ '2026-02-22 16:30:00+00'
               ELSE CAST(paid_at AS TIMESTAMP) AT TIME ZONE 'Asia/Shanghai' END AS paid_at)
        FROM read_csv('{data}/orders.csv', header = true, auto_detect = true))
        TO '{folder}/orders.parquet'""")
    con.close()
    edit(shop, "shop.yaml", "  source: csv\n  path: data\n",
         "  source: parquet\n  path: data_tz\n")
    duck, spark = twins(shop, tmp_path)
    [manifest] = same_builds(duck, spark, [date(2026, 3, 1)])
    assert (manifest["stages"]["after_sale"], manifest["stages"]["active"]) == (5, 4)


def test_every_built_in_channel(channels_shop, tmp_path):
    """The channels fixture: one templated activity per built-in channel's writer."""
    duck, spark = twins(channels_shop, tmp_path)
    same_builds(duck, spark, [None])


def test_the_example_plan_on_the_demo_shop(tmp_path):
    """plans/ (46 activities) on a demo shop of 3,000 customers, two days in a row."""
    shop = tmp_path / "shop"
    shutil.copytree(Path(__file__).parents[1] / "plans", shop / "plans")
    edit(shop, "shop.yaml", "    customers: 20000\n", "    customers: 3000\n")
    duck, spark = twins(shop, tmp_path)
    manifests = same_builds(duck, spark, [date(2026, 7, 1), date(2026, 7, 2)])
    assert sum(a["sent"] for a in manifests[0]["activities"]) > 500


@pytest.fixture
def connect_server(monkeypatch):
    """A Spark Connect server started in the test session's own JVM (a free port: other
    runs on the machine may have one), with SPARK_REMOTE naming it. No second JVM: the
    server is Spark's own `SparkConnectService`, the client pyspark's gRPC one, as
    against a cluster's server. Stopped after the test."""
    import warnings

    from pyspark.sql import SparkSession

    with warnings.catch_warnings():  # pyspark 4.x warns about pandas 3
        warnings.simplefilter("ignore", FutureWarning)
        from pyspark.sql.connect.session import SparkSession as ConnectSession

    classic = (SparkSession.builder.master("local[2]")  # the other tests' session, if any
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.log.level", "ERROR").getOrCreate())
    jvm = classic._jvm
    classic._jsc.sc().conf().set("spark.connect.grpc.binding.port", "0")
    service = getattr(getattr(jvm, "org.apache.spark.sql.connect.service."
                                   "SparkConnectService$"), "MODULE$")
    service.start(classic._jsc.sc())
    url = f"sc://localhost:{service.localPort()}"
    monkeypatch.setenv("SPARK_REMOTE", url)
    yield url
    client = ConnectSession.getActiveSession()
    if client is not None:
        client.stop()
    none = getattr(getattr(jvm, "scala.None$"), "MODULE$")
    service.stop(none, none)


def test_spark_connect_through_spark_remote(tiny, tmp_path, connect_server):
    """SPARK_REMOTE=sc://host:port: the same build through a Spark Connect session (the
    client's own builder beside the test run's classic session) writes the same bytes,
    on the tiny shop, one day."""
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    duck, spark = twins(tiny, tmp_path)
    manifests = same_builds(duck, spark, [date(2026, 3, 1)])
    client = ConnectSession.getActiveSession()
    assert client is not None  # the build's session: a Connect client of that server
    assert f"sc://{client.client._builder.endpoint}" == connect_server
    assert sum(a["sent"] for a in manifests[0]["activities"]) > 0
