import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import settings

# Hypothesis: in CI (CI=true, as .ci/run runs) the examples are derived from each test
# rather than drawn at random, and no example database is kept, so a run passes or fails
# the same way every time; locally examples stay random (and failures are replayed from
# .hypothesis/). HYPOTHESIS_PROFILE=ci reproduces a CI run.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI", "").lower() in ("1", "true") else "dev"))

FIXTURES = Path(__file__).parent / "fixtures"
# What a build leaves in a project (outputs, the ledger): never part of a fixture copy.
BUILD_LEFTOVERS = shutil.ignore_patterns("out", "state", ".out.*")


@pytest.fixture
def tiny(tmp_path) -> Path:
    """A copy of the hand-made tiny shop (answers worked out by hand in test_build_tiny)."""
    dest = tmp_path / "tiny"
    shutil.copytree(FIXTURES / "tiny", dest, ignore=BUILD_LEFTOVERS)
    return dest


@pytest.fixture
def channels_shop(tmp_path) -> Path:
    """A copy of the channels fixture: the tiny shop's customers, one templated activity per
    built-in channel (golden files in tests/golden_channels)."""
    dest = tmp_path / "channels"
    shutil.copytree(FIXTURES / "channels", dest, ignore=BUILD_LEFTOVERS)
    return dest


@pytest.fixture(autouse=True)
def _no_plugin_env(monkeypatch):
    """Tests choose their plugins: a CRMSPEC_PLUGINS of the caller's shell must not leak in."""
    monkeypatch.delenv("CRMSPEC_PLUGINS", raising=False)


def add_plugins(root: Path, *names: str) -> Path:
    """Copy test plugins (tests/plugins/<name>.py) into a shop's plugins/ folder."""
    folder = root / "plugins"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(Path(__file__).parent / "plugins" / f"{name}.py", folder / f"{name}.py")
    return folder


# Commits made by tests: the same author and date everywhere, whatever the machine's git
# configuration (CI has none), so that a commit id depends on the files alone.
GIT_ENV = {"GIT_AUTHOR_NAME": "crmspec tests", "GIT_AUTHOR_EMAIL": "tests@example.com",
           "GIT_COMMITTER_NAME": "crmspec tests", "GIT_COMMITTER_EMAIL": "tests@example.com",
           "GIT_AUTHOR_DATE": "2026-03-01T09:00:00+08:00",
           "GIT_COMMITTER_DATE": "2026-03-01T09:00:00+08:00", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_CONFIG_NOSYSTEM": "1"}


def git(root: Path, *args: str) -> str:
    """Run git in `root` as the tests' fixed identity; its output."""
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True, input="", env={**os.environ, **GIT_ENV}).stdout


def commit_all(root: Path, message: str, init: bool = False, paths: tuple = ("-A",)) -> str:
    """Commit every file under root, or `paths` (a new repository on branch main when
    `init`); the commit id."""
    if init:
        git(root, "init", "-q", "-b", "main")
    git(root, "add", *paths)
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()
