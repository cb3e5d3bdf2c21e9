"""Shopify customers as Fusion customers: a TCA person plus an AR account with a BILL_TO site.

Matching order: the account whose original-system reference is the Shopify GID, then a person
whose source-system reference is the GID, then a person with the same email; only then create.
Because the references are deterministic, the same lookups also settle any create whose outcome
was lost (timeout, reset) before it is tried again.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from connector import audit
from connector.db import before_remote_call, no_open_transaction
from connector.fusion import soap
from connector.fusion.client import FusionClient
from connector.fusion.errors import FusionRejected
from connector.locks import Busy, object_lock
from connector.mapping.addresses import to_fusion
from connector.mapping.invoice import MappingError
from connector.models import Binding, BindingState, Shop
from connector.services import bindings
from connector.services.context import Services


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


def sync(services: Services, session: Session, shop: Shop, payload: dict, *, is_update: bool) -> str:
    """A customer webhook. Returns a note when the event is kept for a later release."""
    customer = from_customer(payload)
    existing = bindings.find(session, shop.id, "customer", customer.key)
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
    binding = bindings.get_or_create(session, shop.id, "customer", customer.key, customer.reference)
    if binding.state == BindingState.synced:
        return binding
    with object_lock(services.redis, shop.id, "customer", customer.key,
                     ttl=services.settings.lock_timeout_seconds) as lock, no_open_transaction(session):
        session.refresh(binding)
        if binding.state == BindingState.synced:
            return binding
        fusion = services.fusion(session)
        before_remote_call(session)
        setup = services.mapping.for_shop(shop.domain).fusion
        account = fusion.find_customer_account_by_reference(setup.source_system, customer.reference)
        party = None
        if account is None:
            party = _find_party(fusion, setup.source_system, customer)
            # a party found in Fusion may already have an account; one created just now has none
            account = _account_of(fusion, party, setup.reference_set_id) if party else None
            if account is None:
                _must_hold(lock, customer)
                party = party or _create_party(fusion, setup.source_system, customer)
                account = _create_account(fusion, setup, party, customer, lock)
        _bind(binding, account, party)
        audit.record(session, "customer.synced", shop_id=shop.id, subject_kind="customer",
                     subject_id=customer.key, account_number=binding.fusion_number,
                     party_id=binding.fusion_refs.get("party_id"))
        session.commit()
        return binding


def _must_hold(lock, customer: ShopifyCustomer) -> None:
    if not lock.still_held():
        raise Busy(f"customer {customer.key} changed hands while it was being prepared", retry_after=1)


def _create_account(fusion: FusionClient, setup, party: dict, customer: ShopifyCustomer, lock) -> dict:
    _must_hold(lock, customer)
    try:
        return fusion.create_customer_account(soap.NewCustomerAccount(
            party_id=str(party["PartyId"]), party_site_id=_party_site(fusion, party),
            account_name=customer.display_name, set_id=setup.reference_set_id,
            source_system=setup.source_system, reference=customer.reference,
            established=date.today().isoformat()))
    except FusionRejected:
        # An earlier attempt whose answer was lost may have created it: adopt it if so.
        account = fusion.find_customer_account_by_reference(setup.source_system, customer.reference)
        if account is None:
            raise
        return account


def _find_party(fusion: FusionClient, source_system: str, customer: ShopifyCustomer) -> dict | None:
    """The person with the customer's source-system reference, else one with the same email (one query)."""
    by_reference = (f"(SourceSystem='{source_system}' and "
                    f"SourceSystemReferenceValue='{_quote(customer.reference)}')")
    q = f"{by_reference} or EmailAddress='{_quote(customer.email)}'" if customer.email else by_reference
    found = fusion.find_persons(q)
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
    return fusion.create_person(payload)


def _account_of(fusion: FusionClient, party: dict, set_id: str) -> dict | None:
    """An existing account of a matched party that this business unit can invoice: it has a
    BILL_TO site use on a site in the business unit's reference data set."""
    for account in fusion.find_customer_accounts_by_party(str(party["PartyId"])):
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
        addresses = fusion.person_addresses(str(party["PartyNumber"]))
    if not addresses:
        raise MappingError(f"Fusion party {party.get('PartyNumber')} has no address for a BILL_TO site")
    return str(addresses[0]["AddressId"])


def _bind(binding: Binding, account: dict, party: dict | None) -> None:
    if not account.get("AccountNumber"):
        raise FusionRejected(f"Fusion answered with a customer account without an AccountNumber: {account}")
    bill_to = next((u for u in soap.site_uses(account) if u.get("SiteUseCode") == "BILL_TO"), {})
    binding.state = BindingState.synced
    binding.fusion_id = str(account.get("CustomerAccountId", ""))
    binding.fusion_number = str(account.get("AccountNumber", ""))
    binding.fusion_refs = {"party_id": str(account.get("PartyId") or (party or {}).get("PartyId", "")),
                           "bill_to_site_use_id": str(bill_to.get("SiteUseId", ""))}
    binding.last_error = ""


def _quote(value: str) -> str:
    return value.replace("'", "''")
