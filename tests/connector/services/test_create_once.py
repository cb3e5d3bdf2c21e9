"""The create-once protocol on its own: real PostgreSQL/SQLite and Redis, a fake document type.

The fake keeps "Fusion" in memory so that each test can say exactly what Fusion did: answer,
lose the answer after committing, refuse, or hold two documents for one key.
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from connector.db import get_sessionmaker
from connector.fair_share import FusionYielded
from connector.fusion.errors import FusionRejected, FusionUnavailable, FusionUncertain
from connector.locks import Busy
from connector.mapping.invoice import MappingError
from connector.models import AuditEvent, Binding, BindingKind, BindingState, Shop
from connector.services import create_once

LEASE = create_once.Lease(lock_seconds=5, create_seconds=1)


@dataclass
class FakeFusion:
    """Documents by key, and every create that reached it."""

    documents: dict[str, list[dict]] = field(default_factory=dict)
    creates: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str) -> dict:
        with self.lock:
            self.creates.append(key)
            document = {"Id": f"F{len(self.creates)}", "Number": f"N-{key}"}
            self.documents.setdefault(key, []).append(document)
            return document


@dataclass
class Memo(create_once.Document):
    """A fake document type: ``behaviour`` says what its create does."""

    kind = BindingKind.refund
    label = "memo"

    fusion: FakeFusion
    shopify_id: str
    behaviour: str = "ok"          # ok | slow | lost | unavailable | yielded | rejected | unmappable
    updated_at: str | None = None
    amount: str = ""               # what this attempt computed (its plan)

    @property
    def gid(self) -> str:
        return f"gid://shopify/Refund/{self.shopify_id}"

    def find(self) -> dict | None:
        return create_once.only_one(self.fusion.documents.get(self.gid, []), "memo", self.gid, "Number")

    def create(self) -> dict:
        if self.behaviour == "unavailable":
            raise FusionUnavailable("HTTP 503")
        if self.behaviour == "yielded":
            raise FusionYielded("over its share while another shop waits", 1.0)
        if self.behaviour == "rejected":
            raise FusionRejected("the memo line has no account")
        if self.behaviour == "unmappable":
            raise MappingError("the customer has no address for a BILL_TO site")
        if self.behaviour == "slow":
            time.sleep(0.5)
        document = self.fusion.add(self.gid)
        if self.behaviour == "lost":
            raise FusionUncertain("POST memos: no answer within 3s")
        return document

    def plan(self) -> dict:
        return {"amount": self.amount} if self.amount else {}

    def bind(self, session, binding, document) -> dict:
        binding.fusion_id = document["Id"]
        binding.fusion_number = document["Number"]
        binding.fusion_refs = {"amount": ((binding.fusion_refs or {}).get("plan") or self.plan()).get("amount")}
        return {"number": document["Number"]}


@pytest.fixture
def sessions(migrated):
    return get_sessionmaker(migrated)


@pytest.fixture
def shop_id(sessions):
    with sessions() as session:
        shop = Shop(domain=f"once-{uuid.uuid4().hex[:8]}.myshopify.com", client_id="app",
                    transaction_prefix=uuid.uuid4().hex[:8].upper())
        session.add(shop)
        session.commit()
        return shop.id


def ensure(sessions, redis_client, shop_id, memo):
    with sessions() as session:
        return create_once.ensure(redis_client, session, shop_id, memo, LEASE)


def binding(sessions, shop_id, shopify_id) -> Binding:
    with sessions() as session:
        return session.scalar(select(Binding).where(Binding.shop_id == shop_id, Binding.shopify_id == shopify_id))


def audit_actions(sessions, shop_id) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(AuditEvent.action).where(AuditEvent.shop_id == shop_id)
                                    .order_by(AuditEvent.id)))


def test_given_nothing_in_fusion_when_ensured_twice_then_created_once_and_bound(sessions, redis_client, shop_id):
    fusion = FakeFusion()

    first = ensure(sessions, redis_client, shop_id, Memo(fusion, "1"))
    again = ensure(sessions, redis_client, shop_id, Memo(fusion, "1"))

    assert (first.status, again.status) == (create_once.Status.created, create_once.Status.existing)
    assert fusion.creates == ["gid://shopify/Refund/1"]
    bound = binding(sessions, shop_id, "1")
    assert (bound.state, bound.fusion_id, bound.fusion_number, bound.claimed_until) == \
        (BindingState.synced, "F1", "N-gid://shopify/Refund/1", None)
    assert audit_actions(sessions, shop_id) == ["memo.created"]


def test_given_two_claimants_racing_then_one_create_and_both_see_the_same_document(sessions, redis_client, shop_id):
    fusion = FakeFusion()
    results, errors = [], []

    def claimant():
        try:
            results.append(ensure(sessions, redis_client, shop_id, Memo(fusion, "2", behaviour="slow")))
        except Busy as exc:  # the loser may be told to come back; it must never post
            errors.append(exc)

    threads = [threading.Thread(target=claimant) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert fusion.creates == ["gid://shopify/Refund/2"]
    assert sorted(r.status.value for r in results) + ["busy"] * len(errors) in (
        ["created", "existing"], ["busy", "created"])
    assert binding(sessions, shop_id, "2").fusion_id == "F1"


def test_given_a_lost_response_then_the_claim_holds_until_its_lease_ends_and_the_document_is_adopted(
        sessions, redis_client, shop_id):
    fusion = FakeFusion()

    with pytest.raises(FusionUncertain):
        ensure(sessions, redis_client, shop_id, Memo(fusion, "3", behaviour="lost"))
    assert binding(sessions, shop_id, "3").state == BindingState.creating

    with pytest.raises(Busy) as waiting:  # Fusion may still be committing: nobody posts meanwhile
        ensure(sessions, redis_client, shop_id, Memo(fusion, "3"))
    assert 0 < waiting.value.retry_after <= LEASE.create_seconds

    time.sleep(LEASE.create_seconds + 0.1)
    outcome = ensure(sessions, redis_client, shop_id, Memo(fusion, "3"))

    assert outcome.status == create_once.Status.adopted
    assert fusion.creates == ["gid://shopify/Refund/3"]
    assert binding(sessions, shop_id, "3").state == BindingState.synced
    assert audit_actions(sessions, shop_id) == ["memo.adopted"]


def test_given_the_answer_was_lost_when_a_later_attempt_computes_otherwise_then_what_was_posted_is_bound(
        sessions, redis_client, shop_id):
    fusion = FakeFusion()
    with pytest.raises(FusionUncertain):  # posted 10.00, then the answer was lost
        ensure(sessions, redis_client, shop_id, Memo(fusion, "9", behaviour="lost", amount="10.00"))
    time.sleep(LEASE.create_seconds + 0.1)

    outcome = ensure(sessions, redis_client, shop_id, Memo(fusion, "9", amount="12.00"))  # the order changed since

    assert outcome.status == create_once.Status.adopted
    assert binding(sessions, shop_id, "9").fusion_refs == {"amount": "10.00"}


def test_given_fusion_unavailable_then_the_claim_is_given_back_at_once(sessions, redis_client, shop_id):
    fusion = FakeFusion()

    with pytest.raises(FusionUnavailable):
        ensure(sessions, redis_client, shop_id, Memo(fusion, "4", behaviour="unavailable"))
    outcome = ensure(sessions, redis_client, shop_id, Memo(fusion, "4"))  # no wait for a lease

    assert outcome.status == create_once.Status.created
    assert fusion.creates == ["gid://shopify/Refund/4"]


def test_given_the_shop_yielded_its_turn_then_the_claim_is_given_back_at_once(sessions, redis_client, shop_id):
    fusion = FakeFusion()

    with pytest.raises(FusionYielded):
        ensure(sessions, redis_client, shop_id, Memo(fusion, "14", behaviour="yielded"))
    outcome = ensure(sessions, redis_client, shop_id, Memo(fusion, "14"))  # the request was never sent: no lease

    assert outcome.status == create_once.Status.created
    assert fusion.creates == ["gid://shopify/Refund/14"]


def test_given_a_rejection_then_parked_with_fusions_message(sessions, redis_client, shop_id):
    with pytest.raises(FusionRejected):
        ensure(sessions, redis_client, shop_id, Memo(FakeFusion(), "5", behaviour="rejected"))

    parked = binding(sessions, shop_id, "5")
    assert (parked.state, parked.claimed_until) == (BindingState.parked, None)
    assert "the memo line has no account" in parked.last_error


def test_given_a_rejection_because_an_earlier_create_landed_then_adopted(sessions, redis_client, shop_id):
    fusion = FakeFusion()
    fusion.add("gid://shopify/Refund/6")  # an earlier attempt's create, whose answer was lost
    with sessions() as session:  # …and that attempt's claim, long expired
        session.add(Binding(shop_id=shop_id, kind=BindingKind.refund, shopify_id="6", state=BindingState.pending))
        session.commit()

    outcome = ensure(sessions, redis_client, shop_id, Memo(fusion, "6", behaviour="rejected"))

    assert outcome.status == create_once.Status.adopted
    assert binding(sessions, shop_id, "6").fusion_id == "F1"


def test_given_two_documents_for_one_key_then_refused_and_never_posted_again(sessions, redis_client, shop_id):
    fusion = FakeFusion()
    fusion.add("gid://shopify/Refund/7")
    fusion.add("gid://shopify/Refund/7")

    with pytest.raises(create_once.Ambiguous, match="2 memos for gid://shopify/Refund/7: N-.*, N-"):
        ensure(sessions, redis_client, shop_id, Memo(fusion, "7", behaviour="rejected"))

    # Fusion holds documents for it: the binding is not reset to post again; a person decides
    assert binding(sessions, shop_id, "7").state == BindingState.creating
    assert len(fusion.creates) == 2


def test_given_unmappable_data_then_the_claim_is_given_back_at_once(sessions, redis_client, shop_id):
    fusion = FakeFusion()

    with pytest.raises(MappingError):
        ensure(sessions, redis_client, shop_id, Memo(fusion, "9", behaviour="unmappable"))
    outcome = ensure(sessions, redis_client, shop_id, Memo(fusion, "9"))  # after the fix: no lease to wait out

    assert outcome.status == create_once.Status.created


def test_given_an_older_version_of_the_object_then_nothing_is_done(sessions, redis_client, shop_id):
    fusion = FakeFusion()
    ensure(sessions, redis_client, shop_id, Memo(fusion, "8", updated_at="2026-01-02T00:00:00Z"))
    with sessions() as session:  # a version that is not synced yet, as after a park
        session.get(Binding, binding(sessions, shop_id, "8").id).state = BindingState.parked
        session.commit()

    outcome = ensure(sessions, redis_client, shop_id, Memo(fusion, "8", updated_at="2026-01-01T00:00:00Z"))

    assert outcome.status == create_once.Status.stale
    assert len(fusion.creates) == 1


def test_given_an_object_its_flow_skipped_then_nothing_is_created(sessions, redis_client, shop_id):
    fusion = FakeFusion()
    with sessions() as session:  # e.g. an order cancelled before it was invoiced
        session.add(Binding(shop_id=shop_id, kind=BindingKind.refund, shopify_id="10", state=BindingState.skipped))
        session.commit()

    outcome = ensure(sessions, redis_client, shop_id, Memo(fusion, "10"))

    assert outcome.status == create_once.Status.skipped
    assert fusion.creates == []
