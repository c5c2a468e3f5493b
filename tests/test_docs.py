"""The data docs describe every canonical column and derived fact."""

from pathlib import Path

from crmspec.data.tables import FACTS, TABLES

ROOT = Path(__file__).resolve().parent.parent


def test_every_column_and_fact_is_documented_with_its_meaning():
    doc = (ROOT / "docs/data.md").read_text(encoding="utf-8")
    for cols in list(TABLES.values()) + [FACTS]:
        for c in cols:
            assert f"| `{c.name}` |" in doc and c.doc in doc, c.name
