"""The hostmode Lambda executor: lifecycle, errors, environment, logs."""

import concurrent.futures
import json
import os
import time

from conftest import ENDPOINT, REGION, hostmode, invoke, logged, pid_alive, poll, zip_bootstrap

# A bootstrap that fails its init the documented way: POST /runtime/init/error, then exit.
INIT_ERROR_SCRIPT = r"""#!/usr/bin/env python3
import json, os, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
body = json.dumps({"errorType": "Custom.InitFailure",
                   "errorMessage": "cannot start, pid %d" % os.getpid()}).encode()
req = urllib.request.Request("http://%s/2018-06-01/runtime/init/error" % api, data=body,
                             headers={"Lambda-Runtime-Function-Error-Type": "Custom.InitFailure"})
print("init failing on purpose", flush=True)
urllib.request.urlopen(req).read()
raise SystemExit(1)
"""

# A bootstrap that checks the Runtime API's answers to protocol mistakes, then reports them.
PROTOCOL_SCRIPT = r"""#!/usr/bin/env python3
import json, os, urllib.request, urllib.error
base = "http://%s/2018-06-01/runtime" % os.environ["AWS_LAMBDA_RUNTIME_API"]
def call(method, path, body=None, headers=None):
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
while True:
    status, headers, event = call("GET", "/invocation/next")
    rid = headers["Lambda-Runtime-Aws-Request-Id"]
    seen = {
        "next": status,
        "deadline_ms": int(headers["Lambda-Runtime-Deadline-Ms"]),
        "arn": headers["Lambda-Runtime-Invoked-Function-Arn"],
        "trace": headers.get("Lambda-Runtime-Trace-Id"),
        "wrong_id": call("POST", "/invocation/not-the-id/response", b"{}")[0],
        "init_error_after_init": call("POST", "/init/error", b"{}")[0],
        "unknown_path": call("GET", "/nope")[0],
        "event": json.loads(event),
    }
    status = call("POST", "/invocation/%s/response" % rid, json.dumps(seen).encode())[0]
    # answering twice is a mistake too: 400
    print("second answer:", call("POST", "/invocation/%s/response" % rid, b"{}")[0], flush=True)
"""


def test_success_warm_reuse(aws, make_function, hello_zip):
    lam = aws("lambda")
    name = make_function(hello_zip, prefix="ok")
    r1, b1, _ = invoke(lam, name, {"hello": "world"})
    assert r1["StatusCode"] == 200 and "FunctionError" not in r1
    assert b1["echo"] == {"hello": "world"}
    assert b1["function_arn"].endswith(f":function:{name}")
    r2, b2, _ = invoke(lam, name, {"n": 2})
    assert "FunctionError" not in r2
    # the same execution environment, warm: same process, second invocation in it
    assert b2["pid"] == b1["pid"] and b2["invocations"] == 2
    assert pid_alive(b1["pid"])
    # deadline handed to the runtime: now + timeout (10 s)
    assert 0 < b2["deadline_ms"] - time.time() * 1000 <= 10_000


def test_handler_error_and_panic_keep_environment(aws, make_function, hello_zip):
    lam = aws("lambda")
    name = make_function(hello_zip, prefix="err")
    _, ok, _ = invoke(lam, name, {})
    r, body, _ = invoke(lam, name, {"fail": "boom"})
    assert r["FunctionError"] == "Unhandled"
    assert body["errorMessage"] == "boom" and body["errorType"]
    r, body, _ = invoke(lam, name, {"panic": "kaput"})
    assert r["FunctionError"] == "Unhandled"
    assert "kaput" in body["errorMessage"]
    # a reported error is an answer: the environment stays warm (as in AWS)
    _, after, _ = invoke(lam, name, {})
    assert after["pid"] == ok["pid"] and after["invocations"] == 4


def test_init_error_reported_and_retried_in_fresh_process(aws, make_function):
    lam = aws("lambda")
    name = make_function(zip_bootstrap(source=INIT_ERROR_SCRIPT), prefix="initerr")
    r1, b1, _ = invoke(lam, name, {}, LogType="Tail")
    assert r1["FunctionError"] == "Unhandled"
    assert b1["errorType"] == "Custom.InitFailure"
    assert b1["errorMessage"].startswith("cannot start, pid ")
    r2, b2, _ = invoke(lam, name, {})
    assert r2["FunctionError"] == "Unhandled" and b2["errorType"] == "Custom.InitFailure"
    assert b2["errorMessage"] != b1["errorMessage"], "the next invoke must start a new process"


def test_init_exit_is_runtime_exit_error(aws, make_function, hello_zip):
    lam = aws("lambda")
    name = make_function(hello_zip, prefix="initexit", env={"HELLO_INIT_FAIL": "1"})
    r, body, _ = invoke(lam, name, {})
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert "Runtime exited with error: exit status 1" in body["errorMessage"]


def test_missing_bootstrap_is_invalid_entrypoint(aws, make_function):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("not-bootstrap", "x")
    lam = aws("lambda")
    name = make_function(buf.getvalue(), prefix="noboot")
    r, body, _ = invoke(lam, name, {})
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.InvalidEntrypoint"


def test_timeout_kills_process_then_recovers(aws, make_function, hello_zip):
    lam = aws("lambda")
    name = make_function(hello_zip, prefix="timeout", timeout=1)
    _, first, _ = invoke(lam, name, {})
    pid = first["pid"]
    r, body, elapsed = invoke(lam, name, {"sleep_ms": 5000}, LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    assert 1.0 <= elapsed < 3.0, elapsed
    assert not pid_alive(pid), "a timed-out process must be killed"
    import base64

    tail = base64.b64decode(r["LogResult"]).decode()
    assert "Task timed out after 1.00 seconds" in tail and "Status: timeout" in tail
    _, again, _ = invoke(lam, name, {})
    assert again["pid"] != pid and again["invocations"] == 1


def test_crash_then_recovery(aws, make_function, hello_zip):
    lam = aws("lambda")
    name = make_function(hello_zip, prefix="crash")
    _, first, _ = invoke(lam, name, {})
    r, body, _ = invoke(lam, name, {"exit": 3})
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert "Runtime exited with error: exit status 3" in body["errorMessage"]
    assert not pid_alive(first["pid"])
    r, again, _ = invoke(lam, name, {})
    assert "FunctionError" not in r
    assert again["pid"] != first["pid"] and again["invocations"] == 1


def test_a_killed_environment_fails_its_invocation_and_the_next_one_starts_afresh(aws, make_function, hello_zip):
    """POST /_hostmode/kill: the chaos the soak uses (a runtime crashing mid-batch)."""
    lam = aws("lambda")
    name = make_function(hello_zip, prefix="kill")
    _, first, _ = invoke(lam, name, {})
    assert hostmode("POST", "kill", {"function": name, "busy_only": True}).json() == {"killed": []}, "idle: spared"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        slow = pool.submit(invoke, lam, name, {"sleep_ms": 5000})
        killed = poll(
            lambda: hostmode("POST", "kill", {"function": name, "busy_only": True}).json()["killed"],
            timeout=5,
            interval=0.05,
            what="an environment busy with the slow invocation",
        )
        r, body, elapsed = slow.result(timeout=10)
    assert [(k["function"], k["pid"], k["busy"]) for k in killed] == [(name, first["pid"], True)]
    assert r["FunctionError"] == "Unhandled" and body["errorType"] == "Runtime.ExitError", body
    assert elapsed < 4, "the invocation ended with the process, not at its timeout"
    assert not pid_alive(first["pid"])
    _, again, _ = invoke(lam, name, {})
    assert again["pid"] != first["pid"] and again["invocations"] == 1
    assert any(k["pid"] == first["pid"] for k in hostmode("GET", "kills").json()["kills"])
    assert hostmode("POST", "kill", {}).status_code == 400


def test_concurrent_invocations_get_separate_environments(aws, make_function, hello_zip):
    lam = aws("lambda")
    name = make_function(hello_zip, prefix="conc")
    n, sleep_ms = 4, 1500
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        results = list(pool.map(lambda _: invoke(lam, name, {"sleep_ms": sleep_ms}), range(n)))
    wall = time.perf_counter() - t0
    pids = {body["pid"] for _, body, _ in results}
    assert all("FunctionError" not in r for r, _, _ in results)
    assert len(pids) == n, f"expected {n} environments, got pids {pids}"
    # they ran side by side, not one after another
    assert wall < n * sleep_ms / 1000, wall
    # afterwards they are reused warm
    _, body, _ = invoke(lam, name, {})
    assert body["pid"] in pids and body["invocations"] == 2


def test_environment_variables(aws, make_function, hello_zip):
    lam = aws("lambda")
    name = make_function(hello_zip, prefix="env", memory=256, env={"GREETING": "hi"})
    names = [
        "GREETING",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "_HANDLER",
        "LAMBDA_TASK_ROOT",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_ENDPOINT_URL",
        "TZ",
        "PATH",
        "GATEWAY_LISTEN",
    ]
    _, body, _ = invoke(lam, name, {"env": names})
    env = body["env"]
    assert env["GREETING"] == "hi"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SESSION_TOKEN"]
    assert env["_HANDLER"] == "bootstrap"
    assert env["TZ"] == ":UTC"
    assert os.path.isfile(os.path.join(env["LAMBDA_TASK_ROOT"], "bootstrap"))
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    port = ENDPOINT.rsplit(":", 1)[1]
    assert env["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{port}"
    # LocalStack's own settings do not leak into the function
    assert env["GATEWAY_LISTEN"] is None
    # and the endpoint really reaches LocalStack from inside the function
    _, body, _ = invoke(lam, name, {"call": env["AWS_ENDPOINT_URL"] + "/_localstack/health"})
    assert body["call"].split()[1] == "200", body["call"]


def test_logs_reach_cloudwatch(aws, make_function, hello_zip):
    lam, logs = aws("lambda"), aws("logs")
    name = make_function(hello_zip, prefix="logs")
    r, _, _ = invoke(lam, name, {"log_json": True})
    rid = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]

    def messages():
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return None
        text = "".join(e["message"] for e in events)
        return text if f"REPORT RequestId: {rid}" in text else None

    text = poll(messages, timeout=15, what="the invocation's logs in CloudWatch")
    assert f"START RequestId: {rid} Version: $LATEST" in text
    assert f"hello: request {rid} invocation 1" in text
    assert f"END RequestId: {rid}" in text
    assert "Init Duration:" in text and "Max Memory Used:" in text
    json_lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert {"level": "INFO", "message": "json log line", "requestId": rid} in json_lines


def test_json_log_format_platform_records(aws, make_function, hello_zip):
    lam = aws("lambda")
    name = make_function(hello_zip, prefix="jsonlog", LoggingConfig={"LogFormat": "JSON"})
    import base64

    r, _, _ = invoke(lam, name, {}, LogType="Tail")
    lines = [json.loads(x) for x in base64.b64decode(r["LogResult"]).decode().splitlines() if x.startswith("{")]
    kinds = [x["type"] for x in lines if "type" in x]
    assert kinds[0] == "platform.start" and kinds[-1] == "platform.report"
    assert lines[-1]["record"]["status"] == "success"


def test_runtime_api_protocol(aws, make_function):
    lam = aws("lambda")
    name = make_function(zip_bootstrap(source=PROTOCOL_SCRIPT), prefix="proto")
    r, seen, _ = invoke(lam, name, {"k": "v"})
    assert "FunctionError" not in r, seen
    assert seen["next"] == 200
    assert seen["event"] == {"k": "v"}
    assert seen["arn"].endswith(f":function:{name}")
    assert seen["trace"] and seen["trace"].startswith("Root=")
    assert seen["wrong_id"] == 400
    assert seen["init_error_after_init"] == 403
    assert seen["unknown_path"] == 404


def test_async_invoke(aws, make_function, hello_zip):
    lam, logs = aws("lambda"), aws("logs")
    name = make_function(hello_zip, prefix="async")
    r = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"async": true}')
    assert r["StatusCode"] == 202

    def ran():
        return logged(logs, name, "REPORT RequestId")

    poll(ran, timeout=15, what="the async invocation to run")


def test_delete_function_ends_its_processes(aws, hello_zip, make_function):
    lam = aws("lambda")
    name = make_function(hello_zip, prefix="del")
    _, body, _ = invoke(lam, name, {})
    assert pid_alive(body["pid"])
    lam.delete_function(FunctionName=name)
    poll(lambda: not pid_alive(body["pid"]), timeout=15, what="the function process to end")


def test_non_provided_runtime_is_rejected(aws, make_function, hello_zip):
    lam = aws("lambda")
    name = make_function(hello_zip, prefix="py", runtime="python3.12")
    try:
        r = lam.invoke(FunctionName=name, Payload=b"{}")
    except lam.exceptions.ClientError as e:
        message = str(e)
    else:
        raise AssertionError(f"invoke of a python3.12 function should fail, got {r}")
    assert "runs only zip functions on provided.al2023" in message, message
