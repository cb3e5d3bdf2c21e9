"""``connector.logs``: the line format, masking, correlation and the rate limit on refusals."""
from __future__ import annotations

import io
import json
import logging
import threading
import uuid

import pytest

from connector import logs


class Captured:
    """A logger of the test's own whose handler is set up as every process's is."""

    def __init__(self, fmt: str):
        self.stream = io.StringIO()
        self.logger = logging.getLogger(f"tests.logs.{uuid.uuid4().hex}")
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)
        handler = logging.StreamHandler(self.stream)
        handler.setFormatter(logs.formatter(fmt))
        self.logger.addHandler(logs.install_filters(handler))

    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.text().splitlines()]


@pytest.fixture
def json_log() -> Captured:
    return Captured("json")


@pytest.fixture
def text_log() -> Captured:
    return Captured("text")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- format -----------------------------------------------------------------------------------

def test_given_json_then_each_line_is_one_object_with_the_fields_and_the_correlation(json_log):
    with logs.bind(inbox_id=812, shop="acme.myshopify.com", topic="orders/create", gid="gid://shopify/Order/5"):
        json_log.logger.info("inbox event %s done", 812, extra={"attempts": 1})

    [line] = json_log.lines()
    assert list(line)[:5] == ["time", "level", "logger", "pid", "message"]
    assert line["level"] == "INFO" and line["message"] == "inbox event 812 done"
    assert line["time"].endswith("+00:00")
    assert (line["inbox_id"], line["shop"], line["topic"], line["gid"]) == (
        812, "acme.myshopify.com", "orders/create", "gid://shopify/Order/5")
    assert line["attempts"] == 1


def test_given_an_exception_then_its_traceback_stays_inside_the_one_line(json_log):
    try:
        raise ValueError("boom")
    except ValueError:
        json_log.logger.exception("failed")

    [line] = json_log.lines()
    assert "ValueError: boom" in line["exc_info"]


def test_given_text_then_the_correlation_follows_the_message(text_log):
    with logs.bind(inbox_id=7, shop="acme.myshopify.com"):
        text_log.logger.warning("something")

    assert text_log.text().rstrip().endswith("something [inbox_id=7 shop=acme.myshopify.com]")


def test_given_configure_logging_twice_then_one_root_handler_in_the_last_format():
    root = logging.getLogger()
    before_level, before = root.level, list(root.handlers)
    try:
        first = logs.configure_logging("INFO", "json")
        second = logs.configure_logging("DEBUG", "text")

        assert first is second and isinstance(second.formatter, logs.TextFormatter)
        assert [h for h in root.handlers if isinstance(h, type(first))] == [first]
        assert root.level == logging.DEBUG
    finally:
        root.handlers[:] = before
        root.setLevel(before_level)


# -- masking ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["json", "text"])
def test_given_an_email_anywhere_on_the_line_then_it_is_masked(fmt):
    log = Captured(fmt)
    with logs.bind(gid="email:jane.doe@example.com"):  # a guest's binding key
        log.logger.warning("no customer for %s", "Jane.Doe+shop@mail.example.co.uk", extra={"to": "x.y@corp.example"})
        try:
            raise LookupError("unknown jane.doe@example.com")
        except LookupError:
            log.logger.exception("lookup failed")

    text = log.text()
    assert "@" in text and "jane" not in text.lower() and "corp.example" not in text
    assert "J***@***.uk" in text and "j***@***.com" in text


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_given_a_secret_in_a_message_or_a_field_then_it_is_masked(fmt):
    log = Captured(fmt)
    log.logger.error("token refused: Bearer abcdefghijklmnop", extra={"url": "https://x/?access_token=s3cr3tvalue"})

    assert "abcdefghijklmnop" not in log.text() and "s3cr3tvalue" not in log.text()
    assert "[REDACTED]" in log.text()


def test_given_shop_domains_and_gids_then_nothing_is_masked(json_log):
    with logs.bind(shop="acme.myshopify.com", gid="gid://shopify/Customer/42"):
        json_log.logger.info("ok")

    [line] = json_log.lines()
    assert (line["shop"], line["gid"]) == ("acme.myshopify.com", "gid://shopify/Customer/42")


# -- correlation ------------------------------------------------------------------------------

def test_given_nested_binds_then_each_block_adds_and_leaving_it_restores():
    with logs.bind(inbox_id=1, topic="orders/create"):
        with logs.bind(task_id="t-1", shop=""):  # an empty field is left out
            logs.annotate(gid="gid://shopify/Order/9")
            inner = logs.correlation()
        outer = logs.correlation()
    assert inner == {"inbox_id": 1, "topic": "orders/create", "task_id": "t-1", "gid": "gid://shopify/Order/9"}
    assert outer == {"inbox_id": 1, "topic": "orders/create"}
    assert logs.correlation() == {}


def test_given_annotate_outside_any_block_then_nothing_stays_bound():
    logs.annotate(inbox_id=5)

    assert logs.correlation() == {}


def test_given_two_threads_then_neither_sees_the_others_fields():
    seen = {}
    inside, release = threading.Event(), threading.Event()

    def other():
        with logs.bind(inbox_id=2):
            inside.set()
            release.wait(10)
            seen["other"] = logs.correlation()

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(10)
    with logs.bind(inbox_id=1):
        seen["main"] = logs.correlation()
    release.set()
    thread.join(10)

    assert seen == {"main": {"inbox_id": 1}, "other": {"inbox_id": 2}}


def test_given_a_task_message_then_it_carries_the_event_not_the_senders_task():
    with logs.bind(inbox_id=3, shop="acme.myshopify.com", task_id="sweeper", task="mlc.inbox.sweep"):
        carried = logs.carried(inbox_id=4, topic="orders/paid")

    assert carried == {"inbox_id": 4, "shop": "acme.myshopify.com", "topic": "orders/paid"}


def test_given_extra_fields_then_they_win_over_the_bound_ones(json_log):
    with logs.bind(shop="bound.myshopify.com"):
        json_log.logger.info("x", extra={"shop": "given.myshopify.com"})

    assert json_log.lines()[0]["shop"] == "given.myshopify.com"


# -- refusals ---------------------------------------------------------------------------------

def refusal_log(captured: Captured, limit: int = 3, window: float = 60) -> tuple[logs.RefusalLog, Clock]:
    clock = Clock()
    return logs.RefusalLog(captured.logger, limit, window, clock=clock), clock


def test_given_a_flood_then_limit_lines_per_window_and_one_summary_after_it(json_log):
    refusals, clock = refusal_log(json_log, limit=3)

    logged = [refusals.refused("a.myshopify.com", "invalid_signature", "refused %d", n) for n in range(50)]
    clock.now += 60
    refusals.refused("a.myshopify.com", "invalid_signature", "refused again")

    assert logged == [True] * 3 + [False] * 47
    messages = [line["message"] for line in json_log.lines()]
    assert messages == ["refused 0", "refused 1", "refused 2",
                        "47 more refusals suppressed (shop a.myshopify.com, reason invalid_signature) within 60 s of the first",
                        "refused again"]
    summary = json_log.lines()[3]
    assert (summary["shop"], summary["reason"], summary["suppressed"]) == ("a.myshopify.com", "invalid_signature", 47)


def test_given_other_shops_or_reasons_then_each_has_its_own_budget(json_log):
    refusals, _ = refusal_log(json_log, limit=1)

    for shop, reason in [("a", "malformed"), ("a", "malformed"), ("a", "too_large"), ("b", "malformed")]:
        refusals.refused(shop, reason, "refused %s %s", shop, reason)

    assert [line["message"] for line in json_log.lines()] == ["refused a malformed", "refused a too_large",
                                                                "refused b malformed"]


def test_given_a_window_that_held_nothing_back_then_no_summary(json_log):
    refusals, clock = refusal_log(json_log, limit=2)

    refusals.refused("a", "malformed", "one")
    clock.now += 61
    refusals.refused("a", "malformed", "two")
    refusals.flush()

    assert [line["message"] for line in json_log.lines()] == ["one", "two"]


def test_given_a_later_refusal_of_another_shop_then_the_ended_window_is_summed_up_too(json_log):
    refusals, clock = refusal_log(json_log, limit=1)
    refusals.refused("a", "malformed", "a1")
    refusals.refused("a", "malformed", "a2")
    clock.now += 30
    refusals.refused("b", "malformed", "b1")
    clock.now += 31  # a's window ended, b's has not

    refusals.refused("c", "malformed", "c1")

    messages = [line["message"] for line in json_log.lines()]
    assert messages == ["a1", "b1", "1 more refusals suppressed (shop a, reason malformed) within 60 s of the first", "c1"]


def test_given_flush_then_what_was_held_back_is_said(json_log):
    refusals, _ = refusal_log(json_log, limit=1)
    for _ in range(4):
        refusals.refused("a", "outside_window", "refused")

    refusals.flush()

    assert json_log.lines()[-1]["suppressed"] == 3


def test_given_more_shops_than_it_counts_apart_then_the_rest_share_one_budget(json_log, monkeypatch):
    monkeypatch.setattr(logs.RefusalLog, "MAX_KEYS", 2)
    refusals, _ = refusal_log(json_log, limit=1)

    logged = [refusals.refused(f"shop-{n}", "unknown_shop", "refused %d", n) for n in range(5)]

    assert logged == [True, True, True, False, False]  # shop-2 took the shared budget of "*"
    refusals.flush()
    assert json_log.lines()[-1]["message"].startswith("2 more refusals suppressed (shop *, reason unknown_shop)")
