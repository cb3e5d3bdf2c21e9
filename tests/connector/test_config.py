import tomllib

import pytest

from connector.config import DEFAULT_MAPPING_FILE, ConfigError, Settings
from connector.mapping.config import load_mapping, parse_mapping


def test_given_environment_then_settings_read_from_it():
    settings = Settings.from_env({"DATABASE_URL": "postgresql://db/x", "REDIS_URL": "redis://r:1/2",
                                  "MLC_ENCRYPTION_KEYS": "k1, k2", "MLC_FUSION_RATE": "2.5"})
    assert settings.database_url == "postgresql://db/x"
    assert settings.redis_url == "redis://r:1/2"
    assert settings.encryption_keys == ("k1", "k2")
    assert settings.fusion_rate_per_second == 2.5


def test_given_bad_number_then_error_names_the_variable():
    with pytest.raises(ConfigError, match="MLC_FUSION_BURST"):
        Settings.from_env({"MLC_FUSION_BURST": "lots"})


def test_given_mapping_typo_and_missing_key_then_error_names_both_keys():
    document = tomllib.loads(DEFAULT_MAPPING_FILE.read_text())
    document["gl"]["revenu"] = document["gl"].pop("revenue")
    with pytest.raises(ConfigError) as error:
        parse_mapping(document)
    assert "gl.revenu: Unknown field" in str(error.value)
    assert "gl.revenue: Missing data" in str(error.value)


def test_given_bad_gl_combination_then_refused(tmp_path):
    path = tmp_path / "mapping.toml"
    path.write_text(DEFAULT_MAPPING_FILE.read_text().replace('revenue = "101-10-41000-000-000"',
                                                             'revenue = "101 10 41000"'))
    with pytest.raises(ConfigError, match="gl.revenue"):
        load_mapping(path)


def test_given_missing_mapping_file_then_error_names_it(tmp_path):
    with pytest.raises(ConfigError, match="MLC_MAPPING_FILE"):
        load_mapping(tmp_path / "nope.toml")


def test_given_shop_cache_ttl_then_read_and_a_negative_one_refused_naming_the_variable():
    assert Settings.from_env({"MLC_SHOP_CACHE_TTL": "0"}).shop_cache_ttl_seconds == 0
    with pytest.raises(ConfigError, match="MLC_SHOP_CACHE_TTL"):
        Settings.from_env({"MLC_SHOP_CACHE_TTL": "-1"})
