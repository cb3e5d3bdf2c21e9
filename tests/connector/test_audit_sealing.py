"""Personal data never sits in an audit row in clear: it is sealed under its subject's key."""
from __future__ import annotations

from sqlalchemy import select

from connector import audit, subject_keys
from connector.models import AuditEvent
from connector.subject_keys import customer_subject, guest_subject
from tests.personal_data import Person


def last_row(session, action: str) -> AuditEvent:
    return session.scalar(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc()))


def test_given_personal_fields_then_sealed_under_the_customer_key_and_readable_until_it_is_destroyed(
        db_session, world):
    person = Person()
    key = world.audited(customer_subject(str(person.customer_id)), "fusion.call", subject_kind="order",
                        subject_id="42", method="POST", status=201, elapsed_ms=30,
                        url=f"https://pod.example/hubPersons?q=EmailAddress='{person.email}'",
                        request={"FirstName": person.first_name, "EmailAddress": person.email},
                        response={"PartyId": 7}, error="")
    row = last_row(db_session, "fusion.call")

    assert row.detail == {"method": "POST", "status": 201, "elapsed_ms": 30, "url": "https://pod.example/hubPersons",
                          "error": ""}  # what is not personal stays readable; an empty error says nothing
    assert row.key_id == key.id and person.email.encode() not in row.sealed
    opened = audit.opened(db_session, world.keyring, row)
    assert opened["request"]["EmailAddress"] == person.email and opened["query"] == f"q=EmailAddress='{person.email}'"

    subject_keys.destroy(db_session, [key.id])

    assert audit.opened(db_session, world.keyring, row) == {**row.detail, "sealed": audit.ERASED}


def test_given_a_guest_then_the_row_names_the_guest_by_key_never_by_email(db_session, world):
    person = Person()
    key = world.audited(guest_subject(world.shop.id, person.email), "customer.created", subject_kind="customer",
                        subject_id=f"email:{person.email}", account_number="AC-9")

    row = last_row(db_session, "customer.created")
    assert row.subject_id == f"guest:{key.id}" and row.detail == {"account_number": "AC-9"}


def test_given_a_guest_row_with_no_event_at_hand_then_it_is_sealed_under_that_guests_key(db_session, world):
    person = Person()
    audit.record(db_session, "invoice.changed_in_fusion", shop_id=world.shop.id, subject_kind="customer",
                 subject_id=f"email:{person.email}", message=f"seen for {person.email}")  # as a beat job does

    row = last_row(db_session, "invoice.changed_in_fusion")
    key = world.keyring.key(db_session, world.shop.id, guest_subject(world.shop.id, person.email))
    assert (row.subject_id, row.key_id) == (f"guest:{key.id}", key.id) and person.email.encode() not in row.sealed


def test_given_no_event_at_hand_then_personal_fields_go_under_the_shop_key(db_session, world):
    audit.record(db_session, "webhook.malformed", shop_id=world.shop.id, reason="body is not JSON",
                 body_excerpt='{"email": "someone@example.org"')

    row = last_row(db_session, "webhook.malformed")
    assert row.detail == {"reason": "body is not JSON"}
    assert row.key_id == world.keyring.shop_key(db_session, world.shop.id).id
    assert audit.opened(db_session, world.keyring, row)["body_excerpt"].startswith('{"email"')


def test_given_no_key_at_all_then_personal_fields_are_withheld_not_stored(db_session):
    audit.record(db_session, "setup.note", message="written by someone@example.org")

    row = last_row(db_session, "setup.note")
    assert row.detail == {"message": audit.WITHHELD} and row.sealed is None
