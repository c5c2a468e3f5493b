"""The checking pass's results cached by the identity of the shop's source files.

A shop builds every day from the same export until the next one arrives, and `crmspec
explain`, `kpi` and a re-run of the build read the data again: the checking pass
(`crmspec.data.cleaning`) scans every row of every table (at 1M customers, 10M orders
and 20M events about 5 s of a build) to find what it found the first time. Its scan
results are kept in `state/checks.json` next to the ledger, keyed by the scan's SQL
(which holds the column mapping and the as-of date) together with the identity of every
source file, so that a re-run on the same export does not pay twice.

A file's identity is what git trusts for its index: path, size, modification and
change times in nanoseconds and inode, plus a hash of the file's first and last 64 KiB
(a Parquet file's footer holds every row group's offsets and statistics). A file
modified shortly before it is read is "racy" as git calls it: its timestamps are
coarse (a kernel tick), so a second change within that tick would leave them as they
were. Results over a file younger than `RACY_SECONDS` are therefore never stored; the
next run on it, later, is. A file that changes while it is scanned (its identity read
before and after differs) is not stored either.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

RACY_SECONDS = 2.0
SAMPLE = 64 * 1024
KEEP = 32  # entries kept in the file: a few as-of dates of a few exports


def file_identity(path: Path) -> dict:
    """What a change of the file's content changes (see the module docstring)."""
    st = path.stat()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(SAMPLE))
        if st.st_size > 2 * SAMPLE:
            f.seek(-SAMPLE, os.SEEK_END)
        h.update(f.read(SAMPLE))
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "ctime_ns": st.st_ctime_ns, "inode": st.st_ino, "sample": h.hexdigest()}


class CheckCache:
    """Scan results of one attach: `get`/`put` by SQL text, `save` at the end.

    `files`: every file the canonical tables are read from; `settings`: how they are
    parsed (the CSV format: it is not part of the scan's SQL); `path`: the cache file,
    written only when `writable` (a review or an explanation writes nothing)."""

    def __init__(self, path: Path, files: list[Path], settings: str, writable: bool):
        self.path, self.writable, self.files = path, writable, sorted(set(files))
        self.identity = [file_identity(f) for f in self.files]
        self.settings = settings
        self.hits = 0
        self._new: dict[str, list] = {}
        try:
            self._entries = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(self._entries, dict):
                self._entries = {}
        except (OSError, ValueError):
            self._entries = {}

    def _key(self, sql: str) -> str:
        text = json.dumps([self.identity, self.settings, sql], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, sql: str) -> list | None:
        hit = self._entries.get(self._key(sql))
        row = hit.get("row") if isinstance(hit, dict) else None
        if isinstance(row, list):
            self.hits += 1
            return row
        return None

    def put(self, sql: str, row: list) -> None:
        self._new[self._key(sql)] = list(row)

    def save(self) -> None:
        """Store the new results unless a file is racy or changed since it was read;
        written atomically (a half-written cache must not be read as a result)."""
        if not self.writable or not self._new:
            return
        now = time.time_ns()
        try:
            current = [file_identity(f) for f in self.files]
        except OSError:
            return
        if current != self.identity or any(
                now - i["mtime_ns"] < RACY_SECONDS * 1e9 or now - i["ctime_ns"]
                < RACY_SECONDS * 1e9 for i in current):
            return
        entries = {k: v for k, v in self._entries.items() if isinstance(v, dict)}
        for key, row in self._new.items():
            entries[key] = {"row": row, "at": now}
        kept = dict(sorted(entries.items(), key=lambda kv: -int(kv[1].get("at", 0)))[:KEEP])
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(kept, sort_keys=True) + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            # Only a cache: a full disk or a read-only state/ costs the next run a scan, and
            # the build itself reports the disk where it writes what matters (E608).
            tmp.unlink(missing_ok=True)
