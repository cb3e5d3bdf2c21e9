"""The Fusion sandbox Flask app: IAM token endpoint + REST + SOAP + sandbox controls.

``create_app`` wires one :class:`Pod` (store, seed, settings, tokens, faults) into a fresh app,
so tests can run several independent pods in one process.
"""
from __future__ import annotations

import json

from flask import Flask, Response, g, request

# rest_invoice_writes adds views to rest_invoices.bp, rest_setup to rest_reference.bp; soap_* modules
# register their operations: imported for that alone
from . import (rest_account_activities, rest_batch, rest_credit_memos, rest_invoice_writes,  # noqa: F401
               rest_invoices, rest_parties, rest_receipts, rest_reference, rest_setup,  # noqa: F401
               soap, soap_credit_memos, soap_profiles, soap_receipts)  # noqa: F401
from .auth import TokenIssuer, unauthorized
from .errors import RestError, render_rest_error
from .faults import FaultConfigError, FaultMiddleware, Faults, parse_config
from .periods import Calendar, CalendarError
from .seed import load_seed
from .settings import FusionSandboxSettings
from .store import Store


class Pod:
    """Everything one simulated Fusion instance holds."""

    def __init__(self, settings: FusionSandboxSettings):
        self.settings = settings
        self.seed = load_seed(settings.seed_path)
        self.store = Store(self.seed, settings.id_base)
        self.tokens = TokenIssuer(settings)
        self.faults = Faults()
        self.calendar = Calendar(settings)


def _json(data, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")


def _framework_version_for_errors() -> int:
    raw = request.headers.get("REST-Framework-Version", "")
    try:
        return int(raw)
    except ValueError:
        return g.get("fusion_pod_default_fw", 1)


def create_app(settings: FusionSandboxSettings | None = None) -> Flask:
    settings = settings or FusionSandboxSettings()
    pod = Pod(settings)
    app = Flask(__name__, static_folder=None)
    app.extensions["fusion_pod"] = pod

    for module in (rest_invoices, rest_credit_memos, rest_receipts, rest_account_activities,
                   rest_parties, rest_reference, rest_batch, soap):
        app.register_blueprint(module.bp)

    @app.before_request
    def authenticate():
        g.fusion_pod_default_fw = settings.default_framework_version
        path = request.path
        if path.startswith("/_sandbox") or path == "/oauth2/v1/token":
            return None
        g.fusion_user = pod.tokens.authenticate()
        if g.fusion_user is None and not path.startswith(("/crmService/", "/fscmService/")):
            return unauthorized()   # SOAP may still authenticate with a wsse:UsernameToken
        return None

    @app.errorhandler(RestError)
    def rest_error(err: RestError):
        return render_rest_error(err, _framework_version_for_errors())

    @app.errorhandler(404)
    def not_found(_err):
        return render_rest_error(RestError("The requested resource doesn't exist.", status=404),
                                 _framework_version_for_errors())

    @app.errorhandler(405)
    def not_allowed(_err):
        return render_rest_error(RestError("The HTTP method isn't allowed on this resource.",
                                           status=405), _framework_version_for_errors())

    @app.post("/oauth2/v1/token")
    def token():
        return pod.tokens.token_endpoint()

    # --- sandbox controls -----------------------------------------------------------------
    @app.post("/_sandbox/faults")
    def set_faults():
        try:
            return _json(pod.faults.configure(parse_config(request.get_data())))
        except (FaultConfigError, TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)

    @app.get("/_sandbox/faults")
    def get_faults():
        with pod.faults.lock:
            return _json(pod.faults.describe())

    @app.delete("/_sandbox/faults")
    def clear_faults():
        pod.faults.clear()
        return Response(status=204)

    @app.get("/_sandbox/stats")
    def get_stats():
        with pod.faults.lock:
            return _json(dict(pod.faults.stats))

    @app.delete("/_sandbox/stats")
    def clear_stats():
        with pod.faults.lock:
            pod.faults.stats.clear()
        pod.faults.load.reset()
        return Response(status=204)

    @app.get("/_sandbox/load")
    def get_load():
        return _json(pod.faults.load.as_dict())

    @app.get("/_sandbox/periods")
    def get_periods():
        return _json(pod.calendar.describe())

    @app.post("/_sandbox/periods")
    def set_periods():
        """``{"period": "2026-11", "status": "closed"}`` or ``{"periods": {"2026-11": "closed", …}}``."""
        body = request.get_json(silent=True) or {}
        changes = dict(body.get("periods") or {})
        if body.get("period"):
            changes[body["period"]] = body.get("status", "")
        try:
            for key, status in changes.items():
                pod.calendar.set_status(str(key), str(status))
        except CalendarError as exc:
            return _json({"error": str(exc)}, 400)
        return _json(pod.calendar.describe())

    @app.get("/_sandbox/rates")
    def get_rates():
        return _json({"required": pod.calendar.rates_required, "rates": pod.calendar.rates()})

    @app.post("/_sandbox/rates")
    def set_rates():
        """``{"required": true}`` and/or ``{"rates": [{"from", "to", "type", "date", "rate"}]}``."""
        body = request.get_json(silent=True) or {}
        try:
            for row in body.get("rates") or []:
                pod.calendar.set_rate(row)
        except CalendarError as exc:
            return _json({"error": str(exc)}, 400)
        if "required" in body:
            pod.calendar.rates_required = bool(body["required"])
        return get_rates()

    @app.delete("/_sandbox/calendar")
    def reset_calendar():
        pod.calendar.reset()
        return Response(status=204)

    @app.post("/_sandbox/reset")
    def reset():
        pod.store.reset()
        pod.calendar.reset()
        return Response(status=204)

    app.wsgi_app = FaultMiddleware(app.wsgi_app, pod.faults)
    return app
