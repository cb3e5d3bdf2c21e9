"""Sandbox pods for the Fusion client tests, and the client pointed at one.

Every pod is a real sandbox on a real port; sandbox shortcuts (customers, invoices) come from the
sandbox tests' helper, which only speaks HTTP. (A uniquely named module rather than ``conftest``
so tests can import it.)
"""
from __future__ import annotations

import threading
from decimal import Decimal

import requests

from connector.fusion.auth import FusionConnection
from connector.fusion.client import FusionClient
from sandbox.fusion import FusionSandboxSettings, create_app
from sandbox.server import BackgroundServer
from tests.sandbox.fusion.fusion_helpers import FusionApi


class Pods:
    """Starts sandboxes; ``restart`` brings a new pod up on the same URL, which knows none of
    the old pod's tokens (nor its data)."""

    def __init__(self):
        self._servers: dict[str, BackgroundServer] = {}

    def start(self, port: int = 0, **settings) -> FusionApi:
        config = FusionSandboxSettings(**settings)
        server = BackgroundServer(create_app(config), port=port).start()
        self._servers[server.url] = server
        return FusionApi(server.url, config)

    def restart(self, pod: FusionApi) -> FusionApi:
        server = self._servers.pop(pod.url)
        server.stop()
        return self.start(server.port, **vars(pod.settings))

    def stop_all(self) -> None:
        for server in self._servers.values():
            # shutdown() waits out serve_forever's 0.5 s poll; don't make every test pay for it
            threading.Thread(target=server.stop, daemon=True).start()


def connection(pod: FusionApi, **overrides) -> FusionConnection:
    s = pod.settings
    values = {"base_url": pod.url, "token_url": f"{pod.url}/oauth2/v1/token", "client_id": s.client_id,
              "client_secret": s.client_secret, "scope": s.scope} | overrides
    return FusionConnection(**values)


def client_for(pod: FusionApi, *, read_timeout: float = 5.0, max_tries: int = 3, bucket=None,
               **connection_overrides) -> FusionClient:
    return FusionClient(connection(pod, **connection_overrides), bucket=bucket,
                        timeout=(2.0, read_timeout), max_tries=max_tries, allow_http=True)


def inject(pod: FusionApi, **rule) -> None:
    """Switch on one of the sandbox's faults (see ``sandbox/fusion/faults.py``)."""
    requests.post(f"{pod.url}/_sandbox/faults", json=rule, timeout=5).raise_for_status()


def stats(pod: FusionApi) -> dict[str, int]:
    return requests.get(f"{pod.url}/_sandbox/stats", timeout=5).json()


def taxed_invoice_body(pod: FusionApi, customer: dict) -> dict:
    """2 × 19.50 with 3.22 sales tax and 5.00 freight: 47.22, with all three credit buckets."""
    return pod.invoice_body(customer, FreightAmount=Decimal("5.00"), receivablesInvoiceLines=[
        {"LineNumber": 1, "Description": "Blue T-shirt (M)", "Quantity": 2,
         "UnitSellingPrice": Decimal("19.50"), "MemoLine": "Merchandise",
         "receivablesInvoiceLineTaxLines": [{"TaxRegimeCode": "US_SALES_TAX", "TaxRateCode": "STANDARD",
                                             "TaxAmount": Decimal("3.22")}]}])


def person_payload(reference: str, email: str) -> dict:
    return {"FirstName": "Jane", "LastName": "Doe", "EmailAddress": email, "PartyUsageCode": "CUSTOMER",
            "SourceSystem": "SHOPIFY", "SourceSystemReferenceValue": reference,
            "Address": [{"Address1": "1 Main St", "City": "Austin", "State": "TX", "PostalCode": "78701",
                         "Country": "US"}]}
