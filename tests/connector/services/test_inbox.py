"""The inbox stores each verified delivery once, and nothing that is not verified."""
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from connector import audit as audit_trail
from connector.models import AuditEvent, InboxEvent, InboxState, Shop
from connector.services import inbox
from connector.services.setup import add_shop
from connector.services.shop_keys import WebhookKeys
from connector.shopify.webhooks import sign
from connector.subject_keys import Keyring
from connector.vault import Vault, generate_key

SECRET = "shpss_inbox_test"
BODY = json.dumps({"id": 42, "admin_graphql_api_id": "gid://shopify/Order/42"}).encode()
TRIGGERED = datetime.now(timezone.utc).isoformat(timespec="seconds")  # a fresh delivery's


def order(number: int) -> bytes:
    """A body of its own: the inbox takes a body it already holds for a duplicate."""
    return json.dumps({"id": number, "admin_graphql_api_id": f"gid://shopify/Order/{number}"}).encode()


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


def delivery(body=BODY, *, topic="orders/create", event_id="ev-1", secret=SECRET, domain="inbox-test.myshopify.com",
             triggered_at=TRIGGERED):
    return inbox.Delivery(shop_domain=domain, topic=topic, event_id=event_id, webhook_id="wh-1",
                          api_version="2026-01", triggered_at=triggered_at,
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
        shop_id, "orders/create", "ev-1", "wh-1", "2026-01", TRIGGERED)
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

    accepted = inbox.accept(db_session, keys, delivery(order(2), event_id="ev-2", secret="shpss_new"))  # no time passed

    assert accepted.created


def test_given_a_secret_dropped_by_rotation_then_it_verifies_until_the_ttl_has_passed(db_session, vault, keys, clock):
    inbox.accept(db_session, keys, delivery())
    rotate(db_session, vault, "shpss_second")
    rotate(db_session, vault, "shpss_third")  # keeps the second as the previous secret: the first is gone

    clock.now += 4.9
    assert inbox.accept(db_session, keys, delivery(order(2), event_id="ev-2")).created
    clock.now += 0.1
    with pytest.raises(inbox.Unauthorized):
        inbox.accept(db_session, keys, delivery(order(3), event_id="ev-3"))
    assert inbox.accept(db_session, keys, delivery(order(4), event_id="ev-4", secret="shpss_second")).created


def test_given_no_ttl_then_a_dropped_secret_is_refused_at_once(db_session, vault):
    keys = WebhookKeys(vault, ttl_seconds=0)
    inbox.accept(db_session, keys, delivery())
    rotate(db_session, vault, "shpss_second")
    rotate(db_session, vault, "shpss_third")

    with pytest.raises(inbox.Unauthorized):
        inbox.accept(db_session, keys, delivery(order(2), event_id="ev-2"))


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


def test_given_signed_garbage_then_malformed_and_audited_not_stored(db_session, keys, shop_id, vault):
    keyring = Keyring(vault)
    with pytest.raises(inbox.Malformed, match="not JSON"), audit_trail.keyring_in_use(keyring):
        inbox.accept(db_session, keys, delivery(b"{not json"))
    assert count(db_session, InboxEvent, shop_id) == 0
    audit = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "webhook.malformed",
                                                       AuditEvent.shop_id == shop_id))
    assert "not JSON" in audit.detail["reason"] and "body_excerpt" not in audit.detail  # sealed: it may be personal
    assert audit_trail.opened(db_session, keyring, audit)["body_excerpt"] == "{not json"


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


# -- replays: only the body is signed -------------------------------------------------------------

def test_given_a_stored_body_sent_again_with_fresh_headers_then_a_duplicate_and_one_row(db_session, keys, shop_id):
    first = inbox.accept(db_session, keys, delivery(event_id="ev-1"))

    replayed = inbox.accept(db_session, keys, inbox.Delivery(
        shop_domain="inbox-test.myshopify.com", topic="orders/create", event_id="ev-fresh", webhook_id="wh-fresh",
        api_version="2026-04", triggered_at=datetime.now(timezone.utc).isoformat(), signature=sign(SECRET, BODY),
        raw_body=BODY))

    assert first.created and (replayed.created, replayed.flow) == (False, None)
    assert count(db_session, InboxEvent, shop_id) == 1


def test_given_a_triggered_at_older_than_the_window_then_refused_recorded_and_not_stored(db_session, keys, shop_id):
    old = (datetime.now(timezone.utc) - timedelta(hours=7)).isoformat()

    with pytest.raises(inbox.Refused, match="MLC_WEBHOOK_MAX_AGE"):
        inbox.accept(db_session, keys, delivery(triggered_at=old), inbox.Window(max_age_seconds=6 * 3600))

    assert count(db_session, InboxEvent, shop_id) == 0
    [refused] = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "webhook.refused",
                                                            AuditEvent.shop_id == shop_id)).all()
    assert (refused.detail["triggered_at"], refused.detail["event_id"]) == (old, "ev-1")


def test_given_a_triggered_at_ahead_of_the_clock_beyond_the_skew_then_refused(db_session, keys, shop_id):
    ahead = (datetime.now(timezone.utc) + timedelta(minutes=10)).isoformat()
    within = (datetime.now(timezone.utc) + timedelta(minutes=4)).isoformat()

    with pytest.raises(inbox.Refused, match="MLC_WEBHOOK_MAX_SKEW"):
        inbox.accept(db_session, keys, delivery(triggered_at=ahead), inbox.Window(max_skew_seconds=300))
    assert inbox.accept(db_session, keys, delivery(order(2), triggered_at=within), inbox.Window(max_skew_seconds=300)).created


@pytest.mark.parametrize("triggered_at", ["", "yesterday", "2026-12-02T10:00:00", "2026-12-02", "9" * 65])
def test_given_a_missing_or_unreadable_triggered_at_then_an_invalid_header_and_nothing_recorded(
        db_session, keys, shop_id, triggered_at):
    before = count(db_session, AuditEvent, shop_id)

    with pytest.raises(inbox.InvalidHeader, match="Triggered-At"):
        inbox.accept(db_session, keys, delivery(triggered_at=triggered_at))

    assert (count(db_session, InboxEvent, shop_id), count(db_session, AuditEvent, shop_id)) == (0, before)


def test_given_the_previous_secret_after_the_rotation_window_then_unauthorized(db_session, vault):
    rotate(db_session, vault, "shpss_after")  # SECRET is now the previous secret
    later = datetime.now(timezone.utc) + timedelta(seconds=3601)
    within = WebhookKeys(vault, ttl_seconds=0, rotation_window_seconds=3600)
    after = WebhookKeys(vault, ttl_seconds=0, rotation_window_seconds=3600, now=lambda: later)

    assert inbox.accept(db_session, within, delivery(order(1))).created
    with pytest.raises(inbox.Unauthorized):
        inbox.accept(db_session, after, delivery(order(2), triggered_at=later.isoformat()))
    assert inbox.accept(db_session, after, delivery(order(3), secret="shpss_after", triggered_at=later.isoformat())).created


def test_given_a_held_previous_secret_then_the_window_is_checked_at_each_webhook_not_when_read(db_session, vault):
    rotate(db_session, vault, "shpss_held")
    now = [datetime.now(timezone.utc)]
    keys = WebhookKeys(vault, ttl_seconds=3600, rotation_window_seconds=60, now=lambda: now[0])
    assert inbox.accept(db_session, keys, delivery(order(1))).created  # read and held, previous secret valid

    now[0] += timedelta(seconds=61)

    with pytest.raises(inbox.Unauthorized):
        inbox.accept(db_session, keys, delivery(order(2), triggered_at=now[0].isoformat()))


# -- bodies and headers that are not Shopify's ---------------------------------------------------

def nested(depth: int) -> bytes:
    """An order whose ``note`` nests objects so that the body is ``depth`` deep in all."""
    return b'{"id": 7, "note": ' + b'{"a": ' * (depth - 1) + b"1" + b"}" * (depth - 1) + b"}"


def test_given_a_body_as_deep_as_allowed_then_stored_and_one_deeper_refused(db_session, keys, shop_id):
    assert inbox.accept(db_session, keys, delivery(nested(inbox.MAX_JSON_DEPTH), event_id="ev-deep")).created
    with pytest.raises(inbox.Malformed, match="nests deeper"):
        inbox.accept(db_session, keys, delivery(nested(inbox.MAX_JSON_DEPTH + 1), event_id="ev-deeper"))


def test_given_a_body_nested_too_deep_in_arrays_then_refused(db_session, keys, shop_id):
    # given an order whose note is arrays inside arrays: 1 object + 64 arrays, 65 deep in all
    body = b'{"id": 9, "note": ' + b"[" * inbox.MAX_JSON_DEPTH + b"]" * inbox.MAX_JSON_DEPTH + b"}"
    with pytest.raises(inbox.Malformed, match="nests deeper"):
        inbox.accept(db_session, keys, delivery(body, event_id="ev-arrays"))


def test_given_a_large_order_with_more_objects_than_the_depth_limit_then_stored(db_session, keys, shop_id):
    # given 200 line items of four containers each: far more than MAX_JSON_DEPTH, 5 deep
    body = json.dumps({"id": 8, "line_items": [{"id": n, "tax_lines": [{"rate": "0.1"}], "properties": []}
                                                for n in range(200)]}).encode()
    # then it is stored: the body's count of braces does not refuse it, only its depth would
    assert inbox.accept(db_session, keys, delivery(body, event_id="ev-large")).created


@pytest.mark.parametrize("body, reason", [
    (b"[" * 5000 + b"]" * 5000, "nests deeper"),                       # past the parser's own stack
    (b'{"a":' * 100 + b"1" + b"}" * 100, "nests deeper"),              # past MAX_JSON_DEPTH
    (b'{"id": {"nested": 1}}', "not an id"),
    (b'{"id": "' + b"9" * 40 + b'"}', "not an id"),
    (b'{"id": true}', "not an id"),
    (b'[{"id": 1}]', "not a JSON object"),
])
def test_given_a_signed_body_that_is_not_a_shopify_payload_then_malformed_and_audited(db_session, keys, shop_id,
                                                                                        body, reason):
    with pytest.raises(inbox.Malformed, match=reason):
        inbox.accept(db_session, keys, delivery(body))

    assert count(db_session, InboxEvent, shop_id) == 0
    assert db_session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "webhook.malformed", AuditEvent.shop_id == shop_id)) == 1


@pytest.mark.parametrize("field, value", [
    ("topic", "x" * 500), ("topic", 'orders/create"} 1'), ("topic", ""), ("event_id", "e" * 200),
    ("webhook_id", "<script>"), ("api_version", "2026-01; DROP"), ("shop_domain", "evil.example.com"),
])
def test_given_an_unsigned_header_of_the_wrong_shape_then_invalid_and_nothing_stored(db_session, keys, shop_id,
                                                                                      field, value):
    bad = inbox.Delivery(**{**delivery().__dict__, field: value})

    with pytest.raises(inbox.InvalidHeader):
        inbox.accept(db_session, keys, bad)

    assert count(db_session, InboxEvent, shop_id) == 0


# -- Shopify's mandatory compliance webhooks -----------------------------------------------------

COMPLIANCE = {
    "customers/data_request": {"shop_id": 954889, "shop_domain": "inbox-test.myshopify.com",
                               "orders_requested": [299938, 280263], "customer": {
                                   "id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
                               "data_request": {"id": 9999}},
    "customers/redact": {"shop_id": 954889, "shop_domain": "inbox-test.myshopify.com", "customer": {
                             "id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
                         "orders_to_redact": [299938, 280263, 220458]},
    "shop/redact": {"shop_id": 954889, "shop_domain": "inbox-test.myshopify.com"},
}


@pytest.mark.parametrize("topic, subject", [("customers/data_request", "191167"), ("customers/redact", "191167"),
                                            ("shop/redact", "954889")])
def test_given_a_compliance_webhook_in_its_real_shape_then_stored_for_its_flow(db_session, keys, topic, subject):
    body = json.dumps(COMPLIANCE[topic]).encode()

    accepted = inbox.accept(db_session, keys, delivery(body, topic=topic, triggered_at=""))  # without it too

    row = db_session.get(InboxEvent, accepted.inbox_id)
    assert (accepted.created, accepted.flow.topic) == (True, topic)  # a worker exports or erases (privacy)
    assert (row.state, row.resource_id, row.body.encode()) == (InboxState.received, subject, body)


def test_given_a_redact_naming_its_customer_by_email_alone_then_stored_all_the_same(db_session, keys):
    body = json.dumps({"shop_id": 954889, "shop_domain": "inbox-test.myshopify.com",
                       "customer": {"email": "john@example.com"}, "orders_to_redact": []}).encode()

    accepted = inbox.accept(db_session, keys, delivery(body, topic="customers/redact"))

    assert accepted.created and db_session.get(InboxEvent, accepted.inbox_id).resource_id == ""


def test_given_a_compliance_body_naming_another_shop_then_malformed(db_session, keys, shop_id):
    body = json.dumps(dict(COMPLIANCE["shop/redact"], shop_domain="someone-else.myshopify.com")).encode()

    with pytest.raises(inbox.Malformed, match="shop_domain"):
        inbox.accept(db_session, keys, delivery(body, topic="shop/redact"))
    assert count(db_session, InboxEvent, shop_id) == 0


def test_given_a_customers_merge_delivery_then_it_is_about_the_merged_away_customer(db_session, keys, shop_id):
    body = (b'{"admin_graphql_api_customer_kept_id": "gid://shopify/Customer/7", '
            b'"admin_graphql_api_customer_deleted_id": "gid://shopify/Customer/9", "status": "completed"}')

    accepted = inbox.accept(db_session, keys, delivery(body, topic="customers/merge"))

    assert (accepted.flow.queue, accepted.resource_id) == ("customers", "9")
    with pytest.raises(inbox.Malformed, match="admin_graphql_api_customer_deleted_id"):
        inbox.accept(db_session, keys, delivery(b'{"id": 9}', topic="customers/merge", event_id="ev-2"))
