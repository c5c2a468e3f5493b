"""One build at a time, and a build killed between recording its run and swapping its
output folder finished (or reported) by the next one.

The build lock is `<ledger>.lock` beside the ledger, held with `flock` by a build that
records (from the moment its session holds the ledger, DuckDB's own file lock, to its
end) and holding "pid N, started at T", so that a second build, or any command that
finds the ledger locked (crmspec.contact.ledger.attach_ledger), can say which build it
waits for (E607). The kernel drops the lock when the process dies, so a killed build
never leaves a stale lock behind: the file may stay, the lock does not.

The commit protocol (crmspec.contact.ledger.record_run, crmspec.build): the output
folder is written completely into a temporary sibling, then one ledger transaction
records the run *and* the pending swap (out/ and that folder), then the folder is
swapped in, then the pending row is cleared. `recover` runs at the start of every
recording build, under the lock (a dry run changes nothing, so it leaves it be): a
pending row whose temporary folder is there is rolled forward (the swap finished); one
whose folder is gone while out/ holds its manifest just cleared; one whose folder is
gone otherwise reported. Temporary folders no run points at (a build
killed before its commit: full send lists with real addresses) are removed.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

import duckdb

from crmspec.contact.ledger import finish_run, ledger_busy, lock_path
from crmspec.core.diagnostics import PlanError
from crmspec.outputs.files import finish_swap, swap_into


@contextmanager
def build_lock(ledger: Path) -> Iterator[None]:
    """Hold the build lock of `ledger` for the block; E607 when another build holds it."""
    path = lock_path(ledger)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PlanError([ledger_busy(ledger)]) from None
        started = datetime.now().astimezone().isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        try:
            os.pwrite(fd, f"pid {os.getpid()}, started at {started}\n".encode(), 0)
        except OSError:
            pass  # a full disk: the lock holds without its note; the build reports the disk
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


def recover(con: duckdb.DuckDBPyConnection, out_dir: Path) -> list[str]:
    """Finish or report a run left pending by a killed build (the ledger attached
    writable on `con`), then remove the temporary output folders of killed builds beside
    `out_dir` and beside the pending run's folder. Returns notes for the user."""
    notes: list[str] = []
    folders = {out_dir.resolve()}
    for as_of, out, tmp in con.execute(
            "SELECT as_of, out_dir, tmp_dir FROM ledger.pending ORDER BY as_of").fetchall():
        target, temporary = Path(out), Path(tmp)
        folders.add(target)
        if temporary.is_dir() and (temporary / "manifest.json").is_file():
            swap_into(temporary, target)
            notes.append(f"finished the build of {as_of.isoformat()} that was interrupted: "
                         f"its files are now in {target}")
        elif not _holds_run(target, as_of):
            notes.append(
                f"the ledger records a run as of {as_of.isoformat()} whose files never "
                f"reached {target} (its temporary folder is gone): run `crmspec build "
                f"--as-of {as_of.isoformat()} --force` to write them again")
    finish_run(con)
    for folder in sorted(folders):
        finish_swap(folder)
        for pattern in (f".{folder.name}.tmp-*", f".{folder.name}.old-*"):
            for stale in folder.parent.glob(pattern):
                shutil.rmtree(stale, ignore_errors=True)
    return notes


def _holds_run(folder: Path, as_of) -> bool:
    """out/ holds the manifest of the run as of `as_of` (the swap finished)."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return manifest.get("as_of") == as_of.isoformat()
