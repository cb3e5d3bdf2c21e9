"""The receiver's shops and webhook secrets, held per process: read once, never shown."""
from connector.services.setup import add_shop
from connector.services.shop_keys import WebhookKeys
from connector.vault import Vault, generate_key


def test_given_a_shop_read_then_held_without_its_secret_showing_anywhere(db_session):
    vault = Vault([generate_key()])
    add_shop(db_session, vault, domain="keys-test.myshopify.com", client_id="app", client_secret="shpss_keys_secret")
    keys = WebhookKeys(vault, ttl_seconds=60)

    read = keys.read(db_session, "keys-test.myshopify.com")

    assert keys.held("keys-test.myshopify.com") == read and read.secrets(keys.now()) == ("shpss_keys_secret",)
    assert "shpss_keys_secret" not in repr(read) + str(read)  # a log line or a traceback prints these


def test_given_an_unknown_shop_then_nothing_is_held(db_session):
    keys = WebhookKeys(Vault([generate_key()]), ttl_seconds=60)

    assert keys.read(db_session, "stranger.myshopify.com") is None
    assert keys.held("stranger.myshopify.com") is None
