"""Delimited text files as shops have them, read into DuckDB with every row's line.

A shop's export is rarely what DuckDB's CSV reader takes as is: a Taobao order report is
GBK (read as GB18030), Excel writes UTF-16, some tools separate columns by runs of
spaces. DuckDB reads UTF-8, UTF-16 and Latin-1 itself, but GB18030 needs its
`encodings` extension, which is downloaded at run time from DuckDB's server (it is not
shipped for every DuckDB release): a shop offline, or a CI machine, cannot rely on it.

So one streaming pass in Python (the interpreter's own codecs) turns the file into a
UTF-8 copy that DuckDB's reader then parses with explicit options (no guessing): it
decodes with the declared encoding (a byte that is not valid there is an error at its
file, line and column), turns whitespace-separated columns into tab-separated ones,
drops blank lines, and writes each record's first line number as the first column
(`_line`) so that a rejected row can be named by its line in the shop's own file. The
pass also catches what would otherwise be a confusing parser error: an empty file, a
file that ends inside a quoted field (truncated), a record longer than any export row.
It costs about as much as DuckDB's parse itself (benchmarks/README.md).
"""

from __future__ import annotations

import codecs
import csv
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from crmspec.core.diagnostics import Diagnostic, PlanError
from crmspec.core.sql import sql_ident, sql_str
from crmspec.data.settings import WHITESPACE, CsvFormat

CHUNK = 1 << 22  # bytes read at a time
MAX_RECORD = 1 << 20  # characters: no order export row comes near a megabyte
LINE = "_line"  # the column holding each row's line in the shop's file

_SPACES = re.compile(r"[ \t]+")


@dataclass
class Delimited:
    """A file read into a temporary table: its columns (as named in the file) and the
    rows DuckDB's parser could not take, as (line, reason)."""

    table: str
    columns: list[str]
    rows: int
    rejected: list[tuple[int, str]] = field(default_factory=list)


def file_error(shown: str, line: int, col: int, message: str, hint: str) -> PlanError:
    return PlanError([Diagnostic(shown, line, col, "E407", message, hint)])


def _locate_decode_error(file: Path, codec: str, upto: int) -> tuple[int, int, int]:
    """(line, column, byte) of the first byte of `file` not valid in `codec`.

    Only on the error path: the file's start is decoded in one piece, which gives the
    exact offset an incremental decoder does not."""
    data = file.read_bytes()[:upto]
    try:
        data.decode(codec)
    except UnicodeDecodeError as exc:
        before = data[:exc.start].decode(codec, errors="replace")
        return (before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1,
                data[exc.start])
    return 1, 1, 0  # pragma: no cover - the incremental decoder failed in that range


def utf8_copy(file: Path, shown: str, fmt: CsvFormat, dest: Path
              ) -> tuple[list[str], int, int | None]:
    """Write `file` as UTF-8 to `dest`, each record prefixed by its line number; return
    the header's column names (column1, column2... without a header), the number of
    data records and, when the file does not end with a line break, the line of its last
    record (it may have been cut off). Raises PlanError (E407) at the line of a problem."""
    decoder = codecs.getincrementaldecoder(fmt.codec)(errors="strict")
    whitespace = fmt.delimiter == WHITESPACE
    delim = "\t" if whitespace else fmt.delimiter
    quote = fmt.quote or "\x00"  # no quoting: a character no text holds
    header: list[str] | None = None
    line = records = 0
    record_start = record_len = 0
    inside = False  # in a quoted field that goes on to the next line
    pending = ""
    read = 0
    first_record: list[str] = []
    with file.open("rb") as f, dest.open("w", encoding="utf-8", newline="\n") as out:
        while True:
            chunk = f.read(CHUNK)
            read += len(chunk)
            try:
                text = pending + decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError:
                ln, col, byte = _locate_decode_error(file, fmt.codec, read)
                raise file_error(shown, ln, col, f"byte 0x{byte:02x} is not valid "
                                 f"{fmt.encoding}",
                                 "declare the file's encoding (data.csv.encoding; a Taobao "
                                 "report is gb18030), or export it again") from None
            lines = text.replace("\r\n", "\n").split("\n")
            pending = "" if not chunk else lines.pop()
            if not chunk:
                unterminated = lines[-1] != "" if lines else False
                if not unterminated and lines:
                    lines.pop()  # the empty piece after the final line break
            buf = []
            add = buf.append
            for ln in lines:  # the loop every line goes through: kept to a few steps
                line += 1
                if not inside:
                    if not ln or ln.isspace():
                        continue  # a blank line between records
                    if whitespace:
                        ln = _SPACES.sub("\t", ln.strip())
                    record_start, record_len = line, len(ln)
                    add(f"{line}{delim}{ln}\n")
                    records += 1
                else:
                    add(ln + "\n")
                    record_len += len(ln) + 1
                if record_len > MAX_RECORD:
                    raise file_error(shown, record_start, 1,
                                     f"the record starting here is longer than "
                                     f"{MAX_RECORD // (1 << 20)} MB", _UNCLOSED_HINT
                                     if inside else "this is not an export of rows: check "
                                     "the file and its delimiter")
                if quote in ln and ln.count(quote) & 1:
                    inside = not inside
                if header is None:
                    first_record.append(ln)
                    if not inside:
                        header = _fields("\n".join(first_record), delim, quote, whitespace)
            out.write("".join(buf))
            if not chunk:
                break
    if inside:
        raise file_error(shown, record_start, 1, "the file ends inside a quoted field that "
                         "starts on this line (truncated?)", _UNCLOSED_HINT)
    if header is None:
        raise file_error(shown, 1, 1, "the file is empty", "export it again")
    cut = record_start if unterminated else None
    if not fmt.header:
        return [f"column{i}" for i in range(1, len(header) + 1)], records, cut
    return _unique(header), records - 1, cut


_UNCLOSED_HINT = "a quote (\") opens a field that never closes: export the file again"


def _fields(record: str, delim: str, quote: str, whitespace: bool) -> list[str]:
    if whitespace:
        return record.split("\t")
    return next(csv.reader([record], delimiter=delim, quotechar=quote or None,
                           strict=False), [])


def _unique(names: list[str]) -> list[str]:
    """Header names made usable: trimmed, empty ones named by position, repeats numbered."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(names, 1):
        name = name.strip().lstrip("\ufeff") or f"column{i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out


def read_delimited(con: duckdb.DuckDBPyConnection, file: Path, shown: str, fmt: CsvFormat,
                   table: str) -> Delimited:
    """Read `file` into the temporary table `table`: `_line` (BIGINT) and one VARCHAR
    column per column of the file, values as written (empty fields are NULL).

    Rows DuckDB's parser cannot take (too many or too few fields) are left out and
    returned with their line; a file none of whose rows parse is an error."""
    with tempfile.TemporaryDirectory(prefix="crmspec-") as tmp:
        copy = Path(tmp) / "utf8.csv"
        names, records, cut = utf8_copy(file, shown, fmt, copy)
        if LINE in names:
            raise file_error(shown, 1, 1, f"a column is named '{LINE}'", "rename it")
        cols = "{" + ", ".join(f"{sql_str(n)}: 'VARCHAR'" for n in [LINE, *names]) + "}"
        delim = "\t" if fmt.delimiter == WHITESPACE else fmt.delimiter
        quote = fmt.quote if fmt.delimiter != WHITESPACE else ""
        rejects = f"{table}_rejects"
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {sql_ident(table)} AS "
                f"SELECT * REPLACE (CAST({LINE} AS BIGINT) AS {LINE}) FROM read_csv("
                f"{sql_str(str(copy))}, columns = {cols}, header = {str(fmt.header).lower()}, "
                f"delim = {sql_str(delim)}, quote = {sql_str(quote)}, "
                f"escape = {sql_str(quote)}, auto_detect = false, strict_mode = false, "
                f"null_padding = false, max_line_size = {MAX_RECORD * 4 + 64}, "
                f"store_rejects = true, rejects_table = {sql_str(rejects)}, "
                f"rejects_scan = {sql_str(rejects + '_scan')}, parallel = false)")
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            raise file_error(shown, 1, 1, f"cannot be read as delimited text ({first})",
                             "check data.csv (delimiter, quote) against the file") from None
        # The copy is gone when this returns: a script of the session's statements
        # (`crmspec compile`, engine.script) cannot repeat the read.
        if hasattr(con, "not_printable"):
            con.not_printable(f"{table} read from {shown} through a decoded copy")
        found = con.execute(
            f"SELECT DISTINCT csv_line, error_type FROM {sql_ident(rejects)}").fetchall()
        con.execute(f"DROP TABLE IF EXISTS {sql_ident(rejects)}")
        con.execute(f"DROP TABLE IF EXISTS {sql_ident(rejects + '_scan')}")
    rejected = sorted({(_line_of(text), _reason(kind, len(names))) for text, kind in found})
    if cut is not None and any(line == cut for line, _ in rejected):
        raise file_error(shown, cut, 1, "the file ends in the middle of this row "
                         "(truncated?)", "export the file again")
    rows = con.execute(f"SELECT count(*) FROM {sql_ident(table)}").fetchone()[0]
    if rejected and not rows:
        line, reason = rejected[0]
        raise file_error(shown, line, 1, f"no row can be read: {reason}",
                         "check data.csv (delimiter, quote, header) against the file")
    return Delimited(table, names, rows, rejected)


def _line_of(csv_line: str) -> int:
    """The line number the copy wrote at the start of a rejected record."""
    digits = re.match(r"\d+", csv_line)
    return int(digits.group(0)) if digits else 0


def _reason(kind: str, width: int) -> str:
    if kind == "TOO MANY COLUMNS":
        return f"more fields than the {width} columns of the header"
    if kind == "MISSING COLUMNS":
        return f"fewer fields than the {width} columns of the header"
    return kind.lower()
