import base64
import hashlib
import hmac

from connector.shopify.webhooks import sign, verify

BODY = b'{"id":820982911946154508,"email":"jon@example.com","note":"a \\/ slash \\u0026 amp"}'


def shopify_signature(secret: str, body: bytes) -> str:
    """Computed independently, the way Shopify documents it."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_given_shopify_signature_when_verified_then_accepted():
    assert verify(BODY, shopify_signature("s3cret", BODY), ["s3cret"])
    assert sign("s3cret", BODY) == shopify_signature("s3cret", BODY)


def test_given_reserialised_body_when_verified_then_rejected():
    # Shopify escapes "/" and "&": re-encoding the parsed JSON changes the bytes and the signature.
    import json
    reserialised = json.dumps(json.loads(BODY)).encode()
    assert not verify(reserialised, shopify_signature("s3cret", BODY), ["s3cret"])


def test_given_hex_digest_or_wrong_secret_or_garbage_when_verified_then_rejected():
    hex_digest = hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    assert not verify(BODY, hex_digest, ["s3cret"])
    assert not verify(BODY, shopify_signature("other", BODY), ["s3cret"])
    assert not verify(BODY, "not base64 at all!", ["s3cret"])
    assert not verify(BODY, "", ["s3cret"])
    assert not verify(b"", shopify_signature("s3cret", b""), ["s3cret"])


def test_given_rotated_secret_when_old_signature_arrives_then_still_accepted():
    assert verify(BODY, shopify_signature("old", BODY), ["new", "old"])
