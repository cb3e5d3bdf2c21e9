"""Fixtures of the privacy tests: a shop of each test's own, its keyring, and a builder of its tables."""
from __future__ import annotations

import uuid

import pytest

from connector import audit
from connector.services.setup import add_shop
from connector.subject_keys import Keyring
from connector.vault import Vault, generate_key
from tests.personal_data import World


@pytest.fixture
def keyring():
    return Keyring(Vault([generate_key()]))


@pytest.fixture
def world(db_session, keyring):
    """A shop of its own (rolled back with the test) and the keyring its audit rows are sealed with."""
    tag = uuid.uuid4().hex[:7]
    shop = add_shop(db_session, keyring.vault, domain=f"privacy-{tag}.myshopify.com", client_id="app",
                    client_secret="shpss_" + uuid.uuid4().hex, prefix="P" + tag.upper())
    db_session.flush()
    with audit.keyring_in_use(keyring):
        yield World(db_session, keyring, shop)
