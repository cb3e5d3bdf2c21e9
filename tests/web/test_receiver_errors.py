"""The receiver when its database is down: 503, so that Shopify delivers the webhook again."""
from datetime import datetime, timezone

from connector.config import Settings
from connector.vault import generate_key
from web.app import create_app


def test_given_database_unreachable_when_webhook_arrives_then_503_for_shopify_to_retry():
    # a real PostgreSQL URL on a port where nothing listens
    settings = Settings(database_url="postgresql://mlc@127.0.0.1:9/mlc", encryption_keys=(generate_key(),))
    client = create_app(settings).test_client()

    response = client.post("/webhooks/shopify", data=b'{"id": 1}', headers={
        "X-Shopify-Shop-Domain": "any.myshopify.com", "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": "c2ln", "X-Shopify-Event-Id": "e1",
        "X-Shopify-Triggered-At": datetime.now(timezone.utc).isoformat()})

    assert response.status_code == 503

