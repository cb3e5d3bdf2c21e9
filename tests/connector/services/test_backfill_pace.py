"""``connector.services.backfill.Pace``: a backfill spends its share of the shop's Shopify budget
and no more, counted in points Shopify charged."""
from __future__ import annotations

from connector.services.backfill import Pace
from connector.shopify.budget import BudgetStats


class Clock:
    """A clock that moves only when the pace sleeps (or the test says so)."""

    def __init__(self):
        self.now, self.slept = 0.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_given_spending_within_the_burst_then_the_backfill_does_not_wait():
    stats, clock = BudgetStats(), Clock()
    pace = Pace(stats, rate=50, burst=1000, clock=clock, sleep=clock.sleep)
    stats.actual += 900
    assert pace.wait() == 0 and clock.slept == []


def test_given_spending_beyond_the_burst_then_the_backfill_waits_for_the_rate():
    stats, clock = BudgetStats(), Clock()
    stats.actual = 5000  # spent before this backfill: not its own
    pace = Pace(stats, rate=50, burst=1000, clock=clock, sleep=clock.sleep)
    stats.actual += 1100
    assert pace.wait() == 2.0  # 100 points over the burst at 50 a second
    clock.now += 10  # an order read that took long: the time counts
    stats.actual += 100
    assert pace.wait() == 0
