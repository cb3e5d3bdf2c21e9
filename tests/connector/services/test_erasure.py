"""customers/redact and shop/redact erase personal data from every table; the audit chain still verifies."""
from __future__ import annotations

from sqlalchemy import select

from connector import audit, audit_chain
from connector.models import (
    AuditEvent,
    Binding,
    BindingKind,
    Credential,
    InboxEvent,
    ProcessingAttempt,
)
from connector.services import erasure
from connector.services.footprint import Request
from connector.vault import shop_scope
from tests.personal_data import Person, scan


def redact_request(world, person: Person, order_ids) -> InboxEvent:
    """The customers/redact event itself, as stored before it is processed: it names the customer too."""
    return world.store("customers/redact", {"shop_id": 1, "shop_domain": world.shop.domain,
                                            "customer": {"id": person.customer_id, "email": person.email,
                                                         "phone": person.phone},
                                            "orders_to_redact": order_ids})


def test_given_customers_redact_then_the_customer_is_nowhere_in_the_database_and_the_chain_verifies(
        db_session, world):
    erased, kept = Person(), Person()
    world.customer_with_an_order(erased, order_id=7001, refund_id=8001)
    world.guest_order(erased, order_id=7002)  # the same person, once checked out as a guest
    world.customer_with_an_order(kept, order_id=7003, refund_id=8003)
    request = redact_request(world, erased, [7001])
    assert set(scan(db_session.connection(), erased.personal)) == set(erased.personal)  # it was everywhere
    audit_chain.seal(db_session)

    done = erasure.erase_customer(db_session, world.shop, Request.of(erased.customer_id, erased.email, [7001]))
    audit_chain.seal(db_session)

    assert scan(db_session.connection(), erased.personal) == {}
    assert set(scan(db_session.connection(), kept.personal)) == set(kept.personal)  # nobody else's data went
    verified = audit_chain.verify(db_session)
    assert verified.ok and verified.unsealed_events == 0, verified.problems
    assert db_session.get(InboxEvent, request.id, populate_existing=True).body == ""  # the request's own body too
    assert done.events == 5 and done.keys == 2  # customer, order, refund, guest order, the request


def test_given_customers_redact_then_what_is_not_personal_stays(db_session, world):
    person = Person()
    world.customer_with_an_order(person, order_id=7101, refund_id=8101)

    erasure.erase_customer(db_session, world.shop, Request.of(person.customer_id, person.email, [7101]))

    events = db_session.scalars(select(InboxEvent).where(InboxEvent.shop_id == world.shop.id)).all()
    assert {(e.topic, e.resource_id) for e in events} == {("customers/create", str(person.customer_id)),
                                                          ("orders/create", "7101"), ("refunds/create", "8101")}
    assert all(e.body == "" and e.body_erased_at is not None and e.last_error == "" for e in events)
    order = db_session.scalar(select(Binding).where(Binding.shop_id == world.shop.id,
                                                    Binding.kind == BindingKind.order))
    assert order.shopify_id == "7101" and order.fusion_number and order.last_error == ""  # the accounting link
    rows = db_session.scalars(select(AuditEvent).where(AuditEvent.shop_id == world.shop.id,
                                                       AuditEvent.action == "customer.created")).all()
    assert [audit.opened(db_session, world.keyring, r)["account_number"] for r in rows] == ["AC-1"]
    [erased] = db_session.scalars(select(AuditEvent).where(AuditEvent.shop_id == world.shop.id,
                                                           AuditEvent.action == "privacy.customer_erased")).all()
    assert erased.subject_id == str(person.customer_id) and erased.sealed is None
    assert {k: v for k, v in erased.detail.items() if k not in ("inbox_ids", "key_ids")} == {
        "orders": 1, "inbox_events": 3, "bindings": 1, "keys": 1, "attempts": 1}
    assert sorted(erased.detail["inbox_ids"]) == sorted(e.id for e in events) and len(erased.detail["key_ids"]) == 1


def test_given_a_guest_redacted_by_email_then_its_binding_no_longer_names_the_address(db_session, world):
    guest = Person()
    world.guest_order(guest, order_id=7201)

    erasure.erase_customer(db_session, world.shop, Request.of("", guest.email))

    [binding] = db_session.scalars(select(Binding).where(Binding.shop_id == world.shop.id,
                                                         Binding.kind == BindingKind.customer)).all()
    assert binding.shopify_id == f"erased:{binding.id}" and binding.shopify_gid == ""
    assert scan(db_session.connection(), guest.personal) == {}


def test_given_a_customer_redacted_then_the_digests_of_its_addresses_and_name_go_too(db_session, world):
    guest = Person()
    world.guest_order(guest, order_id=7202)
    [binding] = db_session.scalars(select(Binding).where(Binding.shop_id == world.shop.id,
                                                         Binding.kind == BindingKind.customer)).all()
    binding.fusion_refs = {"party_id": "300100600000001", "sites": {"9f2c": "30001"}, "person": "ab12",
                           "default_site": "30001"}
    db_session.flush()

    erasure.erase_customer(db_session, world.shop, Request.of("", guest.email))

    db_session.refresh(binding)
    assert binding.fusion_refs == {"party_id": "300100600000001", "default_site": "30001"}


def test_given_another_customers_order_mentions_the_email_then_that_body_is_erased_too(db_session, world):
    erased, other = Person(), Person()
    world.customer_with_an_order(erased, order_id=7301, refund_id=8301)
    gift = world.store("orders/create", {"id": 7302, "email": other.email, "customer": {"id": other.customer_id},
                                         "note": f"gift for {erased.email}"})

    erasure.erase_customer(db_session, world.shop, Request.of(erased.customer_id, erased.email))

    assert db_session.get(InboxEvent, gift.id, populate_existing=True).body == ""
    assert scan(db_session.connection(), {"e": erased.email}) == {}


def test_given_shop_redact_then_every_customer_and_the_shop_credentials_are_erased(db_session, world):
    first, second = Person(), Person()
    world.customer_with_an_order(first, order_id=7401, refund_id=8401)
    world.guest_order(second, order_id=7402)
    audit.record(db_session, "webhook.malformed", shop_id=world.shop.id, body_excerpt=f'{{"email": "{first.email}"')
    audit_chain.seal(db_session)

    erasure.erase_shop(db_session, world.shop)
    audit_chain.seal(db_session)

    assert scan(db_session.connection(), {**first.personal, **{f"2 {k}": v for k, v in second.personal.items()}}) == {}
    assert db_session.scalars(select(Credential).where(Credential.scope == shop_scope(world.shop.domain))).all() == []
    assert not db_session.scalars(select(ProcessingAttempt.error).join(InboxEvent).where(
        InboxEvent.shop_id == world.shop.id, ProcessingAttempt.error != "")).all()
    assert audit_chain.verify(db_session).ok


def test_given_a_phone_party_redacted_then_its_binding_and_rows_no_longer_name_the_number(db_session, world):
    from connector.models import BindingKind as Kind
    from connector.subject_keys import guest_subject
    guest = Person()
    placed = world.store("orders/create", {"id": 7301, "admin_graphql_api_id": "gid://shopify/Order/7301",
                                           "email": None, "customer": None, "phone": guest.phone})
    world.bind(Kind.customer, f"phone:{guest.phone}", gid=f"{world.shop.domain}/phone:{guest.phone}")
    world.bind(Kind.order, "7301")
    world.audited(guest_subject(world.shop.id, f"phone:{guest.phone}"), "customer.created", subject_kind="customer",
                  subject_id=f"phone:{guest.phone}", account_number="AC-3", inbox_id=placed.id,
                  request={"FirstName": "Shopify Guest", "RawPhoneNumber": guest.phone})

    erasure.erase_customer(db_session, world.shop, Request.of("", "", (), guest.phone))

    [binding] = db_session.scalars(select(Binding).where(Binding.shop_id == world.shop.id,
                                                         Binding.kind == BindingKind.customer)).all()
    assert binding.shopify_id == f"erased:{binding.id}" and binding.shopify_gid == ""
    assert scan(db_session.connection(), {"phone": guest.phone}) == {}
