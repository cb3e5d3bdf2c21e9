"""The mapping's ``[customers]`` section: safe defaults, and a typo named at start-up."""
import tomllib

import pytest

from connector.config import DEFAULT_MAPPING_FILE, ConfigError
from connector.mapping.config import parse_mapping

DEFAULTS = tomllib.loads(DEFAULT_MAPPING_FILE.read_text())


def test_given_the_default_mapping_then_matching_stays_in_the_shop_and_guests_get_the_guest_account():
    policy = parse_mapping(DEFAULTS).customers
    assert (policy.match, policy.guest_without_email) == ("same_shop", "guest_account")
    assert policy.guest_address["country_code"] == "US"


def test_given_a_mapping_without_the_section_then_same_shop_and_park():
    document = {k: v for k, v in DEFAULTS.items() if k != "customers"}
    policy = parse_mapping(document).customers
    assert (policy.match, policy.guest_without_email) == ("same_shop", "park")


def test_given_a_shop_override_then_only_that_shop_widens_the_match():
    mapping = parse_mapping({**DEFAULTS, "shops": {"eu.myshopify.com": {"customers": {"match": "any"}}}})
    assert mapping.for_shop("eu.myshopify.com").customers.match == "any"
    assert mapping.for_shop("us.myshopify.com").customers.match == "same_shop"


@pytest.mark.parametrize("customers, named", [
    ({"match": "email"}, "customers.match"),
    ({"guest_without_email": "guest_account"}, "customers.guest_address"),
    ({"guest_without_email": "guest_account", "guest_address": {"address1": "1 Main St"}},
     "customers.guest_address.country_code"),
])
def test_given_a_wrong_section_then_start_up_fails_naming_the_key(customers, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        parse_mapping({**DEFAULTS, "customers": customers})


# -- a party per phone number --------------------------------------------------------------------

def test_given_phone_party_then_a_number_is_read_in_the_guest_address_country_unless_one_is_given():
    policy = parse_mapping({**DEFAULTS, "customers": {**DEFAULTS["customers"],
                                                      "guest_without_email": "phone_party"}}).customers
    assert (policy.guest_without_email, policy.guest_without_phone, policy.region) == (
        "phone_party", "guest_account", "US")
    assert parse_mapping({**DEFAULTS, "customers": {**DEFAULTS["customers"], "guest_without_email": "phone_party",
                                                    "phone_region": "CA"}}).customers.region == "CA"


@pytest.mark.parametrize("customers, named", [
    ({"guest_without_email": "phone"}, "customers.guest_without_email"),
    ({"guest_without_email": "phone_party", "guest_without_phone": "park"}, "customers.guest_address"),
    ({"guest_without_email": "phone_party", "guest_without_phone": "phone_party"}, "customers.guest_without_phone"),
    ({"guest_without_email": "phone_party", "phone_region": "usa"}, "customers.phone_region"),
])
def test_given_a_wrong_phone_policy_then_start_up_fails_naming_the_key(customers, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        parse_mapping({**DEFAULTS, "customers": customers})
