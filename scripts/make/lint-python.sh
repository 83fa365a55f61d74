#!/usr/bin/env bash
# `make test` stage: the project's Python linted (ruff), formatted (ruff format) and type-checked
# (mypy), with the settings in pyproject.toml. mypy runs twice, because tests/e2e and
# localstack/tests each have a `conftest` module their tests import by that name; the second run
# starts inside localstack/, where the repository's own localstack/ directory cannot shadow the
# installed `localstack` package.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$PWD/${TOOLS_BIN:-.venv/tools/bin}
"$bin/ruff" check .
"$bin/ruff" format --check .
MYPYPATH=tests/support:scripts/make:scripts/ops:scripts/measure:tests/e2e "$bin/mypy" scripts tests
(cd localstack && MYPYPATH=tests:extension "$bin/mypy" --config-file ../pyproject.toml tests bench extension/localstack_hostmode)
