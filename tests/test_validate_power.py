"""`crmspec validate`'s power check (W602) counts the audiences of a stated build: the
ledger's latest run, or `--manifest FILE`; it says which on the output, and whatever
out/ holds is not read (a fresh clone and CI say what the machine that built says)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from crmspec.build import build
from crmspec.cli import main

GOLDEN = Path(__file__).parent / "golden" / "w602_control_group_too_small"
# active_care holds out half of its 4 customers (as of 2026-03-01: c03, c14, c15, c16)
W602 = ("plans/activities.yaml:32:14: warning[W602]: activity 'active_care': 2 held out of "
        "4 cannot show +0.02 over a 0.05 response rate at power 0.8 (about 4,397 customers "
        "are needed: 1,100 builds like the latest)\n"
        "  hint: evaluate over several builds, raise the hold-out, or widen the segment\n")


def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(GOLDEN, root, ignore=shutil.ignore_patterns("cmd", "expected"))
    return root


def validate(root: Path, *args: str):
    result = CliRunner().invoke(main, ["validate", "--project", str(root), *args])
    return result.exit_code, result.output


def test_without_a_ledger_run_the_check_is_not_run_and_out_is_not_read(tmp_path):
    root = shop(tmp_path)
    build(root)
    shutil.rmtree(root / "state")  # a fresh clone: out/ may be a leftover, never the ledger
    assert (root / "out" / "manifest.json").is_file()
    assert validate(root) == (0, "plan is valid\npower check (W602) not run: no run in the "
                              "ledger (state/ledger.duckdb); pass --manifest FILE to check the "
                              "hold-outs against a build's audiences\n")


def test_the_ledgers_latest_run_is_counted_and_named(tmp_path):
    root = shop(tmp_path)
    build(root)
    shutil.rmtree(root / "out")
    assert validate(root) == (0, W602 + "0 error(s), 1 warning(s)\npower check (W602): the "
                              "audiences of the ledger's latest run, as of 2026-03-01 "
                              "(state/ledger.duckdb)\n")


def test_a_manifest_given_is_counted_instead_of_the_ledger(tmp_path):
    root = shop(tmp_path)
    build(root)
    manifest = tmp_path / "manifest.json"
    shutil.move(root / "out" / "manifest.json", manifest)
    shutil.rmtree(root / "state")
    assert validate(root, "--manifest", str(manifest)) == (
        0, W602 + f"0 error(s), 1 warning(s)\npower check (W602): the audiences of the build "
        f"in {manifest}, as of 2026-03-01\n")
    code, out = validate(root, "--manifest", str(manifest), "--format", "json")
    assert code == 0
    assert json.loads(out)["power_check"] == {
        "source": "manifest", "path": str(manifest), "as_of": "2026-03-01",
        "note": f"power check (W602): the audiences of the build in {manifest}, as of "
                "2026-03-01"}
    code, out = validate(root, "--manifest", str(manifest), "--format", "github")
    assert out.splitlines()[-1] == (f"::notice title=crmspec validate::power check (W602): "
                                    f"the audiences of the build in {manifest}, as of "
                                    "2026-03-01")


def test_a_manifest_that_cannot_be_read_is_an_error(tmp_path):
    root = shop(tmp_path)
    missing = tmp_path / "nowhere.json"
    assert validate(root, "--manifest", str(missing)) == (
        1, f"{missing}:1:1: error[E606]: cannot read the manifest: No such file or directory\n"
        "  hint: pass the manifest.json a build wrote\n1 error(s), 0 warning(s)\n")
    (root / "plans.json").write_text('{"as_of": "2026-03-01"}', encoding="utf-8")
    assert validate(root, "--manifest", str(root / "plans.json")) == (
        1, "plans.json:1:1: error[E606]: not a crmspec build manifest (no activities with "
        "sent and control counts, or no as_of)\n  hint: pass the manifest.json a build "
        "wrote\n1 error(s), 0 warning(s)\n")
