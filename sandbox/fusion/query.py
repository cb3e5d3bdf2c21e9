"""Query parameters of ADF REST collections: ``q``, ``finder``, ``orderBy``.

Fusion only filters on the attributes a resource declares queryable, and says 400 for anything
else — a connector that filters on ``CrossReference`` with ``q`` must fail here as it would on a
pod. Two ``q`` grammars exist: framework v1 query-by-example (``A=1;B>2``) and v2+ expressions
(``A = 'x' and (B > 2 or C IS NULL)``).
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from .errors import bad_request

# attribute types understood by the comparisons
STR, NUM, DATE, DATETIME = "string", "number", "date", "datetime"

Predicate = Callable[[Callable[[str], Any]], bool]


# --- literal coercion -------------------------------------------------------------------------
def coerce(kind: str, value: Any, attr: str = "") -> Any:
    """Turn a literal or a record value into something comparable for the attribute's type."""
    if value is None:
        return None
    try:
        if kind == NUM:
            return Decimal(str(value))
        if kind == DATETIME:
            if isinstance(value, datetime):
                return value
            text = str(value).strip()
            if len(text) == 10:
                return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        if kind == DATE:
            if isinstance(value, date):
                return value if not isinstance(value, datetime) else value.date()
            return date.fromisoformat(str(value)[:10])
    except (ValueError, InvalidOperation):
        raise bad_request(f"The value {value!r} isn't valid for the attribute {attr}.",
                          "JBO-27018", attr) from None
    return str(value)


def like(pattern: str, value: Any) -> bool:
    if value is None:
        return False
    regex = "".join(".*" if ch in "%*" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, str(value), re.S) is not None


_COMPARE = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def _comparison(attr: str, kind: str, op: str, literal: Any) -> Predicate:
    if op.upper() == "LIKE":
        return lambda get: like(str(literal), get(attr))
    target = coerce(kind, literal, attr)
    cmp = _COMPARE[op]

    def pred(get):
        value = coerce(kind, get(attr), attr)
        if value is None:
            return False
        return cmp(value, target)
    return pred


# --- v2+ expression grammar -------------------------------------------------------------------
_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punc>[(),])
  | (?P<num>-?\d+(?:\.\d+)?(?![\w:-]))
  | (?P<word>[A-Za-z_][\w.]*)
)""", re.X)
_KEYWORDS = {"AND", "OR", "NOT", "LIKE", "IN", "IS", "NULL", "BETWEEN"}


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise bad_request(f"The query expression {text!r} is not valid near position {pos}.",
                              "", "q")
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "word" and value.upper() in _KEYWORDS:
            kind, value = "kw", value.upper()
        tokens.append((kind, value))
        pos = m.end()
    return tokens


class _ExprParser:
    def __init__(self, text: str, queryable: dict[str, str]):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.queryable = queryable

    def error(self, what: str):
        return bad_request(f"The query expression {self.text!r} is not valid: {what}.", "", "q")

    def peek(self, kind=None, value=None):
        if self.i >= len(self.tokens):
            return None
        tok = self.tokens[self.i]
        if (kind and tok[0] != kind) or (value and tok[1] != value):
            return None
        return tok

    def take(self, kind=None, value=None):
        tok = self.peek(kind, value)
        if tok is None:
            raise self.error(f"expected {value or kind}")
        self.i += 1
        return tok

    def parse(self) -> Predicate:
        pred = self.or_expr()
        if self.i != len(self.tokens):
            raise self.error(f"unexpected {self.tokens[self.i][1]!r}")
        return pred

    def or_expr(self) -> Predicate:
        return self._joined("OR", self.and_expr, any)

    def and_expr(self) -> Predicate:
        return self._joined("AND", self.unary, all)

    def _joined(self, keyword: str, operand: Callable[[], Predicate], combine) -> Predicate:
        """``operand (keyword operand)*``; AND binding tighter than OR comes from the nesting."""
        parts = [operand()]
        while self.peek("kw", keyword):
            self.i += 1
            parts.append(operand())
        return parts[0] if len(parts) == 1 else (lambda get: combine(p(get) for p in parts))

    def unary(self) -> Predicate:
        if self.peek("kw", "NOT"):
            self.i += 1
            inner = self.unary()
            return lambda get: not inner(get)
        if self.peek("punc", "("):
            self.i += 1
            inner = self.or_expr()
            self.take("punc", ")")
            return inner
        return self.condition()

    def literal(self) -> Any:
        tok = self.peek()
        if tok and tok[0] == "str":
            self.i += 1
            quote = tok[1][0]
            return tok[1][1:-1].replace(quote * 2, quote)
        if tok and tok[0] == "num":
            self.i += 1
            return tok[1]
        raise self.error("a quoted literal or a number was expected"
                         + (f", not {tok[1]!r}" if tok else ""))

    def condition(self) -> Predicate:
        attr = self.take("word")[1]
        if attr not in self.queryable:
            raise bad_request(f"The attribute {attr} isn't queryable.", "", "q")
        kind = self.queryable[attr]
        tok = self.peek()
        if tok is None:
            raise self.error("an operator was expected")
        if tok[0] == "op":
            self.i += 1
            return _comparison(attr, kind, tok[1], self.literal())
        negate = False
        if tok == ("kw", "NOT"):
            self.i += 1
            negate = True
            tok = self.peek()
        if tok == ("kw", "LIKE"):
            self.i += 1
            pred = _comparison(attr, kind, "LIKE", self.literal())
        elif tok == ("kw", "IN"):
            self.i += 1
            self.take("punc", "(")
            values = [coerce(kind, self.literal(), attr)]
            while self.peek("punc", ","):
                self.i += 1
                values.append(coerce(kind, self.literal(), attr))
            self.take("punc", ")")
            pred = lambda get: coerce(kind, get(attr), attr) in values  # noqa: E731
        elif tok == ("kw", "BETWEEN"):
            self.i += 1
            low = coerce(kind, self.literal(), attr)
            self.take("kw", "AND")
            high = coerce(kind, self.literal(), attr)

            def pred(get):
                v = coerce(kind, get(attr), attr)
                return v is not None and low <= v <= high
        elif tok == ("kw", "IS") and not negate:
            self.i += 1
            is_not = bool(self.peek("kw", "NOT"))
            if is_not:
                self.i += 1
            self.take("kw", "NULL")
            pred = (lambda get: get(attr) not in (None, "")) if is_not \
                else (lambda get: get(attr) in (None, ""))
        else:
            raise self.error(f"unexpected {tok[1]!r} after {attr}")
        return (lambda get: not pred(get)) if negate else pred


# --- v1 query-by-example ----------------------------------------------------------------------
def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts, buf, quote = [], [], None
    for ch in text:
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            buf.append(ch)
        elif ch == sep:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return parts


_V1_TERM = re.compile(r"^\s*(<=|>=|!=|<>|=|<|>)?\s*(.*?)\s*$", re.S)


def _parse_v1(text: str, queryable: dict[str, str]) -> Predicate:
    clauses: list[Predicate] = []
    for clause in _split_outside_quotes(text, ";"):
        m = re.match(r"^\s*([A-Za-z_]\w*)\s*(.*)$", clause, re.S)
        if not m:
            raise bad_request(f"The query-by-example clause {clause!r} is not valid.", "", "q")
        attr, rest = m.groups()
        if attr not in queryable:
            raise bad_request(f"The attribute {attr} isn't queryable.", "", "q")
        kind = queryable[attr]
        connector, terms = "and", []
        for piece in re.split(r"\s+(and|or)\s+", rest):
            if piece in ("and", "or"):
                connector = piece
                continue
            op, value = _V1_TERM.match(piece).groups()
            op = op or "="
            if len(value) >= 2 and value[0] in "'\"" and value[-1] == value[0]:
                value = value[1:-1]
            if op == "=" and ("*" in value or "%" in value):
                terms.append(_comparison(attr, kind, "LIKE", value))
            else:
                terms.append(_comparison(attr, kind, op, value))
        if connector == "or":
            clauses.append(lambda get, t=terms: any(p(get) for p in t))
        else:
            clauses.append(lambda get, t=terms: all(p(get) for p in t))
    return lambda get: all(c(get) for c in clauses)


def compile_q(text: str, queryable: dict[str, str], framework_version: int) -> Predicate:
    """Compile ``q`` for the framework version in force; 400 on syntax or non-queryable attrs."""
    if framework_version >= 2:
        return _ExprParser(text, queryable).parse()
    return _parse_v1(text, queryable)


# --- finder, orderBy --------------------------------------------------------------------------
def parse_finder(text: str, finders: dict[str, dict[str, str]]) -> tuple[str, dict[str, Any]]:
    """``name;Var=value,Var2=value`` → (name, {Var: value}); unknown finder or variable → 400."""
    name, _, rest = text.partition(";")
    name = name.strip()
    if name not in finders:
        raise bad_request(f"The finder {name} isn't valid for this resource.", "", "finder")
    variables: dict[str, Any] = {}
    if rest.strip():
        for part in re.split(r",(?=\s*[A-Za-z_]\w*\s*=)", rest):
            var, eq, value = part.partition("=")
            var = var.strip()
            if not eq or var not in finders[name]:
                raise bad_request(f"The finder variable {var} isn't valid for the finder {name}.",
                                  "", "finder")
            variables[var] = value
    return name, variables


def parse_order_by(text: str, attributes: set[str]) -> list[tuple[str, bool]]:
    """``A:asc,B:desc`` → [(A, False), (B, True)] (second = descending)."""
    order = []
    for part in text.split(","):
        attr, _, direction = part.strip().partition(":")
        direction = (direction or "asc").strip().lower()
        if attr not in attributes or direction not in ("asc", "desc"):
            raise bad_request(f"The orderBy value {part!r} isn't valid.", "", "orderBy")
        order.append((attr, direction == "desc"))
    return order
