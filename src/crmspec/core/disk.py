"""A full disk (or quota) told apart from a bug: writing the outputs or committing the
ledger can fail because the machine ran out of space, which the user fixes, not the
plugin or crmspec the exception would otherwise point at."""

from __future__ import annotations

import errno

from crmspec.core.diagnostics import Diagnostic

_MESSAGES = ("no space left on device", "disk quota exceeded", "file too large")


def is_disk_full(exc: BaseException) -> bool:
    """The exception (an OSError, or DuckDB's IO error text) says the disk is full."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return True
    text = str(exc).lower()
    return any(m in text for m in _MESSAGES)


def disk_full(where: str, exc: BaseException) -> Diagnostic:
    """E608 at `where` (the output folder or the ledger being written): nothing of the
    build was kept."""
    first = (str(exc).splitlines() or [type(exc).__name__])[0]
    return Diagnostic(where, 1, 1, "E608",
                      f"the disk is full ({first[:200]}): nothing was changed, out/ and "
                      "the contact ledger are as they were",
                      "free some space on that disk and build again")
