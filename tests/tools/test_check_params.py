"""The deploy-time parameter checks (scripts/make/check_params.py), on the real template."""

import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEMPLATE = os.path.join(ROOT, "infra", "template.yaml")


def check(*overrides):
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "make", "check_params.py"), TEMPLATE, *overrides],
        capture_output=True,
        text=True,
    )


def test_the_template_defaults_are_consistent():
    r = check()
    assert r.returncode == 0, r.stderr


def test_the_local_deploy_parameters_are_consistent():
    r = check(
        "ConsumerTimeoutSeconds=2",
        "QueueVisibilityTimeoutSeconds=12",
        "OutboxGraceSeconds=30",
        "PendingTimeoutSeconds=300",
    )
    assert r.returncode == 0, r.stderr


def test_a_visibility_timeout_below_six_consumer_timeouts_is_refused():
    r = check("ConsumerTimeoutSeconds=10", "QueueVisibilityTimeoutSeconds=59")
    assert r.returncode == 2
    assert "QueueVisibilityTimeoutSeconds (59) must be at least 6 x ConsumerTimeoutSeconds (10 -> 60)" in r.stderr


def test_an_outbox_grace_within_the_api_timeout_is_refused():
    r = check("ApiTimeoutSeconds=20", "OutboxGraceSeconds=20")
    assert r.returncode == 2
    assert "OutboxGraceSeconds (20) must exceed ApiTimeoutSeconds (20)" in r.stderr


def test_an_api_timeout_a_cold_start_would_push_past_the_gateways_29_s_is_refused():
    r = check("ApiTimeoutSeconds=25", "OutboxGraceSeconds=60")
    assert r.returncode == 2
    assert "ApiTimeoutSeconds (25)" in r.stderr and "at most 19 s" in r.stderr, r.stderr
    assert check("ApiTimeoutSeconds=19", "OutboxGraceSeconds=60").returncode == 0


def test_a_pending_timeout_within_the_outbox_grace_is_refused():
    r = check("OutboxGraceSeconds=120", "PendingTimeoutSeconds=120")
    assert r.returncode == 2
    assert "PendingTimeoutSeconds (120) must exceed OutboxGraceSeconds (120)" in r.stderr


def test_unknown_and_malformed_overrides_are_named():
    assert "no parameter 'Nope'" in check("Nope=1").stderr
    assert "'x' is not a number" in check("ApiTimeoutSeconds=x").stderr
    assert "is not Name=Value" in check("ApiTimeoutSeconds").stderr


def test_both_deploy_scripts_refuse_a_bad_combination_before_deploying():
    env = dict(
        os.environ,
        QUEUE_VISIBILITY_TIMEOUT="5",
        ARTIFACT_BUCKET="unused",
        PARAMETERS="QueueVisibilityTimeoutSeconds=5",
        LOCALSTACK_ENDPOINT="http://127.0.0.1:9",
    )
    for script in ("make/deploy-local.sh", "ops/deploy-aws.sh"):
        r = subprocess.run(
            [os.path.join(ROOT, "scripts", script)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
        )
        assert r.returncode == 2, (script, r.stdout, r.stderr)
        assert "QueueVisibilityTimeoutSeconds (5) must be at least 6 x ConsumerTimeoutSeconds" in r.stderr, script
