"""B2B orders in the mapping: who is billed (the purchasing company's location), on which Fusion
payment terms (the [b2b] terms table), under which PO; and the [b2b] section's validation."""
from __future__ import annotations

import copy
import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.config import DEFAULT_MAPPING_FILE, ConfigError
from connector.mapping.b2b import payment_terms, purchase_order, purchaser
from connector.mapping.config import parse_mapping, terms_key
from connector.mapping.invoice import MappingError, build_invoice
from tests.connector.mapping.test_invoice import ORDER

DOCUMENT = tomllib.loads(DEFAULT_MAPPING_FILE.read_text())
MAPPING = parse_mapping(DOCUMENT)


def b2b(terms: dict | None = None, po_number: str | None = "PO-4471") -> dict:
    """The reference order, placed by a company for one of its locations."""
    return dict(copy.deepcopy(ORDER), company={"id": 2900000001, "location_id": 3900000002}, payment_terms=terms,
                po_number=po_number)


def mapping_with(**b2b_section):
    document = copy.deepcopy(DOCUMENT)
    if b2b_section.pop("drop", False):
        document.pop("b2b")
    else:
        document["b2b"].update(b2b_section)
    return parse_mapping(document)


def test_given_an_order_placed_by_a_company_then_its_purchaser_is_the_company_and_location():
    found = purchaser(b2b())
    assert (found.company_gid, found.location_gid) == ("gid://shopify/Company/2900000001",
                                                       "gid://shopify/CompanyLocation/3900000002")


def test_given_an_order_a_customer_placed_then_it_has_no_purchaser_and_its_invoice_is_unchanged():
    order = dict(copy.deepcopy(ORDER), company=None, po_number="PO-1")
    assert purchaser(order) is None
    invoice = build_invoice(order, mapping=MAPPING, prefix="ACME", bill_to_account="1001")
    assert (invoice["PaymentTerms"], invoice["PurchaseOrder"]) == ("IMMEDIATE", ORDER["name"])


@pytest.mark.parametrize("terms, fusion", [
    ({"payment_terms_name": "Net 30", "payment_terms_type": "net", "due_in_days": 30}, "30 NET"),
    ({"payment_terms_name": "NET_60", "payment_terms_type": "NET", "due_in_days": 60}, "60 NET"),
    ({"payment_terms_name": "Due on fulfillment", "payment_terms_type": "fulfillment", "due_in_days": None}, "IMMEDIATE"),
    ({"payment_terms_name": "Due on receipt", "payment_terms_type": "receipt"}, "IMMEDIATE"),
    (None, "30 NET"),  # no terms on the order: [b2b] default_terms
])
def test_given_shopify_terms_then_the_invoice_gets_the_mapped_fusion_terms_and_the_po(terms, fusion):
    order = b2b(terms)
    invoice = build_invoice(order, mapping=MAPPING, prefix="ACME", bill_to_account="20001", bill_to_site="30007",
                            payment_terms=payment_terms(order, MAPPING), purchase_order=purchase_order(order))
    assert invoice["PaymentTerms"] == fusion
    assert (invoice["PurchaseOrder"], invoice["BillToCustomerNumber"], invoice["BillToSite"]) == ("PO-4471", "20001",
                                                                                                  "30007")


def test_given_a_term_no_row_matches_then_the_order_parks_naming_the_row_to_add():
    with pytest.raises(MappingError) as parked:
        payment_terms(b2b({"payment_terms_name": "Net 45", "payment_terms_type": "net", "due_in_days": 45}), MAPPING)
    assert "[[b2b.terms]]" in str(parked.value) and "'Net 45'" in str(parked.value)
    assert "due in 45 days" in str(parked.value)


def test_given_unmatched_default_then_a_term_no_row_matches_takes_the_default():
    mapping = mapping_with(unmatched="default", default_terms="60 NET")
    assert payment_terms(b2b({"payment_terms_name": "Net 45", "payment_terms_type": "net", "due_in_days": 45}),
                         mapping) == "60 NET"


def test_given_a_mapping_without_b2b_then_a_b2b_order_parks_naming_the_section():
    with pytest.raises(MappingError, match=r"no \[b2b\] section"):
        payment_terms(b2b(), mapping_with(drop=True))


def test_given_no_terms_and_no_default_then_the_order_parks_naming_default_terms():
    with pytest.raises(MappingError, match="default_terms"):
        payment_terms(b2b(None), mapping_with(default_terms=""))


def test_given_a_po_number_longer_than_fusion_keeps_then_it_is_cut_to_50():
    assert purchase_order(b2b(po_number="P" * 60)) == "P" * 50
    assert purchase_order(b2b(po_number=None)) == ""


@pytest.mark.parametrize("section, key", [
    ({"unmatched": "default", "default_terms": ""}, "b2b.default_terms"),
    ({"unmatched": "sometimes"}, "b2b.unmatched"),
    ({"terms": [{"fusion": "30 NET"}]}, "b2b.terms.0.name"),
    ({"terms": [{"type": "NET30", "fusion": "30 NET"}]}, "b2b.terms.0.type"),
    ({"terms": [{"type": "NET", "due_in_days": 30, "fusion": "A TERM LONGER THAN 15"}]}, "b2b.terms.0.fusion"),
])
def test_given_a_bad_b2b_section_then_the_mapping_is_refused_naming_the_key(section, key):
    document = copy.deepcopy(DOCUMENT)
    document["b2b"].update(section)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_mapping(document)


def test_given_the_default_mapping_then_its_b2b_section_lists_each_fusion_term_once():
    assert MAPPING.b2b.fusion_terms() == ["IMMEDIATE", "15 NET", "30 NET", "60 NET"]
    assert MAPPING.b2b.profile_class == "Shopify B2B"


@given(st.sampled_from(["Net 30", "NET_30", "net-30", " NET 30 "]))
def test_a_terms_name_matches_whatever_its_case_spacing_or_separators(spelling):
    assert terms_key(spelling) == terms_key("Net 30")


def test_given_an_edit_of_a_b2b_order_then_its_debit_memo_falls_due_on_the_invoices_terms():
    from decimal import Decimal

    from connector.mapping.adjustment import Components, build_debit_memo
    rise = Components(merchandise=Decimal("22.50"), merchandise_tax=Decimal("1.80"))
    own = build_debit_memo(b2b(), rise, mapping=MAPPING, number="ACME-1001-D1", bill_to_account="20001",
                           invoice_number="ACME-1001", payment_terms="60 NET")
    plain = build_debit_memo(b2b(), rise, mapping=MAPPING, number="ACME-1001-D1", bill_to_account="20001",
                             invoice_number="ACME-1001")
    assert (own["PaymentTerms"], plain["PaymentTerms"]) == ("60 NET", "IMMEDIATE")
