"""One Fusion pod as the sync services see it: a transport and one object per resource family,
all sharing the transport's session, token and rate bucket."""
from __future__ import annotations

from connector.fusion.accounts import CustomerAccounts
from connector.fusion.auth import FusionConnection
from connector.fusion.credit_memos import CreditMemos
from connector.fusion.invoices import PATH as INVOICES
from connector.fusion.invoices import Invoices
from connector.fusion.organizations import Organizations
from connector.fusion.parties import Parties
from connector.fusion.profiles import CustomerProfiles
from connector.fusion.receipts import Receipts
from connector.fusion.transport import FusionTransport
from connector.ratelimit import TokenBucket


class FusionClient:
    def __init__(self, connection: FusionConnection, *, bucket: TokenBucket | None = None,
                 timeout=(5.0, 30.0), framework_version: int = 4, max_tries: int = 4,
                 allow_http: bool = False):
        self.connection = connection
        self.transport = FusionTransport(connection, bucket=bucket, timeout=timeout,
                                         framework_version=framework_version, max_tries=max_tries,
                                         allow_http=allow_http)
        self.invoices = Invoices(self.transport)
        self.parties = Parties(self.transport)
        self.organizations = Organizations(self.transport)
        self.accounts = CustomerAccounts(self.transport)
        self.profiles = CustomerProfiles(self.transport)
        self.credit_memos = CreditMemos(self.transport)
        self.receipts = Receipts(self.transport)

    def ping(self) -> dict:
        """The cheapest authenticated call: proves the URL, the credentials and a Receivables role."""
        return self.transport.read(INVOICES, {"limit": "1", "onlyData": "true",
                                              "fields": "CustomerTransactionId"})
