"""A shop's data read by Spark itself: Parquet at a Hadoop-compatible URI (`s3a://`,
`hdfs://`, `abfss://`, `file:///`, ...) or tables of Spark's catalog by name
(`source: catalog`), for a shop whose data is too large for this machine or lives in a
cluster's storage.

The data package's own code attaches and checks them (`crmspec.data.sources.attach`,
`crmspec.data.cleaning.clean`: the column mapping, the checking pass, the data problems)
with `SparkSQL` in place of the DuckDB connection: it takes the same DuckDB SQL and runs
it on Spark, so the checks are not written twice. What it must rewrite because the
engines differ: `hash()` (DuckDB's 64-bit hash: `xxhash64` here; the fingerprint of
such a shop is Spark's, not comparable with a DuckDB build's), HUGEINT (DECIMAL(38, 0)),
QUALIFY (a subquery, keeping the select list), `?` parameters, DESCRIBE (Spark's schema
in DuckDB's type names).

The checked `customers`, `orders` and `events` are then written once as Parquet to the
scratch folder: Spark reads them from there for the plan's statements (`SparkRunner`,
given their names), and the build's DuckDB connection has them as views over the same
files, typed as a DuckDB build types them, for what runs there (the contact pass reads
the refunds, the order-based channels the orders, `kpi` the orders).
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from crmspec.core.diagnostics import Diagnostic, PlanError, Src
from crmspec.core.sql import sql_ident, sql_str
from crmspec.data.cleaning import DataProblem
from crmspec.data.settings import DataSource
from crmspec.data.sources import AttachedData, attach, canonical_columns
from crmspec.data.suppressions import attach_suppressions
from crmspec.data.tables import TABLES
from crmspec.engine.spark.dialect import READ, CrmSpark
from crmspec.plan.model import Shop

CANONICAL = ("customers", "orders", "events")


def read_by_spark(ds: DataSource) -> bool:
    """Whether only Spark can read the shop's data (`DataSource.spark_only`)."""
    return ds.spark_only


def where_read(ds: DataSource) -> Src:
    """The shop.yaml line that makes the data Spark's: `source: catalog`, else `path`."""
    return ds.src.at("source") if ds.source == "catalog" else ds.src.at("path")


def needs_spark(ds: DataSource) -> Diagnostic:
    """E410: the data only Spark reads, and the engine is DuckDB."""
    what = ("tables of Spark's catalog" if ds.source == "catalog"
            else f"Parquet at {ds.path}")
    return where_read(ds).diag(
        "E410", f"the data is {what}, which only Spark reads, and the engine is duckdb",
        "set engine: spark in shop.yaml (or build with --engine spark), or copy the data "
        "to a folder of the project")


def _literal(value: Any) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    if isinstance(value, datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    return exp.Literal.string(str(value))


_SPARK_TYPES = {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER",
                "smallint": "SMALLINT", "tinyint": "TINYINT", "double": "DOUBLE",
                "float": "FLOAT", "boolean": "BOOLEAN", "date": "DATE",
                "timestamp_ntz": "TIMESTAMP", "timestamp": "TIMESTAMP WITH TIME ZONE",
                "binary": "BLOB"}


def duckdb_type(spark_type: str) -> str:
    """A Spark column type (`simpleString`) by DuckDB's name, as DESCRIBE answers it."""
    if spark_type.startswith("decimal"):
        return spark_type.upper()
    return _SPARK_TYPES.get(spark_type, spark_type.upper())


class _Rows:
    def __init__(self, rows: list[tuple]):
        self._rows = rows

    def fetchone(self) -> tuple | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple]:
        return self._rows


class SparkSQL:
    """The part of a DuckDB connection the data package uses (`execute(sql, params)` and
    `fetchone`/`fetchall`), over a Spark session: each statement of DuckDB SQL rewritten
    where the engines differ (see the module docstring) and written as Spark SQL. The
    temp views it creates are listed in `views` (dropped by `SparkInputs.close`).

    Spark's rows come in no order a query can rely on: the checks do not prove ids
    distinct by their order here (`ordered_rows`), they group them."""

    ordered_rows = False

    def __init__(self, spark: Any):
        self.spark = spark
        self.views: list[str] = []

    def execute(self, sql: str, params: list | None = None) -> _Rows:
        text = sql.strip()
        if text[:9].upper() == "DESCRIBE ":
            schema = self.spark.sql(self.spark_sql(text[9:], params)).schema
            return _Rows([(f.name, duckdb_type(f.dataType.simpleString()), "YES")
                          for f in schema.fields])
        tree = sqlglot.parse_one(text, read=READ)
        if isinstance(tree, exp.Create):
            name = tree.this.find(exp.Table).name
            query = self._rewritten(tree.expression, params)
            self.spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS "
                           + query.sql(dialect=CrmSpark))
            if name not in self.views:
                self.views.append(name)
            return _Rows([])
        rows = self.spark.sql(self._rewritten(tree, params).sql(dialect=CrmSpark)).collect()
        return _Rows([tuple(r) for r in rows])

    def spark_sql(self, sql: str, params: list | None = None) -> str:
        return self._rewritten(sqlglot.parse_one(sql, read=READ), params).sql(
            dialect=CrmSpark)

    def _rewritten(self, tree: exp.Expression, params: list | None) -> exp.Expression:
        values = iter(params or [])
        aliases = {t.alias_or_name for t in tree.find_all(exp.Table)}

        def rewrite(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Placeholder):
                return _literal(next(values))
            if isinstance(node, exp.DataType) and node.is_type(exp.DataType.Type.INT128):
                return exp.DataType.build("DECIMAL(38, 0)")
            # DuckDB's hash (a change detector and the duplicates' pre-check): xxhash64;
            # hash(src) of a whole row: of every column of it
            if isinstance(node, exp.Anonymous) and node.name.upper() == "HASH":
                args = node.expressions
                if (len(args) == 1 and isinstance(args[0], exp.Column) and not args[0].table
                        and args[0].name in aliases):
                    args = [exp.Column(this=exp.Star(), table=exp.to_identifier(
                        args[0].name))]
                return exp.Anonymous(this="XXHASH64", expressions=[a.copy() for a in args])
            if isinstance(node, exp.Select) and node.args.get("qualify"):
                return _without_qualify(node)
            return node

        return tree.copy().transform(rewrite)


def _without_qualify(select: exp.Select) -> exp.Expression:
    """`SELECT ... QUALIFY cond` as `SELECT * EXCEPT (keep) FROM (SELECT ..., cond AS
    keep) WHERE keep`: sqlglot's own rewrite for Spark adds the window's column to the
    select list."""
    cond = select.args["qualify"].this.copy()
    inner = select.copy()
    inner.set("qualify", None)
    inner = inner.select(exp.alias_(cond, "_crm_keep"), copy=False)
    return (exp.select(exp.Star(except_=[exp.column("_crm_keep")]))
            .from_(inner.subquery("_crm_q")).where(exp.column("_crm_keep")))


@dataclass
class SparkInputs:
    """The checked tables on Spark and on the DuckDB connection (the module docstring);
    `given`: their Spark names, for the SparkRunner. `close()` drops the views and
    removes the Parquet."""

    spark: Any
    sql: SparkSQL
    folder: Path
    given: dict[str, str]

    def close(self) -> None:
        for view in self.sql.views + list(self.given.values()):
            self.spark.catalog.dropTempView(view)
        self.sql.views.clear()
        shutil.rmtree(self.folder, ignore_errors=True)


# How Spark says that a file's bytes are not readable Parquet (the footer at the schema's
# inference, a page when the rows are read); any other failure is Spark's to report.
_UNREADABLE = ("FAILED_READ_FILE", "CANNOT_READ_FILE_FOOTER", "is not a Parquet file")
_ERROR_CLASS = re.compile(r"\[(FAILED_READ_FILE[A-Z_.]*)\]")
_FILE = re.compile(r"(?:[a-z][a-z0-9+.-]*:)?/[^\s'\"]+\.parquet\b")


def _unreadable(ds: DataSource, exc: BaseException) -> PlanError | None:
    """E407 at shop.yaml's data path for a Spark read that failed on a file's bytes
    (empty, truncated or corrupt), naming the file and Spark's error class where Spark's
    message (a Java stack under py4j's "An error occurred while calling ...") has them;
    None for any other failure."""
    said = [line for line in str(exc).splitlines() if any(m in line for m in _UNREADABLE)]
    if not said:
        return None
    found = next((m for m in map(_FILE.search, said) if m), None)
    kind = next((m.group(1) for m in map(_ERROR_CLASS.search, said) if m),
                "not a Parquet file")
    return PlanError([where_read(ds).diag(
        "E407", f"Spark cannot read {found.group(0) if found else ds.path} as Parquet "
        f"({kind}): truncated or corrupt?",
        "export the file again (or copy it again: compare its size)")])


def _source_views(sql: SparkSQL, ds: DataSource) -> dict[str, str]:
    """Spark temp views `src_<table>` over the shop's tables (a catalog's by name, or
    Parquet at the URI), the tables that are not there left out; raises E402 for a
    required table (or one shop.yaml names) that is missing."""
    spark, found, errors = sql.spark, {}, []
    for table in TABLES:
        name = ds.tables.get(table)
        optional = table in ("customers", "events") and not name
        where = ds.src.at("tables", table) if name else where_read(ds)
        if ds.source == "catalog":
            full = name or f"{ds.path}.{table}"
            if "." not in full:
                full = f"{ds.path}.{full}"
            if not spark.catalog.tableExists(full):
                if not optional:
                    errors.append(where.diag(
                        "E402", f"table '{full}' ({table}) not found in Spark's catalog",
                        f"map it with data.tables.{table} (a catalog table: db.table)"))
                continue
            frame = spark.table(full)
        else:
            uri = f"{ds.path.rstrip('/')}/{name or table + '.parquet'}"
            try:
                frame = spark.read.parquet(uri)
            except Exception as exc:  # Spark's AnalysisException: PATH_NOT_FOUND
                if "PATH_NOT_FOUND" not in str(exc) and "does not exist" not in str(exc):
                    bad = _unreadable(ds, exc)
                    if bad is not None:
                        raise bad from None
                    raise
                if not optional:
                    errors.append(where.diag(
                        "E402", f"{table} data not found: {uri}",
                        f"put the {table} export there or set data.tables.{table} to its "
                        "file name"))
                continue
        view = f"src_{table}"
        frame.createOrReplaceTempView(view)
        sql.views.append(view)
        found[table] = view
    if errors:
        raise PlanError(errors)
    return found


def _suppressions(con: duckdb.DuckDBPyConnection, sql: SparkSQL, ds: DataSource,
                  folder: Path) -> None:
    """`suppressions` on `con` (`crmspec.data.suppressions`, which reads a local file):
    the Spark source's do-not-contact list (a catalog table, or suppressions.parquet at
    the URI; data.tables.suppressions names another), copied here as one Parquet file.
    The list is small: one row per customer who asked not to be contacted."""
    name = ds.tables.get("suppressions")
    spark, frame = sql.spark, None
    if ds.source == "catalog":
        full = name if name and "." in name else f"{ds.path}.{name or 'suppressions'}"
        if spark.catalog.tableExists(full):
            frame = spark.table(full)
    else:
        try:
            frame = spark.read.parquet(f"{ds.path.rstrip('/')}/{name or 'suppressions.parquet'}")
        except Exception as exc:
            if "PATH_NOT_FOUND" not in str(exc) and "does not exist" not in str(exc):
                raise
    local = replace(ds, source="parquet", path=str(folder),
                    tables={"suppressions": "suppressions.parquet"})
    if frame is not None:
        out = folder / "suppressions_list"
        frame.coalesce(1).write.mode("overwrite").parquet(out.as_uri())
        next(out.glob("*.parquet")).rename(folder / "suppressions.parquet")
    attach_suppressions(con, local, Path("/"))


def attach_on_spark(con: duckdb.DuckDBPyConnection, shop: Shop, spark: Any, as_of: date | None,
                    needs: dict[str, Src]) -> tuple[AttachedData, SparkInputs]:
    """The shop's data read and checked by Spark (the module docstring); the checked
    tables on Spark and as views on `con`."""
    ds = shop.data
    sql = SparkSQL(spark)
    base = (Path(shop.spark.scratch) if shop.spark and shop.spark.scratch
            else Path(tempfile.gettempdir()))
    folder = base / f"crmspec-inputs-{uuid.uuid4().hex[:12]}"
    atexit.register(shutil.rmtree, folder, True)  # a caller that never closes (the review)
    inputs = SparkInputs(spark, sql, folder, {})
    try:
        sources = _source_views(sql, ds)
        data = attach(sql, ds, Path("."), as_of, needs, relations=sources)
        ids = "BIGINT" if dict(
            (r[0], r[1]) for r in sql.execute("DESCRIBE SELECT * FROM customers").fetchall()
        ).get("customer_id") == "BIGINT" else "VARCHAR"
        for table in CANONICAL:
            path = folder / table
            spark.table(table).write.mode("overwrite").parquet(path.as_uri())
            view = f"crm_checked_{table}_{folder.name[-12:]}"
            spark.read.parquet(path.as_uri()).createOrReplaceTempView(view)
            inputs.given[table] = view
            files = f"read_parquet({sql_str(str(path / '*.parquet'))})"
            select = ", ".join(f"CAST({sql_ident(c.name)} AS {c.type}) AS {sql_ident(c.name)}"
                               for c in canonical_columns(table, ids))
            con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT {select} FROM {files}")
        _suppressions(con, sql, ds, folder)
    except BaseException as exc:
        inputs.close()
        unreadable = None if isinstance(exc, PlanError) else _unreadable(ds, exc)
        if unreadable is not None:
            raise unreadable from None
        raise
    return data, inputs


__all__ = ["DataProblem", "SparkInputs", "SparkSQL", "attach_on_spark", "needs_spark",
           "read_by_spark"]
