"""Shopify customers as Fusion customers: a TCA person plus an AR account with a BILL_TO site.

Matching order: the account whose original-system reference is the Shopify GID, then a person
whose source-system reference is the GID, then a person with the same email; only then create.
Because the references are deterministic, the same lookups also settle any create whose outcome
was lost (timeout, reset) before it is tried again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from connector.fusion import soap
from connector.fusion.accounts import NewCustomerAccount
from connector.fusion.client import FusionClient
from connector.fusion.errors import FusionRejected
from connector.mapping.addresses import to_fusion
from connector.mapping.invoice import MappingError
from connector.models import Binding, BindingKind, BindingState, Shop
from connector.services import bindings
from connector.services.context import Services
from connector.services.documents import ShopDocument


@dataclass(frozen=True)
class ShopifyCustomer:
    key: str              # binding key: numeric Shopify id, or "email:<address>" for guests
    reference: str        # Fusion source-system reference: the GID, or the email key
    email: str
    first_name: str
    last_name: str
    address: dict | None

    @property
    def display_name(self) -> str:
        return " ".join(filter(None, [self.first_name, self.last_name])) or self.email or self.reference


def from_customer(customer: dict) -> ShopifyCustomer:
    return ShopifyCustomer(key=str(customer["id"]), reference=customer["admin_graphql_api_id"],
                           email=(customer.get("email") or "").strip().lower(),
                           first_name=customer.get("first_name") or "",
                           last_name=customer.get("last_name") or "",
                           address=customer.get("default_address") or _first(customer.get("addresses")))


def from_order(order: dict, shop_domain: str) -> ShopifyCustomer:
    """The order's customer; a guest checkout is keyed by its email address.

    A guest's Fusion reference names the shop: unlike customer GIDs, an email address is not
    unique across shops, and another shop may book into another business unit.
    """
    billing = order.get("billing_address") or None
    customer = order.get("customer")
    if customer and customer.get("id"):
        found = from_customer(customer)
        return ShopifyCustomer(found.key, found.reference, found.email or (order.get("email") or "").lower(),
                               found.first_name or (billing or {}).get("first_name") or "",
                               found.last_name or (billing or {}).get("last_name") or "",
                               billing or found.address)
    email = (order.get("email") or order.get("contact_email") or "").strip().lower()
    if not email:
        raise MappingError("the order has neither a customer nor an email address to invoice")
    return ShopifyCustomer(key=f"email:{email}", reference=f"{shop_domain}/email:{email}", email=email,
                           first_name=(billing or {}).get("first_name") or "",
                           last_name=(billing or {}).get("last_name") or "", address=billing)


def _first(items):
    return items[0] if items else None


UPDATES_NOT_PUSHED = "changes to a customer already in Fusion are not pushed in this release"


def handle_create(services: Services, session: Session, shop: Shop, payload: dict) -> str:
    """A new Shopify customer. Returns a note when the event is kept for a later release."""
    return _handle(services, session, shop, payload, is_update=False)


def handle_update(services: Services, session: Session, shop: Shop, payload: dict) -> str:
    """A changed Shopify customer: created in Fusion if it is not there yet."""
    return _handle(services, session, shop, payload, is_update=True)


def _handle(services: Services, session: Session, shop: Shop, payload: dict, *, is_update: bool) -> str:
    customer = from_customer(payload)
    existing = bindings.find(session, shop.id, BindingKind.customer, customer.key)
    session.commit()
    if existing is not None and existing.state == BindingState.synced:
        return UPDATES_NOT_PUSHED if is_update else ""
    if not customer.address:
        return ("the customer has no address yet: the Fusion customer is created with the billing "
                "address of the customer's first order")
    ensure(services, session, shop, customer)
    return ""


def ensure(services: Services, session: Session, shop: Shop, customer: ShopifyCustomer) -> Binding:
    """The synced customer binding for ``customer``, creating the Fusion customer if needed."""
    return CustomerAccount(services, session, shop, customer).ensure().binding


@dataclass
class CustomerAccount(ShopDocument):
    """A TCA person and its customer account with a BILL_TO site in the shop's business unit."""

    kind = BindingKind.customer
    label = "customer"
    match_existing = True

    customer: ShopifyCustomer
    _party: dict | None = field(default=None, init=False)

    @property
    def shopify_id(self) -> str:
        return self.customer.key

    @property
    def gid(self) -> str:
        return self.customer.reference

    @property
    def setup(self):
        return self.services.mapping.for_shop(self.shop.domain).fusion

    def find(self) -> dict | None:
        """The account with the customer's reference; else a matched person's account that this
        business unit can invoice (the person is kept for the create)."""
        account = self.fusion.accounts.by_reference(self.setup.source_system, self.customer.reference)
        if account is None:
            self._party = _find_party(self.fusion, self.setup.source_system, self.customer)
            account = _account_of(self.fusion, self._party, self.setup.reference_set_id) if self._party else None
        return account

    def create(self) -> dict:
        if self._party is None:
            self._party = _create_party(self.fusion, self.setup.source_system, self.customer)
        return self.fusion.accounts.create(NewCustomerAccount(
            party_id=str(self._party["PartyId"]), party_site_id=_party_site(self.fusion, self._party),
            account_name=self.customer.display_name, set_id=self.setup.reference_set_id,
            source_system=self.setup.source_system, reference=self.customer.reference,
            established=date.today().isoformat()))

    def bind(self, session: Session, binding: Binding, account: dict) -> dict:
        if not account.get("AccountNumber"):
            raise FusionRejected(f"Fusion answered with a customer account without an AccountNumber: {account}")
        bill_to = next((u for u in soap.site_uses(account) if u.get("SiteUseCode") == "BILL_TO"), {})
        binding.fusion_id = str(account.get("CustomerAccountId", ""))
        binding.fusion_number = str(account.get("AccountNumber", ""))
        binding.fusion_refs = {"party_id": str(account.get("PartyId") or (self._party or {}).get("PartyId", "")),
                               "bill_to_site_use_id": str(bill_to.get("SiteUseId", ""))}
        return {"account_number": binding.fusion_number, "party_id": binding.fusion_refs["party_id"]}


def _find_party(fusion: FusionClient, source_system: str, customer: ShopifyCustomer) -> dict | None:
    """The person with the customer's source-system reference, else one with the same email (one query)."""
    by_reference = (f"(SourceSystem='{source_system}' and "
                    f"SourceSystemReferenceValue='{_quote(customer.reference)}')")
    q = f"{by_reference} or EmailAddress='{_quote(customer.email)}'" if customer.email else by_reference
    found = fusion.parties.find_persons(q)
    ours = [p for p in found if p.get("SourceSystemReferenceValue") == customer.reference]
    return (ours or found or [None])[0]


def _create_party(fusion: FusionClient, source_system: str, customer: ShopifyCustomer) -> dict:
    if not customer.address:
        raise MappingError(f"customer {customer.reference} has no address for a BILL_TO site")
    payload = {"FirstName": customer.first_name or customer.email or "Shopify",
               "LastName": customer.last_name or "Customer",
               "PartyUsageCode": "CUSTOMER", "SourceSystem": source_system,
               "SourceSystemReferenceValue": customer.reference,
               "Address": [to_fusion(customer.address)]}
    if customer.email:
        payload["EmailAddress"] = customer.email
    return fusion.parties.create_person(payload)


def _account_of(fusion: FusionClient, party: dict, set_id: str) -> dict | None:
    """An existing account of a matched party that this business unit can invoice: it has a
    BILL_TO site use on a site in the business unit's reference data set."""
    for account in fusion.accounts.by_party(str(party["PartyId"])):
        for site in soap.sites(account):
            if str(site.get("SetId", "")) == set_id and any(
                    use.get("SiteUseCode") == "BILL_TO" for use in soap.as_list(site.get("CustomerAccountSiteUse"))):
                return account
    return None


def _party_site(fusion: FusionClient, party: dict) -> str:
    addresses = party.get("Address") or []
    if isinstance(addresses, dict):  # REST-Framework-Version 3+ returns children as a collection
        addresses = addresses.get("items", [])
    if not addresses:
        addresses = fusion.parties.person_addresses(str(party["PartyNumber"]))
    if not addresses:
        raise MappingError(f"Fusion party {party.get('PartyNumber')} has no address for a BILL_TO site")
    return str(addresses[0]["AddressId"])


def _quote(value: str) -> str:
    return value.replace("'", "''")
