"""The customer service against a Fusion sandbox under a widened identity policy: a person another
system made is matched only under ``match = "any"``, never written over, and two of them park."""
from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from connector.config import DEFAULT_MAPPING_FILE, Settings
from connector.mapping.config import load_mapping
from connector.services import customers
from connector.services.context import Services
from connector.services.customer_identity import IdentityConflict
from connector.services.setup import add_shop, set_fusion
from connector.vault import generate_key
from tests.connector.fusion.fusion_pods import Pods

ADDRESS = {"address1": "5 Lake Dr", "city": "Austin", "province_code": "TX", "zip": "78701", "country_code": "US"}


@pytest.fixture
def pod():
    pods = Pods()
    yield pods.start()
    pods.stop_all()


@pytest.fixture
def world(pod, db_session, redis_url):
    """Services whose mapping says ``match = "any"``, pointed at a sandbox pod, and a shop."""
    mapping = load_mapping(DEFAULT_MAPPING_FILE)
    services = Services(Settings(encryption_keys=(generate_key(),), allow_http=True, redis_url=redis_url))
    services.mapping = replace(mapping, customers=replace(mapping.customers, match="any"))
    s = pod.settings
    set_fusion(db_session, services.vault, base_url=pod.url, token_url=f"{pod.url}/oauth2/v1/token",
               client_id=s.client_id, scope=s.scope, secret=s.client_secret)
    tag = uuid.uuid4().hex[:6]
    shop = add_shop(db_session, services.vault, domain=f"match-{tag}.myshopify.com", client_id="app",
                    client_secret="shpss_" + uuid.uuid4().hex, prefix="M" + tag.upper())
    db_session.commit()
    return services, db_session, shop


def outsider(pod, email: str) -> dict:
    """A person Fusion's own users keep (no source system)."""
    return pod.create_person(EmailAddress=email, SourceSystem=None, SourceSystemReferenceValue=None)


def shopify_customer(email: str, **changes) -> customers.ShopifyCustomer:
    return replace(customers.ShopifyCustomer(key="8001", reference="gid://shopify/Customer/8001", email=email,
                                             first_name="Ana", last_name="Silva", address=ADDRESS), **changes)


def test_given_match_any_then_a_person_another_system_keeps_is_matched_but_never_written_over(pod, world):
    services, session, shop = world
    email = f"outside-{uuid.uuid4().hex[:6]}@example.com"
    theirs = outsider(pod, email)

    binding = customers.ensure(services, session, shop, shopify_customer(email))
    note = customers.push_changes(services, session, shop, shopify_customer(email, first_name="Anabel",
                                                                            updated_at="2026-01-02T00:00:00Z"))

    assert binding.fusion_refs["party_id"] == str(theirs["PartyId"])
    assert "belongs to another source system" in note
    [person] = services.fusion(session).parties.find_persons(f"PartyId={theirs['PartyId']}")
    assert person["FirstName"] == theirs["FirstName"]


def test_given_match_any_and_two_persons_with_the_email_then_parked_with_both_listed(pod, world):
    services, session, shop = world
    email = f"twice-{uuid.uuid4().hex[:6]}@example.com"
    first, second = outsider(pod, email), outsider(pod, email)

    with pytest.raises(IdentityConflict, match=f"party {first['PartyNumber']}.*party {second['PartyNumber']}"):
        customers.ensure(services, session, shop, shopify_customer(email))
