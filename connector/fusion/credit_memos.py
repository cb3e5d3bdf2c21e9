"""Credit memos: created against their invoice by SOAP ``CreditMemoService``, read by REST.

REST ``receivablesCreditMemos`` only makes on-account memos (nothing in it names the invoice), so
a refund that must reduce its invoice's balance goes through ``createCreditMemo``. That operation
credits the invoice's line, tax and freight buckets at header level; it has no lines of its own.
The memo's refund GID travels in ``CustomerReference``, which REST cannot search, so after an
uncertain create the memo is looked up by its deterministic transaction number.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from connector.fusion import soap
from connector.fusion.payloads import money
from connector.fusion.rest import FSCM, finder, item, only, search
from connector.fusion.soap import CREDIT_MEMO as SERVICE
from connector.fusion.soap import Amount
from connector.fusion.transport import FusionTransport

PATH = f"{FSCM}/receivablesCreditMemos"
MAX_NUMBER_LENGTH = 20  # Fusion's TransactionNumber
AMOUNTS = ("LineAmount", "TaxAmount", "FreightAmount")
ZERO = Decimal("0")


@dataclass(frozen=True)
class InvoiceCredit:
    """A credit memo against one invoice. Amounts are what is credited, zero or more; Fusion
    books credits negative and the envelope turns them round, so no caller has to."""

    invoice_id: int | str               # the invoice's CustomerTransactionId
    transaction_number: str             # deterministic: see memo_number()
    currency: str
    line: Decimal = ZERO
    tax: Decimal = ZERO
    freight: Decimal = ZERO
    customer_reference: str | None = None   # e.g. the Shopify refund GID
    transaction_date: str | None = None     # YYYY-MM-DD; Fusion's default: today
    gl_date: str | None = None
    reason_code: str | None = None
    comments: str | None = None
    source_id: str | None = None        # BatchSourceSequenceId; omitted: the invoice's source
    type_id: str | None = None          # CustomerTransactionTypeSequenceId; omitted: its CM type

    def __post_init__(self):
        for name in ("line", "tax", "freight"):
            money(name, getattr(self, name))
        if not self.line + self.tax + self.freight:
            raise ValueError("a credit memo must credit something")


def memo_number(invoice_number: str, sequence: int | str) -> str:
    """The ``sequence``-th credit memo of an invoice: ``<invoice number>-C<sequence>``.

    Deterministic like the invoice number, so a retry finds the memo an uncertain try made.
    """
    number = f"{invoice_number}-C{sequence}"
    if len(number) > MAX_NUMBER_LENGTH:
        raise ValueError(f"credit memo number {number!r} is longer than Fusion's {MAX_NUMBER_LENGTH}")
    return number


class CreditMemos:
    def __init__(self, transport: FusionTransport):
        self._transport = transport

    def create(self, credit: InvoiceCredit) -> dict:
        """The new memo as Fusion echoes it: ``CustomerTransactionId``, ``TransactionNumber``
        and the credited amounts (negative Decimals)."""
        value = self._transport.soap(SERVICE, create_envelope(credit), "createCreditMemo", write=True)
        return soap.decimals(value, *AMOUNTS)

    def create_on_account(self, payload: dict) -> dict:
        """An on-account memo (REST): credit the customer holds, applied to no document."""
        return self._transport.write("POST", PATH, payload)

    def find(self, transaction_source: str, transaction_number: str) -> dict | None:
        by_number = finder("creditMemosFinder", BindTransactionSource=transaction_source,
                           BindTransactionNumber=transaction_number)
        return only(search(self._transport, PATH, by_number))

    def by_reference(self, cross_reference: str) -> list[dict]:
        """Memos whose CrossReference is the given GID (on-account memos made over REST carry it)."""
        return search(self._transport, PATH, finder("creditMemosFinder", BindCrossReference=cross_reference),
                      limit="25")

    def get(self, customer_transaction_id) -> dict:
        return self._transport.read(item(PATH, customer_transaction_id), {"onlyData": "true"})


def create_envelope(c: InvoiceCredit) -> str:
    def credited(value: Decimal) -> Amount | None:
        return Amount(-value, c.currency) if value else None

    # in the SDO's element order
    memo = soap.fields(
        SERVICE, BatchSourceSequenceId=c.source_id, Comments=c.comments,
        CustomerTransactionTypeSequenceId=c.type_id, CustomerReference=c.customer_reference,
        FreightAmount=credited(c.freight), GlDate=c.gl_date, LineAmount=credited(c.line),
        PreviousCustomerTransactionId=c.invoice_id, ReasonCode=c.reason_code,
        TransactionDate=c.transaction_date, CurrencyCode=c.currency,
        TransactionNumber=c.transaction_number, TaxAmount=credited(c.tax))
    return soap.request(SERVICE, "createCreditMemo", creditMemo=memo)
