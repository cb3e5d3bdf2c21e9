"""Receipts people enter in Fusion, pushed to the Shopify order they pay: once, and never back.

For shops with ``push_fusion_receipts`` on. A customer pays an unpaid order by bank transfer; a
person enters the receipt in Fusion and applies it to the order's invoice. Fusion has no
webhooks, so the receipts poll (:mod:`connector.services.fusion_poll`) hands this module every
receipt it read: :func:`notice` keeps those that pay an invoice (or debit memo) of a Shopify
order and that the connector did not make itself, and opens one ``fusion_receipt`` binding per
(order, receipt), keyed ``"<order id>:<StandardReceiptId>"``. :func:`push` then records the
payment in Shopify through the create-once protocol (:mod:`connector.services.create_once`):
``orderMarkAsPaid`` when the receipt pays what Shopify still has outstanding, otherwise
``orderCreateManualPayment`` with the amount (``MLC_FUSION_RECEIPT_PARTIAL``; :func:`decide`).

Never back: the Shopify transaction the push produced is bound, in the same commit as the push,
as the payment binding of that transaction pointing at the person's receipt (``pushed_from``).
The ``orders/paid`` and ``orders/updated`` that Shopify sends next find the payment booked
already and create no second receipt. The push holds the order's money lock from reading the
order to that commit, the lock the payment sync takes too, so no order event sees the new
transaction unbound; after a push whose outcome nobody knows, :func:`connector.services.payments.sync`
waits for it (the echo rule).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import String, cast, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector import audit
from connector.fusion.changes import Change, instant
from connector.fusion.errors import FusionError, FusionRejected
from connector.mapping.receipt import is_payment
from connector.models import Binding, BindingKind, BindingState, Shop, utcnow
from connector.redact import redact_text
from connector.services import bindings, shop_auth
from connector.services.context import Services
from connector.services.create_once import Ambiguous
from connector.services.documents import ShopDocument
from connector.services.orders import money_lock
from connector.shopify import manual_payments
from connector.shopify.client import ShopifyClient, ShopifyError
from connector.shopify.manual_payments import OrderBalance
from connector.shopify.orders import Transaction

KIND = BindingKind.fusion_receipt
MARK_AS_PAID = "orderMarkAsPaid"
MANUAL_PAYMENT = "orderCreateManualPayment"
#: Receipt statuses whose money no longer stands (reversed, returned unpaid, stopped), as codes or
#: names: which of them a pod's REST ``Status`` prints is not confirmed.
VOID_STATUSES = ("REV", "REVERSED", "NSF", "STOP")
#: What a payment binding made by a push says of itself (``fusion_refs["pushed_from"]``).
FROM_FUSION = "fusion"


@dataclass(frozen=True)
class Decision:
    mutation: str       # MARK_AS_PAID, MANUAL_PAYMENT, or "" when nothing is pushed
    amount: Decimal     # shop money
    reason: str = ""    # why nothing is pushed


def decide(applied: Decimal, currency: str, order: OrderBalance, partial: str) -> Decision:
    """What a receipt paying ``applied`` (in ``currency``) of an order's documents does in Shopify.

    Exactly the outstanding amount: ``orderMarkAsPaid``. Less: ``orderCreateManualPayment`` for
    what it pays, unless ``partial`` is ``off``. More than Shopify has outstanding means Shopify
    holds a payment Fusion does not (yet): nothing is pushed, a person decides.
    """
    nothing = Decimal(0)
    if applied <= 0:
        return Decision("", nothing, "the receipt pays nothing of the order's invoice")
    if order.cancelled:
        return Decision("", nothing, "the order is cancelled in Shopify")
    if currency != order.currency:
        return Decision("", nothing, f"the receipt is in {currency}, the shop's money in {order.currency}")
    if order.outstanding <= 0:
        return Decision("", nothing, "Shopify shows nothing outstanding on the order")
    if applied == order.outstanding:
        return Decision(MARK_AS_PAID, applied)
    if applied > order.outstanding:
        return Decision("", nothing, f"the receipt pays {applied} {currency} but Shopify has only "
                                     f"{order.outstanding} outstanding: a person decides")
    if partial == "off":
        return Decision("", nothing, f"the receipt pays {applied} of {order.outstanding} {currency} outstanding, "
                                     "and partial payments are not pushed (MLC_FUSION_RECEIPT_PARTIAL=off)")
    return Decision(MANUAL_PAYMENT, applied)


def is_own_number(number: str, prefixes: list[str]) -> bool:
    """A receipt number the connector gives the receipts it makes (``<prefix>-T<transaction id>``)."""
    return bool(prefixes) and re.fullmatch(rf"(?:{'|'.join(map(re.escape, prefixes))})-T\d+", number) is not None


def applied_to(change: Change) -> Decimal:
    """What the receipt has applied: its amount less its unapplied amount (both read by the poll)."""
    try:
        return Decimal(str(change.details.get("Amount"))) - Decimal(change.balance or "0")
    except ArithmeticError:
        return Decimal(0)


# -- the poll's side: which receipts to push -------------------------------------------------------

def notice(services: Services, session: Session, pod: str, changes: list[Change]) -> int:
    """Open (or reopen) a push for every receipt in ``changes`` that pays a Shopify order of a
    shop with the option on and that the connector did not make; how many were opened.

    Costs no request when no shop has the option on or no receipt is a candidate, and one read
    of the receipt's applications per candidate whose customer account the connector knows.
    """
    pushing = set(session.scalars(select(Shop.id).where(Shop.push_fusion_receipts.is_(True))))
    if not pushing:
        session.commit()
        return 0
    prefixes = [p for p in session.scalars(select(Shop.transaction_prefix)) if p]
    candidates = [c for c in changes if c.status.upper() not in VOID_STATUSES and applied_to(c) > 0
                  and c.details.get("CustomerAccountNumber") and not is_own_number(c.number, prefixes)]
    own = _made_by_connector(session, candidates)
    considered = _considered(session, candidates)
    candidates = [c for c in candidates if c.id not in own and c.number not in own
                  and not any(instant(stamp) >= instant(c.stamp) for stamp in considered.get(c.id, []))]
    accounts = _accounts(session, pushing, {str(c.details["CustomerAccountNumber"]) for c in candidates})
    session.commit()
    opened = 0
    for change in candidates:
        for account_id in accounts.get(str(change.details["CustomerAccountNumber"]), []):
            documents = _applications(services, session, pod, account_id, change.id)
            for shop_id, order_id, order_gid in _orders_of(session, pushing, documents):
                opened += _open(session, shop_id, order_id, order_gid, change)
    return opened


def _made_by_connector(session: Session, changes: list[Change]) -> set[str]:
    """Ids and numbers of the receipts among ``changes`` that payment bindings made (a receipt
    being created has its number on its binding before Fusion has it)."""
    if not changes:
        return set()
    rows = session.execute(select(Binding.fusion_id, Binding.fusion_number, Binding.fusion_refs).where(
        Binding.kind == BindingKind.payment,
        or_(Binding.fusion_id.in_([c.id for c in changes]), Binding.fusion_number.in_([c.number for c in changes])))).all()
    return {value for fusion_id, number, refs in rows if (refs or {}).get("pushed_from") != FROM_FUSION
            for value in (fusion_id, number) if value}


def _considered(session: Session, changes: list[Change]) -> dict[str, list[str]]:
    """Receipt id → the LastUpdateDates its pushes were opened at: a version read again in the
    poll's overlap window is not looked at twice."""
    found: dict[str, list[str]] = {}
    if changes:
        for receipt_id, stamp in session.execute(select(Binding.fusion_id, Binding.fusion_updated_at).where(
                Binding.kind == KIND, Binding.fusion_id.in_([c.id for c in changes]), Binding.fusion_updated_at != "")):
            found.setdefault(receipt_id, []).append(stamp)
    return found


def _accounts(session: Session, shops: set[int], numbers: set[str]) -> dict[str, list[str]]:
    """Customer account number → the account ids the pushing shops' customers have in Fusion."""
    found: dict[str, list[str]] = {}
    if numbers:
        for number, account_id in session.execute(select(Binding.fusion_number, Binding.fusion_id).where(
                Binding.kind == BindingKind.customer, Binding.shop_id.in_(shops),
                Binding.fusion_number.in_(sorted(numbers)), Binding.fusion_id != "").distinct()):
            found.setdefault(number, []).append(account_id)
    return found


def _applications(services: Services, session: Session, pod: str, account_id: str, receipt_id: str) -> dict[str, Decimal]:
    """The documents the receipt pays now, with how much (applications in force, activities apart)."""
    fusion = services.fusion(session, pod)
    session.commit()
    paid: dict[str, Decimal] = {}
    for row in fusion.receipts.applications(account_id, receipt_id):
        amount = Decimal(str(row.get("ApplicationAmount") or 0))
        if not row.get("ActivityName") and amount > 0 and row.get("ReferenceTransactionId") is not None:
            document = str(row["ReferenceTransactionId"])
            paid[document] = paid.get(document, Decimal(0)) + amount
    return paid


def _orders_of(session: Session, shops: set[int], documents: dict[str, Decimal]) -> list[tuple[int, str, str]]:
    """(shop, order id, order GID) of the orders whose invoice or debit memos are ``documents``."""
    if not documents:
        return []
    rows = session.scalars(select(Binding).where(
        Binding.shop_id.in_(shops), Binding.kind.in_([BindingKind.order, BindingKind.adjustment]),
        Binding.fusion_id.in_(sorted(documents)))).all()
    found = {}
    for row in rows:
        order_id = row.shopify_id if row.kind == BindingKind.order else row.shopify_id.split(":", 1)[0]
        invoice = row if row.kind == BindingKind.order else bindings.find(session, row.shop_id, BindingKind.order, order_id)
        if invoice is not None and invoice.state == BindingState.synced:
            found[(row.shop_id, order_id)] = invoice.shopify_gid
    session.commit()
    return [(shop_id, order_id, gid) for (shop_id, order_id), gid in found.items()]


def _open(session: Session, shop_id: int, order_id: str, order_gid: str, change: Change) -> int:
    """1 when the (order, receipt) push is new, or was skipped or parked and the receipt changed since."""
    binding = bindings.get_or_create(session, shop_id, KIND, f"{order_id}:{change.id}", order_gid)
    values = {"state": BindingState.pending, "fusion_id": change.id, "fusion_number": change.number,
              "fusion_updated_at": change.stamp, "last_error": ""}
    fresh = binding.state == BindingState.pending and not binding.fusion_updated_at
    changed = binding.state in (BindingState.skipped, BindingState.parked) and (
        not binding.fusion_updated_at or instant(change.stamp) > instant(binding.fusion_updated_at))
    if not (fresh or changed):
        return 0
    opened = session.execute(update(Binding).where(Binding.id == binding.id, Binding.state == binding.state,
                                                   Binding.fusion_updated_at == binding.fusion_updated_at)
                             .values(**values)).rowcount == 1
    if opened:
        audit.record(session, "fusion_receipt.noticed", shop_id=shop_id, subject_kind=KIND.value,
                     subject_id=binding.shopify_id, order_id=order_id, standard_receipt_id=change.id,
                     receipt_number=change.number, last_update_date=change.stamp, last_updated_by=change.by)
    session.commit()
    return int(opened)


def due(session: Session) -> list[int]:
    """The pushes to run: opened and not done, or in doubt and past their claim."""
    ids = list(session.scalars(select(Binding.id).where(Binding.kind == KIND, or_(
        Binding.state == BindingState.pending,
        (Binding.state == BindingState.creating) & (Binding.claimed_until < utcnow()))).order_by(Binding.id)))
    session.commit()
    return ids


def pushed_payments(session: Session, shop_id: int) -> dict[str, str]:
    """Shopify transaction id → the number of the receipt a person entered in Fusion that the
    connector recorded as that payment: its receipt is not ``<prefix>-T<id>`` (reconciliation)."""
    rows = session.execute(select(Binding.shopify_id, Binding.fusion_number, Binding.fusion_refs).where(
        Binding.shop_id == shop_id, Binding.kind == BindingKind.payment, Binding.state == BindingState.synced,
        cast(Binding.fusion_refs, String).contains("pushed_from"))).all()
    return {tid: number for tid, number, refs in rows if (refs or {}).get("pushed_from") == FROM_FUSION}


# -- the push ----------------------------------------------------------------------------------------

class NotPushed(Exception):
    """Nothing is to be recorded in Shopify for this receipt (its reason says why)."""


class Refused(FusionRejected):
    """Shopify refused the payment (``userErrors``) and recorded nothing: parked with its reason."""


def push(services: Services, session: Session, binding_id: int) -> str:
    """Push one (order, receipt) to Shopify; the outcome's name (``created``, ``adopted``,
    ``existing``, ``skipped``). Raises Busy when the order or the push is busy elsewhere."""
    binding = session.get(Binding, binding_id)
    if binding is None or binding.kind != KIND:
        return "missing"
    shop = session.get(Shop, binding.shop_id)
    if shop_auth.needs_reauthorization(shop):  # nothing reaches Shopify until the app is authorized again
        _note(session, binding_id, shop_auth.parked_message(shop))
        return "reauthorize"
    order_id, receipt_id = binding.shopify_id.split(":", 1)
    invoice = bindings.find(session, shop.id, BindingKind.order, order_id)
    session.commit()
    doc = Push(services, session, shop, invoice=invoice, receipt_id=receipt_id)
    try:
        with money_lock(services, shop, order_id):
            return doc.ensure().status.value
    except Ambiguous as exc:
        # Which payment is the push's is for a person to say: the push stays in doubt, so the
        # order's new payments keep waiting rather than one being booked twice.
        _note(session, binding_id, str(exc))
        return "ambiguous"
    except FusionRejected as exc:  # Shopify refused the payment, or Fusion the reads: for a person
        session.rollback()
        bindings.park(session, shop.id, KIND, doc.shopify_id, redact_text(str(exc))[:2000])
        return "parked"
    except (ShopifyError, FusionError) as exc:  # stays due: the next receipts poll sends it again
        _note(session, binding_id, str(exc))
        raise
    except NotPushed as reason:
        if bindings.skip(session, shop.id, KIND, doc.shopify_id, doc.gid, str(reason)):
            audit.record(session, "shopify_payment.skipped", shop_id=shop.id, subject_kind=KIND.value,
                         subject_id=doc.shopify_id, order_id=order_id, standard_receipt_id=receipt_id,
                         reason=str(reason))
            session.commit()
        return "skipped"


def _note(session: Session, binding_id: int, message: str) -> None:
    session.rollback()
    session.execute(update(Binding).where(Binding.id == binding_id).values(last_error=redact_text(message)[:2000]))
    session.commit()


@dataclass
class Push(ShopDocument):
    """One receipt entered in Fusion as one manual payment on the Shopify order it pays."""

    kind = KIND
    label = "shopify_payment"

    invoice: Binding
    receipt_id: str
    _receipt: dict = field(default_factory=dict, init=False)
    _order: OrderBalance | None = field(default=None, init=False)
    _plan: dict = field(default_factory=dict, init=False)
    _client: ShopifyClient | None = field(default=None, init=False)

    @property
    def shopify_id(self) -> str:
        return f"{self.invoice.shopify_id}:{self.receipt_id}"

    @property
    def gid(self) -> str:
        return self.invoice.shopify_gid

    def prepare(self) -> None:
        super().prepare()
        binding = bindings.find(self.session, self.shop.id, KIND, self.shopify_id)
        earlier = (binding.fusion_refs or {}).get("plan") if binding.state == BindingState.creating else None
        push_on = self.shop.push_fusion_receipts
        self._client = self.services.shopify(self.session, self.shop)
        self.session.commit()  # no transaction (on SQLite, the write lock) across the remote calls
        self._receipt = self.fusion.receipts.get(self.receipt_id)
        self._order = manual_payments.balance(self._client, self.gid)
        if earlier:  # a push whose outcome nobody knows: what it planned decides, not today's balance
            self._plan = earlier
            return
        if not push_on:
            raise NotPushed("the shop does not push receipts entered in Fusion (push_fusion_receipts is off)")
        if str(self._receipt.get("Status") or "").upper() in VOID_STATUSES:
            raise NotPushed(f"the receipt is {self._receipt.get('Status')} in Fusion")
        applied = sum(_applications(self.services, self.session, "default", self.invoice.fusion_refs.get(
            "customer_account_id", ""), self.receipt_id).get(document, Decimal(0))
            for document in self._documents())
        decision = decide(applied, str(self._receipt.get("Currency") or ""), self._order,
                          self.services.settings.fusion_receipt_partial)
        if not decision.mutation:
            raise NotPushed(decision.reason)
        self._plan = {"mutation": decision.mutation, "amount": str(decision.amount), "currency": self._order.currency,
                      "receipt_number": str(self._receipt.get("ReceiptNumber") or ""),
                      "before": [t.id for t in self._order.transactions]}

    def _documents(self) -> list[str]:
        from connector.services.applications import order_documents
        return order_documents(self.session, self.invoice)

    def number(self) -> str:
        return str(self._receipt.get("ReceiptNumber") or "")

    def plan(self) -> dict:
        return self._plan

    def find(self) -> dict | None:
        """The payment an earlier push recorded, if it did: a payment of the planned amount that
        the order did not have before it and that no other payment binding holds."""
        new = self._new_payments(self._order)
        new = [t for t in new if t.amount == Decimal(self._plan["amount"])]
        if len(new) > 1:
            raise Ambiguous(f"Shopify holds {len(new)} new payments of {self._plan['amount']} on order "
                            f"{self.invoice.shopify_id}: which one is receipt {self.number()} is for a person to say")
        return {"transaction": new[0]} if new else None

    def create(self) -> dict:
        client, amount = self._client, Decimal(self._plan["amount"])
        try:
            if self._plan["mutation"] == MARK_AS_PAID:
                after = manual_payments.mark_as_paid(client, self.gid)
            else:
                after = manual_payments.create_manual_payment(client, self.gid, amount, self._plan["currency"])
        except manual_payments.PaymentRefused as refused:
            raise Refused(str(refused)) from None
        new = self._new_payments(after)
        if len(new) != 1:  # the claim stays: the next attempt looks again (find)
            raise ShopifyError(f"{self.shop.domain}: {self._plan['mutation']} on order {self.invoice.shopify_id} "
                               f"answered {len(new)} new payments; expected one")
        return {"transaction": new[0]}

    def _new_payments(self, order: OrderBalance) -> list[Transaction]:
        before = set(self._plan["before"])
        new = [t for t in order.transactions if is_payment(t) and t.id not in before]
        held = set(self.session.scalars(select(Binding.shopify_id).where(
            Binding.shop_id == self.shop.id, Binding.kind == BindingKind.payment,
            Binding.shopify_id.in_([t.id for t in new]), Binding.state == BindingState.synced,
            Binding.fusion_id != self.receipt_id))) if new else set()
        self.session.commit()
        return [t for t in new if t.id not in held]

    def bind(self, session: Session, binding: Binding, document: dict) -> dict:
        transaction: Transaction = document["transaction"]
        binding.fusion_id = self.receipt_id
        binding.fusion_number = self.number() or binding.fusion_number
        binding.fusion_refs = {"order_id": self.invoice.shopify_id, "invoice_id": self.invoice.fusion_id,
                               "mutation": self._plan["mutation"], "planned": self._plan["amount"],
                               "amount": str(transaction.amount), "currency": transaction.currency,
                               "transaction_id": transaction.id, "transaction_gid": transaction.gid}
        echo = self._bind_payment(session, transaction)
        return {"order_id": self.invoice.shopify_id, "standard_receipt_id": self.receipt_id,
                "receipt_number": binding.fusion_number, "mutation": self._plan["mutation"],
                "amount": str(transaction.amount), "currency": transaction.currency,
                "transaction": transaction.gid, "payment_binding": echo}

    def _bind_payment(self, session: Session, transaction: Transaction) -> str:
        """The Shopify transaction becomes the payment of the person's receipt (the echo's
        answer), in the push's own commit; what the payment binding was before, for the audit."""
        refs = {"invoice_id": self.invoice.fusion_id, "order_id": self.invoice.shopify_id,
                "amount": str(transaction.amount), "unapplied": str(self._receipt.get("UnappliedAmount", "")),
                "gateway": transaction.gateway, "currency": transaction.currency, "pushed_from": FROM_FUSION}
        values = {"state": BindingState.synced, "fusion_id": self.receipt_id, "fusion_number": self.number(),
                  "fusion_refs": refs, "claimed_until": None, "last_error": ""}
        existing = bindings.find(session, self.shop.id, BindingKind.payment, transaction.id)
        if existing is None:
            try:
                with session.begin_nested():
                    session.add(Binding(shop_id=self.shop.id, kind=BindingKind.payment, shopify_id=transaction.id,
                                        shopify_gid=transaction.gid, **values))
                return "created"
            except IntegrityError:
                existing = bindings.find(session, self.shop.id, BindingKind.payment, transaction.id)
        if existing.state == BindingState.synced and existing.fusion_id != self.receipt_id:
            return f"kept: already booked as receipt {existing.fusion_number}"
        session.execute(update(Binding).where(Binding.id == existing.id).values(**values))
        return "bound"
