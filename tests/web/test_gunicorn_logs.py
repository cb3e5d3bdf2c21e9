"""``web.gunicorn_logs``: gunicorn's own lines in the connector's format, a real gunicorn running a
small WSGI app (``tests/web/gunicorn_app.py``) with ``--logger-class web.gunicorn_logs.Logger``."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from cli.stack import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-query-value"


def run_gunicorn(tmp_path: Path, log_format: str, *extra: str) -> str:
    """Start gunicorn, send one request with secrets in its query string, stop it: its output."""
    port = free_port()
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    output = tmp_path / "gunicorn.log"
    env = {"PATH": str(Path(sys.executable).parent), "MLC_LOG_FORMAT": log_format, "PYTHONPATH": str(ROOT)}
    with output.open("wb") as sink:
        process = subprocess.Popen([gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", "1",
                                    "--logger-class", "web.gunicorn_logs.Logger", *extra,
                                    "tests.web.gunicorn_app:app"],
                                   cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, process=process, name="gunicorn")
            response = requests.post(f"http://127.0.0.1:{port}/webhooks/shopify",
                                     params={"token": SECRET, "email": "jane.doe@example.com"},
                                     timeout=120)  # the worker may still be booting on a busy machine
            assert response.status_code == 201
            failed = requests.get(f"http://127.0.0.1:{port}/fail", params={"signature": SECRET}, timeout=120)
            assert failed.status_code == 500
        finally:
            process.terminate()
            process.wait(timeout=30)
    return output.read_text()


@pytest.fixture(scope="module")
def json_lines(tmp_path_factory) -> list[dict]:
    text = run_gunicorn(tmp_path_factory.mktemp("gunicorn"), "json", "--access-logfile", "-")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_given_json_then_every_line_gunicorn_writes_is_one_object(json_lines):
    loggers = {line["logger"] for line in json_lines}

    assert loggers == {"gunicorn.error", "gunicorn.access"}
    assert any(line["message"].startswith("Booting worker") for line in json_lines)
    assert all({"time", "level", "pid", "message"} <= set(line) for line in json_lines)


def test_given_a_request_then_its_access_line_has_fields_and_the_correlation_and_no_query(json_lines):
    [access, _] = [line for line in json_lines if line["logger"] == "gunicorn.access"]

    assert access["message"] == "POST /webhooks/shopify 201"
    assert (access["method"], access["path"], access["status"], access["bytes"]) == ("POST", "/webhooks/shopify", 201, 6)
    assert access["duration_ms"] >= 0 and access["remote_addr"] == "127.0.0.1"
    assert (access["inbox_id"], access["shop"], access["gid"]) == (42, "acme.myshopify.com", "gid://shopify/Order/7")
    everything = json.dumps(json_lines)
    assert SECRET not in everything and "jane" not in everything and "token=" not in everything


def test_given_the_app_failing_then_gunicorns_error_line_names_the_path_but_not_its_query(json_lines):
    [failed] = [line for line in json_lines if line["message"].startswith("Error handling request")]

    assert failed["logger"] == "gunicorn.error" and failed["level"] == "ERROR"
    assert "/fail?[query]" in failed["message"] and "RuntimeError: the app failed" in failed["exc_info"]


def test_given_no_access_log_then_gunicorn_writes_no_access_line(tmp_path):
    text = run_gunicorn(tmp_path, "json")

    assert "gunicorn.access" not in text and "Booting worker" in text


def test_given_text_then_a_person_reads_gunicorns_lines(tmp_path):
    text = run_gunicorn(tmp_path, "text", "--access-logfile", "-")

    assert not any(line.startswith("{") for line in text.splitlines())
    assert "gunicorn.access: POST /webhooks/shopify 201 [inbox_id=42 shop=acme.myshopify.com gid=gid://shopify/Order/7]" in text
    assert SECRET not in text
