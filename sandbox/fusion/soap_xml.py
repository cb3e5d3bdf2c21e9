"""SOAP 1.1 envelopes for ADF business services: parsing requests, writing results and faults.

Requests are parsed with defusedxml (no entity expansion from callers). SDO payloads become
plain dicts: leaf elements → text (``xsi:nil`` → None), repeatable complex children → lists.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape, quoteattr

from defusedxml import ElementTree as SafeET
from flask import Response

from .errors import ServiceFault
from .store import format_stamp

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
WSA = "http://www.w3.org/2005/08/addressing"
ADF_TYPES = "http://xmlns.oracle.com/adf/svc/types/"
ADF_ERRORS = "http://xmlns.oracle.com/adf/svc/errors/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"


def split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def parse_envelope(data: bytes) -> tuple[Element | None, Element]:
    """(Header or None, first Body child); a client fault when the envelope isn't SOAP 1.1."""
    try:
        root = SafeET.fromstring(data)
    except Exception as exc:  # defusedxml raises several types; all mean "bad request"
        raise ServiceFault("env:Client", f"The SOAP request isn't well-formed XML: {exc}") from None
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise ServiceFault("env:Client", "The request isn't a SOAP 1.1 envelope "
                           f"(root element {root.tag}).")
    header = root.find(f"{{{SOAP_ENV}}}Header")
    body = root.find(f"{{{SOAP_ENV}}}Body")
    if body is None or len(body) == 0:
        raise ServiceFault("env:Client", "The SOAP envelope has no body element.")
    return header, body[0]


def is_nil(el: Element) -> bool:
    return el.get(f"{{{XSI}}}nil") in ("true", "1")


def parameter(op_el: Element, types_ns: str, name: str) -> Element:
    """The operation's parameter element (``customerAccount``, ``applyReceipt``…) in the types
    namespace; a client fault when the caller sent none or put it in another namespace."""
    param = op_el.find(f"{{{types_ns}}}{name}")
    if param is None:
        raise ServiceFault("env:Client", f"{split(op_el.tag)[1]} requires a {name} element in the "
                           f"namespace {types_ns}.")
    return param


def sdo_to_dict(el: Element, ns: str, repeatable: set[str], skip: frozenset[str] = frozenset()) -> dict:
    """Fields of an SDO element; every field must be in the service namespace ``ns``.

    ``skip`` names fields to pass over unread — descriptive flexfields (``…FLEXVA``), whose
    children live in a flexfield namespace the sandbox doesn't model.
    """
    out: dict = {}
    for child in el:
        child_ns, local = split(child.tag)
        if child_ns == ns and local in skip:
            continue
        if child_ns != ns:
            raise ServiceFault("env:Client", f"Unexpected element {child.tag} in {split(el.tag)[1]}; "
                               f"fields must be in the namespace {ns}.")
        if local in repeatable:
            out.setdefault(local, []).append(sdo_to_dict(child, ns, repeatable))
        elif is_nil(child):
            out[local] = None
        elif len(child):
            out[local] = sdo_to_dict(child, ns, repeatable)
        else:
            out[local] = (child.text or "").strip()
    return out


def text_of(parent: Element, ns: str, name: str) -> str | None:
    el = parent.find(f"{{{ns}}}{name}")
    if el is None or is_nil(el):
        return None
    return (el.text or "").strip()


# --- writing -------------------------------------------------------------------------------------
def _value_text(value) -> str:
    if isinstance(value, datetime):
        return format_stamp(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def sdo_xml(prefix: str, fields: dict, order: list[str] | None = None,
            amount_fields: dict[str, str] | None = None) -> str:
    """Serialize a dict as SDO child elements; dict/list values become nested elements."""
    parts = []
    for name in order or list(fields):
        value = fields.get(name)
        if isinstance(value, list):
            for item in value:
                parts.append(f"<{prefix}:{name}>{sdo_xml(prefix, item)}</{prefix}:{name}>")
        elif isinstance(value, dict):
            parts.append(f"<{prefix}:{name}>{sdo_xml(prefix, value)}</{prefix}:{name}>")
        elif value is None:
            parts.append(f'<{prefix}:{name} xsi:nil="true"/>')
        else:
            attr = ""
            if amount_fields and name in amount_fields:
                attr = f" currencyCode={quoteattr(amount_fields[name])}"
            parts.append(f"<{prefix}:{name}{attr}>{escape(_value_text(value))}</{prefix}:{name}>")
    return "".join(parts)


def envelope(action: str, body_xml: str) -> Response:
    xml = ('<?xml version="1.0" encoding="UTF-8"?>'
           f'<env:Envelope xmlns:env="{SOAP_ENV}" xmlns:wsa="{WSA}" xmlns:xsi="{XSI}">'
           f"<env:Header><wsa:Action>{escape(action)}</wsa:Action>"
           f"<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID></env:Header>"
           f"<env:Body>{body_xml}</env:Body></env:Envelope>")
    return Response(xml, status=200, mimetype="text/xml", content_type="text/xml; charset=UTF-8")


def result_response(types_ns: str, svc_ns: str, op: str, result_type: str, inner_xml: str,
                    action_ns: str | None = None) -> Response:
    """``<op>Response/result`` (types ns, ``xsi:type`` from the service ns) in an envelope whose
    ``wsa:Action`` is ``<action ns><op>Response`` (action ns defaults to the service ns), as
    every ADF service answers; the SDO payload in ``inner_xml`` uses prefix ``ns1`` for the
    service namespace."""
    body = (f'<ns0:{op}Response xmlns:ns0="{types_ns}">'
            f'<ns2:result xmlns:ns2="{types_ns}" xmlns:ns1="{svc_ns}" xsi:type="ns1:{result_type}">'
            f"{inner_xml}</ns2:result></ns0:{op}Response>")
    return envelope((action_ns or svc_ns) + op + "Response", body)


def _service_message(detail: dict) -> str:
    inner = f"<tns:message>{escape(detail.get('message', ''))}</tns:message>"
    if detail.get("code"):
        inner = f"<tns:code>{escape(detail['code'])}</tns:code>" + inner
    inner += "<tns:severity>SEVERITY_ERROR</tns:severity>"
    for key in ("attributeName", "attributeValue", "objectName"):
        if detail.get(key):
            inner += f"<tns:{key}>{escape(str(detail[key]))}</tns:{key}>"
    return f"<tns:detail>{inner}</tns:detail>"


def fault_response(fault: ServiceFault) -> Response:
    """HTTP 500 with env:Fault and the ADF ``ServiceErrorMessage`` detail (§6.4)."""
    if fault.code.startswith("env:"):
        faultcode, detail = fault.code, ""
    else:
        faultcode = "env:Server"
        detail = (f'<detail><tns:ServiceErrorMessage xmlns:tns="{ADF_ERRORS}">'
                  f"<tns:code>{escape(fault.code)}</tns:code>"
                  f"<tns:message>{escape(fault.message)}</tns:message>"
                  f"<tns:severity>SEVERITY_ERROR</tns:severity>"
                  + "".join(_service_message(d) for d in fault.details)
                  + f"<tns:exceptionClassName>{escape(fault.exception_class)}</tns:exceptionClassName>"
                  "</tns:ServiceErrorMessage></detail>")
    xml = ('<?xml version="1.0" encoding="UTF-8"?>'
           f'<env:Envelope xmlns:env="{SOAP_ENV}"><env:Body><env:Fault>'
           f"<faultcode>{faultcode}</faultcode><faultstring>{escape(fault.message)}</faultstring>"
           f"{detail}</env:Fault></env:Body></env:Envelope>")
    return Response(xml, status=500, content_type="text/xml; charset=UTF-8")


# --- ADF FindCriteria ---------------------------------------------------------------------------
def parse_find_criteria(el: Element | None) -> dict:
    """fetchStart/fetchSize, filter groups/items and findAttribute list of an ADF FindCriteria."""
    crit = {"fetchStart": 0, "fetchSize": -1, "groups": [], "findAttribute": [],
            "conjunction": "And"}
    if el is None:
        return crit
    t = ADF_TYPES
    for name in ("fetchStart", "fetchSize"):
        value = text_of(el, t, name)
        if value not in (None, ""):
            try:
                crit[name] = int(value)
            except ValueError:
                raise ServiceFault("env:Client", f"{name} must be an integer.") from None
    crit["findAttribute"] = [(a.text or "").strip() for a in el.findall(f"{{{t}}}findAttribute")]
    flt = el.find(f"{{{t}}}filter")
    if flt is not None:
        crit["conjunction"] = text_of(flt, t, "conjunction") or "And"
        for group in flt.findall(f"{{{t}}}group"):
            g = {"conjunction": text_of(group, t, "conjunction") or "And",
                 "upper": (text_of(group, t, "upperCaseCompare") or "false") == "true", "items": []}
            for item in group.findall(f"{{{t}}}item"):
                g["items"].append({
                    "conjunction": text_of(item, t, "conjunction") or "And",
                    "upper": (text_of(item, t, "upperCaseCompare") or "false") == "true",
                    "attribute": text_of(item, t, "attribute"),
                    "operator": text_of(item, t, "operator") or "=",
                    "values": [(v.text or "").strip() for v in item.findall(f"{{{t}}}value")],
                })
            crit["groups"].append(g)
    return crit
