"""What a `sql:` filter may say: the allowlist of functions, node types, cast types and
date parts, and the names refused with a sharper message (clock, system and statement
functions). Anything not listed here is refused, so new sqlglot node types or DuckDB
features fail closed."""

from __future__ import annotations

import re

from sqlglot import exp

READ_DIALECT = "duckdb"


# Long enough for any hand-written condition; stops pathological input from costing
# unbounded parse time in a build.
MAX_FILTER_LENGTH = 4000


# Bounds our own recursion well below Python's limit (sqlglot's parser and generator recurse
# too, and fail earlier on deep parentheses; that case is caught separately).
MAX_DEPTH = 64
# Nesting of parentheses, checked on the tokens (checker._check_parentheses).
MAX_PARENS = 32


ALLOWED_FUNCTIONS: frozenset[str] = frozenset(
    {
        # text
        "lower",
        "upper",
        "length",
        "trim",
        "concat",
        "left",
        "right",
        "substring",
        "substr",
        "strpos",
        "starts_with",
        "ends_with",
        "contains",
        "regexp_matches",
        # null handling
        "coalesce",
        "nullif",
        # numbers
        "abs",
        "round",
        "floor",
        "ceil",
        "least",
        "greatest",
        # dates (relative to the as_of column, never to the clock)
        "year",
        "month",
        "day",
        "dayofweek",
        "date_diff",
        "datediff",
        "date_trunc",
    }
)
"""Functions a filter may call, by the name a plan author writes (lower case).

sqlglot parses most of these into typed expression classes (``lower`` -> ``exp.Lower``,
``regexp_matches`` -> ``exp.RegexpLike`` ...); those classes are what is checked, so aliases
sqlglot folds into the same class (``lcase``, ``len``, ``ceiling``, ``ifnull``, ``instr``,
``position(x IN y)``, ``a ~ 're'`` ...) are accepted too and come out under the canonical
name. A call sqlglot does not know becomes ``exp.Anonymous`` and passes only if its
lower-cased name is listed here.
"""


def node_classes(*names: str) -> tuple[type[exp.Expression], ...]:
    # getattr: the project allows older sqlglot releases that may lack a class; a missing
    # class only narrows what is accepted.
    return tuple(c for n in names if isinstance(c := getattr(exp, n, None), type))


FUNCTION_CLASSES: dict[type[exp.Expression], str] = {
    cls: name
    for name, class_names in {
        "lower": ("Lower",),
        "upper": ("Upper",),
        "length": ("Length",),
        "trim": ("Trim",),
        "concat": ("Concat",),
        "left": ("Left",),
        "right": ("Right",),
        "substring": ("Substring",),
        "strpos": ("StrPosition",),
        "starts_with": ("StartsWith",),
        "ends_with": ("EndsWith",),
        "contains": ("Contains",),
        "regexp_matches": ("RegexpLike",),
        "coalesce": ("Coalesce",),
        "nullif": ("Nullif",),
        "abs": ("Abs",),
        "round": ("Round",),
        "floor": ("Floor",),
        "ceil": ("Ceil",),
        "least": ("Least",),
        "greatest": ("Greatest",),
        "year": ("Year",),
        "month": ("Month",),
        "day": ("Day",),
        "dayofweek": ("DayOfWeek",),
        "date_diff": ("DateDiff",),
        "date_trunc": ("TimestampTrunc", "DateTrunc"),
    }.items()
    for cls in node_classes(*class_names)
}


# Aggregates would silently change meaning (or fail) in a per-row WHERE clause.
assert not any(issubclass(c, exp.AggFunc) for c in FUNCTION_CLASSES)

BOOLEAN_FUNCTION_CLASSES = node_classes("StartsWith", "EndsWith", "Contains", "RegexpLike")


BOOLEAN_FUNCTION_NAMES = frozenset({"starts_with", "ends_with", "contains", "regexp_matches"})


COMPARISONS = node_classes("EQ", "NEQ", "GT", "GTE", "LT", "LTE", "NullSafeEQ", "NullSafeNEQ")


CONNECTORS = node_classes("And", "Or")


ARITHMETIC = node_classes("Add", "Sub", "Mul", "Div", "Mod", "IntDiv", "DPipe")


PATTERN_MATCHES = node_classes("Like", "ILike")


# Nodes with nothing to check beyond their children.
PLAIN_NODES = (
    COMPARISONS
    + ARITHMETIC
    + PATTERN_MATCHES
    + node_classes("Not", "Neg", "Paren", "Between", "Case", "If")
)


CONDITION_NODES = (
    COMPARISONS + CONNECTORS + PATTERN_MATCHES
    + node_classes("Not", "In", "Between", "Is", "Escape")
)


CAST_TYPES: dict[exp.DataType.Type, str] = {
    t: name
    for name, type_names in {
        "INTEGER": ("INT",),
        "BIGINT": ("BIGINT",),
        "DOUBLE": ("DOUBLE",),
        "DECIMAL": ("DECIMAL",),
        "VARCHAR": ("VARCHAR", "TEXT"),
        "DATE": ("DATE",),
        "TIMESTAMP": ("TIMESTAMP", "TIMESTAMPNTZ"),
        "BOOLEAN": ("BOOLEAN",),
    }.items()
    for type_name in type_names
    if (t := getattr(exp.DataType.Type, type_name, None)) is not None
}


CAST_TYPE_NAMES = ", ".join(sorted(set(CAST_TYPES.values())))


DATE_PARTS = ("year", "quarter", "month", "week", "day", "hour", "minute", "second")


DATE_PART_ALIASES = {p: p for p in DATE_PARTS} | {p + "s": p for p in DATE_PARTS}


DATE_PART_NAMES = ", ".join(DATE_PARTS)


NUMBER_RE = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


INTERVAL_NUMBER_RE = re.compile(r"\s*[+-]?\d+(?:\.\d+)?\s*")


INTERVAL_TEXT_RE = re.compile(r"\s*(?:[+-]?\d+(?:\.\d+)?\s*([A-Za-z]+)\s*)+")


INTERVAL_PART_RE = re.compile(r"[+-]?\d+(?:\.\d+)?\s*([A-Za-z]+)")


CLOCK_CLASSES = node_classes(
    "CurrentDate",
    "CurrentTime",
    "CurrentTimestamp",
    "CurrentDatetime",
    "CurrentTimestampLTZ",
    "Localtime",
    "Localtimestamp",
)


CLOCK_NAMES = frozenset(
    {
        "current_date",
        "current_time",
        "current_timestamp",
        "current_localtime",
        "current_localtimestamp",
        "get_current_time",
        "get_current_timestamp",
        "transaction_timestamp",
        "localtime",
        "localtimestamp",
        "now",
        "today",
    }
)


# Everything outside the allowlist is refused anyway; these only earn a sharper message.
SYSTEM_CLASSES = node_classes(
    "ReadCSV",
    "ReadParquet",
    "CurrentUser",
    "CurrentSchema",
    "CurrentDatabase",
    "CurrentCatalog",
    "CurrentVersion",
)


SYSTEM_NAMES = frozenset(
    {
        "glob",
        "getenv",
        "getvariable",
        "current_setting",
        "current_user",
        "current_schema",
        "current_database",
        "current_catalog",
        "session_user",
        "user",
        "version",
        "sniff_csv",
        "query",
        "query_table",
        "attach",
        "copy",
        "install",
        "load",
        "parquet_scan",
        "csv_scan",
    }
)


SYSTEM_PREFIXES = (
    "read_",
    "parquet_",
    "duckdb_",
    "pragma_",
    "http",
    "sqlite_",
    "postgres_",
    "mysql_",
    "iceberg_",
    "delta_",
    "st_read",
)


STATEMENT_CLASSES = node_classes(
    "Query",
    "DDL",
    "DML",
    "Command",
    "Pragma",
    "Set",
    "Use",
    "Transaction",
    "Commit",
    "Rollback",
    "Describe",
    "Attach",
    "Detach",
    "Copy",
    "Install",
    "Kill",
    "Show",
    "Cache",
    "Uncache",
    "Summarize",
    "Export",
)


SUBQUERY_CLASSES = node_classes("Subquery", "Query", "Exists")


PARAMETER_CLASSES = node_classes("Placeholder", "Parameter", "SessionParameter")


CONDITION_HINT = "such as city_tier <= 2 AND gender = 'F'"


ALLOWED_SYNTAX = (
    "comparisons, AND/OR/NOT, IN (...), BETWEEN, LIKE/ILIKE, IS [NOT] NULL, CASE, CAST, "
    "INTERVAL and the functions " + ", ".join(sorted(ALLOWED_FUNCTIONS))
)


# Full-width forms of ASCII (U+FF01..U+FF5E), easy to type by accident with a Chinese IME.
FULLWIDTH = frozenset(chr(code) for code in range(0xFF01, 0xFF5F))
