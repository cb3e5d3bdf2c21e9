"""ADF REST framework behaviour shared by every resource: versions, bodies, links, collections.

Resources describe themselves with a :class:`ResourceSpec`; the helpers here turn stored
records into items and collection envelopes exactly as ADF does (``items``/``count``/
``hasMore``/``limit``/``offset``/``links``, ``fields``, ``onlyData``, ``expand``, paging).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable

import simplejson
from flask import Response, current_app, g, request

from .errors import RestError, bad_request, not_found
from .query import compile_q, parse_finder, parse_order_by, coerce
from .store import format_stamp

ITEM_TYPE = "application/vnd.oracle.adf.resourceitem+json"
COLLECTION_TYPE = "application/vnd.oracle.adf.resourcecollection+json"
ACTION_TYPE = "application/vnd.oracle.adf.action+json"
DESCRIBE_TYPE = "application/vnd.oracle.adf.description+json"
VERSION = "11.13.18.05"
AUDIT_STAMPS = ("CreationDate", "LastUpdateDate")


@dataclass
class ResourceSpec:
    """What ADF knows about a resource: key, attribute types, q-queryable set, finders, children."""
    name: str
    api: str                                     # fscmRestApi | crmRestApi
    key: str                                     # attribute in the item URL
    attributes: dict[str, str]                   # attribute -> query type (STR/NUM/DATE/DATETIME)
    queryable: set[str]
    finders: dict[str, dict[str, str]]           # finder -> variable -> attribute it filters
    children: list[str] = field(default_factory=list)
    updatable: set[str] = field(default_factory=set)
    actions: list[str] = field(default_factory=list)

    def queryable_types(self) -> dict[str, str]:
        return {a: self.attributes[a] for a in self.queryable}


# --- request helpers ----------------------------------------------------------------------------
def pod():
    """The running app's :class:`~sandbox.fusion.app.Pod` (store, settings, seed)."""
    return current_app.extensions["fusion_pod"]


def check_version(version: str) -> None:
    """The URL's resource version: the one version the sandbox serves, or ``latest``."""
    if version not in (VERSION, "latest"):
        raise not_found(f"The resource version {version} doesn't exist.")


def get_or_404(table: dict, raw_key: str, message: str) -> dict:
    """The record under the numeric key in the URL; 404 with ``message`` when there is none."""
    try:
        record = table.get(int(raw_key))
    except ValueError:
        record = None
    if record is None:
        raise not_found(message)
    return record


def caller() -> str:
    """The authenticated user name recorded in CreatedBy/LastUpdatedBy."""
    return g.get("fusion_user") or "ANONYMOUS"


def framework_version() -> int:
    raw = request.headers.get("REST-Framework-Version")
    if raw is None:
        return pod().settings.default_framework_version
    try:
        version = int(raw.strip())
    except ValueError:
        version = 0
    if not 1 <= version <= 9:
        # reported as plain text: the version that would pick the error format is the bad one
        raise bad_request(f"The REST-Framework-Version {raw!r} isn't supported.", "", "")
    return version


def json_body(media_types: tuple[str, ...] = ("application/json", ITEM_TYPE)) -> dict:
    """The request body as a dict with ``Decimal`` numbers; 415 on a foreign media type."""
    ctype = (request.mimetype or "").lower()
    if ctype not in media_types:
        raise RestError(f"The media type {request.mimetype or '(none)'} isn't supported.",
                        "", "", 415)
    try:
        body = json.loads(request.get_data(as_text=True) or "null", parse_float=Decimal)
    except ValueError as exc:
        raise bad_request(f"The request body isn't valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def upsert_requested() -> bool:
    """``Upsert-Mode: true`` on a POST: update the matching item instead of creating (rest.md §0)."""
    raw = (request.headers.get("Upsert-Mode") or "false").strip().lower()
    if raw not in ("true", "false"):
        raise bad_request(f"The Upsert-Mode header must be true or false, not {raw!r}.")
    return raw == "true"


def refuse_upsert(resource: str) -> None:
    """For resources whose upsert the sandbox doesn't simulate: a clear 400, never a silent create."""
    if upsert_requested():
        raise bad_request(f"Upsert-Mode isn't supported by the Fusion sandbox for {resource}; "
                          "look the item up and PATCH it, or POST without Upsert-Mode.")


def check_attributes(body: dict, allowed: set[str], resource: str, path: str = "",
                     read_only: set[str] = frozenset()) -> None:
    """ADF rejects attributes the resource doesn't have, and writes to read-only ones."""
    for attr in body:
        if attr in read_only:
            raise bad_request(f"Attempt to set a value for the read-only attribute {attr} "
                              f"in {resource}.", "JBO-27008", f"{path}/{attr}")
        if attr not in allowed:
            raise bad_request(f"The request includes the attribute {attr}, which isn't found "
                              f"in the resource {resource}.", "", f"{path}/{attr}")


def dumps(data: Any) -> str:
    return simplejson.dumps(data, use_decimal=True)


def json_response(data: Any, status: int = 200, mimetype: str = ITEM_TYPE, headers=None) -> Response:
    return Response(dumps(data), status=status, mimetype=mimetype, headers=headers)


# --- links ----------------------------------------------------------------------------------------
def resource_url(spec: ResourceSpec, key: Any = None) -> str:
    base = f"{request.host_url.rstrip('/')}/{spec.api}/resources/{VERSION}/{spec.name}"
    return base if key is None else f"{base}/{key}"


def item_links(spec: ResourceSpec, key: Any, change_indicator: str) -> list[dict]:
    href = resource_url(spec, key)
    links = [
        {"rel": "self", "href": href, "name": spec.name, "kind": "item",
         "properties": {"changeIndicator": change_indicator}},
        {"rel": "canonical", "href": href, "name": spec.name, "kind": "item"},
    ]
    links += [{"rel": "child", "href": f"{href}/child/{child}", "name": child, "kind": "collection"}
              for child in spec.children]
    links += [{"rel": "action", "href": f"{href}/action/{action}", "name": action, "kind": "other"}
              for action in spec.actions]
    return links


def change_indicator(version: int) -> str:
    """Opaque ETag-like value that changes with every update of the row."""
    return "ACED0005737200136A6176612E7574696C2E41727261794C697374" + f"{version:08X}"


def check_if_match(version: int) -> None:
    """A write with ``If-Match`` goes ahead only while the value is the item's current
    ``changeIndicator`` (or ``*``); a stale one is 412 Precondition Failed (rest.md §6.2)."""
    raw = request.headers.get("If-Match")
    if raw is None:
        return
    tags = {t.strip().removeprefix("W/").strip('"') for t in raw.split(",")}
    if "*" not in tags and change_indicator(version) not in tags:
        raise RestError("Another user has changed the row: the If-Match value isn't the current "
                        "changeIndicator.", "JBO-25014", "", 412)


def child_collection(items: list[dict], href: str, name: str, version: int) -> Any:
    """Nested children: bare arrays before framework v3, collection objects from v3."""
    if version < 3:
        return items
    return {"items": items, "count": len(items), "hasMore": False, "limit": max(25, len(items)),
            "offset": 0, "links": [{"rel": "self", "href": href, "name": name, "kind": "collection"}]}


# --- shaping: fields / onlyData / expand ----------------------------------------------------------
@dataclass
class Shape:
    fields: list[str] | None           # top-level attributes to keep (None = all)
    child_fields: dict[str, list[str]]
    expand: set[str]                   # child names to inline
    only_data: bool


def _names(raw: str) -> list[str]:
    return [n.strip() for n in raw.split(",") if n.strip()]


def parse_fields(owner: str, attributes: Iterable[str] | None,
                 nested: dict[str, set[str]] | None = None) -> tuple[list[str] | None, dict]:
    """``fields=a,b;child:c,d`` checked against the ``owner``'s attributes (``None``: a child the
    sandbox doesn't model, trimmed but not checked) and its children's; returns (own fields, or
    None without ``fields``, and {child: fields})."""
    if "fields" not in request.args:
        return None, {}
    segments = request.args["fields"].split(";")
    own = _names(segments[0])
    if attributes is not None:
        for name in own:
            if name not in attributes:
                raise bad_request(f"The field {name} isn't valid for {owner}.", "", "fields")
    children = {}
    for seg in segments[1:]:
        name, _, wanted = seg.partition(":")
        name = name.strip()
        if name not in (nested or {}):
            raise bad_request(f"The child {name} isn't valid for {owner}.", "", "fields")
        children[name] = _names(wanted)
        for n in children[name]:
            if n not in nested[name]:
                raise bad_request(f"The field {n} isn't valid for {name}.", "", "fields")
    return own, children


def trim(row: dict, wanted: list[str] | None, nested: dict[str, list[str]] | None = None) -> dict:
    """The row cut down to the ``fields`` asked for; ``nested`` trims (and keeps) its own
    children, bare arrays or collection objects alike."""
    nested = nested or {}
    out = row if wanted is None else {k: v for k, v in row.items() if k in wanted or k in nested}
    for name, fields in nested.items():
        value = out.get(name)
        if isinstance(value, dict):
            out = {**out, name: {**value, "items": [trim(r, fields) for r in value["items"]]}}
        elif isinstance(value, list):
            out = {**out, name: [trim(r, fields) for r in value]}
    return out


def wants_nested(name: str) -> bool:
    """Whether a child-collection GET asks for its rows' own child ``name`` (expand/fields)."""
    expand = request.args.get("expand", "")
    fields = request.args.get("fields", "")
    return expand == "all" or name in _names(expand) or f";{name}:" in f";{fields}"


def with_nested(row: dict, name: str, row_href: str, fw: int) -> dict:
    """A child row with its own child ``name`` shaped as the framework version wants
    (bare array before v3, collection object from v3)."""
    return {**row, name: child_collection(row.get(name) or [], f"{row_href}/child/{name}", name, fw)}


def parse_shape(spec: ResourceSpec, child_specs: dict[str, set[str]]) -> Shape:
    """Read ``fields``, ``expand`` and ``onlyData``; unknown names → 400 like ADF."""
    args = request.args
    only_data = args.get("onlyData", "false").lower() == "true"
    fields, child_fields, expand = None, {}, set()
    if "fields" in args:
        fields, child_fields = parse_fields(spec.name, spec.attributes, child_specs)
        expand = set(child_fields)
    elif "expand" in args:
        raw = args["expand"].strip()
        if raw == "all":
            expand = set(child_specs)
        else:
            for name in (n.strip() for n in raw.split(",") if n.strip()):
                top = name.split(".")[0]
                if top not in child_specs:
                    raise bad_request(f"The child {name} isn't valid for {spec.name}.", "", "expand")
                expand.add(top)
    return Shape(fields, child_fields, expand, only_data)


def shape_item(spec: ResourceSpec, flat: dict, children: dict[str, list[dict]], shape: Shape,
               key: Any, version_indicator: str, fw: int, inline: set[str] = frozenset()) -> dict:
    """One item: attributes (fields-filtered), inlined children, links (unless onlyData)."""
    item = trim(flat, shape.fields)
    for child, rows in children.items():
        if child in shape.expand or child in inline:
            rows = [trim(r, shape.child_fields.get(child)) for r in rows]
            item[child] = child_collection(rows, f"{resource_url(spec, key)}/child/{child}", child, fw)
    if not shape.only_data:
        item["links"] = item_links(spec, key, version_indicator)
    return item


def filter_sort(spec: ResourceSpec, flats: list[dict], fw: int,
                extra_finders: dict[str, Callable[[dict, dict], bool]] | None = None) -> list[dict]:
    args = request.args
    rows = flats
    if "finder" in args:
        name, variables = parse_finder(args["finder"], spec.finders)
        special = (extra_finders or {}).get(name)
        if special:
            rows = [r for r in rows if special(r, variables)]
        else:
            for var, value in variables.items():
                attr = spec.finders[name][var]
                kind = spec.attributes.get(attr, "string")
                target = coerce(kind, value, var)
                rows = [r for r in rows if coerce(kind, r.get(attr), attr) == target]
    if "q" in args and args["q"].strip():
        pred = compile_q(args["q"], spec.queryable_types(), fw)
        rows = [r for r in rows if pred(r.get)]
    if "orderBy" in args:
        order = parse_order_by(args["orderBy"], set(spec.attributes))
        for attr, desc in reversed(order):
            kind = spec.attributes[attr]
            rows = sorted(rows, key=lambda r: (r.get(attr) is None, coerce(kind, r.get(attr), attr)
                                               if r.get(attr) is not None else 0), reverse=desc)
    return rows


def page_params() -> tuple[int, int]:
    settings = pod().settings
    try:
        limit = int(request.args.get("limit", 25))
        offset = int(request.args.get("offset", 0))
    except ValueError:
        raise bad_request("The limit and offset parameters must be integers.") from None
    if limit < 1 or offset < 0:
        raise bad_request("The limit must be positive and the offset not negative.")
    return min(limit, settings.max_limit), offset


def page_envelope(items: list[dict], total: int, limit: int, offset: int, href: str,
                  name: str) -> dict:
    """One page of a collection (top-level or child) as ADF wraps it; ``totalResults`` only
    when asked for."""
    body: dict = {"items": items}
    if request.args.get("totalResults", "false").lower() == "true":
        body["totalResults"] = total
    body.update({"count": len(items), "hasMore": offset + len(items) < total, "limit": limit,
                 "offset": offset,
                 "links": [{"rel": "self", "href": href, "name": name, "kind": "collection"}]})
    return body


def collection_envelope(spec: ResourceSpec, items: list[dict], total: int, limit: int,
                        offset: int) -> dict:
    return page_envelope(items, total, limit, offset, resource_url(spec), spec.name)


def flat_attributes(values: dict, attributes) -> dict:
    """An item's attributes as JSON shows them and ``q`` compares them: the audit stamps in
    Fusion's print format, everything else as stored."""
    return {a: format_stamp(values[a]) if a in AUDIT_STAMPS and values.get(a) else values.get(a)
            for a in attributes}


def collection_response(spec: ResourceSpec, child_specs: dict[str, set[str]],
                        records: Callable[[], Iterable[dict]], flat: Callable[[dict], dict],
                        render: Callable[[dict, Shape, int], dict]) -> Response:
    """GET on a collection: finder/``q``/``orderBy`` over the flattened rows, one page rendered.

    ``records`` is called under the store lock; ``flat`` gives the row the query sees (it must
    carry ``spec.key``), ``render`` the item returned for it.
    """
    fw = framework_version()
    shape = parse_shape(spec, child_specs)
    limit, offset = page_params()
    with pod().store.lock:
        by_key, rows = {}, []
        for record in records():
            row = flat(record)
            by_key[row[spec.key]] = record
            rows.append(row)
        rows = filter_sort(spec, rows, fw)
        items = [render(by_key[row[spec.key]], shape, fw) for row in rows[offset:offset + limit]]
    return json_response(collection_envelope(spec, items, len(rows), limit, offset),
                         mimetype=COLLECTION_TYPE)


def item_response(spec: ResourceSpec, child_specs: dict[str, set[str]], get: Callable[[], dict],
                  render: Callable[[dict, Shape, int], dict]) -> Response:
    """GET on one item: ``get`` (called under the store lock) finds it or raises 404."""
    fw = framework_version()
    shape = parse_shape(spec, child_specs)
    with pod().store.lock:
        return json_response(render(get(), shape, fw))


def created_response(spec: ResourceSpec, key: Any, item: dict) -> Response:
    """201 for a POST that created ``key``, with the new item's URL in ``Location``."""
    return json_response(item, status=201, headers={"Location": resource_url(spec, key)})


def child_page(spec: ResourceSpec, key: Any, child: str, rows: list[dict],
               item_links: bool = False, attributes: Iterable[str] | None = None,
               nested: dict[str, set[str]] | None = None) -> Response:
    """GET on an item's child collection: one page of ``rows``, ``fields`` checked against and
    trimmed to the child's ``attributes``; with ``item_links`` each row gets a self link unless
    ``onlyData=true``."""
    wanted, grandchildren = parse_fields(child, attributes, nested)
    limit, offset = page_params()
    href = f"{resource_url(spec, key)}/child/{child}"
    page = [trim(r, wanted, grandchildren) for r in rows[offset:offset + limit]]
    if item_links and request.args.get("onlyData", "false").lower() != "true":
        page = [{**r, "links": [{"rel": "self", "href": href, "name": child, "kind": "item"}]}
                for r in page]
    return json_response(page_envelope(page, len(rows), limit, offset, href, child),
                         mimetype=COLLECTION_TYPE)


def describe(spec: ResourceSpec, child_specs: dict[str, set[str]]) -> Response:
    """A compact ``/describe``: attributes with type, queryable and updatable flags, finders."""
    type_names = {"string": "string", "number": "number", "date": "date", "datetime": "datetime"}
    body = {"Resources": {spec.name: {
        "discrColumnType": False,
        "title": spec.name,
        "attributes": [{"name": a, "type": type_names.get(t, "string"),
                        "queryable": a in spec.queryable, "updatable": a in spec.updatable}
                       for a, t in spec.attributes.items()],
        "collection": {"finders": [{"name": f, "attributes": [{"name": v} for v in vs]}
                                   for f, vs in spec.finders.items()]},
        "item": {"actions": [{"name": a} for a in spec.actions]},
        "children": {c: {"attributes": [{"name": a} for a in sorted(attrs)]}
                     for c, attrs in child_specs.items()},
        "links": [{"rel": "self", "href": resource_url(spec) + "/describe", "name": "self",
                   "kind": "describe"}],
    }}}
    return json_response(body, mimetype=DESCRIBE_TYPE)
