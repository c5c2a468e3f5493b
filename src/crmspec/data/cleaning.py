"""The checking pass over a shop's canonical tables: what would poison a build is
counted and left out, never crashed on.

Duplicate ids, orders of unknown customers, negative amounts, unknown statuses, rows
dated after the as-of date, malformed phone numbers and emails: each is a
`DataProblem` with a count and up to three examples (contact details masked). One
aggregate pass per table counts every problem together with the row count and the
table's fingerprint; what it need not test per row (ids in order, a Parquet file's
statistics, customer ids that fill a range) it does not (docs/data.md). `--strict`
turns the problems into errors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from crmspec.core.addresses import EMAIL_RE, MOBILE_RE
from crmspec.core.diagnostics import Diagnostic, Src
from crmspec.core.mask import mask_text, mask_value
from crmspec.core.sql import sql_str
from crmspec.data.checkcache import CheckCache
from crmspec.data.stats import Bounds
from crmspec.data.tables import EVENT_TYPES, ORDER_STATUSES


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


def _count(con, sql: str) -> int:
    return con.execute(sql).fetchone()[0]


EXAMPLE_CHARS = 40  # an example shows which value is meant, not a whole field


def value_examples(con, sql: str, masked: bool = False) -> list[str]:
    """Up to three example values, collected masked: `masked` for a contact column (every
    value is an address: `mask_value`), any other column with the phone numbers and
    emails inside it masked (a mapping may point `birthday` at the phone column), and
    cut to EXAMPLE_CHARS characters."""
    rows = [r[0] for r in con.execute(sql + " LIMIT 3").fetchall()]
    out = []
    for v in rows:
        text = mask_value(str(v)) if masked else mask_text(str(v))
        out.append(text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS - 1] + "…")
    return out


@dataclass
class Cleaned:
    problems: list[DataProblem]
    rows: dict[str, int]
    fingerprint: str


# The order statuses and event types a build knows; rows with others are left out.
_ORDER_STATUSES = "(" + ", ".join(map(sql_str, ORDER_STATUSES)) + ")"
_EVENT_TYPES = "(" + ", ".join(map(sql_str, EVENT_TYPES)) + ")"


def clean(con, relations: dict[str, str], selects: dict[str, str], end: str, kind: str,
          cache: CheckCache | None = None, keys: dict[str, str] | None = None,
          bounds: dict[str, dict[str, Bounds]] | None = None) -> Cleaned:
    """Clean canonical `customers`, `orders` and `events` (`kind`: VIEW or TABLE) up to
    `end` (a TIMESTAMP literal); count the problems and hash the rows.

    One aggregate pass per table counts every problem, the rows kept and the
    order-independent row hash (the fingerprint) together: at 10M orders each separate
    count was a full scan. Examples are only looked up for problems that occur.
    `cache`: the scans' results and the problems' examples (masked) of an earlier run
    over the same files (`crmspec.data.checkcache`); the views are made as without it.
    At 1M customers the examples of the demo's invalid phones and emails were 0.46 CPU
    s of a re-run's 0.5 s of checks.
    `keys`: per table, an expression over its source row `src` that is a function of
    the id (`customer_id`, `order_id`) and ranks as the export's ids do, e.g. the
    integer column a text id is cast from (`ids_in_order`); default the id itself.
    `bounds`: per table, per canonical column, what the file's statistics prove about
    it over every row (`crmspec.data.stats`): a count they prove to be 0 is not made.

    What each pass costs at 1M customers (10M orders, 20M events) and why it is written
    so (benchmarks/README.md, issue 16): counting distinct id hashes was 1.6-2 CPU s of
    the orders' pass, the ids' order proves them distinct for 0.1 (`ids_in_order`);
    `status IN (...)` and `event_type IN (...)` tested on every row cost 0.2 and 0.6,
    grouping by the (dictionary-encoded) column and testing the few values costs 0.06.
    """
    problems: list[DataProblem] = []

    def report(code: str, table: str, n: int, message: str, rows: str, example: str,
               order: str = "1", masked: bool = False, distinct: bool = False) -> None:
        """A problem of `n` rows of `rows` (a FROM clause): up to three `example` values."""
        if n:
            pick = "DISTINCT " if distinct else ""
            sql = f"SELECT {pick}{example} FROM {rows} ORDER BY {order}"
            # Keyed by the tables' mappings too: `rows` names the views (raw_<table>,
            # and customers, made from raw_customers).
            key = "\n".join([f"examples{' masked' if masked else ''}: {sql}"]
                            + [raw(t) for t in sorted(relations)])
            problems.append(DataProblem(code, table, n, message, cached(
                key, lambda _: value_examples(con, sql, masked))))

    def never(table: str, column: str, test: str) -> bool:
        """Whether `bounds` prove that no row of `table` has `column` NULL (`test`
        "null"), below 0 ("negative") or after `end` ("after")."""
        b = (bounds or {}).get(table, {}).get(column)
        if b is None:
            return False
        if test == "null":
            return b.nulls == 0
        if b.nulls == b.rows:
            return True  # no value at all
        if b.lo is None or b.hi is None:
            return False
        sql = f"SELECT {b.lo} >= 0" if test == "negative" else f"SELECT {b.hi} <= {end}"
        return bool(con.execute(sql).fetchone()[0])

    def unless(proven: bool, cond: str) -> str:
        """`cond`, or "false" (a count not made) when the statistics prove it never holds."""
        return "false" if proven else cond

    def raw(table: str) -> str:
        """The canonical table as a FROM clause that spells out its mapping (`raw_<table>`
        is the same view): a cached result is keyed by the SQL, which must say what it
        read."""
        return f"(SELECT {selects[table]} FROM {relations[table]} AS src)"

    def cached(sql: str, run) -> list:
        """`run(sql)`'s row of results, or the one an earlier run over the same files
        stored for the same SQL."""
        row = cache.get(sql) if cache is not None else None
        if row is None:
            row = list(run(sql))
            if cache is not None:
                cache.put(sql, row)
        return row

    def scan(table: str, counts: dict[str, str | None], join_customers: bool,
             group: tuple[str, frozenset[str], dict[str, frozenset[str] | None]] | None = None
             ) -> dict[str, int]:
        """count(*) FILTER (WHERE cond) per name, plus n and the row hash, in one pass.

        `group`: (column, known values, name -> values) groups the pass by a column of
        few values (an order's status, an event's type), so that no test of it runs per
        row: a name in the mapping is counted over the groups of those values only (None:
        of every other value, NULL included), a name without a condition counts rows."""
        names = ["n", "h", *counts]
        made = {name: cond for name, cond in counts.items() if cond not in (None, "false")}
        measured = ["n", "h", *made]
        cols = "".join(f",\n  count(*) FILTER (WHERE {cond}) AS {name}"
                       for name, cond in made.items())
        # The hash is of the source row as exported (every column, mapped or not).
        frm = (f"(SELECT {selects[table]}, hash(src) AS _row_hash "
               f"FROM {relations[table]} AS src) AS o")
        joined = (" LEFT JOIN (SELECT customer_id AS known_id FROM customers) AS c "
                  "ON c.known_id = o.customer_id" if join_customers else "")

        def counted(got: dict[str, int], name: str) -> int:
            cond = counts.get(name, "")
            return 0 if cond == "false" else got["n"] if cond is None else got[name]

        if group is None:
            sql = (f"SELECT count(*) AS n, coalesce(sum(_row_hash::HUGEINT), 0) AS h"
                   f"{cols}\nFROM {frm}{joined}")

            def total(q: str) -> list[int]:
                got = dict(zip(measured, con.execute(q).fetchone(), strict=True))
                return [counted(got, name) for name in names]

            return dict(zip(names, cached(sql, total), strict=True))
        column, known, only = group
        sql = (f"SELECT {column}, count(*) AS n, sum(_row_hash::HUGEINT) AS h{cols}\n"
               f"FROM {frm}{joined}\nGROUP BY ALL")

        def totals(q: str) -> list[int]:
            out = dict.fromkeys(names, 0)
            for value, *row in con.execute(q).fetchall():
                got = dict(zip(measured, row, strict=True))
                for name in names:
                    values = only.get(name)
                    if name not in only or (value not in known if values is None
                                            else value in values):
                        out[name] += counted(got, name)
            return [out[name] for name in names]

        return dict(zip(names, cached(sql, totals), strict=True))

    def ids_in_order(table: str, column: str) -> bool:
        """Whether the ids are all there and each is greater than the one before it (in
        the order the rows are read; any order would do): then they differ, proven by
        one pass over the id column instead of counting distinct ids (10M hashes at 1M
        customers). Text ids are tried as text and as numbers ("9" < "10").

        Only where rows are read in an order: a connection whose rows have none (Spark's,
        `ordered_rows = False`: a window needs an ORDER BY there) groups the ids."""
        if not getattr(con, "ordered_rows", True):
            return False
        key = (keys or {}).get(table)
        rel = (f"(SELECT {key} AS k FROM {relations[table]} AS src)" if key
               else f"(SELECT {column} AS k FROM {raw(table)})")
        text = not key and con.execute(
            f"SELECT typeof({column}) = 'VARCHAR' FROM raw_{table} LIMIT 1").fetchone()
        tests = ["count(*) FILTER (WHERE k IS NULL OR k <= p)"]
        inner = "k, lag(k) OVER () AS p"
        if text and text[0]:
            inner += ", TRY_CAST(k AS HUGEINT) AS x, lag(TRY_CAST(k AS HUGEINT)) OVER () AS xp"
            tests.append("count(*) FILTER (WHERE x IS NULL OR x <= xp)")
        sql = f"SELECT {', '.join(tests)} FROM (SELECT {inner} FROM {rel})"
        return 0 in cached(sql, lambda q: con.execute(q).fetchone())

    def duplicates(table: str, column: str) -> int:
        """Ids listed more than once: 0 when `ids_in_order` proves them distinct, else
        the ids are grouped."""
        if ids_in_order(table, column):
            return 0
        sql = (f"SELECT count(*) FROM (SELECT {column} FROM {raw(table)} "
               "GROUP BY 1 HAVING count(*) > 1)")
        return cached(sql, lambda q: con.execute(q).fetchone())[0]

    def customers_known(count: int, dup_ids: int
                        ) -> tuple[Callable[[str], str], Callable[[str], list[str]], bool]:
        """How a row of orders or events is found to be of a known customer: (the test
        of an unknown one, the tests of a known one, whether it needs the join with
        `customers`).

        The join probes the customers' ids once per row (0.7 CPU s of the orders' pass at
        1M customers). Integer ids that are every number of a range (as many distinct ids
        as the range has numbers: an auto-increment table without gaps) need no join: a
        row's customer is known when its id is in the range, and when the file's
        statistics put every row's id in it (`bounds`), that is never tested per row."""
        join = ("c.known_id IS NULL", ["c.known_id IS NOT NULL"], True)
        if not count or dup_ids or con.execute(
                "SELECT typeof(customer_id) FROM raw_customers LIMIT 1").fetchone() != (
                "BIGINT",):
            return (lambda _: join[0]), (lambda _: join[1]), True
        lo, hi = (int(v) for v in cached(
            f"SELECT min(customer_id), max(customer_id) FROM {raw('customers')}",
            lambda q: con.execute(q).fetchone()))
        if hi - lo + 1 != count:
            return (lambda _: join[0]), (lambda _: join[1]), True

        def inside(table: str) -> bool:
            b = (bounds or {}).get(table, {}).get("customer_id")
            return b is not None and b.nulls == 0 and b.lo is not None and b.hi is not None \
                and bool(con.execute(f"SELECT {b.lo} >= {lo} AND {b.hi} <= {hi}").fetchone()[0])

        def unknown_test(table: str) -> str:
            return unless(inside(table), f"customer_id IS NULL OR customer_id < {lo} "
                                         f"OR customer_id > {hi}")

        def known_tests(table: str) -> list[str]:
            return [] if inside(table) else [f"customer_id BETWEEN {lo} AND {hi}"]

        return unknown_test, known_tests, False

    bad = "{col} IS NOT NULL AND NOT regexp_full_match({col}, {pattern})"
    phone_bad = bad.format(col="phone", pattern=sql_str(MOBILE_RE))
    email_bad = bad.format(col="email", pattern=sql_str(EMAIL_RE))
    hashes: dict[str, tuple[int, int]] = {}
    rows: dict[str, int] = {}
    # customers
    n = scan("customers", {"missing_id": unless(never("customers", "customer_id", "null"),
                                                "customer_id IS NULL"), "bad_phone": phone_bad,
                           "bad_email": email_bad}, join_customers=False)
    hashes["customers"] = (n["n"], n["h"])
    report("customers_missing_id", "customers", n["missing_id"],
           "customers without an id (ignored)",
           "raw_customers WHERE customer_id IS NULL", "coalesce(nick, '?')")
    dup_ids = duplicates("customers", "customer_id") if n["n"] - n["missing_id"] else 0
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
    unknown_of, known_of, join = customers_known(rows["customers"], dup_ids)
    # orders
    # What the file's statistics rule out is neither counted nor tested for the rows kept.
    no_null = {c: never("orders", c, "null") for c in ("order_id", "created_at", "amount")}
    no_negative, none_after = never("orders", "amount", "negative"), {
        c: never("orders", c, "after") for c in ("created_at", "paid_at", "shipped_at",
                                                 "signed_at")}
    kept = " AND ".join(known_of("orders") + [
        f"{c} IS NOT NULL" for c, proven in no_null.items() if not proven] + [
        cond for proven, cond in ((no_negative, "amount >= 0"),
                                  (none_after["created_at"], f"created_at <= {end}"))
        if not proven])
    statuses = frozenset(ORDER_STATUSES)
    n = scan("orders", {
        "unknown": unknown_of("orders"),
        "negative": unless(no_negative, "amount < 0"),
        "bad_status": None,  # the rows of the other statuses (NULL included)
        "missing": " OR ".join(f"{c} IS NULL" for c, proven in no_null.items()
                               if not proven) or "false",
        "after": unless(none_after["created_at"], f"created_at > {end}"),
        "kept": kept or None,  # of the known statuses
        "paid_later": unless(none_after["paid_at"], f"paid_at > {end}"),
        "paid_no_time": unless(never("orders", "paid_at", "null"),
                               "paid_at IS NULL"),  # of paid and refunded orders
        "shipped_later": unless(none_after["shipped_at"], f"shipped_at > {end}"),
        "signed_later": unless(none_after["signed_at"], f"signed_at > {end}"),
    }, join_customers=join, group=("status", statuses, {
        "bad_status": None, "kept": statuses, "paid_no_time": frozenset({"paid", "refunded"})}))
    hashes["orders"] = (n["n"], n["h"])
    dup_ids = duplicates("orders", "order_id")
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
    report("orders_paid_without_time", "orders", n["paid_no_time"],
           "paid orders without a payment time (dated by their creation time)",
           "raw_orders WHERE status IN ('paid', 'refunded') AND paid_at IS NULL", "order_id",
           order="order_id")
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
    # A paid order without a payment time is dated by its creation (docs/data.md).
    paid = ("coalesce(paid_at, CASE WHEN status IN ('paid', 'refunded') THEN created_at END)"
            if n["paid_no_time"] else "paid_at")

    def later(column: str, value: str | None = None) -> str:
        value = value or column
        if not n[f"{column.split('_')[0]}_later"]:
            return value if value == column else f"{value} AS {column}"
        return f"CASE WHEN {value} <= {end} THEN {value} END AS {column}"

    status = (f"CASE WHEN status IN ('paid', 'refunded') AND NOT ({paid} <= {end}) "
              "THEN 'unpaid' ELSE status END AS status" if n["paid_later"] else "status")
    where = [cond for count, cond in (
        ("missing", "order_id IS NOT NULL AND created_at IS NOT NULL AND amount IS NOT NULL"),
        ("negative", "amount >= 0"), ("after", f"created_at <= {end}"),
        ("bad_status", f"status IN {_ORDER_STATUSES}")) if n[count]]
    con.execute(f"""CREATE OR REPLACE TEMP {kind} orders AS
        SELECT order_id, customer_id, created_at, {later("paid_at", paid)}, {later("shipped_at")},
          {later("signed_at")}, amount, {status}, source
        FROM raw_orders o {known if n["unknown"] else ""}
        {"WHERE " + " AND ".join(where) if where else ""}
        {first_order if dup_ids else ""}""")
    rows["orders"] = _count(con, "SELECT count(*) FROM orders") if dup_ids else n["kept"]
    # events
    types = frozenset(EVENT_TYPES)
    no_time, none_after = never("events", "event_at", "null"), never("events", "event_at",
                                                                     "after")
    n = scan("events", {
        "unknown": unknown_of("events"),
        "bad_type": None,  # the rows of the other types (NULL included)
        "after": unless(none_after, f"event_at > {end}"),
        "kept": " AND ".join(known_of("events") + [cond for proven, cond in (
            (no_time, "event_at IS NOT NULL"), (none_after, f"event_at <= {end}"))
            if not proven]) or None,
        "no_time": unless(no_time, "event_at IS NULL"),
    }, join_customers=join, group=("event_type", types, {"bad_type": None, "kept": types}))
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
    return Cleaned(problems, rows, h.hexdigest()[:16])


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
