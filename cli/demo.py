"""``ml-connector demo``: the whole pipeline on embedded defaults, fed by the Shopify sandbox.

Nothing but Python is needed: SQLite, the embedded Redis, both sandboxes. The demo configures a
shop and the Fusion pod exactly as an operator would (encrypted credentials, the sandbox URLs),
sends generated orders through the Shopify sandbox, waits until the pipeline is quiet, and checks
every order against Fusion's REST API.
"""
from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import requests
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from cli.stack import Stack, missing_extra

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
"""
FUSION_SCOPE = "urn:opc:resource:fa:instanceid=100000001urn:opc:resource:consumer::all"


@dataclass
class OrderCheck:
    shop: str
    name: str
    shopify_total: Decimal
    fusion_total: Decimal | None
    invoices: int
    state: str

    @property
    def matched(self) -> bool:
        return self.invoices == 1 and self.fusion_total == self.shopify_total


def run(*, once: bool, order_count: int) -> int:
    if problem := missing_extra():
        console.print(f"[red]cannot start the demo:[/red] {escape(problem)}")
        return 2
    _fresh_state()
    creds = _credentials()
    stack = Stack(DEMO_DIR, fusion_sandbox={"client_id": creds["fusion_client_id"],
                                            "client_secret": creds["fusion_client_secret"],
                                            "scope": FUSION_SCOPE},
                  shopify_sandbox={}, extra_env={"MLC_MAPPING_FILE": str(_mapping_file())})
    with console.status("starting Redis, the sandboxes, the receiver, workers, beat and Flower…"):
        stack.start()
    try:
        stack.wait_for_workers()
        _configure(stack, creds)
        info = _write_demo_json(stack, creds)
        checks = _push_orders(stack, order_count)
        ok = _summary(checks)
        if once:
            return 0 if ok else 1
        _serve(info)
        return 0
    finally:
        with console.status("stopping…"):
            stack.stop()


def _fresh_state() -> None:
    """The sandboxes start empty, so the connector's demo database must too."""
    DEMO_DIR.mkdir(exist_ok=True)
    for leftover in ("mlc.db", "mlc.db-wal", "mlc.db-shm", "demo.json"):
        (DEMO_DIR / leftover).unlink(missing_ok=True)


def _mapping_file() -> Path:
    """The packaged default mapping, plus the European shop's own business unit and tax regime."""
    from connector.config import DEFAULT_MAPPING_FILE
    path = (DEMO_DIR / "mapping.toml").resolve()
    path.write_text(DEFAULT_MAPPING_FILE.read_text() + EU_MAPPING)
    return path


def _credentials() -> dict:
    """Fresh sandbox credentials per run: nothing secret is committed or reused."""
    return {"shopify_client_id": "demo-app-" + secrets.token_hex(4),
            "shopify_client_secret": "shpss_" + secrets.token_hex(16),
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
        requests.put(f"{shopify}/_sandbox/shops/{shop.domain}", timeout=10, json={
            "client_id": creds["shopify_client_id"], "client_secret": creds["shopify_client_secret"],
            "webhook_url": f"{stack.urls['receiver']}/webhooks/shopify", "currency": shop.currency,
            "taxes_included": shop.taxes_included}).raise_for_status()
        with session_scope(services.settings.database_url) as session:
            add_shop(session, services.vault, domain=shop.domain, client_id=creds["shopify_client_id"],
                     client_secret=creds["shopify_client_secret"], prefix=shop.prefix,
                     admin_base_url=f"{shopify}/shops/{shop.domain}")
    with session_scope(services.settings.database_url) as session:
        set_fusion(session, services.vault, base_url=fusion, token_url=f"{fusion}/oauth2/v1/token",
                   client_id=creds["fusion_client_id"], scope=FUSION_SCOPE,
                   secret=creds["fusion_client_secret"])


def _write_demo_json(stack: Stack, creds: dict) -> dict:
    info = {
        "receiver_url": stack.urls["receiver"],
        "shopify_url": stack.urls["shopify_sandbox"],
        "shop_domain": SHOP,
        "shop_domains": [shop.domain for shop in SHOPS],
        "shopify_client_id": creds["shopify_client_id"],
        "webhook_secret": creds["shopify_client_secret"],
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
    path = DEMO_DIR / "demo.json"
    path.write_text(json.dumps(info, indent=2))
    path.chmod(0o600)  # it holds the sandbox secrets
    return info


def _push_orders(stack: Stack, count: int) -> list[OrderCheck]:
    shopify = stack.urls["shopify_sandbox"]
    batches = [(shop, round(count * shop.share)) for shop in SHOPS[:-1]]
    batches.append((SHOPS[-1], count - sum(n for _, n in batches)))
    sent: list[tuple[DemoShop, dict]] = []
    with console.status("placing generated orders in the Shopify sandbox…"):
        for shop, n in batches:
            if n > 0:  # as a developer fills a dev store: the sandbox's own generator, over HTTP
                response = requests.post(f"{shopify}/_sandbox/shops/{shop.domain}/orders/generate",
                                         json={"count": n, "seed": 7}, timeout=120)
                response.raise_for_status()
                sent += [(shop, order) for order in response.json()["orders"]]
    _wait_quiet(shopify, len(sent))
    from connector.config import load_settings
    from connector.services.context import Services
    services = Services(load_settings())  # one Fusion client (and token) for every check
    return [_check(services, shop, order) for shop, order in sent]


def _wait_quiet(shopify: str, orders: int, timeout: float = 180.0) -> None:
    from sqlalchemy import func, select

    from connector import flows
    from connector.config import load_settings
    from connector.db import session_scope
    from connector.models import BindingKind, InboxEvent, InboxState

    deadline = time.monotonic() + timeout
    quiet_since = None
    with Progress(console=console) as progress:
        task = progress.add_task("orders arriving at the connector by webhook", total=orders)
        while time.monotonic() < deadline:
            idle = requests.get(f"{shopify}/_sandbox/webhooks/idle", timeout=5).json().get("idle")
            with session_scope(load_settings().database_url) as session:
                waiting = session.scalar(select(func.count()).select_from(InboxEvent)
                                         .where(InboxEvent.state == InboxState.received))
                arrived = session.scalar(select(func.count(func.distinct(InboxEvent.resource_id)))
                                         .where(InboxEvent.topic.in_(flows.topics_of(BindingKind.order))))
            progress.update(task, completed=min(arrived, orders))
            if idle and waiting == 0 and arrived >= orders:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 1.0:
                    return
            else:
                quiet_since = None
            time.sleep(0.5)


def _check(services, shop: DemoShop, order: dict) -> OrderCheck:
    from sqlalchemy import select

    from connector.db import session_scope
    from connector.mapping.invoice import order_total
    from connector.models import Binding, BindingKind

    with session_scope(services.settings.database_url) as session:
        binding = session.scalar(select(Binding).where(Binding.kind == BindingKind.order,
                                                       Binding.shopify_id == str(order["id"])))
        invoices = services.fusion(session).invoices.by_reference(order["admin_graphql_api_id"])
    fusion_total = Decimal(str(invoices[0]["EnteredAmount"])) if invoices else None
    return OrderCheck(shop.prefix, order.get("name", str(order["id"])), order_total(order), fusion_total, len(invoices),
                      binding.state.value if binding else "missing")


def _summary(checks: list[OrderCheck]) -> bool:
    table = Table(title="ml-connector demo: Shopify orders → Fusion receivables invoices")
    for column in ("shop", "order", "Shopify total", "Fusion invoice total", "invoices", "state", "match"):
        table.add_column(column)
    for c in checks:
        table.add_row(c.shop, c.name, str(c.shopify_total), "-" if c.fusion_total is None else str(c.fusion_total),
                      str(c.invoices), c.state, "[green]yes[/green]" if c.matched else "[red]NO[/red]")
    console.print(table)
    matched = sum(c.matched for c in checks)
    console.print(f"orders sent: {len(checks)}   invoices in Fusion: {sum(c.invoices for c in checks)}   "
                  f"totals matched to the cent: {matched}/{len(checks)}")
    for shop in SHOPS:
        mine = [c for c in checks if c.shop == shop.prefix]
        shopify_sum = sum((c.shopify_total for c in mine), Decimal("0"))
        fusion_sum = sum((c.fusion_total or Decimal("0") for c in mine), Decimal("0"))
        console.print(f"  {shop.domain}: Shopify {shopify_sum} {shop.currency}, Fusion {fusion_sum} {shop.currency}")
    return matched == len(checks)


def _serve(info: dict) -> None:
    console.print("\n[bold]Everything keeps running.[/bold] Ctrl-C stops it.")
    for key in ("receiver_url", "shopify_url", "fusion_url", "flower_url"):
        console.print(f"  {key:14} {info[key]}")
    console.print(f"  Flower login   {info['flower_user']} (password in .demo/demo.json)")
    console.print("  credentials and process ids: .demo/demo.json")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
