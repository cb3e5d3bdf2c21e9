"""Error bodies per REST-Framework-Version (rest.md §6.1–6.2)."""
from fusion_helpers import FSCM

INVOICES = f"{FSCM}/receivablesInvoices"


def test_v4_400_has_the_json_error_object(fusion, customer):
    resp = fusion.rest("POST", INVOICES, json=fusion.invoice_body(customer, TransactionType="Nope"), fw=4)
    assert resp.status_code == 400
    assert resp.headers["Content-Type"].startswith("application/vnd.oracle.adf.error+json")
    body = resp.json()
    assert body["title"] == "Bad Request" and body["status"] == "400"
    detail = body["o:errorDetails"][0]
    assert "TransactionType" in detail["detail"] and detail["o:errorCode"]
    assert detail["o:errorPath"] == "/TransactionType"


def test_without_the_header_a_400_is_plain_text(fusion, customer):
    resp = fusion.rest("POST", INVOICES, json=fusion.invoice_body(customer, TransactionType="Nope"), fw=None)
    assert resp.status_code == 400
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert "TransactionType" in resp.text


def test_framework_v3_still_gets_plain_text(fusion, customer):
    resp = fusion.rest("POST", INVOICES, json=fusion.invoice_body(customer, TransactionType="Nope"), fw=3)
    assert resp.headers["Content-Type"].startswith("text/plain")


def test_default_framework_version_is_a_setting(make_fusion):
    fusion = make_fusion(default_framework_version=4)
    customer = fusion.create_customer()
    resp = fusion.rest("POST", INVOICES, json=fusion.invoice_body(customer, TransactionType="Nope"), fw=None)
    assert resp.status_code == 400 and "o:errorDetails" in resp.json()


def test_404_follows_the_same_rule(fusion):
    resp = fusion.rest("GET", f"{INVOICES}/123", fw=4)
    assert resp.status_code == 404 and resp.json()["status"] == "404"
    assert fusion.rest("GET", f"{INVOICES}/123", fw=None).headers["Content-Type"].startswith("text/plain")


def test_unsupported_framework_version_is_400(fusion):
    assert fusion.rest("GET", INVOICES, fw=12).status_code == 400


def test_v4_error_repeats_the_first_detail_at_the_top(fusion, customer):
    # given a v4 client, when a post fails validation
    resp = fusion.rest("POST", INVOICES, json=fusion.invoice_body(customer, TransactionType="Nope"), fw=4)
    # then detail and o:errorCode sit beside o:errorDetails (rest.md §6.2)
    body = resp.json()
    first = body["o:errorDetails"][0]
    assert body["detail"] == first["detail"] and body["o:errorCode"] == first["o:errorCode"]
    assert body["o:errorCode"] == "AR-855001"
