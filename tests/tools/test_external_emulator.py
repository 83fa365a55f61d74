"""`make up` against an emulator someone else runs: a second host-mode LocalStack is started by
hand on another port with its own state, and `LOCALSTACK_ENDPOINT` names it. `make up` deploys
there and follows its order to CONFIRMED, starts no LocalStack of its own, and leaves that one
running (`make test` decides the same way whether it stops LocalStack: only one it started)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LSCTL = [sys.executable, os.path.join(ROOT, "localstack", "bin", "lsctl")]
PORT = 4599


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_make_up_uses_the_emulator_at_localstack_endpoint(tmp_path):
    by_hand = dict(os.environ, LOCALSTACK_PORT=str(PORT), LOCALSTACK_STATE_DIR=str(tmp_path / "ls"))
    by_hand.pop("LOCALSTACK_ENDPOINT", None)
    started = subprocess.run([*LSCTL, "start"], env=by_hand, capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        default_port_before = listening(4566)
        env = {k: v for k, v in os.environ.items() if k not in ("LOCALSTACK_PORT", "LOCALSTACK_STATE_DIR")}
        env["LOCALSTACK_ENDPOINT"] = f"http://127.0.0.1:{PORT}"
        up = subprocess.run(["make", "-s", "up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        assert f"Using the LocalStack at http://127.0.0.1:{PORT}" in up.stdout, up.stdout[-3000:]
        assert "is CONFIRMED" in up.stdout, up.stdout[-3000:]
        with open(os.path.join(ROOT, ".build", "stack.json")) as f:
            assert json.load(f)["endpoint"] == f"http://127.0.0.1:{PORT}"
        assert listening(4566) == default_port_before, "make up started a LocalStack of its own"
        assert listening(PORT), "make up left the emulator it was given running"
    finally:
        subprocess.run([*LSCTL, "stop"], env=by_hand, capture_output=True, text=True, timeout=120)
