"""`crmspec kpi` as people read it: the Markdown and terminal tables of the KPIs and of
the monitoring table, through the CLI on the tiny shop (the numbers are worked out by
hand in test_kpi.test_cli_json_on_the_tiny_shop)."""

from __future__ import annotations

from click.testing import CliRunner
from test_kpi import TINY_KPIS

from crmspec.cli import main

MONITORING = "monitoring: {kpis: [purchasers, aov], changes: [aov]}\n"


def kpi(root, *args: str) -> str:
    (root / "plans/kpis.yaml").write_text(TINY_KPIS + MONITORING, encoding="utf-8")
    result = CliRunner().invoke(main, ["kpi", "--project", str(root), "--period", "month",
                                       *args], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.stdout


def cells(table: str) -> list[list[str]]:
    """The cells of a terminal table's rows (its header included), whatever the box
    drawing: what crmspec puts in them, not how rich draws them."""
    rows = []
    for line in table.splitlines():
        if line[:1] in "┃│":
            rows.append([c.strip() for c in line[1:-1].replace("┃", "│").split("│")])
    return rows


def test_kpi_markdown(tiny):
    """Rates in %, rate changes in percentage points, money with 2 decimals, counts
    whole; positive changes signed; numbers right-aligned."""
    assert kpi(tiny, "--from", "2026-01-01", "--format", "markdown") == (
        "**小测试店 · KPIs per month · as of 2026-03-01**\n\n"
        "| period | kpi | name | group | value | previous | change | status | n |\n"
        "|---|---|---|---|---:|---:|---:|---|---:|\n"
        "| 2026-01 | purchasers | 购买人数 |  | 1 | 2 | -1 |  |  |\n"
        "| 2026-01 | aov | 客单价 |  | 520.00 | 900.00 | -380.00 | good | 1 |\n"
        "| 2026-01 | new_45 | 新客45天复购率 |  | 0.00% |  |  |  | 2 |\n"
        "| 2026-02 | purchasers | 购买人数 |  | 8 | 1 | +7 |  |  |\n"
        "| 2026-02 | aov | 客单价 |  | 298.75 | 520.00 | -221.25 | watch | 8 |\n"
        "| 2026-02 | new_45 | 新客45天复购率 |  | 0.00% | 0.00% | 0.00pp |  | 1 |\n")


def test_kpi_table(tiny):
    out = kpi(tiny, "--from", "2026-01-01")
    assert out.splitlines()[0].rstrip() == "小测试店 · KPIs per month · as of 2026-03-01"
    assert cells(out) == [
        ["period", "kpi", "name", "group", "value", "previous", "change", "status", "n"],
        ["2026-01", "purchasers", "购买人数", "", "1", "2", "-1", "", ""],
        ["2026-01", "aov", "客单价", "", "520.00", "900.00", "-380.00", "good", "1"],
        ["2026-01", "new_45", "新客45天复购率", "", "0.00%", "", "", "", "2"],
        ["2026-02", "purchasers", "购买人数", "", "8", "1", "+7", "", ""],
        ["2026-02", "aov", "客单价", "", "298.75", "520.00", "-221.25", "watch", "8"],
        ["2026-02", "new_45", "新客45天复购率", "", "0.00%", "0.00%", "0.00pp", "", "1"],
    ]


def test_monitoring_markdown_and_table(tiny):
    """The change of a KPI is this period / the previous one (Jan 520 / Dec 900 = 57.8%;
    Feb 298.75 / 520 = 57.5%); with one KPI's change, the combined change is that one."""
    assert kpi(tiny, "--from", "2026-01-01", "--monitoring", "--format", "markdown") == (
        "**小测试店 · monitoring per month · as of 2026-03-01**\n\n"
        "| period | 购买人数 | 客单价 | change | combined change |\n"
        "|---|---:|---:|---:|---:|\n"
        "| 2026-01 | 1 | 520.00 | 57.8% | 57.8% |\n"
        "| 2026-02 | 8 | 298.75 | 57.5% | 57.5% |\n")
    assert cells(kpi(tiny, "--from", "2026-01-01", "--monitoring")) == [
        ["period", "购买人数", "客单价", "change", "combined change"],
        ["2026-01", "1", "520.00", "57.8%", "57.8%"],
        ["2026-02", "8", "298.75", "57.5%", "57.5%"]]


def test_a_range_without_a_complete_period_says_so(tiny):
    for extra in ((), ("--monitoring",)):
        assert kpi(tiny, "--from", "2026-03-02", *extra, "--format", "markdown").splitlines()[
            1:] == ["no complete month in the range (as of 2026-03-01)"]


def test_kpi_table_fits_a_narrow_terminal(tiny, monkeypatch):
    """On a terminal the table is fitted to its width: the rows' sizes (n) go first,
    then the previous values, then the group, and a line says so; the name wraps and is
    never squeezed away. Piped (no terminal width), every column stays."""
    from rich.cells import cell_len

    import crmspec.cli.commands as commands

    for width, gone in ((90, ["n"]), (80, ["previous", "n"]),
                        (72, ["group", "previous", "n"])):
        monkeypatch.setattr(commands, "_terminal_width", lambda width=width: width)
        out = kpi(tiny, "--from", "2026-01-01")
        assert max(cell_len(line) for line in out.splitlines()) <= width
        rows = cells(out)
        assert rows[0] == [h for h in ["period", "kpi", "name", "group", "value", "previous",
                                       "change", "status", "n"] if h not in gone]
        assert rows[1][:3] == ["2026-01", "purchasers", "购买人数"]
        assert " ".join(out.split("┘\n", 1)[1].split()) == (
            f"(not shown at {width} columns: {', '.join(gone)}; a wider terminal shows them, "
            "--format csv has every figure)")
    monkeypatch.setattr(commands, "_terminal_width", lambda: None)
    assert cells(kpi(tiny, "--from", "2026-01-01"))[0] == [
        "period", "kpi", "name", "group", "value", "previous", "change", "status", "n"]
