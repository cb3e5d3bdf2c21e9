"""Order edits after invoicing, as debit memos (the total rose) and credit memos (it fell).

The invoice is never changed and never duplicated. After each order event, under the invoice's
lock, the order's components now are compared with what Fusion holds for them (the invoice plus
every adjustment booked since); what rose becomes a debit memo ``<invoice>-D<n>``, what fell a
credit memo ``<invoice>-E<n>`` against the invoice. An edit that changes nothing money-related
books nothing. Adjustments of one order are numbered in the order they are made, and one that is
in flight is finished (found or created) before the next is computed.

Fusion refuses a credit beyond a document's own line or tax part, so a credit larger than what
the invoice still holds (a line raised by an edit, then lowered again) is split as a refund's
is: the invoice first, then the debit memos, one memo per document (``-E<n>``, ``-E<n>B``, …).
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
from connector.services import baselines, bindings
from connector.services.applications import Mover, order_documents, order_receipts
from connector.services.context import Services
from connector.services.documents import ShopDocument

DEBIT, CREDIT, CANCELLATION = "debit_memo", "credit_memo", "cancellation"
LETTERS = {DEBIT: "D", CREDIT: "E", CANCELLATION: "X"}
MAX_ROUNDS = 6  # an edit books a debit, a credit, or both: more rounds mean the figures do not converge


def book(services: Services, session: Session, shop: Shop, order: dict, invoice: Binding) -> str:
    """Book what the order's edits changed since it was invoiced; returns a note when something
    keeps it from being booked now."""
    if not baselines.restore(session, invoice):
        return (f"invoice {invoice.fusion_number} was bound before edits were booked and no stored order "
                "event has its total: its edits are not compared (see Known gaps in docs/accounting.md)")
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
    _parts: list[Room] = field(default_factory=list, init=False)   # a credit, per document
    _refused: MappingError | None = field(default=None, init=False)  # why the credit cannot be created

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
        if self.document != DEBIT:
            _wait_for_refunds_in_flight(self.session, self.invoice, self.services.settings.dependency_wait_seconds)
            line, tax = net_and_tax(-self.change, self.taxes_included)
            try:  # refused only when it would be created: an in-flight memo is found and adopted first
                if line < 0 or tax < 0:
                    raise MappingError(f"an edit lowered the order's total but raised part of it (net {-line}, "
                                       f"tax {-tax}): not booked by this release")
                self._parts = allocate(line, tax, credit_room(self.session, self.invoice,
                                                              booked_refunds(self.session, self.invoice)))
                if not self._parts:
                    raise MappingError(f"adjustment {self._number} was begun as a credit, but the order no longer "
                                       "has anything to credit: a person must look")
                self.part_numbers(len(self._parts))  # every number, before anything is posted
            except MappingError as refused:
                self._refused = refused

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
                invoice_number=self.invoice.fusion_number,
                payment_terms=self.invoice.fusion_refs.get("payment_terms", "")))
        if self._refused is not None:
            raise self._refused
        self._take_receipts_off({part.document_id for part in self._parts})
        try:
            return self.fusion.credit_memos.create(self._credit(self._parts[0], self._number))
        except FusionRejected:
            self._put_receipts_back([])
            raise

    def complete(self, memo: dict) -> dict:
        """Credit the other documents the credit was split over (after a lost answer, those not
        found), then put the order's receipts on what is still owed: back after a credit took
        them off, and onto a new debit memo when an earlier edit down left cash unapplied on them."""
        if self.document != DEBIT:
            parts = self._planned_parts()
            source = self.mapping.fusion.transaction_source
            missing = [(part, number) for part, number in list(zip(parts, self.part_numbers(len(parts))))[1:]
                       if self.fusion.credit_memos.find(source, number) is None]
            self._take_receipts_off({part.document_id for part, _ in missing})
            try:
                for part, number in missing:
                    self.fusion.credit_memos.create(self._credit(part, number))
            except FusionRejected:
                self._put_receipts_back([])  # the order shows paid, as it was, while a person looks
                raise
        new = [str(memo["CustomerTransactionId"])] if self.document == DEBIT and memo.get("CustomerTransactionId") \
            else []
        self._put_receipts_back(new)
        return memo

    def part_numbers(self, count: int) -> list[str]:
        """The first document's memo is ``-E<n>`` (``-X<n>``); the others add B, C, …"""
        return [self._number] + [adjustment_number(self.order, self.shop.transaction_prefix, LETTERS[self.document],
                                                   f"{self.sequence}{chr(65 + k)}") for k in range(1, count)]

    def _planned_parts(self) -> list[Room]:
        """The split as the attempt that posted the first memo planned it (the order may have been
        edited again since), else this attempt's."""
        binding = bindings.find(self.session, self.shop.id, self.kind, self.shopify_id)
        self.session.commit()
        planned = ((binding.fusion_refs or {}).get("plan") or {}).get("parts") if binding is not None else None
        return [Room(d, Decimal(line), Decimal(tax)) for d, line, tax in planned] if planned else self._parts

    def _credit(self, part: Room, number: str) -> InvoiceCredit:
        what = "cancelled" if self.document == CANCELLATION else "edited after invoicing"
        return InvoiceCredit(invoice_id=part.document_id, transaction_number=number,
                             currency=self.invoice.fusion_refs.get("currency") or None, line=part.line, tax=part.tax,
                             customer_reference=self.gid,
                             comments=f"Shopify order {self.order.get('name', '')} {what}"[:240])

    def _take_receipts_off(self, documents: set[str]) -> None:
        """A paid document has no room for a credit: the receipts come off what is credited first."""
        mover = self._mover()
        for receipt in self._receipts:
            for document_id in (d for d in self._documents if d in documents):
                mover.take_off(receipt.fusion_id, receipt.fusion_number, document_id)

    def _put_receipts_back(self, new_documents: list[str]) -> None:
        mover = self._mover()
        for receipt in self._receipts:
            mover.put_back(receipt.fusion_id, self._documents + new_documents)

    def _mover(self) -> Mover:
        return Mover.of(self.services, self.fusion, self.mapping.fusion.business_unit, self.invoice, self.gid)

    def plan(self) -> dict:
        return {"document": self.document, "change": self.change.as_refs(),
                "parts": [[p.document_id, str(p.line), str(p.tax)] for p in self._parts]}

    def bind(self, session: Session, binding: Binding, memo: dict) -> dict:
        # What was posted, by whichever attempt claimed it: an order edited again meanwhile must
        # not make this attempt record its own, newer figures for a document it did not post.
        planned = (binding.fusion_refs or {}).get("plan") or self.plan()
        change = Components.from_refs(planned["change"])
        binding.fusion_id = str(memo.get("CustomerTransactionId", ""))
        binding.fusion_number = str(memo.get("TransactionNumber") or self._number)
        parts = [Room(d, Decimal(line), Decimal(tax)) for d, line, tax in planned.get("parts") or []]
        binding.fusion_refs = {"document": planned["document"], "invoice_id": self.invoice.fusion_id,
                               "change": change.as_refs()}
        if parts:
            binding.fusion_refs |= {"credits": per_document(parts), "memos": self.part_numbers(len(parts))}
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
    earlier refunds kept back), after the edits' and cancellations' credits and the given (earlier) refunds. Fusion
    refuses a credit beyond a document's own line or tax part, so a refund of goods an edit added
    must credit the debit memo too, and a return that Shopify caps after money was given beyond
    an earlier refund's lines credits back the fee that refund kept."""
    inclusive = bool(invoice.fusion_refs.get("taxes_included"))
    room = {invoice.fusion_id: list(net_and_tax(Components.from_refs(invoice.fusion_refs["components"]), inclusive))}
    credited: list[tuple[str, list]] = []   # (document, [net, tax]) of every credit so far
    for adjustment in adjustments_of(session, invoice):
        if adjustment.state != BindingState.synced:
            continue
        line, tax = net_and_tax(Components.from_refs(adjustment.fusion_refs.get("change")), inclusive)
        if adjustment.fusion_refs.get("document") == DEBIT:
            room[adjustment.fusion_id] = [line, tax]
        else:  # an edit's or a cancellation's credit (its change is negative): the invoice's before splits
            credited += (adjustment.fusion_refs.get("credits") or {invoice.fusion_id: [-line, -tax]}).items()
    for refund in refunds:  # what an earlier refund kept back is on a debit memo of its own
        if refund.fusion_refs.get("fee_memo_id"):
            gross, tax = (Decimal(v) for v in refund.fusion_refs["kept"])
            room[refund.fusion_refs["fee_memo_id"]] = [gross - tax, tax]
    for refund in refunds:
        credited += (refund.fusion_refs.get("credits") or {
            invoice.fusion_id: [refund.fusion_refs.get("line", "0"), refund.fusion_refs.get("tax", "0")]}).items()
    for document_id, (line, tax) in credited:
        if document_id in room:
            room[document_id][0] -= Decimal(line)
            room[document_id][1] -= Decimal(tax)
    return [Room(document_id, line, tax) for document_id, (line, tax) in room.items()]


def allocate(line: Decimal, tax: Decimal, rooms: list[Room]) -> list[Room]:
    """Split a credit over the documents in order, each taking what its room allows."""
    parts, line, tax = fit(line, tax, rooms)
    return _all_held(parts, line, tax)


def allocate_gross(line: Decimal, tax: Decimal, rooms: list[Room]) -> list[Room]:
    """Split a credit whose division into net and tax is ours, not Shopify's, over the documents.

    Money a refund gave beyond its lines (a goodwill amount) carries no tax in Shopify and is
    credited from the net parts. Once earlier credits have used the net room up, what is left of
    it goes to the tax room, as a return does when its goods no longer fit one part (``absorb``):
    the documents' total then follows Shopify's to the cent, where a net-only rule would park a
    refund that the documents can hold."""
    parts, line, tax = fit(line, tax, rooms)
    if line or tax:  # the rest into the other part's room, document by document
        swapped = [Room(r.document_id, r.tax, r.line) for r in less(rooms, parts)]
        more, line, tax = fit(line, tax, swapped)
        parts = _merged(parts + [Room(m.document_id, m.tax, m.line) for m in more])
    return _all_held(parts, line, tax)


def _all_held(parts: list[Room], line: Decimal, tax: Decimal) -> list[Room]:
    """The parts, when nothing of the credit is left over."""
    if line or tax:
        raise MappingError(f"the credit is {line} net and {tax} tax more than the order's documents hold")
    return parts


def _merged(parts: list[Room]) -> list[Room]:
    """One part per document (a document the first pass left alone comes after those it used)."""
    totals: dict[str, Room] = {}
    for p in parts:
        had = totals.get(p.document_id)
        totals[p.document_id] = p if had is None else Room(p.document_id, had.line + p.line, had.tax + p.tax)
    return list(totals.values())


def less(rooms: list[Room], taken: list[Room]) -> list[Room]:
    """The rooms after the given parts took their share."""
    used = {p.document_id: p for p in _merged(taken)}
    return [Room(r.document_id, r.line - used[r.document_id].line, r.tax - used[r.document_id].tax)
            if r.document_id in used else r for r in rooms]


def fit(line: Decimal, tax: Decimal, rooms: list[Room]) -> tuple[list[Room], Decimal, Decimal]:
    """What of a credit the documents hold, in order, and the (net, tax) left over."""
    parts = []
    for room in rooms:
        take_line, take_tax = min(line, max(room.line, ZERO)), min(tax, max(room.tax, ZERO))
        if take_line or take_tax:
            parts.append(Room(room.document_id, take_line, take_tax))
            line, tax = line - take_line, tax - take_tax
    return parts, line, tax


def per_document(parts: list[Room]) -> dict[str, list[str]]:
    """What a credit split over the documents gave each one, as [net, tax]."""
    totals: dict[str, tuple[Decimal, Decimal]] = {}
    for p in parts:
        line, tax = totals.get(p.document_id, (ZERO, ZERO))
        totals[p.document_id] = (line + p.line, tax + p.tax)
    return {document: [str(line), str(tax)] for document, (line, tax) in totals.items()}


def _wait_for_refunds_in_flight(session: Session, invoice: Binding, wait: int) -> None:
    """An edit's credit waits while a refund of the order is being booked: the refund's memos
    take room on the documents that the edit's credit would otherwise count as free."""
    from connector.locks import Busy
    found = session.scalars(select(Binding).where(
        Binding.shop_id == invoice.shop_id, Binding.kind == BindingKind.refund,
        Binding.state == BindingState.creating)).all()
    session.commit()
    if any(((r.fusion_refs or {}).get("plan") or {}).get("invoice_id") == invoice.fusion_id for r in found):
        raise Busy(f"the credit of an edit of order {invoice.shopify_id} waits for a refund being booked",
                   retry_after=wait)


def booked_refunds(session: Session, invoice: Binding) -> list[Binding]:
    """The order's refunds as booked (those that needed no document included)."""
    found = session.scalars(select(Binding).where(
        Binding.shop_id == invoice.shop_id, Binding.kind == BindingKind.refund,
        Binding.state.in_([BindingState.synced, BindingState.skipped])).order_by(Binding.id)).all()
    session.commit()
    return [r for r in found if r.fusion_refs.get("invoice_id") == invoice.fusion_id]
