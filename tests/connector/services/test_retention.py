"""Processed webhook bodies are erased after the retention window; bodies that may still be processed stay."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from connector.models import InboxEvent, InboxState
from connector.services import retention

WINDOW = timedelta(days=30)


def body_of(session, event) -> str:
    return session.scalar(select(InboxEvent.body).where(InboxEvent.id == event.id))


def test_given_events_older_and_younger_than_the_window_then_only_processed_old_bodies_are_erased(
        db_session, world):
    old_done = world.store("orders/create", {"id": 1}, processed_days_ago=31, received_days_ago=31)
    old_deferred = world.store("customers/update", {"id": 2}, state=InboxState.deferred, processed_days_ago=40,
                               received_days_ago=40)
    stored_deferred = world.store("products/update", {"id": 3}, state=InboxState.deferred,
                                  processed_days_ago=None, received_days_ago=35)  # the receiver kept it
    young_done = world.store("orders/create", {"id": 4}, processed_days_ago=29, received_days_ago=31)
    waiting = world.store("orders/create", {"id": 5}, state=InboxState.received, processed_days_ago=None,
                          received_days_ago=60)
    parked = world.store("orders/create", {"id": 6}, state=InboxState.parked, processed_days_ago=45,
                         received_days_ago=45)
    dead = world.store("orders/create", {"id": 7}, state=InboxState.dead, processed_days_ago=45,
                       received_days_ago=45)

    erased = retention.purge_bodies(db_session, WINDOW)

    assert erased >= 3
    assert [body_of(db_session, e) for e in (old_done, old_deferred, stored_deferred)] == ["", "", ""]
    assert [body_of(db_session, e) for e in (young_done, waiting, parked, dead)] == [
        '{"id": 4}', '{"id": 5}', '{"id": 6}', '{"id": 7}']
    kept = db_session.get(InboxEvent, old_done.id, populate_existing=True)
    assert kept.body_erased_at is not None and kept.event_id == old_done.event_id and kept.resource_id == "1"


def test_given_purged_once_then_a_second_purge_erases_nothing_more(db_session, world):
    world.store("orders/create", {"id": 1}, processed_days_ago=31, received_days_ago=31)
    retention.purge_bodies(db_session, WINDOW)

    assert retention.purge_bodies(db_session, WINDOW) == 0


def test_given_a_purge_in_batches_then_every_due_body_is_erased(db_session, world):
    events = [world.store("orders/create", {"id": n}, processed_days_ago=31, received_days_ago=31) for n in range(5)]

    retention.purge_bodies(db_session, WINDOW, batch=2)

    assert [body_of(db_session, e) for e in events] == [""] * 5


def test_given_an_orders_body_erased_then_its_invoice_baseline_is_looked_for_in_the_bodies_left(db_session, world):
    from connector.models import BindingKind
    from connector.services import baselines
    order = {"id": 9101, "total_price": "10.00", "subtotal_price": "10.00", "total_tax": "0.00",
             "total_tip_received": "0.00"}
    world.store("orders/create", order, processed_days_ago=40, received_days_ago=40)
    retention.purge_bodies(db_session, WINDOW)
    invoice = world.bind(BindingKind.order, "9101", refs={"invoice_total": "10.00"})

    assert baselines.restore(db_session, invoice) is False  # the erased body is not read (it is "")

    world.store("orders/updated", order)
    assert baselines.restore(db_session, invoice) is True
