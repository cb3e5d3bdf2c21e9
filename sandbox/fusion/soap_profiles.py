"""SOAP ``/fscmService/ReceivablesCustomerProfileService``: an account's customer profile, which
names its profile class (credit, dunning and statement policy for the account).

What the reference holds on it is **[M]** (one public code base with real-pod fixtures): the
namespaces, the operations ``createCustomerProfile`` and ``getActiveCustomerProfile`` (parameter
``customerProfile`` keyed by ``CustomerAccountId`` or ``AccountNumber``), the fields
``CustomerAccountId``, ``AccountNumber``, ``PartyId``, ``ProfileClassName``, ``CreditLimit``,
``CreditCurrencyCode``, ``CreditChecking``, ``CreditHold``; a create without ``PartyId`` faults with
JBO-27014, and ``getActiveCustomerProfile`` for an account without one with
``FND_CMN_RCRD_MSNG``. The answer's shape (a ``Value`` inside ``result``, as the
CustomerAccountService creates answer) and the fault for a profile class the pod does not have
(``HZ_INVALID_PROFILE_CLASS`` below) are the sandbox's guess **[L]**.
"""
from __future__ import annotations

from .errors import ServiceFault, record_missing, row_invalid
from .rest_common import caller, pod
from .soap import SERVICE_FAMILIES, operation
from .soap_xml import parameter, result_response, sdo_to_dict, sdo_xml

CP_NS = "http://xmlns.oracle.com/apps/financials/receivables/customers/customerProfileService/"
CP_TYPES = CP_NS + "types/"
SERVICE = "ReceivablesCustomerProfileService"
SERVICE_FAMILIES[SERVICE] = "fscmService"
PROFILE_ATTRS = ["CustomerAccountProfileId", "CustomerAccountId", "AccountNumber", "PartyId", "SiteNumber",
                 "ProfileClassName", "CreditLimit", "CreditCurrencyCode", "CreditChecking", "CreditHold",
                 "EffectiveStartDate", "EffectiveEndDate", "CreatedBy", "CreationDate"]


def _account(fields: dict) -> dict | None:
    store = pod().store
    if fields.get("CustomerAccountId"):
        try:
            return store.accounts.get(int(fields["CustomerAccountId"]))
        except ValueError:
            return None
    if fields.get("AccountNumber"):
        return store.account_by_number(str(fields["AccountNumber"]))
    return None


def _respond(op: str, profile: dict):
    values = {a: profile.get(a) for a in PROFILE_ATTRS}
    return result_response(CP_TYPES, CP_NS, op, "CustomerProfileResult",
                           f"<ns1:Value>{sdo_xml('ns1', values)}</ns1:Value>")


@operation(SERVICE, CP_TYPES, "createCustomerProfile")
def create_customer_profile(op_el):
    fields = sdo_to_dict(parameter(op_el, CP_TYPES, "customerProfile"), CP_NS, set())
    for name in ("CustomerAccountId", "PartyId"):
        if not fields.get(name):
            raise row_invalid({"message": f"JBO-27014: Attribute {name} in CustomerProfileEO is required.",
                               "attributeName": name, "objectName": "CustomerProfileEO"})
    account = _account(fields)
    if account is None:
        raise record_missing(f"The record for Customer Account ID {fields['CustomerAccountId']} doesn't exist.")
    if str(account["PartyId"]) != str(fields["PartyId"]):
        raise row_invalid({"message": f"The party {fields['PartyId']} doesn't own the customer account "
                                      f"{account['AccountNumber']}.",
                           "attributeName": "PartyId", "objectName": "CustomerProfileEO"})
    store, seed = pod().store, pod().seed
    name = fields.get("ProfileClassName") or "DEFAULT"
    if name not in seed.profile_classes:
        raise ServiceFault("AR:::HZ_INVALID_PROFILE_CLASS",
                           f"The value {name} of ProfileClassName isn't a valid customer profile class.",
                           [{"message": f"The profile class {name} doesn't exist.",
                             "attributeName": "ProfileClassName", "objectName": "CustomerProfileEO"}])
    if account["CustomerAccountId"] in store.profiles:
        raise row_invalid({"message": f"The customer account {account['AccountNumber']} already has an "
                                      "active customer profile.",
                           "attributeName": "CustomerAccountId", "objectName": "CustomerProfileEO"})
    now = store.stamp()
    profile = {"CustomerAccountProfileId": store.new_id(), "CustomerAccountId": account["CustomerAccountId"],
               "AccountNumber": account["AccountNumber"], "PartyId": account["PartyId"], "SiteNumber": None,
               "ProfileClassName": name, "CreditLimit": fields.get("CreditLimit"),
               "CreditCurrencyCode": fields.get("CreditCurrencyCode"),
               "CreditChecking": fields.get("CreditChecking") or "N", "CreditHold": fields.get("CreditHold") or "N",
               "EffectiveStartDate": now.date().isoformat(), "EffectiveEndDate": None,
               "CreatedBy": caller(), "CreationDate": now}
    store.profiles[account["CustomerAccountId"]] = profile
    return _respond("createCustomerProfile", profile)


@operation(SERVICE, CP_TYPES, "getActiveCustomerProfile")
def get_active_customer_profile(op_el):
    fields = sdo_to_dict(parameter(op_el, CP_TYPES, "customerProfile"), CP_NS, set())
    account = _account(fields)
    profile = pod().store.profiles.get(account["CustomerAccountId"]) if account else None
    if profile is None:
        raise record_missing("The record for the active customer profile doesn't exist.")
    return _respond("getActiveCustomerProfile", profile)
