"""Which webhook topics the connector subscribes to, and which worker pool handles each."""
from __future__ import annotations

# topic → queue (see DESIGN.md "Flows")
TOPIC_QUEUES: dict[str, str] = {
    "customers/create": "customers",
    "customers/update": "customers",
    "orders/create": "invoices",
    "orders/updated": "invoices",
    "orders/paid": "invoices",
    "orders/cancelled": "credit_memos",
    "refunds/create": "credit_memos",
}

QUEUES = ("customers", "invoices", "credit_memos", "fusion_poll")


def queue_for(topic: str) -> str | None:
    return TOPIC_QUEUES.get(topic)
