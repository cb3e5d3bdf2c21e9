"""TCA organizations (REST ``hubOrganizations``): the party a B2B company is billed as.

The same resource shape as ``hubPersons`` (key ``PartyNumber``, an ``Address`` child whose
``AddressId`` is the party site id an account site needs), with ``OrganizationName`` for the
person's names."""
from __future__ import annotations

from connector.fusion.rest import CRM, item
from connector.fusion.transport import FusionTransport

PATH = f"{CRM}/hubOrganizations"


class Organizations:
    def __init__(self, transport: FusionTransport):
        self._transport = transport

    def find(self, q: str) -> list[dict]:
        """Organizations matching a framework-v2+ ``q`` expression."""
        return self._transport.read(PATH, {"q": q, "onlyData": "true"})["items"]

    def create(self, payload: dict) -> dict:
        return self._transport.write("POST", PATH, payload)

    def addresses(self, party_number: str) -> list[dict]:
        return self._transport.read(f"{item(PATH, party_number)}/child/Address", {"onlyData": "true"})["items"]

    def add_address(self, party_number: str, address: dict) -> dict:
        return self._transport.write("POST", f"{item(PATH, party_number)}/child/Address", address)
