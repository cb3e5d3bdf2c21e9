"""Flower as the Procfile runs it: never without a login, never with the example one, and on
localhost unless FLOWER_ADDRESS widens it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import requests

from cli.stack import free_port, wait_for_port
from workers.flower_guard import login_problem

ROOT = Path(__file__).resolve().parents[2]


def procfile_command(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        process, _, command = line.partition(":")
        if process.strip() == name:
            return command.strip()
    raise LookupError(name)


def example_login() -> str:
    for line in (ROOT / "deploy" / "env.example").read_text().splitlines():
        if line.startswith("FLOWER_BASIC_AUTH="):
            return line.split("=", 1)[1]
    raise LookupError("FLOWER_BASIC_AUTH")


def flower(redis_url: str, port: int, command: str = "", cwd: Path = ROOT, **env) -> subprocess.Popen:
    """The Procfile's flower line (or ``command``) through a shell, as a process manager runs it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLOWER_")}
    environment.update(REDIS_URL=redis_url, FLOWER_PORT=str(port),
                       PATH=f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}", **env)
    return subprocess.Popen(["bash", "-c", command or procfile_command("flower")], cwd=cwd, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.parametrize("login, says", [
    (None, "no login: set FLOWER_BASIC_AUTH"),
    ("", "no login: set FLOWER_BASIC_AUTH"),
    ("just-a-password", "must be user:password"),
    ("ops:", "must be user:password"),
    (example_login(), "example password of deploy/env.example"),
], ids=["unset", "empty", "no user", "no password", "env.example's"])
def test_given_no_usable_login_when_flower_starts_then_it_exits_saying_why(redis_url, login, says):
    port = free_port()
    process = flower(redis_url, port, **({} if login is None else {"FLOWER_BASIC_AUTH": login}))
    try:
        output, _ = process.communicate(timeout=60)
    finally:
        stop(process)

    assert process.returncode != 0, output
    assert "flower: refusing to start: " in output and says in output, output


@pytest.mark.parametrize("how", ["procfile", "bare"])
def test_given_a_login_when_flower_starts_then_it_asks_for_it_on_localhost_only(redis_url, tmp_path, how):
    port = free_port()
    # "bare": Flower's own command, no address, from another directory (as in a container)
    bare = "celery -A workers.app flower" if how == "bare" else ""
    process = flower(redis_url, port, bare, tmp_path if bare else ROOT, FLOWER_BASIC_AUTH="ops:a-generated-password-123")
    try:
        wait_for_port(port, timeout=60, process=process, name="flower")
        url = f"http://127.0.0.1:{port}/"
        assert requests.get(url, timeout=10).status_code == 401
        assert requests.get(url, auth=("ops", "a-generated-password-123"), timeout=10).status_code == 200
        listening = {c.laddr for p in [psutil.Process(process.pid), *psutil.Process(process.pid).children(True)]
                     for c in p.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
        assert {address.ip for address in listening if address.port == port} == {"127.0.0.1"}
    finally:
        stop(process)


def test_the_guard_refuses_every_example_login_and_accepts_a_real_one():
    assert login_problem(["ops:a-real-password"]) == ""
    assert login_problem(["ops:a-real-password", "ops2:CHANGE_ME"])
    assert login_problem([example_login()])


def test_given_a_login_when_flower_runs_then_it_logs_one_json_object_a_line(redis_url):
    port = free_port()
    process = flower(redis_url, port, FLOWER_BASIC_AUTH="ops:a-generated-password-123")
    try:
        wait_for_port(port, timeout=60, process=process, name="flower")
    finally:
        stop(process)
    output = process.stdout.read()

    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert any(line["message"].startswith("Visit me at") for line in lines), output
    assert all(line["logger"] and line["level"] for line in lines)
