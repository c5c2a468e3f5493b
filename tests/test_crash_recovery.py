"""Builds killed, run at once, or out of disk (issue 17, failures 8 and 9).

The kill test runs the real CLI in a subprocess that SIGKILLs itself at a chosen point
of the build (the Nth call of a function the build calls: deterministic, no timing),
then starts the next build and checks that out/, its manifest and the ledger agree and
that no temporary folder (full send lists with real addresses) is left.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

import crmspec

TINY = Path(__file__).parent / "fixtures" / "tiny"
SRC = str(Path(crmspec.__file__).resolve().parents[1])

# A wrapper around the CLI that kills the process at a point of the build:
# (module, name, which call, "before" or "after" it).
KILLER = textwrap.dedent("""
    import importlib, os, signal, sys
    module, name, nth, when = sys.argv[1:5]
    mod = importlib.import_module(module)
    real = getattr(mod, name)
    calls = [0]
    def wrapped(*args, **kwargs):
        calls[0] += 1
        if calls[0] == int(nth) and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(*args, **kwargs)
        if calls[0] == int(nth) and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    if module == "os":
        import crmspec.outputs.files as files
        class Os:
            def __getattr__(self, attr):
                return wrapped if attr == name else getattr(os, attr)
        files.os = Os()
    else:
        setattr(mod, name, wrapped)
    from crmspec.cli import main
    sys.argv = ["crmspec", *sys.argv[5:]]
    main()
""")


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": SRC, "NO_COLOR": "1"}


def crmspec_cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crmspec", *args, "--project", str(project)],
                          capture_output=True, text=True, env=_env(), timeout=300)


def killed(project: Path, point: tuple[str, str, int, str], *args: str) -> int:
    module, name, nth, when = point
    proc = subprocess.run([sys.executable, "-c", KILLER, module, name, str(nth), when, *args,
                           "--project", str(project)], capture_output=True, text=True,
                          env=_env(), timeout=300)
    return proc.returncode


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(TINY, root)
    first = crmspec_cli(root, "build", "--as-of", "2026-02-20")
    assert first.returncode == 0, first.stderr
    return root


def _state(root: Path) -> dict:
    """What out/, its manifest and the ledger say (and what is left beside out/)."""
    manifest = json.loads((root / "out" / "manifest.json").read_text(encoding="utf-8"))
    con = duckdb.connect(str(root / "state" / "ledger.duckdb"), read_only=True)
    try:
        latest, plan_hash, contacts, controls = con.execute(
            "SELECT as_of, plan_hash, contacts, controls FROM runs ORDER BY as_of DESC LIMIT 1"
        ).fetchone()
        pending = con.execute("SELECT count(*) FROM pending").fetchone()[0]
        recorded = dict(con.execute(
            "SELECT activity_id, count(*) FROM contacts WHERE as_of = ? GROUP BY 1",
            [latest]).fetchall())
    finally:
        con.close()
    return {
        "manifest_as_of": manifest["as_of"], "ledger_as_of": latest.isoformat(),
        "plan_hash_agrees": manifest["plan_hash"] == plan_hash,
        "sent_agrees": sum(a["sent"] for a in manifest["activities"]) == contacts
        and sum(a["control"] for a in manifest["activities"]) == controls
        and {a["id"]: a["sent"] + a["control"] for a in manifest["activities"]
             if a["sent"] + a["control"]} == recorded,
        "pending": pending,
        "left_beside_out": sorted(p.name for p in root.iterdir() if p.name.startswith(".out")),
    }


# (where the build is killed, the run out/ and the ledger hold after the next start,
# whether that start finishes the swap)
POINTS = [
    (("crmspec.build", "write_activity", 2, "after"), "2026-02-20", False),  # writing files
    (("crmspec.build", "write_json", 1, "after"), "2026-02-20", False),  # manifest written
    (("crmspec.build", "record_run", 1, "before"), "2026-02-20", False),  # before the commit
    (("crmspec.build", "record_run", 1, "after"), "2026-03-01", True),  # committed, no swap
    (("os", "replace", 1, "after"), "2026-03-01", True),  # between the two renames
    (("os", "replace", 2, "after"), "2026-03-01", False),  # swapped, old folder not gone
    (("crmspec.build", "finish_run", 1, "before"), "2026-03-01", False),  # swapped, pending
]


@pytest.mark.parametrize("point,expected,finished", POINTS,
                         ids=[f"{p[1]}-{p[2]}-{p[3]}" for p, _, _ in POINTS])
def test_killed_build_is_finished_or_undone_by_the_next(project: Path, point, expected,
                                                        finished) -> None:
    assert killed(project, point, "build", "--as-of", "2026-03-01") == -9
    # The next start: a build refused at once (dated before the ledger's latest run)
    # still recovers first, and changes nothing else.
    nxt = crmspec_cli(project, "build", "--as-of", "2026-01-01")
    assert nxt.returncode == 1 and "E601" in nxt.stderr and "Traceback" not in nxt.stderr
    assert _state(project) == {
        "manifest_as_of": expected, "ledger_as_of": expected, "plan_hash_agrees": True,
        "sent_agrees": True, "pending": 0, "left_beside_out": []}
    assert ("finished the build of 2026-03-01 that was interrupted" in nxt.stderr) == finished


def test_pending_run_without_its_folder_is_reported(project: Path) -> None:
    assert killed(project, ("crmspec.build", "record_run", 1, "after"),
                  "build", "--as-of", "2026-03-01") == -9
    for tmp in project.glob(".out.tmp-*"):
        shutil.rmtree(tmp)  # someone deleted the folder the run was to be swapped from
    nxt = crmspec_cli(project, "build", "--as-of", "2026-01-01")
    assert ("the ledger records a run as of 2026-03-01 whose files never reached "
            f"{(project / 'out').resolve()}") in nxt.stderr
    assert "crmspec build --as-of 2026-03-01 --force" in nxt.stderr
    assert _state(project)["pending"] == 0


def test_second_build_says_which_build_is_running(project: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path\n"
         "from crmspec.outputs.runstate import build_lock\n"
         f"with build_lock(Path({str(project / 'state/ledger.duckdb')!r})):\n"
         "    print('locked', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert holder.stdout.readline().strip() == "locked"
        second = crmspec_cli(project, "build", "--as-of", "2026-03-01")
    finally:
        holder.communicate("")
    assert second.returncode == 1
    line = second.stderr.strip().splitlines()[-3]
    assert line.startswith(f"{project / 'state' / 'ledger.duckdb'}:1:1: error[E607]: another "
                           f"build is running (pid {holder.pid}, started at ")
    assert line.endswith("): the ledger cannot be opened")
    assert _state(project)["ledger_as_of"] == "2026-02-20"  # nothing recorded


def test_ledger_open_elsewhere_is_named_not_an_internal_error(project: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys\n"
         f"con = duckdb.connect({str(project / 'state/ledger.duckdb')!r})\n"
         "print('open', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert holder.stdout.readline().strip() == "open"
        dry = crmspec_cli(project, "build", "--dry-run")
        explain = crmspec_cli(project, "explain", "c01")
    finally:
        holder.communicate("")
    for proc in (dry, explain):
        assert proc.returncode == 1, proc.stderr
        assert "error[E607]: another process has the contact ledger open" in proc.stderr
        assert "internal error" not in proc.stderr


def test_lock_of_a_finished_build_is_not_held(project: Path) -> None:
    # the lock file stays after a build; the next build takes it (flock, not the file)
    assert (project / "state" / "ledger.duckdb.lock").exists()
    assert crmspec_cli(project, "build", "--as-of", "2026-03-01").returncode == 0


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0,
                    reason="needs a small tmpfs (root on Linux)")
def test_disk_full_says_so_and_changes_nothing(project: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    if not _mount_tmpfs(full, "64k"):
        pytest.skip("cannot mount a tmpfs here")
    try:
        (full / "filler").write_bytes(b"\0" * 60_000)
        before = (project / "out" / "manifest.json").read_bytes()
        proc = crmspec_cli(project, "build", "--as-of", "2026-03-01", "--out", str(full / "out"))
        assert proc.returncode == 1, proc.stderr
        assert (f"{full / 'out'}:1:1: error[E608]: the disk is full (") in proc.stderr
        assert "nothing was changed, out/ and the contact ledger are as they were" in proc.stderr
        assert "plugin" not in proc.stderr and "Traceback" not in proc.stderr
        assert sorted(p.name for p in full.iterdir()) == ["filler"]
        assert (project / "out" / "manifest.json").read_bytes() == before
        assert _state(project)["ledger_as_of"] == "2026-02-20"
    finally:
        subprocess.run(["umount", str(full)], check=False)


@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0,
                    reason="needs a small tmpfs (root on Linux)")
def test_ledger_commit_on_a_full_disk_is_not_hidden_by_the_rollback(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    shutil.copytree(TINY, root)
    if not _mount_tmpfs(root / "state", "2m"):
        pytest.skip("cannot mount a tmpfs here")
    try:
        assert crmspec_cli(root, "build", "--as-of", "2026-02-20").returncode == 0
        free = shutil.disk_usage(root / "state").free
        (root / "state" / "filler").write_bytes(b"\0" * (free - 4096))
        proc = crmspec_cli(root, "build", "--as-of", "2026-03-01")
        assert proc.returncode == 1, proc.stderr
        assert "state/ledger.duckdb:1:1: error[E608]: the disk is full (" in proc.stderr
        assert "No space left on device" in proc.stderr
        assert "cannot rollback" not in proc.stderr
        (root / "state" / "filler").unlink()
        assert _state(root)["ledger_as_of"] == "2026-02-20"
        assert _state(root)["manifest_as_of"] == "2026-02-20"
        assert _state(root)["left_beside_out"] == []
    finally:
        subprocess.run(["umount", str(root / "state")], check=False)


def test_spill_folder_of_a_killed_command_is_removed(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    from crmspec.engine import connection

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(connection, "_held", {})  # as in a new process
    stale = tmp_path / "crmspec-duckdb-999999"
    stale.mkdir()
    (stale / "spilled.block").write_bytes(b"13800000001")
    (tmp_path / "crmspec-duckdb-999999.lock").touch()  # nobody holds it: killed
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys\n"
         f"fd = os.open({str(tmp_path / 'crmspec-duckdb-999998.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    running = tmp_path / "crmspec-duckdb-999998"
    running.mkdir()
    try:
        assert holder.stdout.readline().strip() == "held"
        connection.connect().close()
    finally:
        holder.communicate("")
    assert not stale.exists() and not (tmp_path / "crmspec-duckdb-999999.lock").exists()
    assert running.is_dir()
