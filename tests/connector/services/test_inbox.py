"""The inbox stores each verified delivery once, and nothing that is not verified."""
import json

import pytest
from sqlalchemy import func, select

from connector.models import AuditEvent, InboxEvent, InboxState, Shop
from connector.services import inbox
from connector.services.setup import add_shop
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


@pytest.fixture
def shop_id(db_session, vault):
    return db_session.scalar(select(Shop.id).where(Shop.domain == "inbox-test.myshopify.com"))


def delivery(body=BODY, *, topic="orders/create", event_id="ev-1", secret=SECRET, domain="inbox-test.myshopify.com"):
    return inbox.Delivery(shop_domain=domain, topic=topic, event_id=event_id, webhook_id="wh-1",
                          api_version="2026-01", triggered_at="2026-01-15T15:00:02Z",
                          signature=sign(secret, body), raw_body=body)


def count(session, model, shop_id):
    return session.scalar(select(func.count()).select_from(model).where(model.shop_id == shop_id))


def test_given_verified_delivery_then_stored_once_and_routed_to_its_queue(db_session, vault):
    first = inbox.accept(db_session, vault, delivery())
    again = inbox.accept(db_session, vault, delivery())
    assert (first.created, first.flow.queue) == (True, "invoices")
    assert (again.created, again.inbox_id) == (False, first.inbox_id)
    row = db_session.get(InboxEvent, first.inbox_id)
    assert (row.state, row.resource_id, row.body.encode()) == (InboxState.received, "42", BODY)


def test_given_same_event_id_on_another_topic_then_a_separate_row(db_session, vault):
    # One merchant action fires several topics with one Event-Id: each topic is its own event.
    a = inbox.accept(db_session, vault, delivery(topic="orders/create"))
    b = inbox.accept(db_session, vault, delivery(topic="orders/paid"))
    assert a.inbox_id != b.inbox_id and b.created


def test_given_bad_signature_or_unknown_shop_then_unauthorized_and_nothing_stored(db_session, vault, shop_id):
    with pytest.raises(inbox.Unauthorized):
        inbox.accept(db_session, vault, delivery(secret="wrong"))
    with pytest.raises(inbox.Unauthorized):
        inbox.accept(db_session, vault, delivery(domain="stranger.myshopify.com"))
    assert count(db_session, InboxEvent, shop_id) == 0
    assert count(db_session, AuditEvent, shop_id) == 1  # only the shop's configuration


def test_given_signed_garbage_then_malformed_and_audited_not_stored(db_session, vault, shop_id):
    with pytest.raises(inbox.Malformed, match="not JSON"):
        inbox.accept(db_session, vault, delivery(b"{not json"))
    assert count(db_session, InboxEvent, shop_id) == 0
    audit = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "webhook.malformed",
                                                       AuditEvent.shop_id == shop_id))
    assert audit.detail["body_excerpt"] == "{not json" and "not JSON" in audit.detail["reason"]


def test_given_topic_not_in_this_release_then_kept_as_deferred(db_session, vault):
    accepted = inbox.accept(db_session, vault, delivery(topic="orders/fulfilled"))
    assert accepted.flow is None
    assert db_session.get(InboxEvent, accepted.inbox_id).state == InboxState.deferred


def test_audit_rows_cannot_be_changed(db_session, vault, shop_id):
    row = db_session.scalar(select(AuditEvent).where(AuditEvent.shop_id == shop_id))
    row.action = "tampered"
    with pytest.raises(PermissionError):
        db_session.flush()


def test_given_one_action_firing_a_topic_for_two_orders_then_both_are_kept(db_session, vault, shop_id):
    # e.g. a bulk edit: one Event-Id, the same topic, two different orders
    other = json.dumps({"id": 43, "admin_graphql_api_id": "gid://shopify/Order/43"}).encode()
    first = inbox.accept(db_session, vault, delivery(topic="orders/updated", event_id="bulk-1"))
    second = inbox.accept(db_session, vault, delivery(other, topic="orders/updated", event_id="bulk-1"))
    assert first.created and second.created and first.inbox_id != second.inbox_id
