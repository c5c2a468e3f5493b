"""A synthetic Taobao/Tmall-style shop, so crmspec can be tried, tested and benchmarked
without anyone's customer data.

The data is shaped to exercise every part of a CRM plan: every lifecycle stage, every
member tier, an intent audience, a payment-reminder audience, promotion-day spikes,
opt-outs, and a few malformed contacts for the data-quality report to find.

Everything is generated inside DuckDB from `range()` tables. Randomness comes from
hashing (seed, row key, field name), never from `random()`: a hash is a pure function
of its inputs, so the same seed gives the same bytes whatever the thread count, and
no Python loop ever touches a row (a million customers take well under a minute).
"""

from __future__ import annotations

import math
import operator
import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from crmspec.data.settings import DataSource

__all__ = ["DemoSummary", "ensure_demo", "generate_demo"]


@dataclass(frozen=True)
class DemoSummary:
    """What was written, so callers can report it without re-reading the files."""

    path: Path
    customers: int
    orders: int
    events: int
    first_order: date
    last_order: date


_FILES = ("customers.parquet", "orders.parquet", "events.parquet")

# Orders span three years: long enough for a "dead" (365+ days) stage with history.
_WINDOW_DAYS = 1095

# Days before end_date of a customer's last paid order, as (first, last + 1, weight).
# As of end_date + 1 these are the after-sale, active, silent, sleeping, churning and
# dead stages; the weights make lapsed customers outnumber recent ones, as in a real shop.
_RECENCY_BANDS = (
    (0, 6, 2.0),
    (6, 44, 8.0),
    (44, 89, 8.0),
    (89, 139, 8.0),
    (139, 364, 28.0),
    (364, _WINDOW_DAYS, 46.0),
)

_NEVER_PAID = 0.08  # potential customers: registered, maybe ordered, never paid
_REFUNDED = 0.1  # per non-final purchase order; about 5% of all orders
_CLOSED_SIBLING = 0.02  # an order abandoned and placed again: about 4% of all orders
_PENDING = 0.012  # customers with an unpaid order in the last two days
_PROMO_SNAP = 0.3  # share of orders in the 30 days before a big promotion that wait for it
_EVENTS_DEFAULT = 8.0  # mean events per customer
_MAX_BASE_FREQUENCY = 200  # caps the Pareto tail: nobody orders daily for three years

# fmt: off
_SOURCES = (("organic", 35), ("search", 22), ("ad", 16), ("live", 15), ("group_buy", 12))

# (province, weight, typical city tier): tiers vary around the typical one per customer.
_PROVINCES = (
    ("广东", 13, 2), ("浙江", 9, 2), ("江苏", 9, 2), ("山东", 6, 3), ("上海", 6, 1),
    ("北京", 5, 1), ("四川", 5, 3), ("河南", 5, 4), ("湖北", 4, 3), ("福建", 4, 3),
    ("湖南", 3, 4), ("安徽", 3, 4), ("河北", 3, 4), ("辽宁", 2, 3), ("陕西", 2, 3),
    ("重庆", 2, 2), ("天津", 2, 2), ("江西", 2, 4), ("广西", 2, 4), ("云南", 2, 4),
    ("山西", 1, 4), ("黑龙江", 1, 4), ("吉林", 1, 4), ("贵州", 1, 4), ("内蒙古", 1, 4),
    ("新疆", 1, 4), ("甘肃", 1, 4), ("海南", 1, 3), ("宁夏", 1, 4), ("青海", 1, 4),
    ("西藏", 1, 4),
)
_TIER_OFFSETS = ((-1, 25), (0, 40), (1, 20), (2, 10), (3, 5))

_SURNAMES = (
    ("王", 7), ("李", 7), ("张", 7), ("刘", 5), ("陈", 5), ("杨", 3), ("黄", 2), ("赵", 2),
    ("吴", 2), ("周", 2), ("徐", 1), ("孙", 1), ("马", 1), ("朱", 1), ("胡", 1), ("郭", 1),
    ("何", 1), ("林", 1), ("高", 1), ("罗", 1), ("郑", 1), ("梁", 1), ("谢", 1), ("宋", 1),
    ("唐", 1), ("许", 1), ("韩", 1), ("冯", 1), ("邓", 1), ("曹", 1), ("彭", 1), ("曾", 1),
    ("肖", 1), ("田", 1), ("董", 1), ("袁", 1), ("潘", 1), ("蒋", 1), ("蔡", 1), ("余", 1),
    ("杜", 1), ("叶", 1), ("程", 1), ("苏", 1), ("魏", 1), ("吕", 1), ("丁", 1), ("沈", 1),
)
_GIVEN_F = tuple("芳娜敏静丽艳婷雪琳晶颖欣悦怡佳慧玲燕霞倩洁梅兰莉萍红秀丹")
_GIVEN_M = tuple("伟强磊军洋勇杰涛明超辉华鹏飞浩宇斌刚平亮健峰建文俊凯")
_PINYIN = (
    "xiao", "mei", "li", "hua", "ming", "jing", "yu", "ting", "wei", "lin", "chen", "wang",
    "zhang", "liu", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun", "ma", "zhu", "hu",
    "guo", "he", "gao", "luo", "zheng", "liang", "xie", "song", "tang", "han", "feng",
    "deng", "cao", "peng", "fang", "lei", "jie", "hao", "yan", "qing", "xin", "yue", "fei",
    "na", "min", "bao",
)
_NICK_HEADS = ("小", "阿", "大")
_NICK_TAILS = (("", 4), ("呀", 1), ("酱", 1), ("宝宝", 1), ("爱购物", 1))

_PHONE_PREFIXES = (
    *((f"13{d}", 4) for d in range(10)),
    *((f"15{d}", 3) for d in (0, 1, 2, 3, 5, 6, 7, 8, 9)),
    *((f"17{d}", 1) for d in (0, 1, 3, 5, 6, 7, 8)),
    *((f"18{d}", 3) for d in range(10)),
    *((f"19{d}", 1) for d in (1, 5, 8, 9)),
)
_EMAIL_DOMAINS = (
    ("qq.com", 55), ("163.com", 18), ("126.com", 9), ("sina.com", 6), ("gmail.com", 5),
)

# Online shoppers buy in the evening; promotion days also spike right after midnight.
_HOURS = (
    (0, 4), (1, 2), (2, 1), (3, 1), (4, 1), (5, 1), (6, 2), (7, 3), (8, 4), (9, 5), (10, 6),
    (11, 6), (12, 6), (13, 6), (14, 6), (15, 6), (16, 5), (17, 5), (18, 5), (19, 7), (20, 9),
    (21, 10), (22, 9), (23, 6),
)

# Codes follow the alphabetical order of the names, so sorting by code sorts by name.
_EVENT_TYPES = (
    (0, "ad_click", 8), (1, "cart", 12), (2, "favorite", 10), (3, "inquiry", 5),
    (4, "search", 15), (5, "visit", 50),
)
_ITEMS = 400
# fmt: on


def generate_demo(
    out_dir: Path,
    customers: int = 20_000,
    seed: int = 7,
    end_date: date = date(2026, 6, 30),
    orders_per_customer: float | None = None,
    events_per_customer: float | None = None,
) -> DemoSummary:
    """Write a demo shop (customers, orders, events as Parquet) into `out_dir`.

    `orders_per_customer` / `events_per_customer` stretch the heavy tails to a target mean
    (for benchmarks) and keep one-order customers and every stage; None keeps the
    realistic default. `out_dir` is replaced as a whole, so readers never see a mix of
    two demos or a half-written one.
    """
    n = operator.index(customers)
    seed = operator.index(seed)
    if n < 1:
        raise ValueError("customers must be at least 1")
    if not -(2**63) <= seed < 2**63:
        raise ValueError("seed must fit in 64 bits")
    for name, value in (
        ("orders_per_customer", orders_per_customer),
        ("events_per_customer", events_per_customer),
    ):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number")

    out_dir = Path(out_dir).absolute()
    _check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_sibling(out_dir, "tmp")
    try:
        with duckdb.connect(":memory:") as con:
            counts = _generate(
                con, tmp, n, seed, end_date, orders_per_customer, events_per_customer
            )
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return DemoSummary(out_dir, *counts)


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to wipe a directory that is not a demo: a wrong path must not cost data."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir} exists and is not a directory")
    if any(out_dir.iterdir()) and not any((out_dir / f).exists() for f in _FILES):
        raise FileExistsError(f"{out_dir} is not empty and holds no demo files; not replacing it")


def _replace_dir(new: Path, target: Path) -> None:
    """Swap `new` in with renames, so a crash leaves either the old or the new demo."""
    if not target.exists():
        os.rename(new, target)
        return
    aside = _new_sibling(target, "old")
    os.rename(target, aside / target.name)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(aside / target.name, target)
        aside.rmdir()
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _new_sibling(target: Path, tag: str) -> Path:
    """A new hidden directory beside `target`: same filesystem, so renames are atomic.

    Not tempfile.mkdtemp, whose 0700 mode the demo directory would keep.
    """
    for _ in range(100):
        path = target.parent / f".{target.name}.{tag}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free temporary name beside {target}")


def _generate(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    n: int,
    seed: int,
    end_date: date,
    orders_per_customer: float | None,
    events_per_customer: float | None,
) -> tuple[int, int, int, date, date]:
    end_us = _epoch_us(datetime.combine(end_date, datetime.min.time()))
    last_us = end_us + 86_399_000_000  # end_date 23:59:59: nothing may happen after it
    end = f"DATE '{end_date.isoformat()}'"
    # Order-dependent steps below rely on it; it is the default, but say so.
    con.execute("SET preserve_insertion_order = true")
    # The outer hash matters: hash() combines its arguments with a final XOR, so a single
    # hash of (seed, key, 'a') and (seed, key, 'b') differ by a constant and are strongly
    # correlated. hash(f) is constant-folded, so field names cost nothing per row.
    con.execute(f"""
        CREATE MACRO h(a, f) AS hash(hash({seed}::BIGINT, a::BIGINT, hash(f)));
        CREATE MACRO u(a, f) AS (h(a, f) >> 11)::DOUBLE / 9007199254740992.0;
        CREATE MACRO h2(a, b, f) AS hash(hash({seed}::BIGINT, a::BIGINT, b::BIGINT, hash(f)));
        CREATE MACRO u2(a, b, f) AS (h2(a, b, f) >> 11)::DOUBLE / 9007199254740992.0;
        CREATE MACRO part(x, s) AS ((x >> (21 * s)) & 2097151)::DOUBLE / 2097152.0;
        CREATE MACRO gauss(v1, v2) AS sqrt(-2 * ln(1 - v1)) * cos(2 * pi() * v2);
        CREATE MACRO ts(us) AS make_timestamp(us::BIGINT);
    """)
    _create_behaviour(con, n, orders_per_customer)
    con.execute(_orders_sql(end, last_us))
    n_events = _create_event_counts(con, events_per_customer)

    cid = _id_sql("C", "i", max(7, len(str(n))))
    _write(con, _customers_sql(cid, end, end_us, last_us), out / "customers.parquet")
    n_orders, first, last = con.execute(
        "SELECT count(*), min(created_us), max(created_us) FROM o"
    ).fetchone()
    # o was created sorted by time and a scan keeps insertion order, so rowid numbers the
    # orders chronologically and the file comes out in order_id order without a re-sort.
    oid = _id_sql("O", "rowid + 1", max(8, len(str(n_orders))))
    orders = f"""
        SELECT {oid} AS order_id, {cid} AS customer_id,
               ts(created_us) AS created_at, ts(paid_us) AS paid_at,
               ts(shipped_us) AS shipped_at, ts(signed_us) AS signed_at,
               amount::DECIMAL(12,2) AS amount, status, source
        FROM o
    """
    _write(con, orders, out / "orders.parquet")
    _write(con, _events_sql(cid, end_us), out / "events.parquet")
    return n, n_orders, n_events, _us_date(first), _us_date(last)


def _create_behaviour(con: duckdb.DuckDBPyConnection, n: int, target: float | None) -> None:
    """One row per customer: how often, how recently and how much they buy.

    Purchase frequency is a discrete Pareto (most buy once, a few dozens of times);
    group-buy customers get a steeper tail, so they repeat about half as often. Frequent
    buyers lean towards recent last purchases, as in a real shop.
    """
    con.execute(f"""
        CREATE TEMP TABLE b0 AS
        SELECT i, src, paying,
               least(floor(pow(1 - u(i, 'freq'),
                               -1 / CASE WHEN src = 'group_buy' THEN 2.6 ELSE 1.6 END)),
                     {_MAX_BASE_FREQUENCY})::BIGINT AS base,
               CASE WHEN paying OR u(i, 'npo') >= 0.45 THEN 0
                    ELSE 1 + (u(i, 'npo2') < 0.2)::INT END AS npo,
               u(i, 'pend') < {_PENDING} AS pend
        FROM (
            SELECT i, {_pick(_SOURCES, "u(i, 'src')")} AS src,
                   -- customer 1 always buys: the demo is never without orders
                   i = 1 OR u(i, 'pay') >= {_NEVER_PAID} AS paying
            FROM range(1, {n + 1}) t(i)
        )
    """)
    freq = "base"
    if target is not None:
        # freq = 1 + floor((base - 1) * k + U) has mean 1 + k * (base - 1), so the k that
        # gives the target mean order count solves a linear equation.
        payers, extra, fixed = con.execute(
            "SELECT count(*) FILTER (WHERE paying), "
            "coalesce(sum(base - 1) FILTER (WHERE paying), 0), "
            "sum(npo) + count(*) FILTER (WHERE pend) FROM b0"
        ).fetchone()
        sib = 1 + _CLOSED_SIBLING
        k = max((target * n - fixed - payers * sib) / (sib * extra), 0.0) if extra else 0.0
        freq = f"1 + floor((base - 1) * {k!r} + u(i, 'frnd'))::BIGINT"
    con.execute(f"""
        CREATE TEMP TABLE b AS
        SELECT * EXCLUDE (gap, avail),
               -- a history longer than the window starts within one gap of its start,
               -- not all on its first day
               CASE WHEN NOT paying THEN 0
                    WHEN (freq - 1) * gap <= avail THEN round((freq - 1) * gap)
                    ELSE avail - floor(u(i, 'lead') * least(avail, gap))
               END::BIGINT AS span
        FROM (
            SELECT *, 15 + 120 * pow(u(i, 'gap'), 2) AS gap,
                   {_WINDOW_DAYS - 1} - back_last AS avail
            FROM (
                SELECT i, src, paying, npo, pend,
                       CASE WHEN paying THEN {freq} ELSE 0 END AS freq,
                       -- customer 1 bought on end_date: the after-sale stage is never empty
                       CASE WHEN i = 1 THEN 0 ELSE {_recency_sql("ru")} END AS back_last,
                       exp(0.5 * gauss(u(i, 'zc1'), u(i, 'zc2'))) AS spend
                FROM (SELECT *, pow(u(i, 'rec'), 1 + 0.6 * ln(base)) AS ru FROM b0)
            )
        )
    """)
    con.execute("DROP TABLE b0")


def _orders_sql(end: str, last_us: int) -> str:
    """Purchase orders, their abandoned duplicates, never-paid and still-unpaid orders.

    Dates are drawn as days before end_date, then some orders in the 30 days before 6-18,
    11-11 and 12-12 wait for the promotion day: a lull before it, a spike on it. Orders
    are stored in time order so that order ids can follow it.
    """
    promo = "month({0}) * 100 + day({0}) IN (618, 1111, 1212)"
    next_promo = " ".join(
        f"WHEN d <= make_date(year(d), {m}, {dd}) THEN make_date(year(d), {m}, {dd})"
        for m, dd in ((6, 18), (11, 11), (12, 12))
    )
    key = "i, j * 4 + kind"  # unique per order across the kinds below
    hour = _pick(_HOURS, f"u2({key}, 'hour')")
    return f"""
    CREATE TEMP TABLE o AS
    WITH purchase AS (
        SELECT i, j, freq, spend, j = 0 AND src = 'group_buy' AS gb_first,
               {end} - (back_last + round(span * (1 - CASE
                    WHEN j = freq - 1 THEN 1.0 WHEN j = 0 THEN 0.0
                    ELSE u2(i, j, 'pos') END))::BIGINT)::INT AS d
        FROM (SELECT *, unnest(range(freq)) AS j FROM b WHERE freq > 0)
    ), dated AS (
        -- kind 0: purchases (the last one is always paid, so it sets the recency)
        SELECT i, j, 0 AS kind, gb_first,
               CASE WHEN j < freq - 1 AND u2(i, j, 'ref') < {_REFUNDED} THEN 'refunded'
                    ELSE 'paid' END AS status,
               spend * CASE WHEN j = 0 THEN 0.85 ELSE 1 END AS mult,  -- first orders are smaller
               CASE WHEN nxt - d <= 29 AND nxt <= {end} AND u2(i, j, 'snap') < {_PROMO_SNAP}
                    THEN nxt ELSE d END AS day
        FROM (SELECT *, CASE {next_promo} ELSE make_date(year(d) + 1, 6, 18) END AS nxt
              FROM purchase)
        UNION ALL
        -- kind 1: orders of customers who never paid
        SELECT i, j, 1, j = 0 AND src = 'group_buy', 'closed', spend,
               {end} - CASE WHEN j = 0 THEN back_last
                            ELSE floor(u2(i, j, 'npb') * {_WINDOW_DAYS}) END::INT
        FROM (SELECT *, unnest(range(npo)) AS j FROM b WHERE npo > 0)
        UNION ALL
        -- kind 2: the payment-reminder audience
        SELECT i, 0, 2, false, 'unpaid', spend, {end} - (u(i, 'pday') < 0.5)::INT
        FROM b WHERE pend
    ), timed AS (
        SELECT i, j, kind, gb_first, status,
               round(greatest(9.9, 150 * mult
                     * exp(0.7 * gauss(u2({key}, 'za1'), u2({key}, 'za2')))
                     * CASE WHEN {promo.format("day")} THEN 1.3 ELSE 1 END), 2) AS amount,
               least((day - DATE '1970-01-01')::BIGINT * 86400000000
                     + (CASE WHEN {promo.format("day")} AND u2({key}, 'midnight') < 0.25
                             THEN 0 ELSE {hour} END * 3600
                        + floor(u2({key}, 'sec') * 3600))::BIGINT * 1000000,
                     {last_us}) AS created_us
        FROM dated
    ), doubled AS (
        -- kind 3: an order abandoned (closed) shortly before the same purchase was placed
        SELECT i, j, kind, gb_first, status, amount, created_us
        FROM (SELECT * EXCLUDE (kind),
                     unnest(CASE WHEN kind = 0 AND u2(i, j, 'sib') < {_CLOSED_SIBLING}
                                 THEN [0, 3] ELSE [kind] END) AS kind
              FROM timed)
    ), paid AS (
        SELECT i, j, kind, amount,
               CASE WHEN kind = 3 THEN 'closed' ELSE status END AS status,
               CASE WHEN kind = 3
                    THEN created_us - (300 + floor(pow(u2({key}, 'sibt'), 2) * 172800))::BIGINT
                                      * 1000000
                    ELSE created_us END AS created_us,
               CASE WHEN gb_first THEN 'group_buy' END AS gb
        FROM doubled
    ), shipped AS (
        SELECT *,
               CASE WHEN status IN ('paid', 'refunded')
                    THEN least(created_us + floor(pow(u2({key}, 'pay'), 3) * 3600)::BIGINT
                                            * 1000000, {last_us}) END AS paid_us
        FROM paid
    ), signed AS (
        SELECT *,
               CASE WHEN ship <= {last_us}
                     -- half of the refunds happen before shipping
                     AND NOT (status = 'refunded' AND u2({key}, 'rship') < 0.5)
                    THEN ship END AS shipped_us
        FROM (SELECT *, paid_us + floor(pow(u2({key}, 'ship'), 1.5) * 3 * 86400)::BIGINT
                                  * 1000000 AS ship
              FROM shipped)
    )
    SELECT i, created_us, paid_us, shipped_us,
           CASE WHEN sign <= {last_us}
                 AND NOT (status = 'refunded' AND u2({key}, 'rsign') < 0.5)
                THEN sign END AS signed_us,
           amount, status,
           coalesce(gb, CASE WHEN {promo.format("ts(created_us)")} THEN 'promotion'
                             ELSE 'normal' END) AS source
    FROM (SELECT *, shipped_us + (86400 + floor(u2({key}, 'sign') * 4 * 86400))::BIGINT
                                 * 1000000 AS sign
          FROM signed)
    ORDER BY created_us, i, kind, j
    """


def _create_event_counts(con: duckdb.DuckDBPyConnection, target: float | None) -> int:
    """Events per customer: more for recent buyers, fewer for the long lapsed, so the
    intent audience is mostly people the shop still has a relationship with."""
    con.execute("""
        CREATE TEMP TABLE w AS
        SELECT i, CASE WHEN NOT paying THEN 1.0 WHEN back_last < 45 THEN 4.0
                       WHEN back_last < 90 THEN 2.5 WHEN back_last < 365 THEN 1.0 ELSE 0.4 END
                  * (0.25 + 1.5 * pow(u(i, 'eng'), 2)) AS weight
        FROM b
    """)
    mean = con.execute("SELECT avg(weight) FROM w").fetchone()[0]
    scale = (target if target is not None else _EVENTS_DEFAULT) / mean
    # Rounding up with probability equal to the fraction keeps the mean exact.
    con.execute(f"""
        CREATE TEMP TABLE ec AS
        SELECT i, floor(weight * {scale!r} + u(i, 'ern'))::BIGINT AS cnt FROM w
    """)
    return int(con.execute("SELECT sum(cnt) FROM ec").fetchone()[0])


def _events_sql(cid: str, end_us: int) -> str:
    """Browsing events, 80% of them in the last 90 days (as platforms keep them).

    With one row per event this is the largest table, so each 64-bit hash is split into
    three 21-bit uniforms (precise enough for these draws) to hash less.
    """
    etype = _pick([(c, w) for c, _, w in _EVENT_TYPES], "part(h1, 0)")
    names = _sql_list([name for _, name, _ in _EVENT_TYPES])
    hour = _pick(_HOURS, "part(h2, 0)")
    return f"""
    SELECT {cid} AS customer_id, {names}[type_code + 1] AS event_type,
           ts(event_us) AS event_at,
           CASE WHEN item_no IS NOT NULL THEN 'SKU' || lpad(item_no::VARCHAR, 4, '0')
           END AS item_id
    FROM (
        SELECT i, type_code,
               {end_us} - floor(CASE WHEN part(h1, 1) < 0.8
                                     THEN 90 * part(h1, 2)
                                     ELSE 90 + ({_WINDOW_DAYS} - 90) * part(h1, 2)
                                END)::BIGINT * 86400000000
                        + ({hour} * 3600 + floor(part(h2, 1) * 3600))::BIGINT
                          * 1000000 AS event_us,
               -- searches and shop-front visits concern no item; popular items dominate
               CASE WHEN type_code = 4 OR (type_code = 5 AND part(h2, 2) < 0.3) THEN NULL
                    ELSE 1 + floor({_ITEMS} * pow(part(h3, 0), 2.2))::INT END AS item_no
        FROM (SELECT *, {etype} AS type_code
              FROM (SELECT i, h2(i, k, 'ev1') AS h1, h2(i, k, 'ev2') AS h2,
                           h2(i, k, 'ev3') AS h3
                    FROM (SELECT i, unnest(range(cnt)) AS k FROM ec WHERE cnt > 0)))
    )
    -- type codes sort like the names; NULL items sort last either way
    ORDER BY i, event_us, type_code, item_no NULLS LAST
    """


def _customers_sql(cid: str, end: str, end_us: int, last_us: int) -> str:
    """Profiles are independent of behaviour except registration, which precedes the
    first order; contact fields carry a few malformed values on purpose."""
    prov = _pick([(k + 1, w) for k, (_, w, _) in enumerate(_PROVINCES)], "u(i, 'prov')")
    prov_names = _sql_list([p for p, _, _ in _PROVINCES])
    prov_tiers = _sql_list([t for _, _, t in _PROVINCES])
    syllable = [(p, 1) for p in _PINYIN]
    given = {}
    for g, chars in (("F", _GIVEN_F), ("M", _GIVEN_M)):
        first = _pick([(c, 1) for c in chars], "u(i, 'g1')")
        second = _pick([(c, 1) for c in chars], "u(i, 'g2')")
        given[g] = f"{first} || CASE WHEN u(i, 'glen') < 0.7 THEN {second} ELSE '' END"
    return f"""
    WITH base AS (
        SELECT i, src,
               {_pick([("F", 70), ("M", 25), (None, 5)], "u(i, 'gender')")} AS gender,
               {prov} AS prov,
               {_pick(_PHONE_PREFIXES, "u(i, 'phpre')")}
                   || lpad((h(i, 'ph8') % 100000000)::VARCHAR, 8, '0') AS mobile,
               {_pick(syllable, "u(i, 'py1')")} || {_pick(syllable, "u(i, 'py2')")} AS py,
               {_pick(_EMAIL_DOMAINS, "u(i, 'domain')")} AS domain,
               first_us
        FROM b
        LEFT JOIN (SELECT i, min(created_us) AS first_us FROM o GROUP BY i) f USING (i)
    ), named AS (
        SELECT *,
               CASE WHEN gender = 'M' OR (gender IS NULL AND u(i, 'gx') < 0.5)
                    THEN {given["M"]} ELSE {given["F"]} END AS given,
               -- QQ Mail addresses are often the QQ number
               CASE WHEN domain = 'qq.com' AND u(i, 'qqnum') < 0.6
                    THEN (1 + h(i, 'qq') % 9)::VARCHAR
                         || lpad((h(i, 'qq2') % 1000000000)::VARCHAR,
                                 4 + floor(u(i, 'qqlen') * 6)::INT, '0')
                    WHEN u(i, 'edig') < 0.6 THEN py || (h(i, 'edigits') % 10000)::VARCHAR
                    ELSE py END AS local
        FROM base
    )
    SELECT {cid} AS customer_id,
           CASE WHEN u(i, 'phq') < 0.06 THEN NULL
                WHEN u(i, 'phq') >= 0.065 THEN mobile
                WHEN u(i, 'phbad') < 0.4 THEN substr(mobile, 1, 10)
                WHEN u(i, 'phbad') < 0.7 THEN '+86 ' || mobile
                ELSE substr(mobile, 1, 3) || '-' || substr(mobile, 4, 4) || '-'
                     || substr(mobile, 8, 4) END AS phone,
           CASE WHEN u(i, 'emq') < 0.30 THEN NULL
                WHEN u(i, 'emq') >= 0.303 THEN local || '@' || domain
                WHEN u(i, 'embad') < 0.5 THEN local || domain
                ELSE local || '@' || replace(domain, '.', '') END AS email,
           CASE WHEN u(i, 'wx') < 0.4
                -- base64url of a digest: exactly the openid alphabet
                THEN 'o' || substr(translate(to_base64(unhex(sha256(h(i, 'wxid')::VARCHAR))),
                                             '+/', '-_'), 1, 27)
           END AS wechat_openid,
           CASE WHEN u(i, 'nickq') < 0.45
                THEN 'tb' || (1 + h(i, 'tb') % 9)::VARCHAR
                     || lpad((h(i, 'tb2') % 1000000000)::VARCHAR, 9, '0')
                WHEN u(i, 'nickq') < 0.8 THEN py || (h(i, 'nickd') % 10000)::VARCHAR
                ELSE {_pick([(x, 1) for x in _NICK_HEADS], "u(i, 'nh')")} || given
                     || {_pick(_NICK_TAILS, "u(i, 'nt')")} || (h(i, 'nickd') % 100)::VARCHAR
           END AS nick,
           CASE WHEN u(i, 'nameq') < 0.8
                THEN {_pick(_SURNAMES, "u(i, 'surname')")} || given END AS name,
           -- age 18-60 on end_date, younger ones more common
           CASE WHEN u(i, 'bdq') < 0.6
                THEN ({end} - to_years((18 + floor(43 * pow(u(i, 'age'), 1.6)))::INT))::DATE
                     - floor(365 * u(i, 'bday'))::INT END AS birthday,
           gender,
           {prov_names}[prov] AS province,
           greatest(1, least(5, {prov_tiers}[prov]
                                + {_pick(_TIER_OFFSETS, "u(i, 'tier')")}))::INTEGER AS city_tier,
           -- most join when they first order, some follow the shop months before
           ts(CASE WHEN first_us IS NULL
                   THEN least({end_us} - floor(u(i, 'regd') * {_WINDOW_DAYS})::BIGINT
                                         * 86400000000
                              + floor(u(i, 'regs') * 86400)::BIGINT * 1000000, {last_us})
                   WHEN u(i, 'regq') < 0.6
                   THEN first_us - floor(u(i, 'regt') * 600)::BIGINT * 1000000
                   ELSE first_us - floor(pow(u(i, 'regt'), 2) * 180 * 86400)::BIGINT * 1000000
              END) AS registered_at,
           src AS source,
           u(i, 'oo_sms') < 0.03 AS opt_out_sms,
           u(i, 'oo_email') < 0.05 AS opt_out_email,
           u(i, 'oo_wechat') < 0.02 AS opt_out_wechat,
           u(i, 'oo_phone') < 0.04 AS opt_out_phone,
           u(i, 'oo_all') < 0.005 AS opt_out_all
    FROM named
    ORDER BY i
    """


def _write(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> None:
    """COPY cannot bind its file name, so the path goes in as a quoted SQL literal."""
    target = str(path).replace("'", "''")
    con.execute(f"COPY ({query}) TO '{target}' (FORMAT parquet)")


def _pick(options: Sequence[tuple[object, float]], u: str) -> str:
    """A weighted choice as list indexing: vectorised, and exact for integer weights."""
    slots = [value for value, weight in options for _ in range(int(weight))]
    return f"{_sql_list(slots)}[1 + floor({u} * {len(slots)})::BIGINT]"


def _sql_list(values: Sequence[object]) -> str:
    def literal(v: object) -> str:
        if v is None:
            return "NULL"
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        return repr(v)

    return "[" + ", ".join(literal(v) for v in values) + "]"


def _recency_sql(ru: str) -> str:
    """Days before end_date of the last purchase: an inverse CDF over the recency bands
    (uniform within a band), so a uniform `ru` lands in each band with its weight."""
    total = sum(w for _, _, w in _RECENCY_BANDS)
    cases, cum = [], 0.0
    for lo, hi, w in _RECENCY_BANDS:
        start, cum = cum, cum + w / total
        cases.append(
            f"WHEN {ru} < {cum!r} THEN {lo} + floor(({ru} - {start!r}) / {w / total!r} * {hi - lo})"
        )
    # The last band also catches rounding at the top end.
    cases[-1] = "ELSE" + cases[-1].split(" THEN", 1)[1]
    return f"least(CASE {' '.join(cases)} END, {_WINDOW_DAYS - 1})::BIGINT"


def _id_sql(prefix: str, number: str, width: int) -> str:
    return f"'{prefix}' || lpad(({number})::VARCHAR, {width}, '0')"


def _epoch_us(t: datetime) -> int:
    return (t - datetime(1970, 1, 1)) // timedelta(microseconds=1)


def _us_date(us: int) -> date:
    return (datetime(1970, 1, 1) + timedelta(microseconds=us)).date()


def demo_present(ds: DataSource, root: Path) -> bool:
    """Whether the shop's data is there as far as the demo goes: a source other than
    the demo, or the demo shop generated already."""
    return ds.source != "demo" or (root / ds.path / "customers.parquet").exists()


def ensure_demo(ds: DataSource, root: Path) -> str | None:
    """Generate the demo shop when the shop's data source is the demo and it is not
    there yet; the note to show, or None."""
    target = root / ds.path
    if demo_present(ds, root):
        return None
    summary = generate_demo(target, customers=ds.demo_customers, seed=ds.demo_seed,
                            end_date=ds.demo_end_date)
    return (f"generated the demo shop in {ds.path}/ ({summary.customers} customers, "
            f"{summary.orders} orders, {summary.events} events; seed {ds.demo_seed})")
