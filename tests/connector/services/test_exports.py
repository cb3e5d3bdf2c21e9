"""customers/data_request: everything stored about the customer, and nothing about anyone else."""
from __future__ import annotations

import json
import stat

from connector.services import exports
from connector.services.footprint import Request
from tests.personal_data import Person, named_objects


def test_given_a_data_request_then_the_export_holds_everything_stored_about_the_customer_and_nothing_else(
        db_session, world):
    asked, other = Person(), Person()
    world.customer_with_an_order(asked, order_id=7501, refund_id=8501)
    world.guest_order(asked, order_id=7502)
    world.customer_with_an_order(other, order_id=7503, refund_id=8503)

    document = exports.build(db_session, world.keyring, world.shop, Request.of(asked.customer_id, asked.email))
    text = exports.dumps(document)

    assert {(e["topic"], str(e["body"]["id"])) for e in document["inbox_events"]} == {
        ("customers/create", str(asked.customer_id)), ("orders/create", "7501"), ("refunds/create", "8501"),
        ("orders/create", "7502")}
    assert {(b["kind"], b["shopify_id"]) for b in document["bindings"]} == {
        ("customer", str(asked.customer_id)), ("order", "7501"), ("payment", "75011"), ("refund", "8501"),
        ("adjustment", "7501:1"), ("customer", f"email:{asked.email}"), ("order", "7502")}
    assert [a["error"] for a in document["processing_attempts"]] == [
        f"FusionRejected: no person {asked.email} at {asked.street}"]
    sealed = {a["action"]: a["detail"] for a in document["audit_events"] if "request" in a["detail"]}
    assert sealed["fusion.call"]["request"]["LastName"] == asked.last_name  # opened, not ciphertext
    assert sealed["customer.created"]["request"]["EmailAddress"] == asked.email
    assert all(value in text for value in asked.personal.values())
    assert not [value for value in other.personal.values() if value in text]
    assert not {"7503", "8503"} & named_objects(document) and str(other.customer_id) not in text
    assert "Fusion" in document["held_elsewhere"]


def test_given_only_orders_named_then_the_export_follows_them_to_the_customer(db_session, world):
    asked = Person()
    world.customer_with_an_order(asked, order_id=7601, refund_id=8601)

    document = exports.build(db_session, world.keyring, world.shop, Request.of(order_ids=[7601]))

    assert {e["topic"] for e in document["inbox_events"]} == {"customers/create", "orders/create", "refunds/create"}


def test_given_an_export_written_then_only_its_owner_can_read_it(tmp_path):
    written = exports.write(tmp_path / "shop", "data-request-1.json", {
        "inbox_events": [], "processing_attempts": [], "bindings": [], "audit_events": [{"id": 1}]})

    assert stat.S_IMODE(written.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(written.path.parent.stat().st_mode) == 0o700
    assert json.loads(written.path.read_text())["audit_events"] == [{"id": 1}]
    assert written.counts == {"inbox_events": 0, "processing_attempts": 0, "bindings": 0, "audit_events": 1}
