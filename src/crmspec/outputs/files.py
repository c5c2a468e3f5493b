"""Output folders that appear whole or not at all, and JSON written the same way every
time.

Everything is written into a temporary sibling folder and swapped into place at the
end, so a build that crashes or is killed leaves the previous outputs untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def finish_swap(out_dir: Path) -> None:
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
    finish_swap(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    swap_into(tmp, out_dir)


def swap_into(tmp: Path, out_dir: Path) -> None:
    """Replace `out_dir` by the complete folder `tmp` (two renames; `finish_swap` finishes
    them when interrupted between), then remove the old folder and stale temporaries."""
    finish_swap(out_dir)
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
    for stale in out_dir.parent.glob(f".{out_dir.name}.old-*"):
        shutil.rmtree(stale, ignore_errors=True)


def write_text(path: Path, text: str) -> None:
    """`path` replaced by `text` (UTF-8, \\n line ends) at once: written beside it, then
    renamed over it, so a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
