"""What the REST resource modules share: the API roots, finder strings and child collections."""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from connector.fusion.transport import FusionTransport

FSCM = "/fscmRestApi/resources/11.13.18.05"
CRM = "/crmRestApi/resources/11.13.18.05"


def finder(name: str, **variables: str) -> str:
    """``name;Var=value,Var2=value``: the values go in unquoted, so a separator in one is refused
    rather than silently splitting it into another variable."""
    for value in variables.values():
        if any(ch in str(value) for ch in ",;"):
            raise ValueError(f"finder value {value!r} contains a separator")
    return f"{name};" + ",".join(f"{var}={value}" for var, value in variables.items())


def search(transport: FusionTransport, collection: str, finder_text: str, **params: str) -> list[dict]:
    """One page of a finder's rows, data only."""
    return transport.read(collection, {"finder": finder_text, "onlyData": "true", **params})["items"]


def item(collection: str, key) -> str:
    return f"{collection}/{quote(str(key), safe='')}"


def rows(children) -> list[dict]:
    """A child collection as a list: bare arrays before framework v3, ``{"items": …}`` from v3."""
    if children is None:
        return []
    return children["items"] if isinstance(children, dict) else children


def only(items: list[dict]) -> dict | None:
    return items[0] if items else None
