"""Oracle Fusion Cloud ERP simulator ("Fusion sandbox"): Receivables REST, TCA parties, SOAP
customer accounts, the IAM token endpoint and run-time fault injection, in one Flask app.

    from sandbox.fusion import create_app, FusionSandboxSettings
    app = create_app(FusionSandboxSettings(default_framework_version=4))
"""
from .app import create_app
from .settings import FusionSandboxSettings

__all__ = ["create_app", "FusionSandboxSettings"]
