"""The inbox stores each verified delivery once, and nothing that is not verified."""
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from connector.models import AuditEvent, InboxEvent, InboxState, Shop
from connector.services import inbox
from connector.services.setup import add_shop
from connector.services.shop_keys import WebhookKeys
from connector.shopify.webhooks import sign
from connector.vault import Vault, generate_key

SECRET = "shpss_inbox_test"
BODY = json.dumps({"id": 42, "admin_graphql_api_id": "gid://shopify/Order/42"}).encode()


@pytest.fixture
def vault(db_session):
    vault = Vault([generate_key()])
    add_shop(db_session, vault, domain="inbox-test.myshopify.com", client_id="app", client_secret=SECRET)
    db_session.commit()
    return vault


class Clock:
    """Seconds that pass when the test says so: the TTL is a duration, and no test waits it out."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def keys(vault, clock):
    return WebhookKeys(vault, ttl_seconds=5, clock=clock)


@pytest.fixture
def shop_id(db_session, vault):
    return db_session.scalar(select(Shop.id).where(Shop.domain == "inbox-test.myshopify.com"))


def delivery(body=BODY, *, topic="orders/create", event_id="ev-1", secret=SECRET, domain="inbox-test.myshopify.com"):
    return inbox.Delivery(shop_domain=domain, topic=topic, event_id=event_id, webhook_id="wh-1",
                          api_version="2026-01", triggered_at="2026-01-15T15:00:02Z",
                          signature=sign(secret, body), raw_body=body)


def count(session, model, shop_id):
    return session.scalar(select(func.count()).select_from(model).where(model.shop_id == shop_id))


def test_given_verified_delivery_then_stored_once_and_routed_to_its_queue(db_session, keys, shop_id):
    first = inbox.accept(db_session, keys, delivery())
    again = inbox.accept(db_session, keys, delivery())
    assert (first.created, first.flow.queue) == (True, "invoices")
    assert (again.created, again.flow) == (False, None)  # nothing to send for a repeat
    assert count(db_session, InboxEvent, shop_id) == 1
    row = db_session.get(InboxEvent, first.inbox_id)
    assert (row.state, row.resource_id, row.body.encode()) == (InboxState.received, "42", BODY)


def test_given_verified_delivery_then_its_row_is_the_receipt_and_no_audit_row_repeats_it(db_session, keys, shop_id):
    before = count(db_session, AuditEvent, shop_id)
    accepted = inbox.accept(db_session, keys, delivery())
    row = db_session.get(InboxEvent, accepted.inbox_id)
    assert (row.shop_id, row.topic, row.event_id, row.webhook_id, row.api_version, row.triggered_at) == (
        shop_id, "orders/create", "ev-1", "wh-1", "2026-01", "2026-01-15T15:00:02Z")
    assert row.body.encode() == BODY and row.received_at <= datetime.now(timezone.utc)
    assert count(db_session, AuditEvent, shop_id) == before


def test_given_a_stored_delivery_then_its_receipt_cannot_be_changed(db_session, keys):
    row = db_session.get(InboxEvent, inbox.accept(db_session, keys, delivery()).inbox_id)
    row.body = '{"id": 42, "total_price": "0.00"}'
    with pytest.raises(PermissionError, match="receipt"):
        db_session.flush()


def test_given_a_committed_delivery_whose_task_was_never_sent_then_the_sweeper_takes_it(db_session, keys):
    # the receiver died between its commit and the send, or the broker was down
    accepted = inbox.accept(db_session, keys, delivery())
    db_session.commit()

    assert (accepted.inbox_id, "orders/create") in inbox.stale(db_session, older_than_seconds=0)
    assert inbox.claim_resend(db_session, accepted.inbox_id, older_than_seconds=0)


def test_given_secret_rotated_then_a_webhook_signed_with_the_new_one_is_accepted_at_once(db_session, vault, keys):
    inbox.accept(db_session, keys, delivery())  # the shop and its secret are now held
    rotate(db_session, vault, "shpss_new")

    accepted = inbox.accept(db_session, keys, delivery(event_id="ev-2", secret="shpss_new"))  # no time passed

    assert accepted.created


def test_given_a_secret_dropped_by_rotation_then_it_verifies_until_the_ttl_has_passed(db_session, vault, keys, clock):
    inbox.accept(db_session, keys, delivery())
    rotate(db_session, vault, "shpss_second")
    rotate(db_session, vault, "shpss_third")  # keeps the second as the previous secret: the first is gone

    clock.now += 4.9
    assert inbox.accept(db_session, keys, delivery(event_id="ev-2")).created
    clock.now += 0.1
    with pytest.raises(inbox.Unauthorized):
        inbox.accept(db_session, keys, delivery(event_id="ev-3"))
    assert inbox.accept(db_session, keys, delivery(event_id="ev-4", secret="shpss_second")).created


def test_given_no_ttl_then_a_dropped_secret_is_refused_at_once(db_session, vault):
    keys = WebhookKeys(vault, ttl_seconds=0)
    inbox.accept(db_session, keys, delivery())
    rotate(db_session, vault, "shpss_second")
    rotate(db_session, vault, "shpss_third")

    with pytest.raises(inbox.Unauthorized):
        inbox.accept(db_session, keys, delivery(event_id="ev-2"))


def rotate(session, vault, secret):
    add_shop(session, vault, domain="inbox-test.myshopify.com", client_id="app", client_secret=secret)
    session.commit()


def test_given_same_event_id_on_another_topic_then_a_separate_row(db_session, keys):
    # One merchant action fires several topics with one Event-Id: each topic is its own event.
    a = inbox.accept(db_session, keys, delivery(topic="orders/create"))
    b = inbox.accept(db_session, keys, delivery(topic="orders/paid"))
    assert a.inbox_id != b.inbox_id and b.created


def test_given_bad_signature_or_unknown_shop_then_unauthorized_and_nothing_stored(db_session, keys, shop_id):
    with pytest.raises(inbox.Unauthorized):
        inbox.accept(db_session, keys, delivery(secret="wrong"))
    with pytest.raises(inbox.Unauthorized):
        inbox.accept(db_session, keys, delivery(domain="stranger.myshopify.com"))
    assert count(db_session, InboxEvent, shop_id) == 0
    assert count(db_session, AuditEvent, shop_id) == 1  # only the shop's configuration


def test_given_signed_garbage_then_malformed_and_audited_not_stored(db_session, keys, shop_id):
    with pytest.raises(inbox.Malformed, match="not JSON"):
        inbox.accept(db_session, keys, delivery(b"{not json"))
    assert count(db_session, InboxEvent, shop_id) == 0
    audit = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "webhook.malformed",
                                                       AuditEvent.shop_id == shop_id))
    assert audit.detail["body_excerpt"] == "{not json" and "not JSON" in audit.detail["reason"]


def test_given_topic_not_in_this_release_then_kept_as_deferred(db_session, keys):
    accepted = inbox.accept(db_session, keys, delivery(topic="orders/fulfilled"))
    assert accepted.flow is None
    assert db_session.get(InboxEvent, accepted.inbox_id).state == InboxState.deferred


def test_audit_rows_cannot_be_changed(db_session, keys, shop_id):
    row = db_session.scalar(select(AuditEvent).where(AuditEvent.shop_id == shop_id))
    row.action = "tampered"
    with pytest.raises(PermissionError):
        db_session.flush()


def test_given_one_action_firing_a_topic_for_two_orders_then_both_are_kept(db_session, keys, shop_id):
    # e.g. a bulk edit: one Event-Id, the same topic, two different orders
    other = json.dumps({"id": 43, "admin_graphql_api_id": "gid://shopify/Order/43"}).encode()
    first = inbox.accept(db_session, keys, delivery(topic="orders/updated", event_id="bulk-1"))
    second = inbox.accept(db_session, keys, delivery(other, topic="orders/updated", event_id="bulk-1"))
    assert first.created and second.created and first.inbox_id != second.inbox_id


def test_given_the_previous_secret_after_the_rotation_window_then_unauthorized(db_session, vault):
    rotate(db_session, vault, "shpss_after")  # SECRET is now the previous secret
    later = datetime.now(timezone.utc) + timedelta(seconds=3601)
    within = WebhookKeys(vault, ttl_seconds=0, rotation_window_seconds=3600)
    after = WebhookKeys(vault, ttl_seconds=0, rotation_window_seconds=3600, now=lambda: later)

    assert inbox.accept(db_session, within, delivery(event_id="ev-1")).created
    with pytest.raises(inbox.Unauthorized):
        inbox.accept(db_session, after, delivery(event_id="ev-2"))
    assert inbox.accept(db_session, after, delivery(event_id="ev-3", secret="shpss_after")).created


def test_given_a_held_previous_secret_then_the_window_is_checked_at_each_webhook_not_when_read(db_session, vault):
    rotate(db_session, vault, "shpss_held")
    now = [datetime.now(timezone.utc)]
    keys = WebhookKeys(vault, ttl_seconds=3600, rotation_window_seconds=60, now=lambda: now[0])
    assert inbox.accept(db_session, keys, delivery(event_id="ev-1")).created  # read and held, previous secret valid

    now[0] += timedelta(seconds=61)

    with pytest.raises(inbox.Unauthorized):
        inbox.accept(db_session, keys, delivery(event_id="ev-2"))
