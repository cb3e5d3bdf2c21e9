import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from connector.config import ConfigError
from connector.models import Base, Credential
from connector.vault import Vault, VaultError, generate_key


@pytest.fixture
def db_session(tmp_path):
    """A database of its own: rotation rewrites every credential row there is."""
    engine = create_engine(f"sqlite:///{tmp_path / 'vault.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_given_secret_when_stored_then_encrypted_at_rest_and_readable(db_session):
    vault = Vault([generate_key()])
    vault.put(db_session, "shop:a.myshopify.com", "client_secret", "shpss_topsecret")
    row = db_session.query(Credential).one()
    assert b"topsecret" not in row.ciphertext
    assert vault.get(db_session, "shop:a.myshopify.com", "client_secret") == "shpss_topsecret"


def test_given_new_key_first_when_rotated_then_old_key_can_be_dropped(db_session):
    old, new = generate_key(), generate_key()
    Vault([old]).put(db_session, "fusion:default", "client_secret", "s")
    assert Vault([new, old]).rotate(db_session) == 1
    assert Vault([new]).get(db_session, "fusion:default", "client_secret") == "s"
    with pytest.raises(VaultError):
        Vault([old]).get(db_session, "fusion:default", "client_secret")


def test_given_no_keys_then_error_says_how_to_make_one():
    with pytest.raises(ConfigError, match="keys generate"):
        Vault([])
