"""The date policy: which refusals mean a closed period or a missing rate, and where a closed
period's document moves to."""
import tomllib
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import connector
from connector.config import ConfigError
from connector.mapping.config import parse_mapping
from connector.mapping.dates import DatePolicy, next_period_start


def minimal_mapping() -> dict:
    """The packaged mapping without its [dates] section."""
    document = tomllib.loads((Path(connector.__file__).parent / "defaults" / "mapping.toml").read_text())
    document.pop("dates")
    return document


def test_a_date_in_december_moves_to_the_first_of_january_of_the_next_year():
    assert next_period_start(date(2026, 12, 31)) == date(2027, 1, 1)
    assert next_period_start(date(2026, 11, 1)) == date(2026, 12, 1)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 11, 30)))
def test_the_next_period_starts_on_a_first_after_the_date_and_within_a_month(day):
    moved = next_period_start(day)
    assert moved.day == 1 and day < moved and (moved - day).days <= 31
    assert (moved.year * 12 + moved.month) - (day.year * 12 + day.month) == 1


@pytest.mark.parametrize("message", [
    "The accounting date 2026-11-14 isn't in an open or future enterable accounting period (Nov-26 is closed).",
    "APP-AR-11098: GL date is not in an open or future-enterable period",
    "The accounting period NOV-26 is closed.",
])
def test_closed_period_refusals_are_recognised(message):
    assert DatePolicy().closed_period_refusal(message)


@pytest.mark.parametrize("message", [
    "The transaction type Shopify Invoice isn't valid.",
    "The invoice currency EUR differs from the ledger currency USD, so ConversionRateType is required.",
    "A conversion rate doesn't exist for the conversion rate type Corporate from EUR to USD on 2026-11-14.",
])
def test_other_refusals_are_not_a_closed_period(message):
    assert not DatePolicy().closed_period_refusal(message)


def test_a_missing_rate_is_recognised_and_a_missing_rate_type_is_not():
    policy = DatePolicy()
    assert policy.missing_rate_refusal("A conversion rate doesn't exist for the conversion rate type Corporate "
                                       "from EUR to USD on 2026-11-14.")
    assert policy.missing_rate_refusal("No exchange rate found for EUR")
    assert not policy.missing_rate_refusal("The conversion rate type is User, so the attribute ConversionRate "
                                           "is required.")


def test_a_mapping_without_the_section_moves_dates_to_the_next_open_period():
    assert parse_mapping(minimal_mapping()).dates == DatePolicy(closed_period="next_open", max_moves=3)


def test_the_section_is_validated_with_its_key_named():
    with pytest.raises(ConfigError, match="dates.closed_period"):
        parse_mapping({**minimal_mapping(), "dates": {"closed_period": "backdate"}})
    with pytest.raises(ConfigError, match="dates.closed_period_pattern"):
        parse_mapping({**minimal_mapping(), "dates": {"closed_period_pattern": "(unclosed"}})
    assert parse_mapping({**minimal_mapping(), "dates": {"closed_period": "park"}}).dates.closed_period == "park"
