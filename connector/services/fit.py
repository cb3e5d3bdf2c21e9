"""``ml-connector fit``: "see if we fit", a pod and its shops checked before anything is booked.

Read only, against the real Fusion pod and the real shops: every name the accounting mapping
gives (business unit, transaction source and types, memo lines, receipt methods, payment terms,
tax codes, GL accounts, conversion rate type, receivables activities, the source system) must
exist in Fusion, the integration user must be allowed each service the connector calls, and each
shop's app must hold the scopes and webhook subscriptions the flows need. Each check is small and
named; each failure says how to fix it, so a pre-sales call or an onboarding ends with a list of
set-up tasks rather than with parked orders on the first night.

A check is ``ok``, ``fail`` or ``unknown`` (the pod or the shop could not tell: a list of values
this pod does not serve, a service without a harmless read). Only ``fail`` fails the run.

The Fusion set-up lists are read at the paths in :data:`RESOURCES` (``MLC_FIT_RESOURCES``
overrides each): Oracle documents few of them, so their names and attributes are the reference's
best reading (see ``sandbox/fusion/rest_setup.py`` for how sure each is).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import flows
from connector.config import ConfigError
from connector.fusion import credit_memos, invoices, organizations, parties, receipts
from connector.fusion.errors import FusionAuthError, FusionError, FusionRejected
from connector.fusion.rest import CRM, FSCM
from connector.mapping.config import Mapping
from connector.models import Shop
from connector.services.shop_auth import advice as reauthorize_advice
from connector.shopify.client import (
    ReauthorizationRequired,
    ShopifyAuthError,
    ShopifyError,
)

OK, FAIL, UNKNOWN = "ok", "fail", "unknown"
RECEIVER_PATH = "/webhooks/shopify"   # web/views/webhooks.py
PAGE = 500


@dataclass(frozen=True)
class Result:
    check: str
    status: str
    detail: str
    fix: str = ""
    scope: str = ""     # "" for the pod and the base mapping; a shop's domain for its own

    def as_json(self) -> dict:
        return {"check": self.check, "status": self.status, "detail": self.detail, "fix": self.fix,
                "scope": self.scope}


def failed(results: list[Result]) -> bool:
    return any(r.status == FAIL for r in results)


# -- where Fusion's set-up lists are ----------------------------------------------------------

@dataclass(frozen=True)
class Lookup:
    path: str
    name: str           # the attribute holding the name the mapping gives
    what: str           # what a row is, for messages
    task: str           # the Fusion set-up task that creates one


LOOKUPS: dict[str, Lookup] = {
    "business_units": Lookup(f"{FSCM}/finBusinessUnitsLOV", "BusinessUnitName", "business unit",
                             "Manage Business Unit"),
    "transaction_sources": Lookup(f"{FSCM}/transactionSourcesLOV", "Name", "transaction source",
                                  "Manage Transaction Sources"),
    "transaction_types": Lookup(f"{FSCM}/transactionTypesLOV", "Name", "transaction type",
                                "Manage Transaction Types"),
    "memo_lines": Lookup(f"{FSCM}/memoLinesLOV", "Name", "memo line", "Manage Standard Memo Lines"),
    "receipt_methods": Lookup(f"{FSCM}/receiptMethodsLOV", "Name", "receipt method",
                              "Manage Receipt Classes and Methods"),
    "payment_terms": Lookup(f"{FSCM}/paymentTermsLOV", "Name", "payment terms", "Manage Receivables Payment Terms"),
    "profile_classes": Lookup(f"{FSCM}/customerProfileClassesLOV", "Name", "customer profile class",
                              "Manage Customer Profile Classes"),
    "tax_rates": Lookup(f"{FSCM}/taxRatesLOV", "TaxRateCode", "tax rate", "Manage Tax Rates and Tax Recovery Rates"),
    "conversion_rate_types": Lookup(f"{FSCM}/currencyConversionTypesLOV", "UserConversionType",
                                    "conversion rate type", "Manage Conversion Rate Types"),
    "receivables_activities": Lookup(f"{FSCM}/receivablesActivitiesLOV", "Name", "receivables activity",
                                     "Manage Receivables Activities"),
    "reference_sets": Lookup(f"{FSCM}/setIdSets", "SetId", "reference data set", "Manage Reference Data Sets"),
    "source_systems": Lookup(f"{CRM}/sourceSystemsLOV", "SourceSystem", "source system",
                             "Manage Trading Community Source Systems"),
    "account_combinations": Lookup(f"{FSCM}/accountCombinationsLOV", "ConcatenatedSegments", "account combination",
                                   "Manage Account Combinations"),
}
#: Each kind's default path; ``MLC_FIT_RESOURCES`` (``kind=path,…``) overrides them.
RESOURCES = {kind: lookup.path for kind, lookup in LOOKUPS.items()}


def resource_paths(overrides: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(overrides) - set(RESOURCES))
    if unknown:
        raise ConfigError(f"MLC_FIT_RESOURCES names {', '.join(unknown)}; the kinds are {', '.join(RESOURCES)}")
    return {**RESOURCES, **overrides}


class Unreadable(Exception):
    """A set-up list the pod would not give: ``status`` fail (a missing privilege) or unknown."""

    def __init__(self, status: str, detail: str, fix: str):
        super().__init__(detail)
        self.status, self.detail, self.fix = status, detail, fix


class PodSetup:
    """The pod's set-up lists, each read once per run, a page of 500 at a time."""

    def __init__(self, transport, paths: dict[str, str]):
        self._transport = transport
        self.paths = paths
        self._rows: dict[str, list[dict] | Unreadable] = {}

    def rows(self, kind: str) -> list[dict]:
        if kind not in self._rows:
            try:
                self._rows[kind] = self._read_all(kind)
            except Unreadable as exc:
                self._rows[kind] = exc
        found = self._rows[kind]
        if isinstance(found, Unreadable):
            raise found
        return found

    def account(self, combination: str) -> list[dict]:
        """The combination's rows, by a ``q`` on its segment string (no list of every one)."""
        attribute = LOOKUPS["account_combinations"].name
        return self._read("account_combinations", {"q": f"{attribute}='{combination}'", "limit": "5"})["items"]

    def _read_all(self, kind: str) -> list[dict]:
        rows: list[dict] = []
        while True:
            page = self._read(kind, {"limit": str(PAGE), "offset": str(len(rows))})
            rows += page.get("items") or []
            if not page.get("hasMore") or not page.get("items"):
                return rows

    def _read(self, kind: str, params: dict) -> dict:
        path = self.paths[kind]
        try:
            return self._transport.read(path, {"onlyData": "true", **params})
        except FusionAuthError as exc:
            raise Unreadable(FAIL, f"the integration user may not read {path} (HTTP {exc.status or '401/403'})",
                             f"give the integration user a role that can view {LOOKUPS[kind].what}s "
                             f"({LOOKUPS[kind].task})") from None
        except FusionRejected as exc:
            raise Unreadable(UNKNOWN, f"this pod answered HTTP {exc.status} to {path}: {str(exc)[:200]}",
                             f"point MLC_FIT_RESOURCES {kind}=<path> at this pod's list of {LOOKUPS[kind].what}s, "
                             f"or confirm the value in {LOOKUPS[kind].task}") from None
        except FusionError as exc:
            raise Unreadable(UNKNOWN, f"{path} could not be read: {str(exc)[:200]}", "run fit again") from None


# -- what the mapping needs from the pod --------------------------------------------------------

@dataclass(frozen=True)
class Need:
    check: str          # the check's id
    kind: str           # a key of LOOKUPS
    value: str          # the name the mapping gives
    key: str            # where the mapping gives it, for the fix
    expect: str = ""    # a transaction type's class, an activity's business unit, a rate's regime


def fusion_needs(m: Mapping) -> list[Need]:
    """Every Fusion name the mapping uses, each once, in the order a reader of the mapping meets them."""
    f = m.fusion
    needs = [Need("fusion.business_unit", "business_units", f.business_unit, "[fusion] business_unit"),
             Need("fusion.transaction_source", "transaction_sources", f.transaction_source,
                  "[fusion] transaction_source"),
             Need("fusion.transaction_type.invoice", "transaction_types", f.invoice_type, "[fusion] invoice_type", "INV"),
             Need("fusion.transaction_type.credit_memo", "transaction_types", f.credit_memo_type,
                  "[fusion] credit_memo_type", "CM")]
    if f.debit_memo_type:
        needs.append(Need("fusion.transaction_type.debit_memo", "transaction_types", f.debit_memo_type,
                          "[fusion] debit_memo_type", "DM"))
    needs += [Need("fusion.payment_terms", "payment_terms", f.payment_terms, "[fusion] payment_terms"),
              Need("fusion.source_system", "source_systems", f.source_system, "[fusion] source_system"),
              Need("fusion.reference_set", "reference_sets", f.reference_set_id, "[fusion] reference_set_id")]
    if f.ledger_currency:
        needs.append(Need("fusion.conversion_rate_type", "conversion_rate_types", f.conversion_rate_type,
                          "[fusion] conversion_rate_type"))
    needs += [Need(f"fusion.memo_lines.{field.name}", "memo_lines", getattr(m.memo_lines, field.name),
                   f"[memo_lines] {field.name}") for field in fields(m.memo_lines) if getattr(m.memo_lines, field.name)]
    if m.rounding.memo_line:
        needs.append(Need("fusion.memo_lines.rounding", "memo_lines", m.rounding.memo_line, "[rounding] memo_line"))
    needs += [Need(f"fusion.memo_lines.refund_adjustments.{reason}", "memo_lines", line.memo_line,
                   f"[refund_adjustments.{reason}] memo_line") for reason, line in sorted(m.refund_adjustments.items())]
    needs += [Need(f"fusion.receipt_methods.{gateway}", "receipt_methods", method, f"[receipt_methods] {gateway}")
              for gateway, method in sorted(m.receipt_methods.items())]
    needs += [Need("fusion.tax.regime", "tax_rates", m.tax.regime_code, "[tax] regime_code"),
              Need("fusion.tax.rate", "tax_rates", m.tax.rate_code, "[tax] rate_code", m.tax.regime_code)]
    needs += tax_row_needs(m)
    needs += [Need(f"fusion.gl.{field.name}", "account_combinations", getattr(m.gl, field.name), f"[gl] {field.name}")
              for field in fields(m.gl) if isinstance(getattr(m.gl, field.name), str) and getattr(m.gl, field.name)]
    needs += revenue_rule_needs(m)
    if m.rounding.account:
        needs.append(Need("fusion.gl.rounding", "account_combinations", m.rounding.account, "[rounding] account"))
    needs += [Need(f"fusion.gl.refund_adjustments.{reason}", "account_combinations", line.account,
                   f"[refund_adjustments.{reason}] account") for reason, line in sorted(m.refund_adjustments.items())]
    for name in ("clearing_activity", "store_credit_activity"):
        if getattr(m.refunds, name):
            needs.append(Need(f"fusion.refunds.{name}", "receivables_activities", getattr(m.refunds, name),
                              f"[refunds] {name}", f.business_unit))
    return needs + b2b_needs(m)


def tax_row_needs(m: Mapping) -> list[Need]:
    """A regime and a rate (of that regime) per ``[[tax.rates]]`` row, each named by the keys that
    match it; and the clearing account of taxes a sales channel collects, when it is booked apart."""
    needs = []
    for number, row in enumerate(m.tax.rates, 1):
        keys = ", ".join(f"{key} = {value!r}" if isinstance(value, str) else f"{key} = {value}"
                         for key, value in (("title", row.title), ("rate", row.rate), ("country", row.country),
                                            ("province", row.province)) if value not in ("", None))
        where = f"the [[tax.rates]] row {number} ({keys or 'matching every line'})"
        needs += [Need(f"fusion.tax.rates.{number}.regime", "tax_rates", row.regime_code, where),
                  Need(f"fusion.tax.rates.{number}.rate", "tax_rates", row.rate_code, where, row.regime_code)]
    if m.tax.channel_liable == "clearing" and m.tax.channel_liable_account:
        needs.append(Need("fusion.gl.tax.channel_liable_account", "account_combinations",
                          m.tax.channel_liable_account, "[tax] channel_liable_account"))
    return needs


def revenue_rule_needs(m: Mapping) -> list[Need]:
    """Each ``[[gl.revenue_rules]]`` row's account, and its memo line when it names one."""
    needs = []
    for number, rule in enumerate(m.gl.revenue_rules, 1):
        where = f"[[gl.revenue_rules]] row {number}"
        needs.append(Need(f"fusion.gl.revenue_rules.{number}", "account_combinations", rule.account, f"{where} account"))
        if rule.memo_line:
            needs.append(Need(f"fusion.memo_lines.revenue_rules.{number}", "memo_lines", rule.memo_line,
                              f"{where} memo_line"))
    return needs


def b2b_needs(m: Mapping) -> list[Need]:
    """The Fusion payment terms of the B2B terms table (and its default), and the profile class."""
    if m.b2b is None:
        return []
    needs = [Need(f"fusion.b2b.payment_terms.{'_'.join(terms.lower().split())}", "payment_terms", terms,
                  "[b2b] default_terms" if terms == m.b2b.default_terms else f"the [[b2b.terms]] row fusion = {terms!r}")
             for terms in m.b2b.fusion_terms()]
    if m.b2b.profile_class:
        needs.append(Need("fusion.b2b.profile_class", "profile_classes", m.b2b.profile_class, "[b2b] profile_class"))
    return needs


def _matching(rows: list[dict], attribute: str, value: str) -> list[dict]:
    return [r for r in rows if str(r.get(attribute) or "") == value]


def _missing(need: Need, rows: list[dict], attribute: str, scope: str) -> Result:
    """The name is not in the list: say so, and name a near miss (case, spaces) if there is one."""
    lookup = LOOKUPS[need.kind]
    near = sorted({str(r.get(attribute)) for r in rows
                   if str(r.get(attribute) or "").strip().lower() == need.value.strip().lower()})
    hint = f" (the pod has {', '.join(repr(n) for n in near)}: names must match exactly)" if near else ""
    return Result(need.check, FAIL, f"no {lookup.what} {need.value!r} in Fusion{hint}",
                  f"create it in Fusion ({lookup.task}) or change {need.key} in the mapping", scope)


def check_named(need: Need, pod: PodSetup, scope: str) -> Result:
    """A name that must simply exist (business unit, memo line, receipt method, terms, …)."""
    attribute = LOOKUPS[need.kind].name
    rows = pod.rows(need.kind)
    if not _matching(rows, attribute, need.value):
        return _missing(need, rows, attribute, scope)
    return Result(need.check, OK, f"{LOOKUPS[need.kind].what} {need.value!r} exists", scope=scope)


def check_transaction_source(need: Need, pod: PodSetup, scope: str) -> Result:
    """The source must number manually: the connector sends its own deterministic numbers, which
    are how a retried create finds the document it already made."""
    rows = pod.rows(need.kind)
    found = _matching(rows, "Name", need.value)
    if not found:
        return _missing(need, rows, "Name", scope)
    numbering = str(found[0].get("AutomaticTransactionNumbering") or "").upper()
    fix = (f"in Manage Transaction Sources, turn Automatic transaction numbering off for {need.value!r} "
           "(the connector numbers every document itself)")
    if numbering in ("N", "NO", "FALSE"):
        return Result(need.check, OK, f"transaction source {need.value!r} exists and numbers manually", scope=scope)
    if numbering in ("Y", "YES", "TRUE"):
        return Result(need.check, FAIL, f"transaction source {need.value!r} numbers automatically", fix, scope)
    return Result(need.check, UNKNOWN, f"transaction source {need.value!r} exists; this pod's list does not show "
                                       "how it numbers", fix, scope)


def check_transaction_type(need: Need, pod: PodSetup, scope: str) -> Result:
    rows = pod.rows(need.kind)
    found = _matching(rows, "Name", need.value)
    if not found:
        return _missing(need, rows, "Name", scope)
    kind = str(found[0].get("TransactionTypeClass") or "").upper()
    if not kind:
        return Result(need.check, UNKNOWN, f"transaction type {need.value!r} exists; this pod's list does not show "
                                           f"its class", f"confirm in Manage Transaction Types that its class is "
                                                         f"{need.expect}", scope)
    if kind != need.expect:
        return Result(need.check, FAIL, f"transaction type {need.value!r} is of class {kind}, not {need.expect}",
                      f"name a transaction type of class {need.expect} in {need.key}", scope)
    return Result(need.check, OK, f"transaction type {need.value!r} exists, class {kind}", scope=scope)


def check_tax_regime(need: Need, pod: PodSetup, scope: str) -> Result:
    rows = pod.rows(need.kind)
    if not _matching(rows, "TaxRegimeCode", need.value):
        return Result(need.check, FAIL, f"no tax regime {need.value!r} with rates in Fusion",
                      f"create it in Fusion (Manage Tax Regimes) or change {need.key} in the mapping", scope)
    return Result(need.check, OK, f"tax regime {need.value!r} exists", scope=scope)


def check_tax_rate(need: Need, pod: PodSetup, scope: str) -> Result:
    rows = [r for r in pod.rows(need.kind) if str(r.get("TaxRegimeCode") or "") == need.expect]
    if not _matching(rows, "TaxRateCode", need.value):
        return Result(need.check, FAIL, f"no tax rate {need.value!r} in regime {need.expect!r}",
                      f"create it in Fusion ({LOOKUPS['tax_rates'].task}) or change {need.key} in the mapping", scope)
    return Result(need.check, OK, f"tax rate {need.value!r} of regime {need.expect!r} exists", scope=scope)


def check_activity(need: Need, pod: PodSetup, scope: str) -> Result:
    """A refund's activity belongs to the business unit; the clearing one must be a Receipt
    Write-off, never a Refund (which would pay the customer a second time from Fusion)."""
    rows = pod.rows(need.kind)
    own = [r for r in rows if str(r.get("BusinessUnitName") or need.expect) == need.expect]
    found = _matching(own, "Name", need.value)
    if not found:
        elsewhere = " (it exists in another business unit)" if _matching(rows, "Name", need.value) else ""
        return Result(need.check, FAIL, f"no receivables activity {need.value!r} in {need.expect}{elsewhere}",
                      f"create it for {need.expect} (Manage Receivables Activities, type Receipt Write-off, on the "
                      f"refund clearing account) or change {need.key} in the mapping", scope)
    kind = str(found[0].get("ActivityType") or "")
    if need.check.endswith("clearing_activity") and kind and kind.lower() != "receipt write-off":
        return Result(need.check, FAIL, f"receivables activity {need.value!r} is of type {kind}",
                      "a refund the gateway already paid must leave the receipt through a Receipt Write-off "
                      "activity: name one in [refunds] clearing_activity", scope)
    return Result(need.check, OK, f"receivables activity {need.value!r} exists in {need.expect}"
                  + (f" ({kind})" if kind else ""), scope=scope)


def check_account(need: Need, pod: PodSetup, scope: str) -> Result:
    found = pod.account(need.value)
    fix = f"create or enable it in Fusion (Manage Account Combinations) or change {need.key} in the mapping"
    if not found:
        return Result(need.check, FAIL, f"no account combination {need.value}", fix, scope)
    row = found[0]
    if str(row.get("EnabledFlag") or "Y").upper() != "Y":
        return Result(need.check, FAIL, f"account combination {need.value} is disabled", fix, scope)
    end = str(row.get("EndDateActive") or "")
    if end and end[:10] < date.today().isoformat():
        return Result(need.check, FAIL, f"account combination {need.value} ended on {end[:10]}", fix, scope)
    return Result(need.check, OK, f"account combination {need.value} is valid", scope=scope)


CHECKS = {"transaction_sources": check_transaction_source, "transaction_types": check_transaction_type,
          "receivables_activities": check_activity, "account_combinations": check_account}


def check_need(need: Need, pod: PodSetup, scope: str = "") -> Result:
    if need.kind == "tax_rates":   # fusion.tax.regime, fusion.tax.rates.<n>.rate, …
        check = check_tax_rate if need.check.endswith(".rate") else check_tax_regime
    else:
        check = CHECKS.get(need.kind, check_named)
    try:
        return check(need, pod, scope)
    except Unreadable as exc:
        return Result(need.check, exc.status, f"{need.key} {need.value!r} not checked: {exc.detail}", exc.fix, scope)


def check_mappings(pod: PodSetup, mappings: list[tuple[str, Mapping]]) -> list[Result]:
    """Each mapping's needs; a shop's only where its overrides differ from what was checked."""
    seen: set[tuple] = set()
    results = []
    for scope, mapping in mappings:
        for need in fusion_needs(mapping):
            if (need.check, need.value, need.expect) in seen:
                continue
            seen.add((need.check, need.value, need.expect))
            results.append(check_need(need, pod, scope))
    return results


# -- what the integration user may do -----------------------------------------------------------

@dataclass(frozen=True)
class Service:
    check: str
    path: str
    what: str
    privilege: str


REST_SERVICES = (
    Service("fusion.access.invoices", invoices.PATH, "receivables invoices",
            "AR_CREATE_RECEIVABLES_INVOICE_PRIV (read, create and complete invoices)"),
    Service("fusion.access.credit_memos", credit_memos.PATH, "receivables credit memos",
            "AR_MANAGE_RECEIVABLES_TRANSACTIONS_PRIV (read) and AR_CREATE_RECEIVABLES_TRANSACTION_PRIV (create)"),
    Service("fusion.access.receipts", receipts.PATH, "standard receipts",
            "the privileges to view, create and apply receivables receipts"),
    Service("fusion.access.parties", parties.PATH, "customer parties (hubPersons)",
            "the Trading Community privileges to view and create persons"),
    Service("fusion.access.organizations", organizations.PATH, "organization parties (hubOrganizations, B2B)",
            "the Trading Community privileges to view and create organizations"),
)


def check_rest_service(transport, service: Service) -> Result:
    """One harmless read: a page of one row, data only."""
    try:
        transport.read(service.path, {"limit": "1", "onlyData": "true"})
    except FusionAuthError as exc:
        return Result(service.check, FAIL, f"the integration user may not read {service.what} "
                                           f"(HTTP {exc.status or '401/403'} on {service.path})",
                      f"grant the integration user {service.privilege}")
    except FusionError as exc:
        return Result(service.check, UNKNOWN, f"{service.path}: {str(exc)[:200]}", "run fit again")
    return Result(service.check, OK, f"the integration user can read {service.what}")


def check_soap_read(check: str, service: str, read, grant: str) -> Result:
    """A SOAP read of something no one has: nothing found is ``ok``, a 401/403 names what to grant."""
    try:
        read()
    except FusionAuthError as exc:
        return Result(check, FAIL, f"the integration user may not call {service} (HTTP {exc.status or '401/403'})",
                      f"grant the integration user {grant} ({service})")
    except FusionError as exc:
        return Result(check, UNKNOWN, f"{service}: {str(exc)[:200]}", "run fit again")
    return Result(check, OK, f"the integration user can call {service}")


def check_customer_account_service(client, source_system: str) -> Result:
    """CustomerAccountService by an original-system reference no account has: a read that finds nothing."""
    return check_soap_read("fusion.access.customer_accounts", "CustomerAccountService",
                           lambda: client.accounts.by_reference(source_system, "mlc-fit-probe"),
                           "the privileges to view and create customer accounts")


def check_customer_profile_service(client) -> Result:
    """ReceivablesCustomerProfileService, which gives a B2B account its profile class: the active
    profile of an account id no account has (Fusion answers that the record is missing)."""
    return check_soap_read("fusion.access.customer_profiles", "ReceivablesCustomerProfileService",
                           lambda: client.profiles.active("0"),
                           "the privileges to view and create customer profiles")


def soap_without_reads() -> list[Result]:
    """The SOAP services the connector only writes through: no read to prove the privilege with."""
    return [Result("fusion.access.credit_memo_service", UNKNOWN,
                   "CreditMemoService has no harmless read: its privilege shows on the first refund",
                   "grant the integration user AR_CREATE_RECEIVABLES_TRANSACTION_PRIV (CreditMemoService)"),
            Result("fusion.access.standard_receipt_service", UNKNOWN,
                   "StandardReceiptService has no harmless read: its privilege shows on the first refund of a paid "
                   "order", "grant the integration user the privileges to apply, unapply and write off receipts "
                                "(StandardReceiptService)")]


def check_fusion_access(client, source_system: str, profiles: bool = True) -> list[Result]:
    """``profiles``: some mapping gives B2B accounts a profile class, so the profile service is called."""
    return ([check_rest_service(client.transport, s) for s in REST_SERVICES]
            + [check_customer_account_service(client, source_system)]
            + ([check_customer_profile_service(client)] if profiles else []) + soap_without_reads())


def uses_profiles(mappings: list[tuple[str, Mapping]]) -> bool:
    return any(m.b2b is not None and m.b2b.profile_class for _, m in mappings)


# -- Shopify: scopes and webhook subscriptions --------------------------------------------------

#: The access scopes the flows need, and why.
SCOPES = {
    "read_orders": "orders/* and refunds/create webhooks, and the order and refund reads behind them",
    "read_customers": "customers/* webhooks",
    "read_all_orders": "reading an order older than 60 days (a refund or an edit of an old order)",
}
#: Needed only by a shop that pushes receipts entered in Fusion to Shopify (``shops set --push-fusion-receipts``).
PUSH_SCOPES = {"write_orders": "recording receipts entered in Fusion as the order's payments (orderMarkAsPaid, "
                               "orderCreateManualPayment)"}
INSTALLATION = "{ currentAppInstallation { accessScopes { handle } } }"
SUBSCRIPTIONS = """query FitWebhooks($after: String) {
  webhookSubscriptions(first: 100, after: $after) {
    nodes { topic uri apiVersion { handle } }
    pageInfo { hasNextPage endCursor } } }"""


def granted_scopes(client) -> set[str]:
    handles = {s["handle"] for s in client.graphql(INSTALLATION)["currentAppInstallation"]["accessScopes"]}
    # Shopify: a write_ scope grants its read_ scope
    return handles | {"read_" + h.removeprefix("write_") for h in handles if h.startswith("write_")}


def check_scopes(granted: set[str], domain: str, pushes_receipts: bool = False,
                 optional: list[flows.Flow] = ()) -> list[Result]:
    """``optional``: the optional topics the shop subscribes to, whose scopes it then needs."""
    needed = {**SCOPES, **(PUSH_SCOPES if pushes_receipts else {}),
              **{f.scope: f"{f.topic} webhooks (the shop subscribes to them)" for f in optional if f.scope}}
    return [Result(f"shopify.scopes.{scope}", OK, f"the app holds {scope}", scope=domain) if scope in granted
            else Result(f"shopify.scopes.{scope}", FAIL, f"the app lacks {scope}, needed for {why}",
                        f"add {scope} to the app's access scopes (shopify.app.toml [access_scopes] scopes) and "
                        "have the merchant approve the update", domain)
            for scope, why in needed.items()]


def subscriptions(client) -> list[dict]:
    nodes, after = [], None
    while True:
        page = client.graphql(SUBSCRIPTIONS, {"after": after})["webhookSubscriptions"]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def enum_of(topic: str) -> str:
    return topic.upper().replace("/", "_")


def subscribed_topics() -> list[str]:
    """The topics the connector handles that a shop must subscribe to (compliance topics are app
    settings; optional topics are checked only where the shop subscribes)."""
    return [f.topic for f in _subscribable() if not f.optional]


def optional_flows(nodes: list[dict]) -> list[flows.Flow]:
    """The optional topics' flows the shop subscribes to."""
    subscribed = {n["topic"] for n in nodes}
    return [f for f in _subscribable() if f.optional and enum_of(f.topic) in subscribed]


def _subscribable() -> list[flows.Flow]:
    return [f for f in flows.FLOWS if f.handler is not None and flows.compliance(f.topic) is None]


def check_webhooks(nodes: list[dict], domain: str, api_version: str, address: str) -> list[Result]:
    by_topic: dict[str, list[dict]] = {}
    for node in nodes:
        by_topic.setdefault(node["topic"], []).append(node)
    results = []
    none_at_all = "" if nodes else (" (the shop lists no subscription at all: subscriptions the app declares in "
                                    "shopify.app.toml are not listed by the Admin API, so confirm them there)")
    target = address or "<MLC_PUBLIC_URL>" + RECEIVER_PATH
    for topic in subscribed_topics() + [f.topic for f in optional_flows(nodes)]:
        check = f"shopify.webhooks.{topic}"
        found = by_topic.get(enum_of(topic), [])
        if not found:
            results.append(Result(check, FAIL, f"no subscription to {topic}{none_at_all}",
                                  f"subscribe: webhookSubscriptionCreate(topic: {enum_of(topic)}, webhookSubscription: "
                                  f'{{uri: "{target}", format: JSON}}) with API version {api_version}', domain))
            continue
        versions = sorted({n["apiVersion"]["handle"] for n in found})
        if api_version not in versions:
            results.append(Result(check, FAIL, f"{topic} is subscribed with API version {', '.join(versions)}, the "
                                               f"connector reads {api_version}",
                                  f"set the app's webhook API version to {api_version} and subscribe again, or "
                                  f"`ml-connector shops add {domain} --api-version {versions[0]}`", domain))
            continue
        results.append(Result(check, OK, f"{topic} subscribed with API version {api_version}", scope=domain))
    subscribed = optional_flows(nodes)
    results += [Result(f"shopify.webhooks.{f.topic}", OK, f"{f.topic} not subscribed (optional): {f.does} only "
                                                          "for a shop that subscribes", scope=domain)
                for f in _subscribable() if f.optional and f not in subscribed]
    results.append(check_webhook_address(nodes, domain, address))
    results.append(Result("shopify.webhooks.compliance", UNKNOWN,
                          ", ".join(c.topic for c in flows.COMPLIANCE) + " are set in the app's configuration "
                          "(Partner Dashboard or shopify.app.toml), which the Admin API does not show",
                          f"confirm the app's compliance webhooks point at {target}", domain))
    return results


def check_webhook_address(nodes: list[dict], domain: str, address: str) -> Result:
    ours = [n for n in nodes if n["topic"] in {enum_of(f.topic) for f in _subscribable()}]
    if not address:
        uris = sorted({n["uri"] for n in ours})
        return Result("shopify.webhooks.address", UNKNOWN,
                      "MLC_PUBLIC_URL is not set, so where the subscriptions deliver is not checked"
                      + (f" (they deliver to {', '.join(uris)})" if uris else ""),
                      "set MLC_PUBLIC_URL to the receiver's public URL", domain)
    elsewhere = sorted({f"{n['topic'].lower()} → {n['uri']}" for n in ours if n["uri"] != address})
    if elsewhere:
        return Result("shopify.webhooks.address", FAIL, f"subscriptions deliver elsewhere: {'; '.join(elsewhere)}",
                      f"subscribe them to {address} (and remove the others)", domain)
    return Result("shopify.webhooks.address", OK, f"subscriptions deliver to {address}", scope=domain)


@dataclass(frozen=True)
class ShopSeen:
    """What the Shopify checks need of a shop, read before the session's transaction ends."""

    domain: str
    api_version: str
    push_fusion_receipts: bool = False


def check_shop(client, shop: "Shop | ShopSeen", public_url: str) -> list[Result]:
    domain = shop.domain
    address = public_url + RECEIVER_PATH if public_url else ""
    try:
        granted = granted_scopes(client)
        nodes = subscriptions(client)
    except ReauthorizationRequired as exc:   # before its parent: the token, not the app's credentials
        return [Result("shopify.connection", FAIL, str(exc), reauthorize_advice(domain), domain)]
    except ShopifyAuthError as exc:
        return [Result("shopify.connection", FAIL, str(exc),
                       f"store the app's client id and secret again: `ml-connector shops add {domain} --client-id …`",
                       domain)]
    except ShopifyError as exc:
        return [Result("shopify.connection", UNKNOWN, str(exc)[:300], "run fit again", domain)]
    return (check_scopes(granted, domain, shop.push_fusion_receipts, optional_flows(nodes))
            + check_webhooks(nodes, domain, shop.api_version, address))


# -- the whole run ------------------------------------------------------------------------------

def run(services, session: Session, shop_domain: str = "", public_url: str | None = None) -> list[Result]:
    """Every check for the pod and for ``shop_domain`` (default: every configured shop). Reads only."""
    settings = services.settings
    public_url = (settings.public_url if public_url is None else public_url).rstrip("/")
    query = select(Shop).order_by(Shop.domain)
    shops = list(session.scalars(query.where(Shop.domain == shop_domain.lower()) if shop_domain else query))
    if shop_domain and not shops:
        raise ConfigError(f"no shop {shop_domain} is set up: run `ml-connector shops add`")
    mapping = services.mapping
    if shop_domain:   # the shop's mapping: its own scope only where it overrides the base one
        domain = shops[0].domain
        mappings = [(domain if domain in mapping.shops else "", mapping.for_shop(domain))]
    else:
        mappings = [("", mapping)] + [(s.domain, mapping.for_shop(s.domain)) for s in shops if s.domain in mapping.shops]
    fusion = fusion_results(services, session, mappings)
    clients = [(services.shopify(session, shop), ShopSeen(shop.domain, shop.api_version, shop.push_fusion_receipts)) for shop in shops]
    session.commit()  # no transaction held across Shopify's calls: a token refresh writes in a session of its own
    return (fusion
            + [r for client, shop in clients for r in check_shop(client, shop, public_url)]
            + ([] if shops else [Result("shopify.shops", FAIL, "no shop is set up",
                                        "run `ml-connector shops add DOMAIN --client-id …`")]))


def fusion_results(services, session: Session, mappings: list[tuple[str, Mapping]]) -> list[Result]:
    try:
        client = services.fusion(session)
        client.ping()
    except ConfigError as exc:
        return [Result("fusion.connection", FAIL, str(exc), "run `ml-connector fusion set`")]
    except FusionAuthError as exc:
        if exc.status == 403:   # connected, but no Receivables role: the access checks name it
            return check_fusion_access(client, mappings[0][1].fusion.source_system, uses_profiles(mappings))
        return [Result("fusion.connection", FAIL, str(exc), "store the pod's credentials again: "
                                                             "`ml-connector fusion set`")]
    except FusionError as exc:
        return [Result("fusion.connection", FAIL, str(exc)[:300], "check the pod's base URL and that it is up")]
    pod = PodSetup(client.transport, resource_paths(services.settings.fit_resources))
    return ([Result("fusion.connection", OK, f"connected to {client.transport.base_url}")]
            + check_mappings(pod, mappings)
            + check_fusion_access(client, mappings[0][1].fusion.source_system, uses_profiles(mappings)))
