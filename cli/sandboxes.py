"""Building a sandbox app from JSON settings, for ``ml-connector sandbox`` and the demo."""
from __future__ import annotations

import dataclasses
import json

from connector.config import ConfigError


def build_app(system: str, config_json: str = ""):
    try:
        overrides = json.loads(config_json) if config_json else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"sandbox settings are not JSON: {exc}") from None
    if system == "fusion":
        from sandbox.fusion import FusionSandboxSettings, create_app
        settings_cls = FusionSandboxSettings
    else:
        from sandbox.shopify import ShopifySandboxSettings, create_app
        settings_cls = ShopifySandboxSettings
    known = {f.name for f in dataclasses.fields(settings_cls)}
    unknown = set(overrides) - known
    if unknown:
        raise ConfigError(f"unknown {system} sandbox settings: {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(sorted(known))})")
    return create_app(settings_cls(**overrides))
