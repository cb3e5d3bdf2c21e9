"""Connecting shops: prefixes identify a shop's invoices in Fusion, so they never move by accident."""
import pytest

from connector.config import ConfigError
from connector.services.setup import add_shop
from connector.vault import Vault, generate_key


@pytest.fixture
def vault():
    return Vault([generate_key()])


def test_given_shop_updated_without_prefix_then_its_prefix_is_kept(db_session, vault):
    add_shop(db_session, vault, domain="keep-prefix.myshopify.com", client_id="a", client_secret="s1",
             prefix="KEEP")
    shop = add_shop(db_session, vault, domain="keep-prefix.myshopify.com", client_id="a", client_secret="s2")
    assert shop.transaction_prefix == "KEEP"


def test_given_prefix_of_another_shop_then_refused_with_the_holder_named(db_session, vault):
    add_shop(db_session, vault, domain="acme-store-us.myshopify.com", client_id="a", client_secret="s")
    with pytest.raises(ConfigError, match="acme-store-us.myshopify.com"):
        add_shop(db_session, vault, domain="acme-store-eu.myshopify.com", client_id="b", client_secret="s")


def test_given_rotated_secret_then_the_old_one_still_verifies_for_the_rotation_window(db_session, vault):
    from connector.services.shop_keys import WebhookKeys
    add_shop(db_session, vault, domain="rotate.myshopify.com", client_id="a", client_secret="old", prefix="ROT")
    add_shop(db_session, vault, domain="rotate.myshopify.com", client_id="a", client_secret="new")
    assert WebhookKeys(vault, ttl_seconds=0).read(db_session, "rotate.myshopify.com").secrets == ("new", "old")
