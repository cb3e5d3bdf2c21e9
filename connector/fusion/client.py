"""One Fusion pod as the sync services see it: a transport and one object per resource family,
all sharing the transport's session, token and rate bucket."""
from __future__ import annotations

from connector.fusion.accounts import CustomerAccounts, NewCustomerAccount
from connector.fusion.auth import FusionConnection
from connector.fusion.credit_memos import CreditMemos
from connector.fusion.invoices import PATH as INVOICES, Invoices
from connector.fusion.parties import Parties
from connector.fusion.receipts import Receipts
from connector.fusion.transport import FusionTransport
from connector.ratelimit import TokenBucket


class FusionClient:
    def __init__(self, connection: FusionConnection, *, bucket: TokenBucket | None = None,
                 timeout=(5.0, 30.0), framework_version: int = 4, max_tries: int = 4):
        self.connection = connection
        self.transport = FusionTransport(connection, bucket=bucket, timeout=timeout,
                                         framework_version=framework_version, max_tries=max_tries)
        self.invoices = Invoices(self.transport)
        self.parties = Parties(self.transport)
        self.accounts = CustomerAccounts(self.transport)
        self.credit_memos = CreditMemos(self.transport)
        self.receipts = Receipts(self.transport)

    def ping(self) -> dict:
        """The cheapest authenticated call: proves the URL, the credentials and a Receivables role."""
        return self.transport.read(INVOICES, {"limit": "1", "onlyData": "true",
                                              "fields": "CustomerTransactionId"})

    # old call sites; removed once connector/services moves to the resource attributes
    def create_invoice(self, payload: dict) -> dict:
        return self.invoices.create(payload)

    def find_invoice(self, transaction_source: str, transaction_number: str) -> dict | None:
        return self.invoices.find(transaction_source, transaction_number)

    def find_invoices_by_reference(self, cross_reference: str) -> list[dict]:
        return self.invoices.by_reference(cross_reference)

    def find_persons(self, q: str) -> list[dict]:
        return self.parties.find_persons(q)

    def create_person(self, payload: dict) -> dict:
        return self.parties.create_person(payload)

    def person_addresses(self, party_number: str) -> list[dict]:
        return self.parties.person_addresses(party_number)

    def create_customer_account(self, account: NewCustomerAccount) -> dict:
        return self.accounts.create(account)

    def find_customer_account_by_reference(self, source_system: str, reference: str) -> dict | None:
        return self.accounts.by_reference(source_system, reference)

    def find_customer_accounts_by_party(self, party_id: str) -> list[dict]:
        return self.accounts.by_party(party_id)
