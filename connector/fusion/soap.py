"""SOAP 1.1 envelopes for Fusion's ADF business-object services, and their answers and faults.

Operation and parameter elements live in the service's ``types`` namespace, the SDO fields in the
service namespace (putting the operation in the wrong one gives "Unknown method"). Answers are
parsed by namespace, never by prefix, because Fusion's prefixes vary.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from defusedxml import ElementTree

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
ADF_ERRORS = "http://xmlns.oracle.com/adf/svc/errors/"
ADF_TYPES = "http://xmlns.oracle.com/adf/svc/types/"
CUSTOMER_ACCOUNT_PATH = "/crmService/CustomerAccountService"
CUSTOMER_ACCOUNT_NS = "http://xmlns.oracle.com/apps/cdm/foundation/parties/customerAccountService/"
CUSTOMER_ACCOUNT_TYPES = CUSTOMER_ACCOUNT_NS + "applicationModule/types/"
_ACTIONS = {CUSTOMER_ACCOUNT_PATH: CUSTOMER_ACCOUNT_NS + "applicationModule/"}
_TYPES = {CUSTOMER_ACCOUNT_PATH: CUSTOMER_ACCOUNT_TYPES}
_ENVELOPE_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Envelope[\s>]")


@dataclass(frozen=True)
class NewCustomerAccount:
    party_id: str
    party_site_id: str
    account_name: str
    set_id: str
    source_system: str
    reference: str
    established: str  # YYYY-MM-DD


def action(path: str, operation: str) -> str:
    return _ACTIONS[path] + operation


def _envelope(path: str, body: str) -> str:
    return (f'<soapenv:Envelope xmlns:soapenv="{ENV}" xmlns:typ="{_TYPES[path]}" '
            f'xmlns:cus="{CUSTOMER_ACCOUNT_NS}"><soapenv:Header/><soapenv:Body>{body}'
            f"</soapenv:Body></soapenv:Envelope>")


def _fields(**values: str) -> str:
    return "".join(f"<cus:{name}>{escape(str(value))}</cus:{name}>" for name, value in values.items())


def create_customer_account(a: NewCustomerAccount) -> str:
    site_use = _fields(SiteUseCode="BILL_TO", PrimaryFlag="true", CreatedByModule="HZ_WS")
    site = (_fields(PartySiteId=a.party_site_id, SetId=a.set_id, CreatedByModule="HZ_WS")
            + f"<cus:CustomerAccountSiteUse>{site_use}</cus:CustomerAccountSiteUse>")
    account = (_fields(PartyId=a.party_id, AccountName=a.account_name[:240], CustomerType="R",
                       AccountEstablishedDate=a.established, CreatedByModule="HZ_WS",
                       OrigSystem=a.source_system, OrigSystemReference=a.reference)
               + f"<cus:CustomerAccountSite>{site}</cus:CustomerAccountSite>")
    return _envelope(CUSTOMER_ACCOUNT_PATH,
                     f"<typ:createCustomerAccount><typ:customerAccount>{account}"
                     f"</typ:customerAccount></typ:createCustomerAccount>")


def get_customer_account_by_reference(source_system: str, reference: str) -> str:
    return _envelope(CUSTOMER_ACCOUNT_PATH,
                     "<typ:getCustomerAccountByOriginalSystemReference>"
                     f"<typ:bindOrigSystem>{escape(source_system)}</typ:bindOrigSystem>"
                     f"<typ:bindOrigSystemReference>{escape(reference)}</typ:bindOrigSystemReference>"
                     "</typ:getCustomerAccountByOriginalSystemReference>")


def find_customer_accounts_by_party(party_id: str) -> str:
    criteria = (f'<typ:findCriteria xmlns:adf="{ADF_TYPES}"><adf:fetchStart>0</adf:fetchStart>'
                "<adf:fetchSize>10</adf:fetchSize><adf:filter><adf:group><adf:item>"
                "<adf:attribute>PartyId</adf:attribute><adf:operator>=</adf:operator>"
                f"<adf:value>{escape(party_id)}</adf:value></adf:item></adf:group></adf:filter>"
                "</typ:findCriteria>")
    return _envelope(CUSTOMER_ACCOUNT_PATH,
                     f"<typ:findCustomerAccount>{criteria}<typ:findControl/></typ:findCustomerAccount>")


# -- answers --------------------------------------------------------------------------------

def parse_response(content: bytes) -> dict:
    """The operation's result as nested dicts, or ``{"Fault": {...}}`` for a SOAP fault."""
    root = ElementTree.fromstring(_strip_mtom(content))
    body = root.find(f"{{{ENV}}}Body")
    if body is None or len(body) == 0:
        raise ValueError("SOAP answer without a body")
    first = body[0]
    if first.tag == f"{{{ENV}}}Fault":
        return {"Fault": _fault(first)}
    results = [child for child in first if _local(child.tag) == "result"]
    values = [v for r in results for v in r if _local(v.tag) == "Value"]
    if values:  # create/find wrap the account in Value; find may return several
        return {"Value": [_to_dict(v) for v in values]} if len(values) > 1 or len(results) > 1 \
            else _to_dict(values[0])
    return _to_dict(results[0]) if results else {}


def _strip_mtom(content: bytes) -> bytes:
    """The envelope itself, also when Fusion wraps it in a multipart/related (MTOM) body."""
    start = _ENVELOPE_START.search(content)
    end = content.rfind(b"Envelope>")
    if start is None or end < 0:
        return content
    return content[start.start():end + len(b"Envelope>")]


def _to_dict(element: Element) -> dict:
    out: dict = {}
    for child in element:
        key = _local(child.tag)
        value = _to_dict(child) if len(child) else (child.text or "")
        if key in out:
            if not isinstance(out[key], list):
                out[key] = [out[key]]
            out[key].append(value)
        else:
            out[key] = value
    return out


def _fault(fault: Element) -> dict:
    detail = fault.find("detail")
    code = ""
    messages: list[str] = []
    if detail is not None:
        for el in detail.iter():
            if el.tag == f"{{{ADF_ERRORS}}}code" and not code:
                code = (el.text or "").strip()
            elif el.tag == f"{{{ADF_ERRORS}}}message" and el.text:
                messages.append(el.text.strip())
    faultstring = (fault.findtext("faultstring") or "").strip()
    return {"code": code, "message": "; ".join(dict.fromkeys(messages)) or faultstring,
            "faultstring": faultstring}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def is_fault(body) -> bool:
    return isinstance(body, dict) and "Fault" in body


def fault_message(body: dict) -> str:
    return body["Fault"]["message"]


def fault_code(body: dict) -> str:
    return body["Fault"]["code"]


def is_not_found(code: str, message: str) -> bool:
    return "FND_CMN_RCRD_MSNG" in code or "FND_CMN_RCRD_MSNG" in message


def as_list(value) -> list:
    """A repeated SOAP element parses as a list, a single one as a dict: always a list."""
    if not value:
        return []
    return value if isinstance(value, list) else [value]


def sites(account: dict) -> list[dict]:
    return as_list(account.get("CustomerAccountSite"))


def site_uses(account: dict) -> list[dict]:
    """Every site use of an account snapshot."""
    return [use for site in sites(account) for use in as_list(site.get("CustomerAccountSiteUse"))]
