"""Building a sandbox app from JSON settings, for ``ml-connector sandbox`` and the demo."""
from __future__ import annotations

import dataclasses
import json


def build_app(system: str, config_json: str = ""):
    overrides = json.loads(config_json) if config_json else {}
    if system == "fusion":
        from sandbox.fusion import FusionSandboxSettings, create_app
        settings_cls = FusionSandboxSettings
    else:
        from sandbox.shopify import ShopifySandboxSettings, create_app
        settings_cls = ShopifySandboxSettings
    known = {f.name for f in dataclasses.fields(settings_cls)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown {system} sandbox settings: {', '.join(sorted(unknown))}")
    return create_app(settings_cls(**overrides))
