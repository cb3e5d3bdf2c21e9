"""The accounting mapping: which Fusion set-up values Shopify documents are posted with.

It comes from a TOML file (``MLC_MAPPING_FILE``) and is validated with marshmallow when a process
starts, so a typo fails the start-up with the offending key named instead of failing the first
invoice at three in the morning.
"""
from __future__ import annotations

import copy
import tomllib
from dataclasses import MISSING, dataclass, field, replace
from dataclasses import fields as fields_of
from decimal import Decimal
from pathlib import Path

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from connector.config import ConfigError
from connector.mapping.dates import DatePolicy, DatesSchema


def _text(max_length: int) -> fields.String:
    """A required, non-empty setup name of at most ``max_length`` characters (Fusion's column size)."""
    return fields.String(required=True, validate=validate.Length(min=1, max=max_length))


_name = _text(240)
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
    # A transaction type of class DM, for order edits that raise the total after invoicing.
    debit_memo_type: str = ""


@dataclass(frozen=True)
class MemoLines:
    merchandise: str
    shipping: str
    discount: str
    gift_card: str
    tip: str
    # Optional, so that a mapping written before duties were booked still loads: an order with
    # duties or additional fees then parks, naming the key to add.
    duties: str = ""
    additional_fees: str = ""


@dataclass(frozen=True)
class RevenueRule:
    """One row of ``[[gl.revenue_rules]]``: the merchandise lines it matches (every key given must
    match: ``product_type`` and ``vendor`` ignoring case, ``sku_prefix`` the start of the SKU) and
    the revenue account (and, if given, the memo line) they are booked on instead of ``gl.revenue``."""

    account: str
    memo_line: str = ""
    product_type: str = ""
    vendor: str = ""
    sku_prefix: str = ""

    def matches(self, product_type: str, vendor: str, sku: str) -> bool:
        return ((not self.product_type or self.product_type.casefold() == product_type.strip().casefold())
                and (not self.vendor or self.vendor.casefold() == vendor.strip().casefold())
                and (not self.sku_prefix or sku.strip().startswith(self.sku_prefix)))


@dataclass(frozen=True)
class GlAccounts:
    revenue: str
    freight: str
    discount: str
    duties: str = ""             # optional, as the memo lines above
    additional_fees: str = ""
    # Optional too: an order that sells a gift card or carries a tip parks until they are set.
    # A gift card sold is money owed to its holder (a liability), not revenue; a tip is revenue
    # or a payable to staff, as the merchant books it.
    gift_cards: str = ""
    tips: str = ""
    #: Merchandise lines booked elsewhere than ``revenue``, first match wins.
    #: (:func:`connector.mapping.invoice.merchandise_line` applies them.)
    revenue_rules: tuple[RevenueRule, ...] = ()


@dataclass(frozen=True)
class TaxRow:
    """One row of the tax table: the Shopify tax lines it matches (every key given must match;
    ``title`` ignoring case, ``rate`` as a decimal fraction, ``country``/``province`` the order's
    shipping address, else its billing address) and the Fusion codes they get."""

    regime_code: str
    rate_code: str
    title: str = ""
    rate: Decimal | None = None
    country: str = ""
    province: str = ""

    def matches(self, title: str, rate: Decimal | None, country: str, province: str) -> bool:
        return ((not self.title or self.title.casefold() == title.strip().casefold())
                and (self.rate is None or self.rate == rate)
                and (not self.country or self.country.upper() == country.upper())
                and (not self.province or self.province.upper() == province.upper()))


@dataclass(frozen=True)
class TaxCodes:
    """Which Fusion tax regime and rate each Shopify tax line gets.

    ``regime_code``/``rate_code`` are the default: what a tax line no row of ``rates`` matches
    gets when ``unmatched`` is ``default``, and what documents carrying one tax amount for the
    whole order (an edit's debit memo, an on-account memo) use. With ``unmatched = "park"`` an
    order with a tax line no row matches parks, naming the row to add. ``channel_liable`` says what
    becomes of a tax the sales channel (a marketplace) collects and remits itself: ``clearing``
    books it apart, untaxed, on ``channel_liable_account`` (it is not the merchant's liability);
    ``merchant`` books it as the merchant's own tax."""

    regime_code: str
    rate_code: str
    rates: tuple[TaxRow, ...] = ()
    unmatched: str = "default"
    channel_liable: str = "clearing"
    channel_liable_account: str = ""

    def row(self, title: str, rate: Decimal | None, country: str, province: str) -> TaxRow | None:
        """The first row matching the tax line, if any."""
        return next((r for r in self.rates if r.matches(title, rate, country, province)), None)


@dataclass(frozen=True)
class RefundSetup:
    """Where money a refund gave back leaves a receipt: a Receipt Write-off activity on a clearing
    account (the gateway already paid the customer), or a liability activity for store credit."""

    clearing_activity: str = ""
    store_credit_activity: str = ""
    store_credit_gateway: str = "shopify_store_credit"
    # Fusion's ReasonCode on the memo that credits what a customer got beyond a refund's lines.
    discrepancy_reason_code: str = ""


@dataclass(frozen=True)
class Rounding:
    """How far an invoice's lines may fall from Shopify's total before the order parks, and where
    the difference goes. Shopify rounds each line and its total separately (a presentment
    currency converted part by part, say), so a legitimate order can miss by a unit; the
    default tolerance of zero parks it like any other mismatch."""

    tolerance: Decimal = Decimal(0)
    memo_line: str = ""
    account: str = ""


@dataclass(frozen=True)
class KeptLine:
    """Where money a refund kept back from the customer (a restocking fee, a discrepancy in the
    merchant's favour) is charged: a memo line of the debit memo and its revenue account."""

    memo_line: str
    account: str


MATCH_SCOPES = ("same_shop", "same_source_system", "any")
GUEST_POLICIES = ("guest_account", "park", "phone_party")
#: What an order with neither an email nor a phone number becomes under ``phone_party``.
NO_PHONE_POLICIES = ("guest_account", "park")


@dataclass(frozen=True)
class CustomerPolicy:
    """Who an order is billed to when Fusion already knows someone with its email, and what an
    order without an email becomes.

    ``match``: after the Shopify GID found nothing, an email matches only persons this connector
    created for this shop (``same_shop``), for any shop with the same TCA source system
    (``same_source_system``), or any person at all (``any``). ``guest_without_email``: a
    per-shop, per-currency guest account at ``guest_address`` (``guest_account``), park, or a
    person per phone number of this shop (``phone_party``, :mod:`connector.mapping.phones`), with
    ``guest_without_phone`` for an order that has no phone number either.
    """

    match: str = "same_shop"
    guest_without_email: str = "guest_account"
    guest_name: str = "Shopify Guest"
    #: A Shopify-style address (address1, address2, city, province_code, zip, country_code).
    guest_address: dict = field(default_factory=dict)
    #: Under ``phone_party``: what an order with no phone number either becomes.
    guest_without_phone: str = "guest_account"
    #: The country a phone number written without a country code is read in (the shop's own);
    #: ``guest_address``'s country when not given.
    phone_region: str = ""
    #: The hubPersons attribute the number goes in, as E.164. Oracle's published attribute names
    #: for a person's phone were not confirmed (``RawPhoneNumber``, ``PhoneNumber`` …): a setting.
    phone_attribute: str = "RawPhoneNumber"

    @property
    def region(self) -> str:
        return self.phone_region or str(self.guest_address.get("country_code") or "")

    @property
    def no_contact(self) -> str:
        """What an order with neither email nor phone number becomes: ``guest_account`` or ``park``."""
        return self.guest_without_phone if self.guest_without_email == "phone_party" else self.guest_without_email


TERMS_TYPES = ("NET", "RECEIPT", "FULFILLMENT", "FIXED")
B2B_UNMATCHED = ("park", "default")


def terms_key(name: str) -> str:
    """A Shopify terms name compared without case, spaces, ``_`` or ``-``: the REST webhook and
    GraphQL may spell one template "Net 30" or "NET_30"."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


@dataclass(frozen=True)
class TermsRow:
    """One row of the B2B payment terms table: the Shopify terms it matches (every key given must
    match: the template's ``name``, its ``type`` NET/RECEIPT/FULFILLMENT/FIXED, ``due_in_days``)
    and the Fusion payment terms name (``fusion``) the invoice gets."""

    fusion: str
    name: str = ""
    type: str = ""
    due_in_days: int | None = None

    def matches(self, name: str, kind: str, days: int | None) -> bool:
        return ((not self.name or terms_key(self.name) == terms_key(name))
                and (not self.type or self.type == kind.upper())
                and (self.due_in_days is None or self.due_in_days == days))


@dataclass(frozen=True)
class B2BSetup:
    """How an order placed by a Shopify B2B company is billed (docs/accounting.md, "B2B orders").

    ``terms``: Shopify payment terms to Fusion payment terms names, first match wins.
    ``default_terms``: the Fusion terms of a B2B order that carries none (and, with
    ``unmatched = "default"``, of one whose terms no row matches; ``park``, the default, parks
    it naming the row to add). ``profile_class``: the customer profile class each company
    location's account gets ('' leaves Fusion's default profile)."""

    terms: tuple[TermsRow, ...] = ()
    default_terms: str = ""
    unmatched: str = "park"
    profile_class: str = ""

    def row(self, name: str, kind: str, days: int | None) -> TermsRow | None:
        return next((r for r in self.terms if r.matches(name, kind, days)), None)

    def fusion_terms(self) -> list[str]:
        """Every Fusion payment terms name the section uses, once each, in order."""
        return list(dict.fromkeys([*(r.fusion for r in self.terms), *([self.default_terms] if self.default_terms
                                                                      else [])]))


@dataclass(frozen=True)
class Mapping:
    fusion: FusionSetup
    memo_lines: MemoLines
    gl: GlAccounts
    tax: TaxCodes
    #: Fusion receipt method per Shopify payment gateway (``default`` for any other gateway).
    receipt_methods: dict[str, str] = field(default_factory=dict)
    refunds: RefundSetup = field(default_factory=RefundSetup)
    #: Per order-adjustment reason (``restock``, ``refund_discrepancy``, … or ``default``).
    refund_adjustments: dict[str, KeptLine] = field(default_factory=dict)
    customers: CustomerPolicy = field(default_factory=CustomerPolicy)
    rounding: Rounding = field(default_factory=Rounding)
    #: What a document dated in a closed period becomes (``connector.mapping.dates``).
    dates: DatePolicy = field(default_factory=DatePolicy)
    #: None: the mapping has no ``[b2b]`` section, and a B2B order parks naming it.
    b2b: B2BSetup | None = None
    shops: dict[str, "Mapping"] = field(default_factory=dict)

    def for_shop(self, domain: str) -> "Mapping":
        """The mapping with the shop's own ``[shops."<domain>".…]`` overrides applied."""
        return self.shops.get(domain, self)

    def kept_line(self, reason: str) -> KeptLine | None:
        return self.refund_adjustments.get(reason) or self.refund_adjustments.get("default")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _Section(_Strict):
    """A mapping section, loaded into its frozen dataclass (``builds``)."""

    builds: type

    @post_load
    def build(self, data, **_):
        return self.builds(**data)


class _FusionSchema(_Section):
    builds = FusionSetup
    business_unit = _name
    transaction_source = _text(50)
    invoice_type = _text(20)
    credit_memo_type = _text(20)
    payment_terms = _text(15)
    source_system = _text(30)
    reference_set_id = fields.String(required=True, validate=validate.Regexp(r"^\d+$"))
    ledger_currency = fields.String(load_default="", validate=validate.Regexp(r"^([A-Z]{3})?$"))
    conversion_rate_type = fields.String(load_default="Corporate", validate=validate.Length(min=1, max=30))
    debit_memo_type = fields.String(load_default="", validate=validate.Length(max=20))


# Every memo line is a name of up to 50 characters, required unless MemoLines gives it a default:
# a new kind of line is a new field of MemoLines, and nothing here.
_MemoLinesSchema = type("_MemoLinesSchema", (_Section,), {"builds": MemoLines, **{
    f.name: _text(50) if f.default is MISSING else fields.String(load_default=f.default,
                                                                   validate=validate.Length(max=50))
    for f in fields_of(MemoLines)}})
_optional_account = fields.String(load_default="", validate=validate.Regexp(
    r"^([0-9A-Za-z]+(-[0-9A-Za-z]+)*)?$", error="not a GL account combination"))


class _RevenueRuleSchema(_Section):
    builds = RevenueRule
    account = _account
    memo_line = fields.String(load_default="", validate=validate.Length(max=50))
    product_type = fields.String(load_default="", validate=validate.Length(max=255))
    vendor = fields.String(load_default="", validate=validate.Length(max=255))
    sku_prefix = fields.String(load_default="", validate=validate.Length(max=255))

    @post_load
    def build(self, data, **_):
        if not (data["product_type"].strip() or data["vendor"].strip() or data["sku_prefix"].strip()):
            raise ValidationError("a rule needs product_type, vendor or sku_prefix to match lines", "product_type")
        return RevenueRule(**data)


class _GlSchema(_Section):
    builds = GlAccounts
    revenue = _account
    freight = _account
    discount = _account
    duties = _optional_account
    additional_fees = _optional_account
    gift_cards = _optional_account
    tips = _optional_account
    revenue_rules = fields.List(fields.Nested(_RevenueRuleSchema), load_default=())

    @post_load
    def build(self, data, **_):
        return GlAccounts(**dict(data, revenue_rules=tuple(data.get("revenue_rules", ()))))


class _TaxRowSchema(_Section):
    builds = TaxRow
    regime_code = _text(30)
    rate_code = _text(30)
    title = fields.String(load_default="", validate=validate.Length(max=255))
    rate = fields.Decimal(load_default=None, places=None, allow_nan=False, validate=validate.Range(min=0, max=1))
    country = fields.String(load_default="", validate=validate.Regexp(r"^([A-Za-z]{2})?$"))
    province = fields.String(load_default="", validate=validate.Length(max=10))


class _TaxSchema(_Section):
    builds = TaxCodes
    regime_code = _text(30)
    rate_code = _text(30)
    rates = fields.List(fields.Nested(_TaxRowSchema), load_default=(), data_key="rates")
    unmatched = fields.String(load_default="default", validate=validate.OneOf(["default", "park"]))
    channel_liable = fields.String(load_default="clearing", validate=validate.OneOf(["clearing", "merchant"]))
    channel_liable_account = _optional_account

    @post_load
    def build(self, data, **_):
        return TaxCodes(**dict(data, rates=tuple(data.get("rates", ()))))


class _RefundsSchema(_Section):
    builds = RefundSetup
    clearing_activity = fields.String(load_default="", validate=validate.Length(max=50))
    store_credit_activity = fields.String(load_default="", validate=validate.Length(max=50))
    store_credit_gateway = fields.String(load_default="shopify_store_credit")
    discrepancy_reason_code = fields.String(load_default="", validate=validate.Length(max=30))


class _RoundingSchema(_Section):
    builds = Rounding
    tolerance = fields.Decimal(load_default=Decimal(0), places=None, allow_nan=False,
                               validate=validate.Range(min=0, max=1))
    memo_line = fields.String(load_default="", validate=validate.Length(max=50))
    account = _optional_account


class _KeptLineSchema(_Section):
    builds = KeptLine
    memo_line = _text(50)
    account = _account


class _GuestAddressSchema(_Strict):
    address1 = _text(240)
    address2 = fields.String(load_default=None, validate=validate.Length(max=240))
    city = fields.String(load_default=None, validate=validate.Length(max=60))
    province_code = fields.String(load_default=None, validate=validate.Length(max=60))
    zip = fields.String(load_default=None, validate=validate.Length(max=60))
    country_code = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{2}$"))


class _CustomersSchema(_Section):
    builds = CustomerPolicy
    match = fields.String(load_default="same_shop", validate=validate.OneOf(MATCH_SCOPES))
    guest_without_email = fields.String(load_default="guest_account", validate=validate.OneOf(GUEST_POLICIES))
    guest_name = fields.String(load_default="Shopify Guest", validate=validate.Length(min=1, max=100))
    guest_address = fields.Nested(_GuestAddressSchema, load_default=dict)
    guest_without_phone = fields.String(load_default="guest_account", validate=validate.OneOf(NO_PHONE_POLICIES))
    phone_region = fields.String(load_default="", validate=validate.Regexp(r"^([A-Z]{2})?$"))
    phone_attribute = fields.String(load_default="RawPhoneNumber", validate=validate.Regexp(r"^[A-Z][A-Za-z]{1,39}$"))

    @post_load
    def build(self, data, **_):
        policy = CustomerPolicy(**data)
        if not data["guest_address"]:
            if policy.no_contact == "guest_account":
                raise ValidationError("needed when orders without an email or phone go to the guest account "
                                      "(guest_without_email or guest_without_phone is guest_account)",
                                      "guest_address")
            if policy.guest_without_email == "phone_party":
                raise ValidationError("needed when guest_without_email is phone_party: a phone party's "
                                      "BILL_TO site when its order has no billing address", "guest_address")
        return policy


class _TermsRowSchema(_Section):
    builds = TermsRow
    fusion = _text(15)
    name = fields.String(load_default="", validate=validate.Length(max=255))
    type = fields.String(load_default="", validate=validate.OneOf(["", *TERMS_TYPES]))
    due_in_days = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=0, max=3650))

    @post_load
    def build(self, data, **_):
        if not (data["name"] or data["type"] or data["due_in_days"] is not None):
            raise ValidationError("a row needs name, type or due_in_days to match Shopify's terms", "name")
        return TermsRow(**data)


class _B2BSchema(_Section):
    builds = B2BSetup
    terms = fields.List(fields.Nested(_TermsRowSchema), load_default=())
    default_terms = fields.String(load_default="", validate=validate.Length(max=15))
    unmatched = fields.String(load_default="park", validate=validate.OneOf(B2B_UNMATCHED))
    profile_class = fields.String(load_default="", validate=validate.Length(max=30))

    @post_load
    def build(self, data, **_):
        if data["unmatched"] == "default" and not data["default_terms"]:
            raise ValidationError("needed when unmatched is default", "default_terms")
        return B2BSetup(**dict(data, terms=tuple(data["terms"])))


class MappingSchema(_Strict):
    fusion = fields.Nested(_FusionSchema, required=True)
    memo_lines = fields.Nested(_MemoLinesSchema, required=True)
    gl = fields.Nested(_GlSchema, required=True)
    tax = fields.Nested(_TaxSchema, required=True)
    # Optional, so that a mapping written before payments were booked still loads: its payments
    # park, each naming the gateway to add.
    receipt_methods = fields.Dict(keys=fields.String(validate=validate.Length(min=1)), values=_text(30),
                                  load_default=dict)
    refunds = fields.Nested(_RefundsSchema, load_default=RefundSetup)
    refund_adjustments = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[a-z_]+$")),
                                     values=fields.Nested(_KeptLineSchema), load_default=dict)
    # Optional: a mapping without it matches emails within the shop only, and parks orders
    # without an email (there is no guest address to bill them to).
    customers = fields.Nested(_CustomersSchema, load_default=lambda: CustomerPolicy(guest_without_email="park"))
    rounding = fields.Nested(_RoundingSchema, load_default=Rounding)
    dates = fields.Nested(DatesSchema, load_default=DatePolicy)
    # Optional: a mapping without it parks B2B orders, naming the section to add.
    b2b = fields.Nested(_B2BSchema, load_default=None)

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
