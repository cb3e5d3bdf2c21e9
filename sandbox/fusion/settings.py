"""Knobs of the Fusion sandbox.

Everything the reference could not confirm about real Fusion is a field here, so a test (or the
demo) can flip to the other plausible behaviour without touching the simulator code.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class FusionSandboxSettings:
    # --- OAuth client credentials (IDCS / OCI IAM token endpoint served by the same app) ---
    client_id: str = "mlc-sandbox"
    client_secret: str = "mlc-sandbox-dev-secret"
    scope: str = "urn:opc:resource:fa:instanceid=100000001urn:opc:resource:consumer::all"
    token_ttl_seconds: int = 3600
    # --- HTTP Basic user (Fusion samples use `curl --user`) ---
    basic_username: str = "mlc.integration"
    basic_password: str = "mlc-sandbox-dev-password"
    # --- pod set-up; None means the packaged seed.toml ---
    seed_path: str | Path | None = None

    # --- behaviour the reference marks [M]/[L] ---
    # REST-Framework-Version assumed when the request sends none (Oracle: 1). It decides the q
    # grammar (1 = query-by-example, 2+ = expressions), child shape (3+ = collection objects)
    # and the error body (4+ = JSON `o:errorDetails`, below 4 = plain text).
    default_framework_version: int = 1
    # Largest `limit` honoured on a collection GET (500 is folklore); larger values are clamped.
    max_limit: int = 500
    # Whether the 201 of a create echoes the posted child arrays inline.
    echo_children_on_create: bool = True
    # Invoice `BillToSite` is the party site number; set True to also accept a SiteUseId or
    # CustomerAccountSiteId there.
    bill_to_site_accepts_ids: bool = False
    # Manual Revenue distributions of a line must add up to the line's net amount.
    validate_distribution_totals: bool = True
    # Tax lines must use a regime/rate code pair from the seed.
    validate_tax_codes: bool = True
    # Actions require Content-Type application/vnd.oracle.adf.action+json (415 otherwise).
    strict_action_media_type: bool = True
    # `applyReceipt` / `unapplyReceipt` response {"result": ...} content (undocumented).
    apply_receipt_result: str = "SUCCESS"
    # Whether the pod's release has the REST action standardReceipts/{id}/action/unapplyReceipt
    # (documented from 26D). False answers it as an older pod does: 404, and no such action in
    # /describe; SOAP StandardReceiptService.createUnapplyReceipt works on any release.
    rest_unapply_receipt: bool = True
    # createActivityApplication without AppliedPaymentScheduleId: fault (True) or take the receipt
    # write-off id -3 from the activity's type (False). Whether Fusion needs it when the activity
    # is named is open [L]; strict by default so a connector always sends it.
    activity_application_needs_schedule_id: bool = True
    # receivablesInvoices POST with a transaction type of class DM (debit memo): accepted like an
    # invoice (True) or refused as not an invoice type (False). The reference is silent on it
    # (Fusion also has a SOAP DebitMemoService), so treat it as [L].
    invoice_post_accepts_debit_memo: bool = True
    # Invoice/credit memo audit user when called with a bearer token (sub = client id upper-cased
    # would be as likely); Basic calls record the Basic user name upper-cased.
    token_user: str = "MLC.INTEGRATION"
    # Accept a wsse:UsernameToken in the SOAP header as a third way to authenticate.
    soap_accepts_username_token: bool = True
    # Base of generated 15-digit ids.
    id_base: int = 300100600000000
    # getCustomerAccountByOriginalSystemReference for an unknown reference: empty result
    # (finder-like, False) or a FND_CMN_RCRD_MSNG fault (True).
    orig_ref_lookup_missing_faults: bool = False
    # StandardReceiptService.createApplyReceipt with InstalmentId (payment schedule id) but no
    # CustomerTrxId/TransactionNumber: resolve the transaction from the schedule (True, as the EBS
    # receipt API the SDO mirrors does) or fault for the missing transaction (False).
    soap_apply_accepts_instalment_id_alone: bool = True
    # standardReceipts POST without ReceiptNumber: 400 (True) or a generated number (False).
    receipt_number_required: bool = True
    # createCustomerAccount without CreatedByModule: the bare JBO-27024 a real pod gives (False,
    # soap-receipts-customers.md §2.3 [M]) or one with a JBO-27014 detail naming the attribute.
    created_by_module_fault_names_attribute: bool = False
    # customerAccountSitesLOV rows: BILL_TO site uses only (True; the LOV behind an invoice's
    # bill-to site) or every site use with its SiteUseCode (False). Its field list is [L].
    account_sites_lov_bill_to_only: bool = True
    # accountCombinationsLOV: a `q` on ConcatenatedSegments (the segment string) is answered (True)
    # or refused with 400 as an unknown attribute (False). The 26C spec lists no segment string on
    # that LOV, so whether a pod can look a combination up by its segments is [L]; the other
    # set-up lists of values `ml-connector fit` reads are [M]/[L] too (rest_setup.py).
    account_combinations_by_segments: bool = True
    # --- accounting periods and daily rates (periods.py) ---
    # Initial status per period ({"2026-11": "closed"}); every period not named is open. Statuses:
    # open, closed, future, never_opened, permanently_closed. Changed at run time by /_sandbox/periods.
    period_statuses: dict | None = None
    # A Future Enterable period takes documents, as Oracle's period status documents it (True).
    future_period_accepts_documents: bool = True
    # The refusal of a document whose accounting date is in a period that refuses it. The reference
    # gives no Fusion text or code [L]: this paraphrases Receivables' "not in an open or future
    # enterable period". {date} is the ISO date, {period} the period name (Nov-26).
    closed_period_message: str = ("The accounting date {date} isn't in an open or future enterable "
                                  "accounting period ({period} is closed).")
    closed_period_code: str = "AR-855101"      # a placeholder: the real code is not known
    # Whether a foreign-currency document needs a daily rate (from, to, type, date) in General
    # Ledger, as on a real pod (True). False by default so that a pod nobody entered rates in
    # accepts foreign documents as before; /_sandbox/rates turns it on.
    daily_rates_required: bool = False
    # Daily rates entered at start: [{"from": "EUR", "to": "USD", "type": "Corporate",
    # "date": "2026-11-14", "rate": "1.08"}].
    daily_rates: list | None = None
    # The refusal of a document without its daily rate [L] (no Fusion text in the reference).
    missing_rate_message: str = ("A conversion rate doesn't exist for the conversion rate type {type} "
                                 "from {source} to {target} on {date}.")
    missing_rate_code: str = "AR-855102"       # a placeholder too
