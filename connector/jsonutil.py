"""JSON with exact money: numbers are read as Decimal and Decimals are written as numbers."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import simplejson


def loads(data: str | bytes) -> Any:
    return simplejson.loads(data, use_decimal=True)


def dumps(value: Any) -> str:
    return simplejson.dumps(value, use_decimal=True, separators=(",", ":"))


def money(value: Any) -> Decimal:
    """A Shopify amount (string, number or None) as a Decimal; None and "" are zero."""
    if value in (None, ""):
        return Decimal("0")
    return Decimal(str(value)) if not isinstance(value, Decimal) else value


def may_nest_deeper(text: bytes, limit: int) -> bool:
    """False when JSON ``text`` cannot nest more than ``limit`` deep: it opens no more objects and
    arrays than that. A brace or bracket inside a string counts too, so this only over-counts; what
    it lets through needs no walk (:func:`deeper_than`), which costs a small order more than its
    parse."""
    return text.count(b"{") + text.count(b"[") > limit


def deeper_than(value: Any, limit: int) -> bool:
    """Whether parsed JSON nests objects and arrays more than ``limit`` deep.

    Walked with a list, not recursion: a hostile body is never what exhausts the stack. Shopify's
    payloads nest less than ten deep; the worker parses a stored body again, so the receiver must
    not store one that its parser (or the code reading it) cannot take.
    """
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False
