"""People whose data the privacy tests follow, and a scan of every table for it.

Each :class:`Person` has strings no other test uses (email, names, street, phone), so a scan of the
whole shared test database can say where their data is, and that it is nowhere after an erasure.
"""
from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import MetaData, select
from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class Person:
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    customer_id: int = field(default_factory=lambda: random.randint(10**12, 10**13))

    @property
    def email(self) -> str:
        return f"privacy-{self.tag}@example.org"

    @property
    def first_name(self) -> str:
        return f"Ottilie{self.tag}"

    @property
    def last_name(self) -> str:
        return f"Vandersloot{self.tag}"

    @property
    def street(self) -> str:
        return f"{int(self.tag[:4], 16)} Quillfeather Row {self.tag}"

    @property
    def phone(self) -> str:
        return "+1512" + str(int(self.tag, 16))[-7:].rjust(7, "0")

    @property
    def personal(self) -> dict[str, str]:
        """What erasure must leave nowhere, by what it is."""
        return {"email": self.email, "first name": self.first_name, "last name": self.last_name,
                "street": self.street, "phone": self.phone}

    def address(self) -> dict:
        return {"first_name": self.first_name, "last_name": self.last_name, "address1": self.street,
                "city": "Austin", "province_code": "TX", "country_code": "US", "zip": "78701", "phone": self.phone}

    def customer(self) -> dict:
        """The customer as an order names it (Shopify's sandbox makes the customer from it)."""
        return {"email": self.email, "first_name": self.first_name, "last_name": self.last_name, "phone": self.phone}


def scan(connection: Connection, needles: dict[str, str]) -> dict[str, list[str]]:
    """Where each needle occurs, as ``table.column``, reading every column of every table as text
    (bytes as Latin-1, so a needle stored in clear in a binary column is found too)."""
    metadata = MetaData()
    metadata.reflect(bind=connection)
    found: dict[str, list[str]] = {name: [] for name in needles}
    lowered = {name: needle.lower() for name, needle in needles.items()}
    for table in metadata.sorted_tables:
        for row in connection.execute(select(table)):
            for column, value in zip(table.columns, row):
                if value is None:
                    continue
                text = bytes(value).decode("latin-1") if isinstance(value, (bytes, memoryview)) else str(value)
                text = text.lower()
                for name, needle in lowered.items():
                    if needle in text:
                        found[name].append(f"{table.name}.{column.name}")
    return {name: places for name, places in found.items() if places}


def named_objects(export: dict) -> set[str]:
    """Every Shopify object an export names: its events', bindings' and audit rows' objects (ids
    checked as values: as text, a short id could be part of a timestamp or a digest)."""
    bodies = [e["body"] for e in export["inbox_events"] if isinstance(e["body"], dict)]
    return ({str(b.get("id")) for b in bodies} | {str(b.get("order_id")) for b in bodies}
            | {b["shopify_id"] for b in export["bindings"]} | {a["subject_id"] for a in export["audit_events"]})


class World:
    """A shop's tables filled as the processing loop fills them, without Shopify or Fusion: stored
    webhooks, bindings, attempts and audit rows sealed under each subject's key."""

    def __init__(self, session, keyring, shop):
        self.session, self.keyring, self.shop = session, keyring, shop
        self._event_ids = iter(range(1, 10**6))

    def store(self, topic: str, payload: dict, *, state=None, processed_days_ago: float | None = 1.0,
              received_days_ago: float = 1.0, last_error: str = ""):
        from connector.models import InboxEvent, InboxState
        now = datetime.now(timezone.utc)
        state = state or InboxState.done
        event = InboxEvent(shop_id=self.shop.id, topic=topic, event_id=f"ev-{uuid.uuid4().hex}",
                           resource_id=str(payload.get("id", "")), body=json.dumps(payload), state=state,
                           last_error=last_error, received_at=now - timedelta(days=received_days_ago),
                           processed_at=(now - timedelta(days=processed_days_ago)
                                         if processed_days_ago is not None else None))
        self.session.add(event)
        self.session.flush()
        return event

    def attempt(self, event, error: str = ""):
        from connector.models import AttemptOutcome, ProcessingAttempt
        self.session.add(ProcessingAttempt(inbox_id=event.id, number=1, outcome=AttemptOutcome.done, error=error))
        self.session.flush()

    def bind(self, kind, shopify_id: str, *, gid: str = "", refs: dict | None = None, last_error: str = ""):
        from connector.models import Binding, BindingState
        binding = Binding(shop_id=self.shop.id, kind=kind, shopify_id=shopify_id, shopify_gid=gid,
                          state=BindingState.synced, fusion_id=uuid.uuid4().hex[:12],
                          fusion_number=uuid.uuid4().hex[:8], fusion_refs=refs or {}, last_error=last_error)
        self.session.add(binding)
        self.session.flush()
        return binding

    def audited(self, subject: str, action: str, **kwargs):
        """An audit row as the processing loop records it for an event of ``subject``."""
        from connector import audit
        key = self.keyring.key(self.session, self.shop.id, subject)
        with audit.sealing(key):
            audit.record(self.session, action, shop_id=self.shop.id, **kwargs)
        self.session.flush()
        return key

    # -- what a customer's life in the connector leaves ------------------------------------------

    def customer_with_an_order(self, person: Person, order_id: int, refund_id: int) -> None:
        from connector.models import BindingKind
        from connector.subject_keys import customer_subject
        cid = str(person.customer_id)
        customer = dict(person.customer(), id=person.customer_id,
                        admin_graphql_api_id=f"gid://shopify/Customer/{cid}", addresses=[person.address()])
        self.store("customers/create", customer, last_error="the customer has no address yet")
        order = {"id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}", "email": person.email,
                 "customer": dict(person.customer(), id=person.customer_id), "billing_address": person.address(),
                 "total_price": "66.74"}
        placed = self.store("orders/create", order)
        self.attempt(placed, error=f"FusionRejected: no person {person.email} at {person.street}")
        self.store("refunds/create", {"id": refund_id, "order_id": order_id, "note": "damaged"})
        self.bind(BindingKind.customer, cid, gid=f"gid://shopify/Customer/{cid}",
                  refs={"party_id": "300100", "bill_to_site_use_id": "300200"})
        self.bind(BindingKind.order, str(order_id), gid=f"gid://shopify/Order/{order_id}",
                  last_error=f"earlier: {person.first_name} {person.last_name} refused")
        self.bind(BindingKind.payment, str(order_id * 10 + 1), refs={"order_id": str(order_id), "amount": "66.74"})
        self.bind(BindingKind.refund, str(refund_id), refs={"order_id": str(order_id)})
        self.bind(BindingKind.adjustment, f"{order_id}:1", refs={"order_id": str(order_id)})
        subject = customer_subject(cid)
        self.audited(subject, "fusion.call", subject_kind="order", subject_id=str(order_id), inbox_id=placed.id,
                     method="GET", status=200, elapsed_ms=12,
                     url=f"https://pod.example/crmRestApi/resources/hubPersons?q=EmailAddress='{person.email}'",
                     response={"items": [{"FirstName": person.first_name, "EmailAddress": person.email}]})
        self.audited(subject, "fusion.call", subject_kind="order", subject_id=str(order_id), inbox_id=placed.id,
                     method="POST", status=201, url="https://pod.example/crmRestApi/resources/hubPersons",
                     request={"FirstName": person.first_name, "LastName": person.last_name,
                              "EmailAddress": person.email, "Address": [{"Address1": person.street}]})
        self.audited(subject, "customer.created", subject_kind="customer", subject_id=cid, account_number="AC-1")
        self.audited(subject, "inbox.parked", subject_kind="order", subject_id=str(order_id), inbox_id=placed.id,
                     message=f"no person {person.email}")

    def guest_order(self, person: Person, order_id: int) -> None:
        from connector.models import BindingKind
        from connector.subject_keys import guest_subject
        order = {"id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}", "email": person.email,
                 "customer": None, "billing_address": person.address()}
        placed = self.store("orders/create", order)
        self.bind(BindingKind.customer, f"email:{person.email}", gid=f"{self.shop.domain}/email:{person.email}")
        self.bind(BindingKind.order, str(order_id))
        self.audited(guest_subject(self.shop.id, person.email), "customer.created", subject_kind="customer",
                     subject_id=f"email:{person.email}", account_number="AC-2", inbox_id=placed.id,
                     request={"FirstName": person.first_name, "EmailAddress": person.email})
