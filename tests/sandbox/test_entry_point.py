"""``python -m sandbox``: how the demo, the tests and a developer start one simulator alone."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests

from cli.stack import free_port


def run(*args, env: dict | None = None, **kw):
    return subprocess.Popen([sys.executable, "-m", "sandbox", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, **(env or {})), **kw)


@pytest.mark.parametrize("source", ["--config", "MLC_SANDBOX_CONFIG"])
def test_unknown_setting_is_refused_naming_the_known_ones(source):
    settings = json.dumps({"time_scael": 0.001})
    args, env = (["--config", settings], None) if source == "--config" else ([], {"MLC_SANDBOX_CONFIG": settings})

    process = run("shopify", "--port", str(free_port()), *args, env=env)
    _, err = process.communicate(timeout=30)

    assert process.returncode == 2
    assert "unknown shopify sandbox settings: time_scael" in err and "time_scale" in err


def test_settings_that_are_not_json_are_refused():
    process = run("fusion", "--port", str(free_port()), "--config", "{client_id: x}")
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2 and "not JSON" in err


def test_without_the_extra_it_says_how_to_install_it():
    # graphql-core missing, as in a production install without the extra
    code = ("import sys, runpy; sys.modules['graphql'] = None; "
            "sys.argv = ['sandbox', 'shopify', '--port', '1']; runpy.run_module('sandbox', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "pip install 'ml-connector[sandbox]'" in result.stderr and "graphql-core" in result.stderr


def test_fusion_sandbox_serves_with_its_settings():
    port = free_port()
    process = run("fusion", "--port", str(port),
                  env={"MLC_SANDBOX_CONFIG": json.dumps({"client_id": "alone", "client_secret": "s3cret",
                                                          "scope": "urn:test"})})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                token = requests.post(f"http://127.0.0.1:{port}/oauth2/v1/token", auth=("alone", "s3cret"),
                                      data={"grant_type": "client_credentials", "scope": "urn:test"}, timeout=2)
                break
            except requests.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
                time.sleep(0.1)
        assert token.status_code == 200 and token.json()["access_token"]
    finally:
        process.terminate()
        process.wait(timeout=10)
