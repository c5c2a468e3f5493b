"""Acceptance ("golden file") tests: example projects run through the real CLI.

Each folder under tests/golden/ is one case:

  plans/     the plan (most cases: tests/fixtures/tiny/plans with one thing broken)
  data/      the shop's data, for `build` cases
  cmd        the CLI arguments, e.g. `validate --format json` or `build --dry-run`;
             the runner adds `--project <the case folder>`, unless the arguments name
             it themselves as `<case>` (e.g. `import taobao <case>/data/x.csv --into <case>`)
  plugins/   local plugins of the shop, for plugin cases
  env        optional: KEY=VALUE lines set in the environment (e.g. CRMSPEC_PLUGINS)
  before     optional: CLI commands (one per line) run first, their output ignored, e.g.
             a build that records a ledger run for a later command to read
  site/, mkdocs.yml  optional: the SOP site's sources, for `site` cases
  base/      optional: the case is a git repository whose one commit holds base/plans as
             plans/, with the case's plans/ in the working tree (for `plan` cases)
  expected   `exit: N` on the first line, then what the command printed: stdout, then
             stderr, with the case folder's absolute path written as `<case>` and
             trailing blanks of each line removed

After an intended change of the output, regenerate with

    CRMSPEC_UPDATE_GOLDEN=1 pytest tests/test_golden.py

and READ every changed expected file (git diff tests/golden) before committing: the
file, line, column, code and message must be the right ones, not merely what the code
prints today. That review is the point of these tests.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import commit_all

from crmspec.cli import main
from crmspec.core.diagnostics import CODES

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "cmd").is_file())
UPDATE = os.environ.get("CRMSPEC_UPDATE_GOLDEN") == "1"

# The same output on every machine: no colours, a fixed width for rich, whatever the
# terminal pytest runs in.
ENV = {
    "COLUMNS": "200",
    "LINES": "50",
    "NO_COLOR": "1",
    "FORCE_COLOR": None,
    "TTY_COMPATIBLE": None,
    "TTY_INTERACTIVE": None,
}


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # click < 8.2 mixes the streams by default
    except TypeError:
        return CliRunner()  # click >= 8.2 keeps them apart


def run_case(case: Path, work: Path) -> str:
    """Run the case on a copy in `work` (so builds may write), shown as `<case>`."""
    shutil.copytree(case, work)
    args = shlex.split((case / "cmd").read_text(encoding="utf-8"))
    env = dict(ENV)
    if (case / "env").is_file():
        for line in (case / "env").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            env[key] = value
    if (case / "before").is_file():
        for line in (case / "before").read_text(encoding="utf-8").splitlines():
            if line.strip():
                _runner().invoke(main, [*shlex.split(line), "--project", str(work)], env=env,
                                 catch_exceptions=False)
    if (work / "base").is_dir():
        _as_repository(work)
    case = work
    named = any("<case>" in a for a in args)
    args = [a.replace("<case>", str(case)) for a in args] if named else [
        *args, "--project", str(case)]
    result = _runner().invoke(main, args, env=env, catch_exceptions=False)
    output = result.stdout + result.stderr
    for path in {str(case.resolve()), str(case)}:
        output = output.replace(path, "<case>")
    # rich pads table lines to the width; trailing blanks are not worth a diff
    output = "\n".join(line.rstrip() for line in output.split("\n"))
    return f"exit: {result.exit_code}\n{output}"


def _as_repository(work: Path) -> None:
    """base/plans committed as plans/ (branch main), then the case's plans/ put back."""
    shutil.move(work / "plans", work / ".head-plans")
    shutil.move(work / "base" / "plans", work / "plans")
    shutil.rmtree(work / "base")
    commit_all(work, "base", init=True, paths=("plans",))  # not expected: its id would move
    shutil.rmtree(work / "plans")
    shutil.move(work / ".head-plans", work / "plans")


def files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if "__pycache__" not in p.parts)


def writes_nothing(case: Path) -> bool:
    """validate and dry runs, without earlier commands: nothing may be written."""
    args = shlex.split((case / "cmd").read_text(encoding="utf-8"))
    return not (case / "before").exists() and (
        args[0] == "validate" or (args[0] == "build" and "--dry-run" in args))


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str, tmp_path: Path) -> None:
    case = GOLDEN / name
    actual = run_case(case, tmp_path / name)
    if writes_nothing(case):  # the copy the command ran in holds what it held before
        assert files(tmp_path / name) == files(case)
    expected_file = case / "expected"
    if UPDATE:
        expected_file.write_text(actual, encoding="utf-8", newline="\n")
    assert expected_file.exists(), "no expected file; run with CRMSPEC_UPDATE_GOLDEN=1"
    assert actual == expected_file.read_text(encoding="utf-8")


# Codes without a golden case: the case would need a broken git installation (E704) or
# a Python without MkDocs (E705), a second build holding the ledger (E607) or a full
# disk (E608); tests/test_site.py and tests/test_crash_recovery.py cover them instead.
PENDING: set[str] = {"E704", "E705", "E607", "E608"}


def test_every_code_has_a_case() -> None:
    """Each code of diagnostics.CODES appears in at least one expected output."""
    seen: set[str] = set()
    for name in CASES:
        text = (GOLDEN / name / "expected").read_text(encoding="utf-8")
        seen.update(re.findall(r"\b([EW]\d{3})\b", text))
    assert sorted(set(CODES) - seen - PENDING) == []
    assert sorted(PENDING & seen) == [], "covered now: remove from PENDING"
