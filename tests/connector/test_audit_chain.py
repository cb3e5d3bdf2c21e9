"""The audit trail's hash chain: any change to a sealed row shows; erasure by key does not."""
from __future__ import annotations

from sqlalchemy import delete, text, update

from connector import audit_chain, subject_keys
from connector.models import AuditEvent
from connector.subject_keys import customer_subject
from tests.personal_data import Person


def without_append_only_triggers(session) -> None:
    """What an intruder with the database's owner rights could do (rolled back with the test)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
    else:
        session.execute(text("DROP TRIGGER audit_events_no_update"))
        session.execute(text("DROP TRIGGER audit_events_no_delete"))


def a_customers_rows(world) -> tuple[Person, object]:
    person = Person()
    key = world.audited(customer_subject(str(person.customer_id)), "fusion.call", subject_kind="order",
                        subject_id="1", method="POST", request={"EmailAddress": person.email})
    world.audited(customer_subject(str(person.customer_id)), "invoice.created", subject_kind="order",
                  subject_id="1", transaction_number="P-1001")
    return person, key


def test_given_rows_sealed_then_the_chain_verifies_and_its_head_is_the_newest_seal(db_session, world):
    a_customers_rows(world)

    links = audit_chain.seal(db_session)
    result = audit_chain.verify(db_session)

    assert links and result.ok, result.problems
    assert result.head == links[-1].hash and result.unsealed_events == 0


def test_given_a_sealed_row_changed_then_verify_names_its_seal(db_session, world):
    a_customers_rows(world)
    [*_, link] = audit_chain.seal(db_session)
    without_append_only_triggers(db_session)

    db_session.execute(update(AuditEvent).where(AuditEvent.id == link.last_event_id)
                       .values(detail={"transaction_number": "P-9999"}))

    result = audit_chain.verify(db_session)
    assert not result.ok and f"seal {link.id}" in result.problems[-1]


def test_given_a_sealed_row_removed_then_verify_fails(db_session, world):
    a_customers_rows(world)
    [*_, link] = audit_chain.seal(db_session)
    without_append_only_triggers(db_session)

    db_session.execute(delete(AuditEvent).where(AuditEvent.id == link.first_event_id))

    assert not audit_chain.verify(db_session).ok


def test_given_a_customer_key_destroyed_then_the_chain_still_verifies(db_session, world):
    _, key = a_customers_rows(world)
    audit_chain.seal(db_session)

    subject_keys.destroy(db_session, [key.id])
    world.audited("shop", "privacy.customer_erased", keys=1)
    audit_chain.seal(db_session)

    result = audit_chain.verify(db_session)
    assert result.ok and result.unsealed_events == 0, result.problems


def test_given_rows_written_after_the_last_seal_then_counted_as_not_sealed_yet(db_session, world):
    a_customers_rows(world)
    audit_chain.seal(db_session)
    world.audited("shop", "inbox.done", inbox_id=1)

    assert audit_chain.verify(db_session).unsealed_events == 1
