"""The Spark session of a build with `engine: spark`: Spark Connect when SPARK_REMOTE
(or shop.yaml `spark.remote`) names a server, else a classic session on the master of
CRMSPEC_SPARK_MASTER or `spark.master` (none: spark-submit's `--master`, or pyspark's
local[*] in a plain process), with `spark.conf` applied.

A session is started once per process and reused (getOrCreate): starting the JVM takes
seconds, and a notebook or a test run builds many times on one session.

Spark Connect needs the client's dependencies (`pip install 'crmspec[spark]'` has them:
pandas, pyarrow, grpcio, ...). An `sc://` address is opened with the Connect client's own
builder, which never looks at a classic session in the same process (a notebook may have
one); `local[...]` as the remote is pyspark's local Connect server, started in this
process (it needs Java like a classic session)."""

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


def _connect_builder(where) -> Any:
    """The Spark Connect client's session builder; E408 when its dependencies are not
    installed (pyspark alone has no Connect client)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            from pyspark.sql.connect.session import SparkSession
    except ImportError as exc:
        raise PlanError([where.diag(
            "E408", f"SPARK_REMOTE needs the Spark Connect client, which is not installed "
            f"({exc.name or exc})",
            "pip install 'crmspec[spark]' (it has the Connect client's dependencies)")]
        ) from None
    return SparkSession.builder


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
    server = bool(remote and remote.startswith("sc://"))  # else this process has the JVM
    builder = SparkSession.builder
    if server:
        builder = _connect_builder(where).remote(remote)
    elif remote:  # local[...]: pyspark starts a Connect server in this process
        _connect_builder(where)
        if not _java_found():
            raise PlanError([where.diag(
                "E408", f"SPARK_REMOTE={remote} starts a local Spark Connect server, which "
                "needs Java: no `java` on PATH and JAVA_HOME is not set",
                "install a Java 17+ runtime (Debian: apt-get install default-jre-headless), "
                "or give the sc:// address of a running server")])
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
    builder = builder.appName("crmspec").config("spark.sql.session.timeZone", shop.timezone)
    if not server:  # a server's own settings: a Connect session cannot set them
        # Spark's warnings (a window over all rows: the RFM scores) would bury the output
        builder = builder.config("spark.log.level", "ERROR").config(
            "spark.ui.showConsoleProgress", "false")
    for key, value in settings.conf.items():
        builder = builder.config(key, str(value).lower() if isinstance(value, bool)
                                 else str(value))
    target = (f"Spark Connect {remote}" if remote else
              f"master {os.environ.get('CRMSPEC_SPARK_MASTER') or settings.master or 'default'}")
    try:
        with warnings.catch_warnings():  # pyspark 4.x warns about pandas 3 (Connect)
            warnings.simplefilter("ignore", FutureWarning)
            joined = not remote and SparkSession.getActiveSession() is not None
            spark = builder.getOrCreate()
            # A session joined from getOrCreate keeps its own time zone otherwise. Also
            # the first call to a Connect server: an address nobody answers fails here
            # (after the client's retries, minutes), not in the middle of the build.
            spark.conf.set("spark.sql.session.timeZone", shop.timezone)
    except Exception as exc:  # the JVM or the server did not come up: say which
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PlanError([where.diag(
            "E408", f"Spark did not start ({target}): {first}",
            "check the master or SPARK_REMOTE, and that Java 17+ runs")]) from None
    if not remote and not joined:  # a classic session of crmspec's own
        _quiet_failed_tasks(spark)
    return spark


# The loggers that print a failed task's Java stack at ERROR level.
TASK_FAILURE_LOGGERS = ("org.apache.spark.executor.Executor",
                        "org.apache.spark.scheduler.TaskSetManager")


def _quiet_failed_tasks(spark) -> None:
    """Turn off the log lines of a failed task (its Java stack, then "aborting job").

    The failure reaches crmspec as an exception with the same cause, which it reports as
    a located diagnostic (a corrupt Parquet file: E407 at shop.yaml's data path); the 40
    lines of stack printed on stderr before it buried that line. An error crmspec does
    not translate still carries Spark's message and stack in its own report. Only for a
    classic session crmspec starts (its JVM in this process): a session it joins (a
    notebook's) and a Connect server keep their logging. Outside the start's `try`: a
    Spark whose logging cannot be set this way has started all the same, and keeps it."""
    try:
        jvm = spark.sparkContext._jvm
        off = jvm.org.apache.logging.log4j.Level.OFF
        for name in TASK_FAILURE_LOGGERS:
            jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(name, off)
    except Exception:  # noqa: BLE001 - another log4j (or none): its lines stay, nothing else
        return
