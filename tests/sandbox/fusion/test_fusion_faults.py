"""Sandbox controls: fault injection, rate limit, stats, reset."""
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
import requests

from fusion_helpers import CRM, FSCM

INVOICES = f"{FSCM}/receivablesInvoices"


def _faults(fusion, body):
    resp = requests.post(f"{fusion.url}/_sandbox/faults", json=body, timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _by_number(fusion, number):
    finder = quote(f"invoiceSearch;TransactionNumber={number}")
    return fusion.rest("GET", f"{INVOICES}?finder={finder}").json()["items"]


def test_next_n_requests_get_429_with_retry_after(fusion):
    _faults(fusion, {"kind": "429", "count": 2, "retry_after": 3})
    first, second, third = (fusion.rest("GET", INVOICES) for _ in range(3))
    assert first.status_code == second.status_code == 429
    assert first.headers["Retry-After"] == "3"
    assert third.status_code == 200


@pytest.mark.parametrize("code", ["500", "502", "503"])
def test_server_errors_by_probability(fusion, code):
    _faults(fusion, {"kind": code, "probability": 1.0})
    assert fusion.rest("GET", INVOICES).status_code == int(code)
    requests.delete(f"{fusion.url}/_sandbox/faults", timeout=5)
    assert fusion.rest("GET", INVOICES).status_code == 200


def test_faults_filter_by_method_and_path_prefix(fusion, customer):
    _faults(fusion, {"kind": "503", "count": 5, "methods": ["POST"], "path_prefix": INVOICES})
    # GETs on invoices and POSTs elsewhere pass
    assert fusion.rest("GET", INVOICES).status_code == 200
    assert fusion.rest("POST", f"{CRM}/hubPersons", json={"FirstName": "a", "LastName": "b",
                                                          "PartyUsageCode": "CUSTOMER"}).status_code == 201
    # a POST on invoices is hit and nothing is created
    resp = fusion.rest("POST", INVOICES, json=fusion.invoice_body(customer, TransactionNumber="F-1"))
    assert resp.status_code == 503
    assert _by_number(fusion, "F-1") == []


def test_latency_with_jitter(fusion):
    _faults(fusion, {"latency_ms": 300, "jitter_ms": 50})
    start = time.monotonic()
    fusion.rest("GET", INVOICES)
    # at least the latency less the jitter (an upper bound would only measure this machine's load)
    assert time.monotonic() - start >= 0.24


def test_read_timeout_after_commit(fusion, customer):
    # given: the pod commits, then holds the answer past the client's timeout
    _faults(fusion, {"kind": "timeout", "count": 1, "sleep_ms": 1500, "methods": ["POST"]})
    body = fusion.invoice_body(customer, TransactionNumber="TO-1")
    with pytest.raises(requests.exceptions.ReadTimeout):
        fusion.rest("POST", INVOICES, json=body, timeout=0.3)
    # then: the invoice exists, so a blind retry would be a duplicate (and is refused)
    assert len(_by_number(fusion, "TO-1")) == 1
    assert fusion.rest("POST", INVOICES, json=body).status_code == 400


def test_lost_response_commits_then_drops_the_connection(fusion, customer):
    _faults(fusion, {"kind": "lost_response", "count": 1, "methods": ["POST"], "path_prefix": INVOICES})
    with pytest.raises(requests.exceptions.ConnectionError):
        fusion.rest("POST", INVOICES, json=fusion.invoice_body(customer, TransactionNumber="LOST-1"))
    found = _by_number(fusion, "LOST-1")
    assert len(found) == 1 and found[0]["InvoiceBalanceAmount"] == 39


def test_rate_limit_answers_429_beyond_the_rate(fusion):
    _faults(fusion, {"rate_limit": {"requests_per_second": 2, "burst": 2}})
    codes = [fusion.rest("GET", INVOICES).status_code for _ in range(5)]
    assert codes[:2] == [200, 200] and 429 in codes[2:]
    limited = next(r for r in (fusion.rest("GET", INVOICES) for _ in range(3)) if r.status_code == 429)
    assert int(limited.headers["Retry-After"]) >= 1
    time.sleep(1.1)
    assert fusion.rest("GET", INVOICES).status_code == 200


def test_load_shows_the_most_requests_at_once_and_the_ones_the_rate_limit_refused(fusion):
    # given: every answer takes 300 ms
    requests.delete(f"{fusion.url}/_sandbox/stats", timeout=5)
    _faults(fusion, {"latency_ms": 300})
    # when: five requests arrive together
    with ThreadPoolExecutor(5) as pool:
        codes = list(pool.map(lambda _: fusion.rest("GET", INVOICES).status_code, range(5)))
    # then: the pod held all five at once, and is idle again
    assert codes == [200] * 5
    assert requests.get(f"{fusion.url}/_sandbox/load", timeout=5).json() == {
        "in_flight": 0, "peak_in_flight": 5, "rate_limited": 0}
    # and when: the rate limit turns requests away, they are counted
    requests.delete(f"{fusion.url}/_sandbox/faults", timeout=5)
    _faults(fusion, {"rate_limit": {"requests_per_second": 1, "burst": 1}})
    codes = [fusion.rest("GET", INVOICES).status_code for _ in range(3)]
    assert requests.get(f"{fusion.url}/_sandbox/load", timeout=5).json()["rate_limited"] == codes.count(429) >= 1
    # and a reset starts the count again
    requests.delete(f"{fusion.url}/_sandbox/stats", timeout=5)
    assert requests.get(f"{fusion.url}/_sandbox/load", timeout=5).json() == {
        "in_flight": 0, "peak_in_flight": 0, "rate_limited": 0}


def test_delete_clears_faults(fusion):
    _faults(fusion, {"kind": "500", "probability": 1})
    assert requests.delete(f"{fusion.url}/_sandbox/faults", timeout=5).status_code == 204
    assert requests.get(f"{fusion.url}/_sandbox/faults", timeout=5).json()["rules"] == []
    assert fusion.rest("GET", INVOICES).status_code == 200


def test_faults_that_fired_are_counted_by_kind(fusion, customer):
    # given a 503 on the next request and a lost response on the next POST
    _faults(fusion, {"rules": [{"kind": "503", "count": 1},
                               {"kind": "lost_response", "count": 1, "methods": ["POST"]}]})
    # when a GET and two POSTs are sent
    assert fusion.rest("GET", INVOICES).status_code == 503
    with pytest.raises(requests.ConnectionError):
        fusion.rest("POST", INVOICES, json=fusion.invoice_body(customer, TransactionNumber="F-LOST"))
    assert fusion.rest("POST", INVOICES, json=fusion.invoice_body(customer, TransactionNumber="F-OK")).status_code == 201
    # then each fault that fired is counted once, by kind, until the faults are cleared
    assert requests.get(f"{fusion.url}/_sandbox/faults", timeout=5).json()["injected"] == {"503": 1,
                                                                                           "lost_response": 1}
    requests.delete(f"{fusion.url}/_sandbox/faults", timeout=5)
    assert requests.get(f"{fusion.url}/_sandbox/faults", timeout=5).json()["injected"] == {}


def test_bad_fault_config_is_400(fusion):
    resp = requests.post(f"{fusion.url}/_sandbox/faults", json={"kind": "418"}, timeout=5)
    assert resp.status_code == 400


def test_stats_count_requests_by_method_and_resource(fusion, customer):
    requests.delete(f"{fusion.url}/_sandbox/stats", timeout=5)
    inv = fusion.create_invoice(customer)
    fusion.rest("GET", f"{INVOICES}/{inv['CustomerTransactionId']}")
    fusion.rest("GET", f"{INVOICES}/{inv['CustomerTransactionId']}/child/receivablesInvoiceLines")
    fusion.create_customer()
    stats = requests.get(f"{fusion.url}/_sandbox/stats", timeout=5).json()
    assert stats["POST receivablesInvoices"] == 1
    assert stats["GET receivablesInvoices"] == 1
    assert stats["GET receivablesInvoices.receivablesInvoiceLines"] == 1
    assert stats["POST hubPersons"] == 1
    assert stats["POST CustomerAccountService.createCustomerAccount"] == 1
    requests.delete(f"{fusion.url}/_sandbox/stats", timeout=5)
    assert requests.get(f"{fusion.url}/_sandbox/stats", timeout=5).json() == {}


def test_faulted_requests_are_counted_too(fusion):
    _faults(fusion, {"kind": "429", "count": 1})
    fusion.rest("GET", INVOICES)
    fusion.rest("GET", INVOICES)
    assert requests.get(f"{fusion.url}/_sandbox/stats", timeout=5).json()["GET receivablesInvoices"] == 2


def test_reset_clears_data_but_keeps_the_seed(fusion, customer):
    fusion.create_invoice(customer)
    assert requests.post(f"{fusion.url}/_sandbox/reset", timeout=5).status_code == 204
    assert fusion.rest("GET", INVOICES).json()["count"] == 0
    assert fusion.rest("GET", f"{CRM}/hubPersons").json()["count"] == 0
    # the seed still works: a new customer can be invoiced
    fusion.create_invoice(fusion.create_customer())
