"""A shop whose exports have integer customer ids keeps them as BIGINT end to end
(`crmspec.data.sources.id_type`): features, candidates, the contact plan and the ledger's
history join on integers, and text is made only where a file is written.

The tiny shop is built twice from the same rows: as it is (text ids c01..c16) and as a
DuckDB file whose ids are the integers 1..16 (a do-not-contact list of text ids and a
second build day, so that the ledger's text ids meet the integer ones). Every audience
list and send file must be the text build's with the ids renamed; the audience lists
are sorted by the number (what a shop with integer ids expects: 9 before 10)."""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import duckdb

from crmspec.build import build
from crmspec.engine.session import open_session


def _integer_shop(tiny: Path) -> None:
    con = duckdb.connect(str(tiny / "shop.duckdb"))
    for table, col in (("customers", "buyer_id"), ("orders", "customer_id"),
                       ("events", "customer_id")):
        con.execute(f"CREATE TABLE {table} AS SELECT * REPLACE (CAST(substr({col}, 2) AS "
                    f"BIGINT) AS {col}) FROM read_csv('{tiny / 'data' / (table + '.csv')}', "
                    "header = true, auto_detect = true)")
    # the do-not-contact list as text, as a hand-kept list often is
    con.execute("CREATE TABLE suppressions AS SELECT * FROM (VALUES ('6', NULL), "
                "('x9', NULL)) AS t(customer_id, channel)")
    con.close()
    path = tiny / "plans/shop.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "  source: csv\n  path: data\n", "  source: duckdb\n  path: shop.duckdb\n"),
        encoding="utf-8")


def _files(root: Path) -> dict[str, list[dict]]:
    """Every CSV the build wrote, its unsubscribe tokens (a hash of the id) blanked."""
    out = {}
    for f in sorted((root / "out").rglob("*.csv")):
        with open(f, encoding="utf-8", newline="") as fh:
            out[f.relative_to(root / "out").as_posix()] = [
                {k: re.sub(r"\bt=[0-9a-f]{32}", "t=", v) for k, v in r.items()}
                for r in csv.DictReader(fh)]
    return out


def _renamed(rows: list[dict]) -> list[dict]:
    """The text build's rows with c06 -> 6 wherever a value is a customer id."""
    return [{k: re.sub(r"^c0*(\d+)$", r"\1", v) if k == "customer_id" else v
             for k, v in r.items()} for r in rows]


def test_integer_ids_stay_integers_and_the_outputs_match_the_text_build(tiny, tmp_path):
    import shutil

    text = tmp_path / "text"
    shutil.copytree(tiny, text)
    (text / "data/suppressions.csv").write_text("customer_id\nc06\n", encoding="utf-8")
    _integer_shop(tiny)
    with open_session(tiny) as (con, _):
        types = con.execute(
            "SELECT table_name, data_type FROM duckdb_columns() WHERE column_name = "
            "'customer_id' AND table_name IN ('customers', 'orders', 'events', "
            "'suppressions') AND database_name = 'temp' ORDER BY 1").fetchall()
        kept = con.execute("SELECT customer_id FROM suppressions").fetchall()
    assert types == [("customers", "BIGINT"), ("events", "BIGINT"), ("orders", "BIGINT"),
                     ("suppressions", "BIGINT")]
    assert kept == [(6,)]  # 'x9' names no customer of an integer-id shop
    for day in (None, date(2026, 3, 8)):  # the second day reads the first day's ledger
        a = build(text, as_of=day)
        b = build(tiny, as_of=day)
        assert b.manifest["stages"] == a.manifest["stages"]
        got, want = _files(tiny), _files(text)
        assert set(got) == set(want)
        for name in want:
            assert got[name] == _renamed(want[name]), name
        for name, rows in got.items():
            if name.startswith("audience/"):
                ids = [int(r["customer_id"]) for r in rows]
                assert ids == sorted(ids), name
    with duckdb.connect(str(tiny / "state/ledger.duckdb"), read_only=True) as con:
        runs = con.execute("SELECT count(DISTINCT as_of), count(*) FROM contacts").fetchone()
    assert runs[0] == 2 and runs[1] > 0


def test_explain_takes_an_integer_id_as_typed(tiny):
    from crmspec.analysis.explain import UnknownCustomer, explain

    _integer_shop(tiny)
    text = explain(tiny, "6")
    assert text.customer_id == "6"
    verdicts = {v.activity_id: v.status for v in text.verdicts}
    assert "do_not_contact" in verdicts.values()  # 6 is on the (text) do-not-contact list
    try:
        explain(tiny, "c6")
    except UnknownCustomer as exc:
        assert exc.closest[0] == "6"
    else:
        raise AssertionError("c6 is not a customer of the integer-id shop")
