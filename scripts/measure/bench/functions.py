"""Per function, release builds: cold init (process start -> first Runtime API poll), resident
memory after 1,000 invocations, and the zip of the arm64 build, next to `ls-hello`, a trivial
`lambda_runtime` function, measured in the same run.

A Runtime API stub on a free port hands each binary the repo's sample Lambda event for it
(events/lambda/) over and over; the functions run with their deployed configuration against the
running LocalStack, so their AWS calls are real (a sample order placed again answers as a
retry, a consumer's records are mostly already done: the steady state of a warm function)."""

from __future__ import annotations

import http.server
import io
import json
import os
import statistics
import subprocess
import threading
import time
import zipfile
from dataclasses import dataclass

import local_aws

# function -> (stack output naming the deployed function, sample event)
FUNCTIONS = {
    "orders-api": ("OrdersApiFunctionName", "apigw-post-order.json"),
    "inventory": ("InventoryFunctionName", "sqs-inventory-batch.json"),
    "order-status": ("OrderStatusFunctionName", "sqs-order-status-batch.json"),
    "notification": ("NotificationFunctionName", "sqs-notification-batch.json"),
    "outbox-sweeper": ("OutboxSweeperFunctionName", "schedule-event.json"),
    "ls-hello": (None, "sqs-poison-batch.json"),
}
TARGET = os.environ.get("CARGO_TARGET_DIR") or str(local_aws.ROOT / "target")


@dataclass
class FunctionFigures:
    name: str
    init_ms_p50: float
    rss_mb: float
    invocations: int
    errors: int
    zip_mb: float | None


class RuntimeStub(http.server.ThreadingHTTPServer):
    """Answers `next` with the event until `limit` invocations were answered."""

    def __init__(self, event: bytes, limit: int):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.event, self.limit = event, limit
        self.first_poll = threading.Event()
        self.done = threading.Event()
        self.answered = self.errors = self.handed = 0
        self.lock = threading.Lock()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RuntimeStub

    def do_GET(self):  # next invocation
        stub = self.server
        stub.first_poll.set()
        with stub.lock:
            stub.handed += 1
            n = stub.handed
        if n > stub.limit:
            stub.done.wait(60)  # nothing more: the process is measured, then killed
            return
        self.send_response(200)
        for k, v in (
            ("Lambda-Runtime-Aws-Request-Id", f"req-{n}"),
            ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000)),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:bench"),
            ("Lambda-Runtime-Trace-Id", f"Root=1-00000000-{n:024x};Sampled=0"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(stub.event))),
        ):
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(stub.event)

    def do_POST(self):  # response or error
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        stub = self.server
        with stub.lock:
            stub.answered += 1
            stub.errors += self.path.endswith("/error")
            if stub.answered >= stub.limit:
                stub.done.set()

    def log_message(self, format, *args):
        pass


def build_release() -> None:
    pkgs = [arg for f in FUNCTIONS for arg in ("-p", f)]
    subprocess.run(["cargo", "build", "-q", "--release", *pkgs], cwd=local_aws.ROOT, check=True)


def build_arm64() -> bool:
    """cargo lambda's arm64 release build (zig as the linker, from the tools venv); False if the
    aarch64 standard library cannot be installed here."""
    env = dict(os.environ, PATH=f"{local_aws.ROOT / '.venv' / 'tools' / 'bin'}:{os.environ['PATH']}")
    if subprocess.run(["rustup", "target", "add", "aarch64-unknown-linux-gnu"], capture_output=True).returncode:
        return False
    bins = [arg for f in FUNCTIONS for arg in ("--bin", f)]
    subprocess.run(
        ["cargo", "lambda", "build", "-q", "--release", "--arm64", *bins], cwd=local_aws.ROOT, env=env, check=True
    )
    return True


def zip_mb(binary: str) -> float:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(binary, "bootstrap")
    return len(buf.getvalue()) / 1e6


def environment(output: str | None, runtime_api: str) -> dict[str, str]:
    env = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": local_aws.REGION,
        "AWS_ENDPOINT_URL": local_aws.ENDPOINT,
        "AWS_ACCESS_KEY_ID": local_aws.CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": local_aws.CREDENTIALS["aws_secret_access_key"],
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
    }
    if output:
        stack = json.loads(local_aws.STACK_FILE.read_text())
        name = stack["outputs"][output]
        config = local_aws.client("lambda").get_function_configuration(FunctionName=name)
        env.update(config.get("Environment", {}).get("Variables", {}))
    return env


def run_once(binary: str, output: str | None, event: bytes, invocations: int) -> tuple[float, float, RuntimeStub]:
    """(init ms, RSS MB after the invocations, the stub)."""
    stub = RuntimeStub(event, invocations)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    env = environment(output, f"127.0.0.1:{stub.server_port}")
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not stub.first_poll.wait(30):
            raise RuntimeError(f"{binary} never polled the Runtime API")
        init_ms = (time.perf_counter() - t0) * 1000
        rss = 0.0
        if invocations:
            if not stub.done.wait(600):
                raise RuntimeError(f"{binary}: {stub.answered} of {invocations} invocations answered")
            with open(f"/proc/{proc.pid}/status") as f:
                rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024
        return init_ms, rss, stub
    finally:
        proc.kill()
        proc.wait()
        stub.done.set()
        stub.shutdown()
        stub.server_close()


def measure(cold_runs: int = 15, invocations: int = 1000, arm64: bool = True) -> list[FunctionFigures]:
    build_release()
    have_arm64 = arm64 and build_arm64()

    def binary(name: str) -> str:
        return os.path.join(TARGET, "release", name)

    def event(name: str) -> bytes:
        return (local_aws.ROOT / "events" / "lambda" / FUNCTIONS[name][1]).read_bytes()

    # cold starts round-robin, so every binary meets the machine in the same state
    inits: dict[str, list[float]] = {name: [] for name in FUNCTIONS}
    for _ in range(cold_runs):
        for name, (output, _) in FUNCTIONS.items():
            inits[name].append(run_once(binary(name), output, event(name), 0)[0])
    figures = []
    for name, (output, _) in FUNCTIONS.items():
        _, rss, stub = run_once(binary(name), output, event(name), invocations)
        arm = os.path.join(TARGET, "lambda", name, "bootstrap")
        figures.append(
            FunctionFigures(
                name,
                statistics.median(inits[name]),
                rss,
                stub.answered,
                stub.errors,
                zip_mb(arm) if have_arm64 and os.path.exists(arm) else None,
            )
        )
        print(f"  {name}: init p50 {figures[-1].init_ms_p50:.1f} ms, RSS {rss:.1f} MB", flush=True)
    return figures
