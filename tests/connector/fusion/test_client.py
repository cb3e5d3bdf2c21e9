"""The client as the services build it: one transport shared by every resource family."""
from __future__ import annotations

from connector.fusion.client import FusionClient
from tests.connector.fusion.fusion_pods import connection, stats


def test_given_the_services_settings_when_built_then_every_family_shares_one_transport_and_token(pod):
    client = FusionClient(connection(pod), bucket=None, timeout=(2.0, 5.0), framework_version=4, max_tries=2,
                          allow_http=True)
    families = (client.invoices, client.parties, client.accounts, client.credit_memos, client.receipts)
    assert {id(family._transport) for family in families} == {id(client.transport)}
    client.ping()
    assert client.parties.find_persons("EmailAddress='nobody@example.com'") == []
    assert stats(pod)["POST token"] == 1
