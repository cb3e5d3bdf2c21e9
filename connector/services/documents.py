"""The base of the sync services' document types: one shop's object, written with the process's
services (its Fusion client, Redis and settings) through the create-once protocol, every
document it creates under the shop's date policy (``connector.services.dating``)."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from connector.fusion.client import FusionClient
from connector.models import Shop
from connector.services import create_once
from connector.services.context import Services
from connector.services.dating import DatedFusion, Dating


@dataclass
class ShopDocument(create_once.Document):
    services: Services
    session: Session
    shop: Shop
    fusion: FusionClient | None = field(default=None, init=False)
    dating: Dating | None = field(default=None, init=False)

    def ensure(self) -> create_once.Outcome:
        return create_once.ensure(self.services.redis, self.session, self.shop.id, self,
                                  create_once.Lease.from_settings(self.services.settings))

    def prepare(self) -> None:
        # Resolved here, inside the lock and before any remote call: it reads the pod's row.
        mapping = self.services.mapping.for_shop(self.shop.domain)
        self.dating = Dating(mapping.dates)
        self.fusion = DatedFusion(self.services.fusion(self.session), self.dating, mapping.fusion.ledger_currency)

    def date_moves(self) -> list[dict]:
        return [move.as_detail() for move in self.dating.moves] if self.dating else []
