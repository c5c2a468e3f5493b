"""Where a shop's data is and how its files map onto the canonical tables: the
`data` section of shop.yaml as the data package needs it (`crmspec.plan.model` builds
it from the plan; nothing here reads YAML).

A shop's export is described, not converted by hand: how its text files are written
(`CsvFormat`: encoding, delimiter, header) and, per canonical table, how its columns
become canonical ones (`TableMapping`: renamed, value-mapped, parsed with a date
format, set to a constant or computed by a checked expression).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from crmspec.core.diagnostics import Src

# Encodings a shop's export comes in. GBK and GB2312 are subsets of GB18030, so they are
# read as GB18030 (a Taobao report said to be GBK may hold GB18030-only characters).
ENCODINGS = {"utf-8": "utf-8-sig", "gb18030": "gb18030", "gbk": "gb18030",
             "gb2312": "gb18030", "big5": "big5", "utf-16": "utf-16", "latin-1": "latin-1"}
WHITESPACE = "whitespace"  # the delimiter of files whose columns are runs of spaces/tabs


@dataclass(frozen=True)
class CsvFormat:
    """How a shop's delimited text files are written."""

    encoding: str = "utf-8"  # a key of ENCODINGS
    delimiter: str = ","  # one character, or WHITESPACE
    header: bool = True  # False: the columns are named column1, column2, ...
    quote: str = '"'

    @property
    def codec(self) -> str:
        return ENCODINGS[self.encoding]


@dataclass(frozen=True)
class TableMapping:
    """How one source table's columns become the canonical table's, per canonical column:
    `columns` the source column, `values` a map of the source's values onto canonical
    ones (e.g. 交易成功 -> paid), `formats` a strptime format for dates and times,
    `constants` a fixed value, `derived` a `crmspec.safesql` expression over the source's
    columns."""

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    constants: dict[str, object] = field(default_factory=dict)
    derived: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DataSource:
    source: str  # demo | duckdb | parquet | csv | catalog
    path: str
    tables: dict[str, str]
    columns: dict[str, dict[str, str]]
    demo_customers: int
    demo_seed: int
    demo_end_date: date
    src: Src  # shop.yaml `data`, for diagnostics about the data
    csv: CsvFormat = CsvFormat()
    values: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    formats: dict[str, dict[str, str]] = field(default_factory=dict)
    constants: dict[str, dict[str, object]] = field(default_factory=dict)
    derived: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def spark_only(self) -> bool:
        """Whether only Spark can read the data: catalog tables, or Parquet at a URI."""
        return self.source == "catalog" or (self.source == "parquet" and "://" in self.path)

    def mapping(self, table: str) -> TableMapping:
        return TableMapping(self.columns.get(table, {}), self.values.get(table, {}),
                            self.formats.get(table, {}), self.constants.get(table, {}),
                            self.derived.get(table, {}))
