"""Property: whatever a merchant does to an order, Fusion's documents follow Shopify to the cent.

Hypothesis generates one order (with a tip, a duty on its first line or an additional fee now
and then) and a sequence of merchant actions on
it (payments, refunds with and without a restocking fee kept back or duties and fees given back,
amount-only refunds, edits, a cancellation) in a tax-exclusive and a tax-inclusive shop, in dollars and in yen (a currency without decimals:
prices, payments and fees in whole yen). Each sequence runs through the real stack (receiver,
Celery workers, both sandboxes over HTTP) in a shop of its own; once the pipeline is quiet,
Fusion's state read over REST must hold, to the cent (to the yen):

1. invoice + debit memos − credit memos = Shopify's ``current_total_price`` plus its refund
   discrepancies (what refunds kept back, less what they gave beyond their lines);
2. the open balance of the invoice and its debit memos = Shopify's ``total_outstanding`` (when
   that is negative, after an edit lowered a paid order, the open balance is nothing and the
   difference is cash unapplied on the order's receipts and credit on account, which must
   otherwise be nothing);
3. one invoice per order, one credit memo per refund, one receipt per successful sale or capture.

An order cancelled before the connector first saw it gets no invoice by design (an
``invoice.skipped`` audit row): then Shopify must show nothing owed either way.

Run with ``-s`` to see each sequence and the count at the end, and with ``PROPERTY_EXAMPLES=N``
for N generated sequences per shop (currency and tax mode); ``-k yen`` runs the yen shops alone.
"""
from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

import pytest
import requests
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import note as hypothesis_note
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from sandbox.currencies import unit
from tests.support import TestShop

pytestmark = pytest.mark.long_running  # scheduled first (tests/conftest.py)

#: Action kinds the connector does not book yet (their events stay ``deferred`` with a note):
#: they are not generated. Take a kind out of this set once its flow is in.
LATER_RELEASE = frozenset()

# Each example is a shop, an order and its events through real processes; explore further with
# e.g. PROPERTY_EXAMPLES=100 (the suite keeps to 6 to stay within its time budget).
EXAMPLES_PER_TAX_MODE = int(os.environ.get("PROPERTY_EXAMPLES", "6"))
MAX_ACTIONS = 4
RAN: Counter = Counter()


# -- what a merchant does -----------------------------------------------------------------------


@dataclass(frozen=True)
class Pay:
    """A sale (or, for an authorized order, a capture): ``share`` of what is outstanding, or all of it."""
    share: Decimal | None
    capture: bool = False
    settle: bool = True       # wait for the pipeline to be quiet before the next action


@dataclass(frozen=True)
class Refund:
    lines: tuple[tuple[int, int], ...]    # (line index, quantity)
    shipping: bool = False
    settle: bool = True
    fee: Decimal | None = None            # a restocking fee kept back (where something is paid)
    duty: str | None = None               # the first line's duty given back: FULL or PROPORTIONAL
    additional_fee: bool = False          # the order's additional fee given back


@dataclass(frozen=True)
class Goodwill:
    """An amount-only refund: ``share`` of what the customer has paid goes back, nothing is returned."""
    share: Decimal
    settle: bool = True


@dataclass(frozen=True)
class Edit:
    line: int
    quantity: int
    settle: bool = True


@dataclass(frozen=True)
class Cancel:
    settle: bool = True


@dataclass(frozen=True)
class Scenario:
    status: str                           # paid, pending or authorized when placed
    prices: tuple[str, ...]               # one line item per price
    quantities: tuple[int, ...]
    tax_rate: str
    shipping: str | None
    discount: str | None                  # a percentage across the lines
    actions: tuple
    settle_first: bool = True             # wait for the invoice before the first action
    currency: str = "USD"                 # the shop's; every amount above is in it
    tip: str | None = None                # given back only by a cancellation
    duty: str | None = None               # on the first line, taxed as the lines are
    additional_fee: str | None = None     # on the order, untaxed

    def order(self) -> dict:
        email = f"prop-{uuid.uuid4().hex[:10]}@example.com"
        tax = [{"title": "Tax", "rate": self.tax_rate}]
        order = {
            "email": email, "financial_status": self.status,
            "line_items": [{"sku": f"SKU-{i}", "title": f"Item {i}", "quantity": q, "price": p, "tax_lines": tax}
                           for i, (p, q) in enumerate(zip(self.prices, self.quantities))],
            "shipping_lines": [{"title": "Standard", "code": "STANDARD", "price": self.shipping, "tax_lines": tax}]
            if self.shipping else [],
            "billing_address": {"first_name": "Ana", "last_name": "Silva", "address1": "1 Main St", "city": "Austin",
                                "province_code": "TX", "country_code": "US", "zip": "78701"},
            "customer": {"email": email, "first_name": "Ana", "last_name": "Silva"},
        }
        if self.tip:
            order["total_tip_received"] = self.tip
        if self.duty:
            order["line_items"][0]["duties"] = [{"price": self.duty, "harmonized_system_code": "610910",
                                                 "country_code_of_origin": "CN", "tax_lines": tax}]
        if self.additional_fee:
            order["additional_fees"] = [{"name": "Import handling", "price": self.additional_fee}]
        if self.discount:
            order["discount_codes"] = [{"code": "PROP", "type": "percentage"}]
            order["discount_applications"] = [{
                "type": "discount_code", "code": "PROP", "value": self.discount, "value_type": "percentage",
                "allocation_method": "across", "target_selection": "all", "target_type": "line_item"}]
        return order


def units(currency: str, *counts: int | None) -> list[str | None]:
    """Amounts of ``currency`` counted in its smallest unit: 595 is "5.95" dollars, "595" yen."""
    return [None if n is None else str(n * unit(currency)) for n in counts]


@st.composite
def scenarios(draw, currency: str = "USD", later: frozenset = LATER_RELEASE) -> Scenario:
    """An order and only actions the Shopify sandbox accepts on it: what is refunded is still there,
    no edit after a refund, nothing after the cancellation (which refunds all that is left).
    Prices are 100 to 9999 of the currency's smallest unit: 1.00 to 99.99 dollars, 100 to 9999 yen."""
    count = draw(st.integers(1, 3))
    quantities = draw(st.lists(st.integers(1, 3), min_size=count, max_size=count))
    shipping = draw(st.sampled_from(units(currency, None, 600, 595, 499)))
    status = draw(st.sampled_from(["paid", "pending", "authorized"]))
    current, refunded, shipping_left, any_refund = list(quantities), [0] * count, bool(shipping), False
    paid_in_full = status == "paid"   # refunds never raise what is outstanding; an edit may
    settle = st.sampled_from([True, True, True, False])
    settle_first = draw(settle)
    actions = []
    for _ in range(draw(st.integers(1, MAX_ACTIONS))):
        left = [i for i in range(count) if current[i] > refunded[i]]
        kinds = (["pay"] if not paid_in_full else []) + (["refund"] if left or shipping_left else []) + \
            (["edit"] if not any_refund else []) + ["goodwill", "cancel"]
        kind = draw(st.sampled_from([k for k in kinds if k not in later]))
        if kind == "pay":
            share = draw(st.one_of(st.none(), st.integers(1, 9).map(lambda tenths: tenths * Decimal("0.1"))))
            paid_in_full = share is None
            actions.append(Pay(share, capture=status == "authorized" and draw(st.booleans()), settle=draw(settle)))
        elif kind == "refund":
            with_shipping = shipping_left and (not left or draw(st.booleans()))
            chosen = draw(st.lists(st.sampled_from(left), unique=True, min_size=0 if with_shipping else 1,
                                   max_size=len(left))) if left else []
            lines = tuple((i, draw(st.integers(1, current[i] - refunded[i]))) for i in chosen)
            for i, q in lines:
                refunded[i] += q
            shipping_left, any_refund = shipping_left and not with_shipping, True
            fee = draw(st.sampled_from([None if n is None else Decimal(n) for n in units(currency, None, None, 50, 125)]))
            actions.append(Refund(lines, with_shipping, settle=draw(settle), fee=fee,
                                  duty=draw(st.sampled_from([None, None, "FULL", "PROPORTIONAL"])),
                                  additional_fee=draw(st.booleans())))
        elif kind == "goodwill":
            any_refund = True
            actions.append(Goodwill(draw(st.integers(1, 5).map(lambda tenths: tenths * Decimal("0.1"))),
                                    settle=draw(settle)))
        elif kind == "edit":
            line = draw(st.integers(0, count - 1))
            quantity = draw(st.sampled_from([q for q in range(1, 5) if q != current[line]]))
            current[line], paid_in_full = quantity, False
            actions.append(Edit(line, quantity, settle=draw(settle)))
        else:
            actions.append(Cancel(settle=draw(settle)))
            break
    prices = st.integers(100, 9999).map(lambda n: units(currency, n)[0])
    return Scenario(status, tuple(draw(prices) for _ in range(count)), tuple(quantities),
                    draw(st.sampled_from(["0.08", "0.0725", "0.19", "0.2"])), shipping,
                    draw(st.sampled_from([None, "10.0", "15.0"])), tuple(actions), settle_first=settle_first,
                    currency=currency, tip=draw(st.sampled_from(units(currency, None, None, None, 300))),
                    duty=draw(st.sampled_from(units(currency, None, None, 250, 1337))),
                    additional_fee=draw(st.sampled_from(units(currency, None, None, 200))))


# -- running a sequence -------------------------------------------------------------------------


class Skipped(Exception):
    """The Shopify sandbox refused an action (422): nothing happened, the sequence goes on."""


def merchant(shop: TestShop, method: str, path: str, body: dict) -> dict:
    response = requests.request(method, f"{shop.stack.urls['shopify_sandbox']}/_sandbox/shops/{shop.domain}/{path}",
                                json=body, timeout=10)
    if response.status_code == 422:
        raise Skipped(response.text)
    assert response.status_code in (200, 201), response.text
    return response.json()


def perform(shop: TestShop, order: dict, action) -> str:
    """Do one action; what was done, for the log. Amounts are in whole units of the order's
    currency (cents, yen)."""
    now = shop.order(order["id"])
    smallest = unit(order["currency"])
    if isinstance(action, Pay):
        outstanding = Decimal(now["total_outstanding"])
        if outstanding <= 0:
            raise Skipped("nothing outstanding")
        amount = outstanding if action.share is None else \
            max(smallest, (outstanding * action.share).quantize(smallest, rounding=ROUND_DOWN))
        body = {"kind": "sale", "amount": str(amount)}
        authorization = next((t for t in shop.transactions(order) if t["kind"] == "authorization"), None)
        if action.capture and authorization:
            captured = sum((Decimal(t["amount_set"]["shop_money"]["amount"]) for t in shop.transactions(order)
                            if t["kind"] == "capture" and t["status"] == "success"), Decimal(0))
            if captured + amount <= Decimal(authorization["amount_set"]["shop_money"]["amount"]):
                body = {"kind": "capture", "amount": str(amount), "parent_id": authorization["id"]}
        merchant(shop, "POST", f"orders/{order['id']}/transactions", body)
        return f"{body['kind']} {amount}"
    if isinstance(action, Refund):
        lines = now["line_items"]
        body = {"refund_line_items": [{"line_item_id": lines[i]["id"], "quantity": q, "restock_type": "return"}
                                      for i, q in action.lines]}
        if action.shipping:
            body["shipping"] = {"full_refund": True}
        charges = {}
        if action.duty and lines[0].get("duties"):
            charges["refund_duties"] = [{"duty_id": lines[0]["duties"][0]["id"], "refund_type": action.duty}]
        if action.additional_fee and now.get("additional_fees"):
            charges["refund_additional_fees"] = [{"additional_fee_id": now["additional_fees"][0]["id"]}]
        fee = {"restocking_fee": str(action.fee)} if action.fee else {}
        # The sandbox refuses a fee beyond the money, and duties or fees with nothing left of them
        # (or none for the units returned): each is dropped in turn until the refund is accepted.
        attempts = [(charges, fee), (charges, {}), ({}, fee), ({}, {})]
        for n, (given, kept_fee) in enumerate(attempts):
            if (given, kept_fee) in attempts[:n]:
                continue
            try:
                refund = merchant(shop, "POST", f"orders/{order['id']}/refunds", dict(body, **given, **kept_fee))
                break
            except Skipped:
                if not given and not kept_fee:
                    raise
        kept = f", {action.fee} fee kept" if kept_fee else ""
        kept += "".join(f", {k} {given[k][0].get('refund_type', '')}".rstrip() for k in given)
        back = sum((Decimal(t["amount"]) for t in refund["transactions"]), Decimal(0))
        return f"refund {list(action.lines)}{' +shipping' if action.shipping else ''} ({back} back{kept})"
    if isinstance(action, Goodwill):
        paid = sum((Decimal(t["amount_set"]["shop_money"]["amount"]) * (1 if t["kind"] in ("sale", "capture") else -1)
                    for t in shop.transactions(order)
                    if t["status"] == "success" and t["kind"] in ("sale", "capture", "refund")), Decimal(0))
        amount = (paid * action.share).quantize(smallest, rounding=ROUND_DOWN)
        if amount <= 0:
            raise Skipped("nothing paid to give back")
        merchant(shop, "POST", f"orders/{order['id']}/refunds", {"transactions": [{"amount": str(amount)}]})
        return f"goodwill {amount}"
    if isinstance(action, Edit):
        quantities = [li["quantity"] for li in now["line_items"]]
        quantities[action.line] = action.quantity
        merchant(shop, "PUT", f"orders/{order['id']}", {"line_items": [
            {"id": li["id"], "quantity": q} for li, q in zip(now["line_items"], quantities)]})
        return f"edit line {action.line} to {action.quantity}"
    merchant(shop, "POST", f"orders/{order['id']}/cancel", {"reason": "customer"})
    return "cancel"


def event(value: str) -> None:
    if currently_in_test_context():
        hypothesis_event(value)


def note(value: str) -> None:
    if currently_in_test_context():
        hypothesis_note(value)


def run(stack, scenario: Scenario, taxes_included: bool) -> None:
    started = time.monotonic()
    shop = TestShop.create(stack, prefix=("P" + uuid.uuid4().hex[:7]).upper(), taxes_included=taxes_included,
                           currency=scenario.currency)
    order = shop.place_order(scenario.order())
    note(f"shop {shop.domain}, order {order['id']} placed {scenario.status} for {order['total_price']}")
    log = [f"{'tax-incl' if taxes_included else 'tax-excl'} {shop.prefix}: {scenario.status} "
           f"{order['total_price']} {order['currency']}"]
    try:
        if scenario.settle_first:
            assert shop.quiet(), "the pipeline did not become quiet"
        for action in scenario.actions:
            try:
                log.append(perform(shop, order, action))
                event(f"action: {type(action).__name__.lower()}")
            except Skipped as refused:
                log.append(f"({type(action).__name__.lower()} skipped: {refused})")
                event(f"skipped: {type(action).__name__.lower()}")
                continue
            if action.settle:
                assert shop.quiet(), "the pipeline did not become quiet"
        assert shop.quiet(timeout=120), "the pipeline did not become quiet"
        now = shop.order(order["id"])
        log.append(f"→ current {now['current_total_price']}, outstanding {now['total_outstanding']}")
        # (a customer without an address is deferred by design: it is created from the order's)
        unfinished = [f"{e.topic} {e.state.value}" + (f" ({e.last_error[:160]})" if e.last_error else "")
                      for e in shop.inbox() if e.state.value != "done" and not e.topic.startswith("customers/")]
        if unfinished:
            log.append(f"events not done: {'; '.join(unfinished)}")
        wrong = violations(shop, order)
    except AssertionError as failure:
        wrong = {"pipeline": str(failure).splitlines()[0]}
        log.append("inbox:\n" + inbox_report(shop))
    RAN["failed" if wrong else "held"] += 1
    print(f"[{'FAIL' if wrong else 'ok'} {time.monotonic() - started:4.1f}s] {' | '.join(log)}" + (f"\n       {wrong}" if wrong else ""))
    note(" | ".join(log))
    assert not wrong, f"(Fusion, Shopify) differ: {wrong}\n{' | '.join(log)}\n{inbox_report(shop)}"


def violations(shop: TestShop, order: dict) -> dict:
    """Each invariant that does not hold, as name: (Fusion, Shopify).

    Invariant 2 is read in two parts, because no Fusion balance goes below zero: what is owed is
    the open balance of the invoice and its debit memos, and what the customer is owed (Shopify's
    negative ``total_outstanding``, after an edit lowered a paid order) is cash left unapplied on
    the order's receipts plus credit left open on its memos (a refund beyond every charge, on
    account), which must otherwise be nothing.
    """
    skipped = any(a.subject_id == str(order["id"]) for a in shop.audit("invoice.skipped"))
    if skipped and not shop.fusion_invoices(order):
        # Cancelled before the connector first saw it: no invoice by design (docs/accounting.md),
        # so Shopify must show nothing owed either way.
        now = shop.order(order["id"])
        totals = (Decimal(now["current_total_price"]), Decimal(now["total_outstanding"]))
        return {} if totals == (0, 0) else {"skipped order's totals": ((Decimal(0), Decimal(0)), totals)}
    if skipped:  # the audit trail contradicts Fusion; the invariants below still decide
        event("invoice.skipped audited, yet invoiced")
        print(f"  note: {shop.prefix} has an invoice.skipped audit row and an invoice in Fusion")
    wrong = {name: pair for name, pair in shop.document_counts(order).items() if pair[0] != pair[1]}
    if "invoices" in wrong:
        return wrong
    figures = shop.money_invariants(order)
    balance, outstanding = figures["balance"]
    unapplied = sum((Decimal(str(r["UnappliedAmount"])) for r in shop.fusion_receipts(order)), Decimal(0))
    on_account = -sum((Decimal(str(m["TransactionBalanceDue"])) for m in shop.fusion_credit_memos(order)), Decimal(0))
    pairs = {"documents": figures["documents"], "open balance": (balance, max(outstanding, Decimal(0))),
             "owed back": (unapplied + on_account, max(-outstanding, Decimal(0)))}
    return wrong | {name: pair for name, pair in pairs.items() if pair[0] != pair[1]}


def inbox_report(shop: TestShop) -> str:
    waits = shop.last_attempt_errors()
    return "\n".join(f"  {e.topic:16} {e.state.value:9} {e.last_error or waits.get(e.id) or ''}"[:400]
                     for e in shop.inbox())


@pytest.fixture(scope="module", autouse=True)
def count_sequences():
    yield
    print(f"\nmoney properties: {sum(RAN.values())} sequences ran, {RAN['held']} held, {RAN['failed']} failed; "
          f"action kinds not generated (LATER_RELEASE): {sorted(LATER_RELEASE) or 'none'}")


SEQUENCES = settings(max_examples=EXAMPLES_PER_TAX_MODE, deadline=None, database=None, print_blob=True,
                     phases=[Phase.explicit, Phase.generate],   # no shrinking: every step would be a new shop
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.parametrize("taxes_included", [False, True], ids=["tax-exclusive", "tax-inclusive"])
@SEQUENCES
@given(scenario=scenarios())
@example(scenario=Scenario("paid", ("25.00", "12.00"), (2, 1), "0.08", "6.00", "10.0",
                           (Refund(((0, 1),), shipping=True),)))
@example(scenario=Scenario("pending", ("19.99",), (3,), "0.19", "4.99", None,
                           (Pay(Decimal("0.3")), Refund(((0, 2),), shipping=True), Pay(None))))
@example(scenario=Scenario("authorized", ("40.00", "7.50"), (1, 2), "0.0725", None, "15.0",
                           (Pay(Decimal("0.5"), capture=True), Refund(((1, 1),)), Pay(None, capture=True))))
@example(scenario=Scenario("paid", ("18.00", "9.99"), (2, 1), "0.2", "4.99", None,
                           (Goodwill(Decimal("0.2")), Refund(((0, 1),), fee=Decimal("1.25")), Cancel())))
# found by the property: in a VAT shop, goods returned after money was given beyond the lines
# (the earlier credit took from the invoice's net part only)
@example(scenario=Scenario("paid", ("99.98", "1.28"), (1, 1), "0.19", "6.00", "10.0",
                           (Goodwill(Decimal("0.1"), settle=False), Refund(((1, 1),), fee=Decimal("0.50")),
                            Refund(((0, 1),))), settle_first=False))
# found by the property: a cancellation's refund booked before the receipt of the capture just before it
@example(scenario=Scenario("authorized", ("4.30", "16.50", "36.00"), (3, 1, 3), "0.08", None, "10.0",
                           (Pay(Decimal("0.3"), capture=True), Pay(None, capture=True, settle=False), Cancel())))
@example(scenario=Scenario("paid", ("25.00", "12.00"), (2, 1), "0.08", "6.00", None,
                           (Refund(((0, 1),), duty="PROPORTIONAL", additional_fee=True), Cancel()),
                           duty="5.00", additional_fee="2.00"))
def test_fusion_follows_shopify_to_the_cent(stack, taxes_included, scenario):
    run(stack, scenario, taxes_included)


@pytest.mark.parametrize("taxes_included", [False, True], ids=["tax-exclusive", "tax-inclusive"])
@SEQUENCES
@given(scenario=scenarios(currency="JPY"))
@example(scenario=Scenario("paid", ("1234", "999"), (3, 1), "0.0725", "600", "10.0",
                           (Refund(((0, 1),), shipping=True),), currency="JPY"))
@example(scenario=Scenario("pending", ("1999",), (3,), "0.19", "499", None,
                           (Pay(Decimal("0.3")), Refund(((0, 2),), fee=Decimal("125")), Pay(None)), currency="JPY"))
# found by the property: a return that Shopify caps to nothing, its goods credited already by money
# given beyond earlier refunds' lines: no document, and nothing left waiting on it
@example(scenario=Scenario("paid", ("375", "2921"), (1, 2), "0.19", "600", None,
                           (Goodwill(Decimal("0.1")), Goodwill(Decimal("0.5"), settle=False),
                            Refund(((0, 1), (1, 2)), fee=Decimal("50")), Refund((), shipping=True, settle=False)),
                           currency="JPY"))
def test_fusion_follows_shopify_to_the_yen(stack, taxes_included, scenario):
    """A currency without decimals: taxes, discounts, refunds and payments in whole yen, and
    Fusion's documents and balances in step with Shopify's to the yen."""
    run(stack, scenario, taxes_included)


@pytest.mark.parametrize("taxes_included", [False, True], ids=["tax-exclusive", "tax-inclusive"])
def test_a_refund_after_an_edit_raised_the_order_is_booked(stack, taxes_included):
    """Found by the property above, and fixed: the refund's memo credited the invoice alone,
    beyond what it holds (the raise is on the debit memo), Fusion refused it (AR-855075) and the
    refund parked. Now split over both documents; kept as a regression example."""
    run(stack, Scenario("pending", ("3.60",), (2,), "0.08", None, None, (Edit(0, 3), Refund(((0, 3),)))),
        taxes_included)


def test_a_return_right_after_an_edit_raised_the_order_waits_for_the_edit(stack):
    """Found by the property: the goods an edit added, returned before the edit's debit memo was
    booked, credited more than the invoice holds and the refund parked. The refund now waits for
    the order's events Shopify fired before it."""
    run(stack, Scenario("pending", ("7.20",), (1,), "0.08", None, None,
                        (Edit(0, 4, settle=False), Refund(((0, 4),))), settle_first=True), False)


def test_a_return_after_an_edit_lowered_a_paid_order_and_money_was_given_beyond_the_lines_is_booked(stack):
    """Found by the property in the yen shops, and the same in dollars in both tax modes: a paid
    order is edited down (a credit memo, the cash left unapplied on the receipt), then money is
    given back with nothing returned (a memo against the invoice), then everything left is returned.
    Shopify gives the goods' full value back (the customer had paid more than the order now costs),
    so the return credits more than the invoice still holds by what the amount-only refund took,
    and there is no discrepancy on this refund to absorb it: the refund parked. Now what no
    document holds any more is an on-account credit memo (the merchant's debt beyond every charge),
    which Shopify's figures show too: a total below zero and the customer owed more than cash."""
    run(stack, Scenario("paid", ("10.30",), (3,), "0.19", "5.95", None,
                        (Edit(0, 2), Goodwill(Decimal("0.1")), Refund(((0, 2),), shipping=True))), False)


def test_money_given_beyond_the_lines_once_the_net_room_is_used_up_is_booked(stack):
    """Found by the property, and fixed: two goodwill amounts (credited from the invoice's net
    part, as Shopify puts no tax on them), then a return of a unit of each line with the shipping
    and the additional fee (its goods took the rest of the net part and, through absorb, some of
    the tax part), then a third goodwill amount. Only tax room was left, the net-only rule refused
    the credit and the refund parked, with Fusion holding 1.19 where Shopify said 0.72. Now money
    given beyond the lines takes the tax room once the net room is used up, and the cancellation
    after it reads what the documents hold as Fusion holds it (the goodwill's tax part included)."""
    run(stack, Scenario("paid", ("1.50", "16.97"), (1, 2), "0.19", "4.99", "10.0",
                        (Goodwill(Decimal("0.3")), Goodwill(Decimal("0.1")),
                         Refund(((0, 1), (1, 1)), shipping=True, additional_fee=True), Goodwill(Decimal("0.4")),
                         Cancel()), settle_first=False, additional_fee="2.00"), False)


@pytest.mark.parametrize("status", ["pending", "paid"])
def test_an_edit_down_after_an_edit_up_of_the_same_line_is_booked(stack, status):
    """Found by the property in the yen shops, and fixed: a line raised from 1 to 4 (a debit memo
    for 3), then lowered to 1 (a credit for 3). The credit went against the invoice alone, which
    holds 1, and Fusion refused it (AR-855075). Now split over the invoice and the debit memo, as
    a refund's is; paid, the receipts come off both documents first and back after."""
    run(stack, Scenario(status, ("30.00",), (1,), "0.08", None, None, (Edit(0, 4), Edit(0, 1))), False)


def test_a_paid_order_edited_down_and_cancelled_before_it_was_invoiced_is_booked(stack):
    """Found by the property, and fixed: a paid order is edited down (the customer overpaid) and
    cancelled before the connector first invoiced it. The cancellation refunds the goods, not the
    overpayment, so Shopify's outstanding stays negative; the order was skipped (no invoice for a
    cancelled order) and Fusion showed nothing of the money still owed. Now an order is skipped
    only when Shopify shows nothing either way."""
    run(stack, Scenario("paid", ("90.00", "30.00"), (2, 1), "0.08", "6.00", None,
                        (Edit(0, 1, settle=False), Cancel()), settle_first=False), False)
