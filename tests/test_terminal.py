"""Terminal output at ordinary widths (80 and 120 columns, through rich's console width):
the build summary and the evaluation table fit, no number is cut, and every column left
out is named."""

from __future__ import annotations

import io
import re
from datetime import date, datetime

import pytest
from rich.console import Console

from crmspec.analysis.evaluate.render import HUMAN, render
from crmspec.analysis.evaluate.results import EvalReport, EvalRow
from crmspec.build import build
from crmspec.cli.console import BUILD_COLUMNS, print_build


def left_out(text: str) -> list[str]:
    """The columns the 'not shown at N columns: ...;' line names."""
    found = re.search(r"\(not shown at \d+ columns: (.+?); a wider terminal", " ".join(
        text.split()))
    return found.group(1).split(", ") if found else []


def header_cells(text: str) -> list[str]:
    """The header of a rich table, multi-line headers joined."""
    rows = [line for line in text.splitlines() if line.startswith("┃")]
    cells = [[c.strip() for c in row.strip("┃").split("┃")] for row in rows]
    return [" ".join(p for p in parts if p) for parts in zip(*cells)]


def check_fits(text: str, width: int, cells: list[str], all_columns: list[str]) -> None:
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "…" not in text  # rich's mark of a cut cell
    for cell in cells:  # numbers are never wrapped: each is whole on one line
        assert any(cell in line for line in lines), cell
    shown = header_cells(text)
    names = [c.replace("\n", " ") for c in all_columns]
    assert sorted(shown + left_out(text)) == sorted(names)  # nothing lost silently


@pytest.fixture(scope="module")
def manifest_result(tmp_path_factory):
    """The tiny shop's build, with activity ids and counts as long as a big shop's."""
    import shutil
    from pathlib import Path

    root = tmp_path_factory.mktemp("terminal") / "tiny"
    shutil.copytree(Path(__file__).parent / "fixtures/tiny", root)
    result = build(root, dry_run=True)
    for i, a in enumerate(result.manifest["activities"]):
        a["id"] = f"{a['id']}_for_the_returning_customers_{i}"
        a["eligible"], a["sent"], a["control"] = 1_234_567 + i, 987_654 + i, 43_210 + i
        a["suppressed"] = {"no_address": 203_703 + i}
        a["cost"] = {"total": 49_382.70 + i}
    return result


@pytest.mark.parametrize("width", [80, 120])
def test_the_build_summary_fits_without_cutting_numbers(manifest_result, width):
    buf = io.StringIO()
    print_build(manifest_result, Console(file=buf, width=width, color_system=None))
    text = buf.getvalue()
    acts = manifest_result.manifest["activities"]
    cells = [f"{n:,}" for a in acts for n in (a["eligible"], a["sent"], a["control"],
                                               sum(a["suppressed"].values()))]
    cells += [f"{a['cost']['total']:,.2f}" for a in acts]
    check_fits(text, width, cells, BUILD_COLUMNS)
    table = text.split("└")[0]
    # every activity id is whole, perhaps folded over lines of its column
    column = "".join(line.split("│")[1].strip() for line in table.splitlines()
                     if line.startswith("│"))
    for a in acts:
        assert a["id"] in column
    if width == 80:
        assert left_out(text) == ["name", "kind", "channel", "main reason"]
    else:  # ids of 41 characters and 7-digit counts: the channel fits, the reason not
        assert left_out(text) == ["name", "kind", "main reason"]
        assert "channel" in header_cells(text)


def test_piped_the_build_summary_keeps_every_column(manifest_result):
    buf = io.StringIO()
    print_build(manifest_result, Console(file=buf, width=160, color_system=None))
    assert left_out(buf.getvalue()) == [] and "not shown" not in buf.getvalue()


def _report() -> EvalReport:
    """An evaluation with long ids, big groups and every kind of row."""
    def row(level, activity, run, status, **kw):
        r = EvalRow(level, activity, run, 3 if run is None else 1, 7,
                    datetime(2026, 6, 1, 10), datetime(2026, 6, 8, 10), status, **kw)
        return r

    figures = dict(treatment=1_234_567, control=123_456, treatment_responders=123_456,
                   control_responders=9_876, treatment_rate=0.1, control_rate=0.08,
                   uplift=-0.123456, uplift_low=-0.1399, uplift_high=-0.1012, p_value=0.0123,
                   incremental_orders=-152_438.9, incremental_revenue=-12_345_678.9,
                   cost=61_728.35, roi=-199.99, power=0.99, underpowered=False)
    rows = [
        row("run", "related_recommendation_active_email", date(2026, 6, 1), "significant",
            **figures),
        row("run", "related_recommendation_active_email", date(2026, 6, 8), "pending",
            treatment=1_000, control=100, cost=10.0,
            note="the window closes 2026-06-15 10:00; the data ends 2026-06-12"),
        row("activity", "related_recommendation_active_email", None, "not_significant",
            **figures, q_value=0.0617, fdr_status="not_significant"),
        row("activity", "win_back_sms", None, "underpowered",
            **{**figures, "underpowered": True, "power": 0.12}, q_value=0.0617,
            fdr_status="underpowered", needed_audience=57_204, runs_needed=79,
            note="underpowered: 12% power to show the plan's minimum effect (+0.8 pp); "
                 "about 57,204 customers (treated + held out) are needed at this "
                 "hold-out share: pool about 79 runs like these (3 so far)"),
        row("total", "(all activities)", None, "sum", treatment=2_469_134, control=246_912,
            incremental_orders=-304_877.8, incremental_revenue=-24_691_357.8, cost=123_456.7,
            roi=-200.0),
    ]
    return EvalReport("暖暖家居旗舰店", date(2026, 7, 1), 7, 0.05, "CNY", rows)


@pytest.mark.parametrize("width", [80, 120])
def test_the_evaluation_table_fits_without_cutting_numbers(width):
    text = render(_report(), "table", width)
    table = text.split("notes:")[0]
    cells = ["-12.35", "[-13.99, -10.12]", "2026-06-01", "all (3)"]  # kept at 80 too
    if width == 120:
        cells += ["0.0123"]
    header = list(HUMAN)
    header[HUMAN.index("95% CI pp")] = "95% CI pp"
    check_fits(table, width, cells, header)
    # the notes and the legend wrap at the width instead of running off the screen
    assert max(len(line) for line in text.splitlines()) <= width
    assert "pool about 79 runs like these (3 so far)" in " ".join(text.split())
    # the columns kept, first to last, are the ones a reader needs most
    shown = header_cells(table)
    assert shown[:5] == ["activity", "run", "status", "uplift pp", "95% CI pp"]
    if width == 80:
        assert len(shown) == 5
    else:
        assert shown[5:] == ["p", "FDR verdict"]  # q goes first: the verdict says it


def test_the_evaluation_table_piped_keeps_every_column():
    text = render(_report(), "table")  # no width: a log or a file
    assert "not shown" not in text
    assert header_cells(text.split("notes:")[0]) == [
        h.replace("\n", " ") for h in HUMAN]
