"""A build's statements run on Spark, their tables handed back to DuckDB.

`SparkRunner` is a `core.sql.Runner`: it takes whatever statements the compiler and the
contact plan emit (each a `CREATE TABLE|VIEW name AS query` in crmspec's DuckDB SQL: the
facts, features and candidates, then the contact plan's rule flags, limits, budgets and
decisions), and for each one

1. hands the tables its query reads that Spark does not have yet (the checked canonical
   tables, the ledger's history, the do-not-contact list, the contact rules, the costs of
   the messages rendered before the budgets) from the DuckDB connection to Spark as
   Parquet in the scratch folder: a snapshot, taken when a statement first reads the
   table (the build changes none of them after that; `decisions`, which the build then
   updates on DuckDB for the messages over a channel's limit, is read by no statement
   on Spark),
2. writes the query as Spark SQL (`dialect.to_spark`: refused when a construct is not in
   the portable set) and runs it there; a table is written to the scratch folder as
   Parquet and read back by Spark (materialised once, like DuckDB's temp table),
3. creates the same table on the DuckDB connection from that Parquet, each column cast
   to the type DuckDB gives the same query (`DESCRIBE`), so that the contact pass, the
   rendering and the writers that follow read exactly what a DuckDB build reads; a view
   is created on both.

Nothing is listed by name: a new statement of the compiler runs here as it is. `ran`
lists the tables and views created on Spark, in order (a build's log, and the tests'
proof of what ran where).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from crmspec.core.diagnostics import PlanError
from crmspec.core.sql import sql_ident, sql_str
from crmspec.engine.spark.dialect import READ, CrmSpark, UnportableSQL, unportable
from crmspec.engine.spark.session import spark_session
from crmspec.plan.model import Shop


class SparkRunner:
    """Runs a build's statements on the shop's Spark session (see the module
    docstring); `close()` removes what it handed over."""

    def __init__(self, shop: Shop, spark: Any = None, given: dict[str, str] | None = None):
        """`given`: tables Spark has already (name -> its Spark view): the data Spark
        read and checked itself (`crmspec.engine.spark.data`), not handed over."""
        self.shop = shop
        self.given = dict(given or {})
        self._spark = spark
        if shop.spark and shop.spark.scratch and "://" in shop.spark.scratch:
            raise PlanError([shop.src.at("spark", "scratch").diag(
                "E408", f"spark.scratch must be a folder of this machine (a local path or "
                f"a mount), not a URI: {shop.spark.scratch}",
                "mount the shared storage (NFS, /dbfs, a FUSE bucket) and give its path")])
        base = (shop.spark.scratch if shop.spark and shop.spark.scratch
                else tempfile.mkdtemp(prefix="crmspec-spark-"))
        self._own_base = not (shop.spark and shop.spark.scratch)
        self.scratch = f"{base.rstrip('/')}/run-{uuid.uuid4().hex[:12]}"
        self._views: list[str] = []  # Spark temp views this runner made
        self._sent: set[str] = set()  # tables Spark has (handed over or created)
        self.ran: list[str] = []  # the tables and views the statements created on Spark

    @property
    def spark(self) -> Any:
        """The session, started on first use: after the statements were found portable."""
        if self._spark is None:
            self._spark = spark_session(self.shop)
        return self._spark

    def __call__(self, con: duckdb.DuckDBPyConnection, statements: list[str]) -> None:
        trees = [self._checked(sql) for sql in statements]  # before a JVM is started
        for sql, tree in zip(statements, trees):
            self._run(con, sql, tree)

    def _checked(self, sql: str) -> exp.Create:
        tree = sqlglot.parse_one(sql, read=READ)
        if not isinstance(tree, exp.Create) or not isinstance(tree.expression, exp.Query):
            raise self._unportable("only CREATE TABLE|VIEW ... AS SELECT runs on Spark: "
                                   + " ".join(sql.split()[:3]))
        bad = unportable(tree.expression.sql(READ))
        if bad:
            raise self._unportable(f"{tree.this.find(exp.Table).name}: not portable to "
                                   f"Spark: {', '.join(bad)}")
        return tree

    def _run(self, con: duckdb.DuckDBPyConnection, sql: str, tree: exp.Create) -> None:
        name = tree.this.find(exp.Table).name
        query = tree.expression.copy()
        ctes = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
        for table in list(query.find_all(exp.Table)):
            if table.name in ctes and not table.db:
                continue
            local = self._hand_over(con, table)
            table.replace(exp.to_table(local).as_(table.alias_or_name)
                          if table.alias or table.db else exp.to_table(local))
        spark_sql = query.sql(dialect=CrmSpark, unsupported_level=sqlglot.ErrorLevel.RAISE)
        kind = (tree.args.get("kind") or "").upper()
        if kind == "VIEW":
            self.spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {spark_sql}")
            con.execute(sql)
        else:
            path = f"{self.scratch}/out/{name}"
            self.spark.sql(spark_sql).write.mode("overwrite").parquet(path)
            self.spark.read.parquet(path).createOrReplaceTempView(name)
            self._back(con, name, tree.expression.sql(READ), path)
        self._views.append(name)
        self._sent.add(name)
        self.ran.append(name)

    def _hand_over(self, con: duckdb.DuckDBPyConnection, table: exp.Table) -> str:
        """The Spark name of a table the statements read, copied there once."""
        parts = [p for p in (table.catalog, table.db, table.name) if p]
        local = "__".join(parts)
        if local in self.given:
            return self.given[local]
        if local in self._sent:
            return local
        path = f"{self.scratch}/in/{local}.parquet"
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        qualified = ".".join(sql_ident(p) for p in parts)
        con.execute(f"COPY (SELECT * FROM {qualified}) TO {sql_str(path)} (FORMAT parquet)")
        self.spark.read.parquet(path).createOrReplaceTempView(local)
        self._views.append(local)
        self._sent.add(local)
        return local

    def _back(self, con: duckdb.DuckDBPyConnection, name: str, query: str, path: str) -> None:
        """`name` on DuckDB from Spark's Parquet, typed as DuckDB types the query."""
        described = con.execute(f"DESCRIBE {query}").fetchall()
        files = f"read_parquet({sql_str(path + '/*.parquet')})"
        columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {files}").fetchall()]
        if len(columns) != len(described):
            raise self._unportable(f"{name}: Spark returned {len(columns)} columns, DuckDB "
                                   f"{len(described)}")
        select = ", ".join(f"CAST({sql_ident(got)} AS {typ}) AS {sql_ident(want)}"
                           for got, (want, typ, *_rest) in zip(columns, described))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {sql_ident(name)} AS SELECT {select} "
                    f"FROM {files}")

    def _unportable(self, message: str) -> PlanError:
        where = (self.shop.src.at("engine") if self.shop.src.at("engine").exists()
                 else self.shop.src)
        return PlanError([where.diag(
            "E409", message, "build with --engine duckdb, and report the construct: it "
            "needs a rule in crmspec.engine.spark.dialect")])

    def close(self) -> None:
        """Drop the Spark views this runner made and remove its scratch folder."""
        for view in self._views:
            self._spark.catalog.dropTempView(view)
        self._views.clear()
        target = Path(self.scratch if not self._own_base else Path(self.scratch).parent)
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)


__all__ = ["SparkRunner", "UnportableSQL"]
