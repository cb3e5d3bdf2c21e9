"""The pod's reference data (business units, sources, types, …) loaded from ``seed.toml``.

Fusion validates every name an integration sends against set-up like this; keeping it in a
TOML file lets the demo and the tests agree on the exact values without code changes.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

PACKAGED_SEED = Path(__file__).with_name("seed.toml")


@dataclass(frozen=True)
class Seed:
    business_units: dict[str, dict]
    reference_sets: dict[int, str]                 # SetId -> set code
    transaction_sources: dict[str, dict]
    transaction_types: dict[str, dict]
    memo_lines: dict[str, dict]
    payment_terms: dict[str, dict]
    gl_accounts: dict[str, dict]
    receipt_methods: dict[str, dict]
    source_systems: dict[str, dict]
    tax_regimes: dict[str, dict]
    receivables_activities: dict[tuple[str, str], dict]   # (business unit, name) -> activity
    raw: dict = field(repr=False, default_factory=dict)
    #: Customer profile classes by name (Manage Customer Profile Classes).
    profile_classes: dict[str, dict] = field(default_factory=dict)

    def source_by_id(self, source_id: int) -> dict | None:
        return next((s for s in self.transaction_sources.values() if s["id"] == source_id), None)

    def type_by_id(self, type_id: int) -> dict | None:
        return next((t for t in self.transaction_types.values() if t["id"] == type_id), None)

    def reference_set_rows(self) -> list[dict]:
        """Every reference data set as REST ``setIdSets`` shows it (SetName defaults to the code)."""
        rows = {r["set_id"]: r for r in [*self.business_units.values(),
                                         *self.raw.get("reference_sets", [])]}
        return [{"SetId": set_id, "SetCode": code, "SetName": rows[set_id].get("set_name") or code}
                for set_id, code in self.reference_sets.items()]

    def tax_rate_known(self, regime: str, rate: str) -> bool:
        return regime in self.tax_regimes and rate in self.tax_regimes[regime].get("rates", [])


def _index(rows: list[dict], key: str) -> dict:
    return {row[key]: row for row in rows}


def load_seed(path: str | Path | None = None) -> Seed:
    with open(path or PACKAGED_SEED, "rb") as fh:
        raw = tomllib.load(fh)
    bus = _index(raw.get("business_units", []), "name")
    ref_sets = {bu["set_id"]: bu.get("set_code", "") for bu in bus.values()}
    ref_sets.update({r["set_id"]: r.get("set_code", "") for r in raw.get("reference_sets", [])})
    return Seed(
        business_units=bus,
        reference_sets=ref_sets,
        transaction_sources=_index(raw.get("transaction_sources", []), "name"),
        transaction_types=_index(raw.get("transaction_types", []), "name"),
        memo_lines=_index(raw.get("memo_lines", []), "name"),
        payment_terms=_index(raw.get("payment_terms", []), "name"),
        gl_accounts=_index(raw.get("gl_accounts", []), "combination"),
        receipt_methods=_index(raw.get("receipt_methods", []), "name"),
        source_systems=_index(raw.get("source_systems", []), "code"),
        tax_regimes=_index(raw.get("tax_regimes", []), "code"),
        receivables_activities={(a["business_unit"], a["name"]): a
                                for a in raw.get("receivables_activities", [])},
        raw=raw,
        profile_classes=_index(raw.get("profile_classes", []), "name"),
    )
