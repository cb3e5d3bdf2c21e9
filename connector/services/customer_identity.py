"""Which Fusion person, if any, a Shopify customer already is: the mapping's identity policy.

An email address proves nothing: a guest can type anyone's. So the Shopify GID (the party's
source-system reference) is the only match that needs no policy; an email matches only among the
persons ``[customers] match`` allows — those this connector created for the same shop
(``same_shop``, the default), for any shop under the same TCA source system
(``same_source_system``), or anyone (``any``). Whatever the scope, the connector never guesses:
several candidates, or a candidate whose account or party is inactive, park the order with the
candidates listed (by party and account number, never by personal data).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from connector.fusion import soap
from connector.mapping.invoice import MappingError


class IdentityConflict(MappingError):
    """Fusion holds no single, active customer this order can safely be billed to."""


@dataclass(frozen=True)
class Scope:
    """Where an email may find its person."""

    match: str                  # same_shop | same_source_system | any
    source_system: str          # the connector's TCA source system
    shop_domain: str
    #: Which of the given source-system references are this shop's customers (its bindings).
    shop_references: Callable[[list[str]], set[str]]

    def admits(self, persons: list[dict]) -> list[dict]:
        if self.match == "any":
            return persons
        ours = [p for p in persons if p.get("SourceSystem") == self.source_system]
        if self.match == "same_source_system":
            return ours
        references = [str(p.get("SourceSystemReferenceValue") or "") for p in ours]
        bound = self.shop_references(references)
        return [p for p, reference in zip(ours, references)
                if reference.startswith(f"{self.shop_domain}/") or reference in bound]


def choose_person(found: list[dict], reference: str, email: str, scope: Scope) -> dict | None:
    """The person the customer is: the one with its reference, else the single person in scope
    with its email; ``None`` when there is none (a new person is created)."""
    by_reference = [p for p in found if p.get("SourceSystem") == scope.source_system
                    and p.get("SourceSystemReferenceValue") == reference]
    if by_reference:
        return by_reference[0]  # Fusion keeps a source-system reference unique
    if not email:
        return None
    candidates = scope.admits([p for p in found if str(p.get("EmailAddress") or "").strip().lower() == email])
    if len(candidates) > 1:
        raise IdentityConflict(
            f"{len(candidates)} Fusion persons have this customer's email within [customers] match = "
            f"\"{scope.match}\": {_parties(candidates)}; merge them in Fusion or give the Shopify customer "
            "its own email, then replay")
    return candidates[0] if candidates else None


def usable_account(person: dict, accounts: list[dict], set_id: str) -> dict | None:
    """The person's one account that this business unit can invoice; ``None`` if it has none yet.

    An inactive person or account, or several accounts, park the order: billing a deactivated
    customer, or picking one of two, is a decision for a person.
    """
    relevant = [a for a in accounts if _invoices_in(a, set_id)]
    if str(person.get("Status") or "A") != "A":
        raise IdentityConflict(f"the Fusion person {_parties([person])} this customer matched is inactive; "
                               "reactivate it or change the mapping's [customers] match, then replay")
    inactive = [a for a in relevant if str(a.get("Status") or "A") != "A"]
    if inactive:
        raise IdentityConflict(f"the Fusion person {_parties([person])} this customer matched has an inactive "
                               f"customer account ({_accounts(inactive)}); reactivate it or end it, then replay")
    if len(relevant) > 1:
        raise IdentityConflict(f"the Fusion person {_parties([person])} this customer matched has "
                               f"{len(relevant)} customer accounts in this business unit ({_accounts(relevant)}); "
                               "keep one, then replay")
    return relevant[0] if relevant else None


def refuse_inactive(account: dict) -> dict:
    """The account found by the customer's own reference, unless Fusion deactivated it."""
    if str(account.get("Status") or "A") != "A":
        raise IdentityConflict(f"the customer's Fusion account {account.get('AccountNumber')} is inactive; "
                               "reactivate it in Fusion, then replay")
    return account


def _invoices_in(account: dict, set_id: str) -> bool:
    """It has a BILL_TO site use on a site in the business unit's reference data set."""
    return any(str(site.get("SetId", "")) == set_id and any(
        use.get("SiteUseCode") == "BILL_TO" for use in soap.as_list(site.get("CustomerAccountSiteUse")))
        for site in soap.sites(account))


def _parties(persons: list[dict]) -> str:
    return ", ".join(f"party {p.get('PartyNumber')} ({_origin(p)})" for p in persons)


def _origin(person: dict) -> str:
    system = person.get("SourceSystem")
    return f"source system {system}" if system else "no source system"


def _accounts(accounts: list[dict]) -> str:
    return ", ".join(f"account {a.get('AccountNumber')} ({a.get('Status') or 'A'})" for a in accounts)
