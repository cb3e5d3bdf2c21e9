"""What integration tests do as Shopify, as Fusion's user and as the operator."""
from __future__ import annotations

import json
import secrets
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

import requests
from sqlalchemy import select

from connector.config import load_settings
from connector.db import session_scope
from connector.models import AuditEvent, Binding, BindingState, InboxEvent, Shop
from connector.services.context import Services
from connector.services.setup import add_shop
from connector.shopify.webhooks import sign

#: The one shop whose mapping parks documents dated in a closed period (``[dates] closed_period``):
#: the stack's mapping file gives it the override (tests/conftest.py).
PARKING_SHOP = "periods-park.myshopify.com"
FUSION_CLIENT = {"client_id": "mlc-tests", "client_secret": "tests-" + secrets.token_hex(8),
                 "scope": "urn:opc:resource:fa:instanceid=100000001urn:opc:resource:consumer::all"}


def eventually(check, timeout: float = 30.0, interval: float = 0.2):
    """Poll ``check`` until it returns something truthy; the last value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def invoice_of(shop, order) -> dict:
    """The one Fusion invoice of ``order``, once there is one."""
    [invoice] = eventually(lambda: shop.fusion_invoices(order), timeout=45)
    return invoice


def synced(shop, key):
    """The customer binding of ``key`` once it is synced."""
    return eventually(lambda: (b := shop.binding("customer", key)) is not None
                      and b.state == BindingState.synced and b, timeout=45)


def default_stop_signals() -> None:
    """For ``preexec_fn`` of a child that a test stops by Ctrl-C or SIGHUP: an ignored signal stays
    ignored through exec, so under ``nohup`` (SIGHUP) or as a shell's background job (SIGINT) the
    child would never see it and the test would fail for how the suite was started."""
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


@dataclass
class TestShop:
    __test__ = False  # not a test class, whatever pytest thinks of the name

    stack: object
    domain: str
    client_id: str
    secret: str
    prefix: str

    @classmethod
    def create(cls, stack, prefix: str, *, taxes_included: bool = False, currency: str = "USD",
               domain: str = "", iana_timezone: str = "UTC") -> "TestShop":
        domain = domain or f"{prefix.lower()}-{uuid.uuid4().hex[:6]}.myshopify.com"
        shop = cls(stack, domain, f"app-{prefix.lower()}", "shpss_" + uuid.uuid4().hex, prefix)
        requests.put(f"{stack.urls['shopify_sandbox']}/_sandbox/shops/{domain}", timeout=10, json={
            "client_id": shop.client_id, "client_secret": shop.secret,
            "webhook_url": f"{stack.urls['receiver']}/webhooks/shopify", "currency": currency,
            "taxes_included": taxes_included, "iana_timezone": iana_timezone}).raise_for_status()
        shop.configure(prefix)
        return shop

    def configure(self, prefix: str) -> None:
        services = Services(load_settings())
        with session_scope(services.settings.database_url) as session:
            add_shop(session, services.vault, domain=self.domain, client_id=self.client_id,
                     client_secret=self.secret, prefix=prefix,
                     admin_base_url=f"{self.stack.urls['shopify_sandbox']}/shops/{self.domain}")
        self.prefix = prefix

    # -- as Shopify -----------------------------------------------------------------------------

    def place_order(self, order: dict, deliver: bool = True) -> dict:
        response = requests.post(f"{self.stack.urls['shopify_sandbox']}/_sandbox/shops/{self.domain}/orders",
                                 params={} if deliver else {"deliver": "false"}, json=order, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()

    def act(self, path: str, body: dict | None = None, deliver: bool = True) -> dict:
        """A merchant action on an order (``orders/{id}/transactions``, ``…/refunds``, ``…/cancel``);
        ``deliver=False``: its webhooks are lost."""
        response = requests.post(f"{self.stack.urls['shopify_sandbox']}/_sandbox/shops/{self.domain}/{path}",
                                 params={} if deliver else {"deliver": "false"}, json=body or {}, timeout=10)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def create_company(self, company: dict) -> dict:
        """The merchant adds a B2B company with its locations and contact (``customers/create`` for a new contact)."""
        return self.act("companies", company)

    def update_customer(self, customer_id, changes: dict) -> dict:
        """The merchant edits a customer (Shopify sends ``customers/update``)."""
        response = requests.put(f"{self.stack.urls['shopify_sandbox']}/_sandbox/shops/{self.domain}/customers/{customer_id}",
                                json=changes, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def merge_customers(self, one_id, two_id, deliver: bool = True) -> dict:
        """The merchant merges two customers (``customerMerge``; Shopify sends ``customers/merge``)."""
        response = requests.post(f"{self.stack.urls['shopify_sandbox']}/_sandbox/shops/{self.domain}/customers/merge",
                                 params={} if deliver else {"deliver": "false"},
                                 json={"customer_one_id": one_id, "customer_two_id": two_id}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def order(self, order_id) -> dict:
        """The order as Shopify holds it now (current totals, total outstanding)."""
        response = requests.get(f"{self.stack.urls['shopify_sandbox']}/_sandbox/shops/{self.domain}/orders/{order_id}",
                                timeout=10)
        response.raise_for_status()
        return response.json()

    def deliver(self, topic: str, body: bytes | dict, *, event_id: str | None = None,
                secret: str | None = None, signature: str | None = None) -> requests.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": self.domain,
            "X-Shopify-API-Version": "2026-01",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
            "X-Shopify-Triggered-At": datetime.now(timezone.utc).isoformat(),
            "X-Shopify-Hmac-Sha256": signature if signature is not None else sign(secret or self.secret, raw),
        }
        return requests.post(f"{self.stack.urls['receiver']}/webhooks/shopify", data=raw, headers=headers,
                             timeout=10)

    # -- as Fusion's user -----------------------------------------------------------------------

    def fusion_invoices(self, order: dict) -> list[dict]:
        fusion = self.stack.urls["fusion_sandbox"]
        token = Fusion(fusion).token()
        response = requests.get(f"{fusion}{Fusion.INVOICES}",
                                params={"finder": f"invoiceSearch;CrossReference={order['admin_graphql_api_id']}",
                                        "expand": "receivablesInvoiceLines"},
                                headers={"Authorization": f"Bearer {token}"}, timeout=10)
        response.raise_for_status()
        return response.json()["items"]

    def fusion_balance(self, order: dict) -> Decimal | None:
        """The open balance of the order's invoice, as Fusion's REST API reports it."""
        invoices = self.fusion_invoices(order)
        return Decimal(str(invoices[0]["InvoiceBalanceAmount"])) if len(invoices) == 1 else None

    def fusion_credit_memos(self, order: dict) -> list[dict]:
        """The credit memos against the order's invoice: <invoice number>-C<n> for refunds,
        -E<n> for edits that lowered the total."""
        [invoice] = self.fusion_invoices(order)
        body = fusion_get(Fusion(self.stack.urls["fusion_sandbox"]),
                          "/fscmRestApi/resources/11.13.18.05/receivablesCreditMemos",
                          q=f"BillToCustomerNumber='{invoice['BillToCustomerNumber']}'", limit="100")
        return [m for m in body["items"] if str(m["TransactionNumber"]).startswith(f"{invoice['TransactionNumber']}-")]

    def check(self, order: dict):
        """The order read back as ``ml-connector demo`` reads it (``cli.check``), so that the tests
        and the demo's summary cannot disagree about what "in step with Shopify" means."""
        from cli.check import check_order, shopify_order
        from connector.fusion.client import FusionClient
        now, transactions = shopify_order(self.stack.urls["shopify_sandbox"], self.domain, order["id"])
        from connector.services.fusion_receipts import pushed_payments
        services = Services(load_settings())
        with session_scope(services.settings.database_url) as session:
            connection = services.fusion_connection(session)
            shop_id = session.scalar(select(Shop.id).where(Shop.domain == self.domain))
            pushed = pushed_payments(session, shop_id)
        # Without the shared rate bucket: a test polling this must not eat the workers' Fusion budget.
        return check_order(FusionClient(connection, allow_http=True), self.prefix, now, transactions, pushed)

    def invariants(self, order: dict) -> dict:
        """The two money invariants of the order, each as (Fusion, Shopify): invoice + debit memos −
        credit memos against ``current_total_price``, and the open balance of the invoice and its
        debit memos against ``total_outstanding``."""
        check = self.check(order)
        return {"documents": (check.documents, check.charged), "balance": (check.balance, check.outstanding)}

    def fusion_receipts(self, order: dict) -> list[dict]:
        """Every standard receipt of this shop's transactions of ``order`` (numbered <prefix>-T<id>)."""
        body = fusion_get(Fusion(self.stack.urls["fusion_sandbox"]), "/fscmRestApi/resources/11.13.18.05/standardReceipts",
                          q=f"CustomerAccountNumber='{self.fusion_invoices(order)[0]['BillToCustomerNumber']}'",
                          limit="100")
        return [r for r in body["items"] if str(r["ReceiptNumber"]).startswith(f"{self.prefix}-T")]

    def transactions(self, order: dict) -> list[dict]:
        """The order's payment transactions as Shopify holds them now (REST shape, shop money in ``amount_set``)."""
        response = requests.get(f"{self.stack.urls['shopify_sandbox']}/_sandbox/shops/{self.domain}"
                                f"/orders/{order['id']}/transactions", timeout=10)
        response.raise_for_status()
        return response.json()["transactions"]

    def fusion_debit_memos(self, order: dict, letter: str = "D") -> list[dict]:
        """The debit memos of the order's edits: receivablesInvoices numbered <invoice number>-D<n>
        (BillToCustomerNumber is not q-searchable on receivablesInvoices; TransactionNumber is);
        ``letter="F"``: what refunds kept back (restocking fees)."""
        [invoice] = self.fusion_invoices(order)
        body = fusion_get(Fusion(self.stack.urls["fusion_sandbox"]), Fusion.INVOICES,
                          q=f"TransactionNumber LIKE '{invoice['TransactionNumber']}-{letter}%'", limit="100")
        return [d for d in body["items"] if d["CustomerTransactionId"] != invoice["CustomerTransactionId"]]

    money_invariants = invariants  # the name the edit tests use

    def document_counts(self, order: dict) -> dict:
        """How many documents Fusion holds for the order against how many Shopify says it should, each as
        (Fusion, Shopify): invoices (one), credit memos per refund (the refunds whose memo count is
        wrong, by the refund's GID in ``CustomerReference``: an edit's memo is no refund's), receipts (one per successful sale or
        capture of more than zero, by receipt number)."""
        check = self.check(order)
        if check.invoices != 1:
            return {"invoices": (check.invoices, 1)}
        return {"invoices": (check.invoices, 1),
                "credit_memos": ([p for p in check.miscounted if p.startswith("refund ")], []),
                "receipts": (sorted(check.receipt_numbers), sorted(check.expected_receipts))}

    def events_handled(self) -> bool:
        """No inbox event of this shop is still waiting for a worker or a retry."""
        from connector.models import InboxState
        return all(e.state != InboxState.received for e in self.inbox())

    def holds(self, order: dict) -> bool:
        """Every event handled and the order's money invariants true, each (Fusion, Shopify)."""
        return self.events_handled() and all(fusion == shopify for fusion, shopify in self.money_invariants(order).values())

    def wait_invoiced(self, order: dict) -> None:
        from connector.models import BindingState
        assert eventually(lambda: (b := self.binding("order", order["id"])) and b.state == BindingState.synced)

    def quiet(self, timeout: float = 90.0) -> bool:
        """Wait until Shopify has delivered every webhook and no inbox event of this shop is still
        ``received`` (waiting for a worker or for a retry)."""
        from connector.models import InboxState
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            idle = requests.get(f"{self.stack.urls['shopify_sandbox']}/_sandbox/webhooks/idle",
                                params={"wait": max(1, min(30, int(deadline - time.monotonic())))},
                                timeout=40).json()["idle"]
            if idle and all(e.state != InboxState.received for e in self.inbox()):
                return True
            time.sleep(0.2)
        return False

    # -- as the operator ------------------------------------------------------------------------

    def inbox(self) -> list[InboxEvent]:
        with session_scope(load_settings().database_url) as session:
            return list(session.scalars(select(InboxEvent).join(Shop, Shop.id == InboxEvent.shop_id)
                                        .where(Shop.domain == self.domain).order_by(InboxEvent.id)))

    def last_attempt_errors(self) -> dict[int, str]:
        """The error of each inbox event's latest attempt, by inbox id: why an event still waits
        (a Busy wait leaves the event's own ``last_error`` empty)."""
        from connector.models import ProcessingAttempt
        with session_scope(load_settings().database_url) as session:
            rows = session.execute(select(ProcessingAttempt.inbox_id, ProcessingAttempt.number,
                                          ProcessingAttempt.outcome, ProcessingAttempt.error)
                                   .join(InboxEvent, InboxEvent.id == ProcessingAttempt.inbox_id)
                                   .join(Shop, Shop.id == InboxEvent.shop_id).where(Shop.domain == self.domain)
                                   .order_by(ProcessingAttempt.id)).all()
        return {inbox_id: f"attempt {number} {outcome.value if outcome else 'running'}: {error}"
                for inbox_id, number, outcome, error in rows}

    def binding(self, kind: str, shopify_id) -> Binding | None:
        with session_scope(load_settings().database_url) as session:
            return session.scalar(select(Binding).join(Shop, Shop.id == Binding.shop_id).where(
                Shop.domain == self.domain, Binding.kind == kind, Binding.shopify_id == str(shopify_id)))

    def audit(self, action: str) -> list[AuditEvent]:
        with session_scope(load_settings().database_url) as session:
            return list(session.scalars(select(AuditEvent).join(Shop, Shop.id == AuditEvent.shop_id).where(
                Shop.domain == self.domain, AuditEvent.action == action).order_by(AuditEvent.id)))


def add_shop_mapping(stack, domain: str, toml: str) -> None:
    """Give the shop ``toml`` (sections under ``[shops."<domain>"…]``) in the running stack's
    mapping, in place of what an earlier call gave it, as an operator edits the file: written
    whole and swapped in, so no worker reads half a file. Workers read it when they start."""
    import os
    import re
    path = stack.extra_env["MLC_MAPPING_FILE"]
    with open(path) as fh:
        text = fh.read()
    begin, end = f"# -- test overrides of {domain}\n", f"# -- end of {domain}\n"
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), "", text, flags=re.S)
    fresh = f"{path}.{uuid.uuid4().hex}"
    with open(fresh, "w") as fh:
        fh.write(f"{text}{begin}{toml}\n{end}")
    os.replace(fresh, path)


class Fusion:
    """Fusion as its own user sees it: the REST API of the sandbox, and its fault switches."""

    INVOICES = "/fscmRestApi/resources/11.13.18.05/receivablesInvoices"

    def __init__(self, url: str):
        self.url = url

    def token(self) -> str:
        return requests.post(f"{self.url}/oauth2/v1/token",
                             auth=(FUSION_CLIENT["client_id"], FUSION_CLIENT["client_secret"]),
                             data={"grant_type": "client_credentials", "scope": FUSION_CLIENT["scope"]},
                             timeout=10).json()["access_token"]

    def post_invoice(self, payload: dict) -> requests.Response:
        return requests.post(f"{self.url}{self.INVOICES}", json=payload, timeout=10,
                             headers={"Authorization": f"Bearer {self.token()}", "REST-Framework-Version": "4"})

    def post_person(self, payload: dict) -> dict:
        response = requests.post(f"{self.url}/crmRestApi/resources/11.13.18.05/hubPersons", json=payload,
                                 timeout=10, headers={"Authorization": f"Bearer {self.token()}",
                                                      "REST-Framework-Version": "4"})
        assert response.status_code == 201, response.text
        return response.json()

    def persons(self, email: str) -> list[dict]:
        return fusion_get(self, "/crmRestApi/resources/11.13.18.05/hubPersons", q=f"EmailAddress='{email}'")["items"]

    def person(self, party_id) -> dict:
        [found] = fusion_get(self, "/crmRestApi/resources/11.13.18.05/hubPersons", q=f"PartyId={party_id}")["items"]
        return found

    def addresses(self, party_number) -> list[dict]:
        return fusion_get(self, f"/crmRestApi/resources/11.13.18.05/hubPersons/{party_number}/child/Address")["items"]

    def organizations(self, reference: str) -> list[dict]:
        """The TCA organizations whose source-system reference is ``reference`` (a company GID)."""
        return fusion_get(self, "/crmRestApi/resources/11.13.18.05/hubOrganizations",
                          q=f"SourceSystemReferenceValue='{reference}'")["items"]

    def organization_addresses(self, party_number) -> list[dict]:
        return fusion_get(self, f"/crmRestApi/resources/11.13.18.05/hubOrganizations/{party_number}/child/Address")[
            "items"]

    def profile_class(self, account_id) -> str:
        """The profile class of the account's active customer profile (SOAP
        ``ReceivablesCustomerProfileService``), '' when it has none."""
        ns = "http://xmlns.oracle.com/apps/financials/receivables/customers/customerProfileService/"
        envelope = (f'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                    f'xmlns:typ="{ns}types/" xmlns:prof="{ns}"><soapenv:Body><typ:getActiveCustomerProfile>'
                    f"<typ:customerProfile><prof:CustomerAccountId>{account_id}</prof:CustomerAccountId>"
                    "</typ:customerProfile></typ:getActiveCustomerProfile></soapenv:Body></soapenv:Envelope>")
        response = requests.post(f"{self.url}/fscmService/ReceivablesCustomerProfileService", data=envelope.encode(),
                                 timeout=10, headers={"Authorization": f"Bearer {self.token()}",
                                                      "Content-Type": "text/xml;charset=UTF-8"})
        from connector.fusion import soap
        body = soap.parse_response(response.content)
        return "" if soap.is_fault(body) else body.get("ProfileClassName", "")

    def deactivate_account(self, account_id) -> None:
        """Fusion's user sets a customer account inactive (``mergeCustomerAccount``, Status I)."""
        ns = "http://xmlns.oracle.com/apps/cdm/foundation/parties/customerAccountService/"
        envelope = (f'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                    f'xmlns:typ="{ns}applicationModule/types/" xmlns:cus="{ns}"><soapenv:Body>'
                    f"<typ:mergeCustomerAccount><typ:customerAccount><cus:CustomerAccountId>{account_id}"
                    "</cus:CustomerAccountId><cus:Status>I</cus:Status></typ:customerAccount>"
                    "</typ:mergeCustomerAccount></soapenv:Body></soapenv:Envelope>")
        requests.post(f"{self.url}/crmService/CustomerAccountService", data=envelope.encode(), timeout=10,
                      headers={"Authorization": f"Bearer {self.token()}", "Content-Type": "text/xml;charset=UTF-8"}
                      ).raise_for_status()

    def fault(self, **rule) -> None:
        requests.post(f"{self.url}/_sandbox/faults", json={"rules": [rule]}, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/_sandbox/faults", timeout=10).raise_for_status()

    def set_period(self, period: str, status: str) -> None:
        """Fusion's accountant opens or closes a Receivables period (``YYYY-MM``)."""
        requests.post(f"{self.url}/_sandbox/periods", json={"period": period, "status": status},
                      timeout=10).raise_for_status()

    def require_rates(self, *rates: dict) -> None:
        """Daily conversion rates become required; ``rates`` ({from, to, type, date, rate}) are entered."""
        requests.post(f"{self.url}/_sandbox/rates", json={"required": True, "rates": list(rates)},
                      timeout=10).raise_for_status()

    def reset_calendar(self) -> None:
        """Every period open again, no rates required."""
        requests.delete(f"{self.url}/_sandbox/calendar", timeout=10).raise_for_status()


def fusion_get(fusion: "Fusion", path: str, **params) -> dict:
    response = requests.get(f"{fusion.url}{path}", params=params, timeout=10,
                            headers={"Authorization": f"Bearer {fusion.token()}", "REST-Framework-Version": "4"})
    response.raise_for_status()
    return response.json()


def on_a_new_thread(call):
    """A thread's first send makes its producer, on the broker ``app.conf.broker_url`` names then."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()
