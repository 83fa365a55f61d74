#!/usr/bin/env python3
"""Benchmark of LocalStack in host mode with the hostmode executor (not a test: it only reports).

From one run, on a LocalStack instance of its own (port $BENCH_PORT, default 4567, state in
.localstack/bench, stopped at the end, so a running `make localstack` is not disturbed):

- LocalStack start time: spawn to "ready" (`lsctl start`);
- cold start of the Rust ls-hello function: first invoke after CreateFunction, client-observed,
  and the Init Duration the executor reports (median of several functions);
- warm invoke latency p50/p99 over N sequential invokes, next to a plain LocalStack API call
  (GetFunction) measured interleaved in the same run.

Usage: .venv/tools/bin/python localstack/bench/bench.py [--warm 200] [--cold 5]
(`make localstack-bench`).
"""

import argparse
import base64
import contextlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "localstack" / "tests"))  # a script, not a test: no pytest pythonpath
from conftest import zip_bootstrap  # noqa: E402

PORT = int(os.environ.get("BENCH_PORT") or 4567)
ENDPOINT = f"http://127.0.0.1:{PORT}"
STATE = ROOT / ".localstack" / "bench"
ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


def lsctl(cmd):
    env = dict(os.environ, LOCALSTACK_PORT=str(PORT), LOCALSTACK_STATE_DIR=str(STATE))
    return subprocess.run([sys.executable, str(ROOT / "localstack" / "bin" / "lsctl"), cmd], env=env, check=False)


def build_hello():
    out = subprocess.run(
        ["cargo", "build", "-p", "ls-hello", "--message-format=json-render-diagnostics"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "ls-hello":
            exe = msg.get("executable")
    return exe


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--warm", type=int, default=200, help="warm invokes (and GetFunction calls)")
    ap.add_argument("--cold", type=int, default=5, help="cold starts (one function each)")
    args = ap.parse_args()

    exe = build_hello()
    code = zip_bootstrap(path=exe)

    lsctl("stop")  # a leftover bench instance
    t0 = time.perf_counter()
    if lsctl("start").returncode != 0:
        sys.exit("LocalStack did not start")
    start_s = time.perf_counter() - t0

    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    lam = session.client("lambda", endpoint_url=ENDPOINT, config=Config(retries={"max_attempts": 1}, read_timeout=60))
    names = []
    try:
        # first use of the Lambda service loads it: not part of any figure below
        lam.list_functions()

        cold_ms, init_ms = [], []
        for i in range(args.cold):
            name = f"bench-cold-{i}-{os.getpid()}"
            lam.create_function(
                FunctionName=name,
                Runtime="provided.al2023",
                Role=ROLE,
                Handler="bootstrap",
                Code={"ZipFile": code},
                Timeout=10,
            )
            names.append(name)
            while lam.get_function_configuration(FunctionName=name)["State"] == "Pending":
                time.sleep(0.05)
            t = time.perf_counter()
            r = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
            cold_ms.append((time.perf_counter() - t) * 1000)
            assert "FunctionError" not in r, r["Payload"].read()
            m = re.search(r"Init Duration: ([0-9.]+) ms", base64.b64decode(r["LogResult"]).decode())
            if m:
                init_ms.append(float(m.group(1)))

        name = names[0]
        for _ in range(20):  # warm-up of both paths
            lam.invoke(FunctionName=name, Payload=b'{"warm": true}')
            lam.get_function(FunctionName=name)
        invoke_ms, get_ms = [], []
        for _ in range(args.warm):
            t = time.perf_counter()
            r = lam.invoke(FunctionName=name, Payload=b'{"warm": true}')
            r["Payload"].read()
            invoke_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            lam.get_function(FunctionName=name)
            get_ms.append((time.perf_counter() - t) * 1000)
    finally:
        for n in names:
            with contextlib.suppress(Exception):
                lam.delete_function(FunctionName=n)
        lsctl("stop")

    rows = [
        ("LocalStack start (spawn -> ready)", f"{start_s * 1000:.0f} ms", ""),
        (
            f"cold start, client-observed (median of {len(cold_ms)})",
            f"{statistics.median(cold_ms):.1f} ms",
            f"min {min(cold_ms):.1f}, max {max(cold_ms):.1f}",
        ),
        ("cold start, Init Duration reported", f"{statistics.median(init_ms):.1f} ms" if init_ms else "n/a", ""),
        (f"warm Invoke p50 / p99 (n={len(invoke_ms)})", f"{pct(invoke_ms, 50):.1f} / {pct(invoke_ms, 99):.1f} ms", ""),
        (f"GetFunction p50 / p99 (n={len(get_ms)})", f"{pct(get_ms, 50):.1f} / {pct(get_ms, 99):.1f} ms", ""),
        ("warm Invoke - GetFunction, p50", f"{pct(invoke_ms, 50) - pct(get_ms, 50):+.1f} ms", "goal: within 5 ms"),
    ]
    print()
    print(
        f"localstack-hostmode benchmark  ({platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')})"
    )
    w = max(len(r[0]) for r in rows)
    for label, value, note in rows:
        print(f"  {label:<{w}}  {value:>16}  {note}")
    result = {
        "start_ms": start_s * 1000,
        "cold_ms": cold_ms,
        "init_ms": init_ms,
        "invoke_p50_ms": pct(invoke_ms, 50),
        "invoke_p99_ms": pct(invoke_ms, 99),
        "get_function_p50_ms": pct(get_ms, 50),
        "get_function_p99_ms": pct(get_ms, 99),
    }
    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / "result.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
