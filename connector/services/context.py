"""What a unit of work needs, built once per process: settings, mapping, Redis, vault, clients."""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from functools import cached_property

from redis import Redis
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from connector.config import ConfigError, Settings
from connector.fair_share import FairShareBucket
from connector.fusion.auth import FusionConnection
from connector.fusion.client import FusionClient
from connector.mapping.config import Mapping, load_mapping
from connector.metrics import Tally
from connector.models import FusionPod, Shop
from connector.ratelimit import TokenBucket
from connector.shopify.budget import CostBudget
from connector.shopify.client import ShopConnection, ShopifyClient
from connector.subject_keys import Keyring
from connector.vault import Vault, fusion_scope, shop_scope

#: Read for every task that calls Fusion: built once.
_POD = select(FusionPod).where(FusionPod.name == bindparam("name"))


class NotConfigured(ConfigError):
    pass


@dataclass
class Services:
    settings: Settings
    _fusion_clients: dict = field(default_factory=dict)
    _shopify_clients: dict = field(default_factory=dict)  # domain -> (fingerprint, client)
    # a worker's threads share the clients (and so their tokens and connection pools)
    _clients_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def mapping(self) -> Mapping:
        return load_mapping(self.settings.mapping_file)

    @cached_property
    def redis(self) -> Redis:
        # a hung Redis must fail a call, not hang the worker until the task's time limit
        return Redis.from_url(self.settings.redis_url, socket_timeout=10, socket_connect_timeout=5,
                              health_check_interval=30)

    @cached_property
    def tally(self) -> Tally:
        """Inbox state changes counted for ``/metrics`` (``connector.metrics``)."""
        return Tally(self.settings.redis_url)

    @cached_property
    def vault(self) -> Vault:
        return Vault(self.settings.encryption_keys)

    @cached_property
    def keyring(self) -> Keyring:
        """The data subjects' keys, which seal the personal fields of audit rows."""
        return Keyring(self.vault)

    def fusion_connection(self, session: Session, pod: str = "default") -> FusionConnection:
        row = session.scalar(_POD, {"name": pod})
        if row is None:
            raise NotConfigured("no Fusion pod is configured: run `ml-connector fusion set`")
        secret_name = "password" if row.auth_mode == "basic" else "client_secret"
        secret = self.vault.get(session, fusion_scope(pod), secret_name) or ""
        return FusionConnection(base_url=row.base_url, token_url=row.token_url, client_id=row.client_id,
                                client_secret=secret if row.auth_mode != "basic" else "",
                                scope=row.scope, auth_mode=row.auth_mode, username=row.username,
                                password=secret if row.auth_mode == "basic" else "")

    def fusion(self, session: Session, pod: str = "default") -> FusionClient:
        """A client per pod configuration, reused so its OAuth token is reused too."""
        connection = self.fusion_connection(session, pod)
        key = _fingerprint(connection)
        with self._clients_lock:
            client = self._fusion_clients.get(key)
            if client is None:
                bucket = self.fusion_bucket(pod)
                client = FusionClient(connection, bucket=bucket, timeout=self.settings.http_timeout,
                                      framework_version=self.settings.fusion_framework_version,
                                      allow_http=self.settings.allow_http)
                self._fusion_clients = {key: client}  # a changed configuration replaces the old client
            return client

    def fusion_bucket(self, pod: str = "default") -> TokenBucket:
        """The pod's budget, shared by every worker; with MLC_FUSION_FAIR_SHARE, shared out per shop."""
        s = self.settings
        key = f"mlc:ratelimit:fusion:{pod}"
        if s.fusion_fair_share:
            return FairShareBucket(self.redis, key, s.fusion_rate_per_second, s.fusion_burst,
                                   window=s.fusion_share_window_seconds)
        return TokenBucket(self.redis, key, s.fusion_rate_per_second, s.fusion_burst)

    def shopify_connection(self, session: Session, shop: Shop) -> ShopConnection:
        return ShopConnection(domain=shop.domain, client_id=shop.client_id,
                              client_secret=self.vault.get(session, shop_scope(shop.domain), "client_secret") or "",
                              api_version=shop.api_version, admin_base_url=shop.admin_base_url)

    def shopify(self, session: Session, shop: Shop) -> ShopifyClient:
        """A client per shop configuration, reused so its access token is reused too."""
        connection = self.shopify_connection(session, shop)
        key = _fingerprint(connection)
        with self._clients_lock:
            held = self._shopify_clients.get(shop.domain)
            if held is None or held[0] != key:  # a changed configuration replaces the shop's client
                held = (key, self._new_shopify_client(connection))
                self._shopify_clients[shop.domain] = held
            return held[1]

    def _new_shopify_client(self, connection: ShopConnection) -> ShopifyClient:
        """The shop's stored token (refreshed by one worker at a time) and its cost budget in Redis,
        both shared with every other worker."""
        from connector.services.shop_tokens import StoredTokens
        settings = self.settings
        bucket = TokenBucket(self.redis, f"mlc:ratelimit:shopify:{connection.domain}",
                             settings.shopify_restore_rate, settings.shopify_bucket_size)
        return ShopifyClient(connection, settings.http_timeout, allow_http=settings.allow_http,
                             tokens=StoredTokens(self, connection),
                             budget=CostBudget(bucket, settings.shopify_max_wait_seconds), cache=self.redis)


def _fingerprint(connection) -> str:
    """Secrets included, hashed: a rotated secret must give a new client, and never show in a key."""
    return hashlib.sha256(repr(sorted(vars(connection).items())).encode()).hexdigest()
