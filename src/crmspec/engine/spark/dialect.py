"""crmspec's SQL on Spark: the DuckDB text the compiler emits, parsed by sqlglot and
written by a small subclass of sqlglot's Spark dialect where crmspec's meaning differs
between the engines (measured on DuckDB 2.0 vs PySpark 4.3 local).

Only constructs whose meaning was checked on both engines are let through
(`PORTABLE`): a statement using anything else is refused with its name
(`UnportableSQL`) instead of running with a different meaning. The differences handled:

- `dayofweek`: Sunday is 0 on DuckDB, 1 on Spark.
- `regexp_full_match` has no Spark name: RLIKE with the pattern anchored.
- `date_diff('day', a, b)`: DuckDB counts day boundaries crossed, Spark whole days
  elapsed between timestamps; both arguments are cast to DATE first, where they agree.
- `INTERVAL (n) DAY` of a column or expression: Spark's parser takes literals only;
  written as `(n) * INTERVAL '1' DAY`. A date or timestamp shifted by it is a wall-clock
  timestamp on DuckDB; on Spark a date plus an interval is a timestamp in the session's
  time zone, so the operand is cast to TIMESTAMP_NTZ first (a date: its midnight).
- `WITH x AS MATERIALIZED (...)`: DuckDB's hint to compute a CTE once; Spark has no
  such syntax (it plans the CTE as it sees fit): dropped, the meaning is the same.
- `CAST('0x' || digits AS BIGINT)` reads hexadecimal on DuckDB, fails on Spark: written
  as `CAST(CONV(digits, 16, 10) AS BIGINT)` (the control groups' md5 bucket).
- `hash()` differs between the engines; only `md5` (the control-group hash) is allowed.
- `arg_max(x, key)` becomes `MAX_BY(x, STRUCT(key, x))`, NULL where x or the key is
  (DuckDB skips those rows, MAX_BY only rows with a NULL key). Spark breaks ties on the
  key on another row than DuckDB (which takes any), so a tie takes the largest value on
  Spark; crmspec's keys are unique per group (the ledger's tier of a customer per run).
- `list(x ORDER BY y)` loses its order in `COLLECT_LIST`; `arg_min`, `quantile_cont`,
  epoch functions, unsigned casts and string slices have no equal on Spark: all outside
  `PORTABLE`, so a statement using them is refused.
- `QUALIFY`: sqlglot rewrites it into a subquery for Spark, moving an outer ORDER BY;
  also outside `PORTABLE` (the compiler filters window results in a CTE instead).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.dialects.spark import Spark

READ = "duckdb"  # the dialect the compiler writes (crmspec.compile.sql.DIALECT)


class UnportableSQL(ValueError):
    """A statement uses a construct whose meaning on Spark was not checked."""


def _date(e: exp.Expression) -> exp.Expression:
    if isinstance(e, exp.Cast) and e.to.is_type(exp.DataType.Type.DATE):
        return e
    return exp.cast(e, exp.DataType.build("DATE"))


def _anchored(pattern: exp.Expression) -> exp.Expression:
    if isinstance(pattern, exp.Literal) and pattern.is_string:
        return exp.Literal.string(f"^(?:{pattern.this})$")
    return exp.func("CONCAT", exp.Literal.string("^(?:"), pattern, exp.Literal.string(")$"))


def _arg_max_key(e: exp.ArgMax) -> exp.Expression:
    """DuckDB's arg_max skips rows whose value or key is NULL; Spark's MAX_BY only those
    whose key is: the key is NULL where either is, and a struct with the value after it
    (ties: the largest value)."""
    either_null = exp.or_(exp.Is(this=e.this.copy(), expression=exp.null()),
                          exp.Is(this=e.expression.copy(), expression=exp.null()))
    return exp.If(this=either_null, true=exp.null(),
                  false=exp.func("STRUCT", e.expression.copy(), e.this.copy()))


def _column_interval(e: exp.Expression) -> bool:
    return isinstance(e, exp.Interval) and not isinstance(e.this, exp.Literal)


def _interval(self, e: exp.Interval) -> str:
    """`INTERVAL (n) DAY` as `(n) * INTERVAL '1' DAY` where n is not a literal."""
    if not _column_interval(e):
        return Spark.Generator.interval_sql(self, e)
    one = exp.Interval(this=exp.Literal.string("1"), unit=e.args["unit"].copy())
    return self.sql(exp.Mul(this=exp.Paren(this=e.this.unnest().copy()), expression=one))


def _shifted(op: str):
    """`x + INTERVAL (n) DAY` (or -): x as a wall-clock timestamp, as on DuckDB."""
    def sql(self, e: exp.Binary) -> str:
        if not (_column_interval(e.this) or _column_interval(e.expression)):
            return self.binary(e, op)
        wall = exp.DataType.build("TIMESTAMP_NTZ", dialect="spark")
        e = e.copy()
        for side in ("this", "expression"):
            if not _column_interval(e.args[side]):
                e.set(side, exp.cast(e.args[side], wall))
        return self.binary(e, op)
    return sql


def _cte(self, e: exp.CTE) -> str:
    """A CTE without DuckDB's MATERIALIZED hint."""
    if e.args.get("materialized") is None:
        return Spark.Generator.cte_sql(self, e)
    e = e.copy()
    e.set("materialized", None)
    return Spark.Generator.cte_sql(self, e)


_INTEGERS = (exp.DataType.Type.INT, exp.DataType.Type.BIGINT, exp.DataType.Type.SMALLINT)


def _hex_digits(e: exp.Cast) -> exp.Expression | None:
    """The digits of `CAST('0x' || digits AS <integer>)`, else None."""
    inner = e.this.unnest()
    if (e.to.this in _INTEGERS and isinstance(inner, exp.DPipe)
            and isinstance(inner.this, exp.Literal) and inner.this.is_string
            and inner.this.this.lower() == "0x"):
        return inner.expression
    return None


class CrmSpark(Spark):
    """Spark SQL with crmspec's meanings (see the module docstring)."""

    class Generator(Spark.Generator):
        def cast_sql(self, expression: exp.Cast, safe_prefix: str | None = None) -> str:
            digits = _hex_digits(expression)
            if digits is None:
                return super().cast_sql(expression, safe_prefix)
            conv = exp.func("CONV", digits.copy(), exp.Literal.number(16),
                            exp.Literal.number(10))
            return super().cast_sql(exp.Cast(this=conv, to=expression.to.copy()), safe_prefix)

        TRANSFORMS = {
            **Spark.Generator.TRANSFORMS,
            # whole calendar days between the dates, as DuckDB counts day boundaries
            exp.DateDiff: lambda self, e: self.func(
                "DATEDIFF", _date(e.this), _date(e.expression)),
            # ties on the key: the largest value on Spark (DuckDB takes any row); the
            # compiler's keys are unique per group (a customer's tier per run)
            exp.ArgMax: lambda self, e: self.func("MAX_BY", e.this, _arg_max_key(e)),
            # Spark's INTERVAL takes literals only
            exp.Interval: _interval,
            exp.CTE: _cte,
            exp.Add: _shifted("+"),
            exp.Sub: _shifted("-"),
            # DuckDB counts Sunday as 0, Spark as 1
            exp.DayOfWeek: lambda self, e: f"(DAYOFWEEK({self.sql(e, 'this')}) - 1)",
            # DuckDB's regexp_full_match: RLIKE finds the pattern anywhere, so anchor it
            exp.RegexpFullMatch: lambda self, e: self.binary(
                exp.RegexpLike(this=e.this, expression=_anchored(e.expression)), "RLIKE"),
        }


# The sqlglot expression classes a statement may contain to run on Spark: each was
# checked to mean the same on both engines (tests/test_spark_dialect.py runs each one).
# Structure (queries, joins, names, literals, operators) and the functions below.
PORTABLE: frozenset[type[exp.Expression]] = frozenset({
    # statements and query structure
    exp.Create, exp.Properties, exp.TemporaryProperty, exp.Select, exp.From, exp.Join,
    exp.Where, exp.Group, exp.Having, exp.Order, exp.Ordered, exp.With, exp.CTE, exp.Subquery,
    exp.Union, exp.Table, exp.TableAlias, exp.Alias, exp.Column, exp.Identifier,
    exp.Star, exp.Paren, exp.Tuple, exp.Window, exp.WindowSpec, exp.Filter,
    exp.Distinct, exp.Values,
    # literals and types
    exp.Literal, exp.Boolean, exp.Null, exp.Cast, exp.TryCast, exp.DataType,
    exp.DataTypeParam, exp.Interval, exp.Var,
    # operators
    exp.And, exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
    exp.Is, exp.In, exp.Between, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg,
    exp.Case, exp.If, exp.DPipe, exp.Like, exp.ILike, exp.Exists,
    # functions
    exp.Coalesce, exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg, exp.Greatest,
    exp.Least, exp.Ceil, exp.Floor, exp.Round, exp.Abs, exp.CumeDist, exp.RowNumber,
    exp.LogicalOr, exp.LogicalAnd, exp.DateDiff, exp.Lower, exp.Upper, exp.Length,
    exp.Trim, exp.Concat, exp.RegexpLike, exp.RegexpFullMatch, exp.MD5, exp.Substring, exp.Extract,
    exp.Nullif, exp.Year, exp.Month, exp.Day, exp.DayOfWeek, exp.StrPosition,
    exp.StartsWith, exp.EndsWith, exp.Contains, exp.Left, exp.Right, exp.ArgMax,
})


# The types a cast may name: unsigned integers, HUGEINT, TIMESTAMPTZ, lists... are not
# Spark's, or not with DuckDB's meaning.
_T = exp.DataType.Type
PORTABLE_TYPES = frozenset({_T.TEXT, _T.VARCHAR, _T.CHAR, _T.INT, _T.BIGINT, _T.SMALLINT,
                            _T.DOUBLE, _T.FLOAT, _T.DECIMAL, _T.DATE, _T.TIMESTAMP,
                            _T.BOOLEAN})


def constructs(sql: str) -> set[type[exp.Expression]]:
    """The sqlglot expression classes of one statement of crmspec's SQL."""
    tree = sqlglot.parse_one(sql, read=READ)
    return {type(node) for node in tree.walk()}


def unportable(sql: str) -> list[str]:
    """The constructs of a statement outside `PORTABLE`, by name (sorted)."""
    out = set()
    for node in sqlglot.parse_one(sql, read=READ).walk():
        if type(node) not in PORTABLE:
            out.add(node.name.upper() if isinstance(node, exp.Anonymous) else
                    node.sql_name() if isinstance(node, exp.Func) else type(node).__name__)
        elif isinstance(node, exp.DataType) and node.this not in PORTABLE_TYPES:
            out.add(f"DataType {node.this.name}")
    return sorted(out)


def to_spark(sql: str) -> str:
    """One statement of crmspec's DuckDB SQL as Spark SQL; raises UnportableSQL."""
    bad = unportable(sql)
    if bad:
        raise UnportableSQL(f"not portable to Spark: {', '.join(bad)}")
    return sqlglot.transpile(sql, read=READ, write=CrmSpark, unsupported_level=
                             sqlglot.ErrorLevel.RAISE)[0]
