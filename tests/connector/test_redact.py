import logging

from connector.redact import MASK, RedactingFilter, redact


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
