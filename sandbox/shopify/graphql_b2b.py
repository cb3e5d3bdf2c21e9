"""GraphQL views of B2B objects: ``Company``, ``CompanyLocation`` (with its ``CompanyAddress``),
``CompanyContact``, an order's ``purchasingEntity`` (``PurchasingCompany`` or ``Customer``) and its
``paymentTerms``, as the Admin schema types them (see ``companies.py`` for what is confirmed)."""
from __future__ import annotations

from .companies import TEMPLATE_IDS
from .graphql_views import _list_conn, customer_view, gid, money_v2


def company_address_view(address: dict | None) -> dict | None:
    if not address:
        return None
    return {"__typename": "CompanyAddress", "id": gid("CompanyAddress", address["id"]),
            "address1": address.get("address1"), "address2": address.get("address2"), "city": address.get("city"),
            "companyName": address.get("company_name"), "country": address.get("country"),
            "countryCode": address.get("country_code"), "province": address.get("province"),
            "zoneCode": address.get("province_code"), "zip": address.get("zip"), "phone": address.get("phone"),
            "firstName": address.get("first_name"), "lastName": address.get("last_name"),
            "recipient": address.get("recipient"), "createdAt": address.get("created_at"),
            "updatedAt": address.get("updated_at"),
            "formattedArea": ", ".join(x for x in (address.get("city"), address.get("province_code"),
                                                   address.get("country")) if x) or None}


def company_view(company: dict | None, shop) -> dict | None:
    if not company:
        return None
    locations = [shop.company_locations[i] for i in company["location_ids"]]
    contacts = company["contacts"]
    main = next((c for c in contacts if c["is_main_contact"]), None)
    return {"__typename": "Company", "id": company["admin_graphql_api_id"], "name": company["name"],
            "externalId": company.get("external_id"), "note": company.get("note"),
            "createdAt": company["created_at"], "updatedAt": company["updated_at"],
            "customerSince": company["customer_since"],
            "mainContact": lambda info, **a: contact_view(main, company, shop),
            "locations": lambda info, **a: _list_conn("CompanyLocationConnection",
                                                      [location_view(x, shop) for x in locations], **a),
            "contacts": lambda info, **a: _list_conn("CompanyContactConnection",
                                                     [contact_view(c, company, shop) for c in contacts], **a),
            "locationsCount": {"__typename": "Count", "count": len(locations), "precision": "EXACT"},
            "contactsCount": {"__typename": "Count", "count": len(contacts), "precision": "EXACT"}}


def location_view(location: dict | None, shop) -> dict | None:
    if not location:
        return None
    return {"__typename": "CompanyLocation", "id": location["admin_graphql_api_id"], "name": location["name"],
            "externalId": location.get("external_id"), "note": location.get("note"),
            "currency": location.get("currency"), "createdAt": location["created_at"],
            "updatedAt": location["updated_at"],
            "company": lambda info, **a: company_view(shop.companies.get(location["company_id"]), shop),
            "billingAddress": company_address_view(location.get("billing_address")),
            "shippingAddress": company_address_view(location.get("shipping_address"))}


def contact_view(contact: dict | None, company: dict, shop) -> dict | None:
    if not contact:
        return None
    return {"__typename": "CompanyContact", "id": gid("CompanyContact", contact["id"]),
            "isMainContact": bool(contact["is_main_contact"]), "title": contact.get("title"),
            "createdAt": contact["created_at"], "updatedAt": contact["updated_at"],
            "customer": lambda info, **a: customer_view(shop.customers.get(contact["customer_id"]), shop),
            "company": lambda info, **a: company_view(company, shop)}


def purchasing_entity_view(order: dict, shop, customer: dict | None) -> dict | None:
    """``PurchasingCompany`` for a B2B order, else the ``Customer`` (null without one)."""
    named = order.get("company")
    if not named:
        return customer
    company = shop.companies.get(named["id"])
    location = shop.company_locations.get(named["location_id"])
    buyer = (order.get("customer") or {}).get("id")
    contact = next((c for c in company["contacts"] if c["customer_id"] == buyer), None)
    return {"__typename": "PurchasingCompany", "company": company_view(company, shop),
            "location": location_view(location, shop), "contact": contact_view(contact, company, shop)}


def payment_terms_view(order: dict) -> dict | None:
    terms = order.get("payment_terms")
    if not terms:
        return None
    currency = order["currency"]

    def schedule(s: dict) -> dict:
        return {"__typename": "PaymentSchedule", "id": gid("PaymentSchedule", s["id"]), "dueAt": s.get("due_at"),
                "issuedAt": s.get("issued_at"), "completedAt": s.get("completed_at"),
                "due": bool(s.get("due_at")), "amount": money_v2(s["amount"], currency),
                "balanceDue": money_v2(order["total_outstanding"], currency),
                "totalBalance": money_v2(order["total_outstanding"], currency)}

    schedules = [schedule(s) for s in terms.get("payment_schedules") or []]
    return {"__typename": "PaymentTerms", "id": gid("PaymentTerms", terms["id"]),
            "paymentTermsName": terms["payment_terms_name"], "translatedName": terms["payment_terms_name"],
            "paymentTermsType": str(terms["payment_terms_type"]).upper(), "dueInDays": terms.get("due_in_days"),
            "due": False, "overdue": False, "canPayEarly": True,
            "templateId": gid("PaymentTermsTemplate", TEMPLATE_IDS.get(terms["payment_terms_name"], 0)),
            "paymentSchedules": lambda info, **a: _list_conn("PaymentScheduleConnection", schedules, **a)}
