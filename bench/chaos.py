"""Chaos at scale: thousands of orders and refunds through the real stack while it is broken.

Orders come from the Shopify sandbox's generator at a steady rate, in batches that bring
customers of their own; once an order is invoiced, a share of the paid ones get a refund (one
unit, one unit and the shipping, everything left, a return with a restocking fee kept back, or
goodwill money with nothing returned: the demo's merchant actions). All the while:

- Shopify delivers 30 % of the webhooks twice and holds 10 % back so that later ones overtake
  them, and retries a failed delivery on its schedule (shortened by ``time_scale``);
- Fusion answers 5 % of the requests with a 5xx, 2 % with 429 and Retry-After, and loses the
  answer of 1 % of the POSTs after it committed them;
- at set points of the run, a worker is SIGKILLed (invoices, later credit memos), Redis is
  restarted empty, and PostgreSQL is stopped for 30 s (the receiver answers 503 and Shopify
  retries).

It runs on a PostgreSQL cluster and a Redis of its own (``bench.private``), never the shared ones.
Once everything is quiet, every order is read back from Shopify and Fusion with the demo's checks
(``cli.check``: the three invariants to the cent, and no webhook event left unfinished), every
customer is looked up in Fusion, and the counts are printed. Exit status 1 when any document is
duplicated or missing, any total is off, anything is parked, dead or still waiting, or a webhook
was never delivered.
"""
from __future__ import annotations

import os
import random
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable

import requests
from sqlalchemy import func, select

from bench import pipeline, private
from cli.check import (
    OrderCheck,
    Snapshot,
    check_order,
    read_all,
    refund_memo_stems,
    shopify_order,
    unfinished_events,
)
from cli.stack import Stack

#: Fusion's faults, in the order the sandbox tries them (at most one fires per request).
FUSION_FAULTS = [
    {"kind": "500", "probability": 0.025},
    {"kind": "503", "probability": 0.025},
    {"kind": "429", "probability": 0.02, "retry_after": 1},
    {"kind": "lost_response", "probability": 0.01, "methods": ["POST"]},
]
DUPLICATES, OUT_OF_ORDER, HELD_BACK_SECONDS = 0.3, 0.1, 5.0
#: Shopify's retry schedule (1 min … 80 min, about 4 h in all) × this: 3 s … 4 min.
RETRY_TIME_SCALE = 0.05
PG_DOWN_SECONDS, REDIS_DOWN_SECONDS = 30.0, 3.0
#: What the stack runs with; the rest is production's defaults. The budget is far above what the
#: workers use. The leases are shortened so that recovering from a kill or a lost answer takes a
#: minute or three, not five or ten (a create's lease must only outlast the 30 s read timeout).
ENVIRONMENT = {"MLC_FUSION_RATE": "1000", "MLC_FUSION_BURST": "1000", "MLC_CREATE_LEASE": "60",
               "MLC_TASK_TIME_LIMIT": "180"}
BATCH = 50
#: Orders placed but not invoiced yet beyond which placing waits: a run measures what chaos does
#: to the records, not how deep a queue can grow (the sweeper re-sends what waits in a deep one).
MAX_BACKLOG = 300
#: Defaults of ``python -m bench chaos``: orders, refunds, orders placed per second.
ORDERS, REFUNDS, RATE = 5000, 1000, 5.0


@dataclass
class Event:
    """One act of chaos, at a share of the orders placed."""

    at: float
    name: str
    act: Callable[[], str]
    started: float | None = None
    seconds: float = 0.0
    note: str = ""
    progress: str = ""


@dataclass
class Run:
    orders: int
    refunds: int
    rate: float
    seed: int
    stack: Stack
    pg: private.PostgresCluster
    redis: private.EmbeddedRedis
    domain: str = ""
    prefix: str = "CHAOS"
    started: float = field(default_factory=time.monotonic)
    placed: list[dict] = field(default_factory=list)
    placing_done: bool = False
    placing_error: str = ""
    chosen: list[int] = field(default_factory=list)           # order ids to refund, in order
    refunded: dict[int, str] = field(default_factory=dict)    # order id → what was done (or why not)
    invoiced: int = 0
    plan: list[Event] = field(default_factory=list)
    restarts: list[str] = field(default_factory=list)          # processes that exited on their own
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def shopify(self) -> str:
        return self.stack.urls["shopify_sandbox"]

    @property
    def fusion(self) -> str:
        return self.stack.urls["fusion_sandbox"]

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def log(run: Run, message: str) -> None:
    print(f"[{run.elapsed():7.1f}s] {message}", flush=True)


# -- the merchant -------------------------------------------------------------------------------

def place_orders(run: Run) -> None:
    """Orders at ``run.rate`` per second (while fewer than ``MAX_BACKLOG`` wait for their invoice),
    in batches from the sandbox's generator."""
    try:
        made = 0
        while made < run.orders:
            count = min(BATCH, run.orders - made)
            due = run.started + made / run.rate
            time.sleep(max(0.0, due - time.monotonic()))
            while made - run.invoiced > MAX_BACKLOG:
                time.sleep(1)
            response = requests.post(f"{run.shopify}/_sandbox/shops/{run.domain}/orders/generate",
                                     json={"count": count, "seed": run.seed * 100_000 + made, "first": made},
                                     timeout=120)
            response.raise_for_status()
            batch = response.json()["orders"]
            with run.lock:
                run.placed += batch
                choose_refunds(run, batch)
            made += count
    except Exception as exc:  # noqa: BLE001 - reported, and the run fails
        run.placing_error = f"{type(exc).__name__}: {exc}"
    finally:
        run.placing_done = True


def refundable(order: dict) -> bool:
    return order["financial_status"] == "paid" and Decimal(order["total_price"]) > 0


def choose_refunds(run: Run, batch: list[dict]) -> None:
    """About ``refunds`` of the paid orders, spread over the run (topped up at the end)."""
    rng = random.Random(f"{run.seed}:{len(run.placed)}")
    share = run.refunds / max(1.0, run.orders * 0.70)  # ~71 % of generated orders are paid, total > 0
    for order in batch:
        if len(run.chosen) < run.refunds and refundable(order) and rng.random() < share:
            run.chosen.append(order["id"])


def top_up_refunds(run: Run) -> None:
    with run.lock:
        taken = set(run.chosen)
        for order in run.placed:
            if len(run.chosen) >= run.refunds:
                break
            if refundable(order) and order["id"] not in taken:
                run.chosen.append(order["id"])


def refund_actions():
    """The demo's refunds (``cli.demo``), by weight."""
    from cli import demo
    return [(4, demo._refund(shipping=False)), (2, demo._refund(shipping=True)), (2, demo._refund_rest),
            (1, demo._refund(shipping=False, restocking_fee=True)), (1, demo._goodwill)]


def refund_kinds(labels) -> Counter:
    kinds = Counter()
    for label in labels:
        kinds[next((kind for word, kind in (("goodwill", "goodwill"), ("restocking", "restocking fee kept"),
                                             ("everything", "everything left"), ("shipping", "one unit and shipping"))
                    if word in label), "one unit")] += 1
    return kinds


def refund(run: Run, order_id: int, build) -> None:
    try:
        order, transactions = shopify_order(run.shopify, run.domain, order_id)
        request = build(order, transactions)
        if request is None:
            outcome = "nothing to refund"
        else:
            _, action, body, label = request
            response = requests.post(f"{run.shopify}/_sandbox/shops/{run.domain}/orders/{order_id}/{action}",
                                     json=body, timeout=30)
            outcome = label if response.status_code < 300 else \
                f"REFUSED {label} ({response.status_code}: {response.text[:200]})"
    except Exception as exc:  # noqa: BLE001
        outcome = f"REFUSED: {type(exc).__name__}: {exc}"
    with run.lock:
        run.refunded[order_id] = outcome


# -- the pipeline's state -----------------------------------------------------------------------

def invoiced(run: Run) -> set[int]:
    """The order ids whose invoice binding is synced."""
    from connector.config import load_settings
    from connector.db import session_scope
    from connector.models import Binding, BindingKind, BindingState, Shop
    with session_scope(load_settings().database_url) as session:
        rows = session.scalars(select(Binding.shopify_id).join(Shop, Shop.id == Binding.shop_id)
                               .where(Shop.domain == run.domain, Binding.kind == BindingKind.order,
                                      Binding.state == BindingState.synced))
        return {int(i) for i in rows}


def inbox_states(run: Run) -> Counter:
    from connector.config import load_settings
    from connector.db import session_scope
    from connector.models import InboxEvent, Shop
    with session_scope(load_settings().database_url) as session:
        rows = session.execute(select(InboxEvent.state, func.count()).join(Shop, Shop.id == InboxEvent.shop_id)
                               .where(Shop.domain == run.domain).group_by(InboxEvent.state)).all()
    return Counter({state.value: n for state, n in rows})


def shopify_pending(run: Run) -> int:
    return requests.get(f"{run.shopify}/_sandbox/webhooks/idle", timeout=10).json()["pending"]


# -- chaos --------------------------------------------------------------------------------------

def chaos_plan(run: Run) -> list[Event]:
    def kill(queue: str) -> Callable[[], str]:
        def act() -> str:
            pid = run.stack.pids()[f"worker-{queue}"]
            try:
                run.stack.kill_worker(queue)
            except Exception:  # noqa: BLE001 - a stale broker connection here, or another process exited
                supervise(run)
                run.stack.wait_for_workers()
            return f"SIGKILL pid {pid}; a new worker answers (pid {run.stack.pids()[f'worker-{queue}']})"
        return act

    def restart_redis() -> str:
        run.redis.restart(REDIS_DOWN_SECONDS)
        return f"down {REDIS_DOWN_SECONDS:g} s, back empty on port {run.redis.port}"

    def stop_postgres() -> str:
        run.pg.stop()
        time.sleep(PG_DOWN_SECONDS)
        run.pg.start()
        return f"fast shutdown, down {PG_DOWN_SECONDS:g} s"

    return [Event(0.30, "SIGKILL the invoices worker", kill("invoices")),
            Event(0.45, "restart Redis", restart_redis),
            Event(0.60, "SIGKILL the credit_memos worker", kill("credit_memos")),
            Event(0.75, "stop PostgreSQL", stop_postgres)]


# -- the run ------------------------------------------------------------------------------------

def drive(run: Run, timeout: float) -> bool:
    """Place, refund and break things until the pipeline is quiet; False on timeout."""
    run.plan = plan = chaos_plan(run)
    actions = refund_actions()
    weights = [w for w, _ in actions]
    rng = random.Random(run.seed)
    placer = threading.Thread(target=place_orders, args=(run,), daemon=True, name="chaos-orders")
    placer.start()
    pool = ThreadPoolExecutor(4, thread_name_prefix="chaos-refunds")
    submitted: set[int] = set()
    quiet_since, last_report, topped_up = None, 0.0, False
    try:
        while run.elapsed() < timeout:
            supervise(run)
            for event in plan:
                if event.started is None and len(run.placed) >= event.at * run.orders:
                    event.started, event.progress = run.elapsed(), progress(run)
                    log(run, f"chaos: {event.name} ({event.progress})")
                    try:
                        event.note = event.act()
                    except Exception as exc:  # noqa: BLE001 - the run goes on; the report shows it
                        event.note = f"FAILED: {type(exc).__name__}: {exc}"
                    event.seconds = run.elapsed() - event.started
                    log(run, f"chaos: {event.name}: {event.note}")
            if run.placing_done and not topped_up:
                top_up_refunds(run)
                topped_up = True
            try:
                synced = invoiced(run)
                states = inbox_states(run)
                pending = shopify_pending(run)
            except Exception as exc:  # noqa: BLE001 - PostgreSQL is down, or Redis: look again
                quiet_since = None
                if time.monotonic() - last_report > 10:
                    log(run, f"waiting: {type(exc).__name__}")
                    last_report = time.monotonic()
                time.sleep(1)
                continue
            with run.lock:
                due = [i for i in run.chosen if i in synced and i not in submitted]
            for order_id in due:
                submitted.add(order_id)
                pool.submit(refund, run, order_id, rng.choices([a for _, a in actions], weights)[0])
            run.invoiced = len(synced)
            if time.monotonic() - last_report > 30:
                log(run, f"{progress(run)}; inbox {dict(states)}; Shopify pending {pending}")
                last_report = time.monotonic()
            settled = (run.placing_done and all(e.started is not None for e in plan)
                       and len(submitted) == len(run.chosen) and len(run.refunded) == len(submitted)
                       and pending == 0 and states.get("received", 0) == 0)
            if settled:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= 5:
                    return True
            else:
                quiet_since = None
            time.sleep(1)
        return False
    finally:
        pool.shutdown(wait=True)


def supervise(run: Run) -> None:
    """A worker or beat that exited on its own is started again, as production's process manager
    would; each such exit is a finding, and the report lists it."""
    for restarted in run.stack.respawn():
        run.restarts.append(f"{restarted} at {run.elapsed():.0f} s")
        log(run, f"process exited on its own, started again: {restarted}")


def progress(run: Run) -> str:
    return (f"{len(run.placed)}/{run.orders} orders placed, {run.invoiced} invoiced, "
            f"{len(run.refunded)}/{len(run.chosen)} refunds made")


# -- reading back -------------------------------------------------------------------------------

@dataclass
class Findings:
    checks: list[OrderCheck]
    customers: int = 0
    accounts: int = 0
    persons: int = 0
    customer_problems: list[str] = field(default_factory=list)
    documents: Snapshot | None = None

    @property
    def duplicates(self) -> dict[str, int]:
        found = Counter()
        for c in self.checks:
            found["invoices"] += max(0, c.invoices - 1)
            found["receipts"] += len(c.receipt_numbers) - len(set(c.receipt_numbers))
            found["credit memos"] += sum(max(0, len(refund_memo_stems(m)) - 1) for m in c.refund_memos.values())
        found["customers"] = sum(1 for p in self.customer_problems if "persons" in p)
        return found

    @property
    def violations(self) -> list[OrderCheck]:
        return [c for c in self.checks if not c.ok]


def read_back(run: Run) -> Findings:
    """Every order through ``cli.check`` (the shop's Fusion documents read once, in pages) and
    every customer by its Fusion references: one TCA person and one customer account each."""
    from connector.config import load_settings
    from connector.db import session_scope
    from connector.fusion import parties
    from connector.services.context import Services
    from connector.services.customers import from_order
    services = Services(load_settings())
    source_system = services.mapping.for_shop(run.domain).fusion.source_system
    with session_scope(services.settings.database_url) as session:
        events = unfinished_events(session, run.domain)
        fusion = services.fusion(session)
    documents = Snapshot(fusion, run.prefix)
    persons = Counter(p.get("SourceSystemReferenceValue")
                      for p in read_all(fusion, parties.PATH, f"SourceSystem='{source_system}'"))

    def one_order(placed: dict) -> tuple[OrderCheck, object]:
        order, transactions = shopify_order(run.shopify, run.domain, placed["id"])
        check = check_order(documents, run.prefix, order, transactions)
        check.events = events.get(order["id"], [])
        check.actions = [run.refunded[order["id"]]] if order["id"] in run.refunded else []
        return check, from_order(order, run.domain).reference

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one_order, run.placed))
    findings = Findings([c for c, _ in results], documents=documents)
    customers = sorted({reference for _, reference in results})
    with ThreadPoolExecutor(4) as pool:
        accounts = list(pool.map(lambda ref: fusion.accounts.by_reference(source_system, ref) is not None,
                                 customers))
    for reference, account in zip(customers, accounts):
        findings.accounts += account
        if persons[reference] != 1:
            findings.customer_problems.append(f"{reference}: {persons[reference]} persons")
        if not account:
            findings.customer_problems.append(f"{reference}: no customer account")
    findings.customers = len(customers)
    findings.persons = sum(persons[reference] for reference in customers)
    return findings


def deliveries(run: Run) -> dict:
    log_ = requests.get(f"{run.shopify}/_sandbox/webhooks/deliveries", params={"shop": run.domain},
                        timeout=60).json()["deliveries"]
    webhooks = {d["webhook_id"] for d in log_}
    delivered = {d["webhook_id"] for d in log_ if d["ok"]}
    return {"webhooks": len(webhooks), "attempts": len(log_),
            "duplicates": sum(1 for d in log_ if d["copy"] > 1 and d["attempt"] == 1),
            "held back": sum(1 for d in log_ if d["copy"] == 1 and d["attempt"] == 1 and d["delay"] > 0),
            "failed attempts": Counter(str(d["status_code"] or (d["error"] or "?").split(":")[0])
                                       for d in log_ if not d["ok"]),
            "retried webhooks": len({d["webhook_id"] for d in log_ if d["attempt"] > 1}),
            "never delivered": sorted(webhooks - delivered)}


def parked(run: Run) -> dict[str, list[str]]:
    """Inbox events parked or dead, and bindings parked: none should be."""
    from connector.config import load_settings
    from connector.db import session_scope
    from connector.models import Binding, BindingState, InboxEvent, InboxState, Shop
    with session_scope(load_settings().database_url) as session:
        events = session.execute(select(InboxEvent.id, InboxEvent.topic, InboxEvent.state, InboxEvent.last_error)
                                 .join(Shop, Shop.id == InboxEvent.shop_id)
                                 .where(Shop.domain == run.domain,
                                        InboxEvent.state.in_([InboxState.parked, InboxState.dead]))).all()
        bindings = session.execute(select(Binding.kind, Binding.shopify_id, Binding.state)
                                   .join(Shop, Shop.id == Binding.shop_id)
                                   .where(Shop.domain == run.domain, Binding.state == BindingState.parked)).all()
        deferred = session.execute(select(InboxEvent.topic, InboxEvent.last_error, func.count())
                                   .join(Shop, Shop.id == InboxEvent.shop_id)
                                   .where(Shop.domain == run.domain, InboxEvent.state == InboxState.deferred)
                                   .group_by(InboxEvent.topic, InboxEvent.last_error)).all()
    return {"events": [f"inbox {i} {topic} {state.value}: {error[:300]}" for i, topic, state, error in events],
            "bindings": [f"{kind.value} {sid} parked" for kind, sid, _ in bindings],
            "deferred": [f"{n} × {topic}: {error[:160]}" for topic, error, n in deferred]}


def evidence(run: Run, failing: list[OrderCheck], documents: Snapshot) -> Path:
    """What a person needs to see why an order failed, written before the stack is gone: the check,
    the order's Fusion documents as read, its bindings, its webhook events with every attempt, and
    every Fusion call made for it or its refunds (the audit trail)."""
    import json

    from connector.config import load_settings
    from connector.db import session_scope
    from connector.fusion import credit_memos, invoices
    from connector.models import (
        AuditEvent,
        Binding,
        InboxEvent,
        ProcessingAttempt,
        Shop,
    )
    out = []
    with session_scope(load_settings().database_url) as session:
        shop_id = session.scalar(select(Shop.id).where(Shop.domain == run.domain))
        for check in failing:
            order, _ = shopify_order(run.shopify, run.domain, check.order_id)
            subjects = [str(check.order_id)] + [str(r["id"]) for r in order.get("refunds") or []]
            own = f"{check.invoice_number}-" if check.invoice_number else "-"
            events = session.scalars(select(InboxEvent).where(InboxEvent.shop_id == shop_id,
                                                              InboxEvent.resource_id.in_(subjects))
                                     .order_by(InboxEvent.id)).all()
            out.append({
                "check": check.as_json(), "refunds": order.get("refunds"),
                "fusion": {"debit memos": documents.numbered(invoices.PATH, own),
                           "credit memos": documents.numbered(credit_memos.PATH, own)},
                "bindings": [{"kind": b.kind.value, "shopify_id": b.shopify_id, "state": b.state.value,
                              "fusion_number": b.fusion_number, "fusion_refs": b.fusion_refs,
                              "last_error": b.last_error}
                             for b in session.scalars(select(Binding).where(Binding.shop_id == shop_id,
                                                                            Binding.shopify_id.in_(subjects)))],
                "events": [{"id": e.id, "topic": e.topic, "state": e.state.value, "attempts": e.attempts,
                            "last_error": e.last_error, "triggered_at": e.triggered_at,
                            "received_at": str(e.received_at), "processed_at": str(e.processed_at),
                            "tries": [{"number": a.number, "worker": a.worker, "outcome": str(a.outcome),
                                       "error": a.error, "started": str(a.started_at), "ended": str(a.finished_at)}
                                      for a in session.scalars(select(ProcessingAttempt)
                                                               .where(ProcessingAttempt.inbox_id == e.id)
                                                               .order_by(ProcessingAttempt.number))]}
                           for e in events],
                "audit": [{"at": str(a.occurred_at), "action": a.action, "subject": a.subject_id, "detail": a.detail}
                          for a in session.scalars(select(AuditEvent).where(AuditEvent.shop_id == shop_id,
                                                                            AuditEvent.subject_id.in_(subjects))
                                                   .order_by(AuditEvent.id))]})
    path = Path(tempfile.gettempdir()) / f"mlc-chaos-failures-{os.getpid()}.json"
    path.write_text(json.dumps(out, indent=1, default=str))
    return path


def attempts(run: Run) -> Counter:
    from connector.config import load_settings
    from connector.db import session_scope
    from connector.models import InboxEvent, ProcessingAttempt, Shop
    with session_scope(load_settings().database_url) as session:
        rows = session.execute(select(ProcessingAttempt.outcome, func.count())
                               .join(InboxEvent, InboxEvent.id == ProcessingAttempt.inbox_id)
                               .join(Shop, Shop.id == InboxEvent.shop_id)
                               .where(Shop.domain == run.domain).group_by(ProcessingAttempt.outcome)).all()
    return Counter({(outcome.value if outcome else "unfinished"): n for outcome, n in rows})


# -- the report ---------------------------------------------------------------------------------

def report(run: Run, settled: bool, wall: float, faults: dict, fusion_requests: int, load: tuple) -> int:
    sent = deliveries(run)
    findings = read_back(run)
    log(run, f"read back {len(findings.checks)} orders and {findings.customers} customers")
    stuck = parked(run)
    states = inbox_states(run)
    outcomes = attempts(run)
    refused = {i: r for i, r in run.refunded.items() if r.startswith(("REFUSED", "nothing"))}
    checks = findings.checks
    duplicates = findings.duplicates
    violations = findings.violations

    print(f"\nchaos at scale ({run.orders} orders, {len(run.chosen)} refunds asked, seed {run.seed}; "
          f"load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after)")
    print(f"  stack: production worker pools (threads), {', '.join(f'{k}={v}' for k, v in ENVIRONMENT.items())}; "
          f"orders placed at {run.rate:g}/s while fewer than {MAX_BACKLOG} waited for their invoice")
    made = [label for i, label in run.refunded.items() if i not in refused]
    print(f"  orders placed: {len(run.placed)}   refunds made: {len(made)} {dict(refund_kinds(made))}"
          f" (refused by Shopify or nothing left: {len(refused)})")
    for order_id, why in list(refused.items())[:10]:
        print(f"    order {order_id}: {why}")
    print(f"  webhooks: {sent['webhooks']} fired, {sent['attempts']} deliveries in all: "
          f"{sent['duplicates']} duplicates, {sent['held back']} held back out of order, "
          f"{sent['retried webhooks']} webhooks retried; failed attempts "
          f"{dict(sent['failed attempts']) or 0}; never delivered {len(sent['never delivered'])}")
    print(f"  inbox: {dict(states)}; processing attempts by outcome: {dict(outcomes)} "
          f"('running': cut off by a kill or an outage)")
    print(f"  Fusion: {fusion_requests} requests, faults injected {faults or 0}")
    print("  chaos:")
    for event in run.plan:
        when = "never reached" if event.started is None else f"at {event.started:.0f} s ({event.progress})"
        print(f"    {event.name}, {when}: {event.note}")
    print(f"  processes that exited on their own (restarted, as a process manager would): "
          f"{'; '.join(run.restarts) or 'none'}")
    print(f"  documents: invoices {sum(c.invoices for c in checks)}, credit memos "
          f"{sum(len(c.credit_memos) for c in checks)}, debit memos {sum(len(c.debit_memos) for c in checks)}, "
          f"receipts {sum(len(c.receipt_numbers) for c in checks)} "
          f"(expected {sum(len(c.expected_receipts) for c in checks)}), customer accounts {findings.accounts} "
          f"and persons {findings.persons} for {findings.customers} customers")
    print(f"  duplicates found: {sum(duplicates.values())} {dict(duplicates)}")
    print(f"  parked or dead: {len(stuck['events'])} events, {len(stuck['bindings'])} bindings")
    for line in stuck["events"][:20] + stuck["bindings"][:20]:
        print(f"    {line}")
    for line in stuck["deferred"]:
        print(f"    deferred (by design, for this release): {line}")
    print(f"  invariant violations: {len(violations)} orders of {len(checks)}")
    for c in violations[:30]:
        print(f"    {c.name} ({'; '.join(c.actions) or 'no refund'}): {' | '.join(c.reasons())}")
    for problem in findings.customer_problems[:20]:
        print(f"    customer {problem}")
    if violations:
        print(f"  evidence of the failing orders (documents, bindings, events, attempts, Fusion calls): "
              f"{evidence(run, violations[:50], findings.documents)}")
    print(f"  wall time: {wall:.0f} s ({wall / 60:.1f} min)" + ("" if settled else "  — TIMED OUT before quiet"))
    failures = [name for name, bad in (
        ("duplicates", sum(duplicates.values())), ("invariant violations", len(violations)),
        ("customer problems", len(findings.customer_problems)),
        ("parked or dead", len(stuck["events"]) + len(stuck["bindings"])),
        ("never delivered", len(sent["never delivered"])), ("orders not placed", run.orders - len(run.placed)),
        ("chaos not done", sum(1 for e in run.plan if e.started is None or e.note.startswith("FAILED"))),
        ("not quiet", not settled)) if bad]
    if run.placing_error:
        print(f"  placing orders failed: {run.placing_error}")
        failures.append("placing")
    print(f"  verdict: {'FAIL: ' + ', '.join(failures) if failures else 'all invariants hold'}")
    return 1 if failures else 0


def run(*, orders: int, refunds: int, rate: float = 5.0, seed: int = 1, timeout: float = 7200.0, **_) -> int:
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="mlc-chaos-") as workdir, private.PostgresCluster() as pg, \
            private.EmbeddedRedis(Path(workdir)) as redis:
        stack = Stack(workdir, database_url=pg.url, redis_url=redis.url, with_flower=False,
                      fusion_sandbox=pipeline.FUSION, shopify_sandbox={"time_scale": RETRY_TIME_SCALE},
                      extra_env=ENVIRONMENT)
        with stack:
            stack.wait_for_workers()
            pipeline.configure_fusion(stack)
            domain, _ = pipeline.add_shop(stack, "chaos")
            chaos = Run(orders, min(refunds, orders), rate, seed, stack, pg, redis, domain=domain)
            requests.post(f"{chaos.fusion}/_sandbox/faults", json={"rules": FUSION_FAULTS},
                          timeout=10).raise_for_status()
            requests.delete(f"{chaos.fusion}/_sandbox/stats", timeout=10)
            requests.post(f"{chaos.shopify}/_sandbox/webhooks/config", timeout=10, json={
                "duplicate_fraction": DUPLICATES, "out_of_order_fraction": OUT_OF_ORDER,
                "max_delay_seconds": HELD_BACK_SECONDS, "seed": seed}).raise_for_status()
            log(chaos, f"stack up (PostgreSQL {pg.url}, Redis {redis.url}); placing {orders} orders at {rate:g}/s")
            chaos.started = time.monotonic()
            settled = drive(chaos, timeout)
            wall = chaos.elapsed()
            log(chaos, "quiet; reading everything back" if settled else "timed out; reading back what there is")
            faults = requests.get(f"{chaos.fusion}/_sandbox/faults", timeout=10).json().get("injected", {})
            requests.delete(f"{chaos.fusion}/_sandbox/faults", timeout=10)
            stats = requests.get(f"{chaos.fusion}/_sandbox/stats", timeout=10).json()
            return report(chaos, settled, wall, faults, pipeline.request_count(stats), load)
