"""The Spark session of a build with `engine: spark`: Spark Connect when SPARK_REMOTE
(or shop.yaml `spark.remote`) names a server, else a classic session on the master of
CRMSPEC_SPARK_MASTER or `spark.master` (none: spark-submit's `--master`, or pyspark's
local[*] in a plain process), with `spark.conf` applied.

A session is started once per process and reused (getOrCreate): starting the JVM takes
seconds, and a notebook or a test run builds many times on one session."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from crmspec.core.diagnostics import PlanError
from crmspec.plan.model import Shop, SparkSettings


def _where(shop: Shop):
    return shop.src.at("engine") if shop.src.at("engine").exists() else shop.src


def _java_found() -> bool:
    home = os.environ.get("JAVA_HOME")
    return bool(shutil.which("java") or (home and (Path(home) / "bin" / "java").exists()))


def spark_session(shop: Shop) -> Any:
    """The SparkSession for `shop` (see the module docstring); raises PlanError (E408)
    when pyspark is not installed, Java is missing for a classic session, or Spark does
    not start."""
    settings = shop.spark or SparkSettings()
    where = _where(shop)
    try:
        with warnings.catch_warnings():  # pyspark 4.x warns about pandas 3 on import
            warnings.simplefilter("ignore", FutureWarning)
            from pyspark.sql import SparkSession
    except ImportError:
        raise PlanError([where.diag(
            "E408", "engine: spark needs pyspark, which is not installed",
            "pip install 'crmspec[spark]' (or build with --engine duckdb)")]) from None
    remote = os.environ.get("SPARK_REMOTE") or settings.remote
    builder = SparkSession.builder
    if remote:
        builder = builder.remote(remote)
    else:
        if not _java_found():
            raise PlanError([where.diag(
                "E408", "engine: spark needs Java for a local or classic Spark session: no "
                "`java` on PATH and JAVA_HOME is not set",
                "install a Java 17+ runtime (Debian: apt-get install default-jre-headless), "
                "or set SPARK_REMOTE to a Spark Connect server")])
        master = os.environ.get("CRMSPEC_SPARK_MASTER") or settings.master
        if master:  # else spark-submit's --master, or pyspark's local[*]
            builder = builder.master(master)
        builder = builder.config("spark.ui.showConsoleProgress", "false")
    # Spark's warnings (a window over all rows: the RFM scores) would bury the build's output
    builder = builder.appName("crmspec").config("spark.sql.session.timeZone", shop.timezone
                                                ).config("spark.log.level", "ERROR")
    for key, value in settings.conf.items():
        builder = builder.config(key, str(value).lower() if isinstance(value, bool)
                                 else str(value))
    target = (f"Spark Connect {remote}" if remote else
              f"master {os.environ.get('CRMSPEC_SPARK_MASTER') or settings.master or 'default'}")
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # the JVM or the server did not come up: say which
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PlanError([where.diag(
            "E408", f"Spark did not start ({target}): {first}",
            "check the master or SPARK_REMOTE, and that Java 17+ runs")]) from None
    # a session joined from getOrCreate keeps its own time zone otherwise
    spark.conf.set("spark.sql.session.timeZone", shop.timezone)
    return spark
