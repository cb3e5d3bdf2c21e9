"""Connecting shops: prefixes identify a shop's invoices in Fusion, so they never move by accident."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from connector.config import ConfigError
from connector.models import Shop
from connector.services.setup import add_shop
from connector.services.shop_keys import WebhookKeys
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


def test_given_rotated_secret_then_the_old_one_verifies_within_the_rotation_window_and_never_after(db_session, vault):
    add_shop(db_session, vault, domain="rotate.myshopify.com", client_id="a", client_secret="old", prefix="ROT")
    add_shop(db_session, vault, domain="rotate.myshopify.com", client_id="a", client_secret="new")

    keys = WebhookKeys(vault, ttl_seconds=0, rotation_window_seconds=3600).read(db_session, "rotate.myshopify.com")

    now = datetime.now(timezone.utc)
    assert keys.secrets(now) == ("new", "old")
    assert keys.secrets(now + timedelta(minutes=59)) == ("new", "old")
    assert keys.secrets(now + timedelta(minutes=61)) == ("new",)


def test_given_a_previous_secret_without_a_rotation_time_then_it_never_verifies(db_session, vault):
    # a shop rotated before migration 0006 whose previous secret has no credential time: never trusted
    shop = add_shop(db_session, vault, domain="unknown-rotation.myshopify.com", client_id="a", client_secret="one")
    add_shop(db_session, vault, domain="unknown-rotation.myshopify.com", client_id="a", client_secret="two")
    shop.secret_rotated_at = None
    db_session.flush()

    keys = WebhookKeys(vault, ttl_seconds=0).read(db_session, "unknown-rotation.myshopify.com")

    assert keys.secrets(datetime.now(timezone.utc)) == ("two",)


def test_given_another_shops_secret_then_refused_naming_that_shop_and_not_the_secret(db_session, vault):
    add_shop(db_session, vault, domain="first-shop.myshopify.com", client_id="a", client_secret="shpss_shared_1")

    with pytest.raises(ConfigError, match="first-shop.myshopify.com") as refused:
        add_shop(db_session, vault, domain="second-shop.myshopify.com", client_id="b", client_secret="shpss_shared_1")

    assert "shpss_shared_1" not in str(refused.value) and "may not share" in str(refused.value)
    assert db_session.scalar(select(Shop).where(Shop.domain == "second-shop.myshopify.com")) is None


def test_given_a_secret_another_shop_rotated_away_from_then_refused_too(db_session, vault):
    add_shop(db_session, vault, domain="rotated-shop.myshopify.com", client_id="a", client_secret="shpss_gone")
    add_shop(db_session, vault, domain="rotated-shop.myshopify.com", client_id="a", client_secret="shpss_now")

    with pytest.raises(ConfigError, match="rotated-shop.myshopify.com"):
        add_shop(db_session, vault, domain="taker.myshopify.com", client_id="b", client_secret="shpss_gone")


def test_given_a_shop_saved_again_with_its_own_secret_then_accepted(db_session, vault):
    add_shop(db_session, vault, domain="same-again.myshopify.com", client_id="a", client_secret="shpss_mine")

    shop = add_shop(db_session, vault, domain="same-again.myshopify.com", client_id="a", client_secret="shpss_mine",
                    api_version="2026-04")

    assert (shop.api_version, shop.secret_rotated_at) == ("2026-04", None)  # not a rotation
