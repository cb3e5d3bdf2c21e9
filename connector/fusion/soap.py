"""SOAP 1.1 envelopes for Fusion's ADF business-object services, and their answers and faults.

Operation and parameter elements live in the service's ``types`` namespace, the SDO fields in the
service namespace (putting the operation in the wrong one gives "Unknown method"). Answers are
parsed by namespace, never by prefix, because Fusion's prefixes vary.

Values come from Shopify, where a name or an address can hold characters XML 1.0 cannot (NUL and
the other C0 controls but tab and line breaks, lone surrogates, U+FFFE and U+FFFF): an envelope
with one is not XML, and Fusion would refuse the whole document. :func:`envelope` drops them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape, quoteattr

from defusedxml import ElementTree

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
ADF_ERRORS = "http://xmlns.oracle.com/adf/svc/errors/"
ADF_TYPES = "http://xmlns.oracle.com/adf/svc/types/"
_ENVELOPE_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Envelope[\s>]")
# everything but what XML 1.0 allows: tab, LF, CR, U+0020-U+D7FF, U+E000-U+FFFD, U+10000-U+10FFFF
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class SoapService:
    """Where a service lives and the namespaces its envelopes need.

    ``action_namespace`` is the SOAPAction prefix when it is not the service namespace (the CRM
    "cdm" services put theirs under ``applicationModule/``); ``prefix`` is only what our envelopes
    call the service namespace.
    """

    path: str
    namespace: str
    types_namespace: str
    prefix: str
    action_namespace: str = ""


_CUSTOMER_ACCOUNT = "http://xmlns.oracle.com/apps/cdm/foundation/parties/customerAccountService/"
CUSTOMER_ACCOUNT = SoapService(
    "/crmService/CustomerAccountService", _CUSTOMER_ACCOUNT,
    _CUSTOMER_ACCOUNT + "applicationModule/types/", "cus",
    action_namespace=_CUSTOMER_ACCOUNT + "applicationModule/")
_CREDIT_MEMO = ("http://xmlns.oracle.com/apps/financials/receivables/transactions/creditMemos/"
                "creditMemoService/")
CREDIT_MEMO = SoapService("/fscmService/CreditMemoService", _CREDIT_MEMO, _CREDIT_MEMO + "types/", "cred")
_STANDARD_RECEIPT = ("http://xmlns.oracle.com/apps/financials/receivables/receipts/shared/"
                     "standardReceiptService/commonService/")
STANDARD_RECEIPT = SoapService("/fscmService/StandardReceiptService", _STANDARD_RECEIPT,
                               _STANDARD_RECEIPT + "types/", "com")


@dataclass(frozen=True)
class Amount:
    """An ADF ``AmountType`` field: the decimal with its currency as an attribute."""

    value: Decimal
    currency: str


def action(service: SoapService, operation: str) -> str:
    return (service.action_namespace or service.namespace) + operation


def legal_xml(text: str) -> str:
    """``text`` without the characters an XML 1.0 document cannot hold, escaped or not."""
    return _NOT_XML.sub("", text)


def envelope(service: SoapService, body: str) -> str:
    """The envelope around ``body``, whose characters XML cannot hold are dropped first."""
    body = legal_xml(body)
    return (f'<soapenv:Envelope xmlns:soapenv="{ENV}" xmlns:typ="{service.types_namespace}" '
            f'xmlns:{service.prefix}="{service.namespace}" xmlns:adf="{ADF_TYPES}">'
            f"<soapenv:Header/><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>")


def request(service: SoapService, operation: str, **parameters: str) -> str:
    """The envelope of one operation; each parameter (types namespace) holds ready XML."""
    inner = "".join(f"<typ:{name}>{xml}</typ:{name}>" for name, xml in parameters.items())
    return envelope(service, f"<typ:{operation}>{inner}</typ:{operation}>")


def fields(service: SoapService, **values) -> str:
    """SDO fields in the service namespace, in the order given (the XSD is a sequence).

    ``None`` leaves a field out, which lets Fusion default it.
    """
    return "".join(_field(service.prefix, name, value) for name, value in values.items()
                   if value is not None)


def nested(service: SoapService, name: str, inner: str) -> str:
    """A complex SDO field (a site in an account, a use in a site) around ready XML."""
    return f"<{service.prefix}:{name}>{inner}</{service.prefix}:{name}>"


def _field(prefix: str, name: str, value) -> str:
    attributes = ""
    if isinstance(value, Amount):
        attributes, value = f" currencyCode={quoteattr(value.currency)}", value.value
    return f"<{prefix}:{name}{attributes}>{escape(_text(value))}</{prefix}:{name}>"


def _text(value) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def find_criteria(attribute: str, value: str, fetch_size: int = 10) -> str:
    """The inside of an ADF FindCriteria with one equality filter (``adf`` = ADF types)."""
    return ("<adf:fetchStart>0</adf:fetchStart>"
            f"<adf:fetchSize>{fetch_size}</adf:fetchSize><adf:filter><adf:group><adf:item>"
            f"<adf:attribute>{escape(attribute)}</adf:attribute><adf:operator>=</adf:operator>"
            f"<adf:value>{escape(value)}</adf:value></adf:item></adf:group></adf:filter>")


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


def decimals(value: dict, *names: str) -> dict:
    """The answer with the named amounts as Decimal (SOAP gives text; empty or nil is None)."""
    return {**value, **{name: Decimal(value[name]) if value.get(name) else None
                        for name in names if name in value}}
