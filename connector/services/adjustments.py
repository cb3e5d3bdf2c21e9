"""Order edits after invoicing, as debit memos (the total rose) and credit memos (it fell).

The invoice is never changed and never duplicated. After each order event, under the invoice's
lock, the order's components now are compared with what Fusion holds for them (the invoice plus
every adjustment booked since); what rose becomes a debit memo ``<invoice>-D<n>``, what fell a
credit memo ``<invoice>-E<n>`` against the invoice. An edit that changes nothing money-related
books nothing. Adjustments of one order are numbered in the order they are made, and one that is
in flight is finished (found or created) before the next is computed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.fusion.credit_memos import InvoiceCredit
from connector.fusion.errors import FusionRejected
from connector.mapping.adjustment import (
    Components,
    adjustment_number,
    build_debit_memo,
    components,
    net_and_tax,
)
from connector.mapping.invoice import ZERO, MappingError
from connector.models import Binding, BindingKind, BindingState, Shop
from connector.services.applications import Mover, order_documents, order_receipts
from connector.services.context import Services
from connector.services.documents import ShopDocument

DEBIT, CREDIT, CANCELLATION = "debit_memo", "credit_memo", "cancellation"
LETTERS = {DEBIT: "D", CREDIT: "E", CANCELLATION: "X"}
MAX_ROUNDS = 6  # an edit books a debit, a credit, or both: more rounds mean the figures do not converge


def book(services: Services, session: Session, shop: Shop, order: dict, invoice: Binding) -> str:
    """Book what the order's edits changed since it was invoiced; returns a note when something
    keeps it from being booked now."""
    if "components" not in invoice.fusion_refs:
        return (f"invoice {invoice.fusion_number} was bound before edits were booked: its edits are not "
                "compared (replay its order event to bind it again)")
    for _ in range(MAX_ROUNDS):
        adjustments = adjustments_of(session, invoice)
        # one not finished (in flight, refused, parked) is tried again before the next is computed
        unsettled = next((a for a in adjustments if a.state != BindingState.synced
                          and not (a.fusion_number and document_of(a) == CANCELLATION)), None)
        booked = booked_by_edits(invoice, adjustments)
        change = components(order) - booked
        if not change and unsettled is None:
            return ""
        rise, fall = change.split()
        sequence = int(unsettled.shopify_id.rsplit(":", 1)[1]) if unsettled else len(adjustments) + 1
        document = DEBIT if rise else CREDIT
        if unsettled is not None and unsettled.fusion_number:  # in flight: finish it as it was begun
            document = document_of(unsettled)
        Adjustment(services, session, shop, invoice=invoice, order=order, sequence=sequence,
                   document=document, change=rise if document == DEBIT else -fall).ensure()
    raise MappingError(f"the edits of order {invoice.shopify_id} did not settle in {MAX_ROUNDS} adjustments")


def booked_by_edits(invoice: Binding, adjustments: list[Binding]) -> Components:
    """The order's components as Fusion holds them: the invoice plus the synced edit memos (a
    cancellation's credit is not an edit: it answers current_total_price, not total_price)."""
    booked = Components.from_refs(invoice.fusion_refs["components"])
    for adjustment in adjustments:
        if adjustment.state == BindingState.synced and adjustment.fusion_refs.get("document") in (DEBIT, CREDIT):
            booked = booked + Components.from_refs(adjustment.fusion_refs.get("change"))
    return booked


def document_of(adjustment: Binding) -> str:
    letter = adjustment.fusion_number.rsplit("-", 1)[-1][:1]
    return next(document for document, code in LETTERS.items() if code == letter)


def adjustments_of(session: Session, invoice: Binding) -> list[Binding]:
    found = session.scalars(select(Binding).where(
        Binding.shop_id == invoice.shop_id, Binding.kind == BindingKind.adjustment,
        Binding.shopify_id.like(f"{invoice.shopify_id}:%"))).all()
    session.commit()
    return sorted(found, key=lambda b: int(b.shopify_id.rsplit(":", 1)[1]))


@dataclass
class Adjustment(ShopDocument):
    """The ``sequence``-th adjustment of an invoiced order: a debit or a credit memo."""

    kind = BindingKind.adjustment
    label = "adjustment"

    invoice: Binding
    order: dict
    sequence: int
    document: str             # DEBIT, CREDIT or CANCELLATION (a credit)
    change: Components        # signed: what the order gained (debit) or lost (credit, negative)
    _number: str = field(default="", init=False)
    _documents: list[str] = field(default_factory=list, init=False)
    _receipts: list[Binding] = field(default_factory=list, init=False)

    @property
    def shopify_id(self) -> str:
        return f"{self.invoice.shopify_id}:{self.sequence}"

    @property
    def gid(self) -> str:
        return self.invoice.shopify_gid

    @property
    def mapping(self):
        return self.services.mapping.for_shop(self.shop.domain)

    @property
    def taxes_included(self) -> bool:
        return bool(self.invoice.fusion_refs.get("taxes_included"))

    def prepare(self) -> None:
        super().prepare()
        self._number = adjustment_number(self.order, self.shop.transaction_prefix, LETTERS[self.document],
                                         self.sequence)
        self._documents = order_documents(self.session, self.invoice)
        self._receipts = order_receipts(self.session, self.invoice)

    def number(self) -> str:
        return self._number

    def find(self) -> dict | None:
        source = self.mapping.fusion.transaction_source
        if self.document == DEBIT:
            return self.fusion.invoices.find(source, self._number)
        return self.fusion.credit_memos.find(source, self._number)

    def create(self) -> dict:
        if self.document == DEBIT:
            return self.fusion.invoices.create(build_debit_memo(
                self.order, self.change, mapping=self.mapping, number=self._number,
                bill_to_account=self.invoice.fusion_refs.get("customer_account", ""),
                invoice_number=self.invoice.fusion_number))
        line, tax = net_and_tax(-self.change, self.taxes_included)
        if line < 0 or tax < 0:
            raise MappingError(f"an edit lowered the order's total but raised part of it (net {-line}, tax "
                               f"{-tax}): not booked by this release")
        mover = self._mover()
        for receipt in self._receipts:  # a paid invoice has no room for a credit: take them off first
            mover.take_off(receipt.fusion_id, receipt.fusion_number, self.invoice.fusion_id)
        credit = InvoiceCredit(invoice_id=self.invoice.fusion_id, transaction_number=self._number,
                               currency=self.invoice.fusion_refs.get("currency") or None, line=line, tax=tax,
                               customer_reference=self.gid,
                               comments=f"Shopify order {self.order.get('name', '')} "
                                        f"{'cancelled' if self.document == CANCELLATION else 'edited after invoicing'}"[:240])
        try:
            return self.fusion.credit_memos.create(credit)
        except FusionRejected:
            self.complete({})
            raise

    def complete(self, memo: dict) -> dict:
        """Put the order's receipts on what is still owed: back after a credit took them off, and
        onto a new debit memo when an earlier edit down left cash unapplied on them."""
        documents = list(self._documents)
        if self.document == DEBIT and memo.get("CustomerTransactionId"):
            documents.append(str(memo["CustomerTransactionId"]))
        mover = self._mover()
        for receipt in self._receipts:
            mover.put_back(receipt.fusion_id, documents)
        return memo

    def _mover(self) -> Mover:
        return Mover.of(self.services, self.fusion, self.mapping.fusion.business_unit, self.invoice, self.gid)

    def plan(self) -> dict:
        return {"document": self.document, "change": self.change.as_refs()}

    def bind(self, session: Session, binding: Binding, memo: dict) -> dict:
        # What was posted, by whichever attempt claimed it: an order edited again meanwhile must
        # not make this attempt record its own, newer figures for a document it did not post.
        planned = (binding.fusion_refs or {}).get("plan") or self.plan()
        change = Components.from_refs(planned["change"])
        binding.fusion_id = str(memo.get("CustomerTransactionId", ""))
        binding.fusion_number = str(memo.get("TransactionNumber") or self._number)
        binding.fusion_refs = {"document": planned["document"], "invoice_id": self.invoice.fusion_id,
                               "change": change.as_refs()}
        return {"document": planned["document"], "transaction_number": binding.fusion_number,
                "invoice": self.invoice.fusion_number, "total": change.total(self.taxes_included),
                **change.as_refs()}


@dataclass(frozen=True)
class Room:
    """What a credit may still take from one of the order's documents, net and tax."""

    document_id: str
    line: Decimal
    tax: Decimal


def credit_room(session: Session, invoice: Binding, refunds: list[Binding]) -> list[Room]:
    """The room for credits left on the invoice, then on each debit memo (the edits', then what
    earlier refunds kept back), after the edits' credits and the given (earlier) refunds. Fusion
    refuses a credit beyond a document's own line or tax part, so a refund of goods an edit added
    must credit the debit memo too, and a return that Shopify caps after money was given beyond
    an earlier refund's lines credits back the fee that refund kept."""
    inclusive = bool(invoice.fusion_refs.get("taxes_included"))
    room = {invoice.fusion_id: list(net_and_tax(Components.from_refs(invoice.fusion_refs["components"]), inclusive))}
    for adjustment in adjustments_of(session, invoice):
        if adjustment.state != BindingState.synced:
            continue
        line, tax = net_and_tax(Components.from_refs(adjustment.fusion_refs.get("change")), inclusive)
        if adjustment.fusion_refs.get("document") == DEBIT:
            room[adjustment.fusion_id] = [line, tax]
        else:  # a credit of an edit or a cancellation, against the invoice (its change is negative)
            room[invoice.fusion_id][0] += line
            room[invoice.fusion_id][1] += tax
    for refund in refunds:  # what an earlier refund kept back is on a debit memo of its own
        if refund.fusion_refs.get("fee_memo_id"):
            gross, tax = (Decimal(v) for v in refund.fusion_refs["kept"])
            room[refund.fusion_refs["fee_memo_id"]] = [gross - tax, tax]
    for refund in refunds:
        credits = refund.fusion_refs.get("credits") or {
            invoice.fusion_id: [refund.fusion_refs.get("line", "0"), refund.fusion_refs.get("tax", "0")]}
        for document_id, (line, tax) in credits.items():
            if document_id in room:
                room[document_id][0] -= Decimal(line)
                room[document_id][1] -= Decimal(tax)
    return [Room(document_id, line, tax) for document_id, (line, tax) in room.items()]


def allocate(line: Decimal, tax: Decimal, rooms: list[Room]) -> list[Room]:
    """Split a credit over the documents in order, each taking what its room allows."""
    parts, line, tax = fit(line, tax, rooms)
    if line or tax:
        raise MappingError(f"the credit is {line} net and {tax} tax more than the order's documents hold")
    return parts


def fit(line: Decimal, tax: Decimal, rooms: list[Room]) -> tuple[list[Room], Decimal, Decimal]:
    """What of a credit the documents hold, in order, and the (net, tax) left over."""
    parts = []
    for room in rooms:
        take_line, take_tax = min(line, max(room.line, ZERO)), min(tax, max(room.tax, ZERO))
        if take_line or take_tax:
            parts.append(Room(room.document_id, take_line, take_tax))
            line, tax = line - take_line, tax - take_tax
    return parts, line, tax
