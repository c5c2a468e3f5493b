"""The evolution chart (进化图): every revision of an activity, read from git history.

A revision is a commit that changed the activity's entry in activities.yaml, its
segment's entry in segments.yaml, one of its template files or its SOP. What changed is
found field by field: both versions of each changed file are parsed (the plan loader,
`crmspec.plan.load.load_text`), the activity's part is taken out of each, and the two
are compared as flat `field: value` maps (`coupon.amount: 20 -> 30`,
`segment.where.purchases: {min: 2} -> ...`). A template is compared as a whole text.

History is only read, never changed: `git log` lists the commits (no merges: a merge
repeats changes its branch's commits already show) with every changed file's blob
before and after, and one `git cat-file --batch` process reads the blobs. A folder that
is not in a git repository, or a machine without git, has no history (`History.empty`).
Authors are shown by name only; their email addresses never reach the site.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from crmspec.core.diagnostics import PlanError
from crmspec.plan.load import load_text

PLAN_PATHS = ("plans/activities.yaml", "plans/segments.yaml", "plans/templates", "plans/sop")
SEP, REC = "\x1f", "\x1e"
NULL_BLOB = "0" * 40


@dataclass(frozen=True)
class Change:
    field: str  # activity.coupon.amount, segment.where.purchases, template sms, sop.portrait...
    old: str | None  # None: added
    new: str | None  # None: removed


@dataclass
class Revision:
    commit: str
    date: datetime  # the author date
    author: str  # the author's name (never the email)
    message: str  # the subject line
    changes: list[Change] = field(default_factory=list)


@dataclass
class Commit:
    sha: str
    date: datetime
    author: str
    message: str
    files: list[tuple[str, str, str]]  # (path relative to the project, old blob, new blob)


class History:
    """The commits of a project's plan files and a reader of their blobs."""

    def __init__(self, root: Path, commits: list[Commit], git: str | None):
        self.root, self.commits, self._git = root, commits, git
        self._blobs: dict[str, str | None] = {}
        self._parsed: dict[tuple[str, str], Any] = {}

    @classmethod
    def empty(cls, root: Path) -> "History":
        return cls(root, [], None)

    @classmethod
    def read(cls, root: Path) -> "History":
        """The history of `root`'s plan files; empty outside a git repository."""
        git = shutil.which("git")
        if git is None:
            return cls.empty(root)
        inside = subprocess.run([git, "-C", str(root), "rev-parse", "--is-inside-work-tree"],
                                capture_output=True, text=True)
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return cls.empty(root)
        has_head = subprocess.run([git, "-C", str(root), "rev-parse", "--verify", "-q", "HEAD"],
                                  capture_output=True, text=True)
        if has_head.returncode != 0:
            return cls.empty(root)  # a repository without a commit yet
        out = _run(git, root, ["log", "--reverse", "--no-merges", "--raw", "--no-renames",
                               "--no-abbrev", "--relative", "-z",
                               f"--format={REC}%H{SEP}%aI{SEP}%an{SEP}%s", "--", *PLAN_PATHS])
        return cls(root, _parse_log(out), git)

    def blob(self, sha: str) -> str | None:
        """A blob's text (None for the null blob of an added or deleted file)."""
        if sha == NULL_BLOB:
            return None
        if sha not in self._blobs:
            self._read_blobs([sha])
        return self._blobs[sha]

    def prefetch(self) -> None:
        """Read every blob of every commit in one `git cat-file --batch` call."""
        wanted = {b for c in self.commits for _, old, new in c.files for b in (old, new)}
        self._read_blobs(sorted(b for b in wanted if b != NULL_BLOB and b not in self._blobs))

    def _read_blobs(self, shas: list[str]) -> None:
        if not shas or self._git is None:
            return
        done = subprocess.run([self._git, "-C", str(self.root), "cat-file", "--batch"],
                              input=("\n".join(shas) + "\n").encode(), capture_output=True)
        if done.returncode != 0:
            raise _git_error(done.stderr.decode("utf-8", "replace"))
        data, pos = done.stdout, 0
        for sha in shas:
            end = data.index(b"\n", pos)
            header = data[pos:end].decode().split()
            pos = end + 1
            if len(header) < 3 or header[1] == "missing":
                self._blobs[sha] = None
                continue
            size = int(header[2])
            self._blobs[sha] = data[pos:pos + size].decode("utf-8", "replace")
            pos += size + 1

    def parsed(self, path: str, sha: str) -> Any:
        """A YAML blob's data (None when absent or unreadable: such a version is skipped)."""
        key = (path, sha)
        if key not in self._parsed:
            text = self.blob(sha)
            try:
                self._parsed[key] = None if text is None else load_text(text, path).data
            except PlanError:
                self._parsed[key] = None
        return self._parsed[key]


def _run(git: str, root: Path, args: list[str]) -> str:
    done = subprocess.run([git, "-C", str(root), *args], capture_output=True)
    if done.returncode != 0:
        raise _git_error(done.stderr.decode("utf-8", "replace"))
    return done.stdout.decode("utf-8", "replace")


def _git_error(stderr: str) -> PlanError:
    from crmspec.core.diagnostics import Diagnostic

    line = (stderr.strip().splitlines() or ["git failed"])[0]
    return PlanError([Diagnostic(".git", 1, 1, "E704", f"reading the git history failed: {line}",
                                 "check the repository with `git log`; crmspec only reads it")])


def _parse_log(out: str) -> list[Commit]:
    """`git log -z --raw` records: a header, then `:mode mode old new status\\0path\\0`."""
    commits = []
    for record in out.split(REC)[1:]:
        head, _, raw = record.partition("\n")
        sha, when, author, message = head.rstrip("\0").split(SEP, 3)
        fields = [f for f in raw.strip("\n\0").split("\0") if f != ""]
        files = []
        for meta, path in zip(fields[0::2], fields[1::2]):
            parts = meta.lstrip("\n:").split()
            if len(parts) >= 5:
                files.append((path, parts[2], parts[3]))
        commits.append(Commit(sha, datetime.fromisoformat(when), author, message, files))
    return commits


def flatten(value: Any, prefix: str) -> dict[str, str]:
    """Nested YAML data as `dotted.path: value` (lists of scalars kept whole)."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i + 1}]"))
        return out
    return {prefix: _show(value)}


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def compare(old: Any, new: Any, prefix: str) -> list[Change]:
    """Field-level changes between two versions of a part of the plan."""
    a = flatten(old, prefix) if old is not None else {}
    b = flatten(new, prefix) if new is not None else {}
    return [Change(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _entry(data: Any, key: str, ident: str) -> Any:
    """The item with id `ident` of the list `key` of a plan document."""
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        return None
    return next((x for x in data[key] if isinstance(x, dict) and x.get("id") == ident), None)


@dataclass(frozen=True)
class Subject:
    """What belongs to one activity in the plan's files."""

    activity: str
    segment: str
    template: str | None
    channel: str


def template_part(path: str, subject: Subject) -> str | None:
    """The part name of a template file of the subject (`text` for a one-part one)."""
    name = PurePosixPath(path).name
    if not path.startswith("plans/templates/") or subject.template is None \
            or not name.endswith(".j2"):
        return None
    bits = name[:-3].split(".")
    if len(bits) < 2 or bits[0] != subject.template or bits[1] != subject.channel:
        return None
    return ".".join(bits[2:]) or subject.channel


def revisions(history: History, subject: Subject) -> list[Revision]:
    """Every commit that changed the subject, oldest first, with its field changes."""
    out = []
    for c in history.commits:
        changes: list[Change] = []
        for path, old, new in c.files:
            if path == "plans/activities.yaml":
                changes += compare(_entry(history.parsed(path, old), "activities",
                                          subject.activity),
                                   _entry(history.parsed(path, new), "activities",
                                          subject.activity), "activity")
            elif path == "plans/segments.yaml":
                changes += compare(_entry(history.parsed(path, old), "segments", subject.segment),
                                   _entry(history.parsed(path, new), "segments", subject.segment),
                                   f"segment {subject.segment}")
            elif path.startswith("plans/sop/"):
                before, after = history.parsed(path, old), history.parsed(path, new)
                if subject.activity in (_sop_of(before), _sop_of(after)):
                    changes += compare(before if _sop_of(before) == subject.activity else None,
                                       after if _sop_of(after) == subject.activity else None,
                                       "sop")
            else:
                part = template_part(path, subject)
                if part is not None:
                    a, b = history.blob(old), history.blob(new)
                    if a != b:
                        changes.append(Change(f"template {part}", a, b))
        if changes:
            out.append(Revision(c.sha, c.date, c.author, c.message, changes))
    return out


def _sop_of(data: Any) -> str | None:
    return data.get("activity") if isinstance(data, dict) else None
