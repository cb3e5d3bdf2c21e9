"""Refunding a paid invoice: find the receipt's application, unapply it (REST action or SOAP),
credit, re-apply, and write the freed amount off to a receivables activity; plus debit memos
through receivablesInvoices. Balances to the cent, over real HTTP."""
from decimal import Decimal
from urllib.parse import quote

import pytest
import simplejson

from fusion_helpers import FSCM, xml_value

INVOICES = f"{FSCM}/receivablesInvoices"
RECEIPTS = f"{FSCM}/standardReceipts"
ACTIVITIES = f"{FSCM}/receivablesCustomerAccountActivities"
SERVICE = "/fscmService/StandardReceiptService"
SR_NS = "http://xmlns.oracle.com/apps/financials/receivables/receipts/shared/standardReceiptService/commonService/"
SR_TYPES = SR_NS + "types/"
CM_NS = "http://xmlns.oracle.com/apps/financials/receivables/transactions/creditMemos/creditMemoService/"
ACTION = {"Content-Type": "application/vnd.oracle.adf.action+json"}
BU = "US1 Business Unit"


@pytest.fixture
def paid(fusion) -> dict:
    return _paid(fusion)


def _paid(fusion) -> dict:
    """A 39.00 invoice fully paid by a 39.00 receipt: the state a refund of a paid order meets."""
    customer = fusion.create_customer()
    inv = fusion.create_invoice(customer)
    body = {"ReceiptNumber": f"PAY-{fusion.seq()}", "BusinessUnit": BU, "ReceiptMethod": "Shopify Payments",
            "ReceiptDate": "2025-03-14", "Amount": Decimal("39.00"), "Currency": "USD",
            "CustomerAccountNumber": customer["AccountNumber"]}
    receipt = fusion.json(fusion.rest("POST", RECEIPTS, json=body))
    schedule = _schedule_id(fusion, inv)
    assert _action(fusion, receipt, "applyReceipt", appliedPaymentScheduleId=schedule).status_code == 200
    [application] = _applications(fusion, customer, receipt, inv)
    return {"invoice": inv, "receipt": receipt, "schedule": schedule, "application": application,
            "customer": customer}


def _schedule_id(fusion, inv) -> int:
    url = f"{INVOICES}/{inv['CustomerTransactionId']}/child/receivablesInvoiceInstallments"
    return fusion.json(fusion.rest("GET", url))["items"][0]["InstallmentId"]


def _action(fusion, receipt, name, **body):
    return fusion.rest("POST", f"{RECEIPTS}/{receipt['StandardReceiptId']}/action/{name}",
                       data=simplejson.dumps(body, use_decimal=True), headers=ACTION)


def _applications(fusion, customer, receipt, inv=None, latest="Y", fw=4) -> list[dict]:
    """Step 0 of the refund: the receipt's (latest) applications, by ``q``."""
    terms = [f"StandardReceiptId={receipt['StandardReceiptId']}"]
    if inv is not None:
        terms.append(f"ReferenceTransactionId={inv['CustomerTransactionId']}")
    if latest:
        terms.append(f"IsLatestApplication='{latest}'")
    q = ";".join(terms) if fw < 2 else " and ".join(terms)
    url = f"{ACTIVITIES}/{customer['CustomerAccountId']}/child/standardReceiptApplications"
    resp = fusion.rest("GET", f"{url}?onlyData=true&q={quote(q)}", fw=fw)
    assert resp.status_code == 200, resp.text
    return fusion.json(resp)["items"]


def _balances(fusion, paid) -> tuple[Decimal, Decimal]:
    """(invoice InvoiceBalanceAmount, receipt UnappliedAmount)."""
    inv = fusion.json(fusion.rest("GET", f"{INVOICES}/{paid['invoice']['CustomerTransactionId']}"))
    receipt = fusion.json(fusion.rest("GET", f"{RECEIPTS}/{paid['receipt']['StandardReceiptId']}"))
    return inv["InvoiceBalanceAmount"], receipt["UnappliedAmount"]


def _soap(fusion, operation: str, parameter: str, **fields):
    inner = "".join(f"<cus:{name}>{value}</cus:{name}>" for name, value in fields.items())
    xml = f"<typ:{operation}><typ:{parameter}>{inner}</typ:{parameter}></typ:{operation}>"
    return fusion.soap(SERVICE, xml, types_ns=SR_TYPES, svc_ns=SR_NS)


def _unapply_soap(fusion, paid, **fields):
    base = {"BusinessUnit": BU, "ReceiptNumber": paid["receipt"]["ReceiptNumber"]}
    return _soap(fusion, "createUnapplyReceipt", "unapplyReceipt", **(base | fields))


def _write_off(fusion, paid, amount="30.00", **fields):
    base = {"BusinessUnit": BU, "ReceiptNumber": paid["receipt"]["ReceiptNumber"],
            "ReceivableTrxName": "Shopify Refund Clearing", "AmountApplied": amount,
            "ApplyDate": "2025-03-20", "ApplyGlDate": "2025-03-20", "AppliedPaymentScheduleId": "-3",
            "Comments": "Shopify refund for order #1001", "CustomerReference": "gid://shopify/Refund/998877"}
    return _soap(fusion, "createActivityApplication", "activityApplication",
                 **{k: v for k, v in (base | fields).items() if v is not None})


def _credit(fusion, paid, line: str):
    xml = (f"<typ:createCreditMemo><typ:creditMemo>"
           f"<cus:PreviousCustomerTransactionId>{paid['invoice']['CustomerTransactionId']}"
           f"</cus:PreviousCustomerTransactionId><cus:CurrencyCode>USD</cus:CurrencyCode>"
           f'<cus:LineAmount currencyCode="USD">{line}</cus:LineAmount>'
           f"<cus:TransactionNumber>R-{fusion.seq()}</cus:TransactionNumber>"
           f"</typ:creditMemo></typ:createCreditMemo>")
    return fusion.soap("/fscmService/CreditMemoService", xml, types_ns=CM_NS + "types/", svc_ns=CM_NS)


def _fault(resp) -> str:
    """The fault's text, row-level details included (a row fault's faultstring is generic)."""
    assert resp.status_code == 500, resp.text
    return resp.text


# --- finding the application ------------------------------------------------------------------------
def test_the_application_listing_finds_the_one_to_undo(fusion, paid):
    app = paid["application"]
    assert app["ApplicationAmount"] == Decimal("39.00") and app["ApplicationStatus"] == "APP"
    assert app["ReferenceInstallmentId"] == paid["schedule"] and app["IsLatestApplication"] == "Y"
    assert app["ReferenceTransactionStatus"] == "Closed" and app["ActivityName"] is None
    # the query-by-example grammar of framework version 1 finds the same row
    [same] = _applications(fusion, paid["customer"], paid["receipt"], paid["invoice"], fw=1)
    assert same["ApplicationId"] == app["ApplicationId"]


def test_the_application_listing_refuses_attributes_it_cannot_search(fusion, paid):
    url = f"{ACTIVITIES}/{paid['customer']['CustomerAccountId']}/child/standardReceiptApplications"
    assert fusion.rest("GET", f"{url}?q={quote('CalledFrom=1')}").status_code == 400
    by_key = fusion.json(fusion.rest(
        "GET", f"{url}?finder=PrimaryKey;ApplicationId={paid['application']['ApplicationId']}"))
    assert by_key["count"] == 1


# --- unapplying ----------------------------------------------------------------------------------
def test_rest_unapply_gives_the_whole_application_back_and_keeps_an_offsetting_row(fusion, paid):
    # when the application is unapplied by the 26D REST action
    resp = _action(fusion, paid["receipt"], "unapplyReceipt",
                   receivableApplicationId=paid["application"]["ApplicationId"],
                   appliedPaymentScheduleId=paid["schedule"], calledFrom="SHOPIFY_SYNC")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"result": "SUCCESS"}
    # then the invoice is open and the receipt unapplied by the whole amount
    assert _balances(fusion, paid) == (Decimal("39.00"), Decimal("39.00"))
    # and the listing keeps the application, no longer latest, next to its reversal
    assert _applications(fusion, paid["customer"], paid["receipt"], paid["invoice"]) == []
    rows = _applications(fusion, paid["customer"], paid["receipt"], latest=None)
    assert sorted(r["ApplicationAmount"] for r in rows) == [Decimal("-39.00"), Decimal("39.00")]
    assert {r["IsLatestApplication"] for r in rows} == {"N"}


@pytest.mark.parametrize("body, code", [
    ({"receivableApplicationId": None}, "JBO-27014"),            # no application named
    ({"receivableApplicationId": 300100699999999}, "AR-855066"),  # not this receipt's
    ({"appliedPaymentScheduleId": 1}, "AR-855069"),              # another installment
    ({"amountApplied": Decimal("10.00")}, ""),                   # whole applications only
])
def test_rest_unapply_refusals_leave_the_balances_alone(fusion, paid, body, code):
    body = {"receivableApplicationId": paid["application"]["ApplicationId"]} | body
    resp = _action(fusion, paid["receipt"], "unapplyReceipt", **body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["o:errorCode"] == code
    assert _balances(fusion, paid) == (Decimal("0.00"), Decimal("0.00"))


def test_an_application_is_unapplied_once(fusion, paid):
    application_id = paid["application"]["ApplicationId"]
    assert _action(fusion, paid["receipt"], "unapplyReceipt", receivableApplicationId=application_id).ok
    again = _action(fusion, paid["receipt"], "unapplyReceipt", receivableApplicationId=application_id)
    assert again.status_code == 400 and again.json()["o:errorCode"] == "AR-855068"
    assert _balances(fusion, paid) == (Decimal("39.00"), Decimal("39.00"))


def test_a_pod_before_26d_has_no_rest_unapply_but_soap_unapplies(make_fusion):
    # given a pod whose release lacks the REST action
    fusion = make_fusion(rest_unapply_receipt=False)
    paid = _paid(fusion)
    # then the action is unknown, as on such a pod, and /describe doesn't offer it
    resp = _action(fusion, paid["receipt"], "unapplyReceipt",
                   receivableApplicationId=paid["application"]["ApplicationId"])
    assert resp.status_code == 404
    actions = fusion.rest("GET", f"{RECEIPTS}/describe").json()["Resources"]["standardReceipts"]["item"]["actions"]
    assert {"name": "unapplyReceipt"} not in actions and {"name": "applyReceipt"} in actions
    # and SOAP still unapplies
    soap = _unapply_soap(fusion, paid, ReceivableApplicationId=paid["application"]["ApplicationId"])
    assert soap.status_code == 200, soap.text
    assert _balances(fusion, paid) == (Decimal("39.00"), Decimal("39.00"))


def test_soap_unapply_by_application_id_echoes_what_it_resolved(fusion, paid):
    resp = _unapply_soap(fusion, paid, ReceivableApplicationId=paid["application"]["ApplicationId"],
                         ReversalGlDate="2025-03-20")
    assert resp.status_code == 200, resp.text
    assert 'xsi:type="ns1:UnapplyReceiptResult"' in resp.text
    assert xml_value(resp.text, "TrxNumber") == paid["invoice"]["TransactionNumber"]
    assert xml_value(resp.text, "AppliedPaymentScheduleId") == str(paid["schedule"])
    assert xml_value(resp.text, "ReversalGlDate") == "2025-03-20"
    assert _balances(fusion, paid) == (Decimal("39.00"), Decimal("39.00"))
    reversal = [r for r in _applications(fusion, paid["customer"], paid["receipt"], latest="N")
                if r["ApplicationAmount"] < 0]
    assert reversal[0]["AccountingDate"] == "2025-03-20"


def test_soap_unapply_by_transaction_number_finds_the_latest_application(fusion, paid):
    resp = _unapply_soap(fusion, paid, TrxNumber=paid["invoice"]["TransactionNumber"])
    assert resp.status_code == 200, resp.text
    assert xml_value(resp.text, "ReceivableApplicationId") == str(paid["application"]["ApplicationId"])
    # and once reversed there is nothing left to unapply for that transaction
    assert "FND_CMN_RCRD_MSNG" in _unapply_soap(fusion, paid, TrxNumber=paid["invoice"]["TransactionNumber"]).text


@pytest.mark.parametrize("fields, says", [
    ({"ReceiptNumber": "PAY-404"}, "PAY-404"),
    ({"BusinessUnit": "EU1 Business Unit"}, "EU1 Business Unit"),
    ({}, "Attribute ReceivableApplicationId, or CustomerTrxId or TrxNumber"),
    ({"AmountApplied": "10.00"}, "Unexpected element AmountApplied"),  # no amount in UnapplyReceipt
    ({"CustomerTrxId": "1"}, "no application"),
])
def test_soap_unapply_faults(fusion, paid, fields, says):
    assert says in _fault(_unapply_soap(fusion, paid, **fields))
    assert _balances(fusion, paid) == (Decimal("0.00"), Decimal("0.00"))


# --- the whole refund ------------------------------------------------------------------------------
def test_a_paid_invoice_is_credited_only_after_the_unapply(fusion, paid):
    # given the paid invoice, when 30.00 is credited, then natural application refuses it
    assert "AR-855075" in _fault(_credit(fusion, paid, "-30.00"))
    # when the receipt is unapplied first, the credit passes, 9.00 is re-applied and 30.00 written off
    assert _unapply_soap(fusion, paid, ReceivableApplicationId=paid["application"]["ApplicationId"]).ok
    assert _credit(fusion, paid, "-30.00").status_code == 200
    assert _action(fusion, paid["receipt"], "applyReceipt", appliedPaymentScheduleId=paid["schedule"],
                   amountApplied=Decimal("9.00")).ok
    resp = _write_off(fusion, paid, "30.00")
    assert resp.status_code == 200, resp.text
    # then nothing is open and nothing unapplied
    assert _balances(fusion, paid) == (Decimal("0.00"), Decimal("0.00"))
    latest = _applications(fusion, paid["customer"], paid["receipt"])
    assert sorted((r["ApplicationStatus"], r["ApplicationAmount"], r["ActivityName"]) for r in latest) == [
        ("ACTIVITY", Decimal("30.00"), "Shopify Refund Clearing"), ("APP", Decimal("9.00"), None)]


def test_a_write_off_echoes_the_activity_and_lists_as_an_activity_row(fusion, paid):
    assert _unapply_soap(fusion, paid, ReceivableApplicationId=paid["application"]["ApplicationId"]).ok
    resp = _write_off(fusion, paid, "12.34", ReceivableTrxName="Shopify Store Credit")
    assert 'xsi:type="ns1:ActivityApplicationResult"' in resp.text
    assert xml_value(resp.text, "ReceivablesTrxId") == "300000004000102"
    assert xml_value(resp.text, "AmountApplied") == "12.34"
    assert _balances(fusion, paid) == (Decimal("39.00"), Decimal("26.66"))
    url = f"{ACTIVITIES}/{paid['customer']['CustomerAccountId']}/child/standardReceiptApplications"
    q = quote("ActivityName='Shopify Store Credit'")
    [row] = fusion.json(fusion.rest("GET", f"{url}?q={q}"))["items"]
    assert (row["ApplicationStatus"], row["ApplicationAmount"], row["ReferenceInstallmentId"]) == (
        "ACTIVITY", Decimal("12.34"), -3)
    assert row["ApplicationDate"] == "2025-03-20" and row["ReferenceTransactionId"] is None


@pytest.mark.parametrize("fields, says", [
    ({"AmountApplied": "39.01"}, "exceeds the unapplied amount 39.00"),
    ({"AmountApplied": "0.00"}, "greater than zero"),
    ({"ReceivableTrxName": "Shopify Refunds"}, "activity Shopify Refunds doesn't exist"),
    ({"ReceivableTrxName": None, "ReceivablesTrxId": "300000004000201"},  # EU1's
     "(ReceivablesTrxId 300000004000201) doesn't exist in US1"),
    ({"AppliedPaymentScheduleId": "-8"}, "-8 isn't supported"),
    ({"AppliedPaymentScheduleId": None}, "AppliedPaymentScheduleId in ActivityApplication is required"),
    ({"AmountApplied": None}, "AmountApplied in ActivityApplication is required"),
    ({"Amount": "1.00"}, "Unexpected element Amount in ActivityApplication"),
])
def test_write_off_faults_leave_the_receipt_alone(fusion, paid, fields, says):
    assert _unapply_soap(fusion, paid, ReceivableApplicationId=paid["application"]["ApplicationId"]).ok
    assert says in _fault(_write_off(fusion, paid, **fields))
    assert _balances(fusion, paid) == (Decimal("39.00"), Decimal("39.00"))


def test_a_write_off_cannot_take_applied_money(fusion, paid):
    # given a receipt wholly applied, then nothing can be written off
    assert "exceeds the unapplied amount 0.00" in _fault(_write_off(fusion, paid, "0.01"))


def test_the_write_off_schedule_id_may_default_by_setting(make_fusion):
    fusion = make_fusion(activity_application_needs_schedule_id=False)
    paid = _paid(fusion)
    assert _unapply_soap(fusion, paid, ReceivableApplicationId=paid["application"]["ApplicationId"]).ok
    resp = _write_off(fusion, paid, "5.00", AppliedPaymentScheduleId=None)
    assert resp.status_code == 200, resp.text
    assert xml_value(resp.text, "AppliedPaymentScheduleId") == "-3"


# --- debit memos -------------------------------------------------------------------------------------
def test_a_debit_memo_is_posted_and_credited_like_an_invoice(fusion, customer):
    # when an order edit raises the total by 12.00, posted as a debit memo
    dm = fusion.create_invoice(customer, TransactionType="Shopify Debit Memo", TransactionNumber="SHOP-1001-D1",
                               CrossReference="gid://shopify/OrderEdit/55", receivablesInvoiceLines=[
                                   {"LineNumber": 1, "Description": "Added item", "Quantity": 1,
                                    "UnitSellingPrice": Decimal("12.00"), "MemoLine": "Merchandise"}])
    assert (dm["TransactionType"], dm["InvoiceBalanceAmount"]) == ("Shopify Debit Memo", Decimal("12.00"))
    # then it is found by its cross reference, and credits and receipts move its balance
    found = fusion.json(fusion.rest("GET", f"{INVOICES}?finder=invoiceSearch;CrossReference=gid://shopify/OrderEdit/55"))
    assert found["count"] == 1
    paid = {"invoice": dm}
    assert _credit(fusion, paid, "-2.00").status_code == 200
    assert "AR-855075" in _fault(_credit(fusion, paid, "-10.01"))
    schedules = fusion.json(fusion.rest("GET", f"{ACTIVITIES}/{customer['CustomerAccountId']}/child/transactionPaymentSchedules"))
    assert [(s["TransactionClass"], s["InstallmentBalanceDue"]) for s in schedules["items"]] == [("DM", Decimal("10.00"))]
    # and its number is taken for the source like any transaction's
    again = fusion.rest("POST", INVOICES, json=fusion.invoice_body(
        customer, TransactionType="Shopify Debit Memo", TransactionNumber="SHOP-1001-D1"))
    assert again.status_code == 400


def test_a_pod_may_refuse_debit_memos_on_the_invoice_resource(make_fusion):
    fusion = make_fusion(invoice_post_accepts_debit_memo=False)
    resp = fusion.rest("POST", INVOICES, json=fusion.invoice_body(fusion.create_customer(),
                                                                   TransactionType="Shopify Debit Memo"))
    assert resp.status_code == 400 and resp.json()["o:errorCode"] == "AR-855003"
