"""Which events a shop that re-reads from the Admin API reads again: documents' objects only."""
from __future__ import annotations

import pytest

from connector import flows
from connector.models import Shop
from connector.services.reread import rereads

REREADING = Shop(domain="a.myshopify.com", client_id="c", transaction_prefix="A", reread_from_admin=True)


@pytest.mark.parametrize("topic", sorted(flows.DOCUMENT_TOPICS))
def test_given_the_option_then_every_document_topic_delivered_by_webhook_is_read_again(topic):
    assert rereads(REREADING, topic, "webhook")


@pytest.mark.parametrize("topic", ["customers/redact", "customers/data_request", "shop/redact", "app/uninstalled"])
def test_given_the_option_then_privacy_and_uninstall_events_are_acted_on_as_delivered(topic):
    assert not rereads(REREADING, topic, "webhook")


def test_given_an_event_read_from_the_admin_api_already_then_not_read_twice():
    assert not rereads(REREADING, "orders/create", "reconcile")


def test_the_document_topics_are_the_orders_refunds_and_customers_changes():
    assert flows.DOCUMENT_TOPICS == {"orders/create", "orders/updated", "orders/paid", "orders/cancelled",
                                     "refunds/create", "customers/create", "customers/update"}


def test_given_the_option_off_then_nothing_is_read_again():
    off = Shop(domain="b.myshopify.com", client_id="c", transaction_prefix="B", reread_from_admin=False)
    assert not rereads(off, "orders/create", "webhook")
