import logging

import pytest

from connector.redact import MASK, RedactingFilter, redact, redact_text


def test_given_nested_secrets_then_masked_and_money_kept():
    out = redact({"Authorization": "Bearer abc.def.ghi", "payload": {"client_secret": "x", "Amount": "9.99"},
                  "items": [{"refresh_token": "r"}]})
    assert out == {"Authorization": MASK, "payload": {"client_secret": MASK, "Amount": "9.99"},
                   "items": [{"refresh_token": MASK}]}


def test_given_secret_in_free_text_log_line_then_masked(caplog):
    logger = logging.getLogger("test.redact")
    handler = caplog.handler
    handler.addFilter(RedactingFilter())
    try:
        logger.warning("token call failed: access_token=shpat_123456789 header Bearer eyJhbGciOi.x.y")
    finally:
        handler.removeFilter(handler.filters[-1])
    assert "shpat_123456789" not in caplog.text and "eyJhbGciOi" not in caplog.text


@pytest.mark.parametrize("text", ["BEARER abcdefghijkl", "Basİc abcdefghijkl", "basıc abcdefghijkl",
                                  "paſſword=hunter2", "ACCESS_TOKEN: 'shpat_1'", "client_secret=x", "Refresh_Token=y"])
def test_given_any_case_of_a_secret_word_then_the_quick_check_still_masks_it(text):
    # redact_text returns text without a secret word unchanged before running its expression:
    # every case the expression matches (it folds İ, ı, ſ and K as Unicode does) must get there
    assert MASK in redact_text(text)


def test_given_text_without_a_secret_word_then_it_is_returned_as_it_is():
    text = "inbox event 812 done after 1 attempt(s)"
    assert redact_text(text) is text
