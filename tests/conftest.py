import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def tiny(tmp_path) -> Path:
    """A copy of the hand-made tiny shop (answers worked out by hand in test_build_tiny)."""
    dest = tmp_path / "tiny"
    shutil.copytree(FIXTURES / "tiny", dest)
    return dest
