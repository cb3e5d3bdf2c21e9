"""Customer profiles (SOAP ``ReceivablesCustomerProfileService``): the profile class an account
gets (credit, dunning and statement policy). The account itself comes from
``CustomerAccountService``; its profile is a second call, read first so a repeat adds nothing."""
from __future__ import annotations

from connector.fusion import soap
from connector.fusion.errors import FusionRejected
from connector.fusion.transport import FusionTransport

_NS = "http://xmlns.oracle.com/apps/financials/receivables/customers/customerProfileService/"
SERVICE = soap.SoapService("/fscmService/ReceivablesCustomerProfileService", _NS, _NS + "types/", "prof")


class CustomerProfiles:
    def __init__(self, transport: FusionTransport):
        self._transport = transport

    def active(self, account_id: str) -> dict | None:
        """The account's active profile, or None when it has none."""
        envelope = soap.request(SERVICE, "getActiveCustomerProfile",
                                customerProfile=soap.fields(SERVICE, CustomerAccountId=account_id))
        try:
            found = self._transport.soap(SERVICE, envelope, "getActiveCustomerProfile", write=False)
        except FusionRejected as exc:
            if soap.is_not_found(exc.code, str(exc)):
                return None
            raise
        return found or None

    def create(self, account_id: str, party_id: str, profile_class: str) -> dict:
        profile = soap.fields(SERVICE, CustomerAccountId=account_id, PartyId=party_id,
                              ProfileClassName=profile_class)
        envelope = soap.request(SERVICE, "createCustomerProfile", customerProfile=profile)
        return self._transport.soap(SERVICE, envelope, "createCustomerProfile", write=True)
