"""The Fusion REST and SOAP client used by the sync services.

Reads are retried here with exponential backoff and jitter. Writes are retried here only when
Fusion certainly did not act on them (429, a refused connection); any other doubt (timeout, reset,
5xx) surfaces as :class:`FusionUncertain` so the caller looks the deterministic key up before it
tries again. Every round trip is handed to :func:`connector.http.record` for the audit trail.
"""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import backoff
import requests

from connector import jsonutil
from connector.fusion import soap
from connector.fusion.auth import FusionConnection, TokenProvider
from connector.fusion.errors import (FusionAuthError, FusionRejected, FusionUnavailable,
                                     FusionUncertain)
from connector.http import Exchange, new_session, record
from connector.ratelimit import RateLimited, TokenBucket

log = logging.getLogger(__name__)

FSCM = "/fscmRestApi/resources/11.13.18.05"
CRM = "/crmRestApi/resources/11.13.18.05"
RESOURCE_ITEM = "application/vnd.oracle.adf.resourceitem+json"
MAX_RETRY_AFTER = 30.0


class _Transient(Exception):
    """Internal: worth another try right here."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class FusionClient:
    def __init__(self, connection: FusionConnection, *, bucket: TokenBucket | None = None,
                 timeout=(5.0, 30.0), framework_version: int = 4, max_tries: int = 4):
        self.connection = connection
        self.base_url = connection.base_url.rstrip("/")
        self._session = new_session()
        self._timeout = timeout
        self._tokens = TokenProvider(connection, self._session, timeout)
        self._bucket = bucket
        self._framework_version = framework_version
        self._max_tries = max_tries

    # -- receivables invoices -------------------------------------------------------------

    def create_invoice(self, payload: dict) -> dict:
        return self._write("POST", f"{FSCM}/receivablesInvoices", payload)

    def find_invoice(self, transaction_source: str, transaction_number: str) -> dict | None:
        finder = (f"invoiceSearch;TransactionSource={_finder_value(transaction_source)},"
                  f"TransactionNumber={_finder_value(transaction_number)}")
        items = self._read(f"{FSCM}/receivablesInvoices", {"finder": finder, "onlyData": "true"})["items"]
        return items[0] if items else None

    def find_invoices_by_reference(self, cross_reference: str) -> list[dict]:
        """Every invoice whose CrossReference is the given Shopify GID (there should be one)."""
        finder = f"invoiceSearch;CrossReference={_finder_value(cross_reference)}"
        return self._read(f"{FSCM}/receivablesInvoices", {"finder": finder, "onlyData": "true",
                                                          "limit": "25"})["items"]

    # -- parties (TCA) ---------------------------------------------------------------------

    def find_persons(self, q: str) -> list[dict]:
        return self._read(f"{CRM}/hubPersons", {"q": q, "onlyData": "true", "expand": "Address"})["items"]

    def create_person(self, payload: dict) -> dict:
        return self._write("POST", f"{CRM}/hubPersons", payload)

    def person_addresses(self, party_number: str) -> list[dict]:
        return self._read(f"{CRM}/hubPersons/{quote(party_number, safe='')}/child/Address",
                          {"onlyData": "true"})["items"]

    # -- customer accounts (SOAP) ---------------------------------------------------------------

    def create_customer_account(self, account: soap.NewCustomerAccount) -> dict:
        return self._soap(soap.CUSTOMER_ACCOUNT_PATH, soap.create_customer_account(account),
                          "createCustomerAccount", write=True)

    def find_customer_account_by_reference(self, source_system: str, reference: str) -> dict | None:
        envelope = soap.get_customer_account_by_reference(source_system, reference)
        try:
            account = self._soap(soap.CUSTOMER_ACCOUNT_PATH, envelope,
                                 "getCustomerAccountByOriginalSystemReference", write=False)
        except FusionRejected as exc:
            if soap.is_not_found(exc.code, str(exc)):
                return None
            raise
        # "not found" is an empty result on some releases and a fault on others
        return account if account.get("CustomerAccountId") else None

    def find_customer_accounts_by_party(self, party_id: str) -> list[dict]:
        body = self._soap(soap.CUSTOMER_ACCOUNT_PATH, soap.find_customer_accounts_by_party(party_id),
                          "findCustomerAccount", write=False)
        if not body:
            return []
        return body["Value"] if "Value" in body else [body]

    # -- cheap authenticated call ---------------------------------------------------------

    def ping(self) -> dict:
        return self._read(f"{FSCM}/receivablesInvoices", {"limit": "1", "onlyData": "true",
                                                          "fields": "CustomerTransactionId"})

    # -- transport --------------------------------------------------------------------------

    def _read(self, path: str, params: dict | None = None) -> dict:
        return self._retrying(lambda: self._rest("GET", path, params=params, write=False))

    def _write(self, method: str, path: str, payload: dict) -> dict:
        return self._retrying(lambda: self._rest(method, path, payload=payload, write=True))

    def _soap(self, path: str, envelope: str, operation: str, *, write: bool) -> dict:
        body = self._retrying(lambda: self._send(
            "POST", path, data=envelope.encode(), write=write,
            headers={"Content-Type": "text/xml; charset=UTF-8",
                     "SOAPAction": soap.action(path, operation)},
            parse=soap.parse_response))
        return body

    def _retrying(self, call):
        retried = backoff.on_exception(backoff.expo, _Transient, max_tries=self._max_tries,
                                       max_time=120, jitter=backoff.full_jitter)(call)
        try:
            return retried()
        except _Transient as exc:
            raise FusionUnavailable(str(exc), exc.retry_after) from None

    def _rest(self, method: str, path: str, *, params=None, payload=None, write: bool) -> dict:
        headers = {"REST-Framework-Version": str(self._framework_version), "Accept": "application/json"}
        data = None
        if payload is not None:
            headers["Content-Type"] = RESOURCE_ITEM
            data = jsonutil.dumps(payload).encode()
        return self._send(method, path, params=params, data=data, headers=headers, write=write,
                          parse=jsonutil.loads, audit_body=payload)

    def _send(self, method, path, *, params=None, data=None, headers, write, parse, audit_body=None,
              _auth_retry=True):
        url = self.base_url + path
        if self._bucket is not None:
            try:
                self._bucket.take()
            except RateLimited as exc:
                raise FusionUnavailable(str(exc), exc.retry_after) from None
        headers = dict(headers, Authorization=self._tokens.authorization())
        exchange = Exchange("fusion", method, url + (f"?{_query(params)}" if params else ""),
                            request_body=audit_body if audit_body is not None else _text(data))
        try:
            response = self._session.request(method, url, params=params, data=data, headers=headers,
                                             timeout=self._timeout, allow_redirects=False)
        except requests.ConnectionError as exc:
            sent = not isinstance(exc, requests.ConnectTimeout) and "refused" not in str(exc).lower()
            self._record(exchange, None, error=f"{type(exc).__name__}")
            if write and sent:
                raise FusionUncertain(f"{method} {path}: connection lost before the answer") from None
            raise _Transient(f"{method} {path}: {type(exc).__name__}") from None
        except requests.Timeout:
            self._record(exchange, None, error="timeout")
            if write:
                raise FusionUncertain(f"{method} {path}: no answer within {self._timeout[1]}s") from None
            raise _Transient(f"{method} {path}: timeout") from None
        except requests.RequestException as exc:  # e.g. the answer broke off half way
            self._record(exchange, None, error=type(exc).__name__)
            if write:
                raise FusionUncertain(f"{method} {path}: {type(exc).__name__} before a complete answer") from None
            raise _Transient(f"{method} {path}: {type(exc).__name__}") from None

        status = response.status_code
        body = _decode(response, parse)
        self._record(exchange, status, body)
        if status == 401 and _auth_retry:
            self._tokens.invalidate()
            return self._send(method, path, params=params, data=data, headers=headers, write=write,
                              parse=parse, audit_body=audit_body, _auth_retry=False)
        if status in (401, 403):
            raise FusionAuthError(f"{method} {path}: HTTP {status} — check the pod credentials and roles")
        if 300 <= status < 400:  # an SSO login page, a moved pod: never a Fusion answer
            raise FusionAuthError(f"{method} {path}: redirected (HTTP {status}) to "
                                  f"{response.headers.get('Location', '?')} — check the base URL and auth mode")
        if status == 429 or (status == 503 and not write):
            retry_after = _retry_after(response)
            if self._bucket is not None and retry_after:
                self._bucket.pause(min(retry_after, MAX_RETRY_AFTER))
            raise _Transient(f"{method} {path}: HTTP {status}", retry_after)
        if status >= 500:
            if soap.is_fault(body):
                raise FusionRejected(soap.fault_message(body), status, soap.fault_code(body))
            if write:
                raise FusionUncertain(f"{method} {path}: HTTP {status}")
            raise _Transient(f"{method} {path}: HTTP {status}")
        if status >= 400:
            raise FusionRejected(_rest_error_message(body, status), status)
        return body

    def _record(self, exchange: Exchange, status, body=None, error: str = "") -> None:
        exchange.finish(status, body, error)
        record(exchange)


def _finder_value(value: str) -> str:
    # Finder variables are comma-separated: a literal comma or semicolon would split the value.
    if any(ch in value for ch in ",;"):
        raise ValueError(f"finder value {value!r} contains a separator")
    return value


def _query(params: dict) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items())


def _text(data: bytes | None):
    return None if data is None else data.decode("utf-8", "replace")


def _decode(response: requests.Response, parse):
    if not response.content:
        return None
    try:
        return parse(response.content)
    except Exception:  # a proxy's HTML page, a plain-text v1 error …
        return response.text


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _rest_error_message(body: Any, status: int) -> str:
    """The human message from a v4 error body (``o:errorDetails``) or a plain-text one."""
    if isinstance(body, dict):
        details = [d.get("detail", "") for d in body.get("o:errorDetails", []) if isinstance(d, dict)]
        text = "; ".join(d for d in details if d) or body.get("detail") or body.get("title") or ""
        return str(text) or f"HTTP {status}"
    if isinstance(body, str) and body.strip():
        return body.strip()[:2000]
    return f"HTTP {status}"
