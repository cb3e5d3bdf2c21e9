"""``hubPersons`` and ``hubOrganizations`` (crmRestApi): TCA parties with addresses.

These create the *party* and its party sites only — never the customer account (that is SOAP
``CustomerAccountService``), exactly the split a real pod forces on an integration. Items are
keyed by ``PartyNumber`` in the URL.
"""
from __future__ import annotations

import re

from flask import Blueprint

from .errors import bad_request, not_found
from .query import DATETIME, NUM, STR
from .rest_common import (
    ResourceSpec, caller, change_indicator, check_attributes, check_if_match, check_version,
    child_page, collection_response, created_response, describe, flat_attributes, framework_version,
    item_response, json_body, json_response, parse_shape, pod, refuse_upsert, shape_item,
)

bp = Blueprint("fusion_parties", __name__)

ADDRESS_WRITABLE = ["Address1", "Address2", "Address3", "Address4", "City", "State", "Province",
                    "County", "PostalCode", "PostalPlus4Code", "Country", "PartySiteName",
                    "AddressNumber", "StartDateActive", "EndDateActive", "SourceSystem",
                    "SourceSystemReferenceValue", "Comments", "PrimaryFlag", "CreatedByModule"]
ADDRESS_ATTRS = ["AddressId", "PartySiteId", "AddressNumber", "LocationId", "PartyId", "PartyNumber",
                 "AddressType", "PartySourceSystemReferenceValue"] + \
    [a for a in ADDRESS_WRITABLE if a != "AddressNumber"] + \
    ["CreatedBy", "CreationDate", "LastUpdatedBy", "LastUpdateDate"]
_PRIMARY_ADDRESS = ["Address1", "Address2", "Address3", "Address4", "City", "State", "Province",
                    "County", "PostalCode", "Country"]
_COMMON_WRITABLE = ["EmailAddress", "PartyUsageCode", "SourceSystem", "SourceSystemReferenceValue",
                    "SourceSystemReference", "Address", "PartyNumber", "RawPhoneNumber",
                    "PhoneCountryCode", "PhoneAreaCode", "PhoneNumber", "PhoneExtension",
                    "Comments", "CreatedByModule", "Status", "URL"] + _PRIMARY_ADDRESS
_READ_ONLY = ["PartyId", "PartyName", "PartyType", "CreatedBy", "CreationDate", "LastUpdatedBy",
              "LastUpdateDate"]
PERSON_WRITABLE = _COMMON_WRITABLE + ["FirstName", "LastName", "MiddleName", "NameSuffix",
                                      "Title", "PreviousLastName", "DateOfBirth", "Gender"]
ORG_WRITABLE = _COMMON_WRITABLE + ["OrganizationName", "TaxpayerIdentificationNumber",
                                   "DUNSNumber", "OrganizationType"]
PARTY_USAGES = {"CUSTOMER", "PROSPECT", "SALES_ACCOUNT", "ORGANIZATION_CONTACT", "CONTACT",
                "SUPPLIER", "EXTERNAL_LEGAL_ENTITY"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _spec(name: str, writable: list[str]) -> ResourceSpec:
    attrs = ["PartyId", "PartyNumber", "PartyName", "PartyType"] + \
        [a for a in writable if a not in ("Address", "SourceSystemReference", "PartyNumber")] + \
        ["CreatedBy", "CreationDate", "LastUpdatedBy", "LastUpdateDate"]
    kinds = {a: NUM if a == "PartyId" else DATETIME if a in ("CreationDate", "LastUpdateDate") else STR
             for a in attrs}
    return ResourceSpec(
        name=name, api="crmRestApi", key="PartyNumber", attributes=kinds,
        # ADF makes attributes queryable unless flagged otherwise (soap-…md §4)
        queryable=set(attrs),
        finders={"PartyIdAltKey": {"PartyId": "PartyId"},
                 "PartyNumberAltKey": {"PartyNumber": "PartyNumber"},
                 "PartyNumberRF": {"PartyNumber": "PartyNumber"}},
        children=["Address", "SourceSystemReference", "ContactPoint"],
    )


SPECS = {"hubPersons": (_spec("hubPersons", PERSON_WRITABLE), PERSON_WRITABLE, "PERSON"),
         "hubOrganizations": (_spec("hubOrganizations", ORG_WRITABLE), ORG_WRITABLE, "ORGANIZATION")}
CHILD_ATTRS = {"Address": set(ADDRESS_ATTRS), "SourceSystemReference":
               {"SourceSystem", "SourceSystemReferenceValue", "CreatedByModule"}}


def _spec_for(resource: str):
    if resource not in SPECS:
        raise not_found(f"The resource {resource} doesn't exist.")
    return SPECS[resource]


def _check_source(system, ref, path: str) -> None:
    if system is None and ref is None:
        return
    if not system or not ref:
        raise bad_request("SourceSystem and SourceSystemReferenceValue must be given together.",
                          "HZ-120560", path)
    if system not in pod().seed.source_systems:
        raise bad_request(f"HZ-120559: The source system {system} isn't valid. Register it in "
                          "Manage Trading Community Source Systems.", "HZ-120559",
                          f"{path}/SourceSystem")


def _build_address(party: dict, raw: dict, idx: int, now) -> dict:
    store = pod().store
    path = f"/Address/{idx}"
    if not isinstance(raw, dict):
        raise bad_request("Each address must be an object.", "", path)
    check_attributes(raw, set(ADDRESS_WRITABLE), "Address", path,
                     read_only={"AddressId", "LocationId", "PartySiteId", "PartyId"})
    if not raw.get("Address1"):
        raise bad_request("The attribute Address1 is required.", "JBO-27014", f"{path}/Address1")
    country = raw.get("Country")
    if not isinstance(country, str) or not re.fullmatch(r"[A-Z]{2}", country):
        raise bad_request(f"The value {country!r} of the attribute Country isn't a valid "
                          "2-letter territory code.", "HZ-120422", f"{path}/Country")
    system, ref = raw.get("SourceSystem"), raw.get("SourceSystemReferenceValue")
    _check_source(system, ref, path)
    if system and any((system, ref) in p["_site_refs"] for p in store.parties.values()):
        raise bad_request(f"The source system reference {ref} for {system} already exists.",
                          "HZ-120561", f"{path}/SourceSystemReferenceValue")
    site_id = store.new_id()
    address = {a: raw.get(a) for a in ADDRESS_ATTRS}
    address.update({"AddressId": site_id, "PartySiteId": site_id,
                    "AddressNumber": raw.get("AddressNumber") or store.new_site_number(),
                    "LocationId": store.new_id(), "PartyId": party["PartyId"],
                    "PartyNumber": party["PartyNumber"], "AddressType": None,
                    "PartySourceSystemReferenceValue": party.get("SourceSystemReferenceValue"),
                    "CreatedByModule": raw.get("CreatedByModule") or "HZ_WS",
                    "CreatedBy": caller(), "CreationDate": now, "LastUpdatedBy": caller(),
                    "LastUpdateDate": now})
    if system:
        party["_site_refs"].add((system, ref))
    store.party_sites[site_id] = address
    return address


def _create_party(resource: str, body: dict) -> dict:
    spec, writable, party_type = _spec_for(resource)
    store = pod().store
    check_attributes(body, set(writable), resource, read_only=set(_READ_ONLY))
    usage = body.get("PartyUsageCode")
    if not usage:
        raise bad_request("HZ-120421: This party isn't valid because there is no party usage "
                          "assigned.", "HZ-120421", "/PartyUsageCode")
    if usage not in PARTY_USAGES:
        raise bad_request(f"The party usage {usage} isn't valid.", "HZ-120423", "/PartyUsageCode")
    if party_type == "PERSON":
        if not (body.get("FirstName") or body.get("LastName")):
            raise bad_request("A person requires FirstName or LastName.", "JBO-27014", "/LastName")
        name = " ".join(x for x in (body.get("FirstName"), body.get("LastName")) if x)
    else:
        if not body.get("OrganizationName"):
            raise bad_request("The attribute OrganizationName is required.", "JBO-27014",
                              "/OrganizationName")
        name = body["OrganizationName"]
    email = body.get("EmailAddress")
    if email is not None and not _EMAIL.match(str(email)):
        raise bad_request(f"The e-mail address {email!r} isn't valid.", "HZ-120424", "/EmailAddress")
    refs = []
    system, ref = body.get("SourceSystem"), body.get("SourceSystemReferenceValue")
    _check_source(system, ref, "")
    if system:
        refs.append((system, ref))
    for idx, item in enumerate(body.get("SourceSystemReference") or []):
        if not isinstance(item, dict):
            raise bad_request("Each SourceSystemReference must be an object.", "",
                              f"/SourceSystemReference/{idx}")
        check_attributes(item, CHILD_ATTRS["SourceSystemReference"], "SourceSystemReference",
                         f"/SourceSystemReference/{idx}")
        _check_source(item.get("SourceSystem"), item.get("SourceSystemReferenceValue"),
                      f"/SourceSystemReference/{idx}")
        refs.append((item.get("SourceSystem"), item.get("SourceSystemReferenceValue")))
    for sys_ref in refs:
        if store.party_by_source_ref(*sys_ref):
            raise bad_request(f"The source system reference {sys_ref[1]} for {sys_ref[0]} "
                              "already exists.", "HZ-120561", "/SourceSystemReferenceValue")
    number = body.get("PartyNumber") or store.new_party_number()
    if store.party_by_number(number):
        raise bad_request(f"The party number {number} already exists.", "HZ-120425", "/PartyNumber")
    now = store.stamp()
    party = {a: body.get(a) for a in spec.attributes}
    party.update({"PartyId": store.new_id(), "PartyNumber": number, "PartyName": name,
                  "PartyType": party_type, "SourceSystem": refs[0][0] if refs else None,
                  "SourceSystemReferenceValue": refs[0][1] if refs else None,
                  "CreatedByModule": body.get("CreatedByModule") or "HZ_WS",
                  "CreatedBy": caller(), "CreationDate": now, "LastUpdatedBy": caller(),
                  "LastUpdateDate": now, "_resource": resource, "_source_refs": set(refs),
                  "_site_refs": set(), "Address": [], "version": 1})
    raw_addresses = body.get("Address") or []
    if not isinstance(raw_addresses, list):
        raise bad_request("Address must be an array.", "", "/Address")
    if not raw_addresses and body.get("Address1"):
        raw_addresses = [{a: body.get(a) for a in _PRIMARY_ADDRESS if body.get(a) is not None}]
    addresses = [_build_address(party, raw, i, now) for i, raw in enumerate(raw_addresses)]
    party["Address"] = addresses
    if addresses:
        for attr in _PRIMARY_ADDRESS:
            party[attr] = addresses[0].get(attr)
    store.parties[party["PartyId"]] = party
    return party


def _flat(spec: ResourceSpec, party: dict) -> dict:
    return flat_attributes(party, spec.attributes)


def _render_address(address: dict) -> dict:
    return flat_attributes(address, ADDRESS_ATTRS)


def _children(party: dict) -> dict[str, list[dict]]:
    return {"Address": [_render_address(a) for a in party["Address"]],
            "SourceSystemReference": [{"SourceSystem": s, "SourceSystemReferenceValue": r,
                                       "CreatedByModule": "HZ_WS"}
                                      for s, r in sorted(party["_source_refs"])]}


def _render(spec, party, shape, fw, inline=frozenset()) -> dict:
    kids = _children(party)
    return shape_item(spec, _flat(spec, party), kids, shape, party["PartyNumber"],
                      change_indicator(party["version"]), fw, inline)


def _get(resource: str, number: str) -> dict:
    party = pod().store.party_by_number(number)
    if party is None or party["_resource"] != resource:
        raise not_found(f"The party {number} doesn't exist.")
    return party


PREFIX = "/crmRestApi/resources/<version>/<any(hubPersons, hubOrganizations):resource>"


@bp.post(PREFIX)
def post_party(version, resource):
    check_version(version)
    fw = framework_version()
    body = json_body()
    refuse_upsert(resource)
    spec = _spec_for(resource)[0]
    shape = parse_shape(spec, CHILD_ATTRS)
    with pod().store.lock:
        party = _create_party(resource, body)
        inline = {"Address"} if "Address" in body or body.get("Address1") else set()
        if body.get("SourceSystemReference"):
            inline.add("SourceSystemReference")
        item = _render(spec, party, shape, fw, inline)
    return created_response(spec, party["PartyNumber"], item)


@bp.get(PREFIX)
def list_parties(version, resource):
    check_version(version)
    spec = _spec_for(resource)[0]
    return collection_response(
        spec, CHILD_ATTRS,
        lambda: [p for p in pod().store.parties.values() if p["_resource"] == resource],
        lambda p: _flat(spec, p), lambda p, shape, fw: _render(spec, p, shape, fw))


@bp.get(PREFIX + "/describe")
def describe_parties(version, resource):
    check_version(version)
    return describe(_spec_for(resource)[0], CHILD_ATTRS)


@bp.get(PREFIX + "/<number>")
def get_party(version, resource, number):
    check_version(version)
    spec = _spec_for(resource)[0]
    return item_response(spec, CHILD_ATTRS, lambda: _get(resource, number),
                         lambda party, shape, fw: _render(spec, party, shape, fw))


@bp.patch(PREFIX + "/<number>")
def patch_party(version, resource, number):
    """Update scalar party attributes (name, e-mail, phone …); keys and usages stay put."""
    check_version(version)
    fw = framework_version()
    body = json_body()
    spec, writable, party_type = _spec_for(resource)
    fixed = {"PartyNumber", "PartyUsageCode", "SourceSystem", "SourceSystemReferenceValue",
             "SourceSystemReference", "Address", "CreatedByModule"}
    check_attributes(body, set(writable), resource, read_only=set(_READ_ONLY))
    for attr in body:
        if attr in fixed:
            raise bad_request(f"The attribute {attr} can't be updated here.", "JBO-27008", f"/{attr}")
    if "EmailAddress" in body and body["EmailAddress"] is not None \
            and not _EMAIL.match(str(body["EmailAddress"])):
        raise bad_request(f"The e-mail address {body['EmailAddress']!r} isn't valid.", "HZ-120424",
                          "/EmailAddress")
    store = pod().store
    with store.lock:
        party = _get(resource, number)
        check_if_match(party["version"])
        party.update(body)
        if party_type == "PERSON":
            party["PartyName"] = " ".join(x for x in (party.get("FirstName"), party.get("LastName")) if x)
        elif party.get("OrganizationName"):
            party["PartyName"] = party["OrganizationName"]
        party["LastUpdateDate"] = store.stamp()
        party["LastUpdatedBy"] = caller()
        party["version"] += 1
        return json_response(_render(spec, party, parse_shape(spec, CHILD_ATTRS), fw))


@bp.get(PREFIX + "/<number>/child/<any(Address, SourceSystemReference):child>")
def list_party_children(version, resource, number, child):
    check_version(version)
    framework_version()
    spec = _spec_for(resource)[0]
    with pod().store.lock:
        rows = _children(_get(resource, number))[child]
    return child_page(spec, number, child, rows, attributes=CHILD_ATTRS[child])


@bp.post(PREFIX + "/<number>/child/Address")
def post_address(version, resource, number):
    """Add an address (party site) to an existing party — how a new Shopify address lands."""
    check_version(version)
    framework_version()
    body = json_body()
    refuse_upsert("Address")
    store = pod().store
    with store.lock:
        party = _get(resource, number)
        check_if_match(party["version"])
        now = store.stamp()
        address = _build_address(party, body, 0, now)
        party["Address"].append(address)
        party["LastUpdateDate"] = now
        party["version"] += 1
        if len(party["Address"]) == 1:
            for attr in _PRIMARY_ADDRESS:
                party[attr] = address.get(attr)
        return json_response(_render_address(address), status=201)
