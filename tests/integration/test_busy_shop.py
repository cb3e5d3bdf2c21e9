"""One shop's burst does not starve another shop: its order is invoiced while the burst's backlog
still waits (the first lane of the queue, and the quiet shop's share of the Fusion budget).

The stack's pod budget is the default 10 requests/s (MLC_FUSION_FAIR_SHARE on, as in production),
so a burst of known customers' orders takes several seconds of budget to drain. Ordering only: the
quiet shop's invoice is created before the busy shop's last one.
"""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.factories import new_order
from tests.support import TestShop, eventually

BURST = 60


def test_given_a_busy_shops_burst_when_a_quiet_shop_sends_one_order_then_it_is_invoiced_before_the_backlog_drains(
        stack, shop):
    busy = TestShop.create(stack, prefix=("B" + uuid.uuid4().hex[:7]).upper())
    buyer = f"buyer-{uuid.uuid4().hex[:8]}@example.com"  # one known customer: one Fusion request per order
    busy.wait_invoiced(busy.place_order(new_order(buyer)))

    # The burst is placed first and its webhooks then arrive as fast as the receiver takes them: on
    # a loaded machine, placing orders one by one is slower than the workers drain them.
    # The quiet shop's customer is known too: its order then costs one Fusion request, as the busy
    # shop's do, and what is measured is the queue and the budget, not customer creation.
    quiet_buyer = f"quiet-{uuid.uuid4().hex[:8]}@example.com"
    shop.wait_invoiced(shop.place_order(new_order(quiet_buyer)))

    burst = [busy.place_order(new_order(buyer), deliver=False) for _ in range(BURST)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(r.status_code == 200 for r in pool.map(lambda o: busy.deliver("orders/create", o), burst))
    quiet_order = shop.place_order(new_order(quiet_buyer))

    shop.wait_invoiced(quiet_order)
    quiet_invoice = shop.audit("invoice.created")[-1]
    assert eventually(lambda: len(busy.audit("invoice.created")) == BURST + 1, timeout=90)
    busy_before = [a for a in busy.audit("invoice.created") if a.id < quiet_invoice.id]
    assert len(busy_before) < BURST + 1 - 10, "the quiet shop's invoice waited for the busy shop's backlog"
    assert all(busy.binding("order", o["id"]) is not None for o in burst)
