"""Requests written straight from rest.md §9 get the documented answers."""
from decimal import Decimal
from urllib.parse import urlencode

import requests
import simplejson

from fusion_helpers import CRM, FSCM, rows, xml_value


def test_section_9_3_customer_then_9_1_invoice_then_9_4_poll(fusion):
    # §9.3: party by REST …
    person_body = {
        "FirstName": "Jane", "LastName": "Doe", "EmailAddress": "jane@example.com",
        "PartyUsageCode": "CUSTOMER", "SourceSystem": "SHOPIFY",
        "SourceSystemReferenceValue": "gid://shopify/Customer/7001",
        "Address": [{"Address1": "1 Main St", "City": "Austin", "State": "TX", "PostalCode": "78701",
                     "Country": "US", "SourceSystem": "SHOPIFY",
                     "SourceSystemReferenceValue": "gid://shopify/MailingAddress/9001"}]}
    person = fusion.rest("POST", f"{CRM}/hubPersons", json=person_body).json()
    site = rows(person["Address"])[0]
    # … then the account by SOAP (the §2.3 composed request, ids filled in)
    account = fusion.soap("/crmService/CustomerAccountService",
                          fusion.account_xml(person["PartyId"], site["AddressId"],
                                             orig_ref="gid://shopify/Customer/7001"))
    account_number = xml_value(account.text, "AccountNumber")

    # §9.1, with the customer's real account and site numbers
    invoice_body = {
        "BusinessUnit": "US1 Business Unit", "TransactionSource": "SHOPIFY",
        "TransactionType": "Shopify Invoice", "TransactionNumber": "SHOP-1001",
        "TransactionDate": "2025-03-14", "AccountingDate": "2025-03-14",
        "BillToCustomerNumber": account_number, "BillToSite": site["AddressNumber"],
        "PaymentTerms": "IMMEDIATE", "InvoiceCurrencyCode": "USD",
        "CrossReference": "gid://shopify/Order/5551234567", "PurchaseOrder": "#1001",
        "Comments": "Shopify order #1001",
        "receivablesInvoiceLines": [
            {"LineNumber": 1, "Description": "Blue T-shirt (M)", "Quantity": 2,
             "UnitSellingPrice": Decimal("19.5"), "MemoLine": "Merchandise",
             "TaxClassificationCode": "US_SALES_TAX"},
            {"LineNumber": 2, "Description": "Shipping", "Quantity": 1,
             "UnitSellingPrice": Decimal("5.0"), "MemoLine": "Freight"}]}
    # sent exactly as §9.1: Bearer token, resourceitem media type, framework 4
    token = requests.post(f"{fusion.url}/oauth2/v1/token",
                          data={"grant_type": "client_credentials", "scope": fusion.settings.scope},
                          auth=(fusion.settings.client_id, fusion.settings.client_secret),
                          timeout=5).json()["access_token"]
    resp = requests.post(f"{fusion.url}{FSCM}/receivablesInvoices",
                         data=simplejson.dumps(invoice_body, use_decimal=True),
                         headers={"Authorization": f"Bearer {token}", "REST-Framework-Version": "4",
                                  "Content-Type": "application/vnd.oracle.adf.resourceitem+json"},
                         timeout=5)
    assert resp.status_code == 201, resp.text
    inv = fusion.json(resp)
    expected = {"TransactionNumber": "SHOP-1001", "TransactionSource": "SHOPIFY",
                "TransactionType": "Shopify Invoice", "BusinessUnit": "US1 Business Unit",
                "TransactionDate": "2025-03-14", "AccountingDate": "2025-03-14", "DueDate": "2025-03-14",
                "BillToCustomerName": "Jane Doe", "BillToCustomerNumber": account_number,
                "BillToPartyId": person["PartyId"], "BillToSite": site["AddressNumber"],
                "InvoiceCurrencyCode": "USD", "PaymentTerms": "IMMEDIATE", "InvoiceStatus": "Complete",
                "EnteredAmount": Decimal("44.00"), "InvoiceBalanceAmount": Decimal("44.00"),
                "CrossReference": "gid://shopify/Order/5551234567"}
    assert {k: inv[k] for k in expected} == expected
    assert len(str(inv["CustomerTransactionId"])) == 15
    assert [l["rel"] for l in inv["links"]][:2] == ["self", "canonical"]

    # §9.4 list query with paging
    params = {"q": "LastUpdateDate > '2025-03-14T00:00:00+00:00'", "orderBy": "LastUpdateDate:asc",
              "fields": "CustomerTransactionId,TransactionNumber,InvoiceStatus,InvoiceBalanceAmount,LastUpdateDate",
              "onlyData": "true", "limit": "100", "offset": "0", "totalResults": "true"}
    page = fusion.json(fusion.rest("GET", f"{FSCM}/receivablesInvoices?{urlencode(params)}"))
    assert page["items"] == [{"CustomerTransactionId": inv["CustomerTransactionId"],
                              "TransactionNumber": "SHOP-1001", "InvoiceStatus": "Complete",
                              "InvoiceBalanceAmount": Decimal("44.00"),
                              "LastUpdateDate": inv["LastUpdateDate"]}]
    assert (page["totalResults"], page["count"], page["hasMore"], page["limit"], page["offset"]) == \
        (1, 1, False, 100, 0)
    assert page["links"][0]["rel"] == "self"
    # §9.4 finder variant
    finder = ("invoiceSearch;BusinessUnit=US1 Business Unit,TransactionSource=SHOPIFY,"
              "CrossReference=gid://shopify/Order/5551234567")
    found = fusion.rest("GET", f"{FSCM}/receivablesInvoices?{urlencode({'finder': finder})}").json()
    assert [i["TransactionNumber"] for i in found["items"]] == ["SHOP-1001"]


def test_section_9_5_error_shape(fusion, customer):
    resp = fusion.rest("POST", f"{FSCM}/receivablesInvoices",
                       json=fusion.invoice_body(customer, TransactionType="Standard"))
    body = resp.json()
    assert resp.status_code == 400
    assert body["title"] == "Bad Request" and body["status"] == "400"
    assert body["o:errorDetails"][0]["o:errorPath"] == "/TransactionType"
