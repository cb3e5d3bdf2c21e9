"""TCA parties (with party sites) and AR customer accounts (with sites and site uses).

Shared by the REST party resources, the SOAP ``CustomerAccountService`` and invoice validation:
an invoice's ``BillToCustomerNumber`` is an *account* number, valid only when that account has
an active BILL_TO site use in a site whose SetId is the business unit's reference set.
"""
from __future__ import annotations

from .errors import ServiceFault, bad_request, record_missing, row_invalid
from .rest_common import caller, pod
from .store import today

ACCOUNT_ATTRS = ["CustomerAccountId", "PartyId", "AccountNumber", "AccountName", "Status",
                 "CustomerType", "CustomerClassCode", "AccountEstablishedDate",
                 "AccountTerminationDate", "HoldBillFlag", "Comments", "SourceCode",
                 "CreatedByModule", "OrigSystem", "OrigSystemReference", "CreatedBy",
                 "CreationDate", "LastUpdatedBy", "LastUpdateDate", "LastUpdateLogin"]
SITE_ATTRS = ["CustomerAccountSiteId", "CustomerAccountId", "PartySiteId", "Status",
              "BillToIndicator", "ShipToIndicator", "MarketIndicator", "SetId", "SetCode",
              "StartDate", "EndDate", "CreatedByModule", "OrigSystem", "OrigSystemReference",
              "CreatedBy", "CreationDate", "LastUpdatedBy", "LastUpdateDate"]
SITE_USE_ATTRS = ["SiteUseId", "CustomerAccountSiteId", "SiteUseCode", "PrimaryFlag", "Status",
                  "Location", "BillToSiteUseId", "SetId", "StartDate", "EndDate",
                  "CreatedByModule", "OrigSystem", "OrigSystemReference", "CreatedBy",
                  "CreationDate", "LastUpdatedBy", "LastUpdateDate"]
SITE_USE_CODES = {"BILL_TO", "SHIP_TO", "SOLD_TO", "STMTS", "DUN", "LATE_CHARGE", "MARKET"}


def party_name(account: dict) -> str:
    party = pod().store.parties.get(account["PartyId"])
    return party["PartyName"] if party else ""


def _truthy(value) -> bool:
    return str(value).strip().lower() in ("true", "y", "yes", "1")


# --- invoice bill-to resolution ---------------------------------------------------------------
def resolve_bill_to(body: dict, bu: dict, settings) -> tuple[dict, dict]:
    """The account and account site an invoice bills; 400 when Fusion would refuse it."""
    store = pod().store
    number, name = body.get("BillToCustomerNumber"), body.get("BillToCustomerName")
    if number:
        account = store.account_by_number(str(number))
        if account is None:
            raise bad_request(f"The value of the attribute BillToCustomerNumber isn't valid: "
                              f"customer account {number} doesn't exist.", "AR-855020",
                              "/BillToCustomerNumber")
    elif name:
        matches = [a for a in store.accounts.values()
                   if (a["AccountName"] or party_name(a)) == name]
        if len(matches) != 1:
            raise bad_request(f"The bill-to customer name {name!r} doesn't identify exactly one "
                              "customer account; provide BillToCustomerNumber.", "AR-855021",
                              "/BillToCustomerName")
        account = matches[0]
    else:
        raise bad_request("The attribute BillToCustomerNumber is required.", "JBO-27014",
                          "/BillToCustomerNumber")
    if account["Status"] != "A":
        raise bad_request(f"The customer account {account['AccountNumber']} isn't active.",
                          "AR-855022", "/BillToCustomerNumber")
    sets = {bu["set_id"], 0}
    candidates = [s for s in account["sites"] if s["Status"] == "A" and s["SetId"] in sets
                  and any(u["SiteUseCode"] == "BILL_TO" and u["Status"] == "A"
                          for u in s["CustomerAccountSiteUse"])]
    if not candidates:
        raise bad_request(f"The customer account {account['AccountNumber']} has no active "
                          f"bill-to site in the business unit {bu['name']}.", "AR-855023",
                          "/BillToSite")
    wanted = body.get("BillToSite")
    if wanted not in (None, ""):
        wanted = str(wanted)
        for site in candidates:
            ids = {site["SiteNumber"]}
            if settings.bill_to_site_accepts_ids:
                ids |= {str(site["CustomerAccountSiteId"])} | {
                    str(u["SiteUseId"]) for u in site["CustomerAccountSiteUse"]}
            if wanted in ids:
                return account, site
        raise bad_request(f"The value of the attribute BillToSite isn't valid: {wanted} isn't an "
                          f"active bill-to site of customer account {account['AccountNumber']}.",
                          "AR-855024", "/BillToSite")
    primary = [s for s in candidates if any(u["SiteUseCode"] == "BILL_TO" and _truthy(u["PrimaryFlag"])
                                            for u in s["CustomerAccountSiteUse"])]
    return account, (primary or candidates)[0]


# --- customer accounts (SOAP) -------------------------------------------------------------------
def create_account(fields: dict) -> dict:
    """Create an account from parsed SDO fields (strings; children as lists of dicts).

    Faults mirror what pods answer: JBO-27024 (+JBO-27014 detail) for missing required
    attributes (a bare JBO-27024 for CreatedByModule), ``HZ:::HZ_INVALID_ORIG_SYSTEM`` for unregistered source systems, record-missing
    for unknown parties.
    """
    p = pod()
    store, seed = p.store, p.seed
    if not fields.get("PartyId"):
        raise row_invalid({"message": "JBO-27014: Attribute PartyId in CustomerAccountEO is required.",
                           "attributeName": "PartyId", "objectName": "CustomerAccountEO"})
    if not fields.get("CreatedByModule"):
        # a real pod names no attribute here (soap-receipts-customers.md §2.3 [M])
        raise row_invalid({"message": "JBO-27014: Attribute CreatedByModule in CustomerAccountEO "
                                      "is required.",
                           "attributeName": "CreatedByModule", "objectName": "CustomerAccountEO"}) \
            if p.settings.created_by_module_fault_names_attribute else row_invalid()
    try:
        party_id = int(fields["PartyId"])
    except ValueError:
        party_id = -1
    party = store.parties.get(party_id)
    if party is None:
        raise record_missing(f"The record for Party ID {fields['PartyId']} doesn't exist.")
    _check_orig_system(fields, seed)
    number = fields.get("AccountNumber") or store.new_account_number()
    if store.account_by_number(number):
        raise row_invalid({"message": f"HZ-2029: The account number {number} already exists. "
                                      "Enter a unique account number.",
                           "attributeName": "AccountNumber", "objectName": "CustomerAccountEO"})
    if fields.get("OrigSystem") and fields.get("OrigSystemReference") and \
            store.account_by_orig_ref(fields["OrigSystem"], fields["OrigSystemReference"]):
        raise ServiceFault("HZ:::HZ_API_DUP_ORIG_SYS_REF",
                           f"The original system reference {fields['OrigSystemReference']} for "
                           f"source system {fields['OrigSystem']} already exists.",
                           [{"message": "Duplicate original system reference.",
                             "attributeName": "OrigSystemReference", "objectName": "CustomerAccountEO"}])
    account_id = store.new_id()
    now = store.stamp()
    user = caller()
    account = {a: None for a in ACCOUNT_ATTRS}
    account.update({
        "CustomerAccountId": account_id, "PartyId": party_id, "AccountNumber": number,
        "AccountName": fields.get("AccountName") or party["PartyName"],
        "Status": fields.get("Status") or "A", "CustomerType": fields.get("CustomerType") or "R",
        "CustomerClassCode": fields.get("CustomerClassCode"),
        "AccountEstablishedDate": fields.get("AccountEstablishedDate") or today().isoformat(),
        "AccountTerminationDate": fields.get("AccountTerminationDate") or "4712-12-31",
        "HoldBillFlag": fields.get("HoldBillFlag") or "N", "Comments": fields.get("Comments"),
        "SourceCode": fields.get("SourceCode"),
        "CreatedByModule": fields["CreatedByModule"], "OrigSystem": fields.get("OrigSystem"),
        "OrigSystemReference": fields.get("OrigSystemReference") or str(account_id),
        "CreatedBy": user, "CreationDate": now, "LastUpdatedBy": user, "LastUpdateDate": now,
        "LastUpdateLogin": format(account_id, "X"), "sites": [],
    })
    for site_fields in fields.get("CustomerAccountSite", []):
        account["sites"].append(_create_site(account, party, site_fields, now, user))
    store.accounts[account_id] = account
    return account


def _check_orig_system(fields: dict, seed) -> None:
    system = fields.get("OrigSystem")
    if system and system not in seed.source_systems:
        raise ServiceFault("HZ:::HZ_INVALID_ORIG_SYSTEM",
                           f"HZ-120559: The value {system} of OrigSystem isn't a valid source "
                           "system.",
                           [{"message": f"The source system {system} isn't registered.",
                             "attributeName": "OrigSystem", "objectName": "CustomerAccountEO"}])


def _create_site(account: dict, party: dict, fields: dict, now, user) -> dict:
    store, seed = pod().store, pod().seed
    if not fields.get("PartySiteId"):
        raise row_invalid({"message": "JBO-27014: Attribute PartySiteId in CustomerAccountSiteEO "
                                      "is required.",
                           "attributeName": "PartySiteId", "objectName": "CustomerAccountSiteEO"})
    try:
        party_site = store.party_sites.get(int(fields["PartySiteId"]))
    except ValueError:
        party_site = None
    if party_site is None or party_site["PartyId"] != party["PartyId"]:
        raise row_invalid({"message": f"HZ-120436: The party site {fields['PartySiteId']} doesn't "
                                      f"belong to the party {party['PartyId']}.",
                           "attributeName": "PartySiteId", "objectName": "CustomerAccountSiteEO"})
    if not fields.get("SetId"):
        raise row_invalid({"message": "JBO-27014: Attribute SetId in CustomerAccountSiteEO is required.",
                           "attributeName": "SetId", "objectName": "CustomerAccountSiteEO"})
    try:
        set_id = int(fields["SetId"])
    except ValueError:
        set_id = -1
    if set_id not in seed.reference_sets:
        raise row_invalid({"message": f"The reference data set {fields['SetId']} doesn't exist.",
                           "attributeName": "SetId", "objectName": "CustomerAccountSiteEO"})
    _check_orig_system(fields, seed)
    site_id = store.new_id()
    site = {a: None for a in SITE_ATTRS}
    site.update({
        "CustomerAccountSiteId": site_id, "CustomerAccountId": account["CustomerAccountId"],
        "PartySiteId": party_site["AddressId"], "Status": fields.get("Status") or "A",
        "BillToIndicator": fields.get("BillToIndicator") or "N",
        "ShipToIndicator": fields.get("ShipToIndicator") or "N",
        "MarketIndicator": fields.get("MarketIndicator") or "N", "SetId": set_id,
        "SetCode": seed.reference_sets[set_id], "StartDate": fields.get("StartDate") or today().isoformat(),
        "EndDate": fields.get("EndDate") or "4712-12-31",
        "CreatedByModule": fields.get("CreatedByModule") or account["CreatedByModule"],
        "OrigSystem": fields.get("OrigSystem"),
        "OrigSystemReference": fields.get("OrigSystemReference") or str(site_id),
        "CreatedBy": user, "CreationDate": now, "LastUpdatedBy": user, "LastUpdateDate": now,
        "SiteNumber": party_site["AddressNumber"], "CustomerAccountSiteUse": [],
    })
    bill_to_use_id = None
    for use_fields in fields.get("CustomerAccountSiteUse", []):
        code = use_fields.get("SiteUseCode")
        if code not in SITE_USE_CODES:
            raise row_invalid({"message": f"The value {code!r} of SiteUseCode isn't valid.",
                               "attributeName": "SiteUseCode", "objectName": "CustomerAccountSiteUseEO"})
        use_id = store.new_id()
        primary = use_fields.get("PrimaryFlag")
        use = {a: None for a in SITE_USE_ATTRS}
        use.update({
            "SiteUseId": use_id, "CustomerAccountSiteId": site_id, "SiteUseCode": code,
            "PrimaryFlag": "true" if primary is None or _truthy(primary) else "false",
            "Status": use_fields.get("Status") or "A",
            "Location": use_fields.get("Location") or str(use_id),
            "BillToSiteUseId": use_fields.get("BillToSiteUseId") or (bill_to_use_id if code == "SHIP_TO" else None),
            "SetId": set_id, "StartDate": use_fields.get("StartDate") or today().isoformat(),
            "EndDate": "4712-12-31",
            "CreatedByModule": use_fields.get("CreatedByModule") or site["CreatedByModule"],
            "OrigSystem": use_fields.get("OrigSystem"),
            "OrigSystemReference": use_fields.get("OrigSystemReference") or str(use_id),
            "CreatedBy": user, "CreationDate": now, "LastUpdatedBy": user, "LastUpdateDate": now,
        })
        if code == "BILL_TO":
            bill_to_use_id = use_id
            if site["BillToIndicator"] == "N":
                site["BillToIndicator"] = "P" if use["PrimaryFlag"] == "true" else "Y"
        if code == "SHIP_TO" and site["ShipToIndicator"] == "N":
            site["ShipToIndicator"] = "P" if use["PrimaryFlag"] == "true" else "Y"
        site["CustomerAccountSiteUse"].append(use)
    return site


def get_account(account_id: str) -> dict:
    try:
        account = pod().store.accounts.get(int(account_id))
    except (TypeError, ValueError):
        account = None
    if account is None:
        raise record_missing(f"The record for Customer Account ID {account_id} doesn't exist.")
    return account


_MERGEABLE = ("AccountName", "Status", "CustomerClassCode", "HoldBillFlag", "Comments",
              "AccountTerminationDate")
_SITE_MERGEABLE = ("Status", "EndDate", "BillToIndicator", "ShipToIndicator")
_USE_MERGEABLE = ("Status", "PrimaryFlag", "Location", "EndDate")


def merge_account(fields: dict) -> dict:
    """``mergeCustomerAccount``: update an account's header and create-or-update its children
    (soap-receipts-customers.md §2.2 [M]; DLKV adds a site to an existing account this way).

    The account is named by ``CustomerAccountId``; a ``CustomerAccountSite`` with a
    ``CustomerAccountSiteId`` updates that site (and its uses, by ``SiteUseId``), one without
    creates a site on the given party site, as ``createCustomerAccount`` does.
    """
    if not fields.get("CustomerAccountId"):
        raise row_invalid({"message": "JBO-27014: Attribute CustomerAccountId in CustomerAccountEO "
                                      "is required.",
                           "attributeName": "CustomerAccountId", "objectName": "CustomerAccountEO"})
    account = get_account(fields["CustomerAccountId"])
    store = pod().store
    party = store.parties.get(account["PartyId"])
    now, user = store.stamp(), caller()
    for name in _MERGEABLE:
        if fields.get(name):
            account[name] = fields[name]
    for site_fields in fields.get("CustomerAccountSite", []):
        site_id = site_fields.get("CustomerAccountSiteId")
        if not site_id:
            account["sites"].append(_create_site(account, party, site_fields, now, user))
            continue
        site = next((s for s in account["sites"] if str(s["CustomerAccountSiteId"]) == str(site_id)), None)
        if site is None:
            raise record_missing(f"The record for Customer Account Site ID {site_id} doesn't exist.")
        for name in _SITE_MERGEABLE:
            if site_fields.get(name):
                site[name] = site_fields[name]
        for use_fields in site_fields.get("CustomerAccountSiteUse", []):
            use = next((u for u in site["CustomerAccountSiteUse"]
                        if str(u["SiteUseId"]) == str(use_fields.get("SiteUseId"))), None)
            if use is None:
                raise record_missing(f"The record for Site Use ID {use_fields.get('SiteUseId')} doesn't exist.")
            for name in _USE_MERGEABLE:
                if use_fields.get(name):
                    use[name] = ("true" if _truthy(use_fields[name]) else "false") if name == "PrimaryFlag" \
                        else use_fields[name]
            use.update({"LastUpdatedBy": user, "LastUpdateDate": now})
        site.update({"LastUpdatedBy": user, "LastUpdateDate": now})
    account.update({"LastUpdatedBy": user, "LastUpdateDate": now})
    return account
