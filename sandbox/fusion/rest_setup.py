"""The pod's set-up as read-only lists of values, for ``ml-connector fit`` ("see if we fit").

Before it writes anything, a connector can read whether the names its mapping uses exist: the
business unit, the transaction source and types, memo lines, receipt methods, payment terms, tax
rates, conversion rate types, receivables activities, TCA source systems and GL account
combinations. Every row here comes from ``seed.toml``, the same set-up the writes validate
against, so a name ``fit`` finds is a name an invoice may use.

How sure each resource is (rest.md and the public material behind it are thin here):

* ``accountCombinationsLOV`` — name and attributes **[H]** (26C spec: ``_CODE_COMBINATION_ID``,
  ``_CHART_OF_ACCOUNTS_ID``, ``EnabledFlag``, ``StartDateActive``, ``EndDateActive``). The spec
  shows **no segment string**, so a combination cannot be looked up by its segments there; the
  sandbox adds ``ConcatenatedSegments`` **[L]**, queryable unless the setting
  ``account_combinations_by_segments`` is False (then a ``q`` on it is a 400, as the spec implies).
* ``paymentTermsLOV``, ``transactionSourcesLOV``, ``transactionTypesLOV``, ``memoLinesLOV`` —
  names and ``<Kind>Id``/``Name``/``Description``/``SetName`` **[M]** (one public code base that
  syncs them). The transaction type's class (``TransactionTypeClass``) and the source's numbering
  (``AutomaticTransactionNumbering`` Y/N) are **[L]**.
* ``accountingPeriodStatusLOV`` — the resource exists in Oracle's Financials REST API (a period
  status per ``PeriodNameId``, ``ApplicationId`` and ``LedgerId``) **[M]**; its other attributes
  (``ClosingStatus`` O/F/C/P/N as in ``GL_PERIOD_STATUSES``, ``StartDate``, ``EndDate``,
  ``PeriodYear``, ``PeriodNumber``) are **[L]**, and the item key here is the period name, not
  Oracle's hash of the three. Rows: Receivables (``ApplicationId`` 222), the months around today
  and every period the sandbox controls named (``periods.py``).
* ``customerProfileClassesLOV`` (``ProfileClassId``, ``Name``, ``Description``, ``Status``) — the
  resource name and its attributes are the sandbox's guess **[L]**: the reference names no REST
  list of customer profile classes (only the SOAP ``ReceivablesCustomerProfileService`` that
  assigns one), so ``fit`` reads it from ``MLC_FIT_RESOURCES profile_classes=<path>``.
* ``finBusinessUnitsLOV`` (``BusinessUnitId``, ``BusinessUnitName``), ``receiptMethodsLOV``,
  ``receivablesActivitiesLOV``, ``taxRatesLOV``, ``currencyConversionTypesLOV`` and the CRM
  ``sourceSystemsLOV`` — names and attributes **[L]**.

The connector reads each of them at a path it takes from ``MLC_FIT_RESOURCES``, so a pod that
names one differently is one setting away.
"""
from __future__ import annotations

from .query import DATE, NUM, STR
from .rest_common import ResourceSpec, pod
from .rest_reference import _register
from .store import today


def _spec(name: str, key: str, attributes: dict[str, str], api: str = "fscmRestApi",
          queryable: set[str] | None = None) -> ResourceSpec:
    return ResourceSpec(name=name, api=api, key=key, attributes=attributes,
                        queryable=set(attributes) if queryable is None else queryable, finders={})


def _named(rows: list[dict], key: str) -> list[dict]:
    return [{key: row["id"], "Name": row["name"], "Description": row.get("description") or row["name"],
             "SetName": "Common Set"} for row in rows]


def _business_units() -> list[dict]:
    return [{"BusinessUnitId": bu["id"], "BusinessUnitName": name, "LegalEntityName": bu.get("legal_entity"),
             "CurrencyCode": bu.get("currency"), "Status": "A"}
            for name, bu in pod().seed.business_units.items()]


def _transaction_sources() -> list[dict]:
    return [{**row, "AutomaticTransactionNumbering":
             "N" if pod().seed.transaction_sources[row["Name"]].get("numbering") == "manual" else "Y"}
            for row in _named(list(pod().seed.transaction_sources.values()), "TransactionSourceId")]


def _transaction_types() -> list[dict]:
    return [{**row, "TransactionTypeClass": pod().seed.transaction_types[row["Name"]]["class"]}
            for row in _named(list(pod().seed.transaction_types.values()), "TransactionTypeId")]


def _with_ids(rows: list[dict], base: int) -> list[dict]:
    """Rows the seed gives no id get a stable one by position."""
    return [{"id": base + n, **row} for n, row in enumerate(rows, 1)]


def _memo_lines() -> list[dict]:
    return _named(_with_ids(list(pod().seed.memo_lines.values()), 300000005000100), "MemoLineId")


def _payment_terms() -> list[dict]:
    return _named(_with_ids(list(pod().seed.payment_terms.values()), 300000005000200), "PaymentTermsId")


def _profile_classes() -> list[dict]:
    return [{"ProfileClassId": 300000005000600 + n, "Name": name, "Description": row.get("description") or name,
             "Status": "A"} for n, (name, row) in enumerate(pod().seed.profile_classes.items(), 1)]


def _receipt_methods() -> list[dict]:
    return _named(list(pod().seed.receipt_methods.values()), "ReceiptMethodId")


def _tax_rates() -> list[dict]:
    out, n = [], 0
    for code, regime in pod().seed.tax_regimes.items():
        for rate in regime.get("rates", []):
            n += 1
            out.append({"TaxRateId": 300000005000300 + n, "TaxRegimeCode": code, "TaxRateCode": rate,
                        "ActiveFlag": "Y"})
    return out


def _conversion_rate_types() -> list[dict]:
    return [{"ConversionTypeId": 300000005000400 + n, "UserConversionType": row["name"]}
            for n, row in enumerate(pod().seed.raw.get("conversion_rate_types", []), 1)]


def _receivables_activities() -> list[dict]:
    return [{"ReceivablesTrxId": a["id"], "Name": a["name"], "ActivityType": a["type"],
             "BusinessUnitName": a["business_unit"], "Status": "A"}
            for a in pod().seed.receivables_activities.values()]


def _source_systems() -> list[dict]:
    return [{"SourceSystemId": 300000005000500 + n, "SourceSystem": code, "SourceSystemName": row.get("name", code),
             "EnabledFlag": "Y"} for n, (code, row) in enumerate(pod().seed.source_systems.items(), 1)]


def _period_statuses() -> list[dict]:
    return pod().calendar.lov_rows(today())


def _account_combinations() -> list[dict]:
    return [{"_CODE_COMBINATION_ID": 300000005001000 + n, "_CHART_OF_ACCOUNTS_ID": 101,
             "EnabledFlag": "Y", "StartDateActive": "2020-01-01", "EndDateActive": None,
             "ConcatenatedSegments": combination}
            for n, combination in enumerate(pod().seed.gl_accounts, 1)]


class _AccountCombinations(ResourceSpec):
    """``ConcatenatedSegments`` is queryable only while the pod setting says so."""

    def queryable_types(self) -> dict[str, str]:
        types = super().queryable_types()
        if not pod().settings.account_combinations_by_segments:
            types.pop("ConcatenatedSegments", None)
        return types


_NAMED = {"Name": STR, "Description": STR, "SetName": STR}
ACCOUNT_ATTRS = {"_CODE_COMBINATION_ID": NUM, "_CHART_OF_ACCOUNTS_ID": NUM, "EnabledFlag": STR,
                 "StartDateActive": STR, "EndDateActive": STR, "ConcatenatedSegments": STR}

for spec, rows in (
    (_spec("finBusinessUnitsLOV", "BusinessUnitId", {"BusinessUnitId": NUM, "BusinessUnitName": STR,
                                                     "LegalEntityName": STR, "CurrencyCode": STR, "Status": STR}),
     _business_units),
    (_spec("transactionSourcesLOV", "TransactionSourceId", {"TransactionSourceId": NUM, **_NAMED,
                                                           "AutomaticTransactionNumbering": STR}),
     _transaction_sources),
    (_spec("transactionTypesLOV", "TransactionTypeId", {"TransactionTypeId": NUM, **_NAMED,
                                                       "TransactionTypeClass": STR}), _transaction_types),
    (_spec("memoLinesLOV", "MemoLineId", {"MemoLineId": NUM, **_NAMED}), _memo_lines),
    (_spec("paymentTermsLOV", "PaymentTermsId", {"PaymentTermsId": NUM, **_NAMED}), _payment_terms),
    (_spec("customerProfileClassesLOV", "ProfileClassId", {"ProfileClassId": NUM, "Name": STR,
                                                            "Description": STR, "Status": STR}), _profile_classes),
    (_spec("receiptMethodsLOV", "ReceiptMethodId", {"ReceiptMethodId": NUM, **_NAMED}), _receipt_methods),
    (_spec("taxRatesLOV", "TaxRateId", {"TaxRateId": NUM, "TaxRegimeCode": STR, "TaxRateCode": STR,
                                        "ActiveFlag": STR}), _tax_rates),
    (_spec("currencyConversionTypesLOV", "ConversionTypeId", {"ConversionTypeId": NUM,
                                                              "UserConversionType": STR}), _conversion_rate_types),
    (_spec("receivablesActivitiesLOV", "ReceivablesTrxId", {"ReceivablesTrxId": NUM, "Name": STR,
                                                            "ActivityType": STR, "BusinessUnitName": STR,
                                                            "Status": STR}), _receivables_activities),
    (_spec("sourceSystemsLOV", "SourceSystemId", {"SourceSystemId": NUM, "SourceSystem": STR,
                                                  "SourceSystemName": STR, "EnabledFlag": STR}, api="crmRestApi"),
     _source_systems),
    (_spec("accountingPeriodStatusLOV", "PeriodNameId", {
        "PeriodNameId": STR, "ApplicationId": NUM, "LedgerId": NUM, "PeriodYear": NUM, "PeriodNumber": NUM,
        "StartDate": DATE, "EndDate": DATE, "ClosingStatus": STR, "AdjustmentPeriodFlag": STR}), _period_statuses),
    (_AccountCombinations(name="accountCombinationsLOV", api="fscmRestApi", key="_CODE_COMBINATION_ID",
                          attributes=ACCOUNT_ATTRS, queryable=set(ACCOUNT_ATTRS), finders={}),
     _account_combinations),
):
    _register(spec, rows)
