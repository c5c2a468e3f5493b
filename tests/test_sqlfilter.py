"""The `sql:` escape hatch is the one place plan text becomes SQL, so these tests pin the
exact SQL produced, the exact refusal for every attack category, and what DuckDB actually
selects with the regenerated SQL."""

from __future__ import annotations

import sys

import duckdb
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from crmspec.safesql import checker as sqlfilter_checker
from crmspec.safesql import parse_filter
from crmspec.safesql import vocabulary as sqlfilter_vocabulary
from crmspec.safesql.checked import SafeFilter, SqlFilterError
from crmspec.safesql.vocabulary import ALLOWED_FUNCTIONS

# A fixed copy of part of the customers contract (plus the build's as_of date), so these
# tests do not move when the table contract grows.
COLUMNS = {
    "customer_id": "VARCHAR",
    "nick": "VARCHAR",
    "gender": "VARCHAR",
    "province": "VARCHAR",
    "city_tier": "INTEGER",
    "birthday": "DATE",
    "registered_at": "TIMESTAMP",
    "opt_out_sms": "BOOLEAN",
    "as_of": "DATE",
}


# -- accepted filters: exact SQL ------------------------------------------------------------

VALID = [
    (
        "city_tier <= 2 AND gender = 'F' AND province IN ('浙江','上海')",
        """"city_tier" <= 2 AND "gender" = 'F' AND "province" IN ('浙江', '上海')""",
        "`city_tier` <= 2 AND `gender` = 'F' AND `province` IN ('浙江', '上海')",
    ),
    ("province = '浙江'", """"province" = '浙江'""", "`province` = '浙江'"),
    ("nick = 'O''Brien'", """"nick" = 'O''Brien'""", "`nick` = 'O\\'Brien'"),
    ("nick = 'back\\slash'", """"nick" = 'back\\slash'""", "`nick` = 'back\\\\slash'"),
    ("opt_out_sms", '"opt_out_sms"', "`opt_out_sms`"),
    ("NOT coalesce(opt_out_sms, false)", 'NOT COALESCE("opt_out_sms", FALSE)', None),
    ("nick IS NOT NULL", 'NOT "nick" IS NULL', None),
    (
        "registered_at >= as_of - INTERVAL 30 DAY",
        """"registered_at" >= "as_of" - INTERVAL '30' DAY""",
        "`registered_at` >= `as_of` - INTERVAL '30' DAY",
    ),
    (
        "registered_at >= as_of - INTERVAL '3 days'",
        """"registered_at" >= "as_of" - INTERVAL '3' DAY""",
        None,
    ),
    (
        "date_diff('day', registered_at, as_of) > 30",
        """DATE_DIFF('DAY', "registered_at", "as_of") > 30""",
        "DATEDIFF(DAY, `registered_at`, `as_of`) > 30",
    ),
    (
        "regexp_matches(nick, '^a') OR starts_with(lower(nick), 'b')",
        """REGEXP_MATCHES("nick", '^a') OR STARTS_WITH(LOWER("nick"), 'b')""",
        "`nick` RLIKE '^a' OR STARTSWITH(LOWER(`nick`), 'b')",
    ),
    (
        "birthday = DATE '2000-01-01'",
        """"birthday" = CAST('2000-01-01' AS DATE)""",
        "`birthday` = CAST('2000-01-01' AS DATE)",
    ),
    (
        "registered_at < TIMESTAMP '2024-01-01 00:00:00'",
        """"registered_at" < CAST('2024-01-01 00:00:00' AS TIMESTAMP)""",
        "`registered_at` < CAST('2024-01-01 00:00:00' AS TIMESTAMP_NTZ)",
    ),
    (
        "TRY_CAST(customer_id AS BIGINT) BETWEEN 1 AND 3",
        """TRY_CAST("customer_id" AS BIGINT) BETWEEN 1 AND 3""",
        "TRY_CAST(`customer_id` AS BIGINT) BETWEEN 1 AND 3",
    ),
    (
        "IF(city_tier = 1, opt_out_sms, nick ILIKE 'x%')",
        """CASE WHEN "city_tier" = 1 THEN "opt_out_sms" ELSE "nick" ILIKE 'x%' END""",
        "IF(`city_tier` = 1, `opt_out_sms`, `nick` ILIKE 'x%')",
    ),
    # DuckDB counts weekdays from Sunday=0, Spark from Sunday=1.
    ("dayofweek(birthday) = 0", 'DAYOFWEEK("birthday") = 0', "(DAYOFWEEK(`birthday`) - 1) = 0"),
    # Aliases sqlglot folds into an allowed function come out under the canonical name.
    ("lcase(nick) = 'a' AND len(nick) > 1", """LOWER("nick") = 'a' AND LENGTH("nick") > 1""", None),
    # Identifiers are case-insensitive in DuckDB; the declared spelling is used.
    ("CITY_TIER = 1 AND \"Gender\" = 'F'", """"city_tier" = 1 AND "gender" = 'F'""", None),
]


@pytest.mark.parametrize(("text", "duckdb_sql", "spark_sql"), VALID)
def test_valid_filters_generate_exact_sql(text, duckdb_sql, spark_sql):
    safe = parse_filter(text, COLUMNS)
    assert isinstance(safe, SafeFilter)
    assert safe.sql() == duckdb_sql
    assert safe.sql("duckdb") == duckdb_sql
    if spark_sql is not None:
        assert safe.sql("spark") == spark_sql


def test_table_alias_qualifies_and_quotes_every_column():
    safe = parse_filter("city_tier <= 2 AND lower(nick) = 'a'", COLUMNS)
    assert safe.sql(table_alias="c") == """"c"."city_tier" <= 2 AND LOWER("c"."nick") = 'a'"""
    assert safe.sql("spark", table_alias="c") == "`c`.`city_tier` <= 2 AND LOWER(`c`.`nick`) = 'a'"
    # Rendering must not mutate the stored tree.
    assert safe.sql() == """"city_tier" <= 2 AND LOWER("nick") = 'a'"""


def test_columns_and_expression_are_canonical():
    safe = parse_filter("CITY_TIER = 1 OR opt_out_sms OR city_tier IS NULL", COLUMNS)
    assert safe.columns == frozenset({"city_tier", "opt_out_sms"})
    columns = list(safe.expression.find_all(exp.Column))
    assert {c.name for c in columns} == {"city_tier", "opt_out_sms"}
    assert all(c.this.quoted and not c.table for c in columns)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("city_tier=1   and gender='F'", """"city_tier" = 1 AND "gender" = 'F'"""),
        ("/* x */ city_tier = 1\n  AND gender = 'F'", """"city_tier" = 1 AND "gender" = 'F'"""),
        # A comment could carry anything; it must not survive into the SQL.
        (
            "(city_tier = 1) AND gender = 'F' -- note */ OR 1=1",
            """("city_tier" = 1) AND "gender" = 'F'""",
        ),
    ],
)
def test_output_is_regenerated_not_passed_through(text, expected):
    assert parse_filter(text, COLUMNS).sql() == expected


ALLOWED_EXAMPLES = {
    "lower": "lower(nick) = 'a'",
    "upper": "upper(nick) = 'A'",
    "length": "length(nick) > 1",
    "trim": "trim(nick) = 'a'",
    "concat": "concat(nick, gender) = 'aF'",
    "left": "left(nick, 1) = 'a'",
    "right": "right(nick, 1) = 'a'",
    "substring": "substring(nick, 1, 2) = 'ab'",
    "substr": "substr(nick, 1, 2) = 'ab'",
    "strpos": "strpos(nick, 'a') > 0",
    "starts_with": "starts_with(nick, 'a')",
    "ends_with": "ends_with(nick, 'a')",
    "contains": "contains(nick, 'a')",
    "regexp_matches": "regexp_matches(nick, 'a+')",
    "coalesce": "coalesce(opt_out_sms, FALSE)",
    "nullif": "nullif(gender, '') IS NULL",
    "abs": "abs(city_tier) = 1",
    "round": "round(city_tier / 2, 1) = 0.5",
    "floor": "floor(city_tier / 2) = 0",
    "ceil": "ceil(city_tier / 2) = 1",
    "least": "least(city_tier, 3) = 1",
    "greatest": "greatest(city_tier, 3) = 3",
    "year": "year(birthday) = 1990",
    "month": "month(birthday) = 5",
    "day": "day(birthday) = 1",
    "dayofweek": "dayofweek(birthday) = 2",
    "date_diff": "date_diff('year', birthday, as_of) >= 30",
    "datediff": "datediff('day', registered_at, as_of) > 7",
    "date_trunc": "date_trunc('month', registered_at) = DATE '2024-03-01'",
}


def test_every_allowed_function_is_documented_by_an_example():
    assert set(ALLOWED_EXAMPLES) == ALLOWED_FUNCTIONS


@pytest.mark.parametrize("name", sorted(ALLOWED_EXAMPLES))
def test_every_allowed_function_is_accepted_and_runs_in_duckdb(name, customers):
    safe = parse_filter(ALLOWED_EXAMPLES[name], COLUMNS)
    customers.execute(f"SELECT count(*) FROM customers AS c WHERE {safe.sql(table_alias='c')}")


# -- refused filters: exact message and offset -----------------------------------------------

REJECTED = [
    # subqueries and statements
    ("city_tier IN (SELECT 1)", "subqueries are not allowed", 14),
    ("EXISTS (SELECT 1 FROM customers)", "subqueries are not allowed", 0),
    ("city_tier = (SELECT max(city_tier) FROM customers)", "subqueries are not allowed", 13),
    ("1=1; DROP TABLE customers", "only one condition is allowed: remove the ';'", 3),
    ("city_tier = 1;", "only one condition is allowed", 13),
    ("DROP TABLE customers", "SQL statements (DROP ...) are not allowed", 0),
    ("SELECT * FROM customers", "SQL statements (SELECT ...) are not allowed", 0),
    ("ATTACH 'x.db'", "SQL statements (ATTACH ...) are not allowed", 0),
    ("  INSTALL httpfs", "SQL statements (INSTALL ...) are not allowed", 2),
    # files, network, settings, environment
    ("read_csv('x') IS NOT NULL", "function read_csv is not allowed: filters cannot read files", 0),
    ("city_tier = 1 OR read_parquet('s3://b/x') IS NULL", "function read_parquet is not", 17),
    ("nick = read_json_auto('x')", "function read_json_auto is not allowed: filters cannot", 7),
    ("getenv('HOME') = 'x'", "function getenv is not allowed: filters cannot read files", 0),
    ("nick = current_setting('home_directory')", "function current_setting is not allowed", 7),
    ("nick IN (glob('*'))", "function glob is not allowed: filters cannot read files", 9),
    ("nick = getvariable('x')", "function getvariable is not allowed", 7),
    # columns
    ("citytier <= 2", "unknown column 'citytier'; did you mean 'city_tier'?", 0),
    (
        "city_tier = 1 AND provnce = '浙江'",
        "unknown column 'provnce'; did you mean 'province'?",
        18,
    ),
    ("zzz = 1", "unknown column 'zzz'; known columns: as_of, birthday, city_tier,", 0),
    ("c.city_tier <= 2", "qualified column name 'c.city_tier': write the bare column name", 0),
    ("gender = 'F' AND customers.city_tier = 1", "write the bare column name 'city_tier'", 17),
    ("*", "'*', COLUMNS(...) and #n are not allowed", 0),
    # aggregates and windows
    ("count(*) > 1", "aggregate function count is not allowed", 0),
    ("city_tier > 1 AND sum(city_tier) > 2", "aggregate function sum is not allowed", 18),
    ("row_number() OVER () = 1", "window functions (row_number ... OVER) are not allowed", 0),
    (
        "city_tier = 1 AND rank() OVER (ORDER BY registered_at) < 10",
        "window functions (rank ... OVER) are not allowed",
        18,
    ),
    # the clock
    ("registered_at > current_date - INTERVAL 30 DAY", "use the as_of column", 16),
    ("birthday < today()", "today is not allowed: a build must give the same result", 11),
    ("registered_at > now()", "now is not allowed", 16),
    ("registered_at > current_timestamp", "current_timestamp is not allowed", 16),
    # not a condition
    ("1", "the filter must be a condition", 0),
    ("'浙江'", "the filter must be a condition", 0),
    ("TRUE", "must be a condition that is true or false for each customer", 0),
    ("  city_tier + 1", "must be a condition", 2),
    ("coalesce(city_tier, 1)", "must be a condition", 0),
    ("NOT NULL", "must be a condition", 0),
    ("NOT gender", "NOT needs conditions, but 'gender' is a value", 4),
    ("city_tier = 1 AND (nick)", "AND needs conditions, but 'nick' is a value", 19),
    ("opt_out_sms OR birthday", "OR needs conditions, but 'birthday' is a value", 15),
    # other refusals
    ("city_tier = ?", "parameters (?, $1, $name) are not allowed", 12),
    ("city_tier = 0x10", "unexpected 'x10' after a value: aliases are not allowed", 13),
    ("city_tier IN (1, city_tier)", "IN (...) may only list literal values", 17),
    ("1 < city_tier < 3", "chained comparisons are not supported; combine them with AND", 0),
    ("city_tier IS 1", "IS must be followed by NULL, TRUE or FALSE", 13),
    ("CAST(nick AS BLOB) IS NULL", "cannot CAST to BLOB; allowed types: BIGINT, BOOLEAN, DATE", 0),
    ("date_diff('fortnight', birthday, as_of) > 1", "unknown date part 'fortnight'", 10),
    ("date_diff(city_tier, birthday, as_of) > 1", "unknown date part 'city_tier'", 10),
    ("birthday > as_of - INTERVAL 'soon' DAY", "INTERVAL needs a number and a unit", 19),
    ("nick SIMILAR TO 'a.*'", "\"nick SIMILAR TO 'a.*'\" is not allowed in a filter", 0),
    ("strlen(nick) > 1", "function strlen is not allowed; allowed functions: abs, ceil,", 0),
    ("random() < 0.5", "function random is not allowed", 0),
    ("province IN ('浙江'\uff0c'上海')", "full-width '\uff0c' is not SQL; type the ASCII ','", 17),
    ("city_tier \uff1d 1", "full-width '\uff1d' is not SQL; type the ASCII '='", 10),
    # syntax errors
    ("city_tier <= ", "syntax error near '<=': the expression is incomplete", 10),
    ("city_tier = 1 AND (gender = 'F'", "syntax error near \"'F'\": a ')' is missing", 28),
    ("city_tier = 1)", "syntax error near ')': unexpected text", 13),
    ("city_tier = 1\n  AND = 2", "syntax error near '2': the expression is incomplete", 22),
    ("province = '浙江", "syntax error: text (string) started with ' is never closed", 11),
    ("nick = 'it''s", "text (string) started with ' is never closed", 7),
    ('"city_tier = 1', 'quoted column name started with " is never closed', 0),
    ("city_tier = 1 /* note", "comment started with /* is never closed", 14),
    ("", "the filter is empty", 0),
    ("  -- nothing here", "the filter is empty", 0),
]


@pytest.mark.parametrize(("text", "message", "offset"), REJECTED)
def test_rejections_say_what_and_where(text, message, offset):
    with pytest.raises(SqlFilterError) as caught:
        parse_filter(text, COLUMNS)
    assert message in caught.value.message
    assert caught.value.offset == offset


def test_error_lists_allowed_functions_and_str_shows_offset():
    with pytest.raises(SqlFilterError) as caught:
        parse_filter("md5(nick) = 'x'", COLUMNS)
    assert caught.value.message == (
        "function md5 is not allowed; allowed functions: " + ", ".join(sorted(ALLOWED_FUNCTIONS))
    )
    assert str(caught.value).endswith("(at character 0)")


def test_statement_hint_for_a_column_named_like_a_keyword():
    with pytest.raises(SqlFilterError) as caught:
        parse_filter("comment = 'vip'", {"comment": "VARCHAR"})
    assert caught.value.message.endswith(
        '(the column comment must be written in double quotes: "comment")'
    )
    assert (
        parse_filter("\"comment\" = 'vip'", {"comment": "VARCHAR"}).sql() == """"comment" = 'vip'"""
    )


def test_too_long_and_too_deep():
    with pytest.raises(SqlFilterError) as caught:
        parse_filter("city_tier = 1 AND " * 300 + "TRUE", COLUMNS)
    assert caught.value.offset == sqlfilter_vocabulary.MAX_FILTER_LENGTH
    with pytest.raises(SqlFilterError, match="nested too deeply"):
        parse_filter("(" * 60 + "city_tier = 1" + ")" * 60, COLUMNS)
    # A long flat chain is not "deep".
    safe = parse_filter(" OR ".join(f"city_tier = {i}" for i in range(150)), COLUMNS)
    assert safe.columns == {"city_tier"}


def test_unexpected_internal_failure_becomes_sql_filter_error(monkeypatch):
    def boom(*args, **kwargs):
        raise ValueError("surprise")

    monkeypatch.setattr(sqlfilter_checker.sqlglot, "parse", boom)
    with pytest.raises(
        SqlFilterError, match=r"could not check the filter \(ValueError: surprise\)"
    ):
        parse_filter("city_tier = 1", COLUMNS)


# -- what DuckDB selects ----------------------------------------------------------------------


@pytest.fixture
def customers():
    con = duckdb.connect()
    con.execute(
        """
        CREATE TABLE customers AS
        SELECT *, DATE '2024-06-01' AS as_of FROM (VALUES
        ('c1', 'alice', 'F', '浙江', 1, DATE '1990-05-01', TIMESTAMP '2024-05-20 10:00', FALSE),
        ('c2', 'O''Brien', 'M', '上海', 2, DATE '1985-01-07', TIMESTAMP '2023-01-01 09:00', TRUE),
        ('c3', 'bob', 'F', '广东', 3, DATE '2000-12-31', TIMESTAMP '2024-05-31 23:59', NULL),
        ('c4', '小红', NULL, '上海', 2, NULL, TIMESTAMP '2022-03-03 03:03', FALSE),
        ('c5', 'Ann', 'F', '浙江', 4, DATE '1995-06-01', NULL, TRUE)
        ) AS t(customer_id, nick, gender, province, city_tier, birthday, registered_at,
               opt_out_sms)
        """
    )
    yield con
    con.close()


def _matching(con, text: str) -> list[str]:
    safe = parse_filter(text, COLUMNS)
    sql = f"SELECT customer_id FROM customers AS c WHERE {safe.sql(table_alias='c')} ORDER BY 1"
    return [row[0] for row in con.execute(sql).fetchall()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("city_tier <= 2 AND gender = 'F' AND province IN ('浙江','上海')", ["c1"]),
        ("province = '浙江'", ["c1", "c5"]),
        ("nick = 'O''Brien'", ["c2"]),
        ("nick = '小红'", ["c4"]),
        ("opt_out_sms", ["c2", "c5"]),
        ("NOT coalesce(opt_out_sms, FALSE)", ["c1", "c3", "c4"]),
        ("gender IS NULL OR city_tier >= 4", ["c4", "c5"]),
        ("registered_at >= as_of - INTERVAL 30 DAY", ["c1", "c3"]),
        ("date_diff('year', birthday, as_of) >= 30", ["c1", "c2"]),
        ("lower(nick) LIKE 'a%'", ["c1", "c5"]),
        ("nick ILIKE 'A%' AND NOT starts_with(nick, 'a')", ["c5"]),
        ("month(birthday) = month(as_of)", ["c5"]),
        ("dayofweek(birthday) = 0", ["c3"]),  # 2000-12-31 was a Sunday
        (
            "CASE WHEN city_tier = 1 THEN TRUE WHEN gender = 'M' THEN TRUE ELSE FALSE END",
            ["c1", "c2"],
        ),
    ],
)
def test_filters_select_the_expected_rows(customers, text, expected):
    assert _matching(customers, text) == expected


# -- properties -------------------------------------------------------------------------------

_VOCABULARY = [
    *COLUMNS,
    "bogus",
    "c.city_tier",
    "=",
    "<",
    ">=",
    "<>",
    "+",
    "-",
    "*",
    "/",
    "||",
    "::",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "TRUE",
    "BETWEEN",
    "LIKE",
    "ILIKE",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "CAST(",
    "AS",
    "INTEGER",
    "DATE",
    "INTERVAL",
    "DAY",
    "(",
    ")",
    ",",
    ";",
    ".",
    "1",
    "2.5",
    "'浙江'",
    "'O''Brien'",
    "'",
    '"',
    "$$",
    "--",
    "/*",
    "*/",
    "?",
    "lower(",
    "coalesce(",
    "date_diff(",
    "'day'",
    "starts_with(",
    "read_csv(",
    "getenv(",
    "count(",
    "sum(",
    "OVER",
    "current_date",
    "SELECT",
    "FROM",
    "DROP",
    "TABLE",
    "customers",
    "ATTACH",
    "pragma",
]


def _assert_safe(safe: SafeFilter) -> None:
    for dialect in ("duckdb", "spark"):
        try:
            sql = safe.sql(dialect)
        except SqlFilterError:
            continue  # refusing to render is safe; rendering something else is not
        tree = sqlglot.parse_one(sql, read=dialect)
        names = {c.name for c in tree.find_all(exp.Column)}
        assert names <= set(COLUMNS)
        assert names == safe.columns
        assert not any(c.table for c in tree.find_all(exp.Column))
        assert not list(tree.find_all(exp.Select, exp.Subquery, exp.Window, exp.AggFunc))
        if dialect == "duckdb":
            statement = f"SELECT 1 FROM customers WHERE {sql}"
            assert len(duckdb.connect().extract_statements(statement)) == 1


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80))
def test_random_text_is_accepted_safely_or_refused(text):
    try:
        safe = parse_filter(text, COLUMNS)
    except SqlFilterError as error:
        assert error.offset is None or 0 <= error.offset <= len(text)
        return
    _assert_safe(safe)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_VOCABULARY), max_size=14).map(" ".join))
def test_token_soup_is_accepted_safely_or_refused(text):
    try:
        safe = parse_filter(text, COLUMNS)
    except SqlFilterError as error:
        assert error.offset is None or 0 <= error.offset <= len(text)
        return
    _assert_safe(safe)


def test_a_filter_that_reads_no_column_is_refused():
    with pytest.raises(SqlFilterError) as err:
        parse_filter("1 = 1", COLUMNS)
    assert "reads no column" in err.value.message and "everyone: true" in err.value.message
    assert err.value.offset == 0


@pytest.mark.parametrize("text", ["customer_id BETWEEN customer_id NOT NULL",
                                  "birthday > 3"])
def test_duckdb_must_bind_the_regenerated_condition(text):
    with pytest.raises(SqlFilterError) as err:
        parse_filter(text, COLUMNS)
    assert "DuckDB cannot run this condition" in err.value.message


def test_parentheses_nested_beyond_the_bound_are_refused_whatever_the_recursion_limit():
    """32 levels pass, 33 are refused at the 33rd `(`, also where a library raised the
    recursion limit (pyspark's Spark Connect client sets 3,000 on import)."""
    bound = sqlfilter_vocabulary.MAX_PARENS
    assert bound == 32
    ok = parse_filter("(" * bound + "city_tier = 1" + ")" * bound, COLUMNS)
    assert ok.columns == {"city_tier"}
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(3000)
    try:
        with pytest.raises(SqlFilterError, match="nested too deeply") as caught:
            parse_filter("(" * (bound + 1) + "city_tier = 1" + ")" * (bound + 1), COLUMNS)
    finally:
        sys.setrecursionlimit(old)
    assert caught.value.offset == bound
