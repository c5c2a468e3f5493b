"""crmspec's SQL on Spark (crmspec.engine.spark.dialect): every construct the compiler
emits is in the portable set; each function of that set means the same on both engines
(run through the production `SparkRunner` next to DuckDB on edge values: timestamps
around midnight, Feb 29, NULLs, Chinese text); the constructs that differ are refused."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import BUILD_LEFTOVERS, FIXTURES

from crmspec.build import build
from crmspec.core.diagnostics import PlanError
from crmspec.engine.run import plan_statements
from crmspec.engine.session import open_session
from crmspec.engine.spark.dialect import PORTABLE, constructs, to_spark, unportable
from crmspec.engine.spark.run import SparkRunner

ROOT = Path(__file__).parents[1]


def _shops(tmp_path: Path) -> list[Path]:
    """The fixture shops and the example plan (on a 300-customer demo)."""
    out = []
    for name in ("tiny", "channels"):
        shutil.copytree(FIXTURES / name, tmp_path / name, ignore=BUILD_LEFTOVERS)
        out.append(tmp_path / name)
    shutil.copytree(ROOT / "plans", tmp_path / "example" / "plans")
    shop = tmp_path / "example" / "plans" / "shop.yaml"
    shop.write_text(shop.read_text(encoding="utf-8").replace(
        "    customers: 20000\n", "    customers: 300\n"), encoding="utf-8")
    out.append(tmp_path / "example")
    return out


def test_every_construct_the_compiler_emits_is_portable(tmp_path):
    """Compiles each shop's plan (every statement a build runs, as of two dates so that
    both kinds of trigger day are seen, and after a build, with tiers in the ledger) and
    lists the sqlglot classes; one outside
    PORTABLE fails here, before a Spark build would refuse it."""
    seen: set = set()
    for root in _shops(tmp_path):
        for day, built in ((None, False), (date(2026, 2, 28), False), (None, True)):
            if built:  # the next day's statements read the ledger's tiers
                last = build(root).as_of
                day = last + timedelta(days=1)
            with open_session(root, day) as (_con, p):
                for sql in plan_statements(p.compiled):
                    seen |= constructs(sql)
                    assert unportable(sql) == [], sql[:200]
    assert seen <= PORTABLE


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    """The production SparkRunner on the tiny shop's settings (Shanghai time)."""
    root = tmp_path_factory.mktemp("dialect") / "tiny"
    shutil.copytree(FIXTURES / "tiny", root, ignore=BUILD_LEFTOVERS)
    with (root / "plans" / "shop.yaml").open("a", encoding="utf-8") as f:
        f.write("spark:\n  master: local[2]\n  conf:\n    spark.sql.shuffle.partitions: 2\n")
    with open_session(root) as (_con, p):
        r = SparkRunner(p.plan.shop)
        yield r
        r.close()


EDGES = """CREATE OR REPLACE TEMP TABLE edges AS SELECT * FROM (VALUES
  (1, TIMESTAMP '2026-02-28 23:59:59', TIMESTAMP '2026-03-01 00:00:01', DATE '2000-02-29',
   '张三abc', 'a%b', 2.5, 13800000001),
  (2, TIMESTAMP '2026-03-01 00:00:00', TIMESTAMP '2026-03-01 23:59:59', DATE '1990-02-28',
   '  x ', NULL, -2.5, NULL),
  (3, NULL, TIMESTAMP '2024-02-29 12:00:00', NULL, NULL, 'abc', NULL, 1)
) AS t(id, a, b, d, s, p, x, n)"""

# (DuckDB SQL over `edges`): one expression per portable function, with the edge values
# where the engines could differ.
EXPRESSIONS = [
    "date_diff('day', a, b)", "date_diff('day', d, CAST(b AS DATE))",
    "CAST(a AS DATE)", "CAST(b AS DATE) - INTERVAL 30 DAY > CAST(a AS DATE)",
    # an interval of a column (the contact plan's cooldowns and stage entry dates)
    "CAST(a AS DATE) > CAST(b AS DATE) - INTERVAL (id) DAY",
    "d + INTERVAL (CAST(ceil(x) AS INTEGER)) DAY", "a - INTERVAL (id + 1) DAY",
    "INTERVAL (id) DAY + d",
    "year(d)", "month(d)", "day(d)", "dayofweek(b)", "dayofweek(d)",
    "regexp_full_match(CAST(n AS TEXT), '^1[3-9][0-9]{9}$')",
    "regexp_full_match(s, 'abc')", "regexp_matches(s, 'abc')",
    "md5('salt:' || CAST(id AS TEXT))",
    # the control groups' bucket (contact.holdout), and a hexadecimal cast alone
    "CAST(CAST(('0x' || substr(md5('s:' || CAST(id AS TEXT)), 1, 8)) AS BIGINT) AS DOUBLE) "
    "/ 4294967296.0", "CAST('0x' || 'ff' AS BIGINT)", "coalesce(s, 'none')", "nullif(s, '  x ')",
    "greatest(x, 0)", "least(x, 0)", "ceil(x)", "floor(x)", "round(x)", "abs(x)",
    "CAST(ceil(5 * x) AS INTEGER)", "lower(s)", "upper(s)", "length(s)", "trim(s)",
    "concat(s, p)", "s || p", "substring(s, 2, 3)", "strpos(s, 'b')",
    "starts_with(s, '张')", "ends_with(s, 'c')", "contains(s, 'a')", "left(s, 2)",
    "right(s, 2)", "s LIKE '%a%'", "CASE WHEN n IS NULL THEN 'no' ELSE 'yes' END",
    "x / 2", "id % 2", "id + 1 >= 2 OR x <= 0 AND (n <> 1)", "TRUE AND s ILIKE '%ABC%'",
    "TRY_CAST(s AS INTEGER)", "extract(month FROM d)", "(SELECT max(id) FROM edges)",
    "CAST(x AS DECIMAL(14, 2))", "a < b", "n BETWEEN 1 AND 2",
]


@pytest.mark.spark
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_a_portable_function_means_the_same_on_both_engines(runner, expression):
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'Asia/Shanghai'")
    duck.execute(EDGES)
    query = f"CREATE OR REPLACE TEMP TABLE got AS SELECT id, {expression} AS v FROM edges"
    duck.execute(query.replace("TABLE got", "TABLE want"))
    want = duck.execute("SELECT * FROM want ORDER BY id").fetchall()
    runner(duck, [query])
    assert duck.execute("SELECT * FROM got ORDER BY id").fetchall() == want


AGGREGATES = [
    # DuckDB's hint to compute a CTE once (the budgets' statement)
    "CREATE OR REPLACE TEMP TABLE got AS WITH m AS MATERIALIZED (SELECT id, x FROM edges) "
    "SELECT id, x FROM m WHERE x IS NOT NULL",
    "CREATE OR REPLACE TEMP TABLE got AS SELECT id, count(*) OVER () AS c, "
    "CAST(ceil(5 * cume_dist() OVER (ORDER BY x)) AS INTEGER) AS r, "
    "row_number() OVER (ORDER BY id DESC) AS k FROM edges",
    # a running sum over distinct keys (RFM's scores: compile.facts)
    "CREATE OR REPLACE TEMP TABLE got AS SELECT id, sum(id) OVER (ORDER BY id ROWS BETWEEN "
    "UNBOUNDED PRECEDING AND CURRENT ROW) AS r, sum(id) OVER () AS t FROM edges",
    "CREATE OR REPLACE TEMP TABLE got AS WITH e AS (SELECT * FROM edges WHERE id IN (1, 2)) "
    "SELECT edges.n IS NULL AS k, count(*) AS c, sum(edges.x) FILTER (WHERE id > 1) AS s, "
    "bool_or(edges.a < edges.b) AS o, bool_and(edges.a < edges.b) AS o2, max(edges.b) AS m, "
    "min(edges.b) AS m2, avg(edges.x) AS v, count(DISTINCT edges.s) AS d, "
    "arg_max(edges.s, edges.id) AS g "
    "FROM edges LEFT JOIN e USING (id) GROUP BY 1 HAVING count(*) > 0 "
    "UNION ALL SELECT NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL FROM edges "
    "WHERE NOT EXISTS (SELECT 1 FROM e) AND id = 1",
]


def test_every_portable_construct_is_checked_on_both_engines():
    """PORTABLE holds only what the tests below run on both engines."""
    checked = constructs(EDGES)
    for expression in EXPRESSIONS:
        checked |= constructs(f"CREATE OR REPLACE TEMP TABLE got AS SELECT id, {expression} "
                              "AS v FROM edges")
    for sql in AGGREGATES:
        checked |= constructs(sql)
    assert sorted(c.__name__ for c in PORTABLE - checked) == []


@pytest.mark.spark
def test_aggregates_and_windows_mean_the_same_on_both_engines(runner):
    for sql in AGGREGATES:
        duck = duckdb.connect()
        duck.execute(EDGES)
        duck.execute(sql.replace("TABLE got", "TABLE want"))
        runner(duck, [sql])
        assert (duck.execute("SELECT * FROM got ORDER BY ALL").fetchall()
                == duck.execute("SELECT * FROM want ORDER BY ALL").fetchall())


@pytest.mark.parametrize("sql, name", [
    ("SELECT list(x ORDER BY y) FROM t", "ARRAY_AGG"),
    ("SELECT arg_min(x, y) FROM t", "ARG_MIN"),
    ("SELECT quantile_cont(x, 0.5) FROM t", "PERCENTILE_CONT"),
    ("SELECT hash(x) FROM t", "HASH"),
    ("SELECT epoch(x) FROM t", "TIME_TO_UNIX"),
    ("SELECT CAST(x AS UBIGINT) FROM t", "DataType"),
    ("SELECT x[1:2] FROM t", "Slice"),
    ("SELECT x FROM t QUALIFY row_number() OVER (ORDER BY x) = 1", "Qualify"),
])
def test_constructs_that_differ_are_refused(sql, name):
    bad = unportable(sql)
    assert any(name in b for b in bad), bad
    with pytest.raises(ValueError, match="not portable to Spark"):
        to_spark(sql)


def test_an_interval_of_a_column_is_a_product_on_spark():
    assert to_spark("SELECT d - INTERVAL (n) DAY, d - INTERVAL 3 DAY FROM t") == (
        "SELECT CAST(d AS TIMESTAMP_NTZ) - (n) * INTERVAL '1' DAY, d - INTERVAL '3' DAY "
        "FROM t")


def test_a_materialized_cte_is_a_plain_cte_on_spark():
    assert to_spark("WITH a AS MATERIALIZED (SELECT 1 AS x) SELECT x FROM a") == (
        "WITH a AS (SELECT 1 AS x) SELECT x FROM a")


def test_date_diff_counts_calendar_days_on_spark():
    assert to_spark("SELECT date_diff('day', a, b) FROM t") == (
        "SELECT DATEDIFF(CAST(b AS DATE), CAST(a AS DATE)) FROM t")


def test_a_statement_outside_the_portable_set_is_a_located_error(runner):
    duck = duckdb.connect()
    duck.execute(EDGES)
    with pytest.raises(PlanError) as caught:
        runner(duck, ["CREATE OR REPLACE TEMP TABLE got AS SELECT hash(s) AS h FROM edges"])
    [d] = caught.value.diagnostics
    assert d.code == "E409" and "not portable to Spark: HASH" in d.message
