"""Shopify's compliance webhooks, through the real receiver and workers: an export for
customers/data_request, erasure for customers/redact and shop/redact, and an audit trail whose
hash chain still verifies after it.

Everything is real: orders go through the Shopify sandbox, its webhooks through gunicorn and the
Celery workers into Fusion; the compliance webhooks are signed deliveries in Shopify's shape. The
database is then read whole, every table and column as text.
"""
from __future__ import annotations

import json
import random

import pytest

from connector import audit_chain
from connector.config import load_settings
from connector.db import get_engine, session_scope
from connector.models import Credential, InboxState
from connector.vault import shop_scope
from tests.factories import new_order
from tests.integration.test_refunds import line_refund
from tests.personal_data import Person, named_objects, scan
from tests.support import eventually


def order_of(person: Person, paid: bool = True) -> dict:
    order = dict(new_order(person.email), customer=person.customer(), billing_address=person.address(),
                 shipping_address=person.address(), phone=person.phone)
    return dict(order, financial_status="paid") if paid else order


def a_customer_with_history(shop, person: Person, refund: bool = False) -> dict:
    """An invoiced, paid order (customer, invoice, receipt in Fusion), refunded in part if asked."""
    order = shop.place_order(order_of(person))
    shop.wait_invoiced(order)
    if refund:
        shop.act(f"orders/{order['id']}/refunds", line_refund(order))
    assert shop.quiet(), shop.last_attempt_errors()
    return order


def compliance(shop, topic: str, payload: dict):
    """Deliver a compliance webhook as Shopify does, and wait until its event is processed."""
    response = shop.deliver(topic, dict({"shop_id": random.randint(10**6, 10**7), "shop_domain": shop.domain},
                                        **payload))
    assert response.status_code == 200, response.text
    inbox_id = response.json()["id"]
    event = eventually(lambda: next((e for e in shop.inbox() if e.id == inbox_id and e.state != InboxState.received),
                                    None), timeout=45)
    assert event is not None and event.state == InboxState.done, (event, shop.last_attempt_errors())
    return event


def database_scan(needles: dict[str, str]) -> dict[str, list[str]]:
    with get_engine(load_settings().database_url).connect() as connection:
        return scan(connection, needles)


def chain_verifies() -> audit_chain.Verification:
    with session_scope(load_settings().database_url) as session:
        audit_chain.seal(session)
    with session_scope(load_settings().database_url) as session:
        return audit_chain.verify(session)


def customer_id(shop, order: dict) -> int:
    return order["customer"]["id"]


def test_given_customers_redact_then_the_customer_is_nowhere_in_the_database_and_the_audit_chain_verifies(
        stack, shop):
    erased, kept = Person(), Person()
    order = a_customer_with_history(shop, erased, refund=True)
    a_customer_with_history(shop, kept)
    assert set(database_scan(erased.personal)) == set(erased.personal)  # bodies, bindings, sealed rows…
    assert chain_verifies().ok

    compliance(shop, "customers/redact", {"customer": {"id": customer_id(shop, order), "email": erased.email,
                                                       "phone": erased.phone},
                                          "orders_to_redact": [order["id"]]})

    assert database_scan(erased.personal) == {}
    assert set(database_scan(kept.personal)) == set(kept.personal)
    verified = chain_verifies()
    assert verified.ok, verified.problems
    assert shop.fusion_invoices(order), "the merchant's accounting record stays in Fusion"
    [done] = shop.audit("privacy.customer_erased")
    assert done.subject_id == str(customer_id(shop, order)) and done.detail["keys"] >= 1


def test_given_customers_data_request_then_the_export_holds_everything_about_the_customer_and_nothing_else(
        stack, shop):
    asked, other = Person(), Person()
    order = a_customer_with_history(shop, asked)
    other_order = a_customer_with_history(shop, other)
    request_id = random.randint(10**6, 10**7)

    compliance(shop, "customers/data_request", {"customer": {"id": customer_id(shop, order), "email": asked.email,
                                                              "phone": asked.phone},
                                                "orders_requested": [order["id"]],
                                                "data_request": {"id": request_id}})

    path = load_settings().privacy_export_dir / shop.domain / f"data-request-{request_id}.json"
    text = path.read_text()
    document = json.loads(text)
    assert all(value in text for value in asked.personal.values())
    assert not [value for value in other.personal.values() if value in text]
    assert str(other_order["id"]) not in named_objects(document)
    topics = {e["topic"] for e in document["inbox_events"]}
    assert {"orders/create", "customers/create", "customers/data_request"} <= topics
    assert {b["kind"] for b in document["bindings"]} >= {"customer", "order", "payment"}
    calls = [a for a in document["audit_events"] if a["action"] == "fusion.call"]
    assert any(asked.email in json.dumps(a["detail"]) for a in calls)  # what was sent to Fusion, opened
    assert document["processing_attempts"]
    [recorded] = shop.audit("privacy.exported")
    assert recorded.detail["file"] == path.name and recorded.sealed is None
    assert not [value for value in asked.personal.values() if value in json.dumps(recorded.detail)]


def test_given_shop_redact_then_every_customer_and_the_shop_credentials_are_erased(stack, shop):
    first, second = Person(), Person()
    a_customer_with_history(shop, first)
    a_customer_with_history(shop, second)

    compliance(shop, "shop/redact", {})

    assert database_scan({**first.personal, **{f"second {k}": v for k, v in second.personal.items()}}) == {}
    with session_scope(load_settings().database_url) as session:
        assert session.query(Credential).filter(Credential.scope == shop_scope(shop.domain)).count() == 0
    assert all(e.body == "" for e in shop.inbox())
    assert chain_verifies().ok


@pytest.mark.parametrize("topic", ["customers/redact", "customers/data_request"])
def test_given_a_request_naming_no_customer_then_it_is_kept_with_the_reason(stack, shop, topic):
    response = shop.deliver(topic, {"shop_id": 1, "shop_domain": shop.domain, "customer": {}})
    assert response.status_code == 200, response.text

    event = eventually(lambda: next((e for e in shop.inbox() if e.state != InboxState.received), None), timeout=45)
    assert event.state == InboxState.deferred and "names no customer" in event.last_error
