# LocalStack on the host (no Docker): pinned install, start/stop, the extension's tests and
# benchmark. Included by the top-level Makefile; paths are relative to the repository root.
# See localstack/README.md.

LOCALSTACK_PORT ?= 4566
LOCALSTACK_ENDPOINT ?= http://127.0.0.1:$(LOCALSTACK_PORT)
VENV_LOCALSTACK := .venv/localstack
VENV_TOOLS := .venv/tools
TOOLS_PY := $(VENV_TOOLS)/bin/python
LSCTL := python3 localstack/bin/lsctl
export LOCALSTACK_PORT

.PHONY: tools localstack down localstack-status localstack-logs localstack-test localstack-test-inprocess localstack-bench localstack-query-bench faults faults-clear faults-log iam-denials

tools: ## create/update .venv/localstack and .venv/tools from the lock files (no-op when unchanged)
	@localstack/bin/install

localstack: tools ## start LocalStack in the background on 127.0.0.1:LOCALSTACK_PORT (4566), return when healthy
	@$(LSCTL) start

down: ## stop LocalStack and every function process it started (fine when nothing runs)
	@$(LSCTL) stop
	@if [ -f .localstack/bench/localstack.pid ]; then LOCALSTACK_PORT=$${BENCH_PORT:-4567} LOCALSTACK_STATE_DIR=.localstack/bench $(LSCTL) stop >/dev/null; fi

localstack-status: ## is LocalStack running, where it listens, services in use, function processes
	@$(LSCTL) status

localstack-logs: ## the LocalStack log (.localstack/localstack.log); FOLLOW=1 to follow
	@test -f .localstack/localstack.log || { echo "no log yet: .localstack/localstack.log"; exit 0; }
	@tail -n 200 $(if $(FOLLOW),-F) .localstack/localstack.log

faults: ## fault rules: `make faults RULES="dynamodb:TransactWriteItems:TransactionConflict:0.3,..."` sets them; `make faults` shows them with counts
	@python3 localstack/bin/faults $(if $(RULES),set "$(RULES)" $(if $(SEED),--seed $(SEED)),show)

faults-clear: ## remove every fault rule
	@python3 localstack/bin/faults clear

faults-log: ## every error the fault rules injected
	@python3 localstack/bin/faults log

iam-denials: ## the last calls IAM enforcement denied (role, action, resource)
	@python3 localstack/bin/faults denials

localstack-test: localstack ## pytest of the localstack-hostmode extension (builds ls-hello)
	LOCALSTACK_ENDPOINT=$(LOCALSTACK_ENDPOINT) $(TOOLS_PY) -m pytest -q --durations=3 localstack/tests
	localstack/bin/pytest-inprocess

localstack-test-inprocess: ## the extension's in-process tests, no server: patch manifest (patched.py), speedups
	localstack/bin/pytest-inprocess

localstack-query-bench: ## benchmark: what one DynamoDB Query costs moto as its table grows, moto's own vs moto_queries.py
	.venv/localstack/bin/python localstack/bench/query_cost.py

localstack-bench: ## benchmark: LocalStack start, cold start, warm invoke vs GetFunction
	@$(MAKE) -s tools
	LOCALSTACK_ENDPOINT=$(LOCALSTACK_ENDPOINT) $(TOOLS_PY) localstack/bench/bench.py
