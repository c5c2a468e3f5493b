"""`crmspec init`: a new shop repository from the files shipped in the wheel, that
validates and builds at once; and, from an installed wheel (not this source tree), the
whole first day of a shop: init, validate, build, import its Taobao orders, build."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from exports import EXPORT_A, EXPORT_B, export_b_header, write_taobao

from crmspec.cli import main
from crmspec.repo.init import scaffold_files

ROOT = Path(__file__).resolve().parent.parent


# A new shop's hold-outs cannot be checked against a build yet (validate says so).
NOT_YET_BUILT = ("power check (W602) not run: no run in the ledger (state/ledger.duckdb); "
                 "pass --manifest FILE to check the hold-outs against a build's audiences\n")

def test_init_writes_a_repository_that_validates(tmp_path):
    result = CliRunner().invoke(main, ["init", str(tmp_path / "shop")])
    assert result.exit_code == 0, result.output
    written = sorted(str(p.relative_to(tmp_path / "shop")) for p in (tmp_path / "shop").rglob("*")
                     if p.is_file())
    assert written == sorted(scaffold_files())
    assert {".gitignore", ".pre-commit-config.yaml", ".github/workflows/crmspec.yml",
            "README.md", "plans/shop.yaml", "plans/kpis.yaml", "plans/sop/repurchase_nudge.yaml",
            "schemas/shop.schema.json"} <= set(written)
    # the schemas are the package's, and the plan files point editors at them
    assert (tmp_path / "shop/schemas/activities.schema.json").read_bytes() == (
        ROOT / "src/crmspec/schemas/activities.schema.json").read_bytes()
    for plan in (tmp_path / "shop/plans").glob("*.yaml"):
        first = plan.read_text(encoding="utf-8").splitlines()[0]
        assert first == f"# yaml-language-server: $schema=../schemas/{plan.stem}.schema.json"
    valid = CliRunner().invoke(main, ["validate", "--project", str(tmp_path / "shop")])
    assert (valid.exit_code, valid.stdout) == (0, "plan is valid\n" + NOT_YET_BUILT)


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path):
    shop = tmp_path / "shop"
    (shop / "plans").mkdir(parents=True)
    (shop / "plans/shop.yaml").write_text("name: mine\n", encoding="utf-8")
    (shop / "README.md").write_text("ours\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["init", str(shop)])
    assert result.exit_code == 1
    assert [line.split(": error")[0] for line in result.stderr.splitlines()
            if "error[E111]" in line] == [f"{shop}/README.md:1:1", f"{shop}/plans/shop.yaml:1:1"]
    assert sorted(p.name for p in shop.rglob("*")) == ["README.md", "plans", "shop.yaml"]
    assert (shop / "plans/shop.yaml").read_text(encoding="utf-8") == "name: mine\n"


def test_git_ignores_customers_data():
    ignored = [line for line in scaffold_files()[".gitignore"].decode().splitlines()
               if line and not line.startswith("#")]
    assert {"out/", "state/", "data/", "site/"} <= set(ignored)


def test_the_scaffold_runs_crmspecs_own_pre_commit_hook():
    """Same id, command and files as the hook .pre-commit-hooks.yaml defines."""
    hook = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))[0]
    config = yaml.safe_load(scaffold_files()[".pre-commit-config.yaml"])
    used = config["repos"][0]["hooks"][0]
    assert hook["id"] == used["id"] == "crmspec-validate"
    assert hook["entry"] == used["entry"] == "crmspec validate"
    assert hook["files"] == used["files"] and hook["pass_filenames"] is used["pass_filenames"]


def test_the_workflow_validates_with_github_annotations():
    workflow = yaml.safe_load(scaffold_files()[".github/workflows/crmspec.yml"])
    steps = workflow["jobs"]["validate"]["steps"]
    assert steps[-1] == {"run": "crmspec validate --format github"}
    assert set(workflow["jobs"]) == {"validate", "plan-review", "site"}
    # PyYAML reads the `on:` key as True
    assert set(workflow[True]) == {"push", "pull_request"}


def _run(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """The installed `crmspec` command (the wheel's console script)."""
    done = subprocess.run([env["CRMSPEC_SCRIPT"], *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


@pytest.mark.slow
def test_a_shops_first_day_from_an_installed_wheel(tmp_path):
    """pip wheel this project, install the wheel into a fresh target (no dependencies:
    those of this environment), then run the CLI from there in an empty folder."""
    source = tmp_path / "source"  # a copy: building writes build/ and egg-info
    leftovers = shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", ".*cache")

    def ignore(folder: str, names: list[str]) -> set[str]:
        top = {"out", "state", "data", "site"} if Path(folder) == ROOT else set()
        return set(leftovers(folder, names)) | (top & set(names))

    shutil.copytree(ROOT, source, ignore=ignore)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheels), str(source)], check=True, capture_output=True,
                   timeout=600)
    wheel = next(wheels.glob("crmspec-*.whl"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True, timeout=600)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CRMSPEC_PLUGINS")}
    env["PYTHONPATH"] = str(target)
    env["CRMSPEC_SCRIPT"] = str(target / "bin" / "crmspec")
    work = tmp_path / "work"
    work.mkdir()
    where = subprocess.run([sys.executable, "-c", "import crmspec; print(crmspec.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.strip() == str(target / "crmspec/__init__.py")
    _run(["init", "x"], work, env)
    shop = work / "x"
    assert _run(["validate"], shop, env).stdout == "plan is valid\n" + NOT_YET_BUILT
    demo = _run(["build"], shop, env)
    assert "stages: potential" in demo.stdout
    a = write_taobao(tmp_path / "订单报表.csv", EXPORT_A)
    b = write_taobao(tmp_path / "订单报表-2.csv", EXPORT_B, export_b_header())
    first = _run(["import", "taobao", str(a)], shop, env)
    assert "orders: 6 new, 0 updated, 0 unchanged" in first.stdout
    _run(["import", "taobao", str(b)], shop, env)
    assert _run(["validate"], shop, env).stdout == "plan is valid\n" + NOT_YET_BUILT
    built = _run(["build"], shop, env)
    assert "stages: potential 3, after_sale 0, active 3, silent 0, sleeping 0, churning 0, " \
           "dead 0" in built.stdout


def test_the_scaffold_site_config_is_the_one_crmspec_site_would_write(tmp_path):
    """init writes mkdocs.yml for the shop's SOP site; it is `crmspec site`'s own default
    for the scaffold's shop name, so that the two cannot drift apart."""
    from crmspec.site.publish import default_config

    assert CliRunner().invoke(main, ["init", str(tmp_path / "shop")]).exit_code == 0
    shop_yaml = (tmp_path / "shop/plans/shop.yaml").read_text(encoding="utf-8")
    assert "\nname: 我的店铺 " in shop_yaml
    assert (tmp_path / "shop/mkdocs.yml").read_text(encoding="utf-8") == default_config("我的店铺")


def test_the_scaffold_workflow_is_the_documented_one():
    """init writes docs/ci/crmspec.yml (validate, plan review, site): one workflow."""
    scaffold = ROOT / "src/crmspec/repo/scaffold/dot-github/workflows/crmspec.yml"
    assert scaffold.read_bytes() == (ROOT / "docs/ci/crmspec.yml").read_bytes()
