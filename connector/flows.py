"""The flow registry: what each Shopify topic and each scheduled job means, in one table.

The receiver asks it whether a topic is processed, the dispatcher which pool to send it to, the
processing loop which handler to run and which binding kind the event concerns, ``status`` and
``/metrics`` what to list, and the Celery app which queues and beat entries exist. A topic named
anywhere else is a bug (``tests/connector/test_flows.py`` looks for one).

Adding a flow is one row here, one handler in ``connector/services/`` and one mapping module in
``connector/mapping/`` (``docs/architecture.md`` walks through refunds as the example).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from connector.models import BindingKind
from connector.services import (
    cancellations,
    compliance,
    customer_merge,
    customers,
    orders,
    refunds,
    shop_auth,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connector.models import Shop
    from connector.services.context import Services

#: ``handler(services, session, shop, payload)`` does the flow's work and returns a note: empty
#: when the event is done, otherwise why Fusion does not reflect it yet (the event is ``deferred``).
Handler = Callable[["Services", "Session", "Shop", dict], str]


@dataclass(frozen=True)
class Flow:
    """One Shopify webhook topic."""

    topic: str
    queue: str
    kind: BindingKind
    handler: Handler | None          # None: stored and kept for replay, nothing is sent to Fusion
    deferred: str = ""               # what this release does not do yet for the topic
    does: str = ""                   # what it does, when that is not its kind's Fusion document
    # Runs while the shop needs reauthorization (its other events park): what the app must do
    # for a shop that revoked it, and the revocation itself.
    while_revoked: bool = False
    #: The body's key naming the object the event is about (a number or a GID).
    id_key: str = "id"
    #: The app may subscribe to it or not; ``scope``: the access scope the topic needs
    #: (``ml-connector fit`` checks both only for a shop that subscribes).
    optional: bool = False
    scope: str = ""

    @property
    def task(self) -> str:
        return webhook_task(self.queue)


@dataclass(frozen=True)
class Job:
    """One scheduled job: beat sends ``task`` every ``interval_setting`` seconds."""

    name: str
    task: str
    queue: str
    interval_setting: str            # the attribute of :class:`connector.config.Settings`
    summary: str


@dataclass(frozen=True)
class Operation:
    """A task other apps and operators call by name, with its one JSON argument."""

    task: str
    queue: str
    argument: str
    summary: str


FLOWS: tuple[Flow, ...] = (
    Flow("customers/create", "customers", BindingKind.customer, customers.handle_create),
    Flow("customers/update", "customers", BindingKind.customer, customers.handle_update),
    # optional: a shop that subscribes has a merged-away customer's later orders billed to the survivor
    Flow("customers/merge", "customers", BindingKind.customer, customer_merge.handle,
         does="the merged-away customer's later documents billed to the survivor's Fusion customer (booked ones "
              "stay); the link recorded", id_key=customer_merge.DELETED, optional=True, scope="read_customer_merge"),
    Flow("orders/create", "invoices", BindingKind.order, orders.handle),
    Flow("orders/updated", "invoices", BindingKind.order, orders.handle),
    Flow("orders/paid", "invoices", BindingKind.order, orders.handle),
    Flow("orders/cancelled", "credit_memos", BindingKind.order, cancellations.handle),
    Flow("refunds/create", "credit_memos", BindingKind.refund, refunds.handle),
    # Shopify's mandatory compliance topics (docs/privacy.md)
    Flow("customers/data_request", "customers", BindingKind.customer, compliance.handle_data_request,
         does="an export of what the connector holds about the customer, in `MLC_PRIVACY_EXPORT_DIR`",
         while_revoked=True),
    Flow("customers/redact", "customers", BindingKind.customer, compliance.handle_customer_redact,
         does="the customer's personal data erased from the connector's tables", while_revoked=True),
    Flow("shop/redact", "customers", BindingKind.customer, compliance.handle_shop_redact,
         does="every customer's personal data and the shop's credentials erased from the connector's tables",
         while_revoked=True),
    # the app revoked: the shop's work parks until a fresh token is installed (`docs/shopify-tokens.md`)
    Flow("app/uninstalled", "customers", BindingKind.customer, shop_auth.handle_uninstalled,
         does="the shop marked \"reauthorize\": its other events park until `ml-connector shops token`",
         while_revoked=True),
)

#: The topics whose body becomes a Fusion document (an order, a refund, a customer): what a shop that
#: re-reads from the Admin API reads again (``connector.services.reread``). Not the privacy topics nor
#: ``app/uninstalled``: their bodies name no object to read.
DOCUMENT_TOPICS = frozenset(flow.topic for flow in FLOWS if flow.handler in (
    orders.handle, cancellations.handle, refunds.handle, customers.handle_create, customers.handle_update))


@dataclass(frozen=True)
class Compliance:
    """One of Shopify's mandatory privacy topics. Its body names a shop and a customer
    (``shop_id``, ``shop_domain``, ``customer``, ``orders_to_redact``, ``data_request``), not an
    object with a top-level ``id``; ``subject`` is where the inbox finds what it is about."""

    topic: str
    subject: tuple[str, ...]
    subject_type: str = "Customer"   # what the subject's id is the id of, as a GID names it


#: Every app must take these (Shopify counts an answer other than 2xx as a failed delivery). The
#: receiver reads their shape here; their flows above export or erase what they ask for.
COMPLIANCE: tuple[Compliance, ...] = (
    Compliance("customers/data_request", ("customer", "id")),
    Compliance("customers/redact", ("customer", "id")),
    Compliance("shop/redact", ("shop_id",), "Shop"),
)

#: The webhook reconciliation stands in for when it finds an object Shopify changed
#: (:mod:`connector.services.reconcile`): (topic when never seen, topic when seen in an older version).
RECONCILED: dict[BindingKind, tuple[str, str]] = {
    BindingKind.order: ("orders/create", "orders/updated"),
    BindingKind.refund: ("refunds/create", "refunds/create"),
    BindingKind.customer: ("customers/create", "customers/update"),
}
#: What a cancelled order's reconciliation also stands in for, once: its cancellation's own webhook.
RECONCILED_CANCELLATION = "orders/cancelled"

JOBS: tuple[Job, ...] = (
    Job("inbox-sweep", "mlc.inbox.sweep", "fusion_poll", "inbox_sweep_interval_seconds",
        "re-sends inbox events whose task was never sent or was lost"),
    Job("fusion-poll-invoices", "mlc.fusion.poll_invoices", "fusion_poll", "fusion_poll_invoices_seconds",
        "reads invoices changed in Fusion (status, balance) into their bindings and the audit trail"),
    Job("fusion-poll-credit-memos", "mlc.fusion.poll_credit_memos", "fusion_poll", "fusion_poll_credit_memos_seconds",
        "reads credit memos changed in Fusion (status, balance) into their bindings and the audit trail"),
    Job("fusion-poll-receipts", "mlc.fusion.poll_receipts", "fusion_poll", "fusion_poll_receipts_seconds",
        "reads receipts changed in Fusion (status, unapplied amount) into their bindings and the audit trail, "
        "and sends the pushes of receipts people entered"),
    Job("fusion-poll-customer-accounts", "mlc.fusion.poll_customer_accounts", "fusion_poll",
        "fusion_poll_accounts_seconds", "reads customer accounts changed in Fusion (status) into their bindings"),
    Job("shopify-reconcile", "mlc.shopify.reconcile", "fusion_poll", "shopify_reconcile_every_seconds",
        "enqueues the orders, refunds and customers updated in Shopify in the last "
        "`MLC_SHOPIFY_RECONCILE_DAYS` days whose webhook never arrived (or an older version's did)"),
    Job("inbox-purge", "mlc.inbox.purge_bodies", "fusion_poll", "inbox_purge_interval_seconds",
        "erases the bodies of events processed more than `MLC_INBOX_BODY_RETENTION_DAYS` ago"),
    Job("audit-seal", "mlc.audit.seal", "fusion_poll", "audit_seal_interval_seconds",
        "seals the audit rows written since the last seal into the audit trail's hash chain"),
    Job("shopify-keep-tokens", "mlc.shopify.keep_tokens", "fusion_poll", "shopify_token_keepalive_seconds",
        "refreshes the Shopify tokens that would expire before its next run (within "
        "`MLC_SHOPIFY_REFRESH_BEFORE` + `MLC_SHOPIFY_TOKEN_KEEPALIVE`)"),
)

OPERATIONS: tuple[Operation, ...] = (
    Operation("mlc.inbox.replay", "fusion_poll", "inbox id",
              "processes a parked, dead or deferred event again, with a fresh attempt budget"),
    Operation("mlc.fusion.push_receipt", "fusion_poll", "binding id",
              "records a receipt entered in Fusion as a payment of the Shopify order it pays, once "
              "(shops with `--push-fusion-receipts`; the receipts poll sends it)"),
)

#: What each binding kind becomes in Fusion, as the task table says it.
DOCUMENTS = {BindingKind.customer: "the Fusion customer (person, account, BILL_TO site)",
             BindingKind.order: "the order's invoice, a receipt per payment, debit and credit memos for edits "
                                "and what a cancellation leaves",
             BindingKind.payment: "a standard receipt applied to the order's invoice",
             BindingKind.refund: "a credit memo against the order's invoice, the money given back off its receipt"}

_BY_TOPIC = {flow.topic: flow for flow in FLOWS}
_COMPLIANCE = {c.topic: c for c in COMPLIANCE}
QUEUES: tuple[str, ...] = tuple(dict.fromkeys([f.queue for f in FLOWS] + [j.queue for j in JOBS]
                                              + [o.queue for o in OPERATIONS]))
#: The priorities of a queue's two lanes, first and backlog (``workers.dispatch``). Celery on Redis
#: keeps each lane in a list of its own (``priority_steps``): the queue's name for the first,
#: ``<queue>\x06\x166`` for the backlog; a worker asks for the first lane's list first.
LANES: tuple[int, int] = (0, 6)


def lane_lists(queue: str) -> list[str]:
    """The Redis lists holding ``queue``'s waiting messages, one per lane (KEDA and benches count them)."""
    return [queue if lane == 0 else f"{queue}\x06\x16{lane}" for lane in LANES]


def webhook_task(queue: str) -> str:
    return f"mlc.{queue}.process_webhook"


def for_topic(topic: str) -> Flow | None:
    """The flow of a topic, or None for a topic no release handles (stored ``deferred``)."""
    return _BY_TOPIC.get(topic)


def compliance(topic: str) -> Compliance | None:
    """The compliance topic's entry, or None for every other topic."""
    return _COMPLIANCE.get(topic)


def deferred_note(topic: str) -> str:
    """Why an event of a topic no flow handles is stored ``deferred``."""
    return f"topic {topic} is not handled by this release"


def topics_of(kind: BindingKind) -> list[str]:
    """Every topic whose events concern objects of ``kind``."""
    return [flow.topic for flow in FLOWS if flow.kind == kind]


def topics_handled_by(handler: Handler) -> list[str]:
    """Every topic whose events ``handler`` handles (an order's state: create, updated, paid)."""
    return [flow.topic for flow in FLOWS if flow.handler is handler]


#: The GraphQL type of each binding kind's Shopify object, as its GID names it.
GID_TYPES = {BindingKind.customer: "Customer", BindingKind.order: "Order", BindingKind.refund: "Refund"}


def gid(topic: str, resource_id: str) -> str:
    """The GID of what an event of ``topic`` is about (``gid://shopify/Order/123``), for log lines
    ('' when the topic or the id says nothing)."""
    entry = _COMPLIANCE.get(topic)
    flow = _BY_TOPIC.get(topic)
    kind = entry.subject_type if entry else GID_TYPES.get(flow.kind) if flow else None
    return f"gid://shopify/{kind}/{resource_id}" if kind and resource_id else ""


def kind_of(topic: str) -> str:
    """The binding kind an event of ``topic`` concerns, as audit rows name it ('' if unknown)."""
    flow = _BY_TOPIC.get(topic)
    return flow.kind.value if flow else ""


def webhook_tasks() -> dict[str, list[Flow]]:
    """Each webhook task with the flows it runs, in registry order."""
    tasks: dict[str, list[Flow]] = {}
    for flow in FLOWS:
        tasks.setdefault(flow.task, []).append(flow)
    return tasks


def task_table() -> list[tuple[str, str, str, str]]:
    """(task, queue, argument, what it does) for every public task: the README's task table."""
    rows = []
    for task, flows in webhook_tasks().items():
        done = [f for f in flows if not f.deferred]
        kept = [f.topic for f in flows if f.deferred]
        effects = dict.fromkeys(f.does or DOCUMENTS[f.kind] for f in done)
        summary = "; ".join(f"{', '.join(f.topic for f in done if (f.does or DOCUMENTS[f.kind]) == effect)} → {effect}"
                            for effect in effects)
        if kept:
            summary += ("; " if summary else "") + f"{', '.join(kept)} kept `deferred` for a later release"
        rows.append((task, flows[0].queue, "inbox id", summary))
    rows += [(o.task, o.queue, o.argument, o.summary) for o in OPERATIONS]
    rows += [(j.task, j.queue, "none", f"{j.summary} (beat runs it)") for j in JOBS]
    return rows
