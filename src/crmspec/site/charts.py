"""Charts of the site, pre-rendered as SVG at build time (no JavaScript, no network).

matplotlib with `svg.fonttype: none` keeps every label as text, so the browser renders
Chinese with its own CJK font (fonts-noto-cjk on Debian) and the search can read it;
`svg.hashsalt` and an empty date make the same data give the same bytes. Figures are
made with `matplotlib.figure.Figure`, never pyplot, so no global state is shared between
charts or builds.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

# The first CJK font the machine has is used to measure labels; the browser renders them
# with its own. DejaVu Sans (shipped with matplotlib) is the last resort.
FONTS = ["Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
         "Microsoft YaHei", "PingFang SC", "DejaVu Sans"]
RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "crmspec-site",
    "font.family": "sans-serif",
    "font.sans-serif": FONTS,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=["#3f51b5", "#ff7043", "#26a69a", "#8d6e63",
                                                "#ab47bc", "#78909c"]),
}
PERCENT = FuncFormatter(lambda v, _pos: f"{v * 100:.1f}%")


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return buf.getvalue()


def _render(draw, width: float, height: float) -> str:
    with matplotlib.rc_context(RC), warnings.catch_warnings():
        # a machine without a CJK font warns once per missing glyph; the browser has one
        warnings.simplefilter("ignore")
        fig = Figure(figsize=(width, height))
        draw(fig.add_subplot())
        return _svg(fig)


def bars(labels: Sequence[str], values: Sequence[float], title: str,
         centred: bool = False) -> str:
    """Horizontal bars, first label on top; `centred`: a pyramid/funnel around zero."""
    def draw(ax):
        ys = list(range(len(labels)))[::-1]
        vals = [float(v) for v in values]
        left = [-v / 2 for v in vals] if centred else [0.0] * len(vals)
        ax.barh(ys, vals, left=left, color="#3f51b5")
        ax.set_yticks(ys, labels=list(labels))
        top = max(vals, default=0) or 1
        for y, v, lft in zip(ys, vals, left):
            ax.text(lft + v + top * 0.01, y, f"{v:,.0f}", va="center")
        if centred:
            ax.set_xlim(-top * 0.6, top * 0.75)
            ax.set_xticks([])
            ax.spines["bottom"].set_visible(False)
        ax.spines["left"].set_visible(not centred)
        ax.set_title(title, loc="left")
    return _render(draw, 6.4, 0.45 * max(len(labels), 2) + 0.8)


def lines(x: Sequence[str], series: dict[str, Sequence[float | None]], title: str,
          percent: bool = False, band: tuple[float | None, float | None] = (None, None)
          ) -> str:
    """One line per series over the labels `x`; `band`: target lines (watch, good)."""
    def draw(ax):
        pos = list(range(len(x)))
        for name, ys in series.items():
            pts = [(p, y) for p, y in zip(pos, ys) if y is not None]
            if pts:
                ax.plot([p for p, _ in pts], [y for _, y in pts], marker="o", markersize=3,
                        label=name)
        watch, good = band
        if good is not None:
            ax.axhline(good, color="#26a69a", linestyle="--", linewidth=0.8, label="good")
        if watch is not None:
            ax.axhline(watch, color="#ef5350", linestyle=":", linewidth=0.8, label="watch")
        step = max(1, len(x) // 8)
        ax.set_xticks(pos[::step], labels=list(x)[::step])
        if percent:
            ax.yaxis.set_major_formatter(PERCENT)
        if len(series) > 1 or good is not None or watch is not None:
            ax.legend(loc="best", frameon=False)
        ax.set_title(title, loc="left")
    return _render(draw, 6.4, 2.6)


def uplift(x: Sequence[str], values: Sequence[float], low: Sequence[float],
           high: Sequence[float], title: str) -> str:
    """Uplift per run with its 95% interval, around zero."""
    def draw(ax):
        pos = list(range(len(x)))
        err = [[v - lo for v, lo in zip(values, low)], [hi - v for v, hi in zip(values, high)]]
        ax.errorbar(pos, values, yerr=err, fmt="o", capsize=3, color="#3f51b5")
        ax.axhline(0, color="#78909c", linewidth=0.8)
        step = max(1, len(x) // 8)
        ax.set_xticks(pos[::step], labels=list(x)[::step])
        ax.yaxis.set_major_formatter(PERCENT)
        ax.set_title(title, loc="left")
    return _render(draw, 6.4, 2.6)


def budget(months: Sequence[str], spent: Sequence[float], caps: Sequence[float | None],
           title: str) -> str:
    """Spend per month as bars, the month's cap as a mark."""
    def draw(ax):
        pos = list(range(len(months)))
        ax.bar(pos, spent, color="#3f51b5", label="spent")
        capped = [(p, c) for p, c in zip(pos, caps) if c is not None]
        if capped:
            ax.scatter([p for p, _ in capped], [c for _, c in capped], marker="_", s=400,
                       color="#ef5350", label="cap", zorder=3)
            ax.legend(loc="best", frameon=False)
        ax.set_xticks(pos, labels=list(months))
        ax.set_title(title, loc="left")
    return _render(draw, 6.4, 2.6)
