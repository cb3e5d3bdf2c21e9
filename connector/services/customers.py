"""Shopify customers as Fusion customers: a TCA person plus an AR account with a BILL_TO site.

Matching order (:mod:`connector.services.customer_identity`): the account whose original-system
reference is the Shopify GID, then a person whose source-system reference is the GID, then a
person with the same email among those the mapping's ``[customers] match`` admits; only then
create. Because the references are deterministic, the same lookups also settle any create whose
outcome was lost (timeout, reset) before it is tried again.

A customer does not stay as first seen: ``customers/update`` pushes name and email changes to the
person and gives a new default address its own BILL_TO site, and every distinct billing address
of an order gets a BILL_TO site of its own, which the invoice names (``BillToSite``). A customer
Shopify merged away bills its survivor from then on (:mod:`connector.services.customer_merge`).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import audit
from connector.db import before_remote_call, no_open_transaction
from connector.fusion import soap
from connector.fusion.accounts import NewCustomerAccount
from connector.fusion.client import FusionClient
from connector.fusion.errors import FusionRejected
from connector.locks import object_lock
from connector.mapping import phones
from connector.mapping.addresses import AddressError, address_key, to_fusion
from connector.mapping.config import CustomerPolicy
from connector.mapping.invoice import MappingError
from connector.models import Binding, BindingKind, BindingState, Shop
from connector.services import bindings, customer_merge
from connector.services.context import Services
from connector.services.customer_identity import (
    Scope,
    choose_person,
    refuse_inactive,
    usable_account,
)
from connector.services.documents import ShopDocument


@dataclass(frozen=True)
class ShopifyCustomer:
    key: str              # binding key: numeric Shopify id, "email:<address>" for guests,
                          # "phone:<E.164>" for a phone party, or "guest-account:<currency>" for
                          # the shop's guest account
    reference: str        # Fusion source-system reference: the GID, or the shop-scoped guest key
    email: str
    first_name: str
    last_name: str
    address: dict | None
    updated_at: str | None = None
    guest_account: bool = False   # shared by every order without an email: its address is fixed
    phone: str = ""               # E.164: a party per phone number (``phone_party``) is keyed by it
    phone_attribute: str = "RawPhoneNumber"   # where the person holds it ([customers] phone_attribute)

    @property
    def display_name(self) -> str:
        return " ".join(filter(None, [self.first_name, self.last_name])) or self.email or self.reference

    def person(self) -> dict:
        """The person's own attributes, as created and as kept up to date (a person needs a name)."""
        out = {"FirstName": self.first_name or self.email or "Shopify", "LastName": self.last_name or "Customer"}
        if self.email:
            out["EmailAddress"] = self.email
        if self.phone:
            out[self.phone_attribute] = self.phone
        return out


def from_customer(customer: dict) -> ShopifyCustomer:
    return ShopifyCustomer(key=str(customer["id"]), reference=customer["admin_graphql_api_id"],
                           email=(customer.get("email") or "").strip().lower(),
                           first_name=customer.get("first_name") or "",
                           last_name=customer.get("last_name") or "",
                           address=customer.get("default_address") or _first(customer.get("addresses")),
                           updated_at=customer.get("updated_at"))


def from_order(order: dict, shop_domain: str, policy: CustomerPolicy | None = None) -> ShopifyCustomer:
    """The order's customer; a guest checkout is keyed by its email address, and an order with
    neither (POS, phone orders) follows ``[customers] guest_without_email``.

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
    if email:
        return ShopifyCustomer(key=f"email:{email}", reference=f"{shop_domain}/email:{email}", email=email,
                               first_name=(billing or {}).get("first_name") or "",
                               last_name=(billing or {}).get("last_name") or "", address=billing)
    if policy is not None and policy.guest_without_email == "phone_party":
        phone = phones.order_phone(order, policy.region)
        if phone:
            return _phone_guest(shop_domain, phone, billing, policy)
    if policy is None or policy.no_contact != "guest_account":
        raise MappingError(_no_contact(policy))
    currency = _currency(order)
    return ShopifyCustomer(key=f"guest-account:{currency}", reference=f"{shop_domain}/guest-account:{currency}",
                           email="", first_name=policy.guest_name,
                           last_name=f"{shop_domain.split('.')[0]} {currency}",
                           address=dict(policy.guest_address), guest_account=True)


def _phone_guest(shop_domain: str, phone: str, billing: dict | None, policy: CustomerPolicy) -> ShopifyCustomer:
    """A person per phone number of this shop: every order of the shop without an email but with
    this number, however written, is billed to it. Its reference names the shop, as a guest's by
    email does, so no other shop's or system's party is ever matched. Without a billing address
    its BILL_TO site is the shop's ``guest_address``."""
    address = billing if billing and str(billing.get("address1") or "").strip() else dict(policy.guest_address)
    return ShopifyCustomer(key=f"phone:{phone}", reference=f"{shop_domain}/phone:{phone}", email="",
                           first_name=(billing or {}).get("first_name") or policy.guest_name,
                           last_name=(billing or {}).get("last_name") or phone, address=address, phone=phone,
                           phone_attribute=policy.phone_attribute)


def _no_contact(policy: CustomerPolicy | None) -> str:
    if policy is not None and policy.guest_without_email == "phone_party":
        return ("the order has neither a customer, an email address nor a phone number to invoice "
                "(the mapping's [customers] guest_without_phone is \"park\")")
    return ("the order has neither a customer nor an email address to invoice "
            "(the mapping's [customers] guest_without_email is \"park\")")


def _currency(order: dict) -> str:
    bag = order.get("total_price_set") or {}
    currency = (bag.get("shop_money") or {}).get("currency_code") or order.get("currency") or ""
    if not currency:
        raise MappingError("the order names no currency for its shop's guest account")
    return currency


def _first(items):
    return items[0] if items else None


def handle_create(services: Services, session: Session, shop: Shop, payload: dict) -> str:
    """A new Shopify customer. Returns a note when the Fusion customer waits for an address."""
    return _handle(services, session, shop, payload, is_update=False)


def handle_update(services: Services, session: Session, shop: Shop, payload: dict) -> str:
    """A changed Shopify customer: its changes pushed, or created in Fusion if not there yet."""
    return _handle(services, session, shop, payload, is_update=True)


def _handle(services: Services, session: Session, shop: Shop, payload: dict, *, is_update: bool) -> str:
    customer = from_customer(payload)
    merged = customer_merge.survivor(session, shop.id, customer.key)
    if merged is not None:  # a late event of a customer Shopify merged away: it is no one's now
        session.commit()
        return f"customer {customer.reference} was merged into {merged.surviving_gid}: its changes are not pushed"
    existing = bindings.find(session, shop.id, BindingKind.customer, customer.key)
    session.commit()
    if existing is not None and existing.state == BindingState.synced:
        return push_changes(services, session, shop, customer) if is_update else ""
    if not customer.address:
        return ("the customer has no address yet: the Fusion customer is created with the billing "
                "address of the customer's first order")
    ensure(services, session, shop, customer)
    return ""


def following_merges(session: Session, shop: Shop, customer: ShopifyCustomer) -> ShopifyCustomer:
    """The customer an order bills: the survivor, if Shopify merged the order's customer away
    (``customers/merge``); the order's own name and address go with it."""
    merged = customer_merge.survivor(session, shop.id, customer.key)
    session.commit()
    if merged is None:
        return customer
    return replace(customer, key=merged.surviving_id, reference=merged.surviving_gid, updated_at=None)


def ensure(services: Services, session: Session, shop: Shop, customer: ShopifyCustomer) -> Binding:
    """The synced customer binding for ``customer``, creating the Fusion customer if needed."""
    return CustomerAccount(services, session, shop, customer).ensure().binding


def _setup(services: Services, shop: Shop):
    return services.mapping.for_shop(shop.domain)


@dataclass
class CustomerAccount(ShopDocument):
    """A TCA person and its customer account with a BILL_TO site in the shop's business unit."""

    kind = BindingKind.customer
    label = "customer"
    match_existing = True

    customer: ShopifyCustomer
    _party: dict | None = field(default=None, init=False)
    _site: dict | None = field(default=None, init=False)     # the party site the account was created on
    _created_party: bool = field(default=False, init=False)

    @property
    def shopify_id(self) -> str:
        return self.customer.key

    @property
    def gid(self) -> str:
        return self.customer.reference

    @property
    def setup(self):
        return _setup(self.services, self.shop).fusion

    def scope(self) -> Scope:
        return Scope(_setup(self.services, self.shop).customers.match, self.setup.source_system, self.shop.domain,
                     lambda references: _shop_references(self.session, self.shop.id, references))

    def find(self) -> dict | None:
        """The account with the customer's reference; else the account of the person the identity
        policy matched, if this business unit can invoice it (the person is kept for the create)."""
        account = self.fusion.accounts.by_reference(self.setup.source_system, self.customer.reference)
        if account is not None:
            return refuse_inactive(account)
        self._party = _find_party(self.fusion, self.setup.source_system, self.customer, self.scope())
        if self._party is None:
            return None
        return usable_account(self._party, self.fusion.accounts.by_party(str(self._party["PartyId"])),
                              self.setup.reference_set_id)

    def create(self) -> dict:
        if self._party is None:
            self._party = _create_party(self.fusion, self.setup.source_system, self.customer)
            self._created_party = True
            self._site = _addresses(self.fusion, self._party)[0]
        else:  # a matched person: the account's site is at this customer's address, not the person's first
            self._site = _site_at(self.fusion, self._party, self.customer.address)
        return self.fusion.accounts.create(NewCustomerAccount(
            party_id=str(self._party["PartyId"]), party_site_id=str(self._site["AddressId"]),
            account_name=self.customer.display_name, set_id=self.setup.reference_set_id,
            source_system=self.setup.source_system, reference=self.customer.reference,
            established=date.today().isoformat()))

    def bind(self, session: Session, binding: Binding, account: dict) -> dict:
        if not account.get("AccountNumber"):
            raise FusionRejected(f"Fusion answered with a customer account without an AccountNumber: {account}")
        bill_to = next((u for u in soap.site_uses(account) if u.get("SiteUseCode") == "BILL_TO"), {})
        binding.fusion_id = str(account.get("CustomerAccountId", ""))
        binding.fusion_number = str(account.get("AccountNumber", ""))
        refs = {"party_id": str(account.get("PartyId") or (self._party or {}).get("PartyId", "")),
                "party_number": str((self._party or {}).get("PartyNumber") or ""),
                "bill_to_site_use_id": str(bill_to.get("SiteUseId", ""))}
        if self._site is not None and self._site.get("AddressNumber"):
            # the site this create made: the first billing address needs no lookup
            refs["sites"] = {address_key(self._site): str(self._site["AddressNumber"])}
        if self._created_party:
            refs["person"] = _digest(self.customer.person())   # what Fusion holds, for later updates
        binding.fusion_refs = refs
        return {"account_number": binding.fusion_number, "party_id": refs["party_id"]}


def _shop_references(session: Session, shop_id: int, references: list[str]) -> set[str]:
    """Which of ``references`` are this shop's customers (their bindings carry the reference)."""
    if not references:
        return set()
    found = set(session.scalars(select(Binding.shopify_gid).where(
        Binding.shop_id == shop_id, Binding.kind == BindingKind.customer, Binding.shopify_gid.in_(references))))
    session.commit()
    return found


def _find_party(fusion: FusionClient, source_system: str, customer: ShopifyCustomer, scope: Scope) -> dict | None:
    """The person with the customer's source-system reference, else the one the identity policy
    admits with the same email (one query)."""
    by_reference = (f"(SourceSystem='{source_system}' and "
                    f"SourceSystemReferenceValue='{_quote(customer.reference)}')")
    q = f"{by_reference} or EmailAddress='{_quote(customer.email)}'" if customer.email else by_reference
    return choose_person(fusion.parties.find_persons(q), customer.reference, customer.email, scope)


def _create_party(fusion: FusionClient, source_system: str, customer: ShopifyCustomer) -> dict:
    if not customer.address:
        raise MappingError(f"customer {customer.reference} has no address for a BILL_TO site")
    payload = {**customer.person(), "PartyUsageCode": "CUSTOMER", "SourceSystem": source_system,
               "SourceSystemReferenceValue": customer.reference, "Address": [to_fusion(customer.address)]}
    return fusion.parties.create_person(payload)


def _addresses(fusion: FusionClient, party: dict) -> list[dict]:
    addresses = party.get("Address") or []
    if isinstance(addresses, dict):  # REST-Framework-Version 3+ returns children as a collection
        addresses = addresses.get("items", [])
    if not addresses:
        addresses = fusion.parties.person_addresses(str(party["PartyNumber"]))
    if not addresses:
        raise MappingError(f"Fusion party {party.get('PartyNumber')} has no address for a BILL_TO site")
    return addresses


def _site_at(fusion: FusionClient, party: dict, address: dict | None) -> dict:
    """The party's site at ``address`` (added when it has none); its first site without one."""
    if not address:
        return _addresses(fusion, party)[0]
    wanted = to_fusion(address)
    key = address_key(wanted)
    number = str(party["PartyNumber"])
    for site in fusion.parties.person_addresses(number):
        if address_key(site) == key:
            return site
    return fusion.parties.add_address(number, wanted)


def _quote(value: str) -> str:
    return value.replace("'", "''")


def _digest(values: dict) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:20]


# -- a customer's later changes ------------------------------------------------------------------

def bill_to_site(services: Services, session: Session, shop: Shop, customer: ShopifyCustomer,
                 binding: Binding) -> str:
    """The site number (an invoice's ``BillToSite``) of the customer's BILL_TO site at its address,
    added to the person and the account the first time the address is seen; '' without an address
    (Fusion then bills the account's primary site)."""
    wanted = _site_address(customer.address)
    if wanted is None:
        return str((binding.fusion_refs or {}).get("default_site", ""))
    key = address_key(wanted)
    known = (binding.fusion_refs or {}).get("sites", {})
    if key in known:
        return known[key]
    with _customer_lock(services, shop, customer), no_open_transaction(session):
        session.refresh(binding)
        number = (binding.fusion_refs or {}).get("sites", {}).get(key)
        if number is None:
            number = _add_site(services, session, shop, customer, binding, key)
        return number


def push_changes(services: Services, session: Session, shop: Shop, customer: ShopifyCustomer) -> str:
    """``customers/update`` of a customer Fusion has: its name and email onto the person (and the
    account's name), its default address as a BILL_TO site of its own that invoices without a
    billing address name. Older versions than the one applied are ignored."""
    with _customer_lock(services, shop, customer), no_open_transaction(session):
        binding = bindings.find(session, shop.id, BindingKind.customer, customer.key)
        if bindings.is_stale(binding, customer.updated_at):
            return ""
        refs = dict(binding.fusion_refs or {})
        person, note = customer.person(), ""
        wanted = _site_address(customer.address)
        fusion = services.fusion(session) if refs.get("person") != _digest(person) or wanted else None
        before_remote_call(session)
        if refs.get("person") != _digest(person):
            note = _push_person(services, session, shop, fusion, binding, refs, customer)
        if wanted is not None:
            key = address_key(wanted)
            site = refs.get("sites", {}).get(key) or _add_site(services, session, shop, customer, binding, key,
                                                                fusion=fusion)
            refs = dict(binding.fusion_refs or {}, default_site=site)
        binding.fusion_refs = refs
        binding.shopify_updated_at = bindings.latest(binding.shopify_updated_at, customer.updated_at)
        return note


def _push_person(services: Services, session: Session, shop: Shop, fusion: FusionClient, binding: Binding,
                 refs: dict, customer: ShopifyCustomer) -> str:
    """PATCH the person, unless it belongs to another source system (a match the mapping widened
    to: the connector does not overwrite what another system keeps)."""
    setup = _setup(services, shop).fusion
    party = _party_of(fusion, refs)
    refs.update(person=_digest(customer.person()), party_number=str(party["PartyNumber"]))
    binding.fusion_refs = refs
    if party.get("SourceSystem") != setup.source_system:
        return (f"Fusion person {party.get('PartyNumber')} belongs to another source system: the customer's "
                "name and email are not pushed to it")
    fusion.parties.update_person(str(party["PartyNumber"]), customer.person())
    if binding.fusion_id:
        fusion.accounts.rename(binding.fusion_id, customer.display_name)
    audit.record(session, "customer.updated", shop_id=shop.id, subject_kind=BindingKind.customer.value,
                 subject_id=binding.shopify_id, party_number=str(party["PartyNumber"]),
                 attributes=sorted(customer.person()))
    return ""


def _party_of(fusion: FusionClient, refs: dict) -> dict:
    found = fusion.parties.find_persons(f"PartyId={int(refs['party_id'])}")
    if not found:
        raise MappingError(f"the customer's Fusion person {refs['party_id']} no longer exists")
    return found[0]


def _add_site(services: Services, session: Session, shop: Shop, customer: ShopifyCustomer, binding: Binding,
              key: str, fusion: FusionClient | None = None) -> str:
    """Find or add the party site at the customer's address, and a BILL_TO account site on it.

    Both steps read Fusion first, so a repeat after a lost answer adds nothing twice."""
    fusion = fusion or services.fusion(session)
    before_remote_call(session)
    refs = dict(binding.fusion_refs or {})
    if not refs.get("party_number"):
        refs["party_number"] = str(_party_of(fusion, refs)["PartyNumber"])
    site = _site_at(fusion, {"PartyNumber": refs["party_number"]}, customer.address)
    set_id = _setup(services, shop).fusion.reference_set_id
    account = fusion.accounts.get(binding.fusion_id)
    if not any(str(s.get("PartySiteId")) == str(site["AddressId"]) and str(s.get("SetId", "")) == set_id
               and any(u.get("SiteUseCode") == "BILL_TO" for u in soap.as_list(s.get("CustomerAccountSiteUse")))
               for s in soap.sites(account)):
        fusion.accounts.add_bill_to_site(binding.fusion_id, str(site["AddressId"]), set_id)
    number = str(site["AddressNumber"])
    refs["sites"] = {**refs.get("sites", {}), key: number}
    binding.fusion_refs = refs
    audit.record(session, "customer.site_added", shop_id=shop.id, subject_kind=BindingKind.customer.value,
                 subject_id=binding.shopify_id, account_number=binding.fusion_number, bill_to_site=number)
    session.commit()
    return number


def _site_address(address: dict | None) -> dict | None:
    """``address`` as a TCA address, if it can be a site: an address without a street or with a
    country nobody knows (a hand-made POS order) does not hold up the invoice, which then bills
    the customer's default site (the address stays in the invoice's comments)."""
    if not address or not str(address.get("address1") or "").strip():
        return None
    try:
        return to_fusion(address)
    except AddressError:
        return None


def _customer_lock(services: Services, shop: Shop, customer: ShopifyCustomer):
    return object_lock(services.redis, shop.id, BindingKind.customer.value, customer.key,
                       ttl=services.settings.lock_timeout_seconds)
