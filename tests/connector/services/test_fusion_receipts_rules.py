"""The rules of pushing receipts entered in Fusion to Shopify: what each receipt does in Shopify,
which receipts are the connector's own, when a push is (re)opened, and which order payments wait
for a push in doubt (the echo rule). Money is Decimal, to the cent."""
from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from connector.fusion.changes import Change
from connector.models import AuditEvent, Binding, BindingKind, BindingState
from connector.services import fusion_receipts
from connector.services.fusion_receipts import MANUAL_PAYMENT, MARK_AS_PAID, decide
from connector.services.payments import echoes
from connector.services.setup import add_shop
from connector.shopify.manual_payments import OrderBalance
from connector.shopify.orders import Transaction
from connector.vault import Vault, generate_key


def order(outstanding: str, currency: str = "USD", cancelled: bool = False) -> OrderBalance:
    return OrderBalance(gid="gid://shopify/Order/1", financial_status="pending", cancelled=cancelled,
                        outstanding=Decimal(outstanding), currency=currency, transactions=())


def payment(tid: str, amount: str = "10.00") -> Transaction:
    return Transaction(id=tid, gid=f"gid://shopify/OrderTransaction/{tid}", kind="sale", status="success",
                       gateway="manual", amount=Decimal(amount), currency="USD",
                       processed_at="2026-12-01T00:00:00Z", parent_id=None)


# -- decide ---------------------------------------------------------------------------------------

def test_given_a_receipt_paying_exactly_the_outstanding_amount_then_shopify_marks_the_order_paid():
    decision = decide(Decimal("68.00"), "USD", order("68.00"), "manual_payment")
    assert (decision.mutation, decision.amount) == (MARK_AS_PAID, Decimal("68.00"))


def test_given_a_receipt_paying_part_then_a_manual_payment_of_that_part():
    decision = decide(Decimal("20.00"), "USD", order("68.00"), "manual_payment")
    assert (decision.mutation, decision.amount) == (MANUAL_PAYMENT, Decimal("20.00"))


def test_given_a_receipt_one_cent_short_then_it_is_a_partial_payment_not_a_mark_as_paid():
    decision = decide(Decimal("67.99"), "USD", order("68.00"), "manual_payment")
    assert (decision.mutation, decision.amount) == (MANUAL_PAYMENT, Decimal("67.99"))


def test_given_partial_payments_off_then_a_partial_receipt_pushes_nothing_and_says_why():
    decision = decide(Decimal("20.00"), "USD", order("68.00"), "off")
    assert decision.mutation == "" and "MLC_FUSION_RECEIPT_PARTIAL=off" in decision.reason
    # a full payment is still pushed
    assert decide(Decimal("68.00"), "USD", order("68.00"), "off").mutation == MARK_AS_PAID


@pytest.mark.parametrize("applied, currency, balance, words", [
    ("68.01", "USD", order("68.00"), "a person decides"),                # more than Shopify has outstanding
    ("68.00", "USD", order("0.00"), "nothing outstanding"),              # paid in Shopify meanwhile
    ("68.00", "EUR", order("68.00"), "in EUR"),                          # not the shop's money
    ("68.00", "USD", order("68.00", cancelled=True), "cancelled"),
    ("0.00", "USD", order("68.00"), "pays nothing"),                     # unapplied again
])
def test_given_a_receipt_shopify_cannot_take_as_it_is_then_nothing_is_pushed(applied, currency, balance, words):
    decision = decide(Decimal(applied), currency, balance, "manual_payment")
    assert decision.mutation == "" and decision.amount == 0 and words in decision.reason


# -- the connector's own receipts ------------------------------------------------------------------

def test_given_the_connectors_receipt_numbers_then_they_are_its_own_and_a_persons_are_not():
    prefixes = ["ACME", "EU1"]
    assert fusion_receipts.is_own_number("ACME-T1234", prefixes)
    assert fusion_receipts.is_own_number("EU1-T9", prefixes)
    assert not fusion_receipts.is_own_number("BANK-1234", prefixes)
    assert not fusion_receipts.is_own_number("ACME-T12x", prefixes)
    assert not fusion_receipts.is_own_number("XACME-T12", prefixes)
    assert not fusion_receipts.is_own_number("ACME-T12", [])


def test_given_a_receipt_as_the_poll_reads_it_then_what_it_applied_is_its_amount_less_unapplied():
    change = Change(id="1", number="BANK-1", status="APP", balance="0.01", stamp="2026-12-01T00:00:00.000+00:00",
                    details={"Amount": "68.00"})
    assert fusion_receipts.applied_to(change) == Decimal("67.99")
    assert fusion_receipts.applied_to(Change(id="1", number="B", status="", balance="", stamp="")) == 0


# -- the echo rule ---------------------------------------------------------------------------------

def test_given_no_push_in_doubt_then_no_payment_waits():
    assert echoes([payment("1"), payment("2")], [], set()) == []


def test_given_a_push_in_doubt_then_only_a_payment_it_did_not_see_and_nobody_bound_waits():
    plans = [{"before": ["1"], "amount": "10.00"}]
    seen_before, bound, new = payment("1"), payment("2"), payment("3")
    assert echoes([seen_before, bound, new], plans, bound={"2"}) == [new]


# -- opening pushes (real database) -----------------------------------------------------------------

@pytest.fixture
def shop(db_session):
    tag = uuid.uuid4().hex[:7]
    shop = add_shop(db_session, Vault([generate_key()]), domain=f"push-{tag}.myshopify.com", client_id="app",
                    client_secret="shpss_" + uuid.uuid4().hex, prefix="R" + tag.upper())
    db_session.commit()
    return shop


def change(stamp: str, receipt_id: str = "900001") -> Change:
    return Change(id=receipt_id, number="BANK-77", status="APP", balance="0", stamp=stamp,
                  details={"Amount": "68.00", "CustomerAccountNumber": "1001"})


def noticed(session, shop) -> int:
    return len(session.scalars(select(AuditEvent).where(AuditEvent.shop_id == shop.id,
                                                        AuditEvent.action == "fusion_receipt.noticed")).all())


def test_given_a_new_receipt_for_an_order_then_one_push_is_opened_and_due(db_session, shop):
    assert fusion_receipts._open(db_session, shop.id, "5001", "gid://shopify/Order/5001",
                                 change("2026-12-01T10:00:00.000+00:00")) == 1
    binding = db_session.scalar(select(Binding).where(Binding.shop_id == shop.id, Binding.kind == BindingKind.fusion_receipt))
    assert (binding.shopify_id, binding.state, binding.fusion_id, binding.fusion_number) == \
        ("5001:900001", BindingState.pending, "900001", "BANK-77")
    assert binding.id in fusion_receipts.due(db_session) and noticed(db_session, shop) == 1

    # when: the poll reads the same receipt again (its overlap window)
    assert fusion_receipts._open(db_session, shop.id, "5001", "gid://shopify/Order/5001",
                                 change("2026-12-01T10:00:00.000+00:00")) == 0
    assert noticed(db_session, shop) == 1


def test_given_a_skipped_push_then_only_a_later_change_of_its_receipt_opens_it_again(db_session, shop):
    fusion_receipts._open(db_session, shop.id, "5002", "", change("2026-12-01T10:00:00.000+00:00"))
    db_session.execute(Binding.__table__.update().where(Binding.shop_id == shop.id)
                       .values(state=BindingState.skipped, last_error="the receipt pays nothing"))
    db_session.commit()

    assert fusion_receipts._open(db_session, shop.id, "5002", "", change("2026-12-01T10:00:00.000+00:00")) == 0
    assert fusion_receipts._open(db_session, shop.id, "5002", "", change("2026-12-01T11:00:00.000+00:00")) == 1
    binding = db_session.scalar(select(Binding).where(Binding.shop_id == shop.id, Binding.kind == BindingKind.fusion_receipt))
    assert binding.state == BindingState.pending and binding.last_error == ""


def test_given_a_synced_push_then_no_change_of_its_receipt_opens_it_again(db_session, shop):
    fusion_receipts._open(db_session, shop.id, "5003", "", change("2026-12-01T10:00:00.000+00:00"))
    db_session.execute(Binding.__table__.update().where(Binding.shop_id == shop.id).values(state=BindingState.synced))
    db_session.commit()

    assert fusion_receipts._open(db_session, shop.id, "5003", "", change("2026-12-02T10:00:00.000+00:00")) == 0
    assert not [i for i in fusion_receipts.due(db_session)
                if db_session.get(Binding, i).shop_id == shop.id]


def test_given_receipts_the_connector_made_then_they_are_told_from_the_ones_a_push_bound(db_session, shop):
    own, pushed = change("2026-12-01T10:00:00.000+00:00", "700001"), change("2026-12-01T10:00:00.000+00:00", "700002")
    db_session.add_all([
        Binding(shop_id=shop.id, kind=BindingKind.payment, shopify_id="1", fusion_id="700001", fusion_number="X-T1",
                state=BindingState.synced, fusion_refs={}),
        Binding(shop_id=shop.id, kind=BindingKind.payment, shopify_id="2", fusion_id="700002", fusion_number="BANK-77",
                state=BindingState.synced, fusion_refs={"pushed_from": "fusion"})])
    db_session.commit()
    assert fusion_receipts._made_by_connector(db_session, [own, pushed]) == {"700001", "X-T1"}


def test_given_a_receipt_version_a_push_was_opened_at_then_reading_it_again_is_not_looked_at(db_session, shop):
    fusion_receipts._open(db_session, shop.id, "5004", "", change("2026-12-01T10:00:00.000+00:00", "800001"))
    considered = fusion_receipts._considered(db_session, [change("2026-12-01T10:00:00.000+00:00", "800001")])
    assert considered == {"800001": ["2026-12-01T10:00:00.000+00:00"]}
    assert fusion_receipts._considered(db_session, [change("2026-12-01T10:00:00.000+00:00", "800002")]) == {}
