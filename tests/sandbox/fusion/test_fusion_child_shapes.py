"""Child collections: ``fields`` checked against the child's own attributes, nested tax lines
shaped per framework version (rest.md §6.1)."""
from decimal import Decimal

import pytest

from fusion_helpers import CRM, FSCM

INVOICES = f"{FSCM}/receivablesInvoices"
MEMOS = f"{FSCM}/receivablesCreditMemos"
TAX = {"TaxRegimeCode": "US_SALES_TAX", "TaxRateCode": "STANDARD"}


def _taxed_invoice(fusion, customer):
    line = {"LineNumber": 1, "Description": "Shirt", "Quantity": 2, "UnitSellingPrice": Decimal("19.50"),
            "MemoLine": "Merchandise", "receivablesInvoiceLineTaxLines": [{**TAX, "TaxAmount": Decimal("3.22")}]}
    return fusion.create_invoice(customer, receivablesInvoiceLines=[line])


@pytest.mark.parametrize("child, fields", [
    ("receivablesInvoiceInstallments", "InstallmentId,InstallmentBalanceDue"),
    ("receivablesInvoiceLines", "LineNumber,LineAmount"),
    ("receivablesInvoiceDistributions", "AccountClass,Amount"),
])
def test_fields_on_an_invoice_child_trims_to_the_child_attributes(fusion, customer, child, fields):
    # given an invoice, when a child collection is read with fields of that child
    inv = fusion.create_invoice(customer)
    resp = fusion.rest("GET", f"{INVOICES}/{inv['CustomerTransactionId']}/child/{child}",
                       params={"fields": fields, "onlyData": "true"})
    # then each row carries exactly those fields
    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    assert items and all(set(row) == set(fields.split(",")) for row in items)


@pytest.mark.parametrize("child, field", [
    ("receivablesInvoiceInstallments", "TransactionNumber"),    # a parent attribute
    ("receivablesInvoiceLines", "Nope"),
])
def test_fields_on_an_invoice_child_rejects_names_the_child_lacks(fusion, customer, child, field):
    inv = fusion.create_invoice(customer)
    resp = fusion.rest("GET", f"{INVOICES}/{inv['CustomerTransactionId']}/child/{child}",
                       params={"fields": field})
    assert resp.status_code == 400 and field in resp.text


def test_fields_on_lines_can_name_the_tax_line_fields(fusion, customer):
    inv = _taxed_invoice(fusion, customer)
    resp = fusion.rest("GET", f"{INVOICES}/{inv['CustomerTransactionId']}/child/receivablesInvoiceLines",
                       params={"fields": "LineNumber;receivablesInvoiceLineTaxLines:TaxAmount",
                               "onlyData": "true"})
    assert resp.status_code == 200, resp.text
    row = resp.json()["items"][0]
    assert set(row) == {"LineNumber", "receivablesInvoiceLineTaxLines"}
    assert row["receivablesInvoiceLineTaxLines"]["items"] == [{"TaxAmount": 3.22}]


def test_fields_on_a_party_address_child(fusion):
    # given a person with an address
    person = fusion.create_person()
    url = f"{CRM}/hubPersons/{person['PartyNumber']}/child/Address"
    # when the Address child is read with Address fields, then rows carry just those
    resp = fusion.rest("GET", url, params={"fields": "AddressId,City"})
    assert resp.status_code == 200, resp.text
    assert [set(r) for r in resp.json()["items"]] == [{"AddressId", "City"}]
    # and a party attribute is not an Address attribute
    assert fusion.rest("GET", url, params={"fields": "FirstName"}).status_code == 400


def test_fields_on_account_activity_children(fusion, customer):
    fusion.create_invoice(customer)
    url = (f"{FSCM}/receivablesCustomerAccountActivities/{customer['CustomerAccountId']}"
           "/child/transactionPaymentSchedules")
    resp = fusion.rest("GET", url, params={"fields": "TransactionNumber,InstallmentBalanceDue"})
    assert resp.status_code == 200, resp.text
    assert set(resp.json()["items"][0]) == {"TransactionNumber", "InstallmentBalanceDue"}
    assert fusion.rest("GET", url, params={"fields": "AccountNumber"}).status_code == 400


def _memo_with_tax(fusion, customer):
    body = {"BusinessUnit": "US1 Business Unit", "TransactionSource": "SHOPIFY",
            "TransactionType": "Shopify Credit Memo", "TransactionNumber": f"R-{fusion.seq()}",
            "TransactionDate": "2025-03-20", "CreditMemoCurrency": "USD",
            "BillToCustomerNumber": customer["AccountNumber"],
            "receivablesCreditMemoLines": [
                {"LineNumber": 1, "LineDescription": "Returned", "LineQuantityCredit": 1,
                 "UnitSellingPrice": Decimal("-19.5"), "MemoLine": "Merchandise",
                 "receivablesCreditMemoLineTaxLines": [{**TAX, "TaxAmount": Decimal("-1.61")}]}]}
    resp = fusion.rest("POST", MEMOS, json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


@pytest.mark.parametrize("fw, collection", [(3, True), (4, True), (2, False)])
def test_credit_memo_tax_lines_follow_the_framework_version(fusion, customer, fw, collection):
    # given an on-account memo with a tax line
    cm = _memo_with_tax(fusion, customer)
    # when it is read with its lines expanded
    resp = fusion.rest("GET", f"{MEMOS}/{cm['CustomerTransactionId']}", fw=fw,
                       params={"expand": "receivablesCreditMemoLines"})
    lines = resp.json()["receivablesCreditMemoLines"]
    line = (lines["items"] if fw >= 3 else lines)[0]
    taxes = line["receivablesCreditMemoLineTaxLines"]
    # then from v3 the tax lines are a collection object like the invoice lines' tax lines
    if collection:
        assert taxes["count"] == 1 and taxes["items"][0]["TaxAmount"] == -1.61
        assert taxes["links"][0]["href"].endswith(
            f"/receivablesCreditMemoLines/{line['CustomerTransactionLineId']}/child/receivablesCreditMemoLineTaxLines")
    else:
        assert isinstance(taxes, list) and taxes[0]["TaxAmount"] == -1.61
    # the 201 echo follows the same rule
    echoed = cm["receivablesCreditMemoLines"]["items"][0]["receivablesCreditMemoLineTaxLines"]
    assert echoed["count"] == 1
