"""Webhook delivery: signature over the exact bytes, headers, events, retries, misbehaviour knobs."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

from sandbox.shopify import jsonio
from tests.factories import reference_order

HEADERS = ("X-Shopify-Topic", "X-Shopify-Hmac-Sha256", "X-Shopify-Shop-Domain", "X-Shopify-Api-Version",
           "X-Shopify-Webhook-Id", "X-Shopify-Event-Id", "X-Shopify-Triggered-At")


def _verifies(secret: str, hit: dict) -> bool:
    digest = base64.b64encode(hmac.new(secret.encode(), hit["body"], hashlib.sha256).digest())
    return hmac.compare_digest(digest, hit["headers"]["X-Shopify-Hmac-Sha256"].encode())


def test_webhook_is_signed_over_the_exact_bytes_with_all_headers(sandbox, shop, receiver):
    # given a shop whose webhooks go to the receiver
    # when an order is created
    order = sandbox.post(f"/_sandbox/shops/{shop}/orders", reference_order()).json()
    sandbox.wait_idle()
    # then orders/create arrives signed with the client secret over the raw body
    hit = receiver.webhooks("orders/create")[0]
    assert _verifies("app-secret", hit)
    assert not _verifies("other-secret", hit)
    for header in HEADERS:
        assert hit["headers"].get(header), header
    assert hit["headers"]["Content-Type"] == "application/json"
    assert hit["headers"]["X-Shopify-Shop-Domain"] == shop
    assert hit["headers"]["X-Shopify-Api-Version"] == "2026-01"
    assert hit["headers"]["X-Shopify-Triggered-At"].endswith("Z")
    # re-serialising the parsed body does not give the signed bytes (Shopify escapes "/")
    assert json.dumps(json.loads(hit["body"]), separators=(",", ":")).encode() != hit["body"]
    assert jsonio.loads(hit["body"])["id"] == order["id"]


def test_one_action_shares_one_event_id_across_topics(sandbox, shop, receiver):
    # given a paid order from a customer the shop does not know yet
    sandbox.post(f"/_sandbox/shops/{shop}/orders", reference_order())
    sandbox.wait_idle()
    # then customers/create, orders/create and orders/paid arrive
    created = receiver.webhooks("orders/create")[0]["headers"]
    paid = receiver.webhooks("orders/paid")[0]["headers"]
    customer = receiver.webhooks("customers/create")[0]
    # and the order's two topics share the Event-Id but not the Webhook-Id
    assert created["X-Shopify-Event-Id"] == paid["X-Shopify-Event-Id"]
    assert created["X-Shopify-Webhook-Id"] != paid["X-Shopify-Webhook-Id"]
    # the customer's creation is an action of its own
    assert customer["headers"]["X-Shopify-Event-Id"] != created["X-Shopify-Event-Id"]
    assert jsonio.loads(customer["body"])["email"] == "ana@example.com"


def test_known_customer_and_pending_order_fire_only_orders_create(sandbox, shop, receiver):
    sandbox.post(f"/_sandbox/shops/{shop}/customers?deliver=false", {"email": "ana@example.com"})
    sandbox.post(f"/_sandbox/shops/{shop}/orders", reference_order(financial_status="pending"))
    sandbox.wait_idle()
    assert [h["headers"]["X-Shopify-Topic"] for h in receiver.webhooks()] == ["orders/create"]


def test_deliver_false_stores_without_firing(sandbox, shop, receiver):
    r = sandbox.post(f"/_sandbox/shops/{shop}/orders?deliver=false", reference_order())
    sandbox.wait_idle()
    assert r.status_code == 201 and receiver.webhooks() == []


def test_retries_carry_the_original_body_and_ids(sandbox, shop, receiver):
    # given a receiver that fails twice
    receiver.script = [500, 503]
    # when a pending order is created
    sandbox.post(f"/_sandbox/shops/{shop}/orders", reference_order(financial_status="pending", customer=None))
    sandbox.wait_idle()
    # then it is delivered on the third attempt, byte for byte and header for header the same
    hits = receiver.webhooks("orders/create")
    assert len(hits) == 3
    for key in ("X-Shopify-Webhook-Id", "X-Shopify-Event-Id", "X-Shopify-Triggered-At", "X-Shopify-Hmac-Sha256"):
        assert len({h["headers"][key] for h in hits}) == 1
    assert len({h["body"] for h in hits}) == 1
    # and the deliveries log shows each attempt
    log = [d for d in sandbox.deliveries(shop) if d["topic"] == "orders/create"]
    assert [(d["attempt"], d["status_code"], d["ok"]) for d in log] == [(1, 500, False), (2, 503, False), (3, 200, True)]


def test_redirect_is_a_failure_and_is_not_followed(sandbox, shop, receiver):
    receiver.script = [("redirect", receiver.base + "/elsewhere")]
    sandbox.post(f"/_sandbox/shops/{shop}/orders", reference_order(financial_status="pending", customer=None))
    sandbox.wait_idle()
    log = [d for d in sandbox.deliveries(shop)]
    assert [(d["attempt"], d["status_code"], d["ok"]) for d in log] == [(1, 302, False), (2, 200, True)]
    assert receiver.webhooks(path="/elsewhere") == []


def test_delivery_gives_up_after_max_retries(make_sandbox, receiver):
    box = make_sandbox(max_retries=2)
    box.put_shop("r.myshopify.com", client_id="c", client_secret="s", webhook_url=receiver.url)
    receiver.script = [500] * 10
    box.post("/_sandbox/shops/r.myshopify.com/orders", reference_order(financial_status="pending", customer=None))
    box.wait_idle()
    assert [d["attempt"] for d in box.deliveries()] == [1, 2, 3]
    assert len(receiver.webhooks()) == 3


def test_slow_receiver_times_out_and_is_retried(make_sandbox, receiver):
    box = make_sandbox(webhook_timeout_seconds=0.2)
    box.put_shop("t.myshopify.com", client_id="c", client_secret="s", webhook_url=receiver.url)
    receiver.script = [("sleep", 0.6)]
    box.post("/_sandbox/shops/t.myshopify.com/orders", reference_order(financial_status="pending", customer=None))
    box.wait_idle()
    log = box.deliveries()
    assert log[0]["ok"] is False and "timeout" in log[0]["error"]
    assert log[-1]["ok"] is True and log[-1]["attempt"] == 2


def test_unreachable_endpoint_is_a_failure(make_sandbox):
    sandbox = make_sandbox(time_scale=0.0001)
    sandbox.put_shop("down.myshopify.com", client_id="c", client_secret="s", webhook_url="http://127.0.0.1:9/h")
    sandbox.post("/_sandbox/shops/down.myshopify.com/orders", reference_order(financial_status="pending", customer=None))
    sandbox.wait_idle(20)
    log = sandbox.deliveries("down.myshopify.com")
    assert log and all(not d["ok"] and "connection" in d["error"] for d in log)
    assert len(log) == 9  # the first attempt and 8 retries


def test_duplicates_knob_sends_every_webhook_twice(sandbox, shop, receiver):
    sandbox.post("/_sandbox/webhooks/config", {"duplicates": 2})
    sandbox.post(f"/_sandbox/shops/{shop}/orders", reference_order(financial_status="pending", customer=None))
    sandbox.wait_idle()
    hits = receiver.webhooks("orders/create")
    assert len(hits) == 2 and hits[0]["body"] == hits[1]["body"]
    assert hits[0]["headers"]["X-Shopify-Webhook-Id"] == hits[1]["headers"]["X-Shopify-Webhook-Id"]


def test_duplicate_fraction_sends_a_share_of_webhooks_once_more(sandbox, shop, receiver):
    # given every webhook (fraction 1) gets one extra copy, sent up to 0.1 s after the first
    sandbox.post("/_sandbox/webhooks/config", {"duplicate_fraction": 1.0, "max_delay_seconds": 0.1, "seed": 5})
    sandbox.post(f"/_sandbox/shops/{shop}/orders", reference_order(financial_status="pending", customer=None))
    sandbox.wait_idle()
    # then the webhook arrives twice, the same bytes and ids, logged as copies 1 and 2
    hits = receiver.webhooks("orders/create")
    assert len(hits) == 2 and hits[0]["body"] == hits[1]["body"]
    assert hits[0]["headers"]["X-Shopify-Webhook-Id"] == hits[1]["headers"]["X-Shopify-Webhook-Id"]
    assert sorted(d["copy"] for d in sandbox.deliveries(shop)) == [1, 2]
    # and with a fraction of a half, some webhooks get a copy and some do not
    sandbox.post("/_sandbox/webhooks/config", {"duplicate_fraction": 0.5, "max_delay_seconds": 0.0})
    for _ in range(12):
        sandbox.post(f"/_sandbox/shops/{shop}/orders", reference_order(financial_status="pending", customer=None))
    sandbox.wait_idle()
    copies = [d["copy"] for d in sandbox.deliveries(shop)][2:]
    assert 12 < len(copies) < 24 and copies.count(1) == 12


def test_out_of_order_fraction_lets_later_webhooks_overtake(sandbox, shop, receiver):
    # given every webhook is held back by 0.2 to 0.4 s
    sandbox.post("/_sandbox/webhooks/config", {"out_of_order_fraction": 1.0, "max_delay_seconds": 0.4})
    first = sandbox.post(f"/_sandbox/shops/{shop}/orders",
                         reference_order(financial_status="pending", customer=None)).json()
    # when the next order's webhook is not held back
    sandbox.post("/_sandbox/webhooks/config", {"out_of_order_fraction": 0.0})
    second = sandbox.post(f"/_sandbox/shops/{shop}/orders",
                          reference_order(financial_status="pending", customer=None)).json()
    sandbox.wait_idle()
    # then the second order's webhook arrives first, and the log says how long the first was held
    arrived = [jsonio.loads(h["body"])["id"] for h in receiver.webhooks("orders/create")]
    assert arrived == [second["id"], first["id"]]
    delays = {d["webhook_id"]: d["delay"] for d in sandbox.deliveries(shop)}
    assert sorted(delays.values())[0] == 0.0 and 0.2 <= sorted(delays.values())[1] <= 0.4


def test_drop_knob_loses_webhooks(sandbox, shop, receiver):
    sandbox.post("/_sandbox/webhooks/config", {"drop_fraction": 1.0})
    sandbox.post(f"/_sandbox/shops/{shop}/orders", reference_order())
    sandbox.wait_idle()
    assert receiver.webhooks() == []
    assert {d["error"] for d in sandbox.deliveries(shop)} == {"dropped"}


def test_pause_builds_a_backlog_that_resume_delivers(sandbox, shop, receiver):
    # given delivery is paused
    sandbox.post("/_sandbox/webhooks/config", {"paused": True})
    sandbox.post(f"/_sandbox/shops/{shop}/orders", reference_order(customer=None))
    # then nothing arrives and delivery is not idle
    state = sandbox.get("/_sandbox/webhooks/idle").json()
    assert state == {"idle": False, "pending": 2} and receiver.webhooks() == []
    # when resumed, everything arrives
    sandbox.post("/_sandbox/webhooks/config", {"paused": False})
    assert sandbox.wait_idle()["idle"] is True
    assert sorted(h["headers"]["X-Shopify-Topic"] for h in receiver.webhooks()) == ["orders/create", "orders/paid"]


def test_out_of_order_knob_still_delivers_everything(sandbox, shop, receiver):
    sandbox.post("/_sandbox/webhooks/config", {"out_of_order": True, "max_delay_seconds": 0.05, "seed": 3})
    for _ in range(3):
        sandbox.post(f"/_sandbox/shops/{shop}/orders", reference_order(customer=None))
    sandbox.wait_idle()
    assert len(receiver.webhooks()) == 6


def test_unknown_knob_is_refused(sandbox):
    assert sandbox.post("/_sandbox/webhooks/config", {"lose_everything": True}).status_code == 422


def test_retries_go_to_the_address_configured_when_the_event_fired(sandbox, shop, receiver):
    # given a first attempt that fails
    receiver.script = [500]
    sandbox.post("/_sandbox/webhooks/config", {"paused": False})
    sandbox.post(f"/_sandbox/shops/{shop}/orders", reference_order(financial_status="pending", customer=None))
    # when the app moves its endpoint before the retry
    sandbox.put_shop(shop, webhook_url=receiver.base + "/new-endpoint")
    sandbox.wait_idle()
    # then the retry still goes to the old address
    assert len(receiver.webhooks("orders/create")) == 2
    assert receiver.webhooks(path="/new-endpoint") == []


def test_webhooks_carry_the_shops_api_version_and_topic_filter(sandbox, receiver):
    # given a shop subscribed to orders/paid only, on API version 2026-04
    sandbox.put_shop("v.myshopify.com", client_id="c", client_secret="s", webhook_url=receiver.url,
                     api_version="2026-04", webhook_topics=["orders/paid"])
    sandbox.post("/_sandbox/shops/v.myshopify.com/orders", reference_order(customer=None))
    sandbox.wait_idle()
    hits = receiver.webhooks()
    assert [h["headers"]["X-Shopify-Topic"] for h in hits] == ["orders/paid"]
    assert hits[0]["headers"]["X-Shopify-Api-Version"] == "2026-04"
    assert [d["topic"] for d in sandbox.deliveries("v.myshopify.com")] == ["orders/paid"]


def test_exhausted_retries_remove_the_subscription_until_the_shop_is_put_again(make_sandbox, receiver):
    # given subscription removal on, 2 retries, and a shop whose endpoint always fails
    box = make_sandbox(max_retries=2, remove_subscription_after_failed_retries=True)
    box.put_shop("gone.myshopify.com", client_id="c", client_secret="s", webhook_url=receiver.url,
                 webhook_topics=["orders/create"])
    receiver.script = [500] * 3
    pending = reference_order(financial_status="pending", customer=None)
    # when one webhook fails its first attempt and both retries
    box.post("/_sandbox/shops/gone.myshopify.com/orders", pending)
    box.wait_idle()
    # then the subscription is gone: logged, and shown on the shop
    log = box.deliveries("gone.myshopify.com")
    assert [(d["attempt"], d["subscription_removed"]) for d in log] == [(1, False), (2, False), (3, False),
                                                                        (3, True)]
    assert "removed after 3 failed attempts" in log[-1]["error"]
    removed = box.get("/_sandbox/shops/gone.myshopify.com").json()["webhook_subscription_removed"]
    assert removed["url"] == receiver.url and removed["topic"] == "orders/create" and removed["attempts"] == 3
    # when another order is created, nothing is sent and the log says why
    box.post("/_sandbox/shops/gone.myshopify.com/orders", pending)
    box.wait_idle()
    assert len(receiver.webhooks()) == 3
    skipped = box.deliveries("gone.myshopify.com")[-1]
    assert skipped["status_code"] is None and skipped["ok"] is False and "subscription was removed" in skipped["error"]
    # when the shop is PUT again, delivery resumes
    assert box.put_shop("gone.myshopify.com", webhook_url=receiver.url).json()["webhook_subscription_removed"] is None
    box.post("/_sandbox/shops/gone.myshopify.com/orders", pending)
    box.wait_idle()
    assert len(receiver.webhooks()) == 4 and box.deliveries("gone.myshopify.com")[-1]["ok"] is True


def test_without_the_setting_failed_retries_keep_the_subscription(make_sandbox, receiver):
    # given the default settings and a shop whose endpoint fails one webhook's every attempt
    box = make_sandbox(max_retries=1)
    box.put_shop("kept.myshopify.com", client_id="c", client_secret="s", webhook_url=receiver.url,
                 webhook_topics=["orders/create"])
    receiver.script = [500, 500]
    pending = reference_order(financial_status="pending", customer=None)
    box.post("/_sandbox/shops/kept.myshopify.com/orders", pending)
    box.wait_idle()
    # when the next order is created
    box.post("/_sandbox/shops/kept.myshopify.com/orders", pending)
    box.wait_idle()
    # then it is still delivered, and nothing was removed
    assert len(receiver.webhooks()) == 3 and box.deliveries("kept.myshopify.com")[-1]["ok"] is True
    assert box.get("/_sandbox/shops/kept.myshopify.com").json()["webhook_subscription_removed"] is None
