"""One webhook followed through the logs of the real processes: the receiver's lines (its own and
gunicorn's access line) and the worker's (the connector's and Celery's) name the same inbox id
and GID, and refused deliveries do not flood the receiver's log. The stack writes each process's
output to ``<workdir>/logs/<name>.log`` (``cli.stack``)."""
from __future__ import annotations

import json
import random
import uuid
from concurrent.futures import ThreadPoolExecutor

from connector import flows, logs
from connector.config import load_settings
from tests.factories import new_order
from tests.support import TestShop, eventually
from workers import publish


def json_lines(stack, process: str) -> list[dict]:
    """The process's JSON lines (a line that is not one, such as Celery's warning about running as
    root before logging is set up, is left out)."""
    text = (stack.logs / f"{process}.log").read_text(errors="replace")
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def about(lines: list[dict], inbox_id: int) -> list[dict]:
    return [line for line in lines if line.get("inbox_id") == inbox_id]


def test_given_a_signed_order_webhook_then_the_receiver_and_the_worker_log_the_same_correlation(stack, shop):
    # Given an order placed in Shopify, whose orders/create the sandbox signs and delivers
    order = shop.place_order(new_order(email=f"buyer-{uuid.uuid4().hex[:6]}@example.com"))
    gid = order["admin_graphql_api_id"]
    [event] = eventually(lambda: [e for e in shop.inbox() if e.topic == "orders/create"])

    # When the worker has processed it
    done = eventually(lambda: [line for line in about(json_lines(stack, "worker-invoices"), event.id)
                               if line["message"].startswith(f"inbox event {event.id} done")], timeout=60)
    assert done, "the worker never logged the event as done"

    # Then the receiver's one line for it, the access line, names the event, its shop and its GID
    receiver = about(json_lines(stack, "web"), event.id)
    [accepted] = receiver
    assert accepted["logger"] == "gunicorn.access"
    assert (accepted["shop"], accepted["topic"], accepted["gid"]) == (shop.domain, "orders/create", gid)
    assert accepted["path"] == "/webhooks/shopify" and accepted["status"] == 200

    # And so does every line the worker wrote while running its task, Celery's own included
    worker = about(json_lines(stack, "worker-invoices"), event.id)
    assert {line["gid"] for line in worker} == {gid}
    assert {line["event_id"] for line in worker + [accepted]} == {event.event_id}
    [succeeded] = [line for line in worker if line["logger"] == "celery.app.trace"
                   and "succeeded" in line["message"]]
    assert succeeded["task"] == "mlc.invoices.process_webhook" and succeeded["task_id"] == done[0]["task_id"]

    # And the buyer's email address is in no line of either
    for process in ("web", "worker-invoices"):
        assert order["email"] not in (stack.logs / f"{process}.log").read_text(errors="replace")


def test_given_a_message_with_a_correlation_then_the_worker_binds_it_before_reading_the_event(stack):
    # Given a task message for an inbox id that names no event, sent with a correlation header
    inbox_id = random.randrange(10**9, 2 * 10**9)
    gid = f"gid://shopify/Order/{inbox_id}"

    def send() -> str:  # a thread of its own: its producer is made on the stack's broker
        with logs.bind(shop="header.myshopify.com", gid=gid):
            return publish.send(flows.webhook_task("invoices"), [inbox_id], "invoices",
                                logs.carried(inbox_id=inbox_id, topic="orders/create"))

    with ThreadPoolExecutor(1) as pool:
        task_id = pool.submit(send).result()

    # When the worker has run it (it finds no event to claim, so it reads nothing that names one)
    lines = eventually(lambda: [line for line in json_lines(stack, "worker-invoices")
                                if line.get("task_id") == task_id and line["logger"] == "celery.app.trace"])

    # Then Celery's line about it names what the header carried
    [succeeded] = lines
    assert (succeeded["inbox_id"], succeeded["shop"], succeeded["topic"], succeeded["gid"]) == (
        inbox_id, "header.myshopify.com", "orders/create", gid)


def test_given_a_flood_of_forged_deliveries_then_the_receiver_logs_a_bounded_number(stack):
    # Given a shop the connector knows, and someone who does not have its secret
    shop = TestShop.create(stack, prefix=("L" + uuid.uuid4().hex[:7]).upper())
    limit = load_settings().log_refusals_limit
    forged = 3 * limit + 5

    # When they send many deliveries signed with another secret
    statuses = {shop.deliver("orders/create", {"id": n}, secret="not-the-secret").status_code for n in range(forged)}

    # Then each is refused, and each receiver process logs at most its limit of them
    assert statuses == {401}
    lines = eventually(lambda: [line for line in json_lines(stack, "web") if line.get("shop") == shop.domain
                                and line.get("reason") == "invalid_signature"])
    per_process: dict[int, int] = {}
    for line in lines:
        per_process[line["pid"]] = per_process.get(line["pid"], 0) + 1
    assert lines and all(count <= limit for count in per_process.values()), per_process
    assert len(lines) < forged
