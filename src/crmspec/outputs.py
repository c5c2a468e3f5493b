"""Write a build's outputs atomically and deterministically.

Everything is written into a temporary sibling folder and swapped into place at the
end, so a build that crashes or is killed leaves the previous outputs untouched. Files
hold no timestamps or run ids and rows are ordered by customer id: the same plan, data
and as-of date give the same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from crmspec.compile import ROW_ATTRIBUTES, CompiledPlan

SEND_COLUMNS = ("customer_id", "activity_id", "channel", "address", "segment") + ROW_ATTRIBUTES


def _recover(out_dir: Path) -> None:
    """Finish a swap that was interrupted between its two renames."""
    if out_dir.exists():
        return
    olds = sorted(out_dir.parent.glob(f".{out_dir.name}.old-*"))
    if olds:
        os.replace(olds[-1], out_dir)


@contextmanager
def atomic_dir(out_dir: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder that replaces `out_dir` only if the block succeeds."""
    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _recover(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out_dir.exists():
        # mkdtemp reserves a unique name; the empty folder is then replaced by out_dir.
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        old.rmdir()
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    for stale in out_dir.parent.glob(f".{out_dir.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def write_send_lists(con: duckdb.DuckDBPyConnection, compiled: CompiledPlan, folder: Path
                     ) -> dict[str, list[str]]:
    """One CSV per activity under <channel>/; returns activity id -> relative file paths."""
    files: dict[str, list[str]] = {}
    cols = ", ".join(f'"{c}"' for c in SEND_COLUMNS)
    for ca in compiled.activities:
        rel = f"{ca.channel.name}/{ca.activity.id}.csv"
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        aid = ca.activity.id.replace("'", "''")
        con.execute(
            f"COPY (SELECT {cols} FROM sends WHERE activity_id = '{aid}' AND status = 'send' "
            f"ORDER BY customer_id) TO {_quote(target)} (FORMAT csv, HEADER true)"
        )
        files[ca.activity.id] = [rel]
    return files


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
