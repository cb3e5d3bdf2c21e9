"""``ml-connector``: thin commands over the connector's services.

Secrets are read from a hidden prompt or from standard input (``--secret-stdin``), never from
the command line, where they would land in shell history and process listings.
"""
from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from connector.config import ConfigError, load_settings
from connector.db import session_scope

console = Console()


def _services():
    from connector.services.context import Services
    return Services(load_settings())


def _read_secret(label: str, from_stdin: bool) -> str:
    if from_stdin:
        secret = sys.stdin.readline().strip()
    else:
        secret = click.prompt(label, hide_input=True).strip()
    if not secret:
        raise click.UsageError(f"{label} must not be empty")
    return secret


@click.group()
def cli() -> None:
    """Shopify → Oracle Fusion Receivables connector."""


def main() -> None:
    try:
        cli(standalone_mode=True)
    except ConfigError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        sys.exit(2)


# -- database ------------------------------------------------------------------------------

@cli.group()
def db() -> None:
    """The connector's database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (safe to run at each deploy)."""
    from connector.migrate import upgrade
    upgrade(load_settings().database_url)
    console.print("database is up to date")


# -- keys ---------------------------------------------------------------------------------

@cli.group()
def keys() -> None:
    """Encryption keys for stored credentials (MLC_ENCRYPTION_KEYS)."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new Fernet key to put first in MLC_ENCRYPTION_KEYS."""
    from connector.vault import generate_key
    click.echo(generate_key())


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every credential and data-subject key with the first key of MLC_ENCRYPTION_KEYS."""
    services = _services()
    with session_scope(services.settings.database_url) as session:
        count = services.vault.rotate(session)
        subjects = services.keyring.rotate(session)
    console.print(f"re-encrypted {count} credential(s) and {subjects} data-subject key(s) with the current key")


# -- shops and the Fusion pod -------------------------------------------------------------

@cli.group()
def shops() -> None:
    """Shopify shops the connector serves."""


@shops.command("add")
@click.argument("domain")
@click.option("--client-id", required=True, help="The app's client id (API key).")
@click.option("--api-version", default="2026-01", show_default=True)
@click.option("--prefix", default="", help="Fusion transaction number prefix (default: from the domain).")
@click.option("--admin-url", default="", help="Admin API base URL (default https://DOMAIN; a sandbox sets its own).")
@click.option("--secret-stdin", is_flag=True, help="Read the client secret from standard input.")
def shops_add(domain, client_id, api_version, prefix, admin_url, secret_stdin) -> None:
    """Add or update a shop; the client secret (also the webhook signing secret) is stored encrypted."""
    from connector.services.setup import add_shop
    secret = _read_secret("Client secret", secret_stdin)
    services = _services()
    with session_scope(services.settings.database_url) as session:
        shop = add_shop(session, services.vault, domain=domain, client_id=client_id, client_secret=secret,
                        api_version=api_version, prefix=prefix, admin_base_url=admin_url)
        console.print(f"shop {shop.domain} saved (transaction prefix {shop.transaction_prefix})")


@shops.command("set")
@click.argument("domain")
@click.option("--push-fusion-receipts/--no-push-fusion-receipts", default=None,
              help="Record receipts people enter in Fusion for this shop's orders as Shopify payments.")
@click.option("--reread-from-admin/--no-reread-from-admin", default=None,
              help="Act on each order, refund and customer event as the Admin API holds the object, "
                   "never as the webhook body says.")
def shops_set(domain, **options) -> None:
    """Change a shop's options."""
    from connector.services.setup import set_shop_options
    options = {name: on for name, on in options.items() if on is not None}
    if not options:
        raise click.UsageError("name an option to set, e.g. --push-fusion-receipts or --reread-from-admin")
    with session_scope(load_settings().database_url) as session:
        shop = set_shop_options(session, domain, **options)
        console.print(f"shop {shop.domain}: receipts entered in Fusion are "
                      f"{'pushed to Shopify' if shop.push_fusion_receipts else 'not pushed to Shopify'}; events are "
                      f"{'read again from the Admin API' if shop.reread_from_admin else 'acted on as delivered'}")


@shops.command("list")
def shops_list() -> None:
    from sqlalchemy import select

    from connector.models import Shop
    table = Table("domain", "client id", "API version", "prefix", "admin URL", "token", "state",
                  "pushes Fusion receipts", "re-reads from Admin API")
    with session_scope(load_settings().database_url) as session:
        for shop in session.scalars(select(Shop).order_by(Shop.domain)):
            table.add_row(shop.domain, shop.client_id, shop.api_version, shop.transaction_prefix,
                          shop.admin_base_url or f"https://{shop.domain}", shop.token_mode, shop.auth_state,
                          "yes" if shop.push_fusion_receipts else "no", "yes" if shop.reread_from_admin else "no")
    console.print(table)


@shops.command("token")
@click.argument("domain")
@click.option("--mode", type=click.Choice(["expiring", "offline", "client-credentials"]), default="expiring",
              show_default=True, help="expiring: an expiring offline token and its refresh token; offline: a "
              "non-expiring offline token; client-credentials: none, the grant fetches one.")
@click.option("--expires-in", type=int, default=None,
              help="Seconds the access token lives (Shopify's expires_in; default 3600 for an expiring token).")
@click.option("--refresh-expires-in", type=int, default=None,
              help="Seconds the refresh token lives (Shopify's refresh_token_expires_in; default 90 days).")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read the tokens from standard input: Shopify's token answer as JSON, or the access token "
                   "and (expiring) the refresh token on two lines.")
@click.option("--no-replay", is_flag=True, help="Leave the events parked while the shop needed reauthorization.")
def shops_token(domain, mode, expires_in, refresh_expires_in, from_stdin, no_replay) -> None:
    """Install a fresh Shopify token for a shop (after the app was reinstalled or reauthorized),
    clear its "reauthorize" state and replay the events parked meanwhile. The tokens are stored
    encrypted and never printed."""
    from connector.models import TokenMode
    from connector.services import shop_auth, shop_tokens
    token_mode = TokenMode(mode.replace("-", "_"))
    grant = None if token_mode == TokenMode.client_credentials else _read_grant(
        token_mode, from_stdin, expires_in, refresh_expires_in)
    services = _services()
    with session_scope(services.settings.database_url) as session:
        shop = _shop(session, domain)
        shop_tokens.install(services, session, shop, token_mode, grant)
        parked = shop_auth.parked_for_reauthorization(session, shop.id)
        expires = shop.access_token_expires_at
    console.print(f"{token_mode.value} token installed for {domain}"
                  + (f" (expires {expires:%Y-%m-%d %H:%M:%S} UTC)" if expires else "") + "; state ok")
    if parked and not no_replay:
        from workers.app import app
        for inbox_id in parked:
            app.send_task("mlc.inbox.replay", args=[inbox_id])
        console.print(f"queued {len(parked)} replay(s) of events parked while the shop needed reauthorization")
    elif parked:
        console.print(f"{len(parked)} event(s) stay parked: `ml-connector replay {' '.join(map(str, parked))}`")


def _read_grant(mode, from_stdin: bool, expires_in, refresh_expires_in):
    import json

    from connector.models import TokenMode
    from connector.shopify.oauth import Grant
    expiring = mode == TokenMode.expiring
    if from_stdin:
        raw = sys.stdin.read().strip()
        if raw.startswith("{"):
            try:
                answer = json.loads(raw)
            except ValueError:
                raise click.UsageError("standard input is not Shopify's token answer (JSON)") from None
            access, refresh = str(answer.get("access_token") or ""), str(answer.get("refresh_token") or "")
            expires_in = expires_in if expires_in is not None else answer.get("expires_in")
            refresh_expires_in = (refresh_expires_in if refresh_expires_in is not None
                                  else answer.get("refresh_token_expires_in"))
        else:
            lines = [line.strip() for line in raw.splitlines()] + ["", ""]
            access, refresh = lines[0], lines[1]
    else:
        access = _read_secret("Access token", False)
        refresh = _read_secret("Refresh token", False) if expiring else ""
    if not access or (expiring and not refresh):
        raise click.UsageError("an expiring token needs the access token and the refresh token" if expiring
                               else "the access token is empty")
    if expiring:
        expires_in = 3600 if expires_in is None else int(expires_in)
        refresh_expires_in = 90 * 24 * 3600 if refresh_expires_in is None else int(refresh_expires_in)
        return Grant(access, expires_in, refresh, refresh_expires_in)
    return Grant(access, None)


@cli.group()
def fusion() -> None:
    """The Oracle Fusion pod."""


@fusion.command("set")
@click.option("--base-url", required=True, help="https://<pod>.fa.<dc>.oraclecloud.com")
@click.option("--token-url", default="", help="OAuth token endpoint of the pod's identity domain.")
@click.option("--client-id", default="")
@click.option("--scope", default="", help="The Fusion resource scope (urn:opc:resource:fa:instanceid=…).")
@click.option("--auth", "auth_mode", type=click.Choice(["oauth", "basic"]), default="oauth", show_default=True)
@click.option("--username", default="", help="Integration user, with --auth basic.")
@click.option("--secret-stdin", is_flag=True, help="Read the client secret (or password) from standard input.")
def fusion_set(base_url, token_url, client_id, scope, auth_mode, username, secret_stdin) -> None:
    """Store the pod's endpoint and credentials (secret encrypted)."""
    from connector.services.setup import set_fusion
    label = "Password" if auth_mode == "basic" else "Client secret"
    secret = _read_secret(label, secret_stdin)
    services = _services()
    with session_scope(services.settings.database_url) as session:
        set_fusion(session, services.vault, base_url=base_url, token_url=token_url, client_id=client_id,
                   scope=scope, secret=secret, auth_mode=auth_mode, username=username)
    console.print(f"Fusion pod saved ({auth_mode} auth)")


@cli.command()
def ping() -> None:
    """Check each configured shop and the Fusion pod with one cheap authenticated call."""
    from connector.services.setup import ping_all
    services = _services()
    with session_scope(services.settings.database_url) as session:
        checks = ping_all(services, session)
    table = Table("system", "result", "detail")
    for check in checks:
        table.add_row(check.target, "[green]ok[/green]" if check.ok else "[red]FAILED[/red]", check.detail)
    console.print(table)
    sys.exit(0 if all(c.ok for c in checks) else 1)


@cli.command()
@click.option("--shop", "shop_domain", default="", help="Check this shop only (default: every shop).")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON (check, status, detail, fix, scope).")
def fit(shop_domain, as_json) -> None:
    """See if we fit: read-only checks of the Fusion pod's set-up against the mapping, the
    integration user's access and each shop's scopes and webhooks; exit 1 if any check fails."""
    from connector.services import fit as fitness
    services = _services()
    with session_scope(services.settings.database_url) as session:
        results = fitness.run(services, session, shop_domain)
    if as_json:
        import json
        click.echo(json.dumps([r.as_json() for r in results], indent=2))
    else:
        print_fit(results)
    sys.exit(1 if fitness.failed(results) else 0)


def print_fit(results) -> None:
    """The checklist, a line per check and the fix under each one that is not ok, grouped by what
    it is about (the pod and the mapping, then each shop). The demo prints it too."""
    from rich.markup import escape
    marks = {"ok": "[green]✓[/green]", "fail": "[red]✗[/red]", "unknown": "[yellow]?[/yellow]"}
    scopes = dict.fromkeys(r.scope for r in results)
    for scope in scopes:
        console.rule(f"fit: {escape(scope)}" if scope else "fit: the Fusion pod and the mapping")
        for r in (r for r in results if r.scope == scope):
            console.print(f"{marks[r.status]} [bold]{escape(r.check)}[/bold]  {escape(r.detail)}")
            if r.fix and r.status != "ok":
                console.print(f"    [dim]fix:[/dim] {escape(r.fix)}")
    counts = {status: sum(r.status == status for r in results) for status in marks}
    verdict = "[red]does not fit[/red]" if counts["fail"] else "[green]fits[/green]"
    console.print(f"{verdict}: {counts['ok']} ok, {counts['fail']} failed, {counts['unknown']} unknown")


# -- operations ---------------------------------------------------------------------------

@cli.command()
@click.argument("inbox_id", type=int, required=False)
def status(inbox_id) -> None:
    """Inbox events by topic and state, bindings by kind, and the latest failures;
    with INBOX_ID, that event and each of its processing attempts."""
    if inbox_id is not None:
        _show_event(inbox_id)
        return
    from connector.services import status as report
    with session_scope(load_settings().database_url) as session:
        table = Table("topic", "queue", "state", "count", "note", title="inbox")
        for row in report.inbox_counts(session):
            table.add_row(row.topic, row.queue or "-", row.state, str(row.count), row.deferred)
        console.print(table)
        table = Table("kind", "state", "count", title="bindings")
        for kind, state, count in report.binding_counts(session):
            table.add_row(kind, state, str(count))
        console.print(table)
        _show_shops(session)
        _show_backfills(session)
        _show_fusion_poll(session)
        failures = report.recent_failures(session)
        if failures:
            table = Table("inbox id", "topic", "object", "attempt", "outcome", "when", "error",
                          title="latest failed attempts (`ml-connector status ID` for one event)")
            for event, attempt in failures:
                table.add_row(str(event.id), event.topic, event.resource_id, str(attempt.number),
                              attempt.outcome.value, f"{attempt.started_at:%Y-%m-%d %H:%M:%S}", attempt.error[:160])
            console.print(table)


def _show_shops(session) -> None:
    """Each shop's Shopify token and whether the connector may use it ("reauthorize": its events park)."""
    from connector.services import status as report
    shops = report.shop_tokens(session)
    if not shops:
        return
    table = Table("shop", "token", "expires (UTC)", "state", "why", title="Shopify shops")
    for shop in shops:
        state = shop.auth_state if shop.auth_state == "ok" else f"[red]{shop.auth_state}[/red]"
        why = (f"{shop.auth_reason}; run `ml-connector shops token {shop.domain}`"
               if shop.auth_state != "ok" else "")
        table.add_row(shop.domain, shop.token_mode,
                      f"{shop.access_token_expires_at:%Y-%m-%d %H:%M:%S}" if shop.access_token_expires_at else "-",
                      state, why)
    console.print(table)


def _show_backfills(session) -> None:
    """Each shop's running or last backfills (``ml-connector backfill``), from their checkpoints."""
    from connector.services import status as report
    rows = report.backfills(session, _services().redis)
    if not rows:
        return
    colours = {"running": "cyan", "complete": "green", "partial": "yellow", "interrupted": "yellow", "stopped": "red"}
    table = Table("shop", "since", "state", "listed", "done", "events stored", "stopped after order", "started (UTC)",
                  "last written (UTC)", "error", title="backfills (run `ml-connector backfill` again to resume)")
    for shop, state, stored in rows:
        colour = colours.get(state.state, "white")
        table.add_row(shop, state.since, f"[{colour}]{state.state}[/{colour}]", str(state.listed), str(state.done),
                      str(stored), state.after or "-", state.started_at.replace("T", " ")[:19] or "-",
                      state.updated_at.replace("T", " ")[:19] or "-", state.error[:120])
    console.print(table)


def _show_fusion_poll(session) -> None:
    """What the Fusion poller read: each resource's watermark, the documents' states as Fusion
    reports them, and the latest changes made there."""
    from connector.services import status as report
    table = Table("pod", "resource", "read up to (LastUpdateDate)", "last poll", "requests", "read", "changed",
                  "unknown", "error", title="Fusion polling")
    for mark in report.poll_watermarks(session):
        table.add_row(mark.pod, mark.resource, mark.watermark or "-",
                      f"{mark.polled_at:%Y-%m-%d %H:%M:%S}" if mark.polled_at else "-", str(mark.requests),
                      str(mark.read), str(mark.changed), str(mark.ignored), mark.last_error[:120])
    console.print(table)
    states = report.fusion_states(session)
    if states:
        table = Table("kind", "Fusion status", "documents", "open balance", title="documents as Fusion reports them")
        for kind, status, count, open_ in states:
            table.add_row(kind, status, str(count), str(open_))
        console.print(table)
    changes = report.changed_in_fusion(session)
    if changes:
        table = Table("when", "document", "number", "order", "before", "after", "by",
                      title="latest changes made in Fusion")
        for row in changes:
            table.add_row(f"{row.occurred_at:%Y-%m-%d %H:%M:%S}", row.detail.get("document", ""),
                          row.detail.get("number", ""), row.detail.get("order_id", ""),
                          report.state_text(row.detail.get("before")), report.state_text(row.detail.get("after")),
                          row.detail.get("last_updated_by", ""))
        console.print(table)


@cli.command()
@click.argument("order_id")
@click.option("--shop", "shop_domain", default="", help="The shop (needed when several are set up).")
@click.option("--calls", is_flag=True, help="Also list each call to Shopify and Fusion.")
def timeline(order_id, shop_domain, calls) -> None:
    """What happened to one order, oldest first: its webhooks, what the connector booked in Fusion,
    and what changed in Fusion afterwards (paid, credited, completed by a person there)."""
    from connector.services import status as report
    with session_scope(load_settings().database_url) as session:
        shop = _shop(session, shop_domain)
        rows = report.timeline(session, shop.id, order_id.rsplit("/", 1)[-1], calls=calls)
        table = Table("when", "what", "object", "detail", title=f"order {order_id} of {shop.domain}")
        for when, what, subject, detail in rows:
            table.add_row(f"{when:%Y-%m-%d %H:%M:%S}", what, subject, detail)
        console.print(table)


def _show_event(inbox_id: int) -> None:
    """One inbox event and every attempt to process it: why it is where it is."""
    from connector.models import InboxEvent
    from connector.services import status as report
    with session_scope(load_settings().database_url) as session:
        event = session.get(InboxEvent, inbox_id)
        if event is None:
            raise click.UsageError(f"no inbox event {inbox_id}")
        console.print(f"inbox event {event.id}: {event.topic} for {event.resource_id} of {event.shop.domain}, "
                      f"[bold]{event.state.value}[/bold] after {event.attempts} attempt(s)")
        if event.last_error:
            console.print(f"last message: {event.last_error}")
        table = Table("#", "task", "worker", "started", "finished", "outcome", "Fusion calls", "error")
        for attempt in report.attempts(session, inbox_id):
            table.add_row(str(attempt.number), attempt.task_id, attempt.worker,
                          f"{attempt.started_at:%Y-%m-%d %H:%M:%S}",
                          f"{attempt.finished_at:%H:%M:%S}" if attempt.finished_at else "-",
                          attempt.outcome.value, str(attempt.fusion_calls), attempt.error)
        console.print(table)


@cli.command()
@click.argument("order_file", type=click.File("r"), required=False)
@click.option("--order", "order_id", default="", help="An order id or GID: its newest stored order event.")
@click.option("--refund", "refund_file", type=click.File("r"), help="A refunds/create payload (JSON).")
@click.option("--shop", "shop_domain", default="", help="The shop (needed with ORDER_FILE when several are set up).")
def preview(order_file, order_id, refund_file, shop_domain) -> None:
    """Print the Fusion requests an order (and a refund) would produce; nothing is sent."""
    import json

    from connector.services import preview as previews
    if bool(order_file) == bool(order_id):
        raise click.UsageError("give ORDER_FILE or --order, one of them")
    services = _services()
    with session_scope(services.settings.database_url) as session:
        if order_file:
            order, shop = json.load(order_file), _shop(session, shop_domain)
        else:
            order, shop = _stored_order(session, order_id)
        result = previews.preview(services, session, shop, order, json.load(refund_file) if refund_file else None)
    for request in result.requests:
        console.rule(f"{request.what}: {request.method} {request.target}")
        if isinstance(request.body, str):
            console.print(request.body, markup=False)
        elif request.body is not None:
            console.print_json(json.dumps(request.body, default=str))
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}")


def _shop(session, domain: str):
    from sqlalchemy import select

    from connector.models import Shop
    shops = session.scalars(select(Shop).where(Shop.domain == domain.lower()) if domain else select(Shop)).all()
    if len(shops) != 1:
        raise click.UsageError("name the shop with --shop" if shops else f"no shop {domain or ''} is set up")
    return shops[0]


def _stored_order(session, order_id: str):
    from sqlalchemy import select

    from connector import flows, jsonutil
    from connector.models import BindingKind, InboxEvent
    numeric = order_id.rsplit("/", 1)[-1]
    event = session.scalar(select(InboxEvent).where(
        InboxEvent.resource_id == numeric, InboxEvent.topic.in_(flows.topics_of(BindingKind.order)),
        InboxEvent.body_erased_at.is_(None))
        .order_by(InboxEvent.id.desc()).limit(1))
    if event is None:
        raise click.UsageError(f"no order event for {order_id} is stored")
    return jsonutil.loads(event.body), event.shop


@cli.command()
@click.argument("inbox_ids", nargs=-1, type=int)
@click.option("--all-parked", is_flag=True, help="Replay every parked and dead event.")
@click.option("--show", "show", is_flag=True, help="Print the events and their attempts instead of replaying.")
def replay(inbox_ids, all_parked, show) -> None:
    """Process parked, dead or deferred inbox events again (after fixing data or set-up)."""
    from sqlalchemy import select

    from connector.models import InboxEvent, InboxState
    ids = list(inbox_ids)
    if all_parked:
        with session_scope(load_settings().database_url) as session:
            ids += session.scalars(select(InboxEvent.id).where(
                InboxEvent.state.in_([InboxState.parked, InboxState.dead]))).all()
    if not ids:
        raise click.UsageError("name inbox ids or use --all-parked")
    if show:
        for inbox_id in ids:
            _show_event(inbox_id)
        return
    from workers.app import app
    for inbox_id in ids:
        app.send_task("mlc.inbox.replay", args=[inbox_id])
    console.print(f"queued {len(ids)} replay(s)")


@cli.command("reconcile-shopify")
@click.option("--shop", "shop_domain", default="", help="Only this shop (default: every shop).")
@click.option("--days", type=float, default=None,
              help="How many days back (default: MLC_SHOPIFY_RECONCILE_DAYS).")
def reconcile_shopify(shop_domain, days) -> None:
    """Enqueue the orders, refunds and customers Shopify changed lately whose webhook never
    arrived (what beat's mlc.shopify.reconcile does), and print what was found."""
    from connector.services import reconcile
    from workers.dispatch import send_after_commit
    if days is not None and days <= 0:
        raise click.UsageError("--days must be more than 0")
    services = _services()
    with session_scope(services.settings.database_url) as session:
        results = reconcile.run(services, session, send_after_commit, shop_domain=shop_domain or None, days=days)
    if shop_domain and not results:
        raise click.UsageError(f"no shop {shop_domain!r}")
    print_reconciled(results)
    sys.exit(1 if any(r.error for r in results) else 0)


def print_reconciled(results) -> None:
    """What a Shopify reconciliation listed and enqueued, per shop and per object (the command's
    and the demo's)."""
    summary = Table("shop", "orders", "refunds", "customers", "enqueued", "result")
    found = Table("shop", "object", "id", "why", "topic", "updated at", "inbox id")
    for result in results:
        summary.add_row(result.shop, str(result.orders), str(result.refunds), str(result.customers),
                        str(result.enqueued), f"[red]{result.error}[/red]" if result.error else "[green]ok[/green]")
        for f in result.found:
            found.add_row(result.shop, f.kind, f.shopify_id, f.reason, f.topic, f.updated_at,
                          str(f.inbox_id) if f.inbox_id is not None else "stored already")
    console.print(summary)
    if found.row_count:
        console.print(found)
    else:
        console.print("nothing missing: every change listed has been received")
    for result in results:
        for skipped in result.skipped:
            console.print(f"[yellow]left to its webhooks:[/yellow] {skipped}")


@cli.command("backfill")
@click.option("--since", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Import every order created on or after this day (YYYY-MM-DD, UTC).")
@click.option("--shop", "shop_domain", default="", help="Only this shop (default: every shop).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Stop after this many orders per shop (run again to go on).")
@click.option("--restart", is_flag=True, help="Forget the checkpoint and list the orders anew.")
def backfill_command(since, shop_domain, limit, restart) -> None:
    """Import a shop's history: each order created since --since (refunds, customer) goes through
    the webhooks' flows once, in the backlog lane; run again with the same arguments to resume."""
    from rich import progress as rp
    from sqlalchemy import select

    from connector.models import Shop
    from connector.services import backfill
    from workers.dispatch import send_backlog_after_commit
    services = _services()
    results = []
    with session_scope(services.settings.database_url) as session:
        query = select(Shop).order_by(Shop.id)
        if shop_domain:
            query = query.where(Shop.domain == shop_domain.strip().lower())
        shops = session.scalars(query).all()
        session.commit()
        if shop_domain and not shops:
            raise click.UsageError(f"no shop {shop_domain!r}")
        columns = (rp.TextColumn("{task.description}"), rp.BarColumn(), rp.MofNCompleteColumn(),
                   rp.TimeRemainingColumn())
        with rp.Progress(*columns, console=console) as bar:
            for shop in shops:
                task = bar.add_task(shop.domain, total=None)
                results.append(backfill.run(services, session, send_backlog_after_commit, shop, since.date(),
                                            limit=limit, restart=restart,
                                            progress=lambda done, total, t=task: bar.update(t, completed=done, total=total)))
    console.print(backfill_table(results))
    for r in results:
        for skipped in r.skipped or ():
            console.print(f"[yellow]left to its webhooks:[/yellow] {skipped}")
    sys.exit(1 if any(r.error for r in results) else 0)


def backfill_table(results) -> Table:
    """What each shop's backfill did (the command's and the demo's table)."""
    table = Table("shop", "orders", "done", "resumed from", "customers without orders", "enqueued", "result")
    for r in results:
        state = (f"[red]{r.error}[/red]" if r.error else "[green]complete[/green]" if r.complete
                 else "[yellow]stopped: run again to resume[/yellow]")
        table.add_row(r.shop, str(r.listed), str(r.done), str(r.resumed_from), str(r.customers), str(r.enqueued),
                      state)
    return table


@cli.command("reconcile")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (YYYY-MM-DD).")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day, included.")
@click.option("--shop", "shop_domain", default="", help="Only this shop (default: every shop).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--heal", is_flag=True, help="Enqueue what the connector can fix by itself (replays, lost webhooks).")
def reconcile_report(start, end, shop_domain, as_json, heal) -> None:
    """Shopify's orders, refunds and payments against Fusion's invoices, credit memos and receipts,
    per day and currency, read from both systems. Exit 0 when everything matches, 1 otherwise."""
    import json

    from cli.report import build
    from workers.dispatch import send_after_commit
    if end < start:
        raise click.UsageError("--to is before --from")
    services = _services()
    with session_scope(services.settings.database_url) as session:
        report = build(services, session, start.date(), end.date(), shop_domain=shop_domain or None, heal=heal,
                       send=send_after_commit)
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
        sys.exit(0 if report.matches else 1)
    print_report(report, heal)
    sys.exit(0 if report.matches else 1)


def print_report(report, heal: bool = False) -> None:
    """The reconciliation report as a table per day and currency, the orders that differ under it
    and a last line that says whether everything matches (the command's and the demo's)."""
    from cli.report import KINDS
    table = Table("shop", "day", "currency", *(kind.replace("_", " ") for kind in KINDS), "result")
    for row in report.rows:
        cells = [f"{row.figures[kind].count} / {row.figures[kind].total}" for kind in KINDS]
        table.add_row(row.shop, row.day, row.currency, *cells,
                      f"[red]{row.problems} differ[/red]" if row.problems else "[green]ok[/green]")
    console.print(table)
    if report.problems:
        problems = Table("shop", "day", "order", "name", "verdict", "why", *(("healing",) if heal else ()))
        for p in report.problems:
            problems.add_row(p.shop, p.day, p.order_id, p.name, p.verdict, "; ".join(p.reasons),
                             *(("; ".join(p.healed),) if heal else ()))
        console.print(problems)
    for error in report.errors:
        console.print(f"[red]{error}[/red]")
    console.print("everything matches" if report.matches else
                  f"{len(report.problems)} order(s) differ" + (f", {len(report.errors)} shop(s) unread" if report.errors else ""))


# -- privacy and the audit trail (docs/privacy.md) ------------------------------------------

@cli.group()
def privacy() -> None:
    """What the connector holds about a customer: export it, or erase it."""


def _privacy_request(customer_id: str, email: str, order_ids: tuple[str, ...]):
    from connector.services.footprint import Request
    request = Request.of(customer_id, email, order_ids)
    if request.empty:
        raise click.UsageError("name the customer with --customer, --email or --order")
    return request


@privacy.command("export")
@click.option("--shop", "shop_domain", required=True, help="The shop's myshopify.com domain.")
@click.option("--customer", "customer_id", default="", help="Shopify's customer id.")
@click.option("--email", default="", help="The customer's email address (a guest checkout has no customer id).")
@click.option("--order", "order_ids", multiple=True, help="An order of the customer's (repeatable).")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True),
              help="Write the export to this file (mode 0600) instead of standard output.")
def privacy_export(shop_domain, customer_id, email, order_ids, out) -> None:
    """Export everything the connector's tables hold about a customer, as JSON: stored webhook
    bodies, bindings, audit rows (sealed fields opened) and processing attempts."""
    from pathlib import Path

    from connector.services import exports
    request = _privacy_request(customer_id, email, order_ids)
    services = _services()
    with session_scope(services.settings.database_url) as session:
        document = exports.build(session, services.keyring, _shop(session, shop_domain), request)
    if out:
        path = Path(out).resolve()
        written = exports.write(path.parent, path.name, document)
        console.print(f"wrote {written.path}: " + ", ".join(f"{n} {part.replace('_', ' ')}"
                                                           for part, n in written.counts.items()))
    else:
        click.echo(exports.dumps(document))


@privacy.command("erase")
@click.option("--shop", "shop_domain", required=True, help="The shop's myshopify.com domain.")
@click.option("--customer", "customer_id", default="", help="Shopify's customer id.")
@click.option("--email", default="", help="The customer's email address.")
@click.option("--order", "order_ids", multiple=True, help="An order of the customer's (repeatable).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def privacy_erase(shop_domain, customer_id, email, order_ids, yes) -> None:
    """Erase a customer's personal data from the connector's tables, as customers/redact does
    (for a request that reached the merchant another way). Fusion is not touched."""
    from connector.services import erasure
    request = _privacy_request(customer_id, email, order_ids)
    if not yes:
        click.confirm("Erase this customer's personal data for good?", abort=True)
    services = _services()
    with session_scope(services.settings.database_url) as session:
        erased = erasure.erase_customer(session, _shop(session, shop_domain), request)
    console.print("erased: " + ", ".join(f"{n} {part.replace('_', ' ')}" for part, n in erased.counts().items()))


@cli.group("audit")
def audit_group() -> None:
    """The append-only audit trail and its hash chain."""


@audit_group.command("seal")
def audit_seal() -> None:
    """Seal the rows written since the last seal (beat does this every MLC_AUDIT_SEAL_INTERVAL)."""
    from connector import audit_chain
    with session_scope(load_settings().database_url) as session:
        links = audit_chain.seal(session)
    if links:
        console.print(f"sealed {sum(link.events for link in links)} row(s) through id {links[-1].last_event_id}; "
                      f"chain head {links[-1].hash}")
    else:
        console.print("nothing to seal")


@audit_group.command("verify")
def audit_verify() -> None:
    """Recompute every row's digest and every seal of the chain; exit 1 on any difference."""
    from connector import audit_chain
    with session_scope(load_settings().database_url) as session:
        result = audit_chain.verify(session)
    for problem in result.problems:
        console.print(f"[red]{problem}[/red]")
    console.print(f"{result.links} seal(s) over {result.sealed_events} row(s): "
                  + ("[green]verified[/green]" if result.ok else "[red]FAILED[/red]")
                  + f"; {result.unsealed_events} row(s) not sealed yet; chain head {result.head}")
    sys.exit(0 if result.ok else 1)


# -- the demo (the sandboxes run alone with `python -m sandbox`) ------------------------------

@cli.command()
@click.argument("queue")
def worker(queue) -> None:
    """Run the Celery worker of QUEUE with its production pool and concurrency
    (MLC_WORKER_POOL, MLC_CONCURRENCY_<QUEUE>)."""
    from connector.flows import QUEUES
    if queue not in QUEUES:
        raise click.UsageError(f"no queue {queue!r}: the queues are {', '.join(QUEUES)}")
    from workers.app import app
    from workers.pools import worker_argv
    app.worker_main(worker_argv(load_settings(), queue))


@cli.command()
@click.option("--once", is_flag=True, help="Exit after the summary: 0 when every order holds the three money invariants.")
@click.option("--orders", "order_count", default=25, show_default=True, help="How many sample orders.")
def demo(once, order_count) -> None:
    """Run everything on embedded defaults and push sample orders through it."""
    from cli.demo import run
    sys.exit(run(once=once, order_count=order_count))


if __name__ == "__main__":
    main()
