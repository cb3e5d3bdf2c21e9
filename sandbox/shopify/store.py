"""The sandbox's whole state, in memory, behind one re-entrant lock.

One sandbox process serves many shops; tests stay isolated by using their own shop domain.
Ids are unique across the process (like Shopify's global ids), order numbers per shop.
"""
from __future__ import annotations

import copy
import itertools
import threading
from dataclasses import dataclass, field

# Id ranges that look like Shopify's 13-digit ids and never collide between kinds.
_ID_BASES = {
    "Order": 5_500_000_000_000, "LineItem": 13_000_000_000_000, "ShippingLine": 4_400_000_000_000,
    "Customer": 7_700_000_000_000, "MailingAddress": 9_100_000_000_000,
    "Refund": 9_900_000_000_000, "RefundLineItem": 8_800_000_000_000,
    "RefundShippingLine": 6_600_000_000_000, "OrderTransaction": 3_300_000_000_000,
    "OrderAdjustment": 2_200_000_000_000, "BulkOperation": 1_100_000_000_000,
    "Duty": 1_500_000_000_000, "AdditionalFee": 1_700_000_000_000, "Job": 1_200_000_000_000,
    "Company": 2_900_000_000, "CompanyLocation": 3_900_000_000, "CompanyContact": 4_900_000_000,
    "CompanyAddress": 5_900_000_000, "PaymentTerms": 6_900_000_000, "PaymentSchedule": 7_900_000_000,
}


@dataclass
class Shop:
    domain: str
    client_id: str
    client_secret: str
    webhook_url: str | None
    currency: str = "USD"
    #: The shop's IANA zone: REST writes timestamps in its offset, GraphQL in UTC (``zones.py``).
    iana_timezone: str = "UTC"
    taxes_included: bool = False
    api_version: str = "2026-01"
    name: str = ""
    expiring_offline_tokens: bool = False
    installed: bool = True
    #: Topics delivered to ``webhook_url``; None means every topic.
    webhook_topics: list[str] | None = None
    #: Set when Shopify removed the webhook subscription after failed retries (§1.3):
    #: ``{removed_at, url, topic, webhook_id, attempts}``; cleared by the next PUT of the shop.
    webhook_subscription_removed: dict | None = None
    #: Access scopes the shop granted the app (comma-separated); None: the sandbox's ``scopes``.
    scopes: str | None = None
    #: How the shop-money total of an order in another presentment currency comes about:
    #: ``parts`` (each component converted, the total their sum: what the sandbox always did) or
    #: ``whole`` (the presentment total converted and rounded on its own, so it may differ from the
    #: sum of the converted parts by a unit or a few). Shopify does not document which it does.
    total_conversion: str = "parts"
    next_order_number: int = 1001
    orders: dict[int, dict] = field(default_factory=dict)
    customers: dict[int, dict] = field(default_factory=dict)
    transactions: dict[int, list[dict]] = field(default_factory=dict)  # order id → transactions
    companies: dict[int, dict] = field(default_factory=dict)           # B2B (companies.py)
    company_locations: dict[int, dict] = field(default_factory=dict)

    def public(self) -> dict:
        return {"shop": self.domain, "name": self.name, "client_id": self.client_id,
                "webhook_url": self.webhook_url, "currency": self.currency,
                "iana_timezone": self.iana_timezone, "taxes_included": self.taxes_included, "api_version": self.api_version,
                "expiring_offline_tokens": self.expiring_offline_tokens,
                "installed": self.installed, "webhook_topics": self.webhook_topics, "scopes": self.scopes,
                "total_conversion": self.total_conversion,
                "webhook_subscription_removed": copy.deepcopy(self.webhook_subscription_removed),
                "orders": len(self.orders),
                "customers": len(self.customers)}


class Store:
    """Thread-safe container: callers hold ``store.lock`` around any read-modify-write."""

    def __init__(self):
        self.lock = threading.RLock()
        self.shops: dict[str, Shop] = {}
        self._counters = {kind: itertools.count(base + 1) for kind, base in _ID_BASES.items()}

    def new_id(self, kind: str) -> int:
        with self.lock:
            return next(self._counters[kind])

    def shop(self, domain: str) -> Shop | None:
        with self.lock:
            return self.shops.get(domain.lower())

    def put_shop(self, domain: str, **attrs) -> tuple[Shop, bool]:
        """Create or update a shop; returns (shop, created)."""
        domain = domain.lower()
        with self.lock:
            shop = self.shops.get(domain)
            if shop is None:
                shop = Shop(domain=domain, **attrs)
                if not shop.name:
                    shop.name = domain.split(".")[0]
                self.shops[domain] = shop
                return shop, True
            for key, value in attrs.items():
                setattr(shop, key, value)
            shop.webhook_subscription_removed = None  # a PUT subscribes the shop again
            return shop, False

    def remove_webhook_subscription(self, domain: str, url: str, removal: dict) -> bool:
        """Shopify's removal of a subscription whose deliveries failed through the retry cycle;
        only if the shop still delivers to ``url`` (a PUT since may have moved it)."""
        with self.lock:
            shop = self.shops.get(domain.lower())
            if shop is None or shop.webhook_url != url or shop.webhook_subscription_removed:
                return False
            shop.webhook_subscription_removed = removal
            return True

    def shops_with_client_id(self, client_id: str) -> list[Shop]:
        with self.lock:
            return [s for s in self.shops.values() if s.client_id == client_id]

    @staticmethod
    def snapshot(obj):
        """A deep copy to hand out, so nobody mutates stored state outside the lock."""
        return copy.deepcopy(obj)
