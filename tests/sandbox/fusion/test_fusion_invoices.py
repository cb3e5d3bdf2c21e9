"""receivablesInvoices create/read/PATCH: validation and money as a Fusion pod does it."""
from decimal import Decimal

import pytest

from fusion_helpers import FSCM, rows

INVOICES = f"{FSCM}/receivablesInvoices"


def _post(fusion, body):
    return fusion.rest("POST", INVOICES, json=body)


def _error_detail(resp) -> str:
    return " ".join(d["detail"] for d in resp.json()["o:errorDetails"])


# --- amounts -----------------------------------------------------------------------------------
def test_create_answers_201_with_ids_totals_audit_stamps_and_echoed_lines(fusion, customer):
    # given a customer, when an invoice with one line is posted
    resp = _post(fusion, fusion.invoice_body(customer, CrossReference="gid://shopify/Order/1"))
    # then the pod answers 201 with the full item
    assert resp.status_code == 201, resp.text
    inv = fusion.json(resp)
    assert isinstance(inv["CustomerTransactionId"], int) and len(str(inv["CustomerTransactionId"])) == 15
    assert inv["EnteredAmount"] == Decimal("39.00") and inv["InvoiceBalanceAmount"] == Decimal("39.00")
    assert inv["InvoiceStatus"] == "Complete" and inv["BillToSite"] == customer["SiteNumber"]
    assert inv["BillToPartyId"] == customer["PartyId"]
    assert inv["CrossReference"] == "gid://shopify/Order/1"
    assert inv["CreationDate"].endswith("+00:00") and len(inv["CreationDate"]) == 29
    assert rows(inv["receivablesInvoiceLines"])[0]["LineAmount"] == Decimal("39.00")
    assert {l["rel"] for l in inv["links"]} >= {"self", "canonical", "child"}
    assert resp.headers["Location"].endswith(str(inv["CustomerTransactionId"]))


def test_exclusive_manual_tax_and_header_freight_add_to_the_total(fusion, customer):
    # given a $39.00 line with $3.22 manual tax (not inclusive) and $5.00 header freight
    line = {"LineNumber": 1, "Description": "Shirt", "Quantity": 3, "UnitSellingPrice": Decimal("13.00"),
            "MemoLine": "Merchandise", "LineAmountIncludesTax": "N",
            "receivablesInvoiceLineTaxLines": [{"TaxRegimeCode": "US_SALES_TAX", "TaxRateCode": "STANDARD",
                                                "TaxAmount": Decimal("3.22"), "TaxInclusiveIndicator": "N"}]}
    inv = fusion.create_invoice(customer, receivablesInvoiceLines=[line], FreightAmount=Decimal("5.00"))
    # then the total is lines + tax + freight, to the cent
    assert inv["EnteredAmount"] == Decimal("47.22")
    assert inv["InvoiceBalanceAmount"] == Decimal("47.22")


def test_tax_inclusive_lines_keep_the_tax_inside_the_line_amount(fusion, customer):
    # given a 12.00 tax-inclusive line carrying 2.00 VAT
    line = {"LineNumber": 1, "Description": "Mug", "LineAmount": Decimal("12.00"),
            "LineAmountIncludesTax": "Y", "MemoLine": "Merchandise",
            "receivablesInvoiceLineTaxLines": [{"TaxRegimeCode": "VAT", "TaxRateCode": "STANDARD",
                                                "TaxAmount": Decimal("2.00"), "TaxInclusiveIndicator": "Y"}]}
    inv = fusion.create_invoice(customer, receivablesInvoiceLines=[line])
    # then the invoice total is the line amount, not line + tax
    assert inv["EnteredAmount"] == Decimal("12.00")
    # and AutoAccounting books revenue net of the inclusive tax
    dists = fusion.json(fusion.rest("GET", f"{INVOICES}/{inv['CustomerTransactionId']}/child/"
                                           "receivablesInvoiceDistributions"))["items"]
    by_class = {d["AccountClass"]: d for d in dists}
    assert by_class["Revenue"]["Amount"] == Decimal("10.00")
    assert by_class["Tax"]["Amount"] == Decimal("2.00")
    assert by_class["Receivable"]["Amount"] == Decimal("12.00")


def test_cent_amounts_never_drift_like_floats(fusion, customer):
    # 0.1 + 0.2 style amounts: three lines of 0.10, 0.20, 0.70 must total exactly 1.00
    lines = [{"LineNumber": i + 1, "Description": "x", "Quantity": 1, "UnitSellingPrice": Decimal(p),
              "MemoLine": "Merchandise"} for i, p in enumerate(["0.10", "0.20", "0.70"])]
    resp = _post(fusion, fusion.invoice_body(customer, receivablesInvoiceLines=lines))
    assert '"EnteredAmount": 1.00' in resp.text


def test_manual_distributions_are_kept_and_validated(fusion, customer):
    body = fusion.invoice_body(customer, receivablesInvoiceDistributions=[
        {"AccountClass": "Revenue", "AccountCombination": "101-10-41000-000-000",
         "Amount": Decimal("39.00"), "InvoiceLineNumber": 1},
        {"AccountClass": "Receivable", "AccountCombination": "101-10-12100-000-000",
         "Amount": Decimal("39.00")}])
    resp = _post(fusion, body)
    assert resp.status_code == 201, resp.text
    dists = rows(fusion.json(resp)["receivablesInvoiceDistributions"])
    assert {(d["AccountClass"], d["AccountCombination"], d["Amount"]) for d in dists} == {
        ("Revenue", "101-10-41000-000-000", Decimal("39.00")),
        ("Receivable", "101-10-12100-000-000", Decimal("39.00"))}


def test_revenue_distributions_must_add_up_to_the_line(fusion, customer):
    body = fusion.invoice_body(customer, receivablesInvoiceDistributions=[
        {"AccountClass": "Revenue", "AccountCombination": "101-10-41000-000-000",
         "Amount": Decimal("30.00"), "InvoiceLineNumber": 1}])
    resp = _post(fusion, body)
    assert resp.status_code == 400 and "30.00" in _error_detail(resp)


def test_installment_starts_at_the_total(fusion, customer):
    inv = fusion.create_invoice(customer)
    resp = fusion.rest("GET", f"{INVOICES}/{inv['CustomerTransactionId']}/child/receivablesInvoiceInstallments")
    inst = fusion.json(resp)["items"]
    assert len(inst) == 1
    assert inst[0]["InstallmentBalanceDue"] == Decimal("39.00") == inst[0]["OriginalAmount"]
    assert inst[0]["AmountPaid"] == 0 and inst[0]["InstallmentAmountCredited"] == 0
    assert isinstance(inst[0]["InstallmentId"], int)


def test_payment_terms_set_the_due_date(fusion, customer):
    inv = fusion.create_invoice(customer, PaymentTerms="30 NET", TransactionDate="2025-03-14")
    assert inv["DueDate"] == "2025-04-13"


# --- validation: set-up names --------------------------------------------------------------------
@pytest.mark.parametrize("attr,value", [
    ("BusinessUnit", "US2 Business Unit"),
    ("TransactionSource", "AMAZON"),
    ("TransactionType", "Invoice"),
    ("PaymentTerms", "45 NET"),
])
def test_unknown_setup_names_are_rejected(fusion, customer, attr, value):
    resp = _post(fusion, fusion.invoice_body(customer, **{attr: value}))
    assert resp.status_code == 400
    assert resp.json()["o:errorDetails"][0]["o:errorPath"] == f"/{attr}"


def test_credit_memo_type_cannot_be_used_for_an_invoice(fusion, customer):
    resp = _post(fusion, fusion.invoice_body(customer, TransactionType="Shopify Credit Memo"))
    assert resp.status_code == 400


def test_unknown_memo_line_is_rejected(fusion, customer):
    body = fusion.invoice_body(customer)
    body["receivablesInvoiceLines"][0]["MemoLine"] = "Gadgets"
    resp = _post(fusion, body)
    assert resp.status_code == 400 and "Gadgets" in _error_detail(resp)


def test_unknown_gl_account_combination_is_rejected(fusion, customer):
    body = fusion.invoice_body(customer, receivablesInvoiceDistributions=[
        {"AccountClass": "Revenue", "AccountCombination": "999-10-41000-000-000",
         "Amount": Decimal("39.00"), "InvoiceLineNumber": 1}])
    resp = _post(fusion, body)
    assert resp.status_code == 400
    assert resp.json()["o:errorDetails"][0]["o:errorPath"].endswith("/AccountCombination")


def test_unknown_tax_rate_code_is_rejected(fusion, customer):
    body = fusion.invoice_body(customer)
    body["receivablesInvoiceLines"][0]["receivablesInvoiceLineTaxLines"] = [
        {"TaxRegimeCode": "VAT", "TaxRateCode": "EXEMPT", "TaxAmount": Decimal("1.00")}]
    assert _post(fusion, body).status_code == 400


# --- validation: numbering ------------------------------------------------------------------------
def test_manual_numbering_source_requires_transaction_number(fusion, customer):
    body = fusion.invoice_body(customer)
    del body["TransactionNumber"]
    resp = _post(fusion, body)
    assert resp.status_code == 400 and "TransactionNumber" in _error_detail(resp)


def test_transaction_number_is_unique_per_source(fusion, customer):
    fusion.create_invoice(customer, TransactionNumber="SHOP-7777")
    resp = _post(fusion, fusion.invoice_body(customer, TransactionNumber="SHOP-7777"))
    assert resp.status_code == 400 and "SHOP-7777" in _error_detail(resp)


def test_automatic_numbering_source_generates_the_number(make_fusion, tmp_path):
    from sandbox.fusion.seed import PACKAGED_SEED
    seed = PACKAGED_SEED.read_text().replace('numbering = "manual"', 'numbering = "automatic"')
    path = tmp_path / "seed.toml"
    path.write_text(seed)
    fusion = make_fusion(seed_path=path)
    customer = fusion.create_customer()
    body = fusion.invoice_body(customer)
    del body["TransactionNumber"]
    resp = _post(fusion, body)
    assert resp.status_code == 201 and resp.json()["TransactionNumber"]


# --- validation: customer ------------------------------------------------------------------------
def test_bill_to_customer_must_be_an_existing_account(fusion, customer):
    resp = _post(fusion, fusion.invoice_body(customer, BillToCustomerNumber="99999"))
    assert resp.status_code == 400 and "99999" in _error_detail(resp)


def test_party_number_is_not_an_account_number(fusion, customer):
    # a TCA party number (hubPersons) is not what BillToCustomerNumber means
    resp = _post(fusion, fusion.invoice_body(customer, BillToCustomerNumber=customer["PartyNumber"]))
    assert resp.status_code == 400


def test_account_without_bill_to_site_use_is_rejected(fusion):
    # given an account whose only site use is SHIP_TO
    person = fusion.create_person()
    site = rows(person["Address"])[0]["AddressId"]
    resp = fusion.soap("/crmService/CustomerAccountService",
                       fusion.account_xml(person["PartyId"], site, site_use="SHIP_TO"))
    from fusion_helpers import xml_value
    number = xml_value(resp.text, "AccountNumber")
    # when an invoice bills it, then Fusion refuses
    resp = _post(fusion, fusion.invoice_body({"AccountNumber": number}))
    assert resp.status_code == 400 and "bill-to" in _error_detail(resp)


def test_account_site_in_another_reference_set_does_not_count(fusion):
    person = fusion.create_person()
    site = rows(person["Address"])[0]["AddressId"]
    resp = fusion.soap("/crmService/CustomerAccountService",
                       fusion.account_xml(person["PartyId"], site, set_id=999))
    assert resp.status_code == 500   # unknown SetId is already a fault at account creation


def test_bill_to_site_must_be_the_site_number_of_an_active_bill_to_site(fusion, customer):
    assert _post(fusion, fusion.invoice_body(customer, BillToSite=customer["SiteNumber"])).status_code == 201
    resp = _post(fusion, fusion.invoice_body(customer, BillToSite=customer["SiteUseId"]))
    assert resp.status_code == 400


def test_bill_to_site_may_be_a_site_use_id_when_configured(make_fusion):
    fusion = make_fusion(bill_to_site_accepts_ids=True)
    customer = fusion.create_customer()
    resp = _post(fusion, fusion.invoice_body(customer, BillToSite=customer["SiteUseId"]))
    assert resp.status_code == 201


# --- validation: ADF attribute checks -------------------------------------------------------------
def test_unknown_top_level_attribute_is_rejected(fusion, customer):
    resp = _post(fusion, fusion.invoice_body(customer, BillToAccountNumber="10001"))
    assert resp.status_code == 400
    assert resp.json()["o:errorDetails"][0]["o:errorPath"] == "/BillToAccountNumber"


def test_unknown_line_attribute_is_rejected(fusion, customer):
    body = fusion.invoice_body(customer)
    body["receivablesInvoiceLines"][0]["Price"] = 1
    assert _post(fusion, body).status_code == 400


def test_read_only_attribute_is_rejected(fusion, customer):
    resp = _post(fusion, fusion.invoice_body(customer, EnteredAmount=Decimal("39.00")))
    assert resp.status_code == 400


def test_invoice_without_lines_is_rejected(fusion, customer):
    assert _post(fusion, fusion.invoice_body(customer, receivablesInvoiceLines=[])).status_code == 400


def test_bad_date_is_rejected(fusion, customer):
    assert _post(fusion, fusion.invoice_body(customer, TransactionDate="14/03/2025")).status_code == 400


def test_non_json_media_type_is_415(fusion, customer):
    resp = fusion.rest("POST", INVOICES, data="x=1",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 415


# --- read ------------------------------------------------------------------------------------------
def test_get_item_and_404_for_unknown_id(fusion, customer):
    inv = fusion.create_invoice(customer)
    resp = fusion.rest("GET", f"{INVOICES}/{inv['CustomerTransactionId']}")
    assert resp.status_code == 200 and resp.json()["TransactionNumber"] == inv["TransactionNumber"]
    # children are links unless expanded
    assert "receivablesInvoiceLines" not in resp.json()
    assert fusion.rest("GET", f"{INVOICES}/300100699999999").status_code == 404


def test_latest_may_replace_the_version(fusion, customer):
    inv = fusion.create_invoice(customer)
    resp = fusion.rest("GET", f"/fscmRestApi/resources/latest/receivablesInvoices/{inv['CustomerTransactionId']}")
    assert resp.status_code == 200
    assert fusion.rest("GET", "/fscmRestApi/resources/11.1.10/receivablesInvoices").status_code == 404


def test_child_lines_with_tax_lines(fusion, customer):
    body = fusion.invoice_body(customer)
    body["receivablesInvoiceLines"][0]["receivablesInvoiceLineTaxLines"] = [
        {"TaxRegimeCode": "US_SALES_TAX", "TaxRateCode": "STANDARD", "TaxAmount": Decimal("3.22")}]
    inv = fusion.json(_post(fusion, body))
    trx = inv["CustomerTransactionId"]
    lines = fusion.json(fusion.rest("GET", f"{INVOICES}/{trx}/child/receivablesInvoiceLines"))["items"]
    assert lines[0]["LineNumber"] == 1 and lines[0]["LineAmount"] == Decimal("39.00")
    line_id = lines[0]["CustomerTransactionLineId"]
    taxes = fusion.json(fusion.rest(
        "GET", f"{INVOICES}/{trx}/child/receivablesInvoiceLines/{line_id}/child/receivablesInvoiceLineTaxLines"))
    assert taxes["items"][0]["TaxAmount"] == Decimal("3.22")


def test_expand_inlines_children_as_collections_from_framework_v3_and_arrays_before(fusion, customer):
    inv = fusion.create_invoice(customer)
    url = f"{INVOICES}/{inv['CustomerTransactionId']}?expand=receivablesInvoiceInstallments"
    v4 = fusion.rest("GET", url).json()
    assert isinstance(v4["receivablesInvoiceInstallments"], dict)
    v2 = fusion.rest("GET", url, fw=2).json()
    assert isinstance(v2["receivablesInvoiceInstallments"], list)


# --- PATCH -----------------------------------------------------------------------------------------
def test_patch_updates_only_status_terms_and_date_and_moves_last_update_date(fusion, customer):
    inv = fusion.create_invoice(customer)
    url = f"{INVOICES}/{inv['CustomerTransactionId']}"
    resp = fusion.rest("PATCH", url, json={"PaymentTerms": "30 NET", "TransactionDate": "2025-03-20"})
    assert resp.status_code == 200
    patched = resp.json()
    assert patched["PaymentTerms"] == "30 NET" and patched["DueDate"] == "2025-04-19"
    assert patched["LastUpdateDate"] > inv["LastUpdateDate"]
    assert patched["links"][0]["properties"]["changeIndicator"] != inv["links"][0]["properties"]["changeIndicator"]
    resp = fusion.rest("PATCH", url, json={"Comments": "changed"})
    assert resp.status_code == 400 and "Comments" in _error_detail(resp)
    resp = fusion.rest("PATCH", url, json={"InvoiceStatus": "Incomplete"})
    assert resp.status_code == 200 and resp.json()["InvoiceStatus"] == "Incomplete"


def test_create_requires_status_complete(fusion, customer):
    resp = _post(fusion, fusion.invoice_body(customer, InvoiceStatus="Incomplete"))
    assert resp.status_code == 400


def test_concurrent_creates_get_unique_ids_and_numbers(fusion, customer):
    from concurrent.futures import ThreadPoolExecutor
    bodies = [fusion.invoice_body(customer, TransactionNumber=f"PAR-{i}") for i in range(12)]
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda b: _post(fusion, b), bodies))
    assert all(r.status_code == 201 for r in results)
    assert len({r.json()["CustomerTransactionId"] for r in results}) == 12
    # and a duplicate race: same number posted 6 times in parallel creates exactly one invoice
    dup = [fusion.invoice_body(customer, TransactionNumber="RACE-1") for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        codes = sorted(r.status_code for r in pool.map(lambda b: _post(fusion, b), dup))
    assert codes == [201, 400, 400, 400, 400, 400]


def test_bill_to_customer_name_alone_identifies_a_unique_account(fusion, customer):
    body = fusion.invoice_body(customer, BillToCustomerName="Jane Doe")
    del body["BillToCustomerNumber"]
    resp = _post(fusion, body)
    assert resp.status_code == 201 and resp.json()["BillToCustomerNumber"] == customer["AccountNumber"]
    # a second "Jane Doe" account makes the name ambiguous
    fusion.create_customer()
    assert _post(fusion, fusion.invoice_body(customer, BillToCustomerName="Jane Doe",
                                             BillToCustomerNumber=None)).status_code == 400


def test_delete_only_incomplete_invoices(fusion, customer):
    inv = fusion.create_invoice(customer)
    url = f"{INVOICES}/{inv['CustomerTransactionId']}"
    assert fusion.rest("DELETE", url).status_code == 400
    fusion.rest("PATCH", url, json={"InvoiceStatus": "Incomplete"})
    assert fusion.rest("DELETE", url).status_code == 204
    assert fusion.rest("GET", url).status_code == 404


def test_user_conversion_rate_type_needs_a_conversion_rate(fusion, customer):
    # given an invoice that asks for a User conversion rate but gives none
    body = fusion.invoice_body(customer, ConversionRateType="User", ConversionDate="2025-03-14")
    # when it is posted, then it is a 400 pointing at ConversionRate (rest.md §1.2)
    resp = _post(fusion, body)
    assert resp.status_code == 400
    assert resp.json()["o:errorDetails"][0]["o:errorPath"] == "/ConversionRate"
    # and with the rate it is accepted
    body["ConversionRate"] = Decimal("1.0")
    body["TransactionNumber"] += "X"
    assert _post(fusion, body).status_code == 201


def _self_indicator(item: dict) -> str:
    return next(l for l in item["links"] if l["rel"] == "self")["properties"]["changeIndicator"]


def test_patch_with_a_stale_if_match_is_412(fusion, customer):
    # given an invoice read once, then changed by someone else
    inv = fusion.create_invoice(customer)
    url = f"{INVOICES}/{inv['CustomerTransactionId']}"
    stale = _self_indicator(inv)
    assert fusion.rest("PATCH", url, json={"PaymentTerms": "30 NET"}, headers={"If-Match": stale}).status_code == 200
    # when the first reader patches with its old changeIndicator
    resp = fusion.rest("PATCH", url, json={"PaymentTerms": "IMMEDIATE"}, headers={"If-Match": stale})
    # then the pod refuses with 412 and nothing changes
    assert resp.status_code == 412 and resp.json()["title"] == "Precondition Failed"
    current = fusion.json(fusion.rest("GET", url))
    assert current["PaymentTerms"] == "30 NET"
    # the current indicator (quoted, as an ETag) and * both pass
    fresh = _self_indicator(current)
    assert fusion.rest("PATCH", url, json={"PaymentTerms": "IMMEDIATE"},
                       headers={"If-Match": f'"{fresh}"'}).status_code == 200
    assert fusion.rest("PATCH", url, json={"PaymentTerms": "30 NET"}, headers={"If-Match": "*"}).status_code == 200


# --- Upsert-Mode (rest.md §0) ------------------------------------------------------------------------
def test_upsert_updates_the_invoice_with_the_same_number_and_source(fusion, customer):
    # given an invoice
    body = fusion.invoice_body(customer)
    first = fusion.json(_post(fusion, body))
    # when the same payload is posted again with Upsert-Mode and new terms
    again = dict(body, PaymentTerms="30 NET")
    resp = fusion.rest("POST", INVOICES, json=again, headers={"Upsert-Mode": "true"})
    # then the existing invoice is updated (200), not duplicated
    assert resp.status_code == 200, resp.text
    item = fusion.json(resp)
    assert item["CustomerTransactionId"] == first["CustomerTransactionId"]
    assert item["PaymentTerms"] == "30 NET" and item["DueDate"] == "2025-04-13"
    listed = fusion.json(fusion.rest("GET", INVOICES, params={"q": f"TransactionNumber='{body['TransactionNumber']}'"}))
    assert listed["count"] == 1


def test_upsert_without_a_match_creates(fusion, customer):
    resp = fusion.rest("POST", INVOICES, json=fusion.invoice_body(customer), headers={"Upsert-Mode": "true"})
    assert resp.status_code == 201, resp.text


def test_without_upsert_the_same_number_is_refused(fusion, customer):
    body = fusion.invoice_body(customer)
    assert _post(fusion, body).status_code == 201
    assert fusion.rest("POST", INVOICES, json=body, headers={"Upsert-Mode": "false"}).status_code == 400


def test_upsert_on_resources_the_sandbox_does_not_upsert_is_a_clear_400(fusion):
    # given a person payload, when it is posted with Upsert-Mode, then the sandbox says it can't
    resp = fusion.rest("POST", "/crmRestApi/resources/11.13.18.05/hubPersons",
                       json={"FirstName": "A", "LastName": "B"}, headers={"Upsert-Mode": "true"})
    assert resp.status_code == 400 and "Upsert-Mode isn't supported" in resp.json()["detail"]
