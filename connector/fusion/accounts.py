"""AR customer accounts (SOAP ``CustomerAccountService``): REST has no resource that creates one
with a BILL_TO site, so accounts go through SOAP while their party goes through REST."""
from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from connector.fusion import soap
from connector.fusion.errors import FusionRejected
from connector.fusion.soap import CUSTOMER_ACCOUNT as SERVICE
from connector.fusion.transport import FusionTransport

# Fusion refuses an account row without it, with a bare "failed to validate a row"
CREATED_BY_MODULE = "HZ_WS"


@dataclass(frozen=True)
class NewCustomerAccount:
    party_id: str
    party_site_id: str
    account_name: str
    set_id: str
    source_system: str
    reference: str
    established: str  # YYYY-MM-DD


class CustomerAccounts:
    def __init__(self, transport: FusionTransport):
        self._transport = transport

    def create(self, account: NewCustomerAccount) -> dict:
        return self._transport.soap(SERVICE, create_envelope(account), "createCustomerAccount",
                                    write=True)

    def by_reference(self, source_system: str, reference: str) -> dict | None:
        """The account whose OrigSystemReference is ``reference``: the idempotency key."""
        envelope = soap.request(SERVICE, "getCustomerAccountByOriginalSystemReference",
                                bindOrigSystem=escape(source_system),
                                bindOrigSystemReference=escape(reference))
        try:
            account = self._transport.soap(SERVICE, envelope, "getCustomerAccountByOriginalSystemReference",
                                           write=False)
        except FusionRejected as exc:
            if soap.is_not_found(exc.code, str(exc)):
                return None
            raise
        # "not found" is an empty result on some releases and a fault on others
        return account if account.get("CustomerAccountId") else None

    def get(self, account_id: str) -> dict:
        """The account with its sites and site uses (``getCustomerAccount``: no ``Value`` wrapper)."""
        envelope = soap.request(SERVICE, "getCustomerAccount", customerAccountId=escape(account_id))
        return self._transport.soap(SERVICE, envelope, "getCustomerAccount", write=False)

    def add_bill_to_site(self, account_id: str, party_site_id: str, set_id: str) -> dict:
        """A new BILL_TO site on an existing account (``mergeCustomerAccount`` creates the children
        it is given without ids); not primary, so invoices name it with ``BillToSite``."""
        site_use = soap.fields(SERVICE, SiteUseCode="BILL_TO", PrimaryFlag=False,
                               CreatedByModule=CREATED_BY_MODULE)
        site = (soap.fields(SERVICE, PartySiteId=party_site_id, SetId=set_id, CreatedByModule=CREATED_BY_MODULE)
                + soap.nested(SERVICE, "CustomerAccountSiteUse", site_use))
        account = soap.fields(SERVICE, CustomerAccountId=account_id) + soap.nested(SERVICE, "CustomerAccountSite", site)
        return self._merge(account)

    def rename(self, account_id: str, name: str) -> dict:
        return self._merge(soap.fields(SERVICE, CustomerAccountId=account_id, AccountName=name[:240]))

    def _merge(self, account_xml: str) -> dict:
        envelope = soap.request(SERVICE, "mergeCustomerAccount", customerAccount=account_xml)
        return self._transport.soap(SERVICE, envelope, "mergeCustomerAccount", write=True)

    def by_party(self, party_id: str) -> list[dict]:
        envelope = soap.request(SERVICE, "findCustomerAccount",
                                findCriteria=soap.find_criteria("PartyId", party_id), findControl="")
        body = self._transport.soap(SERVICE, envelope, "findCustomerAccount", write=False)
        if not body:
            return []
        return body["Value"] if "Value" in body else [body]


def create_envelope(a: NewCustomerAccount) -> str:
    site_use = soap.fields(SERVICE, SiteUseCode="BILL_TO", PrimaryFlag=True,
                           CreatedByModule=CREATED_BY_MODULE)
    site = (soap.fields(SERVICE, PartySiteId=a.party_site_id, SetId=a.set_id,
                        CreatedByModule=CREATED_BY_MODULE)
            + soap.nested(SERVICE, "CustomerAccountSiteUse", site_use))
    account = (soap.fields(SERVICE, PartyId=a.party_id, AccountName=a.account_name[:240], CustomerType="R",
                           AccountEstablishedDate=a.established, CreatedByModule=CREATED_BY_MODULE,
                           OrigSystem=a.source_system, OrigSystemReference=a.reference)
               + soap.nested(SERVICE, "CustomerAccountSite", site))
    return soap.request(SERVICE, "createCustomerAccount", customerAccount=account)
