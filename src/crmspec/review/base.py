"""The base of a review: the plan files of a git revision, read with git into a
temporary folder; never a checkout, so the working tree (and an editor open on it) is
left alone.

The default base is the merge base of HEAD and the default branch (what a pull request
is compared with): `origin/HEAD` when the clone knows it, else the first of
`origin/main`, `origin/master`, `main`, `master` that exists.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from crmspec.core.diagnostics import Diagnostic, PlanError
from crmspec.plan.project import PLAN_DIR

DEFAULT_BRANCHES = ("origin/main", "origin/master", "main", "master")
BLOB_MODES = (b"100644", b"100755")


@dataclass(frozen=True)
class Revision:
    """The base a review compares with: what was asked, and the commit it names."""

    asked: str | None  # --base as given; None: the merge base with the default branch
    commit: str
    label: str  # e.g. "main (3f2a1bc)", "merge base with origin/main (3f2a1bc)"

    @property
    def short(self) -> str:
        return self.commit[:7]


def _fail(message: str, hint: str | None = None) -> PlanError:
    return PlanError([Diagnostic(PLAN_DIR, 1, 1, "E801", message, hint)])


def git(root: Path, *args: str, stdin: bytes | None = None, check: bool = True
        ) -> subprocess.CompletedProcess:
    """Run git in the project (bytes in and out); a failure is E801 unless not `check`."""
    if shutil.which("git") is None:
        raise _fail("git is not installed: the base plan is read from the repository",
                    "install git, or review on a machine that has it")
    run = subprocess.run(["git", "-C", str(root), *args], input=stdin, capture_output=True)
    if check and run.returncode != 0:
        detail = run.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _fail(f"git {args[0]} failed: {detail[-1] if detail else run.returncode}")
    return run


def _verify(root: Path, rev: str) -> str | None:
    run = git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    return run.stdout.decode().strip() if run.returncode == 0 else None


def default_branch(root: Path) -> str:
    """The branch a pull request goes into, as this clone knows it."""
    run = git(root, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD",
              check=False)
    if run.returncode == 0 and run.stdout.strip():
        return run.stdout.decode().strip()
    for name in DEFAULT_BRANCHES:
        if _verify(root, name):
            return name
    raise _fail("cannot tell the default branch (no origin/HEAD, main or master)",
                "pass --base REV, e.g. --base origin/main")


def resolve_base(root: Path, rev: str | None) -> Revision:
    """The commit `rev` names, or the merge base of HEAD and the default branch."""
    if git(root, "rev-parse", "--is-inside-work-tree", check=False).returncode != 0:
        raise _fail(f"{root} is not in a git repository: there is no base to compare with",
                    "crmspec plan compares the working tree with a revision of its repository")
    if rev is not None:
        commit = _verify(root, rev)
        if commit is None:
            raise _fail(f"'{rev}' is not a commit of this repository",
                        "pass a branch, tag or commit; in CI fetch it first "
                        "(actions/checkout with fetch-depth: 0)")
        return Revision(rev, commit, f"{rev} ({commit[:7]})")
    branch = default_branch(root)
    run = git(root, "merge-base", "HEAD", branch, check=False)
    if run.returncode != 0:
        raise _fail(f"HEAD and {branch} have no merge base",
                    "fetch the whole history (actions/checkout with fetch-depth: 0) or pass "
                    "--base REV")
    commit = run.stdout.decode().strip()
    return Revision(None, commit, f"merge base with {branch} ({commit[:7]})")


def export_plans(root: Path, base: Revision, dest: Path) -> None:
    """Write the plan files of the base commit into dest/plans (git ls-tree, then one
    `git cat-file --batch` for every file: `git show REV:path` without a process per
    file). Raises E801 when the revision has no plans/ folder."""
    prefix = git(root, "rev-parse", "--show-prefix").stdout.decode().strip()
    folder = f"{prefix}{PLAN_DIR}"
    listing = git(root, "ls-tree", "-r", "-z", "--full-tree", base.commit, "--",
                  folder).stdout
    files: list[tuple[str, str]] = []  # (blob id, path below the project)
    for entry in filter(None, listing.split(b"\0")):
        meta, _, path = entry.partition(b"\t")
        mode, kind, blob = meta.split(b" ")
        if kind == b"blob" and mode in BLOB_MODES:  # symlinks and submodules: not plan files
            files.append((blob.decode(), path.decode("utf-8")[len(prefix):]))
    if not files:
        raise _fail(f"{base.label} has no {folder}/ folder: there is no plan to compare with",
                    "pass --base REV with a commit that has the plan")
    out = git(root, "cat-file", "--batch",
              stdin="".join(f"{blob}\n" for blob, _ in files).encode()).stdout
    at = 0
    for _, rel in files:
        header_end = out.index(b"\n", at)
        size = int(out[at:header_end].split(b" ")[2])
        body = out[header_end + 1: header_end + 1 + size]
        at = header_end + 1 + size + 1  # the content is followed by a newline
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)


def head_label(root: Path) -> str:
    """The working tree as the review names it: its commit and whether plans/ has
    uncommitted changes."""
    commit = _verify(root, "HEAD")
    dirty = git(root, "status", "--porcelain", "--", PLAN_DIR).stdout.strip()
    where = commit[:7] if commit else "no commit yet"
    return f"working tree ({where}{' + uncommitted changes' if dirty else ''})"
