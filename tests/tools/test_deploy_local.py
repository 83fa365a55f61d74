"""scripts/make/deploy-local.sh never stops or wipes an emulator: when the deploy reports a stack
the emulator cannot update in place (scripts/make/cfn_deploy.py --local, exit 3), it says what
happened and what the user may run, and exits non-zero, with `make`, `lsctl` and every AWS call
recorded by fakes. The script runs from a copy in a scratch tree, so this repository's .build is
untouched."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE_PYTHON = """#!/bin/sh
echo "python $*" >>"$CALLS"
case "$1" in
  scripts/make/cfn_deploy.py)
    echo "    stack is UPDATE_ROLLBACK_COMPLETE: LocalStack cannot update or delete it" >&2
    exit "$DEPLOY_RC" ;;
esac
exit 0
"""
FAKE_AWS = """#!/bin/sh
echo "aws $*" >>"$CALLS"
case "$*" in *describe-stacks*) echo UPDATE_COMPLETE ;; esac
exit 0
"""
RECORD = """#!/bin/sh
echo "$(basename "$0") $*" >>"$CALLS"
exit 0
"""


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A scratch copy of what deploy-local.sh reads, with fake tools on its PATH."""
    (tmp_path / "scripts" / "make").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "make" / "deploy-local.sh", tmp_path / "scripts" / "make")
    (tmp_path / "infra").mkdir()
    for name in ("template.yaml", "openapi.yaml"):
        (tmp_path / "infra" / name).write_text("# stub\n")
    (tmp_path / ".build" / "lambda").mkdir(parents=True)
    (tmp_path / ".build" / "lambda" / "fn.source").write_text("stamp\n")
    tools, path = tmp_path / "tools", tmp_path / "path"
    tools.mkdir()
    path.mkdir()
    executable(tools / "python", FAKE_PYTHON)
    executable(tools / "aws", FAKE_AWS)
    for name in ("make", "lsctl", "localstack", "pkill", "killall"):
        executable(path / name, RECORD)
    return tmp_path


def deploy(tree: Path, rc: int, endpoint: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    env = dict(
        os.environ,
        PATH=f"{tree / 'path'}{os.pathsep}{os.environ['PATH']}",
        TOOLS_BIN=str(tree / "tools"),
        CALLS=str(tree / "calls"),
        DEPLOY_RC=str(rc),
        LOCALSTACK_ENDPOINT=endpoint,
        STACK_NAME="orders-pipeline",
    )
    out = subprocess.run(
        ["bash", str(tree / "scripts" / "make" / "deploy-local.sh")], env=env, capture_output=True, text=True
    )
    calls = (tree / "calls").read_text().splitlines()
    return out, calls


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:4566", "http://127.0.0.1:4599"])
def test_a_stack_that_cannot_be_updated_in_place_wipes_nothing(tree, endpoint):
    out, calls = deploy(tree, 3, endpoint)
    assert out.returncode != 0, out.stdout + out.stderr
    # nothing was stopped, started or deleted: no make, no lsctl, no delete, one deploy attempt
    assert not [c for c in calls if c.split()[0] in ("make", "lsctl", "localstack", "pkill", "killall")], calls
    assert not [c for c in calls if "delete" in c], calls
    assert sum(c.startswith("python scripts/make/cfn_deploy.py") for c in calls) == 1, calls
    # and the user is told what happened and what they may run
    assert "cannot update stack orders-pipeline in place" in out.stderr
    assert "Nothing was stopped or deleted" in out.stderr
    assert f"--endpoint-url {endpoint} cloudformation delete-stack --stack-name orders-pipeline" in out.stderr
    assert "make down && make up" in out.stderr
    assert not (tree / ".build" / "deploy.stamp").exists()


def test_another_failure_exits_with_its_status_and_wipes_nothing(tree):
    out, calls = deploy(tree, 1, "http://127.0.0.1:4566")
    assert out.returncode == 1
    assert not [c for c in calls if c.split()[0] in ("make", "lsctl")], calls
