"""The public task API: names are stable (``mlc.<area>.<verb>``) and arguments are JSON ids.

Other internal apps call these by name, e.g. ``app.send_task("mlc.inbox.replay", args=[42])``.
Renaming one breaks queued messages: add a new name and keep the old one for a release.
"""
from __future__ import annotations

from connector.services import inbox
from workers import dispatch
from workers.app import app
from workers.base import ConnectorTask, services


@app.task(bind=True, base=ConnectorTask, name="mlc.invoices.process_webhook")
def invoices_process_webhook(self, inbox_id: int) -> None:
    """An order webhook (orders/create, orders/updated, orders/paid) → one Fusion invoice."""
    self.process_inbox(inbox_id)


@app.task(bind=True, base=ConnectorTask, name="mlc.customers.process_webhook")
def customers_process_webhook(self, inbox_id: int) -> None:
    """A customer webhook → the Fusion customer (person, account, BILL_TO site)."""
    self.process_inbox(inbox_id)


@app.task(bind=True, base=ConnectorTask, name="mlc.credit_memos.process_webhook")
def credit_memos_process_webhook(self, inbox_id: int) -> None:
    """A refund or cancellation webhook; stored as deferred until credit memos ship."""
    self.process_inbox(inbox_id)


@app.task(bind=True, base=ConnectorTask, name="mlc.inbox.replay")
def inbox_replay(self, inbox_id: int) -> bool:
    """Process a parked, dead or deferred inbox event again (after a fix), with fresh attempts."""
    with self.session() as session:
        event = inbox.reopen(session, inbox_id)
        topic = event.topic if event is not None else None
    return topic is not None and dispatch.enqueue(inbox_id, topic)  # sent after the commit


@app.task(bind=True, base=ConnectorTask, name="mlc.inbox.sweep")
def inbox_sweep(self) -> int:
    """Re-send inbox events whose task was never sent or was lost. Safe to run twice."""
    settings = services().settings
    with self.session() as session:
        waiting = inbox.stale(session, settings.inbox_stale_after_seconds)
    sent = 0
    for inbox_id, topic in waiting:  # each claimed in its own short transaction, then sent
        with self.session() as session:
            claimed = inbox.claim_resend(session, inbox_id, settings.inbox_stale_after_seconds)
        if claimed and dispatch.enqueue(inbox_id, topic):
            sent += 1
    return sent
