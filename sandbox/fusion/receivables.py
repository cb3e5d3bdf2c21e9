"""Moving balances: applying receipts and credit memos to invoice installments.

Both the REST ``applyReceipt`` action and SOAP ``createCreditMemo`` end here, so the invoice's
``InvoiceBalanceAmount``, the installment's ``InstallmentBalanceDue``/``AmountPaid``/
``InstallmentAmountCredited`` and ``LastUpdateDate`` always move together.
"""
from __future__ import annotations

from decimal import Decimal

from .money import cents
from .rest_common import pod
from .rest_invoices import refresh_balance, touch


class OverApplication(ValueError):
    """The amount would take the installment below zero and the transaction type forbids it."""


def allows_overapplication(invoice: dict) -> bool:
    ttype = pod().seed.transaction_types.get(invoice["header"]["TransactionType"], {})
    return bool(ttype.get("allow_overapplication", False))


def apply_to_installment(invoice: dict, installment: dict, amount: Decimal, how: str) -> None:
    """Reduce the installment by ``amount``; ``how`` is ``"receipt"`` or ``"credit"``."""
    amount = cents(amount)
    if amount > installment["InstallmentBalanceDue"] and not allows_overapplication(invoice):
        raise OverApplication(
            f"The amount {amount} exceeds the balance due {installment['InstallmentBalanceDue']} "
            f"of transaction {invoice['header']['TransactionNumber']}, and its transaction type "
            "doesn't allow overapplication.")
    installment["InstallmentBalanceDue"] = cents(installment["InstallmentBalanceDue"] - amount)
    if how == "receipt":
        installment["AmountPaid"] = cents(installment["AmountPaid"] + amount)
    else:
        installment["InstallmentAmountCredited"] = cents(installment["InstallmentAmountCredited"] + amount)
    refresh_balance(invoice)
    touch(invoice)


def apply_to_invoice(invoice: dict, amount: Decimal, how: str) -> list[tuple[dict, Decimal]]:
    """Spread ``amount`` over the open installments in due order; returns what went where."""
    amount = cents(amount)
    if amount > invoice["header"]["InvoiceBalanceAmount"] and not allows_overapplication(invoice):
        raise OverApplication(
            f"The amount {amount} exceeds the balance {invoice['header']['InvoiceBalanceAmount']} "
            f"of transaction {invoice['header']['TransactionNumber']}, and its transaction type "
            "doesn't allow overapplication.")
    parts = []
    installments = sorted(invoice["installments"], key=lambda i: i["InstallmentSequenceNumber"])
    remaining = amount
    for index, inst in enumerate(installments):
        last = index == len(installments) - 1
        share = remaining if last else min(remaining, inst["InstallmentBalanceDue"])
        if share:
            parts.append((inst, share))
            remaining -= share
    for inst, share in parts:
        inst["InstallmentBalanceDue"] = cents(inst["InstallmentBalanceDue"] - share)
        key = "AmountPaid" if how == "receipt" else "InstallmentAmountCredited"
        inst[key] = cents(inst[key] + share)
    refresh_balance(invoice)
    touch(invoice)
    return parts
