"""The base of the sync services' document types: one shop's object, written with the process's
services (its Fusion client, Redis and settings) through the create-once protocol."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from connector.fusion.client import FusionClient
from connector.models import Shop
from connector.services import create_once
from connector.services.context import Services


@dataclass
class ShopDocument(create_once.Document):
    services: Services
    session: Session
    shop: Shop
    fusion: FusionClient | None = field(default=None, init=False)

    def ensure(self) -> create_once.Outcome:
        return create_once.ensure(self.services.redis, self.session, self.shop.id, self,
                                  create_once.Lease.from_settings(self.services.settings))

    def prepare(self) -> None:
        # Resolved here, inside the lock and before any remote call: it reads the pod's row.
        self.fusion = self.services.fusion(self.session)
