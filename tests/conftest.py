import shutil
from pathlib import Path

import pytest

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
