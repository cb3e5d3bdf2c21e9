"""Shopify refunds as Fusion credit memos against the order's invoice, with the refunded money
taken off the receipt that brought it in.

Fusion will not credit a document below what is still open on it, and a document a receipt has
paid has nothing open. So a refund is booked in the order an AR clerk would follow:

1. unapply the order's receipts from its invoice and debit memos (Fusion unapplies whole
   applications only);
2. credit the invoice (SOAP ``createCreditMemo``), and the debit memos for what the invoice no
   longer holds: one refund, one memo per document, ``<invoice>-C<n>``, ``-C<n>B``, …; what the
   customer got beyond the lines (a refund discrepancy, an amount-only refund) is credited by a
   memo of its own in the same series, with the mapping's reason code;
3. charge what the refund kept back (a restocking fee) on a debit memo ``<invoice>-F<n>``, and
   apply the receipts again for what the customer kept;
4. write the refunded amount off the payment's receipt to a Receipt Write-off activity on a
   clearing account: the gateway has paid the customer already, so nothing may pay them again
   from Fusion. Store credit goes to its liability activity instead.

Steps 1 and 2 are the create of the create-once protocol, 3 and 4 its completion; each reads
Fusion's state before it acts, so a retry after a failure picks up where the last attempt
stopped. The refunds of one order are booked strictly in the order Shopify made them, each under
the order's lock, because they share the order's documents and receipts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.fusion.credit_memos import InvoiceCredit, memo_number
from connector.fusion.errors import FusionRejected
from connector.fusion.receipts import WriteOff
from connector.locks import Busy
from connector.mapping.adjustment import DebitHeader, DebitLine, debit_memo
from connector.mapping.credit_memo import (
    ChargeRefund,
    CreditAmounts,
    ShippingRefund,
    absorb,
    credit_amounts,
    discrepancies,
    kept_lines,
    on_account_memo,
    paid_before,
    refunded_charges,
)
from connector.mapping.invoice import MappingError
from connector.mapping.receipt import is_payment
from connector.models import (
    Binding,
    BindingKind,
    BindingState,
    InboxEvent,
    InboxState,
    Shop,
)
from connector.services import baselines, bindings, orders
from connector.services.adjustments import (
    Room,
    adjustments_of,
    allocate,
    allocate_gross,
    booked_by_edits,
    credit_room,
    fit,
    less,
    per_document,
)
from connector.services.applications import Mover, order_documents, order_receipts
from connector.services.context import Services
from connector.services.documents import ShopDocument
from connector.shopify import orders as shopify_orders


def handle(services: Services, session: Session, shop: Shop, refund: dict) -> str:
    """A refund webhook: its credit memo, and the refunded money off the payment's receipt."""
    refund_id, gid = str(refund["id"]), refund["admin_graphql_api_id"]
    if not (refund.get("refund_line_items") or refund.get("refund_shipping_lines") or refund.get("transactions")
            or refunded_charges(refund)):
        bindings.skip(session, shop.id, BindingKind.refund, refund_id, gid, "nothing refunded, no money moved")
        return ""
    order = bindings.find(session, shop.id, BindingKind.order, str(refund["order_id"]))
    session.commit()
    if order is not None and order.state == BindingState.skipped:
        bindings.skip(session, shop.id, BindingKind.refund, refund_id, gid, "the order has no invoice")
        return ""
    if waiting := _order_events_before(session, shop.id, refund_id, str(refund["order_id"])):
        raise Busy(f"refund {gid} waits for {waiting} earlier event(s) of its order (an edit it may return "
                   "goods of)", retry_after=services.settings.dependency_wait_seconds)
    with orders.money_lock(services, shop, str(refund["order_id"])):
        try:
            CreditMemo(services, session, shop, refund=refund).ensure()
        except NothingToBook as nothing:
            bindings.skip(session, shop.id, BindingKind.refund, refund_id, gid, str(nothing), refs=nothing.refs)
    return ""


def _order_events_before(session: Session, shop_id: int, refund_id: str, order_id: str) -> int:
    """How many of the order's state events that Shopify fired before this refund are still
    waiting to be handled here. The refund returns goods as the order then stood: an edit made
    before it (a quantity raised, its debit memo not booked yet) must be in Fusion first, or the
    refund would credit more than the documents hold. Shopify's firing time, not the order of
    arrival, since a retried delivery arrives late; an edit not delivered yet cannot be waited
    for (reconciliation finds it)."""
    from connector import flows  # the registry imports this module
    fired = session.scalar(select(func.min(InboxEvent.triggered_at)).where(
        InboxEvent.shop_id == shop_id, InboxEvent.resource_id == refund_id,
        InboxEvent.topic.in_(flows.topics_of(BindingKind.refund))))
    if not fired:  # not from a webhook (a backfill), or a sender that gave no time
        session.commit()
        return 0
    pending = session.scalar(select(func.count()).select_from(InboxEvent).where(
        InboxEvent.shop_id == shop_id, InboxEvent.resource_id == order_id, InboxEvent.triggered_at != "",
        InboxEvent.triggered_at < fired, InboxEvent.topic.in_(flows.topics_handled_by(orders.handle)),
        InboxEvent.state == InboxState.received))
    session.commit()
    return pending


class NothingToBook(Exception):
    """The refund's credit was booked already (by money an earlier refund gave beyond its lines)
    and it keeps nothing back: there is no document to make, only what later refunds must know."""

    def __init__(self, message: str, refs: dict):
        super().__init__(message)
        self.refs = refs


@dataclass(frozen=True)
class Reversal:
    """Money one refund gave back out of one payment's receipt."""

    receipt_id: str
    receipt_number: str
    amount: Decimal
    activity: str             # the receivables activity the amount leaves the receipt through


@dataclass
class CreditMemo(ShopDocument):
    kind = BindingKind.refund
    label = "credit_memo"

    refund: dict
    _invoice: Binding | None = field(default=None, init=False)
    _amounts: CreditAmounts | None = field(default=None, init=False)
    _number: str = field(default="", init=False)
    _sequence: int = field(default=0, init=False)
    _reversals: list[Reversal] = field(default_factory=list, init=False)
    _written_before: dict[str, Decimal] = field(default_factory=dict, init=False)
    _documents: list[str] = field(default_factory=list, init=False)
    _parts: list[Room] = field(default_factory=list, init=False)   # the credit per document, invoice first
    _given: int = field(default=0, init=False)      # how many of the last parts credit a discrepancy
    _beyond: Room | None = field(default=None, init=False)  # credited on account: beyond every document
    _kept: list[DebitLine] = field(default_factory=list, init=False)  # the fee debit memo's lines
    _fee_id: str = field(default="", init=False)
    _receipts: list[Binding] = field(default_factory=list, init=False)

    @property
    def shopify_id(self) -> str:
        return str(self.refund["id"])

    @property
    def gid(self) -> str:
        return self.refund["admin_graphql_api_id"]

    @property
    def mapping(self):
        return self.services.mapping.for_shop(self.shop.domain)

    @property
    def wait(self) -> int:
        """How soon to look again for a document this refund depends on."""
        return self.services.settings.dependency_wait_seconds

    # -- before anything is claimed ---------------------------------------------------------------

    def prepare(self) -> None:
        super().prepare()
        self._invoice = self._synced(BindingKind.order, str(self.refund["order_id"]), "the order's invoice")
        if not baselines.restore(self.session, self._invoice):
            raise MappingError(f"invoice {self._invoice.fusion_number} was bound before refunds were booked and "
                               "no stored order event has its total: see Known gaps in docs/accounting.md")
        client = self.services.shopify(self.session, self.shop)
        self.session.commit()  # no transaction across the calls to Shopify
        order_gid = self._invoice.shopify_gid
        history = shopify_orders.transactions(client, order_gid)
        self._wait_for_money(history)
        shipping = [ShippingRefund(s.subtotal, s.tax) for s in shopify_orders.refund_shipping(client, self.gid)] \
            if self.refund.get("refund_shipping_lines") else []
        charges = [ChargeRefund(c.amount, c.tax) for c in shopify_orders.refund_charges(client, self.gid)] \
            if refunded_charges(self.refund) else []
        earlier = [r.id for r in shopify_orders.refunds(client, order_gid)]
        if self.shopify_id not in earlier:
            raise Busy(f"refund {self.gid} is not listed on its order yet", retry_after=self.wait)
        earlier = earlier[:earlier.index(self.shopify_id)]
        self._sequence = len(earlier) + 1
        self._number = memo_number(self._invoice.fusion_number, self._sequence)
        self._wait_for(earlier)
        earlier_refunds = self._synced_refunds(earlier)
        self._written_before = _written_by(earlier_refunds)
        self._amounts = credit_amounts(self.refund, taxes_included=bool(self._invoice.fusion_refs["taxes_included"]),
                                       shipping=shipping, paid_before=paid_before(history, self.refund),
                                       discrepancy_before=_discrepancy_of(earlier_refunds), history=history,
                                       tip_left=self._tip_left(earlier_refunds), charges=charges)
        self._reversals = self._reversals_of(history)
        self._documents = order_documents(self.session, self._invoice)
        rooms = credit_room(self.session, self._invoice, earlier_refunds)
        worth = self._amounts.gross
        goods, over_line, over_tax = fit(self._amounts.line, self._amounts.tax, rooms)
        if over_line or over_tax:
            spare = less(rooms, goods)
            try:
                self._amounts = absorb(self._amounts, over_line, over_tax,
                                       spare_line=sum((max(r.line, Decimal(0)) for r in spare), Decimal(0)),
                                       spare_tax=sum((max(r.tax, Decimal(0)) for r in spare), Decimal(0)))
                goods = allocate(self._amounts.line, self._amounts.tax, rooms)
            except MappingError:
                if not goods or over_line + over_tax > _overpaid(history, self.refund, rooms):
                    raise
                # The customer had paid more than the documents hold (an edit lowered a paid
                # order) and Shopify gives the goods' full value back: what no document holds
                # any more is the merchant's debt to the customer, a credit on account.
                self._beyond = Room("", over_line, over_tax)
        given = allocate_gross(self._amounts.given_line, self._amounts.given_tax, less(rooms, goods))
        self._parts, self._given = goods + given, len(given)
        try:  # every number the refund will need, before anything is posted
            self._part_numbers()
            if self._beyond is not None:
                self._beyond_number()
            if self._kept:
                self._fee_number()
        except ValueError as too_long:
            raise MappingError(str(too_long)) from None
        self._kept = kept_lines(self._amounts, self.mapping, refund_gid=self.gid,
                                taxes_included=bool(self._invoice.fusion_refs.get("taxes_included")))
        if not self._parts and not self._kept:
            why = ("what it returned was credited already by money given beyond an earlier refund's lines"
                   if worth else "it returned only goods Shopify says were worth nothing")
            raise NothingToBook(f"refund {self.gid} gave back {self._amounts.cash}; {why}",
                                {"invoice_id": self._invoice.fusion_id, "order_id": self._invoice.shopify_id,
                                 "line": "0", "tax": "0", "cash": str(self._amounts.cash),
                                 "discrepancy": str(sum((d.gross for d in discrepancies(self.refund)),
                                                        Decimal(0)))})

    def _tip_left(self, earlier_refunds: list[Binding]) -> Decimal:
        """The tip the order's documents still hold: the invoice's and its edits', less what earlier
        refunds gave back."""
        booked = booked_by_edits(self._invoice, adjustments_of(self.session, self._invoice)).tip
        return booked - sum((Decimal(b.fusion_refs.get("tip") or 0) for b in earlier_refunds), Decimal(0))

    def _wait_for_money(self, history) -> None:
        """A refund whose money the payment provider has not paid out yet (``pending``) is booked
        once it settles: the memo and the write-off together, from the settled figures. Failed
        money is not waited for; the cent check then parks the refund with both amounts."""
        mine = {str(t.get("id")) for t in self.refund.get("transactions") or []}
        pending = [t for t in history if t.id in mine and t.status == "pending"]
        if pending:
            raise Busy(f"refund {self.gid} waits for its money: {len(pending)} transaction(s) still pending at "
                       "the payment provider", retry_after=self.wait)

    def _synced(self, kind: BindingKind, shopify_id: str, what: str) -> Binding:
        """The synced binding this refund depends on; waits for it, or parks behind a parked one."""
        found = bindings.find(self.session, self.shop.id, kind, shopify_id)
        self.session.commit()
        if found is not None and found.state == BindingState.synced:
            return found
        if found is not None and found.state == BindingState.parked:
            raise MappingError(f"{what} ({kind.value} {shopify_id}) is parked: {found.last_error[:300]}")
        raise Busy(f"refund {self.gid} waits for {what} ({kind.value} {shopify_id})", retry_after=self.wait)

    def _wait_for(self, earlier_refunds: list[str]) -> None:
        """Book refunds in the order Shopify made them: what an earlier one credited and wrote
        off is what this one must leave alone. A parked one parks this one too."""
        found = {b.shopify_id: b for b in self.session.scalars(select(Binding).where(
            Binding.shop_id == self.shop.id, Binding.kind == BindingKind.refund,
            Binding.shopify_id.in_(earlier_refunds)))} if earlier_refunds else {}
        self.session.commit()
        for refund_id in earlier_refunds:
            earlier = found.get(refund_id)
            if earlier is not None and earlier.state in (BindingState.synced, BindingState.skipped):
                continue
            if earlier is not None and (earlier.state == BindingState.parked or
                                        (earlier.state == BindingState.creating and earlier.last_error)):
                raise MappingError(f"the order's earlier refund {refund_id} could not be booked "
                                   f"({earlier.last_error[:300]}): replay it first")
            raise Busy(f"refund {self.gid} waits for the order's earlier refund {refund_id}", retry_after=self.wait)

    def _synced_refunds(self, refund_ids: list[str]) -> list[Binding]:
        """The given refunds as booked, those that needed no document included (their refs)."""
        found = self.session.scalars(select(Binding).where(
            Binding.shop_id == self.shop.id, Binding.kind == BindingKind.refund,
            Binding.shopify_id.in_(refund_ids),
            Binding.state.in_([BindingState.synced, BindingState.skipped]))).all() if refund_ids else []
        self.session.commit()
        return list(found)

    def _reversals_of(self, history) -> list[Reversal]:
        """Each payment this refund gave money back from, with its receipt and activity; waits
        until every payment made before the refund has its receipt (``_receipts``)."""
        payments = {t.id: t for t in history if is_payment(t)}
        shop_money = {t.id: t.amount for t in history}  # the webhook's amounts are presentment money
        setup = self.mapping.refunds
        given_back: dict[str, tuple[Decimal, str]] = {}
        status = {t.id: t.status for t in history}  # settled since the webhook, perhaps
        for t in self.refund.get("transactions") or []:
            if t.get("kind") != "refund" or status.get(str(t.get("id")), t.get("status")) != "success":
                continue
            parent = str(t.get("parent_id") or "")
            if parent not in payments:
                raise MappingError(f"refund transaction {t.get('id')} names no payment of the order "
                                   f"(parent {parent or 'none'}): its money cannot be traced to a receipt")
            store_credit = t.get("gateway") == setup.store_credit_gateway
            activity = setup.store_credit_activity if store_credit else setup.clearing_activity
            if not activity:
                key = "store_credit_activity" if store_credit else "clearing_activity"
                raise MappingError(f"no receivables activity for refunded money: set [refunds] {key} in the mapping")
            amount, _ = given_back.get(parent, (Decimal(0), activity))
            given_back[parent] = (amount + shop_money[str(t.get("id"))], activity)
        # Every receipt the money may leave: Shopify may name one payment for a refund of two.
        made = shopify_orders.instant(self.refund.get("created_at"))
        for payment in payments.values():
            if shopify_orders.instant(payment.processed_at) <= made:
                self._synced(BindingKind.payment, payment.id, "the payment's receipt")
        self._receipts = order_receipts(self.session, self._invoice)
        return _spread(given_back, self._receipts, self._written_before)

    def number(self) -> str:
        return self._number if self._parts else self._fee_number()

    # -- the create: room on the invoice, then the memo ------------------------------------------

    def find(self) -> dict | None:
        if not self._parts:
            return self.fusion.invoices.find(self.mapping.fusion.transaction_source, self._fee_number())
        return self.fusion.credit_memos.find(self.mapping.fusion.transaction_source, self._number)

    def create(self) -> dict:
        # A paid document has no room for a credit: every receipt of the order comes off first.
        mover = self._mover()
        for receipt in self._receipts:
            for document_id in self._documents:
                mover.take_off(receipt.fusion_id, receipt.fusion_number, document_id)
        try:
            if not self._parts:  # all the refund does is keep money back: its debit memo is the document
                return self._fee_memo()
            return self.fusion.credit_memos.create(self._credit(0, self._number))
        except FusionRejected:
            # Put the receipts back as they were, so the order shows paid while a person looks.
            for receipt in self._receipts:
                mover.put_back(receipt.fusion_id, self._documents)
            raise

    def _credit(self, index: int, number: str) -> InvoiceCredit:
        part, given = self._parts[index], index >= len(self._parts) - self._given
        what = "beyond its lines (refund discrepancy)" if given else "of order"
        return InvoiceCredit(invoice_id=part.document_id, transaction_number=number,
                             currency=self._invoice.fusion_refs.get("currency") or None,
                             line=part.line, tax=part.tax, customer_reference=self.gid,
                             reason_code=(self.mapping.refunds.discrepancy_reason_code or None) if given else None,
                             comments=f"Shopify refund {self.gid} {what} {self._invoice.shopify_gid}"[:240])

    def _fee_number(self) -> str:
        return memo_number(self._invoice.fusion_number, self._sequence).replace("-C", "-F")

    def _fee_memo(self) -> dict | None:
        """The debit memo charging what the refund kept back, found or made; None when nothing was kept."""
        if not self._kept:
            return None
        source = self.mapping.fusion.transaction_source
        found = self.fusion.invoices.find(source, self._fee_number())
        if found is not None:
            return found
        refs = self._invoice.fusion_refs
        header = DebitHeader(self._fee_number(), refs.get("customer_account", ""), refs.get("currency", ""),
                             str(self.refund.get("created_at") or date.today().isoformat())[:10],
                             self._invoice.fusion_number,
                             f"Shopify refund {self.gid} kept back from the customer (invoice "
                             f"{self._invoice.fusion_number})",
                             refs.get("payment_terms", ""))   # a B2B invoice's own terms, as an edit's memo
        return self.fusion.invoices.create(debit_memo(header, self._kept, mapping=self.mapping,
                                                      inclusive=bool(refs.get("taxes_included")),
                                                      why="a refund kept money back from the customer"))

    def _beyond_number(self) -> str:
        return memo_number(self._invoice.fusion_number, f"{self._sequence}{chr(65 + len(self._parts))}")

    def _on_account_memo(self) -> dict:
        refs = self._invoice.fusion_refs
        header = DebitHeader(self._beyond_number(), refs.get("customer_account", ""), refs.get("currency", ""),
                             str(self.refund.get("created_at") or date.today().isoformat())[:10],
                             self._invoice.fusion_number,
                             f"Shopify refund {self.gid} beyond the charges of invoice {self._invoice.fusion_number}")
        return self.fusion.credit_memos.create_on_account(on_account_memo(
            header, self.gid, self._beyond.line, self._beyond.tax, self.mapping,
            taxes_included=bool(refs.get("taxes_included"))))

    def _part_numbers(self) -> list[str]:
        """The memo of the first document is ``<invoice>-C<n>``; a refund reaching into debit memos,
        or crediting a discrepancy, adds ``…-C<n>B``, ``…-C<n>C``: one refund, one memo per credit."""
        return [self._number] + [memo_number(self._invoice.fusion_number, f"{self._sequence}{chr(65 + k)}")
                                 for k in range(1, len(self._parts))] if self._parts else []

    def _mover(self) -> Mover:
        return Mover.of(self.services, self.fusion, self.mapping.fusion.business_unit, self._invoice, self.gid)

    # -- the completion: the customer's share back on the invoice, the refund off the receipt ------

    def plan(self) -> dict:
        return {"invoice_id": self._invoice.fusion_id,
                "parts": [[p.document_id, str(p.line), str(p.tax)] for p in self._parts], "given": self._given,
                "beyond": [str(self._beyond.line), str(self._beyond.tax)] if self._beyond else None}

    def _follow_plan(self) -> None:
        """Split the credit as the attempt that posted the first memo planned it: an edit booked
        between a lost answer and this attempt must not change the memos still to be made."""
        binding = bindings.find(self.session, self.shop.id, self.kind, self.shopify_id)
        self.session.commit()
        planned = ((binding.fusion_refs or {}).get("plan") or {}) if binding is not None else {}
        if "parts" in planned:
            self._parts = [Room(d, Decimal(line), Decimal(tax)) for d, line, tax in planned["parts"]]
            self._given = planned.get("given", 0)
            beyond = planned.get("beyond")
            self._beyond = Room("", Decimal(beyond[0]), Decimal(beyond[1])) if beyond else None

    def complete(self, memo: dict) -> dict:
        self._follow_plan()
        source = self.mapping.fusion.transaction_source
        try:
            for index, number in list(enumerate(self._part_numbers()))[1:]:
                if self.fusion.credit_memos.find(source, number) is None:
                    self.fusion.credit_memos.create(self._credit(index, number))
            if self._beyond is not None and self.fusion.credit_memos.find(source, self._beyond_number()) is None:
                self._on_account_memo()
        except FusionRejected:
            mover = self._mover()  # the order shows paid, as it was, while a person looks
            for receipt in self._receipts:
                mover.put_back(receipt.fusion_id, self._documents)
            raise
        fee = self._fee_memo()
        documents = self._documents + ([str(fee["CustomerTransactionId"])] if fee else [])
        self._fee_id = str(fee["CustomerTransactionId"]) if fee else ""
        mover = self._mover()
        for receipt in self._receipts:  # whatever put them back meanwhile (an edit), they come off again
            for document_id in self._documents:
                mover.take_off(receipt.fusion_id, receipt.fusion_number, document_id)
        done = {r.receipt_id: self._written_off(r) for r in self._reversals}  # by an earlier attempt
        todo = []
        for reversal in self._reversals:
            already = min(done[reversal.receipt_id], reversal.amount)
            done[reversal.receipt_id] -= already
            todo.append((reversal, reversal.amount - already))
        for receipt in self._receipts:
            keep = sum((amount for r, amount in todo if r.receipt_id == receipt.fusion_id), Decimal(0))
            mover.put_back(receipt.fusion_id, documents, keep=keep)
        for reversal, to_write_off in todo:
            if to_write_off > 0:
                self.fusion.receipts.write_off(WriteOff(
                    business_unit=self.mapping.fusion.business_unit, receipt_number=reversal.receipt_number,
                    activity_name=reversal.activity, amount=to_write_off, apply_date=date.today().isoformat(),
                    comments=f"Shopify refund {self.gid}"[:240], customer_reference=self.gid))
        return memo

    def _written_off(self, reversal: Reversal) -> Decimal:
        """What this refund has written off the receipt already (an earlier attempt's work)."""
        rows = self.fusion.receipts.applications(self._invoice.fusion_refs["customer_account_id"],
                                                 reversal.receipt_id, None)
        on_receipt = sum((Decimal(str(a["ApplicationAmount"])) for a in rows if a.get("ActivityName")), Decimal(0))
        return on_receipt - self._written_before.get(reversal.receipt_number, Decimal(0))

    def bind(self, session: Session, binding: Binding, memo: dict) -> dict:
        binding.fusion_id = str(memo.get("CustomerTransactionId", ""))
        binding.fusion_number = str(memo.get("TransactionNumber") or self._number)
        # money given beyond the lines as Fusion holds it: its split may have taken tax room
        # (allocate_gross), and a cancellation works out what the documents hold from it
        given = self._parts[len(self._parts) - self._given:] if self._given else []
        binding.fusion_refs = {"invoice_id": self._invoice.fusion_id, "order_id": self._invoice.shopify_id,
                               "line": str(self._amounts.line), "tax": str(self._amounts.tax),
                               "credits": per_document(self._parts),
                               "memos": self._part_numbers() + ([self._beyond_number()] if self._beyond else []),
                               "on_account": [str(self._beyond.line), str(self._beyond.tax)] if self._beyond else None,
                               "cash": str(self._amounts.cash), "tip": str(self._amounts.tip),
                               "kept": [str(self._amounts.kept_gross), str(sum((k.tax for k in self._amounts.kept),
                                                                               Decimal(0)))],
                               "given": [str(sum((p.line for p in given), Decimal(0))),
                                         str(sum((p.tax for p in given), Decimal(0)))],
                               "fee_memo_id": self._fee_id,
                               "discrepancy": str(sum((d.gross for d in discrepancies(self.refund)), Decimal(0))),
                               "receipts": {number: str(sum((r.amount for r in self._reversals
                                                             if r.receipt_number == number), Decimal(0)))
                                            for number in dict.fromkeys(r.receipt_number for r in self._reversals)}}
        return {"transaction_number": binding.fusion_number, "customer_transaction_id": binding.fusion_id,
                "line": self._amounts.line, "tax": self._amounts.tax, "total": self._amounts.gross,
                "money_back": self._amounts.cash, "kept": self._amounts.kept_gross,
                "given": self._amounts.given_gross, "invoice": self._invoice.fusion_number,
                "written_off": binding.fusion_refs["receipts"]}


def _discrepancy_of(refunds: list[Binding]) -> Decimal:
    """What the given refunds kept back from the customer, less what they gave beyond their lines."""
    return sum((Decimal(b.fusion_refs.get("discrepancy") or 0) for b in refunds), Decimal(0))


def _overpaid(history, refund: dict, rooms: list[Room]) -> Decimal:
    """What the customer had paid, before this refund, beyond all the order's documents still hold."""
    held = sum((max(r.line, Decimal(0)) + max(r.tax, Decimal(0)) for r in rooms), Decimal(0))
    return paid_before(history, refund) - held


def _written_by(refunds: list[Binding]) -> dict[str, Decimal]:
    """What the given refunds wrote off each receipt, by receipt number.

    A write-off has no key of its own in Fusion; knowing what the earlier refunds took, the rest
    of a receipt's write-offs is this refund's, so a retry never writes off twice.
    """
    totals: dict[str, Decimal] = {}
    for binding in refunds:
        for number, amount in (binding.fusion_refs.get("receipts") or {}).items():
            totals[number] = totals.get(number, Decimal(0)) + Decimal(amount)
    return totals


def _spread(given_back: dict[str, tuple[Decimal, str]], receipts: list[Binding],
            written_before: dict[str, Decimal]) -> list[Reversal]:
    """Which receipt each refunded amount leaves: its payment's, as far as that receipt still
    holds money; the rest from the order's other receipts in order (Shopify may name one payment
    for a refund larger than it). More than all receipts hold cannot be traced: refused."""
    by_id = {r.shopify_id: r for r in receipts}
    left = {r.fusion_number: Decimal(r.fusion_refs.get("amount") or 0) - written_before.get(r.fusion_number, Decimal(0))
            for r in receipts}
    taken: dict[tuple[str, str], Decimal] = {}
    for parent, (amount, activity) in given_back.items():
        order = [by_id[parent]] + [r for r in receipts if r.shopify_id != parent] if parent in by_id else receipts
        for receipt in order:
            share = min(amount, max(left[receipt.fusion_number], Decimal(0)))
            if share:
                taken[(receipt.shopify_id, activity)] = taken.get((receipt.shopify_id, activity), Decimal(0)) + share
                left[receipt.fusion_number] -= share
                amount -= share
        if amount:
            raise MappingError(f"the refund gives back {amount} more than the order's receipts hold")
    return [Reversal(by_id[payment].fusion_id, by_id[payment].fusion_number, amount, activity)
            for (payment, activity), amount in taken.items()]

