"""The checking pass's results are reused on the same export and never on a changed one
(crmspec.data.checkcache), through `crmspec build` on the tiny shop."""

import json
import os
from datetime import date

import pytest

from crmspec.build import build
from crmspec.data import checkcache

AS_OF = date(2026, 3, 1)


@pytest.fixture
def settled(tiny, monkeypatch):
    """The tiny shop, its files taken as settled as soon as they are written."""
    monkeypatch.setattr(checkcache, "RACY_SECONDS", 0.0)
    return tiny


def _build(root, as_of=AS_OF):
    m = build(root, as_of=as_of, force=True).manifest
    return m["data_fingerprint"], m["rows"], [(p["code"], p["count"], p["examples"])
                                             for p in m["data_problems"]]


def _tamper(root):
    """Mark every stored pass over a table (the row hash sum, the second of its three or
    more results), so that a reuse shows in the fingerprint of the next build; the
    other entries (whether the ids are in order) are left as they are. Returns the
    numbers of marked and of all entries."""
    path = root / "state" / "checks.json"
    entries = json.loads(path.read_text(encoding="utf-8"))
    marked = 0
    for e in entries.values():
        if len(e["row"]) >= 3 and all(isinstance(v, int) for v in e["row"]):
            e["row"][1] += 1
            marked += 1
    path.write_text(json.dumps(entries), encoding="utf-8")
    return marked, len(entries)


def test_a_rerun_on_the_same_files_reuses_the_checks(settled):
    first = _build(settled)
    # customers, orders, events; whether the customer and the order ids are in order; the
    # examples of the tiny shop's one problem (an invalid phone number)
    assert _tamper(settled) == (3, 6)
    again = _build(settled)
    assert again[0] != first[0]  # the stored results were used, not the files scanned
    assert again[1:] == first[1:]


def test_the_same_results_come_back_from_the_cache(settled):
    """A dirty export: counts, rows and (masked) examples equal with and without it."""
    with open(settled / "data" / "orders.csv", "a", encoding="utf-8") as f:
        f.write("o90,c99,2026-02-01 10:00:00,2026-02-01 10:05:00,,,50.00,paid,normal\n"
                "o91,c03,2026-02-01 10:00:00,2026-02-01 10:05:00,,,-5.00,paid,normal\n")
    first = _build(settled)
    assert [c for c, _, _ in first[2]] == ["customers_bad_phone", "orders_unknown_customer",
                                           "orders_negative_amount"]
    assert (settled / "state" / "checks.json").exists()
    assert _build(settled) == first


def test_the_examples_come_from_the_cache(settled):
    """The examples of a problem are stored (masked, as the manifest shows them) and
    reused on the same files: a stored example changed by hand is what the next build
    reports; once the file changes, the examples are looked up again."""
    first = _build(settled)
    assert [(c, n) for c, n, _ in first[2]] == [("customers_bad_phone", 1)]
    (shown,) = first[2][0][2]
    assert "1380000" not in shown  # masked
    path = settled / "state" / "checks.json"
    entries = json.loads(path.read_text(encoding="utf-8"))
    (key,) = [k for k, e in entries.items() if e["row"] == [shown]]
    assert key  # the stored examples are the masked ones
    entries[key]["row"] = ["(stored)"]
    path.write_text(json.dumps(entries), encoding="utf-8")
    assert _build(settled)[2] == [("customers_bad_phone", 1, ["(stored)"])]
    customers = settled / "data" / "customers.csv"
    customers.write_text(customers.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert _build(settled)[2] == first[2]


def test_a_changed_mapping_looks_the_examples_up_again(settled):
    """The same files read through another mapping (phone: nick instead of mobile): the
    invalid phones and their examples are the new column's, as a build without the cache
    finds them."""
    first = _build(settled)
    shop = settled / "plans" / "shop.yaml"
    text = shop.read_text(encoding="utf-8")
    assert "phone: mobile" in text
    shop.write_text(text.replace("phone: mobile", "phone: nick"), encoding="utf-8")
    remapped = _build(settled)
    (settled / "state" / "checks.json").unlink()
    assert remapped == _build(settled)  # what the files say through the new mapping
    assert [(c, n) for c, n, _ in remapped[2]] == [("customers_bad_phone", 16)]
    assert remapped[2] != first[2]


def test_a_changed_file_is_checked_again(settled):
    """Same size, same modification time: the content decides (never a stale result)."""
    first = _build(settled)
    _tamper(settled)
    orders = settled / "data" / "orders.csv"
    st = orders.stat()
    text = orders.read_text(encoding="utf-8")
    assert "100.00" in text
    orders.write_text(text.replace("100.00", "100.01", 1), encoding="utf-8")
    os.utime(orders, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert orders.stat().st_size == st.st_size
    changed = _build(settled)
    orders.write_text(text, encoding="utf-8")
    os.utime(orders, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert changed[0] != first[0]
    assert _build(settled)[0] == first[0]  # scanned again: the real fingerprint


def test_another_as_of_date_is_checked_again(settled):
    """The orders' and events' checks depend on the as-of date (rows after it), the
    customers' and the ids' order do not: a second date adds two results and reuses
    the other three."""
    first = _build(settled)
    _tamper(settled)
    _build(settled, date(2026, 3, 2))
    entries = json.loads((settled / "state" / "checks.json").read_text(encoding="utf-8"))
    assert len(entries) == 8
    assert _build(settled, AS_OF)[0] != first[0]  # its own (tampered) entries are kept


def test_files_written_just_now_are_not_stored(tiny):
    """Coarse timestamps: a second change within a tick would look unchanged."""
    build(tiny, as_of=AS_OF)
    assert not (tiny / "state" / "checks.json").exists()


def test_a_dry_run_and_a_corrupt_cache_file(settled):
    build(settled, as_of=AS_OF, dry_run=True)
    assert not (settled / "state" / "checks.json").exists()
    (settled / "state").mkdir(exist_ok=True)
    (settled / "state" / "checks.json").write_text("{not json", encoding="utf-8")
    first = _build(settled)
    assert json.loads((settled / "state" / "checks.json").read_text(encoding="utf-8"))
    assert _build(settled) == first
