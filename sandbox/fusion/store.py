"""In-memory pod state: parties, customer accounts, transactions, receipts.

The server is threaded, so every read-validate-write sequence runs under ``Store.lock`` (an
RLock: helpers may nest). Records are plain dicts holding Python values (``Decimal`` for money,
``datetime`` for audit stamps); the REST/SOAP layers render them.
"""
from __future__ import annotations

import copy
import itertools
import threading
from datetime import date, datetime, timedelta, timezone

from .seed import Seed


def format_stamp(value: datetime) -> str:
    """ISO date-time with milliseconds and offset, as Fusion prints audit stamps."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+00:00"


class Store:
    def __init__(self, seed: Seed, id_base: int):
        self.seed = seed
        self.lock = threading.RLock()
        self._id_base = id_base
        self.reset()

    def reset(self) -> None:
        """Forget every transaction and customer; the seed (pod set-up) stays."""
        with self.lock:
            self._ids = itertools.count(self._id_base + 1)
            self._party_numbers = itertools.count(100001)
            self._site_numbers = itertools.count(30001)
            self._account_numbers = itertools.count(10001)
            self._trx_numbers = itertools.count(1001)
            self._receipt_numbers = itertools.count(5001)
            self._last_stamp = datetime(2000, 1, 1, tzinfo=timezone.utc)
            self.parties: dict[int, dict] = {}          # PartyId -> party
            self.party_sites: dict[int, dict] = {}      # AddressId (= PartySiteId) -> address
            self.accounts: dict[int, dict] = {}         # CustomerAccountId -> account
            self.invoices: dict[int, dict] = {}         # CustomerTransactionId -> invoice
            self.credit_memos: dict[int, dict] = {}     # CustomerTransactionId -> credit memo
            self.receipts: dict[int, dict] = {}         # StandardReceiptId -> receipt
            self.applications: list[dict] = []          # receipt / credit memo applications
            self.profiles: dict[int, dict] = {}         # CustomerAccountId -> its customer profile

    DATA = ("parties", "party_sites", "accounts", "invoices", "credit_memos", "receipts",
            "applications", "profiles")

    def snapshot(self) -> dict:
        """A deep copy of the records (one copy, so shared rows stay shared) for :meth:`restore`.
        Id and number generators are not part of it: like database sequences they don't roll
        back."""
        return copy.deepcopy({name: getattr(self, name) for name in self.DATA})

    def restore(self, snapshot: dict) -> None:
        for name, value in snapshot.items():
            setattr(self, name, value)

    # --- generators -------------------------------------------------------------------------
    def new_id(self) -> int:
        """A 15-digit surrogate key, like Fusion's (e.g. 300100612345678)."""
        return next(self._ids)

    def new_party_number(self) -> str:
        return str(next(self._party_numbers))

    def new_site_number(self) -> str:
        return str(next(self._site_numbers))

    def new_account_number(self) -> str:
        return str(next(self._account_numbers))

    def new_transaction_number(self) -> str:
        return str(next(self._trx_numbers))

    def new_receipt_number(self) -> str:
        return str(next(self._receipt_numbers))

    def stamp(self) -> datetime:
        """Now, to the millisecond, strictly after the previous stamp.

        Pollers use ``LastUpdateDate > watermark``; two changes in the same millisecond must
        still be ordered, so the clock never repeats.
        """
        with self.lock:
            now = datetime.now(timezone.utc)
            now = now.replace(microsecond=now.microsecond // 1000 * 1000)
            if now <= self._last_stamp:
                now = self._last_stamp + timedelta(milliseconds=1)
            self._last_stamp = now
            return now

    # --- lookups ---------------------------------------------------------------------------
    def party_by_number(self, number: str) -> dict | None:
        return next((p for p in self.parties.values() if p["PartyNumber"] == number), None)

    def party_by_source_ref(self, system: str, ref: str) -> dict | None:
        return next((p for p in self.parties.values()
                     if (system, ref) in p["_source_refs"]), None)

    def account_by_number(self, number: str) -> dict | None:
        return next((a for a in self.accounts.values() if a["AccountNumber"] == number), None)

    def account_by_orig_ref(self, system: str, ref: str) -> dict | None:
        return next((a for a in self.accounts.values()
                     if a.get("OrigSystem") == system and a.get("OrigSystemReference") == ref), None)

    def transaction(self, trx_id: int) -> dict | None:
        return self.invoices.get(trx_id) or self.credit_memos.get(trx_id)

    def installment(self, installment_id: int) -> tuple[dict, dict] | None:
        for inv in self.invoices.values():
            for inst in inv["installments"]:
                if inst["InstallmentId"] == installment_id:
                    return inv, inst
        return None

    def transaction_number_taken(self, source: str, number: str) -> bool:
        """Transaction numbers are unique per transaction source (invoices and memos alike)."""
        return any(t["header"]["TransactionSource"] == source and t["header"]["TransactionNumber"] == number
                   for t in itertools.chain(self.invoices.values(), self.credit_memos.values()))


def today() -> date:
    return datetime.now(timezone.utc).date()
