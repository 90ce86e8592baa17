"""Starts the release spin-host with the real spin.toml for the SDK tests.

One host per test session: `target/release/spin-host up --from spin.toml
--listen 127.0.0.1:PORT --state-dir TMP` with `SPIN_VARIABLE_ADMIN_TOKEN`,
ready once `/.well-known/spin/health` answers, stopped with SIGTERM at the end.
Set `SPIN_HOST_BIN` to test another host build.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "python-sdk-admin-token"


@dataclass
class Server:
    """A running host: its origin, API base URL and bootstrap admin token."""

    origin: str
    base_url: str
    admin_token: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server() -> Server:
    yield from _host(os.environ.get("RATE_LIMIT", "1000000"))


@pytest.fixture(scope="module")
def limited_server() -> Server:
    """A host of its own whose tokens may make 3 requests a second."""
    yield from _host("3")


def _host(rate_limit: str):
    binary = Path(os.environ.get("SPIN_HOST_BIN", ROOT / "target/release/spin-host"))
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run scripts/test (it builds the host first)")
    port = _free_port()
    state = tempfile.mkdtemp(prefix="sdk-e2e-state")
    logs = tempfile.NamedTemporaryFile(prefix="sdk-e2e-host", suffix=".log", delete=False)
    # Webhook tests deliver to receivers on loopback, which the app refuses
    # unless told otherwise.
    env = dict(os.environ, SPIN_VARIABLE_ADMIN_TOKEN=ADMIN_TOKEN,
               SPIN_VARIABLE_WEBHOOK_ALLOW_PRIVATE="true",
               SPIN_VARIABLE_RATE_LIMIT=rate_limit)
    env.pop("SPIN_HTTP_LISTEN_ADDR", None)
    proc = subprocess.Popen(
        [
            str(binary), "up",
            "--from", str(ROOT / "spin.toml"),
            "--listen", f"127.0.0.1:{port}",
            "--state-dir", state,
        ],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=logs,
        stderr=subprocess.STDOUT,
    )
    origin = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"host exited early ({proc.returncode}): {Path(logs.name).read_text()}")
            try:
                with urllib.request.urlopen(f"{origin}/.well-known/spin/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"host did not become ready: {Path(logs.name).read_text()}")
            time.sleep(0.05)
        yield Server(origin, f"{origin}/api/shared/v1", ADMIN_TOKEN)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(state, ignore_errors=True)
