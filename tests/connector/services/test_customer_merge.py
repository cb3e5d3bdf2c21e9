"""``customers/merge`` bodies, and where a merged-away customer's documents go (chains included)."""
import pytest

from connector.mapping.invoice import MappingError
from connector.models import CustomerMerge, Shop
from connector.services.customer_merge import Merge, parse, survivor

KEPT, GONE = "gid://shopify/Customer/7", "gid://shopify/Customer/9"


def body(**changes) -> dict:
    return {"admin_graphql_api_customer_kept_id": KEPT, "admin_graphql_api_customer_deleted_id": GONE,
            "admin_graphql_api_job_id": "gid://shopify/Job/1", "status": "completed", "errors": [], **changes}


def test_given_a_completed_merge_then_the_merged_away_and_the_surviving_customer():
    assert parse(body()) == Merge("9", GONE, "7", KEPT)


def test_given_a_merge_that_failed_then_nothing_to_record():
    assert parse(body(status="failed", errors=[{"field": "merge_in_progress"}])) is None


@pytest.mark.parametrize("changes", [{"admin_graphql_api_customer_kept_id": None},
                                     {"admin_graphql_api_customer_deleted_id": "gid://shopify/Order/9"},
                                     {"admin_graphql_api_customer_deleted_id": KEPT}])
def test_given_a_body_without_two_customers_then_refused(changes):
    with pytest.raises(MappingError, match="customers/merge"):
        parse(body(**changes))


@pytest.fixture
def shop(db_session):
    shop = Shop(domain="merge.myshopify.com", client_id="c", admin_base_url="", transaction_prefix="M")
    db_session.add(shop)
    db_session.flush()
    return shop


def link(session, shop, merged: str, surviving: str) -> None:
    session.add(CustomerMerge(shop_id=shop.id, merged_id=merged, merged_gid=f"gid://shopify/Customer/{merged}",
                              surviving_id=surviving, surviving_gid=f"gid://shopify/Customer/{surviving}"))
    session.flush()


def test_given_merges_in_a_chain_then_the_end_of_the_chain(db_session, shop):
    link(db_session, shop, "1", "2")
    link(db_session, shop, "2", "3")

    assert survivor(db_session, shop.id, "1") == Merge("1", "gid://shopify/Customer/1", "3", "gid://shopify/Customer/3")
    assert survivor(db_session, shop.id, "3") is None
    assert survivor(db_session, shop.id + 1, "1") is None   # another shop's customer 1 was never merged


def test_given_merges_in_a_loop_then_refused_not_followed_forever(db_session, shop):
    link(db_session, shop, "1", "2")
    link(db_session, shop, "2", "1")

    with pytest.raises(MappingError, match="loop"):
        survivor(db_session, shop.id, "1")
