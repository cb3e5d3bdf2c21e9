"""The transport against a real sandbox: what each failure means for the caller, tokens, the
shared bucket and the audit trail."""
from __future__ import annotations

import time
import uuid

import pytest
from werkzeug.wrappers import Response

from connector.fusion import soap
from connector.fusion.errors import (FusionAuthError, FusionRejected, FusionUnavailable,
                                     FusionUncertain)
from connector.fusion.invoices import PATH as INVOICES
from connector.http import recording
from connector.ratelimit import TokenBucket
from sandbox.server import BackgroundServer
from tests.connector.fusion.fusion_pods import client_for, inject, stats


def _post_invoice(client, pod, customer, number: str):
    return client.transport.write("POST", INVOICES, pod.invoice_body(customer, TransactionNumber=number))


def _invoices_numbered(pod, number: str) -> list[dict]:
    return pod.json(pod.rest("GET", INVOICES, params={"q": f"TransactionNumber = '{number}'"}))["items"]


# --- refusals ---------------------------------------------------------------------------------------

def test_given_an_unknown_business_unit_when_posted_then_rejected_in_fusions_words(client, pod, customer):
    body = pod.invoice_body(customer, BusinessUnit="Atlantis")
    with pytest.raises(FusionRejected) as refused:
        client.transport.write("POST", INVOICES, body)
    assert refused.value.status == 400
    assert "BusinessUnit" in str(refused.value)


def test_given_a_soap_fault_when_called_then_rejected_with_the_adf_code(client):
    envelope = soap.request(soap.CUSTOMER_ACCOUNT, "createCustomerAccount", customerAccount=soap.fields(
        soap.CUSTOMER_ACCOUNT, PartyId="1", AccountName="Nobody", CreatedByModule="HZ_WS"))
    with pytest.raises(FusionRejected) as refused:
        client.transport.soap(soap.CUSTOMER_ACCOUNT, envelope, "createCustomerAccount", write=True)
    assert refused.value.status == 500
    assert "FND_CMN_RCRD_MSNG" in refused.value.code
    assert "Party ID 1" in str(refused.value)


def test_given_an_operation_in_the_wrong_namespace_when_called_then_rejected(client):
    wrong = soap.SoapService(soap.CUSTOMER_ACCOUNT.path, soap.CUSTOMER_ACCOUNT.namespace,
                             soap.CUSTOMER_ACCOUNT.namespace, "cus")
    with pytest.raises(FusionRejected, match="Unknown method"):
        client.transport.soap(wrong, soap.request(wrong, "findCustomerAccount"), "findCustomerAccount",
                              write=False)


# --- credentials --------------------------------------------------------------------------------------

def test_given_a_pod_that_forgot_the_token_when_read_then_one_new_token_and_the_read_succeeds(pods, pod):
    client = client_for(pod)
    client.ping()
    # when the pod restarts on the same URL, it knows the old token no more
    pod = pods.restart(pod)
    client.ping()
    # then the client was refused once, fetched one token and asked again
    assert stats(pod) == {"GET receivablesInvoices": 2, "POST token": 1}


def test_given_a_wrong_client_secret_when_read_then_auth_error(pod):
    with pytest.raises(FusionAuthError, match="refused the client credentials"):
        client_for(pod, client_secret="wrong").ping()


def test_given_a_wrong_basic_password_when_read_then_auth_error_after_one_more_try(pod):
    client = client_for(pod, auth_mode="basic", username=pod.settings.basic_username, password="wrong")
    with pytest.raises(FusionAuthError, match="HTTP 401"):
        client.ping()
    assert stats(pod) == {"GET receivablesInvoices": 2}


def test_given_a_login_page_in_front_of_the_pod_when_read_then_auth_error_not_a_retry(pod):
    def sso(environ, start_response):  # a single sign-on proxy sends every request to its login
        login = Response(status=302, headers={"Location": "https://login.example.com/sso"})
        return login(environ, start_response)
    with BackgroundServer(sso) as proxy:
        client = client_for(pod, base_url=proxy.url)
        with pytest.raises(FusionAuthError, match=r"redirected \(HTTP 302\) to https://login.example.com"):
            client.ping()


# --- reads: retried ------------------------------------------------------------------------------------

def test_given_a_passing_outage_when_read_then_retried_until_answered(client, pod):
    inject(pod, kind="503", count=2, retry_after=0, path_prefix=INVOICES)
    assert client.ping()["items"] is not None
    assert stats(pod)["GET receivablesInvoices"] == 3


def test_given_a_lasting_outage_when_read_then_unavailable(client, pod):
    inject(pod, kind="500", path_prefix=INVOICES)
    with pytest.raises(FusionUnavailable, match="HTTP 500"):
        client.ping()
    assert stats(pod)["GET receivablesInvoices"] == 3  # max_tries


def test_given_a_lost_answer_when_read_then_read_again(client, pod):
    inject(pod, kind="lost_response", count=1, path_prefix=INVOICES)
    assert client.ping()["items"] is not None


# --- writes: retried only when Fusion certainly did not act ------------------------------------------------

def test_given_a_lost_answer_when_posted_then_uncertain_and_fusion_did_act(client, pod, customer):
    inject(pod, kind="lost_response", count=1, path_prefix=INVOICES)
    with pytest.raises(FusionUncertain):
        _post_invoice(client, pod, customer, "LOST-1")
    assert len(_invoices_numbered(pod, "LOST-1")) == 1


def test_given_an_answer_slower_than_the_timeout_when_posted_then_uncertain(pod, customer):
    client = client_for(pod, read_timeout=0.5)
    inject(pod, kind="timeout", count=1, sleep_ms=1500, path_prefix=INVOICES)
    with pytest.raises(FusionUncertain, match="no answer within 0.5s"):
        _post_invoice(client, pod, customer, "SLOW-1")
    assert len(_invoices_numbered(pod, "SLOW-1")) == 1


def test_given_a_5xx_when_posted_then_uncertain_and_not_retried(client, pod, customer):
    inject(pod, kind="502", count=1, path_prefix=INVOICES)
    with pytest.raises(FusionUncertain, match="HTTP 502"):
        _post_invoice(client, pod, customer, "GATEWAY-1")
    assert stats(pod)["POST receivablesInvoices"] == 1


def test_given_a_lost_soap_answer_when_creating_then_uncertain(client, pod, customer):
    inject(pod, kind="lost_response", count=1, path_prefix=soap.CUSTOMER_ACCOUNT.path)
    envelope = soap.request(soap.CUSTOMER_ACCOUNT, "findCustomerAccount")
    with pytest.raises(FusionUncertain):
        client.transport.soap(soap.CUSTOMER_ACCOUNT, envelope, "findCustomerAccount", write=True)


def test_given_429_when_posted_then_retried_once_the_shared_bucket_allows_and_created_once(
        pod, customer, redis_client):
    # given a bucket shared with other workers, and a pod that throttles the next request
    key = f"test:fusion:{uuid.uuid4()}"
    client = client_for(pod, bucket=TokenBucket(redis_client, key, rate=50, burst=50))
    inject(pod, kind="429", count=1, retry_after=1, path_prefix=INVOICES)
    started = time.monotonic()
    # when an invoice is posted
    created = _post_invoice(client, pod, customer, "THROTTLED-1")
    # then the retry waited out Retry-After in the bucket, which every worker shares
    assert time.monotonic() - started >= 0.9
    assert created["TransactionNumber"] == "THROTTLED-1"
    assert stats(pod)["POST receivablesInvoices"] == 2
    assert len(_invoices_numbered(pod, "THROTTLED-1")) == 1


# --- audit trail ------------------------------------------------------------------------------------------

def test_given_a_recorder_when_called_then_every_round_trip_is_recorded(client, pod):
    exchanges = []
    inject(pod, kind="503", count=1, retry_after=0, path_prefix=INVOICES)
    with recording(exchanges.append):
        client.ping()
    calls = [(e.system, e.method, e.status) for e in exchanges if "oauth2" not in e.url]
    assert calls == [("fusion", "GET", 503), ("fusion", "GET", 200)]
    assert "limit=1" in exchanges[-1].url
