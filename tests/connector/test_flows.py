"""The flow registry is the only place that says what a topic means."""
from __future__ import annotations

import re
from pathlib import Path

from connector import flows

ROOT = Path(__file__).resolve().parents[2]
# A Shopify webhook topic written as a string: "orders/create", 'refunds/', "customers/update" …
TOPIC_LITERAL = re.compile(r"""["'](?:orders|customers|refunds|order_transactions|fulfillments|products|"""
                           r"""draft_orders|checkouts|disputes|shop|app|customers_data_request|"""
                           r"""customers_redact|shop_redact)/[a-z_]*["']""")


def test_no_module_outside_the_registry_names_a_topic():
    offenders = []
    for package in ("connector", "workers", "web", "cli"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "connector" / "flows.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if TOPIC_LITERAL.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "topics belong in connector/flows.py:\n" + "\n".join(offenders)


def test_every_flow_either_has_a_handler_or_says_why_it_is_deferred():
    for flow in flows.FLOWS:
        assert flow.queue in flows.QUEUES
        assert flow.handler is not None or flow.deferred, flow.topic


def test_readme_task_table_is_the_registrys():
    readme = (ROOT / "README.md").read_text()
    rows = [f"| `{task}` | `{queue}` | {argument} | {summary} |" for task, queue, argument, summary
            in flows.task_table()]
    missing = [row for row in rows if row not in readme]
    assert missing == [], "README.md's task table should read:\n" + "\n".join(rows)


def test_unknown_topic_has_no_flow_and_no_binding_kind():
    assert flows.for_topic("products/create") is None
    assert flows.kind_of("products/create") == ""
