"""The accounting mapping: which Fusion set-up values Shopify documents are posted with.

It comes from a TOML file (``MLC_MAPPING_FILE``) and is validated with marshmallow when a process
starts, so a typo fails the start-up with the offending key named instead of failing the first
invoice at three in the morning.
"""
from __future__ import annotations

import tomllib
import copy
from dataclasses import dataclass, field, replace
from pathlib import Path

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from connector.config import ConfigError

_name = fields.String(required=True, validate=validate.Length(min=1, max=240))
_account = fields.String(required=True, validate=validate.Regexp(r"^[0-9A-Za-z]+(-[0-9A-Za-z]+)*$",
                                                                 error="not a GL account combination"))


@dataclass(frozen=True)
class FusionSetup:
    business_unit: str
    transaction_source: str
    invoice_type: str
    credit_memo_type: str
    payment_terms: str
    source_system: str
    reference_set_id: str
    # When the shop currency differs from the business unit's ledger currency, Fusion needs a
    # conversion rate type on every document.
    ledger_currency: str = ""
    conversion_rate_type: str = "Corporate"


@dataclass(frozen=True)
class MemoLines:
    merchandise: str
    shipping: str
    discount: str
    gift_card: str
    tip: str


@dataclass(frozen=True)
class GlAccounts:
    revenue: str
    freight: str
    discount: str


@dataclass(frozen=True)
class TaxCodes:
    regime_code: str
    rate_code: str


@dataclass(frozen=True)
class Mapping:
    fusion: FusionSetup
    memo_lines: MemoLines
    gl: GlAccounts
    tax: TaxCodes
    shops: dict[str, "Mapping"] = field(default_factory=dict)

    def for_shop(self, domain: str) -> "Mapping":
        """The mapping with the shop's own ``[shops."<domain>".…]`` overrides applied."""
        return self.shops.get(domain, self)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _FusionSchema(_Strict):
    business_unit = _name
    transaction_source = fields.String(required=True, validate=validate.Length(min=1, max=50))
    invoice_type = fields.String(required=True, validate=validate.Length(min=1, max=20))
    credit_memo_type = fields.String(required=True, validate=validate.Length(min=1, max=20))
    payment_terms = fields.String(required=True, validate=validate.Length(min=1, max=15))
    source_system = fields.String(required=True, validate=validate.Length(min=1, max=30))
    reference_set_id = fields.String(required=True, validate=validate.Regexp(r"^\d+$"))
    ledger_currency = fields.String(load_default="", validate=validate.Regexp(r"^([A-Z]{3})?$"))
    conversion_rate_type = fields.String(load_default="Corporate", validate=validate.Length(min=1, max=30))

    @post_load
    def build(self, data, **_):
        return FusionSetup(**data)


class _MemoLinesSchema(_Strict):
    merchandise = fields.String(required=True, validate=validate.Length(min=1, max=50))
    shipping = fields.String(required=True, validate=validate.Length(min=1, max=50))
    discount = fields.String(required=True, validate=validate.Length(min=1, max=50))
    gift_card = fields.String(required=True, validate=validate.Length(min=1, max=50))
    tip = fields.String(required=True, validate=validate.Length(min=1, max=50))

    @post_load
    def build(self, data, **_):
        return MemoLines(**data)


class _GlSchema(_Strict):
    revenue = _account
    freight = _account
    discount = _account

    @post_load
    def build(self, data, **_):
        return GlAccounts(**data)


class _TaxSchema(_Strict):
    regime_code = fields.String(required=True, validate=validate.Length(min=1, max=30))
    rate_code = fields.String(required=True, validate=validate.Length(min=1, max=30))

    @post_load
    def build(self, data, **_):
        return TaxCodes(**data)


class MappingSchema(_Strict):
    fusion = fields.Nested(_FusionSchema, required=True)
    memo_lines = fields.Nested(_MemoLinesSchema, required=True)
    gl = fields.Nested(_GlSchema, required=True)
    tax = fields.Nested(_TaxSchema, required=True)

    @post_load
    def build(self, data, **_):
        return Mapping(**data)


def _flatten(messages, prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in messages.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.extend(_flatten(value, path))
        else:
            out.append(f"{path}: {' '.join(map(str, value))}")
    return out


def parse_mapping(document: dict, source: str = "mapping") -> Mapping:
    """The base mapping plus, per shop, the base deep-merged with that shop's overrides."""
    document = copy.deepcopy(document)
    overrides = document.pop("shops", {})
    if not isinstance(overrides, dict):
        raise ConfigError(f"{source} is invalid: shops: must be a table of shop domains")
    base = _validated(document, source)
    shops = {domain: _validated(_merged(document, override), f'{source} [shops."{domain}"]')
             for domain, override in overrides.items()}
    return replace(base, shops=shops)


def _validated(document: dict, source: str) -> Mapping:
    try:
        return MappingSchema().load(document)
    except ValidationError as exc:
        problems = "; ".join(sorted(_flatten(exc.messages)))
        raise ConfigError(f"{source} is invalid: {problems}") from None


def _merged(base: dict, override) -> dict:
    if not isinstance(override, dict):
        return override
    merged = copy.deepcopy(base)
    for key, value in override.items():
        merged[key] = _merged(merged.get(key, {}), value) if isinstance(value, dict) else value
    return merged


def load_mapping(path: Path) -> Mapping:
    try:
        document = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"MLC_MAPPING_FILE {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return parse_mapping(document, source=str(path))
