"""B2B orders end to end (real workers, both sandboxes over HTTP): an order a Shopify company
places is owed by the company, so it is invoiced to the company's organization at its location's
account, on the mapped payment terms, with the buyer's PO number and the location's billing
address as the BILL_TO site; each location gets one account, made once."""
from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

from connector.models import BindingState, InboxState
from tests.factories import b2b_company, b2b_order
from tests.integration.test_fusion_calls import calls
from tests.support import add_shop_mapping, eventually


def invoiced(shop, order) -> dict:
    shop.wait_invoiced(order)
    [invoice] = shop.fusion_invoices(order)
    return invoice


def test_a_b2b_order_is_invoiced_to_its_locations_account_on_its_terms_with_its_po_and_bill_to_site(shop, fusion):
    # given a company with two locations, billed at addresses of their own
    company = shop.create_company(b2b_company(locations=2))
    location = company["locations"][1]
    # when its contact orders for the second location on Net 60 with a PO number
    order = shop.place_order(b2b_order(company, 1, terms={"payment_terms_name": "Net 60"}, po_number="PO-7781"))
    invoice = invoiced(shop, order)
    # then the invoice is the location's, on 60 NET, under the buyer's PO, due 60 days after it is dated
    account = shop.binding("company_location", location["id"])
    assert account.state == BindingState.synced
    assert invoice["BillToCustomerNumber"] == account.fusion_number
    assert (invoice["PaymentTerms"], invoice["PurchaseOrder"]) == ("60 NET", "PO-7781")
    assert date.fromisoformat(invoice["DueDate"]) == date.fromisoformat(invoice["TransactionDate"]) + timedelta(days=60)
    # and its BILL_TO site is the organization's site at the location's billing address
    [organization] = fusion.organizations(company["admin_graphql_api_id"])
    assert organization["OrganizationName"] == company["name"] and organization["PartyUsageCode"] == "CUSTOMER"
    [site] = [a for a in fusion.organization_addresses(organization["PartyNumber"])
              if a["SourceSystemReferenceValue"] == location["admin_graphql_api_id"]]
    assert invoice["BillToSite"] == site["AddressNumber"] and site["Address1"] == "101 Commerce Way"
    assert invoice["BillToCustomerName"] == f"{company['name']} - {location['name']}"
    # and the account has the B2B profile class; the contact who ordered is not the debtor
    assert fusion.profile_class(account.fusion_id) == "Shopify B2B"
    contact = shop.binding("customer", order["customer"]["id"])
    assert contact is None or contact.fusion_number != account.fusion_number

    # when the company pays it, then asks for a tee back
    shop.act(f"orders/{order['id']}/transactions", {"kind": "sale", "gateway": "manual"})
    line = order["line_items"][0]
    shop.act(f"orders/{order['id']}/refunds", {"refund_line_items": [
        {"line_item_id": line["id"], "quantity": 1, "restock_type": "return"}]})
    # then the receipt and the credit memo go to the same invoice, and Fusion agrees with Shopify
    assert eventually(lambda: shop.quiet() and shop.holds(order), timeout=90), shop.invariants(order)
    [memo] = shop.fusion_credit_memos(order)
    assert Decimal(str(memo["EnteredAmount"])) == Decimal("-24.30")
    assert all(r["CustomerAccountNumber"] == account.fusion_number for r in shop.fusion_receipts(order))


def test_a_second_order_of_a_location_reuses_its_account_with_no_fusion_lookup(shop):
    # given a location whose first order made its account
    company = shop.create_company(b2b_company())
    first = shop.place_order(b2b_order(company))
    account = invoiced(shop, first)["BillToCustomerNumber"]
    assert shop.quiet()
    # when the location orders again
    second = shop.place_order(b2b_order(company, po_number="PO-2"))
    invoice = invoiced(shop, second)
    # then the same account is billed, and the only Fusion call is the invoice itself
    assert invoice["BillToCustomerNumber"] == account and invoice["PurchaseOrder"] == "PO-2"
    assert eventually(lambda: shop.quiet())
    assert calls(shop, "fusion", second) == Counter({"POST receivablesInvoices": 1})
    assert calls(shop, "shopify", second) == Counter()  # the location is not read again either
    assert len(shop.audit("company_account.created")) == 1 and len(shop.audit("organization.created")) == 1


def test_two_locations_of_one_company_get_two_accounts_of_one_organization(shop, fusion):
    # given a company with two locations
    company = shop.create_company(b2b_company(locations=2))
    # when each location orders
    orders = [shop.place_order(b2b_order(company, n)) for n in (0, 1)]
    invoices = [invoiced(shop, order) for order in orders]
    # then each is billed to an account of its own, at its own address, both of one organization
    accounts = [shop.binding("company_location", loc["id"]) for loc in company["locations"]]
    assert [i["BillToCustomerNumber"] for i in invoices] == [a.fusion_number for a in accounts]
    assert accounts[0].fusion_number != accounts[1].fusion_number
    assert invoices[0]["BillToSite"] != invoices[1]["BillToSite"]
    assert len(fusion.organizations(company["admin_graphql_api_id"])) == 1
    assert {a.fusion_refs["party_number"] for a in accounts} == {
        fusion.organizations(company["admin_graphql_api_id"])[0]["PartyNumber"]}


def test_an_unmapped_term_parks_naming_the_missing_row_and_replays_once_the_mapping_has_it(shop, stack):
    # given a company ordering on Net 45, which the mapping's terms table does not have
    company = shop.create_company(b2b_company())
    order = shop.place_order(b2b_order(company, terms={"payment_terms_name": "Net 45"}))
    # then the order parks, naming the row to add, and nothing is made in Fusion
    event = eventually(lambda: next((e for e in shop.inbox() if e.topic == "orders/create"
                                     and e.resource_id == str(order["id"]) and e.state == InboxState.parked), None),
                       timeout=60)
    assert event is not None, shop.last_attempt_errors()
    assert "[[b2b.terms]]" in event.last_error and "'Net 45'" in event.last_error
    assert shop.binding("company_location", company["locations"][0]["id"]) is None
    assert shop.fusion_invoices(order) == []

    # when the operator adds the row for this shop, restarts the invoice workers and replays the event
    add_shop_mapping(stack, shop.domain, f'[[shops."{shop.domain}".b2b.terms]]\nname = "Net 45"\nfusion = "60 NET"\n')
    stack.kill_worker("invoices")
    from workers.app import app
    app.send_task("mlc.inbox.replay", args=[event.id])
    # then the order is invoiced on the terms the new row gives
    invoice = invoiced(shop, order)
    assert invoice["PaymentTerms"] == "60 NET"


def test_a_profile_class_fusion_refuses_parks_with_fusions_message_and_replays_without_a_second_account(
        shop, stack):
    # given a shop whose B2B accounts get a profile class the pod does not have
    add_shop_mapping(stack, shop.domain, f'[shops."{shop.domain}".b2b]\nprofile_class = "Wholesale Gold"\n')
    stack.kill_worker("invoices")
    company = shop.create_company(b2b_company())
    order = shop.place_order(b2b_order(company))
    # then the order parks with Fusion's message; the account Fusion made is not bound yet
    event = eventually(lambda: next((e for e in shop.inbox() if e.topic == "orders/create"
                                     and e.resource_id == str(order["id"]) and e.state == InboxState.parked), None),
                       timeout=60)
    assert event is not None, shop.last_attempt_errors()
    assert "Wholesale Gold" in event.last_error and "ProfileClassName" in event.last_error
    assert shop.binding("company_location", company["locations"][0]["id"]).state == BindingState.creating

    # when the operator names a class the pod has, restarts the invoice workers and replays
    add_shop_mapping(stack, shop.domain, f'[shops."{shop.domain}".b2b]\nprofile_class = "DEFAULT"\n')
    stack.kill_worker("invoices")
    from workers.app import app
    app.send_task("mlc.inbox.replay", args=[event.id])
    # then the order is invoiced to that same account, which now has the class
    invoice = invoiced(shop, order)
    account = shop.binding("company_location", company["locations"][0]["id"])
    assert invoice["BillToCustomerNumber"] == account.fusion_number
    # (the account the first attempt made, found by the location's reference: not a second one)
    assert [a.detail["account_number"] for a in shop.audit("company_account.adopted")] == [account.fusion_number]
    from tests.support import Fusion
    assert Fusion(stack.urls["fusion_sandbox"]).profile_class(account.fusion_id) == "DEFAULT"


def test_an_edit_raising_a_b2b_order_is_a_debit_memo_on_the_invoices_terms(shop):
    from tests.integration.test_edits import edit, tees
    # given a B2B order invoiced on Net 60
    company = shop.create_company(b2b_company())
    order = shop.place_order(b2b_order(company, terms={"payment_terms_name": "Net 60"}))
    invoice = invoiced(shop, order)
    # when the company adds a third tee
    edit(shop, order, line_items=tees(order, 3))
    # then the debit memo for it bills the same account, on the invoice's terms, and Fusion agrees with Shopify
    assert eventually(lambda: shop.quiet() and shop.holds(order), timeout=90), shop.invariants(order)
    [debit] = shop.fusion_debit_memos(order)
    assert (debit["PaymentTerms"], debit["BillToCustomerNumber"]) == ("60 NET", invoice["BillToCustomerNumber"])


def test_a_restocking_fee_kept_from_a_b2b_order_falls_due_on_the_invoices_terms(shop):
    from tests.integration.test_refund_discrepancies import one_tee
    # given a B2B order invoiced on Net 60, which the company has paid
    company = shop.create_company(b2b_company())
    order = shop.place_order(b2b_order(company, terms={"payment_terms_name": "Net 60"}))
    invoice = invoiced(shop, order)
    shop.act(f"orders/{order['id']}/transactions", {"kind": "sale", "gateway": "manual"})
    # when the company returns a tee and the merchant keeps a restocking fee
    shop.act(f"orders/{order['id']}/refunds", one_tee(order, restocking_fee="2.00"))
    # then the fee's debit memo bills the location's account on the invoice's terms, not IMMEDIATE
    assert eventually(lambda: shop.quiet() and shop.fusion_debit_memos(order, "F"), timeout=90), \
        shop.invariants(order)
    [fee] = shop.fusion_debit_memos(order, "F")
    assert Decimal(str(fee["EnteredAmount"])) == Decimal("2.00")
    assert (fee["PaymentTerms"], fee["BillToCustomerNumber"]) == ("60 NET", invoice["BillToCustomerNumber"])
    assert shop.holds(order), shop.invariants(order)
