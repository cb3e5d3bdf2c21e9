"""``ml-connector demo``: the whole pipeline on embedded defaults, fed by the Shopify sandbox.

Nothing but Python is needed: SQLite, the embedded Redis, both sandboxes. The demo configures a
shop and the Fusion pod exactly as an operator would (encrypted credentials, the sandbox URLs),
sends generated orders through the Shopify sandbox, then plays the merchant on them (payments,
edits, refunds, a cancellation), waits until the pipeline is quiet, and checks every order's money
against Fusion's REST API (``cli.check``, which the integration tests use too).

Ctrl-C, SIGTERM (``kill``, ``timeout``, a service manager) and SIGHUP (the terminal closed) stop
every process it started, at any point; a process whose demo was killed outright stops by itself
(``cli.lifecycle``).
"""
from __future__ import annotations

import json
import random
import secrets
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import requests
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from cli.check import OrderCheck, check_order, shopify_order, unfinished_events
from cli.stack import Stack, missing_extra
from connector.private_files import private_directory, write_private

console = Console()
DEMO_DIR = Path(".demo")
SHOP = "demo-furniture.myshopify.com"


@dataclass(frozen=True)
class DemoShop:
    domain: str
    prefix: str
    currency: str
    taxes_included: bool
    share: float  # of the orders


# A US store (sales tax on top of prices) and a European one (VAT included, its own business unit).
SHOPS = (DemoShop(SHOP, "DEMO", "USD", False, 0.7),
         DemoShop("demo-furniture-eu.myshopify.com", "DEMOEU", "EUR", True, 0.3))
EU_MAPPING = f"""
[shops."{SHOPS[1].domain}".fusion]
business_unit = "EU1 Business Unit"
reference_set_id = "300000001000002"
ledger_currency = "EUR"

[shops."{SHOPS[1].domain}".tax]
regime_code = "VAT"
rates = []                        # not the base mapping's US state/county/city rows
"""
FUSION_SCOPE = "urn:opc:resource:fa:instanceid=100000001urn:opc:resource:consumer::all"


SEED = 7  # the same orders and the same merchant actions on every run
CENT = Decimal("0.01")
ZERO = Decimal(0)


@dataclass(frozen=True)
class Step:
    """One merchant action. ``build`` sees the order as Shopify holds it just before (amounts and
    remaining quantities depend on the actions before it) and answers the request and a label,
    or None when nothing is left to do."""

    shop: DemoShop
    order: dict
    build: Callable[[dict, list[dict]], tuple[str, str, dict, str] | None]


#: Shopify's retry schedule for a failed webhook delivery (1, 2, 5, 10 … minutes), shortened for the
#: demo: a delivery that fails on a busy machine is retried after 3 s, 6 s, 15 s … instead of holding
#: the demo still for minutes.
RETRY_TIME_SCALE = 0.05


def run(*, once: bool, order_count: int) -> int:
    if problem := missing_extra():
        console.print(f"[red]cannot start the demo:[/red] {escape(problem)}")
        return 2
    _fresh_state()
    creds = _credentials()
    stack = Stack(DEMO_DIR, fusion_sandbox={"client_id": creds["fusion_client_id"],
                                            "client_secret": creds["fusion_client_secret"],
                                            "scope": FUSION_SCOPE},
                  shopify_sandbox={"time_scale": RETRY_TIME_SCALE}, extra_env={"MLC_MAPPING_FILE": str(_mapping_file()),
                                                 # its logs are for a person (production logs JSON)
                                                 "MLC_LOG_FORMAT": "text"})
    with console.status("starting Redis, the sandboxes, the receiver, workers, beat and Flower…"):
        stack.start()
    try:
        stack.wait_for_workers()
        _configure(stack, creds)
        _fit(stack)
        info = _write_demo_json(stack, creds)
        _write_demo_env(stack)
        shopify = stack.urls["shopify_sandbox"]
        history = _backfilled_history(stack)
        sent = _place_orders(stack, order_count)
        _wait_quiet(shopify, len(sent) + len(history))
        steps = [step for shop in SHOPS for step in _plan(shop, [o for s, o in sent if s is shop])]
        actions = _drive(shopify, steps)
        sent += history
        _wait_quiet(shopify, len(sent))
        actions.update(_receipt_from_fusion(stack, sent, actions))
        _wait_quiet(shopify, len(sent))
        lost, label = _lost_webhook_reconciled(stack, sent)
        sent += lost
        actions.update(label)
        checks = _check_all(shopify, sent, actions)
        ok = _summary(checks)
        (DEMO_DIR / "check.json").write_text(json.dumps([c.as_json() for c in checks], indent=2))
        matches = _reconciliation_report(sent)
        if once:
            return 0 if ok and matches else 1
        _serve(info)
        return 0
    finally:
        _stop(stack)


def _stop(stack: Stack) -> None:
    """After SIGHUP the terminal may be gone and the status line fail to show: stop regardless
    (a second stop is a no-op)."""
    try:
        with console.status("stopping…"):
            stack.stop()
    finally:
        stack.stop()


def _fresh_state() -> None:
    """The sandboxes start empty, so the connector's demo database must too."""
    private_directory(DEMO_DIR)  # it holds the sandbox secrets and the encryption keys
    for leftover in ("mlc.db", "mlc.db-wal", "mlc.db-shm", "demo.json", "check.json"):
        (DEMO_DIR / leftover).unlink(missing_ok=True)


def _mapping_file() -> Path:
    """The packaged default mapping, plus the European shop's own business unit and tax regime."""
    from connector.config import DEFAULT_MAPPING_FILE
    path = (DEMO_DIR / "mapping.toml").resolve()
    path.write_text(DEFAULT_MAPPING_FILE.read_text() + EU_MAPPING)
    return path


def _credentials() -> dict:
    """Fresh sandbox credentials per run: nothing secret is committed or reused. Each shop has an
    app (and so a client secret) of its own: two shops may not share one."""
    apps = {shop.domain: ("demo-app-" + secrets.token_hex(4), "shpss_" + secrets.token_hex(16)) for shop in SHOPS}
    return {"shopify_apps": apps,
            "shopify_client_id": apps[SHOP][0],
            "shopify_client_secret": apps[SHOP][1],
            "fusion_client_id": "mlc-demo-" + secrets.token_hex(4),
            "fusion_client_secret": secrets.token_urlsafe(24)}


def _configure(stack: Stack, creds: dict) -> None:
    from connector.config import load_settings
    from connector.db import session_scope
    from connector.services.context import Services
    from connector.services.setup import add_shop, set_fusion

    shopify, fusion = stack.urls["shopify_sandbox"], stack.urls["fusion_sandbox"]
    services = Services(load_settings())
    for shop in SHOPS:
        client_id, client_secret = creds["shopify_apps"][shop.domain]
        requests.put(f"{shopify}/_sandbox/shops/{shop.domain}", timeout=10, json={
            "client_id": client_id, "client_secret": client_secret,
            "webhook_url": f"{stack.urls['receiver']}/webhooks/shopify", "currency": shop.currency,
            "taxes_included": shop.taxes_included}).raise_for_status()
        with session_scope(services.settings.database_url) as session:
            add_shop(session, services.vault, domain=shop.domain, client_id=client_id,
                     client_secret=client_secret, prefix=shop.prefix,
                     admin_base_url=f"{shopify}/shops/{shop.domain}")
    with session_scope(services.settings.database_url) as session:
        set_fusion(session, services.vault, base_url=fusion, token_url=f"{fusion}/oauth2/v1/token",
                   client_id=creds["fusion_client_id"], scope=FUSION_SCOPE,
                   secret=creds["fusion_client_secret"])


def _fit(stack: Stack) -> None:
    """``ml-connector fit`` before the first order: the sandboxes and the demo's mapping fit, read
    as an operator would read a real pod and real shops (the receiver is the public URL here)."""
    from cli.main import print_fit
    from connector.config import load_settings
    from connector.db import session_scope
    from connector.services import fit
    from connector.services.context import Services

    services = Services(load_settings())
    with console.status("checking that the pod and the shops fit (ml-connector fit)…"):
        with session_scope(services.settings.database_url) as session:
            results = fit.run(services, session, public_url=stack.urls["receiver"])
    print_fit(results)


def _write_demo_json(stack: Stack, creds: dict) -> dict:
    info = {
        "receiver_url": stack.urls["receiver"],
        "admin_url": stack.urls.get("admin", ""),
        "shopify_url": stack.urls["shopify_sandbox"],
        "shop_domain": SHOP,
        "shop_domains": [shop.domain for shop in SHOPS],
        "shopify_client_id": creds["shopify_client_id"],
        "webhook_secret": creds["shopify_client_secret"],
        "webhook_secrets": {domain: secret for domain, (_, secret) in creds["shopify_apps"].items()},
        "fusion_url": stack.urls["fusion_sandbox"],
        "fusion_token_url": f"{stack.urls['fusion_sandbox']}/oauth2/v1/token",
        "fusion_client_id": creds["fusion_client_id"],
        "fusion_client_secret": creds["fusion_client_secret"],
        "fusion_scope": FUSION_SCOPE,
        "flower_url": stack.urls.get("flower", ""),
        "flower_user": stack.flower_user,
        "flower_password": stack.flower_password,
        "database_url": stack.database_url,
        "redis_url": stack.redis_url,
        "pids": stack.pids(),
    }
    write_private(DEMO_DIR / "demo.json", json.dumps(info, indent=2))  # it holds the sandbox secrets
    return info


def _write_demo_env(stack: Stack) -> None:
    """What the demo's processes run with, for the CLI in another terminal:
    ``set -a; . .demo/env; set +a`` and then ``ml-connector status`` (or replay, timeline, …)
    works on the running demo's database, Redis, keys and mapping; ``ml-connector fit`` checks the
    shops' webhooks against the receiver, the demo's public URL."""
    keys = ("DATABASE_URL", "REDIS_URL", "MLC_ENCRYPTION_KEYS", "MLC_ALLOW_HTTP", "MLC_MAPPING_FILE")
    values = {**{key: stack.env[key] for key in keys}, "MLC_PUBLIC_URL": stack.urls["receiver"]}
    # the encryption keys open every stored credential
    write_private(DEMO_DIR / "env", "".join(f"{key}={shlex.quote(value)}\n" for key, value in values.items()))


def _place_orders(stack: Stack, count: int) -> list[tuple[DemoShop, dict]]:
    shopify = stack.urls["shopify_sandbox"]
    batches = [(shop, round(count * shop.share)) for shop in SHOPS[:-1]]
    batches.append((SHOPS[-1], count - sum(n for _, n in batches)))
    sent: list[tuple[DemoShop, dict]] = []
    with console.status("placing generated orders in the Shopify sandbox…"):
        for shop, n in batches:
            cross_border = shop.taxes_included and n > 1  # the EU shop ships one order outside the EU
            n -= cross_border
            if n > 0:  # as a developer fills a dev store: the sandbox's own generator, over HTTP
                response = requests.post(f"{shopify}/_sandbox/shops/{shop.domain}/orders/generate",
                                         json={"count": n, "seed": SEED}, timeout=120)
                response.raise_for_status()
                sent += [(shop, order) for order in response.json()["orders"]]
            if cross_border:
                response = requests.post(f"{shopify}/_sandbox/shops/{shop.domain}/orders",
                                         json={"order": _cross_border_order(shop)}, timeout=30)
                response.raise_for_status()
                sent.append((shop, response.json()))
        sent.append((SHOPS[1], _b2b_order(shopify, SHOPS[1])))
    return sent


def _b2b_order(shopify: str, shop: DemoShop) -> dict:
    """A wholesale buyer's order: a B2B company's Berlin location orders on Net 30 with its PO
    number, billed in Fusion to the company's organization at that location's account."""
    company = requests.post(f"{shopify}/_sandbox/shops/{shop.domain}/companies", timeout=30, json={
        "name": "Möbelhaus Nord GmbH",
        "contact": {"email": "einkauf@moebelhaus-nord.example", "first_name": "Jonas", "last_name": "Berg"},
        "locations": [{"name": "Berlin", "billing_address": {
            "address1": "Friedrichstraße 120", "city": "Berlin", "zip": "10117", "country": "Germany",
            "country_code": "DE", "province_code": "BE"}}]})
    company.raise_for_status()
    company = company.json()
    response = requests.post(f"{shopify}/_sandbox/shops/{shop.domain}/orders", timeout=30, json={"order": {
        "company": {"id": company["id"], "location_id": company["locations"][0]["id"]},
        "payment_terms": {"payment_terms_name": "Net 30"}, "po_number": "MN-2026-0042",
        "currency": shop.currency, "taxes_included": shop.taxes_included, "financial_status": "pending",
        "line_items": [{"sku": "CHAIR-OAK", "title": "Oak chair", "quantity": 12, "price": "149.00",
                        "tax_lines": [{"title": "DE MwSt", "rate": "0.19"}]}],
        "shipping_lines": [{"title": "Freight", "code": "FREIGHT", "price": "80.00",
                            "tax_lines": [{"title": "DE MwSt", "rate": "0.19"}]}]}})
    response.raise_for_status()
    return response.json()


HISTORY = 8  # orders the US shop took before the connector was installed


def _backfilled_history(stack: Stack) -> list[tuple[DemoShop, dict]]:
    """The US shop's history: orders placed before the connector was installed (their webhooks
    never sent), imported as ``ml-connector backfill --since`` does, in the backlog lane."""
    from datetime import date

    from sqlalchemy import select

    from cli.main import backfill_table
    from connector.config import load_settings
    from connector.db import session_scope
    from connector.models import Shop
    from connector.services import backfill
    from connector.services.context import Services
    from workers.dispatch import send_backlog_after_commit

    shop = SHOPS[0]
    response = requests.post(f"{stack.urls['shopify_sandbox']}/_sandbox/shops/{shop.domain}/orders/generate",
                             params={"deliver": "false"}, json={"count": HISTORY, "seed": SEED + 1, "first": 10_000},
                             timeout=60)
    response.raise_for_status()
    history = [(shop, order) for order in response.json()["orders"]]
    since = date(2000, 1, 1)
    console.print(f"{shop.domain} has {len(history)} orders from before the connector was installed: "
                  f"ml-connector backfill --since {since} --shop {shop.domain}")
    services = Services(load_settings())
    with console.status("backfilling the history (a Shopify bulk operation, then the webhooks' flows)…"), \
            session_scope(services.settings.database_url) as session:
        row = session.scalar(select(Shop).where(Shop.domain == shop.domain))
        result = backfill.run(services, session, send_backlog_after_commit, row, since, poll_seconds=0.2)
    console.print(backfill_table([result]))
    return history


def _receipt_from_fusion(stack: Stack, sent: list[tuple[DemoShop, dict]],
                         actions: dict[tuple[str, int], list[str]]) -> dict[tuple[str, int], list[str]]:
    """Fusion → Shopify: the US shop turns ``push_fusion_receipts`` on (``ml-connector shops set
    --push-fusion-receipts``), a person enters a bank transfer in Fusion for an unpaid order's
    invoice, the receipts poll runs, and Shopify shows the order paid, once. The order's new
    label, by (shop, order id)."""
    from connector.config import load_settings
    from connector.db import session_scope
    from connector.services.context import Services
    from connector.services.setup import set_shop_options
    from workers.app import app

    shop, shopify, fusion = SHOPS[0], stack.urls["shopify_sandbox"], stack.urls["fusion_sandbox"]
    services = Services(load_settings())
    with session_scope(services.settings.database_url) as session:
        set_shop_options(session, shop.domain, push_fusion_receipts=True)
        client = services.fusion(session)
        for placed in (o for s, o in sent if s is shop and (s.domain, o["id"]) not in actions):
            order, transactions = shopify_order(shopify, shop.domain, placed["id"])
            if order["financial_status"] == "pending" and not transactions and not order.get("cancelled_at"):
                [invoice] = client.invoices.by_reference(order["admin_graphql_api_id"])
                break
        else:
            console.print("[yellow]no unpaid order to pay in Fusion[/yellow]")
            return {}
    amount = str(invoice["InvoiceBalanceAmount"])
    console.print(f"a person enters a bank transfer of {amount} {shop.currency} in Fusion for "
                  f"{invoice['TransactionNumber']} ({order['name']}); the receipts poll runs")
    _pay_in_fusion(fusion, invoice, amount)
    app.send_task("mlc.fusion.poll_receipts", queue="fusion_poll")
    deadline = time.monotonic() + 60
    with console.status(f"waiting for Shopify to show {order['name']} paid…"):
        while time.monotonic() < deadline:
            order, transactions = shopify_order(shopify, shop.domain, order["id"])
            if order["financial_status"] == "paid":
                break
            time.sleep(0.5)
    console.print(f"{shop.prefix} {order['name']} in Shopify: {order['financial_status']}, "
                  f"{len(transactions)} payment(s) recorded")
    return {(shop.domain, order["id"]): [f"receipt {amount} entered in Fusion → marked paid in Shopify"]}


def _lost_webhook_reconciled(stack: Stack, sent: list[tuple[DemoShop, dict]]
                             ) -> tuple[list[tuple[DemoShop, dict]], dict[tuple[str, int], list[str]]]:
    """A webhook Shopify never delivered: an order placed in the US shop with its webhooks
    suppressed, then one Shopify reconciliation (what beat's ``mlc.shopify.reconcile`` and
    ``ml-connector reconcile-shopify`` run) finds it missing and enqueues it through the same flow,
    and Fusion shows it invoiced. The order, and its label by (shop, order id)."""
    from cli.main import print_reconciled
    from connector.config import load_settings
    from connector.db import session_scope
    from connector.services import reconcile
    from connector.services.context import Services
    from workers.dispatch import send_after_commit

    shop, shopify = SHOPS[0], stack.urls["shopify_sandbox"]
    response = requests.post(f"{shopify}/_sandbox/shops/{shop.domain}/orders/generate", params={"deliver": "false"},
                             json={"count": 1, "seed": SEED + 2, "first": 20_000}, timeout=60)
    response.raise_for_status()
    [order] = response.json()["orders"]
    console.print(f"{shop.prefix} {order['name']} is placed and its webhooks are lost; "
                  f"the Shopify reconciliation runs (ml-connector reconcile-shopify)")
    services = Services(load_settings())
    with console.status("reconciling every shop's recent changes with what the connector has received…"), \
            session_scope(services.settings.database_url) as session:
        results = reconcile.run(services, session, send_after_commit)
    print_reconciled(results)
    _wait_quiet(shopify, len(sent) + 1)
    with session_scope(services.settings.database_url) as session:
        invoices = services.fusion(session).invoices.by_reference(order["admin_graphql_api_id"])
    found = ", ".join(f"{i['TransactionNumber']} ({i['EnteredAmount']} {i['InvoiceCurrencyCode']})" for i in invoices)
    console.print(f"{shop.prefix} {order['name']} in Fusion: " + (f"invoiced, {found}" if invoices else
                                                                  "[red]no invoice[/red]"))
    return [(shop, order)], {(shop.domain, order["id"]): ["webhook lost → found by the Shopify reconciliation"]}


def _reconciliation_report(sent: list[tuple[DemoShop, dict]]) -> bool:
    """``ml-connector reconcile --from D --to D`` over the days the demo's orders were processed:
    Shopify's figures against Fusion's, both read anew. Everything must match; a difference here
    is a defect of the connector (or of the report), said plainly, never hidden."""
    from datetime import date

    from cli.main import print_report
    from cli.report import build
    from connector.config import load_settings
    from connector.db import session_scope
    from connector.services.context import Services

    days = sorted(str(order["processed_at"])[:10] for _, order in sent)
    start, end = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    console.print(f"the reconciliation report: ml-connector reconcile --from {start} --to {end}")
    services = Services(load_settings())
    with console.status("reading every shop's orders and Fusion's documents for the report…"), \
            session_scope(services.settings.database_url) as session:
        report = build(services, session, start, end)
    print_report(report)
    if not report.matches:
        console.print("[red]the reconciliation report finds differences between Shopify and Fusion: "
                      "that is a defect (the orders above), not something the demo expects[/red]")
    return report.matches


def _pay_in_fusion(fusion: str, invoice: dict, amount: str) -> None:
    """What a person does in Fusion: a standard receipt for the customer account, applied to the
    invoice's installment (REST, as the sandbox's own user)."""
    creds = json.loads((DEMO_DIR / "demo.json").read_text())
    token = requests.post(f"{fusion}/oauth2/v1/token", auth=(creds["fusion_client_id"], creds["fusion_client_secret"]),
                          data={"grant_type": "client_credentials", "scope": FUSION_SCOPE}, timeout=10
                          ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "REST-Framework-Version": "4"}
    receipts = f"{fusion}/fscmRestApi/resources/11.13.18.05/standardReceipts"
    response = requests.post(receipts, headers=headers, timeout=10, json={
        "ReceiptNumber": f"BANK-{secrets.token_hex(4)}", "BusinessUnit": "US1 Business Unit",
        "ReceiptMethod": "Manual", "Amount": amount, "Currency": invoice["InvoiceCurrencyCode"],
        "CustomerAccountNumber": invoice["BillToCustomerNumber"]})
    response.raise_for_status()
    receipt = response.json()
    detail = requests.get(f"{fusion}/fscmRestApi/resources/11.13.18.05/receivablesInvoices/"
                          f"{invoice['CustomerTransactionId']}", headers=headers, timeout=10,
                          params={"expand": "receivablesInvoiceInstallments", "onlyData": "true"})
    detail.raise_for_status()
    [installment] = detail.json()["receivablesInvoiceInstallments"]["items"]
    requests.post(f"{receipts}/{receipt['StandardReceiptId']}/action/applyReceipt", timeout=10,
                  headers={**headers, "Content-Type": "application/vnd.oracle.adf.action+json"},
                  json={"appliedPaymentScheduleId": installment["InstallmentId"], "amountApplied": amount}
                  ).raise_for_status()


def _cross_border_order(shop: DemoShop) -> dict:
    """A paid order shipped to Switzerland: no EU VAT, Swiss import duty on the hoodies and a
    handling fee collected at checkout, each booked on its own memo line and account."""
    address = {"first_name": "Lena", "last_name": "Meier", "address1": "Bahnhofstrasse 10", "city": "Zürich",
               "zip": "8001", "country": "Switzerland", "country_code": "CH"}
    return {"email": "lena.meier@example.ch", "currency": shop.currency, "taxes_included": shop.taxes_included,
            "financial_status": "paid", "payment_gateway_names": ["shopify_payments"], "tags": "cross-border",
            "customer": {"email": "lena.meier@example.ch", "first_name": "Lena", "last_name": "Meier"},
            "billing_address": address, "shipping_address": address,
            "line_items": [{"sku": "HOOD-GRY-S", "title": "Hoodie", "variant_title": "Grey / S", "quantity": 2,
                            "price": "59.90", "tax_lines": [],
                            "duties": [{"price": "9.60", "harmonized_system_code": "611020",
                                        "country_code_of_origin": "PT", "tax_lines": []}]}],
            "shipping_lines": [{"title": "International", "code": "INTL", "price": "15.00", "tax_lines": []}],
            "additional_fees": [{"name": "Import handling", "price": "4.00"}]}


def _wait_quiet(shopify: str, orders: int, timeout: float = 180.0) -> bool:
    """Until Shopify has nothing left to deliver and the inbox nothing left to process; False
    when that did not happen in time (the check then names what is still waiting)."""
    from sqlalchemy import func, select

    from connector import flows
    from connector.config import load_settings
    from connector.db import session_scope
    from connector.models import BindingKind, InboxEvent, InboxState

    deadline = time.monotonic() + timeout
    quiet_since = None
    with Progress(console=console) as progress:
        task = progress.add_task("webhook events handled", total=None)
        while time.monotonic() < deadline:
            idle = requests.get(f"{shopify}/_sandbox/webhooks/idle", timeout=5).json().get("idle")
            with session_scope(load_settings().database_url) as session:
                stored = session.scalar(select(func.count()).select_from(InboxEvent))
                waiting = session.scalar(select(func.count()).select_from(InboxEvent)
                                         .where(InboxEvent.state == InboxState.received))
                arrived = session.scalar(select(func.count(func.distinct(InboxEvent.resource_id)))
                                         .where(InboxEvent.topic.in_(flows.topics_of(BindingKind.order))))
            progress.update(task, total=max(stored, 1), completed=stored - waiting,
                            description=f"webhook events handled ({min(arrived, orders)}/{orders} orders arrived)")
            if idle and waiting == 0 and arrived >= orders:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 1.0:
                    return True
            else:
                quiet_since = None
            time.sleep(0.5)
    return False


# -- the merchant's actions after the orders are placed -----------------------------------------

def _amount(obj: dict, key: str) -> Decimal:
    from connector.mapping.invoice import shop_amount
    return shop_amount(obj, key)


def _pending(order: dict) -> bool:
    return order["financial_status"] == "pending"


def _authorized(order: dict) -> bool:
    return order["financial_status"] == "authorized"


def _paid(order: dict) -> bool:
    return order["financial_status"] == "paid"


def _home(order: dict) -> bool:
    """In the shop's own currency: the sandbox does not re-price an edit in presentment money."""
    return order["presentment_currency"] == order["currency"]


def _goods(order: dict) -> list[dict]:
    return [li for li in order["line_items"] if not li.get("gift_card")]


def _lowerable(order: dict) -> bool:
    return any(li["quantity"] >= 2 for li in _goods(order))


def _no_gift_card(order: dict) -> bool:
    return not any(li.get("gift_card") for li in order["line_items"])


def _shipped(order: dict) -> bool:
    return any(Decimal(sl["discounted_price"]) > 0 for sl in order.get("shipping_lines", []))


def _plan(shop: DemoShop, orders: list[dict]) -> list[Step]:
    """Which order gets which action. Every action must be valid in the sandbox, and each goes to
    an order of its own while there are enough of them (an edited order is neither paid nor
    refunded afterwards), so that a failing check points at one flow.

    The steps follow a merchant's day: payments, edits (the sandbox edits no refunded order),
    refunds (only where something is left), a cancellation. The orders are shuffled from a fixed
    seed: the same actions on every run, without always picking the first orders.
    """
    rng = random.Random(f"{SEED}:{shop.prefix}")
    pool = [o for o in orders if _amount(o, "total_price") > 0]
    rng.shuffle(pool)
    used: set[int] = set()

    def take(*wanted) -> dict | None:
        for order in pool:
            if order["id"] not in used and all(w(order) for w in wanted):
                used.add(order["id"])
                return order
        return None

    steps: list[Step] = []

    def add(order: dict, build) -> None:
        steps.append(Step(shop, order, build))

    if order := take(_dutiable):
        add(order, _return_with_duty)

    if order := take(_pending):
        add(order, _pay(Decimal("0.3")))
    if order := take(_pending):
        add(order, _pay(Decimal("0.5")))
        add(order, _pay(None, "paid the rest"))
    if order := take(_authorized):
        add(order, _capture)
    elif order := take(_pending):
        add(order, _pay(None, "paid in full"))

    # An edit lowers an unpaid order, or a line the demo has just added (an edit down of a paid
    # order leaves the overpayment as cash on the receipt, which the tests show; the demo keeps its
    # summary to orders whose open balance tells the story).
    down = take(_pending, _home, _lowerable)
    if down:
        add(down, _change_quantity(-1))
    if order := take(_home, _pending) or take(_home, _paid):
        add(order, _change_quantity(+1))
    if order := take(_home, _paid) or take(_home, _pending):
        add(order, _add_line)
        if not down:  # then lower the line just added, which keeps the total above what was paid
            add(order, _change_quantity(-1, last=True))

    line = take(_paid, _no_gift_card) or take(_paid)
    if line:
        add(line, _refund(shipping=False))
    shipping = take(_paid, _shipped, _no_gift_card) or take(_paid, _shipped)
    if shipping:
        add(shipping, _refund(shipping=True))
    if whole := take(_paid, _no_gift_card) or take(_paid) or shipping:
        add(whole, _refund_rest)
    if fee := take(_paid, _no_gift_card):
        add(fee, _refund(shipping=False, restocking_fee=True))
    if goodwill := take(_paid):
        add(goodwill, _goodwill)
    if cancel := take(_paid) or line:
        add(cancel, _cancel)
    return steps


def _pay(share: Decimal | None, label: str = ""):
    def build(order: dict, transactions: list[dict]):
        outstanding = _amount(order, "total_outstanding")
        amount = outstanding if share is None else max(CENT, (outstanding * share).quantize(CENT))
        if outstanding <= 0:
            return None
        return ("POST", "transactions", {"kind": "sale", "amount": str(amount), "gateway": "shopify_payments"},
                f"{label or 'paid part'}: {amount} of {outstanding}")
    return build


def _capture(order: dict, transactions: list[dict]):
    authorizations = [t for t in transactions if t["kind"] == "authorization" and t["status"] == "success"]
    outstanding = _amount(order, "total_outstanding")
    if not authorizations or outstanding <= 0:
        return None
    auth = authorizations[-1]
    return ("POST", "transactions", {"kind": "capture", "amount": str(outstanding), "gateway": auth["gateway"],
                                     "parent_id": auth["id"]}, f"captured the authorization: {outstanding}")


def _lines(order: dict, change: dict[int, int]) -> list[dict]:
    """Every line, by id, with its new quantity: a line left out of an edit is removed."""
    return [{"id": li["id"], "quantity": li["quantity"] + change.get(li["id"], 0)} for li in order["line_items"]]


def _change_quantity(by: int, last: bool = False):
    def build(order: dict, transactions: list[dict]):
        goods = [li for li in _goods(order) if li["quantity"] + by >= 1]
        if not goods:
            return None
        target = goods[-1] if last else goods[0]
        before = target["quantity"]
        return ("PUT", "", {"line_items": _lines(order, {target["id"]: by})},
                f"edit: {target['title']} {before} → {before + by}")
    return build


def _add_line(order: dict, transactions: list[dict]):
    taxed = next((li for li in order["line_items"] if li.get("tax_lines")), {"tax_lines": []})
    mugs = {"title": "Mug", "sku": "MUG-01", "vendor": "Acme Home", "price": "12.00", "quantity": 2,
            "taxable": True, "requires_shipping": True,
            "tax_lines": [{"title": t["title"], "rate": t["rate"]} for t in taxed["tax_lines"]]}
    return "PUT", "", {"line_items": _lines(order, {}) + [mugs]}, "edit: + 2 × Mug"


def _left(order: dict) -> list[dict]:
    return [li for li in order["line_items"] if li.get("current_quantity", li["quantity"]) > 0]


def _refund(shipping: bool, restocking_fee: bool = False):
    def build(order: dict, transactions: list[dict]):
        goods = [li for li in _left(order) if not li.get("gift_card")] or _left(order)
        if not goods:
            return None
        body = {"refund_line_items": [{"line_item_id": goods[0]["id"], "quantity": 1, "restock_type": "return"}],
                "note": "returned"}
        if shipping:
            body["shipping"] = {"full_refund": True}
        fee = ""
        if restocking_fee:  # a tenth of the unit price, kept back (the sandbox's restocking_fee field)
            body["restocking_fee"] = str((Decimal(goods[0]["price"]) / 10).quantize(CENT))
            fee = f", {body['restocking_fee']} restocking fee kept"
        return ("POST", "refunds", body,
                f"refund: 1 × {goods[0]['title']}" + (" and the shipping" if shipping else "") + fee)
    return build


def _dutiable(order: dict) -> bool:
    return _paid(order) and any(li.get("duties") for li in order["line_items"])


def _return_with_duty(order: dict, transactions: list[dict]):
    """One unit back with its share of the import duty (Shopify's PROPORTIONAL duty refund)."""
    line = next(li for li in order["line_items"] if li.get("duties"))
    body = {"refund_line_items": [{"line_item_id": line["id"], "quantity": 1, "restock_type": "return"}],
            "refund_duties": [{"duty_id": duty["id"], "refund_type": "PROPORTIONAL"} for duty in line["duties"]],
            "note": "returned"}
    return "POST", "refunds", body, f"refund: 1 × {line['title']} with its share of the duty"


def _goodwill(order: dict, transactions: list[dict]):
    """An amount-only refund: money back, nothing returned."""
    paid = sum((_amount(t, "amount") * (1 if t["kind"] in ("sale", "capture") else -1) for t in transactions
                if t["status"] == "success" and t["kind"] in ("sale", "capture", "refund")), ZERO)
    amount = min(Decimal("5.00"), (paid / 10).quantize(CENT))
    if amount <= 0:
        return None
    return "POST", "refunds", {"transactions": [{"amount": str(amount)}], "note": "goodwill"}, \
        f"refund: {amount} goodwill, nothing returned"


def _refund_rest(order: dict, transactions: list[dict]):
    left = _left(order)
    shipped_back = {rsl["shipping_line_id"] for r in order.get("refunds", []) for rsl in r["refund_shipping_lines"]}
    shipping = any(sl["id"] not in shipped_back for sl in order.get("shipping_lines", []))
    if not left and not shipping:
        return None
    body = {"refund_line_items": [{"line_item_id": li["id"], "quantity": li.get("current_quantity", li["quantity"]),
                                   "restock_type": "return"} for li in left], "note": "returned"}
    if shipping:
        body["shipping"] = {"full_refund": True}
    return "POST", "refunds", body, "refund: everything left"


def _cancel(order: dict, transactions: list[dict]):
    return "POST", "cancel", {"reason": "customer"}, "cancelled"


def _drive(shopify: str, steps: list[Step]) -> dict[tuple[str, int], list[str]]:
    """Run the steps in order through the scenario API; what each order went through, by (shop,
    order id). A refused action is shown and kept in the record, not hidden."""
    done: dict[tuple[str, int], list[str]] = {}
    with Progress(console=console) as progress:
        task = progress.add_task("merchant actions", total=len(steps))
        for step in steps:
            order, transactions = shopify_order(shopify, step.shop.domain, step.order["id"])
            request = step.build(order, transactions)
            if request is not None:
                method, action, body, label = request
                url = f"{shopify}/_sandbox/shops/{step.shop.domain}/orders/{order['id']}"
                response = requests.request(method, f"{url}/{action}" if action else url, json=body, timeout=30)
                if response.status_code >= 300:
                    label = f"{label} REFUSED ({response.status_code}: {response.text[:200]})"
                done.setdefault((step.shop.domain, order["id"]), []).append(label)
                style = "red" if response.status_code >= 300 else "dim"
                progress.console.print(f"  [{style}]{step.shop.prefix} {order['name']}: {escape(label)}[/{style}]")
            progress.advance(task)
    return done


# -- reading back -------------------------------------------------------------------------------

def _check_all(shopify: str, sent: list[tuple[DemoShop, dict]],
               actions: dict[tuple[str, int], list[str]]) -> list[OrderCheck]:
    from connector.config import load_settings
    from connector.db import session_scope
    from connector.services.context import Services

    services = Services(load_settings())
    checks = []
    with console.status("reading every order back from Fusion's REST API…"), \
            session_scope(services.settings.database_url) as session:
        fusion = services.fusion(session)  # one Fusion client (and token) for every check
        events = {shop.domain: unfinished_events(session, shop.domain) for shop in SHOPS}
        pushed = _pushed_payments(session)
        for shop, placed in sent:
            order, transactions = shopify_order(shopify, shop.domain, placed["id"])
            check = check_order(fusion, shop.prefix, order, transactions, pushed.get(shop.domain))
            check.events = events[shop.domain].get(order["id"], [])
            check.actions = actions.get((shop.domain, order["id"]), [])
            checks.append(check)
    return checks


def _pushed_payments(session) -> dict[str, dict[str, str]]:
    """By shop: the payments the connector recorded in Shopify for receipts people entered in
    Fusion (their receipt is the person's, not ``<prefix>-T<id>``)."""
    from sqlalchemy import select

    from connector.models import Shop
    from connector.services.fusion_receipts import pushed_payments
    return {domain: pushed_payments(session, shop_id)
            for shop_id, domain in session.execute(select(Shop.id, Shop.domain))}


def _money(amount: Decimal | None, none: str = "-") -> str:
    return none if amount is None else str(amount)


def _summary(checks: list[OrderCheck]) -> bool:
    table = Table(title="ml-connector demo: Shopify orders → Fusion receivables (invoice, memos, receipts)")
    for column, justify in (("shop", "left"), ("order", "left"), ("after placing", "left"),
                            ("Shopify total", "right"), ("outstanding", "right"), ("invoice", "right"),
                            ("debits", "right"), ("credits", "right"), ("receipts", "right"),
                            ("open balance", "right"), ("1 2 3", "center"), ("events", "left")):
        table.add_column(column, justify=justify)
    for c in checks:
        marks = " ".join("[green]✓[/green]" if held else "[red]✗[/red]"
                         for held in (c.totals_hold, c.balance_holds, c.counts_hold))
        invoice = _money(c.invoice_total) + (f" ×{c.invoices}" if c.invoices > 1 else "")
        table.add_row(c.shop, c.name, escape("; ".join(c.actions)), str(c.charged), str(c.outstanding),
                      invoice, _money(c.debits if c.debit_memos else None),
                      _money(c.credits if c.credit_memos else None),
                      f"{c.receipts} ({len(c.receipt_numbers)})" if c.receipt_numbers else "-",
                      _money(c.balance), marks,
                      "[green]done[/green]" if not c.events else
                      "[red]" + ", ".join(sorted({e.verdict for e in c.events})) + "[/red]")
    console.print(table)
    console.print("(1) invoice + debits − credits = Shopify's current total (with refund discrepancies)   "
                  "(2) open balance = outstanding   "
                  "(3) one invoice per order, one credit memo per refund, one receipt per payment")
    failing = [c for c in checks if not c.ok]
    for c in failing:
        console.print(f"[red]✗[/red] {c.shop} {c.name}:")
        for reason in c.reasons():
            console.print(f"    {escape(reason)}")
    held = len(checks) - len(failing)
    console.print(f"orders: {len(checks)}   invoices in Fusion: {sum(c.invoices for c in checks)}   "
                  f"debit memos: {sum(len(c.debit_memos) for c in checks)}   "
                  f"credit memos: {sum(len(c.credit_memos) for c in checks)}   "
                  f"receipts: {sum(len(c.receipt_numbers) for c in checks)}   "
                  f"invariants hold: {held}/{len(checks)}")
    for shop in SHOPS:
        mine = [c for c in checks if c.shop == shop.prefix]

        def total(figure, mine=mine) -> Decimal:
            return sum((figure(c) or ZERO for c in mine), ZERO)
        ccy = shop.currency
        console.print(f"  {shop.domain}: Shopify {total(lambda c: c.charged)} {ccy} "
                      f"(outstanding {total(lambda c: c.outstanding)}), Fusion "
                      f"{total(lambda c: c.invoice_total)} + {total(lambda c: c.debits)} − "
                      f"{total(lambda c: c.credits)} = {total(lambda c: c.documents)} {ccy} "
                      f"(open {total(lambda c: c.balance)}, receipts {total(lambda c: c.receipts)})")
    return not failing


def _serve(info: dict) -> None:
    console.print("\n[bold]Everything keeps running.[/bold] Ctrl-C (or SIGTERM, SIGHUP) stops it.")
    for key in ("receiver_url", "admin_url", "shopify_url", "fusion_url", "flower_url"):
        console.print(f"  {key:14} {info[key]}")
    console.print(f"  Flower login   {info['flower_user']} (password in .demo/demo.json)")
    console.print("  credentials and process ids: .demo/demo.json")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
