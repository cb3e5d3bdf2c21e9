import pytest

from connector.mapping.addresses import AddressError, to_fusion


def test_given_names_only_then_iso_country_and_state_codes():
    address = to_fusion({"address1": "1 Main St", "city": "Austin", "province": "Texas",
                         "country": "United States", "zip": "78701"})
    assert (address["Country"], address["State"]) == ("US", "TX")


def test_given_codes_then_kept_and_prefixed_code_stripped():
    assert to_fusion({"address1": "x", "country_code": "ca", "province_code": "CA-ON"})["State"] == "ON"


def test_given_unknown_country_then_clear_error():
    with pytest.raises(AddressError, match="Atlantis"):
        to_fusion({"address1": "x", "country": "Atlantis"})
