"""Attach a shop's data to DuckDB as the canonical tables, and report data problems.

A shop's export is used as is: `shop.yaml` says where it is and how its columns are
named. This module builds the views `customers`, `orders` and `events` with canonical
names and types, checks that every column the plan needs exists (naming the plan line
that needs it), and cleans what would otherwise poison a build: duplicate ids, orders of
unknown customers, negative amounts, rows dated after the as-of date. Problems are
counted with a few examples (contact details masked) and never crash a build;
`--strict` turns them into errors.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from crmspec.channels import EMAIL_RE, MOBILE_RE
from crmspec.diagnostics import Diagnostic, PlanError
from crmspec.mask import mask_value
from crmspec.model import DataSource, Src
from crmspec.tables import TABLES

SUFFIX = {"parquet": ".parquet", "csv": ".csv", "demo": ".parquet"}


@dataclass
class DataProblem:
    code: str  # short name, e.g. orders_unknown_customer
    table: str
    count: int
    message: str
    examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"code": self.code, "table": self.table, "count": self.count,
                "message": self.message, "examples": self.examples}


@dataclass
class AttachedData:
    problems: list[DataProblem]
    fingerprint: str
    rows: dict[str, int]
    last_order_date: date | None
    as_of: date


def _quote_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _relation(con: duckdb.DuckDBPyConnection, ds: DataSource, root: Path, table: str) -> str:
    """FROM-clause text reading one source table; raises PlanError when it is missing."""
    name = ds.tables.get(table)
    where = ds.src.at("tables", table) if name else ds.src.at("path")
    base = (root / ds.path).resolve()
    if ds.source == "duckdb":
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'shopdata'"
        ).fetchall()}
        name = name or table
        if name not in tables:
            raise PlanError([where.diag(
                "E402", f"table '{name}' ({table}) not found in {ds.path}",
                "tables there: " + (", ".join(sorted(tables)) or "none")
                + f"; map it with data.tables.{table}")])
        return f"shopdata.main.{_ident(name)}"
    file = base / (name or f"{table}{SUFFIX[ds.source]}")
    if not file.exists():
        raise PlanError([where.diag(
            "E402", f"{table} data not found: "
            f"{file.relative_to(root) if file.is_relative_to(root) else file}",
            f"put the {table} export there or set data.tables.{table} to its file name")])
    if ds.source == "csv":
        return f"read_csv({_quote_str(str(file))}, header = true, auto_detect = true)"
    return f"read_parquet({_quote_str(str(file))})"


def _map_columns(con, ds: DataSource, table: str, relation: str, needs: dict[str, Src]
                 ) -> tuple[str, list[DataProblem]]:
    """The select list renaming and casting the source columns to the canonical ones."""
    described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    present = [r[0] for r in described]
    types = {r[0]: r[1] for r in described}
    mapping = ds.columns.get(table, {})
    known = {c.name for c in TABLES[table]}
    bad_keys = [k for k in mapping if k not in known]
    if bad_keys:
        raise PlanError([ds.src.at("columns", table, bad_keys[0]).diag(
            "E301", f"'{bad_keys[0]}' is not a column of the canonical {table} table",
            "canonical columns: " + ", ".join(sorted(known)), key=True)])
    selects, missing, to_check = [], [], []
    for c in TABLES[table]:
        src_name = mapping.get(c.name, c.name)
        # The plan line to blame: the mapping if there is one, else the line using it.
        where = (ds.src.at("columns", table, c.name) if c.name in mapping
                 else needs.get(c.name, ds.src))
        if src_name in present:
            selects.append(f"TRY_CAST({_ident(src_name)} AS {c.type}) AS {c.name}")
            if c.type != "VARCHAR" and types[src_name] != c.type:
                to_check.append((c, src_name, where))
            continue
        if c.required or c.name in needs:
            needed = ("the canonical table requires it" if c.required else "the plan uses it"
                      + ("" if c.name in mapping else " here"))
            missing.append(where.diag(
                "E403", f"column '{src_name}' ({table}.{c.name}) not found in the {table} data; "
                f"{needed}",
                f"columns there: {', '.join(present)}; map it with "
                f"data.columns.{table}.{c.name}"))
            continue
        selects.append(f"CAST(NULL AS {c.type}) AS {c.name}")
    if missing:
        raise PlanError(missing)
    problems = _unreadable_values(con, table, relation, to_check)
    return ", ".join(selects), problems


def _unreadable_values(con, table: str, relation: str, columns: list) -> list[DataProblem]:
    """Values that do not cast to the canonical type (they would silently read as empty).

    A column none of whose values can be read is the wrong column or the wrong format:
    E405. A few unreadable values are a data problem like any other.
    """
    if not columns:
        return []
    counts = con.execute("SELECT " + ", ".join(
        f"count({_ident(name)}), count(TRY_CAST({_ident(name)} AS {c.type}))"
        for c, name, _ in columns) + f" FROM {relation}").fetchone()
    errors, problems = [], []
    for i, (c, name, where) in enumerate(columns):
        values, readable = counts[2 * i], counts[2 * i + 1]
        if values == readable:
            continue
        examples = _examples(con, f"SELECT DISTINCT CAST({_ident(name)} AS VARCHAR) FROM "
                             f"{relation} WHERE {_ident(name)} IS NOT NULL AND "
                             f"TRY_CAST({_ident(name)} AS {c.type}) IS NULL ORDER BY 1")
        if readable == 0:
            errors.append(where.diag(
                "E405", f"column '{name}' ({table}.{c.name}) cannot be read as {c.type}: none "
                f"of its {values} values can (e.g. {', '.join(examples)})",
                f"fix the export, or map data.columns.{table}.{c.name} to the right column"))
        else:
            problems.append(DataProblem(
                f"{table}_bad_{c.name}", table, values - readable,
                f"{c.name} values that are not {c.type} (read as empty)", examples))
    if errors:
        raise PlanError(errors)
    return problems


def _count(con, sql: str) -> int:
    return con.execute(sql).fetchone()[0]


def _examples(con, sql: str, masked: bool = False) -> list[str]:
    rows = [r[0] for r in con.execute(sql + " LIMIT 3").fetchall()]
    return [mask_value(str(v)) if masked else str(v) for v in rows]


def attach(con: duckdb.DuckDBPyConnection, ds: DataSource, root: Path, as_of: date | None,
           needs: dict[str, Src]) -> AttachedData:
    """Create the canonical tables on `con` as of a date (None: the day after the last order).

    Rows dated after the as-of date are left out: as of that day they had not happened.

    `customers`, `orders` and `events` are views over Parquet and DuckDB sources: a
    build reads a few columns of them a few times, which costs less than copying 10M
    orders and 20M events into memory (and under the build's memory cap, spilling them
    to disk); `crmspec kpi` never reads the events. CSV sources are parsed once into
    tables.
    Each table is checked in one pass that also takes its fingerprint.
    """
    if ds.source == "duckdb":
        db = (root / ds.path).resolve()
        if not db.exists():
            raise PlanError([ds.src.at("path").diag(
                "E401", f"database file {ds.path} not found", "check data.path in shop.yaml")])
        con.execute(f"ATTACH {_quote_str(str(db))} AS shopdata (READ_ONLY)")
    elif not (root / ds.path).is_dir():
        raise PlanError([ds.src.at("path").diag(
            "E401", f"data folder {ds.path} not found", "check data.path in shop.yaml")])
    # Every missing table and column at once, not one per build attempt.
    relations: dict[str, str] = {}
    errors: list[Diagnostic] = []
    for table in TABLES:
        try:
            relations[table] = _relation(con, ds, root, table)
        except PlanError as exc:
            errors += exc.diagnostics
    if errors:
        raise PlanError(errors)
    problems: list[DataProblem] = []
    selects: dict[str, str] = {}
    for table, rel in relations.items():
        if ds.source == "csv":  # parse once, not on every read
            con.execute(f"CREATE OR REPLACE TEMP TABLE src_{table} AS SELECT * FROM {rel}")
            relations[table] = rel = f"src_{table}"
        try:
            selects[table], found = _map_columns(con, ds, table, rel,
                                                 needs if table == "customers" else {})
        except PlanError as exc:
            errors += exc.diagnostics
            continue
        problems += found
        con.execute(f"CREATE OR REPLACE TEMP VIEW raw_{table} AS SELECT {selects[table]} "
                    f"FROM {rel}")
    if errors:
        raise PlanError(errors)
    last = con.execute("SELECT max(CAST(created_at AS DATE)) FROM raw_orders").fetchone()[0]
    if as_of is None:
        if last is None:
            raise PlanError([ds.src.diag(
                "E402", "the orders data is empty, so there is no latest date to build as of",
                "pass --as-of DATE or set as_of in shop.yaml")])
        as_of = last + timedelta(days=1)
    cleaned = _clean(con, relations, selects, f"TIMESTAMP '{as_of.isoformat()} 23:59:59.999999'",
                     "TABLE" if ds.source == "csv" else "VIEW")
    problems += cleaned.problems
    return AttachedData(problems, cleaned.fingerprint, cleaned.rows, last, as_of)


@dataclass
class _Cleaned:
    problems: list[DataProblem]
    rows: dict[str, int]
    fingerprint: str


# The order statuses and event types a build knows; rows with others are left out.
_ORDER_STATUSES = "('unpaid', 'paid', 'closed', 'refunded')"
_EVENT_TYPES = "('visit', 'favorite', 'cart', 'inquiry', 'search', 'ad_click')"


def _clean(con, relations: dict[str, str], selects: dict[str, str], end: str, kind: str
           ) -> _Cleaned:
    """Clean canonical `customers`, `orders` and `events` (`kind`: VIEW or TABLE) up to
    `end` (a TIMESTAMP literal); count the problems and hash the rows.

    One aggregate pass per table counts every problem, the rows kept and the
    order-independent row hash (the fingerprint) together: at 10M orders each separate
    count was a full scan. Examples are only looked up for problems that occur.
    """
    problems: list[DataProblem] = []

    def report(code: str, table: str, n: int, message: str, rows: str, example: str,
               order: str = "1", masked: bool = False, distinct: bool = False) -> None:
        """A problem of `n` rows of `rows` (a FROM clause): up to three `example` values."""
        if n:
            pick = "DISTINCT " if distinct else ""
            problems.append(DataProblem(code, table, n, message, _examples(
                con, f"SELECT {pick}{example} FROM {rows} ORDER BY {order}", masked)))

    def scan(table: str, counts: dict[str, str], join_customers: bool, key: str | None = None
             ) -> dict[str, int]:
        """count(*) FILTER (WHERE cond) per name, plus n, the row hash and (`key`: an id
        column) the number of distinct hashes of the ids, in one pass."""
        cols = "".join(f",\n  count(*) FILTER (WHERE {cond}) AS {name}"
                       for name, cond in counts.items())
        names = ["n", "h", *counts]
        if key:  # counted here, the ids are not read a second time when all differ
            cols += f",\n  count(DISTINCT hash({key})) AS keys"
            names.append("keys")
        # The hash is of the source row as exported (every column, mapped or not).
        frm = (f"(SELECT {selects[table]}, hash(src) AS _row_hash "
               f"FROM {relations[table]} AS src) AS o")
        joined = (" LEFT JOIN (SELECT customer_id AS known_id FROM customers) AS c "
                  "ON c.known_id = o.customer_id" if join_customers else "")
        row = con.execute(f"SELECT count(*) AS n, coalesce(sum(_row_hash::HUGEINT), 0) AS h"
                          f"{cols}\nFROM {frm}{joined}").fetchone()
        return dict(zip(names, row, strict=True))

    def duplicates(table: str, column: str, n: dict[str, int]) -> int:
        """Ids listed more than once. Equal ids have equal hashes, so as many distinct
        hashes as rows (counted by the scan) means no duplicates; only otherwise are the
        ids themselves grouped."""
        if n["keys"] == n["n"]:
            return 0
        return _count(con, f"SELECT count(*) FROM (SELECT {column} FROM raw_{table} "
                           "GROUP BY 1 HAVING count(*) > 1)")

    bad = "{col} IS NOT NULL AND NOT regexp_full_match({col}, {pattern})"
    phone_bad = bad.format(col="phone", pattern=_quote_str(MOBILE_RE))
    email_bad = bad.format(col="email", pattern=_quote_str(EMAIL_RE))
    hashes: dict[str, tuple[int, int]] = {}
    rows: dict[str, int] = {}
    # customers
    n = scan("customers", {"missing_id": "customer_id IS NULL", "bad_phone": phone_bad,
                           "bad_email": email_bad}, join_customers=False, key="customer_id")
    hashes["customers"] = (n["n"], n["h"])
    report("customers_missing_id", "customers", n["missing_id"],
           "customers without an id (ignored)",
           "raw_customers WHERE customer_id IS NULL", "coalesce(nick, '?')")
    dup_ids = duplicates("customers", "customer_id", n) if n["n"] - n["missing_id"] else 0
    report("customers_duplicate_id", "customers", dup_ids,
           "customer ids listed more than once (the first by registered_at is kept)",
           "(SELECT customer_id FROM raw_customers WHERE customer_id IS NOT NULL "
           "GROUP BY 1 HAVING count(*) > 1) AS d", "customer_id")
    report("customers_bad_phone", "customers", n["bad_phone"],
           "phone numbers that are not valid mainland mobile numbers (not reachable by SMS)",
           "raw_customers WHERE " + phone_bad, "phone", order="customer_id", masked=True)
    report("customers_bad_email", "customers", n["bad_email"],
           "email addresses that are not valid (not reachable by email)",
           "raw_customers WHERE " + email_bad, "email", order="customer_id", masked=True)
    # Without duplicate ids there is nothing to pick from: no window over every row.
    first_row = ("QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY registered_at "
                 "NULLS LAST, phone NULLS LAST, email NULLS LAST, nick NULLS LAST) = 1")
    con.execute(f"""CREATE OR REPLACE TEMP {kind} customers AS
        SELECT * EXCLUDE (opt_out_sms, opt_out_email, opt_out_wechat, opt_out_phone, opt_out_all),
          coalesce(opt_out_sms, false) AS opt_out_sms,
          coalesce(opt_out_email, false) AS opt_out_email,
          coalesce(opt_out_wechat, false) AS opt_out_wechat,
          coalesce(opt_out_phone, false) AS opt_out_phone,
          coalesce(opt_out_all, false) AS opt_out_all
        FROM raw_customers {"WHERE customer_id IS NOT NULL" if n["missing_id"] else ""}
        {first_row if dup_ids else ""}""")
    rows["customers"] = (_count(con, "SELECT count(*) FROM customers") if dup_ids
                         else n["n"] - n["missing_id"])
    # orders
    kept = ("order_id IS NOT NULL AND created_at IS NOT NULL AND amount IS NOT NULL "
            f"AND amount >= 0 AND created_at <= {end} AND status IN {_ORDER_STATUSES}")
    n = scan("orders", {
        "unknown": "c.known_id IS NULL",
        "negative": "amount < 0",
        "bad_status": f"status IS NULL OR status NOT IN {_ORDER_STATUSES}",
        "missing": "order_id IS NULL OR created_at IS NULL OR amount IS NULL",
        "after": f"created_at > {end}",
        "kept": f"c.known_id IS NOT NULL AND {kept}",
        "paid_later": f"paid_at > {end}",
        "shipped_later": f"shipped_at > {end}",
        "signed_later": f"signed_at > {end}",
    }, join_customers=True, key="order_id")
    hashes["orders"] = (n["n"], n["h"])
    dup_ids = duplicates("orders", "order_id", n)
    report("orders_duplicate_id", "orders", dup_ids,
           "order ids listed more than once (one is kept)",
           "(SELECT order_id FROM raw_orders GROUP BY 1 HAVING count(*) > 1) AS d", "order_id")
    report("orders_unknown_customer", "orders", n["unknown"],
           "orders of customers not in customers (ignored)",
           "raw_orders o ANTI JOIN customers c USING (customer_id)", "order_id",
           order="order_id")
    report("orders_negative_amount", "orders", n["negative"],
           "orders with a negative amount (ignored)", "raw_orders WHERE amount < 0", "order_id",
           order="order_id")
    report("orders_bad_status", "orders", n["bad_status"],
           "orders with a status other than unpaid/paid/closed/refunded (ignored)",
           f"raw_orders WHERE status IS NULL OR status NOT IN {_ORDER_STATUSES}", "order_id",
           order="order_id")
    report("orders_missing_values", "orders", n["missing"],
           "orders without id, creation time or amount (ignored)",
           "raw_orders WHERE order_id IS NULL OR created_at IS NULL OR amount IS NULL",
           "coalesce(order_id, '(no id)')")
    report("orders_after_as_of", "orders", n["after"],
           "orders created after the as-of date (ignored)",
           f"raw_orders WHERE created_at > {end}", "order_id", order="order_id")
    # Only when there are orders of unknown customers: a join under the view would keep
    # DuckDB from pushing readers' filters (e.g. on signed_at) down to the file scan.
    known = "SEMI JOIN customers c USING (customer_id)"
    first_order = ("QUALIFY row_number() OVER (PARTITION BY order_id "
                   "ORDER BY created_at, customer_id) = 1")
    # A payment/shipment/signature after the as-of date had not happened yet as of then.
    # Not sorted: every reader orders or aggregates.
    # Each cleaning step only where its check found something: on clean data the views
    # are plain projections of the files, so readers' filters reach the Parquet scan.
    def later(column: str) -> str:
        return (f"CASE WHEN {column} <= {end} THEN {column} END AS {column}"
                if n[f"{column.split('_')[0]}_later"] else column)

    status = (f"CASE WHEN status IN ('paid', 'refunded') AND NOT (paid_at <= {end}) "
              "THEN 'unpaid' ELSE status END AS status" if n["paid_later"] else "status")
    where = [cond for count, cond in (
        ("missing", "order_id IS NOT NULL AND created_at IS NOT NULL AND amount IS NOT NULL"),
        ("negative", "amount >= 0"), ("after", f"created_at <= {end}"),
        ("bad_status", f"status IN {_ORDER_STATUSES}")) if n[count]]
    con.execute(f"""CREATE OR REPLACE TEMP {kind} orders AS
        SELECT order_id, customer_id, created_at, {later("paid_at")}, {later("shipped_at")},
          {later("signed_at")}, amount, {status}, source
        FROM raw_orders o {known if n["unknown"] else ""}
        {"WHERE " + " AND ".join(where) if where else ""}
        {first_order if dup_ids else ""}""")
    rows["orders"] = _count(con, "SELECT count(*) FROM orders") if dup_ids else n["kept"]
    # events
    n = scan("events", {
        "unknown": "c.known_id IS NULL",
        "bad_type": f"event_type IS NULL OR event_type NOT IN {_EVENT_TYPES}",
        "after": f"event_at > {end}",
        "kept": f"c.known_id IS NOT NULL AND event_at IS NOT NULL AND event_at <= {end} "
                f"AND event_type IN {_EVENT_TYPES}",
        "no_time": "event_at IS NULL",
    }, join_customers=True)
    hashes["events"] = (n["n"], n["h"])
    report("events_unknown_customer", "events", n["unknown"],
           "events of customers not in customers (ignored)",
           "raw_events e ANTI JOIN customers c USING (customer_id)", "customer_id",
           distinct=True)
    report("events_bad_type", "events", n["bad_type"],
           "events of a type other than visit/favorite/cart/inquiry/search/ad_click (ignored)",
           f"raw_events WHERE event_type IS NULL OR event_type NOT IN {_EVENT_TYPES}",
           "coalesce(event_type, '(empty)')", distinct=True)
    report("events_after_as_of", "events", n["after"], "events after the as-of date (ignored)",
           f"raw_events WHERE event_at > {end}", "customer_id", order="customer_id")
    where = [cond for count, cond in (
        ("no_time", "event_at IS NOT NULL"), ("after", f"event_at <= {end}"),
        ("bad_type", f"event_type IN {_EVENT_TYPES}")) if n[count]]
    con.execute(f"""CREATE OR REPLACE TEMP {kind} events AS
        SELECT e.* FROM raw_events e {known if n["unknown"] else ""}
        {"WHERE " + " AND ".join(where) if where else ""}""")
    rows["events"] = n["kept"]
    h = hashlib.sha256()
    for table in sorted(hashes):
        count, total = hashes[table]
        h.update(f"{table}:{count}:{total};".encode())
    return _Cleaned(problems, rows, h.hexdigest()[:16])


def problems_as_diagnostics(problems: list[DataProblem], src: Src, strict: bool
                            ) -> list[Diagnostic]:
    code = "E404" if strict else "W404"
    out = []
    for p in problems:
        ex = f" (e.g. {', '.join(p.examples)})" if p.examples else ""
        out.append(src.diag(code, f"{p.table}: {p.count} {p.message}{ex}",
                            "fix the export, or run without --strict to build anyway"
                            if strict else None))
    return out


def attach_suppressions(con: duckdb.DuckDBPyConnection, ds: DataSource, root: Path) -> int:
    """`suppressions` (customer_id, channel, reason): the do-not-contact list.

    Optional: a `suppressions` table in the DuckDB file or a suppressions.parquet/.csv in
    the data folder (data.tables.suppressions names another). A row with an empty channel
    suppresses the customer on every channel. Absent: an empty list.
    """
    name = ds.tables.get("suppressions")
    relation = None
    if ds.source == "duckdb":
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'shopdata'"
        ).fetchall()}
        if (name or "suppressions") in tables:
            relation = f"shopdata.main.{_ident(name or 'suppressions')}"
    else:
        file = (root / ds.path).resolve() / (name or f"suppressions{SUFFIX[ds.source]}")
        if file.exists():
            relation = (f"read_csv({_quote_str(str(file))}, header = true, auto_detect = true, "
                        "all_varchar = true)" if ds.source == "csv"
                        else f"read_parquet({_quote_str(str(file))})")
    if relation is None:
        con.execute("CREATE OR REPLACE TEMP TABLE suppressions (customer_id VARCHAR, "
                    "channel VARCHAR, reason VARCHAR)")
        return 0
    present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}
    if "customer_id" not in present:
        raise PlanError([ds.src.diag(
            "E403", "column 'customer_id' not found in the suppressions data",
            "a suppressions list has customer_id and optionally channel and reason")])
    channel = "NULLIF(TRIM(CAST(channel AS VARCHAR)), '')" if "channel" in present else "NULL"
    reason = "CAST(reason AS VARCHAR)" if "reason" in present else "NULL"
    con.execute(f"CREATE OR REPLACE TEMP TABLE suppressions AS SELECT DISTINCT "
                f"CAST(customer_id AS VARCHAR) AS customer_id, {channel} AS channel, "
                f"{reason} AS reason FROM {relation} WHERE customer_id IS NOT NULL")
    return con.execute("SELECT count(*) FROM suppressions").fetchone()[0]
