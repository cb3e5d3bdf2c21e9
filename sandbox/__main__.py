"""``python -m sandbox fusion|shopify --port N``: one simulator alone, over real HTTP.

The entry point lives here, not in ``ml-connector``, so that the connector's command never
imports the simulators: they ship behind the ``sandbox`` extra and production installs omit it.
Settings come as JSON (``--config`` or ``MLC_SANDBOX_CONFIG``) because the demo and the tests
spawn the sandboxes as processes and hand them their settings through the environment.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import json
import os
import sys

#: What the extra adds that the simulators import, by module name and distribution.
EXTRA_MODULES = {"graphql": "graphql-core", "iso4217": "iso4217"}
SYSTEMS = {"fusion": ("sandbox.fusion", "FusionSandboxSettings"),
           "shopify": ("sandbox.shopify", "ShopifySandboxSettings")}


class SandboxError(Exception):
    """Bad settings or a missing extra: reported in one line, not as a traceback."""


def require_extra() -> None:
    missing = [dist for module, dist in EXTRA_MODULES.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise SandboxError(f"the sandboxes need the 'sandbox' extra (missing: {', '.join(missing)}); "
                           "install it with: pip install 'ml-connector[sandbox]'")


def build_app(system: str, config_json: str = ""):
    """The Flask app of ``system`` with the JSON settings applied; unknown names are refused."""
    require_extra()
    try:
        overrides = json.loads(config_json) if config_json else {}
    except json.JSONDecodeError as exc:
        raise SandboxError(f"sandbox settings are not JSON: {exc}") from None
    if not isinstance(overrides, dict):
        raise SandboxError("sandbox settings must be a JSON object")
    package, settings_name = SYSTEMS[system]
    module = importlib.import_module(package)
    settings_cls = getattr(module, settings_name)
    known = {f.name for f in dataclasses.fields(settings_cls)}
    unknown = set(overrides) - known
    if unknown:
        raise SandboxError(f"unknown {system} sandbox settings: {', '.join(sorted(unknown))} "
                           f"(known: {', '.join(sorted(known))})")
    return module.create_app(settings_cls(**overrides))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Run the Shopify or Fusion simulator.")
    parser.add_argument("system", choices=sorted(SYSTEMS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", default=os.environ.get("MLC_SANDBOX_CONFIG", ""),
                        help="settings as JSON (default: $MLC_SANDBOX_CONFIG); field names of "
                             "FusionSandboxSettings or ShopifySandboxSettings")
    args = parser.parse_args(argv)
    try:
        app = build_app(args.system, args.config)
    except SandboxError as exc:
        print(f"python -m sandbox: {exc}", file=sys.stderr)
        sys.exit(2)
    from sandbox.server import serve_forever
    print(f"{args.system} sandbox on http://{args.host}:{args.port}", flush=True)
    serve_forever(app, args.host, args.port)


if __name__ == "__main__":
    main()
