"""The connector's state: shops, Fusion pods, encrypted credentials, the webhook inbox, bindings
between Shopify and Fusion objects, and the append-only audit trail.

Uniqueness lives in the database, not in code: the inbox is unique on (shop, topic, event id) and
on (shop, topic, body hash), a binding on (shop, kind, Shopify id), so two workers racing on the
same record collide on a key instead of both writing to Fusion.
"""
from __future__ import annotations

import enum
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    false,
    inspect,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, also on SQLite, which stores them without their zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return value.astimezone(timezone.utc) if value is not None and value.tzinfo else value

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime()}


# BIGINT on PostgreSQL, but INTEGER on SQLite so that the primary key stays the rowid alias.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class InboxState(str, enum.Enum):
    received = "received"      # stored, not yet processed (or its task was lost: the sweeper re-sends)
    done = "done"              # its effect is in Fusion (or it needed none)
    parked = "parked"          # Fusion refused it; waits for a fix and a replay
    dead = "dead"              # failed max_attempts times; waits for a replay
    deferred = "deferred"      # a topic this release stores but does not act on yet


class BindingKind(str, enum.Enum):
    """What a binding's Shopify object is; each kind becomes its own Fusion document."""

    customer = "customer"      # a TCA party plus a customer account with a BILL_TO site
    order = "order"            # a receivables invoice
    refund = "refund"          # a credit memo against the order's invoice
    payment = "payment"        # a standard receipt applied to the order's invoice (one per transaction)
    adjustment = "adjustment"  # a debit or credit memo for an order edit after invoicing ("<order id>:<n>")
    # The other way round: a receipt a person entered in Fusion, pushed to the order as a Shopify
    # payment ("<order id>:<StandardReceiptId>"; its fusion_id is the receipt's).
    fusion_receipt = "fusion_receipt"
    company = "company"                     # a B2B company: a TCA organization (hubOrganizations)
    company_location = "company_location"   # a B2B company location: the organization's account, BILL_TO site


class AttemptOutcome(str, enum.Enum):
    running = "running"        # started, not finished (or its worker died: the lease says how long)
    done = "done"
    deferred = "deferred"
    parked = "parked"
    retry = "retry"            # failed for a reason worth another try (Fusion or Redis unavailable …)
    waiting = "waiting"        # another worker held the object; does not use up an attempt
    dead = "dead"


class BindingState(str, enum.Enum):
    pending = "pending"        # nothing sent to Fusion yet
    creating = "creating"      # a create was sent and its outcome is unknown until looked up
    synced = "synced"
    parked = "parked"
    skipped = "skipped"        # needs no Fusion document (an order cancelled before it was invoiced)


class Shop(Base):
    __tablename__ = "shops"
    __table_args__ = (UniqueConstraint("transaction_prefix", name="uq_shops_transaction_prefix"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    client_id: Mapped[str] = mapped_column(String(255))
    api_version: Mapped[str] = mapped_column(String(16), default="2026-01")
    # Base URL of the Admin API; empty means https://{domain}. The sandbox sets its own.
    admin_base_url: Mapped[str] = mapped_column(String(512), default="")
    # Prefix of Fusion transaction numbers for this shop, e.g. "ACME" → "ACME-1001".
    transaction_prefix: Mapped[str] = mapped_column(String(8))
    # When ``client_secret`` last changed: the previous secret verifies webhooks only within
    # ``MLC_SECRET_ROTATION_WINDOW`` of it (none: it never verifies).
    secret_rotated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Whether receipts people enter in Fusion against this shop's invoices are pushed to Shopify
    # as payments (``connector.services.fusion_receipts``); off unless the merchant turns it on.
    push_fusion_receipts: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # How the Admin API token is obtained (``connector.services.shop_tokens``): TokenMode's values.
    # The tokens themselves are credentials (``access_token``, ``refresh_token``), encrypted.
    token_mode: Mapped[str] = mapped_column(String(24), default="client_credentials",
                                            server_default="client_credentials")
    access_token_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)   # None: never
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # AuthState's values: "reauthorize" when the app was revoked (uninstalled, a refresh refused):
    # nothing is sent to the shop and its events park until ``ml-connector shops token``.
    auth_state: Mapped[str] = mapped_column(String(16), default="ok", server_default="ok")
    auth_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    auth_changed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Act on each order, refund and customer event as the Admin API shows the object, not as the
    # webhook body says (``connector.services.reread``): a forged or stale body never becomes a document.
    reread_from_admin: Mapped[bool] = mapped_column(default=False, server_default=false())


class TokenMode(str, enum.Enum):
    """How the connector gets a shop's Admin API token (reference §4)."""

    client_credentials = "client_credentials"  # an own-organisation Dev Dashboard app: the grant, repeated
    expiring = "expiring"                      # an expiring offline token and its rotating refresh token
    offline = "offline"                        # a non-expiring offline token: nothing to refresh


class AuthState(str, enum.Enum):
    ok = "ok"
    reauthorize = "reauthorize"


class FusionPod(Base):
    __tablename__ = "fusion_pods"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, default="default")
    base_url: Mapped[str] = mapped_column(String(512))
    token_url: Mapped[str] = mapped_column(String(512), default="")
    client_id: Mapped[str] = mapped_column(String(255), default="")
    scope: Mapped[str] = mapped_column(String(512), default="")
    # "oauth" (client credentials) or "basic" (integration user).
    auth_mode: Mapped[str] = mapped_column(String(16), default="oauth")
    username: Mapped[str] = mapped_column(String(255), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Credential(Base):
    """A secret, encrypted with the first of ``MLC_ENCRYPTION_KEYS`` (see :mod:`connector.vault`)."""

    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("scope", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scope: Mapped[str] = mapped_column(String(300))   # "shop:<domain>" or "fusion:<pod>"
    name: Mapped[str] = mapped_column(String(64))     # "client_secret", "password", …
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:  # never show the ciphertext either
        return f"<Credential {self.scope}/{self.name}>"


class InboxEvent(Base):
    """One verified webhook delivery, stored before Shopify gets its 2xx.

    The row is also the delivery's receipt in the audit trail: its :data:`RECEIPT` columns are
    written once, by the receiver's single insert, and never change (no audit row repeats them).
    """

    __tablename__ = "inbox_events"
    # One merchant action can fire the same topic for several objects with one Event-Id (a bulk
    # edit): the object's id belongs to the key. The headers are not signed, the body is: a body
    # already stored for the shop and topic is the same delivery whatever headers come with it.
    __table_args__ = (UniqueConstraint("shop_id", "topic", "event_id", "resource_id", name="uq_inbox_event"),
                      Index("uq_inbox_events_body", "shop_id", "topic", "body_sha256", unique=True),
                      # one object's events: what a refund waits for (its order's earlier events)
                      Index("ix_inbox_events_shop_resource", "shop_id", "resource_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    topic: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(128))
    webhook_id: Mapped[str] = mapped_column(String(128), default="")
    api_version: Mapped[str] = mapped_column(String(16), default="")
    triggered_at: Mapped[str] = mapped_column(String(64), default="")
    resource_id: Mapped[str] = mapped_column(String(32), default="")
    body: Mapped[str] = mapped_column(Text)
    # SHA-256 of the signed bytes, hex. Null only on rows older than migration 0007 that repeat
    # an earlier row's body.
    body_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[InboxState] = mapped_column(Enum(InboxState, native_enum=False, length=16),
                                              default=InboxState.received, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # When the body was erased: after MLC_INBOX_BODY_RETENTION_DAYS once processed, or by a
    # privacy request (``connector.services.erasure``). The body becomes "" and nothing else of
    # the receipt changes; it is the one change a receipt allows, made by a bulk UPDATE.
    body_erased_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Where the event came from: ``webhook`` (the receiver), ``reconcile`` (an object whose
    # webhook never arrived, read back over the Admin API in its webhook's shape) or ``backfill``
    # (the same, for a new merchant's history: ``ml-connector backfill``).
    source: Mapped[str] = mapped_column(String(16), default="webhook", server_default="webhook")

    shop: Mapped[Shop] = relationship()


#: What an inbox row records of its delivery: who sent what, when, and the exact bytes.
RECEIPT = ("shop_id", "topic", "event_id", "webhook_id", "api_version", "triggered_at", "resource_id", "body",
           "body_sha256", "received_at", "source")


@event.listens_for(InboxEvent, "before_update")
def _receipt_is_append_only(mapper, connection, target):
    changed = [name for name in RECEIPT if inspect(target).attrs[name].history.has_changes()]
    if changed:
        raise PermissionError(f"the receipt of inbox event {target.id} cannot change ({', '.join(changed)})")


class Binding(Base):
    """The link between one Shopify object and the Fusion documents made from it."""

    __tablename__ = "bindings"
    __table_args__ = (UniqueConstraint("shop_id", "kind", "shopify_id", name="uq_binding"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    kind: Mapped[BindingKind] = mapped_column(Enum(BindingKind, native_enum=False, length=16))
    shopify_id: Mapped[str] = mapped_column(String(128))     # numeric id, or "email:<address>" for guests
    shopify_gid: Mapped[str] = mapped_column(String(128), default="")
    state: Mapped[BindingState] = mapped_column(Enum(BindingState, native_enum=False, length=16),
                                                default=BindingState.pending, index=True)
    fusion_id: Mapped[str] = mapped_column(String(64), default="")       # CustomerTransactionId, CustomerAccountId
    fusion_number: Mapped[str] = mapped_column(String(64), default="")   # TransactionNumber, AccountNumber
    fusion_refs: Mapped[dict] = mapped_column(JSON, default=dict)        # party id, site ids, amounts …
    shopify_updated_at: Mapped[str] = mapped_column(String(64), default="")
    payload_digest: Mapped[str] = mapped_column(String(64), default="")
    # The exact version of the Shopify object (``bindings.version``) whose every effect is in
    # Fusion: a webhook that repeats it (``orders/paid`` after ``orders/create`` of a paid order,
    # a redelivery) is done without a call to Shopify or Fusion.
    settled_version: Mapped[str] = mapped_column(String(64), default="", server_default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    # The document as the Fusion poller last read it (``connector.services.fusion_poll``): its
    # status, open balance (a receipt's unapplied amount) and LastUpdateDate, whoever changed it.
    fusion_status: Mapped[str] = mapped_column(String(32), default="", server_default="")
    fusion_balance: Mapped[str] = mapped_column(String(32), default="", server_default="")
    fusion_updated_at: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # While a create is in flight nobody else may post: the claim holds until this moment.
    claimed_until: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CustomerMerge(Base):
    """Shopify merged ``merged_id`` into ``surviving_id`` (``customers/merge``): the merged-away
    customer's later documents bill the survivor's Fusion customer; what was booked stays put."""

    __tablename__ = "customer_merges"
    __table_args__ = (UniqueConstraint("shop_id", "merged_id", name="uq_customer_merge"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    merged_id: Mapped[str] = mapped_column(String(64))        # numeric Shopify id, as customer bindings key it
    merged_gid: Mapped[str] = mapped_column(String(128))
    surviving_id: Mapped[str] = mapped_column(String(64))
    surviving_gid: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PollWatermark(Base):
    """How far the poller has read one Fusion resource of one pod, and how its last poll went."""

    __tablename__ = "fusion_poll_watermarks"
    __table_args__ = (UniqueConstraint("pod", "resource", name="uq_fusion_poll_watermark"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pod: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(32))
    watermark: Mapped[str] = mapped_column(String(40), default="")   # the newest LastUpdateDate read
    polled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)        # of the last poll
    read: Mapped[int] = mapped_column(Integer, default=0)            # rows it read, overlap included
    changed: Mapped[int] = mapped_column(Integer, default=0)         # changes recorded
    ignored: Mapped[int] = mapped_column(Integer, default=0)         # documents no binding knows
    last_error: Mapped[str] = mapped_column(Text, default="")


class ProcessingAttempt(Base):
    """One try at processing an inbox event: who ran it, how it ended and why.

    The answer to "why did this event die" is these rows, newest last; the Fusion exchanges
    themselves stay in the audit trail.
    """

    __tablename__ = "processing_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inbox_events.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)                 # 1, 2, … per event, waits included
    task_id: Mapped[str] = mapped_column(String(64), default="")
    worker: Mapped[str] = mapped_column(String(255), default="")  # node name and process id
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    outcome: Mapped[AttemptOutcome] = mapped_column(Enum(AttemptOutcome, native_enum=False, length=16),
                                                    default=AttemptOutcome.running)
    error: Mapped[str] = mapped_column(Text, default="")          # redacted
    fusion_calls: Mapped[int] = mapped_column(Integer, default=0)


class PrivacyKey(Base):
    """The key that seals one data subject's personal fields in the audit trail.

    A subject is a Shopify customer (``customer:<id>``), a guest checkout (``guest:<digest of the
    email>``) or the shop itself (``shop``: what names no customer). The key is a Fernet key,
    stored encrypted under ``MLC_ENCRYPTION_KEYS``. Erasure destroys it (``ciphertext`` becomes
    null and ``subject`` no longer names anyone), so what it sealed can never be read again while
    the audit rows themselves, and the seals over them, stay as they were (crypto-shredding).
    """

    __tablename__ = "privacy_keys"
    __table_args__ = (UniqueConstraint("shop_id", "subject", name="uq_privacy_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    subject: Mapped[str] = mapped_column(String(128))
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    destroyed_at: Mapped[datetime | None] = mapped_column(nullable=True)

    def __repr__(self) -> str:  # never show the key, even encrypted
        return f"<PrivacyKey {self.id} of shop {self.shop_id}>"


class AuditEvent(Base):
    """What came in, what was sent, what came back, and when. Append-only; secrets redacted.

    Personal fields (payloads sent and received, free-text errors, query strings) are not in
    ``detail`` but in ``sealed``, encrypted under the data subject's :class:`PrivacyKey`
    (``key_id``): erasing the subject destroys the key, not the row (see :mod:`connector.audit`).
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"), nullable=True)
    subject_kind: Mapped[str] = mapped_column(String(16), default="")
    subject_id: Mapped[str] = mapped_column(String(128), default="", index=True)
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    key_id: Mapped[int | None] = mapped_column(ForeignKey("privacy_keys.id"), nullable=True, index=True)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class AuditSeal(Base):
    """A link of the hash chain over the audit trail: the rows after the previous seal up to
    ``last_event_id``, hashed with the previous seal's hash (see :mod:`connector.audit_chain`).

    Changing, removing or slipping in a sealed row breaks its seal and every later one.
    """

    __tablename__ = "audit_seals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    first_event_id: Mapped[int] = mapped_column(BigId)
    last_event_id: Mapped[int] = mapped_column(BigId)
    events: Mapped[int] = mapped_column(Integer)
    # unique: two sealers running at once cannot both extend the chain from the same link
    previous_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(default=utcnow)


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
@event.listens_for(AuditSeal, "before_update")
@event.listens_for(AuditSeal, "before_delete")
def _audit_is_append_only(mapper, connection, target):
    raise PermissionError("audit events and seals are append-only")
