"""The DuckDB connection every command that reads a shop's data runs on: its memory
cap, no automatic checkpoints, no progress bars. A second engine starts here."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from pathlib import Path

import duckdb

# DuckDB's own default is 80% of the machine's memory, and a build holds on to what it
# took: about 4.5 GB for a 1M-customer shop with 10M orders. With a cap DuckDB spills to
# a temporary folder instead. At 1GB the example plan's 1M build peaked at 1,074 MiB
# (the process: DuckDB's buffers plus Python's), over issue 16's 1 GB; at 750MB it peaks
# at 856 MiB with the same CPU time (benchmarks/README.md, 2026-12-02).
# CRMSPEC_MEMORY_LIMIT overrides it ("4GB"; empty: DuckDB's default).
MEMORY_LIMIT = "750MB"


# A build's tables live for seconds. DuckDB checkpoints its in-memory (temporary)
# storage every 16 MiB of changes, and a checkpoint compresses every table changed since
# the last one, on one thread: at 1M customers that was 1-2 s of a build spent
# compressing tables about to be dropped. Without automatic checkpoints they stay as
# written; the ledger is checkpointed when the connection closes (and, were the build
# killed first, its write-ahead log is replayed on the next open).
NO_AUTO_CHECKPOINT = {"checkpoint_threshold": "1TB"}


SPILL_PREFIX = "crmspec-duckdb-"
_held: dict[str, int] = {}  # this process's spill folder -> the fd holding its lock


def spill_folder() -> str:
    """This process's spill folder, with `<folder>.lock` held (flock) while it lives, so
    that another command can tell a killed command's folder from a running one's."""
    spill = os.path.join(tempfile.gettempdir(), f"{SPILL_PREFIX}{os.getpid()}")
    if spill not in _held:
        remove_stale_spills()
        fd = os.open(spill + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        _held[spill] = fd
    return spill


def remove_stale_spills() -> None:
    """Remove the spill folders of killed commands (their lock is not held): DuckDB spills
    the build's tables there, send lists with addresses included."""
    for lock in Path(tempfile.gettempdir()).glob(f"{SPILL_PREFIX}*.lock"):
        try:
            fd = os.open(lock, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a running command's
        else:
            shutil.rmtree(str(lock)[:-len(".lock")], ignore_errors=True)
            lock.unlink(missing_ok=True)
        finally:
            os.close(fd)


def connect(capped: bool = True) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for a command that reads the shop's data, its memory capped
    (CRMSPEC_MEMORY_LIMIT) unless `capped` is false. `crmspec kpi` and `evaluate` are
    not capped: at 1M customers the KPIs took 27-29 s in 2.5 GB, 31-37 s capped."""
    limit = os.environ.get("CRMSPEC_MEMORY_LIMIT", MEMORY_LIMIT if capped else "")
    config = dict(NO_AUTO_CHECKPOINT)
    if limit:
        spill = spill_folder()
        config.update(memory_limit=limit, temp_directory=spill)
    con = duckdb.connect(config=config)
    # DuckDB would print its own progress bars into the build's output.
    con.execute("SET enable_progress_bar = false")
    return con
