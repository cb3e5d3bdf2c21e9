"""Fusion polling: what a person changes in Fusion reaches the bindings, the audit trail, ``status``
and the order's timeline after one poll, an idle poll costs one request per resource, and the
overlap window reads again without recording twice."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import requests
from sqlalchemy import select

from connector.config import load_settings
from connector.db import session_scope
from connector.models import PollWatermark
from tests.factories import new_order
from tests.support import Fusion, eventually, fusion_get

RESOURCES = ("invoices", "credit_memos", "receipts", "customer_accounts")
RECEIPTS = "/fscmRestApi/resources/11.13.18.05/standardReceipts"


def polled_at(resource: str):
    with session_scope(load_settings().database_url) as session:
        return session.scalar(select(PollWatermark.polled_at).where(PollWatermark.pod == "default",
                                                                    PollWatermark.resource == resource))


def poll(*resources: str) -> dict[str, PollWatermark]:
    """One poll of each resource by the fusion_poll worker, as beat sends it; the watermarks after it."""
    from workers.app import app
    started = datetime.now(timezone.utc)
    for resource in resources:
        app.send_task(f"mlc.fusion.poll_{resource}", queue="fusion_poll")
    assert eventually(lambda: all((p := polled_at(r)) and p >= started for r in resources), timeout=30)
    with session_scope(load_settings().database_url) as session:
        return {m.resource: m for m in session.scalars(select(PollWatermark).where(PollWatermark.pod == "default"))}


def ml_connector(*args: str) -> str:
    """The operator's command, as a process of its own (wide, so rich does not fold the tables)."""
    done = subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "300"})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def stats(fusion: Fusion) -> dict:
    return requests.get(f"{fusion.url}/_sandbox/stats", timeout=10).json()


def pay_in_fusion(fusion: Fusion, invoice: dict, amount: Decimal | None = None) -> dict:
    """A person enters a receipt in Fusion and applies it to the invoice (its whole balance unless
    ``amount`` says); the receipt as Fusion created it."""
    headers = {"Authorization": f"Bearer {fusion.token()}", "REST-Framework-Version": "4"}
    amount = str(invoice["InvoiceBalanceAmount"] if amount is None else amount)
    response = requests.post(f"{fusion.url}{RECEIPTS}", headers=headers, timeout=10, json={
        "ReceiptNumber": f"BANK-{uuid.uuid4().hex[:8]}", "BusinessUnit": "US1 Business Unit",
        "ReceiptMethod": "Manual", "Amount": amount, "Currency": invoice["InvoiceCurrencyCode"],
        "CustomerAccountNumber": invoice["BillToCustomerNumber"]})
    assert response.status_code == 201, response.text
    receipt = response.json()
    detail = fusion_get(fusion, f"{Fusion.INVOICES}/{invoice['CustomerTransactionId']}",
                        expand="receivablesInvoiceInstallments", onlyData="true")
    [installment] = detail["receivablesInvoiceInstallments"]["items"]
    response = requests.post(f"{fusion.url}{RECEIPTS}/{receipt['StandardReceiptId']}/action/applyReceipt",
                             headers={**headers, "Content-Type": "application/vnd.oracle.adf.action+json"},
                             json={"appliedPaymentScheduleId": installment["InstallmentId"],
                                   "amountApplied": amount}, timeout=10)
    assert response.status_code == 200, response.text
    return receipt


def test_given_a_receipt_applied_by_a_person_in_fusion_then_one_poll_shows_the_invoice_paid(shop, fusion):
    order = shop.place_order(new_order())
    shop.wait_invoiced(order)
    assert shop.quiet()
    poll("invoices")  # what the connector booked, read once
    binding = shop.binding("order", order["id"])
    total = Decimal(binding.fusion_balance)
    assert binding.fusion_status == "Complete" and total > 0

    # when: a person pays the invoice in Fusion itself
    [invoice] = shop.fusion_invoices(order)
    pay_in_fusion(fusion, invoice)
    poll("invoices", "receipts")

    # then: the binding holds Fusion's balance, and one audit row says what changed
    binding = shop.binding("order", order["id"])
    assert (binding.fusion_status, Decimal(binding.fusion_balance)) == ("Complete", Decimal(0))
    [change] = shop.audit("invoice.changed_in_fusion")
    assert change.subject_id == str(order["id"]) and change.detail["order_id"] == str(order["id"])
    assert Decimal(change.detail["before"]["balance"]) == total
    assert Decimal(change.detail["after"]["balance"]) == 0
    # and status and the order's timeline show it
    status = ml_connector("status")
    assert "latest changes made in Fusion" in status and invoice["TransactionNumber"] in status
    timeline = ml_connector("timeline", str(order["id"]), "--shop", shop.domain)
    assert "invoice.changed_in_fusion" in timeline and "webhook orders/create" in timeline
    assert f"{invoice['TransactionNumber']}: Complete {total} → Complete 0" in timeline

    # when: the next poll reads the same change again in its overlap window
    marks = poll("invoices")
    # then: it read it, and recorded nothing twice
    assert marks["invoices"].read >= 1 and marks["invoices"].changed == 0
    assert len(shop.audit("invoice.changed_in_fusion")) == 1


def test_given_nothing_changed_then_a_poll_costs_one_request_per_resource(shop, fusion):
    order = shop.place_order(new_order())
    shop.wait_invoiced(order)
    assert shop.quiet()
    poll(*RESOURCES)  # what is new is read (and the worker has its token)
    poll(*RESOURCES)

    page = load_settings().fusion_poll_page_size
    paths = {"invoices": "GET receivablesInvoices", "credit_memos": "GET receivablesCreditMemos",
             "receipts": "GET standardReceipts", "customer_accounts": "POST CustomerAccountService.findCustomerAccount"}

    # when: nothing changes, and the resources are polled again (measured up to three times: the pod
    # is the session's, and a request an earlier test's late work makes lands in the same counts)
    for _ in range(3):
        before = stats(fusion)
        marks = poll(*RESOURCES)
        after = stats(fusion)
        spent = {key: after.get(key, 0) - before.get(key, 0) for key in after if after.get(key, 0) != before.get(key, 0)}
        if spent == {paths[r]: marks[r].requests for r in RESOURCES}:
            break

    # then: the requests Fusion saw are the poll's, and each resource costs one request per page of
    # its overlap window: one, unless a page's worth of documents changed in the last minutes (an
    # earlier test of this process may have invoiced a hundred orders just before this one)
    assert spent == {paths[r]: marks[r].requests for r in RESOURCES}
    for resource in RESOURCES:
        assert marks[resource].requests <= marks[resource].read // page + 1, (resource, marks[resource].read)
    assert all(marks[r].changed == 0 and not marks[r].last_error for r in RESOURCES)
