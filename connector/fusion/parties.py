"""TCA persons (REST ``hubPersons``): the party an AR customer account belongs to."""
from __future__ import annotations

from connector.fusion.rest import CRM, item
from connector.fusion.transport import FusionTransport

PATH = f"{CRM}/hubPersons"


class Parties:
    def __init__(self, transport: FusionTransport):
        self._transport = transport

    def find_persons(self, q: str) -> list[dict]:
        """Persons matching a framework-v2+ ``q`` expression, each with its addresses inline."""
        return self._transport.read(PATH, {"q": q, "onlyData": "true", "expand": "Address"})["items"]

    def create_person(self, payload: dict) -> dict:
        return self._transport.write("POST", PATH, payload)

    def person_addresses(self, party_number: str) -> list[dict]:
        """A person's addresses; ``AddressId`` is the party site id an account site needs."""
        return self._transport.read(f"{item(PATH, party_number)}/child/Address",
                                    {"onlyData": "true"})["items"]

    def update_person(self, party_number: str, changes: dict) -> dict:
        """PATCH the person's own attributes (name, e-mail); keys and usages cannot change."""
        return self._transport.write("PATCH", item(PATH, party_number), changes)

    def add_address(self, party_number: str, address: dict) -> dict:
        """A new party site (``Address`` child): its ``AddressId`` is the party site id an account
        site needs, its ``AddressNumber`` the site number an invoice's ``BillToSite`` names."""
        return self._transport.write("POST", f"{item(PATH, party_number)}/child/Address", address)
