"""What changed in Fusion since a ``LastUpdateDate``: the reads the poller makes (Fusion has no webhooks).

Each resource is read the way its release allows (rest.md §1.6, §2.3, §4; soap-receipts-customers.md §5):

* ``receivablesInvoices``: ``LastUpdateDate`` is q-queryable, so ``q=LastUpdateDate > '…'`` ordered
  oldest first, paged with ``limit``/``offset`` until ``hasMore`` is false. A page after the first
  starts at the last stamp read (``>=``) and skips, by ``offset``, the rows of that stamp already
  read: a document updated while the poll pages moves to the end instead of shifting an unread
  row into pages already read.
* ``receivablesCreditMemos`` and ``standardReceipts``: ``LastUpdateDate`` is not in their 26C q
  lists, so they are read newest first (``orderBy=LastUpdateDate:desc``), paged until a row is no
  newer than the bound. Whether a pod sorts on an attribute it does not filter on is not
  confirmed (the sandbox's ``order_by_any_attribute``).
* customer accounts: no REST resource lists AR accounts with their status; SOAP
  ``CustomerAccountService.findCustomerAccount`` with a ``LastUpdateDate >`` filter item, paged by
  ``fetchStart``/``fetchSize`` until a page comes back short.

Nothing changed: one request per resource.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape

from connector.fusion import soap
from connector.fusion.rest import FSCM
from connector.fusion.transport import FusionTransport


@dataclass(frozen=True)
class Change:
    """One document as Fusion reports it now."""

    id: str                 # CustomerTransactionId, StandardReceiptId, CustomerAccountId
    number: str
    status: str
    balance: str            # open balance (invoices, memos), unapplied amount (receipts); '' for accounts
    stamp: str              # LastUpdateDate, as Fusion prints it
    by: str = ""            # LastUpdatedBy
    #: The resource's ``details`` fields as read (a receipt's account, amount and currency).
    details: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Resource:
    name: str               # the watermark's key, and the job's
    path: str
    key: str
    number: str
    status: str
    balance: str
    queryable: bool         # LastUpdateDate may be filtered on with q
    details: tuple[str, ...] = ()  # more fields read with each row, at no extra request


INVOICES = Resource("invoices", f"{FSCM}/receivablesInvoices", "CustomerTransactionId", "TransactionNumber",
                    "InvoiceStatus", "InvoiceBalanceAmount", queryable=True)
CREDIT_MEMOS = Resource("credit_memos", f"{FSCM}/receivablesCreditMemos", "CustomerTransactionId",
                        "TransactionNumber", "CreditMemoStatus", "TransactionBalanceDue", queryable=False)
# what tells a receipt a person entered for a Shopify order (connector.services.fusion_receipts)
RECEIPTS = Resource("receipts", f"{FSCM}/standardReceipts", "StandardReceiptId", "ReceiptNumber", "Status",
                    "UnappliedAmount", queryable=False, details=("CustomerAccountNumber", "Amount", "Currency"))
ACCOUNTS = Resource("customer_accounts", soap.CUSTOMER_ACCOUNT.path, "CustomerAccountId", "AccountNumber",
                    "Status", "", queryable=True)
RESOURCES = {r.name: r for r in (INVOICES, CREDIT_MEMOS, RECEIPTS, ACCOUNTS)}


def instant(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def stamp_of(moment: datetime) -> str:
    """A moment as Fusion prints audit stamps: milliseconds and offset."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"


def earlier(stamp: str, seconds: float) -> str:
    return stamp_of(instant(stamp) - timedelta(seconds=seconds))


class ChangeReader:
    """Reads one resource's changes; ``requests`` counts the round trips of the last read."""

    def __init__(self, transport: FusionTransport, page_size: int = 100):
        self._transport = transport
        self._page_size = page_size
        self.requests = 0

    def since(self, resource: Resource, bound: str) -> list[Change]:
        """Every document of ``resource`` whose LastUpdateDate is after ``bound``, oldest first."""
        self.requests = 0
        if resource is ACCOUNTS:
            changes = self._accounts(bound)
        elif resource.queryable:
            changes = self._ascending(resource, bound)
        else:
            changes = self._descending(resource, bound)
        return sorted(changes, key=lambda c: (instant(c.stamp), c.id))

    def _page(self, resource: Resource, params: dict) -> dict:
        self.requests += 1
        fields = ",".join(f for f in (resource.key, resource.number, resource.status, resource.balance,
                                      "LastUpdateDate", "LastUpdatedBy", *resource.details) if f)
        return self._transport.read(resource.path, {"onlyData": "true", "fields": fields,
                                                     "limit": str(self._page_size), **params})

    def _ascending(self, resource: Resource, bound: str) -> list[Change]:
        changes: list[Change] = []
        condition, skip = f"LastUpdateDate > '{bound}'", 0
        while True:
            body = self._page(resource, {"q": condition, "offset": str(skip),
                                         "orderBy": f"LastUpdateDate:asc,{resource.key}:asc"})
            page = [_change(resource, row) for row in body.get("items", [])]
            changes += page
            if not body.get("hasMore") or not page:
                return _unique(changes)
            last = page[-1].stamp
            condition = f"LastUpdateDate >= '{last}'"
            skip = sum(1 for c in changes if c.stamp == last)

    def _descending(self, resource: Resource, bound: str) -> list[Change]:
        changes: list[Change] = []
        offset, floor = 0, instant(bound)
        while True:
            body = self._page(resource, {"offset": str(offset),
                                         "orderBy": f"LastUpdateDate:desc,{resource.key}:desc"})
            page = [_change(resource, row) for row in body.get("items", [])]
            newer = [c for c in page if instant(c.stamp) > floor]
            changes += newer
            if len(newer) < len(page) or not body.get("hasMore") or not page:
                return _unique(changes)
            offset += len(page)

    def _accounts(self, bound: str) -> list[Change]:
        changes: list[Change] = []
        start = 0
        attributes = "".join(f"<adf:findAttribute>{a}</adf:findAttribute>" for a in
                             ("CustomerAccountId", "AccountNumber", "Status", "LastUpdateDate", "LastUpdatedBy"))
        while True:
            criteria = (f"<adf:fetchStart>{start}</adf:fetchStart><adf:fetchSize>{self._page_size}</adf:fetchSize>"
                        "<adf:filter><adf:group><adf:item><adf:attribute>LastUpdateDate</adf:attribute>"
                        f"<adf:operator>&gt;</adf:operator><adf:value>{escape(bound)}</adf:value>"
                        f"</adf:item></adf:group></adf:filter>{attributes}")
            envelope = soap.request(soap.CUSTOMER_ACCOUNT, "findCustomerAccount", findCriteria=criteria,
                                    findControl="")
            self.requests += 1
            body = self._transport.soap(soap.CUSTOMER_ACCOUNT, envelope, "findCustomerAccount", write=False)
            rows = body["Value"] if "Value" in body else [body] if body.get("CustomerAccountId") else []
            changes += [_change(ACCOUNTS, row) for row in rows]
            if len(rows) < self._page_size:
                return _unique(changes)
            start += len(rows)


def _change(resource: Resource, row: dict) -> Change:
    balance = row.get(resource.balance) if resource.balance else None
    return Change(id=str(row.get(resource.key, "")), number=str(row.get(resource.number) or ""),
                  status=str(row.get(resource.status) or ""), balance="" if balance is None else str(balance),
                  stamp=str(row.get("LastUpdateDate") or ""), by=str(row.get("LastUpdatedBy") or ""),
                  details={name: row.get(name) for name in resource.details})


def _unique(changes: list[Change]) -> list[Change]:
    """Each (document, LastUpdateDate) once: pages that overlap read some rows twice."""
    return list({(c.id, c.stamp): c for c in changes}.values())
