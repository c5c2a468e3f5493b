"""The plan loader gives the same documents and the same diagnostics whether libyaml's
parser is installed (the fast path) or not (PyYAML's pure-Python parser, the reference):
on every plan file of the example shop and of the golden cases, valid or broken."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crmspec.core.diagnostics import PlanError
from crmspec.plan import load

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(p for pattern in ("plans/**/*.yaml", "tests/golden/*/plans/**/*.yaml")
               for p in ROOT.glob(pattern) if p.is_file())


def _load(file: Path):
    try:
        doc = load.load_file(file, shown_as=file.name)
    except PlanError as exc:
        return "error", [d.text() for d in exc.diagnostics]
    where = {}

    def walk(value, path):
        where[path] = (doc.where(path), doc.where(path, key=True))
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, path + (k,))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, path + (i,))

    walk(doc.data, ())
    return "ok", doc.data, where


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml: one parser only")
def test_libyaml_and_pure_python_give_the_same_documents(monkeypatch):
    assert len(FILES) > 150
    fast = {f: _load(f) for f in FILES}
    monkeypatch.setattr(load, "_FastLoader", None)
    reference = {f: _load(f) for f in FILES}
    assert [f for f in FILES if fast[f] != reference[f]] == []
    assert sum(r[0] == "error" for r in reference.values()) > 10  # broken files compared too


def test_deep_nesting_is_refused_by_either_parser(tmp_path, monkeypatch):
    """libyaml's own composer recurses in C without a bound (a million brackets crash
    the process); both paths compose with the bounded composer."""
    file = tmp_path / "deep.yaml"
    file.write_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    for fast in (load._FastLoader, None):
        monkeypatch.setattr(load, "_FastLoader", fast)
        with pytest.raises(PlanError) as caught:
            load.load_file(file, shown_as="deep.yaml")
        assert [d.text() for d in caught.value.diagnostics] == [
            "deep.yaml:1:103: error[E101]: values are nested more than 100 levels deep"]
