"""Fixtures for the localstack-hostmode extension tests.

They run against a LocalStack started by `make localstack` (the `localstack-test` target depends
on it) at $LOCALSTACK_ENDPOINT (default http://127.0.0.1:4566). The Rust test function is built
here with `cargo build -p ls-hello`; the error-case bootstraps are small Python scripts.

IAM is enforced for role sessions, so functions get real execution roles: by default one with
AWSLambdaSQSQueueExecutionRole (logs, SQS event sources), or the probe's (probe_bootstrap.py),
whose policy a test chooses. Fault rules and the conflict window are global to the LocalStack:
tests scope their rules to their own function or resources and restore what they change.
"""

import contextlib
import io
import json
import os
import stat
import subprocess
import sys
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
ACCOUNT = "000000000000"
TOOLS_PYTHON = ROOT / ".venv" / "tools" / "bin" / "python"
# The extension's source, ahead of the copy installed in .venv/localstack, for the tests that
# import it in-process (test_patched.py, test_speedups.py: no server, see localstack/bin/pytest-inprocess).
EXTENSION = ROOT / "localstack" / "extension"
sys.path.insert(0, str(EXTENSION))
# AWS managed policies (LocalStack ships their documents; the extension evaluates them)
SQS_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
BASIC_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
LAMBDA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


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
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
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


def create_role(iam, name, policy=None, managed=()):
    """A Lambda execution role with an optional inline policy (a dict) and managed policy ARNs."""
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
    for policy_arn in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return arn


def delete_role(iam, name):
    try:
        for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=p["PolicyArn"])
        for p in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=p)
        iam.delete_role(RoleName=name)
    except iam.exceptions.NoSuchEntityException:
        pass


@pytest.fixture(scope="session")
def lambda_role(aws):
    """The default execution role: AWS's managed policy for SQS-triggered functions (SQS
    receive/delete/attributes and CloudWatch Logs), as SAM attaches for an SQS event. IAM is
    enforced for role sessions, so functions and their event source mappings need it."""
    iam = aws("iam")
    name = unique("lambda-role")
    arn = create_role(iam, name, managed=[SQS_EXECUTION_POLICY])
    yield arn
    delete_role(iam, name)


@pytest.fixture
def make_function(aws, lambda_role):
    """Create functions with unique names, wait until Active, delete them afterwards."""
    lam = aws("lambda")
    created = []

    def make(
        zip_bytes,
        *,
        prefix="fn",
        env=None,
        timeout=10,
        memory=128,
        runtime="provided.al2023",
        wait=True,
        role=None,
        **extra,
    ):
        name = unique(prefix)
        lam.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role or lambda_role,
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
        with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
            lam.delete_function(FunctionName=name)


def logged(logs, function, needle) -> bool:
    """Whether a line of the function's CloudWatch log group contains `needle` (no group yet: no)."""
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return False
    return any(needle in e["message"] for e in events)


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


# -- the extension's control API -------------------------------------------------------------


def hostmode(method, path, body=None):
    """A call to the extension's /_hostmode routes; returns the requests.Response."""
    return requests.request(method, f"{ENDPOINT}/_hostmode/{path}", json=body, timeout=10)


def denials(role=None, **match):
    """IAM denials logged by the extension, optionally only a role's and matching fields."""
    r = hostmode("GET", "iam/denials")
    assert r.status_code == 200, r.text
    return [
        d
        for d in r.json()["denials"]
        if (role is None or d["role"] == role) and all(d.get(k) == v for k, v in match.items())
    ]


@pytest.fixture
def contention_window():
    """set(ms): change DynamoDB's conflict window for this test; the previous one comes back."""
    before = hostmode("GET", "contention").json()["window_ms"]

    def set_window(ms):
        r = hostmode("PUT", "contention", {"window_ms": ms})
        assert r.status_code == 200, r.text
        return r.json()

    yield set_window
    set_window(before)


# -- the probe function: one AWS call per invocation with its role's credentials -------------


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions, resources="*", **extra):
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def deny(actions, resources="*", **extra):
    return {"Effect": "Deny", "Action": actions, "Resource": resources, **extra}


@pytest.fixture(scope="session")
def probe_zip():
    source = (Path(__file__).parent / "probe_bootstrap.py").read_text()
    assert TOOLS_PYTHON.exists(), f"{TOOLS_PYTHON} missing: run make tools"
    body = source.split("\n", 1)[1]  # replace the shebang: the tools venv has boto3
    return zip_bootstrap(source=f"#!{TOOLS_PYTHON}\n{body}")


class Probe:
    """A deployed probe function and its role (see probe_bootstrap.py)."""

    def __init__(self, aws, name, role_name, role_arn):
        self.lam, self.iam = aws("lambda"), aws("iam")
        self.name, self.role_name, self.role_arn = name, role_name, role_arn

    def call(self, service, op, params=None, max_attempts=1):
        """The probe's answer, plus "invoke_s": the synchronous invoke's wall time."""
        event = {"service": service, "op": op, "params": params or {}, "max_attempts": max_attempts}
        r, body, seconds = invoke(self.lam, self.name, event)
        assert "FunctionError" not in r and isinstance(body, dict), body
        body["invoke_s"] = seconds
        return body

    def session_arn(self):
        """arn:aws:sts::<acct>:assumed-role/<role>/<session> of the function's credentials."""
        out = self.call("sts", "get_caller_identity")
        assert out["ok"], out
        return out["result"]["Arn"]

    def set_policy(self, *statements):
        """Replace the role's inline policy (no statements: remove it)."""
        if statements:
            self.iam.put_role_policy(
                RoleName=self.role_name, PolicyName="inline", PolicyDocument=json.dumps(policy(*statements))
            )
        elif "inline" in self.iam.list_role_policies(RoleName=self.role_name)["PolicyNames"]:
            self.iam.delete_role_policy(RoleName=self.role_name, PolicyName="inline")


@pytest.fixture
def make_probe(aws, make_function, probe_zip):
    """make(*statements): a probe function whose role has these statements as its inline policy
    (none: no inline policy) and AWSLambdaBasicExecutionRole (its logs), plus `managed` ARNs."""
    iam = aws("iam")
    roles = []

    def make(*statements, prefix="probe", managed=(BASIC_EXECUTION_POLICY,)):
        role = unique(f"{prefix}-role")
        arn = create_role(iam, role, policy(*statements) if statements else None, managed)
        roles.append(role)
        name = make_function(probe_zip, prefix=prefix, role=arn, timeout=30)
        return Probe(aws, name, role, arn)

    yield make
    for role in roles:
        delete_role(iam, role)


@pytest.fixture
def make_table(aws):
    """make(index=None): a table keyed by "pk" (S), with a GSI `index` on "gk" (S) if given;
    deleted afterwards. Returns its name."""
    ddb = aws("dynamodb")
    created = []

    def make(prefix="tbl", index=None):
        name = unique(prefix)
        attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
        extra = {}
        if index:
            attrs.append({"AttributeName": "gk", "AttributeType": "S"})
            extra["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index,
                    "KeySchema": [{"AttributeName": "gk", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ]
        ddb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=attrs,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            **extra,
        )
        created.append(name)
        poll(
            lambda: ddb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE",
            timeout=10,
            what=f"table {name} ACTIVE",
        )
        return name

    yield make
    for name in created:
        with contextlib.suppress(ddb.exceptions.ResourceNotFoundException):
            ddb.delete_table(TableName=name)


def table_arn(name):
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
