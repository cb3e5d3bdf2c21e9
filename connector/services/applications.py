"""Moving a receipt's money onto and off an order's documents.

Fusion unapplies whole applications only and will not let a credit take a paid document below
zero, so refunds and edits that lower what is owed first take the receipts off, then credit,
then put back what the customer still owes. Every move reads Fusion first: after a lost answer the
next attempt sees what landed and does only the rest.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from connector.fusion.client import FusionClient
from connector.fusion.receipts import Application, SoapApplication
from connector.models import Binding, BindingKind, BindingState
from connector.services.context import Services

# Read for every receipt: built once (building and keying a statement cost more CPU than running it).
_DEBITS = select(Binding).where(Binding.shop_id == bindparam("shop_id"), Binding.kind == BindingKind.adjustment,
                                Binding.shopify_id.like(bindparam("prefix")), Binding.state == BindingState.synced)
_REFUNDS = select(Binding).where(Binding.shop_id == bindparam("shop_id"), Binding.kind == BindingKind.refund,
                                 Binding.state == BindingState.synced).order_by(Binding.id)


def order_documents(session: Session, invoice: Binding) -> list[str]:
    """The Fusion ids of the order's documents that receipts pay: the invoice, then its edits'
    debit memos in the order they were made, then what refunds kept back (restocking fees)."""
    debits = session.scalars(_DEBITS, {"shop_id": invoice.shop_id, "prefix": f"{invoice.shopify_id}:%"}).all()
    refunds = session.scalars(_REFUNDS, {"shop_id": invoice.shop_id}).all()
    session.commit()
    ordered = sorted((b for b in debits if b.fusion_refs.get("document") == "debit_memo"),
                     key=lambda b: int(b.shopify_id.rsplit(":", 1)[1]))
    fees = [r.fusion_refs["fee_memo_id"] for r in refunds
            if r.fusion_refs.get("invoice_id") == invoice.fusion_id and r.fusion_refs.get("fee_memo_id")]
    return [invoice.fusion_id] + [b.fusion_id for b in ordered] + fees


def order_receipts(session: Session, invoice: Binding) -> list[Binding]:
    """The synced receipts of the order's payments, oldest first."""
    receipts = session.scalars(select(Binding).where(
        Binding.shop_id == invoice.shop_id, Binding.kind == BindingKind.payment,
        Binding.state == BindingState.synced).order_by(Binding.id)).all()
    session.commit()
    return [r for r in receipts if r.fusion_refs.get("invoice_id") == invoice.fusion_id]


@dataclass
class Mover:
    fusion: FusionClient
    apply_by_soap: bool              # MLC_FUSION_RECEIPT_APPLY=soap
    unapply_by_soap: bool            # MLC_FUSION_RECEIPT_UNAPPLY=soap
    business_unit: str
    account_id: str                  # the customer account whose activities list applications
    reference: str                   # the Shopify GID the moves are made for (CustomerReference)

    @classmethod
    def of(cls, services: Services, fusion: FusionClient, business_unit: str, invoice: Binding,
           reference: str) -> "Mover":
        """The mover for an order's receipts, applying and unapplying the way the pod allows."""
        settings = services.settings
        return cls(fusion, settings.fusion_receipt_apply == "soap", settings.fusion_receipt_unapply == "soap",
                   business_unit, invoice.fusion_refs.get("customer_account_id", ""), reference)

    def take_off(self, receipt_id: str, receipt_number: str, document_id: str) -> list[dict]:
        """Unapply the receipt from the document; returns the applications that were undone."""
        applied = [a for a in self.fusion.receipts.applications(self.account_id, receipt_id, document_id)
                   if not a.get("ActivityName") and Decimal(str(a["ApplicationAmount"])) > 0]
        for application in applied:
            if self.unapply_by_soap:
                self.fusion.receipts.unapply_by_soap(self.business_unit, receipt_number,
                                                     application["ApplicationId"], date.today().isoformat())
            else:
                self.fusion.receipts.unapply(receipt_id, application["ApplicationId"],
                                             application["ReferenceInstallmentId"])
        return applied

    def put_back(self, receipt_id: str, documents: list[str], keep: Decimal = Decimal(0),
                 unapplied: Decimal | None = None) -> Decimal:
        """Apply what the receipt holds (``unapplied`` when the caller knows it for certain, else
        read from Fusion), less ``keep``, to the documents' open installments in turn; returns
        what stays unapplied. What no document can take stays on the receipt, visible, rather
        than forced anywhere."""
        if unapplied is None:
            unapplied = Decimal(str(self.fusion.receipts.get(receipt_id)["UnappliedAmount"]))
        for document_id in documents:
            if unapplied - keep <= 0:
                break
            for installment in self._open_installments(document_id):
                amount = min(unapplied - keep, Decimal(str(installment["InstallmentBalanceDue"])))
                if amount <= 0:
                    break
                self._apply(receipt_id, document_id, installment["InstallmentId"], amount)
                unapplied -= amount
        return unapplied

    def _open_installments(self, document_id: str) -> list[dict]:
        installments = self.fusion.invoices.get(document_id).get("receivablesInvoiceInstallments") or []
        return sorted((i for i in installments if Decimal(str(i["InstallmentBalanceDue"])) > 0),
                      key=lambda i: i.get("InstallmentSequenceNumber") or 0)

    def _apply(self, receipt_id: str, document_id: str, installment_id, amount: Decimal) -> None:
        if self.apply_by_soap:
            self.fusion.receipts.apply_by_soap(SoapApplication(
                receipt_id=receipt_id, transaction_id=document_id, amount=amount,
                application_date=date.today().isoformat(), installment_id=installment_id,
                customer_reference=self.reference))
        else:
            self.fusion.receipts.apply(receipt_id, Application(installment_id=installment_id, amount=amount))
