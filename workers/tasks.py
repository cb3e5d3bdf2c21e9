"""The public task API: names are stable (``mlc.<area>.<verb>``) and arguments are JSON ids.

Other internal apps call these by name, e.g. ``app.send_task("mlc.inbox.replay", args=[42])``.
Renaming one breaks queued messages: add a new name and keep the old one for a release.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from connector import audit, audit_chain, flows
from connector.locks import Busy
from connector.services import (
    fusion_poll,
    fusion_receipts,
    inbox,
    reconcile,
    retention,
    shop_tokens,
    subjects,
)
from workers import dispatch, publish
from workers.app import app
from workers.base import ConnectorTask, services


def _webhook_task(name: str, handles: list[flows.Flow]):
    def process_webhook(self, inbox_id: int) -> None:
        self.process_inbox(inbox_id)
    process_webhook.__doc__ = f"Process one inbox event of {', '.join(f.topic for f in handles)}."
    return app.task(bind=True, base=ConnectorTask, name=name)(process_webhook)


log = logging.getLogger(__name__)

# One task per pool that handles webhooks (``mlc.<queue>.process_webhook``), from the flow registry.
WEBHOOK_TASKS = {name: _webhook_task(name, handles) for name, handles in flows.webhook_tasks().items()}


@app.task(bind=True, base=ConnectorTask, name="mlc.inbox.replay")
def inbox_replay(self, inbox_id: int) -> bool:
    """Process a parked, dead or deferred inbox event again (after a fix), with fresh attempts."""
    with self.session() as session, audit.sealing(subjects.key_for_inbox(services().keyring, session, inbox_id)):
        event = inbox.reopen(session, inbox_id, services().tally)
        return event is not None and dispatch.send_after_commit(session, inbox_id, event.topic, event.shop_id)


@app.task(bind=True, base=ConnectorTask, name="mlc.inbox.sweep")
def inbox_sweep(self) -> int:
    """Re-send inbox events whose task was never sent or was lost. Safe to run twice."""
    settings = services().settings
    with self.session() as session:
        waiting = inbox.stale(session, settings.inbox_stale_after_seconds)
    sent = 0
    for inbox_id, topic in waiting:  # each claimed in its own short transaction, sent after it
        with self.session() as session:
            if inbox.claim_resend(session, inbox_id, settings.inbox_stale_after_seconds):
                sent += dispatch.send_after_commit(session, inbox_id, topic)
    return sent


def _poll_task(resource: str):
    def poll_fusion(self) -> dict | None:
        with self.session() as session:
            result = fusion_poll.poll(services(), session, resource)
            if result is not None and resource == "receipts":
                for binding_id in fusion_receipts.due(session):
                    publish.send(PUSH_RECEIPT, [binding_id], "fusion_poll")
        return None if result is None else vars(result)
    poll_fusion.__doc__ = f"Read the {resource.replace('_', ' ')} changed in Fusion since the watermark. Safe to run twice."
    return app.task(bind=True, base=ConnectorTask, name=f"mlc.fusion.poll_{resource}")(poll_fusion)


PUSH_RECEIPT = "mlc.fusion.push_receipt"


@app.task(bind=True, base=ConnectorTask, name=PUSH_RECEIPT)
def push_fusion_receipt(self, binding_id: int) -> str:
    """Record one receipt entered in Fusion as a payment of its Shopify order, once. Safe to run
    twice; a push that fails stays due, and the next receipts poll sends it again."""
    try:
        with self.session() as session:
            return fusion_receipts.push(services(), session, binding_id)
    except Busy as busy:
        raise self.retry(countdown=busy.retry_after, max_retries=5)


# One task per polled resource (``mlc.fusion.poll_<resource>``), each on its own beat schedule.
POLL_TASKS = {resource: _poll_task(resource) for resource in fusion_poll.KINDS}


@app.task(bind=True, base=ConnectorTask, name="mlc.inbox.purge_bodies")
def inbox_purge_bodies(self) -> int:
    """Erase the bodies of events processed longer ago than MLC_INBOX_BODY_RETENTION_DAYS."""
    with self.session() as session:
        return retention.purge_bodies(session, timedelta(days=services().settings.inbox_body_retention_days))


@app.task(bind=True, base=ConnectorTask, name="mlc.audit.seal")
def audit_seal(self) -> int:
    """Seal the audit rows written since the last seal; log the chain's head to anchor it outside."""
    with self.session() as session:
        links = audit_chain.seal(session)
    if links:
        log.info("audit trail sealed through row %s: chain head %s", links[-1].last_event_id, links[-1].hash)
    return sum(link.events for link in links)


@app.task(bind=True, base=ConnectorTask, name="mlc.shopify.reconcile")
def shopify_reconcile(self) -> int:
    """Enqueue what Shopify changed lately whose webhook never arrived, through the same flows.
    Safe to run twice: a version already stored is not stored again."""
    with self.session() as session:
        results = reconcile.run(services(), session, dispatch.send_after_commit)
    for result in results:
        if result.found or result.error:
            log.info("reconciled %s: %s enqueued%s", result.shop, result.enqueued,
                     f"; stopped: {result.error}" if result.error else "")
    return sum(result.enqueued for result in results)


@app.task(bind=True, base=ConnectorTask, name="mlc.shopify.keep_tokens")
def shopify_keep_tokens(self) -> dict:
    """Refresh the Shopify tokens that would expire before the next run, one shop at a time
    (each under its shop's refresh lock, so a worker refreshing the same token is not doubled)."""
    return shop_tokens.keep_tokens(services())
