"""R, F and M through the production features statement, against their definition.

The statement scores each buyer by comparing the value with four cuts (the largest
value scoring at most 1, 2, 3, 4: `compile.facts._RFM_CUTS`), not by joining each
value's score back. Here random purchases with many ties, including shop sizes where
5 x the share of buyers lands exactly on a band edge (5, 10 or 20 buyers), are run
through the compiled statement of the tiny shop and compared with the definition
computed in Python: ceil(5 * cume_dist), cume_dist the share of buyers with a value at
most the buyer's own, as a double (same_day: once, so a day's orders are one purchase).
"""

from __future__ import annotations

import math
import shutil
from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
from conftest import BUILD_LEFTOVERS, FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from crmspec.engine.session import open_session

AS_OF = date(2026, 3, 1)
CUSTOMERS = [f"c{i:02d}" for i in range(1, 17)]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    root = tmp_path_factory.mktemp("rfm") / "tiny"
    shutil.copytree(FIXTURES / "tiny", root, ignore=BUILD_LEFTOVERS)
    with open_session(root, AS_OF) as (con, p):
        names = [k for k, _ in p.compiled.statements]
        upto = next(i for i, k in enumerate(names) if k.startswith("features"))
        yield con, [v for _, v in p.compiled.statements[:upto + 1]]


def expected(orders):
    days: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for customer, day_offset, amount in orders:
        days[customer][AS_OF - timedelta(days=day_offset)] += amount
    values = {c: (max(d), len(d), sum(d.values())) for c, d in days.items()}
    n = len(values)

    def score(i: int, own) -> int:
        at_most = sum(1 for v in values.values() if v[i] <= own)
        return math.ceil(5 * (float(at_most) / float(n)))

    return {c: (score(0, v[0]), score(1, v[1]), score(2, v[2])) for c, v in values.items()}


purchases = st.lists(
    st.tuples(st.sampled_from(CUSTOMERS), st.integers(0, 4), st.sampled_from([10, 20, 50])),
    min_size=1, max_size=45)


def scores(session, orders):
    """The tiny shop's features statement over these paid orders: (r, f, m) per buyer."""
    con, features = session
    con.execute("DELETE FROM orders")  # the tiny shop's, attached as a table
    con.executemany(
        "INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount, status) "
        "VALUES (?, ?, ?, ?, ?, 'paid')",
        [(f"o{i}", c, at, at, a) for i, (c, d, a) in enumerate(orders)
         for at in [datetime.combine(AS_OF - timedelta(days=d), datetime.min.time())
                    + timedelta(hours=i % 20)]])
    for statement in features:  # trigger_orders, then features
        con.execute(statement)
    return {c: (r, f, m) for c, r, f, m in con.execute(
        "SELECT customer_id, r, f, m FROM features WHERE r IS NOT NULL OR f IS NOT NULL "
        "OR m IS NOT NULL").fetchall()}


@settings(max_examples=80, deadline=None)
@given(purchases)
def test_rfm_scores_match_their_definition(session, orders):
    assert scores(session, orders) == expected(orders)


@pytest.mark.parametrize("buyers", [5, 10, 15])
def test_band_edges_land_in_the_lower_band(session, buyers):
    """Buyers with spends 10, 20, ... 10n: the k-th's share is k/n, and 5k/n is a whole
    number at every n/5-th buyer, who scores 5k/n (the band below the next buyer's)."""
    orders = [(c, 0, 10 * (k + 1)) for k, c in enumerate(CUSTOMERS[:buyers])]
    got = scores(session, orders)
    by_spend = [got[c][2] for c in CUSTOMERS[:buyers]]
    assert by_spend == [math.ceil(5 * (k + 1) / buyers) for k in range(buyers)]
    if buyers == 5:
        assert by_spend == [1, 2, 3, 4, 5]
    if buyers == 10:
        assert by_spend == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
