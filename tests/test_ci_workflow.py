"""The GitHub Actions workflow of docs/ci.md (also docs/ci/crmspec.yml): the two the same,
valid YAML, every crmspec command and option it runs known to the CLI, and its comment
script finding the marker lines `crmspec plan --format markdown` writes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from crmspec.cli import main
from crmspec.review.render.markdown import MARKER, MARKER_PREFIX

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "docs" / "ci" / "crmspec.yml"
# Commands of other issues that the workflow already names (the SOP site's job).
NOT_YET = {"site"}


def _runs(workflow: dict) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"]
            if "run" in step]


def test_the_page_shows_the_workflow_file_as_it_is():
    page = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    shown = re.search(r"```yaml\n(.*?)```\n", page, re.S).group(1)
    assert shown == WORKFLOW.read_text(encoding="utf-8")


def test_the_workflow_is_valid_yaml_with_the_three_jobs():
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert list(workflow["jobs"]) == ["validate", "plan-review", "site"]
    triggers = workflow[True]  # YAML 1.1 (PyYAML) reads the key `on` as true
    assert "labeled" in triggers["pull_request"]["types"]  # adding plan-approved re-runs


def test_every_crmspec_command_and_option_exists():
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    found = []
    for script in _runs(workflow):
        for line in script.splitlines():
            words = shlex.split(line.strip()) if line.strip().startswith("crmspec ") else []
            if not words:
                continue
            name = words[1]
            found.append(name)
            if name in NOT_YET:
                continue
            command = main.commands[name]
            options = {o for p in command.params for o in getattr(p, "opts", ())}
            for word in words[2:]:
                if word.startswith("--"):
                    assert word in options, (name, word)
    assert found == ["validate", "plan", "site"]


def test_the_comment_script_finds_the_review_markers():
    script = next(step["with"]["script"] for step in
                  yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["plan-review"]
                  ["steps"] if "with" in step and "script" in step["with"])
    assert f"const marker = '{MARKER_PREFIX}';" in script
    part = re.search(r"body\.match\(/(.*?)/\)", script).group(1).replace("\\/", "/")
    assert re.search(part, MARKER.format(part=2, parts=3)).group(1) == "2"
    assert MARKER.format(part=2, parts=3).startswith(MARKER_PREFIX)
