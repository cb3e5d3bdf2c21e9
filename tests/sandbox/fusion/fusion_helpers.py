"""HTTP helper and constants for the Fusion sandbox tests.

Every test talks HTTP to a ``BackgroundServer`` exactly as the connector will; the helper only
saves typing (base URLs, auth, the SOAP envelope) and never reaches into the app. (A uniquely
named module rather than ``conftest`` so imports can't pick up another folder's conftest.)
"""
from __future__ import annotations

import re
from decimal import Decimal

import requests
import simplejson

from sandbox.fusion import FusionSandboxSettings

FSCM = "/fscmRestApi/resources/11.13.18.05"
CRM = "/crmRestApi/resources/11.13.18.05"
CA_TYPES = "http://xmlns.oracle.com/apps/cdm/foundation/parties/customerAccountService/applicationModule/types/"
CA_NS = "http://xmlns.oracle.com/apps/cdm/foundation/parties/customerAccountService/"
US1_SET_ID = 300000001000001
INVOICES = f"{FSCM}/receivablesInvoices"
RECEIPTS = f"{FSCM}/standardReceipts"
MEMOS = f"{FSCM}/receivablesCreditMemos"
ACTION = {"Content-Type": "application/vnd.oracle.adf.action+json"}
CM_TYPES = "http://xmlns.oracle.com/apps/financials/receivables/transactions/creditMemos/creditMemoService/types/"
CM_NS = "http://xmlns.oracle.com/apps/financials/receivables/transactions/creditMemos/creditMemoService/"


class FusionApi:
    """HTTP helper bound to one running sandbox."""

    def __init__(self, url: str, settings: FusionSandboxSettings):
        self.url = url
        self.settings = settings
        self.http = requests.Session()
        self.http.auth = (settings.basic_username, settings.basic_password)
        self._seq = 0

    def seq(self) -> int:
        self._seq += 1
        return self._seq

    # --- raw calls ------------------------------------------------------------------------
    def rest(self, method: str, path: str, fw: int | None = 4, json=None, headers=None, **kw):
        hdrs = {} if fw is None else {"REST-Framework-Version": str(fw)}
        if json is not None:
            hdrs["Content-Type"] = "application/vnd.oracle.adf.resourceitem+json"
            kw["data"] = simplejson.dumps(json, use_decimal=True)
        hdrs.update(headers or {})
        kw.setdefault("timeout", 10)
        return self.http.request(method, self.url + path, headers=hdrs, **kw)

    def soap(self, service_path: str, body_xml: str, types_ns: str = CA_TYPES,
             svc_ns: str = CA_NS, auth=True, headers=None):
        envelope = (f'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                    f'xmlns:typ="{types_ns}" xmlns:cus="{svc_ns}" '
                    f'xmlns:typ1="http://xmlns.oracle.com/adf/svc/types/">'
                    f"<soapenv:Header/><soapenv:Body>{body_xml}</soapenv:Body></soapenv:Envelope>")
        hdrs = {"Content-Type": "text/xml;charset=UTF-8"}
        hdrs.update(headers or {})
        session = self.http if auth else requests
        return session.post(self.url + service_path, data=envelope.encode(), headers=hdrs, timeout=10)

    @staticmethod
    def json(resp) -> dict:
        """Response body with money as Decimal (what a careful client does)."""
        return simplejson.loads(resp.text, use_decimal=True)

    # --- set-up shortcuts --------------------------------------------------------------------
    def create_person(self, **overrides) -> dict:
        n = self.seq()
        body = {"FirstName": "Jane", "LastName": f"Doe{n}", "EmailAddress": f"jane{n}@example.com",
                "PartyUsageCode": "CUSTOMER", "SourceSystem": "SHOPIFY",
                "SourceSystemReferenceValue": f"gid://shopify/Customer/{7000 + n}",
                "Address": [{"Address1": "1 Main St", "City": "Austin", "State": "TX",
                             "PostalCode": "78701", "Country": "US", "SourceSystem": "SHOPIFY",
                             "SourceSystemReferenceValue": f"gid://shopify/MailingAddress/{9000 + n}"}]}
        body.update(overrides)
        resp = self.rest("POST", f"{CRM}/hubPersons", json=body)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def account_xml(self, party_id, party_site_id, *, set_id=US1_SET_ID, site_use="BILL_TO",
                    extra="", created_by_module="HZ_WS", orig_ref=None) -> str:
        cbm = f"<cus:CreatedByModule>{created_by_module}</cus:CreatedByModule>" if created_by_module else ""
        ref = orig_ref or f"gid://shopify/Customer/acct-{party_id}"
        return (f"<typ:createCustomerAccount><typ:customerAccount>"
                f"<cus:PartyId>{party_id}</cus:PartyId><cus:AccountName>Jane Doe</cus:AccountName>"
                f"<cus:CustomerType>R</cus:CustomerType>{cbm}"
                f"<cus:OrigSystem>SHOPIFY</cus:OrigSystem>"
                f"<cus:OrigSystemReference>{ref}</cus:OrigSystemReference>{extra}"
                f"<cus:CustomerAccountSite><cus:PartySiteId>{party_site_id}</cus:PartySiteId>"
                f"<cus:SetId>{set_id}</cus:SetId><cus:CreatedByModule>HZ_WS</cus:CreatedByModule>"
                f"<cus:CustomerAccountSiteUse><cus:SiteUseCode>{site_use}</cus:SiteUseCode>"
                f"<cus:PrimaryFlag>true</cus:PrimaryFlag><cus:CreatedByModule>HZ_WS</cus:CreatedByModule>"
                f"</cus:CustomerAccountSiteUse></cus:CustomerAccountSite>"
                f"</typ:customerAccount></typ:createCustomerAccount>")

    def create_customer(self, **person_overrides) -> dict:
        """Party by REST + account with a BILL_TO site by SOAP; returns the useful keys."""
        person = self.create_person(**person_overrides)
        address = rows(person["Address"])[0]
        resp = self.soap("/crmService/CustomerAccountService",
                         self.account_xml(person["PartyId"], address["AddressId"]))
        assert resp.status_code == 200, resp.text
        return {"PartyId": person["PartyId"], "PartyNumber": person["PartyNumber"],
                "PartySiteId": address["AddressId"], "SiteNumber": address["AddressNumber"],
                "AccountNumber": xml_value(resp.text, "AccountNumber"),
                "CustomerAccountId": xml_value(resp.text, "CustomerAccountId"),
                "SiteUseId": xml_value(resp.text, "SiteUseId")}

    def invoice_body(self, customer: dict, **overrides) -> dict:
        body = {"BusinessUnit": "US1 Business Unit", "TransactionSource": "SHOPIFY",
                "TransactionType": "Shopify Invoice", "TransactionNumber": f"SHOP-{1000 + self.seq()}",
                "TransactionDate": "2025-03-14", "BillToCustomerNumber": customer["AccountNumber"],
                "PaymentTerms": "IMMEDIATE", "InvoiceCurrencyCode": "USD",
                "receivablesInvoiceLines": [
                    {"LineNumber": 1, "Description": "Blue T-shirt (M)", "Quantity": 2,
                     "UnitSellingPrice": Decimal("19.50"), "MemoLine": "Merchandise"}]}
        body.update(overrides)
        return body

    def create_invoice(self, customer: dict, **overrides) -> dict:
        resp = self.rest("POST", f"{FSCM}/receivablesInvoices", json=self.invoice_body(customer, **overrides))
        assert resp.status_code == 201, resp.text
        return self.json(resp)


def rows(child) -> list[dict]:
    """Nested children are bare arrays before framework v3 and collection objects from v3."""
    return child["items"] if isinstance(child, dict) else child


def xml_value(text: str, local_name: str) -> str | None:
    """First element text with that local name, whatever its prefix."""
    m = re.search(rf"<(?:[\w.-]+:)?{local_name}(?:\s[^>]*)?>([^<]*)</", text)
    return m.group(1) if m else None


def xml_values(text: str, local_name: str) -> list[str]:
    return re.findall(rf"<(?:[\w.-]+:)?{local_name}(?:\s[^>]*)?>([^<]*)</", text)
