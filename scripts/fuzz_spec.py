"""Spec fuzzing: schemathesis over the official openapi.yaml (when the
reference is beside the project) and over our extension OpenAPI, against the
release host with the owner's token, with a fixed seed and a bounded number
of examples per operation.

Both are held to every check: no server error, response schemas, status
codes, content types, rejection of schema-violating data. CHECKS (a
comma-separated list) runs fewer.

Where the official docs allow what the spec does not list, the schema is
read as the docs say in one place: scripts/spec_hooks.py.

Run by scripts/test; environment: EXAMPLES (15 per operation), SEED (7),
CHECKS (all by default, or a comma-separated list), FULL_OUTPUT (a path
prefix to keep each run's whole report).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OFFICIAL = ROOT.parent / "shared/reference/pachca-api/openapi.yaml"
EXTENSIONS = ROOT / "shared/openapi/extensions.json"
TOKEN = "spec-fuzzing-admin-token"
ALL = ("not_a_server_error,response_schema_conformance,status_code_conformance,"
       "content_type_conformance,negative_data_rejection")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    checks = os.environ.get("CHECKS") or ALL
    if checks == "all":
        checks = ALL
    port = free_port()
    state = tempfile.mkdtemp(prefix="spec-fuzzing")
    env = dict(os.environ, SPIN_VARIABLE_ADMIN_TOKEN=TOKEN, SPIN_VARIABLE_RATE_LIMIT="0",
               SPIN_VARIABLE_WEBHOOK_ALLOW_PRIVATE="true")
    host = subprocess.Popen(
        [str(ROOT / "target/release/spin-host"), "up", "--from", str(ROOT / "spin.toml"),
         "--listen", f"127.0.0.1:{port}", "--state-dir", state],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/.well-known/spin/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or host.poll() is not None:
                    print("host did not start", file=sys.stderr)
                    return 1
                time.sleep(0.1)
        failed = False
        for spec in (OFFICIAL, EXTENSIONS):
            if not spec.exists():
                print(f"skipping {spec}: not beside the project")
                continue
            print(f"schemathesis over {spec.name} ({checks})", flush=True)
            run = subprocess.run(
                [str(Path(sys.executable).parent / "schemathesis"), "run", str(spec),
                 "-u", f"http://127.0.0.1:{port}/api/shared/v1", "-H", f"Authorization: Bearer {TOKEN}",
                 "-c", checks, "-n", os.environ.get("EXAMPLES", "15"),
                 "--seed", os.environ.get("SEED", "7"), "--no-color"],
                cwd=state, capture_output=True, text=True,
                env=dict(os.environ, PYTHONPATH=str(ROOT / "scripts"), SCHEMATHESIS_HOOKS="spec_hooks"))
            summary = run.stdout[run.stdout.find("SUMMARY"):] if "SUMMARY" in run.stdout else run.stdout
            print(summary[-2500:], flush=True)
            if os.environ.get("FULL_OUTPUT"):
                Path(os.environ["FULL_OUTPUT"] + "." + spec.name + ".txt").write_text(run.stdout)
            failed |= run.returncode != 0
        return 1 if failed else 0
    finally:
        host.send_signal(signal.SIGTERM)
        try:
            host.wait(timeout=10)
        except subprocess.TimeoutExpired:
            host.kill()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
