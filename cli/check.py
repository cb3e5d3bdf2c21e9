"""Whether Fusion holds an order's money the way Shopify does, read the way an auditor would.

For every order, to the cent:
1. invoice + debit memos − credit memos = Shopify's ``current_total_price`` plus its refund
   discrepancies (what refunds kept back, less what they gave beyond their lines: Shopify's
   ``refundDiscrepancySet``, which the current total, "after returns", leaves out);
2. the open balance (the invoice's ``InvoiceBalanceAmount`` plus its debit memos') = Shopify's
   ``total_outstanding``; when that is negative (an edit lowered a paid order: the customer is
   owed money), the open balance is nothing and the cash left unapplied on the order's receipts
   is what the customer is owed, which must otherwise be nothing;
3. exactly one invoice, one credit memo per refund (none for a return whose goods an earlier
   amount-only refund credited already), one receipt per successful payment.

The demo prints this and the integration tests assert it, so that both read Fusion the same
way: through the connector's own Fusion client, by the deterministic document numbers, never
through the connector's bindings (which would only check the connector against itself). The
pipeline's own verdict is read too: an order whose webhook events are deferred, parked or dead
is not finished, whatever its figures happen to say, and the reason is the inbox's.
"""
from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import requests

from connector.fusion import credit_memos, invoices, receipts
from connector.mapping.credit_memo import discrepancies, order_discrepancy, refund_cash
from connector.mapping.invoice import shop_amount

ZERO = Decimal(0)
PAYMENT_KINDS = ("sale", "capture")
UNFINISHED = ("received", "deferred", "parked", "dead")


@dataclass(frozen=True)
class Unfinished:
    """Webhook events of one order left in one state for one reason."""

    topics: tuple[str, ...]
    verdict: str                    # still waiting, deferred, parked, dead
    reason: str

    def __str__(self) -> str:
        return f"{', '.join(self.topics)} {self.verdict}: {self.reason}"


@dataclass
class OrderCheck:
    shop: str                       # the shop's prefix in the connector
    order_id: int
    name: str
    current_total: Decimal          # Shopify's current_total_price
    outstanding: Decimal            # Shopify's total_outstanding
    discrepancy: Decimal = ZERO     # Σ of its refunds' discrepancies (order adjustments)
    invoice_number: str = ""
    invoices: int = 0
    invoice_total: Decimal | None = None
    debit_memos: list[str] = field(default_factory=list)
    debits: Decimal = ZERO
    credit_memos: list[str] = field(default_factory=list)
    credits: Decimal = ZERO         # positive: what the memos take off
    refund_memos: dict[str, list[str]] = field(default_factory=dict)  # refund GID → its memos' numbers
    expected_receipts: list[str] = field(default_factory=list)          # one per payment transaction
    receipt_numbers: list[str] = field(default_factory=list)            # as found, a duplicate twice
    receipts: Decimal = ZERO
    unapplied: Decimal = ZERO       # cash on the order's receipts applied to nothing
    on_account: Decimal = ZERO      # open credit on the order's memos (a refund beyond every charge)
    balance: Decimal | None = None
    miscounted: list[str] = field(default_factory=list)   # what breaks invariant 3
    events: list[Unfinished] = field(default_factory=list)  # webhook events the pipeline has not finished
    actions: list[str] = field(default_factory=list)      # what the merchant did after placing it

    @property
    def documents(self) -> Decimal | None:
        if self.invoice_total is None:
            return None
        return self.invoice_total + self.debits - self.credits

    @property
    def charged(self) -> Decimal:
        """What the customer is charged now, by Shopify: the current total and the discrepancies."""
        return self.current_total + self.discrepancy

    @property
    def owed_back(self) -> Decimal:
        """What Fusion says the merchant owes the customer: cash on the receipts applied to
        nothing, and credit on account."""
        return self.unapplied + self.on_account

    @property
    def totals_hold(self) -> bool:
        return self.documents == self.charged

    @property
    def balance_holds(self) -> bool:
        return self.balance == max(self.outstanding, ZERO) and self.owed_back == max(-self.outstanding, ZERO)

    @property
    def counts_hold(self) -> bool:
        return not self.miscounted

    @property
    def ok(self) -> bool:
        return self.totals_hold and self.balance_holds and self.counts_hold and not self.events

    def reasons(self) -> list[str]:
        out = []
        if not self.totals_hold:
            out.append(f"(1) invoice {_text(self.invoice_total)} + debits {self.debits} − credits {self.credits} "
                       f"= {_text(self.documents)}, Shopify's current total is {self.current_total}"
                       + (f" with {self.discrepancy} of refund discrepancies" if self.discrepancy else ""))
        if not self.balance_holds:
            on_account = f" and {self.on_account} credit on account" if self.on_account else ""
            out.append(f"(2) open balance in Fusion {_text(self.balance)} with {self.unapplied} unapplied on its "
                       f"receipts{on_account}, Shopify's outstanding {self.outstanding}")
        out += [f"(3) {problem}" for problem in self.miscounted]
        return out + [str(e) for e in self.events]

    def as_json(self) -> dict:
        return {"shop": self.shop, "order_id": self.order_id, "name": self.name, "ok": self.ok,
                "invariants": {"1": self.totals_hold, "2": self.balance_holds, "3": self.counts_hold},
                "current_total": str(self.current_total), "outstanding": str(self.outstanding),
                "refund_discrepancy": str(self.discrepancy),
                "invoice": self.invoice_number, "invoice_total": _text(self.invoice_total),
                "debit_memos": self.debit_memos, "credit_memos": self.credit_memos,
                "receipts": self.receipt_numbers, "balance": _text(self.balance), "unapplied": str(self.unapplied),
                "on_account": str(self.on_account),
                "events": [str(e) for e in self.events], "reasons": self.reasons(), "actions": self.actions}


def _text(amount: Decimal | None) -> str:
    return "-" if amount is None else str(amount)


def _amount(value) -> Decimal:
    return ZERO if value is None else Decimal(str(value))


# -- Shopify, as the merchant sees it -----------------------------------------------------------

def shopify_order(shopify_url: str, domain: str, order_id) -> tuple[dict, list[dict]]:
    """The order now (current totals, refunds) and its transactions, from the sandbox's scenario
    API: the figures Fusion must match are Shopify's, not what the connector was told."""
    base = f"{shopify_url}/_sandbox/shops/{domain}/orders/{order_id}"
    order = requests.get(base, timeout=10)
    order.raise_for_status()
    transactions = requests.get(f"{base}/transactions", timeout=10)
    transactions.raise_for_status()
    return order.json(), transactions.json()["transactions"]


def payments(transactions: list[dict]) -> list[dict]:
    """The transactions that each owe Fusion one receipt."""
    return [t for t in transactions if t["kind"] in PAYMENT_KINDS and t["status"] == "success"
            and shop_amount(t, "amount") > 0]


# -- Fusion, as its REST API reports it ---------------------------------------------------------

def _query(fusion, path: str, q: str) -> list[dict]:
    return fusion.transport.read(path, {"q": q, "onlyData": "true", "limit": "100"})["items"]


def read_all(fusion, path: str, q: str, page: int = 500) -> list[dict]:
    """Every row of a REST collection that ``q`` selects, a page at a time."""
    rows: list[dict] = []
    while True:
        answer = fusion.transport.read(path, {"q": q, "onlyData": "true", "limit": str(page),
                                              "offset": str(len(rows))})
        rows += answer["items"]
        if not answer.get("hasMore") or not answer["items"]:
            return rows


def _starting(rows: list[dict], key: str, prefix: str) -> list[dict]:
    return [r for r in rows if str(r.get(key, "")).startswith(prefix)]


#: How many days before a window's first day a :class:`Snapshot` still reads documents from.
SINCE_MARGIN_DAYS = 3


class Documents:
    """Fusion read one order at a time, each document by its key (the demo, the tests).

    What ``check_order`` asks: the invoices with the order's GID as ``CrossReference``, the
    documents of a REST collection whose number starts with a prefix (the edit and cancellation
    flows may number theirs in ways this check should not have to know, as long as they hang off
    the invoice's), and the receipts with one number."""

    def __init__(self, fusion):
        self.fusion = fusion

    def invoices(self, gid: str) -> list[dict]:
        return self.fusion.invoices.by_reference(gid)

    def numbered(self, path: str, prefix: str) -> list[dict]:
        return _starting(_query(self.fusion, path, f"TransactionNumber LIKE '{prefix}%'"), "TransactionNumber",
                         prefix)

    def receipts(self, number: str) -> list[dict]:
        return _query(self.fusion, receipts.PATH, f"ReceiptNumber='{number}'")


class Snapshot(Documents):
    """Every document of a shop (numbers ``<prefix>-…``) read once, a page of 500 at a time, then
    looked up in memory: for thousands of orders, where a query per document would scan the pod
    thousands of times. The same answers as :class:`Documents` for that shop's orders (whose
    documents all carry its prefix), as long as nothing is written meanwhile.

    ``since``: only the documents of orders processed on or after that day are needed (a report's
    window), so the older ones are not read: invoices created, credit memos dated and receipts
    dated from :data:`SINCE_MARGIN_DAYS` before it (a document is made after its order, and dated
    on its own day or later; the margin covers the time zones the dates are written in). Fusion's
    ``q`` allows ``CreationDate`` on invoices (not ``TransactionDate``), ``TransactionDate`` on
    credit memos and ``ReceiptDate`` on receipts."""

    def __init__(self, fusion, prefix: str, since: date | None = None):
        super().__init__(fusion)
        self.prefix = prefix
        self.sorted: dict[str, tuple[list[str], list[dict]]] = {}
        first = since - timedelta(days=SINCE_MARGIN_DAYS) if since else None
        dated = {invoices.PATH: f" and CreationDate >= '{first.isoformat()}T00:00:00+00:00'" if first else "",
                 credit_memos.PATH: f" and TransactionDate >= '{first.isoformat()}'" if first else ""}
        for path in (invoices.PATH, credit_memos.PATH):
            rows = sorted(read_all(fusion, path, f"TransactionNumber LIKE '{prefix}-%'" + dated[path]),
                          key=lambda r: str(r.get("TransactionNumber", "")))
            self.sorted[path] = ([str(r.get("TransactionNumber", "")) for r in rows], rows)
        self.by_reference: dict[str, list[dict]] = {}
        for row in self.sorted[invoices.PATH][1]:
            self.by_reference.setdefault(row.get("CrossReference"), []).append(row)
        self.by_receipt_number: dict[str, list[dict]] = {}
        received = f" and ReceiptDate >= '{first.isoformat()}'" if first else ""
        for row in read_all(fusion, receipts.PATH, f"ReceiptNumber LIKE '{prefix}-%'" + received):
            self.by_receipt_number.setdefault(row.get("ReceiptNumber"), []).append(row)

    def invoices(self, gid: str) -> list[dict]:
        return list(self.by_reference.get(gid, []))

    def numbered(self, path: str, prefix: str) -> list[dict]:
        numbers, rows = self.sorted[path]
        start = bisect.bisect_left(numbers, prefix)
        return _starting(rows[start:bisect.bisect_left(numbers, prefix + "\U0010ffff")], "TransactionNumber", prefix)

    def receipts(self, number: str) -> list[dict]:
        if not number.startswith(f"{self.prefix}-"):  # a person's receipt pushed to Shopify: read it
            return super().receipts(number)
        return list(self.by_receipt_number.get(number, []))


def check_order(fusion, prefix: str, order: dict, transactions: list[dict],
                pushed: dict[str, str] | None = None) -> OrderCheck:
    """Fusion's documents for ``order``, found by their deterministic numbers and references
    alone, so that a document the connector believes it made but Fusion lacks shows as missing.
    ``fusion`` is the connector's Fusion client, or :class:`Documents` read from it. ``pushed``:
    the receipt number of each payment the connector recorded in Shopify for a receipt a person
    entered in Fusion, by transaction id (:func:`connector.services.fusion_receipts.pushed_payments`):
    that receipt is the payment's, not one numbered ``<prefix>-T<id>``."""
    documents = fusion if isinstance(fusion, Documents) else Documents(fusion)
    check = OrderCheck(prefix, order["id"], order.get("name", str(order["id"])),
                       shop_amount(order, "current_total_price"), shop_amount(order, "total_outstanding"),
                       order_discrepancy(order)[0])
    found = documents.invoices(order["admin_graphql_api_id"])
    check.invoices = len(found)
    if len(found) != 1:
        check.miscounted.append(f"{len(found)} invoices for the order")
    if not found:
        return check
    invoice = found[0]
    check.invoice_number = str(invoice["TransactionNumber"])
    check.invoice_total = _amount(invoice.get("EnteredAmount"))
    check.balance = _amount(invoice.get("InvoiceBalanceAmount"))
    own = f"{check.invoice_number}-"

    for debit in documents.numbered(invoices.PATH, own):
        check.debit_memos.append(str(debit["TransactionNumber"]))
        check.debits += _amount(debit.get("EnteredAmount"))
        check.balance += _amount(debit.get("InvoiceBalanceAmount"))

    memos = documents.numbered(credit_memos.PATH, own)
    for memo in memos:
        check.credit_memos.append(str(memo["TransactionNumber"]))
        check.credits -= _amount(memo.get("EnteredAmount"))  # Fusion books credits negative
        check.on_account -= _amount(memo.get("TransactionBalanceDue"))  # a memo against a document has none
    gave_beyond_lines = False
    for refund in order.get("refunds") or []:
        # The refund flow puts the refund's GID in CustomerReference; a cancellation's memo
        # (if its flow makes one) has a reference of its own and is counted in credits only.
        mine = [m["TransactionNumber"] for m in memos if m.get("CustomerReference") == refund["admin_graphql_api_id"]]
        check.refund_memos[refund["admin_graphql_api_id"]] = mine
        # A refund that reaches into debit memos has one memo per document: <stem>, <stem>B, …
        stems = len(refund_memo_stems(mine))
        if stems > 1 or (stems == 0 and needs_memo(refund, gave_beyond_lines)):
            check.miscounted.append(f"refund {refund['id']} has {len(mine)} credit memos{_listed(mine)}")
        gave_beyond_lines |= any(d.gross < 0 for d in discrepancies(refund))

    for tx in payments(transactions):
        number = (pushed or {}).get(str(tx["id"])) or f"{prefix}-T{tx['id']}"
        check.expected_receipts.append(number)
        exact = documents.receipts(number)
        if len(exact) != 1:
            check.miscounted.append(f"payment {tx['id']} ({shop_amount(tx, 'amount')}) has {len(exact)} receipts "
                                    f"{number}")
        for receipt in exact:
            check.receipt_numbers.append(number)
            check.receipts += _amount(receipt.get("Amount"))
            check.unapplied += _amount(receipt.get("UnappliedAmount"))
    check.debit_memos.sort(key=lambda n: (len(n), n))  # -C2 before -C10
    check.credit_memos.sort(key=lambda n: (len(n), n))
    return check


def needs_memo(refund: dict, after_money_given_beyond_lines: bool) -> bool:
    """Whether a refund must have its credit memo: one that gave money back always; one that
    returned goods too, unless an earlier refund of the order gave money beyond its lines, which
    may have credited those goods already (then Shopify keeps that money back from the return,
    and the return needs no document of its own)."""
    if refund_cash(refund) > 0:
        return True
    returned = any(not _worthless(item) for item in refund.get("refund_line_items") or []) \
        or bool(refund.get("refund_shipping_lines"))
    return returned and not after_money_given_beyond_lines


def _worthless(item: dict) -> bool:
    """A returned line that Shopify says was worth nothing (discounted to zero, no tax): it credits
    nothing, and the connector books no memo for it. A line without its amounts is not assumed so."""
    return all(item.get(f"{key}_set") and not shop_amount(item, key) for key in ("subtotal", "total_tax"))


def refund_memo_stems(numbers: list[str]) -> set[str]:
    """The distinct refund memos among ``numbers``: ``…-C1`` and its parts ``…-C1B``, ``…-C1C`` count once."""
    return {n.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for n in numbers}


def _listed(numbers: list[str]) -> str:
    return f" ({', '.join(numbers)})" if numbers else ""


# -- the pipeline's own verdict -----------------------------------------------------------------

def unfinished_events(session, domain: str) -> dict[int, list[Unfinished]]:
    """Per order id, its webhook events that are not done, grouped by state and reason.

    Refund events name their order in the body; every other order topic is the order itself.
    Identical reasons (an orders/updated and the orders/paid of the same action) appear once.
    """
    from sqlalchemy import select

    from connector import flows
    from connector.models import BindingKind, InboxEvent, InboxState, Shop

    rows = session.execute(select(InboxEvent.topic, InboxEvent.state, InboxEvent.last_error, InboxEvent.body,
                                  InboxEvent.resource_id)
                           .join(Shop, Shop.id == InboxEvent.shop_id)
                           .where(Shop.domain == domain,
                                  InboxEvent.state.in_([InboxState(s) for s in UNFINISHED]))
                           .order_by(InboxEvent.id)).all()
    found: dict[int, dict[tuple, list[str]]] = {}
    for topic, state, last_error, body, resource_id in rows:
        kind = flows.kind_of(topic)
        if kind == BindingKind.refund.value:
            if not body:  # erased (retention, a privacy request): its order is not known any more
                continue
            order_id = json.loads(body).get("order_id")
        elif kind == BindingKind.order.value:
            order_id = resource_id
        else:
            continue
        reason = last_error or ("not processed yet" if state == InboxState.received else "no reason recorded")
        verdict = "still waiting" if state == InboxState.received else state.value
        topics = found.setdefault(int(order_id), {}).setdefault((verdict, reason), [])
        if topic not in topics:
            topics.append(topic)
    return {order_id: [Unfinished(tuple(topics), verdict, reason) for (verdict, reason), topics in reasons.items()]
            for order_id, reasons in found.items()}
