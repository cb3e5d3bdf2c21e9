"""Shopify B2B companies as Fusion organizations, and each company location as a customer account.

A B2B order is owed by the company, not by the contact who placed it: the debtor is a TCA
organization (``hubOrganizations``) whose source-system reference is the company's Shopify GID
(never matched by email: a buyer's address says nothing about which company pays), and the
account is one per company location, whose ``OrigSystemReference`` is the location's GID, with
a BILL_TO site at the location's billing address. Both are made exactly once through
:mod:`connector.services.create_once` (bindings ``company`` and ``company_location``), so the
second order of a location costs no Fusion call at all: its account is bound locally.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from connector.fusion import soap
from connector.fusion.accounts import NewCustomerAccount
from connector.fusion.errors import FusionRejected
from connector.mapping.addresses import AddressError, to_fusion
from connector.mapping.b2b import Purchaser
from connector.mapping.invoice import MappingError
from connector.models import Binding, BindingKind, Shop
from connector.services import create_once
from connector.services.context import Services
from connector.services.customer_identity import refuse_inactive
from connector.services.documents import ShopDocument
from connector.shopify.companies import CompanyLocation, read_location


def ensure_location(services: Services, session: Session, shop: Shop, purchaser: Purchaser) -> Binding:
    """The synced binding of the location's customer account (``fusion_number`` the account
    number, ``fusion_refs["bill_to_site"]`` its BILL_TO site number), created the first time."""
    return LocationAccount(services, session, shop, purchaser).ensure().binding


def _quote(value: str) -> str:
    return value.replace("'", "''")


@dataclass
class CompanyParty(ShopDocument):
    """The TCA organization a Shopify company is billed as."""

    kind = BindingKind.company
    label = "organization"
    match_existing = True    # an organization the connector made earlier (a lost binding) is reused

    company_id: str
    company_gid: str
    name: str

    @property
    def shopify_id(self) -> str:
        return self.company_id

    @property
    def gid(self) -> str:
        return self.company_gid

    def find(self) -> dict | None:
        system = self.services.mapping.for_shop(self.shop.domain).fusion.source_system
        found = self.fusion.organizations.find(
            f"SourceSystem='{_quote(system)}' and SourceSystemReferenceValue='{_quote(self.company_gid)}'")
        return create_once.only_one(found, "organization", self.company_gid, "PartyNumber")

    def create(self) -> dict:
        system = self.services.mapping.for_shop(self.shop.domain).fusion.source_system
        return self.fusion.organizations.create({"OrganizationName": self.name[:360], "PartyUsageCode": "CUSTOMER",
                                                 "SourceSystem": system,
                                                 "SourceSystemReferenceValue": self.company_gid})

    def bind(self, session: Session, binding: Binding, party: dict) -> dict:
        if not party.get("PartyId") or not party.get("PartyNumber"):
            raise FusionRejected(f"Fusion answered with an organization without PartyId or PartyNumber: {party}")
        binding.fusion_id = str(party["PartyId"])
        binding.fusion_number = str(party["PartyNumber"])
        return {"party_number": binding.fusion_number}


@dataclass
class LocationAccount(ShopDocument):
    """A company location's customer account, with a BILL_TO site at its billing address and the
    mapping's B2B profile class."""

    kind = BindingKind.company_location
    label = "company_account"
    match_existing = True    # an account the connector made earlier (a lost binding) is adopted

    purchaser: Purchaser
    _location: CompanyLocation | None = field(default=None, init=False)
    _party: Binding | None = field(default=None, init=False)
    _site: dict | None = field(default=None, init=False)      # the party site of the BILL_TO site

    @property
    def shopify_id(self) -> str:
        return self.purchaser.location_id

    @property
    def gid(self) -> str:
        return self.purchaser.location_gid

    @property
    def setup(self):
        return self.services.mapping.for_shop(self.shop.domain)

    def prepare(self) -> None:
        """Read the location from Shopify (its name and billing address) and ensure its company's
        organization, before anything of the account is claimed."""
        super().prepare()
        client = self.services.shopify(self.session, self.shop)
        self.session.commit()  # no transaction held open across the Admin API call
        location = read_location(client, self.gid)
        if location is None:
            raise MappingError(f"the shop has no company location {self.gid} any more: its order cannot be billed")
        if location.company_gid and location.company_gid != self.purchaser.company_gid:
            raise MappingError(f"company location {self.gid} belongs to {location.company_gid}, "
                               f"not to the order's company {self.purchaser.company_gid}")
        _billing(location)  # an address that cannot be a site parks the order before any create
        self._location = location
        self._party = CompanyParty(self.services, self.session, self.shop, self.purchaser.company_id,
                                   self.purchaser.company_gid, location.company_name or location.name).ensure().binding

    def find(self) -> dict | None:
        account = self.fusion.accounts.by_reference(self.setup.fusion.source_system, self.gid)
        return refuse_inactive(account) if account is not None else None

    def create(self) -> dict:
        self._site = self._party_site()
        name = " - ".join(dict.fromkeys(filter(None, [self._location.company_name, self._location.name])))
        return self.fusion.accounts.create(NewCustomerAccount(
            party_id=self._party.fusion_id, party_site_id=str(self._site["AddressId"]),
            account_name=name or self.gid, set_id=self.setup.fusion.reference_set_id,
            source_system=self.setup.fusion.source_system, reference=self.gid,
            established=date.today().isoformat()))

    def complete(self, account: dict) -> dict:
        """The site number of the account's BILL_TO site, and its profile class: each read from
        Fusion first, so a repeat after a lost answer sets nothing twice."""
        if self._site is None:  # adopted: which party site the BILL_TO site stands on
            bill_to = [s for s in soap.sites(account)
                       if any(u.get("SiteUseCode") == "BILL_TO" for u in soap.as_list(s.get("CustomerAccountSiteUse")))]
            wanted = {str(s.get("PartySiteId")) for s in bill_to}
            self._site = next((a for a in self.fusion.organizations.addresses(self._party.fusion_number)
                               if str(a.get("AddressId")) in wanted), None)
        profile_class = (self.setup.b2b.profile_class if self.setup.b2b else "")
        if profile_class and self.fusion.profiles.active(str(account["CustomerAccountId"])) is None:
            self.fusion.profiles.create(str(account["CustomerAccountId"]), self._party.fusion_id, profile_class)
        return account

    def bind(self, session: Session, binding: Binding, account: dict) -> dict:
        if not account.get("AccountNumber"):
            raise FusionRejected(f"Fusion answered with a customer account without an AccountNumber: {account}")
        binding.fusion_id = str(account.get("CustomerAccountId", ""))
        binding.fusion_number = str(account["AccountNumber"])
        binding.fusion_refs = {"party_id": self._party.fusion_id, "party_number": self._party.fusion_number,
                               "company_id": self.purchaser.company_id,
                               "bill_to_site": str((self._site or {}).get("AddressNumber") or ""),
                               "profile_class": self.setup.b2b.profile_class if self.setup.b2b else ""}
        return {"account_number": binding.fusion_number, "party_number": self._party.fusion_number}

    def _party_site(self) -> dict:
        """The organization's site for this location (its source-system reference is the
        location's GID), added at the location's billing address the first time."""
        number = self._party.fusion_number
        for site in self.fusion.organizations.addresses(number):
            if site.get("SourceSystemReferenceValue") == self.gid:
                return site
        return self.fusion.organizations.add_address(number, {
            **_billing(self._location), "SourceSystem": self.setup.fusion.source_system,
            "SourceSystemReferenceValue": self.gid})


def _billing(location: CompanyLocation) -> dict:
    """The location's billing address as a TCA address; parks the order when it cannot be one."""
    address = location.billing_address
    if not address or not str(address.get("address1") or "").strip():
        raise MappingError(f"company location {location.gid} has no billing address with a street: "
                           "add one in Shopify, then replay")
    try:
        return to_fusion(address)
    except AddressError as exc:
        raise MappingError(f"company location {location.gid}'s billing address cannot be a Fusion site: {exc}") from None

