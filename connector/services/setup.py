"""Connecting real systems: shops and the Fusion pod, their secrets encrypted in the vault."""
from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import audit
from connector.config import ConfigError
from connector.models import Credential, FusionPod, Shop, utcnow
from connector.services import shop_auth
from connector.services.shop_keys import CURRENT, PREVIOUS, SECRET_NAMES
from connector.shopify.headers import DOMAIN
from connector.vault import Vault, VaultError, fusion_scope, shop_scope


def default_prefix(domain: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", domain.split(".")[0].upper())[:8] or "SHOP"


def add_shop(session: Session, vault: Vault, *, domain: str, client_id: str, client_secret: str,
             api_version: str = "2026-01", prefix: str = "", admin_base_url: str = "") -> Shop:
    domain = domain.strip().lower()
    if not DOMAIN.fullmatch(domain):
        raise ConfigError(f"{domain!r} is not a *.myshopify.com domain")
    if not client_secret:
        raise ConfigError("the client secret is empty")
    shop = session.scalar(select(Shop).where(Shop.domain == domain))
    # Updating a shop (a new secret, say) keeps its prefix unless a new one is asked for.
    prefix = (prefix or (shop.transaction_prefix if shop else default_prefix(domain))).upper()
    if not re.fullmatch(r"[A-Z0-9]{1,8}", prefix):
        raise ConfigError("the transaction prefix must be 1 to 8 letters or digits")
    holder = session.scalar(select(Shop.domain).where(Shop.transaction_prefix == prefix, Shop.domain != domain))
    if holder:
        raise ConfigError(f"transaction prefix {prefix} is already used by {holder}: choose another with --prefix")
    _refuse_shared_secret(session, vault, domain, client_secret)
    if shop is None:
        shop = Shop(domain=domain, client_id=client_id, api_version=api_version,
                    transaction_prefix=prefix, admin_base_url=admin_base_url)
        session.add(shop)
        session.flush()
    else:
        shop.client_id, shop.api_version, shop.admin_base_url = client_id, api_version, admin_base_url
        shop.transaction_prefix = prefix
        old = vault.get(session, shop_scope(domain), CURRENT)
        if old and old != client_secret:
            # Shopify keeps signing with the old secret for up to an hour after a rotation: it
            # verifies for MLC_SECRET_ROTATION_WINDOW from now (connector.services.shop_keys).
            vault.put(session, shop_scope(domain), PREVIOUS, old)
            shop.secret_rotated_at = utcnow()
    vault.put(session, shop_scope(domain), CURRENT, client_secret)
    audit.record(session, "shop.configured", shop_id=shop.id, domain=domain, client_id=client_id,
                 api_version=api_version, transaction_prefix=prefix)
    return shop


#: The per-shop options ``ml-connector shops set`` changes, by attribute of :class:`Shop`.
SHOP_OPTIONS = ("push_fusion_receipts", "reread_from_admin")


def set_shop_options(session: Session, domain: str, **options: bool) -> Shop:
    """Change a shop's options (:data:`SHOP_OPTIONS`); what changed is audited.

    ``push_fusion_receipts``: receipts people enter in Fusion are recorded as Shopify payments.
    ``reread_from_admin``: each order, refund and customer event is acted on as the shop's Admin
    API holds the object (``connector.services.reread``)."""
    shop = session.scalar(select(Shop).where(Shop.domain == domain.strip().lower()))
    if shop is None:
        raise ConfigError(f"no shop {domain} is set up")
    changed = {name: on for name, on in options.items() if getattr(shop, name) != on}
    for name, on in changed.items():
        setattr(shop, name, on)
    if changed:
        audit.record(session, "shop.configured", shop_id=shop.id, domain=shop.domain, **changed)
    return shop


def _refuse_shared_secret(session: Session, vault: Vault, domain: str, client_secret: str) -> None:
    """Two shops with one secret would each accept the other's webhooks (a delivery signed for
    one, sent with the other's domain header, verifies), so a secret another shop holds, as its
    current or previous one, is refused. The message names the shop, never the secret.

    A stored secret these keys cannot decrypt is passed over: the receiver, which runs with the
    same ``MLC_ENCRYPTION_KEYS``, cannot verify anything with it either."""
    rows = session.execute(select(Credential.scope, Credential.ciphertext).where(
        Credential.scope.like("shop:%"), Credential.scope != shop_scope(domain), Credential.name.in_(SECRET_NAMES))
        .order_by(Credential.scope))
    for scope, ciphertext in rows:
        try:
            held = vault.decrypt(ciphertext)
        except VaultError:
            continue
        if hmac.compare_digest(held.encode(), client_secret.encode()):
            raise ConfigError(f"this client secret is already {scope.removeprefix('shop:')}'s: two shops may not "
                              "share one, or each would accept the other's webhooks; give each shop an app of its own")


def set_fusion(session: Session, vault: Vault, *, base_url: str, token_url: str = "", client_id: str = "",
               scope: str = "", secret: str, auth_mode: str = "oauth", username: str = "",
               name: str = "default") -> FusionPod:
    if auth_mode not in ("oauth", "basic"):
        raise ConfigError("auth mode must be 'oauth' or 'basic'")
    if auth_mode == "oauth" and not (token_url and client_id and scope):
        raise ConfigError("OAuth needs --token-url, --client-id and --scope")
    if auth_mode == "basic" and not username:
        raise ConfigError("Basic auth needs --username")
    pod = session.scalar(select(FusionPod).where(FusionPod.name == name))
    if pod is None:
        pod = FusionPod(name=name, base_url=base_url)
        session.add(pod)
    pod.base_url, pod.token_url, pod.client_id, pod.scope = base_url.rstrip("/"), token_url, client_id, scope
    pod.auth_mode, pod.username = auth_mode, username
    vault.put(session, fusion_scope(name), "password" if auth_mode == "basic" else "client_secret", secret)
    audit.record(session, "fusion.configured", pod=name, base_url=base_url, token_url=token_url,
                 client_id=client_id, auth_mode=auth_mode)
    return pod


@dataclass(frozen=True)
class Check:
    target: str
    ok: bool
    detail: str


def ping_all(services, session: Session) -> list[Check]:
    """One cheap authenticated call per configured shop and to the Fusion pod."""
    from connector.fusion.errors import FusionError
    from connector.shopify.client import ShopifyError

    checks: list[Check] = []
    shops = list(session.scalars(select(Shop).order_by(Shop.domain)))
    for row in shops:
        target = f"Shopify {row.domain}"
        if shop_auth.needs_reauthorization(row):
            checks.append(Check(target, False, f"needs reauthorization: {row.auth_reason}; "
                                               f"{shop_auth.advice(row.domain)}"))
            continue
        try:
            client = services.shopify(session, row)
            session.commit()  # no transaction across the call (a token refresh writes in one of its own)
            shop = client.ping()
            checks.append(Check(target, True, f"authenticated as the app on shop {shop.get('name')!r}"))
        except (ShopifyError, VaultError, ConfigError, RedisError) as exc:  # one shop's trouble, not the others'
            session.rollback()
            checks.append(Check(target, False, str(exc)))
    if not shops:
        checks.append(Check("Shopify", False, "no shop configured: run `ml-connector shops add`"))
    try:
        services.fusion(session).ping()
        checks.append(Check("Fusion", True, f"receivablesInvoices readable at "
                                            f"{services.fusion_connection(session).base_url}"))
    except (FusionError, ConfigError) as exc:
        checks.append(Check("Fusion", False, str(exc)))
    return checks

