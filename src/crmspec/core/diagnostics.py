"""Problems found in a plan or its data, and how they are reported.

Every check in crmspec yields `Diagnostic` values instead of raising, so that one
`crmspec validate` run shows every problem at once, sorted by place. A diagnostic always
names a file, line and column (1-based) because plans live in git and are fixed in an
editor: "somewhere in the plan" is not actionable.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from crmspec.core.mask import mask_text

ERROR = "error"
WARNING = "warning"

# Code -> one-line title. The docs (docs/errors.md) and the golden tests cover each one.
CODES: dict[str, str] = {
    # reading files
    "E101": "YAML syntax error",
    "E102": "duplicate key",
    "E103": "file is not UTF-8",
    "E104": "empty file",
    "E105": "document is not a mapping",
    "E106": "too many aliases (alias bomb)",
    "E107": "more than one YAML document in a file",
    "E108": "unknown file in the plan folder",
    "E109": "required plan file missing",
    "E110": "ambiguous YAML 1.1 value",
    "E111": "crmspec init would overwrite a file",
    # schema
    "E201": "value does not match the schema",
    "E202": "unknown key",
    "E203": "required key missing",
    # plan semantics
    "E301": "unknown reference",
    "E302": "duplicate id",
    "E303": "lifecycle stages overlap",
    "E304": "lifecycle stages leave a gap",
    "E305": "tier thresholds not increasing",
    "E306": "activity targets every customer without saying so",
    "W307": "lifecycle stage without a maintenance activity",
    "E308": "marketing/maintenance ratio outside the declared bounds",
    "E309": "invalid SQL filter",
    "E310": "segment refers to itself",
    "E313": "a segment's SQL filter fails on the shop's data",
    "E314": "segments nested too deeply or too large once expanded",
    "E315": "a path of the plan leaves the project",
    # data
    "E401": "data source not found",
    "E402": "table missing in the data",
    "E403": "column missing in the data",
    "W404": "data quality problem",
    "E404": "data quality problem (strict mode)",
    "E405": "column has the wrong type",
    "E406": "the plan reads events the data does not have",
    "E407": "a data file cannot be read",
    "E408": "Spark cannot be started (pyspark or Java missing, no answer)",
    "E409": "a statement cannot run on Spark with the same meaning",
    "E410": "the data is read by Spark only (catalog tables, a URI) and the engine is DuckDB",
    "W408": "a row of an export not imported",
    # plugins (crmspec.plugins)
    "E501": "plugin failed to load",
    "E502": "plugin hook failed",
    "E503": "plugin returned or declared something invalid",
    "E504": "plugin implements an unknown hook",
    "E505": "CRMSPEC_PLUGINS names an unknown plugin",
    # message templates (crmspec.templates)
    "E511": "message template not found",
    "E512": "template syntax error",
    "E513": "undefined template variable",
    "E514": "message longer than the channel allows",
    "E515": "template fails to render",
    "E516": "template file for a part the channel does not have",
    "E517": "template assigns a template variable's name",
    "W518": "no send file written for an activity",
    "W519": "template file not used",
    "W520": "messages over the channel's limit in the data",
    "E521": "marketing email without an unsubscribe link",
    # the contact plan (crmspec.contact, crmspec.contact.ledger)
    "W311": "trigger can never fire",
    "E312": "send window closes before it opens",
    "E601": "build dated before the latest ledger run",
    "W602": "control group too small to show the plan's minimum effect",
    # evaluation and the demo simulation (crmspec.analysis.evaluate, crmspec.analysis.simulate)
    "E603": "the contact ledger holds no runs to evaluate or respond to",
    "E604": "simulation refused: the shop's data is not the demo",
    # budgets (crmspec.contact.report)
    "W605": "the month's contacts cost more than its budget",
    "E605": "the month's contacts cost more than its budget (strict mode)",
    "E606": "the manifest given cannot be read",
    "E607": "another build is running (the ledger is in use)",
    "E608": "the disk is full: nothing was changed",
    # SOPs and the site (crmspec.plan.checks.sops, crmspec.site)
    "E701": "an SOP contradicts its activity",
    "W702": "activity without an SOP",
    "E703": "the site's docs_dir holds files crmspec did not write",
    "E704": "reading the git history failed",
    "E705": "MkDocs is not installed",
    "E706": "mkdocs.yml cannot be read",
    # plan review (crmspec.review)
    "E801": "the base revision cannot be read",
    "E802": "the base revision's plan is not valid",
}


@dataclass(frozen=True, order=True)
class Diagnostic:
    path: str
    line: int
    col: int
    code: str
    message: str
    hint: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # Masked by construction: a message may quote the shop's data (examples of bad
        # values, a parser's echo of a row), and every diagnostic reaches a terminal, a
        # CI log or a manifest. No check has to remember to mask.
        object.__setattr__(self, "message", mask_text(self.message))
        if self.hint:
            object.__setattr__(self, "hint", mask_text(self.hint))

    @property
    def severity(self) -> str:
        return WARNING if self.code.startswith("W") else ERROR

    def text(self) -> str:
        out = f"{self.path}:{self.line}:{self.col}: {self.severity}[{self.code}]: {self.message}"
        if self.hint:
            out += f"\n  hint: {self.hint}"
        return out

    def github(self) -> str:
        # Workflow commands: newlines and % must be escaped in the message part.
        msg = f"[{self.code}] {self.message}" + (f" (hint: {self.hint})" if self.hint else "")
        msg = msg.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        path = self.path.replace("%", "%25").replace(",", "%2C").replace(":", "%3A")
        kind = "warning" if self.severity == WARNING else "error"
        return f"::{kind} file={path},line={self.line},col={self.col}::{msg}"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["severity"] = self.severity
        return d


class PlanError(Exception):
    """Raised when work cannot go on; carries the diagnostics that explain why.

    The CLI turns it into printed diagnostics and exit code 1, never a traceback.
    """

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(d.text() for d in self.diagnostics))


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == ERROR for d in diagnostics)


def render(diagnostics: Iterable[Diagnostic], fmt: str = "text") -> str:
    diags = sorted(diagnostics)
    if fmt == "json":
        errors = sum(d.severity == ERROR for d in diags)
        return json.dumps(
            {
                "errors": errors,
                "warnings": len(diags) - errors,
                "diagnostics": [d.as_dict() for d in diags],
            },
            ensure_ascii=False,
            indent=2,
        )
    if fmt == "github":
        return "\n".join(d.github() for d in diags)
    lines = [d.text() for d in diags]
    errors = sum(d.severity == ERROR for d in diags)
    warnings = len(diags) - errors
    lines.append(f"{errors} error(s), {warnings} warning(s)" if diags else "plan is valid")
    return "\n".join(lines)


DATA_CODES = ("W404",)  # warnings about the shop's data; every other one is the plan's


def warning_summary(diagnostics: Iterable[Diagnostic]) -> str | None:
    """One line for commands that do not print the plan's and data's warnings (kpi,
    evaluate): how many of each code, what they are, and which command lists them."""
    counts: dict[str, int] = {}
    for d in diagnostics:
        if d.severity == WARNING:
            counts[d.code] = counts.get(d.code, 0) + 1
    if not counts:
        return None
    n = sum(counts.values())
    kinds = ", ".join(f"{k} {code} ({CODES.get(code, 'warning')})"
                      for code, k in sorted(counts.items()))
    where = []
    if any(c not in DATA_CODES for c in counts):
        where.append("`crmspec validate` lists the plan's")
    if any(c in DATA_CODES for c in counts):
        where.append("`crmspec build` the data's" if where else "`crmspec build` lists them")
    return f"{n} warning{'s' if n != 1 else ''}: {kinds}; {', '.join(where)}"


@dataclass(frozen=True)
class Src:
    """Where a value of the plan came from: a document (`crmspec.plan.load.Document`)
    and the JSON path inside it, so that a later stage (semantic checks, data checks in a
    build) can still point at the plan line responsible for a problem."""

    doc: Any
    path: tuple

    def at(self, *sub: Any) -> "Src":
        return Src(self.doc, self.path + sub)

    def diag(self, code: str, message: str, hint: str | None = None, key: bool = False):
        return self.doc.diag(self.path, code, message, hint, key=key)

    def exists(self) -> bool:
        node = self.doc.data
        for part in self.path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return False
        return True
