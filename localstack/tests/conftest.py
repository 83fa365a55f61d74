"""Fixtures for the localstack-hostmode extension tests.

They run against a LocalStack started by `make localstack` (the `localstack-test` target depends
on it) at $LOCALSTACK_ENDPOINT (default http://127.0.0.1:4566). The Rust test function is built
here with `cargo build -p ls-hello`; the error-case bootstraps are small Python scripts.
"""

import io
import json
import os
import stat
import subprocess
import time
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

ENDPOINT = os.environ.get("LOCALSTACK_ENDPOINT", "http://127.0.0.1:4566")
REGION = "us-east-1"
ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def poll(fn, timeout, interval=0.1, what="condition"):
    """Call fn until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def unique(prefix):
    return f"lsx-{prefix}-{uuid.uuid4().hex[:8]}"


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="session", autouse=True)
def localstack_up():
    try:
        r = requests.get(f"{ENDPOINT}/_localstack/health", timeout=5)
        r.raise_for_status()
    except requests.RequestException as e:
        pytest.fail(f"LocalStack is not reachable at {ENDPOINT} (run `make localstack`): {e}")
    return r.json()


@pytest.fixture(scope="session")
def aws():
    cfg = Config(retries={"max_attempts": 1}, read_timeout=120)
    session = boto3.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
    )
    return lambda service: session.client(service, endpoint_url=ENDPOINT, config=cfg)


@pytest.fixture(scope="session")
def hello_binary():
    """Build ls-hello (debug, the workspace's target dir) and return the executable path."""
    proc = subprocess.run(
        ["cargo", "build", "-p", "ls-hello", "--message-format=json-render-diagnostics"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        timeout=1800,  # the shared target dir may be locked by another build for a while
    )
    assert proc.returncode == 0, "cargo build -p ls-hello failed"
    exe = None
    for line in proc.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "ls-hello":
            exe = msg.get("executable") or exe
    assert exe and os.path.exists(exe), f"no ls-hello executable in cargo output: {exe}"
    return exe


def zip_bootstrap(path=None, source=None):
    """A deployment zip whose `bootstrap` is the given file or script text (mode 0755)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        data = Path(path).read_bytes() if path else source.encode()
        z.writestr(info, data)
    return buf.getvalue()


@pytest.fixture(scope="session")
def hello_zip(hello_binary):
    return zip_bootstrap(path=hello_binary)


@pytest.fixture
def make_function(aws):
    """Create functions with unique names, wait until Active, delete them afterwards."""
    lam = aws("lambda")
    created = []

    def make(zip_bytes, *, prefix="fn", env=None, timeout=10, memory=128, runtime="provided.al2023",
             wait=True, **extra):
        name = unique(prefix)
        lam.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=ROLE,
            Handler="bootstrap",
            Code={"ZipFile": zip_bytes},
            Timeout=timeout,
            MemorySize=memory,
            Environment={"Variables": env or {}},
            **extra,
        )
        created.append(name)
        if wait:
            poll(
                lambda: lam.get_function_configuration(FunctionName=name)["State"] != "Pending",
                timeout=60,
                what=f"{name} to leave Pending",
            )
        return name

    yield make
    for name in created:
        try:
            lam.delete_function(FunctionName=name)
        except lam.exceptions.ResourceNotFoundException:
            pass


def invoke(lam, name, event=None, **kw):
    """Invoke synchronously; returns (response, decoded payload, seconds)."""
    t0 = time.perf_counter()
    r = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **kw)
    elapsed = time.perf_counter() - t0
    raw = r["Payload"].read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = raw
    return r, body, elapsed
