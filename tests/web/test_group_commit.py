"""Deliveries that arrive while another commits are stored together, and each is answered as if
it had been stored alone: its own id, its own duplicate verdict, its own error, its own log fields
on its task."""
from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from datetime import datetime, timezone
from functools import partial

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from connector import logs
from connector.db import after_commit, session_scope
from connector.models import InboxEvent, Shop
from connector.services import inbox
from connector.services.setup import add_shop
from connector.services.shop_keys import WebhookKeys
from connector.shopify.webhooks import sign
from connector.vault import Vault, generate_key
from tests.support import eventually
from web import group_commit
from web.group_commit import GroupCommit

SECRET = "shpss_group_commit"


@pytest.fixture
def shop(migrated):
    """A shop committed for real: the group commit opens sessions of its own."""
    vault, domain = Vault([generate_key()]), f"group-{uuid.uuid4().hex[:8]}.myshopify.com"
    with session_scope(migrated) as session:
        add_shop(session, vault, domain=domain, client_id="app", client_secret=SECRET)
    return domain, WebhookKeys(vault, ttl_seconds=60)


def admitted(migrated, shop, number: int, *, event_id: str | None = None) -> inbox.Admitted:
    domain, keys = shop
    body = json.dumps({"id": number, "admin_graphql_api_id": f"gid://shopify/Order/{number}"}).encode()
    delivery = inbox.Delivery(shop_domain=domain, topic="orders/create", event_id=event_id or str(uuid.uuid4()),
                              webhook_id="wh", api_version="2026-01",
                              triggered_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                              signature=sign(SECRET, body), raw_body=body)
    return inbox.admit(partial(session_scope, migrated), keys, delivery)


class Sends:
    """The tasks the commits send: which commit sent each, and the log fields its message carries.
    The first commit is held until ``release`` is set, so that the others queue behind it."""

    def __init__(self):
        self.sent: list[tuple[int, dict]] = []
        self.release = threading.Event()

    def __call__(self, session, inbox_id, topic, shop_id):
        self.sent.append((id(session), logs.carried()))
        if len(self.sent) == 1:
            assert self.release.wait(30)
        return True


def store_together(writer: GroupCommit, sends: Sends, items: list[inbox.Admitted], shop) -> list:
    """The first item commits alone and is held there while the rest arrive; then all answer."""
    answers: list = [None] * len(items)

    def deliver(index: int) -> None:
        with logs.bind(event_id=items[index].row["event_id"]) as correlation:
            try:
                answers[index] = writer.store(items[index], shop[0], correlation)
            except Exception as exc:
                answers[index] = exc

    threads = [threading.Thread(target=deliver, args=(0,))]
    threads[0].start()
    assert eventually(lambda: len(sends.sent) == 1, timeout=10)
    for index in range(1, len(items)):
        threads.append(threading.Thread(target=deliver, args=(index,)))
        threads[-1].start()
    assert eventually(lambda: len(writer._waiting) == len(items) - 1, timeout=10)
    sends.release.set()
    for thread in threads:
        thread.join(30)
    return answers


def stored(migrated, domain: str) -> int:
    with session_scope(migrated) as session:
        return session.scalar(select(func.count()).select_from(InboxEvent).join(Shop)
                              .where(Shop.domain == domain))


def test_given_deliveries_arriving_during_a_commit_then_the_next_commit_stores_them_all(migrated, shop):
    sends = Sends()
    writer = GroupCommit(migrated, send=sends)
    items = [admitted(migrated, shop, n) for n in range(1, 7)]

    answers = store_together(writer, sends, items, shop)

    # then: every delivery has its own new row, answered to it
    assert all(a.created for a in answers) and len({a.inbox_id for a in answers}) == 6
    assert stored(migrated, shop[0]) == 6
    # the five that waited were committed together, by one commit that sent their five tasks
    commits = [session for session, _ in sends.sent]
    assert commits[0] != commits[1] and len(set(commits[1:])) == 1
    # and each task carries its own delivery's inbox id and event id, not the committer's
    carried = {fields["event_id"]: fields["inbox_id"] for _, fields in sends.sent}
    assert carried == {item.row["event_id"]: answer.inbox_id for item, answer in zip(items, answers)}


def test_given_the_same_delivery_twice_in_one_batch_then_one_is_stored_and_the_other_is_a_duplicate(migrated, shop):
    sends = Sends()
    writer = GroupCommit(migrated, send=sends)
    first = admitted(migrated, shop, 1)
    twice = admitted(migrated, shop, 2)
    same_body = admitted(migrated, shop, 2)  # Shopify's body again, under new headers

    answers = store_together(writer, sends, [first, twice, twice, same_body], shop)

    # (which of the three with one body is stored is the database's choice; one is, once)
    assert answers[0].created and [a.created for a in answers[1:]].count(True) == 1
    assert not (answers[1].created and answers[2].created) and stored(migrated, shop[0]) == 2
    assert [a.inbox_id for a in answers if not a.created] == [None, None]
    assert len(sends.sent) == 2  # one task per stored row


def test_given_a_row_the_database_refuses_then_only_its_delivery_fails(migrated, shop):
    sends = Sends()
    writer = GroupCommit(migrated, send=sends)
    good = [admitted(migrated, shop, n) for n in (1, 2, 3)]
    bad = admitted(migrated, shop, 4)
    bad = dataclasses.replace(bad, row={**bad.row, "shop_id": 10**9})  # a shop removed meanwhile

    answers = store_together(writer, sends, [good[0], good[1], bad, good[2]], shop)

    assert isinstance(answers[2], IntegrityError)
    assert all(answers[i].created for i in (0, 1, 3)) and stored(migrated, shop[0]) == 3


def test_given_a_slow_hand_off_then_the_batch_is_answered_before_it(migrated, shop):
    # given a commit whose tasks take long to leave (a slow Redis): its after-commit work blocks
    leaving = threading.Event()
    sends = Sends()

    def send(session, inbox_id, topic, shop_id):
        sends(session, inbox_id, topic, shop_id)
        after_commit(session, lambda: leaving.wait(30))
        return True

    writer = GroupCommit(migrated, send=send)
    items = [admitted(migrated, shop, n) for n in range(1, 5)]

    # when deliveries queue behind the first and are stored together
    answers: list = [None] * len(items)

    def deliver(index: int) -> None:
        with logs.bind() as correlation:
            answers[index] = writer.store(items[index], shop[0], correlation)

    threads = [threading.Thread(target=deliver, args=(0,))]
    threads[0].start()
    assert eventually(lambda: len(sends.sent) == 1, timeout=10)
    threads += [threading.Thread(target=deliver, args=(i,)) for i in range(1, 4)]
    for thread in threads[1:]:
        thread.start()
    assert eventually(lambda: len(writer._waiting) == 3, timeout=10)
    sends.release.set()

    # then the two stored by another's commit are answered while the hand-offs still wait for
    # Redis; only the two that committed (and so send the tasks) wait with them
    assert eventually(lambda: answers[2] is not None and answers[3] is not None, timeout=10)
    assert answers[0] is None and answers[1] is None
    leaving.set()
    for thread in threads:
        thread.join(30)
    assert all(a.created for a in answers) and stored(migrated, shop[0]) == 4


def test_given_a_delivery_that_stops_waiting_then_the_next_ones_are_still_stored(migrated, shop, monkeypatch):
    # given a commit that holds the receiver longer than a delivery waits
    monkeypatch.setattr(group_commit, "WAIT_SECONDS", 0.5)
    sends = Sends()
    writer = GroupCommit(migrated, send=sends)
    first, impatient, later = (admitted(migrated, shop, n) for n in (1, 2, 3))
    answers: dict = {}

    def deliver(name: str, item) -> None:
        with logs.bind() as correlation:
            try:
                answers[name] = writer.store(item, shop[0], correlation)
            except Exception as exc:
                answers[name] = exc

    leader = threading.Thread(target=deliver, args=("first", first))
    leader.start()
    assert eventually(lambda: len(sends.sent) == 1, timeout=10)

    # when a delivery gives up waiting behind it
    deliver("impatient", impatient)

    # then it is told so (the receiver answers 503: Shopify sends it again), and it left the queue
    assert isinstance(answers["impatient"], group_commit.Interrupted) and writer._waiting == []
    sends.release.set()
    leader.join(30)
    # and the receiver goes on: the next delivery is stored by a commit of its own
    deliver("later", later)
    assert answers["first"].created and answers["later"].created
    assert stored(migrated, shop[0]) == 2
